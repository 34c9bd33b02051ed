//! Before the first stage: set up a new worktree (`worktree.copy`, `worktree.setup`) and fire
//! the `run_start` hooks.
//!
//! A fresh worktree has only tracked files, yet the work often needs ignored ones (`.env.local`,
//! local config) and installed dependencies (`npm ci`) before any gate can pass. Copying and
//! setting up run once per worktree: `state.worktree_setup_done` is set only after every setup
//! command succeeded, so a resume after a failed or interrupted set-up runs it again, and a
//! resume after a good one never repeats it (a worktree re-created by resume is set up anew).
//! Only files git ignores *in the worktree* are copied; anything else would be picked up by the
//! next snapshot and committed, so it is refused with a warning. A failing setup command fails
//! the run with reason `setup_failed`, a failing blocking `run_start` hook with `hook_veto`;
//! both are resumable.

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use super::context::{Halt, Run, Step};
use crate::error::{OrxError, Result};
use crate::exec::{self, CommandSpec, Control, Termination};
use crate::model::event::EventKind;
use crate::model::{OrxFailure, Stage, Stop};
use crate::store::layout::{RUNS_DIR, WORKTREES_DIR};

/// Most files a copy walk visits before it stops looking.
const MAX_VISITED: usize = 200_000;

/// Why preparing stopped the run before its first stage (or a lane before its first step).
pub(crate) struct SetupStop {
    pub reason: OrxFailure,
    pub message: String,
}

impl Run<'_> {
    /// Set up the worktree (once) and fire `run_start`; `Some` means the run must fail.
    pub(super) fn prepare(&mut self, resumed: bool) -> Step<Option<SetupStop>> {
        if !self.state.worktree_setup_done {
            if let Some(stop) = self.setup_worktree()? {
                return Ok(Some(stop));
            }
            self.state.worktree_setup_done = true;
            self.save()?;
        }
        let stage = self.state.current_stage;
        let status = if resumed { "resumed" } else { "started" };
        if let Some(message) = self.fire_vetoable_hooks("run_start", stage, status)? {
            return Ok(Some(SetupStop {
                reason: OrxFailure::HookVeto,
                message,
            }));
        }
        Ok(None)
    }

    /// A parallel lane's worktree is set up like the run's (`worktree.copy`, `worktree.setup`),
    /// once: its state's `worktree_setup_done` is the lane's own. `Some` means the lane must
    /// stop.
    pub(crate) fn prepare_lane(&mut self) -> Step<Option<SetupStop>> {
        if !self.state.worktree_setup_done {
            if let Some(stop) = self.setup_worktree()? {
                return Ok(Some(stop));
            }
            self.state.worktree_setup_done = true;
            self.save()?;
        }
        Ok(None)
    }

    fn setup_worktree(&mut self) -> Step<Option<SetupStop>> {
        let cfg = self.config.worktree.clone();
        if !cfg.copy.is_empty() {
            self.copy_ignored_files(&cfg.copy)?;
        }
        for (i, command) in cfg.setup.iter().enumerate() {
            let index = i + 1;
            let log = match self.lane_item() {
                Some(item) => format!("logs/setup_{item}_{index}.log"),
                None => format!("logs/setup_{index}.log"),
            };
            let mut spec = CommandSpec::new("sh", &self.state.worktree.path);
            spec.args = vec!["-c".into(), command.clone()];
            spec.stdout_log = Some(self.paths.dir.join(&log));
            spec.stderr_log = Some(self.paths.dir.join(&log));
            spec.log_filter = Some(self.redactor.log_filter());
            spec.wall_timeout = Some(Duration::from_secs(cfg.setup_timeout.max(1)));
            spec.grace = Duration::from_secs(self.config.run.stop_grace_secs);
            spec.run_id = Some(self.paths.id.clone());
            spec.env = vec![
                (
                    "ORX_WORKTREE".into(),
                    self.state.worktree.path.display().to_string(),
                ),
                ("ORX_RUN_DIR".into(), self.paths.dir.display().to_string()),
            ];
            let result = exec::run(&spec, &mut |_, _| Control::Continue);
            let (code, ms, error) = match &result {
                Err(e) => (None, 0, Some(format!("cannot run it: {e}"))),
                Ok(x) => (
                    x.code,
                    x.duration.as_millis() as u64,
                    match &x.termination {
                        Termination::Exited => None,
                        Termination::WallTimeout => {
                            Some(format!("timed out after {}s", cfg.setup_timeout))
                        }
                        Termination::IdleTimeout => Some("stopped: no output".into()),
                        Termination::Interrupted => return Err(Halt::Stop(Stop::Interrupted)),
                        Termination::Stopped(why) => Some(why.clone()),
                    },
                ),
            };
            let ok = error.is_none() && code == Some(0);
            self.emit(EventKind::SetupCommand {
                index,
                command: command.clone(),
                ok,
                exit_code: code,
                error: error.clone(),
                duration_ms: ms,
                log: log.clone(),
            })?;
            if !ok {
                let why = error.unwrap_or_else(|| match code {
                    Some(c) => format!("exit code {c}"),
                    None => "killed by a signal".into(),
                });
                return Ok(Some(SetupStop {
                    reason: OrxFailure::SetupFailed,
                    message: format!(
                        "worktree setup command #{index} `{command}` failed ({why}); see {log}, fix it and `orx resume {}`",
                        self.paths.id
                    ),
                }));
            }
        }
        Ok(None)
    }

    /// Copy the main checkout's files matching `globs` into the worktree, ignored ones only.
    fn copy_ignored_files(&mut self, globs: &[String]) -> Result<()> {
        let root = self.repo.root.clone();
        let candidates = matching_files(&root, globs)?;
        let ignored = self.wt.ignored(&candidates)?;
        let mut copied = Vec::new();
        let mut refused = Vec::new();
        for rel in candidates {
            if !ignored.contains(&rel) {
                refused.push(rel);
                continue;
            }
            let from = root.join(&rel);
            let to = self.state.worktree.path.join(&rel);
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent).map_err(|e| OrxError::io("create", parent, e))?;
            }
            std::fs::copy(&from, &to).map_err(|e| OrxError::io("copy", &from, e))?;
            copied.push(rel);
        }
        if !refused.is_empty() {
            self.warn(format!(
                "worktree.copy skipped {} because git does not ignore it in the worktree (it would be committed); add it to .gitignore to copy it",
                refused.join(", ")
            ))?;
        }
        if !copied.is_empty() {
            self.emit(EventKind::FilesCopied { files: copied })?;
        }
        Ok(())
    }

    /// Fail the run before any stage, at the current stage, for `stop`.
    pub(super) fn fail_before_start(&mut self, stop: SetupStop) {
        let stage = self.state.current_stage.unwrap_or(Stage::Plan);
        self.fail(stage, None, stop.reason, stop.message);
    }
}

/// Regular files under `root` matching any of `globs`, as sorted `/`-separated relative paths.
///
/// Each walk starts at the glob's literal directory prefix, never enters `.git`, the runs or
/// worktrees folders, and never follows a symlink, so no path can leave the repository.
pub(crate) fn matching_files(root: &Path, globs: &[String]) -> Result<Vec<String>> {
    let mut builder = GlobSetBuilder::new();
    for g in globs {
        let glob = GlobBuilder::new(g)
            .literal_separator(true)
            .build()
            .map_err(|e| {
                OrxError::config(format!("worktree.copy glob `{g}` is invalid: {}", e.kind()))
            })?;
        builder.add(glob);
    }
    let set = builder
        .build()
        .map_err(|e| OrxError::config(format!("worktree.copy globs are invalid: {e}")))?;
    let mut out = Vec::new();
    let mut visited = 0usize;
    for g in globs {
        let start = literal_prefix(g);
        walk(root, &root.join(&start), &set, &mut out, &mut visited);
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// The directory part of a glob before its first wildcard (`config/*.json` → `config`).
fn literal_prefix(glob: &str) -> PathBuf {
    let mut prefix = PathBuf::new();
    let parts: Vec<&str> = glob.split('/').collect();
    for part in &parts[..parts.len().saturating_sub(1)] {
        if part.contains(['*', '?', '[', '{', '\\']) || *part == ".." || part.is_empty() {
            break;
        }
        prefix.push(part);
    }
    prefix
}

fn walk(root: &Path, dir: &Path, set: &GlobSet, out: &mut Vec<String>, visited: &mut usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        *visited += 1;
        if *visited > MAX_VISITED {
            return;
        }
        let path = e.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let Ok(rel) = path.strip_prefix(root) else {
            continue;
        };
        if !rel.components().all(|c| matches!(c, Component::Normal(_))) {
            continue;
        }
        let rel_s = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        if meta.is_dir() {
            if rel_s == ".git" || rel_s == RUNS_DIR || rel_s == WORKTREES_DIR {
                continue;
            }
            walk(root, &path, set, out, visited);
        } else if meta.is_file() && set.is_match(&rel_s) {
            out.push(rel_s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_files_from_their_literal_prefix_and_skip_orx_folders() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for f in [
            ".env.local",
            "config/a.local.json",
            "config/deep/b.local.json",
            "config/c.json",
            ".worktrees/x/.env.local",
            "runs/r/.env.local",
        ] {
            let p = root.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "x").unwrap();
        }
        let got = matching_files(
            root,
            &[".env.local".into(), "config/**/*.local.json".into()],
        )
        .unwrap();
        assert_eq!(
            got,
            vec![
                ".env.local",
                "config/a.local.json",
                "config/deep/b.local.json"
            ]
        );
        assert_eq!(literal_prefix("config/*.json"), PathBuf::from("config"));
        assert_eq!(literal_prefix("**/x"), PathBuf::new());
        let everywhere = matching_files(root, &["**/.env.local".into()]).unwrap();
        assert_eq!(everywhere, vec![".env.local"]);
    }
}
