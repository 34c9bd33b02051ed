//! Best-of-N candidates as `state.json` records them: each candidate of an item (its number,
//! executor, lane, phase and whether it passed, with its own copy of the item's progress), and
//! the choice made among those that passed.
//!
//! A candidate works a copy of its item under a key of its own, `<item>+c<n>` ([`key`]): `+`
//! is not allowed in a backlog item id, so a candidate's worktree, branch, snapshot ref,
//! prompts and logs, all named after the key, can never collide with an item's. The copy
//! ([`CandidateState::work`]) moves through the same phases as an item in a lane, so a resume
//! re-enters each candidate from its own checkpoint.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::state::ItemState;

/// The key a candidate's copy of `item` is worked under: `<item>+c<n>`.
pub fn key(item: &str, n: u32) -> String {
    format!("{item}+c{n}")
}

/// The item and candidate number of a candidate key; `None` for an item id.
pub fn parse_key(key: &str) -> Option<(&str, u32)> {
    let (item, n) = key.rsplit_once("+c")?;
    let n = n.parse().ok()?;
    (!item.is_empty() && n > 0).then_some((item, n))
}

/// One candidate of an item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateState {
    pub item: String,
    /// 1-based.
    pub n: u32,
    /// The executor its implement and fix calls go to.
    pub executor: String,
    /// Its worktree (`.worktrees/<run_id>.lanes/<item>+c<n>`), removed once the choice is made.
    pub path: PathBuf,
    /// Its branch (`orx/<run_id>.lanes/<item>+c<n>`), deleted once the choice is made; the
    /// ref `refs/orx/<run_id>/candidates/<item>/<n>` keeps its work until `orx clean`.
    pub branch: String,
    /// Its attempt, as its phase last recorded it.
    pub attempt: u32,
    /// Its phase while it works (agent, verify, commit, integrate, merge), then `passed`,
    /// `failed` or `stopped` (a budget ran out before it finished).
    pub phase: String,
    /// Whether it passed every gate; `None` while it works.
    #[serde(default)]
    pub passed: Option<bool>,
    /// Lines its change adds and removes (for a candidate that passed).
    #[serde(default)]
    pub diff_lines: Option<u64>,
    /// `worktree.copy` and `worktree.setup` ran for its worktree.
    #[serde(default)]
    pub setup_done: bool,
    /// Its copy of the item, under its key: attempts, phase, snapshot, commit, gates.
    pub work: ItemState,
}

string_enum! {
    /// How the candidate an item ships was chosen.
    pub enum ChoiceHow {
        /// The judge call named it.
        Judge = "judge",
        /// The smallest diff among those that passed (then the lowest number): the judge gave
        /// no usable answer, or could not be asked.
        SmallestDiff = "smallest_diff",
        /// It was the only one that passed.
        OnlyOne = "only_one",
    }
}

/// The candidate chosen for an item, how, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateChoice {
    pub item: String,
    pub n: u32,
    pub how: ChoiceHow,
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_item_ids_are_not_keys() {
        assert_eq!(key("W001", 2), "W001+c2");
        assert_eq!(parse_key("W001+c2"), Some(("W001", 2)));
        assert_eq!(parse_key("a.b+c12"), Some(("a.b", 12)));
        for id in ["W001", "W001.c2", "+c2", "W001+c0", "W001+cx"] {
            assert_eq!(parse_key(id), None, "{id}");
        }
    }
}
