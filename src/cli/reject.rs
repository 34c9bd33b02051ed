//! `orx reject RUN_ID --feedback TEXT|@file`: run the stage a run stopped after again, with
//! the feedback in its prompt.

use std::path::Path;

use super::summary::{drive_and_report, OutputArgs};
use super::DirArg;
use crate::error::OrxError;

#[derive(Debug, clap::Args)]
pub struct RejectArgs {
    /// The run awaiting approval (see `orx status`).
    pub run_id: String,
    /// What to change, as text or @path/to/feedback.md.
    #[arg(long, value_name = "TEXT|@FILE")]
    pub feedback: String,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub dir: DirArg,
}

pub fn run(a: RejectArgs) -> Result<i32, OrxError> {
    let feedback = match a.feedback.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(Path::new(path))
            .map_err(|e| OrxError::user_file("read feedback file", Path::new(path), e))?,
        None => a.feedback.clone(),
    };
    let dir = a.dir.dir;
    drive_and_report(&a.output, &dir, |reporter| {
        crate::runner::approval::reject(&dir, &a.run_id, &feedback, reporter)
    })
}
