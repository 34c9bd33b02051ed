//! ruff's reports: the concise format (`path:line:col: CODE message`), the full format
//! (`CODE message` then ` --> path:line:col`) and `ruff format --check`'s
//! `Would reformat: path`.

use super::location::{arrow_failure, find_location, split_code};
use super::Failure;

/// Concise (`path:line:col: CODE message`), full (`CODE message` then ` --> path:line:col`)
/// and the older `Would reformat: path` of `ruff format --check`.
pub(super) fn parse_ruff(lines: &[&str]) -> Vec<Failure> {
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if let Some(path) = line.strip_prefix("Would reformat: ") {
            out.push(Failure {
                file: Some(path.trim().to_string()),
                line: None,
                code: Some("format".into()),
                message: "file would be reformatted".into(),
            });
        } else if let Some(f) = arrow_failure(lines, i) {
            out.push(f);
        } else if let Some(loc) = find_location(line, true) {
            let (code, message) = split_code(loc.rest);
            out.push(Failure {
                file: Some(loc.file.to_string()),
                line: Some(loc.line),
                code,
                message,
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
    fn ruff_concise_and_full_formats_give_the_same_failures() {
        assert_eq!(
            parse_failures(ParserKind::Ruff, RUFF_CONCISE),
            ruff_expected()
        );
        assert_eq!(parse_failures(ParserKind::Ruff, RUFF_FULL), ruff_expected());
    }

    #[test]
    fn ruff_format_check_both_generations() {
        assert_eq!(
            parse_failures(ParserKind::Ruff, RUFF_FORMAT),
            vec![f(
                "src/fmt.py",
                1,
                "unformatted",
                "File would be reformatted"
            )]
        );
        let old =
            "Would reformat: src/app.py\nWould reformat: src/b.py\n2 files would be reformatted\n";
        let got = parse_failures(ParserKind::Ruff, old);
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].file.as_deref(), Some("src/b.py"));
        assert_eq!(got[1].code.as_deref(), Some("format"));
    }

    #[test]
    fn ruff_with_colours_and_a_clean_run() {
        let coloured = "\u{1b}[1msrc/app.py\u{1b}[0m\u{1b}[36m:\u{1b}[0m2\u{1b}[36m:\u{1b}[0m8\u{1b}[36m:\u{1b}[0m \u{1b}[1;31mF401\u{1b}[0m [\u{1b}[36m*\u{1b}[0m] `os` imported but unused\n";
        assert_eq!(
            parse_failures(ParserKind::Ruff, coloured),
            vec![f("src/app.py", 2, "F401", "`os` imported but unused")]
        );
        assert!(parse_failures(ParserKind::Ruff, "All checks passed!\n").is_empty());
    }
}
