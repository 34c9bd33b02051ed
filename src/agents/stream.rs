//! The part of a stream parser that is the same for every CLI: [`StreamCore`].
//!
//! Every CLI's stream has a session id, assistant text (the last of which is the answer when no
//! result line says otherwise), usage, lines that are not protocol (counted, so an outcome can
//! say how much of a stream was noise), a final result line, and the same end when that line
//! never came: a `NoResult` named from stderr's last line. The parsers (one module per CLI) keep
//! only their format: which line type means what, and how their result line is judged. They
//! hold a `StreamCore` and go through it for everything above, so the outcome skeleton, the
//! "ended without a result line" fallback and the rate-limit flag exist once.
//!
//! A format may also read its most frequent lines through a typed shape that borrows from the
//! line ([`JsonLines::typed`]): building a generic value of every field of every line (a
//! tool's whole output repeated in metadata, per-message usage) was half of ingesting a
//! stream. The generic value stays the reference: the typed shape only takes lines it reads
//! exactly as the value would, and hands every other line back untouched.

use serde_json::Value;

use super::classify::{classify_message, parse_reset};
use super::events::{detail_suffix, last_line, result_events};
use super::json::{parse_counted, string_at};
use super::{AgentEvent, AgentOutcome, FailureKind, StreamParser, Usage};
use crate::exec::ExitInfo;

/// What every parser keeps, whatever its format.
#[derive(Debug, Default)]
pub struct StreamCore {
    pub session_id: Option<String>,
    /// The last non-empty assistant text.
    pub last_text: Option<String>,
    /// Non-blank lines that were not a JSON object.
    pub unparsed: u64,
    /// The usage of this call, as the stream reported it.
    pub usage: Usage,
    /// The final result line, once seen.
    pub result: Option<Value>,
}

impl StreamCore {
    /// One stream line as a JSON object; anything else is counted in `unparsed`.
    pub fn parse(&mut self, line: &str) -> Option<Value> {
        parse_counted(line, &mut self.unparsed)
    }

    /// A session start: the id at `id_key` of `v` (and `model`, when present) becomes the
    /// session and a `SessionStarted` event.
    pub fn start_session(&mut self, v: &Value, id_key: &str, out: &mut Vec<AgentEvent>) {
        if let Some(sid) = string_at(v, id_key) {
            self.session_id = Some(sid.clone());
            out.push(AgentEvent::SessionStarted {
                session_id: sid,
                model: string_at(v, "model"),
            });
        }
    }

    /// Assistant text: remembered as the last text and sent as a `Text` event (empty text is
    /// neither).
    pub fn text(&mut self, text: String, out: &mut Vec<AgentEvent>) {
        if !text.is_empty() {
            self.last_text = Some(text.clone());
            out.push(AgentEvent::Text { text });
        }
    }

    /// A result line carrying the answer at `result`: the events of its verdict (`error`, asked
    /// for a failed one only, names what went wrong), and the line kept for `finish`.
    pub fn result_line(
        &mut self,
        v: Value,
        is_error: bool,
        error: impl FnOnce(&Value) -> String,
        out: &mut Vec<AgentEvent>,
    ) {
        let text = string_at(&v, "result").unwrap_or_default();
        let error = if is_error { error(&v) } else { String::new() };
        result_events(out, text, is_error, error);
        self.result = Some(v);
    }

    /// The call's usage: kept, and sent as a `Usage` event when it counts anything.
    pub fn set_usage(&mut self, usage: Usage, out: &mut Vec<AgentEvent>) {
        self.usage = usage.clone();
        if !usage.is_empty() {
            out.push(AgentEvent::Usage { usage });
        }
    }

    /// The outcome every verdict starts from: the session, the usage and the exit code, with
    /// nothing failed yet and no text.
    pub fn outcome(&self, exit: &ExitInfo) -> AgentOutcome {
        AgentOutcome {
            failure: None,
            message: None,
            final_text: String::new(),
            session_id: self.session_id.clone(),
            usage: self.usage.clone(),
            exit_code: exit.code,
            duration_ms: 0,
            cumulative_usage: None,
            reset_at: None,
        }
    }

    /// "ended without <what> (N unparsed lines)".
    pub fn ended_without(&self, what: &str) -> String {
        format!("ended without {what} ({} unparsed lines)", self.unparsed)
    }

    /// The verdict for a stream whose result line never came: named from stderr's last line
    /// (else from `evidence`, something the stream said), else `NoResult`; the message is
    /// "`who` ended without a result line (N unparsed lines): <stderr line>", and the final text
    /// what the agent last said.
    pub fn no_result(&self, who: &str, exit: &ExitInfo, evidence: Option<&str>) -> AgentOutcome {
        let tail = last_line(&exit.stderr_tail);
        let kind = classify_message(&tail)
            .or_else(|| evidence.and_then(classify_message))
            .unwrap_or(FailureKind::NoResult);
        let mut out = self.outcome(exit);
        out.failure = Some(kind);
        out.message = Some(format!(
            "{who} {}{}",
            self.ended_without("a result line"),
            detail_suffix(&tail)
        ));
        out.final_text = self.last_text.clone().unwrap_or_default();
        out
    }
}

/// Marks `out` failed as `kind` with `message`; a rate limit also gets the reset time that
/// `evidence` names, unless one is known already.
pub fn fail(out: &mut AgentOutcome, kind: FailureKind, message: String, evidence: &str) {
    if kind == FailureKind::RateLimited && out.reset_at.is_none() {
        out.reset_at = parse_reset(evidence);
    }
    out.failure = Some(kind);
    out.message = Some(message);
}

/// A CLI's stream format, one JSON object a line: what a line means, and the verdict at the
/// end. Every format is a [`StreamParser`] the same way: a line that is not a JSON object is
/// counted by its [`StreamCore`] and yields nothing.
pub trait JsonLines {
    fn core(&mut self) -> &mut StreamCore;
    /// The events of one line read through the format's typed shape, which borrows from the
    /// line and skips the fields the parser never reads (a tool's whole output repeated in
    /// metadata, per-message usage). It returns false, having changed nothing, whenever the
    /// line does not fit that shape (another line type, a field of an unexpected type, an
    /// escaped string where a borrowed one is expected, a repeated key): the line then goes
    /// through [`JsonLines::line`] as a generic value, which is the reference behaviour the
    /// typed shape must match. By default no line is typed.
    fn typed(&mut self, _line: &str, _out: &mut Vec<AgentEvent>) -> bool {
        false
    }
    /// The events of one JSON line.
    fn line(&mut self, v: Value, out: &mut Vec<AgentEvent>);
    /// The outcome once the stream is over.
    fn verdict(&mut self, exit: &ExitInfo) -> AgentOutcome;
}

impl<T: JsonLines> StreamParser for T {
    fn feed(&mut self, line: &str) -> Vec<AgentEvent> {
        let mut out = Vec::new();
        if self.typed(line, &mut out) {
            return out;
        }
        if let Some(v) = self.core().parse(line) {
            self.line(v, &mut out);
        }
        out
    }

    fn finish(&mut self, exit: &ExitInfo) -> AgentOutcome {
        self.verdict(exit)
    }
}

/// When the last event of `out` is an error that reads as a rate limit, follows it with a
/// `RateLimited` event (with the reset time the message names), so a budget or dashboard sees
/// the limit as it happens.
pub fn flag_rate_limit(out: &mut Vec<AgentEvent>) {
    if let Some(AgentEvent::Error { message }) = out.last() {
        if classify_message(message) == Some(FailureKind::RateLimited) {
            let message = message.clone();
            out.push(AgentEvent::RateLimited {
                reset_at: parse_reset(&message),
                message,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::testutil::exited_with_stderr;

    #[test]
    fn a_stream_without_result_is_named_from_stderr() {
        let mut core = StreamCore::default();
        let mut events = Vec::new();
        assert!(core.parse("not json").is_none());
        let v = core
            .parse(r#"{"session_id":"s1","model":"m"}"#)
            .expect("an object");
        core.start_session(&v, "session_id", &mut events);
        core.text("partial answer".into(), &mut events);
        core.text(String::new(), &mut events);
        assert_eq!(events.len(), 2, "{events:?}");
        let o = core.no_result(
            "x",
            &exited_with_stderr(1, "API Error: 429 rate limit"),
            None,
        );
        assert_eq!(o.failure, Some(FailureKind::RateLimited));
        assert_eq!(o.session_id.as_deref(), Some("s1"));
        assert_eq!(o.final_text, "partial answer");
        assert_eq!(
            o.message.as_deref(),
            Some("x ended without a result line (1 unparsed lines): API Error: 429 rate limit")
        );
        let o = core.no_result("x", &exited_with_stderr(1, ""), Some("401 Unauthorized"));
        assert_eq!(o.failure, Some(FailureKind::AuthFailed));
        let o = core.no_result("x", &exited_with_stderr(1, ""), None);
        assert_eq!(o.failure, Some(FailureKind::NoResult));
    }

    #[test]
    fn a_rate_limited_error_is_flagged_once() {
        let mut events = vec![AgentEvent::Error {
            message: "429 Too Many Requests; resets in 30s".into(),
        }];
        flag_rate_limit(&mut events);
        assert!(matches!(
            &events[1],
            AgentEvent::RateLimited {
                reset_at: Some(_),
                ..
            }
        ));
        flag_rate_limit(&mut events);
        assert_eq!(events.len(), 2);
    }
}
