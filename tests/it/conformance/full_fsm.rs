//! The whole FSM (plan → spec → decompose → implement → verify → review → ship → knowledge)
//! through the real, pinned CLIs against the mock model server: once per CLI as the only
//! engine, and once with `stages:` routing the stages across all three CLIs.
//!
//! The mock replays one queue of turns in call order, so the turns below follow the pipeline:
//! three text answers (plan, spec, the backlog), a file write and its final text (implement),
//! the review verdict, and a knowledge answer that changes nothing.

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use super::{bin_dir, processes_of_run, Cli, Sandbox};
use crate::mock_server::{MockServer, Turn};
use crate::support::{git, RunResult, ORX};

const BACKLOG: &str = "Here is the backlog.\n\n```yaml\nitems:\n  - id: W001\n    title: Write hello.txt\n    objective: hello.txt says hello\n    acceptance: [hello.txt exists]\n    files_hint: [hello.txt]\n    depends_on: []\n```\n";
const VERDICT: &str = "The change does what the task asks.\n\n```json\n{\"verdict\": \"approved\", \"summary\": \"hello.txt is written\", \"changes\": []}\n```\n";

fn turns() -> Vec<Turn> {
    vec![
        Turn::Text("# Plan\n\nWrite hello.txt with one line.".into()),
        Turn::Text("# Spec\n\nhello.txt contains `hello`.".into()),
        Turn::Text(BACKLOG.into()),
        Turn::write("hello.txt", "hello\n", "Wrote hello.txt."),
        Turn::Text(VERDICT.into()),
        Turn::Text("Nothing worth recording.".into()),
    ]
}

/// orx.yaml with every CLI configured, `engine` as the default and `routes` per stage.
fn config(bin: &Path, engine: Cli, routes: &[(&str, Cli)]) -> String {
    let mut s = format!(
        "version: \"1\"\nengine:\n  type: {}\n  timeout: 300\n  idle_timeout: 120\nexecutors:\n",
        engine.name()
    );
    for cli in Cli::ALL {
        s.push_str(&format!(
            "  {n}:\n    bin: {b}\n    default:\n      model: {m}\n",
            n = cli.name(),
            b = bin.join(cli.name()).display(),
            m = cli.model()
        ));
    }
    if !routes.is_empty() {
        s.push_str("stages:\n");
        for (stage, cli) in routes {
            s.push_str(&format!("  {stage}:\n    executor: {}\n", cli.name()));
        }
    }
    s.push_str("git:\n  base_branch: main\ngates:\n  - name: hello\n    command: grep -q hello hello.txt\n");
    s
}

fn run_full(
    bin: &Path,
    engine: Cli,
    routes: &[(&str, Cli)],
) -> (crate::support::Repo, MockServer, RunResult, Sandbox) {
    let repo = crate::support::Repo::new(&config(bin, engine, routes), "");
    let sb = Sandbox::new();
    let server = sb.server(turns());
    // Every CLI's settings in one HOME (they use different files and variables).
    let mut env: Vec<(String, String)> = Vec::new();
    for cli in Cli::ALL {
        for (k, v) in cli.prepare(&sb.home(), &server) {
            env.retain(|(kk, _)| *kk != k);
            env.push((k, v));
        }
    }
    let out = Command::new(ORX)
        .args(["run", "Create hello.txt saying hello.", "--no-progress"])
        .current_dir(repo.path())
        .env_clear()
        .envs(env)
        .env("CI", "true")
        .stdin(Stdio::null())
        .output()
        .expect("orx runs");
    let r = RunResult::from(out);
    (repo, server, r, sb)
}

fn check(repo: &crate::support::Repo, server: &MockServer, r: &RunResult, expect: &[(&str, Cli)]) {
    let plan_spec = format!(
        "plan.md: {:?}\nspec.md: {:?}\n",
        std::fs::read_to_string(repo.run_dir(&r.id).join("context/plan.md")).unwrap_or_default(),
        std::fs::read_to_string(repo.run_dir(&r.id).join("context/spec.md")).unwrap_or_default()
    );
    let decompose_log =
        std::fs::read_to_string(repo.run_dir(&r.id).join("logs/agent_decompose.jsonl"))
            .unwrap_or_default();
    let why = format!(
        "exit {}\nstdout:\n{}\nstderr:\n{}\nrequests: {:?}\n{plan_spec}decompose stream:\n{decompose_log}",
        r.code,
        r.stdout,
        r.stderr,
        server
            .model_requests()
            .iter()
            .map(|q| q.body.to_string().chars().take(300).collect::<String>())
            .collect::<Vec<_>>()
    );
    assert_eq!(r.code, 0, "{why}");
    let st = repo.state(&r.id);
    assert_eq!(st["status"], "succeeded", "{why}");
    let stages: Vec<(String, String)> = st["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["stage"].as_str().unwrap().to_string(),
                s["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(stages.len(), 8, "{stages:?}");
    assert!(
        stages.iter().all(|(_, status)| status == "done"),
        "{stages:?}\n{why}"
    );
    assert!(repo.read(&r.id, "context/plan.md").contains("# Plan"));
    assert!(repo.read(&r.id, "context/spec.md").contains("# Spec"));
    assert!(repo.read(&r.id, "context/backlog.yaml").contains("W001"));
    assert_eq!(st["review_summary"], "hello.txt is written");
    let branch = format!("orx/{}", r.id);
    assert_eq!(
        git(repo.path(), &["show", &format!("{branch}:hello.txt")]),
        "hello"
    );
    assert!(repo.read(&r.id, "artifacts/patch.diff").contains("+hello"));
    // Seven model calls: plan, spec, decompose, implement (tool call + final), review, knowledge.
    assert_eq!(server.model_requests().len(), 7, "{why}");
    // Each stage went to the executor its route names, with usage in the metrics.
    let metrics: Vec<Value> = repo
        .read(&r.id, "metrics/stages.jsonl")
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    for (stage, cli) in expect {
        let m = metrics
            .iter()
            .find(|m| m["stage"] == *stage)
            .unwrap_or_else(|| panic!("no metric for {stage}: {metrics:?}"));
        assert_eq!(m["executor"], cli.name(), "{stage}: {m}");
        assert_eq!(m["status"], "ok", "{stage}: {m}");
        assert!(
            m["usage"]["input_tokens"].as_u64().unwrap_or(0) > 0,
            "{stage}: {m}"
        );
    }
    assert!(
        processes_of_run(&r.id).is_empty(),
        "processes of the run left behind"
    );
}

const STAGES: [&str; 6] = [
    "plan",
    "spec",
    "decompose",
    "implement",
    "review",
    "knowledge_update",
];

fn full_fsm_on(cli: Cli) {
    let Some(bin) = bin_dir() else { return };
    let (repo, server, r, _sb) = run_full(&bin, cli, &[]);
    let expect: Vec<(&str, Cli)> = STAGES.iter().map(|s| (*s, cli)).collect();
    check(&repo, &server, &r, &expect);
}

#[test]
fn orx_on_claude_completes_the_full_fsm() {
    full_fsm_on(Cli::Claude);
}

#[test]
fn orx_on_codex_completes_the_full_fsm() {
    full_fsm_on(Cli::Codex);
}

#[test]
fn orx_on_gemini_completes_the_full_fsm() {
    full_fsm_on(Cli::Gemini);
}

#[test]
fn orx_on_opencode_completes_the_full_fsm() {
    full_fsm_on(Cli::OpenCode);
}

#[test]
fn orx_on_qwen_completes_the_full_fsm() {
    full_fsm_on(Cli::Qwen);
}

#[test]
fn stages_routed_across_three_clis_complete_the_full_fsm() {
    let Some(bin) = bin_dir() else { return };
    let routes = [
        ("plan", Cli::Gemini),
        ("spec", Cli::Codex),
        ("decompose", Cli::Claude),
        ("implement", Cli::Codex),
        ("review", Cli::Gemini),
        ("knowledge_update", Cli::Claude),
    ];
    let (repo, server, r, _sb) = run_full(&bin, Cli::Claude, &routes);
    check(&repo, &server, &r, &routes);
}
