//! Knowledge update: after ship, the agent records what the run taught in AGENTS.md and
//! ARCHITECTURE.md, in the worktree, committed on the run branch.
//!
//! The run has already shipped, so this stage can never fail it: an agent error becomes a
//! warning and a `failed` stage record, and the run still succeeds. When the agent changed
//! files, they are committed, and the patch is rewritten so it includes them. When ship pushed
//! the branch, the new head is pushed too (so the knowledge commit lands in the pull request);
//! a push failure here is only a warning, for the same reason.

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
    let msg = format!("orx: knowledge update\n\nOrx-Run: {}\n", run.paths.id);
    run.wt.commit_all(&msg)?;
    // Always rewrite the patch, not only after a new commit: a resume after a crash between
    // the commit and the patch write finds nothing new to commit but a stale patch.
    super::ship::write_patch(run)?;
    if super::ship::wants_push(run) && run.state.ship.pushed_sha.is_some() {
        if let Err(e) = super::ship::push(run)? {
            let remote = run.config.git.remote.clone();
            let branch = run.state.worktree.branch.clone();
            let said = e.detail.lines().next().unwrap_or("").trim().to_string();
            run.emit(EventKind::Warning {
                message: format!(
                    "the knowledge commit was not pushed to `{remote}` ({}: {said}); push it \
                     with `git push {remote} {branch}`",
                    e.failure.reason()
                ),
            })?;
        }
    }
    Ok(StageEnd::Done)
}
