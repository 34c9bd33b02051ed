//! What every CLI's stream parser shares: the last line of stderr, the failure message
//! suffix, and the events that close a stream's result.
//!
//! The normalised event model itself ([`AgentEvent`], [`Usage`], [`FailureKind`]) lives in
//! `crate::model::agent`, because the run's events and `state.json` carry it; it is re-exported
//! here so the parsers name it where they always did.

pub use crate::model::agent::{AgentEvent, FailureKind, ToolKind, Usage};

/// The last non-empty line of a CLI's stderr, trimmed, at most 300 characters.
pub(crate) fn last_line(s: &str) -> String {
    s.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .chars()
        .take(300)
        .collect()
}

/// `": <line>"`, or nothing for an empty line: how a failure message ends with the last line
/// of stderr (from [`last_line`]).
pub(crate) fn detail_suffix(line: &str) -> String {
    if line.is_empty() {
        String::new()
    } else {
        format!(": {line}")
    }
}

/// The events that close a stream's final result: an `Error` when it failed, then `Finished`
/// (whose text is empty for a failure, so an error message is never taken for an answer).
pub fn result_events(out: &mut Vec<AgentEvent>, text: String, is_error: bool, error: String) {
    if is_error {
        out.push(AgentEvent::Error { message: error });
    }
    out.push(AgentEvent::Finished {
        final_text: if is_error { String::new() } else { text },
        is_error,
    });
}
