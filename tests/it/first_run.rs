//! A first run on a machine orx knows nothing about: which engine `orx run`, `orx init` and
//! `orx doctor` find when nobody names one, what they say when there is none, and that the fake
//! engine (run only when named) reports no made-up cost.
//!
//! Each command runs with a cleared environment: PATH is a folder holding `git` and whatever
//! stand-in agent CLIs the test puts there, HOME an empty folder (no login files), and only the
//! credential variables the test sets. So the outcome never depends on what the machine running
//! the tests has installed.

use std::path::PathBuf;
use std::process::Command;

use crate::support::*;

/// A machine with git and the stand-ins a test adds, and nothing else.
struct Machine {
    bin: tempfile::TempDir,
    home: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Machine {
    fn new() -> Machine {
        let bin = tempfile::tempdir().unwrap();
        let git = Command::new("sh")
            .args(["-c", "command -v git"])
            .output()
            .unwrap();
        let git = String::from_utf8_lossy(&git.stdout).trim().to_string();
        std::os::unix::fs::symlink(&git, bin.path().join("git")).unwrap();
        Machine {
            bin,
            home: tempfile::tempdir().unwrap(),
            env: Vec::new(),
        }
    }

    /// A stand-in agent CLI `name`: `--version` prints one; a call records its argv in
    /// `<name>.calls` next to it, reads its prompt, and answers once, as Claude Code's
    /// stream-json ends a turn.
    fn stand_in(&self, name: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let p = self.bin.path().join(name);
        let calls = self.bin.path().join(format!("{name}.calls"));
        std::fs::write(
            &p,
            format!(
                "#!/bin/sh\n[ \"$1\" = --version ] && echo 0.0.1 && exit 0\necho \"$@\" >> '{}'\nwhile IFS= read -r line; do :; done\n\
                 echo '{{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"result\":\"# Plan\\n\\nA stand-in answer.\",\"session_id\":\"s1\",\"usage\":{{\"input_tokens\":1,\"output_tokens\":1}}}}'\n",
                calls.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    fn calls(&self, name: &str) -> String {
        std::fs::read_to_string(self.bin.path().join(format!("{name}.calls"))).unwrap_or_default()
    }

    fn with(mut self, var: &str, value: &str) -> Machine {
        self.env.push((var.to_string(), value.to_string()));
        self
    }

    /// `orx args` in `repo` on this machine.
    fn orx(&self, repo: &Repo, args: &[&str]) -> RunResult {
        let mut c = repo.cmd(args);
        c.env_clear()
            .env("PATH", self.bin.path())
            .env("HOME", self.home.path())
            .env("CI", "true");
        for (k, v) in &self.env {
            c.env(k, v);
        }
        RunResult::from(c.output().unwrap())
    }
}

fn doctor_json(m: &Machine, repo: &Repo) -> (i32, serde_json::Value) {
    let r = m.orx(repo, &["doctor", "--json"]);
    let v = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("doctor --json prints JSON ({e}): {}", r.stdout));
    (r.code, v)
}

const LOOKED_FOR: &str = "looked for claude, codex, gemini, cursor-agent, opencode, qwen";

#[test]
fn without_config_and_agent_cli_run_exits_2_with_one_line_naming_the_way_out() {
    let m = Machine::new();
    let repo = Repo::new("", "");
    let r = m.orx(&repo, &["run", "Add a greet function", "--no-progress"]);
    r.expect_code(2);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    for want in [
        "error: no agent CLI found on PATH",
        LOOKED_FOR,
        "npm install -g @anthropic-ai/claude-code",
        "`--engine fake`",
    ] {
        assert!(r.stderr.contains(want), "{want}: {}", r.stderr);
    }
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    assert!(!repo.path().join("runs").exists(), "nothing was started");

    // orx.yaml without an engine key is the same question, with the same answer.
    std::fs::write(
        repo.path().join("orx.yaml"),
        "version: \"1\"\nengine:\n  timeout: 60\n",
    )
    .unwrap();
    let r = m.orx(&repo, &["run", "Add a greet function", "--no-progress"]);
    r.expect_code(2);
    assert!(r.stderr.contains(LOOKED_FOR), "{}", r.stderr);

    // Naming the fake engine is how to try orx without an agent.
    let r = m.orx(
        &repo,
        &[
            "run",
            "Add a greet function",
            "--engine",
            "fake",
            "--no-progress",
        ],
    );
    r.expect_code(0);
    assert_eq!(repo.state(&r.id)["engine"], "fake");
}

#[test]
fn an_installed_cli_without_credentials_is_not_picked_and_the_line_says_how_to_log_in() {
    let m = Machine::new();
    m.stand_in("codex");
    let repo = Repo::new("", "");
    let r = m.orx(&repo, &["run", "Add a greet function", "--no-progress"]);
    r.expect_code(2);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("codex installed")
            && r.stderr.contains("OPENAI_API_KEY")
            && r.stderr.contains("`--engine fake`"),
        "{}",
        r.stderr
    );
    assert_eq!(
        m.calls("codex"),
        "",
        "a CLI without credentials is never called"
    );
}

#[test]
fn the_first_cli_installed_with_credentials_is_picked_and_the_first_line_says_so() {
    // codex and claude are both ready; claude comes first in the order of preference.
    let m = Machine::new()
        .with("ANTHROPIC_API_KEY", "sk-test")
        .with("OPENAI_API_KEY", "sk-test");
    let claude = m.stand_in("claude");
    m.stand_in("codex");
    let repo = Repo::new("", "");
    let r = m.orx(
        &repo,
        &[
            "run",
            "Add a greet function",
            "--pipeline",
            "plan-only",
            "--no-progress",
        ],
    );
    // The stand-in answers every stage with the same text, which is no backlog: the run fails
    // at decompose, after the engine was announced and really called.
    r.expect_code(1);
    let first = r.stderr.lines().next().unwrap_or("");
    assert!(
        first.contains(&format!(
            "started: engine claude (detected: claude at {} with credentials from ANTHROPIC_API_KEY)",
            claude.display()
        )),
        "{}",
        r.stderr
    );
    assert_eq!(repo.state(&r.id)["engine"], "claude");
    assert!(m.calls("claude").contains("-p"), "{}", m.calls("claude"));
    assert_eq!(m.calls("codex"), "");
    let started = repo.events(&r.id).into_iter().next().unwrap();
    assert_eq!(started["event"], "run_started");
    assert!(started["engine_choice"]
        .as_str()
        .is_some_and(|c| c.starts_with("detected: claude")));

    // A login file counts as credentials too: codex alone, logged in, is picked.
    let m = Machine::new();
    m.stand_in("codex");
    std::fs::create_dir_all(m.home.path().join(".codex")).unwrap();
    std::fs::write(m.home.path().join(".codex/auth.json"), "{}").unwrap();
    let r = m.orx(
        &repo,
        &[
            "run",
            "Add a greet function",
            "--pipeline",
            "plan-only",
            "--no-progress",
        ],
    );
    assert!(
        r.stderr
            .lines()
            .next()
            .unwrap_or("")
            .contains("engine codex (detected: codex at"),
        "{}",
        r.stderr
    );
}

#[test]
fn init_writes_the_engine_it_detects_and_a_valid_file_without_one() {
    let m = Machine::new().with("OPENAI_API_KEY", "sk-test");
    m.stand_in("codex");
    let repo = Repo::new("", "");
    let r = m.orx(&repo, &["init"]);
    r.expect_code(0);
    assert!(r.stdout.contains("engine codex, detected"), "{}", r.stdout);
    let cfg = std::fs::read_to_string(repo.path().join("orx.yaml")).unwrap();
    assert!(cfg.contains("\n  type: \"codex\"\n"), "{cfg}");
    assert!(cfg.contains("credentials from OPENAI_API_KEY"), "{cfg}");

    // Nothing installed: a valid file whose type line waits, commented, for an install.
    let m = Machine::new();
    let repo = Repo::new("", "");
    let r = m.orx(&repo, &["init", "--yes"]);
    r.expect_code(0);
    assert!(r.stdout.contains("engine none found"), "{}", r.stdout);
    let cfg = std::fs::read_to_string(repo.path().join("orx.yaml")).unwrap();
    assert!(cfg.contains("\n  # type: \"claude\"\n"), "{cfg}");
    assert!(
        cfg.contains("npm install -g @anthropic-ai/claude-code"),
        "{cfg}"
    );
    // orx reads the file it wrote, and a run then asks for an agent exactly as without a file.
    let r = m.orx(&repo, &["run", "Add a greet function", "--no-progress"]);
    r.expect_code(2);
    assert!(r.stderr.contains(LOOKED_FOR), "{}", r.stderr);
    // Once one is installed with credentials, the same file picks it.
    let m = m.with("GEMINI_API_KEY", "k");
    m.stand_in("gemini");
    let (code, d) = doctor_json(&m, &repo);
    assert_eq!((code, d["engine"].as_str()), (0, Some("gemini")), "{d:#}");

    // --engine is written as given.
    let repo = Repo::new("", "");
    m.orx(&repo, &["init", "--engine", "fake"]).expect_code(0);
    let cfg = std::fs::read_to_string(repo.path().join("orx.yaml")).unwrap();
    assert!(cfg.contains("\n  type: \"fake\"\n"), "{cfg}");
}

#[test]
fn doctor_is_not_ready_without_an_engine_and_names_the_fix() {
    let m = Machine::new();
    let repo = Repo::new("", "");
    let r = m.orx(&repo, &["doctor"]);
    r.expect_code(1);
    let last = r.stdout.lines().last().unwrap_or("");
    assert!(last.starts_with("not ready: no engine"), "{}", r.stdout);
    assert!(
        last.contains("npm install -g @anthropic-ai/claude-code")
            && last.contains("engine.type: fake"),
        "{last}"
    );
    let (code, d) = doctor_json(&m, &repo);
    assert_eq!(code, 1);
    assert_eq!(d["ok"], false);
    assert_eq!(d["engine"], serde_json::Value::Null);
    assert_eq!(d["engine_source"], "none");
    assert_eq!(d["verdict"].as_str(), Some(last));
    assert_eq!(d["problems"][0]["severity"], "error");

    // The configured engine installed but without credentials: not ready, with the way to log in.
    std::fs::write(
        repo.path().join("orx.yaml"),
        "version: \"1\"\nengine:\n  type: codex\n",
    )
    .unwrap();
    m.stand_in("codex");
    let (code, d) = doctor_json(&m, &repo);
    assert_eq!(code, 1, "{d:#}");
    assert!(
        d["verdict"]
            .as_str()
            .is_some_and(|v| v.starts_with("not ready: codex: no credentials")
                && v.contains("OPENAI_API_KEY")),
        "{d:#}"
    );
    // With them it is ready.
    let m = m.with("OPENAI_API_KEY", "sk-test");
    let (code, d) = doctor_json(&m, &repo);
    assert_eq!(code, 0, "{d:#}");
    assert_eq!(
        (d["engine"].as_str(), d["engine_source"].as_str()),
        (Some("codex"), Some("engine.type"))
    );

    // The fake engine, named, needs nothing.
    std::fs::write(
        repo.path().join("orx.yaml"),
        "version: \"1\"\nengine:\n  type: fake\n",
    )
    .unwrap();
    let r = Machine::new().orx(&repo, &["doctor"]);
    r.expect_code(0);
    assert!(
        r.stdout
            .lines()
            .last()
            .unwrap_or("")
            .contains("engine fake"),
        "{}",
        r.stdout
    );
}

/// Every `cost_usd` and token count anywhere in `v`.
fn figures(v: &serde_json::Value, out: &mut Vec<(String, f64)>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, x) in map {
                if k == "cost_usd" || k.ends_with("_tokens") {
                    out.push((k.clone(), x.as_f64().unwrap_or(f64::NAN)));
                }
                figures(x, out);
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|x| figures(x, out)),
        _ => {}
    }
}

#[test]
fn the_fake_engine_reports_no_usage_and_no_cost() {
    let repo = Repo::new(
        "version: \"1\"\nengine:\n  type: fake\ngit:\n  base_branch: main\n",
        "",
    );
    // The embedded demo scenario, as `make demo` and a first try run it.
    let r = RunResult::from(repo.orx(&["run", "Add add() and mul()", "--json"]));
    r.expect_code(0);
    let summary: serde_json::Value =
        serde_json::from_str(r.stdout.lines().last().unwrap()).unwrap();
    assert_eq!(summary["event"], "summary");
    let id = summary["run_id"].as_str().unwrap();
    let mut seen = Vec::new();
    figures(&summary, &mut seen);
    figures(&repo.state(id), &mut seen);
    let run_dir = repo.run_dir(id);
    let run_json = std::fs::read_to_string(run_dir.join("metrics/run.json")).unwrap();
    figures(&serde_json::from_str(&run_json).unwrap(), &mut seen);
    for line in std::fs::read_to_string(run_dir.join("metrics/stages.jsonl"))
        .unwrap()
        .lines()
    {
        figures(&serde_json::from_str(line).unwrap(), &mut seen);
    }
    for e in repo.events(id) {
        figures(&e, &mut seen);
    }
    assert!(seen.iter().any(|(k, _)| k == "cost_usd"), "{seen:?}");
    assert!(seen.iter().all(|(_, x)| *x == 0.0), "{seen:?}");
    let status = RunResult::from(repo.orx(&["status", id]));
    status.expect_code(0);
    assert!(status.stdout.contains("$0.0000"), "{}", status.stdout);
}
