//! `orx clean [RUN_ID|all] [--older-than DURATION] [--orphans] [--keep-branch]`: remove runs
//! and report the space freed.
//!
//! Cleaning takes the run's lock first, so it can never pull a worktree out from under a live
//! run or race a resume: a busy run is refused (or, with `all`, skipped and reported). It
//! removes the worktree, the `orx/<id>` branch (unless `--keep-branch`), the run's snapshot
//! refs under `refs/orx/<id>/`, and the run folder. `--older-than` and `--orphans` choose what
//! to remove through `crate::cleanup`, which also holds the `retention:` policy `orx run` applies.

use std::io::Write;
use std::path::Path;

use super::DirArg;
use crate::error::{ErrorKind, OrxError};
use crate::git::Repo;
use crate::runner::setup::open_run;
use crate::store::layout::RUNS_DIR;
use crate::store::lock::RunLock;
use crate::store::RunPaths;

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
    let age = a
        .older_than
        .as_deref()
        .map(crate::cleanup::parse_age)
        .transpose()?;
    let mut ids: Vec<String> = match a.target.as_deref() {
        Some("all") => {
            let mut ids: Vec<String> = std::fs::read_dir(repo.root.join(RUNS_DIR))
                .map(|rd| {
                    rd.flatten()
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        // `runs/.launch` (orx serve's logs) and other non-runs are not runs.
                        .filter(|id| crate::store::layout::is_valid_run_id(id))
                        .collect()
                })
                .unwrap_or_default();
            ids.sort();
            ids
        }
        Some(id) => {
            open_run(&repo, id)?;
            vec![id.to_string()]
        }
        None => Vec::new(),
    };
    let single = a.target.as_deref().is_some_and(|t| t != "all");
    if let Some(age) = age {
        let runs = crate::cleanup::list_runs(&repo.root);
        for id in crate::cleanup::older_than(&runs, std::time::SystemTime::now(), age) {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    let mut freed = 0u64;
    let mut cleaned = 0;
    let mut out = std::io::stdout().lock();
    for id in &ids {
        match clean_one(&repo, id, a.keep_branch) {
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
        let o = crate::cleanup::clean_orphans(&repo)?;
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

/// Remove one run; returns the bytes freed.
pub fn clean_one(repo: &Repo, id: &str, keep_branch: bool) -> Result<u64, OrxError> {
    let paths = RunPaths::new(&repo.root, id);
    let lock = RunLock::acquire(&paths.lock(), id)?;
    crate::cleanup::stop_leftovers(&repo.root, id);
    let bytes = dir_size(&paths.dir) + dir_size(&paths.worktree);
    repo.remove_worktree(&paths.worktree)?;
    if !keep_branch {
        repo.delete_branch(&paths.branch())?;
    }
    repo.delete_refs_with_prefix(&format!("refs/orx/{id}/"))?;
    // Rename the folder away before letting go of the lock: from then on a racing resume or
    // clean finds no run (or a void lock, see `RunLock`), never a half-removed folder into
    // which its `open(lock, O_CREAT)` would put a file that makes the removal fail.
    let trash = paths
        .dir
        .with_file_name(format!(".removing-{id}-{}", std::process::id()));
    std::fs::rename(&paths.dir, &trash).map_err(|e| OrxError::io("rename", &paths.dir, e))?;
    drop(lock);
    std::fs::remove_dir_all(&trash).map_err(|e| OrxError::io("remove", &trash, e))?;
    // What `orx serve` kept about launching it (runs/.launch/<id>.log, .task.md).
    let launch = repo
        .root
        .join(RUNS_DIR)
        .join(crate::control::launch::LAUNCH_DIR);
    for f in [format!("{id}.log"), format!("{id}.task.md")] {
        let _ = std::fs::remove_file(launch.join(f));
    }
    Ok(bytes)
}

pub fn dir_size(p: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(p) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(p)
        .map(|rd| rd.flatten().map(|e| dir_size(&e.path())).sum())
        .unwrap_or(0)
}

pub fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}
