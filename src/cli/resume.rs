//! `orx resume RUN_ID`: continue a run from its last checkpoint.

use super::summary::{drive_and_report, OutputArgs};
use super::DirArg;
use crate::error::OrxError;

#[derive(Debug, clap::Args)]
pub struct ResumeArgs {
    /// The run to continue (see `orx status`).
    pub run_id: String,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub dir: DirArg,
}

pub fn run(a: ResumeArgs) -> Result<i32, OrxError> {
    let dir = a.dir.dir;
    drive_and_report(&a.output, &dir, |reporter| {
        crate::runner::setup::resume(&dir, &a.run_id, reporter)
    })
}
