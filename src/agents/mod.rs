//! The executor seam: how orx talks to an agent CLI, whichever it is.
//!
//! Every agent (the CLIs of `registry`, the scripted `fake` among them) is a subprocess that
//! gets its prompt on stdin and prints a JSON stream. An [`AgentCli`] only knows two
//! things: how to build the command for a request (argv and env, never the prompt in argv), and
//! how to turn its stream into [`AgentEvent`]s through a [`StreamParser`]. Running it is not the
//! CLI's business: [`invoke`] sends every agent through the one supervisor (`crate::exec`), feeds
//! the parser line by line, and folds the supervisor's verdict (timeout, interrupt, missing
//! binary) and the parser's verdict into one [`AgentOutcome`]. A failed agent is an outcome,
//! never an `Err` (it is state the run records); `Err` is kept for orx's own failures.

pub mod budget;
pub mod classify;
pub mod claude;
pub mod codex;
#[cfg(test)]
mod contract;
pub mod cursor;
pub mod detect;
mod error;
pub mod events;
pub mod fake;
pub mod fake_agent;
pub mod fallback;
pub mod gemini;
pub mod json;
pub mod opencode;
pub mod pricing;
pub mod qwen;
pub mod registry;
pub mod scenario;
pub mod stream;
#[cfg(test)]
pub(crate) mod testutil;
pub mod tools;

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use error::AgentError;
use events::{detail_suffix, last_line};
pub use events::{AgentEvent, FailureKind, ToolKind, Usage};

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
    /// The stage's turn limit, passed to CLIs that enforce one natively (Claude `--max-turns`);
    /// orx also counts tool calls against it (see `budget`).
    pub max_turns: Option<u32>,
    /// What is left of `run.max_budget_usd`, passed to CLIs that stop themselves
    /// (Claude `--max-budget-usd`).
    pub max_budget_usd: Option<f64>,
    /// The cumulative usage the CLI last reported for `resume_session` (codex reports running
    /// totals per thread; its parser subtracts this to get the deltas of this call).
    pub usage_baseline: Option<Usage>,
    /// How long the CLI gets to exit after SIGTERM before its group is killed.
    pub grace: Duration,
}

/// The spec of `program` for a call, the fake's included: in the request's folder, the prompt on
/// stdin, its logs, timeouts and run id; argv and env are the CLI's to add.
pub fn request_spec(program: impl Into<String>, req: &AgentRequest) -> CommandSpec {
    let mut spec = CommandSpec::new(program, &req.cwd);
    spec.stdin = Some(req.prompt.clone().into_bytes());
    spec.stdout_log = Some(req.stdout_log.clone());
    spec.stderr_log = Some(req.stderr_log.clone());
    spec.wall_timeout = req.timeout;
    spec.idle_timeout = req.idle_timeout;
    spec.grace = req.grace;
    spec.run_id = Some(req.run_id.clone());
    spec
}

/// How one executor is configured: the binary and what `executors.<name>` adds.
#[derive(Debug, Clone, Default)]
pub struct CliSettings {
    pub bin: String,
    pub env: Vec<(String, String)>,
    pub extra_args: Vec<String>,
    pub api_key: Option<String>,
    pub reasoning_effort: Option<String>,
}

impl CliSettings {
    /// The spec every real CLI starts from: program, prompt on stdin, logs, timeouts, env
    /// (`env` from config, then the API key in `key_var`).
    pub fn base_spec(&self, req: &AgentRequest, key_var: &str) -> CommandSpec {
        let mut spec = request_spec(self.bin.clone(), req);
        spec.env = self.env.clone();
        if let Some(key) = self.api_key.as_deref().filter(|k| !k.is_empty()) {
            spec.env.push((key_var.to_string(), key.to_string()));
        }
        spec
    }

    /// [`base_spec`](Self::base_spec) running `argv`, followed by the executor's `extra_args`.
    pub fn spec(&self, req: &AgentRequest, key_var: &str, argv: Argv) -> CommandSpec {
        let mut spec = self.base_spec(req, key_var);
        let mut args = argv.0;
        args.extend(self.extra_args.iter().cloned());
        spec.args = args;
        spec
    }
}

/// A CLI's argv as it is built: fixed words, then a `flag VALUE` pair for each setting the
/// request carries (a model, a session to resume) and nothing for those it leaves out.
#[derive(Debug, Clone, Default)]
pub struct Argv(pub Vec<String>);

impl Argv {
    pub fn of(words: &[&str]) -> Self {
        Argv(words.iter().map(|w| w.to_string()).collect())
    }

    pub fn push(&mut self, word: impl Into<String>) {
        self.0.push(word.into());
    }

    /// `flag value` when there is a value, nothing otherwise.
    pub fn flag(&mut self, flag: &str, value: Option<impl ToString>) {
        if let Some(v) = value {
            self.0.extend([flag.to_string(), v.to_string()]);
        }
    }
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
    /// The CLI's own running total for the session, where it reports one (codex), so the next
    /// resumed call can turn its totals into deltas.
    #[serde(default)]
    pub cumulative_usage: Option<Usage>,
    /// When a rate limit lifts, if the CLI said.
    #[serde(default)]
    pub reset_at: Option<String>,
}

impl AgentOutcome {
    pub fn succeeded(&self) -> bool {
        self.failure.is_none()
    }

    /// A failed outcome with nothing else known.
    pub fn failed(kind: FailureKind, message: impl Into<String>) -> Self {
        AgentOutcome {
            failure: Some(kind),
            message: Some(message.into()),
            final_text: String::new(),
            session_id: None,
            usage: Usage::default(),
            exit_code: None,
            duration_ms: 0,
            cumulative_usage: None,
            reset_at: None,
        }
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
    /// The parser for one request (codex needs the request's usage baseline and its
    /// last-message file); by default the request does not matter.
    fn parser_for(&self, _req: &AgentRequest) -> Box<dyn StreamParser> {
        self.parser()
    }
}

/// Run one agent call through the supervisor. `on_event` sees every event as it streams and
/// may stop the agent (a budget crossed) by returning `Control::Stop`.
pub fn invoke(
    cli: &dyn AgentCli,
    req: &AgentRequest,
    on_event: &mut dyn FnMut(&AgentEvent) -> Control,
) -> AgentOutcome {
    invoke_filtered(cli, req, None, &mut EachEvent(on_event))
}

/// Where an agent call's events go as they stream.
pub trait EventSink {
    /// One event; `Control::Stop` stops the agent (a budget crossed).
    fn event(&mut self, ev: AgentEvent) -> Control;

    /// Every line the agent had printed so far has become events: what the sink gathered may
    /// be written now (see [`exec::Output`]).
    fn caught_up(&mut self) {}
}

/// A plain event callback as an [`EventSink`].
struct EachEvent<'a>(&'a mut dyn FnMut(&AgentEvent) -> Control);

impl EventSink for EachEvent<'_> {
    fn event(&mut self, ev: AgentEvent) -> Control {
        (self.0)(&ev)
    }
}

/// The agent's output on its way to a sink: stdout lines through the CLI's parser, stderr
/// lines counted.
struct Parsed<'a> {
    parser: Box<dyn StreamParser>,
    cwd: &'a std::path::Path,
    sink: &'a mut dyn EventSink,
    stderr_lines: u64,
}

impl exec::Output for Parsed<'_> {
    fn line(&mut self, kind: StreamKind, line: &str) -> Control {
        match kind {
            StreamKind::Stdout => {
                let mut control = Control::Continue;
                for mut ev in self.parser.feed(line) {
                    tools::relative_target(&mut ev, self.cwd);
                    if let Control::Stop(why) = self.sink.event(ev) {
                        control = Control::Stop(why);
                    }
                }
                control
            }
            StreamKind::Stderr => {
                self.stderr_lines += 1;
                Control::Continue
            }
        }
    }

    fn caught_up(&mut self) {
        self.sink.caught_up();
    }
}

/// [`invoke`] into an [`EventSink`], with the agent's logs written through `log_filter` (the
/// run's redaction) whatever the CLI's own command says.
pub fn invoke_filtered(
    cli: &dyn AgentCli,
    req: &AgentRequest,
    log_filter: Option<LogFilter>,
    sink: &mut dyn EventSink,
) -> AgentOutcome {
    let mut spec = cli.command(req);
    if log_filter.is_some() {
        spec.log_filter = log_filter;
    }
    let mut out = Parsed {
        parser: cli.parser_for(req),
        cwd: &req.cwd,
        sink,
        stderr_lines: 0,
    };
    let result = exec::run_output(&spec, &mut out);
    let Parsed {
        mut parser,
        stderr_lines,
        ..
    } = out;
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => AgentOutcome::failed(
            FailureKind::NotInstalled,
            format!(
                "{} is not installed: {}",
                cli.name(),
                registry::not_installed_hint(cli.name(), &spec.program)
            ),
        ),
        Err(e) => AgentOutcome::failed(
            FailureKind::SpawnFailed,
            format!("cannot start `{}`: {e}", spec.program),
        ),
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
                Termination::Stopped(r) if r.starts_with(budget::BUDGET_STOP) => {
                    Some((FailureKind::BudgetExceeded, "stopped by orx"))
                }
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
                out.message = Some(format!(
                    "{} exited with {}{}",
                    cli.name(),
                    exit.code
                        .map(|c| format!("code {c}"))
                        .or(exit.signal.map(|s| format!("signal {s}")))
                        .unwrap_or_else(|| "no status".into()),
                    detail_suffix(&last_line(&exit.stderr_tail))
                ));
            }
            let _ = stderr_lines;
            out
        }
    }
}
