//! Codex (`codex exec`, tested with 0.169.0): argv, environment and the `--json` parser.
//!
//! Invocation: `codex exec --json -o <log>.last.md -s read-only|workspace-write [-m M]
//! [-c model_reasoning_effort="E"] --skip-git-repo-check …extra_args -`; a fix attempt resumes
//! the thread with `… resume THREAD_ID -`. The trailing `-` makes codex read the prompt from
//! stdin. `--full-auto` no longer exists; `exec` never asks for approval, so the sandbox flag
//! alone decides what the agent may do: *text* mode is `-s read-only`, *apply* mode
//! `-s workspace-write` (edits inside the working directory only). The API key, when
//! configured, goes in both `CODEX_API_KEY` (what `exec` reads) and `OPENAI_API_KEY`.
//!
//! Stream. `thread.started` gives the session (thread) id; `item.started`/`item.completed`
//! carry `agent_message` (text; the last one is the answer, also written to the `-o` file,
//! which wins when present), `reasoning`, `command_execution` (command, exit code),
//! `file_change` (path and kind per change), `mcp_tool_call`, `web_search` and non-fatal
//! `error` items; `turn.completed` carries usage; `turn.failed` and a top-level `error` carry
//! failures. Every tool-like item becomes exactly one `ToolCall` (at start, or at completion
//! when no start was seen), which is what the turn budget counts.
//!
//! Usage is cumulative per thread: each `turn.completed` reports the thread's running totals.
//! The parser keeps the previous totals (seeded from the request's `usage_baseline`, the
//! totals state recorded for that session) and emits deltas; `input_tokens` includes the
//! cached ones, so orx's `input_tokens` is `input - cached` and `cache_read_tokens` is
//! `cached`. Codex reports no cost: the runner prices the tokens from the price table and marks
//! the cost estimated.
//!
//! The bulk of a long stream is `item.started`/`item.completed` lines of messages, reasoning
//! and commands (with a command's whole output): those are read through a typed shape that
//! borrows from the line ([`JsonLines::typed`]); every other line, and any of those that does
//! not fit the shape exactly, is read as a generic value, the reference.
//!
//! Verdicts. `turn.failed`: named from its message (rate limit, unknown model, auth), else
//! `AgentError`. A top-level `error` fails the call only when no `turn.completed` follows it
//! (codex also reports transient reconnects that way). No `turn.completed` at all: `NoResult`.

use std::collections::HashSet;
use std::path::PathBuf;

use serde::Deserialize;
use serde_json::Value;

use super::classify::classify_message;
use super::events::{detail_suffix, last_line};
use super::json::{at, compact, str_at, string_at, u64_at};
use super::stream::{fail, flag_rate_limit, JsonLines, StreamCore};
use super::tools;
use super::{AgentCli, AgentEvent, AgentOutcome, AgentRequest, CliSettings, FailureKind, Mode};
use super::{Argv, StreamParser, ToolKind, Usage};
use crate::exec::{CommandSpec, ExitInfo};

pub const TESTED_VERSION: &str = "0.169.0";

#[derive(Debug, Clone)]
pub struct CodexCli {
    pub settings: CliSettings,
}

/// Where `-o` writes the last message for a request: next to its stream log.
pub fn last_message_path(req: &AgentRequest) -> PathBuf {
    req.stdout_log.with_extension("last.md")
}

impl AgentCli for CodexCli {
    fn name(&self) -> &str {
        "codex"
    }

    fn command(&self, req: &AgentRequest) -> CommandSpec {
        let sandbox = match req.mode {
            Mode::Text => "read-only",
            Mode::Apply => "workspace-write",
        };
        let last_message = last_message_path(req);
        let mut a = Argv::of(&["exec", "--json", "-o", &last_message.to_string_lossy()]);
        a.flag("-s", Some(sandbox));
        a.flag("-m", req.model.as_ref());
        let effort = self.settings.reasoning_effort.as_ref();
        a.flag(
            "-c",
            effort.map(|e| format!("model_reasoning_effort=\"{e}\"")),
        );
        a.push("--skip-git-repo-check");
        // The executor's extra args are options of `exec`: they go before `resume`.
        let mut spec = self.settings.spec(req, "CODEX_API_KEY", a);
        if let Some(thread) = &req.resume_session {
            spec.args.extend(["resume".into(), thread.clone()]);
        }
        spec.args.push("-".into());
        if let Some(key) = self.settings.api_key.as_deref().filter(|k| !k.is_empty()) {
            spec.env.push(("OPENAI_API_KEY".into(), key.to_string()));
        }
        spec
    }

    fn parser(&self) -> Box<dyn StreamParser> {
        Box::<CodexParser>::default()
    }

    fn parser_for(&self, req: &AgentRequest) -> Box<dyn StreamParser> {
        Box::new(CodexParser {
            previous: req.usage_baseline.clone().unwrap_or_default(),
            last_message_file: Some(last_message_path(req)),
            ..CodexParser::default()
        })
    }
}

/// Codex's parser; its result line is the last `turn.completed`.
#[derive(Debug, Default)]
pub struct CodexParser {
    core: StreamCore,
    /// The thread's cumulative totals as last reported (or the baseline).
    previous: Usage,
    latest_total: Option<Usage>,
    last_message_file: Option<PathBuf>,
    started: HashSet<String>,
    turn_failed: Option<String>,
    error: Option<String>,
}

impl JsonLines for CodexParser {
    fn core(&mut self) -> &mut StreamCore {
        &mut self.core
    }

    fn typed(&mut self, line: &str, out: &mut Vec<AgentEvent>) -> bool {
        let Some(l) =
            super::json::object_text(line).and_then(|t| serde_json::from_str::<TypedLine>(t).ok())
        else {
            return false;
        };
        let (Some(kind), Some(item)) = (l.kind, l.item) else {
            return false;
        };
        if !matches!(
            item.kind,
            Some("agent_message" | "reasoning" | "command_execution")
        ) {
            return false;
        }
        match kind {
            "item.started" => {
                if let Some(call) = item.tool_call() {
                    if let Some(id) = item.id {
                        self.started.insert(id.to_string());
                    }
                    out.push(call);
                }
            }
            "item.completed" => self.typed_completed(item, out),
            _ => return false,
        }
        flag_rate_limit(out);
        true
    }

    fn line(&mut self, v: Value, out: &mut Vec<AgentEvent>) {
        match str_at(&v, "type").unwrap_or("") {
            "thread.started" => self.core.start_session(&v, "thread_id", out),
            "item.started" => {
                if let Some(item) = v.get("item") {
                    if let Some(call) = tool_call(item) {
                        if let Some(id) = str_at(item, "id") {
                            self.started.insert(id.to_string());
                        }
                        out.push(call);
                    }
                }
            }
            "item.completed" => {
                if let Some(item) = v.get("item") {
                    self.item_completed(item, out);
                }
            }
            "turn.completed" => {
                let total = Usage {
                    input_tokens: u64_at(&v, "usage.input_tokens")
                        .saturating_sub(u64_at(&v, "usage.cached_input_tokens")),
                    cache_read_tokens: u64_at(&v, "usage.cached_input_tokens"),
                    output_tokens: u64_at(&v, "usage.output_tokens"),
                    ..Usage::default()
                };
                let delta = total.minus(&self.previous);
                self.previous = total.clone();
                self.latest_total = Some(total);
                self.core.usage.add(&delta);
                if !delta.is_empty() {
                    out.push(AgentEvent::Usage { usage: delta });
                }
                self.core.result = Some(v);
            }
            "turn.failed" => {
                let msg = string_at(&v, "error.message")
                    .unwrap_or_else(|| "turn failed without a message".into());
                self.turn_failed = Some(msg.clone());
                out.push(AgentEvent::Error { message: msg });
            }
            "error" => {
                let msg = string_at(&v, "message").unwrap_or_else(|| compact(&v, 300));
                self.error = Some(msg.clone());
                out.push(AgentEvent::Error { message: msg });
            }
            _ => {}
        }
        flag_rate_limit(out);
    }

    fn verdict(&mut self, exit: &ExitInfo) -> AgentOutcome {
        let from_file = self
            .last_message_file
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .filter(|t| !t.trim().is_empty());
        let mut out = self.core.outcome(exit);
        out.final_text = from_file
            .or_else(|| self.core.last_text.clone())
            .unwrap_or_default();
        out.cumulative_usage = self.latest_total.clone();
        let failure = if let Some(msg) = &self.turn_failed {
            Some(msg.clone())
        } else if self.core.result.is_none() {
            self.error.clone().or_else(|| {
                Some(format!(
                    "codex {}{}",
                    self.core.ended_without("turn.completed"),
                    detail_suffix(&last_line(&exit.stderr_tail))
                ))
            })
        } else {
            None
        };
        if let Some(msg) = failure {
            let kind = classify_message(&msg).unwrap_or(
                if self.turn_failed.is_some() || self.error.is_some() {
                    FailureKind::AgentError
                } else {
                    FailureKind::NoResult
                },
            );
            fail(&mut out, kind, format!("codex: {msg}"), &msg);
        }
        out
    }
}

/// The bulk lines: `item.started` and `item.completed` with their item.
#[derive(Deserialize)]
struct TypedLine<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<&'a str>,
    #[serde(borrow, default)]
    item: Option<TypedItem<'a>>,
}

/// An agent message, a reasoning text or a command with its output: the fields the parser
/// reads, nothing else.
#[derive(Deserialize)]
struct TypedItem<'a> {
    #[serde(borrow, default)]
    id: Option<&'a str>,
    #[serde(rename = "type", borrow, default)]
    kind: Option<&'a str>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    command: Option<String>,
    #[serde(default)]
    aggregated_output: Option<String>,
    #[serde(default)]
    exit_code: Option<i64>,
}

impl TypedItem<'_> {
    /// [`tool_call`] for the typed kinds: only a command is a tool.
    fn tool_call(&self) -> Option<AgentEvent> {
        if self.kind != Some("command_execution") {
            return None;
        }
        let command = self.command.clone()?;
        Some(tools::call_on(
            "shell",
            ToolKind::Run,
            &tools::shell_line(&command),
            command,
        ))
    }
}

impl CodexParser {
    /// [`CodexParser::item_completed`] for a typed item.
    fn typed_completed(&mut self, item: TypedItem<'_>, out: &mut Vec<AgentEvent>) {
        if !self.started.contains(item.id.unwrap_or("")) {
            if let Some(call) = item.tool_call() {
                out.push(call);
            }
        }
        match item.kind.unwrap_or("") {
            "agent_message" => {
                let text = item.text.unwrap_or_default();
                self.core.last_text = Some(text.clone());
                out.push(AgentEvent::Text { text });
            }
            "reasoning" => out.push(AgentEvent::Reasoning {
                text: item.text.unwrap_or_default(),
            }),
            _ => {
                let exit_code = item.exit_code.map(|c| c as i32);
                out.push(AgentEvent::CommandRun {
                    command: item.command.unwrap_or_default(),
                    exit_code,
                });
                let output = item.aggregated_output.unwrap_or_default();
                let summary = match exit_code {
                    Some(c) if c != 0 && output.trim().is_empty() => format!("exit {c}"),
                    _ => output,
                };
                out.push(tools::result("shell", exit_code == Some(0), &summary));
            }
        }
    }

    fn item_completed(&mut self, item: &Value, out: &mut Vec<AgentEvent>) {
        let id = str_at(item, "id").unwrap_or("");
        if !self.started.contains(id) {
            if let Some(call) = tool_call(item) {
                out.push(call);
            }
        }
        match str_at(item, "type").unwrap_or("") {
            "agent_message" => {
                let text = string_at(item, "text").unwrap_or_default();
                self.core.last_text = Some(text.clone());
                out.push(AgentEvent::Text { text });
            }
            "reasoning" => out.push(AgentEvent::Reasoning {
                text: string_at(item, "text").unwrap_or_default(),
            }),
            "command_execution" => {
                let exit_code = at(item, "exit_code")
                    .and_then(Value::as_i64)
                    .map(|c| c as i32);
                out.push(AgentEvent::CommandRun {
                    command: string_at(item, "command").unwrap_or_default(),
                    exit_code,
                });
                let output = string_at(item, "aggregated_output").unwrap_or_default();
                let summary = match exit_code {
                    Some(c) if c != 0 && output.trim().is_empty() => format!("exit {c}"),
                    _ => output,
                };
                out.push(tools::result("shell", exit_code == Some(0), &summary));
            }
            "file_change" if str_at(item, "status") == Some("failed") => {
                out.push(tools::result("apply_patch", false, "patch failed"));
            }
            "file_change" => {
                let first = item
                    .get("changes")
                    .and_then(Value::as_array)
                    .and_then(|c| c.first())
                    .map(|c| {
                        format!(
                            "{} {}",
                            str_at(c, "kind").unwrap_or("update"),
                            str_at(c, "path").unwrap_or("")
                        )
                    })
                    .unwrap_or_default();
                out.push(tools::result("apply_patch", true, &first));
                for c in item
                    .get("changes")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    out.push(AgentEvent::FileChange {
                        path: string_at(c, "path").unwrap_or_default(),
                        kind: string_at(c, "kind").unwrap_or_else(|| "update".into()),
                    });
                }
            }
            "error" => out.push(AgentEvent::Error {
                message: string_at(item, "message").unwrap_or_default(),
            }),
            _ => {}
        }
    }
}

/// The `ToolCall` an item stands for, if it is a tool.
fn tool_call(item: &Value) -> Option<AgentEvent> {
    Some(match str_at(item, "type")? {
        "command_execution" => {
            let command = string_at(item, "command")?;
            tools::call_on(
                "shell",
                ToolKind::Run,
                &tools::shell_line(&command),
                command.clone(),
            )
        }
        "file_change" => {
            let changes = item.get("changes");
            let paths: Vec<&str> = changes
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|c| str_at(c, "path"))
                .collect();
            tools::call_on(
                "apply_patch",
                ToolKind::Edit,
                &paths.join(" "),
                changes.map(|c| compact(c, 400)).unwrap_or_default(),
            )
        }
        "mcp_tool_call" => {
            let name = format!(
                "{}.{}",
                str_at(item, "server").unwrap_or("mcp"),
                str_at(item, "tool").unwrap_or("tool")
            );
            let args = item.get("arguments").cloned().unwrap_or(Value::Null);
            tools::call_on(
                &name,
                ToolKind::Other,
                &tools::target_of(&args),
                compact(&args, 400),
            )
        }
        "web_search" => {
            let query = string_at(item, "query").unwrap_or_default();
            tools::call_on("web_search", ToolKind::Fetch, &query, query.clone())
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::testutil::{
        assert_typed_reads_as_generic, exited, has_env, play, request, resumed_apply_argv, settings,
    };
    use crate::agents::testutil::{play_resumed, play_success, tokens};

    /// Bulk lines with every irregularity the typed shape must hand back to the generic value
    /// (escapes, retyped fields, repeated keys, missing or null items), and the other lines.
    const ODD_LINES: &str = r#"{"type":"thread.started","thread_id":"t\u0031"}
{"type":"item.started","item":{"id":"c1","type":"command_execution","command":"bash -lc 'ls -la'","aggregated_output":"","exit_code":null,"status":"in_progress"}}
{"type":"item.completed","item":{"id":"c1","type":"command_execution","command":"bash -lc 'ls -la'","aggregated_output":"a\nb \"q\"\n","exit_code":0,"status":"completed"}}
{"type":"item.completed","item":{"id":"c2","type":"command_execution","command":"false","aggregated_output":"  ","exit_code":1}}
{"type":"item.completed","item":{"id":"c3","type":"command_execution","command":"x","exit_code":1.5}}
{"type":"item.completed","item":{"id":"c4","type":"command_execution","command":7,"exit_code":2}}
{"type":"item.completed","item":{"id":"c5","type":"command_execution","exit_code":-3}}
{"type":"item.completed","item":{"id":"m1","type":"agent_message","text":"first"},"item":{"id":"m2","type":"agent_message","text":"second"}}
{"type":"item.completed","item":{"id":"m3","type":"agent_message","text":5}}
{"type":"item.completed","item":{"id":"m4","type":"agent_message"}}
{"type":"item.completed","item":null}
{"type":"item.completed"}
{"type":"item.updated","item":{"id":"m5","type":"agent_message","text":"partial"}}
{"type":"item.completed","item":{"id":"r1","type":"reasoning","text":"**Thinking** about it"}}
{"type":"item.started","item":{"id":"f1","type":"file_change","changes":[{"path":"/w/a.py","kind":"add"}],"status":"in_progress"}}
{"type":"item.completed","item":{"id":"f1","type":"file_change","changes":[{"path":"/w/a.py","kind":"add"}],"status":"completed"}}
{"type":"item.completed","item":{"id":"e1","type":"error","message":"429 Too Many Requests"}}
  {"type":"item.completed","item":{"id":"m6","type":"agent_message","text":"padded"}}  
[1,2]
not json
{"type":"turn.completed","usage":{"input_tokens":20,"cached_input_tokens":5,"output_tokens":3}}"#;

    #[test]
    fn typed_lines_read_exactly_as_the_generic_value_does() {
        assert_typed_reads_as_generic::<CodexParser>("codex", ODD_LINES, 5);
        // The bulk lines do take the typed path; the others do not.
        let mut p = CodexParser::default();
        let mut out = Vec::new();
        assert!(p.typed(ODD_LINES.lines().nth(2).unwrap(), &mut out));
        assert_eq!(out.len(), 3, "{out:?}");
        assert!(!p.typed(ODD_LINES.lines().next().unwrap(), &mut out));
        assert!(!p.typed(ODD_LINES.lines().nth(7).unwrap(), &mut out));
        assert!(!p.typed(ODD_LINES.lines().nth(15).unwrap(), &mut out));
    }

    fn cli() -> CodexCli {
        CodexCli {
            settings: CliSettings {
                reasoning_effort: Some("high".into()),
                ..settings("codex", Some("sk-test"))
            },
        }
    }

    #[test]
    fn argv_per_mode_and_resume() {
        let mut req = request(Mode::Text);
        req.model = Some("gpt-5".into());
        let spec = cli().command(&req);
        assert_eq!(
            spec.args,
            [
                "exec",
                "--json",
                "-o",
                "/runs/r1/logs/agent_implement_W001_1.last.md",
                "-s",
                "read-only",
                "-m",
                "gpt-5",
                "-c",
                "model_reasoning_effort=\"high\"",
                "--skip-git-repo-check",
                "-"
            ]
        );
        assert!(has_env(&spec, "CODEX_API_KEY", "sk-test"));
        assert!(has_env(&spec, "OPENAI_API_KEY", "sk-test"));
        assert_eq!(spec.stdin.as_deref(), Some(req.prompt.as_bytes()));
        let argv = resumed_apply_argv(&cli(), &mut req, "0199a213-81c0");
        assert!(
            argv.contains("-s workspace-write") && argv.ends_with("resume 0199a213-81c0 -"),
            "{argv}"
        );
    }

    #[test]
    fn a_turn_with_commands_and_patches() {
        let (events, o) = play_success(
            &mut CodexParser::default(),
            include_str!("../../tests/recordings/codex/written/success.jsonl"),
            "0199a213-81c0-7800-8aa1-bbab2a035a53",
            "Implemented add() in calc.py; pytest passes.",
        );
        assert_eq!(tokens(&o), (24_763 - 24_448, 24_448, 1_122));
        assert!(events.contains(&AgentEvent::CommandRun {
            command: "bash -lc 'python -m pytest -q'".into(),
            exit_code: Some(0)
        }));
        assert!(events.contains(&AgentEvent::FileChange {
            path: "/w/calc.py".into(),
            kind: "update".into()
        }));
        let tools = events
            .iter()
            .filter(|e| matches!(e, AgentEvent::ToolCall { .. }))
            .count();
        assert_eq!(tools, 2, "one ToolCall per tool item: {events:?}");
        // Normalised: the command as typed (its `bash -lc` wrapper off) and what it answered.
        assert!(events.iter().any(|e| matches!(e,
            AgentEvent::ToolCall { kind: ToolKind::Run, target, .. } if target == "python -m pytest -q")));
        assert!(events.iter().any(|e| matches!(e,
            AgentEvent::ToolCall { kind: ToolKind::Edit, target, .. } if target == "/w/calc.py")));
        assert!(events.contains(&AgentEvent::ToolResult {
            name: "shell".into(),
            kind: ToolKind::Run,
            ok: true,
            summary: "1 passed in 0.01s".into(),
        }));
    }

    #[test]
    fn cumulative_usage_becomes_deltas_from_the_baseline() {
        let mut req = request(Mode::Apply);
        req.resume_session = Some("t".into());
        req.usage_baseline = Some(Usage {
            input_tokens: 1_000,
            cache_read_tokens: 500,
            output_tokens: 100,
            ..Usage::default()
        });
        let mut p = cli().parser_for(&req);
        let evs = p.feed(r#"{"type":"turn.completed","usage":{"input_tokens":2000,"cached_input_tokens":800,"output_tokens":150}}"#);
        assert_eq!(
            evs,
            [AgentEvent::Usage {
                usage: Usage {
                    input_tokens: 200,
                    cache_read_tokens: 300,
                    output_tokens: 50,
                    ..Usage::default()
                }
            }]
        );
        let o = p.finish(&exited(0));
        assert_eq!(o.usage.output_tokens, 50);
        assert_eq!(o.cumulative_usage.unwrap().input_tokens, 1_200);
    }

    #[test]
    fn failures_are_named() {
        let cases = [
            ("turn_failed_rate_limit.jsonl", FailureKind::RateLimited),
            ("model_not_found.jsonl", FailureKind::ModelNotFound),
            ("error_no_turn.jsonl", FailureKind::AuthFailed),
        ];
        for (file, want) in cases {
            let rec = match file {
                "turn_failed_rate_limit.jsonl" => {
                    include_str!(
                        "../../tests/recordings/codex/written/turn_failed_rate_limit.jsonl"
                    )
                }
                "model_not_found.jsonl" => {
                    include_str!("../../tests/recordings/codex/written/model_not_found.jsonl")
                }
                _ => include_str!("../../tests/recordings/codex/written/error_no_turn.jsonl"),
            };
            let (_, o) = play(&mut CodexParser::default(), rec, exited(1));
            assert_eq!(o.failure, Some(want), "{file}: {o:?}");
        }
        // A transient reconnect error followed by a completed turn is still a success.
        let (_, o) = play(
            &mut CodexParser::default(),
            "{\"type\":\"thread.started\",\"thread_id\":\"t\"}\n{\"type\":\"error\",\"message\":\"Reconnecting... 1/5\"}\n{\"type\":\"item.completed\",\"item\":{\"id\":\"i\",\"type\":\"agent_message\",\"text\":\"ok\"}}\n{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}",
            exited(0),
        );
        assert!(o.succeeded(), "{o:?}");
        let (_, o) = play(
            &mut CodexParser::default(),
            "{\"type\":\"thread.started\",\"thread_id\":\"t\"}",
            exited(0),
        );
        assert_eq!(o.failure, Some(FailureKind::NoResult));
    }

    #[test]
    fn the_last_message_file_wins() {
        let dir = tempfile::tempdir().unwrap();
        let mut req = request(Mode::Text);
        req.stdout_log = dir.path().join("agent_plan.jsonl");
        std::fs::write(last_message_path(&req), "# Plan\n\nfrom the file\n").unwrap();
        let mut p = cli().parser_for(&req);
        p.feed(r#"{"type":"item.completed","item":{"id":"i","type":"agent_message","text":"from the stream"}}"#);
        p.feed(r#"{"type":"turn.completed","usage":{"input_tokens":1,"output_tokens":1}}"#);
        assert_eq!(p.finish(&exited(0)).final_text, "# Plan\n\nfrom the file\n");
    }

    #[test]
    fn a_resumed_thread_reports_deltas() {
        // Recorded from the real CLI: the second call resumes the first's thread, whose
        // `turn.completed` usage is cumulative.
        let first = include_str!("../../tests/recordings/codex/resume_first.jsonl");
        let second = include_str!("../../tests/recordings/codex/resume_second.jsonl");
        let (o1, o2) = play_resumed(&cli(), first, second);
        assert_eq!(o2.session_id, o1.session_id);
        // Cumulative 300/30/60 after 200/20/40: this call is 90 fresh + 10 cached in, 20 out.
        assert_eq!(tokens(&o2), (90, 10, 20));
    }
}
