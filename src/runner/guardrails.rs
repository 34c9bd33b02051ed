//! The guardrails applied to a run's worktree: the check of its whole change, and the failure
//! of a stage that breaks them.
//!
//! `crate::guard` decides on paths and diff text alone; this file takes them from the run's
//! worktree (base sha → working state, untracked files included) and records a breach: the
//! report goes to `artifacts/guardrails_<stage>.md` and the failure reason is `guardrail`.

use super::context::Run;
use crate::error::Result;
use crate::git::WorkingState;
use crate::guard::{report, Guard, Violation, MAX_SCAN_BYTES};
use crate::model::{OrxFailure, Stage, StageEnd};

impl Run<'_> {
    /// The guardrail violations of the run's whole change so far, against a working state the
    /// caller already took ([`crate::git::Worktree::working_tree`]) or a fresh one: the paths
    /// and the diff come from the same tree, computed once. The content is read from the
    /// working state's quarantine, so what is blocked here never reaches the object database.
    pub fn guardrail_violations(&self, now: Option<&WorkingState>) -> Result<Vec<Violation>> {
        let guard = Guard::new(&self.config.guardrails)?;
        if !guard.enabled() {
            return Ok(Vec::new());
        }
        let base = self.state.worktree.base_sha.clone();
        let fresh;
        let now = match now {
            Some(now) => now,
            None => {
                fresh = self.wt.working_tree()?;
                &fresh
            }
        };
        let changed = self.wt.changed_paths_to(&base, now)?;
        if changed.is_empty() {
            return Ok(Vec::new());
        }
        // Every changed file's content as text, whatever git's diff attributes say (a NUL byte,
        // `-diff`); a file too large to read is blocked as unscannable, never passed silently.
        let (diff, too_large) = self.wt.diff_for_scan(&base, now, MAX_SCAN_BYTES)?;
        let mut out = guard.check(&changed, &diff);
        out.extend(guard.unscannable(&too_large));
        Ok(out)
    }

    /// Fail `stage` for `violations`: the report goes to `artifacts/guardrails_<stage>.md` and
    /// the failure reason is `guardrail`.
    pub fn fail_guardrails(&mut self, stage: Stage, violations: &[Violation]) -> Result<StageEnd> {
        let rel = format!("artifacts/guardrails_{stage}.md");
        let path = self.paths.dir.join(&rel);
        let body = format!("# Guardrails, {stage}\n\n{}", report(violations));
        crate::store::atomic::write_atomic(&path, self.redact(&body).as_bytes())?;
        let listed: Vec<String> = violations.iter().map(|v| v.to_string()).collect();
        self.fail(
            stage,
            None,
            OrxFailure::Guardrail,
            format!(
                "the run's change breaks the guardrails, nothing more was committed: {}",
                listed.join("; ")
            ),
        );
        if let Some(f) = self.state.last_failure.as_mut() {
            f.evidence_path = Some(rel.into());
        }
        Ok(StageEnd::Failed)
    }
}
