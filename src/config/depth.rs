//! A bound on how deeply a YAML document nests, checked before the parser sees it.
//!
//! The YAML parser's time grows quadratically with nesting: 500 KB of nested flow sequences
//! (`[[[[…`) took 46–88 s before it reported its recursion limit. No orx document (orx.yaml, a
//! scenario, a backlog reply) needs more than a handful of levels, so one linear pass counts
//! the open flow brackets (`[`, `{`, outside quotes and comments) plus the block indentation
//! levels of each line, and refuses the document at the first place that goes deeper than
//! [`MAX_DEPTH`], naming the line and column.

/// The deepest nesting accepted (flow brackets plus block levels).
pub const MAX_DEPTH: usize = 64;

/// `(line, column)` (1-based) of the first place `text` nests deeper than [`MAX_DEPTH`].
pub fn too_deep(text: &str) -> Option<(usize, usize)> {
    let mut flow = 0usize;
    // Indentations of the open block levels.
    let mut blocks: Vec<usize> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let indent = line.len() - line.trim_start_matches([' ', '-']).len();
        let body = line.trim_start();
        if flow == 0 && !body.is_empty() && !body.starts_with('#') {
            while blocks.last().is_some_and(|&b| b >= indent) {
                blocks.pop();
            }
            blocks.push(indent);
            if blocks.len() > MAX_DEPTH {
                return Some((n + 1, indent + 1));
            }
        }
        let mut quote: Option<char> = None;
        let mut prev = ' ';
        for (col, c) in line.char_indices() {
            match quote {
                Some(q) => {
                    if c == q && (q == '\'' || prev != '\\') {
                        quote = None;
                    }
                }
                None => match c {
                    '#' if prev == ' ' || col == 0 => break,
                    '"' | '\'' if matches!(prev, ' ' | '[' | '{' | ',' | ':') || col == 0 => {
                        quote = Some(c)
                    }
                    '[' | '{' => {
                        flow += 1;
                        if flow + blocks.len() > MAX_DEPTH {
                            return Some((n + 1, col + 1));
                        }
                    }
                    ']' | '}' => flow = flow.saturating_sub(1),
                    _ => {}
                },
            }
            prev = c;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_flow_and_block_nesting_is_found_and_ordinary_documents_pass() {
        let flow = format!("a: {}1{}\n", "[".repeat(200_000), "]".repeat(200_000));
        // The `a:` line is one block level, so the 64th bracket goes too deep.
        assert_eq!(too_deep(&flow), Some((1, 3 + MAX_DEPTH)));
        let block: String = (0..100)
            .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
            .collect();
        assert_eq!(too_deep(&block).map(|(l, _)| l), Some(MAX_DEPTH + 1));
        let fine = "version: \"1\"\ngates:\n  - name: t\n    command: \"echo [[[\"\n    args: [a, {b: [c]}]\n# [[[[[[\nx: '[[[[' # {{{{\n";
        assert_eq!(too_deep(fine), None);
        assert_eq!(too_deep(&"[".repeat(MAX_DEPTH - 1)), None);
    }

    #[test]
    fn every_yaml_loader_refuses_deep_nesting_before_parsing() {
        let deep = format!("x: {}1{}\n", "[".repeat(100_000), "]".repeat(100_000));
        let path = std::path::Path::new("orx.yaml");
        let e = crate::error::OrxError::from(
            crate::config::parse_str(&deep, path, &|_| None).unwrap_err(),
        );
        assert!(
            e.message.contains("orx.yaml:1:") && e.message.contains("nests deeper"),
            "{}",
            e.message
        );
        let e = crate::error::OrxError::from(
            crate::agents::scenario::parse_scenario(&deep, std::path::Path::new("s.yaml"))
                .unwrap_err(),
        );
        assert_eq!(e.kind, crate::error::ErrorKind::Config);
        assert!(e.message.contains("nests deeper"), "{}", e.message);
        let reply = format!("```yaml\nitems: {}\n```\n", "[".repeat(100_000));
        let e = crate::backlog::parse_backlog(&reply).unwrap_err();
        assert!(e.to_string().contains("nests deeper"), "{e}");
    }
}
