//! `state.json`: the versioned projection of a run that `orx resume` reads.
//!
//! `events.jsonl` is the history; this file is what a resumed process needs to continue
//! *exactly*: the stage, each backlog item with its phase inside the implement → verify → fix
//! loop, its completed attempts, the worktree snapshot taken after its last agent attempt and
//! the commit after it finished, plus usage totals and the last failure. Every write is atomic
//! (see `atomic`), so a `kill -9` at any instant leaves either the previous or the next state.
//! Loading rejects an unknown `version` and a file that does not parse, with one clear sentence.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::atomic::write_json_atomic;
use crate::agents::Usage;
use crate::error::{OrxError, Result};
use crate::gates::GateResult;
use crate::runner::fsm::Stage;

pub const STATE_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Succeeded,
    Failed,
    Interrupted,
    /// Stopped because `run.max_budget_usd`, `run.max_tokens` or a stage's `max_turns` was
    /// crossed; resumable after raising the limit.
    BudgetExceeded,
    /// Sleeping until a rate limit resets (only while the process lives; a crash leaves it for
    /// `resume`).
    Waiting,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "interrupted",
            RunStatus::BudgetExceeded => "budget_exceeded",
            RunStatus::Waiting => "waiting",
        }
    }
    pub fn is_finished(self) -> bool {
        matches!(self, RunStatus::Succeeded)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageStatus {
    Pending,
    Running,
    Done,
    Failed,
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageRecord {
    pub stage: Stage,
    pub status: StageStatus,
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub finished_at: Option<String>,
    /// Agent calls (or gate runs, for verify) made in this stage.
    #[serde(default)]
    pub attempts: u32,
    #[serde(default)]
    pub duration_ms: u64,
    #[serde(default)]
    pub usage: Usage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    Pending,
    InProgress,
    Done,
    /// Attempts ran out.
    Failed,
    /// The same failure signature repeated: fixing was not making progress.
    Stuck,
    /// A dependency did not finish.
    Blocked,
}

/// Where an in-progress item is inside its loop. Resume re-enters exactly here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum ItemPhase {
    /// The agent call for `attempt` is about to run or was running.
    Agent { attempt: u32 },
    /// The agent call for `attempt` finished and was snapshotted; gates are next.
    Verify { attempt: u32 },
    /// Gates passed; the snapshot is being committed.
    Commit { attempt: u32 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemState {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub objective: String,
    #[serde(default)]
    pub acceptance: Vec<String>,
    #[serde(default)]
    pub files_hint: Vec<String>,
    #[serde(default)]
    pub depends_on: Vec<String>,
    pub status: ItemStatus,
    /// Attempts that completed (agent ran and was judged). Survives resume.
    #[serde(default)]
    pub attempts: u32,
    #[serde(default)]
    pub phase: Option<ItemPhase>,
    /// HEAD when the item started.
    #[serde(default)]
    pub base_commit: Option<String>,
    /// Snapshot of the worktree after the last agent attempt.
    #[serde(default)]
    pub snapshot: Option<String>,
    /// The checkpoint commit once done.
    #[serde(default)]
    pub commit: Option<String>,
    /// Failure signatures of the completed attempts, in order.
    #[serde(default)]
    pub signatures: Vec<String>,
    /// Gate results of the last verified attempt.
    #[serde(default)]
    pub gates: Vec<GateResult>,
    /// Completed attempts when the current fix budget began (0, or the count at a resume of a
    /// failed item, which gets `max_fix_attempts` more).
    #[serde(default)]
    pub fix_budget_start: u32,
    /// Review round that added this item (0 = decompose).
    #[serde(default)]
    pub review_round: u32,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorktreeInfo {
    pub path: PathBuf,
    pub branch: String,
    pub base_branch: String,
    pub base_sha: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailureRecord {
    pub stage: Stage,
    #[serde(default)]
    pub item: Option<String>,
    /// A stable machine-readable reason: gate_failed, stuck, agent_error, invalid_backlog, …
    pub reason: String,
    pub message: String,
    #[serde(default)]
    pub evidence_path: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    pub version: u32,
    pub run_id: String,
    pub task: String,
    pub status: RunStatus,
    pub pipeline: String,
    pub stages: Vec<StageRecord>,
    #[serde(default)]
    pub current_stage: Option<Stage>,
    #[serde(default)]
    pub current_item: Option<String>,
    #[serde(default)]
    pub items: Vec<ItemState>,
    pub worktree: WorktreeInfo,
    pub engine: String,
    #[serde(default)]
    pub model: Option<String>,
    /// The config file the run started with (None: built-in defaults).
    #[serde(default)]
    pub config_path: Option<PathBuf>,
    /// The fake engine's scenario, resolved to an absolute path at start.
    #[serde(default)]
    pub scenario: Option<PathBuf>,
    /// Agent session ids by key (`<stage>` or `<stage>:<item>`).
    #[serde(default)]
    pub sessions: BTreeMap<String, String>,
    #[serde(default)]
    pub usage: Usage,
    #[serde(default)]
    pub decompose_attempts: u32,
    #[serde(default)]
    pub review_rounds: u32,
    #[serde(default)]
    pub review_summary: Option<String>,
    #[serde(default)]
    pub last_failure: Option<FailureRecord>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default)]
    pub finished_at: Option<String>,
    /// How many times the run was resumed.
    #[serde(default)]
    pub resumes: u32,
    /// What orx knows about each agent session, by session id: the executor it belongs to
    /// (a session is only resumed by the same executor) and the CLI's cumulative usage (codex).
    #[serde(default)]
    pub session_meta: BTreeMap<String, SessionMeta>,
    /// Every executor or model switch made by a `fallback:` rule.
    #[serde(default)]
    pub fallbacks: Vec<FallbackRecord>,
    /// What the ship stage has done beyond the local branch (push, pull request).
    #[serde(default)]
    pub ship: ShipState,
    /// `worktree.copy` and `worktree.setup` ran for the current worktree. A state written
    /// before this field existed belongs to a worktree that needed no set-up, hence true.
    #[serde(default = "default_true")]
    pub worktree_setup_done: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionMeta {
    pub executor: String,
    #[serde(default)]
    pub cumulative_usage: Option<Usage>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FallbackRecord {
    pub at: String,
    pub stage: String,
    #[serde(default)]
    pub item: Option<String>,
    /// The failure that triggered it (rate_limited, model_not_found, …).
    pub failure: String,
    pub from_executor: String,
    #[serde(default)]
    pub from_model: Option<String>,
    pub to_executor: String,
    #[serde(default)]
    pub to_model: Option<String>,
}

/// The ship steps already done, so a resumed ship stage skips them instead of repeating them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ShipState {
    /// The remote the branch was pushed to.
    #[serde(default)]
    pub remote: Option<String>,
    /// The commit last pushed to `remote` (the lease for the next push).
    #[serde(default)]
    pub pushed_sha: Option<String>,
    /// The pull request opened (or found) for the run branch.
    #[serde(default)]
    pub pr_url: Option<String>,
}

fn default_true() -> bool {
    true
}

impl RunState {
    pub fn stage_mut(&mut self, stage: Stage) -> Option<&mut StageRecord> {
        self.stages.iter_mut().find(|r| r.stage == stage)
    }
    pub fn stage(&self, stage: Stage) -> Option<&StageRecord> {
        self.stages.iter().find(|r| r.stage == stage)
    }
    pub fn item_mut(&mut self, id: &str) -> Option<&mut ItemState> {
        self.items.iter_mut().find(|i| i.id == id)
    }
    pub fn item(&self, id: &str) -> Option<&ItemState> {
        self.items.iter().find(|i| i.id == id)
    }
    pub fn stage_names(&self) -> Vec<Stage> {
        self.stages.iter().map(|r| r.stage).collect()
    }

    pub fn save(&mut self, path: &Path) -> Result<()> {
        self.updated_at = now_rfc3339();
        write_json_atomic(path, self)
    }

    pub fn load(path: &Path) -> Result<RunState> {
        let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData => OrxError::state(format!(
                "{}: state file is corrupt: it is not UTF-8 text",
                path.display()
            ))
            .with_hint(
                "the run cannot be resumed; inspect it or remove it with `orx clean <run_id>`",
            ),
            _ => OrxError::io("read", path, e),
        })?;
        let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            OrxError::state(format!(
                "{}:{}:{}: state file is corrupt: {e}",
                path.display(),
                e.line(),
                e.column()
            ))
            .with_hint(
                "the run cannot be resumed; inspect it or remove it with `orx clean <run_id>`",
            )
        })?;
        let version = value.get("version").and_then(|v| v.as_u64()).unwrap_or(0);
        if version != u64::from(STATE_VERSION) {
            return Err(OrxError::state(format!(
                "{}: state version {version} is not supported by this orx (expects {STATE_VERSION})",
                path.display()
            ))
            .with_hint("resume it with the orx version that started it"));
        }
        serde_json::from_value(value).map_err(|e| {
            OrxError::state(format!("{}: state file is corrupt: {e}", path.display()))
                .with_hint("the run cannot be resumed; remove it with `orx clean <run_id>`")
        })
    }
}

/// Now as RFC 3339 UTC with milliseconds.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> RunState {
        RunState {
            version: STATE_VERSION,
            run_id: "r1".into(),
            task: "t".into(),
            status: RunStatus::Running,
            pipeline: "full".into(),
            stages: vec![StageRecord {
                stage: Stage::Plan,
                status: StageStatus::Pending,
                started_at: None,
                finished_at: None,
                attempts: 0,
                duration_ms: 0,
                usage: Usage::default(),
            }],
            current_stage: Some(Stage::Plan),
            current_item: None,
            items: vec![ItemState {
                id: "W001".into(),
                title: "x".into(),
                objective: String::new(),
                acceptance: vec![],
                files_hint: vec![],
                depends_on: vec![],
                status: ItemStatus::InProgress,
                attempts: 1,
                phase: Some(ItemPhase::Verify { attempt: 2 }),
                base_commit: None,
                snapshot: None,
                commit: None,
                signatures: vec![],
                gates: vec![],
                fix_budget_start: 0,
                review_round: 0,
                note: None,
            }],
            worktree: WorktreeInfo {
                path: "/w".into(),
                branch: "orx/r1".into(),
                base_branch: "main".into(),
                base_sha: "abc".into(),
            },
            engine: "fake".into(),
            model: None,
            config_path: None,
            scenario: None,
            sessions: BTreeMap::new(),
            usage: Usage::default(),
            decompose_attempts: 0,
            review_rounds: 0,
            review_summary: None,
            last_failure: None,
            created_at: now_rfc3339(),
            updated_at: now_rfc3339(),
            finished_at: None,
            resumes: 0,
            session_meta: BTreeMap::new(),
            fallbacks: Vec::new(),
            ship: ShipState::default(),
            worktree_setup_done: true,
        }
    }

    #[test]
    fn state_round_trips_through_disk() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state.json");
        let mut s = sample();
        s.save(&p).unwrap();
        let back = RunState::load(&p).unwrap();
        assert_eq!(back.items[0].phase, Some(ItemPhase::Verify { attempt: 2 }));
        assert_eq!(back.run_id, "r1");
    }

    #[test]
    fn corrupt_and_future_states_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state.json");
        std::fs::write(&p, "{\"version\": 1, \"run_id\": ").unwrap();
        let e = RunState::load(&p).unwrap_err();
        assert!(e.message.contains("corrupt"), "{}", e.message);
        assert!(e.message.contains("state.json:1:"), "{}", e.message);
        std::fs::write(&p, "{\"version\": 99}").unwrap();
        let e = RunState::load(&p).unwrap_err();
        assert!(e.message.contains("version 99"), "{}", e.message);
    }
}
