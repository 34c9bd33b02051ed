//! Ship: pushing to a real bare repository, pull requests through a stand-in `gh` that records
//! its argv (GitHub cannot be reached here), each failure named and resumable, `--json` and
//! `--junit` for CI, and several orx processes pushing to one remote at once.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;

const PR_URL: &str = "https://github.com/acme/demo/pull/7";

/// The standard gates (W001 needs one fix) with `git_keys` under `git:`; the failing gate
/// prints text that needs escaping in XML.
fn ship_config(git_keys: &str) -> String {
    let mut s = String::from("version: \"1\"\nengine:\n  type: fake\ngit:\n  base_branch: main\n");
    for line in git_keys.lines().filter(|l| !l.trim().is_empty()) {
        s.push_str(&format!("  {}\n", line.trim()));
    }
    s.push_str("gates:\n");
    s.push_str(&format!(
        "  - name: add_is_right\n    command: {}\n  - name: syntax\n    command: \"true\"\n",
        yaml_str("test ! -f calc.py || grep -q 'return a + b' calc.py || { echo 'bad <add> & \"q\" ]]> end'; exit 1; }")
    ));
    s
}

/// A stand-in for the GitHub CLI: a script that records each argv (one line, tab-separated)
/// and answers like gh. Flag files in its folder steer it: `logged_out`, `create_fails`
/// (the PR is created, then gh fails), and `pr` (an open PR exists; holds its URL).
struct Gh {
    dir: tempfile::TempDir,
}

impl Gh {
    fn new() -> Gh {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let script = format!(
            r#"#!/bin/sh
D='{d}'
for a in "$@"; do printf '%s\t' "$a"; done >> "$D/argv.log"
printf '\n' >> "$D/argv.log"
case "$1 $2" in
  "auth status")
    if [ -f "$D/logged_out" ]; then
      echo "You are not logged into any GitHub hosts. To log in, run: gh auth login" >&2; exit 1
    fi
    echo "github.com" >&2; echo "  ✓ Logged in to github.com account bot (keyring)" >&2; exit 0 ;;
  "pr list"|"pr view")
    if [ -f "$D/pr" ]; then cat "$D/pr"; fi; exit 0 ;;
  "pr create")
    echo "{PR_URL}" > "$D/pr"
    if [ -f "$D/create_fails" ]; then echo "HTTP 502: Bad Gateway (https://api.github.com/graphql)" >&2; exit 1; fi
    echo "Creating pull request for branch into main in acme/demo" >&2
    echo; echo "{PR_URL}"; exit 0 ;;
esac
echo "unknown command: $*" >&2; exit 1
"#
        );
        let path = bin.join("gh");
        std::fs::write(&path, script).unwrap();
        make_executable(&path);
        Gh { dir }
    }

    fn flag(&self, name: &str, on: bool) {
        let p = self.dir.path().join(name);
        if on {
            std::fs::write(p, "").unwrap();
        } else {
            let _ = std::fs::remove_file(p);
        }
    }

    /// PATH with the stand-in first.
    fn path(&self) -> OsString {
        let mut dirs = vec![self.dir.path().join("bin")];
        dirs.extend(path_without_gh());
        std::env::join_paths(dirs).unwrap()
    }

    fn calls(&self) -> Vec<Vec<String>> {
        std::fs::read_to_string(self.dir.path().join("argv.log"))
            .unwrap_or_default()
            .lines()
            .map(|l| {
                l.strip_suffix('\t')
                    .unwrap_or(l)
                    .split('\t')
                    .map(String::from)
                    .collect()
            })
            .collect()
    }

    fn creates(&self) -> Vec<Vec<String>> {
        self.calls()
            .into_iter()
            .filter(|c| c.len() > 1 && c[0] == "pr" && c[1] == "create")
            .collect()
    }
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mut perm = std::fs::metadata(path).unwrap().permissions();
    perm.set_mode(0o755);
    std::fs::set_permissions(path, perm).unwrap();
}

/// The test's PATH minus every folder that holds a `gh`.
fn path_without_gh() -> Vec<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .filter(|d| !d.join("gh").exists())
        .collect()
}

fn orx_with(repo: &Repo, path: &OsString, args: &[&str]) -> RunResult {
    RunResult::from(repo.cmd(args).env("PATH", path).output().expect("orx runs"))
}

/// `orx run` of the standard task on the repository's scenario.
const RUN: [&str; 5] = [
    "run",
    "Add add() and mul()",
    "--scenario",
    "scenario.yaml",
    "--no-progress",
];

fn run_with(repo: &Repo, path: &OsString, extra: &[&str]) -> RunResult {
    let mut args = RUN.to_vec();
    args.extend_from_slice(extra);
    orx_with(repo, path, &args)
}

fn resume_with(repo: &Repo, path: &OsString, id: &str, extra: &[&str]) -> RunResult {
    let mut args = vec!["resume", id, "--no-progress"];
    args.extend_from_slice(extra);
    orx_with(repo, path, &args)
}

fn failure(repo: &Repo, id: &str) -> (String, String, String) {
    let st = repo.state(id);
    let f = &st["last_failure"];
    assert_eq!(f["stage"], "ship", "{st}");
    (
        f["reason"].as_str().unwrap().to_string(),
        f["message"].as_str().unwrap().to_string(),
        f["evidence_path"].as_str().unwrap_or("").to_string(),
    )
}

fn events_named(repo: &Repo, id: &str, name: &str) -> Vec<serde_json::Value> {
    repo.events(id)
        .into_iter()
        .filter(|e| e["event"] == name)
        .collect()
}

#[test]
fn ships_to_a_bare_remote_and_opens_a_draft_pr_with_json_and_junit() {
    let repo = Repo::new(
        &ship_config("auto_push: true\ncreate_pr: true\npr_draft: true"),
        &standard_scenario(0),
    );
    let bare = bare_origin(repo.path());
    let gh = Gh::new();
    let junit = repo.path().join("out/junit.xml");
    let r = run_with(
        &repo,
        &gh.path(),
        &["--json", "--junit", junit.to_str().unwrap()],
    );
    r.expect_code(0);
    let summary: serde_json::Value =
        serde_json::from_str(r.stdout.lines().last().unwrap()).expect("summary is JSON");
    assert_eq!(summary["event"], "summary");
    let id = summary["run_id"].as_str().unwrap().to_string();
    let branch = format!("orx/{id}");
    assert_eq!(summary["status"], "succeeded");
    assert_eq!(summary["branch"], branch.as_str());
    assert_eq!(summary["pr_url"], PR_URL);
    assert!(summary["usage"].is_object() && summary["cost_usd"].is_number());
    assert!(!summary["gates"].as_array().unwrap().is_empty());

    // The remote has the branch at the local head, knowledge commit included.
    let local = git(repo.path(), &["rev-parse", &branch]);
    assert_eq!(git(bare.path(), &["rev-parse", &branch]), local);
    assert_eq!(summary["pushed"]["sha"], local.as_str());
    let log = git(
        bare.path(),
        &["log", "--format=%s", &format!("main..{branch}")],
    );
    assert!(
        log.contains("knowledge update") && log.contains("orx: W001"),
        "{log}"
    );
    let pushes = events_named(&repo, &id, "pushed");
    assert_eq!(pushes.len(), 2, "ship, then knowledge: {pushes:?}");
    assert_eq!(pushes[1]["sha"], local.as_str());

    // gh was asked in order: logged in? an open PR already? create it.
    let calls = gh.calls();
    assert_eq!(calls[0], ["auth", "status"]);
    assert_eq!(calls[1][..4], ["pr", "list", "--head", branch.as_str()]);
    let body = repo.run_dir(&id).join("artifacts/pr_body.md");
    assert_eq!(
        calls[2],
        [
            "pr",
            "create",
            "--base",
            "main",
            "--head",
            branch.as_str(),
            "--title",
            "Add add() and mul()",
            "--body-file",
            body.to_str().unwrap(),
            "--draft"
        ]
    );
    assert_eq!(calls.len(), 3);
    assert!(std::fs::read_to_string(&body)
        .unwrap()
        .contains("add and mul implemented"));
    let st = repo.state(&id);
    assert_eq!(st["ship"]["pr_url"], PR_URL);
    let prs = events_named(&repo, &id, "pull_request");
    assert_eq!(prs.len(), 1);
    assert_eq!(prs[0]["created"], true);
    let shown = repo.orx(&["status", &id]);
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.contains(&format!("pr        {PR_URL}")), "{shown}");
    assert!(shown.contains("pushed    to origin at "), "{shown}");

    // JUnit: every gate run of every attempt, the failure with its escaped tail.
    let gate_runs = events_named(&repo, &id, "gate_finished").len();
    assert_eq!(gate_runs, 6, "W001 twice, W002 once, two gates each");
    let parsed = parse_junit(&junit);
    assert_eq!(parsed["tests"], gate_runs);
    assert_eq!(parsed["testcases"], gate_runs);
    assert_eq!(parsed["failures"], 1);
    let fail = &parsed["failure_details"][0];
    assert_eq!(fail["name"], "add_is_right (attempt 1)");
    assert!(
        fail["text"]
            .as_str()
            .unwrap()
            .contains("bad <add> & \"q\" ]]> end"),
        "{fail}"
    );
    assert!(fail["message"].as_str().unwrap().contains("exit code 1"));
}

/// Parse a JUnit file with python3's XML parser: totals and the failures' details.
fn parse_junit(path: &Path) -> serde_json::Value {
    let script = r#"
import json, sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == "testsuites", root.tag
cases = root.findall("./testsuite/testcase")
fails = []
for c in cases:
    for f in c.findall("failure") + c.findall("error"):
        fails.append({"name": c.get("name"), "message": f.get("message"), "text": f.text})
print(json.dumps({"tests": int(root.get("tests")), "failures": int(root.get("failures")),
                  "testcases": len(cases), "failure_details": fails}))
"#;
    let out = Command::new("python3")
        .args(["-c", script, path.to_str().unwrap()])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "the JUnit file is not well-formed XML: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(path).unwrap_or_default()
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn gh_failures_are_named_and_resume_reuses_push_and_pull_request() {
    let repo = Repo::new(
        &ship_config("create_pr: true\npr_draft: false"),
        &standard_scenario(0),
    );
    let bare = bare_origin(repo.path());
    let gh = Gh::new();

    // Not logged in: the push (implied by create_pr) happened, the PR did not.
    gh.flag("logged_out", true);
    let r = run_with(&repo, &gh.path(), &[]);
    r.expect_code(1);
    let (reason, message, evidence) = failure(&repo, &r.id);
    assert_eq!(reason, "gh_auth");
    assert!(
        message.contains("gh auth login") && message.contains("not logged into"),
        "{message}"
    );
    assert_eq!(evidence, "logs/gh.log");
    assert!(repo.read(&r.id, "logs/gh.log").contains("$ gh auth status"));
    assert!(
        r.stdout.contains(&format!("orx resume {}", r.id)),
        "{}",
        r.stdout
    );
    let branch = format!("orx/{}", r.id);
    let pushed = git(bare.path(), &["rev-parse", &branch]);
    assert!(gh.creates().is_empty());

    // Logged in, but gh dies after GitHub created the PR.
    gh.flag("logged_out", false);
    gh.flag("create_fails", true);
    let r2 = resume_with(&repo, &gh.path(), &r.id, &[]);
    r2.expect_code(1);
    let (reason, message, _) = failure(&repo, &r.id);
    assert_eq!(reason, "pr_failed");
    assert!(message.contains("502"), "{message}");
    let creates = gh.creates();
    assert_eq!(creates.len(), 1);
    assert!(
        !creates[0].contains(&"--draft".to_string()),
        "pr_draft: false: {creates:?}"
    );
    // The resumed ship found the branch already pushed and sent nothing.
    let pushes = events_named(&repo, &r.id, "pushed");
    assert_eq!(pushes.len(), 2);
    assert_eq!(pushes[1]["already"], true);
    assert_eq!(pushes[1]["sha"], pushed.as_str());

    // Resumed again: the PR that exists is found and reused, never created twice.
    gh.flag("create_fails", false);
    let r3 = resume_with(&repo, &gh.path(), &r.id, &[]);
    r3.expect_code(0);
    assert!(r3.stdout.contains(PR_URL), "{}", r3.stdout);
    assert_eq!(gh.creates().len(), 1, "{:?}", gh.calls());
    let st = repo.state(&r.id);
    assert_eq!(st["status"], "succeeded");
    assert_eq!(st["ship"]["pr_url"], PR_URL);
    let prs = events_named(&repo, &r.id, "pull_request");
    assert_eq!(prs.len(), 1);
    assert_eq!(prs[0]["created"], false);
    assert_eq!(
        git(bare.path(), &["rev-parse", &branch]),
        git(repo.path(), &["rev-parse", &branch])
    );
}

#[test]
fn missing_gh_is_a_clear_failure_and_resume_follows_the_fixed_config() {
    let repo = Repo::new(&ship_config("create_pr: true"), &standard_scenario(0));
    let _bare = bare_origin(repo.path());
    let path = std::env::join_paths(path_without_gh()).unwrap();
    let r = run_with(&repo, &path, &[]);
    r.expect_code(1);
    let (reason, message, _) = failure(&repo, &r.id);
    assert_eq!(reason, "gh_missing");
    assert!(
        message.contains("install the GitHub CLI or set git.create_pr: false"),
        "{message}"
    );
    assert!(r.stdout.contains("gh_missing"), "{}", r.stdout);

    // The user turns pull requests off; resume re-enters ship and finishes.
    std::fs::write(
        repo.path().join("orx.yaml"),
        ship_config("create_pr: false\nauto_push: true"),
    )
    .unwrap();
    let r2 = resume_with(&repo, &path, &r.id, &[]);
    r2.expect_code(0);
    assert_eq!(repo.state(&r.id)["ship"]["pr_url"], serde_json::Value::Null);
}

#[test]
fn missing_remote_then_a_diverged_branch_fail_clearly_and_resume_pushes_once_fixed() {
    let repo = Repo::new(&ship_config("auto_push: true"), &standard_scenario(0));
    let bare = bare_origin(repo.path());
    let gone = repo.path().join("no-such-remote.git");
    git(
        repo.path(),
        &["remote", "set-url", "origin", gone.to_str().unwrap()],
    );
    let path = std::env::join_paths(path_without_gh()).unwrap();
    let r = run_with(&repo, &path, &[]);
    r.expect_code(1);
    let (reason, message, evidence) = failure(&repo, &r.id);
    assert_eq!(reason, "push_remote_missing");
    assert!(
        message.contains("git remote add|set-url origin") && message.contains("orx resume"),
        "{message}"
    );
    assert_eq!(evidence, "logs/push.log");
    let branch = format!("orx/{}", r.id);

    // Meanwhile another clone pushed a different branch of the same name.
    let other = tempfile::tempdir().unwrap();
    git(
        other.path(),
        &["clone", "-q", bare.path().to_str().unwrap(), "."],
    );
    git(other.path(), &["checkout", "-q", "-b", &branch]);
    std::fs::write(other.path().join("theirs.txt"), "theirs\n").unwrap();
    git(other.path(), &["add", "-A"]);
    git(
        other.path(),
        &[
            "-c",
            "user.name=o",
            "-c",
            "user.email=o@example.invalid",
            "commit",
            "-q",
            "-m",
            "theirs",
        ],
    );
    git(other.path(), &["push", "-q", "origin", &branch]);
    let theirs = git(bare.path(), &["rev-parse", &branch]);

    // The remote is fixed (with a relative URL, which must mean what it means to the user's
    // own `git push` at the root, not inside the run's worktree); the push is now refused
    // rather than overwriting their commit.
    assert_eq!(bare.path().parent(), repo.path().parent());
    let relative = format!("../{}", bare.path().file_name().unwrap().to_str().unwrap());
    git(repo.path(), &["remote", "set-url", "origin", &relative]);
    let r2 = resume_with(&repo, &path, &r.id, &[]);
    r2.expect_code(1);
    let (reason, message, _) = failure(&repo, &r.id);
    assert_eq!(reason, "push_rejected");
    assert!(
        message.contains("commits this run does not have"),
        "{message}"
    );
    assert_eq!(git(bare.path(), &["rev-parse", &branch]), theirs);

    // Their branch is moved out of the way: resume pushes ours.
    git(
        bare.path(),
        &["update-ref", "-d", &format!("refs/heads/{branch}")],
    );
    let r3 = resume_with(&repo, &path, &r.id, &[]);
    r3.expect_code(0);
    assert_eq!(
        git(bare.path(), &["rev-parse", &branch]),
        git(repo.path(), &["rev-parse", &branch])
    );
    let st = repo.state(&r.id);
    assert_eq!(st["status"], "succeeded");
    assert_eq!(st["resumes"], 2);
}

/// An HTTP server on 127.0.0.1 that answers every request with 401 (a remote needing login).
fn unauthorized_server() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 4096];
            let mut got = Vec::new();
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
            let _ = s.write_all(
                b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"orx-test\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    format!("http://127.0.0.1:{port}/acme/demo.git")
}

#[test]
fn a_remote_that_needs_credentials_is_an_auth_failure() {
    let repo = Repo::new(&ship_config("auto_push: true"), &standard_scenario(0));
    let url = unauthorized_server();
    git(repo.path(), &["remote", "add", "origin", &url]);
    let path = std::env::join_paths(path_without_gh()).unwrap();
    let args = [
        "run",
        "Add add() and mul()",
        "--scenario",
        "scenario.yaml",
        "--no-progress",
    ];
    // No credential helper from the machine's config may answer for this remote.
    let out = repo
        .cmd(&args)
        .env("PATH", &path)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    let r = RunResult::from(out);
    r.expect_code(1);
    let (reason, message, _) = failure(&repo, &r.id);
    assert_eq!(reason, "push_auth", "{message}");
    assert!(message.contains("credentials"), "{message}");
}

/// One item writing `file`; the knowledge stage adds AGENTS.md.
fn one_item_scenario(file: &str, content: &str) -> String {
    format!(
        "plan: {}\nspec: {}\ndecompose: {}\nimplement:\n  W001: {}\nreview: {}\nknowledge_update: {}\n",
        text_step("# Plan\n\nOne file."),
        text_step("# Spec\n\nOne file."),
        text_step(&backlog_text(&[("W001", &[])])),
        files_step(&[(file, content)]),
        text_step(&approve("one file written")),
        files_step(&[("AGENTS.md", &format!("# Agents\n\n- {file}\n"))]),
    )
}

#[test]
fn four_clones_push_to_one_remote_at_once_and_every_branch_arrives_intact() {
    const N: usize = 4;
    let seed = Repo::new("", "");
    let bare = bare_origin(seed.path());
    let bare_url = bare.path().to_str().unwrap().to_string();
    let path = std::env::join_paths(path_without_gh()).unwrap();
    let clones: Vec<tempfile::TempDir> = (0..N)
        .map(|i| {
            let c = tempfile::tempdir().unwrap();
            git(c.path(), &["clone", "-q", &bare_url, "."]);
            git(c.path(), &["config", "user.email", "t@example.invalid"]);
            git(c.path(), &["config", "user.name", "orx test"]);
            std::fs::write(
                c.path().join("orx.yaml"),
                config_with_gates(&[("ok", "true")], "").replace(
                    "  base_branch: main\n",
                    "  base_branch: main\n  auto_push: true\n",
                ),
            )
            .unwrap();
            let file = format!("src/clone{i}.txt");
            let content = format!("clone {i}\n").repeat(50 * (i + 1));
            std::fs::write(
                c.path().join("scenario.yaml"),
                one_item_scenario(&file, &content),
            )
            .unwrap();
            c
        })
        .collect();
    let children: Vec<std::process::Child> = clones
        .iter()
        .map(|c| {
            Command::new(ORX)
                .args([
                    "run",
                    "Write one file",
                    "--scenario",
                    "scenario.yaml",
                    "--no-progress",
                ])
                .current_dir(c.path())
                .env("CI", "true")
                .env("PATH", &path)
                .env_remove("RUST_LOG")
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let results: Vec<RunResult> = children
        .into_iter()
        .map(|c| RunResult::from(c.wait_with_output().unwrap()))
        .collect();
    let check = tempfile::tempdir().unwrap();
    git(check.path(), &["clone", "-q", &bare_url, "."]);
    let mut ids = Vec::new();
    for (c, r) in clones.iter().zip(&results) {
        r.expect_code(0);
        let branch = format!("orx/{}", r.id);
        let local = git(c.path(), &["rev-parse", &branch]);
        assert_eq!(git(bare.path(), &["rev-parse", &branch]), local);
        // The branch's tree is exactly main plus the run's patch.
        git(check.path(), &["checkout", "-q", "--detach", "origin/main"]);
        let patch = c
            .path()
            .join("runs")
            .join(&r.id)
            .join("artifacts/patch.diff");
        git(check.path(), &["apply", "--index", patch.to_str().unwrap()]);
        assert_eq!(
            git(check.path(), &["write-tree"]),
            git(bare.path(), &["rev-parse", &format!("{branch}^{{tree}}")]),
            "branch {branch} matches its patch"
        );
        git(check.path(), &["reset", "-q", "--hard"]);
        ids.push(r.id.clone());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), N, "distinct runs");
    let fsck = Command::new("git")
        .args(["fsck", "--full", "--strict"])
        .current_dir(bare.path())
        .output()
        .unwrap();
    assert!(
        fsck.status.success(),
        "fsck: {}",
        String::from_utf8_lossy(&fsck.stderr)
    );
    let heads = git(
        bare.path(),
        &["for-each-ref", "--format=%(refname)", "refs/heads/orx/"],
    );
    assert_eq!(heads.lines().count(), N, "{heads}");
}

/// A `git` in front of the real one that holds the first `push` it sees until `release`
/// exists in its folder (or the folder is gone: a failed test never leaves it waiting), after
/// writing its pid to `pid` there, and writes down a SIGTERM it gets meanwhile in `signals`;
/// every later call goes through.
struct HeldPush {
    dir: tempfile::TempDir,
}

impl HeldPush {
    fn new() -> HeldPush {
        let dir = tempfile::tempdir().unwrap();
        let real = String::from_utf8(
            Command::new("sh")
                .args(["-c", "command -v git"])
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap();
        let d = dir.path().display();
        let script = format!(
            "#!/bin/sh\n\
             case \" $* \" in *\" push \"*)\n\
               if mkdir '{d}/held' 2>/dev/null; then\n\
                 trap \"echo TERM >> '{d}/signals'; exit 143\" TERM\n\
                 echo $$ > '{d}/pid.tmp' && mv '{d}/pid.tmp' '{d}/pid'\n\
                 while [ -d '{d}' ] && [ ! -e '{d}/release' ]; do sleep 0.05; done\n\
               fi ;;\n\
             esac\n\
             exec '{}' \"$@\"\n",
            real.trim()
        );
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        std::fs::write(bin.join("git"), script).unwrap();
        make_executable(&bin.join("git"));
        HeldPush { dir }
    }

    fn path(&self) -> OsString {
        let mut dirs = vec![self.dir.path().join("bin")];
        dirs.extend(path_without_gh());
        std::env::join_paths(dirs).unwrap()
    }

    /// Let the held push go on.
    fn release(&self) {
        std::fs::write(self.dir.path().join("release"), "").unwrap();
    }

    /// The signals the held push wrote down.
    fn signals(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("signals")).unwrap_or_default()
    }

    /// The held push's pid, once it is held.
    fn wait_held(&self) -> i32 {
        let pid = self.dir.path().join("pid");
        crate::waiting::until("the push to be held", || {
            std::fs::read_to_string(&pid).ok()?.trim().parse().ok()
        })
    }
}

impl Drop for HeldPush {
    fn drop(&mut self) {
        let _ = std::fs::write(self.dir.path().join("release"), "");
    }
}

/// Whether `pid` is a live process (a zombie waiting for its parent is not).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let state = s.rsplit_once(')')?.1.split_whitespace().next()?.to_string();
            Some(state != "Z" && state != "X")
        })
        .unwrap_or(false)
}

#[test]
fn a_push_a_killed_orx_left_running_is_let_finish_before_its_resume_pushes() {
    // A kill -9 of orx does not stop the git push it started: it goes on updating the remote
    // branch (or, here, is still waiting to). The resume must not push the same branch while
    // it runs, or the remote refuses one of the two ("failed to update ref"), and must not stop
    // it either, since git stopped halfway can leave a lock file behind: it waits for it.
    let repo = Repo::new(&ship_config("auto_push: true"), &standard_scenario(0));
    let bare = bare_origin(repo.path());
    let held = HeldPush::new();
    let mut child = repo
        .cmd(&RUN)
        .env("PATH", held.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = held.wait_held();
    child.kill().unwrap();
    child.wait().unwrap();
    let id = std::fs::read_dir(repo.path().join("runs"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| !n.starts_with('.'))
        .unwrap();
    crate::waiting::lock_released(&repo.run_dir(&id));
    assert!(alive(pid), "the held push outlived its orx");

    let mut resume = repo
        .cmd(&["resume", &id, "--no-progress"])
        .env("PATH", held.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = resume.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut all = String::new();
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if line.contains("waiting for the git processes") {
                let _ = tx.send(line.clone());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    // The resume says it waits, and waits: the held push is still running, unsignalled.
    let Ok(said) = rx.recv() else {
        let code = resume.wait().unwrap();
        panic!(
            "the resume ended ({code}) without waiting for the held push\n{}",
            reader.join().unwrap()
        );
    };
    assert!(said.contains(&format!("run {id}:")), "{said}");
    assert!(said.contains(&pid.to_string()), "{said}");
    assert!(alive(pid), "the held push was stopped, not let finish");
    assert_eq!(held.signals(), "", "the held push got a signal");
    held.release();
    let status = resume.wait().unwrap();
    let err = reader.join().unwrap();
    assert!(status.success(), "resume failed ({status})\n{err}");
    assert!(!alive(pid), "the held push is still running");
    assert_eq!(held.signals(), "", "the held push got a signal");
    let branch = format!("orx/{id}");
    assert_eq!(
        git(bare.path(), &["rev-parse", &branch]),
        git(repo.path(), &["rev-parse", &branch]),
        "the resume pushed the run branch"
    );
}
