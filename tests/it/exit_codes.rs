//! The README's exit-code table, one test per code, through the real binary.
//!
//! 0, 1, 2 and 130 are also exercised all over the suite (flows, bad_input, resume); here each
//! documented code has one test that pins its meaning, and a check that the table lists
//! exactly these codes. Code 3 is "orx itself failed underneath": git missing, and one of
//! orx's own run files gone mid-run, which is orx's problem and not the user's (exit 3, not 2).

use crate::support::*;

/// The codes in the README's `### Exit codes` table, in order.
fn documented_codes() -> Vec<i32> {
    let readme = include_str!("../../README.md");
    let table = readme
        .split("### Exit codes")
        .nth(1)
        .expect("README has an exit-code section");
    table
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| l.trim_start_matches('|').split('|').next())
        .filter_map(|cell| cell.trim().parse().ok())
        .collect()
}

/// One `error:` line (and maybe a `hint:`), never a panic.
fn one_error_line(r: &RunResult) -> String {
    let errors: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("error"))
        .collect();
    assert_eq!(errors.len(), 1, "one error line:\n{}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    errors[0].to_string()
}

#[test]
fn the_readme_documents_exactly_the_codes_tested_here() {
    assert_eq!(documented_codes(), [0, 1, 2, 3, 130, 4]);
}

#[test]
fn exit_0_when_the_run_succeeds() {
    let repo = Repo::new(&standard_config(""), &standard_scenario(0));
    let r = repo.run("add and mul", &[]);
    r.expect_code(0);
    assert_eq!(repo.state(&r.id)["status"], "succeeded");
}

#[test]
fn exit_1_when_the_run_fails_and_stays_resumable() {
    let repo = Repo::new(
        &config_with_gates(&[("never", "false")], "run:\n  max_fix_attempts: 1\n"),
        &standard_scenario(0),
    );
    let r = repo.run("add and mul", &[]);
    r.expect_code(1);
    assert_eq!(repo.state(&r.id)["status"], "failed");
}

#[test]
fn exit_2_for_a_usage_error() {
    let repo = Repo::new(&standard_config(""), &standard_scenario(0));
    let r = repo.run("@missing.md", &[]);
    r.expect_code(2);
    assert_eq!(
        one_error_line(&r),
        "error: task file missing.md does not exist"
    );
}

#[test]
fn exit_3_when_git_cannot_be_started() {
    let repo = Repo::new(&standard_config(""), &standard_scenario(0));
    let empty = tempfile::tempdir().unwrap();
    let r = RunResult::from(
        repo.cmd(&["run", "task", "--scenario", "scenario.yaml"])
            .env("PATH", empty.path())
            .output()
            .unwrap(),
    );
    r.expect_code(3);
    let line = one_error_line(&r);
    assert!(line.starts_with("error: cannot run `git "), "{line}");
    assert!(
        r.stderr
            .contains("hint: install git and make sure it is on PATH"),
        "{}",
        r.stderr
    );
}

#[test]
fn exit_3_when_one_of_orxs_own_run_files_is_gone() {
    // The gate removes the run's artifacts folder: writing the next artifact finds no folder.
    // That file is orx's own, so this is orx failing underneath (3), not a usage error (2).
    let repo = Repo::new(
        &config_with_gates(&[("vandal", "rm -rf ../../runs/*/artifacts")], ""),
        &standard_scenario(0),
    );
    let r = repo.run("add and mul", &[]);
    r.expect_code(3);
    let line = one_error_line(&r);
    assert!(
        line.starts_with("error: cannot write ") && line.contains("/artifacts/"),
        "{line}"
    );
    assert!(
        line.ends_with("No such file or directory (os error 2)"),
        "{line}"
    );
}

#[test]
fn exit_130_when_interrupted() {
    let repo = Repo::new(&standard_config(""), &standard_scenario(0));
    // A gate that interrupts orx itself: the signal lands at a known step, not after a sleep.
    std::fs::write(
        repo.path().join("orx.yaml"),
        config_with_gates(&[("stop", "kill -INT $PPID; true")], ""),
    )
    .unwrap();
    let r = repo.run("add and mul", &[]);
    r.expect_code(130);
    assert_eq!(repo.state(&r.id)["status"], "interrupted");
}

#[test]
fn exit_4_when_the_run_stops_at_an_approval_checkpoint() {
    let repo = Repo::new(&standard_config(""), &standard_scenario(0));
    let r = repo.run("add and mul", &["--approve", "spec"]);
    r.expect_code(4);
    let st = repo.state(&r.id);
    assert_eq!(st["status"], "awaiting_approval");
    assert_eq!(st["checkpoint"]["stage"], "spec");
    assert!(r.stdout.contains(&format!("runs/{}/context/spec.md", r.id)));
}
