//! pytest's reports: the `short test summary info` lines first, and the `____ name ____`
//! sections of its FAILURES / ERRORS report for the location and the assertion (`E` lines),
//! in every traceback style (`--tb=long`, `short`, `line`), plus collection and usage errors.

use super::location::find_location;
use super::Failure;

/// One `____ name ____` section of pytest's FAILURES / ERRORS report.
#[derive(Default)]
struct Section<'a> {
    name: &'a str,
    e_lines: Vec<&'a str>,
    /// `path:line: ...` lines, in order.
    locations: Vec<(&'a str, u32)>,
}

pub(super) fn parse_pytest(lines: &[&str]) -> Vec<Failure> {
    let sections = pytest_sections(lines);
    let mut out = Vec::new();
    for line in lines {
        let (kind, rest) = if let Some(r) = line.strip_prefix("FAILED ") {
            ("failed", r)
        } else if let Some(r) = line.strip_prefix("ERROR ") {
            ("error", r)
        } else if let Some(r) = line.strip_prefix("ERROR: ") {
            // pytest's own usage errors: "ERROR: file or directory not found: tests"
            out.push(Failure {
                file: None,
                line: None,
                code: None,
                message: r.trim().to_string(),
            });
            continue;
        } else {
            continue;
        };
        if rest.starts_with('(') {
            continue; // unittest's "FAILED (failures=1)"
        }
        let (nodeid, summary) = match rest.split_once(" - ") {
            Some((n, m)) => (n.trim(), m.trim()),
            None => (rest.trim(), ""),
        };
        let (file, test) = nodeid.split_once("::").unwrap_or((nodeid, ""));
        let section = find_section(&sections, file, test);
        let first_e = section.and_then(|s| s.e_lines.iter().find(|l| !l.trim().is_empty()));
        let message = match first_e {
            Some(e) => e.trim().to_string(),
            None if !summary.is_empty() => summary.to_string(),
            None => kind.to_string(),
        };
        let line_no = section.and_then(|s| {
            s.locations
                .iter()
                .rev()
                .find(|(f, _)| *f == file)
                .map(|(_, n)| *n)
        });
        out.push(Failure {
            file: Some(file.to_string()),
            line: line_no,
            code: (!test.is_empty()).then(|| test.to_string()),
            message,
        });
    }
    if out.is_empty() {
        // No short summary (`-rN`, old pytest): one failure per section.
        for s in &sections {
            let (file, code) = match s.name.strip_prefix("ERROR collecting ") {
                Some(f) => (Some(f.to_string()), None),
                None => (
                    s.locations.first().map(|(f, _)| f.to_string()),
                    Some(s.name.to_string()),
                ),
            };
            let line = file.as_deref().and_then(|f| {
                s.locations
                    .iter()
                    .rev()
                    .find(|(lf, _)| *lf == f)
                    .map(|(_, n)| *n)
            });
            let message = s
                .e_lines
                .iter()
                .find(|l| !l.trim().is_empty())
                .map(|l| l.trim().to_string())
                .unwrap_or_else(|| "failed".into());
            out.push(Failure {
                file,
                line,
                code,
                message,
            });
        }
    }
    out
}

fn pytest_sections<'a>(lines: &[&'a str]) -> Vec<Section<'a>> {
    let mut out: Vec<Section<'a>> = Vec::new();
    let mut in_report = false;
    for line in lines {
        if let Some(title) = banner(line, '=') {
            in_report = title == "FAILURES" || title == "ERRORS";
            continue;
        }
        if !in_report {
            continue;
        }
        if let Some(name) = banner(line, '_') {
            out.push(Section {
                name,
                ..Section::default()
            });
            continue;
        }
        let Some(cur) = out.last_mut() else { continue };
        if let Some(e) = line.strip_prefix("E ") {
            cur.e_lines.push(e);
        } else if *line == "E" {
            cur.e_lines.push("");
        } else if !line.starts_with(' ') {
            if let Some(loc) = find_location(line, false) {
                if loc.file.len() == line.find(':').unwrap_or(0) {
                    cur.locations.push((loc.file, loc.line));
                }
            }
        }
    }
    out
}

/// `==== TITLE ====` → "TITLE" (at least three fill characters each side).
fn banner(line: &str, fill: char) -> Option<&str> {
    let t = line.trim();
    let left = t.len() - t.trim_start_matches(fill).len();
    let right = t.len() - t.trim_end_matches(fill).len();
    if left < 3 || right < 3 || left + right >= t.len() {
        return None;
    }
    let title = t[left..t.len() - right].trim();
    (!title.is_empty()).then_some(title)
}

/// The section for `tests/x.py::TestA::test_b[1]`: named `TestA.test_b[1]`, or
/// `ERROR collecting tests/x.py`, or `ERROR at setup of test_b[1]`.
fn find_section<'s, 'a>(
    sections: &'s [Section<'a>],
    file: &str,
    test: &str,
) -> Option<&'s Section<'a>> {
    let dotted = test.replace("::", ".");
    let last = test.rsplit("::").next().unwrap_or(test);
    sections.iter().find(|s| {
        (!test.is_empty() && s.name == dotted)
            || (test.is_empty() && s.name.strip_prefix("ERROR collecting ") == Some(file))
            || (!test.is_empty()
                && (s.name.strip_prefix("ERROR at setup of ") == Some(last)
                    || s.name.strip_prefix("ERROR at teardown of ") == Some(last)))
    })
}

#[cfg(test)]
mod tests {
    use super::super::captured::*;
    use super::super::{parse_failures, Failure, ParserKind};

    #[test]
    fn pytest_long_and_short_tracebacks() {
        assert_eq!(
            parse_failures(ParserKind::Pytest, PYTEST_LONG),
            pytest_expected()
        );
        assert_eq!(
            parse_failures(ParserKind::Pytest, PYTEST_SHORT),
            pytest_expected()
        );
    }

    #[test]
    fn pytest_without_summary_uses_sections() {
        let no_summary = PYTEST_LONG
            .split("=========================== short test summary info")
            .next()
            .unwrap();
        let got = parse_failures(ParserKind::Pytest, no_summary);
        let codes: Vec<_> = got.iter().map(|f| f.code.clone().unwrap()).collect();
        assert_eq!(
            codes,
            [
                "test_add",
                "TestOps.test_add",
                "TestOps.test_list",
                "test_param[1-1-2]",
                "test_param[2-2-4]",
                "test_raises"
            ]
        );
        assert_eq!(got[0].file.as_deref(), Some("tests/test_ops.py"));
        assert_eq!(got[0].line, Some(7));
        assert_eq!(got[5].message, "RuntimeError: boom at 0x7f3a2b1c");
    }

    #[test]
    fn pytest_summary_without_sections_uses_its_messages() {
        let summary_only =
            "FAILED tests/test_ops.py::test_add - assert -2 == 4\nFAILED tests/test_x.py::test_y\n";
        assert_eq!(
            parse_failures(ParserKind::Pytest, summary_only),
            vec![
                Failure {
                    file: Some("tests/test_ops.py".into()),
                    line: None,
                    code: Some("test_add".into()),
                    message: "assert -2 == 4".into()
                },
                Failure {
                    file: Some("tests/test_x.py".into()),
                    line: None,
                    code: Some("test_y".into()),
                    message: "failed".into()
                },
            ]
        );
    }

    #[test]
    fn pytest_line_tracebacks_fall_back_to_locations() {
        let got = parse_failures(ParserKind::Pytest, PYTEST_LINE);
        assert_eq!(got.len(), 6);
        assert_eq!(
            got[0],
            f("/tmp/cap/tests/test_ops.py", 7, "", "assert -2 == 4")
        );
    }

    #[test]
    fn pytest_collection_and_usage_errors() {
        assert_eq!(
            parse_failures(ParserKind::Pytest, PYTEST_COLLECT),
            vec![Failure {
                file: Some("tests/test_broken.py".into()),
                line: Some(1),
                code: None,
                message:
                    "ImportError: cannot import name 'mul' from 'calc.ops' (/tmp/cap/calc/ops.py)"
                        .into(),
            }]
        );
        assert_eq!(
            parse_failures(ParserKind::Pytest, PYTEST_USAGE),
            vec![Failure {
                file: None,
                line: None,
                code: None,
                message: "file or directory not found: nosuchdir".into()
            }]
        );
    }
}
