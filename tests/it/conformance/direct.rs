//! Each real CLI driven by hand against the mock, with exactly the headless argv orx uses:
//! proof that the mock speaks each wire format well enough for the real client, and the source
//! of the stream recordings under tests/recordings/.

use std::time::Duration;

use serde_json::Value;

use super::{bin_dir, run_direct, Cli, Direct, Sandbox, Until};
use crate::mock_server::{Failure, MockServer, Turn, CACHED_TOKENS, INPUT_TOKENS, OUTPUT_TOKENS};

const PROMPT: &str = "Create hello.txt saying hello, then say what you did.\n";
const FINAL: &str = "Done: wrote hello.txt.";
/// A hang detector: how long a CLI may take to exit on its own.
const LIMIT: Duration = crate::waiting::SAFETY_BOUND;

/// The final answer a CLI printed, from its own stream format.
fn final_text(d: &Direct) -> String {
    match d.cli {
        Cli::Claude => d
            .of_type("result")
            .last()
            .and_then(|r| r["result"].as_str())
            .unwrap_or("")
            .into(),
        Cli::Codex => d
            .of_type("item.completed")
            .iter()
            .filter(|l| l["item"]["type"] == "agent_message")
            .filter_map(|l| l["item"]["text"].as_str())
            .collect(),
        Cli::Gemini => d
            .of_type("message")
            .iter()
            .filter(|l| l["role"] == "assistant")
            .filter_map(|l| l["content"].as_str())
            .collect(),
        Cli::OpenCode => d
            .of_type("text")
            .last()
            .and_then(|t| t["part"]["text"].as_str())
            .unwrap_or("")
            .into(),
        Cli::Qwen => d
            .of_type("result")
            .last()
            .and_then(|r| r["result"].as_str())
            .unwrap_or("")
            .into(),
    }
}

/// The (input, output) tokens the CLI's final usage reports.
fn reported_tokens(d: &Direct) -> (u64, u64) {
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    match d.cli {
        Cli::Claude => {
            let r = d
                .of_type("result")
                .last()
                .cloned()
                .cloned()
                .unwrap_or(Value::Null);
            (
                n(&r["usage"]["input_tokens"]),
                n(&r["usage"]["output_tokens"]),
            )
        }
        Cli::Codex => {
            let r = d
                .of_type("turn.completed")
                .last()
                .cloned()
                .cloned()
                .unwrap_or(Value::Null);
            (
                n(&r["usage"]["input_tokens"]),
                n(&r["usage"]["output_tokens"]),
            )
        }
        Cli::Gemini => {
            let r = d
                .of_type("result")
                .last()
                .cloned()
                .cloned()
                .unwrap_or(Value::Null);
            (
                n(&r["stats"]["input_tokens"]),
                n(&r["stats"]["output_tokens"]),
            )
        }
        // Per step, input without the cached tokens.
        Cli::OpenCode => d.of_type("step_finish").iter().fold((0, 0), |(i, o), s| {
            let t = &s["part"]["tokens"];
            (
                i + n(&t["input"]) + n(&t["cache"]["read"]),
                o + n(&t["output"]),
            )
        }),
        Cli::Qwen => {
            let r = d
                .of_type("result")
                .last()
                .cloned()
                .cloned()
                .unwrap_or(Value::Null);
            (
                n(&r["usage"]["input_tokens"]),
                n(&r["usage"]["output_tokens"]),
            )
        }
    }
}

/// Whether the stream ends in the CLI's success marker.
fn succeeded(d: &Direct) -> bool {
    let last = d.last();
    d.code == Some(0)
        && match d.cli {
            Cli::Claude => last["type"] == "result" && last["is_error"] == false,
            Cli::Codex => last["type"] == "turn.completed",
            Cli::Gemini => last["type"] == "result" && last["status"] == "success",
            Cli::OpenCode => last["type"] == "step_finish" && last["part"]["reason"] == "stop",
            Cli::Qwen => last["type"] == "result" && last["is_error"] == false,
        }
}

fn text_answer(cli: Cli) {
    let Some(bin) = bin_dir() else { return };
    let sb = Sandbox::new();
    let server = sb.server(vec![Turn::Text(FINAL.into())]);
    let d = run_direct(&bin, cli, &sb, &server, PROMPT, None, Until::Exit(LIMIT));
    d.record("success");
    assert!(succeeded(&d), "{}", d.dump(&server));
    assert_eq!(final_text(&d), FINAL, "{}", d.dump(&server));
    assert_eq!(
        reported_tokens(&d),
        (INPUT_TOKENS, OUTPUT_TOKENS),
        "{}",
        d.dump(&server)
    );
    assert!(cli.session_id(&d.lines).is_some(), "{}", d.dump(&server));
    assert_eq!(server.model_requests().len(), 1, "{}", d.dump(&server));
}

/// A tool call that writes a file, the tool result, the final text; then a second call that
/// resumes the session and sees the first conversation.
fn tool_call_then_resume(cli: Cli) {
    let Some(bin) = bin_dir() else { return };
    let sb = Sandbox::new();
    let server = sb.server(vec![
        Turn::write("hello.txt", "hello from the mock\n", FINAL),
        Turn::Text("Resumed: nothing left to do.".into()),
    ]);
    let d = run_direct(&bin, cli, &sb, &server, PROMPT, None, Until::Exit(LIMIT));
    d.record("tool_call");
    assert!(succeeded(&d), "{}", d.dump(&server));
    assert_eq!(
        std::fs::read_to_string(sb.work().join("hello.txt"))
            .ok()
            .as_deref(),
        Some("hello from the mock\n"),
        "the CLI's own tool wrote the file\n{}",
        d.dump(&server)
    );
    assert_eq!(final_text(&d), FINAL, "{}", d.dump(&server));
    let models = server.model_requests();
    assert_eq!(
        models.len(),
        2,
        "tool call + final answer\n{}",
        d.dump(&server)
    );
    // Usage adds up over the two model calls of the turn.
    assert_eq!(
        reported_tokens(&d),
        (2 * INPUT_TOKENS, 2 * OUTPUT_TOKENS),
        "{}",
        d.dump(&server)
    );
    match cli {
        Cli::Claude => {
            let r = d.of_type("result")[0];
            assert!(r["total_cost_usd"].as_f64().unwrap_or(0.0) > 0.0, "{r}");
            assert!(d
                .of_type("assistant")
                .iter()
                .any(|a| a["message"]["content"][0]["name"] == "Write"));
        }
        Cli::Codex => {
            let changes: Vec<&Value> = d
                .of_type("item.completed")
                .into_iter()
                .filter(|l| l["item"]["type"] == "file_change")
                .collect();
            assert_eq!(changes.len(), 1, "{}", d.dump(&server));
            assert_eq!(changes[0]["item"]["changes"][0]["kind"], "add");
            let usage = &d.of_type("turn.completed")[0]["usage"];
            assert_eq!(usage["cached_input_tokens"], 2 * CACHED_TOKENS);
        }
        Cli::Gemini => {
            let tool = d.of_type("tool_use");
            assert_eq!(tool.len(), 1, "{}", d.dump(&server));
            assert_eq!(tool[0]["tool_name"], "write_file");
            assert_eq!(d.of_type("tool_result")[0]["status"], "success");
        }
        Cli::OpenCode => {
            let tool = d.of_type("tool_use");
            assert_eq!(tool.len(), 1, "{}", d.dump(&server));
            assert_eq!(tool[0]["part"]["tool"], "write");
            assert_eq!(tool[0]["part"]["state"]["status"], "completed");
        }
        Cli::Qwen => {
            assert!(d
                .of_type("assistant")
                .iter()
                .any(|a| a["message"]["content"][0]["name"] == "write_file"));
            let r = d.of_type("result")[0];
            assert_eq!(r["usage"]["cache_read_input_tokens"], 2 * CACHED_TOKENS);
        }
    }
    let first_sid = cli.session_id(&d.lines).expect("session id");

    let d2 = run_direct(
        &bin,
        cli,
        &sb,
        &server,
        "Anything left?\n",
        Some(&first_sid),
        Until::Exit(LIMIT),
    );
    d2.record("resume");
    assert!(succeeded(&d2), "{}", d2.dump(&server));
    assert_eq!(
        final_text(&d2),
        "Resumed: nothing left to do.",
        "{}",
        d2.dump(&server)
    );
    assert_eq!(
        cli.session_id(&d2.lines).as_deref(),
        Some(first_sid.as_str()),
        "same session"
    );
    let models = server.model_requests();
    assert_eq!(models.len(), 3, "{}", d2.dump(&server));
    assert!(!cli.carries_history(&models[0].body));
    assert!(
        cli.carries_history(&models[2].body),
        "the resumed call sends the first conversation\n{}",
        d2.dump(&server)
    );
    if cli == Cli::Codex {
        // Codex's usage is cumulative over the thread.
        assert_eq!(reported_tokens(&d2), (3 * INPUT_TOKENS, 3 * OUTPUT_TOKENS));
    }
}

/// A sticky API failure: the CLI gives up with its own error report.
fn failure(cli: Cli, f: Failure, case: &str) {
    let Some(bin) = bin_dir() else { return };
    let sb = Sandbox::new();
    let server = sb.server(vec![Turn::Fail(f)]);
    let d = run_direct(&bin, cli, &sb, &server, PROMPT, None, Until::Exit(LIMIT));
    d.record(case);
    let status: u16 = match f {
        Failure::Unauthorized => 401,
        Failure::RateLimited { .. } => 429,
        Failure::ServerError => 500,
        Failure::Stall => unreachable!(),
    };
    assert!(!succeeded(&d), "{}", d.dump(&server));
    assert_eq!(
        server.model_requests().len(),
        1,
        "retries are switched off\n{}",
        d.dump(&server)
    );
    let last = d.last();
    match cli {
        Cli::Claude => {
            assert_eq!(d.code, Some(1), "{}", d.dump(&server));
            assert_eq!(last["type"], "result");
            assert_eq!(last["is_error"], true);
            assert_eq!(last["api_error_status"], status, "{}", d.dump(&server));
            assert_eq!(last["terminal_reason"], "api_error");
        }
        Cli::Codex => {
            assert_eq!(d.code, Some(1), "{}", d.dump(&server));
            assert_eq!(last["type"], "turn.failed", "{}", d.dump(&server));
            let msg = last["error"]["message"].as_str().unwrap_or("");
            match f {
                Failure::Unauthorized => assert!(msg.contains("401"), "{msg}"),
                Failure::RateLimited { .. } => assert!(
                    msg.contains("usage limit") && msg.contains("try again at"),
                    "{msg}"
                ),
                _ => assert!(!msg.is_empty()),
            }
        }
        Cli::Gemini => {
            // API errors exit with the HTTP status truncated to a byte.
            assert_eq!(
                d.code,
                Some(i32::from(status & 0xff)),
                "{}",
                d.dump(&server)
            );
            assert_eq!(last["type"], "result");
            assert_eq!(last["status"], "error", "{}", d.dump(&server));
        }
        Cli::OpenCode => {
            assert_eq!(d.code, Some(1), "{}", d.dump(&server));
            assert_eq!(last["type"], "error", "{}", d.dump(&server));
            assert_eq!(last["error"]["data"]["statusCode"], status);
        }
        Cli::Qwen => {
            assert_eq!(d.code, Some(1), "{}", d.dump(&server));
            assert_eq!(last["type"], "result");
            assert_eq!(last["is_error"], true);
            let msg = last["error"]["message"].as_str().unwrap_or("");
            assert!(msg.contains(&status.to_string()), "{msg}");
        }
    }
}

/// The server never answers: the CLI prints no result and must be killed.
fn stall(cli: Cli) {
    let Some(bin) = bin_dir() else { return };
    let sb = Sandbox::new();
    let server = sb.server(vec![Turn::Fail(Failure::Stall)]);
    let d = run_direct(
        &bin,
        cli,
        &sb,
        &server,
        PROMPT,
        None,
        Until::StalledFor(Duration::from_secs(4)),
    );
    d.record("stall_killed");
    assert_eq!(
        d.code,
        None,
        "still running when killed\n{}",
        d.dump(&server)
    );
    // OpenCode prints nothing before its first step has begun to stream.
    if cli != Cli::OpenCode {
        assert!(cli.session_id(&d.lines).is_some(), "{}", d.dump(&server));
    }
    assert!(
        !d.lines.iter().any(|l| l["type"] == "result"
            || l["type"] == "turn.completed"
            || l["type"] == "turn.failed"),
        "{}",
        d.dump(&server)
    );
}

fn server_paths(server: &MockServer) -> Vec<String> {
    let mut p: Vec<String> = server
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path()))
        .collect();
    p.dedup();
    p
}

/// The only endpoint each CLI calls with background traffic off.
fn endpoints(cli: Cli) {
    let Some(bin) = bin_dir() else { return };
    let sb = Sandbox::new();
    let server = sb.server(vec![Turn::write("hello.txt", "hi\n", FINAL)]);
    let d = run_direct(&bin, cli, &sb, &server, PROMPT, None, Until::Exit(LIMIT));
    assert!(succeeded(&d), "{}", d.dump(&server));
    let want = match cli {
        Cli::Claude => "POST /v1/messages",
        Cli::Codex => "POST /v1/responses",
        Cli::Gemini => "POST /v1beta/models/gemini-2.5-flash:streamGenerateContent",
        Cli::OpenCode | Cli::Qwen => "POST /v1/chat/completions",
    };
    assert_eq!(
        server_paths(&server),
        vec![want.to_string()],
        "{}",
        d.dump(&server)
    );
}

macro_rules! per_cli {
    ($($name:ident => $body:expr;)*) => {
        $(
            #[test]
            fn $name() {
                $body
            }
        )*
    };
}

per_cli! {
    claude_answers_text => text_answer(Cli::Claude);
    codex_answers_text => text_answer(Cli::Codex);
    gemini_answers_text => text_answer(Cli::Gemini);
    opencode_answers_text => text_answer(Cli::OpenCode);
    qwen_answers_text => text_answer(Cli::Qwen);
    claude_writes_a_file_then_resumes_the_session => tool_call_then_resume(Cli::Claude);
    codex_writes_a_file_then_resumes_the_session => tool_call_then_resume(Cli::Codex);
    gemini_writes_a_file_then_resumes_the_session => tool_call_then_resume(Cli::Gemini);
    opencode_writes_a_file_then_resumes_the_session => tool_call_then_resume(Cli::OpenCode);
    qwen_writes_a_file_then_resumes_the_session => tool_call_then_resume(Cli::Qwen);
    claude_reports_401 => failure(Cli::Claude, Failure::Unauthorized, "401");
    codex_reports_401 => failure(Cli::Codex, Failure::Unauthorized, "401");
    gemini_reports_401 => failure(Cli::Gemini, Failure::Unauthorized, "401");
    opencode_reports_401 => failure(Cli::OpenCode, Failure::Unauthorized, "401");
    qwen_reports_401 => failure(Cli::Qwen, Failure::Unauthorized, "401");
    claude_reports_429 => failure(Cli::Claude, Failure::RateLimited { reset_secs: 3600 }, "429");
    codex_reports_429 => failure(Cli::Codex, Failure::RateLimited { reset_secs: 3600 }, "429");
    gemini_reports_429 => failure(Cli::Gemini, Failure::RateLimited { reset_secs: 3600 }, "429");
    claude_reports_500 => failure(Cli::Claude, Failure::ServerError, "500");
    codex_reports_500 => failure(Cli::Codex, Failure::ServerError, "500");
    gemini_reports_500 => failure(Cli::Gemini, Failure::ServerError, "500");
    claude_stalls_until_killed => stall(Cli::Claude);
    codex_stalls_until_killed => stall(Cli::Codex);
    gemini_stalls_until_killed => stall(Cli::Gemini);
    opencode_stalls_until_killed => stall(Cli::OpenCode);
    qwen_stalls_until_killed => stall(Cli::Qwen);
    claude_calls_only_the_messages_endpoint => endpoints(Cli::Claude);
    codex_calls_only_the_responses_endpoint => endpoints(Cli::Codex);
    gemini_calls_only_stream_generate_content => endpoints(Cli::Gemini);
    opencode_calls_only_chat_completions => endpoints(Cli::OpenCode);
    qwen_calls_only_chat_completions => endpoints(Cli::Qwen);
}
