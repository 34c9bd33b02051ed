//! Semantic rules serde cannot express, checked on a parsed [`Config`].
//!
//! Each rule yields a [`Problem`] that names the offending key by its path (`gates[1].name`),
//! says what is wrong in one sentence and how to fix it. Keeping the rules here, as a pure
//! function of the `Config`, means they apply equally to a file, to built-in defaults and to a
//! config built in code; the loader then turns the first problem into a located error by
//! finding its key path in the text (see `locate.rs`).

use std::collections::BTreeMap;

use super::diagnostic::suggestion;
use super::locate::KeyPath;
use super::problem::Problem;
use crate::model::Stage;

use super::types::{
    Candidates, Config, BUILTIN_PIPELINES, CONFIG_VERSION, EXECUTOR_NAMES, GATE_PARSERS,
    PIPELINE_STAGE_NAMES, STAGE_NAMES,
};

/// The most fix attempts per item a config may ask for.
pub const MAX_FIX_ATTEMPTS: u32 = 20;
/// The longest `run.stop_grace_secs`: an hour, past which a stop is no longer one.
pub const MAX_STOP_GRACE_SECS: u64 = 3600;
/// The most backlog items a run works at once (`run.max_parallel`, `--parallel`).
pub const MAX_PARALLEL: u32 = 16;
/// The most candidates per item a config may ask for (`stages.implement.candidates`,
/// `--candidates`).
pub const MAX_CANDIDATES: u32 = 8;

/// Every rule `config` breaks, in file order of the sections.
pub fn validate(config: &Config) -> Vec<Problem> {
    let mut problems = Vec::new();
    let root = KeyPath::default();
    if config.version != CONFIG_VERSION {
        problems.push(Problem::new(
            root.key("version"),
            format!("`version` must be \"1\", found {:?}", config.version),
            "this orx reads config format version \"1\"; write `version: \"1\"`".to_string(),
        ));
    }

    let engine = root.key("engine");
    match &config.engine.kind {
        Some(kind) => check_executor(&mut problems, engine.key("type"), kind),
        None if config.engine.binary.is_some() => problems.push(Problem::new(
            engine.key("binary"),
            "`engine.binary` is set but `engine.type` is not: orx cannot tell which executor runs it"
                .to_string(),
            "add `type:` (claude, codex, …) under `engine`, or give the program as `executors.<name>.bin`"
                .to_string(),
        )),
        None => {}
    }
    positive(
        &mut problems,
        engine.key("timeout"),
        Some(config.engine.timeout),
    );
    positive(
        &mut problems,
        engine.key("idle_timeout"),
        config.engine.idle_timeout,
    );

    let executors = root.key("executors");
    for (name, executor) in &config.executors {
        let path = executors.key(name);
        if !EXECUTOR_NAMES.contains(&name.as_str()) {
            problems.push(Problem::new(
                path.clone(),
                format!("`executors.{name}` is not a known executor"),
                suggestion(name, &EXECUTOR_NAMES, "known executors"),
            ));
        }
        positive(&mut problems, path.key("timeout"), executor.timeout);
        positive(
            &mut problems,
            path.key("idle_timeout"),
            executor.idle_timeout,
        );
    }

    let stages = root.key("stages");
    for (name, stage) in config.stages.iter() {
        let path = stages.key(name);
        if let Some(executor) = &stage.executor {
            check_executor(&mut problems, path.key("executor"), executor);
        }
        positive(&mut problems, path.key("timeout"), stage.timeout);
        positive(&mut problems, path.key("idle_timeout"), stage.idle_timeout);
        if let Some(c) = &stage.candidates {
            check_candidates(&mut problems, name, path.key("candidates"), c);
        }
    }

    check_gates(&mut problems, config);

    let run = root.key("run");
    if config.run.max_fix_attempts > MAX_FIX_ATTEMPTS {
        problems.push(Problem::new(
            run.key("max_fix_attempts"),
            format!(
                "`run.max_fix_attempts` is {}, above the limit of {MAX_FIX_ATTEMPTS}",
                config.run.max_fix_attempts
            ),
            "every attempt is a full agent call; use 20 or fewer".to_string(),
        ));
    }
    let approvable: Vec<&str> = Stage::APPROVABLE.iter().map(|s| s.as_str()).collect();
    for (i, name) in config.run.approve.iter().enumerate() {
        if !approvable.contains(&name.as_str()) {
            problems.push(Problem::new(
                run.key("approve").index(i),
                format!("`run.approve` lists `{name}`, which is not a stage a run can stop after"),
                suggestion(name, &approvable, "stages"),
            ));
        }
    }
    if !(1..=MAX_PARALLEL).contains(&config.run.max_parallel) {
        problems.push(Problem::new(
            run.key("max_parallel"),
            format!(
                "`run.max_parallel` is {}, outside 1 to {MAX_PARALLEL}",
                config.run.max_parallel
            ),
            "it counts backlog items worked at once; the default is 1".to_string(),
        ));
    }
    if !(1..=MAX_STOP_GRACE_SECS).contains(&config.run.stop_grace_secs) {
        problems.push(Problem::new(
            run.key("stop_grace_secs"),
            format!(
                "`run.stop_grace_secs` is {}, outside 1 to {MAX_STOP_GRACE_SECS}",
                config.run.stop_grace_secs
            ),
            "it is how long a stopped agent or gate gets before it is killed; the default is 5"
                .to_string(),
        ));
    }
    if config.run.stuck_threshold == 0 {
        problems.push(Problem::new(
            run.key("stuck_threshold"),
            "`run.stuck_threshold` must be at least 1".to_string(),
            "it counts consecutive attempts failing the same way; the default is 2".to_string(),
        ));
    }

    if let Some(usd) = config.run.max_budget_usd {
        if !(usd > 0.0 && usd.is_finite()) {
            problems.push(Problem::new(
                run.key("max_budget_usd"),
                format!("`run.max_budget_usd` must be a positive amount, found {usd}"),
                "give US dollars, e.g. `max_budget_usd: 5.0`, or remove the key for no limit"
                    .to_string(),
            ));
        }
    }
    if config.run.max_tokens == Some(0) {
        problems.push(Problem::new(
            run.key("max_tokens"),
            "`run.max_tokens` must be at least 1".to_string(),
            "remove the key for no limit".to_string(),
        ));
    }
    if config.run.max_wait_secs == 0 {
        problems.push(Problem::new(
            run.key("max_wait_secs"),
            "`run.max_wait_secs` must be greater than 0 seconds".to_string(),
            "the default is 900 (15 minutes)".to_string(),
        ));
    }
    for (name, stage) in config.stages.iter() {
        if stage.max_turns == Some(0) {
            problems.push(Problem::new(
                KeyPath::default().key("stages").key(name).key("max_turns"),
                format!("`stages.{name}.max_turns` must be at least 1"),
                "remove the key for no limit".to_string(),
            ));
        }
    }
    check_fallback(&mut problems, config);
    for (model, price) in &config.pricing {
        let all = [
            Some(price.input_per_mtok),
            Some(price.output_per_mtok),
            price.cache_read_per_mtok,
            price.cache_write_per_mtok,
        ];
        if all
            .into_iter()
            .flatten()
            .any(|p| !(p >= 0.0 && p.is_finite()))
        {
            problems.push(Problem::new(
                KeyPath::default().key("pricing").key(model),
                format!("`pricing.{model}` has a negative or invalid price"),
                "prices are US dollars per million tokens, 0 or more".to_string(),
            ));
        }
    }

    check_pipelines(&mut problems, &config.pipelines);
    super::around_stages_rules::check(&mut problems, config);
    let guardrails = root.key("guardrails");
    for (key, message) in crate::guard::pattern_problems(&config.guardrails) {
        let path = match key {
            "secrets" => guardrails.key("secrets").key("allow"),
            k => guardrails.key(k),
        };
        problems.push(Problem::new(
            path,
            format!("guardrails: {message}"),
            "globs use *, ** and [..]; a literal [ or { must be escaped as [[] or [{]".to_string(),
        ));
    }
    problems
}

fn check_fallback(problems: &mut Vec<Problem>, config: &Config) {
    let root = KeyPath::default().key("fallback");
    for (i, rule) in config.fallback.iter().enumerate() {
        let path = root.index(i);
        if rule.executor.is_none() && rule.model.is_none() {
            problems.push(Problem::new(
                path.clone(),
                format!("`fallback[{i}]` names neither an executor nor a model to switch to"),
                "add `executor:` and/or `model:` to the rule".to_string(),
            ));
        }
        if let Some(executor) = &rule.executor {
            check_executor(problems, path.key("executor"), executor);
        }
        if let Some(stage) = &rule.stage {
            if !STAGE_NAMES.contains(&stage.as_str()) {
                problems.push(Problem::new(
                    path.key("stage"),
                    format!("`fallback[{i}].stage` is `{stage}`, which is not a stage"),
                    suggestion(stage, &STAGE_NAMES, "stages"),
                ));
            }
        }
    }
}

fn check_executor(problems: &mut Vec<Problem>, path: KeyPath, name: &str) {
    if !EXECUTOR_NAMES.contains(&name) {
        problems.push(Problem::new(
            path.clone(),
            format!("`{path}` is `{name}`, which is not a known executor"),
            suggestion(name, &EXECUTOR_NAMES, "known executors"),
        ));
    }
}

/// `stages.<name>.candidates`: implement only, 1 to [`MAX_CANDIDATES`] of them, known executors.
fn check_candidates(problems: &mut Vec<Problem>, stage: &str, path: KeyPath, c: &Candidates) {
    if stage != "implement" {
        problems.push(Problem::new(
            path.clone(),
            format!("`{path}` is set, but only the implement stage has candidates"),
            "move it to `stages.implement.candidates`".to_string(),
        ));
        return;
    }
    if !(1..=MAX_CANDIDATES as usize).contains(&c.count()) {
        let what = match c {
            Candidates::Count(n) => format!("is {n}"),
            Candidates::Executors(l) => format!("lists {} executors", l.len()),
        };
        problems.push(Problem::new(
            path.clone(),
            format!("`{path}` {what}, outside 1 to {MAX_CANDIDATES}"),
            "give a number of candidates per item, or a list of executors such as [claude, codex]; the default is 1".to_string(),
        ));
    }
    if let Candidates::Executors(list) = c {
        for (i, name) in list.iter().enumerate() {
            check_executor(problems, path.index(i), name);
        }
    }
}

fn positive(problems: &mut Vec<Problem>, path: KeyPath, seconds: Option<u64>) {
    if seconds == Some(0) {
        problems.push(Problem::new(
            path.clone(),
            format!("`{path}` must be greater than 0 seconds"),
            "give a number of seconds, or remove the key to use the default".to_string(),
        ));
    }
}

fn check_gates(problems: &mut Vec<Problem>, config: &Config) {
    let gates = KeyPath::default().key("gates");
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, gate) in config.gates.iter().enumerate() {
        let path = gates.index(i);
        let name = gate.name.trim();
        if name.is_empty() {
            problems.push(Problem::new(
                path.key("name"),
                format!("`gates[{i}].name` is empty"),
                "give every gate a unique name; it also names the gate's log file".to_string(),
            ));
        } else if name.contains(['/', '\\']) || name == "." || name == ".." {
            problems.push(Problem::new(
                path.key("name"),
                format!("gate name `{name}` cannot be used as a file name"),
                format!("the name also names `logs/<name>.log`; drop the `/` from `{name}`"),
            ));
        } else if let Some(first) = seen.insert(name, i) {
            seen.insert(name, first);
            problems.push(Problem::new(
                path.key("name"),
                format!("gate name `{name}` is used twice (`gates[{first}]` and `gates[{i}]`)"),
                "gate names must be unique; rename one of them".to_string(),
            ));
        }
        if gate.command.trim().is_empty() {
            problems.push(Problem::new(
                path.key("command"),
                format!("`gates[{i}].command` is empty"),
                "name the program to run, e.g. `command: pytest`".to_string(),
            ));
        }
        positive(problems, path.key("timeout"), Some(gate.timeout));
        if let Some(parser) = &gate.parser {
            if !GATE_PARSERS.contains(&parser.as_str()) {
                problems.push(Problem::new(
                    path.key("parser"),
                    format!("`gates[{i}].parser` is `{parser}`, which is not a known parser"),
                    suggestion(parser, &GATE_PARSERS, "known parsers"),
                ));
            }
        }
    }
}

fn check_pipelines(problems: &mut Vec<Problem>, pipelines: &BTreeMap<String, Vec<String>>) {
    let root = KeyPath::default().key("pipelines");
    for (name, stages) in pipelines {
        let path = root.key(name);
        if BUILTIN_PIPELINES.contains(&name.as_str()) {
            problems.push(Problem::new(
                path.clone(),
                format!("pipeline `{name}` is built in and cannot be redefined"),
                format!(
                    "choose another name; built-in pipelines are {}",
                    BUILTIN_PIPELINES.join(", ")
                ),
            ));
        }
        if stages.is_empty() {
            problems.push(Problem::new(
                path.clone(),
                format!("pipeline `{name}` lists no stages"),
                format!("list stages from: {}", PIPELINE_STAGE_NAMES.join(", ")),
            ));
        }
        for (i, stage) in stages.iter().enumerate() {
            if !PIPELINE_STAGE_NAMES.contains(&stage.as_str()) {
                problems.push(Problem::new(
                    path.index(i),
                    format!("pipeline `{name}` lists `{stage}`, which is not a pipeline stage"),
                    suggestion(stage, &PIPELINE_STAGE_NAMES, "pipeline stages"),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::types::{GateConfig, StageOverride};

    /// The default config changed by `change`.
    fn with(change: impl FnOnce(&mut Config)) -> Config {
        let mut config = Config::default();
        change(&mut config);
        config
    }

    fn only_problem(config: &Config) -> Problem {
        let problems = validate(config);
        assert_eq!(problems.len(), 1, "{problems:#?}");
        problems.into_iter().next().unwrap()
    }

    #[test]
    fn defaults_are_valid() {
        assert_eq!(validate(&Config::default()), Vec::new());
    }

    #[test]
    fn the_stop_grace_is_one_second_to_an_hour() {
        for bad in [0, MAX_STOP_GRACE_SECS + 1] {
            let p = only_problem(&with(|c| c.run.stop_grace_secs = bad));
            assert_eq!(p.path.to_string(), "run.stop_grace_secs");
            assert_eq!(
                p.message,
                format!("`run.stop_grace_secs` is {bad}, outside 1 to 3600")
            );
        }
        for good in [1, MAX_STOP_GRACE_SECS] {
            assert_eq!(
                validate(&with(|c| c.run.stop_grace_secs = good)),
                Vec::new()
            );
        }
    }

    #[test]
    fn version_must_be_one() {
        let c = with(|c| c.version = "2".to_string());
        let p = only_problem(&c);
        assert_eq!(p.path.to_string(), "version");
        assert_eq!(p.message, "`version` must be \"1\", found \"2\"");
    }

    #[test]
    fn engine_binary_needs_engine_type() {
        let mut c = Config::default();
        c.engine.binary = Some("/opt/claude".to_string());
        let p = only_problem(&c);
        assert_eq!(p.path.to_string(), "engine.binary");
        assert!(p.hint.as_deref().is_some_and(|h| h.contains("type:")));
        c.engine.kind = Some("claude".to_string());
        assert_eq!(validate(&c), Vec::new());
    }

    #[test]
    fn executors_must_be_known_everywhere() {
        let mut c = Config::default();
        c.engine.kind = Some("codx".to_string());
        let p = only_problem(&c);
        assert_eq!(p.path.to_string(), "engine.type");
        assert_eq!(p.hint.as_deref(), Some("did you mean `codex`?"));

        let mut c = Config::default();
        c.stages.review = Some(StageOverride {
            executor: Some("openai".to_string()),
            ..StageOverride::default()
        });
        let p = only_problem(&c);
        assert_eq!(p.path.to_string(), "stages.review.executor");
        assert_eq!(
            p.hint.as_deref(),
            Some(crate::agents::registry::known_hint().as_str())
        );

        let mut c = Config::default();
        c.executors.insert("gemeni".to_string(), Default::default());
        let p = only_problem(&c);
        assert_eq!(p.path.to_string(), "executors.gemeni");
        assert_eq!(p.hint.as_deref(), Some("did you mean `gemini`?"));
    }

    #[test]
    fn gate_names_are_unique_non_empty_and_file_safe() {
        let mut c = with(|c| {
            c.gates = vec![
                GateConfig::exec("lint", "ruff", &[]),
                GateConfig::exec("lint", "ruff", &[]),
            ]
        });
        let p = only_problem(&c);
        assert_eq!(p.path.to_string(), "gates[1].name");
        assert!(
            p.message.contains("`gates[0]` and `gates[1]`"),
            "{}",
            p.message
        );

        c.gates[1].name = " ".to_string();
        assert_eq!(only_problem(&c).path.to_string(), "gates[1].name");
        c.gates[1].name = "a/b".to_string();
        assert_eq!(only_problem(&c).path.to_string(), "gates[1].name");
    }

    #[test]
    fn gate_command_parser_and_timeout_are_checked() {
        let mut c = with(|c| c.gates = vec![GateConfig::exec("t", "", &[])]);
        assert_eq!(only_problem(&c).path.to_string(), "gates[0].command");
        c.gates[0].command = "pytest".to_string();
        c.gates[0].timeout = 0;
        assert_eq!(only_problem(&c).path.to_string(), "gates[0].timeout");
        c.gates[0].timeout = 5;
        c.gates[0].parser = Some("pytets".to_string());
        let p = only_problem(&c);
        assert_eq!(p.path.to_string(), "gates[0].parser");
        assert_eq!(p.hint.as_deref(), Some("did you mean `pytest`?"));
    }

    #[test]
    fn every_timeout_must_be_positive() {
        let mut c = Config::default();
        c.engine.timeout = 0;
        c.engine.idle_timeout = Some(0);
        c.executors.insert("codex".to_string(), Default::default());
        if let Some(e) = c.executors.get_mut("codex") {
            e.timeout = Some(0);
            e.idle_timeout = Some(0);
        }
        c.stages.fix = Some(StageOverride {
            timeout: Some(0),
            idle_timeout: Some(0),
            ..StageOverride::default()
        });
        let paths: Vec<String> = validate(&c).iter().map(|p| p.path.to_string()).collect();
        assert_eq!(
            paths,
            [
                "engine.timeout",
                "engine.idle_timeout",
                "executors.codex.timeout",
                "executors.codex.idle_timeout",
                "stages.fix.timeout",
                "stages.fix.idle_timeout"
            ]
        );
    }

    #[test]
    fn run_approve_names_only_stages_a_run_can_stop_after() {
        let config = with(|c| c.run.approve = vec!["plan".into(), "implemnt".into()]);
        let p = only_problem(&config);
        assert_eq!(p.path.to_string(), "run.approve[1]");
        assert!(p.message.contains("`implemnt`"), "{}", p.message);
    }

    #[test]
    fn run_limits_are_enforced() {
        let mut c = Config::default();
        c.run.max_fix_attempts = 20;
        assert!(validate(&c).is_empty());
        c.run.max_fix_attempts = 21;
        assert_eq!(only_problem(&c).path.to_string(), "run.max_fix_attempts");
        c.run.max_fix_attempts = 3;
        c.run.stuck_threshold = 0;
        assert_eq!(only_problem(&c).path.to_string(), "run.stuck_threshold");
    }

    #[test]
    fn pipelines_use_known_stages_and_new_names() {
        let mut c = Config::default();
        c.pipelines
            .insert("quick".to_string(), vec!["plan".into(), "implment".into()]);
        let p = only_problem(&c);
        assert_eq!(p.path.to_string(), "pipelines.quick[1]");
        assert_eq!(p.hint.as_deref(), Some("did you mean `implement`?"));

        let mut c = Config::default();
        c.pipelines
            .insert("fast-fix".to_string(), vec!["implement".into()]);
        assert_eq!(only_problem(&c).path.to_string(), "pipelines.fast-fix");

        let mut c = Config::default();
        c.pipelines.insert("none".to_string(), Vec::new());
        assert_eq!(only_problem(&c).message, "pipeline `none` lists no stages");
    }
}
