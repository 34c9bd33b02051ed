//! Knowledge update: after ship, the agent records what the run taught in AGENTS.md and
//! ARCHITECTURE.md, in the worktree, committed on the run branch.
//!
//! The run has already shipped, so this stage can never fail it: an agent error becomes a
//! warning and a `failed` stage record, and the run still succeeds. When the agent changed
//! files, they are committed, and the patch is rewritten so it includes them.

use crate::agents::Mode;
use crate::error::Result;
use crate::report::event::EventKind;
use crate::runner::fsm::StageEnd;
use crate::runner::Run;

pub fn run(run: &mut Run<'_>) -> Result<StageEnd> {
    let vars = run.base_vars();
    let prompt = run.prompt("knowledge_update", &vars)?;
    let outcome = run.call_agent("knowledge_update", None, 1, Mode::Apply, prompt)?;
    if !outcome.succeeded() {
        run.wt.reset_hard("HEAD")?;
        run.emit(EventKind::Warning {
            message: format!(
                "knowledge update failed and was skipped (the run is shipped): {}",
                outcome.message.unwrap_or_default()
            ),
        })?;
        return Ok(StageEnd::Done);
    }
    let violations = crate::guard::check_worktree(run)?;
    if !violations.is_empty() {
        // Shipped work stays; the update that breaks the guardrails is thrown away.
        run.wt.reset_hard("HEAD")?;
        let listed: Vec<String> = violations.iter().map(|v| v.to_string()).collect();
        run.emit(EventKind::Warning {
            message: format!(
                "knowledge update discarded: it breaks the guardrails ({})",
                listed.join("; ")
            ),
        })?;
        return Ok(StageEnd::Done);
    }
    let msg = format!("orx: knowledge update\n\nOrx-Run: {}\n", run.paths.id);
    run.wt.commit_all(&msg)?;
    // Always rewrite the patch, not only after a new commit: a resume after a crash between
    // the commit and the patch write finds nothing new to commit but a stale patch.
    super::ship::write_patch(run)?;
    Ok(StageEnd::Done)
}
