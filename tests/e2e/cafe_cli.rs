//! End-to-end tests: cafe_cli (being written).
