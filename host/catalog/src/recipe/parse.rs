//! From YAML text to a recipe's parts, collecting every mistake that needs no outside knowledge:
//! YAML syntax, unknown keys, wrong types, bad values, missing or extra stage blocks, bad
//! dependencies and cycles.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use marked_yaml::types::{MarkedMappingNode, MarkedScalarNode};
use marked_yaml::{LoadError, Node};

mod permissions;

use super::duration::{DURATION_FORMAT, parse_duration};
use super::graph;
use super::suggest::{did_you_mean, list};
use super::{
    Located, MAX_RETRIES, MAX_RETRY_BACKOFF, MAX_TIMEOUT, Mode, OnFailure, PROVIDER_OPTION_KEYS,
    STAGE_KEYS, SessionContext, StageBlock, TOP_LEVEL_KEYS,
};
use crate::error::Problem;
use crate::ids::{ID_RULE, is_valid_id};
use crate::location::Position;
use crate::template;
use crate::yaml::{self, is_null, to_json};

/// A recipe's parts as written, and its mistakes.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    pub(crate) name: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) budget: Option<f64>,
    pub(crate) signals: Option<Located<String>>,
    pub(crate) permissions: Option<Located<super::Permissions>>,
    pub(crate) approvals: Option<Located<super::Approvals>>,
    pub(crate) order: Vec<Located<String>>,
    pub(crate) blocks: Vec<StageBlock>,
    pub(crate) problems: Vec<Problem>,
}

/// Parses `text`; `file` names the file in problems.
pub(crate) fn parse(text: &str, file: &Path) -> Parsed {
    let mut parser = Parser {
        file,
        problems: Vec::new(),
        listed: HashSet::new(),
    };
    let mut parsed = match yaml::load(text) {
        Ok(root) => match root.as_mapping() {
            Some(map) => parser.recipe(map),
            None => Parsed::default(),
        },
        Err(error) => {
            parser.load_error(&error);
            Parsed::default()
        }
    };
    parsed.problems = parser.problems;
    super::sort_problems(&mut parsed.problems);
    parsed
}

fn pos(node: &Node) -> Position {
    Position::of_marker(node.span().start())
}

fn key_pos(key: &MarkedScalarNode) -> Position {
    Position::of_marker(key.span().start())
}

/// What a node is, in words.
fn kind(node: &Node) -> &'static str {
    match node {
        Node::Mapping(_) => "a mapping",
        Node::Sequence(_) => "a list",
        Node::Scalar(s) if is_null(s) => "empty",
        Node::Scalar(_) => "a single value",
    }
}

struct Parser<'a> {
    file: &'a Path,
    problems: Vec<Problem>,
    /// Every entry of `workflow.stages`, valid or not.
    listed: HashSet<String>,
}

impl Parser<'_> {
    fn add(&mut self, pos: Position, message: impl Into<String>, hint: Option<String>) {
        let mut problem = Problem::located(self.file, pos, message);
        problem.hint = hint;
        self.problems.push(problem);
    }

    fn load_error(&mut self, error: &LoadError) {
        match error {
            LoadError::ScanError(marker, scan) => self.add(
                Position::of_marker(Some(marker)),
                format!("YAML syntax error: {}", scan.info()),
                Some(
                    "fix the YAML here (indentation, a `:` and a space after each key, closing \
                     quotes and brackets); the rest of the file is checked once it parses"
                        .to_owned(),
                ),
            ),
            LoadError::DuplicateKey(inner) => {
                let first = Position::of_marker(inner.prev_key.span().start());
                self.add(
                    key_pos(&inner.key),
                    format!("`{}` is given twice", inner.key.as_str()),
                    Some(format!(
                        "it is first given at line {}, column {}; keep one of them",
                        first.line, first.column
                    )),
                );
            }
            LoadError::TopLevelMustBeMapping(marker)
            | LoadError::TopLevelMustBeSequence(marker) => self.add(
                Position::of_marker(Some(marker)),
                "a recipe must be a mapping of keys (`workflow:` and one block per stage)",
                Some("see `codecafe recipe show moon` for an example".to_owned()),
            ),
            LoadError::UnexpectedAnchor(marker) => self.add(
                Position::of_marker(Some(marker)),
                "YAML anchors and aliases (`&name`, `*name`) are not supported in recipes",
                Some("write the values out in full".to_owned()),
            ),
            LoadError::UnexpectedTag(marker) => self.add(
                Position::of_marker(Some(marker)),
                "YAML tags (`!!str`, `!name`) are not supported in recipes",
                Some("remove the tag; quote a value to make it text".to_owned()),
            ),
            LoadError::MappingKeyMustBeScalar(marker) => self.add(
                Position::of_marker(Some(marker)),
                "a key must be a plain name, not a list or a mapping",
                None,
            ),
        }
    }

    fn recipe(&mut self, map: &MarkedMappingNode) -> Parsed {
        let mut parsed = Parsed::default();
        let mut workflow_seen = false;
        let mut candidates: Vec<(&MarkedScalarNode, &Node)> = Vec::new();
        for (key, value) in map.iter() {
            match key.as_str() {
                "name" => parsed.name = self.text(key, value, "text").map(|t| t.value),
                "description" => {
                    parsed.description = self.text(key, value, "text").map(|t| t.value)
                }
                "budget" => parsed.budget = self.budget(key, value),
                "signals" => parsed.signals = self.id(key, value, "signal parser"),
                "workflow" => {
                    workflow_seen = true;
                    if let Some(order) = self.workflow(key, value) {
                        parsed.order = order;
                    }
                }
                "permissions" | "approvals" => self.recipe_policy(key, value, &mut parsed),
                _ => candidates.push((key, value)),
            }
        }
        if map.is_empty() {
            self.add(
                Position::START,
                "the recipe is empty",
                Some(
                    "start from `codecafe recipe new <id>`, or see `codecafe recipe show moon`"
                        .to_owned(),
                ),
            );
        } else if !workflow_seen {
            self.add(
                Position::START,
                "the recipe has no `workflow:` block",
                Some(
                    "add `workflow:` with `stages: [...]`, the stage ids in the order they run"
                        .to_owned(),
                ),
            );
        }
        // Every name in the list, valid or not, so a block with a bad id is not also "unlisted".
        let listed: HashSet<String> = std::mem::take(&mut self.listed);
        let mut unlisted_blocks: Vec<&str> = Vec::new();
        for (key, value) in candidates {
            let id = key.as_str();
            let is_block =
                matches!(value, Node::Mapping(_)) || matches!(value, Node::Scalar(s) if is_null(s));
            if !is_block {
                if listed.contains(id) {
                    self.add(
                        pos(value),
                        format!(
                            "stage `{id}` must be a mapping of settings, not {}",
                            kind(value)
                        ),
                        Some(format!(
                            "for example `{id}: {{ provider: claude-code, role: coder }}`"
                        )),
                    );
                } else {
                    let hint =
                        did_you_mean(id, TOP_LEVEL_KEYS.iter().copied()).unwrap_or_else(|| {
                            format!(
                                "the top level takes {} and one block per stage listed in \
                             `workflow.stages`",
                                list(TOP_LEVEL_KEYS.iter().copied(), 10)
                            )
                        });
                    self.add(key_pos(key), format!("unknown key `{id}`"), Some(hint));
                }
                continue;
            }
            if !listed.contains(id) && workflow_seen && !parsed.order.is_empty() {
                unlisted_blocks.push(id);
                let missing = parsed
                    .order
                    .iter()
                    .map(|s| s.value.as_str())
                    .filter(|s| !map.contains_key(*s));
                let hint = match did_you_mean(id, missing) {
                    Some(hint) => format!("{hint} (listed in `workflow.stages` without a block)"),
                    None => did_you_mean(id, TOP_LEVEL_KEYS.iter().copied()).unwrap_or_else(|| {
                        format!("add `{id}` to `workflow.stages`, or remove the block")
                    }),
                };
                self.add(
                    key_pos(key),
                    format!("stage block `{id}` is not listed in `workflow.stages`"),
                    Some(hint),
                );
            }
            parsed.blocks.push(self.stage(key, value));
        }
        for stage in &parsed.order {
            let id = stage.value.as_str();
            if map.contains_key(id) || TOP_LEVEL_KEYS.contains(&id) || !is_valid_id(id) {
                continue;
            }
            let hint = match did_you_mean(id, unlisted_blocks.iter().copied()) {
                Some(_) => {
                    let near = super::suggest::closest(id, unlisted_blocks.iter().copied())
                        .unwrap_or_default();
                    format!("is the block `{near}` meant to be `{id}`?")
                }
                None => format!(
                    "add a `{id}:` block (for example `{id}: {{ provider: claude-code, role: coder }}`), \
                     or remove `{id}` from the list"
                ),
            };
            self.add(
                stage.pos,
                format!("stage `{id}` is listed in `workflow.stages` but has no block"),
                Some(hint),
            );
        }
        self.problems
            .extend(graph::check(self.file, &parsed.order, &parsed.blocks));
        parsed
    }

    /// `workflow: { stages: [...] }` → the stage ids in order.
    fn workflow(&mut self, key: &MarkedScalarNode, value: &Node) -> Option<Vec<Located<String>>> {
        let Node::Mapping(map) = value else {
            self.add(
                if matches!(value, Node::Scalar(s) if is_null(s)) {
                    key_pos(key)
                } else {
                    pos(value)
                },
                format!(
                    "`workflow` must be a mapping with `stages`, not {}",
                    kind(value)
                ),
                Some(
                    "write `workflow:` and under it `stages: [analyze, plan, code, review]`"
                        .to_owned(),
                ),
            );
            return None;
        };
        let mut order = None;
        for (k, v) in map.iter() {
            if k.as_str() == "stages" {
                order = Some(self.stage_order(k, v));
            } else {
                let hint = did_you_mean(k.as_str(), ["stages"])
                    .unwrap_or_else(|| "`workflow` takes only `stages`".to_owned());
                self.add(
                    key_pos(k),
                    format!("unknown key `{}` in `workflow`", k.as_str()),
                    Some(hint),
                );
            }
        }
        if order.is_none() {
            self.add(
                key_pos(key),
                "`workflow` has no `stages` list",
                Some("add `stages: [...]`, the stage ids in the order they run".to_owned()),
            );
        }
        order
    }

    fn stage_order(&mut self, key: &MarkedScalarNode, value: &Node) -> Vec<Located<String>> {
        let Node::Sequence(items) = value else {
            let at = if matches!(value, Node::Scalar(s) if is_null(s)) {
                key_pos(key)
            } else {
                pos(value)
            };
            self.add(
                at,
                format!(
                    "`workflow.stages` must be a list of stage ids, not {}",
                    kind(value)
                ),
                Some("write `stages: [analyze, plan, code, review]`".to_owned()),
            );
            return Vec::new();
        };
        if items.is_empty() {
            self.add(
                pos(value),
                "`workflow.stages` is empty",
                Some("list the stage ids in the order they run".to_owned()),
            );
        }
        let mut order: Vec<Located<String>> = Vec::new();
        for item in items.iter() {
            if let Node::Scalar(name) = item {
                self.listed.insert(name.as_str().to_owned());
            }
            let Some(id) = self.list_item_id(item, "stage") else {
                continue;
            };
            if TOP_LEVEL_KEYS.contains(&id.value.as_str()) {
                self.add(
                    id.pos,
                    format!(
                        "`{}` cannot be a stage id: it is a recipe setting",
                        id.value
                    ),
                    Some("choose another stage id".to_owned()),
                );
                continue;
            }
            if let Some(first) = order.iter().find(|s| s.value == id.value) {
                self.add(
                    id.pos,
                    format!("stage `{}` is listed twice in `workflow.stages`", id.value),
                    Some(format!(
                        "it is first listed at line {}, column {}; stage ids must be unique",
                        first.pos.line, first.pos.column
                    )),
                );
                continue;
            }
            order.push(id);
        }
        order
    }

    fn stage(&mut self, key: &MarkedScalarNode, value: &Node) -> StageBlock {
        let mut stage = StageBlock {
            id: Located {
                value: key.as_str().to_owned(),
                pos: key_pos(key),
            },
            ..StageBlock::default()
        };
        let Node::Mapping(map) = value else {
            return stage;
        };
        let mut option_keys: HashMap<String, Position> = HashMap::new();
        for (k, v) in map.iter() {
            let name = k.as_str();
            match name {
                "provider" => stage.provider = self.id(k, v, "provider"),
                "role" => stage.role = self.id(k, v, "role"),
                "signals" => stage.signals = self.id(k, v, "signal parser"),
                "skills" => stage.skills = self.id_list(k, v, "skill").unwrap_or_default(),
                "depends_on" => stage.depends_on = self.id_list(k, v, "stage"),
                "mode" => {
                    stage.mode = self
                        .choice(k, v, Mode::VALUES, Mode::from_name)
                        .map(|m| m.value)
                }
                "interactive" => stage.interactive = self.flag(k, v),
                "on_failure" => {
                    stage.on_failure = self.choice(k, v, OnFailure::VALUES, OnFailure::from_name)
                }
                "context" => {
                    stage.context =
                        self.choice(k, v, SessionContext::VALUES, SessionContext::from_name)
                }
                "retries" => stage.retries = self.retries(k, v),
                "retry_backoff" => {
                    stage.retry_backoff = self.duration(k, v, Duration::ZERO, MAX_RETRY_BACKOFF)
                }
                "timeout" => {
                    stage.timeout = self
                        .duration(k, v, Duration::from_secs(1), MAX_TIMEOUT)
                        .map(|d| d.value)
                }
                "prompt" => {
                    stage.prompt = self.text(k, v, "text").map(|prompt| {
                        self.check_template(&prompt);
                        prompt.value
                    })
                }
                "model" => stage.model = self.text(k, v, "a model name").map(|m| m.value),
                "options" => match v {
                    Node::Mapping(options) => {
                        for (ok, ov) in options.iter() {
                            if self.replaced_key(ok.as_str(), ok) {
                                continue;
                            }
                            if self.option(ok, ov, &mut option_keys, "in `options`") {
                                stage.options.push((ok.as_str().to_owned(), to_json(ov)));
                            }
                        }
                    }
                    _ => self.add(
                        if matches!(v, Node::Scalar(s) if is_null(s)) {
                            key_pos(k)
                        } else {
                            pos(v)
                        },
                        format!(
                            "`options` must be a mapping of provider options, not {}",
                            kind(v)
                        ),
                        Some("for example `options: { max_turns: 20 }`".to_owned()),
                    ),
                },
                _ if PROVIDER_OPTION_KEYS.contains(&name) => {
                    if self.option(k, v, &mut option_keys, "as a stage key") {
                        stage.options.push((name.to_owned(), to_json(v)));
                    }
                }
                _ if self.policy_key(&mut stage, k, v) => {}
                _ => {
                    let hint =
                        did_you_mean(name, STAGE_KEYS.iter().copied()).unwrap_or_else(|| {
                            format!(
                                "a stage takes {}; other provider options go under `options:`",
                                list(STAGE_KEYS.iter().copied(), 20)
                            )
                        });
                    self.add(
                        key_pos(k),
                        format!("unknown key `{name}` in stage `{}`", stage.id.value),
                        Some(hint),
                    );
                }
            }
        }
        let retrying = stage.on_failure.as_ref().map(|o| o.value) == Some(OnFailure::Retry);
        if !retrying {
            let on_failure = stage.on_failure.as_ref().map_or("stop (the default)", |o| {
                OnFailure::VALUES[o.value as usize]
            });
            if let Some(retries) = &stage.retries {
                self.add(
                    retries.pos,
                    format!("`retries` has no effect: `on_failure` is {on_failure}"),
                    Some("add `on_failure: retry`, or remove `retries`".to_owned()),
                );
            }
            if let Some(backoff) = &stage.retry_backoff {
                self.add(
                    backoff.pos,
                    format!("`retry_backoff` has no effect: `on_failure` is {on_failure}"),
                    Some("add `on_failure: retry`, or remove `retry_backoff`".to_owned()),
                );
            }
        }
        stage
    }

    /// Records a provider option key; false (and a problem) when it was given already.
    fn option(
        &mut self,
        key: &MarkedScalarNode,
        value: &Node,
        seen: &mut HashMap<String, Position>,
        how: &str,
    ) -> bool {
        let name = key.as_str();
        if let Some(first) = seen.get(name) {
            self.add(
                key_pos(key),
                format!("provider option `{name}` is given twice (again {how})"),
                Some(format!(
                    "it is first given at line {}, column {}; keep one of them",
                    first.line, first.column
                )),
            );
            return false;
        }
        seen.insert(name.to_owned(), key_pos(key));
        if let Node::Scalar(s) = value
            && is_null(s)
        {
            self.add(
                key_pos(key),
                format!("provider option `{name}` has no value"),
                Some("give it a value or remove the line".to_owned()),
            );
            return false;
        }
        true
    }

    /// `true` or `false`, unquoted.
    fn flag(&mut self, key: &MarkedScalarNode, value: &Node) -> Option<bool> {
        let text = self.text(key, value, "true or false")?;
        let plain = matches!(value, Node::Scalar(s) if s.may_coerce());
        match text.value.as_str() {
            "true" if plain => Some(true),
            "false" if plain => Some(false),
            other => {
                self.add(
                    text.pos,
                    format!("`{}` must be true or false, not `{other}`", key.as_str()),
                    Some("write `true` or `false`, unquoted".to_owned()),
                );
                None
            }
        }
    }

    /// A non-empty single value.
    fn text(
        &mut self,
        key: &MarkedScalarNode,
        value: &Node,
        what: &str,
    ) -> Option<Located<String>> {
        match value {
            Node::Scalar(s) if is_null(s) => {
                self.add(
                    key_pos(key),
                    format!("`{}` has no value", key.as_str()),
                    Some("give it a value or remove the line".to_owned()),
                );
                None
            }
            Node::Scalar(s) => Some(Located {
                value: s.as_str().to_owned(),
                pos: pos(value),
            }),
            _ => {
                self.add(
                    pos(value),
                    format!("`{}` must be {what}, not {}", key.as_str(), kind(value)),
                    None,
                );
                None
            }
        }
    }

    /// A valid id of `kind` (`provider`, `role`, ...).
    fn id(
        &mut self,
        key: &MarkedScalarNode,
        value: &Node,
        kind_name: &str,
    ) -> Option<Located<String>> {
        let text = self.text(key, value, &format!("a {kind_name} id"))?;
        if is_valid_id(&text.value) {
            Some(text)
        } else {
            self.add(
                text.pos,
                format!("`{}` is not a valid {kind_name} id", text.value),
                Some(ID_RULE.to_owned()),
            );
            None
        }
    }

    /// One entry of a list of ids.
    fn list_item_id(&mut self, item: &Node, kind_name: &str) -> Option<Located<String>> {
        match item {
            Node::Scalar(s) if !is_null(s) => {
                let id = Located {
                    value: s.as_str().to_owned(),
                    pos: pos(item),
                };
                if is_valid_id(&id.value) {
                    Some(id)
                } else {
                    self.add(
                        id.pos,
                        format!("`{}` is not a valid {kind_name} id", id.value),
                        Some(ID_RULE.to_owned()),
                    );
                    None
                }
            }
            _ => {
                self.add(
                    pos(item),
                    format!(
                        "a {kind_name} id must be a single value, not {}",
                        kind(item)
                    ),
                    None,
                );
                None
            }
        }
    }

    /// A list of distinct ids of `kind_name`.
    fn id_list(
        &mut self,
        key: &MarkedScalarNode,
        value: &Node,
        kind_name: &str,
    ) -> Option<Vec<Located<String>>> {
        let name = key.as_str();
        let items = match value {
            Node::Sequence(items) => items,
            Node::Scalar(s) if is_null(s) => {
                self.add(
                    key_pos(key),
                    format!("`{name}` has no value"),
                    Some(format!("write `{name}: []` for none, or remove the line")),
                );
                return None;
            }
            Node::Scalar(s) => {
                self.add(
                    pos(value),
                    format!("`{name}` must be a list of {kind_name} ids, not a single value"),
                    Some(format!("write `{name}: [{}]`", s.as_str())),
                );
                return None;
            }
            Node::Mapping(_) => {
                self.add(
                    pos(value),
                    format!("`{name}` must be a list of {kind_name} ids, not a mapping"),
                    Some(format!("write `{name}: [a, b]`")),
                );
                return None;
            }
        };
        let mut ids: Vec<Located<String>> = Vec::new();
        for item in items.iter() {
            let Some(id) = self.list_item_id(item, kind_name) else {
                continue;
            };
            if let Some(first) = ids.iter().find(|i| i.value == id.value) {
                self.add(
                    id.pos,
                    format!("`{}` is listed twice in `{name}`", id.value),
                    Some(format!(
                        "it is first listed at line {}, column {}",
                        first.pos.line, first.pos.column
                    )),
                );
                continue;
            }
            ids.push(id);
        }
        Some(ids)
    }

    fn choice<T: Copy>(
        &mut self,
        key: &MarkedScalarNode,
        value: &Node,
        values: &[&str],
        from_name: fn(&str) -> Option<T>,
    ) -> Option<Located<T>> {
        let accepted = list(values.iter().copied(), 10);
        let text = self.text(key, value, &format!("one of {accepted}"))?;
        match from_name(&text.value) {
            Some(found) => Some(Located {
                value: found,
                pos: text.pos,
            }),
            None => {
                let hint = match did_you_mean(&text.value, values.iter().copied()) {
                    Some(mean) => format!("{mean} (accepted: {accepted})"),
                    None => format!("accepted values: {accepted}"),
                };
                self.add(
                    text.pos,
                    format!("`{}` is not a valid `{}`", text.value, key.as_str()),
                    Some(hint),
                );
                None
            }
        }
    }

    fn retries(&mut self, key: &MarkedScalarNode, value: &Node) -> Option<Located<u32>> {
        let text = self.text(key, value, "a whole number")?;
        let plain = matches!(value, Node::Scalar(s) if s.may_coerce());
        match text.value.parse::<u64>() {
            Ok(count) if plain && count <= u64::from(MAX_RETRIES) => Some(Located {
                value: u32::try_from(count).unwrap_or(MAX_RETRIES),
                pos: text.pos,
            }),
            Ok(count) if plain => {
                self.add(
                    text.pos,
                    format!("`retries: {count}` is too many; at most {MAX_RETRIES} are allowed"),
                    Some(format!(
                        "each retry runs the agent again; use a number from 0 to {MAX_RETRIES}"
                    )),
                );
                None
            }
            _ => {
                self.add(
                    text.pos,
                    format!("`retries` must be a whole number, not `{}`", text.value),
                    Some(format!("use a number from 0 to {MAX_RETRIES}, unquoted")),
                );
                None
            }
        }
    }

    fn duration(
        &mut self,
        key: &MarkedScalarNode,
        value: &Node,
        min: Duration,
        max: Duration,
    ) -> Option<Located<Duration>> {
        let name = key.as_str();
        let text = self.text(key, value, "a duration")?;
        let range = format!(
            "from {} to {}",
            super::duration::format_duration(min),
            super::duration::format_duration(max)
        );
        match parse_duration(&text.value) {
            Some(duration) if duration >= min && duration <= max => Some(Located {
                value: duration,
                pos: text.pos,
            }),
            Some(_) => {
                self.add(
                    text.pos,
                    format!("`{name}: {}` is out of range", text.value),
                    Some(format!("use a duration {range}")),
                );
                None
            }
            None => {
                let hint = if text.value.bytes().all(|b| b.is_ascii_digit()) {
                    format!("add a unit, e.g. `{}s` or `{}m`", text.value, text.value)
                } else {
                    format!("write {DURATION_FORMAT}")
                };
                self.add(
                    text.pos,
                    format!("`{}` is not a duration", text.value),
                    Some(hint),
                );
                None
            }
        }
    }

    fn budget(&mut self, key: &MarkedScalarNode, value: &Node) -> Option<f64> {
        let text = self.text(key, value, "a number of US dollars")?;
        let plain = matches!(value, Node::Scalar(s) if s.may_coerce());
        match text.value.parse::<f64>() {
            Ok(usd) if plain && usd.is_finite() && usd > 0.0 => Some(usd),
            _ => {
                self.add(
                    text.pos,
                    format!(
                        "`budget` must be a positive number of US dollars, not `{}`",
                        text.value
                    ),
                    Some("for example `budget: 5` or `budget: 2.50`".to_owned()),
                );
                None
            }
        }
    }

    /// Reports a `prompt` that is not a valid template.
    fn check_template(&mut self, prompt: &Located<String>) {
        if let Err(error) = template::environment().template_from_str(&prompt.value) {
            // The template's lines follow the value's first line; its columns do not map to the
            // file (a block scalar is indented), so the value's column stands for them.
            let in_template = Position {
                line: error.line().unwrap_or(1),
                column: prompt.pos.column,
            };
            let detail = error
                .detail()
                .map_or_else(|| error.kind().to_string(), str::to_owned);
            self.add(
                in_template.in_part_starting_on_line(prompt.pos.line),
                format!("`prompt` is not a valid template: {detail}"),
                Some("templates use minijinja (Jinja2) syntax: `{{ variable }}`, `{% if … %}…{% endif %}`".to_owned()),
            );
        }
    }
}
