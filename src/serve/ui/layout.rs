//! The page shell every dashboard page shares (head, assets, navigation, the error banner) and
//! the small formatters the pages use for durations, tokens, money and status badges.
//!
//! Assets are referenced by a versioned path (`/assets/<name>?v=<orx version>`) so they can be
//! cached for a year and still change with a new orx. htmx's own indicator `<style>` is turned
//! off through its `htmx-config` meta tag because the pages' Content-Security-Policy allows
//! only the embedded style sheet.

use super::escape::escape;

/// A whole HTML page: `title` and `body` (already HTML); `error` is shown as a banner.
pub fn page(title: &str, error: Option<&str>, body: &str) -> String {
    let v = env!("CARGO_PKG_VERSION");
    let banner = error.map(error_banner).unwrap_or_default();
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"htmx-config\" content='{{\"includeIndicatorStyles\":false,\"allowEval\":false}}'>\
<title>{title} · orx</title>\
<link rel=\"icon\" href=\"/assets/favicon.svg?v={v}\" type=\"image/svg+xml\">\
<link rel=\"stylesheet\" href=\"/assets/app.css?v={v}\">\
<script src=\"/assets/htmx.min.js?v={v}\" defer></script>\
<script src=\"/assets/app.js?v={v}\" defer></script></head>\
<body><header class=\"top\"><a class=\"brand\" href=\"/\">orx</a>\
<nav><a href=\"/\">Runs</a> <a href=\"/api/openapi.json\">API</a> <a href=\"/api/health\">Health</a></nav>\
</header><main>{banner}{body}</main></body></html>\n",
        title = escape(title),
    )
}

/// A visible error message (POST failures, unknown runs).
pub fn error_banner(message: &str) -> String {
    format!(
        "<div class=\"error\" role=\"alert\" id=\"error\">{}</div>",
        escape(message)
    )
}

/// `1.2 s`, `3 min 4 s`, `850 ms`.
pub fn duration(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000)
    }
}

/// `12,345`.
pub fn count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `$0.0123`, or `—` for nothing spent.
pub fn cost(usd: f64) -> String {
    if usd <= 0.0 {
        "—".to_string()
    } else {
        format!("${usd:.4}")
    }
}

/// A status badge; the class is derived from a fixed list, never from the text itself.
pub fn badge(status: &str) -> String {
    let class = match status {
        "succeeded" | "done" | "passed" => "ok",
        "failed" | "stuck" | "blocked" => "bad",
        "running" | "in_progress" | "waiting" => "live",
        "interrupted" | "budget_exceeded" | "awaiting_approval" | "partial" => "warn",
        _ => "idle",
    };
    format!(
        "<span class=\"badge {class}\" data-status=\"{s}\">{s}</span>",
        s = escape(status)
    )
}

/// `2026-01-01T10:00:00.123Z` → `2026-01-01 10:00:00` (UTC, to the second).
pub fn when(ts: &str) -> String {
    let t = ts.replacen('T', " ", 1);
    let t = t.trim_end_matches('Z');
    let t = t.split_once('.').map(|(a, _)| a).unwrap_or(t);
    escape(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatters() {
        assert_eq!(duration(850), "850 ms");
        assert_eq!(duration(1234), "1.2 s");
        assert_eq!(duration(184_000), "3 min 4 s");
        assert_eq!(count(1234567), "1,234,567");
        assert_eq!(count(12), "12");
        assert_eq!(cost(0.0), "—");
        assert_eq!(when("2026-01-01T10:00:00.123Z"), "2026-01-01 10:00:00");
        assert_eq!(cost(0.01234), "$0.0123");
        assert!(badge("<x>").contains("&lt;x&gt;"));
        assert!(page("<t>", Some("<boom>"), "").contains("&lt;boom&gt;"));
    }
}
