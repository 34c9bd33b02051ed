//! Strays through the real `orx` binary, in each way orx can find them (`ORX_STRAY_TRACKING`
//! forces a weaker one; unset is the best this machine offers, which `orx doctor` names): a
//! gate's double-forked, `setsid` sleeper is killed before the next gate starts, and a happy
//! run reads no other process's environment unless only the scan of `/proc` is left.

use crate::support::*;

/// The mode `orx doctor --json` reports under `env` (the `strays` check's `program`).
fn doctor_mode(repo: &Repo, forced: Option<&str>) -> String {
    let mut cmd = repo.cmd(&["doctor", "--json"]);
    if let Some(mode) = forced {
        cmd.env("ORX_STRAY_TRACKING", mode);
    }
    let out = cmd.output().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let check = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "strays")
        .cloned()
        .unwrap_or_else(|| panic!("no strays check: {json:#}"));
    assert_eq!(check["kind"], "system");
    check["program"].as_str().unwrap().to_string()
}

/// `implement` alone, one item writing one file, with these gates.
fn repo_with_gates(gates: &[(&str, &str)]) -> Repo {
    let scenario = format!(
        "implement:\n  default: {}\n",
        files_step(&[("f.txt", "f\n")])
    );
    let cfg = config_with_gates(gates, "pipelines:\n  quick: [implement]\n");
    Repo::new(&cfg, &scenario)
}

fn run_in_mode(repo: &Repo, forced: Option<&str>) -> RunResult {
    let mut cmd = repo.cmd(&[
        "run",
        "a task",
        "--scenario",
        "scenario.yaml",
        "--no-progress",
        "--pipeline",
        "quick",
    ]);
    if let Some(mode) = forced {
        cmd.env("ORX_STRAY_TRACKING", mode);
    }
    RunResult::from(cmd.output().unwrap())
}

/// `metrics/run.json` → `strays`: (mode, environment reads).
fn stray_metrics(repo: &Repo, id: &str) -> (String, u64) {
    let m: serde_json::Value = serde_json::from_str(&repo.read(id, "metrics/run.json")).unwrap();
    (
        m["strays"]["mode"].as_str().unwrap().to_string(),
        m["strays"]["environ_reads"].as_u64().unwrap(),
    )
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rfind(')')
            .is_some_and(|i| !s[i + 1..].trim_start().starts_with('Z'))
    })
}

fn modes(repo: &Repo) -> Vec<(Option<&'static str>, String)> {
    let best = doctor_mode(repo, None);
    assert!(
        ["cgroup", "subreaper", "scan"].contains(&best.as_str()),
        "{best}"
    );
    let mut out = vec![(None, best.clone())];
    if best == "cgroup" {
        out.push((Some("subreaper"), doctor_mode(repo, Some("subreaper"))));
    }
    out.push((Some("scan"), "scan".to_string()));
    out
}

#[test]
fn a_gates_double_forked_setsid_sleeper_is_killed_before_the_next_gate() {
    let tmp = tempfile::tempdir().unwrap();
    let pidfile = tmp.path().join("sleeper.pid");
    let p = pidfile.display();
    // The subshell exits at once: the sleeper has no parent in the gate's tree, and `setsid`
    // took it out of the gate's process group and session. The gate waits until it runs.
    let escape = format!(
        "(setsid sh -c 'echo $$ > {p}; exec sleep 1000' &); while [ ! -s {p} ]; do sleep 0.01; done"
    );
    // The next gate passes only if the sleeper is gone (killed and reaped) by then.
    let gone = format!("! kill -0 $(cat {p}) 2>/dev/null");
    let repo = repo_with_gates(&[("escape", &escape), ("gone", &gone)]);
    for (forced, mode) in modes(&repo) {
        std::fs::remove_file(&pidfile).ok();
        let r = run_in_mode(&repo, forced);
        let pid: u32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let survived = alive(pid);
        if survived {
            // SAFETY: kill has no memory-safety preconditions.
            unsafe {
                libc::kill(pid as i32, libc::SIGKILL);
            }
        }
        assert!(!survived, "{mode}: the sleeper {pid} outlived the run");
        r.expect_code(0);
        assert_eq!(stray_metrics(&repo, &r.id).0, mode);
    }
}

#[test]
fn a_happy_run_reads_no_other_process_environment_unless_it_must_scan() {
    let repo = repo_with_gates(&[("ok", "true"), ("also", "test -f f.txt")]);
    for (forced, mode) in modes(&repo) {
        let r = run_in_mode(&repo, forced);
        r.expect_code(0);
        let (seen, reads) = stray_metrics(&repo, &r.id);
        assert_eq!(seen, mode);
        if mode == "scan" {
            // The counter counts: every call reads every process's environment.
            assert!(reads > 0, "{mode}: {reads}");
        } else {
            assert_eq!(reads, 0, "{mode}");
        }
    }
}
