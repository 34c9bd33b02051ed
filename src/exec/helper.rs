//! The run's own git processes, placed with the run's other processes.
//!
//! git is not supervised like an agent: it is short, orx waits for it to finish, and it is
//! never interrupted halfway (its own process group keeps the terminal's Ctrl-C away, and it
//! gets no parent-death signal), because git stopped in the middle of a ref update leaves the
//! ref's `.lock` file behind, and every later update of that ref is refused. That holds for
//! SIGTERM too: git removes its lock files on it, but not in every window (4 of 300 SIGTERMs
//! sent to a `git worktree add` at random instants left a lock behind, one of them the
//! repository-wide `packed-refs.lock`). But a `kill -9` of orx does not wait for it: a `git
//! push` and the remote's `receive-pack` it started keep running, and a resume that pushes at
//! once meets the remote branch locked by them ("failed to update ref"), while a resume that
//! clears the run's stale lock files takes away a lock a live git still holds. So a git
//! process of a run is marked as the run's helper, and the next resume or clean finds it with
//! everything it started and waits for it to finish ([`super::pidfd::HELPER_WAIT`], saying so
//! on stderr) before touching the run. In cgroup mode it starts in a leaf of the run's cgroup
//! named as a helper's (born there with `clone3(CLONE_INTO_CGROUP)` where the kernel allows
//! it, else moving itself in before exec, as the supervisor's children do); in the other modes
//! the caller runs git itself with `ORX_RUN_ID` and [`HELPER_ENV`] in its environment, which
//! the `/proc` scan after a crash looks for.
//!
//! After git exits its leaf is removed if empty; something git left running in the
//! background (its detached maintenance) is left to finish, and the run's next resume or
//! clean waits for it in the same way.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use super::cgroup::Leaf;
use super::clone_spawn::{self, Plan};
use super::supervisor::{clone_into_cgroup_failed, clone_into_cgroup_works, next_spawn_id, reap};
use super::tracking::{self, Mode};

pub use super::leftover_git::HELPER_ENV;

/// What a finished helper left: its exit code (`None` when a signal ended it) and its output.
#[derive(Debug)]
pub struct HelperOutput {
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Run `cmd` to its end inside a leaf of run `run_id`'s cgroup, with `input` on its stdin, and
/// collect its output. `None` when this process has no cgroup to place it in (not cgroup
/// mode, or the leaf cannot be made): the caller then runs `cmd` itself. The child is born in
/// the leaf where the kernel allows it; elsewhere it moves itself in between fork and exec,
/// as the supervisor's children do. Either way it is inside before git runs, it gets no
/// parent-death signal, and stdout and stderr are piped. The environment is this process's
/// with `cmd`'s changes on top (a `cmd` that cleared its environment is not carried over).
pub fn output_in_run(
    cmd: &mut Command,
    run_id: &str,
    input: Option<Vec<u8>>,
) -> Option<io::Result<HelperOutput>> {
    if tracking::tracking().mode != Mode::Cgroup {
        return None;
    }
    let base = tracking::tracking().cgroup.clone()?;
    let leaf = Leaf::for_helper(&base, run_id, &next_spawn_id()).ok()?;
    let out = match born_inside(cmd, &leaf, input.as_deref()) {
        Some(out) => out,
        None => moved_inside(cmd, &leaf, input),
    };
    leaf.release();
    Some(out)
}

/// Start `cmd` with `clone3(CLONE_INTO_CGROUP)` into `leaf`; `None` when the kernel refuses.
fn born_inside(
    cmd: &Command,
    leaf: &Leaf,
    input: Option<&[u8]>,
) -> Option<io::Result<HelperOutput>> {
    if !clone_into_cgroup_works() {
        return None;
    }
    let dir = leaf.open_dir().ok()?;
    let cwd = match cmd.get_current_dir() {
        Some(dir) => dir.to_path_buf(),
        None => std::env::current_dir().ok()?,
    };
    let plan = Plan {
        program: cmd.get_program().to_str()?,
        args: cmd.get_args().collect(),
        cwd: &cwd,
        env: whole_env(cmd),
        stdin_piped: input.is_some(),
        death_signal: None,
    };
    match clone_spawn::spawn(&plan, &dir) {
        Ok(Ok(spawned)) => Some(collect(spawned, input.map(<[u8]>::to_vec))),
        Ok(Err(e)) => Some(Err(e)),
        Err(clone_spawn::Unsupported(e)) => {
            clone_into_cgroup_failed(&e);
            None
        }
    }
}

/// Start `cmd` with the standard library, the child writing itself into `leaf` before exec.
fn moved_inside(
    cmd: &mut Command,
    leaf: &Leaf,
    input: Option<Vec<u8>>,
) -> io::Result<HelperOutput> {
    if let Some(fd) = leaf.procs_fd() {
        // SAFETY: the closure runs between fork and exec and only writes to a descriptor
        // opened before the fork (async-signal-safe); it allocates nothing and takes no lock.
        unsafe {
            cmd.pre_exec(move || {
                // A failure leaves git where orx is: it still runs, only untracked.
                libc::write(fd, b"0".as_ptr().cast(), 1);
                Ok(())
            });
        }
    }
    output(cmd, input)
}

/// Run `cmd` to its end with `input` on its stdin (else `/dev/null`), stdout and stderr piped,
/// and collect its output: the standard library's spawn, wherever `cmd` puts the child.
pub fn output(cmd: &mut Command, input: Option<Vec<u8>>) -> io::Result<HelperOutput> {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = cmd.spawn()?;
    let feeder = feed(child.stdin.take(), input);
    let out = child.wait_with_output()?;
    if let Some(f) = feeder {
        let _ = f.join();
    }
    Ok(HelperOutput {
        code: out.status.code(),
        stdout: out.stdout,
        stderr: out.stderr,
    })
}

/// Write `input` to the child's stdin from a thread, so a chatty child cannot deadlock on a
/// full pipe; the pipe closes when the input is written.
fn feed<W: Write + Send + 'static>(
    pipe: Option<W>,
    input: Option<Vec<u8>>,
) -> Option<std::thread::JoinHandle<()>> {
    match (pipe, input) {
        (Some(mut pipe), Some(input)) => Some(std::thread::spawn(move || {
            // A write error means the child exited early; its exit status tells the story.
            let _ = pipe.write_all(&input);
        })),
        _ => None,
    }
}

/// The environment `cmd` would give its child: this process's, with `cmd`'s changes on top.
fn whole_env(cmd: &Command) -> Vec<(OsString, OsString)> {
    let mut env: std::collections::BTreeMap<OsString, OsString> = std::env::vars_os().collect();
    for (key, value) in cmd.get_envs() {
        match value {
            Some(v) => env.insert(key.to_owned(), v.to_owned()),
            None => env.remove(key),
        };
    }
    env.into_iter().collect()
}

/// Feed `input`, read stdout here and stderr on a thread (so neither pipe can fill and stall
/// the child), then reap it.
fn collect(child: clone_spawn::Spawned, input: Option<Vec<u8>>) -> io::Result<HelperOutput> {
    let feeder = feed(child.stdin, input);
    let mut stderr_pipe: File = child.stderr;
    let stderr = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr_pipe.read_to_end(&mut buf);
        buf
    });
    let mut stdout = Vec::new();
    let mut stdout_pipe = child.stdout;
    let read = stdout_pipe.read_to_end(&mut stdout);
    // The reader threads only read into their own buffers and never panic.
    let stderr = stderr.join().unwrap_or_default();
    if let Some(f) = feeder {
        let _ = f.join();
    }
    let status = reap(child.pid);
    read?;
    let status = status.ok_or_else(|| io::Error::other("the child could not be reaped"))?;
    Ok(HelperOutput {
        code: status.code(),
        stdout,
        stderr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_helper_runs_in_a_leaf_of_its_run_with_its_input_output_and_exit_code() {
        let run = format!("20200101-000000-h{:05}", std::process::id() % 100_000);
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new("sh");
        cmd.args([
            "-c",
            "grep '^0::' /proc/self/cgroup; pwd; echo \"$ONLY_HERE\"; cat; echo oops >&2; exit 3",
        ])
        .current_dir(dir.path())
        .env("ONLY_HERE", "yes")
        .env_remove("HOME");
        let Some(out) = output_in_run(&mut cmd, &run, Some(b"from stdin\n".to_vec())) else {
            // No cgroup mode here: the caller runs the command itself, nothing to check.
            assert_ne!(tracking::tracking().mode, Mode::Cgroup);
            return;
        };
        let out = out.unwrap();
        assert_eq!(out.code, Some(3));
        let text = String::from_utf8(out.stdout).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].contains(&format!("/orx-run-{run}/")),
            "not in the run's cgroup: {text}"
        );
        let cwd = dir.path().canonicalize().unwrap();
        assert_eq!(lines[1..], [cwd.to_str().unwrap(), "yes", "from stdin"]);
        assert_eq!(out.stderr, b"oops\n");
        // The leaf and the run's cgroup are gone once the helper has exited.
        let base = tracking::tracking().cgroup.clone().unwrap();
        assert!(!base.join(format!("orx-run-{run}")).exists());
    }

    #[test]
    fn where_the_kernel_refuses_the_clone_the_helper_moves_itself_into_its_leaf() {
        let Some(base) = tracking::tracking().cgroup.clone() else {
            return;
        };
        let run = format!("20200101-000000-m{:05}", std::process::id() % 100_000);
        let leaf = Leaf::for_helper(&base, &run, "moved").unwrap();
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "grep '^0::' /proc/self/cgroup; cat"]);
        let out = moved_inside(&mut cmd, &leaf, Some(b"in\n".to_vec())).unwrap();
        leaf.release();
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.starts_with("0::") && text.contains(&format!("/orx-run-{run}/git-moved\n")),
            "{text}"
        );
        assert!(text.ends_with("in\n"), "{text}");
        assert_eq!(out.code, Some(0));
        assert!(!base.join(format!("orx-run-{run}")).exists());
    }

    #[test]
    fn a_missing_program_is_a_not_found_error() {
        let mut cmd = Command::new("orx-no-such-program-anywhere");
        let Some(out) = output_in_run(&mut cmd, "20200101-000000-missin", None) else {
            assert_ne!(tracking::tracking().mode, Mode::Cgroup);
            return;
        };
        assert_eq!(out.unwrap_err().kind(), io::ErrorKind::NotFound);
    }
}
