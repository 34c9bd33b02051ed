//! `RunEvent`: the one stream every observer of a run subscribes to, so no two can disagree.
//!
//! The runner never prints. It emits these events; `events.jsonl` stores them as history, the
//! terminal reporter renders them, `--json` prints them, and later the dashboard's SSE feed and
//! the MCP server replay them by `seq`, which is strictly increasing across resumes and so
//! doubles as the cursor for "events since".

use serde::{Deserialize, Serialize};

use super::agent::{AgentEvent, FailureKind, Usage};
use super::candidate::ChoiceHow;
use super::failure::FailureReason;
use super::gate::GateResult;
use super::stage::Stage;
use super::status::{AttemptKind, AttemptOutcome, ItemStatus, RunStatus, StageStatus, VerdictKind};

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
        /// How orx picked the engine when neither `--engine` nor `engine.type` named one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        engine_choice: Option<String>,
    },
    RunResumed {
        stage: Option<Stage>,
        item: Option<String>,
        resumes: u32,
    },
    StageStarted {
        stage: Stage,
    },
    StageFinished {
        stage: Stage,
        status: StageStatus,
        duration_ms: u64,
    },
    ItemStarted {
        item: String,
        title: String,
    },
    AttemptStarted {
        item: String,
        attempt: u32,
        kind: AttemptKind,
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
        failure: Option<FailureKind>,
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
        outcome: AttemptOutcome,
        #[serde(default)]
        signature: Option<String>,
    },
    ItemFinished {
        item: String,
        status: ItemStatus,
        #[serde(default)]
        commit: Option<String>,
    },
    BacklogReady {
        items: Vec<String>,
    },
    ReviewVerdict {
        verdict: VerdictKind,
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
        failure: FailureKind,
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
        stage: Stage,
        reason: String,
    },
    /// `retention` removed these old runs when this run started.
    RetentionApplied {
        removed: Vec<String>,
        freed_bytes: u64,
    },
    RunFinished {
        status: RunStatus,
        duration_ms: u64,
        #[serde(default)]
        reason: Option<FailureReason>,
        #[serde(default)]
        message: Option<String>,
    },
    /// A person worked on `item` by hand (`orx takeover`): `by` is who, `executor` the CLI
    /// opened for them (resuming `session` when one was recorded), `exit_code` how it ended;
    /// `changed` says whether the worktree differs from the item's last snapshot (or its base).
    TakenOver {
        item: String,
        attempt: u32,
        by: String,
        executor: String,
        #[serde(default)]
        session: Option<String>,
        #[serde(default)]
        exit_code: Option<i32>,
        changed: bool,
    },
    /// The run stopped after `stage` for a person's approval; `output` is what to read,
    /// relative to the run folder.
    AwaitingApproval {
        stage: Stage,
        output: String,
    },
    /// A person approved `stage`'s output (as it was, or as they edited it).
    Approved {
        stage: Stage,
    },
    /// A person rejected `stage`'s output; the stage runs again with `feedback`.
    Rejected {
        stage: Stage,
        feedback: String,
    },
    /// Parallel lanes: `item` is being worked in a lane of its own, on `branch`, in `worktree`.
    LaneStarted {
        item: String,
        branch: String,
        worktree: String,
    },
    /// Parallel lanes: the lane's commit for `item` is being integrated into the run branch,
    /// whose head is `onto`.
    LaneIntegrating {
        item: String,
        attempt: u32,
        onto: String,
    },
    /// Best-of-N: candidate `n` of `item` started (or resumed) in a lane of its own.
    CandidateStarted {
        item: String,
        n: u32,
        executor: String,
        branch: String,
    },
    /// Best-of-N: candidate `n` of `item` finished: passed every gate, failed, or stopped by a
    /// budget that ran out.
    CandidateFinished {
        item: String,
        n: u32,
        passed: bool,
        phase: String,
    },
    /// Best-of-N: candidate `n` was chosen for `item` (`how`: judge, smallest_diff, only_one).
    CandidateChosen {
        item: String,
        n: u32,
        how: ChoiceHow,
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::failure::OrxFailure;

    fn line(kind: EventKind) -> String {
        serde_json::to_string(&RunEvent {
            seq: 7,
            ts: "t".into(),
            run_id: "r".into(),
            kind,
        })
        .unwrap()
    }

    /// Typed fields are written as the words `events.jsonl` has always held, and read back.
    #[test]
    fn typed_fields_keep_the_json_of_the_event_history() {
        let cases = [
            (
                EventKind::StageFinished {
                    stage: Stage::Verify,
                    status: StageStatus::Done,
                    duration_ms: 5,
                },
                r#"{"seq":7,"ts":"t","run_id":"r","event":"stage_finished","stage":"verify","status":"done","duration_ms":5}"#,
            ),
            (
                EventKind::AttemptStarted {
                    item: "W001".into(),
                    attempt: 2,
                    kind: AttemptKind::Fix,
                },
                r#"{"seq":7,"ts":"t","run_id":"r","event":"attempt_started","item":"W001","attempt":2,"kind":"fix"}"#,
            ),
            (
                EventKind::AttemptFinished {
                    item: "W001".into(),
                    attempt: 2,
                    outcome: AttemptOutcome::GatesFailed,
                    signature: Some("g:1".into()),
                },
                r#"{"seq":7,"ts":"t","run_id":"r","event":"attempt_finished","item":"W001","attempt":2,"outcome":"gates_failed","signature":"g:1"}"#,
            ),
            (
                EventKind::ItemFinished {
                    item: "W001".into(),
                    status: ItemStatus::Stuck,
                    commit: None,
                },
                r#"{"seq":7,"ts":"t","run_id":"r","event":"item_finished","item":"W001","status":"stuck","commit":null}"#,
            ),
            (
                EventKind::ReviewVerdict {
                    verdict: VerdictKind::ChangesRequested,
                    summary: "s".into(),
                    changes: 1,
                    round: 1,
                },
                r#"{"seq":7,"ts":"t","run_id":"r","event":"review_verdict","verdict":"changes_requested","summary":"s","changes":1,"round":1}"#,
            ),
            (
                EventKind::RunFinished {
                    status: RunStatus::BudgetExceeded,
                    duration_ms: 9,
                    reason: Some(FailureKind::BudgetExceeded.into()),
                    message: None,
                },
                r#"{"seq":7,"ts":"t","run_id":"r","event":"run_finished","status":"budget_exceeded","duration_ms":9,"reason":"budget_exceeded","message":null}"#,
            ),
            (
                EventKind::RunFinished {
                    status: RunStatus::Failed,
                    duration_ms: 9,
                    reason: Some(OrxFailure::HookVeto.into()),
                    message: Some("m".into()),
                },
                r#"{"seq":7,"ts":"t","run_id":"r","event":"run_finished","status":"failed","duration_ms":9,"reason":"hook_veto","message":"m"}"#,
            ),
            (
                EventKind::TakenOver {
                    item: "W001".into(),
                    attempt: 2,
                    by: "ada".into(),
                    executor: "claude".into(),
                    session: Some("s1".into()),
                    exit_code: Some(0),
                    changed: true,
                },
                r#"{"seq":7,"ts":"t","run_id":"r","event":"taken_over","item":"W001","attempt":2,"by":"ada","executor":"claude","session":"s1","exit_code":0,"changed":true}"#,
            ),
        ];
        for (kind, json) in cases {
            assert_eq!(line(kind.clone()), json);
            let back: RunEvent = serde_json::from_str(json).unwrap();
            assert_eq!(back.kind, kind);
        }
    }

    #[test]
    fn an_event_with_a_status_orx_never_writes_does_not_decode() {
        let bad = r#"{"seq":1,"ts":"t","run_id":"r","event":"stage_finished","stage":"verify","status":"Done","duration_ms":5}"#;
        assert!(serde_json::from_str::<RunEvent>(bad).is_err());
    }
}
