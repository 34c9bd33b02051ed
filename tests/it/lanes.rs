//! Parallel lanes: items worked at once in worktrees of their own, integrated back into the run
//! branch one at a time; conflicts, failures, kills and cleaning up; the open lanes as the API,
//! MCP and the dashboard show them.

use std::process::Stdio;

use crate::waiting::{lock_released, until};

use crate::support::*;

/// One backlog item of a lanes scenario: id, dependencies, the files its implement step writes.
pub(crate) struct Item<'a> {
    pub id: &'a str,
    pub deps: &'a [&'a str],
    pub files: &'a [(&'a str, &'a str)],
}

/// A scenario whose items write `files` after `delay_ms`, plus `extra` lines (fix:, merge:).
pub(crate) fn scenario(items: &[Item<'_>], delay_ms: u64, extra: &str) -> String {
    let backlog: Vec<(&str, &[&str])> = items.iter().map(|i| (i.id, i.deps)).collect();
    let mut s = format!(
        "plan: {}\nspec: {}\ndecompose: {}\nimplement:\n",
        text_step("# Plan\n\nWork the items."),
        text_step("# Spec\n\nEach item writes its files."),
        text_step(&backlog_text(&backlog)),
    );
    for i in items {
        let step = files_step(i.files).replacen('{', &format!("{{delay_ms: {delay_ms}, "), 1);
        s.push_str(&format!("  {}: {step}\n", i.id));
    }
    s.push_str(extra);
    s.push_str(&format!(
        "review: {}\nknowledge_update: {}\n",
        text_step(&approve("done")),
        files_step(&[(
            "AGENTS.md",
            "<!-- orx:begin -->\n- lanes\n<!-- orx:end -->\n"
        )]),
    ));
    s
}

fn diamond() -> Vec<Item<'static>> {
    vec![
        Item {
            id: "A",
            deps: &[],
            files: &[("a.txt", "a\n")],
        },
        Item {
            id: "B",
            deps: &["A"],
            files: &[("b.txt", "b\n")],
        },
        Item {
            id: "C",
            deps: &["A"],
            files: &[("c.txt", "c\n")],
        },
        Item {
            id: "D",
            deps: &["B", "C"],
            files: &[("d.txt", "d\n")],
        },
    ]
}

/// The (start, end) timestamps of `item`'s implement agent call, from its events.
fn agent_span(events: &[serde_json::Value], item: &str) -> (String, String) {
    let ts = |pred: &dyn Fn(&serde_json::Value) -> bool| -> String {
        events
            .iter()
            .find(|e| pred(e))
            .and_then(|e| e["ts"].as_str())
            .unwrap_or_else(|| panic!("no such event for {item}"))
            .to_string()
    };
    (
        ts(&|e| e["event"] == "attempt_started" && e["item"] == item),
        ts(&|e| e["event"] == "agent_finished" && e["item"] == item),
    )
}

/// The subjects of the run branch's commits, oldest first.
fn subjects(repo: &Repo, id: &str) -> Vec<String> {
    git(
        repo.path(),
        &[
            "log",
            "--reverse",
            "--format=%s",
            &format!("main..orx/{id}"),
        ],
    )
    .lines()
    .map(String::from)
    .collect()
}

/// Every worktree git knows, and whether any lane folder is left on disk for `id`.
fn lanes_left(repo: &Repo, id: &str) -> (usize, bool) {
    let list = git(repo.path(), &["worktree", "list", "--porcelain"]);
    let lanes = list.matches(".lanes/").count();
    let folder = repo
        .path()
        .join(".worktrees")
        .join(format!("{id}.lanes"))
        .exists();
    (lanes, folder)
}

fn lane_branches(repo: &Repo, id: &str) -> Vec<String> {
    git(
        repo.path(),
        &[
            "for-each-ref",
            "--format=%(refname:short)",
            &format!("refs/heads/orx/{id}.lanes/"),
        ],
    )
    .lines()
    .map(String::from)
    .collect()
}

#[test]
fn a_diamond_works_its_middle_items_at_once_and_integrates_them_in_backlog_order() {
    let repo = Repo::new(
        &config_with_gates(&[("files", "test -f README.md")], ""),
        &scenario(&diamond(), 300, ""),
    );
    let r = repo.run("diamond", &["--parallel", "2"]);
    r.expect_code(0);
    let events = repo.events(&r.id);
    let (b0, b1) = agent_span(&events, "B");
    let (c0, c1) = agent_span(&events, "C");
    assert!(
        b0 < c1 && c0 < b1,
        "B [{b0}, {b1}] and C [{c0}, {c1}] overlap in time"
    );
    // D starts from a head holding both B and C.
    let (d0, _) = agent_span(&events, "D");
    assert!(d0 > b1 && d0 > c1, "D starts after B and C: {d0}");
    assert_eq!(
        subjects(&repo, &r.id),
        [
            "orx: A Work A",
            "orx: B Work B",
            "orx: C Work C",
            "orx: D Work D",
            "orx: knowledge update"
        ]
    );
    let patch = repo.read(&r.id, "artifacts/patch.diff");
    for f in ["a.txt", "b.txt", "c.txt", "d.txt"] {
        assert!(patch.contains(&format!("+++ b/{f}")), "{f} in the patch");
    }
    let st = repo.state(&r.id);
    assert_eq!(st["max_parallel"], 2);
    assert_eq!(st["lanes"], serde_json::json!([]));
    // Gates ran in each lane and again on the run branch after each integration.
    let integrated = events
        .iter()
        .filter(|e| e["event"] == "lane_integrating")
        .count();
    assert_eq!(integrated, 4);
    assert_eq!(
        lanes_left(&repo, &r.id),
        (0, false),
        "no lane worktree left"
    );
    assert_eq!(
        lane_branches(&repo, &r.id).len(),
        4,
        "lane branches stay until clean"
    );
    let out = repo.orx(&["clean", &r.id]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        lane_branches(&repo, &r.id).is_empty(),
        "clean removes lane branches"
    );
}

#[test]
fn parallel_one_runs_the_items_one_after_another_in_the_run_worktree() {
    let repo = Repo::new(
        &config_with_gates(&[("files", "true")], ""),
        &scenario(&diamond(), 0, ""),
    );
    let r = repo.run("diamond", &[]);
    r.expect_code(0);
    let events = repo.events(&r.id);
    assert!(!events.iter().any(|e| e["event"] == "lane_started"));
    assert!(lane_branches(&repo, &r.id).is_empty());
    assert_eq!(repo.state(&r.id)["max_parallel"], 1);
}

#[test]
fn run_max_parallel_in_orx_yaml_opens_lanes_and_out_of_range_is_refused() {
    let repo = Repo::new(
        &config_with_gates(&[("files", "true")], "run:\n  max_parallel: 3\n"),
        &scenario(&diamond(), 0, ""),
    );
    let r = repo.run("diamond", &[]);
    r.expect_code(0);
    assert_eq!(repo.state(&r.id)["max_parallel"], 3);
    assert!(repo
        .events(&r.id)
        .iter()
        .any(|e| e["event"] == "lane_started"));
    let bad =
        RunResult::from(repo.orx(&["run", "x", "--parallel", "0", "--scenario", "scenario.yaml"]));
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    std::fs::write(
        repo.path().join("orx.yaml"),
        config_with_gates(&[("files", "true")], "run:\n  max_parallel: 0\n"),
    )
    .unwrap();
    let bad = repo.run("x", &[]);
    assert!(bad.stderr.contains("run.max_parallel"), "{}", bad.stderr);
}

/// X and Y both write `shared.txt` (differently) and start at once; Z is independent; W needs
/// Y. No conflict marker may pass the gate.
pub(crate) fn conflicting() -> Vec<Item<'static>> {
    vec![
        Item {
            id: "X",
            deps: &[],
            files: &[("shared.txt", "from x\n"), ("x.txt", "x\n")],
        },
        Item {
            id: "Y",
            deps: &[],
            files: &[("shared.txt", "from y\n"), ("y.txt", "y\n")],
        },
        Item {
            id: "Z",
            deps: &[],
            files: &[("z.txt", "z\n")],
        },
        Item {
            id: "W",
            deps: &["Y"],
            files: &[("w.txt", "w\n")],
        },
    ]
}

pub(crate) const NO_MARKERS: &str = "! grep -rqs '^<<<<<<<' --include=*.txt .";

#[test]
fn a_conflict_goes_back_to_its_item_and_the_scripted_merge_resolves_it() {
    let merge = format!(
        "merge:\n  Y:\n    - {}\n",
        files_step(&[("shared.txt", "from x\nfrom y\n")])
    );
    let repo = Repo::new(
        &config_with_gates(&[("no_markers", NO_MARKERS)], ""),
        &scenario(&conflicting(), 200, &merge),
    );
    let r = repo.run("conflict", &["--parallel", "3"]);
    r.expect_code(0);
    let events = repo.events(&r.id);
    let kinds: Vec<String> = events
        .iter()
        .filter(|e| e["event"] == "attempt_started" && e["item"] == "Y")
        .map(|e| e["kind"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(kinds, ["implement", "merge"]);
    let finished = events
        .iter()
        .find(|e| e["event"] == "attempt_finished" && e["item"] == "Y" && e["attempt"] == 1)
        .expect("Y's first attempt is judged");
    assert_eq!(finished["signature"], "conflict:shared.txt");
    // The evidence names the file and quotes both sides; the merge prompt carries it.
    let evidence = repo.read(&r.id, "artifacts/evidence_Y_1.md");
    assert!(
        evidence.contains("shared.txt")
            && evidence.contains("from x")
            && evidence.contains("from y"),
        "{evidence}"
    );
    let prompt = repo.read(&r.id, "prompts/merge_Y_1.md");
    assert!(
        prompt.contains("from x") && prompt.contains("<<<<<<<"),
        "{prompt}"
    );
    let st = repo.state(&r.id);
    let y = &st["items"][1];
    assert_eq!(
        (y["status"].as_str(), y["attempts"].as_u64()),
        (Some("done"), Some(2))
    );
    let shipped = git(repo.path(), &["show", &format!("orx/{}:shared.txt", r.id)]);
    assert_eq!(shipped.trim_end(), "from x\nfrom y");
    assert_eq!(lanes_left(&repo, &r.id), (0, false));
}

/// The executor and model of every `stage` line of the run's `metrics/stages.jsonl`.
fn routed(repo: &Repo, id: &str, stage: &str) -> Vec<(String, String)> {
    repo.read(id, "metrics/stages.jsonl")
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["stage"] == stage)
        .map(|m| {
            (
                m["executor"].as_str().unwrap_or("").to_string(),
                m["model"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn stages_merge_routes_the_conflict_resolution_and_fix_routing_is_its_default() {
    let merge = format!(
        "merge:\n  Y:\n    - {}\n",
        files_step(&[("shared.txt", "from x\nfrom y\n")])
    );
    let routing = "stages:\n  implement:\n    model: builder\n  fix:\n    model: fixer\n";
    let repo = Repo::new(
        &config_with_gates(
            &[("no_markers", NO_MARKERS)],
            &format!("{routing}  merge:\n    model: merger\n"),
        ),
        &scenario(&conflicting(), 0, &merge),
    );
    let r = repo.run("conflict", &["--parallel", "3"]);
    r.expect_code(0);
    assert_eq!(
        routed(&repo, &r.id, "merge"),
        [("fake".to_string(), "merger".to_string())]
    );
    assert!(routed(&repo, &r.id, "implement")
        .iter()
        .all(|(_, m)| m == "builder"));

    // Without `stages.merge`, the merge attempt goes where fixes go.
    std::fs::write(
        repo.path().join("orx.yaml"),
        config_with_gates(&[("no_markers", NO_MARKERS)], routing),
    )
    .unwrap();
    let r = repo.run("conflict", &["--parallel", "3"]);
    r.expect_code(0);
    assert_eq!(
        routed(&repo, &r.id, "merge"),
        [("fake".to_string(), "fixer".to_string())]
    );
}

#[test]
fn an_unresolvable_conflict_fails_its_item_blocks_its_dependent_and_the_others_ship_partial() {
    // No fix attempts: the first conflict ends Y.
    // A partial run exits 1 like a failed one, so the hooks that watch for failures hear of it.
    let repo = Repo::new(
        &config_with_gates(
            &[("no_markers", NO_MARKERS)],
            "run:\n  max_fix_attempts: 0\nhooks:\n  run_failed:\n    - command: 'echo \"$ORX_STATUS\" > \"$ORX_RUN_DIR/run_failed_hook\"'\n",
        ),
        &scenario(&conflicting(), 200, ""),
    );
    let r = repo.run("conflict", &["--parallel", "3"]);
    r.expect_code(1);
    let st = repo.state(&r.id);
    assert_eq!(st["status"], "partial");
    assert_eq!(repo.read(&r.id, "run_failed_hook").trim(), "partial");
    let status = |i: usize| st["items"][i]["status"].as_str().unwrap_or("").to_string();
    assert_eq!(
        [status(0), status(1), status(2), status(3)],
        ["done", "failed", "done", "blocked"]
    );
    assert_eq!(st["last_failure"]["reason"], "merge_conflict");
    assert_eq!(st["last_failure"]["item"], "Y");
    // Review and ship ran with the items that passed.
    let stage = |name: &str| {
        st["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["stage"] == name)
            .map(|s| s["status"].as_str().unwrap_or("").to_string())
    };
    assert_eq!(stage("review").as_deref(), Some("done"));
    assert_eq!(stage("ship").as_deref(), Some("done"));
    let patch = repo.read(&r.id, "artifacts/patch.diff");
    for f in ["x.txt", "z.txt", "from x"] {
        assert!(patch.contains(f), "{f} in {patch}");
    }
    for f in ["y.txt", "w.txt", "from y"] {
        assert!(!patch.contains(f), "{f} not in {patch}");
    }
    let body = repo.read(&r.id, "artifacts/pr_body.md");
    let left = &body[body.find("## Left out").expect("a Left out section")..];
    assert!(
        left.contains("**Y**")
            && left.contains("failed")
            && left.contains("**W**")
            && left.contains("blocked"),
        "{body}"
    );
    assert!(!left.contains("**X**") && !left.contains("**Z**"), "{body}");
    // The summary on stdout and `orx status` name what was left out.
    assert!(
        r.stdout.contains(&format!("run {} partial", r.id))
            && r.stdout.contains("left out  Y (failed), W (blocked)"),
        "{}",
        r.stdout
    );
    let shown = RunResult::from(repo.orx(&["status", &r.id]));
    assert!(
        shown.stdout.contains("status    partial")
            && shown.stdout.contains("left out  Y (failed), W (blocked)"),
        "{}",
        shown.stdout
    );
    assert_eq!(
        lanes_left(&repo, &r.id),
        (0, false),
        "a failed item's lane is removed"
    );
    assert!(!lane_branches(&repo, &r.id).is_empty());
    // A partial run is finished: there is nothing to resume.
    let again = RunResult::from(repo.orx(&["resume", &r.id, "--no-progress"]));
    assert_ne!(again.code, 0);
    assert!(
        again.stderr.contains("already finished (partial)"),
        "{}",
        again.stderr
    );
    let out = repo.orx(&["clean", &r.id]);
    assert!(out.status.success(), "{out:?}");
    assert!(lane_branches(&repo, &r.id).is_empty());
}

#[test]
fn the_json_summary_names_the_items_a_partial_run_left_out() {
    let repo = Repo::new(
        &config_with_gates(
            &[("no_markers", NO_MARKERS)],
            "run:\n  max_fix_attempts: 0\n",
        ),
        &scenario(&conflicting(), 0, ""),
    );
    let out = repo.orx(&[
        "run",
        "conflict",
        "--scenario",
        "scenario.yaml",
        "--json",
        "--parallel",
        "3",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary: serde_json::Value =
        serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap();
    assert_eq!(summary["event"], "summary");
    assert_eq!(summary["status"], "partial");
    assert_eq!(summary["exit_code"], 1);
    let left: Vec<(String, String)> = summary["left_out"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["id"].as_str().unwrap().to_string(),
                i["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        left,
        [
            ("Y".to_string(), "failed".to_string()),
            ("W".into(), "blocked".into())
        ]
    );
}

#[test]
fn lanes_in_which_no_item_passed_fail_as_before() {
    // Both items write markers-free files but the gate refuses every change.
    let items = vec![
        Item {
            id: "X",
            deps: &[],
            files: &[("x.txt", "x\n")],
        },
        Item {
            id: "Y",
            deps: &[],
            files: &[("y.txt", "y\n")],
        },
    ];
    let repo = Repo::new(
        &config_with_gates(&[("never", "false")], "run:\n  max_fix_attempts: 0\n"),
        &scenario(&items, 0, ""),
    );
    let r = repo.run("nothing passes", &["--parallel", "2"]);
    r.expect_code(1);
    let st = repo.state(&r.id);
    assert_eq!(st["status"], "failed");
    assert!(!repo.run_dir(&r.id).join("artifacts/patch.diff").exists());
}

#[test]
fn a_gate_failing_on_the_run_branch_goes_back_to_the_item_as_fix_evidence() {
    // Each item alone passes; together they need Y's fix.
    let items = vec![
        Item {
            id: "X",
            deps: &[],
            files: &[("x.txt", "x\n")],
        },
        Item {
            id: "Y",
            deps: &[],
            files: &[("y.txt", "y\n")],
        },
    ];
    let fix = format!(
        "fix:\n  Y:\n    - {}\n",
        files_step(&[("y.txt", "y, compatible with x\n")])
    );
    let repo = Repo::new(
        &config_with_gates(
            &[(
                "together",
                "test ! -f x.txt || test ! -f y.txt || grep -q compatible y.txt",
            )],
            "",
        ),
        &scenario(&items, 200, &fix),
    );
    let r = repo.run("together", &["--parallel", "2"]);
    r.expect_code(0);
    let st = repo.state(&r.id);
    assert_eq!(st["items"][1]["attempts"], 2);
    let evidence = repo.read(&r.id, "artifacts/evidence_Y_1.md");
    assert!(evidence.contains("together"), "{evidence}");
    let prompt = repo.read(&r.id, "prompts/fix_Y_1.md");
    assert!(prompt.contains("together"), "{prompt}");
    // The fix ran in Y's lane rebased onto the head holding X.
    let y = git(repo.path(), &["show", &format!("orx/{}:y.txt", r.id)]);
    assert_eq!(y.trim_end(), "y, compatible with x");
}

fn kill9(pid: u32) {
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status();
}

/// The id of the one run in `runs/` other than `known`.
pub(super) fn other_run(repo: &Repo, known: &str) -> Option<String> {
    std::fs::read_dir(repo.path().join("runs"))
        .ok()?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|id| id != known && !id.starts_with('.'))
}

/// Three independent items (Y needs a fix) and one after them. Gates pass at once in a lane;
/// on the run branch they wait for the file `release` beside orx.yaml, so an integration can
/// be caught in the middle.
fn kill_repo() -> Repo {
    let items = vec![
        Item {
            id: "X",
            deps: &[],
            files: &[("x.txt", "x\n")],
        },
        Item {
            id: "Y",
            deps: &[],
            files: &[("y.txt", "wrong\n")],
        },
        Item {
            id: "Z",
            deps: &[],
            files: &[("z.txt", "z\n")],
        },
        Item {
            id: "V",
            deps: &["X", "Y", "Z"],
            files: &[("v.txt", "v\n")],
        },
    ];
    let fix = format!(
        "fix:\n  Y:\n    - {}\n",
        files_step(&[("y.txt", "right\n")]).replacen('{', "{delay_ms: 300, ", 1)
    );
    let repo = Repo::new("", &scenario(&items, 300, &fix));
    // Beside orx.yaml in the user's checkout, outside every worktree; named by absolute path.
    let script = repo.path().join("gate.sh");
    std::fs::write(
        &script,
        format!(
            "case \"$PWD\" in *.lanes/*) ;; *) while [ ! -f {} ]; do sleep 0.05; done ;; esac\n\
             test ! -f y.txt || grep -q right y.txt\n",
            repo.path().join("release").display()
        ),
    )
    .unwrap();
    let gate = format!("sh {}", script.display());
    std::fs::write(
        repo.path().join("orx.yaml"),
        config_with_gates(&[("right", &gate)], ""),
    )
    .unwrap();
    repo
}

/// Let the run branch's gates through (`open`) or hold them.
fn release(repo: &Repo, open: bool) {
    let path = repo.path().join("release");
    if open {
        std::fs::write(&path, "").unwrap();
    } else {
        let _ = std::fs::remove_file(&path);
    }
}

/// Start a `--parallel 3` run of the repository's scenario (`kill_repo`'s, or any other) with
/// the run branch's gates held, SIGKILL it once `ready` holds for its events, wait until its
/// lock is free, and return its id.
pub(super) fn killed_when(
    repo: &Repo,
    reference_id: &str,
    what: &str,
    ready: impl Fn(&[serde_json::Value]) -> bool,
) -> String {
    release(repo, false);
    let mut child = repo
        .cmd(&[
            "run",
            "lanes",
            "--scenario",
            "scenario.yaml",
            "--no-progress",
            "--parallel",
            "3",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let id = until(what, || {
        let id = other_run(repo, reference_id)?;
        let text = std::fs::read_to_string(repo.run_dir(&id).join("events.jsonl")).ok()?;
        let events: Vec<serde_json::Value> = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        ready(&events).then_some(id)
    });
    kill9(child.id());
    let _ = child.wait();
    lock_released(&repo.run_dir(&id));
    id
}

/// Three lanes have started.
fn three_lanes_open(events: &[serde_json::Value]) -> bool {
    events
        .iter()
        .filter(|e| e["event"] == "lane_started")
        .count()
        >= 3
}

/// Start a parallel run, SIGKILL it once `ready` holds for its events, resume it, and return
/// its patch.
fn killed_and_resumed(
    repo: &Repo,
    reference_id: &str,
    what: &str,
    ready: impl Fn(&[serde_json::Value]) -> bool,
) -> String {
    let id = killed_when(repo, reference_id, what, ready);
    release(repo, true);
    // The state as resume reads it: state.json with the journal's checkpoints replayed.
    let st = repo.state(&id);
    assert_eq!(st["status"], "running", "{what}: {st}");
    assert!(
        !st["lanes"].as_array().unwrap().is_empty(),
        "{what}: lanes are recorded"
    );
    // `orx status <id>` shows each open lane's item, attempt and phase.
    let status = RunResult::from(repo.orx(&["status", &id]));
    assert!(
        status.stdout.contains("LANE     ATTEMPT  PHASE"),
        "{}",
        status.stdout
    );
    for lane in st["lanes"].as_array().unwrap() {
        let line = format!(
            "{:<8} {:>7}  {:<10}",
            lane["item"].as_str().unwrap(),
            lane["attempt"].as_u64().unwrap(),
            lane["phase"].as_str().unwrap()
        );
        assert!(
            status.stdout.contains(&line),
            "{line:?} in {}",
            status.stdout
        );
    }
    let out = RunResult::from(repo.orx(&["resume", &id, "--no-progress"]));
    out.expect_code(0);
    let st = repo.state(&id);
    assert_eq!(
        st["items"][1]["attempts"], 2,
        "{what}: Y's fix count survived"
    );
    assert_eq!(lanes_left(repo, &id), (0, false), "{what}: no lane left");
    repo.read(&id, "artifacts/patch.diff")
}

#[test]
fn sigkill_while_lanes_run_or_integrate_then_resume_gives_the_same_patch() {
    let repo = kill_repo();
    release(&repo, true);
    let reference = repo.run("lanes", &["--parallel", "3"]);
    reference.expect_code(0);
    let patch = repo.read(&reference.id, "artifacts/patch.diff");
    assert!(
        patch.contains("right") && patch.contains("v.txt"),
        "{patch}"
    );
    let count = |events: &[serde_json::Value], name: &str| {
        events.iter().filter(|e| e["event"] == name).count()
    };

    // Three lanes at work: each has started its agent.
    let lanes = killed_and_resumed(&repo, &reference.id, "three lanes to run", |ev| {
        count(ev, "attempt_started") >= 3
    });
    assert_eq!(lanes, patch, "killed while lanes ran");
    // Clean up that run so the next one is the only other.
    let id = other_run(&repo, &reference.id).unwrap();
    assert!(repo.orx(&["clean", &id]).status.success());

    // In the middle of an integration: its gate waits on the run branch.
    let integrating = killed_and_resumed(&repo, &reference.id, "an integration's gate", |ev| {
        ev.iter().enumerate().any(|(at, e)| {
            e["event"] == "lane_integrating"
                && ev[at..]
                    .iter()
                    .any(|g| g["event"] == "gate_started" && g["item"] == e["item"])
        })
    });
    assert_eq!(integrating, patch, "killed while integrating");
}

#[test]
fn ctrl_c_stops_every_lane_with_130_and_the_run_resumes() {
    // Each item's agent works for five minutes: Ctrl-C, sent once all three have started,
    // lands inside every lane's call whatever the load.
    let items = vec![
        Item {
            id: "X",
            deps: &[],
            files: &[("x.txt", "x\n")],
        },
        Item {
            id: "Y",
            deps: &[],
            files: &[("y.txt", "y\n")],
        },
        Item {
            id: "Z",
            deps: &[],
            files: &[("z.txt", "z\n")],
        },
    ];
    let repo = Repo::new(
        &config_with_gates(&[("ok", "true")], ""),
        &scenario(&items, 300_000, ""),
    );
    let child = repo
        .cmd(&[
            "run",
            "lanes",
            "--scenario",
            "scenario.yaml",
            "--no-progress",
            "--parallel",
            "3",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    until("three lane agents to start", || {
        let id = other_run(&repo, "")?;
        let text = std::fs::read_to_string(repo.run_dir(&id).join("events.jsonl")).ok()?;
        let started = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|e| e["event"] == "agent" && e["stage"] == "implement")
            .map(|e| e["item"].as_str().unwrap_or("").to_string())
            .collect::<std::collections::BTreeSet<_>>();
        (started.len() == 3).then_some(())
    });
    let _ = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let r = RunResult::from(child.wait_with_output().unwrap());
    r.expect_code(130);
    assert_eq!(repo.state(&r.id)["status"], "interrupted");
    let left = crate::torture::pids_with_env(&format!("ORX_RUN_ID={}", r.id));
    assert!(left.is_empty(), "processes of the run survived: {left:?}");
    std::fs::write(repo.path().join("scenario.yaml"), scenario(&items, 0, "")).unwrap();
    RunResult::from(repo.orx(&["resume", &r.id, "--no-progress"])).expect_code(0);
    let st = repo.state(&r.id);
    assert_eq!(st["status"], "succeeded");
    assert_eq!(lanes_left(&repo, &r.id), (0, false));
}

#[test]
fn every_lane_worktree_is_set_up_once_like_the_run_worktree() {
    let items = vec![
        Item {
            id: "X",
            deps: &[],
            files: &[("x.txt", "x\n")],
        },
        Item {
            id: "Y",
            deps: &[],
            files: &[("y.txt", "y\n")],
        },
    ];
    let repo = Repo::new(
        &config_with_gates(
            &[("set_up", "test -f setup.marker")],
            "worktree:\n  setup: [\"echo ready > setup.marker\"]\n",
        ),
        &scenario(&items, 0, ""),
    );
    // Ignored in every worktree, so the set-up's file is never committed.
    let exclude = repo.path().join(".git/info/exclude");
    let mut text = std::fs::read_to_string(&exclude).unwrap_or_default();
    text.push_str("setup.marker\n");
    std::fs::write(&exclude, text).unwrap();
    let r = repo.run("set up", &["--parallel", "2"]);
    r.expect_code(0);
    for item in ["X", "Y"] {
        let log = repo.run_dir(&r.id).join(format!("logs/setup_{item}_1.log"));
        assert!(log.exists(), "lane {item} was set up");
    }
    let setups = repo
        .events(&r.id)
        .iter()
        .filter(|e| e["event"] == "setup_command")
        .count();
    assert_eq!(setups, 3, "the run's worktree and each lane's, once each");
    let patch = repo.read(&r.id, "artifacts/patch.diff");
    assert!(!patch.contains("setup.marker"), "{patch}");
}

#[test]
fn clean_orphans_removes_the_lanes_of_a_run_whose_folder_was_deleted() {
    let repo = kill_repo();
    let id = killed_when(&repo, "", "three lanes to be open", three_lanes_open);
    assert!(
        lanes_left(&repo, &id).0 >= 1,
        "lanes are open after the kill"
    );
    std::fs::remove_dir_all(repo.run_dir(&id)).unwrap();
    let out = repo.orx(&["clean", "--orphans"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(lanes_left(&repo, &id), (0, false), "no lane worktree left");
    assert!(lane_branches(&repo, &id).is_empty(), "no lane branch left");
    let list = git(repo.path(), &["worktree", "list", "--porcelain"]);
    assert_eq!(list.matches("worktree ").count(), 1, "{list}");
}

/// A parallel run SIGKILLed with its lanes open keeps them in its state; the API's run detail,
/// MCP's `run_status` and the dashboard's run page and live fragment show each of them.
#[test]
fn the_api_mcp_and_the_run_page_show_the_open_lanes_of_a_killed_run() {
    let repo = kill_repo();
    let id = killed_when(&repo, "", "three lanes to be open", three_lanes_open);
    let st = repo.state(&id);
    let lanes = st["lanes"].as_array().unwrap().clone();
    assert!(!lanes.is_empty(), "lanes are open after the kill: {st}");
    let want: Vec<serde_json::Value> = lanes
        .iter()
        .map(|l| {
            serde_json::json!({
                "item": l["item"], "attempt": l["attempt"], "phase": l["phase"], "worktree": l["path"],
            })
        })
        .collect();

    let s = crate::serve::Server::start(repo.path(), &[], &[]);
    let detail = s.get(&format!("/api/runs/{id}"));
    assert_eq!(detail.status, 200, "{}", detail.text());
    let detail = detail.json();
    assert_eq!(detail["lanes"], serde_json::json!(want), "{detail}");
    assert_eq!(detail["max_parallel"], 3);
    for target in [format!("/runs/{id}"), format!("/ui/runs/{id}/live")] {
        let page = s.get(&target);
        assert_eq!(page.status, 200, "{target}");
        let html = page.text();
        assert!(
            html.contains("<table class=\"lanes\" id=\"lanes\">"),
            "{target}: {html}"
        );
        for l in &lanes {
            let row = format!(
                "<tr data-lane=\"{i}\"><td>{i}</td><td>{a}</td><td>{p}</td></tr>",
                i = l["item"].as_str().unwrap(),
                a = l["attempt"].as_u64().unwrap(),
                p = l["phase"].as_str().unwrap(),
            );
            assert!(html.contains(&row), "{target}: {row} in {html}");
        }
        assert_eq!(
            html.matches("<tr data-lane=").count(),
            lanes.len(),
            "{target}"
        );
    }

    let mut m = crate::mcp::Mcp::start(&repo);
    let status = m.ok("run_status", serde_json::json!({"run_id": id}));
    assert_eq!(status["lanes"], serde_json::json!(want), "{status}");
    assert_eq!(status["max_parallel"], 3);
    m.close();
}

/// A folder holding a `git` that says it is 2.37.1 when asked its version (orx asks as `git -c
/// … --version`) and is the real git otherwise; put first on PATH.
fn old_git() -> (tempfile::TempDir, String) {
    use std::os::unix::fs::PermissionsExt;
    let real = std::process::Command::new("sh")
        .args(["-c", "command -v git"])
        .output()
        .unwrap();
    let real = String::from_utf8_lossy(&real.stdout).trim().to_string();
    assert!(!real.is_empty(), "git is on PATH");
    let bin = tempfile::tempdir().unwrap();
    let git = bin.path().join("git");
    std::fs::write(
        &git,
        format!(
            "#!/bin/sh\ncase \" $* \" in *' --version '*) echo 'git version 2.37.1'; exit 0 ;; esac\nexec {real} \"$@\"\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&git, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    (bin, path)
}

#[test]
fn lanes_with_a_git_older_than_they_need_are_refused_before_anything_is_created() {
    let (_bin, path) = old_git();
    let repo = Repo::new(
        &config_with_gates(&[("ok", "true")], ""),
        &scenario(&diamond(), 0, ""),
    );
    let exclude = repo.path().join(".git/info/exclude");
    let exclude_before = std::fs::read_to_string(&exclude).unwrap_or_default();
    let out = repo
        .cmd(&[
            "run",
            "diamond",
            "--scenario",
            "scenario.yaml",
            "--no-progress",
            "--parallel",
            "2",
        ])
        .env("PATH", &path)
        .output()
        .unwrap();
    let r = RunResult::from(out);
    r.expect_code(2);
    let stderr = r.stderr.trim_end();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    for part in [
        "git 2.40 or later",
        "git version 2.37.1",
        "upgrade git",
        "--parallel 1",
    ] {
        assert!(stderr.contains(part), "{part:?} in {stderr}");
    }
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    assert!(!repo.path().join("runs").exists(), "no run folder");
    assert!(!repo.path().join(".worktrees").exists(), "no worktree");
    assert_eq!(
        std::fs::read_to_string(&exclude).unwrap_or_default(),
        exclude_before
    );
    let branches = git(repo.path(), &["branch", "--list", "orx/*"]);
    assert!(branches.trim().is_empty(), "{branches}");

    // `run.max_parallel` in orx.yaml is refused the same way; doctor names the minimum and,
    // since the file asks for lanes, calls the old git an error.
    std::fs::write(
        repo.path().join("orx.yaml"),
        config_with_gates(&[("ok", "true")], "run:\n  max_parallel: 2\n"),
    )
    .unwrap();
    let out = repo
        .cmd(&[
            "run",
            "diamond",
            "--scenario",
            "scenario.yaml",
            "--no-progress",
        ])
        .env("PATH", &path)
        .output()
        .unwrap();
    RunResult::from(out).expect_code(2);
    assert!(!repo.path().join("runs").exists(), "no run folder");
    let out = repo
        .cmd(&["doctor", "--json"])
        .env("PATH", &path)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let check = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "git")
        .cloned()
        .unwrap();
    assert_eq!(check["version"], "2.37.1");
    assert_eq!(check["minimum_version"], "2.40");
    assert_eq!(check["problems"][0]["severity"], "error", "{check}");
    assert_eq!(report["ok"], false);
    let text = RunResult::from(repo.cmd(&["doctor"]).env("PATH", &path).output().unwrap());
    assert!(
        text.stdout.contains("parallel lanes need 2.40 or later"),
        "{}",
        text.stdout
    );

    // One item at a time needs no merge-tree: the same git runs it.
    std::fs::write(
        repo.path().join("orx.yaml"),
        config_with_gates(&[("ok", "true")], ""),
    )
    .unwrap();
    let out = repo
        .cmd(&[
            "run",
            "diamond",
            "--scenario",
            "scenario.yaml",
            "--no-progress",
        ])
        .env("PATH", &path)
        .output()
        .unwrap();
    RunResult::from(out).expect_code(0);
}

#[test]
fn a_second_ctrl_c_during_lanes_kills_every_lane_group_at_once_and_leaves_no_process() {
    // Every lane's gate ignores the SIGTERM of a graceful stop: it marks that it got it and
    // goes on (its `sleep` dies with the group's SIGTERM, the loop starts another). The grace
    // period is an hour, so only the SIGKILL of a second Ctrl-C can end it while the test waits.
    let marks = tempfile::tempdir().unwrap();
    let script = marks.path().join("gate.sh");
    std::fs::write(
        &script,
        format!(
            "trap 'touch {m}/term.$$' TERM\ntouch {m}/started.$$\nwhile :; do sleep 1; done\n",
            m = marks.path().display()
        ),
    )
    .unwrap();
    // Exec form: the gate's own process is the shell that traps SIGTERM (through `sh -c` the
    // outer shell would die of it and the call would end at once).
    let gate = format!(
        "  - name: stubborn\n    command: sh\n    args: [{}]\n",
        yaml_str(&script.display().to_string())
    );
    let items = vec![
        Item {
            id: "X",
            deps: &[],
            files: &[("x.txt", "x\n")],
        },
        Item {
            id: "Y",
            deps: &[],
            files: &[("y.txt", "y\n")],
        },
        Item {
            id: "Z",
            deps: &[],
            files: &[("z.txt", "z\n")],
        },
    ];
    let config = format!(
        "{}run:\n  stop_grace_secs: 3600\n",
        config_with_gates(&[], &gate)
    );
    let repo = Repo::new(&config, &scenario(&items, 0, ""));
    let mut child = repo
        .cmd(&[
            "run",
            "lanes",
            "--scenario",
            "scenario.yaml",
            "--no-progress",
            "--parallel",
            "3",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let marked = |prefix: &str| {
        std::fs::read_dir(marks.path())
            .map(|rd| {
                rd.flatten()
                    .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
                    .count()
            })
            .unwrap_or(0)
    };
    until("every lane's gate to start", || {
        (marked("started.") == 3).then_some(())
    });
    let sigint = || {
        let _ = std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
    };
    sigint();
    until("every lane's gate to get the graceful SIGTERM", || {
        (marked("term.") == 3).then_some(())
    });
    sigint();
    let status = until("orx to exit at the second Ctrl-C", || {
        child.try_wait().unwrap()
    });
    assert_eq!(status.code(), Some(130));
    let id = other_run(&repo, "").expect("the run has a folder");
    // Killed at once: no graceful end was recorded (a graceful stop writes run_finished).
    let events = repo.events(&id);
    assert!(
        !events.iter().any(|e| e["event"] == "run_finished"),
        "the run ended gracefully, not at the second Ctrl-C"
    );
    let left = until("the killed groups to be gone", || {
        let left = crate::torture::pids_with_env(&format!("ORX_RUN_ID={id}"));
        left.is_empty().then_some(left)
    });
    assert!(left.is_empty());
}
