//! The stages of a run and how a stage can end.
//!
//! [`Stage`] names a step of the pipeline (its name is what `state.json`, events and hooks
//! carry); [`StageEnd`] is what a stage hands back to the driver, which asks the pure
//! `runner::fsm::next` where to go. A stop ([`Stop`]: an interrupt, a crossed budget) is one
//! of those ends, a value like the others, so that only orx's own failures travel as errors.

string_enum! {
    #[derive(PartialOrd, Ord)]
    pub enum Stage {
        Plan = "plan",
        Spec = "spec",
        Decompose = "decompose",
        Implement = "implement",
        Verify = "verify",
        Review = "review",
        Ship = "ship",
        Knowledge = "knowledge",
    }
}

impl Stage {
    /// A stage by name; `knowledge_update` (the stage key of its agent call) is accepted for
    /// `knowledge`.
    pub fn parse(s: &str) -> Option<Stage> {
        Stage::from_name(s).or(match s {
            "knowledge_update" => Some(Stage::Knowledge),
            _ => None,
        })
    }

    /// The stages a run can stop after for a person's approval (`run.approve`, `--approve`).
    pub const APPROVABLE: [Stage; 5] = [
        Stage::Plan,
        Stage::Spec,
        Stage::Decompose,
        Stage::Review,
        Stage::Ship,
    ];
}

string_enum! {
    /// Why a run stopped before its end without failing: it can be resumed as it is.
    pub enum Stop {
        /// Ctrl-C, SIGTERM or `orx cancel`.
        Interrupted = "interrupted",
        /// `run.max_budget_usd`, `run.max_tokens` or a stage's `max_turns` was crossed.
        BudgetExceeded = "budget_exceeded",
    }
}

/// How a stage ended, as far as the FSM cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageEnd {
    Done,
    /// Review asked for changes and rounds remain: new items were added.
    ChangesRequested,
    Failed,
    /// The stage was turned off in config; the run moves on as after `Done`.
    Skipped,
    /// The run stops here, with the stage left to re-enter on resume.
    Stopped(Stop),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_are_written_and_read_by_one_name() {
        for st in Stage::ALL {
            let json = serde_json::to_string(st).unwrap();
            assert_eq!(json, format!("\"{}\"", st.as_str()));
            assert_eq!(serde_json::from_str::<Stage>(&json).unwrap(), *st);
            assert_eq!(Stage::parse(&st.to_string()), Some(*st));
        }
        assert_eq!(Stage::parse("knowledge_update"), Some(Stage::Knowledge));
        let e = serde_json::from_str::<Stage>("\"deploy\"").unwrap_err();
        assert!(e.to_string().contains("unknown variant `deploy`"), "{e}");
    }
}
