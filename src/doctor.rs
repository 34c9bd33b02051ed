//! What `orx doctor` and the server's health report check: is this machine ready to run
//! agents?
//!
//! For each external executor of the registry (all but the fake engine) it reports whether the
//! CLI is on PATH (or where `executors.<name>.bin` points), its `--version` against the
//! release orx was tested with, and whether credentials look present (an API key in the
//! environment or in `orx.yaml`, or the CLI's own login file; nothing is validated over the
//! network). It also checks `git` (required; parallel lanes need the release `git::version`
//! names, an error when `run.max_parallel` asks for lanes) and `gh` (optional, for pull
//! requests) with `gh auth status`. Every problem carries a one-line hint. Versions are read through the
//! supervisor with a 10 s timeout, like every other child process. The checks live below
//! `cli/` because two callers read them: `orx doctor` (`cli/doctor.rs`, which prints them) and
//! `control::health`.
//! The report is `ok` when everything required works. Required means `git`, plus an engine, and
//! the CLI and credentials of every executor the configuration routes a stage to: `engine.type`
//! (or, without it, the executor `agents::detect` picks, the one a run would use) and
//! `stages.*.executor`; the `fake` engine needs nothing. No `engine.type` and nothing to pick
//! is an error of the report itself, with the same fix `orx run` prints. A version that differs
//! from the tested one, an optional CLI missing or without credentials, and `gh` problems are
//! warnings. The installation and credential probes are `agents::detect`'s, shared with the
//! pick.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

pub use crate::agents::detect::which;
use crate::agents::detect::{self, credentials, Detection};
use crate::agents::registry::{self, not_installed_hint, Executor};
use crate::config::Config;
use crate::exec::{self, CommandSpec, Control, StreamKind};

#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    /// "error" (required and broken: exit 1) or "warning".
    pub severity: &'static str,
    pub message: String,
    pub hint: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    /// "executor", "tool", or "system" (how strays are found).
    pub kind: &'static str,
    pub required: bool,
    pub program: String,
    pub path: Option<PathBuf>,
    pub installed: bool,
    pub version: Option<String>,
    pub tested_version: Option<String>,
    pub version_matches: Option<bool>,
    /// Executors: whether credentials look present; tools: gh's login state.
    pub credentials: Option<bool>,
    pub credentials_source: Option<String>,
    pub problems: Vec<Problem>,
    /// The oldest version orx works with, where it needs one (git: what parallel lanes need).
    pub minimum_version: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub ok: bool,
    pub config: Option<String>,
    pub checks: Vec<Check>,
    /// The engine a run would use without `--engine`: `engine.type`, else the one orx picks.
    pub engine: Option<String>,
    /// How [`Report::engine`] was chosen: "engine.type", "detected" or "none".
    pub engine_source: &'static str,
    /// Problems of the whole machine rather than one check (no engine to pick).
    pub problems: Vec<Problem>,
    /// The verdict line doctor prints last: "ready: …" or "not ready: …".
    pub verdict: String,
}

/// Run every check.
pub fn diagnose(config: &Config, config_source: Option<String>) -> Report {
    let mut problems = Vec::new();
    let (engine, engine_source) = match &config.engine.kind {
        Some(kind) => (Some(kind.clone()), "engine.type"),
        None => match detect::pick(config) {
            Detection::Ready(r) => (Some(r.name.to_string()), "detected"),
            nothing => {
                problems.push(Problem {
                    severity: "error",
                    message: "no engine: engine.type is not set and no agent CLI with credentials was found".into(),
                    hint: detect::nothing_ready_line(&nothing, "set engine.type: fake in orx.yaml"),
                });
                (None, "none")
            }
        },
    };
    let mut used: Vec<String> = engine.iter().cloned().collect();
    for (_, o) in config.stages.iter() {
        if let Some(e) = &o.executor {
            used.push(e.clone());
        }
    }
    let mut checks = vec![git_check(config.run.max_parallel > 1)];
    for row in registry::EXECUTORS.iter().filter(|e| e.is_external()) {
        checks.push(executor_check(
            config,
            row,
            used.iter().any(|u| u == row.name),
        ));
    }
    checks.push(gh_check());
    checks.push(strays_check());
    let errors: Vec<&Problem> = problems
        .iter()
        .chain(checks.iter().flat_map(|c| &c.problems))
        .filter(|p| p.severity == "error")
        .collect();
    let ok = errors.is_empty();
    let verdict = match (errors.first(), &engine) {
        (Some(first), _) => format!("not ready: {}; {}", first.message, first.hint),
        (None, Some(e)) if e == "fake" => {
            "ready: everything required works (engine fake: scripted answers, no agent)".into()
        }
        (None, Some(e)) => {
            format!("ready: everything required works (engine {e}, {engine_source})")
        }
        (None, None) => "ready: everything required works".into(),
    };
    Report {
        ok,
        config: config_source,
        checks,
        engine,
        engine_source,
        problems,
        verdict,
    }
}

fn executor_check(config: &Config, row: &Executor, required: bool) -> Check {
    let (name, tested) = (row.name, row.tested_version);
    let ex = config.executors.get(name);
    let program = detect::program(config, row);
    let mut c = Check {
        name: name.to_string(),
        kind: "executor",
        required,
        program: program.clone(),
        path: which(&program),
        installed: false,
        version: None,
        tested_version: tested.map(String::from),
        version_matches: None,
        credentials: None,
        credentials_source: None,
        problems: Vec::new(),
        minimum_version: None,
    };
    let severity = if required { "error" } else { "warning" };
    let Some(path) = c.path.clone() else {
        c.problems.push(Problem {
            severity,
            message: format!(
                "{name}: `{program}` is not installed{}",
                if required {
                    " and orx.yaml routes a stage to it"
                } else {
                    ""
                }
            ),
            hint: not_installed_hint(name, &program),
        });
        return c;
    };
    c.installed = true;
    match version_of(&path, &["--version"]) {
        Ok(v) => {
            c.version = Some(v.clone());
            if let Some(t) = tested {
                let matches = v == t;
                c.version_matches = Some(matches);
                if !matches {
                    c.problems.push(Problem {
                        severity: "warning",
                        message: format!("{name} {v} is installed; orx was tested with {t}"),
                        hint: format!(
                            "flags and stream formats change between releases; if runs fail, install {t} (npm install -g {}@{t})",
                            row.npm_package().unwrap_or(name)
                        ),
                    });
                }
            }
        }
        Err(why) => {
            c.problems.push(Problem {
                severity,
                message: format!("{name}: `{} --version` failed: {why}", path.display()),
                hint: format!(
                    "run `{} --version` by hand; reinstall it if it fails",
                    program
                ),
            });
        }
    }
    let source = credentials(row, ex.and_then(|e| e.api_key.as_deref()));
    c.credentials = Some(source.is_some());
    c.credentials_source = source;
    if c.credentials == Some(false) {
        c.problems.push(Problem {
            severity,
            message: format!(
                "{name}: no credentials found{}",
                if required {
                    " and orx.yaml routes a stage to it"
                } else {
                    ""
                }
            ),
            hint: row.credentials_hint.to_string(),
        });
    }
    c
}

/// git: installed, and recent enough for parallel lanes (an error when `run.max_parallel`
/// asks for them, a warning otherwise).
fn git_check(lanes: bool) -> Check {
    let mut c = tool("git", true);
    let need = crate::git::version::lanes_min();
    c.minimum_version = Some(need.clone());
    match &c.path {
        None => c.problems.push(Problem {
            severity: "error",
            message: "git is not installed".into(),
            hint: "install git (orx works in git worktrees and cannot run without it)".into(),
        }),
        Some(p) => match version_of(p, &["--version"]) {
            Ok(v) => {
                c.installed = true;
                if crate::git::version::too_old_for_lanes(&v) == Some(true) {
                    c.problems.push(Problem {
                        severity: if lanes { "error" } else { "warning" },
                        message: format!(
                            "git {v} is older than {need}, which parallel lanes need (`git merge-tree --merge-base`)"
                        ),
                        hint: format!(
                            "upgrade git to {need} or later; until then runs work their items one at a time (--parallel 1)"
                        ),
                    });
                }
                c.version = Some(v);
            }
            Err(why) => c.problems.push(Problem {
                severity: "error",
                message: format!("`git --version` failed: {why}"),
                hint: "reinstall git".into(),
            }),
        },
    }
    c
}

fn gh_check() -> Check {
    let mut c = tool("gh", false);
    let Some(p) = c.path.clone() else {
        c.problems.push(Problem {
            severity: "warning",
            message: "gh (GitHub CLI) is not installed".into(),
            hint: "only needed for git.create_pr: install it from https://cli.github.com".into(),
        });
        return c;
    };
    c.installed = true;
    c.version = version_of(&p, &["--version"]).ok();
    let authed = run_quiet(&p, &["auth", "status"]).is_ok_and(|(code, _)| code == Some(0));
    c.credentials = Some(authed);
    if !authed {
        c.problems.push(Problem {
            severity: "warning",
            message: "gh is not logged in".into(),
            hint: "run `gh auth login` (or set GH_TOKEN) before using git.create_pr".into(),
        });
    }
    c
}

/// How this machine lets orx find what a child left running (`exec::tracking`): the mode in
/// `program`, the description in `version`; a warning when only the scan of `/proc` is left.
fn strays_check() -> Check {
    use crate::exec::tracking::{tracking, Mode};
    let t = tracking();
    let mut c = missing_tool("strays", false);
    c.kind = "system";
    c.program = t.mode.as_str().into();
    c.installed = true;
    c.version = Some(t.describe());
    if t.mode == Mode::Scan {
        c.problems.push(Problem {
            severity: "warning",
            message: "strays are found by reading every process's /proc entry after each call".into(),
            hint: "run orx where it may create cgroups (root, or a delegated cgroup v2 such as `systemd-run --user --scope orx ...`), or allow PR_SET_CHILD_SUBREAPER".into(),
        });
    }
    c
}

fn tool(name: &str, required: bool) -> Check {
    Check {
        path: which(name),
        ..missing_tool(name, required)
    }
}

/// The check of a tool not found: no path, not installed, nothing known about it.
pub fn missing_tool(name: &str, required: bool) -> Check {
    Check {
        name: name.into(),
        kind: "tool",
        required,
        program: name.into(),
        path: None,
        installed: false,
        version: None,
        tested_version: None,
        version_matches: None,
        credentials: None,
        credentials_source: None,
        problems: Vec::new(),
        minimum_version: None,
    }
}

/// Run `program args` through the supervisor (10 s limit); exit code and stdout+stderr.
fn run_quiet(program: &Path, args: &[&str]) -> Result<(Option<i32>, String), String> {
    let cwd = std::env::temp_dir();
    let mut spec = CommandSpec::new(program.to_string_lossy(), cwd);
    spec.args = args.iter().map(|a| a.to_string()).collect();
    spec.wall_timeout = Some(Duration::from_secs(10));
    spec.grace = Duration::from_secs(1);
    let mut text = String::new();
    let exit = exec::run(&spec, &mut |_k: StreamKind, line: &str| {
        if text.len() < 4096 {
            text.push_str(line);
            text.push('\n');
        }
        Control::Continue
    })
    .map_err(|e| e.to_string())?;
    if exit.termination != exec::Termination::Exited {
        return Err("timed out after 10 s".into());
    }
    Ok((exit.code, text))
}

/// The first dotted version number a `--version` prints.
fn version_of(program: &Path, args: &[&str]) -> Result<String, String> {
    let (code, text) = run_quiet(program, args)?;
    if code != Some(0) {
        return Err(format!(
            "exit code {}: {}",
            code.map(|c| c.to_string()).unwrap_or_else(|| "none".into()),
            text.lines().next().unwrap_or("").trim()
        ));
    }
    parse_version(&text).ok_or_else(|| format!("no version in {:?}", text.trim()))
}

pub fn parse_version(text: &str) -> Option<String> {
    text.split(|c: char| c.is_whitespace() || c == '(' || c == ',' || c == '/')
        .map(|w| w.trim_start_matches('v'))
        .find(|w| {
            let parts: Vec<&str> = w.split('.').collect();
            parts.len() >= 2
                && parts
                    .iter()
                    .take(3)
                    .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        })
        .map(|w| w.split('.').take(3).collect::<Vec<_>>().join("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_found_in_what_clis_print() {
        assert_eq!(
            parse_version("2.1.330 (Claude Code)\n").as_deref(),
            Some("2.1.330")
        );
        assert_eq!(
            parse_version("codex-cli 0.169.0\n").as_deref(),
            Some("0.169.0")
        );
        assert_eq!(parse_version("0.61.0\n").as_deref(), Some("0.61.0"));
        assert_eq!(
            parse_version("git version 2.43.0\n").as_deref(),
            Some("2.43.0")
        );
        assert_eq!(
            parse_version(
                "gh version 2.45.0 (2024-03-04)\nhttps://github.com/cli/cli/releases/tag/v2.45.0"
            )
            .as_deref(),
            Some("2.45.0")
        );
        assert_eq!(parse_version("no digits here"), None);
    }
}
