//! The working-tree scan: the worktree's files (tracked changes, untracked non-ignored files,
//! deletions) hashed into a tree in a quarantine, the first step of every look at an agent's
//! work.
//!
//! Both ways start from the worktree's own index, so files whose stat data is unchanged are
//! not hashed again, and neither writes that index:
//!
//! - **in-process** (libgit2): the index is read into memory, one walk compares it with the
//!   files, only the paths that differ are hashed (ignored files skipped, as `git add -A`
//!   does; as they are on disk where no attribute or `core.autocrlf` can convert them, else
//!   through libgit2's filters), and the tree is written into the quarantine's in-memory store. No process starts;
//!   this was most of a run's git processes.
//! - **`git add -A`** into a private copy of the index, with git's object directory pointed at
//!   the quarantine's folder, then `git write-tree`. git is chosen where libgit2 would do the
//!   job worse: a repository that configures a filter driver (`filter.<name>.clean` or
//!   `.process`, as `git-lfs` installs; libgit2 runs only its built-in CRLF and ident
//!   filters, so it would hash the raw file instead of the pointer), a configured
//!   `core.fsmonitor` (git then skips the walk), an index libgit2 cannot read (a split
//!   index), and an index above [`LARGE_INDEX`] entries, where git's preloaded, parallel
//!   `lstat` and untracked cache catch up with the in-process walk ([`LARGE_INDEX`] is where
//!   the measurement put that line: `bench/notes.md`, "Git in-process"). An in-process scan that fails for any reason falls back to git too, so libgit2
//!   never makes a look fail that git would have answered.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use git2::{Delta, DiffOptions, Index, IndexEntry, IndexTime, Repository};

use super::error::Result;
use super::gitdir::index_path;
use super::quarantine::{Quarantine, WorkingState};
use super::Git;
use crate::error::file::FileError;

/// Index entries above which the scan runs `git add -A` (see the module note). On a
/// generated tree the in-process scan was faster up to 30,000 files (22 ms against 82 ms at
/// 2,000, 160 against 172 at 30,000) and even with git at 100,000 (636 against 666 ms, and
/// 782 against 702 in another round); past that git's parallel `lstat` and its caches win.
pub(super) const LARGE_INDEX: usize = 100_000;

/// The working state of the worktree `git` runs in, hashed into a fresh quarantine.
pub(super) fn working_state(git: &Git) -> Result<WorkingState> {
    let quarantine = Quarantine::new(git)?;
    match in_process(git, quarantine.repo(), LARGE_INDEX) {
        Ok(Some(tree)) => return Ok(WorkingState::new(tree, quarantine)),
        Ok(None) => {}
        Err(e) => {
            tracing::debug!(dir = %git.dir.display(), "in-process scan failed, running git: {e}")
        }
    }
    // A fresh quarantine: whatever the failed attempt hashed is dropped with the old one.
    drop(quarantine);
    let (_index, state) = with_git(git)?;
    Ok(state)
}

/// The working state by the in-process scan alone, `None` where git would be needed (a large or
/// filtered repository, or libgit2 failing): for callers to whom a look is only worth it
/// when it is cheap.
pub(super) fn in_process_only(git: &Git) -> Result<Option<WorkingState>> {
    let quarantine = Quarantine::new(git)?;
    Ok(match in_process(git, quarantine.repo(), LARGE_INDEX) {
        Ok(Some(tree)) => Some(WorkingState::new(tree, quarantine)),
        _ => None,
    })
}

/// The in-process scan, `None` where git does the job better (above `limit` entries).
fn in_process(
    git: &Git,
    repo: &Repository,
    limit: usize,
) -> std::result::Result<Option<String>, git2::Error> {
    if git_does_better(repo)? {
        return Ok(None);
    }
    let path = match index_path(git) {
        Ok(path) => path,
        Err(_) => return Ok(None),
    };
    let mut index = Index::open(&path)?;
    if index.len() > limit {
        return Ok(None);
    }
    repo.set_index(&mut index)?;
    // One walk of the files against the index (git's own `add -A` makes one too; libgit2's
    // `add_all` + `update_all` would make two), then only the paths that differ are hashed.
    let mut opts = DiffOptions::new();
    opts.include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_typechange(true)
        .skip_binary_check(true);
    let diff = repo.diff_index_to_workdir(Some(&index), Some(&mut opts))?;
    let mut changes = Vec::new();
    for delta in diff.deltas() {
        let gone = delta.status() == Delta::Deleted;
        if let Some(path) = delta.new_file().path().or(delta.old_file().path()) {
            changes.push((path.to_path_buf(), gone));
        }
    }
    drop(diff);
    // Deletions first, so a file that became a folder (or back) never meets its old entry.
    changes.sort_by_key(|(_, gone)| !gone);
    let raw = unfiltered(repo, changes.iter().filter(|c| !c.1).map(|c| c.0.as_path()))?;
    let root = repo.workdir().map(Path::to_path_buf);
    for (path, gone) in changes {
        if gone {
            index.remove_path(&path)?;
            continue;
        }
        if let (true, Some(root)) = (raw, &root) {
            if add_raw(&mut index, root, &path)? {
                continue;
            }
        }
        // A folder here is an untracked repository inside the worktree, which `git add`
        // records as a gitlink: git does that part.
        index.add_path(&path)?;
    }
    Ok(Some(index.write_tree()?.to_string()))
}

/// Whether `paths` go into the object store exactly as their bytes are, so the scan may hash
/// them itself ([`add_raw`]) instead of through `Index::add_path`, which loads the filters of
/// each path: an attribute lookup (a dozen system calls) per file. It holds where no
/// attribute rule can apply, `core.autocrlf` converts nothing, and modes, links and names are
/// taken as they are on disk (`core.fileMode` and `core.symlinks` on, `core.ignoreCase` off,
/// each its default here).
fn unfiltered<'p>(
    repo: &Repository,
    paths: impl IntoIterator<Item = &'p Path>,
) -> std::result::Result<bool, git2::Error> {
    let mut paths = paths.into_iter().peekable();
    if paths.peek().is_none() {
        return Ok(false);
    }
    let cfg = repo.config()?.snapshot()?;
    let on = |key: &str, default: bool| cfg.get_bool(key).unwrap_or(default);
    let autocrlf = cfg
        .get_string("core.autocrlf")
        .is_ok_and(|v| !super::handle::config_off(&v));
    if autocrlf
        || !on("core.fileMode", true)
        || !on("core.symlinks", true)
        || on("core.ignoreCase", false)
    {
        return Ok(false);
    }
    super::attributes::none_apply(repo, &cfg, paths)
}

/// The largest file [`add_raw`] reads whole into memory; a larger one goes through
/// `add_path`, which streams it.
const RAW_MAX: u64 = 8 * 1024 * 1024;

/// `path` added to `index` as `add_path` adds it when no filter applies: a file's bytes, or a
/// symlink's target, hashed into a blob in the index's repository, with the mode git gives
/// it. The entry carries no stat data: the scan's index only ever becomes a tree. `false` for
/// anything else (a folder: a repository inside the worktree; a file above [`RAW_MAX`]), which
/// `add_path` handles.
fn add_raw(index: &mut Index, root: &Path, path: &Path) -> std::result::Result<bool, git2::Error> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::PermissionsExt;
    let full = root.join(path);
    let io = |e: std::io::Error| git2::Error::from_str(&format!("{}: {e}", full.display()));
    let meta = full.symlink_metadata().map_err(io)?;
    let (mode, bytes) = if meta.is_file() && meta.len() <= RAW_MAX {
        // Git's rule: the owner's execute bit alone makes a file executable.
        let exec = meta.permissions().mode() & 0o100 != 0;
        let mode = if exec { 0o100755 } else { 0o100644 };
        (mode, std::fs::read(&full).map_err(io)?)
    } else if meta.file_type().is_symlink() {
        let target = std::fs::read_link(&full).map_err(io)?;
        (0o120000, target.as_os_str().as_bytes().to_vec())
    } else {
        return Ok(false);
    };
    let entry = IndexEntry {
        ctime: IndexTime::new(0, 0),
        mtime: IndexTime::new(0, 0),
        dev: 0,
        ino: 0,
        mode,
        uid: 0,
        gid: 0,
        file_size: 0,
        id: git2::Oid::ZERO_SHA1,
        flags: 0,
        flags_extended: 0,
        path: path.as_os_str().as_bytes().to_vec(),
    };
    index.add_frombuffer(&entry, &bytes)?;
    Ok(true)
}

/// Whether the config asks for what only git does: a clean or process filter driver (git-lfs),
/// or a filesystem monitor that spares git the walk libgit2 would make.
fn git_does_better(repo: &Repository) -> std::result::Result<bool, git2::Error> {
    let cfg = repo.config()?;
    let mut filters = cfg.entries(Some(r"^filter\..*\.(clean|process)$"))?;
    if filters.next().is_some() {
        return Ok(true);
    }
    Ok(cfg
        .get_string("core.fsmonitor")
        .is_ok_and(|v| !super::handle::config_off(&v)))
}

/// A private copy of a worktree's index, deleted when dropped.
pub(super) struct TempIndex {
    pub(super) path: PathBuf,
}

impl Drop for TempIndex {
    fn drop(&mut self) {
        // Best effort: a leftover file in the git folder is harmless and named as ours.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Copy the worktree's index next to itself under a name no other call uses.
fn temp_index(git: &Git) -> Result<TempIndex> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let real = index_path(git)?;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = format!("orx-index-{}-{n}", std::process::id());
    let path = real.with_file_name(name);
    let tmp = TempIndex { path };
    match std::fs::copy(&real, &tmp.path) {
        Ok(_) => Ok(tmp),
        // No index yet: git starts from an empty one.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(tmp),
        Err(e) => Err(FileError::own("copy the git index to", &tmp.path, e).into()),
    }
}

/// The scan by git: a temp index holding the full working state (which `restore` goes on
/// using), and the working state's tree, hashed into a quarantine folder.
pub(super) fn with_git(git: &Git) -> Result<(TempIndex, WorkingState)> {
    let index = temp_index(git)?;
    let mut quarantine = Quarantine::new(git)?;
    let q = quarantine.disk_git()?;
    q.call(["add", "-A"])
        .env("GIT_INDEX_FILE", &index.path)
        .run()?;
    let tree = q
        .call(["write-tree"])
        .env("GIT_INDEX_FILE", &index.path)
        .run()?;
    Ok((index, WorkingState::new(tree, quarantine)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::testutil::sh;
    use std::time::Instant;

    /// Both scans give the same tree, and hash nothing into the repository.
    #[test]
    fn both_scans_agree() {
        let tmp = crate::git::testutil::repo();
        let p = tmp.path();
        std::fs::write(p.join(".gitignore"), "*.log\n").unwrap();
        std::fs::write(p.join("a.txt"), "changed\n").unwrap();
        std::fs::remove_file(p.join("b.txt")).unwrap();
        std::fs::create_dir_all(p.join("new/deep")).unwrap();
        std::fs::write(p.join("new/deep/c.txt"), "c\n").unwrap();
        std::fs::write(p.join("x.log"), "ignored\n").unwrap();
        // Modes as git reads them: the owner's execute bit alone counts.
        use std::os::unix::fs::PermissionsExt;
        for (name, mode) in [
            ("run.sh", 0o755),
            ("group-x.sh", 0o654),
            ("owner-x.sh", 0o744),
        ] {
            std::fs::write(p.join(name), "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(p.join(name), std::fs::Permissions::from_mode(mode)).unwrap();
        }
        std::os::unix::fs::symlink("new/deep/c.txt", p.join("link")).unwrap();
        std::os::unix::fs::symlink("../nowhere", p.join("new/dangling")).unwrap();
        std::fs::write(p.join("big.bin"), vec![7u8; (RAW_MAX + 1) as usize]).unwrap();
        let git = Git::new(p);
        let before = sh(p, &["count-objects"]);
        let q = Quarantine::new(&git).unwrap();
        let ours = in_process(&git, q.repo(), usize::MAX).unwrap().unwrap();
        let (_index, theirs) = with_git(&git).unwrap();
        assert_eq!(ours, theirs.tree);
        drop((q, theirs));
        // Nothing the scans hashed stayed in the repository.
        assert_eq!(sh(p, &["count-objects"]), before);
        let leftovers: Vec<_> = std::fs::read_dir(p.join(".git/objects"))
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with("orx-"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    /// Where an attribute or `core.autocrlf` converts line endings on the way in, the
    /// in-process scan converts as git does (it leaves the hashing to libgit2's filters).
    #[test]
    fn both_scans_agree_where_line_endings_convert() {
        for (attributes, autocrlf) in [(Some("*.txt text eol=lf\n"), None), (None, Some("true"))] {
            let tmp = crate::git::testutil::repo();
            let p = tmp.path();
            if let Some(a) = attributes {
                std::fs::write(p.join(".gitattributes"), a).unwrap();
                sh(p, &["add", ".gitattributes"]);
                sh(p, &["commit", "-qm", "attributes"]);
            }
            if let Some(v) = autocrlf {
                sh(p, &["config", "core.autocrlf", v]);
            }
            std::fs::write(p.join("a.txt"), "one\r\ntwo\r\n").unwrap();
            std::fs::write(p.join("new.txt"), "x\r\n").unwrap();
            let git = Git::new(p);
            let q = Quarantine::new(&git).unwrap();
            let ours = in_process(&git, q.repo(), usize::MAX).unwrap().unwrap();
            let (_index, theirs) = with_git(&git).unwrap();
            assert_eq!(ours, theirs.tree, "{attributes:?} {autocrlf:?}");
            let tree = q
                .repo()
                .find_tree(git2::Oid::from_str(&ours).unwrap())
                .unwrap();
            let stored = tree.get_name("new.txt").unwrap().id();
            let lf = git2::Oid::hash_object(git2::ObjectType::Blob, b"x\n").unwrap();
            assert_eq!(stored, lf, "{attributes:?} {autocrlf:?}");
        }
    }

    /// With a filter driver configured the scan is git's, and keeping its tree copies exactly
    /// the new objects from the quarantine folder: nothing before, nothing else after.
    #[test]
    fn a_filtered_repository_scans_with_git_and_keeps_only_the_new_objects() {
        let tmp = crate::git::testutil::repo();
        let p = tmp.path();
        sh(p, &["config", "filter.plain.clean", "cat"]);
        std::fs::create_dir_all(p.join("new")).unwrap();
        std::fs::write(p.join("new/fresh.txt"), "fresh\n").unwrap();
        let git = Git::new(p);
        let count = || sh(p, &["count-objects"]);
        let before = count();
        let now = working_state(&git).unwrap();
        assert!(now.disk_git().is_some(), "the scan ran git");
        assert_eq!(count(), before, "looking wrote objects");
        let tree = now.keep().unwrap();
        // The blob and the two trees (root and new/).
        let loose =
            |text: String| -> u32 { text.split_whitespace().next().unwrap().parse().unwrap() };
        assert_eq!(loose(count()), loose(before) + 3);
        let listed = sh(p, &["ls-tree", "-r", "--name-only", &tree]);
        assert_eq!(listed, "a.txt\nb.txt\nnew/fresh.txt");
        sh(p, &["fsck", "--strict", "--no-dangling"]);
        let leftovers: Vec<_> = std::fs::read_dir(p.join(".git/objects"))
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with("orx-"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    /// The figure behind [`LARGE_INDEX`]: both scans timed on a generated tree of
    /// `ORX_SCAN_FILES` files (100,000 by default) with ten changed and ten new files, the
    /// two timed one after the other in each of 7 rounds.
    /// `cargo test --release --lib scan_timing -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn scan_timing_on_a_large_tree() {
        let n: usize = std::env::var("ORX_SCAN_FILES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(100_000);
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path();
        sh(p, &["init", "-q", "-b", "main"]);
        for i in 0..n {
            let dir = p.join(format!("d{:04}", i / 100));
            if i % 100 == 0 {
                std::fs::create_dir_all(&dir).unwrap();
            }
            std::fs::write(dir.join(format!("f{:02}.txt", i % 100)), format!("{i}\n")).unwrap();
        }
        sh(p, &["add", "-A"]);
        sh(
            p,
            &[
                "-c",
                "user.email=t@t",
                "-c",
                "user.name=t",
                "commit",
                "-q",
                "-m",
                "big",
            ],
        );
        let dirs = n.div_ceil(100);
        for i in 0..10 {
            let dir = (i * 7) % dirs;
            std::fs::write(
                p.join(format!("d{dir:04}/f00.txt")),
                format!("changed {i}\n"),
            )
            .unwrap();
            std::fs::write(p.join(format!("new{i}.txt")), "new\n").unwrap();
        }
        let git = Git::new(p);
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        let rounds = 7;
        for _ in 0..rounds {
            let t = Instant::now();
            let q = Quarantine::new(&git).unwrap();
            let a = in_process(&git, q.repo(), usize::MAX).unwrap().unwrap();
            ours.push(t.elapsed().as_secs_f64());
            let t = Instant::now();
            let (_i, b) = with_git(&git).unwrap();
            theirs.push(t.elapsed().as_secs_f64());
            assert_eq!(a, b.tree);
        }
        println!(
            "{n} files, median of {rounds}: in-process {:.0} ms, git add -A + write-tree {:.0} ms",
            median(ours) * 1000.0,
            median(theirs) * 1000.0
        );
    }
}
