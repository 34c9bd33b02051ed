//! Where a worktree's git files are (its index, the repository's object directory), found
//! from the files themselves without starting git.
//!
//! Every snapshot and every look at the working files needs both paths, and the overhead
//! benchmark counts git processes, so they are read from `.git` (a folder in a main checkout,
//! a `gitdir:` file in a linked worktree, whose folder names the common one in `commondir`);
//! only a `.git` that is neither asks git. The scan and the quarantine both use them,
//! which is why they live apart from either.

use std::path::PathBuf;

use super::error::Result;
use super::Git;

/// The worktree's real index file. Read from `<dir>/.git` (a folder in a main checkout, a
/// `gitdir:` file in a linked worktree) without starting git: every snapshot needs it, and
/// the overhead benchmark counted this `rev-parse` as one git call in seven. Anything else
/// (a `.git` that is neither) asks `git rev-parse --git-path index`.
pub(super) fn index_path(git: &Git) -> Result<PathBuf> {
    let dot_git = git.dir.join(".git");
    if dot_git.is_dir() {
        return Ok(dot_git.join("index"));
    }
    if let Ok(text) = std::fs::read_to_string(&dot_git) {
        if let Some(dir) = text.strip_prefix("gitdir:").map(str::trim) {
            // `join` keeps an absolute gitdir as it is and resolves a relative one
            // (worktree.useRelativePaths) against the worktree, as git does.
            let gitdir = git.dir.join(dir);
            if !dir.is_empty() && gitdir.is_dir() {
                return Ok(gitdir.join("index"));
            }
        }
    }
    Ok(git.dir.join(git.run(["rev-parse", "--git-path", "index"])?))
}

/// The repository's object directory, found from the worktree's index file (whose folder is
/// the git folder, and in a linked worktree names the common one in `commondir`) without
/// starting git: every look needs it, and the overhead benchmark counts git calls.
pub(super) fn objects_dir(git: &Git) -> Result<PathBuf> {
    let index = index_path(git)?;
    let gitdir = index.parent().unwrap_or(&git.dir);
    Ok(match std::fs::read_to_string(gitdir.join("commondir")) {
        Ok(common) => gitdir.join(common.trim()).join("objects"),
        Err(_) => gitdir.join("objects"),
    })
}
