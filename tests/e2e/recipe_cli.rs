//! End-to-end tests: recipe_cli (being written).
