//! The text that a text's backslash escapes stand for, and where each of its bytes came from.
//!
//! What orx logs of an agent is mostly JSON lines, and in a JSON string a secret the agent
//! wrote on a line of its own follows `\n`, an escape whose last byte is a letter: the
//! credential shapes, which must not start glued to a word, miss it in the raw bytes. A quoted
//! value (`API_TOKEN = \"…\"` in a file the agent writes) misses the assignment rule the same
//! way. So the redaction scans a text with escapes as the text they stand for ([`decode`]),
//! with the quotes and keys of the JSON around its strings still in place (an assignment can
//! span a key and its value), and maps what it finds back onto the raw bytes ([`Offsets`]).
//!
//! The decoding is lenient, since what it reads is not always JSON (a test's output, a line
//! cut at the length limit): an escape it does not know stays as it is, a lone surrogate
//! becomes U+FFFD, raw control bytes pass. A hostile stream therefore cannot make a text
//! unreadable to hide what is in it. Every escape it decodes is at least two bytes long and
//! stands for fewer bytes than that, so a decoded text is shorter exactly when an escape was
//! decoded.

use std::borrow::Cow;

/// The text `text` stands for, every escape decoded (see the module note).
pub fn decode(text: &str) -> String {
    decode_with(text, |_| {})
}

/// [`decode`] of `text`, borrowed when it decodes no escape (most texts hold no backslash,
/// and those cost one `memchr`).
pub fn decoded(text: &str) -> Cow<'_, str> {
    if memchr::memchr(b'\\', text.as_bytes()).is_none() {
        return Cow::Borrowed(text);
    }
    let decoded = decode(text);
    // Shorter exactly when an escape was decoded (see the module note).
    if decoded.len() < text.len() {
        Cow::Owned(decoded)
    } else {
        Cow::Borrowed(text)
    }
}

/// One decoded escape: its bytes in the raw text and in the decoded one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Escape {
    raw: (usize, usize),
    decoded: (usize, usize),
}

/// [`decode`], telling `each` about every escape it decodes, in order.
fn decode_with(text: &str, mut each: impl FnMut(Escape)) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    while let Some(k) = memchr::memchr(b'\\', &text.as_bytes()[at..]) {
        let start = at + k;
        out.push_str(&text[at..start]);
        let decoded_start = out.len();
        let esc = &text[start..];
        let single = match esc.as_bytes().get(1) {
            Some(b'"') => Some('"'),
            Some(b'\\') => Some('\\'),
            Some(b'/') => Some('/'),
            Some(b'b') => Some('\u{8}'),
            Some(b'f') => Some('\u{c}'),
            Some(b'n') => Some('\n'),
            Some(b'r') => Some('\r'),
            Some(b't') => Some('\t'),
            _ => None,
        };
        let used = match single {
            Some(c) => {
                out.push(c);
                Some(2)
            }
            None if esc.as_bytes().get(1) == Some(&b'u') => unicode_escape(esc, &mut out),
            None => None,
        };
        match used {
            Some(n) => {
                each(Escape {
                    raw: (start, start + n),
                    decoded: (decoded_start, out.len()),
                });
                at = start + n;
            }
            None => {
                // An escape of no known kind: its backslash stays as it is.
                out.push('\\');
                at = start + 1;
            }
        }
    }
    out.push_str(&text[at..]);
    out
}

/// `\uXXXX` (and a surrogate pair `\uD8XX\uDCXX`) at the start of `esc`: the bytes it used, or
/// `None` when four hex digits do not follow.
fn unicode_escape(esc: &str, out: &mut String) -> Option<usize> {
    let hi = hex4(esc.get(2..6)?)?;
    if (0xD800..0xDC00).contains(&hi) {
        if let Some(lo) = esc
            .get(6..8)
            .filter(|s| *s == "\\u")
            .and_then(|_| hex4(esc.get(8..12)?))
            .filter(|lo| (0xDC00..0xE000).contains(lo))
        {
            let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
            out.push(char::from_u32(c).unwrap_or('\u{FFFD}'));
            return Some(12);
        }
    }
    out.push(char::from_u32(hi).unwrap_or('\u{FFFD}'));
    Some(6)
}

/// Four hex digits as a number.
fn hex4(s: &str) -> Option<u32> {
    if s.len() == 4 && s.bytes().all(|c| c.is_ascii_hexdigit()) {
        u32::from_str_radix(s, 16).ok()
    } else {
        None
    }
}

/// Where the bytes of [`decode`]'s text came from in the raw text.
pub struct Offsets {
    escapes: Vec<Escape>,
}

impl Offsets {
    /// The offsets of `text`'s decoding.
    pub fn of(text: &str) -> Offsets {
        let mut escapes = Vec::new();
        decode_with(text, |e| escapes.push(e));
        Offsets { escapes }
    }

    /// The raw offset where a span that starts at decoded offset `at` starts: an escape it
    /// starts inside of is taken whole.
    pub fn start(&self, at: usize) -> usize {
        let n = self.escapes.partition_point(|e| e.decoded.0 <= at);
        match n.checked_sub(1).map(|i| self.escapes[i]) {
            Some(e) if at < e.decoded.1 => e.raw.0,
            Some(e) => e.raw.1 + (at - e.decoded.1),
            None => at,
        }
    }

    /// The raw offset where a span that ends at decoded offset `at` ends: an escape it ends
    /// inside of is taken whole.
    pub fn end(&self, at: usize) -> usize {
        let n = self.escapes.partition_point(|e| e.decoded.0 < at);
        match n.checked_sub(1).map(|i| self.escapes[i]) {
            Some(e) if at <= e.decoded.1 => e.raw.1,
            Some(e) => e.raw.1 + (at - e.decoded.1),
            None => at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding_reads_every_escape_and_keeps_what_it_cannot_read() {
        assert_eq!(
            decode(r#"a\"b\\c\/d\be\ff\ng\rh\ti\u00e9\u001b"#),
            "a\"b\\c/d\u{8}e\u{c}f\ng\rh\ti\u{e9}\u{1b}"
        );
        assert_eq!(decode(r"\ud83d\ude00"), "\u{1F600}");
        assert_eq!(decode(r"\ud83dx"), "\u{FFFD}x", "a lone surrogate");
        assert_eq!(decode(r"\x \u12 end\"), r"\x \u12 end\");
        assert_eq!(decode("no escape"), "no escape");
        assert!(matches!(decoded("no escape"), Cow::Borrowed(_)));
        assert!(matches!(decoded(r"only \x unknown"), Cow::Borrowed(_)));
        assert_eq!(decoded(r"a\nb"), "a\nb");
    }

    #[test]
    fn decoding_agrees_with_serde_json_on_json_strings() {
        let text = "q\"b\\s\nn\rr\tt\u{1b}e\u{e9}\u{1F600}/ end";
        let json = serde_json::to_string(text).unwrap();
        assert_eq!(decode(&json[1..json.len() - 1]), text);
    }

    #[test]
    fn offsets_map_a_decoded_span_onto_the_raw_bytes() {
        let raw = r#"{"t":"a\nKEY\u00e9x\\y"}"#;
        let decoded = decode(raw);
        let map = Offsets::of(raw);
        let span = |s: &str| {
            let at = decoded.find(s).unwrap();
            &raw[map.start(at)..map.end(at + s.len())]
        };
        assert_eq!(span("KEY"), "KEY");
        assert_eq!(span("\nKEY"), r"\nKEY");
        assert_eq!(span("KEY\u{e9}"), r"KEY\u00e9");
        assert_eq!(span("x\\y"), r"x\\y");
        assert_eq!(span("{\"t\":\"a"), r#"{"t":"a"#);
        assert_eq!(span("\"}"), "\"}");
        // A span that starts or ends inside an escape's decoded bytes takes the escape whole.
        let inside = decoded.find('\u{e9}').unwrap() + 1;
        assert_eq!(map.start(inside), raw.find(r"\u00e9").unwrap());
        assert_eq!(map.end(inside), raw.find(r"\u00e9").unwrap() + 6);
    }
}
