//! Implement and verify: each backlog item, in dependency order, through its fix loop.
//!
//! An item moves through three checkpointed phases, recorded in `state.json` *before* each
//! step starts, so `orx resume` re-enters exactly where a crash left it:
//!
//! - `Agent{n}`: attempt n (1 = implement, ≥2 = fix) asks the agent to edit the worktree. When
//!   it returns, the worktree is snapshotted (a dangling commit kept alive by a ref) without
//!   touching the branch. An attempt that changed nothing is a failed attempt.
//! - `Verify{n}`: every enabled gate runs; the evidence of each failing one is kept.
//! - `Commit{n}`: the snapshot becomes the item's checkpoint commit on `orx/<run_id>`.
//!
//! On resume the worktree is first put back to the snapshot of the last completed attempt (or
//! the item's base commit), so an interrupted attempt is re-run from the same starting point
//! and the final patch equals that of an uninterrupted run. Completed attempts are never
//! forgotten: the count and the failure signatures survive. An item stops as `stuck` when
//! `run.stuck_threshold` consecutive attempts fail with the same signature, and as `failed` when
//! its fix budget is spent.
//!
//! Which item goes next, which items a failed dependency blocks, and what a failed attempt
//! means for its item (another fix, stuck, failed) are pure decisions in `runner::schedule`;
//! this file carries out the steps and records them.
//!
//! Guardrails (`crate::guard`) are checked after every attempt, before the snapshot: a change
//! that breaks them is never snapshotted (so no ref keeps it) nor committed. Its masked report
//! goes back to the agent once, as a failing `guardrails` gate; a second breach by the same
//! item fails it with reason `guardrail`, which stops the run. (A resume between the two puts
//! the worktree back to the last good snapshot, so the fix starts without the breach.)

use std::collections::BTreeMap;

use crate::agents::Mode;
use crate::error::{OrxError, Result};
use crate::gates::{self, GateContext, GateResult};
use crate::model::event::EventKind;
use crate::model::state::ItemState;
use crate::model::{AttemptKind, AttemptOutcome, FailureRecord, ItemPhase, ItemStatus, OrxFailure};
use crate::model::{Stage, StageEnd, Stop};
use crate::runner::schedule::{self, judge_attempt, record_attempt, FixLimits};
use crate::runner::{Halt, Run, Step};

/// The name of the synthetic gate that carries guardrail violations to the fix prompt.
pub const GUARDRAIL_GATE: &str = "guardrails";
/// The prefix of the failure signature of a lane whose integration conflicted.
pub(crate) const CONFLICT_PREFIX: &str = "conflict:";

/// Whether `it`'s last attempt ended in a conflict (parallel lanes), so its next one resolves
/// it.
pub(crate) fn after_conflict(it: &ItemState) -> bool {
    it.signatures
        .last()
        .is_some_and(|s| s.starts_with(CONFLICT_PREFIX))
}

/// The number of the merge call a merge attempt of `it` is (1 for its first conflict).
pub(crate) fn merge_count(it: &ItemState) -> u32 {
    let n = it
        .signatures
        .iter()
        .filter(|s| s.starts_with(CONFLICT_PREFIX))
        .count();
    n.max(1) as u32
}

pub fn run(run: &mut Run<'_>) -> Step<StageEnd> {
    ensure_items(run)?;
    let mut any_failed = false;
    while let Some(id) = schedule::next_item(&run.state) {
        let ok = run_item(run, &id)?;
        if !ok {
            any_failed = true;
            if schedule::stop_after_failed_item(
                run.state.last_failure.as_ref(),
                run.config.run.stop_on_first_failure,
            ) {
                break;
            }
        }
    }
    schedule::block_dependents(&mut run.state);
    run.save()?;
    let done = run.state.items.iter().all(|i| i.status == ItemStatus::Done);
    if done && !any_failed {
        Ok(StageEnd::Done)
    } else {
        Ok(StageEnd::Failed)
    }
}

/// A pipeline without decompose (fast-fix) has no backlog: the task is its one item.
pub(crate) fn ensure_items(run: &mut Run<'_>) -> Step<()> {
    if run.state.items.is_empty() {
        // fast-fix (or any pipeline without decompose): the task is the one item.
        let def = crate::backlog::Item {
            id: "W001".into(),
            title: crate::store::meta::headline(&run.state.task),
            objective: run.state.task.clone(),
            acceptance: Vec::new(),
            files_hint: Vec::new(),
            depends_on: Vec::new(),
        };
        run.state.items.push(super::item::item_state(&def, 0));
        run.save()?;
    }
    Ok(())
}

/// Drive one item to done (true) or to a recorded failure (false). In a parallel lane, done
/// means committed on the lane's branch, waiting to be integrated (phase `integrate`).
pub(crate) fn run_item(run: &mut Run<'_>, id: &str) -> Step<bool> {
    let item = run
        .state
        .item(id)
        .cloned()
        .ok_or_else(|| OrxError::internal(format!("no item {id}")))?;
    if item.status == ItemStatus::Pending {
        let head = run.wt.head()?;
        if let Some(it) = run.state.item_mut(id) {
            it.status = ItemStatus::InProgress;
            it.base_commit = Some(head);
            it.phase = Some(ItemPhase::Agent { attempt: 1 });
        }
        run.state.current_item = Some(id.to_string());
        run.save()?;
        run.emit(EventKind::ItemStarted {
            item: id.to_string(),
            title: item.title.clone(),
        })?;
    }
    run.state.current_item = Some(id.to_string());
    loop {
        let Some(it) = run.state.item(id).cloned() else {
            return Err(OrxError::internal(format!("item {id} vanished from state")).into());
        };
        let Some(phase) = it.phase.clone() else {
            return Ok(it.status == ItemStatus::Done);
        };
        if run.needs_restore {
            restore(run, id)?;
            run.needs_restore = false;
        }
        match phase {
            ItemPhase::Agent { attempt } => {
                // The attempt after a conflict resolves it, even if a crash came between the
                // conflict's judgement and its `merge` phase.
                let kind = if after_conflict(&it) {
                    AttemptKind::Merge
                } else {
                    AttemptKind::of(attempt)
                };
                if !agent_attempt(run, id, attempt, kind)? {
                    return Ok(false);
                }
            }
            ItemPhase::Merge { attempt } => {
                if !agent_attempt(run, id, attempt, AttemptKind::Merge)? {
                    return Ok(false);
                }
            }
            // Only a lane gets here: the scheduler integrates its commit.
            ItemPhase::Integrate { .. } => return Ok(true),
            ItemPhase::Verify { attempt } => verify_attempt(run, id, attempt)?,
            ItemPhase::Commit { attempt } => {
                commit_item(run, id, attempt)?;
                return Ok(true);
            }
        }
        if matches!(
            run.state.item(id).map(|i| i.status),
            Some(ItemStatus::Failed | ItemStatus::Stuck)
        ) {
            return Ok(false);
        }
    }
}

/// Put the worktree back to where the item's recorded phase expects it.
fn restore(run: &mut Run<'_>, id: &str) -> Result<()> {
    let Some(it) = run.state.item(id).cloned() else {
        return Ok(());
    };
    let base = it.base_commit.clone().unwrap_or_else(|| "HEAD".into());
    // A crash between the checkpoint commit and the state write leaves HEAD past the base;
    // commit_snapshot recognises that, so only the files need restoring here.
    match (&it.phase, &it.snapshot) {
        (Some(ItemPhase::Agent { attempt: 1 }), _) | (_, None) => Ok(run.wt.reset_hard(&base)?),
        (_, Some(snap)) => {
            let head = run.wt.head()?;
            if head != base
                && it
                    .phase
                    .as_ref()
                    .is_some_and(|p| !matches!(p, ItemPhase::Commit { .. }))
            {
                run.wt.reset_hard(&base)?;
            }
            Ok(run.wt.restore(snap)?)
        }
    }
}

/// Run the agent for `attempt` (implement, fix, or resolving a merge conflict). Returns false
/// when the agent itself failed (run stops).
fn agent_attempt(run: &mut Run<'_>, id: &str, attempt: u32, kind: AttemptKind) -> Step<bool> {
    run.state.current_stage = Some(Stage::Implement);
    run.save()?;
    let it = run
        .state
        .item(id)
        .cloned()
        .ok_or_else(|| OrxError::internal("item vanished"))?;
    let base = it.base_commit.clone().unwrap_or_else(|| "HEAD".into());
    run.emit(EventKind::AttemptStarted {
        item: id.to_string(),
        attempt,
        kind,
    })?;
    let mut vars = run.base_vars();
    vars.insert("item_id", id.to_string());
    vars.insert("item", super::item::describe_item(&it));
    vars.insert("attempt", attempt.to_string());
    vars.insert("gates", gate_list(run));
    if attempt > 1 {
        vars.insert("evidence", evidence(&it.gates, it.note.as_deref()));
        let diff = run.wt.diff_worktree(&base)?;
        vars.insert(
            "diff",
            crate::guard::diff_for_prompt(&diff, &run.config.guardrails)?,
        );
    }
    let prompt = run.prompt(kind.as_str(), &vars)?;
    let n = match kind {
        AttemptKind::Merge => merge_count(&it),
        _ if attempt == 1 => 1,
        _ => attempt - 1,
    };
    let outcome = run.call_agent(kind.as_str(), Some(id), n, Mode::Apply, prompt)?;
    if !outcome.succeeded() {
        run.fail_agent(Stage::Implement, Some(id), &outcome);
        run.save()?;
        return Ok(false);
    }
    let previous = it.snapshot.clone().unwrap_or(base);
    // One look at the files for the three questions below (changed? guardrails? snapshot):
    // nothing writes to the worktree between them, and each look is an `add -A` + `write-tree`.
    let now = run.wt.working_tree()?;
    let changed = now.tree != run.wt.tree_of(&previous)?;
    if !changed {
        let note = format!("attempt {attempt} changed no file: the diff was empty");
        if let Some(i) = run.state.item_mut(id) {
            i.note = Some(note.clone());
            i.gates.clear();
        }
        judge_failure(
            run,
            id,
            attempt,
            OrxFailure::EmptyDiff.as_str().to_string(),
            OrxFailure::EmptyDiff,
            note,
            false,
        )?;
        return Ok(true);
    }
    let violations = run.guardrail_violations(Some(&now))?;
    if !violations.is_empty() {
        guard_failed(run, id, attempt, &violations)?;
        return Ok(true);
    }
    // Only now, the content having passed the scan, do its objects enter the repository.
    let snap = run.wt.snapshot_of(now, &run.wip_ref())?;
    if let Some(i) = run.state.item_mut(id) {
        i.snapshot = Some(snap);
        i.note = None;
        i.phase = Some(ItemPhase::Verify { attempt });
    }
    run.checkpoint()?;
    Ok(true)
}

fn gate_list(run: &Run<'_>) -> String {
    let gates: Vec<String> = run
        .config
        .gates
        .iter()
        .filter(|g| g.enabled)
        .map(|g| {
            let (p, a) = gates::gate_argv(g);
            format!("- {}: `{} {}`", g.name, p, a.join(" "))
        })
        .collect();
    if gates.is_empty() {
        "(none configured)".into()
    } else {
        gates.join("\n")
    }
}

fn verify_attempt(run: &mut Run<'_>, id: &str, attempt: u32) -> Step<()> {
    run.state.current_stage = Some(Stage::Verify);
    if let Some(rec) = run.state.stage_mut(Stage::Verify) {
        if rec.status != crate::model::StageStatus::Running {
            rec.status = crate::model::StageStatus::Running;
            rec.started_at.get_or_insert_with(crate::store::now_rfc3339);
        }
        rec.attempts += 1;
    }
    run.save()?;
    let started_at = crate::store::now_rfc3339();
    let t0 = std::time::Instant::now();
    let results = run_gates(run, id, attempt, "")?;
    // Gates may leave byproducts (`__pycache__`, coverage files, build output that is not
    // ignored). Only what the agent wrote may reach a commit or the next attempt, so the
    // worktree goes back to the attempt's snapshot; ignored files (caches) are left alone.
    if let Some(snap) = run.state.item(id).and_then(|i| i.snapshot.clone()) {
        run.wt.restore(&snap)?;
    }
    let gate_ms: u64 = results.iter().map(|r| r.duration_ms).sum();
    if let Some(rec) = run.state.stage_mut(Stage::Verify) {
        rec.duration_ms += gate_ms;
    }
    let blocking: Vec<&GateResult> = results.iter().filter(|r| r.blocks()).collect();
    let status = if blocking.is_empty() {
        "passed"
    } else {
        "failed"
    };
    crate::store::metrics::append_stage_metric(
        &run.paths.stage_metrics(),
        &crate::store::metrics::StageMetric {
            stage: "verify".into(),
            item: Some(id.to_string()),
            attempt,
            status: status.into(),
            started_at,
            duration_ms: t0.elapsed().as_millis() as u64,
            executor: "gates".into(),
            model: None,
            usage: Default::default(),
        },
    )?;
    let (signature, message) = failure_of(&blocking);
    let failed = !blocking.is_empty();
    if let Some(i) = run.state.item_mut(id) {
        i.gates = results;
    }
    if failed {
        judge_failure(
            run,
            id,
            attempt,
            signature,
            OrxFailure::GatesFailed,
            message,
            false,
        )?;
    } else {
        if let Some(i) = run.state.item_mut(id) {
            i.phase = Some(ItemPhase::Commit { attempt });
        }
        run.save()?;
    }
    Ok(())
}

/// Run every enabled gate in the run's worktree for `attempt` of `id`, with events and hooks;
/// each gate's log is `<gate>_<id>_<attempt><log_tag>.log`.
pub(crate) fn run_gates(
    run: &mut Run<'_>,
    id: &str,
    attempt: u32,
    log_tag: &str,
) -> Step<Vec<GateResult>> {
    let gate_cfgs: Vec<_> = run
        .config
        .gates
        .iter()
        .filter(|g| g.enabled)
        .cloned()
        .collect();
    let mut results: Vec<GateResult> = Vec::new();
    for g in &gate_cfgs {
        run.emit(EventKind::GateStarted {
            gate: g.name.clone(),
            item: id.to_string(),
            attempt,
        })?;
        let ctx = GateContext {
            cwd: &run.state.worktree.path,
            run_dir: &run.paths.dir,
            log_name: format!("{}_{id}_{attempt}{log_tag}.log", g.name),
            run_id: &run.paths.id,
            grace: std::time::Duration::from_secs(run.config.run.stop_grace_secs),
        };
        let r = gates::run_gate_redacted(g, &ctx, Some(&run.redactor));
        if gates::interrupted(std::slice::from_ref(&r)) {
            return Err(Halt::Stop(Stop::Interrupted));
        }
        run.emit(EventKind::GateFinished {
            item: id.to_string(),
            attempt,
            result: r.clone(),
        })?;
        if !r.passed {
            run.gate_failed_hooks(id, &r)?;
        }
        results.push(r);
    }
    Ok(results)
}

/// The failure signature and message of the blocking gates of an attempt.
pub(crate) fn failure_of(blocking: &[&GateResult]) -> (String, String) {
    let signature = {
        let mut sigs: Vec<String> = blocking
            .iter()
            .map(|r| format!("{}:{}", r.name, r.signature.clone().unwrap_or_default()))
            .collect();
        sigs.sort();
        sigs.join("+")
    };
    let message = blocking
        .iter()
        .map(|r| {
            format!(
                "gate `{}` failed{}",
                r.name,
                r.exit_code
                    .map(|c| format!(" (exit {c})"))
                    .unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    (signature, message)
}

/// An attempt whose change breaks the guardrails. Its report (secrets masked) becomes the
/// item's only gate result, so the fix prompt's evidence carries it; the change stays in the
/// worktree for the fix agent to repair but is not snapshotted. A second breach fails the item.
fn guard_failed(
    run: &mut Run<'_>,
    id: &str,
    attempt: u32,
    violations: &[crate::guard::Violation],
) -> Result<()> {
    let signature = crate::guard::signature(violations);
    let repeated = run.state.item(id).is_some_and(|i| {
        i.signatures
            .iter()
            .any(|s| s.starts_with(crate::guard::SIGNATURE_PREFIX))
    });
    let gate = GateResult {
        name: GUARDRAIL_GATE.into(),
        required: true,
        passed: false,
        exit_code: None,
        duration_ms: 0,
        log: format!("artifacts/evidence_{id}_{attempt}.md"),
        tail: crate::guard::REPORT_INTRO.to_string(),
        failures: violations
            .iter()
            .map(|v| crate::gates::evidence::Failure {
                file: v.file.clone(),
                line: v.line,
                code: Some(v.kind.as_str().to_string()),
                message: v.detail.clone(),
            })
            .collect(),
        signature: Some(signature.clone()),
        error: None,
    };
    if let Some(i) = run.state.item_mut(id) {
        i.gates = vec![gate];
        i.note = Some(format!(
            "attempt {attempt} broke the guardrails; nothing of it was committed"
        ));
    }
    let message = format!(
        "the change breaks the guardrails ({})",
        violations
            .iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join("; ")
    );
    run.warn(format!("item {id}, attempt {attempt}: {message}"))?;
    judge_failure(
        run,
        id,
        attempt,
        signature,
        OrxFailure::Guardrail,
        message,
        repeated,
    )
}

/// A failed attempt: record it, then decide between another fix, stuck, and out of attempts;
/// `final_failure` fails the item whatever budget is left.
pub(crate) fn judge_failure(
    run: &mut Run<'_>,
    id: &str,
    attempt: u32,
    signature: String,
    reason: OrxFailure,
    message: String,
    final_failure: bool,
) -> Result<()> {
    let limits = FixLimits {
        max_fix_attempts: run.config.run.max_fix_attempts,
        stuck_threshold: run.config.run.stuck_threshold,
    };
    let evidence_rel = format!("artifacts/evidence_{id}_{attempt}.md");
    let it = run
        .state
        .item(id)
        .cloned()
        .ok_or_else(|| OrxError::internal("item vanished"))?;
    let body = format!(
        "# Evidence for {id}, attempt {attempt}\n\n{}\n",
        evidence(&it.gates, it.note.as_deref())
    );
    let evidence_path = run.paths.dir.join(&evidence_rel);
    let body = run.redact(&body).into_owned();
    std::fs::write(&evidence_path, body).map_err(|e| OrxError::io("write", &evidence_path, e))?;

    let judgement = judge_attempt(&it, attempt, &signature, reason, final_failure, limits);
    if let Some(i) = run.state.item_mut(id) {
        record_attempt(i, attempt, &judgement);
    }
    let (outcome, final_status) = (judgement.outcome, judgement.ends_as);
    if let Some(st) = final_status {
        let why = if final_failure {
            format!("item {id} failed: {message}, again after a fix attempt was asked to remove it")
        } else if st == ItemStatus::Stuck {
            format!(
                "item {id} is stuck: the same failure repeated {} times in a row ({message})",
                limits.stuck_threshold.max(2)
            )
        } else {
            format!("item {id} failed after {attempt} attempts: {message}")
        };
        run.state.last_failure = Some(FailureRecord {
            stage: Stage::Verify,
            item: Some(id.to_string()),
            reason: judgement.reason.into(),
            message: why,
            evidence_path: Some(evidence_rel.into()),
        });
    }
    run.save()?;
    let lesson = format!("{id} attempt {attempt}: {message} (signature `{signature}`)");
    if let Some(message) = super::lessons::append(run, &lesson) {
        run.warn(message)?;
    }
    run.emit(EventKind::AttemptFinished {
        item: id.to_string(),
        attempt,
        outcome,
        signature: Some(signature),
    })?;
    if let Some(st) = final_status {
        run.emit(EventKind::ItemFinished {
            item: id.to_string(),
            status: st,
            commit: None,
        })?;
    }
    Ok(())
}

fn commit_item(run: &mut Run<'_>, id: &str, attempt: u32) -> Result<()> {
    let it = run
        .state
        .item(id)
        .cloned()
        .ok_or_else(|| OrxError::internal("item vanished"))?;
    let snap = it
        .snapshot
        .clone()
        .ok_or_else(|| OrxError::state(format!("item {id} has no snapshot to commit")))?;
    // Redacted like everything orx writes: the title is agent text.
    let message = run
        .redact(&format!(
            "orx: {id} {}\n\nOrx-Run: {}\nOrx-Item: {id}\nOrx-Attempts: {attempt}\n",
            it.title, run.paths.id
        ))
        .into_owned();
    let commit = run
        .wt
        .commit_snapshot(&snap, &message, &run.state.worktree.branch)?;
    if run.lane_item().is_some() {
        // The lane's commit waits for the scheduler, which integrates it and ends the item.
        if let Some(i) = run.state.item_mut(id) {
            i.attempts = attempt;
            i.commit = Some(commit);
            i.phase = Some(ItemPhase::Integrate { attempt });
        }
        return run.save();
    }
    mark_done(run, id, attempt, &commit);
    run.checkpoint()?;
    if let Some(last) = it.signatures.last().filter(|_| attempt > 1) {
        let lesson = format!(
            "{id} passed on attempt {attempt}; what fixed it is in commit {}, after `{last}`",
            &commit[..commit.len().min(10)]
        );
        if let Some(message) = super::lessons::append(run, &lesson) {
            run.warn(message)?;
        }
    }
    emit_passed(run, id, attempt, commit)
}

/// Record `id` done at `commit` on the run branch after `attempt` (the caller saves).
pub(crate) fn mark_done(run: &mut Run<'_>, id: &str, attempt: u32, commit: &str) {
    if let Some(i) = run.state.item_mut(id) {
        i.status = ItemStatus::Done;
        i.attempts = attempt;
        i.commit = Some(commit.to_string());
        i.phase = None;
    }
}

/// The events of an item that passed: its attempt, then the item itself, done at `commit`.
pub(crate) fn emit_passed(run: &mut Run<'_>, id: &str, attempt: u32, commit: String) -> Result<()> {
    run.emit(EventKind::AttemptFinished {
        item: id.to_string(),
        attempt,
        outcome: AttemptOutcome::Passed,
        signature: None,
    })?;
    run.emit(EventKind::ItemFinished {
        item: id.to_string(),
        status: ItemStatus::Done,
        commit: Some(commit),
    })
}

/// The fix prompt's evidence: every failing gate with exit code, parsed failures and log tail.
pub fn evidence(gates: &[GateResult], note: Option<&str>) -> String {
    let mut s = String::new();
    if let Some(n) = note {
        s.push_str(&format!("- {n}\n"));
    }
    let mut by_gate: BTreeMap<&str, &GateResult> = BTreeMap::new();
    for g in gates.iter().filter(|g| !g.passed) {
        by_gate.insert(&g.name, g);
    }
    for (name, g) in by_gate {
        s.push_str(&format!(
            "\n### Gate `{name}` failed{}{}\n\n",
            g.exit_code
                .map(|c| format!(" with exit code {c}"))
                .unwrap_or_default(),
            if g.required { "" } else { " (optional)" }
        ));
        if let Some(e) = &g.error {
            s.push_str(&format!("Error: {e}\n\n"));
        }
        if !g.failures.is_empty() {
            s.push_str("Failures:\n");
            for f in &g.failures {
                let loc = match (&f.file, f.line) {
                    (Some(file), Some(line)) => format!("{file}:{line}: "),
                    (Some(file), None) => format!("{file}: "),
                    _ => String::new(),
                };
                let code = f.code.as_ref().map(|c| format!("{c} ")).unwrap_or_default();
                s.push_str(&format!("- {loc}{code}{}\n", f.message));
            }
            s.push('\n');
        }
        s.push_str(&format!(
            "Log tail ({}):\n\n```\n{}\n```\n",
            g.log,
            g.tail.trim_end()
        ));
    }
    if s.is_empty() {
        s.push_str("(no evidence recorded)\n");
    }
    s
}
