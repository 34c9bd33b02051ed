//! `events.jsonl`: the append-only history of a run.
//!
//! Each event is one JSON line, and whole lines only are written, with a single `write` on an
//! `O_APPEND` descriptor, so lines from one writer never interleave and a crash can at worst
//! leave a torn *last* line. Readers skip a torn line; a writer that reopens the file (resume)
//! first terminates it, and continues numbering after the highest `seq` it finds, so `seq`
//! stays a valid cursor.
//!
//! [`EventLog::append`] writes at once. [`EventLog::gather`] keeps the line in memory until
//! [`EventLog::flush`], an `append`, or 64 KiB gathered: an agent streaming a flood of
//! lines costs one write per batch instead of one per event (the caller flushes whenever
//! the agent's output is caught up, so a live reader never waits on a quiet agent). A crash
//! loses at most the gathered lines, which the agent's raw log still holds.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::error::{Result, StoreError};
use crate::error::file::FileError;
use crate::model::event::{EventKind, RunEvent};
use crate::store::state::now_rfc3339;

/// Gathered lines are written once they reach this many bytes.
const GATHER_BYTES: usize = 64 * 1024;

/// Appends events to `events.jsonl`.
#[derive(Debug)]
pub struct EventLog {
    file: File,
    path: PathBuf,
    next_seq: u64,
    run_id: String,
    /// Whole lines gathered and not yet written.
    pending: Vec<u8>,
}

impl EventLog {
    pub fn open(path: &Path, run_id: &str) -> Result<EventLog> {
        let last = last_seq(path);
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(path)
            .map_err(|e| FileError::own("open", path, e))?;
        // Terminate a torn last line left by a crash.
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        if len > 0 {
            let mut last_byte = [0u8; 1];
            if file.seek(SeekFrom::Start(len - 1)).is_ok()
                && file.read_exact(&mut last_byte).is_ok()
                && last_byte[0] != b'\n'
            {
                let _ = file.write_all(b"\n");
            }
        }
        Ok(EventLog {
            file,
            path: path.to_path_buf(),
            next_seq: last.map(|s| s + 1).unwrap_or(1),
            run_id: run_id.to_string(),
            pending: Vec::new(),
        })
    }

    /// Stamp and append one event, writing it (and anything gathered before it) now; returns
    /// it for the other sinks.
    pub fn append(&mut self, kind: EventKind) -> Result<RunEvent> {
        let ev = self.gather(kind)?;
        self.flush()?;
        Ok(ev)
    }

    /// Stamp one event and gather its line, to be written with the next [`EventLog::flush`]
    /// or [`EventLog::append`], or once 64 KiB are gathered; returns it for the other sinks.
    pub fn gather(&mut self, kind: EventKind) -> Result<RunEvent> {
        let ev = self.stamp(kind);
        let line = serde_json::to_vec(&ev).map_err(|source| StoreError::Encode {
            what: "event".into(),
            source,
        })?;
        self.record(&line, false)?;
        Ok(ev)
    }

    /// The next event: `kind` with its number, time and run, not yet recorded. The caller
    /// encodes it (its own way: the run redacts as it encodes) and hands the line to
    /// [`EventLog::record`].
    pub fn stamp(&self, kind: EventKind) -> RunEvent {
        RunEvent {
            seq: self.next_seq,
            ts: now_rfc3339(),
            run_id: self.run_id.clone(),
            kind,
        }
    }

    /// Record the line of the event [`EventLog::stamp`] made last: gathered, and written now
    /// when `now` says so or 64 KiB are gathered. `line` is one JSON object, without its
    /// newline.
    pub fn record(&mut self, line: &[u8], now: bool) -> Result<()> {
        self.pending.extend_from_slice(line);
        self.pending.push(b'\n');
        self.next_seq += 1;
        if now || self.pending.len() >= GATHER_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    /// Write the gathered lines, in one `write`.
    pub fn flush(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let written = self.file.write_all(&self.pending);
        self.pending.clear();
        written.map_err(|e| FileError::own("append to", &self.path, e).into())
    }
}

impl Drop for EventLog {
    /// A log dropped on an error path still writes what it gathered.
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// The highest `seq` in the file (None when empty or missing).
pub fn last_seq(path: &Path) -> Option<u64> {
    let mut last = None;
    for_each_event(path, |ev| {
        last = Some(ev.seq);
        true
    });
    last
}

/// Read events with `seq > since`, at most `limit`.
pub fn read_since(path: &Path, since: u64, limit: usize) -> Vec<RunEvent> {
    let mut out = Vec::new();
    for_each_event(path, |ev| {
        if ev.seq > since {
            out.push(ev);
        }
        out.len() < limit
    });
    out
}

/// Visit parsable events in order until `f` returns false. Torn or foreign lines are skipped.
pub fn for_each_event(path: &Path, mut f: impl FnMut(RunEvent) -> bool) {
    let Ok(file) = File::open(path) else { return };
    for line in BufReader::new(file).lines() {
        let Ok(line) = line else { break };
        if let Ok(ev) = serde_json::from_str::<RunEvent>(&line) {
            if !f(ev) {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn warn(m: &str) -> EventKind {
        EventKind::Warning { message: m.into() }
    }

    #[test]
    fn seq_continues_across_reopen_and_torn_lines_are_repaired() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("events.jsonl");
        let mut log = EventLog::open(&p, "r").unwrap();
        log.append(warn("a")).unwrap();
        log.append(warn("b")).unwrap();
        drop(log);
        // Simulate a crash mid-write.
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b"{\"seq\":3,\"ts\":\"x\",\"ru").unwrap();
        drop(f);
        let mut log = EventLog::open(&p, "r").unwrap();
        let ev = log.append(warn("c")).unwrap();
        assert_eq!(ev.seq, 3);
        let all = read_since(&p, 0, 100);
        assert_eq!(all.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(read_since(&p, 2, 100).len(), 1);
        assert_eq!(read_since(&p, 0, 2).len(), 2);
    }
}
