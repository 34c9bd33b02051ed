//! Throughput of the secret scan (`guard::secrets::find`) alone, line by line over a 64 MiB
//! corpus of the lines the redactor sees most (stream-json, code, logs, test output), best of
//! five passes. Built outside the crate so two versions of `secrets.rs` can be compared side
//! by side: see docs/BENCHMARKS.md ("Secret scan with the wider rule set") for the commands.
//!
//! Each pass is timed twice: by the wall clock, and by the time this thread spent on a CPU
//! (`/proc/thread-self/schedstat`, nanoseconds), which a loaded machine inflates far less, since
//! time spent waiting for a CPU is not counted.
#![allow(dead_code)]
#[path = "../secrets_impl.rs"]
mod secrets;

#[derive(Debug)]
pub struct Violation {
    pub kind: ViolationKind,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub detail: String,
}
#[derive(Debug, Clone, Copy)]
pub enum ViolationKind {
    PathForbidden,
    PathNotAllowed,
    TooManyFiles,
    Secret,
    EnvFile,
    Unscannable,
}

fn main() {
    let lines = [
        r#"{"type":"assistant","message":{"content":[{"type":"text","text":"I will update src/app.py to read the API key from the environment. Next, run the tests."}]},"session_id":"abc-123","usage":{"input_tokens":1234,"output_tokens":56}}"#,
        "    def handle_request(self, request: Request) -> Response: return self.client.get(url=f\"https://api.example.com/v1/items/{item_id}\", timeout=30)",
        "2026-11-21T12:00:59.123Z INFO  server::conn: accepted connection from 127.0.0.1:53211 (keep-alive), path=/api/runs/20261121-120059-a1b2c3/events",
        "tests/test_app.py::test_parse_config PASSED                                   [ 42%] AssertionError: expected 3 == 4; KeyError: 'SKIP'",
        "+import os, sys, json; from typing import Any, Dict; JWT_ALG = 'HS256'; TOKEN_TTL = 3600; Jinja.Environment(loader=FileSystemLoader('.'))",
    ];
    let mut corpus = String::new();
    while corpus.len() < 64 * 1024 * 1024 {
        for l in &lines {
            corpus.push_str(l);
            corpus.push('\n');
        }
    }
    let per_line: Vec<&str> = corpus.lines().collect();
    let (mut best, mut best_cpu) = (f64::MAX, f64::MAX);
    for _ in 0..5 {
        let (t, cpu) = (std::time::Instant::now(), cpu_seconds());
        let mut n = 0;
        for l in &per_line {
            n += secrets::find(l).len();
        }
        std::hint::black_box(n);
        best = best.min(t.elapsed().as_secs_f64());
        best_cpu = best_cpu.min(cpu_seconds() - cpu);
    }
    println!(
        "{:.0} MiB/s (best of 5, 64 MiB, line by line); {:.0} MiB/s of CPU time",
        64.0 / best,
        64.0 / best_cpu
    );
}

/// The time this thread has spent on a CPU, in seconds (the first field of its schedstat).
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(f64::NAN, |ns| ns / 1e9)
}
