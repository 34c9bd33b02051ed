//! A run's story as a person reads it: what `orx logs` prints.
//!
//! The progress reporters show what a run is doing now; the story shows what happened: a header
//! for each stage and item, what the agent said, each tool call on one line in the words every
//! CLI shares (`edit src/app.py`, `run pytest -q`, from `agents::tools`), what a failing command
//! answered, each gate's result with the lines it failed on, and each fix attempt. It is built
//! from `events.jsonl` alone, one event at a time, so the same [`Story`] renders a finished run
//! and follows a live one. An agent's message may arrive in pieces (Gemini streams deltas), so
//! text is gathered until another event comes and then told as one message; [`Story::flush`]
//! tells what is gathered when nothing more arrives for now. Events the story does not tell in
//! its own way (ship, push, hooks, warnings) read as the progress reporters print them.

use crate::model::agent::{AgentEvent, ToolKind};
use crate::model::candidate::{label, parse_key};
use crate::model::gate::GateResult;
use crate::model::{EventKind, RunEvent, Stage};

use super::render;

/// How many lines of one agent message the story shows.
const MESSAGE_LINES: usize = 8;
/// How many failures (or output lines) of one gate the story shows.
const GATE_LINES: usize = 6;

/// Which events a person asked for: one stage, one item, or all.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub stage: Option<Stage>,
    pub item: Option<String>,
}

/// The stage the stream is in, and the agent text gathered but not yet told.
#[derive(Debug, Default)]
pub struct Story {
    stage: Option<Stage>,
    text: String,
}

impl Story {
    /// The stage `ev` belongs to: a gate's is verify, an agent call's is its stage (a fix
    /// attempt is implement's), a stage event's is its own, anything else the stage last
    /// started (or resumed in).
    pub fn stage_of(&mut self, ev: &RunEvent) -> Option<Stage> {
        let from_key = |key: &str| match key {
            "fix" => Some(Stage::Implement),
            other => Stage::parse(other),
        };
        match &ev.kind {
            EventKind::StageStarted { stage } => {
                self.stage = Some(*stage);
                Some(*stage)
            }
            EventKind::RunResumed { stage, .. } => {
                self.stage = stage.or(self.stage);
                self.stage
            }
            EventKind::StageFinished { stage, .. } | EventKind::StageSkipped { stage, .. } => {
                Some(*stage)
            }
            EventKind::GateStarted { .. } | EventKind::GateFinished { .. } => Some(Stage::Verify),
            EventKind::Agent { stage, .. }
            | EventKind::AgentFinished { stage, .. }
            | EventKind::Fallback { stage, .. }
            | EventKind::Waiting { stage, .. } => from_key(stage).or(self.stage),
            _ => self.stage,
        }
    }

    /// Whether `filter` keeps `ev` (call it for every event, in order: it follows the stage).
    pub fn keeps(&mut self, ev: &RunEvent, filter: &Filter) -> bool {
        let stage = self.stage_of(ev);
        if let Some(want) = filter.stage {
            if stage != Some(want) {
                return false;
            }
        }
        match &filter.item {
            // An item's story holds its candidates' too (`W001+c2` is W001's candidate 2).
            Some(want) => item_of(&ev.kind)
                .is_some_and(|i| i == want || parse_key(i).is_some_and(|(item, _)| item == want)),
            None => true,
        }
    }

    /// The lines `ev` adds to the story (none for what a person does not need: session ids,
    /// reasoning, the final text repeated, a change the tool call line already told).
    pub fn lines(&mut self, ev: &RunEvent) -> Vec<String> {
        if let EventKind::Agent {
            agent: AgentEvent::Text { text },
            ..
        } = &ev.kind
        {
            self.text.push_str(text);
            return Vec::new();
        }
        let mut out = self.flush();
        match &ev.kind {
            EventKind::StageStarted { stage } => out.push(format!("== {stage} ==")),
            EventKind::ItemStarted { item, title } => {
                out.push(format!("-- item {}: {title}", label(item)))
            }
            EventKind::AttemptStarted {
                item,
                attempt,
                kind,
            } => out.push(format!("  {} attempt {attempt} ({kind})", label(item))),
            EventKind::AttemptFinished {
                item,
                attempt,
                outcome,
                ..
            } => out.push(format!("  {} attempt {attempt}: {outcome}", label(item))),
            EventKind::Agent { agent, .. } => out.extend(agent_line(agent)),
            EventKind::GateStarted { .. } => {}
            EventKind::GateFinished { result, .. } => out.extend(gate_lines(result)),
            _ => out.extend(render::line(ev)),
        }
        out
    }

    /// The agent text gathered so far, told as one message.
    pub fn flush(&mut self) -> Vec<String> {
        let text = std::mem::take(&mut self.text);
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let mut out = Vec::new();
        for (i, line) in lines.iter().take(MESSAGE_LINES).enumerate() {
            let lead = if i == 0 { "    agent: " } else { "           " };
            out.push(format!("{lead}{}", line.trim_end()));
        }
        if lines.len() > MESSAGE_LINES {
            out.push(format!(
                "           … ({} more lines)",
                lines.len() - MESSAGE_LINES
            ));
        }
        out
    }
}

/// The backlog item an event is about, if any.
pub fn item_of(kind: &EventKind) -> Option<&str> {
    match kind {
        EventKind::ItemStarted { item, .. }
        | EventKind::AttemptStarted { item, .. }
        | EventKind::GateStarted { item, .. }
        | EventKind::GateFinished { item, .. }
        | EventKind::AttemptFinished { item, .. }
        | EventKind::ItemFinished { item, .. }
        | EventKind::TakenOver { item, .. } => Some(item),
        EventKind::Agent { item, .. }
        | EventKind::AgentFinished { item, .. }
        | EventKind::Fallback { item, .. }
        | EventKind::Waiting { item, .. } => item.as_deref(),
        _ => None,
    }
}

/// One line for an agent event, or none.
fn agent_line(ev: &AgentEvent) -> Option<String> {
    Some(match ev {
        AgentEvent::ToolCall {
            name,
            input,
            kind,
            target,
        } => match kind {
            ToolKind::Other => format!(
                "    {name} {}",
                if target.is_empty() { input } else { target }
            )
            .trim_end()
            .to_string(),
            _ => format!("    {kind} {target}").trim_end().to_string(),
        },
        AgentEvent::ToolResult {
            kind, ok, summary, ..
        } => {
            if !*ok {
                format!(
                    "      → failed{}",
                    if summary.is_empty() {
                        String::new()
                    } else {
                        format!(": {summary}")
                    }
                )
            } else if *kind == ToolKind::Run && !summary.is_empty() {
                format!("      → {summary}")
            } else {
                return None;
            }
        }
        AgentEvent::Usage { usage } => format!("    usage: {}", usage.describe()),
        AgentEvent::RateLimited { message, .. } => format!("    rate limited: {message}"),
        AgentEvent::Error { message } => format!("    agent error: {message}"),
        AgentEvent::SessionStarted { .. }
        | AgentEvent::Text { .. }
        | AgentEvent::Reasoning { .. }
        | AgentEvent::CommandRun { .. }
        | AgentEvent::FileChange { .. }
        | AgentEvent::Finished { .. } => return None,
    })
}

/// A gate's result and, when it failed, the lines it failed on: the parsed failures
/// (`file:line code: message`), else the last lines of its output.
fn gate_lines(r: &GateResult) -> Vec<String> {
    let mut out = vec![format!("  {}", render::gate(r))];
    if r.passed {
        return out;
    }
    if r.failures.is_empty() {
        let tail: Vec<&str> = r.tail.lines().filter(|l| !l.trim().is_empty()).collect();
        let from = tail.len().saturating_sub(GATE_LINES);
        out.extend(
            tail[from..]
                .iter()
                .map(|l| format!("      {}", l.trim_end())),
        );
    } else {
        for f in r.failures.iter().take(GATE_LINES) {
            let at = match (&f.file, f.line) {
                (Some(file), Some(line)) => format!("{file}:{line}: "),
                (Some(file), None) => format!("{file}: "),
                _ => String::new(),
            };
            let code = f
                .code
                .as_ref()
                .map(|c| format!("{c}: "))
                .unwrap_or_default();
            out.push(format!("      {at}{code}{}", f.message));
        }
        if r.failures.len() > GATE_LINES {
            out.push(format!(
                "      … ({} more failures)",
                r.failures.len() - GATE_LINES
            ));
        }
    }
    out.push(format!("      log: {}", r.log));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::gate::Failure;
    use crate::model::status::{AttemptKind, StageStatus};

    fn ev(kind: EventKind) -> RunEvent {
        RunEvent {
            seq: 1,
            ts: "t".into(),
            run_id: "r".into(),
            kind,
        }
    }

    fn agent(stage: &str, item: Option<&str>, agent: AgentEvent) -> RunEvent {
        ev(EventKind::Agent {
            stage: stage.into(),
            item: item.map(String::from),
            agent,
        })
    }

    #[test]
    fn pieces_of_a_message_are_told_as_one_before_the_next_event() {
        let mut s = Story::default();
        let text = |t: &str| agent("plan", None, AgentEvent::Text { text: t.into() });
        assert!(s.lines(&text("Done: wrote")).is_empty());
        assert!(s.lines(&text(" hello.txt.")).is_empty());
        let call = agent(
            "plan",
            None,
            AgentEvent::ToolCall {
                name: "Bash".into(),
                input: "{}".into(),
                kind: ToolKind::Run,
                target: "pytest -q".into(),
            },
        );
        assert_eq!(
            s.lines(&call),
            vec!["    agent: Done: wrote hello.txt.", "    run pytest -q"]
        );
        assert!(s.flush().is_empty());
    }

    #[test]
    fn a_failing_gate_shows_the_lines_it_failed_on() {
        let result = GateResult {
            name: "pytest".into(),
            required: true,
            passed: false,
            exit_code: Some(1),
            duration_ms: 1200,
            log: "logs/pytest_W001_1.log".into(),
            tail: "x\n".into(),
            failures: vec![Failure {
                file: Some("tests/test_app.py".into()),
                line: Some(4),
                code: Some("test_greet".into()),
                message: "AssertionError: 'hi' != 'hello'".into(),
            }],
            signature: None,
            error: None,
        };
        let lines = Story::default().lines(&ev(EventKind::GateFinished {
            item: "W001".into(),
            attempt: 1,
            result,
        }));
        assert_eq!(
            lines,
            vec![
                "  gate pytest FAILED with exit 1 (1.2s)",
                "      tests/test_app.py:4: test_greet: AssertionError: 'hi' != 'hello'",
                "      log: logs/pytest_W001_1.log",
            ]
        );
    }

    #[test]
    fn the_filter_follows_the_stage_and_the_item() {
        let stream = [
            ev(EventKind::StageStarted {
                stage: Stage::Implement,
            }),
            ev(EventKind::AttemptStarted {
                item: "W001".into(),
                attempt: 2,
                kind: AttemptKind::Fix,
            }),
            agent("fix", Some("W001"), AgentEvent::Text { text: "x".into() }),
            agent("fix", Some("W002"), AgentEvent::Text { text: "y".into() }),
            ev(EventKind::GateStarted {
                gate: "g".into(),
                item: "W001".into(),
                attempt: 2,
            }),
            agent(
                "fix",
                Some("W001+c2"),
                AgentEvent::Text { text: "z".into() },
            ),
            agent("fix", Some("W0011"), AgentEvent::Text { text: "w".into() }),
            ev(EventKind::StageFinished {
                stage: Stage::Implement,
                status: StageStatus::Done,
                duration_ms: 1,
            }),
        ];
        let kept = |filter: Filter| {
            let mut s = Story::default();
            stream
                .iter()
                .enumerate()
                .filter(|(_, e)| s.keeps(e, &filter))
                .map(|(i, _)| i)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            kept(Filter {
                stage: Some(Stage::Implement),
                item: None
            }),
            vec![0, 1, 2, 3, 5, 6, 7]
        );
        assert_eq!(
            kept(Filter {
                stage: None,
                item: Some("W001".into())
            }),
            vec![1, 2, 4, 5],
            "W001's story holds its candidates' and not W0011's"
        );
        assert_eq!(
            kept(Filter {
                stage: Some(Stage::Verify),
                item: Some("W001".into())
            }),
            vec![4]
        );
    }
}
