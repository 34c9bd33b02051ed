//! Approval checkpoints through the real binary: a run stops after an approved stage with its
//! own exit code, a person's edit of the stage's output reaches the next stage (or is refused
//! with nothing lost when invalid), a rejection runs the stage again with the feedback, and
//! approving goes on to the end.

use crate::support::*;

/// The exit code of a run waiting for a person (README, "Exit codes").
const AWAITING: i32 = 4;

fn repo_with_hooks() -> Repo {
    let hook = yaml_str(
        "echo \"$ORX_EVENT|$ORX_STAGE|$ORX_STATUS\" >> \"$ORX_RUN_DIR/approval_hooks.txt\"",
    );
    Repo::new(
        &standard_config(&format!(
            "hooks:\n  awaiting_approval: [{{command: {hook}}}]\n"
        )),
        &standard_scenario(0),
    )
}

#[test]
fn approve_plan_stops_and_an_edited_plan_reaches_the_spec_prompt() {
    let repo = repo_with_hooks();
    let r = repo.run("Add add() and mul()", &["--approve", "plan"]);
    r.expect_code(AWAITING);
    let st = repo.state(&r.id);
    assert_eq!(st["status"], "awaiting_approval");
    assert_eq!(st["checkpoint"]["stage"], "plan");
    assert!(
        r.stdout.contains(&format!("runs/{}/context/plan.md", r.id)),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains(&format!("orx approve {}", r.id)));
    // Nothing ran past the plan, and the lock is free.
    assert!(!repo.run_dir(&r.id).join("context/spec.md").exists());
    assert_eq!(
        repo.read(&r.id, "approval_hooks.txt"),
        "awaiting_approval|plan|awaiting_approval\n"
    );
    let kinds: Vec<String> = repo
        .events(&r.id)
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        kinds[kinds.len() - 3..],
        ["awaiting_approval", "hook", "run_finished"]
    );

    let status = RunResult::from(repo.orx(&["status", &r.id]));
    assert!(
        status
            .stdout
            .contains("awaiting  approval of plan: read runs/")
            && status.stdout.contains(&format!("`orx approve {}`", r.id)),
        "{}",
        status.stdout
    );

    // A resume is refused: the run waits for a person, not for a retry.
    let resumed = RunResult::from(repo.orx(&["resume", &r.id, "--no-progress"]));
    resumed.expect_code(2);
    assert!(
        resumed.stderr.contains("awaiting approval"),
        "{}",
        resumed.stderr
    );

    let plan = repo.run_dir(&r.id).join("context/plan.md");
    std::fs::write(
        &plan,
        "# Plan\n\nEDITED-BY-A-PERSON: only add(), keep it tiny.\n",
    )
    .unwrap();
    let a = RunResult::from(repo.orx(&["approve", &r.id, "--no-progress"]));
    a.expect_code(0);
    let spec_prompt = repo.read(&r.id, "prompts/spec.md");
    assert!(
        spec_prompt.contains("EDITED-BY-A-PERSON: only add(), keep it tiny."),
        "{spec_prompt}"
    );
    let st = repo.state(&r.id);
    assert_eq!(st["status"], "succeeded");
    assert!(st["checkpoint"].is_null());
    let approved = repo
        .events(&r.id)
        .iter()
        .filter(|e| e["event"] == "approved")
        .count();
    assert_eq!(approved, 1);
}

#[test]
fn an_invalid_edited_backlog_is_refused_with_nothing_lost() {
    let repo = Repo::new(
        &standard_config("run:\n  approve: [decompose]\n"),
        &standard_scenario(0),
    );
    let r = repo.run("Add add() and mul()", &["--json"]);
    assert_eq!(r.code, AWAITING, "{}\n{}", r.stdout, r.stderr);
    let summary: serde_json::Value =
        serde_json::from_str(r.stdout.lines().last().unwrap()).unwrap();
    assert_eq!(summary["status"], "awaiting_approval");
    assert_eq!(summary["exit_code"], AWAITING);
    assert_eq!(summary["awaiting_approval"]["stage"], "decompose");
    assert_eq!(
        summary["awaiting_approval"]["output"],
        "context/backlog.yaml"
    );
    let id = summary["run_id"].as_str().unwrap().to_string();

    let backlog = repo.run_dir(&id).join("context/backlog.yaml");
    let broken = "items:\n  - id: W001\n    title: Work W001\n    depends_on: [W009]\n";
    std::fs::write(&backlog, broken).unwrap();
    let state_before = std::fs::read_to_string(repo.run_dir(&id).join("state.json")).unwrap();
    let events_before = std::fs::read_to_string(repo.run_dir(&id).join("events.jsonl")).unwrap();

    let a = RunResult::from(repo.orx(&["approve", &id, "--no-progress"]));
    a.expect_code(2);
    let error: Vec<&str> = a
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    assert_eq!(error.len(), 1, "{}", a.stderr);
    assert!(
        error[0].contains(&format!("runs/{id}/context/backlog.yaml"))
            && error[0].contains("unknown item W009"),
        "{}",
        a.stderr
    );
    assert!(a.stderr.contains("hint:"), "{}", a.stderr);
    // Nothing lost: the edit, the state and the history are as they were.
    assert_eq!(std::fs::read_to_string(&backlog).unwrap(), broken);
    assert_eq!(
        std::fs::read_to_string(repo.run_dir(&id).join("state.json")).unwrap(),
        state_before
    );
    assert_eq!(
        std::fs::read_to_string(repo.run_dir(&id).join("events.jsonl")).unwrap(),
        events_before
    );

    // A YAML error names its line.
    std::fs::write(&backlog, "items:\n  - id: W001\n    title: [unclosed\n").unwrap();
    let a = RunResult::from(repo.orx(&["approve", &id, "--no-progress"]));
    a.expect_code(2);
    assert!(a.stderr.contains("line"), "{}", a.stderr);

    // A valid edit is used as it stands: one item instead of two.
    std::fs::write(
        &backlog,
        "items:\n  - id: W002\n    title: Only mul\n    objective: Add mul()\n",
    )
    .unwrap();
    let a = RunResult::from(repo.orx(&["approve", &id, "--no-progress"]));
    a.expect_code(0);
    let st = repo.state(&id);
    let items: Vec<&str> = st["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(items, ["W002"]);
    assert!(repo
        .run_dir(&id)
        .join("prompts/implement_W002_1.md")
        .exists());
    assert!(!repo
        .run_dir(&id)
        .join("prompts/implement_W001_1.md")
        .exists());
}

#[test]
fn reject_runs_the_stage_again_with_the_feedback_then_stops_again() {
    let scenario = standard_scenario(0).replacen(
        "plan: ",
        &format!("plan:\n  - {}\n  - ", text_step("# Plan v1")),
        1,
    );
    let repo = Repo::new(&standard_config(""), &scenario);
    let r = repo.run("Add add() and mul()", &["--approve", "plan,review"]);
    r.expect_code(AWAITING);
    assert_eq!(repo.read(&r.id, "context/plan.md"), "# Plan v1");

    std::fs::write(
        repo.path().join("feedback.md"),
        "Say how mul() is tested.\n",
    )
    .unwrap();
    let j = RunResult::from(repo.orx(&[
        "reject",
        &r.id,
        "--feedback",
        "@feedback.md",
        "--no-progress",
    ]));
    j.expect_code(AWAITING);
    let prompt = repo.read(&r.id, "prompts/plan_2.md");
    assert!(prompt.contains("Say how mul() is tested."), "{prompt}");
    assert!(!repo
        .read(&r.id, "prompts/plan.md")
        .contains("Say how mul()"));
    assert!(repo
        .read(&r.id, "context/plan.md")
        .contains("Add add() and mul()."));
    let st = repo.state(&r.id);
    assert_eq!(st["checkpoint"]["stage"], "plan");
    assert!(st["feedback"].is_null());

    // Approve: on to the review checkpoint, then to the end.
    let a = RunResult::from(repo.orx(&["approve", &r.id, "--no-progress"]));
    a.expect_code(AWAITING);
    assert!(a.stdout.contains("artifacts/review.md"), "{}", a.stdout);
    assert_eq!(repo.state(&r.id)["checkpoint"]["stage"], "review");
    // The spec prompt carries no feedback meant for the plan.
    assert!(!repo
        .read(&r.id, "prompts/spec.md")
        .contains("Say how mul()"));
    let a = RunResult::from(repo.orx(&["approve", &r.id, "--no-progress"]));
    a.expect_code(0);
    assert_eq!(repo.state(&r.id)["status"], "succeeded");
    assert!(repo
        .read(&r.id, "artifacts/patch.diff")
        .contains("return a * b"));
}

#[test]
fn approval_is_refused_for_a_run_that_does_not_await_it_and_for_unknown_stages() {
    let repo = Repo::new(&standard_config(""), &standard_scenario(0));
    let r = repo.run("Add add() and mul()", &["--approve", "implement"]);
    r.expect_code(2);
    assert!(
        r.stderr.contains("`--approve` names `implement`"),
        "{}",
        r.stderr
    );
    let r = repo.run("Add add() and mul()", &[]);
    r.expect_code(0);
    for cmd in [
        vec!["approve", r.id.as_str()],
        vec!["reject", r.id.as_str(), "--feedback", "no"],
    ] {
        let out = RunResult::from(repo.orx(&cmd));
        out.expect_code(2);
    }
    let bad = Repo::new(
        &standard_config("run:\n  approve: [plan, deploy]\n"),
        &standard_scenario(0),
    );
    let r = bad.run("x", &[]);
    r.expect_code(2);
    assert!(
        r.stderr.contains("orx.yaml:") && r.stderr.contains("deploy"),
        "{}",
        r.stderr
    );
}

#[test]
fn an_edited_review_verdict_decides_where_the_run_goes() {
    // The change a person asks for becomes item R1-01, which the scripted agent implements.
    let scenario = standard_scenario(0).replacen(
        "fix:\n",
        &format!(
            "  R1-01: {}\nfix:\n",
            files_step(&[("docs.txt", "documented\n")])
        ),
        1,
    );
    let repo = Repo::new(&standard_config(""), &scenario);
    let r = repo.run("Add add() and mul()", &["--approve", "review"]);
    r.expect_code(AWAITING);
    let review = repo.run_dir(&r.id).join("artifacts/review.md");
    assert!(std::fs::read_to_string(&review)
        .unwrap()
        .contains("approved"));

    // A reply without a verdict is refused; the file stays as edited.
    std::fs::write(&review, "I have doubts.\n").unwrap();
    let a = RunResult::from(repo.orx(&["approve", &r.id, "--no-progress"]));
    a.expect_code(2);
    assert!(
        a.stderr.contains("artifacts/review.md: no usable verdict"),
        "{}",
        a.stderr
    );
    assert_eq!(repo.state(&r.id)["status"], "awaiting_approval");

    // The person asks for a change: the run goes back to implement with it as an item, and the
    // second review round stops for approval again.
    std::fs::write(
        &review,
        "Needs docs.\n\n```json\n{\"verdict\": \"changes_requested\", \"summary\": \"add docs\", \"changes\": [\"Document add and mul\"]}\n```\n",
    )
    .unwrap();
    let a = RunResult::from(repo.orx(&["approve", &r.id, "--no-progress"]));
    a.expect_code(AWAITING);
    let st = repo.state(&r.id);
    assert_eq!(st["checkpoint"]["stage"], "review");
    let item = st["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == "R1-01")
        .expect("the requested change became an item");
    assert_eq!(item["status"], "done");
    assert!(a.stdout.contains("artifacts/review_2.md"), "{}", a.stdout);
    let a = RunResult::from(repo.orx(&["approve", &r.id, "--no-progress"]));
    a.expect_code(0);
    assert!(repo
        .read(&r.id, "artifacts/patch.diff")
        .contains("documented"));
}

/// `orx approve` that dies after taking the run but before leaving the checkpoint (a
/// `kill -9`, a power cut) leaves the state `running` with the checkpoint still recorded. The
/// run is still at its checkpoint: a resume must not run the approved stage again over the
/// person's edit, and approving again goes on with it.
#[test]
fn a_run_left_at_its_checkpoint_by_a_crashed_approve_is_still_awaiting_approval() {
    let repo = Repo::new(
        &standard_config("run:\n  approve: [decompose]\n"),
        &standard_scenario(0),
    );
    let r = repo.run("Add add() and mul()", &[]);
    r.expect_code(AWAITING);
    let backlog = repo.run_dir(&r.id).join("context/backlog.yaml");
    let edit = "items:\n  - id: W002\n    title: Only mul\n    objective: Add mul()\n";
    std::fs::write(&backlog, edit).unwrap();
    // The stop is an exit: the journal is compacted into state.json, which holds the
    // checkpoint on its own (and is what a person or a crash-recovery tool would read).
    let journal = repo.run_dir(&r.id).join("state.jsonl");
    assert_eq!(std::fs::metadata(&journal).map(|m| m.len()).unwrap_or(0), 0);
    let state_file = repo.run_dir(&r.id).join("state.json");
    let mut st: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state_file).unwrap()).unwrap();
    assert!(st["checkpoint"].is_object());
    st["status"] = "running".into();
    std::fs::write(&state_file, serde_json::to_string_pretty(&st).unwrap()).unwrap();

    let resumed = RunResult::from(repo.orx(&["resume", &r.id, "--no-progress"]));
    resumed.expect_code(2);
    assert!(
        resumed.stderr.contains("awaiting approval"),
        "{}",
        resumed.stderr
    );
    assert_eq!(std::fs::read_to_string(&backlog).unwrap(), edit);

    let a = RunResult::from(repo.orx(&["approve", &r.id, "--no-progress"]));
    a.expect_code(0);
    let items: Vec<String> = repo.state(&r.id)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(items, ["W002"]);
}
