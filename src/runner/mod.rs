//! The runner: drives one run through its pipeline, checkpointing every step.
//!
//! Two floors with the stages between them. Below the stages, the run context: [`Run`]
//! (`context`: emit, save, fail, prompt, route), the one agent call (`call`), rate-limit
//! waiting (`wait`), the guardrail check of the worktree (`guardrails`) and the hooks bound to
//! the run (`hooks`). Above them, the driver (`drive`: the loop that calls each stage, begins
//! and ends it, and finishes the run), what runs before the first stage (`prepare`), how
//! a run is started or resumed (`setup`), how a person takes an item over by hand
//! (`takeover`), and how a run stopped for approval goes on (`approval`). Pure decisions
//! have files of their own with unit tests: `fsm` (pipelines and transitions) and `schedule` (which backlog item goes next).

pub mod approval;
pub mod call;
pub mod context;
mod drive;
pub mod fsm;
mod guardrails;
mod hooks;
pub mod judge;
pub(crate) mod lane;
pub(crate) mod prepare;
pub mod schedule;
pub mod setup;
pub mod takeover;
pub mod wait;

pub use call::build_cli;
pub use context::{Halt, Run, Step};
pub use drive::{RunOutcome, AWAITING_APPROVAL_EXIT};
