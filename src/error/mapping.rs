//! The one place that decides what a failure means for the user: its kind, and from the kind
//! the exit code and the HTTP status, and the hint that says how to fix it.
//!
//! Each layer's typed error converts into an [`OrxError`] here (`?` does it), keeping the typed
//! error as the source. A layer says *what* failed (a file it could not read, a git command
//! that exited 128); only this file says whether that is the user's mistake, a broken run
//! folder, or orx failing underneath. Keep every such decision here, so the exit-code table in
//! the README, the API's statuses and the hints can be checked against one file.

use super::file::{FileError, FileRole};
use super::{ErrorKind, OrxError};
use crate::agents::AgentError;
use crate::config::ConfigError;
use crate::git::GitError;
use crate::store::StoreError;

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

    /// The HTTP status `orx serve` answers with: 404 not found, 400 bad input, 422 bad
    /// configuration, 409 busy or in the wrong state, 500 otherwise.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorKind::NotFound => 404,
            ErrorKind::Usage => 400,
            ErrorKind::Config => 422,
            ErrorKind::Busy | ErrorKind::State => 409,
            ErrorKind::Interrupted | ErrorKind::BudgetExceeded | ErrorKind::Internal => 500,
        }
    }
}

/// What an error of a layer means for the user: its kind (hence exit code and HTTP status)
/// and the hint that says how to fix it.
trait Meaning: std::error::Error + Send + Sync + Sized + 'static {
    fn meaning(&self) -> (ErrorKind, Option<String>);

    /// The boundary error, keeping `self` as its source.
    fn into_orx_error(self) -> OrxError {
        let (kind, hint) = self.meaning();
        let e = OrxError::caused_by(kind, self);
        match hint {
            Some(hint) => e.with_hint(hint),
            None => e,
        }
    }
}

macro_rules! convert_with_meaning {
    ($($layer:ty),*) => {$(
        impl From<$layer> for OrxError {
            fn from(err: $layer) -> Self {
                err.into_orx_error()
            }
        }
    )*};
}

convert_with_meaning!(FileError, GitError, StoreError, ConfigError, AgentError);

/// The fix for a condition of the machine rather than of orx: a run's state on disk is whole,
/// so `orx resume` continues once the condition is gone.
fn machine_fix(err: &std::io::Error) -> Option<String> {
    use std::io::ErrorKind as Io;
    let fix = match err.kind() {
        Io::StorageFull | Io::QuotaExceeded => "free space on that disk",
        Io::ReadOnlyFilesystem => "remount that file system read-write",
        Io::PermissionDenied => "make that folder writable for this user",
        _ => return None,
    };
    Some(format!(
        "{fix}, then run the command again; `orx resume <run id>` continues a run where it \
         stopped"
    ))
}

/// A missing file the user named is their mistake; anything else on a file is orx failing
/// underneath, with the machine's fix when there is one.
impl Meaning for FileError {
    fn meaning(&self) -> (ErrorKind, Option<String>) {
        let kind = match (self.role, self.source.kind()) {
            (FileRole::Input, std::io::ErrorKind::NotFound) => ErrorKind::Usage,
            _ => ErrorKind::Internal,
        };
        (kind, machine_fix(&self.source))
    }
}

impl Meaning for GitError {
    fn meaning(&self) -> (ErrorKind, Option<String>) {
        match self {
            GitError::File(file) => file.meaning(),
            GitError::NotARepository { .. } => (
                ErrorKind::Usage,
                Some("run orx from the root of a git repository, or pass --dir".to_string()),
            ),
            GitError::UnknownBaseBranch { branches, .. } => (
                ErrorKind::Usage,
                Some(if branches.is_empty() {
                    "the repository has no branches yet; make a first commit".to_string()
                } else {
                    format!("local branches: {}", branches.join(", "))
                }),
            ),
            GitError::WorktreeTaken { .. } => (
                ErrorKind::State,
                Some("remove it with `git worktree remove --force` or pick another run".into()),
            ),
            GitError::FolderGone { .. } => (
                ErrorKind::Internal,
                Some(
                    "if it was a run's worktree, `orx resume <run id>` recreates it from the \
                     run's branch and checkpoints"
                        .to_string(),
                ),
            ),
            GitError::Spawn { .. } => (
                ErrorKind::Internal,
                Some("install git and make sure it is on PATH".to_string()),
            ),
            GitError::Failed { .. }
            | GitError::UnexpectedOutput { .. }
            | GitError::WrongHead { .. }
            | GitError::NotARefPrefix { .. }
            | GitError::InProcess { .. } => (ErrorKind::Internal, None),
        }
    }
}

impl Meaning for StoreError {
    fn meaning(&self) -> (ErrorKind, Option<String>) {
        match self {
            StoreError::File(file) => file.meaning(),
            // A run folder without a readable state is a run that cannot be used, not orx
            // failing underneath; a full disk or a permission problem still says how to fix it.
            StoreError::StateUnreadable(file) => match file.source.kind() {
                std::io::ErrorKind::NotFound => (ErrorKind::State, None),
                _ => (ErrorKind::Internal, machine_fix(&file.source)),
            },
            StoreError::CorruptJson { .. } | StoreError::NotUtf8 { .. } => (
                ErrorKind::State,
                Some(
                    "the run cannot be resumed; inspect it or remove it with `orx clean <run_id>`"
                        .to_string(),
                ),
            ),
            StoreError::Unusable { .. } => (
                ErrorKind::State,
                Some("the run cannot be resumed; remove it with `orx clean <run_id>`".to_string()),
            ),
            StoreError::UnsupportedVersion { .. } => (
                ErrorKind::State,
                Some("resume it with the orx version that started it".to_string()),
            ),
            StoreError::CorruptSummary { .. } => (ErrorKind::State, None),
            StoreError::Busy { .. } => (
                ErrorKind::Busy,
                Some("wait for it to finish, or stop it with Ctrl-C / `kill <pid>`".to_string()),
            ),
            StoreError::RunRemoved { .. } => (
                ErrorKind::Usage,
                Some("list runs with `orx status`".to_string()),
            ),
            StoreError::Encode { .. } | StoreError::NoParent { .. } => (ErrorKind::Internal, None),
        }
    }
}

impl Meaning for ConfigError {
    fn meaning(&self) -> (ErrorKind, Option<String>) {
        match self {
            ConfigError::File(file) => file.meaning(),
            ConfigError::MissingFile { .. } => (
                ErrorKind::Usage,
                Some("check the --config path, or drop --config to use ./orx.yaml".to_string()),
            ),
            ConfigError::IsFolder { .. } => (
                ErrorKind::Usage,
                Some("pass the YAML file itself, e.g. --config path/to/orx.yaml".to_string()),
            ),
            ConfigError::NotUtf8 { .. } => (
                ErrorKind::Config,
                Some("save the file as UTF-8".to_string()),
            ),
            ConfigError::Invalid { hint, .. } => (ErrorKind::Config, hint.clone()),
        }
    }
}

impl Meaning for AgentError {
    fn meaning(&self) -> (ErrorKind, Option<String>) {
        match self {
            AgentError::File(file) => file.meaning(),
            AgentError::ScenarioMissing { .. } => (
                ErrorKind::Usage,
                Some(
                    "pass the path of an existing scenario file, or none to use the built-in \
                     demo scenario"
                        .to_string(),
                ),
            ),
            AgentError::ScenarioIsFolder { .. } => (
                ErrorKind::Usage,
                Some("pass the path of a scenario file".to_string()),
            ),
            AgentError::ScenarioNotText { .. } => (ErrorKind::Config, None),
            AgentError::InvalidScenario { hint, .. } => (ErrorKind::Config, hint.clone()),
            AgentError::PathLeavesWorktree { .. } => (
                ErrorKind::Config,
                Some("use a relative path without `..`".to_string()),
            ),
            AgentError::NoWorkingDir(_) => (ErrorKind::Internal, None),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;
    use std::io;
    use std::path::Path;

    use super::*;

    fn io_error(kind: io::ErrorKind) -> io::Error {
        io::Error::from(kind)
    }

    #[test]
    fn each_kind_has_its_documented_exit_code_and_http_status() {
        let table = [
            (ErrorKind::Usage, 2, 400),
            (ErrorKind::NotFound, 2, 404),
            (ErrorKind::Config, 2, 422),
            (ErrorKind::State, 2, 409),
            (ErrorKind::Busy, 2, 409),
            (ErrorKind::BudgetExceeded, 1, 500),
            (ErrorKind::Interrupted, 130, 500),
            (ErrorKind::Internal, 3, 500),
        ];
        for (kind, exit, http) in table {
            assert_eq!(
                (kind.exit_code(), kind.http_status()),
                (exit, http),
                "{kind:?}"
            );
        }
    }

    #[test]
    fn a_missing_file_is_a_usage_error_only_when_the_user_named_it() {
        let input = OrxError::user_file(
            "read",
            Path::new("task.md"),
            io_error(io::ErrorKind::NotFound),
        );
        assert_eq!(input.kind, ErrorKind::Usage);
        assert!(input.message.contains("task.md"), "{}", input.message);
        let own = OrxError::io(
            "read",
            Path::new("runs/x/state.json"),
            io_error(io::ErrorKind::NotFound),
        );
        assert_eq!(own.kind, ErrorKind::Internal);
        assert_eq!(own.hint, None);
        // The role changes the kind, never the sentence.
        let again = OrxError::user_file(
            "read",
            Path::new("runs/x/state.json"),
            io_error(io::ErrorKind::NotFound),
        );
        assert_eq!(own.message, again.message);
    }

    #[test]
    fn machine_conditions_get_the_fix_whoever_owns_the_file() {
        for (kind, fix) in [
            (io::ErrorKind::StorageFull, "free space on that disk"),
            (
                io::ErrorKind::ReadOnlyFilesystem,
                "remount that file system",
            ),
            (io::ErrorKind::PermissionDenied, "make that folder writable"),
        ] {
            for e in [
                OrxError::io("write", Path::new("runs/x/state.json"), io_error(kind)),
                OrxError::user_file("write", Path::new("out.xml"), io_error(kind)),
            ] {
                assert_eq!(e.kind, ErrorKind::Internal, "{kind:?}");
                let hint = e.hint.unwrap_or_default();
                assert!(hint.starts_with(fix), "{kind:?}: {hint}");
                assert!(hint.contains("orx resume <run id>"), "{hint}");
            }
        }
    }

    #[test]
    fn the_source_chain_walks_down_to_the_io_error() {
        let git = GitError::Spawn {
            subcommand: "status".into(),
            dir: "/tmp".into(),
            source: io_error(io::ErrorKind::NotFound),
        };
        let e = OrxError::from(git);
        assert_eq!(e.kind, ErrorKind::Internal);
        assert_eq!(
            e.hint.as_deref(),
            Some("install git and make sure it is on PATH")
        );
        let layer = e.source().expect("the git error");
        assert!(layer.downcast_ref::<GitError>().is_some(), "{layer:?}");
        let io = layer.source().expect("the io error");
        assert_eq!(
            io.downcast_ref::<io::Error>().map(io::Error::kind),
            Some(io::ErrorKind::NotFound)
        );
        // A file error inside a layer error keeps its io::Error reachable too.
        let store = StoreError::File(FileError::own(
            "write",
            Path::new("runs/x/state.json"),
            io_error(io::ErrorKind::StorageFull),
        ));
        let e = OrxError::from(store);
        let mut deepest = e.source();
        while let Some(next) = deepest.and_then(|s| s.source()) {
            deepest = Some(next);
        }
        let kind = deepest.and_then(|s| s.downcast_ref::<io::Error>().map(io::Error::kind));
        assert_eq!(kind, Some(io::ErrorKind::StorageFull));
    }

    #[test]
    fn git_errors_in_a_real_folder_are_the_users_mistakes_with_hints() {
        let tmp = tempfile::tempdir().unwrap();
        let e = OrxError::from(crate::git::Repo::discover(tmp.path()).unwrap_err());
        assert_eq!(e.kind, ErrorKind::Usage);
        assert!(e.message.ends_with("is not inside a git repository"));
        assert!(e.hint.unwrap_or_default().contains("--dir"));
        let e = OrxError::from(GitError::UnknownBaseBranch {
            rev: "nope".into(),
            branches: vec!["feature".into(), "main".into()],
        });
        assert_eq!(e.kind, ErrorKind::Usage);
        assert_eq!(e.message, "unknown base branch `nope`");
        assert_eq!(e.hint.as_deref(), Some("local branches: feature, main"));
        let e = OrxError::from(GitError::UnknownBaseBranch {
            rev: "main".into(),
            branches: vec![],
        });
        assert!(e.hint.unwrap_or_default().contains("make a first commit"));
    }

    #[test]
    fn a_run_folder_that_cannot_be_used_is_a_state_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let missing = OrxError::from(crate::model::RunState::load(&path).unwrap_err());
        assert_eq!(missing.kind, ErrorKind::State);
        assert!(
            missing.message.starts_with("cannot read "),
            "{}",
            missing.message
        );
        std::fs::write(&path, "{").unwrap();
        let corrupt = OrxError::from(crate::model::RunState::load(&path).unwrap_err());
        assert_eq!(corrupt.kind, ErrorKind::State);
        assert!(corrupt.hint.unwrap_or_default().contains("orx clean"));
        let busy = OrxError::from(StoreError::Busy {
            run_id: "r1".into(),
            pid: Some(42),
        });
        assert_eq!(busy.kind, ErrorKind::Busy);
        assert_eq!(
            busy.message,
            "run r1 is in use by another orx process (pid 42)"
        );
    }

    #[test]
    fn config_and_scenario_errors_keep_the_hints_their_diagnostics_found() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.yaml");
        let e = OrxError::from(crate::config::load(dir.path(), Some(&missing)).unwrap_err());
        assert_eq!(e.kind, ErrorKind::Usage);
        assert!(e.hint.unwrap_or_default().contains("--config"));
        let e = OrxError::from(
            crate::config::parse_str("git:\n  remot: x\n", Path::new("orx.yaml"), &|_| None)
                .unwrap_err(),
        );
        assert_eq!(e.kind, ErrorKind::Config);
        assert!(e.message.starts_with("orx.yaml:2:3: "), "{}", e.message);
        assert!(e.hint.is_some_and(|h| h.contains("remote")));
        let e = OrxError::from(crate::agents::scenario::load_scenario(&missing).unwrap_err());
        assert_eq!(e.kind, ErrorKind::Usage);
        assert!(e.message.contains("does not exist"), "{}", e.message);
    }
}
