//! What can go wrong on orx's side of an agent call, in the agents' terms.
//!
//! A failing agent is state, not an error (it becomes an `AgentOutcome`). What is left is the
//! fake engine's input, the scenario a user names with `--scenario` (missing, not text, not a
//! valid scenario, a path escaping the worktree), and the fake agent process failing to write
//! the files a scenario step asks for. The boundary mapping (`crate::error`) decides kinds and
//! hints; an invalid scenario carries the hint its diagnostics worked out (a did-you-mean).

use std::path::PathBuf;

use crate::error::file::FileError;

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// `--scenario PATH` (or `engine.scenario`) names nothing.
    #[error("scenario file {} does not exist", path.display())]
    ScenarioMissing { path: PathBuf },
    /// `--scenario PATH` names a folder.
    #[error("scenario {} is a folder, not a file", path.display())]
    ScenarioIsFolder { path: PathBuf },
    /// The scenario file is not UTF-8.
    #[error("scenario file {} is not UTF-8 text", path.display())]
    ScenarioNotText { path: PathBuf },
    /// The scenario does not parse or breaks a rule; `message` is already located
    /// (`scenario.yaml:3:5: ...`).
    #[error("{message}")]
    InvalidScenario {
        message: String,
        hint: Option<String>,
    },
    /// A scenario step names a file outside the worktree.
    #[error("scenario path `{path}` leaves the worktree")]
    PathLeavesWorktree { path: String },
    /// The fake agent could not find the folder it runs in.
    #[error("{0}")]
    NoWorkingDir(#[source] std::io::Error),
    /// Reading the scenario or writing a step's files failed.
    #[error(transparent)]
    File(#[from] FileError),
}

pub type Result<T, E = AgentError> = std::result::Result<T, E>;
