//! Best-of-N candidates: an item attempted by several agents at once, each in a lane of its
//! own, and the one that ships chosen among those that passed every gate.
//!
//! With `stages.implement.candidates` (or `--candidates`) above 1, implement runs in lanes
//! (even with `--parallel 1`), and an item's lane does not work the item itself: [`race`]
//! opens one candidate per number, each working a copy of the item under the key
//! `<item>+c<n>` (see `model::candidate`) in a worktree and on a branch of its own
//! (`.worktrees/<run_id>.lanes/<item>+c<n>`, `orx/<run_id>.lanes/<item>+c<n>`), on a thread of
//! its own, through the implement loop of `implement.rs` unchanged: attempts, gates, fixes,
//! guardrails, its own checkpoints, prompts and logs (named after the key), with the executor
//! of its number. Candidates send their events and checkpoints straight to the scheduler, the
//! one writer, like any lane ([`merge`] files a candidate's checkpoint under its record), and
//! their ends back to the item's lane, which waits for them all.
//!
//! Then the item's lane chooses (`runner::judge`): no candidate passed → the item fails as a
//! lane's item does; one → it ships; several → a judge call to the review stage's executor,
//! given each one's diff and gate results, with the smallest diff as the fallback. The choice,
//! how it was made and why are recorded in `state.json` (`choices`) and as an event; the chosen
//! candidate's work becomes the item's (a commit of its tree on the item's base), which the
//! scheduler integrates as it integrates any lane's. Every candidate's work is then kept by the
//! ref `refs/orx/<run_id>/candidates/<item>/<n>` until `orx clean`, and the candidates'
//! worktrees and branches are removed.
//!
//! Budgets count every candidate (their usage reaches the run's at each checkpoint). A budget
//! that runs out stops the candidates still working at their next agent call; those already
//! finished are kept, and when one of them passed, the choice is made among them. A resume
//! re-enters every unfinished candidate from its own checkpoint; a choice already recorded is
//! not made again.

use std::sync::mpsc::Sender;

use super::implement::run_item;
use crate::agents::Mode;
use crate::error::{OrxError, Result};
use crate::model::candidate::{key, parse_key};
use crate::model::event::EventKind;
use crate::model::state::{CandidateChoice, CandidateState, ItemState, WorktreeInfo};
use crate::model::{FailureRecord, ItemPhase, ItemStatus, RunState, Stage, Stop};
use crate::runner::judge::{self, Answer, Passing};
use crate::runner::lane::{merge_lane, LaneMsg};
use crate::runner::{Halt, Run, Step};

/// The most bytes of each candidate's diff the judge's prompt quotes.
const DIFF_BYTES: usize = 20_000;

/// Whether the run has candidates: asked for, or some already opened.
pub fn wanted(state: &RunState) -> bool {
    state.max_candidates.unwrap_or(1) > 1 || !state.candidates.is_empty()
}

/// Apply a lane's checkpoint to the run's `master` state. A candidate's (`key` is
/// `<item>+c<n>`) goes to its record: its work, phase and set-up, and the growth of the
/// counters every lane grows; its failures stay its own, since the item fails only when every
/// candidate did. Any other lane's is `merge_lane`'s, plus the candidate records and the
/// choice an item's lane wrote.
pub(crate) fn merge(master: &mut RunState, key: &str, before: &RunState, now: &RunState) {
    let Some((item, n)) = parse_key(key) else {
        merge_lane(master, key, before, now);
        for c in now.candidates.iter().filter(|c| c.item == key) {
            if before.candidates.contains(c) {
                continue;
            }
            match master
                .candidates
                .iter_mut()
                .find(|m| m.item == c.item && m.n == c.n)
            {
                Some(m) => *m = c.clone(),
                None => master.candidates.push(c.clone()),
            }
        }
        for ch in now.choices.iter().filter(|c| c.item == key) {
            if !master.choices.contains(ch) {
                master.choices.retain(|m| m.item != key);
                master.choices.push(ch.clone());
            }
        }
        return;
    };
    let kept = master.last_failure.clone();
    merge_lane(master, key, before, now);
    master.last_failure = kept;
    let record = master
        .candidates
        .iter_mut()
        .find(|c| c.item == item && c.n == n);
    if let (Some(c), Some(work)) = (record, now.item(key)) {
        c.work = work.clone();
        if let Some(phase) = &work.phase {
            c.attempt = phase.attempt();
            c.phase = phase.name().to_string();
        }
        c.setup_done |= now.worktree_setup_done;
    }
}

/// The candidates of item `id`, in number order.
fn candidates_of(state: &RunState, id: &str) -> Vec<CandidateState> {
    state
        .candidates
        .iter()
        .filter(|c| c.item == id)
        .cloned()
        .collect()
}

/// In the lane of item `id`: race its candidates and choose one. `None` when the item has no
/// candidates to race (one per item, an item that started alone, or a choice already made: the
/// lane works the item itself); else whether the item passed (its chosen candidate waits to be
/// integrated) or failed (no candidate passed).
pub(crate) fn race(lane: &mut Run<'_>, id: &str) -> Step<Option<bool>> {
    if !wanted(&lane.state) {
        return Ok(None);
    }
    if lane.state.choices.iter().any(|c| c.item == id) {
        // A crash between the choice and the clean-up leaves candidates' worktrees behind.
        close(lane, id)?;
        return Ok(None);
    }
    let item = lane
        .state
        .item(id)
        .cloned()
        .ok_or_else(|| OrxError::internal(format!("no item {id}")))?;
    if !lane.state.candidates.iter().any(|c| c.item == id) {
        let count = lane.state.max_candidates.unwrap_or(1);
        let started_alone = item.attempts > 0 || item.snapshot.is_some();
        if count <= 1 || started_alone {
            return Ok(None);
        }
        open(lane, &item, count)?;
    }
    let ends = run_candidates(lane, id)?;
    settle_ends(lane, id, ends)?;
    let passing: Vec<Passing> = lane
        .state
        .candidates
        .iter()
        .filter(|c| c.item == id && c.passed == Some(true))
        .map(|c| Passing {
            n: c.n,
            diff_lines: c.diff_lines.unwrap_or(0),
        })
        .collect();
    let judged = if passing.len() > 1 {
        Some(ask_judge(lane, &item, &passing)?)
    } else {
        None
    };
    let Some(choice) = judge::choose(&passing, judged.as_ref()) else {
        none_passed(lane, id)?;
        return Ok(Some(false));
    };
    adopt(lane, &item, choice)?;
    close(lane, id)?;
    Ok(Some(true))
}

/// Record the candidates of `item`, one per number, each starting from the item's base.
fn open(lane: &mut Run<'_>, item: &ItemState, count: u32) -> Result<()> {
    let base = match &item.base_commit {
        Some(b) => b.clone(),
        None => lane.wt.head()?,
    };
    let implement_executor = lane.route("implement").0;
    for n in 1..=count {
        let k = key(&item.id, n);
        let mut work = item.clone();
        work.id = k.clone();
        work.status = ItemStatus::InProgress;
        work.phase = Some(ItemPhase::Agent { attempt: 1 });
        work.base_commit = Some(base.clone());
        let executor = lane
            .state
            .candidate_executors
            .get(n as usize - 1)
            .cloned()
            .unwrap_or_else(|| implement_executor.clone());
        lane.state.candidates.push(CandidateState {
            item: item.id.clone(),
            n,
            executor,
            path: lane.paths.lane_worktree(&k),
            branch: lane.paths.lane_branch(&k),
            attempt: 1,
            phase: "agent".into(),
            passed: None,
            diff_lines: None,
            setup_done: false,
            work,
        });
    }
    lane.save()
}

/// How one candidate's work ended, with its state then.
struct CandidateEnd {
    n: u32,
    end: Step<bool>,
    work: Option<ItemState>,
    failure: Option<FailureRecord>,
}

/// Run every unfinished candidate of `id` at once, each on a thread of its own, and wait for
/// them all.
fn run_candidates(lane: &mut Run<'_>, id: &str) -> Result<Vec<CandidateEnd>> {
    let tx: Sender<LaneMsg> = lane
        .lane_sender()
        .ok_or_else(|| OrxError::internal("candidates run only in a lane"))?;
    let mut open = candidates_of(&lane.state, id);
    open.retain(|c| c.passed.is_none());
    let implement_executor = lane.route("implement").0;
    let mut runs = Vec::new();
    for c in open {
        let k = key(id, c.n);
        let from = match &c.work.base_commit {
            Some(b) => b.clone(),
            None => lane.wt.head()?,
        };
        lane.repo.add_worktree(&c.path, &c.branch, &from)?;
        let info = WorktreeInfo {
            path: c.path.clone(),
            branch: c.branch.clone(),
            base_branch: lane.state.worktree.base_branch.clone(),
            base_sha: lane.state.worktree.base_sha.clone(),
        };
        let mut run = lane.lane(&k, &info, c.setup_done, tx.clone());
        run.state.items.push(c.work.clone());
        if c.executor != implement_executor {
            // Its implement and fix calls go to its own executor, with that executor's model.
            let model = run
                .config
                .executors
                .get(&c.executor)
                .and_then(|e| e.default.model.clone());
            for stage in [&mut run.config.stages.implement, &mut run.config.stages.fix] {
                let ov = stage.get_or_insert_with(Default::default);
                ov.executor = Some(c.executor.clone());
                ov.model = model.clone();
            }
        }
        lane.emit(EventKind::CandidateStarted {
            item: id.to_string(),
            n: c.n,
            executor: c.executor.clone(),
            branch: c.branch.clone(),
        })?;
        runs.push((c.n, run));
    }
    let ends = std::thread::scope(|scope| {
        let handles: Vec<_> = runs
            .into_iter()
            .map(|(n, mut run)| {
                scope.spawn(move || {
                    let k = key(id, n);
                    let end = work_candidate(&mut run, &k);
                    CandidateEnd {
                        n,
                        end,
                        work: run.state.item(&k).cloned(),
                        failure: run.state.last_failure.clone(),
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| OrxError::internal("a candidate's thread panicked"))
            })
            .collect::<Result<Vec<_>>>()
    })?;
    Ok(ends)
}

/// A candidate's thread: set its worktree up (once), then work its copy of the item.
fn work_candidate(run: &mut Run<'_>, k: &str) -> Step<bool> {
    if let Some(stop) = run.prepare_lane()? {
        run.fail(Stage::Implement, Some(k), stop.reason, stop.message);
        run.save()?;
        return Ok(false);
    }
    run_item(run, k)
}

/// Record how each candidate ended. orx's own failure halts the item; an interrupt, or a
/// budget that ran out before any candidate passed, stops it resumable; a budget that ran out
/// after one passed stops the others for good.
fn settle_ends(lane: &mut Run<'_>, id: &str, ends: Vec<CandidateEnd>) -> Step<()> {
    let mut error: Option<OrxError> = None;
    let mut stop: Option<(Stop, Option<FailureRecord>)> = None;
    let mut finished = Vec::new();
    for e in ends {
        let Some(pos) = lane
            .state
            .candidates
            .iter()
            .position(|c| c.item == id && c.n == e.n)
        else {
            continue;
        };
        if let Some(w) = e.work {
            lane.state.candidates[pos].work = w;
        }
        match e.end {
            Ok(passed) => {
                let diff_lines = if passed {
                    Some(diff_lines(lane, &lane.state.candidates[pos].work)?)
                } else {
                    None
                };
                let c = &mut lane.state.candidates[pos];
                c.attempt = c
                    .work
                    .phase
                    .as_ref()
                    .map_or(c.work.attempts, ItemPhase::attempt);
                c.passed = Some(passed);
                c.phase = if passed { "passed" } else { "failed" }.into();
                c.diff_lines = diff_lines;
                if !passed {
                    // Why it failed, for the item's failure should every candidate fail.
                    c.work.note = e.failure.map(|f| f.message).or(c.work.note.take());
                }
                finished.push((e.n, passed, c.phase.clone()));
            }
            Err(Halt::Stop(why)) => {
                stop.get_or_insert((why, e.failure));
            }
            Err(Halt::Error(err)) => {
                error.get_or_insert(err);
            }
        }
    }
    lane.save()?;
    for (n, passed, phase) in finished {
        lane.emit(EventKind::CandidateFinished {
            item: id.to_string(),
            n,
            passed,
            phase,
        })?;
    }
    if let Some(e) = error {
        return Err(Halt::Error(e));
    }
    let Some((why, failure)) = stop else {
        return Ok(());
    };
    let any_passed = lane
        .state
        .candidates
        .iter()
        .any(|c| c.item == id && c.passed == Some(true));
    if why != Stop::BudgetExceeded || !any_passed {
        if failure.is_some() {
            lane.state.last_failure = failure;
        }
        lane.save()?;
        return Err(Halt::Stop(why));
    }
    let mut stopped = Vec::new();
    for c in lane
        .state
        .candidates
        .iter_mut()
        .filter(|c| c.item == id && c.passed.is_none())
    {
        c.passed = Some(false);
        c.phase = "stopped".into();
        stopped.push(c.n);
    }
    lane.save()?;
    for n in stopped {
        lane.emit(EventKind::CandidateFinished {
            item: id.to_string(),
            n,
            passed: false,
            phase: "stopped".into(),
        })?;
    }
    Ok(())
}

/// Lines the change of a candidate that passed adds and removes.
fn diff_lines(lane: &Run<'_>, work: &ItemState) -> Result<u64> {
    let (Some(base), Some(commit)) = (&work.base_commit, &work.commit) else {
        return Ok(0);
    };
    let (_, added, removed) = lane.wt.diff_stat(base, commit)?;
    Ok(u64::from(added) + u64::from(removed))
}

/// Ask the review stage's executor which of `passing` should ship: its answer, or why there
/// is none (a failed call, an unreadable reply, a budget already spent).
fn ask_judge(
    lane: &mut Run<'_>,
    item: &ItemState,
    passing: &[Passing],
) -> Step<std::result::Result<Answer, String>> {
    let mut sections = String::new();
    for p in passing {
        let Some(c) = lane
            .state
            .candidates
            .iter()
            .find(|c| c.item == item.id && c.n == p.n)
            .cloned()
        else {
            continue;
        };
        let diff = match (&c.work.base_commit, &c.work.commit) {
            (Some(b), Some(h)) => lane.wt.diff(b, h)?,
            _ => String::new(),
        };
        let diff = crate::guard::diff_for_prompt(&diff, &lane.config.guardrails)?;
        let mut end = diff.len().min(DIFF_BYTES);
        while !diff.is_char_boundary(end) {
            end -= 1;
        }
        let gates: Vec<String> = c
            .work
            .gates
            .iter()
            .map(|g| {
                let verdict = if g.passed { "passed" } else { "failed" };
                format!("- {}: {verdict}", g.name)
            })
            .collect();
        let gates = if gates.is_empty() {
            "(no gates configured)".to_string()
        } else {
            gates.join("\n")
        };
        sections.push_str(&format!(
            "### Candidate {} ({}, {} attempts, {} lines changed)\n\nGates:\n{gates}\n\n```diff\n{}\n```\n\n",
            c.n,
            c.executor,
            c.work.attempts,
            p.diff_lines,
            &diff[..end]
        ));
    }
    let mut vars = lane.base_vars();
    vars.insert("item_id", item.id.clone());
    vars.insert("item", super::item::describe_item(item));
    vars.insert("candidates", sections);
    let prompt = lane.prompt("judge", &vars)?;
    let kept = lane.state.last_failure.clone();
    match lane.call_agent("judge", Some(&item.id), 1, Mode::Text, prompt) {
        Ok(outcome) if outcome.succeeded() => Ok(judge::parse_answer(&outcome.final_text)),
        Ok(outcome) => Ok(Err(format!(
            "the judge call failed ({})",
            outcome
                .message
                .unwrap_or_else(|| "no message".into())
                .trim()
        ))),
        Err(Halt::Stop(Stop::BudgetExceeded)) => {
            // The candidates that finished are kept: the choice falls back to the diff size.
            lane.state.last_failure = kept;
            lane.save()?;
            Ok(Err(
                "the budget ran out before the judge could be asked".into()
            ))
        }
        Err(other) => Err(other),
    }
}

/// The chosen candidate's work becomes the item's: a commit of its tree on the item's base,
/// waiting to be integrated; the choice is recorded.
fn adopt(lane: &mut Run<'_>, item: &ItemState, choice: judge::Choice) -> Result<()> {
    let id = &item.id;
    let winner = lane
        .state
        .candidates
        .iter()
        .find(|c| c.item == *id && c.n == choice.n)
        .cloned()
        .ok_or_else(|| OrxError::internal(format!("no candidate {} of {id}", choice.n)))?;
    let work = &winner.work;
    let (Some(base), Some(commit)) = (work.base_commit.clone(), work.commit.clone()) else {
        return Err(OrxError::state(format!(
            "candidate {} of {id} passed without a commit",
            choice.n
        )));
    };
    let attempt = work
        .phase
        .as_ref()
        .map_or(work.attempts, ItemPhase::attempt);
    let message = lane
        .redact(&format!(
            "orx: {id} {}\n\nOrx-Run: {}\nOrx-Item: {id}\nOrx-Candidate: {}\nOrx-Attempts: {attempt}\n",
            item.title, lane.paths.id, choice.n
        ))
        .into_owned();
    let tree = lane.wt.tree_of(&commit)?;
    // The candidate's ref keeps the item's commit alive until it is integrated, and after.
    let keep = lane.paths.candidate_ref(id, choice.n);
    let item_commit = lane.wt.commit_tree_on(&tree, &base, &message, &keep)?;
    let count = lane
        .state
        .candidates
        .iter()
        .filter(|c| c.item == *id)
        .count();
    if let Some(i) = lane.state.item_mut(id) {
        i.status = ItemStatus::InProgress;
        i.attempts = work.attempts;
        i.phase = Some(ItemPhase::Integrate { attempt });
        i.base_commit = Some(base);
        i.snapshot = work.snapshot.clone();
        i.commit = Some(item_commit);
        i.gates = work.gates.clone();
        i.signatures = work.signatures.clone();
        i.note = Some(format!(
            "candidate {} of {} chosen ({}): {}",
            choice.n, count, choice.how, choice.reason
        ));
    }
    lane.state.choices.retain(|c| c.item != *id);
    lane.state.choices.push(CandidateChoice {
        item: id.clone(),
        n: choice.n,
        how: choice.how,
        reason: choice.reason.clone(),
    });
    lane.checkpoint()?;
    lane.emit(EventKind::CandidateChosen {
        item: id.clone(),
        n: choice.n,
        how: choice.how,
        reason: choice.reason,
    })
}

/// No candidate of `id` passed: the item fails, with the first candidate's failure as its own.
fn none_passed(lane: &mut Run<'_>, id: &str) -> Result<()> {
    let all = candidates_of(&lane.state, id);
    let first = all.first();
    let why = first
        .and_then(|c| c.work.note.clone())
        .unwrap_or_else(|| "it did not pass its gates".into());
    let reason = lane
        .state
        .last_failure
        .as_ref()
        .map(|f| f.reason.clone())
        .unwrap_or_else(|| crate::model::OrxFailure::GatesFailed.into());
    let message = format!(
        "item {id} failed: none of its {} candidates passed every gate (candidate 1: {why})",
        all.len()
    );
    if let Some(i) = lane.state.item_mut(id) {
        i.status = ItemStatus::Failed;
        i.phase = None;
        i.note = Some(message.clone());
        i.attempts = all.iter().map(|c| c.work.attempts).max().unwrap_or(0);
    }
    lane.state.last_failure = Some(FailureRecord {
        stage: Stage::Verify,
        item: Some(id.to_string()),
        reason,
        message,
        evidence_path: None,
    });
    lane.checkpoint()?;
    close(lane, id)?;
    lane.emit(EventKind::ItemFinished {
        item: id.to_string(),
        status: ItemStatus::Failed,
        commit: None,
    })
}

/// Once the choice is made (or no candidate passed): every candidate's work is kept by its ref
/// (the chosen one's already is), its worktree and its branch removed. Safe to repeat.
fn close(lane: &mut Run<'_>, id: &str) -> Result<()> {
    let chosen = lane
        .state
        .choices
        .iter()
        .find(|c| c.item == id)
        .map(|c| c.n);
    let all = candidates_of(&lane.state, id);
    for c in all {
        if Some(c.n) != chosen {
            let work = &c.work;
            let rev = work
                .commit
                .clone()
                .or_else(|| work.snapshot.clone())
                .or_else(|| work.base_commit.clone());
            if let (Some(rev), Some(base)) = (rev, &work.base_commit) {
                let outcome = if c.passed == Some(true) {
                    "passed, not chosen"
                } else {
                    c.phase.as_str()
                };
                let message = lane
                    .redact(&format!(
                        "orx candidate {} of {id} ({}, {outcome})\n\nOrx-Run: {}\nOrx-Item: {id}\nOrx-Candidate: {}\n",
                        c.n, c.executor, lane.paths.id, c.n
                    ))
                    .into_owned();
                let tree = lane.wt.tree_of(&rev)?;
                let keep = lane.paths.candidate_ref(id, c.n);
                lane.wt.commit_tree_on(&tree, base, &message, &keep)?;
            }
        }
        lane.repo.remove_worktree(&c.path)?;
        lane.repo.delete_branch(&c.branch)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::state::ItemState;
    use crate::model::{FailureKind, Usage};

    fn record(item: &ItemState, n: u32) -> CandidateState {
        let mut work = item.clone();
        work.id = key(&item.id, n);
        CandidateState {
            item: item.id.clone(),
            n,
            executor: "fake".into(),
            path: format!("/l/{}", work.id).into(),
            branch: format!("orx/r.lanes/{}", work.id),
            attempt: 1,
            phase: "agent".into(),
            passed: None,
            diff_lines: None,
            setup_done: false,
            work,
        }
    }

    fn failure(item: &str) -> FailureRecord {
        FailureRecord {
            stage: Stage::Verify,
            item: Some(item.into()),
            reason: FailureKind::AgentError.into(),
            message: format!("{item} broke"),
            evidence_path: None,
        }
    }

    #[test]
    fn a_candidates_checkpoint_goes_to_its_record_and_keeps_its_failure_to_itself() {
        let item = ItemState::new("W001", "w");
        let mut master = RunState::blank();
        master.items = vec![item.clone()];
        master.candidates = vec![record(&item, 1), record(&item, 2)];
        // Candidate 2, as its lane sees the run: its copy of the item under its key.
        let mut before = master.clone();
        before.items.push(record(&item, 2).work);
        let mut now = before.clone();
        now.usage = Usage {
            input_tokens: 7,
            ..Usage::default()
        };
        now.worktree_setup_done = true;
        now.last_failure = Some(failure("W001+c2"));
        if let Some(w) = now.item_mut("W001+c2") {
            w.phase = Some(ItemPhase::Verify { attempt: 2 });
            w.attempts = 1;
        }
        merge(&mut master, "W001+c2", &before, &now);
        let c2 = &master.candidates[1];
        assert_eq!(c2.work.attempts, 1);
        assert_eq!((c2.attempt, c2.phase.as_str()), (2, "verify"));
        assert!(c2.setup_done);
        assert_eq!(
            master.candidates[0],
            record(&item, 1),
            "candidate 1 untouched"
        );
        assert_eq!(master.usage.input_tokens, 7, "its usage counts");
        assert_eq!(master.last_failure, None, "its failure is not the item's");
        assert_eq!(master.items, vec![item], "the item itself is untouched");
    }

    #[test]
    fn an_items_lane_files_its_candidate_records_and_its_choice() {
        let item = ItemState::new("W001", "w");
        let mut master = RunState::blank();
        master.items = vec![item.clone(), ItemState::new("W002", "x")];
        let before = master.clone();
        let mut now = before.clone();
        now.candidates = vec![record(&item, 1)];
        now.choices = vec![CandidateChoice {
            item: "W001".into(),
            n: 1,
            how: crate::model::candidate::ChoiceHow::OnlyOne,
            reason: "r".into(),
        }];
        // Another item's lane does not carry W001's records.
        merge(&mut master, "W002", &before, &now);
        assert!(master.candidates.is_empty() && master.choices.is_empty());
        merge(&mut master, "W001", &before, &now);
        assert_eq!(master.candidates, now.candidates);
        assert_eq!(master.choices, now.choices);
    }
}
