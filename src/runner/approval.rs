//! Approval checkpoints: going on from a run that stopped for a person, or running the
//! stage again with their feedback.
//!
//! The driver stops a run after a stage named in `run.approve` (status `awaiting_approval`,
//! the stage and its end kept in `state.checkpoint`, the lock let go). What the stage produced
//! is a file in the run folder ([`output_of`]), which the person may edit before approving.
//! [`approve`] reads that file back and validates it exactly as the stage validates its
//! agent's answer ([`check_output`]) *before* anything of the run changes: an invalid edit is
//! a usage error naming the file, and the run stays awaiting approval with every file as it
//! was. A valid edit is used as it stands (the backlog's items and the review's verdict are
//! taken from it), and the run moves on as if the stage had just ended. [`reject`] puts the
//! stage back to pending with the feedback in `state.feedback`, which the one agent call adds
//! to the stage's prompt until the stage ends done; the stage then stops for approval again.
//! Both rebuild the run through `setup::reopen`, as `orx resume` does, so locking, worktree
//! checks and the resumed event are the same.

use std::path::Path;

use super::context::stage_end;
use super::setup::reopen;
use super::RunOutcome;
use crate::backlog::{parse_backlog, validate, Backlog};
use crate::error::{OrxError, Result};
use crate::model::state::{Checkpoint, StageFeedback};
use crate::model::{EventKind, RunState, Stage, StageEnd, StageStatus};
use crate::report::Reporter;
use crate::stages::review::{apply_verdict, reply_name};
use crate::store::RunPaths;
use crate::verdict::{parse_verdict, Verdict};

/// What a person reads (and may edit) at `stage`'s checkpoint, relative to the run folder.
pub fn output_of(state: &RunState, stage: Stage) -> String {
    match stage {
        Stage::Plan => "context/plan.md".to_string(),
        Stage::Spec => "context/spec.md".to_string(),
        Stage::Decompose => "context/backlog.yaml".to_string(),
        Stage::Review => format!("artifacts/{}", reply_name(state.review_rounds)),
        Stage::Implement | Stage::Verify | Stage::Ship | Stage::Knowledge => {
            "artifacts/patch.diff".to_string()
        }
    }
}

/// A stage's output as a person left it, validated.
#[derive(Debug)]
pub enum Edited {
    /// Plain text (plan, spec) or an output orx does not read back (ship's patch).
    Kept,
    Backlog(Backlog),
    Verdict(Verdict),
}

/// Validate `text`, the output of `stage` found at `shown`, as the stage validates its agent's
/// answer: a plan or spec must say something, a backlog must parse and hold together, a
/// review must end with a verdict.
pub fn check_output(stage: Stage, shown: &str, text: &str) -> Result<Edited> {
    let invalid = |what: String| {
        OrxError::usage(format!("{shown}: {what}")).with_hint(
            "fix the file and approve again (the run still awaits approval), or run the stage again with `orx reject <id> --feedback TEXT`",
        )
    };
    match stage {
        Stage::Plan | Stage::Spec if text.trim().is_empty() => Err(invalid(format!(
            "the {stage} is empty; write the {stage} in it"
        ))),
        Stage::Decompose => parse_backlog(text)
            .and_then(|b| validate(&b).map(|_| b))
            .map(Edited::Backlog)
            .map_err(invalid),
        Stage::Review => parse_verdict(text)
            .map(Edited::Verdict)
            .map_err(|e| invalid(format!("no usable verdict: {e}"))),
        _ => Ok(Edited::Kept),
    }
}

/// The checkpoint of a run that awaits approval, or the error saying it does not. The
/// recorded checkpoint decides, not the status: an `orx approve` that died after taking the
/// run (status `running` or `interrupted`) but before going past the stage left the run where
/// it was, at its checkpoint.
fn awaiting(state: &RunState, run_id: &str) -> Result<Checkpoint> {
    match &state.checkpoint {
        Some(c) => Ok(c.clone()),
        None => Err(OrxError::state(format!(
            "run {run_id} is not awaiting approval (it is {})",
            state.status
        ))
        .with_hint(
            "only a run stopped at an approval checkpoint (run.approve, --approve) can be approved or rejected; see `orx status`",
        )),
    }
}

/// Read `stage`'s output from the run folder and validate it.
fn read_output(state: &RunState, paths: &RunPaths, stage: Stage) -> Result<Edited> {
    let rel = output_of(state, stage);
    if matches!(
        stage,
        Stage::Ship | Stage::Implement | Stage::Verify | Stage::Knowledge
    ) {
        return Ok(Edited::Kept);
    }
    let path = paths.dir.join(&rel);
    let shown = format!("runs/{}/{rel}", paths.id);
    let text = std::fs::read(&path).map_err(|e| {
        OrxError::usage(format!("{shown} cannot be read: {e}"))
            .with_hint("put the stage's output back in that file, or reject the stage")
    })?;
    let text = String::from_utf8(text).map_err(|_| {
        OrxError::usage(format!("{shown} is not UTF-8 text")).with_hint("save it as UTF-8")
    })?;
    check_output(stage, &shown, &text)
}

/// `orx approve`: use the (possibly edited) output of the stage the run stopped after, and go
/// on from the next stage.
pub fn approve(dir: &Path, run_id: &str, reporter: &mut dyn Reporter) -> Result<RunOutcome> {
    let mut approved = None;
    let mut run = reopen(dir, run_id, reporter, |state, paths| {
        let checkpoint = awaiting(state, run_id)?;
        let edited = read_output(state, paths, checkpoint.stage)?;
        approved = Some((checkpoint, edited));
        Ok(())
    })?;
    let Some((checkpoint, edited)) = approved else {
        return Err(OrxError::internal("the approval checkpoint was not read"));
    };
    let stage = checkpoint.stage;
    run.emit(EventKind::Approved { stage })?;
    let mut end = if checkpoint.changes_requested {
        StageEnd::ChangesRequested
    } else {
        StageEnd::Done
    };
    match edited {
        Edited::Kept => {}
        Edited::Backlog(backlog) => {
            run.state.items = backlog
                .items
                .iter()
                .map(|i| crate::stages::item::item_state(i, 0))
                .collect();
            run.save()?;
            let ids = backlog.items.iter().map(|i| i.id.clone()).collect();
            run.emit(EventKind::BacklogReady { items: ids })?;
        }
        Edited::Verdict(verdict) => {
            let round = run.state.review_rounds;
            end = stage_end(apply_verdict(&mut run, round, &verdict))?;
        }
    }
    run.continue_after(stage, end)
}

/// `orx reject`: run the stage the run stopped after again, with `feedback` in its prompt; it
/// stops for approval again when it ends.
pub fn reject(
    dir: &Path,
    run_id: &str,
    feedback: &str,
    reporter: &mut dyn Reporter,
) -> Result<RunOutcome> {
    if feedback.trim().is_empty() {
        return Err(OrxError::usage("the feedback is empty")
            .with_hint("say what to change: --feedback \"split the parser into its own item\""));
    }
    let mut rejected = None;
    let mut run = reopen(dir, run_id, reporter, |state, _| {
        let checkpoint = awaiting(state, run_id)?;
        let stage = checkpoint.stage;
        match stage {
            Stage::Review => {
                let round = state.review_rounds;
                state.items.retain(|i| i.review_round != round);
                state.review_rounds = round.saturating_sub(1);
            }
            Stage::Decompose => {
                state.items.clear();
                state.decompose_budget_start = state.decompose_attempts;
            }
            _ => {}
        }
        if let Some(rec) = state.stage_mut(stage) {
            rec.status = StageStatus::Pending;
        }
        state.current_stage = Some(stage);
        state.current_item = None;
        state.checkpoint = None;
        state.feedback = Some(StageFeedback {
            stage,
            text: feedback.to_string(),
        });
        rejected = Some(stage);
        Ok(())
    })?;
    let Some(stage) = rejected else {
        return Err(OrxError::internal("the approval checkpoint was not read"));
    };
    run.emit(EventKind::Rejected {
        stage,
        feedback: feedback.to_string(),
    })?;
    run.drive()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_stage_points_at_the_file_it_wrote() {
        let mut state = RunState::blank();
        assert_eq!(output_of(&state, Stage::Plan), "context/plan.md");
        assert_eq!(output_of(&state, Stage::Decompose), "context/backlog.yaml");
        state.review_rounds = 1;
        assert_eq!(output_of(&state, Stage::Review), "artifacts/review.md");
        state.review_rounds = 2;
        assert_eq!(output_of(&state, Stage::Review), "artifacts/review_2.md");
        assert_eq!(output_of(&state, Stage::Ship), "artifacts/patch.diff");
    }

    #[test]
    fn edited_outputs_are_validated_as_the_agents_answers_are() {
        let e = check_output(Stage::Plan, "runs/r/context/plan.md", " \n").unwrap_err();
        assert!(e
            .message
            .starts_with("runs/r/context/plan.md: the plan is empty"));
        assert!(matches!(
            check_output(Stage::Spec, "s", "# Spec").unwrap(),
            Edited::Kept
        ));
        let e = check_output(
            Stage::Decompose,
            "b",
            "items:\n  - id: A\n    title: a\n    depends_on: [A]\n",
        )
        .unwrap_err();
        assert!(e.message.contains("depends on itself"), "{}", e.message);
        let e = check_output(Stage::Review, "v", "looks fine").unwrap_err();
        assert!(
            e.message.starts_with("v: no usable verdict"),
            "{}",
            e.message
        );
        let ok = "```json\n{\"verdict\": \"approved\", \"summary\": \"s\", \"changes\": []}\n```";
        assert!(matches!(
            check_output(Stage::Review, "v", ok).unwrap(),
            Edited::Verdict(_)
        ));
    }
}
