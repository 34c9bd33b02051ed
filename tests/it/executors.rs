//! Executors around the agent call: budgets stopping an agent mid-call (and resuming after the
//! limit is raised), fallback rules, waiting out a rate limit, and `orx doctor`.

use std::time::Instant;

use crate::support::{Repo, RunResult};

const BASE: &str = "version: \"1\"\nengine:\n  type: fake\ngit:\n  base_branch: main\n";

fn agent_finished(repo: &Repo, id: &str, stage: &str) -> Vec<serde_json::Value> {
    repo.events(id)
        .into_iter()
        .filter(|e| e["event"] == "agent_finished" && e["stage"] == stage)
        .collect()
}

#[test]
fn streamed_usage_past_max_tokens_stops_the_agent_and_resume_continues_after_raising_it() {
    // The agent reports its usage, then works for five minutes: only a stop in the middle of
    // the call ends it before its `finished` line. (Were it not stopped, the test would take
    // those five minutes and then fail on the log below.)
    let scenario = "plan: {text: \"# Plan\", delay_ms: 300000, usage: {input_tokens: 600, output_tokens: 10}}\n";
    let repo = Repo::new(&format!("{BASE}run:\n  max_tokens: 500\n"), scenario);
    let r = repo.run("plan it", &["--pipeline", "plan-only"]);
    r.expect_code(1);
    let log = repo.read(&r.id, "logs/agent_plan.jsonl");
    assert!(
        log.contains("\"type\":\"usage\"") && !log.contains("\"type\":\"finished\""),
        "the agent was stopped mid-call, after its usage and before its end:\n{log}"
    );
    let s = repo.state(&r.id);
    assert_eq!(s["status"], "budget_exceeded", "{s}");
    assert_eq!(s["last_failure"]["reason"], "budget_exceeded");
    assert!(s["last_failure"]["message"]
        .as_str()
        .unwrap()
        .contains("run.max_tokens 500"));
    assert_eq!(s["usage"]["input_tokens"], 600);
    let finished = agent_finished(&repo, &r.id, "plan");
    assert_eq!(finished.len(), 1);
    assert_eq!(finished[0]["failure"], "budget_exceeded");
    let last = repo.events(&r.id).pop().unwrap();
    assert_eq!(last["event"], "run_finished");
    assert_eq!(last["status"], "budget_exceeded");

    // Same limit: resume stops again at once, without calling the agent.
    let again = RunResult::from(repo.orx(&["resume", &r.id, "--no-progress"]));
    again.expect_code(1);
    assert_eq!(repo.state(&r.id)["status"], "budget_exceeded");
    assert_eq!(agent_finished(&repo, &r.id, "plan").len(), 1);

    // Raised limit: the same step (without its five minutes) runs again and the run finishes.
    std::fs::write(
        repo.path().join("orx.yaml"),
        format!("{BASE}run:\n  max_tokens: 100000\n"),
    )
    .unwrap();
    std::fs::write(
        repo.path().join("scenario.yaml"),
        scenario.replace("delay_ms: 300000, ", ""),
    )
    .unwrap();
    let done = RunResult::from(repo.orx(&["resume", &r.id, "--no-progress"]));
    done.expect_code(0);
    let s = repo.state(&r.id);
    assert_eq!(s["status"], "succeeded");
    assert_eq!(s["usage"]["input_tokens"], 1200);
    assert!(repo.read(&r.id, "context/plan.md").contains("# Plan"));
}

#[test]
fn a_rate_limited_call_falls_back_to_another_model_and_records_it() {
    let config = format!(
        "{BASE}executors:\n  fake:\n    default:\n      model: primary\nfallback:\n  - on: model_not_found\n    model: never\n  - on: rate_limited\n    model: backup\n"
    );
    let scenario =
        "plan: {text: \"# Plan from backup\", error: \"rate limit exceeded\", error_model: primary}\n";
    let repo = Repo::new(&config, scenario);
    let r = repo.run("plan it", &["--pipeline", "plan-only"]);
    r.expect_code(0);
    let s = repo.state(&r.id);
    let fb = &s["fallbacks"][0];
    assert_eq!(fb["stage"], "plan");
    assert_eq!(fb["failure"], "rate_limited");
    assert_eq!(
        (fb["from_model"].as_str(), fb["to_model"].as_str()),
        (Some("primary"), Some("backup"))
    );
    assert_eq!(s["fallbacks"].as_array().unwrap().len(), 1);
    let events = repo.events(&r.id);
    assert!(events
        .iter()
        .any(|e| e["event"] == "fallback" && e["to_model"] == "backup"));
    let finished = agent_finished(&repo, &r.id, "plan");
    assert_eq!(finished.len(), 2);
    assert_eq!(finished[0]["failure"], "rate_limited");
    assert_eq!(finished[1]["ok"], true);
    assert!(repo
        .run_dir(&r.id)
        .join("logs/agent_plan_fallback.jsonl")
        .is_file());
    assert!(repo.read(&r.id, "context/plan.md").contains("from backup"));
}

#[test]
fn a_rate_limit_without_fallback_waits_for_the_reset_and_retries_once() {
    let scenario = "plan: {error: \"rate limit exceeded; resets in 1s\"}\n";
    let repo = Repo::new(BASE, scenario);
    let t0 = Instant::now();
    let r = repo.run("plan it", &["--pipeline", "plan-only"]);
    r.expect_code(1);
    assert!(t0.elapsed().as_millis() >= 900, "it waited for the reset");
    let events = repo.events(&r.id);
    let waiting: Vec<_> = events.iter().filter(|e| e["event"] == "waiting").collect();
    assert!(!waiting.is_empty());
    assert!(waiting[0]["wait_secs"].as_u64().unwrap() <= 2);
    // One retry, not a loop: two calls, and the run fails as rate limited.
    assert_eq!(agent_finished(&repo, &r.id, "plan").len(), 2);
    let s = repo.state(&r.id);
    assert_eq!(s["status"], "failed");
    assert_eq!(s["last_failure"]["reason"], "rate_limited");
    assert!(repo
        .run_dir(&r.id)
        .join("logs/agent_plan_retry.jsonl")
        .is_file());
}

#[test]
fn a_missing_cli_is_a_named_outcome_with_a_hint() {
    let config = "version: \"1\"\nengine:\n  type: claude\nexecutors:\n  claude:\n    bin: /nonexistent/claude\ngit:\n  base_branch: main\n";
    let repo = Repo::new(config, "");
    let r =
        RunResult::from(repo.orx(&["run", "plan it", "--pipeline", "plan-only", "--no-progress"]));
    r.expect_code(1);
    let s = repo.state(&r.id);
    assert_eq!(s["last_failure"]["reason"], "not_installed");
    let msg = s["last_failure"]["message"].as_str().unwrap();
    assert!(
        msg.contains("@anthropic-ai/claude-code") && msg.contains("orx doctor"),
        "{msg}"
    );
}

fn stand_in(dir: &std::path::Path, name: &str, output: &str) {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\necho '{output}'\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn doctor(repo: &Repo, bin: &std::path::Path, home: &std::path::Path) -> (i32, serde_json::Value) {
    let git_dir = std::process::Command::new("sh")
        .args(["-c", "dirname \"$(command -v git)\""])
        .output()
        .unwrap();
    let git_dir = String::from_utf8_lossy(&git_dir.stdout).trim().to_string();
    let out = repo
        .cmd(&["doctor", "--json"])
        .env("PATH", format!("{}:{git_dir}", bin.display()))
        .env("HOME", home)
        .env("ANTHROPIC_API_KEY", "sk-test")
        .env_remove("CLAUDE_CODE_OAUTH_TOKEN")
        .env_remove("OPENAI_API_KEY")
        .env_remove("CODEX_API_KEY")
        .env_remove("CODEX_HOME")
        .env_remove("GEMINI_API_KEY")
        .env_remove("GOOGLE_API_KEY")
        .env_remove("CURSOR_API_KEY")
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "doctor --json prints JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (out.status.code().unwrap_or(-1), json)
}

#[test]
fn doctor_reports_versions_credentials_and_what_is_required() {
    let bin = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    stand_in(bin.path(), "claude", "2.1.330 (Claude Code)");
    stand_in(bin.path(), "codex", "codex-cli 0.100.0");
    stand_in(bin.path(), "gemini", "0.61.0");
    let repo = Repo::new("version: \"1\"\nengine:\n  type: claude\n", "");
    let (code, r) = doctor(&repo, bin.path(), home.path());
    let check = |name: &str| {
        r["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["ok"], true);
    assert_eq!(check("git")["installed"], true);
    let claude = check("claude");
    assert_eq!(
        (
            claude["version"].as_str(),
            claude["version_matches"].as_bool()
        ),
        (Some("2.1.330"), Some(true))
    );
    assert_eq!(claude["credentials_source"], "ANTHROPIC_API_KEY");
    assert_eq!(claude["required"], true);
    let codex = check("codex");
    assert_eq!(codex["required"], false);
    assert_eq!(codex["version_matches"], false);
    assert_eq!(codex["credentials"], false);
    assert!(codex["problems"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["severity"] == "warning"));
    assert!(codex["problems"][0]["hint"]
        .as_str()
        .unwrap()
        .contains("@openai/codex@0.169.0"));
    assert_eq!(check("cursor")["installed"], false);
    // Every external executor of the registry is listed, with the release it was tested with.
    for (name, tested) in [("opencode", "1.18.33"), ("qwen", "0.24.4")] {
        let c = check(name);
        assert_eq!(
            (c["installed"].as_bool(), c["tested_version"].as_str()),
            (Some(false), Some(tested))
        );
    }
    assert_eq!(check("gh")["installed"], false);

    // The engine without credentials makes doctor fail, naming how to provide them.
    std::fs::write(
        repo.path().join("orx.yaml"),
        "version: \"1\"\nengine:\n  type: codex\n",
    )
    .unwrap();
    let (code, r) = doctor(&repo, bin.path(), home.path());
    assert_eq!(code, 1, "{r:#}");
    let codex = check_in(&r, "codex");
    let missing = codex["problems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["message"].as_str().unwrap().contains("no credentials"))
        .cloned()
        .unwrap();
    assert_eq!(missing["severity"], "error");
    assert!(missing["hint"].as_str().unwrap().contains("OPENAI_API_KEY"));

    // A stage routed to a CLI that is not installed makes doctor fail.
    std::fs::write(
        repo.path().join("orx.yaml"),
        "version: \"1\"\nengine:\n  type: fake\nstages:\n  review:\n    executor: cursor\n",
    )
    .unwrap();
    let (code, r) = doctor(&repo, bin.path(), home.path());
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(r["ok"], false);
    let cursor = check_in(&r, "cursor");
    assert_eq!(cursor["problems"][0]["severity"], "error");
}

fn check_in(r: &serde_json::Value, name: &str) -> serde_json::Value {
    r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .cloned()
        .unwrap()
}
