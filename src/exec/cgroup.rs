//! The cgroup v2 side of stray tracking: one cgroup per run, one leaf per supervised child.
//!
//! Layout, under the cgroup orx itself runs in (`0::` in `/proc/self/cgroup`, found on the
//! cgroup2 mount named in `/proc/self/mountinfo`): `orx-run-<run id>/<spawn id>` for a child of
//! a run, `orx-pid-<orx pid>/<spawn id>` for one without (doctor's version checks). Staying
//! below orx's own cgroup is what delegation allows (a user's systemd service, a container's
//! root): moving a process needs write access to the common ancestor's `cgroup.procs`, which is
//! orx's own. The child is created inside its leaf (`clone3(CLONE_INTO_CGROUP)` on the leaf's
//! folder, [`super::clone_spawn`]); where the kernel refuses that, it moves itself, between
//! fork and exec, by writing `0` to the leaf's `cgroup.procs` through a descriptor the parent
//! opened. Either way it is inside before its program runs; the parent then checks
//! `/proc/<child>/cgroup` and falls back to the subreaper if the move did not happen. No
//! controller is enabled anywhere, so the "no internal processes" rule never applies and the
//! cgroups cost nothing but their directories.
//!
//! After the call, the leaf's `cgroup.procs` are its leftovers: `cgroup.kill` (Linux 5.14) ends
//! them without a fork racing the kill, otherwise each listed process is SIGKILLed until the
//! list is empty. The leaf, and the run's cgroup once empty, are removed. After a `kill -9` of
//! orx the leaf stays behind with its processes; [`kill_run`] finds the run's cgroup by name
//! and ends everything in it: SIGTERM first, then `cgroup.kill` for what did not leave within
//! the grace period. A run that is never resumed or cleaned would keep its cgroups until the
//! next boot, so every orx that starts children sweeps what dead orx processes left: a leaf is
//! named after the pid of the orx that made it, and an empty one whose maker is gone is
//! removed, with its run's cgroup once that is empty. The leaves of the run's own git
//! processes (named [`HELPER_LEAF`]`<spawn id>`) are not signalled but waited for: git stopped
//! halfway can leave a lock file behind even on SIGTERM (see `exec::helper`), and it ends by
//! itself.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::pidfd::{ProcessHandle, Signalled};

/// How long to wait for killed processes to leave a cgroup.
const DRAIN_WAIT: Duration = Duration::from_secs(2);
/// The start of the name of a leaf that holds one of the run's git processes.
const HELPER_LEAF: &str = "git-";
/// How deep [`kill_run`] looks for a run's cgroup outside orx's own.
const SEARCH_DEPTH: usize = 12;

/// The cgroup v2 mount point and orx's own cgroup path on it.
struct Own {
    mount: PathBuf,
    /// Relative to the mount's root, as `/proc/self/cgroup` shows it ("/" for the root).
    path: String,
}

/// Where orx's own cgroup v2 is, if there is one.
fn own() -> Result<Own, String> {
    let cgroup = std::fs::read_to_string("/proc/self/cgroup")
        .map_err(|e| format!("cannot read /proc/self/cgroup: {e}"))?;
    let path = cgroup
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .ok_or("no cgroup v2 hierarchy")?
        .to_string();
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| format!("cannot read /proc/self/mountinfo: {e}"))?;
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        if right.split_whitespace().next() != Some("cgroup2") {
            continue;
        }
        let fields: Vec<&str> = left.split_whitespace().collect();
        let (Some(root), Some(point)) = (fields.get(3), fields.get(4)) else {
            continue;
        };
        let root = unescape(root);
        let Some(rest) = path.strip_prefix(root.trim_end_matches('/')) else {
            continue;
        };
        let rest = if rest.is_empty() { "/" } else { rest };
        if !rest.starts_with('/') {
            continue;
        }
        return Ok(Own {
            mount: PathBuf::from(unescape(point)),
            path: rest.to_string(),
        });
    }
    Err("cgroup2 is not mounted".into())
}

/// Undo mountinfo's octal escapes (`\040` for a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(u8::is_ascii_digit) {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Own {
    fn dir(&self) -> PathBuf {
        match self.path.trim_matches('/') {
            "" => self.mount.clone(),
            rel => self.mount.join(rel),
        }
    }
}

/// The cgroup under which orx can create run cgroups and move its children, or why not.
pub(crate) fn probe() -> Result<PathBuf, String> {
    let own = own()?;
    let base = own.dir();
    let procs = base.join("cgroup.procs");
    let c = std::ffi::CString::new(procs.as_os_str().as_encoded_bytes())
        .map_err(|_| "odd cgroup path".to_string())?;
    // SAFETY: access only reads the NUL-terminated path.
    if unsafe { libc::access(c.as_ptr(), libc::W_OK) } != 0 {
        return Err(format!(
            "{} is not writable: {}",
            procs.display(),
            io::Error::last_os_error()
        ));
    }
    let trial = base.join(format!("orx-probe-{}", std::process::id()));
    std::fs::create_dir(&trial)
        .or_else(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => Ok(()),
            _ => Err(e),
        })
        .map_err(|e| format!("cannot create a cgroup under {}: {e}", base.display()))?;
    let writable = OpenOptions::new()
        .write(true)
        .open(trial.join("cgroup.procs"))
        .map(drop);
    let _ = std::fs::remove_dir(&trial);
    writable.map_err(|e| format!("cannot open a new cgroup's cgroup.procs: {e}"))?;
    sweep_dead_owners(&base, gone);
    Ok(base)
}

/// Remove what orx processes that are gone (killed before they could clean up) left under
/// `base`: their `orx-pid-<pid>` cgroups, ending whatever is still in them, and the empty
/// leaves they left in run cgroups, then each run cgroup that nothing is left in. Without
/// this, every run killed and never resumed or cleaned (a test's, a CI job's) would leave its
/// cgroups until the next boot. A run leaf that still holds a process is left alone: that is
/// a dead run's stray, or its git finishing, which only the run's resume or clean may end,
/// knowing which of them to let finish. An empty run cgroup may be removed while a live orx of
/// the same run is about to create a leaf in it: [`Leaf::make`] creates it again. `gone` says
/// whether a pid's process is gone ([`gone`]).
fn sweep_dead_owners(base: &Path, gone: impl Fn(i32) -> bool) {
    for dir in subdirs(base) {
        let Some(name) = dir.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if let Some(pid) = name
            .strip_prefix("orx-pid-")
            .and_then(|p| p.parse::<i32>().ok())
        {
            // Its git still at work is left to finish; a later orx sweeps the group.
            if gone(pid) && !helpers_at_work(&dir) {
                remove_group(&dir, super::pidfd::LEFTOVER_GRACE, Duration::ZERO, &|_| {});
            }
        } else if name.starts_with("orx-run-") {
            for leaf in subdirs(&dir) {
                if leaf_owner(&leaf).is_some_and(&gone) {
                    // Fails, as it should, while the leaf still holds a process.
                    let _ = std::fs::remove_dir(&leaf);
                }
            }
            // Fails while any leaf is left.
            let _ = std::fs::remove_dir(&dir);
        }
    }
}

/// Whether no process `pid` exists (a zombie still does).
fn gone(pid: i32) -> bool {
    // SAFETY: kill with signal 0 only probes.
    pid > 0
        && unsafe { libc::kill(pid, 0) } != 0
        && io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
}

/// The orx process that made a leaf: the pid its spawn id starts with (`<pid>-<n>-<nanos>`,
/// after [`HELPER_LEAF`] for a git process's).
fn leaf_owner(leaf: &Path) -> Option<i32> {
    let name = leaf.file_name()?.to_str()?;
    let spawn_id = name.strip_prefix(HELPER_LEAF).unwrap_or(name);
    spawn_id.split('-').next()?.parse().ok()
}

/// Cgroups of children being supervised right now, for the second Ctrl-C.
static LIVE: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

/// The second Ctrl-C: end everything in the live leaves at once (orx exits right after; the
/// empty cgroups are removed by the next resume or clean of the run, or by the next orx that
/// starts a child).
pub(crate) fn kill_live() {
    let live = match LIVE.lock() {
        Ok(g) => g.clone(),
        Err(p) => p.into_inner().clone(),
    };
    for dir in live {
        let _ = std::fs::write(dir.join("cgroup.kill"), b"1");
    }
}

fn set_live(dir: &Path, live: bool) {
    let mut g = match LIVE.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    if live {
        g.push(dir.to_path_buf());
    } else {
        g.retain(|d| d != dir);
    }
}

/// The name of a run's cgroup, or of this process's when there is no usable run id.
fn group_name(run_id: Option<&str>) -> String {
    match run_id {
        Some(id)
            if !id.is_empty()
                && id.len() <= 100
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
                && !id.starts_with('.') =>
        {
            format!("orx-run-{id}")
        }
        _ => format!("orx-pid-{}", std::process::id()),
    }
}

/// One supervised child's cgroup.
pub(crate) struct Leaf {
    dir: PathBuf,
    group: PathBuf,
    /// `cgroup.procs`, open for the child to write itself into; closed once it has spawned.
    procs: Option<File>,
}

impl Leaf {
    /// Create `<base>/<run group>/<spawn id>` and open its `cgroup.procs`; a second Ctrl-C
    /// ends what is in it ([`kill_live`]).
    pub(crate) fn create(base: &Path, run_id: Option<&str>, spawn_id: &str) -> io::Result<Leaf> {
        let leaf = Leaf::make(base, run_id, spawn_id)?;
        set_live(&leaf.dir, true);
        Ok(leaf)
    }

    /// A leaf for one of the run's git processes: like [`Leaf::create`], but a second Ctrl-C
    /// leaves it alone, since git killed halfway through a ref update leaves its lock file.
    /// Its name marks it as a helper's, which a resume after a crash waits for, not signals.
    pub(crate) fn for_helper(base: &Path, run_id: &str, spawn_id: &str) -> io::Result<Leaf> {
        Leaf::make(base, Some(run_id), &format!("{HELPER_LEAF}{spawn_id}"))
    }

    fn make(base: &Path, run_id: Option<&str>, spawn_id: &str) -> io::Result<Leaf> {
        let group = base.join(group_name(run_id));
        let dir = group.join(spawn_id);
        // Another thread may remove the (empty) run cgroup between our two mkdirs.
        let mut tries = 0;
        loop {
            match std::fs::create_dir(&group) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
            match std::fs::create_dir(&dir) {
                Ok(()) => break,
                Err(e) if e.kind() == io::ErrorKind::NotFound && tries < 5 => tries += 1,
                Err(e) => return Err(e),
            }
        }
        let procs = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(dir.join("cgroup.procs"));
        match procs {
            Ok(f) => Ok(Leaf {
                dir,
                group,
                procs: Some(f),
            }),
            Err(e) => {
                let _ = std::fs::remove_dir(&dir);
                let _ = std::fs::remove_dir(&group);
                Err(e)
            }
        }
    }

    /// The descriptor the child writes `0` to; valid until [`Leaf::spawned`].
    pub(crate) fn procs_fd(&self) -> Option<i32> {
        self.procs.as_ref().map(AsRawFd::as_raw_fd)
    }

    /// The leaf's folder, open for `clone3(CLONE_INTO_CGROUP)`.
    pub(crate) fn open_dir(&self) -> io::Result<File> {
        OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(&self.dir)
    }

    /// The child is started: close the descriptor and say whether it really is inside.
    pub(crate) fn spawned(&mut self, pid: i32) -> bool {
        self.procs = None;
        self.holds(pid)
    }

    /// Whether `/proc/<pid>/cgroup` names this leaf (a zombie still shows where it died).
    pub(crate) fn holds(&self, pid: i32) -> bool {
        let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/cgroup")) else {
            return false;
        };
        let Some(path) = text.lines().find_map(|l| l.strip_prefix("0::")) else {
            return false;
        };
        let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
        let (Some(leaf), Some(group)) = (name(&self.dir), name(&self.group)) else {
            return false;
        };
        path.ends_with(&format!("/{group}/{leaf}"))
    }

    /// After the child exited (not yet reaped): kill everything still in the leaf. Returns the
    /// live processes it held, without `child`.
    pub(crate) fn kill_all(&self, child: i32) -> BTreeSet<i32> {
        drain(&self.dir, child)
    }

    /// Give the leaf up without waiting (its child never made it in, or never started).
    pub(crate) fn abandon(&self) {
        set_live(&self.dir, false);
        let _ = std::fs::remove_dir(&self.dir);
        let _ = std::fs::remove_dir(&self.group);
    }

    /// Remove the leaf and then the run's cgroup if they are empty, without waiting: what a
    /// git process left running in the background (its detached maintenance) stays where the
    /// run's next resume or clean finds it.
    pub(crate) fn release(&self) {
        let _ = std::fs::remove_dir(&self.dir);
        let _ = std::fs::remove_dir(&self.group);
    }

    /// Remove the leaf, then the run's cgroup if no other leaf is in it.
    pub(crate) fn remove(&self) {
        set_live(&self.dir, false);
        remove_dir_when_empty(&self.dir);
        let _ = std::fs::remove_dir(&self.group);
    }
}

/// Pids in `dir`'s `cgroup.procs`.
fn members(dir: &Path) -> Vec<i32> {
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Pids in `dir` and in its leaves (orx's cgroups are one level deep).
fn members_below(dir: &Path) -> Vec<i32> {
    let mut all = members(dir);
    for sub in subdirs(dir) {
        all.extend(members(&sub));
    }
    all
}

/// Whether `dir` or a cgroup below it still holds a process.
fn populated(dir: &Path) -> bool {
    populated_state(dir).unwrap_or(false)
}

/// [`populated`], `None` when `cgroup.events` cannot be read.
fn populated_state(dir: &Path) -> Option<bool> {
    std::fs::read_to_string(dir.join("cgroup.events"))
        .ok()
        .map(|t| t.lines().any(|l| l == "populated 1"))
}

/// Kill every process in `dir` and below (except `child`, which is ours to reap) and wait for
/// them to leave. Returns the pids seen alive.
fn drain(dir: &Path, child: i32) -> BTreeSet<i32> {
    let mut seen = BTreeSet::new();
    let listed = |dir: &Path| {
        let mut all = members_below(dir);
        all.retain(|p| *p != child);
        all
    };
    // The common case, nothing left alive below the leaf, in one read (the exited child,
    // a zombie, no longer counts as populating it).
    if populated_state(dir) == Some(false) {
        return seen;
    }
    let first = listed(dir);
    if first.is_empty() && !populated(dir) {
        return seen;
    }
    seen.extend(first.iter().copied());
    let has_kill = std::fs::write(dir.join("cgroup.kill"), b"1").is_ok();
    let deadline = Instant::now() + DRAIN_WAIT;
    loop {
        let now = listed(dir);
        if now.is_empty() {
            break;
        }
        for pid in now {
            seen.insert(pid);
            if !has_kill {
                // SAFETY: kill has no memory-safety preconditions.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
        }
        if Instant::now() >= deadline {
            tracing::debug!("processes still in {} after the kill", dir.display());
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    seen
}

fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect()
}

/// `rmdir`, retried while the kernel still counts exiting processes in it.
fn remove_dir_when_empty(dir: &Path) {
    let deadline = Instant::now() + DRAIN_WAIT;
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return,
            Err(e) => {
                if Instant::now() >= deadline {
                    tracing::debug!("cannot remove cgroup {}: {e}", dir.display());
                    return;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }
}

/// The cgroups of run `id`: below orx's own cgroup first, else anywhere on the mount (a
/// resume started from another session runs in another cgroup).
fn run_groups(id: &str) -> Vec<PathBuf> {
    let Ok(own) = own() else {
        return Vec::new();
    };
    let name = group_name(Some(id));
    let near = own.dir().join(&name);
    if near.is_dir() {
        return vec![near];
    }
    let mut found = Vec::new();
    let mut stack = vec![(own.mount.clone(), 0usize)];
    while let Some((dir, depth)) = stack.pop() {
        for sub in subdirs(&dir) {
            if sub.file_name().is_some_and(|n| n == name.as_str()) {
                found.push(sub);
            } else if depth < SEARCH_DEPTH {
                stack.push((sub, depth + 1));
            }
        }
    }
    found
}

/// Whether `leaf` holds one of a run's git processes ([`Leaf::for_helper`]).
fn is_helper_leaf(leaf: &Path) -> bool {
    leaf.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with(HELPER_LEAF))
}

/// Whether a helper leaf of `group` still holds a process.
fn helpers_at_work(group: &Path) -> bool {
    subdirs(group)
        .iter()
        .any(|leaf| is_helper_leaf(leaf) && populated(leaf))
}

/// Ask every process in the cgroups `dirs` (each alone, not below) to stop (SIGTERM) and wait,
/// at most `grace` ([`super::pidfd::LEFTOVER_GRACE`] outside tests), for them to leave; the
/// pids asked. What a dead driver left behind may be halfway through something it can undo
/// (a shell's trap, a server's shutdown).
fn ask_to_stop(dirs: &[PathBuf], grace: Duration) -> BTreeSet<i32> {
    let listed = || dirs.iter().flat_map(|d| members(d)).collect::<Vec<i32>>();
    // The handles first, the membership after: a pid that left and was reused by then is
    // not listed again, and a handle whose process exited is only told it is gone.
    let handles: Vec<ProcessHandle> = listed()
        .into_iter()
        .filter_map(|pid| ProcessHandle::open(u32::try_from(pid).ok()?).ok().flatten())
        .collect();
    let still = listed();
    let mut asked = BTreeSet::new();
    for h in handles {
        let pid = i32::try_from(h.pid()).unwrap_or(i32::MAX);
        if still.contains(&pid) && matches!(h.signal(libc::SIGTERM), Ok(Signalled::Delivered)) {
            asked.insert(pid);
        }
    }
    let deadline = Instant::now() + grace;
    // Until the asked have left (a cgroup's `populated` would count its leaves too).
    while listed().iter().any(|p| asked.contains(p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    asked
}

/// Wait, at most `limit`, for the git processes in the helper leaves `leaves` to end by
/// themselves, after telling `on_wait` their pids (only when there are any); the pids.
fn let_finish(leaves: &[PathBuf], limit: Duration, on_wait: &dyn Fn(&[i32])) -> BTreeSet<i32> {
    let pids: Vec<i32> = leaves.iter().flat_map(|d| members(d)).collect();
    if pids.is_empty() || limit.is_zero() {
        return pids.into_iter().collect();
    }
    on_wait(&pids);
    let deadline = Instant::now() + limit;
    while leaves.iter().any(|d| populated(d)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    pids.into_iter().collect()
}

/// End everything in a run's (or a process's) cgroup and remove it with its leaves: the
/// helper leaves' git is let finish for up to `helper_wait` (announced to `on_wait`) while the
/// rest is asked to stop with `grace` to leave, then whatever is still there is asked and
/// killed. The pids that were in it.
fn remove_group(
    group: &Path,
    grace: Duration,
    helper_wait: Duration,
    on_wait: &dyn Fn(&[i32]),
) -> BTreeSet<i32> {
    let (helpers, mut others): (Vec<PathBuf>, Vec<PathBuf>) =
        subdirs(group).into_iter().partition(|l| is_helper_leaf(l));
    others.push(group.to_path_buf());
    let mut pids = ask_to_stop(&others, grace);
    pids.extend(let_finish(&helpers, helper_wait, on_wait));
    let mut all = subdirs(group);
    all.push(group.to_path_buf());
    pids.extend(ask_to_stop(&all, grace));
    pids.extend(drain(group, 0));
    for leaf in subdirs(group) {
        remove_dir_when_empty(&leaf);
    }
    let _ = std::fs::remove_dir(group);
    pids
}

/// End every process left in run `id`'s cgroup (its driver is dead: the caller holds the
/// run's lock) and remove the cgroup: its git processes are let finish (saying so on stderr),
/// the rest is asked to stop as [`ask_to_stop`] says, then killed. Returns their pids.
pub(crate) fn kill_run(id: &str) -> Vec<u32> {
    kill_run_within(
        id,
        super::pidfd::LEFTOVER_GRACE,
        super::pidfd::HELPER_WAIT,
        &|pids| super::leftover_git::note_waiting(id, pids),
    )
}

fn kill_run_within(
    id: &str,
    grace: Duration,
    helper_wait: Duration,
    on_wait: &dyn Fn(&[i32]),
) -> Vec<u32> {
    let mut pids = BTreeSet::new();
    for group in run_groups(id) {
        pids.extend(remove_group(&group, grace, helper_wait, on_wait));
    }
    pids.into_iter()
        .filter_map(|p| u32::try_from(p).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes_are_undone() {
        assert_eq!(unescape(r"/sys/fs/cgroup\040x"), "/sys/fs/cgroup x");
        assert_eq!(unescape("/plain"), "/plain");
        assert_eq!(unescape(r"/end\04"), r"/end\04");
    }

    /// A leaf of run `id`'s cgroup, as a dead driver leaves it; `None` where no cgroup v2 can
    /// be made here.
    fn leftovers_leaf(id: &str) -> Option<Leaf> {
        let name = format!("{}-1-0", std::process::id());
        match probe() {
            Ok(base) => Some(Leaf::create(&base, Some(id), &name).unwrap()),
            Err(why) => {
                eprintln!("no cgroup v2 to create here ({why}): nothing to test");
                None
            }
        }
    }

    /// `sh -c script` started inside `leaf` (so its children are too), as a dead driver's
    /// leftovers would be.
    fn start_in(leaf: &Leaf, dir: &Path, script: &str) -> std::process::Child {
        use std::os::unix::process::CommandExt;
        let fd = leaf.procs_fd().unwrap();
        let mut cmd = std::process::Command::new("sh");
        cmd.args(["-c", script]).current_dir(dir);
        // SAFETY: write(2) is async-signal-safe; `fd` stays open until the spawn returned.
        unsafe {
            cmd.pre_exec(move || {
                if libc::write(fd, b"0".as_ptr().cast(), 1) < 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        cmd.spawn().unwrap()
    }

    #[test]
    fn what_a_dead_driver_left_is_asked_to_stop_first_and_may_undo_its_work() {
        use std::os::unix::process::ExitStatusExt;
        let id = format!("unit-{}-tidy", std::process::id());
        let Some(leaf) = leftovers_leaf(&id) else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        // Ends on SIGTERM as it comes.
        let mut plain = start_in(&leaf, dir.path(), "exec sleep 1000");
        // Undoes its work when asked to stop, as a shell's trap or a server's shutdown does.
        let mut tidy = start_in(
            &leaf,
            dir.path(),
            "trap 'echo tidied > tidied; exit 0' TERM; sleep 1000 & echo $! > ready; wait",
        );
        // The background child must be `sleep` before it is asked to stop: a SIGTERM that
        // lands between the shell's fork and its exec is taken by the trap the child still
        // has, which the exec then forgets, and the sleep would wait out the whole grace.
        crate::exec::wait_until("the background sleep", || {
            std::fs::read_to_string(dir.path().join("ready"))
                .ok()
                .and_then(|t| t.trim().parse::<i32>().ok())
                .and_then(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).ok())
                .is_some_and(|comm| comm.trim() == "sleep")
        });
        // A grace longer than any test: the wait ends when the cgroup empties, so the kill
        // never comes and each process ends the way SIGTERM ends it.
        let ended = kill_run_within(&id, Duration::from_secs(120), Duration::ZERO, &|_| {});
        for pid in [plain.id(), tidy.id()] {
            assert!(ended.contains(&pid), "{pid} not in {ended:?}");
        }
        assert_eq!(plain.wait().unwrap().signal(), Some(libc::SIGTERM));
        assert_eq!(tidy.wait().unwrap().code(), Some(0));
        assert_eq!(
            std::fs::read_to_string(dir.path().join("tidied")).unwrap(),
            "tidied\n"
        );
        assert!(!leaf.group.exists(), "{}", leaf.group.display());
        assert!(kill_run(&id).is_empty());
    }

    #[test]
    fn what_a_dead_driver_left_and_ignores_sigterm_is_killed_and_the_cgroup_removed() {
        use std::os::unix::process::ExitStatusExt;
        let id = format!("unit-{}-deaf", std::process::id());
        let Some(leaf) = leftovers_leaf(&id) else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        // Ignores the request (its child inherits that): only the kill ends them. `ready` is
        // written by the shell itself, so no short-lived helper is in the cgroup to count.
        let mut deaf = start_in(
            &leaf,
            dir.path(),
            "trap '' TERM; sleep 1000 & : > ready; wait",
        );
        crate::exec::wait_until("the shell's trap", || dir.path().join("ready").exists());
        let ended = kill_run(&id);
        assert!(ended.contains(&deaf.id()), "{} not in {ended:?}", deaf.id());
        assert_eq!(ended.len(), 2, "the shell and its sleep: {ended:?}");
        assert_eq!(deaf.wait().unwrap().signal(), Some(libc::SIGKILL));
        assert!(!leaf.group.exists(), "{}", leaf.group.display());
        assert!(kill_run(&id).is_empty());
    }

    #[test]
    fn a_dead_drivers_git_is_let_finish_while_its_agent_is_stopped() {
        use std::os::unix::process::ExitStatusExt;
        let id = format!("unit-{}-git", std::process::id());
        let Some(agent_leaf) = leftovers_leaf(&id) else {
            return;
        };
        let base = probe().unwrap();
        let git_leaf =
            Leaf::for_helper(&base, &id, &format!("{}-2-0", std::process::id())).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("go");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: mkfifo only reads the NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let mut agent = start_in(&agent_leaf, dir.path(), "exec sleep 1000");
        // Stands for git halfway through its work: it finishes once the fifo says so, and
        // would write down a SIGTERM if one came.
        let mut git = start_in(
            &git_leaf,
            dir.path(),
            "trap 'echo TERM >> signals; exit 143' TERM; : > ready; read go < go; : > finished",
        );
        crate::exec::wait_until("the shell's trap", || dir.path().join("ready").exists());
        let (tx, rx) = std::sync::mpsc::channel();
        let stopper = {
            let id = id.clone();
            std::thread::spawn(move || {
                let on_wait = move |pids: &[i32]| tx.send(pids.to_vec()).unwrap();
                kill_run_within(
                    &id,
                    Duration::from_secs(120),
                    Duration::from_secs(600),
                    &on_wait,
                )
            })
        };
        // The stopper says whom it waits for, and waits: the agent is gone by then, git is not.
        let waited = rx.recv().unwrap();
        assert_eq!(waited, vec![i32::try_from(git.id()).unwrap()]);
        assert_eq!(agent.wait().unwrap().signal(), Some(libc::SIGTERM));
        assert!(
            git.try_wait().unwrap().is_none(),
            "git was stopped, not let finish"
        );
        std::fs::write(&fifo, "go\n").unwrap();
        let ended = stopper.join().unwrap();
        assert!(ended.contains(&git.id()), "{} not in {ended:?}", git.id());
        assert_eq!(git.wait().unwrap().code(), Some(0));
        assert!(dir.path().join("finished").exists());
        assert!(!dir.path().join("signals").exists(), "git got a signal");
        assert!(!agent_leaf.group.exists(), "{}", agent_leaf.group.display());
    }

    /// A pid no process can have: above the kernel's largest.
    fn pid_of_no_process() -> i32 {
        let max: i32 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        max + 1
    }

    #[test]
    fn a_leaf_names_the_orx_process_that_made_it() {
        let ours = i32::try_from(std::process::id()).unwrap();
        let spawn_id = crate::exec::supervisor::next_spawn_id();
        assert_eq!(leaf_owner(Path::new(&spawn_id)), Some(ours));
        let helper = format!("/g/orx-run-x/{HELPER_LEAF}{spawn_id}");
        assert_eq!(leaf_owner(Path::new(&helper)), Some(ours));
        assert_eq!(leaf_owner(Path::new("/g/orx-run-x/leaf")), None);
        assert!(!gone(ours));
        assert!(gone(pid_of_no_process()));
    }

    #[test]
    fn the_empty_leaves_of_a_dead_orx_are_swept_and_then_its_run_cgroup() {
        let id = format!("unit-{}-swept", std::process::id());
        let base = match probe() {
            Ok(base) => base,
            Err(why) => {
                eprintln!("no cgroup v2 to create here ({why}): nothing to test");
                return;
            }
        };
        // The dead orx: a process of this test's own, which the sweep here is told is gone. A
        // sweep any other test runs meanwhile sees it alive and leaves its leaves alone, and
        // the sweep here touches no other test's leaves (those are named after this process).
        let mut owner = std::process::Command::new("sleep")
            .arg("1000")
            .spawn()
            .unwrap();
        let ours = i32::try_from(owner.id()).unwrap();
        let dead = |pid: i32| pid == ours;
        let held = Leaf::create(&base, Some(&id), &format!("{ours}-1-0")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        // A stray of the dead run, still in its leaf.
        let mut stray = start_in(&held, dir.path(), "exec sleep 1000");
        crate::exec::wait_until("the stray in its leaf", || !members(&held.dir).is_empty());
        let empty = Leaf::create(&base, Some(&id), &format!("{ours}-2-0")).unwrap();
        let git = Leaf::for_helper(&base, &id, &format!("{ours}-3-0")).unwrap();
        // Made by a process that is there (init).
        let live = Leaf::create(&base, Some(&id), "1-4-0").unwrap();

        sweep_dead_owners(&base, dead);
        assert!(
            !empty.dir.exists() && !git.dir.exists(),
            "dead and empty: swept"
        );
        assert!(
            held.dir.exists(),
            "a stray's leaf is for its run's resume to end"
        );
        assert!(live.dir.exists(), "a live orx's leaf stays");

        stray.kill().unwrap();
        stray.wait().unwrap();
        live.remove();
        crate::exec::wait_until("the stray's leaf to empty", || {
            members(&held.dir).is_empty()
        });
        sweep_dead_owners(&base, dead);
        assert!(!held.dir.exists(), "{}", held.dir.display());
        assert!(!held.group.exists(), "{}", held.group.display());
        owner.kill().unwrap();
        owner.wait().unwrap();
    }

    #[test]
    fn only_plain_run_ids_name_a_run_cgroup() {
        assert_eq!(
            group_name(Some("20260101-000000-abc")),
            "orx-run-20260101-000000-abc"
        );
        let pid = format!("orx-pid-{}", std::process::id());
        for bad in [None, Some(""), Some("../x"), Some("a/b"), Some(".hidden")] {
            assert_eq!(group_name(bad), pid, "{bad:?}");
        }
    }
}
