//! `metrics/`: per stage-attempt lines and the run aggregate.
//!
//! `stages.jsonl` gets one line per agent call or gate pass (stage, item, attempt, status,
//! duration, tokens, cost, executor, model), appended as it happens, so a crashed run keeps the
//! measurements it paid for. `run.json` is the aggregate, rewritten atomically at the end of
//! each process's drive of the run.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::agents::Usage;
use crate::error::{OrxError, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageMetric {
    pub stage: String,
    #[serde(default)]
    pub item: Option<String>,
    pub attempt: u32,
    pub status: String,
    pub started_at: String,
    pub duration_ms: u64,
    pub executor: String,
    #[serde(default)]
    pub model: Option<String>,
    pub usage: Usage,
}

pub fn append_stage_metric(path: &Path, m: &StageMetric) -> Result<()> {
    let mut line = serde_json::to_vec(m)
        .map_err(|e| OrxError::internal(format!("cannot encode metric: {e}")))?;
    line.push(b'\n');
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| OrxError::io("open", path, e))?;
    f.write_all(&line)
        .map_err(|e| OrxError::io("append to", path, e))
}

pub fn read_stage_metrics(path: &Path) -> Vec<StageMetric> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}
