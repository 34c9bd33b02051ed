//! The pieces of serde's and yaml_serde's error messages that orx rewords: the location
//! suffix, the key path prefix and the "unknown field" list, for the one-sentence errors of the
//! backlog and the fake engine's scenarios.

/// Strip yaml_serde's " at line L column C" and return it as " (line L, column C)".
pub fn split_location(raw: &str, loc: Option<(usize, usize)>) -> (String, String) {
    let Some((line, col)) = loc else {
        return (raw.to_string(), String::new());
    };
    let needle = format!(" at line {line} column {col}");
    match raw.find(&needle) {
        Some(pos) => (
            format!("{}{}", &raw[..pos], &raw[pos + needle.len()..]),
            format!(" (line {line}, column {col})"),
        ),
        None => (raw.to_string(), format!(" (line {line}, column {col})")),
    }
}

/// yaml_serde prefixes errors below the top level with the key path: `items[1].id: invalid ...`.
pub fn split_path(msg: &str) -> Option<(String, String)> {
    let (path, rest) = msg.split_once(": ")?;
    let looks_like_path = !path.is_empty()
        && !path.contains(' ')
        && path
            .chars()
            .all(|c| c.is_alphanumeric() || "_-.[]".contains(c));
    looks_like_path.then(|| (path.to_string(), rest.to_string()))
}

/// serde's "unknown field `x`, expected one of `a`, `b`" → ("x", ["a", "b"]).
pub fn parse_unknown_field(msg: &str) -> Option<(String, Vec<String>)> {
    let rest = msg.strip_prefix("unknown field `")?;
    let end = rest.find('`')?;
    let field = rest[..end].to_string();
    let expected = rest[end + 1..]
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    Some((field, expected))
}
