//! Server-side diff rendering: a unified diff becomes a file index plus one table per file,
//! with file headers, hunk headers, added, removed and context lines told apart by class, and a
//! light token highlighter (keywords, strings, comments, numbers) for common languages chosen by
//! file extension.
//!
//! Every piece of text is escaped before it is wrapped in a span, and the highlighter only ever
//! wraps whole escaped tokens, so diff content cannot inject markup. Very large diffs are cut at
//! [`MAX_LINES`] with a note and a link to the raw diff in the API.

use std::fmt::Write;

use super::escape::{escape, url_part};

/// Lines rendered before the diff is cut.
pub const MAX_LINES: usize = 20_000;

/// One file of the diff.
#[derive(Debug, Default)]
struct FileDiff {
    path: String,
    header: Vec<String>,
    lines: Vec<String>,
    added: usize,
    removed: usize,
}

/// Split a unified diff into files (`diff --git` headers; a bare `---`/`+++` pair starts a file
/// too, for diffs made without git).
fn split(diff: &str) -> Vec<FileDiff> {
    let mut files: Vec<FileDiff> = Vec::new();
    let mut in_hunk = false;
    for line in diff.lines() {
        let starts_file = line.starts_with("diff --git ")
            || (line.starts_with("--- ")
                && !in_hunk
                && files.last().is_none_or(|f| !f.lines.is_empty()));
        if starts_file {
            files.push(FileDiff::default());
            in_hunk = false;
        }
        let Some(f) = files.last_mut() else {
            continue;
        };
        if line.starts_with("@@") {
            in_hunk = true;
            f.lines.push(line.to_string());
            continue;
        }
        if !in_hunk {
            if let Some(p) = line.strip_prefix("+++ ") {
                let p = p.trim();
                if p != "/dev/null" {
                    f.path = p.strip_prefix("b/").unwrap_or(p).to_string();
                }
            } else if let Some(p) = line.strip_prefix("--- ") {
                let p = p.trim();
                if f.path.is_empty() && p != "/dev/null" {
                    f.path = p.strip_prefix("a/").unwrap_or(p).to_string();
                }
            } else if let Some(rest) = line.strip_prefix("diff --git ") {
                if let Some((_, b)) = rest.split_once(" b/") {
                    f.path = b.to_string();
                }
            }
            f.header.push(line.to_string());
            continue;
        }
        if line.starts_with('+') {
            f.added += 1;
        } else if line.starts_with('-') {
            f.removed += 1;
        }
        f.lines.push(line.to_string());
    }
    files
}

/// The language of a path, for highlighting.
fn language(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    match ext {
        "rs" => "rust",
        "py" => "python",
        "js" | "mjs" | "cjs" | "ts" | "tsx" | "jsx" => "js",
        "go" => "go",
        "sh" | "bash" => "shell",
        "c" | "h" | "cc" | "cpp" | "hpp" | "java" | "kt" | "cs" => "c",
        "yaml" | "yml" | "toml" => "config",
        _ => "",
    }
}

fn keywords(lang: &str) -> &'static [&'static str] {
    match lang {
        "rust" => &[
            "as", "async", "await", "break", "const", "continue", "crate", "else", "enum", "fn",
            "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref",
            "return", "self", "Self", "static", "struct", "super", "trait", "type", "unsafe",
            "use", "where", "while", "true", "false", "Some", "None", "Ok", "Err",
        ],
        "python" => &[
            "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del",
            "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in",
            "is", "lambda", "not", "or", "pass", "raise", "return", "try", "while", "with",
            "yield", "None", "True", "False", "self",
        ],
        "js" => &[
            "async",
            "await",
            "break",
            "case",
            "catch",
            "class",
            "const",
            "continue",
            "default",
            "else",
            "export",
            "extends",
            "for",
            "function",
            "if",
            "import",
            "from",
            "in",
            "let",
            "new",
            "of",
            "return",
            "switch",
            "this",
            "throw",
            "try",
            "typeof",
            "var",
            "while",
            "true",
            "false",
            "null",
            "undefined",
            "interface",
            "type",
        ],
        "go" => &[
            "break",
            "case",
            "chan",
            "const",
            "continue",
            "default",
            "defer",
            "else",
            "for",
            "func",
            "go",
            "if",
            "import",
            "interface",
            "map",
            "package",
            "range",
            "return",
            "select",
            "struct",
            "switch",
            "type",
            "var",
            "nil",
            "true",
            "false",
        ],
        "shell" => &[
            "if", "then", "else", "elif", "fi", "for", "in", "do", "done", "while", "case", "esac",
            "function", "return", "local", "export", "set",
        ],
        "c" => &[
            "break",
            "case",
            "class",
            "const",
            "continue",
            "else",
            "enum",
            "for",
            "if",
            "int",
            "new",
            "public",
            "private",
            "protected",
            "return",
            "static",
            "struct",
            "switch",
            "this",
            "void",
            "while",
            "true",
            "false",
            "null",
            "nullptr",
        ],
        "config" => &["true", "false", "null", "yes", "no"],
        _ => &[],
    }
}

fn comment_start(lang: &str) -> &'static [&'static str] {
    match lang {
        "python" | "shell" | "config" => &["#"],
        "rust" | "js" | "go" | "c" => &["//"],
        _ => &[],
    }
}

/// Highlight one line of code: escaped text with `<span class="tk-…">` around tokens.
pub fn highlight(code: &str, lang: &str) -> String {
    if lang.is_empty() {
        return escape(code);
    }
    let kws = keywords(lang);
    let comments = comment_start(lang);
    let chars: Vec<char> = code.chars().collect();
    let mut out = String::with_capacity(code.len() * 2);
    let mut i = 0;
    let span = |out: &mut String, class: &str, text: &str| {
        let _ = write!(out, "<span class=\"tk-{class}\">{}</span>", escape(text));
    };
    while i < chars.len() {
        let c = chars[i];
        let rest: String = chars[i..].iter().take(2).collect();
        if comments.iter().any(|p| rest.starts_with(p)) {
            let text: String = chars[i..].iter().collect();
            span(&mut out, "com", &text);
            break;
        }
        if c == '"' || c == '\'' || c == '`' {
            let mut j = i + 1;
            while j < chars.len() && chars[j] != c {
                if chars[j] == '\\' {
                    j += 1;
                }
                j += 1;
            }
            let end = (j + 1).min(chars.len());
            let text: String = chars[i..end].iter().collect();
            span(&mut out, "str", &text);
            i = end;
            continue;
        }
        if c.is_ascii_digit() {
            let mut j = i;
            while j < chars.len()
                && (chars[j].is_ascii_alphanumeric() || chars[j] == '.' || chars[j] == '_')
            {
                j += 1;
            }
            let text: String = chars[i..j].iter().collect();
            span(&mut out, "num", &text);
            i = j;
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            let mut j = i;
            while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
                j += 1;
            }
            let word: String = chars[i..j].iter().collect();
            if kws.contains(&word.as_str()) {
                span(&mut out, "kw", &word);
            } else {
                out.push_str(&escape(&word));
            }
            i = j;
            continue;
        }
        out.push_str(&escape(&c.to_string()));
        i += 1;
    }
    out
}

/// The diff as HTML: an index of files with +/− counts, then each file's hunks. `raw` is the
/// link to the plain diff.
pub fn render(diff: &str, raw: &str) -> String {
    if diff.trim().is_empty() {
        return "<p class=\"empty\">No changes.</p>".to_string();
    }
    let files = split(diff);
    let mut out = String::new();
    out.push_str("<ul class=\"diff-index\">");
    for (n, f) in files.iter().enumerate() {
        let _ = write!(
            out,
            "<li><a href=\"#file-{n}\">{}</a> <span class=\"add\">+{}</span> <span class=\"del\">−{}</span></li>",
            escape(&f.path),
            f.added,
            f.removed
        );
    }
    out.push_str("</ul>");
    let mut budget = MAX_LINES;
    for (n, f) in files.iter().enumerate() {
        let lang = language(&f.path);
        let _ = write!(
            out,
            "<div class=\"diff-file\" id=\"file-{n}\" data-path=\"{p}\"><div class=\"file-header\">{p}</div>\
<pre class=\"file-meta\">{meta}</pre><table class=\"diff\"><tbody>",
            p = escape(&f.path),
            meta = escape(&f.header.join("\n")),
        );
        let (mut old, mut new) = (0u64, 0u64);
        for line in &f.lines {
            if budget == 0 {
                break;
            }
            budget -= 1;
            if line.starts_with("@@") {
                if let Some((o, nn)) = hunk_starts(line) {
                    old = o;
                    new = nn;
                }
                let _ = write!(
                    out,
                    "<tr class=\"hunk\"><td></td><td></td><td>{}</td></tr>",
                    escape(line)
                );
                continue;
            }
            let (class, sign, code, lo, ln) = match line.chars().next() {
                Some('+') => {
                    new += 1;
                    ("add", "+", &line[1..], String::new(), new.to_string())
                }
                Some('-') => {
                    old += 1;
                    ("del", "−", &line[1..], old.to_string(), String::new())
                }
                Some('\\') => ("note", "", line.as_str(), String::new(), String::new()),
                _ => {
                    old += 1;
                    new += 1;
                    let code = line.get(1..).unwrap_or("");
                    ("ctx", " ", code, old.to_string(), new.to_string())
                }
            };
            let _ = write!(
                out,
                "<tr class=\"{class}\"><td class=\"ln\">{lo}</td><td class=\"ln\">{ln}</td>\
<td><span class=\"sign\">{sign}</span>{}</td></tr>",
                highlight(code, lang)
            );
        }
        out.push_str("</tbody></table></div>");
    }
    if budget == 0 {
        let _ = write!(
            out,
            "<p class=\"note\">The diff is longer than {MAX_LINES} lines; the rest is in the <a href=\"{}\">raw diff</a>.</p>",
            escape(raw)
        );
    }
    out
}

/// `@@ -12,3 +14,5 @@` → (11, 13): the line numbers before the hunk's first line.
fn hunk_starts(line: &str) -> Option<(u64, u64)> {
    let mut parts = line.split_whitespace().skip(1);
    let old = parts.next()?.strip_prefix('-')?;
    let new = parts.next()?.strip_prefix('+')?;
    let num = |s: &str| s.split(',').next().and_then(|n| n.parse::<u64>().ok());
    Some((num(old)?.saturating_sub(1), num(new)?.saturating_sub(1)))
}

/// The link to the raw diff of run `id` in the API.
pub fn raw_link(id: &str) -> String {
    format!("/api/runs/{}/diff", url_part(id, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIFF: &str = "diff --git a/calc.py b/calc.py\nnew file mode 100644\n--- /dev/null\n+++ b/calc.py\n@@ -0,0 +1,2 @@\n+def add(a, b):\n+    return a + b  # sum\ndiff --git a/README.md b/README.md\n--- a/README.md\n+++ b/README.md\n@@ -1,2 +1,2 @@\n # sample\n-old <b>line</b>\n+new \"line\" <script>x</script>\n";

    #[test]
    fn files_hunks_and_lines_are_classified() {
        let html = render(DIFF, "/raw");
        assert!(html.contains("<a href=\"#file-0\">calc.py</a> <span class=\"add\">+2</span> <span class=\"del\">−0</span>"));
        assert!(html.contains("<a href=\"#file-1\">README.md</a> <span class=\"add\">+1</span> <span class=\"del\">−1</span>"));
        assert!(html.contains("<tr class=\"hunk\"><td></td><td></td><td>@@ -0,0 +1,2 @@</td></tr>"));
        assert!(html.contains("<tr class=\"add\"><td class=\"ln\"></td><td class=\"ln\">1</td><td><span class=\"sign\">+</span><span class=\"tk-kw\">def</span> add(a, b):</td></tr>"));
        assert!(html.contains("<span class=\"tk-com\"># sum</span>"));
        assert!(html.contains("<tr class=\"del\"><td class=\"ln\">2</td>"));
        // Markup in the diff is text.
        assert!(html.contains("old &lt;b&gt;line&lt;/b&gt;"));
        assert!(html.contains("new &quot;line&quot; &lt;script&gt;x&lt;/script&gt;"));
        assert!(!html.contains("<script>"));
        assert!(!html.contains("<b>"));
        assert_eq!(render("  \n", "/raw"), "<p class=\"empty\">No changes.</p>");
    }

    #[test]
    fn highlighter_wraps_tokens_and_escapes_them() {
        assert_eq!(
            highlight("let s = \"<a>\"; // hi", "rust"),
            "<span class=\"tk-kw\">let</span> s = <span class=\"tk-str\">&quot;&lt;a&gt;&quot;</span>; <span class=\"tk-com\">// hi</span>"
        );
        assert_eq!(
            highlight("x = 42", "python"),
            "x = <span class=\"tk-num\">42</span>"
        );
        assert_eq!(highlight("<let>", ""), "&lt;let&gt;");
        // An unterminated string ends at the line's end.
        assert_eq!(
            highlight("'abc", "js"),
            "<span class=\"tk-str\">&#39;abc</span>"
        );
        assert_eq!(hunk_starts("@@ -12,3 +14,5 @@ fn x"), Some((11, 13)));
    }
}
