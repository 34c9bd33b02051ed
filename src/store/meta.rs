//! `meta.json`: the small summary of a run that listings read.
//!
//! `orx status` over 10,000 runs must not parse 10,000 full states, so each run keeps a tiny
//! summary (id, status, stage, item, task headline, times) next to `state.json`, rewritten
//! atomically whenever one of those fields changes. `state.json` stays the source of truth;
//! meta is derived from it by [`Meta::from_state`] and never read by `resume`, so it is
//! replaced without fsync (`atomic::write_json_unsynced`): whole for every reader and across a
//! `kill -9`, possibly stale after a power loss until the run's next checkpoint.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::atomic::write_json_unsynced;
use super::error::{Result, StoreError};
use crate::error::file::FileError;
use crate::model::RunState;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    pub version: u32,
    pub run_id: String,
    pub task: String,
    pub status: String,
    #[serde(default)]
    pub stage: Option<String>,
    #[serde(default)]
    pub item: Option<String>,
    pub branch: String,
    pub base_branch: String,
    pub engine: String,
    pub pipeline: String,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default)]
    pub finished_at: Option<String>,
    pub orx_version: String,
}

impl Meta {
    pub fn from_state(s: &RunState) -> Meta {
        Meta {
            version: 1,
            run_id: s.run_id.clone(),
            task: headline(&s.task),
            status: s.status.as_str().to_string(),
            stage: s.current_stage.map(|st| st.as_str().to_string()),
            item: s.current_item.clone(),
            branch: s.worktree.branch.clone(),
            base_branch: s.worktree.base_branch.clone(),
            engine: s.engine.clone(),
            pipeline: s.pipeline.clone(),
            created_at: s.created_at.clone(),
            updated_at: s.updated_at.clone(),
            finished_at: s.finished_at.clone(),
            orx_version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
    pub fn save(&self, path: &Path) -> Result<()> {
        write_json_unsynced(path, self)
    }
    pub fn load(path: &Path) -> Result<Meta> {
        let text = std::fs::read(path).map_err(|e| FileError::own("read", path, e))?;
        serde_json::from_slice(&text).map_err(|source| StoreError::CorruptSummary {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// The first non-empty line of a task, at most 120 characters.
pub fn headline(task: &str) -> String {
    let line = task
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let mut out: String = line.chars().take(120).collect();
    if line.chars().count() > 120 {
        out.push('…');
    }
    out
}
