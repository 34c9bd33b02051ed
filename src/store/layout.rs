//! Where everything of a run lives on disk: `runs/<id>/…` and `.worktrees/<id>`.
//!
//! One struct computes every path so that no other module hard-codes a file name. The layout
//! is the compatibility baseline of the Python orx plus `events.jsonl`, `lock` and `metrics/`.

use std::path::{Path, PathBuf};

use super::error::Result;
use super::lock::RunLock;
use crate::error::file::FileError;
use crate::model::RunId;

/// The folder names orx adds to `.git/info/exclude`.
pub const RUNS_DIR: &str = "runs";
pub const WORKTREES_DIR: &str = ".worktrees";
/// Where `orx serve` keeps what it launched (`<id>.log`, `<id>.task.md`), under `runs/`; not a
/// run id, so listings skip it.
pub const LAUNCH_DIR: &str = ".launch";
/// What follows a run id in the name of the folder of its lanes' worktrees and of their
/// branches' prefix.
pub const LANES_SUFFIX: &str = ".lanes";

/// Paths of one run.
#[derive(Debug, Clone)]
pub struct RunPaths {
    pub id: String,
    pub dir: PathBuf,
    pub worktree: PathBuf,
}

impl RunPaths {
    pub fn new(repo_root: &Path, id: &str) -> Self {
        RunPaths {
            id: id.to_string(),
            dir: repo_root.join(RUNS_DIR).join(id),
            worktree: repo_root.join(WORKTREES_DIR).join(id),
        }
    }
    pub fn branch(&self) -> String {
        format!("orx/{}", self.id)
    }
    /// The ref that keeps work-in-progress snapshots alive for `git gc`.
    pub fn wip_ref(&self) -> String {
        format!("refs/orx/{}/wip", self.id)
    }
    /// Where the parallel lanes' worktrees live: `.worktrees/<id>.lanes/`, beside the run's
    /// worktree (never inside it, where they would count as the run's own files).
    pub fn lanes_dir(&self) -> PathBuf {
        self.worktree
            .with_file_name(format!("{}{LANES_SUFFIX}", self.id))
    }
    /// The worktree of the lane working `item`.
    pub fn lane_worktree(&self, item: &str) -> PathBuf {
        self.lanes_dir().join(item)
    }
    /// The branch of the lane working `item`: `orx/<id>.lanes/<item>` (a branch cannot sit
    /// under `orx/<id>`, which is itself a branch).
    pub fn lane_branch(&self, item: &str) -> String {
        format!("orx/{}{LANES_SUFFIX}/{item}", self.id)
    }
    /// The ref that keeps a lane's snapshots alive.
    pub fn lane_wip_ref(&self, item: &str) -> String {
        format!("refs/orx/{}/lanes/{item}/wip", self.id)
    }
    /// The ref that keeps candidate `n` of `item` inspectable once its worktree and branch are
    /// gone (best-of-N), until `orx clean`.
    pub fn candidate_ref(&self, item: &str, n: u32) -> String {
        format!("refs/orx/{}/candidates/{item}/{n}", self.id)
    }
    pub fn meta(&self) -> PathBuf {
        self.dir.join("meta.json")
    }
    pub fn state(&self) -> PathBuf {
        self.dir.join("state.json")
    }
    /// The state journal that checkpoints append to (see `store::journal`).
    pub fn state_journal(&self) -> PathBuf {
        super::journal::journal_path(&self.state())
    }
    pub fn events(&self) -> PathBuf {
        self.dir.join("events.jsonl")
    }
    pub fn lock(&self) -> PathBuf {
        self.dir.join("lock")
    }
    pub fn context(&self, name: &str) -> PathBuf {
        self.dir.join("context").join(name)
    }
    pub fn prompt(&self, name: &str) -> PathBuf {
        self.dir.join("prompts").join(format!("{name}.md"))
    }
    pub fn artifact(&self, name: &str) -> PathBuf {
        self.dir.join("artifacts").join(name)
    }
    pub fn log(&self, name: &str) -> PathBuf {
        self.dir.join("logs").join(name)
    }
    pub fn stage_metrics(&self) -> PathBuf {
        self.dir.join("metrics").join("stages.jsonl")
    }
    pub fn run_metrics(&self) -> PathBuf {
        self.dir.join("metrics").join("run.json")
    }

    /// Create the run folder, take its lock, then create the sub-folders. The run folder
    /// itself is created with `create_dir` (not `_all`) so two processes can never claim the
    /// same id, and the lock file is the first thing put in it: a folder holding it is a run
    /// (`crate::runs::is_run`), so a run killed before its first state write is still listed
    /// and cleaned.
    pub fn create(&self) -> Result<RunLock> {
        let runs = self.dir.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(runs).map_err(|e| FileError::own("create", runs, e))?;
        std::fs::create_dir(&self.dir).map_err(|e| FileError::own("create", &self.dir, e))?;
        let lock = RunLock::acquire(&self.lock(), &self.id)?;
        for sub in ["context", "prompts", "artifacts", "logs", "metrics"] {
            let p = self.dir.join(sub);
            std::fs::create_dir_all(&p).map_err(|e| FileError::own("create", &p, e))?;
        }
        Ok(lock)
    }
}

/// A fresh run id: `YYYYMMDD-HHMMSS-xxxxxx` (UTC, then 24 random bits). Sortable by start time
/// and unique across concurrent processes in one repository.
pub fn new_run_id() -> String {
    RunId::generate(std::time::SystemTime::now(), random_u32())
        .as_str()
        .to_string()
}

fn random_u32() -> u32 {
    use std::io::Read;
    let mut buf = [0u8; 4];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        if f.read_exact(&mut buf).is_ok() {
            return u32::from_le_bytes(buf);
        }
    }
    // Fallback: time and pid mixed; still distinct between processes.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    nanos ^ std::process::id().rotate_left(16)
}

/// The run a lanes' folder (`<id>.lanes`) or a lane branch below `orx/` (`<id>.lanes/<item>`)
/// belongs to.
pub fn lanes_owner(name: &str) -> Option<&str> {
    let (id, rest) = name.split_once(LANES_SUFFIX)?;
    (is_valid_run_id(id) && (rest.is_empty() || rest.starts_with('/'))).then_some(id)
}

/// True when `id` has the shape of a run id and is safe as a path component.
pub fn is_valid_run_id(id: &str) -> bool {
    RunId::parse(id).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_are_sortable_unique_and_path_safe() {
        let a = new_run_id();
        let b = new_run_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), "20261121-120059-a1b2c3".len(), "{a}");
        assert!(is_valid_run_id(&a));
        assert!(!is_valid_run_id("../etc"));
        assert!(!is_valid_run_id(""));
    }

    #[test]
    fn lanes_sit_beside_the_run_worktree_and_name_their_run() {
        let p = RunPaths::new(Path::new("/r"), "20261121-120059-a1b2c3");
        assert_eq!(
            p.lane_worktree("W002"),
            Path::new("/r/.worktrees/20261121-120059-a1b2c3.lanes/W002")
        );
        assert_eq!(
            p.lane_branch("W002"),
            "orx/20261121-120059-a1b2c3.lanes/W002"
        );
        assert_eq!(
            lanes_owner("20261121-120059-a1b2c3.lanes/W002"),
            Some("20261121-120059-a1b2c3")
        );
        assert_eq!(
            lanes_owner("20261121-120059-a1b2c3.lanes"),
            Some("20261121-120059-a1b2c3")
        );
        assert_eq!(lanes_owner("20261121-120059-a1b2c3"), None);
        assert_eq!(lanes_owner("../x.lanes/W1"), None);
        assert_eq!(lanes_owner("20261121-120059-a1b2c3.lanesX"), None);
    }

    #[test]
    fn create_refuses_an_existing_run_folder() {
        let dir = tempfile::tempdir().unwrap();
        let p = RunPaths::new(dir.path(), "x1");
        p.create().unwrap();
        assert!(p.dir.join("logs").is_dir());
        assert!(p.create().is_err());
    }
}
