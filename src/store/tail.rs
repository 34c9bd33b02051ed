//! Reading `events.jsonl` as it grows: [`EventTail`].
//!
//! `orx logs -f` follows a run that another process writes (an `orx run`, a resume, a run the
//! dashboard or MCP launched). It must not read the whole file again on every look, and it must
//! not take a line that is still being written for a torn one: the writer appends each event
//! with one `write`, but a reader can land between two of them. So the tail keeps its byte
//! offset and the unfinished end of the last read, and hands out only whole lines. A line that
//! is whole but not an event (a crash's torn line, which the next writer terminates) is skipped,
//! as every reader of the history does.

use std::fs::File;
use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::error::Result;
use crate::error::file::FileError;
use crate::model::event::RunEvent;

/// Reads the events appended to a run's history since the last read.
#[derive(Debug)]
pub struct EventTail {
    path: PathBuf,
    offset: u64,
    /// Bytes after the last newline read so far: the start of a line still being written.
    partial: Vec<u8>,
}

impl EventTail {
    /// A tail at the start of `path` (which may not exist yet).
    pub fn new(path: &Path) -> Self {
        EventTail {
            path: path.to_path_buf(),
            offset: 0,
            partial: Vec::new(),
        }
    }

    /// Every whole event line appended since the last call, in order. A missing file has no
    /// events yet.
    pub fn read_new(&mut self) -> Result<Vec<RunEvent>> {
        let mut file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(FileError::own("open", &self.path, e).into()),
        };
        file.seek(SeekFrom::Start(self.offset))
            .map_err(|e| FileError::own("read", &self.path, e))?;
        let mut fresh = Vec::new();
        let n = file
            .read_to_end(&mut fresh)
            .map_err(|e| FileError::own("read", &self.path, e))?;
        self.offset += n as u64;
        self.partial.extend_from_slice(&fresh);
        let Some(last_newline) = self.partial.iter().rposition(|&b| b == b'\n') else {
            return Ok(Vec::new());
        };
        let rest = self.partial.split_off(last_newline + 1);
        let whole = std::mem::replace(&mut self.partial, rest);
        Ok(whole
            .split(|&b| b == b'\n')
            .filter_map(|line| serde_json::from_slice::<RunEvent>(line).ok())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EventKind;
    use crate::store::events::EventLog;
    use std::io::Write;

    #[test]
    fn hands_out_whole_lines_only_and_skips_a_torn_one() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("events.jsonl");
        let mut tail = EventTail::new(&p);
        assert!(tail.read_new().unwrap().is_empty(), "no file yet");
        let mut log = EventLog::open(&p, "r").unwrap();
        log.append(EventKind::Warning {
            message: "a".into(),
        })
        .unwrap();
        let first = tail.read_new().unwrap();
        assert_eq!(first.len(), 1);
        assert!(tail.read_new().unwrap().is_empty(), "nothing new");

        // A line that is still being written is not handed out until it is whole.
        let full = serde_json::to_string(&log.append(warning("b")).unwrap()).unwrap();
        drop(log);
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() - full.len() / 2 - 1]).unwrap();
        assert!(tail.read_new().unwrap().is_empty());
        let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(&bytes[bytes.len() - full.len() / 2 - 1..])
            .unwrap();
        let second = tail.read_new().unwrap();
        assert_eq!(second.len(), 1);
        assert_eq!(second[0].seq, 2);

        // A crash's torn line, terminated by the next writer, is skipped.
        f.write_all(b"{\"seq\":3,\"ts\"").unwrap();
        let mut log = EventLog::open(&p, "r").unwrap();
        log.append(warning("c")).unwrap();
        let third = tail.read_new().unwrap();
        assert_eq!(third.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![3]);
    }

    fn warning(m: &str) -> EventKind {
        EventKind::Warning { message: m.into() }
    }
}
