//! Conformance: the real Claude Code, Codex, Gemini CLI, OpenCode and Qwen Code (installed from
//! npm at pinned versions by `conformance/install.sh`) against the mock model server in
//! `mock_server`.
//!
//! The tests find the CLIs through `ORX_CONFORMANCE_BIN` (the install script prints it; `.ci/run`
//! and `make conformance` export it). Without it they print why and pass as skipped, so a plain
//! `cargo test` on a machine without Node still works; CI always sets it. Each CLI call gets a
//! fresh HOME (and CODEX_HOME, TMPDIR) holding only the settings that point it at the mock and
//! switch its background traffic off, so nothing leaks in from the machine or out to the network.
//!
//! Everything about how a CLI is pointed at the mock lives in [`Cli`]: the tests in `direct`
//! run the CLI by hand with its documented headless argv; those in `orx_runs` let `orx run` do it.
//! With `ORX_RECORD_DIR` set, the direct tests also save each CLI's stdout and stderr as
//! `<dir>/<cli>/<case>.jsonl` / `.stderr` (how tests/recordings/ was made).

mod bench_mock;
mod direct;
mod full_fsm;
mod orx_runs;

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::mock_server::{MockServer, Turn};

/// The pinned CLIs' bin dir, or None (with a printed reason) when the suite should skip.
pub fn bin_dir() -> Option<PathBuf> {
    match std::env::var_os("ORX_CONFORMANCE_BIN") {
        Some(d) if !d.is_empty() => {
            let d = PathBuf::from(d);
            for cli in Cli::ALL.map(Cli::name) {
                assert!(
                    d.join(cli).exists(),
                    "ORX_CONFORMANCE_BIN={} has no `{cli}`: run conformance/install.sh and export what it prints",
                    d.display()
                );
            }
            Some(d)
        }
        _ => {
            eprintln!(
                "SKIPPED: conformance test needs the real CLIs; run `make conformance` \
                 (or export ORX_CONFORMANCE_BIN=\"$(conformance/install.sh)\")"
            );
            None
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cli {
    Claude,
    Codex,
    Gemini,
    OpenCode,
    Qwen,
}

impl Cli {
    pub const ALL: [Cli; 5] = [
        Cli::Claude,
        Cli::Codex,
        Cli::Gemini,
        Cli::OpenCode,
        Cli::Qwen,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Cli::Claude => "claude",
            Cli::Codex => "codex",
            Cli::Gemini => "gemini",
            Cli::OpenCode => "opencode",
            Cli::Qwen => "qwen",
        }
    }

    /// A model each CLI knows (so Claude prices it and Codex has metadata for it).
    pub fn model(self) -> &'static str {
        match self {
            Cli::Claude => "claude-sonnet-4-5",
            Cli::Codex => "gpt-5.5",
            Cli::Gemini => "gemini-2.5-flash",
            Cli::OpenCode => "orxmock/orx-mock",
            Cli::Qwen => "orx-mock",
        }
    }

    /// Writes the CLI's settings under `home` and returns the environment that points it at
    /// `server` with its background traffic off. Apart from PATH, nothing of the caller's
    /// environment is meant to reach the CLI.
    pub fn prepare(self, home: &Path, server: &MockServer) -> Vec<(String, String)> {
        let tmp = home.join("tmp");
        std::fs::create_dir_all(&tmp).unwrap();
        let mut env = vec![
            ("HOME".to_string(), home.display().to_string()),
            ("TMPDIR".to_string(), tmp.display().to_string()),
            ("LANG".to_string(), "C.UTF-8".to_string()),
            (
                "PATH".to_string(),
                std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into()),
            ),
        ];
        let mut set = |k: &str, v: String| env.push((k.to_string(), v));
        match self {
            Cli::Claude => {
                set("ANTHROPIC_BASE_URL", server.url());
                set("ANTHROPIC_API_KEY", "sk-ant-orx-mock".into());
                set("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1".into());
                // Claude retries 401 and 5xx ten times with backoff (minutes) by default.
                set("CLAUDE_CODE_MAX_RETRIES", "0".into());
                // bypassPermissions refuses to run as root without it (tests run as root in CI).
                set("IS_SANDBOX", "1".into());
            }
            Cli::Codex => {
                let codex_home = home.join(".codex");
                std::fs::create_dir_all(&codex_home).unwrap();
                // Same as `--disable plugins --disable unbounded_connection_retries
                // -c analytics.enabled=false -c model_provider=mock -c model_providers.mock…`,
                // but in the CODEX_HOME config so that argv stays exactly orx's.
                let toml = format!(
                    "model_provider = \"orxmock\"\n\
                     [analytics]\nenabled = false\n\
                     [features]\nplugins = false\nunbounded_connection_retries = false\n\
                     [model_providers.orxmock]\nname = \"orx mock\"\nbase_url = \"{}/v1\"\n\
                     env_key = \"ORX_MOCK_OPENAI_KEY\"\nwire_api = \"responses\"\n\
                     request_max_retries = 0\nstream_max_retries = 0\n",
                    server.url()
                );
                std::fs::write(codex_home.join("config.toml"), toml).unwrap();
                set("CODEX_HOME", codex_home.display().to_string());
                set("ORX_MOCK_OPENAI_KEY", "sk-orx-mock".into());
            }
            Cli::Gemini => {
                let dir = home.join(".gemini");
                std::fs::create_dir_all(&dir).unwrap();
                let settings = serde_json::json!({
                    "security": {"auth": {"selectedType": "gemini-api-key"}},
                    "privacy": {"usageStatisticsEnabled": false},
                    "general": {"maxAttempts": 1},
                });
                std::fs::write(dir.join("settings.json"), settings.to_string()).unwrap();
                set("GOOGLE_GEMINI_BASE_URL", server.url());
                set("GEMINI_API_KEY", "orx-mock-key".into());
            }
            Cli::OpenCode => {
                // A custom OpenAI-compatible provider (`@ai-sdk/openai-compatible`, bundled in
                // the binary) pointed at the mock; no models.dev catalogue, no update check.
                let config = serde_json::json!({
                    "autoupdate": false,
                    "share": "disabled",
                    "model": self.model(),
                    "provider": {"orxmock": {
                        "npm": "@ai-sdk/openai-compatible",
                        "name": "orx mock",
                        "options": {"baseURL": format!("{}/v1", server.url()), "apiKey": "sk-orx-mock"},
                        "models": {"orx-mock": {"name": "orx mock"}},
                    }},
                });
                set("OPENCODE_CONFIG_CONTENT", config.to_string());
                set("OPENCODE_DISABLE_MODELS_FETCH", "1".into());
                set("OPENCODE_DISABLE_AUTOUPDATE", "1".into());
            }
            Cli::Qwen => {
                let dir = home.join(".qwen");
                std::fs::create_dir_all(&dir).unwrap();
                // Managed auto-memory runs a second agent after every answer (another model
                // call with file tools, writing memory files): off, as README advises for orx.
                let settings = serde_json::json!({
                    "security": {"auth": {"selectedType": "openai"}},
                    "privacy": {"usageStatisticsEnabled": false},
                    "memory": {"enableManagedAutoMemory": false, "enableManagedAutoDream": false},
                });
                std::fs::write(dir.join("settings.json"), settings.to_string()).unwrap();
                set("OPENAI_BASE_URL", format!("{}/v1", server.url()));
                set("OPENAI_API_KEY", "sk-orx-mock".into());
                set("QWEN_CODE_SUPPRESS_YOLO_WARNING", "1".into());
            }
        }
        env
    }

    /// The CLI's documented headless argv (prompt on stdin), for an edit-allowed call.
    pub fn argv(self, last_message: &Path, resume: Option<&str>) -> Vec<String> {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        match self {
            Cli::Claude => {
                let mut a = s(&[
                    "-p",
                    "--output-format",
                    "stream-json",
                    "--verbose",
                    "--model",
                    self.model(),
                    "--permission-mode",
                    "bypassPermissions",
                    "--max-turns",
                    "10",
                ]);
                if let Some(id) = resume {
                    a.extend(s(&["--resume", id]));
                }
                a
            }
            Cli::Codex => {
                let mut a = s(&["exec", "--json", "-o"]);
                a.push(last_message.display().to_string());
                a.extend(s(&[
                    "-s",
                    "workspace-write",
                    "-m",
                    self.model(),
                    "--skip-git-repo-check",
                ]));
                // exec's own flags must come before `resume`: `exec resume ID -s …` is rejected.
                if let Some(id) = resume {
                    a.extend(s(&["resume", id]));
                }
                a.push("-".into());
                a
            }
            Cli::Gemini => {
                let mut a = s(&[
                    "-o",
                    "stream-json",
                    "-m",
                    self.model(),
                    "--approval-mode",
                    "yolo",
                    "--skip-trust",
                    // -p's text is appended to stdin's, so the prompt itself stays on stdin.
                    "-p",
                    "",
                ]);
                if let Some(id) = resume {
                    a.extend(s(&["-r", id]));
                }
                a
            }
            Cli::OpenCode => {
                let mut a = s(&[
                    "run",
                    "--format",
                    "json",
                    "--title",
                    "orx conformance",
                    "-m",
                    self.model(),
                ]);
                if let Some(id) = resume {
                    a.extend(s(&["-s", id]));
                }
                a
            }
            Cli::Qwen => {
                let mut a = s(&[
                    "-o",
                    "stream-json",
                    "--approval-mode",
                    "yolo",
                    "-m",
                    self.model(),
                ]);
                if let Some(id) = resume {
                    a.extend(s(&["-r", id]));
                }
                a
            }
        }
    }

    /// The session (thread) id a call printed, for resuming it.
    pub fn session_id(self, lines: &[Value]) -> Option<String> {
        lines.iter().find_map(|l| match self {
            Cli::Claude => (l["type"] == "system" && l["subtype"] == "init")
                .then(|| l["session_id"].as_str().map(String::from))
                .flatten(),
            Cli::Codex => (l["type"] == "thread.started")
                .then(|| l["thread_id"].as_str().map(String::from))
                .flatten(),
            Cli::Gemini => (l["type"] == "init")
                .then(|| l["session_id"].as_str().map(String::from))
                .flatten(),
            Cli::OpenCode => l["sessionID"].as_str().map(String::from),
            Cli::Qwen => (l["type"] == "system" && l["subtype"] == "init")
                .then(|| l["session_id"].as_str().map(String::from))
                .flatten(),
        })
    }

    /// Whether a logged model request carries an earlier assistant turn: the conversation was
    /// resumed rather than started afresh.
    pub fn carries_history(self, body: &Value) -> bool {
        let any =
            |v: &Value, f: &dyn Fn(&Value) -> bool| v.as_array().is_some_and(|a| a.iter().any(f));
        match self {
            Cli::Claude => any(&body["messages"], &|m| m["role"] == "assistant"),
            Cli::Codex => any(&body["input"], &|i| {
                i["type"] == "custom_tool_call"
                    || i["type"] == "function_call"
                    || (i["type"] == "message" && i["role"] == "assistant")
            }),
            Cli::Gemini => any(&body["contents"], &|c| c["role"] == "model"),
            Cli::OpenCode | Cli::Qwen => any(&body["messages"], &|m| m["role"] == "assistant"),
        }
    }
}

/// A fresh HOME and a fresh git working directory for one CLI call.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        let work = dir.path().join("work");
        std::fs::create_dir_all(&work).unwrap();
        crate::support::git(&work, &["init", "-q", "-b", "main"]);
        Sandbox { dir }
    }
    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }
    pub fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }
    /// Starts a mock whose request log lives in this sandbox.
    pub fn server(&self, turns: Vec<Turn>) -> MockServer {
        MockServer::start(turns, &self.dir.path().join("requests.jsonl"))
    }
}

/// What one direct CLI call printed.
pub struct Direct {
    pub cli: Cli,
    /// None when the test killed it.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub lines: Vec<Value>,
}

impl Direct {
    pub fn last(&self) -> &Value {
        self.lines.last().unwrap_or(&Value::Null)
    }
    pub fn of_type(&self, t: &str) -> Vec<&Value> {
        self.lines.iter().filter(|l| l["type"] == t).collect()
    }
    /// Everything needed to understand a failed assertion.
    pub fn dump(&self, server: &MockServer) -> String {
        format!(
            "{} exit {:?}\nstdout:\n{}\nstderr:\n{}\nrequests: {:?}\nlog: {}",
            self.cli.name(),
            self.code,
            self.stdout,
            self.stderr,
            server.paths(),
            server.log_path().display()
        )
    }
    /// With ORX_RECORD_DIR set, saves stdout/stderr as a recording named `case`.
    pub fn record(&self, case: &str) {
        let Some(dir) = std::env::var_os("ORX_RECORD_DIR") else {
            return;
        };
        let dir = PathBuf::from(dir).join(self.cli.name());
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{case}.jsonl")), &self.stdout).unwrap();
        std::fs::write(dir.join(format!("{case}.stderr")), &self.stderr).unwrap();
        let code = self.code.map_or("killed".to_string(), |c| c.to_string());
        std::fs::write(dir.join(format!("{case}.exit")), format!("{code}\n")).unwrap();
    }
}

/// How a direct call ends.
pub enum Until {
    /// Let it exit on its own (killed as a failure after `limit`).
    Exit(Duration),
    /// Kill it (the whole process group) once the mock has held a model request for `hold`:
    /// what orx's idle timeout does to a stalled CLI.
    StalledFor(Duration),
}

/// Runs `cli` in `sb` against `server` with `prompt` on stdin.
pub fn run_direct(
    bin: &Path,
    cli: Cli,
    sb: &Sandbox,
    server: &MockServer,
    prompt: &str,
    resume: Option<&str>,
    until: Until,
) -> Direct {
    let env = cli.prepare(&sb.home(), server);
    let last = sb.dir.path().join("last_message.md");
    let mut cmd = Command::new(bin.join(cli.name()));
    cmd.args(cli.argv(&last, resume))
        .current_dir(sb.work())
        .env_clear()
        .envs(env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd.spawn().expect("spawn the CLI");
    let pgid = child.id() as i32;
    {
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(prompt.as_bytes()).unwrap();
    }
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let mut held_since: Option<Instant> = None;
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        let kill = match until {
            Until::Exit(limit) => {
                if start.elapsed() > limit {
                    kill_group(pgid);
                    let _ = child.wait();
                    panic!("{} did not exit within {limit:?}", cli.name());
                }
                false
            }
            Until::StalledFor(hold) => {
                if held_since.is_none() && !server.model_requests().is_empty() {
                    held_since = Some(Instant::now());
                }
                assert!(
                    start.elapsed() < crate::waiting::SAFETY_BOUND,
                    "{} never called the model",
                    cli.name()
                );
                held_since.is_some_and(|t| t.elapsed() > hold)
            }
        };
        if kill {
            kill_group(pgid);
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // A CLI may leave a grandchild holding the pipes: end the group before reading to EOF.
    kill_group(pgid);
    let stdout = t_out.join().unwrap();
    let stderr = t_err.join().unwrap();
    let lines = stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    Direct {
        cli,
        code,
        stdout,
        stderr,
        lines,
    }
}

fn kill_group(pgid: i32) {
    // SAFETY: kill(2) takes plain integers and touches no memory of ours; a group that is
    // already gone gives ESRCH, which is fine.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
}

/// Processes whose environment names `ORX_RUN_ID=<run_id>` (the supervisor sets it on every
/// agent it starts): what an orphan of that run would look like.
pub fn processes_of_run(run_id: &str) -> Vec<String> {
    let needle = format!("ORX_RUN_ID={run_id}");
    let mut found = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return found;
    };
    for e in dir.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        if let Ok(env) = std::fs::read(e.path().join("environ")) {
            if env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes()) {
                let cmd = std::fs::read_to_string(e.path().join("cmdline")).unwrap_or_default();
                found.push(format!("{name}: {}", cmd.replace('\0', " ")));
            }
        }
    }
    found
}
