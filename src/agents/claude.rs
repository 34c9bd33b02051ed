//! Claude Code (`claude`, tested with 2.1.330): argv, environment and the `stream-json` parser.
//!
//! Invocation: `claude -p --output-format stream-json --verbose [--model M] [--max-turns N]
//! [--max-budget-usd X] [--resume SID] …extra_args`, the prompt on stdin (then closed).
//!
//! Modes. *Text* (plan, spec, decompose, review) removes the tools that change things with
//! `--disallowedTools Bash,Edit,MultiEdit,Write,NotebookEdit` and keeps the default permission
//! mode: the model can still read and search, cannot try to write, and so never produces a
//! permission denial that would fail a read-only stage. `--permission-mode plan` was not used
//! because in print mode it turns the answer into an `ExitPlanMode` tool call instead of the
//! final text. *Apply* (implement, fix, knowledge) runs with
//! `--permission-mode bypassPermissions`; Claude refuses that as root unless `IS_SANDBOX=1`, so
//! orx sets it when it runs as root (containers, CI).
//!
//! Stream. `system/init` gives the session id and model; `assistant` lines carry text,
//! thinking and `tool_use` blocks; `user` lines carry `tool_result`s, which is where a Bash
//! call's outcome and a Write/Edit's success become `CommandRun` and `FileChange`; a
//! `rate_limit_event` with `status: rejected` is a rate limit; the final `result` line carries
//! `is_error`, `subtype`, `terminal_reason`, `api_error_status`, the final text, usage,
//! `total_cost_usd` and `permission_denials`. The usage inside `assistant` lines is ignored
//! (it is per message, partial, and repeated per content block); the `result` is the
//! authoritative total and is emitted as one `Usage` delta. Its `total_cost_usd` is cumulative
//! over a resumed session (usage is per invocation): the runner keeps the last total per session
//! and the parser subtracts it, so a fix attempt is charged only for itself. Live budget enforcement for Claude
//! therefore leans on its own `--max-budget-usd` and `--max-turns`, which orx passes down.
//!
//! Verdicts. No `result` line: `NoResult`. `subtype: error_max_turns`: `TurnLimit`;
//! `error_max_budget_usd`: `BudgetExceeded`; `api_error_status`: by HTTP status; a rejected
//! rate-limit event: `RateLimited`; any other `is_error`: named from its text, else
//! `AgentError`. A non-empty `permission_denials` fails the call as `PermissionDenied` even
//! when `is_error` is false: a tool the agent needed was refused, so what it reports as done
//! is not what happened.
//!
//! Reading. `assistant` and `user` lines, nearly all of a stream, go through `TypedLine`,
//! which borrows the short names from the line, owns the texts the events keep, and skips
//! everything else (per-message usage, `tool_use_result` repeating the tool's output) without
//! building it. A line with anything unexpected (another type, an `error`, a retyped field, an
//! escaped name, a repeated key) is read as a generic value instead, by the same code as
//! before; a test plays every recording both ways. The one difference: serde checks skipped
//! fields less strictly than it builds values, so a line whose skipped part holds a number
//! beyond `f64`, a lone UTF-16 surrogate escape or nesting deeper than 128 is read rather than
//! dropped as unparsed.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

use super::classify::{classify_http, classify_message, parse_reset};
use super::json::{bool_at, compact, f64_at, str_at, string_at, u64_at};
use super::stream::{fail, JsonLines, StreamCore};
use super::tools;
use super::{AgentCli, AgentEvent, AgentOutcome, AgentRequest, CliSettings, FailureKind, Mode};
use super::{Argv, StreamParser, Usage};
use crate::exec::{CommandSpec, ExitInfo};

/// The release this module was verified against.
pub const TESTED_VERSION: &str = "2.1.330";

/// Tools removed in text mode.
pub const TEXT_MODE_DISALLOWED: &str = "Bash,Edit,MultiEdit,Write,NotebookEdit";

#[derive(Debug, Clone)]
pub struct ClaudeCli {
    pub settings: CliSettings,
    /// Whether orx runs as root (then apply mode needs `IS_SANDBOX=1`).
    pub as_root: bool,
}

impl ClaudeCli {
    pub fn new(settings: CliSettings) -> Self {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let as_root = unsafe { libc::geteuid() } == 0;
        ClaudeCli { settings, as_root }
    }
}

impl AgentCli for ClaudeCli {
    fn name(&self) -> &str {
        "claude"
    }

    fn command(&self, req: &AgentRequest) -> CommandSpec {
        let mut a = Argv::of(&["-p", "--output-format", "stream-json", "--verbose"]);
        match req.mode {
            Mode::Text => a.flag("--disallowedTools", Some(TEXT_MODE_DISALLOWED)),
            Mode::Apply => a.flag("--permission-mode", Some("bypassPermissions")),
        }
        a.flag("--model", req.model.as_ref());
        a.flag("--max-turns", req.max_turns);
        let budget = req.max_budget_usd.map(|usd| format!("{:.4}", usd.max(0.0)));
        a.flag("--max-budget-usd", budget);
        a.flag("--resume", req.resume_session.as_ref());
        let mut spec = self.settings.spec(req, "ANTHROPIC_API_KEY", a);
        if req.mode == Mode::Apply && self.as_root {
            spec.env.push(("IS_SANDBOX".into(), "1".into()));
        }
        spec
    }

    fn parser(&self) -> Box<dyn StreamParser> {
        Box::<ClaudeParser>::default()
    }

    fn parser_for(&self, req: &AgentRequest) -> Box<dyn StreamParser> {
        Box::new(ClaudeParser {
            cost_baseline: req
                .usage_baseline
                .as_ref()
                .map(|u| u.cost_usd)
                .unwrap_or(0.0),
            ..ClaudeParser::default()
        })
    }
}

/// A pending tool call, until its result arrives.
#[derive(Debug, Clone)]
struct Pending {
    name: String,
    command: Option<String>,
    path: Option<String>,
}

#[derive(Debug, Default)]
pub struct ClaudeParser {
    core: StreamCore,
    pending: HashMap<String, Pending>,
    rate_limit: Option<(Option<String>, String)>,
    api_error: Option<String>,
    /// `total_cost_usd` is cumulative over a resumed session: the total it reported last time.
    cost_baseline: f64,
}

impl JsonLines for ClaudeParser {
    fn core(&mut self) -> &mut StreamCore {
        &mut self.core
    }

    fn typed(&mut self, line: &str, out: &mut Vec<AgentEvent>) -> bool {
        let Some(l) =
            super::json::object_text(line).and_then(|t| serde_json::from_str::<TypedLine>(t).ok())
        else {
            return false;
        };
        let Some(blocks) = l.message.and_then(|m| m.content) else {
            return false;
        };
        let user = match l.kind {
            Some("assistant") if l.error.is_none() => false,
            Some("user") => true,
            _ => return false,
        };
        if self.core.session_id.is_none() {
            self.core.session_id = l.session_id.map(str::to_string);
        }
        for b in blocks {
            if user {
                self.typed_result(b, out);
            } else {
                self.typed_block(b, out);
            }
        }
        true
    }

    fn line(&mut self, v: Value, out: &mut Vec<AgentEvent>) {
        if self.core.session_id.is_none() {
            self.core.session_id = string_at(&v, "session_id");
        }
        match str_at(&v, "type").unwrap_or("") {
            "system" if str_at(&v, "subtype") == Some("init") => {
                self.core.start_session(&v, "session_id", out);
            }
            "assistant" => self.assistant(&v, out),
            "user" => self.user(&v, out),
            "rate_limit_event" => {
                let status = str_at(&v, "rate_limit_info.status").unwrap_or("");
                if status == "rejected" {
                    let reset = super::json::at(&v, "rate_limit_info.resetsAt")
                        .map(|r| compact(r, 64))
                        .and_then(|r| parse_reset(&r));
                    let kind = str_at(&v, "rate_limit_info.rateLimitType").unwrap_or("usage");
                    let message = format!("claude: {kind} rate limit reached");
                    self.rate_limit = Some((reset.clone(), message.clone()));
                    out.push(AgentEvent::RateLimited {
                        reset_at: reset,
                        message,
                    });
                }
            }
            "result" => {
                let u = Usage {
                    input_tokens: u64_at(&v, "usage.input_tokens"),
                    output_tokens: u64_at(&v, "usage.output_tokens"),
                    cache_read_tokens: u64_at(&v, "usage.cache_read_input_tokens"),
                    cache_write_tokens: u64_at(&v, "usage.cache_creation_input_tokens"),
                    cost_usd: (f64_at(&v, "total_cost_usd").unwrap_or(0.0) - self.cost_baseline)
                        .max(0.0),
                    cost_estimated: false,
                };
                self.core.set_usage(u, out);
                let is_error = bool_at(&v, "is_error")
                    || str_at(&v, "subtype").is_some_and(|s| s != "success");
                self.core.result_line(v, is_error, error_text, out);
            }
            _ => {}
        }
    }

    fn verdict(&mut self, exit: &ExitInfo) -> AgentOutcome {
        let reset_at = self.rate_limit.as_ref().and_then(|r| r.0.clone());
        let Some(r) = &self.core.result else {
            let mut out = self
                .core
                .no_result("claude", exit, self.api_error.as_deref());
            out.reset_at = reset_at;
            return out;
        };
        let mut out = self.core.outcome(exit);
        out.reset_at = reset_at;
        out.cumulative_usage = f64_at(r, "total_cost_usd").map(|c| Usage {
            cost_usd: c,
            ..Usage::default()
        });
        if let Some(sid) = string_at(r, "session_id") {
            out.session_id = Some(sid);
        }
        let subtype = str_at(r, "subtype").unwrap_or("success");
        let is_error = bool_at(r, "is_error") || subtype != "success";
        let denials: Vec<String> = r
            .get("permission_denials")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|d| str_at(d, "tool_name").unwrap_or("a tool").to_string())
                    .collect()
            })
            .unwrap_or_default();
        if is_error {
            let message = error_text(r);
            let kind = if subtype == "error_max_turns" {
                FailureKind::TurnLimit
            } else if subtype == "error_max_budget_usd" {
                FailureKind::BudgetExceeded
            } else if let Some(status) = r.get("api_error_status").and_then(Value::as_u64) {
                classify_http(status as u16)
            } else if self.rate_limit.is_some() {
                FailureKind::RateLimited
            } else if let Some(k) = classify_message(&message) {
                k
            } else if str_at(r, "terminal_reason") == Some("api_error") {
                FailureKind::ApiError
            } else {
                FailureKind::AgentError
            };
            fail(&mut out, kind, format!("claude: {message}"), &message);
        } else if !denials.is_empty() {
            out.failure = Some(FailureKind::PermissionDenied);
            out.message = Some(format!(
                "claude was denied permission for {} ({} denial{})",
                dedup(&denials).join(", "),
                denials.len(),
                if denials.len() == 1 { "" } else { "s" }
            ));
            out.final_text = string_at(r, "result").unwrap_or_default();
        } else {
            out.final_text = string_at(r, "result").unwrap_or_default();
        }
        out
    }
}

/// An `assistant` or `user` line, the bulk of a stream, as far as the parser reads it; every
/// other field (the per-message usage, `tool_use_result` repeating a tool's whole output) is
/// skipped without being built. The short names borrow from the line.
#[derive(Deserialize)]
struct TypedLine<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<&'a str>,
    #[serde(borrow, default)]
    session_id: Option<&'a str>,
    #[serde(borrow, default)]
    error: Option<&'a str>,
    #[serde(borrow, default)]
    message: Option<TypedMessage<'a>>,
}

#[derive(Deserialize)]
struct TypedMessage<'a> {
    #[serde(borrow, default)]
    content: Option<Vec<TypedBlock<'a>>>,
}

/// One content block: text, thinking, a tool call or a tool result.
#[derive(Deserialize)]
struct TypedBlock<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<&'a str>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    thinking: Option<String>,
    #[serde(borrow, default)]
    name: Option<&'a str>,
    #[serde(borrow, default)]
    id: Option<&'a str>,
    #[serde(default)]
    input: Option<Value>,
    #[serde(borrow, default)]
    tool_use_id: Option<&'a str>,
    #[serde(default)]
    is_error: Option<bool>,
    #[serde(default)]
    content: Option<Value>,
}

impl ClaudeParser {
    /// [`ClaudeParser::assistant`]'s work on one block of a typed line.
    fn typed_block(&mut self, b: TypedBlock<'_>, out: &mut Vec<AgentEvent>) {
        match b.kind.unwrap_or("") {
            "text" => self.core.text(b.text.unwrap_or_default(), out),
            "thinking" | "redacted_thinking" => out.push(AgentEvent::Reasoning {
                text: b.thinking.unwrap_or_default(),
            }),
            "tool_use" => {
                let name = b.name.unwrap_or("tool");
                let input = b.input.unwrap_or(Value::Null);
                self.pending.insert(
                    b.id.unwrap_or("").to_string(),
                    Pending {
                        name: name.to_string(),
                        command: string_at(&input, "command"),
                        path: string_at(&input, "file_path")
                            .or_else(|| string_at(&input, "notebook_path")),
                    },
                );
                out.push(tools::call(name, &input));
            }
            _ => {}
        }
    }

    /// [`ClaudeParser::user`]'s work on one block of a typed line.
    fn typed_result(&mut self, b: TypedBlock<'_>, out: &mut Vec<AgentEvent>) {
        if b.kind != Some("tool_result") {
            return;
        }
        let Some(p) = self.pending.remove(b.tool_use_id.unwrap_or("")) else {
            return;
        };
        let content = b.content.unwrap_or(Value::Null);
        self.tool_result(p, b.is_error.unwrap_or(false), &content, out);
    }

    fn assistant(&mut self, v: &Value, out: &mut Vec<AgentEvent>) {
        if let Some(err) = str_at(v, "error") {
            // Synthetic API-error messages (`"error": "rate_limit"`, `is_api_error_message`).
            self.api_error = Some(format!("{err}: {}", content_text(v).unwrap_or_default()));
        }
        let Some(blocks) = super::json::at(v, "message.content").and_then(Value::as_array) else {
            return;
        };
        for b in blocks {
            match str_at(b, "type").unwrap_or("") {
                "text" => {
                    self.core
                        .text(str_at(b, "text").unwrap_or("").to_string(), out);
                }
                "thinking" | "redacted_thinking" => {
                    let text = str_at(b, "thinking").unwrap_or("").to_string();
                    out.push(AgentEvent::Reasoning { text });
                }
                "tool_use" => {
                    let name = str_at(b, "name").unwrap_or("tool").to_string();
                    let input = b.get("input").cloned().unwrap_or(Value::Null);
                    let id = str_at(b, "id").unwrap_or("").to_string();
                    self.pending.insert(
                        id,
                        Pending {
                            name: name.clone(),
                            command: string_at(&input, "command"),
                            path: string_at(&input, "file_path")
                                .or_else(|| string_at(&input, "notebook_path")),
                        },
                    );
                    out.push(tools::call(&name, &input));
                }
                _ => {}
            }
        }
    }

    fn user(&mut self, v: &Value, out: &mut Vec<AgentEvent>) {
        let Some(blocks) = super::json::at(v, "message.content").and_then(Value::as_array) else {
            return;
        };
        for b in blocks {
            if str_at(b, "type") != Some("tool_result") {
                continue;
            }
            let id = str_at(b, "tool_use_id").unwrap_or("");
            let Some(p) = self.pending.remove(id) else {
                continue;
            };
            let failed = bool_at(b, "is_error");
            self.tool_result(p, failed, b.get("content").unwrap_or(&Value::Null), out);
        }
    }

    /// The events of the result of the pending call `p`, whose content is `content`.
    fn tool_result(
        &mut self,
        p: Pending,
        failed: bool,
        content: &Value,
        out: &mut Vec<AgentEvent>,
    ) {
        {
            let output = tools::output_text(content);
            let result = tools::result(&p.name, !failed, &output);
            match p.name.as_str() {
                "Bash" => out.push(AgentEvent::CommandRun {
                    command: p.command.unwrap_or_default(),
                    exit_code: Some(if failed {
                        exit_code_in(&compact(content, 2000)).unwrap_or(1)
                    } else {
                        0
                    }),
                }),
                "Write" | "Edit" | "MultiEdit" | "NotebookEdit" if !failed => {
                    if let Some(path) = p.path {
                        let kind = if p.name == "Write" { "write" } else { "edit" };
                        out.push(AgentEvent::FileChange {
                            path,
                            kind: kind.into(),
                        });
                    }
                }
                _ => {}
            }
            out.push(result);
        }
    }
}

/// The error a `result` line reports, in one line.
fn error_text(r: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(t) = str_at(r, "result").filter(|t| !t.trim().is_empty()) {
        parts.push(t.trim().to_string());
    }
    if let Some(errs) = r.get("errors").and_then(Value::as_array) {
        let e: Vec<String> = errs.iter().map(|e| compact(e, 300)).collect();
        if !e.is_empty() {
            parts.push(e.join("; "));
        }
    }
    let subtype = str_at(r, "subtype").unwrap_or("success");
    if parts.is_empty() || subtype != "success" {
        parts.push(format!("subtype {subtype}"));
    }
    if let Some(t) = str_at(r, "terminal_reason") {
        parts.push(format!("terminal_reason {t}"));
    }
    if let Some(s) = r.get("api_error_status").and_then(Value::as_u64) {
        parts.push(format!("HTTP {s}"));
    }
    parts.join(" · ")
}

fn content_text(v: &Value) -> Option<String> {
    super::json::at(v, "message.content")
        .and_then(Value::as_array)
        .and_then(|a| a.iter().find_map(|b| string_at(b, "text")))
}

/// "Exit code 2" inside a failed Bash result.
fn exit_code_in(text: &str) -> Option<i32> {
    let lower = text.to_ascii_lowercase();
    let pos = lower.find("exit code")?;
    lower[pos + 9..]
        .trim_start_matches([' ', ':'])
        .split(|c: char| !c.is_ascii_digit() && c != '-')
        .next()?
        .parse()
        .ok()
}

fn dedup(v: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in v {
        if !out.contains(s) {
            out.push(s.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::testutil::{
        assert_typed_reads_as_generic, exited, has_env, play, play_resumed, request,
    };
    use crate::agents::testutil::{play_success, tokens};
    use crate::agents::ToolKind;

    /// Lines in the bulk shapes with every irregularity the typed shape must hand back to the
    /// generic value: escapes in borrowed names, retyped fields, repeated keys, odd blocks.
    const ODD_LINES: &str = r#"{"type":"assistant","session_id":"s\u0031","message":{"content":[{"type":"tool_use","id":"t1","name":"B\u0061sh","input":{"command":"ls"}}]}}
{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"t1","is_error":"yes","content":"Exit code 2\nboom"}]}}
{"type":"assistant","message":{"content":[{"type":"tool_use","id":"t2","name":"Write","input":{"file_path":"/w/a.py"}}]}}
{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"t2","content":[{"type":"text","text":"ok"}]}]}}
{"type":"assistant","message":{"content":[{"type":"text","text":"one"}],"content":[{"type":"text","text":"two"}]}}
{"type":"assistant","message":{"content":[{"type":"text","text":7},"a string block",{"type":"thinking","thinking":null}]}}
{"type":"assistant","error":"rate_limit","message":{"content":[{"type":"text","text":"API Error: 429"}]}}
{"type":"assistant","message":null}
{"type":"user","message":{"content":"a plain prompt"}}
  {"type":"assistant","message":{"content":[{"type":"text","text":"padded \"quoted\"\n"}]},"uuid":"u"}  
{"type":5,"message":{"content":[]}}
{"type":"assistant","message":{"content":[{"type":"tool_use","id":"t3","name":"Bash","input":null}]}}
{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"t3","is_error":true,"content":null}]}}
[1,2]
not json
{"type":"result","subtype":"success","is_error":false,"result":"done","session_id":"s1"}"#;

    #[test]
    fn typed_lines_read_exactly_as_the_generic_value_does() {
        assert_typed_reads_as_generic::<ClaudeParser>("claude", ODD_LINES, 10);
        // The bulk lines do take the typed path.
        let mut p = ClaudeParser::default();
        let mut out = Vec::new();
        assert!(p.typed(
            r#"{"type":"assistant","message":{"content":[{"type":"text","text":"hi"}],"usage":{"input_tokens":3}},"session_id":"s"}"#,
            &mut out
        ));
        assert_eq!(out, [AgentEvent::Text { text: "hi".into() }]);
        assert!(!p.typed(ODD_LINES.lines().next().unwrap(), &mut out));
    }

    #[test]
    fn argv_per_mode_keeps_the_prompt_off_the_command_line() {
        let cli = ClaudeCli {
            settings: CliSettings {
                bin: "claude".into(),
                extra_args: vec!["--fallback-model".into(), "haiku".into()],
                api_key: Some("k".into()),
                ..CliSettings::default()
            },
            as_root: true,
        };
        let mut req = request(Mode::Text);
        let spec = cli.command(&req);
        assert_eq!(
            spec.args,
            [
                "-p",
                "--output-format",
                "stream-json",
                "--verbose",
                "--disallowedTools",
                TEXT_MODE_DISALLOWED,
                "--model",
                "sonnet",
                "--fallback-model",
                "haiku"
            ]
        );
        assert_eq!(spec.stdin.as_deref(), Some(req.prompt.as_bytes()));
        assert!(!spec.args.iter().any(|a| a.contains("PROMPT")));
        assert!(has_env(&spec, "ANTHROPIC_API_KEY", "k"));
        assert!(!spec.env.iter().any(|(k, _)| k == "IS_SANDBOX"));

        req.mode = Mode::Apply;
        req.resume_session = Some("sid-1".into());
        req.max_turns = Some(12);
        req.max_budget_usd = Some(0.5);
        let spec = cli.command(&req);
        let argv = spec.args.join(" ");
        assert!(
            argv.contains("--permission-mode bypassPermissions"),
            "{argv}"
        );
        assert!(argv.contains("--resume sid-1"), "{argv}");
        assert!(argv.contains("--max-turns 12"), "{argv}");
        assert!(argv.contains("--max-budget-usd 0.5000"), "{argv}");
        assert!(has_env(&spec, "IS_SANDBOX", "1"));
    }

    #[test]
    fn a_tool_using_session_succeeds_with_its_events_and_cost() {
        let (events, o) = play_success(
            &mut ClaudeParser::default(),
            include_str!("../../tests/recordings/claude/written/success_tools.jsonl"),
            "9a1f2c4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b",
            "Added `add` to calc.py; the tests pass.",
        );
        assert_eq!(tokens(&o), (24, 31_020, 412));
        assert_eq!(o.usage.cache_write_tokens, 4_410);
        assert!((o.usage.cost_usd - 0.04231).abs() < 1e-9);
        assert!(!o.usage.cost_estimated);
        assert!(events.contains(&AgentEvent::CommandRun {
            command: "python -m pytest -q".into(),
            exit_code: Some(1)
        }));
        assert!(events.contains(&AgentEvent::CommandRun {
            command: "python -m pytest -q".into(),
            exit_code: Some(0)
        }));
        assert!(events.contains(&AgentEvent::FileChange {
            path: "/w/calc.py".into(),
            kind: "write".into()
        }));
        assert!(events
            .iter()
            .any(|e| matches!(e, AgentEvent::Reasoning { .. })));
        let usages = events
            .iter()
            .filter(|e| matches!(e, AgentEvent::Usage { .. }))
            .count();
        assert_eq!(usages, 1, "assistant-line usage is ignored");
        assert!(matches!(
            events.first(),
            Some(AgentEvent::SessionStarted { .. })
        ));
        // Normalised: each call's kind and target, and what the failing command answered.
        let calls: Vec<(ToolKind, &str)> = events
            .iter()
            .filter_map(|e| match e {
                AgentEvent::ToolCall { kind, target, .. } => Some((*kind, target.as_str())),
                _ => None,
            })
            .collect();
        assert_eq!(
            calls,
            [
                (ToolKind::Run, "python -m pytest -q"),
                (ToolKind::Edit, "/w/calc.py"),
                (ToolKind::Run, "python -m pytest -q"),
            ]
        );
        assert!(events.contains(&AgentEvent::ToolResult {
            name: "Bash".into(),
            kind: ToolKind::Run,
            ok: false,
            summary: "exit 1: E ImportError: cannot import name 'add' from 'calc'".into(),
        }));
        assert!(events.contains(&AgentEvent::ToolResult {
            name: "Bash".into(),
            kind: ToolKind::Run,
            ok: true,
            summary: "1 passed in 0.01s".into(),
        }));
    }

    #[test]
    fn every_failure_shape_is_named() {
        let cases: [(&str, i32, FailureKind); 6] = [
            (
                include_str!("../../tests/recordings/claude/written/rate_limit.jsonl"),
                1,
                FailureKind::RateLimited,
            ),
            (
                include_str!("../../tests/recordings/claude/written/max_turns.jsonl"),
                1,
                FailureKind::TurnLimit,
            ),
            (
                include_str!("../../tests/recordings/claude/written/auth.jsonl"),
                1,
                FailureKind::AuthFailed,
            ),
            (
                include_str!("../../tests/recordings/claude/written/permission_denied.jsonl"),
                0,
                FailureKind::PermissionDenied,
            ),
            (
                include_str!("../../tests/recordings/claude/written/model_not_found.jsonl"),
                1,
                FailureKind::ModelNotFound,
            ),
            (
                include_str!("../../tests/recordings/claude/written/no_result.jsonl"),
                1,
                FailureKind::NoResult,
            ),
        ];
        for (rec, code, want) in cases {
            let (_, o) = play(&mut ClaudeParser::default(), rec, exited(code));
            assert_eq!(o.failure, Some(want), "{o:?}");
            assert!(!o.succeeded());
            assert!(o.message.is_some());
        }
    }

    #[test]
    fn a_rejected_rate_limit_carries_its_reset_time() {
        let (events, o) = play(
            &mut ClaudeParser::default(),
            include_str!("../../tests/recordings/claude/written/rate_limit.jsonl"),
            exited(1),
        );
        assert_eq!(o.reset_at.as_deref(), Some("2026-07-04T09:00:00Z"));
        assert!(events.iter().any(|e| matches!(
            e,
            AgentEvent::RateLimited {
                reset_at: Some(_),
                ..
            }
        )));
        assert!(o.message.unwrap().contains("session limit"));
    }

    #[test]
    fn exit_codes_inside_bash_errors() {
        assert_eq!(exit_code_in("Error: Exit code 2\nboom"), Some(2));
        assert_eq!(exit_code_in("nothing"), None);
    }

    #[test]
    fn a_resumed_session_is_charged_once() {
        // Recorded from the real CLI: the second call resumes the first's session, and
        // `total_cost_usd` is the session's running total.
        let first = include_str!("../../tests/recordings/claude/resume_first.jsonl");
        let second = include_str!("../../tests/recordings/claude/resume_second.jsonl");
        let cli = ClaudeCli::new(CliSettings::default());
        let (o1, o2) = play_resumed(&cli, first, second);
        assert!(o1.succeeded(), "{o1:?}");
        let total1 = o1.cumulative_usage.clone().unwrap().cost_usd;
        assert_eq!(o2.session_id, o1.session_id, "resume keeps the session");
        // The CLI reports 0.0018 for the session so far; this call cost only the difference.
        assert!(
            (o2.usage.cost_usd - (0.0018 - total1)).abs() < 1e-9,
            "{o2:?}"
        );
        assert_eq!((o2.usage.input_tokens, o2.usage.output_tokens), (100, 20));
    }
}
