//! Best-of-N candidates: several agents attempt one item at once, each in a lane of its own;
//! the judge (or the smallest diff) picks among those that passed, the losers stay as refs
//! until `orx clean`; kills, budgets and what status shows.

use crate::support::*;

/// One item, W001, whose gate wants `ok` in out.txt; candidate steps from `implement` (lines
/// under `implement:`) and `extra` (fix:, judge:).
fn scenario(implement: &str, extra: &str) -> String {
    format!(
        "plan: {}\nspec: {}\ndecompose: {}\nimplement:\n{implement}{extra}review: {}\nknowledge_update: {}\n",
        text_step("# Plan\n\nWrite out.txt."),
        text_step("# Spec\n\nout.txt says ok."),
        text_step(&backlog_text(&[("W001", &[])])),
        text_step(&approve("done")),
        files_step(&[(
            "AGENTS.md",
            "<!-- orx:begin -->\n- candidates\n<!-- orx:end -->\n"
        )]),
    )
}

/// Three candidates: 1 passes with a large change, 2 fails its gate (and its one fix), 3
/// passes with the smallest change.
fn three_candidates() -> String {
    format!(
        "  W001+c1: {}\n  W001+c2: {}\n  W001+c3: {}\n",
        files_step(&[
            ("out.txt", "ok\n"),
            ("extra.txt", "one\ntwo\nthree\nfour\nfive\n")
        ]),
        files_step(&[("out.txt", "bad\n")]),
        files_step(&[("out.txt", "ok\n")]),
    )
}

fn config(candidates: &str, extra: &str) -> String {
    config_with_gates(
        &[("ok", "grep -q ok out.txt")],
        &format!("stages:\n  implement:\n    candidates: {candidates}\nrun:\n  max_fix_attempts: 1\n{extra}"),
    )
}

/// A judge step answering `reply`.
fn judge(reply: &str) -> String {
    format!("judge:\n  W001: {}\n", text_step(reply))
}

fn fix_c2() -> String {
    format!(
        "fix:\n  W001+c2:\n    - {}\n",
        files_step(&[("out.txt", "still bad\n")])
    )
}

/// The refs that keep candidates, by number.
fn candidate_refs(repo: &Repo, id: &str) -> Vec<String> {
    git(
        repo.path(),
        &[
            "for-each-ref",
            "--format=%(refname)",
            &format!("refs/orx/{id}/candidates/"),
        ],
    )
    .lines()
    .map(String::from)
    .collect()
}

/// Worktrees and branches of candidates git still knows.
fn candidates_left(repo: &Repo) -> (usize, usize) {
    let worktrees = git(repo.path(), &["worktree", "list", "--porcelain"])
        .lines()
        .filter(|l| l.starts_with("worktree ") && l.contains("+c"))
        .count();
    let branches = git(repo.path(), &["branch", "--list", "*+c*"])
        .lines()
        .count();
    (worktrees, branches)
}

#[test]
fn best_of_three_ships_the_judges_choice_keeps_the_losers_as_refs_until_clean() {
    let reply = "Candidate 1 covers more.\n\n```json\n{\"choice\": 1, \"reason\": \"it covers more\"}\n```\n";
    let extra = format!("{}{}", fix_c2(), judge(reply));
    let repo = Repo::new(&config("3", ""), &scenario(&three_candidates(), &extra));
    let r = repo.run("best of three", &[]);
    r.expect_code(0);
    let st = repo.state(&r.id);
    let cands = st["candidates"].as_array().unwrap();
    assert_eq!(cands.len(), 3, "{st}");
    let passed: Vec<_> = cands.iter().map(|c| c["passed"].clone()).collect();
    assert_eq!(passed, [true, false, true].map(serde_json::Value::from));
    assert_eq!(cands[1]["phase"], "failed");
    assert_eq!(cands[0]["executor"], "fake");
    assert_eq!(st["choices"][0]["item"], "W001");
    assert_eq!(st["choices"][0]["n"], 1);
    assert_eq!(st["choices"][0]["how"], "judge");
    assert_eq!(st["choices"][0]["reason"], "it covers more");
    assert_eq!(st["items"][0]["status"], "done");
    // Progress names a candidate as one, not as an item of its own.
    let said = format!("{}{}", r.stdout, r.stderr);
    assert!(said.contains("W001 candidate 2 attempt 2: stuck"), "{said}");
    assert!(said.contains("candidate 2 of W001 failed"), "{said}");
    assert!(!said.contains("W001+c"), "{said}");
    // The judge saw both passing candidates and not the failed one.
    let prompt = repo.read(&r.id, "prompts/judge_W001_1.md");
    assert!(
        prompt.contains("### Candidate 1") && prompt.contains("### Candidate 3"),
        "{prompt}"
    );
    assert!(!prompt.contains("### Candidate 2"), "{prompt}");
    // Each candidate had its own prompts and logs.
    for n in 1..=3 {
        repo.read(&r.id, &format!("prompts/implement_W001+c{n}_1.md"));
    }
    repo.read(&r.id, "prompts/fix_W001+c2_1.md");
    // The chosen diff shipped.
    let patch = repo.read(&r.id, "artifacts/patch.diff");
    assert!(
        patch.contains("extra.txt") && patch.contains("+ok"),
        "{patch}"
    );
    let shown = git(repo.path(), &["show", &format!("orx/{}:extra.txt", r.id)]);
    assert!(shown.starts_with("one"), "{shown}");
    let events = repo.events(&r.id);
    let chosen: Vec<_> = events
        .iter()
        .filter(|e| e["event"] == "candidate_chosen")
        .collect();
    assert_eq!(chosen.len(), 1);
    assert_eq!(chosen[0]["how"], "judge");
    // Every candidate stays inspectable as a ref; no candidate worktree or branch is left.
    let refs = candidate_refs(&repo, &r.id);
    let want: Vec<String> = (1..=3)
        .map(|n| format!("refs/orx/{}/candidates/W001/{n}", r.id))
        .collect();
    assert_eq!(refs, want);
    let loser = git(
        repo.path(),
        &[
            "show",
            &format!("refs/orx/{}/candidates/W001/2:out.txt", r.id),
        ],
    );
    assert_eq!(loser.trim_end(), "still bad");
    assert_eq!(candidates_left(&repo), (0, 0));
    // `orx status` shows the candidates and the choice.
    let status = RunResult::from(repo.orx(&["status", &r.id]));
    assert!(status.stdout.contains("CANDIDATE"), "{}", status.stdout);
    assert!(
        status
            .stdout
            .contains("W001 chose candidate 1 (judge): it covers more"),
        "{}",
        status.stdout
    );
    // Clean removes the refs.
    assert!(repo.orx(&["clean", &r.id]).status.success());
    assert!(candidate_refs(&repo, &r.id).is_empty());
}

#[test]
fn the_judge_answers_to_the_review_stages_fallback_rules() {
    // The judge's call is review's: a rate limit on it switches model by a `stage: review`
    // rule, and the judge's answer still decides.
    let reply = serde_json::to_string(
        "```json\n{\"choice\": 1, \"reason\": \"from the backup model\"}\n```",
    )
    .unwrap();
    let judge = format!(
        "judge:\n  W001: {{text: {reply}, error: \"rate limit exceeded\", error_model: primary}}\n"
    );
    let extra = "executors:\n  fake:\n    default:\n      model: primary\nfallback:\n  - on: rate_limited\n    stage: review\n    model: backup\n";
    let repo = Repo::new(
        &config("3", extra),
        &scenario(&three_candidates(), &format!("{}{judge}", fix_c2())),
    );
    let r = repo.run("best of three", &[]);
    r.expect_code(0);
    let st = repo.state(&r.id);
    let fb = &st["fallbacks"][0];
    assert_eq!(fb["stage"], "judge", "{st}");
    assert_eq!(fb["to_model"], "backup", "{st}");
    assert_eq!(st["choices"][0]["how"], "judge", "{st}");
    assert_eq!(st["choices"][0]["reason"], "from the backup model");
}

#[test]
fn an_unreadable_judge_answer_falls_back_to_the_smallest_diff() {
    let extra = format!("{}{}", fix_c2(), judge("Both look fine to me."));
    let repo = Repo::new(&config("3", ""), &scenario(&three_candidates(), &extra));
    let r = repo.run("best of three", &[]);
    r.expect_code(0);
    let st = repo.state(&r.id);
    assert_eq!(st["choices"][0]["n"], 3, "{st}");
    assert_eq!(st["choices"][0]["how"], "smallest_diff");
    let reason = st["choices"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("no ```json block"), "{reason}");
    let patch = repo.read(&r.id, "artifacts/patch.diff");
    assert!(
        patch.contains("+ok") && !patch.contains("extra.txt"),
        "{patch}"
    );
    assert_eq!(candidates_left(&repo), (0, 0));
}

#[test]
fn sigkill_while_candidates_run_then_resume_gives_the_same_patch() {
    let slow = |files: &[(&str, &str)], ms: u64| {
        files_step(files).replacen('{', &format!("{{delay_ms: {ms}, "), 1)
    };
    let implement = format!(
        "  W001+c1: {}\n  W001+c2: {}\n  W001+c3: {}\n",
        slow(&[("out.txt", "ok\n"), ("extra.txt", "more\n")], 300),
        slow(&[("out.txt", "bad\n")], 300),
        slow(&[("out.txt", "ok\n")], 300),
    );
    let fix = format!(
        "fix:\n  W001+c2:\n    - {}\n",
        slow(&[("out.txt", "ok, fixed\n")], 300)
    );
    let reply = "```json\n{\"choice\": 2, \"reason\": \"fixed it\"}\n```";
    let extra = format!("{fix}{}", judge(reply));
    let repo = Repo::new(
        &config("3", "  max_fix_attempts: 2\n").replace("  max_fix_attempts: 1\n", ""),
        &scenario(&implement, &extra),
    );
    let reference = repo.run("lanes", &["--parallel", "3"]);
    reference.expect_code(0);
    let patch = repo.read(&reference.id, "artifacts/patch.diff");
    assert!(patch.contains("ok, fixed"), "{patch}");

    // Killed once every candidate's agent has started.
    let id = super::lanes::killed_when(&repo, &reference.id, "three candidates to run", |ev| {
        ev.iter()
            .filter(|e| e["event"] == "attempt_started")
            .count()
            >= 3
    });
    let st = repo.state(&id);
    assert_eq!(st["status"], "running", "{st}");
    assert_eq!(st["candidates"].as_array().unwrap().len(), 3, "{st}");
    assert!(st["choices"].as_array().unwrap().is_empty(), "{st}");
    let out = RunResult::from(repo.orx(&["resume", &id, "--no-progress"]));
    out.expect_code(0);
    assert_eq!(repo.read(&id, "artifacts/patch.diff"), patch);
    let st = repo.state(&id);
    assert_eq!(st["choices"][0]["n"], 2, "{st}");
    assert_eq!(st["candidates"][1]["work"]["attempts"], 2, "{st}");
    assert_eq!(candidates_left(&repo), (0, 0));
}

#[test]
fn a_budget_that_runs_out_stops_the_running_candidate_and_keeps_the_one_that_passed() {
    let implement = format!(
        "  W001+c1: {}\n  W001+c2: {}\n",
        files_step(&[("out.txt", "ok\n")]).replacen('{', "{usage: {input_tokens: 10}, ", 1),
        files_step(&[("out.txt", "bad\n")]).replacen('{', "{usage: {input_tokens: 10}, ", 1),
    );
    // Candidate 2's fix crosses the budget on its own.
    let fix = format!(
        "fix:\n  W001+c2:\n    - {}\n",
        files_step(&[("out.txt", "ok\n")]).replacen(
            '{',
            "{usage: {input_tokens: 1000}, delay_ms: 300000, ",
            1
        )
    );
    let repo = Repo::new("", &scenario(&implement, &fix));
    // Candidate 2's gate waits until candidate 1 has written its file, so candidate 1's only
    // agent call is past its budget check before candidate 2's fix can spend the budget.
    let script = repo.path().join("gate.sh");
    std::fs::write(
        &script,
        "case \"$PWD\" in *+c2) while [ ! -f ../W001+c1/out.txt ]; do sleep 0.05; done ;; esac\n\
         grep -q ok out.txt\n",
    )
    .unwrap();
    let gate = format!("sh {}", script.display());
    std::fs::write(
        repo.path().join("orx.yaml"),
        config_with_gates(
            &[("ok", &gate)],
            "stages:\n  implement:\n    candidates: 2\nrun:\n  max_fix_attempts: 1\n  max_tokens: 500\n",
        ),
    )
    .unwrap();
    let r = repo.run("budget", &[]);
    r.expect_code(1);
    let st = repo.state(&r.id);
    assert_eq!(st["status"], "budget_exceeded", "{st}");
    assert_eq!(st["candidates"][0]["passed"], true, "{st}");
    assert_eq!(st["candidates"][1]["passed"], false, "{st}");
    assert_eq!(st["candidates"][1]["phase"], "stopped", "{st}");
    assert_eq!(st["choices"][0]["n"], 1, "{st}");
    assert_eq!(st["choices"][0]["how"], "only_one", "{st}");
    assert_eq!(st["items"][0]["status"], "done", "{st}");
    // Both candidates' usage counts.
    assert_eq!(st["usage"]["input_tokens"], 1020, "{st}");
    let shipped = git(repo.path(), &["show", &format!("orx/{}:out.txt", r.id)]);
    assert_eq!(shipped, "ok");
    assert_eq!(candidates_left(&repo), (0, 0));
}

#[test]
fn candidates_out_of_range_on_the_wrong_stage_or_naming_an_unknown_executor_are_refused() {
    let cases = [
        (
            "stages:\n  implement:\n    candidates: 9\n",
            "orx.yaml:11:5: `stages.implement.candidates` is 9, outside 1 to 8",
        ),
        (
            "stages:\n  implement:\n    candidates: [fake, nope]\n",
            "orx.yaml:11:5: `stages.implement.candidates[1]` is `nope`, which is not a known executor",
        ),
        (
            "stages:\n  review:\n    candidates: 2\n",
            "orx.yaml:11:5: `stages.review.candidates` is set, but only the implement stage has candidates",
        ),
    ];
    for (extra, want) in cases {
        let repo = Repo::new(&config_with_gates(&[("ok", "true")], extra), "");
        let r = repo.run("bad", &[]);
        r.expect_code(2);
        assert!(r.stderr.contains(want), "{want}\n{}", r.stderr);
    }
    let repo = Repo::new(&config_with_gates(&[("ok", "true")], ""), "");
    let r = repo.run("bad", &["--candidates", "9"]);
    r.expect_code(2);
}

#[test]
fn the_api_mcp_and_the_run_page_show_the_candidates_and_the_choice() {
    let reply = "```json\n{\"choice\": 3, \"reason\": \"the <smallest> one\"}\n```";
    let extra = format!("{}{}", fix_c2(), judge(reply));
    let repo = Repo::new(&config("3", ""), &scenario(&three_candidates(), &extra));
    let r = repo.run("best of three", &[]);
    r.expect_code(0);
    let want_choice = serde_json::json!([{
        "item": "W001", "n": 3, "how": "judge", "reason": "the <smallest> one",
    }]);

    let s = crate::serve::Server::start(repo.path(), &[], &[]);
    let detail = s.get(&format!("/api/runs/{}", r.id));
    assert_eq!(detail.status, 200, "{}", detail.text());
    let detail = detail.json();
    let cands = detail["candidates"].as_array().unwrap();
    assert_eq!(cands.len(), 3, "{detail}");
    assert_eq!(
        cands[1],
        serde_json::json!({
            "item": "W001", "n": 2, "executor": "fake", "attempt": 2, "phase": "failed",
            "passed": false, "chosen": false,
        })
    );
    assert_eq!(cands[2]["chosen"], true);
    assert_eq!(detail["choices"], want_choice);
    for target in [format!("/runs/{}", r.id), format!("/ui/runs/{}/live", r.id)] {
        let html = s.get(&target).text();
        assert_eq!(html.matches("<tr data-candidate=").count(), 3, "{target}");
        assert!(
            html.contains("<tr data-candidate=\"W001+c3\" class=\"chosen\">"),
            "{target}: {html}"
        );
        assert!(
            html.contains("W001: candidate 3 chosen (judge): the &lt;smallest&gt; one"),
            "{target}: {html}"
        );
    }

    let mut m = crate::mcp::Mcp::start(&repo);
    let status = m.ok("run_status", serde_json::json!({"run_id": r.id}));
    assert_eq!(status["choices"], want_choice, "{status}");
    assert_eq!(status["candidates"][0]["passed"], true, "{status}");
    m.close();
}

#[test]
fn clean_orphans_removes_the_candidates_of_a_run_whose_folder_was_deleted() {
    let slow = |files: &[(&str, &str)]| files_step(files).replacen('{', "{delay_ms: 300000, ", 1);
    // Candidate 1 passes at once; 2 and 3 are still at work when orx is killed.
    let implement = format!(
        "  W001+c1: {}\n  W001+c2: {}\n  W001+c3: {}\n",
        files_step(&[("out.txt", "ok\n")]),
        slow(&[("out.txt", "ok\n")]),
        slow(&[("out.txt", "ok\n")]),
    );
    let repo = Repo::new(&config("3", ""), &scenario(&implement, ""));
    let id = super::lanes::killed_when(&repo, "", "three candidates to run", |ev| {
        ev.iter()
            .filter(|e| e["event"] == "attempt_started")
            .count()
            >= 3
    });
    assert_eq!(
        candidates_left(&repo),
        (3, 3),
        "candidates are open after the kill"
    );
    std::fs::remove_dir_all(repo.run_dir(&id)).unwrap();
    let out = repo.orx(&["clean", "--orphans"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        candidates_left(&repo),
        (0, 0),
        "no candidate worktree or branch left"
    );
    let refs = git(repo.path(), &["for-each-ref", &format!("refs/orx/{id}/")]);
    assert!(refs.is_empty(), "{refs}");
}

#[test]
fn a_list_of_executors_opens_one_candidate_each_and_one_passing_needs_no_judge() {
    let implement = format!(
        "  W001+c1: {}\n  W001+c2: {}\n",
        files_step(&[("out.txt", "bad\n")]),
        files_step(&[("out.txt", "ok\n")]),
    );
    let fix = format!(
        "fix:\n  W001+c1:\n    - {}\n",
        files_step(&[("out.txt", "still bad\n")])
    );
    let repo = Repo::new(&config("[fake, fake]", ""), &scenario(&implement, &fix));
    let r = repo.run("two executors", &["--parallel", "1"]);
    r.expect_code(0);
    let st = repo.state(&r.id);
    assert_eq!(
        st["candidate_executors"],
        serde_json::json!(["fake", "fake"])
    );
    let cands = st["candidates"].as_array().unwrap();
    assert_eq!(cands.len(), 2, "{st}");
    assert_eq!(cands[0]["passed"], false);
    assert_eq!(st["choices"][0]["n"], 2);
    assert_eq!(st["choices"][0]["how"], "only_one");
    let events = repo.events(&r.id);
    assert!(
        !events
            .iter()
            .any(|e| e["event"] == "agent_finished" && e["stage"] == "judge"),
        "no judge call for one passing candidate"
    );
    assert!(!repo.run_dir(&r.id).join("prompts/judge_W001_1.md").exists());
}

#[test]
fn ctrl_c_stops_every_candidate_with_130_and_the_run_resumes() {
    // Every candidate's agent works for five minutes: Ctrl-C, sent once all three have
    // started, lands inside every candidate's call whatever the load.
    let slow = |ms: u64| {
        format!(
            "  default: {}\n",
            files_step(&[("out.txt", "ok\n")]).replacen('{', &format!("{{delay_ms: {ms}, "), 1)
        )
    };
    let repo = Repo::new(&config("3", ""), &scenario(&slow(300_000), ""));
    let child = repo
        .cmd(&[
            "run",
            "race",
            "--scenario",
            "scenario.yaml",
            "--no-progress",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    crate::waiting::until("three candidate agents to start", || {
        let id = super::lanes::other_run(&repo, "")?;
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
    std::fs::write(repo.path().join("scenario.yaml"), scenario(&slow(0), "")).unwrap();
    RunResult::from(repo.orx(&["resume", &r.id, "--no-progress"])).expect_code(0);
    let st = repo.state(&r.id);
    assert_eq!(st["status"], "succeeded");
    let passed: Vec<_> = st["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["passed"].clone())
        .collect();
    assert_eq!(passed, [true, true, true].map(serde_json::Value::from));
    assert_eq!(st["choices"][0]["how"], "smallest_diff", "{st}");
    assert_eq!(candidates_left(&repo), (0, 0));
}
