//! `state.json`: the versioned projection of a run that `orx resume` reads.
//!
//! `events.jsonl` is the history; this file is what a resumed process needs to continue
//! *exactly*: the stage, each backlog item with its phase inside the implement → verify → fix
//! loop, its completed attempts, the worktree snapshot taken after its last agent attempt and
//! the commit after it finished, plus usage totals and the last failure. A driving process
//! checkpoints into the journal next to it (`state.jsonl`, see `journal`) and compacts the
//! journal back into this file when it exits; loading therefore replays: the journal's last
//! complete line when it has one, else this file, so every reader (resume, status, serve, mcp)
//! sees the latest checkpoint. Every replacement of the file is atomic (see `atomic`), so a
//! `kill -9` at any instant leaves either the previous or the next state. Loading rejects an
//! unknown `version` and a file or journal line that does not parse, with one clear sentence.

use std::path::Path;

use super::error::{Result, StoreError};
use crate::error::file::FileError;
use crate::model::state::{RunState, STATE_VERSION};

impl RunState {
    /// The run's latest state: `path` (`state.json`) replayed with its journal.
    pub fn load(path: &Path) -> Result<RunState> {
        if let Some((line, bytes)) = super::journal::latest(path)? {
            return decode(&super::journal::journal_path(path), line, &bytes);
        }
        let bytes = std::fs::read(path)
            .map_err(|e| StoreError::StateUnreadable(FileError::own("read", path, e)))?;
        decode(path, 1, &bytes)
    }
}

/// A state from `bytes`, read from `path` where it starts at line `first_line` (1 for
/// `state.json`, the line's number in the journal).
fn decode(path: &Path, first_line: usize, bytes: &[u8]) -> Result<RunState> {
    let text = std::str::from_utf8(bytes).map_err(|_| StoreError::NotUtf8 {
        path: path.to_path_buf(),
    })?;
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|source| StoreError::CorruptJson {
            path: path.to_path_buf(),
            line: first_line + source.line().saturating_sub(1),
            column: source.column(),
            source,
        })?;
    let version = value.get("version").and_then(|v| v.as_u64()).unwrap_or(0);
    if version != u64::from(STATE_VERSION) {
        return Err(StoreError::UnsupportedVersion {
            path: path.to_path_buf(),
            found: version,
            expected: STATE_VERSION,
        });
    }
    serde_json::from_value(value).map_err(|source| StoreError::Unusable {
        path: path.to_path_buf(),
        source,
    })
}

/// Now as RFC 3339 UTC with milliseconds.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::state::{ItemState, StageRecord, WorktreeInfo};
    use crate::model::{ItemPhase, ItemStatus, RunStatus, Stage, StageStatus, Usage};

    pub(crate) fn sample() -> RunState {
        RunState {
            version: STATE_VERSION,
            run_id: "r1".into(),
            task: "t".into(),
            status: RunStatus::Running,
            pipeline: "full".into(),
            stages: vec![StageRecord {
                stage: Stage::Plan,
                status: StageStatus::Pending,
                started_at: None,
                finished_at: None,
                attempts: 0,
                duration_ms: 0,
                usage: Usage::default(),
            }],
            current_stage: Some(Stage::Plan),
            current_item: None,
            items: vec![ItemState {
                status: ItemStatus::InProgress,
                attempts: 1,
                phase: Some(ItemPhase::Verify { attempt: 2 }),
                ..ItemState::new("W001", "x")
            }],
            worktree: WorktreeInfo {
                path: "/w".into(),
                branch: "orx/r1".into(),
                base_branch: "main".into(),
                base_sha: "abc".into(),
            },
            engine: "fake".into(),
            created_at: now_rfc3339(),
            updated_at: now_rfc3339(),
            worktree_setup_done: true,
            ..RunState::blank()
        }
    }

    #[test]
    fn state_round_trips_through_disk() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state.json");
        let s = sample();
        crate::store::atomic::write_json_atomic(&p, &s).unwrap();
        let back = RunState::load(&p).unwrap();
        assert_eq!(back.items[0].phase, Some(ItemPhase::Verify { attempt: 2 }));
        assert_eq!(back.run_id, "r1");
    }

    #[test]
    fn corrupt_and_future_states_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state.json");
        let load = |text: &str| {
            std::fs::write(&p, text).unwrap();
            RunState::load(&p).unwrap_err()
        };
        let e = load("{\"version\": 1, \"run_id\": ");
        assert!(
            matches!(e, StoreError::CorruptJson { line: 1, .. }),
            "{e:?}"
        );
        assert!(e.to_string().contains("state.json:1:"), "{e}");
        let e = load("{\"version\": 99}");
        assert!(
            matches!(e, StoreError::UnsupportedVersion { found: 99, .. }),
            "{e:?}"
        );
        assert!(e.to_string().contains("version 99"), "{e}");
    }
}
