//! The one supervisor every child process of orx goes through, so every child is bounded, logged
//! and stopped the same way: agent CLIs that may run for an hour and print gigabytes, and
//! quality gates.
//!
//! [`run`] starts the program in its own process group with the prompt on stdin (then closed,
//! never in argv), streams stdout and stderr line by line to the caller's callback and raw to
//! log files, and enforces a wall-clock timeout, an idle timeout, Ctrl-C and the callback's
//! own [`Control::Stop`]. Stopping means SIGTERM to the group, a grace period, then SIGKILL.
//! Whatever way the child ends, its leftovers are killed and reaped before `run` returns, so no
//! orphan or zombie survives a call. The design is synchronous (std threads, no async runtime)
//! because the runner is: one reader thread per pipe, one optional stdin writer, and the
//! calling thread runs the loop.
//!
//! - [`stream`]: reader threads, line splitting, the byte-bounded queue (memory stays bounded
//!   however much the child prints: readers block, the pipe fills, the child waits).
//! - [`supervisor`]: spawning and the supervision loop.
//! - [`tracking`]: how this process finds a child's leftovers (a cgroup per run and child, the
//!   subreaper's own children, or a scan of `/proc`), chosen once from what the kernel offers.
//! - [`cgroup`]: the cgroup v2 side of it: creating the cgroups, placing a child, `cgroup.kill`.
//! - [`clone_spawn`]: starting a child already inside its cgroup (`clone3(CLONE_INTO_CGROUP)`),
//!   which spares the lock a move into it costs.
//! - [`helper`]: the run's git processes, which are not supervised (git must not be stopped
//!   halfway) but are born in the run's cgroup too, so a resume after a `kill -9` finds them.
//! - [`reap`]: group kill, the stray hunt in each mode, targeted reaping.
//! - [`exit_watch`]: a child's exit as an event (its pidfd) the loop blocks on, leaving the
//!   child unreaped until its tree is cleaned up.
//! - [`pidfd`]: signalling a process orx did not start (a run's lock holder, a stray) through a
//!   pidfd, so an exit or a reused pid between finding it and signalling it is an answer, not
//!   an error or a wrong target.
//! - [`signals`]: Ctrl-C/SIGTERM handling. A child in its own process group does not receive the
//!   terminal's Ctrl-C (only the foreground group does), which is why orx forwards it, as
//!   cargo-nextest does for its per-test groups and uv does for `uv run`.
//! - [`interactive`]: the one exception to all of the above, a child given the terminal for a
//!   person to work in (`orx takeover`).
//!
//! A spawn failure (program missing: [`std::io::ErrorKind::NotFound`]) is the only `Err`; a
//! failing, killed or timed-out child is described by [`ExitInfo`]: a result, not an error.

mod cgroup;
mod clone_spawn;
mod exit_watch;
pub mod helper;
pub mod interactive;
pub(crate) mod leftover_git;
pub mod pidfd;
mod reap;
mod signals;
mod stdin;
mod stream;
mod supervisor;
pub mod tracking;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

pub use signals::{
    clear_interrupt, install_interrupt_handler, interrupt_requested, request_interrupt,
};

/// What to run and how to supervise it.
#[derive(Debug, Clone)]
pub struct CommandSpec {
    pub program: String,
    pub args: Vec<String>,
    pub cwd: PathBuf,
    /// Added on top of the inherited environment.
    pub env: Vec<(String, String)>,
    /// Removed from the inherited environment (before `env` is applied).
    pub env_remove: Vec<String>,
    /// Written by a thread, then closed; `None` gives the child `/dev/null`.
    pub stdin: Option<Vec<u8>>,
    /// Raw stdout bytes are appended here as they arrive (parent folders are created).
    pub stdout_log: Option<PathBuf>,
    /// Raw stderr bytes are appended here as they arrive (parent folders are created).
    pub stderr_log: Option<PathBuf>,
    pub wall_timeout: Option<Duration>,
    /// No byte on stdout or stderr for this long stops the child.
    pub idle_timeout: Option<Duration>,
    /// Time between SIGTERM and SIGKILL to the group.
    pub grace: Duration,
    /// Exported to the child as `ORX_RUN_ID`.
    pub run_id: Option<String>,
    /// Longer lines reach the callback truncated (the logs keep every byte, unless
    /// `log_filter` is set).
    pub max_line_bytes: usize,
    /// When set, the logs are written line by line through this filter (secret redaction)
    /// instead of as raw chunks: lines are lossy UTF-8, end in `\n`, and a line longer than
    /// `max_line_bytes` is cut there with a `[orx: line truncated]` marker, since a secret in
    /// an unbounded line could only be found by buffering the line whole.
    pub log_filter: Option<LogFilter>,
}

/// Rewrites one stream's lines on their way to its log file. One instance per stream, so it
/// may keep state from line to line (a private key block spans lines).
pub trait LineFilter: Send {
    /// The line (without its newline) as the log should show it; `None` keeps it as is.
    fn filter(&mut self, line: &str) -> Option<String>;

    /// Whether every line of `lines` (each ending in `\n`) would pass [`LineFilter::filter`]
    /// unchanged, one after the other, leaving the filter's state as they would: then the
    /// whole text is logged as it is, from one look at it instead of one per line. `false`
    /// (the default) only means the lines go through `filter` one by one.
    fn clean(&mut self, _lines: &str) -> bool {
        false
    }
}

/// Makes a fresh [`LineFilter`] for each stream of each child.
#[derive(Clone)]
pub struct LogFilter(Arc<dyn Fn() -> Box<dyn LineFilter> + Send + Sync>);

impl LogFilter {
    pub fn new(make: impl Fn() -> Box<dyn LineFilter> + Send + Sync + 'static) -> LogFilter {
        LogFilter(Arc::new(make))
    }

    /// A filter for one stream.
    pub fn start(&self) -> Box<dyn LineFilter> {
        (self.0)()
    }
}

impl std::fmt::Debug for LogFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LogFilter")
    }
}

impl CommandSpec {
    /// A spec with a 5 s grace period, 8 MiB line limit, no timeouts and no stdin.
    pub fn new(program: impl Into<String>, cwd: impl Into<PathBuf>) -> Self {
        CommandSpec {
            program: program.into(),
            args: Vec::new(),
            cwd: cwd.into(),
            env: Vec::new(),
            env_remove: Vec::new(),
            stdin: None,
            stdout_log: None,
            stderr_log: None,
            wall_timeout: None,
            idle_timeout: None,
            grace: Duration::from_secs(5),
            run_id: None,
            max_line_bytes: 8 * 1024 * 1024,
            log_filter: None,
        }
    }
}

/// Which pipe a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    Stdout,
    Stderr,
}

/// The callback's verdict after each line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    Continue,
    /// Stop the child (SIGTERM, grace, SIGKILL); the reason ends up in [`Termination::Stopped`].
    Stop(String),
}

/// Why the child ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Termination {
    /// It exited (or died of a signal) on its own.
    Exited,
    WallTimeout,
    IdleTimeout,
    /// Ctrl-C, SIGTERM to orx, or [`request_interrupt`].
    Interrupted,
    /// The callback returned [`Control::Stop`] with this reason.
    Stopped(String),
}

impl Termination {
    /// What went wrong, for a command given `timeout_secs` that had to end on its own (a gate,
    /// a hook); `None` when it did.
    pub fn problem(&self, timeout_secs: u64) -> Option<String> {
        match self {
            Termination::Exited => None,
            Termination::WallTimeout => Some(format!("timed out after {timeout_secs}s")),
            Termination::IdleTimeout => Some("stopped: no output".to_string()),
            Termination::Interrupted => Some("interrupted".to_string()),
            Termination::Stopped(why) => Some(why.clone()),
        }
    }
}

/// How a supervised child ended, with the evidence.
#[derive(Debug, Clone)]
pub struct ExitInfo {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub termination: Termination,
    /// From spawn until the child was seen to exit.
    pub duration: Duration,
    /// Last 8 KiB of stdout, lossy UTF-8.
    pub stdout_tail: String,
    /// Last 8 KiB of stderr, lossy UTF-8.
    pub stderr_tail: String,
    pub stdout_bytes: u64,
    pub stderr_bytes: u64,
    /// Lines that reached the callback cut to `max_line_bytes`.
    pub truncated_lines: u64,
    /// Descendants still alive after the child ended (group members, escaped daemons) that
    /// were killed.
    pub strays_killed: u32,
}

impl ExitInfo {
    /// The child exited on its own with code 0.
    pub fn success(&self) -> bool {
        self.termination == Termination::Exited && self.code == Some(0)
    }
}

/// Run `spec` to completion under supervision, calling `on_line` for every output line (in
/// arrival order per stream) on the calling thread.
///
/// Spawn failure (program missing: [`std::io::ErrorKind::NotFound`], working directory
/// missing, log file not creatable) is the `Err`; everything else is in [`ExitInfo`].
/// Lines that arrive while the child is being stopped are still delivered (a further
/// [`Control::Stop`] is ignored). While an interrupt is pending nothing is spawned: the result
/// is [`Termination::Interrupted`] with no exit code.
pub fn run(
    spec: &CommandSpec,
    on_line: &mut dyn FnMut(StreamKind, &str) -> Control,
) -> std::io::Result<ExitInfo> {
    run_output(spec, &mut Lines(on_line))
}

/// [`run`], handing the output to an [`Output`], which also hears when it has caught up.
pub fn run_output(spec: &CommandSpec, out: &mut dyn Output) -> std::io::Result<ExitInfo> {
    supervisor::run_with(spec, out, &interrupt_requested)
}

/// Where the supervision loop hands a child's output, on the calling thread.
///
/// Besides each line, the consumer hears when it has been handed every line that had arrived:
/// the loop is going back to waiting for more. A consumer that writes something for each line
/// can gather those writes and make them there, as one, without ever holding them back while
/// the child is quiet: a child printing steadily costs one write per line, a flood of output
/// one write per batch the loop pops.
pub trait Output {
    /// One line (without its newline), in arrival order per stream.
    fn line(&mut self, kind: StreamKind, line: &str) -> Control;

    /// Every line that had arrived so far has been handed over.
    fn caught_up(&mut self) {}
}

/// A plain line callback as an [`Output`].
pub struct Lines<'a>(pub &'a mut dyn FnMut(StreamKind, &str) -> Control);

impl Output for Lines<'_> {
    fn line(&mut self, kind: StreamKind, line: &str) -> Control {
        (self.0)(kind, line)
    }
}

/// Re-check `cond` until it holds: how a test waits for an event the process table or a thread
/// shows (a child's exec, a zombie, a thread asleep). The bound only turns a hang into a
/// failure; it never decides a pass.
#[cfg(test)]
pub(crate) fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let start = std::time::Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "{what} never happened"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}
