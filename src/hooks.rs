//! Lifecycle hooks: the commands of `hooks:` in orx.yaml, run on run_start, stage_start,
//! stage_end, gate_failed, run_end and run_failed.
//!
//! A hook is a shell command line run through the one supervisor (own process group, wall
//! timeout, output appended to `runs/<id>/logs/hook_<event>_<n>.log`, `ORX_RUN_ID` set by the
//! supervisor), in the worktree (the repository root when there is none yet). It learns what
//! happened two ways, so a one-line shell script and a real program are both easy to write:
//! environment variables (`ORX_EVENT`, `ORX_RUN_ID`, `ORX_STAGE`, `ORX_STATUS`, `ORX_ITEM`,
//! `ORX_RUN_DIR`, `ORX_WORKTREE`) and one JSON object on stdin (the same fields, plus the gate
//! result for gate_failed). Every hook run becomes a `hook` event.
//!
//! Only run_start and stage_start can be vetoed, because only they happen *before* something:
//! a `blocking` hook that fails there (non-zero exit, timeout, not runnable) stops the hooks
//! that follow and is returned as a veto message, which the runner records as the failure
//! reason `hook_veto` (resumable: fix the cause, `orx resume`). Any other failing hook, and a
//! non-blocking one anywhere, is a warning: a notification script must not break a run.
//!
//! This file is pure of the run: it runs hooks for a [`HookContext`] and [`judge`]s their
//! results. Binding them to a run (its config, its events, stopping on an interrupt) is the
//! runner's business (`runner/hooks.rs`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use crate::config::{HookConfig, HooksConfig};
use crate::error::{OrxError, Result};
use crate::exec::{self, CommandSpec, Control, Termination};

/// What a hook is told about the moment it runs for.
#[derive(Debug, Clone, Default)]
pub struct HookContext {
    pub event: &'static str,
    pub run_id: String,
    pub stage: Option<String>,
    pub status: Option<String>,
    pub item: Option<String>,
    pub run_dir: PathBuf,
    pub worktree: Option<PathBuf>,
    /// Extra fields merged into the JSON on stdin (the gate result for gate_failed).
    pub extra: Option<Value>,
    /// The run's redactor: hook logs (and the command line in their header, which may carry
    /// an interpolated `${TOKEN}`) are written through it.
    pub redactor: Option<std::sync::Arc<crate::guard::Redactor>>,
}

impl HookContext {
    /// The environment variables every hook gets.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = vec![
            ("ORX_EVENT".to_string(), self.event.to_string()),
            ("ORX_RUN_ID".to_string(), self.run_id.clone()),
            (
                "ORX_RUN_DIR".to_string(),
                self.run_dir.display().to_string(),
            ),
            (
                "ORX_STAGE".to_string(),
                self.stage.clone().unwrap_or_default(),
            ),
            (
                "ORX_STATUS".to_string(),
                self.status.clone().unwrap_or_default(),
            ),
            (
                "ORX_ITEM".to_string(),
                self.item.clone().unwrap_or_default(),
            ),
        ];
        if let Some(wt) = &self.worktree {
            env.push(("ORX_WORKTREE".to_string(), wt.display().to_string()));
        }
        env
    }

    /// The JSON object written to every hook's stdin.
    pub fn payload(&self) -> Value {
        let mut v = json!({
            "event": self.event,
            "run_id": self.run_id,
            "stage": self.stage,
            "status": self.status,
            "item": self.item,
            "run_dir": self.run_dir,
            "worktree": self.worktree,
        });
        if let (Some(Value::Object(extra)), Value::Object(map)) = (&self.extra, &mut v) {
            for (k, val) in extra {
                map.insert(k.clone(), val.clone());
            }
        }
        v
    }
}

/// How one hook ended.
#[derive(Debug, Clone, PartialEq)]
pub struct HookRun {
    /// 1-based position in its event's list (also in the log name).
    pub index: usize,
    pub command: String,
    pub blocking: bool,
    pub ok: bool,
    pub exit_code: Option<i32>,
    /// Why it did not run or was stopped (spawn error, timeout, interrupt).
    pub error: Option<String>,
    pub interrupted: bool,
    pub duration_ms: u64,
    /// Log path relative to the run folder.
    pub log: String,
}

/// Whether a blocking failure on `event` vetoes what comes next.
pub fn can_veto(event: &str) -> bool {
    matches!(event, "run_start" | "stage_start")
}

/// Run `hooks` in order for `ctx`; on a vetoable event the first blocking failure stops the
/// rest. `on_done` sees each result as it ends.
pub fn run_hooks(
    hooks: &[HookConfig],
    ctx: &HookContext,
    cwd: &Path,
    on_done: &mut dyn FnMut(&HookRun),
) -> Vec<HookRun> {
    let mut out = Vec::new();
    let payload = ctx.payload().to_string();
    for (i, hook) in hooks.iter().enumerate() {
        let index = i + 1;
        let log = format!("logs/hook_{}_{index}.log", ctx.event);
        let log_path = ctx.run_dir.join(&log);
        let header = format!(
            "--- {} {}{} at {}\n",
            ctx.event,
            hook.command,
            ctx.stage
                .as_ref()
                .map(|s| format!(" (stage {s})"))
                .unwrap_or_default(),
            crate::store::now_rfc3339()
        );
        let header = match &ctx.redactor {
            Some(r) => r.redact(&header).into_owned(),
            None => header,
        };
        // Best effort: the supervisor reports a log it cannot open as a spawn error anyway.
        let _ = crate::store::atomic::append_text(&log_path, &header);
        let mut spec = CommandSpec::new("sh", cwd);
        spec.args = vec!["-c".into(), hook.command.clone()];
        spec.env = ctx.env();
        spec.stdin = Some(payload.clone().into_bytes());
        spec.stdout_log = Some(log_path.clone());
        spec.stderr_log = Some(log_path);
        spec.log_filter = ctx.redactor.as_ref().map(|r| r.log_filter());
        spec.wall_timeout = Some(Duration::from_secs(hook.timeout.max(1)));
        spec.grace = Duration::from_secs(2);
        spec.run_id = Some(ctx.run_id.clone());
        let result = exec::run(&spec, &mut |_, _| Control::Continue);
        let (exit_code, duration_ms, error, interrupted) = match &result {
            Err(e) => (None, 0, Some(format!("cannot run the hook: {e}")), false),
            Ok(x) => {
                let error = x.termination.problem(hook.timeout);
                let interrupted = x.termination == Termination::Interrupted;
                (x.code, x.duration.as_millis() as u64, error, interrupted)
            }
        };
        let run = HookRun {
            index,
            command: hook.command.clone(),
            blocking: hook.blocking,
            ok: error.is_none() && exit_code == Some(0),
            exit_code,
            error,
            interrupted,
            duration_ms,
            log,
        };
        on_done(&run);
        let stop = run.interrupted || (!run.ok && run.blocking && can_veto(ctx.event));
        out.push(run);
        if stop {
            break;
        }
    }
    out
}

/// The veto sentence for a blocking hook that failed.
pub fn veto_message(event: &str, r: &HookRun) -> String {
    let why = match (&r.error, r.exit_code) {
        (Some(e), _) => e.clone(),
        (None, Some(c)) => format!("exit code {c}"),
        (None, None) => "killed by a signal".to_string(),
    };
    format!(
        "blocking {event} hook #{} `{}` vetoed ({why}); see {}",
        r.index, r.command, r.log
    )
}

/// What the hooks of one event decided, once they all ran.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HookVerdict {
    /// A blocking hook failed on a vetoable event: the sentence to fail with.
    pub veto: Option<String>,
    /// A hook was interrupted while its event could veto: the run must stop.
    pub interrupted: bool,
    /// Failures that do not stop anything, as warning sentences.
    pub warnings: Vec<String>,
}

/// Judge the hook runs of `event`: a veto, an interrupt that stops the run, or warnings.
pub fn judge(event: &str, results: &[HookRun]) -> HookVerdict {
    let mut verdict = HookVerdict::default();
    for r in results {
        if r.interrupted {
            if can_veto(event) {
                verdict.interrupted = true;
                return verdict;
            }
            continue;
        }
        if r.ok {
            continue;
        }
        if r.blocking && can_veto(event) {
            verdict.veto = Some(veto_message(event, r));
        } else {
            let why = veto_message(event, r).replacen(" vetoed", " failed", 1);
            let why = why.strip_prefix("blocking ").unwrap_or(&why).to_string();
            verdict.warnings.push(format!("{why}; the run goes on"));
        }
    }
    verdict
}

/// The hooks configured for `event`, or an error naming an event orx does not have.
pub fn hooks_for<'c>(config: &'c HooksConfig, event: &str) -> Result<&'c [HookConfig]> {
    Ok(match event {
        "run_start" => &config.run_start,
        "stage_start" => &config.stage_start,
        "stage_end" => &config.stage_end,
        "gate_failed" => &config.gate_failed,
        "run_end" => &config.run_end,
        "run_failed" => &config.run_failed,
        "awaiting_approval" => &config.awaiting_approval,
        other => return Err(OrxError::internal(format!("unknown hook event {other}"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The context of `event` for run `run_id` whose folder is `run_dir`; nothing else set.
    fn context(event: &'static str, run_id: &str, run_dir: &Path) -> HookContext {
        HookContext {
            event,
            run_id: run_id.into(),
            run_dir: run_dir.to_path_buf(),
            ..Default::default()
        }
    }

    fn hook(command: &str, blocking: bool) -> HookConfig {
        HookConfig {
            command: command.into(),
            blocking,
            timeout: 5,
        }
    }

    #[test]
    fn hooks_get_env_and_json_and_a_blocking_failure_stops_a_vetoable_event() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = HookContext {
            stage: Some("plan".into()),
            status: Some("running".into()),
            worktree: Some(dir.path().to_path_buf()),
            extra: Some(json!({"x": 1})),
            ..context("stage_start", "20261121-120059-a1b2c3", dir.path())
        };
        let hooks = [
            hook(
                "echo \"$ORX_EVENT $ORX_STAGE $ORX_RUN_ID\" > env.txt; cat > in.json",
                false,
            ),
            hook("exit 3", true),
            hook("touch never", false),
        ];
        let mut seen = 0;
        let res = run_hooks(&hooks, &ctx, dir.path(), &mut |_| seen += 1);
        assert_eq!(seen, 2);
        assert!(res[0].ok);
        assert_eq!(res[1].exit_code, Some(3));
        assert!(!dir.path().join("never").exists());
        let env = std::fs::read_to_string(dir.path().join("env.txt")).unwrap();
        assert_eq!(env.trim(), "stage_start plan 20261121-120059-a1b2c3");
        let v: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join("in.json")).unwrap())
                .unwrap();
        assert_eq!(v["stage"], "plan");
        assert_eq!(v["x"], 1);
        assert!(dir.path().join("logs/hook_stage_start_2.log").exists());
        assert!(veto_message("stage_start", &res[1]).contains("exit code 3"));
    }

    fn ran(index: usize, blocking: bool, ok: bool, interrupted: bool) -> HookRun {
        HookRun {
            index,
            command: format!("hook{index}"),
            blocking,
            ok,
            exit_code: Some(if ok { 0 } else { 1 }),
            error: None,
            interrupted,
            duration_ms: 1,
            log: format!("logs/hook_x_{index}.log"),
        }
    }

    #[test]
    fn judging_hooks_vetoes_warns_or_stops_by_event() {
        let runs = [ran(1, false, false, false), ran(2, true, false, false)];
        let v = judge("stage_start", &runs);
        assert!(v
            .veto
            .unwrap()
            .starts_with("blocking stage_start hook #2 `hook2` vetoed"));
        assert_eq!(
            v.warnings,
            ["stage_start hook #1 `hook1` failed (exit code 1); see logs/hook_x_1.log; the run goes on"]
        );
        let v = judge("run_end", &runs);
        assert_eq!((v.veto, v.warnings.len()), (None, 2));
        let stopped = [ran(1, false, false, true)];
        assert!(judge("run_start", &stopped).interrupted);
        assert!(!judge("stage_end", &stopped).interrupted);
        let cfg = HooksConfig::default();
        assert!(hooks_for(&cfg, "gate_failed").unwrap().is_empty());
        assert!(hooks_for(&cfg, "nope").is_err());
    }

    #[test]
    fn non_vetoable_events_run_every_hook_and_timeouts_fail() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = context("run_end", "r", dir.path());
        // Far past its 1 s timeout, whatever the load: only the timeout can end it in time.
        let mut slow = hook("sleep 1000", true);
        slow.timeout = 1;
        let res = run_hooks(&[slow, hook("true", false)], &ctx, dir.path(), &mut |_| {});
        assert_eq!(res.len(), 2);
        assert!(!res[0].ok && res[0].error.as_deref().unwrap().contains("timed out"));
        assert!(res[1].ok);
    }
}
