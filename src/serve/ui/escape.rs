//! HTML escaping, the one function every page uses for text that came from a user, an agent or
//! the disk (task text, logs, diffs, file names, error messages).
//!
//! The pages are built with `format!`, so nothing is escaped by default: every interpolated
//! string that is not a literal of ours goes through [`escape`] (element content and quoted
//! attribute values alike, since it escapes both quote kinds) or [`url_part`] (a path segment or
//! query value inside an `href`, escaped again by [`escape`] around it). Control characters
//! other than tab and newline are dropped, so a log full of terminal escapes cannot smuggle
//! anything through either.

use std::fmt::Write;

use crate::text::{markup_entity, replace_chars};

/// Escape `s` for HTML element content and for single- or double-quoted attribute values.
pub fn escape(s: &str) -> String {
    replace_chars(s, |c| {
        markup_entity(c).or(match c {
            '\'' => Some("&#39;"),
            '`' => Some("&#96;"),
            '\t' | '\n' | '\r' => None,
            c if c.is_control() => Some(""),
            _ => None,
        })
    })
}

/// Percent-encode `s` for a URL path segment or query value (`/` kept when `keep_slash`).
pub fn url_part(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b'/' if keep_slash => out.push('/'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_cannot_open_a_tag_or_leave_an_attribute() {
        let hostile = "<script>alert('x')</script>\"><img src=x onerror=alert(1)>&amp;`\u{1b}[31m";
        let e = escape(hostile);
        assert_eq!(
            e,
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=alert(1)&gt;&amp;amp;&#96;[31m"
        );
        for bad in ['<', '>', '"', '\'', '`', '\u{1b}'] {
            assert!(!e.contains(bad), "{bad:?} survived in {e}");
        }
        assert_eq!(escape("a\tb\nc ü"), "a\tb\nc ü");
    }

    #[test]
    fn url_parts_are_percent_encoded() {
        assert_eq!(url_part("logs/a b.log", true), "logs/a%20b.log");
        assert_eq!(
            url_part("a/b?c=\"d\"&<", false),
            "a%2Fb%3Fc%3D%22d%22%26%3C"
        );
        assert_eq!(url_part("ü", false), "%C3%BC");
    }
}
