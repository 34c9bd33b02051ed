//! Approval checkpoints for the dashboard and MCP: what a run awaiting approval asks a person
//! to read, and approving or rejecting it.
//!
//! The actions are the CLI's own (`orx approve`, `orx reject`), run as detached processes like
//! a resume, so the validation, the edit's use and the feedback are the runner's one
//! implementation. What only a remote caller needs lives here: the output shown for editing in
//! place ([`ApprovalView`]), and an edited text sent with the approval, which is validated
//! exactly as `orx approve` validates the file *before* it replaces the file, so a refused
//! edit changes nothing. Feedback goes to the child in a file under `runs/.launch/`, never on
//! its command line (a feedback starting with `@` would name a file to read).

use serde::{Deserialize, Serialize};

use super::launch::Launched;
use super::Control;
use crate::error::{OrxError, Result};
use crate::model::{RunState, RunStatus, Stage};
use crate::runner::approval::{check_output, output_of};
use crate::store::layout::{LAUNCH_DIR, RUNS_DIR};
use crate::store::lock::holder_alive;
use crate::store::RunPaths;

/// What a run awaiting approval asks a person to read.
#[derive(Debug, Clone, Serialize)]
pub struct ApprovalView {
    pub run_id: String,
    /// The stage that finished and waits for approval.
    pub stage: Stage,
    /// The file to read, relative to the run folder (`context/plan.md`).
    pub file: String,
    /// Whether an edited text may be sent with the approval (not for ship's patch).
    pub editable: bool,
    /// The file's text (lossy UTF-8, its first MiB; empty when it cannot be read).
    pub content: String,
}

/// `POST /api/runs/{id}/approve`'s body: the stage's output as the person edited it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApproveRequest {
    #[serde(default)]
    pub content: Option<String>,
}

/// `POST /api/runs/{id}/reject`'s body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RejectRequest {
    pub feedback: String,
}

/// The largest edited output or feedback accepted (a plan, not a data dump).
const MAX_TEXT: usize = 1024 * 1024;

fn editable(stage: Stage) -> bool {
    matches!(
        stage,
        Stage::Plan | Stage::Spec | Stage::Decompose | Stage::Review
    )
}

impl Control {
    /// The state of run `id` when it is stopped and awaiting approval.
    fn awaiting(&self, id: &str) -> Result<(RunPaths, RunState, Stage)> {
        let (_, paths) = self.find_run(id)?;
        if let Some(pid) = holder_alive(&paths.lock()) {
            return Err(OrxError::state(format!(
                "run {id} is running (pid {pid}); it is not awaiting approval"
            )));
        }
        let state = RunState::load(&paths.state())?;
        match (&state.checkpoint, state.status) {
            (Some(c), RunStatus::AwaitingApproval) => {
                let stage = c.stage;
                Ok((paths, state, stage))
            }
            _ => Err(OrxError::state(format!(
                "run {id} is not awaiting approval (it is {})",
                state.status
            ))
            .with_hint("only a run stopped at an approval checkpoint (run.approve) can be approved or rejected")),
        }
    }

    /// What run `id` asks a person to read before approving.
    pub fn approval(&self, id: &str) -> Result<ApprovalView> {
        let (paths, state, stage) = self.awaiting(id)?;
        let file = output_of(&state, stage);
        let mut bytes = std::fs::read(paths.dir.join(&file)).unwrap_or_default();
        // A larger output (a big patch) is shown cut, and cannot be edited in place: sending
        // the cut text back would drop the rest.
        let whole = bytes.len() <= MAX_TEXT;
        bytes.truncate(MAX_TEXT);
        Ok(ApprovalView {
            run_id: id.to_string(),
            stage,
            file,
            editable: editable(stage) && whole,
            content: String::from_utf8_lossy(&bytes).into_owned(),
        })
    }

    /// Approve run `id` in the background, with `content` replacing the stage's output first
    /// when given (validated as `orx approve` validates it; refused, nothing is written).
    pub fn approve(&self, id: &str, content: Option<&str>) -> Result<Launched> {
        let (paths, state, stage) = self.awaiting(id)?;
        if let Some(text) = content {
            if !editable(stage) {
                return Err(
                    OrxError::usage(format!("the {stage} output cannot be edited"))
                        .with_hint("approve without `content`"),
                );
            }
            if text.len() > MAX_TEXT || text.contains('\0') {
                return Err(OrxError::usage(
                    "the edited output is over 1 MiB or holds a NUL byte",
                ));
            }
            let file = output_of(&state, stage);
            check_output(stage, &format!("runs/{id}/{file}"), text)?;
            crate::store::atomic::write_atomic(&paths.dir.join(&file), text.as_bytes())?;
        }
        let (w, paths) = self.find_run(id)?;
        self.drive_detached(w, &paths, id, vec!["approve".into(), id.to_string()])
    }

    /// Reject run `id`'s stage in the background: it runs again with `feedback`.
    pub fn reject(&self, id: &str, feedback: &str) -> Result<Launched> {
        self.awaiting(id)?;
        if feedback.trim().is_empty() {
            return Err(OrxError::usage("the feedback is empty")
                .with_hint("say what to change in `feedback`"));
        }
        if feedback.len() > MAX_TEXT || feedback.contains('\0') {
            return Err(OrxError::usage(
                "the feedback is over 1 MiB or holds a NUL byte",
            ));
        }
        let (w, paths) = self.find_run(id)?;
        let dir = w.root.join(RUNS_DIR).join(LAUNCH_DIR);
        std::fs::create_dir_all(&dir).map_err(|e| OrxError::io("create", &dir, e))?;
        let file = dir.join(format!("{id}.feedback.md"));
        std::fs::write(&file, feedback.as_bytes()).map_err(|e| OrxError::io("write", &file, e))?;
        let launched = self.drive_detached(
            w,
            &paths,
            id,
            vec![
                "reject".into(),
                id.to_string(),
                "--feedback".into(),
                format!("@{}", file.display()),
            ],
        );
        // The child read the feedback before it took the lock (or it failed).
        let _ = std::fs::remove_file(&file);
        launched
    }
}
