//! Two commits of the repository side by side: how many commits one has that the other has not,
//! and which paths differ between their trees. This is what a person asks of a run's branch
//! against its base before taking the work (`workspace_sync`), and it is answered in-process:
//! both are reads of the object database, where libgit2 needs no process.

use git2::{DiffOptions, Oid, Repository};

use super::error::Result;
use super::handle::with_repo;
use super::Repo;

impl Repo {
    /// How many commits `head` has that `base` has not (`git rev-list --count base..head`).
    pub fn commits_ahead(&self, base: &str, head: &str) -> Result<u32> {
        let op = format!("rev-list --count {base}..{head}");
        with_repo(&self.git(), &op, |repo| {
            let mut walk = repo.revwalk()?;
            walk.push(commit_id(repo, head)?)?;
            walk.hide(commit_id(repo, base)?)?;
            let mut n = 0u32;
            for id in walk {
                id?;
                n = n.saturating_add(1);
            }
            Ok(n)
        })
    }

    /// The paths that differ between the trees of `base` and `head`, in git's order, a rename
    /// as its two paths (`git diff --name-only --no-renames base head`).
    pub fn files_changed(&self, base: &str, head: &str) -> Result<Vec<String>> {
        let op = format!("diff --name-only --no-renames {base} {head}");
        with_repo(&self.git(), &op, |repo| {
            let old = repo.find_commit(commit_id(repo, base)?)?.tree()?;
            let new = repo.find_commit(commit_id(repo, head)?)?.tree()?;
            let diff =
                repo.diff_tree_to_tree(Some(&old), Some(&new), Some(&mut DiffOptions::new()))?;
            Ok(diff
                .deltas()
                .filter_map(|d| d.new_file().path().or_else(|| d.old_file().path()))
                .map(|p| p.to_string_lossy().into_owned())
                .collect())
        })
    }
}

/// The commit `rev` names.
fn commit_id(repo: &Repository, rev: &str) -> std::result::Result<Oid, git2::Error> {
    Ok(repo.revparse_single(rev)?.peel_to_commit()?.id())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{repo, sh};
    use super::*;

    #[test]
    fn a_branch_is_compared_with_its_base_as_git_compares_them() {
        let tmp = repo();
        let dir = tmp.path();
        let base = sh(dir, &["rev-parse", "HEAD"]).trim().to_string();
        sh(dir, &["checkout", "-q", "-b", "work"]);
        std::fs::write(dir.join("a.txt"), "changed\n").unwrap();
        std::fs::create_dir(dir.join("sub")).unwrap();
        std::fs::write(dir.join("sub/new.txt"), "new\n").unwrap();
        sh(dir, &["add", "-A"]);
        sh(dir, &["commit", "-q", "-m", "one"]);
        sh(dir, &["mv", "b.txt", "c.txt"]);
        sh(dir, &["commit", "-q", "-m", "two"]);
        let repo = Repo::discover(dir).unwrap();
        assert_eq!(repo.commits_ahead(&base, "work").unwrap(), 2);
        assert_eq!(repo.commits_ahead("work", &base).unwrap(), 0);
        let ours = repo.files_changed(&base, "work").unwrap();
        let git = sh(dir, &["diff", "--name-only", "--no-renames", &base, "work"]);
        assert_eq!(ours, git.lines().collect::<Vec<_>>());
        assert_eq!(ours, ["a.txt", "b.txt", "c.txt", "sub/new.txt"]);
        assert!(repo.commits_ahead(&base, "no-such-branch").is_err());
    }
}
