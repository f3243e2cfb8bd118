//! A scripted fake agent (being written).
fn main() {}
