//! `run_artifact`'s friendly names and text paging.
//!
//! A model should not need to know the run folder's layout to read the usual results, so a
//! few aliases name them (`patch`, `plan`, `spec`, `review`, …); anything else is a path
//! relative to the run folder, checked by the control layer's `open_in` (no `..`, no
//! absolute paths, no symlink followed). Tool results are text, so a page is cut on a UTF-8
//! character boundary and the answer says where the next page starts: paging never splits a
//! character and never loses a byte.

/// The aliases and what they name, for the tool description and errors.
pub const ALIASES: [(&str, &str); 8] = [
    (
        "patch",
        "the run's diff: artifacts/patch.diff once shipped, else the live worktree diff",
    ),
    ("plan", "context/plan.md"),
    ("spec", "context/spec.md"),
    ("task", "context/task.md"),
    ("backlog", "context/backlog.yaml"),
    (
        "review",
        "the latest review (artifacts/review.md, review_2.md, …)",
    ),
    ("pr_body", "artifacts/pr_body.md"),
    ("log", "logs/orx.log"),
];

/// The default and the largest page, in bytes.
pub const DEFAULT_LENGTH: u64 = 64 * 1024;
pub const MAX_LENGTH: u64 = 1024 * 1024;

/// What a requested path means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The run's diff (shipped patch or live worktree diff).
    Patch,
    /// A file relative to the run folder.
    File(String),
}

/// Resolve an alias; `files` (relative paths of the run folder) picks the latest review.
pub fn target(path: &str, files: &[String]) -> Target {
    let p = path.trim();
    match p {
        "patch" | "diff" => Target::Patch,
        "plan" | "spec" | "task" => Target::File(format!("context/{p}.md")),
        "backlog" => Target::File("context/backlog.yaml".into()),
        "pr_body" => Target::File("artifacts/pr_body.md".into()),
        "log" => Target::File("logs/orx.log".into()),
        "review" => {
            let round = |f: &str| -> Option<u32> {
                let name = f.strip_prefix("artifacts/")?.strip_suffix(".md")?;
                if name == "review" {
                    return Some(1);
                }
                name.strip_prefix("review_")?.parse().ok()
            };
            let latest = files
                .iter()
                .filter_map(|f| round(f).map(|r| (r, f)))
                .max_by_key(|(r, _)| *r)
                .map(|(_, f)| f.clone());
            Target::File(latest.unwrap_or_else(|| "artifacts/review.md".into()))
        }
        other => Target::File(other.to_string()),
    }
}

/// Cut `bytes` (a page starting at a character boundary) so it ends on one: a multi-byte
/// character split by the page end is left for the next page. Invalid bytes elsewhere are
/// replaced, as in any lossy read.
pub fn text_page(bytes: &[u8], truncated: bool) -> (String, usize) {
    let mut keep = bytes.len();
    if truncated {
        // The start of the last character lies within the last 3 bytes (UTF-8 is at most 4).
        let last_start = (bytes.len().saturating_sub(3)..bytes.len())
            .rev()
            .find(|&i| bytes[i] & 0xC0 != 0x80);
        if let Some(start) = last_start {
            if let Err(e) = std::str::from_utf8(&bytes[start..]) {
                // Incomplete (not invalid), and cutting still makes progress.
                if e.error_len().is_none() && start > 0 {
                    keep = start;
                }
            }
        }
    }
    (String::from_utf8_lossy(&bytes[..keep]).into_owned(), keep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_name_the_usual_files() {
        let files: Vec<String> = [
            "artifacts/review.md",
            "artifacts/review_3.md",
            "artifacts/review_2.md",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(target("patch", &files), Target::Patch);
        assert_eq!(
            target("plan", &files),
            Target::File("context/plan.md".into())
        );
        assert_eq!(
            target("review", &files),
            Target::File("artifacts/review_3.md".into())
        );
        assert_eq!(
            target("review", &[]),
            Target::File("artifacts/review.md".into())
        );
        assert_eq!(
            target("logs/gates/x.log", &files),
            Target::File("logs/gates/x.log".into())
        );
        assert_eq!(target("../x", &files), Target::File("../x".into()));
    }

    #[test]
    fn pages_end_on_character_boundaries() {
        let s = "aé€".as_bytes(); // 1 + 2 + 3 bytes
        assert_eq!(text_page(s, false), ("aé€".to_string(), 6));
        assert_eq!(text_page(&s[..2], true), ("a".to_string(), 1));
        assert_eq!(text_page(&s[..4], true), ("aé".to_string(), 3));
        assert_eq!(text_page(&s[..5], true), ("aé".to_string(), 3));
        // Invalid bytes in the middle are replaced, not dropped.
        let (t, n) = text_page(b"a\xffb", false);
        assert_eq!((t.as_str(), n), ("a\u{fffd}b", 3));
    }
}
