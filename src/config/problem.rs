//! [`Problem`]: one broken configuration rule, named by its key path.
//!
//! It lives on its own so every file of rules (`validate.rs`, `lifecycle_rules.rs`) can produce
//! problems without importing another file of rules; the loader turns the first one into a
//! located error through [`Problem::to_error`].

use std::path::Path;

use super::diagnostic::config_error;
use super::error::ConfigError;
use super::locate::{locate, KeyPath};

/// One broken rule: where, what, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: KeyPath,
    pub message: String,
    pub hint: Option<String>,
}

impl Problem {
    pub(super) fn new(path: KeyPath, message: String, hint: impl Into<Option<String>>) -> Problem {
        Problem {
            path,
            message,
            hint: hint.into(),
        }
    }

    /// This problem as a config error in `file`, located by searching `text` for its key.
    pub fn to_error(&self, file: &Path, text: Option<&str>) -> ConfigError {
        let position = text.and_then(|t| locate(t, &self.path));
        config_error(file, position, &self.message, self.hint.clone())
    }
}
