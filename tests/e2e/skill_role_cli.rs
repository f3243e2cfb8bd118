//! End-to-end tests: skill_role_cli (being written).
