//! Killing a child's whole process tree and reaping what is left, so no orphan or zombie
//! outlives a supervised run.
//!
//! Signalling the process group covers well-behaved descendants, but agent CLIs and test
//! runners start daemons that call `setsid` or double-fork out of the group. How those are
//! found depends on the process's tracking mode (see `tracking`):
//! - cgroup: the child's leaf cgroup holds every descendant, whatever group or session it
//!   moved to (`cgroup.rs`).
//! - subreaper: orx is a child subreaper (`PR_SET_CHILD_SUBREAPER`), so once the child has
//!   exited its descendants are orx's own children (`/proc/self/task/*/children`) or below
//!   them. An orphan in the child's process group is the call's; one outside it is claimed by
//!   the per-spawn marker `ORX_SPAWN_ID=<id>` in its environment (one read of that orphan,
//!   needed because orx may have other children: another call's, a launched run's). Each
//!   claimed orphan is killed with its descendants; round after round, what their deaths
//!   reparent to orx is claimed the same way.
//! - scan: every process's `/proc/<pid>/stat` (group members, zombies included) and
//!   `/proc/<pid>/environ` (the marker) is read.
//!
//! Each process killed is reaped with a targeted `waitpid(pid, WNOHANG)`, never
//! `waitpid(-1)`, which would steal the exit status of another supervised child.
//!
//! Known limit outside cgroup mode: a descendant that clears its environment *and* leaves the
//! group cannot be claimed; the supervisor's bounded wait on the output readers keeps such a
//! process from hanging orx, but it is not killed.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;
use std::time::{Duration, Instant};

use super::cgroup::Leaf;

static ENVIRON_READS: AtomicU64 = AtomicU64::new(0);

/// `/proc/<pid>/environ` of another process, counted.
pub(crate) fn read_environ(pid: i32) -> std::io::Result<Vec<u8>> {
    ENVIRON_READS.fetch_add(1, Ordering::Relaxed);
    std::fs::read(format!("/proc/{pid}/environ"))
}

/// How many other processes' environments this process has read so far.
pub fn environ_reads() -> u64 {
    ENVIRON_READS.load(Ordering::Relaxed)
}

/// How many scan-and-kill rounds to run at most (each round catches children forked by a
/// process between the previous scan and its death).
const MAX_ROUNDS: usize = 8;
/// How long to wait in total for killed strays to die and be reaped.
const REAP_WAIT: Duration = Duration::from_secs(2);

/// Make orx the reaper of orphaned descendants (once per process). Failure is logged, not
/// fatal: strays are still killed, they are just reaped by init instead of us.
pub(crate) fn become_subreaper() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: prctl with PR_SET_CHILD_SUBREAPER only reads its integer arguments.
        let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        if rc != 0 {
            tracing::warn!(
                "cannot make orx a child subreaper: {}; orphaned child processes are reaped by init",
                std::io::Error::last_os_error()
            );
        }
    });
}

/// Send `signal` to every process of group `pgid`. A group that no longer exists is fine.
pub(crate) fn signal_group(pgid: i32, signal: i32) {
    if pgid <= 1 {
        return; // never signal "every process" (-1) or our own group (0)
    }
    // SAFETY: kill has no memory-safety preconditions.
    unsafe {
        libc::kill(-pgid, signal);
    }
}

/// One process seen in `/proc`.
struct ProcEntry {
    pid: i32,
    zombie: bool,
}

/// `(state, pgrp)` from `/proc/<pid>/stat`.
fn read_stat(pid: i32) -> Option<(u8, i32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may itself contain ") ", so cut at the last one.
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = *fields.next()?.as_bytes().first()?;
    let _ppid = fields.next()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some((state, pgrp))
}

/// Whether `/proc/<pid>/environ` holds exactly the entry `needle` (`ORX_SPAWN_ID=...`).
fn has_marker(pid: i32, needle: &[u8]) -> bool {
    match read_environ(pid) {
        Ok(env) => env.split(|b| *b == 0).any(|entry| entry == needle),
        Err(_) => false, // another user's process, or gone: not ours
    }
}

/// Every process except `exclude` that belongs to group `pgid` or carries `marker`.
fn scan(pgid: i32, marker: &[u8], exclude: &[i32]) -> Vec<ProcEntry> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if exclude.contains(&pid) {
            continue;
        }
        let Some((state, pgrp)) = read_stat(pid) else {
            continue;
        };
        let zombie = state == b'Z' || state == b'X';
        if pgrp == pgid || (!zombie && has_marker(pid, marker)) {
            found.push(ProcEntry { pid, zombie });
        }
    }
    found
}

/// Where the leftovers of one child are looked for.
pub(crate) enum Finder<'a> {
    Cgroup(&'a Leaf),
    Subreaper,
    Scan,
}

/// After the direct child `child_pid` has exited (but before it is reaped, so its pid and
/// group id cannot be reused), kill everything left of its tree and reap what became ours.
/// `direct` are the direct children of the other calls running now, never looked at.
/// Returns how many live descendants were killed.
pub(crate) fn kill_remaining(
    pgid: i32,
    child_pid: i32,
    marker: &str,
    finder: Finder,
    direct: &[i32],
) -> u32 {
    match finder {
        Finder::Cgroup(leaf) => {
            signal_group(pgid, libc::SIGKILL);
            let mut seen = leaf.kill_all(child_pid);
            let killed = seen.len();
            // The dead are no longer listed in the cgroup; those that became ours (their
            // parent died first) are reaped here.
            for c in children_of("self") {
                if c == child_pid || direct.contains(&c) || seen.contains(&c) {
                    continue;
                }
                if read_stat(c)
                    .is_some_and(|(s, pgrp)| is_zombie(s) && (pgrp == pgid || leaf.holds(c)))
                {
                    seen.insert(c);
                }
            }
            if killed > 0 {
                tracing::debug!("killed {killed} leftover process(es) of child {child_pid}");
            }
            reap_all(&seen);
            u32::try_from(killed).unwrap_or(u32::MAX)
        }
        Finder::Subreaper => kill_orphans(pgid, child_pid, marker, direct),
        Finder::Scan => kill_by_scan(pgid, child_pid, marker),
    }
}

/// Whether orx is (or just became) a child subreaper and the kernel lists its children.
pub(crate) fn subreaper_ready() -> Result<(), String> {
    become_subreaper();
    let mut on: libc::c_int = 0;
    // SAFETY: PR_GET_CHILD_SUBREAPER writes one int through the pointer, a valid local.
    let rc = unsafe { libc::prctl(libc::PR_GET_CHILD_SUBREAPER, &mut on as *mut libc::c_int) };
    if rc != 0 || on == 0 {
        return Err("PR_SET_CHILD_SUBREAPER is refused".into());
    }
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() };
    std::fs::metadata(format!("/proc/self/task/{tid}/children"))
        .map(drop)
        .map_err(|e| format!("the kernel does not list children (/proc/.../children: {e})"))
}

/// The pids in `/proc/<pid>/task/*/children` (`pid` "self" for orx).
fn children_of(pid: &str) -> Vec<i32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for task in tasks.flatten() {
        if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
            out.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<i32>().ok()),
            );
        }
    }
    out
}

/// `pid` and everything below it, parents before children.
fn subtree(pid: i32) -> Vec<i32> {
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() && out.len() < 100_000 {
        for p in children_of(&out[i].to_string()) {
            if !out.contains(&p) {
                out.push(p);
            }
        }
        i += 1;
    }
    out
}

fn is_zombie(state: u8) -> bool {
    state == b'Z' || state == b'X'
}

/// Subreaper mode: kill the group, then claim orphans among orx's children (see the module
/// doc) until a round finds none.
fn kill_orphans(pgid: i32, child_pid: i32, marker: &str, direct: &[i32]) -> u32 {
    signal_group(pgid, libc::SIGKILL);
    let needle = marker.as_bytes();
    let mut seen = BTreeSet::new();
    let mut killed = 0u32;
    for _ in 0..MAX_ROUNDS {
        let mut fresh = Vec::new();
        for c in children_of("self") {
            if c == child_pid || direct.contains(&c) || seen.contains(&c) {
                continue;
            }
            let Some((state, pgrp)) = read_stat(c) else {
                continue;
            };
            // A child orx started some other way (git, a launched run) is neither: left alone,
            // and so is its exit status.
            if pgrp == pgid || (!is_zombie(state) && has_marker(c, needle)) {
                fresh.extend(subtree(c));
            }
        }
        fresh.retain(|p| !seen.contains(p));
        if fresh.is_empty() {
            break;
        }
        for &p in &fresh {
            seen.insert(p);
            if read_stat(p).is_some_and(|(state, _)| !is_zombie(state)) {
                // SAFETY: kill has no memory-safety preconditions.
                unsafe {
                    libc::kill(p, libc::SIGKILL);
                }
                killed += 1;
            }
        }
        // Their children become ours as they die: wait for that before the next round.
        let deadline = Instant::now() + REAP_WAIT;
        while fresh
            .iter()
            .any(|&p| read_stat(p).is_some_and(|(state, _)| !is_zombie(state)))
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    if killed > 0 {
        tracing::debug!("killed {killed} leftover process(es) of child {child_pid}");
    }
    reap_all(&seen);
    killed
}

/// Scan mode: read every process's stat and environment, round after round.
fn kill_by_scan(pgid: i32, child_pid: i32, marker: &str) -> u32 {
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() };
    let exclude = [me, child_pid];
    let needle = marker.as_bytes();
    let mut seen = BTreeSet::new();
    let mut killed = 0u32;
    for round in 0..MAX_ROUNDS {
        let found = scan(pgid, needle, &exclude);
        if round == 0 {
            signal_group(pgid, libc::SIGKILL);
        }
        let mut new = 0;
        for p in found {
            if !p.zombie {
                // SAFETY: kill has no memory-safety preconditions.
                unsafe {
                    libc::kill(p.pid, libc::SIGKILL);
                }
            }
            if seen.insert(p.pid) {
                new += 1;
                if !p.zombie {
                    killed += 1;
                }
            }
        }
        if new == 0 {
            break;
        }
    }
    if killed > 0 {
        tracing::debug!("killed {killed} leftover process(es) of child {child_pid}");
    }
    reap_all(&seen);
    killed
}

/// Reap each pid in `pids` that is (or is about to become) our child, waiting at most
/// [`REAP_WAIT`] in total.
fn reap_all(pids: &BTreeSet<i32>) {
    let deadline = Instant::now() + REAP_WAIT;
    let mut pending: Vec<i32> = pids.iter().copied().collect();
    while !pending.is_empty() {
        pending.retain(|&pid| !reap_one(pid));
        if pending.is_empty() || Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    if !pending.is_empty() {
        tracing::debug!("leftover processes not reaped in time: {pending:?}");
    }
}

/// One non-blocking attempt; true when `pid` needs no more attention.
fn reap_one(pid: i32) -> bool {
    let mut status = 0;
    // SAFETY: waitpid writes only to `status`, a valid local.
    let rc = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
    if rc == pid {
        return true;
    }
    if rc == 0 {
        return false; // our child, not dead yet
    }
    // ECHILD: not our child (yet). It may still be reparented to us when its killed parent
    // finishes dying, so it only needs no more attention once it is gone.
    !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;
    use std::process::Command;

    #[test]
    fn stat_parsing_survives_odd_command_names() {
        // A command name containing ") " must not shift the fields.
        let dir = tempfile::tempdir().unwrap();
        let odd = dir.path().join("we) ird");
        // A symlink, not a copy: exec'ing a freshly written file races with other tests'
        // forks (ETXTBSY).
        std::os::unix::fs::symlink("/bin/sleep", &odd).unwrap();
        let mut child = Command::new(&odd)
            .arg("1000")
            .process_group(0)
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        // Until the exec is done, the name is still the test binary's.
        crate::exec::wait_until("the condition", || {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "we) ird")
        });
        let (state, pgrp) = read_stat(pid).unwrap();
        assert!(b"RSD".contains(&state), "state {}", state as char);
        assert_eq!(pgrp, pid);
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(read_stat(pid), None);
    }

    #[test]
    fn a_scan_kills_marked_processes_outside_the_group_and_reaps_them() {
        kills_marked_processes_outside_the_group(Finder::Scan);
    }

    #[test]
    fn the_subreaper_kills_marked_orphans_outside_the_group_and_reaps_them() {
        subreaper_ready().unwrap();
        kills_marked_processes_outside_the_group(Finder::Subreaper);
    }

    fn kills_marked_processes_outside_the_group(finder: Finder) {
        become_subreaper();
        let marker = format!(
            "ORX_SPAWN_ID=reap-test-{}-{}",
            std::process::id(),
            matches!(finder, Finder::Scan)
        );
        let value = marker.trim_start_matches("ORX_SPAWN_ID=").to_string();
        // A process in its own group carrying the marker, and one in a second group.
        let marked = || {
            Command::new("sleep")
                .arg("1000")
                .env("ORX_SPAWN_ID", &value)
                .process_group(0)
                .spawn()
                .unwrap()
        };
        let mut leader = marked();
        let mut other = marked();
        let unrelated = Command::new("sleep").arg("1000").spawn().unwrap();
        let (lpid, opid) = (leader.id() as i32, other.id() as i32);
        // Until exec is done, /proc shows the test binary's environment, not the marker.
        crate::exec::wait_until("both markers", || {
            has_marker(lpid, marker.as_bytes()) && has_marker(opid, marker.as_bytes())
        });
        signal_group(lpid, libc::SIGKILL);
        // The leader is dead (a zombie) before the scan, so only `other` is live.
        crate::exec::wait_until("the zombie", || {
            read_stat(lpid).is_some_and(|(state, _)| state == b'Z')
        });
        let killed = kill_remaining(lpid, lpid, &marker, finder, &[]);
        assert_eq!(
            killed, 1,
            "only the marked process outside the group is live"
        );
        // `other` was reaped by kill_remaining: waiting on it again fails with ECHILD.
        let err = other.wait().unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ECHILD), "pid {opid}");
        assert!(leader.wait().is_ok());
        let mut unrelated = unrelated;
        assert!(
            unrelated.try_wait().unwrap().is_none(),
            "unmarked process untouched"
        );
        unrelated.kill().unwrap();
        unrelated.wait().unwrap();
    }
}
