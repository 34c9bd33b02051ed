//! Budgets enforced while the agent runs: run cost, run tokens, and turns per call.
//!
//! A [`Budget`] is built for one agent call from the run's totals so far and the limits in
//! `orx.yaml` (`run.max_budget_usd`, `run.max_tokens`, `stages.<stage>.max_turns`). The runner
//! feeds it every streamed [`AgentEvent`]; when a `Usage` delta takes the run past a limit, or a
//! `ToolCall` takes the call past its turns, [`Budget::observe`] returns the reason and the
//! runner answers the supervisor with `Control::Stop`, so the agent is stopped mid-call instead
//! of finishing a turn nobody will pay for. The reason starts with [`BUDGET_STOP`], which is how
//! `invoke` tells a budget stop from other stops. Before a call starts, [`Budget::exhausted`]
//! refuses to start one at all once the run is at a limit (a resumed run with the same limits
//! stops again at once; raise them and it continues).
//!
//! How fine-grained the enforcement is depends on what the CLI streams: the fake engine and
//! Codex report usage per turn; Claude reports it once, in its final `result`, so for Claude
//! orx also passes what is left of the budget as `--max-budget-usd` and the stage's turn limit as
//! `--max-turns`, and Claude stops itself. A turn is counted per tool call the agent makes (each
//! one is a model round trip), which every parser reports as one `ToolCall`.

use super::{AgentEvent, Usage};

/// The prefix of every budget stop reason.
pub const BUDGET_STOP: &str = "budget_exceeded";

/// The limits that apply to one call.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Limits {
    pub max_usd: Option<f64>,
    pub max_tokens: Option<u64>,
    pub max_turns: Option<u32>,
}

impl Limits {
    pub fn is_empty(&self) -> bool {
        self.max_usd.is_none() && self.max_tokens.is_none() && self.max_turns.is_none()
    }
}

#[derive(Debug, Clone)]
pub struct Budget {
    limits: Limits,
    before: Usage,
    call: Usage,
    turns: u32,
}

impl Budget {
    /// A budget for one call; `spent` is the run's usage before it.
    pub fn new(limits: Limits, spent: &Usage) -> Self {
        Budget {
            limits,
            before: spent.clone(),
            call: Usage::default(),
            turns: 0,
        }
    }

    /// Why no call may start: a run limit is already reached.
    pub fn exhausted(&self) -> Option<String> {
        if let Some(max) = self.limits.max_usd {
            if self.before.cost_usd >= max {
                return Some(format!(
                    "{BUDGET_STOP}: the run already spent ${:.4} of run.max_budget_usd ${max:.4}",
                    self.before.cost_usd
                ));
            }
        }
        if let Some(max) = self.limits.max_tokens {
            if self.before.all_tokens() >= max {
                return Some(format!(
                    "{BUDGET_STOP}: the run already used {} of run.max_tokens {max} tokens",
                    self.before.all_tokens()
                ));
            }
        }
        None
    }

    /// What is left of `run.max_budget_usd` for this call.
    pub fn remaining_usd(&self) -> Option<f64> {
        self.limits
            .max_usd
            .map(|m| (m - self.before.cost_usd - self.call.cost_usd).max(0.0))
    }

    /// Account for one streamed event; `Some(reason)` when a limit is now crossed. Usage events
    /// must already carry their (possibly estimated) cost.
    pub fn observe(&mut self, ev: &AgentEvent) -> Option<String> {
        match ev {
            AgentEvent::Usage { usage } => {
                self.call.add(usage);
                let cost = self.before.cost_usd + self.call.cost_usd;
                if let Some(max) = self.limits.max_usd {
                    if cost > max {
                        return Some(format!(
                            "{BUDGET_STOP}: run cost ${cost:.4} crossed run.max_budget_usd ${max:.4}"
                        ));
                    }
                }
                let tokens = self.before.all_tokens() + self.call.all_tokens();
                if let Some(max) = self.limits.max_tokens {
                    if tokens > max {
                        return Some(format!(
                            "{BUDGET_STOP}: run tokens {tokens} crossed run.max_tokens {max}"
                        ));
                    }
                }
                None
            }
            AgentEvent::ToolCall { .. } => {
                self.turns += 1;
                match self.limits.max_turns {
                    Some(max) if self.turns > max => Some(format!(
                        "{BUDGET_STOP}: the agent took more than max_turns {max} turns in this call"
                    )),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(tokens: u64, cost: f64) -> AgentEvent {
        AgentEvent::Usage {
            usage: Usage {
                input_tokens: tokens,
                cost_usd: cost,
                ..Usage::default()
            },
        }
    }

    #[test]
    fn streamed_usage_crosses_run_limits() {
        let spent = Usage {
            input_tokens: 900,
            cost_usd: 0.9,
            ..Usage::default()
        };
        let mut b = Budget::new(
            Limits {
                max_tokens: Some(1_000),
                ..Limits::default()
            },
            &spent,
        );
        assert_eq!(b.exhausted(), None);
        assert_eq!(
            b.observe(&usage(100, 0.0)),
            None,
            "exactly at the limit is not over"
        );
        let why = b.observe(&usage(1, 0.0)).unwrap();
        assert!(
            why.starts_with(BUDGET_STOP) && why.contains("1001"),
            "{why}"
        );

        let mut b = Budget::new(
            Limits {
                max_usd: Some(1.0),
                ..Limits::default()
            },
            &spent,
        );
        assert!((b.remaining_usd().unwrap() - 0.1).abs() < 1e-9);
        assert!(b
            .observe(&usage(1, 0.2))
            .unwrap()
            .contains("max_budget_usd"));
    }

    #[test]
    fn a_reached_limit_refuses_the_next_call_and_turns_count_tool_calls() {
        let spent = Usage {
            input_tokens: 1_000,
            ..Usage::default()
        };
        let b = Budget::new(
            Limits {
                max_tokens: Some(1_000),
                ..Limits::default()
            },
            &spent,
        );
        assert!(b.exhausted().unwrap().contains("already used 1000"));

        let mut b = Budget::new(
            Limits {
                max_turns: Some(2),
                ..Limits::default()
            },
            &Usage::default(),
        );
        let call = crate::agents::tools::call("Bash", &serde_json::json!({"command": "ls"}));
        assert_eq!(b.observe(&call), None);
        assert_eq!(b.observe(&call), None);
        assert!(b.observe(&call).unwrap().contains("max_turns 2"));
    }
}
