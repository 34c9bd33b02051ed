//! The repository's list of worktrees, read from git's own registry files instead of asking
//! `git worktree list`.
//!
//! Every run start and every `orx clean` asks which worktrees exist and on which branch, and a
//! git process for that costs more than the whole answer: the registry is a folder per linked
//! worktree under `<common_dir>/worktrees/<name>/`, holding `gitdir` (the path of the
//! worktree's `.git` file, absolute or, since git 2.48's `worktree.useRelativePaths`, relative
//! to that folder) and `HEAD` (`ref: refs/heads/<branch>` or a detached sha). This reads those
//! two files the way git's own `get_linked_worktree` does, with the main checkout first, as
//! `git worktree list` orders them. An entry whose `gitdir` cannot be read is skipped, as git
//! skips it; a worktree whose folder is gone is still listed (git calls it prunable), so the
//! callers can tell a lost folder from an unknown one.

use std::path::{Path, PathBuf};

use super::error::Result;
use super::Repo;
use crate::error::file::FileError;

impl Repo {
    /// Every worktree of the repository (the main checkout first) with its branch, if any.
    pub fn list_worktrees(&self) -> Result<Vec<(PathBuf, Option<String>)>> {
        let mut out = Vec::new();
        // The main checkout is the folder holding the common `.git`; a bare repository has
        // none, and orx never runs in one (`Repo::discover` refuses it).
        if self.common_dir.file_name().is_some_and(|n| n == ".git") {
            if let Some(main) = self.common_dir.parent() {
                out.push((main.to_path_buf(), branch_of(&self.common_dir.join("HEAD"))));
            }
        }
        let registry = self.common_dir.join("worktrees");
        let entries = match std::fs::read_dir(&registry) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(FileError::own("list", &registry, e).into()),
        };
        let mut admins: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        // git lists them in the order of its directory read; sorted is stable across calls.
        admins.sort();
        for admin in admins {
            if let Some(path) = worktree_path(&admin) {
                out.push((path, branch_of(&admin.join("HEAD"))));
            }
        }
        Ok(out)
    }
}

/// The top-level folder of the linked worktree whose registry folder is `admin`.
fn worktree_path(admin: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(admin.join("gitdir")).ok()?;
    let gitdir = Path::new(text.trim_end_matches(['\n', '\r']));
    if gitdir.as_os_str().is_empty() {
        return None;
    }
    let gitdir = if gitdir.is_absolute() {
        gitdir.to_path_buf()
    } else {
        super::normalize(&admin.join(gitdir))
    };
    // `gitdir` names the worktree's `.git` file; the worktree is the folder holding it.
    match gitdir.file_name() {
        Some(n) if n == ".git" => gitdir.parent().map(Path::to_path_buf),
        _ => Some(gitdir),
    }
}

/// The short branch name a `HEAD` file points at; `None` when detached or unreadable.
fn branch_of(head: &Path) -> Option<String> {
    let text = std::fs::read_to_string(head).ok()?;
    let target = text.trim_end().strip_prefix("ref:")?.trim_start();
    Some(
        target
            .strip_prefix("refs/heads/")
            .unwrap_or(target)
            .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::super::normalize;
    use super::super::testutil::{repo, sh};
    use super::*;

    /// `git worktree list --porcelain`, the answer the registry read must equal.
    fn git_says(dir: &Path) -> Vec<(PathBuf, Option<String>)> {
        let mut out: Vec<(PathBuf, Option<String>)> = Vec::new();
        for line in sh(dir, &["worktree", "list", "--porcelain"]).lines() {
            if let Some(path) = line.strip_prefix("worktree ") {
                out.push((normalize(Path::new(path)), None));
            } else if let Some(branch) = line.strip_prefix("branch ") {
                if let Some(last) = out.last_mut() {
                    let short = branch.strip_prefix("refs/heads/").unwrap_or(branch);
                    last.1 = Some(short.to_string());
                }
            }
        }
        out.sort();
        out
    }

    fn listed(r: &Repo) -> Vec<(PathBuf, Option<String>)> {
        let mut out: Vec<_> = r
            .list_worktrees()
            .unwrap()
            .into_iter()
            .map(|(p, b)| (normalize(&p), b))
            .collect();
        out.sort();
        out
    }

    #[test]
    fn the_registry_read_lists_what_git_lists() {
        let tmp = repo();
        let r = Repo::discover(tmp.path()).unwrap();
        assert_eq!(listed(&r), git_says(tmp.path()));
        sh(
            tmp.path(),
            &["worktree", "add", "-q", "-b", "orx/a", "wt-a"],
        );
        sh(tmp.path(), &["worktree", "add", "-q", "--detach", "wt-b"]);
        sh(
            tmp.path(),
            &["worktree", "add", "-q", "-b", "orx/c", "wt-c"],
        );
        // A worktree whose folder was deleted is still registered (prunable), in both answers.
        std::fs::remove_dir_all(tmp.path().join("wt-c")).unwrap();
        let ours = listed(&r);
        assert_eq!(ours, git_says(tmp.path()));
        assert_eq!(ours.len(), 4);
        assert!(ours.contains(&(normalize(&tmp.path().join("wt-a")), Some("orx/a".into()))));
        assert!(ours.contains(&(normalize(&tmp.path().join("wt-b")), None)));
        // The main checkout comes first, on its branch.
        let first = r.list_worktrees().unwrap().remove(0);
        assert_eq!(normalize(&first.0), normalize(tmp.path()));
        assert_eq!(first.1.as_deref(), Some("main"));
        // Pruned, it is gone from both.
        sh(tmp.path(), &["worktree", "prune"]);
        assert_eq!(listed(&r), git_says(tmp.path()));
        assert_eq!(listed(&r).len(), 3);
    }
}
