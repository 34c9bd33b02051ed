//! `fallback:` rules: which substitute executor or model a failed call is retried with.
//!
//! A rule matches a failed call by its failure kind (`rate_limited`, `model_not_found`,
//! `auth_failed`, or `any_error`) and optionally by stage. The first matching rule whose
//! substitute differs from what just failed wins; the runner retries the call once with it and
//! records the switch (a `fallback` event and an entry in `state.json`). Failures that are not
//! the agent's (interrupt, budget stop) never trigger a fallback: retrying them elsewhere would
//! spend what the user just said not to spend.

use super::FailureKind;
use crate::config::{FallbackOn, FallbackRule};

/// Whether `rule` reacts to `failure` in `stage`.
pub fn matches(rule: &FallbackRule, stage: &str, failure: FailureKind) -> bool {
    if rule.stage.as_deref().is_some_and(|s| s != stage) {
        return false;
    }
    match rule.on {
        FallbackOn::RateLimited => failure == FailureKind::RateLimited,
        FallbackOn::ModelNotFound => failure == FailureKind::ModelNotFound,
        FallbackOn::AuthFailed => failure == FailureKind::AuthFailed,
        FallbackOn::AnyError => !matches!(
            failure,
            FailureKind::Interrupted | FailureKind::BudgetExceeded | FailureKind::Stopped
        ),
    }
}

/// The snake_case name of a trigger, for events and state.
pub fn on_name(on: FallbackOn) -> &'static str {
    match on {
        FallbackOn::RateLimited => "rate_limited",
        FallbackOn::ModelNotFound => "model_not_found",
        FallbackOn::AuthFailed => "auth_failed",
        FallbackOn::AnyError => "any_error",
    }
}

/// The substitute (executor, model) for a failed call on (`executor`, `model`), if a rule
/// applies. `default_model` gives an executor's configured default model, used when a rule
/// switches executor without naming a model.
pub fn pick<'r>(
    rules: &'r [FallbackRule],
    stage: &str,
    failure: FailureKind,
    executor: &str,
    model: Option<&str>,
    default_model: &dyn Fn(&str) -> Option<String>,
) -> Option<(&'r FallbackRule, String, Option<String>)> {
    rules.iter().find_map(|r| {
        if !matches(r, stage, failure) {
            return None;
        }
        let to_exec = r.executor.clone().unwrap_or_else(|| executor.to_string());
        let to_model = match (&r.model, &r.executor) {
            (Some(m), _) => Some(m.clone()),
            (None, Some(e)) if e != executor => default_model(e),
            (None, _) => model.map(String::from),
        };
        if to_exec == executor && to_model.as_deref() == model {
            return None;
        }
        Some((r, to_exec, to_model))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(
        on: FallbackOn,
        stage: Option<&str>,
        executor: Option<&str>,
        model: Option<&str>,
    ) -> FallbackRule {
        FallbackRule {
            on,
            stage: stage.map(String::from),
            executor: executor.map(String::from),
            model: model.map(String::from),
        }
    }

    #[test]
    fn the_first_matching_rule_with_a_different_substitute_wins() {
        let rules = vec![
            rule(FallbackOn::RateLimited, Some("review"), None, Some("haiku")),
            rule(FallbackOn::RateLimited, None, None, Some("sonnet")),
            rule(FallbackOn::RateLimited, None, Some("codex"), None),
            rule(FallbackOn::ModelNotFound, None, Some("gemini"), None),
        ];
        let defaults = |e: &str| (e == "gemini").then(|| "gemini-2.5-pro".to_string());
        let (_, e, m) = pick(
            &rules,
            "implement",
            FailureKind::RateLimited,
            "claude",
            Some("opus"),
            &defaults,
        )
        .unwrap();
        assert_eq!((e.as_str(), m.as_deref()), ("claude", Some("sonnet")));
        // Already on sonnet: the next rule switches executor.
        let (_, e, m) = pick(
            &rules,
            "implement",
            FailureKind::RateLimited,
            "claude",
            Some("sonnet"),
            &defaults,
        )
        .unwrap();
        assert_eq!((e.as_str(), m), ("codex", None));
        let (_, e, m) = pick(
            &rules,
            "plan",
            FailureKind::ModelNotFound,
            "claude",
            Some("x"),
            &defaults,
        )
        .unwrap();
        assert_eq!(
            (e.as_str(), m.as_deref()),
            ("gemini", Some("gemini-2.5-pro"))
        );
        let (_, _, m) = pick(
            &rules,
            "review",
            FailureKind::RateLimited,
            "claude",
            Some("opus"),
            &defaults,
        )
        .unwrap();
        assert_eq!(m.as_deref(), Some("haiku"));
        assert!(pick(
            &rules,
            "plan",
            FailureKind::AuthFailed,
            "claude",
            None,
            &defaults
        )
        .is_none());
    }

    #[test]
    fn any_error_skips_stops_that_are_not_the_agents() {
        let r = rule(FallbackOn::AnyError, None, Some("codex"), None);
        assert!(matches(&r, "plan", FailureKind::NoResult));
        assert!(matches(&r, "plan", FailureKind::Timeout));
        assert!(!matches(&r, "plan", FailureKind::Interrupted));
        assert!(!matches(&r, "plan", FailureKind::BudgetExceeded));
    }
}
