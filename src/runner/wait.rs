//! Waiting out a rate limit instead of respawning the agent in a loop.
//!
//! When a call fails as `rate_limited` and no `fallback:` rule applies, the run moves to
//! [`RunStatus::Waiting`] (saved, so `orx status` shows it), sleeps until the reset time the CLI
//! reported (RFC 3339, epoch seconds or "resets in N s", see `agents::classify::parse_reset`),
//! capped by `run.max_wait_secs`, or for a capped backoff when no reset time was given, then
//! returns to `running` and the caller retries the call exactly once. Progress is a `waiting`
//! event at the start and every [`PROGRESS_EVERY`]; Ctrl-C ends the wait at once as an
//! interrupt, leaving the step to re-run on `orx resume`.

use std::time::{Duration, Instant};

use super::context::{Halt, Run, Step};
use crate::agents::classify::secs_until;
use crate::agents::AgentOutcome;
use crate::model::event::EventKind;
use crate::model::{RunStatus, Stop};

/// How often a waiting run reports its progress.
pub const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// The wait when the CLI gave no reset time.
pub const BACKOFF_SECS: u64 = 60;

/// Seconds to wait for a reset at `reset_at`, at least 1 and at most `cap`.
pub fn wait_secs(reset_at: Option<&str>, cap: u64) -> u64 {
    reset_at
        .and_then(secs_until)
        .unwrap_or(BACKOFF_SECS)
        .clamp(1, cap.max(1))
}

/// Sleep until the rate limit in `outcome` resets (capped), reporting progress.
pub fn wait_for_reset(
    run: &mut Run<'_>,
    stage: &str,
    item: Option<&str>,
    outcome: &AgentOutcome,
) -> Step<()> {
    let secs = wait_secs(outcome.reset_at.as_deref(), run.config.run.max_wait_secs);
    let total = Duration::from_secs(secs);
    let message = outcome
        .message
        .clone()
        .unwrap_or_else(|| "rate limited".into());
    run.state.status = RunStatus::Waiting;
    run.save()?;
    let start = Instant::now();
    let mut next_report = Duration::ZERO;
    loop {
        let elapsed = start.elapsed();
        if elapsed >= next_report {
            run.emit(EventKind::Waiting {
                stage: stage.to_string(),
                item: item.map(String::from),
                reset_at: outcome.reset_at.clone(),
                wait_secs: secs,
                remaining_secs: total.saturating_sub(elapsed).as_secs(),
                message: message.clone(),
            })?;
            next_report += PROGRESS_EVERY;
        }
        if elapsed >= total {
            break;
        }
        if crate::exec::interrupt_requested() {
            run.state.status = RunStatus::Running;
            run.save()?;
            return Err(Halt::Stop(Stop::Interrupted));
        }
        std::thread::sleep((total - elapsed).min(Duration::from_millis(100)));
    }
    run.state.status = RunStatus::Running;
    Ok(run.save()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_are_capped_and_never_zero() {
        assert_eq!(wait_secs(None, 900), BACKOFF_SECS);
        assert_eq!(wait_secs(None, 5), 5);
        assert_eq!(wait_secs(Some("2000-01-01T00:00:00Z"), 900), 1);
        assert_eq!(wait_secs(Some("2999-01-01T00:00:00Z"), 900), 900);
        assert_eq!(wait_secs(Some("not a time"), 30), 30);
    }
}
