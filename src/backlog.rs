//! The backlog: the list of work items the decompose stage produces, and the checks that make
//! it safe to execute.
//!
//! An agent's reply is free text, so [`parse_backlog`] looks for the YAML in the last ```yaml
//! fenced block (falling back to the whole reply), accepts both `items: [...]` and a bare list,
//! and tolerates the small liberties agents take (numeric ids, `depends_on: W001` instead of a
//! list, empty keys). [`validate`] then enforces what the runner relies on: at least one item,
//! unique ids that are safe in file names, known dependencies and no cycles. Every error is a
//! single sentence because it is fed back to the agent as retry feedback and shown to users
//! as is. [`topo_order`] gives the execution order; [`to_yaml`] writes `context/backlog.yaml`
//! in a form [`parse_backlog`] reads back unchanged.

use serde::{Deserialize, Deserializer, Serialize};
use std::collections::{HashMap, HashSet};

use crate::text::fences::fenced_blocks;
use crate::text::serde_errors::{parse_unknown_field, split_location, split_path};
use crate::text::{did_you_mean, one_line};

/// One unit of work: implemented, gated and committed on its own.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Item {
    #[serde(deserialize_with = "id_string")]
    pub id: String,
    pub title: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub objective: String,
    #[serde(default, deserialize_with = "acceptance_list")]
    pub acceptance: Vec<String>,
    #[serde(default, deserialize_with = "files_hint_list")]
    pub files_hint: Vec<String>,
    #[serde(default, deserialize_with = "depends_on_list")]
    pub depends_on: Vec<String>,
}

/// The whole backlog, in the order the agent declared it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Backlog {
    #[serde(default, deserialize_with = "null_as_default")]
    pub items: Vec<Item>,
}

/// The keys an item may carry, for "did you mean" hints.
const ITEM_KEYS: &[&str] = &[
    "id",
    "title",
    "objective",
    "acceptance",
    "files_hint",
    "depends_on",
];

/// Longest id accepted: ids end up in file names and branch-like labels.
const MAX_ID_LEN: usize = 64;

/// Agent output → backlog. Accepts the YAML as the whole text, or inside the LAST ```yaml /
/// ```yml fenced block of a longer reply. Top level is `items: [...]` (a bare list of items is
/// accepted too). Does not validate: call [`validate`] next.
pub fn parse_backlog(text: &str) -> Result<Backlog, String> {
    find_and_parse(text).map_err(|e| one_line(&e))
}

fn find_and_parse(text: &str) -> Result<Backlog, String> {
    let blocks = fenced_blocks(text);
    let yaml_block = blocks
        .iter()
        .rev()
        .find(|b| matches!(b.lang.as_str(), "yaml" | "yml"));
    if let Some(block) = yaml_block {
        return parse_yaml(&block.body, "the last ```yaml block");
    }
    // No labelled block: the whole reply may be YAML; if not, try the last unlabelled block.
    let whole = parse_yaml(text, "the reply");
    if whole.is_ok() {
        return whole;
    }
    if let Some(block) = blocks.iter().rev().find(|b| b.lang.is_empty()) {
        if let Ok(b) = parse_yaml(&block.body, "the last fenced block") {
            return Ok(b);
        }
    }
    whole
}

/// Parse one YAML document that should hold the backlog; `source` names it in errors.
fn parse_yaml(yaml: &str, source: &str) -> Result<Backlog, String> {
    if let Some((line, col)) = crate::config::depth::too_deep(yaml) {
        return Err(format!(
            "{source} nests deeper than {} levels (line {line}, column {col}); a backlog is a flat list of items",
            crate::config::depth::MAX_DEPTH
        ));
    }
    let shape: yaml_serde::Value = match yaml_serde::from_str(yaml) {
        Ok(v) => v,
        Err(e) => return Err(describe_yaml_error(&e, source)),
    };
    match shape {
        yaml_serde::Value::Null => Err(format!(
            "{source} is empty; expected a YAML mapping with an `items:` list"
        )),
        yaml_serde::Value::Sequence(_) => yaml_serde::from_str::<Vec<Item>>(yaml)
            .map(|items| Backlog { items })
            .map_err(|e| describe_yaml_error(&e, source)),
        yaml_serde::Value::Mapping(m) => {
            if !m.contains_key("items") {
                let keys: Vec<String> = m
                    .keys()
                    .filter_map(|k| k.as_str().map(|s| format!("`{s}`")))
                    .collect();
                return Err(format!(
                    "{source} has no top-level `items:` list (found keys: {}); put the work items under `items:`",
                    if keys.is_empty() { "none".to_string() } else { keys.join(", ") }
                ));
            }
            yaml_serde::from_str::<Backlog>(yaml).map_err(|e| describe_yaml_error(&e, source))
        }
        _ => Err(format!(
            "{source} is not a YAML backlog; expected a ```yaml block with a top-level `items:` list"
        )),
    }
}

/// Rephrase a YAML error (`items[1]: unknown field ... at line 7 column 5`) as one sentence
/// about the backlog item, with a did-you-mean for misspelt keys.
fn describe_yaml_error(e: &yaml_serde::Error, source: &str) -> String {
    let raw = e.to_string();
    let (mut msg, at) = split_location(&raw, e.location().map(|l| (l.line(), l.column())));
    let mut subject = source.to_string();
    if let Some((path, rest)) = split_path(&msg) {
        subject = describe_path(&path);
        msg = rest;
    }
    let msg = match parse_unknown_field(&msg) {
        Some((field, _)) => {
            let hint = did_you_mean(&field, ITEM_KEYS.iter().copied())
                .map(|s| format!("did you mean `{s}`? "))
                .unwrap_or_default();
            format!(
                "has an unknown key `{field}`{at}; {hint}allowed keys are {}",
                ITEM_KEYS.join(", ")
            )
        }
        None => format!(
            "is invalid{at}: {}",
            msg.replace("struct Item", "a mapping with at least `id` and `title`")
        ),
    };
    format!("{subject} {msg}")
}

/// `items[1].depends_on[0]` or `[1].title` → "backlog item 2 (key `depends_on`)".
fn describe_path(path: &str) -> String {
    let rest = path
        .strip_prefix("items")
        .unwrap_or(path)
        .trim_start_matches('.');
    if let Some(after) = rest.strip_prefix('[') {
        if let Some(end) = after.find(']') {
            if let Ok(i) = after[..end].parse::<usize>() {
                let tail = after[end + 1..].trim_start_matches('.');
                return if tail.is_empty() {
                    format!("backlog item {}", i + 1)
                } else {
                    format!("backlog item {} (key `{tail}`)", i + 1)
                };
            }
        }
    }
    format!("backlog key `{path}`")
}

/// unique non-empty ids, every depends_on names a known id (did-you-mean), no self-dependency,
/// no cycles (reported as "W001 → W002 → W001"), at least one item.
pub fn validate(b: &Backlog) -> Result<(), String> {
    check(b).map_err(|e| one_line(&e))
}

fn check(b: &Backlog) -> Result<(), String> {
    if b.items.is_empty() {
        return Err("the backlog has no items; list at least one work item under `items:`".into());
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, item) in b.items.iter().enumerate() {
        let n = i + 1;
        check_id(n, &item.id)?;
        if let Some(first) = seen.insert(item.id.as_str(), n) {
            return Err(format!(
                "backlog items {first} and {n} both have id {}; give every item a unique id",
                item.id
            ));
        }
        if item.title.trim().is_empty() {
            return Err(format!(
                "backlog item {n} ({}) has an empty title; give it a short title",
                item.id
            ));
        }
    }
    let known: Vec<&str> = b.items.iter().map(|it| it.id.as_str()).collect();
    for (i, item) in b.items.iter().enumerate() {
        for dep in &item.depends_on {
            if *dep == item.id {
                return Err(format!(
                    "backlog item {} ({}) depends on itself; remove {} from its depends_on",
                    i + 1,
                    item.id,
                    dep
                ));
            }
            if !seen.contains_key(dep.as_str()) {
                let hint = did_you_mean(dep, known.iter().copied())
                    .map(|s| format!(" (did you mean {s}?)"))
                    .unwrap_or_default();
                return Err(format!(
                    "backlog item {} ({}) depends on unknown item {dep}{hint}; known ids: {}",
                    i + 1,
                    item.id,
                    list_ids(&known)
                ));
            }
        }
    }
    if let Some(cycle) = find_cycle(b) {
        return Err(format!(
            "the backlog has a dependency cycle {}; remove one of these depends_on entries",
            cycle.join(" → ")
        ));
    }
    Ok(())
}

/// Ids become parts of file names (`prompts/implement_<id>_<n>.md`), so keep them tame.
fn check_id(n: usize, id: &str) -> Result<(), String> {
    if id.trim().is_empty() {
        return Err(format!(
            "backlog item {n} has an empty id; give every item an id such as W{n:03}"
        ));
    }
    let ok_chars = id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if !ok_chars || id.starts_with('.') || id.len() > MAX_ID_LEN {
        return Err(format!(
            "backlog item {n} has id `{id}`, but ids may only use letters, digits, `-`, `_` and `.` (not first), at most {MAX_ID_LEN} characters; use an id such as W{n:03}"
        ));
    }
    // An id becomes file names, JSON keys, commit trailers and metrics labels, which are not
    // all redacted: one that looks like a credential is refused (and not quoted).
    if let Some(f) = crate::guard::secrets::find(id).first() {
        return Err(format!(
            "backlog item {n} has an id that looks like a secret ({}); use an id such as W{n:03}",
            f.kind
        ));
    }
    Ok(())
}

/// "W001, W002, ..." capped so a huge backlog does not produce a huge sentence.
fn list_ids(ids: &[&str]) -> String {
    const MAX: usize = 20;
    if ids.len() <= MAX {
        ids.join(", ")
    } else {
        format!("{} and {} more", ids[..MAX].join(", "), ids.len() - MAX)
    }
}

/// Depth-first search in declaration order; returns the first cycle found as a closed path.
fn find_cycle(b: &Backlog) -> Option<Vec<String>> {
    let index: HashMap<&str, usize> = b
        .items
        .iter()
        .enumerate()
        .map(|(i, it)| (it.id.as_str(), i))
        .collect();
    // 0 = unvisited, 1 = on the current path, 2 = done.
    let mut color = vec![0u8; b.items.len()];
    for start in 0..b.items.len() {
        if color[start] != 0 {
            continue;
        }
        // Iterative DFS: (node, next dependency to look at).
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        color[start] = 1;
        while let Some(top) = stack.last_mut() {
            let node = top.0;
            let deps = &b.items[node].depends_on;
            if top.1 >= deps.len() {
                color[node] = 2;
                stack.pop();
                continue;
            }
            let dep = &deps[top.1];
            top.1 += 1;
            let Some(&d) = index.get(dep.as_str()) else {
                continue;
            };
            match color[d] {
                0 => {
                    color[d] = 1;
                    stack.push((d, 0));
                }
                1 => {
                    let from = stack.iter().position(|&(n, _)| n == d).unwrap_or(0);
                    let mut path: Vec<String> = stack[from..]
                        .iter()
                        .map(|&(n, _)| b.items[n].id.clone())
                        .collect();
                    path.push(b.items[d].id.clone());
                    return Some(path);
                }
                _ => {}
            }
        }
    }
    None
}

/// Dependency order as indices into `b.items`, stable: among ready items, declaration order
/// wins. Unknown dependencies are ignored and items caught in a cycle come last in
/// declaration order, so this never loops or panics on an unvalidated backlog.
pub fn topo_order(b: &Backlog) -> Vec<usize> {
    let index: HashMap<&str, usize> = b
        .items
        .iter()
        .enumerate()
        .map(|(i, it)| (it.id.as_str(), i))
        .collect();
    let deps: Vec<HashSet<usize>> = b
        .items
        .iter()
        .enumerate()
        .map(|(i, it)| {
            it.depends_on
                .iter()
                .filter_map(|d| index.get(d.as_str()).copied())
                .filter(|&d| d != i)
                .collect()
        })
        .collect();
    let mut done = vec![false; b.items.len()];
    let mut order = Vec::with_capacity(b.items.len());
    loop {
        let ready = (0..b.items.len()).find(|&i| !done[i] && deps[i].iter().all(|&d| done[d]));
        match ready {
            Some(i) => {
                done[i] = true;
                order.push(i);
            }
            None => break,
        }
    }
    order.extend((0..b.items.len()).filter(|&i| !done[i]));
    order
}

/// What orx writes to `context/backlog.yaml`; `parse_backlog(&to_yaml(b)) == Ok(b.clone())`.
pub fn to_yaml(b: &Backlog) -> String {
    match yaml_serde::to_string(b) {
        Ok(s) => s,
        // Serialising plain strings and lists cannot fail; if it ever did, JSON is valid YAML
        // and serde_json cannot fail on this shape either.
        Err(_) => serde_json::to_string_pretty(b).unwrap_or_default(),
    }
}

/// `id: W001` or `id: 1` (agents number items) → "W001" / "1".
fn id_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        S(String),
        U(u64),
        I(i64),
    }
    match Id::deserialize(d) {
        Ok(Id::S(s)) => Ok(s.trim().to_string()),
        Ok(Id::U(n)) => Ok(n.to_string()),
        Ok(Id::I(n)) => Ok(n.to_string()),
        Err(_) => Err(serde::de::Error::custom(
            "`id` must be a string such as W001",
        )),
    }
}

/// A key written with no value (`objective:`) means "empty", not a type error.
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn acceptance_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    string_or_list(d, "acceptance")
}

fn files_hint_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    string_or_list(d, "files_hint")
}

fn depends_on_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    string_or_list(d, "depends_on")
}

/// `depends_on: W001` or `[W001, 2]` or nothing → a list of strings; `key` names the field in
/// the error because a custom error loses yaml_serde's key path.
fn string_or_list<'de, D: Deserializer<'de>>(d: D, key: &str) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        S(String),
        U(u64),
        I(i64),
        F(f64),
        B(bool),
    }
    impl Scalar {
        fn into_string(self) -> String {
            match self {
                Scalar::S(s) => s,
                Scalar::U(n) => n.to_string(),
                Scalar::I(n) => n.to_string(),
                Scalar::F(n) => n.to_string(),
                Scalar::B(b) => b.to_string(),
            }
        }
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrList {
        Null(()),
        One(Scalar),
        List(Vec<Scalar>),
    }
    match OneOrList::deserialize(d) {
        Ok(OneOrList::Null(())) => Ok(Vec::new()),
        Ok(OneOrList::One(s)) => Ok(vec![s.into_string()]),
        Ok(OneOrList::List(v)) => Ok(v.into_iter().map(Scalar::into_string).collect()),
        Err(_) => Err(serde::de::Error::custom(format!(
            "`{key}` must be a list of strings"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, deps: &[&str]) -> Item {
        Item {
            id: id.into(),
            title: format!("do {id}"),
            objective: String::new(),
            acceptance: vec![],
            files_hint: vec![],
            depends_on: deps.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn backlog(items: &[(&str, &[&str])]) -> Backlog {
        Backlog {
            items: items.iter().map(|(id, d)| item(id, d)).collect(),
        }
    }

    const REPLY: &str = r#"I looked at the repository and split the task into two items.

Here is a first draft:

```yaml
items:
  - id: X1
    title: draft
```

On reflection, this is better:

```yaml
items:
  - id: W001
    title: Add add(a, b)
    objective: |
      Create calc/ops.py with add(a, b).
      Cover it with unit tests.
    acceptance:
      - "add(2, 3) == 5"
      - tests pass
    files_hint: [calc/ops.py, tests/test_ops.py]
  - id: W002
    title: Add mul(a, b)
    objective: Multiply two numbers.
    depends_on: [W001]
```

Let me know if you want changes.
"#;

    #[test]
    fn parses_the_last_yaml_block_of_a_reply() {
        let b = parse_backlog(REPLY).unwrap();
        assert_eq!(b.items.len(), 2);
        assert_eq!(b.items[0].id, "W001");
        assert_eq!(
            b.items[0].objective,
            "Create calc/ops.py with add(a, b).\nCover it with unit tests.\n"
        );
        assert_eq!(b.items[0].acceptance, vec!["add(2, 3) == 5", "tests pass"]);
        assert_eq!(
            b.items[0].files_hint,
            vec!["calc/ops.py", "tests/test_ops.py"]
        );
        assert_eq!(b.items[1].depends_on, vec!["W001"]);
        validate(&b).unwrap();
    }

    /// The id of the first item of the backlog parsed from `text`.
    fn first_id(text: &str) -> String {
        parse_backlog(text).unwrap().items[0].id.clone()
    }

    #[test]
    fn yml_label_and_tilde_fences_and_indented_fences_count() {
        assert_eq!(first_id("x\n~~~yml\n- id: A\n  title: a\n~~~\n"), "A");
        assert_eq!(
            first_id("x\n  ```YAML\n  items:\n    - {id: B, title: b}\n  ```\n"),
            "B"
        );
    }

    #[test]
    fn whole_text_yaml_and_bare_list_are_accepted() {
        let b = parse_backlog("items:\n  - id: W001\n    title: one\n").unwrap();
        assert_eq!(b, backlog(&[("W001", &[])]).with_title(0, "one"));
        let b = parse_backlog("- id: W001\n  title: one\n- id: W002\n  title: two\n").unwrap();
        assert_eq!(b.items.len(), 2);
    }

    impl Backlog {
        fn with_title(mut self, i: usize, t: &str) -> Backlog {
            self.items[i].title = t.into();
            self
        }
    }

    #[test]
    fn unlabelled_block_is_a_fallback_only_when_no_yaml_block_exists() {
        assert_eq!(
            first_id("Plan:\n```\nitems:\n  - id: A1\n    title: t\n```\n"),
            "A1"
        );
        // a labelled block wins over a later unlabelled one
        assert_eq!(
            first_id("```yaml\n- {id: Y, title: y}\n```\n```\n- {id: Z, title: z}\n```\n"),
            "Y"
        );
    }

    #[test]
    fn unclosed_block_runs_to_the_end() {
        assert_eq!(
            first_id("Here:\n```yaml\nitems:\n  - id: W1\n    title: t\n"),
            "W1"
        );
    }

    #[test]
    fn lenient_shapes_agents_produce() {
        let text = "items:\n  - id: 1\n    title: one\n    objective:\n    acceptance: works\n  - id: 2\n    title: two\n    depends_on: 1\n    files_hint:\n";
        let b = parse_backlog(text).unwrap();
        assert_eq!(b.items[0].id, "1");
        assert_eq!(b.items[0].objective, "");
        assert_eq!(b.items[0].acceptance, vec!["works"]);
        assert_eq!(b.items[1].depends_on, vec!["1"]);
        assert!(b.items[1].files_hint.is_empty());
        validate(&b).unwrap();
    }

    #[test]
    fn unknown_key_names_the_item_line_and_suggestion() {
        let text = "items:\n  - id: W001\n    title: a\n  - id: W002\n    tittle: b\n";
        let e = parse_backlog(text).unwrap_err();
        assert_eq!(
            e,
            "backlog item 2 has an unknown key `tittle` (line 5, column 5); did you mean `title`? allowed keys are id, title, objective, acceptance, files_hint, depends_on"
        );
    }

    #[test]
    fn parse_errors_are_single_sentences() {
        let cases = [
            ("", "the reply is empty"),
            ("just prose, no yaml here", "is not a YAML backlog"),
            (
                "tasks:\n  - id: A\n",
                "has no top-level `items:` list (found keys: `tasks`)",
            ),
            (
                "items:\n  - title: no id\n",
                "backlog item 1 is invalid (line 2, column 5): missing field `id`",
            ),
            (
                "items:\n  - id: A\n    title: [1, 2]\n",
                "backlog item 1 (key `title`) is invalid",
            ),
            (
                "items:\n  - id: [A]\n    title: t\n",
                "`id` must be a string such as W001",
            ),
            (
                "items:\n  - id: A\n    title: t\n    depends_on: {a: 1}\n",
                "(line 2, column 5): `depends_on` must be a list of strings",
            ),
            (
                "items:\n  - 3\n",
                "expected a mapping with at least `id` and `title`",
            ),
            (
                "- id: A\n  title: t\n  bogus: 1\n",
                "backlog item 1 has an unknown key `bogus` (line 3, column 3); allowed",
            ),
            ("items: [\n", "the reply is invalid"),
            (
                "```yaml\nitems:\n\t- bad\n```",
                "the last ```yaml block is invalid",
            ),
        ];
        for (text, want) in cases {
            let e = parse_backlog(text).unwrap_err();
            assert!(e.contains(want), "{text:?}: {e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn validate_accepts_a_good_backlog() {
        validate(&backlog(&[
            ("W001", &[]),
            ("W002", &["W001"]),
            ("W003", &["W001", "W002"]),
        ]))
        .unwrap();
    }

    #[test]
    fn validate_errors() {
        let cases: Vec<(Backlog, &str)> = vec![
            (backlog(&[]), "the backlog has no items; list at least one work item under `items:`"),
            (backlog(&[("", &[])]), "backlog item 1 has an empty id; give every item an id such as W001"),
            (
                backlog(&[("W001", &[]), ("W001", &[])]),
                "backlog items 1 and 2 both have id W001; give every item a unique id",
            ),
            (
                backlog(&[("W001", &[]), ("W002", &["W009"])]),
                "backlog item 2 (W002) depends on unknown item W009; known ids: W001, W002",
            ),
            (
                backlog(&[("W001", &[]), ("W002", &["w001"])]),
                "backlog item 2 (W002) depends on unknown item w001 (did you mean W001?); known ids: W001, W002",
            ),
            (
                backlog(&[("W001", &[]), ("setup-db", &[]), ("W003", &["setup_db"])]),
                "backlog item 3 (W003) depends on unknown item setup_db (did you mean setup-db?); known ids: W001, setup-db, W003",
            ),
            (
                backlog(&[("W001", &["W001"])]),
                "backlog item 1 (W001) depends on itself; remove W001 from its depends_on",
            ),
            (
                backlog(&[("W001", &["W002"]), ("W002", &["W001"])]),
                "the backlog has a dependency cycle W001 → W002 → W001; remove one of these depends_on entries",
            ),
            (
                backlog(&[("A", &[]), ("B", &["D"]), ("C", &["B"]), ("D", &["C"])]),
                "the backlog has a dependency cycle B → D → C → B; remove one of these depends_on entries",
            ),
        ];
        for (b, want) in cases {
            assert_eq!(validate(&b).unwrap_err(), want);
        }
        let mut b = backlog(&[("W001", &[])]);
        b.items[0].title = "  ".into();
        assert!(validate(&b).unwrap_err().contains("empty title"));
        for bad in ["../etc", "a/b", ".hidden", "has space", &"x".repeat(65)] {
            let e = validate(&backlog(&[(bad, &[])])).unwrap_err();
            assert!(e.contains("ids may only use"), "{bad}: {e}");
        }
    }

    #[test]
    fn errors_quoting_line_breaks_stay_on_one_line() {
        let e = validate(&backlog(&[("a\nb", &[])])).unwrap_err();
        assert!(e.contains("`a\\nb`"), "{e}");
        let e = parse_backlog("items:\n  - id: A\n    title: t\n    ? \"x\\ny\"\n    : 1\n")
            .unwrap_err();
        assert!(e.contains("unknown key `x\\ny`"), "{e}");
    }

    #[test]
    fn known_ids_list_is_capped() {
        let ids: Vec<String> = (1..=30).map(|i| format!("W{i:03}")).collect();
        let mut items: Vec<(&str, &[&str])> = ids.iter().map(|s| (s.as_str(), &[][..])).collect();
        items.push(("X", &["nope"]));
        let e = validate(&backlog(&items)).unwrap_err();
        assert!(e.ends_with("W020 and 11 more"), "{e}");
    }

    #[test]
    fn topo_order_is_stable_and_respects_dependencies() {
        // declared: C depends on B, A free, B free → A, B, C
        let b = backlog(&[("C", &["B"]), ("A", &[]), ("B", &[])]);
        assert_eq!(topo_order(&b), vec![1, 2, 0]);
        // diamond: declaration order among ready items
        let b = backlog(&[("A", &[]), ("D", &["B", "C"]), ("C", &["A"]), ("B", &["A"])]);
        assert_eq!(topo_order(&b), vec![0, 2, 3, 1]);
        // no deps: identity
        let b = backlog(&[("X", &[]), ("Y", &[]), ("Z", &[])]);
        assert_eq!(topo_order(&b), vec![0, 1, 2]);
        // an item becomes ready as soon as its deps are done, even if declared earlier
        let b = backlog(&[("A", &[]), ("B", &["C"]), ("C", &["A"]), ("D", &[])]);
        assert_eq!(topo_order(&b), vec![0, 2, 1, 3]);
    }

    #[test]
    fn topo_order_survives_invalid_backlogs() {
        let b = backlog(&[("A", &["B"]), ("B", &["A"]), ("C", &["nope", "C"])]);
        assert_eq!(topo_order(&b), vec![2, 0, 1]);
        assert!(topo_order(&backlog(&[])).is_empty());
    }

    #[test]
    fn to_yaml_round_trips_awkward_strings() {
        let awkward = [
            "",
            "yes",
            "no",
            "1.0",
            "007",
            "null",
            "~",
            "- dash",
            "# hash",
            "a: b",
            "  lead",
            "trail  ",
            "multi\nline\n",
            "multi\nno newline",
            "tab\there",
            "quote ' \" both",
            "ünïcödé → ✓",
            "{flow}",
            "[list]",
            "*alias",
            "&anchor",
            "!tag",
            "%percent",
            "@at",
            "`tick`",
            "```yaml\nnested fence\n```",
            "\n\nleading newlines",
            "trailing\n\n\n",
        ];
        let mut items = Vec::new();
        for (i, s) in awkward.iter().enumerate() {
            items.push(Item {
                id: format!("W{i:03}"),
                title: format!("t{s}"),
                objective: s.to_string(),
                acceptance: vec![s.to_string(), "ok".into()],
                files_hint: vec![s.to_string()],
                depends_on: if i > 0 {
                    vec![format!("W{:03}", i - 1)]
                } else {
                    vec![]
                },
            });
        }
        let b = Backlog { items };
        let y = to_yaml(&b);
        assert_eq!(parse_backlog(&y).unwrap(), b, "{y}");
        // numeric-looking ids survive as strings
        let b = backlog(&[("001", &[]), ("2", &["001"])]);
        assert_eq!(parse_backlog(&to_yaml(&b)).unwrap(), b);
    }

    #[test]
    fn garbage_never_panics() {
        let seeds = [
            REPLY,
            "items:\n  - id: A\n    depends_on: [A, B]\n",
            "```yaml\n- {id: x}\n```",
        ];
        let mut rng = 0x9e3779b97f4a7c15u64;
        let noise = [
            "\n", ":", "-", "```", "[", "{", "'", "\"", "\t", "&a", "*a", "!!", "→", "\0", "  ",
        ];
        for seed in seeds {
            for i in 0..150 {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let mut s: Vec<char> = seed.chars().collect();
                let pos = (rng as usize) % (s.len() + 1);
                let cut = (rng >> 20) as usize % 5;
                let ins = noise[(rng >> 32) as usize % noise.len()];
                s.splice(pos..(pos + cut).min(s.len()), ins.chars());
                let text: String = s.into_iter().collect();
                if let Ok(b) = parse_backlog(&text) {
                    let _ = validate(&b);
                    let _ = topo_order(&b);
                    let _ = to_yaml(&b);
                } else if i % 7 == 0 {
                    assert!(!parse_backlog(&text).unwrap_err().is_empty());
                }
            }
        }
    }
}

/// Hostile input: whatever a decompose reply holds, parsing, validation and ordering
/// never panic and errors are one line; a backlog that validates survives the round trip
/// through `context/backlog.yaml` unchanged, whatever its strings contain.
#[cfg(test)]
mod hostile {
    use super::*;
    use crate::hostile_input::{config, json_value, mutated, to_yaml as value_yaml};
    use proptest::prelude::*;

    const REPLY: &str = "Here is the backlog.\n\n```yaml\nitems:\n  - id: W001\n    title: Add\n    objective: Add add()\n    acceptance: [it adds]\n    files_hint: [calc.py]\n    depends_on: []\n  - id: W002\n    title: Mul\n    objective: Add mul()\n    acceptance: it multiplies\n    depends_on: W001\n```\n";
    const KEYS: &[&str] = &[
        "items",
        "id",
        "title",
        "objective",
        "acceptance",
        "files_hint",
        "depends_on",
        "W001",
        "W002",
        "W003",
        "1",
        "yaml",
    ];

    fn check(text: &str) {
        match parse_backlog(text) {
            Ok(b) => match validate(&b) {
                Ok(()) => {
                    let order = topo_order(&b);
                    let mut seen = order.clone();
                    seen.sort_unstable();
                    assert_eq!(seen, (0..b.items.len()).collect::<Vec<_>>());
                    assert_eq!(parse_backlog(&to_yaml(&b)), Ok(b));
                }
                Err(e) => assert!(!e.contains('\n'), "{e}"),
            },
            Err(e) => assert!(!e.contains('\n'), "{e}"),
        }
    }

    fn text() -> BoxedStrategy<String> {
        prop_oneof![any::<String>(), "[ -~\n]{0,40}"].boxed()
    }

    fn item() -> impl Strategy<Value = Item> {
        (
            prop_oneof!["W00[1-4]", text()],
            text(),
            text(),
            proptest::collection::vec(text(), 0..3),
            proptest::collection::vec(text(), 0..3),
            proptest::collection::vec("W00[1-4]", 0..3),
        )
            .prop_map(
                |(id, title, objective, acceptance, files_hint, depends_on)| Item {
                    id,
                    title,
                    objective,
                    acceptance,
                    files_hint,
                    depends_on,
                },
            )
    }

    proptest! {
        #![proptest_config(config(200))]

        #[test]
        fn any_backlog_round_trips_or_is_refused_in_one_line(
            items in proptest::collection::vec(item(), 0..5)
        ) {
            let b = Backlog { items };
            check(&to_yaml(&b));
            check(&format!("Done.\n\n```yaml\n{}```\n", to_yaml(&b)));
        }

        #[test]
        fn replies_never_panic(
            reply in prop_oneof![
                mutated(REPLY),
                json_value(KEYS, KEYS, 4).prop_map(|v| format!("```yaml\n{}```\n", value_yaml(&v))),
                any::<String>(),
            ]
        ) {
            check(&reply);
        }
    }

    #[test]
    fn an_item_id_that_looks_like_a_secret_is_refused_unquoted() {
        let key = format!("AKIA{}", "Q7R2ZK4M9XW3TB6P");
        let text = format!("items:\n  - id: {key}\n    title: t\n");
        let e = validate(&parse_backlog(&text).unwrap()).unwrap_err();
        assert!(
            e.contains("looks like a secret") && !e.contains(&key),
            "{e}"
        );
        let fine = parse_backlog("items:\n  - id: W001.a-b_c\n    title: t\n").unwrap();
        assert!(validate(&fine).is_ok());
    }
}
