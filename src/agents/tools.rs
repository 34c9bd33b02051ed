//! Tool calls made comparable: every CLI's tool name and input turned into a [`ToolKind`] and
//! a target, and every tool result into one summary line.
//!
//! Claude calls its tools `Edit` and `Bash`, Codex reports `file_change` and
//! `command_execution` items, Gemini and Qwen say `replace` and `run_shell_command`, Cursor
//! `editToolCall`, OpenCode `edit` and `bash`. A person following a run wants `edit
//! src/app.py` and `run pytest -q` whichever CLI it was, so the parsers build their
//! `ToolCall` and `ToolResult` events here, from one table of names and one list of the input
//! keys that name a target. An unknown tool is `other`, with the first string of its input as
//! the target, so a new tool of a new release still reads as something.

use serde_json::Value;

use super::json::compact;
use super::{AgentEvent, ToolKind};

/// How long a target or a summary may be, in characters.
const MAX_TARGET: usize = 160;

/// The tool names of every CLI, lower-cased, without Cursor's `ToolCall` suffix.
const KINDS: &[(ToolKind, &[&str])] = &[
    (
        ToolKind::Run,
        &[
            "bash",
            "shell",
            "run_shell_command",
            "command_execution",
            "exec_command",
            "local_shell",
            "terminal",
        ],
    ),
    (
        ToolKind::Edit,
        &[
            "write",
            "edit",
            "multiedit",
            "notebookedit",
            "write_file",
            "replace",
            "apply_patch",
            "file_change",
            "delete",
            "patch",
        ],
    ),
    (
        ToolKind::Read,
        &[
            "read",
            "read_file",
            "read_many_files",
            "ls",
            "list",
            "list_directory",
            "view",
        ],
    ),
    (
        ToolKind::Search,
        &[
            "glob",
            "grep",
            "search_file_content",
            "codebase_search",
            "find",
        ],
    ),
    (
        ToolKind::Fetch,
        &[
            "webfetch",
            "web_fetch",
            "websearch",
            "web_search",
            "google_web_search",
        ],
    ),
];

/// The input keys that name what a tool works on, in the order they are tried.
const TARGET_KEYS: &[&str] = &[
    "command",
    "cmd",
    "file_path",
    "filePath",
    "absolute_path",
    "notebook_path",
    "path",
    "paths",
    "pattern",
    "query",
    "url",
    "description",
];

/// The kind of a tool, from its CLI's name for it.
pub fn kind_of(name: &str) -> ToolKind {
    let lower = name.to_ascii_lowercase();
    let bare = lower.strip_suffix("toolcall").unwrap_or(&lower);
    KINDS
        .iter()
        .find(|(_, names)| names.contains(&bare))
        .map(|(kind, _)| *kind)
        .unwrap_or(ToolKind::Other)
}

/// What a tool's input names as its target: the first of [`TARGET_KEYS`] it has (a list is
/// joined with spaces, a command given as argv is joined into one line), else its first string
/// value, else nothing.
pub fn target_of(input: &Value) -> String {
    let found = TARGET_KEYS
        .iter()
        .find_map(|k| input.get(*k).and_then(text_of))
        .or_else(|| match input {
            Value::String(s) => Some(s.clone()),
            Value::Object(o) => o.values().find_map(text_of),
            _ => None,
        })
        .unwrap_or_default();
    one_line(&found, MAX_TARGET)
}

fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Array(a) => {
            let parts: Vec<&str> = a.iter().filter_map(Value::as_str).collect();
            (!parts.is_empty()).then(|| parts.join(" "))
        }
        _ => None,
    }
}

/// A `ToolCall` for the tool `name` called with `input`.
pub fn call(name: &str, input: &Value) -> AgentEvent {
    AgentEvent::ToolCall {
        name: name.to_string(),
        input: compact(input, 400),
        kind: kind_of(name),
        target: target_of(input),
    }
}

/// A `ToolCall` whose target is known already (a command line, a path).
pub fn call_on(name: &str, kind: ToolKind, target: &str, input: String) -> AgentEvent {
    AgentEvent::ToolCall {
        name: name.to_string(),
        input,
        kind,
        target: one_line(target, MAX_TARGET),
    }
}

/// A command line as a person typed it: the `bash -lc "…"` wrapper a CLI runs it in taken
/// off (`/bin/bash -lc "pytest -q"` reads `pytest -q`); any other command unchanged.
pub fn shell_line(command: &str) -> String {
    const WRAPPERS: &[&str] = &[
        "/bin/bash -lc ",
        "/bin/bash -c ",
        "bash -lc ",
        "bash -c ",
        "/bin/zsh -lc ",
        "/bin/sh -c ",
        "sh -c ",
    ];
    let c = command.trim();
    let Some(rest) = WRAPPERS.iter().find_map(|w| c.strip_prefix(w)) else {
        return c.to_string();
    };
    let rest = rest.trim();
    let quoted = |q: char| rest.len() >= 2 && rest.starts_with(q) && rest.ends_with(q);
    if quoted('"') {
        // Inside double quotes a backslash escapes only `"`, `\`, `$` and a backquote.
        let mut out = String::new();
        let mut chars = rest[1..rest.len() - 1].chars().peekable();
        while let Some(ch) = chars.next() {
            match (ch, chars.peek()) {
                ('\\', Some(&next)) if matches!(next, '"' | '\\' | '$' | '`') => {
                    out.push(next);
                    chars.next();
                }
                _ => out.push(ch),
            }
        }
        out
    } else if quoted('\'') {
        rest[1..rest.len() - 1].to_string()
    } else {
        rest.to_string()
    }
}

/// A `ToolResult` of the tool `name`: `ok`, and the first non-blank line of `output` (after an
/// `Exit code N` line, as Claude starts a failed command's answer: `exit N: <that line>`).
pub fn result(name: &str, ok: bool, output: &str) -> AgentEvent {
    let mut lines = output.lines().filter(|l| !l.trim().is_empty());
    let first = lines.next().unwrap_or("");
    let summary = match first.trim().strip_prefix("Exit code ") {
        Some(code) if code.parse::<i32>().is_ok() => match lines.next() {
            Some(next) => format!("exit {code}: {next}"),
            None => format!("exit {code}"),
        },
        _ => first.to_string(),
    };
    AgentEvent::ToolResult {
        name: name.to_string(),
        kind: kind_of(name),
        ok,
        summary: one_line(&summary, MAX_TARGET),
    }
}

/// The text of a tool result's content, whatever its shape: a string, a list of text blocks
/// (`[{"type": "text", "text": …}]`), or any other value as compact JSON.
pub fn output_text(content: &Value) -> String {
    match content {
        Value::Array(blocks) => blocks
            .iter()
            .map(|b| match b.get("text").and_then(Value::as_str) {
                Some(t) => t.to_string(),
                None => compact(b, 2000),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        other => compact(other, 2000),
    }
}

/// `s` on one line (newlines and runs of blanks as one space), at most `max` characters.
pub fn one_line(s: &str, max: usize) -> String {
    super::json::cut_chars(s.split_whitespace().collect::<Vec<_>>().join(" "), max)
}

/// A tool call's target (or a tool result's summary) naming paths under `root`, the call's
/// working folder, written relative to it, so a person reads `src/app.py` instead of the
/// worktree's absolute path; any other text is unchanged.
pub fn relative_target(ev: &mut AgentEvent, root: &std::path::Path) {
    let target = match ev {
        AgentEvent::ToolCall { target, .. } => target,
        AgentEvent::ToolResult { summary, .. } => summary,
        _ => return,
    };
    let Some(root) = root.to_str() else { return };
    let root = root.trim_end_matches('/');
    if root.is_empty() {
        return;
    }
    let prefix = format!("{root}/");
    if target.contains(&prefix) {
        *target = target.replace(&prefix, "");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_cli_name_for_an_edit_or_a_command_has_its_kind() {
        for name in [
            "Edit",
            "Write",
            "MultiEdit",
            "write_file",
            "replace",
            "apply_patch",
            "editToolCall",
            "deleteToolCall",
        ] {
            assert_eq!(kind_of(name), ToolKind::Edit, "{name}");
        }
        for name in [
            "Bash",
            "shell",
            "run_shell_command",
            "shellToolCall",
            "bash",
        ] {
            assert_eq!(kind_of(name), ToolKind::Run, "{name}");
        }
        for name in ["Read", "read_file", "readToolCall", "LS"] {
            assert_eq!(kind_of(name), ToolKind::Read, "{name}");
        }
        assert_eq!(kind_of("Grep"), ToolKind::Search);
        assert_eq!(kind_of("WebFetch"), ToolKind::Fetch);
        assert_eq!(kind_of("TodoWrite"), ToolKind::Other);
    }

    #[test]
    fn the_target_is_the_path_the_command_or_the_first_string() {
        assert_eq!(
            target_of(&json!({"file_path": "/w/a.py", "content": "x"})),
            "/w/a.py"
        );
        assert_eq!(
            target_of(&json!({"command": "pytest -q\n  -x", "description": "tests"})),
            "pytest -q -x"
        );
        assert_eq!(
            target_of(&json!({"command": ["bash", "-lc", "ls"]})),
            "bash -lc ls"
        );
        assert_eq!(target_of(&json!({"todos": [], "note": "later"})), "later");
        assert_eq!(target_of(&json!(null)), "");
    }

    #[test]
    fn a_result_keeps_its_first_line_and_a_path_under_the_worktree_is_relative() {
        assert_eq!(
            result("Bash", false, "\n  FAILED tests/t.py::x\nmore"),
            AgentEvent::ToolResult {
                name: "Bash".into(),
                kind: ToolKind::Run,
                ok: false,
                summary: "FAILED tests/t.py::x".into(),
            }
        );
        let mut ev = call("Edit", &json!({"file_path": "/w/t/src/app.py"}));
        relative_target(&mut ev, std::path::Path::new("/w/t"));
        assert!(matches!(&ev, AgentEvent::ToolCall { target, .. } if target == "src/app.py"));
        let mut ev = call("Bash", &json!({"command": "cat /w/t/a /etc/x"}));
        relative_target(&mut ev, std::path::Path::new("/w/t/"));
        assert!(matches!(&ev, AgentEvent::ToolCall { target, .. } if target == "cat a /etc/x"));
        assert_eq!(
            shell_line(r#"/bin/bash -lc "printf 'hi\\n' > \"a b\".txt""#),
            r#"printf 'hi\n' > "a b".txt"#
        );
        assert_eq!(shell_line("bash -lc 'ls -la'"), "ls -la");
        assert_eq!(shell_line("pytest -q"), "pytest -q");
        assert_eq!(
            output_text(&json!([{"type": "text", "text": "ok"}, {"type": "image"}])),
            "ok\n{\"type\":\"image\"}"
        );
    }
}
