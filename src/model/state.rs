//! The run state that `state.json` persists: stages, backlog items, usage, sessions, the last
//! failure, and what shipping has done.
//!
//! These are pure data with pure queries; reading and writing the file (atomically, with its
//! version check) is `store::state`'s business.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::agent::{FailureKind, Usage};
use super::candidate::ChoiceHow;
use super::failure::FailureRecord;
use super::gate::GateResult;
use super::stage::Stage;
use super::status::{ItemPhase, ItemStatus, RunStatus, StageStatus};

pub const STATE_VERSION: u32 = 1;

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
    /// The stages after which the run stops for a person's approval (`run.approve` and
    /// `--approve`, resolved at start).
    #[serde(default)]
    pub approve: Vec<Stage>,
    /// The approval checkpoint the run stopped at (status `awaiting_approval`).
    #[serde(default)]
    pub checkpoint: Option<Checkpoint>,
    /// A person's feedback on a rejected stage, given to that stage's agent calls until the
    /// stage ends done.
    #[serde(default)]
    pub feedback: Option<StageFeedback>,
    /// `decompose_attempts` when the current decompose retry budget began (0, or the count
    /// when a person rejected the backlog, which grants the stage its tries again).
    #[serde(default)]
    pub decompose_budget_start: u32,
    /// Backlog items worked at once (`run.max_parallel` or `--parallel`); `None` before lanes
    /// existed, which is 1.
    #[serde(default)]
    pub max_parallel: Option<u32>,
    /// The parallel lanes open now, one per item being worked in a worktree of its own, in the
    /// order they started.
    #[serde(default)]
    pub lanes: Vec<LaneState>,
    /// Implement ran in lanes: its items' checkpoints are lane commits, so it goes on in lanes
    /// (one at a time if resumed with `--parallel 1`), never in the run's own worktree.
    #[serde(default)]
    pub lanes_used: bool,
    /// Candidates per item (`stages.implement.candidates` or `--candidates`); `None` or 1 is
    /// one attempt per item, as without candidates.
    #[serde(default)]
    pub max_candidates: Option<u32>,
    /// The executor of each candidate, by number (a list in `stages.implement.candidates`);
    /// empty when every candidate uses the implement stage's executor.
    #[serde(default)]
    pub candidate_executors: Vec<String>,
    /// Every candidate of every item that had candidates, in the order they were opened.
    #[serde(default)]
    pub candidates: Vec<CandidateState>,
    /// The candidate chosen for each item whose candidates have all finished.
    #[serde(default)]
    pub choices: Vec<CandidateChoice>,
}

/// Where a run waits for a person: the stage that finished and how it ended, which decides
/// where the run goes once approved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub stage: Stage,
    /// Review asked for changes (the run goes back to implement once approved).
    #[serde(default)]
    pub changes_requested: bool,
}

/// Feedback a person gave when rejecting a stage's output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageFeedback {
    pub stage: Stage,
    pub text: String,
}

/// One parallel lane: an item worked in its own worktree and branch, cut from the run branch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LaneState {
    pub item: String,
    /// The lane's worktree (`.worktrees/<run_id>.lanes/<item>`).
    pub path: PathBuf,
    /// The lane's branch (`orx/<run_id>.lanes/<item>`).
    pub branch: String,
    /// The item's attempt, as its phase last recorded it.
    pub attempt: u32,
    /// The item's phase (agent, verify, commit, integrate, merge).
    pub phase: String,
    /// The run branch head an integration of this lane started from; set while it runs, so a
    /// resume puts the run branch back there before integrating again.
    #[serde(default)]
    pub onto: Option<String>,
    /// `worktree.copy` and `worktree.setup` ran for the lane's worktree.
    #[serde(default)]
    pub setup_done: bool,
}

/// One candidate of an item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateState {
    pub item: String,
    /// 1-based.
    pub n: u32,
    /// The executor its implement and fix calls go to.
    pub executor: String,
    /// Its worktree (`.worktrees/<run_id>.lanes/<item>+c<n>`), removed once the choice is made.
    pub path: PathBuf,
    /// Its branch (`orx/<run_id>.lanes/<item>+c<n>`), deleted once the choice is made; the
    /// ref `refs/orx/<run_id>/candidates/<item>/<n>` keeps its work until `orx clean`.
    pub branch: String,
    /// Its attempt, as its phase last recorded it.
    pub attempt: u32,
    /// Its phase while it works (agent, verify, commit, integrate, merge), then `passed`,
    /// `failed` or `stopped` (a budget ran out before it finished).
    pub phase: String,
    /// Whether it passed every gate; `None` while it works.
    #[serde(default)]
    pub passed: Option<bool>,
    /// Lines its change adds and removes (for a candidate that passed).
    #[serde(default)]
    pub diff_lines: Option<u64>,
    /// `worktree.copy` and `worktree.setup` ran for its worktree.
    #[serde(default)]
    pub setup_done: bool,
    /// Its copy of the item, under its key: attempts, phase, snapshot, commit, gates.
    pub work: ItemState,
}

/// The candidate chosen for an item, how, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateChoice {
    pub item: String,
    pub n: u32,
    pub how: ChoiceHow,
    pub reason: String,
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
    pub failure: FailureKind,
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

impl ItemState {
    /// An item that has not started: pending, no attempt, no commit, no gate, nothing to say.
    pub fn new(id: impl Into<String>, title: impl Into<String>) -> ItemState {
        ItemState {
            id: id.into(),
            title: title.into(),
            objective: String::new(),
            acceptance: Vec::new(),
            files_hint: Vec::new(),
            depends_on: Vec::new(),
            status: ItemStatus::Pending,
            attempts: 0,
            phase: None,
            base_commit: None,
            snapshot: None,
            commit: None,
            signatures: Vec::new(),
            gates: Vec::new(),
            fix_budget_start: 0,
            review_round: 0,
            note: None,
        }
    }

    /// Each gate of the item's last attempt as its name, `sep`, and ✓ or ✗.
    pub fn gate_marks(&self, sep: &str) -> Vec<String> {
        self.gates
            .iter()
            .map(|g| format!("{}{sep}{}", g.name, if g.passed { "✓" } else { "✗" }))
            .collect()
    }
}

impl RunState {
    /// A running run with nothing in it yet: no id, stage, item, worktree or usage. `orx run`
    /// fills it in; a CLI is built against it before a run exists.
    pub fn blank() -> RunState {
        RunState {
            version: STATE_VERSION,
            run_id: String::new(),
            task: String::new(),
            status: RunStatus::Running,
            pipeline: String::new(),
            stages: Vec::new(),
            current_stage: None,
            current_item: None,
            items: Vec::new(),
            worktree: WorktreeInfo {
                path: PathBuf::new(),
                branch: String::new(),
                base_branch: String::new(),
                base_sha: String::new(),
            },
            engine: String::new(),
            model: None,
            config_path: None,
            scenario: None,
            sessions: BTreeMap::new(),
            usage: Usage::default(),
            decompose_attempts: 0,
            review_rounds: 0,
            review_summary: None,
            last_failure: None,
            created_at: String::new(),
            updated_at: String::new(),
            finished_at: None,
            resumes: 0,
            session_meta: BTreeMap::new(),
            fallbacks: Vec::new(),
            ship: ShipState::default(),
            worktree_setup_done: false,
            approve: Vec::new(),
            checkpoint: None,
            feedback: None,
            decompose_budget_start: 0,
            max_parallel: None,
            lanes: Vec::new(),
            lanes_used: false,
            max_candidates: None,
            candidate_executors: Vec::new(),
            candidates: Vec::new(),
            choices: Vec::new(),
        }
    }

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
    /// The items that ended without being done (failed, stuck, or blocked by one that did): what
    /// a `partial` run shipped without.
    pub fn left_out(&self) -> Vec<&ItemState> {
        self.items
            .iter()
            .filter(|i| i.status.is_unfinished_end())
            .collect()
    }
}
