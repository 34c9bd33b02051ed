//! The signature of a failure set, which the fix loop compares between attempts to notice that
//! it is stuck: FNV-1a 64 over a normalised form in which timings, temporary paths, memory
//! addresses, pids, timestamps and line order no longer matter.

use super::{strip_ansi, tail, Failure};

/// A stable signature of a failure set, used to detect a fix loop that is stuck: equal for the
/// same failures even if timings, tmp paths, memory addresses, pids or line ordering differ.
/// FNV-1a 64 over a normalised form, as 16 hex digits. Without parsed failures, the last
/// 40 lines of the output are normalised instead.
pub fn signature(gate: &str, exit_code: Option<i32>, failures: &[Failure], output: &str) -> String {
    let mut lines: Vec<String> = if failures.is_empty() {
        tail(&strip_ansi(output), 40, 16 * 1024)
            .lines()
            .map(normalise)
            .filter(|l| !l.is_empty())
            .collect()
    } else {
        failures
            .iter()
            .map(|f| {
                normalise(&format!(
                    "{}:{}:{}: {}",
                    f.file.as_deref().unwrap_or(""),
                    f.line.map(|n| n.to_string()).unwrap_or_default(),
                    f.code.as_deref().unwrap_or(""),
                    f.message
                ))
            })
            .collect()
    };
    lines.sort();
    let exit = exit_code
        .map(|c| c.to_string())
        .unwrap_or_else(|| "none".into());
    let body = format!("gate={gate}\nexit={exit}\n{}", lines.join("\n"));
    format!("{:016x}", fnv1a64(body.as_bytes()))
}

fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Temporary-directory prefixes whose contents differ from run to run.
const TMP_PREFIXES: &[&str] = &[
    "/tmp/",
    "/private/tmp/",
    "/var/folders/",
    "/private/var/folders/",
    "/var/tmp/",
];

/// Units after a number that make it a duration or a size.
const UNITS: &[&str] = &[
    "ns", "us", "µs", "μs", "ms", "s", "sec", "secs", "second", "seconds", "min", "mins", "minute",
    "minutes", "h", "hr", "hrs", "hour", "hours", "b", "kb", "mb", "gb", "kib", "mib", "gib",
];

/// Words after which a number is an id that changes between runs.
const ID_WORDS: &[&str] = &["pid", "process", "thread", "localhost:", "127.0.0.1:"];

/// One line with the run-to-run noise replaced by placeholders, trimmed.
pub(super) fn normalise(line: &str) -> String {
    let s = line.trim();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let rest = &s[i..];
        let prev = s[..i].chars().next_back();
        let boundary = prev.is_none_or(|c| !c.is_alphanumeric() && c != '_');
        if boundary {
            if let Some(n) = hex_len(rest) {
                out.push_str("0x#");
                i += n;
                continue;
            }
            if let Some(p) = TMP_PREFIXES.iter().find(|p| rest.starts_with(**p)) {
                let end = rest
                    .find(|c: char| c.is_whitespace() || "'\"():,;[]<>".contains(c))
                    .unwrap_or(rest.len());
                let path = &rest[..end];
                let base = path[p.len()..].rsplit('/').next().unwrap_or("");
                out.push_str("<tmp>/");
                out.push_str(&normalise_tmp_name(base));
                i += end;
                continue;
            }
            if let Some(w) = ID_WORDS.iter().find(|w| {
                rest.len() >= w.len()
                    && rest.is_char_boundary(w.len())
                    && rest[..w.len()].eq_ignore_ascii_case(w)
            }) {
                let after = &rest[w.len()..];
                let sep = after.len() - after.trim_start_matches([' ', '=', ':', '#']).len();
                let digits = after[sep..].len()
                    - after[sep..]
                        .trim_start_matches(|c: char| c.is_ascii_digit())
                        .len();
                let word_ends =
                    w.ends_with(':') || !after.starts_with(|c: char| c.is_alphanumeric());
                if digits > 0 && word_ends {
                    out.push_str(w);
                    if !w.ends_with(':') {
                        out.push(' ');
                    }
                    out.push_str("<id>");
                    i += w.len() + sep + digits;
                    continue;
                }
            }
            if rest.starts_with(|c: char| c.is_ascii_digit()) {
                let (n, placeholder) = number_token(rest);
                out.push_str(placeholder.unwrap_or(&rest[..n]));
                i += n;
                continue;
            }
            if let Some(name) = rest.strip_prefix("tmp") {
                let n = name
                    .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                    .unwrap_or(name.len());
                if n >= 6 {
                    out.push_str("tmp#");
                    i += 3 + n;
                    continue;
                }
            }
        }
        let c = rest.chars().next().unwrap_or(' ');
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// `tmpab12cd34` → `tmp#`; other names unchanged.
fn normalise_tmp_name(name: &str) -> String {
    match name.strip_prefix("tmp") {
        Some(r) if r.len() >= 6 => "tmp#".into(),
        _ => name.to_string(),
    }
}

/// Length of a `0x` hex literal at the start of `s`.
fn hex_len(s: &str) -> Option<usize> {
    let r = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X"))?;
    let n = r.len() - r.trim_start_matches(|c: char| c.is_ascii_hexdigit()).len();
    (n > 0).then_some(2 + n)
}

/// A number at the start of `s`: a timestamp, a time of day, a duration or size (all replaced),
/// or a plain number (kept: `None`). Returns (bytes consumed, placeholder).
fn number_token(s: &str) -> (usize, Option<&'static str>) {
    let b = s.as_bytes();
    let digits_at =
        |i: usize, n: usize| i + n <= b.len() && b[i..i + n].iter().all(u8::is_ascii_digit);
    let frac = |mut i: usize| {
        if i + 1 < b.len() && (b[i] == b'.' || b[i] == b',') && b[i + 1].is_ascii_digit() {
            i += 1;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
        }
        i
    };
    let time_at = |i: usize| -> Option<usize> {
        let h = if digits_at(i, 2) {
            2
        } else if digits_at(i, 1) {
            1
        } else {
            return None;
        };
        let j = i + h;
        (b.get(j) == Some(&b':')
            && digits_at(j + 1, 2)
            && b.get(j + 3) == Some(&b':')
            && digits_at(j + 4, 2))
        .then(|| frac(j + 6))
    };
    // 2024-05-01[T 12:00:00[.123][Z|+02:00]]
    if digits_at(0, 4)
        && b.get(4) == Some(&b'-')
        && digits_at(5, 2)
        && b.get(7) == Some(&b'-')
        && digits_at(8, 2)
    {
        let mut end = 10;
        if matches!(b.get(10), Some(b'T') | Some(b' ')) {
            if let Some(t) = time_at(11) {
                end = t;
                if b.get(end) == Some(&b'Z') {
                    end += 1;
                } else if matches!(b.get(end), Some(b'+') | Some(b'-')) && digits_at(end + 1, 2) {
                    end += 3;
                    if b.get(end) == Some(&b':') && digits_at(end + 1, 2) {
                        end += 3;
                    } else if digits_at(end, 2) {
                        end += 2;
                    }
                }
            }
        }
        return (end, Some("<ts>"));
    }
    if let Some(end) = time_at(0) {
        return (end, Some("<time>"));
    }
    let mut end = 0;
    while end < b.len() && b[end].is_ascii_digit() {
        end += 1;
    }
    let num_end = frac(end);
    let after = &s[num_end..];
    let unit_start = if after.starts_with(' ') { 1 } else { 0 };
    let unit_text = &after[unit_start..];
    let unit_len = unit_text
        .find(|c: char| !c.is_alphabetic())
        .unwrap_or(unit_text.len());
    let unit = unit_text[..unit_len].to_lowercase();
    // "0.12s", "3 ms", "12MB" (a one-letter unit must be attached: "4 b" is not a size)
    let unit_ok = unit_len > 0 && !(unit_start == 1 && unit.chars().count() == 1);
    if unit_ok && UNITS.contains(&unit.as_str()) {
        return (num_end + unit_start + unit_len, Some("<dur>"));
    }
    // a plain number: kept (digits are ASCII, so `end` is a char boundary)
    (end, None)
}

#[cfg(test)]
mod tests {
    use super::super::captured::*;
    use super::super::{parse_failures, ParserKind};
    use super::*;

    #[test]
    fn signature_ignores_timings_addresses_tmp_paths_and_order() {
        let a = parse_failures(ParserKind::Pytest, PYTEST_LONG);
        let noisy = PYTEST_LONG
            .replace("0x7f3a2b1c", "0x55d0c0ffee")
            .replace("in 0.08s", "in 3.51s");
        let mut b = parse_failures(ParserKind::Pytest, &noisy);
        b.reverse();
        assert_eq!(
            signature("tests", Some(1), &a, PYTEST_LONG),
            signature("tests", Some(1), &b, &noisy)
        );
        let sig = signature("tests", Some(1), &a, "");
        assert_eq!(sig.len(), 16);
        assert!(sig.chars().all(|c| c.is_ascii_hexdigit()));

        let moved = UNITTEST
            .replace("/tmp/cap", "/tmp/.tmpQ7xZk2")
            .replace("0.002s", "0.131s");
        assert_eq!(
            signature(
                "t",
                Some(1),
                &parse_failures(ParserKind::Unittest, UNITTEST),
                UNITTEST
            ),
            signature(
                "t",
                Some(1),
                &parse_failures(ParserKind::Unittest, &moved),
                &moved
            )
        );
    }

    #[test]
    fn signature_differs_for_different_failures() {
        let a = parse_failures(ParserKind::Pytest, PYTEST_LONG);
        let other = PYTEST_LONG.replace("assert -2 == 4", "assert -3 == 4");
        let b = parse_failures(ParserKind::Pytest, &other);
        let base = signature("tests", Some(1), &a, "");
        assert_ne!(base, signature("tests", Some(1), &b, ""));
        assert_ne!(base, signature("tests", Some(1), &a[1..], ""));
        assert_ne!(base, signature("lint", Some(1), &a, ""));
        assert_ne!(base, signature("tests", Some(2), &a, ""));
        assert_ne!(base, signature("tests", None, &a, ""));
        let mut c = a.clone();
        c[0].line = Some(8);
        assert_ne!(base, signature("tests", Some(1), &c, ""));
    }

    #[test]
    fn generic_signature_normalises_the_tail() {
        let run1 = "2024-05-01T12:00:01.123Z building in /tmp/.tmpAbC123/work\nworker pid 4242 crashed at 0x7ffd1234 after 1.52s\nserver on 127.0.0.1:40121 stopped at 12:00:03\nerror: link failed: /tmp/.tmpAbC123/work/out.o: undefined reference to `foo'\nused 12.5 MB\n";
        let run2 = "server on 127.0.0.1:51812 stopped at 09:41:17\nworker PID 977 crashed at 0x55aa00 after 130ms\n2025-11-30 08:15:00+02:00 building in /tmp/.tmpZZ9yx1/work\nused 3.1 MB\nerror: link failed: /tmp/.tmpZZ9yx1/work/out.o: undefined reference to `foo'\n";
        assert_eq!(
            signature("build", Some(2), &[], run1),
            signature("build", Some(2), &[], run2)
        );
        let run3 = run2.replace("`foo'", "`bar'");
        assert_ne!(
            signature("build", Some(2), &[], run1),
            signature("build", Some(2), &[], &run3)
        );
        // plain numbers are meaningful and kept
        assert_ne!(
            signature("g", Some(1), &[], "expected 3 got 4"),
            signature("g", Some(1), &[], "expected 3 got 5")
        );
    }

    #[test]
    fn normalise_examples() {
        let cases = [
            ("6 failed, 1 passed in 0.08s", "6 failed, 1 passed in <dur>"),
            ("Ran 5 tests in 0.002s", "Ran 5 tests in <dur>"),
            ("took 3 ms, 1.5 seconds, 2h", "took <dur>, <dur>, <dur>"),
            ("object at 0x7f3a2b1c>", "object at 0x#>"),
            (
                "rootdir: /tmp/pytest-of-root/pytest-3/test_a0",
                "rootdir: <tmp>/test_a0",
            ),
            (
                "File \"/tmp/.tmpAbc123/tests/t.py\", line 4",
                "File \"<tmp>/t.py\", line 4",
            ),
            ("/private/var/folders/x1/abc/T/tmpk2j3h4l5", "<tmp>/tmp#"),
            (
                "pid=31337 process 12 thread #4 Pid: 9",
                "pid <id> process <id> thread <id> pid <id>",
            ),
            (
                "localhost:8080 pidgin 4 processing 5",
                "localhost:<id> pidgin 4 processing 5",
            ),
            (
                "at 2024-01-02T03:04:05.678+01:00 and 2024-01-02",
                "at <ts> and <ts>",
            ),
            ("[12:34:56] start", "[<time>] start"),
            (
                "src/app.py:10:20: F401 unused",
                "src/app.py:10:20: F401 unused",
            ),
            ("pytest-9.2.0 assert 4 b", "pytest-9.2.0 assert 4 b"),
            ("tmpfile and tmpdir stay", "tmpfile and tmpdir stay"),
            ("µ 5µs ü", "µ <dur> ü"),
        ];
        for (input, want) in cases {
            assert_eq!(normalise(input), want, "{input}");
        }
    }
}
