//! Guardrails end to end: a planted secret or `.env` file never reaches a commit, goes back to
//! the agent once (masked), then fails the run; path rules; and nothing under `runs/` ever
//! holds a secret (known shapes, secret-named environment values).

use std::path::Path;

use crate::support::*;

/// A made-up AWS access key id, assembled at run time so this file does not carry one.
fn planted_key() -> String {
    format!("AKIA{}", "Q7R2ZK4M9XW3TB6P")
}

/// Every file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<String> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p) {
                if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                    hits.push(p.display().to_string());
                }
            }
        }
    }
    hits
}

/// The whole history reachable from any ref, with patches.
fn all_history(repo: &Repo) -> String {
    git(repo.path(), &["log", "-p", "--all", "--format=%H %s"])
}

fn fast_fix(implement: String, fixes: &[String]) -> String {
    let fix = if fixes.is_empty() {
        String::new()
    } else {
        format!(
            "fix:\n  W001:\n{}",
            fixes
                .iter()
                .map(|f| format!("    - {f}\n"))
                .collect::<String>()
        )
    };
    format!(
        "implement:\n  W001: {implement}\n{fix}review: {}\n",
        text_step(&approve("ok"))
    )
}

#[test]
fn a_planted_aws_key_is_fixed_before_any_commit_and_never_written_under_runs() {
    let key = planted_key();
    let with_key = format!("import os\nAWS_ACCESS_KEY_ID = \"{key}\"\nREGION = \"eu-west-1\"\n");
    let implement = format!(
        "{{text: {}, files: {{\"config.py\": {}}}}}",
        yaml_str(&format!("I hard-coded the key {key} for now.")),
        yaml_str(&with_key)
    );
    let fixed = files_step(&[(
        "config.py",
        "import os\nAWS_ACCESS_KEY_ID = os.environ[\"AWS_ACCESS_KEY_ID\"]\nREGION = \"eu-west-1\"\n",
    )]);
    let repo = Repo::new(
        &config_with_gates(&[("ok", "true")], ""),
        &fast_fix(implement, &[fixed]),
    );
    let r = repo.run("Read the AWS key", &["--pipeline", "fast-fix"]);
    r.expect_code(0);
    let st = repo.state(&r.id);
    assert_eq!(st["items"][0]["attempts"], 2, "one fix after the breach");

    // The breach was a failed attempt whose masked report reached the fix prompt.
    let ev = repo.events(&r.id);
    assert!(ev
        .iter()
        .any(|e| e["event"] == "attempt_finished" && e["outcome"] == "guardrail"));
    let fix_prompt = repo.read(&r.id, "prompts/fix_W001_1.md");
    assert!(
        fix_prompt.contains("config.py:2") && fix_prompt.contains("AKIA…(20 chars)"),
        "{fix_prompt}"
    );
    // The file is named there, its content withheld from the diff shown.
    assert!(fix_prompt.contains("content withheld"), "{fix_prompt}");
    assert!(!fix_prompt.contains(&key));
    let evidence = repo.read(&r.id, "artifacts/evidence_W001_1.md");
    assert!(evidence.contains("guardrails") && evidence.contains("config.py"));

    // The agent's own words carried the key: its log and the events show it redacted.
    assert!(repo
        .read(&r.id, "logs/agent_implement_W001_1.jsonl")
        .contains("I hard-coded the key [REDACTED:aws_access_key_id]"));
    assert!(repo
        .read(&r.id, "events.jsonl")
        .contains("[REDACTED:aws_access_key_id]"));

    // The key is in no commit reachable from any ref, and in no file under runs/.
    let history = all_history(&repo);
    assert!(history.contains("os.environ"), "the fix was committed");
    assert!(!history.contains(&key), "the key reached git history");
    let hits = files_containing(&repo.path().join("runs"), &key);
    assert!(hits.is_empty(), "the key was written to {hits:?}");
}

/// The content of every object in the repository's object database, loose and packed,
/// reachable or not.
fn object_database(repo: &Repo) -> Vec<u8> {
    let out = std::process::Command::new("git")
        .args(["cat-file", "--batch-all-objects", "--batch"])
        .current_dir(repo.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    out.stdout
}

#[test]
fn a_blocked_secret_is_never_written_to_the_object_database() {
    let key = planted_key();
    let with_key = |n: u32| {
        files_step(&[(
            "config.py",
            &format!("AWS_ACCESS_KEY_ID = \"{key}\"\nATTEMPT = {n}\n"),
        )])
    };
    let repo = Repo::new(
        &config_with_gates(&[("ok", "true")], "run:\n  max_fix_attempts: 1\n"),
        &fast_fix(with_key(1), &[with_key(2)]),
    );
    let r = repo.run("Read the AWS key", &["--pipeline", "fast-fix"]);
    r.expect_code(1);
    let st = repo.state(&r.id);
    assert_eq!(st["last_failure"]["reason"], "guardrail", "{st}");
    assert_eq!(st["items"][0]["attempts"], 2);
    // Both attempts left the key in the worktree, where orx hashed it to scan and to show
    // the diff to the fix prompt; none of that reached the repository's objects.
    let wt = repo.path().join(".worktrees").join(&r.id);
    assert!(std::fs::read_to_string(wt.join("config.py"))
        .unwrap()
        .contains(&key));
    let has_key = |db: &[u8]| db.windows(key.len()).any(|w| w == key.as_bytes());
    assert!(
        !has_key(&object_database(&repo)),
        "a blocked key is an object"
    );
    let quarantines: Vec<_> = std::fs::read_dir(repo.path().join(".git/objects"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("orx-"))
        .collect();
    assert!(quarantines.is_empty(), "{quarantines:?}");

    RunResult::from(repo.orx(&["clean", &r.id])).expect_code(0);
    assert!(!has_key(&object_database(&repo)), "after clean");
}

#[test]
fn an_env_file_that_stays_fails_the_run_with_nothing_committed() {
    let implement = files_step(&[(".env", "DEBUG=1\n"), ("app.py", "print('hi')\n")]);
    let fix = files_step(&[("app.py", "print('hello')\n")]);
    let repo = Repo::new(
        &config_with_gates(&[("ok", "true")], "run:\n  max_fix_attempts: 3\n"),
        &fast_fix(implement, &[fix]),
    );
    let r = repo.run("Say hello", &["--pipeline", "fast-fix"]);
    r.expect_code(1);
    let st = repo.state(&r.id);
    assert_eq!(st["status"], "failed");
    assert_eq!(st["last_failure"]["reason"], "guardrail");
    assert_eq!(st["items"][0]["status"], "failed");
    assert_eq!(st["items"][0]["attempts"], 2, "told once, then failed");
    let msg = st["last_failure"]["message"].as_str().unwrap();
    assert!(msg.contains(".env: env_file"), "{msg}");
    // Nothing was committed, and no snapshot of the breach is kept by a ref.
    let branch = format!("orx/{}", r.id);
    assert_eq!(
        git(repo.path(), &["rev-list", &format!("main..{branch}")]),
        ""
    );
    let names = git(repo.path(), &["log", "--all", "--name-only", "--format="]);
    assert!(!names.contains(".env"), "{names}");
    assert!(r.stdout.contains("guardrail"), "{}", r.stdout);
}

#[test]
fn forbidden_paths_are_fixed_and_too_many_files_fail() {
    // A forbidden path that the fix removes: the run goes on.
    let cfg = config_with_gates(
        &[("ok", "true")],
        "guardrails:\n  forbidden_patterns: [\"migrations/**\"]\n  max_files_changed: 2\n",
    );
    let implement = files_step(&[("migrations/001.sql", "drop table x;\n"), ("a.txt", "a\n")]);
    let fix = "{delete: [\"migrations/001.sql\"]}".to_string();
    let repo = Repo::new(&cfg, &fast_fix(implement, &[fix]));
    let r = repo.run("task", &["--pipeline", "fast-fix"]);
    r.expect_code(0);
    assert!(repo
        .read(&r.id, "prompts/fix_W001_1.md")
        .contains("migrations/001.sql: path_forbidden"));
    let files = git(
        repo.path(),
        &[
            "log",
            "--name-only",
            "--format=",
            &format!("main..orx/{}", r.id),
        ],
    );
    assert!(
        files.contains("a.txt") && !files.contains("migrations"),
        "{files}"
    );

    // Three files against a limit of two, never reduced: failed with reason guardrail.
    let implement = files_step(&[("a.txt", "a\n"), ("b.txt", "b\n"), ("c.txt", "c\n")]);
    let fix = files_step(&[("a.txt", "a2\n")]);
    let repo = Repo::new(&cfg, &fast_fix(implement, &[fix]));
    let r = repo.run("task", &["--pipeline", "fast-fix"]);
    r.expect_code(1);
    let st = repo.state(&r.id);
    assert_eq!(st["last_failure"]["reason"], "guardrail");
    let ev = repo.read(&r.id, "artifacts/evidence_W001_2.md");
    assert!(ev.contains("too_many_files"), "{ev}");
}

#[test]
fn ship_refuses_leftovers_that_break_the_guardrails() {
    // The review agent leaves a `.env` behind; ship finds it before committing leftovers.
    let scenario = format!(
        "implement:\n  W001: {}\nreview: {{text: {}, files: {{\".env\": \"A=1\\n\"}}}}\n",
        files_step(&[("a.txt", "a\n")]),
        yaml_str(&approve("ok"))
    );
    let repo = Repo::new(&config_with_gates(&[("ok", "true")], ""), &scenario);
    let r = repo.run("task", &["--pipeline", "fast-fix"]);
    r.expect_code(1);
    let st = repo.state(&r.id);
    assert_eq!(st["last_failure"]["reason"], "guardrail");
    assert_eq!(st["last_failure"]["stage"], "ship");
    assert!(repo
        .read(&r.id, "artifacts/guardrails_ship.md")
        .contains(".env: env_file"));
    let names = git(repo.path(), &["log", "--all", "--name-only", "--format="]);
    assert!(!names.contains(".env"), "{names}");
}

#[test]
fn secret_named_environment_values_never_reach_the_run_folder() {
    let secret = "supersecretvalue123";
    let scenario = format!(
        "plan: {}\nspec: {}\ndecompose: {}\nimplement:\n  W001: {}\nreview: {}\n",
        text_step(&format!("# Plan\n\nCall the service with {secret}.")),
        text_step("# Spec\n\nUse the token from the environment."),
        text_step(&backlog_text(&[("W001", &[])])),
        files_step(&[(
            "client.py",
            "import os\nTOKEN = os.environ['MY_SERVICE_TOKEN']\n"
        )]),
        text_step(&approve(&format!("uses {secret} safely"))),
    );
    let repo = Repo::new(
        &config_with_gates(
            &[("echoes", "echo \"token is $MY_SERVICE_TOKEN\"")],
            // Hooks and worktree set-up print it too: their logs go through the redactor.
            "hooks:\n  stage_end:\n    - command: echo \"hook sees ${MY_SERVICE_TOKEN}\"\n\
             worktree:\n  setup:\n    - echo \"setup sees $MY_SERVICE_TOKEN\"\n",
        ),
        &scenario,
    );
    let out = repo
        .cmd(&[
            "run",
            &format!("Call the service using {secret}"),
            "--scenario",
            "scenario.yaml",
            "--no-progress",
        ])
        .env("MY_SERVICE_TOKEN", secret)
        .output()
        .unwrap();
    let r = RunResult::from(out);
    r.expect_code(0);
    // The value did flow through the run (plan, review, gate output) ...
    let plan = repo.read(&r.id, "context/plan.md");
    assert!(plan.contains("[REDACTED:env:MY_SERVICE_TOKEN]"), "{plan}");
    let gate_log = repo.read(&r.id, "logs/echoes_W001_1.log");
    assert!(
        gate_log.contains("token is [REDACTED:env:MY_SERVICE_TOKEN]"),
        "{gate_log}"
    );
    let hook_log = repo.read(&r.id, "logs/hook_stage_end_1.log");
    assert!(
        hook_log.contains("hook sees [REDACTED:env:MY_SERVICE_TOKEN]"),
        "{hook_log}"
    );
    let setup_log = repo.read(&r.id, "logs/setup_1.log");
    assert!(
        setup_log.contains("setup sees [REDACTED:env:MY_SERVICE_TOKEN]"),
        "{setup_log}"
    );
    let st = repo.state(&r.id);
    assert_eq!(
        st["task"],
        "Call the service using [REDACTED:env:MY_SERVICE_TOKEN]"
    );
    assert!(repo
        .read(&r.id, "prompts/spec.md")
        .contains("[REDACTED:env:"));
    // ... yet no file under runs/ holds it.
    let hits = files_containing(&repo.path().join("runs"), secret);
    assert!(hits.is_empty(), "the value was written to {hits:?}");
}

#[test]
fn a_key_on_a_line_of_its_own_in_an_agent_reply_reaches_no_file() {
    // The agent's stream is JSON lines: in its raw log the key follows the `n` of `\n`, and
    // the quoted value follows `\"`.
    let key = "AKIA2QZ7XW4RTY9PLM3K";
    let token = "9fQ2xZ7LmK3pR8vT1wY6";
    let scenario = format!(
        "plan: {}\nspec: {}\ndecompose: {}\nimplement:\n  W001: {}\nreview: {}\n",
        text_step(&format!(
            "# Plan\n\nThe deploy key:\n{key}\nand in code:\nAPI_TOKEN = \"{token}\"\n"
        )),
        text_step("# Spec\n\nRead the key from the environment."),
        text_step(&backlog_text(&[("W001", &[])])),
        files_step(&[("client.py", "import os\nKEY = os.environ['KEY']\n")]),
        text_step(&approve("fine")),
    );
    let repo = Repo::new(&config_with_gates(&[("ok", "true")], ""), &scenario);
    let r = repo.run("Deploy", &[]);
    r.expect_code(0);
    let plan = repo.read(&r.id, "context/plan.md");
    assert!(plan.contains("[REDACTED:aws_access_key_id]"), "{plan}");
    for secret in [key, token] {
        let hits = files_containing(&repo.path().join("runs"), secret);
        assert!(hits.is_empty(), "{secret} was written to {hits:?}");
    }
}

#[test]
fn a_multi_line_private_key_in_gate_output_reaches_no_file_hook_or_prompt() {
    // A body line of a key block: no credential shape on its own.
    let body = "MIIEpQIBAAKCAQEAq7Zr0bodyLINEx4";
    let hook_in = tempfile::tempdir().unwrap();
    let hook_file = hook_in.path().join("stdin.json");
    let gate = format!(
        "test -f fixed.txt || {{ printf '%s\\n' 'compiling' '-----BEGIN RSA PRIVATE KEY-----' '{body}' '{body}2' '-----END RSA PRIVATE KEY-----' 'error: boom'; exit 1; }}"
    );
    let cfg = config_with_gates(
        &[("leaky", &gate)],
        &format!(
            "hooks:\n  gate_failed:\n    - command: cat >> {}\n",
            hook_file.display()
        ),
    );
    let implement = files_step(&[("a.txt", "a\n")]);
    let fix = files_step(&[("fixed.txt", "ok\n")]);
    let repo = Repo::new(&cfg, &fast_fix(implement, &[fix]));
    let r = repo.run("task", &["--pipeline", "fast-fix"]);
    r.expect_code(0);
    let fix_prompt = repo.read(&r.id, "prompts/fix_W001_1.md");
    assert!(fix_prompt.contains("error: boom"), "{fix_prompt}");
    let hook = std::fs::read_to_string(&hook_file).unwrap();
    assert!(hook.contains("leaky"), "the hook ran: {hook}");
    assert!(!hook.contains(body), "the hook's stdin got the key: {hook}");
    let hits = files_containing(&repo.path().join("runs"), body);
    assert!(hits.is_empty(), "the key body was written to {hits:?}");
}

#[test]
fn a_file_blocked_by_path_is_named_in_the_fix_prompt_never_quoted() {
    let content = "PROD-DB-PASSWORD-7f3e9-not-a-shape";
    let cfg = config_with_gates(
        &[("ok", "true")],
        "guardrails:\n  forbidden_patterns: [\"secrets/**\"]\n",
    );
    let implement = files_step(&[
        ("secrets/prod.txt", &format!("{content}\n")),
        ("a.txt", "a\n"),
    ]);
    let fix = "{delete: [\"secrets/prod.txt\"]}".to_string();
    let repo = Repo::new(&cfg, &fast_fix(implement, &[fix]));
    let r = repo.run("task", &["--pipeline", "fast-fix"]);
    r.expect_code(0);
    let fix_prompt = repo.read(&r.id, "prompts/fix_W001_1.md");
    assert!(
        fix_prompt.contains("secrets/prod.txt: path_forbidden"),
        "{fix_prompt}"
    );
    assert!(
        !fix_prompt.contains(content),
        "the blocked file was quoted: {fix_prompt}"
    );
    let hits = files_containing(&repo.path().join("runs"), content);
    assert!(hits.is_empty(), "the blocked file was copied to {hits:?}");
}

#[test]
fn secrets_in_binary_and_minus_diff_files_are_found_before_any_commit() {
    let key = planted_key();
    // One file with a NUL byte, one that the agent marks `-diff` itself.
    let implement = format!(
        "{{files: {{\".gitattributes\": {}, \"creds.cfg\": {}, \"blob.dat\": {}}}}}",
        yaml_str("*.cfg -diff\n*.dat -diff\n"),
        yaml_str(&format!("aws_key = {key}\n")),
        yaml_str(&format!("\u{1}\u{2}binary\u{0}header\n{key}\n")),
    );
    let fix = "{delete: [\"creds.cfg\", \"blob.dat\"]}".to_string();
    let repo = Repo::new(
        &config_with_gates(&[("ok", "true")], ""),
        &fast_fix(implement, &[fix]),
    );
    let r = repo.run("task", &["--pipeline", "fast-fix"]);
    r.expect_code(0);
    let fix_prompt = repo.read(&r.id, "prompts/fix_W001_1.md");
    assert!(
        fix_prompt.contains("creds.cfg:1") && fix_prompt.contains("blob.dat:2"),
        "{fix_prompt}"
    );
    let names = git(repo.path(), &["log", "--all", "--name-only", "--format="]);
    assert!(
        !names.contains("creds.cfg") && !names.contains("blob.dat"),
        "{names}"
    );
    let hits = files_containing(&repo.path().join("runs"), &key);
    assert!(hits.is_empty(), "the key was written to {hits:?}");
}

#[test]
fn no_secret_in_the_task_an_item_title_or_the_review_summary_reaches_a_commit_message() {
    let in_task = planted_key();
    let in_title = format!("ghp_{}", "a1B2c3D4e5".repeat(4));
    let in_summary = format!("sk_live_{}", "Zq8Xw3Lp0Rt5".repeat(2));
    let backlog = backlog_text(&[("W001", &[])]).replace(
        "title: Work W001",
        &format!("title: Use {in_title} for W001"),
    );
    let review = format!(
        "{{text: {}, files: {{\"b.txt\": \"b\\n\"}}}}",
        yaml_str(&approve(&format!("uses {in_summary} well")))
    );
    let scenario = format!(
        "plan: {}\nspec: {}\ndecompose: {}\nimplement:\n  W001: {}\nreview: {review}\n",
        text_step("# Plan\n\nDo it."),
        text_step("# Spec\n\nDo it."),
        text_step(&backlog),
        files_step(&[("a.txt", "a\n")]),
    );
    let repo = Repo::new(&config_with_gates(&[("ok", "true")], ""), &scenario);
    // The review leaves a leftover so ship commits with the summary too.
    let r = repo.run(&format!("Wire up the key {in_task}"), &[]);
    r.expect_code(0);
    let messages = git(repo.path(), &["log", "--all", "--format=%B"]);
    assert!(messages.contains("orx: W001 Use"), "{messages}");
    assert!(messages.contains("Review: uses"), "{messages}");
    for secret in [&in_task, &in_title, &in_summary] {
        assert!(
            !messages.contains(secret.as_str()),
            "{secret} reached a commit message:\n{messages}"
        );
    }
    let refs = git(repo.path(), &["for-each-ref", "--format=%(refname)"]);
    assert!(
        !refs.contains(&in_task) && !refs.contains(&in_title),
        "{refs}"
    );
}
