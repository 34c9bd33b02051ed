//! Keeping disk use bounded: removing old runs (`orx clean --older-than`, `retention:`) and the
//! leftovers of runs whose folder is gone (`orx clean --orphans`).
//!
//! Removal of one run is `cli::clean::clean_one`, which takes the run's lock first, so nothing
//! here can pull a worktree from under a live run: a busy run is skipped and reported. Which
//! runs to remove is decided by pure functions ([`older_than`], [`beyond_retention`]) over
//! [`RunInfo`] records, so the policy is unit tested without a repository.
//!
//! Orphans are what a run leaves outside its folder when the folder was deleted by hand: the
//! worktree under `.worktrees/<id>`, the branch `orx/<id>`, the refs under `refs/orx/<id>/` and
//! processes. The supervisor exports `ORX_RUN_ID` to every child, so a process whose environment
//! names a run that is not live (no folder, or nobody holds its lock) is a stray; it is only
//! killed when its working directory is inside this repository, so a clean in one repository
//! never touches another repository's runs.
//!
//! The same hunt serves a run whose driver died ([`stop_leftovers`]): a `kill -9`ed orx takes its
//! direct child with it (`PR_SET_PDEATHSIG`), but not what that child started, which keeps
//! working in the worktree. Whoever takes the run's lock next (resume, clean) stops them first:
//! holding the lock proves no orx drives the run, so every process naming it is a leftover.

use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::cli::clean::{clean_one, dir_size};
use crate::error::{ErrorKind, OrxError, Result};
use crate::git::Repo;
use crate::report::event::EventKind;
use crate::runner::Run;
use crate::store::layout::{is_valid_run_id, RUNS_DIR, WORKTREES_DIR};
use crate::store::lock::holder_alive;
use crate::store::RunPaths;

/// What the removal policies need to know about a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunInfo {
    pub id: String,
    /// When it was created (`created_at` of meta.json / state.json), if readable.
    pub created: Option<SystemTime>,
    /// A process holds its lock.
    pub live: bool,
}

/// Every run folder of the repository, oldest first.
pub fn list_runs(root: &Path) -> Vec<RunInfo> {
    let ids: Vec<String> = std::fs::read_dir(root.join(RUNS_DIR))
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.path().is_dir())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|id| is_valid_run_id(id))
                .collect()
        })
        .unwrap_or_default();
    let mut runs: Vec<RunInfo> = ids
        .into_iter()
        .map(|id| {
            let paths = RunPaths::new(root, &id);
            RunInfo {
                created: created_at(&paths),
                live: holder_alive(&paths.lock()).is_some(),
                id,
            }
        })
        .collect();
    // Ids only have one-second resolution (two runs in one second sort by their random
    // suffix), so the millisecond `created_at` decides and the id breaks ties; runs whose
    // time cannot be read come first, as the oldest.
    runs.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
    runs
}

/// A run's creation time, from meta.json, else state.json.
fn created_at(paths: &RunPaths) -> Option<SystemTime> {
    for file in [paths.meta(), paths.state()] {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        if let Some(t) = v
            .get("created_at")
            .and_then(|c| c.as_str())
            .and_then(|c| humantime::parse_rfc3339_weak(c).ok())
        {
            return Some(t);
        }
    }
    None
}

/// Parse a duration such as `7d`, `12h` or `30m` (humantime), as a usage error when bad.
pub fn parse_age(text: &str) -> Result<Duration> {
    humantime::parse_duration(text.trim()).map_err(|e| {
        OrxError::usage(format!("`{text}` is not a duration: {e}"))
            .with_hint("write a duration such as 7d, 12h or 30m")
    })
}

/// Runs created longer than `age` before `now`, live runs excluded.
pub fn older_than(runs: &[RunInfo], now: SystemTime, age: Duration) -> Vec<String> {
    runs.iter()
        .filter(|r| !r.live)
        .filter(|r| {
            r.created
                .and_then(|c| now.duration_since(c).ok())
                .is_some_and(|d| d > age)
        })
        .map(|r| r.id.clone())
        .collect()
}

/// Runs `retention` removes: too old, then the oldest beyond `max_runs` (every run counts, the
/// current and live ones included, but those are never removed).
pub fn beyond_retention(
    runs: &[RunInfo],
    current: &str,
    max_runs: Option<u32>,
    max_age: Option<Duration>,
    now: SystemTime,
) -> Vec<String> {
    let removable = |r: &RunInfo| !r.live && r.id != current;
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

/// What removing a list of runs did.
#[derive(Debug, Default)]
pub struct Removal {
    pub removed: Vec<String>,
    /// Runs that could not be removed, with why (busy).
    pub skipped: Vec<(String, String)>,
    pub freed: u64,
}

/// Remove each run (skipping busy ones).
pub fn remove_runs(repo: &Repo, ids: &[String], keep_branch: bool) -> Result<Removal> {
    let mut out = Removal::default();
    for id in ids {
        match clean_one(repo, id, keep_branch) {
            Ok(bytes) => {
                out.freed += bytes;
                out.removed.push(id.clone());
            }
            Err(e) if e.kind == ErrorKind::Busy => out.skipped.push((id.clone(), e.message)),
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// Apply `retention:` at the start of `run`, emitting what was removed.
pub fn apply_retention(run: &mut Run<'_>) -> Result<()> {
    let cfg = run.config.retention.clone();
    if cfg.max_runs.is_none() && cfg.max_age.is_none() {
        return Ok(());
    }
    let age = cfg.max_age.as_deref().map(parse_age).transpose()?;
    let runs = list_runs(&run.repo.root);
    let ids = beyond_retention(&runs, &run.paths.id, cfg.max_runs, age, SystemTime::now());
    if ids.is_empty() {
        return Ok(());
    }
    let repo = run.repo.clone();
    let removal = remove_runs(&repo, &ids, false)?;
    if !removal.removed.is_empty() {
        run.emit(EventKind::RetentionApplied {
            removed: removal.removed,
            freed_bytes: removal.freed,
        })?;
    }
    for (id, why) in removal.skipped {
        run.emit(EventKind::Warning {
            message: format!("retention kept run {id}: {why}"),
        })?;
    }
    Ok(())
}

/// What `--orphans` removed.
#[derive(Debug, Default)]
pub struct Orphans {
    pub worktrees: Vec<String>,
    pub branches: Vec<String>,
    pub refs: Vec<String>,
    pub processes: Vec<u32>,
    pub freed: u64,
}

/// Remove the worktrees, branches, refs and processes of runs whose folder is gone.
pub fn clean_orphans(repo: &Repo) -> Result<Orphans> {
    let root = &repo.root;
    let has_folder = |id: &str| root.join(RUNS_DIR).join(id).is_dir();
    // Processes first, so nothing is writing into a worktree while it is removed.
    let mut out = Orphans {
        processes: kill_strays(root, &|id| {
            let paths = RunPaths::new(root, id);
            paths.dir.is_dir() && holder_alive(&paths.lock()).is_some()
        }),
        ..Orphans::default()
    };

    let wt_root = root.join(WORKTREES_DIR);
    for (path, _) in repo.list_worktrees()? {
        let Some(id) = run_id_under(&wt_root, &path) else {
            continue;
        };
        if !has_folder(&id) {
            out.freed += dir_size(&path);
            repo.remove_worktree(&path)?;
            out.worktrees.push(id);
        }
    }
    // Folders under .worktrees/ that git no longer knows about.
    if let Ok(rd) = std::fs::read_dir(&wt_root) {
        for e in rd.flatten() {
            let id = e.file_name().to_string_lossy().into_owned();
            let path = e.path();
            if !is_valid_run_id(&id) || has_folder(&id) || !path.is_dir() {
                continue;
            }
            out.freed += dir_size(&path);
            std::fs::remove_dir_all(&path).map_err(|e| OrxError::io("remove", &path, e))?;
            repo.remove_worktree(&path)?; // forgets the registration, if any
            if !out.worktrees.contains(&id) {
                out.worktrees.push(id);
            }
        }
    }

    for full in repo.refs_under("refs/heads/orx/")? {
        let branch = full.trim_start_matches("refs/heads/").to_string();
        let id = branch.trim_start_matches("orx/");
        if is_valid_run_id(id) && !has_folder(id) {
            repo.delete_branch(&branch)?;
            out.branches.push(branch);
        }
    }
    let mut ref_ids: Vec<String> = repo
        .refs_under("refs/orx/")?
        .iter()
        .filter_map(|r| {
            r.strip_prefix("refs/orx/")?
                .split('/')
                .next()
                .map(String::from)
        })
        .collect();
    ref_ids.dedup();
    for id in ref_ids {
        if is_valid_run_id(&id) && !has_folder(&id) {
            repo.delete_refs_with_prefix(&format!("refs/orx/{id}/"))?;
            out.refs.push(format!("refs/orx/{id}/"));
        }
    }
    Ok(out)
}

/// The run id of a worktree path directly under `wt_root`.
fn run_id_under(wt_root: &Path, path: &Path) -> Option<String> {
    let parent = path.parent()?;
    if !same_dir(parent, wt_root) {
        return None;
    }
    let id = path.file_name()?.to_string_lossy().into_owned();
    is_valid_run_id(&id).then_some(id)
}

fn same_dir(a: &Path, b: &Path) -> bool {
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    canon(a) == canon(b)
}

/// Stop the processes a dead driver of run `id` left running (see the module doc). The caller
/// must hold the run's lock. Returns their pids.
pub fn stop_leftovers(root: &Path, id: &str) -> Vec<u32> {
    kill_strays(root, &|other| other != id)
}

/// Kill processes whose environment names a run that `is_live` says is not live, and whose
/// working directory is inside `root`. Returns their pids.
fn kill_strays(root: &Path, is_live: &dyn Fn(&str) -> bool) -> Vec<u32> {
    let Ok(root) = std::fs::canonicalize(root) else {
        return Vec::new();
    };
    let me = std::process::id();
    let ancestors = ancestors(me);
    let mut killed = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return killed;
    };
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if pid == me || ancestors.contains(&pid) {
            continue;
        }
        let Some(id) = run_id_of(pid) else {
            continue;
        };
        if !is_valid_run_id(&id) || is_live(&id) {
            continue;
        }
        let inside = std::fs::read_link(format!("/proc/{pid}/cwd"))
            .map(|cwd| cwd.starts_with(&root))
            .unwrap_or(false);
        if !inside {
            continue;
        }
        let Ok(p) = i32::try_from(pid) else {
            continue;
        };
        // SAFETY: kill(2) with a positive pid and a valid signal has no memory-safety
        // preconditions; the pid was just read from /proc and checked above.
        unsafe {
            libc::kill(p, libc::SIGTERM);
        }
        killed.push(pid);
    }
    if !killed.is_empty() {
        std::thread::sleep(Duration::from_millis(300));
        for pid in &killed {
            if std::path::Path::new(&format!("/proc/{pid}")).exists() {
                if let Ok(p) = i32::try_from(*pid) {
                    // SAFETY: as above.
                    unsafe {
                        libc::kill(p, libc::SIGKILL);
                    }
                }
            }
        }
    }
    killed
}

/// `ORX_RUN_ID` from a process's environment.
fn run_id_of(pid: u32) -> Option<String> {
    let env = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    env.split(|b| *b == 0)
        .find_map(|kv| kv.strip_prefix(b"ORX_RUN_ID="))
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

/// This process's ancestors (parent, grandparent, …), so a clean never kills its own caller.
fn ancestors(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut cur = pid;
    for _ in 0..64 {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{cur}/stat")) else {
            break;
        };
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            break;
        };
        let Some(ppid) = rest.split_whitespace().nth(1).and_then(|s| s.parse().ok()) else {
            break;
        };
        if ppid == 0 || out.contains(&ppid) {
            break;
        }
        out.push(ppid);
        cur = ppid;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(id: &str, days_ago: u64, live: bool, now: SystemTime) -> RunInfo {
        RunInfo {
            id: id.into(),
            created: Some(now - Duration::from_secs(days_ago * 86_400)),
            live,
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

    #[test]
    fn strays_are_found_by_their_environment_and_killed() {
        let dir = tempfile::tempdir().unwrap();
        let id = "20200101-000000-abcdef";
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .current_dir(dir.path())
            .env("ORX_RUN_ID", id)
            .spawn()
            .unwrap();
        let pid = child.id();
        // Wait until /proc shows the environment (exec finished); the bound only turns a
        // hang into a failure.
        let start = std::time::Instant::now();
        while run_id_of(pid).is_none() {
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "exec never finished"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            kill_strays(dir.path(), &|_| true).is_empty(),
            "live runs are spared"
        );
        let other = tempfile::tempdir().unwrap();
        assert!(
            kill_strays(other.path(), &|_| false).is_empty(),
            "other repos are spared"
        );
        assert_eq!(kill_strays(dir.path(), &|_| false), vec![pid]);
        let status = child.wait().unwrap();
        assert!(!status.success());
    }
}
