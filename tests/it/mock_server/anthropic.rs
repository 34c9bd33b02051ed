//! Anthropic Messages API (`POST /v1/messages`, `stream: true`), as Claude Code calls it: an SSE
//! stream of message_start, content_block_start/delta/stop (text_delta, or a `Write` tool_use
//! whose input arrives as input_json_delta pieces), message_delta with the stop reason and
//! usage, message_stop. Errors use the `{"type":"error","error":{…}}` body.

use serde_json::{json, Value};

use super::http::named_event;
use super::{
    find_line_after, rate_limit_headers, Ask, Failure, Reply, Step, CACHED_TOKENS, INPUT_TOKENS,
    OUTPUT_TOKENS,
};

pub fn reply(body: &Value, step: impl FnOnce(Ask) -> Step) -> Reply {
    let last = body["messages"]
        .as_array()
        .and_then(|m| m.last())
        .cloned()
        .unwrap_or(Value::Null);
    let tool_result = last["content"]
        .as_array()
        .is_some_and(|c| c.iter().any(|b| b["type"] == "tool_result"));
    // An agent call declares tools (read-only ones in orx's text mode); side calls (a title)
    // declare none.
    let declares_tools = body["tools"].as_array().is_some_and(|t| !t.is_empty());
    let cwd = find_line_after(&body["system"], "Primary working directory: ");
    let step = step(Ask {
        tool_result,
        declares_tools,
        cwd,
    });
    let model = body["model"]
        .as_str()
        .unwrap_or("claude-sonnet-4-5")
        .to_string();
    let (blocks, stop) = match step {
        Step::Fail(f) => return failure(f),
        Step::Text(text) => {
            let (a, b) = text.split_at(text.len() / 2);
            (
                vec![
                    json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
                    json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": a}}),
                    json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": b}}),
                    json!({"type": "content_block_stop", "index": 0}),
                ],
                "end_turn",
            )
        }
        Step::Tool {
            id, path, content, ..
        } => {
            let input = json!({"file_path": path, "content": content}).to_string();
            let (a, b) = input.split_at(input.len() / 2);
            (
                vec![
                    json!({"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": format!("toolu_{id}"), "name": "Write", "input": {}}}),
                    json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": a}}),
                    json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": b}}),
                    json!({"type": "content_block_stop", "index": 0}),
                ],
                "tool_use",
            )
        }
    };
    if body["stream"] != true {
        let text: String = blocks
            .iter()
            .filter_map(|b| b["delta"]["text"].as_str())
            .collect();
        return Reply::Json(
            200,
            vec![],
            json!({"id": "msg_orxmock", "type": "message", "role": "assistant", "model": model,
                   "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": null,
                   "usage": {"input_tokens": INPUT_TOKENS, "output_tokens": OUTPUT_TOKENS}}),
        );
    }
    let mut events = vec![json!({"type": "message_start", "message": {
        "id": "msg_orxmock", "type": "message", "role": "assistant", "model": model, "content": [],
        "stop_reason": null, "stop_sequence": null,
        "usage": {"input_tokens": INPUT_TOKENS, "output_tokens": 1, "cache_creation_input_tokens": 0, "cache_read_input_tokens": CACHED_TOKENS}}})];
    events.extend(blocks);
    events.push(json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null},
        "usage": {"input_tokens": INPUT_TOKENS, "output_tokens": OUTPUT_TOKENS, "cache_read_input_tokens": CACHED_TOKENS}}));
    events.push(json!({"type": "message_stop"}));
    Reply::Sse(events.iter().map(named_event).collect())
}

fn failure(f: Failure) -> Reply {
    let (status, kind, headers) = match f {
        Failure::Stall => return Reply::Stall,
        Failure::Unauthorized => (401, "authentication_error", vec![]),
        Failure::RateLimited { reset_secs } => {
            (429, "rate_limit_error", rate_limit_headers(reset_secs))
        }
        Failure::ServerError => (500, "api_error", vec![]),
    };
    Reply::Json(
        status,
        headers,
        json!({"type": "error", "error": {"type": kind, "message": format!("orx mock {status}")}}),
    )
}
