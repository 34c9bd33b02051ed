//! A scripted model server for the conformance suite: the real agent CLIs talk to it on
//! 127.0.0.1 instead of a provider, so their real streams can be recorded and orx's handling of
//! them proven with no network.
//!
//! One server speaks four wire formats, told apart by path: Anthropic Messages
//! (`POST /v1/messages`, Claude Code), OpenAI Responses (`POST /v1/responses`, Codex), OpenAI
//! Chat Completions (`POST /v1/chat/completions`, OpenCode and Qwen Code) and Gemini
//! (`POST /v1beta/models/<m>:streamGenerateContent?alt=sse`, Gemini CLI). What it answers comes
//! from a [`Script`] shared by every connection: a queue of [`Turn`]s. A request that carries the
//! result of the tool call the mock asked for gets the final text of that turn; any other
//! model request takes the next turn from the queue. A [`Turn::Fail`] is sticky (the CLI's
//! retries fail too), so a failure ends the call the way a real outage would. Every request is
//! logged (in memory and, as JSON lines, to a file) so tests can assert which endpoints a CLI
//! hits and whether a later call carried the earlier conversation (a resumed session).
//!
//! Threads, not async: one per connection, on `std::net`, so the mock adds no dependency.

pub mod anthropic;
pub mod chat;
pub mod gemini;
mod http;
pub mod openai;

use std::collections::VecDeque;
use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

/// Tokens every model reply reports (the CLIs sum them over the calls of a turn).
pub const INPUT_TOKENS: u64 = 100;
pub const OUTPUT_TOKENS: u64 = 20;
pub const CACHED_TOKENS: u64 = 10;

/// What the mock does for one model turn.
#[derive(Debug, Clone)]
pub enum Turn {
    /// Ask the CLI's own file tool to write `content` to `path` (relative to the agent's working
    /// directory, which the mock reads from the request), then answer `then` once the tool
    /// result comes back.
    Write {
        path: String,
        content: String,
        then: String,
    },
    /// A final text answer, no tool.
    Text(String),
    /// A failure, repeated for every later request.
    Fail(Failure),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// 401 with the provider's authentication error body.
    Unauthorized,
    /// 429 with `retry-after` and the provider's reset headers (and, for OpenAI, a
    /// `usage_limit_reached` body with `resets_at`), `reset_secs` from now.
    RateLimited { reset_secs: u64 },
    /// 500 with the provider's server error body.
    ServerError,
    /// Read the request, never answer (until the server is dropped).
    Stall,
}

impl Turn {
    pub fn write(path: &str, content: &str, then: &str) -> Turn {
        Turn::Write {
            path: path.into(),
            content: content.into(),
            then: then.into(),
        }
    }
}

/// The default final text when the queue is empty.
pub const DEFAULT_TEXT: &str = "Done.";

#[derive(Default)]
struct Script {
    turns: VecDeque<Turn>,
    /// Final text owed after the tool call of the last `Write` turn.
    after_tool: Option<String>,
    /// How many tool calls were issued (names the call ids).
    calls: u32,
}

/// One logged request.
#[derive(Debug, Clone)]
pub struct Logged {
    pub method: String,
    pub target: String,
    pub body: Value,
}

impl Logged {
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
}

/// What the wire-format modules decide for one request.
pub enum Reply {
    Sse(Vec<String>),
    Json(u16, Vec<(String, String)>, Value),
    Stall,
}

/// What a wire-format module tells the script about one model request.
pub struct Ask {
    /// The request carries the result of a tool call (the CLI ran the tool the mock asked for).
    pub tool_result: bool,
    /// The request declares tools: an agent call (orx's text mode declares read-only ones);
    /// side calls (a title, the next-speaker check) declare none and never take a turn.
    pub declares_tools: bool,
    /// The agent's working directory, when the request names it.
    pub cwd: Option<String>,
}

/// The step a model request gets, resolved against the script.
#[derive(Debug, Clone)]
pub enum Step {
    /// Call the file tool; `id` is unique per call; `path` is absolute when the cwd was found.
    Tool {
        id: String,
        path: String,
        rel: String,
        content: String,
    },
    Text(String),
    Fail(Failure),
}

pub struct MockServer {
    port: u16,
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<Vec<Logged>>>,
    log_path: PathBuf,
}

impl MockServer {
    /// Starts on 127.0.0.1 on a free port; every request is appended to `log_path` as a JSON line.
    pub fn start(turns: Vec<Turn>, log_path: &Path) -> MockServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(Script {
            turns: turns.into(),
            ..Script::default()
        }));
        let server = MockServer {
            port,
            stop: stop.clone(),
            log: log.clone(),
            log_path: log_path.to_path_buf(),
        };
        let log_path = log_path.to_path_buf();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let ctx = Ctx {
                    stop: stop.clone(),
                    log: log.clone(),
                    script: script.clone(),
                    log_path: log_path.clone(),
                };
                std::thread::spawn(move || ctx.serve(conn));
            }
        });
        server
    }

    /// `http://127.0.0.1:<port>`
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn requests(&self) -> Vec<Logged> {
        self.log.lock().unwrap().clone()
    }

    /// The requests that asked for a model turn (not count_tokens or other side calls).
    pub fn model_requests(&self) -> Vec<Logged> {
        self.requests()
            .into_iter()
            .filter(|r| is_model_call(&r.target))
            .collect()
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Every path that was requested, for failure messages.
    pub fn paths(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|r| format!("{} {}", r.method, r.target))
            .collect()
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn is_model_call(target: &str) -> bool {
    let path = target.split('?').next().unwrap_or("");
    (path == "/v1/messages")
        || path == "/v1/responses"
        || path == "/v1/chat/completions"
        || path.ends_with(":streamGenerateContent")
        || path.ends_with(":generateContent")
}

struct Ctx {
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<Vec<Logged>>>,
    script: Arc<Mutex<Script>>,
    log_path: PathBuf,
}

impl Ctx {
    fn serve(&self, conn: TcpStream) {
        let _ = conn.set_read_timeout(Some(Duration::from_secs(120)));
        let Ok(mut w) = conn.try_clone() else { return };
        let mut r = BufReader::new(conn);
        while let Ok(Some(req)) = http::read_request(&mut r) {
            let body: Value = serde_json::from_slice(&req.body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&req.body).into_owned()));
            self.record(&req, &body);
            let reply = self.answer(&req, &body);
            let ok = match reply {
                Reply::Sse(events) => http::write_sse(&mut w, &events).is_ok(),
                Reply::Json(status, headers, v) => {
                    http::write_json(&mut w, status, &headers, &v).is_ok()
                }
                Reply::Stall => {
                    while !self.stop.load(Ordering::SeqCst) {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    false
                }
            };
            if !ok || req.wants_close() || self.stop.load(Ordering::SeqCst) {
                break;
            }
        }
    }

    fn record(&self, req: &http::Request, body: &Value) {
        let line = serde_json::json!({
            "method": req.method,
            "target": req.target,
            "headers": req.headers.iter().map(|(k, v)| {
                // Keys are fake, but keep the log free of anything that looks like one.
                let v = if k.eq_ignore_ascii_case("authorization") || k.eq_ignore_ascii_case("x-api-key")
                    || k.eq_ignore_ascii_case("x-goog-api-key") { "<redacted>".to_string() } else { v.clone() };
                (k.clone(), Value::String(v))
            }).collect::<serde_json::Map<_, _>>(),
            "body": body,
        });
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
        {
            let _ = writeln!(f, "{line}");
        }
        self.log.lock().unwrap().push(Logged {
            method: req.method.clone(),
            target: req.target.clone(),
            body: body.clone(),
        });
    }

    fn answer(&self, req: &http::Request, body: &Value) -> Reply {
        let path = req.path();
        if path == "/v1/messages" {
            return anthropic::reply(body, |ask| self.step(ask));
        }
        if path == "/v1/messages/count_tokens" {
            return Reply::Json(
                200,
                vec![],
                serde_json::json!({"input_tokens": INPUT_TOKENS}),
            );
        }
        if path == "/v1/responses" {
            return openai::reply(body, |ask| self.step(ask));
        }
        if path == "/v1/chat/completions" {
            return chat::reply(body, |ask| self.step(ask));
        }
        if path.starts_with("/v1beta/models/") {
            return gemini::reply(path, body, |ask| self.step(ask));
        }
        Reply::Json(
            404,
            vec![],
            serde_json::json!({"error": {"code": 404, "message": format!("the mock does not serve {path}")}}),
        )
    }

    /// Resolves the script for one model request.
    fn step(&self, ask: Ask) -> Step {
        let mut s = self.script.lock().unwrap();
        if let Some(Turn::Fail(f)) = s.turns.front() {
            return Step::Fail(*f);
        }
        if ask.tool_result {
            if let Some(text) = s.after_tool.take() {
                return Step::Text(text);
            }
        }
        if !ask.declares_tools {
            // A side call (title, next-speaker check…): it must not eat a scripted turn.
            return Step::Text(DEFAULT_TEXT.into());
        }
        let cwd = ask.cwd;
        match s.turns.pop_front() {
            None => Step::Text(DEFAULT_TEXT.into()),
            Some(Turn::Text(t)) => Step::Text(t),
            Some(Turn::Fail(f)) => Step::Fail(f),
            Some(Turn::Write {
                path,
                content,
                then,
            }) => {
                s.calls += 1;
                s.after_tool = Some(then);
                let abs = match cwd {
                    Some(dir) => format!("{}/{path}", dir.trim_end_matches('/')),
                    None => path.clone(),
                };
                Step::Tool {
                    id: format!("orxmock{}", s.calls),
                    path: abs,
                    rel: path,
                    content,
                }
            }
        }
    }
}

/// The text after `marker` up to the end of its line, searched in every string of `v`.
pub fn find_line_after(v: &Value, marker: &str) -> Option<String> {
    match v {
        Value::String(s) => s.find(marker).map(|i| {
            let rest = &s[i + marker.len()..];
            rest.split(['\n', '<'])
                .next()
                .unwrap_or("")
                .trim()
                .to_string()
        }),
        Value::Array(a) => a.iter().find_map(|x| find_line_after(x, marker)),
        Value::Object(o) => o.values().find_map(|x| find_line_after(x, marker)),
        _ => None,
    }
}

/// Unix seconds now.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The 429 headers every provider's clients look at, `secs` from now.
pub fn rate_limit_headers(secs: u64) -> Vec<(String, String)> {
    let at = std::time::SystemTime::now() + Duration::from_secs(secs);
    let rfc = humantime::format_rfc3339_seconds(at).to_string();
    vec![
        ("retry-after".into(), secs.to_string()),
        ("anthropic-ratelimit-requests-reset".into(), rfc.clone()),
        ("anthropic-ratelimit-tokens-reset".into(), rfc),
        (
            "anthropic-ratelimit-unified-reset".into(),
            (now_secs() + secs).to_string(),
        ),
        ("x-ratelimit-reset-requests".into(), format!("{secs}s")),
        ("x-ratelimit-reset-tokens".into(), format!("{secs}s")),
    ]
}
