//! [`Run::call_agent`]: the one way a stage calls an agent, with routing, budgets, fallback and
//! rate-limit waiting around the single supervised call.
//!
//! One stage step is at most two agent processes: the routed call, then either one retry with
//! a `fallback:` substitute (a matching failure and a rule that names something different), or
//! one retry on the same executor after waiting out a rate limit (see `wait`). Never a loop:
//! a second failure is the step's recorded outcome. Each process is one [`Run::call_once`]:
//! build the CLI from config, refuse to start when a run budget is already spent, stream the
//! events to the log and the [`Budget`] (which stops the agent when it crosses a limit),
//! estimate missing costs from the price table, and record usage, sessions, metrics and the
//! `agent_finished` event. A crossed budget and an interrupt come back as a [`Halt::Stop`] (a value,
//! not an error) so the stage hands back `StageEnd::Stopped` and the driver ends the run
//! (`budget_exceeded`, `interrupted`) with the step left to re-run on resume; every other
//! failure is an `Ok` outcome for the stage to judge.

use std::time::Duration;

use super::context::{Halt, Run, Step};
use crate::agents::budget::{Budget, Limits};
use crate::agents::pricing::PriceTable;
use crate::agents::registry::{self, Setup};
use crate::agents::{
    self, fallback, AgentCli, AgentEvent, AgentOutcome, AgentRequest, CliSettings, FailureKind,
    Mode,
};
use crate::config::Config;
use crate::error::{OrxError, Result};
use crate::exec::Control;
use crate::model::event::EventKind;
use crate::model::state::FallbackRecord;
use crate::model::{FailureRecord, RunState, Stage, Stop};
use crate::store::metrics::{append_stage_metric, StageMetric};
use crate::store::now_rfc3339;

/// One process of a stage step.
struct Call<'a> {
    stage_key: &'a str,
    item: Option<&'a str>,
    n: u32,
    mode: Mode,
    prompt: &'a str,
    executor: String,
    model: Option<String>,
    /// Names the logs: `agent_<log_name>.jsonl`.
    log_name: String,
}

impl<'r> Run<'r> {
    /// `prompt` with the feedback a person gave when rejecting this stage's output, as
    /// evidence the agent must act on; unchanged for any other stage.
    fn with_feedback(&self, stage_key: &str, prompt: String) -> String {
        match &self.state.feedback {
            Some(f) if Stage::parse(stage_key) == Some(f.stage) => format!(
                "{prompt}\n\n## A person rejected your previous answer\n\nTheir feedback:\n\n{}\n\nAnswer again, following this feedback.\n",
                f.text.trim_end()
            ),
            _ => prompt,
        }
    }

    /// Call the agent for one stage step. Failed agents are an `Ok` outcome; an interrupt, a
    /// crossed budget (or orx's own failure) is an `Err`.
    pub fn call_agent(
        &mut self,
        stage_key: &str,
        item: Option<&str>,
        n: u32,
        mode: Mode,
        prompt: String,
    ) -> Step<AgentOutcome> {
        let (executor, model) = self.route(stage_key);
        let name = match item {
            Some(i) => format!("{stage_key}_{i}_{n}"),
            None if n > 1 => format!("{stage_key}_{n}"),
            None => stage_key.to_string(),
        };
        let prompt = self.with_feedback(stage_key, prompt);
        // The prompt is redacted for the agent too: a secret never travels to a model.
        let prompt = self.redactor.redact(&prompt).into_owned();
        let prompt_path = self.paths.prompt(&name);
        std::fs::write(&prompt_path, &prompt)
            .map_err(|e| OrxError::io("write", &prompt_path, e))?;
        let mut call = Call {
            stage_key,
            item,
            n,
            mode,
            prompt: &prompt,
            executor: executor.clone(),
            model: model.clone(),
            log_name: name.clone(),
        };
        let outcome = self.call_once(&call)?;
        let Some(kind) = outcome.failure else {
            return Ok(outcome);
        };
        let executors = self.config.executors.clone();
        let default_model = |e: &str| executors.get(e).and_then(|x| x.default.model.clone());
        let substitute = fallback::pick(
            &self.config.fallback,
            crate::config::routed_as(stage_key),
            kind,
            &executor,
            model.as_deref(),
            &default_model,
        )
        .map(|(_, e, m)| (e, m));
        if let Some((to_exec, to_model)) = substitute {
            let rec = FallbackRecord {
                at: now_rfc3339(),
                stage: stage_key.to_string(),
                item: item.map(String::from),
                failure: kind,
                from_executor: executor.clone(),
                from_model: model.clone(),
                to_executor: to_exec.clone(),
                to_model: to_model.clone(),
            };
            self.state.fallbacks.push(rec.clone());
            self.save()?;
            self.emit(EventKind::Fallback {
                stage: rec.stage,
                item: rec.item,
                failure: rec.failure,
                from_executor: rec.from_executor,
                from_model: rec.from_model,
                to_executor: rec.to_executor,
                to_model: rec.to_model,
            })?;
            call.executor = to_exec;
            call.model = to_model;
            call.log_name = format!("{name}_fallback");
            return self.call_once(&call);
        }
        if kind == FailureKind::RateLimited {
            super::wait::wait_for_reset(self, stage_key, item, &outcome)?;
            call.log_name = format!("{name}_retry");
            return self.call_once(&call);
        }
        Ok(outcome)
    }

    /// One supervised agent process, fully recorded.
    fn call_once(&mut self, c: &Call<'_>) -> Step<AgentOutcome> {
        let cli = build_cli(&c.executor, &self.state, &self.config)?;
        let ov = self.config.stages.routing(c.stage_key);
        let exec_cfg = self.config.executors.get(&c.executor);
        let timeout = ov
            .and_then(|o| o.timeout)
            .or_else(|| exec_cfg.and_then(|e| e.timeout))
            .unwrap_or(self.config.engine.timeout);
        let idle = ov
            .and_then(|o| o.idle_timeout)
            .or_else(|| exec_cfg.and_then(|e| e.idle_timeout))
            .or(self.config.engine.idle_timeout);
        let limits = Limits {
            max_usd: self.config.run.max_budget_usd,
            max_tokens: self.config.run.max_tokens,
            max_turns: ov.and_then(|o| o.max_turns),
        };
        let mut budget = Budget::new(limits, &self.state.usage);
        if let Some(why) = budget.exhausted() {
            return Err(self.budget_stop(c, why));
        }
        let session_key = |st: &str| match c.item {
            Some(i) => format!("{st}:{i}"),
            None => st.to_string(),
        };
        // Fix attempts continue the implement (or previous fix) session, when it belongs to the
        // same executor: context is not paid for twice.
        let resume_session = if c.stage_key == "fix" {
            self.state
                .sessions
                .get(&session_key("fix"))
                .or_else(|| self.state.sessions.get(&session_key("implement")))
                .filter(|sid| {
                    self.state
                        .session_meta
                        .get(*sid)
                        .is_none_or(|m| m.executor == c.executor)
                })
                .cloned()
        } else {
            None
        };
        let usage_baseline = resume_session
            .as_ref()
            .and_then(|sid| self.state.session_meta.get(sid))
            .and_then(|m| m.cumulative_usage.clone());
        let req = AgentRequest {
            run_id: self.paths.id.clone(),
            stage: c.stage_key.to_string(),
            item: c.item.map(String::from),
            n: c.n,
            mode: c.mode,
            prompt: c.prompt.to_string(),
            model: c.model.clone(),
            cwd: self.state.worktree.path.clone(),
            resume_session,
            timeout: Some(Duration::from_secs(timeout.max(1))),
            idle_timeout: idle.map(Duration::from_secs),
            stdout_log: self.paths.log(&format!("agent_{}.jsonl", c.log_name)),
            stderr_log: self.paths.log(&format!("agent_{}.stderr", c.log_name)),
            max_turns: limits.max_turns,
            max_budget_usd: budget.remaining_usd(),
            usage_baseline,
            grace: Duration::from_secs(self.config.run.stop_grace_secs),
        };
        tracing::info!(
            stage = c.stage_key,
            item = c.item.unwrap_or("-"),
            executor = %c.executor,
            model = c.model.as_deref().unwrap_or("-"),
            "calling agent"
        );
        let prices = PriceTable::new(&self.config.pricing);
        let started_at = now_rfc3339();
        let log_filter = self.redactor.log_filter();
        let mut stream = Streamed {
            stage: c.stage_key.to_string(),
            item: c.item.map(String::from),
            live_model: c.model.clone(),
            prices: &prices,
            budget: &mut budget,
            error: None,
            run: self,
        };
        let mut outcome =
            agents::invoke_filtered(cli.as_ref(), &req, Some(log_filter), &mut stream);
        let Streamed {
            live_model, error, ..
        } = stream;
        // What the stream left gathered is written even when an event could not be.
        let flushed = self.flush_events();
        if let Some(e) = error {
            return Err(e.into());
        }
        flushed?;
        prices.fill_cost(&mut outcome.usage, live_model.as_deref());
        // A turn limit orx itself passed down is the stage's budget, not the agent's failure.
        if outcome.failure == Some(FailureKind::TurnLimit) && req.max_turns.is_some() {
            outcome.failure = Some(FailureKind::BudgetExceeded);
        }
        if let Some(sid) = &outcome.session_id {
            self.state
                .sessions
                .insert(session_key(c.stage_key), sid.clone());
            let meta = self.state.session_meta.entry(sid.clone()).or_default();
            meta.executor = c.executor.clone();
            if outcome.cumulative_usage.is_some() {
                meta.cumulative_usage = outcome.cumulative_usage.clone();
            }
        }
        self.state.usage.add(&outcome.usage);
        if let Some(st) = self.state.current_stage {
            if let Some(rec) = self.state.stage_mut(st) {
                rec.usage.add(&outcome.usage);
                rec.attempts += 1;
            }
        }
        append_stage_metric(
            &self.paths.stage_metrics(),
            &StageMetric {
                stage: c.stage_key.to_string(),
                item: c.item.map(|i| self.redact(i).into_owned()),
                attempt: c.n,
                status: outcome
                    .failure
                    .map(|f| f.as_str().to_string())
                    .unwrap_or_else(|| "ok".into()),
                started_at,
                duration_ms: outcome.duration_ms,
                executor: c.executor.clone(),
                model: c
                    .model
                    .clone()
                    .or(live_model)
                    .map(|m| self.redact(&m).into_owned()),
                usage: outcome.usage.clone(),
            },
        )?;
        self.emit(EventKind::AgentFinished {
            stage: c.stage_key.to_string(),
            item: c.item.map(String::from),
            ok: outcome.succeeded(),
            failure: outcome.failure,
            message: outcome.message.clone(),
            duration_ms: outcome.duration_ms,
            usage: outcome.usage.clone(),
        })?;
        self.save()?;
        match outcome.failure {
            Some(FailureKind::Interrupted) => Err(Halt::Stop(Stop::Interrupted)),
            Some(FailureKind::BudgetExceeded) => {
                let why = outcome
                    .message
                    .clone()
                    .unwrap_or_else(|| "budget_exceeded".into());
                Err(self.budget_stop(c, why))
            }
            _ => Ok(outcome),
        }
    }

    /// Record a crossed budget as the run's failure and build the error that ends the run.
    fn budget_stop(&mut self, c: &Call<'_>, why: String) -> Halt {
        let stage = self
            .state
            .current_stage
            .unwrap_or(crate::model::Stage::Implement);
        self.state.last_failure = Some(FailureRecord {
            stage,
            item: c.item.map(String::from),
            reason: FailureKind::BudgetExceeded.into(),
            message: format!(
                "{why}; raise the limit in orx.yaml (run.max_budget_usd, run.max_tokens or stages.{}.max_turns) and run `orx resume {}`",
                c.stage_key, self.paths.id
            ),
            evidence_path: None,
        });
        let _ = self.save();
        tracing::info!(run = %self.paths.id, "budget crossed: {why}");
        Halt::Stop(Stop::BudgetExceeded)
    }
}

/// An agent call's events on their way into the run: each one priced, counted against the
/// budget and gathered into the run's history, which is written whenever the agent's output is
/// caught up.
struct Streamed<'a, 'r> {
    run: &'a mut Run<'r>,
    stage: String,
    item: Option<String>,
    /// The model the call runs on: routed, or as the agent's session names it.
    live_model: Option<String>,
    prices: &'a PriceTable,
    budget: &'a mut Budget,
    /// The first event that could not be recorded: the call fails with it once it ends.
    error: Option<OrxError>,
}

impl agents::EventSink for Streamed<'_, '_> {
    fn event(&mut self, mut ev: AgentEvent) -> Control {
        match &mut ev {
            AgentEvent::SessionStarted { model: Some(m), .. } if self.live_model.is_none() => {
                self.live_model = Some(m.clone());
            }
            AgentEvent::Usage { usage } => self.prices.fill_cost(usage, self.live_model.as_deref()),
            _ => {}
        }
        let stop = self.budget.observe(&ev);
        let kind = EventKind::Agent {
            stage: self.stage.clone(),
            item: self.item.clone(),
            agent: ev,
        };
        if let Err(e) = self.run.emit_gathered(kind) {
            self.error.get_or_insert(e);
        }
        match stop {
            Some(why) => Control::Stop(why),
            None => Control::Continue,
        }
    }

    fn caught_up(&mut self) {
        if let Err(e) = self.run.flush_events() {
            self.error.get_or_insert(e);
        }
    }
}

/// The executor named in config, as a CLI orx can drive.
pub fn build_cli(executor: &str, state: &RunState, config: &Config) -> Result<Box<dyn AgentCli>> {
    let (row, settings) = cli_settings(executor, config)?;
    Ok((row.build)(Setup {
        settings,
        scenario: state.scenario.clone(),
    }))
}

/// The registry row of the executor named in config, and its settings from `executors:` and
/// `engine:` (binary, env, extra args, key).
pub fn cli_settings(
    executor: &str,
    config: &Config,
) -> Result<(&'static registry::Executor, CliSettings)> {
    let Some(row) = registry::get(executor) else {
        return Err(OrxError::config(format!("unknown executor `{executor}`"))
            .with_hint(registry::known_hint()));
    };
    let ex = config.executors.get(executor).cloned().unwrap_or_default();
    let bin = crate::agents::detect::program(config, row);
    let settings = CliSettings {
        bin,
        env: ex.env.into_iter().collect(),
        extra_args: ex.extra_args,
        api_key: ex.api_key,
        reasoning_effort: ex.default.reasoning_effort,
    };
    Ok((row, settings))
}
