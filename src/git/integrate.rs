//! Integrating a lane's commit into the run branch: the three-way merge, the commits made from
//! its tree, and reading both sides of a conflict.
//!
//! The merge is `git merge-tree --write-tree` (git 2.40 or later, for `--merge-base`, which a
//! run checks before it opens lanes: `version.rs`): it computes the merged tree in the object
//! store without touching any worktree, index or branch, so integrating can never leave a
//! half-merged run worktree behind, and running it again after a crash gives the same tree.
//! The base is the lane commit's parent (the head its lane was cut from), so the lane's change
//! is replayed onto the new head as a cherry-pick would. A conflict is an answer, not an
//! error: the tree then holds the conflicting files with conflict markers, which is exactly
//! what the agent asked to resolve them starts from.
//!
//! The merge stays a git process (git's merge machinery, rename handling and conflict
//! markers, one call per lane); everything around it (the parent, the commits, the refs,
//! the messages and files read back) is in-process.

use super::error::Result;
use super::handle::with_repo;
use super::Worktree;

/// The outcome of replaying a commit onto a head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Merged {
    /// The merged tree.
    Clean { tree: String },
    /// The merged tree with conflict markers in `files` (sorted, each once).
    Conflict { tree: String, files: Vec<String> },
}

impl Worktree {
    /// Replay `commit` (its change against its parent) onto `onto`, touching nothing.
    pub fn merge_onto(&self, onto: &str, commit: &str) -> Result<Merged> {
        let git = self.git();
        let op = format!("rev-parse --verify {commit}^");
        let parent = with_repo(&git, &op, |repo| {
            Ok(repo
                .revparse_single(commit)?
                .peel_to_commit()?
                .parent_id(0)?
                .to_string())
        })?;
        let base = format!("--merge-base={parent}");
        let args = [
            "merge-tree",
            "--write-tree",
            "--name-only",
            "--no-messages",
            &base,
            onto,
            commit,
        ];
        let out = git.call(args).output()?;
        let text = out.text();
        let mut lines = text.lines();
        let tree = lines.next().unwrap_or_default().to_string();
        match out.code {
            Some(0) => Ok(Merged::Clean { tree }),
            Some(1) => {
                let mut files: Vec<String> = lines
                    .filter(|l| !l.is_empty())
                    .map(str::to_string)
                    .collect();
                files.sort();
                files.dedup();
                Ok(Merged::Conflict { tree, files })
            }
            _ => Err(git.failure(&args, &out)),
        }
    }

    /// A commit of `tree` on `parent` with `message`, on no branch, kept alive by `keep_ref`.
    pub fn commit_tree_on(
        &self,
        tree: &str,
        parent: &str,
        message: &str,
        keep_ref: &str,
    ) -> Result<String> {
        let git = self.git();
        let commit = super::snapshot::commit_tree(&git, tree, parent, message.as_bytes())?;
        super::snapshot::update_ref(&git, keep_ref, &commit, "orx lane")?;
        Ok(commit)
    }

    /// The full message of `commit`.
    pub fn message_of(&self, commit: &str) -> Result<String> {
        let op = format!("log -1 --format=%B {commit}");
        with_repo(&self.git(), &op, |repo| {
            let c = repo.revparse_single(commit)?.peel_to_commit()?;
            // What `git log --format=%B` printed, less the newline it adds.
            Ok(String::from_utf8_lossy(c.message_raw_bytes()).into_owned())
        })
    }

    /// The content of `path` at `rev`, or `None` when it does not exist there.
    pub fn file_at(&self, rev: &str, path: &str) -> Result<Option<String>> {
        let op = format!("show {rev}:{path}");
        with_repo(&self.git(), &op, |repo| {
            let tree = repo.revparse_single(rev)?.peel_to_tree()?;
            let entry = match tree.get_path(std::path::Path::new(path)) {
                Ok(entry) => entry,
                Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(None),
                Err(e) => return Err(e),
            };
            match entry.to_object(repo)?.into_blob() {
                Ok(blob) => Ok(Some(String::from_utf8_lossy(blob.content()).into_owned())),
                // A folder at that path is not a file there.
                Err(_) => Ok(None),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{repo, sh};
    use super::super::Repo;
    use super::*;

    /// A repository with `f.txt` on main and two commits on top of it, each on a branch of its
    /// own, writing `f.txt` (and `side_a.txt`/`side_b.txt`).
    fn two_sides(a: &str, b: &str) -> (tempfile::TempDir, Worktree, String, String) {
        let tmp = repo();
        let r = Repo::discover(tmp.path()).unwrap();
        let p = tmp.path();
        std::fs::write(p.join("f.txt"), "one\ntwo\nthree\n").unwrap();
        sh(p, &["add", "-A"]);
        sh(p, &["commit", "-q", "-m", "base"]);
        let side = |name: &str, text: &str, extra: &str| {
            sh(p, &["checkout", "-q", "-b", name, "main"]);
            std::fs::write(p.join("f.txt"), text).unwrap();
            std::fs::write(p.join(extra), "x\n").unwrap();
            sh(p, &["add", "-A"]);
            sh(p, &["commit", "-q", "-m", name]);
            r.resolve_commit(name).unwrap()
        };
        let ca = side("a", a, "side_a.txt");
        let cb = side("b", b, "side_b.txt");
        (tmp, r.worktree(&r.root), ca, cb)
    }

    #[test]
    fn separate_changes_merge_cleanly_and_the_tree_holds_both() {
        let (_tmp, wt, ca, cb) = two_sides("ONE\ntwo\nthree\n", "one\ntwo\nTHREE\n");
        let Merged::Clean { tree } = wt.merge_onto(&ca, &cb).unwrap() else {
            panic!("expected a clean merge");
        };
        let c = wt
            .commit_tree_on(&tree, &ca, "both\n", "refs/orx/t/keep")
            .unwrap();
        assert_eq!(
            wt.file_at(&c, "f.txt").unwrap().unwrap(),
            "ONE\ntwo\nTHREE\n"
        );
        assert!(wt.file_at(&c, "side_a.txt").unwrap().is_some());
        assert!(wt.file_at(&c, "side_b.txt").unwrap().is_some());
        assert_eq!(wt.file_at(&c, "nope.txt").unwrap(), None);
        assert_eq!(wt.message_of(&c).unwrap().trim_end(), "both");
    }

    #[test]
    fn the_same_line_changed_twice_conflicts_with_markers_in_the_tree() {
        let (_tmp, wt, ca, cb) = two_sides("one\nA\nthree\n", "one\nB\nthree\n");
        let Merged::Conflict { tree, files } = wt.merge_onto(&ca, &cb).unwrap() else {
            panic!("expected a conflict");
        };
        assert_eq!(files, ["f.txt"]);
        let c = wt
            .commit_tree_on(&tree, &ca, "conflict\n", "refs/orx/t/keep")
            .unwrap();
        let text = wt.file_at(&c, "f.txt").unwrap().unwrap();
        assert!(
            text.contains("<<<<<<<") && text.contains(">>>>>>>"),
            "{text}"
        );
    }
}
