//! The link between a parallel lane and the scheduler that owns the run: the messages a lane
//! sends, and the pure merge of a lane's checkpoint into the run's state.
//!
//! A lane is a [`Run`](super::Run) of its own, working one backlog item in its own worktree on
//! a copy of the run's state, so the implement loop runs in it unchanged. It writes nothing
//! itself: its events and checkpoints travel over a channel to the scheduler thread, the one
//! writer of `events.jsonl` and `state.json`, so every checkpoint on disk is one consistent
//! state whatever the lanes do at once. A checkpoint is a pair of states, the lane's copy at its
//! previous checkpoint and now; [`merge_lane`] applies what changed between them to the run's
//! state: the lane's item as a whole, and the growth of counters (usage, stage attempts and
//! time), sessions and fallbacks that other lanes grow too. The lane waits until the scheduler
//! has written the checkpoint before it goes on, so "checkpoint before acting" holds in a lane,
//! and takes back the run's usage, so its next budget check counts every lane's spending.

use std::sync::mpsc::{self, Sender};

use crate::error::{OrxError, Result};
use crate::model::{EventKind, RunState, Stop, Usage};
use crate::store::journal::Durability;

/// What a lane tells the scheduler.
pub enum LaneMsg {
    /// An event to append to the run's log.
    Event(EventKind),
    /// A checkpoint: the lane's state at its previous checkpoint and now; `ack` answers once
    /// `state.json` holds it, with the run's usage of every lane so far.
    Save {
        item: String,
        before: Box<RunState>,
        now: Box<RunState>,
        /// How the scheduler records it: a progress note, or durably.
        how: Durability,
        ack: Sender<Result<Usage>>,
    },
    /// The lane's item ended its work in the lane.
    Done { item: String, end: LaneEnd },
}

/// How a lane's work on its item ended.
pub enum LaneEnd {
    /// It passed its gates and its commit waits to be integrated.
    Passed,
    /// It failed (its failure is recorded in the state).
    Failed,
    /// An interrupt or a crossed budget stopped it, resumable.
    Stopped(Stop),
    /// orx itself could not go on.
    Error(OrxError),
}

/// A lane's end of the channel, with the state of its last checkpoint.
pub struct LaneLink {
    item: String,
    tx: Sender<LaneMsg>,
    base: RunState,
}

fn scheduler_gone() -> OrxError {
    OrxError::internal("the lane scheduler stopped listening")
}

impl LaneLink {
    pub fn new(item: &str, tx: Sender<LaneMsg>, state: &RunState) -> LaneLink {
        LaneLink {
            item: item.to_string(),
            tx,
            base: state.clone(),
        }
    }

    pub fn item(&self) -> &str {
        &self.item
    }

    /// Another sender to the scheduler, for the lanes this lane opens (its candidates).
    pub fn sender(&self) -> Sender<LaneMsg> {
        self.tx.clone()
    }

    pub fn event(&self, kind: EventKind) -> Result<()> {
        self.tx
            .send(LaneMsg::Event(kind))
            .map_err(|_| scheduler_gone())
    }

    /// Hand the changes since the last checkpoint to the scheduler and wait until written.
    /// The lane's usage becomes the run's (every lane's), so its budget checks see it all.
    pub fn save(&mut self, state: &mut RunState, how: Durability) -> Result<()> {
        let (ack, written) = mpsc::channel();
        self.tx
            .send(LaneMsg::Save {
                item: self.item.clone(),
                before: Box::new(self.base.clone()),
                now: Box::new(state.clone()),
                how,
                ack,
            })
            .map_err(|_| scheduler_gone())?;
        state.usage = written.recv().map_err(|_| scheduler_gone())??;
        self.base = state.clone();
        Ok(())
    }
}

/// What `now` used beyond `before` (counters only grow; a smaller value counts as nothing).
fn usage_since(now: &Usage, before: &Usage) -> Usage {
    Usage {
        input_tokens: now.input_tokens.saturating_sub(before.input_tokens),
        output_tokens: now.output_tokens.saturating_sub(before.output_tokens),
        cache_read_tokens: now
            .cache_read_tokens
            .saturating_sub(before.cache_read_tokens),
        cache_write_tokens: now
            .cache_write_tokens
            .saturating_sub(before.cache_write_tokens),
        cost_usd: (now.cost_usd - before.cost_usd).max(0.0),
        cost_estimated: now.cost_estimated && !before.cost_estimated,
    }
}

/// Apply a lane's checkpoint (its state `before` and `now`) for `item` to the run's `master`
/// state: the item itself, the growth of usage and stage counters, new sessions, fallbacks and
/// failures, and the lane's attempt and phase.
pub fn merge_lane(master: &mut RunState, item: &str, before: &RunState, now: &RunState) {
    if let (Some(m), Some(n)) = (
        master.items.iter_mut().find(|i| i.id == item),
        now.item(item),
    ) {
        *m = n.clone();
    }
    master.usage.add(&usage_since(&now.usage, &before.usage));
    for rec in &now.stages {
        let Some(old) = before.stage(rec.stage) else {
            continue;
        };
        let Some(m) = master.stage_mut(rec.stage) else {
            continue;
        };
        m.attempts += rec.attempts.saturating_sub(old.attempts);
        m.duration_ms += rec.duration_ms.saturating_sub(old.duration_ms);
        m.usage.add(&usage_since(&rec.usage, &old.usage));
        if rec.status != old.status {
            m.status = rec.status;
        }
        if m.started_at.is_none() {
            m.started_at = rec.started_at.clone();
        }
    }
    for (k, v) in &now.sessions {
        if before.sessions.get(k) != Some(v) {
            master.sessions.insert(k.clone(), v.clone());
        }
    }
    for (k, v) in &now.session_meta {
        if before.session_meta.get(k) != Some(v) {
            master.session_meta.insert(k.clone(), v.clone());
        }
    }
    if now.fallbacks.len() > before.fallbacks.len() {
        master
            .fallbacks
            .extend_from_slice(&now.fallbacks[before.fallbacks.len()..]);
    }
    if now.last_failure != before.last_failure {
        master.last_failure = now.last_failure.clone();
    }
    let phase = now.item(item).and_then(|i| i.phase.clone());
    if let Some(lane) = master.lanes.iter_mut().find(|l| l.item == item) {
        // A lane's state carries its own worktree's set-up flag.
        lane.setup_done |= now.worktree_setup_done;
        if let Some(phase) = phase {
            lane.attempt = phase.attempt();
            lane.phase = phase.name().to_string();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::state::{ItemState, LaneState, StageRecord};
    use crate::model::{ItemPhase, ItemStatus, Stage, StageStatus};

    fn base() -> RunState {
        let mut s = RunState::blank();
        s.items = vec![ItemState::new("A", "a"), ItemState::new("B", "b")];
        s.stages = vec![StageRecord {
            stage: Stage::Verify,
            status: StageStatus::Pending,
            started_at: None,
            finished_at: None,
            attempts: 0,
            duration_ms: 0,
            usage: Usage::default(),
        }];
        s.lanes = ["A", "B"]
            .iter()
            .map(|i| LaneState {
                item: i.to_string(),
                path: format!("/l/{i}").into(),
                branch: format!("orx/r.lanes/{i}"),
                attempt: 1,
                phase: "agent".into(),
                onto: None,
                setup_done: false,
            })
            .collect();
        s
    }

    /// Lane `id` spends `tokens`, runs the gates once and moves to verify.
    fn lane_step(from: &RunState, id: &str, tokens: u64) -> RunState {
        let mut now = from.clone();
        now.usage.input_tokens += tokens;
        now.stages[0].attempts += 1;
        now.stages[0].status = StageStatus::Running;
        let it = now.item_mut(id).unwrap();
        it.status = ItemStatus::InProgress;
        it.phase = Some(ItemPhase::Verify { attempt: 1 });
        now.sessions
            .insert(format!("implement:{id}"), format!("s-{id}"));
        now
    }

    #[test]
    fn two_lanes_checkpoints_add_up_and_each_keeps_its_own_item() {
        let start = base();
        let mut master = start.clone();
        let a = lane_step(&start, "A", 10);
        let b = lane_step(&start, "B", 5);
        merge_lane(&mut master, "A", &start, &a);
        merge_lane(&mut master, "B", &start, &b);
        assert_eq!(master.usage.input_tokens, 15);
        assert_eq!(master.stages[0].attempts, 2);
        assert_eq!(master.stages[0].status, StageStatus::Running);
        for id in ["A", "B"] {
            assert_eq!(
                master.item(id).unwrap().phase,
                Some(ItemPhase::Verify { attempt: 1 })
            );
            assert_eq!(
                master.sessions[&format!("implement:{id}")],
                format!("s-{id}")
            );
        }
        assert_eq!(master.lanes[1].phase, "verify");
        // A second checkpoint of A counts only what grew since its first.
        let a2 = lane_step(&a, "A", 1);
        merge_lane(&mut master, "A", &a, &a2);
        assert_eq!(master.usage.input_tokens, 16);
        assert_eq!(master.stages[0].attempts, 3);
        assert_eq!(
            master.item("B").unwrap().status,
            ItemStatus::InProgress,
            "A's checkpoint does not roll B back"
        );
    }
}
