//! Signalling a process that orx did not start, named only by its pid, without racing its exit.
//!
//! `orx serve` cancels a run by signalling the process that holds the run's lock, and
//! `orx clean --orphans` stops strays it found in `/proc`. Both learn a pid first and act on it
//! later, and in between the process may exit: then `kill(2)` fails with `ESRCH`, or worse, the
//! pid has been reused and the signal reaches an unrelated program. A [`ProcessHandle`] closes
//! both windows the way the kernel intends: it is a pidfd (`pidfd_open(2)`), which keeps naming
//! the same process even after its pid is reused, so a caller opens the handle, then checks
//! that the process is the one it wants (its start time), then signals through the handle. A
//! process that is gone is a [`Signalled::Gone`] value, never an error, because "it already
//! exited" is an answer the caller must interpret (a finished run), not a failure of orx. On a
//! kernel without pidfds (before Linux 5.3) the handle falls back to the pid and `kill(2)`,
//! whose `ESRCH` is still reported as `Gone`.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// How long the processes a dead driver left behind get to end on SIGTERM before SIGKILL, in
/// every mode: short enough not to hold up the resume or clean that found them.
pub const LEFTOVER_GRACE: Duration = Duration::from_millis(300);

/// How long a resume or clean lets the git processes a dead driver left running finish on
/// their own before it stops them as other leftovers are stopped. git signalled in the middle
/// of an update can leave its lock file behind even on SIGTERM (about one SIGTERM in a hundred
/// sent to a `git worktree add` did, `bench/git_sigterm_locks.py`), and a shared lock such as `packed-refs.lock` then refuses every
/// later ref deletion in the repository; left alone, git always ends by itself, and a push or
/// a checkout takes seconds, not minutes.
pub const HELPER_WAIT: Duration = Duration::from_secs(60);

/// How a signal sent through a [`ProcessHandle`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signalled {
    /// The process existed and the signal was queued for it.
    Delivered,
    /// The process had already exited (and may have been reaped).
    Gone,
}

/// A handle on one process, stable across pid reuse where the kernel supports pidfds.
#[derive(Debug)]
pub struct ProcessHandle {
    pid: i32,
    fd: Option<OwnedFd>,
}

impl ProcessHandle {
    /// A handle on process `pid`, or `Ok(None)` when no such process exists.
    pub fn open(pid: u32) -> io::Result<Option<ProcessHandle>> {
        let Ok(pid) = i32::try_from(pid) else {
            return Ok(None);
        };
        if pid <= 0 {
            return Ok(None);
        }
        // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1; it has
        // no memory-safety preconditions.
        let rc = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if rc >= 0 {
            let raw = i32::try_from(rc).map_err(|_| io::Error::other("pidfd out of range"))?;
            // SAFETY: `raw` is a descriptor the kernel just returned to us and nothing else owns.
            let fd = unsafe { OwnedFd::from_raw_fd(raw) };
            return Ok(Some(ProcessHandle { pid, fd: Some(fd) }));
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::ESRCH) => Ok(None),
            // No pidfds on this kernel (or blocked by a seccomp filter): fall back to the pid.
            Some(libc::ENOSYS) | Some(libc::EPERM) => {
                // SAFETY: kill with signal 0 only checks that the process exists.
                let alive = unsafe { libc::kill(pid, 0) } == 0
                    || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
                Ok(alive.then_some(ProcessHandle { pid, fd: None }))
            }
            _ => Err(err),
        }
    }

    pub fn pid(&self) -> u32 {
        self.pid.unsigned_abs()
    }

    /// Send `signal`; a process that exited since the handle was opened is `Gone`.
    pub fn signal(&self, signal: i32) -> io::Result<Signalled> {
        let rc = match &self.fd {
            // SAFETY: pidfd_send_signal with a valid pidfd, a valid signal, a null siginfo and
            // no flags has no memory-safety preconditions.
            Some(fd) => unsafe {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    fd.as_raw_fd(),
                    signal,
                    std::ptr::null::<libc::siginfo_t>(),
                    0,
                )
            },
            // SAFETY: kill(2) with a positive pid has no memory-safety preconditions.
            None => i64::from(unsafe { libc::kill(self.pid, signal) }),
        };
        if rc == 0 {
            return Ok(Signalled::Delivered);
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::ESRCH) => Ok(Signalled::Gone),
            _ => Err(err),
        }
    }

    /// Wait up to `limit` for the process to exit; whether it did. With a pidfd this waits for
    /// the kernel's exit notification (the descriptor becomes readable), so it returns as soon
    /// as the process is gone; without one it probes the pid.
    pub fn wait_exit(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match &self.fd {
                Some(fd) => {
                    let mut p = libc::pollfd {
                        fd: fd.as_raw_fd(),
                        events: libc::POLLIN,
                        revents: 0,
                    };
                    let ms = i32::try_from(left.as_millis()).unwrap_or(i32::MAX);
                    // SAFETY: `p` is one valid pollfd that outlives the call.
                    let rc = unsafe { libc::poll(&mut p, 1, ms) };
                    if rc > 0 {
                        return true;
                    }
                    if rc < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                        continue;
                    }
                    if rc < 0 {
                        return false;
                    }
                }
                None => {
                    if matches!(self.signal(0), Ok(Signalled::Gone)) {
                        return true;
                    }
                    std::thread::sleep(Duration::from_millis(20).min(left));
                }
            }
            if left.is_zero() {
                return false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn a_process_that_exited_and_was_reaped_is_gone_not_an_error() {
        let mut child = Command::new("sleep").arg("600").spawn().unwrap();
        let h = ProcessHandle::open(child.id()).unwrap().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        // The pid is free now (and may be reused at any moment): the handle still names the
        // process that exited, so the signal cannot reach anything else.
        assert_eq!(h.signal(libc::SIGINT).unwrap(), Signalled::Gone);
        assert!(h.wait_exit(Duration::ZERO));
    }

    #[test]
    fn a_live_process_gets_the_signal_and_its_exit_is_seen() {
        let mut child = Command::new("sleep").arg("600").spawn().unwrap();
        let h = ProcessHandle::open(child.id()).unwrap().unwrap();
        assert!(!h.wait_exit(Duration::ZERO));
        assert_eq!(h.signal(libc::SIGTERM).unwrap(), Signalled::Delivered);
        // The exit notification arrives once the child is a zombie, before it is reaped.
        assert!(h.wait_exit(Duration::from_secs(600)));
        let status = child.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(libc::SIGTERM));
    }

    #[test]
    fn no_such_process_has_no_handle() {
        assert!(ProcessHandle::open(0).unwrap().is_none());
        assert!(ProcessHandle::open(u32::MAX).unwrap().is_none());
        // pid_max is at most 2^22 on Linux.
        assert!(ProcessHandle::open(5_000_000).unwrap().is_none());
    }
}
