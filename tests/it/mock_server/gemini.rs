//! Gemini API (`POST /v1beta/models/<model>:streamGenerateContent?alt=sse`), as Gemini CLI calls
//! it with an API key: `data:` lines each holding a GenerateContentResponse chunk
//! (candidates[].content.parts[] with text or a `write_file` functionCall; usageMetadata on
//! the last). `:generateContent` (side calls) gets the same content unstreamed, `:countTokens`
//! a count. Errors use the Google `{"error":{code,message,status}}` body.

use serde_json::{json, Value};

use super::http::data_event;
use super::{
    find_line_after, rate_limit_headers, Ask, Failure, Reply, Step, CACHED_TOKENS, INPUT_TOKENS,
    OUTPUT_TOKENS,
};

pub fn reply(path: &str, body: &Value, step: impl FnOnce(Ask) -> Step) -> Reply {
    if path.ends_with(":countTokens") {
        return Reply::Json(200, vec![], json!({"totalTokens": INPUT_TOKENS}));
    }
    let stream = path.ends_with(":streamGenerateContent");
    if !stream && !path.ends_with(":generateContent") {
        return Reply::Json(
            404,
            vec![],
            json!({"error": {"code": 404, "message": format!("the mock does not serve {path}"), "status": "NOT_FOUND"}}),
        );
    }
    let last = body["contents"]
        .as_array()
        .and_then(|c| c.last())
        .cloned()
        .unwrap_or(Value::Null);
    let tool_result = last["parts"]
        .as_array()
        .is_some_and(|p| p.iter().any(|p| p.get("functionResponse").is_some()));
    // An agent call declares functions (read-only ones in orx's text mode); side calls (the
    // next-speaker check) declare none.
    let declares_tools = body["tools"].as_array().is_some_and(|t| {
        t.iter().any(|t| {
            t["functionDeclarations"]
                .as_array()
                .is_some_and(|d| !d.is_empty())
        })
    });
    let cwd = find_line_after(body, "**Workspace Directories:**\n  - ");
    let step = step(Ask {
        tool_result,
        declares_tools,
        cwd,
    });
    let model = path
        .trim_start_matches("/v1beta/models/")
        .split(':')
        .next()
        .unwrap_or("")
        .to_string();
    let usage = json!({"promptTokenCount": INPUT_TOKENS, "candidatesTokenCount": OUTPUT_TOKENS,
        "cachedContentTokenCount": CACHED_TOKENS, "totalTokenCount": INPUT_TOKENS + OUTPUT_TOKENS});
    let chunks = match step {
        Step::Fail(f) => return failure(f),
        Step::Tool { path, content, .. } => vec![
            json!({"candidates": [{"content": {"role": "model", "parts": [
                {"functionCall": {"name": "write_file", "args": {"file_path": path, "content": content}}}]},
                "finishReason": "STOP", "index": 0}], "usageMetadata": usage, "modelVersion": model}),
        ],
        Step::Text(text) => {
            if !stream && !declares_tools {
                // Side calls ask for JSON (next-speaker check): say the user speaks next.
                let t = json!({"reasoning": "the turn is complete", "next_speaker": "user"})
                    .to_string();
                return Reply::Json(
                    200,
                    vec![],
                    json!({"candidates": [{"content": {"role": "model", "parts": [{"text": t}]},
                    "finishReason": "STOP", "index": 0}], "usageMetadata": usage}),
                );
            }
            let (a, b) = text.split_at(text.len() / 2);
            vec![
                json!({"candidates": [{"content": {"role": "model", "parts": [{"text": a}]}, "index": 0}]}),
                json!({"candidates": [{"content": {"role": "model", "parts": [{"text": b}]}, "finishReason": "STOP", "index": 0}],
                    "usageMetadata": usage, "modelVersion": model}),
            ]
        }
    };
    if !stream {
        let mut one = chunks.last().cloned().unwrap_or(Value::Null);
        if chunks.len() > 1 {
            let text: String = chunks
                .iter()
                .filter_map(|c| c["candidates"][0]["content"]["parts"][0]["text"].as_str())
                .collect();
            one["candidates"][0]["content"]["parts"] = json!([{"text": text}]);
        }
        return Reply::Json(200, vec![], one);
    }
    Reply::Sse(chunks.iter().map(data_event).collect())
}

fn failure(f: Failure) -> Reply {
    let (status, state, headers) = match f {
        Failure::Stall => return Reply::Stall,
        Failure::Unauthorized => (401, "UNAUTHENTICATED", vec![]),
        Failure::RateLimited { reset_secs } => {
            (429, "RESOURCE_EXHAUSTED", rate_limit_headers(reset_secs))
        }
        Failure::ServerError => (500, "INTERNAL", vec![]),
    };
    let mut err = json!({"code": status, "message": format!("orx mock {status}"), "status": state});
    if let Failure::RateLimited { reset_secs } = f {
        err["details"] = json!([{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": format!("{reset_secs}s")}]);
    }
    Reply::Json(status, headers, json!({"error": err}))
}
