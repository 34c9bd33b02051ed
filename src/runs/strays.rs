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
//! it stays for this after-crash path and for `clean --orphans`.

use std::path::Path;

use crate::exec::pidfd::{ProcessHandle, Signalled};
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
/// working directory is inside `root`. Returns their pids.
pub(super) fn kill_strays(root: &Path, is_live: &dyn Fn(&str) -> bool) -> Vec<u32> {
    let Ok(root) = std::fs::canonicalize(root) else {
        return Vec::new();
    };
    let me = std::process::id();
    let ancestors = ancestors(me);
    let mut killed: Vec<ProcessHandle> = Vec::new();
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
        let Some(id) = run_id_of(pid) else {
            continue;
        };
        if !is_valid_run_id(&id) || is_live(&id) {
            continue;
        }
        let inside = std::fs::read_link(format!("/proc/{pid}/cwd"))
            .map(|cwd| cwd.starts_with(&root))
            .unwrap_or(false);
        if !inside {
            continue;
        }
        if let Ok(Signalled::Delivered) = handle.signal(libc::SIGTERM) {
            killed.push(handle);
        }
    }
    // A grace period each, shared: a stray that ignores SIGTERM is killed once it is over.
    let deadline = std::time::Instant::now() + crate::exec::pidfd::LEFTOVER_GRACE;
    for handle in &killed {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if !handle.wait_exit(left) {
            let _ = handle.signal(libc::SIGKILL);
        }
    }
    killed.iter().map(ProcessHandle::pid).collect()
}

/// `ORX_RUN_ID` from a process's environment.
fn run_id_of(pid: u32) -> Option<String> {
    let env = crate::exec::tracking::read_environ(i32::try_from(pid).ok()?).ok()?;
    env.split(|b| *b == 0)
        .find_map(|kv| kv.strip_prefix(b"ORX_RUN_ID="))
        .map(|v| String::from_utf8_lossy(v).into_owned())
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
        crate::exec::wait_until("the child's exec", || run_id_of(pid).is_some());
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
}
