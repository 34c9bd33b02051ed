//! A failed file operation, and whose file it was.
//!
//! Every layer reads and writes files, and the same `NotFound` means two different things: a
//! file the user named (`@task.md`, `--config`, `--scenario`) that is missing is the user's
//! mistake, while one of orx's own files (under `runs/`, in `.git`, in a worktree) that is
//! missing means something went wrong underneath orx. The function that fails cannot know
//! which it is looking at in general, so it records the [`FileRole`] its caller gave it and the
//! boundary mapping (`mapping.rs`) decides the kind from both. This file imports nothing, so
//! every layer can use it without depending on anything above it.

use std::path::{Path, PathBuf};

/// Whose file an operation was about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileRole {
    /// A file the user named on the command line or in a config (a task file, `--config`,
    /// `--scenario`): missing is a usage error.
    Input,
    /// One of orx's own files (the run folder, `.git/info/exclude`, a lock, a worktree file):
    /// any failure is orx failing underneath.
    Own,
}

/// An I/O failure on one path: `cannot <action> <path>: <io error>`.
#[derive(Debug, thiserror::Error)]
#[error("cannot {action} {}: {source}", path.display())]
pub struct FileError {
    pub role: FileRole,
    /// What orx was doing, as a verb phrase: `read`, `create`, `append to`.
    pub action: String,
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

impl FileError {
    /// A failure on one of orx's own files.
    pub fn own(action: &str, path: &Path, source: std::io::Error) -> FileError {
        FileError::new(FileRole::Own, action, path, source)
    }

    /// A failure on a file the user named.
    pub fn input(action: &str, path: &Path, source: std::io::Error) -> FileError {
        FileError::new(FileRole::Input, action, path, source)
    }

    pub fn new(role: FileRole, action: &str, path: &Path, source: std::io::Error) -> FileError {
        FileError {
            role,
            action: action.to_string(),
            path: path.to_path_buf(),
            source,
        }
    }
}
