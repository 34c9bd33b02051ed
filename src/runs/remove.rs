//! Removing runs and measuring what that frees.
//!
//! Removal takes the run's lock first, so it can never pull a worktree out from under a live
//! run or race a resume: a busy run is an `ErrorKind::Busy` error (skipped and reported when
//! removing several). It stops what a dead driver left running, then removes the worktree, the
//! `orx/<id>` branch (unless kept), the snapshot refs under `refs/orx/<id>/`, the run folder
//! and what `orx serve` kept about launching it; with the run's parallel lanes, their
//! worktrees (`.worktrees/<id>.lanes/`) and, unless kept, their branches. Only a run is
//! removed: a folder under `runs/` that the listing does not count as one is refused, whoever
//! asks.

use std::path::Path;

use super::list::is_run;
use super::strays::stop_leftovers;
use crate::error::{ErrorKind, OrxError, Result};
use crate::git::Repo;
use crate::store::layout::{LAUNCH_DIR, RUNS_DIR};
use crate::store::lock::RunLock;
use crate::store::RunPaths;

/// Remove one run; returns the bytes freed. A folder that is not a run ([`is_run`]) is
/// refused before anything is touched (taking the lock would create a file in it).
pub fn remove_run(repo: &Repo, id: &str, keep_branch: bool) -> Result<u64> {
    if !is_run(&repo.root, id) {
        return Err(OrxError::usage(format!("unknown run id `{id}`"))
            .with_hint("list runs with `orx status`"));
    }
    let paths = RunPaths::new(&repo.root, id);
    let lock = RunLock::acquire(&paths.lock(), id)?;
    stop_leftovers(&repo.root, id);
    // Deleting a ref or a worktree would trip over a lock a killed write left on it.
    repo.clear_stale_locks(id, &paths.worktree);
    let bytes = dir_size(&paths.dir) + dir_size(&paths.worktree) + dir_size(&paths.lanes_dir());
    repo.remove_worktree(&paths.worktree)?;
    remove_lanes(repo, &paths.lanes_dir())?;
    if !keep_branch {
        repo.delete_branch(&paths.branch())?;
        repo.delete_refs_with_prefix(&format!("refs/heads/{}", paths.lane_branch("")))?;
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
    let launch = repo.root.join(RUNS_DIR).join(LAUNCH_DIR);
    for f in [format!("{id}.log"), format!("{id}.task.md")] {
        let _ = std::fs::remove_file(launch.join(f));
    }
    Ok(bytes)
}

/// Remove the lane worktrees under `lanes_dir` (`.worktrees/<id>.lanes`) and the folder.
pub(super) fn remove_lanes(repo: &Repo, lanes_dir: &Path) -> Result<()> {
    let Ok(rd) = std::fs::read_dir(lanes_dir) else {
        return Ok(()); // no lanes
    };
    for e in rd.flatten() {
        repo.remove_worktree(&e.path())?;
    }
    match std::fs::remove_dir_all(lanes_dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(OrxError::io("remove", lanes_dir, e))
        }
        _ => Ok(()),
    }
}

/// What removing a list of runs did.
#[derive(Debug, Default)]
pub struct Removal {
    pub removed: Vec<String>,
    /// Runs that could not be removed, with why (busy).
    pub skipped: Vec<(String, String)>,
    pub freed: u64,
}

/// Remove each run (skipping busy ones).
pub fn remove_runs(repo: &Repo, ids: &[String], keep_branch: bool) -> Result<Removal> {
    let mut out = Removal::default();
    for id in ids {
        match remove_run(repo, id, keep_branch) {
            Ok(bytes) => {
                out.freed += bytes;
                out.removed.push(id.clone());
            }
            Err(e) if e.kind == ErrorKind::Busy => out.skipped.push((id.clone(), e.message)),
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// The bytes under `p` (a file's own length; symlinks are not followed).
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
