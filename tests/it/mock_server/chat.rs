//! OpenAI Chat Completions (`POST /v1/chat/completions`, `stream: true`), as OpenCode (through
//! `@ai-sdk/openai-compatible`) and Qwen Code (through the openai SDK) call it: `data:` chunks
//! with `choices[0].delta` (text, or one `tool_calls` entry whose arguments arrive whole), a
//! chunk with the finish reason, a usage chunk when `stream_options.include_usage` asks for one,
//! then `data: [DONE]`. A scripted write calls whichever file tool the request declares
//! (OpenCode's `write` takes `filePath`, Qwen's `write_file` takes `file_path`); its result
//! comes back as a `role: tool` message. Errors use the `{"error":{…}}` body.

use serde_json::{json, Value};

use super::{
    find_line_after, now_secs, rate_limit_headers, Ask, Failure, Reply, Step, CACHED_TOKENS,
    INPUT_TOKENS, OUTPUT_TOKENS,
};

/// The file tools the mock knows, with the name of their path parameter.
const WRITE_TOOLS: [(&str, &str); 2] = [("write", "filePath"), ("write_file", "file_path")];

/// How each CLI names its working directory in the system prompt.
const CWD_MARKERS: [&str; 2] = [
    "Working directory: ",
    "I'm currently working in the directory: ",
];

pub fn reply(body: &Value, step: impl FnOnce(Ask) -> Step) -> Reply {
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    let tool_result = messages.last().is_some_and(|m| m["role"] == "tool");
    let tools: Vec<&str> = body["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["function"]["name"].as_str())
        .collect();
    let cwd = CWD_MARKERS
        .iter()
        .find_map(|m| find_line_after(&body["messages"], m));
    let step = step(Ask {
        tool_result,
        declares_tools: !tools.is_empty(),
        cwd,
    });
    let base = json!({"id": "chatcmpl-orxmock", "object": "chat.completion.chunk",
        "created": now_secs(), "model": body["model"]});
    let chunk = |delta: Value, finish: Value| {
        let mut c = base.clone();
        c["choices"] = json!([{"index": 0, "delta": delta, "finish_reason": finish}]);
        c
    };
    let mut chunks = Vec::new();
    match step {
        Step::Fail(f) => return failure(f),
        Step::Text(text) => {
            let (a, b) = text.split_at(text.len() / 2);
            chunks.push(chunk(
                json!({"role": "assistant", "content": a}),
                Value::Null,
            ));
            chunks.push(chunk(json!({"content": b}), Value::Null));
            chunks.push(chunk(json!({}), json!("stop")));
        }
        Step::Tool {
            id, path, content, ..
        } => {
            let Some((name, key)) = WRITE_TOOLS.iter().find(|(n, _)| tools.contains(n)) else {
                return failure_text(400, "the mock needs a write or write_file tool");
            };
            let args = json!({*key: path, "content": content}).to_string();
            chunks.push(chunk(
                json!({"role": "assistant", "tool_calls": [{"index": 0, "id": format!("call_{id}"),
                    "type": "function", "function": {"name": name, "arguments": args}}]}),
                Value::Null,
            ));
            chunks.push(chunk(json!({}), json!("tool_calls")));
        }
    }
    if body["stream_options"]["include_usage"] == true {
        let mut u = base.clone();
        u["choices"] = json!([]);
        u["usage"] = json!({"prompt_tokens": INPUT_TOKENS, "completion_tokens": OUTPUT_TOKENS,
            "total_tokens": INPUT_TOKENS + OUTPUT_TOKENS,
            "prompt_tokens_details": {"cached_tokens": CACHED_TOKENS}});
        chunks.push(u);
    }
    let mut events: Vec<String> = chunks.iter().map(|c| format!("data: {c}\n\n")).collect();
    events.push("data: [DONE]\n\n".to_string());
    Reply::Sse(events)
}

fn failure_text(status: u16, message: &str) -> Reply {
    Reply::Json(
        status,
        vec![],
        json!({"error": {"type": "invalid_request_error", "message": message}}),
    )
}

fn failure(f: Failure) -> Reply {
    let (status, body, headers) = match f {
        Failure::Stall => return Reply::Stall,
        Failure::Unauthorized => (
            401,
            json!({"error": {"type": "invalid_request_error", "code": "invalid_api_key", "message": "orx mock 401: Incorrect API key provided"}}),
            vec![],
        ),
        Failure::RateLimited { reset_secs } => (
            429,
            json!({"error": {"type": "rate_limit_exceeded", "code": "rate_limit_exceeded", "message": "orx mock 429: Rate limit reached, please try again later"}}),
            rate_limit_headers(reset_secs),
        ),
        Failure::ServerError => (
            500,
            json!({"error": {"type": "server_error", "code": "server_error", "message": "orx mock 500: The server had an error"}}),
            vec![],
        ),
    };
    Reply::Json(status, headers, body)
}
