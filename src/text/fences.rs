//! The fenced code blocks of a markdown text, which is how agents hand over structured
//! answers (the backlog's YAML, the review's JSON verdict).

/// One fenced code block of a markdown reply.
#[derive(Debug, Clone, PartialEq)]
pub struct Fence {
    /// The info string's first word, lower-cased (`yaml`, `json`, or empty).
    pub lang: String,
    pub body: String,
}

/// The fenced code blocks (``` or ~~~, up to three spaces of indent) of a markdown text, in
/// order. An unclosed block runs to the end of the text, as a truncated reply would.
pub fn fenced_blocks(text: &str) -> Vec<Fence> {
    let mut out = Vec::new();
    let mut open: Option<(char, usize, String, Vec<&str>)> = None;
    for line in text.lines() {
        let trimmed = line.trim_start_matches(' ');
        let indent = line.len() - trimmed.len();
        let fence = if indent <= 3 {
            fence_marker(trimmed)
        } else {
            None
        };
        match open.as_mut() {
            None => {
                if let Some((ch, len)) = fence {
                    let info = trimmed[len..].trim();
                    if ch == '`' && info.contains('`') {
                        continue; // inline code such as ```x``` on one line
                    }
                    let lang = info
                        .split(|c: char| c.is_whitespace() || c == '{' || c == ',')
                        .next()
                        .unwrap_or("")
                        .to_ascii_lowercase();
                    open = Some((ch, len, lang, Vec::new()));
                }
            }
            Some((ch, len, _, body)) => {
                let closes = matches!(fence, Some((c, l)) if c == *ch && l >= *len)
                    && trimmed.trim_start_matches(*ch).trim().is_empty();
                if closes {
                    if let Some((_, _, lang, body)) = open.take() {
                        out.push(Fence {
                            lang,
                            body: body.join("\n"),
                        });
                    }
                } else {
                    body.push(line);
                }
            }
        }
    }
    if let Some((_, _, lang, body)) = open {
        out.push(Fence {
            lang,
            body: body.join("\n"),
        });
    }
    out
}

/// A line opening or closing a fence: three or more backticks or tildes.
fn fence_marker(trimmed: &str) -> Option<(char, usize)> {
    let ch = trimmed.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let len = trimmed.chars().take_while(|c| *c == ch).count();
    (len >= 3).then_some((ch, len))
}

/// The structured answer of a reply: the body of its last ```json block, or the whole reply
/// when it is nothing but a JSON object.
pub fn last_json(text: &str) -> Option<String> {
    let block = fenced_blocks(text)
        .into_iter()
        .rev()
        .find(|b| b.lang == "json")
        .map(|b| b.body);
    let trimmed = text.trim();
    block.or_else(|| {
        (trimmed.starts_with('{') && trimmed.ends_with('}')).then(|| trimmed.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fenced_blocks_ignore_inline_triple_backticks_and_track_fence_length() {
        let text = "use ```yaml``` like this\n````md\n```yaml\ninner\n```\n````\n";
        let blocks = fenced_blocks(text);
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].lang, "md");
        assert_eq!(blocks[0].body, "```yaml\ninner\n```");
    }
}
