//! Small, forgiving accessors over `serde_json::Value` for the stream parsers.
//!
//! The CLIs add and rename fields between releases, so the parsers read their lines as loose
//! JSON values rather than strict structs: a missing or retyped field reads as `None` or 0 and
//! the line still counts, instead of failing to deserialize and being dropped whole. A parser
//! may read its bulk lines through a typed, borrowing shape first (`JsonLines::typed`: each
//! CLI's messages, reasoning and, where they are frequent, tool lines), but only as a shortcut:
//! a line that does not fit that shape comes back here.

use serde_json::Value;

/// The text of a line that may hold a JSON object: trimmed, starting with `{`.
pub fn object_text(line: &str) -> Option<&str> {
    Some(line.trim()).filter(|t| t.starts_with('{'))
}

/// Parse one stream line; `None` for blank lines and anything that is not a JSON object.
pub fn parse_line(line: &str) -> Option<Value> {
    let t = object_text(line)?;
    serde_json::from_str::<Value>(t)
        .ok()
        .filter(|v| v.is_object())
}

/// [`parse_line`], counting a non-blank line that is not a JSON object in `unparsed` (so an
/// outcome can say how much of a stream was not protocol).
pub fn parse_counted(line: &str, unparsed: &mut u64) -> Option<Value> {
    let v = parse_line(line);
    if v.is_none() && !line.trim().is_empty() {
        *unparsed += 1;
    }
    v
}

/// The value at a dotted path (`"message.usage.input_tokens"`).
pub fn at<'v>(v: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(v, |cur, key| cur.get(key))
}

pub fn str_at<'v>(v: &'v Value, path: &str) -> Option<&'v str> {
    at(v, path).and_then(Value::as_str)
}

pub fn string_at(v: &Value, path: &str) -> Option<String> {
    str_at(v, path).map(str::to_string)
}

pub fn u64_at(v: &Value, path: &str) -> u64 {
    at(v, path)
        .and_then(|x| x.as_u64().or_else(|| x.as_f64().map(|f| f.max(0.0) as u64)))
        .unwrap_or(0)
}

pub fn f64_at(v: &Value, path: &str) -> Option<f64> {
    at(v, path).and_then(Value::as_f64)
}

pub fn bool_at(v: &Value, path: &str) -> bool {
    at(v, path).and_then(Value::as_bool).unwrap_or(false)
}

/// A value as short text for events: strings as they are, anything else as compact JSON,
/// cut to `max` characters.
pub fn compact(v: &Value, max: usize) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    cut_chars(s, max)
}

/// `s` cut to `max` characters, with `…` when something was cut; without a copy when nothing
/// was, and with one slice copy when something was (not a push per character: tool output
/// passes here on every result).
pub fn cut_chars(mut s: String, max: usize) -> String {
    if s.len() <= max {
        return s; // no more characters than bytes
    }
    // ASCII up to `max`: the character after the first `max` starts at byte `max`.
    let at = match s.as_bytes()[..max].is_ascii() {
        true => Some(max),
        false => s.char_indices().nth(max).map(|(at, _)| at),
    };
    if let Some(at) = at {
        s.truncate(at);
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_chars_counts_characters_not_bytes() {
        assert_eq!(cut_chars("abc".into(), 3), "abc");
        assert_eq!(cut_chars("abcd".into(), 3), "abc…");
        assert_eq!(cut_chars("ééé".into(), 3), "ééé");
        assert_eq!(cut_chars("éééé".into(), 3), "ééé…");
        assert_eq!(cut_chars("abcé".into(), 3), "abc…");
        assert_eq!(cut_chars("aébcd".into(), 3), "aéb…");
        assert_eq!(cut_chars(String::new(), 0), "");
        assert_eq!(cut_chars("a".into(), 0), "…");
        for s in [
            "x".repeat(50),
            "é".repeat(50),
            format!("{}é{}", "a".repeat(9), "b".repeat(9)),
        ] {
            for max in 0..60 {
                let old: String = if s.chars().count() > max {
                    s.chars().take(max).chain(['…']).collect()
                } else {
                    s.clone()
                };
                assert_eq!(cut_chars(s.clone(), max), old, "{s} {max}");
            }
        }
    }
}
