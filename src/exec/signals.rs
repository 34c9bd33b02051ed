//! Ctrl-C and SIGTERM handling for orx and the registry of live child process groups.
//!
//! Every supervised child runs in its own process group, so the terminal's Ctrl-C (SIGINT to
//! the *foreground* group) reaches orx but not the child. That isolation is deliberate (a
//! Ctrl-C must not kill an agent halfway through writing a file while orx is not looking) and
//! it is the same reasoning cargo-nextest documents for its per-test process groups and uv
//! applies in `uv run`: the parent owns the signal and forwards it. Here the first SIGINT or
//! SIGTERM only raises a flag; the supervisor's loop sees it, stops its child gracefully
//! (SIGTERM to the group, grace period, SIGKILL) and reports `Termination::Interrupted`, and
//! the runner records the interruption. A second signal means "now": every registered group
//! is SIGKILLed and orx exits with code 130.
//!
//! The signals are received by signal-hook's iterator on a background thread, so nothing here
//! runs in async-signal context and plain locks are fine.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Once};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use super::stream::{lock, LineQueue};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static INSTALL: Once = Once::new();
/// Process group ids of the children currently being supervised.
static LIVE_GROUPS: Mutex<Vec<i32>> = Mutex::new(Vec::new());
/// The queues the running supervision loops wait on.
static WAITING: Mutex<Vec<Arc<LineQueue>>> = Mutex::new(Vec::new());

/// Route SIGINT, SIGTERM and SIGHUP (terminal closed) to orx's interrupt handling. Safe to call more than once; only
/// the first call installs anything. Until it is called, the signals keep their default
/// action (orx dies at once, and its children in their own groups are left running).
pub fn install_interrupt_handler() {
    INSTALL.call_once(|| {
        let mut signals = match Signals::new([SIGINT, SIGTERM, SIGHUP]) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("cannot install the Ctrl-C handler: {e}; Ctrl-C kills orx at once");
                return;
            }
        };
        let spawned = std::thread::Builder::new()
            .name("orx-signals".to_string())
            .spawn(move || {
                let mut received = 0u32;
                for sig in signals.forever() {
                    received += 1;
                    if received == 1 {
                        request_interrupt();
                        tracing::warn!(
                            "signal {sig} received: stopping the running child (send it again to kill it now)"
                        );
                    } else {
                        kill_all_groups_and_exit(130);
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::warn!("cannot start the signal thread: {e}; Ctrl-C is ignored by orx");
        }
    });
}

/// Whether an interrupt (first Ctrl-C, SIGTERM or [`request_interrupt`]) is pending.
pub fn interrupt_requested() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Ask the running supervisor loops to stop their children as if Ctrl-C had been pressed.
pub fn request_interrupt() {
    INTERRUPTED.store(true, Ordering::SeqCst);
    wake_waiting();
}

/// Wake every waiting supervision loop, so each looks at the interrupt flag now.
fn wake_waiting() {
    for queue in lock(&WAITING).iter() {
        queue.wake();
    }
}

/// Register the queue a supervision loop waits on, so an interrupt wakes it at once (the loop
/// otherwise sleeps until its child's next line, its exit or its next deadline).
pub(crate) fn register_waiting(queue: &Arc<LineQueue>) {
    lock(&WAITING).push(Arc::clone(queue));
}

/// Forget a queue registered with [`register_waiting`].
pub(crate) fn unregister_waiting(queue: &Arc<LineQueue>) {
    let mut waiting = lock(&WAITING);
    if let Some(i) = waiting.iter().position(|q| Arc::ptr_eq(q, queue)) {
        waiting.swap_remove(i);
    }
}

/// Forget a pending interrupt (for a server that handled it, and for tests).
#[doc(hidden)]
pub fn clear_interrupt() {
    INTERRUPTED.store(false, Ordering::SeqCst);
}

/// Record a live child group so a second Ctrl-C can kill it.
pub(crate) fn register_group(pgid: i32) {
    lock(&LIVE_GROUPS).push(pgid);
}

/// Forget a group once its child is reaped.
pub(crate) fn unregister_group(pgid: i32) {
    let mut groups = lock(&LIVE_GROUPS);
    if let Some(i) = groups.iter().position(|g| *g == pgid) {
        groups.swap_remove(i);
    }
}

/// The registered groups: the pids of the direct children being supervised right now.
pub(crate) fn live_groups() -> Vec<i32> {
    lock(&LIVE_GROUPS).clone()
}

/// SIGKILL every registered group and end what is in the children's cgroups (the second
/// Ctrl-C), then exit with `code`. The registry stays locked until the exit, so a supervisor
/// whose child just died cannot finish its call and report an ordinary end in between.
fn kill_all_groups_and_exit(code: i32) -> ! {
    let groups = lock(&LIVE_GROUPS);
    for pgid in groups.iter() {
        super::reap::signal_group(*pgid, libc::SIGKILL);
    }
    super::cgroup::kill_live();
    std::process::exit(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    use std::time::Duration;

    #[test]
    fn an_interrupt_wakes_a_waiting_loop_at_once() {
        // A loop waiting an hour for its child's next line hears of the interrupt now. Other
        // tests' loops woken on the way only look at their own checks again.
        let queue = Arc::new(LineQueue::new(1024, 1));
        register_waiting(&queue);
        let waiter = {
            let queue = Arc::clone(&queue);
            std::thread::spawn(move || queue.pop(Duration::from_secs(3600)))
        };
        // Woken before or while it waits: either way `pop` ends with nothing.
        wake_waiting();
        assert!(matches!(
            waiter.join().unwrap(),
            super::super::stream::Pop::Empty
        ));
        unregister_waiting(&queue);
        assert!(!lock(&WAITING).iter().any(|q| Arc::ptr_eq(q, &queue)));
    }

    /// Set in the re-executed test binary to run [`signal_helper`] for real.
    const HELPER_ENV: &str = "ORX_EXEC_SIGNAL_HELPER";

    #[test]
    fn group_registry_adds_and_removes() {
        register_group(999_999_001);
        assert!(lock(&LIVE_GROUPS).contains(&999_999_001));
        unregister_group(999_999_001);
        assert!(!lock(&LIVE_GROUPS).contains(&999_999_001));
    }

    /// Not a test on its own: the body of the helper process used by the tests below. It
    /// installs the handler, supervises a child and prints how it ended.
    #[test]
    #[ignore = "helper process for the signal tests"]
    fn signal_helper() {
        let Ok(mode) = std::env::var(HELPER_ENV) else {
            return;
        };
        install_interrupt_handler();
        install_interrupt_handler(); // idempotent

        // Watchdog: a broken handler must fail the test, not hang it (a hang detector, far
        // longer than anything here takes on a loaded machine).
        std::thread::spawn(|| {
            std::thread::sleep(Duration::from_secs(120));
            kill_all_groups_and_exit(3);
        });
        let script = match mode.as_str() {
            "graceful" => "echo started $$; sleep 1000",
            // Survives SIGTERM, saying so: the sign that the first Ctrl-C was handled.
            _ => "trap 'echo term' TERM; echo started $$; while :; do sleep 0.05; done",
        };
        let mut spec = super::super::CommandSpec::new("sh", std::env::temp_dir());
        spec.args = vec!["-c".into(), script.into()];
        spec.grace = Duration::from_secs(60);
        let info = super::super::run(&spec, &mut |_, line| {
            println!("child: {line}");
            super::super::Control::Continue
        })
        .unwrap();
        println!("ended: {:?}", info.termination);
    }

    /// Run the helper in `mode`, send it `signals` SIGINTs once its child has started, and
    /// return its exit code, the lines it printed and the pid of its child. A further SIGINT
    /// waits until the child reported the SIGTERM of the one before (two sent at once could
    /// arrive as one).
    fn run_helper(mode: &str, signals: usize) -> (Option<i32>, Vec<String>, i32) {
        // The helper's killed children are reparented to us when it exits: reap them below.
        super::super::reap::become_subreaper();
        let exe = std::env::current_exe().unwrap();
        let mut helper = Command::new(exe)
            .args([
                "--exact",
                "exec::signals::tests::signal_helper",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(HELPER_ENV, mode)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(helper.stdout.take().unwrap()).lines();
        let mut seen = Vec::new();
        let mut child = 0;
        for line in lines.by_ref() {
            let line = line.unwrap();
            // libtest prints "test ... " without a newline before the helper's own output.
            if let Some(pid) = line.split("child: started ").nth(1) {
                child = pid.trim().parse().unwrap();
                seen.push(line);
                break;
            }
            seen.push(line);
        }
        assert!(child > 0, "the helper's child never started: {seen:?}");
        for n in 0..signals {
            // SAFETY: kill has no memory-safety preconditions.
            unsafe { libc::kill(helper.id() as i32, libc::SIGINT) };
            if n + 1 < signals {
                for line in lines.by_ref() {
                    let line = line.unwrap();
                    let handled = line.contains("child: term");
                    seen.push(line);
                    if handled {
                        break;
                    }
                }
            }
        }
        seen.extend(lines.map_while(Result::ok));
        (helper.wait().unwrap().code(), seen, child)
    }

    /// Whether `pid` is still a running (not dead, not zombie) process.
    fn running(pid: i32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| s.rsplit(") ").next().is_some_and(|r| !r.starts_with('Z')))
            .unwrap_or(false)
    }

    #[test]
    fn first_ctrl_c_stops_the_child_gracefully() {
        let (code, lines, child) = run_helper("graceful", 1);
        assert!(
            lines.iter().any(|l| l.contains("ended: Interrupted")),
            "{lines:?}"
        );
        assert_eq!(code, Some(0), "{lines:?}");
        assert!(!running(child));
    }

    #[test]
    fn second_ctrl_c_kills_the_child_group_and_exits_130() {
        let (code, lines, child) = run_helper("stubborn", 2);
        assert_eq!(code, Some(130), "{lines:?}");
        assert!(!lines.iter().any(|l| l.contains("ended:")), "{lines:?}");
        // The child survives SIGTERM and the grace period is a minute: only the SIGKILL of
        // the second signal can have ended it. (The bound only turns a survivor into a
        // failure; a killed child is gone as soon as the kernel gets to it.)
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while running(child) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!running(child), "child {child} survived the second Ctrl-C");
        // Its zombies became ours when the helper exited: reap the group (no marker).
        super::super::reap::kill_remaining(
            child,
            0,
            "ORX_SPAWN_ID=",
            super::super::reap::Finder::Scan,
            &[],
        );
        assert!(!std::path::Path::new(&format!("/proc/{child}")).exists());
    }
}
