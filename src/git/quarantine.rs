//! A private object store for looking at a worktree's files before anything is kept.
//!
//! Every question about the working state (what changed, what the secret scan reads, what the
//! dashboard's diff shows) starts by hashing the working files into a tree, and hashing writes
//! each new file's content as an object. A secret the scan then blocks must never reach the
//! user's `.git/objects`, not even as an unreachable blob waiting for a `git gc`. So orx hashes
//! into a quarantine, as git's own `receive-pack` does with an incoming push:
//!
//! - in-process, a libgit2 handle of its own whose object database is a fresh one: an
//!   in-memory pack (libgit2's mempack), the only store it can write, in front of the
//!   repository's objects added read-only (as an alternate). Existing objects are read from
//!   where they are, new ones stay in memory and are gone when the quarantine is dropped.
//!   Opening a repository (discovery, every config file) costs far more than the look itself
//!   on a small change, so the handle is kept per thread and folder once its quarantine is
//!   dropped, and the next quarantine gives it a new object database;
//! - where the scan runs `git add -A` (`scan.rs`), also a fresh folder inside the repository's
//!   objects directory, made git's object directory (`GIT_OBJECT_DIRECTORY`) with the real one
//!   as an alternate, and added to the handle as an alternate so it reads what git wrote;
//!   dropping the quarantine deletes the folder with everything in it.
//!
//! Only [`WorkingState::keep`], called once the content has passed the scan (a snapshot is
//! about to point at it), copies the tree's new objects into the repository: children before
//! parents, and only below trees the repository does not have yet, so a kept tree is complete
//! the moment it exists and a small change on a large tree copies a few objects.
//!
//! What the agent itself writes with git (its own `git add`, `git commit`, `git stash`) is
//! outside this: those objects are the agent's, written before orx sees the files.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use git2::{ObjectType, Odb, Oid, Repository};

use super::error::Result;
use super::{handle, Git};
use crate::error::file::FileError;

/// The working state of a worktree as a tree, with the objects hashed to make it held in a
/// quarantine that is dropped with it unless [`WorkingState::keep`] copies them in first.
pub struct WorkingState {
    /// The tree sha of the working state.
    pub tree: String,
    quarantine: Quarantine,
}

impl std::fmt::Debug for WorkingState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkingState")
            .field("tree", &self.tree)
            .field("dir", &self.quarantine.git.dir)
            .finish()
    }
}

impl WorkingState {
    pub(super) fn new(tree: String, quarantine: Quarantine) -> WorkingState {
        WorkingState { tree, quarantine }
    }

    /// The handle that sees the quarantined objects (to diff or list the tree).
    pub(super) fn repo(&self) -> &Repository {
        self.quarantine.repo()
    }

    /// The worktree's runner (where errors happened).
    pub(super) fn git(&self) -> &Git {
        &self.quarantine.git
    }

    /// The git runner that sees the quarantined objects, when the scan ran git.
    pub(super) fn disk_git(&self) -> Option<&Git> {
        self.quarantine.disk.as_ref().map(|d| &d.git)
    }

    /// Copy the tree's new objects into the repository's object database, so it can be
    /// committed; returns the tree sha.
    pub(super) fn keep(mut self) -> Result<String> {
        let tree = std::mem::take(&mut self.tree);
        let q = &self.quarantine;
        let id = handle::oid(&tree).map_err(|e| handle::failure(&q.git.dir, "keep", e))?;
        handle::with_repo(&q.git, "keep the snapshot's objects", |real| {
            copy_new(q.repo(), &real.odb()?, id)
        })?;
        Ok(tree)
    }
}

/// Copy `id` and everything below it that `to` lacks from `from`'s store, children first.
fn copy_new(from: &Repository, to: &Odb<'_>, id: Oid) -> std::result::Result<(), git2::Error> {
    if to.exists(id) {
        return Ok(());
    }
    let odb = from.odb()?;
    let object = odb.read(id)?;
    if object.kind() == ObjectType::Tree {
        for entry in from.find_tree(id)?.iter() {
            // A gitlink names a commit of another repository: nothing to copy.
            if entry.kind() != Some(ObjectType::Commit) {
                copy_new(from, to, entry.id())?;
            }
        }
    }
    to.write(object.kind(), object.data()).map(drop)
}

/// The quarantine behind one look at the working files.
pub(super) struct Quarantine {
    /// A handle of its own: its object database writes into memory. `None` only while
    /// dropping, when it is kept for the next quarantine on the folder.
    repo: Option<Repository>,
    /// The worktree's plain runner.
    git: Git,
    /// The folder git hashed into, when the scan ran git.
    disk: Option<DiskQuarantine>,
}

/// A temporary object directory inside the repository's own, deleted when dropped.
struct DiskQuarantine {
    dir: PathBuf,
    git: Git,
}

impl Drop for DiskQuarantine {
    fn drop(&mut self) {
        // Best effort: what cannot be removed is a folder git ignores (not an object
        // directory's fan-out name), named as ours.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for Quarantine {
    fn drop(&mut self) {
        if let Some(repo) = self.repo.take() {
            // Let the in-memory objects go now, not at the next look: an empty store until then.
            if Odb::new().and_then(|empty| repo.set_odb(&empty)).is_ok() {
                handle::keep_quarantine_handle(&self.git.dir, repo);
            }
        }
    }
}

impl Quarantine {
    /// A fresh in-memory quarantine for looking at the worktree `git` runs in.
    pub(super) fn new(git: &Git) -> Result<Quarantine> {
        let fail = |e| handle::failure(&git.dir, "open a quarantine", e);
        let repo = match handle::take_quarantine_handle(&git.dir) {
            Some(repo) => repo,
            None => handle::open(&git.dir).map_err(fail)?,
        };
        {
            let odb = Odb::new_ext(repo.object_format()).map_err(fail)?;
            // The only store that takes writes, so every new object lands in memory ...
            odb.add_new_mempack_backend(1000).map_err(fail)?;
            // ... and the repository's objects (with its own alternates) are read-only here.
            let objects = repo.commondir().join("objects");
            odb.add_disk_alternate(&objects.to_string_lossy())
                .map_err(fail)?;
            repo.set_odb(&odb).map_err(fail)?;
        }
        Ok(Quarantine {
            repo: Some(repo),
            git: git.clone(),
            disk: None,
        })
    }

    /// The handle whose writes stay in memory.
    pub(super) fn repo(&self) -> &Repository {
        // Set in `new` and taken only by `drop`, after which nothing can call this.
        self.repo
            .as_ref()
            .expect("a live quarantine holds its handle")
    }

    /// A runner for git calls whose new objects land in a folder of this quarantine (created
    /// on first use) and that this quarantine's handle reads.
    pub(super) fn disk_git(&mut self) -> Result<&Git> {
        let disk = match self.disk.take() {
            Some(disk) => disk,
            None => self.new_disk()?,
        };
        Ok(&self.disk.insert(disk).git)
    }

    fn new_disk(&self) -> Result<DiskQuarantine> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let objects = super::gitdir::objects_dir(&self.git)?;
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = objects.join(format!("orx-quarantine-{}-{n}", std::process::id()));
        std::fs::create_dir(&dir).map_err(|e| FileError::own("create", &dir, e))?;
        let git = self
            .git
            .clone()
            .with_env("GIT_OBJECT_DIRECTORY", &dir)
            .with_env("GIT_ALTERNATE_OBJECT_DIRECTORIES", &objects);
        let disk = DiskQuarantine { dir, git };
        let alternate = disk.dir.to_string_lossy().into_owned();
        self.repo()
            .odb()
            .and_then(|odb| odb.add_disk_alternate(&alternate))
            .map_err(|e| handle::failure(&self.git.dir, "open a quarantine", e))?;
        Ok(disk)
    }
}
