//! Path guardrails: `forbidden_patterns`, `allowed_patterns` and `max_files_changed` over the
//! paths a run changed.
//!
//! Patterns are `globset` globs with gitignore's convenience: a pattern without a `/` matches
//! the file name at any depth (`.env` catches `app/.env`, `*secrets*` catches
//! `conf/secrets.yaml`), a pattern with a `/` matches the whole repository-relative path
//! (`migrations/**`), and a trailing `/` means everything below that folder. `*` may cross
//! folders in whole-path patterns, as in globset's default. Compiling happens once per check
//! site and fails with the offending pattern named, which is also how config validation
//! rejects a broken glob before a run starts.

use globset::{Glob, GlobSet, GlobSetBuilder};

use super::{Violation, ViolationKind};

/// A compiled list of patterns.
#[derive(Debug, Clone)]
pub struct PathSet {
    /// Matched against the whole path.
    full: GlobSet,
    /// Patterns without a `/`, matched against the file name.
    name: GlobSet,
    empty: bool,
}

impl PathSet {
    /// Compile `patterns`; the error names the first pattern that is not a valid glob.
    pub fn new(patterns: &[String]) -> Result<PathSet, String> {
        let mut full = GlobSetBuilder::new();
        let mut name = GlobSetBuilder::new();
        for p in patterns {
            let p = p.trim();
            let compiled =
                |s: &str| Glob::new(s).map_err(|e| format!("`{p}` is not a valid glob: {e}"));
            let anchored = p.starts_with('/');
            let pattern = match p.strip_suffix('/') {
                Some(dir) => format!("{}/**", dir.trim_start_matches('/')),
                None => p.trim_start_matches('/').to_string(),
            };
            full.add(compiled(&pattern)?);
            if !anchored && !pattern.contains('/') {
                name.add(compiled(&pattern)?);
            }
        }
        let build = |b: GlobSetBuilder| b.build().map_err(|e| format!("invalid glob set: {e}"));
        Ok(PathSet {
            full: build(full)?,
            name: build(name)?,
            empty: patterns.is_empty(),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.empty
    }

    /// Whether `path` (repository-relative, `/`-separated) matches one of the patterns.
    pub fn matches(&self, path: &str) -> bool {
        let file_name = path.rsplit('/').next().unwrap_or(path);
        self.full.is_match(path) || self.name.is_match(file_name)
    }
}

/// The path rules, compiled.
#[derive(Debug, Clone)]
pub struct PathRules {
    pub forbidden: PathSet,
    pub allowed: PathSet,
    pub max_files: Option<u32>,
}

impl PathRules {
    /// Every rule the changed paths break: each forbidden or not-allowed path, then the count.
    pub fn check(&self, changed: &[String]) -> Vec<Violation> {
        let mut out = Vec::new();
        for p in changed {
            if self.forbidden.matches(p) {
                out.push(Violation {
                    kind: ViolationKind::PathForbidden,
                    file: Some(p.clone()),
                    line: None,
                    detail: "matches guardrails.forbidden_patterns".into(),
                });
            } else if !self.allowed.is_empty() && !self.allowed.matches(p) {
                out.push(Violation {
                    kind: ViolationKind::PathNotAllowed,
                    file: Some(p.clone()),
                    line: None,
                    detail: "matches none of guardrails.allowed_patterns".into(),
                });
            }
        }
        if let Some(max) = self.max_files {
            if changed.len() > max as usize {
                out.push(Violation {
                    kind: ViolationKind::TooManyFiles,
                    file: None,
                    line: None,
                    detail: format!(
                        "the run changed {} files, more than guardrails.max_files_changed ({max})",
                        changed.len()
                    ),
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(p: &[&str]) -> PathSet {
        PathSet::new(&p.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn patterns_without_a_slash_match_file_names_at_any_depth() {
        let s = set(&[".env", "*.env", "*secrets*"]);
        for p in [
            ".env",
            "app/.env",
            "prod.env",
            "conf/secrets.yaml",
            "a/b/my_secrets",
        ] {
            assert!(s.matches(p), "{p}");
        }
        for p in ["env.py", ".envrc", "README.md", "src/main.rs"] {
            assert!(!s.matches(p), "{p}");
        }
    }

    #[test]
    fn patterns_with_a_slash_match_whole_paths_and_dirs() {
        let s = set(&["migrations/**", "vendor/", "/Cargo.lock"]);
        assert!(s.matches("migrations/001.sql"));
        assert!(s.matches("vendor/x/y.c"));
        assert!(s.matches("Cargo.lock"));
        assert!(!s.matches("src/migrations.rs"));
        assert!(!s.matches("sub/Cargo.lock"));
    }

    #[test]
    fn bad_globs_are_named() {
        let e = PathSet::new(&["src/[".to_string()]).unwrap_err();
        assert!(e.contains("`src/[`"), "{e}");
    }

    #[test]
    fn rules_report_forbidden_not_allowed_and_too_many() {
        let rules = PathRules {
            forbidden: set(&["*.lock"]),
            allowed: set(&["src/**", "*.lock"]),
            max_files: Some(2),
        };
        let changed: Vec<String> = ["Cargo.lock", "README.md", "src/a.rs"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let v = rules.check(&changed);
        let kinds: Vec<_> = v.iter().map(|v| v.kind).collect();
        assert_eq!(
            kinds,
            [
                ViolationKind::PathForbidden,
                ViolationKind::PathNotAllowed,
                ViolationKind::TooManyFiles
            ]
        );
        assert_eq!(v[1].file.as_deref(), Some("README.md"));
        assert!(rules.check(&changed[2..]).is_empty());
    }
}
