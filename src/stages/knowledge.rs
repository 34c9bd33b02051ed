//! Knowledge update: after ship, the agent records what the run taught (commands that worked,
//! pitfalls, structure) in the files of `knowledge.files` (AGENTS.md and ARCHITECTURE.md), in
//! the worktree, committed on the run branch so it lands in the same PR.
//!
//! The agent is told where it may write, and orx enforces it: before the call every file gets
//! its `<!-- orx:begin -->`/`<!-- orx:end -->` block (the file is created when missing); after
//! the call only the new block content is kept, within `max_added_lines`/`max_deleted_lines`
//! ([`super::knowledge_blocks::merge`]), edits outside the block are discarded and every other
//! file the agent touched is reverted, each with a warning. A file whose block did not change
//! is left exactly as it was, so an empty block is never committed.
//!
//! The run has already shipped, so this stage can never fail it: an agent error becomes a
//! warning and a `failed` stage record, and the run still succeeds. When `knowledge.enabled`
//! is false the stage is recorded as skipped. The patch is rewritten after the commit so it
//! includes the update. When ship pushed the branch, the new head is pushed too (so the
//! knowledge commit lands in the pull request); a push failure here is only a warning, for
//! the same reason.

use std::path::{Component, Path, PathBuf};

use super::knowledge_blocks::{block_content, ensure_block, merge, BEGIN, END};
use crate::agents::Mode;
use crate::error::{OrxError, Result};
use crate::model::event::EventKind;
use crate::model::StageEnd;
use crate::runner::{Run, Step};

/// One knowledge file as the stage tracks it.
struct Target {
    rel: String,
    path: PathBuf,
    prepared: String,
}

pub fn run(run: &mut Run<'_>) -> Step<StageEnd> {
    let cfg = run.config.knowledge.clone();
    if !cfg.enabled {
        run.emit(EventKind::StageSkipped {
            stage: crate::model::Stage::Knowledge,
            reason: "knowledge.enabled is false".into(),
        })?;
        return Ok(StageEnd::Skipped);
    }
    // Start from the shipped commit: whatever an interrupted attempt left behind is dropped.
    run.wt.reset_hard("HEAD")?;
    let mut targets = Vec::new();
    for rel in &cfg.files {
        let rel = normalise(rel);
        let path = run.wt.path.join(&rel);
        let original = read_optional(&path)?;
        let prepared = ensure_block(original.as_deref().unwrap_or(""));
        if original.as_deref() != Some(prepared.as_str()) {
            write(&path, &prepared)?;
        }
        targets.push(Target {
            rel,
            path,
            prepared,
        });
    }

    let mut vars = run.base_vars();
    vars.insert(
        "knowledge_files",
        targets
            .iter()
            .map(|t| format!("- `{}`", t.rel))
            .collect::<Vec<_>>()
            .join("\n"),
    );
    vars.insert("knowledge_blocks", current_blocks(&targets));
    vars.insert("max_added_lines", cfg.max_added_lines.to_string());
    vars.insert("max_deleted_lines", cfg.max_deleted_lines.to_string());
    vars.insert("begin_marker", BEGIN.to_string());
    vars.insert("end_marker", END.to_string());
    let prompt = run.prompt("knowledge_update", &vars)?;
    let outcome = run.call_agent("knowledge_update", None, 1, Mode::Apply, prompt)?;
    if !outcome.succeeded() {
        run.wt.reset_hard("HEAD")?;
        run.warn(format!(
            "knowledge update failed and was skipped (the run is shipped): {}",
            outcome.message.unwrap_or_default()
        ))?;
        return Ok(StageEnd::Done);
    }

    // What the agent left, then back to the shipped commit, then only the merged blocks.
    let touched = run.wt.changed_paths("HEAD")?;
    let mut merged = Vec::new();
    for t in &targets {
        let agent = read_optional(&t.path)?;
        let m = merge(
            &t.prepared,
            agent.as_deref(),
            cfg.max_added_lines,
            cfg.max_deleted_lines,
        );
        merged.push(m);
    }
    let others: Vec<String> = touched
        .into_iter()
        .filter(|p| !targets.iter().any(|t| t.rel == *p))
        .collect();
    run.wt.reset_hard("HEAD")?;

    let mut warnings = Vec::new();
    let mut updated = Vec::new();
    let (mut added, mut deleted) = (0, 0);
    for (t, m) in targets.iter().zip(&merged) {
        if m.markers_lost {
            warnings.push(format!(
                "knowledge update removed the orx markers of {}; its edit was discarded",
                t.rel
            ));
            continue;
        }
        if m.outside_discarded {
            warnings.push(format!(
                "knowledge update edited {} outside its orx block; that edit was discarded",
                t.rel
            ));
        }
        if let Some(n) = m.refused_deleted {
            warnings.push(format!(
                "knowledge update would delete {n} lines of the orx block in {} (limit {}); the edit was refused",
                t.rel, cfg.max_deleted_lines
            ));
            continue;
        }
        if m.dropped_added > 0 {
            warnings.push(format!(
                "knowledge update added {} lines to {} (limit {}); the last {} were dropped",
                m.added + m.dropped_added,
                t.rel,
                cfg.max_added_lines,
                m.dropped_added
            ));
        }
        if m.changed {
            write(&t.path, &m.text)?;
            updated.push(t.rel.clone());
            added += m.added;
            deleted += m.deleted;
        }
    }
    if !others.is_empty() {
        warnings.push(format!(
            "knowledge update may only change its orx blocks; reverted: {}",
            others.join(", ")
        ));
    }
    for message in warnings {
        run.warn(message)?;
    }
    let now = run.wt.working_tree()?;
    let violations = run.guardrail_violations(Some(&now))?;
    if !violations.is_empty() {
        drop(now);
        // Shipped work stays; the update that breaks the guardrails is thrown away.
        run.wt.reset_hard("HEAD")?;
        let listed: Vec<String> = violations.iter().map(|v| v.to_string()).collect();
        run.warn(format!(
            "knowledge update discarded: it breaks the guardrails ({})",
            listed.join("; ")
        ))?;
        return Ok(StageEnd::Done);
    }
    let msg = format!("orx: knowledge update\n\nOrx-Run: {}\n", run.paths.id);
    run.wt.commit_state(now, &msg)?;
    // Always rewrite the patch, not only after a new commit: a resume after a crash between
    // the commit and the patch write finds nothing new to commit but a stale patch.
    super::ship::write_patch(run)?;
    if !updated.is_empty() {
        run.emit(EventKind::KnowledgeUpdated {
            files: updated,
            added,
            deleted,
        })?;
    }
    if super::ship::wants_push(run) && run.state.ship.pushed_sha.is_some() {
        if let Err(e) = super::ship::push(run)? {
            let remote = run.config.git.remote.clone();
            let branch = run.state.worktree.branch.clone();
            let said = e.detail.lines().next().unwrap_or("").trim().to_string();
            run.warn(format!(
                "the knowledge commit was not pushed to `{remote}` ({}: {said}); push it \
                     with `git push {remote} {branch}`",
                e.failure.reason()
            ))?;
        }
    }
    Ok(StageEnd::Done)
}

/// The current block of every file, for the prompt.
fn current_blocks(targets: &[Target]) -> String {
    let mut s = String::new();
    for t in targets {
        let content = block_content(&t.prepared).unwrap_or("").trim_end();
        s.push_str(&format!(
            "### {}\n\n```markdown\n{}\n```\n\n",
            t.rel,
            if content.is_empty() {
                "(empty)"
            } else {
                content
            }
        ));
    }
    s
}

/// `./docs/A.md` → `docs/A.md`, the form git reports paths in.
fn normalise(rel: &str) -> String {
    let parts: Vec<String> = Path::new(rel)
        .components()
        .filter_map(|c| match c {
            Component::Normal(p) => Some(p.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    parts.join("/")
}

fn read_optional(path: &Path) -> Result<Option<String>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        // A directory where a knowledge file should be is "no usable file".
        Err(_) if path.is_dir() => Ok(None),
        Err(e) => Err(OrxError::io("read", path, e)),
    }
}

fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| OrxError::io("create", parent, e))?;
    }
    std::fs::write(path, text).map_err(|e| OrxError::io("write", path, e))
}
