//! Turns parse failures into orx's one-line config errors: `orx.yaml:4:3: message` + hint.
//!
//! yaml_serde already knows where and in which key a value failed (`gates[1].timeout: invalid
//! type: string "ten", expected u64 at line 6 column 14`), but says it in serde's vocabulary.
//! This module keeps the position and the key path and rewrites the rest into plain words
//! ("must be an unsigned integer, found the string "ten""), adds a did-you-mean for unknown
//! keys, and falls back to the original wording for anything it does not recognise, so no
//! detail is ever lost. The same formatting is used for interpolation and validation errors.

use std::path::Path;

use super::error::ConfigError;
use crate::text::did_you_mean;

/// A config error as `file:line:col: message`, with an optional hint.
pub fn config_error(
    file: &Path,
    position: Option<(usize, usize)>,
    message: &str,
    hint: Option<String>,
) -> ConfigError {
    let place = match position {
        Some((line, column)) => format!("{}:{line}:{column}", file.display()),
        None => file.display().to_string(),
    };
    // Keys and values are quoted from the file; escape control characters so the error stays
    // on one line whatever the input holds.
    let message: String = message
        .chars()
        .map(|c| match c {
            c if c.is_control() => c.escape_default().to_string(),
            c => c.to_string(),
        })
        .collect();
    ConfigError::Invalid {
        place,
        message,
        hint,
    }
}

/// A hint for an unknown name: a did-you-mean when one is close, else the list of valid names.
pub fn suggestion(word: &str, candidates: &[&str], what: &str) -> String {
    match did_you_mean(word, candidates.iter().copied()) {
        Some(close) => format!("did you mean `{close}`?"),
        None => format!("{what}: {}", candidates.join(", ")),
    }
}

/// Rewrites a yaml_serde error about `file` into an orx config error.
pub fn from_yaml(file: &Path, text: &str, err: &yaml_serde::Error) -> ConfigError {
    let position = err.location().map(|l| (l.line(), l.column()));
    let raw = strip_marks(&err.to_string());
    if raw.contains("more than one document") {
        let (position, message, hint) = second_document(text);
        return config_error(file, position, &message, Some(hint.to_string()));
    }
    let (message, hint) = rewrite(&raw);
    let hint = hint.or_else(|| tab_hint(text, position));
    config_error(file, position, &message, hint)
}

/// Removes yaml_serde's ` at line L column C` / ` at position N` fragments.
fn strip_marks(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find(" at ") {
        out.push_str(&rest[..at]);
        let tail = &rest[at + 4..];
        let skip = mark_len(tail);
        if skip == 0 {
            out.push_str(" at ");
        }
        rest = &tail[skip..];
    }
    out.push_str(rest);
    out
}

/// Length of a leading `line L column C` or `position N`, or 0.
fn mark_len(text: &str) -> usize {
    let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
    if let Some(after) = text.strip_prefix("line ") {
        let line = digits(after);
        if line > 0 {
            if let Some(col) = after[line..].strip_prefix(" column ") {
                let column = digits(col);
                if column > 0 {
                    return "line ".len() + line + " column ".len() + column;
                }
            }
        }
    } else if let Some(after) = text.strip_prefix("position ") {
        let n = digits(after);
        if n > 0 {
            return "position ".len() + n;
        }
    }
    0
}

/// Splits `path: message` into the key path and serde's message.
fn split_path(raw: &str) -> (&str, &str) {
    const STARTS: [&str; 8] = [
        "unknown field `",
        "invalid type: ",
        "invalid value: ",
        "missing field `",
        "duplicate field `",
        "invalid length ",
        "unknown variant `",
        "duplicate entry ",
    ];
    for start in STARTS {
        if raw.starts_with(start) {
            return ("", raw);
        }
        if let Some(at) = raw.find(&format!(": {start}")) {
            return (&raw[..at], &raw[at + 2..]);
        }
    }
    ("", raw)
}

fn rewrite(raw: &str) -> (String, Option<String>) {
    let (path, message) = split_path(raw);
    let place = if path.is_empty() {
        "the top level".to_string()
    } else {
        format!("`{path}`")
    };
    if let Some(rest) = message.strip_prefix("unknown field `") {
        if let Some((field, expected)) = rest.split_once('`') {
            let valid = backquoted(expected);
            let message = if path.is_empty() {
                format!("unknown top-level key `{field}`")
            } else {
                format!("unknown key `{field}` in `{path}`")
            };
            let hint = if valid.is_empty() {
                format!("{place} takes no keys")
            } else {
                suggestion(field, &valid, &format!("keys allowed in {place}"))
            };
            return (message, Some(hint));
        }
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let field = rest.trim_end_matches('`');
        let subject = if path.is_empty() {
            "the file".to_string()
        } else {
            place
        };
        return (
            format!("{subject} is missing the required key `{field}`"),
            None,
        );
    }
    if let Some(rest) = message.strip_prefix("duplicate field `") {
        let field = rest.trim_end_matches('`');
        return (
            format!("key `{field}` appears twice in {place}"),
            Some("keep one of them".to_string()),
        );
    }
    if let Some(rest) = message.strip_prefix("duplicate entry with key ") {
        return (
            format!("key {rest} appears twice in {place}"),
            Some("keep one of them".to_string()),
        );
    }
    for (prefix, invalid_value) in [("invalid type: ", false), ("invalid value: ", true)] {
        if let Some(rest) = message.strip_prefix(prefix) {
            if let Some((found, expected)) = rest.rsplit_once(", expected ") {
                if expected == "field identifier" {
                    return (
                        format!(
                            "keys in {place} must be plain names, found {}",
                            found_words(found)
                        ),
                        None,
                    );
                }
                return (wrong_type(path, found, expected, invalid_value), None);
            }
        }
    }
    if message == "unknown anchor" {
        return (
            "this alias (`*name`) refers to an anchor (`&name`) that is not defined before it"
                .to_string(),
            None,
        );
    }
    if message == "EOF while parsing a value" {
        return ("ends before a value was complete".to_string(), None);
    }
    if raw == message && !looks_like_serde(message) {
        return (
            format!("invalid YAML: {}", message.replace(", while", " while")),
            None,
        );
    }
    let message = if path.is_empty() {
        message.to_string()
    } else {
        format!("`{path}`: {message}")
    };
    (message, None)
}

fn looks_like_serde(message: &str) -> bool {
    message.starts_with("unknown ")
        || message.starts_with("invalid ")
        || message.contains("recursion limit")
        || message.contains("repetition limit")
}

/// `must be an unsigned integer, found the string "ten"`.
fn wrong_type(path: &str, found: &str, expected: &str, invalid_value: bool) -> String {
    let subject = if path.is_empty() {
        "the file".to_string()
    } else {
        format!("`{path}`")
    };
    let found_words = found_words(found);
    let (expected_words, max) = expected_words(expected);
    let too_large = invalid_value
        && max.is_some()
        && found.starts_with("integer `")
        && !found.starts_with("integer `-");
    match max {
        Some(max) if too_large => {
            format!(
                "{subject} must be an unsigned integer no larger than {max}, found {found_words}"
            )
        }
        _ => format!("{subject} must be {expected_words}, found {found_words}"),
    }
}

fn found_words(found: &str) -> String {
    let ticked = |prefix: &str| {
        found.strip_prefix(prefix).map(|rest| {
            rest.trim_start_matches('`')
                .trim_end_matches('`')
                .to_string()
        })
    };
    if let Some(s) = found.strip_prefix("string ") {
        return format!("the string {s}");
    }
    if let Some(n) = ticked("integer ") {
        return format!("the integer {n}");
    }
    if let Some(n) = ticked("floating point ") {
        return format!("the number {n}");
    }
    if let Some(b) = ticked("boolean ") {
        return format!("the boolean {b}");
    }
    match found {
        "sequence" => "a list".to_string(),
        "map" => "a mapping".to_string(),
        "unit value" => "an empty value (null)".to_string(),
        other => other.to_string(),
    }
}

/// Plain words for serde's `expected` text, and the maximum for unsigned integer types.
fn expected_words(expected: &str) -> (String, Option<u64>) {
    let max = match expected {
        "u8" => Some(u64::from(u8::MAX)),
        "u16" => Some(u64::from(u16::MAX)),
        "u32" => Some(u64::from(u32::MAX)),
        "u64" | "usize" => Some(u64::MAX),
        _ => None,
    };
    if max.is_some() {
        return ("an unsigned integer".to_string(), max);
    }
    let words = match expected {
        "i8" | "i16" | "i32" | "i64" | "isize" => "an integer",
        "f32" | "f64" => "a number",
        "a boolean" => "true or false",
        "a string" | "path string" | "a borrowed string" => "a string",
        "a sequence" => "a list",
        "a map" => "a mapping",
        other if other.starts_with("struct ") => "a mapping",
        other => return (other.to_string(), None),
    };
    (words.to_string(), None)
}

/// The names inside backquotes: "one of `a`, `b`" gives ["a", "b"].
fn backquoted(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// Where a second YAML document starts, and why. yaml_serde gives no position for this, and
/// besides a real `---` the usual cause is a first key indented deeper than the ones after it.
fn second_document(text: &str) -> (Option<(usize, usize)>, String, &'static str) {
    let mut first: Option<(usize, usize)> = None;
    for (index, line) in text.lines().enumerate() {
        let content = line.trim_start();
        let indent = line.chars().count() - content.chars().count();
        if content.is_empty() || content.starts_with('#') || content.starts_with('%') {
            continue;
        }
        if let Some(marker) = ["---", "..."].into_iter().find(|m| {
            content.starts_with(m) && content[3..].chars().next().is_none_or(char::is_whitespace)
        }) {
            if first.is_some() && indent == 0 {
                return (
                    Some((index + 1, 1)),
                    "a second YAML document starts here; orx reads one".to_string(),
                    if marker == "---" {
                        "remove this `---` line and merge the documents"
                    } else {
                        "remove this `...` line and what follows it"
                    },
                );
            }
            continue;
        }
        match first {
            None => first = Some((index + 1, indent)),
            Some((first_line, first_indent)) if indent < first_indent => {
                return (
                    Some((index + 1, indent + 1)),
                    format!(
                        "this line is indented less than the first key (line {first_line}), \
                         which YAML reads as a second document"
                    ),
                    "start every top-level key in the same column, normally the first",
                );
            }
            Some(_) => {}
        }
    }
    (
        None,
        "holds more than one YAML document".to_string(),
        "keep a single document: remove the extra `---` lines",
    )
}

/// YAML forbids tabs in indentation; say so when the failing line has one.
fn tab_hint(text: &str, position: Option<(usize, usize)>) -> Option<String> {
    let (line, _) = position?;
    let content = text.lines().nth(line.checked_sub(1)?)?;
    content
        .chars()
        .take_while(|c| c.is_whitespace())
        .any(|c| c == '\t')
        .then(|| "indent with spaces: YAML does not allow tabs in indentation".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_are_stripped_but_other_text_is_kept() {
        assert_eq!(
            strip_marks("found x at line 3 column 1, while scanning at line 2 column 11"),
            "found x, while scanning"
        );
        assert_eq!(strip_marks("look at position 12"), "look");
        assert_eq!(strip_marks("look at me at line x"), "look at me at line x");
    }

    #[test]
    fn type_errors_read_as_plain_words() {
        let (m, _) = rewrite("gates[1].timeout: invalid type: string \"ten\", expected u64");
        assert_eq!(
            m,
            "`gates[1].timeout` must be an unsigned integer, found the string \"ten\""
        );
        let (m, _) = rewrite("git.auto_push: invalid type: string \"yes\", expected a boolean");
        assert_eq!(
            m,
            "`git.auto_push` must be true or false, found the string \"yes\""
        );
        let (m, _) = rewrite("git: invalid type: sequence, expected struct GitConfig");
        assert_eq!(m, "`git` must be a mapping, found a list");
        let (m, _) =
            rewrite("run.max_fix_attempts: invalid value: integer `99999999999`, expected u32");
        assert_eq!(
            m,
            "`run.max_fix_attempts` must be an unsigned integer no larger than 4294967295, \
             found the integer 99999999999"
        );
        let (m, _) = rewrite("a.b: invalid type: floating point `1.5`, expected u32");
        assert_eq!(m, "`a.b` must be an unsigned integer, found the number 1.5");
    }

    #[test]
    fn unknown_keys_get_a_suggestion_or_the_valid_list() {
        let (m, h) =
            rewrite("git: unknown field `auto_pushh`, expected one of `remote`, `auto_push`");
        assert_eq!(m, "unknown key `auto_pushh` in `git`");
        assert_eq!(h.as_deref(), Some("did you mean `auto_push`?"));
        let (_, h) = rewrite("git: unknown field `zzzzzz`, expected one of `remote`, `auto_push`");
        assert_eq!(
            h.as_deref(),
            Some("keys allowed in `git`: remote, auto_push")
        );
    }
}
