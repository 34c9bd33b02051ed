//! What an agent call reports, normalised: its events, its usage, and why it failed.
//!
//! Claude's `stream-json`, Codex's JSONL, Gemini's `stream-json` and Cursor's stream all differ;
//! each parser in `agents` turns its CLI's stream into these events, so orx's runner, metrics,
//! budgets and dashboard see one model. They live here, not in `agents`, because the run's
//! events and `state.json` carry them.

use serde::{Deserialize, Serialize};

/// Token use and cost of one call (or a running total).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    pub cost_usd: f64,
    /// True when the cost was computed by orx from a price table, not reported by the CLI.
    pub cost_estimated: bool,
}

impl Usage {
    pub fn add(&mut self, other: &Usage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cache_read_tokens += other.cache_read_tokens;
        self.cache_write_tokens += other.cache_write_tokens;
        self.cost_usd += other.cost_usd;
        self.cost_estimated |= other.cost_estimated;
    }
    pub fn total_tokens(&self) -> u64 {
        self.input_tokens + self.output_tokens
    }
    /// "1200 in / 300 out tokens, $0.0123 (estimated)", as summaries, status and PR bodies
    /// show it.
    pub fn describe(&self) -> String {
        format!(
            "{} in / {} out tokens, ${:.4}{}",
            self.input_tokens,
            self.output_tokens,
            self.cost_usd,
            if self.cost_estimated {
                " (estimated)"
            } else {
                ""
            }
        )
    }
    /// Every token the call processed: fresh input, cache reads and writes, output. This is what
    /// `run.max_tokens` counts.
    pub fn all_tokens(&self) -> u64 {
        self.input_tokens + self.output_tokens + self.cache_read_tokens + self.cache_write_tokens
    }
    /// `self - earlier`, field by field, never below zero (codex's cumulative totals → deltas).
    pub fn minus(&self, earlier: &Usage) -> Usage {
        Usage {
            input_tokens: self.input_tokens.saturating_sub(earlier.input_tokens),
            output_tokens: self.output_tokens.saturating_sub(earlier.output_tokens),
            cache_read_tokens: self
                .cache_read_tokens
                .saturating_sub(earlier.cache_read_tokens),
            cache_write_tokens: self
                .cache_write_tokens
                .saturating_sub(earlier.cache_write_tokens),
            cost_usd: (self.cost_usd - earlier.cost_usd).max(0.0),
            cost_estimated: self.cost_estimated,
        }
    }
    pub fn is_empty(&self) -> bool {
        self.all_tokens() == 0 && self.cost_usd == 0.0
    }
}

string_enum! {
    /// Why an agent call did not succeed. Each is a named, recorded outcome.
    pub enum FailureKind {
        /// The CLI reported an error (`is_error`, `turn.failed`, `status: error`, fake `error:`).
        AgentError = "agent_error",
        /// The process exited non-zero without reporting an error in its stream.
        ExitNonZero = "exit_non_zero",
        /// The stream ended without a final result.
        NoResult = "no_result",
        PermissionDenied = "permission_denied",
        RateLimited = "rate_limited",
        NotInstalled = "not_installed",
        SpawnFailed = "spawn_failed",
        Timeout = "timeout",
        IdleTimeout = "idle_timeout",
        Interrupted = "interrupted",
        /// orx stopped it (a budget was crossed).
        Stopped = "stopped",
        /// Credentials missing or rejected (HTTP 401/403, Gemini exit 41, "not logged in").
        AuthFailed = "auth_failed",
        /// The requested model does not exist or is not available to this account (HTTP 404).
        ModelNotFound = "model_not_found",
        /// The CLI's own turn limit ended the call (Claude `error_max_turns`, Gemini exit 53).
        TurnLimit = "turn_limit",
        /// A run or stage budget (cost, tokens, turns) was crossed while the agent ran.
        BudgetExceeded = "budget_exceeded",
        /// The CLI rejected its input (Gemini exit 42, HTTP 400).
        InputError = "input_error",
        /// The CLI refused an untrusted folder (Gemini exit 55).
        Untrusted = "untrusted",
        /// The model API failed in another way (HTTP 5xx, overload, Claude `terminal_reason: api_error`).
        ApiError = "api_error",
    }
}

/// One normalised event from an agent's stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentEvent {
    SessionStarted {
        session_id: String,
        #[serde(default)]
        model: Option<String>,
    },
    Text {
        text: String,
    },
    Reasoning {
        text: String,
    },
    /// A tool the agent called: its CLI's `name` and input (compact JSON), and what it means
    /// whichever CLI made it: its `kind` and its `target` (a path, a command, a pattern).
    ToolCall {
        name: String,
        #[serde(default)]
        input: String,
        #[serde(default = "ToolKind::other")]
        kind: ToolKind,
        #[serde(default)]
        target: String,
    },
    CommandRun {
        command: String,
        #[serde(default)]
        exit_code: Option<i32>,
    },
    FileChange {
        path: String,
        kind: String,
    },
    /// Usage of this turn (a delta, never a cumulative total).
    Usage {
        usage: Usage,
    },
    RateLimited {
        #[serde(default)]
        reset_at: Option<String>,
        message: String,
    },
    Error {
        message: String,
    },
    Finished {
        final_text: String,
        #[serde(default)]
        is_error: bool,
    },
    /// What a tool call came back with: whether it worked and the first line of its output.
    ToolResult {
        name: String,
        #[serde(default = "ToolKind::other")]
        kind: ToolKind,
        ok: bool,
        #[serde(default)]
        summary: String,
    },
}

string_enum! {
    /// What a tool call does, whichever CLI made it (Claude's `Edit`, Codex's `apply_patch`,
    /// Gemini's `replace` are all `edit`): the word a person reads first in `orx logs`.
    pub enum ToolKind {
        /// Reads a file or lists a folder.
        Read = "read",
        /// Writes, edits or deletes a file.
        Edit = "edit",
        /// Runs a shell command.
        Run = "run",
        /// Searches files by name or content.
        Search = "search",
        /// Reaches the web (a fetch or a web search).
        Fetch = "fetch",
        /// Anything else (a to-do list, a sub-agent, an MCP tool).
        Other = "other",
    }
}

impl ToolKind {
    /// The kind of a tool call recorded before kinds existed.
    pub fn other() -> Self {
        ToolKind::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_as_tagged_json_lines() {
        let ev = AgentEvent::FileChange {
            path: "src/a.py".into(),
            kind: "write".into(),
        };
        let line = serde_json::to_string(&ev).unwrap();
        assert_eq!(
            line,
            r#"{"type":"file_change","path":"src/a.py","kind":"write"}"#
        );
        assert_eq!(serde_json::from_str::<AgentEvent>(&line).unwrap(), ev);
    }

    #[test]
    fn tool_events_keep_their_json_and_an_old_call_reads_as_other() {
        let old = r#"{"type":"tool_call","name":"Bash","input":"{}"}"#;
        assert_eq!(
            serde_json::from_str::<AgentEvent>(old).unwrap(),
            AgentEvent::ToolCall {
                name: "Bash".into(),
                input: "{}".into(),
                kind: ToolKind::Other,
                target: String::new(),
            }
        );
        let ev = AgentEvent::ToolCall {
            name: "Edit".into(),
            input: "{}".into(),
            kind: ToolKind::Edit,
            target: "src/app.py".into(),
        };
        let line = serde_json::to_string(&ev).unwrap();
        assert_eq!(
            line,
            r#"{"type":"tool_call","name":"Edit","input":"{}","kind":"edit","target":"src/app.py"}"#
        );
        let result = AgentEvent::ToolResult {
            name: "Bash".into(),
            kind: ToolKind::Run,
            ok: false,
            summary: "1 failed".into(),
        };
        let line = serde_json::to_string(&result).unwrap();
        assert_eq!(
            line,
            r#"{"type":"tool_result","name":"Bash","kind":"run","ok":false,"summary":"1 failed"}"#
        );
        assert_eq!(serde_json::from_str::<AgentEvent>(&line).unwrap(), result);
    }

    #[test]
    fn usage_adds_up() {
        let mut a = Usage {
            input_tokens: 10,
            output_tokens: 5,
            cost_usd: 0.5,
            ..Usage::default()
        };
        a.add(&Usage {
            input_tokens: 1,
            output_tokens: 2,
            cost_usd: 0.25,
            cost_estimated: true,
            ..Usage::default()
        });
        assert_eq!(a.total_tokens(), 18);
        assert!((a.cost_usd - 0.75).abs() < 1e-9);
        assert!(a.cost_estimated);
    }
}
