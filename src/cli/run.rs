//! `orx run TASK|@file`: start a run and drive it to the end.

use std::path::PathBuf;

use super::summary::{print_summary, IdFirst};
use super::DirArg;
use crate::error::OrxError;
use crate::report::{pick_reporter, OutputMode, Reporter};
use crate::runner::setup::{start, StartOptions};

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The task text, or @path/to/task.md.
    pub task: String,
    /// Executor for every stage not routed elsewhere in orx.yaml (fake, claude, codex, gemini, cursor).
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
    /// Print events as JSON lines on stdout, with a summary object last.
    #[arg(long)]
    pub json: bool,
    /// Plain progress lines instead of a live progress bar.
    #[arg(long)]
    pub no_progress: bool,
    /// Write every gate run (each item attempt) as JUnit XML to this file when the run ends.
    #[arg(long, value_name = "PATH")]
    pub junit: Option<PathBuf>,
    #[command(flatten)]
    pub dir: DirArg,
}

pub fn run(a: RunArgs) -> Result<i32, OrxError> {
    crate::exec::install_interrupt_handler();
    let mode = OutputMode::pick(a.json, a.no_progress);
    let mut inner = pick_reporter(mode);
    let mut reporter = IdFirst::new(inner.as_mut(), mode);
    let opts = StartOptions {
        dir: a.dir.dir,
        task: a.task,
        engine: a.engine,
        model: a.model,
        base_branch: a.base_branch,
        config: a.config,
        scenario: a.scenario,
        pipeline: a.pipeline,
    };
    let outcome = start(&opts, &mut reporter);
    reporter.finish();
    let outcome = outcome?;
    print_summary(&outcome, mode);
    if let Some(path) = &a.junit {
        super::summary::write_junit(path, &opts.dir, &outcome)?;
    }
    Ok(outcome.exit_code())
}
