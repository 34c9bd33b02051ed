//! The item scheduler: which backlog items may start, which can never start, and how a failed
//! attempt is judged — pure functions over the run state, unit tested like `fsm`.
//!
//! [`ready_items`] is the one answer to "which items may start now": the items already in
//! progress (a resumed run re-enters them first), then every pending item whose dependencies
//! are all done, in backlog order. Today's implement loop takes the first; parallel lanes can
//! take several. [`block_dependents`] marks the pending items a failed dependency shuts out,
//! transitively. [`judge_attempt`] decides what a failed attempt means for its item: another
//! fix, `stuck` (the same failure signature `stuck_threshold` times in a row), or `failed`
//! (the fix budget is spent, or a breach that must not be repeated); [`record_attempt`]
//! writes that judgement into the item.

use crate::model::state::{ItemState, RunState};
use crate::model::{AttemptOutcome, FailureRecord, ItemPhase, ItemStatus, OrxFailure, StageEnd};

/// The items that may start (or continue) now, in order: in progress first, then every
/// pending item whose dependencies are all done, both in backlog order.
pub fn ready_items(state: &RunState) -> Vec<String> {
    let done = |id: &String| {
        state
            .items
            .iter()
            .any(|i| i.id == *id && i.status == ItemStatus::Done)
    };
    let in_progress = state
        .items
        .iter()
        .filter(|i| i.status == ItemStatus::InProgress);
    let startable = state
        .items
        .iter()
        .filter(|i| i.status == ItemStatus::Pending && i.depends_on.iter().all(done));
    in_progress.chain(startable).map(|i| i.id.clone()).collect()
}

/// The item the sequential loop works on next: the first ready one.
pub fn next_item(state: &RunState) -> Option<String> {
    ready_items(state).into_iter().next()
}

/// Mark `blocked` every pending item that depends, directly or not, on an item that ended
/// without being done. Returns the ids it blocked, in the order it blocked them.
pub fn block_dependents(state: &mut RunState) -> Vec<String> {
    let mut blocked = Vec::new();
    loop {
        let ended: Vec<String> = state
            .items
            .iter()
            .filter(|i| i.status.is_unfinished_end())
            .map(|i| i.id.clone())
            .collect();
        let mut changed = false;
        for item in &mut state.items {
            if item.status == ItemStatus::Pending
                && item.depends_on.iter().any(|d| ended.contains(d))
            {
                item.status = ItemStatus::Blocked;
                item.note = Some("a dependency did not finish".into());
                blocked.push(item.id.clone());
                changed = true;
            }
        }
        if !changed {
            return blocked;
        }
    }
}

/// Whether the implement loop stops after an item failed: always with
/// `run.stop_on_first_failure`, and whenever the failure is not the item's own evidence (an
/// agent, a guardrail or orx broke), since the next item would meet the same cause.
pub fn stop_after_failed_item(last_failure: Option<&FailureRecord>, stop_on_first: bool) -> bool {
    stop_on_first || last_failure.is_some_and(|f| !f.reason.is_item_evidence())
}

/// How implement in lanes ends. Done when every item is done, and also when the items that
/// ended without being done failed on their own evidence (`stopped_early` is false: no failure
/// stopped new lanes), no item is left to work and at least one passed: the run goes on to
/// review and ship what passed, and ends `partial`. Failed otherwise, as the sequential loop.
pub fn lanes_end(state: &RunState, stopped_early: bool) -> StageEnd {
    let done = state
        .items
        .iter()
        .filter(|i| i.status == ItemStatus::Done)
        .count();
    let ended = state.left_out().len();
    let all_done = done == state.items.len();
    let partial = !stopped_early && done > 0 && done + ended == state.items.len();
    if all_done || partial {
        StageEnd::Done
    } else {
        StageEnd::Failed
    }
}

/// The fix loop's limits, from `run:` in orx.yaml.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixLimits {
    /// Fix attempts after the first (`run.max_fix_attempts`).
    pub max_fix_attempts: u32,
    /// Same-signature failures in a row that make an item stuck (`run.stuck_threshold`, at
    /// least 2).
    pub stuck_threshold: u32,
}

/// What a failed attempt means for its item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptJudgement {
    pub outcome: AttemptOutcome,
    /// The status the item ends with; `None` when another attempt follows.
    pub ends_as: Option<ItemStatus>,
    /// The item's failure signatures, this attempt's last.
    pub signatures: Vec<String>,
    /// The reason recorded when the item ends here.
    pub reason: OrxFailure,
}

/// Judge attempt `attempt` of `item`, which failed for `reason` with `signature`.
/// `final_failure` ends the item whatever budget is left (a repeated guardrail breach).
pub fn judge_attempt(
    item: &ItemState,
    attempt: u32,
    signature: &str,
    reason: OrxFailure,
    final_failure: bool,
    limits: FixLimits,
) -> AttemptJudgement {
    let threshold = limits.stuck_threshold.max(2) as usize;
    let mut signatures = item.signatures.clone();
    signatures.push(signature.to_string());
    let stuck = signatures.len() >= threshold
        && signatures[signatures.len() - threshold..]
            .iter()
            .all(|s| s == signature);
    let limit = item.fix_budget_start.max(1) + limits.max_fix_attempts;
    let (outcome, ends_as) = if final_failure {
        (AttemptOutcome::Failed, Some(ItemStatus::Failed))
    } else if stuck {
        (AttemptOutcome::Stuck, Some(ItemStatus::Stuck))
    } else if attempt >= limit {
        (AttemptOutcome::Failed, Some(ItemStatus::Failed))
    } else {
        let again = match reason {
            OrxFailure::EmptyDiff => AttemptOutcome::EmptyDiff,
            OrxFailure::Guardrail => AttemptOutcome::Guardrail,
            _ => AttemptOutcome::GatesFailed,
        };
        (again, None)
    };
    let reason = if ends_as == Some(ItemStatus::Stuck) {
        OrxFailure::Stuck
    } else {
        reason
    };
    AttemptJudgement {
        outcome,
        ends_as,
        signatures,
        reason,
    }
}

/// Write a judgement into its item: the attempt count and signatures, then either the end
/// status or the next agent attempt.
pub fn record_attempt(item: &mut ItemState, attempt: u32, judgement: &AttemptJudgement) {
    item.attempts = attempt;
    item.signatures = judgement.signatures.clone();
    match judgement.ends_as {
        Some(status) => {
            item.status = status;
            item.phase = None;
        }
        None => {
            item.phase = Some(ItemPhase::Agent {
                attempt: attempt + 1,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::state::WorktreeInfo;
    use crate::model::{FailureKind, FailureReason, Stage};

    fn item(id: &str, status: ItemStatus, deps: &[&str]) -> ItemState {
        ItemState {
            depends_on: deps.iter().map(|d| d.to_string()).collect(),
            status,
            ..ItemState::new(id, id)
        }
    }

    fn state(items: Vec<ItemState>) -> RunState {
        RunState {
            run_id: "r".into(),
            task: "t".into(),
            pipeline: "full".into(),
            current_stage: Some(Stage::Implement),
            items,
            worktree: WorktreeInfo {
                path: "/w".into(),
                branch: "orx/r".into(),
                base_branch: "main".into(),
                base_sha: "abc".into(),
            },
            engine: "fake".into(),
            worktree_setup_done: true,
            ..RunState::blank()
        }
    }

    use ItemStatus::*;

    #[test]
    fn ready_items_are_in_progress_first_then_startable_in_backlog_order() {
        let s = state(vec![
            item("W001", Done, &[]),
            item("W002", Pending, &["W001"]),
            item("W003", Pending, &["W004"]),
            item("W004", InProgress, &[]),
            item("W005", Pending, &[]),
            item("W006", Failed, &[]),
        ]);
        assert_eq!(ready_items(&s), ["W004", "W002", "W005"]);
        assert_eq!(next_item(&s).as_deref(), Some("W004"));
    }

    #[test]
    fn nothing_is_ready_when_every_item_waits_or_ended() {
        let s = state(vec![
            item("W001", Stuck, &[]),
            item("W002", Pending, &["W001"]),
            item("W003", Done, &[]),
        ]);
        assert!(ready_items(&s).is_empty());
        assert_eq!(next_item(&s), None);
        assert!(ready_items(&state(vec![])).is_empty());
    }

    #[test]
    fn a_failed_dependency_blocks_its_dependents_transitively() {
        let mut s = state(vec![
            item("W001", Failed, &[]),
            item("W003", Pending, &["W002"]),
            item("W002", Pending, &["W001"]),
            item("W004", Pending, &[]),
            item("W005", Pending, &["W004"]),
        ]);
        let blocked = block_dependents(&mut s);
        assert_eq!(blocked, ["W002", "W003"]);
        let status: Vec<ItemStatus> = s.items.iter().map(|i| i.status).collect();
        assert_eq!(status, [Failed, Blocked, Blocked, Pending, Pending]);
        assert_eq!(
            s.items[1].note.as_deref(),
            Some("a dependency did not finish")
        );
        assert!(
            block_dependents(&mut s).is_empty(),
            "a second pass finds nothing"
        );
    }

    #[test]
    fn lanes_ship_what_passed_when_the_failures_were_the_items_own() {
        let mut s = state(vec![
            item("W001", Done, &[]),
            item("W002", Failed, &[]),
            item("W003", Blocked, &["W002"]),
        ]);
        assert_eq!(lanes_end(&s, false), StageEnd::Done);
        assert_eq!(
            lanes_end(&s, true),
            StageEnd::Failed,
            "a failure that stopped new lanes fails the run"
        );
        s.items[0].status = Stuck;
        assert_eq!(lanes_end(&s, false), StageEnd::Failed, "nothing passed");
        s.items[0].status = InProgress;
        assert_eq!(lanes_end(&s, false), StageEnd::Failed, "work is left");
        for i in &mut s.items {
            i.status = Done;
        }
        assert_eq!(lanes_end(&s, false), StageEnd::Done);
    }

    const LIMITS: FixLimits = FixLimits {
        max_fix_attempts: 3,
        stuck_threshold: 2,
    };

    #[test]
    fn a_failed_attempt_gets_another_fix_until_the_budget_is_spent() {
        let mut it = item("W001", InProgress, &[]);
        let j = judge_attempt(&it, 1, "g:a", OrxFailure::GatesFailed, false, LIMITS);
        assert_eq!(j.outcome, AttemptOutcome::GatesFailed);
        assert_eq!(j.ends_as, None);
        record_attempt(&mut it, 1, &j);
        assert_eq!(it.phase, Some(ItemPhase::Agent { attempt: 2 }));
        assert_eq!(it.signatures, ["g:a"]);
        for (n, sig) in [(2, "g:b"), (3, "g:c")] {
            let j = judge_attempt(&it, n, sig, OrxFailure::GatesFailed, false, LIMITS);
            assert_eq!(j.ends_as, None, "attempt {n}");
            record_attempt(&mut it, n, &j);
        }
        let j = judge_attempt(&it, 4, "g:d", OrxFailure::GatesFailed, false, LIMITS);
        assert_eq!(
            (j.outcome, j.ends_as),
            (AttemptOutcome::Failed, Some(Failed))
        );
        assert_eq!(j.reason, OrxFailure::GatesFailed);
        record_attempt(&mut it, 4, &j);
        assert_eq!(
            (it.status, it.phase.clone(), it.attempts),
            (Failed, None, 4)
        );
    }

    #[test]
    fn the_same_signature_in_a_row_is_stuck_and_a_resumed_item_gets_a_new_budget() {
        let mut it = item("W001", InProgress, &[]);
        it.signatures = vec!["g:a".into()];
        let j = judge_attempt(&it, 2, "g:a", OrxFailure::GatesFailed, false, LIMITS);
        assert_eq!((j.outcome, j.ends_as), (AttemptOutcome::Stuck, Some(Stuck)));
        assert_eq!(j.reason, OrxFailure::Stuck);
        let three = FixLimits {
            stuck_threshold: 3,
            ..LIMITS
        };
        assert_eq!(
            judge_attempt(&it, 2, "g:a", OrxFailure::GatesFailed, false, three).ends_as,
            None
        );
        it.signatures = vec!["a".into(), "b".into(), "c".into(), "d".into()];
        it.fix_budget_start = 4;
        let j = judge_attempt(&it, 5, "e", OrxFailure::GatesFailed, false, LIMITS);
        assert_eq!(
            j.ends_as, None,
            "4 + 3 fixes: attempt 5 is within the new budget"
        );
    }

    #[test]
    fn empty_diffs_and_guardrail_breaches_say_so_and_a_final_breach_fails() {
        let it = item("W001", InProgress, &[]);
        let j = judge_attempt(&it, 1, "empty_diff", OrxFailure::EmptyDiff, false, LIMITS);
        assert_eq!(j.outcome, AttemptOutcome::EmptyDiff);
        let j = judge_attempt(&it, 1, "guardrails:x", OrxFailure::Guardrail, false, LIMITS);
        assert_eq!(j.outcome, AttemptOutcome::Guardrail);
        let j = judge_attempt(&it, 2, "guardrails:y", OrxFailure::Guardrail, true, LIMITS);
        assert_eq!(
            (j.outcome, j.ends_as),
            (AttemptOutcome::Failed, Some(Failed))
        );
        assert_eq!(j.reason, OrxFailure::Guardrail);
    }

    #[test]
    fn only_an_item_own_evidence_lets_the_loop_go_on() {
        let rec = |reason: FailureReason| FailureRecord {
            stage: Stage::Verify,
            item: Some("W001".into()),
            reason,
            message: String::new(),
            evidence_path: None,
        };
        let gates = rec(OrxFailure::GatesFailed.into());
        assert!(!stop_after_failed_item(Some(&gates), false));
        assert!(stop_after_failed_item(Some(&gates), true));
        let agent = rec(FailureKind::RateLimited.into());
        assert!(stop_after_failed_item(Some(&agent), false));
        let breach = rec(OrxFailure::Guardrail.into());
        assert!(stop_after_failed_item(Some(&breach), false));
        assert!(!stop_after_failed_item(None, false));
    }
}
