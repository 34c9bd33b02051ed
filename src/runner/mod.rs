//! The runner: drives one run through its pipeline, checkpointing every step.
//!
//! [`Run`] holds everything a stage needs (repository, worktree, config, state, event log,
//! reporter) and the two primitives every stage goes through: [`Run::emit`] (the one event
//! stream) and [`Run::call_agent`] (the one way to call an agent, which saves the prompt,
//! streams the log, records usage, sessions and metrics). The loop in [`Run::drive`] is
//! deliberately thin: it asks a stage to run, then asks the pure `fsm::next` where to go.
//! `start` and `resume` differ only in how they build the `Run`; a resumed run re-enters the
//! exact phase its `state.json` names, after putting the worktree back to the matching
//! checkpoint or snapshot.
//!
//! Everything the run writes under `runs/<id>/` passes through its [`crate::guard::Redactor`]:
//! events in `emit`, `state.json`/`meta.json` in `save` (the state in memory keeps the real
//! text), prompts (also as sent to the agent), agent logs (as they stream), metrics.

pub mod call;
pub mod fsm;
mod prepare;
pub mod setup;
pub mod wait;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use crate::config::Config;
use crate::error::{ErrorKind, OrxError, Result};
use crate::git::{Repo, Worktree};
use crate::model::event::EventKind;
use crate::model::{
    FailureKind, FailureReason, FailureRecord, OrxFailure, RunState, RunStatus, StageStatus,
};
use crate::model::{Stage, StageEnd, Stop};
use crate::report::Reporter;
use crate::store::events::EventLog;
use crate::store::lock::RunLock;
use crate::store::meta::Meta;
use crate::store::{now_rfc3339, RunPaths};
pub use call::build_cli;
use fsm::Next;

/// What `orx run` / `orx resume` hand back to the CLI.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub state: RunState,
    pub duration_ms: u64,
}

impl RunOutcome {
    pub fn exit_code(&self) -> i32 {
        match self.state.status {
            RunStatus::Succeeded => 0,
            RunStatus::Interrupted => 130,
            RunStatus::Failed
            | RunStatus::Running
            | RunStatus::BudgetExceeded
            | RunStatus::Waiting => 1,
        }
    }
}

/// A run being driven by this process.
pub struct Run<'r> {
    pub repo: Repo,
    pub paths: RunPaths,
    pub config: Config,
    pub state: RunState,
    pub wt: Worktree,
    events: EventLog,
    reporter: &'r mut dyn Reporter,
    last_meta: Option<Meta>,
    /// Set on resume: the first step puts the worktree back to its checkpoint.
    pub needs_restore: bool,
    /// Verify's accumulated time when the current stage began (see `end_stage`).
    verify_ms_at_begin: u64,
    started: Instant,
    _lock: RunLock,
    /// Hides secrets in everything the run writes (events, state, prompts, logs, artifacts).
    pub redactor: Arc<crate::guard::Redactor>,
}

impl<'r> Run<'r> {
    /// Assemble a run from its parts (used by `setup`).
    pub(crate) fn assemble(
        repo: Repo,
        paths: RunPaths,
        config: Config,
        state: RunState,
        lock: RunLock,
        reporter: &'r mut dyn Reporter,
    ) -> Result<Run<'r>> {
        let events = EventLog::open(&paths.events(), &paths.id)?;
        let wt = repo.worktree(&state.worktree.path);
        Ok(Run {
            repo,
            paths,
            config,
            state,
            wt,
            events,
            reporter,
            last_meta: None,
            needs_restore: false,
            verify_ms_at_begin: 0,
            started: Instant::now(),
            _lock: lock,
            redactor: Arc::new(crate::guard::Redactor::from_env()),
        })
    }

    /// Append an event to the history and hand it to the reporter.
    pub fn emit(&mut self, kind: EventKind) -> Result<()> {
        let kind = self.redact_event(kind);
        let ev = self.events.append(kind)?;
        self.reporter.event(&ev);
        Ok(())
    }

    /// Persist `state.json` (and `meta.json` when its summary changed).
    pub fn save(&mut self) -> Result<()> {
        // What is on disk is redacted; the state in memory keeps the real text.
        let mut json = serde_json::to_value(&self.state)
            .map_err(|e| OrxError::internal(format!("cannot encode state: {e}")))?;
        if self.redactor.redact_json(&mut json) {
            crate::store::atomic::write_json_atomic(&self.paths.state(), &json)?;
        } else {
            self.state.save(&self.paths.state())?;
        }
        let mut meta = Meta::from_state(&self.state);
        meta.task = self.redactor.redact(&meta.task).into_owned();
        let changed = match &self.last_meta {
            Some(m) => {
                m.status != meta.status
                    || m.stage != meta.stage
                    || m.item != meta.item
                    || m.finished_at != meta.finished_at
            }
            None => true,
        };
        if changed {
            meta.save(&self.paths.meta())?;
            self.last_meta = Some(meta);
        }
        Ok(())
    }

    /// Record why the run (or a stage) failed.
    pub fn fail(
        &mut self,
        stage: Stage,
        item: Option<&str>,
        reason: impl Into<FailureReason>,
        message: String,
    ) {
        self.state.last_failure = Some(FailureRecord {
            stage,
            item: item.map(String::from),
            reason: reason.into(),
            message,
            evidence_path: None,
        });
    }

    /// Drive the run until it succeeds, fails, or is interrupted.
    pub fn drive(mut self) -> Result<RunOutcome> {
        let stages = self.state.stage_names();
        let resumed = self.state.resumes > 0;
        match self.prepare(resumed) {
            Ok(None) => {}
            Ok(Some(stop)) => {
                self.fail_before_start(stop);
                return self.finish(RunStatus::Failed);
            }
            Err(e) if e.kind == ErrorKind::Interrupted => return self.stop_interrupted(),
            Err(e) => return Err(e),
        }
        loop {
            if crate::exec::interrupt_requested() {
                return self.stop_interrupted();
            }
            let Some(stage) = self.state.current_stage else {
                break;
            };
            tracing::debug!(stage = %stage, run = %self.paths.id, "entering stage");
            let fresh = self.begin_stage(stage)?;
            if fresh {
                let veto = match self.fire_hooks(
                    "stage_start",
                    Some(stage),
                    Some("running"),
                    None,
                    None,
                ) {
                    Ok(v) => v,
                    Err(e) if e.kind == ErrorKind::Interrupted => return self.stop_interrupted(),
                    Err(e) => return Err(e),
                };
                if let Some(message) = veto {
                    self.fail(stage, None, OrxFailure::HookVeto, message);
                    self.end_stage(stage, StageStatus::Failed, Instant::now())?;
                    return self.finish(RunStatus::Failed);
                }
            }
            self.verify_ms_at_begin = self
                .state
                .stage(Stage::Verify)
                .map(|r| r.duration_ms)
                .unwrap_or(0);
            let t0 = Instant::now();
            let end = match stage {
                Stage::Plan => crate::stages::text::run(&mut self, Stage::Plan),
                Stage::Spec => crate::stages::text::run(&mut self, Stage::Spec),
                Stage::Decompose => crate::stages::decompose::run(&mut self),
                Stage::Implement | Stage::Verify => crate::stages::implement::run(&mut self),
                Stage::Review => crate::stages::review::run(&mut self),
                Stage::Ship => crate::stages::ship::run(&mut self),
                Stage::Knowledge => crate::stages::knowledge::run(&mut self),
            };
            let end = match end {
                Ok(end) => end,
                // An error raised while an interrupt is pending is the interrupt's doing.
                Err(e)
                    if e.kind == ErrorKind::Interrupted || crate::exec::interrupt_requested() =>
                {
                    return self.stop_interrupted()
                }
                Err(e) if e.kind == ErrorKind::BudgetExceeded => {
                    // The stage stays running and the item in progress: `orx resume` re-enters
                    // the same step once the limit was raised.
                    return self.finish(RunStatus::BudgetExceeded);
                }
                Err(e) => {
                    // orx itself failed: record it so `status` shows why, keep it resumable.
                    self.fail(stage, None, OrxFailure::OrxError, e.message.clone());
                    self.end_stage(stage, StageStatus::Failed, t0)?;
                    self.finish(RunStatus::Failed)?;
                    return Err(e);
                }
            };
            let status = match end {
                StageEnd::Stopped(why) => return self.stop(why),
                StageEnd::Failed => StageStatus::Failed,
                StageEnd::Skipped => StageStatus::Skipped,
                StageEnd::Done | StageEnd::ChangesRequested => StageStatus::Done,
            };
            self.end_stage(stage, status, t0)?;
            match fsm::next(&stages, stage, end) {
                Next::Stage(s) => {
                    if s == Stage::Implement {
                        // A review loop re-opens implement and verify.
                        for st in [Stage::Implement, Stage::Verify] {
                            if let Some(r) = self.state.stage_mut(st) {
                                r.status = StageStatus::Pending;
                            }
                        }
                    }
                    self.state.current_stage = Some(s);
                    self.state.current_item = None;
                    self.save()?;
                }
                Next::Succeeded => {
                    self.state.current_stage = None;
                    return self.finish(RunStatus::Succeeded);
                }
                Next::Failed => return self.finish(RunStatus::Failed),
                Next::Stopped(why) => return self.stop(why),
            }
        }
        self.finish(RunStatus::Succeeded)
    }

    /// Mark the stage running; false when it already was (resumed mid-stage).
    fn begin_stage(&mut self, stage: Stage) -> Result<bool> {
        let rec = self
            .state
            .stage_mut(stage)
            .ok_or_else(|| OrxError::state(format!("stage {stage} is not in this pipeline")))?;
        if rec.status == StageStatus::Running {
            return Ok(false); // resumed mid-stage
        }
        rec.status = StageStatus::Running;
        if rec.started_at.is_none() {
            rec.started_at = Some(now_rfc3339());
        }
        self.save()?;
        self.emit(EventKind::StageStarted { stage })?;
        Ok(true)
    }

    fn end_stage(&mut self, stage: Stage, status: StageStatus, t0: Instant) -> Result<()> {
        let elapsed = t0.elapsed().as_millis() as u64;
        let mut touched = vec![stage];
        if stage == Stage::Implement || stage == Stage::Verify {
            touched = vec![Stage::Implement, Stage::Verify];
        }
        // Implement's wall time includes the gate runs, which verify already accounted for.
        let verify_ms = self
            .state
            .stage(Stage::Verify)
            .map(|r| r.duration_ms)
            .unwrap_or(0);
        let own = if touched.len() > 1 {
            elapsed.saturating_sub(verify_ms.saturating_sub(self.verify_ms_at_begin))
        } else {
            elapsed
        };
        for st in &touched {
            if let Some(rec) = self.state.stage_mut(*st) {
                rec.status = status;
                rec.finished_at = Some(now_rfc3339());
                if *st != Stage::Verify {
                    rec.duration_ms += own;
                }
            }
        }
        self.save()?;
        for st in touched {
            if self.state.stage(st).is_some() {
                let duration_ms = if st == Stage::Verify {
                    verify_ms.saturating_sub(self.verify_ms_at_begin)
                } else {
                    own
                };
                self.emit(EventKind::StageFinished {
                    stage: st,
                    status,
                    duration_ms,
                })?;
            }
        }
        self.fire_hooks("stage_end", Some(stage), Some(status.as_str()), None, None)?;
        Ok(())
    }

    /// End the run resumable: interrupted, or out of budget with the stage still running and
    /// the item in progress, so `orx resume` re-enters the same step once the limit was raised.
    fn stop(self, why: Stop) -> Result<RunOutcome> {
        match why {
            Stop::Interrupted => self.stop_interrupted(),
            Stop::BudgetExceeded => {
                let mut run = self;
                run.finish(RunStatus::BudgetExceeded)
            }
        }
    }

    fn stop_interrupted(mut self) -> Result<RunOutcome> {
        self.state.status = RunStatus::Interrupted;
        self.save()?;
        self.emit(EventKind::RunFinished {
            status: RunStatus::Interrupted,
            duration_ms: self.started.elapsed().as_millis() as u64,
            reason: Some(FailureKind::Interrupted.into()),
            message: Some(format!("resume with `orx resume {}`", self.paths.id)),
        })?;
        self.write_run_metrics();
        Ok(RunOutcome {
            state: self.state.clone(),
            duration_ms: self.started.elapsed().as_millis() as u64,
        })
    }

    fn finish(&mut self, status: RunStatus) -> Result<RunOutcome> {
        self.state.status = status;
        self.state.finished_at = Some(now_rfc3339());
        if status == RunStatus::Succeeded {
            self.state.current_item = None;
        }
        self.save()?;
        let stage = self.state.current_stage;
        self.fire_hooks("run_end", stage, Some(status.as_str()), None, None)?;
        if status == RunStatus::Failed {
            self.fire_hooks("run_failed", stage, Some("failed"), None, None)?;
        }
        let (reason, message) = match (&self.state.last_failure, status) {
            (Some(f), RunStatus::Failed | RunStatus::BudgetExceeded) => {
                (Some(f.reason.clone()), Some(f.message.clone()))
            }
            _ => (None, None),
        };
        self.emit(EventKind::RunFinished {
            status,
            duration_ms: self.started.elapsed().as_millis() as u64,
            reason,
            message,
        })?;
        self.write_run_metrics();
        Ok(RunOutcome {
            state: self.state.clone(),
            duration_ms: self.started.elapsed().as_millis() as u64,
        })
    }

    fn write_run_metrics(&self) {
        let stages: Vec<_> = self
            .state
            .stages
            .iter()
            .map(|r| {
                serde_json::json!({
                    "stage": r.stage, "status": r.status, "attempts": r.attempts,
                    "duration_ms": r.duration_ms, "usage": r.usage,
                })
            })
            .collect();
        let items: Vec<_> = self
            .state
            .items
            .iter()
            .map(|i| serde_json::json!({"id": i.id, "status": i.status, "attempts": i.attempts}))
            .collect();
        let body = serde_json::json!({
            "version": 1,
            "run_id": self.state.run_id,
            "status": self.state.status,
            "created_at": self.state.created_at,
            "finished_at": self.state.finished_at,
            "resumes": self.state.resumes,
            "usage": self.state.usage,
            "stages": stages,
            "items": items,
            "process": crate::store::metrics::process_usage(),
        });
        let mut body = body;
        self.redactor.redact_json(&mut body);
        let _ = crate::store::atomic::write_json_atomic(&self.paths.run_metrics(), &body);
    }

    /// The executor and model for a stage key, after `stages:` routing.
    pub fn route(&self, stage_key: &str) -> (String, Option<String>) {
        let ov = self.config.stages.get(stage_key);
        let executor = ov
            .and_then(|o| o.executor.clone())
            .unwrap_or_else(|| self.state.engine.clone());
        let model = ov
            .and_then(|o| o.model.clone())
            .or_else(|| self.state.model.clone())
            .or_else(|| {
                self.config
                    .executors
                    .get(&executor)
                    .and_then(|e| e.default.model.clone())
            });
        (executor, model)
    }

    /// `text` with the run's secrets replaced, for anything written under `runs/`.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        self.redactor.redact(text)
    }

    /// An event with every string redacted. Should the redacted event no longer decode, a
    /// warning takes its place: a secret is never written for want of a redaction.
    fn redact_event(&self, kind: EventKind) -> EventKind {
        let Ok(mut json) = serde_json::to_value(&kind) else {
            return kind;
        };
        if !self.redactor.redact_json(&mut json) {
            return kind;
        }
        serde_json::from_value(json).unwrap_or_else(|_| EventKind::Warning {
            message: "an event was withheld: it carried a secret".into(),
        })
    }

    /// Variables shared by every prompt.
    pub fn base_vars(&self) -> BTreeMap<&'static str, String> {
        let read =
            |name: &str| std::fs::read_to_string(self.paths.context(name)).unwrap_or_default();
        let mut v = BTreeMap::new();
        v.insert("task", self.state.task.clone());
        v.insert("plan", read("plan.md"));
        v.insert("spec", read("spec.md"));
        v.insert("project_map", read("project_map.md"));
        v.insert("lessons", read("lessons.md"));
        v.insert("decisions", read("decisions.md"));
        v.insert(
            "review_summary",
            self.state.review_summary.clone().unwrap_or_default(),
        );
        v
    }

    /// Render a stage template with `vars`; unknown placeholders become a warning.
    pub fn prompt(
        &mut self,
        template: &str,
        vars: &BTreeMap<&'static str, String>,
    ) -> Result<String> {
        let t = crate::prompts::template(&self.repo.root, template)?;
        let (text, unknown) = crate::prompts::render(&t, vars);
        if !unknown.is_empty() {
            self.emit(EventKind::Warning {
                message: format!(
                    "prompt `{template}` uses unknown placeholders: {}",
                    unknown.join(", ")
                ),
            })?;
        }
        Ok(text)
    }
}
