//! The `fake` executor: the scripted agent behind tests, demos and benchmarks.
//!
//! It is a real subprocess, not an in-process stub: `orx-fake-agent` (the small binary built
//! next to `orx`), or where that is missing orx's own binary as `orx __fake-agent`, reads the
//! prompt from stdin, looks up its step in the scenario, writes files in the worktree and
//! prints [`AgentEvent`]s as JSON lines. It therefore runs through the same supervisor
//! (process group, logs, timeouts, Ctrl-C, `kill -9` mid-call), the same parser seam and the
//! same metrics as Claude Code or Codex would. The small binary exists for speed alone: a
//! fake run starts one agent per call, and starting the whole orx binary costs about 1 ms
//! more each time (2.8 against 1.8 ms here).

use std::path::PathBuf;

use super::{
    classify, request_spec, AgentCli, AgentEvent, AgentOutcome, AgentRequest, FailureKind,
    StreamParser, Usage,
};
use crate::exec::{CommandSpec, ExitInfo};

/// The hidden subcommand that plays the agent.
pub const FAKE_AGENT_SUBCOMMAND: &str = "__fake-agent";

/// The binary that plays the agent on its own, looked for next to orx's.
pub const FAKE_AGENT_BINARY: &str = "orx-fake-agent";

#[derive(Debug, Clone)]
pub struct FakeCli {
    /// The program that plays the agent: `orx-fake-agent`, or orx's own binary.
    pub program: PathBuf,
    /// The subcommand to pass first, when `program` is orx's own binary.
    pub subcommand: Option<&'static str>,
    /// The scenario file; `None` plays the embedded demo scenario.
    pub scenario: Option<PathBuf>,
}

impl FakeCli {
    pub fn new(scenario: Option<PathBuf>) -> Self {
        let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("orx"));
        let (program, subcommand) = agent_program(exe);
        FakeCli {
            program,
            subcommand,
            scenario,
        }
    }
}

/// The agent's program for an orx binary at `exe`: the small binary beside it, else `exe`
/// itself with the hidden subcommand.
fn agent_program(exe: PathBuf) -> (PathBuf, Option<&'static str>) {
    let sibling = exe.with_file_name(FAKE_AGENT_BINARY);
    if sibling.is_file() {
        (sibling, None)
    } else {
        (exe, Some(FAKE_AGENT_SUBCOMMAND))
    }
}

impl AgentCli for FakeCli {
    fn name(&self) -> &str {
        "fake"
    }

    fn command(&self, req: &AgentRequest) -> CommandSpec {
        let mut spec = request_spec(self.program.to_string_lossy(), req);
        spec.args = self.subcommand.map(String::from).into_iter().collect();
        spec.args.extend([
            "--stage".into(),
            req.stage.clone(),
            "--n".into(),
            req.n.to_string(),
        ]);
        if let Some(item) = &req.item {
            spec.args.extend(["--item".into(), item.clone()]);
        }
        if let Some(s) = &self.scenario {
            spec.args
                .extend(["--scenario".into(), s.to_string_lossy().into_owned()]);
        }
        if let Some(sid) = &req.resume_session {
            spec.args.extend(["--resume".into(), sid.clone()]);
        }
        if let Some(model) = &req.model {
            spec.args.extend(["--model".into(), model.clone()]);
        }
        spec
    }

    fn parser(&self) -> Box<dyn StreamParser> {
        Box::<NativeParser>::default()
    }
}

/// Parses orx's native stream: one serialized [`AgentEvent`] per line.
#[derive(Debug, Default)]
pub struct NativeParser {
    session_id: Option<String>,
    usage: Usage,
    final_text: Option<String>,
    error: Option<String>,
    finished_with_error: bool,
    rate_limited: Option<String>,
    reset_at: Option<String>,
    unparsed: u64,
}

impl StreamParser for NativeParser {
    fn feed(&mut self, line: &str) -> Vec<AgentEvent> {
        if line.trim().is_empty() {
            return Vec::new();
        }
        let Ok(ev) = serde_json::from_str::<AgentEvent>(line) else {
            self.unparsed += 1;
            return Vec::new();
        };
        match &ev {
            AgentEvent::SessionStarted { session_id, .. } => {
                self.session_id = Some(session_id.clone())
            }
            AgentEvent::Usage { usage } => self.usage.add(usage),
            AgentEvent::Error { message } => self.error = Some(message.clone()),
            AgentEvent::RateLimited { reset_at, message } => {
                self.rate_limited = Some(message.clone());
                self.reset_at = reset_at.clone().or_else(|| classify::parse_reset(message));
            }
            AgentEvent::Finished {
                final_text,
                is_error,
            } => {
                self.final_text = Some(final_text.clone());
                self.finished_with_error = *is_error;
            }
            _ => {}
        }
        vec![ev]
    }

    fn finish(&mut self, _exit: &ExitInfo) -> AgentOutcome {
        let (failure, message) = if let Some(msg) = &self.rate_limited {
            (Some(FailureKind::RateLimited), Some(msg.clone()))
        } else if let Some(err) = &self.error {
            // The same words mean the same failure whichever engine said them.
            let kind = classify::classify_message(err).unwrap_or(FailureKind::AgentError);
            if kind == FailureKind::RateLimited && self.reset_at.is_none() {
                self.reset_at = classify::parse_reset(err);
            }
            (Some(kind), Some(err.clone()))
        } else if self.finished_with_error {
            (
                Some(FailureKind::AgentError),
                Some("agent reported an error".into()),
            )
        } else if self.final_text.is_none() {
            (
                Some(FailureKind::NoResult),
                Some(format!(
                    "agent stream ended without a result ({} unparsed lines)",
                    self.unparsed
                )),
            )
        } else {
            (None, None)
        };
        AgentOutcome {
            failure,
            message,
            final_text: self.final_text.clone().unwrap_or_default(),
            session_id: self.session_id.clone(),
            usage: self.usage.clone(),
            exit_code: None,
            duration_ms: 0,
            cumulative_usage: None,
            reset_at: self.reset_at.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::testutil::exited;

    /// The small binary beside orx's is the agent when it is there; orx's own binary with the
    /// hidden subcommand when it is not.
    #[test]
    fn the_agent_is_the_binary_beside_orx_or_orx_itself() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("orx");
        std::fs::write(&exe, "").unwrap();
        assert_eq!(
            agent_program(exe.clone()),
            (exe.clone(), Some(FAKE_AGENT_SUBCOMMAND))
        );
        let sibling = dir.path().join(FAKE_AGENT_BINARY);
        std::fs::write(&sibling, "").unwrap();
        assert_eq!(agent_program(exe), (sibling, None));
    }

    fn exit() -> ExitInfo {
        exited(0)
    }

    #[test]
    fn a_finished_stream_is_success_with_summed_usage() {
        let mut p = NativeParser::default();
        p.feed(r#"{"type":"session_started","session_id":"s1"}"#);
        p.feed("not json");
        p.feed(r#"{"type":"usage","usage":{"input_tokens":10,"output_tokens":3,"cost_usd":0.01}}"#);
        p.feed(r#"{"type":"usage","usage":{"input_tokens":5,"output_tokens":2}}"#);
        p.feed(r#"{"type":"finished","final_text":"done"}"#);
        let o = p.finish(&exit());
        assert!(o.succeeded(), "{o:?}");
        assert_eq!(o.final_text, "done");
        assert_eq!(o.session_id.as_deref(), Some("s1"));
        assert_eq!(o.usage.input_tokens, 15);
        assert_eq!(o.usage.output_tokens, 5);
    }

    #[test]
    fn errors_and_missing_results_are_failures() {
        let mut p = NativeParser::default();
        p.feed(r#"{"type":"error","message":"model overloaded"}"#);
        p.feed(r#"{"type":"finished","final_text":"","is_error":true}"#);
        let o = p.finish(&exit());
        assert_eq!(
            o.failure,
            Some(FailureKind::ApiError),
            "named from its words"
        );
        assert_eq!(o.message.as_deref(), Some("model overloaded"));

        let mut p = NativeParser::default();
        p.feed(r#"{"type":"error","message":"the tests would not pass"}"#);
        assert_eq!(p.finish(&exit()).failure, Some(FailureKind::AgentError));

        let mut p = NativeParser::default();
        p.feed(r#"{"type":"error","message":"rate limit exceeded; resets in 30s"}"#);
        let o = p.finish(&exit());
        assert_eq!(o.failure, Some(FailureKind::RateLimited));
        assert!(o.reset_at.is_some());

        let mut p = NativeParser::default();
        p.feed(r#"{"type":"text","text":"half"}"#);
        assert_eq!(p.finish(&exit()).failure, Some(FailureKind::NoResult));
    }
}
