//! Ship-and-guard lifecycle on real repositories: the knowledge update confined to its blocks,
//! lifecycle hooks (env, JSON, veto, resume), worktree copy/setup, and cleaning by age, orphans
//! and retention.

use crate::support::*;

/// implement → ship → knowledge, with W001 writing one file.
fn quick_config(extra: &str) -> String {
    config_with_gates(
        &[("ok", "true")],
        &format!("pipelines:\n  quick: [implement, ship, knowledge]\n{extra}"),
    )
}

fn quick_scenario(knowledge: &str) -> String {
    format!(
        "implement:\n  W001: {}\nknowledge_update: {knowledge}\n",
        files_step(&[("feature.txt", "done\n")])
    )
}

fn quick_run(repo: &Repo) -> RunResult {
    repo.run("add the feature", &["--pipeline", "quick"])
}

fn show(repo: &Repo, id: &str, file: &str) -> String {
    git(repo.path(), &["show", &format!("orx/{id}:{file}")])
}

fn warnings(repo: &Repo, id: &str) -> Vec<String> {
    repo.events(id)
        .iter()
        .filter(|e| e["event"] == "warning")
        .map(|e| e["message"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn commit_file(repo: &Repo, name: &str, text: &str) {
    std::fs::write(repo.path().join(name), text).unwrap();
    git(repo.path(), &["add", name]);
    git(repo.path(), &["commit", "-q", "-m", &format!("add {name}")]);
}

#[test]
fn knowledge_edits_land_inside_the_block_and_everything_else_is_discarded() {
    let agent_version = "# Agents (rewritten)\n\n<!-- orx:begin -->\n- run `make test` before pushing\n- gates are shell checks\n<!-- orx:end -->\n";
    let step = files_step(&[("AGENTS.md", agent_version), ("stray.txt", "not allowed\n")]);
    let repo = Repo::new(&quick_config(""), &quick_scenario(&step));
    commit_file(&repo, "AGENTS.md", "# Agents\n\nHand-written guidance.\n");
    let r = quick_run(&repo);
    r.expect_code(0);

    let agents = show(&repo, &r.id, "AGENTS.md");
    assert_eq!(
        agents,
        "# Agents\n\nHand-written guidance.\n\n<!-- orx:begin -->\n- run `make test` before pushing\n- gates are shell checks\n<!-- orx:end -->"
    );
    let files = git(
        repo.path(),
        &["ls-tree", "-r", "--name-only", &format!("orx/{}", r.id)],
    );
    assert!(!files.contains("stray.txt"), "{files}");
    assert!(
        !files.contains("ARCHITECTURE.md"),
        "an untouched block is not committed: {files}"
    );
    let w = warnings(&repo, &r.id).join("\n");
    assert!(w.contains("edited AGENTS.md outside its orx block"), "{w}");
    assert!(w.contains("reverted: stray.txt"), "{w}");
    let patch = repo.read(&r.id, "artifacts/patch.diff");
    assert!(
        patch.contains("+- run `make test` before pushing"),
        "{patch}"
    );
    assert!(!patch.contains("stray.txt"));
    let log = git(
        repo.path(),
        &["log", "--format=%s", &format!("main..orx/{}", r.id)],
    );
    assert!(log.starts_with("orx: knowledge update"), "{log}");
    let prompt = repo.read(&r.id, "prompts/knowledge_update.md");
    assert!(
        prompt.contains("<!-- orx:begin -->") && prompt.contains("At most 40 lines"),
        "{prompt}"
    );
    assert!(repo
        .events(&r.id)
        .iter()
        .any(|e| e["event"] == "knowledge_updated" && e["added"] == 2));
}

#[test]
fn knowledge_size_limits_are_enforced_by_orx() {
    let many = "<!-- orx:begin -->\n- 1\n- 2\n- 3\n- 4\n- 5\n<!-- orx:end -->\n";
    let step = files_step(&[("AGENTS.md", many)]);
    let repo = Repo::new(
        &quick_config("knowledge:\n  max_added_lines: 2\n"),
        &quick_scenario(&step),
    );
    let r = quick_run(&repo);
    r.expect_code(0);
    assert_eq!(
        show(&repo, &r.id, "AGENTS.md"),
        "<!-- orx:begin -->\n- 1\n- 2\n<!-- orx:end -->"
    );
    let w = warnings(&repo, &r.id).join("\n");
    assert!(w.contains("the last 3 were dropped"), "{w}");
}

#[test]
fn knowledge_deletions_beyond_the_limit_are_refused() {
    let step = files_step(&[("AGENTS.md", "<!-- orx:begin -->\n<!-- orx:end -->\n")]);
    let repo = Repo::new(
        &quick_config("knowledge:\n  max_deleted_lines: 1\n"),
        &quick_scenario(&step),
    );
    let original = "# A\n<!-- orx:begin -->\n- keep 1\n- keep 2\n<!-- orx:end -->\n";
    commit_file(&repo, "AGENTS.md", original);
    let r = quick_run(&repo);
    r.expect_code(0);
    assert_eq!(
        show(&repo, &r.id, "AGENTS.md") + "\n",
        original,
        "the block survived"
    );
    let w = warnings(&repo, &r.id).join("\n");
    assert!(w.contains("would delete 2 lines"), "{w}");
}

#[test]
fn a_disabled_knowledge_stage_is_skipped_without_warnings() {
    let step = files_step(&[("AGENTS.md", "<!-- orx:begin -->\n- x\n<!-- orx:end -->\n")]);
    let repo = Repo::new(
        &quick_config("knowledge:\n  enabled: false\n"),
        &quick_scenario(&step),
    );
    let r = quick_run(&repo);
    r.expect_code(0);
    let st = repo.state(&r.id);
    let k = st["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == "knowledge")
        .unwrap()
        .clone();
    assert_eq!(k["status"], "skipped");
    assert_eq!(st["status"], "succeeded");
    assert!(warnings(&repo, &r.id).is_empty());
    let ev = repo.events(&r.id);
    assert!(ev
        .iter()
        .any(|e| e["event"] == "stage_skipped" && e["stage"] == "knowledge"));
    assert!(!repo
        .run_dir(&r.id)
        .join("prompts/knowledge_update.md")
        .exists());
    let log = git(
        repo.path(),
        &["log", "--format=%s", &format!("main..orx/{}", r.id)],
    );
    assert!(!log.contains("knowledge"), "{log}");
}

#[test]
fn a_failing_knowledge_agent_never_fails_a_shipped_run() {
    let repo = Repo::new(
        &quick_config(""),
        &quick_scenario(
            "{error: \"rate limited\", exit_code: 1, files: {\"AGENTS.md\": \"junk\"}}",
        ),
    );
    let r = quick_run(&repo);
    r.expect_code(0);
    assert_eq!(repo.state(&r.id)["status"], "succeeded");
    let w = warnings(&repo, &r.id).join("\n");
    assert!(w.contains("knowledge update failed"), "{w}");
    let files = git(
        repo.path(),
        &["ls-tree", "-r", "--name-only", &format!("orx/{}", r.id)],
    );
    assert!(!files.contains("AGENTS.md"), "{files}");
}

#[test]
fn failed_attempts_feed_lessons_into_the_knowledge_prompt() {
    let repo = Repo::new(&standard_config(""), &standard_scenario(0));
    let r = repo.run("Add add() and mul()", &[]);
    r.expect_code(0);
    let lessons = repo.read(&r.id, "context/lessons.md");
    assert!(
        lessons.contains("W001 attempt 1: gate `add_is_right` failed"),
        "{lessons}"
    );
    assert!(lessons.contains("W001 passed on attempt 2"), "{lessons}");
    let prompt = repo.read(&r.id, "prompts/knowledge_update.md");
    assert!(prompt.contains("W001 attempt 1"), "{prompt}");
}

const HOOK_LOG: &str = "echo \"$ORX_EVENT|$ORX_STAGE|$ORX_STATUS|$ORX_ITEM|$ORX_RUN_ID|$ORX_WORKTREE|$PWD\" >> \"$ORX_RUN_DIR/hooks.txt\"; cat >> \"$ORX_RUN_DIR/hooks.jsonl\"; echo >> \"$ORX_RUN_DIR/hooks.jsonl\"";

#[test]
fn hooks_receive_env_and_json_on_every_lifecycle_event() {
    let h = yaml_str(HOOK_LOG);
    let extra = format!(
        "hooks:\n  run_start: [{{command: {h}}}]\n  stage_start: [{{command: {h}}}]\n  stage_end: [{{command: {h}}}]\n  gate_failed: [{{command: {h}}}]\n  run_end: [{{command: {h}}}]\n  run_failed: [{{command: {h}}}]\n"
    );
    let repo = Repo::new(&standard_config(&extra), &standard_scenario(0));
    let r = repo.run("Add add() and mul()", &[]);
    r.expect_code(0);
    let lines = repo.read(&r.id, "hooks.txt");
    let wt = repo.path().join(".worktrees").join(&r.id);
    let wt = std::fs::canonicalize(wt).unwrap();
    let first = lines.lines().next().unwrap();
    let f: Vec<&str> = first.split('|').collect();
    assert_eq!(&f[..5], ["run_start", "plan", "started", "", r.id.as_str()]);
    assert_eq!(std::fs::canonicalize(f[5]).unwrap(), wt);
    assert_eq!(
        std::fs::canonicalize(f[6]).unwrap(),
        wt,
        "hooks run in the worktree"
    );
    for want in [
        "stage_start|plan|running",
        "stage_end|plan|done",
        "stage_start|knowledge|running",
        "gate_failed|verify|failed|W001",
        "run_end||succeeded",
    ] {
        assert!(lines.contains(want), "no `{want}` in\n{lines}");
    }
    assert!(!lines.contains("run_failed"));
    assert!(lines.lines().last().unwrap().starts_with("run_end|"));
    let json: Vec<serde_json::Value> = repo
        .read(&r.id, "hooks.jsonl")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("hook stdin is one JSON object"))
        .collect();
    assert_eq!(json.len(), lines.lines().count());
    assert_eq!(json[0]["event"], "run_start");
    assert_eq!(json[0]["run_id"], r.id.as_str());
    let gate = json
        .iter()
        .find(|j| j["event"] == "gate_failed")
        .expect("gate_failed fired");
    assert_eq!(gate["item"], "W001");
    assert_eq!(gate["gate"]["name"], "add_is_right");
    assert_eq!(gate["gate"]["exit_code"], 1);
    let ev = repo.events(&r.id);
    assert!(ev
        .iter()
        .any(|e| e["event"] == "hook" && e["hook"] == "gate_failed" && e["ok"] == true));
    assert!(repo
        .run_dir(&r.id)
        .join("logs/hook_run_start_1.log")
        .exists());
}

#[test]
fn a_blocking_stage_start_hook_vetoes_and_resume_continues_once_it_allows() {
    let veto = "if [ -f ../../veto ] && [ \"$ORX_STAGE\" = spec ]; then echo vetoed; exit 7; fi";
    let extra = format!(
        "hooks:\n  stage_start:\n    - command: {}\n      blocking: true\n  run_failed:\n    - command: {}\n",
        yaml_str(veto),
        yaml_str("touch \"$ORX_RUN_DIR/failed_hook_ran\"")
    );
    let repo = Repo::new(&standard_config(&extra), &standard_scenario(0));
    std::fs::write(repo.path().join("veto"), "").unwrap();
    let r = repo.run("Add add() and mul()", &[]);
    r.expect_code(1);
    let st = repo.state(&r.id);
    assert_eq!(st["status"], "failed");
    assert_eq!(st["last_failure"]["reason"], "hook_veto");
    assert_eq!(st["last_failure"]["stage"], "spec");
    let msg = st["last_failure"]["message"].as_str().unwrap();
    assert!(
        msg.contains("exit code 7") && msg.contains("hook #1"),
        "{msg}"
    );
    assert!(repo.run_dir(&r.id).join("failed_hook_ran").exists());
    assert!(repo
        .read(&r.id, "logs/hook_stage_start_1.log")
        .contains("vetoed"));
    assert!(!repo.run_dir(&r.id).join("context/spec.md").exists());

    std::fs::remove_file(repo.path().join("veto")).unwrap();
    let r2 = RunResult::from(repo.orx(&["resume", &r.id, "--no-progress"]));
    r2.expect_code(0);
    assert_eq!(repo.state(&r.id)["status"], "succeeded");
    assert!(repo.run_dir(&r.id).join("context/spec.md").exists());
}

#[test]
fn a_blocking_run_start_hook_vetoes_the_whole_run() {
    let extra = "hooks:\n  run_start:\n    - command: exit 4\n      blocking: true\n";
    let repo = Repo::new(&standard_config(extra), &standard_scenario(0));
    let r = repo.run("Add add() and mul()", &[]);
    r.expect_code(1);
    let st = repo.state(&r.id);
    assert_eq!(st["last_failure"]["reason"], "hook_veto");
    assert!(!repo.run_dir(&r.id).join("context/plan.md").exists());
    // A non-blocking failure is only a warning.
    let extra = "hooks:\n  run_start:\n    - command: exit 4\n";
    let repo = Repo::new(&standard_config(extra), &standard_scenario(0));
    let r = repo.run("Add add() and mul()", &[]);
    r.expect_code(0);
    assert!(warnings(&repo, &r.id)
        .join("\n")
        .contains("run_start hook #1 `exit 4` failed"));
}

#[test]
fn worktree_copy_brings_ignored_files_and_setup_runs_once_across_resume() {
    let veto = "if [ -f ../../veto ] && [ \"$ORX_STAGE\" = spec ]; then exit 7; fi";
    let extra = format!(
        "worktree:\n  copy: [.env.local, tracked.txt, config/*.local]\n  setup: [{}]\nhooks:\n  stage_start: [{{command: {}, blocking: true}}]\n",
        yaml_str("echo run >> ../../setup_count; test -f .env.local"),
        yaml_str(veto)
    );
    let config = standard_config(&extra).replace(
        "command: \"true\"",
        "command: \"grep -q SECRET .env.local\"",
    );
    assert!(config.contains("SECRET"));
    let repo = Repo::new(&config, &standard_scenario(0));
    commit_file(
        &repo,
        ".gitignore",
        ".env.local\n*.local\n/veto\n/setup_count\n",
    );
    commit_file(&repo, "tracked.txt", "tracked\n");
    std::fs::write(repo.path().join(".env.local"), "SECRET=1\n").unwrap();
    std::fs::create_dir_all(repo.path().join("config")).unwrap();
    std::fs::write(repo.path().join("config/db.local"), "db\n").unwrap();
    std::fs::write(repo.path().join("veto"), "").unwrap();

    let r = repo.run("Add add() and mul()", &[]);
    r.expect_code(1);
    assert_eq!(repo.state(&r.id)["last_failure"]["reason"], "hook_veto");
    let wt = repo.path().join(".worktrees").join(&r.id);
    assert_eq!(
        std::fs::read_to_string(wt.join(".env.local")).unwrap(),
        "SECRET=1\n"
    );
    assert!(wt.join("config/db.local").exists());
    std::fs::remove_file(repo.path().join("veto")).unwrap();
    RunResult::from(repo.orx(&["resume", &r.id, "--no-progress"])).expect_code(0);

    let count = std::fs::read_to_string(repo.path().join("setup_count")).unwrap();
    assert_eq!(count.lines().count(), 1, "setup ran once: {count}");
    assert!(warnings(&repo, &r.id)
        .join("\n")
        .contains("worktree.copy skipped tracked.txt"));
    let patch = repo.read(&r.id, "artifacts/patch.diff");
    assert!(
        !patch.contains(".env.local") && !patch.contains("SECRET"),
        "{patch}"
    );
    let files = git(
        repo.path(),
        &["ls-tree", "-r", "--name-only", &format!("orx/{}", r.id)],
    );
    assert!(
        !files.contains(".env.local") && !files.contains("db.local"),
        "{files}"
    );
    let ev = repo.events(&r.id);
    assert!(ev.iter().any(|e| e["event"] == "files_copied"
        && e["files"] == serde_json::json!([".env.local", "config/db.local"])));
    assert!(ev
        .iter()
        .any(|e| e["event"] == "setup_command" && e["ok"] == true));
}

#[test]
fn a_failing_setup_command_fails_the_run_and_resume_retries_it() {
    let extra = format!(
        "worktree:\n  setup: [{}]\n",
        yaml_str("echo try >> ../../setup_count; test -f ../../setup_ok")
    );
    let repo = Repo::new(&standard_config(&extra), &standard_scenario(0));
    let r = repo.run("Add add() and mul()", &[]);
    r.expect_code(1);
    let st = repo.state(&r.id);
    assert_eq!(st["last_failure"]["reason"], "setup_failed");
    assert_eq!(st["worktree_setup_done"], false);
    assert!(st["last_failure"]["message"]
        .as_str()
        .unwrap()
        .contains("logs/setup_1.log"));
    assert!(!repo.run_dir(&r.id).join("context/plan.md").exists());
    std::fs::write(repo.path().join("setup_ok"), "").unwrap();
    RunResult::from(repo.orx(&["resume", &r.id, "--no-progress"])).expect_code(0);
    let count = std::fs::read_to_string(repo.path().join("setup_count")).unwrap();
    assert_eq!(count.lines().count(), 2);
}

fn age_run(repo: &Repo, id: &str) {
    for file in ["meta.json", "state.json"] {
        let p = repo.run_dir(id).join(file);
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        v["created_at"] = "2020-01-01T00:00:00.000Z".into();
        std::fs::write(&p, serde_json::to_string(&v).unwrap()).unwrap();
    }
}

#[test]
fn clean_older_than_removes_only_old_runs_and_reports_space() {
    let repo = Repo::new(&quick_config(""), &quick_scenario("{text: ok}"));
    let old = quick_run(&repo);
    old.expect_code(0);
    let new = quick_run(&repo);
    new.expect_code(0);
    age_run(&repo, &old.id);
    let r = RunResult::from(repo.orx(&["clean", "--older-than", "7d"]));
    r.expect_code(0);
    assert!(
        r.stdout.contains(&format!("removed {}", old.id)),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("freed") && !r.stdout.contains("freed 0 B"),
        "{}",
        r.stdout
    );
    assert!(!repo.run_dir(&old.id).exists());
    assert!(repo.run_dir(&new.id).exists());
    assert!(git(
        repo.path(),
        &["branch", "--list", &format!("orx/{}", old.id)]
    )
    .is_empty());
    let bad = RunResult::from(repo.orx(&["clean", "--older-than", "soon"]));
    bad.expect_code(2);
    RunResult::from(repo.orx(&["clean"])).expect_code(2);
}

#[test]
fn clean_orphans_removes_the_worktree_branch_and_refs_of_a_deleted_run() {
    let repo = Repo::new(&quick_config(""), &quick_scenario("{text: ok}"));
    let gone = quick_run(&repo);
    gone.expect_code(0);
    let kept = quick_run(&repo);
    kept.expect_code(0);
    git(
        repo.path(),
        &["update-ref", &format!("refs/orx/{}/wip", gone.id), "HEAD"],
    );
    std::fs::remove_dir_all(repo.run_dir(&gone.id)).unwrap();
    let r = RunResult::from(repo.orx(&["clean", "--orphans"]));
    r.expect_code(0);
    assert!(r.stdout.contains("orphan worktree"), "{}", r.stdout);
    assert!(r.stdout.contains("freed"), "{}", r.stdout);
    assert!(!repo.path().join(".worktrees").join(&gone.id).exists());
    assert!(git(
        repo.path(),
        &["branch", "--list", &format!("orx/{}", gone.id)]
    )
    .is_empty());
    assert!(git(
        repo.path(),
        &["for-each-ref", &format!("refs/orx/{}/", gone.id)]
    )
    .is_empty());
    // The run that still has its folder is untouched.
    assert!(repo.path().join(".worktrees").join(&kept.id).exists());
    assert!(!git(
        repo.path(),
        &["branch", "--list", &format!("orx/{}", kept.id)]
    )
    .is_empty());
    assert_eq!(git(repo.path(), &["worktree", "list"]).lines().count(), 2);
}

#[test]
fn retention_keeps_at_most_max_runs() {
    let repo = Repo::new(
        &quick_config("retention:\n  max_runs: 2\n"),
        &quick_scenario("{text: ok}"),
    );
    let a = quick_run(&repo);
    a.expect_code(0);
    let b = quick_run(&repo);
    b.expect_code(0);
    let c = quick_run(&repo);
    c.expect_code(0);
    assert!(!repo.run_dir(&a.id).exists());
    assert!(repo.run_dir(&b.id).exists() && repo.run_dir(&c.id).exists());
    assert!(
        c.stderr.contains("retention removed 1 old run"),
        "{}",
        c.stderr
    );
    assert!(repo
        .events(&c.id)
        .iter()
        .any(|e| e["event"] == "retention_applied" && e["removed"][0] == a.id.as_str()));
}

#[test]
fn retention_and_clean_by_age_never_take_a_run_awaiting_approval() {
    let repo = Repo::new(
        &quick_config("retention:\n  max_runs: 2\n"),
        &quick_scenario("{text: ok}"),
    );
    let waiting = repo.run(
        "add the feature",
        &["--pipeline", "quick", "--approve", "ship"],
    );
    waiting.expect_code(4);
    let b = quick_run(&repo);
    b.expect_code(0);
    let c = quick_run(&repo);
    c.expect_code(0);
    // Three runs for a limit of two: the oldest is the one a person has yet to approve, so
    // the next oldest goes instead.
    assert!(repo.run_dir(&waiting.id).exists(), "{}", c.stderr);
    assert!(!repo.run_dir(&b.id).exists());
    assert!(repo.run_dir(&c.id).exists());
    let cleaned = RunResult::from(repo.orx(&["clean", "--older-than", "0s"]));
    cleaned.expect_code(0);
    assert!(repo.run_dir(&waiting.id).exists(), "{}", cleaned.stdout);
    assert!(!repo.run_dir(&c.id).exists());
}
