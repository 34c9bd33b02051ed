//! The state journal and the cost accounting of a run, end to end: a happy run's fsyncs and
//! git processes as `metrics/run.json` reports them, a live run's latest checkpoint as other
//! processes read it, a corrupt journal line as a clear state error, and a quiet agent's
//! events on disk while it still runs (events are written in batches, never held back).

use std::process::Stdio;

use crate::support::*;
use crate::waiting::{lock_released, until, Hold};

fn run_metrics(repo: &Repo, id: &str) -> serde_json::Value {
    serde_json::from_str(&repo.read(id, "metrics/run.json")).expect("run.json parses")
}

#[test]
fn a_happy_run_stays_under_its_fsync_and_git_process_ceilings() {
    // The standard scenario: two items, one fix, every stage, no push.
    let repo = Repo::new(&standard_config(""), &standard_scenario(0));
    let r = repo.run("Add add() and mul()", &[]);
    r.expect_code(0);
    let m = run_metrics(&repo, &r.id);
    let fsyncs = m["fsyncs"].as_u64().expect("fsyncs is a count");
    let git = m["git_processes"]
        .as_u64()
        .expect("git_processes is a count");
    // 17 at the time of writing: one fdatasync per checkpoint resume needs (7 stage ends, 3
    // agent snapshots, 2 item commits, the exit) and the two atomic writes of state.json (the
    // first, the compaction at exit). Rewriting state.json at every checkpoint cost 141.
    assert!(fsyncs < 20, "a happy run made {fsyncs} fsyncs");
    // 1 at the time of writing: `worktree add`. Every read, object write and putting back of
    // plain files is in-process (libgit2). It was 99 with the git CLI for every read and write.
    assert!(git <= 10, "a happy run started {git} git processes");
    assert!(git > 0, "the count of git processes is wired");
    // The journal was compacted into state.json at exit and restarted empty.
    let journal = repo.run_dir(&r.id).join("state.jsonl");
    assert_eq!(std::fs::metadata(&journal).expect("state.jsonl").len(), 0);
    let on_disk: serde_json::Value =
        serde_json::from_str(&repo.read(&r.id, "state.json")).expect("state.json parses");
    assert_eq!(on_disk["status"], "succeeded");
}

#[test]
fn other_processes_see_a_live_runs_latest_checkpoint() {
    let hold = Hold::new();
    let repo = Repo::new(
        &standard_config(&hold.hooks("knowledge")),
        &standard_scenario(0),
    );
    let mut child = repo
        .cmd(&[
            "run",
            "Add add() and mul()",
            "--scenario",
            "scenario.yaml",
            "--no-progress",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("orx runs");
    let id = hold.wait_new(&[]);
    // state.json was last refreshed when ship ended (with knowledge next, not yet begun);
    // knowledge running is in the journal only.
    let knowledge = |state: &serde_json::Value| {
        state["stages"]
            .as_array()
            .and_then(|s| s.iter().find(|r| r["stage"] == "knowledge"))
            .map(|r| r["status"].clone())
    };
    let file: serde_json::Value =
        serde_json::from_str(&repo.read(&id, "state.json")).expect("state.json parses");
    assert_eq!(file["current_stage"], "knowledge", "{file}");
    assert_eq!(knowledge(&file), Some("pending".into()), "{file}");
    let out = RunResult::from(repo.orx(&["status", &id, "--json"]));
    out.expect_code(0);
    let live: serde_json::Value = serde_json::from_str(out.stdout.trim()).expect("json");
    assert_eq!(live["current_stage"], "knowledge", "{live}");
    assert_eq!(knowledge(&live), Some("running".into()), "{live}");
    assert_eq!(
        live["stages"].as_array().map(|s| s.len()),
        file["stages"].as_array().map(|s| s.len())
    );
    hold.release();
    assert_eq!(child.wait().expect("orx exits").code(), Some(0));
    lock_released(&repo.run_dir(&id));
    assert_eq!(repo.state(&id)["status"], "succeeded");
}

#[test]
fn a_corrupt_journal_line_is_a_state_error_and_a_torn_last_line_is_ignored() {
    let repo = Repo::new(&standard_config(""), &standard_scenario(0));
    let r = repo.run("Add add() and mul()", &[]);
    r.expect_code(0);
    let dir = repo.run_dir(&r.id);
    let mut state: serde_json::Value =
        serde_json::from_str(&repo.read(&r.id, "state.json")).expect("state.json parses");
    state["status"] = "interrupted".into();
    let line = serde_json::to_string(&state).unwrap();
    // A complete line, then a torn one: the torn one is a write a crash cut short.
    std::fs::write(dir.join("state.jsonl"), format!("{line}\n{}", &line[..40])).unwrap();
    let out = RunResult::from(repo.orx(&["status", &r.id, "--json"]));
    out.expect_code(0);
    let seen: serde_json::Value = serde_json::from_str(out.stdout.trim()).expect("json");
    assert_eq!(seen["status"], "interrupted");
    // A line that is not JSON before the last complete one: the journal is corrupt.
    std::fs::write(
        dir.join("state.jsonl"),
        format!("{line}\n{{\"ver\n{line}\n"),
    )
    .unwrap();
    for args in [vec!["status", &r.id], vec!["resume", &r.id]] {
        let out = RunResult::from(repo.orx(&args));
        out.expect_code(2);
        assert!(
            out.stderr.starts_with("error: ") && out.stderr.contains("state.jsonl:2:"),
            "{args:?}: {}",
            out.stderr
        );
        assert!(
            out.stderr.contains("state file is corrupt"),
            "{}",
            out.stderr
        );
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    }
}

#[test]
fn a_quiet_agents_events_are_on_disk_while_it_still_runs() {
    // A stand-in `claude` that says something, then goes quiet until the test has seen it in
    // events.jsonl: were the events of a batch held back until more output came, or until
    // the agent ended, the wait below would never end.
    let repo = Repo::new("", "");
    let release = repo.path().join("release");
    let bin = repo.path().join("quiet-claude");
    std::fs::write(
        &bin,
        format!(
            "#!/bin/sh\ncat >/dev/null\n\
             echo '{{\"type\":\"system\",\"subtype\":\"init\",\"session_id\":\"s1\",\"model\":\"m\"}}'\n\
             echo '{{\"type\":\"assistant\",\"message\":{{\"role\":\"assistant\",\"content\":[{{\"type\":\"text\",\"text\":\"thinking out loud\"}}]}},\"session_id\":\"s1\"}}'\n\
             while [ ! -e '{}' ]; do sleep 0.05; done\n\
             echo '{{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"result\":\"# Plan\",\"session_id\":\"s1\",\"usage\":{{\"input_tokens\":1,\"output_tokens\":1}}}}'\n",
            release.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&bin, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::write(
        repo.path().join("orx.yaml"),
        format!(
            "version: \"1\"\nengine:\n  type: claude\nexecutors:\n  claude:\n    bin: {}\ngit:\n  base_branch: main\npipelines:\n  think: [plan]\n",
            bin.display()
        ),
    )
    .unwrap();
    let mut child = repo
        .cmd(&["run", "plan it", "--pipeline", "think", "--no-progress"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("orx runs");
    let runs = repo.path().join("runs");
    let events = until("the agent's text in events.jsonl", || {
        let dir = std::fs::read_dir(&runs).ok()?.flatten().next()?.path();
        let text = std::fs::read_to_string(dir.join("events.jsonl")).ok()?;
        text.contains("thinking out loud").then_some(text)
    });
    assert!(
        !events.contains("agent_finished"),
        "the agent was still running: {events}"
    );
    std::fs::write(&release, "").unwrap();
    assert_eq!(child.wait().expect("orx exits").code(), Some(0));
}
