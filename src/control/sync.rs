//! `workspace_sync`: what a run changed and how to get it into your checkout.
//!
//! The run's work lives on the branch `orx/<id>` (cut from the recorded base commit), so
//! getting it is plain git: the answer names the branch, the base, how many commits the branch
//! is ahead of the base and which files changed (through `crate::git`), the pull request when
//! ship opened one, and the exact commands to look at it, merge it, or check it out.

use serde::Serialize;

use super::Control;
use crate::error::Result;
use crate::model::RunState;

#[derive(Debug, Clone, Serialize)]
pub struct SyncView {
    pub run_id: String,
    pub repo: String,
    pub status: String,
    pub branch: String,
    pub base_branch: String,
    pub base_sha: String,
    /// The branch's head commit, when the branch exists.
    pub head_sha: Option<String>,
    pub commits_ahead: u32,
    pub files_changed: Vec<String>,
    pub pr_url: Option<String>,
    pub worktree: String,
    /// Commands to run in the repository, in order of usefulness.
    pub commands: Vec<String>,
}

impl Control {
    /// What run `id` changed and the git commands to get it.
    pub fn sync(&self, id: &str) -> Result<SyncView> {
        let (w, paths) = self.find_run(id)?;
        let state = RunState::load(&paths.state())?;
        let repo = w.repo()?;
        let branch = state.worktree.branch.clone();
        let base = state.worktree.base_sha.clone();
        let head = repo.resolve_commit(&branch).ok();
        let (ahead, files) = match &head {
            Some(h) if !base.is_empty() => (
                repo.commits_ahead(&base, h).unwrap_or(0),
                repo.files_changed(&base, h).unwrap_or_default(),
            ),
            _ => (0, Vec::new()),
        };
        let status = super::runs::live_status(state.status.as_str(), &paths);
        let b = &branch;
        let bb = &state.worktree.base_branch;
        let commands = vec![
            format!("git log --oneline {bb}..{b}"),
            format!("git diff {bb}...{b}"),
            format!("git merge --ff-only {b}"),
            format!("git checkout {b}"),
            format!("cd {}", state.worktree.path.display()),
            "git worktree list".to_string(),
        ];
        Ok(SyncView {
            run_id: state.run_id.clone(),
            repo: w.name.clone(),
            status,
            branch: branch.clone(),
            base_branch: bb.clone(),
            base_sha: base,
            head_sha: head,
            commits_ahead: ahead,
            files_changed: files,
            pr_url: state.ship.pr_url.clone(),
            worktree: state.worktree.path.display().to_string(),
            commands,
        })
    }
}
