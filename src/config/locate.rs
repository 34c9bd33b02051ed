//! Finds the line and column of a key path (`gates[1].name`) in YAML text.
//!
//! serde reports where a value failed to *parse*, but semantic checks run on the finished
//! [`Config`](super::Config), where positions are gone. Rather than deserialising twice into a
//! span-carrying tree, this module rescans the text with the indentation rules of block YAML,
//! which is how nearly every `orx.yaml` is written. It is best effort by design: when a segment
//! cannot be found (flow style `{a: 1}`, anchors, odd quoting) it returns the position of the
//! deepest ancestor it did find, so the error still points near the problem, and `None` only
//! when not even the first key is found.

use std::fmt;

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// A mapping key.
    Key(String),
    /// A 0-based sequence index.
    Index(usize),
}

/// A path to a value, displayed like `gates[1].name`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyPath(pub Vec<Segment>);

impl KeyPath {
    /// Parses a dotted path such as `stages.plan.executor` or `pipelines.x[2]`.
    pub fn parse(path: &str) -> KeyPath {
        let mut segments = Vec::new();
        for part in path.split('.').filter(|p| !p.is_empty()) {
            let (key, mut indexes) = match part.find('[') {
                Some(i) => (&part[..i], &part[i..]),
                None => (part, ""),
            };
            if !key.is_empty() {
                segments.push(Segment::Key(key.to_string()));
            }
            while let Some(rest) = indexes.strip_prefix('[') {
                let Some(close) = rest.find(']') else { break };
                match rest[..close].parse() {
                    Ok(n) => segments.push(Segment::Index(n)),
                    Err(_) => break,
                }
                indexes = &rest[close + 1..];
            }
        }
        KeyPath(segments)
    }

    /// This path with a key appended.
    pub fn key(&self, key: &str) -> KeyPath {
        let mut path = self.clone();
        path.0.push(Segment::Key(key.to_string()));
        path
    }

    /// This path with an index appended.
    pub fn index(&self, index: usize) -> KeyPath {
        let mut path = self.clone();
        path.0.push(Segment::Index(index));
        path
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(key) if i == 0 => write!(f, "{key}")?,
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// A meaningful piece of a line: a sequence dash or a `key:` entry (or a bare value).
#[derive(Debug)]
struct Token {
    line: usize,
    /// 0-based column in characters.
    indent: usize,
    dash: bool,
    key: Option<String>,
}

/// The 1-based (line, column) of `path` in `text`, or of its deepest ancestor found.
pub fn locate(text: &str, path: &KeyPath) -> Option<(usize, usize)> {
    let tokens = tokenize(text);
    let mut range = &tokens[..];
    let mut found = None;
    for segment in &path.0 {
        let Some(indent) = range.iter().map(|t| t.indent).min() else {
            break;
        };
        let hit = match segment {
            Segment::Key(key) => range
                .iter()
                .position(|t| !t.dash && t.indent == indent && t.key.as_deref() == Some(key)),
            Segment::Index(n) => range
                .iter()
                .enumerate()
                .filter(|(_, t)| t.dash && t.indent == indent)
                .nth(*n)
                .map(|(i, _)| i),
        };
        let Some(at) = hit else { break };
        let token = &range[at];
        found = Some((token.line, token.indent + 1));
        let children = &range[at + 1..];
        // Children end at the next token as shallow as this one, except that a block sequence
        // may sit at its parent key's own indentation (`gates:\n- name: x`).
        let end = children
            .iter()
            .position(|t| {
                t.indent < token.indent || (t.indent == token.indent && (token.dash || !t.dash))
            })
            .unwrap_or(children.len());
        range = &children[..end];
        if let Segment::Index(_) = segment {
            // The dash's own entry (`- name: x`) is the first child; report it as the item.
            if let Some(first) = range.first().filter(|t| t.line == token.line) {
                found = Some((first.line, first.indent + 1));
            }
        }
    }
    found
}

fn tokenize(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let content = raw.trim_start_matches(' ');
        let trimmed = content.trim();
        if trimmed.is_empty()
            || trimmed.starts_with('#')
            || trimmed.starts_with("---")
            || trimmed.starts_with("...")
            || trimmed.starts_with('%')
        {
            continue;
        }
        let mut indent = raw.len() - content.len();
        let mut rest = content;
        while rest == "-" || rest.starts_with("- ") {
            tokens.push(Token {
                line: index + 1,
                indent,
                dash: true,
                key: None,
            });
            let after = rest[1..].trim_start_matches(' ');
            indent += rest.len() - after.len();
            rest = after;
        }
        if rest.trim().is_empty() {
            continue;
        }
        tokens.push(Token {
            line: index + 1,
            indent: raw[..raw.len() - rest.len()].chars().count(),
            dash: false,
            key: mapping_key(rest),
        });
    }
    tokens
}

/// The key of `key: value` or `"key": value`, if the text starts with one.
fn mapping_key(text: &str) -> Option<String> {
    if let Some(quote) = text.chars().next().filter(|c| *c == '"' || *c == '\'') {
        let body = &text[1..];
        let close = body.find(quote)?;
        let after = &body[close + 1..];
        return (after.starts_with(':')).then(|| body[..close].to_string());
    }
    let bytes = text.as_bytes();
    let colon = (0..bytes.len()).find(|&i| {
        bytes[i] == b':' && matches!(bytes.get(i + 1), None | Some(b' ' | b'\t' | b'\r'))
    })?;
    Some(text[..colon].trim_end().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
version: \"1\"
# a comment: here
engine:
  type: codx
  timeout: 0
gates:
  - name: ruff
    command: ruff
  -   name: pytest
      command: \"\"
pipelines:
  quick: [plan, implment]
  long:
  - plan
  - implment
\"quoted key\": 1
";

    fn at(path: &str) -> Option<(usize, usize)> {
        locate(TEXT, &KeyPath::parse(path))
    }

    #[test]
    fn finds_nested_keys() {
        assert_eq!(at("version"), Some((1, 1)));
        assert_eq!(at("engine.type"), Some((4, 3)));
        assert_eq!(at("engine.timeout"), Some((5, 3)));
        assert_eq!(at("quoted key"), Some((16, 1)));
    }

    #[test]
    fn finds_sequence_items_and_their_keys() {
        assert_eq!(at("gates[0]"), Some((7, 5)));
        assert_eq!(at("gates[1].name"), Some((9, 7)));
        assert_eq!(at("gates[1].command"), Some((10, 7)));
        assert_eq!(at("pipelines.long[1]"), Some((15, 5)));
    }

    #[test]
    fn falls_back_to_the_deepest_ancestor() {
        assert_eq!(at("pipelines.quick[1]"), Some((12, 3)));
        assert_eq!(at("engine.model"), Some((3, 1)));
        assert_eq!(at("gates[7].name"), Some((6, 1)));
        assert_eq!(at("nothing.here"), None);
    }

    #[test]
    fn key_paths_round_trip_through_display() {
        for path in [
            "gates[1].name",
            "pipelines.x[0]",
            "stages.plan.executor",
            "a[1][2]",
        ] {
            assert_eq!(KeyPath::parse(path).to_string(), path);
        }
    }
}
