//! Where a run, a stage and a backlog item stand, and the verdicts that move them.
//!
//! Every status is written by its one name (see `string_enum!`): the same word appears in
//! `state.json`, in events, in `--json` output and in `ORX_STATUS` for hooks.

use serde::{Deserialize, Serialize};

string_enum! {
    pub enum RunStatus {
        Running = "running",
        Succeeded = "succeeded",
        Failed = "failed",
        Interrupted = "interrupted",
        /// Stopped because `run.max_budget_usd`, `run.max_tokens` or a stage's `max_turns` was
        /// crossed; resumable after raising the limit.
        BudgetExceeded = "budget_exceeded",
        /// Sleeping until a rate limit resets (only while the process lives; a crash leaves it
        /// for `resume`).
        Waiting = "waiting",
        /// Stopped after a stage named in `run.approve` / `--approve`: nothing runs until a
        /// person approves (`orx approve`) or rejects (`orx reject`) the stage's output.
        AwaitingApproval = "awaiting_approval",
        /// Parallel lanes: some items failed (or were blocked by one that did) and the run
        /// shipped the items that passed; finished, not resumable.
        Partial = "partial",
    }
}

impl RunStatus {
    /// The run ended for good: nothing is left to resume.
    pub fn is_finished(self) -> bool {
        matches!(self, RunStatus::Succeeded | RunStatus::Partial)
    }
}

string_enum! {
    pub enum StageStatus {
        Pending = "pending",
        Running = "running",
        Done = "done",
        Failed = "failed",
        Skipped = "skipped",
    }
}

string_enum! {
    pub enum ItemStatus {
        Pending = "pending",
        InProgress = "in_progress",
        Done = "done",
        /// Attempts ran out.
        Failed = "failed",
        /// The same failure signature repeated: fixing was not making progress.
        Stuck = "stuck",
        /// A dependency did not finish.
        Blocked = "blocked",
    }
}

impl ItemStatus {
    /// The item ended without being done (it can no longer satisfy a dependency).
    pub fn is_unfinished_end(self) -> bool {
        matches!(
            self,
            ItemStatus::Failed | ItemStatus::Stuck | ItemStatus::Blocked
        )
    }
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
    /// Parallel lanes: the item passed its gates in its lane and its commit waits to be (or is
    /// being) integrated into the run branch.
    Integrate { attempt: u32 },
    /// Parallel lanes: integrating the item's commit conflicted with the run branch; attempt
    /// `attempt` asks the agent to resolve the conflict in the item's lane.
    Merge { attempt: u32 },
}

impl ItemPhase {
    /// The attempt the phase belongs to.
    pub fn attempt(&self) -> u32 {
        match self {
            ItemPhase::Agent { attempt }
            | ItemPhase::Verify { attempt }
            | ItemPhase::Commit { attempt }
            | ItemPhase::Integrate { attempt }
            | ItemPhase::Merge { attempt } => *attempt,
        }
    }

    /// The phase's name as `state.json` writes it.
    pub fn name(&self) -> &'static str {
        match self {
            ItemPhase::Agent { .. } => "agent",
            ItemPhase::Verify { .. } => "verify",
            ItemPhase::Commit { .. } => "commit",
            ItemPhase::Integrate { .. } => "integrate",
            ItemPhase::Merge { .. } => "merge",
        }
    }
}

string_enum! {
    /// What an agent attempt on an item is: the first try, or a fix after a failed one.
    pub enum AttemptKind {
        Implement = "implement",
        Fix = "fix",
        /// A person's work in the item's worktree (`orx takeover`), verified like an agent's.
        Takeover = "takeover",
        Merge = "merge",
    }
}

impl AttemptKind {
    /// Attempt 1 implements; every later attempt fixes.
    pub fn of(attempt: u32) -> AttemptKind {
        if attempt <= 1 {
            AttemptKind::Implement
        } else {
            AttemptKind::Fix
        }
    }
}

string_enum! {
    /// How one attempt on an item ended.
    pub enum AttemptOutcome {
        /// Its gates passed and it was committed.
        Passed = "passed",
        /// A required gate failed; another fix follows.
        GatesFailed = "gates_failed",
        /// The agent changed no file; another fix follows.
        EmptyDiff = "empty_diff",
        /// The change broke the guardrails; another fix follows.
        Guardrail = "guardrail",
        /// The same failure repeated: the item stops as stuck.
        Stuck = "stuck",
        /// The fix budget is spent (or a repeated breach): the item stops as failed.
        Failed = "failed",
    }
}

string_enum! {
    /// What the reviewer decided.
    pub enum VerdictKind {
        Approved = "approved",
        ChangesRequested = "changes_requested",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_keep_the_names_state_files_already_hold() {
        assert_eq!(
            serde_json::to_string(&ItemStatus::InProgress).unwrap(),
            "\"in_progress\""
        );
        assert_eq!(
            serde_json::from_str::<RunStatus>("\"budget_exceeded\"").unwrap(),
            RunStatus::BudgetExceeded
        );
        assert_eq!(StageStatus::Skipped.to_string(), "skipped");
        for st in ItemStatus::ALL {
            assert_eq!(ItemStatus::from_name(st.as_str()), Some(*st));
        }
        let phase = serde_json::to_string(&ItemPhase::Verify { attempt: 2 }).unwrap();
        assert_eq!(phase, r#"{"phase":"verify","attempt":2}"#);
    }

    #[test]
    fn attempt_one_implements_and_later_ones_fix() {
        assert_eq!(AttemptKind::of(1), AttemptKind::Implement);
        assert_eq!(AttemptKind::of(2), AttemptKind::Fix);
        assert_eq!(AttemptKind::of(7).as_str(), "fix");
    }
}
