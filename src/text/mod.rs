//! General text helpers that belong to no one domain: one-line messages, "did you mean"
//! suggestions, sizes in words, escaping for markup (the characters XML and HTML both reserve),
//! the fenced blocks of a markdown reply ([`fences`]) and the
//! pieces of serde's error messages ([`serde_errors`]).
//!
//! They live here, at the bottom of the crate, so that the modules using them (the backlog,
//! the fake engine's scenarios, the review verdict, config diagnostics, the reporters, the CLI)
//! do not import one another for a text function, and so there is one `did_you_mean`: every
//! suggestion orx makes is chosen the same way.

pub mod fences;
pub mod serde_errors;

/// The entity for a character XML and HTML both reserve (`&`, `<`, `>`, `"`); `None` for any
/// other. Each markup writer adds its own rules (apostrophes, controls) around it.
pub fn markup_entity(c: char) -> Option<&'static str> {
    match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        '"' => Some("&quot;"),
        _ => None,
    }
}

/// `s` with every character `rule` maps to `Some(text)` replaced by that text (an empty text
/// drops it), the others kept.
pub fn replace_chars(s: &str, rule: impl Fn(char) -> Option<&'static str>) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match rule(c) {
            Some(text) => out.push_str(text),
            None => out.push(c),
        }
    }
    out
}

/// Keep an error on one line even when it quotes a key or id that holds line breaks.
pub fn one_line(s: &str) -> String {
    s.replace('\r', "\\r").replace('\n', "\\n")
}

/// The closest candidate to `word`, if it is close enough to be a plausible typo: a
/// case-insensitive match, or the unique candidate within a small edit distance (a third of
/// the word's length, at least one; a swap of two neighbouring letters counts as one edit).
/// Two candidates equally close are no suggestion: guessing between them would mislead.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let candidates: Vec<&str> = candidates.into_iter().collect();
    if let Some(c) = candidates.iter().find(|c| c.eq_ignore_ascii_case(word)) {
        return Some(c);
    }
    let word = word.to_lowercase();
    let limit = (word.chars().count() / 3).max(1);
    let mut best: Option<(&str, usize)> = None;
    let mut tie = false;
    for c in &candidates {
        let d = strsim::damerau_levenshtein(&word, &c.to_lowercase());
        if d > limit {
            continue;
        }
        match best {
            Some((_, bd)) if d > bd => {}
            Some((_, bd)) if d == bd => tie = true,
            _ => {
                best = Some((c, d));
                tie = false;
            }
        }
    }
    if tie {
        None
    } else {
        best.map(|(c, _)| c)
    }
}

/// A byte count as people read it: `512 B`, `1.5 KiB`, `3.2 GiB`.
pub fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_are_only_made_when_close_and_unambiguous() {
        assert_eq!(did_you_mean("codx", ["claude", "codex"]), Some("codex"));
        assert_eq!(did_you_mean("Claude", ["claude", "codex"]), Some("claude"));
        assert_eq!(did_you_mean("openai", ["claude", "codex"]), None);
        assert_eq!(did_you_mean("x", ["fix"]), None);
        assert_eq!(did_you_mean("modle", ["model", "effort"]), Some("model"));
        assert_eq!(did_you_mean("w001", ["W001", "W002"]), Some("W001"));
        assert_eq!(did_you_mean("W009", ["W001", "W002"]), None, "a tie");
    }

    #[test]
    fn one_line_escapes_line_breaks() {
        assert_eq!(one_line("a\nb\r\nc"), "a\\nb\\r\\nc");
    }

    #[test]
    fn bytes_are_shown_in_the_largest_whole_unit() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(5 * 1024 * 1024 * 1024), "5.0 GiB");
        assert_eq!(human_bytes(u64::MAX), "16777216.0 TiB");
    }
}
