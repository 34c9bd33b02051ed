//! The user's repository as orx sees it: where it is, which commits and branches it has, and
//! the refs orx keeps in it.
//!
//! A [`Repo`] is found once from the folder orx was started in and then only read, except for
//! what orx itself owns: the `/runs/` and `/.worktrees/` lines in `info/exclude` (so the user's
//! `git status` stays clean without editing their `.gitignore`), the `orx/<run_id>` branches
//! and the `refs/orx/...` refs. Worktree management lives next door in `worktree.rs`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::error::{GitError, Result};
use super::handle::{self, with_repo};
use super::Git;
use crate::error::file::FileError;

/// A git repository: the main checkout's top level and the shared `.git` folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repo {
    /// Top level of the checkout orx was started in.
    pub root: PathBuf,
    /// The folder shared by all worktrees (`.git` of the main checkout), absolute.
    pub common_dir: PathBuf,
    /// The run whose lock this process holds, once it does ([`Repo::for_run`]).
    pub run_id: Option<Arc<str>>,
}

impl Repo {
    /// The repository containing `dir`.
    pub fn discover(dir: &Path) -> Result<Repo> {
        let not_a_repo = || GitError::NotARepository {
            dir: dir.to_path_buf(),
        };
        if !dir.is_dir() {
            return Err(not_a_repo());
        }
        let repo = match handle::open(dir) {
            Ok(repo) => repo,
            Err(e) if e.code() == git2::ErrorCode::NotFound => return Err(not_a_repo()),
            Err(e) => return Err(handle::failure(dir, "rev-parse --show-toplevel", e)),
        };
        // A bare repository has no work tree to run in.
        let Some(root) = repo.workdir() else {
            return Err(not_a_repo());
        };
        Ok(Repo {
            root: super::normalize(root),
            common_dir: super::normalize(repo.commondir()),
            run_id: None,
        })
    }

    /// The same repository, for the driver of run `run_id` (which holds its lock): the git
    /// processes it and its worktrees start are that run's ([`Git::run_id`]).
    pub fn for_run(&self, run_id: &str) -> Repo {
        Repo {
            run_id: Some(Arc::from(run_id)),
            ..self.clone()
        }
    }

    /// The runner for calls made at the repository root.
    pub(crate) fn git(&self) -> Git {
        Git::new(&self.root).in_run(self.run_id.clone())
    }

    /// The branch checked out in the main checkout, `None` when HEAD is detached.
    pub fn current_branch(&self) -> Result<Option<String>> {
        with_repo(&self.git(), "symbolic-ref -q --short HEAD", |repo| {
            let head = repo.find_reference("HEAD")?;
            Ok(head
                .symbolic_target()?
                .map(|t| t.strip_prefix("refs/heads/").unwrap_or(t).to_string()))
        })
    }

    /// The full sha of the commit `rev` names (a branch, tag or sha).
    pub fn resolve_commit(&self, rev: &str) -> Result<String> {
        let op = format!("rev-parse --verify {rev}^{{commit}}");
        let found = with_repo(&self.git(), &op, |repo| {
            if rev.is_empty() || rev.starts_with('-') {
                return Ok(None);
            }
            match repo.revparse_single(rev).and_then(|o| o.peel_to_commit()) {
                Ok(c) => Ok(Some(c.id().to_string())),
                Err(e) if is_missing(&e) => Ok(None),
                Err(e) => Err(e),
            }
        })?;
        match found {
            Some(sha) => Ok(sha),
            None => Err(GitError::UnknownBaseBranch {
                rev: rev.to_string(),
                branches: self.local_branches(5)?,
            }),
        }
    }

    /// Up to `limit` local branch names, in ref order.
    fn local_branches(&self, limit: usize) -> Result<Vec<String>> {
        let mut names = self.refs_under("refs/heads/")?;
        names.truncate(limit);
        Ok(names
            .into_iter()
            .map(|n| n.trim_start_matches("refs/heads/").to_string())
            .collect())
    }

    /// Make sure each pattern is a line of `<common_dir>/info/exclude`.
    ///
    /// Missing lines are appended in a single `write` on a file opened with `O_APPEND`, so two
    /// orx processes doing this at once cannot interleave partial lines (at worst a line is
    /// listed twice, which git does not mind).
    pub fn ensure_excluded(&self, patterns: &[&str]) -> Result<()> {
        let info = self.common_dir.join("info");
        let path = info.join("exclude");
        let existing = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(FileError::own("read", &path, e).into()),
        };
        let present: Vec<&str> = existing.lines().map(str::trim).collect();
        let mut add = String::new();
        for pattern in patterns {
            let pattern = pattern.trim();
            if pattern.is_empty() || present.contains(&pattern) || add.lines().any(|l| l == pattern)
            {
                continue;
            }
            add.push_str(pattern);
            add.push('\n');
        }
        if add.is_empty() {
            return Ok(());
        }
        if !existing.is_empty() && !existing.ends_with('\n') {
            add.insert(0, '\n');
        }
        std::fs::create_dir_all(&info).map_err(|e| FileError::own("create", &info, e))?;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| FileError::own("open", &path, e))?;
        file.write_all(add.as_bytes())
            .map_err(|e| FileError::own("append to", &path, e).into())
    }

    /// Whether `refs/heads/<branch>` exists.
    pub fn branch_exists(&self, branch: &str) -> Result<bool> {
        let full = format!("refs/heads/{branch}");
        let op = format!("show-ref --verify {full}");
        with_repo(&self.git(), &op, |repo| exists(repo, &full))
    }

    /// Delete a local branch; a branch that does not exist is already deleted.
    pub fn delete_branch(&self, branch: &str) -> Result<()> {
        if !self.branch_exists(branch)? {
            return Ok(());
        }
        self.git()
            .run(["branch", "-q", "-D", "--", branch])
            .map(drop)
    }

    /// Delete one ref such as `refs/orx/<run_id>/wip`; a missing ref is already deleted.
    pub fn delete_ref(&self, name: &str) -> Result<()> {
        let op = format!("update-ref -d {name}");
        with_repo(&self.git(), &op, |repo| match repo.find_reference(name) {
            Ok(mut r) => r.delete(),
            Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(()),
            Err(e) => Err(e),
        })
    }

    /// Delete every ref under `prefix` (such as `refs/orx/<run_id>/`) in one transaction.
    pub fn delete_refs_with_prefix(&self, prefix: &str) -> Result<()> {
        let script: String = self
            .refs_to("delete", prefix)?
            .iter()
            .map(|r| format!("delete {r}\n"))
            .collect();
        if script.is_empty() {
            return Ok(());
        }
        self.git()
            .call(["update-ref", "--stdin"])
            .stdin(script)
            .run()
            .map(drop)
    }
}

/// Whether the ref `full` exists.
pub(super) fn exists(
    repo: &git2::Repository,
    full: &str,
) -> std::result::Result<bool, git2::Error> {
    match repo.find_reference(full) {
        Ok(_) => Ok(true),
        Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Whether a failed lookup means "no such object or ref" (an answer) rather than a broken
/// repository (an error).
fn is_missing(e: &git2::Error) -> bool {
    matches!(
        e.code(),
        git2::ErrorCode::NotFound | git2::ErrorCode::Ambiguous | git2::ErrorCode::InvalidSpec
    ) || matches!(
        e.class(),
        git2::ErrorClass::Reference | git2::ErrorClass::Object
    )
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{repo, sh, status};
    use super::*;

    #[test]
    fn discover_outside_a_repository_says_so() {
        let tmp = tempfile::tempdir().unwrap();
        let err = Repo::discover(tmp.path()).unwrap_err();
        assert!(
            matches!(&err, GitError::NotARepository { dir } if dir == tmp.path()),
            "{err:?}"
        );
        assert!(
            err.to_string().ends_with("is not inside a git repository"),
            "{err}"
        );
        let missing = Repo::discover(&tmp.path().join("nope")).unwrap_err();
        assert!(
            matches!(missing, GitError::NotARepository { .. }),
            "{missing:?}"
        );
    }

    #[test]
    fn discover_from_a_subfolder_finds_the_top_level() {
        let tmp = repo();
        let sub = tmp.path().join("deep/er");
        std::fs::create_dir_all(&sub).unwrap();
        let found = Repo::discover(&sub).unwrap();
        let top = tmp.path().canonicalize().unwrap();
        assert_eq!(found.root, top);
        assert_eq!(found.common_dir, top.join(".git"));
    }

    #[test]
    fn current_branch_is_none_when_detached() {
        let tmp = repo();
        let r = Repo::discover(tmp.path()).unwrap();
        assert_eq!(r.current_branch().unwrap().as_deref(), Some("main"));
        sh(tmp.path(), &["checkout", "-q", "--detach"]);
        assert_eq!(r.current_branch().unwrap(), None);
    }

    #[test]
    fn resolve_commit_gives_full_shas_and_lists_branches_for_unknown_ones() {
        let tmp = repo();
        sh(tmp.path(), &["branch", "feature"]);
        let r = Repo::discover(tmp.path()).unwrap();
        let head = sh(tmp.path(), &["rev-parse", "HEAD"]);
        assert_eq!(r.resolve_commit("main").unwrap(), head);
        assert_eq!(r.resolve_commit(&head[..8]).unwrap(), head);
        for bad in ["nope", "--all", ""] {
            let err = r.resolve_commit(bad).unwrap_err();
            assert_eq!(err.to_string(), format!("unknown base branch `{bad}`"));
            let GitError::UnknownBaseBranch { rev, branches } = err else {
                panic!("{err:?}")
            };
            assert_eq!(rev, bad);
            assert_eq!(branches, ["feature", "main"]);
        }
    }

    #[test]
    fn ensure_excluded_is_idempotent_and_hides_orx_folders() {
        let tmp = repo();
        let r = Repo::discover(tmp.path()).unwrap();
        let exclude = r.common_dir.join("info/exclude");
        // A file without a final newline must not get its last line glued to ours.
        std::fs::write(&exclude, "*.tmp").unwrap();
        r.ensure_excluded(&["/runs/", "/.worktrees/"]).unwrap();
        r.ensure_excluded(&["/runs/", "/.worktrees/"]).unwrap();
        let text = std::fs::read_to_string(&exclude).unwrap();
        assert_eq!(text, "*.tmp\n/runs/\n/.worktrees/\n");
        std::fs::create_dir_all(tmp.path().join("runs/x")).unwrap();
        std::fs::write(tmp.path().join("runs/x/state.json"), "{}").unwrap();
        std::fs::create_dir_all(tmp.path().join(".worktrees/x")).unwrap();
        std::fs::write(tmp.path().join(".worktrees/x/f"), "f").unwrap();
        assert_eq!(status(tmp.path()), "");
    }

    #[test]
    fn ensure_excluded_creates_a_missing_info_folder() {
        let tmp = repo();
        let r = Repo::discover(tmp.path()).unwrap();
        let _ = std::fs::remove_dir_all(r.common_dir.join("info"));
        r.ensure_excluded(&["/runs/"]).unwrap();
        let text = std::fs::read_to_string(r.common_dir.join("info/exclude")).unwrap();
        assert_eq!(text, "/runs/\n");
    }

    #[test]
    fn branches_and_refs_can_be_deleted_twice() {
        let tmp = repo();
        let r = Repo::discover(tmp.path()).unwrap();
        sh(tmp.path(), &["branch", "orx/r1"]);
        assert!(r.branch_exists("orx/r1").unwrap());
        r.delete_branch("orx/r1").unwrap();
        r.delete_branch("orx/r1").unwrap();
        assert!(!r.branch_exists("orx/r1").unwrap());

        sh(tmp.path(), &["update-ref", "refs/orx/r1/wip", "HEAD"]);
        sh(tmp.path(), &["update-ref", "refs/orx/r1/item/1", "HEAD"]);
        sh(tmp.path(), &["update-ref", "refs/orx/r2/wip", "HEAD"]);
        r.delete_ref("refs/orx/r2/wip").unwrap();
        r.delete_ref("refs/orx/r2/wip").unwrap();
        r.delete_refs_with_prefix("refs/orx/r1/").unwrap();
        r.delete_refs_with_prefix("refs/orx/r1/").unwrap();
        let left = sh(tmp.path(), &["for-each-ref", "refs/orx/"]);
        assert_eq!(left, "");
        assert!(r.delete_refs_with_prefix("heads/").is_err());
    }
}
