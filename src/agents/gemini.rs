//! Gemini CLI (`gemini`, tested with 0.61.0): argv, environment and the `stream-json` parser.
//!
//! Invocation: `gemini -o stream-json -m M --approval-mode default|yolo --skip-trust
//! -p "Carry out the instructions above." [-r SID] …extra_args`, the prompt on stdin. Gemini
//! appends the `-p` text to what stdin carries, so the prompt still travels on stdin and argv
//! holds only that fixed one-line instruction. `-m` is always passed (with `auto`, Gemini adds
//! router calls): the stage's model, else [`DEFAULT_MODEL`]. *Text* mode uses
//! `--approval-mode default`: headless, every tool that would need a confirmation (writes,
//! shell) is withheld from the model, which leaves it read-only. *Apply* mode uses `yolo`.
//! `--skip-trust` keeps a fresh worktree from being refused as an untrusted folder. The API key
//! goes in `GEMINI_API_KEY`.
//!
//! Stream. `init` (session id, model); `message` lines with `role: assistant` (with
//! `delta: true` they are pieces of one reply, concatenated into the final text); `tool_use`
//! and `tool_result` (a shell call becomes `CommandRun`, a write or replace a `FileChange`);
//! `error` (warnings and errors); the final `result` with `status` and `stats`
//! (`input_tokens` includes `cached`; orx records `input - cached` as input and `cached` as
//! cache reads). Gemini reports no cost: the runner prices it and marks it estimated.
//!
//! The bulk of a stream is `message` lines (a reply arrives as many small deltas): those are
//! read through a typed shape that borrows from the line ([`JsonLines::typed`]); every other
//! line, and any message that does not fit the shape exactly, is read as a generic value, the
//! reference.
//!
//! Verdicts. The exit code is evidence of its own: 41 auth (`AuthFailed`), 42 bad input
//! (`InputError`), 53 turn limit (`TurnLimit`), 55 untrusted folder (`Untrusted`); an API error
//! in JSON mode exits with the HTTP status truncated to a byte (429 → 173, 404 → 148), which is
//! mapped back and classified, with the message from stderr. `result.status: error` is named
//! from its message; no `result` line is `NoResult`; a non-zero exit after a successful result
//! is still a failure.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

use super::classify::{classify_http, classify_message, http_from_truncated_exit};
use super::events::last_line;
use super::json::{at, compact, str_at, string_at, u64_at};
use super::stream::{fail, flag_rate_limit, JsonLines, StreamCore};
use super::tools;
use super::{AgentCli, AgentEvent, AgentOutcome, AgentRequest, CliSettings, FailureKind, Mode};
use super::{Argv, StreamParser, Usage};
use crate::exec::{CommandSpec, ExitInfo};

pub const TESTED_VERSION: &str = "0.61.0";

/// The model when neither the stage nor the executor names one (`auto` would add router calls).
pub const DEFAULT_MODEL: &str = "gemini-2.5-pro";

/// The fixed `-p` text, appended by Gemini after the prompt read from stdin.
pub const STDIN_INSTRUCTION: &str = "Carry out the instructions above.";

/// `--approval-mode` for a mode, as Gemini CLI and Qwen Code (its fork) name them: `default`
/// withholds every tool that needs a confirmation, `yolo` allows them all.
pub fn approval_mode(mode: Mode) -> &'static str {
    match mode {
        Mode::Text => "default",
        Mode::Apply => "yolo",
    }
}

#[derive(Debug, Clone)]
pub struct GeminiCli {
    pub settings: CliSettings,
}

impl AgentCli for GeminiCli {
    fn name(&self) -> &str {
        "gemini"
    }

    fn command(&self, req: &AgentRequest) -> CommandSpec {
        let model = req.model.as_deref().unwrap_or(DEFAULT_MODEL);
        let mode = approval_mode(req.mode);
        let mut a = Argv::of(&["-o", "stream-json", "-m", model, "--approval-mode", mode]);
        for word in ["--skip-trust", "-p", STDIN_INSTRUCTION] {
            a.push(word);
        }
        a.flag("-r", req.resume_session.as_ref());
        self.settings.spec(req, "GEMINI_API_KEY", a)
    }

    fn parser(&self) -> Box<dyn StreamParser> {
        Box::<GeminiParser>::default()
    }
}

/// A `message` line: the fields the parser reads, nothing else.
#[derive(Deserialize)]
struct TypedMessage<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<&'a str>,
    #[serde(borrow, default)]
    role: Option<&'a str>,
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    delta: Option<bool>,
}

#[derive(Debug, Default)]
pub struct GeminiParser {
    core: StreamCore,
    /// The assistant's reply so far (deltas concatenated).
    reply: String,
    tools: HashMap<String, (String, Value)>,
    error: Option<String>,
}

impl JsonLines for GeminiParser {
    fn core(&mut self) -> &mut StreamCore {
        &mut self.core
    }

    fn typed(&mut self, line: &str, out: &mut Vec<AgentEvent>) -> bool {
        let Some(m) = super::json::object_text(line)
            .and_then(|t| serde_json::from_str::<TypedMessage>(t).ok())
            .filter(|m| m.kind == Some("message"))
        else {
            return false;
        };
        if m.role == Some("assistant") {
            let text = m.content.unwrap_or_default();
            if m.delta == Some(true) {
                self.reply.push_str(&text);
            } else {
                self.reply = text.clone();
            }
            if !text.is_empty() {
                out.push(AgentEvent::Text { text });
            }
        }
        true
    }

    fn line(&mut self, v: Value, out: &mut Vec<AgentEvent>) {
        match str_at(&v, "type").unwrap_or("") {
            "init" => self.core.start_session(&v, "session_id", out),
            "message" if str_at(&v, "role") == Some("assistant") => {
                let text = string_at(&v, "content").unwrap_or_default();
                if at(&v, "delta").and_then(Value::as_bool) == Some(true) {
                    self.reply.push_str(&text);
                } else {
                    self.reply = text.clone();
                }
                if !text.is_empty() {
                    out.push(AgentEvent::Text { text });
                }
            }
            "tool_use" => {
                let name = string_at(&v, "tool_name").unwrap_or_else(|| "tool".into());
                let params = v.get("parameters").cloned().unwrap_or(Value::Null);
                if let Some(id) = str_at(&v, "tool_id") {
                    self.tools
                        .insert(id.to_string(), (name.clone(), params.clone()));
                }
                out.push(tools::call(&name, &params));
            }
            "tool_result" => {
                let id = str_at(&v, "tool_id").unwrap_or("");
                let ok = str_at(&v, "status") == Some("success");
                if let Some((name, params)) = self.tools.remove(id) {
                    let output = v
                        .get("output")
                        .map(tools::output_text)
                        .or_else(|| string_at(&v, "error.message"))
                        .unwrap_or_default();
                    let result = tools::result(&name, ok, &output);
                    match name.as_str() {
                        "run_shell_command" => {
                            let output = compact(v.get("output").unwrap_or(&Value::Null), 4000);
                            out.push(AgentEvent::CommandRun {
                                command: string_at(&params, "command").unwrap_or_default(),
                                exit_code: shell_exit_code(&output).or(Some(if ok {
                                    0
                                } else {
                                    1
                                })),
                            });
                        }
                        "write_file" | "replace" | "edit" if ok => {
                            if let Some(path) = string_at(&params, "file_path")
                                .or_else(|| string_at(&params, "absolute_path"))
                            {
                                out.push(AgentEvent::FileChange {
                                    path,
                                    kind: if name == "write_file" {
                                        "write".into()
                                    } else {
                                        "edit".into()
                                    },
                                });
                            }
                        }
                        _ => {}
                    }
                    out.push(result);
                }
            }
            "error" => {
                let message = string_at(&v, "message").unwrap_or_else(|| compact(&v, 300));
                if str_at(&v, "severity") != Some("warning") {
                    self.error = Some(message.clone());
                }
                out.push(AgentEvent::Error { message });
            }
            "result" => {
                let cached = u64_at(&v, "stats.cached");
                let input = match at(&v, "stats.input").and_then(Value::as_u64) {
                    Some(i) => i,
                    None => u64_at(&v, "stats.input_tokens").saturating_sub(cached),
                };
                let u = Usage {
                    input_tokens: input,
                    output_tokens: u64_at(&v, "stats.output_tokens"),
                    cache_read_tokens: cached,
                    ..Usage::default()
                };
                self.core.set_usage(u, out);
                let is_error = str_at(&v, "status") != Some("success");
                if is_error {
                    let message = string_at(&v, "error.message")
                        .unwrap_or_else(|| "gemini reported status error".into());
                    out.push(AgentEvent::Error { message });
                }
                out.push(AgentEvent::Finished {
                    final_text: if is_error {
                        String::new()
                    } else {
                        self.reply.clone()
                    },
                    is_error,
                });
                self.core.result = Some(v);
            }
            _ => {}
        }
        flag_rate_limit(out);
    }

    fn verdict(&mut self, exit: &ExitInfo) -> AgentOutcome {
        let mut out = self.core.outcome(exit);
        let stderr = stderr_error(&exit.stderr_tail);
        let result_error = self.core.result.as_ref().and_then(|r| {
            (str_at(r, "status") != Some("success"))
                .then(|| string_at(r, "error.message").unwrap_or_else(|| "status error".into()))
        });
        let evidence = result_error
            .clone()
            .or_else(|| self.error.clone())
            .or_else(|| (!stderr.is_empty()).then(|| stderr.clone()))
            .unwrap_or_default();
        let code = exit.code.unwrap_or(0);
        let by_code = match code {
            0 => None,
            41 => Some((
                FailureKind::AuthFailed,
                "authentication failed (exit 41)".to_string(),
            )),
            42 => Some((
                FailureKind::InputError,
                "input rejected (exit 42)".to_string(),
            )),
            53 => Some((
                FailureKind::TurnLimit,
                "turn limit reached (exit 53)".to_string(),
            )),
            55 => Some((
                FailureKind::Untrusted,
                "folder not trusted (exit 55)".to_string(),
            )),
            c => match http_from_truncated_exit(c) {
                Some(status) => Some((
                    classify_http(status),
                    format!("API error HTTP {status} (exit {c})"),
                )),
                None => Some((
                    classify_message(&evidence).unwrap_or(if self.core.result.is_none() {
                        FailureKind::NoResult
                    } else {
                        FailureKind::ExitNonZero
                    }),
                    format!("exited with code {c}"),
                )),
            },
        };
        let failure = if let Some((kind, what)) = by_code {
            Some((kind, what))
        } else if let Some(msg) = &result_error {
            Some((
                classify_message(msg).unwrap_or(FailureKind::AgentError),
                "status error".to_string(),
            ))
        } else if self.core.result.is_none() {
            Some((
                classify_message(&evidence).unwrap_or(FailureKind::NoResult),
                self.core.ended_without("a result line"),
            ))
        } else {
            None
        };
        match failure {
            Some((kind, what)) => {
                let message = if evidence.is_empty() {
                    format!("gemini: {what}")
                } else {
                    format!("gemini: {what}: {evidence}")
                };
                fail(&mut out, kind, message, &evidence);
            }
            None => out.final_text = self.reply.clone(),
        }
        out
    }
}

/// "Exit Code: 2" in a shell tool's output.
fn shell_exit_code(output: &str) -> Option<i32> {
    let lower = output.to_ascii_lowercase();
    let pos = lower.find("exit code:")?;
    lower[pos + 10..].split_whitespace().next()?.parse().ok()
}

/// The most telling stderr line: the last one that mentions an error, else the last line.
fn stderr_error(stderr: &str) -> String {
    stderr
        .lines()
        .rev()
        .find(|l| {
            let l = l.to_ascii_lowercase();
            l.contains("error") || l.contains("status")
        })
        .map(|l| l.trim().chars().take(300).collect())
        .unwrap_or_else(|| last_line(stderr))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::testutil::{
        assert_typed_reads_as_generic, exited, exited_with_stderr, play, request,
    };
    use crate::agents::testutil::{play_success, resumed_apply_argv, settings, tokens};
    use crate::agents::ToolKind;

    /// Message lines with every irregularity the typed shape must hand back to the generic
    /// value (escapes, retyped fields, repeated keys), and the other lines.
    const ODD_LINES: &str = r#"{"type":"init","session_id":"s1","model":"gemini-2.5-flash"}
{"type":"message","role":"user","content":"the prompt\n"}
{"type":"message","role":"assistant","content":"Done: \"wrote\"","delta":true}
{"type":"message","role":"assistant","content":" more","delta":true}
{"type":"message","role":"assistant","content":"replaced"}
{"type":"message","role":"assistant","content":"","delta":true}
{"type":"message","role":"assistant","content":7,"delta":true}
{"type":"message","role":"assistant","content":"d","delta":"true"}
{"type":"message","role":"assist\u0061nt","content":"escaped role","delta":true}
{"type":"message","role":5,"content":"x"}
{"type":"message","role":"assistant","content":"one","content":"two"}
{"type":"message","type":"error","message":"boom"}
{"type":"tool_use","tool_name":"run_shell_command","tool_id":"t1","parameters":{"command":"ls"}}
{"type":"tool_result","tool_id":"t1","status":"success","output":"a\nb"}
 {"type":"message","role":"assistant","content":" padded","delta":true} 
[1]
not json
{"type":"result","status":"success","stats":{"input_tokens":10,"output_tokens":2,"cached":1}}"#;

    #[test]
    fn typed_lines_read_exactly_as_the_generic_value_does() {
        assert_typed_reads_as_generic::<GeminiParser>("gemini", ODD_LINES, 5);
        // The message lines do take the typed path; the others do not.
        let mut p = GeminiParser::default();
        let mut out = Vec::new();
        assert!(p.typed(ODD_LINES.lines().nth(2).unwrap(), &mut out));
        assert_eq!(out.len(), 1, "{out:?}");
        assert!(!p.typed(ODD_LINES.lines().next().unwrap(), &mut out));
        assert!(!p.typed(ODD_LINES.lines().nth(10).unwrap(), &mut out));
    }

    #[test]
    fn argv_keeps_the_prompt_on_stdin_and_always_names_a_model() {
        let cli = GeminiCli {
            settings: settings("gemini", None),
        };
        let mut req = request(Mode::Text);
        req.model = None;
        let spec = cli.command(&req);
        assert_eq!(
            spec.args,
            [
                "-o",
                "stream-json",
                "-m",
                DEFAULT_MODEL,
                "--approval-mode",
                "default",
                "--skip-trust",
                "-p",
                STDIN_INSTRUCTION
            ]
        );
        assert_eq!(spec.stdin.as_deref(), Some(req.prompt.as_bytes()));
        let argv = resumed_apply_argv(&cli, &mut req, "s-1");
        assert!(
            argv.contains("--approval-mode yolo") && argv.ends_with("-r s-1"),
            "{argv}"
        );
    }

    #[test]
    fn deltas_make_the_final_text_and_tools_become_events() {
        let (events, o) = play_success(
            &mut GeminiParser::default(),
            include_str!("../../tests/recordings/gemini/written/success.jsonl"),
            "5e0c7a8b-1f2d-4c3e-9a8b-7c6d5e4f3a2b",
            "Added add() to calc.py and the tests pass.",
        );
        assert_eq!(tokens(&o), (3_210, 8_000, 180));
        assert!(events.contains(&AgentEvent::CommandRun {
            command: "python -m pytest -q".into(),
            exit_code: Some(0)
        }));
        assert!(events.contains(&AgentEvent::FileChange {
            path: "/w/calc.py".into(),
            kind: "write".into()
        }));
        assert!(events.contains(&AgentEvent::ToolResult {
            name: "run_shell_command".into(),
            kind: ToolKind::Run,
            ok: true,
            summary: "1 passed in 0.01s".into(),
        }));
        assert!(events.iter().any(|e| matches!(e,
            AgentEvent::ToolCall { kind: ToolKind::Edit, target, .. } if target == "/w/calc.py")));
    }

    #[test]
    fn exit_codes_and_status_errors_are_named() {
        let rec = include_str!("../../tests/recordings/gemini/written/api_error.jsonl");
        let cases = [
            (41, FailureKind::AuthFailed),
            (42, FailureKind::InputError),
            (53, FailureKind::TurnLimit),
            (55, FailureKind::Untrusted),
            (173, FailureKind::RateLimited),
            (145, FailureKind::AuthFailed),
            (148, FailureKind::ModelNotFound),
            (244, FailureKind::ApiError),
            (247, FailureKind::ApiError),
        ];
        for (code, want) in cases {
            let (_, o) = play(
                &mut GeminiParser::default(),
                rec,
                exited_with_stderr(
                    code,
                    "Error when talking to Gemini API\n[API Error: status 429]",
                ),
            );
            assert_eq!(o.failure, Some(want), "exit {code}: {o:?}");
        }
        let (_, o) = play(
            &mut GeminiParser::default(),
            include_str!("../../tests/recordings/gemini/written/status_error.jsonl"),
            exited(1),
        );
        assert_eq!(o.failure, Some(FailureKind::RateLimited), "{o:?}");
        // A result that says success but an exit code that does not is still a failure.
        let (_, o) = play(
            &mut GeminiParser::default(),
            include_str!("../../tests/recordings/gemini/written/success.jsonl"),
            exited(1),
        );
        assert_eq!(o.failure, Some(FailureKind::ExitNonZero));
        let (_, o) = play(&mut GeminiParser::default(), "", exited(0));
        assert_eq!(o.failure, Some(FailureKind::NoResult));
    }
}
