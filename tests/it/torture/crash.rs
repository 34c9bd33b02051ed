//! Crash and resume: `orx run` killed with SIGKILL at random instants (then its resumes killed
//! again, up to three kills per run), resumed until it finishes. Every step checks that the
//! state (state.json and every complete line of its journal) parses; the end checks the patch
//! against an uninterrupted run, the push and the single pull request, that no process of the
//! run survives, and that `orx clean` leaves no worktree, branch or ref behind.
//!
//! The instants are drawn uniformly over the uninterrupted run's duration, whose stages all
//! take time on purpose: each agent call sleeps, one gate sleeps, and ship pushes to a bare
//! remote and calls a stand-in `gh` that sleeps. orx has no crash-point hook, so a kill lands
//! mid-write of state by timing alone; the campaign counts how often that happened by the
//! `.state.json.tmp-<pid>-<n>` file or the torn last journal line the kill left behind.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::Instant;

use super::{kill_all, pids_with_env, report, scale, Rng};
use crate::support::*;
use crate::waiting::{lock_released, until, SAFETY_BOUND};

const TASK: &str = "Add add() and mul()";

/// A `gh` stand-in that records each creation by its head branch, in one append: a PR exists
/// once its line does, as on GitHub, so a kill cannot land between creating a PR and
/// recording it.
fn gh_stand_in(dir: &Path) -> std::ffi::OsString {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let d = dir.display();
    let script = format!(
        r#"#!/bin/sh
D='{d}'
head=""; prev=""
for a in "$@"; do [ "$prev" = "--head" ] && head="$a"; prev="$a"; done
case "$1 $2" in
  "auth status") echo "Logged in to github.com" >&2; exit 0 ;;
  "pr list"|"pr view") grep -qxF "$head" "$D/creates.log" 2>/dev/null && echo "https://github.com/acme/demo/pull/1"; exit 0 ;;
  "pr create")
    sleep 0.1
    echo "$head" >> "$D/creates.log"
    echo "https://github.com/acme/demo/pull/1"; exit 0 ;;
esac
echo "unknown command: $*" >&2; exit 1
"#
    );
    let path = bin.join("gh");
    std::fs::write(&path, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let old = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![bin];
    dirs.extend(std::env::split_paths(&old).filter(|d| !d.join("gh").exists()));
    std::env::join_paths(dirs).unwrap()
}

fn crash_config() -> String {
    config_with_gates(
        &[
            (
                "add_is_right",
                "sleep 0.1; test ! -f calc.py || grep -q 'return a + b' calc.py",
            ),
            ("syntax", "true"),
        ],
        "run:\n  max_fix_attempts: 3\n",
    )
    .replace(
        "git:\n  base_branch: main\n",
        "git:\n  base_branch: main\n  auto_push: true\n  create_pr: true\n",
    )
}

fn run_ids(repo: &Repo) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(repo.path().join("runs"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

/// What one kill left: state.json parsed (or absent), and what was caught mid-flight.
struct KillSite {
    stage: String,
    mid_state_write: bool,
    orphan_kinds: Vec<&'static str>,
}

fn inspect(repo: &Repo, id: &str, ctx: &str) -> KillSite {
    let dir = repo.run_dir(id);
    let stage = if dir.join("state.json").exists() {
        let st = crate::support::replayed_state(&dir).unwrap_or_else(|e| panic!("{ctx}: {e}"));
        match st["current_stage"].as_str() {
            Some(s) if st["status"] == "running" => s.to_string(),
            _ => st["status"].as_str().unwrap_or("?").to_string(),
        }
    } else {
        "before state".to_string()
    };
    let mid_state_write = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.flatten().any(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(".state.json.tmp-")
            })
        })
        .unwrap_or(false)
        || std::fs::read(dir.join("state.jsonl"))
            .is_ok_and(|j| j.last().is_some_and(|&b| b != b'\n'));
    let orphans = pids_with_env(&format!("ORX_RUN_ID={id}"));
    let orphan_kinds = orphans
        .iter()
        .map(|pid| {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let program = cmd.split(|b| *b == 0).next().unwrap_or_default();
            let program = String::from_utf8_lossy(program);
            let cmd = String::from_utf8_lossy(&cmd);
            if cmd.contains("fake-agent") {
                "agent"
            } else if cmd.contains("gh") && cmd.contains("pr") {
                "gh"
            } else if program
                .rsplit('/')
                .next()
                .is_some_and(|p| p.starts_with("git"))
            {
                // A push (and the remote's receive-pack) the kill caught: the run's own git
                // processes carry the run's id too.
                "git"
            } else {
                "gate"
            }
        })
        .collect();
    KillSite {
        stage,
        mid_state_write,
        orphan_kinds,
    }
}

#[test]
fn sigkill_at_random_instants_then_resume_gives_the_same_patch() {
    let runs = scale(20, 200);
    let mut rng = Rng::new("crash");
    let seed = rng.seed;
    let repo = Repo::new(&crash_config(), &standard_scenario(30));
    let bare = bare_origin(repo.path());
    let ghdir = tempfile::tempdir().unwrap();
    let path = gh_stand_in(ghdir.path());
    let orx = |args: &[&str]| RunResult::from(repo.cmd(args).env("PATH", &path).output().unwrap());

    let t0 = Instant::now();
    let clean = orx(&["run", TASK, "--scenario", "scenario.yaml", "--no-progress"]);
    clean.expect_code(0);
    let total = t0.elapsed();
    let reference = repo.read(&clean.id, "artifacts/patch.diff");
    orx(&["clean", &clean.id]).expect_code(0);
    report("crash", &format!("uninterrupted run: {total:?}"));

    let mut stages: BTreeMap<String, usize> = BTreeMap::new();
    let mut orphan_kinds: BTreeMap<&str, usize> = BTreeMap::new();
    let (mut kills, mut mid_write, mut before_run, mut before_state) = (0, 0, 0, 0);
    let (mut resumes, mut finished_before_kill, mut completed) = (0, 0, 0);
    let mut known = run_ids(&repo);
    for n in 0..runs {
        let ctx = format!("run {n} (seed {seed})");
        let kills_wanted = 1 + rng.below(3);
        let mut child = repo
            .cmd(&["run", TASK, "--scenario", "scenario.yaml", "--no-progress"])
            .env("PATH", &path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(rng.upto(total.mul_f64(1.05)));
        let _ = child.kill();
        let status = child.wait().unwrap();
        kills += 1;
        let ids = run_ids(&repo);
        let Some(id) = ids.iter().find(|i| !known.contains(i)).cloned() else {
            before_run += 1;
            continue;
        };
        known.push(id.clone());
        lock_released(&repo.run_dir(&id));
        let mut site = inspect(&repo, &id, &ctx);
        if status.success() {
            finished_before_kill += 1;
            kills -= 1;
        }
        let mut done_kills = 1;
        loop {
            if site.stage != "succeeded" {
                *stages.entry(site.stage.clone()).or_default() += 1;
            }
            mid_write += usize::from(site.mid_state_write);
            for k in &site.orphan_kinds {
                *orphan_kinds.entry(k).or_default() += 1;
            }
            if site.stage == "before state" {
                // Killed between creating the folder and the first state write: nothing ran,
                // the run cannot be resumed, and clean must still remove it.
                before_state += 1;
                let r = orx(&["resume", &id, "--no-progress"]);
                r.expect_code(2);
                break;
            }
            if site.stage == "succeeded" {
                break;
            }
            if done_kills < kills_wanted {
                // Resume, and kill the resume too.
                let mut c = repo
                    .cmd(&["resume", &id, "--no-progress"])
                    .env("PATH", &path)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap();
                std::thread::sleep(rng.upto(total.mul_f64(0.8)));
                let _ = c.kill();
                let st = c.wait().unwrap();
                lock_released(&repo.run_dir(&id));
                resumes += 1;
                if !st.success() {
                    kills += 1;
                }
                done_kills += 1;
                site = inspect(&repo, &id, &ctx);
                continue;
            }
            let r = orx(&["resume", &id, "--no-progress"]);
            resumes += 1;
            assert_eq!(
                r.code, 0,
                "{ctx}: resume failed\n{}\n{}",
                r.stdout, r.stderr
            );
            site = inspect(&repo, &id, &ctx);
            assert_eq!(site.stage, "succeeded", "{ctx}");
        }
        if site.stage == "succeeded" {
            completed += 1;
            assert_eq!(
                repo.read(&id, "artifacts/patch.diff"),
                reference,
                "{ctx}: patch differs from the uninterrupted run's"
            );
            let branch = format!("orx/{id}");
            let local = git(repo.path(), &["rev-parse", &branch]);
            let remote = git(bare.path(), &["rev-parse", &branch]);
            assert_eq!(
                local, remote,
                "{ctx}: the remote branch is not the run's head"
            );
            let creates =
                std::fs::read_to_string(ghdir.path().join("creates.log")).unwrap_or_default();
            assert_eq!(
                creates.lines().filter(|l| *l == branch).count(),
                1,
                "{ctx}: one pull request per run\n{creates}"
            );
        }
        let left = pids_with_env(&format!("ORX_RUN_ID={id}"));
        kill_all(&left);
        assert!(
            left.is_empty(),
            "{ctx}: processes of the run survived: {left:?}"
        );
        let c = orx(&["clean", &id]);
        assert_eq!(c.code, 0, "{ctx}: clean failed\n{}", c.stderr);
    }
    // Nothing stray: only the main worktree, no run branch, no snapshot ref, no folder.
    let wts = git(repo.path(), &["worktree", "list", "--porcelain"]);
    assert_eq!(
        wts.matches("worktree ").count(),
        1,
        "stray worktrees:\n{wts}"
    );
    let refs = git(
        repo.path(),
        &[
            "for-each-ref",
            "--format=%(refname)",
            "refs/heads/orx",
            "refs/orx",
        ],
    );
    assert!(refs.is_empty(), "stray refs:\n{refs}");
    let wt_dir = repo.path().join(".worktrees");
    let left: Vec<_> = std::fs::read_dir(&wt_dir)
        .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "stray folders under .worktrees: {left:?}");
    assert!(run_ids(&repo).is_empty(), "runs left: {:?}", run_ids(&repo));

    report(
        "crash",
        &format!(
            "{runs} runs, {kills} SIGKILLs ({before_run} before the run folder existed, \
             {before_state} before the first state write), {resumes} resumes, {completed} \
             completed with the reference patch, {finished_before_kill} finished before the kill"
        ),
    );
    report("crash", &format!("kills by stage: {stages:?}"));
    report(
        "crash",
        &format!("kills that left a state temp file (mid-write of state): {mid_write}"),
    );
    report(
        "crash",
        &format!("children alive right after the kill (orphaned by it): {orphan_kinds:?}"),
    );
}

/// Waits until a new run's agent has started its grandchild; returns the run id.
fn wait_for_grandchild(repo: &Repo, known: &[String]) -> String {
    until("the agent to start its child", || {
        run_ids(repo).into_iter().find(|id| {
            !known.contains(id)
                && repo
                    .path()
                    .join(".worktrees")
                    .join(id)
                    .join("started")
                    .exists()
        })
    })
}

/// A SIGKILLed orx cannot stop its agent's children: the agent itself dies with orx
/// (PR_SET_PDEATHSIG), but what it started (a test run, a build, a tool) lives on in the
/// agent's process group, working in the worktree. The next orx to take the run's lock (resume
/// or clean) knows the previous driver is dead, and stops what it left running first.
#[test]
fn resume_and_clean_stop_what_a_sigkilled_orx_left_running() {
    let dir = tempfile::tempdir().unwrap();
    let agent = dir.path().join("agent.sh");
    std::fs::write(
        &agent,
        "#!/bin/sh\ncat > /dev/null\nsh -c 'touch started; sleep 30; echo late > late.txt' &\nwait\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&agent, std::fs::Permissions::from_mode(0o755)).unwrap();
    // The first drive's stage timeout is the safety bound, so only the kill can end it; the
    // resume's is 1 s, so its new call to the hanging stand-in fails, recorded.
    let cfg = |timeout: u64| {
        format!(
            "version: \"1\"\nengine:\n  type: claude\n  binary: {}\ngit:\n  base_branch: main\nstages:\n  plan:\n    timeout: {timeout}\n",
            yaml_str(agent.to_str().unwrap())
        )
    };
    let repo = Repo::new(&cfg(SAFETY_BOUND.as_secs()), "");
    for verb in ["resume", "clean"] {
        std::fs::write(repo.path().join("orx.yaml"), cfg(SAFETY_BOUND.as_secs())).unwrap();
        let known = run_ids(&repo);
        let mut child = repo
            .cmd(&["run", TASK, "--pipeline", "plan-only", "--no-progress"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let id = wait_for_grandchild(&repo, &known);
        let _ = child.kill();
        let _ = child.wait();
        let left = pids_with_env(&format!("ORX_RUN_ID={id}"));
        // The agent itself may still be dying of its parent's death; its child is not.
        let outliving: Vec<u32> = left
            .iter()
            .copied()
            .filter(|p| {
                let cmd = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
                !String::from_utf8_lossy(&cmd).contains("agent.sh")
            })
            .collect();
        assert!(
            !outliving.is_empty(),
            "the agent's child outlives a SIGKILL of orx: {left:?}"
        );
        std::fs::write(repo.path().join("orx.yaml"), cfg(1)).unwrap();
        let r = RunResult::from(repo.orx(&[verb, &id]));
        let survivors: Vec<u32> = left.iter().copied().filter(|p| alive(*p)).collect();
        kill_all(&left);
        assert!(
            survivors.is_empty(),
            "`orx {verb}` left the dead run's processes {survivors:?} running\n{}{}",
            r.stdout,
            r.stderr
        );
        // resume: the new call times out (the stand-in hangs) and the run fails, recorded.
        r.expect_code(if verb == "resume" { 1 } else { 0 });
    }
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rfind(')')
            .is_some_and(|i| !s[i + 1..].trim_start().starts_with('Z'))
    })
}
