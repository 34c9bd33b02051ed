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

use super::error::Result;
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
        let parent = git.run(["rev-parse", "--verify", &format!("{commit}^")])?;
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
        git.run(["update-ref", "-m", "orx lane", keep_ref, &commit])?;
        Ok(commit)
    }

    /// The full message of `commit`.
    pub fn message_of(&self, commit: &str) -> Result<String> {
        self.git()
            .run(["log", "-1", "--no-show-signature", "--format=%B", commit])
    }

    /// The content of `path` at `rev`, or `None` when it does not exist there.
    pub fn file_at(&self, rev: &str, path: &str) -> Result<Option<String>> {
        let spec = format!("{rev}:{path}");
        let out = self.git().call(["show", &spec]).output()?;
        Ok(out
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned()))
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
