//! Environment-variable interpolation in `orx.yaml`, done on the raw text before YAML parsing.
//!
//! Like docker compose, orx substitutes values, not structure: `${VAR}` becomes the value of
//! `VAR`, `${VAR:-default}` becomes `default` when `VAR` is unset or empty, and `$${` is an
//! escaped, literal `${`. Working on the text rather than on the parsed tree keeps every line
//! number exact: a substituted value may not contain a line break (that is an error), so line
//! N of the text the parser sees is line N of the file, and every later error still points at
//! the right line. Columns after a substitution on the same line may shift; lines never do.
//!
//! Comments are left alone, so a commented-out `${SECRET}` never has to be set: a line whose
//! first non-blank character is `#` is copied as is, and so is the rest of a line from the first
//! `#` that follows a space or tab. That rule is textual, so a ` #` inside a quoted string also
//! ends interpolation on that line. The value is inserted as raw text, so quote the placeholder
//! (`api_key: "${KEY}"`) when the value may contain YAML punctuation such as `: ` or ` #`.
//!
//! An unset `${VAR}` without a default is an error naming the line and column, never an empty
//! string by accident: a missing API key should stop orx before any agent runs.

/// Why interpolation failed, with the 1-based line and column of the offending `$`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterpolationError {
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub hint: String,
}

/// Substitutes `${VAR}` and `${VAR:-default}` in `text`, looking variables up with `env`.
pub fn interpolate(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, InterpolationError> {
    let mut out = String::with_capacity(text.len());
    for (index, line) in text.split_inclusive('\n').enumerate() {
        if line.trim_start().starts_with('#') {
            out.push_str(line);
            continue;
        }
        let (code, comment) = line.split_at(comment_start(line));
        interpolate_code(code, index + 1, env, &mut out)?;
        out.push_str(comment);
    }
    Ok(out)
}

/// Byte offset of the first `#` preceded by a space or tab, or the line's length.
fn comment_start(line: &str) -> usize {
    let bytes = line.as_bytes();
    (1..bytes.len())
        .find(|&i| bytes[i] == b'#' && matches!(bytes[i - 1], b' ' | b'\t'))
        .unwrap_or(bytes.len())
}

fn interpolate_code(
    code: &str,
    line: usize,
    env: &dyn Fn(&str) -> Option<String>,
    out: &mut String,
) -> Result<(), InterpolationError> {
    let mut rest = code;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let column = code[..code.len() - rest.len() + dollar].chars().count() + 1;
        let after = &rest[dollar..];
        if let Some(tail) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("${") {
            let Some(close) = tail.find('}') else {
                return Err(InterpolationError {
                    line,
                    column,
                    message: "`${` is not closed by `}` on this line".to_string(),
                    hint: "write ${VAR} or ${VAR:-default}, or $${ for a literal ${".to_string(),
                });
            };
            out.push_str(&substitute(&tail[..close], line, column, env)?);
            rest = &tail[close + 1..];
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    Ok(())
}

fn substitute(
    inner: &str,
    line: usize,
    column: usize,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, InterpolationError> {
    let (name, default) = match inner.split_once(":-") {
        Some((name, default)) => (name, Some(default)),
        None => (inner, None),
    };
    if !is_variable_name(name) {
        return Err(InterpolationError {
            line,
            column,
            message: format!("`${{{inner}}}` does not name an environment variable"),
            hint: "variable names are letters, digits and `_`, not starting with a digit; \
                   write $${ for a literal ${"
                .to_string(),
        });
    }
    let value = match (env(name), default) {
        (Some(value), Some(default)) if value.is_empty() => default.to_string(),
        (Some(value), _) => value,
        (None, Some(default)) => default.to_string(),
        (None, None) => {
            return Err(InterpolationError {
                line,
                column,
                message: format!("environment variable `{name}` is not set"),
                hint: format!("export it, or write ${{{name}:-default}}"),
            })
        }
    };
    if value.contains(['\n', '\r']) {
        return Err(InterpolationError {
            line,
            column,
            message: format!("environment variable `{name}` holds a line break"),
            hint: "interpolated values must be a single line so that line numbers stay exact"
                .to_string(),
        });
    }
    Ok(value)
}

fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOME_DIR" => Some("/home/me".to_string()),
            "EMPTY" => Some(String::new()),
            "MULTI" => Some("a\nb".to_string()),
            _ => None,
        }
    }

    fn run(text: &str) -> Result<String, InterpolationError> {
        interpolate(text, &env)
    }

    #[test]
    fn set_variable_is_substituted_in_place() {
        assert_eq!(run("a: ${HOME_DIR}/x\n").unwrap(), "a: /home/me/x\n");
        assert_eq!(
            run("a: ${HOME_DIR}${HOME_DIR}").unwrap(),
            "a: /home/me/home/me"
        );
    }

    #[test]
    fn default_applies_when_unset_or_empty() {
        assert_eq!(run("a: ${NOPE:-fallback}\n").unwrap(), "a: fallback\n");
        assert_eq!(run("a: ${EMPTY:-fallback}\n").unwrap(), "a: fallback\n");
        assert_eq!(run("a: ${HOME_DIR:-fallback}\n").unwrap(), "a: /home/me\n");
        assert_eq!(run("a: ${NOPE:-}\n").unwrap(), "a: \n");
        assert_eq!(run("a: x${EMPTY}y\n").unwrap(), "a: xy\n");
    }

    #[test]
    fn unset_variable_is_an_error_at_its_line_and_column() {
        let err = run("a: 1\n\nkey:\n  api_key: ${CURSOR_API_KEY}\n").unwrap_err();
        assert_eq!((err.line, err.column), (4, 12));
        assert_eq!(
            err.message,
            "environment variable `CURSOR_API_KEY` is not set"
        );
        assert_eq!(err.hint, "export it, or write ${CURSOR_API_KEY:-default}");
    }

    #[test]
    fn escape_yields_a_literal_placeholder() {
        assert_eq!(run("a: $${NOPE}\n").unwrap(), "a: ${NOPE}\n");
        assert_eq!(run("a: $$ and $x\n").unwrap(), "a: $$ and $x\n");
    }

    #[test]
    fn comments_are_left_alone() {
        let text = "# api_key: ${NOPE}\n  # ${NOPE}\na: 1 # ${NOPE}\nb: x#${HOME_DIR}\n";
        assert_eq!(
            run(text).unwrap(),
            "# api_key: ${NOPE}\n  # ${NOPE}\na: 1 # ${NOPE}\nb: x#/home/me\n"
        );
    }

    #[test]
    fn multi_line_values_are_rejected() {
        let err = run("a: ok\nb: ${MULTI}\n").unwrap_err();
        assert_eq!((err.line, err.column), (2, 4));
        assert!(err.message.contains("line break"), "{}", err.message);
    }

    #[test]
    fn malformed_placeholders_are_errors() {
        let err = run("a: ${NOPE\n").unwrap_err();
        assert_eq!((err.line, err.column), (1, 4));
        assert!(err.message.contains("not closed"), "{}", err.message);
        let err = run("é: ${1BAD}\n").unwrap_err();
        assert_eq!((err.line, err.column), (1, 4));
        assert!(err.message.contains("`${1BAD}`"), "{}", err.message);
        assert!(run("a: ${}\n").is_err());
    }

    #[test]
    fn line_structure_and_endings_are_preserved() {
        let text = "a: ${HOME_DIR}\r\nb: 2\r\n\r\nc: 3";
        assert_eq!(run(text).unwrap(), "a: /home/me\r\nb: 2\r\n\r\nc: 3");
    }
}
