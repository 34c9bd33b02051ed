//! Human renderings of run events, shared by the plain and the progress reporters.
//!
//! One function decides what a person sees for each event, so the TTY and the CI log never
//! disagree. Chatty agent events (text deltas, reasoning) are left to `events.jsonl` and the
//! logs; file changes, commands, gate results and stage ends are shown.

use crate::agents::AgentEvent;
use crate::model::candidate::{label, parse_key};
use crate::model::{EventKind, GateResult, RunEvent};

/// One line for an event, or `None` when it is too chatty to print.
pub fn line(ev: &RunEvent) -> Option<String> {
    Some(match &ev.kind {
        EventKind::RunStarted {
            task,
            engine,
            pipeline,
            branch,
            config,
            engine_choice,
            ..
        } => format!(
            "run {} started: engine {engine}{}, pipeline {pipeline}, branch {branch}, {config}\n  task: {}",
            ev.run_id,
            engine_choice
                .as_ref()
                .map(|how| format!(" ({how})"))
                .unwrap_or_default(),
            crate::store::meta::headline(task)
        ),
        EventKind::RunResumed { stage, item, resumes } => format!(
            "run {} resumed (#{resumes}) at {}{}",
            ev.run_id,
            stage.map_or("start", |s| s.as_str()),
            item.as_ref().map(|i| format!(" {i}")).unwrap_or_default()
        ),
        EventKind::StageStarted { stage } => format!("▶ {stage}"),
        EventKind::StageFinished {
            stage,
            status,
            duration_ms,
        } => format!("  {stage} {status} in {}", secs(*duration_ms)),
        EventKind::ItemStarted { item, title } => format!("  item {}: {title}", label(item)),
        EventKind::LaneStarted { item, branch, .. } => format!("  lane {item} on {branch}"),
        EventKind::LaneIntegrating { item, onto, .. } => format!(
            "  integrating {item} onto {}",
            &onto[..onto.len().min(10)]
        ),
        EventKind::CandidateStarted {
            item, n, executor, ..
        } => format!("  candidate {n} of {item} ({executor})"),
        EventKind::CandidateFinished {
            item, n, phase, ..
        } => format!("  candidate {n} of {item} {phase}"),
        EventKind::CandidateChosen {
            item, n, how, reason,
        } => format!("  {item}: candidate {n} chosen ({how}): {reason}"),
        EventKind::AttemptStarted { item, attempt, kind } => {
            format!("    {} attempt {attempt} ({kind})", label(item))
        }
        EventKind::Agent { agent, .. } => match agent {
            AgentEvent::FileChange { path, kind } => format!("      {kind} {path}"),
            AgentEvent::CommandRun { command, exit_code } => format!(
                "      $ {command}{}",
                exit_code.map(|c| format!(" → {c}")).unwrap_or_default()
            ),
            AgentEvent::RateLimited { message, .. } => format!("      rate limited: {message}"),
            AgentEvent::Error { message } => format!("      agent error: {message}"),
            _ => return None,
        },
        EventKind::AgentFinished {
            stage,
            ok,
            failure,
            message,
            duration_ms,
            usage,
            ..
        } => {
            if *ok {
                format!(
                    "    agent {stage} done in {} ({} tokens)",
                    secs(*duration_ms),
                    usage.total_tokens()
                )
            } else {
                format!(
                    "    agent {stage} failed: {} {}",
                    failure.map_or("?", |f| f.as_str()),
                    message.as_deref().unwrap_or("")
                )
            }
        }
        EventKind::GateStarted { .. } => return None,
        EventKind::GateFinished { result, .. } => format!("      {}", gate(result)),
        EventKind::AttemptFinished {
            item,
            attempt,
            outcome,
            ..
        } => format!("    {} attempt {attempt}: {outcome}", label(item)),
        // A candidate's end is told by its own line (`candidate n of item passed|failed`).
        EventKind::ItemFinished { item, .. } if parse_key(item).is_some() => return None,
        EventKind::ItemFinished { item, status, commit } => format!(
            "  item {item} {status}{}",
            commit
                .as_ref()
                .map(|c| format!(" at {}", &c[..c.len().min(10)]))
                .unwrap_or_default()
        ),
        EventKind::BacklogReady { items } => format!("  backlog: {}", items.join(", ")),
        EventKind::ReviewVerdict {
            verdict,
            summary,
            changes,
            round,
        } => format!(
            "  review round {round}: {verdict}{} — {}",
            if *changes > 0 {
                format!(" ({changes} changes)")
            } else {
                String::new()
            },
            crate::store::meta::headline(summary)
        ),
        EventKind::Shipped {
            branch,
            patch,
            files,
            insertions,
            deletions,
        } => format!("  shipped {branch}: {files} files, +{insertions} -{deletions}, patch {patch}"),
        EventKind::Pushed {
            remote,
            branch,
            sha,
            already,
        } => format!(
            "  pushed {branch} to {remote} at {}{}",
            sha.chars().take(10).collect::<String>(),
            if *already { " (already there)" } else { "" }
        ),
        EventKind::PullRequest { url, created } => format!(
            "  pull request {}: {url}",
            if *created { "opened" } else { "found" }
        ),
        EventKind::Warning { message } => format!("  warning: {message}"),
        EventKind::Fallback {
            stage,
            failure,
            from_executor,
            from_model,
            to_executor,
            to_model,
            ..
        } => format!(
            "  fallback [{stage}] {failure}: {from_executor}{} → {to_executor}{}",
            from_model.as_ref().map(|m| format!("/{m}")).unwrap_or_default(),
            to_model.as_ref().map(|m| format!("/{m}")).unwrap_or_default()
        ),
        EventKind::Waiting {
            stage,
            remaining_secs,
            reset_at,
            ..
        } => format!(
            "  waiting [{stage}] rate limited: retry in {remaining_secs}s{}",
            reset_at
                .as_ref()
                .map(|r| format!(" (resets at {r})"))
                .unwrap_or_default()
        ),
        EventKind::Hook {
            hook,
            index,
            command,
            ok,
            blocking,
            exit_code,
            error,
            ..
        } => format!(
            "  hook {hook}[{index}] `{}` {}{}",
            crate::store::meta::headline(command),
            if *ok {
                "ok".to_string()
            } else if *blocking {
                "FAILED (blocking)".to_string()
            } else {
                "failed".to_string()
            },
            match (error, exit_code) {
                (Some(e), _) if !*ok => format!(": {e}"),
                (None, Some(c)) if !*ok => format!(" with exit {c}"),
                _ => String::new(),
            }
        ),
        EventKind::FilesCopied { files } => {
            format!("  copied into the worktree: {}", files.join(", "))
        }
        EventKind::SetupCommand {
            index,
            command,
            ok,
            exit_code,
            error,
            duration_ms,
            ..
        } => format!(
            "  setup[{index}] `{}` {}{} ({})",
            crate::store::meta::headline(command),
            if *ok { "ok" } else { "FAILED" },
            match (error, exit_code) {
                (Some(e), _) => format!(": {e}"),
                (None, Some(c)) if !*ok => format!(" with exit {c}"),
                _ => String::new(),
            },
            secs(*duration_ms)
        ),
        EventKind::KnowledgeUpdated {
            files,
            added,
            deleted,
        } => format!("  knowledge: {} (+{added} -{deleted})", files.join(", ")),
        EventKind::StageSkipped { stage, reason } => format!("  {stage} skipped: {reason}"),
        EventKind::RetentionApplied {
            removed,
            freed_bytes,
        } => format!(
            "  retention removed {} old run(s) ({}), freed {}",
            removed.len(),
            removed.join(", "),
            crate::text::human_bytes(*freed_bytes)
        ),
        EventKind::RunFinished { status, duration_ms, message, .. } => format!(
            "run {} {status} in {}{}",
            ev.run_id,
            secs(*duration_ms),
            message.as_ref().map(|m| format!(": {m}")).unwrap_or_default()
        ),
        EventKind::TakenOver {
            item,
            attempt,
            by,
            executor,
            exit_code,
            changed,
            ..
        } => format!(
            "    {item} attempt {attempt} taken over by {by} in {executor}: {}{}",
            if *changed { "changed files" } else { "no change" },
            exit_code
                .filter(|c| *c != 0)
                .map(|c| format!(", exited with {c}"))
                .unwrap_or_default()
        ),
        EventKind::AwaitingApproval { stage, output } => format!(
            "⏸ {stage} awaits approval: read runs/{}/{output}",
            ev.run_id
        ),
        EventKind::Approved { stage } => format!("  {stage} approved"),
        EventKind::Rejected { stage, .. } => {
            format!("  {stage} rejected: it runs again with the feedback")
        }
    })
}

/// What the progress line shows while this event's step runs.
pub fn status(ev: &RunEvent) -> Option<String> {
    Some(match &ev.kind {
        EventKind::StageStarted { stage } => stage.to_string(),
        EventKind::AttemptStarted {
            item,
            attempt,
            kind,
        } => {
            format!("{kind} {item} · attempt {attempt}")
        }
        EventKind::GateStarted {
            gate,
            item,
            attempt,
        } => format!("verify {item} · attempt {attempt} · gate {gate}"),
        _ => return None,
    })
}

/// "gate pytest FAILED with exit 1 (1.2s)": a gate's result in one line.
pub fn gate(result: &GateResult) -> String {
    format!(
        "gate {} {}{} ({})",
        result.name,
        if result.passed { "passed" } else { "FAILED" },
        match (&result.error, result.exit_code) {
            (Some(e), _) => format!(": {e}"),
            (None, Some(c)) if !result.passed => format!(" with exit {c}"),
            _ => String::new(),
        },
        secs(result.duration_ms)
    )
}

pub fn secs(ms: u64) -> String {
    if ms < 10_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else {
        let s = ms / 1000;
        if s < 60 {
            format!("{s}s")
        } else {
            format!("{}m{:02}s", s / 60, s % 60)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(secs(1234), "1.2s");
        assert_eq!(secs(42_000), "42s");
        assert_eq!(secs(125_000), "2m05s");
    }
}
