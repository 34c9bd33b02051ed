//! The driver: the loop that runs each stage of a run, begins and ends it, and finishes the
//! run.
//!
//! It sits *above* the stages and is the only code that calls them (through
//! `stages::entry`), while the stages work on the [`Run`] context below. The loop is
//! deliberately thin: it asks a stage to run, then asks the pure `fsm::next` where to go. A
//! stage that ends `Stopped` stops the run resumable (`interrupted`, `budget_exceeded`); an
//! error is recorded as the failure `orx_error` and returned. `start` and `resume` (`setup`)
//! differ only in how they build the `Run`; a resumed run re-enters the exact phase its
//! `state.json` names, after putting the worktree back to the matching checkpoint or snapshot.

use std::time::Instant;

use super::context::{stage_end, Halt, Run};
use super::fsm::{self, Next};
use crate::error::{OrxError, Result};
use crate::model::state::Checkpoint;
use crate::model::{
    EventKind, FailureKind, OrxFailure, RunState, RunStatus, Stage, StageEnd, StageStatus, Stop,
};
use crate::stages;
use crate::store::journal::Durability;
use crate::store::now_rfc3339;

/// The exit code of a run that stopped at an approval checkpoint (documented in the README's
/// exit-code table).
pub const AWAITING_APPROVAL_EXIT: i32 = 4;

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
            | RunStatus::Waiting
            | RunStatus::Partial => 1,
            RunStatus::AwaitingApproval => AWAITING_APPROVAL_EXIT,
        }
    }
}

impl Run<'_> {
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
            Err(Halt::Stop(why)) => return self.stop(why),
            Err(Halt::Error(e)) => return Err(e),
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
                let veto = match self.fire_vetoable_hooks("stage_start", Some(stage), "running") {
                    Ok(v) => v,
                    Err(Halt::Stop(why)) => return self.stop(why),
                    Err(Halt::Error(e)) => return Err(e),
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
            let end = stage_end(stages::entry(stage)(&mut self));
            let end = match end {
                Ok(end) => end,
                // An error raised while an interrupt is pending is the interrupt's doing.
                Err(_) if crate::exec::interrupt_requested() => {
                    return self.stop(Stop::Interrupted)
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
            let finished = matches!(end, StageEnd::Done | StageEnd::ChangesRequested);
            if finished
                && self
                    .state
                    .feedback
                    .as_ref()
                    .is_some_and(|f| f.stage == stage)
            {
                self.state.feedback = None;
            }
            if finished && self.state.approve.contains(&stage) {
                self.end_stage(stage, status, t0)?;
                return self.await_approval(stage, end);
            }
            // The stage's end and the step to the next stage are one checkpoint: resume reads
            // either the stage still running or the next one ready to begin, never a finished
            // stage still current.
            match fsm::next(&stages, stage, end) {
                Next::Stage(s) => self.end_stage_into(stage, status, t0, Some(s))?,
                other => {
                    self.end_stage(stage, status, t0)?;
                    return self.conclude(other);
                }
            }
        }
        self.finish(RunStatus::Succeeded)
    }

    /// Move to the stage after `stage`'s `end`; the transition is handed back when it ends
    /// the run instead.
    fn advance(&mut self, stages: &[Stage], stage: Stage, end: StageEnd) -> Result<Option<Next>> {
        match fsm::next(stages, stage, end) {
            Next::Stage(s) => {
                self.enter(s);
                self.save()?;
                Ok(None)
            }
            other => Ok(Some(other)),
        }
    }

    /// Make `s` the current stage, not yet begun (the state only; the caller records it).
    fn enter(&mut self, s: Stage) {
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
    }

    /// End the run as a transition that leaves the pipeline says.
    fn conclude(mut self, next: Next) -> Result<RunOutcome> {
        match next {
            Next::Succeeded => {
                self.state.current_stage = None;
                self.finish(RunStatus::Succeeded)
            }
            Next::Failed => self.finish(RunStatus::Failed),
            Next::Stopped(why) => self.stop(why),
            Next::Stage(_) => self.drive(),
        }
    }

    /// Stop after `stage` for a person's approval: record the checkpoint, tell what to read
    /// and how to go on, fire the `awaiting_approval` hooks. The lock goes with this process.
    fn await_approval(mut self, stage: Stage, end: StageEnd) -> Result<RunOutcome> {
        self.state.checkpoint = Some(Checkpoint {
            stage,
            changes_requested: end == StageEnd::ChangesRequested,
        });
        self.state.status = RunStatus::AwaitingApproval;
        // The run exits here: synced, state.json compacted, the journal emptied, as at any end.
        self.persist(Durability::Exit)?;
        let output = super::approval::output_of(&self.state, stage);
        self.emit(EventKind::AwaitingApproval {
            stage,
            output: output.clone(),
        })?;
        self.notify_hooks("awaiting_approval", Some(stage), "awaiting_approval")?;
        let id = self.paths.id.clone();
        self.emit(EventKind::RunFinished {
            status: RunStatus::AwaitingApproval,
            duration_ms: self.started.elapsed().as_millis() as u64,
            reason: None,
            message: Some(format!(
                "read runs/{id}/{output} (edit it if you like), then `orx approve {id}` to go on, or `orx reject {id} --feedback TEXT` to run {stage} again"
            )),
        })?;
        self.write_run_metrics();
        Ok(RunOutcome {
            state: self.state.clone(),
            duration_ms: self.started.elapsed().as_millis() as u64,
        })
    }

    /// Go on from an approved checkpoint: where `stage` ending `end` leads, as if it had just
    /// ended.
    pub(super) fn continue_after(mut self, stage: Stage, end: StageEnd) -> Result<RunOutcome> {
        self.state.checkpoint = None;
        let stages = self.state.stage_names();
        match self.advance(&stages, stage, end)? {
            None => self.drive(),
            Some(next) => self.conclude(next),
        }
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
        self.end_stage_into(stage, status, t0, None)
    }

    /// [`Run::end_stage`], with `next` (when given) made the current stage in the same
    /// checkpoint, before the stage's events and hooks.
    fn end_stage_into(
        &mut self,
        stage: Stage,
        status: StageStatus,
        t0: Instant,
        next: Option<Stage>,
    ) -> Result<()> {
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
        if let Some(s) = next {
            self.enter(s);
        }
        self.persist(Durability::StageEnd)?;
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
        self.notify_hooks("stage_end", Some(stage), status.as_str())?;
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
        self.persist(Durability::Exit)?;
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
        // Only parallel lanes go past a failed item: the run shipped what passed.
        let status = if status == RunStatus::Succeeded && !self.state.left_out().is_empty() {
            RunStatus::Partial
        } else {
            status
        };
        self.state.status = status;
        self.state.finished_at = Some(now_rfc3339());
        if status == RunStatus::Succeeded {
            self.state.current_item = None;
        }
        self.persist(Durability::Exit)?;
        let stage = self.state.current_stage;
        self.notify_hooks("run_end", stage, status.as_str())?;
        // A partial run shipped what passed but exits 1 like a failed one: whoever watches for
        // failures hears of both, and ORX_STATUS says which.
        if matches!(status, RunStatus::Failed | RunStatus::Partial) {
            self.notify_hooks("run_failed", stage, status.as_str())?;
        }
        let (reason, message) = match (&self.state.last_failure, status) {
            (Some(f), RunStatus::Failed | RunStatus::BudgetExceeded | RunStatus::Partial) => {
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
            "strays": {
                "mode": crate::exec::tracking::tracking().mode,
                "environ_reads": crate::exec::tracking::environ_reads(),
            },
            "fsyncs": crate::store::fsync::count(),
            "git_processes": crate::git::spawns::count(),
        });
        let mut body = body;
        self.redactor.redact_json(&mut body);
        // A measurement derived from the run, so not synced: the state journal is what resume
        // needs, and `fsyncs` above is then the whole process's count.
        let _ = crate::store::atomic::write_json_unsynced(&self.paths.run_metrics(), &body);
    }
}
