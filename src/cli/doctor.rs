//! `orx doctor [--json]`: print what [`crate::doctor`] finds about this machine.
//!
//! Exit code: 0 when everything required works, 1 ("not ready") when something required is
//! missing or broken, no engine among them (see `crate::doctor` for what is required and what is
//! only a warning). The last line (and `verdict` in `--json`) says which, and the fix.

use std::path::Path;

use super::DirArg;
use crate::config::Config;
use crate::doctor::{diagnose, Report};
use crate::error::OrxError;

#[derive(Debug, clap::Args)]
pub struct DoctorArgs {
    /// Print the report as one JSON object.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub dir: DirArg,
}

pub fn run(a: DoctorArgs) -> Result<i32, OrxError> {
    let (config, source) = load_config(&a.dir.dir);
    let report = diagnose(&config, source);
    if a.json {
        let text =
            serde_json::to_string_pretty(&report).map_err(|e| OrxError::internal(e.to_string()))?;
        println!("{text}");
    } else {
        print!("{}", render(&report));
    }
    Ok(if report.ok { 0 } else { 1 })
}

/// The repository's config when there is one (a broken one is reported, not fatal).
fn load_config(dir: &Path) -> (Config, Option<String>) {
    let Ok(repo) = crate::git::Repo::discover(dir) else {
        return (Config::default(), None);
    };
    match crate::config::load(&repo.root, None) {
        Ok(l) => {
            let src = match &l.source {
                crate::config::ConfigSource::File(p) => Some(p.display().to_string()),
                crate::config::ConfigSource::Defaults { .. } => None,
            };
            (l.config, src)
        }
        Err(e) => (Config::default(), Some(format!("unreadable: {e}"))),
    }
}

fn render(r: &Report) -> String {
    let mut out = String::from("orx doctor\n");
    // Names in one column, at least as wide as the longest name and a space.
    let width = r
        .checks
        .iter()
        .map(|c| c.name.chars().count() + 1)
        .max()
        .unwrap_or(0)
        .max(8);
    if let Some(c) = &r.config {
        out.push_str(&format!("  config    {c}\n"));
    }
    match &r.engine {
        Some(e) => out.push_str(&format!("  engine    {e} ({})\n", r.engine_source)),
        None => out.push_str("  engine    none\n"),
    }
    for p in &r.problems {
        out.push_str(&format!(
            "      {}: {}\n      hint: {}\n",
            p.severity, p.message, p.hint
        ));
    }
    for c in &r.checks {
        let mark = if c.problems.iter().any(|p| p.severity == "error") {
            "✗"
        } else if c.problems.is_empty() {
            "✓"
        } else {
            "!"
        };
        let mut line = format!("  {mark} {:<width$}", c.name);
        match &c.version {
            Some(v) => line.push_str(v),
            None if c.installed => line.push_str("installed"),
            None => line.push_str("not installed"),
        }
        if let Some(t) = &c.tested_version {
            line.push_str(&format!(" (tested {t})"));
        }
        if let Some(m) = &c.minimum_version {
            line.push_str(&format!(" (parallel lanes need {m} or later)"));
        }
        if let Some(src) = &c.credentials_source {
            line.push_str(&format!(", credentials: {src}"));
        }
        if c.required {
            line.push_str(", required");
        }
        out.push_str(&line);
        out.push('\n');
        for p in &c.problems {
            out.push_str(&format!(
                "      {}: {}\n      hint: {}\n",
                p.severity, p.message, p.hint
            ));
        }
    }
    out.push_str(&r.verdict);
    out.push('\n');
    out
}
