//! Qwen Code (`qwen`, tested with 0.24.4): argv, environment and the `stream-json` parser.
//!
//! Invocation: `qwen -o stream-json --approval-mode default|yolo [-m M] [-r SESSION]
//! …extra_args`, the prompt on stdin (headless `qwen` reads a piped stdin as its prompt).
//! *Text* mode uses `--approval-mode default`: headless, every tool that would need a
//! confirmation (writes, shell) is withheld from the model, which leaves it read-only. *Apply*
//! mode uses `yolo`. Qwen Code speaks to any OpenAI-compatible API: `OPENAI_BASE_URL` and
//! `OPENAI_MODEL` (in `executors.qwen.env`) choose it, and the `api_key` goes in
//! `OPENAI_API_KEY`.
//!
//! Stream. Claude Code's `stream-json` shape with Qwen's tools: `system/init` (session id,
//! model); `assistant` lines with `text` and `tool_use` blocks; `user` lines with the
//! `tool_result`s (a `run_shell_command` becomes `CommandRun`, a `write_file` or `edit` a
//! `FileChange`); `stream_event` lines (ignored); and a final `result` with `subtype`,
//! `is_error`, the answer and `usage`, where `input_tokens` includes the cached ones (orx
//! records `input - cached` as input and the cached as cache reads). That usage is the
//! session's running total: a resumed call reports the earlier calls too, so the parser
//! subtracts the totals recorded for the session (the request's `usage_baseline`) and hands
//! the new totals back as `cumulative_usage`, as for Codex. Qwen reports no cost: the runner
//! prices it and marks it estimated.
//!
//! Verdicts. No `result` line: `NoResult`, named from stderr when it says more. `is_error` (or a
//! subtype other than `success`): named from its text, else `AgentError`.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

use super::classify::classify_message;
use super::gemini::approval_mode;
use super::json::{at, bool_at, str_at, string_at, u64_at};
use super::stream::{fail, flag_rate_limit, JsonLines, StreamCore};
use super::tools;
use super::{AgentCli, AgentEvent, AgentOutcome, AgentRequest, CliSettings, FailureKind};
use super::{Argv, StreamParser, Usage};
use crate::exec::{CommandSpec, ExitInfo};

/// The release this module was verified against.
pub const TESTED_VERSION: &str = "0.24.4";

#[derive(Debug, Clone)]
pub struct QwenCli {
    pub settings: CliSettings,
}

impl AgentCli for QwenCli {
    fn name(&self) -> &str {
        "qwen"
    }

    fn command(&self, req: &AgentRequest) -> CommandSpec {
        let mut a = Argv::of(&[
            "-o",
            "stream-json",
            "--approval-mode",
            approval_mode(req.mode),
        ]);
        a.flag("-m", req.model.as_ref());
        a.flag("-r", req.resume_session.as_ref());
        self.settings.spec(req, "OPENAI_API_KEY", a)
    }

    fn parser(&self) -> Box<dyn StreamParser> {
        Box::<QwenParser>::default()
    }

    fn parser_for(&self, req: &AgentRequest) -> Box<dyn StreamParser> {
        Box::new(QwenParser {
            baseline: req.usage_baseline.clone().unwrap_or_default(),
            ..QwenParser::default()
        })
    }
}

/// The bulk lines, `assistant` and `user` messages: the fields the parser reads, nothing else
/// (the generic value is the reference for every line that does not fit).
#[derive(Deserialize)]
struct TypedLine<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<&'a str>,
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
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    input: Option<Value>,
    #[serde(borrow, default)]
    tool_use_id: Option<&'a str>,
    #[serde(default)]
    is_error: Option<bool>,
    #[serde(default)]
    content: Option<Value>,
}

#[derive(Debug, Default)]
pub struct QwenParser {
    core: StreamCore,
    /// Tool calls waiting for their result: id → (tool, input).
    pending: HashMap<String, (String, Value)>,
    /// The session's running totals before this call (a resumed session's result counts them).
    baseline: Usage,
    /// The session's running totals this call's result reported.
    total: Option<Usage>,
}

impl JsonLines for QwenParser {
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
        match l.kind {
            Some("assistant") => {
                for b in blocks {
                    match b.kind.unwrap_or("") {
                        "text" => self.core.text(b.text.unwrap_or_default(), out),
                        "thinking" => out.push(AgentEvent::Reasoning {
                            text: b.thinking.unwrap_or_default(),
                        }),
                        "tool_use" => {
                            let name = b.name.unwrap_or_else(|| "tool".into());
                            let input = b.input.unwrap_or(Value::Null);
                            out.push(tools::call(&name, &input));
                            if let Some(id) = b.id {
                                self.pending.insert(id, (name, input));
                            }
                        }
                        _ => {}
                    }
                }
            }
            Some("user") => {
                for b in blocks.into_iter().filter(|b| b.kind == Some("tool_result")) {
                    if let Some((name, input)) = self.pending.remove(b.tool_use_id.unwrap_or("")) {
                        let is_error = b.is_error.unwrap_or(false);
                        tool_result(&name, &input, is_error, out);
                        let output = tools::output_text(b.content.as_ref().unwrap_or(&Value::Null));
                        out.push(tools::result(&name, !is_error, &output));
                    }
                }
            }
            _ => return false,
        }
        flag_rate_limit(out);
        true
    }

    fn line(&mut self, v: Value, out: &mut Vec<AgentEvent>) {
        let blocks = at(&v, "message.content")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        match str_at(&v, "type").unwrap_or("") {
            "system" if str_at(&v, "subtype") == Some("init") => {
                self.core.start_session(&v, "session_id", out);
            }
            "assistant" => {
                for b in &blocks {
                    match str_at(b, "type").unwrap_or("") {
                        "text" => self
                            .core
                            .text(string_at(b, "text").unwrap_or_default(), out),
                        "thinking" => out.push(AgentEvent::Reasoning {
                            text: string_at(b, "thinking").unwrap_or_default(),
                        }),
                        "tool_use" => {
                            let name = string_at(b, "name").unwrap_or_else(|| "tool".into());
                            let input = b.get("input").cloned().unwrap_or(Value::Null);
                            out.push(tools::call(&name, &input));
                            if let Some(id) = string_at(b, "id") {
                                self.pending.insert(id, (name, input));
                            }
                        }
                        _ => {}
                    }
                }
            }
            "user" => {
                for b in blocks
                    .iter()
                    .filter(|b| str_at(b, "type") == Some("tool_result"))
                {
                    let id = str_at(b, "tool_use_id").unwrap_or("");
                    if let Some((name, input)) = self.pending.remove(id) {
                        let is_error = bool_at(b, "is_error");
                        tool_result(&name, &input, is_error, out);
                        let output = tools::output_text(b.get("content").unwrap_or(&Value::Null));
                        out.push(tools::result(&name, !is_error, &output));
                    }
                }
            }
            "result" => {
                let cached = u64_at(&v, "usage.cache_read_input_tokens");
                let total = Usage {
                    input_tokens: u64_at(&v, "usage.input_tokens").saturating_sub(cached),
                    output_tokens: u64_at(&v, "usage.output_tokens"),
                    cache_read_tokens: cached,
                    ..Usage::default()
                };
                self.core.set_usage(total.minus(&self.baseline), out);
                self.total = Some(total);
                let is_error = failed(&v);
                self.core.result_line(v, is_error, error_text, out);
            }
            _ => {}
        }
        flag_rate_limit(out);
    }

    fn verdict(&mut self, exit: &ExitInfo) -> AgentOutcome {
        let Some(r) = &self.core.result else {
            return self.core.no_result("qwen", exit, None);
        };
        let mut out = self.core.outcome(exit);
        out.cumulative_usage = self.total.clone();
        if let Some(sid) = string_at(r, "session_id") {
            out.session_id = Some(sid);
        }
        if failed(r) {
            let msg = error_text(r);
            let kind = classify_message(&msg).unwrap_or(FailureKind::AgentError);
            fail(&mut out, kind, format!("qwen: {msg}"), &msg);
        } else {
            out.final_text = string_at(r, "result").unwrap_or_default();
        }
        out
    }
}

fn failed(r: &Value) -> bool {
    bool_at(r, "is_error") || str_at(r, "subtype").is_some_and(|s| s != "success")
}

/// A failed result's message: its `error.message`, its text, or its subtype.
fn error_text(r: &Value) -> String {
    string_at(r, "error.message")
        .or_else(|| string_at(r, "result"))
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| format!("subtype {}", str_at(r, "subtype").unwrap_or("error")))
}

/// What a finished tool did: a shell command, or a file written or edited.
fn tool_result(name: &str, input: &Value, is_error: bool, out: &mut Vec<AgentEvent>) {
    match name {
        "run_shell_command" => out.push(AgentEvent::CommandRun {
            command: string_at(input, "command").unwrap_or_default(),
            exit_code: Some(if is_error { 1 } else { 0 }),
        }),
        "write_file" | "edit" if !is_error => {
            if let Some(path) = string_at(input, "file_path") {
                let kind = if name == "write_file" {
                    "write"
                } else {
                    "edit"
                };
                out.push(AgentEvent::FileChange {
                    path,
                    kind: kind.into(),
                });
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::testutil::{assert_typed_reads_as_generic, play_resumed, tokens};
    use crate::agents::testutil::{has_env, request, resumed_apply_argv, settings};
    use crate::agents::Mode;

    /// Bulk lines with every irregularity the typed shape must hand back to the generic value
    /// (escapes in borrowed names, retyped fields, repeated keys, odd blocks), and the others.
    const ODD_LINES: &str = r#"{"type":"system","subtype":"init","session_id":"s1","model":"orx-mock"}
{"type":"assistant","message":{"content":[{"type":"thinking","thinking":"hm"},{"type":"text","text":"I will \"write\""}]}}
{"type":"assistant","message":{"content":[{"type":"tool_use","id":"t1","name":"write_file","input":{"file_path":"/w/a.txt","content":"a"}}]}}
{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"t1","is_error":false,"content":"ok"}]}}
{"type":"assistant","message":{"content":[{"type":"tool_use","id":"t2","name":"run_shell_command","input":{"command":"ls"}}]}}
{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"t\u0032","is_error":true,"content":[{"type":"text","text":"boom"}]}]}}
{"type":"assistant","message":{"content":[{"type":"tool_use","id":"t3","name":"run_shell_command","input":null}]}}
{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"t3","is_error":"yes","content":null}]}}
{"type":"assistant","message":{"content":[{"type":"tool_use","id":5,"name":"x"}]}}
{"type":"assistant","message":{"content":[{"type":"text","text":"one"}],"content":[{"type":"text","text":"two"}]}}
{"type":"assistant","message":null}
{"type":"assistant"}
{"type":"user","message":{"content":"a plain prompt"}}
{"type":"assistant","message":{"content":[{"type":"text","text":""},{"type":"other"},{"text":"no type"}]}}
  {"type":"assistant","message":{"content":[{"type":"text","text":"padded"}]}}  
[1,2]
not json
{"type":"result","subtype":"success","is_error":false,"result":"done","session_id":"s1","usage":{"input_tokens":10,"output_tokens":2}}"#;

    #[test]
    fn typed_lines_read_exactly_as_the_generic_value_does() {
        assert_typed_reads_as_generic::<QwenParser>("qwen", ODD_LINES, 5);
        // The bulk lines do take the typed path; the others do not.
        let mut p = QwenParser::default();
        let mut out = Vec::new();
        assert!(p.typed(ODD_LINES.lines().nth(1).unwrap(), &mut out));
        assert_eq!(out.len(), 2, "{out:?}");
        assert!(!p.typed(ODD_LINES.lines().next().unwrap(), &mut out));
        assert!(!p.typed(ODD_LINES.lines().nth(9).unwrap(), &mut out));
    }

    #[test]
    fn argv_withholds_confirmed_tools_in_text_mode() {
        let cli = QwenCli {
            settings: settings("qwen", Some("sk-q")),
        };
        let mut req = request(Mode::Text);
        let spec = cli.command(&req);
        assert_eq!(
            spec.args,
            [
                "-o",
                "stream-json",
                "--approval-mode",
                "default",
                "-m",
                "sonnet"
            ]
        );
        assert!(has_env(&spec, "OPENAI_API_KEY", "sk-q"));
        let argv = resumed_apply_argv(&cli, &mut req, "q-1");
        assert!(
            argv.contains("--approval-mode yolo") && argv.ends_with("-r q-1"),
            "{argv}"
        );
    }

    #[test]
    fn a_resumed_session_reports_deltas() {
        // Recorded from the real CLI: `resume` continues the session of `tool_call`, and its
        // result counts the earlier model calls too.
        let first = include_str!("../../tests/recordings/qwen/tool_call.jsonl");
        let second = include_str!("../../tests/recordings/qwen/resume.jsonl");
        let cli = QwenCli {
            settings: CliSettings::default(),
        };
        let (o1, o2) = play_resumed(&cli, first, second);
        assert_eq!((o1.usage.input_tokens, o1.usage.output_tokens), (180, 40));
        assert_eq!(o2.session_id, o1.session_id);
        assert_eq!(tokens(&o2), (90, 10, 20));
    }
}
