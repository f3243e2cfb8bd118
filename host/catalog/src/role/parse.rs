//! From a role file's text to a [`Role`]: the front matter fences, the front matter, and the
//! template, which must compile and use only variables the engine or the front matter provides.

use std::collections::BTreeSet;
use std::path::Path;

use super::front_matter;
use super::render::{template_problem, undefined_hint};
use super::{ENGINE_VARIABLES, Role, RoleOrigin};
use crate::error::Problem;
use crate::location::Position;
use crate::template;

/// Parses a whole role file.
pub(super) fn parse_role(
    id: &str,
    path: &Path,
    text: &str,
    origin: RoleOrigin,
) -> std::result::Result<Role, Vec<Problem>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text.split('\n').collect();
    let is_fence = |line: &str| line.trim_end() == "---";
    if !lines.first().is_some_and(|line| is_fence(line)) {
        return Err(vec![
            Problem::located(
                path,
                Position::START,
                "a role starts with a `---` front matter block",
            )
            .hint(
                "begin the file with a line `---`, then `name: ...` (and optionally \
                 `description:` and `variables:`), then a line `---`, then the template",
            ),
        ]);
    }
    let Some(close) = lines
        .iter()
        .skip(1)
        .position(|line| is_fence(line))
        .map(|i| i + 1)
    else {
        return Err(vec![
            Problem::located(path, Position::START, "the front matter is never closed")
                .hint("add a line `---` after the front matter, before the template"),
        ]);
    };
    let front = front_matter::read(path, &lines[1..close].join("\n"));
    let body = lines[close + 1..].join("\n");
    let body_line = close + 2;
    let mut problems = front.problems;

    let env = template::environment();
    match env.template_from_str(&body) {
        Err(err) => problems.push(template_problem(path, &body, body_line, &err)),
        Ok(template) => {
            let known: BTreeSet<String> = ENGINE_VARIABLES
                .iter()
                .map(|(name, _)| (*name).to_owned())
                .chain(front.variables.keys().cloned())
                .chain(front.invalid.iter().cloned())
                .chain(env.globals().map(|(name, _)| name.to_owned()))
                .collect();
            let mut unknown: Vec<String> = template
                .undeclared_variables(false)
                .into_iter()
                .filter(|name| !known.contains(name))
                .collect();
            unknown.sort();
            for name in unknown {
                let in_body = first_use(&body, &name).unwrap_or(Position::START);
                problems.push(
                    Problem::located(
                        path,
                        in_body.in_part_starting_on_line(body_line),
                        format!(
                            "the template uses `{name}`, which is neither an engine variable nor \
                             declared in the front matter"
                        ),
                    )
                    .hint(undefined_hint()),
                );
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Role {
        id: id.to_owned(),
        name: front.name.unwrap_or_default(),
        description: front.description,
        permissions: front.permissions,
        variables: front.variables,
        template: body,
        origin,
        path: path.to_owned(),
        overrides_built_in: false,
        body_line,
    })
}

/// Where `name` is first used inside a `{{ }}` or `{% %}` tag of `body`.
fn first_use(body: &str, name: &str) -> Option<Position> {
    let mut search_from = 0;
    while let Some(open) = find_tag_open(body, search_from) {
        let close_marker = if body[open..].starts_with("{{") {
            "}}"
        } else {
            "%}"
        };
        let close = body[open + 2..]
            .find(close_marker)
            .map_or(body.len(), |i| open + 2 + i);
        let inside = &body[open + 2..close];
        let mut offset = 0;
        while let Some(found) = inside[offset..].find(name) {
            let start = offset + found;
            let end = start + name.len();
            let before = inside[..start].chars().next_back();
            let after = inside[end..].chars().next();
            let boundary =
                |c: Option<char>| c.is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '.'));
            let after_ok = after.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
            if boundary(before) && after_ok {
                return Some(Position::of_offset(body, open + 2 + start));
            }
            offset = end;
        }
        search_from = close;
    }
    None
}

/// The offset of the first `{{` or `{%` at or after `from`.
fn find_tag_open(body: &str, from: usize) -> Option<usize> {
    let rest = body.get(from..)?;
    let a = rest.find("{{");
    let b = rest.find("{%");
    match (a, b) {
        (Some(a), Some(b)) => Some(from + a.min(b)),
        (Some(a), None) => Some(from + a),
        (None, Some(b)) => Some(from + b),
        (None, None) => None,
    }
}
