//! The review stage's verdict: what the reviewing agent decided, read from its reply.
//!
//! The reviewer ends its reply with a fenced ```json block holding
//! `{"verdict": "approved"|"changes_requested", "summary": "...", "changes": [...]}`. The last
//! such block is the verdict, so a reviewer may quote examples earlier in its reply. The JSON is
//! interpreted by hand rather than through a derived `Deserialize` so that every way it can be
//! wrong gets its own one-sentence message, which goes back to the reviewer as retry feedback.
//! The one rule that matters most: an unreadable reply is an error, never an approval.

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::model::VerdictKind;
use crate::text::fences::last_json;

/// One change the reviewer asks for; it becomes a new backlog item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub title: String,
    #[serde(default)]
    pub objective: String,
    #[serde(default)]
    pub files_hint: Vec<String>,
}

/// The parsed verdict. `changes` is kept as written even when approved (suggestions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub verdict: VerdictKind,
    pub summary: String,
    pub changes: Vec<Change>,
}

/// Longest title derived from a change given as a plain string.
const MAX_TITLE_CHARS: usize = 80;

/// The verdict is the LAST fenced ```json block of the reply (a reply that is nothing but a
/// JSON object is accepted too). A change is either a string (it becomes the title and the
/// objective) or an object `{title, objective?, files_hint?}`. No block, invalid JSON, an
/// unknown verdict word, or `changes_requested` with no changes → `Err(one sentence)`.
pub fn parse_verdict(text: &str) -> Result<Verdict, String> {
    read_verdict(text).map_err(|e| crate::text::one_line(&e))
}

fn read_verdict(text: &str) -> Result<Verdict, String> {
    let json = match last_json(text) {
        Some(b) => b,
        None => {
            return Err("the review reply has no ```json block; end the reply with a ```json block holding {\"verdict\": \"approved\" or \"changes_requested\", \"summary\": \"...\", \"changes\": [...]}".into())
        }
    };
    let value: Value = serde_json::from_str(&json).map_err(|e| {
        format!("the review's ```json block is not valid JSON ({e}); write one JSON object")
    })?;
    let Value::Object(obj) = value else {
        return Err(format!(
            "the review's ```json block holds {}, not an object; write {{\"verdict\": ..., \"summary\": ..., \"changes\": [...]}}",
            kind_of(&value)
        ));
    };
    let verdict = match obj.get("verdict") {
        Some(Value::String(word)) => verdict_kind(word)?,
        Some(other) => {
            return Err(format!(
                "the review's \"verdict\" is {}, not a string; use \"approved\" or \"changes_requested\"",
                kind_of(other)
            ))
        }
        None => {
            return Err("the review's ```json block has no \"verdict\" key; add \"verdict\": \"approved\" or \"changes_requested\"".into())
        }
    };
    let summary = match obj.get("summary") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.trim().to_string(),
        Some(other) => {
            return Err(format!(
                "the review's \"summary\" is {}, not a string",
                kind_of(other)
            ))
        }
    };
    let changes = match obj.get("changes") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list
            .iter()
            .enumerate()
            .map(|(i, c)| parse_change(i + 1, c))
            .collect::<Result<Vec<_>, _>>()?,
        Some(other) => {
            return Err(format!(
                "the review's \"changes\" is {}, not a list; write \"changes\": [\"...\"]",
                kind_of(other)
            ))
        }
    };
    if verdict == VerdictKind::ChangesRequested && changes.is_empty() {
        return Err("the review requested changes but listed none; add at least one entry to \"changes\", or approve".into());
    }
    Ok(Verdict {
        verdict,
        summary,
        changes,
    })
}

/// "approved" / "changes_requested", forgiving case, dashes and spaces.
fn verdict_kind(word: &str) -> Result<VerdictKind, String> {
    let norm: String = word
        .trim()
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c == '-' || c == ' ' { '_' } else { c })
        .collect();
    match norm.as_str() {
        "approved" | "approve" => Ok(VerdictKind::Approved),
        "changes_requested" | "request_changes" => Ok(VerdictKind::ChangesRequested),
        _ => Err(format!(
            "the review's verdict {word:?} is not one of \"approved\" or \"changes_requested\""
        )),
    }
}

fn parse_change(n: usize, c: &Value) -> Result<Change, String> {
    match c {
        Value::String(s) if !s.trim().is_empty() => Ok(Change {
            title: title_from(s),
            objective: s.trim().to_string(),
            files_hint: Vec::new(),
        }),
        Value::Object(o) => {
            let text = |key: &str| -> Result<String, String> {
                match o.get(key) {
                    None | Some(Value::Null) => Ok(String::new()),
                    Some(Value::String(s)) => Ok(s.trim().to_string()),
                    Some(other) => Err(format!(
                        "change {n} of the review has a \"{key}\" that is {}, not a string",
                        kind_of(other)
                    )),
                }
            };
            let objective = text("objective")?;
            let mut title = text("title")?;
            if title.is_empty() {
                title = title_from(&objective);
            }
            if title.is_empty() {
                return Err(format!(
                    "change {n} of the review has no \"title\"; give every change a title"
                ));
            }
            let files_hint = match o.get("files_hint") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::String(s)) => vec![s.clone()],
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|v| match v {
                        Value::String(s) => Ok(s.clone()),
                        other => Err(format!(
                            "change {n} of the review lists {} in \"files_hint\"; list file paths as strings",
                            kind_of(other)
                        )),
                    })
                    .collect::<Result<_, _>>()?,
                Some(other) => {
                    return Err(format!(
                        "change {n} of the review has a \"files_hint\" that is {}, not a list of paths",
                        kind_of(other)
                    ))
                }
            };
            Ok(Change {
                title,
                objective,
                files_hint,
            })
        }
        Value::String(_) => Err(format!(
            "change {n} of the review is empty; describe the change or remove the entry"
        )),
        other => Err(format!(
            "change {n} of the review is {}; write a string or {{\"title\": ..., \"objective\": ...}}",
            kind_of(other)
        )),
    }
}

/// First line of `s`, cut to [`MAX_TITLE_CHARS`] characters.
fn title_from(s: &str) -> String {
    let first = s.trim().lines().next().unwrap_or("").trim();
    if first.chars().count() <= MAX_TITLE_CHARS {
        first.to_string()
    } else {
        let cut: String = first.chars().take(MAX_TITLE_CHARS - 1).collect();
        format!("{}…", cut.trim_end())
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const APPROVED: &str = r#"I reviewed the diff against the spec.

- `add` and `mul` are implemented and tested.
- The tests run with the standard library only.

```json
{"verdict": "approved", "summary": "Both functions match the spec and are tested."}
```
"#;

    #[test]
    fn approved_reply() {
        let v = parse_verdict(APPROVED).unwrap();
        assert_eq!(v.verdict, VerdictKind::Approved);
        assert_eq!(v.summary, "Both functions match the spec and are tested.");
        assert!(v.changes.is_empty());
    }

    #[test]
    fn changes_requested_with_string_and_object_changes() {
        let text = r#"Two problems.
```json
{
  "verdict": "changes_requested",
  "summary": "Division by zero is not handled.",
  "changes": [
    "Raise ValueError in div(a, 0) instead of returning None",
    {"title": "Test div by zero", "objective": "Add a unittest for div(1, 0).", "files_hint": ["tests/test_ops.py"]},
    {"objective": "Document div in README.md"}
  ]
}
```"#;
        let v = parse_verdict(text).unwrap();
        assert_eq!(v.verdict, VerdictKind::ChangesRequested);
        assert_eq!(
            v.changes,
            vec![
                Change {
                    title: "Raise ValueError in div(a, 0) instead of returning None".into(),
                    objective: "Raise ValueError in div(a, 0) instead of returning None".into(),
                    files_hint: vec![],
                },
                Change {
                    title: "Test div by zero".into(),
                    objective: "Add a unittest for div(1, 0).".into(),
                    files_hint: vec!["tests/test_ops.py".into()],
                },
                Change {
                    title: "Document div in README.md".into(),
                    objective: "Document div in README.md".into(),
                    files_hint: vec![],
                },
            ]
        );
    }

    #[test]
    fn last_json_block_wins() {
        let text = "Example format:\n```json\n{\"verdict\": \"approved\", \"summary\": \"example\"}\n```\nMy verdict:\n```json\n{\"verdict\": \"changes_requested\", \"summary\": \"no\", \"changes\": [\"fix it\"]}\n```\n";
        assert_eq!(
            parse_verdict(text).unwrap().verdict,
            VerdictKind::ChangesRequested
        );
        // and the other way round
        let text = "```json\n{\"verdict\": \"changes_requested\", \"changes\": [\"x\"]}\n```\nafter fixing my mind:\n```JSON\n{\"verdict\": \"approved\"}\n```";
        let v = parse_verdict(text).unwrap();
        assert_eq!(v.verdict, VerdictKind::Approved);
        assert_eq!(v.summary, "");
    }

    #[test]
    fn an_invalid_last_block_is_never_rescued_by_an_earlier_approval() {
        let text = "```json\n{\"verdict\": \"approved\"}\n```\n```json\n{\"verdict\": \"appro\n```";
        assert!(parse_verdict(text).unwrap_err().contains("not valid JSON"));
    }

    #[test]
    fn bare_json_reply_and_forgiving_words() {
        assert_eq!(
            parse_verdict(" {\"verdict\": \"Approved\", \"summary\": \"ok\"} ")
                .unwrap()
                .verdict,
            VerdictKind::Approved
        );
        let v = parse_verdict(
            "```json\n{\"verdict\": \"changes-requested\", \"changes\": [\"a\"]}\n```",
        )
        .unwrap();
        assert_eq!(v.verdict, VerdictKind::ChangesRequested);
    }

    #[test]
    fn long_string_change_gets_a_short_title() {
        let long = "x".repeat(200);
        let text = format!("```json\n{{\"verdict\": \"changes_requested\", \"changes\": [\"{long}\\nsecond line\"]}}\n```");
        let v = parse_verdict(&text).unwrap();
        assert_eq!(v.changes[0].title.chars().count(), MAX_TITLE_CHARS);
        assert!(v.changes[0].title.ends_with('…'));
        assert!(v.changes[0].objective.ends_with("second line"));
    }

    #[test]
    fn every_error_is_one_sentence_and_never_approval() {
        let cases = [
            ("LGTM, approved!", "has no ```json block"),
            ("```yaml\nverdict: approved\n```", "has no ```json block"),
            ("```json\n{\"verdict\": approved}\n```", "not valid JSON (expected value at line 1 column 13)"),
            ("```json\n[\"approved\"]\n```", "holds a list, not an object"),
            ("```json\n{\"summary\": \"fine\"}\n```", "has no \"verdict\" key"),
            ("```json\n{\"verdict\": true}\n```", "\"verdict\" is a boolean, not a string"),
            ("```json\n{\"verdict\": \"lgtm\"}\n```", "verdict \"lgtm\" is not one of"),
            ("```json\n{\"verdict\": \"changes_requested\", \"summary\": \"meh\"}\n```", "requested changes but listed none"),
            ("```json\n{\"verdict\": \"changes_requested\", \"changes\": []}\n```", "requested changes but listed none"),
            ("```json\n{\"verdict\": \"approved\", \"summary\": 3}\n```", "\"summary\" is a number"),
            ("```json\n{\"verdict\": \"approved\", \"changes\": \"x\"}\n```", "\"changes\" is a string, not a list"),
            ("```json\n{\"verdict\": \"changes_requested\", \"changes\": [\"  \"]}\n```", "change 1 of the review is empty"),
            ("```json\n{\"verdict\": \"changes_requested\", \"changes\": [\"a\", 5]}\n```", "change 2 of the review is a number"),
            ("```json\n{\"verdict\": \"changes_requested\", \"changes\": [{\"files_hint\": [\"a\"]}]}\n```", "change 1 of the review has no \"title\""),
            ("```json\n{\"verdict\": \"changes_requested\", \"changes\": [{\"title\": \"t\", \"files_hint\": [1]}]}\n```", "lists a number in \"files_hint\""),
            ("```json\n{\"verdict\": \"changes_requested\", \"changes\": [{\"title\": \"t\", \"files_hint\": {}}]}\n```", "\"files_hint\" that is an object"),
            ("```json\n{\"verdict\": \"changes_requested\", \"changes\": [{\"title\": [\"t\"]}]}\n```", "\"title\" that is a list"),
            ("", "has no ```json block"),
        ];
        for (text, want) in cases {
            let e = parse_verdict(text).unwrap_err();
            assert!(e.contains(want), "{text:?}: {e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn garbage_never_panics_or_approves_by_accident() {
        let seed = APPROVED;
        let noise = [
            "\n", "`", "```", "{", "}", "\"", ",", "\\", "é", "\0", "json", "~~~",
        ];
        let mut rng = 0x2545f4914f6cdd1du64;
        let mut approved = 0;
        for _ in 0..400 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let mut s: Vec<char> = seed.chars().collect();
            let pos = (rng as usize) % (s.len() + 1);
            let cut = (rng >> 24) as usize % 4;
            s.splice(
                pos..(pos + cut).min(s.len()),
                noise[(rng >> 40) as usize % noise.len()].chars(),
            );
            let text: String = s.into_iter().collect();
            if let Ok(v) = parse_verdict(&text) {
                // Only an intact verdict word can approve.
                assert!(text.contains("\"approved\""), "{text}");
                if v.verdict == VerdictKind::Approved {
                    approved += 1;
                }
            }
        }
        assert!(
            approved > 0,
            "the mutation test should leave some replies intact"
        );
    }
}
