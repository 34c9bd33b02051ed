//! Strays through the real `orx` binary, in each way orx can find them (`ORX_STRAY_TRACKING`
//! forces a weaker one; unset is the best this machine offers, which `orx doctor` names): a
//! gate's double-forked, `setsid` sleeper is killed before the next gate starts, a happy run
//! reads no other process's environment unless only the scan of `/proc` is left, and the
//! cgroup of a run killed and never resumed is removed by the next orx that starts a child.

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

/// `orx run` of the one-stage pipeline of [`repo_with_gates`].
fn quick_run(repo: &Repo) -> std::process::Command {
    repo.cmd(&[
        "run",
        "a task",
        "--scenario",
        "scenario.yaml",
        "--no-progress",
        "--pipeline",
        "quick",
    ])
}

fn run_in_mode(repo: &Repo, forced: Option<&str>) -> RunResult {
    let mut cmd = quick_run(repo);
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

/// The folder of the cgroup v2 `path` (as `/proc/<pid>/cgroup` shows it after `0::`).
fn cgroup_dir(path: &str) -> std::path::PathBuf {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let (root, point) = mountinfo
        .lines()
        .find_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            (right.split_whitespace().next()? == "cgroup2").then(|| {
                let f: Vec<&str> = left.split_whitespace().collect();
                (f[3].to_string(), f[4].to_string())
            })
        })
        .expect("a cgroup2 mount, since doctor reports the cgroup mode");
    let rel = path
        .strip_prefix(root.trim_end_matches('/'))
        .unwrap_or(path);
    std::path::Path::new(&point).join(rel.trim_start_matches('/'))
}

#[test]
fn the_cgroup_of_a_killed_run_never_resumed_is_removed_by_the_next_orx() {
    let tmp = tempfile::tempdir().unwrap();
    let (pidfile, cgfile) = (tmp.path().join("gate.pid"), tmp.path().join("gate.cgroup"));
    // The gate says where it runs, then waits to be killed with its orx.
    let gate = format!(
        "echo $$ > {}.tmp && mv {0}.tmp {0}; \
         grep '^0::' /proc/self/cgroup > {1}.tmp && mv {1}.tmp {1}; exec sleep 1000",
        pidfile.display(),
        cgfile.display()
    );
    let repo = repo_with_gates(&[("hold", &gate)]);
    if doctor_mode(&repo, None) != "cgroup" {
        eprintln!("no cgroup mode on this machine: nothing to test");
        return;
    }
    let mut orx = quick_run(&repo)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let line = crate::waiting::until("the gate to say its cgroup", || {
        std::fs::read_to_string(&cgfile).ok()
    });
    let leaf = cgroup_dir(line.trim().trim_start_matches("0::"));
    let group = leaf.parent().unwrap().to_path_buf();
    assert!(
        group
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("orx-run-"),
        "{}",
        leaf.display()
    );
    let gate_pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // The driver dies without a word; its gate ends too (with it, or here), and nobody ever
    // resumes or cleans the run.
    orx.kill().unwrap();
    orx.wait().unwrap();
    // SAFETY: kill has no memory-safety preconditions.
    unsafe {
        libc::kill(gate_pid, libc::SIGKILL);
    }
    // Empty, or already gone: the orx of a test running beside this one may sweep it first.
    crate::waiting::until(
        "the gate's leaf to empty",
        || match std::fs::read_to_string(leaf.join("cgroup.procs")) {
            Ok(procs) => procs.trim().is_empty().then_some(()),
            Err(_) => (!leaf.exists()).then_some(()),
        },
    );
    // Any orx that starts a child sweeps: here doctor's version checks.
    doctor_mode(&repo, None);
    assert!(!leaf.exists(), "{}", leaf.display());
    assert!(!group.exists(), "{}", group.display());
}
