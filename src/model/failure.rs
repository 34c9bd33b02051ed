//! Why a run or a stage failed: a named reason, and the record `state.json` keeps of it.
//!
//! A [`FailureReason`] is written as one stable word (`gates_failed`, `stuck`, `guardrail`,
//! `push_rejected`, or the agent's [`FailureKind`] such as `rate_limited`): scripts read it from
//! `orx status --json`, `run_finished` events and `last_failure`, and orx itself compares it
//! (whether a failed item should stop the run, whether a decompose retry gets feedback), so it
//! is an enum and never a string compared by hand.

use std::borrow::Cow;
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::agent::FailureKind;
use super::stage::Stage;

string_enum! {
    /// A failure orx names itself (an agent's own failures are [`FailureKind`]s).
    pub enum OrxFailure {
        /// A blocking `run_start` or `stage_start` hook failed.
        HookVeto = "hook_veto",
        /// A `worktree.setup` command failed.
        SetupFailed = "setup_failed",
        /// orx itself hit an error in the middle of a stage.
        OrxError = "orx_error",
        /// A text stage's agent answered nothing.
        EmptyOutput = "empty_output",
        /// Decompose's answer was not a valid backlog.
        InvalidBacklog = "invalid_backlog",
        /// An item's required gates kept failing until its fix budget was spent.
        GatesFailed = "gates_failed",
        /// An item's agent attempt changed no file.
        EmptyDiff = "empty_diff",
        /// The same failure signature repeated: fixing was not making progress.
        Stuck = "stuck",
        /// The change breaks the guardrails.
        Guardrail = "guardrail",
        /// The reviewer's reply held no usable verdict.
        NoVerdict = "no_verdict",
        /// Review still asked for changes when its rounds ran out.
        ChangesRequested = "changes_requested",
        /// The run changed nothing against its base branch.
        NothingToShip = "nothing_to_ship",
        /// The remote refused the push (it has commits the run does not).
        PushRejected = "push_rejected",
        /// The push lacked credentials.
        PushAuth = "push_auth",
        /// The remote is missing or unreachable.
        PushRemoteMissing = "push_remote_missing",
        /// The push failed another way.
        PushFailed = "push_failed",
        /// `gh` is not installed.
        GhMissing = "gh_missing",
        /// `gh` is not logged in.
        GhAuth = "gh_auth",
        /// `gh pr create` failed.
        PrFailed = "pr_failed",
        /// Parallel lanes: the item's change kept conflicting with the run branch.
        MergeConflict = "merge_conflict",
    }
}

/// Why a run or a stage failed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FailureReason {
    /// A failure orx names itself.
    Orx(OrxFailure),
    /// An agent call failed (or was stopped: `budget_exceeded`, `interrupted`).
    Agent(FailureKind),
    /// A reason this version of orx does not know, read from a state written by another one;
    /// kept as written so that nothing is lost.
    Other(String),
}

impl FailureReason {
    /// The one word this reason is written as.
    pub fn as_str(&self) -> &str {
        match self {
            FailureReason::Orx(f) => f.as_str(),
            FailureReason::Agent(k) => k.as_str(),
            FailureReason::Other(s) => s,
        }
    }

    /// The reason written as `text`: orx's own names first, then an agent's.
    pub fn from_name(text: &str) -> FailureReason {
        OrxFailure::from_name(text)
            .map(FailureReason::Orx)
            .or_else(|| FailureKind::from_name(text).map(FailureReason::Agent))
            .unwrap_or_else(|| FailureReason::Other(text.to_string()))
    }

    /// A failure the fix loop owns: the item failed on its own evidence (gates, an empty
    /// change, a repeated signature), not because an agent, a guardrail or orx broke, so the
    /// items that do not depend on it may still go on.
    pub fn is_item_evidence(&self) -> bool {
        matches!(
            self,
            FailureReason::Orx(
                OrxFailure::Stuck
                    | OrxFailure::GatesFailed
                    | OrxFailure::EmptyDiff
                    | OrxFailure::MergeConflict
            )
        )
    }
}

impl From<OrxFailure> for FailureReason {
    fn from(f: OrxFailure) -> FailureReason {
        FailureReason::Orx(f)
    }
}

impl From<FailureKind> for FailureReason {
    fn from(k: FailureKind) -> FailureReason {
        FailureReason::Agent(k)
    }
}

impl PartialEq<OrxFailure> for FailureReason {
    fn eq(&self, other: &OrxFailure) -> bool {
        *self == FailureReason::Orx(*other)
    }
}

impl fmt::Display for FailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for FailureReason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for FailureReason {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<FailureReason, D::Error> {
        let text = <Cow<'de, str>>::deserialize(d)?;
        Ok(FailureReason::from_name(&text))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailureRecord {
    pub stage: Stage,
    #[serde(default)]
    pub item: Option<String>,
    /// A stable machine-readable reason: gates_failed, stuck, agent_error, invalid_backlog, …
    pub reason: FailureReason,
    pub message: String,
    #[serde(default)]
    pub evidence_path: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_reads_back_as_itself() {
        for f in OrxFailure::ALL {
            let r = FailureReason::from(*f);
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(json, format!("\"{}\"", f.as_str()));
            assert_eq!(serde_json::from_str::<FailureReason>(&json).unwrap(), r);
        }
        for k in FailureKind::ALL {
            let r = FailureReason::from(*k);
            assert_eq!(FailureReason::from_name(r.as_str()), r);
        }
    }

    #[test]
    fn orx_and_agent_names_never_collide() {
        for f in OrxFailure::NAMES {
            assert!(
                FailureKind::from_name(f).is_none(),
                "`{f}` names both an orx failure and an agent failure"
            );
        }
    }

    #[test]
    fn an_unknown_reason_survives_a_round_trip() {
        let r: FailureReason = serde_json::from_str("\"from_the_future\"").unwrap();
        assert_eq!(r, FailureReason::Other("from_the_future".into()));
        assert_eq!(serde_json::to_string(&r).unwrap(), "\"from_the_future\"");
    }

    #[test]
    fn only_the_fix_loop_own_failures_let_other_items_go_on() {
        assert!(FailureReason::from(OrxFailure::GatesFailed).is_item_evidence());
        assert!(FailureReason::from(OrxFailure::Stuck).is_item_evidence());
        assert!(FailureReason::from(OrxFailure::EmptyDiff).is_item_evidence());
        assert!(!FailureReason::from(OrxFailure::Guardrail).is_item_evidence());
        assert!(!FailureReason::from(FailureKind::RateLimited).is_item_evidence());
    }
}
