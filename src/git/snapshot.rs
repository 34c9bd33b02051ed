//! Checkpoints of a worktree's files as commit objects, and the diffs and commits made from them.
//!
//! An agent leaves its work as plain files: modified, new (untracked) and deleted. A snapshot
//! captures all of that as a commit whose parent is HEAD, without touching HEAD, the index or
//! a single file, so it can be taken at any moment (even while a stage is running) and kept
//! alive by a ref under `refs/orx/<run_id>/`. The working files are hashed into a tree from a
//! copy of the worktree's own index (`scan.rs`: unchanged files keep their stat data and are
//! not hashed again, which keeps this fast on a 100k-file repository), and the commit and its
//! ref are written in-process. The same "tree of the working state" powers `changed_paths`,
//! `has_changes_since` and `diff_worktree`, so untracked files are always counted. `restore`
//! runs the same machinery backwards with a two-tree `git read-tree -u`, which touches only the
//! paths that differ, through the user's smudge filters.
//!
//! Looking is not keeping: the working state is hashed into a quarantine (`quarantine.rs`)
//! that is thrown away after the look, so content the secret scan blocks never enters the
//! repository's object database through orx; only a snapshot, taken after the scan passed,
//! copies its objects in.
//!
//! Diffs between trees, their patch text and their stats are computed in-process (libgit2),
//! with git's defaults for what the patch shows: `a/` and `b/` prefixes, binary hunks,
//! renames as `diff.renames` says for the shipped patch, none for the path lists and the scan.
//!
//! Every function here takes the [`Git`] runner explicitly; [`Worktree`]'s methods pass
//! their default one. That is how the tests run commits with no identity configured.

use git2::{Delta, Diff, DiffFormat, DiffOptions, Oid, Repository};

use super::error::{GitError, Result};
use super::handle::{self, oid, resolve, tree_id, with_repo};
use super::quarantine::WorkingState;
use super::{scan, Git, Worktree};

/// The message of snapshot commits; they are never on a branch, so it only shows in `git log`.
const SNAPSHOT_MESSAGE: &str = "orx snapshot\n";

impl Worktree {
    /// Capture the full working state as a commit on top of HEAD, kept alive by `keep_ref`.
    pub fn snapshot(&self, keep_ref: &str) -> Result<String> {
        snapshot_in(&self.git(), Some(keep_ref))
    }

    /// [`Worktree::snapshot`] of a working state already taken (nothing may have written to
    /// the worktree since [`Worktree::working_tree`] returned it); its objects are kept.
    pub fn snapshot_of(&self, now: WorkingState, keep_ref: &str) -> Result<String> {
        snapshot_of_tree(&self.git(), &now.keep()?, Some(keep_ref))
    }

    /// Make the files exactly the snapshot's tree; HEAD stays, the index is reset to HEAD,
    /// ignored files are left alone.
    pub fn restore(&self, snapshot: &str) -> Result<()> {
        restore_in(&self.git(), snapshot)
    }

    /// Commit the snapshot's tree on `branch` (checked out here) on top of HEAD.
    ///
    /// Calling it again after a crash returns the commit already made instead of a second one.
    pub fn commit_snapshot(&self, snapshot: &str, message: &str, branch: &str) -> Result<String> {
        commit_snapshot_in(&self.git(), snapshot, message, branch)
    }

    /// Paths that differ between `base` and the working state, untracked files included.
    pub fn changed_paths(&self, base: &str) -> Result<Vec<String>> {
        self.changed_paths_to(base, &self.working_tree()?)
    }

    /// The working state right now (tracked changes, untracked non-ignored files, deletions)
    /// as a tree whose new objects are quarantined until [`Worktree::snapshot_of`] keeps them.
    /// Code that asks several questions about the same moment (changed? which paths? what
    /// diff? snapshot it) takes it once and passes it to the `*_to`/`*_of` variants: each
    /// computation hashes the whole worktree.
    pub fn working_tree(&self) -> Result<WorkingState> {
        scan::working_state(&self.git())
    }

    /// Paths that differ between `base` and the working state `now`.
    pub fn changed_paths_to(&self, base: &str, now: &WorkingState) -> Result<Vec<String>> {
        let op = format!("diff-tree --name-only {base} {}", now.tree);
        let mut paths = in_state(now, &op, |repo| {
            let diff = tree_diff(repo, base, &now.tree, &mut DiffOptions::new())?;
            Ok(diff
                .deltas()
                .flat_map(|d| [d.old_file().path(), d.new_file().path()])
                .flatten()
                .map(|p| p.to_string_lossy().into_owned())
                .collect::<Vec<String>>())
        })?;
        paths.sort();
        paths.dedup();
        Ok(paths)
    }

    /// Whether the working state (untracked files included) differs from that commit's tree.
    pub fn has_changes_since(&self, snapshot_or_commit: &str) -> Result<bool> {
        Ok(self.working_tree()?.tree != self.tree_of(snapshot_or_commit)?)
    }

    /// The binary-safe patch from one commit to another.
    pub fn diff(&self, from: &str, to: &str) -> Result<String> {
        let op = format!("diff --binary {from} {to}");
        with_repo(&self.git(), &op, |repo| patch(repo, from, to))
    }

    /// The binary-safe patch from a commit to the working state, untracked files included.
    pub fn diff_worktree(&self, from: &str) -> Result<String> {
        let now = self.working_tree()?;
        let op = format!("diff --binary {from} {}", now.tree);
        in_state(&now, &op, |repo| patch(repo, from, &now.tree))
    }

    /// What the secret scan reads of the change from `from` to `to`: a patch in which every
    /// changed file is text, whatever git's diff attributes say (a file with a NUL byte or
    /// marked `-diff` shows its lines like any other), leaving out the files whose new
    /// content is above `max_bytes`, which are returned with their sizes instead.
    pub fn diff_for_scan(
        &self,
        from: &str,
        now: &WorkingState,
        max_bytes: u64,
    ) -> Result<(String, Vec<(String, u64)>)> {
        let op = format!("diff --text {from} {}", now.tree);
        in_state(now, &op, |repo| {
            let mut opts = DiffOptions::new();
            opts.force_text(true).old_prefix("a/").new_prefix("b/");
            let diff = tree_diff(repo, from, &now.tree, &mut opts)?;
            let odb = repo.odb()?;
            let mut too_large = Vec::new();
            let mut text = Vec::new();
            for (i, delta) in diff.deltas().enumerate() {
                let new = delta.new_file();
                let shown = delta.status() != Delta::Deleted
                    && new.mode() != git2::FileMode::Commit
                    && !new.id().is_zero();
                if shown {
                    let (size, _) = odb.read_header(new.id())?;
                    let size = size as u64;
                    if size > max_bytes {
                        let path = new.path().map(|p| p.to_string_lossy().into_owned());
                        too_large.push((path.unwrap_or_default(), size));
                        continue;
                    }
                }
                if let Some(mut p) = git2::Patch::from_diff(&diff, i)? {
                    text.extend_from_slice(&p.to_buf()?);
                }
            }
            too_large.sort();
            Ok((String::from_utf8_lossy(&text).into_owned(), too_large))
        })
    }

    /// Files changed, insertions and deletions between two commits.
    pub fn diff_stat(&self, from: &str, to: &str) -> Result<(u32, u32, u32)> {
        let op = format!("diff --shortstat {from} {to}");
        with_repo(&self.git(), &op, |repo| {
            let stats = shipped_diff(repo, from, to)?.stats()?;
            let n = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
            Ok((
                n(stats.files_changed()),
                n(stats.insertions()),
                n(stats.deletions()),
            ))
        })
    }

    /// `git add -A && git commit`; `None` when there is nothing to commit.
    pub fn commit_all(&self, message: &str) -> Result<Option<String>> {
        commit_all_in(&self.git(), message)
    }

    /// Commit `now`, a working state taken with [`Worktree::working_tree`] and checked since
    /// (nothing ran in the worktree in between), as [`Worktree::commit_all`] would commit the
    /// files: what is committed is exactly what was checked, and the files are not hashed twice.
    pub fn commit_state(&self, now: WorkingState, message: &str) -> Result<Option<String>> {
        commit_state_in(&self.git(), now, message)
    }
}

/// Run `f` on the handle that sees the quarantined objects of `now`.
fn in_state<T>(
    now: &WorkingState,
    op: &str,
    f: impl FnOnce(&Repository) -> std::result::Result<T, git2::Error>,
) -> Result<T> {
    f(now.repo()).map_err(|e| handle::failure(&now.git().dir, op, e))
}

/// The diff between the trees of `from` and `to` (commits or trees), no rename detection.
fn tree_diff<'r>(
    repo: &'r Repository,
    from: &str,
    to: &str,
    opts: &mut DiffOptions,
) -> std::result::Result<Diff<'r>, git2::Error> {
    let old = repo.find_tree(tree_id(repo, from)?)?;
    let new = repo.find_tree(tree_id(repo, to)?)?;
    repo.diff_tree_to_tree(Some(&old), Some(&new), Some(opts))
}

/// The diff orx ships as a patch: binary hunks, `a/` and `b/`, renames as configured.
fn shipped_diff<'r>(
    repo: &'r Repository,
    from: &str,
    to: &str,
) -> std::result::Result<Diff<'r>, git2::Error> {
    let mut opts = DiffOptions::new();
    opts.show_binary(true).old_prefix("a/").new_prefix("b/");
    let mut diff = tree_diff(repo, from, to, &mut opts)?;
    diff.find_similar(None)?;
    Ok(diff)
}

/// The patch text of [`shipped_diff`], which `git apply` takes.
///
/// Computed once per pair of trees: review, ship and knowledge each ask for the run's patch
/// from the base to HEAD, and the dashboard asks again while the run goes on. The pair of
/// tree ids names the content, so the last answer (kept per thread) can never be stale.
fn patch(repo: &Repository, from: &str, to: &str) -> std::result::Result<String, git2::Error> {
    thread_local! {
        static LAST: std::cell::RefCell<Option<((Oid, Oid), String)>> =
            const { std::cell::RefCell::new(None) };
    }
    let key = (tree_id(repo, from)?, tree_id(repo, to)?);
    let known = LAST.with(|l| match &*l.borrow() {
        Some((k, text)) if *k == key => Some(text.clone()),
        _ => None,
    });
    if let Some(text) = known {
        return Ok(text);
    }
    let text = patch_text(repo, from, to)?;
    LAST.with(|l| *l.borrow_mut() = Some((key, text.clone())));
    Ok(text)
}

fn patch_text(repo: &Repository, from: &str, to: &str) -> std::result::Result<String, git2::Error> {
    let mut out = Vec::new();
    shipped_diff(repo, from, to)?.print(DiffFormat::Patch, |_, _, line| {
        if matches!(line.origin(), '+' | '-' | ' ') {
            out.push(line.origin() as u8);
        }
        out.extend_from_slice(line.content());
        true
    })?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// A commit of `tree` with parent `parent`, unsigned, with orx's identity when none is set.
pub(super) fn commit_tree(git: &Git, tree: &str, parent: &str, message: &[u8]) -> Result<String> {
    let op = format!("commit-tree {tree} -p {parent}");
    let message = String::from_utf8_lossy(message);
    with_repo(git, &op, |repo| {
        let (author, committer) = handle::signatures(git, repo).map_err(to_git2)?;
        let tree = repo.find_tree(oid(tree)?)?;
        let parent = repo.find_commit(resolve(repo, parent)?)?;
        repo.commit(None, &author, &committer, &message, &tree, &[&parent])
            .map(|c| c.to_string())
    })
}

/// Carry an orx error through a libgit2 closure (its message survives in the detail).
fn to_git2(err: GitError) -> git2::Error {
    git2::Error::from_str(&err.to_string())
}

fn snapshot_in(git: &Git, keep_ref: Option<&str>) -> Result<String> {
    snapshot_of_tree(git, &scan::working_state(git)?.keep()?, keep_ref)
}

fn snapshot_of_tree(git: &Git, tree: &str, keep_ref: Option<&str>) -> Result<String> {
    let head = with_repo(git, "rev-parse --verify HEAD", |repo| {
        resolve(repo, "HEAD").map(|h| h.to_string())
    })?;
    let commit = commit_tree(git, tree, &head, SNAPSHOT_MESSAGE.as_bytes())?;
    if let Some(name) = keep_ref {
        update_ref(git, name, &commit, "orx snapshot")?;
    }
    Ok(commit)
}

/// Point `name` at `commit`, with `log` as the reflog message where the ref keeps a reflog.
pub(super) fn update_ref(git: &Git, name: &str, commit: &str, log: &str) -> Result<()> {
    let op = format!("update-ref {name} {commit}");
    with_repo(git, &op, |repo| {
        repo.reference(name, oid(commit)?, true, log).map(drop)
    })
}

/// `git reset -q`: the index back to HEAD, the files untouched (stat data of unchanged
/// entries is kept, so the next scan does not hash them again).
pub(super) fn reset_index(git: &Git) -> Result<()> {
    super::switch::index_to(git, "HEAD", &[])
}

fn restore_in(git: &Git, snapshot: &str) -> Result<()> {
    let spec = format!("{snapshot}^{{tree}}");
    let target = with_repo(git, &format!("rev-parse {spec}"), |repo| {
        tree_id(repo, snapshot).map(|t| t.to_string())
    })?;
    // Most restores find the files already there (gates that leave nothing behind), or a few
    // plain files to put back: an in-process look says so, and does it, without starting git.
    if super::switch::put_back(git, &target, "HEAD")? {
        return Ok(());
    }
    // git both scans and switches here: the switch writes files (smudge filters, git's
    // checkout rules), and needs the scan's index as its starting point.
    let (index, current) = scan::with_git(git)?;
    if current.tree != target {
        // Two-tree switch: the temp index equals `current` and matches the files, so git
        // updates, creates and deletes exactly the paths that differ.
        let q = current.disk_git().unwrap_or(git);
        q.call(["read-tree", "-m", "-u", &current.tree, &target])
            .env("GIT_INDEX_FILE", &index.path)
            .run()?;
    }
    drop((index, current));
    reset_index(git)
}

fn commit_snapshot_in(git: &Git, snapshot: &str, message: &str, branch: &str) -> Result<String> {
    let full = format!("refs/heads/{branch}");
    let on = with_repo(git, "symbolic-ref -q HEAD", |repo| {
        let head = repo.find_reference("HEAD")?;
        Ok(head.symbolic_target()?.unwrap_or_default().to_string())
    })?;
    if on != full {
        return Err(GitError::WrongHead {
            branch: branch.to_string(),
            dir: git.dir.clone(),
            head: if on.is_empty() { "detached".into() } else { on },
        });
    }
    let message = with_final_newline(message);
    let op = format!("commit {snapshot} on {branch}");
    let done = with_repo(git, &op, |repo| {
        let head = repo.head()?.peel_to_commit()?;
        let tree = tree_id(repo, snapshot)?;
        let already = head.tree_id() == tree
            && String::from_utf8_lossy(head.message_bytes()).trim_end() == message.trim_end();
        // Already committed before a crash; only the index may lag behind.
        Ok((head.id().to_string(), tree.to_string(), already))
    })?;
    let (head, tree, already) = done;
    if already {
        reset_index(git)?;
        return Ok(head);
    }
    let commit = commit_tree(git, &tree, &head, message.as_bytes())?;
    let reflog = format!("orx: {}", message.lines().next().unwrap_or(""));
    move_branch(git, &full, &commit, &head, &reflog)?;
    reset_index(git)?;
    Ok(commit)
}

/// Move `full` from `from` to `to`, failing if it moved in between (`update-ref <new> <old>`).
fn move_branch(git: &Git, full: &str, to: &str, from: &str, log: &str) -> Result<()> {
    let op = format!("update-ref {full} {to} {from}");
    with_repo(git, &op, |repo| {
        repo.reference_matching(full, oid(to)?, true, oid(from)?, log)
            .map(drop)
    })
}

fn commit_all_in(git: &Git, message: &str) -> Result<Option<String>> {
    commit_state_in(git, scan::working_state(git)?, message)
}

fn commit_state_in(git: &Git, now: WorkingState, message: &str) -> Result<Option<String>> {
    let (head, head_tree, on) = with_repo(git, "rev-parse HEAD", |repo| {
        let head_ref = repo.head()?;
        let head = head_ref.peel_to_commit()?;
        let name = head_ref.name().unwrap_or("HEAD").to_string();
        Ok((head.id().to_string(), head.tree_id().to_string(), name))
    })?;
    if now.tree == head_tree {
        drop(now);
        reset_index(git)?;
        return Ok(None);
    }
    let tree = now.keep()?;
    let message = with_final_newline(message);
    let commit = commit_tree(git, &tree, &head, message.as_bytes())?;
    let reflog = format!("commit: {}", message.lines().next().unwrap_or(""));
    if on == "HEAD" {
        update_ref(git, "HEAD", &commit, &reflog)?;
    } else {
        move_branch(git, &on, &commit, &head, &reflog)?;
    }
    reset_index(git)?;
    Ok(Some(commit))
}

fn with_final_newline(message: &str) -> String {
    let mut m = message.trim_end().to_string();
    m.push('\n');
    m
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{repo, sh, status};
    use super::super::Repo;
    use super::*;
    use std::collections::BTreeMap;
    use std::path::Path;

    /// A repo with a run worktree at `.worktrees/r1` on `orx/r1`, ignoring `*.log`.
    fn setup() -> (tempfile::TempDir, Worktree) {
        let tmp = repo();
        std::fs::write(tmp.path().join(".gitignore"), "*.log\nnode_modules/\n").unwrap();
        sh(tmp.path(), &["add", ".gitignore"]);
        sh(tmp.path(), &["commit", "-q", "-m", "ignore logs"]);
        let r = Repo::discover(tmp.path()).unwrap();
        r.ensure_excluded(&["/.worktrees/"]).unwrap();
        let base = r.resolve_commit("main").unwrap();
        let p = r.root.join(".worktrees/r1");
        r.add_worktree(&p, "orx/r1", &base).unwrap();
        (tmp, r.worktree(&p))
    }

    /// Every file under `dir` except `.git`, with its content.
    fn files(dir: &Path) -> BTreeMap<String, String> {
        fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                if rel == ".git" {
                    continue;
                }
                if path.is_dir() {
                    walk(root, &path, out);
                } else {
                    out.insert(rel, std::fs::read_to_string(&path).unwrap());
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(dir, dir, &mut out);
        out
    }

    fn write(dir: &Path, rel: &str, text: &str) {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    /// Modify a.txt, delete b.txt, add new/c.txt, and an ignored debug.log.
    fn agent_work(dir: &Path) {
        write(dir, "a.txt", "a changed\n");
        std::fs::remove_file(dir.join("b.txt")).unwrap();
        write(dir, "new/c.txt", "c\n");
        write(dir, "debug.log", "log\n");
    }

    #[test]
    fn index_path_matches_git_in_a_checkout_a_worktree_and_a_relative_gitdir() {
        let (tmp, wt) = setup();
        let asked = |dir: &Path| {
            let g = Git::new(dir);
            let rel = g.run(["rev-parse", "--git-path", "index"]).unwrap();
            std::fs::canonicalize(dir.join(rel)).unwrap()
        };
        let ours = |dir: &Path| {
            std::fs::canonicalize(super::super::gitdir::index_path(&Git::new(dir)).unwrap())
                .unwrap()
        };
        assert_eq!(ours(tmp.path()), asked(tmp.path()));
        assert_eq!(ours(&wt.path), asked(&wt.path));
        // The object directory the quarantine sits in, found the same way.
        let objects = |dir: &Path| {
            let g = Git::new(dir);
            let rel = g.run(["rev-parse", "--git-path", "objects"]).unwrap();
            let ours = super::super::gitdir::objects_dir(&g).unwrap();
            (
                std::fs::canonicalize(ours).unwrap(),
                std::fs::canonicalize(dir.join(rel)).unwrap(),
            )
        };
        let (ours_main, git_main) = objects(tmp.path());
        assert_eq!(ours_main, git_main);
        let (ours_wt, git_wt) = objects(&wt.path);
        assert_eq!(ours_wt, git_wt);
        assert_eq!(ours_wt, ours_main);
        // A relative `gitdir:` (what worktree.useRelativePaths writes) resolves the same way.
        let dot_git = wt.path.join(".git");
        let text = std::fs::read_to_string(&dot_git).unwrap();
        let abs = text.strip_prefix("gitdir:").unwrap().trim();
        let rel = format!(
            "gitdir: ../../.git/worktrees/{}\n",
            Path::new(abs).file_name().unwrap().to_string_lossy()
        );
        std::fs::write(&dot_git, rel).unwrap();
        assert_eq!(ours(&wt.path), asked(&wt.path));
        let (ours_rel, git_rel) = objects(&wt.path);
        assert_eq!(ours_rel, git_rel);
    }

    #[test]
    fn snapshot_captures_everything_and_touches_nothing() {
        let (_tmp, wt) = setup();
        let p = &wt.path;
        agent_work(p);
        let head = wt.head().unwrap();
        let before = (status(p), sh(p, &["ls-files", "--stage"]), files(p));

        let snap = wt.snapshot("refs/orx/r1/wip").unwrap();

        assert_eq!(
            before,
            (status(p), sh(p, &["ls-files", "--stage"]), files(p))
        );
        assert_eq!(wt.head().unwrap(), head);
        assert_eq!(sh(p, &["rev-parse", "refs/orx/r1/wip"]), snap);
        assert_eq!(sh(p, &["rev-parse", &format!("{snap}^")]), head);
        let tree = sh(p, &["ls-tree", "-r", "--name-only", &snap]);
        assert_eq!(tree, ".gitignore\na.txt\nnew/c.txt");
        assert_eq!(sh(p, &["show", &format!("{snap}:a.txt")]), "a changed");
    }

    #[test]
    fn restore_brings_back_exactly_the_snapshot() {
        let (_tmp, wt) = setup();
        let p = &wt.path;
        agent_work(p);
        let snap = wt.snapshot("refs/orx/r1/wip").unwrap();
        let head = wt.head().unwrap();
        let expected = files(p);

        write(p, "a.txt", "later edit\n");
        write(p, "junk/deep/j.txt", "junk\n");
        write(p, "b.txt", "b is back\n");
        std::fs::remove_file(p.join("new/c.txt")).unwrap();
        write(p, ".gitignore", "*.log\nnode_modules/\n*.tmp\n");
        write(p, "other.log", "ignored, survives\n");

        wt.restore(&snap).unwrap();

        let mut want = expected;
        want.insert("other.log".into(), "ignored, survives\n".into());
        assert_eq!(files(p), want);
        assert!(!p.join("junk").exists());
        assert_eq!(wt.head().unwrap(), head);
        let staged = sh(p, &["diff", "--cached", "--name-only"]);
        assert_eq!(staged, "");
        assert!(!wt.has_changes_since(&snap).unwrap());
    }

    #[test]
    fn restore_after_reset_and_keeps_ignored_files() {
        let (_tmp, wt) = setup();
        let p = &wt.path;
        agent_work(p);
        write(p, "node_modules/dep/index.js", "dep\n");
        let snap = wt.snapshot("refs/orx/r1/wip").unwrap();
        let expected = files(p);
        let head = wt.head().unwrap();
        wt.reset_hard(&head).unwrap();
        assert_eq!(std::fs::read_to_string(p.join("a.txt")).unwrap(), "a\n");
        assert!(p.join("node_modules/dep/index.js").exists());
        wt.restore(&snap).unwrap();
        assert_eq!(files(p), expected);
        // Restoring onto identical content is a no-op that still leaves the index at HEAD.
        wt.restore(&snap).unwrap();
        assert_eq!(files(p), expected);
        assert_eq!(sh(p, &["diff", "--cached", "--name-only"]), "");
    }

    #[test]
    fn restore_handles_files_that_became_folders_and_back() {
        let (_tmp, wt) = setup();
        let p = &wt.path;
        write(p, "x/inner.txt", "inner\n");
        let snap = wt.snapshot("refs/orx/r1/wip").unwrap();
        let expected = files(p);
        std::fs::remove_dir_all(p.join("x")).unwrap();
        write(p, "x", "now a file\n");
        std::fs::remove_file(p.join("a.txt")).unwrap();
        write(p, "a.txt/deep.txt", "now a folder\n");
        wt.restore(&snap).unwrap();
        assert_eq!(files(p), expected);
    }

    #[test]
    fn commit_snapshot_moves_the_branch_once() {
        let (tmp, wt) = setup();
        let p = &wt.path;
        agent_work(p);
        let head = wt.head().unwrap();
        let snap = wt.snapshot("refs/orx/r1/wip").unwrap();
        let c1 = wt
            .commit_snapshot(&snap, "item 1: add c", "orx/r1")
            .unwrap();
        assert_ne!(c1, head);
        assert_eq!(sh(tmp.path(), &["rev-parse", "orx/r1"]), c1);
        assert_eq!(sh(p, &["rev-parse", &format!("{c1}^")]), head);
        assert_eq!(wt.tree_of(&c1).unwrap(), wt.tree_of(&snap).unwrap());
        assert_eq!(sh(p, &["log", "-1", "--format=%s", &c1]), "item 1: add c");
        assert_eq!(status(p), "");
        let again = wt
            .commit_snapshot(&snap, "item 1: add c", "orx/r1")
            .unwrap();
        assert_eq!(again, c1);
        assert_eq!(sh(p, &["rev-list", "--count", "HEAD"]), "3");
        // The main checkout did not move.
        assert_eq!(sh(tmp.path(), &["rev-parse", "main"]), head);
        let err = wt.commit_snapshot(&snap, "x", "orx/other").unwrap_err();
        assert!(
            matches!(&err, GitError::WrongHead { head, .. } if head == "refs/heads/orx/r1"),
            "{err:?}"
        );
    }

    #[test]
    fn changes_and_diffs_include_untracked_files() {
        let (_tmp, wt) = setup();
        let p = &wt.path;
        let base = wt.head().unwrap();
        assert!(!wt.has_changes_since(&base).unwrap());
        assert_eq!(wt.changed_paths(&base).unwrap(), Vec::<String>::new());
        assert_eq!(wt.diff_worktree(&base).unwrap(), "");
        agent_work(p);
        assert!(wt.has_changes_since(&base).unwrap());
        assert_eq!(
            wt.changed_paths(&base).unwrap(),
            vec!["a.txt", "b.txt", "new/c.txt"]
        );
        let patch = wt.diff_worktree(&base).unwrap();
        assert!(
            patch.contains("diff --git a/new/c.txt b/new/c.txt"),
            "{patch}"
        );
        assert!(patch.contains("deleted file mode"), "{patch}");
        assert!(!patch.contains("debug.log"), "{patch}");
        assert!(patch.ends_with('\n'));

        let c1 = wt.commit_all("work").unwrap().unwrap();
        assert_eq!(wt.commit_all("nothing").unwrap(), None);
        assert_eq!(wt.diff(&base, &c1).unwrap(), patch);
        assert_eq!(wt.diff_stat(&base, &c1).unwrap(), (3, 2, 2));
        assert_eq!(wt.diff_stat(&c1, &c1).unwrap(), (0, 0, 0));
        // A patch from diff applies cleanly on the base.
        wt.reset_hard(&base).unwrap();
        std::fs::write(p.join("x.patch.tmp"), &patch).unwrap();
        sh(p, &["apply", "--index", "x.patch.tmp"]);
        std::fs::remove_file(p.join("x.patch.tmp")).unwrap();
        assert!(!wt.has_changes_since(&c1).unwrap());
    }

    #[test]
    fn the_scan_diff_shows_binary_and_minus_diff_files_as_text_and_sets_large_ones_aside() {
        let (_tmp, wt) = setup();
        let p = &wt.path;
        let base = wt.head().unwrap();
        let key = format!("AKIA{}", "Q7R2ZK4M9XW3TB6P");
        write(p, ".gitattributes", "*.cfg -diff\n");
        write(p, "a.cfg", &format!("key = {key}\n"));
        std::fs::write(p.join("b.bin"), format!("x\0y\n{key}\n")).unwrap();
        write(p, "big.txt", &"x".repeat(2000));
        write(p, "odd name.txt", &"y".repeat(2000));
        let now = wt.working_tree().unwrap();
        // The patch orx ships hides both keys in binary hunks.
        let shipped = patch(now.repo(), &base, &now.tree).unwrap();
        assert!(!shipped.contains(&key), "{shipped}");
        let (scan, large) = wt.diff_for_scan(&base, &now, 1000).unwrap();
        assert_eq!(scan.matches(key.as_str()).count(), 2, "{scan}");
        assert_eq!(
            large,
            vec![
                ("big.txt".to_string(), 2000),
                ("odd name.txt".to_string(), 2000)
            ]
        );
        assert!(
            !scan.contains("xxxxxxxx") && !scan.contains("yyyyyyyy"),
            "{scan}"
        );
        let (all, none) = wt.diff_for_scan(&base, &now, 1 << 20).unwrap();
        assert!(none.is_empty() && all.contains("xxxxxxxx"));
    }

    #[test]
    fn looking_at_the_files_writes_no_object_and_a_snapshot_keeps_only_its_own() {
        let (tmp, wt) = setup();
        let objects = || -> Vec<String> {
            let out = sh(
                tmp.path(),
                &[
                    "cat-file",
                    "--batch-all-objects",
                    "--batch-check=%(objectname)",
                ],
            );
            out.lines().map(str::to_string).collect()
        };
        let before = objects();
        let base = wt.head().unwrap();
        write(&wt.path, "new/fresh.txt", "fresh content\n");
        let now = wt.working_tree().unwrap();
        assert_eq!(wt.changed_paths_to(&base, &now).unwrap(), ["new/fresh.txt"]);
        let (scan, _) = wt.diff_for_scan(&base, &now, 1 << 20).unwrap();
        assert!(scan.contains("+fresh content"), "{scan}");
        assert!(wt.has_changes_since(&base).unwrap());
        assert!(wt.diff_worktree(&base).unwrap().contains("+fresh content"));
        assert_eq!(wt.changed_paths("HEAD").unwrap(), ["new/fresh.txt"]);
        drop(now);
        assert_eq!(objects(), before, "looking wrote objects");

        let snap = wt
            .snapshot_of(wt.working_tree().unwrap(), "refs/orx/r1/wip")
            .unwrap();
        // The blob, the two trees (root and new/) and the commit, nothing else.
        assert_eq!(objects().len(), before.len() + 4);
        sh(tmp.path(), &["fsck", "--strict", "--no-dangling"]);
        assert_eq!(
            sh(tmp.path(), &["show", &format!("{snap}:new/fresh.txt")]),
            "fresh content"
        );
        wt.restore(&snap).unwrap();
        let dirs: Vec<String> = std::fs::read_dir(tmp.path().join(".git/objects"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("orx-"))
            .collect();
        assert!(dirs.is_empty(), "quarantines left behind: {dirs:?}");
    }

    #[test]
    fn renames_count_as_two_paths() {
        let (_tmp, wt) = setup();
        let base = wt.head().unwrap();
        std::fs::rename(wt.path.join("a.txt"), wt.path.join("z.txt")).unwrap();
        assert_eq!(wt.changed_paths(&base).unwrap(), vec!["a.txt", "z.txt"]);
    }

    #[test]
    fn commits_work_with_no_identity_configured() {
        let (_tmp, wt) = setup();
        let home = tempfile::tempdir().unwrap();
        let git = wt
            .git()
            .with_env("HOME", home.path())
            .with_env("XDG_CONFIG_HOME", home.path())
            .with_env("GIT_CONFIG_NOSYSTEM", "1");
        let outside_identity = ["GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL", "EMAIL"]
            .iter()
            .any(|v| std::env::var_os(v).is_some());
        if !outside_identity {
            // Prove the environment really has no identity: a bare commit-tree fails.
            let tree = git.run(["write-tree"]).unwrap();
            let bare = git
                .call(["commit-tree", &tree, "-m", "x"])
                .output()
                .unwrap();
            assert!(!bare.success(), "{}", bare.text());
        }
        agent_work(&wt.path);
        let snap = snapshot_in(&git, Some("refs/orx/r1/wip")).unwrap();
        let c1 = commit_snapshot_in(&git, &snap, "item 1", "orx/r1").unwrap();
        write(&wt.path, "d.txt", "d\n");
        let c2 = commit_all_in(&git, "item 2").unwrap().unwrap();
        assert_eq!(sh(&wt.path, &["rev-parse", "HEAD^"]), c1);
        if !outside_identity {
            let who = sh(
                &wt.path,
                &["log", "-1", "--format=%an <%ae>|%cn <%ce>", &c2],
            );
            assert_eq!(who, "orx <orx@localhost>|orx <orx@localhost>");
        }
    }
}
