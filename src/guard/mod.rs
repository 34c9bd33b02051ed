//! Guardrails: what an agent's change may not contain, checked before it can become a commit.
//!
//! [`Guard::check`] takes the paths a run changed and the unified diff of that change and
//! returns every [`Violation`]: a forbidden or not-allowed path, too many files, a secret in
//! an added line (with file and line), a `.env` file. It is pure (no git, no run) so the rules
//! are tested on plain strings; the runner (`runner/guardrails.rs`) feeds it the run's whole
//! change (base sha → working state, untracked files included), which implement (after every
//! attempt, before the snapshot is taken, so a secret never lands in a commit object kept by a
//! ref) and ship (before committing leftovers) ask for. Reports only ever carry masked values
//! ([`secrets::mask`]).
//!
//! `guardrails.secrets.allow` entries are of two kinds, chosen so that neither needs the
//! secret itself in orx.yaml: a glob over paths (same rules as `forbidden_patterns`), which
//! exempts matching files from the secret and `.env` checks (`tests/fixtures/**`), or
//! `match:<text>`, which exempts one exact matched text wherever it appears — meant for public
//! dummy values such as AWS's documented `AKIAIOSFODNN7EXAMPLE`.
//!
//! - [`paths`]: the globs and the file count.
//! - [`secrets`]: credential shapes, entropy, the diff scan (`anchors`: where its anchor bytes
//!   are, for texts dense with them).
//! - [`redact`]: the run's [`Redactor`], applied to everything orx writes.
//! - [`json_out`]: the redactor writing a value as JSON, every string redacted on the way.
//! - `escapes`: the text a text's backslash escapes stand for, which the redactor scans.
//! - `stems`: the literals every credential shape starts with, in the order that keeps the
//!   literal searcher's buckets narrow.

mod anchors;
mod escapes;
pub mod json_out;
pub mod paths;
pub mod redact;
pub mod secrets;
mod stems;

use serde::{Deserialize, Serialize};

use crate::config::GuardrailsConfig;
use crate::error::{OrxError, Result};
pub use redact::Redactor;

crate::model::string_enum! {
    /// What rule a change broke.
    #[derive(PartialOrd, Ord)]
    pub enum ViolationKind {
        PathForbidden = "path_forbidden",
        PathNotAllowed = "path_not_allowed",
        TooManyFiles = "too_many_files",
        Secret = "secret",
        EnvFile = "env_file",
        /// A changed file too large for the secret scan to read.
        Unscannable = "unscannable",
    }
}

/// One broken rule, located, with any secret masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    pub kind: ViolationKind,
    pub file: Option<String>,
    pub line: Option<u32>,
    /// What was found; secrets appear masked (`AKIA…(20 chars)`).
    pub detail: String,
}

impl Violation {
    /// `file:line`, `file`, or `(run)` for a rule about the whole change.
    pub fn location(&self) -> String {
        match (&self.file, self.line) {
            (Some(f), Some(l)) => format!("{f}:{l}"),
            (Some(f), None) => f.clone(),
            (None, _) => "(run)".into(),
        }
    }
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {}: {}",
            self.location(),
            self.kind.as_str(),
            self.detail
        )
    }
}

/// The guardrails of a config, compiled.
#[derive(Debug, Clone)]
pub struct Guard {
    enabled: bool,
    rules: paths::PathRules,
    secrets_enabled: bool,
    allow_paths: paths::PathSet,
    allow_matches: Vec<String>,
}

impl Guard {
    /// Compile the config's globs; a bad one is a config error naming it.
    pub fn new(cfg: &GuardrailsConfig) -> Result<Guard> {
        let bad = |key: &str, e: String| {
            OrxError::config(format!("guardrails.{key}: {e}"))
                .with_hint("fix the pattern in orx.yaml (globs use *, ** and [..])")
        };
        let (allow_matches, allow_globs): (Vec<String>, Vec<String>) = cfg
            .secrets
            .allow
            .iter()
            .cloned()
            .partition(|a| a.starts_with(ALLOW_MATCH_PREFIX));
        Ok(Guard {
            enabled: cfg.enabled,
            rules: paths::PathRules {
                forbidden: paths::PathSet::new(&cfg.forbidden_patterns)
                    .map_err(|e| bad("forbidden_patterns", e))?,
                allowed: paths::PathSet::new(&cfg.allowed_patterns)
                    .map_err(|e| bad("allowed_patterns", e))?,
                max_files: cfg.max_files_changed,
            },
            secrets_enabled: cfg.secrets.enabled,
            allow_paths: paths::PathSet::new(&allow_globs).map_err(|e| bad("secrets.allow", e))?,
            allow_matches: allow_matches
                .into_iter()
                .map(|a| a[ALLOW_MATCH_PREFIX.len()..].to_string())
                .collect(),
        })
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Every violation of `changed` (repository-relative paths) and `diff` (a unified diff of
    /// the same change): path rules first, then secrets and `.env` files in diff order.
    pub fn check(&self, changed: &[String], diff: &str) -> Vec<Violation> {
        if !self.enabled {
            return Vec::new();
        }
        let mut out = self.rules.check(changed);
        if self.secrets_enabled {
            let allow = |file: &str, matched: &str| {
                (!self.allow_paths.is_empty() && self.allow_paths.matches(file))
                    || (!matched.is_empty() && self.allow_matches.iter().any(|m| m == matched))
            };
            out.extend(secrets::scan_diff(diff, &allow));
        }
        out
    }
}

impl Guard {
    /// Violations for changed files too large to scan for secrets ([`MAX_SCAN_BYTES`]),
    /// unless the secret check is off or a `secrets.allow` glob exempts them.
    pub fn unscannable(&self, too_large: &[(String, u64)]) -> Vec<Violation> {
        if !self.enabled || !self.secrets_enabled {
            return Vec::new();
        }
        too_large
            .iter()
            .filter(|(p, _)| self.allow_paths.is_empty() || !self.allow_paths.matches(p))
            .map(|(p, n)| Violation {
                kind: ViolationKind::Unscannable,
                file: Some(p.clone()),
                line: None,
                detail: format!(
                    "{n} bytes, above the {} MiB the secret scan reads; commit it by hand, or exempt it with a guardrails.secrets.allow glob",
                    MAX_SCAN_BYTES / (1024 * 1024)
                ),
            })
            .collect()
    }
}

/// [`Guard::check`] for a config, compiled on the spot.
pub fn check(changed: &[String], diff: &str, cfg: &GuardrailsConfig) -> Result<Vec<Violation>> {
    Ok(Guard::new(cfg)?.check(changed, diff))
}

/// Prefix of a `guardrails.secrets.allow` entry that names an exact matched text.
pub const ALLOW_MATCH_PREFIX: &str = "match:";

/// The `(key, message)` of every invalid glob in `cfg` (for config validation).
pub fn pattern_problems(cfg: &GuardrailsConfig) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let globs: Vec<String> = cfg
        .secrets
        .allow
        .iter()
        .filter(|a| !a.starts_with(ALLOW_MATCH_PREFIX))
        .cloned()
        .collect();
    for (key, list) in [
        ("forbidden_patterns", &cfg.forbidden_patterns),
        ("allowed_patterns", &cfg.allowed_patterns),
        ("secrets", &globs),
    ] {
        if let Err(e) = paths::PathSet::new(list) {
            out.push((key, e));
        }
    }
    out
}

/// The first sentence of every guardrail report.
pub const REPORT_INTRO: &str = "The change breaks the repository's guardrails; it was not \
committed. Remove or fix every item listed (never commit secrets or `.env` files; read them \
from the environment instead).";

/// Every guardrail signature starts with this.
pub const SIGNATURE_PREFIX: &str = "guardrails:";

/// The violations as a Markdown list, for evidence and the fix prompt.
pub fn report(violations: &[Violation]) -> String {
    let mut s = format!("{REPORT_INTRO}\n\n");
    for v in violations {
        s.push_str(&format!("- {v}\n"));
    }
    s
}

/// A stable summary of what was broken (kinds and places, not details), for the fix loop.
pub fn signature(violations: &[Violation]) -> String {
    let mut parts: Vec<String> = violations
        .iter()
        .map(|v| format!("{}@{}", v.kind.as_str(), v.file.as_deref().unwrap_or("")))
        .collect();
    parts.sort();
    parts.dedup();
    format!("{SIGNATURE_PREFIX}{}", parts.join(","))
}

/// A diff as it may be shown to an agent (the fix prompt): the hunks of every file that
/// breaks the guardrails (a forbidden or not-allowed path, a secret) are withheld, the file
/// only named, and `.env` values are masked.
pub fn diff_for_prompt(diff: &str, cfg: &GuardrailsConfig) -> Result<String> {
    let guard = Guard::new(cfg)?;
    let changed = secrets::diff_paths(diff);
    let blocked: std::collections::HashSet<String> = guard
        .check(&changed, diff)
        .into_iter()
        .filter_map(|v| v.file)
        .collect();
    let shown = if blocked.is_empty() {
        diff.to_string()
    } else {
        secrets::withhold_files(diff, |f| blocked.contains(f))
    };
    Ok(secrets::mask_env_files(&shown))
}

/// The largest file whose content the secret scan reads; a larger changed file is blocked
/// (a `guardrails.secrets.allow` glob lets it through knowingly).
pub const MAX_SCAN_BYTES: u64 = 16 * 1024 * 1024;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SecretsConfig;

    fn cfg(allow: &[&str]) -> GuardrailsConfig {
        GuardrailsConfig {
            secrets: SecretsConfig {
                enabled: true,
                allow: allow.iter().map(|s| s.to_string()).collect(),
            },
            ..GuardrailsConfig::default()
        }
    }

    const DIFF: &str = "diff --git a/.env b/.env\nnew file mode 100644\n--- /dev/null\n+++ b/.env\n@@ -0,0 +1 @@\n+X=1\ndiff --git a/t/f.py b/t/f.py\n--- /dev/null\n+++ b/t/f.py\n@@ -0,0 +1,2 @@\n+ok = 1\n+K = 'AKIAIOSFODNN7EXAMPLE'\n";

    fn changed() -> Vec<String> {
        vec![".env".into(), "t/f.py".into()]
    }

    #[test]
    fn blocked_files_are_named_in_a_prompt_diff_never_quoted() {
        let mut c = cfg(&[]);
        c.forbidden_patterns = vec!["secrets/**".into()];
        let diff = format!(
            "{DIFF}diff --git a/secrets/p.txt b/secrets/p.txt\n--- /dev/null\n+++ b/secrets/p.txt\n@@ -0,0 +1 @@\n+hunter2-prod\ndiff --git a/ok.txt b/ok.txt\n--- /dev/null\n+++ b/ok.txt\n@@ -0,0 +1 @@\n+fine\n"
        );
        let shown = diff_for_prompt(&diff, &c).unwrap();
        assert!(!shown.contains("hunter2-prod"), "{shown}");
        assert!(!shown.contains("AKIAIOSFODNN7EXAMPLE"), "{shown}");
        assert!(shown.contains("+++ b/secrets/p.txt") && shown.contains("+++ b/t/f.py"));
        assert!(shown.contains("+fine") && shown.contains(secrets::WITHHELD));
        assert!(!shown.contains("+X=1"), "{shown}");
    }

    #[test]
    fn defaults_catch_the_env_file_twice_and_the_key() {
        let v = Guard::new(&cfg(&[])).unwrap().check(&changed(), DIFF);
        let got: Vec<String> = v.iter().map(|v| format!("{v}")).collect();
        assert_eq!(
            got,
            [
                ".env: path_forbidden: matches guardrails.forbidden_patterns",
                ".env: env_file: `.env` files hold local secrets and must not be committed",
                "t/f.py:2: secret: aws_access_key_id AKIA…(20 chars)",
            ]
        );
        assert_eq!(
            signature(&v),
            "guardrails:env_file@.env,path_forbidden@.env,secret@t/f.py"
        );
        assert!(report(&v).contains("- t/f.py:2: secret"));
    }

    #[test]
    fn the_allowlist_takes_path_globs_and_exact_matches() {
        let g = Guard::new(&cfg(&["match:AKIAIOSFODNN7EXAMPLE"])).unwrap();
        assert_eq!(g.check(&changed(), DIFF).len(), 2);
        let g = Guard::new(&cfg(&["t/**"])).unwrap();
        assert_eq!(g.check(&changed(), DIFF).len(), 2);
        let g = Guard::new(&cfg(&[".env", "t/"])).unwrap();
        let v = g.check(&changed(), DIFF);
        assert_eq!(v.len(), 1, "only the forbidden path is left: {v:?}");
    }

    #[test]
    fn disabled_guardrails_and_secret_scan() {
        let mut c = cfg(&[]);
        c.secrets.enabled = false;
        assert_eq!(Guard::new(&c).unwrap().check(&changed(), DIFF).len(), 1);
        c.enabled = false;
        assert!(Guard::new(&c).unwrap().check(&changed(), DIFF).is_empty());
    }

    #[test]
    fn a_bad_glob_in_orx_yaml_is_located() {
        let text = "guardrails:\n  secrets:\n    allow:\n      - \"match:[\"\n      - \"a/[\"\n";
        let e = crate::config::parse_str(text, std::path::Path::new("orx.yaml"), &|_| None)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("orx.yaml:") && e.contains("`a/[`"), "{e}");
        let ok = "guardrails:\n  secrets:\n    enabled: false\n    allow: [\"t/**\"]\n";
        let cfg =
            crate::config::parse_str(ok, std::path::Path::new("orx.yaml"), &|_| None).unwrap();
        assert!(!cfg.guardrails.secrets.enabled);
        let v = check(&[".env".into()], "", &cfg.guardrails).unwrap();
        assert_eq!(v.len(), 1, "path rules still apply: {v:?}");
    }

    #[test]
    fn bad_globs_are_config_errors() {
        let mut c = cfg(&["match:[", "a/["]);
        assert_eq!(pattern_problems(&c).len(), 1);
        c.forbidden_patterns = vec!["{".into()];
        let e = Guard::new(&c).unwrap_err();
        assert!(
            e.message.contains("guardrails.forbidden_patterns"),
            "{}",
            e.message
        );
        assert_eq!(pattern_problems(&c).len(), 2);
    }
}
