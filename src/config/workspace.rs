//! What kind of project a repository is, and the defaults and `orx init` file that follow.
//!
//! Detection looks only at marker files in the repository root, so it is cheap, predictable
//! and easy to explain (`orx doctor` can print the reason). The defaults derived from it are
//! the gates a project of that kind almost always has (ruff + pytest, clippy + cargo test,
//! go vet + go test, the `test` and `lint` npm scripts that actually exist). `render_init`
//! writes those same defaults as a commented `orx.yaml`; a test holds that the file parses back
//! to exactly [`defaults_for`], so `orx init` and "no orx.yaml" never disagree.

use std::fmt;
use std::fmt::Write as _;
use std::path::Path;

use super::types::{Config, GateConfig, GuardrailsConfig};

/// The project kinds orx knows defaults for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WorkspaceKind {
    Python,
    Node,
    Rust,
    Go,
    Obsidian,
    Generic,
}

impl WorkspaceKind {
    /// Every kind, in detection order.
    pub const ALL: [WorkspaceKind; 6] = [
        WorkspaceKind::Python,
        WorkspaceKind::Node,
        WorkspaceKind::Rust,
        WorkspaceKind::Go,
        WorkspaceKind::Obsidian,
        WorkspaceKind::Generic,
    ];

    /// The lower-case name used in messages and `orx init --kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkspaceKind::Python => "python",
            WorkspaceKind::Node => "node",
            WorkspaceKind::Rust => "rust",
            WorkspaceKind::Go => "go",
            WorkspaceKind::Obsidian => "obsidian",
            WorkspaceKind::Generic => "generic",
        }
    }
}

impl fmt::Display for WorkspaceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for WorkspaceKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        WorkspaceKind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                let names: Vec<&str> = WorkspaceKind::ALL.iter().map(|k| k.as_str()).collect();
                format!(
                    "unknown workspace kind `{s}`; expected one of {}",
                    names.join(", ")
                )
            })
    }
}

/// The kind of project at `root`, from the marker files in it.
pub fn detect(root: &Path) -> WorkspaceKind {
    let file = |name: &str| root.join(name).is_file();
    if file("pyproject.toml") || file("requirements.txt") {
        WorkspaceKind::Python
    } else if file("package.json") {
        WorkspaceKind::Node
    } else if file("Cargo.toml") {
        WorkspaceKind::Rust
    } else if file("go.mod") {
        WorkspaceKind::Go
    } else if root.join(".obsidian").is_dir() {
        WorkspaceKind::Obsidian
    } else {
        WorkspaceKind::Generic
    }
}

/// The gates a project of `kind` at `root` gets without an `orx.yaml`.
pub fn default_gates(kind: WorkspaceKind, root: &Path) -> Vec<GateConfig> {
    match kind {
        WorkspaceKind::Python => vec![
            GateConfig {
                parser: Some("ruff".to_string()),
                ..GateConfig::exec("ruff", "ruff", &["check", "."])
            },
            GateConfig {
                parser: Some("pytest".to_string()),
                ..GateConfig::exec("pytest", "pytest", &["-q"])
            },
        ],
        WorkspaceKind::Node => node_gates(root),
        WorkspaceKind::Rust => vec![
            GateConfig::exec(
                "clippy",
                "cargo",
                &["clippy", "--all-targets", "--", "-D", "warnings"],
            ),
            GateConfig::exec("test", "cargo", &["test"]),
        ],
        WorkspaceKind::Go => vec![
            GateConfig::exec("vet", "go", &["vet", "./..."]),
            GateConfig::exec("test", "go", &["test", "./..."]),
        ],
        WorkspaceKind::Obsidian | WorkspaceKind::Generic => Vec::new(),
    }
}

/// `npm test` and `npm run lint`, for the scripts package.json really defines. The placeholder
/// `test` script that `npm init` writes ("no test specified", exit 1) is not a test suite.
fn node_gates(root: &Path) -> Vec<GateConfig> {
    let Ok(text) = std::fs::read_to_string(root.join("package.json")) else {
        return Vec::new();
    };
    let Ok(manifest) = serde_json::from_str::<serde_json::Value>(&text) else {
        return Vec::new();
    };
    let script = |name: &str| {
        manifest
            .get("scripts")
            .and_then(|s| s.get(name))
            .and_then(|s| s.as_str())
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    let mut gates = Vec::new();
    if script("test").is_some_and(|s| !s.contains("no test specified")) {
        gates.push(GateConfig::exec("test", "npm", &["test"]));
    }
    if script("lint").is_some() {
        gates.push(GateConfig::exec("lint", "npm", &["run", "lint"]));
    }
    gates
}

/// The configuration used for a project of `kind` at `root` that has no `orx.yaml`.
pub fn defaults_for(kind: WorkspaceKind, root: &Path) -> Config {
    let mut config = Config {
        gates: default_gates(kind, root),
        ..Config::default()
    };
    if kind == WorkspaceKind::Obsidian {
        config.guardrails = GuardrailsConfig {
            forbidden_patterns: vec![".obsidian/**".to_string()],
            allowed_patterns: vec!["**/*.md".to_string()],
            ..GuardrailsConfig::default()
        };
    }
    config
}

/// A commented `orx.yaml` for `orx init`: [`defaults_for`] with the chosen engine and base
/// branch, written out so the user sees and can edit every setting that matters. `engine_note`
/// is a comment written above `engine.type` (how the engine was chosen, or why there is none);
/// without an engine, the `type` line is written commented out with the first executor orx
/// would pick, so the file is valid and runs pick whatever gets installed.
pub fn render_init(
    kind: WorkspaceKind,
    root: &Path,
    engine: Option<&str>,
    engine_note: &str,
    base_branch: Option<&str>,
) -> String {
    let mut config = defaults_for(kind, root);
    config.engine.kind = engine.map(str::to_string);
    config.git.base_branch = base_branch.map(str::to_string);
    let c = &config;
    let type_line = match &c.engine.kind {
        Some(k) => format!("type: {}", quote(k)),
        None => format!("# type: {}", quote(crate::agents::detect::PREFERENCE[0])),
    };
    let mut out = String::new();
    // `write!` into a String cannot fail; the results are ignored on purpose below.
    let _ = writeln!(
        out,
        "# orx configuration written by `orx init` (workspace: {kind}).\n\
         # Every key is optional; orx.yaml.example in the orx repository documents all of them.\n\
         # ${{VAR}} and ${{VAR:-default}} are replaced by environment variables.\n\
         version: \"1\"\n\
         \n\
         engine:\n\
         \x20 # Agent CLI for every stage: {}.\n\
         {}\
         \x20 {type_line}\n\
         \x20 # Wall-clock limit of one agent call, in seconds.\n\
         \x20 timeout: {}\n\
         \x20 # model: sonnet\n\
         \x20 # idle_timeout: 300\n\
         \n\
         # Route single stages elsewhere, e.g.:\n\
         # stages:\n\
         #   review:\n\
         #     executor: codex\n\
         #     model: gpt-5\n\
         \n\
         git:\n\
         \x20 # Branch runs start from and pull requests target; null = the current branch.\n\
         \x20 base_branch: {}\n\
         \x20 remote: {}\n\
         \x20 auto_commit: {}\n\
         \x20 auto_push: {}\n\
         \x20 create_pr: {}\n\
         \x20 pr_draft: {}",
        crate::agents::registry::names_in_words(),
        comment_lines(engine_note, "  "),
        c.engine.timeout,
        c.git
            .base_branch
            .as_deref()
            .map_or("null".to_string(), quote),
        quote(&c.git.remote),
        c.git.auto_commit,
        c.git.auto_push,
        c.git.create_pr,
        c.git.pr_draft,
    );
    render_gates(&mut out, kind, &c.gates);
    let g = &c.guardrails;
    let _ = writeln!(
        out,
        "\n# Which files an agent may change (glob patterns).\n\
         guardrails:\n\
         \x20 enabled: {}\n\
         \x20 forbidden_patterns: {}\n\
         \x20 allowed_patterns: {}\n\
         \x20 max_files_changed: {}\n\
         \n\
         run:\n\
         \x20 # Fix attempts per backlog item after its gates fail (at most 20).\n\
         \x20 max_fix_attempts: {}\n\
         \x20 stop_on_first_failure: {}\n\
         \x20 max_review_rounds: {}\n\
         \x20 # Stop an item as stuck after this many attempts failing the same way.\n\
         \x20 stuck_threshold: {}",
        g.enabled,
        flow_list(&g.forbidden_patterns),
        flow_list(&g.allowed_patterns),
        g.max_files_changed
            .map_or("null".to_string(), |n| n.to_string()),
        c.run.max_fix_attempts,
        c.run.stop_on_first_failure,
        c.run.max_review_rounds,
        c.run.stuck_threshold,
    );
    out
}

fn render_gates(out: &mut String, kind: WorkspaceKind, gates: &[GateConfig]) {
    let _ = writeln!(
        out,
        "\n# Quality gates run after each change; a failing required gate starts a fix attempt.\n\
         # Without `args`, `command` runs through `sh -c`."
    );
    if gates.is_empty() {
        let why = match kind {
            WorkspaceKind::Obsidian => "a vault has no code to lint or test",
            _ => "no test or lint command was detected",
        };
        let _ = writeln!(
            out,
            "# None by default: {why}. For example:\n\
             #   - name: check\n\
             #     command: make check\n\
             gates: []"
        );
        return;
    }
    let _ = writeln!(out, "gates:");
    for gate in gates {
        let _ = writeln!(out, "  - name: {}", quote(&gate.name));
        let _ = writeln!(out, "    command: {}", quote(&gate.command));
        if let Some(args) = &gate.args {
            let _ = writeln!(out, "    args: {}", flow_list(args));
        }
        if let Some(parser) = &gate.parser {
            let _ = writeln!(out, "    parser: {}", quote(parser));
        }
        let _ = writeln!(
            out,
            "    required: {}\n    timeout: {}",
            gate.required, gate.timeout
        );
        if !gate.enabled {
            let _ = writeln!(out, "    enabled: false");
        }
    }
}

/// A YAML double-quoted scalar. JSON string syntax is valid YAML; `${` is escaped so that
/// interpolation leaves the text as written.
/// `text` as YAML comment lines of at most about 96 columns, each starting with `indent`.
fn comment_lines(text: &str, indent: &str) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && indent.len() + 2 + line.len() + 1 + word.len() > 96 {
            let _ = writeln!(out, "{indent}# {line}");
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        let _ = writeln!(out, "{indent}# {line}");
    }
    out
}

fn quote(s: &str) -> String {
    serde_json::to_string(s)
        .unwrap_or_else(|_| format!("{s:?}"))
        .replace("${", "$${")
}

fn flow_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| quote(s)).collect();
    format!("[{}]", quoted.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_str;
    use std::fs;

    fn dir_with(files: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for f in files {
            if let Some(d) = f.strip_suffix('/') {
                fs::create_dir_all(dir.path().join(d)).unwrap();
            } else {
                fs::write(dir.path().join(f), "").unwrap();
            }
        }
        dir
    }

    #[test]
    fn detects_each_workspace_kind_from_marker_files() {
        let cases: [(&[&str], WorkspaceKind); 9] = [
            (&["pyproject.toml"], WorkspaceKind::Python),
            (&["requirements.txt"], WorkspaceKind::Python),
            (&["package.json"], WorkspaceKind::Node),
            (&["Cargo.toml"], WorkspaceKind::Rust),
            (&["go.mod"], WorkspaceKind::Go),
            (&[".obsidian/", "note.md"], WorkspaceKind::Obsidian),
            (&["README.md"], WorkspaceKind::Generic),
            (&[".obsidian/", "package.json"], WorkspaceKind::Node),
            (&[".obsidian"], WorkspaceKind::Generic), // a file, not the vault folder
        ];
        for (files, kind) in cases {
            assert_eq!(detect(dir_with(files).path()), kind, "{files:?}");
        }
    }

    #[test]
    fn node_gates_follow_the_scripts_package_json_defines() {
        let dir = tempfile::tempdir().unwrap();
        let write = |text: &str| fs::write(dir.path().join("package.json"), text).unwrap();
        let names = || -> Vec<String> {
            default_gates(WorkspaceKind::Node, dir.path())
                .into_iter()
                .map(|g| format!("{} {}", g.command, g.args.unwrap_or_default().join(" ")))
                .collect()
        };
        write(r#"{"scripts": {"test": "vitest run", "lint": "eslint ."}}"#);
        assert_eq!(names(), ["npm test", "npm run lint"]);
        write(r#"{"scripts": {"lint": "eslint ."}}"#);
        assert_eq!(names(), ["npm run lint"]);
        write(r#"{"scripts": {"test": "echo \"Error: no test specified\" && exit 1"}}"#);
        assert!(names().is_empty());
        write(r#"{"name": "x"}"#);
        assert!(names().is_empty());
        write("{ not json");
        assert!(names().is_empty());
    }

    #[test]
    fn obsidian_defaults_only_let_markdown_change() {
        let dir = dir_with(&[".obsidian/"]);
        let c = defaults_for(WorkspaceKind::Obsidian, dir.path());
        assert!(c.gates.is_empty());
        assert_eq!(c.guardrails.allowed_patterns, ["**/*.md"]);
        assert_eq!(c.guardrails.forbidden_patterns, [".obsidian/**"]);
    }

    #[test]
    fn render_init_round_trips_to_the_defaults_for_every_kind() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("package.json"),
            r#"{"scripts": {"test": "jest", "lint": "eslint ."}}"#,
        )
        .unwrap();
        let no_env = |_: &str| None;
        for kind in WorkspaceKind::ALL {
            for (engine, branch) in [
                (Some("claude"), None),
                (Some("codex"), Some("main")),
                (None, None),
            ] {
                let note = "how the engine was chosen, long enough to be wrapped over more than \
                            one line of comment in the file that orx init writes for the user";
                let text = render_init(kind, dir.path(), engine, note, branch);
                let parsed = parse_str(&text, Path::new("orx.yaml"), &no_env)
                    .unwrap_or_else(|e| panic!("{kind}: {e}\n{text}"));
                assert!(text.contains("\n  # how the engine was chosen"), "{text}");
                assert!(
                    text.lines()
                        .any(|l| l.starts_with("  # ") && l.ends_with("writes for the user")),
                    "{text}"
                );
                let mut expected = defaults_for(kind, dir.path());
                expected.engine.kind = engine.map(str::to_string);
                expected.git.base_branch = branch.map(str::to_string);
                assert_eq!(parsed, expected, "{kind}:\n{text}");
            }
        }
        // The Node file really carries the detected gates.
        let node = render_init(WorkspaceKind::Node, dir.path(), Some("fake"), "", None);
        assert!(node.contains("args: [\"run\", \"lint\"]"), "{node}");
    }

    #[test]
    fn workspace_kind_names_parse_back() {
        for kind in WorkspaceKind::ALL {
            assert_eq!(kind.to_string().parse::<WorkspaceKind>(), Ok(kind));
        }
        assert!("java".parse::<WorkspaceKind>().is_err());
    }
}
