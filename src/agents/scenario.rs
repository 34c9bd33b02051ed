//! The fake engine's scenario file: a scripted answer for every stage call, for tests and demos.
//!
//! A scenario maps stage names to [`Step`]s (what the "agent" replies, which files it writes or
//! deletes, how it exits). Stages called more than once (decompose attempts, review rounds, fix
//! attempts) take a list, one step per call, the last one repeating. [`OneOrMany`] has a
//! hand-written `Deserialize` rather than `#[serde(untagged)]` because untagged enums lose the
//! line and column of the error inside them; with the visitor, a typo deep in a list still comes
//! back as `scenario.yaml:12:7: unknown key `txt` in `fix.W001[1]``. File paths are checked to
//! stay inside the working directory, since the fake engine writes them there. [`DEMO_SCENARIO`]
//! is embedded so `make demo` and a run without a scenario need no file on disk.

use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Component, Path};

use super::error::{AgentError, Result};
use crate::error::file::FileError;
use crate::text::serde_errors::{parse_unknown_field, split_location, split_path};
use crate::text::{did_you_mean, one_line};

/// The embedded demo scenario (a two-item Python project with one fix loop).
pub const DEMO_SCENARIO: &str = include_str!("../../examples/demo/scenario.yaml");

/// What the scripted agent does in one call.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// The agent's final reply.
    #[serde(default)]
    pub text: Option<String>,
    /// Path (relative to the working directory) → full new content.
    #[serde(default, deserialize_with = "unique_map")]
    pub files: BTreeMap<String, String>,
    /// Paths to delete, relative to the working directory.
    #[serde(default, deserialize_with = "null_as_default")]
    pub delete: Vec<String>,
    #[serde(default)]
    pub exit_code: Option<i32>,
    #[serde(default)]
    pub delay_ms: Option<u64>,
    /// The agent reports this error instead of succeeding.
    #[serde(default)]
    pub error: Option<String>,
    /// When set, `error` applies only to calls made with this model, and the step succeeds
    /// with any other (scripts a `fallback:` to another model).
    #[serde(default)]
    pub error_model: Option<String>,
    #[serde(default)]
    pub usage: Option<StepUsage>,
}

/// Token and cost accounting the scripted agent reports.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StepUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: Option<f64>,
}

/// One step for every call, or one step per call (the last repeats).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(Step),
    Many(Vec<Step>),
}

impl OneOrMany {
    /// The step for the `n`th call (1-based; 0 counts as 1); past the end, the last step.
    pub fn nth(&self, n: u32) -> Option<Step> {
        match self {
            OneOrMany::One(s) => Some(s.clone()),
            OneOrMany::Many(v) => {
                let i = (n.max(1) as usize - 1).min(v.len().saturating_sub(1));
                v.get(i).cloned()
            }
        }
    }
}

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a step (a mapping) or a list of steps")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                m: A,
            ) -> std::result::Result<OneOrMany, A::Error> {
                Step::deserialize(de::value::MapAccessDeserializer::new(m)).map(OneOrMany::One)
            }
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                s: A,
            ) -> std::result::Result<OneOrMany, A::Error> {
                Vec::<Step>::deserialize(de::value::SeqAccessDeserializer::new(s))
                    .map(OneOrMany::Many)
            }
        }
        d.deserialize_any(V)
    }
}

/// The whole script, stage by stage.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    #[serde(default)]
    pub plan: Option<OneOrMany>,
    #[serde(default)]
    pub spec: Option<OneOrMany>,
    #[serde(default)]
    pub decompose: Option<OneOrMany>,
    /// Backlog item id (or `default`) → step.
    #[serde(default, deserialize_with = "unique_map")]
    pub implement: BTreeMap<String, Step>,
    /// Backlog item id (or `default`) → one step per fix attempt.
    #[serde(default, deserialize_with = "unique_map")]
    pub fix: BTreeMap<String, OneOrMany>,
    #[serde(default)]
    pub review: Option<OneOrMany>,
    #[serde(default)]
    pub knowledge_update: Option<OneOrMany>,
    /// Backlog item id (or `default`) → one step per merge attempt: what the agent does when
    /// integrating the item into the run branch conflicted (parallel lanes).
    #[serde(default, deserialize_with = "unique_map")]
    pub merge: BTreeMap<String, OneOrMany>,
    /// Backlog item id (or `default`) → one step per judge call: the reply choosing among the
    /// item's candidates that passed (best-of-N), e.g. a ```json block `{"choice": 2,
    /// "reason": "..."}`.
    #[serde(default, deserialize_with = "unique_map")]
    pub judge: BTreeMap<String, OneOrMany>,
}

/// The entry of `map` for `item`: its own key, then, for a candidate's key `<item>+c<n>`, its
/// item's, then `default`. So a scenario scripts candidates apart (`W001+c2:`) or alike.
fn for_item<'a, T>(map: &'a BTreeMap<String, T>, item: Option<&str>) -> Option<&'a T> {
    let own = item.and_then(|id| map.get(id));
    let of_item = || {
        item.and_then(|id| id.rsplit_once("+c"))
            .and_then(|(id, _)| map.get(id))
    };
    own.or_else(of_item).or_else(|| map.get("default"))
}

impl Scenario {
    /// The step for a stage call. `stage` is one of plan, spec, decompose, review,
    /// knowledge_update, implement, fix, merge, judge; `item` is the backlog item id (or a
    /// candidate's key, `<item>+c<n>`) for implement, fix, merge and judge; `n` is the 1-based
    /// number of the call of that kind (decompose attempt, review round, fix, merge or judge
    /// call for that item). Implement, fix, merge and judge look up the item id (for a
    /// candidate, its key, then its item's id), then `default`. A fix (or merge) for
    /// an item with neither → `None`; so is an unknown stage.
    pub fn step(&self, stage: &str, item: Option<&str>, n: u32) -> Option<Step> {
        let staged = |s: &Option<OneOrMany>| s.as_ref().and_then(|s| s.nth(n));
        match stage {
            "plan" => staged(&self.plan),
            "spec" => staged(&self.spec),
            "decompose" => staged(&self.decompose),
            "review" => staged(&self.review),
            "knowledge_update" => staged(&self.knowledge_update),
            "implement" => for_item(&self.implement, item).cloned(),
            "fix" => for_item(&self.fix, item).and_then(|s| s.nth(n)),
            "merge" => for_item(&self.merge, item).and_then(|s| s.nth(n)),
            "judge" => for_item(&self.judge, item).and_then(|s| s.nth(n)),
            _ => None,
        }
    }

    /// The embedded demo scenario ([`DEMO_SCENARIO`]).
    pub fn demo() -> Scenario {
        // DEMO_SCENARIO is a compile-time constant that `demo_scenario_parses` checks, so the
        // fallback to an empty scenario is unreachable in a tested build.
        parse_scenario(DEMO_SCENARIO, Path::new("examples/demo/scenario.yaml")).unwrap_or_default()
    }

    /// Every (owner, step) pair, for checks that apply to all steps.
    fn all_steps(&self) -> Vec<(String, &Step)> {
        fn push<'a>(out: &mut Vec<(String, &'a Step)>, name: &str, s: &'a OneOrMany) {
            match s {
                OneOrMany::One(step) => out.push((name.to_string(), step)),
                OneOrMany::Many(v) => out.extend(
                    v.iter()
                        .enumerate()
                        .map(|(i, step)| (format!("{name}[{i}]"), step)),
                ),
            }
        }
        let mut out = Vec::new();
        let staged = [
            ("plan", &self.plan),
            ("spec", &self.spec),
            ("decompose", &self.decompose),
            ("review", &self.review),
            ("knowledge_update", &self.knowledge_update),
        ];
        for (name, s) in staged {
            if let Some(s) = s {
                push(&mut out, name, s);
            }
        }
        for (id, s) in &self.merge {
            push(&mut out, &format!("merge.{id}"), s);
        }
        for (id, s) in &self.judge {
            push(&mut out, &format!("judge.{id}"), s);
        }
        for (id, s) in &self.fix {
            push(&mut out, &format!("fix.{id}"), s);
        }
        for (id, s) in &self.implement {
            out.push((format!("implement.{id}"), s));
        }
        out
    }
}

/// Parse a scenario; `path` names the file in errors (`scenario.yaml:3:5: ...`).
pub fn parse_scenario(text: &str, path: &Path) -> Result<Scenario> {
    if let Some((line, col)) = crate::config::depth::too_deep(text) {
        return Err(AgentError::InvalidScenario {
            message: format!(
                "{}:{line}:{col}: the scenario nests deeper than {} levels",
                path.display(),
                crate::config::depth::MAX_DEPTH
            ),
            hint: Some("a scenario needs only a few levels; remove the nesting".to_string()),
        });
    }
    let scenario: Scenario = yaml_serde::from_str(text).map_err(|e| describe_error(&e, path))?;
    check_paths(&scenario, text, path)?;
    Ok(scenario)
}

/// Read and parse a scenario file; a missing file is a usage error naming it.
pub fn load_scenario(path: &Path) -> Result<Scenario> {
    let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => AgentError::ScenarioMissing {
            path: path.to_path_buf(),
        },
        std::io::ErrorKind::InvalidData => AgentError::ScenarioNotText {
            path: path.to_path_buf(),
        },
        std::io::ErrorKind::IsADirectory => AgentError::ScenarioIsFolder {
            path: path.to_path_buf(),
        },
        _ => FileError::input("read", path, e).into(),
    })?;
    parse_scenario(&text, path)
}

/// Turn a yaml_serde error into `file:line:col: sentence` plus a did-you-mean hint.
fn describe_error(e: &yaml_serde::Error, path: &Path) -> AgentError {
    let loc = e.location().map(|l| (l.line(), l.column()));
    let (msg, _) = split_location(&one_line(&e.to_string()), loc);
    let prefix = match loc {
        Some((l, c)) => format!("{}:{l}:{c}", path.display()),
        None => path.display().to_string(),
    };
    let (key_path, msg) = split_path(&msg).unwrap_or((String::new(), msg));
    let place = if key_path.is_empty() {
        "at the top level".to_string()
    } else {
        format!("in `{key_path}`")
    };
    if let Some((field, expected)) = parse_unknown_field(&msg) {
        let allowed = expected.join(", ");
        let hint = match did_you_mean(&field, expected.iter().map(String::as_str)) {
            Some(s) => format!("did you mean `{s}`? allowed keys: {allowed}"),
            None => format!("allowed keys: {allowed}"),
        };
        return AgentError::InvalidScenario {
            message: format!("{prefix}: unknown key `{field}` {place}"),
            hint: Some(hint),
        };
    }
    let friendly = msg
        .replace("struct Scenario", "a mapping of stage names to steps")
        .replace(
            "struct StepUsage",
            "a mapping {input_tokens, output_tokens, cost_usd}",
        )
        .replace("struct Step", "a step mapping")
        .replace("unit value", "nothing");
    let sentence = match friendly.strip_prefix("invalid type: ") {
        Some(rest) => match rest.split_once(", expected ") {
            Some((found, want)) => format!("wrong type {place}: expected {want}, found {found}"),
            None => format!("wrong type {place}: {rest}"),
        },
        None if key_path.is_empty() => friendly,
        None => format!("{friendly} {place}"),
    };
    AgentError::InvalidScenario {
        message: format!("{prefix}: {sentence}"),
        hint: None,
    }
}

/// File paths are written relative to the working directory: refuse any that would escape it.
fn check_paths(s: &Scenario, text: &str, path: &Path) -> Result<()> {
    for (owner, step) in s.all_steps() {
        for (p, what) in step
            .files
            .keys()
            .map(|p| (p, "files"))
            .chain(step.delete.iter().map(|p| (p, "delete")))
        {
            if is_safe_relative(p) {
                continue;
            }
            let at = text
                .lines()
                .enumerate()
                .find_map(|(i, l)| {
                    l.find(p.as_str())
                        .filter(|_| !p.is_empty())
                        .map(|c| (i + 1, c + 1))
                })
                .map(|(l, c)| format!(":{l}:{c}"))
                .unwrap_or_default();
            return Err(AgentError::InvalidScenario {
                message: one_line(&format!(
                    "{}{at}: path `{p}` in `{owner}.{what}` must be relative and stay inside the working directory",
                    path.display()
                )),
                hint: Some(
                    "write paths such as src/app.py, without a leading / or .. components".into(),
                ),
            });
        }
    }
    Ok(())
}

fn is_safe_relative(p: &str) -> bool {
    let path = Path::new(p);
    !p.trim().is_empty()
        && !p.starts_with('/')
        && !p.starts_with('\\')
        && !p.contains(':')
        && path
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
        && !p.split(['/', '\\']).any(|seg| seg == "..")
}

/// A map of the scenario (items, files): a key written with no value (`files:`) means "empty",
/// and a key written twice in it is refused, as orx.yaml's loader refuses one, instead of the
/// last one silently winning. A struct's own keys are refused twice by serde already, so every
/// map of the file is checked in the one typed parse.
fn unique_map<'de, D, V>(d: D) -> std::result::Result<BTreeMap<String, V>, D::Error>
where
    D: Deserializer<'de>,
    V: Deserialize<'de>,
{
    struct Unique<V>(BTreeMap<String, V>);
    impl<'de, V: Deserialize<'de>> Deserialize<'de> for Unique<V> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
            struct Keys<V>(std::marker::PhantomData<V>);
            impl<'de, V: Deserialize<'de>> Visitor<'de> for Keys<V> {
                type Value = Unique<V>;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a map")
                }
                fn visit_map<A: MapAccess<'de>>(
                    self,
                    mut m: A,
                ) -> std::result::Result<Unique<V>, A::Error> {
                    let mut out = BTreeMap::new();
                    while let Some(key) = m.next_key::<String>()? {
                        if out.contains_key(&key) {
                            return Err(de::Error::custom(format_args!(
                                "duplicate entry with key \"{key}\""
                            )));
                        }
                        let value = m.next_value()?;
                        out.insert(key, value);
                    }
                    Ok(Unique(out))
                }
            }
            d.deserialize_map(Keys(std::marker::PhantomData))
        }
    }
    Ok(Option::<Unique<V>>::deserialize(d)?
        .map(|u| u.0)
        .unwrap_or_default())
}

/// A key written with no value (`files:`) means "empty", not a type error.
fn null_as_default<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backlog::{parse_backlog, validate};
    use crate::error::{ErrorKind, OrxError};
    use crate::gates::evidence::{parse_failures, ParserKind};
    use crate::verdict::{parse_verdict, VerdictKind};
    use std::process::Command;

    /// Parsed, or the error as the user sees it.
    fn parse(text: &str) -> Result<Scenario, OrxError> {
        Ok(parse_scenario(text, Path::new("scenario.yaml"))?)
    }

    fn load_scenario(path: &Path) -> Result<Scenario, OrxError> {
        Ok(super::load_scenario(path)?)
    }

    fn err(text: &str) -> (String, Option<String>) {
        let e = parse(text).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Config);
        (e.message, e.hint)
    }

    #[test]
    fn demo_scenario_parses() {
        let s = parse_scenario(DEMO_SCENARIO, Path::new("demo.yaml")).unwrap();
        assert_eq!(s, Scenario::demo());
        let text = |stage: &str| s.step(stage, None, 1).unwrap().text.unwrap();
        assert!(text("plan").starts_with("# Plan"));
        assert!(text("spec").starts_with("# Spec"));
        let b = parse_backlog(&text("decompose")).unwrap();
        validate(&b).unwrap();
        let ids: Vec<_> = b.items.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["W001", "W002"]);
        assert_eq!(b.items[1].depends_on, ["W001"]);
        let v = parse_verdict(&text("review")).unwrap();
        assert_eq!(v.verdict, VerdictKind::Approved);
        assert!(s.step("fix", Some("W001"), 1).is_some());
        assert!(s.step("fix", Some("W002"), 1).is_none());
        let k = s.step("knowledge_update", None, 1).unwrap();
        assert!(k.files["AGENTS.md"].contains("unittest"));
        // The demo spends nothing, so no summary of it shows a made-up cost.
        for stage in ["plan", "spec", "decompose", "review", "knowledge_update"] {
            assert_eq!(s.step(stage, None, 1).unwrap().usage, None, "{stage}");
        }
        for item in ["W001", "W002"] {
            assert_eq!(s.step("implement", Some(item), 1).unwrap().usage, None);
        }
        assert_eq!(s.step("fix", Some("W001"), 1).unwrap().usage, None);
    }

    fn apply(dir: &Path, step: &Step) {
        for (p, content) in &step.files {
            let target = dir.join(p);
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::write(target, content).unwrap();
        }
        for p in &step.delete {
            std::fs::remove_file(dir.join(p)).unwrap();
        }
    }

    /// Runs the demo's unittest gate; `None` when python3 is not installed.
    fn unittest(dir: &Path) -> Option<(bool, String)> {
        let out = Command::new("python3")
            .args(["-m", "unittest", "discover", "-s", "tests", "-t", "."])
            .current_dir(dir)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .output();
        match out {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => panic!("cannot run python3: {e}"),
            Ok(o) => Some((
                o.status.success(),
                format!(
                    "{}{}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                ),
            )),
        }
    }

    #[test]
    fn demo_python_fails_after_implement_and_passes_after_the_fix() {
        let s = Scenario::demo();
        let dir = tempfile::tempdir().unwrap();
        apply(dir.path(), &s.step("implement", Some("W001"), 1).unwrap());
        let Some((ok, out)) = unittest(dir.path()) else {
            eprintln!("python3 not installed: skipping the demo's Python check");
            return;
        };
        assert!(!ok, "the buggy add must fail its tests:\n{out}");
        let failures = parse_failures(ParserKind::Unittest, &out);
        assert_eq!(failures.len(), 2, "{out}");
        assert_eq!(failures[0].file.as_deref(), Some("tests/test_ops.py"));
        assert!(
            failures.iter().any(|f| f.code.as_deref()
                == Some("tests.test_ops.AddTest.test_adds_two_numbers")
                && f.message == "AssertionError: -1 != 5"),
            "{failures:?}"
        );

        apply(dir.path(), &s.step("fix", Some("W001"), 1).unwrap());
        let (ok, out) = unittest(dir.path()).unwrap();
        assert!(ok, "the fix must make the tests pass:\n{out}");
        assert!(out.contains("Ran 2 tests"), "{out}");

        apply(dir.path(), &s.step("implement", Some("W002"), 1).unwrap());
        let (ok, out) = unittest(dir.path()).unwrap();
        assert!(ok, "W002 must pass first time:\n{out}");
        assert!(out.contains("Ran 4 tests"), "{out}");

        let compiled = Command::new("python3")
            .args([
                "-m",
                "py_compile",
                "calc/__init__.py",
                "calc/ops.py",
                "tests/test_ops.py",
                "tests/test_mul.py",
            ])
            .current_dir(dir.path())
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .status()
            .unwrap();
        assert!(compiled.success());
    }

    const SCRIPT: &str = r##"
plan: {text: "# Plan"}
decompose:
  - {text: "not yaml at all"}
  - text: "items:\n  - {id: W001, title: t}\n"
implement:
  W001: {files: {"src/a.py": "x = 1\n"}, exit_code: 0}
  default: {text: "generic", delay_ms: 5}
fix:
  W001: [{text: one}, {text: two, delete: [src/old.py]}]
  W002: {text: always}
review:
  - text: "changes"
  - {text: "approve", usage: {input_tokens: 10, output_tokens: 2}}
knowledge_update: {error: "rate limited", exit_code: 1}
"##;

    #[test]
    fn candidates_take_their_own_steps_then_their_items_then_the_default() {
        let s = parse(
            "implement:\n  W001: {text: item}\n  W001+c2: {text: two}\n  default: {text: d}\nfix:\n  W001+c3: [{text: f3}]\njudge:\n  W001: [{text: j1}, {text: j2}]\n",
        )
        .unwrap();
        let text = |st: Option<Step>| st.and_then(|s| s.text);
        assert_eq!(
            text(s.step("implement", Some("W001+c2"), 1)).as_deref(),
            Some("two")
        );
        assert_eq!(
            text(s.step("implement", Some("W001+c1"), 1)).as_deref(),
            Some("item")
        );
        assert_eq!(
            text(s.step("implement", Some("W002+c1"), 1)).as_deref(),
            Some("d")
        );
        assert_eq!(
            text(s.step("fix", Some("W001+c3"), 1)).as_deref(),
            Some("f3")
        );
        assert_eq!(s.step("fix", Some("W001+c1"), 1), None);
        assert_eq!(
            text(s.step("judge", Some("W001"), 2)).as_deref(),
            Some("j2")
        );
        assert_eq!(s.step("judge", Some("W002"), 1), None);
    }

    #[test]
    fn step_lookup_rules() {
        let s = parse(SCRIPT).unwrap();
        let text = |st: Option<Step>| st.and_then(|s| s.text);
        assert_eq!(text(s.step("plan", None, 1)).as_deref(), Some("# Plan"));
        assert_eq!(text(s.step("plan", None, 7)).as_deref(), Some("# Plan"));
        assert_eq!(
            text(s.step("decompose", None, 1)).as_deref(),
            Some("not yaml at all")
        );
        assert!(text(s.step("decompose", None, 2))
            .unwrap()
            .starts_with("items:"));
        assert!(text(s.step("decompose", None, 9))
            .unwrap()
            .starts_with("items:"));
        assert_eq!(text(s.step("review", None, 0)).as_deref(), Some("changes"));
        let r2 = s.step("review", None, 2).unwrap();
        assert_eq!(
            r2.usage,
            Some(StepUsage {
                input_tokens: 10,
                output_tokens: 2,
                cost_usd: None
            })
        );
        assert_eq!(
            s.step("implement", Some("W001"), 1).unwrap().files["src/a.py"],
            "x = 1\n"
        );
        assert_eq!(
            text(s.step("implement", Some("W042"), 1)).as_deref(),
            Some("generic")
        );
        assert_eq!(s.step("implement", None, 1).unwrap().delay_ms, Some(5));
        assert_eq!(text(s.step("fix", Some("W001"), 1)).as_deref(), Some("one"));
        assert_eq!(
            s.step("fix", Some("W001"), 2).unwrap().delete,
            ["src/old.py"]
        );
        assert_eq!(text(s.step("fix", Some("W001"), 3)).as_deref(), Some("two"));
        assert_eq!(
            text(s.step("fix", Some("W002"), 5)).as_deref(),
            Some("always")
        );
        assert_eq!(s.step("fix", Some("W003"), 1), None);
        assert_eq!(s.step("fix", None, 1), None);
        let k = s.step("knowledge_update", None, 1).unwrap();
        assert_eq!(
            (k.error.as_deref(), k.exit_code),
            (Some("rate limited"), Some(1))
        );
        assert_eq!(s.step("spec", None, 1), None);
        assert_eq!(s.step("ship", None, 1), None);
        // an empty list yields nothing rather than panicking
        let s = parse("review: []\nfix: {default: [{text: d}]}\n").unwrap();
        assert_eq!(s.step("review", None, 1), None);
        assert_eq!(text(s.step("fix", Some("W9"), 2)).as_deref(), Some("d"));
        // empty and null sections
        let s = parse("plan: ~\nimplement:\nfix:\n").unwrap();
        assert_eq!(s, Scenario::default());
        assert_eq!(parse("").unwrap(), Scenario::default());
        assert_eq!(
            parse("plan: {files: , delete: }\n").unwrap().plan,
            Some(OneOrMany::One(Step::default()))
        );
    }

    #[test]
    fn unknown_keys_have_locations_and_suggestions() {
        let (m, h) = err("plan:\n  txt: hi\n");
        assert_eq!(m, "scenario.yaml:2:3: unknown key `txt` in `plan`");
        assert!(h
            .unwrap()
            .starts_with("did you mean `text`? allowed keys: text, files, delete"));

        let (m, h) = err("plan: {text: a}\nimplment: {}\n");
        assert_eq!(
            m,
            "scenario.yaml:2:1: unknown key `implment` at the top level"
        );
        assert!(h.unwrap().starts_with("did you mean `implement`?"));

        let (m, _) = err("fix:\n  W001:\n    - text: a\n    - txt: b\n");
        assert_eq!(m, "scenario.yaml:4:7: unknown key `txt` in `fix.W001[1]`");

        let (m, h) = err("review:\n  text: a\n  usage: {input: 3}\n");
        assert_eq!(
            m,
            "scenario.yaml:3:11: unknown key `input` in `review.usage`"
        );
        assert_eq!(
            h.unwrap(),
            "allowed keys: input_tokens, output_tokens, cost_usd"
        );

        let (m, h) = err("implement:\n  W001: {text: a, fils: {}}\n");
        assert_eq!(
            m,
            "scenario.yaml:2:19: unknown key `fils` in `implement.W001`"
        );
        assert!(h.unwrap().starts_with("did you mean `files`?"));
    }

    #[test]
    fn wrong_types_and_syntax_errors_have_locations() {
        let cases = [
            ("plan:\n  exit_code: abc\n", "scenario.yaml:2:14: wrong type in `plan.exit_code`: expected i32, found string \"abc\""),
            ("plan: 3\n", "scenario.yaml:1:7: wrong type in `plan`: expected a step (a mapping) or a list of steps, found integer `3`"),
            ("implement:\n  W001: [a]\n", "scenario.yaml:2:9: wrong type in `implement.W001`: expected a step mapping, found sequence"),
            ("implement:\n  W001:\n    files: [a]\n", "scenario.yaml:3:12: wrong type in `implement.W001.files`: expected a map, found sequence"),
            ("review: {usage: {input_tokens: -1}}\n", "scenario.yaml:1:32: wrong type in `review.usage.input_tokens`: expected u64, found integer `-1`"),
            ("- plan\n", "scenario.yaml:1:1: wrong type at the top level: expected a mapping of stage names to steps, found sequence"),
            ("plan:\n  text: \"unterminated\n", "scenario.yaml:3:1: found unexpected end of stream, while scanning a quoted scalar at line 2 column 9"),
            ("plan:\n  text: a\n  text: b\n", "scenario.yaml:2:3: duplicate field `text` in `plan`"),
            ("plan:\n  ? \"a\\nb\"\n  : 1\n", "scenario.yaml:2:5: unknown key `a\\nb` in `plan`"),
        ];
        for (text, want) in cases {
            let (m, _) = err(text);
            assert_eq!(m, want, "{text:?}");
        }
    }

    #[test]
    fn a_key_twice_in_any_map_is_refused_as_in_orx_yaml() {
        for (text, want) in [
            (
                "implement:\n  W001: {text: a}\n  W001: {text: b}\n",
                "scenario.yaml:2:3: duplicate entry with key \"W001\" in `implement`",
            ),
            (
                "implement:\n  W001:\n    files: {a.txt: x, a.txt: y}\n",
                "scenario.yaml:3:12: duplicate entry with key \"a.txt\" in `implement.W001.files`",
            ),
            (
                "fix:\n  W001:\n    - {text: a}\n  W001: {text: b}\n",
                "scenario.yaml:2:3: duplicate entry with key \"W001\" in `fix`",
            ),
            (
                "plan: {text: a}\nplan: {text: b}\n",
                "scenario.yaml:1:1: duplicate field `plan`",
            ),
        ] {
            assert_eq!(err(text).0, want, "{text:?}");
        }
    }

    #[test]
    fn paths_must_stay_inside_the_working_directory() {
        for bad in ["../escape.py", "/etc/passwd", "a/../../b", "C:/x", ""] {
            let text = format!("implement:\n  W001:\n    files: {{\"{bad}\": x}}\n");
            let (m, h) = err(&text);
            assert!(
                m.contains(&format!(
                    "path `{bad}` in `implement.W001.files` must be relative"
                )),
                "{m}"
            );
            assert!(h.is_some());
        }
        let (m, _) = err("fix:\n  W001:\n    - delete: [ok.py, ../x]\n");
        assert_eq!(m, "scenario.yaml:3:23: path `../x` in `fix.W001[0].delete` must be relative and stay inside the working directory");
        parse("plan: {files: {\"./a/b.py\": x, \"a.b/c\": y}}\n").unwrap();
    }

    #[test]
    fn load_reports_missing_files_as_usage_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.yaml");
        let e = load_scenario(&missing).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Usage);
        assert!(
            e.message.contains("nope.yaml") && e.message.contains("does not exist"),
            "{}",
            e.message
        );

        let file = dir.path().join("s.yaml");
        std::fs::write(&file, "plan:\n  txt: x\n").unwrap();
        let e = load_scenario(&file).unwrap_err();
        assert_eq!(
            e.message,
            format!("{}:2:3: unknown key `txt` in `plan`", file.display())
        );

        std::fs::write(&file, b"plan: {text: \"\xff\"}\n").unwrap();
        assert_eq!(load_scenario(&file).unwrap_err().kind, ErrorKind::Config);

        std::fs::write(&file, DEMO_SCENARIO).unwrap();
        assert_eq!(load_scenario(&file).unwrap(), Scenario::demo());
    }

    #[test]
    fn garbage_never_panics() {
        let seeds = [DEMO_SCENARIO, SCRIPT];
        let noise = [
            "\n", ":", "- ", "[", "{", "}", "'", "\"", "\t", "&a ", "*a", "!!str ", "..", "/",
            "txt", "  ",
        ];
        let mut rng = 0xdeadbeefcafef00du64;
        let mut errors = 0;
        for seed in seeds {
            for _ in 0..200 {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let mut s: Vec<char> = seed.chars().collect();
                let pos = (rng as usize) % (s.len() + 1);
                let cut = (rng >> 20) as usize % 6;
                s.splice(
                    pos..(pos + cut).min(s.len()),
                    noise[(rng >> 40) as usize % noise.len()].chars(),
                );
                let text: String = s.into_iter().collect();
                match parse(&text) {
                    Ok(sc) => {
                        for stage in crate::config::STAGE_NAMES {
                            let _ = sc.step(stage, Some("W001"), (rng % 4) as u32);
                        }
                    }
                    Err(e) => {
                        errors += 1;
                        assert!(e.message.starts_with("scenario.yaml"), "{}", e.message);
                        assert!(!e.message.contains('\n'), "{}", e.message);
                    }
                }
            }
        }
        assert!(errors > 0);
    }
}

/// Hostile input: any scenario text gives a scenario or one one-line error, never a
/// panic, and a scenario that parses never names a file outside the working folder.
#[cfg(test)]
mod hostile {
    use super::*;
    use crate::hostile_input::{config, json_value, mutated, replace_some, to_yaml};
    use proptest::prelude::*;

    const KEYS: &[&str] = &[
        "plan",
        "spec",
        "decompose",
        "implement",
        "fix",
        "review",
        "knowledge_update",
        "W001",
        "text",
        "files",
        "delete",
        "exit_code",
        "delay_ms",
        "error",
        "error_model",
        "usage",
        "input_tokens",
        "output_tokens",
        "cost_usd",
        "calc.py",
        "../x",
        "/etc/x",
    ];

    fn check(text: &str) {
        match parse_scenario(text, Path::new("scenario.yaml")) {
            Ok(s) => {
                for stage in ["plan", "implement", "fix", "review"] {
                    for n in 0..3 {
                        for step in [s.step(stage, None, n), s.step(stage, Some("W001"), n)] {
                            for p in step.iter().flat_map(|st| st.files.keys().chain(&st.delete)) {
                                assert!(is_safe_relative(p), "unsafe path accepted: {p:?}");
                            }
                        }
                    }
                }
            }
            Err(e) => assert!(!e.to_string().contains('\n'), "{e}"),
        }
    }

    fn demo_value() -> serde_json::Value {
        yaml_serde::from_str(DEMO_SCENARIO).unwrap_or_default()
    }

    proptest! {
        #![proptest_config(config(200))]

        #[test]
        fn the_demo_with_values_replaced_never_panics(doc in replace_some(demo_value(), KEYS)) {
            check(&to_yaml(&doc));
        }

        #[test]
        fn vocabulary_documents_never_panic(doc in json_value(KEYS, KEYS, 4)) {
            check(&to_yaml(&doc));
        }

        #[test]
        fn damaged_or_arbitrary_text_never_panics(
            text in prop_oneof![mutated(DEMO_SCENARIO), any::<String>()]
        ) {
            check(&text);
        }
    }
}
