//! Redaction: keeping secrets out of everything orx writes (events, state, prompts, context,
//! artifacts, metrics, agent and gate logs).
//!
//! A [`Redactor`] is built once per run from two sources: the known credential shapes of
//! `secrets.rs` (plus high-entropy secret assignments), and the values of the environment
//! variables whose *name* looks secret (`*_KEY`, `*_TOKEN`, `*_SECRET`, `*PASSWORD*`, …) and
//! whose value is at least 8 characters long, since those values are the ones most likely to
//! leak through an agent's output or a failing test's log. A match becomes
//! `[REDACTED:<kind>]` (`[REDACTED:env:NAME]` for an environment value), so the text keeps its
//! shape and a reader can still tell what was there.
//!
//! Text that arrives line by line (logs, a gate's output kept as evidence) is redacted by one
//! stateful [`LineRedactor`] per stream ([`Redactor::line_redactor`], and
//! [`Redactor::log_filter`] for the supervisor), which also hides the body lines of a private
//! key block that opened on an earlier line; whole texts go through [`Redactor::redact`],
//! which sees a block from its BEGIN line to its END line (or the end of the text). A log
//! filter looks at a whole chunk of lines at once first ([`LineFilter::clean`]): with no
//! secret anywhere in it and no key block open or beginning, every line is logged as it is
//! from that one scan; any finding sends the chunk through line by line. JSON documents
//! (events, state) are redacted string by string ([`Redactor::redact_json`]) so that an
//! escaped quote in a secret cannot hide it. A text with backslash escapes (a JSON line of an
//! agent's stream, a document quoted in one) is scanned as the text they stand for, so a key
//! the agent wrote on a line of its own, after `\n` in the raw bytes, is hidden in the raw
//! log as it is in the events.

use std::borrow::Cow;
use std::sync::Arc;

use super::{escapes, secrets};
use crate::exec::{LineFilter, LogFilter};

/// The shortest environment value that is redacted (shorter ones would match everywhere).
pub const MIN_ENV_VALUE: usize = 8;

/// How many times a text with escapes is read as the text they stand for: a stream line, a
/// document quoted in one of its strings, and one more level of quoting. Each reading can
/// remove as little as one escape (`\u005c` reads as a backslash, which makes the next
/// escape), so without a bound a hostile text would take as many readings as it has bytes.
const DECODINGS: usize = 3;

/// Replaces secrets in text; cheap to share (`Arc`) between the run and its log threads.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// (variable name, value), longest value first.
    values: Vec<(String, String)>,
}

impl Redactor {
    /// From this process's environment.
    pub fn from_env() -> Redactor {
        Redactor::from_vars(
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
        )
    }

    /// From explicit variables; only secret-looking names with long enough values count.
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Redactor {
        let mut values: Vec<(String, String)> = vars
            .into_iter()
            .filter(|(k, v)| secrets::secret_name(k) && v.trim().len() >= MIN_ENV_VALUE)
            .collect();
        values.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
        values.dedup_by(|a, b| a.1 == b.1);
        Redactor { values }
    }

    /// Names of the environment variables whose values are redacted.
    pub fn env_names(&self) -> impl Iterator<Item = &str> {
        self.values.iter().map(|(k, _)| k.as_str())
    }

    /// `text` with every secret replaced; borrowed when there was none.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        // Most strings of an event (its kind, a stage, a tool's name) are too short to hold a
        // secret of any kind: they cost one comparison.
        if text.len() < secrets::SHORTEST_FINDING.min(MIN_ENV_VALUE) {
            return Cow::Borrowed(text);
        }
        let mut spans = self.spans(text, DECODINGS);
        if spans.is_empty() {
            return Cow::Borrowed(text);
        }
        spans.sort_by_key(|s| (s.0, std::cmp::Reverse(s.1)));
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for (start, end, kind) in spans {
            if end <= at {
                continue; // inside a span already replaced
            }
            if start >= at {
                out.push_str(&text[at..start]);
                out.push_str("[REDACTED:");
                out.push_str(&kind);
                out.push(']');
            }
            // An overlapping span just extends the one already written.
            at = end;
        }
        out.push_str(&text[at..]);
        Cow::Owned(out)
    }

    /// The spans of `text` to replace, each with the kind its marker names.
    ///
    /// A text with backslash escapes is scanned as the text they stand for (`escapes.rs`),
    /// which finds what the escapes hide from the raw bytes: a key after `\n`, a value
    /// between `\"`. That text is scanned the same way, up to [`DECODINGS`] readings deep, so
    /// a JSON document quoted inside a string is read as the text its own escapes stand for.
    fn spans(&self, text: &str, decodings: usize) -> Vec<(usize, usize, Cow<'static, str>)> {
        if decodings > 0 {
            if let Cow::Owned(decoded) = escapes::decoded(text) {
                let inner = self.spans(&decoded, decodings - 1);
                if inner.is_empty() {
                    return inner;
                }
                let map = escapes::Offsets::of(text);
                return inner
                    .into_iter()
                    .map(|(start, end, kind)| (map.start(start), map.end(end), kind))
                    .collect();
            }
        }
        let mut spans: Vec<(usize, usize, Cow<'static, str>)> = secrets::find(text)
            .into_iter()
            .map(|f| (f.start, f.end, Cow::Borrowed(f.kind)))
            .collect();
        for (name, value) in &self.values {
            for (pos, _) in text.match_indices(value.as_str()) {
                spans.push((pos, pos + value.len(), Cow::Owned(format!("env:{name}"))));
            }
        }
        spans
    }

    /// Redact every string inside a JSON value; returns whether anything changed.
    pub fn redact_json(&self, v: &mut serde_json::Value) -> bool {
        match v {
            serde_json::Value::String(s) => match self.redact(s) {
                Cow::Owned(r) => {
                    *s = r;
                    true
                }
                Cow::Borrowed(_) => false,
            },
            // Every element must be visited: no short-circuiting `any`.
            serde_json::Value::Array(a) => {
                let mut changed = false;
                for x in a {
                    changed |= self.redact_json(x);
                }
                changed
            }
            serde_json::Value::Object(m) => {
                let mut changed = false;
                for x in m.values_mut() {
                    changed |= self.redact_json(x);
                }
                changed
            }
            _ => false,
        }
    }

    /// The supervisor's log filter: one stateful [`LineRedactor`] per stream.
    pub fn log_filter(self: &Arc<Self>) -> LogFilter {
        let me = Arc::clone(self);
        LogFilter::new(move || Box::new(me.line_redactor()))
    }

    /// A stateful redactor for one stream of lines (a log, a gate's output): every text that
    /// arrives line by line goes through one of these, never through [`Redactor::redact`]
    /// line by line, which cannot see that a line belongs to a key block opened earlier.
    pub fn line_redactor(self: &Arc<Self>) -> LineRedactor {
        LineRedactor {
            redactor: Arc::clone(self),
            in_private_key: false,
        }
    }
}

/// Redacts a stream line by line, hiding the lines of a private key block opened earlier.
pub struct LineRedactor {
    redactor: Arc<Redactor>,
    in_private_key: bool,
}

const KEY_MARK: &str = "[REDACTED:private_key]";

impl LineRedactor {
    /// `line` redacted, knowing the lines before it.
    pub fn redact_line<'a>(&mut self, line: &'a str) -> Cow<'a, str> {
        match self.filter(line) {
            Some(s) => Cow::Owned(s),
            None => Cow::Borrowed(line),
        }
    }
}

impl LineFilter for LineRedactor {
    fn filter(&mut self, line: &str) -> Option<String> {
        if self.in_private_key {
            let Some(end) = line.find("-----END ") else {
                return Some(KEY_MARK.to_string());
            };
            self.in_private_key = false;
            let after = end + "-----END ".len();
            let close = line[after..]
                .find("-----")
                .map(|c| after + c + 5)
                .unwrap_or(line.len());
            return Some(format!(
                "{KEY_MARK}{}",
                self.redactor.redact(&line[close..])
            ));
        }
        if line.contains("-----BEGIN ") {
            self.in_private_key = secrets::find_shapes(line)
                .iter()
                .any(|f| f.kind == "private_key" && !line[f.start..f.end].contains("-----END "));
        }
        match self.redactor.redact(line) {
            Cow::Owned(s) => Some(s),
            Cow::Borrowed(_) => None,
        }
    }

    /// Clean when no key block is open, none begins, and the text as a whole holds no secret.
    /// Whole is as strong as line by line: every matcher stops at a newline the way it stops
    /// at the end of a text (a name never reaches back over one, a value, URL or credential
    /// never runs on through one) and a newline before a line starts it as its start does, so
    /// a secret that one line holds is found in the text that holds that line; and any finding
    /// at all, even one only the whole text has, sends the lines through `filter` one by one.
    fn clean(&mut self, lines: &str) -> bool {
        !self.in_private_key
            && !lines.contains("-----BEGIN ")
            && matches!(self.redactor.redact(lines), Cow::Borrowed(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AWS: &str = "AKIA2QZ7XW4RTY9PLM3K";

    fn env(pairs: &[(&str, &str)]) -> Redactor {
        Redactor::from_vars(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn shapes_and_secret_env_values_are_replaced() {
        let r = env(&[
            ("MY_SERVICE_TOKEN", "supersecretvalue123"),
            ("HOME", "/home/someone/long"),
            ("SHORT_KEY", "abc"),
        ]);
        assert_eq!(r.env_names().collect::<Vec<_>>(), ["MY_SERVICE_TOKEN"]);
        let text = format!("key {AWS} and supersecretvalue123, /home/someone/long stays");
        assert_eq!(
            r.redact(&text),
            "key [REDACTED:aws_access_key_id] and [REDACTED:env:MY_SERVICE_TOKEN], /home/someone/long stays"
        );
        assert!(matches!(r.redact("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn overlapping_matches_collapse_into_one() {
        let r = env(&[("AWS_KEY", AWS), ("OTHER_TOKEN", "RTY9PLM3K-and-more")]);
        let text = format!("{AWS}-and-more!");
        let out = r.redact(&text);
        assert_eq!(out, "[REDACTED:aws_access_key_id]!");
    }

    #[test]
    fn json_strings_are_redacted_in_place() {
        let r = env(&[("DB_PASSWORD", "quote\"inside-pw")]);
        let mut v =
            serde_json::json!({"a": [format!("x {AWS}")], "b": {"c": "quote\"inside-pw"}, "n": 1});
        assert!(r.redact_json(&mut v));
        let s = v.to_string();
        assert!(!s.contains(AWS) && !s.contains("inside-pw"), "{s}");
        let mut clean = serde_json::json!({"a": "fine"});
        assert!(!r.redact_json(&mut clean));
    }

    #[test]
    fn escapes_are_read_as_what_they_stand_for_even_in_a_quoted_document() {
        let r = env(&[("DB_PASSWORD", "q\"uote-pw-long")]);
        // A tool's JSON output, quoted whole inside the stream's own JSON line.
        let inner = serde_json::json!({"log": format!("done\n{AWS}"), "pw": "q\"uote-pw-long"});
        let line = serde_json::json!({"type": "tool_result", "content": inner.to_string()});
        let line = line.to_string();
        assert!(line.contains(r#"\\n"#), "two levels of escapes: {line}");
        let out = r.redact(&line);
        assert!(!out.contains(AWS) && !out.contains("uote-pw"), "{out}");
        let back: serde_json::Value = serde_json::from_str(&out).unwrap();
        let inner: serde_json::Value =
            serde_json::from_str(back["content"].as_str().unwrap()).unwrap();
        assert_eq!(inner["log"], "done\n[REDACTED:aws_access_key_id]");
        assert_eq!(inner["pw"], "[REDACTED:env:DB_PASSWORD]");
    }

    #[test]
    fn escapes_that_unfold_one_level_at_a_time_are_read_to_a_bounded_depth() {
        // Each reading of `\u005c` leaves one backslash, so every level of reading makes the
        // next: a text like this one would take as many readings as it has escapes.
        let hostile = format!("\\{}", "u005c".repeat(200_000));
        assert!(matches!(
            Redactor::default().redact(&hostile),
            Cow::Borrowed(_)
        ));
        // Within the bound: a key in a string of a document quoted in a stream line takes two.
        let doc = serde_json::json!({"inner": format!("x\n{AWS}")}).to_string();
        let line = serde_json::json!({"content": doc}).to_string();
        assert!(!Redactor::default().redact(&line).contains(AWS));
    }

    /// Pieces that make, and almost make, every kind of finding, glued at random into lines.
    const PIECES: &[&str] = &[
        "AKIA2QZ7XW4RTY9PLM3K",
        "AKIA2QZ7",
        "ghp_a1B2c3D4e5a1B2c3D4e5a1B2c3D4e5a1B2c3",
        "sk-ant-api03-Zx9_Qw8-Er7Ty6Zx9_Qw8-Er7Ty6Zx9_Qw8-Er7Ty6",
        "xoxb-1234567890-abcdefghij",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "API_TOKEN",
        "password",
        "9fQ2xL8vR3mZ7kP1wT5y",
        "postgres://app:",
        "s3cr3tPassw0rd@db",
        "-----BEGIN RSA PRIVATE KEY-----",
        "-----END RSA PRIVATE KEY-----",
        "env-secret-value",
        "=", ":", " ", "\"", "'", "A", "-", "_", ".", "x", "{", "}", "\\",
    ];

    fn lines() -> impl proptest::strategy::Strategy<Value = Vec<String>> {
        use proptest::prelude::*;
        let line = proptest::collection::vec(proptest::sample::select(PIECES), 0..8)
            .prop_map(|p| p.concat());
        proptest::collection::vec(line, 0..6)
    }

    proptest::proptest! {
        /// A text the filter calls clean is one whose every line it would keep as it is.
        #[test]
        fn a_clean_batch_is_clean_line_by_line(lines in lines()) {
            let r = Arc::new(env(&[("MY_TOKEN", "env-secret-value")]));
            let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
            let mut batch = r.line_redactor();
            let mut each = r.line_redactor();
            if batch.clean(&text) {
                for l in &lines {
                    proptest::prop_assert_eq!(each.filter(l), None, "{:?}", lines);
                }
            }
        }
    }

    /// `text` as the inside of a JSON string the way an encoder that escapes everything but
    /// ASCII letters and digits writes it (`\/`, `\u0020`, `\u00e9`).
    fn escape_all(text: &str) -> String {
        let mut out = String::new();
        for c in text.chars() {
            match c {
                c if c.is_ascii_alphanumeric() => out.push(c),
                '/' => out.push_str("\\/"),
                c => {
                    let mut units = [0u16; 2];
                    for u in c.encode_utf16(&mut units) {
                        out.push_str(&format!("\\u{u:04x}"));
                    }
                }
            }
        }
        out
    }

    fn texts() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let more = prop_oneof![
            proptest::sample::select(PIECES),
            proptest::sample::select(&["\n", "\t", "\r", "\u{1b}", "\u{e9}", "/", " = "][..]),
        ];
        proptest::collection::vec(more, 0..12).prop_map(|p| p.concat())
    }

    proptest::proptest! {
        /// Whatever the text of a JSON string holds that the redaction of that text hides, the
        /// redaction of the JSON line hides too: read back as the text it encodes, the
        /// redacted line holds no secret the text's own scan finds (each that stands there
        /// once, since the same bytes glued to a word elsewhere are no finding) and no secret
        /// value of the environment.
        #[test]
        fn a_json_line_hides_what_its_strings_hold(text in texts(), all in proptest::bool::ANY) {
            let r = env(&[("MY_TOKEN", "env-secret-value"), ("DB_PASSWORD", "q\"uote\\d-pw")]);
            let inner = if all {
                escape_all(&text)
            } else {
                let quoted = serde_json::to_string(&text).unwrap();
                quoted[1..quoted.len() - 1].to_string()
            };
            let line = format!("{{\"type\":\"text\",\"text\":\"{inner}\",\"n\":1}}");
            let logged = escapes::decode(&r.redact(&line));
            for value in ["env-secret-value", "q\"uote\\d-pw"] {
                proptest::prop_assert!(!logged.contains(value), "{:?} -> {:?}", line, logged);
            }
            for f in secrets::find(&text) {
                let secret = &text[f.start..f.end];
                if text.matches(secret).count() == 1 {
                    proptest::prop_assert!(!logged.contains(secret), "{:?} -> {:?}", line, logged);
                }
            }
        }
    }

    #[test]
    fn a_batch_is_clean_only_without_secrets_or_an_open_key_block() {
        let r = Arc::new(env(&[("MY_TOKEN", "env-secret-value")]));
        let mut f = r.line_redactor();
        assert!(f.clean("fine\nalso fine\n"));
        assert!(!f.clean(&format!("fine\nkey {AWS}\n")));
        assert!(!f.clean("x env-secret-value y\n"));
        assert!(!f.clean("-----BEGIN RSA PRIVATE KEY-----\n"));
        assert_eq!(
            f.filter("-----BEGIN RSA PRIVATE KEY-----").as_deref(),
            Some("[REDACTED:private_key]")
        );
        assert!(!f.clean("MIIEowIBAAKCAQEA\n"), "a key block is open");
    }

    #[test]
    fn the_line_filter_hides_a_private_key_block_across_lines() {
        let r = Arc::new(Redactor::default());
        let mut f = r.log_filter().start();
        let lines = [
            "log start",
            "-----BEGIN RSA PRIVATE KEY-----",
            "MIIEowIBAAKCAQEAsecretbody",
            "-----END RSA PRIVATE KEY----- tail",
            "after",
        ];
        let out: Vec<String> = lines
            .iter()
            .map(|l| f.filter(l).unwrap_or_else(|| l.to_string()))
            .collect();
        assert_eq!(
            out,
            [
                "log start",
                "[REDACTED:private_key]",
                "[REDACTED:private_key]",
                "[REDACTED:private_key] tail",
                "after"
            ]
        );
    }
}
