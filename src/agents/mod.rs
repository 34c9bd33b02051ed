//! The executor seam: how orx talks to an agent CLI, whichever it is.
//!
//! Every agent (Claude Code, Codex, Gemini, Cursor, and the scripted `fake`) is a subprocess
//! that gets its prompt on stdin and prints a JSON stream. An [`AgentCli`] only knows two
//! things: how to build the command for a request (argv and env, never the prompt in argv), and
//! how to turn its stream into [`AgentEvent`]s through a [`StreamParser`]. Running it is not the
//! CLI's business: [`invoke`] sends every agent through the one supervisor (`crate::exec`), feeds
//! the parser line by line, and folds the supervisor's verdict (timeout, interrupt, missing
//! binary) and the parser's verdict into one [`AgentOutcome`]. A failed agent is an outcome,
//! never an `Err` (design principle 2); `Err` is kept for orx's own failures.

pub mod events;
pub mod fake;
pub mod fake_agent;
pub mod scenario;

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use events::{AgentEvent, FailureKind, Usage};

use crate::exec::{self, CommandSpec, Control, ExitInfo, LogFilter, StreamKind, Termination};

/// Whether the agent may edit files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Read-only: plan, spec, decompose, review. The answer is the final text.
    Text,
    /// Edits allowed in the working directory: implement, fix, knowledge update.
    Apply,
}

/// One call of an agent.
#[derive(Debug, Clone)]
pub struct AgentRequest {
    pub run_id: String,
    /// Stage key as used in `stages:` routing: plan, spec, decompose, implement, fix, review,
    /// knowledge_update.
    pub stage: String,
    pub item: Option<String>,
    /// 1-based number of this call of its kind (decompose try, review round, fix attempt).
    pub n: u32,
    pub mode: Mode,
    pub prompt: String,
    pub model: Option<String>,
    pub cwd: PathBuf,
    /// A session to continue (fix attempts resume the implement session where the CLI can).
    pub resume_session: Option<String>,
    pub timeout: Option<Duration>,
    pub idle_timeout: Option<Duration>,
    /// Where the raw stream and stderr go.
    pub stdout_log: PathBuf,
    pub stderr_log: PathBuf,
}

/// A CLI's verdict on one call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentOutcome {
    /// `None` means success: the CLI finished and reported no error.
    pub failure: Option<FailureKind>,
    pub message: Option<String>,
    pub final_text: String,
    pub session_id: Option<String>,
    pub usage: Usage,
    pub exit_code: Option<i32>,
    pub duration_ms: u64,
}

impl AgentOutcome {
    pub fn succeeded(&self) -> bool {
        self.failure.is_none()
    }
}

/// Folds a CLI's stream into events and, at the end, into an outcome.
pub trait StreamParser {
    /// One line of stdout. Lines that are not part of the protocol are ignored (and logged).
    fn feed(&mut self, line: &str) -> Vec<AgentEvent>;
    /// The stream is over; `exit` says how the process ended.
    fn finish(&mut self, exit: &ExitInfo) -> AgentOutcome;
}

/// An agent CLI: argv construction and stream parsing, both pure.
pub trait AgentCli: Send + Sync {
    fn name(&self) -> &str;
    /// The command for a request. The prompt travels on stdin (`spec.stdin`).
    fn command(&self, req: &AgentRequest) -> CommandSpec;
    fn parser(&self) -> Box<dyn StreamParser>;
}

/// Run one agent call through the supervisor. `on_event` sees every event as it streams and
/// may stop the agent (a budget crossed) by returning `Control::Stop`.
pub fn invoke(
    cli: &dyn AgentCli,
    req: &AgentRequest,
    on_event: &mut dyn FnMut(&AgentEvent) -> Control,
) -> AgentOutcome {
    invoke_filtered(cli, req, None, on_event)
}

/// [`invoke`], with the agent's logs written through `log_filter` (the run's redaction)
/// whatever the CLI's own command says.
pub fn invoke_filtered(
    cli: &dyn AgentCli,
    req: &AgentRequest,
    log_filter: Option<LogFilter>,
    on_event: &mut dyn FnMut(&AgentEvent) -> Control,
) -> AgentOutcome {
    let mut spec = cli.command(req);
    if log_filter.is_some() {
        spec.log_filter = log_filter;
    }
    let mut parser = cli.parser();
    let mut stderr_lines = 0u64;
    let result = exec::run(&spec, &mut |kind, line| match kind {
        StreamKind::Stdout => {
            let mut control = Control::Continue;
            for ev in parser.feed(line) {
                if let Control::Stop(why) = on_event(&ev) {
                    control = Control::Stop(why);
                }
            }
            control
        }
        StreamKind::Stderr => {
            stderr_lines += 1;
            Control::Continue
        }
    });
    match result {
        Err(e) => AgentOutcome {
            failure: Some(if e.kind() == std::io::ErrorKind::NotFound {
                FailureKind::NotInstalled
            } else {
                FailureKind::SpawnFailed
            }),
            message: Some(format!("cannot start `{}`: {e}", spec.program)),
            final_text: String::new(),
            session_id: None,
            usage: Usage::default(),
            exit_code: None,
            duration_ms: 0,
        },
        Ok(exit) => {
            let mut out = parser.finish(&exit);
            out.exit_code = exit.code;
            out.duration_ms = exit.duration.as_millis() as u64;
            // The supervisor's verdict wins over whatever the stream claimed.
            let supervised = match &exit.termination {
                Termination::Exited => None,
                Termination::WallTimeout => Some((FailureKind::Timeout, "wall-clock timeout")),
                Termination::IdleTimeout => Some((FailureKind::IdleTimeout, "no output")),
                Termination::Interrupted => Some((FailureKind::Interrupted, "interrupted")),
                Termination::Stopped(_) => Some((FailureKind::Stopped, "stopped by orx")),
            };
            if let Some((kind, why)) = supervised {
                out.failure = Some(kind);
                let detail = match &exit.termination {
                    Termination::Stopped(reason) => reason.clone(),
                    _ => why.to_string(),
                };
                out.message = Some(format!("{} {detail}", cli.name()));
            } else if out.failure.is_none() && exit.code != Some(0) {
                out.failure = Some(FailureKind::ExitNonZero);
                let tail = last_line(&exit.stderr_tail);
                out.message = Some(format!(
                    "{} exited with {}{}",
                    cli.name(),
                    exit.code
                        .map(|c| format!("code {c}"))
                        .or(exit.signal.map(|s| format!("signal {s}")))
                        .unwrap_or_else(|| "no status".into()),
                    if tail.is_empty() {
                        String::new()
                    } else {
                        format!(": {tail}")
                    }
                ));
            }
            let _ = stderr_lines;
            out
        }
    }
}

fn last_line(s: &str) -> String {
    s.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .chars()
        .take(300)
        .collect()
}
