//! What `orx run` and `orx resume` print on stdout: the run id first, the summary last.
//!
//! Scripts rely on this shape: the first stdout line is `run <id>` (or, with `--json`, the
//! first JSON line carries `run_id`), and the last is the summary (a JSON object with `"event":
//! "summary"` under `--json`). Progress and diagnostics go to stderr.

use std::io::Write;

use serde_json::json;

use crate::model::RunStatus;
use crate::model::{EventKind, RunEvent};
use crate::report::render::secs;
use crate::report::{OutputMode, Reporter};
use crate::runner::RunOutcome;

/// The output flags `orx run` and `orx resume` share.
#[derive(Debug, Clone, clap::Args)]
pub struct OutputArgs {
    /// Print events as JSON lines on stdout, with a summary object last.
    #[arg(long)]
    pub json: bool,
    /// Plain progress lines instead of a live progress bar.
    #[arg(long)]
    pub no_progress: bool,
    /// Write every gate run (each item attempt) as JUnit XML to this file when the run ends.
    #[arg(long, value_name = "PATH")]
    pub junit: Option<std::path::PathBuf>,
}

/// Drive a run with the reporter the flags pick, then print the summary (and the JUnit file).
/// `drive` is `setup::start` or `setup::resume`; returns the run's exit code.
pub fn drive_and_report(
    out: &OutputArgs,
    dir: &std::path::Path,
    drive: impl FnOnce(&mut dyn Reporter) -> Result<RunOutcome, crate::error::OrxError>,
) -> Result<i32, crate::error::OrxError> {
    crate::exec::install_interrupt_handler();
    let mode = OutputMode::pick(out.json, out.no_progress);
    let mut inner = crate::report::pick_reporter(mode);
    let mut reporter = IdFirst::new(inner.as_mut(), mode);
    let outcome = drive(&mut reporter);
    reporter.finish();
    let outcome = outcome?;
    print_summary(&outcome, mode);
    if let Some(path) = &out.junit {
        write_junit(path, dir, &outcome)?;
    }
    Ok(outcome.exit_code())
}

/// Prints `run <id>` on stdout as soon as the run has an id, then delegates.
pub struct IdFirst<'a> {
    inner: &'a mut dyn Reporter,
    mode: OutputMode,
    printed: bool,
}

impl<'a> IdFirst<'a> {
    pub fn new(inner: &'a mut dyn Reporter, mode: OutputMode) -> Self {
        IdFirst {
            inner,
            mode,
            printed: false,
        }
    }
}

impl Reporter for IdFirst<'_> {
    fn event(&mut self, ev: &RunEvent) {
        if !self.printed
            && self.mode != OutputMode::Json
            && matches!(
                ev.kind,
                EventKind::RunStarted { .. } | EventKind::RunResumed { .. }
            )
        {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "run {}", ev.run_id);
            let _ = out.flush();
            self.printed = true;
        }
        self.inner.event(ev);
    }
    fn flush(&mut self) {
        self.inner.flush();
    }
    fn finish(&mut self) {
        self.inner.finish();
    }
}

/// The summary as a JSON value (also what `--json` prints last).
pub fn summary_json(o: &RunOutcome) -> serde_json::Value {
    let s = &o.state;
    let gates: Vec<_> = s
        .items
        .iter()
        .flat_map(|i| {
            i.gates.iter().map(move |g| {
                json!({"item": i.id, "gate": g.name, "passed": g.passed, "required": g.required,
                       "exit_code": g.exit_code, "duration_ms": g.duration_ms, "log": g.log})
            })
        })
        .collect();
    json!({
        "event": "summary",
        "run_id": s.run_id,
        "status": s.status,
        "exit_code": o.exit_code(),
        "task": crate::store::meta::headline(&s.task),
        "branch": s.worktree.branch,
        "worktree": s.worktree.path,
        "base_branch": s.worktree.base_branch,
        "pr_url": s.ship.pr_url,
        "pushed": s.ship.pushed_sha.as_ref().map(|sha| json!({"remote": s.ship.remote, "sha": sha})),
        "duration_ms": o.duration_ms,
        "usage": s.usage,
        "cost_usd": s.usage.cost_usd,
        "items": s.items.iter().map(|i| json!({"id": i.id, "title": i.title, "status": i.status, "attempts": i.attempts, "commit": i.commit})).collect::<Vec<_>>(),
        "gates": gates,
        "failure": s.last_failure,
        "patch": "artifacts/patch.diff",
        "awaiting_approval": s.checkpoint.as_ref().filter(|_| s.status == RunStatus::AwaitingApproval).map(|c| json!({
            "stage": c.stage,
            "output": crate::runner::approval::output_of(s, c.stage),
        })),
        "left_out": s.left_out().iter().map(|i| json!({"id": i.id, "title": i.title, "status": i.status})).collect::<Vec<_>>(),
    })
}

/// Write `--junit PATH` for the run that just ended (its whole gate history, across resumes).
pub fn write_junit(
    path: &std::path::Path,
    dir: &std::path::Path,
    o: &RunOutcome,
) -> crate::error::Result<()> {
    let repo = crate::git::Repo::discover(dir)?;
    let paths = crate::store::RunPaths::new(&repo.root, &o.state.run_id);
    crate::report::junit::write_junit(path, &o.state.run_id, &paths.events())
}

pub fn print_summary(o: &RunOutcome, mode: OutputMode) {
    let mut out = std::io::stdout().lock();
    if mode == OutputMode::Json {
        let _ = writeln!(out, "{}", summary_json(o));
        return;
    }
    let s = &o.state;
    let _ = writeln!(
        out,
        "run {} {} in {}",
        s.run_id,
        s.status.as_str(),
        secs(o.duration_ms)
    );
    let _ = writeln!(
        out,
        "  branch    {} (worktree {})",
        s.worktree.branch,
        s.worktree.path.display()
    );
    if !s.items.is_empty() {
        let items: Vec<String> = s
            .items
            .iter()
            .map(|i| {
                format!(
                    "{} {} ({} attempt{})",
                    i.id,
                    i.status,
                    i.attempts,
                    if i.attempts == 1 { "" } else { "s" }
                )
            })
            .collect();
        let _ = writeln!(out, "  items     {}", items.join(", "));
    }
    let _ = writeln!(out, "  usage     {}", s.usage.describe());
    let run_dir = format!("runs/{}", s.run_id);
    if s.status == RunStatus::Partial {
        let _ = writeln!(out, "  left out  {}", left_out(s));
        if let Some(f) = &s.last_failure {
            let _ = writeln!(out, "  failure   [{}] {}: {}", f.stage, f.reason, f.message);
        }
    }
    match s.status {
        RunStatus::Succeeded | RunStatus::Partial => {
            if let (Some(remote), Some(_)) = (&s.ship.remote, &s.ship.pushed_sha) {
                let _ = writeln!(out, "  pushed    {} to {remote}", s.worktree.branch);
            }
            if let Some(url) = &s.ship.pr_url {
                let _ = writeln!(out, "  pr        {url}");
            }
            let _ = writeln!(out, "  patch     {run_dir}/artifacts/patch.diff");
            let _ = writeln!(out, "  merge     git merge {}", s.worktree.branch);
        }
        RunStatus::AwaitingApproval => {
            if let Some(c) = &s.checkpoint {
                let output = crate::runner::approval::output_of(s, c.stage);
                let _ = writeln!(out, "  awaiting  approval of {}", c.stage);
                let _ = writeln!(out, "  read      {run_dir}/{output} (edit it to change it)");
            }
            let _ = writeln!(out, "  approve   orx approve {}", s.run_id);
            let _ = writeln!(
                out,
                "  reject    orx reject {} --feedback \"what to change\"",
                s.run_id
            );
        }
        RunStatus::Failed
        | RunStatus::Interrupted
        | RunStatus::Running
        | RunStatus::Waiting
        | RunStatus::BudgetExceeded => {
            if let Some(f) = &s.last_failure {
                if matches!(s.status, RunStatus::Failed | RunStatus::BudgetExceeded) {
                    let _ = writeln!(out, "  failure   [{}] {}: {}", f.stage, f.reason, f.message);
                    if let Some(p) = &f.evidence_path {
                        let _ = writeln!(out, "  evidence  {run_dir}/{}", p.display());
                    }
                }
            }
            let _ = writeln!(out, "  resume    orx resume {}", s.run_id);
        }
    }
}

/// The items a `partial` run shipped without, as `Y (failed), W (blocked)`.
pub fn left_out(s: &crate::model::RunState) -> String {
    s.left_out()
        .iter()
        .map(|i| format!("{} ({})", i.id, i.status))
        .collect::<Vec<_>>()
        .join(", ")
}
