//! Choosing among an item's candidates that passed every gate (best-of-N): reading the judge's
//! answer and the choice itself, pure functions with unit tests.
//!
//! The judge (the review stage's executor) ends its reply with a fenced ```json block
//! `{"choice": <n>, "reason": "..."}`; [`parse_answer`] reads the last such block (or a reply
//! that is nothing but the object). [`choose`] decides: the only candidate that passed needs no
//! judge; otherwise the judge's choice when it names a candidate that passed, else the smallest
//! diff (lines added and removed), then the lowest number, with the reason saying why the
//! judge's answer was not used. The call itself is the stage's (`stages::candidates`).

use serde_json::Value;

use crate::model::candidate::ChoiceHow;
use crate::text::fences::last_json;

/// A candidate that passed every gate, with the size of its change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Passing {
    pub n: u32,
    /// Lines its change adds and removes.
    pub diff_lines: u64,
}

/// What the judge answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub n: u32,
    pub reason: String,
}

/// The choice made: which candidate, how, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub n: u32,
    pub how: ChoiceHow,
    pub reason: String,
}

/// The judge's answer from its reply (its reason on one line), or one sentence saying why
/// there is none.
pub fn parse_answer(text: &str) -> Result<Answer, String> {
    let json = last_json(text).ok_or("the judge's reply has no ```json block")?;
    let value: Value = serde_json::from_str(&json)
        .map_err(|e| format!("the judge's ```json block is not valid JSON ({e})"))?;
    let n = value
        .get("choice")
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or("the judge's answer has no candidate number in `choice`")?;
    let reason = value
        .get("reason")
        .and_then(Value::as_str)
        .map(|r| r.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "the judge gave no reason".into());
    Ok(Answer { n, reason })
}

/// Choose among `passing` (in candidate order): see the module header. `judged` is the
/// judge's answer, or why there is none; `None` when the judge was not asked. `None` back
/// when no candidate passed.
pub fn choose(passing: &[Passing], judged: Option<&Result<Answer, String>>) -> Option<Choice> {
    let smallest = passing.iter().min_by_key(|p| (p.diff_lines, p.n))?;
    if let [only] = passing {
        return Some(Choice {
            n: only.n,
            how: ChoiceHow::OnlyOne,
            reason: format!("candidate {} was the only one to pass every gate", only.n),
        });
    }
    let why_not = match judged {
        Some(Ok(a)) if passing.iter().any(|p| p.n == a.n) => {
            return Some(Choice {
                n: a.n,
                how: ChoiceHow::Judge,
                reason: a.reason.clone(),
            })
        }
        Some(Ok(a)) => format!(
            "the judge chose candidate {}, which did not pass every gate",
            a.n
        ),
        Some(Err(e)) => e.clone(),
        None => "the judge was not asked".into(),
    };
    Some(Choice {
        n: smallest.n,
        how: ChoiceHow::SmallestDiff,
        reason: format!(
            "{why_not}; candidate {} has the smallest diff ({} lines)",
            smallest.n, smallest.diff_lines
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(n: u32, diff_lines: u64) -> Passing {
        Passing { n, diff_lines }
    }

    #[test]
    fn answers_are_read_from_the_last_json_block_or_a_bare_object() {
        let reply = "Both work.\n```json\n{\"choice\": 1}\n```\nOn reflection:\n```json\n{\"choice\": 3, \"reason\": \"clearer\\nnames\"}\n```\n";
        assert_eq!(
            parse_answer(reply),
            Ok(Answer {
                n: 3,
                reason: "clearer names".into()
            })
        );
        assert_eq!(parse_answer("{\"choice\": 2}").unwrap().n, 2);
        assert_eq!(
            parse_answer("{\"choice\": 2}").unwrap().reason,
            "the judge gave no reason"
        );
        for bad in [
            "I like the second one.",
            "```json\nnot json\n```",
            "```json\n{\"choice\": \"two\"}\n```",
            "```json\n{\"choice\": -1}\n```",
            "```json\n[2]\n```",
        ] {
            assert!(parse_answer(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn one_passing_candidate_needs_no_judge() {
        let c = choose(&[p(2, 40)], None).unwrap();
        assert_eq!((c.n, c.how), (2, ChoiceHow::OnlyOne));
        assert_eq!(choose(&[], None), None);
    }

    #[test]
    fn the_judge_wins_when_it_names_a_passing_candidate() {
        let judged = Ok(Answer {
            n: 3,
            reason: "tidier".into(),
        });
        let c = choose(&[p(1, 5), p(3, 50)], Some(&judged)).unwrap();
        assert_eq!(
            c,
            Choice {
                n: 3,
                how: ChoiceHow::Judge,
                reason: "tidier".into()
            }
        );
    }

    #[test]
    fn otherwise_the_smallest_diff_then_the_lowest_number() {
        let unreadable: Result<Answer, String> =
            Err("the judge's reply has no ```json block".into());
        let c = choose(&[p(1, 30), p(2, 10), p(3, 10)], Some(&unreadable)).unwrap();
        assert_eq!((c.n, c.how), (2, ChoiceHow::SmallestDiff));
        assert!(
            c.reason.starts_with("the judge's reply has no"),
            "{}",
            c.reason
        );
        assert!(c
            .reason
            .ends_with("candidate 2 has the smallest diff (10 lines)"));

        let failed_one = Ok(Answer {
            n: 2,
            reason: "x".into(),
        });
        let c = choose(&[p(1, 30), p(3, 20)], Some(&failed_one)).unwrap();
        assert_eq!((c.n, c.how), (3, ChoiceHow::SmallestDiff));
        assert!(c.reason.contains("chose candidate 2, which did not pass"));

        let c = choose(&[p(4, 1), p(1, 1)], None).unwrap();
        assert_eq!((c.n, c.how), (1, ChoiceHow::SmallestDiff));
        assert!(c.reason.starts_with("the judge was not asked"));
    }
}
