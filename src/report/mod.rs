//! Reporters: the sinks that turn the run's event stream into something a person or a script
//! reads.
//!
//! The runner calls [`Reporter::event`] for every event it appends to `events.jsonl`; it never
//! prints on its own. Three renderings exist, picked once by the CLI: a live indicatif line on a
//! terminal, plain timestamped lines when there is no TTY, `CI=true` or `--no-progress`, and JSON
//! lines with `--json` (the same objects as `events.jsonl`, then one summary object last).
//! Human output goes to stderr, so stdout carries only the run id line and the summary.
//! `junit` turns the recorded history's gate runs into JUnit XML for CI (`--junit PATH`), and
//! `story` tells a recorded (or growing) history as `orx logs` prints it.

pub mod junit;
pub mod render;
pub mod story;
pub mod terminal;

use crate::model::RunEvent;
pub use terminal::{pick_reporter, OutputMode};

/// A sink for run events. `Send`, so that a run (which holds one) is `Send` and its parallel
/// lanes, runs of their own, can work on threads.
///
/// A reporter may gather what it prints: the runner calls [`Reporter::flush`] whenever the
/// events so far are all there is for the moment (after every event, except while an agent's
/// output arrives faster than it is read, when it calls it once per batch).
pub trait Reporter: Send {
    fn event(&mut self, ev: &RunEvent);
    /// Show what `event` gathered.
    fn flush(&mut self) {}
    /// The run is over: show what is gathered, clear progress bars.
    fn finish(&mut self) {
        self.flush();
    }
}

/// A reporter that drops everything (used by tests and the MCP server later).
#[derive(Debug, Default)]
pub struct Silent;

impl Reporter for Silent {
    fn event(&mut self, _ev: &RunEvent) {}
}
