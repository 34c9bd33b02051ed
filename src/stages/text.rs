//! Plan and spec: read-only agent calls whose answer becomes `context/plan.md` / `spec.md`.
//!
//! Success means the agent finished without error *and* returned text; an empty answer is a
//! failure, because the later stages would otherwise plan from nothing.

use crate::agents::Mode;
use crate::error::OrxError;
use crate::model::{OrxFailure, Stage, StageEnd};
use crate::runner::{Run, Step};

/// The plan stage.
pub fn plan(run: &mut Run<'_>) -> Step<StageEnd> {
    text_stage(run, Stage::Plan)
}

/// The spec stage.
pub fn spec(run: &mut Run<'_>) -> Step<StageEnd> {
    text_stage(run, Stage::Spec)
}

fn text_stage(run: &mut Run<'_>, stage: Stage) -> Step<StageEnd> {
    let key = stage.as_str();
    let vars = run.base_vars();
    let prompt = run.prompt(key, &vars)?;
    let n = run.state.stage(stage).map(|r| r.attempts + 1).unwrap_or(1);
    let outcome = run.call_agent(key, None, n, Mode::Text, prompt)?;
    if !outcome.succeeded() {
        return Ok(run.fail_agent(stage, None, &outcome));
    }
    if outcome.final_text.trim().is_empty() {
        run.fail(
            stage,
            None,
            OrxFailure::EmptyOutput,
            format!("the {key} agent returned no text"),
        );
        return Ok(StageEnd::Failed);
    }
    let out = run.paths.context(&format!("{key}.md"));
    std::fs::write(&out, run.redact(&outcome.final_text).as_bytes())
        .map_err(|e| OrxError::io("write", &out, e))?;
    Ok(StageEnd::Done)
}
