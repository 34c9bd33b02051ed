//! Spawning a child and the supervision loop that runs on the calling thread.
//!
//! The loop owns every decision about the child: it pops line batches from the reader
//! threads and hands them to the callback, and between batches it checks the wall and idle
//! deadlines, the interrupt flag and the callback's verdict. While the child is silent the loop
//! sleeps until something needs it, not on a timer: the next line, the child's exit (a thread
//! blocked on the child's pidfd wakes the queue, [`super::exit_watch`]), an interrupt (the
//! signal handling wakes every waiting loop, [`super::signals`]) or the nearest deadline, with a
//! 1 s bound as a safety net. An agent thinking for ten minutes costs a few hundred wake-ups,
//! not twelve thousand. Without a pidfd the loop probes every 50 ms, as it must. Exit is
//! confirmed with `waitid(WNOWAIT)`, and once both pipes are closed the loop blocks on the
//! pidfd itself; both leave the child a zombie until the tree cleanup is done: while the zombie
//! exists its pid, and therefore its process group id, cannot be reused, so signalling `-pgid`
//! can never hit an unrelated group. Only then is the child reaped. The interrupt check is a
//! parameter so tests can drive it without touching the process-wide flag (such a check is
//! seen at the next wake-up, within the safety net's second).

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::cgroup::Leaf;
use super::clone_spawn;
use super::exit_watch::{exited_without_reaping, ExitWatch};
use super::reap::{become_subreaper, kill_remaining, signal_group, Finder};
use super::signals::{
    live_groups, register_group, register_waiting, unregister_group, unregister_waiting,
};
use super::stream::{lock, spawn_reader, Batch, LineQueue, Pop, ReaderShared, StreamStats};
use super::tracking::{self, Mode};
use super::{CommandSpec, Control, ExitInfo, Output, StreamKind, Termination};

/// Total bytes of lines waiting for the callback before readers block.
const QUEUE_BYTES: usize = 16 * 1024 * 1024;
/// How often the loop probes the child and the interrupt check when it cannot be woken by the
/// exit itself (no pidfd), and the least time between exit checks while lines keep coming.
const POLL: Duration = Duration::from_millis(50);
/// Longest the loop sleeps when the exit and interrupts wake it: the safety net for a wake-up
/// that never comes, not a schedule.
const SAFETY_TICK: Duration = Duration::from_secs(1);
/// After the child is gone: how long readers still reading a pipe (held open by a process we
/// could not find) may make no progress before we stop waiting. Readers already at
/// end-of-file are only finishing their last lines and are always waited for.
const READER_IDLE_LIMIT: Duration = Duration::from_secs(2);
/// After the child is gone: the most we wait for readers still reading a pipe.
const READER_HARD_LIMIT: Duration = Duration::from_secs(10);

/// A unique value for `ORX_SPAWN_ID`: our pid, a counter and the clock.
pub(super) fn next_spawn_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{}-{n}-{nanos}", std::process::id())
}

fn open_log(path: Option<&Path>) -> io::Result<Option<(File, std::path::PathBuf)>> {
    let Some(path) = path else {
        return Ok(None);
    };
    let fail = |e: io::Error| {
        io::Error::new(
            e.kind(),
            format!("cannot open log file {}: {e}", path.display()),
        )
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(fail)?;
    }
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(fail)?;
    Ok(Some((file, path.to_path_buf())))
}

/// The spawned child; dropping it without [`Supervised::finish`] (early error, panic in the
/// callback) still kills and reaps the whole tree.
struct Supervised {
    pid: i32,
    marker: String,
    /// The child's cgroup (cgroup mode), else how its leftovers are found.
    leaf: Option<Leaf>,
    mode: Mode,
    /// The child's exit as an event the loop can block on.
    exit: ExitWatch,
    done: bool,
}

impl Supervised {
    /// Kill what is left of the tree, then reap the child. The child must already have exited
    /// unless `force` is set, in which case it is SIGKILLed first.
    fn finish(&mut self, force: bool) -> (Option<ExitStatus>, u32) {
        self.done = true;
        if force {
            signal_group(self.pid, libc::SIGKILL);
            self.exit.wait(Duration::from_secs(5));
        }
        let finder = match (&self.leaf, self.mode) {
            (Some(leaf), _) => Finder::Cgroup(leaf),
            (None, Mode::Scan) => Finder::Scan,
            (None, _) => Finder::Subreaper,
        };
        let strays = kill_remaining(self.pid, self.pid, &self.marker, finder, &live_groups());
        let status = reap(self.pid);
        unregister_group(self.pid);
        if let Some(leaf) = &self.leaf {
            leaf.remove();
        }
        (status, strays)
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        if !self.done {
            self.finish(true);
        }
    }
}

/// Releases the readers if the loop is left early (a panicking callback, an error), so they
/// never stay blocked on a full queue nobody drains.
struct ConsumerGuard(Arc<LineQueue>);

impl Drop for ConsumerGuard {
    fn drop(&mut self) {
        self.0.close_consumer();
    }
}

/// Keeps a loop's queue registered for interrupt wake-ups while the loop runs.
struct Waiting(Arc<LineQueue>);

impl Waiting {
    fn register(queue: &Arc<LineQueue>) -> Waiting {
        register_waiting(queue);
        Waiting(Arc::clone(queue))
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        unregister_waiting(&self.0);
    }
}

#[cfg(test)]
thread_local! {
    /// The supervision loop's wake-ups on this thread, for the tests that count them.
    static WAKES: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// How long the loop may sleep from now: until the nearest deadline (the wall timeout, the
/// idle timeout, the end of the grace period), `tick` at most.
fn next_wake(
    spec: &CommandSpec,
    start: Instant,
    last_byte: &AtomicU64,
    stopping: Option<&Stopping>,
    tick: Duration,
) -> Duration {
    let running = start.elapsed();
    match stopping {
        None => {
            let silent =
                running.saturating_sub(Duration::from_nanos(last_byte.load(Ordering::Relaxed)));
            let wall = spec.wall_timeout.map(|t| t.saturating_sub(running));
            let idle = spec.idle_timeout.map(|t| t.saturating_sub(silent));
            [wall, idle].into_iter().flatten().fold(tick, Duration::min)
        }
        Some(s) if !s.killed => spec.grace.saturating_sub(s.term_sent.elapsed()).min(tick),
        Some(_) => tick,
    }
}

/// How the loop is currently treating the child.
struct Stopping {
    reason: Termination,
    term_sent: Instant,
    killed: bool,
}

/// [`super::run`] with the interrupt check injected.
pub(crate) fn run_with(
    spec: &CommandSpec,
    out: &mut dyn Output,
    interrupted: &dyn Fn() -> bool,
) -> io::Result<ExitInfo> {
    run_in(spec, out, interrupted, tracking::mode())
}

/// [`run_with`] with a plain line callback.
#[cfg(test)]
fn run_lines(
    spec: &CommandSpec,
    on_line: &mut dyn FnMut(StreamKind, &str) -> Control,
    interrupted: &dyn Fn() -> bool,
) -> io::Result<ExitInfo> {
    run_with(spec, &mut super::Lines(on_line), interrupted)
}

/// [`run_with`] finding leftovers in the given mode.
fn run_in(
    spec: &CommandSpec,
    out: &mut dyn Output,
    interrupted: &dyn Fn() -> bool,
    mode: Mode,
) -> io::Result<ExitInfo> {
    become_subreaper();
    if !spec.cwd.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "cannot start `{}`: working directory {} does not exist",
                spec.program,
                spec.cwd.display()
            ),
        ));
    }
    let stdout_log = open_log(spec.stdout_log.as_deref())?;
    let stderr_log = open_log(spec.stderr_log.as_deref())?;
    if interrupted() {
        // Nothing is started after Ctrl-C: report the interruption without a process.
        return Ok(ExitInfo {
            code: None,
            signal: None,
            termination: Termination::Interrupted,
            duration: Duration::ZERO,
            stdout_tail: String::new(),
            stderr_tail: String::new(),
            stdout_bytes: 0,
            stderr_bytes: 0,
            truncated_lines: 0,
            strays_killed: 0,
        });
    }
    let spawn_id = next_spawn_id();

    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args)
        .current_dir(&spec.cwd)
        .process_group(0)
        .stdin(if spec.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for key in &spec.env_remove {
        cmd.env_remove(key);
    }
    for (key, value) in &spec.env {
        cmd.env(key, value);
    }
    if let Some(run_id) = &spec.run_id {
        cmd.env("ORX_RUN_ID", run_id);
    }
    cmd.env("ORX_SPAWN_ID", &spawn_id);
    let mut leaf = match (mode, &tracking::tracking().cgroup) {
        (Mode::Cgroup, Some(base)) => match Leaf::create(base, spec.run_id.as_deref(), &spawn_id) {
            Ok(leaf) => Some(leaf),
            Err(e) => {
                tracking::cgroup_failed(&format!("cannot create its cgroup: {e}"));
                None
            }
        },
        _ => None,
    };
    // In cgroup mode the child is born in its leaf cgroup where the kernel allows it, which
    // spares the cgroup-wide lock a move costs ([`super::clone_spawn`]).
    let direct = match &leaf {
        Some(l) if clone_into_cgroup_works() => match l.open_dir() {
            Ok(dir) => {
                let plan = clone_spawn::Plan {
                    program: &spec.program,
                    args: spec.args.iter().map(OsStr::new).collect(),
                    cwd: &spec.cwd,
                    env: child_env(spec, &spawn_id),
                    stdin_piped: spec.stdin.is_some(),
                    // As `spawn_std` says: a dead orx takes its direct child with it.
                    death_signal: Some(libc::SIGKILL),
                };
                match clone_spawn::spawn(&plan, &dir) {
                    Ok(outcome) => Some(outcome),
                    Err(clone_spawn::Unsupported(e)) => {
                        clone_into_cgroup_failed(&e);
                        None
                    }
                }
            }
            Err(_) => None,
        },
        _ => None,
    };
    let start = Instant::now();
    let spawned: io::Result<Started> = match direct {
        Some(outcome) => outcome.map(|c| (c.pid, c.stdin, Some(c.stdout), Some(c.stderr))),
        None => spawn_std(&mut cmd, leaf.as_ref().and_then(Leaf::procs_fd)),
    };
    if let Some(l) = &mut leaf {
        let inside = match &spawned {
            Ok((pid, ..)) => l.spawned(*pid),
            Err(_) => false,
        };
        if !inside {
            if spawned.is_ok() {
                tracking::cgroup_failed("the child is not in its cgroup");
            }
            l.abandon();
            leaf = None;
        }
    }
    let (pid, stdin, stdout, stderr) = spawned.map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "cannot start `{}` in {}: {e}",
                spec.program,
                spec.cwd.display()
            ),
        )
    })?;
    register_group(pid);
    let mut sup = Supervised {
        pid,
        marker: format!("ORX_SPAWN_ID={spawn_id}"),
        leaf,
        mode,
        exit: ExitWatch::new(pid),
        done: false,
    };
    tracing::debug!("spawned `{}` as pid {pid} ({spawn_id})", spec.program);

    if let (Some(data), Some(pipe)) = (&spec.stdin, stdin) {
        super::stdin::hand_over(pipe, data)?;
    }

    let queue = Arc::new(LineQueue::new(QUEUE_BYTES, 2));
    let _consumer = ConsumerGuard(Arc::clone(&queue));
    let _waiting = Waiting::register(&queue);
    let woken_on_exit = {
        let queue = Arc::clone(&queue);
        sup.exit.on_exit(move || queue.wake())
    };
    let tick = if woken_on_exit { SAFETY_TICK } else { POLL };
    let last_byte = Arc::new(AtomicU64::new(0));
    let at_eof = Arc::new(AtomicUsize::new(0));
    let out_stats = Arc::new(Mutex::new(StreamStats::default()));
    let err_stats = Arc::new(Mutex::new(StreamStats::default()));
    let mut readers: Vec<JoinHandle<()>> = Vec::new();
    for (kind, pipe, log, stats) in [
        (StreamKind::Stdout, stdout, stdout_log, &out_stats),
        (StreamKind::Stderr, stderr, stderr_log, &err_stats),
    ] {
        let shared = ReaderShared {
            queue: Arc::clone(&queue),
            last_byte: Arc::clone(&last_byte),
            epoch: start,
            at_eof: Arc::clone(&at_eof),
        };
        match pipe {
            Some(pipe) => readers.push(spawn_reader(
                kind,
                pipe,
                log,
                spec.log_filter.as_ref().map(|f| f.start()),
                spec.max_line_bytes,
                shared,
                Arc::clone(stats),
            )?),
            None => queue.producer_done(), // cannot happen: both pipes are requested
        }
    }

    let mut deliver = |batch: Batch, stopping: &mut Option<Stopping>, may_stop: bool| {
        for line in batch.lines() {
            if let Control::Stop(reason) = out.line(batch.kind, line) {
                if may_stop && stopping.is_none() {
                    begin_stop(pid, spec.grace, Termination::Stopped(reason), stopping);
                }
            }
        }
        out.caught_up();
    };

    let mut stopping: Option<Stopping> = None;
    let mut readers_open = true;
    let mut last_exit_check = start;
    let exit_seen = loop {
        let mut check_exit = true;
        let wait = next_wake(spec, start, &last_byte, stopping.as_ref(), tick);
        #[cfg(test)]
        WAKES.with(|w| w.set(w.get() + 1));
        if readers_open {
            match queue.pop(wait) {
                Pop::Batch(batch) => {
                    touch(&last_byte, start);
                    deliver(batch, &mut stopping, true);
                    check_exit = last_exit_check.elapsed() >= POLL;
                }
                Pop::Empty => {}
                Pop::Closed => readers_open = false,
            }
        } else {
            // Both pipes are closed; the exit follows (or a deadline does): block on it.
            sup.exit.wait(wait);
        }
        let now = Instant::now();
        if check_exit {
            last_exit_check = now;
            if exited_without_reaping(pid) {
                break now;
            }
        }
        match &mut stopping {
            None => {
                let running = now.duration_since(start);
                let silent =
                    running.saturating_sub(Duration::from_nanos(last_byte.load(Ordering::Relaxed)));
                let reason = if interrupted() {
                    Some(Termination::Interrupted)
                } else if spec.wall_timeout.is_some_and(|t| running >= t) {
                    Some(Termination::WallTimeout)
                } else if spec.idle_timeout.is_some_and(|t| silent >= t) {
                    Some(Termination::IdleTimeout)
                } else {
                    None
                };
                if let Some(reason) = reason {
                    begin_stop(pid, spec.grace, reason, &mut stopping);
                }
            }
            Some(s) => {
                if !s.killed && now.duration_since(s.term_sent) >= spec.grace {
                    tracing::debug!("pid {pid} outlived its grace period: SIGKILL to the group");
                    signal_group(pid, libc::SIGKILL);
                    s.killed = true;
                }
            }
        }
    };
    let duration = exit_seen - start;
    let (status, strays_killed) = sup.finish(false);

    // The tree is dead, so the pipes are at end-of-file unless an unfound process holds them.
    if readers_open {
        let drain_start = Instant::now();
        let mut progress = drain_start;
        loop {
            match queue.pop(POLL) {
                Pop::Batch(batch) => {
                    progress = Instant::now();
                    deliver(batch, &mut stopping, false);
                }
                Pop::Closed => break,
                Pop::Empty => {
                    let now = Instant::now();
                    let pipes_done = at_eof.load(Ordering::Acquire) >= readers.len();
                    if !pipes_done
                        && (now - progress >= READER_IDLE_LIMIT
                            || now - drain_start >= READER_HARD_LIMIT)
                    {
                        tracing::warn!(
                            "`{}` left a process holding its output open; not waiting for it",
                            spec.program
                        );
                        queue.close_consumer();
                        readers.clear(); // detach: they end when that process does
                        break;
                    }
                }
            }
        }
    }
    for reader in readers {
        let _ = reader.join();
    }

    let (out, err) = (lock(&out_stats), lock(&err_stats));
    Ok(ExitInfo {
        code: status.and_then(|s| s.code()),
        signal: status.and_then(|s| s.signal()),
        termination: stopping.map_or(Termination::Exited, |s| s.reason),
        duration,
        stdout_tail: out.tail_text(),
        stderr_tail: err.tail_text(),
        stdout_bytes: out.bytes,
        stderr_bytes: err.bytes,
        truncated_lines: out.truncated_lines + err.truncated_lines,
        strays_killed,
    })
}

/// Start stopping the child: SIGTERM to its group now, SIGKILL after `grace`.
fn begin_stop(pid: i32, grace: Duration, reason: Termination, stopping: &mut Option<Stopping>) {
    tracing::debug!("stopping pid {pid}: {reason:?}");
    let killed = grace.is_zero();
    signal_group(pid, if killed { libc::SIGKILL } else { libc::SIGTERM });
    *stopping = Some(Stopping {
        reason,
        term_sent: Instant::now(),
        killed,
    });
}

/// Count consumption by the callback as activity for the idle timeout, so a slow callback
/// (which stalls the readers through backpressure) is not mistaken for a silent child.
fn touch(last_byte: &AtomicU64, epoch: Instant) {
    let nanos = u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
    last_byte.fetch_max(nanos, Ordering::Relaxed);
}

/// A started child: its pid, then its stdin (when piped), stdout and stderr.
type Started = (i32, Option<File>, Option<File>, Option<File>);

/// Start `cmd` with the standard library; in cgroup mode (`procs_fd`) the child moves itself
/// into its leaf cgroup before its program can start anything. Returns the pid and the pipes.
fn spawn_std(cmd: &mut Command, procs_fd: Option<i32>) -> io::Result<Started> {
    // If orx itself dies without a chance to clean up (`kill -9`, OOM), the kernel kills the
    // direct child too, so an agent can never keep editing a worktree whose run is being
    // resumed by another orx. Grandchildren are left to the next resume or clean, which finds
    // them in the run's cgroup (or by `ORX_RUN_ID` without one).
    // SAFETY: the closure runs between fork and exec and only makes async-signal-safe
    // syscalls (prctl, write to a descriptor opened before the fork); it allocates nothing
    // and touches no lock.
    unsafe {
        cmd.pre_exec(move || {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
            if let Some(fd) = procs_fd {
                // A failure shows in the parent's check of the child's cgroup.
                libc::write(fd, b"0".as_ptr().cast(), 1);
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn()?;
    let pid = i32::try_from(child.id()).unwrap_or(i32::MAX);
    let stdin = child.stdin.take().map(|p| File::from(OwnedFd::from(p)));
    let stdout = child.stdout.take().map(|p| File::from(OwnedFd::from(p)));
    let stderr = child.stderr.take().map(|p| File::from(OwnedFd::from(p)));
    // Dropping `child` neither waits nor signals: the supervisor reaps `pid` itself.
    Ok((pid, stdin, stdout, stderr))
}

/// The whole environment of a child: orx's own, without `env_remove`, with `env` and the
/// run and spawn markers on top (as `Command` builds it).
fn child_env(spec: &CommandSpec, spawn_id: &str) -> Vec<(OsString, OsString)> {
    let mut env: BTreeMap<OsString, OsString> = std::env::vars_os().collect();
    for key in &spec.env_remove {
        env.remove(OsStr::new(key));
    }
    for (key, value) in &spec.env {
        env.insert(key.into(), value.into());
    }
    if let Some(run_id) = &spec.run_id {
        env.insert("ORX_RUN_ID".into(), run_id.into());
    }
    env.insert("ORX_SPAWN_ID".into(), spawn_id.into());
    env.into_iter().collect()
}

/// Set once the kernel refused `CLONE_INTO_CGROUP`: the rest of this process moves children.
static NO_CLONE_INTO_CGROUP: AtomicBool = AtomicBool::new(false);

pub(super) fn clone_into_cgroup_works() -> bool {
    !NO_CLONE_INTO_CGROUP.load(Ordering::Relaxed)
}

pub(super) fn clone_into_cgroup_failed(e: &io::Error) {
    if !NO_CLONE_INTO_CGROUP.swap(true, Ordering::Relaxed) {
        tracing::debug!("cannot clone into a cgroup ({e}); moving children into theirs instead");
    }
}

/// Reap child `pid` (blocking), its status.
pub(super) fn reap(pid: i32) -> Option<ExitStatus> {
    let mut status = 0;
    loop {
        // SAFETY: waitpid writes only to `status`, a valid local.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        if rc == pid {
            return Some(ExitStatus::from_raw(status));
        }
        if rc < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        }
        return None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// Upper bounds on a duration only tell "ended by orx" from "ran to its own end" (the
    /// children here would run for 1000 s, or forever): never a claim about how promptly,
    /// which a loaded machine can stretch by seconds.
    const HANG: Duration = Duration::from_secs(120);

    fn never() -> bool {
        false
    }

    fn sh(dir: &Path, script: &str) -> CommandSpec {
        let mut spec = CommandSpec::new("sh", dir);
        spec.args = vec!["-c".into(), script.into()];
        spec
    }

    /// Run `spec`, collecting every line.
    fn collect(spec: &CommandSpec) -> (ExitInfo, Vec<(StreamKind, String)>) {
        let mut lines = Vec::new();
        let info = run_lines(
            spec,
            &mut |kind, line| {
                lines.push((kind, line.to_string()));
                Control::Continue
            },
            &never,
        )
        .unwrap();
        (info, lines)
    }

    fn stdout_lines(lines: &[(StreamKind, String)]) -> Vec<&str> {
        lines
            .iter()
            .filter(|(k, _)| *k == StreamKind::Stdout)
            .map(|(_, l)| l.as_str())
            .collect()
    }

    /// Whether `pid` is a live process (not gone, not a zombie).
    fn alive(pid: i32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| s.rsplit(") ").next().is_some_and(|r| !r.starts_with('Z')))
            .unwrap_or(false)
    }

    /// Reaped, not merely dead: no /proc entry (a zombie would still have one).
    fn reaped(pid: i32) -> bool {
        !Path::new(&format!("/proc/{pid}")).exists()
    }

    fn read_pids(path: &Path) -> Vec<i32> {
        std::fs::read_to_string(path)
            .unwrap()
            .split_whitespace()
            .map(|p| p.parse().unwrap())
            .collect()
    }

    fn vm_hwm_kib() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    #[test]
    fn delivers_lines_from_both_streams_and_the_exit_code() {
        let dir = tempfile::tempdir().unwrap();
        let mut spec = sh(
            dir.path(),
            r#"printf 'one\ntwo\r\n\nthree'; echo "$ORX_RUN_ID $KEEP ${HOME:-unset}" >&2; exit 3"#,
        );
        spec.run_id = Some("run-42".into());
        spec.env = vec![("KEEP".into(), "kept".into())];
        // A variable the test process has (cargo needs it), so the child would inherit it.
        assert!(std::env::var_os("HOME").is_some());
        spec.env_remove = vec!["HOME".into()];
        let (info, lines) = collect(&spec);
        assert_eq!(stdout_lines(&lines), ["one", "two", "", "three"]);
        assert!(lines.contains(&(StreamKind::Stderr, "run-42 kept unset".into())));
        assert_eq!(info.code, Some(3));
        assert_eq!(info.signal, None);
        assert_eq!(info.termination, Termination::Exited);
        assert!(!info.success());
        assert_eq!(info.stdout_bytes, 15);
        assert_eq!(info.stdout_tail, "one\ntwo\r\n\nthree");
        assert_eq!(info.stderr_tail, "run-42 kept unset\n");
        assert_eq!(info.strays_killed, 0);
    }

    #[test]
    fn a_final_partial_line_is_delivered() {
        let dir = tempfile::tempdir().unwrap();
        let (info, lines) = collect(&sh(dir.path(), "printf partial"));
        assert!(info.success());
        assert_eq!(stdout_lines(&lines), ["partial"]);
    }

    #[test]
    fn stdin_is_written_then_closed_and_defaults_to_dev_null() {
        let dir = tempfile::tempdir().unwrap();
        let mut spec = CommandSpec::new("cat", dir.path());
        spec.stdin = Some(b"hello\nworld\n".to_vec());
        let (info, lines) = collect(&spec);
        assert!(info.success(), "{info:?}");
        assert_eq!(stdout_lines(&lines), ["hello", "world"]);
        // Without stdin, `cat` reads /dev/null and ends at once.
        let (info, lines) = collect(&CommandSpec::new("cat", dir.path()));
        assert!(info.success());
        assert!(lines.is_empty());
        assert!(info.duration < HANG, "{info:?}");
    }

    #[test]
    fn logs_keep_every_raw_byte_and_are_appended_to() {
        let dir = tempfile::tempdir().unwrap();
        let mut spec = sh(dir.path(), r"printf 'a\r\nb\377\000c'; printf 'E' >&2");
        let out: PathBuf = dir.path().join("logs/deep/out.log");
        spec.stdout_log = Some(out.clone());
        spec.stderr_log = Some(dir.path().join("logs/err.log"));
        let (info, lines) = collect(&spec);
        assert_eq!(std::fs::read(&out).unwrap(), b"a\r\nb\xff\x00c");
        assert_eq!(stdout_lines(&lines), ["a", "b\u{fffd}\u{0}c"]);
        assert_eq!(info.stdout_bytes, 7);
        collect(&spec);
        assert_eq!(
            std::fs::read(&out).unwrap(),
            b"a\r\nb\xff\x00ca\r\nb\xff\x00c"
        );
        assert_eq!(
            std::fs::read(dir.path().join("logs/err.log")).unwrap(),
            b"EE"
        );
    }

    #[test]
    fn a_log_filter_rewrites_lines_and_cuts_overlong_ones() {
        struct Upper;
        impl crate::exec::LineFilter for Upper {
            fn filter(&mut self, line: &str) -> Option<String> {
                line.contains("secret")
                    .then(|| line.replace("secret", "[X]"))
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let script = r"printf 'a secret\nplain\n'; printf 'no newline secret'; printf 'err secret\n' >&2; head -c 100 /dev/zero | tr '\0' 's'; echo";
        let mut spec = sh(dir.path(), script);
        let out = dir.path().join("out.log");
        spec.stdout_log = Some(out.clone());
        spec.stderr_log = Some(dir.path().join("err.log"));
        spec.max_line_bytes = 40;
        spec.log_filter = Some(crate::exec::LogFilter::new(|| Box::new(Upper)));
        let (info, lines) = collect(&spec);
        assert!(info.success());
        // The callback still sees the raw lines; the logs see the filtered ones.
        assert_eq!(stdout_lines(&lines)[0], "a secret");
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            format!(
                "a [X]\nplain\nno newline [X]{} [orx: line truncated]\n",
                "s".repeat(40 - "no newline secret".len())
            )
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("err.log")).unwrap(),
            "err [X]\n"
        );
    }

    #[test]
    fn a_slow_last_line_is_waited_for_after_the_child_exits() {
        // Regression (found by fuzzing): a long final line through the log filter (redaction of
        // a multi-MiB line takes seconds in a debug build) kept its reader busy past
        // READER_IDLE_LIMIT after the child exited, and the supervisor mistook that for a
        // stray process holding the pipe: the line never reached the parser or the log.
        struct Slow;
        impl crate::exec::LineFilter for Slow {
            fn filter(&mut self, line: &str) -> Option<String> {
                if line.starts_with("last") {
                    std::thread::sleep(READER_IDLE_LIMIT + Duration::from_millis(500));
                }
                None
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let mut spec = sh(dir.path(), "printf 'first\\nlast line, no newline'");
        spec.stdout_log = Some(dir.path().join("out.log"));
        spec.log_filter = Some(crate::exec::LogFilter::new(|| Box::new(Slow)));
        let (info, lines) = collect(&spec);
        assert!(info.success(), "{info:?}");
        assert_eq!(stdout_lines(&lines), ["first", "last line, no newline"]);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("out.log")).unwrap(),
            "first\nlast line, no newline\n"
        );
    }

    #[test]
    fn floods_keep_memory_bounded_and_logs_complete() {
        // 1 GiB in one line (the worst case for a line splitter), then 200 MiB of short lines.
        const GIANT: u64 = 1024 * 1024 * 1024;
        const FLOOD: u64 = 200 * 1024 * 1024;
        let dir = tempfile::tempdir().unwrap();
        let before = vm_hwm_kib();

        // One giant line, then a normal one.
        let mut spec = sh(
            dir.path(),
            &format!("head -c {GIANT} /dev/zero | tr '\\0' a; echo; echo after"),
        );
        spec.stdout_log = Some(dir.path().join("giant.log"));
        let mut seen = Vec::new();
        let info = run_lines(
            &spec,
            &mut |_, line| {
                seen.push((line.len(), line.get(..5).unwrap_or(line).to_string()));
                Control::Continue
            },
            &never,
        )
        .unwrap();
        assert!(info.success(), "{info:?}");
        assert_eq!(
            seen,
            [(8 * 1024 * 1024, "aaaaa".into()), (5, "after".into())]
        );
        assert_eq!(info.truncated_lines, 1);
        assert_eq!(info.stdout_bytes, GIANT + 7);
        let log_len = std::fs::metadata(dir.path().join("giant.log"))
            .unwrap()
            .len();
        assert_eq!(log_len, GIANT + 7);
        std::fs::remove_file(dir.path().join("giant.log")).unwrap();

        // Many 100-byte lines, cut to 16 bytes for the callback.
        let mut spec = sh(
            dir.path(),
            &format!("yes \"$(printf '%099d' 0)\" | head -c {FLOOD}"),
        );
        spec.stdout_log = Some(dir.path().join("many.log"));
        spec.max_line_bytes = 16;
        let (mut count, mut bad) = (0u64, 0u64);
        let info = run_lines(
            &spec,
            &mut |_, line| {
                count += 1;
                bad += u64::from(line != "0000000000000000");
                Control::Continue
            },
            &never,
        )
        .unwrap();
        assert!(info.success(), "{info:?}");
        assert_eq!(count, FLOOD / 100);
        assert_eq!(bad, 0);
        assert_eq!(info.truncated_lines, FLOOD / 100);
        let log_len = std::fs::metadata(dir.path().join("many.log"))
            .unwrap()
            .len();
        assert_eq!(log_len, FLOOD);

        let grown = vm_hwm_kib().saturating_sub(before);
        assert!(grown < 80 * 1024, "peak memory grew by {grown} KiB");
    }

    #[test]
    fn wall_timeout_stops_a_sleeping_child_at_the_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let mut spec = sh(dir.path(), "sleep 1000");
        spec.wall_timeout = Some(Duration::from_millis(400));
        spec.idle_timeout = Some(Duration::MAX); // must not overflow
        let (info, _) = collect(&spec);
        assert_eq!(info.termination, Termination::WallTimeout);
        assert_eq!(info.signal, Some(libc::SIGTERM));
        assert!(!info.success());
        assert!(info.duration >= Duration::from_millis(400), "{info:?}");
        assert!(info.duration < HANG, "{info:?}");
    }

    #[test]
    fn idle_timeout_fires_on_silence_but_not_on_a_steady_trickle() {
        let dir = tempfile::tempdir().unwrap();
        let mut spec = sh(dir.path(), "echo hi; sleep 1000");
        spec.idle_timeout = Some(Duration::from_millis(400));
        let (info, lines) = collect(&spec);
        assert_eq!(info.termination, Termination::IdleTimeout);
        assert_eq!(stdout_lines(&lines), ["hi"]);
        assert!(info.duration >= Duration::from_millis(400), "{info:?}");
        assert!(info.duration < HANG, "{info:?}");

        // A trickle outlasting the idle timeout with gaps far shorter than it: 3 s of lines
        // 50 ms apart against 2 s (a gap would have to stretch forty-fold to fire it).
        let mut spec = sh(
            dir.path(),
            "i=0; while [ $i -lt 60 ]; do echo $i >&2; sleep 0.05; i=$((i+1)); done",
        );
        spec.idle_timeout = Some(Duration::from_secs(2));
        let (info, lines) = collect(&spec);
        assert!(info.success(), "{info:?}");
        assert_eq!(lines.len(), 60);
    }

    #[test]
    fn a_child_ignoring_sigterm_is_killed_after_the_grace_period() {
        let dir = tempfile::tempdir().unwrap();
        let mut spec = sh(dir.path(), "trap '' TERM; while :; do sleep 0.1; done");
        spec.wall_timeout = Some(Duration::from_millis(300));
        spec.grace = Duration::from_millis(300);
        let (info, _) = collect(&spec);
        assert_eq!(info.termination, Termination::WallTimeout);
        assert_eq!(info.signal, Some(libc::SIGKILL));
        assert!(info.duration >= Duration::from_millis(600), "{info:?}");
        assert!(info.duration < HANG, "{info:?}");
    }

    #[test]
    fn grandchildren_in_the_group_do_not_survive_a_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let pids = dir.path().join("pids");
        let mut spec = sh(
            dir.path(),
            "sleep 1000 & echo $! >> pids; sleep 1000 & echo $! >> pids; echo ready; wait",
        );
        spec.wall_timeout = Some(Duration::from_millis(300));
        let (info, lines) = collect(&spec);
        assert_eq!(stdout_lines(&lines), ["ready"]);
        assert_eq!(info.termination, Termination::WallTimeout);
        let pids = read_pids(&pids);
        assert_eq!(pids.len(), 2);
        for pid in pids {
            assert!(reaped(pid), "sleep {pid} survived");
        }
    }

    #[test]
    fn a_detached_grandchild_of_a_successful_child_is_killed_and_reaped() {
        let dir = tempfile::tempdir().unwrap();
        // `setsid` moves the sleep to its own session and group, out of reach of the group
        // kill; it also keeps stdout open, which must not hang the readers.
        let spec = sh(
            dir.path(),
            "setsid sh -c 'echo $$ > pid; exec sleep 1000' & \
             while [ ! -s pid ]; do sleep 0.01; done; echo done",
        );
        let (info, lines) = collect(&spec);
        assert!(info.success(), "{info:?}");
        assert_eq!(stdout_lines(&lines), ["done"]);
        assert_eq!(info.strays_killed, 1);
        let pid = read_pids(&dir.path().join("pid"))[0];
        assert!(
            reaped(pid),
            "detached sleep {pid} survived (alive: {})",
            alive(pid)
        );
        assert!(info.duration < HANG, "{info:?}");
    }

    #[test]
    fn a_double_forked_setsid_sleeper_is_killed_and_reaped_in_every_mode() {
        let dir = tempfile::tempdir().unwrap();
        // The subshell exits at once, so the sleeper's parent is gone: it is nobody's child in
        // the tree, in its own session and group.
        let spec = sh(
            dir.path(),
            "(setsid sh -c 'echo $$ > pid; exec sleep 1000' &); \
             while [ ! -s pid ]; do sleep 0.01; done; echo done",
        );
        let t = tracking::tracking();
        let mut modes = vec![Mode::Scan];
        if super::super::reap::subreaper_ready().is_ok() {
            modes.push(Mode::Subreaper);
        }
        if t.cgroup.is_some() {
            modes.push(Mode::Cgroup);
        }
        assert!(modes.contains(&t.mode), "{t:?}");
        for mode in modes {
            std::fs::remove_file(dir.path().join("pid")).ok();
            let mut lines = Vec::new();
            let info = run_in(
                &spec,
                &mut super::super::Lines(&mut |kind, line| {
                    lines.push((kind, line.to_string()));
                    Control::Continue
                }),
                &never,
                mode,
            )
            .unwrap();
            assert!(info.success(), "{mode:?}: {info:?}");
            assert_eq!(stdout_lines(&lines), ["done"]);
            let pid = read_pids(&dir.path().join("pid"))[0];
            assert_eq!(info.strays_killed, 1, "{mode:?}");
            assert!(
                reaped(pid),
                "{mode:?}: sleeper {pid} survived (alive: {})",
                alive(pid)
            );
        }
        assert_eq!(
            tracking::mode(),
            t.mode,
            "a child could not be placed: {t:?}"
        );
    }

    #[test]
    fn control_stop_from_the_callback_stops_the_child() {
        let dir = tempfile::tempdir().unwrap();
        let spec = sh(dir.path(), "while :; do echo tick; sleep 0.05; done");
        let mut ticks = 0;
        let info = run_lines(
            &spec,
            &mut |_, _| {
                ticks += 1;
                if ticks == 3 {
                    Control::Stop("budget crossed".into())
                } else {
                    Control::Continue
                }
            },
            &never,
        )
        .unwrap();
        assert_eq!(
            info.termination,
            Termination::Stopped("budget crossed".into())
        );
        assert!(info.duration < HANG, "{info:?}");
    }

    #[test]
    fn a_silent_child_wakes_the_loop_for_its_exit_not_on_a_timer() {
        // Silent for a second, then gone: the loop sleeps until the exit wakes it. Probing
        // every 50 ms, as it did, woke it about twenty times.
        let dir = tempfile::tempdir().unwrap();
        WAKES.with(|w| w.set(0));
        let (info, lines) = collect(&sh(dir.path(), "sleep 1; echo done"));
        assert_eq!(info.code, Some(0));
        assert_eq!(lines.len(), 1);
        let wakes = WAKES.with(|w| w.get());
        assert!(wakes <= 5, "{wakes} wake-ups of the loop");
    }

    #[test]
    fn the_interrupt_check_stops_the_child_as_interrupted() {
        let dir = tempfile::tempdir().unwrap();
        let start = Instant::now();
        let after_300ms = move || start.elapsed() >= Duration::from_millis(300);
        let info = run_lines(
            &sh(dir.path(), "sleep 1000"),
            &mut |_, _| Control::Continue,
            &after_300ms,
        )
        .unwrap();
        assert_eq!(info.termination, Termination::Interrupted);
        assert!(info.duration < HANG, "{info:?}");
    }

    #[test]
    fn nothing_is_spawned_once_interrupted() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("ran");
        let info = run_lines(
            &sh(dir.path(), "touch ran"),
            &mut |_, _| Control::Continue,
            &|| true,
        )
        .unwrap();
        assert_eq!(info.termination, Termination::Interrupted);
        assert!(!marker.exists());
    }

    #[test]
    fn a_panicking_callback_still_kills_the_child() {
        let dir = tempfile::tempdir().unwrap();
        let spec = sh(dir.path(), "echo $$ > pid; echo go; exec sleep 1000");
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_lines(&spec, &mut |_, _| panic!("callback bug"), &never)
        }));
        assert!(result.is_err());
        let pid = read_pids(&dir.path().join("pid"))[0];
        assert!(reaped(pid), "{pid} survived");
    }

    #[test]
    fn a_missing_program_or_folder_is_a_not_found_error() {
        let dir = tempfile::tempdir().unwrap();
        let spec = CommandSpec::new("orx-no-such-program-xyz", dir.path());
        let err = run_lines(&spec, &mut |_, _| Control::Continue, &never).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(err.to_string().contains("orx-no-such-program-xyz"), "{err}");
        let spec = CommandSpec::new("sh", dir.path().join("missing"));
        let err = run_lines(&spec, &mut |_, _| Control::Continue, &never).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(err.to_string().contains("working directory"), "{err}");
    }
}
