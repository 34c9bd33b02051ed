//! The request lines between stdin and the MCP SDK: whole lines up to [`MAX_LINE`] pass
//! through; a longer one is answered with a JSON-RPC error instead of vanishing.
//!
//! The SDK drops a line over its 16 MiB cap without a word, so a client that sent one waits
//! forever for the answer. A JSON-RPC error needs the request's id, and the id may come
//! first (serde_json's order) or last (the TypeScript SDK's), so the first and last bytes of
//! an oversized line are kept ([`HEAD`], [`TAIL`]) while the rest is dropped, and the line is
//! replaced by a small request for [`OVERSIZED_METHOD`] carrying that id, which the server
//! answers with an error ([`super::tools`]). A line whose id cannot be found this way is
//! replaced by a well-formed message that is not a request, which the SDK answers with
//! "Invalid request". Memory stays bounded: at most one line of [`MAX_LINE`] is held.

use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The longest request line accepted, newline included (the SDK's own cap).
pub const MAX_LINE: usize = 16 * 1024 * 1024;
/// The method an oversized request is replaced by.
pub const OVERSIZED_METHOD: &str = "orx/request_too_large";
/// How much of the start and the end of an oversized line is kept to find its id.
const HEAD: usize = 64 * 1024;
const TAIL: usize = 4 * 1024;

/// Copy request lines from `input` to `output` until `input` ends; see the module doc.
pub async fn filter<R, W>(mut input: R, mut output: W) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut line: Vec<u8> = Vec::new();
    // Set while dropping an oversized line: its head, its last bytes and its length so far.
    let mut over: Option<(Vec<u8>, Vec<u8>, usize)> = None;
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = input.read(&mut chunk).await?;
        if n == 0 {
            if over.is_none() && !line.is_empty() {
                output.write_all(&line).await?;
            }
            output.flush().await?;
            return Ok(());
        }
        let mut rest = &chunk[..n];
        while !rest.is_empty() {
            let end = memchr::memchr(b'\n', rest);
            let take = end.map_or(rest.len(), |i| i + 1);
            let (part, after) = rest.split_at(take);
            rest = after;
            match over.as_mut() {
                Some((_, tail, len)) => {
                    *len += part.len();
                    tail.extend_from_slice(part);
                    if tail.len() > 2 * TAIL {
                        tail.drain(..tail.len() - TAIL);
                    }
                }
                None if line.len() + part.len() > MAX_LINE => {
                    let mut head = std::mem::take(&mut line);
                    head.extend_from_slice(part);
                    let len = head.len();
                    let tail = head[head.len().saturating_sub(TAIL)..].to_vec();
                    head.truncate(HEAD);
                    over = Some((head, tail, len));
                }
                None => line.extend_from_slice(part),
            }
            if end.is_some() {
                if let Some((head, tail, len)) = over.take() {
                    let mut msg = replacement(&head, &tail, len).to_string();
                    msg.push('\n');
                    output.write_all(msg.as_bytes()).await?;
                } else {
                    output.write_all(&line).await?;
                }
                output.flush().await?;
                line.clear();
                if line.capacity() > 1024 * 1024 {
                    line.shrink_to(64 * 1024);
                }
            }
        }
    }
}

/// The message that stands in for an oversized line of `len` bytes.
fn replacement(head: &[u8], tail: &[u8], len: usize) -> Value {
    match request_id(head, tail) {
        Some(id) => json!({
            "jsonrpc": "2.0",
            "id": id,
            "method": OVERSIZED_METHOD,
            "params": {"bytes": len},
        }),
        None => json!({"jsonrpc": "2.0", "error": "request line over 16 MiB"}),
    }
}

/// The id of a JSON-RPC request from the start and the end of its line: a top-level `"id"`
/// is either the last member (the line ends with `"id":<value>}`) or comes before `"params"`.
fn request_id(head: &[u8], tail: &[u8]) -> Option<Value> {
    let tail = String::from_utf8_lossy(tail);
    let t = tail.trim_end();
    if let Some(body) = t.strip_suffix('}') {
        if let Some(at) = body.rfind("\"id\"") {
            if let Some(v) = id_value(&body[at + 4..]) {
                return Some(v);
            }
        }
    }
    let head = String::from_utf8_lossy(head);
    let at = head.find("\"id\"")?;
    if head.find("\"params\"").is_some_and(|p| p < at) {
        return None;
    }
    let after = &head[at + 4..];
    let rest = after.trim_start().strip_prefix(':')?.trim_start();
    let cut = rest.find([',', '}'])?;
    id_value(&format!(":{}", &rest[..cut]))
}

/// `: <number or string>` (and nothing else) as a JSON-RPC id.
fn id_value(s: &str) -> Option<Value> {
    let v = s.trim_start().strip_prefix(':')?.trim();
    match serde_json::from_str::<Value>(v).ok()? {
        id @ (Value::Number(_) | Value::String(_)) => Some(id),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn run(input: Vec<u8>) -> Vec<String> {
        let mut out = Vec::new();
        filter(&input[..], &mut out).await.unwrap();
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    #[tokio::test]
    async fn oversized_lines_become_error_requests_and_others_pass_whole() {
        let pad = "x".repeat(MAX_LINE);
        let mut input = Vec::new();
        input.extend_from_slice(b"{\"id\":1,\"method\":\"ping\"}\n");
        input.extend_from_slice(
            format!("{{\"id\":\"a\",\"method\":\"m\",\"params\":{{\"p\":\"{pad}\"}}}}\n")
                .as_bytes(),
        );
        input.extend_from_slice(
            format!("{{\"method\":\"m\",\"params\":{{\"id\":3,\"p\":\"{pad}\"}},\"id\":7}}\n")
                .as_bytes(),
        );
        input
            .extend_from_slice(format!("{{\"params\":{{\"id\":3,\"p\":\"{pad}\"}}}}\n").as_bytes());
        input.extend_from_slice(b"{\"id\":2}");
        let lines = run(input).await;
        assert_eq!(lines.len(), 5, "{lines:?}");
        assert_eq!(lines[0], "{\"id\":1,\"method\":\"ping\"}");
        let v: Vec<Value> = lines[1..4]
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(v[0]["id"], "a");
        assert_eq!(v[0]["method"], OVERSIZED_METHOD);
        assert_eq!(v[1]["id"], 7);
        assert!(v[2].get("id").is_none() && v[2].get("method").is_none());
        assert_eq!(lines[4], "{\"id\":2}");
    }
}
