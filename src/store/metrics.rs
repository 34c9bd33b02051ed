//! `metrics/`: per stage-attempt lines and the run aggregate.
//!
//! `stages.jsonl` gets one line per agent call or gate pass (stage, item, attempt, status,
//! duration, tokens, cost, executor, model), appended as it happens, so a crashed run keeps the
//! measurements it paid for. `run.json` is the aggregate, rewritten whole (unsynced: it is a
//! measurement) at the end of each process's drive of the run, with that process's own CPU
//! time and peak memory (`process`, from `getrusage(RUSAGE_SELF)`: orx alone, never its agents
//! or gates), which is what the idle-cost and ingestion benchmarks read, and the fsyncs and git
//! processes it cost (`fsyncs`, `git_processes`: the counts of `store::fsync` and
//! `git::spawns`).

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::error::{Result, StoreError};
use crate::error::file::FileError;
use crate::model::Usage;

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
    let mut line = serde_json::to_vec(m).map_err(|source| StoreError::Encode {
        what: "metric".into(),
        source,
    })?;
    line.push(b'\n');
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| FileError::own("open", path, e))?;
    f.write_all(&line)
        .map_err(|e| FileError::own("append to", path, e).into())
}

pub fn read_stage_metrics(path: &Path) -> Vec<StageMetric> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// CPU time and peak resident memory of this orx process so far, children excluded.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ProcessUsage {
    pub user_ms: u64,
    pub sys_ms: u64,
    pub max_rss_kib: u64,
}

/// `getrusage(RUSAGE_SELF)` for this process; `None` if the kernel refuses (it never should).
pub fn process_usage() -> Option<ProcessUsage> {
    // SAFETY: rusage is plain data for which all-zero bytes are a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes only to `ru`, a valid local.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return None;
    }
    let ms = |t: libc::timeval| (t.tv_sec.max(0) as u64) * 1000 + (t.tv_usec.max(0) as u64) / 1000;
    Some(ProcessUsage {
        user_ms: ms(ru.ru_utime),
        sys_ms: ms(ru.ru_stime),
        // Linux reports kibibytes.
        max_rss_kib: ru.ru_maxrss.max(0) as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_usage_counts_this_process_cpu_and_memory() {
        let before = process_usage().unwrap();
        let cpu = |u: &ProcessUsage| u.user_ms + u.sys_ms;
        // Touch 8 MiB, and burn CPU until the figure moves: on a loaded machine a fixed
        // stretch of wall time may get no CPU at all. The bound only turns a figure that
        // never moves into a failure.
        let mut v = vec![1u8; 8 << 20];
        let t = std::time::Instant::now();
        let mut x = 0u64;
        let after = loop {
            for b in v.iter_mut().step_by(4096) {
                *b = b.wrapping_add(1);
                x = x.wrapping_add(*b as u64);
            }
            let now = process_usage().unwrap();
            if cpu(&now) > cpu(&before) {
                break now;
            }
            assert!(
                t.elapsed() < std::time::Duration::from_secs(120),
                "the CPU figure never moved: {now:?}"
            );
        };
        std::hint::black_box(x);
        assert!(after.max_rss_kib >= 8 * 1024, "{after:?}");
    }
}
