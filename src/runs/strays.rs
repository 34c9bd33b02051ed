//! Processes that outlive their run's driver.
//!
//! The supervisor exports `ORX_RUN_ID` to every child, so a process whose environment names a
//! run that is not live (no folder, or nobody holds its lock) is a stray; it is only killed
//! when its working directory is inside this repository, so a clean in one repository never
//! touches another repository's runs.
//!
//! A run whose driver died ([`stop_leftovers`]) needs the same: a `kill -9`ed orx takes its
//! direct child with it (`PR_SET_PDEATHSIG`), but not what that child started, which keeps
//! working in the worktree. Whoever takes the run's lock next (resume, clean) stops them first:
//! holding the lock proves no orx drives the run, so every process of it is a leftover. Where
//! orx places children in cgroups (see `exec::tracking`), they are the run's cgroup; without
//! one, this scan of `/proc/*/environ` for `ORX_RUN_ID` is the only way left to find them, and
//! it stays for this after-crash path and for `clean --orphans`. The run's own git processes
//! (marked with `ORX_HELPER`, see `exec::helper`) are let finish rather than signalled, as in
//! the cgroup: git stopped halfway can leave a lock file behind.

use std::path::Path;

use std::time::{Duration, Instant};

use crate::exec::leftover_git::{note_waiting, HELPER_ENV};
use crate::exec::pidfd::{ProcessHandle, Signalled, HELPER_WAIT};
use crate::store::layout::is_valid_run_id;

/// Stop the processes a dead driver of run `id` left running (see the module doc). The caller
/// must hold the run's lock. Returns their pids.
pub fn stop_leftovers(root: &Path, id: &str) -> Vec<u32> {
    if crate::exec::tracking::tracking().mode == crate::exec::tracking::Mode::Cgroup {
        return crate::exec::tracking::stop_run(id);
    }
    kill_strays(root, &|other| other != id)
}

/// Kill processes whose environment names a run that `is_live` says is not live, and whose
/// working directory is inside `root`, after letting that run's git processes finish. Returns
/// their pids.
pub(super) fn kill_strays(root: &Path, is_live: &dyn Fn(&str) -> bool) -> Vec<u32> {
    kill_strays_within(root, is_live, HELPER_WAIT, &note_waiting)
}

fn kill_strays_within(
    root: &Path,
    is_live: &dyn Fn(&str) -> bool,
    helper_wait: Duration,
    on_wait: &dyn Fn(&str, &[i32]),
) -> Vec<u32> {
    let Ok(root) = std::fs::canonicalize(root) else {
        return Vec::new();
    };
    let me = std::process::id();
    let ancestors = ancestors(me);
    // The run's git processes, to let finish, and the rest, to stop.
    let mut helpers: Vec<(ProcessHandle, String)> = Vec::new();
    let mut others: Vec<ProcessHandle> = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if pid == me || ancestors.contains(&pid) {
            continue;
        }
        // The handle first, the checks after: whatever the checks read then belongs to the
        // process the handle names, or the signal below finds it gone.
        let Ok(Some(handle)) = ProcessHandle::open(pid) else {
            continue;
        };
        let Some((id, helper)) = run_of(pid) else {
            continue;
        };
        if !is_valid_run_id(&id) || is_live(&id) {
            continue;
        }
        let inside = std::fs::read_link(format!("/proc/{pid}/cwd"))
            .map(|cwd| cwd.starts_with(&root))
            .unwrap_or(false);
        if inside && helper {
            helpers.push((handle, id));
        } else if inside {
            others.push(handle);
        }
    }
    let mut pids: Vec<u32> = helpers.iter().map(|(h, _)| h.pid()).collect();
    pids.extend(others.iter().map(ProcessHandle::pid));
    let mut stopped: Vec<ProcessHandle> = others
        .into_iter()
        .filter(|h| matches!(h.signal(libc::SIGTERM), Ok(Signalled::Delivered)))
        .collect();
    // What outlived the wait is stopped as the rest is.
    stopped.extend(
        let_finish(helpers, helper_wait, on_wait)
            .into_iter()
            .filter(|h| matches!(h.signal(libc::SIGTERM), Ok(Signalled::Delivered))),
    );
    // A grace period each, shared: a stray that ignores SIGTERM is killed once it is over.
    let deadline = Instant::now() + crate::exec::pidfd::LEFTOVER_GRACE;
    for handle in &stopped {
        let left = deadline.saturating_duration_since(Instant::now());
        if !handle.wait_exit(left) {
            let _ = handle.signal(libc::SIGKILL);
        }
    }
    pids.sort_unstable();
    pids
}

/// Wait, at most `limit` in all, for the git processes `helpers` to end by themselves, after
/// telling `on_wait` which (per run); the ones still running after it.
fn let_finish(
    helpers: Vec<(ProcessHandle, String)>,
    limit: Duration,
    on_wait: &dyn Fn(&str, &[i32]),
) -> Vec<ProcessHandle> {
    let mut runs: Vec<&str> = helpers.iter().map(|(_, id)| id.as_str()).collect();
    runs.sort_unstable();
    runs.dedup();
    if !limit.is_zero() {
        for run in runs {
            let pids: Vec<i32> = helpers
                .iter()
                .filter(|(_, id)| id == run)
                .filter_map(|(h, _)| i32::try_from(h.pid()).ok())
                .collect();
            on_wait(run, &pids);
        }
    }
    let deadline = Instant::now() + limit;
    helpers
        .into_iter()
        .filter_map(|(h, _)| {
            let left = deadline.saturating_duration_since(Instant::now());
            (!h.wait_exit(left)).then_some(h)
        })
        .collect()
}

/// The run named by `ORX_RUN_ID` in a process's environment, and whether `ORX_HELPER` marks
/// it as one of that run's git processes.
fn run_of(pid: u32) -> Option<(String, bool)> {
    let env = crate::exec::tracking::read_environ(i32::try_from(pid).ok()?).ok()?;
    let mut id = None;
    let mut helper = false;
    for kv in env.split(|b| *b == 0) {
        if let Some(v) = kv.strip_prefix(b"ORX_RUN_ID=") {
            id = Some(String::from_utf8_lossy(v).into_owned());
        } else if kv.starts_with(HELPER_ENV.as_bytes()) && kv.get(HELPER_ENV.len()) == Some(&b'=') {
            helper = true;
        }
    }
    Some((id?, helper))
}

/// This process's ancestors (parent, grandparent, …), so a clean never kills its own caller.
fn ancestors(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut cur = pid;
    for _ in 0..64 {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{cur}/stat")) else {
            break;
        };
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            break;
        };
        let Some(ppid) = rest.split_whitespace().nth(1).and_then(|s| s.parse().ok()) else {
            break;
        };
        if ppid == 0 || out.contains(&ppid) {
            break;
        }
        out.push(ppid);
        cur = ppid;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strays_are_found_by_their_environment_and_killed() {
        let dir = tempfile::tempdir().unwrap();
        let id = "20200101-000000-abcdef";
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .current_dir(dir.path())
            .env("ORX_RUN_ID", id)
            .spawn()
            .unwrap();
        let pid = child.id();
        // Wait until /proc shows the environment (exec finished).
        crate::exec::wait_until("the child's exec", || run_of(pid).is_some());
        assert!(
            kill_strays(dir.path(), &|_| true).is_empty(),
            "live runs are spared"
        );
        let other = tempfile::tempdir().unwrap();
        assert!(
            kill_strays(other.path(), &|_| false).is_empty(),
            "other repos are spared"
        );
        assert_eq!(kill_strays(dir.path(), &|_| false), vec![pid]);
        let status = child.wait().unwrap();
        assert!(!status.success());
    }

    #[test]
    fn a_dead_runs_git_is_let_finish_while_its_other_strays_are_stopped() {
        use std::os::unix::process::ExitStatusExt;
        let dir = tempfile::tempdir().unwrap();
        let id = "20200101-000000-fedcba";
        let fifo = dir.path().join("go");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: mkfifo only reads the NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let start = |script: &str, helper: bool| {
            let mut cmd = std::process::Command::new("sh");
            cmd.args(["-c", script])
                .current_dir(dir.path())
                .env("ORX_RUN_ID", id);
            if helper {
                cmd.env(HELPER_ENV, "git");
            }
            cmd.spawn().unwrap()
        };
        let mut agent = start("exec sleep 1000", false);
        // Stands for git halfway through its work: it finishes once the fifo says so, and
        // would write down a SIGTERM if one came.
        let mut git = start(
            "trap 'echo TERM >> signals; exit 143' TERM; : > ready; read go < go; : > finished",
            true,
        );
        crate::exec::wait_until("both started", || {
            dir.path().join("ready").exists() && run_of(agent.id()).is_some()
        });
        let (tx, rx) = std::sync::mpsc::channel();
        let root = dir.path().to_path_buf();
        let stopper = std::thread::spawn(move || {
            let on_wait =
                move |run: &str, pids: &[i32]| tx.send((run.to_string(), pids.to_vec())).unwrap();
            kill_strays_within(&root, &|_| false, Duration::from_secs(600), &on_wait)
        });
        let (run, waited) = rx.recv().unwrap();
        assert_eq!(run, id);
        assert_eq!(waited, vec![i32::try_from(git.id()).unwrap()]);
        assert!(
            git.try_wait().unwrap().is_none(),
            "git was stopped, not let finish"
        );
        std::fs::write(&fifo, "go\n").unwrap();
        let mut ended = stopper.join().unwrap();
        ended.sort_unstable();
        let mut both = vec![agent.id(), git.id()];
        both.sort_unstable();
        assert_eq!(ended, both);
        assert_eq!(agent.wait().unwrap().signal(), Some(libc::SIGTERM));
        assert_eq!(git.wait().unwrap().code(), Some(0));
        assert!(dir.path().join("finished").exists());
        assert!(!dir.path().join("signals").exists(), "git got a signal");
    }
}
