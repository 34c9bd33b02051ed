//! Proptest strategies for hostile input, shared by the no-panic properties of the loaders and
//! stream parsers (the cargo-fuzz targets in `fuzz/` explore the same
//! functions for longer, outside CI).
//!
//! Random bytes rarely get past a YAML or JSON parser, so most of what these strategies make is
//! structurally valid documents whose keys come from the real vocabulary (the config schema's
//! property names, the stream fields the parsers read) and whose values have random types and
//! extreme numbers: that is what reaches the code after deserialisation, where a panic would
//! hide. The rest is mutations of the real fixtures (cut at any character, lines dropped or
//! repeated) and plain arbitrary text.

use proptest::prelude::*;
use serde_json::{Map, Number, Value};

/// Strings a value may take: vocabulary words, edge cases and arbitrary text.
fn leaf_string(words: &'static [&'static str]) -> BoxedStrategy<String> {
    prop_oneof![
        4 => proptest::sample::select(words).prop_map(str::to_string),
        2 => proptest::sample::select(EDGE_STRINGS).prop_map(str::to_string),
        2 => any::<String>(),
    ]
    .boxed()
}

const EDGE_STRINGS: &[&str] = &[
    "",
    " ",
    "~",
    "null",
    "true",
    "no",
    "0",
    "-1",
    "1e999",
    "${HOME}",
    "${",
    "$${X}",
    "../../etc/passwd",
    "/abs/path",
    "a/../../b",
    ".",
    "W001",
    "\u{0}",
    "\u{85}",
    "é€😀",
    "```yaml",
    "{",
    "- x",
    "key: value",
];

/// A JSON value whose object keys come from `keys` and whose strings mostly from `words`.
pub fn json_value(
    keys: &'static [&'static str],
    words: &'static [&'static str],
    depth: u32,
) -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| Value::Number(n.into())),
        any::<u64>().prop_map(|n| Value::Number(n.into())),
        proptest::sample::select(&[0.0, -0.5, 1.5, 1e308, -1e308, f64::MIN_POSITIVE][..])
            .prop_filter_map("finite", Number::from_f64)
            .prop_map(Value::Number),
        any::<f64>()
            .prop_filter_map("finite", Number::from_f64)
            .prop_map(Value::Number),
        leaf_string(words).prop_map(Value::String),
    ];
    leaf.prop_recursive(depth, 48, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::vec(
                (
                    prop_oneof![
                        9 => proptest::sample::select(keys).prop_map(str::to_string),
                        1 => any::<String>(),
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
    .boxed()
}

/// A JSON object with `type` (and often `subtype`) set from `types`, the rest from `keys`.
pub fn json_event(
    keys: &'static [&'static str],
    types: &'static [&'static str],
) -> BoxedStrategy<Value> {
    (
        proptest::sample::select(types),
        proptest::option::of(proptest::sample::select(types)),
        proptest::collection::vec(
            (proptest::sample::select(keys), json_value(keys, types, 3)),
            0..6,
        ),
    )
        .prop_map(|(ty, sub, kv)| {
            let mut m: Map<String, Value> =
                kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            m.insert("type".into(), Value::String(ty.into()));
            if let Some(s) = sub {
                m.insert("subtype".into(), Value::String(s.into()));
            }
            Value::Object(m)
        })
        .boxed()
}

/// `text` damaged the way a crashed writer or a confused agent damages it: cut at any
/// character, one line dropped, one line repeated, or bytes spliced in.
pub fn mutated(text: &'static str) -> BoxedStrategy<String> {
    let n_chars = text.chars().count().max(1);
    let n_lines = text.lines().count().max(1);
    prop_oneof![
        (0..n_chars).prop_map(move |i| text.chars().take(i).collect()),
        (0..n_lines).prop_map(move |i| {
            text.lines()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, l)| l)
                .collect::<Vec<_>>()
                .join("\n")
        }),
        (0..n_lines).prop_map(move |i| {
            let lines: Vec<&str> = text.lines().collect();
            let mut out = lines.clone();
            if let Some(l) = lines.get(i) {
                out.insert(i, l);
            }
            out.join("\n")
        }),
        (0..n_chars, any::<String>()).prop_map(move |(i, s)| {
            let at = text.char_indices().nth(i).map_or(text.len(), |(b, _)| b);
            format!("{}{s}{}", &text[..at], &text[at..])
        }),
    ]
    .boxed()
}

/// One stream line: mostly vocabulary JSON, sometimes a damaged fixture line or any text.
pub fn stream_line(
    keys: &'static [&'static str],
    types: &'static [&'static str],
    fixture: &'static str,
) -> BoxedStrategy<String> {
    prop_oneof![
        6 => json_event(keys, types).prop_map(|v| v.to_string()),
        3 => mutated(fixture),
        1 => any::<String>(),
    ]
    .boxed()
}

/// Every object key in a JSON schema's `properties`, at any depth (the config vocabulary).
pub fn schema_keys(schema: &Value) -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::Object(props)) = m.get("properties") {
                    out.extend(props.keys().cloned());
                }
                m.values().for_each(|x| walk(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(schema, &mut out);
    out.sort();
    out.dedup();
    out
}

/// A leaked slice, for building `'static` vocabularies once per test.
pub fn leak(words: Vec<String>) -> &'static [&'static str] {
    Box::leak(
        words
            .into_iter()
            .map(|w| &*Box::leak(w.into_boxed_str()))
            .collect::<Vec<_>>()
            .into_boxed_slice(),
    )
}

/// A JSON value as YAML text (flow or block style as yaml_serde writes it).
pub fn to_yaml(v: &Value) -> String {
    yaml_serde::to_string(v).unwrap_or_else(|_| v.to_string())
}

/// `base` with one to three of its values (at any depth) replaced by random ones: documents
/// that are right everywhere but one place, so they reach the checks after parsing.
pub fn replace_some(base: Value, keys: &'static [&'static str]) -> BoxedStrategy<Value> {
    fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => m.iter().for_each(|(k, x)| {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(p.clone());
                pointers(x, p, out);
            }),
            Value::Array(a) => a.iter().enumerate().for_each(|(i, x)| {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                pointers(x, p, out);
            }),
            _ => {}
        }
    }
    let mut ptrs = Vec::new();
    pointers(&base, String::new(), &mut ptrs);
    let ptrs = leak(ptrs);
    proptest::collection::vec(
        (proptest::sample::select(ptrs), json_value(keys, keys, 2)),
        1..4,
    )
    .prop_map(move |edits| {
        let mut doc = base.clone();
        for (ptr, value) in edits {
            if let Some(slot) = doc.pointer_mut(ptr) {
                *slot = value;
            }
        }
        doc
    })
    .boxed()
}

/// Cases per property: `PROPTEST_CASES` when set, else `default` (kept small for CI time).
pub fn config(default: u32) -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(default),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}
