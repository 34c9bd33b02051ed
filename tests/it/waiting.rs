//! Waiting for events instead of time: [`until`] re-checks a condition with no deadline of its
//! own, and [`Hold`] keeps a run at a chosen stage until the test lets it go.
//!
//! A test whose outcome depends on how fast the machine is (a sleep standing in for "the run
//! has started", a short deadline, a kill at an instant that may or may not still be mid-run)
//! fails on a loaded machine with a correct orx, or passes with a broken one. So tests wait
//! for the event they need: a file appearing, a line arriving, a process ending. The only
//! clock left is [`SAFETY_BOUND`], minutes long, which turns a hang into a failure and decides
//! nothing else. A run that must still be live when the test acts on it (cancel it, refuse a
//! second driver, kill it mid-run, outlive a server) is held by a hook (`stage_start` of one
//! stage, or any hook event under a shell condition): it marks that it got there, then waits
//! for the test's release file, so "still live" is a fact, not a race. orx ends the hook like any other (a cancel interrupts it), and once released every
//! later pass goes straight through.

use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::yaml_str;

/// How long any wait may take before the test gives up: a hang detector, not a timing claim.
pub const SAFETY_BOUND: Duration = Duration::from_secs(300);

/// Re-check `f` until it answers `Some`, every 20 ms; panics (naming `what`) only after
/// [`SAFETY_BOUND`].
pub fn until<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    until_ok(what, || f().ok_or_else(String::new))
}

/// [`until`] for a check that says what it saw when it is not there yet (`Err`), so that a
/// hang names the last thing seen.
pub fn until_ok<T>(what: &str, mut f: impl FnMut() -> Result<T, String>) -> T {
    let start = Instant::now();
    loop {
        let seen = match f() {
            Ok(v) => return v,
            Err(seen) => seen,
        };
        assert!(
            start.elapsed() < SAFETY_BOUND,
            "still waiting after {SAFETY_BOUND:?} for {what}; last seen: {seen}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Wait until no process holds the lock of the run in `run_dir` (a missing lock is free).
/// After a SIGKILL of its driver this is not immediate: a child the driver had just forked
/// shares the locked file until it execs, which on a loaded machine can take a while.
pub fn lock_released(run_dir: &Path) {
    let path = run_dir.join("lock");
    until(&format!("{} to be released", path.display()), || {
        let Ok(f) = std::fs::File::open(&path) else {
            return Some(());
        };
        // SAFETY: flock on a valid open descriptor has no memory-safety preconditions; the
        // lock, if won, goes with `f` at the end of this closure.
        let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        (rc == 0).then_some(())
    });
}

/// A hold on the runs of one repository at the start of one stage (see the module doc).
/// Dropping it releases them too (the folder the hook watches is gone), so a failing test
/// leaves no run held, detached ones included.
pub struct Hold {
    dir: tempfile::TempDir,
}

impl Hold {
    /// A closed hold: runs stop at the stage until [`Hold::release`].
    pub fn new() -> Hold {
        Hold {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// The `hooks:` block of orx.yaml that holds every run at the start of `stage`.
    pub fn hooks(&self, stage: &str) -> String {
        self.hooks_on("stage_start", &format!("[ \"$ORX_STAGE\" = {stage} ]"))
    }

    /// The `hooks:` block that holds a run at hook `event` when the shell test `when` holds
    /// (e.g. `run_start` when `[ "$ORX_STATUS" = resumed ]`).
    pub fn hooks_on(&self, event: &str, when: &str) -> String {
        let d = self.dir.path().display();
        let cmd = format!(
            "if {when}; then : > \"{d}/at-$ORX_RUN_ID\"; \
             while [ -d \"{d}\" ] && [ ! -e \"{d}/release\" ]; do sleep 0.05; done; fi"
        );
        // The hook's own timeout is a safety bound too: a hold nobody releases ends.
        format!(
            "hooks:\n  {event}:\n    - command: {}\n      timeout: {}\n",
            yaml_str(&cmd),
            SAFETY_BOUND.as_secs() * 2
        )
    }

    fn mark(&self, id: &str) -> PathBuf {
        self.dir.path().join(format!("at-{id}"))
    }

    /// Wait until run `id` is held.
    pub fn wait(&self, id: &str) {
        until(&format!("run {id} to reach the hold"), || {
            self.mark(id).exists().then_some(())
        });
    }

    /// Wait until a run not in `known` is held; its id.
    pub fn wait_new(&self, known: &[String]) -> String {
        until("a new run to reach the hold", || {
            std::fs::read_dir(self.dir.path())
                .ok()?
                .flatten()
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.strip_prefix("at-").map(String::from)
                })
                .find(|id| !known.contains(id))
        })
    }

    /// Let every held run go on, and every later one pass.
    pub fn release(&self) {
        std::fs::write(self.dir.path().join("release"), "").expect("write the release file");
    }

    /// Close the hold again: the next run to reach the stage stops there.
    pub fn close(&self) {
        let _ = std::fs::remove_file(self.dir.path().join("release"));
    }
}
