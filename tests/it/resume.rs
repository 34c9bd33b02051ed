//! Resume: SIGKILL at many points, Ctrl-C, live-run refusal, retrying a failed run.

use std::process::Stdio;

use crate::support::*;
use crate::waiting::{lock_released, until, Hold};

fn kill(pid: u32, sig: &str) {
    let _ = std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status();
}

/// The id of the single run in `runs/` not in `known`.
fn new_run(repo: &Repo, known: &[String]) -> Option<String> {
    std::fs::read_dir(repo.path().join("runs"))
        .ok()?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|id| !known.contains(id))
}

#[test]
fn sigkill_at_many_points_then_resume_gives_the_same_patch() {
    // The kill points are events of the run's own log, spread over everything before the
    // held last stage: each kill lands once the run has written that many events, and the hold
    // keeps the run from finishing before the kill, so every point is a mid-run kill whatever
    // the machine's speed. Delays make each step long enough for a kill to land inside it; the
    // fix loop makes W001 take two attempts.
    let hold = Hold::new();
    let repo = Repo::new(
        &standard_config(&format!(
            "run:\n  max_fix_attempts: 3\n{}",
            hold.hooks("knowledge")
        )),
        &standard_scenario(120),
    );
    hold.release();
    let clean = repo.run("Add add() and mul()", &[]);
    clean.expect_code(0);
    let reference = repo.read(&clean.id, "artifacts/patch.diff");
    // Events written before the run reaches the hold.
    let before_hold = repo
        .events(&clean.id)
        .iter()
        .position(|e| e["event"] == "stage_started" && e["stage"] == "knowledge")
        .expect("the run reaches the knowledge stage")
        + 1;
    let mut known = vec![clean.id.clone()];

    let points = 12;
    for k in 1..=points {
        let at = (before_hold * k / (points + 1)).max(1);
        hold.close();
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
            .unwrap();
        let id = until(&format!("point {k}: the run to write {at} events"), || {
            let id = new_run(&repo, &known)?;
            let text = std::fs::read_to_string(repo.run_dir(&id).join("events.jsonl")).ok()?;
            (text.lines().count() >= at).then_some(id)
        });
        kill(child.id(), "-KILL");
        let _ = child.wait();
        lock_released(&repo.run_dir(&id));
        hold.release();
        known.push(id.clone());
        // The state (state.json and every complete journal line) always parses, whatever
        // instant the kill hit.
        let st = crate::support::replayed_state(&repo.run_dir(&id))
            .unwrap_or_else(|e| panic!("point {k}: {e}"));
        assert_eq!(st["status"], "running", "point {k} (event {at}): {st}");
        let out = RunResult::from(repo.orx(&["resume", &id, "--no-progress"]));
        out.expect_code(0);
        assert_eq!(
            repo.read(&id, "artifacts/patch.diff"),
            reference,
            "point {k} (event {at}): patch differs after resume"
        );
        let st = repo.state(&id);
        assert_eq!(st["resumes"], 1);
        assert_eq!(
            st["items"][0]["attempts"], 2,
            "point {k}: the fix count survived"
        );
    }
    // No stray worktrees: one per run, all registered with git.
    let worktrees = git(repo.path(), &["worktree", "list", "--porcelain"]);
    assert_eq!(
        worktrees.matches("worktree ").count(),
        known.len() + 1,
        "{worktrees}"
    );
}

#[test]
fn ctrl_c_stops_gracefully_with_130_and_the_run_resumes() {
    // The spec agent works for five minutes: Ctrl-C, sent once it has started, lands inside
    // that call whatever the load.
    let slow_spec = standard_scenario(0).replacen("spec: {", "spec: {delay_ms: 300000, ", 1);
    let repo = Repo::new(&standard_config(""), &slow_spec);
    let child = repo
        .cmd(&[
            "run",
            "task",
            "--scenario",
            "scenario.yaml",
            "--no-progress",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    until("the spec agent to start", || {
        let id = new_run(&repo, &[])?;
        let text = std::fs::read_to_string(repo.run_dir(&id).join("events.jsonl")).ok()?;
        text.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .any(|e| e["event"] == "agent" && e["stage"] == "spec")
            .then_some(())
    });
    kill(child.id(), "-INT");
    let r = RunResult::from(child.wait_with_output().unwrap());
    r.expect_code(130);
    let st = repo.state(&r.id);
    assert_eq!(st["status"], "interrupted");
    assert!(
        r.stdout.contains(&format!("orx resume {}", r.id)),
        "{}",
        r.stdout
    );
    // Nothing left running: the agent's process group was terminated.
    let left = crate::torture::pids_with_env(&format!("ORX_RUN_ID={}", r.id));
    assert!(left.is_empty(), "processes of the run survived: {left:?}");
    let status = RunResult::from(repo.orx(&["status"]));
    assert!(status.stdout.contains("interrupted"), "{}", status.stdout);
    std::fs::write(repo.path().join("scenario.yaml"), standard_scenario(0)).unwrap();
    RunResult::from(repo.orx(&["resume", &r.id, "--no-progress"])).expect_code(0);
    assert_eq!(repo.state(&r.id)["status"], "succeeded");
}

#[test]
fn a_live_run_cannot_be_resumed_or_cleaned_by_another_process() {
    // Held at the start of spec, the run is live for every refusal below.
    let hold = Hold::new();
    let repo = Repo::new(&standard_config(&hold.hooks("spec")), &standard_scenario(0));
    let mut child = repo
        .cmd(&[
            "run",
            "task",
            "--scenario",
            "scenario.yaml",
            "--no-progress",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let id = hold.wait_new(&[]);
    let r = RunResult::from(repo.orx(&["resume", &id]));
    r.expect_code(2);
    assert!(
        r.stderr.contains("in use by another orx process"),
        "{}",
        r.stderr
    );
    let r = RunResult::from(repo.orx(&["clean", &id]));
    r.expect_code(2);
    let status = RunResult::from(repo.orx(&["status"]));
    assert!(status.stdout.contains("running"), "{}", status.stdout);
    hold.release();
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

/// A repository whose one item passes only at its third try (n.txt = 3): the implement and
/// two fixes. With max_fix_attempts 1 the first drive fails after two tries; a resume, with a
/// fresh fix budget, gets the third.
fn passing_at_the_third_try() -> Repo {
    let scenario = format!(
        "decompose: {}\nimplement:\n  W001: {}\nfix:\n  W001:\n    - {}\n    - {}\nreview: {}\n",
        text_step(&backlog_text(&[("W001", &[])])),
        files_step(&[("n.txt", "1")]),
        files_step(&[("n.txt", "2")]),
        files_step(&[("n.txt", "3")]),
        text_step(&approve("ok")),
    );
    let cfg = config_with_gates(
        &[("three", "echo got $(cat n.txt); test \"$(cat n.txt)\" = 3")],
        "run:\n  max_fix_attempts: 1\n",
    );
    Repo::new(&cfg, &scenario)
}

#[test]
fn a_failed_run_resumes_with_a_fresh_fix_budget() {
    let repo = passing_at_the_third_try();
    let r = repo.run("task", &[]);
    r.expect_code(1);
    assert_eq!(repo.state(&r.id)["items"][0]["attempts"], 2);
    let out = RunResult::from(repo.orx(&["resume", &r.id, "--no-progress"]));
    out.expect_code(0);
    let st = repo.state(&r.id);
    assert_eq!(st["items"][0]["attempts"], 3);
    assert_eq!(st["status"], "succeeded");
}

/// A SIGKILL in the middle of a ref or index update leaves its `.lock` file behind (git and
/// libgit2 write `<file>.lock`, then rename it). The run's own refs and worktree files have one
/// writer, whoever holds the run, so resume clears those; any other lock stays.
#[test]
fn locks_a_killed_orx_left_on_the_runs_own_refs_and_index_do_not_stop_its_resume() {
    let repo = passing_at_the_third_try();
    let r = repo.run("task", &[]);
    r.expect_code(1);
    let git_dir = repo.path().join(".git");
    let wt_git = git_dir.join("worktrees").join(&r.id);
    assert!(wt_git.is_dir(), "the run's worktree has its admin folder");
    let stale = [
        git_dir.join(format!("refs/heads/orx/{}.lock", r.id)),
        wt_git.join("index.lock"),
        wt_git.join("HEAD.lock"),
    ];
    // Not the run's: another branch's lock may belong to a git the person is running.
    let other = git_dir.join("refs/heads/main.lock");
    for f in stale.iter().chain([&other]) {
        std::fs::write(f, "").unwrap();
    }
    let out = RunResult::from(repo.orx(&["resume", &r.id, "--no-progress"]));
    out.expect_code(0);
    assert_eq!(repo.state(&r.id)["status"], "succeeded");
    for f in &stale {
        assert!(!f.exists(), "{} is left", f.display());
    }
    assert!(other.exists(), "a lock that is not the run's was removed");
    // And `orx clean` of a run a kill left with such locks removes it all the same.
    std::fs::write(&stale[0], "").unwrap();
    RunResult::from(repo.orx(&["clean", &r.id])).expect_code(0);
    assert!(!stale[0].exists() && !git_dir.join(format!("refs/heads/orx/{}", r.id)).exists());
}

/// A run whose `state.json` was edited (or symlinked from another repository) to name another
/// folder as its worktree: resume refuses it with exit 2 and touches nothing there, because
/// it resets and restores its worktree and must never do that to a person's checkout.
#[test]
fn resume_refuses_a_state_that_points_at_another_worktree_and_touches_nothing() {
    let scenario = format!(
        "decompose: {}\nimplement:\n  W001: {}\nfix:\n  W001:\n    - {}\nreview: {}\n",
        text_step(&backlog_text(&[("W001", &[])])),
        files_step(&[("n.txt", "1")]),
        files_step(&[("n.txt", "2")]),
        text_step(&approve("ok")),
    );
    let cfg = config_with_gates(&[("never", "false")], "run:\n  max_fix_attempts: 1\n");
    let repo = Repo::new(&cfg, &scenario);
    let r = repo.run("task", &[]);
    r.expect_code(1);
    // The person's checkout holds uncommitted work and an untracked file.
    let home = repo.path();
    std::fs::write(home.join("README.md"), "# edited, not committed\n").unwrap();
    std::fs::write(home.join("notes.txt"), "mine\n").unwrap();
    let state_path = repo.run_dir(&r.id).join("state.json");
    let original = std::fs::read_to_string(&state_path).unwrap();
    let mut st: serde_json::Value = serde_json::from_str(&original).unwrap();
    st["worktree"]["path"] = serde_json::json!(home.display().to_string());
    std::fs::write(&state_path, serde_json::to_string_pretty(&st).unwrap()).unwrap();

    let out = RunResult::from(repo.orx(&["resume", &r.id, "--no-progress"]));
    out.expect_code(2);
    let errors: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    assert_eq!(errors.len(), 1, "{}", out.stderr);
    assert!(errors[0].contains("worktree"), "{}", errors[0]);
    assert_eq!(
        std::fs::read_to_string(home.join("README.md")).unwrap(),
        "# edited, not committed\n"
    );
    assert_eq!(
        std::fs::read_to_string(home.join("notes.txt")).unwrap(),
        "mine\n"
    );

    // Another branch named as the run's: refused as well.
    st["worktree"]["path"] =
        serde_json::from_str::<serde_json::Value>(&original).unwrap()["worktree"]["path"].clone();
    st["worktree"]["branch"] = serde_json::json!("main");
    std::fs::write(&state_path, serde_json::to_string_pretty(&st).unwrap()).unwrap();
    RunResult::from(repo.orx(&["resume", &r.id, "--no-progress"])).expect_code(2);

    // The state as orx wrote it resumes as usual.
    std::fs::write(&state_path, &original).unwrap();
    let out = RunResult::from(repo.orx(&["resume", &r.id, "--no-progress"]));
    assert_eq!(out.code, 1, "{}", out.stderr);
}
