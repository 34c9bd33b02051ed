//! Concurrency: several orx processes resuming and cleaning the same interrupted run at once.
//!
//! Each round SIGKILLs a run at a random instant, then releases four to six contenders (a random
//! mix of `orx resume <id>` and `orx clean <id>`, at least one of each) through one barrier.
//! The run's lock decides. The contract asserted:
//! - exactly one contender exits 0: the winner;
//! - every other exits 2 with one `error:` line naming why: the run is in use by another orx
//!   process, or it no longer exists (a clean won: `unknown run id` or `no longer exists`);
//! - nothing is lost: when a resume won, the run succeeded with the uninterrupted run's patch
//!   and its folder, worktree and branch are all there; when a clean won, the folder, worktree,
//!   branch and snapshot refs are all gone (the clean is complete, not half done);
//! - no process of the run is left.
//!
//! A resume that wins is held as it starts driving the run (a `run_start` hook) until every
//! other contender has exited: otherwise, on a loaded machine, a late `orx clean` could meet a
//! run the winner had already finished, and rightly clean it, a second winner that says
//! nothing about the lock.

use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use super::{kill_all, pids_with_env, report, scale, Rng};
use crate::support::*;
use crate::waiting::{lock_released, until, Hold};

const TASK: &str = "Add add() and mul()";

struct Outcome {
    verb: &'static str,
    code: i32,
    stderr: String,
}

fn new_run(repo: &Repo, known: &[String]) -> Option<String> {
    std::fs::read_dir(repo.path().join("runs"))
        .ok()?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|id| !known.contains(id))
}

#[test]
fn racing_resumes_and_cleans_have_exactly_one_winner_and_lose_nothing() {
    let rounds = scale(1, 20);
    let mut rng = Rng::new("concurrency");
    let seed = rng.seed;
    let hold = Hold::new();
    let repo = Repo::new(
        &standard_config(&hold.hooks_on("run_start", "[ \"$ORX_STATUS\" = resumed ]")),
        &standard_scenario(100),
    );
    let t0 = Instant::now();
    let clean = repo.run(TASK, &[]);
    clean.expect_code(0);
    let total = t0.elapsed();
    let reference = repo.read(&clean.id, "artifacts/patch.diff");
    let mut known = vec![clean.id.clone()];
    let (mut resume_wins, mut clean_wins) = (0, 0);
    let mut loser_errors: std::collections::BTreeMap<String, usize> = Default::default();
    let mut round = 0;
    while round < rounds {
        let ctx = format!("round {round} (seed {seed})");
        let mut child = repo
            .cmd(&["run", TASK, "--scenario", "scenario.yaml", "--no-progress"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Kill within the first 80 %, once the state exists, so there is a run to fight over.
        std::thread::sleep(Duration::from_millis(300) + rng.upto(total.mul_f64(0.7)));
        let _ = child.kill();
        let _ = child.wait();
        let Some(id) = new_run(&repo, &known) else {
            continue;
        };
        known.push(id.clone());
        lock_released(&repo.run_dir(&id));
        let st = crate::support::replayed_state(&repo.run_dir(&id));
        if !st.is_ok_and(|s| s["status"] == "running") {
            let _ = repo.orx(&["clean", &id]);
            continue;
        }
        round += 1;
        let n = 4 + rng.below(3) as usize;
        let first_clean = rng.below(n as u64) as usize;
        let verbs: Vec<&'static str> = (0..n)
            .map(|i| match i {
                0 if first_clean != 0 => "resume",
                _ if i == first_clean => "clean",
                _ if rng.below(2) == 0 => "resume",
                _ => "clean",
            })
            .collect();
        // Staggered starts (0-200 ms after the barrier) so late contenders also meet a run
        // that a clean has just removed, not only a held lock.
        let jitter: Vec<Duration> = (0..n)
            .map(|_| rng.upto(Duration::from_millis(200)))
            .collect();
        let barrier = Barrier::new(n);
        let exited = AtomicUsize::new(0);
        hold.close();
        let outcomes: Vec<Outcome> = std::thread::scope(|s| {
            let hs: Vec<_> = verbs
                .iter()
                .zip(&jitter)
                .map(|(verb, pause)| {
                    let (barrier, repo, id, exited) = (&barrier, &repo, &id, &exited);
                    s.spawn(move || {
                        let mut cmd = match *verb {
                            "resume" => repo.cmd(&["resume", id, "--no-progress"]),
                            _ => repo.cmd(&["clean", id]),
                        };
                        barrier.wait();
                        std::thread::sleep(*pause);
                        let out = cmd.output().unwrap();
                        exited.fetch_add(1, Ordering::SeqCst);
                        Outcome {
                            verb,
                            code: out.status.code().unwrap_or(-1),
                            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                        }
                    })
                })
                .collect();
            // The one contender that may still be running is a held resume winner.
            until("every contender but one to exit", || {
                (exited.load(Ordering::SeqCst) + 1 >= n).then_some(())
            });
            hold.release();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let table: Vec<String> = outcomes
            .iter()
            .map(|o| format!("{} → {}: {}", o.verb, o.code, o.stderr.trim()))
            .collect();
        let winners: Vec<&Outcome> = outcomes.iter().filter(|o| o.code == 0).collect();
        assert_eq!(winners.len(), 1, "{ctx}: exactly one winner\n{table:#?}");
        for o in outcomes.iter().filter(|o| o.code != 0) {
            assert_eq!(o.code, 2, "{ctx}: a loser exits 2\n{table:#?}");
            let errors: Vec<&str> = o
                .stderr
                .lines()
                .filter(|l| l.starts_with("error"))
                .collect();
            assert_eq!(errors.len(), 1, "{ctx}: one error line\n{table:#?}");
            let why = [
                "in use by another orx process",
                "unknown run id",
                "no longer exists",
            ]
            .into_iter()
            .find(|w| errors[0].contains(w));
            let why = why.unwrap_or_else(|| panic!("{ctx}: unexpected error\n{table:#?}"));
            *loser_errors.entry(format!("{} {why}", o.verb)).or_default() += 1;
        }
        let dir = repo.run_dir(&id);
        let wt = repo.path().join(".worktrees").join(&id);
        let branch = format!("refs/heads/orx/{id}");
        let refs = git(
            repo.path(),
            &[
                "for-each-ref",
                "--format=%(refname)",
                &branch,
                &format!("refs/orx/{id}/"),
            ],
        );
        if winners[0].verb == "resume" {
            resume_wins += 1;
            assert_eq!(repo.state(&id)["status"], "succeeded", "{ctx}");
            assert_eq!(repo.read(&id, "artifacts/patch.diff"), reference, "{ctx}");
            assert!(wt.is_dir() && refs.contains(&branch), "{ctx}: {refs}");
        } else {
            clean_wins += 1;
            assert!(!dir.exists(), "{ctx}: the run folder survived the clean");
            assert!(!wt.exists(), "{ctx}: the worktree survived the clean");
            assert!(refs.is_empty(), "{ctx}: refs survived the clean: {refs}");
            let wts = git(repo.path(), &["worktree", "list", "--porcelain"]);
            assert!(
                !wts.contains(&id),
                "{ctx}: git still lists the worktree\n{wts}"
            );
        }
        let left = pids_with_env(&format!("ORX_RUN_ID={id}"));
        kill_all(&left);
        assert!(
            left.is_empty(),
            "{ctx}: processes of the run survived: {left:?}"
        );
    }
    report(
        "concurrency",
        &format!(
            "{rounds} rounds of 4-6 racing resume/clean processes: exactly one winner each \
             ({resume_wins} resume, {clean_wins} clean), losers: {loser_errors:?}"
        ),
    );
}
