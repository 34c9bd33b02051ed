//! The one error type orx returns when orx itself cannot go on, and its exit codes.
//!
//! The line between state and error: a failing gate or agent is *state* (recorded in
//! `state.json`, exit code 1 through the run summary), while an [`OrxError`] means orx could
//! not do its own job (bad input, git broken, disk full). Each error carries a [`ErrorKind`]
//! that maps to exactly one documented exit code, a one-sentence message that already names
//! the file, line and column where it has them, and an optional hint that says how to fix it.
//! Errors are printed as one line (`error: message` plus `hint: ...`), never as a panic.

use std::fmt;
use std::path::Path;

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

impl ErrorKind {
    /// The process exit code for this kind, as documented in the README.
    pub fn exit_code(self) -> i32 {
        match self {
            ErrorKind::Usage
            | ErrorKind::NotFound
            | ErrorKind::Config
            | ErrorKind::State
            | ErrorKind::Busy => 2,
            ErrorKind::Interrupted => 130,
            ErrorKind::BudgetExceeded => 1,
            ErrorKind::Internal => 3,
        }
    }
}

/// An error that stops orx, with a kind, one sentence and an optional fix.
#[derive(Debug, Clone)]
pub struct OrxError {
    pub kind: ErrorKind,
    pub message: String,
    pub hint: Option<String>,
}

pub type Result<T, E = OrxError> = std::result::Result<T, E>;

impl OrxError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        OrxError {
            kind,
            message: message.into(),
            hint: None,
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
    /// Attach a sentence that tells the user how to fix the problem.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    /// An I/O failure on `path`, phrased as one sentence; a full disk or a read-only or
    /// forbidden folder also gets the hint that fixes it (a run's state on disk is whole, so
    /// `orx resume` continues once the condition is gone).
    pub fn io(action: &str, path: &Path, err: std::io::Error) -> Self {
        use std::io::ErrorKind as Io;
        let kind = if err.kind() == Io::NotFound {
            ErrorKind::Usage
        } else {
            ErrorKind::Internal
        };
        let fix = match err.kind() {
            Io::StorageFull | Io::QuotaExceeded => Some("free space on that disk"),
            Io::ReadOnlyFilesystem => Some("remount that file system read-write"),
            Io::PermissionDenied => Some("make that folder writable for this user"),
            _ => None,
        };
        let e = Self::new(kind, format!("cannot {action} {}: {err}", path.display()));
        match fix {
            Some(fix) => e.with_hint(format!(
                "{fix}, then run the command again; `orx resume <run id>` continues a run where \
                 it stopped"
            )),
            None => e,
        }
    }
}

impl fmt::Display for OrxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for OrxError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_documented_contract() {
        assert_eq!(ErrorKind::Usage.exit_code(), 2);
        assert_eq!(ErrorKind::Config.exit_code(), 2);
        assert_eq!(ErrorKind::NotFound.exit_code(), 2);
        assert_eq!(ErrorKind::State.exit_code(), 2);
        assert_eq!(ErrorKind::Busy.exit_code(), 2);
        assert_eq!(ErrorKind::Interrupted.exit_code(), 130);
        assert_eq!(ErrorKind::Internal.exit_code(), 3);
    }

    #[test]
    fn io_not_found_is_a_usage_error_naming_the_path() {
        let e = OrxError::io(
            "read",
            Path::new("task.md"),
            std::io::Error::from(std::io::ErrorKind::NotFound),
        );
        assert_eq!(e.kind, ErrorKind::Usage);
        assert!(e.message.contains("task.md"), "{}", e.message);
    }
}
