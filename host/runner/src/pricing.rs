//! What a stage run used and cost: its own share of what its agent reported ([`run_usage`],
//! [`run_cost`]: agents report session totals for resumed and forked sessions), and prices for
//! agents that report tokens but no cost (codex): a per-model price table kept as
//! data (`host/runner/data/pricing.json`, built in), overridden model by model by the user's
//! `<data dir>/pricing.json` of the same shape:
//!
//! ```json
//! { "version": 1, "models": { "gpt-5.5": { "input": 1.25, "cachedInput": 0.125, "output": 10 } } }
//! ```
//!
//! Prices are US dollars per million tokens; `cachedInput` defaults to `input`, `cacheWrite`
//! to `input`. A cost computed here is an **estimate** and is marked so; a model the table
//! does not know is **unpriced**. The model is the stage's, else the one the agent's own
//! configuration names (the provider says where: [`codecafe_sdk::ModelConfig`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use codecafe_sdk::{ModelConfig, Usage};
use serde::Deserialize;

use crate::error::RunnerError;

/// The built-in table.
const BUILT_IN: &str = include_str!("../data/pricing.json");
/// The user's override file, in the data directory.
pub const USER_FILE: &str = "pricing.json";

/// One model's prices, US dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModelPrice {
    /// Input tokens not read from a cache.
    pub input: f64,
    /// Input tokens read from the prompt cache (default: `input`).
    #[serde(default)]
    pub cached_input: Option<f64>,
    /// Input tokens written to the prompt cache (default: `input`).
    #[serde(default)]
    pub cache_write: Option<f64>,
    /// Output tokens.
    pub output: f64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PricingFile {
    version: u32,
    #[serde(default)]
    #[allow(dead_code, reason = "documentation inside the file")]
    note: Option<String>,
    models: BTreeMap<String, ModelPrice>,
}

/// Prices by model name.
#[derive(Debug, Clone, PartialEq)]
pub struct Pricing {
    models: BTreeMap<String, ModelPrice>,
    /// Where the user's file is (or would be), when loaded from a data directory.
    pub user_file: Option<PathBuf>,
}

/// What a run cost, as far as it can be told.
#[derive(Debug, Clone, PartialEq)]
pub enum Priced {
    /// Computed from its tokens with the table's price for the model.
    Estimated(f64),
    /// The model has no price (or none is known): the cost is unknown.
    Unpriced {
        /// The model, when known.
        model: Option<String>,
    },
}

impl Default for Pricing {
    fn default() -> Self {
        Self::built_in()
    }
}

impl Pricing {
    /// The built-in table.
    pub fn built_in() -> Self {
        let file: PricingFile = match serde_json::from_str(BUILT_IN) {
            Ok(file) => file,
            // The table ships with the binary and a unit test reads it.
            Err(err) => unreachable!("the built-in price table does not parse: {err}"),
        };
        Self {
            models: file.models,
            user_file: None,
        }
    }

    /// The built-in table with the user's `<data_dir>/pricing.json` over it, when it exists.
    pub fn load(data_dir: &Path) -> Result<Self, RunnerError> {
        let mut pricing = Self::built_in();
        let path = data_dir.join(USER_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                pricing.user_file = Some(path);
                return Ok(pricing);
            }
            Err(err) => {
                return Err(RunnerError::Pricing {
                    path,
                    message: err.to_string(),
                });
            }
        };
        let file: PricingFile =
            serde_json::from_str(&text).map_err(|err| RunnerError::Pricing {
                path: path.clone(),
                message: format!(
                    "line {}, column {}: {err}; the shape is {{\"version\": 1, \"models\": \
                     {{\"<model>\": {{\"input\": <usd per million>, \"cachedInput\": …, \
                     \"output\": …}}}}}}",
                    err.line(),
                    err.column()
                ),
            })?;
        if file.version != 1 {
            return Err(RunnerError::Pricing {
                path,
                message: format!(
                    "version {} is not one this codecafe reads (1)",
                    file.version
                ),
            });
        }
        for (model, price) in &file.models {
            let prices = [
                price.input,
                price.output,
                price.cached_input.unwrap_or(0.0),
                price.cache_write.unwrap_or(0.0),
            ];
            if prices.iter().any(|p| !p.is_finite() || *p < 0.0) {
                return Err(RunnerError::Pricing {
                    path,
                    message: format!("`{model}` has a price that is not a number of dollars"),
                });
            }
        }
        pricing.models.extend(file.models);
        pricing.user_file = Some(path);
        Ok(pricing)
    }

    /// The price of `model`: its own entry, else the entry of its name without a date suffix
    /// (`gpt-5-2025-08-07` → `gpt-5`).
    pub fn price_of(&self, model: &str) -> Option<&ModelPrice> {
        self.models
            .get(model)
            .or_else(|| self.models.get(strip_date(model)))
    }

    /// What `usage` cost with `model`.
    pub fn price(&self, model: Option<&str>, usage: &Usage) -> Priced {
        let Some(model) = model else {
            return Priced::Unpriced { model: None };
        };
        let Some(price) = self.price_of(model) else {
            return Priced::Unpriced {
                model: Some(model.to_owned()),
            };
        };
        let per_token = |tokens: u64, usd_per_million: f64| tokens as f64 * usd_per_million / 1e6;
        Priced::Estimated(
            per_token(usage.input_tokens, price.input)
                + per_token(
                    usage.cached_input_tokens,
                    price.cached_input.unwrap_or(price.input),
                )
                + per_token(
                    usage.cache_write_tokens,
                    price.cache_write.unwrap_or(price.input),
                )
                + per_token(usage.output_tokens, price.output),
        )
    }
}

/// How a stage run's cost was arrived at.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum CostKind {
    /// The agent reported it (or nothing is known yet).
    #[default]
    Reported,
    /// Computed from its tokens with the price table.
    Estimated,
    /// Its tokens could not be priced: the model has no price, or is not known.
    Unpriced {
        /// The model, when known.
        model: Option<String>,
    },
}

/// What a run cost by `usage`: the reported cost, less `baseline` (the session's total when the
/// run started) when the agent reports session totals; else an estimate from `pricing` with the
/// model `model` finds (asked only then); unpriced when it has no price.
pub fn run_cost(
    pricing: &Pricing,
    baseline: f64,
    usage: &Usage,
    model: impl FnOnce() -> Option<String>,
) -> (Option<f64>, CostKind) {
    if let Some(reported) = usage.cost_usd {
        let cost = if usage.cost_is_session_total && reported >= baseline {
            reported - baseline
        } else {
            reported
        };
        return (Some(cost), CostKind::Reported);
    }
    let tokens = usage.input_tokens
        + usage.output_tokens
        + usage.cached_input_tokens
        + usage.cache_write_tokens;
    if tokens == 0 {
        return (None, CostKind::Reported);
    }
    match pricing.price(model().as_deref(), usage) {
        Priced::Estimated(cost) => (Some(cost), CostKind::Estimated),
        Priced::Unpriced { model } => (None, CostKind::Unpriced { model }),
    }
}

/// A run's own token counts from what its agent reported: less `session_start` (the session's
/// totals when the run started) when the agent reports session totals, else added to `before`
/// (what earlier processes of the same run reported: an answered question continues the run in
/// a new process). The cost fields are left as reported (see [`run_cost`]).
pub fn run_usage(reported: &Usage, session_start: Option<&Usage>, before: Option<&Usage>) -> Usage {
    if reported.tokens_are_session_total {
        return usage_less(reported, session_start);
    }
    let mut usage = *reported;
    if let Some(before) = before {
        usage.input_tokens += before.input_tokens;
        usage.output_tokens += before.output_tokens;
        usage.cached_input_tokens += before.cached_input_tokens;
        usage.cache_write_tokens += before.cache_write_tokens;
    }
    usage
}

/// `total` less `part`, field by field (never below zero).
pub fn usage_less(total: &Usage, part: Option<&Usage>) -> Usage {
    let mut usage = *total;
    if let Some(part) = part {
        usage.input_tokens = usage.input_tokens.saturating_sub(part.input_tokens);
        usage.output_tokens = usage.output_tokens.saturating_sub(part.output_tokens);
        usage.cached_input_tokens = usage
            .cached_input_tokens
            .saturating_sub(part.cached_input_tokens);
        usage.cache_write_tokens = usage
            .cache_write_tokens
            .saturating_sub(part.cache_write_tokens);
    }
    usage
}

/// `name` without a trailing `-YYYY-MM-DD`.
fn strip_date(name: &str) -> &str {
    let bytes = name.as_bytes();
    let is_date = bytes.len() > 11 && {
        let tail = &bytes[bytes.len() - 11..];
        tail[0] == b'-'
            && tail[5] == b'-'
            && tail[8] == b'-'
            && tail
                .iter()
                .enumerate()
                .all(|(i, b)| matches!(i, 0 | 5 | 8) || b.is_ascii_digit())
    };
    if is_date {
        &name[..name.len() - 11]
    } else {
        name
    }
}

/// The model the agent's own configuration names (see [`ModelConfig`]), read from the first
/// of its files that exists; `None` when none does or it names no model.
pub fn configured_model(config: &ModelConfig) -> Option<String> {
    config
        .files
        .iter()
        .filter_map(|file| expand(file))
        .find(|path| path.is_file())
        .and_then(|path| std::fs::read_to_string(path).ok())
        .and_then(|text| top_level_string(&text, &config.key))
}

/// `~/x` and `$VAR/x` expanded; `None` when the variable is unset.
fn expand(path: &str) -> Option<PathBuf> {
    if let Some(rest) = path.strip_prefix("~/") {
        return std::env::var_os("HOME").map(|home| PathBuf::from(home).join(rest));
    }
    if let Some(rest) = path.strip_prefix('$') {
        let (name, tail) = rest.split_once('/').unwrap_or((rest, ""));
        let value = std::env::var_os(name).filter(|v| !v.is_empty())?;
        return Some(PathBuf::from(value).join(tail));
    }
    Some(PathBuf::from(path))
}

/// A top-level `key = "value"` (or `'value'`) of TOML text, before any `[table]`.
fn top_level_string(text: &str, key: &str) -> Option<String> {
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            return None;
        }
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        let name = name.trim().trim_matches('"');
        if name != key {
            continue;
        }
        let value = value.trim();
        let quote = value.chars().next().filter(|c| *c == '"' || *c == '\'')?;
        let inner = &value[1..];
        return inner.find(quote).map(|end| inner[..end].to_owned());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(input: u64, cached: u64, output: u64) -> Usage {
        Usage {
            input_tokens: input,
            cached_input_tokens: cached,
            output_tokens: output,
            ..Usage::default()
        }
    }

    #[test]
    fn the_built_in_table_parses_and_prices_tokens() {
        let pricing = Pricing::built_in();
        let Priced::Estimated(cost) = pricing.price(Some("gpt-5"), &usage(1_000_000, 0, 100_000))
        else {
            panic!("gpt-5 has a price");
        };
        assert!((cost - (1.25 + 1.0)).abs() < 1e-9, "{cost}");
        // A dated name uses its model's price.
        assert!(matches!(
            pricing.price(Some("gpt-5-2025-08-07"), &usage(1, 0, 0)),
            Priced::Estimated(_)
        ));
        assert_eq!(
            pricing.price(Some("gpt-9-secret"), &usage(1, 0, 0)),
            Priced::Unpriced {
                model: Some("gpt-9-secret".into())
            }
        );
        assert_eq!(
            pricing.price(None, &usage(1, 0, 0)),
            Priced::Unpriced { model: None }
        );
    }

    #[test]
    fn the_user_file_adds_and_overrides_models() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join(USER_FILE),
            r#"{"version": 1, "models": {"gpt-5.5": {"input": 2, "cachedInput": 0.2, "output": 16}, "gpt-5": {"input": 0, "output": 0}}}"#,
        )
        .expect("write");
        let pricing = Pricing::load(dir.path()).expect("loads");
        assert_eq!(
            pricing.price(Some("gpt-5.5"), &usage(500_000, 1_000_000, 0)),
            Priced::Estimated(1.0 + 0.2)
        );
        assert_eq!(
            pricing.price(Some("gpt-5"), &usage(9, 9, 9)),
            Priced::Estimated(0.0)
        );
    }

    #[test]
    fn a_bad_user_file_names_itself_and_the_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join(USER_FILE),
            "{\"version\": 1,\n \"models\": {\"x\": {\"input\": \"cheap\", \"output\": 1}}}",
        )
        .expect("write");
        let err = Pricing::load(dir.path()).expect_err("refused").to_string();
        assert!(err.contains("pricing.json"), "{err}");
        assert!(err.contains("line 2"), "{err}");
        std::fs::write(
            dir.path().join(USER_FILE),
            r#"{"version": 1, "models": {"x": {"input": -1, "output": 1}}}"#,
        )
        .expect("write");
        assert!(Pricing::load(dir.path()).is_err());
    }

    #[test]
    fn the_configured_model_is_a_top_level_key_of_the_first_file_found() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("config.toml");
        std::fs::write(
            &file,
            "# codex\nmodel = \"gpt-5.5\" # the default\n[profiles.fast]\nmodel = \"o4-mini\"\n",
        )
        .expect("write");
        let config = ModelConfig {
            files: vec![
                "$CODECAFE_NO_SUCH_VARIABLE/config.toml".to_owned(),
                dir.path().join("missing.toml").display().to_string(),
                file.display().to_string(),
            ],
            key: "model".to_owned(),
        };
        assert_eq!(configured_model(&config).as_deref(), Some("gpt-5.5"));
        std::fs::write(&file, "[model_providers.x]\nmodel = \"no\"\n").expect("write");
        assert_eq!(configured_model(&config), None);
    }

    #[test]
    fn a_session_total_costs_the_difference_to_where_the_run_started() {
        let pricing = Pricing::built_in();
        let reported = |total: f64, session: bool| Usage {
            input_tokens: 10,
            cost_usd: Some(total),
            cost_is_session_total: session,
            ..Usage::default()
        };
        let no_model = || -> Option<String> { panic!("a reported cost needs no model") };
        // Fresh, resumed, forked: 0.000508, 0.001016, 0.001524 reported; each run 0.000508.
        for (baseline, total) in [(0.0, 0.000508), (0.000508, 0.001016), (0.001016, 0.001524)] {
            let (cost, kind) = run_cost(&pricing, baseline, &reported(total, true), no_model);
            assert!((cost.unwrap_or(0.0) - 0.000508).abs() < 1e-12, "{cost:?}");
            assert_eq!(kind, CostKind::Reported);
        }
        // A run's own cost is taken as it is.
        let (cost, _) = run_cost(&pricing, 5.0, &reported(0.25, false), no_model);
        assert_eq!(cost, Some(0.25));
    }

    #[test]
    fn tokens_without_a_cost_are_estimated_or_unpriced() {
        let pricing = Pricing::built_in();
        let tokens = usage(1_000_000, 0, 0);
        let (cost, kind) = run_cost(&pricing, 0.0, &tokens, || Some("gpt-5".to_owned()));
        assert_eq!((cost, kind), (Some(1.25), CostKind::Estimated));
        let (cost, kind) = run_cost(&pricing, 0.0, &tokens, || Some("gpt-9".to_owned()));
        assert_eq!(cost, None);
        assert_eq!(
            kind,
            CostKind::Unpriced {
                model: Some("gpt-9".to_owned())
            }
        );
        let (cost, kind) = run_cost(&pricing, 0.0, &usage(0, 0, 0), || None);
        assert_eq!((cost, kind), (None, CostKind::Reported));
    }

    #[test]
    fn session_token_totals_cost_the_difference_and_run_tokens_add_up() {
        // Codex reports a resumed thread's totals: 1000/100, then 1010/101.
        let start = Usage {
            input_tokens: 1000,
            output_tokens: 100,
            ..Usage::default()
        };
        let total = Usage {
            input_tokens: 1010,
            output_tokens: 101,
            tokens_are_session_total: true,
            ..Usage::default()
        };
        let run = run_usage(&total, Some(&start), None);
        assert_eq!((run.input_tokens, run.output_tokens), (10, 1));
        // A fresh thread's totals are its run's.
        assert_eq!(run_usage(&total, None, None).input_tokens, 1010);
        // Claude reports each process's own tokens: a run continued in a new process adds up.
        let second = Usage {
            input_tokens: 30,
            output_tokens: 3,
            ..Usage::default()
        };
        let first = Usage {
            input_tokens: 40,
            output_tokens: 4,
            ..Usage::default()
        };
        let run = run_usage(&second, None, Some(&first));
        assert_eq!((run.input_tokens, run.output_tokens), (70, 7));
    }

    #[test]
    fn dates_are_stripped_only_when_they_are_dates() {
        assert_eq!(strip_date("gpt-5-2025-08-07"), "gpt-5");
        assert_eq!(strip_date("gpt-5-mini"), "gpt-5-mini");
        assert_eq!(strip_date("o3-2025-0a-16"), "o3-2025-0a-16");
    }
}
