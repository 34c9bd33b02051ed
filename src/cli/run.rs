//! `orx run TASK|@file`: start a run and drive it to the end.

use std::path::PathBuf;

use super::summary::{drive_and_report, OutputArgs};
use super::DirArg;
use crate::error::OrxError;
use crate::model::Stage;
use crate::runner::setup::{start, StartOptions};

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The task text, or @path/to/task.md.
    pub task: String,
    /// Executor for every stage not routed elsewhere in orx.yaml (claude, codex, …, or fake; `orx doctor` lists them) [default: engine.type, else the first agent CLI installed with credentials].
    #[arg(long)]
    pub engine: Option<String>,
    /// Model for the engine.
    #[arg(long)]
    pub model: Option<String>,
    /// Branch (or commit) to cut the run's worktree from [default: git.base_branch, else the current branch].
    #[arg(long)]
    pub base_branch: Option<String>,
    /// Config file [default: orx.yaml in the repository root].
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Scenario file for the fake engine.
    #[arg(long, value_name = "PATH")]
    pub scenario: Option<PathBuf>,
    /// Stage set: full, fast-fix, plan-only, or a name from `pipelines:` in orx.yaml.
    #[arg(long, default_value = "full")]
    pub pipeline: String,
    /// Use this run id instead of a fresh one (`orx serve` picks it so it can answer at once).
    #[arg(long, hide = true, value_name = "ID")]
    pub run_id: Option<String>,
    /// Stop for your approval after these stages (plan, spec, decompose, review, ship), besides `run.approve`.
    #[arg(long, value_name = "STAGE,...", value_delimiter = ',')]
    pub approve: Vec<String>,
    /// Backlog items worked at once, each in a lane of its own (1 to 16) [default: run.max_parallel, else 1].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=crate::config::MAX_PARALLEL as i64))]
    pub parallel: Option<u32>,
    /// Candidates that attempt each item at once, best of N, each in a lane of its own (1 to 8) [default: stages.implement.candidates, else 1].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=crate::config::MAX_CANDIDATES as i64))]
    pub candidates: Option<u32>,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub dir: DirArg,
}

pub fn run(a: RunArgs) -> Result<i32, OrxError> {
    if let Some(id) = &a.run_id {
        if !crate::store::layout::is_valid_run_id(id) {
            return Err(OrxError::usage(format!("`{id}` is not a valid run id"))
                .with_hint("use letters, digits, `-` and `_`, at most 64 characters"));
        }
    }
    let mut approve = Vec::new();
    for name in &a.approve {
        match Stage::from_name(name.trim()).filter(|s| Stage::APPROVABLE.contains(s)) {
            Some(stage) => approve.push(stage),
            None => {
                return Err(OrxError::usage(format!(
                    "`--approve` names `{name}`, which is not a stage a run can stop after"
                ))
                .with_hint(
                    "list stages from plan, spec, decompose, review, ship, separated by commas",
                ))
            }
        }
    }
    let opts = StartOptions {
        dir: a.dir.dir,
        task: a.task,
        engine: a.engine,
        model: a.model,
        base_branch: a.base_branch,
        config: a.config,
        scenario: a.scenario,
        pipeline: a.pipeline,
        run_id: a.run_id,
        approve,
        parallel: a.parallel,
        candidates: a.candidates,
    };
    drive_and_report(&a.output, &opts.dir, |reporter| start(&opts, reporter))
}
