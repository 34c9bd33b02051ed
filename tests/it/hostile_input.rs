//! Hostile input through the whole agent path: a "Claude" that prints one 100 MiB
//! line with no newline. The line goes through the real supervisor (pipe, line splitter,
//! byte-bounded queue, log file) and the real Claude stream parser inside a real `orx run`,
//! and the orx process's peak memory is read from the kernel (`wait4`'s `ru_maxrss`, for that
//! one child), so nothing else in the test binary can blur it.
//!
//! The supervisor's own 1 GiB flood test (`exec::supervisor`) measures the line splitter alone;
//! this one adds the parser, the run's log redaction and the event stream on top.

use std::process::Stdio;

use crate::support::*;

/// 100 MiB: far beyond the 8 MiB line cap, so a line held whole would show in the peak RSS.
const LINE: u64 = 100 * 1024 * 1024;
/// What the orx process may reach at its peak: the 8 MiB line cap, the queue and the parser's
/// copy of one capped line fit many times over; a line held whole would not.
const MAX_RSS_MIB: i64 = 64;

#[test]
#[allow(clippy::zombie_processes)] // the child is reaped with wait4, which Child cannot do
fn a_100_mib_line_from_an_agent_keeps_orx_memory_bounded_and_fails_the_call_cleanly() {
    let repo = Repo::new("", "");
    let bin = repo.path().join("fake-claude");
    // The line opens like a real assistant message, so the parser tries to read it as JSON.
    std::fs::write(
        &bin,
        format!(
            "#!/bin/sh\ncat >/dev/null\nprintf '{{\"type\":\"assistant\",\"message\":{{\"content\":[{{\"type\":\"text\",\"text\":\"'\nhead -c {LINE} /dev/zero | tr '\\0' a\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&bin, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::write(
        repo.path().join("orx.yaml"),
        format!(
            "version: \"1\"\nengine:\n  type: claude\nexecutors:\n  claude:\n    bin: {}\ngit:\n  base_branch: main\n",
            bin.display()
        ),
    )
    .unwrap();

    let child = repo
        .cmd(&["run", "plan it", "--pipeline", "plan-only", "--no-progress"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    // Drain both pipes on threads so orx never blocks on them, then reap it with wait4 for
    // its own resource usage.
    let (mut out, mut err) = (child.stdout.unwrap(), child.stderr.unwrap());
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut out, &mut s).ok();
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut err, &mut s).ok();
        s
    });
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to fill.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our own unreaped child; status and usage are valid out-pointers.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(rc, pid, "wait4: {}", std::io::Error::last_os_error());
    let r = RunResult::from(std::process::Output {
        status: std::os::unix::process::ExitStatusExt::from_raw(status),
        stdout: t_out.join().unwrap().into_bytes(),
        stderr: t_err.join().unwrap().into_bytes(),
    });

    let peak_mib = usage.ru_maxrss / 1024;
    eprintln!(
        "orx peak RSS with a {} MiB line: {peak_mib} MiB",
        LINE >> 20
    );
    assert!(
        peak_mib < MAX_RSS_MIB,
        "orx peaked at {peak_mib} MiB for one {} MiB line",
        LINE >> 20
    );

    // The call failed as recorded state (no result line), not as an orx crash.
    r.expect_code(1);
    let state = repo.state(&r.id);
    assert_eq!(state["status"], "failed", "{state}");
    assert_eq!(state["last_failure"]["reason"], "no_result", "{state}");
    // The parser saw the capped line (and could not read it as JSON): it reached the parser.
    let message = state["last_failure"]["message"].as_str().unwrap_or("");
    assert!(message.contains("(1 unparsed line"), "{message}");
    // The log kept what the run's redaction lets through: the line cut at the cap, marked.
    let logs = repo.run_dir(&r.id).join("logs");
    let log = std::fs::read_dir(&logs)
        .unwrap()
        .flatten()
        .find(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.starts_with("agent_plan") && n.ends_with(".jsonl")
        })
        .map(|e| e.path())
        .expect("the agent's stdout log");
    let len = std::fs::metadata(&log).unwrap().len();
    assert!(
        len > 1024 * 1024 && len < LINE,
        "log of {len} bytes for a {LINE}-byte line"
    );
    let bytes = std::fs::read(&log).unwrap();
    assert!(bytes.ends_with(b"aaaa [orx: line truncated]\n"));
}
