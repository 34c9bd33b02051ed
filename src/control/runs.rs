//! Listing runs: every `runs/<id>/meta.json` of every served repository, filtered, newest
//! first, paginated.
//!
//! The dashboard and the API must stay fast with 10,000 runs on disk. A run's parsed meta is
//! cached in memory under its path and reused while the file's modification time and size are
//! unchanged (meta.json is replaced atomically, so a change always shows as a new mtime or
//! size); revalidating costs one `read_dir` and one `stat` per run, so the sorted result is
//! kept as a snapshot for [`SNAPSHOT_TTL`] (and dropped at once when this server starts,
//! resumes, cancels or cleans a run): a listing is then a filter over memory, at most a
//! second behind the disk. The live status is checked through the lock on every listing. The status shown is
//! the *live* one: a run whose meta says `running` but whose lock holder is gone is
//! `interrupted`, exactly as `orx status` shows it ([`live_status`] is shared with it).
//! Folders that are not runs (`runs/.launch`, editor droppings, see `crate::runs::is_run`) are
//! ignored; a run whose meta.json cannot be read is still listed (from its state, or by id).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::Control;
use crate::error::Result;
use crate::runs::run_ids;
use crate::store::layout::RUNS_DIR;
use crate::store::lock::holder_alive;
use crate::store::meta::Meta;
use crate::store::RunPaths;

/// The default and the largest page size.
pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 500;

/// What to list. Every filter is optional; `q` matches the id, task, branch and engine,
/// case-insensitively.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RunQuery {
    pub status: Option<String>,
    pub engine: Option<String>,
    pub q: Option<String>,
    pub repo: Option<String>,
    pub offset: Option<usize>,
    pub limit: Option<usize>,
}

/// One row of the run list: the run's meta with its live status and repository.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub repo: String,
    #[serde(flatten)]
    pub meta: Meta,
    /// The pid driving the run, when one is alive.
    pub pid: Option<u32>,
}

/// One page of runs and how many matched in all.
#[derive(Debug, Clone, Serialize)]
pub struct RunPage {
    pub runs: Vec<RunSummary>,
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
}

/// How long a listing snapshot is reused before the run folders are looked at again.
pub const SNAPSHOT_TTL: std::time::Duration = std::time::Duration::from_secs(1);

/// One cached run: its meta and the lower-cased text `q` searches.
#[derive(Debug)]
struct Row {
    meta: Arc<Meta>,
    hay: String,
}

/// A sorted listing and when it was taken.
type Snapshot = (std::time::Instant, Arc<Vec<Row>>);

/// A listed run before paging: repository, meta, corrected status, live pid.
type Hit<'a> = (&'a str, Arc<Meta>, Option<String>, Option<u32>);

#[derive(Debug, Default)]
pub(super) struct RunIndex {
    entries: Mutex<HashMap<PathBuf, Cached>>,
    snapshots: Mutex<HashMap<PathBuf, Snapshot>>,
}

#[derive(Debug, Clone)]
struct Cached {
    mtime: SystemTime,
    len: u64,
    meta: Arc<Meta>,
}

impl RunIndex {
    /// The runs under `root`, newest first, from a snapshot at most [`SNAPSHOT_TTL`] old.
    fn rows(&self, root: &Path) -> Arc<Vec<Row>> {
        let fresh = |snaps: &HashMap<PathBuf, Snapshot>| {
            snaps
                .get(root)
                .filter(|(at, _)| at.elapsed() < SNAPSHOT_TTL)
                .map(|(_, rows)| Arc::clone(rows))
        };
        if let Some(rows) = fresh(&lock(&self.snapshots)) {
            return rows;
        }
        // One caller revalidates; the others keep serving the previous snapshot meanwhile
        // instead of queueing behind it (10,000 stats under load take a while).
        let mut entries = match self.entries.try_lock() {
            Ok(g) => g,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => {
                if let Some((_, rows)) = lock(&self.snapshots).get(root) {
                    return Arc::clone(rows);
                }
                lock(&self.entries)
            }
        };
        if let Some(rows) = fresh(&lock(&self.snapshots)) {
            return rows;
        }
        let mut metas = Self::metas_in(&mut entries, root);
        drop(entries);
        metas.sort_by(|a, b| (&b.created_at, &b.run_id).cmp(&(&a.created_at, &a.run_id)));
        let rows: Arc<Vec<Row>> = Arc::new(
            metas
                .into_iter()
                .map(|meta| Row {
                    hay: format!(
                        "{}\n{}\n{}\n{}",
                        meta.run_id, meta.task, meta.branch, meta.engine
                    )
                    .to_lowercase(),
                    meta,
                })
                .collect(),
        );
        lock(&self.snapshots).insert(
            root.to_path_buf(),
            (std::time::Instant::now(), Arc::clone(&rows)),
        );
        rows
    }

    /// Forget the snapshots (after this process changed runs).
    pub(super) fn invalidate(&self) {
        lock(&self.snapshots).clear();
    }

    /// The meta of every run under `root`, unsorted, from the cache where still fresh.
    fn metas(&self, root: &Path) -> Vec<Arc<Meta>> {
        Self::metas_in(&mut lock(&self.entries), root)
    }

    fn metas_in(entries: &mut HashMap<PathBuf, Cached>, root: &Path) -> Vec<Arc<Meta>> {
        let mut out = Vec::new();
        let mut seen = Vec::new();
        for id in run_ids(root) {
            let path = RunPaths::new(root, &id).meta();
            let Ok(md) = std::fs::metadata(&path) else {
                out.push(Arc::new(stand_in_meta(root, &id)));
                continue;
            };
            let mtime = md.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            let len = md.len();
            if let Some(c) = entries.get(&path) {
                if c.mtime == mtime && c.len == len {
                    out.push(Arc::clone(&c.meta));
                    seen.push(path);
                    continue;
                }
            }
            if let Ok(meta) = Meta::load(&path) {
                let meta = Arc::new(meta);
                entries.insert(
                    path.clone(),
                    Cached {
                        mtime,
                        len,
                        meta: Arc::clone(&meta),
                    },
                );
                out.push(meta);
                seen.push(path);
            } else {
                out.push(Arc::new(stand_in_meta(root, &id)));
            }
        }
        // Forget removed runs of this repository so the cache cannot grow without bound.
        if entries.len() > seen.len() {
            let runs_dir = root.join(RUNS_DIR);
            let seen: std::collections::HashSet<&PathBuf> = seen.iter().collect();
            entries.retain(|p, _| !p.starts_with(&runs_dir) || seen.contains(p));
        }
        out
    }
}

/// The row of a run whose meta.json is missing or unreadable (killed before its first save,
/// or damaged): derived from its state.json when that reads, else only its id, `running` (so
/// the lock decides between live and `interrupted`). Every run is listed, because every run
/// can be cleaned.
fn stand_in_meta(root: &Path, id: &str) -> Meta {
    let paths = RunPaths::new(root, id);
    if let Ok(state) = crate::model::RunState::load(&paths.state()) {
        if state.run_id == id {
            return Meta::from_state(&state);
        }
    }
    Meta {
        version: 1,
        run_id: id.to_string(),
        task: String::new(),
        status: "running".to_string(),
        stage: None,
        item: None,
        branch: paths.branch(),
        base_branch: String::new(),
        engine: String::new(),
        pipeline: String::new(),
        created_at: String::new(),
        updated_at: String::new(),
        finished_at: None,
        orx_version: env!("CARGO_PKG_VERSION").to_string(),
    }
}

/// A mutex's guard, also after a panic in another holder (the data is a cache).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// A run's status as it really is: `running`/`waiting` in the file but nobody holding the
/// lock means the process died (crash, `kill -9`, reboot): `interrupted`.
pub fn live_status(status: &str, paths: &RunPaths) -> String {
    if matches!(status, "running" | "waiting") && holder_alive(&paths.lock()).is_none() {
        "interrupted".to_string()
    } else {
        status.to_string()
    }
}

/// Every run's meta under `root`, newest first, with the live status (no cache: the CLI's
/// one-shot `orx status`).
pub fn list_metas(root: &Path) -> Vec<Meta> {
    let mut metas: Vec<Meta> = RunIndex::default()
        .metas(root)
        .into_iter()
        .map(|m| Arc::try_unwrap(m).unwrap_or_else(|a| (*a).clone()))
        .collect();
    for m in &mut metas {
        m.status = live_status(&m.status, &RunPaths::new(root, &m.run_id));
    }
    metas.sort_by(|a, b| b.run_id.cmp(&a.run_id));
    metas
}

impl Control {
    /// Drop the listing snapshots, so the next listing reads the run folders.
    pub fn invalidate(&self) {
        self.index.invalidate();
    }

    /// One page of runs matching `q`, newest first.
    pub fn list_runs(&self, q: &RunQuery) -> Result<RunPage> {
        let workspaces: Vec<&super::Workspace> = match q.repo.as_deref() {
            Some(name) if !name.is_empty() => vec![self.workspace(Some(name))?],
            _ => self.workspaces.iter().collect(),
        };
        let needle =
            q.q.as_deref()
                .map(|s| s.trim().to_lowercase())
                .filter(|s| !s.is_empty());
        let status = q.status.as_deref().filter(|s| !s.is_empty());
        let engine = q.engine.as_deref().filter(|s| !s.is_empty());
        // Filter and sort shared metas; only the page is cloned.
        let mut rows: Vec<Hit<'_>> = Vec::new();
        for w in workspaces {
            let snapshot = self.index.rows(&w.root);
            for row in snapshot.iter() {
                let meta = &row.meta;
                let live_kind = matches!(meta.status.as_str(), "running" | "waiting");
                let pid = if live_kind {
                    holder_alive(&RunPaths::new(&w.root, &meta.run_id).lock())
                } else {
                    None
                };
                let corrected = (live_kind && pid.is_none()).then(|| "interrupted".to_string());
                let shown = corrected.as_deref().unwrap_or(meta.status.as_str());
                if status.is_some_and(|s| s != shown) {
                    continue;
                }
                if engine.is_some_and(|e| e != meta.engine) {
                    continue;
                }
                if needle
                    .as_ref()
                    .is_some_and(|n| !row.hay.contains(n.as_str()))
                {
                    continue;
                }
                rows.push((w.name.as_str(), Arc::clone(meta), corrected, pid));
            }
        }
        if self.workspaces.len() > 1 {
            rows.sort_by(|a, b| {
                (&b.1.created_at, &b.1.run_id).cmp(&(&a.1.created_at, &a.1.run_id))
            });
        }
        let total = rows.len();
        let offset = q.offset.unwrap_or(0);
        let limit = q.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
        let runs = rows
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(|(repo, meta, corrected, pid)| {
                let mut meta = (*meta).clone();
                if let Some(s) = corrected {
                    meta.status = s;
                }
                RunSummary {
                    repo: repo.to_string(),
                    meta,
                    pid,
                }
            })
            .collect();
        Ok(RunPage {
            runs,
            total,
            offset,
            limit,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::Workspace;

    fn meta(id: &str, status: &str, engine: &str, task: &str) -> Meta {
        Meta {
            version: 1,
            run_id: id.into(),
            task: task.into(),
            status: status.into(),
            stage: None,
            item: None,
            branch: format!("orx/{id}"),
            base_branch: "main".into(),
            engine: engine.into(),
            pipeline: "full".into(),
            created_at: format!("2026-01-01T00:00:{}Z", &id[id.len() - 2..]),
            updated_at: "2026-01-01T00:00:00Z".into(),
            finished_at: None,
            orx_version: "0".into(),
        }
    }

    /// A run folder: the lock file that makes it a run, and its meta.
    fn seed(root: &Path, m: &Meta) {
        let d = root.join("runs").join(&m.run_id);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("lock"), "").unwrap();
        m.save(&d.join("meta.json")).unwrap();
    }

    #[test]
    fn filters_paginates_and_sees_changes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for i in 10..40 {
            let engine = if i % 2 == 0 { "fake" } else { "claude" };
            seed(
                root,
                &meta(&format!("r-{i}"), "succeeded", engine, &format!("task {i}")),
            );
        }
        seed(root, &meta("r-50", "running", "fake", "Add a Flag"));
        std::fs::create_dir_all(root.join("runs/.launch")).unwrap();
        let c = Control::new(vec![Workspace {
            name: "w".into(),
            root: root.to_path_buf(),
        }])
        .unwrap();
        let list = |q: RunQuery| c.list_runs(&q).unwrap();
        let all = list(RunQuery::default());
        assert_eq!(all.total, 31);
        assert_eq!(all.runs[0].meta.run_id, "r-50", "newest first");
        assert_eq!(all.runs[0].meta.status, "interrupted", "no lock holder");
        let page = list(RunQuery {
            offset: Some(5),
            limit: Some(10),
            ..Default::default()
        });
        assert_eq!(page.runs.len(), 10);
        assert_eq!(page.runs[0].meta.run_id, "r-35");
        let fake = list(RunQuery {
            engine: Some("fake".into()),
            status: Some("succeeded".into()),
            ..Default::default()
        });
        assert_eq!(fake.total, 15);
        let q = list(RunQuery {
            q: Some("a flag".into()),
            ..Default::default()
        });
        assert_eq!(q.total, 1);
        // A changed meta is seen; a removed run disappears.
        let mut m = meta("r-10", "failed", "fake", "task 10 changed");
        m.updated_at = "2026-01-02T00:00:00Z".into();
        seed(root, &m);
        std::fs::remove_dir_all(root.join("runs/r-11")).unwrap();
        assert_eq!(list(RunQuery::default()).total, 31, "snapshot");
        c.invalidate();
        let failed = list(RunQuery {
            status: Some("failed".into()),
            ..Default::default()
        });
        assert_eq!(failed.total, 1);
        assert_eq!(failed.runs[0].meta.task, "task 10 changed");
        assert_eq!(list(RunQuery::default()).total, 30);
        assert_eq!(list_metas(root).len(), 30);
    }
}
