//! One file per stage: what it asks the agent, what it produces, and how it shows success.
//!
//! Every stage has one entry point of one shape, [`Entry`]: `fn(&mut Run) -> Step<StageEnd>`,
//! and [`entry`] names it for a stage; the driver (`runner/drive.rs`) is the only caller. A
//! stage works on the run context below it and never sees the loop that runs it. A stage
//! that the agent or a gate failed returns `Ok(StageEnd::Failed)` after recording
//! `last_failure`; an interrupt or a crossed budget comes back as a stop (`Halt::Stop`), a
//! value the driver turns into a resumable end; `Err` is reserved for orx's own failures. A
//! stage only reports `Done` when it can point at what it produced: a non-empty context file,
//! a valid backlog, a commit, a parsed verdict, a patch.

pub(crate) mod candidates;
pub mod decompose;
pub mod implement;
pub(crate) mod item;
pub mod knowledge;
pub mod knowledge_blocks;
pub(crate) mod lanes;
pub(crate) mod lessons;
pub mod review;
pub mod ship;
pub mod text;

use crate::model::{Stage, StageEnd};
use crate::runner::{Run, Step};

/// The one entry point every stage has.
pub type Entry = fn(&mut Run<'_>) -> Step<StageEnd>;

/// The entry point of `stage`. Implement and verify are one loop per item, so they share it.
pub fn entry(stage: Stage) -> Entry {
    match stage {
        Stage::Plan => text::plan,
        Stage::Spec => text::spec,
        Stage::Decompose => decompose::run,
        Stage::Implement | Stage::Verify => implement_or_lanes,
        Stage::Review => review::run,
        Stage::Ship => ship::run,
        Stage::Knowledge => knowledge::run,
    }
}

/// Whether implement runs in lanes: asked for (or already begun) as parallel items or as
/// candidates of an item.
pub fn in_lanes(state: &crate::model::RunState) -> bool {
    lanes::wanted(state) || candidates::wanted(state)
}

/// Implement and verify: one item after another in the run's worktree, or in parallel lanes.
fn implement_or_lanes(run: &mut Run<'_>) -> Step<StageEnd> {
    if in_lanes(&run.state) {
        lanes::run(run)
    } else {
        implement::run(run)
    }
}
