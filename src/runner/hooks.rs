//! The hooks bound to a run: which hooks an event fires, with what the run knows, as events.
//!
//! `crate::hooks` runs hook commands and judges their results without knowing about runs; this
//! file gives them the run's config, worktree and redactor, emits a `hook` event per hook and
//! a warning per non-blocking failure, and turns an interrupt during a vetoable event into a
//! stop.

use serde_json::{json, Value};

use super::context::{Halt, Run, Step};
use crate::error::Result;
use crate::hooks::{hooks_for, judge, run_hooks, HookContext, HookVerdict};
use crate::model::{EventKind, GateResult, Stage, Stop};

impl Run<'_> {
    /// Fire `run_start` or `stage_start`. Returns the veto message when a blocking hook failed;
    /// an interrupt while they run stops the run.
    pub fn fire_vetoable_hooks(
        &mut self,
        event: &'static str,
        stage: Option<Stage>,
        status: &str,
    ) -> Step<Option<String>> {
        let verdict = self.fire(event, stage, status, None, None)?;
        if verdict.interrupted {
            return Err(Halt::Stop(Stop::Interrupted));
        }
        Ok(verdict.veto)
    }

    /// Fire an event nothing waits on (`stage_end`, `run_end`, `run_failed`): failures are
    /// warnings.
    pub fn notify_hooks(
        &mut self,
        event: &'static str,
        stage: Option<Stage>,
        status: &str,
    ) -> Result<()> {
        self.fire(event, stage, status, None, None).map(drop)
    }

    /// Fire `gate_failed` for one failing gate of an item (never vetoes).
    pub fn gate_failed_hooks(&mut self, item: &str, result: &GateResult) -> Result<()> {
        let extra = json!({ "gate": result });
        let stage = self.state.current_stage;
        self.fire("gate_failed", stage, "failed", Some(item), Some(extra))
            .map(drop)
    }

    /// Run the hooks of `event`, emit an event per hook and a warning per non-vetoing failure.
    fn fire(
        &mut self,
        event: &'static str,
        stage: Option<Stage>,
        status: &str,
        item: Option<&str>,
        extra: Option<Value>,
    ) -> Result<HookVerdict> {
        let hooks = hooks_for(&self.config.hooks, event)?.to_vec();
        if hooks.is_empty() {
            return Ok(HookVerdict::default());
        }
        let worktree = Some(self.state.worktree.path.clone()).filter(|p| p.is_dir());
        let cwd = worktree.clone().unwrap_or_else(|| self.repo.root.clone());
        let ctx = HookContext {
            event,
            run_id: self.paths.id.clone(),
            stage: stage.map(|s| s.to_string()),
            status: Some(status.to_string()),
            item: item.map(String::from),
            run_dir: self.paths.dir.clone(),
            worktree,
            extra,
            redactor: Some(self.redactor.clone()),
        };
        let mut emitted: Vec<EventKind> = Vec::new();
        let results = run_hooks(&hooks, &ctx, &cwd, &mut |r| {
            emitted.push(EventKind::Hook {
                hook: event.to_string(),
                index: r.index,
                command: r.command.clone(),
                stage: ctx.stage.clone(),
                ok: r.ok,
                blocking: r.blocking,
                exit_code: r.exit_code,
                error: r.error.clone(),
                duration_ms: r.duration_ms,
                log: r.log.clone(),
            })
        });
        for ev in emitted {
            self.emit(ev)?;
        }
        let verdict = judge(event, &results);
        for message in &verdict.warnings {
            self.warn(message.clone())?;
        }
        Ok(verdict)
    }
}
