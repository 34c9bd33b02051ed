//! Health: git, gh, each agent CLI with its version, and free disk space where worktrees go.
//!
//! The probes are `orx doctor`'s ([`crate::doctor::diagnose`]), not a second copy: the
//! same PATH lookup, the same `--version` parsing, the same 10 s limit. Probing spawns half a
//! dozen processes, so the report is cached for [`TTL`]; the disk figures are read fresh each
//! time with `statvfs(2)` on each served repository's `.worktrees` folder (or the repository
//! when it does not exist yet).

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::Control;
use crate::doctor::{diagnose, missing_tool, Check};
use crate::store::layout::WORKTREES_DIR;

/// How long a dependency probe is reused.
pub const TTL: Duration = Duration::from_secs(30);

/// Free space on the file system holding one repository's worktrees.
#[derive(Debug, Clone, Serialize)]
pub struct DiskSpace {
    pub repo: String,
    pub path: String,
    pub free_bytes: u64,
    pub total_bytes: u64,
}

/// The dependency report.
#[derive(Debug, Clone, Serialize)]
pub struct Health {
    /// Everything required works (git, an engine, and the CLIs orx.yaml routes stages to, with
    /// credentials).
    pub ok: bool,
    pub version: String,
    pub git: Check,
    pub gh: Check,
    pub agents: Vec<Check>,
    pub disk: Vec<DiskSpace>,
}

#[derive(Debug, Default)]
pub(super) struct HealthCache {
    last: Mutex<Option<(Instant, bool, Vec<Check>)>>,
}

/// Free and total bytes of the file system holding `path`.
pub fn disk_space(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs(2) writes into the zeroed struct we own and reads a NUL-terminated
    // path that outlives the call.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
    if rc != 0 {
        return None;
    }
    let frsize = st.f_frsize as u64;
    Some((st.f_bavail as u64 * frsize, st.f_blocks as u64 * frsize))
}

impl Control {
    /// The dependency report (probes cached for [`TTL`]).
    pub fn health(&self) -> Health {
        let (ok, checks) = {
            let mut last = match self.health.last.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            match last.as_ref() {
                Some((at, ok, checks)) if at.elapsed() < TTL => (*ok, checks.clone()),
                _ => {
                    let config = self
                        .workspaces
                        .first()
                        .and_then(|w| crate::config::load(&w.root, None).ok())
                        .map(|l| l.config)
                        .unwrap_or_default();
                    let report = diagnose(&config, None);
                    *last = Some((Instant::now(), report.ok, report.checks.clone()));
                    (report.ok, report.checks)
                }
            }
        };
        let find = |n: &str| checks.iter().find(|c| c.name == n).cloned();
        let agents = checks
            .iter()
            .filter(|c| c.kind == "executor")
            .cloned()
            .collect();
        let disk = self
            .workspaces
            .iter()
            .filter_map(|w| {
                let wt = w.root.join(WORKTREES_DIR);
                let at = if wt.is_dir() { wt } else { w.root.clone() };
                let (free, total) = disk_space(&at)?;
                Some(DiskSpace {
                    repo: w.name.clone(),
                    path: at.display().to_string(),
                    free_bytes: free,
                    total_bytes: total,
                })
            })
            .collect();
        // diagnose always returns git and gh checks; fall back to an empty probe otherwise.
        let missing = |n: &str| missing_tool(n, n == "git");
        Health {
            ok,
            version: env!("CARGO_PKG_VERSION").to_string(),
            git: find("git").unwrap_or_else(|| missing("git")),
            gh: find("gh").unwrap_or_else(|| missing("gh")),
            agents,
            disk,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn disk_space_of_the_temp_dir_is_positive() {
        let (free, total) = super::disk_space(&std::env::temp_dir()).unwrap();
        assert!(total > 0 && free <= total);
        assert!(super::disk_space(std::path::Path::new("/no/such/dir")).is_none());
    }
}
