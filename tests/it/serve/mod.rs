//! `orx serve` end to end: a real server process (`--port 0`) on a temporary repository, driven
//! over 127.0.0.1 with the tiny client in `client.rs`; runs are real `orx run` processes on the
//! fake engine.

mod api;
mod approval;
pub mod client;
mod security;
mod ui;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};

use client::{request, Resp};

use crate::support::{standard_config, standard_scenario, Repo, ORX};
use crate::waiting::{until_ok, Hold, SAFETY_BOUND};

/// A running `orx serve`; killed and reaped on drop.
pub struct Server {
    child: Child,
    _stdout: BufReader<ChildStdout>,
    pub port: u16,
    pub token: Option<String>,
}

impl Server {
    pub fn start(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
        Self::start_cmd(Command::new(ORX), dir, args, env)
    }

    /// Start it with at most `nofile` open files (`ulimit -n`), as on a machine whose limit an
    /// attacker can reach.
    pub fn start_limited(dir: &Path, args: &[&str], nofile: u32) -> Server {
        let mut cmd = Command::new("sh");
        cmd.args([
            "-c",
            &format!("ulimit -n {nofile} && exec \"$0\" \"$@\""),
            ORX,
        ]);
        Self::start_cmd(cmd, dir, args, &[])
    }

    fn start_cmd(mut cmd: Command, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
        cmd.arg("serve")
            .args(["--port", "0"])
            .args(args)
            .current_dir(dir)
            .env_remove("RUST_LOG")
            .env_remove("ORX_SERVE_TOKEN")
            .env("CI", "true")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("orx serve starts");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let addr = line
            .trim()
            .strip_prefix("orx serve: listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        let port: u16 = addr.rsplit(':').next().unwrap().parse().unwrap();
        let mut token = None;
        if !args.iter().any(|a| a.starts_with("127.")) && args.contains(&"--bind") {
            let mut l2 = String::new();
            out.read_line(&mut l2).unwrap();
            token = l2
                .trim()
                .strip_prefix("orx serve: token ")
                .and_then(|t| t.split_whitespace().next())
                .map(String::from);
        }
        Server {
            child,
            _stdout: out,
            port,
            token,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn req(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Resp {
        request(self.port, method, target, headers, body, SAFETY_BOUND)
    }

    pub fn get(&self, target: &str) -> Resp {
        self.req("GET", target, &[], None)
    }

    pub fn post(&self, target: &str, body: &serde_json::Value) -> Resp {
        let b = body.to_string();
        self.req(
            "POST",
            target,
            &[("Content-Type", "application/json")],
            Some(b.as_bytes()),
        )
    }

    /// POST a dashboard form (`application/x-www-form-urlencoded`) from the dashboard's own
    /// origin, as a browser on the page would.
    pub fn post_form(&self, target: &str, body: &str) -> Resp {
        let origin = format!("http://127.0.0.1:{}", self.port);
        self.req(
            "POST",
            target,
            &[
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Origin", &origin),
            ],
            Some(body.as_bytes()),
        )
    }

    /// Re-read GET /api/runs/{id} until `pred` holds (no deadline but the safety bound).
    pub fn wait_run(
        &self,
        id: &str,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        until_ok(&format!("run {id} to reach the expected state"), || {
            let r = self.get(&format!("/api/runs/{id}"));
            if r.status != 200 {
                return Err(format!("status {} {}", r.status, r.text()));
            }
            let v = r.json();
            if pred(&v) {
                Ok(v)
            } else {
                Err(v.to_string())
            }
        })
    }

    /// SIGKILL the server (the runs it started must not care).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// orx.yaml with `extra` appended, pointing the fake engine at scenario.yaml (so runs started
/// over the API need no extra flags).
fn serve_config(extra: &str) -> String {
    standard_config(extra).replacen(
        "  type: fake\n",
        "  type: fake\n  scenario: scenario.yaml\n",
        1,
    )
}

/// A repository for the server, each agent step taking `delay_ms`.
pub fn serve_repo(delay_ms: u64) -> Repo {
    Repo::new(&serve_config(""), &standard_scenario(delay_ms))
}

/// A repository for the server whose runs `hold` keeps at the start of `stage`.
pub fn serve_repo_held(hold: &Hold, stage: &str) -> Repo {
    Repo::new(&serve_config(&hold.hooks(stage)), &standard_scenario(0))
}

/// Wait until no process holds run `id` (a run a test started must be over before its
/// temporary repository goes away).
pub fn wait_not_live(s: &Server, id: &str) {
    s.wait_run(id, |v| v["live"] == false);
}
