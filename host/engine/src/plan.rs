//! A recipe as a graph of stages: which stage waits for which, and which stages may start now.
//!
//! The input is a list of [`StageDef`] in recipe order, each naming its predecessors in
//! `after`. The engine does not read recipes: the runner maps the catalog's resolved
//! `StageSpec` onto a `StageDef` field by field —
//!
//! | `StageSpec` | `StageDef` |
//! |---|---|
//! | `id` | `id` |
//! | `after` (the computed predecessors: `depends_on`, else the step before, which is how `mode: parallel` is expressed) | `after` |
//! | `on_failure` (`stop`/`continue`/`retry`) | `on_failure` |
//! | `retries` | `retries` (capped at [`MAX_RETRIES`] here whatever the input) |
//! | `retry_backoff` | `retry_backoff` |
//! | `timeout` | `timeout` (handed back in every `StartStage`; the runner enforces it and reports `TimedOut`) |
//! | `context.value` (`fork`/`inherit`) | `context` |
//!
//! `provider`, `role`, `skills`, `model`, `prompt`, `options` and `signals` are the runner's
//! business (prompt rendering, command building, signal parsing); the engine only decides *when*
//! a stage runs and in which agent session.
//!
//! The plan trusts nothing: duplicate ids, unknown predecessors and cycles are refused with the
//! stage named, even though the catalog validates the same things.
//!
//! Readiness is simple and strict: a stage is ready when every stage it waits for, directly or
//! transitively, is *settled* (completed, skipped, or failed under `on_failure: continue`). Stages that are ready at the
//! same time have no dependency path between them and start together; a stage never starts
//! before all its predecessors settled.

use std::collections::HashMap;
use std::time::Duration;

use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::Dfs;

use crate::error::EngineError;

/// The most retries any stage gets, whatever its `retries` says (`u32::MAX` included).
pub const MAX_RETRIES: u32 = 20;

/// What a stage's failure does to the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnFailure {
    /// The order fails (and can be retried).
    #[default]
    Stop,
    /// The stage counts as finished-with-failure; its dependents still run.
    Continue,
    /// Re-run it up to `retries` times with `retry_backoff` between, then behave as `Stop`.
    Retry,
}

/// Which agent session a stage's first attempt runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ContextMode {
    /// A new session, or a forked copy of the single predecessor's where the provider can.
    #[default]
    Fork,
    /// Continue the session of the single stage it runs after.
    Inherit,
}

/// One stage as the engine sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageDef {
    /// The stage id (unique in the plan).
    pub id: String,
    /// The stages it waits for (its predecessors).
    pub after: Vec<String>,
    /// What its failure does.
    pub on_failure: OnFailure,
    /// How many re-runs `on_failure: retry` allows (capped at [`MAX_RETRIES`]).
    pub retries: u32,
    /// The wait before each re-run.
    pub retry_backoff: Duration,
    /// Its time limit, enforced by the runner.
    pub timeout: Duration,
    /// Which session its first attempt runs in.
    pub context: ContextMode,
}

impl StageDef {
    /// A stage with defaults: stop on failure, no retries, no backoff, a 30-minute timeout,
    /// `fork` context.
    pub fn new(id: impl Into<String>, after: &[&str]) -> Self {
        Self {
            id: id.into(),
            after: after.iter().map(|s| (*s).to_owned()).collect(),
            on_failure: OnFailure::Stop,
            retries: 0,
            retry_backoff: Duration::ZERO,
            timeout: Duration::from_secs(30 * 60),
            context: ContextMode::Fork,
        }
    }

    /// The retry bound actually applied: `retries` capped at [`MAX_RETRIES`].
    pub fn retry_limit(&self) -> u32 {
        self.retries.min(MAX_RETRIES)
    }
}

/// The validated stage graph, stages kept in recipe order (index `i` is the `i`-th stage).
#[derive(Debug, Clone)]
pub struct Plan {
    stages: Vec<StageDef>,
    index: HashMap<String, usize>,
    graph: DiGraph<(), ()>,
    preds: Vec<Vec<usize>>,
    ancestors: Vec<Vec<usize>>,
}

impl Plan {
    /// Builds the graph, refusing duplicate ids, unknown predecessors and cycles. Repeated
    /// names in one `after` list count once.
    pub fn new(stages: Vec<StageDef>) -> Result<Self, EngineError> {
        let mut index = HashMap::with_capacity(stages.len());
        let mut graph = DiGraph::with_capacity(stages.len(), stages.len());
        for (i, stage) in stages.iter().enumerate() {
            if index.insert(stage.id.clone(), i).is_some() {
                return Err(EngineError::DuplicateStage(stage.id.clone()));
            }
            graph.add_node(());
        }
        let mut preds = Vec::with_capacity(stages.len());
        for (i, stage) in stages.iter().enumerate() {
            let mut mine: Vec<usize> = Vec::new();
            for after in &stage.after {
                let p = *index
                    .get(after)
                    .ok_or_else(|| EngineError::UnknownPredecessor {
                        stage: stage.id.clone(),
                        after: after.clone(),
                    })?;
                if p == i {
                    return Err(EngineError::Cycle(stage.id.clone()));
                }
                if !mine.contains(&p) {
                    mine.push(p);
                    graph.add_edge(NodeIndex::new(p), NodeIndex::new(i), ());
                }
            }
            preds.push(mine);
        }
        if let Err(cycle) = petgraph::algo::toposort(&graph, None) {
            let at = cycle.node_id().index();
            return Err(EngineError::Cycle(stages[at].id.clone()));
        }
        let reversed = petgraph::visit::Reversed(&graph);
        let ancestors = (0..stages.len())
            .map(|i| {
                let mut dfs = Dfs::new(reversed, NodeIndex::new(i));
                let mut all = Vec::new();
                while let Some(n) = dfs.next(reversed) {
                    if n.index() != i {
                        all.push(n.index());
                    }
                }
                all.sort_unstable();
                all
            })
            .collect();
        Ok(Self {
            stages,
            index,
            graph,
            preds,
            ancestors,
        })
    }

    /// The stages, in recipe order.
    pub fn stages(&self) -> &[StageDef] {
        &self.stages
    }

    /// How many stages.
    pub fn len(&self) -> usize {
        self.stages.len()
    }

    /// Whether the plan has no stage.
    pub fn is_empty(&self) -> bool {
        self.stages.is_empty()
    }

    /// The position of stage `id`.
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// The stage at position `i`.
    pub fn stage(&self, i: usize) -> &StageDef {
        &self.stages[i]
    }

    /// The positions of stage `i`'s predecessors.
    pub fn predecessors(&self, i: usize) -> &[usize] {
        &self.preds[i]
    }

    /// The positions of every stage stage `i` (transitively) waits for, in recipe order.
    pub fn ancestors(&self, i: usize) -> &[usize] {
        &self.ancestors[i]
    }

    /// The positions of the stages that wait directly for stage `i`, in recipe order.
    pub fn successors(&self, i: usize) -> Vec<usize> {
        let mut next: Vec<usize> = self
            .graph
            .neighbors_directed(NodeIndex::new(i), Direction::Outgoing)
            .map(NodeIndex::index)
            .collect();
        next.sort_unstable();
        next
    }

    /// Stage `i` and every stage that (transitively) waits for it, in recipe order.
    pub fn downstream(&self, i: usize) -> Vec<usize> {
        let mut dfs = Dfs::new(&self.graph, NodeIndex::new(i));
        let mut all = Vec::new();
        while let Some(n) = dfs.next(&self.graph) {
            all.push(n.index());
        }
        all.sort_unstable();
        all
    }

    /// Whether there is a dependency path from `a` to `b` or from `b` to `a`.
    pub fn ordered(&self, a: usize, b: usize) -> bool {
        petgraph::algo::has_path_connecting(&self.graph, NodeIndex::new(a), NodeIndex::new(b), None)
            || petgraph::algo::has_path_connecting(
                &self.graph,
                NodeIndex::new(b),
                NodeIndex::new(a),
                None,
            )
    }

    /// The stages, in recipe order, that `waiting` says have not started and whose
    /// predecessors — all of them, transitively — `settled` says are done (completed, skipped,
    /// or failed with `continue`). Checking every ancestor, not only the direct predecessors,
    /// is what keeps a skipped stage from letting its dependents overtake the stages before it.
    /// All of the returned stages may start together.
    pub fn ready_indices(
        &self,
        settled: impl Fn(usize) -> bool,
        waiting: impl Fn(usize) -> bool,
    ) -> Vec<usize> {
        (0..self.stages.len())
            .filter(|&i| waiting(i) && self.ancestors[i].iter().all(|&p| settled(p)))
            .collect()
    }

    /// As [`Plan::ready_indices`], by id: the stages not in `started` whose predecessors are
    /// all in `settled`.
    pub fn ready<'a>(&'a self, settled: &[&str], started: &[&str]) -> Vec<&'a str> {
        let settled: Vec<usize> = settled.iter().filter_map(|s| self.index_of(s)).collect();
        let started: Vec<usize> = started.iter().filter_map(|s| self.index_of(s)).collect();
        self.ready_indices(
            |i| settled.contains(&i),
            |i| !started.contains(&i) && !settled.contains(&i),
        )
        .into_iter()
        .map(|i| self.stages[i].id.as_str())
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(stages: &[(&str, &[&str])]) -> Result<Plan, EngineError> {
        Plan::new(
            stages
                .iter()
                .map(|(id, after)| StageDef::new(*id, after))
                .collect(),
        )
    }

    #[test]
    fn a_linear_recipe_runs_one_stage_at_a_time() {
        let p = plan(&[("a", &[]), ("b", &["a"]), ("c", &["b"])]).expect("valid");
        assert_eq!(p.ready(&[], &[]), ["a"]);
        assert_eq!(p.ready(&[], &["a"]), Vec::<&str>::new());
        assert_eq!(p.ready(&["a"], &[]), ["b"]);
        assert_eq!(p.ready(&["a", "b"], &[]), ["c"]);
        assert!(p.ordered(0, 2));
        // A settled (e.g. skipped) `b` does not let `c` overtake an unfinished `a`.
        assert_eq!(p.ready(&["b"], &["a"]), Vec::<&str>::new());
        assert_eq!(p.ancestors(2), [0, 1]);
    }

    #[test]
    fn a_diamond_forks_and_joins() {
        let p =
            plan(&[("a", &[]), ("b", &["a"]), ("c", &["a"]), ("d", &["b", "c"])]).expect("valid");
        assert_eq!(p.ready(&["a"], &[]), ["b", "c"]);
        assert_eq!(p.ready(&["a", "b"], &["c"]), Vec::<&str>::new());
        assert_eq!(p.ready(&["a", "b", "c"], &[]), ["d"]);
        assert!(!p.ordered(1, 2));
        assert_eq!(p.downstream(1), [1, 3]);
        assert_eq!(p.successors(0), [1, 2]);
    }

    #[test]
    fn bad_graphs_are_refused_with_the_stage_named() {
        let err = plan(&[("a", &[]), ("a", &[])]).expect_err("duplicate");
        assert_eq!(err.to_string(), "stage `a` appears twice in the plan");
        let err = plan(&[("a", &["x"])]).expect_err("unknown");
        assert_eq!(
            err.to_string(),
            "stage `a` runs after `x`, which is not a stage of the plan"
        );
        assert!(matches!(
            plan(&[("a", &["b"]), ("b", &["a"])]),
            Err(EngineError::Cycle(_))
        ));
        assert_eq!(
            plan(&[("a", &["a"])]).expect_err("self"),
            EngineError::Cycle("a".into())
        );
        assert!(matches!(
            plan(&[("a", &[]), ("b", &["a", "d"]), ("c", &["b"]), ("d", &["c"])]),
            Err(EngineError::Cycle(_))
        ));
    }

    #[test]
    fn repeated_predecessors_count_once_and_retries_are_capped() {
        let p = plan(&[("a", &[]), ("b", &["a", "a"])]).expect("valid");
        assert_eq!(p.predecessors(1), [0]);
        let mut s = StageDef::new("x", &[]);
        s.retries = u32::MAX;
        assert_eq!(s.retry_limit(), MAX_RETRIES);
    }
}
