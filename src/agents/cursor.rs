//! Cursor Agent (`cursor-agent`): argv, environment and the `stream-json` parser.
//!
//! Invocation: `cursor-agent -p --output-format stream-json --trust [--force] [-m M]
//! [--resume ID] …extra_args`, the prompt on stdin. *Text* mode leaves out `--force`: in print
//! mode Cursor then only proposes file changes and runs no command without approval, which
//! makes it read-only. *Apply* mode adds `--force`. `--trust` keeps a fresh worktree from
//! stopping at the workspace-trust prompt. The API key goes in `CURSOR_API_KEY`.
//!
//! Cursor is on no package registry, so this module is tested against recordings written from
//! its documented stream schema (`testdata/cursor/`), not against captures of a real run:
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

use serde_json::Value;

use super::classify::{classify_message, parse_reset};
use super::events::{detail_suffix, last_line, result_events};
use super::json::{at, bool_at, compact, parse_counted, str_at, string_at, u64_at};
use super::{AgentCli, AgentEvent, AgentOutcome, AgentRequest, CliSettings, FailureKind, Mode};
use super::{StreamParser, Usage};
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
        let mut spec = self.settings.base_spec(req, "CURSOR_API_KEY");
        let mut a: Vec<String> = ["-p", "--output-format", "stream-json", "--trust"]
            .map(String::from)
            .to_vec();
        if req.mode == Mode::Apply {
            a.push("--force".into());
        }
        if let Some(m) = &req.model {
            a.extend(["-m".into(), m.clone()]);
        }
        if let Some(sid) = &req.resume_session {
            a.extend(["--resume".into(), sid.clone()]);
        }
        a.extend(self.settings.extra_args.iter().cloned());
        spec.args = a;
        spec
    }

    fn parser(&self) -> Box<dyn StreamParser> {
        Box::<CursorParser>::default()
    }
}

#[derive(Debug, Default)]
pub struct CursorParser {
    session_id: Option<String>,
    last_text: Option<String>,
    result: Option<Value>,
    usage: Usage,
    unparsed: u64,
}

impl StreamParser for CursorParser {
    fn feed(&mut self, line: &str) -> Vec<AgentEvent> {
        let Some(v) = parse_counted(line, &mut self.unparsed) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        match str_at(&v, "type").unwrap_or("") {
            "system" if str_at(&v, "subtype") == Some("init") => {
                if let Some(sid) = string_at(&v, "session_id") {
                    self.session_id = Some(sid.clone());
                    out.push(AgentEvent::SessionStarted {
                        session_id: sid,
                        model: string_at(&v, "model"),
                    });
                }
            }
            "assistant" => {
                for b in at(&v, "message.content")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(text) = string_at(b, "text").filter(|t| !t.is_empty()) {
                        self.last_text = Some(text.clone());
                        out.push(AgentEvent::Text { text });
                    }
                }
            }
            "thinking" => {
                if let Some(text) = string_at(&v, "text").filter(|t| !t.is_empty()) {
                    out.push(AgentEvent::Reasoning { text });
                }
            }
            "tool_call" => {
                let Some((kind, call)) = v
                    .get("tool_call")
                    .and_then(Value::as_object)
                    .and_then(|o| o.iter().next())
                else {
                    return out;
                };
                let name = kind.trim_end_matches("ToolCall").to_string();
                let args = call.get("args").cloned().unwrap_or(Value::Null);
                match str_at(&v, "subtype") {
                    Some("started") => out.push(AgentEvent::ToolCall {
                        name: if kind == "function" {
                            string_at(call, "name").unwrap_or(name)
                        } else {
                            name
                        },
                        input: compact(&args, 400),
                    }),
                    Some("completed") => {
                        let ok = at(call, "result.success").is_some();
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
                    }
                    _ => {}
                }
            }
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
                self.usage = u.clone();
                if !u.is_empty() {
                    out.push(AgentEvent::Usage { usage: u });
                }
                if let Some(sid) = string_at(&v, "session_id") {
                    self.session_id = Some(sid);
                }
                let is_error = bool_at(&v, "is_error");
                let text = string_at(&v, "result").unwrap_or_default();
                let error = if is_error {
                    text.clone()
                } else {
                    String::new()
                };
                result_events(&mut out, text, is_error, error);
                self.result = Some(v);
            }
            _ => {}
        }
        out
    }

    fn finish(&mut self, exit: &ExitInfo) -> AgentOutcome {
        let mut out = AgentOutcome {
            failure: None,
            message: None,
            final_text: String::new(),
            session_id: self.session_id.clone(),
            usage: self.usage.clone(),
            exit_code: exit.code,
            duration_ms: 0,
            cumulative_usage: None,
            reset_at: None,
        };
        match &self.result {
            None => {
                let tail = last_line(&exit.stderr_tail);
                out.failure = Some(classify_message(&tail).unwrap_or(FailureKind::NoResult));
                out.message = Some(format!(
                    "cursor-agent ended without a result line ({} unparsed lines){}",
                    self.unparsed,
                    detail_suffix(&tail)
                ));
                out.final_text = self.last_text.clone().unwrap_or_default();
            }
            Some(r)
                if bool_at(r, "is_error")
                    || str_at(r, "subtype").is_some_and(|s| s != "success") =>
            {
                let msg = string_at(r, "result")
                    .filter(|t| !t.trim().is_empty())
                    .unwrap_or_else(|| {
                        format!("subtype {}", str_at(r, "subtype").unwrap_or("error"))
                    });
                let kind = classify_message(&msg).unwrap_or(FailureKind::AgentError);
                if kind == FailureKind::RateLimited {
                    out.reset_at = parse_reset(&msg);
                }
                out.failure = Some(kind);
                out.message = Some(format!("cursor-agent: {msg}"));
            }
            Some(r) => out.final_text = string_at(r, "result").unwrap_or_default(),
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::testutil::{exited, exited_with_stderr, play, request};

    #[test]
    fn argv_adds_force_only_in_apply_mode() {
        let cli = CursorCli {
            settings: CliSettings {
                bin: "cursor-agent".into(),
                api_key: Some("key".into()),
                ..CliSettings::default()
            },
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
        assert!(spec.env.contains(&("CURSOR_API_KEY".into(), "key".into())));
        req.mode = Mode::Apply;
        req.resume_session = Some("c-1".into());
        let argv = cli.command(&req).args.join(" ");
        assert!(
            argv.contains("--force") && argv.ends_with("--resume c-1"),
            "{argv}"
        );
    }

    #[test]
    fn a_documented_stream_succeeds_with_tools() {
        let (events, o) = play(
            &mut CursorParser::default(),
            include_str!("testdata/cursor/success.jsonl"),
            exited(0),
        );
        assert!(o.succeeded(), "{o:?}");
        assert_eq!(
            o.session_id.as_deref(),
            Some("c0ffee00-1234-4abc-8def-0123456789ab")
        );
        assert_eq!(o.final_text, "Created calc.py with add().");
        assert!(events.contains(&AgentEvent::FileChange {
            path: "calc.py".into(),
            kind: "write".into()
        }));
        assert!(events.contains(&AgentEvent::CommandRun {
            command: "python -m pytest -q".into(),
            exit_code: Some(0)
        }));
        assert_eq!(o.usage, Usage::default(), "usage is optional");
    }

    #[test]
    fn no_result_and_is_error_are_failures() {
        let (_, o) = play(
            &mut CursorParser::default(),
            include_str!("testdata/cursor/no_result.jsonl"),
            exited_with_stderr(1, "Error: connection closed"),
        );
        assert_eq!(o.failure, Some(FailureKind::NoResult));
        assert!(o.message.unwrap().contains("connection closed"));
        let (_, o) = play(
            &mut CursorParser::default(),
            include_str!("testdata/cursor/is_error.jsonl"),
            exited(1),
        );
        assert_eq!(o.failure, Some(FailureKind::RateLimited));
    }
}

/// Hostile input: no stream makes the parser panic, whatever its lines hold. The
/// fuzz target `fuzz/fuzz_targets/stream_cursor.rs` explores the same parser for longer.
#[cfg(test)]
mod hostile {
    use super::*;
    use crate::agents::testutil::{play_hostile, STREAM_KEYS};
    use crate::hostile_input::{config, stream_line};
    use proptest::prelude::*;

    const TYPES: &[&str] = &[
        "system",
        "init",
        "assistant",
        "user",
        "thinking",
        "tool_call",
        "started",
        "completed",
        "result",
        "success",
        "error",
    ];
    const FIXTURE: &str = include_str!("testdata/cursor/success.jsonl");

    proptest! {
        #![proptest_config(config(200))]

        #[test]
        fn hostile_streams_never_panic(
            lines in proptest::collection::vec(stream_line(STREAM_KEYS, TYPES, FIXTURE), 0..12),
            code in -1i32..3,
        ) {
            play_hostile(&mut CursorParser::default(), &lines, code);
        }
    }
}
