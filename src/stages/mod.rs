//! One file per stage: what it asks the agent, what it produces, and how it shows success.
//!
//! Each stage is a function `run(&mut Run) -> Result<StageEnd>`. A stage that the agent or a
//! gate failed returns `Ok(StageEnd::Failed)` after recording `last_failure`, as state;
//! `Err` is reserved for orx's own failures and for an interrupt. A stage only reports `Done`
//! when it can point at what it produced: a non-empty context file, a valid backlog, a commit,
//! a parsed verdict, a patch.

pub mod decompose;
pub mod implement;
pub mod knowledge;
pub mod knowledge_blocks;
pub(crate) mod lessons;
pub mod review;
pub mod ship;
pub mod text;

use crate::agents::AgentOutcome;
use crate::backlog::Item;
use crate::runner::fsm::Stage;
use crate::runner::Run;
use crate::store::state::{ItemState, ItemStatus};

/// Record a failed agent call as the run's failure; returns the stage end to hand back.
pub(crate) fn agent_failed(
    run: &mut Run<'_>,
    stage: Stage,
    item: Option<&str>,
    outcome: &AgentOutcome,
) -> crate::runner::fsm::StageEnd {
    let kind = outcome.failure.map(|f| f.as_str()).unwrap_or("agent_error");
    let message = outcome
        .message
        .clone()
        .unwrap_or_else(|| format!("agent failed ({kind})"));
    run.fail(stage, item, kind, message);
    crate::runner::fsm::StageEnd::Failed
}

/// A backlog item as tracked in `state.json`.
pub(crate) fn item_state(def: &Item, review_round: u32) -> ItemState {
    ItemState {
        id: def.id.clone(),
        title: def.title.clone(),
        objective: def.objective.clone(),
        acceptance: def.acceptance.clone(),
        files_hint: def.files_hint.clone(),
        depends_on: def.depends_on.clone(),
        status: ItemStatus::Pending,
        attempts: 0,
        phase: None,
        base_commit: None,
        snapshot: None,
        commit: None,
        signatures: Vec::new(),
        gates: Vec::new(),
        fix_budget_start: 0,
        review_round,
        note: None,
    }
}

/// The item as the agent sees it in a prompt.
pub(crate) fn describe_item(i: &ItemState) -> String {
    let mut s = format!("**{}: {}**\n\n", i.id, i.title);
    if !i.objective.is_empty() {
        s.push_str(&format!("Objective: {}\n\n", i.objective));
    }
    if !i.acceptance.is_empty() {
        s.push_str("Acceptance:\n");
        for a in &i.acceptance {
            s.push_str(&format!("- {a}\n"));
        }
        s.push('\n');
    }
    if !i.files_hint.is_empty() {
        s.push_str(&format!(
            "Files likely involved: {}\n",
            i.files_hint.join(", ")
        ));
    }
    s
}
