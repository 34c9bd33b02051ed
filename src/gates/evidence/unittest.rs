//! `python -m unittest`'s report, which has nothing in common with pytest's: blocks that start
//! with a `=====` rule and a `FAIL: ` / `ERROR: ` line, the test named in the style of the
//! Python version that printed it.

use super::location::leading_number;
use super::Failure;

/// Blocks that start with a `=====` rule and a `FAIL: ` / `ERROR: ` line.
pub(super) fn parse_unittest(lines: &[&str]) -> Vec<Failure> {
    let is_rule = |l: &str, c: char| l.len() >= 20 && l.chars().all(|x| x == c);
    let mut out = Vec::new();
    let mut i = 0;
    while i + 1 < lines.len() {
        if !is_rule(lines[i], '=') {
            i += 1;
            continue;
        }
        let head = lines[i + 1];
        let Some(desc) = head
            .strip_prefix("FAIL: ")
            .or_else(|| head.strip_prefix("ERROR: "))
        else {
            i += 1;
            continue;
        };
        // body: after the first '----' rule, up to the next rule of either kind
        let mut j = i + 2;
        if j < lines.len() && is_rule(lines[j], '-') {
            j += 1;
        }
        let start = j;
        while j < lines.len() && !is_rule(lines[j], '=') && !is_rule(lines[j], '-') {
            j += 1;
        }
        out.push(unittest_failure(desc.trim(), &lines[start..j]));
        i = j;
    }
    out
}

fn unittest_failure(desc: &str, body: &[&str]) -> Failure {
    let code = unittest_name(desc);
    // Frames: `  File "path", line N, in func`
    let mut frames: Vec<(usize, &str, u32)> = Vec::new();
    for (k, l) in body.iter().enumerate() {
        if let Some(r) = l.trim_start().strip_prefix("File \"") {
            if let Some((path, after)) = r.split_once('"') {
                let n = after
                    .strip_prefix(", line ")
                    .and_then(leading_number)
                    .map(|(n, _)| n)
                    .unwrap_or(0);
                frames.push((k, path, n));
            }
        }
    }
    let after_frames = frames.last().map(|(k, _, _)| k + 1).unwrap_or(0);
    let message = body[after_frames.min(body.len())..]
        .iter()
        .chain(body.iter())
        .find(|l| {
            !l.is_empty()
                && !l.starts_with(' ')
                && !l.starts_with('\t')
                && !l.starts_with("Traceback (most recent call last)")
        })
        .map(|l| l.trim().to_string())
        .unwrap_or_else(|| "failed".into());
    let library = |p: &str| {
        p.contains("/lib/python")
            || p.contains("site-packages")
            || p.starts_with('<')
            || p.contains("\\Lib\\")
    };
    let frame = frames
        .iter()
        .rev()
        .find(|(_, p, _)| !library(p))
        .or(frames.last());
    let (file, line) = match frame {
        Some((_, p, n)) => (Some(relative_to_module(p, &code)), (*n > 0).then_some(*n)),
        None => (None, None),
    };
    Failure {
        file,
        line,
        code: Some(code),
        message,
    }
}

/// `test_add (tests.test_ops.TestOps.test_add)` → `tests.test_ops.TestOps.test_add`
/// (Python ≥ 3.11), `test_add (tests.test_ops.TestOps)` → the same (older Pythons), a failed
/// import → the module name; a subTest suffix ` (i=1)` is kept.
fn unittest_name(desc: &str) -> String {
    let Some((method, rest)) = desc.split_once(" (") else {
        return desc.to_string();
    };
    let Some((qual, extra)) = rest.split_once(')') else {
        return desc.to_string();
    };
    let name = if qual.contains("_FailedTest") {
        method.to_string()
    } else if qual.ends_with(&format!(".{method}")) {
        qual.to_string()
    } else {
        format!("{qual}.{method}")
    };
    format!("{name}{}", extra.trim_end())
}

/// `/tmp/x/tests/test_ops.py` with test `tests.test_ops.TestOps.x` → `tests/test_ops.py`:
/// unittest prints absolute paths, the module name tells which suffix is the project path.
fn relative_to_module(path: &str, code: &str) -> String {
    let dotted = code.split(' ').next().unwrap_or(code);
    let parts: Vec<&str> = dotted.split('.').collect();
    for k in (1..=parts.len()).rev() {
        let rel = format!("{}.py", parts[..k].join("/"));
        if path == rel {
            return rel;
        }
        if path.ends_with(&format!("/{rel}"))
            || path.ends_with(&format!("\\{}", rel.replace('/', "\\")))
        {
            return rel;
        }
    }
    path.to_string()
}

#[cfg(test)]
mod tests {
    use super::super::captured::*;
    use super::super::{parse_failures, ParserKind};

    #[test]
    fn unittest_report() {
        assert_eq!(
            parse_failures(ParserKind::Unittest, UNITTEST),
            unittest_expected()
        );
        // a pytest gate that actually ran unittest still finds them
        assert_eq!(
            parse_failures(ParserKind::Pytest, UNITTEST),
            unittest_expected()
        );
    }

    #[test]
    fn unittest_before_python_3_11_names_the_class_only() {
        let out = "F\n======================================================================\nFAIL: test_add (tests.test_ops.TestOps)\n----------------------------------------------------------------------\nTraceback (most recent call last):\n  File \"/home/u/p/tests/test_ops.py\", line 8, in test_add\n    self.assertEqual(add(2, 3), 5)\nAssertionError: -1 != 5\n\n----------------------------------------------------------------------\nRan 1 test in 0.000s\n\nFAILED (failures=1)\n";
        assert_eq!(
            parse_failures(ParserKind::Unittest, out),
            vec![f(
                "tests/test_ops.py",
                8,
                "tests.test_ops.TestOps.test_add",
                "AssertionError: -1 != 5"
            )]
        );
        // verbose progress lines ("... FAIL") are not failures by themselves
        assert!(parse_failures(
            ParserKind::Unittest,
            "test_add (t.T.test_add) ... FAIL\nERROR: not a block\n"
        )
        .is_empty());
    }
}
