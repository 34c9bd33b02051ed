//! Naming a failure from the evidence a CLI leaves: an error message, an HTTP status, an exit
//! code, a reset time.
//!
//! The four CLIs report the same few failures (rate limit, bad credentials, unknown model,
//! API outage) in different words and fields, and sometimes only as free text. Every parser
//! funnels that evidence through these pure functions, so "429" means [`FailureKind::RateLimited`]
//! whichever CLI said it, and `fallback:` rules and the rate-limit wait see one vocabulary. The
//! text rules are deliberately conservative: a message that matches nothing stays a plain
//! [`FailureKind::AgentError`], which is still a failure, just not one orx can act on.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::FailureKind;

/// The failure an HTTP status stands for.
pub fn classify_http(status: u16) -> FailureKind {
    match status {
        429 => FailureKind::RateLimited,
        401 | 403 => FailureKind::AuthFailed,
        404 => FailureKind::ModelNotFound,
        400 | 413 | 422 => FailureKind::InputError,
        _ => FailureKind::ApiError,
    }
}

/// The failure an error message describes, if it says something specific.
pub fn classify_message(message: &str) -> Option<FailureKind> {
    let m = message.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| m.contains(w));
    if has(&[
        "rate limit",
        "rate_limit",
        "ratelimit",
        "429",
        "too many requests",
        "usage limit",
        "session limit",
        "weekly limit",
        "quota",
        "resource_exhausted",
        "resource exhausted",
    ]) {
        return Some(FailureKind::RateLimited);
    }
    if has(&["model"])
        && has(&[
            "not found",
            "not_found",
            "does not exist",
            "404",
            "unknown model",
            "invalid model",
            "not supported",
            "no such model",
            "not available",
        ])
    {
        return Some(FailureKind::ModelNotFound);
    }
    if has(&[
        "401",
        "unauthorized",
        "unauthenticated",
        "invalid api key",
        "invalid x-api-key",
        "api key not valid",
        "authentication",
        "not logged in",
        "please run /login",
        "missing api key",
        "no api key",
        "403 forbidden",
    ]) {
        return Some(FailureKind::AuthFailed);
    }
    if has(&[
        "500",
        "502",
        "503",
        "529",
        "overloaded",
        "internal server error",
        "service unavailable",
        "bad gateway",
        "high demand",
        "temporarily unavailable",
        "server-side issue",
    ]) {
        return Some(FailureKind::ApiError);
    }
    None
}

/// Gemini CLI in JSON mode exits with the HTTP status of a failed API call truncated to a byte
/// (429 → 173, 401 → 145, 404 → 148, 500 → 244, 503 → 247). Codes 144..=255 map back to
/// 400..=511; signal exits (128 + n for the usual signals) stay below 144.
pub fn http_from_truncated_exit(code: i32) -> Option<u16> {
    if (144..=255).contains(&code) {
        Some((code + 256) as u16)
    } else {
        None
    }
}

/// A reset time in a value or a message, as RFC 3339 UTC. Understands RFC 3339 timestamps,
/// epoch seconds (or milliseconds), and "resets in 30s", "try again in 12 seconds",
/// "retry after 5", "in 2 minutes". Wall-clock phrases without a date ("resets 9am
/// (Europe/Berlin)") need a time zone database orx does not carry: they give `None`, and the
/// wait falls back to its capped backoff.
pub fn parse_reset(text: &str) -> Option<String> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    if let Ok(when) = humantime::parse_rfc3339_weak(t) {
        return Some(rfc3339(when));
    }
    if let Ok(n) = t.parse::<f64>() {
        return from_epoch(n);
    }
    let lower = t.to_ascii_lowercase();
    // An embedded RFC 3339 timestamp.
    for word in lower.split(|c: char| c.is_whitespace() || c == '"' || c == '(' || c == ')') {
        let w = word.trim_end_matches(['.', ',', ';']);
        if w.len() >= 19 && w.as_bytes().get(4) == Some(&b'-') {
            if let Ok(when) = humantime::parse_rfc3339_weak(&w.to_uppercase()) {
                return Some(rfc3339(when));
            }
        }
    }
    for marker in [
        "resets in ",
        "reset in ",
        "try again in ",
        "retry in ",
        "retry after ",
        "retry-after: ",
        "retry-after ",
        "again in ",
        "wait ",
    ] {
        if let Some(pos) = lower.find(marker) {
            if let Some(d) = parse_relative(&lower[pos + marker.len()..]) {
                return Some(rfc3339(SystemTime::now() + d));
            }
        }
    }
    None
}

/// Seconds from now until an RFC 3339 reset time (0 when it already passed).
pub fn secs_until(reset_at: &str) -> Option<u64> {
    let when = humantime::parse_rfc3339_weak(reset_at).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .map(|d| d.as_secs() + u64::from(d.subsec_nanos() > 0))
            .unwrap_or(0),
    )
}

fn from_epoch(n: f64) -> Option<String> {
    if !n.is_finite() || n <= 0.0 {
        return None;
    }
    // Milliseconds when the number is too large to be seconds before the year 5000.
    let secs = if n > 95_617_584_000.0 { n / 1000.0 } else { n };
    Some(rfc3339(UNIX_EPOCH + Duration::from_secs_f64(secs)))
}

/// "30s", "12 seconds", "2 minutes", "1h", "5" (seconds) at the start of `s`.
fn parse_relative(s: &str) -> Option<Duration> {
    let s = s.trim_start();
    let digits: String = s
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let n: f64 = digits.parse().ok()?;
    let unit = s[digits.len()..].trim_start();
    let factor = if unit.starts_with("ms") || unit.starts_with("milli") {
        0.001
    } else if unit.starts_with('m') {
        60.0
    } else if unit.starts_with('h') {
        3600.0
    } else if unit.starts_with('d') {
        86_400.0
    } else {
        1.0
    };
    let secs = n * factor;
    if secs.is_finite() && secs >= 0.0 {
        Some(Duration::from_secs_f64(secs))
    } else {
        None
    }
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_their_failure() {
        use FailureKind::*;
        let cases = [
            (
                "API Error: 429 {\"type\":\"rate_limit_error\"}",
                Some(RateLimited),
            ),
            (
                "You've hit your session limit · resets 9am (Europe/Berlin)",
                Some(RateLimited),
            ),
            (
                "exceeded retry limit, last status: 429 Too Many Requests",
                Some(RateLimited),
            ),
            ("[RESOURCE_EXHAUSTED] Quota exceeded", Some(RateLimited)),
            (
                "The model `gpt-9` does not exist or you do not have access to it.",
                Some(ModelNotFound),
            ),
            ("model: claude-x not_found_error", Some(ModelNotFound)),
            ("Invalid API key · Please run /login", Some(AuthFailed)),
            ("unexpected status 401 Unauthorized", Some(AuthFailed)),
            ("API Error: 529 Overloaded", Some(ApiError)),
            ("the file was not what I expected", None),
        ];
        for (msg, want) in cases {
            assert_eq!(classify_message(msg), want, "{msg}");
        }
    }

    #[test]
    fn truncated_exit_codes_map_back_to_http() {
        assert_eq!(http_from_truncated_exit(173), Some(429));
        assert_eq!(http_from_truncated_exit(145), Some(401));
        assert_eq!(http_from_truncated_exit(148), Some(404));
        assert_eq!(http_from_truncated_exit(244), Some(500));
        assert_eq!(http_from_truncated_exit(247), Some(503));
        assert_eq!(http_from_truncated_exit(130), None);
        assert_eq!(http_from_truncated_exit(1), None);
        assert_eq!(classify_http(429), FailureKind::RateLimited);
        assert_eq!(classify_http(404), FailureKind::ModelNotFound);
        assert_eq!(classify_http(503), FailureKind::ApiError);
    }

    #[test]
    fn reset_times_in_every_shape() {
        assert_eq!(
            parse_reset("2030-01-02T03:04:05Z").as_deref(),
            Some("2030-01-02T03:04:05Z")
        );
        assert_eq!(
            parse_reset("1893553445").as_deref(),
            Some("2030-01-02T03:04:05Z")
        );
        assert_eq!(
            parse_reset("1893553445000").as_deref(),
            Some("2030-01-02T03:04:05Z")
        );
        let s = parse_reset("rate limited; resets in 30s").unwrap();
        let left = secs_until(&s).unwrap();
        assert!((28..=31).contains(&left), "{left}");
        let s = parse_reset("Please try again in 2 minutes.").unwrap();
        assert!((118..=121).contains(&secs_until(&s).unwrap()));
        assert!(parse_reset("resets 9am (Europe/Berlin)").is_none());
        assert!(parse_reset("").is_none());
        assert_eq!(secs_until("2000-01-01T00:00:00Z"), Some(0));
    }
}
