//! A backlog item as the stages see it: the state entry a backlog item starts as, and the
//! description the agent reads in its prompt.

use crate::backlog::Item;
use crate::model::state::ItemState;

/// A backlog item as tracked in `state.json`.
pub(crate) fn item_state(def: &Item, review_round: u32) -> ItemState {
    ItemState {
        objective: def.objective.clone(),
        acceptance: def.acceptance.clone(),
        files_hint: def.files_hint.clone(),
        depends_on: def.depends_on.clone(),
        review_round,
        ..ItemState::new(def.id.clone(), def.title.clone())
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
