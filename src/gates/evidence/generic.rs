//! The reader of last resort, for any tool: `path:line[:col]: message` lines and
//! ` --> path:line:col` under a header line. Every other reader falls back to it when it finds
//! nothing.

use super::location::{arrow_failure, find_location};
use super::{Failure, MAX_FAILURES};

/// `path:line[:col]: message` lines (gcc, mypy, eslint unix, ruff concise) and
/// `--> path:line:col` with a header line above (rustc, ruff full).
pub(super) fn parse_generic(lines: &[&str]) -> Vec<Failure> {
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if out.len() >= MAX_FAILURES {
            break;
        }
        if let Some(f) = arrow_failure(lines, i) {
            out.push(f);
        } else if let Some(loc) = find_location(line, false) {
            if loc.rest.trim().is_empty() {
                continue;
            }
            out.push(Failure {
                file: Some(loc.file.to_string()),
                line: Some(loc.line),
                code: None,
                message: loc.rest.trim().to_string(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::captured::*;
    use super::super::{parse_failures, ParserKind};

    #[test]
    fn generic_compiler_and_linter_shapes() {
        let out = "gcc -c src/main.c\nsrc/main.c:3:5: error: 'x' undeclared (first use in this function)\nsrc/app.py:3: error: Incompatible return value type (got \"int\", expected \"str\")  [return-value]\nerror[E0425]: cannot find value `x` in this scope\n --> src/main.rs:2:13\n  |\nmake: *** [Makefile:3: test] Error 1\nsee https://example.com:443:1: nothing\n";
        assert_eq!(
            parse_failures(ParserKind::Generic, out),
            vec![
                f("src/main.c", 3, "", "error: 'x' undeclared (first use in this function)"),
                f("src/app.py", 3, "", "error: Incompatible return value type (got \"int\", expected \"str\")  [return-value]"),
                f("src/main.rs", 2, "E0425", "cannot find value `x` in this scope"),
            ]
        );
        assert!(parse_failures(
            ParserKind::Generic,
            "Error: something broke\nexit status 1\n"
        )
        .is_empty());
    }
}
