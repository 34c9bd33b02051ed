//! End-to-end flows on real repositories: happy path, fix loops, stuck, empty diff, decompose
//! retry, review changes, concurrent runs, pipelines, JSON output.

use crate::support::*;

#[test]
fn happy_path_with_a_fix_loop_ships_a_patch_and_leaves_the_checkout_alone() {
    let repo = Repo::new(&standard_config(""), &standard_scenario(0));
    let head_before = git(repo.path(), &["rev-parse", "HEAD"]);
    let status_before = git(repo.path(), &["status", "--porcelain"]);
    let r = repo.run("Add add() and mul()", &[]);
    r.expect_code(0);
    assert!(
        r.id.len() > 10,
        "first stdout line names the run: {}",
        r.stdout
    );
    assert!(r.stdout.lines().last().unwrap().contains("merge") || r.stdout.contains("succeeded"));

    // The user's checkout is untouched: same HEAD, same status, no agent files.
    assert_eq!(git(repo.path(), &["rev-parse", "HEAD"]), head_before);
    assert_eq!(git(repo.path(), &["status", "--porcelain"]), status_before);
    assert!(!repo.path().join("calc.py").exists());
    let exclude = std::fs::read_to_string(repo.path().join(".git/info/exclude")).unwrap();
    assert!(
        exclude.contains("/runs/") && exclude.contains("/.worktrees/"),
        "{exclude}"
    );

    let st = repo.state(&r.id);
    assert_eq!(st["status"], "succeeded");
    assert_eq!(st["version"], 1);
    let items = st["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["id"], "W001");
    assert_eq!(items[0]["attempts"], 2, "W001 needed one fix");
    assert_eq!(items[1]["attempts"], 1);
    for s in st["stages"].as_array().unwrap() {
        assert_eq!(s["status"], "done", "stage {s}");
    }

    // Checkpoint commits per item on the run branch, plus the knowledge update.
    let branch = format!("orx/{}", r.id);
    let log = git(
        repo.path(),
        &["log", "--format=%s", &format!("main..{branch}")],
    );
    assert!(
        log.contains("orx: W001") && log.contains("orx: W002"),
        "{log}"
    );
    assert!(log.contains("knowledge update"), "{log}");
    let w001_commit = items[0]["commit"].as_str().unwrap();
    let files = git(
        repo.path(),
        &["show", "--format=", "--name-only", w001_commit],
    );
    assert!(files.contains("calc.py"));
    let calc = git(repo.path(), &["show", &format!("{branch}:calc.py")]);
    assert!(
        calc.contains("return a + b"),
        "the fixed version was committed: {calc}"
    );

    // Artifacts, context, prompts, logs, metrics.
    let patch = repo.read(&r.id, "artifacts/patch.diff");
    assert!(
        patch.contains("+def mul(a, b):") && patch.contains("AGENTS.md"),
        "{patch}"
    );
    assert!(repo
        .read(&r.id, "artifacts/pr_body.md")
        .contains("add and mul implemented"));
    assert!(repo.read(&r.id, "context/plan.md").contains("# Plan"));
    assert!(repo.read(&r.id, "context/spec.md").contains("# Spec"));
    assert!(repo.read(&r.id, "context/backlog.yaml").contains("W002"));
    assert!(repo.read(&r.id, "context/task.md").contains("Add add()"));
    assert!(repo
        .read(&r.id, "prompts/implement_W001_1.md")
        .contains("W001"));
    let fix_prompt = repo.read(&r.id, "prompts/fix_W001_1.md");
    assert!(
        fix_prompt.contains("Gate `add_is_right` failed with exit code 1"),
        "{fix_prompt}"
    );
    assert!(
        fix_prompt.contains("-    return a - b") || fix_prompt.contains("+    return a - b"),
        "the diff is in the fix prompt: {fix_prompt}"
    );
    assert!(repo
        .read(&r.id, "logs/agent_plan.jsonl")
        .contains("session_started"));
    assert!(repo
        .run_dir(&r.id)
        .join("logs/add_is_right_W001_1.log")
        .exists());
    let metrics = repo.read(&r.id, "metrics/stages.jsonl");
    assert!(metrics.lines().count() >= 8, "{metrics}");
    assert!(metrics.contains("\"stage\":\"fix\"") && metrics.contains("\"stage\":\"verify\""));
    let run_json: serde_json::Value =
        serde_json::from_str(&repo.read(&r.id, "metrics/run.json")).unwrap();
    assert_eq!(run_json["status"], "succeeded");
    // orx's own CPU time and peak memory (children excluded), for the benchmarks.
    let process = &run_json["process"];
    assert!(
        process["user_ms"].is_u64() && process["sys_ms"].is_u64(),
        "{run_json}"
    );
    assert!(
        process["max_rss_kib"].as_u64().unwrap() > 1024,
        "{run_json}"
    );
    let meta: serde_json::Value = serde_json::from_str(&repo.read(&r.id, "meta.json")).unwrap();
    assert_eq!(meta["status"], "succeeded");

    // The history is complete and ordered.
    let ev = repo.events(&r.id);
    assert_eq!(ev.first().unwrap()["event"], "run_started");
    assert_eq!(ev.last().unwrap()["event"], "run_finished");
    let seqs: Vec<u64> = ev.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1));
    assert!(ev
        .iter()
        .any(|e| e["event"] == "gate_finished" && e["result"]["passed"] == false));
}

#[test]
fn usage_from_the_agent_reaches_state_and_metrics() {
    let scenario = standard_scenario(0).replace(
        "plan: {text:",
        "plan: {usage: {input_tokens: 1000, output_tokens: 200, cost_usd: 0.5}, text:",
    );
    let repo = Repo::new(&standard_config(""), &scenario);
    let r = repo.run("task", &[]);
    r.expect_code(0);
    let st = repo.state(&r.id);
    assert_eq!(st["usage"]["input_tokens"], 1000);
    assert_eq!(st["usage"]["output_tokens"], 200);
    let plan = st["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == "plan")
        .unwrap()
        .clone();
    assert_eq!(plan["usage"]["cost_usd"], 0.5);
    let metrics = repo.read(&r.id, "metrics/stages.jsonl");
    let plan_line: serde_json::Value =
        serde_json::from_str(metrics.lines().next().unwrap()).unwrap();
    assert_eq!(plan_line["stage"], "plan");
    assert_eq!(plan_line["usage"]["input_tokens"], 1000);
}

#[test]
fn a_stuck_fix_loop_stops_before_spending_every_attempt() {
    // Every fix changes a file but the same gate fails identically.
    let scenario = format!(
        "decompose: {}\nimplement:\n  W001: {}\nfix:\n  W001:\n    - {}\n    - {}\n    - {}\n",
        text_step(&backlog_text(&[("W001", &[])])),
        files_step(&[("a.txt", "v1")]),
        files_step(&[("a.txt", "v2")]),
        files_step(&[("a.txt", "v3")]),
        files_step(&[("a.txt", "v4")]),
    );
    let cfg = config_with_gates(
        &[("always_red", "echo 'assertion failed: x == y'; exit 1")],
        "run:\n  max_fix_attempts: 5\n",
    );
    let repo = Repo::new(&cfg, &scenario);
    let r = repo.run("task", &[]);
    r.expect_code(1);
    let st = repo.state(&r.id);
    assert_eq!(st["status"], "failed");
    assert_eq!(st["items"][0]["status"], "stuck");
    assert_eq!(
        st["items"][0]["attempts"], 2,
        "stuck after two identical failures, not six attempts"
    );
    assert_eq!(st["last_failure"]["reason"], "stuck");
    assert!(r.stdout.contains("stuck"), "{}", r.stdout);
    assert!(repo
        .run_dir(&r.id)
        .join("artifacts/evidence_W001_2.md")
        .exists());
    // Nothing was committed for the failed item.
    let log = git(
        repo.path(),
        &["log", "--format=%s", &format!("main..orx/{}", r.id)],
    );
    assert!(log.is_empty(), "{log}");
}

#[test]
fn attempts_run_out_when_failures_differ() {
    let scenario = format!(
        "decompose: {}\nimplement:\n  W001: {}\nfix:\n  W001:\n    - {}\n    - {}\n",
        text_step(&backlog_text(&[("W001", &[])])),
        files_step(&[("a.txt", "1")]),
        files_step(&[("a.txt", "2")]),
        files_step(&[("a.txt", "3")]),
    );
    let cfg = config_with_gates(
        &[("red", "echo value $(cat a.txt); exit 1")],
        "run:\n  max_fix_attempts: 2\n",
    );
    let repo = Repo::new(&cfg, &scenario);
    let r = repo.run("task", &[]);
    r.expect_code(1);
    let st = repo.state(&r.id);
    assert_eq!(st["items"][0]["status"], "failed");
    assert_eq!(st["items"][0]["attempts"], 3, "implement + 2 fixes");
    assert_eq!(st["last_failure"]["reason"], "gates_failed");
}

#[test]
fn an_empty_diff_is_a_failed_attempt_and_the_fix_gets_told() {
    let scenario = format!(
        "decompose: {}\nimplement:\n  W001: {{text: \"I think it is done\"}}\nfix:\n  W001:\n    - {}\nreview: {}\n",
        text_step(&backlog_text(&[("W001", &[])])),
        files_step(&[("a.txt", "real work")]),
        text_step(&approve("ok")),
    );
    let repo = Repo::new(
        &config_with_gates(&[("has_a", "test -f a.txt")], ""),
        &scenario,
    );
    let r = repo.run("task", &[]);
    r.expect_code(0);
    let st = repo.state(&r.id);
    assert_eq!(st["items"][0]["attempts"], 2);
    let ev = repo.events(&r.id);
    assert!(ev
        .iter()
        .any(|e| e["event"] == "attempt_finished" && e["outcome"] == "empty_diff"));
    assert!(repo
        .read(&r.id, "prompts/fix_W001_1.md")
        .contains("changed no file"));
}

#[test]
fn an_invalid_backlog_gets_one_retry_with_the_error_as_feedback() {
    let cyclic = backlog_text(&[("W001", &["W002"]), ("W002", &["W001"])]);
    let valid = backlog_text(&[("W001", &[])]);
    let scenario = format!(
        "decompose:\n  - {}\n  - {}\nimplement:\n  default: {}\nreview: {}\n",
        text_step(&cyclic),
        text_step(&valid),
        files_step(&[("x.txt", "x")]),
        text_step(&approve("ok")),
    );
    let repo = Repo::new(&config_with_gates(&[("ok", "true")], ""), &scenario);
    let r = repo.run("task", &[]);
    r.expect_code(0);
    let retry = repo.read(&r.id, "prompts/decompose_2.md");
    assert!(
        retry.contains("previous answer was rejected") && retry.contains("W001"),
        "{retry}"
    );
    assert_eq!(repo.state(&r.id)["decompose_attempts"], 2);

    // Invalid twice: the run fails clearly.
    let scenario = format!("decompose: {}\n", text_step("no yaml here at all"));
    let repo = Repo::new(&config_with_gates(&[("ok", "true")], ""), &scenario);
    let r = repo.run("task", &[]);
    r.expect_code(1);
    let st = repo.state(&r.id);
    assert_eq!(st["last_failure"]["reason"], "invalid_backlog");
    assert_eq!(st["decompose_attempts"], 2);
    assert!(r.stdout.contains("invalid_backlog"), "{}", r.stdout);
}

#[test]
fn review_changes_add_items_and_loop_back_to_implement() {
    let changes = "Needs docs.\n\n```json\n{\"verdict\": \"changes_requested\", \"summary\": \"add docs\", \"changes\": [{\"title\": \"Document add\", \"objective\": \"write DOCS.md\"}]}\n```\n";
    let scenario = format!(
        "decompose: {}\nimplement:\n  W001: {}\n  R1-01: {}\nreview:\n  - {}\n  - {}\n",
        text_step(&backlog_text(&[("W001", &[])])),
        files_step(&[("a.txt", "a")]),
        files_step(&[("DOCS.md", "docs")]),
        text_step(changes),
        text_step(&approve("now complete")),
    );
    let repo = Repo::new(&config_with_gates(&[("ok", "true")], ""), &scenario);
    let r = repo.run("task", &[]);
    r.expect_code(0);
    let st = repo.state(&r.id);
    assert_eq!(st["review_rounds"], 2);
    let ids: Vec<&str> = st["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["W001", "R1-01"]);
    assert_eq!(st["items"][1]["status"], "done");
    assert!(repo.read(&r.id, "artifacts/patch.diff").contains("DOCS.md"));
    assert!(repo.run_dir(&r.id).join("artifacts/review_2.md").exists());

    // With no rounds left, a review that still wants changes fails the run.
    let scenario = format!(
        "decompose: {}\nimplement:\n  default: {}\nreview: {}\n",
        text_step(&backlog_text(&[("W001", &[])])),
        files_step(&[("a.txt", "a")]),
        text_step(changes),
    );
    let repo = Repo::new(
        &config_with_gates(&[("ok", "true")], "run:\n  max_review_rounds: 0\n"),
        &scenario,
    );
    let r = repo.run("task", &[]);
    r.expect_code(1);
    assert_eq!(
        repo.state(&r.id)["last_failure"]["reason"],
        "changes_requested"
    );
}

#[test]
fn a_reply_without_a_verdict_is_never_an_approval() {
    let scenario = format!(
        "decompose: {}\nimplement:\n  default: {}\nreview: {}\n",
        text_step(&backlog_text(&[("W001", &[])])),
        files_step(&[("a.txt", "a")]),
        text_step("LGTM, ship it!"),
    );
    let repo = Repo::new(&config_with_gates(&[("ok", "true")], ""), &scenario);
    let r = repo.run("task", &[]);
    r.expect_code(1);
    assert_eq!(repo.state(&r.id)["last_failure"]["reason"], "no_verdict");
}

#[test]
fn an_agent_error_fails_the_run_resumably() {
    let scenario = "plan: {error: \"model overloaded\", exit_code: 3}\n".to_string();
    let repo = Repo::new(&config_with_gates(&[("ok", "true")], ""), &scenario);
    let r = repo.run("task", &[]);
    r.expect_code(1);
    let st = repo.state(&r.id);
    // "overloaded" names the failure: an API error (HTTP 529), not a generic agent error.
    assert_eq!(st["last_failure"]["reason"], "api_error");
    assert_eq!(st["last_failure"]["message"], "model overloaded");
    assert!(r.stdout.contains(&format!("orx resume {}", r.id)));
}

#[test]
fn two_runs_in_one_repository_at_once_do_not_collide() {
    let repo = Repo::new(&standard_config(""), &standard_scenario(50));
    let spawn = || {
        repo.cmd(&[
            "run",
            "task",
            "--scenario",
            "scenario.yaml",
            "--no-progress",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
    };
    let a = spawn();
    let b = spawn();
    let ra = RunResult::from(a.wait_with_output().unwrap());
    let rb = RunResult::from(b.wait_with_output().unwrap());
    ra.expect_code(0);
    rb.expect_code(0);
    assert_ne!(ra.id, rb.id);
    assert_eq!(
        repo.read(&ra.id, "artifacts/patch.diff"),
        repo.read(&rb.id, "artifacts/patch.diff")
    );
    let branches = git(repo.path(), &["branch", "--list", "orx/*"]);
    assert_eq!(branches.lines().count(), 2, "{branches}");
}

#[test]
fn fast_fix_treats_the_task_as_one_item_and_plan_only_stops_after_decompose() {
    let scenario = format!(
        "implement:\n  default: {}\nreview: {}\ndecompose: {}\n",
        files_step(&[("fix.txt", "fixed")]),
        text_step(&approve("ok")),
        text_step(&backlog_text(&[("W001", &[])])),
    );
    let repo = Repo::new(&config_with_gates(&[("ok", "true")], ""), &scenario);
    let r = repo.run("Fix the typo in README", &["--pipeline", "fast-fix"]);
    r.expect_code(0);
    let st = repo.state(&r.id);
    let stages: Vec<&str> = st["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    assert_eq!(
        stages,
        vec!["implement", "verify", "review", "ship", "knowledge"]
    );
    assert_eq!(st["items"][0]["title"], "Fix the typo in README");
    assert!(!repo.run_dir(&r.id).join("context/plan.md").exists());

    let r = repo.run("Plan something", &["--pipeline", "plan-only"]);
    r.expect_code(0);
    assert!(repo.run_dir(&r.id).join("context/backlog.yaml").exists());
    assert!(!repo.run_dir(&r.id).join("artifacts/patch.diff").exists());
    let log = git(
        repo.path(),
        &["log", "--format=%s", &format!("main..orx/{}", r.id)],
    );
    assert!(log.is_empty());
}

#[test]
fn custom_pipelines_and_prompt_overrides_come_from_the_repository() {
    let scenario = format!("implement:\n  default: {}\n", files_step(&[("q.txt", "q")]));
    let cfg = config_with_gates(
        &[("ok", "true")],
        "pipelines:\n  quick: [implement, ship]\n",
    );
    let repo = Repo::new(&cfg, &scenario);
    std::fs::create_dir_all(repo.path().join(".orx/prompts")).unwrap();
    std::fs::write(
        repo.path().join(".orx/prompts/implement.md"),
        "HOUSE STYLE for {{item_id}}: {{task}}",
    )
    .unwrap();
    let r = repo.run("quick task", &["--pipeline", "quick"]);
    r.expect_code(0);
    assert_eq!(
        repo.read(&r.id, "prompts/implement_W001_1.md"),
        "HOUSE STYLE for W001: quick task"
    );
}

#[test]
fn json_mode_prints_event_lines_then_one_summary_object() {
    let repo = Repo::new(&standard_config(""), &standard_scenario(0));
    let out = repo.orx(&["run", "task", "--scenario", "scenario.yaml", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("every stdout line is JSON"))
        .collect();
    assert_eq!(lines[0]["event"], "run_started");
    let id = lines[0]["run_id"].as_str().unwrap();
    let summary = lines.last().unwrap();
    assert_eq!(summary["event"], "summary");
    assert_eq!(summary["run_id"], id);
    assert_eq!(summary["status"], "succeeded");
    assert_eq!(summary["branch"], format!("orx/{id}"));
    assert!(summary["gates"].as_array().unwrap().len() >= 2);
}

#[test]
fn task_from_a_file() {
    let repo = Repo::new(&standard_config(""), &standard_scenario(0));
    std::fs::write(repo.path().join("task.md"), "# Add things\n\nadd and mul\n").unwrap();
    let r = repo.run("@task.md", &[]);
    r.expect_code(0);
    assert_eq!(
        repo.read(&r.id, "context/task.md"),
        "# Add things\n\nadd and mul\n"
    );
}

#[test]
fn gate_byproducts_never_reach_a_commit() {
    let scenario = format!(
        "decompose: {}\nimplement:\n  W001: {}\nfix:\n  W001:\n    - {}\nreview: {}\n",
        text_step(&backlog_text(&[("W001", &[])])),
        files_step(&[("a.txt", "wrong")]),
        files_step(&[("a.txt", "right")]),
        text_step(&approve("ok")),
    );
    let cfg = config_with_gates(
        &[("leaves_junk", "mkdir -p cache && date > cache/junk.bin && echo x > coverage.out && grep -q right a.txt")],
        "",
    );
    let repo = Repo::new(&cfg, &scenario);
    let r = repo.run("task", &[]);
    r.expect_code(0);
    let patch = repo.read(&r.id, "artifacts/patch.diff");
    assert!(patch.contains("a.txt"), "{patch}");
    assert!(
        !patch.contains("junk.bin") && !patch.contains("coverage.out"),
        "{patch}"
    );
    let log = git(
        repo.path(),
        &["log", "--format=%s", &format!("main..orx/{}", r.id)],
    );
    assert!(!log.contains("leftover"), "{log}");
}
