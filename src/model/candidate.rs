//! The vocabulary of best-of-N candidates: the key a candidate works its item under, and how
//! the candidate that ships was chosen (`state::CandidateState` and `state::CandidateChoice`
//! are the records `state.json` keeps).
//!
//! A candidate works a copy of its item under a key of its own, `<item>+c<n>` ([`key`]): `+`
//! is not allowed in a backlog item id, so a candidate's worktree, branch, snapshot ref,
//! prompts and logs, all named after the key, can never collide with an item's. The copy
//! (`CandidateState::work`) moves through the same phases as an item in a lane, so a resume
//! re-enters each candidate from its own checkpoint.

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

/// How a person reads the key an event names: `W001 candidate 2` for a candidate's key, the
/// item id itself otherwise.
pub fn label(key: &str) -> std::borrow::Cow<'_, str> {
    match parse_key(key) {
        Some((item, n)) => format!("{item} candidate {n}").into(),
        None => key.into(),
    }
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
            assert_eq!(label(id), id);
        }
        assert_eq!(label("W001+c2"), "W001 candidate 2");
    }
}
