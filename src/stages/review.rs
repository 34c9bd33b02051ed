//! Review: a read-only agent judges the whole change and returns a machine-readable verdict.
//!
//! The verdict is the last fenced ```json block of the reply. A reply without a parseable
//! verdict is a failure, never an approval. `changes_requested` turns each requested change
//! into a new backlog item and sends the run back to implement, for at most
//! `run.max_review_rounds` rounds; a review that still wants changes after that fails the run
//! (the work stays committed on the run branch).

use crate::agents::Mode;
use crate::backlog::Item;
use crate::error::OrxError;
use crate::model::event::EventKind;
use crate::model::{OrxFailure, Stage, StageEnd, VerdictKind};
use crate::runner::{Run, Step};
use crate::verdict::{parse_verdict, Verdict};

pub fn run(run: &mut Run<'_>) -> Step<StageEnd> {
    let round = run.state.review_rounds + 1;
    let mut vars = run.base_vars();
    let diff = run.wt.diff(&run.state.worktree.base_sha, "HEAD")?;
    vars.insert("diff", diff);
    vars.insert("review_round", round.to_string());
    vars.insert("backlog", backlog_summary(run));
    let prompt = run.prompt("review", &vars)?;
    let outcome = run.call_agent("review", None, round, Mode::Text, prompt)?;
    if !outcome.succeeded() {
        return Ok(run.fail_agent(Stage::Review, None, &outcome));
    }
    let path = run.paths.artifact(&reply_name(round));
    std::fs::write(&path, run.redact(&outcome.final_text).as_bytes())
        .map_err(|e| OrxError::io("write", &path, e))?;
    let verdict = match parse_verdict(&outcome.final_text) {
        Ok(v) => v,
        Err(e) => {
            run.fail(
                Stage::Review,
                None,
                OrxFailure::NoVerdict,
                format!("review round {round} gave no usable verdict: {e}"),
            );
            return Ok(StageEnd::Failed);
        }
    };
    apply_verdict(run, round, &verdict)
}

/// The name of review round `round`'s reply under `artifacts/`.
pub fn reply_name(round: u32) -> String {
    if round <= 1 {
        "review.md".to_string()
    } else {
        format!("review_{round}.md")
    }
}

/// Act on round `round`'s verdict: record it, and for `changes_requested` add an item per
/// change (or fail once the rounds are spent). The items a previous application of the same
/// round added are replaced, so a person's edited verdict is applied as if the reviewer had
/// written it.
pub fn apply_verdict(run: &mut Run<'_>, round: u32, verdict: &Verdict) -> Step<StageEnd> {
    run.state.items.retain(|i| i.review_round != round);
    run.state.review_rounds = round;
    run.state.review_summary = Some(verdict.summary.clone());
    run.save()?;
    run.emit(EventKind::ReviewVerdict {
        verdict: verdict.verdict,
        summary: verdict.summary.clone(),
        changes: verdict.changes.len(),
        round,
    })?;
    if verdict.verdict == VerdictKind::Approved {
        return Ok(StageEnd::Done);
    }
    if round > run.config.run.max_review_rounds {
        run.fail(
            Stage::Review,
            None,
            OrxFailure::ChangesRequested,
            format!(
                "review still requests changes after {} round(s) (run.max_review_rounds = {}): {}",
                round, run.config.run.max_review_rounds, verdict.summary
            ),
        );
        return Ok(StageEnd::Failed);
    }
    for (k, change) in verdict.changes.iter().enumerate() {
        let def = Item {
            id: format!("R{round}-{:02}", k + 1),
            title: change.title.clone(),
            objective: if change.objective.is_empty() {
                change.title.clone()
            } else {
                change.objective.clone()
            },
            acceptance: Vec::new(),
            files_hint: change.files_hint.clone(),
            depends_on: Vec::new(),
        };
        run.state.items.push(super::item::item_state(&def, round));
    }
    run.save()?;
    Ok(StageEnd::ChangesRequested)
}

fn backlog_summary(run: &Run<'_>) -> String {
    run.state
        .items
        .iter()
        .map(|i| format!("- {} [{}] {}", i.id, i.status, i.title))
        .collect::<Vec<_>>()
        .join("\n")
}
