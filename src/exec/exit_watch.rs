//! Waiting for a supervised child's exit as an event, not by probing on a timer.
//!
//! The supervision loop must not reap the child before its tree is cleaned up (the zombie keeps
//! its pid and process group from being reused), so it cannot block in `waitpid`. A pidfd
//! (`pidfd_open(2)`) becomes readable the moment the child exits, zombie or not, so `poll` on
//! it wakes the loop exactly then while leaving the child unreaped. Each call saves the fixed
//! interval a sleep-and-probe loop would lose after every child: a run starts dozens. Without
//! pidfds (kernels before 5.3, a seccomp filter) the watch falls back to probing with
//! `waitid(WNOWAIT)` every few milliseconds.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// How often the fallback probes the child without a pidfd.
const PROBE: Duration = Duration::from_millis(5);

/// Whether child `pid` has exited, without reaping it.
pub(crate) fn exited_without_reaping(pid: i32) -> bool {
    // SAFETY: siginfo_t is plain data for which all-zero bytes are a valid value.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: waitid writes only to `info`, a valid local.
    let rc = unsafe {
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    if rc != 0 {
        // ECHILD: it is not waitable at all, so there is nothing left to wait for.
        return io::Error::last_os_error().raw_os_error() != Some(libc::EINTR);
    }
    // SAFETY: after a successful waitid the pid field is initialised (0 when none exited).
    unsafe { info.si_pid() != 0 }
}

/// The exit of one child of this process, to wait for.
pub(crate) struct ExitWatch {
    pid: i32,
    pidfd: Option<OwnedFd>,
}

impl ExitWatch {
    /// Watch child `pid` (which must not have been reaped yet).
    pub(crate) fn new(pid: i32) -> ExitWatch {
        // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1; it has
        // no memory-safety preconditions.
        let rc = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        let pidfd = i32::try_from(rc).ok().filter(|fd| *fd >= 0).map(|fd| {
            // SAFETY: `fd` is a descriptor the kernel just returned to us and nothing else owns.
            unsafe { OwnedFd::from_raw_fd(fd) }
        });
        ExitWatch { pid, pidfd }
    }

    /// Call `wake` from a thread of its own once the child has exited (zombie or not), so a
    /// loop waiting for something else (the child's output) hears of the exit at once instead
    /// of probing for it on a timer. `false` where the exit cannot be watched as an event (no
    /// pidfd, no thread): the caller then probes.
    pub(crate) fn on_exit(&self, wake: impl FnOnce() + Send + 'static) -> bool {
        let Some(fd) = self.pidfd.as_ref().and_then(|fd| fd.try_clone().ok()) else {
            return false;
        };
        std::thread::Builder::new()
            .name("orx-exec-exit".to_string())
            .spawn(move || {
                // Readable: the child exited (a pidfd stays readable once reaped, so this ends
                // even if the exit was already handled). An error other than EINTR is not
                // expected with a valid pidfd; waking is harmless, the loop probes.
                while poll_in(&fd, -1) == PollIn::Interrupted {}
                wake();
            })
            .is_ok()
    }

    /// Wait up to `limit` for the child to exit; whether it has. The child is left unreaped.
    pub(crate) fn wait(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            if exited_without_reaping(self.pid) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            match &self.pidfd {
                Some(fd) => {
                    // Rounded up, so a wait shorter than a millisecond still blocks.
                    let ms = i32::try_from(left.as_micros().div_ceil(1000)).unwrap_or(i32::MAX);
                    if poll_in(fd, ms) == PollIn::Failed {
                        // Not expected with a valid pidfd; probe like the fallback.
                        std::thread::sleep(PROBE.min(left));
                    }
                }
                None => std::thread::sleep(PROBE.min(left)),
            }
        }
    }
}

/// What one `poll` for readability of `fd` ended with.
#[derive(Debug, PartialEq, Eq)]
enum PollIn {
    /// Readable, or the time ran out (the caller looks again either way).
    Done,
    /// A signal arrived first.
    Interrupted,
    /// Any other error.
    Failed,
}

/// Wait up to `ms` milliseconds (-1: no limit) for `fd` to become readable.
fn poll_in(fd: &OwnedFd, ms: i32) -> PollIn {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `p` is one valid pollfd that outlives the call.
    if unsafe { libc::poll(&mut p, 1, ms) } >= 0 {
        return PollIn::Done;
    }
    match io::Error::last_os_error().kind() {
        io::ErrorKind::Interrupted => PollIn::Interrupted,
        _ => PollIn::Failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    /// Only a bound that turns a hang into a failure; the waits below end on the exit itself.
    const HANG: Duration = Duration::from_secs(120);

    #[test]
    fn an_exit_is_seen_and_the_child_is_left_to_reap() {
        let mut child = Command::new("sh")
            .args(["-c", "read line"])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = i32::try_from(child.id()).unwrap();
        let watch = ExitWatch::new(pid);
        // Still running: it waits for a line on stdin.
        assert!(!watch.wait(Duration::ZERO));
        assert!(!exited_without_reaping(pid));
        drop(child.stdin.take()); // end of file: `read` fails and the shell exits
        assert!(watch.wait(HANG));
        // Not reaped by the watch: the zombie is still ours to wait for, with its status.
        assert!(exited_without_reaping(pid));
        assert!(child.wait().unwrap().code().is_some());
    }
}
