//! `orx clean --orphans`: what runs leave outside their folder once the folder was deleted by
//! hand: the worktree under `.worktrees/<id>`, the lanes under `.worktrees/<id>.lanes/`, the
//! branches `orx/<id>` and `orx/<id>.lanes/<item>`, the refs under `refs/orx/<id>/` and
//! processes still naming the run (see `strays.rs`).

use std::path::Path;

use super::remove::dir_size;
use super::strays::kill_strays;
use crate::error::{OrxError, Result};
use crate::git::Repo;
use crate::store::layout::{is_valid_run_id, lanes_owner, RUNS_DIR, WORKTREES_DIR};
use crate::store::lock::holder_alive;
use crate::store::RunPaths;

/// What `--orphans` removed.
#[derive(Debug, Default)]
pub struct Orphans {
    pub worktrees: Vec<String>,
    pub branches: Vec<String>,
    pub refs: Vec<String>,
    pub processes: Vec<u32>,
    pub freed: u64,
}

/// Remove the worktrees, branches, refs and processes of runs whose folder is gone.
pub fn clean_orphans(repo: &Repo) -> Result<Orphans> {
    let root = &repo.root;
    let has_folder = |id: &str| root.join(RUNS_DIR).join(id).is_dir();
    // Processes first, so nothing is writing into a worktree while it is removed.
    let mut out = Orphans {
        processes: kill_strays(root, &|id| {
            let paths = RunPaths::new(root, id);
            paths.dir.is_dir() && holder_alive(&paths.lock()).is_some()
        }),
        ..Orphans::default()
    };

    let wt_root = root.join(WORKTREES_DIR);
    for (path, _) in repo.list_worktrees()? {
        let Some(id) = run_id_under(&wt_root, &path) else {
            continue;
        };
        if !has_folder(&id) {
            out.freed += dir_size(&path);
            repo.remove_worktree(&path)?;
            out.worktrees.push(id);
        }
    }
    // Lanes of runs whose folder is gone: `.worktrees/<id>.lanes/<item>`, then the folder.
    if let Ok(rd) = std::fs::read_dir(&wt_root) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(id) = lanes_owner(&name).filter(|id| !has_folder(id)) else {
                continue;
            };
            out.freed += dir_size(&e.path());
            super::remove::remove_lanes(repo, &e.path())?;
            let id = id.to_string();
            if !out.worktrees.contains(&id) {
                out.worktrees.push(id);
            }
        }
    }
    // Folders under .worktrees/ that git no longer knows about.
    if let Ok(rd) = std::fs::read_dir(&wt_root) {
        for e in rd.flatten() {
            let id = e.file_name().to_string_lossy().into_owned();
            let path = e.path();
            if !is_valid_run_id(&id) || has_folder(&id) || !path.is_dir() {
                continue;
            }
            out.freed += dir_size(&path);
            std::fs::remove_dir_all(&path).map_err(|e| OrxError::io("remove", &path, e))?;
            repo.remove_worktree(&path)?; // forgets the registration, if any
            if !out.worktrees.contains(&id) {
                out.worktrees.push(id);
            }
        }
    }

    for full in repo.refs_under("refs/heads/orx/")? {
        let branch = full.trim_start_matches("refs/heads/").to_string();
        let name = branch.trim_start_matches("orx/");
        let id = lanes_owner(name).unwrap_or(name);
        if is_valid_run_id(id) && !has_folder(id) {
            repo.delete_branch(&branch)?;
            out.branches.push(branch);
        }
    }
    let mut ref_ids: Vec<String> = repo
        .refs_under("refs/orx/")?
        .iter()
        .filter_map(|r| {
            r.strip_prefix("refs/orx/")?
                .split('/')
                .next()
                .map(String::from)
        })
        .collect();
    ref_ids.dedup();
    for id in ref_ids {
        if is_valid_run_id(&id) && !has_folder(&id) {
            repo.delete_refs_with_prefix(&format!("refs/orx/{id}/"))?;
            out.refs.push(format!("refs/orx/{id}/"));
        }
    }
    Ok(out)
}

/// The run id of a worktree path directly under `wt_root`.
fn run_id_under(wt_root: &Path, path: &Path) -> Option<String> {
    let parent = path.parent()?;
    if !same_dir(parent, wt_root) {
        return None;
    }
    let id = path.file_name()?.to_string_lossy().into_owned();
    is_valid_run_id(&id).then_some(id)
}

fn same_dir(a: &Path, b: &Path) -> bool {
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    canon(a) == canon(b)
}
