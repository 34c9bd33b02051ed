//! Every bad input gets one clear line on stderr and exit code 2, never a panic.

use crate::support::*;

fn assert_clean_error(r: &RunResult, code: i32, needle: &str) {
    r.expect_code(code);
    assert!(
        r.stderr.contains(needle),
        "stderr lacks {needle:?}:\n{}",
        r.stderr
    );
    assert!(r.stderr.starts_with("error: "), "{}", r.stderr);
    assert!(
        !r.stderr.contains("panicked") && !r.stderr.contains("RUST_BACKTRACE"),
        "{}",
        r.stderr
    );
}

#[test]
fn not_a_git_repository() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(ORX)
        .args(["run", "task"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_clean_error(&RunResult::from(out), 2, "not inside a git repository");
}

#[test]
fn unknown_base_branch() {
    let repo = Repo::new(&standard_config(""), &standard_scenario(0));
    let r = repo.run("task", &["--base-branch", "nope"]);
    assert_clean_error(&r, 2, "unknown base branch `nope`");
    assert!(
        !repo.path().join("runs").exists()
            || std::fs::read_dir(repo.path().join("runs")).unwrap().count() == 0,
        "nothing created"
    );
}

#[test]
fn missing_task_file() {
    let repo = Repo::new(&standard_config(""), &standard_scenario(0));
    assert_clean_error(
        &repo.run("@missing.md", &[]),
        2,
        "task file missing.md does not exist",
    );
}

#[test]
fn malformed_orx_yaml_names_file_line_and_column() {
    let repo = Repo::new(
        "version: \"1\"\ngit:\n  base_brach: main\n",
        &standard_scenario(0),
    );
    let r = repo.run("task", &[]);
    assert_clean_error(&r, 2, "orx.yaml:3:3: unknown key `base_brach`");
    assert!(
        r.stderr.contains("did you mean `base_branch`"),
        "{}",
        r.stderr
    );
    let repo = Repo::new(
        "version: \"1\"\nrun:\n  max_fix_attempts: lots\n",
        &standard_scenario(0),
    );
    assert_clean_error(&repo.run("task", &[]), 2, "orx.yaml:3:");
}

#[test]
fn malformed_scenario() {
    let repo = Repo::new(&standard_config(""), "plan: {txt: \"x\"}\n");
    let r = repo.run("task", &[]);
    assert_clean_error(&r, 2, "scenario.yaml:1:");
}

#[test]
fn unknown_run_id_and_path_tricks() {
    let repo = Repo::new(&standard_config(""), &standard_scenario(0));
    assert_clean_error(
        &RunResult::from(repo.orx(&["resume", "20990101-000000-abcdef"])),
        2,
        "unknown run id",
    );
    assert_clean_error(
        &RunResult::from(repo.orx(&["status", "../../etc"])),
        2,
        "is not a run id",
    );
    assert_clean_error(
        &RunResult::from(repo.orx(&["clean", "nope"])),
        2,
        "unknown run id",
    );
}

#[test]
fn corrupt_state_and_finished_runs_cannot_be_resumed() {
    let repo = Repo::new(&standard_config(""), &standard_scenario(0));
    let r = repo.run("task", &[]);
    r.expect_code(0);
    assert_clean_error(
        &RunResult::from(repo.orx(&["resume", &r.id])),
        2,
        "already finished",
    );
    std::fs::write(
        repo.run_dir(&r.id).join("state.json"),
        "{\"version\": 1, \"run_",
    )
    .unwrap();
    assert_clean_error(
        &RunResult::from(repo.orx(&["resume", &r.id])),
        2,
        "state file is corrupt",
    );
    assert_clean_error(
        &RunResult::from(repo.orx(&["status", &r.id])),
        2,
        "state file is corrupt",
    );
}

#[test]
fn unknown_engine_pipeline_and_missing_gate_program() {
    let repo = Repo::new(&standard_config(""), &standard_scenario(0));
    assert_clean_error(
        &repo.run("task", &["--engine", "gpt"]),
        2,
        "unknown executor `gpt`",
    );
    assert_clean_error(
        &repo.run("task", &["--pipeline", "warp"]),
        2,
        "unknown pipeline `warp`",
    );
    let repo = Repo::new(
        &config_with_gates(&[("lint", "no-such-linter --fix")], ""),
        &standard_scenario(0),
    );
    let r = repo.run("task", &[]);
    assert_clean_error(&r, 2, "gate `lint` needs `no-such-linter`");
    assert!(r.stderr.contains("gates[0].enabled: false"), "{}", r.stderr);
}

#[test]
fn empty_task_and_bad_flags() {
    let repo = Repo::new(&standard_config(""), &standard_scenario(0));
    assert_clean_error(&repo.run("   ", &[]), 2, "the task is empty");
    let r = RunResult::from(repo.orx(&["run"]));
    r.expect_code(2);
    let r = RunResult::from(repo.orx(&["frobnicate"]));
    r.expect_code(2);
}

#[test]
fn no_orx_yaml_uses_defaults_and_says_so() {
    let repo = Repo::new("", "");
    let out = repo.orx(&[
        "run",
        "Add the calculator",
        "--engine",
        "fake",
        "--no-progress",
    ]);
    let r = RunResult::from(out);
    r.expect_code(0);
    assert!(r.stderr.contains("no orx.yaml"), "{}", r.stderr);
    assert!(r.stderr.contains("built-in defaults"), "{}", r.stderr);
}
