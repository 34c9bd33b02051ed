//! Ship: leave the work committed on `orx/<run_id>`, write the patch and PR body, push the
//! branch and open its pull request.
//!
//! Items are already committed as checkpoints. Ship commits anything left in the worktree
//! (when `git.auto_commit`, with a message made of the task headline and the review summary),
//! then writes `artifacts/patch.diff` (base..branch) and `artifacts/pr_body.md`. Success is
//! shown by a non-empty patch: a run that changed nothing has nothing to ship and fails here
//! rather than claiming success.
//!
//! Then, when configured, the two steps that leave the machine, each recorded in
//! `state.ship` as soon as it is done so that a resumed ship stage skips it: the push
//! (`git.auto_push`, or implied by `git.create_pr`; see `crate::git` `remote.rs` for why it is
//! safe to repeat) and the pull request (`git.create_pr`, through `gh`; see
//! `crate::github::pr`). A rejected push, missing credentials, a missing `gh` or a failing one
//! is a named failure of this stage (`push_rejected`, `push_auth`, `push_remote_missing`,
//! `push_failed`, `gh_missing`, `gh_auth`, `pr_failed`) with the fix in its message and the
//! tool's output as evidence; `orx resume` re-enters ship once the cause is fixed.

use crate::error::Result;
use crate::git::{PushError, PushFailure};
use crate::github::pr::{ensure_pr, PrFailure, PrRequest};
use crate::model::event::EventKind;
use crate::model::{OrxFailure, Stage, StageEnd};
use crate::runner::{Run, Step};

pub fn run(run: &mut Run<'_>) -> Step<StageEnd> {
    // The last line of defence: the whole change (committed items and leftovers) is checked
    // before anything more is committed or shipped, and what is committed is what was checked.
    let now = run.wt.working_tree()?;
    let violations = run.guardrail_violations(Some(&now))?;
    if !violations.is_empty() {
        return Ok(run.fail_guardrails(Stage::Ship, &violations)?);
    }
    if run.config.git.auto_commit {
        let msg = commit_message(run);
        run.wt.commit_state(now, &msg)?;
    }
    let (files, insertions, deletions) = write_patch(run)?;
    if files == 0 {
        run.fail(
            Stage::Ship,
            None,
            OrxFailure::NothingToShip,
            "the run produced no change against the base branch".into(),
        );
        return Ok(StageEnd::Failed);
    }
    let body = pr_body(run, files, insertions, deletions);
    let path = run.paths.artifact("pr_body.md");
    // Derived from the run branch, like the patch: whole for every reader, not synced.
    crate::store::atomic::write_unsynced(&path, run.redact(&body).as_bytes())?;
    run.emit(EventKind::Shipped {
        branch: run.state.worktree.branch.clone(),
        patch: "artifacts/patch.diff".into(),
        files,
        insertions,
        deletions,
    })?;
    if wants_push(run) {
        if let Err(e) = push(run)? {
            let (reason, message) = push_failure_message(run, &e);
            run.fail(Stage::Ship, None, reason, message);
            set_evidence(run, "logs/push.log");
            return Ok(StageEnd::Failed);
        }
    }
    if run.config.git.create_pr {
        return Ok(pull_request(run)?);
    }
    Ok(StageEnd::Done)
}

/// Whether the run branch leaves the machine: `git.auto_push`, or implied by `git.create_pr`.
pub(crate) fn wants_push(run: &Run<'_>) -> bool {
    run.config.git.auto_push || run.config.git.create_pr
}

/// The commit message for what the agents left uncommitted: task headline, review summary.
fn commit_message(run: &Run<'_>) -> String {
    let s = &run.state;
    let mut msg = format!("orx: {}\n\n", crate::store::meta::headline(&s.task));
    if let Some(summary) = s.review_summary.as_deref().filter(|t| !t.trim().is_empty()) {
        msg.push_str(&format!("Review: {}\n\n", summary.trim()));
    }
    msg.push_str(&format!("Orx-Run: {}\n", run.paths.id));
    // The task and the review summary may quote a secret: a commit message is redacted like
    // every text orx writes.
    run.redact(&msg).into_owned()
}

/// Push HEAD of the run branch to `git.remote` and record it; a failed push is `Ok(Err)`.
pub(crate) fn push(run: &mut Run<'_>) -> Result<std::result::Result<(), PushError>> {
    let remote = run.config.git.remote.clone();
    let branch = run.state.worktree.branch.clone();
    // The lease is only ours on the remote we pushed to.
    let last = match &run.state.ship.remote {
        Some(r) if *r == remote => run.state.ship.pushed_sha.clone(),
        _ => None,
    };
    // What the push publishes must be what a resume after a power loss starts from.
    run.settle()?;
    let result = run.repo.push_branch(&remote, &branch, last.as_deref())?;
    let log = run.paths.log("push.log");
    let line = match &result {
        Ok(p) => format!(
            "{} push {branch} to {remote}: {} {}\n",
            crate::store::now_rfc3339(),
            if p.already { "already at" } else { "pushed" },
            p.sha
        ),
        Err(e) => format!(
            "{} push {branch} to {remote}: {}\n{}\n",
            crate::store::now_rfc3339(),
            e.failure.reason(),
            e.detail
        ),
    };
    crate::store::atomic::append_text(&log, &line)?;
    let pushed = match result {
        Ok(p) => p,
        Err(e) => return Ok(Err(e)),
    };
    run.state.ship.remote = Some(remote.clone());
    run.state.ship.pushed_sha = Some(pushed.sha.clone());
    run.checkpoint()?;
    run.emit(EventKind::Pushed {
        remote,
        branch,
        sha: pushed.sha,
        already: pushed.already,
    })?;
    Ok(Ok(()))
}

/// The failure reason and one-sentence message (with the fix) for a failed push.
pub(crate) fn push_failure_message(run: &Run<'_>, e: &PushError) -> (OrxFailure, String) {
    let remote = &run.config.git.remote;
    let branch = &run.state.worktree.branch;
    let id = &run.paths.id;
    let said = e.detail.lines().next().unwrap_or("").trim();
    let message = match e.failure {
        PushFailure::Rejected => format!(
            "push of `{branch}` to `{remote}` was rejected because the remote branch has commits \
             this run does not have ({said}); inspect it, delete or rename it on the remote, \
             then `orx resume {id}`"
        ),
        PushFailure::Auth => format!(
            "push of `{branch}` to `{remote}` failed for lack of credentials ({said}); set up \
             git's access to the remote (credential helper, SSH key, or a token in CI), then \
             `orx resume {id}`"
        ),
        PushFailure::RemoteMissing => format!(
            "cannot push `{branch}`: remote `{remote}` is missing or unreachable ({said}); add or \
             fix it with `git remote add|set-url {remote} <url>` (or set git.remote in orx.yaml), \
             then `orx resume {id}`"
        ),
        PushFailure::Other => format!(
            "push of `{branch}` to `{remote}` failed ({said}); fix the cause, then \
             `orx resume {id}`"
        ),
    };
    (push_reason(e.failure), message)
}

/// The failure reason of a push that did not happen.
fn push_reason(f: PushFailure) -> OrxFailure {
    match f {
        PushFailure::Rejected => OrxFailure::PushRejected,
        PushFailure::Auth => OrxFailure::PushAuth,
        PushFailure::RemoteMissing => OrxFailure::PushRemoteMissing,
        PushFailure::Other => OrxFailure::PushFailed,
    }
}

/// The failure reason of a pull request that could not be opened.
fn pr_reason(f: PrFailure) -> OrxFailure {
    match f {
        PrFailure::Missing => OrxFailure::GhMissing,
        PrFailure::Auth => OrxFailure::GhAuth,
        PrFailure::Failed => OrxFailure::PrFailed,
    }
}

/// Find or open the pull request, recording its URL; a failure is recorded, not an `Err`.
fn pull_request(run: &mut Run<'_>) -> Result<StageEnd> {
    if let Some(url) = run.state.ship.pr_url.clone() {
        run.emit(EventKind::PullRequest {
            url,
            created: false,
        })?;
        return Ok(StageEnd::Done);
    }
    let req = PrRequest {
        base: run.state.worktree.base_branch.clone(),
        head: run.state.worktree.branch.clone(),
        title: run
            .redact(&crate::store::meta::headline(&run.state.task))
            .into_owned(),
        body_file: run.paths.artifact("pr_body.md"),
        draft: run.config.git.pr_draft,
        cwd: run.state.worktree.path.clone(),
        log: run.paths.log("gh.log"),
        run_id: run.paths.id.clone(),
        redactor: Some(run.redactor.clone()),
    };
    run.settle()?;
    match ensure_pr(&req)? {
        Ok(pr) => {
            run.state.ship.pr_url = Some(pr.url.clone());
            run.checkpoint()?;
            run.emit(EventKind::PullRequest {
                url: pr.url,
                created: pr.created,
            })?;
            Ok(StageEnd::Done)
        }
        Err(e) => {
            let id = &run.paths.id;
            let said = e.detail.lines().next().unwrap_or("").trim().to_string();
            let message = match e.failure {
                PrFailure::Missing => format!(
                    "cannot open the pull request: {said}; install the GitHub CLI or set \
                     git.create_pr: false, then `orx resume {id}`"
                ),
                PrFailure::Auth => format!(
                    "cannot open the pull request: gh is not logged in ({said}); run \
                     `gh auth login` (or set GH_TOKEN in CI), then `orx resume {id}`"
                ),
                PrFailure::Failed => format!(
                    "opening the pull request failed: {said}; see logs/gh.log, fix the cause, \
                     then `orx resume {id}`"
                ),
            };
            run.fail(Stage::Ship, None, pr_reason(e.failure), message);
            if e.failure != PrFailure::Missing {
                set_evidence(run, "logs/gh.log");
            }
            Ok(StageEnd::Failed)
        }
    }
}

fn set_evidence(run: &mut Run<'_>, rel: &str) {
    if let Some(f) = run.state.last_failure.as_mut() {
        f.evidence_path = Some(rel.into());
    }
}

/// Write `artifacts/patch.diff` for base..HEAD; returns (files, insertions, deletions).
pub fn write_patch(run: &mut Run<'_>) -> Result<(u32, u32, u32)> {
    let base = run.state.worktree.base_sha.clone();
    let patch = run.wt.diff(&base, "HEAD")?;
    let path = run.paths.artifact("patch.diff");
    // Derived from the run branch (rewritten by every ship and knowledge pass), so not synced.
    crate::store::atomic::write_unsynced(&path, run.redact(&patch).as_bytes())?;
    Ok(run.wt.diff_stat(&base, "HEAD")?)
}

fn pr_body(run: &Run<'_>, files: u32, insertions: u32, deletions: u32) -> String {
    let s = &run.state;
    let mut b = format!("## Task\n\n{}\n\n", s.task.trim());
    if let Some(summary) = &s.review_summary {
        b.push_str(&format!("## Review\n\n{summary}\n\n"));
    }
    b.push_str("## Work items\n\n");
    for i in &s.items {
        let gates = i.gate_marks(" ");
        b.push_str(&format!(
            "- **{}** {} ({} attempt{}{})\n",
            i.id,
            i.title,
            i.attempts,
            if i.attempts == 1 { "" } else { "s" },
            if gates.is_empty() {
                String::new()
            } else {
                format!("; {}", gates.join(", "))
            }
        ));
    }
    let left_out = s.left_out();
    if !left_out.is_empty() {
        b.push_str(
            "\n## Left out\n\nThese items did not pass; this change does not hold them.\n\n",
        );
        for i in left_out {
            b.push_str(&format!(
                "- **{}** {} ({}{})\n",
                i.id,
                i.title,
                i.status,
                i.note
                    .as_deref()
                    .map(|n| format!(": {}", crate::text::one_line(n)))
                    .unwrap_or_default()
            ));
        }
    }
    b.push_str(&format!(
        "\n## Change\n\n{files} files changed, +{insertions} −{deletions}, on `{}` from `{}`.\n\n",
        s.worktree.branch, s.worktree.base_branch
    ));
    b.push_str(&format!(
        "Usage: {}.\n\n_Generated by orx run {}._\n",
        s.usage.describe(),
        s.run_id
    ));
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_and_pr_failures_are_recorded_by_the_words_their_logs_use() {
        for f in [
            PushFailure::Rejected,
            PushFailure::Auth,
            PushFailure::RemoteMissing,
            PushFailure::Other,
        ] {
            assert_eq!(push_reason(f).as_str(), f.reason());
        }
        for f in [PrFailure::Missing, PrFailure::Auth, PrFailure::Failed] {
            assert_eq!(pr_reason(f).as_str(), f.reason());
        }
    }
}
