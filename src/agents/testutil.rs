//! Test helpers for the CLI modules: a request, an exit, and a recording played through a
//! parser.

use std::path::PathBuf;
use std::time::Duration;

use super::{AgentEvent, AgentOutcome, AgentRequest, Mode, StreamParser};
use crate::exec::{ExitInfo, Termination};

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
