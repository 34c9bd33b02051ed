//! What can go wrong when orx drives git, in git's terms.
//!
//! Each variant carries what the message needs and, where there is one, the underlying
//! `io::Error` as its source. Whether a failure is the user's mistake (not a repository, an
//! unknown base branch) or git breaking underneath orx, and what hint to give, is decided once,
//! in the boundary mapping (`crate::error`), not here.

use std::path::PathBuf;

use crate::error::file::FileError;

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// The folder orx was started in (or `--dir`) is not in a git repository.
    #[error("{} is not inside a git repository", dir.display())]
    NotARepository { dir: PathBuf },
    /// A base branch or revision that names no commit; `branches` are some that exist.
    #[error("unknown base branch `{rev}`")]
    UnknownBaseBranch { rev: String, branches: Vec<String> },
    /// A git command exited non-zero; `detail` is git's first error line.
    #[error("`git {command}` failed in {}: {detail}", dir.display())]
    Failed {
        command: String,
        dir: PathBuf,
        detail: String,
    },
    /// git could not be started because the folder it was to run in is gone.
    #[error("cannot run `git {subcommand}`: the folder {} no longer exists", dir.display())]
    FolderGone {
        subcommand: String,
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// git could not be started (not installed, not on PATH, ...).
    #[error("cannot run `git {subcommand}` in {}: {source}", dir.display())]
    Spawn {
        subcommand: String,
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// git succeeded but printed something orx cannot read.
    #[error("`git {command}` in {} printed `{output}`, expected {expected}", dir.display())]
    UnexpectedOutput {
        command: String,
        dir: PathBuf,
        output: String,
        expected: &'static str,
    },
    /// The folder a run's worktree should use holds another checkout.
    #[error("{} is already a worktree on {on}, not on `{branch}`", path.display())]
    WorktreeTaken {
        path: PathBuf,
        on: String,
        branch: String,
    },
    /// A worktree is not on the branch orx is about to commit on.
    #[error("cannot commit on `{branch}` in {}: its HEAD is `{head}`", dir.display())]
    WrongHead {
        branch: String,
        dir: PathBuf,
        head: String,
    },
    /// A ref operation asked for a prefix outside `refs/`: a bug in orx, refused.
    #[error("refusing to {action} refs under `{prefix}`: the prefix must start with refs/")]
    NotARefPrefix {
        action: &'static str,
        prefix: String,
    },
    /// A file orx keeps in the repository (the exclude file, the worktree lock, an index).
    #[error(transparent)]
    File(#[from] FileError),
    /// An in-process (libgit2) operation failed; `detail` is libgit2's message.
    #[error("git {op} failed in {} (in-process): {detail}", dir.display())]
    InProcess {
        op: String,
        dir: PathBuf,
        detail: String,
    },
}

pub type Result<T, E = GitError> = std::result::Result<T, E>;
