//! `orx takeover` through a real pseudo-terminal: a live run whose implement agent is a stand-in
//! `claude` on PATH is stopped at its item, the stand-in is opened interactively with the
//! session orx recorded, writes a file as a person would, and the run verifies, commits and
//! ships that file. Without a terminal, takeover refuses and leaves the run alone.

use std::ffi::CStr;
use std::io::{BufRead, BufReader, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use crate::support::{approve, config_with_gates, files_step, text_step, Repo, RunResult};
use crate::waiting::until_ok;

const SESSION: &str = "sess-takeover-1";

/// Claude Code as far as this test needs it. Headless (`-p`), it announces a session and then
/// works until it is stopped (a second headless call fails at once, so a broken takeover ends
/// instead of hanging). Interactive, it records how it was opened, whether it has a terminal and
/// where it runs, writes `by-hand.txt` in its folder and exits.
const STAND_IN: &str = r#"#!/bin/sh
log="$TAKEOVER_LOG"
case " $* " in
*" -p "*)
  cat > /dev/null
  if [ -e "$log/headless" ]; then
    echo '{"type":"result","subtype":"error_during_execution","is_error":true,"result":"the stand-in takes one headless call"}'
    exit 1
  fi
  : > "$log/headless"
  echo '{"type":"system","subtype":"init","session_id":"SESSION","model":"stand-in"}'
  exec sleep 100000
  ;;
esac
printf '%s\n' "$@" > "$log/argv"
if [ -t 0 ] && [ -t 1 ]; then echo yes > "$log/tty"; fi
pwd -P > "$log/cwd"
echo "written by hand" > by-hand.txt
exit 0
"#;

/// A repository whose implement and fix stages go to `claude` (the stand-in, first on PATH),
/// every other stage to the fake engine, and whose one gate needs the file written by hand.
struct Setup {
    repo: Repo,
    bin: tempfile::TempDir,
    log: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let config = config_with_gates(
            &[("by_hand", "test -f by-hand.txt")],
            "stages:\n  implement:\n    executor: claude\n  fix:\n    executor: claude\n",
        );
        let scenario = format!(
            "review: {}\nknowledge_update: {}\n",
            text_step(&approve("written by hand")),
            files_step(&[(
                "AGENTS.md",
                "<!-- orx:begin -->\n- by hand\n<!-- orx:end -->\n"
            )])
        );
        let repo = Repo::new(&config, &scenario);
        let bin = tempfile::tempdir().unwrap();
        let claude = bin.path().join("claude");
        std::fs::write(&claude, STAND_IN.replace("SESSION", SESSION)).unwrap();
        std::fs::set_permissions(&claude, std::fs::Permissions::from_mode(0o755)).unwrap();
        Setup {
            repo,
            bin,
            log: tempfile::tempdir().unwrap(),
        }
    }

    fn path_var(&self) -> String {
        format!(
            "{}:{}",
            self.bin.path().display(),
            std::env::var("PATH").unwrap_or_default()
        )
    }

    fn cmd(&self, args: &[&str]) -> std::process::Command {
        let mut c = self.repo.cmd(args);
        c.env("PATH", self.path_var())
            .env("TAKEOVER_LOG", self.log.path())
            .env("USER", "ada-at-the-terminal");
        c
    }

    fn logged(&self, name: &str) -> Option<String> {
        std::fs::read_to_string(self.log.path().join(name)).ok()
    }

    /// Start the run in the background; its id (the first stdout line) once it has one.
    fn start_run(&self) -> (Child, String) {
        let mut child = self
            .cmd(&[
                "run",
                "Say hello by hand",
                "--scenario",
                "scenario.yaml",
                "--no-progress",
                "--pipeline",
                "fast-fix",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut first)
            .unwrap();
        let id = first.trim().strip_prefix("run ").unwrap_or("").to_string();
        assert!(!id.is_empty(), "no run id on stdout: {first:?}");
        (child, id)
    }

    /// Wait until the stand-in's session is in the run's event log: the agent is mid-call.
    fn wait_for_session(&self, id: &str) {
        let events = self.repo.run_dir(id).join("events.jsonl");
        until_ok("the stand-in's session to be recorded", || {
            let text = std::fs::read_to_string(&events).unwrap_or_default();
            if text.contains("session_started") && text.contains(SESSION) {
                Ok(())
            } else {
                Err(text.lines().last().unwrap_or("").to_string())
            }
        });
    }
}

/// A pseudo-terminal pair: (controller, terminal).
fn open_pty() -> (OwnedFd, OwnedFd) {
    // SAFETY: each call gets valid arguments (flags, a descriptor just returned, a buffer with
    // its length), every result is checked before use, and each descriptor is owned once.
    unsafe {
        let controller = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
        assert!(controller >= 0, "posix_openpt failed");
        let controller = OwnedFd::from_raw_fd(controller);
        assert_eq!(libc::grantpt(controller.as_raw_fd()), 0);
        assert_eq!(libc::unlockpt(controller.as_raw_fd()), 0);
        let mut name = [0 as libc::c_char; 128];
        assert_eq!(
            libc::ptsname_r(controller.as_raw_fd(), name.as_mut_ptr(), name.len()),
            0
        );
        let terminal = libc::open(
            CStr::from_ptr(name.as_ptr()).as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY,
        );
        assert!(terminal >= 0, "cannot open the pty's terminal side");
        (controller, OwnedFd::from_raw_fd(terminal))
    }
}

/// Run `cmd` on a fresh pseudo-terminal as its controlling terminal (its own session, as a
/// terminal emulator starts a shell); its exit code and everything it printed there.
fn run_on_pty(mut cmd: std::process::Command) -> (i32, String) {
    let (controller, terminal) = open_pty();
    cmd.stdin(Stdio::from(terminal.try_clone().unwrap()))
        .stdout(Stdio::from(terminal.try_clone().unwrap()))
        .stderr(Stdio::from(terminal));
    // SAFETY: between fork and exec only async-signal-safe calls: a new session, then the
    // pty (already on stdin) as its controlling terminal.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    drop(cmd); // the parent's copies of the terminal side
               // The terminal must be read while the child runs, or a chatty child blocks on it. The
               // reader ends when every holder of the terminal side has closed it (EIO): then all the
               // child printed has been read.
    let reader = std::thread::spawn(move || {
        let mut f = std::fs::File::from(controller);
        let mut screen = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = f.read(&mut buf) {
            if n == 0 {
                break;
            }
            screen.extend_from_slice(&buf[..n]);
        }
        screen
    });
    let code = child.wait().unwrap().code().unwrap_or(-1);
    let screen = reader.join().unwrap();
    (code, String::from_utf8_lossy(&screen).into_owned())
}

fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap()
}

#[test]
fn takeover_stops_the_agent_resumes_its_session_on_a_terminal_and_ships_the_hand_made_file() {
    let s = Setup::new();
    let (run, id) = s.start_run();
    s.wait_for_session(&id);

    // Without a terminal: one line, exit 2, and the live run is left alone.
    let refused = RunResult::from(s.cmd(&["takeover", &id]).output().unwrap());
    refused.expect_code(2);
    assert_eq!(
        refused.stderr.lines().count(),
        1,
        "one line: {}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("needs a terminal"),
        "{}",
        refused.stderr
    );
    assert_eq!(s.repo.state(&id)["status"], "running");
    assert!(s.logged("argv").is_none(), "nothing was opened");

    // On a terminal: the run is stopped, the stand-in opened, the run goes on to the end.
    let (code, screen) = run_on_pty(s.cmd(&["takeover", &id, "--no-progress"]));
    assert_eq!(code, 0, "takeover exit code; on its terminal:\n{screen}");

    // The run driving the agent was stopped as Ctrl-C stops it.
    let out = run.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The stand-in was opened interactively, on the terminal, in the item's worktree, with the
    // session orx recorded.
    assert_eq!(
        s.logged("argv").as_deref(),
        Some(format!("--resume\n{SESSION}\n").as_str())
    );
    assert_eq!(s.logged("tty").as_deref(), Some("yes\n"), "{screen}");
    let worktree = s.repo.path().join(".worktrees").join(&id);
    assert_eq!(
        PathBuf::from(s.logged("cwd").unwrap().trim()),
        canonical(&worktree)
    );

    // The takeover is an attempt, with who did it; the run verified, committed and shipped it.
    let events = s.repo.events(&id);
    let started = events
        .iter()
        .find(|e| e["event"] == "attempt_started" && e["kind"] == "takeover")
        .unwrap_or_else(|| panic!("no takeover attempt in {events:?}"));
    assert_eq!(started["item"], "W001");
    let taken = events
        .iter()
        .find(|e| e["event"] == "taken_over")
        .expect("a taken_over event");
    assert_eq!(taken["by"], "ada-at-the-terminal");
    assert_eq!(taken["executor"], "claude");
    assert_eq!(taken["session"], SESSION);
    assert_eq!(taken["attempt"], started["attempt"]);
    assert_eq!(taken["changed"], true);
    let gate = events
        .iter()
        .find(|e| e["event"] == "gate_finished")
        .expect("the gate ran after the takeover");
    assert_eq!(gate["result"]["passed"], true, "{gate}");
    let state = s.repo.state(&id);
    assert_eq!(state["status"], "succeeded", "{state}");
    assert_eq!(state["items"][0]["status"], "done");
    let patch = s.repo.read(&id, "artifacts/patch.diff");
    assert!(
        patch.contains("by-hand.txt") && patch.contains("+written by hand"),
        "{patch}"
    );
}

#[test]
fn takeover_of_an_ended_run_opens_at_once_and_no_continue_leaves_it_at_verify() {
    let s = Setup::new();
    let (run, id) = s.start_run();
    s.wait_for_session(&id);
    // Stopped before the takeover: the run has ended (interrupted), nothing drives it.
    let cancelled = std::process::Command::new("kill")
        .args(["-INT", &run.id().to_string()])
        .status()
        .unwrap();
    assert!(cancelled.success());
    assert_eq!(run.wait_with_output().unwrap().status.code(), Some(130));
    assert_eq!(s.repo.state(&id)["status"], "interrupted");

    let (code, screen) = run_on_pty(s.cmd(&["takeover", &id, "--no-continue"]));
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("orx resume"), "{screen}");
    assert_eq!(
        s.logged("argv").as_deref(),
        Some(format!("--resume\n{SESSION}\n").as_str())
    );
    // Recorded and checkpointed at verify, not continued: no gate ran, nothing committed.
    let state = s.repo.state(&id);
    let item = &state["items"][0];
    assert_eq!(item["phase"]["phase"], "verify", "{state}");
    assert!(item["snapshot"].is_string(), "{state}");
    assert_eq!(state["status"], "interrupted");
    assert!(!s
        .repo
        .events(&id)
        .iter()
        .any(|e| e["event"] == "gate_finished"));

    // A plain resume goes on from verify with the hand-made file.
    let done = RunResult::from(s.cmd(&["resume", &id, "--no-progress"]).output().unwrap());
    done.expect_code(0);
    assert!(s
        .repo
        .read(&id, "artifacts/patch.diff")
        .contains("by-hand.txt"));
}

/// A fast-fix run on the fake engine whose one item got stuck: its gate needs a file no agent
/// writes.
fn stuck_fake_run() -> (Repo, String) {
    stuck_fake_run_with(&[])
}

fn stuck_fake_run_with(args: &[&str]) -> (Repo, String) {
    let config = config_with_gates(
        &[("by_hand", "test -f by-hand.txt")],
        "run:\n  max_fix_attempts: 1\n",
    );
    let scenario = format!(
        "implement:\n  W001: {}\nfix:\n  W001:\n    - {}\nreview: {}\nknowledge_update: {}\n",
        files_step(&[("a.txt", "first\n")]),
        files_step(&[("a.txt", "second\n")]),
        text_step(&approve("by hand")),
        files_step(&[(
            "AGENTS.md",
            "<!-- orx:begin -->\n- by hand\n<!-- orx:end -->\n"
        )])
    );
    let repo = Repo::new(&config, &scenario);
    let mut all = vec!["--pipeline", "fast-fix"];
    all.extend_from_slice(args);
    let r = repo.run("Say hello by hand", &all);
    r.expect_code(1);
    assert_eq!(repo.state(&r.id)["items"][0]["status"], "stuck");
    (repo, r.id)
}

/// A folder holding `shell`, a script running `body` (what the person does), which the fake
/// engine's takeover opens as `$SHELL`; the script's records go to the same folder.
fn person_shell(body: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let shell = dir.path().join("shell");
    let log = dir.path().display();
    std::fs::write(
        &shell,
        format!("#!/bin/sh\nprintf '%s\\n' \"$#\" > {log}/argc\npwd -P > {log}/cwd\n{body}\n"),
    )
    .unwrap();
    std::fs::set_permissions(&shell, std::fs::Permissions::from_mode(0o755)).unwrap();
    (dir, shell)
}

#[test]
fn a_stuck_fake_engine_item_is_taken_over_in_the_shell_and_the_run_succeeds() {
    let (repo, id) = stuck_fake_run();
    let (log, shell) = person_shell("echo 'written by hand' > by-hand.txt");
    let mut cmd = repo.cmd(&["takeover", &id, "--no-progress"]);
    cmd.env("SHELL", &shell).env("USER", "grace");
    let (code, screen) = run_on_pty(cmd);
    assert_eq!(code, 0, "{screen}");

    let read = |name: &str| std::fs::read_to_string(log.path().join(name)).unwrap();
    assert_eq!(read("argc"), "0\n", "the shell is opened without arguments");
    assert_eq!(
        PathBuf::from(read("cwd").trim()),
        canonical(&repo.path().join(".worktrees").join(&id))
    );
    let taken = repo
        .events(&id)
        .into_iter()
        .find(|e| e["event"] == "taken_over")
        .expect("a taken_over event");
    assert_eq!(taken["executor"], "fake");
    assert_eq!(taken["by"], "grace");
    assert!(taken["session"].is_null(), "{taken}");
    // Two judged attempts failed; the takeover is the third, and it passed.
    assert_eq!(taken["attempt"], 3);
    let state = repo.state(&id);
    assert_eq!(state["status"], "succeeded", "{state}");
    assert_eq!(state["items"][0]["attempts"], 3);
    let patch = repo.read(&id, "artifacts/patch.diff");
    assert!(patch.contains("+written by hand"), "{patch}");
}

#[test]
fn a_takeover_that_breaks_the_guardrails_is_not_snapshotted() {
    let (repo, id) = stuck_fake_run();
    let before = repo.state(&id)["items"][0]["snapshot"].clone();
    let (_log, shell) = person_shell("echo 'written by hand' > by-hand.txt; echo 'TOKEN=x' > .env");
    let mut cmd = repo.cmd(&["takeover", &id, "--no-progress"]);
    cmd.env("SHELL", &shell);
    let (code, screen) = run_on_pty(cmd);
    assert_eq!(code, 2, "{screen}");
    assert!(
        screen.contains("guardrails") && screen.contains(".env"),
        "{screen}"
    );
    // The attempt is the person's and stays open; nothing of it was snapshotted or verified.
    let state = repo.state(&id);
    let item = &state["items"][0];
    assert_eq!(item["phase"]["phase"], "agent", "{state}");
    assert_eq!(item["phase"]["attempt"], 3);
    assert_eq!(item["snapshot"], before);
    assert!(!repo.events(&id).iter().any(|e| e["event"] == "taken_over"));
}

/// An item worked in a parallel lane lives in the lane's worktree, which takeover does not
/// open: it refuses such a run with exit 2 before opening anything, and leaves it resumable.
#[test]
fn a_run_worked_in_parallel_lanes_is_refused_before_anything_opens() {
    let (repo, id) = stuck_fake_run_with(&["--parallel", "2"]);
    assert_eq!(repo.state(&id)["lanes_used"], true);
    let before = std::fs::read_to_string(repo.run_dir(&id).join("state.json")).unwrap();
    let (log, shell) = person_shell("echo 'written by hand' > by-hand.txt");
    let mut cmd = repo.cmd(&["takeover", &id, "--no-progress"]);
    cmd.env("SHELL", &shell);
    let (code, screen) = run_on_pty(cmd);
    assert_eq!(code, 2, "{screen}");
    assert!(screen.contains("parallel lanes"), "{screen}");
    assert!(!log.path().join("argc").exists(), "the shell was opened");
    let after = std::fs::read_to_string(repo.run_dir(&id).join("state.json")).unwrap();
    assert_eq!(before, after);
}
