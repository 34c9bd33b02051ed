//! The count of git processes this orx process has started.
//!
//! Every git command goes through `GitCall::output`, which counts each spawn here, so a run can
//! report how many git processes it cost (`metrics/run.json`, `git_processes`) and a test can
//! hold that figure to a ceiling.

use std::sync::atomic::{AtomicU64, Ordering};

static SPAWNED: AtomicU64 = AtomicU64::new(0);

/// Note one git process started.
pub(super) fn count_one() {
    SPAWNED.fetch_add(1, Ordering::Relaxed);
}

/// How many git processes this process has started so far.
pub fn count() -> u64 {
    SPAWNED.load(Ordering::Relaxed)
}
