//! `context/lessons.md`: what the fix loop learned, written as it happens.
//!
//! Every failed attempt appends one line (item, attempt, which gates failed and their failure
//! signature), and an item that passes after failures appends what finally worked. The file is
//! fed to later prompts as `{{lessons}}`, above all to the knowledge stage, which turns it into
//! durable notes in AGENTS.md. Appends are best effort by design: losing a lesson to a full
//! disk must not fail the run that is learning it, so an I/O error is returned as a warning
//! text for the caller to emit.

use std::io::Write;

use crate::runner::Run;

/// Append one bullet to `context/lessons.md` (creating it with a heading); on failure return
/// a warning to emit.
pub(crate) fn append(run: &Run<'_>, line: &str) -> Option<String> {
    let path = run.paths.context("lessons.md");
    let fresh = !path.exists();
    let result = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| {
            let mut text = String::new();
            if fresh {
                text.push_str("# Lessons\n\n");
            }
            text.push_str(&format!("- {}\n", run.redact(line.trim())));
            f.write_all(text.as_bytes())
        });
    result
        .err()
        .map(|e| format!("could not append to {}: {e}", path.display()))
}
