//! orx: a local orchestrator for AI coding agents.
//!
//! A task goes through a staged state machine (plan → spec → decompose → implement → verify →
//! review → ship → knowledge) in a git worktree of its own, with every step checkpointed under
//! `runs/<id>/` so that `orx resume` continues exactly. `model` is the vocabulary every layer
//! speaks (stages, statuses, failure reasons, events, run state); `cli` parses and dispatches,
//! `config` validates orx.yaml, `runner` holds the run context, the driver and the pure FSM and
//! scheduler, `stages` what each stage does, `agents` the executor seam, `exec` the one process
//! supervisor, `gates` the quality gates, `git` every git call, `github` the GitHub CLI
//! adapter, `guard` the guardrails and secret redaction, `hooks` the lifecycle hooks, `store`
//! the run folder, and `report` the event stream's sinks.

pub mod agents;
pub mod backlog;
pub mod cli;
pub mod config;
pub mod control;
pub mod doctor;
pub mod error;
pub mod exec;
pub mod gates;
pub mod git;
pub mod github;
pub mod guard;
pub mod hooks;
#[cfg(test)]
mod hostile_input;
pub mod mcp;
pub mod model;
pub mod prompts;
pub mod report;
pub mod runner;
pub mod runs;
pub mod serve;
pub mod stages;
pub mod store;
pub mod text;
pub mod verdict;

/// ARCHITECTURE.md is the map of this crate; these tests keep the map and the territory equal.
#[cfg(test)]
mod architecture {
    use std::path::{Path, PathBuf};

    fn root() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }

    fn map() -> String {
        std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap()
    }

    /// Every `src/...` path the map names in backticks.
    fn named_paths() -> Vec<String> {
        map()
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|s| s.starts_with("src/"))
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn the_map_names_only_paths_that_exist_and_every_module() {
        let named = named_paths();
        for p in &named {
            assert!(
                root().join(p).exists(),
                "ARCHITECTURE.md names {p}, which does not exist"
            );
        }
        for entry in std::fs::read_dir(root().join("src")).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name == "lib.rs" || name == "main.rs" {
                continue;
            }
            let want = if path.is_dir() {
                format!("src/{name}/")
            } else {
                format!("src/{name}")
            };
            assert!(
                named.iter().any(|n| n == &want || n.starts_with(&want)),
                "ARCHITECTURE.md does not name {want}"
            );
        }
    }

    /// The files below `dir` (recursively), or `dir` itself when it is a file.
    fn files(path: &Path) -> Vec<PathBuf> {
        if path.is_file() {
            return vec![path.to_path_buf()];
        }
        let mut out = Vec::new();
        for e in std::fs::read_dir(path).unwrap() {
            out.extend(files(&e.unwrap().path()));
        }
        out
    }

    /// The `crate::...` paths a file uses outside comments and its tests.
    fn crate_paths(file: &Path) -> Vec<String> {
        let text = std::fs::read_to_string(file).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        let mut out = Vec::new();
        for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for part in line.split("crate::").skip(1) {
                let path: String = part
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                    .collect();
                out.push(path.trim_end_matches(':').to_string());
            }
        }
        out
    }

    /// The modules a floor's row of the table names.
    fn floor(prefix: &str) -> Vec<PathBuf> {
        let map = map();
        let row = map
            .lines()
            .find(|l| l.starts_with(&format!("| {prefix}")))
            .unwrap_or_else(|| panic!("no floor {prefix} in ARCHITECTURE.md"));
        let modules = row.split('|').nth(2).unwrap();
        modules
            .split('`')
            .skip(1)
            .step_by(2)
            .map(|p| root().join(p))
            .collect()
    }

    #[test]
    fn no_file_imports_from_a_floor_above_its_own() {
        let above_stages = [
            "cli",
            "control",
            "serve",
            "mcp",
            "runner::drive",
            "runner::setup",
        ];
        let above_services = ["runner", "stages"];
        let mut checked = 0;
        for (rows, forbidden) in [
            (vec!["2.", "1.", "0b.", "0a."], &above_stages[..]),
            (vec!["0b.", "0a."], &above_services[..]),
        ] {
            for module in rows.iter().flat_map(|r| floor(r)) {
                for file in files(&module) {
                    for used in crate_paths(&file) {
                        checked += 1;
                        let bad = forbidden
                            .iter()
                            .find(|f| used == **f || used.starts_with(&format!("{f}::")));
                        assert!(
                            bad.is_none(),
                            "{} imports crate::{used}, from a floor above its own",
                            file.display()
                        );
                    }
                }
            }
        }
        assert!(
            checked > 100,
            "the floor table named too few files: {checked} imports read"
        );
    }
}
