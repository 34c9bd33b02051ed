//! The parsers against REAL streams: recordings of Claude Code 2.1.330, Codex 0.169.0 and
//! Gemini CLI 0.61.0, captured by the conformance suite against a loopback mock model server
//! (`testdata/real/README.md` has the argv and the mock's behaviour). Each case is the CLI's
//! stdout, stderr and exit code, replayed through the module's parser; the verdicts below are
//! what orx must conclude from them.

use super::claude::ClaudeParser;
use super::codex::CodexParser;
use super::gemini::GeminiParser;
use super::testutil::{exited_with_stderr, play};
use super::{AgentEvent, AgentOutcome, FailureKind, StreamParser, Usage};

macro_rules! case {
    ($cli:literal, $name:literal) => {
        (
            include_str!(concat!("testdata/real/", $cli, "/", $name, ".jsonl")),
            include_str!(concat!("testdata/real/", $cli, "/", $name, ".stderr")),
            include_str!(concat!("testdata/real/", $cli, "/", $name, ".exit")),
        )
    };
}

fn replay(
    parser: &mut dyn StreamParser,
    (stdout, stderr, exit): (&str, &str, &str),
) -> (Vec<AgentEvent>, AgentOutcome) {
    let code: i32 = exit
        .trim()
        .trim_start_matches("exit=")
        .parse()
        .expect("exit file holds exit=<code>");
    play(parser, stdout, exited_with_stderr(code, stderr))
}

fn file_changed(events: &[AgentEvent], suffix: &str) -> bool {
    events
        .iter()
        .any(|e| matches!(e, AgentEvent::FileChange { path, .. } if path.ends_with(suffix)))
}

#[test]
fn claude_real_streams() {
    let (events, o) = replay(&mut ClaudeParser::default(), case!("claude", "tool_call"));
    assert!(o.succeeded(), "{o:?}");
    assert_eq!(o.final_text, "Done: wrote hello.txt.");
    assert_eq!((o.usage.input_tokens, o.usage.output_tokens), (200, 40));
    assert!((o.usage.cost_usd - 0.0012).abs() < 1e-9 && !o.usage.cost_estimated);
    assert_eq!(
        o.session_id.as_deref(),
        Some("b1654383-4993-4cda-8623-a46ca07742cd")
    );
    assert!(file_changed(&events, "hello.txt"), "{events:?}");

    let (_, o) = replay(&mut ClaudeParser::default(), case!("claude", "success"));
    assert!(o.succeeded(), "{o:?}");

    for (name, rec, want) in [
        ("401", case!("claude", "401"), FailureKind::AuthFailed),
        ("429", case!("claude", "429"), FailureKind::RateLimited),
        ("500", case!("claude", "500"), FailureKind::ApiError),
        (
            "500_retried",
            case!("claude", "500_retried"),
            FailureKind::ApiError,
        ),
        (
            "stall_killed",
            case!("claude", "stall_killed"),
            FailureKind::NoResult,
        ),
    ] {
        let (_, o) = replay(&mut ClaudeParser::default(), rec);
        assert_eq!(o.failure, Some(want), "claude {name}: {o:?}");
    }
}

#[test]
fn claude_resumed_cost_is_charged_once() {
    let first = include_str!("testdata/real/claude/resume_first.jsonl");
    let (_, o1) = play(
        &mut ClaudeParser::default(),
        first,
        exited_with_stderr(0, ""),
    );
    assert!(o1.succeeded(), "{o1:?}");
    let total1 = o1.cumulative_usage.clone().unwrap().cost_usd;
    let cli = super::claude::ClaudeCli::new(super::CliSettings::default());
    let mut req = super::testutil::request(super::Mode::Apply);
    req.usage_baseline = o1.cumulative_usage.clone();
    let mut p = super::AgentCli::parser_for(&cli, &req);
    let (_, o2) = replay(p.as_mut(), case!("claude", "resume_second"));
    assert!(o2.succeeded(), "{o2:?}");
    assert_eq!(o2.session_id, o1.session_id, "resume keeps the session");
    // The CLI reports 0.0018 for the session so far; this call cost only the difference.
    assert!(
        (o2.usage.cost_usd - (0.0018 - total1)).abs() < 1e-9,
        "{o2:?}"
    );
    assert_eq!((o2.usage.input_tokens, o2.usage.output_tokens), (100, 20));
}

#[test]
fn codex_real_streams() {
    let (events, o) = replay(&mut CodexParser::default(), case!("codex", "tool_call"));
    assert!(o.succeeded(), "{o:?}");
    assert_eq!(o.final_text, "Done: wrote hello.txt.");
    assert!(events.iter().any(|e| matches!(
        e,
        AgentEvent::CommandRun {
            exit_code: Some(0),
            ..
        }
    )));
    assert_eq!(
        o.usage,
        Usage {
            input_tokens: 180,
            cache_read_tokens: 20,
            output_tokens: 40,
            ..Usage::default()
        }
    );
    let (events, o) = replay(
        &mut CodexParser::default(),
        case!("codex", "tool_call_apply_patch"),
    );
    assert!(
        o.succeeded() && file_changed(&events, "hello.txt"),
        "{events:?}"
    );
    let (_, o) = replay(&mut CodexParser::default(), case!("codex", "success"));
    assert!(o.succeeded(), "{o:?}");

    for (name, rec, want) in [
        ("401", case!("codex", "401"), FailureKind::AuthFailed),
        ("429", case!("codex", "429"), FailureKind::RateLimited),
        (
            "429_usage_limit",
            case!("codex", "429_usage_limit"),
            FailureKind::RateLimited,
        ),
        ("500", case!("codex", "500"), FailureKind::ApiError),
        (
            "stall_killed",
            case!("codex", "stall_killed"),
            FailureKind::NoResult,
        ),
    ] {
        let (_, o) = replay(&mut CodexParser::default(), rec);
        assert_eq!(o.failure, Some(want), "codex {name}: {o:?}");
    }
}

#[test]
fn codex_resumed_thread_usage_is_a_delta() {
    let first = include_str!("testdata/real/codex/resume_first.jsonl");
    let (_, o1) = play(
        &mut CodexParser::default(),
        first,
        exited_with_stderr(0, ""),
    );
    let cli = super::codex::CodexCli {
        settings: super::CliSettings::default(),
    };
    let mut req = super::testutil::request(super::Mode::Apply);
    req.usage_baseline = o1.cumulative_usage.clone();
    let mut p = super::AgentCli::parser_for(&cli, &req);
    let (_, o2) = replay(p.as_mut(), case!("codex", "resume_second"));
    assert!(o2.succeeded(), "{o2:?}");
    assert_eq!(o2.session_id, o1.session_id);
    // Cumulative 300/30/60 after 200/20/40: this call is 90 fresh + 10 cached in, 20 out.
    assert_eq!(
        (
            o2.usage.input_tokens,
            o2.usage.cache_read_tokens,
            o2.usage.output_tokens
        ),
        (90, 10, 20)
    );
}

#[test]
fn gemini_real_streams() {
    let (events, o) = replay(&mut GeminiParser::default(), case!("gemini", "tool_call"));
    assert!(o.succeeded(), "{o:?}");
    assert_eq!(o.final_text, "Done: wrote hello.txt.");
    assert_eq!((o.usage.input_tokens, o.usage.output_tokens), (200, 40));
    assert!(file_changed(&events, "hello.txt"), "{events:?}");
    for (name, rec) in [
        ("success", case!("gemini", "success")),
        ("resume_second", case!("gemini", "resume_second")),
    ] {
        let (_, o) = replay(&mut GeminiParser::default(), rec);
        assert!(o.succeeded(), "gemini {name}: {o:?}");
    }
    for (name, rec, want) in [
        ("401", case!("gemini", "401"), FailureKind::AuthFailed),
        ("429", case!("gemini", "429"), FailureKind::RateLimited),
        ("500", case!("gemini", "500"), FailureKind::ApiError),
        (
            "stall_killed",
            case!("gemini", "stall_killed"),
            FailureKind::NoResult,
        ),
    ] {
        let (_, o) = replay(&mut GeminiParser::default(), rec);
        assert_eq!(o.failure, Some(want), "gemini {name}: {o:?}");
        assert!(
            o.message.as_deref().unwrap_or("").contains("gemini"),
            "{o:?}"
        );
    }
}
