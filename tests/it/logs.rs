//! `orx logs`: a run's story read from its folder, filtered, as JSON, and followed live across a
//! kill and a resume.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};

use crate::support::*;
use crate::waiting::{lock_released, until, Hold};

/// The standard scenario's gates, the first of which prints where it failed.
fn config(extra: &str) -> String {
    config_with_gates(
        &[
            (
                "add_is_right",
                "test ! -f calc.py || grep -q 'return a + b' calc.py || { echo 'calc.py:2: add subtracts'; exit 1; }",
            ),
            ("syntax", "true"),
        ],
        extra,
    )
}

/// The index of the first line of `lines` at or after `from` containing `needle`.
fn find(lines: &[&str], from: usize, needle: &str) -> usize {
    lines[from..]
        .iter()
        .position(|l| l.contains(needle))
        .map(|i| i + from)
        .unwrap_or_else(|| {
            panic!(
                "no line with {needle:?} after line {from}:\n{}",
                lines.join("\n")
            )
        })
}

#[test]
fn a_finished_run_reads_as_a_story() {
    let repo = Repo::new(&config(""), &standard_scenario(0));
    let run = repo.run("Add add() and mul()", &[]);
    run.expect_code(0);
    let out = RunResult::from(repo.orx(&["logs", &run.id]));
    out.expect_code(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    // In the order it happened: headers, the agent's message, a tool call per line, the failing
    // gate with the line it failed on, the fix attempt that followed, and the end.
    let plan = find(&lines, 0, "== plan ==");
    let said = find(&lines, plan, "agent: # Plan");
    let implement = find(&lines, said, "== implement ==");
    let item = find(&lines, implement, "-- item W001: Work W001");
    let first = find(&lines, item, "W001 attempt 1 (implement)");
    let edit = find(&lines, first, "edit calc.py");
    assert_eq!(lines[edit].trim(), "edit calc.py", "one line per tool call");
    find(&lines, first, "edit notes/w1.txt");
    let gate = find(&lines, edit, "gate add_is_right FAILED with exit 1");
    assert_eq!(lines[gate + 1].trim(), "calc.py:2: add subtracts");
    let fix = find(&lines, gate, "W001 attempt 2 (fix)");
    find(&lines, fix, "edit calc.py");
    find(&lines, fix, "gate add_is_right passed");
    let review = find(&lines, fix, "== review ==");
    find(&lines, review, "== ship ==");
    find(&lines, review, &format!("run {} succeeded", run.id));
    assert!(
        !out.stdout.contains("\"type\""),
        "no raw JSON in the story:\n{}",
        out.stdout
    );

    // A finished run has nothing more to follow: -f tells the same story and ends.
    let followed = RunResult::from(repo.orx(&["logs", "-f", &run.id]));
    followed.expect_code(0);
    assert_eq!(followed.stdout, out.stdout);
}

#[test]
fn json_prints_the_events_and_filters_pick_a_stage_or_an_item() {
    let repo = Repo::new(&config(""), &standard_scenario(0));
    let run = repo.run("Add add() and mul()", &[]);
    run.expect_code(0);
    let events = repo.events(&run.id);
    let json = |extra: &[&str]| -> Vec<serde_json::Value> {
        let mut args = vec!["logs", run.id.as_str(), "--json"];
        args.extend_from_slice(extra);
        let out = RunResult::from(repo.orx(&args));
        out.expect_code(0);
        out.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    };
    assert_eq!(json(&[]), events, "--json is the run's events");
    let tool_calls: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["agent"]["type"] == "tool_call")
        .collect();
    assert!(
        tool_calls
            .iter()
            .any(|e| e["agent"]["kind"] == "edit" && e["agent"]["target"] == "calc.py"),
        "normalised tool calls in the events: {tool_calls:?}"
    );

    let w2: Vec<serde_json::Value> = events
        .iter()
        .filter(|e| e["item"] == "W002")
        .cloned()
        .collect();
    assert!(!w2.is_empty());
    assert_eq!(json(&["--item", "W002"]), w2);

    let gates = json(&["--stage", "verify", "--item", "W001"]);
    assert!(!gates.is_empty());
    assert!(
        gates
            .iter()
            .all(|e| e["item"] == "W001" && e["event"].as_str().unwrap().starts_with("gate_")),
        "{gates:?}"
    );

    let plan = RunResult::from(repo.orx(&["logs", &run.id, "--stage", "plan"]));
    plan.expect_code(0);
    assert!(plan.stdout.contains("== plan =="), "{}", plan.stdout);
    assert!(plan.stdout.contains("agent: # Plan"), "{}", plan.stdout);
    for other in ["== spec ==", "W001", "gate "] {
        assert!(!plan.stdout.contains(other), "{other}: {}", plan.stdout);
    }

    let bad = RunResult::from(repo.orx(&["logs", &run.id, "--stage", "deploy"]));
    bad.expect_code(2);
    assert!(
        bad.stderr.contains("unknown stage `deploy`"),
        "{}",
        bad.stderr
    );
    RunResult::from(repo.orx(&["logs", "20991231-000000-abcdef"])).expect_code(2);
}

/// What a child process printed so far on one of its streams, line by line.
fn collect(stream: impl Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    lines
}

fn has(lines: &Arc<Mutex<Vec<String>>>, needle: &str) -> Option<()> {
    lines
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains(needle))
        .then_some(())
}

fn kill(child: &mut Child) {
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

#[test]
fn follow_tells_a_live_run_to_its_end_across_a_kill_and_a_resume() {
    // The run is held at the start of review, so it is live when `logs -f` starts and when it
    // is killed; the resumed process then does review (resumed inside it, so no new header),
    // ship and knowledge.
    let hold = Hold::new();
    let repo = Repo::new(&config(&hold.hooks("review")), &standard_scenario(0));
    let mut run = repo
        .cmd(&[
            "run",
            "Add add() and mul()",
            "--scenario",
            "scenario.yaml",
            "--no-progress",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut run_out = BufReader::new(run.stdout.take().unwrap());
    let mut first = String::new();
    run_out.read_line(&mut first).unwrap();
    let id = first
        .trim()
        .strip_prefix("run ")
        .expect("run <id>")
        .to_string();
    hold.wait(&id);

    let mut logs = repo
        .cmd(&["logs", "-f", &id])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = collect(logs.stdout.take().unwrap());
    let err = collect(logs.stderr.take().unwrap());
    until("logs -f to tell the work done so far", || {
        has(&out, "item W002 done")
    });

    kill(&mut run);
    drop(run_out);
    lock_released(&repo.run_dir(&id));
    until("logs -f to notice nobody drives the run", || {
        has(&err, "waiting for `orx resume")
    });
    assert!(
        logs.try_wait().unwrap().is_none(),
        "logs -f keeps following"
    );

    hold.release();
    let resumed = RunResult::from(repo.orx(&["resume", &id, "--no-progress"]));
    resumed.expect_code(0);
    let status = until("logs -f to end with the run", || logs.try_wait().unwrap());
    assert!(status.success(), "{status:?}");
    // The reader thread has seen everything once the pipe closed.
    until("the last line of logs -f", || {
        has(&out, &format!("run {id} succeeded"))
    });
    let text = out.lock().unwrap().join("\n");
    let lines: Vec<&str> = text.lines().collect();
    let done = find(&lines, 0, "item W002 done");
    let resumed_at = find(&lines, done, &format!("run {id} resumed"));
    let review = find(&lines, resumed_at, "review round 1: approved");
    let ship = find(&lines, review, "== ship ==");
    let knowledge = find(&lines, ship, "== knowledge ==");
    find(&lines, knowledge, &format!("run {id} succeeded"));
}
