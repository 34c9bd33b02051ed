//! `orx mcp` driven as an MCP client would: a real `orx mcp` process, raw JSON-RPC lines on
//! its stdin and stdout, real runs of the fake engine launched through it in a temp repository.
//! Every stdout line must be a JSON-RPC message (stdout belongs to the protocol).

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc;
use std::time::Instant;

use serde_json::{json, Value};

use crate::support::*;
use crate::waiting::{until, until_ok, Hold, SAFETY_BOUND};

pub(crate) struct Mcp {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
    next_id: u64,
}

/// The standard scenario's config plus `extra`, with the scenario named in orx.yaml (the
/// server's launched runs get no --scenario flag).
fn mcp_repo(extra: &str) -> Repo {
    let config = standard_config(extra).replace(
        "  type: fake\n",
        "  type: fake\n  scenario: scenario.yaml\n",
    );
    Repo::new(&config, &standard_scenario(0))
}

impl Mcp {
    pub(crate) fn start(repo: &Repo) -> Mcp {
        let mut child = repo
            .cmd(&["mcp"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("orx mcp starts");
        let stdout = child.stdout.take().unwrap();
        let errout = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (etx, stderr) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(errout).lines().map_while(|l| l.ok()) {
                let _ = etx.send(line);
            }
        });
        let stdin = child.stdin.take();
        let mut m = Mcp {
            child,
            stdin,
            lines,
            stderr,
            next_id: 1,
        };
        let init = m.request(
            "initialize",
            json!({
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "orx-it", "version": "0"}
            }),
        );
        assert_eq!(init["result"]["serverInfo"]["name"], "orx", "{init}");
        assert!(
            init["result"]["capabilities"]["tools"].is_object(),
            "{init}"
        );
        let instructions = init["result"]["instructions"].as_str().unwrap_or("");
        for word in ["run_submit", "run_status", "run_artifact", "workspace_sync"] {
            assert!(instructions.contains(word), "{instructions}");
        }
        m.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        m
    }

    fn send(&mut self, msg: Value) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{msg}").expect("write to orx mcp");
        stdin.flush().unwrap();
    }

    fn stderr_text(&self) -> String {
        self.stderr.try_iter().collect::<Vec<_>>().join("\n")
    }

    /// Send a request and wait for its response; every line read must be JSON-RPC.
    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        let deadline = Instant::now() + SAFETY_BOUND;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.lines.recv_timeout(left).unwrap_or_else(|_| {
                panic!(
                    "no answer to {method} within {SAFETY_BOUND:?}; stderr:\n{}",
                    self.stderr_text()
                )
            });
            let msg: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line:?}"));
            assert_eq!(msg["jsonrpc"], "2.0", "not JSON-RPC: {line}");
            if msg["id"] == json!(id) {
                return msg;
            }
        }
    }

    /// `tools/call`; returns the result (a protocol error fails the test).
    fn call(&mut self, tool: &str, args: Value) -> Value {
        let r = self.request("tools/call", json!({"name": tool, "arguments": args}));
        assert!(
            r.get("error").is_none(),
            "{tool} gave a protocol error, not a tool result: {r}"
        );
        r["result"].clone()
    }

    pub(crate) fn ok(&mut self, tool: &str, args: Value) -> Value {
        let r = self.call(tool, args.clone());
        assert_eq!(r["isError"], false, "{tool} {args} failed: {r}");
        r["structuredContent"].clone()
    }

    /// A tool error's text.
    fn err(&mut self, tool: &str, args: Value) -> String {
        let r = self.call(tool, args.clone());
        assert_eq!(r["isError"], true, "{tool} {args} should fail: {r}");
        r["content"][0]["text"].as_str().unwrap().to_string()
    }

    /// Re-read run_status until the status is one of `want` and the run's process is gone
    /// (it records the final status before it lets go of the run).
    fn wait_for(&mut self, id: &str, want: &[&str]) -> Value {
        until_ok(&format!("run {id} to be one of {want:?}, not live"), || {
            let st = self.ok("run_status", json!({"run_id": id}));
            let s = st["status"].as_str().unwrap().to_string();
            let wanted = want.contains(&s.as_str());
            if wanted && st["live"] == false {
                return Ok(st);
            }
            assert!(
                wanted
                    || s == "running"
                    || s == "waiting"
                    || s == "interrupted" && st["live"] == true,
                "unexpected status {s}: {st}"
            );
            Err(st.to_string())
        })
    }

    /// Close stdin: the server must exit 0 (waited for; a hang fails at the safety bound).
    pub(crate) fn close(mut self) {
        drop(self.stdin.take());
        let status = until("orx mcp to exit after stdin closed", || {
            self.child.try_wait().unwrap()
        });
        assert_eq!(
            status.code(),
            Some(0),
            "orx mcp exit; stderr:\n{}",
            self.stderr_text()
        );
    }
}

impl Drop for Mcp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn mcp_submits_a_run_polls_it_reads_its_patch_and_syncs() {
    let repo = mcp_repo("");
    let mut m = Mcp::start(&repo);

    let tools = m.request("tools/list", json!({}));
    let list = tools["result"]["tools"].as_array().expect("tools");
    let mut names: Vec<&str> = list.iter().map(|t| t["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "run_approve",
            "run_artifact",
            "run_cancel",
            "run_events",
            "run_list",
            "run_reject",
            "run_resume",
            "run_status",
            "run_submit",
            "workspace_sync"
        ]
    );
    let submit = list.iter().find(|t| t["name"] == "run_submit").unwrap();
    assert_eq!(submit["inputSchema"]["type"], "object");
    assert_eq!(submit["inputSchema"]["required"], json!(["task"]));
    assert!(submit["inputSchema"]["properties"]["base_branch"].is_object());

    let sub = m.ok("run_submit", json!({"task": "Add add() and mul()"}));
    let id = sub["run_id"].as_str().expect("run_id").to_string();
    assert!(repo.run_dir(&id).join("state.json").is_file());

    let st = m.wait_for(&id, &["succeeded", "failed"]);
    assert_eq!(st["status"], "succeeded", "{st}");
    assert_eq!(st["live"], false);
    assert!(st["next"].as_str().unwrap().contains("\"patch\""), "{st}");
    let stages = st["stages"].as_array().unwrap();
    assert!(stages.len() >= 7, "{st}");
    assert!(stages.iter().all(|s| s["status"] == "done"), "{st}");
    assert_eq!(st["items"].as_array().unwrap().len(), 2);
    assert!(st["failure"].is_null());

    // Events since a cursor: the whole history, then nothing new after `next`.
    let ev = m.ok(
        "run_events",
        json!({"run_id": id, "since": 0, "limit": 1000}),
    );
    let events = ev["events"].as_array().unwrap();
    assert_eq!(events[0]["event"], "run_started", "{ev}");
    let next = ev["next"].as_u64().unwrap();
    assert!(
        next >= events.len() as u64 && ev["finished"] == true,
        "{ev}"
    );
    let more = m.ok("run_events", json!({"run_id": id, "since": next}));
    assert_eq!(more["events"], json!([]));
    assert_eq!(more["next"], next);
    let two = m.ok("run_events", json!({"run_id": id, "since": 0, "limit": 2}));
    assert_eq!(two["events"].as_array().unwrap().len(), 2);

    // The patch, the plan, a page of the patch, and the file list.
    let patch = m.call("run_artifact", json!({"run_id": id, "path": "patch"}));
    let text = patch["content"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("+def mul(a, b):") && text.contains("calc.py"),
        "{text}"
    );
    assert_eq!(text, repo.read(&id, "artifacts/patch.diff"));
    assert_eq!(patch["structuredContent"]["path"], "artifacts/patch.diff");
    let plan = m.call("run_artifact", json!({"run_id": id, "path": "plan"}));
    assert!(plan["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("# Plan"));
    let review = m.call("run_artifact", json!({"run_id": id, "path": "review"}));
    assert_eq!(review["isError"], false, "{review}");
    let page = m.call(
        "run_artifact",
        json!({"run_id": id, "path": "artifacts/patch.diff", "offset": 0, "length": 10}),
    );
    assert_eq!(page["content"][0]["text"].as_str().unwrap(), &text[..10]);
    assert_eq!(page["structuredContent"]["next_offset"], 10);
    let rest = m.call(
        "run_artifact",
        json!({"run_id": id, "path": "artifacts/patch.diff", "offset": 10, "length": 1_000_000}),
    );
    assert_eq!(rest["content"][0]["text"].as_str().unwrap(), &text[10..]);
    assert!(rest["structuredContent"]["next_offset"].is_null());
    let files = m.ok("run_artifact", json!({"run_id": id}));
    let paths: Vec<&str> = files["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(
        paths.contains(&"artifacts/patch.diff") && paths.contains(&"context/plan.md"),
        "{paths:?}"
    );
    assert!(!paths.contains(&"lock"));

    // workspace_sync: the branch, what changed, and how to merge it.
    let sync = m.ok("workspace_sync", json!({"run_id": id}));
    let branch = format!("orx/{id}");
    assert_eq!(sync["branch"], branch.as_str());
    assert!(sync["commits_ahead"].as_u64().unwrap() >= 2, "{sync}");
    let changed: Vec<&str> = sync["files_changed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(
        changed.contains(&"calc.py") && changed.contains(&"mul.py"),
        "{changed:?}"
    );
    let merge = format!("git merge --ff-only {branch}");
    assert!(
        sync["commands"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == merge.as_str()),
        "{sync}"
    );
    assert_eq!(
        sync["head_sha"].as_str().unwrap(),
        git(repo.path(), &["rev-parse", &branch])
    );

    let listed = m.ok("run_list", json!({}));
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["runs"][0]["run_id"], id.as_str());
    assert_eq!(listed["runs"][0]["status"], "succeeded");
    let none = m.ok("run_list", json!({"status": "failed"}));
    assert_eq!(none["total"], 0);

    // Errors are tool results with one clear sentence, never protocol errors.
    let unknown = m.err("run_status", json!({"run_id": "20990101-000000-abcdef"}));
    assert!(
        unknown.contains("unknown run id") && unknown.contains("run_list"),
        "{unknown}"
    );
    assert!(m
        .err("run_status", json!({"run_id": "../../etc"}))
        .contains("is not a run id"));
    for bad in [
        "../../../etc/passwd",
        "/etc/passwd",
        "context/../../other/state.json",
    ] {
        let e = m.err("run_artifact", json!({"run_id": id, "path": bad}));
        assert!(e.contains("is refused"), "{bad}: {e}");
    }
    std::os::unix::fs::symlink("/etc/passwd", repo.run_dir(&id).join("artifacts/leak")).unwrap();
    let e = m.err(
        "run_artifact",
        json!({"run_id": id, "path": "artifacts/leak"}),
    );
    assert!(e.contains("outside the run folder"), "{e}");
    assert!(m
        .err("run_artifact", json!({"run_id": id, "path": "lock"}))
        .contains("no artifact"));
    assert!(m
        .err(
            "run_artifact",
            json!({"run_id": id, "path": "plan", "offset": 1_000_000})
        )
        .contains("past the end"));
    assert!(m
        .err("run_cancel", json!({"run_id": id}))
        .contains("already ended (succeeded)"));
    assert!(m
        .err("run_resume", json!({"run_id": id}))
        .contains("already finished"));
    assert!(m
        .err("run_submit", json!({"task": "x", "engine": "nope"}))
        .contains("unknown engine `nope`"));
    assert!(m
        .err("run_submit", json!({"task": "   "}))
        .contains("the task is empty"));
    assert!(m
        .err(
            "run_submit",
            json!({"task": "x", "base_branch": "no-such-branch"})
        )
        .contains("does not exist"));
    assert!(m
        .err("run_submit", json!({}))
        .contains("failed to deserialize parameters"));
    assert!(m
        .err("run_status", json!({"run_id": 5}))
        .contains("failed to deserialize parameters"));
    assert!(m
        .err("run_status", json!({"run_id": id, "extra": 1}))
        .contains("failed to deserialize parameters"));
    assert!(m.err("no_such_tool", json!({})).contains("no tool named"));
    // Only the one run exists: the refused submissions started nothing.
    assert_eq!(m.ok("run_list", json!({}))["total"], 1);
    m.close();
}

#[test]
fn mcp_cancels_and_resumes_and_runs_outlive_the_server() {
    // Held at the start of spec, the run is live when the cancel arrives, whatever the load.
    let hold = Hold::new();
    let repo = mcp_repo(&hold.hooks("spec"));
    let mut m = Mcp::start(&repo);
    let id = m.ok("run_submit", json!({"task": "Add add() and mul()"}))["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    hold.wait(&id);
    let r = m.ok("run_cancel", json!({"run_id": id}));
    assert_eq!(r["signal"], "SIGINT", "{r}");
    let st = m.wait_for(&id, &["interrupted"]);
    assert_eq!(st["live"], false, "{st}");
    assert!(st["next"].as_str().unwrap().contains("run_resume"), "{st}");

    // Resume through the server, then close the server at once: the run goes on.
    hold.release();
    let r = m.ok("run_resume", json!({"run_id": id}));
    assert_eq!(r["run_id"], id.as_str());
    m.close();
    until_ok("the resumed run to finish after the server left", || {
        let st = repo.state(&id);
        if st["status"] == "succeeded" {
            Ok(())
        } else {
            Err(st["status"].to_string())
        }
    });
    assert!(repo
        .read(&id, "artifacts/patch.diff")
        .contains("+def mul(a, b):"));
    // A new server sees the finished run.
    let mut m = Mcp::start(&repo);
    let st = m.ok("run_status", json!({"run_id": id}));
    assert_eq!(st["status"], "succeeded");
    assert!(st["resumes"].as_u64().unwrap() >= 1, "{st}");
    m.close();
}

#[test]
fn mcp_never_reads_through_a_symlinked_run_folder_or_serves_the_lock() {
    let repo = mcp_repo("");
    let run = repo.run("add and mul", &[]);
    run.expect_code(0);
    let fake = "20260101-000000-cccccc";
    std::os::unix::fs::symlink("/", repo.path().join("runs").join(fake)).unwrap();
    let mut m = Mcp::start(&repo);
    for path in ["etc/passwd", "./etc/passwd"] {
        let e = m.err("run_artifact", json!({"run_id": fake, "path": path}));
        assert!(e.contains("unknown run id"), "{path}: {e}");
        assert!(!e.contains("root:"), "{e}");
    }
    let e = m.err("run_artifact", json!({"run_id": fake}));
    assert!(e.contains("unknown run id"), "{e}");
    for path in ["./lock", "lock/", "././lock"] {
        let e = m.err("run_artifact", json!({"run_id": run.id, "path": path}));
        assert!(
            e.contains("no artifact") || e.contains("refused"),
            "{path}: {e}"
        );
    }
    m.close();
}

#[test]
fn mcp_answers_a_request_line_over_16_mib_with_an_error_and_stays_alive() {
    let repo = mcp_repo("");
    let mut m = Mcp::start(&repo);
    let pad = "x".repeat(17 * 1024 * 1024);
    // The id first (serde_json's order) and the id last (the TypeScript SDK's order).
    let lines = [
        (
            41,
            format!(
                r#"{{"id":41,"jsonrpc":"2.0","method":"tools/call","params":{{"name":"run_list","arguments":{{"pad":"{pad}"}}}}}}"#
            ),
        ),
        (
            42,
            format!(
                r#"{{"method":"tools/call","params":{{"name":"run_list","arguments":{{"id":9,"pad":"{pad}"}}}},"jsonrpc":"2.0","id":42}}"#
            ),
        ),
    ];
    for (id, line) in lines {
        let stdin = m.stdin.as_mut().unwrap();
        stdin.write_all(line.as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
        let answer = loop {
            let l = m
                .lines
                .recv_timeout(std::time::Duration::from_secs(60))
                .expect("an answer to the oversized request");
            let v: Value = serde_json::from_str(&l).unwrap();
            if v["id"] == json!(id) {
                break v;
            }
        };
        let msg = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(msg.contains("16 MiB"), "{answer}");
    }
    // Still alive and answering.
    assert_eq!(m.ok("run_list", json!({}))["total"], 0);
    m.close();
}

#[test]
fn mcp_submits_a_run_that_stops_for_approval_and_approves_it() {
    let repo = mcp_repo("");
    let mut m = Mcp::start(&repo);
    let id = m.ok(
        "run_submit",
        json!({"task": "Add add() and mul()", "approve": ["spec"], "parallel": 2}),
    )["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let st = m.wait_for(&id, &["awaiting_approval"]);
    assert_eq!(st["stage"], "spec", "{st}");
    assert_eq!(repo.state(&id)["max_parallel"], 2);
    assert!(m
        .err("run_submit", json!({"task": "x", "approve": ["verify"]}))
        .contains("not a stage a run can stop after"));
    m.ok("run_approve", json!({"run_id": id}));
    // The approving process holds the run when run_approve answers; until it records its
    // own status the run still reads awaiting_approval.
    until_ok("the approved run to succeed", || {
        let st = m.ok("run_status", json!({"run_id": id}));
        if st["status"] == "succeeded" && st["live"] == false {
            Ok(())
        } else {
            Err(st.to_string())
        }
    });
    m.close();
}
