//! One run in detail: its state with the live status, a stage timeline, backlog items, gate
//! results with their log paths, usage and cost, the per-attempt metrics, the open parallel
//! lanes, its events after a cursor, and its diff.
//!
//! Everything is read from the run folder as the runner wrote it: `state.json` (the projection
//! `resume` uses), `metrics/stages.jsonl`, `events.jsonl` through `store::events::read_since`
//! (whose `seq` is the cursor), and for the diff `artifacts/patch.diff` once ship wrote it,
//! else a live `git diff` of the worktree against the run's base commit through `crate::git`.

use serde::Serialize;

use super::runs::live_status;
use super::Control;
use crate::agents::Usage;
use crate::error::Result;
use crate::model::event::RunEvent;
use crate::model::state::CandidateChoice;
use crate::model::RunState;
use crate::store::lock::holder_alive;
use crate::store::metrics::{read_stage_metrics, StageMetric};

/// One stage on the timeline.
#[derive(Debug, Clone, Serialize)]
pub struct StageView {
    pub stage: String,
    pub status: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub attempts: u32,
    pub duration_ms: u64,
    pub tokens: u64,
    pub cost_usd: f64,
    /// This is the stage the run is in (or stopped in).
    pub current: bool,
}

/// One gate result of one backlog item, with its log relative to the run folder (readable
/// through the artifact endpoints).
#[derive(Debug, Clone, Serialize)]
pub struct GateView {
    pub item: String,
    pub name: String,
    pub required: bool,
    pub passed: bool,
    pub exit_code: Option<i32>,
    pub duration_ms: u64,
    pub log: String,
    pub tail: String,
    pub error: Option<String>,
}

/// One open parallel lane: the item worked in it, the item's attempt and phase as it last
/// recorded them, and the lane's worktree.
#[derive(Debug, Clone, Serialize)]
pub struct LaneView {
    pub item: String,
    pub attempt: u32,
    /// agent, verify, commit, integrate or merge.
    pub phase: String,
    pub worktree: String,
}

/// One best-of-N candidate: its item and number, executor, attempt and phase as it last
/// recorded them, whether it passed every gate, and whether it was chosen.
#[derive(Debug, Clone, Serialize)]
pub struct CandidateView {
    pub item: String,
    pub n: u32,
    pub executor: String,
    pub attempt: u32,
    /// agent, verify, commit, integrate or merge while it works; then passed, failed or stopped.
    pub phase: String,
    /// `None` while it works.
    pub passed: Option<bool>,
    pub chosen: bool,
}

/// A run as the dashboard and the API show it.
#[derive(Debug, Clone, Serialize)]
pub struct RunDetail {
    pub repo: String,
    pub run_id: String,
    /// The status corrected through the lock (`running` with a dead holder → `interrupted`).
    pub status: String,
    /// The pid driving the run, when one is alive.
    pub pid: Option<u32>,
    /// True while a process drives the run.
    pub live: bool,
    pub task: String,
    pub engine: String,
    pub model: Option<String>,
    pub pipeline: String,
    pub branch: String,
    pub base_branch: String,
    pub base_sha: String,
    pub worktree: String,
    pub current_stage: Option<String>,
    pub current_item: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub finished_at: Option<String>,
    pub resumes: u32,
    pub stages: Vec<StageView>,
    pub items: Vec<serde_json::Value>,
    pub gates: Vec<GateView>,
    pub usage: Usage,
    pub tokens: u64,
    pub cost_usd: f64,
    pub last_failure: Option<serde_json::Value>,
    pub pr_url: Option<String>,
    /// One line per agent call or gate pass (`metrics/stages.jsonl`).
    pub metrics: Vec<StageMetric>,
    /// The highest event `seq` so far (a cursor for the events endpoints).
    pub last_seq: u64,
    /// The parallel lanes open now, in the order they started (empty outside implement).
    pub lanes: Vec<LaneView>,
    /// Backlog items worked at once (1 for a run from before lanes existed).
    pub max_parallel: u32,
    /// Best-of-N: every candidate of every item that had candidates.
    pub candidates: Vec<CandidateView>,
    /// The candidate chosen for each item, how (judge, smallest_diff, only_one) and why.
    pub choices: Vec<CandidateChoice>,
}

/// Events after a cursor; `next` is the cursor for the following call.
#[derive(Debug, Clone, Serialize)]
pub struct EventPage {
    pub events: Vec<RunEvent>,
    pub next: u64,
    /// True when the run is not driven by any process (no more events will come until a
    /// resume).
    pub finished: bool,
}

/// A run's diff and where it came from.
#[derive(Debug, Clone, Serialize)]
pub struct DiffView {
    pub run_id: String,
    /// `patch` (artifacts/patch.diff, written by ship), `worktree` (live git diff) or `none`
    /// (the worktree is gone and nothing was shipped).
    pub source: String,
    pub base_sha: String,
    pub diff: String,
}

impl Control {
    /// Load `state.json` of run `id`.
    pub fn state(&self, id: &str) -> Result<RunState> {
        let (_, paths) = self.find_run(id)?;
        Ok(RunState::load(&paths.state())?)
    }

    /// Run `id` in detail.
    pub fn detail(&self, id: &str) -> Result<RunDetail> {
        let (w, paths) = self.find_run(id)?;
        let state = RunState::load(&paths.state())?;
        let status = live_status(state.status.as_str(), &paths);
        let pid = holder_alive(&paths.lock());
        let stages = state
            .stages
            .iter()
            .map(|r| StageView {
                stage: r.stage.as_str().to_string(),
                status: r.status.to_string(),
                started_at: r.started_at.clone(),
                finished_at: r.finished_at.clone(),
                attempts: r.attempts,
                duration_ms: r.duration_ms,
                tokens: r.usage.total_tokens(),
                cost_usd: r.usage.cost_usd,
                current: state.current_stage == Some(r.stage) && status != "succeeded",
            })
            .collect();
        let gates = state
            .items
            .iter()
            .flat_map(|i| {
                i.gates.iter().map(|g| GateView {
                    item: i.id.clone(),
                    name: g.name.clone(),
                    required: g.required,
                    passed: g.passed,
                    exit_code: g.exit_code,
                    duration_ms: g.duration_ms,
                    log: g.log.clone(),
                    tail: g.tail.clone(),
                    error: g.error.clone(),
                })
            })
            .collect();
        let items = state
            .items
            .iter()
            .filter_map(|i| serde_json::to_value(i).ok())
            .collect();
        Ok(RunDetail {
            repo: w.name.clone(),
            run_id: state.run_id.clone(),
            live: pid.is_some(),
            pid,
            status,
            task: state.task.clone(),
            engine: state.engine.clone(),
            model: state.model.clone(),
            pipeline: state.pipeline.clone(),
            branch: state.worktree.branch.clone(),
            base_branch: state.worktree.base_branch.clone(),
            base_sha: state.worktree.base_sha.clone(),
            worktree: state.worktree.path.display().to_string(),
            current_stage: state.current_stage.map(|s| s.as_str().to_string()),
            current_item: state.current_item.clone(),
            created_at: state.created_at.clone(),
            updated_at: state.updated_at.clone(),
            finished_at: state.finished_at.clone(),
            resumes: state.resumes,
            stages,
            items,
            gates,
            tokens: state.usage.total_tokens(),
            cost_usd: state.usage.cost_usd,
            usage: state.usage.clone(),
            last_failure: state
                .last_failure
                .as_ref()
                .and_then(|f| serde_json::to_value(f).ok()),
            pr_url: state.ship.pr_url.clone(),
            metrics: read_stage_metrics(&paths.stage_metrics()),
            last_seq: crate::store::events::last_seq(&paths.events()).unwrap_or(0),
            lanes: state
                .lanes
                .iter()
                .map(|l| LaneView {
                    item: l.item.clone(),
                    attempt: l.attempt,
                    phase: l.phase.clone(),
                    worktree: l.path.display().to_string(),
                })
                .collect(),
            max_parallel: state.max_parallel.unwrap_or(1),
            candidates: state
                .candidates
                .iter()
                .map(|c| CandidateView {
                    item: c.item.clone(),
                    n: c.n,
                    executor: c.executor.clone(),
                    attempt: c.attempt,
                    phase: c.phase.clone(),
                    passed: c.passed,
                    chosen: state
                        .choices
                        .iter()
                        .any(|ch| ch.item == c.item && ch.n == c.n),
                })
                .collect(),
            choices: state.choices.clone(),
        })
    }

    /// Events of run `id` with `seq > since`, at most `limit` (1..=1000).
    pub fn events(&self, id: &str, since: u64, limit: usize) -> Result<EventPage> {
        let (_, paths) = self.find_run(id)?;
        let events = crate::store::events::read_since(&paths.events(), since, limit.clamp(1, 1000));
        let next = events.last().map(|e| e.seq).unwrap_or(since);
        Ok(EventPage {
            events,
            next,
            finished: holder_alive(&paths.lock()).is_none(),
        })
    }

    /// Whether a process drives run `id` now.
    pub fn is_live(&self, id: &str) -> Result<bool> {
        let (_, paths) = self.find_run(id)?;
        Ok(holder_alive(&paths.lock()).is_some())
    }

    /// The run's diff: the shipped patch, else the worktree against the base commit.
    pub fn diff(&self, id: &str) -> Result<DiffView> {
        let (w, paths) = self.find_run(id)?;
        let state = RunState::load(&paths.state())?;
        let base = state.worktree.base_sha.clone();
        let patch = paths.artifact("patch.diff");
        // Read, then interpret: a patch that is missing (or removed by a clean meanwhile) means
        // the run has not shipped.
        let shipped = match std::fs::read(&patch) {
            Ok(bytes) => Some(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(crate::error::OrxError::io("read", &patch, e)),
        };
        let (source, diff) = if let Some(bytes) = shipped {
            ("patch", String::from_utf8_lossy(&bytes).into_owned())
        } else if state.worktree.path.is_dir() && !base.is_empty() {
            let repo = w.repo()?;
            let wt = repo.worktree(&state.worktree.path);
            ("worktree", wt.diff_worktree(&base)?)
        } else {
            ("none", String::new())
        };
        Ok(DiffView {
            run_id: state.run_id,
            source: source.to_string(),
            base_sha: base,
            diff,
        })
    }
}
