//! The one minijinja environment codecafe renders templates in: role templates, a recipe
//! stage's extra `prompt` text (checked here when the recipe is read, rendered by the runner).
//!
//! Rendering is **strict**: using a variable that does not exist is an error that names it
//! (templates test optional things with `is defined`). `trim_blocks` and `lstrip_blocks` are on,
//! so a line holding only a block tag leaves no blank line behind.

use minijinja::syntax::SyntaxConfig;
use minijinja::{Environment, UndefinedBehavior};

/// A new strict environment with codecafe's syntax settings and minijinja's built-in filters,
/// tests and functions.
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // The builder only fails for custom delimiters; the default ones are always valid.
    if let Ok(syntax) = SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .build()
    {
        env.set_syntax(syntax);
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undefined_variables_are_errors() {
        let env = environment();
        let template = env.template_from_str("{{ missing }}").expect("compiles");
        let error = template.render(()).expect_err("strict");
        assert_eq!(error.kind(), minijinja::ErrorKind::UndefinedError);
    }

    #[test]
    fn block_tags_leave_no_blank_lines() {
        let env = environment();
        let template = env
            .template_from_str("a\n  {% if true %}\nb\n  {% endif %}\nc")
            .expect("compiles");
        assert_eq!(template.render(()).expect("renders"), "a\nb\nc");
    }
}
