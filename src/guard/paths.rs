//! Path guardrails: `forbidden_patterns`, `allowed_patterns` and `max_files_changed` over the
//! paths a run changed.
//!
//! Patterns are `globset` globs with gitignore's convenience: a pattern without a `/` matches
//! the file name at any depth (`.env` catches `app/.env`, `*secrets*` catches
//! `conf/secrets.yaml`), a pattern with a `/` matches the whole repository-relative path
//! (`migrations/**`), and a trailing `/` means everything below that folder. `*` may cross
//! folders in whole-path patterns, as in globset's default. Compiling fails with the offending
//! pattern named, which is also how config validation rejects a broken glob before a run starts.
//!
//! Compiling a list builds its glob sets' regexes, which costs far more than matching a run's
//! changed paths against them, and one process compiles the same config's lists several times
//! (config validation, then every guardrail check of a run). So each distinct list is compiled
//! once per process and kept ([`PathSet::new`] hands out a shared copy); the cache holds at most
//! [`CACHED_LISTS`] lists, more than the configs a long-lived process (the dashboard) reads.
//! globset matches a literal, a prefix, a suffix or an extension without a regex, but not a
//! pattern of the shape `*text*` (the default `*secrets*`), whose regex cost more to build
//! than all the rest of loading a config: such a pattern is kept as the text a path must
//! contain, which is exactly what its glob matches (`*` crosses `/` in a whole path, and the
//! file name is part of it).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use globset::{Glob, GlobSet, GlobSetBuilder};

use super::{Violation, ViolationKind};

/// How many distinct pattern lists a process keeps compiled; past that the cache starts over.
const CACHED_LISTS: usize = 32;

/// A compiled list of patterns (cheap to clone: the compiled sets are shared).
#[derive(Debug, Clone)]
pub struct PathSet {
    sets: Arc<Sets>,
}

#[derive(Debug)]
struct Sets {
    /// Matched against the whole path.
    full: GlobSet,
    /// Patterns without a `/`, matched against the file name.
    name: GlobSet,
    /// `*text*` patterns: the texts a matching path contains.
    contains: Vec<String>,
    empty: bool,
}

/// Compiled lists, by list.
#[derive(Default)]
struct Compiled {
    lists: HashMap<Vec<String>, PathSet>,
}

impl Compiled {
    /// This process's cache.
    fn shared() -> &'static Mutex<Compiled> {
        static SHARED: OnceLock<Mutex<Compiled>> = OnceLock::new();
        SHARED.get_or_init(Default::default)
    }

    fn get(&self, patterns: &[String]) -> Option<PathSet> {
        self.lists.get(patterns).cloned()
    }

    fn keep(&mut self, patterns: &[String], set: &PathSet) {
        if self.lists.len() >= CACHED_LISTS {
            self.lists.clear();
        }
        self.lists.insert(patterns.to_vec(), set.clone());
    }
}

impl PathSet {
    /// Compile `patterns`, or take this process's earlier compilation of the same list; the
    /// error names the first pattern that is not a valid glob.
    pub fn new(patterns: &[String]) -> Result<PathSet, String> {
        // The map only ever holds whole entries, so a panic elsewhere cannot leave it torn.
        let cache = || {
            Compiled::shared()
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
        };
        if let Some(set) = cache().get(patterns) {
            return Ok(set);
        }
        // Compiled outside the lock: another thread's check never waits for this one.
        let set = PathSet::compile(patterns)?;
        cache().keep(patterns, &set);
        Ok(set)
    }

    fn compile(patterns: &[String]) -> Result<PathSet, String> {
        let mut full = GlobSetBuilder::new();
        let mut name = GlobSetBuilder::new();
        let mut contains = Vec::new();
        for p in patterns {
            let p = p.trim();
            if let Some(text) = contained_text(p) {
                contains.push(text.to_string());
                continue;
            }
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
            sets: Arc::new(Sets {
                full: build(full)?,
                name: build(name)?,
                contains,
                empty: patterns.is_empty(),
            }),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.sets.empty
    }

    /// Whether `path` (repository-relative, `/`-separated) matches one of the patterns.
    pub fn matches(&self, path: &str) -> bool {
        let file_name = path.rsplit('/').next().unwrap_or(path);
        self.sets.contains.iter().any(|t| path.contains(t.as_str()))
            || self.sets.full.is_match(path)
            || self.sets.name.is_match(file_name)
    }
}

/// The text of a `*text*` pattern whose text holds nothing a glob reads specially.
fn contained_text(pattern: &str) -> Option<&str> {
    let text = pattern.strip_prefix('*')?.strip_suffix('*')?;
    let plain = !text.is_empty() && !text.contains(['*', '?', '[', ']', '{', '}', '\\', '/']);
    plain.then_some(text)
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
    fn a_star_text_star_pattern_matches_exactly_where_its_glob_does() {
        let globs = |p: &str| {
            let full = Glob::new(p).unwrap().compile_matcher();
            move |path: &str| {
                let name = path.rsplit('/').next().unwrap_or(path);
                full.is_match(path) || full.is_match(name)
            }
        };
        for pattern in ["*secrets*", "*.key*", "*a b*"] {
            assert!(contained_text(pattern).is_some(), "{pattern}");
            let ours = set(&[pattern]);
            let glob = globs(pattern);
            for path in [
                "secrets",
                "conf/secrets.yaml",
                "secrets/a.txt",
                "a/my_secrets/b",
                "Secrets.txt",
                "secret",
                "x.key",
                "id.key.pub",
                "a b",
                "dir/a b/c",
                "ab",
                "",
            ] {
                assert_eq!(ours.matches(path), glob(path), "{pattern} on {path:?}");
            }
        }
        // Anything a glob reads specially keeps going through globset.
        for pattern in [
            "**", "*a?b*", "*[ab]*", "*{a,b}*", "*a/b*", "*a\\*b*", "secrets*", "*",
        ] {
            assert!(contained_text(pattern).is_none(), "{pattern}");
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
    fn a_compiled_list_is_kept_and_shared_and_the_cache_stays_bounded() {
        let list = |i: usize| vec![format!("dir{i}/*.tmp")];
        let mut cache = Compiled::default();
        let set = PathSet::compile(&list(0)).unwrap();
        cache.keep(&list(0), &set);
        let again = cache.get(&list(0)).unwrap();
        assert!(Arc::ptr_eq(&set.sets, &again.sets));
        assert!(again.matches("dir0/x.tmp") && !again.matches("dir1/x.tmp"));
        assert!(cache.get(&list(1)).is_none());
        for i in 1..=CACHED_LISTS * 2 {
            cache.keep(&list(i), &PathSet::compile(&list(i)).unwrap());
            assert!(cache.lists.len() <= CACHED_LISTS);
        }
        let last = cache.get(&list(CACHED_LISTS * 2)).unwrap();
        assert!(last.matches(&format!("dir{}/x.tmp", CACHED_LISTS * 2)));
    }

    #[test]
    fn new_gives_what_compile_gives() {
        let list = vec!["*.key".to_string(), "build/".to_string()];
        // The first call compiles (or finds another test's compilation), the second finds it.
        for set in [PathSet::new(&list).unwrap(), PathSet::new(&list).unwrap()] {
            for p in ["a/b.key", "build/x/y.o"] {
                assert!(set.matches(p), "{p}");
            }
            assert!(!set.matches("src/build.rs"));
        }
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
