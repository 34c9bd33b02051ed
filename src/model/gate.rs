//! What a quality gate produced: its result and the failures parsed from its output.
//!
//! The gates (`crate::gates`) run the commands and parse their output; the results are data
//! that `state.json` keeps per item and `gate_finished` events carry, so they live here.

use serde::{Deserialize, Serialize};

/// One failure a gate reported: a lint finding, a failing test, a compiler error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub file: Option<String>,
    pub line: Option<u32>,
    /// The rule code (`F401`, `invalid-syntax`) or, for tests, the test name (`TestOps::test_add`).
    pub code: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateResult {
    pub name: String,
    pub required: bool,
    pub passed: bool,
    #[serde(default)]
    pub exit_code: Option<i32>,
    pub duration_ms: u64,
    /// Log file, relative to the run folder.
    pub log: String,
    /// Last lines of the output.
    pub tail: String,
    #[serde(default)]
    pub failures: Vec<Failure>,
    #[serde(default)]
    pub signature: Option<String>,
    /// Why the gate could not run or was stopped (not found, timeout, interrupted).
    #[serde(default)]
    pub error: Option<String>,
}

impl GateResult {
    /// A failing required gate blocks the item; an optional one is only reported.
    pub fn blocks(&self) -> bool {
        self.required && !self.passed
    }
}
