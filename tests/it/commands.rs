//! init, status, clean, --version and completions.

use crate::support::*;

#[test]
fn init_detects_the_workspace_and_refuses_to_overwrite() {
    let repo = Repo::new("", "");
    std::fs::write(
        repo.path().join("pyproject.toml"),
        "[project]\nname = \"x\"\n",
    )
    .unwrap();
    let r = RunResult::from(repo.orx(&["init"]));
    r.expect_code(0);
    assert!(r.stdout.contains("python"), "{}", r.stdout);
    let cfg = std::fs::read_to_string(repo.path().join("orx.yaml")).unwrap();
    assert!(cfg.contains("ruff") && cfg.contains("pytest"), "{cfg}");
    let r = RunResult::from(repo.orx(&["init"]));
    r.expect_code(2);
    assert!(r.stderr.contains("--force"), "{}", r.stderr);
    std::fs::write(repo.path().join("orx.yaml"), "# mine\n").unwrap();
    RunResult::from(repo.orx(&["init", "--force"])).expect_code(0);
    assert!(std::fs::read_to_string(repo.path().join("orx.yaml"))
        .unwrap()
        .contains("ruff"));

    let repo = Repo::new("", "");
    std::fs::write(repo.path().join("Cargo.toml"), "[package]\nname = \"x\"\n").unwrap();
    RunResult::from(repo.orx(&["init"])).expect_code(0);
    assert!(std::fs::read_to_string(repo.path().join("orx.yaml"))
        .unwrap()
        .contains("clippy"));
}

#[test]
fn status_lists_runs_and_shows_one_in_detail() {
    let repo = Repo::new(&standard_config(""), &standard_scenario(0));
    let empty = RunResult::from(repo.orx(&["status"]));
    empty.expect_code(0);
    assert!(empty.stdout.contains("no runs yet"));
    let r = repo.run("Add add() and mul()", &[]);
    r.expect_code(0);
    let t = RunResult::from(repo.orx(&["status"]));
    t.expect_code(0);
    let header = t.stdout.lines().next().unwrap();
    for col in ["ID", "STATUS", "STAGE", "ITEM", "AGE", "TASK"] {
        assert!(header.contains(col), "{header}");
    }
    assert!(
        t.stdout.contains(&r.id)
            && t.stdout.contains("succeeded")
            && t.stdout.contains("Add add()")
    );
    let j = RunResult::from(repo.orx(&["status", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&j.stdout).unwrap();
    assert_eq!(v[0]["run_id"], r.id.as_str());
    let d = RunResult::from(repo.orx(&["status", &r.id]));
    d.expect_code(0);
    assert!(
        d.stdout.contains("W001") && d.stdout.contains("review") && d.stdout.contains("orx/"),
        "{}",
        d.stdout
    );
    let dj = RunResult::from(repo.orx(&["status", &r.id, "--json"]));
    let v: serde_json::Value = serde_json::from_str(&dj.stdout).unwrap();
    assert_eq!(v["live_status"], "succeeded");
}

#[test]
fn clean_removes_worktree_branch_and_folder() {
    let repo = Repo::new(&standard_config(""), &standard_scenario(0));
    let a = repo.run("a", &[]);
    let b = repo.run("b", &[]);
    a.expect_code(0);
    b.expect_code(0);
    let r = RunResult::from(repo.orx(&["clean", &a.id, "--keep-branch"]));
    r.expect_code(0);
    assert!(r.stdout.contains("freed"), "{}", r.stdout);
    assert!(!repo.run_dir(&a.id).exists());
    assert!(!repo.path().join(".worktrees").join(&a.id).exists());
    assert!(git(repo.path(), &["branch", "--list", &format!("orx/{}", a.id)]).contains(&a.id));
    RunResult::from(repo.orx(&["clean", "all"])).expect_code(0);
    assert!(!repo.run_dir(&b.id).exists());
    assert!(git(repo.path(), &["branch", "--list", &format!("orx/{}", b.id)]).is_empty());
    assert!(git(repo.path(), &["for-each-ref", "refs/orx/"]).is_empty());
    assert_eq!(git(repo.path(), &["worktree", "list"]).lines().count(), 1);
}

#[test]
fn clean_removes_only_what_status_lists_as_runs() {
    let repo = Repo::new(&standard_config(""), &standard_scenario(0));
    let run = repo.run("a", &[]);
    run.expect_code(0);
    // A folder of the user's that is named like a run but holds none.
    let mine = repo.path().join("runs/20260101-000000-mine00");
    std::fs::create_dir_all(mine.join("sub")).unwrap();
    std::fs::write(mine.join("notes.txt"), "keep me").unwrap();
    // A run killed right after creating its folder: only its lock.
    let early = "20260101-000001-early0";
    std::fs::create_dir_all(repo.path().join("runs").join(early)).unwrap();
    std::fs::write(repo.path().join("runs").join(early).join("lock"), "").unwrap();

    let listed = RunResult::from(repo.orx(&["status", "--json"]));
    listed.expect_code(0);
    let v: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
    let mut ids: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["run_id"].as_str().unwrap())
        .collect();
    ids.sort();
    let mut want = vec![run.id.as_str(), early];
    want.sort();
    assert_eq!(ids, want, "{}", listed.stdout);
    let early_row = v.as_array().unwrap().iter().find(|m| m["run_id"] == early);
    assert_eq!(early_row.unwrap()["status"], "interrupted", "{v}");

    // Named, it is no run either: refused, and nothing is created in it.
    for cmd in ["clean", "status", "resume"] {
        let r = RunResult::from(repo.orx(&[cmd, "20260101-000000-mine00"]));
        assert_eq!(r.code, 2, "{cmd}: {}", r.stderr);
        assert!(r.stderr.contains("unknown run id"), "{cmd}: {}", r.stderr);
    }
    let r = RunResult::from(repo.orx(&["clean", "all"]));
    r.expect_code(0);
    assert!(r.stdout.contains("cleaned 2 run(s)"), "{}", r.stdout);
    assert!(!repo.run_dir(&run.id).exists());
    assert!(!repo.run_dir(early).exists());
    let mut left: Vec<String> = std::fs::read_dir(&mine)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["notes.txt", "sub"]);
    assert_eq!(
        std::fs::read_to_string(mine.join("notes.txt")).unwrap(),
        "keep me"
    );
}

#[test]
fn version_and_completions() {
    let repo = Repo::new("", "");
    let v = RunResult::from(repo.orx(&["--version"]));
    v.expect_code(0);
    assert!(v.stdout.starts_with("orx "), "{}", v.stdout);
    let c = RunResult::from(repo.orx(&["completions", "bash"]));
    c.expect_code(0);
    assert!(c.stdout.contains("resume") && c.stdout.contains("_orx"));
}
