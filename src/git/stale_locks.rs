//! The lock files a killed orx leaves on what only its run writes, removed when the run is
//! taken up again.
//!
//! git and libgit2 change a ref, a reflog or an index by writing `<file>.lock` and renaming it
//! over the file. A SIGKILL between the two (of orx itself, whose ref and index writes are
//! in-process, or of a git it started) leaves the `.lock`, and every later write of that file
//! fails with "File exists" until someone deletes it. git leaves that to the person; for the
//! files only a run writes, orx cannot leave it to anyone, since a resume after a crash is the
//! whole point. Those files are the run's branches (`refs/heads/<branch>` and its lanes under
//! `<branch>.lanes/`), its refs under `refs/orx/<run id>/`, their reflogs, and the index, HEAD
//! and HEAD reflog of its own worktrees. Whoever holds the run's lock is their only writer (what
//! a killed driver left running is stopped before), so a `.lock` found there then is stale.
//! Nothing shared (`packed-refs`, `config`, another branch, another run) is touched: a git the
//! person runs may hold it.

use std::path::{Path, PathBuf};

use super::Repo;

impl Repo {
    /// Remove the stale lock files of the run `run_id` (branch `orx/<run_id>`) whose worktree is
    /// `worktree` (lanes beside it in `<worktree>.lanes/`); returns what was removed. Only for
    /// the holder of the run's lock.
    pub fn clear_stale_locks(&self, run_id: &str, worktree: &Path) -> Vec<PathBuf> {
        let common = &self.common_dir;
        let branch = format!("orx/{run_id}");
        let mut removed = Vec::new();
        for base in [common.to_path_buf(), common.join("logs")] {
            let heads = base.join("refs/heads");
            remove_lock(&heads.join(format!("{branch}.lock")), &mut removed);
            remove_locks_below(&heads.join(format!("{branch}.lanes")), &mut removed);
            remove_locks_below(&base.join("refs/orx").join(run_id), &mut removed);
        }
        let mut worktrees = vec![worktree.to_path_buf()];
        let mut lanes = worktree.as_os_str().to_owned();
        lanes.push(".lanes");
        if let Ok(entries) = std::fs::read_dir(PathBuf::from(lanes)) {
            worktrees.extend(entries.flatten().map(|e| e.path()));
        }
        for wt in worktrees {
            if let Some(admin) = admin_dir(&wt, common) {
                for file in ["index.lock", "HEAD.lock", "logs/HEAD.lock"] {
                    remove_lock(&admin.join(file), &mut removed);
                }
            }
        }
        for path in &removed {
            tracing::warn!(path = %path.display(), "removed a lock file a killed orx left");
        }
        removed
    }
}

/// The admin folder of the linked worktree at `wt` (`gitdir:` in its `.git` file), when it is
/// one of this repository's (under `<common>/worktrees/`).
fn admin_dir(wt: &Path, common: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(wt.join(".git")).ok()?;
    let dir = wt.join(text.strip_prefix("gitdir:")?.trim());
    let dir = std::fs::canonicalize(dir).ok()?;
    let worktrees = std::fs::canonicalize(common.join("worktrees")).ok()?;
    dir.starts_with(&worktrees).then_some(dir)
}

/// Remove `path` if it is a regular `.lock` file (never through a symlink).
fn remove_lock(path: &Path, removed: &mut Vec<PathBuf>) {
    let is_lock = path.extension().is_some_and(|e| e == "lock");
    let regular = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file());
    if is_lock && regular && std::fs::remove_file(path).is_ok() {
        removed.push(path.to_path_buf());
    }
}

/// Remove every `.lock` file below `dir` (not following symlinks).
fn remove_locks_below(dir: &Path, removed: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => remove_locks_below(&path, removed),
            Ok(t) if t.is_file() => remove_lock(&path, removed),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_runs_own_locks_are_removed() {
        let dir = crate::git::testutil::repo();
        let root = dir.path();
        let repo = Repo::discover(root).unwrap();
        let git = root.join(".git");
        let mine = [
            "refs/heads/orx/r1.lock",
            "refs/heads/orx/r1.lanes/W001.lock",
            "refs/orx/r1/snap/W001.lock",
            "logs/refs/heads/orx/r1.lock",
        ];
        let theirs = [
            "refs/heads/orx/r2.lock",
            "refs/heads/main.lock",
            "packed-refs.lock",
            "refs/orx/r2/x.lock",
            "refs/heads/orx/r1.lanes/W001",
        ];
        for f in mine.iter().chain(theirs.iter()) {
            let p = git.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, "").unwrap();
        }
        let removed = repo.clear_stale_locks("r1", &root.join(".worktrees/r1"));
        assert_eq!(removed.len(), mine.len(), "{removed:?}");
        for f in mine {
            assert!(!git.join(f).exists(), "{f}");
        }
        for f in theirs {
            assert!(git.join(f).exists(), "{f}");
        }
    }
}
