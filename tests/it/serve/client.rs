//! A tiny blocking HTTP/1.1 client over `TcpStream` (no new crates): one request per
//! connection (`Connection: close`), the body read to the end and de-chunked. Enough to drive
//! `orx serve` from the tests, SSE included (the server closes the stream after `end`);
//! [`Streaming`] reads a live stream piece by piece, so a test can wait for an event in it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}), status {}: {}", self.status, self.text()))
    }
}

/// Send one request to 127.0.0.1:`port`. `headers` may override Host.
pub fn request(
    port: u16,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
    timeout: Duration,
) -> Resp {
    Streaming::open(port, method, target, headers, body, timeout).finish()
}

/// A response read as it arrives (an SSE stream of a live run): the test can wait for a part
/// of it, act, and then read the rest.
pub struct Streaming {
    s: TcpStream,
    raw: Vec<u8>,
    target: String,
}

impl Streaming {
    /// Send the request; nothing of the answer is read yet.
    pub fn open(
        port: u16,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
        timeout: Duration,
    ) -> Streaming {
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to orx serve");
        s.set_read_timeout(Some(timeout)).unwrap();
        let mut req = format!("{method} {target} HTTP/1.1\r\n");
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
            req.push_str(&format!("Host: 127.0.0.1:{port}\r\n"));
        }
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("Connection: close\r\n");
        if let Some(b) = body {
            req.push_str(&format!("Content-Length: {}\r\n", b.len()));
        }
        req.push_str("\r\n");
        let mut bytes = req.into_bytes();
        if let Some(b) = body {
            bytes.extend_from_slice(b);
        }
        s.write_all(&bytes).unwrap();
        Streaming {
            s,
            raw: Vec::new(),
            target: target.to_string(),
        }
    }

    /// Read one piece; false at the end of the response.
    fn read_some(&mut self) -> bool {
        let mut buf = [0u8; 16384];
        match self.s.read(&mut buf) {
            Ok(0) => false,
            Ok(n) => {
                self.raw.extend_from_slice(&buf[..n]);
                true
            }
            Err(e) => panic!(
                "reading {}: {e} after {} bytes: {}",
                self.target,
                self.raw.len(),
                String::from_utf8_lossy(&self.raw)
            ),
        }
    }

    /// Read until the (de-chunked) body so far contains `needle`.
    pub fn wait_for(&mut self, needle: &str) {
        loop {
            let head_done = self.raw.windows(4).any(|w| w == b"\r\n\r\n");
            if head_done && parse(&self.raw).text().contains(needle) {
                return;
            }
            assert!(
                self.read_some(),
                "{} ended without {needle:?}: {}",
                self.target,
                String::from_utf8_lossy(&self.raw)
            );
        }
    }

    /// Read to the end and parse the whole response.
    pub fn finish(mut self) -> Resp {
        while self.read_some() {}
        parse(&self.raw)
    }
}

fn parse(raw: &[u8]) -> Resp {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        body = dechunk(&body);
    }
    Resp {
        status,
        headers,
        body,
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&b[..eol]);
        let size =
            usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap_or(0);
        b = &b[eol + 2..];
        if size == 0 || b.len() < size {
            out.extend_from_slice(&b[..b.len().min(size)]);
            break;
        }
        out.extend_from_slice(&b[..size]);
        b = &b[(size + 2).min(b.len())..];
    }
    out
}

/// One server-sent event.
#[derive(Debug, Clone, Default)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: String,
}

/// Parse an SSE body into events (comments and keep-alives skipped).
pub fn parse_sse(text: &str) -> Vec<SseEvent> {
    let mut out = Vec::new();
    let mut cur = SseEvent::default();
    let mut any = false;
    for line in text.lines() {
        if line.is_empty() {
            if any {
                out.push(std::mem::take(&mut cur));
            }
            any = false;
            continue;
        }
        if line.starts_with(':') {
            continue;
        }
        let (k, v) = line.split_once(':').unwrap_or((line, ""));
        let v = v.strip_prefix(' ').unwrap_or(v);
        any = true;
        match k {
            "id" => cur.id = Some(v.to_string()),
            "event" => cur.event = Some(v.to_string()),
            "data" => {
                if !cur.data.is_empty() {
                    cur.data.push('\n');
                }
                cur.data.push_str(v);
            }
            _ => {}
        }
    }
    if any {
        out.push(cur);
    }
    out
}
