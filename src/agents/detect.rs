//! Which agent CLI this machine can run: the program an executor runs, whether it is on PATH,
//! whether its credentials look present, and the engine orx picks when nobody named one.
//!
//! `orx run` without `--engine` and without `engine.type`, `orx init` and `orx doctor` all ask
//! the same question, so they share these probes (doctor adds versions and prints them). The
//! pick walks [`PREFERENCE`] and takes the first executor that is installed *and* has
//! credentials: an installed CLI that is not logged in would fail at its first call, which is
//! the surprise the pick exists to avoid. The fake engine is never picked; it runs only when
//! named. Nothing here touches the network: credentials "look present" when an API key is set
//! (in the environment or `executors.<name>.api_key`) or the CLI's own login file exists.

use std::path::{Path, PathBuf};

use super::registry::{self, Executor};
use crate::config::Config;

/// The executors orx picks from, most preferred first (every external executor of the
/// registry, once).
pub const PREFERENCE: [&str; 6] = ["claude", "codex", "gemini", "cursor", "opencode", "qwen"];

/// An executor found ready: installed, with credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ready {
    pub name: &'static str,
    pub path: PathBuf,
    /// Where its credentials come from (a variable name, a config key or a file).
    pub credentials: String,
}

impl Ready {
    /// "`claude` on PATH with credentials from ANTHROPIC_API_KEY": how the pick was made.
    pub fn describe(&self) -> String {
        format!(
            "detected: {} at {} with credentials from {}",
            self.name,
            self.path.display(),
            self.credentials
        )
    }
}

/// What the pick found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detection {
    Ready(Ready),
    /// Nothing ready; these are installed but have no credentials (in preference order).
    NoCredentials(Vec<&'static str>),
    /// None of [`PREFERENCE`] is installed.
    NotInstalled,
}

/// The first executor of [`PREFERENCE`] that is installed and has credentials.
pub fn pick(config: &Config) -> Detection {
    let mut unauthenticated = Vec::new();
    for row in PREFERENCE.iter().filter_map(|n| registry::get(n)) {
        let Some(path) = which(&program(config, row)) else {
            continue;
        };
        let key = config
            .executors
            .get(row.name)
            .and_then(|e| e.api_key.as_deref());
        match credentials(row, key) {
            Some(credentials) => {
                return Detection::Ready(Ready {
                    name: row.name,
                    path,
                    credentials,
                })
            }
            None => unauthenticated.push(row.name),
        }
    }
    if unauthenticated.is_empty() {
        Detection::NotInstalled
    } else {
        Detection::NoCredentials(unauthenticated)
    }
}

/// The one line that says no engine could be picked and how to get one; `fake` says how to name
/// the fake engine where the line is shown (`pass --engine fake`, `set engine.type: fake`).
pub fn nothing_ready_line(detection: &Detection, fake: &str) -> String {
    let looked_for = PREFERENCE
        .iter()
        .filter_map(|n| registry::get(n))
        .map(|e| e.bin)
        .collect::<Vec<_>>()
        .join(", ");
    let try_fake = format!("or {fake} to try orx with its scripted engine, without an agent");
    match detection {
        Detection::NoCredentials(names) => {
            let first = names.first().and_then(|n| registry::get(n));
            format!(
                "no agent CLI with credentials found ({} installed, none logged in; looked for {looked_for}): {}, {try_fake}",
                names.join(", "),
                first.map_or("log one in", |e| e.credentials_hint)
            )
        }
        _ => {
            let install = registry::get(PREFERENCE[0])
                .map_or_else(|| "install one".to_string(), Executor::install_command);
            format!(
                "no agent CLI found on PATH (looked for {looked_for}): install one, e.g. `{install}`, {try_fake}"
            )
        }
    }
}

/// The program an executor runs under `config`: `executors.<name>.bin`, else `engine.binary`
/// when `engine.type` names it, else its usual binary.
pub fn program(config: &Config, row: &Executor) -> String {
    config
        .executors
        .get(row.name)
        .and_then(|e| e.bin.clone())
        .or_else(|| {
            (config.engine.kind.as_deref() == Some(row.name))
                .then(|| config.engine.binary.clone())
                .flatten()
        })
        .unwrap_or_else(|| row.bin.to_string())
}

/// Where credentials for `row` seem to come from, if anywhere: `executors.<name>.api_key`, one
/// of its credential variables, or the file its own login writes.
pub fn credentials(row: &Executor, configured: Option<&str>) -> Option<String> {
    if configured.is_some_and(|k| !k.trim().is_empty()) {
        return Some(format!("executors.{}.api_key", row.name));
    }
    let set = |k: &&&str| std::env::var(k).is_ok_and(|v| !v.trim().is_empty());
    if let Some(var) = row.credential_vars.iter().find(set) {
        return Some(var.to_string());
    }
    let login = row.login_file?;
    let dir = login
        .dir_var
        .and_then(std::env::var_os)
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(login.home_dir)))?;
    let file = dir.join(login.file);
    file.is_file().then(|| file.display().to_string())
}

/// `program` resolved like the shell would: a path as is, a name through PATH.
pub fn which(program: &str) -> Option<PathBuf> {
    let is_exec = |p: &Path| {
        use std::os::unix::fs::PermissionsExt;
        p.is_file() && std::fs::metadata(p).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let p = PathBuf::from(program);
        return is_exec(&p).then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| is_exec(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preference_names_every_external_executor_once() {
        let mut external: Vec<&str> = registry::EXECUTORS
            .iter()
            .filter(|e| e.is_external())
            .map(|e| e.name)
            .collect();
        let mut preferred = PREFERENCE.to_vec();
        external.sort_unstable();
        preferred.sort_unstable();
        assert_eq!(preferred, external);
        assert!(!PREFERENCE.contains(&"fake"));
    }

    #[test]
    fn the_lines_name_what_was_looked_for_and_both_ways_out() {
        let none = nothing_ready_line(&Detection::NotInstalled, "pass `--engine fake`");
        for want in [
            "claude, codex, gemini, cursor-agent, opencode, qwen",
            "npm install -g @anthropic-ai/claude-code",
            "--engine fake",
        ] {
            assert!(none.contains(want), "{want}: {none}");
        }
        let unauthenticated = nothing_ready_line(
            &Detection::NoCredentials(vec!["codex"]),
            "set engine.type: fake",
        );
        assert!(
            unauthenticated.contains("codex installed")
                && unauthenticated.contains("OPENAI_API_KEY")
                && unauthenticated.contains("engine.type: fake"),
            "{unauthenticated}"
        );
        assert!(!none.contains('\n') && !unauthenticated.contains('\n'));
    }

    #[test]
    fn the_program_follows_executor_bin_then_engine_binary() {
        let claude = registry::get("claude").unwrap();
        let mut c = Config::default();
        assert_eq!(program(&c, claude), "claude");
        c.engine.binary = Some("/opt/claude".into());
        assert_eq!(
            program(&c, claude),
            "claude",
            "engine.binary needs engine.type"
        );
        c.engine.kind = Some("claude".into());
        assert_eq!(program(&c, claude), "/opt/claude");
        c.executors.entry("claude".into()).or_default().bin = Some("/usr/bin/c".into());
        assert_eq!(program(&c, claude), "/usr/bin/c");
    }
}
