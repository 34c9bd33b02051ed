//! `orx takeover RUN_ID [--no-continue]`: stop a run at its current item, hand that item to a
//! person in the agent's own CLI, then go on from verify with what they did.
//!
//! The command owns the order of things around `runner::takeover`: it refuses at once without
//! a terminal (the CLI it opens is interactive), stops a live run the way the dashboard's
//! cancel does (`control`: SIGINT to the driving process, which stops its agent gracefully and
//! records `interrupted`) and lets the runner wait for the lock that process lets go, and then,
//! unless `--no-continue`, continues the run exactly as `orx resume` does.

use std::io::IsTerminal;

use super::summary::{drive_and_report, OutputArgs};
use super::DirArg;
use crate::control::{Control, Workspace};
use crate::error::{ErrorKind, OrxError};
use crate::report::Silent;
use crate::runner::takeover::{take_over, TakeoverOptions};

#[derive(Debug, clap::Args)]
pub struct TakeoverArgs {
    /// The run whose current item to take over (see `orx status`).
    pub run_id: String,
    /// Stop after the takeover is recorded; continue later with `orx resume`.
    #[arg(long)]
    pub no_continue: bool,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub dir: DirArg,
}

pub fn run(a: TakeoverArgs) -> Result<i32, OrxError> {
    if !std::io::stdin().is_terminal() {
        return Err(OrxError::usage(
            "orx takeover needs a terminal: it opens the agent's CLI for you to work in, and stdin is not a TTY",
        ));
    }
    let dir = a.dir.dir;
    // An unknown or malformed id is refused in the words of the command line, before anything.
    crate::runner::setup::open_run(&crate::git::Repo::discover(&dir)?, &a.run_id)?;
    let control = Control::new(vec![Workspace::open(&dir)?])?;
    // A live run is stopped as Ctrl-C stops it; one that already ended is taken at once.
    let wait_for_lock = match control.cancel(&a.run_id) {
        Ok(c) => {
            eprintln!(
                "stopping run {} (pid {}) at its current step…",
                c.run_id, c.pid
            );
            true
        }
        Err(e) if e.kind == ErrorKind::State => false,
        Err(e) => return Err(e),
    };
    let by = who();
    let done = take_over(
        &TakeoverOptions {
            dir: &dir,
            run_id: &a.run_id,
            by: &by,
            wait_for_lock,
        },
        // The terminal belongs to the CLI the person works in; the takeover's own events go
        // to `events.jsonl`, and what orx says about it is the line printed after.
        &mut Silent,
    )?;
    eprintln!(
        "{} attempt {} taken over by {by} in {}{}: {}",
        done.item,
        done.attempt,
        done.executor,
        done.session
            .as_ref()
            .map(|s| format!(" (session {s})"))
            .unwrap_or_default(),
        if done.changed {
            "the worktree changed"
        } else {
            "no file changed"
        }
    );
    if a.no_continue {
        println!("run {}", a.run_id);
        eprintln!(
            "{} waits at verify; continue with `orx resume {}`",
            done.item, a.run_id
        );
        return Ok(0);
    }
    drive_and_report(&a.output, &dir, |reporter| {
        crate::runner::setup::resume(&dir, &a.run_id, reporter)
    })
}

/// Who is at the terminal, for the `taken_over` event: `$USER`, `$LOGNAME`, else the uid.
fn who() -> String {
    ["USER", "LOGNAME"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .find(|v| !v.trim().is_empty())
        // SAFETY: getuid has no preconditions and cannot fail.
        .unwrap_or_else(|| format!("uid {}", unsafe { libc::getuid() }))
}
