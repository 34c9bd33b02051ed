//! Shared fixtures: a temp git repository (made through `git_setup`), an orx invocation, and
//! readers for the run folder.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const ORX: &str = env!("CARGO_BIN_EXE_orx");

pub struct Repo {
    pub dir: tempfile::TempDir,
}

pub use crate::git_setup::{bare_origin, git};

impl Repo {
    /// A repository on `main` with one commit (README.md) and the given orx.yaml and scenario.
    pub fn new(config: &str, scenario: &str) -> Repo {
        let dir = crate::git_setup::repo_with(&[("README.md", "# sample\n")]);
        let p = dir.path();
        git(p, &["config", "user.email", "t@example.invalid"]);
        git(p, &["config", "user.name", "orx test"]);
        // orx.yaml and the scenario stay untracked on purpose: the user's checkout is dirty,
        // and orx must leave it exactly so.
        if !config.is_empty() {
            std::fs::write(p.join("orx.yaml"), config).unwrap();
        }
        if !scenario.is_empty() {
            std::fs::write(p.join("scenario.yaml"), scenario).unwrap();
        }
        Repo { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn orx(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("orx runs")
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(ORX);
        c.args(args)
            .current_dir(self.path())
            .env_remove("RUST_LOG")
            .env("CI", "true")
            .stdin(Stdio::null());
        c
    }

    /// `orx run` with the scenario; returns (exit code, stdout, stderr, run id).
    pub fn run(&self, task: &str, extra: &[&str]) -> RunResult {
        let mut args = vec!["run", task, "--scenario", "scenario.yaml", "--no-progress"];
        args.extend_from_slice(extra);
        RunResult::from(self.orx(&args))
    }

    pub fn run_dir(&self, id: &str) -> PathBuf {
        self.path().join("runs").join(id)
    }

    /// The run's latest state, replayed as orx does (see [`replayed_state`]).
    pub fn state(&self, id: &str) -> serde_json::Value {
        replayed_state(&self.run_dir(id)).unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn read(&self, id: &str, rel: &str) -> String {
        std::fs::read_to_string(self.run_dir(id).join(rel))
            .unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    pub fn events(&self, id: &str) -> Vec<serde_json::Value> {
        self.read(id, "events.jsonl")
            .lines()
            .map(|l| serde_json::from_str(l).expect("event line parses"))
            .collect()
    }
}

pub struct RunResult {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub id: String,
}

impl From<Output> for RunResult {
    fn from(out: Output) -> Self {
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let id = stdout
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("run "))
            .unwrap_or("")
            .to_string();
        RunResult {
            code: out.status.code().unwrap_or(-1),
            stdout,
            stderr,
            id,
        }
    }
}

impl RunResult {
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit code {} (wanted {code})\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }
}

/// A config whose gates check file contents with the shell: deterministic and instant.
pub fn config_with_gates(gates: &[(&str, &str)], extra: &str) -> String {
    let mut s =
        String::from("version: \"1\"\nengine:\n  type: fake\ngit:\n  base_branch: main\ngates:\n");
    for (name, cmd) in gates {
        s.push_str(&format!(
            "  - name: {name}\n    command: {}\n",
            yaml_str(cmd)
        ));
    }
    s.push_str(extra);
    s
}

pub fn yaml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// A step writing files, as scenario YAML (flow style with JSON strings).
pub fn files_step(files: &[(&str, &str)]) -> String {
    let entries: Vec<String> = files
        .iter()
        .map(|(p, c)| format!("{}: {}", yaml_str(p), yaml_str(c)))
        .collect();
    format!("{{files: {{{}}}}}", entries.join(", "))
}

pub fn text_step(text: &str) -> String {
    format!("{{text: {}}}", yaml_str(text))
}

pub fn backlog_text(items: &[(&str, &[&str])]) -> String {
    let mut s = String::from("Here is the backlog.\n\n```yaml\nitems:\n");
    for (id, deps) in items {
        s.push_str(&format!(
            "  - id: {id}\n    title: Work {id}\n    objective: Do {id}\n    acceptance: [it works]\n    files_hint: []\n    depends_on: [{}]\n",
            deps.join(", ")
        ));
    }
    s.push_str("```\n");
    s
}

pub fn approve(summary: &str) -> String {
    format!("Looks good.\n\n```json\n{{\"verdict\": \"approved\", \"summary\": \"{summary}\", \"changes\": []}}\n```\n")
}

/// The standard scenario: two items, W001 needs one fix, W002 depends on W001.
pub fn standard_scenario(delay_ms: u64) -> String {
    let d = |step: String| {
        if delay_ms == 0 {
            step
        } else {
            step.replacen('{', &format!("{{delay_ms: {delay_ms}, "), 1)
        }
    };
    format!(
        "plan: {}\nspec: {}\ndecompose: {}\nimplement:\n  W001: {}\n  W002: {}\nfix:\n  W001:\n    - {}\nreview: {}\nknowledge_update: {}\n",
        d(text_step("# Plan\n\nAdd add() and mul().")),
        d(text_step("# Spec\n\nadd(a,b) returns a+b; mul(a,b) returns a*b.")),
        d(text_step(&backlog_text(&[("W001", &[]), ("W002", &["W001"])]))),
        d(files_step(&[("calc.py", "def add(a, b):\n    return a - b\n"), ("notes/w1.txt", "first try\n")])),
        d(files_step(&[("mul.py", "def mul(a, b):\n    return a * b\n")])),
        d(files_step(&[("calc.py", "def add(a, b):\n    return a + b\n")])),
        d(text_step(&approve("add and mul implemented"))),
        d(files_step(&[("AGENTS.md", "<!-- orx:begin -->\n- gates are shell checks\n<!-- orx:end -->\n")])),
    )
}

/// Gates for the standard scenario: W001 is right only when add adds.
pub fn standard_config(extra: &str) -> String {
    config_with_gates(
        &[
            (
                "add_is_right",
                "test ! -f calc.py || grep -q 'return a + b' calc.py",
            ),
            ("syntax", "true"),
        ],
        extra,
    )
}

/// A run folder's latest state as orx replays it: the last complete line of `state.jsonl` when
/// it has one, else `state.json`. Every complete journal line and `state.json` itself must
/// parse (a line without its newline is a write a kill cut short); the error says which did
/// not, or that there is no state yet.
pub fn replayed_state(run_dir: &Path) -> Result<serde_json::Value, String> {
    let parse = |what: String, text: &[u8]| {
        serde_json::from_slice::<serde_json::Value>(text)
            .map_err(|e| format!("{what} is corrupt: {e}\n{}", String::from_utf8_lossy(text)))
    };
    let file = std::fs::read(run_dir.join("state.json"))
        .map_err(|e| format!("{}: no state.json: {e}", run_dir.display()))?;
    let mut latest = parse("state.json".into(), &file)?;
    let journal = std::fs::read(run_dir.join("state.jsonl")).unwrap_or_default();
    let whole = journal
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    for (n, line) in journal[..whole].split(|&b| b == b'\n').enumerate() {
        if !line.is_empty() {
            latest = parse(format!("state.jsonl line {}", n + 1), line)?;
        }
    }
    Ok(latest)
}
