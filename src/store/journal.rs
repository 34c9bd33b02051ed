//! `state.jsonl`: the run's state journal, and how a reader replays it.
//!
//! A checkpoint appends the whole state as one JSON line (a snapshot, not a delta: a state is
//! a few KiB and a process's drive writes a few dozen lines, so replay is "the last complete
//! line" and a lost or repeated line can never be applied twice) with a single `write` on an
//! `O_APPEND` descriptor. That survives a `kill -9` at once (the page cache is the kernel's);
//! what a power loss keeps is decided per checkpoint by [`Durability`]:
//!
//! - [`Durability::Note`]: progress only (a stage begun, usage, a wait). No sync: after a power
//!   loss resume re-enters the step from the last durable line, and every step is idempotent.
//! - [`Durability::Durable`]: a step resume needs (an agent attempt's snapshot, an item's
//!   commit, a push): one `fdatasync`, made by the journal's sync thread ([`Syncer`]) while
//!   the run goes on. [`StateJournal::settle`] waits for it; the run does before an effect
//!   outside its folder that must not be repeated from a stale state (a push, a pull
//!   request), and every exit does.
//! - [`Durability::StageEnd`]: durable, then `state.json` is refreshed from the line for
//!   readers that read the file itself, replaced whole but unsynced (the journal line is the
//!   durable copy, so the journal is never empty while this copy may be stale).
//! - [`Durability::Exit`]: compaction. `state.json` is replaced atomically with its fsyncs,
//!   taking its new name only once the line and every one before it are synced (the two
//!   waits for the disk overlap), and only then is the journal emptied. A crash between the
//!   two leaves a journal whose last line *is* the new `state.json`, so replay gives the same
//!   state; so does a power loss that takes the unsynced truncation back.
//!
//! A journal that outgrows [`COMPACT_AT`] (a run with many items, whose state is larger and
//! checkpointed more often) is compacted the same way whatever the checkpoint, so neither the
//! file nor a reader's replay grows with the square of the run; a happy run never gets there.
//!
//! Replay ([`latest`]): the journal's last complete line when it has one, else `state.json`.
//! A last line without its newline is a write a crash cut short and is ignored (the writer
//! drops it when it reopens the journal, so the next line never lands after it); a complete
//! line before it that is not JSON is a corrupt journal, reported with its line number like a
//! corrupt `state.json`.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::atomic::{write_atomic, write_atomic_when, write_unsynced};
use super::error::{Result, StoreError};
use super::indent::indented;
use super::syncer::Syncer;
use crate::error::file::FileError;

/// What a checkpoint must survive, and what it refreshes (see the module header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    Note,
    Durable,
    StageEnd,
    Exit,
}

/// The journal next to `state` (`runs/<id>/state.json` → `runs/<id>/state.jsonl`).
pub fn journal_path(state: &Path) -> PathBuf {
    state.with_extension("jsonl")
}

/// The journal size from which a checkpoint compacts it into `state.json`.
pub const COMPACT_AT: u64 = 1 << 20;

/// Appends checkpoints to a run's journal; owned by the process that holds the run's lock.
#[derive(Debug)]
pub struct StateJournal {
    file: File,
    path: PathBuf,
    state: PathBuf,
    /// The journal's length: what this process found, plus what it appended since.
    len: u64,
    /// The journal's `fdatasync`s, off the checkpointing thread.
    syncer: Syncer,
}

impl StateJournal {
    /// Open (or create) the journal of the state file `state`, dropping a torn last line.
    pub fn open(state: &Path) -> Result<StateJournal> {
        let path = journal_path(state);
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&path)
            .map_err(|e| FileError::own("open", &path, e))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| FileError::own("read", &path, e))?;
        let whole = complete_len(&bytes);
        if whole < bytes.len() {
            file.set_len(whole as u64)
                .map_err(|e| FileError::own("truncate", &path, e))?;
        }
        let syncer = Syncer::new(&file).map_err(|e| FileError::own("open", &path, e))?;
        Ok(StateJournal {
            file,
            path,
            state: state.to_path_buf(),
            len: whole as u64,
            syncer,
        })
    }

    /// Wait until every durable checkpoint so far is on the disk; a sync that failed is the
    /// error.
    pub fn settle(&self) -> Result<()> {
        self.syncer
            .settle()
            .map_err(|e| FileError::own("sync", &self.path, e).into())
    }

    /// Append the state's line, then make it as durable as `how` asks.
    ///
    /// `line` is the state as one compact JSON object followed by its newline, as serde_json
    /// writes it (the run redacts it on the way: `Redactor::write_json`). `state.json` gets
    /// the same state indented ([`indented`]).
    pub fn record(&mut self, line: &[u8], how: Durability) -> Result<()> {
        let how = if self.len >= COMPACT_AT {
            Durability::Exit
        } else {
            how
        };
        self.append(line, how)?;
        match how {
            Durability::Note | Durability::Durable => Ok(()),
            Durability::StageEnd => write_unsynced(&self.state, &indented(line)),
            Durability::Exit => {
                // The line's sync and the new state.json's run side by side; state.json takes
                // its name only once the line is durable, so a journal whose truncation a power
                // loss takes back still ends with the state.json it left.
                let syncer = &self.syncer;
                let path = &self.path;
                write_atomic_when(&self.state, &indented(line), &mut || {
                    syncer
                        .settle()
                        .map_err(|e| FileError::own("sync", path, e).into())
                })?;
                self.restart()
            }
        }
    }

    /// The line and its sync: the first half of every checkpoint.
    fn append(&mut self, line: &[u8], how: Durability) -> Result<()> {
        if line.last() != Some(&b'\n') || line[..line.len() - 1].contains(&b'\n') {
            return Err(StoreError::Encode {
                what: "state".into(),
                source: serde::ser::Error::custom("a journal line must be one line"),
            });
        }
        // One `write`: an `O_APPEND` write lands whole after whatever is there.
        self.file
            .write_all(line)
            .map_err(|e| FileError::own("append to", &self.path, e))?;
        self.len += line.len() as u64;
        match how {
            Durability::Note => Ok(()),
            // An exit's sync is waited for by the compaction that follows, which writes
            // state.json meanwhile.
            Durability::Durable | Durability::StageEnd | Durability::Exit => self
                .syncer
                .ask()
                .map_err(|e| FileError::own("sync", &self.path, e).into()),
        }
    }

    /// Empty the journal once `state.json` holds its last line durably. Not synced: should the
    /// truncation be lost, the lines left end with that same state.
    fn restart(&mut self) -> Result<()> {
        self.file
            .set_len(0)
            .map_err(|e| FileError::own("truncate", &self.path, e))?;
        self.len = 0;
        Ok(())
    }
}

/// Replace the state file `state` whole and durably with the journal line `line`, indented:
/// the run's first state, before any journal line, and every compaction.
pub fn replace_state(state: &Path, line: &[u8]) -> Result<()> {
    write_atomic(state, &indented(line))
}

/// The length of `bytes` up to and including its last newline.
fn complete_len(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .rposition(|&b| b == b'\n')
        .map(|i| i + 1)
        .unwrap_or(0)
}

/// The journal's last complete line and its 1-based number, after checking that every
/// complete line before it is JSON; `None` when the journal is missing or holds no complete
/// line (the state is then `state.json`'s).
pub fn latest(state: &Path) -> Result<Option<(usize, Vec<u8>)>> {
    let path = journal_path(state);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(StoreError::StateUnreadable(FileError::own(
                "read", &path, e,
            )))
        }
    };
    let whole = &bytes[..complete_len(&bytes)];
    let mut lines: Vec<&[u8]> = whole.split(|&b| b == b'\n').collect();
    lines.pop(); // what follows the last newline: empty, or the torn line left out above
    let Some(last) = lines.pop() else {
        return Ok(None);
    };
    for (i, line) in lines.iter().enumerate() {
        if let Err(source) = serde_json::from_slice::<serde::de::IgnoredAny>(line) {
            return Err(StoreError::CorruptJson {
                path,
                line: i + 1,
                column: source.column(),
                source,
            });
        }
    }
    Ok(Some((lines.len() + 1, last.to_vec())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RunState;
    use crate::model::RunStatus;

    /// A run folder with a state.json holding `first`; returns the folder and the state path.
    fn run_dir(first: &RunState) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.json");
        crate::store::atomic::write_json_atomic(&state, first).unwrap();
        (dir, state)
    }

    fn at(stage_status: RunStatus, task: &str) -> RunState {
        RunState {
            status: stage_status,
            task: task.into(),
            ..crate::store::state::tests::sample()
        }
    }

    fn value(s: &RunState) -> Vec<u8> {
        let mut line = serde_json::to_vec(s).unwrap();
        line.push(b'\n');
        line
    }

    #[test]
    fn a_line_that_is_not_one_line_is_refused_and_nothing_is_appended() {
        let (_dir, state) = run_dir(&at(RunStatus::Running, "zero"));
        let mut j = StateJournal::open(&state).unwrap();
        let whole = value(&at(RunStatus::Running, "one"));
        for bad in [&whole[..whole.len() - 1], b"{}\n{}\n".as_slice(), b""] {
            assert!(j.record(bad, Durability::Note).is_err());
        }
        assert_eq!(std::fs::metadata(journal_path(&state)).unwrap().len(), 0);
        j.record(&whole, Durability::Note).unwrap();
        assert_eq!(RunState::load(&state).unwrap().task, "one");
    }

    #[test]
    fn the_last_complete_line_wins_and_a_torn_last_line_is_ignored() {
        let (_dir, state) = run_dir(&at(RunStatus::Running, "zero"));
        let mut j = StateJournal::open(&state).unwrap();
        j.record(&value(&at(RunStatus::Running, "one")), Durability::Note)
            .unwrap();
        j.record(&value(&at(RunStatus::Running, "two")), Durability::Durable)
            .unwrap();
        assert_eq!(RunState::load(&state).unwrap().task, "two");
        // A crash cut the next line short.
        let torn = serde_json::to_string(&at(RunStatus::Failed, "three")).unwrap();
        crate::store::atomic::append_text(&journal_path(&state), &torn[..torn.len() / 2]).unwrap();
        assert_eq!(RunState::load(&state).unwrap().task, "two");
        // The next writer drops the torn piece, so its first line is whole and readable.
        let mut j = StateJournal::open(&state).unwrap();
        j.record(&value(&at(RunStatus::Running, "four")), Durability::Note)
            .unwrap();
        assert_eq!(RunState::load(&state).unwrap().task, "four");
        let text = std::fs::read_to_string(journal_path(&state)).unwrap();
        assert_eq!(text.lines().count(), 3, "{text}");
        // state.json itself was never touched by notes.
        let on_disk: RunState = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
        assert_eq!(on_disk.task, "zero");
    }

    #[test]
    fn a_corrupt_line_before_the_last_is_a_clear_state_error() {
        let (_dir, state) = run_dir(&at(RunStatus::Running, "zero"));
        let mut j = StateJournal::open(&state).unwrap();
        j.record(&value(&at(RunStatus::Running, "one")), Durability::Note)
            .unwrap();
        crate::store::atomic::append_text(&journal_path(&state), "{\"version\": 1,\n").unwrap();
        j.record(&value(&at(RunStatus::Running, "three")), Durability::Note)
            .unwrap();
        let e = RunState::load(&state).unwrap_err();
        assert!(
            matches!(e, StoreError::CorruptJson { line: 2, .. }),
            "{e:?}"
        );
        assert!(e.to_string().contains("state.jsonl:2:"), "{e}");
        let orx = crate::error::OrxError::from(e);
        assert_eq!(orx.kind.exit_code(), 2, "{orx:?}");
    }

    #[test]
    fn a_stage_end_refreshes_state_json_and_keeps_the_journal() {
        let (_dir, state) = run_dir(&at(RunStatus::Running, "zero"));
        let mut j = StateJournal::open(&state).unwrap();
        j.record(&value(&at(RunStatus::Running, "one")), Durability::StageEnd)
            .unwrap();
        let on_disk: RunState = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
        assert_eq!(on_disk.task, "one");
        assert_eq!(latest(&state).unwrap().unwrap().0, 1);
    }

    #[test]
    fn exit_compacts_into_state_json_and_empties_the_journal() {
        let (_dir, state) = run_dir(&at(RunStatus::Running, "zero"));
        let mut j = StateJournal::open(&state).unwrap();
        j.record(&value(&at(RunStatus::Running, "one")), Durability::Durable)
            .unwrap();
        j.record(&value(&at(RunStatus::Succeeded, "done")), Durability::Exit)
            .unwrap();
        assert_eq!(std::fs::metadata(journal_path(&state)).unwrap().len(), 0);
        assert!(latest(&state).unwrap().is_none());
        let back = RunState::load(&state).unwrap();
        assert_eq!(
            (back.task.as_str(), back.status),
            ("done", RunStatus::Succeeded)
        );
        // The next process appends after the compaction, and its lines win again.
        let mut j = StateJournal::open(&state).unwrap();
        j.record(&value(&at(RunStatus::Running, "resumed")), Durability::Note)
            .unwrap();
        assert_eq!(RunState::load(&state).unwrap().task, "resumed");
    }

    #[test]
    fn a_journal_that_outgrows_its_limit_is_compacted_by_the_next_checkpoint() {
        let (_dir, state) = run_dir(&at(RunStatus::Running, "zero"));
        let big = "x".repeat(COMPACT_AT as usize / 3);
        let mut j = StateJournal::open(&state).unwrap();
        for n in 0..4 {
            j.record(
                &value(&at(RunStatus::Running, &format!("{n}{big}"))),
                Durability::Note,
            )
            .unwrap();
        }
        // The fourth note found the journal past the limit and compacted it.
        let len = std::fs::metadata(journal_path(&state)).unwrap().len();
        assert_eq!(len, 0);
        assert!(RunState::load(&state).unwrap().task.starts_with('3'));
        // A writer that reopens a large journal knows its size too.
        for n in 4..7 {
            j.record(
                &value(&at(RunStatus::Running, &format!("{n}{big}"))),
                Durability::Note,
            )
            .unwrap();
        }
        let mut j = StateJournal::open(&state).unwrap();
        j.record(&value(&at(RunStatus::Running, "small")), Durability::Note)
            .unwrap();
        assert_eq!(std::fs::metadata(journal_path(&state)).unwrap().len(), 0);
        assert_eq!(RunState::load(&state).unwrap().task, "small");
    }

    #[test]
    fn a_crash_between_compaction_and_truncation_loses_and_repeats_nothing() {
        let (_dir, state) = run_dir(&at(RunStatus::Running, "zero"));
        let mut j = StateJournal::open(&state).unwrap();
        j.record(&value(&at(RunStatus::Running, "one")), Durability::Durable)
            .unwrap();
        // Exit's steps, stopped where a crash would: the durable line and the compacted
        // state.json are written, the journal is not yet emptied.
        let last = value(&at(RunStatus::Succeeded, "done"));
        j.append(&last, Durability::Exit).unwrap();
        write_atomic(&state, &indented(&last)).unwrap();
        drop(j);
        let back = RunState::load(&state).unwrap();
        assert_eq!(
            (back.task.as_str(), back.status),
            ("done", RunStatus::Succeeded)
        );
        // A resumed process continues from that state, and once it compacts, the old lines
        // are gone rather than replayed after its own.
        let mut j = StateJournal::open(&state).unwrap();
        j.record(&value(&at(RunStatus::Running, "again")), Durability::Note)
            .unwrap();
        assert_eq!(RunState::load(&state).unwrap().task, "again");
        j.record(&value(&at(RunStatus::Failed, "end")), Durability::Exit)
            .unwrap();
        assert!(latest(&state).unwrap().is_none());
        assert_eq!(RunState::load(&state).unwrap().task, "end");
    }
}
