//! The REST API against a real server: listing, starting, following, reading, cancelling,
//! resuming and cleaning runs, and runs that outlive the server.

use serde_json::{json, Value};

use super::client::{parse_sse, request, Streaming};
use super::{serve_repo, serve_repo_held, wait_not_live, Server};
use crate::waiting::{Hold, SAFETY_BOUND};

/// A run folder with only a meta.json (what listings read) and the lock file that makes a
/// folder a run.
fn seed_meta(root: &std::path::Path, id: &str, status: &str, engine: &str, task: &str) {
    let d = root.join("runs").join(id);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("lock"), "").unwrap();
    let meta = json!({
        "version": 1, "run_id": id, "task": task, "status": status, "stage": null, "item": null,
        "branch": format!("orx/{id}"), "base_branch": "main", "engine": engine,
        "pipeline": "full", "created_at": format!("2020-01-01T00:00:{}Z", &id[id.len()-2..]),
        "updated_at": "2020-01-01T00:00:00Z", "finished_at": null, "orx_version": "0.1.0"
    });
    std::fs::write(d.join("meta.json"), meta.to_string()).unwrap();
}

fn ids(v: &Value) -> Vec<String> {
    v["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn runs_are_listed_filtered_and_paginated_newest_first() {
    let repo = serve_repo(0);
    repo.run("add and mul", &[]).expect_code(0);
    repo.run("second task", &[]).expect_code(0);
    for i in 10..22 {
        seed_meta(
            repo.path(),
            &format!("20200101-000000-old0{i}"),
            "failed",
            "claude",
            &format!("old {i}"),
        );
    }
    std::fs::create_dir_all(repo.path().join("runs/.launch")).unwrap();
    let s = Server::start(repo.path(), &[], &[]);

    let all = s.get("/api/runs").json();
    assert_eq!(all["total"], 14, "{all}");
    assert_eq!(all["limit"], 50);
    let listed = ids(&all);
    assert!(
        // Two runs started in the same second share an id's time part and are told apart
        // by a random suffix, so only the time part orders them.
        listed[0][..15] >= listed[1][..15] && listed[1] > listed[2],
        "newest first: {listed:?}"
    );
    assert_eq!(all["runs"][0]["task"], "second task");
    assert_eq!(all["runs"][0]["status"], "succeeded");

    let p1 = s.get("/api/runs?limit=5").json();
    let p3 = s.get("/api/runs?limit=5&offset=10").json();
    assert_eq!(ids(&p1), listed[..5]);
    assert_eq!(ids(&p3), listed[10..]);
    assert_eq!(p3["total"], 14);

    assert_eq!(s.get("/api/runs?status=succeeded").json()["total"], 2);
    assert_eq!(
        s.get("/api/runs?engine=claude&status=failed").json()["total"],
        12
    );
    let q = s.get("/api/runs?q=SECOND").json();
    assert_eq!(q["total"], 1);
    assert_eq!(q["runs"][0]["task"], "second task");
    assert_eq!(s.get("/api/runs?q=old%2011").json()["total"], 1);

    let bad = s.get("/api/runs?limit=abc");
    assert_eq!(bad.status, 400);
    assert!(bad.json()["error"].as_str().unwrap().contains("query"));
    let nope = s.get("/api/runs?repo=nope");
    assert_eq!(nope.status, 404);
    assert!(nope.json()["hint"]
        .as_str()
        .unwrap()
        .contains("served repositories"));
    assert_eq!(s.get("/api/runs/20200101-000000-nothere").status, 404);
    assert_eq!(s.get("/api/nothing").status, 404);
}

#[test]
fn a_run_started_over_the_api_succeeds_and_its_events_files_and_diff_are_served() {
    let repo = serve_repo(0);
    let s = Server::start(repo.path(), &[], &[]);

    // Bad input is refused before anything starts.
    for (body, code, needle) in [
        (json!({"task": "  "}), 400, "empty"),
        (
            json!({"task": "x", "engine": "nope"}),
            400,
            "unknown engine",
        ),
        (
            json!({"task": "x", "base_branch": "no-such-branch"}),
            400,
            "does not exist",
        ),
        (json!({"task": "x", "colour": "red"}), 422, "unknown field"),
        (json!({"task": "x", "pipeline": "nope"}), 400, "nope"),
    ] {
        let r = s.post("/api/runs", &body);
        assert_eq!(r.status, code, "{body}: {}", r.text());
        assert!(
            r.json()["error"].as_str().unwrap().contains(needle),
            "{body}: {}",
            r.text()
        );
    }
    assert_eq!(s.get("/api/runs").json()["total"], 0, "nothing was created");

    let r = s.post(
        "/api/runs",
        &json!({"task": "@/etc/passwd is not read: add and mul", "engine": "fake", "base_branch": "main"}),
    );
    assert_eq!(r.status, 202, "{}", r.text());
    let started = r.json();
    let id = started["run_id"].as_str().unwrap().to_string();
    assert_eq!(started["url"], format!("/api/runs/{id}"));
    let d = s.wait_run(&id, |v| v["status"] == "succeeded" && v["live"] == false);
    assert_eq!(d["task"], "@/etc/passwd is not read: add and mul");
    assert_eq!(d["stages"].as_array().unwrap().len(), 8);
    assert!(d["stages"]
        .as_array()
        .unwrap()
        .iter()
        .all(|st| st["status"] == "done"));
    assert_eq!(d["items"].as_array().unwrap().len(), 2);
    assert!(d["usage"].is_object() && d["tokens"].is_u64() && d["cost_usd"].is_number());
    assert!(!d["metrics"].as_array().unwrap().is_empty());
    let gates = d["gates"].as_array().unwrap();
    assert!(!gates.is_empty());
    let gate_log = gates[0]["log"].as_str().unwrap().to_string();

    // Events through the cursor.
    let last = d["last_seq"].as_u64().unwrap();
    let first = s
        .get(&format!("/api/runs/{id}/events?since=0&limit=3"))
        .json();
    assert_eq!(first["events"].as_array().unwrap().len(), 3);
    assert_eq!(first["next"], 3);
    assert_eq!(first["events"][0]["event"], "run_started");
    let rest = s
        .get(&format!("/api/runs/{id}/events?since=3&limit=1000"))
        .json();
    assert_eq!(rest["next"].as_u64().unwrap(), last);
    assert_eq!(rest["events"][0]["seq"], 4);
    let none = s.get(&format!("/api/runs/{id}/events?since={last}")).json();
    assert!(none["events"].as_array().unwrap().is_empty());
    assert_eq!(none["next"].as_u64().unwrap(), last);
    assert_eq!(none["finished"], true);

    // Files, whole and in ranges.
    let list = s.get(&format!("/api/runs/{id}/artifacts")).json();
    let paths: Vec<&str> = list["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["path"].as_str().unwrap())
        .collect();
    for want in [
        "artifacts/patch.diff",
        "context/task.md",
        "state.json",
        gate_log.as_str(),
    ] {
        assert!(paths.contains(&want), "{want} not in {paths:?}");
    }
    assert!(!paths.contains(&"lock"));
    let gate = s.get(&format!("/api/runs/{id}/artifacts/{gate_log}"));
    assert_eq!(gate.status, 200);
    assert_eq!(
        gate.body,
        std::fs::read(repo.run_dir(&id).join(&gate_log)).unwrap()
    );
    // Ranges, on the longest file of a finished run.
    let gate_log = "events.jsonl";
    let on_disk = std::fs::read(repo.run_dir(&id).join(gate_log)).unwrap();
    let whole = s.get(&format!("/api/runs/{id}/artifacts/{gate_log}"));
    assert_eq!(whole.status, 200);
    assert_eq!(whole.body, on_disk);
    assert_eq!(
        whole.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    let part = s.req(
        "GET",
        &format!("/api/runs/{id}/artifacts/{gate_log}"),
        &[("Range", "bytes=0-4")],
        None,
    );
    assert_eq!(part.status, 206);
    assert_eq!(part.body, on_disk[..5]);
    assert_eq!(
        part.header("content-range").unwrap(),
        format!("bytes 0-4/{}", on_disk.len())
    );
    let tail = s.req(
        "GET",
        &format!("/api/runs/{id}/artifacts/{gate_log}"),
        &[("Range", "bytes=-3")],
        None,
    );
    assert_eq!(tail.body, on_disk[on_disk.len() - 3..]);
    let js = s.get(&format!(
        "/api/runs/{id}/artifacts/{gate_log}?offset=1&length=3"
    ));
    assert_eq!(js.status, 206);
    assert_eq!(js.body, on_disk[1..4]);
    let past = s.req(
        "GET",
        &format!("/api/runs/{id}/artifacts/{gate_log}"),
        &[("Range", &format!("bytes={}-", on_disk.len()))],
        None,
    );
    assert_eq!(past.status, 416);
    assert_eq!(
        past.header("content-range").unwrap(),
        format!("bytes */{}", on_disk.len())
    );
    assert_eq!(
        s.get(&format!("/api/runs/{id}/artifacts/logs/none.log"))
            .status,
        404
    );

    // Diff and sync.
    let diff = s.get(&format!("/api/runs/{id}/diff")).json();
    assert_eq!(diff["source"], "patch");
    assert!(diff["diff"].as_str().unwrap().contains("return a + b"));
    let sync = s.get(&format!("/api/runs/{id}/sync")).json();
    assert_eq!(sync["branch"], format!("orx/{id}"));
    assert!(sync["commits_ahead"].as_u64().unwrap() >= 1, "{sync}");
    assert!(sync["files_changed"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f == "calc.py"));
    let cmds: Vec<&str> = sync["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(
        cmds.contains(&format!("git merge --ff-only orx/{id}").as_str()),
        "{cmds:?}"
    );

    // SSE of a finished run: every event, then `end`; Last-Event-ID resumes after it.
    let body = request(
        s.port,
        "GET",
        &format!("/api/runs/{id}/events/stream"),
        &[],
        None,
        SAFETY_BOUND,
    );
    assert_eq!(body.status, 200);
    assert!(body
        .header("content-type")
        .unwrap()
        .starts_with("text/event-stream"));
    let evs = parse_sse(&body.text());
    let end = evs.last().unwrap();
    assert_eq!(end.event.as_deref(), Some("end"));
    assert!(end.data.contains("succeeded"), "{}", end.data);
    assert_eq!(evs.len() as u64, last + 1);
    assert_eq!(evs[0].id.as_deref(), Some("1"));
    let again = request(
        s.port,
        "GET",
        &format!("/api/runs/{id}/events/stream?since=1"),
        &[("Last-Event-ID", &(last - 2).to_string())],
        None,
        SAFETY_BOUND,
    );
    let evs = parse_sse(&again.text());
    assert_eq!(evs.len(), 3, "two events after Last-Event-ID, then end");
    assert_eq!(evs[0].id, Some((last - 1).to_string()));

    // Health names git and the agent CLIs, and disk space.
    let h = s.get("/api/health").json();
    assert_eq!(h["git"]["installed"], true);
    let agents: Vec<&str> = h["agents"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    assert_eq!(
        agents,
        ["claude", "codex", "gemini", "cursor", "opencode", "qwen"]
    );
    assert!(h["disk"][0]["free_bytes"].as_u64().unwrap() > 0);
    let doc = s.get("/api/openapi.json").json();
    assert!(doc["paths"]["/api/runs"].is_object());
}

#[test]
fn a_live_run_is_streamed_cancelled_resumed_and_cleaned() {
    // Held at the start of spec, the run is live for as long as the test needs it.
    let hold = Hold::new();
    let repo = serve_repo_held(&hold, "spec");
    let s = Server::start(repo.path(), &[], &[]);
    let r = s.post("/api/runs", &json!({"task": "add and mul slowly"}));
    assert_eq!(r.status, 202, "{}", r.text());
    let id = r.json()["run_id"].as_str().unwrap().to_string();
    hold.wait(&id);
    s.wait_run(&id, |v| v["live"] == true && v["status"] == "running");

    // A stream opened while the run is live ends once it is cancelled.
    let mut stream = Streaming::open(
        s.port,
        "GET",
        &format!("/api/runs/{id}/events/stream"),
        &[],
        None,
        SAFETY_BOUND,
    );
    stream.wait_for("run_started");
    assert_eq!(
        s.post(&format!("/api/runs/{id}/clean"), &json!({})).status,
        409,
        "a live run is not cleaned"
    );
    assert_eq!(
        s.post(&format!("/api/runs/{id}/resume"), &json!({})).status,
        409,
        "a live run is not resumed"
    );
    let c = s.post(&format!("/api/runs/{id}/cancel"), &json!({}));
    assert_eq!(c.status, 202, "{}", c.text());
    assert_eq!(c.json()["signal"], "SIGINT");
    let d = s.wait_run(&id, |v| v["live"] == false);
    assert_eq!(d["status"], "interrupted", "{d}");
    let streamed = parse_sse(&stream.finish().text());
    let end = streamed.last().unwrap();
    assert_eq!(end.event.as_deref(), Some("end"));
    assert!(end.data.contains("interrupted"), "{}", end.data);
    assert!(streamed.iter().any(|e| e.data.contains("run_started")));
    let again = s.post(&format!("/api/runs/{id}/cancel"), &json!({}));
    assert_eq!(again.status, 409);
    assert!(again.json()["error"]
        .as_str()
        .unwrap()
        .contains("already ended (interrupted)"));

    hold.release();
    let res = s.post(&format!("/api/runs/{id}/resume"), &json!({}));
    assert_eq!(res.status, 202, "{}", res.text());
    let d = s.wait_run(&id, |v| v["status"] == "succeeded" && v["live"] == false);
    assert_eq!(d["resumes"], 1);
    assert_eq!(
        s.post(&format!("/api/runs/{id}/resume"), &json!({})).status,
        409,
        "a succeeded run has nothing to resume"
    );

    let cl = s.post(&format!("/api/runs/{id}/clean"), &json!({}));
    assert_eq!(cl.status, 200, "{}", cl.text());
    assert!(cl.json()["freed_bytes"].as_u64().unwrap() > 0);
    assert_eq!(s.get(&format!("/api/runs/{id}")).status, 404);
    assert!(!repo.run_dir(&id).exists());
    assert!(!repo.path().join(".worktrees").join(&id).exists());
    assert!(!repo.path().join(format!("runs/.launch/{id}.log")).exists());
    assert_eq!(
        s.post(&format!("/api/runs/{id}/cancel"), &json!({})).status,
        404
    );
}

#[test]
fn a_run_started_from_the_server_outlives_it_and_a_new_server_picks_it_up() {
    // Held, the run cannot finish before the server is killed: its survival is the only
    // reason it is still there afterwards.
    let hold = Hold::new();
    let repo = serve_repo_held(&hold, "spec");
    let mut a = Server::start(repo.path(), &[], &[]);
    let r = a.post("/api/runs", &json!({"task": "add and mul"}));
    assert_eq!(r.status, 202, "{}", r.text());
    let id = r.json()["run_id"].as_str().unwrap().to_string();
    hold.wait(&id);
    let d = a.wait_run(&id, |v| v["live"] == true);
    let pid = d["pid"].as_u64().unwrap();
    assert_ne!(pid, u64::from(a.pid()));
    a.kill();
    assert!(
        std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the run died with the server"
    );

    let b = Server::start(repo.path(), &[], &[]);
    let listed = b.get("/api/runs").json();
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["runs"][0]["run_id"], id.as_str());
    assert_eq!(b.get(&format!("/api/runs/{id}")).json()["live"], true);
    hold.release();
    let d = b.wait_run(&id, |v| v["status"] == "succeeded" && v["live"] == false);
    assert_eq!(d["resumes"], 0, "it was never interrupted");
    wait_not_live(&b, &id);
}
