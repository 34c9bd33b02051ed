//! What can go wrong with a run folder, in the store's terms.
//!
//! Files under `runs/` are orx's own, so a failed read or write is a [`FileError`] with
//! [`FileRole::Own`], except where the caller writes a file the user named
//! ([`StoreError::about_user_file`]). A run whose `state.json` or summary cannot be read back
//! (missing, corrupt, another format version) has its own variants, because that is a run that
//! cannot be used rather than orx failing underneath. The boundary mapping (`crate::error`)
//! decides the kind, exit code and hint of each.

use std::path::PathBuf;

use crate::error::file::{FileError, FileRole};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Reading or writing one of the run's files failed.
    #[error(transparent)]
    File(#[from] FileError),
    /// `state.json` could not be read at all (missing, unreadable).
    #[error(transparent)]
    StateUnreadable(FileError),
    /// `state.json` is not UTF-8 text.
    #[error("{}: state file is corrupt: it is not UTF-8 text", path.display())]
    NotUtf8 { path: PathBuf },
    /// `state.json` is not JSON.
    #[error("{}:{line}:{column}: state file is corrupt: {source}", path.display())]
    CorruptJson {
        path: PathBuf,
        line: usize,
        column: usize,
        #[source]
        source: serde_json::Error,
    },
    /// `state.json` is JSON but not a run state this orx understands.
    #[error("{}: state file is corrupt: {source}", path.display())]
    Unusable {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// `state.json` was written by an orx with another state format.
    #[error(
        "{}: state version {found} is not supported by this orx (expects {expected})",
        path.display()
    )]
    UnsupportedVersion {
        path: PathBuf,
        found: u64,
        expected: u32,
    },
    /// `meta.json` (the run summary) is not what orx wrote.
    #[error("{}: corrupt run summary: {source}", path.display())]
    CorruptSummary {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// Another live orx process holds the run's lock.
    #[error("run {run_id} is in use by another orx process{}", pid.map(|p| format!(" (pid {p})")).unwrap_or_default())]
    Busy { run_id: String, pid: Option<u32> },
    /// The run folder was removed by another process while this one was getting to it.
    #[error("run {run_id} no longer exists: another orx process removed it")]
    RunRemoved { run_id: String },
    /// A value could not be turned into JSON (a bug in orx, not in the data).
    #[error("cannot encode {what}: {source}")]
    Encode {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    /// A path with no folder to write the temporary file in.
    #[error("{} has no parent folder", path.display())]
    NoParent { path: PathBuf },
}

impl StoreError {
    /// The same error about a file the user named (a `--junit` report, the `orx.yaml` that
    /// `orx init` writes), so a missing folder there is the user's mistake.
    pub fn about_user_file(self) -> StoreError {
        match self {
            StoreError::File(e) => StoreError::File(FileError {
                role: FileRole::Input,
                ..e
            }),
            other => other,
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
