//! The executor registry: one row per agent CLI orx can drive, and nothing about an executor's
//! identity anywhere else.
//!
//! A row says everything the rest of orx asks about an executor: its name (what `engine.type`,
//! `executors.<name>` and `stages.<stage>.executor` accept, and what the JSON Schema lists),
//! the binary it runs by default, where its credentials come from (environment variables and
//! the file its own login writes, for `orx doctor`), how it is installed and which release orx
//! was tested with, and how to build the [`AgentCli`] that makes its argv and its stream parser.
//! Config validation, the schema, launch, doctor, the not-installed hint and the runner's
//! routing all read [`EXECUTORS`], so adding an executor is a row here plus its own module.
//! A row also says how a person opens the CLI by hand on a run's item (`orx takeover`): its
//! interactive argv, resuming the agent's own session where the CLI can.
//! The rows are `const` data with plain function pointers: the table can be read at compile time
//! ([`NAMES`]) and costs nothing to consult.

use std::path::PathBuf;

use super::claude::{self, ClaudeCli};
use super::codex::{self, CodexCli};
use super::cursor::{self, CursorCli};
use super::fake::FakeCli;
use super::gemini::{self, GeminiCli};
use super::opencode::{self, OpenCodeCli};
use super::qwen::{self, QwenCli};
use super::{AgentCli, CliSettings};

/// How an executor gets onto a machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Install {
    /// Part of orx itself (the fake engine): nothing to install, nothing for doctor to check.
    Builtin,
    /// An npm package; the conformance suite pins it at the row's `tested_version`.
    Npm(&'static str),
    /// Any other one-line install command.
    Command(&'static str),
}

/// The file a CLI's own login writes: `$<dir_var>/<file>` when that variable is set, else
/// `~/<home_dir>/<file>`.
#[derive(Debug, Clone, Copy)]
pub struct LoginFile {
    pub dir_var: Option<&'static str>,
    pub home_dir: &'static str,
    pub file: &'static str,
}

/// What building an executor's CLI gets: its configured settings, and the fake engine's scenario.
#[derive(Debug, Clone, Default)]
pub struct Setup {
    pub settings: CliSettings,
    /// The fake engine's scenario file (`None`: the embedded demo); real CLIs ignore it.
    pub scenario: Option<PathBuf>,
}

/// One executor.
#[derive(Debug, Clone, Copy)]
pub struct Executor {
    /// The name in orx.yaml, on the command line and in events.
    pub name: &'static str,
    /// The program run when neither `executors.<name>.bin` nor `engine.binary` says.
    pub bin: &'static str,
    pub install: Install,
    /// The release orx's argv and parser were verified against (`None`: nothing to pin).
    pub tested_version: Option<&'static str>,
    /// Environment variables that hold credentials, in the order doctor looks.
    pub credential_vars: &'static [&'static str],
    /// The file the CLI's own login writes, if it has one.
    pub login_file: Option<LoginFile>,
    /// How to provide credentials, in one line.
    pub credentials_hint: &'static str,
    /// The CLI for one run's configuration.
    pub build: fn(Setup) -> Box<dyn AgentCli>,
    /// The argv (program first) that opens the CLI interactively for a person (`orx takeover`).
    pub interactive: fn(&Takeover<'_>) -> Vec<String>,
}

/// What opening an executor by hand starts from.
#[derive(Debug, Clone, Copy)]
pub struct Takeover<'a> {
    /// The configured binary (`executors.<name>.bin`, `engine.binary` or the row's `bin`).
    pub bin: &'a str,
    /// The agent's own session to resume, when orx recorded one for this executor.
    pub session: Option<&'a str>,
    /// The first message of a fresh session, when there is no session to resume.
    pub prompt: &'a str,
}

impl Takeover<'_> {
    /// `bin` followed by `resume` (session known) or `fresh` (the prompt), as one argv.
    fn argv(&self, resume: &[&str], fresh: &[&str]) -> Vec<String> {
        let mut argv = vec![self.bin.to_string()];
        match self.session {
            Some(sid) => argv.extend(resume.iter().map(|w| w.to_string()).chain([sid.into()])),
            None => argv.extend(
                fresh
                    .iter()
                    .map(|w| w.to_string())
                    .chain([self.prompt.into()]),
            ),
        }
        argv
    }
}

/// The fake engine has no conversation to open: a person takes over its item in their shell
/// (`$SHELL`, else `/bin/sh`), in the item's worktree.
fn fake_interactive(_: &Takeover<'_>) -> Vec<String> {
    let shell = std::env::var("SHELL")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "/bin/sh".to_string());
    vec![shell]
}

impl Executor {
    /// Whether there is a program to install and check (every executor but the fake engine).
    pub fn is_external(&self) -> bool {
        self.install != Install::Builtin
    }

    /// The one-line install command (`npm install -g <package>`, or the vendor's installer).
    pub fn install_command(&self) -> String {
        match self.install {
            Install::Builtin => "install it".to_string(),
            Install::Npm(package) => format!("npm install -g {package}"),
            Install::Command(c) => c.to_string(),
        }
    }

    /// The npm package, when the executor is one.
    pub fn npm_package(&self) -> Option<&'static str> {
        match self.install {
            Install::Npm(p) => Some(p),
            _ => None,
        }
    }
}

/// Every executor, in the order listings, hints and the schema show them.
pub const EXECUTORS: &[Executor] = &[
    Executor {
        name: "fake",
        bin: "orx",
        install: Install::Builtin,
        tested_version: None,
        credential_vars: &[],
        login_file: None,
        credentials_hint: "the fake engine needs no credentials",
        build: |s| Box::new(FakeCli::new(s.scenario)),
        interactive: fake_interactive,
    },
    Executor {
        name: "claude",
        bin: "claude",
        install: Install::Npm("@anthropic-ai/claude-code"),
        tested_version: Some(claude::TESTED_VERSION),
        credential_vars: &["ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN"],
        login_file: Some(LoginFile {
            dir_var: None,
            home_dir: ".claude",
            file: ".credentials.json",
        }),
        credentials_hint: "set ANTHROPIC_API_KEY, or log in once with `claude` (writes ~/.claude/.credentials.json)",
        build: |s| Box::new(ClaudeCli::new(s.settings)),
        interactive: |t| t.argv(&["--resume"], &[]),
    },
    Executor {
        name: "codex",
        bin: "codex",
        install: Install::Npm("@openai/codex"),
        tested_version: Some(codex::TESTED_VERSION),
        credential_vars: &["OPENAI_API_KEY", "CODEX_API_KEY"],
        login_file: Some(LoginFile {
            dir_var: Some("CODEX_HOME"),
            home_dir: ".codex",
            file: "auth.json",
        }),
        credentials_hint: "set OPENAI_API_KEY, or log in once with `codex login` (writes ~/.codex/auth.json)",
        build: |s| Box::new(CodexCli { settings: s.settings }),
        interactive: |t| t.argv(&["resume"], &[]),
    },
    Executor {
        name: "gemini",
        bin: "gemini",
        install: Install::Npm("@google/gemini-cli"),
        tested_version: Some(gemini::TESTED_VERSION),
        credential_vars: &["GEMINI_API_KEY", "GOOGLE_API_KEY"],
        login_file: Some(LoginFile {
            dir_var: None,
            home_dir: ".gemini",
            file: "oauth_creds.json",
        }),
        credentials_hint: "set GEMINI_API_KEY (or GOOGLE_API_KEY), or log in once with `gemini` (writes ~/.gemini/oauth_creds.json)",
        build: |s| Box::new(GeminiCli { settings: s.settings }),
        interactive: |t| t.argv(&["--resume"], &["-i"]),
    },
    Executor {
        name: "cursor",
        bin: "cursor-agent",
        install: Install::Command("curl https://cursor.com/install -fsS | bash"),
        tested_version: cursor::TESTED_VERSION,
        credential_vars: &["CURSOR_API_KEY"],
        login_file: None,
        credentials_hint: "set CURSOR_API_KEY, or executors.cursor.api_key: ${CURSOR_API_KEY} in orx.yaml",
        build: |s| Box::new(CursorCli { settings: s.settings }),
        interactive: |t| t.argv(&["--resume"], &[]),
    },
    Executor {
        name: "opencode",
        bin: "opencode",
        install: Install::Npm("opencode-ai"),
        tested_version: Some(opencode::TESTED_VERSION),
        credential_vars: &["OPENCODE_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_API_KEY"],
        login_file: Some(LoginFile {
            dir_var: None,
            home_dir: ".local/share/opencode",
            file: "auth.json",
        }),
        credentials_hint: "log in once with `opencode auth login` (writes ~/.local/share/opencode/auth.json), or set the provider's key (OPENCODE_API_KEY, ANTHROPIC_API_KEY, OPENAI_API_KEY)",
        build: |s| Box::new(OpenCodeCli { settings: s.settings }),
        interactive: |t| t.argv(&["--session"], &["--prompt"]),
    },
    Executor {
        name: "qwen",
        bin: "qwen",
        install: Install::Npm("@qwen-code/qwen-code"),
        tested_version: Some(qwen::TESTED_VERSION),
        credential_vars: &["OPENAI_API_KEY"],
        login_file: None,
        credentials_hint: "set OPENAI_API_KEY (with OPENAI_BASE_URL and OPENAI_MODEL for the OpenAI-compatible API to use), or executors.qwen.api_key in orx.yaml",
        build: |s| Box::new(QwenCli { settings: s.settings }),
        interactive: |t| t.argv(&["--resume"], &["-i"]),
    },
];

/// Every executor's name, in table order.
pub const NAMES: [&str; EXECUTORS.len()] = {
    let mut names = [""; EXECUTORS.len()];
    let mut i = 0;
    while i < EXECUTORS.len() {
        names[i] = EXECUTORS[i].name;
        i += 1;
    }
    names
};

/// The executor called `name`.
pub fn get(name: &str) -> Option<&'static Executor> {
    EXECUTORS.iter().find(|e| e.name == name)
}

/// The binary an executor runs when `executors.<name>.bin` does not say.
pub fn default_bin(name: &str) -> &'static str {
    get(name).map_or("orx", |e| e.bin)
}

/// "fake, claude, codex or cursor": the names for a sentence.
pub fn names_in_words() -> String {
    match NAMES.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        Some((last, _)) => last.to_string(),
        None => String::new(),
    }
}

/// "known executors: fake, claude, …": the hint for a name that is none of them.
pub fn known_hint() -> String {
    format!("known executors: {}", NAMES.join(", "))
}

/// The one-line hint for a CLI that is not on PATH.
pub fn not_installed_hint(executor: &str, program: &str) -> String {
    let install = get(executor).map_or_else(|| "install it".to_string(), Executor::install_command);
    format!(
        "`{program}` is not on PATH: {install}, or set executors.{executor}.bin in orx.yaml; `orx doctor` checks every executor"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_builds_a_cli_of_its_own_name() {
        for e in EXECUTORS {
            let cli = (e.build)(Setup {
                settings: CliSettings {
                    bin: e.bin.to_string(),
                    ..CliSettings::default()
                },
                scenario: None,
            });
            assert_eq!(cli.name(), e.name);
        }
    }

    #[test]
    fn names_are_unique_and_external_executors_can_be_installed() {
        let mut names = NAMES.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), EXECUTORS.len());
        for e in EXECUTORS.iter().filter(|e| e.is_external()) {
            assert!(!e.bin.is_empty(), "{}", e.name);
            assert!(!e.credentials_hint.is_empty(), "{}", e.name);
            if let Install::Npm(_) = e.install {
                assert!(e.tested_version.is_some(), "{} is pinned", e.name);
            }
        }
        assert_eq!(default_bin("cursor"), "cursor-agent");
        assert_eq!(default_bin("nope"), "orx");
    }

    #[test]
    fn takeover_resumes_the_recorded_session_or_opens_a_fresh_one_with_the_prompt() {
        let open = |name: &str, session: Option<&str>| {
            let e = get(name).unwrap();
            (e.interactive)(&Takeover {
                bin: e.bin,
                session,
                prompt: "do it",
            })
        };
        let cases: [(&str, &[&str], &[&str]); 6] = [
            (
                "claude",
                &["claude", "--resume", "s1"],
                &["claude", "do it"],
            ),
            ("codex", &["codex", "resume", "s1"], &["codex", "do it"]),
            (
                "gemini",
                &["gemini", "--resume", "s1"],
                &["gemini", "-i", "do it"],
            ),
            (
                "cursor",
                &["cursor-agent", "--resume", "s1"],
                &["cursor-agent", "do it"],
            ),
            (
                "opencode",
                &["opencode", "--session", "s1"],
                &["opencode", "--prompt", "do it"],
            ),
            (
                "qwen",
                &["qwen", "--resume", "s1"],
                &["qwen", "-i", "do it"],
            ),
        ];
        for (name, resumed, fresh) in cases {
            assert_eq!(open(name, Some("s1")), resumed, "{name}");
            assert_eq!(open(name, None), fresh, "{name}");
        }
        assert_eq!(
            cases.len(),
            EXECUTORS.iter().filter(|e| e.is_external()).count()
        );
        // The fake engine opens a shell, whatever was recorded.
        let shell = open("fake", Some("s1"));
        assert_eq!(shell.len(), 1);
        assert!(!shell[0].is_empty());
    }

    #[test]
    fn hints_name_the_install_command() {
        let h = not_installed_hint("claude", "claude");
        assert!(
            h.contains("npm install -g @anthropic-ai/claude-code"),
            "{h}"
        );
        assert!(not_installed_hint("cursor", "cursor-agent").contains("cursor.com/install"));
        assert!(names_in_words().starts_with("fake, claude, "));
        assert!(known_hint().starts_with("known executors: fake, claude, "));
    }
}
