//! `orx clean [RUN_ID|all] [--older-than DURATION] [--orphans] [--keep-branch]`: remove runs
//! and report the space freed.
//!
//! This file only chooses and prints; the removal itself is `crate::runs`, which takes the
//! run's lock first, so it can never pull a worktree out from under a live run or race a
//! resume: a busy run is refused (or, with `all`, skipped and reported). It removes the
//! worktree, the `orx/<id>` branch (unless `--keep-branch`), the run's snapshot refs under
//! `refs/orx/<id>/`, and the run folder. `--older-than` and `--orphans` choose what to remove
//! through the same module, which also holds the `retention:` policy `orx run` applies.

use std::io::Write;

use super::DirArg;
use crate::error::{ErrorKind, OrxError};
use crate::git::Repo;
use crate::runner::setup::open_run;
use crate::runs::{clean_orphans, list_runs, older_than, parse_age, remove_run, run_ids};
use crate::text::human_bytes;

#[derive(Debug, clap::Args)]
pub struct CleanArgs {
    /// A run id, or `all`. Optional with --older-than or --orphans.
    pub target: Option<String>,
    /// Remove runs created longer ago than this (e.g. 7d, 12h, 30m); live runs are kept.
    #[arg(long, value_name = "DURATION")]
    pub older_than: Option<String>,
    /// Remove worktrees, `orx/*` branches, `refs/orx/*` refs and processes of runs whose run
    /// folder is gone.
    #[arg(long)]
    pub orphans: bool,
    /// Keep the `orx/<id>` branch (and its commits).
    #[arg(long)]
    pub keep_branch: bool,
    #[command(flatten)]
    pub dir: DirArg,
}

pub fn run(a: CleanArgs) -> Result<i32, OrxError> {
    let repo = Repo::discover(&a.dir.dir)?;
    if a.target.is_none() && a.older_than.is_none() && !a.orphans {
        return Err(OrxError::usage("tell `orx clean` what to remove")
            .with_hint("give a run id, `all`, --older-than 7d, or --orphans"));
    }
    let age = a.older_than.as_deref().map(parse_age).transpose()?;
    let mut ids: Vec<String> = match a.target.as_deref() {
        Some("all") => run_ids(&repo.root),
        Some(id) => {
            open_run(&repo, id)?;
            vec![id.to_string()]
        }
        None => Vec::new(),
    };
    let single = a.target.as_deref().is_some_and(|t| t != "all");
    if let Some(age) = age {
        let runs = list_runs(&repo.root);
        for id in older_than(&runs, std::time::SystemTime::now(), age) {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    let mut freed = 0u64;
    let mut cleaned = 0;
    let mut out = std::io::stdout().lock();
    for id in &ids {
        match remove_run(&repo, id, a.keep_branch) {
            Ok(bytes) => {
                freed += bytes;
                cleaned += 1;
                let _ = writeln!(out, "removed {id}");
            }
            Err(e) if !single && e.kind == ErrorKind::Busy => {
                let _ = writeln!(out, "skipped {id}: {}", e.message);
            }
            Err(e) => return Err(e),
        }
    }
    if a.orphans {
        let o = clean_orphans(&repo)?;
        for id in &o.worktrees {
            let _ = writeln!(out, "removed orphan worktree .worktrees/{id}");
        }
        for b in &o.branches {
            let _ = writeln!(out, "removed orphan branch {b}");
        }
        for r in &o.refs {
            let _ = writeln!(out, "removed orphan refs {r}");
        }
        for pid in &o.processes {
            let _ = writeln!(out, "killed stray process {pid}");
        }
        freed += o.freed;
        let _ = writeln!(
            out,
            "orphans: {} worktree(s), {} branch(es), {} ref set(s), {} process(es)",
            o.worktrees.len(),
            o.branches.len(),
            o.refs.len(),
            o.processes.len()
        );
    }
    let _ = writeln!(
        out,
        "cleaned {cleaned} run(s), freed {}",
        human_bytes(freed)
    );
    Ok(0)
}
