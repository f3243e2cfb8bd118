//! Tests of the order-run driver: scripted runs of every path, and random event orders.

use std::time::Duration;

use super::*;
use crate::plan::{MAX_RETRIES, StageDef};

fn plan(stages: &[(&str, &[&str])]) -> Plan {
    Plan::new(
        stages
            .iter()
            .map(|(id, after)| StageDef::new(*id, after))
            .collect(),
    )
    .expect("valid plan")
}

fn plan_with(stages: Vec<StageDef>) -> Plan {
    Plan::new(stages).expect("valid plan")
}

fn linear() -> Plan {
    plan(&[("a", &[]), ("b", &["a"]), ("c", &["b"])])
}

fn diamond() -> Plan {
    plan(&[("a", &[]), ("b", &["a"]), ("c", &["a"]), ("d", &["b", "c"])])
}

fn go(run: &mut OrderRun, event: EngineEvent) -> Vec<EngineCommand> {
    run.handle(event).expect("event accepted")
}

fn starts(cmds: &[EngineCommand]) -> Vec<String> {
    cmds.iter()
        .filter_map(|c| match c {
            EngineCommand::StartStage { stage, .. } => Some(stage.clone()),
            _ => None,
        })
        .collect()
}

fn start_of<'a>(cmds: &'a [EngineCommand], id: &str) -> &'a EngineCommand {
    cmds.iter()
        .find(|c| matches!(c, EngineCommand::StartStage { stage, .. } if stage == id))
        .expect("a StartStage for the stage")
}

fn finish(cmds: &[EngineCommand]) -> Option<&OrderOutcome> {
    cmds.iter().find_map(|c| match c {
        EngineCommand::FinishOrder { outcome } => Some(outcome),
        _ => None,
    })
}

fn ok(stage: &str) -> EngineEvent {
    signals(stage, vec![])
}

fn signals(stage: &str, signals: Vec<Signal>) -> EngineEvent {
    EngineEvent::StageFinished {
        stage: stage.into(),
        outcome: StageOutcome::Succeeded { signals },
    }
}

fn failed(stage: &str) -> EngineEvent {
    EngineEvent::StageFinished {
        stage: stage.into(),
        outcome: StageOutcome::Failed {
            error: "boom".into(),
        },
    }
}

fn done(stage: &str) -> EngineEvent {
    EngineEvent::StageFinished {
        stage: stage.into(),
        outcome: StageOutcome::Cancelled,
    }
}

#[test]
fn sequential_stages_run_strictly_one_after_another() {
    let mut run = OrderRun::new(linear(), RunOptions::default());
    let cmds = go(&mut run, EngineEvent::Start);
    assert_eq!(
        cmds[0],
        EngineCommand::PersistOrder {
            action: OrderAction::Start,
            status: OrderStatus::Running
        }
    );
    assert_eq!(starts(&cmds), ["a"]);
    // Persisting comes before starting.
    let persist = cmds
        .iter()
        .position(|c| matches!(c, EngineCommand::PersistStage { stage, .. } if stage == "a"))
        .expect("persisted");
    let start = cmds
        .iter()
        .position(|c| matches!(c, EngineCommand::StartStage { .. }))
        .expect("started");
    assert!(persist < start);
    assert!(go(&mut run, EngineEvent::StageStarted { stage: "a".into() }).is_empty());
    assert_eq!(starts(&go(&mut run, ok("a"))), ["b"]);
    assert_eq!(starts(&go(&mut run, ok("b"))), ["c"]);
    let cmds = go(&mut run, ok("c"));
    assert!(starts(&cmds).is_empty());
    assert_eq!(
        finish(&cmds),
        Some(&OrderOutcome::Completed {
            failed_stages: vec![]
        })
    );
    assert_eq!(run.status(), OrderStatus::Completed);
}

#[test]
fn stages_without_a_path_between_them_start_together_and_a_diamond_joins() {
    let mut run = OrderRun::new(diamond(), RunOptions::default());
    assert_eq!(starts(&go(&mut run, EngineEvent::Start)), ["a"]);
    assert_eq!(starts(&go(&mut run, ok("a"))), ["b", "c"]);
    assert!(starts(&go(&mut run, ok("c"))).is_empty());
    assert_eq!(starts(&go(&mut run, ok("b"))), ["d"]);
    assert!(finish(&go(&mut run, ok("d"))).is_some());
}

#[test]
fn stop_lets_running_parallel_stages_finish_then_fails_retryably() {
    let mut run = OrderRun::new(diamond(), RunOptions::default());
    go(&mut run, EngineEvent::Start);
    go(&mut run, ok("a"));
    let cmds = go(&mut run, failed("b"));
    assert!(starts(&cmds).is_empty());
    assert!(finish(&cmds).is_none(), "c still runs");
    assert_eq!(run.status(), OrderStatus::Running);
    let cmds = go(&mut run, ok("c"));
    assert!(starts(&cmds).is_empty(), "d never starts");
    assert_eq!(
        finish(&cmds),
        Some(&OrderOutcome::Failed {
            stage: "b".into(),
            error: "boom".into(),
            can_retry: true
        })
    );
    assert_eq!(run.stage_status("c"), Some(StageStatus::Completed));
    assert_eq!(run.stage_status("d"), Some(StageStatus::Pending));
    assert_eq!(run.status(), OrderStatus::Failed);
}

#[test]
fn continue_counts_the_failure_as_finished_and_dependents_run() {
    let mut b = StageDef::new("b", &["a"]);
    b.on_failure = OnFailure::Continue;
    let mut run = OrderRun::new(
        plan_with(vec![StageDef::new("a", &[]), b, StageDef::new("c", &["b"])]),
        RunOptions::default(),
    );
    go(&mut run, EngineEvent::Start);
    go(&mut run, ok("a"));
    assert_eq!(starts(&go(&mut run, failed("b"))), ["c"]);
    assert_eq!(
        finish(&go(&mut run, ok("c"))),
        Some(&OrderOutcome::Completed {
            failed_stages: vec!["b".into()]
        })
    );
}

fn retrying(retries: u32, backoff: Duration) -> Plan {
    let mut a = StageDef::new("a", &[]);
    a.on_failure = OnFailure::Retry;
    a.retries = retries;
    a.retry_backoff = backoff;
    plan_with(vec![a, StageDef::new("b", &["a"])])
}

#[test]
fn retry_waits_the_backoff_then_reruns_and_finally_stops() {
    let backoff = Duration::from_secs(5);
    let mut run = OrderRun::new(retrying(2, backoff), RunOptions::default());
    go(&mut run, EngineEvent::Start);
    for attempt in 2..=3 {
        let cmds = go(&mut run, failed("a"));
        assert!(
            starts(&cmds).is_empty(),
            "nothing starts before the backoff"
        );
        assert!(cmds.contains(&EngineCommand::ScheduleBackoff {
            stage: "a".into(),
            delay: backoff
        }));
        assert_eq!(run.stage_status("a"), Some(StageStatus::Pending));
        let cmds = go(&mut run, EngineEvent::BackoffElapsed { stage: "a".into() });
        assert_eq!(
            start_of(&cmds, "a"),
            &EngineCommand::StartStage {
                stage: "a".into(),
                attempt,
                session: Session::Fresh,
                retry_reason: Some("boom".into()),
                answers: vec![],
                timeout: Duration::from_secs(1800),
            }
        );
    }
    let cmds = go(&mut run, failed("a"));
    assert!(matches!(finish(&cmds), Some(OrderOutcome::Failed { .. })));
    assert_eq!(run.stage_status("b"), Some(StageStatus::Pending));
}

#[test]
fn retry_then_success_proceeds() {
    let mut run = OrderRun::new(retrying(3, Duration::ZERO), RunOptions::default());
    go(&mut run, EngineEvent::Start);
    // No backoff: the re-run starts at once.
    assert_eq!(starts(&go(&mut run, failed("a"))), ["a"]);
    assert_eq!(starts(&go(&mut run, ok("a"))), ["b"]);
}

#[test]
fn retries_are_bounded_even_for_u32_max() {
    let mut run = OrderRun::new(
        retrying(u32::MAX, Duration::from_millis(1)),
        RunOptions::default(),
    );
    let mut runs = starts(&go(&mut run, EngineEvent::Start)).len();
    for _ in 0..10_000 {
        let cmds = go(&mut run, failed("a"));
        if finish(&cmds).is_some() {
            break;
        }
        runs += starts(&go(
            &mut run,
            EngineEvent::BackoffElapsed { stage: "a".into() },
        ))
        .len();
    }
    assert_eq!(runs as u32, MAX_RETRIES + 1);
    assert_eq!(run.status(), OrderStatus::Failed);
}

#[test]
fn a_backoff_nobody_waits_for_is_refused_and_changes_nothing() {
    let mut run = OrderRun::new(linear(), RunOptions::default());
    go(&mut run, EngineEvent::Start);
    let before = run.snapshot();
    let err = run
        .handle(EngineEvent::BackoffElapsed { stage: "a".into() })
        .expect_err("no backoff");
    assert!(matches!(err, EngineError::UnexpectedEvent { .. }));
    assert_eq!(run.snapshot(), before);
    assert_eq!(
        run.handle(ok("zz")).expect_err("unknown"),
        EngineError::UnknownStage("zz".into())
    );
    let err = run.handle(ok("b")).expect_err("b never started");
    assert!(matches!(err, EngineError::IllegalStage { .. }), "{err}");
    assert_eq!(run.snapshot(), before);
    let err = run.handle(EngineEvent::Start).expect_err("started twice");
    assert!(matches!(err, EngineError::IllegalOrder(_)));
}

#[test]
fn timeouts_fail_the_stage_with_the_limit_named() {
    let mut run = OrderRun::new(linear(), RunOptions::default());
    go(&mut run, EngineEvent::Start);
    let cmds = go(
        &mut run,
        EngineEvent::StageFinished {
            stage: "a".into(),
            outcome: StageOutcome::TimedOut,
        },
    );
    assert_eq!(
        finish(&cmds),
        Some(&OrderOutcome::Failed {
            stage: "a".into(),
            error: "timed out after 1800s".into(),
            can_retry: true
        })
    );
}

#[test]
fn skip_signals_skip_unstarted_stages_and_warn_about_the_rest() {
    let mut run = OrderRun::new(
        plan(&[("a", &[]), ("b", &["a"]), ("c", &["b"]), ("d", &["c"])]),
        RunOptions::default(),
    );
    go(&mut run, EngineEvent::Start);
    let cmds = go(
        &mut run,
        signals(
            "a",
            vec![Signal::Skip {
                stages: vec!["c".into(), "nope".into(), "a".into()],
            }],
        ),
    );
    assert_eq!(run.stage_status("c"), Some(StageStatus::Skipped));
    let warnings = cmds
        .iter()
        .filter(|c| matches!(c, EngineCommand::Warn { .. }))
        .count();
    assert_eq!(warnings, 2);
    // d waits for the skipped c, which waits for b: d may not overtake b.
    assert_eq!(starts(&cmds), ["b"]);
    // The skip does not cascade: d runs after the skipped c.
    assert_eq!(starts(&go(&mut run, ok("b"))), ["d"]);
    go(&mut run, ok("d"));
    assert_eq!(run.status(), OrderStatus::Completed);
}

#[test]
fn skip_next_skips_the_direct_successors() {
    let mut run = OrderRun::new(diamond(), RunOptions::default());
    go(&mut run, EngineEvent::Start);
    let cmds = go(&mut run, signals("a", vec![Signal::SkipNext]));
    assert_eq!(starts(&cmds), ["d"]);
    assert_eq!(run.stage_status("b"), Some(StageStatus::Skipped));
    assert_eq!(run.stage_status("c"), Some(StageStatus::Skipped));
}

#[test]
fn await_user_round_trip_continues_the_same_session_without_starting_anything_meanwhile() {
    let mut run = OrderRun::new(linear(), RunOptions::default());
    go(&mut run, EngineEvent::Start);
    go(&mut run, ok("a"));
    let cmds = go(
        &mut run,
        signals(
            "b",
            vec![Signal::AwaitUser {
                questions: vec!["Which DB?".into()],
            }],
        ),
    );
    assert!(starts(&cmds).is_empty());
    assert!(cmds.contains(&EngineCommand::AwaitInput {
        reason: AwaitReason::Questions {
            stage: "b".into(),
            questions: vec!["Which DB?".into()]
        }
    }));
    assert_eq!(run.status(), OrderStatus::AwaitingInput);
    assert!(run.handle(ok("b")).is_err(), "nothing runs while waiting");
    let cmds = go(
        &mut run,
        EngineEvent::InputReceived {
            answer: "SQLite".into(),
        },
    );
    assert_eq!(
        start_of(&cmds, "b"),
        &EngineCommand::StartStage {
            stage: "b".into(),
            attempt: 1,
            session: Session::Continue { of: "b".into() },
            retry_reason: None,
            answers: vec!["SQLite".into()],
            timeout: Duration::from_secs(1800),
        }
    );
    assert_eq!(starts(&cmds), ["b"]);
    assert_eq!(starts(&go(&mut run, ok("b"))), ["c"]);
    assert!(
        run.handle(EngineEvent::InputReceived { answer: "x".into() })
            .is_err()
    );
}

#[test]
fn await_user_waits_for_parallel_siblings_before_pausing() {
    let mut run = OrderRun::new(diamond(), RunOptions::default());
    go(&mut run, EngineEvent::Start);
    go(&mut run, ok("a"));
    let ask = Signal::AwaitUser {
        questions: vec!["?".into()],
    };
    let cmds = go(&mut run, signals("b", vec![ask]));
    assert!(
        cmds.is_empty()
            || !cmds
                .iter()
                .any(|c| matches!(c, EngineCommand::AwaitInput { .. }))
    );
    assert_eq!(run.status(), OrderStatus::Running);
    let cmds = go(&mut run, ok("c"));
    assert!(starts(&cmds).is_empty(), "d waits for b");
    assert_eq!(run.status(), OrderStatus::AwaitingInput);
    go(&mut run, EngineEvent::InputReceived { answer: "y".into() });
    assert_eq!(starts(&go(&mut run, ok("b"))), ["d"]);
}

#[test]
fn the_budget_pauses_instead_of_starting_more_stages() {
    let mut run = OrderRun::new(
        linear(),
        RunOptions {
            max_cost_usd: Some(1.0),
        },
    );
    go(&mut run, EngineEvent::Start);
    assert!(go(&mut run, EngineEvent::CostRecorded { total_usd: 1.5 }).is_empty());
    let cmds = go(&mut run, ok("a"));
    assert!(starts(&cmds).is_empty());
    assert!(cmds.contains(&EngineCommand::AwaitInput {
        reason: AwaitReason::Budget {
            spent_usd: 1.5,
            limit_usd: 1.0
        }
    }));
    assert_eq!(run.status(), OrderStatus::AwaitingInput);
    // An answer is no budget decision: refused, nothing starts, the order still waits.
    let err = run
        .handle(EngineEvent::InputReceived {
            answer: "no".into(),
        })
        .expect_err("an answer does not raise the budget");
    assert!(err.to_string().contains("budget decision"), "{err}");
    assert_eq!(run.status(), OrderStatus::AwaitingInput);
    // A limit at or below the cost is no raise either.
    assert!(
        run.handle(EngineEvent::BudgetRaised { limit_usd: 1.5 })
            .is_err()
    );
    let cmds = go(&mut run, EngineEvent::BudgetRaised { limit_usd: 2.5 });
    assert_eq!(starts(&cmds), ["b"]);
    go(&mut run, EngineEvent::CostRecorded { total_usd: 2.6 });
    let cmds = go(&mut run, ok("b"));
    assert!(starts(&cmds).is_empty());
    assert_eq!(run.status(), OrderStatus::AwaitingInput);
}

#[test]
fn cancel_during_parallel_stages_kills_then_records() {
    let mut run = OrderRun::new(diamond(), RunOptions::default());
    go(&mut run, EngineEvent::Start);
    go(&mut run, ok("a"));
    let cmds = go(&mut run, EngineEvent::CancelRequested);
    assert!(cmds.contains(&EngineCommand::CancelRunning {
        stages: vec!["b".into(), "c".into()]
    }));
    assert_eq!(run.stage_status("d"), Some(StageStatus::Cancelled));
    assert_eq!(
        run.status(),
        OrderStatus::Running,
        "recorded after the kill"
    );
    assert!(run.handle(EngineEvent::CancelRequested).is_err());
    let cmds = go(&mut run, done("b"));
    assert!(finish(&cmds).is_none());
    let cmds = go(&mut run, ok("c"));
    assert!(starts(&cmds).is_empty());
    assert_eq!(finish(&cmds), Some(&OrderOutcome::Cancelled));
    assert_eq!(run.status(), OrderStatus::Cancelled);
    assert_eq!(run.stage_status("c"), Some(StageStatus::Completed));
    // A cancelled order can be retried: b and d run again, c's work is kept.
    let cmds = go(
        &mut run,
        EngineEvent::RetryRequested {
            from: RetryFrom::Failed,
            fresh: true,
        },
    );
    assert_eq!(starts(&cmds), ["b"]);
    assert_eq!(starts(&go(&mut run, ok("b"))), ["d"]);
}

#[test]
fn cancel_when_nothing_runs_is_immediate() {
    let mut run = OrderRun::new(linear(), RunOptions::default());
    let cmds = go(&mut run, EngineEvent::CancelRequested);
    assert_eq!(finish(&cmds), Some(&OrderOutcome::Cancelled));
    let mut run = OrderRun::new(linear(), RunOptions::default());
    go(&mut run, EngineEvent::Start);
    go(
        &mut run,
        signals("a", vec![Signal::AwaitUser { questions: vec![] }]),
    );
    let cmds = go(&mut run, EngineEvent::CancelRequested);
    assert_eq!(finish(&cmds), Some(&OrderOutcome::Cancelled));
    assert_eq!(run.stage_status("a"), Some(StageStatus::Cancelled));
}

fn failed_at_b() -> OrderRun {
    let mut run = OrderRun::new(linear(), RunOptions::default());
    go(&mut run, EngineEvent::Start);
    go(&mut run, ok("a"));
    go(&mut run, failed("b"));
    assert_eq!(run.status(), OrderStatus::Failed);
    run
}

#[test]
fn retry_from_the_failed_stage_keeps_its_context_by_default() {
    let mut run = failed_at_b();
    let cmds = go(
        &mut run,
        EngineEvent::RetryRequested {
            from: RetryFrom::Failed,
            fresh: false,
        },
    );
    assert_eq!(
        start_of(&cmds, "b"),
        &EngineCommand::StartStage {
            stage: "b".into(),
            attempt: 2,
            session: Session::Continue { of: "b".into() },
            retry_reason: Some("boom".into()),
            answers: vec![],
            timeout: Duration::from_secs(1800),
        }
    );
    assert_eq!(starts(&cmds), ["b"]);
    assert_eq!(run.attempt("a"), Some(1));
}

#[test]
fn retry_from_a_chosen_stage_reruns_it_and_everything_after() {
    let mut run = OrderRun::new(linear(), RunOptions::default());
    go(&mut run, EngineEvent::Start);
    go(&mut run, ok("a"));
    go(&mut run, ok("b"));
    go(&mut run, failed("c"));
    let cmds = go(
        &mut run,
        EngineEvent::RetryRequested {
            from: RetryFrom::Stage("b".into()),
            fresh: true,
        },
    );
    assert_eq!(starts(&cmds), ["b"]);
    assert_eq!(run.stage_status("c"), Some(StageStatus::Pending));
    assert_eq!(run.stage_status("a"), Some(StageStatus::Completed));
    assert_eq!(starts(&go(&mut run, ok("b"))), ["c"]);
    assert!(
        run.handle(EngineEvent::RetryRequested {
            from: RetryFrom::Failed,
            fresh: true
        })
        .is_err(),
        "a running order cannot be retried"
    );
}

#[test]
fn retry_from_the_beginning_fresh_starts_new_sessions() {
    let mut run = failed_at_b();
    let cmds = go(
        &mut run,
        EngineEvent::RetryRequested {
            from: RetryFrom::Beginning,
            fresh: true,
        },
    );
    assert_eq!(
        start_of(&cmds, "a"),
        &EngineCommand::StartStage {
            stage: "a".into(),
            attempt: 2,
            session: Session::Fresh,
            retry_reason: None,
            answers: vec![],
            timeout: Duration::from_secs(1800),
        }
    );
    assert_eq!(starts(&go(&mut run, ok("a"))), ["b"]);
    assert!(
        run.handle(EngineEvent::RetryRequested {
            from: RetryFrom::Stage("zz".into()),
            fresh: true
        })
        .is_err()
    );
}

#[test]
fn a_retry_signal_reruns_the_stage_in_its_session_within_the_bound() {
    let mut run = OrderRun::new(linear(), RunOptions::default());
    go(&mut run, EngineEvent::Start);
    let again = || {
        signals(
            "a",
            vec![Signal::Retry {
                reason: "tests red".into(),
            }],
        )
    };
    let cmds = go(&mut run, again());
    assert_eq!(
        start_of(&cmds, "a"),
        &EngineCommand::StartStage {
            stage: "a".into(),
            attempt: 2,
            session: Session::Continue { of: "a".into() },
            retry_reason: Some("tests red".into()),
            answers: vec![],
            timeout: Duration::from_secs(1800),
        }
    );
    // retries: 0 still allows one signalled re-run, not two.
    let cmds = go(&mut run, again());
    assert!(matches!(finish(&cmds), Some(OrderOutcome::Failed { .. })));
}

#[test]
fn sessions_follow_the_context_of_a_single_predecessor() {
    let mut b = StageDef::new("b", &["a"]);
    b.context = ContextMode::Inherit;
    let mut run = OrderRun::new(
        plan_with(vec![
            StageDef::new("a", &[]),
            b,
            StageDef::new("c", &["b"]),
            StageDef::new("d", &["a", "c"]),
        ]),
        RunOptions::default(),
    );
    go(&mut run, EngineEvent::Start);
    let session = |cmds: &[EngineCommand], id: &str| match start_of(cmds, id) {
        EngineCommand::StartStage { session, .. } => session.clone(),
        _ => unreachable!(),
    };
    let cmds = go(&mut run, ok("a"));
    assert_eq!(session(&cmds, "b"), Session::Continue { of: "a".into() });
    let cmds = go(&mut run, ok("b"));
    assert_eq!(session(&cmds, "c"), Session::Fork { of: "b".into() });
    let cmds = go(&mut run, ok("c"));
    assert_eq!(session(&cmds, "d"), Session::Fresh);
}

#[test]
fn restore_after_a_crash_resumes_without_rerunning_completed_stages() {
    let mut before = OrderRun::new(linear(), RunOptions::default());
    go(&mut before, EngineEvent::Start);
    go(&mut before, ok("a"));
    let snapshot = before.snapshot();
    assert_eq!(snapshot.stages[1].status, StageStatus::Running);

    let mut run = OrderRun::restore(linear(), RunOptions::default(), snapshot).expect("restored");
    let cmds = go(&mut run, EngineEvent::ResumeAfterCrash);
    assert_eq!(starts(&cmds), ["b"]);
    assert_eq!(
        start_of(&cmds, "b"),
        &EngineCommand::StartStage {
            stage: "b".into(),
            attempt: 1,
            session: Session::Continue { of: "b".into() },
            retry_reason: None,
            answers: vec![],
            timeout: Duration::from_secs(1800),
        }
    );
    assert_eq!(starts(&go(&mut run, ok("b"))), ["c"]);
    go(&mut run, ok("c"));
    assert_eq!(run.status(), OrderStatus::Completed);
    assert_eq!(run.attempt("a"), Some(1));
}

#[test]
fn restore_while_awaiting_input_asks_again_and_refuses_bad_snapshots() {
    let mut before = OrderRun::new(linear(), RunOptions::default());
    go(&mut before, EngineEvent::Start);
    go(
        &mut before,
        signals(
            "a",
            vec![Signal::AwaitUser {
                questions: vec!["why?".into()],
            }],
        ),
    );
    let mut run =
        OrderRun::restore(linear(), RunOptions::default(), before.snapshot()).expect("restored");
    let cmds = go(&mut run, EngineEvent::ResumeAfterCrash);
    assert_eq!(
        cmds,
        [EngineCommand::AwaitInput {
            reason: AwaitReason::Questions {
                stage: "a".into(),
                questions: vec!["why?".into()]
            }
        }]
    );
    let cmds = go(
        &mut run,
        EngineEvent::InputReceived {
            answer: "ok".into(),
        },
    );
    assert_eq!(starts(&cmds), ["a"]);

    let mut bad = before.snapshot();
    bad.stages[0].id = "zz".into();
    assert!(matches!(
        OrderRun::restore(linear(), RunOptions::default(), bad),
        Err(EngineError::BadSnapshot(_))
    ));
    let mut created = OrderRun::new(linear(), RunOptions::default());
    assert!(created.handle(EngineEvent::ResumeAfterCrash).is_err());
}

#[test]
fn an_empty_plan_completes_at_once() {
    let mut run = OrderRun::new(plan(&[]), RunOptions::default());
    let cmds = go(&mut run, EngineEvent::Start);
    assert!(finish(&cmds).is_some());
}

/// A tiny deterministic PRNG (xorshift64*), so the property test needs no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn random_plan(rng: &mut Rng) -> Plan {
    let n = 1 + rng.below(7);
    let mut stages = Vec::new();
    for i in 0..n {
        let mut after = Vec::new();
        for p in 0..i {
            // Mostly the recipe's linear order, sometimes a parallel fan-out.
            if (p + 1 == i && rng.below(4) != 0) || rng.below(5) == 0 {
                after.push(format!("s{p}"));
            }
        }
        let mut s = StageDef {
            id: format!("s{i}"),
            after,
            ..StageDef::new("", &[])
        };
        s.on_failure = match rng.below(3) {
            0 => OnFailure::Stop,
            1 => OnFailure::Continue,
            _ => OnFailure::Retry,
        };
        s.retries = [0, 1, 3, u32::MAX][rng.below(4)];
        s.retry_backoff = Duration::from_millis(rng.below(2) as u64);
        stages.push(s);
    }
    plan_with(stages)
}

#[test]
fn no_two_ordered_stages_are_ever_outstanding_at_once() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut most_at_once, mut completed, mut failed, mut cancelled) = (0, 0, 0, 0);
    for _ in 0..400 {
        let plan = random_plan(&mut rng);
        let mut run = OrderRun::new(
            plan.clone(),
            RunOptions {
                max_cost_usd: (rng.below(3) == 0).then_some(2.0),
            },
        );
        let mut outstanding: Vec<String> = Vec::new();
        let mut backoffs: Vec<String> = Vec::new();
        let mut cost = 0.0;
        let mut cmds = go(&mut run, EngineEvent::Start);
        let mut steps = 0;
        loop {
            steps += 1;
            assert!(steps < 10_000, "the run must end");
            for c in &cmds {
                match c {
                    EngineCommand::StartStage { stage, .. } => {
                        let i = plan.index_of(stage).expect("known");
                        for p in plan.ancestors(i) {
                            let status = run.stage_status(&plan.stage(*p).id).expect("known");
                            assert!(
                                matches!(
                                    status,
                                    StageStatus::Completed
                                        | StageStatus::Skipped
                                        | StageStatus::Failed
                                ),
                                "{stage} started before its predecessor settled"
                            );
                        }
                        assert!(!outstanding.contains(stage));
                        outstanding.push(stage.clone());
                    }
                    EngineCommand::ScheduleBackoff { stage, .. } => backoffs.push(stage.clone()),
                    _ => {}
                }
            }
            most_at_once = most_at_once.max(outstanding.len());
            for (x, a) in outstanding.iter().enumerate() {
                for b in &outstanding[x + 1..] {
                    let (a, b) = (
                        plan.index_of(a).expect("known"),
                        plan.index_of(b).expect("known"),
                    );
                    assert!(!plan.ordered(a, b), "ordered stages ran together");
                }
            }
            if run.status().is_terminal() {
                match run.status() {
                    OrderStatus::Completed => completed += 1,
                    OrderStatus::Failed => failed += 1,
                    _ => cancelled += 1,
                }
                match run.status() {
                    OrderStatus::Completed => break,
                    _ if rng.below(3) == 0 => break,
                    _ => {
                        backoffs.clear();
                        cmds = go(
                            &mut run,
                            EngineEvent::RetryRequested {
                                from: RetryFrom::Failed,
                                fresh: rng.below(2) == 0,
                            },
                        );
                        continue;
                    }
                }
            }
            if run.status() == OrderStatus::AwaitingInput {
                cmds = if run.waits_for_budget() {
                    let limit_usd = run.snapshot().cost_usd + 2.0;
                    go(&mut run, EngineEvent::BudgetRaised { limit_usd })
                } else {
                    go(&mut run, EngineEvent::InputReceived { answer: "a".into() })
                };
                continue;
            }
            let choice = rng.below(20);
            if choice == 0 {
                cmds = go(&mut run, EngineEvent::CancelRequested);
                backoffs.clear();
                if !outstanding.is_empty() {
                    // Report each running stage cancelled (or finished in the race).
                    let mut all = Vec::new();
                    for s in outstanding.drain(..) {
                        if run.stage_status(&s) == Some(StageStatus::Running) {
                            all.extend(go(&mut run, done(&s)));
                        }
                    }
                    cmds = all;
                }
                continue;
            }
            if !backoffs.is_empty() && (outstanding.is_empty() || choice < 5) {
                let stage = backoffs.remove(rng.below(backoffs.len()));
                cmds = go(&mut run, EngineEvent::BackoffElapsed { stage });
                continue;
            }
            if outstanding.is_empty() {
                panic!("stalled: {:?} {:?}", run.status(), run.snapshot());
            }
            let stage = outstanding.remove(rng.below(outstanding.len()));
            cost += 0.5;
            go(&mut run, EngineEvent::CostRecorded { total_usd: cost });
            let outcome = match rng.below(8) {
                0 => StageOutcome::Failed { error: "x".into() },
                1 => StageOutcome::TimedOut,
                2 => StageOutcome::Succeeded {
                    signals: vec![Signal::Retry { reason: "r".into() }],
                },
                3 => StageOutcome::Succeeded {
                    signals: vec![Signal::AwaitUser { questions: vec![] }],
                },
                4 => StageOutcome::Succeeded {
                    signals: vec![Signal::SkipNext],
                },
                _ => StageOutcome::Succeeded { signals: vec![] },
            };
            cmds = go(&mut run, EngineEvent::StageFinished { stage, outcome });
        }
    }
    // The scripts did reach every ending and real parallelism.
    assert!(most_at_once >= 3, "{most_at_once}");
    assert!(
        completed > 100 && failed > 20 && cancelled > 20,
        "{completed} {failed} {cancelled}"
    );
}

#[test]
fn a_stop_failure_cancels_a_sibling_awaiting_input() {
    let mut run = OrderRun::new(diamond(), RunOptions::default());
    go(&mut run, EngineEvent::Start);
    go(&mut run, ok("a"));
    let ask = Signal::AwaitUser {
        questions: vec!["?".into()],
    };
    go(&mut run, signals("b", vec![ask]));
    let cmds = go(&mut run, failed("c"));
    assert!(matches!(finish(&cmds), Some(OrderOutcome::Failed { .. })));
    assert_eq!(run.stage_status("b"), Some(StageStatus::Cancelled));
    // Retrying from the failed stages runs both again; b continues its own session.
    let cmds = go(
        &mut run,
        EngineEvent::RetryRequested {
            from: RetryFrom::Failed,
            fresh: false,
        },
    );
    assert_eq!(starts(&cmds), ["b", "c"]);
}

#[test]
fn stage_started_acknowledges_a_start_once() {
    let mut run = OrderRun::new(linear(), RunOptions::default());
    go(&mut run, EngineEvent::Start);
    go(&mut run, EngineEvent::StageStarted { stage: "a".into() });
    assert!(
        run.handle(EngineEvent::StageStarted { stage: "a".into() })
            .is_err()
    );
    assert!(
        run.handle(EngineEvent::StageStarted { stage: "b".into() })
            .is_err()
    );
}

// ----- follow-ups -----

fn followup_run(cost: f64, limit: Option<f64>) -> OrderRun {
    OrderRun::followup(
        plan(&[("followup", &[])]),
        RunOptions {
            max_cost_usd: limit,
        },
        cost,
        Session::Continue { of: "code".into() },
        2,
    )
}

#[test]
fn a_followup_runs_one_stage_in_the_given_session_and_returns_to_followup() {
    let mut run = followup_run(0.0, None);
    let cmds = go(&mut run, EngineEvent::Start);
    assert!(cmds.contains(&EngineCommand::PersistOrder {
        action: OrderAction::RunFollowup,
        status: OrderStatus::FollowupRunning,
    }));
    match start_of(&cmds, "followup") {
        EngineCommand::StartStage {
            attempt, session, ..
        } => {
            assert_eq!(*attempt, 3, "two follow-ups ran before");
            assert_eq!(*session, Session::Continue { of: "code".into() });
        }
        other => panic!("{other:?}"),
    }
    go(
        &mut run,
        EngineEvent::StageStarted {
            stage: "followup".into(),
        },
    );
    let cmds = go(&mut run, ok("followup"));
    assert_eq!(
        finish(&cmds),
        Some(&OrderOutcome::Completed {
            failed_stages: vec![]
        })
    );
    assert_eq!(run.status(), OrderStatus::Followup);
}

#[test]
fn a_followup_that_asks_awaits_input_and_continues_its_own_session() {
    let mut run = followup_run(0.0, None);
    go(&mut run, EngineEvent::Start);
    go(
        &mut run,
        EngineEvent::StageStarted {
            stage: "followup".into(),
        },
    );
    let cmds = go(
        &mut run,
        signals(
            "followup",
            vec![Signal::AwaitUser {
                questions: vec!["Which file?".into()],
            }],
        ),
    );
    assert!(
        cmds.iter()
            .any(|c| matches!(c, EngineCommand::AwaitInput { .. }))
    );
    assert_eq!(run.status(), OrderStatus::FollowupAwaitingInput);
    // Restored in another process from the store, then answered.
    let mut run = OrderRun::restore(
        plan(&[("followup", &[])]),
        RunOptions::default(),
        run.snapshot(),
    )
    .expect("restore");
    let cmds = go(
        &mut run,
        EngineEvent::InputReceived {
            answer: "a.txt".into(),
        },
    );
    match start_of(&cmds, "followup") {
        EngineCommand::StartStage {
            session, answers, ..
        } => {
            assert_eq!(
                *session,
                Session::Continue {
                    of: "followup".into()
                }
            );
            assert_eq!(answers, &vec!["a.txt".to_owned()]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(run.status(), OrderStatus::FollowupRunning);
    go(
        &mut run,
        EngineEvent::StageStarted {
            stage: "followup".into(),
        },
    );
    go(&mut run, ok("followup"));
    assert_eq!(run.status(), OrderStatus::Followup);
}

#[test]
fn a_followup_over_budget_starts_no_agent() {
    let mut run = followup_run(0.5, Some(0.2));
    let cmds = go(&mut run, EngineEvent::Start);
    assert!(starts(&cmds).is_empty(), "{cmds:?}");
    assert!(cmds.iter().any(|c| matches!(
        c,
        EngineCommand::AwaitInput {
            reason: AwaitReason::Budget { .. }
        }
    )));
    assert_eq!(run.status(), OrderStatus::FollowupAwaitingInput);
    let cmds = go(&mut run, EngineEvent::CancelRequested);
    assert_eq!(finish(&cmds), Some(&OrderOutcome::Cancelled));
    assert_eq!(run.status(), OrderStatus::Followup);
}
