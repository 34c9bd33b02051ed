//! Finding, reading and parsing `orx.yaml` into a validated [`Config`].
//!
//! The pipeline is: read the file → interpolate environment variables on the text (line numbers
//! stay exact) → deserialise with yaml_serde (unknown keys and wrong types fail here, with their
//! position) → validate the semantic rules (each problem located by searching its key path in
//! the text). [`parse_str`] is the pure core, with the environment passed in, so every error
//! path is testable without touching the process environment or the disk. [`load`] adds the
//! discovery rules and the fallback to workspace defaults when there is no file.

use std::path::{Path, PathBuf};

use super::diagnostic::{config_error, from_yaml};
use super::error::{ConfigError, Result};
use super::interpolate::interpolate;
use super::types::Config;
use super::validate::validate;
use super::workspace::{defaults_for, detect, WorkspaceKind};
use crate::error::file::FileError;

/// The file name orx looks for in the repository root.
pub const CONFIG_FILE_NAME: &str = "orx.yaml";

/// Where a loaded configuration came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// Parsed from this file.
    File(PathBuf),
    /// No file: built-in defaults for the detected workspace.
    Defaults { workspace: WorkspaceKind },
}

/// A validated configuration plus where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedConfig {
    pub config: Config,
    pub source: ConfigSource,
    /// The folder relative paths in the config resolve against: the config file's folder,
    /// or the repository root when there is no file. Absolute when it could be made so.
    pub base_dir: PathBuf,
}

impl LoadedConfig {
    /// `path` resolved against [`LoadedConfig::base_dir`] (absolute paths are kept).
    pub fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base_dir.join(path)
        }
    }

    /// The fake engine's scenario file, resolved against the config file's folder.
    pub fn scenario_path(&self) -> Option<PathBuf> {
        self.config
            .engine
            .scenario
            .as_deref()
            .map(|p| self.resolve(p))
    }
}

/// Loads the configuration for the repository at `repo_root`.
///
/// `explicit` is `--config PATH`, which must exist. Otherwise `<repo_root>/orx.yaml` is used
/// when present, else the defaults for the detected workspace.
pub fn load(repo_root: &Path, explicit: Option<&Path>) -> Result<LoadedConfig> {
    let (file, shown) = match explicit {
        Some(path) => {
            if !path.exists() {
                return Err(ConfigError::MissingFile {
                    path: path.to_path_buf(),
                });
            }
            if path.is_dir() {
                return Err(ConfigError::IsFolder {
                    path: path.to_path_buf(),
                });
            }
            (path.to_path_buf(), path.to_path_buf())
        }
        None => {
            let file = repo_root.join(CONFIG_FILE_NAME);
            if !file.is_file() {
                let workspace = detect(repo_root);
                return Ok(LoadedConfig {
                    config: defaults_for(workspace, repo_root),
                    source: ConfigSource::Defaults { workspace },
                    base_dir: absolute(repo_root),
                });
            }
            let shown = relative_to_cwd(&file);
            (file, shown)
        }
    };
    let bytes = std::fs::read(&file).map_err(|e| FileError::input("read", &shown, e))?;
    let text = String::from_utf8(bytes).map_err(|e| ConfigError::NotUtf8 {
        path: shown.clone(),
        offset: e.utf8_error().valid_up_to(),
    })?;
    let config = parse_str(&text, &shown, &|name| std::env::var(name).ok())?;
    let base_dir = match file.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => absolute(parent),
        _ => absolute(Path::new(".")),
    };
    Ok(LoadedConfig {
        config,
        source: ConfigSource::File(file),
        base_dir,
    })
}

/// Parses and validates config `text`; `path` is only used to name the file in errors, and
/// `env` looks up environment variables for `${VAR}` interpolation.
pub fn parse_str(text: &str, path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Config> {
    let text = interpolate(text, env)
        .map_err(|e| config_error(path, Some((e.line, e.column)), &e.message, Some(e.hint)))?;
    if let Some((line, col)) = super::depth::too_deep(&text) {
        return Err(config_error(
            path,
            Some((line, col)),
            &format!(
                "the document nests deeper than {} levels",
                super::depth::MAX_DEPTH
            ),
            Some("orx.yaml needs only a few levels; remove the nesting".to_string()),
        ));
    }
    // An empty file, or one holding only comments or `~`, is the default configuration.
    let config = yaml_serde::from_str::<Option<Config>>(&text)
        .map_err(|e| from_yaml(path, &text, &e))?
        .unwrap_or_default();
    // A key twice in a map (`executors`, `pipelines`, `env`, …) kept the last silently; the
    // untyped document refuses it wherever it is (a struct's key twice is refused above).
    yaml_serde::from_str::<yaml_serde::Value>(&text).map_err(|e| from_yaml(path, &text, &e))?;
    match validate(&config).first() {
        Some(problem) => Err(problem.to_error(path, Some(&text))),
        None => Ok(config),
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// `path` relative to the current folder when it lies inside it, so errors read `orx.yaml:4:3`.
fn relative_to_cwd(path: &Path) -> PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ErrorKind, OrxError};
    use std::fs;

    fn env(name: &str) -> Option<String> {
        match name {
            "ORX_TEST_MODEL" => Some("opus".to_string()),
            _ => None,
        }
    }

    /// Parsed, or the error as the user sees it.
    fn parse(text: &str) -> Result<Config, OrxError> {
        Ok(parse_str(text, Path::new("orx.yaml"), &env)?)
    }

    /// The error's message and hint, asserting it is a Config error.
    fn fail(text: &str) -> (String, Option<String>) {
        let err = parse(text).expect_err("the config should be rejected");
        assert_eq!(err.kind, ErrorKind::Config, "{}", err.message);
        assert!(!err.message.contains('\n'), "one line: {}", err.message);
        (err.message, err.hint)
    }

    #[test]
    fn empty_and_comment_only_files_are_the_defaults() {
        for text in ["", "\n", "# nothing yet\n", "~\n", "---\n"] {
            assert_eq!(parse(text).unwrap(), Config::default(), "{text:?}");
        }
    }

    #[test]
    fn version_spellings_normalise_to_one() {
        for v in ["\"1\"", "\"1.0\"", "1", "1.0", "'1'"] {
            let c = parse(&format!("version: {v}\n")).unwrap();
            assert_eq!(c.version, "1", "{v}");
        }
        let (m, h) = fail("git:\n  remote: up\nversion: 2\n");
        assert_eq!(m, "orx.yaml:3:1: `version` must be \"1\", found \"2\"");
        assert!(h.unwrap().contains("version: \"1\""));
        let (m, _) = fail("version: [1]\n");
        assert!(
            m.starts_with("orx.yaml:1:10: `version` must be the version \"1\", found a list"),
            "{m}"
        );
    }

    #[test]
    fn unknown_nested_key_names_line_column_and_suggestion() {
        let (m, h) = fail("version: \"1\"\ngit:\n  remote: origin\n  auto_pushh: true\n");
        assert_eq!(m, "orx.yaml:4:3: unknown key `auto_pushh` in `git`");
        assert_eq!(h.as_deref(), Some("did you mean `auto_push`?"));
        let (m, h) = fail("executors:\n  codex:\n    default:\n      modle: o3\n");
        assert_eq!(
            m,
            "orx.yaml:4:7: unknown key `modle` in `executors.codex.default`"
        );
        assert_eq!(h.as_deref(), Some("did you mean `model`?"));
    }

    #[test]
    fn unknown_top_level_key_without_a_close_match_lists_the_valid_keys() {
        let (m, h) = fail("engine:\n  type: fake\nenginee: 1\n");
        assert_eq!(m, "orx.yaml:3:1: unknown top-level key `enginee`");
        assert_eq!(h.as_deref(), Some("did you mean `engine`?"));
        let (_, h) = fail("colour: blue\n");
        assert_eq!(
            h.as_deref(),
            Some(
                "keys allowed in the top level: version, engine, executors, stages, git, \
                 gates, guardrails, run, pipelines, fallback, pricing, \
                 knowledge, hooks, worktree, retention"
            )
        );
        let (m, h) = fail("stages:\n  plann:\n    executor: codex\n");
        assert_eq!(m, "orx.yaml:2:3: unknown key `plann` in `stages`");
        assert_eq!(h.as_deref(), Some("did you mean `plan`?"));
    }

    #[test]
    fn wrong_types_are_said_in_plain_words() {
        let text =
            "gates:\n  - name: a\n    command: b\n  - name: c\n    command: d\n    timeout: ten\n";
        let (m, _) = fail(text);
        assert_eq!(
            m,
            "orx.yaml:6:14: `gates[1].timeout` must be an unsigned integer, found the string \"ten\""
        );
        let (m, _) = fail("git:\n  auto_push: yes\n");
        assert_eq!(
            m,
            "orx.yaml:2:14: `git.auto_push` must be true or false, found the string \"yes\""
        );
        let (m, _) = fail("guardrails:\n  forbidden_patterns: \"*.env\"\n");
        assert_eq!(
            m,
            "orx.yaml:2:23: `guardrails.forbidden_patterns` must be a list, found the string \"*.env\""
        );
        let (m, _) = fail("- a\n- b\n");
        assert_eq!(m, "orx.yaml:1:1: the file must be a mapping, found a list");
    }

    #[test]
    fn missing_and_duplicate_keys_are_reported() {
        let (m, _) = fail("gates:\n  - name: lint\n");
        assert_eq!(
            m,
            "orx.yaml:2:5: `gates[0]` is missing the required key `command`"
        );
        // A struct's key twice, and a map's (which serde alone would take, keeping the last).
        for (text, want) in [
            (
                "git:\n  remote: a\n  remote: b\n",
                "key `remote` appears twice in `git`",
            ),
            ("executors:\n  claude: {}\n  claude: {}\n", "appears twice"),
        ] {
            let (m, h) = fail(text);
            assert!(m.starts_with("orx.yaml:"), "{m}");
            assert!(m.contains(want), "{m}");
            assert_eq!(h.as_deref(), Some("keep one of them"));
        }
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let (m, _) = fail("git:\n  remote: \"origin\n");
        assert!(m.starts_with("orx.yaml:3:1: invalid YAML: "), "{m}");
        assert!(m.contains("while scanning a quoted scalar"), "{m}");
        let (m, h) = fail("git:\n\tremote: x\n");
        assert!(m.starts_with("orx.yaml:2:1: invalid YAML"), "{m}");
        assert!(h.unwrap().contains("tabs"));
        let (m, _) = fail("? [a, b]\n: c\n");
        assert_eq!(
            m,
            "orx.yaml:1:3: keys in the top level must be plain names, found a list"
        );
        let (m, _) = fail("git:\n  remote: *origin\n");
        assert!(
            m.starts_with("orx.yaml:2:11: this alias (`*name`) refers to an anchor"),
            "{m}"
        );
        let (m, h) = fail("git: {}\n---\ngit: {}\n");
        assert_eq!(
            m,
            "orx.yaml:2:1: a second YAML document starts here; orx reads one"
        );
        assert!(h.unwrap().contains("`---`"));
        let (m, _) = fail("# c\n  version: \"1\"\n  run: {}\nengine: {}\n");
        assert_eq!(
            m,
            "orx.yaml:4:1: this line is indented less than the first key (line 2), \
             which YAML reads as a second document"
        );
    }

    #[test]
    fn interpolation_happens_before_parsing() {
        let text = "engine:\n  type: claude\n  model: ${ORX_TEST_MODEL}\n  binary: ${ORX_NOPE:-claude}\n  # ${ORX_NOPE}\nexecutors:\n  codex:\n    extra_args: [\"$${HOME}\"] # ${ORX_NOPE}\n";
        let c = parse(text).unwrap();
        assert_eq!(c.engine.model.as_deref(), Some("opus"));
        assert_eq!(c.engine.binary.as_deref(), Some("claude"));
        assert_eq!(c.executors["codex"].extra_args, ["${HOME}"]);
        let (m, h) = fail("executors:\n  cursor:\n    api_key: ${CURSOR_API_KEY}\n");
        assert_eq!(
            m,
            "orx.yaml:3:14: environment variable `CURSOR_API_KEY` is not set"
        );
        assert_eq!(
            h.as_deref(),
            Some("export it, or write ${CURSOR_API_KEY:-default}")
        );
    }

    #[test]
    fn validation_errors_point_at_the_offending_key() {
        let (m, h) = fail("engine:\n  timeout: 30\n  type: codx\n");
        assert_eq!(
            m,
            "orx.yaml:3:3: `engine.type` is `codx`, which is not a known executor"
        );
        assert_eq!(h.as_deref(), Some("did you mean `codex`?"));
        let (m, _) = fail("stages:\n  review:\n    executor: gemini\n  fix:\n    executor: gpt\n");
        assert!(
            m.starts_with("orx.yaml:5:5: `stages.fix.executor` is `gpt`"),
            "{m}"
        );
        let (m, _) = fail("executors:\n  claude: {}\n  cusor: {}\n");
        assert!(
            m.starts_with("orx.yaml:3:3: `executors.cusor` is not a known executor"),
            "{m}"
        );
        let cases = [
            (
                "gates:\n  - name: t\n    command: x\n  - name: t\n    command: y\n",
                "orx.yaml:4:5: gate name `t` is used twice (`gates[0]` and `gates[1]`)",
            ),
            (
                "gates:\n  - name: t\n    command: \"\"\n",
                "orx.yaml:3:5: `gates[0].command` is empty",
            ),
            (
                "gates:\n  - name: \"\"\n    command: x\n",
                "orx.yaml:2:5: `gates[0].name` is empty",
            ),
            (
                "gates:\n- name: t\n  command: x\n  timeout: 0\n",
                "orx.yaml:4:3: `gates[0].timeout` must be greater than 0 seconds",
            ),
            (
                "run:\n  max_fix_attempts: 21\n",
                "orx.yaml:2:3: `run.max_fix_attempts` is 21, above the limit of 20",
            ),
            (
                "pipelines:\n  quick:\n    - plan\n    - implment\n",
                "orx.yaml:4:7: pipeline `quick` lists `implment`, which is not a pipeline stage",
            ),
            (
                "pipelines:\n  full: [plan]\n",
                "orx.yaml:2:3: pipeline `full` is built in and cannot be redefined",
            ),
            (
                "engine:\n  idle_timeout: 0\n",
                "orx.yaml:2:3: `engine.idle_timeout` must be greater than 0 seconds",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(fail(text).0, want);
        }
    }

    #[test]
    fn errors_name_the_path_as_given() {
        let err = parse_str("nope: 1\n", Path::new("conf/team.yaml"), &env).unwrap_err();
        let ConfigError::Invalid { place, .. } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(place, "conf/team.yaml:1:1");
        assert!(err.to_string().starts_with("conf/team.yaml:1:1: "), "{err}");
    }

    #[test]
    fn load_with_a_missing_explicit_path_is_a_usage_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.yaml");
        let err = OrxError::from(load(dir.path(), Some(&missing)).unwrap_err());
        assert_eq!(err.kind, ErrorKind::Usage);
        assert!(
            err.message.contains(&missing.display().to_string()),
            "{}",
            err.message
        );
        let err = OrxError::from(load(dir.path(), Some(dir.path())).unwrap_err());
        assert_eq!(err.kind, ErrorKind::Usage);
    }

    #[test]
    fn load_without_a_file_uses_the_workspace_defaults() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("Cargo.toml"), "[package]\n").unwrap();
        let loaded = load(dir.path(), None).unwrap();
        assert_eq!(
            loaded.source,
            ConfigSource::Defaults {
                workspace: WorkspaceKind::Rust
            }
        );
        assert_eq!(loaded.config, defaults_for(WorkspaceKind::Rust, dir.path()));
        assert_eq!(loaded.base_dir, dir.path());
    }

    #[test]
    fn load_reads_the_repository_file_and_resolves_paths_next_to_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("orx.yaml");
        fs::write(&file, "engine:\n  scenario: scenarios/ok.yaml\n").unwrap();
        let loaded = load(dir.path(), None).unwrap();
        assert_eq!(loaded.source, ConfigSource::File(file.clone()));
        assert_eq!(
            loaded.scenario_path(),
            Some(dir.path().join("scenarios/ok.yaml"))
        );

        let other = dir.path().join("ci");
        fs::create_dir(&other).unwrap();
        fs::write(other.join("orx.yaml"), "git:\n  remote: upstream\n").unwrap();
        let loaded = load(dir.path(), Some(&other.join("orx.yaml"))).unwrap();
        assert_eq!(loaded.config.git.remote, "upstream");
        assert_eq!(loaded.base_dir, other);

        fs::write(&file, "git:\n  remot: x\n").unwrap();
        let err = OrxError::from(load(dir.path(), None).unwrap_err());
        assert_eq!(err.kind, ErrorKind::Config);
        assert!(
            err.message.contains("orx.yaml:2:3: unknown key `remot`"),
            "{}",
            err.message
        );

        fs::write(&file, b"git:\n  remote: \xff\n").unwrap();
        let err = OrxError::from(load(dir.path(), None).unwrap_err());
        assert_eq!(err.kind, ErrorKind::Config);
        assert!(err.message.contains("not UTF-8"), "{}", err.message);
    }
}

/// Hostile input: whatever the text, `parse_str` gives a config or one one-line
/// config error, never a panic. The fuzz target `fuzz/fuzz_targets/config.rs` explores the
/// same function for longer.
#[cfg(test)]
mod hostile {
    use super::*;
    use crate::error::{ErrorKind, OrxError};
    use crate::hostile_input::{
        config, json_value, leak, mutated, replace_some, schema_keys, to_yaml,
    };
    use proptest::prelude::*;

    const EXAMPLE: &str = include_str!("../../orx.yaml.example");

    fn vocabulary() -> &'static [&'static str] {
        static WORDS: std::sync::OnceLock<&'static [&'static str]> = std::sync::OnceLock::new();
        WORDS.get_or_init(|| {
            let schema: serde_json::Value =
                serde_json::from_str(&crate::config::json_schema()).unwrap_or_default();
            let mut words = schema_keys(&schema);
            words.extend(
                [
                    "fake", "claude", "codex", "gemini", "cursor", "main", "true", "pytest",
                ]
                .map(String::from),
            );
            leak(words)
        })
    }

    fn example_value() -> serde_json::Value {
        yaml_serde::from_str(EXAMPLE).unwrap_or_default()
    }

    /// Every variable is set except those starting with `U` (so both paths are taken).
    fn env(name: &str) -> Option<String> {
        (!name.starts_with('U')).then(|| format!("v-{name}"))
    }

    fn check(text: &str) {
        if let Err(e) = parse_str(text, Path::new("orx.yaml"), &env) {
            let e = OrxError::from(e);
            assert_eq!(e.kind, ErrorKind::Config, "{}", e.message);
            assert!(
                !e.message.is_empty() && !e.message.contains('\n'),
                "{}",
                e.message
            );
        }
    }

    proptest! {
        #![proptest_config(config(200))]

        #[test]
        fn the_example_with_values_replaced_never_panics(
            doc in replace_some(example_value(), vocabulary())
        ) {
            check(&to_yaml(&doc));
        }

        #[test]
        fn vocabulary_documents_never_panic(doc in json_value(vocabulary(), vocabulary(), 4)) {
            check(&to_yaml(&doc));
        }

        #[test]
        fn damaged_or_arbitrary_text_never_panics(
            text in prop_oneof![mutated(EXAMPLE), any::<String>()]
        ) {
            check(&text);
        }
    }
}
