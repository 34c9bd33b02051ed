//! The control layer: the one place that reads and drives runs for `orx serve` and `orx mcp`.
//!
//! The dashboard, the REST API and the MCP server work over the same event stream and run
//! folders as the CLI, with no second source of truth. So this module keeps no state of its own
//! beyond caches keyed by file modification times: every answer is read from `runs/<id>/`
//! (meta.json, state.json, events.jsonl, metrics/, the lock) exactly as `orx status` reads it,
//! and every action is a separate `orx` process (run, resume) or a signal to the lock holder
//! (cancel), so runs outlive whichever server started them. It is plain blocking Rust; async
//! callers wrap calls in `spawn_blocking`. Errors are [`OrxError`]s whose kind maps to an HTTP
//! status ([`crate::error::ErrorKind::http_status`], decided with the exit code in `crate::error`) or an MCP
//! tool error.

pub mod approval;
pub mod artifacts;
pub mod detail;
pub mod health;
pub mod launch;
pub mod nofollow;
pub mod runs;
pub mod sync;

use std::path::{Path, PathBuf};

use crate::error::{OrxError, Result};
use crate::git::Repo;
use crate::store::layout::is_valid_run_id;
use crate::store::RunPaths;

pub use approval::{ApprovalView, ApproveRequest, RejectRequest};
pub use artifacts::{ArtifactChunk, ArtifactEntry};
pub use detail::{DiffView, EventPage, GateView, LaneView, RunDetail, StageView};
pub use health::Health;
pub use launch::{CancelResult, CleanResult, LaunchRequest, Launched};
pub use runs::{RunPage, RunQuery, RunSummary};
pub use sync::SyncView;

/// One served git repository.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// Short name used in URLs and filters (`?repo=`): the folder name, made unique.
    pub name: String,
    /// The repository's top-level folder (where `runs/` and `.worktrees/` live).
    pub root: PathBuf,
}

impl Workspace {
    /// The repository containing `dir`, named after its folder.
    pub fn open(dir: &Path) -> Result<Workspace> {
        let repo = Repo::discover(dir)?;
        let root = std::fs::canonicalize(&repo.root).unwrap_or(repo.root);
        let name = root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "repo".to_string());
        Ok(Workspace { name, root })
    }

    pub fn repo(&self) -> Result<Repo> {
        Ok(Repo::discover(&self.root)?)
    }

    /// The paths of run `id` in this workspace, when its folder is a real folder inside the
    /// real `runs/` (a symlinked `runs/` or `runs/<id>` is not a run: a repository could
    /// commit one pointing at `/`) and a run by the one rule of `crate::runs::is_run`.
    pub fn run(&self, id: &str) -> Option<RunPaths> {
        self.open_run_dir(id).ok()?;
        crate::runs::is_run(&self.root, id).then(|| RunPaths::new(&self.root, id))
    }

    /// The descriptor of run `id`'s folder, opened without following a symlink at `runs/`
    /// or at `runs/<id>`; reads below it start from this descriptor.
    pub fn open_run_dir(&self, id: &str) -> std::result::Result<std::fs::File, nofollow::Refusal> {
        if !is_valid_run_id(id) {
            return Err(nofollow::Refusal::BadPath);
        }
        let runs = nofollow::open_dir(&self.root.join(crate::store::layout::RUNS_DIR))?;
        nofollow::open_subdir(&runs, id)
    }
}

/// The served workspaces plus the caches that keep listings fast.
#[derive(Debug)]
pub struct Control {
    workspaces: Vec<Workspace>,
    index: runs::RunIndex,
    health: health::HealthCache,
    /// Points where a test widens a race window on purpose.
    #[cfg(test)]
    pub(crate) hooks: TestHooks,
}

/// Callbacks a test runs at chosen moments inside an action, to make a race happen every time
/// (a process exiting between the liveness check and the signal) instead of hoping for it.
#[cfg(test)]
#[derive(Default)]
pub(crate) struct TestHooks {
    before_signal: std::sync::Mutex<Option<PidHook>>,
}

#[cfg(test)]
type PidHook = Box<dyn FnOnce(u32) + Send>;

#[cfg(test)]
impl std::fmt::Debug for TestHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TestHooks")
    }
}

#[cfg(test)]
impl TestHooks {
    /// Run `f` with the holder's pid after cancel confirmed the run live, before it signals.
    pub(crate) fn set_before_signal(&self, f: impl FnOnce(u32) + Send + 'static) {
        if let Ok(mut slot) = self.before_signal.lock() {
            *slot = Some(Box::new(f));
        }
    }
    pub(crate) fn before_signal(&self, pid: u32) {
        let f = self.before_signal.lock().ok().and_then(|mut s| s.take());
        if let Some(f) = f {
            f(pid);
        }
    }
}

impl Control {
    /// Serve these repositories. Names are made unique (`app`, `app-2`, …) so `?repo=` is
    /// unambiguous; an empty list is a usage error.
    pub fn new(mut workspaces: Vec<Workspace>) -> Result<Control> {
        if workspaces.is_empty() {
            return Err(OrxError::usage("no repository to serve")
                .with_hint("run orx serve inside a git repository, or pass --repo PATH"));
        }
        let mut seen: Vec<String> = Vec::new();
        let mut kept: Vec<Workspace> = Vec::new();
        for mut w in workspaces.drain(..) {
            if kept.iter().any(|k| k.root == w.root) {
                continue;
            }
            let base = w.name.clone();
            let mut n = 2;
            while seen.contains(&w.name) {
                w.name = format!("{base}-{n}");
                n += 1;
            }
            seen.push(w.name.clone());
            kept.push(w);
        }
        Ok(Control {
            workspaces: kept,
            index: runs::RunIndex::default(),
            health: health::HealthCache::default(),
            #[cfg(test)]
            hooks: TestHooks::default(),
        })
    }

    pub fn workspaces(&self) -> &[Workspace] {
        &self.workspaces
    }

    /// The workspace named `name`, or the first one when `None`.
    pub fn workspace(&self, name: Option<&str>) -> Result<&Workspace> {
        match name {
            None => self
                .workspaces
                .first()
                .ok_or_else(|| OrxError::internal("no workspace is served")),
            Some(n) => self.workspaces.iter().find(|w| w.name == n).ok_or_else(|| {
                OrxError::not_found(format!("no served repository is named `{n}`")).with_hint(
                    format!(
                        "served repositories: {}",
                        self.workspaces
                            .iter()
                            .map(|w| w.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            }),
        }
    }

    /// Find run `id` in the served workspaces (the first that has it).
    pub fn find_run(&self, id: &str) -> Result<(&Workspace, RunPaths)> {
        if !is_valid_run_id(id) {
            return Err(OrxError::usage(format!("`{id}` is not a run id"))
                .with_hint("run ids look like 20261121-120059-a1b2c3"));
        }
        self.workspaces
            .iter()
            .find_map(|w| w.run(id).map(|p| (w, p)))
            .ok_or_else(|| {
                OrxError::not_found(format!("unknown run id `{id}`"))
                    .with_hint("list runs with GET /api/runs or `orx status`")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn names_are_unique_and_duplicates_dropped() {
        let a = Workspace {
            name: "app".into(),
            root: "/x/app".into(),
        };
        let b = Workspace {
            name: "app".into(),
            root: "/y/app".into(),
        };
        let c = Control::new(vec![a.clone(), b, a]).unwrap();
        let names: Vec<_> = c.workspaces().iter().map(|w| w.name.as_str()).collect();
        assert_eq!(names, ["app", "app-2"]);
        assert_eq!(
            c.workspace(Some("nope")).unwrap_err().kind,
            ErrorKind::NotFound
        );
        assert!(Control::new(vec![]).is_err());
        assert_eq!(c.find_run("../x").unwrap_err().kind, ErrorKind::Usage);
        assert_eq!(c.find_run("r1").unwrap_err().kind, ErrorKind::NotFound);
    }
}
