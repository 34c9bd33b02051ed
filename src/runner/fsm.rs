//! The staged state machine as pure data and pure functions: stages, pipelines, transitions.
//!
//! Nothing here touches a process or a file, so every transition is unit tested. Verify is not
//! a separate pass over the whole tree: each backlog item is implemented and then verified
//! (gates, fix loop), so Verify is the stage an item is in while its gates run. A pipeline that contains `implement` therefore contains `verify` right after it.

use std::collections::BTreeMap;

use crate::error::{OrxError, Result};
use crate::model::{Stage, StageEnd, Stop};

/// The built-in pipelines.
pub const BUILTIN_PIPELINES: [&str; 3] = ["full", "fast-fix", "plan-only"];

/// Resolve a pipeline name to its ordered stages. `custom` is `pipelines:` from orx.yaml.
pub fn pipeline_stages(name: &str, custom: &BTreeMap<String, Vec<String>>) -> Result<Vec<Stage>> {
    use Stage::*;
    let listed: Vec<Stage> = match name {
        "full" => vec![Plan, Spec, Decompose, Implement, Review, Ship, Knowledge],
        "fast-fix" => vec![Implement, Review, Ship, Knowledge],
        "plan-only" => vec![Plan, Spec, Decompose],
        other => {
            let Some(names) = custom.get(other) else {
                let mut known: Vec<&str> = BUILTIN_PIPELINES.to_vec();
                known.extend(custom.keys().map(String::as_str));
                return Err(OrxError::usage(format!("unknown pipeline `{other}`"))
                    .with_hint(format!("use one of: {}", known.join(", "))));
            };
            let mut out = Vec::new();
            for n in names {
                let st = Stage::parse(n).ok_or_else(|| {
                    OrxError::config(format!("pipeline `{other}` names unknown stage `{n}`"))
                })?;
                if st != Verify {
                    out.push(st);
                }
            }
            out
        }
    };
    let mut stages = Vec::new();
    for st in listed {
        if !stages.contains(&st) {
            stages.push(st);
        }
        if st == Implement && !stages.contains(&Verify) {
            stages.push(Verify);
        }
    }
    if stages.is_empty() {
        return Err(OrxError::config(format!("pipeline `{name}` has no stages")));
    }
    Ok(stages)
}

/// Where the run goes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Stage(Stage),
    Succeeded,
    Failed,
    /// The run stops, resumable, with the stage left to re-enter.
    Stopped(Stop),
}

/// The transition function. Implement and Verify run together per item, so the stage after
/// Implement (or Verify) is the first stage after Verify.
pub fn next(stages: &[Stage], current: Stage, end: StageEnd) -> Next {
    match end {
        StageEnd::Failed => Next::Failed,
        StageEnd::Stopped(why) => Next::Stopped(why),
        StageEnd::ChangesRequested => {
            if stages.contains(&Stage::Implement) {
                Next::Stage(Stage::Implement)
            } else {
                Next::Failed
            }
        }
        StageEnd::Done | StageEnd::Skipped => {
            let from = if current == Stage::Implement && stages.contains(&Stage::Verify) {
                Stage::Verify
            } else {
                current
            };
            match stages.iter().position(|s| *s == from) {
                Some(i) if i + 1 < stages.len() => Next::Stage(stages[i + 1]),
                Some(_) => Next::Succeeded,
                None => Next::Failed,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Stage::*;

    #[test]
    fn full_pipeline_has_all_eight_stages_in_order() {
        let s = pipeline_stages("full", &BTreeMap::new()).unwrap();
        assert_eq!(s, Stage::ALL.to_vec());
    }

    #[test]
    fn fast_fix_skips_planning_and_plan_only_stops_after_decompose() {
        let s = pipeline_stages("fast-fix", &BTreeMap::new()).unwrap();
        assert_eq!(s, vec![Implement, Verify, Review, Ship, Knowledge]);
        let s = pipeline_stages("plan-only", &BTreeMap::new()).unwrap();
        assert_eq!(s, vec![Plan, Spec, Decompose]);
        assert_eq!(next(&s, Decompose, StageEnd::Done), Next::Succeeded);
    }

    #[test]
    fn custom_pipelines_resolve_and_unknown_names_fail() {
        let mut c = BTreeMap::new();
        c.insert(
            "quick".to_string(),
            vec!["implement".into(), "ship".into(), "verify".into()],
        );
        assert_eq!(
            pipeline_stages("quick", &c).unwrap(),
            vec![Implement, Verify, Ship]
        );
        let e = pipeline_stages("nope", &c).unwrap_err();
        assert!(e.hint.unwrap().contains("quick"));
        c.insert("bad".into(), vec!["deploy".into()]);
        assert!(pipeline_stages("bad", &c).is_err());
    }

    #[test]
    fn transitions_walk_the_pipeline_and_loop_back_on_review_changes() {
        let s = Stage::ALL.to_vec();
        assert_eq!(next(&s, Plan, StageEnd::Done), Next::Stage(Spec));
        assert_eq!(next(&s, Implement, StageEnd::Done), Next::Stage(Review));
        assert_eq!(next(&s, Verify, StageEnd::Done), Next::Stage(Review));
        assert_eq!(
            next(&s, Review, StageEnd::ChangesRequested),
            Next::Stage(Implement)
        );
        assert_eq!(next(&s, Knowledge, StageEnd::Done), Next::Succeeded);
        assert_eq!(next(&s, Knowledge, StageEnd::Skipped), Next::Succeeded);
        assert_eq!(next(&s, Spec, StageEnd::Failed), Next::Failed);
        assert_eq!(
            next(&s, Verify, StageEnd::Stopped(Stop::BudgetExceeded)),
            Next::Stopped(Stop::BudgetExceeded)
        );
        let no_impl = vec![Plan, Review];
        assert_eq!(
            next(&no_impl, Review, StageEnd::ChangesRequested),
            Next::Failed
        );
    }
}
