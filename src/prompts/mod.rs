//! Stage prompt templates: embedded at build time, overridable per repository.
//!
//! The defaults live in `prompts/*.md` at the crate root and are compiled in with
//! `include_str!`, so the binary needs no data files. A repository can replace any of them by
//! putting a file of the same name in `.orx/prompts/`. Templates use `{{name}}` placeholders;
//! rendering is a single pass, so a value that itself contains `{{x}}` (a diff, a task) is
//! never expanded again. An unknown placeholder renders as empty and is reported.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{OrxError, Result};

/// The built-in templates, by stage key.
pub const BUILTIN: [(&str, &str); 9] = [
    ("plan", include_str!("../../prompts/plan.md")),
    ("spec", include_str!("../../prompts/spec.md")),
    ("decompose", include_str!("../../prompts/decompose.md")),
    ("implement", include_str!("../../prompts/implement.md")),
    ("fix", include_str!("../../prompts/fix.md")),
    ("review", include_str!("../../prompts/review.md")),
    (
        "knowledge_update",
        include_str!("../../prompts/knowledge_update.md"),
    ),
    ("merge", include_str!("../../prompts/merge.md")),
    ("judge", include_str!("../../prompts/judge.md")),
];

/// The template for `name`: `.orx/prompts/<name>.md` in the repository if present, else the
/// built-in one.
pub fn template(repo_root: &Path, name: &str) -> Result<String> {
    let custom = repo_root
        .join(".orx")
        .join("prompts")
        .join(format!("{name}.md"));
    if custom.is_file() {
        return std::fs::read_to_string(&custom)
            .map_err(|e| OrxError::user_file("read", &custom, e));
    }
    BUILTIN
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| t.to_string())
        .ok_or_else(|| OrxError::internal(format!("no prompt template named `{name}`")))
}

/// Fill `{{name}}` placeholders in one pass. Returns the text and the unknown names.
pub fn render(template: &str, vars: &BTreeMap<&str, String>) -> (String, Vec<String>) {
    let mut out = String::with_capacity(template.len() + 1024);
    let mut unknown = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                let name = after[..end].trim();
                let valid =
                    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if valid {
                    match vars.get(name) {
                        Some(v) => out.push_str(v),
                        None => unknown.push(name.to_string()),
                    }
                } else {
                    out.push_str(&rest[start..start + 2 + end + 2]);
                }
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    (out, unknown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_once_and_reports_unknown_names() {
        let mut v = BTreeMap::new();
        v.insert("task", "add {{x}}".to_string());
        let (out, unknown) = render("T: {{task}} / {{ missing }} / {{not a var}} {{", &v);
        assert_eq!(out, "T: add {{x}} /  / {{not a var}} {{");
        assert_eq!(unknown, vec!["missing".to_string()]);
    }

    #[test]
    fn repository_override_wins() {
        let dir = tempfile::tempdir().unwrap();
        assert!(template(dir.path(), "plan").unwrap().contains("# Plan"));
        std::fs::create_dir_all(dir.path().join(".orx/prompts")).unwrap();
        std::fs::write(dir.path().join(".orx/prompts/plan.md"), "mine {{task}}").unwrap();
        assert_eq!(template(dir.path(), "plan").unwrap(), "mine {{task}}");
        assert!(template(dir.path(), "nope").is_err());
    }

    #[test]
    fn every_builtin_uses_only_known_placeholders() {
        let known = [
            "task",
            "project_map",
            "plan",
            "spec",
            "feedback",
            "item_id",
            "item",
            "gates",
            "attempt",
            "evidence",
            "diff",
            "review_round",
            "backlog",
            "review_summary",
            "lessons",
            "decisions",
            "knowledge_files",
            "knowledge_blocks",
            "max_added_lines",
            "max_deleted_lines",
            "begin_marker",
            "end_marker",
            "candidates",
        ];
        let vars: BTreeMap<&str, String> = known.iter().map(|k| (*k, String::new())).collect();
        for (name, t) in BUILTIN {
            let (_, unknown) = render(t, &vars);
            assert!(unknown.is_empty(), "{name}: {unknown:?}");
        }
    }
}
