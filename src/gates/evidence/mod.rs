//! Evidence from a failed quality gate: the failures a tool printed, a bounded tail of its
//! output, and a stable signature of the failure set.
//!
//! The fix loop feeds [`Failure`]s to the agent and compares [`signature`]s between attempts to
//! notice a loop that is stuck on the same failures. The parsers read what ruff, pytest and
//! `python -m unittest` print (as captured from ruff 0.17, pytest 9 and Python 3.11) line by
//! line without regexes, so they stay cheap and cannot panic on any input; each falls back to a
//! more generic reading when it finds nothing, and the generic parser understands the
//! `path:line[:col]: message` and `--> path:line:col` shapes most compilers and linters share.
//! `python -m unittest` gets its own [`ParserKind::Unittest`] because its report has nothing in
//! common with pytest's. Signatures hash a normalised form in which timings, temporary paths,
//! memory addresses, pids, timestamps and line order no longer matter.

//!
//! One file per reader: `ruff.rs`, `pytest.rs`, `unittest.rs` and `generic.rs`, with the
//! location shapes the ruff and generic readers share in `location.rs`, and the signature with
//! its normalisation in `signature.rs`. Their tests read tool output captured verbatim, kept in
//! `captured.rs`.

use serde::{Deserialize, Serialize};

#[cfg(test)]
mod captured;
mod generic;
mod location;
mod pytest;
mod ruff;
mod signature;
mod unittest;

pub use signature::signature;

use generic::parse_generic;
use pytest::parse_pytest;
use ruff::parse_ruff;
use unittest::parse_unittest;

pub use crate::model::gate::Failure;

/// Which reader to apply to a gate's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParserKind {
    Ruff,
    Pytest,
    Unittest,
    Generic,
}

/// At most this many failures are returned: enough to fix, small enough for a prompt.
pub const MAX_FAILURES: usize = 50;

/// Longest failure message kept, in characters.
pub(super) const MAX_MESSAGE_CHARS: usize = 300;

/// The parser for a gate, from its command line first and its name second: "ruff" → Ruff,
/// "pytest" (also `python -m pytest`) → Pytest, "unittest" → Unittest, else Generic.
pub fn guess_parser(name: &str, command: &str, args: &[String]) -> ParserKind {
    let mut line = command.to_ascii_lowercase();
    for a in args {
        line.push(' ');
        line.push_str(&a.to_ascii_lowercase());
    }
    match classify(&line) {
        ParserKind::Generic => classify(&name.to_ascii_lowercase()),
        kind => kind,
    }
}

fn classify(s: &str) -> ParserKind {
    if s.contains("ruff") {
        ParserKind::Ruff
    } else if s.contains("pytest") || s.contains("py.test") {
        ParserKind::Pytest
    } else if s.contains("unittest") {
        ParserKind::Unittest
    } else {
        ParserKind::Generic
    }
}

/// The failures in a gate's output (stdout and stderr together), at most [`MAX_FAILURES`].
pub fn parse_failures(kind: ParserKind, output: &str) -> Vec<Failure> {
    let clean = strip_ansi(output);
    let lines: Vec<&str> = clean.lines().collect();
    let mut found = match kind {
        ParserKind::Ruff => parse_ruff(&lines),
        ParserKind::Pytest => parse_pytest(&lines),
        ParserKind::Unittest => parse_unittest(&lines),
        ParserKind::Generic => Vec::new(),
    };
    if kind == ParserKind::Pytest && !clean.contains("short test summary info") {
        // `pytest` gates sometimes run unittest; its report has FAILED/ERROR lines of its own.
        let unittest = parse_unittest(&lines);
        if !unittest.is_empty() {
            found = unittest;
        }
    }
    if found.is_empty() {
        found = parse_generic(&lines);
    }
    found.truncate(MAX_FAILURES);
    for f in &mut found {
        f.message = clip(f.message.trim(), MAX_MESSAGE_CHARS);
    }
    found
}

/// The last `max_lines` lines of `output`, further cut to at most `max_bytes` bytes (at a line
/// boundary where possible, never inside a UTF-8 character).
pub fn tail(output: &str, max_lines: usize, max_bytes: usize) -> String {
    let lines: Vec<&str> = output.lines().collect();
    let from = lines.len().saturating_sub(max_lines);
    let joined = lines[from..].join("\n");
    if joined.len() <= max_bytes {
        return joined;
    }
    let mut cut = joined.len() - max_bytes;
    while !joined.is_char_boundary(cut) {
        cut += 1;
    }
    let rest = &joined[cut..];
    match rest.find('\n') {
        Some(nl) if nl + 1 < rest.len() && cut > 0 && !joined[..cut].ends_with('\n') => {
            rest[nl + 1..].to_string()
        }
        _ => rest.to_string(),
    }
}

/// Remove ANSI escape sequences (CSI `ESC [ ... letter` and two-byte escapes).
pub(super) fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'[') {
            chars.next();
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() || d == '~' {
                    break;
                }
            }
        } else {
            chars.next();
        }
    }
    out
}

/// Cut `s` to `max` characters, marking the cut.
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let cut: String = s.chars().take(max - 1).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use captured::*;
    use signature::normalise;

    #[test]
    fn failures_are_capped_and_messages_clipped() {
        let many: String = (1..=80)
            .map(|i| format!("src/a.py:{i}:1: E501 Line too long ({} > 88)\n", 88 + i))
            .collect();
        let got = parse_failures(ParserKind::Ruff, &many);
        assert_eq!(got.len(), MAX_FAILURES);
        assert_eq!(got[49].line, Some(50));
        let long = format!("src/a.py:1:1: E501 {}\n", "é".repeat(1000));
        let got = parse_failures(ParserKind::Ruff, &long);
        assert_eq!(got[0].message.chars().count(), MAX_MESSAGE_CHARS);
    }

    #[test]
    fn guesses_the_parser() {
        let a = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            guess_parser("lint", "ruff", &a(&["check", "."])),
            ParserKind::Ruff
        );
        assert_eq!(
            guess_parser("lint", "uv", &a(&["run", "ruff", "check"])),
            ParserKind::Ruff
        );
        assert_eq!(
            guess_parser("ruff", "make", &a(&["lint"])),
            ParserKind::Ruff
        );
        assert_eq!(guess_parser("tests", "pytest", &[]), ParserKind::Pytest);
        assert_eq!(
            guess_parser("tests", "python3", &a(&["-m", "pytest", "-q"])),
            ParserKind::Pytest
        );
        assert_eq!(
            guess_parser("tests", "python3", &a(&["-m", "unittest", "discover"])),
            ParserKind::Unittest
        );
        assert_eq!(
            guess_parser("pytest", "python3 -m unittest", &[]),
            ParserKind::Unittest
        );
        assert_eq!(
            guess_parser("build", "cargo", &a(&["build"])),
            ParserKind::Generic
        );
        assert_eq!(
            guess_parser("Tests", "/usr/bin/PYTEST", &[]),
            ParserKind::Pytest
        );
    }

    #[test]
    fn tail_limits_lines_and_bytes() {
        assert_eq!(tail("a\nb\nc\nd\n", 2, 100), "c\nd");
        assert_eq!(tail("a\r\nb\r\n", 5, 100), "a\nb");
        assert_eq!(tail("aaaa\nbbbb\ncccc", 10, 9), "bbbb\ncccc");
        assert_eq!(tail("aaaa\nbbbb\ncccc", 10, 7), "cccc");
        assert_eq!(tail("aaaa\nbbbbbbbbbb", 10, 4), "bbbb");
        assert_eq!(tail("ééééé", 10, 3), "é");
        assert_eq!(tail("x\ny", 0, 100), "");
        assert_eq!(tail("", 10, 10), "");
        assert_eq!(tail("abc", 10, 0), "");
    }

    #[test]
    fn every_insertion_into_short_lines_is_safe() {
        let lines = [
            "src/app.py:1:8: F401 [*] `sys` imported but unused",
            " --> src/app.py:1:1",
            "FAILED tests/t.py::T::test_a - assert 1 == 2 in 0.12s",
            "2024-05-01T12:00:01Z pid 42 0x7f /tmp/tmpab12cd/x 12:00:01 3 ms",
        ];
        let noise = [
            "\u{3000}",
            "é",
            "\u{1b}[",
            ":",
            "0x",
            "/tmp/",
            "pid ",
            "2024-01-01T",
            "9:",
        ];
        for line in lines {
            for (pos, _) in line.char_indices().chain([(line.len(), ' ')]) {
                for n in noise {
                    let text = format!("{}{n}{}", &line[..pos], &line[pos..]);
                    for kind in [
                        ParserKind::Ruff,
                        ParserKind::Pytest,
                        ParserKind::Unittest,
                        ParserKind::Generic,
                    ] {
                        let _ = parse_failures(kind, &text);
                    }
                    let _ = normalise(&text);
                    let _ = tail(&text, 1, pos);
                }
            }
        }
        let got = parse_failures(ParserKind::Ruff, "x\u{3000}src/a.py:1:2: F401 m");
        assert_eq!(got, vec![f("src/a.py", 1, "F401", "m")]);
    }

    #[test]
    fn garbage_never_panics() {
        let seeds = [
            RUFF_CONCISE,
            RUFF_FULL,
            RUFF_FORMAT,
            PYTEST_LONG,
            PYTEST_SHORT,
            PYTEST_LINE,
            PYTEST_COLLECT,
            UNITTEST,
        ];
        let noise = [
            "\n",
            ":",
            "::",
            " - ",
            "0x",
            "\u{1b}[",
            "\u{1b}",
            "=====================",
            "_____ ",
            "E ",
            "File \"",
            ", line ",
            "-->",
            "é",
            "\u{3000}",
            "\u{a0}",
            "9999999999",
            "\r",
            "(",
            ")",
        ];
        let kinds = [
            ParserKind::Ruff,
            ParserKind::Pytest,
            ParserKind::Unittest,
            ParserKind::Generic,
        ];
        let mut rng = 0x853c49e6748fea9bu64;
        for seed in seeds {
            for _ in 0..60 {
                let mut s: Vec<char> = seed.chars().collect();
                for _ in 0..4 {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    let pos = (rng as usize) % (s.len() + 1);
                    let cut = (rng >> 20) as usize % 30;
                    s.splice(
                        pos..(pos + cut).min(s.len()),
                        noise[(rng >> 40) as usize % noise.len()].chars(),
                    );
                }
                let text: String = s.into_iter().collect();
                for kind in kinds {
                    let got = parse_failures(kind, &text);
                    assert!(got.len() <= MAX_FAILURES);
                    assert!(got
                        .iter()
                        .all(|f| f.message.chars().count() <= MAX_MESSAGE_CHARS));
                    let _ = signature("g", Some(1), &got, &text);
                }
                let _ = tail(&text, (rng % 7) as usize, (rng >> 8) as usize % 200);
                let _ = normalise(&text);
            }
        }
    }
}
