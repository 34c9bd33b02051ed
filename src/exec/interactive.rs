//! The one child orx hands the terminal to: an agent CLI (or a shell) a person works in, for
//! `orx takeover`.
//!
//! Everything [`super::run`] does for an agent is wrong for a person at a terminal: there the
//! child gets pipes, its own process group (so the terminal's Ctrl-C reaches orx only), and
//! timeouts. Here the child inherits stdin, stdout and stderr and stays in orx's process
//! group, which is the terminal's foreground group, so it reads keys and gets Ctrl-C itself;
//! no timeout bounds a person's work. While it runs, orx ignores SIGINT and SIGQUIT, as a
//! shell does for its foreground job (and `system(3)` for its child), so a Ctrl-C meant for
//! the agent does not end orx and with it the takeover; the child gets the default
//! dispositions back before it starts. `ORX_RUN_ID` is exported as for every child.

use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus};

use super::CommandSpec;

/// Run `spec` on the terminal orx was given and wait for it. Only `program`, `args`, `cwd`,
/// `env` and `run_id` of the spec apply. A spawn failure (program missing: `NotFound`) is the
/// only `Err`.
pub fn run_interactive(spec: &CommandSpec) -> std::io::Result<ExitStatus> {
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args).current_dir(&spec.cwd);
    for k in &spec.env_remove {
        cmd.env_remove(k);
    }
    cmd.envs(spec.env.iter().map(|(k, v)| (k, v)));
    if let Some(id) = &spec.run_id {
        cmd.env("ORX_RUN_ID", id);
    }
    // SAFETY: the closure runs between fork and exec and only calls `signal`, which is
    // async-signal-safe, to put back the default actions orx ignores below (an ignored
    // signal would stay ignored across exec).
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            libc::signal(libc::SIGQUIT, libc::SIG_DFL);
            Ok(())
        });
    }
    let _ignored = IgnoreTerminalSignals::new();
    cmd.spawn()?.wait()
}

/// SIGINT and SIGQUIT ignored by orx until dropped, then their previous actions restored.
struct IgnoreTerminalSignals {
    previous: [(libc::c_int, libc::sigaction); 2],
}

impl IgnoreTerminalSignals {
    fn new() -> Self {
        let ignore = |sig: libc::c_int| {
            // SAFETY: both structs are plain data, zeroed then filled; sigaction only reads
            // `new` and writes `old`, and ignoring a signal has no other precondition.
            unsafe {
                let mut new: libc::sigaction = std::mem::zeroed();
                new.sa_sigaction = libc::SIG_IGN;
                libc::sigemptyset(&mut new.sa_mask);
                let mut old: libc::sigaction = std::mem::zeroed();
                libc::sigaction(sig, &new, &mut old);
                (sig, old)
            }
        };
        IgnoreTerminalSignals {
            previous: [ignore(libc::SIGINT), ignore(libc::SIGQUIT)],
        }
    }
}

impl Drop for IgnoreTerminalSignals {
    fn drop(&mut self) {
        for (sig, old) in &self.previous {
            // SAFETY: `old` is the action sigaction itself returned for `sig` above.
            unsafe {
                libc::sigaction(*sig, old, std::ptr::null_mut());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// [`run_interactive`] ignores SIGINT and SIGQUIT in the whole process while its child
    /// runs, and an ignored signal stays ignored across exec: a child another test started in
    /// that moment (a `sleep` it then interrupts) would never get its SIGINT. So every case
    /// runs in a process of its own, this test binary started again on [`interactive_case`].
    const CASE_ENV: &str = "ORX_TEST_INTERACTIVE_CASE";

    /// Run `case` of [`interactive_case`] in a new process, in `dir`; its `case:` line.
    fn in_own_process(case: &str, dir: &Path) -> String {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "exec::interactive::tests::interactive_case",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CASE_ENV, case)
            .current_dir(dir)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        stdout
            .split("case: ")
            .nth(1)
            .and_then(|rest| rest.lines().next())
            .map(str::to_string)
            .unwrap_or_else(|| panic!("the case printed no result: {stdout}"))
    }

    #[test]
    #[ignore = "started by the tests below in a process of its own"]
    fn interactive_case() {
        let Ok(case) = std::env::var(CASE_ENV) else {
            return;
        };
        let here = std::env::current_dir().unwrap();
        let result = match case.as_str() {
            "status" => {
                let mut spec = CommandSpec::new("/bin/sh", &here);
                // The signals the child ignores, from the kernel's own account of it.
                spec.args = vec![
                    "-c".into(),
                    "echo \"$ORX_RUN_ID $WHO\" > seen; grep SigIgn /proc/$$/status > ignored; exit 3"
                        .into(),
                ];
                spec.env = vec![("WHO".into(), "me".into())];
                spec.run_id = Some("r1".into());
                format!("{:?}", run_interactive(&spec).unwrap().code())
            }
            "missing" => {
                let spec = CommandSpec::new("/nonexistent/orx-no-such-agent", "/");
                format!("{:?}", run_interactive(&spec).unwrap_err().kind())
            }
            other => panic!("no case {other}"),
        };
        println!("case: {result}");
    }

    #[test]
    fn the_child_runs_in_its_folder_with_its_env_and_reports_its_status() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(in_own_process("status", dir.path()), "Some(3)");
        let seen = std::fs::read_to_string(dir.path().join("seen")).unwrap();
        assert_eq!(seen, "r1 me\n");
        // orx ignores SIGINT and SIGQUIT while the child runs; the child has them back.
        let ignored = std::fs::read_to_string(dir.path().join("ignored")).unwrap();
        let mask =
            u64::from_str_radix(ignored.trim().trim_start_matches("SigIgn:").trim(), 16).unwrap();
        let bit = |sig: libc::c_int| 1u64 << (sig - 1);
        assert_eq!(
            mask & (bit(libc::SIGINT) | bit(libc::SIGQUIT)),
            0,
            "{ignored}"
        );
    }

    #[test]
    fn a_missing_program_is_not_found() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(in_own_process("missing", dir.path()), "NotFound");
    }
}
