//! Decompose: the agent splits the spec into backlog items, which orx validates.
//!
//! The answer must parse as a backlog with unique ids, known dependencies and no cycles. An
//! invalid answer gets exactly one retry, with the validation error as feedback in the prompt;
//! a second invalid answer fails the run with that error. The retry count lives in
//! `state.decompose_attempts`, so a resume does not grant extra tries; a person rejecting the
//! backlog (`orx reject`) starts a new budget at `state.decompose_budget_start`.

use crate::agents::Mode;
use crate::backlog::{parse_backlog, to_yaml, validate, Backlog};
use crate::error::OrxError;
use crate::model::event::EventKind;
use crate::model::{OrxFailure, Stage, StageEnd};
use crate::runner::{Run, Step};

const MAX_TRIES: u32 = 2;

pub fn run(run: &mut Run<'_>) -> Step<StageEnd> {
    loop {
        let n = run.state.decompose_attempts + 1;
        let tries = n.saturating_sub(run.state.decompose_budget_start);
        let mut vars = run.base_vars();
        let feedback = match (&run.state.last_failure, tries) {
            (Some(f), tries) if tries > 1 && f.reason == OrxFailure::InvalidBacklog => format!(
                "\n## Your previous answer was rejected\n\n{}\n\nReturn a corrected YAML block.\n",
                f.message
            ),
            _ => String::new(),
        };
        vars.insert("feedback", feedback);
        let prompt = run.prompt("decompose", &vars)?;
        let outcome = run.call_agent("decompose", None, n, Mode::Text, prompt)?;
        if !outcome.succeeded() {
            return Ok(run.fail_agent(Stage::Decompose, None, &outcome));
        }
        let parsed: std::result::Result<Backlog, String> =
            parse_backlog(&outcome.final_text).and_then(|b| validate(&b).map(|_| b));
        run.state.decompose_attempts = n;
        match parsed {
            Ok(backlog) => {
                let path = run.paths.context("backlog.yaml");
                std::fs::write(&path, run.redact(&to_yaml(&backlog)).as_bytes())
                    .map_err(|e| OrxError::io("write", &path, e))?;
                run.state.items = backlog
                    .items
                    .iter()
                    .map(|i| super::item::item_state(i, 0))
                    .collect();
                if run
                    .state
                    .last_failure
                    .as_ref()
                    .is_some_and(|f| f.reason == OrxFailure::InvalidBacklog)
                {
                    run.state.last_failure = None;
                }
                run.save()?;
                let ids = backlog.items.iter().map(|i| i.id.clone()).collect();
                run.emit(EventKind::BacklogReady { items: ids })?;
                return Ok(StageEnd::Done);
            }
            Err(err) => {
                run.fail(
                    Stage::Decompose,
                    None,
                    OrxFailure::InvalidBacklog,
                    err.clone(),
                );
                run.save()?;
                run.warn(format!("decompose answer {n} rejected: {err}"))?;
                if tries >= MAX_TRIES {
                    return Ok(StageEnd::Failed);
                }
            }
        }
    }
}
