//! The run context: [`Run`], everything a stage needs, and the primitives every stage goes
//! through.
//!
//! [`Run`] holds the repository, worktree, config, state, event log and reporter, and offers
//! [`Run::emit`] (the one event stream), [`Run::save`] and [`Run::checkpoint`] (a progress
//! note and a checkpoint resume needs, both appended to the state journal), [`Run::fail`] (the
//! recorded failure), [`Run::prompt`], [`Run::route`], and, in the sibling files, the one
//! agent call (`call`), the guardrail check of the worktree (`guardrails`) and the hooks
//! (`hooks`). It sits *below* the stages: a stage takes `&mut Run`, while the driver
//! (`drive`) that calls the stages sits above them, so no stage can reach the loop that runs
//! it.
//!
//! A stage's step either completes, or is halted: [`Halt::Stop`] when the run must stop
//! resumable (an interrupt, a crossed budget: a value the stage hands back as
//! `StageEnd::Stopped`), or [`Halt::Error`] when orx itself cannot go on.
//!
//! Everything the run writes under `runs/<id>/` passes through its [`Redactor`]: events in
//! `emit`, the state journal, `state.json` and `meta.json` in `save` (the state in memory keeps
//! the real text), prompts (also as sent to the agent), agent logs (as they stream), metrics.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use crate::agents::AgentOutcome;
use crate::config::Config;
use crate::error::{OrxError, Result};
use crate::git::{Repo, Worktree};
use crate::guard::Redactor;
use crate::model::state::WorktreeInfo;
use crate::model::RunState;
use crate::model::{
    EventKind, FailureKind, FailureReason, FailureRecord, RunEvent, Stage, StageEnd, Stop,
};
use crate::report::Reporter;
use crate::store::events::EventLog;
use crate::store::journal::{Durability, StateJournal};
use crate::store::lock::RunLock;
use crate::store::meta::Meta;
use crate::store::RunPaths;

use super::lane::{LaneLink, LaneMsg};

/// Why a step of a stage did not run to its end.
#[derive(Debug)]
pub enum Halt {
    /// The run stops here, resumable: a value, handed back as `StageEnd::Stopped`.
    Stop(Stop),
    /// orx itself cannot go on.
    Error(OrxError),
}

/// Every error a layer raises (`OrxError`, `GitError`, `StoreError`, …) halts a step as orx's
/// own failure.
impl<E: Into<OrxError>> From<E> for Halt {
    fn from(e: E) -> Halt {
        Halt::Error(e.into())
    }
}

/// The result of a step that an interrupt or a budget may stop.
pub type Step<T> = std::result::Result<T, Halt>;

/// A stage's end from its step: a stop becomes `StageEnd::Stopped`, an error stays one.
pub fn stage_end(step: Step<StageEnd>) -> Result<StageEnd> {
    match step {
        Ok(end) => Ok(end),
        Err(Halt::Stop(why)) => Ok(StageEnd::Stopped(why)),
        Err(Halt::Error(e)) => Err(e),
    }
}

/// Where a [`Run`]'s events and checkpoints go.
enum Sink<'r> {
    /// The run itself: its event log, its state journal, its reporter and its lock.
    Own {
        events: EventLog,
        /// The buffer each event's line is encoded into.
        line: Vec<u8>,
        /// The state journal; `state.json` is compacted from it. Boxed: with its sync thread's
        /// handles it is the largest part of the run's own sink.
        journal: Box<StateJournal>,
        reporter: &'r mut dyn Reporter,
        _lock: RunLock,
    },
    /// A parallel lane: everything goes to the scheduler thread, the one writer.
    Lane(Box<LaneLink>),
}

/// A run being driven by this process.
pub struct Run<'r> {
    pub repo: Repo,
    pub paths: RunPaths,
    pub config: Config,
    pub state: RunState,
    pub wt: Worktree,
    /// Where events and checkpoints go: this process's own log and state file, or, in a
    /// parallel lane, the scheduler that owns them.
    sink: Sink<'r>,
    last_meta: Option<Meta>,
    /// Set on resume: the first step puts the worktree back to its checkpoint.
    pub needs_restore: bool,
    /// Verify's accumulated time when the current stage began (see `end_stage`).
    pub(super) verify_ms_at_begin: u64,
    pub(super) started: Instant,
    /// Hides secrets in everything the run writes (events, state, prompts, logs, artifacts).
    pub redactor: Arc<Redactor>,
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
        let journal = Box::new(StateJournal::open(&paths.state())?);
        let wt = repo.worktree(&state.worktree.path);
        Ok(Run {
            repo,
            paths,
            config,
            state,
            wt,
            sink: Sink::Own {
                events,
                line: Vec::new(),
                journal,
                reporter,
                _lock: lock,
            },
            last_meta: None,
            needs_restore: false,
            verify_ms_at_begin: 0,
            started: Instant::now(),
            redactor: Arc::new(Redactor::from_env()),
        })
    }

    /// A lane of this run working `item` in the worktree `lane`: a copy of the run's state
    /// whose worktree (set up or not) is the lane's, whose events and checkpoints go over `tx`
    /// to the scheduler. It resumes from the item's recorded phase.
    pub(crate) fn lane(
        &self,
        item: &str,
        lane: &WorktreeInfo,
        setup_done: bool,
        tx: std::sync::mpsc::Sender<LaneMsg>,
    ) -> Run<'static> {
        let mut state = self.state.clone();
        state.worktree = lane.clone();
        state.worktree_setup_done = setup_done;
        state.current_item = Some(item.to_string());
        Run {
            repo: self.repo.clone(),
            paths: self.paths.clone(),
            config: self.config.clone(),
            wt: self.repo.worktree(&lane.path),
            sink: Sink::Lane(Box::new(LaneLink::new(item, tx, &state))),
            state,
            last_meta: None,
            needs_restore: true,
            verify_ms_at_begin: 0,
            started: self.started,
            redactor: self.redactor.clone(),
        }
    }

    /// The scheduler's end of the channel, in a lane: where the lanes a lane opens itself
    /// (an item's candidates) send their events and checkpoints.
    pub(crate) fn lane_sender(&self) -> Option<std::sync::mpsc::Sender<LaneMsg>> {
        match &self.sink {
            Sink::Own { .. } => None,
            Sink::Lane(link) => Some(link.sender()),
        }
    }

    /// The item this run is a lane of, if it is one.
    pub fn lane_item(&self) -> Option<&str> {
        match &self.sink {
            Sink::Own { .. } => None,
            Sink::Lane(link) => Some(link.item()),
        }
    }

    /// The ref that keeps the current item's snapshots alive: the run's, or the lane's own.
    pub fn wip_ref(&self) -> String {
        match self.lane_item() {
            Some(item) => self.paths.lane_wip_ref(item),
            None => self.paths.wip_ref(),
        }
    }

    /// Emit a warning: something the user should know that does not stop the run.
    pub fn warn(&mut self, message: String) -> Result<()> {
        self.emit(EventKind::Warning { message })
    }

    /// Append an event to the history, written now, and hand it to the reporter.
    pub fn emit(&mut self, kind: EventKind) -> Result<()> {
        self.emit_as(kind, false)
    }

    /// [`Run::emit`] for an event of a stream: its line is gathered and written with the next
    /// [`Run::flush_events`], emit or record of the state (see [`EventLog::gather`]). The
    /// reporter hears of it at once.
    pub fn emit_gathered(&mut self, kind: EventKind) -> Result<()> {
        self.emit_as(kind, true)
    }

    /// Write the events gathered by [`Run::emit_gathered`].
    pub fn flush_events(&mut self) -> Result<()> {
        match &mut self.sink {
            Sink::Own {
                events, reporter, ..
            } => {
                reporter.flush();
                Ok(events.flush()?)
            }
            Sink::Lane(_) => Ok(()),
        }
    }

    fn emit_as(&mut self, kind: EventKind, gathered: bool) -> Result<()> {
        let (events, reporter, line) = match &mut self.sink {
            Sink::Own {
                events,
                reporter,
                line,
                ..
            } => (events, reporter, line),
            // The scheduler redacts it as it writes it.
            Sink::Lane(link) => return link.event(kind),
        };
        let mut ev = events.stamp(kind);
        line.clear();
        let redacted = self
            .redactor
            .write_json(line, &ev)
            .map_err(|e| OrxError::internal(format!("cannot encode an event: {e}")))?;
        if redacted {
            // Every sink sees the event as written. Should the redacted line no longer read
            // as an event, a warning takes its place: a secret is never written for want of
            // a redaction.
            ev = match serde_json::from_slice::<RunEvent>(line) {
                Ok(written) => written,
                Err(_) => {
                    ev.kind = EventKind::Warning {
                        message: "an event was withheld: it carried a secret".into(),
                    };
                    line.clear();
                    serde_json::to_writer(&mut *line, &ev)
                        .map_err(|e| OrxError::internal(format!("cannot encode an event: {e}")))?;
                    ev
                }
            };
        }
        events.record(line, !gathered)?;
        reporter.event(&ev);
        if !gathered {
            reporter.flush();
        }
        Ok(())
    }

    /// Record the state as a progress note: appended to the state journal, which a `kill -9`
    /// cannot take back, but not synced, so a power loss may return resume to the last
    /// [`Run::checkpoint`] (every step is idempotent). Also rewrites `meta.json` when its
    /// summary changed.
    pub fn save(&mut self) -> Result<()> {
        self.persist(Durability::Note)
    }

    /// Record the state durably (one `fdatasync`, made while the run goes on; [`Run::settle`]
    /// waits for it): for a step resume must not repeat after a power loss, such as an agent
    /// attempt's snapshot, an item's commit or a push.
    pub fn checkpoint(&mut self) -> Result<()> {
        self.persist(Durability::Durable)
    }

    /// Wait until every checkpoint so far is on the disk (they are synced on a thread of their
    /// own): before an effect outside the run folder that resume must not repeat from an older
    /// state after a power loss, such as a push or a pull request. A lane has nothing to wait
    /// for: the scheduler owns the journal, and lanes only work in their own worktrees.
    pub fn settle(&self) -> Result<()> {
        match &self.sink {
            Sink::Own { journal, .. } => Ok(journal.settle()?),
            Sink::Lane(_) => Ok(()),
        }
    }

    /// Record the state as `how` says (stage ends and the run's exit are the driver's).
    pub(crate) fn persist(&mut self, how: Durability) -> Result<()> {
        let journal = match &mut self.sink {
            // In a lane: hand the lane's changes to the scheduler, which records them as `how`
            // says, and wait until it has.
            Sink::Lane(link) => return link.save(&mut self.state, how),
            Sink::Own {
                journal, events, ..
            } => {
                // The history is never behind the state that follows it.
                events.flush()?;
                journal
            }
        };
        self.state.updated_at = crate::store::now_rfc3339();
        // What is on disk is redacted; the state in memory keeps the real text. Written
        // straight from the state, redacted on the way out: a run checkpoints a few dozen
        // times, and building each state as a `serde_json::Value` to walk its strings and
        // drop it was most of orx's own CPU in a short run.
        let line = self
            .redactor
            .json_line(&self.state)
            .map_err(|e| OrxError::internal(format!("cannot encode state: {e}")))?;
        journal.record(&line, how)?;
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

    /// Record a failed agent call as the run's failure; returns the stage end to hand back.
    pub fn fail_agent(
        &mut self,
        stage: Stage,
        item: Option<&str>,
        outcome: &AgentOutcome,
    ) -> StageEnd {
        let kind = outcome.failure.unwrap_or(FailureKind::AgentError);
        let message = outcome
            .message
            .clone()
            .unwrap_or_else(|| format!("agent failed ({kind})"));
        self.fail(stage, item, kind, message);
        StageEnd::Failed
    }

    /// The executor and model for a stage key, after `stages:` routing.
    pub fn route(&self, stage_key: &str) -> (String, Option<String>) {
        let ov = self.config.stages.routing(stage_key);
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
            self.warn(format!(
                "prompt `{template}` uses unknown placeholders: {}",
                unknown.join(", ")
            ))?;
        }
        Ok(text)
    }
}
