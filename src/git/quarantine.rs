//! A private object directory for looking at a worktree's files before anything is kept.
//!
//! Every question about the working state (what changed, what the secret scan reads, what the
//! dashboard's diff shows) starts with `git add -A` + `write-tree`, and git writes each new
//! file's content into the object database as it hashes it. A secret the scan then blocks
//! would stay there as an unreachable blob, in the user's `.git/objects`, until a `git gc`
//! weeks later. So orx hashes into a quarantine instead, as git's own `receive-pack` does
//! with an incoming push: a fresh folder inside the repository's objects directory, made the
//! object directory of the calls (`GIT_OBJECT_DIRECTORY`) with the real one as an alternate
//! (`GIT_ALTERNATE_OBJECT_DIRECTORIES`), so existing objects are read from where they are and
//! only new ones land in the quarantine. Dropping the [`WorkingState`] deletes the quarantine
//! with everything in it; only [`WorkingState::keep`], called once the content has passed the
//! scan (a snapshot is about to point at it), moves the objects into the repository.
//!
//! What the agent itself writes with git (its own `git add`, `git commit`, `git stash`) is
//! outside this: those objects are the agent's, written before orx sees the files.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::error::Result;
use super::Git;
use crate::error::file::FileError;

/// The working state of a worktree as a tree, with the objects hashed to make it held in a
/// quarantine that is deleted on drop unless [`WorkingState::keep`] moves them in first.
#[derive(Debug)]
pub struct WorkingState {
    /// The tree sha of the working state.
    pub tree: String,
    quarantine: Quarantine,
}

impl WorkingState {
    pub(super) fn new(tree: String, quarantine: Quarantine) -> WorkingState {
        WorkingState { tree, quarantine }
    }

    /// The git runner that sees the quarantined objects (to diff or list the tree).
    pub(super) fn git(&self) -> &Git {
        &self.quarantine.git
    }

    /// Move the quarantined objects into the repository's object database, so the tree can
    /// be committed; returns the tree sha.
    pub(super) fn keep(mut self) -> Result<String> {
        self.quarantine.migrate()?;
        Ok(std::mem::take(&mut self.tree))
    }
}

/// A temporary object directory inside the repository's own, deleted when dropped.
#[derive(Debug)]
pub(super) struct Quarantine {
    dir: PathBuf,
    objects: PathBuf,
    git: Git,
}

impl Quarantine {
    /// A fresh quarantine for calls made by `git`: new objects go into it, existing ones are
    /// read from the repository.
    pub(super) fn new(git: &Git) -> Result<Quarantine> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let objects = super::gitdir::objects_dir(git)?;
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = objects.join(format!("orx-quarantine-{}-{n}", std::process::id()));
        std::fs::create_dir(&dir).map_err(|e| FileError::own("create", &dir, e))?;
        let quarantined = git
            .clone()
            .with_env("GIT_OBJECT_DIRECTORY", &dir)
            .with_env("GIT_ALTERNATE_OBJECT_DIRECTORIES", &objects);
        Ok(Quarantine {
            dir,
            objects,
            git: quarantined,
        })
    }

    pub(super) fn git(&self) -> &Git {
        &self.git
    }

    /// Move every object file into the repository: loose objects into their fan-out
    /// folders, packs with their index last (as git does), so no reader ever sees an index
    /// without its pack. An object already there is the same content under the same name.
    fn migrate(&mut self) -> Result<()> {
        let mut files = Vec::new();
        collect(&self.dir, &self.dir, &mut files)?;
        files.sort_by_key(|rel| rel.extension().is_some_and(|e| e == "idx"));
        for rel in files {
            let to = self.objects.join(&rel);
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent).map_err(|e| FileError::own("create", parent, e))?;
            }
            let from = self.dir.join(&rel);
            std::fs::rename(&from, &to).map_err(|e| FileError::own("move", &from, e))?;
        }
        Ok(())
    }
}

impl Drop for Quarantine {
    fn drop(&mut self) {
        // Best effort: what cannot be removed is a folder git ignores (not an object
        // directory's fan-out name), named as ours.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The files under `dir`, relative to `root`.
fn collect(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let rd = std::fs::read_dir(dir).map_err(|e| FileError::own("read", dir, e))?;
    for entry in rd {
        let entry = entry.map_err(|e| FileError::own("read", dir, e))?;
        let path = entry.path();
        let kind = entry
            .file_type()
            .map_err(|e| FileError::own("read", &path, e))?;
        if kind.is_dir() {
            collect(root, &path, out)?;
        } else if let Ok(rel) = path.strip_prefix(root) {
            out.push(rel.to_path_buf());
        }
    }
    Ok(())
}
