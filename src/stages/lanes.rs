//! Parallel lanes: implement and verify with several backlog items worked at once, each in a
//! worktree and branch of its own, integrated back into the run branch one at a time.
//!
//! With `run.max_parallel` (or `--parallel`) above 1, the items `schedule::ready_items` names
//! start at once, up to that many. Each gets a **lane**: a worktree at
//! `.worktrees/<run_id>.lanes/<item>` on branch `orx/<run_id>.lanes/<item>`, cut from the run
//! branch's head when the item starts, so an item starts from a head holding its dependencies.
//! In its lane the item runs the implement loop of `implement.rs` unchanged (attempts, gates,
//! fixes, guardrails, its own checkpoints, prompts and logs, whose names carry the item id), on
//! a thread of its own; a passing item ends committed on its lane branch, in phase `integrate`.
//!
//! This thread, the scheduler, is the one writer of the run: lanes send their events and
//! checkpoints over a channel (`runner::lane`) and it appends and saves them, so `state.json`
//! is always one consistent state. It also integrates, one item at a time and in backlog order
//! (an item waits for every item before it in the backlog that holds a lane), so the run
//! branch's history does not depend on which lane finished first. Integrating replays the
//! lane's commit onto the run branch head (`git merge-tree`), commits it there and runs the
//! gates again on the run branch. A failure there goes back to the item as fix evidence, its
//! lane rebased onto the head; a conflict gives the item a `merge` attempt in its lane, started
//! from the merged files with their conflict markers, with the conflicting files and both sides
//! as evidence. Both count against the item's fix attempts; an item that runs out of them
//! fails, blocks its dependents, and the other lanes go on; when at least one item passed, the
//! stage ends done and the run ships what was integrated, ending `partial`
//! (`schedule::lanes_end`).
//!
//! Every step is checkpointed first: a lane's phase is its item's phase, and an integration
//! records the head it started from (`onto`), so a resume puts the run branch back there and
//! integrates again, and re-enters every other lane at its item's phase. A lane's worktree is
//! removed once its item is integrated or has failed; its branch stays until `orx clean`.

use std::collections::BTreeSet;
use std::sync::mpsc;

use super::implement::{
    emit_passed, ensure_items, failure_of, judge_failure, mark_done, run_gates, run_item,
    CONFLICT_PREFIX,
};
use crate::error::{OrxError, Result};
use crate::gates::evidence::Failure;
use crate::git::Merged;
use crate::model::event::EventKind;
use crate::model::state::{LaneState, RunState, WorktreeInfo};
use crate::model::{GateResult, ItemPhase, ItemStatus, OrxFailure, Stage, StageEnd};
use crate::runner::lane::{LaneEnd, LaneMsg};
use crate::runner::schedule;
use crate::runner::{Halt, Run, Step};

/// The name of the synthetic gate that carries a conflict to the merge prompt.
const INTEGRATION_GATE: &str = "integration";
/// The most bytes of each side of a conflicting file the evidence quotes.
const SIDE_BYTES: usize = 4000;

/// Whether implement runs in lanes: asked for, or a run that already worked in lanes (resumed
/// with `--parallel 1`: its items' bases and snapshots belong to lanes, so it goes on in lanes,
/// one at a time).
pub fn wanted(state: &RunState) -> bool {
    state.max_parallel.unwrap_or(1) > 1
        || state.lanes_used
        || !state.lanes.is_empty()
        || state.items.iter().any(|i| {
            matches!(
                i.phase,
                Some(ItemPhase::Integrate { .. } | ItemPhase::Merge { .. })
            )
        })
}

/// At most `max` bytes from the start of `text`, cut at a character boundary.
fn head_of(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// What integrating an item came to.
enum Integration {
    /// On the run branch, gates passed: the item is done.
    Done,
    /// Back to its lane for another attempt (a fix or a merge).
    Again,
    /// Out of attempts: the item failed.
    Failed,
}

/// The implement stage with lanes.
pub fn run(run: &mut Run<'_>) -> Step<StageEnd> {
    ensure_items(run)?;
    let width = run.state.max_parallel.unwrap_or(1).max(1) as usize;
    // An integration a crash interrupted starts over from the head it started from.
    let interrupted: Vec<String> = run
        .state
        .lanes
        .iter()
        .filter_map(|l| l.onto.clone())
        .collect();
    for onto in interrupted {
        run.wt.reset_hard(&onto)?;
    }
    for lane in &mut run.state.lanes {
        lane.onto = None;
    }
    run.wt.reset_hard("HEAD")?;
    run.state.lanes_used = true;
    run.save()?;

    let mut any_failed = false;
    let mut stop_new = false;
    let mut halt: Option<Halt> = None;
    std::thread::scope(|scope| -> Step<()> {
        let (tx, rx) = mpsc::channel::<LaneMsg>();
        let mut running: BTreeSet<String> = BTreeSet::new();
        loop {
            while halt.is_none() {
                let Some(id) = next_integration(&run.state, &running) else {
                    break;
                };
                match integrate(run, &id)? {
                    Integration::Done => {}
                    Integration::Again => {}
                    Integration::Failed => {
                        any_failed = true;
                        stop_new |= after_failure(run)?;
                    }
                }
            }
            if !stop_new && halt.is_none() {
                for id in schedule::ready_items(&run.state) {
                    if running.len() >= width {
                        break;
                    }
                    let waits = run
                        .state
                        .item(&id)
                        .is_some_and(|i| matches!(i.phase, Some(ItemPhase::Integrate { .. })));
                    if running.contains(&id) || waits {
                        continue;
                    }
                    let lane = open_lane(run, &id)?;
                    let setup_done = run.state.lanes.iter().any(|l| l.item == id && l.setup_done);
                    let mut lane_run = run.lane(&id, &lane, setup_done, tx.clone());
                    let done = tx.clone();
                    let item = id.clone();
                    scope.spawn(move || {
                        let end = match work_lane(&mut lane_run, &item) {
                            Ok(true) => LaneEnd::Passed,
                            Ok(false) => LaneEnd::Failed,
                            Err(Halt::Stop(why)) => LaneEnd::Stopped(why),
                            Err(Halt::Error(e)) => LaneEnd::Error(e),
                        };
                        let _ = done.send(LaneMsg::Done { item, end });
                    });
                    running.insert(id);
                }
            }
            if running.is_empty() {
                return Ok(());
            }
            // Every lane holds a sender until it sent `Done`, so this cannot hang up early.
            let msg = rx
                .recv()
                .map_err(|_| OrxError::internal("every lane hung up"))?;
            match msg {
                LaneMsg::Event(kind) => run.emit(kind)?,
                LaneMsg::Save {
                    item,
                    before,
                    now,
                    how,
                    ack,
                } => {
                    super::candidates::merge(&mut run.state, &item, &before, &now);
                    let saved = run.persist(how);
                    let answer = match &saved {
                        Ok(()) => Ok(run.state.usage.clone()),
                        Err(e) => Err(OrxError::internal(e.message.clone())),
                    };
                    let _ = ack.send(answer);
                    saved?;
                }
                LaneMsg::Done { item, end } => {
                    running.remove(&item);
                    match end {
                        LaneEnd::Passed => {}
                        LaneEnd::Failed => {
                            let ended = run
                                .state
                                .item(&item)
                                .is_some_and(|i| i.status.is_unfinished_end());
                            if ended {
                                close_lane(run, &item)?;
                            }
                            any_failed = true;
                            stop_new |= after_failure(run)?;
                        }
                        LaneEnd::Stopped(why) => {
                            stop_new = true;
                            halt.get_or_insert(Halt::Stop(why));
                        }
                        LaneEnd::Error(e) => {
                            // orx's own failure outweighs a stop.
                            stop_new = true;
                            if !matches!(halt, Some(Halt::Error(_))) {
                                halt = Some(Halt::Error(e));
                            }
                        }
                    }
                }
            }
        }
    })?;
    if let Some(h) = halt {
        return Err(h);
    }
    schedule::block_dependents(&mut run.state);
    run.save()?;
    // A failed item does not stop the others from shipping: the run ends `partial`.
    Ok(schedule::lanes_end(&run.state, any_failed && stop_new))
}

/// A lane's thread: set its worktree up (once), then work its item.
fn work_lane(lane: &mut Run<'_>, id: &str) -> Step<bool> {
    if let Some(passed) = super::candidates::race(lane, id)? {
        return Ok(passed);
    }
    if let Some(stop) = lane.prepare_lane()? {
        lane.fail(Stage::Implement, Some(id), stop.reason, stop.message);
        lane.save()?;
        return Ok(false);
    }
    run_item(lane, id)
}

/// After an item failed: block its dependents, and say whether no new lane may start.
fn after_failure(run: &mut Run<'_>) -> Result<bool> {
    schedule::block_dependents(&mut run.state);
    run.save()?;
    Ok(schedule::stop_after_failed_item(
        run.state.last_failure.as_ref(),
        run.config.run.stop_on_first_failure,
    ))
}

/// The next item to integrate: the first item in backlog order that holds a lane, when it is
/// waiting for its integration (and not when it is still at work).
fn next_integration(state: &RunState, running: &BTreeSet<String>) -> Option<String> {
    let first = state
        .items
        .iter()
        .find(|i| state.lanes.iter().any(|l| l.item == i.id))?;
    let waits = matches!(first.phase, Some(ItemPhase::Integrate { .. }));
    (waits && !running.contains(&first.id)).then(|| first.id.clone())
}

/// Open (or re-open) the lane of `id`: its worktree, its record in the state, and for an item
/// that had not started, its start at the run branch's head.
fn open_lane(run: &mut Run<'_>, id: &str) -> Result<WorktreeInfo> {
    let path = run.paths.lane_worktree(id);
    let branch = run.paths.lane_branch(id);
    let head = run.wt.head()?;
    let item = run
        .state
        .item(id)
        .cloned()
        .ok_or_else(|| OrxError::internal(format!("no item {id}")))?;
    let from = item.base_commit.clone().unwrap_or_else(|| head.clone());
    run.repo.add_worktree(&path, &branch, &from)?;
    let info = WorktreeInfo {
        path: path.clone(),
        branch: branch.clone(),
        base_branch: run.state.worktree.base_branch.clone(),
        base_sha: run.state.worktree.base_sha.clone(),
    };
    let fresh = item.status == ItemStatus::Pending;
    if fresh {
        if let Some(it) = run.state.item_mut(id) {
            it.status = ItemStatus::InProgress;
            it.base_commit = Some(head);
            it.phase = Some(ItemPhase::Agent { attempt: 1 });
        }
    }
    let phase = run
        .state
        .item(id)
        .and_then(|i| i.phase.clone())
        .unwrap_or(ItemPhase::Agent { attempt: 1 });
    if !run.state.lanes.iter().any(|l| l.item == id) {
        run.state.lanes.push(LaneState {
            item: id.to_string(),
            path: path.clone(),
            branch: branch.clone(),
            attempt: phase.attempt(),
            phase: phase.name().to_string(),
            onto: None,
            setup_done: false,
        });
    }
    run.save()?;
    if fresh {
        run.emit(EventKind::ItemStarted {
            item: id.to_string(),
            title: item.title.clone(),
        })?;
    }
    run.emit(EventKind::LaneStarted {
        item: id.to_string(),
        branch,
        worktree: path.display().to_string(),
    })?;
    Ok(info)
}

/// Remove the lane of `id`: its worktree and its record; its branch stays until `orx clean`.
fn close_lane(run: &mut Run<'_>, id: &str) -> Result<()> {
    if let Some(lane) = run.state.lanes.iter().find(|l| l.item == id).cloned() {
        run.repo.remove_worktree(&lane.path)?;
        // The lanes' folder goes with its last lane (removing a folder that is not empty fails).
        let _ = std::fs::remove_dir(run.paths.lanes_dir());
    }
    run.state.lanes.retain(|l| l.item != id);
    run.save()
}

/// Integrate the lane commit of `id` into the run branch and judge it there.
fn integrate(run: &mut Run<'_>, id: &str) -> Step<Integration> {
    let it = run
        .state
        .item(id)
        .cloned()
        .ok_or_else(|| OrxError::internal(format!("no item {id}")))?;
    let attempt = it.phase.as_ref().map_or(it.attempts, ItemPhase::attempt);
    let lane_commit = it
        .commit
        .clone()
        .ok_or_else(|| OrxError::state(format!("item {id} has no lane commit to integrate")))?;
    let onto = run.wt.head()?;
    if let Some(lane) = run.state.lanes.iter_mut().find(|l| l.item == id) {
        lane.onto = Some(onto.clone());
    }
    run.save()?;
    run.emit(EventKind::LaneIntegrating {
        item: id.to_string(),
        attempt,
        onto: onto.clone(),
    })?;
    let keep = run.paths.lane_wip_ref(id);
    let merged = run.wt.merge_onto(&onto, &lane_commit)?;
    let tree = match merged {
        Merged::Clean { tree } => tree,
        Merged::Conflict { tree, files } => {
            let markers = run
                .wt
                .commit_tree_on(&tree, &onto, "orx snapshot\n", &keep)?;
            conflict(run, id, attempt, &onto, &lane_commit, &files, &markers)?;
            return settle(run, id);
        }
    };
    let message = run.wt.message_of(&lane_commit)?;
    let commit = run
        .wt
        .commit_snapshot(&tree, &message, &run.state.worktree.branch)?;
    run.wt.reset_hard(&commit)?;
    let results = run_gates(run, id, attempt, "_integrated")?;
    // Gate byproducts never stay in the run's worktree.
    run.wt.reset_hard(&commit)?;
    let blocking: Vec<&GateResult> = results.iter().filter(|r| r.blocks()).collect();
    if !blocking.is_empty() {
        let (signature, message) = failure_of(&blocking);
        // The run branch goes back; the item goes back to its lane, rebased onto the head.
        run.wt.reset_hard(&onto)?;
        let snapshot = run
            .wt
            .commit_tree_on(&tree, &onto, "orx snapshot\n", &keep)?;
        if let Some(i) = run.state.item_mut(id) {
            i.base_commit = Some(onto.clone());
            i.snapshot = Some(snapshot);
            i.commit = None;
            i.gates = results.clone();
            i.note = Some(format!(
                "attempt {attempt} passed in its lane but failed on the run branch, with the \
                 items integrated before it"
            ));
        }
        judge_failure(
            run,
            id,
            attempt,
            signature,
            OrxFailure::GatesFailed,
            message,
            false,
        )?;
        return settle(run, id);
    }
    mark_done(run, id, attempt, &commit);
    if let Some(i) = run.state.item_mut(id) {
        i.gates = results;
    }
    close_lane(run, id)?;
    emit_passed(run, id, attempt, commit)?;
    Ok(Integration::Done)
}

/// After a failed integration was judged: the item ended (its lane closes) or goes again.
fn settle(run: &mut Run<'_>, id: &str) -> Step<Integration> {
    let ended = run
        .state
        .item(id)
        .is_some_and(|i| i.status.is_unfinished_end());
    if let Some(lane) = run.state.lanes.iter_mut().find(|l| l.item == id) {
        lane.onto = None;
    }
    if ended {
        close_lane(run, id)?;
        return Ok(Integration::Failed);
    }
    run.save()?;
    Ok(Integration::Again)
}

/// Integrating `id` conflicted in `files`: the item's next attempt resolves it in its lane,
/// starting from `markers` (the merged files with conflict markers, on `onto`), with both
/// sides of every conflicting file as evidence.
fn conflict(
    run: &mut Run<'_>,
    id: &str,
    attempt: u32,
    onto: &str,
    lane_commit: &str,
    files: &[String],
    markers: &str,
) -> Result<()> {
    let mut tail = String::new();
    for f in files {
        let side = |rev: &str| -> Result<String> {
            let text = run
                .wt
                .file_at(rev, f)?
                .unwrap_or_else(|| "(deleted)\n".into());
            Ok(head_of(&text, SIDE_BYTES).to_string())
        };
        tail.push_str(&format!(
            "--- {f} on the run branch (items integrated before this one):\n{}\n--- {f} in this item's change:\n{}\n",
            side(onto)?,
            side(lane_commit)?
        ));
    }
    let signature = format!("{CONFLICT_PREFIX}{}", files.join(","));
    let gate = GateResult {
        name: INTEGRATION_GATE.into(),
        required: true,
        passed: false,
        exit_code: None,
        duration_ms: 0,
        log: format!("artifacts/evidence_{id}_{attempt}.md"),
        tail,
        failures: files
            .iter()
            .map(|f| Failure {
                file: Some(f.clone()),
                line: None,
                code: Some("conflict".into()),
                message: "changed both on the run branch and by this item".into(),
            })
            .collect(),
        signature: Some(signature.clone()),
        error: None,
    };
    let message = format!(
        "integrating attempt {attempt} conflicts with the run branch in {}",
        files.join(", ")
    );
    if let Some(i) = run.state.item_mut(id) {
        i.base_commit = Some(onto.to_string());
        i.snapshot = Some(markers.to_string());
        i.commit = None;
        i.gates = vec![gate];
        i.note = Some(format!(
            "{message}; the files hold both sides between conflict markers"
        ));
    }
    judge_failure(
        run,
        id,
        attempt,
        signature,
        OrxFailure::MergeConflict,
        message,
        false,
    )?;
    if let Some(i) = run.state.item_mut(id) {
        if let Some(ItemPhase::Agent { attempt }) = i.phase {
            i.phase = Some(ItemPhase::Merge { attempt });
        }
    }
    run.save()
}
