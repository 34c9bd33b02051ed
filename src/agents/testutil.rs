//! Test helpers for the CLI modules: a request, an exit, and a recording played through a
//! parser.

use std::path::PathBuf;
use std::time::Duration;

use super::{AgentCli, AgentEvent, AgentOutcome, AgentRequest, CliSettings, Mode, StreamParser};
use crate::exec::{CommandSpec, ExitInfo, Termination};

/// An executor's settings: its binary, and an API key when given.
pub fn settings(bin: &str, api_key: Option<&str>) -> CliSettings {
    CliSettings {
        bin: bin.into(),
        api_key: api_key.map(String::from),
        ..CliSettings::default()
    }
}

/// Whether `spec` sets the environment variable `key` to `value`.
pub fn has_env(spec: &CommandSpec, key: &str, value: &str) -> bool {
    spec.env.iter().any(|(k, v)| k == key && v == value)
}

/// Turn `req` into an apply-mode call resuming `session`; the argv `cli` builds for it, joined
/// with spaces.
pub fn resumed_apply_argv(cli: &dyn AgentCli, req: &mut AgentRequest, session: &str) -> String {
    req.mode = Mode::Apply;
    req.resume_session = Some(session.into());
    cli.command(req).args.join(" ")
}

pub fn request(mode: Mode) -> AgentRequest {
    AgentRequest {
        run_id: "r1".into(),
        stage: "implement".into(),
        item: Some("W001".into()),
        n: 1,
        mode,
        prompt: "PROMPT: do the thing\n".into(),
        model: Some("sonnet".into()),
        cwd: PathBuf::from("/w"),
        resume_session: None,
        timeout: Some(Duration::from_secs(60)),
        idle_timeout: None,
        stdout_log: PathBuf::from("/runs/r1/logs/agent_implement_W001_1.jsonl"),
        stderr_log: PathBuf::from("/runs/r1/logs/agent_implement_W001_1.stderr"),
        max_turns: None,
        max_budget_usd: None,
        usage_baseline: None,
        grace: Duration::from_secs(5),
    }
}

pub fn exited(code: i32) -> ExitInfo {
    exited_with_stderr(code, "")
}

pub fn exited_with_stderr(code: i32, stderr: &str) -> ExitInfo {
    ExitInfo {
        code: Some(code),
        signal: None,
        termination: Termination::Exited,
        duration: Duration::from_millis(5),
        stdout_tail: String::new(),
        stderr_tail: stderr.to_string(),
        stdout_bytes: 0,
        stderr_bytes: stderr.len() as u64,
        truncated_lines: 0,
        strays_killed: 0,
    }
}

/// Feed every line of `recording`, then finish.
pub fn play(
    parser: &mut dyn StreamParser,
    recording: &str,
    exit: ExitInfo,
) -> (Vec<AgentEvent>, AgentOutcome) {
    let mut events = Vec::new();
    for line in recording.lines() {
        events.extend(parser.feed(line));
    }
    let o = parser.finish(&exit);
    (events, o)
}

/// Play a recording that ends well (exit 0), checking that the outcome is a success with this
/// session and this answer.
pub fn play_success(
    parser: &mut dyn StreamParser,
    recording: &str,
    session: &str,
    answer: &str,
) -> (Vec<AgentEvent>, AgentOutcome) {
    let (events, o) = play(parser, recording, exited(0));
    assert!(o.succeeded(), "{o:?}");
    assert_eq!(o.session_id.as_deref(), Some(session));
    assert_eq!(o.final_text, answer);
    (events, o)
}

/// Play `first` through a fresh parser of `cli`, then `second` through the parser `cli` makes
/// for an apply call resuming it (with the running totals `first` reported as the baseline);
/// both outcomes, the second checked to have succeeded.
pub fn play_resumed(cli: &dyn AgentCli, first: &str, second: &str) -> (AgentOutcome, AgentOutcome) {
    let (_, o1) = play(cli.parser().as_mut(), first, exited(0));
    let mut req = request(Mode::Apply);
    req.usage_baseline = o1.cumulative_usage.clone();
    let (_, o2) = play(cli.parser_for(&req).as_mut(), second, exited(0));
    assert!(o2.succeeded(), "{o2:?}");
    (o1, o2)
}

/// The tokens of an outcome: (input, cache reads, output).
pub fn tokens(o: &AgentOutcome) -> (u64, u64, u64) {
    (
        o.usage.input_tokens,
        o.usage.cache_read_tokens,
        o.usage.output_tokens,
    )
}

/// Field names the CLIs' streams use (from the recordings and the parsers), for the
/// hostile-input properties: random values under real keys reach the parsers' logic.
pub const STREAM_KEYS: &[&str] = &[
    "type",
    "subtype",
    "session_id",
    "thread_id",
    "message",
    "content",
    "text",
    "thinking",
    "usage",
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "cached_input_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "total_tokens",
    "total_cost_usd",
    "result",
    "is_error",
    "error",
    "terminal_reason",
    "api_error_status",
    "permission_denials",
    "status",
    "role",
    "delta",
    "model",
    "id",
    "item",
    "command",
    "exit_code",
    "aggregated_output",
    "changes",
    "path",
    "kind",
    "name",
    "input",
    "tool_use_id",
    "tool_id",
    "tool_name",
    "tool_call",
    "args",
    "file_path",
    "notebook_path",
    "absolute_path",
    "parameters",
    "output",
    "stats",
    "severity",
    "rate_limit_info",
    "resetsAt",
    "retry_after",
    "duration_ms",
    "num_turns",
    "cwd",
    "shellToolCall",
    "writeToolCall",
    "editToolCall",
    "readToolCall",
    "deleteToolCall",
    "success",
    "failure",
    "exitCode",
    "stdout",
    "stderr",
    "result_index",
    "sessionID",
    "part",
    "tool",
    "state",
    "tokens",
    "reason",
    "cost",
    "filePath",
    "statusCode",
];

/// Feed `lines` (split at newlines, as the supervisor delivers them) then finish with `code`;
/// the property is that nothing panics.
pub fn play_hostile(parser: &mut dyn StreamParser, lines: &[String], code: i32) {
    for line in lines.iter().flat_map(|l| l.split('\n')) {
        let _ = parser.feed(line);
    }
    let _ = parser.finish(&exited(code));
}

/// A parser without its typed shape: every line read as a generic value.
pub struct Generic<P>(pub P);

impl<P: super::stream::JsonLines> super::stream::JsonLines for Generic<P> {
    fn core(&mut self) -> &mut super::stream::StreamCore {
        self.0.core()
    }
    fn line(&mut self, v: serde_json::Value, out: &mut Vec<AgentEvent>) {
        self.0.line(v, out)
    }
    fn verdict(&mut self, exit: &ExitInfo) -> AgentOutcome {
        self.0.verdict(exit)
    }
}

/// Every recording of `executor` (`tests/recordings/<executor>`, sub-folders included) and
/// `odd`, played through `P`'s typed shape and through the generic value alone, on a success
/// and a failure exit, must give the same events and outcome. `min` recordings must exist, so
/// a moved folder cannot make the comparison vacuous.
pub fn assert_typed_reads_as_generic<P: super::stream::JsonLines + Default>(
    executor: &str,
    odd: &str,
    min: usize,
) {
    fn collect(dir: &std::path::Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                collect(&path, out);
            } else if path.extension().is_some_and(|e| e == "jsonl") {
                out.push(std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/recordings")
        .join(executor);
    let mut streams = vec![odd.to_string()];
    collect(&root, &mut streams);
    assert!(
        streams.len() > min,
        "the recordings of {executor} were found"
    );
    for stream in &streams {
        for exit in [exited(0), exited(1)] {
            let typed = play(&mut P::default(), stream, exit.clone());
            let generic = play(&mut Generic(P::default()), stream, exit);
            assert_eq!(format!("{typed:?}"), format!("{generic:?}"), "{stream}");
        }
    }
}
