//! Which runs to remove by age (`orx clean --older-than`) and by the `retention:` policy
//! (`max_runs`, `max_age`) that `orx run` applies when it starts.
//!
//! The choice is made by pure functions ([`older_than`], [`beyond_retention`]) over
//! [`RunInfo`] records, so the policy is unit tested without a repository; [`apply_retention`]
//! then removes what they chose and returns what it did, for the caller to report.

use std::time::{Duration, SystemTime};

use super::list::{list_runs, RunInfo};
use super::remove::{remove_runs, Removal};
use crate::error::{OrxError, Result};
use crate::git::Repo;

/// Parse a duration such as `7d`, `12h` or `30m` (humantime), as a usage error when bad.
pub fn parse_age(text: &str) -> Result<Duration> {
    humantime::parse_duration(text.trim()).map_err(|e| {
        OrxError::usage(format!("`{text}` is not a duration: {e}"))
            .with_hint("write a duration such as 7d, 12h or 30m")
    })
}

/// Runs created longer than `age` before `now`, live runs and runs awaiting a person's
/// approval excluded.
pub fn older_than(runs: &[RunInfo], now: SystemTime, age: Duration) -> Vec<String> {
    runs.iter()
        .filter(|r| !r.live && !r.awaiting_approval)
        .filter(|r| {
            r.created
                .and_then(|c| now.duration_since(c).ok())
                .is_some_and(|d| d > age)
        })
        .map(|r| r.id.clone())
        .collect()
}

/// Runs `retention` removes: too old, then the oldest beyond `max_runs` (every run counts, the
/// current, live and awaiting ones included, but those are never removed).
pub fn beyond_retention(
    runs: &[RunInfo],
    current: &str,
    max_runs: Option<u32>,
    max_age: Option<Duration>,
    now: SystemTime,
) -> Vec<String> {
    let removable = |r: &RunInfo| !r.live && !r.awaiting_approval && r.id != current;
    let mut remove: Vec<String> = match max_age {
        Some(age) => older_than(runs, now, age)
            .into_iter()
            .filter(|id| id != current)
            .collect(),
        None => Vec::new(),
    };
    if let Some(max) = max_runs {
        let mut left = runs.len() - remove.len();
        for r in runs {
            if left <= max as usize {
                break;
            }
            if removable(r) && !remove.contains(&r.id) {
                remove.push(r.id.clone());
                left -= 1;
            }
        }
    }
    remove
}

/// Apply a retention policy at the start of run `current`: remove the runs older than
/// `max_age` (a humantime duration) and the oldest beyond `max_runs`, never `current`, a live
/// run or one awaiting approval. Returns what was removed and what was kept busy.
pub fn apply_retention(
    repo: &Repo,
    current: &str,
    max_runs: Option<u32>,
    max_age: Option<&str>,
) -> Result<Removal> {
    if max_runs.is_none() && max_age.is_none() {
        return Ok(Removal::default());
    }
    let age = max_age.map(parse_age).transpose()?;
    let runs = list_runs(&repo.root);
    let ids = beyond_retention(&runs, current, max_runs, age, SystemTime::now());
    if ids.is_empty() {
        return Ok(Removal::default());
    }
    remove_runs(repo, &ids, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(id: &str, days_ago: u64, live: bool, now: SystemTime) -> RunInfo {
        RunInfo {
            id: id.into(),
            created: Some(now - Duration::from_secs(days_ago * 86_400)),
            live,
            awaiting_approval: false,
        }
    }

    #[test]
    fn older_than_skips_live_and_young_runs() {
        let now = SystemTime::now();
        let runs = vec![
            info("a", 10, false, now),
            info("b", 10, true, now),
            info("c", 1, false, now),
            RunInfo {
                id: "d".into(),
                created: None,
                live: false,
                awaiting_approval: false,
            },
        ];
        assert_eq!(older_than(&runs, now, parse_age("7d").unwrap()), vec!["a"]);
        assert!(parse_age("seven").is_err());
    }

    #[test]
    fn retention_keeps_the_newest_and_never_the_current_or_live_runs() {
        let now = SystemTime::now();
        let runs = vec![
            info("a", 9, false, now),
            info("b", 8, true, now),
            info("c", 7, false, now),
            info("d", 6, false, now),
            info("e", 0, false, now),
        ];
        assert_eq!(
            beyond_retention(&runs, "e", Some(3), None, now),
            vec!["a", "c"]
        );
        assert_eq!(
            beyond_retention(&runs, "e", Some(1), None, now),
            vec!["a", "c", "d"]
        );
        assert_eq!(
            beyond_retention(
                &runs,
                "a",
                None,
                Some(Duration::from_secs(86_400 * 13 / 2)),
                now
            ),
            vec!["c"]
        );
        assert!(beyond_retention(&runs, "e", Some(10), None, now).is_empty());
    }
}
