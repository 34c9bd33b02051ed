//! Approval checkpoints over the API and the dashboard: the output shown, an invalid edit
//! refused with nothing written, reject with feedback, and an approved edit reaching the next
//! stage.

use serde_json::json;

use super::{serve_config, wait_not_live, Server};
use crate::support::{standard_scenario, text_step, Repo};

#[test]
fn a_run_awaiting_approval_is_shown_rejected_and_approved_with_an_edit() {
    let scenario = standard_scenario(0).replacen(
        "plan: ",
        &format!("plan:\n  - {}\n  - ", text_step("# Plan v1")),
        1,
    );
    let repo = Repo::new(&serve_config("run:\n  approve: [plan]\n"), &scenario);
    let r = repo.run("Add add() and mul()", &[]);
    r.expect_code(4);
    let id = r.id.clone();
    let s = Server::start(repo.path(), &[], &[]);

    let a = s.get(&format!("/api/runs/{id}/approval"));
    assert_eq!(a.status, 200, "{}", a.text());
    let a = a.json();
    assert_eq!(a["stage"], "plan");
    assert_eq!(a["file"], "context/plan.md");
    assert_eq!(a["editable"], true);
    assert_eq!(a["content"], "# Plan v1");
    let page = s.get(&format!("/runs/{id}")).text();
    assert!(
        page.contains("id=\"approval\"") && page.contains("# Plan v1"),
        "{page}"
    );

    // An empty plan is refused, and nothing is written.
    let bad = s.post(
        &format!("/api/runs/{id}/approve"),
        &json!({"content": "  \n"}),
    );
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert!(bad.json()["error"]
        .as_str()
        .unwrap()
        .contains("context/plan.md"));
    assert_eq!(repo.read(&id, "context/plan.md"), "# Plan v1");
    assert_eq!(repo.state(&id)["status"], "awaiting_approval");
    assert_eq!(
        s.post(&format!("/api/runs/{id}/reject"), &json!({})).status,
        422
    );

    let rej = s.post(
        &format!("/api/runs/{id}/reject"),
        &json!({"feedback": "FEEDBACK-FROM-THE-API: mention mul()"}),
    );
    assert_eq!(rej.status, 202, "{}", rej.text());
    let d = s.wait_run(&id, |v| {
        v["status"] == "awaiting_approval" && v["live"] == false
    });
    assert_eq!(d["current_stage"], "plan");
    assert!(repo
        .read(&id, "prompts/plan_2.md")
        .contains("FEEDBACK-FROM-THE-API: mention mul()"));
    assert!(!repo
        .run_dir("")
        .join(".launch")
        .join(format!("{id}.feedback.md"))
        .exists());

    let ok = s.post(
        &format!("/api/runs/{id}/approve"),
        &json!({"content": "# Plan\n\nEDITED-IN-THE-API\n"}),
    );
    assert_eq!(ok.status, 202, "{}", ok.text());
    s.wait_run(&id, |v| v["status"] == "succeeded");
    wait_not_live(&s, &id);
    assert!(repo
        .read(&id, "prompts/spec.md")
        .contains("EDITED-IN-THE-API"));
    assert_eq!(s.get(&format!("/api/runs/{id}/approval")).status, 409);
    assert_eq!(
        s.post(&format!("/api/runs/{id}/approve"), &json!({}))
            .status,
        409
    );
}

#[test]
fn a_run_started_from_the_api_or_the_form_can_ask_for_approval_lanes_and_candidates() {
    let repo = Repo::new(&serve_config(""), &standard_scenario(0));
    let s = Server::start(repo.path(), &[], &[]);

    let r = s.post(
        "/api/runs",
        &json!({"task": "Add add() and mul()", "approve": ["plan"], "parallel": 2, "candidates": 2}),
    );
    assert_eq!(r.status, 202, "{}", r.text());
    let id = r.json()["run_id"].as_str().unwrap().to_string();
    s.wait_run(&id, |v| {
        v["status"] == "awaiting_approval" && v["live"] == false
    });
    let state = repo.state(&id);
    assert_eq!(state["max_parallel"], 2, "{state}");
    assert_eq!(state["max_candidates"], 2, "{state}");
    assert_eq!(
        s.get(&format!("/api/runs/{id}/approval")).json()["stage"],
        "plan"
    );

    // A stage a run cannot stop after, and a lane count out of range, are refused with the
    // reason before any run exists.
    for (body, words) in [
        (
            json!({"task": "t", "approve": ["implement"]}),
            "`implement`",
        ),
        (json!({"task": "t", "parallel": 17}), "outside 1 to 16"),
        (json!({"task": "t", "candidates": 9}), "outside 1 to 8"),
    ] {
        let bad = s.post("/api/runs", &body);
        assert_eq!(bad.status, 400, "{}", bad.text());
        assert!(
            bad.json()["error"].as_str().unwrap().contains(words),
            "{}",
            bad.text()
        );
    }

    // The dashboard's start form: a checked box stops the run after that stage.
    let page = s.get("/").text();
    assert!(page.contains("name=\"approve_decompose\""), "{page}");
    let form = s.post_form(
        "/ui/runs",
        "task=Add+add%28%29+and+mul%28%29&approve_decompose=on&parallel=1",
    );
    assert_eq!(form.status, 303, "{}", form.text());
    let id = form
        .header("location")
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let d = s.wait_run(&id, |v| {
        v["status"] == "awaiting_approval" && v["live"] == false
    });
    assert_eq!(d["current_stage"], "decompose", "{d}");
    let bad = s.post_form("/ui/runs", "task=t&parallel=two");
    assert!(
        bad.text().contains("Parallel must be a whole number"),
        "{}",
        bad.text()
    );
}
