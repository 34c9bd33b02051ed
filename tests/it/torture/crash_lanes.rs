//! Crash and resume with parallel lanes: `orx run --parallel 3` killed with SIGKILL while its
//! lanes work and while it integrates them (then its resumes killed again, up to three kills per
//! run), resumed until it finishes. After every kill the state (state.json and every complete
//! line of its journal) must parse; the end checks the patch against an uninterrupted run's,
//! that no lane worktree and no process of the run is left, and that `orx clean` removes the
//! run, its lanes and their branches.
//!
//! The backlog is three independent items started at once, two of which write the same file,
//! so integrating the second conflicts and its scripted `merge` attempt resolves it, and a
//! fourth item after the conflicting one. The kill instants come from the run's own events: a
//! kill point is the n-th event of one kind seen in the uninterrupted run (a lane starting, an
//! attempt starting, a gate starting, an integration starting), plus a random delay, so kills
//! land in lanes and in integrations whatever the machine's speed. Half the points are
//! integrations; the state after the kill says whether it landed inside one (a lane's `onto`).

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::{kill_all, pids_with_env, report, scale, Rng};
use crate::lanes::{conflicting, scenario, NO_MARKERS};
use crate::support::*;
use crate::waiting::{lock_released, SAFETY_BOUND};

/// The event kinds a kill point is drawn from.
const POINTS: [&str; 4] = [
    "lane_started",
    "attempt_started",
    "gate_started",
    "lane_integrating",
];

fn lanes_repo() -> Repo {
    let merge = format!(
        "merge:\n  Y:\n    - {}\n",
        files_step(&[("shared.txt", "from x\nfrom y\n")])
    );
    Repo::new(
        &config_with_gates(
            &[("no_markers", NO_MARKERS), ("slow", "sleep 0.05")],
            "run:\n  max_fix_attempts: 2\n",
        ),
        &scenario(&conflicting(), 60, &merge),
    )
}

fn run_ids(repo: &Repo) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(repo.path().join("runs"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

/// The kinds of the events in `run_dir`'s log so far.
fn event_kinds(run_dir: &Path) -> Vec<String> {
    std::fs::read_to_string(run_dir.join("events.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|e| e["event"].as_str().unwrap_or("").to_string())
        .collect()
}

fn count(kinds: &[String], kind: &str) -> usize {
    kinds.iter().filter(|k| *k == kind).count()
}

/// Wait until the run in `child` (run `id`, or a new one: its folder not in `known`) has
/// logged `nth` events of `kind` beyond `before` of them, or has exited; then wait `delay` and
/// SIGKILL it. Returns the run id (if it had one) and whether it exited on its own first.
fn kill_at(
    repo: &Repo,
    child: &mut Child,
    (mut id, known): (Option<String>, &[String]),
    point: (&str, usize),
    before: usize,
    delay: Duration,
) -> (Option<String>, bool) {
    let start = Instant::now();
    loop {
        if id.is_none() {
            id = run_ids(repo).into_iter().find(|i| !known.contains(i));
        }
        if let Some(id) = &id {
            if count(&event_kinds(&repo.run_dir(id)), point.0) >= before + point.1 {
                break;
            }
        }
        if child.try_wait().ok().flatten().is_some() {
            return (id, true);
        }
        assert!(
            start.elapsed() < SAFETY_BOUND,
            "still waiting for {point:?} after {SAFETY_BOUND:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(delay);
    let _ = child.kill();
    let status = child.wait().ok();
    (id, status.is_some_and(|s| s.success()))
}

/// After a kill: whether the state parses, and whether the kill landed inside an integration
/// (a lane recorded the head it was integrating onto).
fn inspect(repo: &Repo, id: &str) -> (Result<serde_json::Value, String>, bool) {
    let st = replayed_state(&repo.run_dir(id));
    let integrating = st.as_ref().is_ok_and(|s| {
        s["lanes"]
            .as_array()
            .is_some_and(|l| l.iter().any(|l| l["onto"].is_string()))
    });
    (st, integrating)
}

#[test]
fn sigkill_parallel_runs_in_lanes_and_integrations_then_resume_gives_the_same_patch() {
    let runs = scale(4, 60);
    let mut rng = Rng::new("crash-lanes");
    let seed = rng.seed;
    let repo = lanes_repo();
    let orx = |args: &[&str]| RunResult::from(repo.orx(args));
    let run_args = [
        "run",
        "lanes",
        "--scenario",
        "scenario.yaml",
        "--no-progress",
        "--parallel",
        "3",
    ];

    let t0 = Instant::now();
    let clean = orx(&run_args);
    clean.expect_code(0);
    let total = t0.elapsed();
    let reference = repo.read(&clean.id, "artifacts/patch.diff");
    assert!(
        reference.contains("from x") && reference.contains("from y") && reference.contains("w.txt"),
        "{reference}"
    );
    let reference_kinds = event_kinds(&repo.run_dir(&clean.id));
    assert!(count(&reference_kinds, "lane_integrating") >= 4);
    orx(&["clean", &clean.id]).expect_code(0);
    report("crash-lanes", &format!("uninterrupted run: {total:?}"));

    // A kill point: half the time an integration, else any of the kinds.
    let draw = |rng: &mut Rng| -> (&'static str, usize, Duration) {
        let kind = if rng.below(2) == 0 {
            "lane_integrating"
        } else {
            POINTS[rng.below(POINTS.len() as u64) as usize]
        };
        let n = count(&reference_kinds, kind).max(1) as u64;
        (
            kind,
            1 + rng.below(n) as usize,
            rng.upto(Duration::from_millis(150)),
        )
    };

    let (mut kills, mut in_integration, mut corrupt, mut resumes) = (0, 0, 0, 0);
    let (mut identical, mut finished_before_kill) = (0, 0);
    let mut known = run_ids(&repo);
    for n in 0..runs {
        let ctx = format!("run {n} (seed {seed})");
        let kills_wanted = 1 + rng.below(3);
        let (kind, nth, delay) = draw(&mut rng);
        let mut child = repo
            .cmd(&run_args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (id, exited) = kill_at(&repo, &mut child, (None, &known), (kind, nth), 0, delay);
        let id = id.unwrap_or_else(|| panic!("{ctx}: the run made no folder"));
        known.push(id.clone());
        lock_released(&repo.run_dir(&id));
        if exited {
            finished_before_kill += 1;
        } else {
            kills += 1;
        }
        let mut done_kills = 1;
        loop {
            let (st, integrating) = inspect(&repo, &id);
            let st = match st {
                Ok(st) => st,
                Err(e) => {
                    corrupt += 1;
                    report("crash-lanes", &format!("{ctx}: corrupt state: {e}"));
                    break;
                }
            };
            in_integration += usize::from(integrating);
            if st["status"] == "succeeded" {
                break;
            }
            if done_kills < kills_wanted {
                // Resume, and kill the resume too, at a point counted from where it starts.
                let (kind, nth, delay) = draw(&mut rng);
                let before = count(&event_kinds(&repo.run_dir(&id)), kind);
                let mut c = repo
                    .cmd(&["resume", &id, "--no-progress"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap();
                let nth = 1 + (nth - 1) % 2;
                let (_, exited) = kill_at(
                    &repo,
                    &mut c,
                    (Some(id.clone()), &known),
                    (kind, nth),
                    before,
                    delay,
                );
                lock_released(&repo.run_dir(&id));
                resumes += 1;
                if !exited {
                    kills += 1;
                }
                done_kills += 1;
                continue;
            }
            let r = orx(&["resume", &id, "--no-progress"]);
            resumes += 1;
            assert_eq!(
                r.code, 0,
                "{ctx}: resume failed\n{}\n{}",
                r.stdout, r.stderr
            );
        }
        if repo.run_dir(&id).join("artifacts/patch.diff").exists() {
            assert_eq!(
                repo.read(&id, "artifacts/patch.diff"),
                reference,
                "{ctx}: the patch differs from the uninterrupted run's"
            );
            identical += 1;
        }
        let worktrees = git(repo.path(), &["worktree", "list", "--porcelain"]);
        assert!(
            !worktrees.contains(".lanes/"),
            "{ctx}: a lane worktree is left\n{worktrees}"
        );
        let left = pids_with_env(&format!("ORX_RUN_ID={id}"));
        kill_all(&left);
        assert!(
            left.is_empty(),
            "{ctx}: processes of the run survived: {left:?}"
        );
        orx(&["clean", &id]).expect_code(0);
    }
    assert_eq!(
        corrupt, 0,
        "states that did not parse after a kill (seed {seed})"
    );
    assert_eq!(
        identical, runs,
        "every run finished with the reference patch"
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
    assert!(run_ids(&repo).is_empty(), "runs left: {:?}", run_ids(&repo));
    report(
        "crash-lanes",
        &format!(
            "{runs} runs --parallel 3, {kills} SIGKILLs ({in_integration} inside an integration), \
             {resumes} resumes, {corrupt} corrupt states, {identical} of {runs} patches identical \
             to the uninterrupted run's, {finished_before_kill} finished before the kill"
        ),
    );
}
