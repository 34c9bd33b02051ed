//! A file's `fdatasync`s, made on a thread of their own so a checkpoint never waits for the disk.
//!
//! A checkpoint's line is in the page cache as soon as its `write` returns, which is all a
//! `kill -9`, a Ctrl-C or a crash of orx itself can test. The sync only matters to a power loss,
//! and it costs a disk flush: on a virtual disk a fraction of a millisecond each, on a laptop
//! disk or with macOS's full fsync ten times that, which over a run's checkpoints was the largest
//! single share of orx's own wall time. So [`Syncer::ask`] records that the file's data up to
//! now must become durable and returns at once; the thread makes one `fdatasync` for every ask
//! that came in while the last one ran (an `fdatasync` covers every write before it, so a
//! burst of checkpoints costs one flush, not one each). [`Syncer::settle`] waits until every
//! ask so far is durable: before an effect outside the run folder that resume must not repeat
//! on a stale state (a push, a pull request), and before the driving process exits.
//!
//! What a power loss can cost is therefore the checkpoints of the last flush's duration, and
//! resume goes back to the last durable one and redoes the step, as it does after a power loss
//! that came just before a checkpoint's write: every step is idempotent, and nothing outside
//! the run folder has acted on a checkpoint that was not yet durable.
//!
//! A sync that fails is reported by the next `ask` or `settle`, as the failure of that
//! checkpoint: the caller cannot have relied on it yet. Where a thread cannot be started, the
//! syncs are made on the caller's thread, as before.

use std::fs::File;
use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use super::fsync;

/// How far the syncs have come, shared between the callers and the sync thread.
#[derive(Debug, Default)]
struct Progress {
    /// Asks so far.
    asked: u64,
    /// The asks a finished `fdatasync` covered.
    done: u64,
    /// A sync that failed and was not reported yet.
    failed: Option<io::Error>,
    /// The owner is going away: finish what was asked, then stop.
    closing: bool,
}

#[derive(Debug, Default)]
struct Shared {
    progress: Mutex<Progress>,
    changed: Condvar,
}

impl Shared {
    /// The progress; a panic elsewhere while holding it leaves plain counters, still valid.
    fn lock(&self) -> MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The sync thread of one file; dropping it waits until every ask is durable.
#[derive(Debug)]
pub struct Syncer {
    shared: Arc<Shared>,
    how: Syncing,
}

/// Where the syncs are made.
#[derive(Debug)]
enum Syncing {
    /// On the sync thread (taken by `drop`, which joins it).
    Thread(Option<JoinHandle<()>>),
    /// No thread could be started: on the caller's thread, with this descriptor of the file.
    Inline(File),
}

impl Syncer {
    /// A sync thread for `file` (a descriptor of its own is handed to the thread).
    pub fn new(file: &File) -> io::Result<Syncer> {
        let shared = Arc::new(Shared::default());
        let theirs = file.try_clone()?;
        let for_thread = Arc::clone(&shared);
        let how = match std::thread::Builder::new()
            .name("orx-sync".into())
            .spawn(move || sync_loop(&for_thread, &theirs))
        {
            Ok(thread) => Syncing::Thread(Some(thread)),
            Err(_) => Syncing::Inline(file.try_clone()?),
        };
        Ok(Syncer { shared, how })
    }

    /// Have what was written to the file so far made durable; returns before it is, with the
    /// failure of an earlier sync if one failed.
    pub fn ask(&self) -> io::Result<()> {
        if let Syncing::Inline(file) = &self.how {
            return fsync::sync_data(file);
        }
        let mut p = self.shared.lock();
        if let Some(e) = p.failed.take() {
            return Err(e);
        }
        p.asked += 1;
        drop(p);
        self.shared.changed.notify_all();
        Ok(())
    }

    /// Wait until every ask so far is durable; the failure of any of their syncs.
    pub fn settle(&self) -> io::Result<()> {
        let mut p = self.shared.lock();
        while p.done < p.asked {
            p = self
                .shared
                .changed
                .wait(p)
                .unwrap_or_else(PoisonError::into_inner);
        }
        match p.failed.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        self.shared.lock().closing = true;
        self.shared.changed.notify_all();
        if let Syncing::Thread(thread) = &mut self.how {
            if let Some(t) = thread.take() {
                let _ = t.join();
            }
        }
    }
}

/// The thread: one `fdatasync` per wake-up, covering every ask made before it started.
fn sync_loop(shared: &Shared, file: &File) {
    let mut p = shared.lock();
    loop {
        if p.done == p.asked {
            if p.closing {
                return;
            }
            p = shared
                .changed
                .wait(p)
                .unwrap_or_else(PoisonError::into_inner);
            continue;
        }
        let upto = p.asked;
        drop(p);
        let result = fsync::sync_data(file);
        p = shared.lock();
        p.done = upto;
        if let Err(e) = result {
            p.failed.get_or_insert(e);
        }
        shared.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn settle_returns_once_every_ask_is_synced_and_a_burst_shares_its_syncs() {
        let dir = tempfile::tempdir().unwrap();
        let mut file = File::create(dir.path().join("j")).unwrap();
        let syncer = Syncer::new(&file).unwrap();
        let before = fsync::count();
        for n in 0..50 {
            writeln!(file, "{n}").unwrap();
            syncer.ask().unwrap();
        }
        syncer.settle().unwrap();
        let p = syncer.shared.lock();
        assert_eq!((p.asked, p.done), (50, 50));
        drop(p);
        // Other tests sync too, so only the bounds say something: at least one sync, and never
        // more than one per ask of this test plus theirs.
        assert!(fsync::count() > before);
        // Nothing is left to sync, so a second settle does not wait.
        syncer.settle().unwrap();
    }

    #[test]
    fn a_failed_sync_is_the_error_of_the_next_settle_and_only_of_that() {
        // `fdatasync` on a pipe fails (EINVAL): a real failed sync, not a stand-in.
        let (reader, _writer) = os_pipe();
        let syncer = Syncer::new(&reader).unwrap();
        syncer.ask().unwrap();
        assert!(syncer.settle().is_err());
        assert!(syncer.settle().is_ok(), "a failure is reported once");
        // Reported by the next ask when no settle came first.
        syncer.ask().unwrap();
        syncer.wait_done(2);
        assert!(syncer.ask().is_err());
    }

    #[test]
    fn dropping_the_syncer_finishes_what_was_asked() {
        let dir = tempfile::tempdir().unwrap();
        let file = File::create(dir.path().join("j")).unwrap();
        let syncer = Syncer::new(&file).unwrap();
        let shared = Arc::clone(&syncer.shared);
        for _ in 0..3 {
            syncer.ask().unwrap();
        }
        drop(syncer);
        let p = shared.lock();
        assert_eq!((p.asked, p.done), (3, 3));
    }

    impl Syncer {
        /// Wait, without taking a failure, until `n` asks are done.
        fn wait_done(&self, n: u64) {
            let mut p = self.shared.lock();
            while p.done < n {
                p = self.shared.changed.wait(p).unwrap();
            }
        }
    }

    /// Both ends of a new pipe as files.
    fn os_pipe() -> (File, File) {
        use std::os::fd::OwnedFd;
        let (r, w) = std::io::pipe().unwrap();
        (File::from(OwnedFd::from(r)), File::from(OwnedFd::from(w)))
    }
}
