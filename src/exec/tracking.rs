//! How this orx process finds the descendants a child left behind: the mode, chosen once per
//! process from what the kernel offers, and the count of other processes' environments read.
//!
//! The modes, best first:
//! - [`Mode::Cgroup`]: every supervised child is placed, before it runs a single instruction of
//!   its program, into a cgroup v2 of its own under a cgroup of its run
//!   (`<orx's cgroup>/orx-run-<run id>/<spawn id>`, see [`super::cgroup`]). Whatever it starts,
//!   double-forked or `setsid`, stays in that cgroup, so the leftovers of a call are
//!   `cgroup.procs` and `cgroup.kill` ends them; after a `kill -9` of orx the next resume or
//!   clean finds them in the run's cgroup. Chosen when orx's own cgroup v2 (or the root of a
//!   container's) lets it create a child cgroup and move processes into it: the cgroup is
//!   writable (root, or a delegated subtree such as a systemd user service).
//! - [`Mode::Subreaper`]: orx is a child subreaper (`PR_SET_CHILD_SUBREAPER`), so a descendant
//!   whose parent dies becomes orx's child. The leftovers of a call are then the process group
//!   orx created for it and the orphans among orx's own children
//!   (`/proc/self/task/*/children`) with their descendants. Chosen when the prctl works and the
//!   kernel lists children; no cgroup. After a `kill -9` of orx its orphans go to init, so
//!   resume and clean still look for them by scanning `/proc/*/environ` for `ORX_RUN_ID`.
//! - [`Mode::Scan`]: neither works; every process's `/proc/<pid>/stat` and `environ` is read
//!   after each call (the `ORX_SPAWN_ID` marker names a call's descendants).
//!
//! `ORX_STRAY_TRACKING=subreaper` or `=scan` forces a weaker mode (benchmarks and tests compare
//! them); a mode the machine cannot give is never forced. Every read of another process's
//! environment goes through [`read_environ`] (kept in `reap.rs`, where the hunts read them),
//! which counts it: run metrics report the count, and a test holds a happy run to zero reads
//! in the first two modes.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use serde::Serialize;

/// The environment variable that forces a weaker mode.
pub const FORCE_ENV: &str = "ORX_STRAY_TRACKING";

/// How leftovers of a child are found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Cgroup,
    Subreaper,
    Scan,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Cgroup => "cgroup",
            Mode::Subreaper => "subreaper",
            Mode::Scan => "scan",
        }
    }
}

/// The mode of this process and where it comes from.
#[derive(Debug, Clone, Serialize)]
pub struct Tracking {
    pub mode: Mode,
    /// The cgroup under which run cgroups are created (cgroup mode only).
    pub cgroup: Option<PathBuf>,
    /// Why a better mode is not in use, when one is not.
    pub reason: Option<String>,
}

impl Tracking {
    /// One line for people: the mode and where it comes from.
    pub fn describe(&self) -> String {
        let mut line = match (self.mode, &self.cgroup) {
            (Mode::Cgroup, Some(dir)) => format!("cgroup v2 under {}", dir.display()),
            (Mode::Cgroup, None) => "cgroup v2".to_string(),
            (Mode::Subreaper, _) => "child subreaper and process groups".to_string(),
            (Mode::Scan, _) => "scan of /proc".to_string(),
        };
        if let Some(why) = &self.reason {
            line.push_str(&format!(" ({why})"));
        }
        line
    }
}

static TRACKING: OnceLock<Tracking> = OnceLock::new();
/// Set when placing a child into its cgroup failed although the probe succeeded: the rest of
/// this process uses the subreaper.
static CGROUP_BROKEN: AtomicBool = AtomicBool::new(false);

/// The mode of this process, probed on first use.
pub fn tracking() -> &'static Tracking {
    TRACKING.get_or_init(probe)
}

/// The mode to use for the next child.
pub(crate) fn mode() -> Mode {
    let t = tracking();
    if t.mode == Mode::Cgroup && CGROUP_BROKEN.load(Ordering::Relaxed) {
        return Mode::Subreaper;
    }
    t.mode
}

/// Stop using cgroups in this process (a child could not be placed into one).
pub(crate) fn cgroup_failed(why: &str) {
    if !CGROUP_BROKEN.swap(true, Ordering::Relaxed) {
        tracing::warn!("cannot place a child into its cgroup ({why}); finding strays as their subreaper instead");
    }
}

fn probe() -> Tracking {
    let forced = std::env::var(FORCE_ENV).ok();
    let forced = forced.as_deref().map(str::trim).unwrap_or("");
    let mut reason = if forced == "subreaper" || forced == "scan" {
        Some(format!("{FORCE_ENV}={forced}"))
    } else {
        match super::cgroup::probe() {
            Ok(base) => {
                return Tracking {
                    mode: Mode::Cgroup,
                    cgroup: Some(base),
                    reason: None,
                }
            }
            Err(why) => Some(format!("no cgroup: {why}")),
        }
    };
    if forced != "scan" {
        match super::reap::subreaper_ready() {
            Ok(()) => {
                return Tracking {
                    mode: Mode::Subreaper,
                    cgroup: None,
                    reason,
                }
            }
            Err(why) => {
                reason = Some(format!(
                    "{}; no subreaper: {why}",
                    reason.unwrap_or_default()
                ))
            }
        }
    }
    Tracking {
        mode: Mode::Scan,
        cgroup: None,
        reason,
    }
}

/// End what is left in run `id`'s cgroup after its driver died (the caller holds the run's
/// lock): its git processes let finish (up to [`super::pidfd::HELPER_WAIT`]), the rest
/// SIGTERM, [`super::pidfd::LEFTOVER_GRACE`], SIGKILL; their pids. Nothing outside cgroup mode.
pub fn stop_run(id: &str) -> Vec<u32> {
    super::cgroup::kill_run(id)
}

pub use super::reap::environ_reads;
pub(crate) use super::reap::read_environ;
