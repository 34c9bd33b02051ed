//! Putting a worktree's files back to a tree in-process: the few paths the scan found
//! different are written or deleted directly, instead of `git reset --hard` plus `git clean`
//! (or `read-tree -u`) over the whole worktree.
//!
//! A run resets its worktree around agent calls (knowledge starts from the shipped commit and
//! throws away what its agent wrote; a retry starts from the base; a gate's leftovers are
//! dropped), and usually a handful of files differ. Two git processes for that were most of
//! what such a step cost. A new worktree's first checkout is the same job from an empty
//! folder ([`fill_new`]): `git worktree add` would run `reset --hard` as a second process.
//! The in-process way is taken only where it does exactly what git would, and otherwise says
//! so and leaves the job to git:
//!
//! - only where the in-process scan ran (no filter driver, no fsmonitor, not a large index),
//!   so the starting state is the scan's;
//! - only plain files on both sides: a symlink, a gitlink or a submodule anywhere in the
//!   difference goes to git;
//! - only where no conversion applies on checkout: `core.autocrlf` on, or a `text`, `eol`,
//!   `crlf`, `ident`, `filter` or `working-tree-encoding` attribute on a path that is written,
//!   goes to git, which knows those rules.
//!
//! As `git clean -d` does, a folder left empty by a deletion is removed; ignored files are
//! never in the difference (the scan skips them), so they stay, as with `git clean` without
//! `-x`. Written files get git's modes: 0666 or 0777 less the umask, as a fresh `open` gives.

use std::path::{Path, PathBuf};

use git2::{
    AttrCheckFlags, AttrValue, Delta, DiffOptions, FileMode, ObjectType, Repository, ResetType,
    TreeWalkMode, TreeWalkResult,
};

use super::attributes;
use super::error::Result;
use super::handle::{failure, oid, with_repo};
use super::quarantine::WorkingState;
use super::{scan, Git};
use crate::error::file::FileError;

/// Attributes that change a file's bytes between the object store and the working tree.
const CONVERTING: [&str; 6] = [
    "text",
    "eol",
    "crlf",
    "ident",
    "filter",
    "working-tree-encoding",
];

/// The most files a new worktree may hold for orx to write them itself ([`fill_new`]). Each
/// file written is read again to hash it for the index, and no timing has placed the line
/// where git's own checkout gets cheaper, so the bound stays far below the scan's: a larger
/// tree is left to git.
const FRESH_FILES: usize = 2_000;

/// One path to change: delete what is there, and write `blob` with `exec` if it has one.
struct Change {
    path: PathBuf,
    write: Option<(git2::Oid, bool)>,
}

/// Put the files of the worktree `git` runs in at `target` (a tree the repository has) and
/// HEAD and the index at `commit`, in-process, where that is exact (see the module note).
/// `false` where git must do it; what was done by then is part of what git would do.
pub(super) fn put_back(git: &Git, target: &str, commit: &str) -> Result<bool> {
    let Some(now) = scan::in_process_only(git)? else {
        return Ok(false);
    };
    let written = if now.tree == target {
        Vec::new()
    } else {
        match files_to(&now, target)? {
            Some(written) => written,
            None => return Ok(false),
        }
    };
    index_to(git, commit, &written)?;
    Ok(true)
}

/// Fill the worktree `git` runs in, which `git worktree add --no-checkout` just made (HEAD
/// at its commit, no index, no files), with HEAD's files and index, in-process where that is
/// exact; `false` where git must check it out. Beyond what [`put_back`] refuses, a new
/// worktree goes to git when its tree holds a `.gitattributes` (nothing is on disk yet for
/// the attribute lookups to read), when the repository checks out sparsely, and when the tree
/// holds more than [`FRESH_FILES`] files.
pub(super) fn fill_new(git: &Git) -> Result<bool> {
    let target = with_repo(git, "check out a new worktree", |repo| {
        let cfg = repo.config()?;
        if cfg.get_bool("core.sparseCheckout").unwrap_or(false) {
            return Ok(None);
        }
        let tree = repo.head()?.peel_to_tree()?;
        let (mut files, mut refused) = (0, false);
        let walked = tree.walk(TreeWalkMode::PreOrder, |_, entry| {
            if entry.name_bytes() == b".gitattributes" {
                refused = true;
            } else if entry.kind() != Some(ObjectType::Tree) {
                files += 1;
                refused = files > FRESH_FILES;
            }
            if refused {
                TreeWalkResult::Abort
            } else {
                TreeWalkResult::Ok
            }
        });
        match walked {
            // An abort is how the walk stops early; it says nothing about the tree.
            Err(_) if refused => Ok(None),
            Err(e) => Err(e),
            Ok(()) => Ok(Some(tree.id().to_string())),
        }
    })?;
    match target {
        Some(tree) => put_back(git, &tree, "HEAD"),
        None => Ok(false),
    }
}

/// Make the files of the worktree whose scanned state is `now` equal `target` (a tree the
/// repository has), and return the paths written, for [`index_to`]. `None` where git must do
/// it (see the module note).
fn files_to(now: &WorkingState, target: &str) -> Result<Option<Vec<PathBuf>>> {
    let repo = now.repo();
    let root = now.git().dir.as_path();
    let fail = |e| failure(root, "switch files in-process", e);
    let Some(changes) = plan(repo, &now.tree, target).map_err(fail)? else {
        return Ok(None);
    };
    // Deletions first, so a file that becomes a folder (or back) never meets its old self.
    // A path this cannot change (a folder still holding ignored files where a file goes, a
    // permission) is left to git: what was done so far is part of what git would do, and git
    // finishes the job from there or reports why it cannot.
    for c in changes.iter().filter(|c| c.write.is_none()) {
        if let Err(e) = remove(root, &c.path) {
            tracing::debug!("in-process reset gives way to git: {e}");
            return Ok(None);
        }
    }
    for c in &changes {
        if let Some((blob, exec)) = c.write {
            let content = repo.find_blob(blob).map_err(fail)?;
            if let Err(e) = write(&root.join(&c.path), content.content(), exec) {
                tracing::debug!("in-process reset gives way to git: {e}");
                return Ok(None);
            }
        }
    }
    Ok(Some(
        changes
            .into_iter()
            .filter(|c| c.write.is_some())
            .map(|c| c.path)
            .collect(),
    ))
}

/// Move HEAD (its branch, if on one) and the index to `commit`, as `git reset -q <commit>`
/// does, and record the current stat data of the files just `written`: the tree read into
/// the index carries none for them, and git would take them for modified (`git apply
/// --index` refuses such an index).
///
/// What is already there is not written again: a reset to HEAD leaves the ref alone, and an
/// index that already holds `commit`'s tree is not rewritten. Most resets of a run are such
/// no-ops (after a snapshot, after a restore that found the files in place), and each write
/// is a lock file, a new inode and a rename.
pub(super) fn index_to(git: &Git, commit: &str, written: &[PathBuf]) -> Result<()> {
    let op = format!("reset -q {commit}");
    with_repo(git, &op, |repo| {
        let to = repo.revparse_single(commit)?.peel_to_commit()?;
        let head = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        let mut index = repo.index()?;
        let mut dirty = false;
        if head.map(|h| h.id()) != Some(to.id()) {
            repo.reset(to.as_object(), ResetType::Mixed, None)?;
            index.read(true)?;
        } else {
            // Another process (git itself, the agent) may have written it since it was read.
            index.read(false)?;
            let tree = to.tree()?;
            let differs = index.has_conflicts()
                || repo
                    .diff_tree_to_index(Some(&tree), Some(&index), None)?
                    .deltas()
                    .len()
                    > 0;
            if differs {
                index.read_tree(&tree)?;
                dirty = true;
            }
        }
        let root = repo.workdir().unwrap_or(&git.dir).to_path_buf();
        for path in written {
            // Only a file that equals its index entry gets that entry's stat data (written
            // content that differs from `commit` stays a change, as after git's own reset).
            let Some(entry) = index.get_path(path, 0) else {
                continue;
            };
            if git2::Oid::hash_file(ObjectType::Blob, root.join(path))? == entry.id {
                index.add_path(path)?;
                dirty = true;
            }
        }
        if dirty {
            index.write()?;
        }
        Ok(())
    })
}

/// What to change, or `None` where git must do it.
fn plan(
    repo: &Repository,
    from: &str,
    to: &str,
) -> std::result::Result<Option<Vec<Change>>, git2::Error> {
    if converts_on_checkout(repo)? {
        return Ok(None);
    }
    let old = repo.find_tree(oid(from)?)?;
    let new = repo.find_tree(oid(to)?)?;
    let mut opts = DiffOptions::new();
    opts.include_typechange(true);
    let diff = repo.diff_tree_to_tree(Some(&old), Some(&new), Some(&mut opts))?;
    let mut changes = Vec::new();
    for delta in diff.deltas() {
        let plain = |m: FileMode| {
            matches!(
                m,
                FileMode::Blob | FileMode::BlobExecutable | FileMode::Unreadable
            )
        };
        if !plain(delta.old_file().mode()) || !plain(delta.new_file().mode()) {
            return Ok(None);
        }
        let Some(path) = delta.new_file().path().or(delta.old_file().path()) else {
            return Ok(None);
        };
        let write = match delta.status() {
            Delta::Deleted => None,
            Delta::Added | Delta::Modified | Delta::Typechange => {
                let exec = delta.new_file().mode() == FileMode::BlobExecutable;
                Some((delta.new_file().id(), exec))
            }
            _ => return Ok(None),
        };
        changes.push(Change {
            path: path.to_path_buf(),
            write,
        });
    }
    // Each path written is asked about its attributes only where an attributes file could
    // hold a rule for it: libgit2's lookup is a dozen system calls per attribute per path.
    let written = || changes.iter().filter(|c| c.write.is_some());
    let cfg = repo.config()?.snapshot()?;
    if !attributes::none_apply(repo, &cfg, written().map(|c| c.path.as_path()))? {
        for c in written() {
            if converts(repo, &c.path)? {
                return Ok(None);
            }
        }
    }
    Ok(Some(changes))
}

/// Whether `core.autocrlf` asks for line-ending conversion on checkout.
fn converts_on_checkout(repo: &Repository) -> std::result::Result<bool, git2::Error> {
    let cfg = repo.config()?;
    // `input` converts only when files are added, never on checkout.
    Ok(cfg
        .get_string("core.autocrlf")
        .is_ok_and(|v| !super::handle::config_off(&v) && !v.trim().eq_ignore_ascii_case("input")))
}

/// Whether an attribute would convert `path` on checkout.
fn converts(repo: &Repository, path: &Path) -> std::result::Result<bool, git2::Error> {
    for name in CONVERTING {
        let value = repo.get_attr(path, name, AttrCheckFlags::FILE_THEN_INDEX)?;
        if !matches!(AttrValue::from_string(value), AttrValue::Unspecified) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Delete `rel` under `root` if it is there, then the folders it leaves empty.
fn remove(root: &Path, rel: &Path) -> Result<()> {
    let path = root.join(rel);
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(FileError::own("remove", &path, e).into()),
    }
    let mut parent = path.parent();
    while let Some(dir) = parent.filter(|d| *d != root && d.starts_with(root)) {
        // Not empty (or already gone) ends the climb: only folders this left empty go.
        if std::fs::remove_dir(dir).is_err() {
            break;
        }
        parent = dir.parent();
    }
    Ok(())
}

/// Write `bytes` at `path` as a fresh file (a hard link elsewhere keeps its content, as with
/// git's checkout), making the folders above it.
fn write(path: &Path, bytes: &[u8], exec: bool) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| FileError::own("create", dir, e))?;
    }
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(FileError::own("replace", path, e).into()),
    }
    let mode = if exec { 0o777 } else { 0o666 };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| FileError::own("create", path, e))?;
    std::io::Write::write_all(&mut file, bytes).map_err(|e| FileError::own("write", path, e).into())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::sh;
    use super::super::{git_setup::repo_with, Git, Repo};
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// Every file under `dir` (`.git` aside) with its content and whether it is executable.
    fn files(dir: &Path) -> Vec<(String, String, bool)> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                let p = e.path();
                if p.file_name().unwrap() == ".git" {
                    continue;
                }
                if p.is_dir() {
                    // A folder is part of the answer too (an empty one must be gone).
                    out.push((rel(dir, &p) + "/", String::new(), false));
                    stack.push(p);
                } else {
                    let exec = p.metadata().unwrap().permissions().mode() & 0o111 != 0;
                    let text = std::fs::read_to_string(&p).unwrap();
                    out.push((rel(dir, &p), text, exec));
                }
            }
        }
        out.sort();
        out
    }

    fn rel(root: &Path, p: &Path) -> String {
        p.strip_prefix(root).unwrap().to_string_lossy().into_owned()
    }

    /// A repository with a second commit, and the messy state an agent leaves behind.
    fn messy(extra: &[(&str, &str)]) -> tempfile::TempDir {
        let mut start = vec![
            ("a.txt", "a\n"),
            ("b.txt", "b\n"),
            ("run.sh", "echo hi\n"),
            (".gitignore", "*.log\n"),
        ];
        start.extend_from_slice(extra);
        let made = repo_with(&start);
        std::fs::create_dir_all(made.path().join("dir")).unwrap();
        std::fs::write(made.path().join("dir/c.txt"), "c\n").unwrap();
        let tool = made.path().join("tool.sh");
        std::fs::write(&tool, "echo tool\n").unwrap();
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        sh(made.path(), &["add", "-A"]);
        sh(made.path(), &["commit", "-q", "-m", "a folder"]);
        let p = made.path();
        std::fs::write(p.join("a.txt"), "changed\n").unwrap();
        std::fs::remove_file(p.join("b.txt")).unwrap();
        // An executable file deleted: it must come back executable.
        std::fs::remove_file(p.join("tool.sh")).unwrap();
        std::fs::set_permissions(p.join("run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::remove_dir_all(p.join("dir")).unwrap();
        std::fs::write(p.join("dir"), "a file where a folder was\n").unwrap();
        std::fs::create_dir_all(p.join("new/deep")).unwrap();
        std::fs::write(p.join("new/deep/n.txt"), "new\n").unwrap();
        std::fs::write(p.join("keep.log"), "ignored\n").unwrap();
        made
    }

    #[test]
    fn putting_files_back_in_process_leaves_what_git_reset_and_clean_leave() {
        let ours = messy(&[]);
        let theirs = messy(&[]);
        // git's answer: reset --hard and clean -d, ignored files kept.
        sh(theirs.path(), &["reset", "-q", "--hard", "HEAD"]);
        sh(theirs.path(), &["clean", "-f", "-d", "-q"]);

        let git = Git::new(ours.path());
        let now = scan::in_process_only(&git)
            .unwrap()
            .expect("a small repo scans in-process");
        let head = sh(ours.path(), &["rev-parse", "HEAD^{tree}"]);
        let written = files_to(&now, head.trim()).unwrap();
        let written = written.expect("plain files switch in-process");
        assert_eq!(written.len(), 5, "{written:?}");
        index_to(&git, "HEAD", &written).unwrap();
        drop(now);
        assert_eq!(files(ours.path()), files(theirs.path()));
        // git sees the index and the files as they are after its own reset: nothing to do.
        assert_eq!(sh(ours.path(), &["diff-files", "--name-only"]), "");
        assert_eq!(sh(ours.path(), &["status", "--porcelain"]), "");
        assert!(ours.path().join("keep.log").exists());
        assert!(
            !ours.path().join("new").exists(),
            "emptied folders are removed"
        );
    }

    #[test]
    fn reset_hard_to_another_commit_moves_the_branch_and_matches_git() {
        let (ours, theirs) = (messy(&[]), messy(&[]));
        for t in [&ours, &theirs] {
            // A second commit to go back from: HEAD~1 is the target.
            sh(t.path(), &["add", "-A"]);
            sh(t.path(), &["commit", "-q", "-m", "second"]);
            std::fs::write(t.path().join("later.txt"), "untracked\n").unwrap();
        }
        sh(theirs.path(), &["reset", "-q", "--hard", "HEAD~1"]);
        sh(theirs.path(), &["clean", "-f", "-d", "-q"]);
        // The two repositories were committed at different moments, so their commit ids
        // may differ: the branch is checked against this repository's own target, and
        // the content against git's answer by tree id.
        let target = sh(ours.path(), &["rev-parse", "HEAD~1"]);
        let repo = Repo::discover(ours.path()).unwrap();
        repo.worktree(ours.path()).reset_hard("HEAD~1").unwrap();
        assert_eq!(files(ours.path()), files(theirs.path()));
        assert_eq!(sh(ours.path(), &["rev-parse", "HEAD"]), target);
        let tree = |p: &Path| sh(p, &["rev-parse", "HEAD^{tree}"]);
        assert_eq!(tree(ours.path()), tree(theirs.path()));
        assert_eq!(sh(ours.path(), &["status", "--porcelain"]), "");
    }

    #[test]
    fn a_converting_attribute_or_a_symlink_leaves_the_job_to_git() {
        // Line endings converted on checkout: only git knows the whole rule.
        let crlf = messy(&[(".gitattributes", "*.txt text eol=crlf\n")]);
        let git = Git::new(crlf.path());
        let now = scan::in_process_only(&git).unwrap().unwrap();
        let head = sh(crlf.path(), &["rev-parse", "HEAD^{tree}"]);
        let before = files(crlf.path());
        assert!(files_to(&now, head.trim()).unwrap().is_none());
        assert_eq!(files(crlf.path()), before, "nothing was touched");

        // A symlink in the difference.
        let link = messy(&[]);
        std::os::unix::fs::symlink("a.txt", link.path().join("ln")).unwrap();
        let git = Git::new(link.path());
        let now = scan::in_process_only(&git).unwrap().unwrap();
        let head = sh(link.path(), &["rev-parse", "HEAD^{tree}"]);
        assert!(files_to(&now, head.trim()).unwrap().is_none());
        // reset_hard still does the job, through git.
        drop(now);
        let repo = Repo::discover(link.path()).unwrap();
        repo.worktree(link.path()).reset_hard("HEAD").unwrap();
        assert!(std::fs::symlink_metadata(link.path().join("ln")).is_err());
        assert_eq!(sh(link.path(), &["status", "--porcelain"]), "");
    }

    #[test]
    fn a_reset_to_what_is_there_writes_neither_the_index_nor_the_branch() {
        use std::os::unix::fs::MetadataExt;
        let t = super::super::testutil::repo();
        let p = t.path();
        let git = Git::new(p);
        let ino = |rel: &str| std::fs::metadata(p.join(rel)).unwrap().ino();
        let before = (ino(".git/index"), ino(".git/refs/heads/main"));
        index_to(&git, "HEAD", &[]).unwrap();
        assert_eq!((ino(".git/index"), ino(".git/refs/heads/main")), before);

        // A staged change is still reset, and only the index is written.
        std::fs::write(p.join("a.txt"), "staged\n").unwrap();
        sh(p, &["add", "a.txt"]);
        let branch = ino(".git/refs/heads/main");
        index_to(&git, "HEAD", &[]).unwrap();
        assert_eq!(sh(p, &["diff", "--cached", "--name-only"]), "");
        assert_eq!(sh(p, &["diff", "--name-only"]).trim(), "a.txt");
        assert_eq!(ino(".git/refs/heads/main"), branch);
    }

    #[test]
    fn a_path_only_git_can_clear_is_left_to_git_and_ends_as_git_leaves_it() {
        // The committed file `dir` became a folder holding an untracked file and an ignored
        // one: deleting the untracked file leaves the folder in the way of the file.
        let make = || {
            let t = messy(&[]);
            let p = t.path();
            std::fs::remove_file(p.join("a.txt")).unwrap();
            std::fs::create_dir_all(p.join("a.txt")).unwrap();
            std::fs::write(p.join("a.txt/inner.txt"), "untracked\n").unwrap();
            std::fs::write(p.join("a.txt/keep.log"), "ignored\n").unwrap();
            t
        };
        let (ours, theirs) = (make(), make());
        let git_ok = std::process::Command::new("git")
            .args(["reset", "-q", "--hard", "HEAD"])
            .current_dir(theirs.path())
            .status()
            .unwrap()
            .success();
        if git_ok {
            sh(theirs.path(), &["clean", "-f", "-d", "-q"]);
        }
        let repo = Repo::discover(ours.path()).unwrap();
        let result = repo.worktree(ours.path()).reset_hard("HEAD");
        assert_eq!(result.is_ok(), git_ok, "{result:?}");
        assert_eq!(files(ours.path()), files(theirs.path()));
    }

    /// A `--no-checkout` worktree of a repository holding `files`, as `worktree add` makes it.
    fn empty_worktree(files: &[(&str, &str)]) -> (tempfile::TempDir, Git) {
        let made = repo_with(files);
        let wt = made.path().join("wt");
        sh(
            made.path(),
            &[
                "worktree",
                "add",
                "-q",
                "--no-checkout",
                "-b",
                "w",
                wt.to_str().unwrap(),
            ],
        );
        (made, Git::new(&wt))
    }

    #[test]
    fn a_new_worktree_is_filled_in_process_only_where_that_is_exact() {
        let (_plain, git) = empty_worktree(&[("a.txt", "a\n"), ("d/b.txt", "b\n")]);
        assert!(
            fill_new(&git).unwrap(),
            "a small plain tree is written in-process"
        );
        assert_eq!(
            std::fs::read_to_string(git.dir.join("d/b.txt")).unwrap(),
            "b\n"
        );
        assert_eq!(sh(&git.dir, &["status", "--porcelain"]), "");

        // The tree's own attributes are not on disk yet for the lookups to read: git does it.
        let (_attrs, git) = empty_worktree(&[(".gitattributes", "*.txt text\n"), ("a.txt", "a\n")]);
        assert!(!fill_new(&git).unwrap());
        // So does a sparse checkout, and a tree of more files than the bound.
        let (sparse, git) = empty_worktree(&[("a.txt", "a\n")]);
        sh(sparse.path(), &["config", "core.sparseCheckout", "true"]);
        assert!(!fill_new(&git).unwrap());
        let many: Vec<(String, &str)> = (0..=FRESH_FILES)
            .map(|i| (format!("f/{i}.txt"), "x\n"))
            .collect();
        let many: Vec<(&str, &str)> = many.iter().map(|(p, t)| (p.as_str(), *t)).collect();
        let (_many, git) = empty_worktree(&many);
        assert!(!fill_new(&git).unwrap());
        // Refusing leaves the worktree as it was, for git's checkout.
        assert!(std::fs::read_dir(&git.dir)
            .unwrap()
            .all(|e| e.unwrap().file_name() == ".git"));
    }
}
