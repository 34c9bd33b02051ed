//! The one place orx asks the kernel to make a file durable, and the count of those requests.
//!
//! Every `fsync`/`fdatasync` of a file under `runs/` goes through here, so the count this
//! process made is one number the run metrics can report (`metrics/run.json`, `fsyncs`) and a
//! test can hold below a ceiling: durability is paid per call on a laptop disk, so a checkpoint
//! that starts syncing again shows up as a regression rather than as a slower machine.

use std::fs::File;
use std::sync::atomic::{AtomicU64, Ordering};

static FSYNCS: AtomicU64 = AtomicU64::new(0);

/// `fsync`: the file's data and metadata.
pub fn sync_all(file: &File) -> std::io::Result<()> {
    FSYNCS.fetch_add(1, Ordering::Relaxed);
    file.sync_all()
}

/// `fdatasync`: the file's data and what is needed to read it back (its size), not its times.
pub fn sync_data(file: &File) -> std::io::Result<()> {
    FSYNCS.fetch_add(1, Ordering::Relaxed);
    file.sync_data()
}

/// How many syncs this process has asked for so far.
pub fn count() -> u64 {
    FSYNCS.load(Ordering::Relaxed)
}
