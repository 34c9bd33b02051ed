//! `--junit PATH`: every gate run of a run as JUnit XML, for CI systems that chart test results.
//!
//! The source is `events.jsonl`, not `state.json`: the state keeps only the gates of each
//! item's last verified attempt, while the event history has every `gate_finished` of every
//! attempt, across resumes. Each gate run is one `<testcase>` (`<gate> (attempt <n>)`) in a
//! `<testsuite>` per backlog item. A failed gate is a `<failure>` (type `gate_failed`, or
//! `optional_gate_failed` for a gate with `required: false`), a gate that could not run or was
//! stopped (missing program, timeout) an `<error>`; both carry the log's tail in CDATA. The XML
//! is written by hand, which is little code and keeps escaping in one tested place: attribute
//! text is entity-escaped, CDATA is split around any `]]>`, and characters XML 1.0 forbids
//! (most control characters, which test output does contain) become U+FFFD. The file is
//! written atomically.

use std::fmt::Write as _;
use std::path::Path;

use crate::error::Result;
use crate::gates::GateResult;
use crate::model::EventKind;
use crate::text::{markup_entity, replace_chars};

/// One gate run of one item attempt.
#[derive(Debug, Clone)]
pub struct GateRun {
    pub item: String,
    pub attempt: u32,
    pub result: GateResult,
}

/// Every gate run recorded in an `events.jsonl`, in order.
pub fn gate_runs(events: &Path) -> Vec<GateRun> {
    let mut out = Vec::new();
    crate::store::events::for_each_event(events, |ev| {
        if let EventKind::GateFinished {
            item,
            attempt,
            result,
        } = ev.kind
        {
            out.push(GateRun {
                item,
                attempt,
                result,
            });
        }
        true
    });
    out
}

/// The JUnit XML document for `runs` of run `run_id`.
pub fn junit_xml(run_id: &str, runs: &[GateRun]) -> String {
    let mut items: Vec<&str> = Vec::new();
    for r in runs {
        if !items.contains(&r.item.as_str()) {
            items.push(&r.item);
        }
    }
    let count = |rs: &[&GateRun]| {
        let failures = rs
            .iter()
            .filter(|r| !r.result.passed && r.result.error.is_none())
            .count();
        let errors = rs
            .iter()
            .filter(|r| !r.result.passed && r.result.error.is_some())
            .count();
        let ms: u64 = rs.iter().map(|r| r.result.duration_ms).sum();
        (rs.len(), failures, errors, ms)
    };
    let all: Vec<&GateRun> = runs.iter().collect();
    let (tests, failures, errors, ms) = count(&all);
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{}\">",
        attr(&format!("orx {run_id}")),
        seconds(ms)
    );
    for item in items {
        let rs: Vec<&GateRun> = runs.iter().filter(|r| r.item == item).collect();
        let (tests, failures, errors, ms) = count(&rs);
        let _ = writeln!(
            x,
            "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"0\" time=\"{}\">",
            attr(item),
            seconds(ms)
        );
        for r in rs {
            testcase(&mut x, run_id, r);
        }
        x.push_str("  </testsuite>\n");
    }
    x.push_str("</testsuites>\n");
    x
}

fn testcase(x: &mut String, run_id: &str, r: &GateRun) {
    let g = &r.result;
    let _ = write!(
        x,
        "    <testcase classname=\"{}\" name=\"{}\" time=\"{}\"",
        attr(&format!("orx.{run_id}.{}", r.item)),
        attr(&format!("{} (attempt {})", g.name, r.attempt)),
        seconds(g.duration_ms)
    );
    if g.passed {
        x.push_str("/>\n");
        return;
    }
    x.push_str(">\n");
    let (tag, kind, message) = match &g.error {
        Some(e) => ("error", "gate_error", e.clone()),
        None => {
            let mut m = match g.exit_code {
                Some(c) => format!("gate `{}` failed with exit code {c}", g.name),
                None => format!("gate `{}` failed", g.name),
            };
            if let Some(f) = g.failures.first() {
                let at = match (&f.file, f.line) {
                    (Some(file), Some(line)) => format!(" at {file}:{line}"),
                    (Some(file), None) => format!(" in {file}"),
                    _ => String::new(),
                };
                let _ = write!(m, ": {}{at}", f.message);
                if g.failures.len() > 1 {
                    let _ = write!(m, " (and {} more)", g.failures.len() - 1);
                }
            }
            let kind = if g.required {
                "gate_failed"
            } else {
                "optional_gate_failed"
            };
            ("failure", kind, m)
        }
    };
    let body = format!("log: {}\n\n{}", g.log, g.tail);
    let _ = writeln!(
        x,
        "      <{tag} message=\"{}\" type=\"{kind}\">{}</{tag}>",
        attr(&message),
        cdata(&body)
    );
    x.push_str("    </testcase>\n");
}

/// Write the JUnit file for the run whose history is `events`, atomically.
pub fn write_junit(path: &Path, run_id: &str, events: &Path) -> Result<()> {
    let xml = junit_xml(run_id, &gate_runs(events));
    let path = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| crate::error::OrxError::user_file("resolve", path, e))?
            .join(path)
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| crate::error::OrxError::user_file("create", parent, e))?;
    }
    // The report is the user's file (`--junit PATH`), not one of the run's.
    crate::store::atomic::write_atomic(&path, xml.as_bytes())
        .map_err(|e| e.about_user_file().into())
}

fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// Whether XML 1.0 allows `c` in a document.
fn allowed(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Text for a double-quoted attribute value.
fn attr(s: &str) -> String {
    replace_chars(s, |c| {
        markup_entity(c).or(match c {
            '\'' => Some("&apos;"),
            '\n' => Some("&#10;"),
            '\r' => Some("&#13;"),
            '\t' => Some("&#9;"),
            c if allowed(c) => None,
            _ => Some("\u{FFFD}"),
        })
    })
}

/// A CDATA section holding `s` verbatim (forbidden characters replaced).
fn cdata(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| if allowed(c) { c } else { '\u{FFFD}' })
        .collect();
    format!("<![CDATA[{}]]>", clean.replace("]]>", "]]]]><![CDATA[>"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(name: &str, passed: bool, tail: &str, error: Option<&str>) -> GateResult {
        GateResult {
            name: name.into(),
            required: true,
            passed,
            exit_code: if passed { Some(0) } else { Some(1) },
            duration_ms: 1234,
            log: format!("logs/{name}.log"),
            tail: tail.into(),
            failures: Vec::new(),
            signature: None,
            error: error.map(String::from),
        }
    }

    #[test]
    fn escaping_survives_hostile_output() {
        assert_eq!(
            attr("a<b>&\"c\"\n'd'\u{1b}"),
            "a&lt;b&gt;&amp;&quot;c&quot;&#10;&apos;d&apos;\u{FFFD}"
        );
        assert_eq!(
            cdata("x ]]> y\u{0}"),
            "<![CDATA[x ]]]]><![CDATA[> y\u{FFFD}]]>"
        );
    }

    #[test]
    fn every_gate_run_is_a_testcase_and_failures_carry_the_tail() {
        let runs = vec![
            GateRun {
                item: "W001".into(),
                attempt: 1,
                result: result("tests", false, "boom <&> ]]> end", None),
            },
            GateRun {
                item: "W001".into(),
                attempt: 2,
                result: result("tests", true, "", None),
            },
            GateRun {
                item: "W002".into(),
                attempt: 1,
                result: result("lint", false, "", Some("`ruff` is not on PATH")),
            },
        ];
        let x = junit_xml("r1", &runs);
        assert!(
            x.contains("tests=\"3\" failures=\"1\" errors=\"1\" time=\"3.702\""),
            "{x}"
        );
        assert!(x.contains("name=\"tests (attempt 1)\""), "{x}");
        assert!(x.contains("classname=\"orx.r1.W002\""), "{x}");
        assert!(
            x.contains("<failure message=\"gate `tests` failed with exit code 1\" type=\"gate_failed\"><![CDATA[log: logs/tests.log\n\nboom <&> ]]]]><![CDATA[> end]]></failure>"),
            "{x}"
        );
        assert!(
            x.contains("<error message=\"`ruff` is not on PATH\""),
            "{x}"
        );
        assert_eq!(x.matches("<testsuite ").count(), 2);
    }
}
