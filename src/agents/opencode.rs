//! OpenCode (`opencode run`, tested with 1.18.33): argv, environment and the `--format json`
//! parser.
//!
//! Invocation: `opencode run --format json --title "orx RUN STAGE" [--agent plan]
//! [-m PROVIDER/MODEL] [-s SESSION] …extra_args`, the prompt on stdin (`run` reads a piped
//! stdin as its message). The title names the session and spares the model call OpenCode
//! otherwise makes to invent one. *Text* mode
//! runs OpenCode's read-only `plan` agent (edits denied); *apply* mode its default `build`
//! agent, whose edits inside the working directory and shell commands need no approval. orx
//! never passes `--auto`: a permission OpenCode would ask for (a path outside the worktree) is
//! refused, as `run` does without it. The model is `provider/model` as OpenCode names it;
//! without one, OpenCode's own configuration decides. The providers, a custom OpenAI-compatible
//! one included, come from OpenCode's config (`opencode.json`, or `OPENCODE_CONFIG_CONTENT` in
//! `executors.opencode.env`); an `api_key` goes in `OPENCODE_API_KEY`.
//!
//! Stream. One JSON object per line, each with `type`, `timestamp`, `sessionID` and a `part`:
//! `step_start`; `text` (a finished text part; the last is the answer); `reasoning`;
//! `tool_use` (a finished tool call: `part.tool`, `part.state.status` completed|error,
//! `state.input`, `state.output`); `step_finish` (`part.reason`: `tool-calls` when the model
//! asked for tools, else the end of the turn; `part.tokens` {input, output, reasoning,
//! cache {read, write}} and `part.cost` for that step); and `error` (`error.name`,
//! `error.data.message`, `error.data.statusCode` for an API error). There is no separate result
//! line: the `step_finish` that is not `tool-calls` ends the call. `tokens.input` excludes the
//! cached tokens. Usage is summed over the steps; a cost of 0 (a provider without prices) is left
//! for the runner to estimate.
//!
//! Verdicts. An `error` event fails the call, named from its HTTP status or its message, else
//! `AgentError`; no final `step_finish`: `NoResult`.

use serde::Deserialize;
use serde_json::Value;

use super::classify::{classify_http, classify_message};
use super::json::{at, compact, f64_at, str_at, string_at, u64_at};
use super::stream::{fail, flag_rate_limit, JsonLines, StreamCore};
use super::tools;
use super::{AgentCli, AgentEvent, AgentOutcome, AgentRequest, CliSettings, FailureKind, Mode};
use super::{Argv, StreamParser, Usage};
use crate::exec::{CommandSpec, ExitInfo};

/// The release this module was verified against.
pub const TESTED_VERSION: &str = "1.18.33";

#[derive(Debug, Clone)]
pub struct OpenCodeCli {
    pub settings: CliSettings,
}

impl AgentCli for OpenCodeCli {
    fn name(&self) -> &str {
        "opencode"
    }

    fn command(&self, req: &AgentRequest) -> CommandSpec {
        let mut a = Argv::of(&["run", "--format", "json", "--title"]);
        a.push(format!("orx {} {}", req.run_id, req.stage));
        a.flag("--agent", (req.mode == Mode::Text).then_some("plan"));
        a.flag("-m", req.model.as_ref());
        a.flag("-s", req.resume_session.as_ref());
        self.settings.spec(req, "OPENCODE_API_KEY", a)
    }

    fn parser(&self) -> Box<dyn StreamParser> {
        Box::<OpenCodeParser>::default()
    }
}

/// The bulk lines, `text` and `reasoning` parts: the fields the parser reads, nothing else (the
/// generic value is the reference for every line that does not fit).
#[derive(Deserialize)]
struct TypedLine<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<&'a str>,
    #[serde(default)]
    part: Option<TypedPart>,
}

#[derive(Deserialize)]
struct TypedPart {
    #[serde(default)]
    text: Option<String>,
}

#[derive(Debug, Default)]
pub struct OpenCodeParser {
    core: StreamCore,
    /// The error event's message and HTTP status, if one came.
    error: Option<(String, Option<u16>)>,
}

impl JsonLines for OpenCodeParser {
    fn core(&mut self) -> &mut StreamCore {
        &mut self.core
    }

    fn typed(&mut self, line: &str, out: &mut Vec<AgentEvent>) -> bool {
        // The line that starts the session goes through the generic value.
        if self.core.session_id.is_none() {
            return false;
        }
        let Some(l) =
            super::json::object_text(line).and_then(|t| serde_json::from_str::<TypedLine>(t).ok())
        else {
            return false;
        };
        let text = l.part.and_then(|p| p.text);
        match l.kind {
            Some("text") => self.core.text(text.unwrap_or_default(), out),
            Some("reasoning") => {
                if let Some(text) = text.filter(|t| !t.is_empty()) {
                    out.push(AgentEvent::Reasoning { text });
                }
            }
            _ => return false,
        }
        flag_rate_limit(out);
        true
    }

    fn line(&mut self, v: Value, out: &mut Vec<AgentEvent>) {
        if self.core.session_id.is_none() {
            self.core.start_session(&v, "sessionID", out);
        }
        let part = v.get("part").cloned().unwrap_or(Value::Null);
        match str_at(&v, "type").unwrap_or("") {
            "text" => self
                .core
                .text(string_at(&part, "text").unwrap_or_default(), out),
            "reasoning" => {
                if let Some(text) = string_at(&part, "text").filter(|t| !t.is_empty()) {
                    out.push(AgentEvent::Reasoning { text });
                }
            }
            "tool_use" => tool_use(&part, out),
            "step_finish" => {
                let step = Usage {
                    input_tokens: u64_at(&part, "tokens.input"),
                    output_tokens: u64_at(&part, "tokens.output")
                        + u64_at(&part, "tokens.reasoning"),
                    cache_read_tokens: u64_at(&part, "tokens.cache.read"),
                    cache_write_tokens: u64_at(&part, "tokens.cache.write"),
                    cost_usd: f64_at(&part, "cost").unwrap_or(0.0).max(0.0),
                    cost_estimated: false,
                };
                self.core.usage.add(&step);
                if !step.is_empty() {
                    out.push(AgentEvent::Usage { usage: step });
                }
                if str_at(&part, "reason") != Some("tool-calls") {
                    self.core.result = Some(v);
                }
            }
            "error" => {
                let message = string_at(&v, "error.data.message")
                    .or_else(|| string_at(&v, "error.name"))
                    .unwrap_or_else(|| compact(&v, 300));
                let status = at(&v, "error.data.statusCode")
                    .and_then(Value::as_u64)
                    .and_then(|s| u16::try_from(s).ok());
                self.error = Some((message.clone(), status));
                out.push(AgentEvent::Error { message });
            }
            _ => {}
        }
        flag_rate_limit(out);
    }

    fn verdict(&mut self, exit: &ExitInfo) -> AgentOutcome {
        if let Some((msg, status)) = &self.error {
            let mut out = self.core.outcome(exit);
            let kind = status
                .map(classify_http)
                .or_else(|| classify_message(msg))
                .unwrap_or(FailureKind::AgentError);
            fail(&mut out, kind, format!("opencode: {msg}"), msg);
            return out;
        }
        if self.core.result.is_none() {
            return self.core.no_result("opencode", exit, None);
        }
        let mut out = self.core.outcome(exit);
        out.final_text = self.core.last_text.clone().unwrap_or_default();
        out
    }
}

/// A finished tool call: the call itself, and what it did (a command run, a file written).
fn tool_use(part: &Value, out: &mut Vec<AgentEvent>) {
    let name = string_at(part, "tool").unwrap_or_else(|| "tool".into());
    let input = at(part, "state.input").cloned().unwrap_or(Value::Null);
    let ok = str_at(part, "state.status") == Some("completed");
    out.push(tools::call(&name, &input));
    let output = at(part, "state.output")
        .or_else(|| at(part, "state.error"))
        .map(tools::output_text)
        .unwrap_or_default();
    let result = tools::result(&name, ok, &output);
    match name.as_str() {
        "bash" => out.push(AgentEvent::CommandRun {
            command: string_at(&input, "command").unwrap_or_default(),
            exit_code: at(part, "state.metadata.exit")
                .and_then(Value::as_i64)
                .map(|c| c as i32)
                .or(Some(if ok { 0 } else { 1 })),
        }),
        "write" | "edit" if ok => {
            if let Some(path) = string_at(&input, "filePath") {
                out.push(AgentEvent::FileChange { path, kind: name });
            }
        }
        _ => {}
    }
    out.push(result);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::testutil::{assert_typed_reads_as_generic, request, settings};

    /// Bulk lines with every irregularity the typed shape must hand back to the generic value
    /// (escapes, retyped fields, repeated keys, odd parts), and the other lines.
    const ODD_LINES: &str = r#"{"type":"text","part":{"type":"text","text":"before the session"}}
{"type":"step_start","sessionID":"ses_1","part":{"type":"step-start"}}
{"type":"text","sessionID":"ses_1","part":{"type":"text","text":"I \"will\"","time":{"start":1}}}
{"type":"text","sessionID":"ses_1","part":{"type":"text","text":""}}
{"type":"text","sessionID":"ses_1","part":{"text":5}}
{"type":"text","sessionID":"ses_1","part":null}
{"type":"text","sessionID":"ses_1"}
{"type":"text","part":{"text":"one"},"part":{"text":"two"}}
{"type":"reasoning","part":{"text":"hm"}}
{"type":"reasoning","part":{"text":""}}
{"type":"re\u0061soning","part":{"text":"escaped type"}}
{"type":"tool_use","part":{"tool":"bash","state":{"status":"completed","input":{"command":"ls"},"output":"a"}}}
  {"type":"text","part":{"text":"padded"}}  
[1,2]
not json
{"type":"step_finish","part":{"reason":"stop","tokens":{"input":9,"output":2,"reasoning":0,"cache":{"read":1,"write":0}},"cost":0}}"#;

    #[test]
    fn typed_lines_read_exactly_as_the_generic_value_does() {
        assert_typed_reads_as_generic::<OpenCodeParser>("opencode", ODD_LINES, 3);
        // Once the session is known, the bulk lines do take the typed path; the others do not.
        let mut p = OpenCodeParser::default();
        let mut out = Vec::new();
        assert!(!p.typed(ODD_LINES.lines().nth(2).unwrap(), &mut out));
        p.feed(ODD_LINES.lines().nth(1).unwrap());
        assert!(p.typed(ODD_LINES.lines().nth(2).unwrap(), &mut out));
        assert_eq!(out.len(), 1, "{out:?}");
        assert!(!p.typed(ODD_LINES.lines().nth(7).unwrap(), &mut out));
        assert!(!p.typed(ODD_LINES.lines().nth(11).unwrap(), &mut out));
    }

    #[test]
    fn argv_runs_the_plan_agent_in_text_mode() {
        let cli = OpenCodeCli {
            settings: settings("opencode", None),
        };
        let head = ["run", "--format", "json", "--title", "orx r1 implement"];
        let mut req = request(Mode::Text);
        assert_eq!(
            cli.command(&req).args,
            [&head[..], &["--agent", "plan", "-m", "sonnet"]].concat()
        );
        req.mode = Mode::Apply;
        req.model = None;
        req.resume_session = Some("ses_1".into());
        assert_eq!(
            cli.command(&req).args,
            [&head[..], &["-s", "ses_1"]].concat()
        );
    }
}
