//! The one error type orx returns when orx itself cannot go on, and how it reaches the user.
//!
//! A failing gate or agent is *state* (recorded in `state.json`, exit code 1 through the run
//! summary); an [`OrxError`] means orx could not do its own job (bad input, git broken, disk
//! full). The layers below the runner (`git`, `store`, `config`, `agents`) fail with typed
//! errors of their own that say what went wrong in their terms and keep their cause as a
//! `source`; they never decide how bad that is for the user. Code above converts them with `?`,
//! and the one mapping in `mapping.rs` decides each one's [`ErrorKind`], which in turn decides
//! the exit code and the HTTP status, and the hint that says how to fix it, the way jj's
//! `command_error.rs` does. [`FileError`] (`file.rs`) is the I/O failure every layer shares;
//! its [`FileRole`] says whether the file was the user's or orx's own.
//!
//! An [`OrxError`] keeps the typed error it came from as its `source`, so
//! `std::error::Error::source()` walks from the one-line message down to the `io::Error`.
//! Errors are printed as one line (`error: message` plus `hint: ...`), never as a panic.

pub mod file;
mod mapping;

pub use file::{FileError, FileRole};

use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// What went wrong, at the granularity of the exit-code contract in the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Wrong command-line use, an unknown run id, a missing `@file`, not a git repository.
    Usage,
    /// Something asked for by name does not exist (a run, an artifact); the API's 404.
    NotFound,
    /// `orx.yaml`, a scenario or another input file is malformed.
    Config,
    /// A run's on-disk state cannot be used (corrupt `state.json`, finished run resumed).
    State,
    /// Another orx process holds the run (its lock is live).
    Busy,
    /// The run was interrupted (Ctrl-C, SIGTERM).
    Interrupted,
    /// A run budget (`run.max_budget_usd`, `run.max_tokens`, `max_turns`) was crossed; the
    /// runner turns it into the `budget_exceeded` run status (exit code 1).
    BudgetExceeded,
    /// git, the file system or a child process failed underneath orx.
    Internal,
}

/// The cause an [`OrxError`] was made from, shared so the error stays cheap to clone.
type Cause = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// An error that stops orx, with a kind, one sentence, an optional fix and its cause.
#[derive(Debug, Clone)]
pub struct OrxError {
    pub kind: ErrorKind,
    pub message: String,
    pub hint: Option<String>,
    source: Option<Cause>,
}

pub type Result<T, E = OrxError> = std::result::Result<T, E>;

impl OrxError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        OrxError {
            kind,
            message: message.into(),
            hint: None,
            source: None,
        }
    }
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Usage, message)
    }
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config, message)
    }
    pub fn state(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::State, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }
    /// An error of `kind` whose message is `cause`'s, keeping `cause` as the source.
    pub fn caused_by(
        kind: ErrorKind,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        OrxError {
            kind,
            message: cause.to_string(),
            hint: None,
            source: Some(Arc::new(cause)),
        }
    }
    /// Attach a sentence that tells the user how to fix the problem.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    /// Keep `cause` as this error's source (the message stays as it is).
    pub fn with_source(mut self, cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(cause));
        self
    }
    /// An I/O failure on one of orx's own files (see [`FileRole::Own`]).
    pub fn io(action: &str, path: &Path, err: std::io::Error) -> Self {
        FileError::own(action, path, err).into()
    }
    /// An I/O failure on a file the user named (see [`FileRole::Input`]): a missing one is a
    /// usage error.
    pub fn user_file(action: &str, path: &Path, err: std::io::Error) -> Self {
        FileError::input(action, path, err).into()
    }
}

impl fmt::Display for OrxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for OrxError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}
