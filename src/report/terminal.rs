//! The three terminal reporters and the rule that picks one.
//!
//! Progress (indicatif spinner on stderr, with stage, item, attempt and elapsed time, and the
//! important lines printed above it) is only for an interactive terminal. CI logs get plain
//! lines: a spinner redrawn in a log file is noise. `--json` prints every event as one JSON
//! line on stdout, followed by the summary object the CLI prints last.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use super::render::{line, status};
use super::Reporter;
use crate::model::RunEvent;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    Progress,
    Plain,
    Json,
}

/// Whether orx runs under CI (`CI` set to anything but `false`/`0`).
pub fn in_ci() -> bool {
    std::env::var("CI")
        .map(|v| !v.is_empty() && v != "false" && v != "0")
        .unwrap_or(false)
}

impl OutputMode {
    pub fn pick(json: bool, no_progress: bool) -> OutputMode {
        if json {
            OutputMode::Json
        } else if no_progress || in_ci() || !std::io::stderr().is_terminal() {
            OutputMode::Plain
        } else {
            OutputMode::Progress
        }
    }
}

pub fn pick_reporter(mode: OutputMode) -> Box<dyn Reporter> {
    match mode {
        OutputMode::Json => Box::new(JsonLines::default()),
        OutputMode::Plain => Box::new(Plain::default()),
        OutputMode::Progress => Box::new(Progress::new()),
    }
}

/// Plain lines on stderr, one per notable event.
#[derive(Debug, Default)]
pub struct Plain {
    /// Lines gathered until the next flush.
    pending: Vec<u8>,
}

impl Reporter for Plain {
    fn event(&mut self, ev: &RunEvent) {
        if let Some(l) = line(ev) {
            let ts = ev.ts.get(11..19).unwrap_or("");
            let _ = writeln!(self.pending, "{ts} {l}");
        }
    }

    fn flush(&mut self) {
        write_out(&mut std::io::stderr().lock(), &mut self.pending);
    }
}

/// Every event as a JSON line on stdout.
#[derive(Debug, Default)]
pub struct JsonLines {
    /// Lines gathered until the next flush.
    pending: Vec<u8>,
}

impl Reporter for JsonLines {
    fn event(&mut self, ev: &RunEvent) {
        if serde_json::to_writer(&mut self.pending, ev).is_ok() {
            self.pending.push(b'\n');
        }
    }

    fn flush(&mut self) {
        write_out(&mut std::io::stdout().lock(), &mut self.pending);
    }
}

/// Write the gathered lines in one go and forget them (a closed terminal is not the run's
/// failure).
fn write_out(out: &mut impl Write, pending: &mut Vec<u8>) {
    if !pending.is_empty() {
        let _ = out.write_all(pending);
        let _ = out.flush();
        pending.clear();
    }
}

/// A live spinner with the current step; notable lines scroll above it.
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    pub fn new() -> Progress {
        let bar = ProgressBar::new_spinner();
        let style = ProgressStyle::with_template("{spinner:.cyan} [{elapsed_precise}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(120));
        Progress { bar }
    }
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
}

impl Reporter for Progress {
    fn event(&mut self, ev: &RunEvent) {
        if let Some(s) = status(ev) {
            self.bar.set_message(s);
        }
        if let Some(l) = line(ev) {
            self.bar.println(l);
        }
    }
    fn finish(&mut self) {
        self.bar.finish_and_clear();
    }
}
