//! The order and stage machines, exhaustively: one test per allowed transition, one test per
//! forbidden `(state, action)` pair, a check that the two lists together are exactly the cross
//! product and that the allowed list is exactly the table, and (in the manner of Temporal's
//! state machines) realistic lifecycles that must exercise every row of each table.
//!
//! The allowed and forbidden lists below are written out by hand from SPEC §2, independently
//! of the tables in the crate: a change to a table that is not also made here fails.

use std::collections::BTreeSet;
use std::fmt::Display;

/// Generates, for one machine: a test per allowed row, a test per forbidden pair, and the
/// `ALLOWED` and `FORBIDDEN` lists for the cross-product checks.
macro_rules! machine_tests {
    (
        use $module:ident::{$State:ident, $Action:ident, $TABLE:ident};
        allowed {
            $( $aname:ident: $afrom:ident + $aact:ident => $ato:ident, )*
        }
        forbidden {
            $( $fname:ident: $ffrom:ident + $fact:ident, )*
        }
    ) => {
        use codecafe_engine::$module::{transition, $Action, $State, $TABLE};

        /// `(from, action, to)` as this file expects them.
        const ALLOWED: &[($State, $Action, $State)] =
            &[$(($State::$afrom, $Action::$aact, $State::$ato)),*];

        /// `(from, action)` pairs that must be refused.
        const FORBIDDEN: &[($State, $Action)] = &[$(($State::$ffrom, $Action::$fact)),*];

        mod allowed {
            use super::*;
            $(
                #[test]
                fn $aname() {
                    assert_eq!(
                        transition($State::$afrom, $Action::$aact),
                        Ok($State::$ato),
                    );
                    assert!($State::$afrom.allows($Action::$aact));
                    assert!($State::$afrom.allowed_actions().any(|a| a == $Action::$aact));
                }
            )*
        }

        mod forbidden {
            use super::*;
            $(
                #[test]
                fn $fname() {
                    let err = transition($State::$ffrom, $Action::$fact)
                        .expect_err("this move is not in the table");
                    assert_eq!(err.from, $State::$ffrom);
                    assert_eq!(err.action, $Action::$fact);
                    let allowed: Vec<$Action> = $State::$ffrom.allowed_actions().collect();
                    assert_eq!(err.allowed, allowed);
                    assert!(!$State::$ffrom.allows($Action::$fact));
                    crate::check_message(&err.to_string(), $State::$ffrom, $Action::$fact, &allowed);
                }
            )*
        }

        #[test]
        fn allowed_and_forbidden_are_the_cross_product() {
            let allowed: BTreeSet<($State, $Action)> =
                ALLOWED.iter().map(|(f, a, _)| (*f, *a)).collect();
            assert_eq!(allowed.len(), ALLOWED.len(), "a pair is listed twice as allowed");
            let forbidden: BTreeSet<($State, $Action)> = FORBIDDEN.iter().copied().collect();
            assert_eq!(forbidden.len(), FORBIDDEN.len(), "a pair is listed twice as forbidden");
            assert!(allowed.is_disjoint(&forbidden), "a pair is both allowed and forbidden");
            for state in $State::ALL {
                for action in $Action::ALL {
                    assert!(
                        allowed.contains(&(*state, *action)) != forbidden.contains(&(*state, *action)),
                        "({state}, {action}) is in neither list",
                    );
                }
            }
            assert_eq!(
                allowed.len() + forbidden.len(),
                $State::ALL.len() * $Action::ALL.len()
            );
        }

        #[test]
        fn the_table_is_exactly_the_allowed_list() {
            let table: BTreeSet<_> = $TABLE.iter().copied().collect();
            assert_eq!(table.len(), $TABLE.len(), "a row is repeated");
            let pairs: BTreeSet<_> = $TABLE.iter().map(|(f, a, _)| (*f, *a)).collect();
            assert_eq!(pairs.len(), $TABLE.len(), "a (state, action) pair has two targets");
            let expected: BTreeSet<_> = ALLOWED.iter().copied().collect();
            assert_eq!(table, expected);
        }

        #[test]
        fn every_status_is_reachable_from_the_first() {
            let mut seen = BTreeSet::from([$State::ALL[0]]);
            let mut queue = vec![$State::ALL[0]];
            while let Some(state) = queue.pop() {
                for action in state.allowed_actions() {
                    let next = transition(state, action).expect("allowed");
                    if seen.insert(next) {
                        queue.push(next);
                    }
                }
            }
            assert_eq!(seen.len(), $State::ALL.len(), "reached only {seen:?}");
        }

        #[test]
        fn names_are_kebab_case_everywhere() {
            for state in $State::ALL {
                let json = serde_json::to_string(state).expect("serialize");
                assert_eq!(json, format!("\"{}\"", state.as_str()));
                assert_eq!(serde_json::from_str::<$State>(&json).expect("deserialize"), *state);
                assert_eq!(state.as_str().parse::<$State>(), Ok(*state));
                assert_eq!(state.to_string(), state.as_str());
                crate::check_kebab(state.as_str());
            }
            for action in $Action::ALL {
                let json = serde_json::to_string(action).expect("serialize");
                assert_eq!(json, format!("\"{}\"", action.as_str()));
                assert_eq!(serde_json::from_str::<$Action>(&json).expect("deserialize"), *action);
                assert_eq!(action.as_str().parse::<$Action>(), Ok(*action));
                crate::check_kebab(action.as_str());
            }
            let err = "nonsense".parse::<$State>().expect_err("not a status");
            assert!(err.to_string().starts_with("`nonsense` is not a "), "{err}");
            for name in $State::NAMES {
                assert!(err.to_string().contains(name), "{err} does not list {name}");
            }
            assert!(serde_json::from_str::<$State>("\"Running\"").is_err());
        }

        /// Walks `actions` from `start`, recording every row taken.
        #[allow(dead_code)]
        fn walk(start: $State, actions: &[$Action], taken: &mut BTreeSet<($State, $Action, $State)>) -> $State {
            let mut state = start;
            for action in actions {
                let next = transition(state, *action)
                    .unwrap_or_else(|err| panic!("scenario broke: {err}"));
                taken.insert((state, *action, next));
                state = next;
            }
            state
        }
    };
}

/// The message names the action, the state, and every allowed action.
fn check_message<S: Display, A: Display>(message: &str, state: S, action: A, allowed: &[A]) {
    assert!(message.contains(&format!("`{action}`")), "{message}");
    assert!(message.contains(&format!("that is {state};")), "{message}");
    for a in allowed {
        assert!(
            message.contains(&a.to_string()),
            "{message} does not list {a}"
        );
    }
    if allowed.is_empty() {
        assert!(message.contains("nothing is allowed"), "{message}");
    } else {
        assert!(message.contains("the allowed actions are: "), "{message}");
    }
}

fn check_kebab(name: &str) {
    assert!(
        !name.is_empty()
            && name.chars().all(|c| c.is_ascii_lowercase() || c == '-')
            && !name.starts_with('-')
            && !name.ends_with('-'),
        "`{name}` is not kebab-case"
    );
}

mod order {
    use super::*;

    machine_tests! {
        use order::{OrderStatus, OrderAction, ORDER_TRANSITIONS};
        allowed {
        created_start: Created + Start => Running,
        created_cancel: Created + Cancel => Cancelled,
        running_await_input: Running + AwaitInput => AwaitingInput,
        running_complete: Running + Complete => Completed,
        running_fail: Running + Fail => Failed,
        running_cancel: Running + Cancel => Cancelled,
        running_resume_after_crash: Running + ResumeAfterCrash => Running,
        awaiting_input_input_received: AwaitingInput + InputReceived => Running,
        awaiting_input_fail: AwaitingInput + Fail => Failed,
        awaiting_input_cancel: AwaitingInput + Cancel => Cancelled,
        failed_retry: Failed + Retry => Running,
        cancelled_retry: Cancelled + Retry => Running,
        completed_enter_followup: Completed + EnterFollowup => Followup,
        followup_run_followup: Followup + RunFollowup => FollowupRunning,
        followup_finish_followup: Followup + FinishFollowup => Completed,
        followup_running_complete: FollowupRunning + Complete => Followup,
        followup_running_fail: FollowupRunning + Fail => Followup,
        followup_running_cancel: FollowupRunning + Cancel => Followup,
        followup_running_resume_after_crash: FollowupRunning + ResumeAfterCrash => FollowupRunning,
        followup_running_await_input: FollowupRunning + AwaitInput => FollowupAwaitingInput,
        followup_awaiting_input_input_received: FollowupAwaitingInput + InputReceived => FollowupRunning,
        followup_awaiting_input_fail: FollowupAwaitingInput + Fail => Followup,
        followup_awaiting_input_cancel: FollowupAwaitingInput + Cancel => Followup,
        followup_awaiting_input_finish_followup: FollowupAwaitingInput + FinishFollowup => Completed,
        }
        forbidden {
        created_await_input: Created + AwaitInput,
        created_input_received: Created + InputReceived,
        created_complete: Created + Complete,
        created_fail: Created + Fail,
        created_retry: Created + Retry,
        created_enter_followup: Created + EnterFollowup,
        created_run_followup: Created + RunFollowup,
        created_finish_followup: Created + FinishFollowup,
        created_resume_after_crash: Created + ResumeAfterCrash,
        running_start: Running + Start,
        running_input_received: Running + InputReceived,
        running_retry: Running + Retry,
        running_enter_followup: Running + EnterFollowup,
        running_run_followup: Running + RunFollowup,
        running_finish_followup: Running + FinishFollowup,
        awaiting_input_start: AwaitingInput + Start,
        awaiting_input_await_input: AwaitingInput + AwaitInput,
        awaiting_input_complete: AwaitingInput + Complete,
        awaiting_input_retry: AwaitingInput + Retry,
        awaiting_input_enter_followup: AwaitingInput + EnterFollowup,
        awaiting_input_run_followup: AwaitingInput + RunFollowup,
        awaiting_input_finish_followup: AwaitingInput + FinishFollowup,
        awaiting_input_resume_after_crash: AwaitingInput + ResumeAfterCrash,
        completed_start: Completed + Start,
        completed_await_input: Completed + AwaitInput,
        completed_input_received: Completed + InputReceived,
        completed_complete: Completed + Complete,
        completed_fail: Completed + Fail,
        completed_cancel: Completed + Cancel,
        completed_retry: Completed + Retry,
        completed_run_followup: Completed + RunFollowup,
        completed_finish_followup: Completed + FinishFollowup,
        completed_resume_after_crash: Completed + ResumeAfterCrash,
        failed_start: Failed + Start,
        failed_await_input: Failed + AwaitInput,
        failed_input_received: Failed + InputReceived,
        failed_complete: Failed + Complete,
        failed_fail: Failed + Fail,
        failed_cancel: Failed + Cancel,
        failed_enter_followup: Failed + EnterFollowup,
        failed_run_followup: Failed + RunFollowup,
        failed_finish_followup: Failed + FinishFollowup,
        failed_resume_after_crash: Failed + ResumeAfterCrash,
        cancelled_start: Cancelled + Start,
        cancelled_await_input: Cancelled + AwaitInput,
        cancelled_input_received: Cancelled + InputReceived,
        cancelled_complete: Cancelled + Complete,
        cancelled_fail: Cancelled + Fail,
        cancelled_cancel: Cancelled + Cancel,
        cancelled_enter_followup: Cancelled + EnterFollowup,
        cancelled_run_followup: Cancelled + RunFollowup,
        cancelled_finish_followup: Cancelled + FinishFollowup,
        cancelled_resume_after_crash: Cancelled + ResumeAfterCrash,
        followup_start: Followup + Start,
        followup_await_input: Followup + AwaitInput,
        followup_input_received: Followup + InputReceived,
        followup_complete: Followup + Complete,
        followup_fail: Followup + Fail,
        followup_cancel: Followup + Cancel,
        followup_retry: Followup + Retry,
        followup_enter_followup: Followup + EnterFollowup,
        followup_resume_after_crash: Followup + ResumeAfterCrash,
        followup_running_start: FollowupRunning + Start,
        followup_running_input_received: FollowupRunning + InputReceived,
        followup_running_retry: FollowupRunning + Retry,
        followup_running_enter_followup: FollowupRunning + EnterFollowup,
        followup_running_run_followup: FollowupRunning + RunFollowup,
        followup_running_finish_followup: FollowupRunning + FinishFollowup,
        followup_awaiting_input_start: FollowupAwaitingInput + Start,
        followup_awaiting_input_await_input: FollowupAwaitingInput + AwaitInput,
        followup_awaiting_input_complete: FollowupAwaitingInput + Complete,
        followup_awaiting_input_retry: FollowupAwaitingInput + Retry,
        followup_awaiting_input_enter_followup: FollowupAwaitingInput + EnterFollowup,
        followup_awaiting_input_run_followup: FollowupAwaitingInput + RunFollowup,
        followup_awaiting_input_resume_after_crash: FollowupAwaitingInput + ResumeAfterCrash,
        }
    }

    /// Temporal style: lifecycles as users live them must, together, take every row.
    #[test]
    fn lifecycles_exercise_every_row() {
        use OrderAction::*;
        use OrderStatus::*;
        let mut taken = BTreeSet::new();
        let scenarios: &[(&str, &[OrderAction], OrderStatus)] = &[
            ("happy path", &[Start, Complete], Completed),
            (
                "question answered",
                &[Start, AwaitInput, InputReceived, Complete],
                Completed,
            ),
            (
                "failure, then retry",
                &[Start, Fail, Retry, Complete],
                Completed,
            ),
            (
                "cancelled before start, then retried",
                &[Cancel, Retry, Complete],
                Completed,
            ),
            ("cancelled while running", &[Start, Cancel], Cancelled),
            (
                "cancelled while waiting",
                &[Start, AwaitInput, Cancel],
                Cancelled,
            ),
            (
                "session lost while waiting",
                &[Start, AwaitInput, Fail],
                Failed,
            ),
            (
                "codecafe crashed mid-stage",
                &[Start, ResumeAfterCrash, Complete],
                Completed,
            ),
            (
                "follow-ups",
                &[
                    Start,
                    Complete,
                    EnterFollowup,
                    RunFollowup,
                    Complete,
                    RunFollowup,
                    Fail,
                    RunFollowup,
                    Cancel,
                    RunFollowup,
                    ResumeAfterCrash,
                    Complete,
                    FinishFollowup,
                ],
                Completed,
            ),
            (
                "a follow-up asks, is answered, asks again, fails, is cancelled, is finished",
                &[
                    Start,
                    Complete,
                    EnterFollowup,
                    RunFollowup,
                    AwaitInput,
                    InputReceived,
                    AwaitInput,
                    Fail,
                    RunFollowup,
                    AwaitInput,
                    Cancel,
                    RunFollowup,
                    AwaitInput,
                    FinishFollowup,
                ],
                Completed,
            ),
        ];
        for (name, actions, end) in scenarios {
            assert_eq!(walk(Created, actions, &mut taken), *end, "{name}");
        }
        let table: BTreeSet<_> = ORDER_TRANSITIONS.iter().copied().collect();
        let missed: Vec<_> = table.difference(&taken).collect();
        assert!(missed.is_empty(), "rows no lifecycle takes: {missed:?}");
    }

    #[test]
    fn status_groups() {
        use OrderStatus::*;
        let active: Vec<_> = OrderStatus::ALL.iter().filter(|s| s.is_active()).collect();
        assert_eq!(active, [&Running, &FollowupRunning]);
        let terminal: Vec<_> = OrderStatus::ALL
            .iter()
            .filter(|s| s.is_terminal())
            .collect();
        assert_eq!(terminal, [&Completed, &Failed, &Cancelled]);
        let waiting: Vec<_> = OrderStatus::ALL.iter().filter(|s| s.is_waiting()).collect();
        assert_eq!(waiting, [&AwaitingInput, &Followup, &FollowupAwaitingInput]);
        let answerable: Vec<_> = OrderStatus::ALL
            .iter()
            .filter(|s| s.awaits_input())
            .collect();
        assert_eq!(answerable, [&AwaitingInput, &FollowupAwaitingInput]);
        let followup: Vec<_> = OrderStatus::ALL
            .iter()
            .filter(|s| s.in_followup())
            .collect();
        assert_eq!(
            followup,
            [&Followup, &FollowupRunning, &FollowupAwaitingInput]
        );
    }

    #[test]
    fn the_message_reads_well() {
        let err = transition(OrderStatus::Running, OrderAction::Start).expect_err("illegal");
        assert_eq!(
            err.to_string(),
            "cannot `start` an order that is running; from running the allowed actions are: \
             await-input, complete, fail, cancel, resume-after-crash"
        );
    }
}

mod stage {
    use super::*;

    machine_tests! {
        use stage::{StageStatus, StageAction, STAGE_TRANSITIONS};
        allowed {
        pending_start: Pending + Start => Running,
        pending_skip: Pending + Skip => Skipped,
        pending_cancel: Pending + Cancel => Cancelled,
        running_await_input: Running + AwaitInput => AwaitingInput,
        running_complete: Running + Complete => Completed,
        running_fail: Running + Fail => Failed,
        running_cancel: Running + Cancel => Cancelled,
        running_resume_after_crash: Running + ResumeAfterCrash => Running,
        awaiting_input_input_received: AwaitingInput + InputReceived => Running,
        awaiting_input_fail: AwaitingInput + Fail => Failed,
        awaiting_input_cancel: AwaitingInput + Cancel => Cancelled,
        failed_retry: Failed + Retry => Pending,
        cancelled_retry: Cancelled + Retry => Pending,
        completed_rerun: Completed + Rerun => Pending,
        skipped_rerun: Skipped + Rerun => Pending,
        }
        forbidden {
        pending_await_input: Pending + AwaitInput,
        pending_input_received: Pending + InputReceived,
        pending_complete: Pending + Complete,
        pending_fail: Pending + Fail,
        pending_retry: Pending + Retry,
        pending_rerun: Pending + Rerun,
        pending_resume_after_crash: Pending + ResumeAfterCrash,
        running_start: Running + Start,
        running_input_received: Running + InputReceived,
        running_skip: Running + Skip,
        running_retry: Running + Retry,
        running_rerun: Running + Rerun,
        awaiting_input_start: AwaitingInput + Start,
        awaiting_input_await_input: AwaitingInput + AwaitInput,
        awaiting_input_complete: AwaitingInput + Complete,
        awaiting_input_skip: AwaitingInput + Skip,
        awaiting_input_retry: AwaitingInput + Retry,
        awaiting_input_rerun: AwaitingInput + Rerun,
        awaiting_input_resume_after_crash: AwaitingInput + ResumeAfterCrash,
        completed_start: Completed + Start,
        completed_await_input: Completed + AwaitInput,
        completed_input_received: Completed + InputReceived,
        completed_complete: Completed + Complete,
        completed_fail: Completed + Fail,
        completed_skip: Completed + Skip,
        completed_cancel: Completed + Cancel,
        completed_retry: Completed + Retry,
        completed_resume_after_crash: Completed + ResumeAfterCrash,
        failed_start: Failed + Start,
        failed_await_input: Failed + AwaitInput,
        failed_input_received: Failed + InputReceived,
        failed_complete: Failed + Complete,
        failed_fail: Failed + Fail,
        failed_skip: Failed + Skip,
        failed_cancel: Failed + Cancel,
        failed_rerun: Failed + Rerun,
        failed_resume_after_crash: Failed + ResumeAfterCrash,
        skipped_start: Skipped + Start,
        skipped_await_input: Skipped + AwaitInput,
        skipped_input_received: Skipped + InputReceived,
        skipped_complete: Skipped + Complete,
        skipped_fail: Skipped + Fail,
        skipped_skip: Skipped + Skip,
        skipped_cancel: Skipped + Cancel,
        skipped_retry: Skipped + Retry,
        skipped_resume_after_crash: Skipped + ResumeAfterCrash,
        cancelled_start: Cancelled + Start,
        cancelled_await_input: Cancelled + AwaitInput,
        cancelled_input_received: Cancelled + InputReceived,
        cancelled_complete: Cancelled + Complete,
        cancelled_fail: Cancelled + Fail,
        cancelled_skip: Cancelled + Skip,
        cancelled_cancel: Cancelled + Cancel,
        cancelled_rerun: Cancelled + Rerun,
        cancelled_resume_after_crash: Cancelled + ResumeAfterCrash,
        }
    }

    /// Temporal style: lifecycles as the engine drives them must, together, take every row.
    #[test]
    fn lifecycles_exercise_every_row() {
        use StageAction::*;
        use StageStatus::*;
        let mut taken = BTreeSet::new();
        let scenarios: &[(&str, &[StageAction], StageStatus)] = &[
            ("runs and completes", &[Start, Complete], Completed),
            (
                "asks, is answered",
                &[Start, AwaitInput, InputReceived, Complete],
                Completed,
            ),
            (
                "fails, retried, completes",
                &[Start, Fail, Retry, Start, Complete],
                Completed,
            ),
            (
                "skipped, then rerun",
                &[Skip, Rerun, Start, Complete],
                Completed,
            ),
            (
                "completed, rerun from here",
                &[Start, Complete, Rerun],
                Pending,
            ),
            ("cancelled before start, retried", &[Cancel, Retry], Pending),
            ("cancelled while running", &[Start, Cancel], Cancelled),
            (
                "cancelled while waiting",
                &[Start, AwaitInput, Cancel],
                Cancelled,
            ),
            (
                "session lost while waiting",
                &[Start, AwaitInput, Fail],
                Failed,
            ),
            (
                "codecafe crashed mid-stage",
                &[Start, ResumeAfterCrash, Complete],
                Completed,
            ),
        ];
        for (name, actions, end) in scenarios {
            assert_eq!(walk(Pending, actions, &mut taken), *end, "{name}");
        }
        let table: BTreeSet<_> = STAGE_TRANSITIONS.iter().copied().collect();
        let missed: Vec<_> = table.difference(&taken).collect();
        assert!(missed.is_empty(), "rows no lifecycle takes: {missed:?}");
    }

    #[test]
    fn finished_statuses() {
        use StageStatus::*;
        let finished: Vec<_> = StageStatus::ALL
            .iter()
            .filter(|s| s.is_finished())
            .collect();
        assert_eq!(finished, [&Completed, &Failed, &Skipped, &Cancelled]);
    }
}
