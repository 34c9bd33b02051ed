//! The run lock: exactly one orx process may drive (or clean) a run at a time.
//!
//! A lock file holding only the pid and the process start time could go stale. orx takes
//! that further: the authority is an `flock` on `runs/<id>/lock`, which the kernel releases
//! when the holder dies, even by `kill -9`, so a stale lock can never block a resume and two
//! resumers can never both win. The pid and start time are still written into the file, and
//! `orx status` reads them to tell a live run from a dead one *without* taking the lock, so a
//! status probe never races a resume. A pid reused by another program is detected through the
//! start time in `/proc/<pid>/stat`.
//!
//! `orx clean` renames the run folder away before it lets go of the lock, and a lock won on a
//! file that is no longer at its path is refused, so a resume racing a clean sees either a busy
//! run or a removed one, never a half-removed folder (found by the concurrency campaign,
//! tests/it/torture/concurrency.rs).
//!
//! A lock can outlive its holder by a moment: a child the holder forked keeps the descriptor
//! until it execs (the descriptor is close-on-exec) or dies (`PR_SET_PDEATHSIG`). A resume that
//! arrives in that moment, right after a `kill -9`, would otherwise be told the run is busy; so
//! while the recorded holder is dead, acquiring waits for the lock to be let go.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::io::AsRawFd;
use std::path::Path;

use super::error::{Result, StoreError};
use crate::error::file::FileError;

/// A held run lock; released on drop (or by the kernel if the process dies).
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

impl RunLock {
    /// Take the lock or fail with a `Busy` error naming the holder; a run removed meanwhile
    /// (by `orx clean` in another process) is a usage error saying so.
    pub fn acquire(path: &Path, run_id: &str) -> Result<RunLock> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| match e.kind() {
                // The run folder is gone: removed between the caller's check and this open.
                std::io::ErrorKind::NotFound => removed(run_id),
                _ => FileError::own("open", path, e).into(),
            })?;
        Self::lock_opened(file, path, run_id)
    }

    /// Take the lock, waiting for its holder to let it go (a run told to stop, for
    /// `orx takeover`): a blocking `flock`, so the wait ends at the release itself. A run removed
    /// meanwhile is refused as in [`acquire`](Self::acquire).
    pub fn acquire_waiting(path: &Path, run_id: &str) -> Result<RunLock> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => removed(run_id),
                _ => FileError::own("open", path, e).into(),
            })?;
        #[cfg(test)]
        tests::blocking_on(path);
        loop {
            // SAFETY: flock on a valid open descriptor has no memory-safety preconditions.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
                break;
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(FileError::own("lock", path, e).into());
            }
        }
        // Held now; `lock_opened` re-takes it on the same descriptor (a no-op) and checks that
        // the file is still the one at `path`.
        Self::lock_opened(file, path, run_id)
    }

    /// Lock a file opened at `path`. `orx clean` renames the run folder away while it holds
    /// the lock, so a lock won after that on a file opened before it is void: the file must
    /// still be the one at `path` (same device and inode).
    fn lock_opened(mut file: File, path: &Path, run_id: &str) -> Result<RunLock> {
        let mut locked = try_lock(&file);
        if !locked && holder_alive(path).is_none() {
            // The recorded holder is dead, yet the lock is held: a child it forked still has
            // the descriptor between fork and exec (exec closes it, and PR_SET_PDEATHSIG kills
            // a child whose parent died before that). It lasts a moment; wait for it instead of
            // calling the run busy. A live orx that locked but has not written its pid yet ends
            // the wait as soon as it does, and is then reported busy as before.
            #[cfg(test)]
            tests::waiting_for_dead_holder(path);
            let deadline = std::time::Instant::now() + DEAD_HOLDER_WAIT;
            while !locked && holder_alive(path).is_none() && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(5));
                locked = try_lock(&file);
            }
        }
        if !locked {
            return Err(StoreError::Busy {
                run_id: run_id.to_string(),
                pid: read_holder(path).map(|(pid, _)| pid),
            });
        }
        let same = match (file.metadata(), std::fs::metadata(path)) {
            (Ok(held), Ok(now)) => held.dev() == now.dev() && held.ino() == now.ino(),
            _ => false,
        };
        if !same {
            return Err(removed(run_id));
        }
        let me = std::process::id();
        let start = process_start_time(me).unwrap_or(0);
        let _ = file.set_len(0);
        let _ = file.rewind();
        // Not synced: the holder it names matters only while that process lives, and a power
        // loss ends every holder.
        let _ = writeln!(file, "{me} {start}");
        Ok(RunLock { _file: file })
    }
}

/// How long a lock whose recorded holder is dead may stay held by that holder's forked child.
const DEAD_HOLDER_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// One non-blocking attempt at the exclusive lock.
fn try_lock(file: &File) -> bool {
    // SAFETY: flock on a valid open descriptor has no memory-safety preconditions.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

/// The error for a run whose folder another process removed while this one was getting to it.
fn removed(run_id: &str) -> StoreError {
    StoreError::RunRemoved {
        run_id: run_id.to_string(),
    }
}

/// The pid and start time recorded in a lock file.
pub fn read_holder(path: &Path) -> Option<(u32, u64)> {
    let mut s = String::new();
    File::open(path).ok()?.read_to_string(&mut s).ok()?;
    let mut parts = s.split_whitespace();
    let pid = parts.next()?.parse().ok()?;
    let start = parts.next()?.parse().ok()?;
    Some((pid, start))
}

/// Whether the process recorded in the lock file is alive and is the same process (same start
/// time), read without taking the lock.
pub fn holder_alive(path: &Path) -> Option<u32> {
    let (pid, start) = read_holder(path)?;
    match process_start_time(pid) {
        Some(s) if s == start => Some(pid),
        _ => None,
    }
}

/// Field 22 of `/proc/<pid>/stat`: start time in clock ticks since boot.
pub fn process_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces and parens; skip past its last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    // rest starts at field 3; field 22 is index 19 here.
    rest.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::process::{Command, Stdio};
    use std::sync::Mutex;

    /// The lock files an acquire started waiting on for a dead holder's child to let go.
    static WAITING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

    pub(super) fn waiting_for_dead_holder(path: &Path) {
        WAITING.lock().unwrap().push(path.to_path_buf());
    }

    /// The lock files a waiting acquire is about to block on.
    static BLOCKING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

    pub(super) fn blocking_on(path: &Path) {
        BLOCKING.lock().unwrap().push(path.to_path_buf());
    }

    /// Another process holding the lock at `p` until [`let_go`].
    fn held_elsewhere(p: &Path) -> std::process::Child {
        let mut child = Command::new("flock")
            .arg(p)
            .args(["sh", "-c", "echo held; read _"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        assert_eq!(line, "held\n");
        child
    }

    fn let_go(mut child: std::process::Child) {
        let mut stdin = child.stdin.take().unwrap();
        let _ = stdin.write_all(b"go\n");
        drop(stdin);
        child.wait().unwrap();
    }

    #[test]
    fn a_lock_left_held_by_a_dead_holders_child_is_waited_for_not_busy() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("lock");
        // The recorded holder is dead (a pid that cannot exist)...
        std::fs::write(&p, "999999999 5\n").unwrap();
        // ...but a process it "forked" still holds the lock, until told to go.
        let child = held_elsewhere(&p);
        let path = p.clone();
        let acquiring = std::thread::spawn(move || RunLock::acquire(&path, "r1").map(|_| ()));
        // Let the child go only once the acquire is waiting for it (or has given up at once,
        // which is the defect this test catches).
        while !WAITING.lock().unwrap().contains(&p) && !acquiring.is_finished() {
            std::thread::yield_now();
        }
        let_go(child);
        acquiring.join().unwrap().unwrap();
    }

    #[test]
    fn a_waiting_acquire_gets_the_lock_when_its_holder_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("lock");
        // Another process holds the lock until told to go.
        let child = held_elsewhere(&p);
        let path = p.clone();
        let acquiring =
            std::thread::spawn(move || RunLock::acquire_waiting(&path, "r1").map(|_| ()));
        // Let the holder go only once the acquire is about to block on it.
        while !BLOCKING.lock().unwrap().contains(&p) && !acquiring.is_finished() {
            std::thread::yield_now();
        }
        let_go(child);
        acquiring.join().unwrap().unwrap();
        let (pid, _) = read_holder(&p).unwrap();
        assert_eq!(pid, std::process::id());
    }

    #[test]
    fn second_acquire_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("lock");
        let held = RunLock::acquire(&p, "r1").unwrap();
        let err = RunLock::acquire(&p, "r1").unwrap_err();
        let me = std::process::id();
        assert!(
            matches!(&err, StoreError::Busy { run_id, pid } if run_id == "r1" && *pid == Some(me)),
            "{err:?}"
        );
        assert!(err.to_string().ends_with(&format!("(pid {me})")), "{err}");
        assert_eq!(holder_alive(&p), Some(std::process::id()));
        drop(held);
        RunLock::acquire(&p, "r1").unwrap();
    }

    #[test]
    fn a_lock_on_a_removed_run_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("r1");
        std::fs::create_dir(&run).unwrap();
        let p = run.join("lock");
        drop(RunLock::acquire(&p, "r1").unwrap());
        // Opened before `orx clean` renamed the folder away, locked after it let go.
        let early = File::open(&p).unwrap();
        std::fs::rename(&run, dir.path().join(".removing-r1")).unwrap();
        let err = RunLock::lock_opened(early, &p, "r1").unwrap_err();
        assert!(matches!(err, StoreError::RunRemoved { .. }), "{err:?}");
        assert!(err.to_string().contains("no longer exists"), "{err}");
        // Opened after: the folder is gone, and nothing is created in its place.
        let err = RunLock::acquire(&p, "r1").unwrap_err();
        assert!(matches!(err, StoreError::RunRemoved { .. }), "{err:?}");
        assert!(!run.exists());
    }

    #[test]
    fn a_dead_or_reused_pid_is_not_alive() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("lock");
        // Our own pid with a wrong start time: a reused pid.
        std::fs::write(&p, format!("{} 1\n", std::process::id())).unwrap();
        assert_eq!(holder_alive(&p), None);
        std::fs::write(&p, "999999999 5\n").unwrap();
        assert_eq!(holder_alive(&p), None);
    }
}
