//! `orx.yaml`: its data model, how it is found, interpolated, parsed and validated, and the
//! per-workspace defaults used when there is none.
//!
//! The module is a pure core, tested without files: [`parse_str`] turns text into a validated
//! [`Config`] or one located error (`orx.yaml:4:3: unknown key ...` with a hint), with the
//! environment passed in; only [`load`] touches the disk. The pieces, in pipeline order:
//! `interpolate` (`${VAR}` on the raw text), `types` (serde structs, which also generate
//! `orx.schema.json`), `diagnostic` (yaml_serde errors in plain words), `validate` (semantic
//! rules) with `locate` (key path → line:col), and `workspace` (detection, default gates,
//! the file `orx init` writes).

mod around_stages;
mod around_stages_rules;
pub mod depth;
mod diagnostic;
mod error;
mod interpolate;
mod load;
mod locate;
mod problem;
mod types;
mod validate;
mod workspace;

pub use around_stages::{
    HookConfig, HooksConfig, KnowledgeConfig, RetentionConfig, WorktreeConfig,
};
pub use error::ConfigError;
pub use interpolate::{interpolate, InterpolationError};
pub use load::{load, parse_str, ConfigSource, LoadedConfig, CONFIG_FILE_NAME};
pub use locate::{locate, KeyPath, Segment};
pub use problem::Problem;
pub use types::routed_as;
pub use types::{
    Candidates, Config, EngineConfig, ExecutorConfig, ExecutorDefaults, FallbackOn, FallbackRule,
    GateConfig, GitConfig, GuardrailsConfig, ModelPrice, RunConfig, SecretsConfig, StageOverride,
    StagesConfig, BUILTIN_PIPELINES, CONFIG_VERSION, EXECUTOR_NAMES, GATE_PARSERS,
    PIPELINE_STAGE_NAMES, STAGE_NAMES,
};
pub use validate::{validate, MAX_CANDIDATES, MAX_FIX_ATTEMPTS, MAX_PARALLEL};
pub use workspace::{default_gates, defaults_for, detect, render_init, WorkspaceKind};

/// The JSON Schema of `orx.yaml`, as committed in `orx.schema.json` (pretty, newline-ended).
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(Config);
    // Serialising a schemars Schema (a JSON value) cannot fail; fall back to an empty schema
    // rather than panic all the same.
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_else(|_| "{}".to_string());
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const EXAMPLE: &str = include_str!("../../orx.yaml.example");

    fn example_env(name: &str) -> Option<String> {
        (name == "CURSOR_API_KEY").then(|| "cur-123".to_string())
    }

    #[test]
    fn the_example_parses_and_sets_what_it_documents() {
        let c = parse_str(EXAMPLE, Path::new("orx.yaml.example"), &example_env)
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(c.version, "1");
        assert!(!c.gates.is_empty());
        assert!(!c.pipelines.is_empty());
        for stage in STAGE_NAMES {
            assert!(
                c.stages.get(stage).is_some(),
                "example lacks stages.{stage}"
            );
        }
        for executor in EXECUTOR_NAMES {
            assert!(
                c.executors.contains_key(executor),
                "example lacks executors.{executor}"
            );
        }
        assert_eq!(c.executors["cursor"].api_key.as_deref(), Some("cur-123"));
        // Without the variable, the documented default applies.
        let c = parse_str(EXAMPLE, Path::new("orx.yaml.example"), &|_| None).unwrap();
        assert_eq!(c.executors["cursor"].api_key, None);
    }

    #[test]
    fn the_example_mentions_every_key_of_the_schema() {
        let schema: serde_json::Value = serde_json::from_str(&json_schema()).unwrap();
        let mut keys = Vec::new();
        collect_property_names(&schema, &mut keys);
        for key in keys {
            assert!(
                EXAMPLE.contains(&format!("{key}:")),
                "orx.yaml.example does not document `{key}`"
            );
        }
    }

    fn collect_property_names(value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::Object(props)) = map.get("properties") {
                    out.extend(props.keys().cloned());
                }
                map.values().for_each(|v| collect_property_names(v, out));
            }
            serde_json::Value::Array(items) => {
                items.iter().for_each(|v| collect_property_names(v, out))
            }
            _ => {}
        }
    }

    #[test]
    fn committed_schema_is_up_to_date() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("orx.schema.json");
        let fresh = json_schema();
        if std::env::var_os("ORX_BLESS").is_some_and(|v| v == "1") {
            std::fs::write(&path, &fresh).unwrap();
            return;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == fresh,
            "{} is out of date with the config types; regenerate it with `ORX_BLESS=1 cargo test`",
            path.display()
        );
    }

    #[test]
    fn schema_describes_keys_and_required_gate_fields() {
        let schema: serde_json::Value = serde_json::from_str(&json_schema()).unwrap();
        let gate = &schema["$defs"]["GateConfig"];
        assert_eq!(gate["required"], serde_json::json!(["name", "command"]));
        assert!(gate["properties"]["args"]["description"]
            .as_str()
            .is_some_and(|d| d.contains("sh -c")));
        assert_eq!(schema["properties"]["version"]["default"], "1");
        // The editor completions in the schema list exactly the names validation accepts.
        let names = |v: &serde_json::Value| -> Vec<String> {
            v.as_array()
                .into_iter()
                .flatten()
                .filter_map(|n| n.as_str().map(str::to_string))
                .collect()
        };
        let defs = &schema["$defs"];
        assert_eq!(
            names(&defs["EngineConfig"]["properties"]["type"]["enum"]),
            EXECUTOR_NAMES
        );
        assert_eq!(
            names(&defs["StageOverride"]["properties"]["executor"]["enum"]),
            EXECUTOR_NAMES
        );
        assert_eq!(
            names(&schema["properties"]["executors"]["propertyNames"]["enum"]),
            EXECUTOR_NAMES
        );
        assert_eq!(names(&gate["properties"]["parser"]["enum"]), GATE_PARSERS);
        let pipelines = &schema["properties"]["pipelines"];
        assert_eq!(
            names(&pipelines["additionalProperties"]["items"]["enum"]),
            PIPELINE_STAGE_NAMES
        );
        assert_eq!(
            names(&pipelines["propertyNames"]["not"]["enum"]),
            BUILTIN_PIPELINES
        );
        let run = &defs["RunConfig"]["properties"];
        assert_eq!(run["max_fix_attempts"]["maximum"], MAX_FIX_ATTEMPTS);
        assert_eq!(gate["properties"]["timeout"]["minimum"], 1);
        assert_eq!(
            defs["StageOverride"]["properties"]["idle_timeout"]["minimum"],
            1
        );
    }

    /// A tiny deterministic generator, so the mangled inputs are the same on every run.
    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self, bound: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % bound.max(1) as u64) as usize
        }
    }

    #[test]
    fn hostile_yaml_is_an_error_not_a_panic() {
        let deep = format!("gates: {}{}\n", "[".repeat(5000), "]".repeat(5000));
        let bomb = "pipelines:\n  a: &a [x, x, x, x, x, x, x, x, x]\n  b: &b [*a, *a, *a, *a, *a, *a, *a]\n  \
                    c: &c [*b, *b, *b, *b, *b, *b, *b, *b]\n  d: &d [*c, *c, *c, *c, *c, *c, *c]\n  \
                    e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n";
        let cases = [
            deep.as_str(),
            bomb,
            "git: &g {remote: x}\nrun: *g\n",
            "git: *nope\n",
            "git: !!binary aGVsbG8=\n",
            "engine: !custom {type: fake}\n",
            "git:\n  <<: {remote: x}\n",
            "engine:\n  timeout: 1e999\n",
            "engine:\n  timeout: 0x10\n",
            "\u{feff}version: \"1\"\n",
            "? [a, b]\n: c\n",
            "git:\n  remote: *x\n",
            "\"\\u0000\": 1\n",
            "\"a\\nb\": 1\n",
        ];
        for text in cases {
            if let Err(e) = parse_str(text, Path::new("orx.yaml"), &|_| None) {
                let e = crate::error::OrxError::from(e);
                assert_eq!(e.kind, crate::error::ErrorKind::Config, "{}", e.message);
                assert!(!e.message.contains('\n'), "{}", e.message);
            }
        }
    }

    #[test]
    fn mangled_inputs_never_panic() {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        let chars: Vec<char> = EXAMPLE.chars().collect();
        let noise = [
            ':', '-', '[', ']', '{', '}', '#', '$', '"', '\'', '\t', '\n', '*', '&', '!', '|', '>',
            '%', '@', '`', ' ', '?', ',', '\\', 'é', '\u{feff}', '0',
        ];
        let env = |name: &str| (name.len() > 8).then(|| "v".to_string());
        for round in 0..400 {
            let mut text = chars.clone();
            match round % 5 {
                0 => text.truncate(rng.next(text.len())),
                1 => {
                    for _ in 0..1 + rng.next(8) {
                        let at = rng.next(text.len());
                        text.insert(at, noise[rng.next(noise.len())]);
                    }
                }
                2 => {
                    for _ in 0..1 + rng.next(20) {
                        let at = rng.next(text.len());
                        if at < text.len() {
                            text.remove(at);
                        }
                    }
                }
                3 => {
                    let a = rng.next(text.len());
                    let b = rng.next(text.len());
                    let (a, b) = (a.min(b), a.max(b));
                    let slice: Vec<char> = text[a..b].to_vec();
                    let at = rng.next(text.len());
                    text.splice(at..at, slice);
                }
                _ => {
                    let lines: Vec<String> = text
                        .iter()
                        .collect::<String>()
                        .lines()
                        .map(|l| match rng.next(4) {
                            0 => format!("  {l}"),
                            1 => l.trim_start().to_string(),
                            _ => l.to_string(),
                        })
                        .collect();
                    text = lines.join("\n").chars().collect();
                }
            }
            let text: String = text.into_iter().collect();
            if let Err(e) = parse_str(&text, Path::new("orx.yaml"), &env) {
                let e = crate::error::OrxError::from(e);
                assert_eq!(e.kind, crate::error::ErrorKind::Config, "{}", e.message);
                let located = e.message.strip_prefix("orx.yaml:");
                assert!(
                    located.is_some_and(|m| m.starts_with(|c: char| c.is_ascii_digit())),
                    "error without line:col: {}",
                    e.message
                );
                assert!(!e.message.contains('\n'), "multi-line error: {}", e.message);
            }
        }
    }
}
