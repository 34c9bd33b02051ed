//! Cursor Agent (`cursor-agent`): argv, environment and the `stream-json` parser.
//!
//! Invocation: `cursor-agent -p --output-format stream-json --trust [--force] [-m M]
//! [--resume ID] …extra_args`, the prompt on stdin. *Text* mode leaves out `--force`: in print
//! mode Cursor then only proposes file changes and runs no command without approval, which
//! makes it read-only. *Apply* mode adds `--force`. `--trust` keeps a fresh worktree from
//! stopping at the workspace-trust prompt. The API key goes in `CURSOR_API_KEY`.
//!
//! Cursor is on no package registry, so this module is tested against recordings written from
//! its documented stream schema (`tests/recordings/cursor/`), not against captures of a real run:
//! `system/init` (session id, model), `user`, `assistant` (text blocks), `thinking` deltas,
//! `tool_call` with `subtype: started|completed` and a `tool_call` object holding one
//! `<kind>ToolCall` (`readToolCall`, `writeToolCall`, `shellToolCall`, …) with `args` and, when
//! completed, `result.success|error`, and a final `result` (`is_error`, `result`,
//! `session_id`). Usage is not documented: a `usage` object on the result is read when present
//! (snake or camel case), otherwise the call has no usage and costs nothing known.
//!
//! Verdicts. A stream that ends without a `result` line is `NoResult` (Cursor's usual way of
//! failing: it prints the error on stderr and exits); `is_error: true` is named from its text,
//! else `AgentError`.

use serde::Deserialize;
use serde_json::Value;

use super::classify::classify_message;
use super::json::{at, bool_at, str_at, string_at, u64_at};
use super::stream::{fail, JsonLines, StreamCore};
use super::tools;
use super::{AgentCli, AgentEvent, AgentOutcome, AgentRequest, CliSettings, FailureKind, Mode};
use super::{Argv, StreamParser, Usage};
use crate::exec::{CommandSpec, ExitInfo};

/// Cursor publishes no versioned package orx could pin.
pub const TESTED_VERSION: Option<&str> = None;

#[derive(Debug, Clone)]
pub struct CursorCli {
    pub settings: CliSettings,
}

impl AgentCli for CursorCli {
    fn name(&self) -> &str {
        "cursor"
    }

    fn command(&self, req: &AgentRequest) -> CommandSpec {
        let mut a = Argv::of(&["-p", "--output-format", "stream-json", "--trust"]);
        if req.mode == Mode::Apply {
            a.push("--force");
        }
        a.flag("-m", req.model.as_ref());
        a.flag("--resume", req.resume_session.as_ref());
        self.settings.spec(req, "CURSOR_API_KEY", a)
    }

    fn parser(&self) -> Box<dyn StreamParser> {
        Box::<CursorParser>::default()
    }
}

/// The bulk lines, `assistant` messages and `thinking` pieces: the fields the parser reads,
/// nothing else (the generic value is the reference for every line that does not fit).
#[derive(Deserialize)]
struct TypedLine<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<&'a str>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    message: Option<TypedMessage>,
}

#[derive(Deserialize)]
struct TypedMessage {
    #[serde(default)]
    content: Option<Vec<TypedBlock>>,
}

#[derive(Deserialize)]
struct TypedBlock {
    #[serde(default)]
    text: Option<String>,
}

#[derive(Debug, Default)]
pub struct CursorParser {
    core: StreamCore,
}

impl JsonLines for CursorParser {
    fn core(&mut self) -> &mut StreamCore {
        &mut self.core
    }

    fn typed(&mut self, line: &str, out: &mut Vec<AgentEvent>) -> bool {
        let Some(l) =
            super::json::object_text(line).and_then(|t| serde_json::from_str::<TypedLine>(t).ok())
        else {
            return false;
        };
        match l.kind {
            Some("assistant") => {
                let blocks = l.message.and_then(|m| m.content).into_iter().flatten();
                for b in blocks {
                    self.core.text(b.text.unwrap_or_default(), out);
                }
            }
            Some("thinking") => {
                if let Some(text) = l.text.filter(|t| !t.is_empty()) {
                    out.push(AgentEvent::Reasoning { text });
                }
            }
            _ => return false,
        }
        true
    }

    fn line(&mut self, v: Value, out: &mut Vec<AgentEvent>) {
        match str_at(&v, "type").unwrap_or("") {
            "system" if str_at(&v, "subtype") == Some("init") => {
                self.core.start_session(&v, "session_id", out);
            }
            "assistant" => {
                for b in at(&v, "message.content")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    self.core
                        .text(string_at(b, "text").unwrap_or_default(), out);
                }
            }
            "thinking" => {
                if let Some(text) = string_at(&v, "text").filter(|t| !t.is_empty()) {
                    out.push(AgentEvent::Reasoning { text });
                }
            }
            "tool_call" => tool_call(&v, out),
            "result" => {
                let u = Usage {
                    input_tokens: u64_at(&v, "usage.input_tokens")
                        .max(u64_at(&v, "usage.inputTokens")),
                    output_tokens: u64_at(&v, "usage.output_tokens")
                        .max(u64_at(&v, "usage.outputTokens")),
                    cache_read_tokens: u64_at(&v, "usage.cache_read_tokens")
                        .max(u64_at(&v, "usage.cacheReadTokens")),
                    cache_write_tokens: u64_at(&v, "usage.cache_write_tokens")
                        .max(u64_at(&v, "usage.cacheWriteTokens")),
                    cost_usd: 0.0,
                    cost_estimated: false,
                };
                self.core.set_usage(u, out);
                if let Some(sid) = string_at(&v, "session_id") {
                    self.core.session_id = Some(sid);
                }
                let is_error = bool_at(&v, "is_error");
                let answer = |v: &Value| string_at(v, "result").unwrap_or_default();
                self.core.result_line(v, is_error, answer, out);
            }
            _ => {}
        }
    }

    fn verdict(&mut self, exit: &ExitInfo) -> AgentOutcome {
        let Some(r) = &self.core.result else {
            return self.core.no_result("cursor-agent", exit, None);
        };
        let mut out = self.core.outcome(exit);
        if bool_at(r, "is_error") || str_at(r, "subtype").is_some_and(|s| s != "success") {
            let msg = string_at(r, "result")
                .filter(|t| !t.trim().is_empty())
                .unwrap_or_else(|| format!("subtype {}", str_at(r, "subtype").unwrap_or("error")));
            let kind = classify_message(&msg).unwrap_or(FailureKind::AgentError);
            fail(&mut out, kind, format!("cursor-agent: {msg}"), &msg);
        } else {
            out.final_text = string_at(r, "result").unwrap_or_default();
        }
        out
    }
}

/// A `tool_call` line: `started` is the call, `completed` its effect (a command run, a file
/// written, edited or deleted).
fn tool_call(v: &Value, out: &mut Vec<AgentEvent>) {
    let Some((kind, call)) = v
        .get("tool_call")
        .and_then(Value::as_object)
        .and_then(|o| o.iter().next())
    else {
        return;
    };
    let name = kind.trim_end_matches("ToolCall").to_string();
    let args = call.get("args").cloned().unwrap_or(Value::Null);
    match str_at(v, "subtype") {
        Some("started") => {
            let name = if kind == "function" {
                string_at(call, "name").unwrap_or(name)
            } else {
                name
            };
            out.push(tools::call(&name, &args));
        }
        Some("completed") => {
            let ok = at(call, "result.success").is_some();
            let output = [
                "result.success.stdout",
                "result.failure.stderr",
                "result.failure.message",
            ]
            .iter()
            .find_map(|k| string_at(call, k).filter(|t| !t.trim().is_empty()))
            .unwrap_or_default();
            let result = tools::result(&name, ok, &output);
            match kind.as_str() {
                "shellToolCall" => out.push(AgentEvent::CommandRun {
                    command: string_at(&args, "command").unwrap_or_default(),
                    exit_code: at(call, "result.success.exitCode")
                        .or_else(|| at(call, "result.failure.exitCode"))
                        .and_then(Value::as_i64)
                        .map(|c| c as i32)
                        .or(Some(if ok { 0 } else { 1 })),
                }),
                "writeToolCall" | "editToolCall" | "deleteToolCall" if ok => {
                    if let Some(path) = string_at(&args, "path") {
                        out.push(AgentEvent::FileChange { path, kind: name });
                    }
                }
                _ => {}
            }
            out.push(result);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::testutil::{
        assert_typed_reads_as_generic, has_env, request, resumed_apply_argv, settings,
    };

    /// Bulk lines with every irregularity the typed shape must hand back to the generic value
    /// (escapes, retyped fields, repeated keys, odd blocks), and the other lines.
    const ODD_LINES: &str = r#"{"type":"system","subtype":"init","session_id":"s1","model":"m"}
{"type":"assistant","message":{"role":"assistant","content":[{"type":"text","text":"I \"will\""}]},"session_id":"s1"}
{"type":"assistant","message":{"content":[{"type":"text","text":""},{"text":5}]}}
{"type":"assistant","message":{"content":[{"type":"text"},1]}}
{"type":"assistant","message":{"content":"plain"}}
{"type":"assistant","message":null}
{"type":"assistant","text":7}
{"type":"assistant","message":{"content":[{"text":"one"}],"content":[{"text":"two"}]}}
{"type":"thinking","subtype":"delta","text":"hm"}
{"type":"thinking","subtype":"delta","text":""}
{"type":"thinking","text":null}
{"type":"th\u0069nking","text":"escaped type"}
{"type":"tool_call","subtype":"started","call_id":"c1","tool_call":{"shellToolCall":{"args":{"command":"ls"}}}}
  {"type":"assistant","message":{"content":[{"text":"padded"}]}}  
[1,2]
not json
{"type":"result","subtype":"success","is_error":false,"result":"done","session_id":"s1"}"#;

    #[test]
    fn typed_lines_read_exactly_as_the_generic_value_does() {
        assert_typed_reads_as_generic::<CursorParser>("cursor", ODD_LINES, 3);
        // The bulk lines do take the typed path; the others do not.
        let mut p = CursorParser::default();
        let mut out = Vec::new();
        assert!(p.typed(ODD_LINES.lines().nth(1).unwrap(), &mut out));
        assert_eq!(out.len(), 1, "{out:?}");
        assert!(!p.typed(ODD_LINES.lines().next().unwrap(), &mut out));
        assert!(!p.typed(ODD_LINES.lines().nth(7).unwrap(), &mut out));
    }

    #[test]
    fn argv_adds_force_only_in_apply_mode() {
        let cli = CursorCli {
            settings: settings("cursor-agent", Some("key")),
        };
        let mut req = request(Mode::Text);
        let spec = cli.command(&req);
        assert_eq!(
            spec.args,
            [
                "-p",
                "--output-format",
                "stream-json",
                "--trust",
                "-m",
                "sonnet"
            ]
        );
        assert!(has_env(&spec, "CURSOR_API_KEY", "key"));
        let argv = resumed_apply_argv(&cli, &mut req, "c-1");
        assert!(
            argv.contains("--force") && argv.ends_with("--resume c-1"),
            "{argv}"
        );
    }
}
