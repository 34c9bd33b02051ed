//! `orx resume RUN_ID`: continue a run from its last checkpoint.

use super::summary::{drive_and_report, OutputArgs};
use super::DirArg;
use crate::error::OrxError;

#[derive(Debug, clap::Args)]
pub struct ResumeArgs {
    /// The run to continue (see `orx status`).
    pub run_id: String,
    /// Backlog items worked at once from now on (1 to 16) [default: what the run used].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=crate::config::MAX_PARALLEL as i64))]
    pub parallel: Option<u32>,
    /// Candidates per item from now on, for items whose candidates have not started (1 to 8) [default: what the run used].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=crate::config::MAX_CANDIDATES as i64))]
    pub candidates: Option<u32>,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub dir: DirArg,
}

pub fn run(a: ResumeArgs) -> Result<i32, OrxError> {
    let dir = a.dir.dir;
    drive_and_report(&a.output, &dir, |reporter| {
        crate::runner::setup::resume_with(&dir, &a.run_id, a.parallel, a.candidates, reporter)
    })
}
