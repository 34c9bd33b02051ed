//! `orx resume RUN_ID`: continue a run from its last checkpoint.

use super::summary::{print_summary, IdFirst};
use super::DirArg;
use crate::error::OrxError;
use crate::report::{pick_reporter, OutputMode, Reporter};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct ResumeArgs {
    /// The run to continue (see `orx status`).
    pub run_id: String,
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

pub fn run(a: ResumeArgs) -> Result<i32, OrxError> {
    crate::exec::install_interrupt_handler();
    let mode = OutputMode::pick(a.json, a.no_progress);
    let mut inner = pick_reporter(mode);
    let mut reporter = IdFirst::new(inner.as_mut(), mode);
    let outcome = crate::runner::setup::resume(&a.dir.dir, &a.run_id, &mut reporter);
    reporter.finish();
    let outcome = outcome?;
    print_summary(&outcome, mode);
    if let Some(path) = &a.junit {
        super::summary::write_junit(path, &a.dir.dir, &outcome)?;
    }
    Ok(outcome.exit_code())
}
