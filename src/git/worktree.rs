//! The run's own worktree: creating, finding and removing it, and the simple moves inside it.
//!
//! Each run gets `<root>/.worktrees/<run_id>` on branch `orx/<run_id>`, so the user's checkout,
//! index and current branch are never touched, and two runs never share files. Creation is
//! idempotent because `resume` calls it again: an existing worktree on the right branch is
//! reused, and a run branch whose folder was lost is checked out again rather than recreated
//! from the base, so its commits survive. Snapshots and commits live in `snapshot.rs`.
//!
//! Adding, removing and pruning worktrees take a repository-wide `flock`
//! (`<common_dir>/orx-worktrees.lock`): `git worktree prune` in one orx process treats another
//! process's half-created `.git/worktrees/<name>` as stale and deletes it, and the other `add`
//! then fails ("failed to read .../commondir"). Several runs starting at once in one
//! repository is a normal case (the concurrency benchmark starts 8), so these calls queue.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::error::{GitError, Result};
use super::handle::{resolve, tree_id, with_repo};
use super::{normalize, Git, Repo};
use crate::error::file::FileError;

/// A checked-out worktree (usually a run's), addressed by its top-level folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Worktree {
    pub path: PathBuf,
    /// The run whose git processes these are, as on the [`Repo`] it came from.
    pub run_id: Option<Arc<str>>,
}

/// Held while this process adds, removes or prunes worktrees; released on drop.
#[derive(Debug)]
pub struct WorktreesLock {
    _file: std::fs::File,
}

impl Repo {
    /// Wait for the repository-wide worktree lock (see the module note).
    pub fn worktrees_lock(&self) -> Result<WorktreesLock> {
        use std::os::unix::io::AsRawFd;
        let path = self.common_dir.join("orx-worktrees.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| FileError::own("open", &path, e))?;
        loop {
            // SAFETY: flock on a valid open descriptor has no memory-safety preconditions.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
            if rc == 0 {
                return Ok(WorktreesLock { _file: file });
            }
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::Interrupted {
                return Err(FileError::own("lock", &path, err).into());
            }
        }
    }

    /// Check out `base_sha` at `path` on a new branch `branch`.
    ///
    /// Already done (a worktree on `branch` at `path`) is success. If `branch` exists but has
    /// no worktree (its folder was deleted), it is checked out at `path` as it is.
    pub fn add_worktree(&self, path: &Path, branch: &str, base_sha: &str) -> Result<()> {
        let _guard = self.worktrees_lock()?;
        let want = normalize(path);
        let listed = self.list_worktrees()?;
        for (existing, on) in &listed {
            let (existing, on) = (existing.clone(), on.clone());
            if normalize(&existing) != want {
                continue;
            }
            if on.as_deref() == Some(branch) && existing.is_dir() {
                return Ok(());
            }
            if existing.is_dir() {
                let on = on.map_or("a detached HEAD".to_string(), |b| format!("branch `{b}`"));
                return Err(GitError::WorktreeTaken {
                    path: path.to_path_buf(),
                    on,
                    branch: branch.to_string(),
                });
            }
        }
        // Forget worktrees whose folders are gone, so their paths and branches are free again.
        // Only when one is: a registry whose folders all exist has nothing to prune.
        if listed.iter().any(|(p, _)| !p.is_dir()) {
            self.git().run(["worktree", "prune"])?;
        }
        // The new branch is made in-process: `worktree add -b` would start one more git
        // process (`git branch`) for a one-line ref file.
        if !self.branch_exists(branch)? {
            let op = format!("branch {branch} {base_sha}");
            with_repo(&self.git(), &op, |repo| {
                let commit = repo.revparse_single(base_sha)?.peel_to_commit()?;
                repo.branch(branch, &commit, false).map(drop)
            })?;
        }
        // `--no-checkout`: git's own checkout of a new worktree is one more git process
        // (`reset --hard`); orx writes the few files of a small tree itself where that is
        // exact, and runs that same reset where it is not.
        let args: [&OsStr; 6] = [
            "worktree".as_ref(),
            "add".as_ref(),
            "--no-checkout".as_ref(),
            "-q".as_ref(),
            path.as_os_str(),
            branch.as_ref(),
        ];
        self.git().run(args)?;
        let new = self.git().at(path);
        if !super::switch::fill_new(&new)? {
            new.run(["reset", "--hard", "--no-recurse-submodules", "--quiet"])?;
        }
        Ok(())
    }

    /// Remove the worktree at `path`, modified or not; a worktree already gone is fine.
    pub fn remove_worktree(&self, path: &Path) -> Result<()> {
        let _guard = self.worktrees_lock()?;
        let want = normalize(path);
        let registered = self
            .list_worktrees()?
            .into_iter()
            .any(|(p, _)| normalize(&p) == want);
        if registered && path.exists() {
            // Twice forced: also removes a worktree left locked by an interrupted `add`.
            let args: [&OsStr; 5] = [
                "worktree".as_ref(),
                "remove".as_ref(),
                "--force".as_ref(),
                "--force".as_ref(),
                path.as_os_str(),
            ];
            self.git().run(args)?;
        }
        super::handle::forget(path);
        self.git().run(["worktree", "prune"]).map(drop)
    }

    /// A handle on the worktree at `path` (nothing is checked).
    pub fn worktree(&self, path: &Path) -> Worktree {
        Worktree {
            path: path.to_path_buf(),
            run_id: self.run_id.clone(),
        }
    }
}

impl Worktree {
    /// The runner for calls made in this worktree.
    pub(crate) fn git(&self) -> Git {
        Git::new(&self.path).in_run(self.run_id.clone())
    }

    /// The full sha of HEAD.
    pub fn head(&self) -> Result<String> {
        with_repo(&self.git(), "rev-parse --verify HEAD", |repo| {
            resolve(repo, "HEAD").map(|h| h.to_string())
        })
    }

    /// The tree sha of `rev` (a commit or a tree).
    pub fn tree_of(&self, rev: &str) -> Result<String> {
        let op = format!("rev-parse --verify {rev}^{{tree}}");
        with_repo(&self.git(), &op, |repo| {
            tree_id(repo, rev).map(|t| t.to_string())
        })
    }

    /// Move HEAD, index and files to `commit`, and delete untracked files.
    ///
    /// Ignored files (`node_modules/`, build output) are kept: they are expensive to rebuild
    /// and never part of a checkpoint. Where the in-process scan can look, the few files that
    /// differ are put back in-process (`switch.rs` says when that is exact) and HEAD and the
    /// index are moved by libgit2: after ship committed everything, knowledge starts from
    /// exactly that and drops what its agent wrote, and two git processes over the whole
    /// worktree were most of what that cost.
    pub fn reset_hard(&self, commit: &str) -> Result<()> {
        let git = self.git();
        if super::switch::put_back(&git, &self.tree_of(commit)?, commit)? {
            return Ok(());
        }
        git.run(["reset", "-q", "--hard", commit, "--"])?;
        git.run(["clean", "-f", "-d", "-q"]).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{repo, sh, status};
    use super::*;

    fn setup() -> (tempfile::TempDir, Repo, String) {
        let tmp = repo();
        let r = Repo::discover(tmp.path()).unwrap();
        r.ensure_excluded(&["/runs/", "/.worktrees/"]).unwrap();
        let base = r.resolve_commit("main").unwrap();
        (tmp, r, base)
    }

    /// [`setup`] with the worktree of run r1 added, on branch `orx/r1` at the base.
    fn setup_r1() -> (tempfile::TempDir, Repo, String, PathBuf) {
        let (tmp, r, base) = setup();
        let p = r.root.join(".worktrees/r1");
        r.add_worktree(&p, "orx/r1", &base).unwrap();
        (tmp, r, base, p)
    }

    /// Write `name` in the worktree at `p` and commit it.
    fn commit_file(p: &Path, name: &str, text: &str, message: &str) {
        std::fs::write(p.join(name), text).unwrap();
        sh(p, &["add", name]);
        sh(p, &["commit", "-q", "-m", message]);
    }

    #[test]
    fn add_worktree_leaves_the_user_checkout_alone_and_is_idempotent() {
        let (tmp, r, base) = setup();
        std::fs::write(tmp.path().join("a.txt"), "user edit\n").unwrap();
        std::fs::write(tmp.path().join("b.txt"), "staged edit\n").unwrap();
        sh(tmp.path(), &["add", "b.txt"]);
        std::fs::write(tmp.path().join("notes.txt"), "untracked\n").unwrap();
        let before = (status(tmp.path()), sh(tmp.path(), &["rev-parse", "HEAD"]));

        let wt_path = r.root.join(".worktrees/r1");
        r.add_worktree(&wt_path, "orx/r1", &base).unwrap();
        r.add_worktree(&wt_path, "orx/r1", &base).unwrap();

        let after = (status(tmp.path()), sh(tmp.path(), &["rev-parse", "HEAD"]));
        assert_eq!(before, after);
        assert_eq!(r.current_branch().unwrap().as_deref(), Some("main"));
        let wt = r.worktree(&wt_path);
        assert_eq!(wt.head().unwrap(), base);
        assert_eq!(
            std::fs::read_to_string(wt_path.join("a.txt")).unwrap(),
            "a\n"
        );
        assert!(!wt_path.join("notes.txt").exists());
        let list = r.list_worktrees().unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].1.as_deref(), Some("main"));
        assert_eq!(normalize(&list[1].0), normalize(&wt_path));
        assert_eq!(list[1].1.as_deref(), Some("orx/r1"));
    }

    /// Every file under `dir` (`.git` aside): its path, content and whether it is executable.
    fn tree_files(dir: &Path) -> Vec<(String, Vec<u8>, bool)> {
        use std::os::unix::fs::PermissionsExt;
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                let p = e.path();
                if e.file_name() == ".git" {
                    continue;
                }
                if p.is_dir() {
                    stack.push(p);
                } else {
                    let exec = e.metadata().unwrap().permissions().mode() & 0o111 != 0;
                    let rel = p.strip_prefix(dir).unwrap().display().to_string();
                    out.push((rel, std::fs::read(&p).unwrap(), exec));
                }
            }
        }
        out.sort();
        out
    }

    /// A repository whose main commit holds `files` (and `run.sh`, executable), with orx's new
    /// worktree and one `git worktree add` made by git itself, both at that commit.
    fn orx_and_git_checkouts(files: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf, PathBuf) {
        let tmp = super::super::git_setup::repo_with(files);
        std::fs::write(tmp.path().join("run.sh"), "#!/bin/sh\n").unwrap();
        sh(
            tmp.path(),
            &["update-index", "--add", "--chmod=+x", "run.sh"],
        );
        std::fs::set_permissions(
            tmp.path().join("run.sh"),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        sh(tmp.path(), &["commit", "-q", "-m", "script"]);
        let r = Repo::discover(tmp.path()).unwrap();
        r.ensure_excluded(&["/runs/", "/.worktrees/"]).unwrap();
        let base = r.resolve_commit("main").unwrap();
        let ours = r.root.join(".worktrees/ours");
        r.add_worktree(&ours, "orx/ours", &base).unwrap();
        let theirs = r.root.join(".worktrees/theirs");
        sh(
            tmp.path(),
            &[
                "worktree",
                "add",
                "-q",
                "-b",
                "by-git",
                theirs.to_str().unwrap(),
                &base,
            ],
        );
        (tmp, ours, theirs)
    }

    #[test]
    fn a_new_worktree_holds_what_gits_own_checkout_holds_and_is_clean() {
        let (_tmp, ours, theirs) = orx_and_git_checkouts(&[
            ("a.txt", "a\n"),
            ("src/deep/b.rs", "fn b() {}\n"),
            ("crlf.txt", "one\r\ntwo\r\n"),
        ]);
        assert_eq!(tree_files(&ours), tree_files(&theirs));
        assert_eq!(status(&ours), "");
        // The index is git's too: the same entries, and fresh stat data (nothing to refresh).
        let staged = |p: &Path| sh(p, &["ls-files", "-s"]);
        assert_eq!(staged(&ours), staged(&theirs));
        assert_eq!(sh(&ours, &["diff-files", "--name-only"]), "");
    }

    #[test]
    fn a_new_worktree_whose_tree_converts_line_endings_is_checked_out_by_git() {
        // A tree with its own `.gitattributes` converts on checkout: git's checkout does it.
        let (_tmp, ours, theirs) = orx_and_git_checkouts(&[
            (".gitattributes", "*.txt eol=crlf\n"),
            ("a.txt", "one\ntwo\n"),
        ]);
        assert_eq!(
            std::fs::read(ours.join("a.txt")).unwrap(),
            b"one\r\ntwo\r\n".to_vec()
        );
        assert_eq!(tree_files(&ours), tree_files(&theirs));
        assert_eq!(status(&ours), "");
    }

    #[test]
    fn add_worktree_refuses_a_path_on_another_branch() {
        let (_tmp, r, base, p) = setup_r1();
        let err = r.add_worktree(&p, "orx/other", &base).unwrap_err();
        assert!(
            matches!(&err, GitError::WorktreeTaken { on, .. } if on == "branch `orx/r1`"),
            "{err:?}"
        );
    }

    #[test]
    fn a_lost_worktree_folder_is_recreated_on_the_existing_branch() {
        let (_tmp, r, base, p) = setup_r1();
        commit_file(&p, "new.txt", "work\n", "item 1");
        let item = r.worktree(&p).head().unwrap();
        std::fs::remove_dir_all(&p).unwrap();
        r.add_worktree(&p, "orx/r1", &base).unwrap();
        assert_eq!(r.worktree(&p).head().unwrap(), item);
        assert!(p.join("new.txt").exists());
    }

    #[test]
    fn two_worktrees_of_one_repo_do_not_collide() {
        let (_tmp, r, base) = setup();
        let r2 = r.clone();
        let base2 = base.clone();
        let other = std::thread::spawn(move || {
            let p = r2.root.join(".worktrees/r2");
            r2.add_worktree(&p, "orx/r2", &base2).map(|_| p)
        });
        let p1 = r.root.join(".worktrees/r1");
        r.add_worktree(&p1, "orx/r1", &base).unwrap();
        let p2 = other.join().unwrap().unwrap();
        std::fs::write(p1.join("a.txt"), "one\n").unwrap();
        std::fs::write(p2.join("a.txt"), "two\n").unwrap();
        assert_eq!(std::fs::read_to_string(p1.join("a.txt")).unwrap(), "one\n");
        assert_eq!(status(&p1), " M a.txt");
        assert_eq!(status(&p2), " M a.txt");
        let branches: Vec<_> = r
            .list_worktrees()
            .unwrap()
            .into_iter()
            .map(|w| w.1)
            .collect();
        assert!(branches.contains(&Some("orx/r1".into())));
        assert!(branches.contains(&Some("orx/r2".into())));
        assert_eq!(status(&r.root), "");
    }

    #[test]
    fn many_worktrees_added_and_removed_at_once_all_succeed() {
        // `git worktree prune` (run by every add and remove) deletes another process's
        // half-created worktree entry unless the calls are serialised.
        let (_tmp, r, base) = setup();
        let start = std::sync::Arc::new(std::sync::Barrier::new(8));
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let (r, base, start) = (r.clone(), base.clone(), start.clone());
                std::thread::spawn(move || -> Result<()> {
                    let p = r.root.join(format!(".worktrees/m{i}"));
                    start.wait();
                    for _ in 0..3 {
                        r.add_worktree(&p, &format!("orx/m{i}"), &base)?;
                        r.remove_worktree(&p)?;
                    }
                    r.add_worktree(&p, &format!("orx/m{i}"), &base)
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap().unwrap();
        }
        assert_eq!(r.list_worktrees().unwrap().len(), 9);
    }

    #[test]
    fn remove_worktree_branch_and_refs_leave_nothing_behind() {
        let (tmp, r, _, p) = setup_r1();
        std::fs::write(p.join("dirty.txt"), "x\n").unwrap();
        std::fs::write(p.join("a.txt"), "changed\n").unwrap();
        sh(&p, &["update-ref", "refs/orx/r1/wip", "HEAD"]);

        r.remove_worktree(&p).unwrap();
        r.remove_worktree(&p).unwrap();
        r.delete_branch("orx/r1").unwrap();
        r.delete_refs_with_prefix("refs/orx/r1/").unwrap();

        assert!(!p.exists());
        assert_eq!(r.list_worktrees().unwrap().len(), 1);
        assert_eq!(
            sh(tmp.path(), &["branch", "--format=%(refname:short)"]),
            "main"
        );
        assert_eq!(sh(tmp.path(), &["for-each-ref", "refs/orx/"]), "");
        let listed = sh(tmp.path(), &["worktree", "list", "--porcelain"]);
        assert_eq!(listed.matches("worktree ").count(), 1, "{listed}");
    }

    #[test]
    fn remove_worktree_prunes_a_folder_deleted_by_hand() {
        let (_tmp, r, _, p) = setup_r1();
        std::fs::remove_dir_all(&p).unwrap();
        r.remove_worktree(&p).unwrap();
        assert_eq!(r.list_worktrees().unwrap().len(), 1);
        r.delete_branch("orx/r1").unwrap();
        assert!(!r.branch_exists("orx/r1").unwrap());
    }

    #[test]
    fn reset_hard_keeps_ignored_files_and_drops_untracked_ones() {
        let (_tmp, r, base, p) = setup_r1();
        commit_file(&p, ".gitignore", "node_modules/\n", "ignore");
        let wt = r.worktree(&p);
        let ignore_commit = wt.head().unwrap();
        std::fs::create_dir_all(p.join("node_modules/x")).unwrap();
        std::fs::write(p.join("node_modules/x/i.js"), "1").unwrap();
        std::fs::create_dir_all(p.join("junk")).unwrap();
        std::fs::write(p.join("junk/j.txt"), "j").unwrap();
        std::fs::write(p.join("a.txt"), "changed\n").unwrap();
        wt.reset_hard(&ignore_commit).unwrap();
        assert_eq!(status(&p), "");
        assert!(p.join("node_modules/x/i.js").exists());
        assert!(!p.join("junk").exists());
        assert_eq!(std::fs::read_to_string(p.join("a.txt")).unwrap(), "a\n");
        assert_eq!(wt.tree_of(&base).unwrap().len(), 40);
        assert!(wt.tree_of("no-such").is_err());
    }
}
