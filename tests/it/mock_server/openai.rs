//! OpenAI Responses API (`POST /v1/responses`, SSE), as Codex calls it: response.created,
//! response.output_item.added, response.output_text.delta for text, response.output_item.done
//! with the finished item, response.completed with usage. Codex edits files through its
//! freeform `apply_patch` tool (a `custom_tool_call` whose input is the patch text), so that is
//! what a scripted write asks for; the tool's output comes back as `custom_tool_call_output`.

use serde_json::{json, Value};

use super::http::named_event;
use super::{
    find_line_after, now_secs, rate_limit_headers, Ask, Failure, Reply, Step, CACHED_TOKENS,
    INPUT_TOKENS, OUTPUT_TOKENS,
};

pub fn reply(body: &Value, step: impl FnOnce(Ask) -> Step) -> Reply {
    let input = body["input"].as_array().cloned().unwrap_or_default();
    let tool_result = input.last().is_some_and(|i| {
        i["type"]
            .as_str()
            .is_some_and(|t| t.ends_with("_call_output"))
    });
    // An agent call declares tools (read-only ones in orx's text mode); side calls declare none.
    let declares_tools = body["tools"].as_array().is_some_and(|t| !t.is_empty());
    let cwd = find_line_after(&body["input"], "<cwd>");
    let step = step(Ask {
        tool_result,
        declares_tools,
        cwd: cwd.clone(),
    });
    let created = now_secs();
    let base = json!({"id": "resp_orxmock", "object": "response", "created_at": created,
        "model": body["model"], "status": "in_progress", "output": []});
    let item = match step {
        Step::Fail(f) => return failure(f),
        Step::Text(text) => json!({"type": "message", "id": "msg_orxmock", "role": "assistant",
            "status": "completed", "content": [{"type": "output_text", "text": text, "annotations": []}]}),
        Step::Tool {
            id, rel, content, ..
        } => {
            let exists = cwd
                .as_deref()
                .is_some_and(|d| std::path::Path::new(d).join(&rel).exists());
            json!({"type": "custom_tool_call", "id": format!("ctc_{id}"), "call_id": format!("call_{id}"),
                "name": "apply_patch", "status": "completed", "input": patch(&rel, &content, exists, cwd.as_deref())})
        }
    };
    let mut events = vec![
        json!({"type": "response.created", "response": base}),
        json!({"type": "response.output_item.added", "output_index": 0, "item": item}),
    ];
    if let Some(text) = item["content"][0]["text"].as_str() {
        events.push(
            json!({"type": "response.output_text.delta", "item_id": "msg_orxmock",
            "output_index": 0, "content_index": 0, "delta": text}),
        );
    }
    let mut done = base.clone();
    done["status"] = json!("completed");
    done["output"] = json!([item]);
    done["usage"] = json!({"input_tokens": INPUT_TOKENS, "input_tokens_details": {"cached_tokens": CACHED_TOKENS},
        "output_tokens": OUTPUT_TOKENS, "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": INPUT_TOKENS + OUTPUT_TOKENS});
    events.push(json!({"type": "response.output_item.done", "output_index": 0, "item": item}));
    events.push(json!({"type": "response.completed", "response": done}));
    Reply::Sse(events.iter().map(named_event).collect())
}

/// An apply_patch body that creates `rel`, or replaces all of its lines when it exists.
fn patch(rel: &str, content: &str, exists: bool, cwd: Option<&str>) -> String {
    let mut p = String::from("*** Begin Patch\n");
    if exists {
        let old = cwd
            .map(|d| std::fs::read_to_string(std::path::Path::new(d).join(rel)).unwrap_or_default())
            .unwrap_or_default();
        p.push_str(&format!("*** Update File: {rel}\n@@\n"));
        for l in old.lines() {
            p.push_str(&format!("-{l}\n"));
        }
    } else {
        p.push_str(&format!("*** Add File: {rel}\n"));
    }
    for l in content.lines() {
        p.push_str(&format!("+{l}\n"));
    }
    p.push_str("*** End Patch\n");
    p
}

fn failure(f: Failure) -> Reply {
    let (status, body, headers) = match f {
        Failure::Stall => return Reply::Stall,
        Failure::Unauthorized => (
            401,
            json!({"error": {"type": "invalid_request_error", "code": "invalid_api_key", "message": "orx mock 401: incorrect API key"}}),
            vec![],
        ),
        Failure::RateLimited { reset_secs } => (
            429,
            // Codex reports a reset time only for this body shape ("try again at …").
            json!({"error": {"type": "usage_limit_reached", "message": "orx mock 429", "plan_type": "plus",
                "resets_at": now_secs() + reset_secs, "resets_in_seconds": reset_secs}}),
            rate_limit_headers(reset_secs),
        ),
        Failure::ServerError => (
            500,
            json!({"error": {"type": "server_error", "code": "server_error", "message": "orx mock 500"}}),
            vec![],
        ),
    };
    Reply::Json(status, headers, body)
}
