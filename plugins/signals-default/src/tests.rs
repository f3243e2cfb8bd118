//! Unit tests of the default signal parser.

use super::*;

fn context(following: &[&str]) -> StageContext {
    StageContext {
        stage_id: "plan".to_owned(),
        following_stages: following.iter().map(|s| (*s).to_owned()).collect(),
        attempt: 1,
    }
}

fn parse(text: &str) -> Result<StageSignals, SignalError> {
    DefaultSignals.parse(text, &context(&["code", "review"]))
}

fn parse_ok(text: &str) -> StageSignals {
    match parse(text) {
        Ok(signals) => signals,
        Err(err) => panic!("expected signals, got {err:?} for:\n{text}"),
    }
}

/// The line and message of a malformed error, failing the test on anything else.
fn malformed(text: &str) -> (u32, String) {
    match parse(text) {
        Err(SignalError::Malformed { line, message }) => (line, message),
        other => panic!("expected a malformed error, got {other:?} for:\n{text}"),
    }
}

fn invalid(text: &str) -> String {
    match parse(text) {
        Err(SignalError::Invalid { message }) => message,
        other => panic!("expected an invalid error, got {other:?} for:\n{text}"),
    }
}

fn block(body: &str) -> String {
    format!("Done.\n\n```yaml\nsignals:\n{body}```\n")
}

fn explicit(action: NextAction) -> StageSignals {
    StageSignals {
        action,
        complexity: None,
        uncertainties: Vec::new(),
        explicit: true,
    }
}

#[test]
fn info_names_the_parser() {
    let info = DefaultSignals.info();
    assert_eq!(info.id, "signals-default");
    assert_eq!(info.version, env!("CARGO_PKG_VERSION"));
}

#[test]
fn the_seed_example_reads_fully() {
    let text = "I looked at the schema.\n\n```yaml\nsignals:\n  nextAction: await_user        # proceed | await_user | skip_next | retry\n  needsUserInput: true\n  questions: [\"Which database?\", \"Keep the v1 API?\"]\n  complexity: medium            # low | medium | high\n  uncertainties: [\"No tests cover auth\"]\n```\n";
    assert_eq!(
        parse_ok(text),
        StageSignals {
            action: NextAction::AwaitUser(vec![
                "Which database?".to_owned(),
                "Keep the v1 API?".to_owned()
            ]),
            complexity: Some(Complexity::Medium),
            uncertainties: vec!["No tests cover auth".to_owned()],
            explicit: true,
        }
    );
}

#[test]
fn no_block_means_implicit_proceed() {
    for text in [
        "",
        "All done.",
        "```rust\nfn main() {}\n```\n",
        "```yaml\nname: x\n```\n",
        "signals:\n  nextAction: retry\n",
    ] {
        assert_eq!(parse_ok(text), StageSignals::proceed(), "{text:?}");
    }
}

#[test]
fn a_heuristic_never_overrides_an_explicit_signal() {
    // Many questions and a short text: the original's heuristics would have asked the user.
    let mut text = String::from("Why? How? What about the cache? Should I? Really?\n");
    text.push_str(&"Is this right? ".repeat(200));
    text.push_str("\n```yaml\nsignals:\n  nextAction: proceed\n```\n");
    assert_eq!(parse_ok(&text), explicit(NextAction::Proceed));
    // And without a block the same text still just proceeds, implicitly.
    let bare = text.split("```").next().unwrap_or_default();
    assert_eq!(parse_ok(bare), StageSignals::proceed());
    // A tiny text with a question mark does not make up a question either.
    assert_eq!(parse_ok("?"), StageSignals::proceed());
}

#[test]
fn fence_forms_are_accepted() {
    for fence in [
        "```yaml",
        "```yml",
        "```",
        "```YAML",
        "````yaml",
        "~~~yaml",
        "```yaml title=x",
    ] {
        let close = if fence.starts_with('~') {
            "~~~"
        } else if fence.starts_with("````") {
            "````"
        } else {
            "```"
        };
        let text = format!("ok\n{fence}\nsignals:\n  nextAction: retry\n{close}\n");
        assert_eq!(
            parse_ok(&text),
            explicit(NextAction::Retry(GENERIC_RETRY_REASON.to_owned())),
            "{fence}"
        );
    }
}

#[test]
fn blocks_in_other_languages_are_text() {
    let text = "Example for the docs:\n```markdown\nsignals:\n  nextAction: retry\n```\nEnd.";
    assert_eq!(parse_ok(text), StageSignals::proceed());
    let text = "```json\n{\"signals\": 1}\n```\n```yaml\nsignals:\n  nextAction: skip_next\n```";
    assert_eq!(
        parse_ok(text),
        explicit(NextAction::Skip(vec!["code".to_owned()]))
    );
}

#[test]
fn the_last_block_wins() {
    let text = "First I thought:\n```yaml\nsignals:\n  nextAction: retry\n  retryReason: flaky\n```\nBut then:\n```yaml\nsignals:\n  nextAction: proceed\n```\n";
    assert_eq!(parse_ok(text), explicit(NextAction::Proceed));
    // A broken earlier block does not matter once a later one is fine.
    let text = "```yaml\nsignals:\n  nextAction: maybe\n```\n```yaml\nsignals:\n  nextAction: proceed\n```";
    assert_eq!(parse_ok(text), explicit(NextAction::Proceed));
    // A later block without `signals:` does not hide the signal block.
    let text = "```yaml\nsignals:\n  nextAction: skip_next\n```\n```yaml\nconfig: 1\n```";
    assert_eq!(
        parse_ok(text),
        explicit(NextAction::Skip(vec!["code".to_owned()]))
    );
}

#[test]
fn a_block_in_the_middle_of_the_text_counts() {
    let text = "Summary first.\n\n```yaml\nsignals:\n  nextAction: await_user\n  questions: Which region?\n```\n\nThen a long explanation follows,\nwith more prose after the block.\n";
    assert_eq!(
        parse_ok(text),
        explicit(NextAction::AwaitUser(vec!["Which region?".to_owned()]))
    );
}

#[test]
fn crlf_text_reads_the_same_and_counts_lines_the_same() {
    let lf = "Intro\n\n```yaml\nsignals:\n  nextAction: retry\n  retryReason: tests failed\n```\n";
    let crlf = lf.replace('\n', "\r\n");
    assert_eq!(parse_ok(&crlf), parse_ok(lf));
    assert_eq!(
        parse_ok(&crlf),
        explicit(NextAction::Retry("tests failed".to_owned()))
    );
    let bad = "Intro\r\n\r\n```yaml\r\nsignals:\r\n  complexity: huge\r\n```\r\n";
    assert_eq!(malformed(bad).0, 5);
}

#[test]
fn a_realistic_long_final_text() {
    let mut text = String::new();
    text.push_str("## Analysis\n\nThe request asks for rate limiting on the public API.\n\n");
    for i in 0..300 {
        text.push_str(&format!(
            "- `src/api/handler_{i}.rs`: calls `limiter.check()`? Not yet; needs a token bucket.\n"
        ));
    }
    text.push_str("\n```rust\nlet limiter = RateLimiter::new(100);\n```\n\n");
    text.push_str("```\n$ cargo test\ntest result: ok. 12 passed\n```\n\n");
    text.push_str("## Signals\n\n```yaml\n# what I need from you\nsignals:\n  next_action: await_user\n  needs_user_input: true\n  questions:\n    - Should limits be per user or per IP?\n    - \"Is 100 requests per minute right?\"\n  complexity: HIGH\n  uncertainties: No load tests exist\n```\n");
    let signals = parse_ok(&text);
    assert_eq!(
        signals.action,
        NextAction::AwaitUser(vec![
            "Should limits be per user or per IP?".to_owned(),
            "Is 100 requests per minute right?".to_owned()
        ])
    );
    assert_eq!(signals.complexity, Some(Complexity::High));
    assert_eq!(signals.uncertainties, ["No load tests exist"]);
    assert!(signals.explicit);
}

#[test]
fn needs_user_input_alone_means_await_user_with_a_generic_question() {
    let signals = parse_ok(&block("  needsUserInput: true\n"));
    assert_eq!(
        signals.action,
        NextAction::AwaitUser(vec![GENERIC_QUESTION.to_owned()])
    );
    let signals = parse_ok(&block("  nextAction: await_user\n  questions: []\n"));
    assert_eq!(
        signals.action,
        NextAction::AwaitUser(vec![GENERIC_QUESTION.to_owned()])
    );
    // Questions alone also ask.
    let signals = parse_ok(&block("  questions: [\"A?\", \"\", B]\n"));
    assert_eq!(
        signals.action,
        NextAction::AwaitUser(vec!["A?".to_owned(), "B".to_owned()])
    );
}

#[test]
fn empty_signals_is_an_explicit_proceed() {
    assert_eq!(
        parse_ok("```yaml\nsignals:\n```"),
        explicit(NextAction::Proceed)
    );
    assert_eq!(
        parse_ok("```yaml\nsignals: {}\n```"),
        explicit(NextAction::Proceed)
    );
    assert_eq!(
        parse_ok(&block("  needsUserInput: false\n  complexity: low\n")),
        StageSignals {
            complexity: Some(Complexity::Low),
            ..explicit(NextAction::Proceed)
        }
    );
}

#[test]
fn skip_next_skips_the_next_stage_or_the_named_ones() {
    assert_eq!(
        parse_ok(&block("  nextAction: skip_next\n")).action,
        NextAction::Skip(vec!["code".to_owned()])
    );
    assert_eq!(
        parse_ok(&block(
            "  nextAction: skip_next\n  skipStages: [review, review]\n"
        ))
        .action,
        NextAction::Skip(vec!["review".to_owned()])
    );
    assert_eq!(
        parse_ok(&block("  skip_stages: review\n")).action,
        NextAction::Skip(vec!["review".to_owned()])
    );
    let last = DefaultSignals
        .parse(&block("  nextAction: skip_next\n"), &context(&[]))
        .expect("parses");
    assert_eq!(last, explicit(NextAction::Proceed));
}

#[test]
fn skipping_a_stage_that_does_not_follow_is_invalid() {
    let message = invalid(&block("  nextAction: skip_next\n  skipStages: [deploy]\n"));
    assert!(message.contains("`deploy`"), "{message}");
    assert!(message.contains("`code`, `review`"), "{message}");
    let none = DefaultSignals.parse(
        &block("  nextAction: skip_next\n  skipStages: [review]\n"),
        &context(&[]),
    );
    match none {
        Err(SignalError::Invalid { message }) => {
            assert!(message.contains("no stage follows"), "{message}");
        }
        other => panic!("expected invalid, got {other:?}"),
    }
}

#[test]
fn retry_takes_its_reason() {
    assert_eq!(
        parse_ok(&block(
            "  nextAction: retry\n  retryReason: \"tests failed\"\n"
        ))
        .action,
        NextAction::Retry("tests failed".to_owned())
    );
    assert_eq!(
        parse_ok(&block("  retry_reason: flaky network\n")).action,
        NextAction::Retry("flaky network".to_owned())
    );
}

#[test]
fn action_values_ignore_case_dashes_and_underscores() {
    for value in ["await_user", "await-user", "awaitUser", "AWAIT_USER"] {
        assert_eq!(
            parse_ok(&block(&format!("  nextAction: {value}\n"))).action,
            NextAction::AwaitUser(vec![GENERIC_QUESTION.to_owned()]),
            "{value}"
        );
    }
}

#[test]
fn contradictions_are_invalid() {
    let cases = [
        (
            "  nextAction: proceed\n  needsUserInput: true\n",
            "needsUserInput",
        ),
        (
            "  nextAction: await_user\n  needsUserInput: false\n",
            "needsUserInput",
        ),
        ("  nextAction: proceed\n  questions: [Why?]\n", "questions"),
        ("  nextAction: retry\n  skipStages: [code]\n", "skipStages"),
        ("  nextAction: proceed\n  retryReason: x\n", "retryReason"),
        (
            "  needsUserInput: false\n  questions: [Why?]\n",
            "needsUserInput",
        ),
        ("  skipStages: [code]\n  retryReason: x\n", "nextAction"),
    ];
    for (body, needle) in cases {
        let message = invalid(&block(body));
        assert!(message.contains(needle), "{body}: {message}");
    }
}

#[test]
fn unknown_keys_are_malformed_with_their_line() {
    let text =
        "line 1\nline 2\n```yaml\nsignals:\n  nextAction: proceed\n  nextActoin: retry\n```\n";
    let (line, message) = malformed(text);
    assert_eq!(line, 6);
    assert!(message.contains("`nextActoin`"), "{message}");
    assert!(message.contains("`nextAction`"), "{message}");
}

#[test]
fn bad_enum_values_name_the_line_and_the_accepted_values() {
    let text = "a\nb\nc\n```yaml\nsignals:\n  complexity: medium\n  nextAction: maybe_later\n```\n";
    let (line, message) = malformed(text);
    assert_eq!(line, 7);
    assert!(message.contains("maybe_later"), "{message}");
    assert!(
        message.contains("proceed, await_user, skip_next, retry"),
        "{message}"
    );

    let (line, message) = malformed("```yaml\nsignals:\n  complexity: huge\n```");
    assert_eq!(line, 3);
    assert!(message.contains("low, medium, high"), "{message}");

    let (line, message) = malformed("```yaml\nsignals:\n  nextAction: 3\n```");
    assert_eq!(line, 3);
    assert!(message.contains("the number `3`"), "{message}");
}

#[test]
fn flow_style_errors_point_at_the_mentioning_line() {
    let text = "x\n```yaml\nsignals: {nextAction: nope}\n```";
    assert_eq!(malformed(text).0, 3);
    let text = "x\n```yaml\nsignals: {nextAction: retry,\n  colour: blue}\n```";
    assert_eq!(malformed(text).0, 4);
}

#[test]
fn bad_types_are_malformed() {
    let cases = [
        ("  needsUserInput: yes please\n", 5, "true or false"),
        ("  questions: {a: 1}\n", 5, "list of strings"),
        ("  uncertainties: [1, 2]\n", 5, "list of strings"),
        ("  retryReason: [a]\n", 5, "must be a string"),
    ];
    for (body, line, needle) in cases {
        let (got, message) = malformed(&block(body));
        assert_eq!(got, line, "{body}: {message}");
        assert!(message.contains(needle), "{body}: {message}");
    }
    let (line, message) = malformed("```yaml\nsignals: proceed\n```");
    assert_eq!(line, 2);
    assert!(message.contains("mapping"), "{message}");
}

#[test]
fn aliases_given_twice_are_malformed() {
    let (line, message) = malformed(&block("  nextAction: retry\n  next_action: retry\n"));
    assert_eq!(line, 6, "the line of the repeat");
    assert!(message.contains("repeats"), "{message}");
}

#[test]
fn yaml_syntax_errors_are_malformed_at_a_line_in_the_text() {
    let text = "one\ntwo\n```yaml\nsignals:\n  nextAction: proceed\n  questions: [unclosed\n```\n";
    let (line, message) = malformed(text);
    assert!((4..=7).contains(&line), "line {line}: {message}");
    assert!(message.contains("not valid YAML"), "{message}");
    // Positions in the message are lines of the whole text too.
    assert!(message.contains(" at line 6"), "{message}");
    assert!(!message.contains("column"), "{message}");
}

#[test]
fn an_unclosed_fence_with_signals_is_malformed_at_the_fence() {
    let text = "Result\n\n```yaml\nsignals:\n  nextAction: proceed\n";
    let (line, message) = malformed(text);
    assert_eq!(line, 3);
    assert!(message.contains("never closed"), "{message}");
    // An unclosed fence without signals is just text.
    assert_eq!(parse_ok("```yaml\nname: x\n"), StageSignals::proceed());
    // A fence that a shorter one cannot close stays open.
    let (line, _) = malformed("````yaml\nsignals:\n  nextAction: proceed\n```\n");
    assert_eq!(line, 1);
}

#[test]
fn indented_blocks_in_lists_are_dedented() {
    let text = "1. Done\n   ```yaml\n   signals:\n     nextAction: retry\n     retryReason: lint\n   ```\n";
    assert_eq!(parse_ok(text).action, NextAction::Retry("lint".to_owned()));
}

#[test]
fn signals_must_be_top_level_in_the_block() {
    let text = "```yaml\nreport:\n  signals:\n    nextAction: retry\n```";
    assert_eq!(parse_ok(text), StageSignals::proceed());
    let text = "```yaml\nsignalsX: 1\n```";
    assert_eq!(parse_ok(text), StageSignals::proceed());
    // Other top-level keys beside `signals:` are the stage's business.
    let text = "```yaml\nsummary: all good\nsignals:\n  nextAction: proceed\n```";
    assert_eq!(parse_ok(text), explicit(NextAction::Proceed));
    // Quoted keys are keys too.
    let text = "```yaml\n\"signals\":\n  \"nextAction\": retry\n```";
    assert_eq!(
        parse_ok(text).action,
        NextAction::Retry(GENERIC_RETRY_REASON.to_owned())
    );
}

#[test]
fn never_panics_on_odd_input() {
    let odd = [
        "```",
        "```\n",
        "```yaml\nsignals:",
        "```yaml\nsignals:\n```\n```",
        "\u{feff}```yaml\nsignals:\n```",
        "```yaml\nsignals:\n  nextAction: \"\\u00e9\"\n```",
        "```yaml\nsignals:\n  ? [a]\n  : b\n```",
        "```yaml\nsignals: !tag {a: 1}\n```",
        "```yaml\nsignals:\n  nextAction: *anchor\n```",
        "é\r\n```yml\r\nsignals:\r\n\tnextAction: retry\r\n```",
    ];
    for text in odd {
        let _ = parse(text);
    }
}
