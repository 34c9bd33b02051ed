//! `orx status [RUN_ID] [--json]`: the table of runs, or one run in detail.
//!
//! The table reads only each run's small `meta.json` (never the full state), so it stays fast
//! with thousands of runs. A run whose meta says `running` but whose lock holder is gone (a
//! crash, `kill -9`, a reboot) is shown as `interrupted`: the file cannot know it died, the
//! lock can.

use std::io::{BufWriter, Write};
use std::time::SystemTime;

use serde_json::json;

use super::DirArg;
use crate::error::OrxError;
use crate::git::Repo;
use crate::model::RunState;
use crate::report::render::secs;
use crate::runner::setup::open_run;
use crate::store::lock::holder_alive;
use crate::store::meta::Meta;
use crate::store::RunPaths;

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Show this run in detail.
    pub run_id: Option<String>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub dir: DirArg,
}

pub fn run(a: StatusArgs) -> Result<i32, OrxError> {
    let repo = Repo::discover(&a.dir.dir)?;
    match &a.run_id {
        Some(id) => detail(&repo, id, a.json),
        None => table(&repo, a.json),
    }
}

/// Every run's meta, newest first, with the live status corrected through the lock (shared
/// with the API through `crate::control::runs`).
pub fn list_runs(repo: &Repo) -> Vec<Meta> {
    crate::control::runs::list_metas(&repo.root)
}

fn live_status(status: &str, paths: &RunPaths) -> String {
    crate::control::runs::live_status(status, paths)
}

fn table(repo: &Repo, as_json: bool) -> Result<i32, OrxError> {
    let metas = list_runs(repo);
    let mut out = buffered_stdout();
    if as_json {
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string(&metas).unwrap_or_else(|_| "[]".into())
        );
        return Ok(0);
    }
    if metas.is_empty() {
        let _ = writeln!(out, "no runs yet; start one with `orx run \"task\"`");
        return Ok(0);
    }
    let _ = writeln!(
        out,
        "{:<24} {:<12} {:<10} {:<8} {:>6}  TASK",
        "ID", "STATUS", "STAGE", "ITEM", "AGE"
    );
    for m in metas {
        let _ = writeln!(
            out,
            "{:<24} {:<12} {:<10} {:<8} {:>6}  {}",
            m.run_id,
            m.status,
            m.stage.as_deref().unwrap_or("-"),
            m.item.as_deref().unwrap_or("-"),
            age(&m.created_at),
            m.task.chars().take(60).collect::<String>()
        );
    }
    let _ = out.flush();
    Ok(0)
}

/// Locked stdout behind one buffer: a table of thousands of runs goes out in a few large
/// writes instead of one per line. Flushed at the end (or when dropped, on an early return).
fn buffered_stdout() -> BufWriter<std::io::StdoutLock<'static>> {
    BufWriter::with_capacity(64 * 1024, std::io::stdout().lock())
}

/// "42s", "5m", "3h", "2d" since an RFC 3339 time.
pub fn age(ts: &str) -> String {
    let Ok(t) = humantime::parse_rfc3339_weak(ts) else {
        return "?".into();
    };
    let s = SystemTime::now()
        .duration_since(t)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=86_399 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

fn detail(repo: &Repo, id: &str, as_json: bool) -> Result<i32, OrxError> {
    let paths = open_run(repo, id)?;
    let mut state = RunState::load(&paths.state())?;
    let status = live_status(state.status.as_str(), &paths);
    let mut out = buffered_stdout();
    if as_json {
        let mut v = serde_json::to_value(&state).unwrap_or_else(|_| json!({}));
        v["live_status"] = json!(status);
        v["pid"] = json!(holder_alive(&paths.lock()));
        let _ = writeln!(out, "{v}");
        return Ok(0);
    }
    state.task = crate::store::meta::headline(&state.task);
    let _ = writeln!(out, "run       {}", state.run_id);
    let _ = writeln!(
        out,
        "status    {status}{}",
        holder_alive(&paths.lock())
            .map(|p| format!(" (pid {p})"))
            .unwrap_or_default()
    );
    let _ = writeln!(out, "task      {}", state.task);
    let _ = writeln!(
        out,
        "engine    {}{}",
        state.engine,
        state
            .model
            .as_ref()
            .map(|m| format!(" ({m})"))
            .unwrap_or_default()
    );
    let _ = writeln!(
        out,
        "branch    {} from {} ({})",
        state.worktree.branch,
        state.worktree.base_branch,
        &state.worktree.base_sha[..state.worktree.base_sha.len().min(10)]
    );
    let _ = writeln!(out, "worktree  {}", state.worktree.path.display());
    if let (Some(remote), Some(sha)) = (&state.ship.remote, &state.ship.pushed_sha) {
        let _ = writeln!(
            out,
            "pushed    to {remote} at {}",
            sha.chars().take(10).collect::<String>()
        );
    }
    if let Some(url) = &state.ship.pr_url {
        let _ = writeln!(out, "pr        {url}");
    }
    let _ = writeln!(
        out,
        "created   {} ({} ago), resumed {} time(s)",
        state.created_at,
        age(&state.created_at),
        state.resumes
    );
    let _ = writeln!(
        out,
        "\nSTAGE      STATUS    ATTEMPTS  DURATION  TOKENS   COST"
    );
    for r in &state.stages {
        let _ = writeln!(
            out,
            "{:<10} {:<9} {:>8}  {:>8}  {:>6}  ${:.4}{}",
            r.stage.as_str(),
            r.status,
            r.attempts,
            secs(r.duration_ms),
            r.usage.total_tokens(),
            r.usage.cost_usd,
            if state.current_stage == Some(r.stage) && status != "succeeded" {
                "  ◀"
            } else {
                ""
            }
        );
    }
    if !state.items.is_empty() {
        let _ = writeln!(
            out,
            "\nITEM     STATUS       ATTEMPTS  GATES                    TITLE"
        );
        for i in &state.items {
            let gates = i.gate_marks("");
            let _ = writeln!(
                out,
                "{:<8} {:<12} {:>8}  {:<24} {}",
                i.id,
                i.status,
                i.attempts,
                gates.join(" "),
                i.title
            );
        }
    }
    let _ = write!(out, "{}", lanes_table(&state));
    let _ = write!(out, "{}", candidates_table(&state));
    let _ = writeln!(
        out,
        "
usage     {}",
        state.usage.describe()
    );
    if state.status == crate::model::RunStatus::Partial {
        let _ = writeln!(
            out,
            "left out  {} (shipped without them)",
            super::summary::left_out(&state)
        );
    }
    if let Some(f) = &state.last_failure {
        let _ = writeln!(out, "failure   [{}] {}: {}", f.stage, f.reason, f.message);
        if let Some(p) = &f.evidence_path {
            let _ = writeln!(out, "evidence  {}", paths.dir.join(p).display());
        }
    }
    if let Some(c) = state
        .checkpoint
        .as_ref()
        .filter(|_| status == "awaiting_approval")
    {
        let output = crate::runner::approval::output_of(&state, c.stage);
        let _ = writeln!(
            out,
            "awaiting  approval of {}: read runs/{}/{output}, then `orx approve {}` or `orx reject {} --feedback TEXT`",
            c.stage, state.run_id, state.run_id, state.run_id
        );
    }
    let _ = writeln!(out, "folder    {}", paths.dir.display());
    let _ = out.flush();
    Ok(0)
}

/// The parallel lanes open now, one line each: item, attempt, phase and worktree.
fn lanes_table(state: &RunState) -> String {
    if state.lanes.is_empty() {
        return String::new();
    }
    let mut s = String::from("\nLANE     ATTEMPT  PHASE      WORKTREE\n");
    for l in &state.lanes {
        s.push_str(&format!(
            "{:<8} {:>7}  {:<10} {}\n",
            l.item,
            l.attempt,
            l.phase,
            l.path.display()
        ));
    }
    s
}

/// Best-of-N: every item's candidates, one line each (item, number, executor, attempt, phase,
/// passed), then the choice made for each item and why.
fn candidates_table(state: &RunState) -> String {
    if state.candidates.is_empty() {
        return String::new();
    }
    let mut s = String::from("\nCANDIDATE  EXECUTOR  ATTEMPT  PHASE      PASSED\n");
    for c in &state.candidates {
        let passed = match c.passed {
            Some(true) => "yes",
            Some(false) => "no",
            None => "-",
        };
        s.push_str(&format!(
            "{:<10} {:<9} {:>7}  {:<10} {passed}\n",
            crate::model::candidate::key(&c.item, c.n),
            c.executor,
            c.attempt,
            c.phase,
        ));
    }
    for ch in &state.choices {
        s.push_str(&format!(
            "{} chose candidate {} ({}): {}\n",
            ch.item, ch.n, ch.how, ch.reason
        ));
    }
    s
}
