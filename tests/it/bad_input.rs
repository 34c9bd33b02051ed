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

/// Run `orx run @<path>` and give up (failing) if it has not exited within 60 s: a FIFO or
/// an endless device must be refused at once, not read.
fn run_task_file(repo: &Repo, path: &std::path::Path) -> RunResult {
    let mut child = repo
        .cmd(&["run", &format!("@{}", path.display()), "--no-progress"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if child.try_wait().unwrap().is_some() {
            return RunResult::from(child.wait_with_output().unwrap());
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("orx run @{} did not exit", path.display());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn task_files_that_are_not_small_regular_text_are_refused_with_exit_2() {
    let repo = Repo::new(&standard_config(""), &standard_scenario(0));
    let dir = tempfile::tempdir().unwrap();
    let nul = dir.path().join("nul.md");
    std::fs::write(&nul, "add a flag\0 and more").unwrap();
    assert_clean_error(&run_task_file(&repo, &nul), 2, "NUL byte");
    let fifo = dir.path().join("fifo.md");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    assert_clean_error(&run_task_file(&repo, &fifo), 2, "not a regular file");
    assert_clean_error(&run_task_file(&repo, dir.path()), 2, "not a regular file");
    assert_clean_error(
        &run_task_file(&repo, std::path::Path::new("/dev/zero")),
        2,
        "not a regular file",
    );
    let big = dir.path().join("big.md");
    std::fs::write(&big, "x".repeat(2 * 1024 * 1024)).unwrap();
    assert_clean_error(&run_task_file(&repo, &big), 2, "larger than");
    let latin1 = dir.path().join("latin1.md");
    std::fs::write(&latin1, b"caf\xe9").unwrap();
    assert_clean_error(&run_task_file(&repo, &latin1), 2, "UTF-8");
    assert!(
        !repo.path().join("runs").exists()
            || std::fs::read_dir(repo.path().join("runs")).unwrap().count() == 0,
        "no run was created"
    );
}

#[test]
fn a_non_utf8_state_file_and_a_folder_given_as_scenario_exit_2() {
    let repo = Repo::new(&standard_config(""), &standard_scenario(0));
    let r = repo.run("task", &[]);
    r.expect_code(0);
    std::fs::write(
        repo.run_dir(&r.id).join("state.json"),
        b"{\"version\": 1\xff}",
    )
    .unwrap();
    for cmd in ["resume", "status"] {
        assert_clean_error(
            &RunResult::from(repo.orx(&[cmd, &r.id])),
            2,
            "state file is corrupt",
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let out = repo.orx(&[
        "run",
        "task",
        "--scenario",
        dir.path().to_str().unwrap(),
        "--no-progress",
    ]);
    assert_clean_error(&RunResult::from(out), 2, "is a folder");
}
