//! `orx approve RUN_ID`: go on from a run stopped at an approval checkpoint.

use super::summary::{drive_and_report, OutputArgs};
use super::DirArg;
use crate::error::OrxError;

#[derive(Debug, clap::Args)]
pub struct ApproveArgs {
    /// The run awaiting approval (see `orx status`).
    pub run_id: String,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub dir: DirArg,
}

pub fn run(a: ApproveArgs) -> Result<i32, OrxError> {
    let dir = a.dir.dir;
    drive_and_report(&a.output, &dir, |reporter| {
        crate::runner::approval::approve(&dir, &a.run_id, reporter)
    })
}
