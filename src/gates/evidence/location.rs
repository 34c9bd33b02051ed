//! The location shapes most compilers and linters share: `path:line[:col]: rest` inside a
//! line, and rustc's (and ruff's full format's) ` --> path:line:col` under a header line, plus
//! the split of a lint message into its rule code and text. Every reader finds locations
//! through these.

use super::Failure;

/// ` --> path:line:col` with the header on the line before (ruff full format, rustc).
pub(super) fn arrow_failure(lines: &[&str], i: usize) -> Option<Failure> {
    let rest = lines[i].trim_start().strip_prefix("--> ")?;
    let spot = format!("{}: ", rest.trim());
    let loc = find_location(&spot, false)?;
    let header = i
        .checked_sub(1)
        .map(|h| lines[h])
        .filter(|h| !h.trim().is_empty() && !h.starts_with(' '))?;
    let (code, message) = split_code(header);
    Some(Failure {
        file: Some(loc.file.to_string()),
        line: Some(loc.line),
        code,
        message,
    })
}

/// `F401 [*] msg` → (F401, msg); `invalid-syntax: msg` → (invalid-syntax, msg);
/// `error[E0425]: msg` → (E0425, msg); anything else → (None, text).
pub(super) fn split_code(text: &str) -> (Option<String>, String) {
    let text = text.trim();
    let (first, rest) = text.split_once(' ').unwrap_or((text, ""));
    let strip_fix = |r: &str| {
        let r = r.trim_start();
        r.strip_prefix("[*] ")
            .or_else(|| r.strip_prefix("[-] "))
            .unwrap_or(r)
            .trim()
            .to_string()
    };
    if is_rule_code(first) {
        return (Some(first.to_string()), strip_fix(rest));
    }
    if let Some(name) = first.strip_suffix(':') {
        if let Some(inner) = name
            .strip_prefix("error[")
            .or_else(|| name.strip_prefix("warning["))
            .and_then(|n| n.strip_suffix(']'))
        {
            return (Some(inner.to_string()), rest.trim().to_string());
        }
        let word = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if word && !rest.is_empty() {
            return (Some(name.to_string()), strip_fix(rest));
        }
    }
    (None, text.to_string())
}

/// Lint rule codes: one to four capitals then one to four digits (`F401`, `PLR0913`, `RUF100`).
fn is_rule_code(s: &str) -> bool {
    let letters = s.chars().take_while(|c| c.is_ascii_uppercase()).count();
    let digits = s.len() - letters;
    (1..=4).contains(&letters)
        && (1..=4).contains(&digits)
        && s[letters..].chars().all(|c| c.is_ascii_digit())
}

/// A `path:line[:col]: rest` location inside a line.
pub(super) struct Location<'a> {
    pub(super) file: &'a str,
    pub(super) line: u32,
    pub(super) rest: &'a str,
}

/// Find `path:LINE:COL: ` (or `path:LINE: ` when `need_col` is false). The path is the
/// whitespace-free token before the first such position and must look like a file.
pub(super) fn find_location(line: &str, need_col: bool) -> Option<Location<'_>> {
    for (pos, _) in line.match_indices(':') {
        let Some((n, after_n)) = leading_number(&line[pos + 1..]) else {
            continue;
        };
        let Some(r) = after_n.strip_prefix(':') else {
            continue;
        };
        let rest = match leading_number(r) {
            Some((_, after_col)) if after_col.starts_with(':') => &after_col[1..],
            _ if !need_col => r,
            _ => continue,
        };
        let start = line[..pos]
            .char_indices()
            .rev()
            .find(|(_, c)| c.is_whitespace())
            .map(|(p, c)| p + c.len_utf8())
            .unwrap_or(0);
        let file = &line[start..pos];
        let plausible =
            !file.is_empty() && (file.contains('.') || file.contains('/')) && !file.contains("://");
        if !plausible || n == 0 {
            continue;
        }
        return Some(Location {
            file,
            line: n,
            rest: rest.strip_prefix(' ').unwrap_or(rest),
        });
    }
    None
}

/// `123rest` → (123, "rest").
pub(super) fn leading_number(s: &str) -> Option<(u32, &str)> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    if end == 0 {
        return None;
    }
    s[..end].parse().ok().map(|n| (n, &s[end..]))
}
