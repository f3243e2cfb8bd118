//! Reading the permission policy keys of a recipe (see [`crate::recipe::permissions`]).

use marked_yaml::Node;
use marked_yaml::types::MarkedScalarNode;

use super::{Parser, is_null, key_pos, kind, list, pos};
use crate::recipe::permissions::{Approvals, OnDenied, Permissions, REPLACED_KEYS, StagePolicy};
use crate::recipe::{Located, StageBlock};

impl Parser<'_> {
    /// Reads `key` of a stage block if it is a policy key (or a replaced one, reported with
    /// what to write instead); `false` when it is none of them.
    pub(super) fn policy_key(
        &mut self,
        stage: &mut StageBlock,
        key: &MarkedScalarNode,
        value: &Node,
    ) -> bool {
        let policy: &mut StagePolicy = &mut stage.policy;
        match key.as_str() {
            "permissions" => {
                policy.permissions =
                    self.choice(key, value, Permissions::VALUES, Permissions::from_name)
            }
            "approvals" => policy.approvals = self.approvals(key, value),
            "on_denied" => {
                policy.on_denied = self
                    .choice(key, value, OnDenied::VALUES, OnDenied::from_name)
                    .map(|v| v.value)
            }
            "allowed_commands" => {
                policy.allowed_commands = self.strings(key, value, "commands", |c| {
                    (!c.trim().is_empty())
                        .then_some(())
                        .ok_or("an empty command")
                })
            }
            "pass_env" => {
                policy.pass_env = self.strings(key, value, "variable names", |name| {
                    let bare = name.strip_suffix('*').unwrap_or(name);
                    let ok = bare
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                        && bare.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                    ok.then_some(()).ok_or(
                        "not a variable name (letters, digits, `_`; `PREFIX_*` for a prefix)",
                    )
                })
            }
            name => return self.replaced_key(name, key),
        }
        true
    }

    /// Reports `name` (a stage key or an `options:` entry) when the policy replaced it.
    pub(super) fn replaced_key(&mut self, name: &str, key: &MarkedScalarNode) -> bool {
        match REPLACED_KEYS.iter().find(|(old, _)| *old == name) {
            Some((old, hint)) => {
                self.add(
                    key_pos(key),
                    format!("`{old}` is no longer a stage option: the stage's permission policy replaces it"),
                    Some((*hint).to_owned()),
                );
                true
            }
            None => false,
        }
    }

    /// A recipe's top-level `permissions` / `approvals`, into `parsed`.
    pub(super) fn recipe_policy(
        &mut self,
        key: &MarkedScalarNode,
        value: &Node,
        parsed: &mut super::Parsed,
    ) {
        match key.as_str() {
            "permissions" => {
                parsed.permissions =
                    self.choice(key, value, Permissions::VALUES, Permissions::from_name);
            }
            "approvals" => parsed.approvals = self.approvals(key, value),
            _ => {}
        }
    }

    /// `approvals: ask | deny`.
    fn approvals(&mut self, key: &MarkedScalarNode, value: &Node) -> Option<Located<Approvals>> {
        self.choice(key, value, Approvals::VALUES, Approvals::from_name)
    }

    /// A list of strings, each checked by `check` (its error is the problem's message).
    fn strings(
        &mut self,
        key: &MarkedScalarNode,
        value: &Node,
        what: &str,
        check: impl Fn(&str) -> Result<(), &'static str>,
    ) -> Vec<String> {
        let name = key.as_str();
        let items = match value {
            Node::Sequence(items) => items,
            Node::Scalar(s) if is_null(s) => {
                self.add(
                    key_pos(key),
                    format!("`{name}` has no value"),
                    Some(format!("write `{name}: []` for none, or remove the line")),
                );
                return Vec::new();
            }
            other => {
                self.add(
                    pos(other),
                    format!("`{name}` must be a list of {what}, not {}", kind(other)),
                    Some(format!("for example `{name}: [\"...\"]`")),
                );
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for item in items.iter() {
            match item {
                Node::Scalar(s) if !is_null(s) => match check(s.as_str()) {
                    Ok(()) => out.push(s.as_str().to_owned()),
                    Err(message) => self.add(
                        pos(item),
                        format!("`{}` in `{name}`: {message}", s.as_str()),
                        None,
                    ),
                },
                other => self.add(
                    pos(other),
                    format!("each entry of `{name}` must be text, not {}", kind(other)),
                    Some(format!(
                        "accepted: {}",
                        list(["a quoted string"].into_iter(), 1)
                    )),
                ),
            }
        }
        out
    }
}
