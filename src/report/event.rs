//! `RunEvent`: the one stream every observer of a run subscribes to, so no two can disagree.
//!
//! The runner never prints. It emits these events; `events.jsonl` stores them as history, the
//! terminal reporter renders them, `--json` prints them, and later the dashboard's SSE feed and
//! the MCP server replay them by `seq`, which is strictly increasing across resumes and so
//! doubles as the cursor for "events since".

use serde::{Deserialize, Serialize};

use crate::agents::{AgentEvent, Usage};
use crate::gates::GateResult;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunEvent {
    pub seq: u64,
    pub ts: String,
    pub run_id: String,
    #[serde(flatten)]
    pub kind: EventKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    RunStarted {
        task: String,
        engine: String,
        pipeline: String,
        branch: String,
        worktree: String,
        base_branch: String,
        config: String,
    },
    RunResumed {
        stage: Option<String>,
        item: Option<String>,
        resumes: u32,
    },
    StageStarted {
        stage: String,
    },
    StageFinished {
        stage: String,
        status: String,
        duration_ms: u64,
    },
    ItemStarted {
        item: String,
        title: String,
    },
    AttemptStarted {
        item: String,
        attempt: u32,
        kind: String,
    },
    Agent {
        stage: String,
        #[serde(default)]
        item: Option<String>,
        agent: AgentEvent,
    },
    AgentFinished {
        stage: String,
        #[serde(default)]
        item: Option<String>,
        ok: bool,
        #[serde(default)]
        failure: Option<String>,
        #[serde(default)]
        message: Option<String>,
        duration_ms: u64,
        usage: Usage,
    },
    GateStarted {
        gate: String,
        item: String,
        attempt: u32,
    },
    GateFinished {
        item: String,
        attempt: u32,
        result: GateResult,
    },
    AttemptFinished {
        item: String,
        attempt: u32,
        outcome: String,
        #[serde(default)]
        signature: Option<String>,
    },
    ItemFinished {
        item: String,
        status: String,
        #[serde(default)]
        commit: Option<String>,
    },
    BacklogReady {
        items: Vec<String>,
    },
    ReviewVerdict {
        verdict: String,
        summary: String,
        changes: usize,
        round: u32,
    },
    Shipped {
        branch: String,
        patch: String,
        files: u32,
        insertions: u32,
        deletions: u32,
    },
    /// The run branch is on the remote at `sha` (`already`: it was there, nothing was sent).
    Pushed {
        remote: String,
        branch: String,
        sha: String,
        #[serde(default)]
        already: bool,
    },
    /// The run's pull request (`created`: opened now, else an open one was found and reused).
    PullRequest {
        url: String,
        created: bool,
    },
    Warning {
        message: String,
    },
    /// A `fallback:` rule switched executor or model after a failed call.
    Fallback {
        stage: String,
        #[serde(default)]
        item: Option<String>,
        failure: String,
        from_executor: String,
        #[serde(default)]
        from_model: Option<String>,
        to_executor: String,
        #[serde(default)]
        to_model: Option<String>,
    },
    /// The run waits for a rate limit to reset (emitted at the start and every ~10 s).
    Waiting {
        stage: String,
        #[serde(default)]
        item: Option<String>,
        #[serde(default)]
        reset_at: Option<String>,
        wait_secs: u64,
        remaining_secs: u64,
        message: String,
    },
    /// A lifecycle hook ran (`hook` is the lifecycle event: run_start, stage_start, …).
    Hook {
        hook: String,
        index: usize,
        command: String,
        #[serde(default)]
        stage: Option<String>,
        ok: bool,
        blocking: bool,
        #[serde(default)]
        exit_code: Option<i32>,
        #[serde(default)]
        error: Option<String>,
        duration_ms: u64,
        log: String,
    },
    /// `worktree.copy` put these ignored files into the new worktree.
    FilesCopied {
        files: Vec<String>,
    },
    /// One `worktree.setup` command ran.
    SetupCommand {
        index: usize,
        command: String,
        ok: bool,
        #[serde(default)]
        exit_code: Option<i32>,
        #[serde(default)]
        error: Option<String>,
        duration_ms: u64,
        log: String,
    },
    /// The knowledge stage wrote these files' orx blocks (lines added/deleted in total).
    KnowledgeUpdated {
        files: Vec<String>,
        added: u32,
        deleted: u32,
    },
    /// A stage did not run because the configuration turned it off.
    StageSkipped {
        stage: String,
        reason: String,
    },
    /// `retention` removed these old runs when this run started.
    RetentionApplied {
        removed: Vec<String>,
        freed_bytes: u64,
    },
    RunFinished {
        status: String,
        duration_ms: u64,
        #[serde(default)]
        reason: Option<String>,
        #[serde(default)]
        message: Option<String>,
    },
}
