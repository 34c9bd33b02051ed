//! The git queries behind worktree set-up and `orx clean --orphans`: which paths git ignores,
//! and which refs exist under a prefix.
//!
//! Kept in their own file because they serve the housekeeping around a run, not the run itself:
//! `worktree.copy` must only copy files the worktree ignores (anything else would be committed
//! by the next snapshot), and orphan cleaning lists `orx/*` branches and `refs/orx/*` refs to
//! find those whose run folder is gone.

use super::error::{GitError, Result};
use super::{Repo, Worktree};

impl Worktree {
    /// The subset of `paths` (relative to this worktree) that git ignores here. Tracked files
    /// are never reported as ignored.
    pub fn ignored(&self, paths: &[String]) -> Result<Vec<String>> {
        if paths.is_empty() {
            return Ok(Vec::new());
        }
        let mut input = Vec::new();
        for p in paths {
            input.extend_from_slice(p.as_bytes());
            input.push(0);
        }
        let git = self.git();
        let args = ["check-ignore", "-z", "--stdin"];
        let out = git.call(args).stdin(input).output()?;
        match out.code {
            // 0: some are ignored, 1: none is.
            Some(0) | Some(1) => Ok(String::from_utf8_lossy(&out.stdout)
                .split('\0')
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect()),
            _ => Err(git.failure(&args, &out)),
        }
    }
}

impl Repo {
    /// Full names of the refs under `prefix` (such as `refs/heads/orx/` or `refs/orx/`).
    pub fn refs_under(&self, prefix: &str) -> Result<Vec<String>> {
        self.refs_to("list", prefix)
    }

    /// [`refs_under`](Self::refs_under) for `action` (what the caller is about to do with
    /// them, named in the error when `prefix` is not under `refs/`).
    pub(super) fn refs_to(&self, action: &'static str, prefix: &str) -> Result<Vec<String>> {
        if !prefix.starts_with("refs/") {
            return Err(GitError::NotARefPrefix {
                action,
                prefix: prefix.to_string(),
            });
        }
        let op = format!("for-each-ref {prefix}");
        let mut names = super::handle::with_repo(&self.git(), &op, |repo| {
            let mut names = Vec::new();
            for r in repo.references()? {
                if let Ok(name) = r?.name() {
                    // for-each-ref's rule: the whole name, or a prefix ending at a slash.
                    let under = name.strip_prefix(prefix).is_some_and(|rest| {
                        rest.is_empty() || prefix.ends_with('/') || rest.starts_with('/')
                    });
                    if under {
                        names.push(name.to_string());
                    }
                }
            }
            Ok(names)
        })?;
        names.sort();
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{repo, sh};
    use super::*;

    #[test]
    fn ignored_reports_only_ignored_untracked_paths_and_refs_are_listed() {
        let tmp = repo();
        let r = Repo::discover(tmp.path()).unwrap();
        std::fs::write(tmp.path().join(".gitignore"), ".env.local\n").unwrap();
        let wt = r.worktree(&r.root);
        let got = wt
            .ignored(&[".env.local".into(), "a.txt".into(), "new.txt".into()])
            .unwrap();
        assert_eq!(got, vec![".env.local".to_string()]);
        assert!(wt.ignored(&[]).unwrap().is_empty());
        sh(tmp.path(), &["update-ref", "refs/orx/r1/wip", "HEAD"]);
        sh(tmp.path(), &["branch", "orx/r1"]);
        assert_eq!(r.refs_under("refs/orx/").unwrap(), vec!["refs/orx/r1/wip"]);
        assert_eq!(
            r.refs_under("refs/heads/orx/").unwrap(),
            vec!["refs/heads/orx/r1"]
        );
        assert!(r.refs_under("heads").is_err());
    }
}
