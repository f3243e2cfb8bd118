//! The stage graph of a recipe: which stages each one waits for, its cycles, and the mistakes
//! in it (unknown or self dependencies, cycles, `context: inherit` without exactly one stage to
//! continue from).

use std::path::Path;

use super::suggest::{did_you_mean, list};
use super::{Located, Mode, SessionContext, StageBlock};
use crate::error::Problem;
use crate::location::Position;

/// Unknown dependencies, self-dependencies, cycles and `context: inherit` without exactly
/// one stage to continue from.
pub(super) fn check(file: &Path, order: &[Located<String>], blocks: &[StageBlock]) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut add = |position: Position, message: String, hint: String| {
        problems.push(Problem::located(file, position, message).hint(hint));
    };
    let ids: Vec<&str> = order.iter().map(|s| s.value.as_str()).collect();
    let block_of = |id: &str| blocks.iter().find(|b| b.id.value == id);
    for id in &ids {
        let Some(block) = block_of(id) else { continue };
        for dep in block.depends_on.iter().flatten() {
            if dep.value == *id {
                add(
                    dep.pos,
                    format!("stage `{id}` depends on itself"),
                    format!("remove `{id}` from its `depends_on`"),
                );
            } else if !ids.contains(&dep.value.as_str()) {
                let hint = did_you_mean(&dep.value, ids.iter().copied())
                    .unwrap_or_else(|| format!("the stages are {}", list(ids.iter().copied(), 20)));
                add(
                    dep.pos,
                    format!(
                        "`depends_on` names `{}`, which is not a stage of this recipe",
                        dep.value
                    ),
                    hint,
                );
            }
        }
    }
    let graph = Graph::new(&ids, &|id| block_of(id));
    for cycle in graph.cycles() {
        // Rotate so the cycle starts at the stage listed first.
        let start = (0..cycle.len()).min_by_key(|&i| cycle[i]).unwrap_or(0);
        let cycle: Vec<usize> = cycle[start..]
            .iter()
            .chain(&cycle[..start])
            .copied()
            .collect();
        let mut names: Vec<&str> = cycle.iter().map(|&i| ids[i]).collect();
        names.push(ids[cycle[0]]);
        let mut at = None;
        let mut implicit = Vec::new();
        for pair in cycle.iter().zip(cycle.iter().cycle().skip(1)) {
            let (from, to) = (ids[*pair.0], ids[*pair.1]);
            let explicit = block_of(from)
                .and_then(|b| b.depends_on.as_ref())
                .and_then(|deps| deps.iter().find(|d| d.value == to));
            match explicit {
                Some(dep) => {
                    at.get_or_insert(dep.pos);
                }
                None => implicit.push(format!(
                    "`{from}` waits for `{to}` because it follows it in `workflow.stages`; \
                     give `{from}` a `depends_on` to change that"
                )),
            }
        }
        let mut hint = "each stage waits for the next, so none can start; remove one of these \
                        dependencies"
            .to_owned();
        for line in implicit {
            hint.push_str("; ");
            hint.push_str(&line);
        }
        add(
            at.unwrap_or(order[cycle[0]].pos),
            format!("`depends_on` cycle: {}", names.join(" → ")),
            hint,
        );
    }
    for (index, id) in ids.iter().enumerate() {
        let Some(block) = block_of(id) else { continue };
        let Some(context) = &block.context else {
            continue;
        };
        if context.value != SessionContext::Inherit {
            continue;
        }
        let after = &graph.after[index];
        let message = match after.len() {
            1 => continue,
            0 => format!(
                "stage `{id}` has `context: inherit` but runs first, with no session to continue"
            ),
            _ => format!(
                "stage `{id}` has `context: inherit` but runs after several stages ({}); which session to continue is unclear",
                after.iter().map(|&i| ids[i]).collect::<Vec<_>>().join(", ")
            ),
        };
        add(
            context.pos,
            message,
            "use `context: fork`, or make it depend on exactly one stage".to_owned(),
        );
    }
    problems
}

/// Which stages each stage waits for, by index into `workflow.stages`.
pub(crate) struct Graph {
    /// `after[i]`: the stages stage `i` waits for.
    pub(crate) after: Vec<Vec<usize>>,
}

impl Graph {
    /// The schedule of `ids` (the order of `workflow.stages`): `depends_on` when a stage has
    /// it (unknown names and itself left out), else the step before it, where consecutive
    /// `parallel` stages share a step and every other stage is a step of its own.
    pub(crate) fn new<'b>(ids: &[&str], block_of: &dyn Fn(&str) -> Option<&'b StageBlock>) -> Self {
        let mut after = Vec::with_capacity(ids.len());
        let mut previous_step: Vec<usize> = Vec::new();
        let mut current_step: Vec<usize> = Vec::new();
        let mut current_parallel = false;
        for (index, id) in ids.iter().enumerate() {
            let block = block_of(id);
            let parallel = block.and_then(|b| b.mode) == Some(Mode::Parallel);
            let starts_step = !(parallel && current_parallel);
            if starts_step && !current_step.is_empty() {
                previous_step = std::mem::take(&mut current_step);
            }
            current_step.push(index);
            current_parallel = parallel;
            match block.and_then(|b| b.depends_on.as_ref()) {
                Some(deps) => after.push(
                    deps.iter()
                        .filter_map(|d| ids.iter().position(|i| *i == d.value))
                        .filter(|&i| i != index)
                        .collect(),
                ),
                None => after.push(previous_step.clone()),
            }
        }
        Self { after }
    }

    /// Every distinct cycle found by a depth-first walk, as stage indexes.
    pub(crate) fn cycles(&self) -> Vec<Vec<usize>> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            Active,
            Done,
        }
        fn visit(
            graph: &Graph,
            node: usize,
            marks: &mut [Mark],
            stack: &mut Vec<usize>,
            found: &mut Vec<Vec<usize>>,
        ) {
            marks[node] = Mark::Active;
            stack.push(node);
            for &next in &graph.after[node] {
                match marks[next] {
                    Mark::New => visit(graph, next, marks, stack, found),
                    Mark::Active => {
                        if let Some(from) = stack.iter().position(|&n| n == next) {
                            let cycle = stack[from..].to_vec();
                            let mut key = cycle.clone();
                            key.sort_unstable();
                            if !found.iter().any(|c| {
                                let mut k = c.clone();
                                k.sort_unstable();
                                k == key
                            }) {
                                found.push(cycle);
                            }
                        }
                    }
                    Mark::Done => {}
                }
            }
            stack.pop();
            marks[node] = Mark::Done;
        }
        let mut marks = vec![Mark::New; self.after.len()];
        let mut found = Vec::new();
        for node in 0..self.after.len() {
            if marks[node] == Mark::New {
                visit(self, node, &mut marks, &mut Vec::new(), &mut found);
            }
        }
        found
    }
}
