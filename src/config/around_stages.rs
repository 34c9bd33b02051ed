//! The `orx.yaml` sections for what happens around the stages: `knowledge`, `hooks`,
//! `worktree` and `retention`.
//!
//! They live apart from `types.rs` because they describe what happens *around* the staged
//! pipeline (preparing the worktree, notifying or vetoing, confining the knowledge update,
//! bounding disk use) rather than how a stage calls an agent. Same conventions as `types.rs`:
//! serde structs that deny unknown keys, a default for every field, doc comments that become
//! the schema descriptions. Semantic checks (positive timeouts, parseable durations, globs that
//! compile, paths that stay inside the repository) are in `validate.rs`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The knowledge update after ship: what the agent may write into AGENTS.md / ARCHITECTURE.md.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct KnowledgeConfig {
    /// Set to false to skip the knowledge stage (it is then recorded as skipped).
    pub enabled: bool,
    /// Files the agent may update, relative to the repository root. Only the text between
    /// `<!-- orx:begin -->` and `<!-- orx:end -->` changes; a missing block (or file) is created.
    pub files: Vec<String>,
    /// Most lines the agent may add to one file's block; further added lines are dropped.
    pub max_added_lines: u32,
    /// Most lines the agent may delete from one file's block; a bigger deletion is refused.
    pub max_deleted_lines: u32,
}

impl Default for KnowledgeConfig {
    fn default() -> Self {
        KnowledgeConfig {
            enabled: true,
            files: vec!["AGENTS.md".to_string(), "ARCHITECTURE.md".to_string()],
            max_added_lines: 40,
            max_deleted_lines: 40,
        }
    }
}

/// Commands run on lifecycle events. Each gets ORX_EVENT, ORX_RUN_ID, ORX_STAGE, ORX_STATUS,
/// ORX_ITEM, ORX_RUN_DIR and ORX_WORKTREE in its environment and one JSON object on stdin.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HooksConfig {
    /// When a process starts driving the run: `orx run` (ORX_STATUS=started) and every
    /// `orx resume` (ORX_STATUS=resumed). A blocking hook that fails vetoes the run.
    pub run_start: Vec<HookConfig>,
    /// Before a stage starts. A blocking hook that fails vetoes the stage (reason `hook_veto`).
    pub stage_start: Vec<HookConfig>,
    /// After a stage ends, with its status (done, failed, skipped).
    pub stage_end: Vec<HookConfig>,
    /// After a gate fails; stdin carries the gate result.
    pub gate_failed: Vec<HookConfig>,
    /// When the run ends, whatever its status.
    pub run_end: Vec<HookConfig>,
    /// When the run ends failed (after `run_end`).
    pub run_failed: Vec<HookConfig>,
    /// When the run stops at an approval checkpoint (`run.approve`), with ORX_STAGE the stage
    /// whose output awaits a person (ORX_STATUS=awaiting_approval).
    pub awaiting_approval: Vec<HookConfig>,
}

impl HooksConfig {
    /// Every event name with its hooks, in lifecycle order.
    pub fn iter(&self) -> [(&'static str, &Vec<HookConfig>); 7] {
        [
            ("run_start", &self.run_start),
            ("stage_start", &self.stage_start),
            ("stage_end", &self.stage_end),
            ("gate_failed", &self.gate_failed),
            ("run_end", &self.run_end),
            ("run_failed", &self.run_failed),
            ("awaiting_approval", &self.awaiting_approval),
        ]
    }
}

/// One hook command.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HookConfig {
    /// Shell command line (run with `sh -c`), in the run's worktree.
    pub command: String,
    /// When true, a failing hook on run_start or stage_start vetoes it; otherwise a failure
    /// is only a warning.
    #[serde(default)]
    pub blocking: bool,
    /// Wall-clock limit in seconds; a hook that runs out counts as failed.
    #[serde(default = "default_hook_timeout")]
    #[schemars(range(min = 1))]
    pub timeout: u64,
}

fn default_hook_timeout() -> u64 {
    60
}

/// Preparing each new worktree before any stage runs.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct WorktreeConfig {
    /// Globs of ignored files to copy from the main checkout into each new worktree, such as
    /// `.env.local`. A matching file that git does not ignore is refused (it would be committed).
    pub copy: Vec<String>,
    /// Shell commands run once per new worktree, in order, before any stage (e.g. `npm ci`).
    /// A failing command fails the run with reason `setup_failed`; resume runs it again.
    pub setup: Vec<String>,
    /// Wall-clock limit of each setup command, in seconds.
    #[schemars(range(min = 1))]
    pub setup_timeout: u64,
}

impl Default for WorktreeConfig {
    fn default() -> Self {
        WorktreeConfig {
            copy: Vec::new(),
            setup: Vec::new(),
            setup_timeout: 1800,
        }
    }
}

/// Old runs that `orx run` removes when it starts (never a live run or the new one).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Keep at most this many runs (the new one included); the oldest go first.
    #[schemars(range(min = 1))]
    pub max_runs: Option<u32>,
    /// Remove runs created longer ago than this (`7d`, `12h`, `30m`).
    pub max_age: Option<String>,
}
