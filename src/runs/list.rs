//! Which runs exist: the one listing of run folders, and what the removal policies read about
//! each run.
//!
//! A run is a real directory inside the real `runs/` (no symlink at either level), named like
//! a run id, holding a file orx itself made there: the `lock`, which a run takes right after
//! creating its folder, or `state.json`, as regular files. Anything else there (`runs/.launch`,
//! the server's launch logs, editor droppings, a half-removed `.removing-…` folder, a folder of
//! the user's that only looks like a run) is not a run. [`is_run`] is that one rule and
//! [`run_ids`] the only place that reads `runs/`, so every listing (`orx status`, `orx clean
//! all`, the age and retention policies, the server's run index) and every removal agrees on
//! what a run is: nothing that is not listed as a run can be cleaned.

use std::path::Path;
use std::time::SystemTime;

use crate::model::RunStatus;
use crate::store::layout::{is_valid_run_id, RUNS_DIR};
use crate::store::lock::holder_alive;
use crate::store::RunPaths;

/// Whether `runs/<id>` of the repository at `root` is a run (see the module note). Nothing is
/// followed: a symlinked `runs/` holds no runs and a symlinked `runs/<id>` is not one, so
/// nothing that lists or removes runs can be pointed at a folder outside the repository.
pub fn is_run(root: &Path, id: &str) -> bool {
    let runs = root.join(RUNS_DIR);
    is_valid_run_id(id) && is_real_dir(&runs) && is_run_folder(&runs.join(id))
}

/// A real directory holding orx's `lock` or `state.json` as a regular file.
fn is_run_folder(dir: &Path) -> bool {
    let regular = |name: &str| std::fs::symlink_metadata(dir.join(name)).is_ok_and(|m| m.is_file());
    is_real_dir(dir) && (regular("lock") || regular("state.json"))
}

fn is_real_dir(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir())
}

/// The id of every run under `root` (the repository), sorted.
pub fn run_ids(root: &Path) -> Vec<String> {
    let runs = root.join(RUNS_DIR);
    if !is_real_dir(&runs) {
        return Vec::new();
    }
    let Ok(rd) = std::fs::read_dir(&runs) else {
        return Vec::new();
    };
    let mut ids: Vec<String> = rd
        .flatten()
        // The entry's type comes with the listing and does not follow a symlink.
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|id| is_valid_run_id(id) && is_run_folder(&runs.join(id)))
        .collect();
    ids.sort();
    ids
}

/// What the removal policies need to know about a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunInfo {
    pub id: String,
    /// When it was created (`created_at` of meta.json / state.json), if readable.
    pub created: Option<SystemTime>,
    /// A process holds its lock.
    pub live: bool,
    /// It stopped at an approval checkpoint and waits for a person, whose edits to the
    /// stage's output may be in its folder: no removal policy takes it, only `orx clean <id>`.
    pub awaiting_approval: bool,
}

/// Every run folder of the repository, oldest first.
pub fn list_runs(root: &Path) -> Vec<RunInfo> {
    let mut runs: Vec<RunInfo> = run_ids(root)
        .into_iter()
        .map(|id| {
            let paths = RunPaths::new(root, &id);
            let (created, status) = header(&paths);
            RunInfo {
                created,
                live: holder_alive(&paths.lock()).is_some(),
                awaiting_approval: status.as_deref() == Some(RunStatus::AwaitingApproval.as_str()),
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

/// A run's creation time and status, each from meta.json, else state.json.
fn header(paths: &RunPaths) -> (Option<SystemTime>, Option<String>) {
    let (mut created, mut status) = (None, None);
    for file in [paths.meta(), paths.state()] {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        created = created.or_else(|| {
            v.get("created_at")
                .and_then(|c| c.as_str())
                .and_then(|c| humantime::parse_rfc3339_weak(c).ok())
        });
        status = status.or_else(|| v.get("status").and_then(|s| s.as_str()).map(String::from));
        if created.is_some() && status.is_some() {
            break;
        }
    }
    (created, status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_folders_named_like_runs_are_runs() {
        let dir = tempfile::tempdir().unwrap();
        let runs = dir.path().join(RUNS_DIR);
        for d in [
            "20260101-000002-bbbbbb",
            "20260101-000001-aaaaaa",
            ".launch",
            "a b",
        ] {
            std::fs::create_dir_all(runs.join(d)).unwrap();
            std::fs::write(runs.join(d).join("lock"), "").unwrap();
        }
        std::fs::write(runs.join("20260101-000003-cccccc"), "a file").unwrap();
        assert_eq!(
            run_ids(dir.path()),
            vec!["20260101-000001-aaaaaa", "20260101-000002-bbbbbb"]
        );
        let listed: Vec<String> = list_runs(dir.path()).into_iter().map(|r| r.id).collect();
        assert_eq!(listed, run_ids(dir.path()), "no times: ordered by id");
        assert!(run_ids(&dir.path().join("nowhere")).is_empty());
    }

    #[test]
    fn a_symlinked_runs_folder_or_run_folder_is_not_a_run() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(outside.path().join("20260101-000009-zzzzzz")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let runs = dir.path().join(RUNS_DIR);
        std::fs::create_dir_all(runs.join("20260101-000001-aaaaaa")).unwrap();
        std::fs::write(runs.join("20260101-000001-aaaaaa/state.json"), "{}").unwrap();
        std::fs::write(outside.path().join("20260101-000009-zzzzzz/lock"), "").unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("20260101-000009-zzzzzz"),
            runs.join("20260101-000002-bbbbbb"),
        )
        .unwrap();
        assert_eq!(run_ids(dir.path()), vec!["20260101-000001-aaaaaa"]);
        // A repository whose whole runs/ is a link elsewhere has no runs at all.
        let linked = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), linked.path().join(RUNS_DIR)).unwrap();
        assert!(run_ids(linked.path()).is_empty());
    }

    #[test]
    fn a_folder_without_a_lock_or_state_file_of_its_own_is_not_a_run() {
        let dir = tempfile::tempdir().unwrap();
        let runs = dir.path().join(RUNS_DIR);
        type Fill = fn(&Path);
        let shapes: [(&str, Fill); 5] = [
            ("20260101-000001-aaaaaa", |d| {
                std::fs::write(d.join("lock"), "").unwrap()
            }),
            ("20260101-000002-bbbbbb", |d| {
                std::fs::write(d.join("state.json"), "{").unwrap()
            }),
            ("20260101-000003-cccccc", |d| {
                std::fs::write(d.join("notes.txt"), "mine").unwrap()
            }),
            ("20260101-000004-dddddd", |d| {
                std::fs::create_dir(d.join("state.json")).unwrap()
            }),
            ("20260101-000005-eeeeee", |d| {
                std::os::unix::fs::symlink("/etc/hostname", d.join("lock")).unwrap()
            }),
        ];
        for (id, fill) in shapes {
            std::fs::create_dir_all(runs.join(id)).unwrap();
            fill(&runs.join(id));
        }
        let runs_found = run_ids(dir.path());
        assert_eq!(
            runs_found,
            vec!["20260101-000001-aaaaaa", "20260101-000002-bbbbbb"]
        );
        for (id, _) in shapes {
            assert_eq!(
                is_run(dir.path(), id),
                runs_found.iter().any(|r| r == id),
                "{id}"
            );
        }
        assert!(!is_run(dir.path(), "../runs/20260101-000001-aaaaaa"));
    }
}
