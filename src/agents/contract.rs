//! The contract every executor of the registry keeps, as one table-driven test.
//!
//! Streams: each CLI's recordings live in `tests/recordings/<cli>/` (`<case>.jsonl` stdout,
//! `<case>.stderr`, `<case>.exit` holding the exit code or `killed`), made by the conformance
//! suite from the real, pinned CLI talking to the mock model server (Cursor's are written from
//! its documented schema). [`VERDICTS`] says what orx must conclude from each one; the test
//! replays every recording through the parser its registry row builds, fails on a recording
//! without a verdict (and on a verdict without a recording), and holds every CLI to the same
//! rules: a success has a session and the expected answer, a failure is the named kind and its
//! message names the CLI, and every tool call comes out normalised (its kind and its target, as
//! `orx logs` shows it) with one result. Commands: every external executor takes its prompt on stdin only,
//! runs in the request's directory, passes `extra_args` and the configured key. Hostile input:
//! no line sequence makes any parser panic.

use std::path::PathBuf;

use proptest::test_runner::TestRunner;

use super::registry::{Setup, EXECUTORS};
use super::testutil::{exited, play, play_hostile, request, STREAM_KEYS};
use super::{AgentEvent, AgentOutcome, CliSettings, FailureKind, Mode, StreamParser, ToolKind};
use crate::exec::{ExitInfo, Termination};
use crate::hostile_input::{config, stream_line};

/// What orx must conclude from one recording.
#[derive(Debug, Clone, Copy)]
struct Verdict {
    cli: &'static str,
    case: &'static str,
    /// `None`: the call succeeded.
    failure: Option<FailureKind>,
    /// The final text of a success.
    text: &'static str,
    /// A file whose change the stream must report.
    writes: Option<&'static str>,
    /// Input and output tokens of a success, when the CLI reports them.
    tokens: Option<(u64, u64)>,
    /// Every tool call the stream reports, in order, normalised: its kind and how its target
    /// ends (absolute paths differ between recordings).
    calls: &'static [(ToolKind, &'static str)],
}

const fn ok(cli: &'static str, case: &'static str, text: &'static str) -> Verdict {
    Verdict {
        cli,
        case,
        failure: None,
        text,
        writes: None,
        tokens: None,
        calls: &[],
    }
}

const fn fails(cli: &'static str, case: &'static str, kind: FailureKind) -> Verdict {
    Verdict {
        failure: Some(kind),
        ..ok(cli, case, "")
    }
}

impl Verdict {
    const fn writes(self, file: &'static str) -> Verdict {
        Verdict {
            writes: Some(file),
            ..self
        }
    }
    const fn calls(self, calls: &'static [(ToolKind, &'static str)]) -> Verdict {
        Verdict { calls, ..self }
    }
    const fn tokens(self, input: u64, output: u64) -> Verdict {
        Verdict {
            tokens: Some((input, output)),
            ..self
        }
    }
}

const DONE: &str = "Done: wrote hello.txt.";
const RESUMED: &str = "Resumed: nothing left to do.";

use FailureKind::{ApiError, AuthFailed, NoResult, RateLimited};

/// The one tool call of the `tool_call` recordings: hello.txt written.
const WRITE_HELLO: &[(ToolKind, &str)] = &[(ToolKind::Edit, "hello.txt")];
/// The same file written through a shell command.
const SHELL_HELLO: &[(ToolKind, &str)] = &[(ToolKind::Run, "> hello.txt")];

/// Every recording and what it must give.
const VERDICTS: &[Verdict] = &[
    ok("claude", "success", DONE),
    ok("claude", "tool_call", DONE)
        .writes("hello.txt")
        .calls(WRITE_HELLO),
    ok("claude", "resume", RESUMED),
    ok("claude", "resume_first", DONE)
        .writes("hello.txt")
        .calls(WRITE_HELLO),
    ok("claude", "resume_second", DONE),
    fails("claude", "401", AuthFailed),
    fails("claude", "429", RateLimited),
    fails("claude", "500", ApiError),
    fails("claude", "500_retried", ApiError),
    fails("claude", "stall_killed", NoResult),
    ok("codex", "success", DONE),
    ok("codex", "tool_call", DONE)
        .writes("hello.txt")
        .calls(WRITE_HELLO),
    ok("codex", "tool_call_apply_patch", DONE)
        .writes("hello.txt")
        .calls(WRITE_HELLO),
    ok("codex", "tool_call_exec_command", DONE).calls(SHELL_HELLO),
    ok("codex", "resume", RESUMED),
    ok("codex", "resume_first", DONE).calls(SHELL_HELLO),
    ok("codex", "resume_second", DONE),
    fails("codex", "401", AuthFailed),
    fails("codex", "429", RateLimited),
    fails("codex", "429_usage_limit", RateLimited),
    fails("codex", "429_rate_limit_exceeded", RateLimited),
    fails("codex", "500", ApiError),
    fails("codex", "stall_killed", NoResult),
    ok("gemini", "success", DONE),
    ok("gemini", "tool_call", DONE)
        .writes("hello.txt")
        .calls(WRITE_HELLO),
    ok("gemini", "resume", RESUMED),
    ok("gemini", "resume_first", DONE).calls(WRITE_HELLO),
    ok("gemini", "resume_second", DONE),
    fails("gemini", "401", AuthFailed),
    fails("gemini", "429", RateLimited),
    fails("gemini", "500", ApiError),
    fails("gemini", "stall_killed", NoResult),
    ok("opencode", "success", DONE),
    ok("opencode", "tool_call", DONE)
        .writes("hello.txt")
        .calls(WRITE_HELLO),
    ok("opencode", "resume", RESUMED),
    fails("opencode", "401", AuthFailed),
    fails("opencode", "stall_killed", NoResult),
    ok("qwen", "success", DONE),
    ok("qwen", "tool_call", DONE)
        .writes("hello.txt")
        .calls(WRITE_HELLO),
    ok("qwen", "resume", RESUMED),
    fails("qwen", "401", AuthFailed),
    fails("qwen", "stall_killed", NoResult),
    ok("cursor", "success", "Created calc.py with add().")
        .writes("calc.py")
        .calls(&[
            (ToolKind::Edit, "calc.py"),
            (ToolKind::Run, "python -m pytest -q"),
        ])
        .tokens(0, 0),
    fails("cursor", "no_result", NoResult),
    fails("cursor", "is_error", RateLimited),
];

fn recordings_dir(cli: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/recordings")
        .join(cli)
}

/// The cases recorded for `cli` (the stems of its `.jsonl` files), sorted.
fn recorded_cases(cli: &str) -> Vec<String> {
    let mut cases: Vec<String> = std::fs::read_dir(recordings_dir(cli))
        .map(|d| {
            d.flatten()
                .filter_map(|e| {
                    e.file_name()
                        .to_str()
                        .and_then(|n| n.strip_suffix(".jsonl"))
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default();
    cases.sort();
    cases
}

fn read(cli: &str, file: &str) -> String {
    let p = recordings_dir(cli).join(file);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// How the recorded process ended: its exit code, or killed (what orx's idle timeout does).
fn exit_of(cli: &str, case: &str) -> ExitInfo {
    let stderr = read(cli, &format!("{case}.stderr"));
    let code = read(cli, &format!("{case}.exit"));
    let mut exit = exited(0);
    match code.trim() {
        "killed" => {
            exit.code = None;
            exit.signal = Some(libc::SIGKILL);
            exit.termination = Termination::Exited;
        }
        n => {
            exit.code = Some(
                n.parse()
                    .unwrap_or_else(|_| panic!("{cli}/{case}.exit: {n}")),
            )
        }
    }
    exit.stderr_tail = stderr;
    exit
}

fn parser_of(cli: &str) -> Box<dyn StreamParser> {
    let row = super::registry::get(cli).unwrap_or_else(|| panic!("{cli} is not in the registry"));
    (row.build)(Setup::default()).parser()
}

fn replay(cli: &str, case: &str) -> (Vec<AgentEvent>, AgentOutcome) {
    let stdout = read(cli, &format!("{case}.jsonl"));
    play(parser_of(cli).as_mut(), &stdout, exit_of(cli, case))
}

#[test]
fn every_recording_has_a_verdict_and_every_executor_has_recordings() {
    for row in EXECUTORS.iter().filter(|e| e.is_external()) {
        let cases = recorded_cases(row.name);
        assert!(
            cases.iter().any(|c| c == "success"),
            "tests/recordings/{}/ has no success recording",
            row.name
        );
        let mut judged: Vec<String> = VERDICTS
            .iter()
            .filter(|v| v.cli == row.name)
            .map(|v| v.case.to_string())
            .collect();
        judged.sort();
        assert_eq!(cases, judged, "recordings of {} vs VERDICTS", row.name);
    }
}

#[test]
fn every_recording_gives_its_verdict() {
    for v in VERDICTS {
        let (events, o) = replay(v.cli, v.case);
        let what = format!("{}/{}: {o:?}", v.cli, v.case);
        match v.failure {
            Some(kind) => {
                assert_eq!(o.failure, Some(kind), "{what}");
                let message = o.message.as_deref().unwrap_or("");
                assert!(message.contains(v.cli), "the message names the CLI: {what}");
            }
            None => {
                assert!(o.succeeded(), "{what}");
                assert_eq!(o.final_text.trim(), v.text, "{what}");
                assert!(o.session_id.is_some(), "a success has a session: {what}");
                match v.tokens {
                    Some((i, out)) => {
                        assert_eq!((o.usage.input_tokens, o.usage.output_tokens), (i, out))
                    }
                    None => assert!(o.usage.total_tokens() > 0, "usage: {what}"),
                }
            }
        }
        let calls: Vec<(ToolKind, &str)> = events
            .iter()
            .filter_map(|e| match e {
                AgentEvent::ToolCall { kind, target, .. } => Some((*kind, target.as_str())),
                _ => None,
            })
            .collect();
        let expected = v.calls;
        assert!(
            calls.len() == expected.len()
                && calls
                    .iter()
                    .zip(expected)
                    .all(|((k, t), (ek, et))| k == ek && t.ends_with(et)),
            "{}/{}: tool calls {calls:?}, expected {expected:?}",
            v.cli,
            v.case
        );
        let results = events
            .iter()
            .filter(|e| matches!(e, AgentEvent::ToolResult { .. }))
            .count();
        assert_eq!(
            results,
            calls.len(),
            "{}/{}: one result per tool call: {events:?}",
            v.cli,
            v.case
        );
        if let Some(file) = v.writes {
            assert!(
                events.iter().any(
                    |e| matches!(e, AgentEvent::FileChange { path, .. } if path.ends_with(file))
                ),
                "{}/{} reports writing {file}: {events:?}",
                v.cli,
                v.case
            );
        }
    }
}

#[test]
fn every_command_takes_the_prompt_on_stdin_and_the_configured_key() {
    for row in EXECUTORS.iter().filter(|e| e.is_external()) {
        let cli = (row.build)(Setup {
            settings: CliSettings {
                bin: row.bin.to_string(),
                api_key: Some("sk-contract".into()),
                extra_args: vec!["--extra-flag".into()],
                ..CliSettings::default()
            },
            scenario: None,
        });
        for mode in [Mode::Text, Mode::Apply] {
            let mut req = request(mode);
            req.resume_session = Some("session-contract".into());
            let spec = cli.command(&req);
            let name = row.name;
            assert_eq!(spec.program, row.bin, "{name}");
            assert_eq!(spec.stdin.as_deref(), Some(req.prompt.as_bytes()), "{name}");
            assert!(
                !spec.args.iter().any(|a| a.contains("PROMPT")),
                "{name} keeps the prompt out of argv: {:?}",
                spec.args
            );
            assert_eq!(spec.cwd, req.cwd, "{name}");
            assert!(spec.args.contains(&"--extra-flag".to_string()), "{name}");
            assert!(
                spec.args.iter().any(|a| a.contains("session-contract")),
                "{name} resumes the session: {:?}",
                spec.args
            );
            assert!(
                spec.env
                    .iter()
                    .any(|(k, v)| v == "sk-contract" && row.credential_vars.contains(&k.as_str())),
                "{name} passes the key in one of its credential variables: {:?}",
                spec.env
            );
            assert_eq!(spec.stdout_log.as_ref(), Some(&req.stdout_log), "{name}");
        }
        let text = cli.command(&request(Mode::Text)).args;
        let apply = cli.command(&request(Mode::Apply)).args;
        assert_ne!(text, apply, "{}: text and apply modes differ", row.name);
    }
}

/// Every string value of `type` and `subtype` in a stream: the vocabulary its parser switches on.
fn types_of(stream: &str) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for v in stream
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
    {
        for key in ["type", "subtype"] {
            if let Some(t) = v.get(key).and_then(|t| t.as_str()) {
                if !out.contains(&t) {
                    out.push(Box::leak(t.to_string().into_boxed_str()));
                }
            }
        }
    }
    out
}

/// No stream makes a parser panic, whatever its lines hold: random values under the keys the
/// CLIs use and the types their recordings switch on, mutated recordings, and arbitrary text.
/// The fuzz targets under `fuzz/fuzz_targets/stream_*.rs` explore the same parsers for longer.
#[test]
fn hostile_streams_never_panic() {
    for row in EXECUTORS.iter().filter(|e| e.is_external()) {
        let fixture: &'static str = Box::leak(read(row.name, "success.jsonl").into_boxed_str());
        let types: &'static [&'static str] = Box::leak(types_of(fixture).into_boxed_slice());
        let streams = (
            proptest::collection::vec(stream_line(STREAM_KEYS, types, fixture), 0..12),
            -1i32..3,
        );
        let mut runner = TestRunner::new(config(200));
        runner
            .run(&streams, |(lines, code)| {
                play_hostile(parser_of(row.name).as_mut(), &lines, code);
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{}: {e}", row.name));
    }
}
