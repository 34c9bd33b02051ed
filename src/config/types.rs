//! The `orx.yaml` data model: plain serde structs with their defaults, nothing else.
//!
//! These types are both the parse target and the documentation: their doc comments become the
//! descriptions in `orx.schema.json` (generated with schemars), so an editor with the YAML
//! language server explains every key. Every struct denies unknown keys (so a typo is an error
//! with a did-you-mean, not a silently ignored setting) and every field has a default, so an
//! empty file is a valid configuration. The only exception is a gate's `name` and `command`,
//! which have no meaningful default. Semantic rules that serde cannot express (known executor
//! names, unique gate names, limits) live in `validate.rs`, which reports them with a key path.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};

/// The only configuration format version this orx reads.
pub const CONFIG_VERSION: &str = "1";

/// Executor (agent CLI) names that `engine.type`, `executors.<name>` and
/// `stages.<stage>.executor` accept: the rows of the executor registry.
pub use crate::agents::registry::NAMES as EXECUTOR_NAMES;

/// Stage names that `stages.<name>` overrides apply to.
pub const STAGE_NAMES: [&str; 8] = [
    "plan",
    "spec",
    "decompose",
    "implement",
    "fix",
    "review",
    "knowledge_update",
    "merge",
];

/// Stage names a custom pipeline may list.
pub const PIPELINE_STAGE_NAMES: [&str; 7] = [
    "plan",
    "spec",
    "decompose",
    "implement",
    "review",
    "ship",
    "knowledge",
];

/// Built-in pipeline names that a custom pipeline may not reuse.
pub const BUILTIN_PIPELINES: [&str; 3] = ["full", "fast-fix", "plan-only"];

/// Gate evidence parsers that `gates[].parser` accepts.
pub const GATE_PARSERS: [&str; 4] = ["ruff", "pytest", "unittest", "generic"];

/// The executor names and `null`: what an optional executor key accepts, for the schema.
fn executor_names_or_null() -> Vec<serde_json::Value> {
    EXECUTOR_NAMES
        .iter()
        .map(|n| serde_json::Value::from(*n))
        .chain([serde_json::Value::Null])
        .collect()
}

/// The whole `orx.yaml`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Configuration format version. Only "1" exists; "1.0", 1 and 1.0 are accepted as "1".
    #[serde(deserialize_with = "deserialize_version")]
    #[schemars(schema_with = "version_schema")]
    pub version: String,
    /// The default agent CLI every stage uses unless `stages` routes it elsewhere.
    pub engine: EngineConfig,
    /// Per-executor settings, keyed by executor name.
    #[schemars(extend("propertyNames" = {"enum": EXECUTOR_NAMES}))]
    pub executors: BTreeMap<String, ExecutorConfig>,
    /// Per-stage executor, model and timeout overrides.
    pub stages: StagesConfig,
    /// How orx commits, pushes and opens pull requests for a run's branch.
    pub git: GitConfig,
    /// Quality gates run after each implementation step; failures drive the fix loop.
    pub gates: Vec<GateConfig>,
    /// Limits on which files an agent may change.
    pub guardrails: GuardrailsConfig,
    /// Fix-loop and review limits.
    pub run: RunConfig,
    /// Custom named pipelines: a name mapped to the ordered list of stages it runs
    /// (plan, spec, decompose, implement, review, ship, knowledge). The names full, fast-fix and
    /// plan-only are built in and cannot be redefined.
    #[schemars(extend(
        "additionalProperties" = {
            "type": "array",
            "minItems": 1,
            "items": {
                "enum": ["plan", "spec", "decompose", "implement", "review", "ship", "knowledge"]
            }
        },
        "propertyNames" = {"not": {"enum": ["full", "fast-fix", "plan-only"]}}
    ))]
    pub pipelines: BTreeMap<String, Vec<String>>,
    /// Switch executor or model when an agent call fails in a known way (rate limit, unknown
    /// model, bad credentials); each rule is tried once per call, in order, and recorded.
    pub fallback: Vec<FallbackRule>,
    /// Prices per million tokens, keyed by model name, used to estimate the cost of CLIs that
    /// report none (codex, gemini, cursor). They override orx's approximate built-in table.
    pub pricing: BTreeMap<String, ModelPrice>,
    /// The knowledge update after ship (AGENTS.md / ARCHITECTURE.md, confined to orx blocks).
    pub knowledge: super::around_stages::KnowledgeConfig,
    /// Commands run on lifecycle events (run_start, stage_start, stage_end, gate_failed,
    /// run_end, run_failed); blocking hooks can veto.
    pub hooks: super::around_stages::HooksConfig,
    /// Preparing each new worktree: ignored files to copy in, setup commands to run once.
    pub worktree: super::around_stages::WorktreeConfig,
    /// Old runs removed automatically when `orx run` starts.
    pub retention: super::around_stages::RetentionConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            version: CONFIG_VERSION.to_string(),
            engine: EngineConfig::default(),
            executors: BTreeMap::new(),
            stages: StagesConfig::default(),
            git: GitConfig::default(),
            gates: Vec::new(),
            guardrails: GuardrailsConfig::default(),
            run: RunConfig::default(),
            pipelines: BTreeMap::new(),
            fallback: Vec::new(),
            pricing: BTreeMap::new(),
            knowledge: Default::default(),
            hooks: Default::default(),
            worktree: Default::default(),
            retention: Default::default(),
        }
    }
}

impl Config {
    /// The gates that will run, in file order.
    pub fn enabled_gates(&self) -> impl Iterator<Item = &GateConfig> {
        self.gates.iter().filter(|g| g.enabled)
    }
}

/// The default engine (agent CLI) and its limits.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    /// Executor name. Without it, orx picks the first agent CLI that is installed and has
    /// credentials, in the order claude, codex, gemini, cursor, opencode, qwen; the fake engine
    /// runs only when named here or with `--engine fake`.
    #[serde(rename = "type")]
    #[schemars(extend("enum" = executor_names_or_null()))]
    pub kind: Option<String>,
    /// When false, orx refuses to call the agent (useful to dry-run gates).
    pub enabled: bool,
    /// Path or name of the CLI binary of `type` (which it needs); default: the executor's usual
    /// binary on PATH.
    pub binary: Option<String>,
    /// Wall-clock limit for one agent call, in seconds.
    #[schemars(range(min = 1))]
    pub timeout: u64,
    /// Kill an agent call that prints nothing for this many seconds; default: no idle limit.
    #[schemars(range(min = 1))]
    pub idle_timeout: Option<u64>,
    /// Fallback model when neither the stage nor the executor names one.
    pub model: Option<String>,
    /// Scenario file for the fake engine, relative to the folder holding the config file.
    pub scenario: Option<PathBuf>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            kind: None,
            enabled: true,
            binary: None,
            timeout: 600,
            idle_timeout: None,
            model: None,
            scenario: None,
        }
    }
}

/// Settings for one executor (agent CLI).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ExecutorConfig {
    /// Path or name of the CLI binary; default: the executor's usual binary on PATH.
    pub bin: Option<String>,
    /// Defaults for every call to this executor.
    pub default: ExecutorDefaults,
    /// Extra environment variables for the CLI process.
    pub env: BTreeMap<String, String>,
    /// Extra command-line arguments appended to the executor's argv.
    pub extra_args: Vec<String>,
    /// API key handed to the CLI through its usual environment variable.
    /// Prefer `${VAR}` interpolation over writing the key into the file.
    pub api_key: Option<String>,
    /// Wall-clock limit for one call, in seconds; default: `engine.timeout`.
    #[schemars(range(min = 1))]
    pub timeout: Option<u64>,
    /// Idle limit for one call, in seconds; default: `engine.idle_timeout`.
    #[schemars(range(min = 1))]
    pub idle_timeout: Option<u64>,
}

/// Per-executor call defaults.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ExecutorDefaults {
    /// Model used by this executor when the stage names none.
    pub model: Option<String>,
    /// Reasoning effort passed to CLIs that support it (codex: low, medium, high).
    pub reasoning_effort: Option<String>,
    /// Output format requested from CLIs that support a choice.
    pub output_format: Option<String>,
}

/// Overrides per stage; a missing stage uses the engine and executor defaults.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StagesConfig {
    /// Overrides for the plan stage.
    pub plan: Option<StageOverride>,
    /// Overrides for the spec stage.
    pub spec: Option<StageOverride>,
    /// Overrides for the decompose stage.
    pub decompose: Option<StageOverride>,
    /// Overrides for the implement stage.
    pub implement: Option<StageOverride>,
    /// Overrides for fix attempts after a failed gate.
    pub fix: Option<StageOverride>,
    /// Overrides for the review stage.
    pub review: Option<StageOverride>,
    /// Overrides for the knowledge update stage.
    pub knowledge_update: Option<StageOverride>,
    /// Overrides for the attempts that resolve a conflict met integrating a parallel lane;
    /// default: `stages.fix`.
    pub merge: Option<StageOverride>,
}

impl StagesConfig {
    /// The override for `stage` (one of [`STAGE_NAMES`]), if the file sets one.
    pub fn get(&self, stage: &str) -> Option<&StageOverride> {
        match stage {
            "plan" => self.plan.as_ref(),
            "spec" => self.spec.as_ref(),
            "decompose" => self.decompose.as_ref(),
            "implement" => self.implement.as_ref(),
            "fix" => self.fix.as_ref(),
            "review" => self.review.as_ref(),
            "knowledge_update" => self.knowledge_update.as_ref(),
            "merge" => self.merge.as_ref(),
            _ => None,
        }
    }

    /// The override an agent call of `stage` uses: its own; for a merge attempt (a fix of a
    /// conflict) the fix stage's when it has none; for the judge of candidates, review's.
    pub fn routing(&self, stage: &str) -> Option<&StageOverride> {
        match stage {
            "merge" => self.merge.as_ref().or(self.fix.as_ref()),
            other => self.get(routed_as(other)),
        }
    }

    /// Every stage that has an override, with its name, in pipeline order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &StageOverride)> {
        STAGE_NAMES
            .into_iter()
            .filter_map(|name| self.get(name).map(|o| (name, o)))
    }
}

/// The stage name a call answers to in `stages:` and in `fallback:` rules: the judge of
/// best-of-N candidates is a review of their work, so it is review's; every other call is its
/// own stage's.
pub fn routed_as(stage: &str) -> &str {
    match stage {
        "judge" => "review",
        other => other,
    }
}

/// Executor, model and limits for one stage.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StageOverride {
    /// Executor for this stage.
    #[schemars(extend("enum" = executor_names_or_null()))]
    pub executor: Option<String>,
    /// Model for this stage.
    pub model: Option<String>,
    /// Wall-clock limit for one call in this stage, in seconds.
    #[schemars(range(min = 1))]
    pub timeout: Option<u64>,
    /// Idle limit for one call in this stage, in seconds.
    #[schemars(range(min = 1))]
    pub idle_timeout: Option<u64>,
    /// Most agent turns (tool calls) one call in this stage may take; the agent is stopped
    /// when it crosses it. Passed to Claude as `--max-turns`. Default: no limit.
    #[schemars(range(min = 1))]
    pub max_turns: Option<u32>,
    /// Implement only: best-of-N. A number (1 to 8) of candidates that attempt each item at
    /// once with this stage's executor, or a list of executors, one candidate each (e.g.
    /// `[claude, codex, gemini]`). Each works in a lane of its own with its own fix loop; among
    /// those that pass every gate, the review stage's executor judges which one ships. Default:
    /// 1, one attempt per item.
    pub candidates: Option<Candidates>,
}

/// `stages.implement.candidates`: how many candidates, or which executors.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq)]
#[serde(untagged)]
pub enum Candidates {
    /// This many candidates, each with the implement stage's executor.
    Count(#[schemars(range(min = 1, max = 8))] u32),
    /// One candidate per executor named, in order.
    Executors(#[schemars(length(min = 1, max = 8))] Vec<String>),
}

impl Candidates {
    /// How many candidates this asks for.
    pub fn count(&self) -> usize {
        match self {
            Candidates::Count(n) => *n as usize,
            Candidates::Executors(list) => list.len(),
        }
    }
}

/// By hand rather than `#[serde(untagged)]`, so a wrong value keeps its line and column.
impl<'de> Deserialize<'de> for Candidates {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Candidates;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number of candidates or a list of executors")
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Candidates, E> {
                u32::try_from(n)
                    .map(Candidates::Count)
                    .map_err(|_| E::custom(format!("{n} candidates is far too many")))
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Candidates, E> {
                u64::try_from(n)
                    .map_err(|_| E::custom(format!("{n} is not a number of candidates")))
                    .and_then(|n| self.visit_u64(n))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, s: A) -> Result<Candidates, A::Error> {
                Vec::<String>::deserialize(serde::de::value::SeqAccessDeserializer::new(s))
                    .map(Candidates::Executors)
            }
        }
        d.deserialize_any(V)
    }
}

/// Which failure a fallback rule reacts to.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FallbackOn {
    /// The model API's rate or usage limit was hit.
    RateLimited,
    /// The model does not exist or the account cannot use it.
    ModelNotFound,
    /// Credentials are missing or rejected.
    AuthFailed,
    /// Any failed agent call (not a timeout, interrupt or budget stop).
    AnyError,
}

/// One fallback rule: on a matching failure, retry the call once with another executor and/or
/// model.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FallbackRule {
    /// The failure that triggers the rule: rate_limited, model_not_found, auth_failed or
    /// any_error.
    pub on: FallbackOn,
    /// Only for this stage (plan, spec, decompose, implement, fix, review, knowledge_update,
    /// merge); default: every stage.
    #[serde(default)]
    #[schemars(extend("enum" = ["plan", "spec", "decompose", "implement", "fix", "review", "knowledge_update", "merge", null]))]
    pub stage: Option<String>,
    /// The executor to switch to; default: the same executor.
    #[serde(default)]
    #[schemars(extend("enum" = executor_names_or_null()))]
    pub executor: Option<String>,
    /// The model to switch to; default: the substitute executor's default model.
    #[serde(default)]
    pub model: Option<String>,
}

/// The price of one model, in US dollars per million tokens.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ModelPrice {
    /// Fresh (uncached) input tokens.
    #[schemars(range(min = 0.0))]
    pub input_per_mtok: f64,
    /// Output tokens (reasoning included).
    #[schemars(range(min = 0.0))]
    pub output_per_mtok: f64,
    /// Cached input tokens read; default: the input price.
    #[schemars(range(min = 0.0))]
    pub cache_read_per_mtok: Option<f64>,
    /// Input tokens written to the cache; default: the input price.
    #[schemars(range(min = 0.0))]
    pub cache_write_per_mtok: Option<f64>,
}

/// What orx does with git beyond its own worktree.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GitConfig {
    /// Branch the run starts from and the pull request targets; default: the current branch.
    pub base_branch: Option<String>,
    /// Remote used for pushing and pull requests.
    pub remote: String,
    /// Commit each finished backlog item on the run branch (needed for resume checkpoints).
    pub auto_commit: bool,
    /// Push the run branch to `remote` when the run succeeds.
    pub auto_push: bool,
    /// Open a pull request when the run succeeds (implies a push).
    pub create_pr: bool,
    /// Open that pull request as a draft.
    pub pr_draft: bool,
}

impl Default for GitConfig {
    fn default() -> Self {
        GitConfig {
            base_branch: None,
            remote: "origin".to_string(),
            auto_commit: true,
            auto_push: false,
            create_pr: false,
            pr_draft: true,
        }
    }
}

/// One quality gate: a command whose exit status says whether the work is acceptable.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GateConfig {
    /// Unique gate name; also names its log file (`logs/<name>.log`).
    pub name: String,
    /// Set to false to keep the gate in the file but not run it.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The program to run (exec form, with `args`) or a shell command line (without `args`).
    pub command: String,
    /// Arguments for `command`. When absent, `command` runs through `sh -c`.
    #[serde(default)]
    pub args: Option<Vec<String>>,
    /// When false, a failure is recorded but does not fail the run or start a fix attempt.
    #[serde(default = "yes")]
    pub required: bool,
    /// Wall-clock limit for the gate, in seconds.
    #[serde(default = "default_gate_timeout")]
    #[schemars(range(min = 1))]
    pub timeout: u64,
    /// Evidence parser for the output: ruff, pytest, unittest or generic; default: guessed from the
    /// gate's name and command.
    #[serde(default)]
    #[schemars(extend("enum" = ["ruff", "pytest", "unittest", "generic", null]))]
    pub parser: Option<String>,
}

impl GateConfig {
    /// A required, enabled gate in exec form with the default timeout and parser.
    pub fn exec(name: &str, command: &str, args: &[&str]) -> Self {
        GateConfig {
            name: name.to_string(),
            enabled: true,
            command: command.to_string(),
            args: Some(args.iter().map(|a| a.to_string()).collect()),
            required: true,
            timeout: default_gate_timeout(),
            parser: None,
        }
    }
}

fn yes() -> bool {
    true
}

fn default_gate_timeout() -> u64 {
    600
}

/// Which files an agent may change.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GuardrailsConfig {
    /// Set to false to skip every guardrail check.
    pub enabled: bool,
    /// Glob patterns of paths an agent must never change.
    pub forbidden_patterns: Vec<String>,
    /// When not empty, only paths matching one of these globs may change.
    pub allowed_patterns: Vec<String>,
    /// Most files one run may change; null means no limit.
    pub max_files_changed: Option<u32>,
    /// The scan of the diff's content for secrets and `.env` files.
    pub secrets: SecretsConfig,
}

/// The secret scan run on every change before it can be committed.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SecretsConfig {
    /// Set to false to skip the secret and `.env` scan (the path rules still apply).
    pub enabled: bool,
    /// Exemptions: a path glob (e.g. `tests/fixtures/**`) exempts matching files, and
    /// `match:<text>` exempts one exact matched text (e.g. `match:AKIAIOSFODNN7EXAMPLE`).
    pub allow: Vec<String>,
}

impl Default for SecretsConfig {
    fn default() -> Self {
        SecretsConfig {
            enabled: true,
            allow: Vec::new(),
        }
    }
}

impl Default for GuardrailsConfig {
    fn default() -> Self {
        GuardrailsConfig {
            enabled: true,
            forbidden_patterns: vec![
                ".env".to_string(),
                "*.env".to_string(),
                "*secrets*".to_string(),
            ],
            allowed_patterns: Vec::new(),
            max_files_changed: Some(50),
            secrets: SecretsConfig::default(),
        }
    }
}

/// Limits of the fix loop and review.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RunConfig {
    /// Fix attempts per backlog item after its gates fail (at most 20).
    #[schemars(range(max = 20))]
    pub max_fix_attempts: u32,
    /// Stop the whole run at the first item that fails, instead of carrying on.
    pub stop_on_first_failure: bool,
    /// Review rounds: each round that asks for changes triggers another fix.
    pub max_review_rounds: u32,
    /// An item stops as stuck when this many consecutive attempts fail with the same failure
    /// signature.
    #[schemars(range(min = 1))]
    pub stuck_threshold: u32,
    /// Most US dollars the whole run may spend on agents (reported or estimated cost); the agent
    /// is stopped when it is crossed and the run ends `budget_exceeded`, resumable after raising
    /// it. Default: no limit.
    pub max_budget_usd: Option<f64>,
    /// Most tokens (input, cache reads and writes, output) the whole run may use; enforced like
    /// `max_budget_usd`. Default: no limit.
    #[schemars(range(min = 1))]
    pub max_tokens: Option<u64>,
    /// Longest wait, in seconds, for a rate limit to reset before the call is retried once.
    #[schemars(range(min = 1))]
    pub max_wait_secs: u64,
    /// Stages after which the run stops for a person's approval (plan, spec, decompose,
    /// review, ship): it ends `awaiting_approval` (exit 4) until `orx approve` or `orx reject`.
    /// Default: [].
    pub approve: Vec<String>,
    /// Backlog items worked at once, each in a lane of its own (a worktree and branch cut from
    /// the run branch) and integrated back one at a time; `--parallel` overrides it. 1 works
    /// the items one after another in the run's worktree.
    #[schemars(range(min = 1, max = 16))]
    pub max_parallel: u32,
    /// Seconds an agent CLI, a gate or a setup command gets to exit after SIGTERM (a Ctrl-C,
    /// a timeout, a budget stop) before its whole process group is killed; a second Ctrl-C
    /// kills at once. 1 to 3600.
    #[schemars(range(min = 1, max = 3600))]
    pub stop_grace_secs: u64,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            max_fix_attempts: 3,
            stop_on_first_failure: false,
            max_review_rounds: 1,
            stuck_threshold: 2,
            max_budget_usd: None,
            max_tokens: None,
            max_wait_secs: 900,
            approve: Vec::new(),
            max_parallel: 1,
            stop_grace_secs: 5,
        }
    }
}

/// Accepts "1", "1.0", 1 and 1.0 as version "1"; any other value is kept as its text so that
/// validation can reject it with the key's line.
fn deserialize_version<'de, D: Deserializer<'de>>(de: D) -> Result<String, D::Error> {
    struct Version;
    impl serde::de::Visitor<'_> for Version {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("the version \"1\"")
        }
        fn visit_str<E>(self, v: &str) -> Result<String, E> {
            Ok(normalise_version(v.trim()))
        }
        fn visit_u64<E>(self, v: u64) -> Result<String, E> {
            Ok(normalise_version(&v.to_string()))
        }
        fn visit_i64<E>(self, v: i64) -> Result<String, E> {
            Ok(normalise_version(&v.to_string()))
        }
        fn visit_f64<E>(self, v: f64) -> Result<String, E> {
            Ok(if v == 1.0 {
                CONFIG_VERSION.to_string()
            } else {
                v.to_string()
            })
        }
    }
    de.deserialize_any(Version)
}

fn normalise_version(v: &str) -> String {
    match v {
        "1" | "1.0" => CONFIG_VERSION.to_string(),
        other => other.to_string(),
    }
}

fn version_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "description": "Configuration format version. Only \"1\" exists; \"1.0\", 1 and 1.0 are accepted as \"1\".",
        "enum": ["1", "1.0", 1],
        "default": "1"
    })
}
