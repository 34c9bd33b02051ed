//! Secret detection: the shapes of known credentials, high-entropy assignments to secret-named
//! variables, `.env` files, and the scan of a unified diff's added lines.
//!
//! The matchers are hand-written (a prefix, a character class, a length) rather than regexes:
//! each shape is a dozen lines, and a scan is one pass over the bytes that only looks closer
//! where a credential can start: where one of the literals every prefix starts with stands
//! (found by aho-corasick's vectorised Teddy searcher, already built for globset), and at the
//! `=` and `:` an assignment needs. The same [`find`] powers both
//! the scan that blocks a commit (here) and the redaction of everything orx writes
//! (`redact.rs`), so what is blocked and what is hidden never drift apart.
//!
//! Assignments are judged by Shannon entropy: `API_TOKEN = "9fQ2…"` with at least 16 characters
//! and 3.5 bits per character is a secret, `API_TOKEN = os.environ["API_TOKEN"]` or
//! `API_TOKEN = "${API_TOKEN}"` or `"changeme"` is not. The diff scan keeps the file and the
//! new-file line number of every added line from the hunk headers, so a violation points at
//! `config.py:3`, and only ever reports a masked value ([`mask`]).

use super::anchors::{anchors2, holds_none};
use super::stems::STEMS;
use super::{escapes, Violation, ViolationKind};

/// One secret found in a text: its kind and byte span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub kind: &'static str,
    pub start: usize,
    pub end: usize,
}

const AWS_PREFIXES: [&str; 11] = [
    "AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AIPA", "ANPA", "ANVA", "AROA", "APKA",
];

/// `[A-Za-z0-9]`, and `[A-Za-z0-9_-]` (the bytes of key bodies and of names), as tables: the
/// scans test them on every byte they walk over, and a table lookup is one load where the
/// range comparisons were five.
const ALNUM: [bool; 256] =
    byte_table(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");
const KEY_CHAR: [bool; 256] =
    byte_table(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-");

/// The table of `bytes`.
const fn byte_table(bytes: &[u8]) -> [bool; 256] {
    let mut t = [false; 256];
    let mut k = 0;
    while k < bytes.len() {
        t[bytes[k] as usize] = true;
        k += 1;
    }
    t
}

fn is_alnum(b: u8) -> bool {
    ALNUM[b as usize]
}

fn is_key_char(b: u8) -> bool {
    KEY_CHAR[b as usize]
}

/// Length of the run of bytes satisfying `ok` starting at `from`.
fn run_len(b: &[u8], from: usize, ok: impl Fn(u8) -> bool) -> usize {
    b.get(from..)
        .map(|s| s.iter().take_while(|&&c| ok(c)).count())
        .unwrap_or(0)
}

/// No text shorter than this holds a finding: the shortest is a URL password, `ab://:p@` (a
/// scheme of two letters, an empty user, one byte of password); every credential shape is at
/// least 15 bytes (`xoxb-` and 10) and every assignment at least 18 (a name, an operator and
/// 16 bytes of value).
pub const SHORTEST_FINDING: usize = 8;

/// Every known credential shape in `text`, plus high-entropy secret assignments, sorted by
/// position with overlaps removed.
pub fn find(text: &str) -> Vec<Finding> {
    let mut out = find_shapes(text);
    let mut urls = Vec::new();
    out.extend(scan_operators(text, Some(&mut urls)));
    out.extend(urls);
    out.sort_by_key(|f| (f.start, std::cmp::Reverse(f.end)));
    let mut merged: Vec<Finding> = Vec::with_capacity(out.len());
    for f in out {
        match merged.last_mut() {
            Some(last) if f.start < last.end => last.end = last.end.max(f.end),
            _ => merged.push(f),
        }
    }
    merged
}

/// Known credential shapes (cloud and provider keys, private keys) in `text`.
///
/// Every shape [`shape_at`] knows starts with one of a few dozen literals ([`STEMS`]), so the
/// scan asks a vectorised multi-literal searcher (aho-corasick's Teddy) for the leftmost stem
/// at or after the first untested position and tests only there: in an agent's stream-json
/// the stems are rare, where the bytes a byte-by-byte scan has to look closer at (`A`, `-`,
/// `_`, `.`) come every few bytes. A finding hides what lies inside it, a miss moves on by one
/// byte (a stem can start inside another), which finds exactly what testing every byte
/// finds. A text shorter than [`SEARCHER_PAYS_FROM`] bytes (most strings of an event), or on a
/// CPU where no such searcher can be built (one without SSSE3), has every byte tested.
pub fn find_shapes(text: &str) -> Vec<Finding> {
    match stem_searcher() {
        Some(stems) if text.len() >= SEARCHER_PAYS_FROM => find_shapes_searched(text, stems),
        _ => find_shapes_bytewise(text),
    }
}

/// [`find_shapes`] through the stem searcher, whatever the text's length.
fn find_shapes_searched(text: &str, stems: &aho_corasick::packed::Searcher) -> Vec<Finding> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut at = 0;
    while at < b.len() {
        let Some(m) = stems.find_in(b, aho_corasick::Span::from(at..b.len())) else {
            break;
        };
        let i = m.start();
        match shape_start(b, i).then(|| shape_finding(b, i)).flatten() {
            Some(f) => {
                at = f.end.max(i + 1);
                out.push(f);
            }
            None => at = i + 1,
        }
    }
    out
}

/// The length from which the stem searcher finds shapes faster than testing every byte: each
/// search costs a setup of about 50 ns, the byte test about 1.2 ns a byte (measured over
/// stream-json pieces of 16 to 512 bytes; the two meet at about 64).
const SEARCHER_PAYS_FROM: usize = 64;

/// The scan [`find_shapes`] falls back to, and its oracle in the tests: every position where a
/// prefix can start is tested, left to right, and a finding is skipped over whole.
fn find_shapes_bytewise(text: &str) -> Vec<Finding> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match shape_start(b, i).then(|| shape_finding(b, i)).flatten() {
            Some(f) => {
                i = f.end.max(i + 1);
                out.push(f);
            }
            None => i += 1,
        }
    }
    out
}

/// The searcher over [`STEMS`], built once per process; `None` where the CPU has no vector
/// instructions it can use.
fn stem_searcher() -> Option<&'static aho_corasick::packed::Searcher> {
    static SEARCHER: std::sync::OnceLock<Option<aho_corasick::packed::Searcher>> =
        std::sync::OnceLock::new();
    SEARCHER
        .get_or_init(|| {
            aho_corasick::packed::Config::new()
                .match_kind(aho_corasick::packed::MatchKind::LeftmostFirst)
                // More than the 64 stems its heuristic allows by default: measured over
                // stream-json, the searcher is still twice as fast as testing each byte.
                .heuristic_pattern_limits(false)
                .builder()
                .extend(STEMS)
                .build()
        })
        .as_ref()
}

/// The credential shape that starts at `i`, as a finding.
fn shape_finding(b: &[u8], i: usize) -> Option<Finding> {
    shape_at(b, i).map(|(kind, end)| Finding {
        kind,
        start: i,
        end,
    })
}

/// The first bytes of every credential prefix [`shape_at`] knows.
const FIRST_BYTES: &[u8] = b"AgsxrdeEfGhklLnNpPSy-";

/// [`FIRST_BYTES`] as a table, tested once per candidate position.
const IS_FIRST: [bool; 256] = byte_table(FIRST_BYTES);

/// Whether a credential can start at `i`: one of the first bytes of a prefix, not glued to
/// the end of a word.
fn shape_start(b: &[u8], i: usize) -> bool {
    IS_FIRST[b[i] as usize] && (i == 0 || !is_alnum(b[i - 1]))
}

/// `prefix` + at least `min` bytes satisfying `ok` (and at most `max`), not followed by
/// another such byte: (kind, end).
fn prefixed(
    b: &[u8],
    i: usize,
    prefix: &[u8],
    min: usize,
    max: usize,
    ok: impl Fn(u8) -> bool,
    kind: &'static str,
) -> Option<(&'static str, usize)> {
    // The second byte first: most candidates differ there, and a whole-prefix comparison of
    // a prefix whose length is only known at run time is a `memcmp` call.
    if b.get(i + 1) != prefix.get(1) || !b[i..].starts_with(prefix) {
        return None;
    }
    let start = i + prefix.len();
    let n = run_len(b, start, ok);
    (n >= min && n <= max).then_some((kind, start + n))
}

fn is_hex(c: u8) -> bool {
    c.is_ascii_hexdigit()
}

fn is_b64url(c: u8) -> bool {
    is_alnum(c) || c == b'_' || c == b'-'
}

/// Credential families with a fixed prefix beyond the historical ones (after the public rule
/// lists of dedicated scanners): package registries, SaaS and cloud tokens, webhooks.
/// A fixed-prefix rule: prefix, shortest and longest body, body bytes, kind.
type Rule = (&'static [u8], usize, usize, fn(u8) -> bool, &'static str);

fn more_shapes(b: &[u8], i: usize) -> Option<(&'static str, usize)> {
    let c = b[i];
    let rules: &[Rule] = match c {
        b'n' => &[(b"npm_", 36, 36, is_alnum, "npm_token")],
        b'h' => &[
            (b"hf_", 30, 40, is_alnum, "huggingface_token"),
            (b"hvs.", 24, usize::MAX, is_b64url, "vault_token"),
            (b"hvb.", 24, usize::MAX, is_b64url, "vault_token"),
        ],
        b'g' => &[
            (b"glpat-", 20, usize::MAX, is_b64url, "gitlab_token"),
            (b"glptt-", 20, usize::MAX, is_b64url, "gitlab_token"),
            (b"gldt-", 20, usize::MAX, is_b64url, "gitlab_token"),
            (b"glrt-", 20, usize::MAX, is_b64url, "gitlab_token"),
            (b"glc_", 32, usize::MAX, is_b64url, "grafana_token"),
        ],
        b'G' => &[(b"GOCSPX-", 28, 28, is_b64url, "google_oauth_secret")],
        b'y' => &[(b"ya29.", 30, usize::MAX, is_b64url, "google_oauth_token")],
        b'd' => &[
            (b"dop_v1_", 64, 64, is_hex, "digitalocean_token"),
            (b"doo_v1_", 64, 64, is_hex, "digitalocean_token"),
            (b"dor_v1_", 64, 64, is_hex, "digitalocean_token"),
            (b"dp.pt.", 40, usize::MAX, is_alnum, "doppler_token"),
        ],
        b'p' => &[
            (
                b"pypi-AgEIcHlwaS5vcmc",
                50,
                usize::MAX,
                is_b64url,
                "pypi_token",
            ),
            (
                b"pscale_tkn_",
                32,
                usize::MAX,
                is_b64url,
                "planetscale_token",
            ),
            (b"pul-", 40, 40, is_hex, "pulumi_token"),
        ],
        b's' => &[
            (b"shpat_", 32, 32, is_hex, "shopify_token"),
            (b"shpca_", 32, 32, is_hex, "shopify_token"),
            (b"shppa_", 32, 32, is_hex, "shopify_token"),
            (b"shpss_", 32, 32, is_hex, "shopify_token"),
            (
                b"sntrys_",
                50,
                usize::MAX,
                |c| is_b64url(c) || c == b'=',
                "sentry_token",
            ),
            (b"sq0atp-", 22, 22, is_b64url, "square_token"),
            (b"sq0csp-", 43, 43, is_b64url, "square_token"),
            (b"sk_test_", 20, usize::MAX, is_alnum, "stripe_key"),
            (b"sk_prod_", 20, usize::MAX, is_alnum, "stripe_key"),
        ],
        b'r' => &[(b"rk_test_", 20, usize::MAX, is_alnum, "stripe_key")],
        b'x' => &[(
            b"xapp-",
            20,
            usize::MAX,
            |c| is_alnum(c) || c == b'-',
            "slack_token",
        )],
        b'l' => &[(b"lin_api_", 40, 40, is_alnum, "linear_api_key")],
        b'k' => &[(b"key-", 32, 32, is_hex, "mailgun_key")],
        b'N' => &[(
            b"NRAK-",
            27,
            27,
            |c| c.is_ascii_uppercase() || c.is_ascii_digit(),
            "newrelic_key",
        )],
        b'L' => &[(b"LTAI", 20, 24, is_alnum, "alibaba_access_key")],
        b'A' => &[
            (
                b"ATATT3",
                180,
                usize::MAX,
                |c| is_b64url(c) || c == b'=',
                "atlassian_token",
            ),
            (
                b"AGE-SECRET-KEY-1",
                58,
                58,
                |c| c.is_ascii_uppercase() || c.is_ascii_digit(),
                "age_secret_key",
            ),
        ],
        b'E' => &[
            (b"EAAC", 100, usize::MAX, is_alnum, "facebook_token"),
            (b"EAAM", 100, usize::MAX, is_alnum, "facebook_token"),
        ],
        b'f' => &[(b"fo1_", 43, 43, is_b64url, "flyio_token")],
        _ => &[],
    };
    for (prefix, min, max, ok, kind) in rules {
        if let Some(hit) = prefixed(b, i, prefix, *min, *max, ok, kind) {
            return Some(hit);
        }
    }
    match c {
        // Twilio API key: SK + 32 hex.
        b'S' if b.get(i + 1) == Some(&b'K') => prefixed(
            b,
            i,
            b"SK",
            32,
            32,
            |c| matches!(c, b'0'..=b'9' | b'a'..=b'f'),
            "twilio_key",
        ),
        // SendGrid: SG.<22>.<43>
        b'S' if b[i..].starts_with(b"SG.") => {
            let (_, dot) = prefixed(b, i, b"SG.", 16, 32, is_b64url, "")?;
            (b.get(dot) == Some(&b'.')).then_some(())?;
            let n = run_len(b, dot + 1, is_b64url);
            (n >= 40).then_some(("sendgrid_key", dot + 1 + n))
        }
        // Postman: PMAK-<24 hex>-<34 hex>
        b'P' if b[i..].starts_with(b"PMAK-") => {
            let (_, dash) = prefixed(b, i, b"PMAK-", 24, 24, is_hex, "")?;
            (b.get(dash) == Some(&b'-')).then_some(())?;
            let n = run_len(b, dash + 1, is_hex);
            (n == 34).then_some(("postman_key", dash + 35))
        }
        // A signed JWT: header.payload.signature, the first two base64url JSON objects.
        b'e' if b[i..].starts_with(b"eyJ") => {
            let h = run_len(b, i, is_b64url);
            let p0 = i + h + 1;
            if h < 10 || b.get(i + h) != Some(&b'.') || !b[p0..].starts_with(b"eyJ") {
                return None;
            }
            let p = run_len(b, p0, is_b64url);
            let s0 = p0 + p + 1;
            if p < 10 || b.get(p0 + p) != Some(&b'.') {
                return None;
            }
            let sig = run_len(b, s0, is_b64url);
            (sig >= 16).then_some(("jwt", s0 + sig))
        }
        _ => None,
    }
}

/// The credential starting exactly at `i`, if any: (kind, end).
fn shape_at(b: &[u8], i: usize) -> Option<(&'static str, usize)> {
    let rest = &b[i..];
    let after = |p: &str| i + p.len();
    if rest.starts_with(b"-----BEGIN ") {
        return pem_at(b, i);
    }
    if let Some(hit) = more_shapes(b, i) {
        return Some(hit);
    }
    // Every other prefix starts with one of these bytes; skip the prefix lists that cannot
    // match.
    let c = b[i];
    for p in AWS_PREFIXES.iter().filter(|_| c == b'A') {
        // The second byte first (see `prefixed`).
        if rest.get(1) == p.as_bytes().get(1) && rest.starts_with(p.as_bytes()) {
            let n = run_len(b, after(p), |c| {
                c.is_ascii_uppercase() || c.is_ascii_digit()
            });
            let next = b.get(after(p) + n).copied().unwrap_or(b' ');
            if n == 16 && !is_alnum(next) {
                return Some(("aws_access_key_id", after(p) + 16));
            }
            return None;
        }
    }
    if c != b'g' && c != b's' && c != b'x' && c != b'r' && c != b'A' {
        return None;
    }
    for p in ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"]
        .iter()
        .filter(|_| c == b'g')
    {
        if rest.starts_with(p.as_bytes()) {
            let n = run_len(b, after(p), is_alnum);
            return (n >= 36).then(|| ("github_token", after(p) + n));
        }
    }
    if rest.starts_with(b"github_pat_") {
        let n = run_len(b, after("github_pat_"), |c| is_alnum(c) || c == b'_');
        return (n >= 22).then(|| ("github_token", after("github_pat_") + n));
    }
    if rest.starts_with(b"sk-ant-") {
        let n = run_len(b, after("sk-ant-"), is_key_char);
        return (n >= 32).then(|| ("anthropic_api_key", after("sk-ant-") + n));
    }
    if rest.starts_with(b"sk-") {
        let start = after("sk-");
        let n = run_len(b, start, is_key_char);
        let body = &b[start..start + n];
        let mixed = body.iter().any(u8::is_ascii_uppercase)
            && body.iter().any(u8::is_ascii_lowercase)
            && body.iter().any(u8::is_ascii_digit);
        return (n >= 20 && mixed).then(|| ("openai_api_key", start + n));
    }
    if rest.starts_with(b"AIza") {
        let n = run_len(b, after("AIza"), is_key_char);
        return (n == 35).then(|| ("google_api_key", after("AIza") + n));
    }
    if rest.starts_with(b"xox") && rest.len() > 4 && b"baprs".contains(&rest[3]) && rest[4] == b'-'
    {
        let n = run_len(b, i + 5, |c| is_alnum(c) || c == b'-');
        return (n >= 10).then(|| ("slack_token", i + 5 + n));
    }
    for p in ["sk_live_", "rk_live_"] {
        if rest.starts_with(p.as_bytes()) {
            let n = run_len(b, after(p), is_alnum);
            return (n >= 20).then(|| ("stripe_key", after(p) + n));
        }
    }
    None
}

/// `-----BEGIN [A-Z ]*PRIVATE KEY( BLOCK)?-----`, up to its END marker or the end of the text.
fn pem_at(b: &[u8], i: usize) -> Option<(&'static str, usize)> {
    let label_start = i + "-----BEGIN ".len();
    let n = run_len(b, label_start, |c| c.is_ascii_uppercase() || c == b' ');
    let label = &b[label_start..label_start + n];
    let is_private = label.ends_with(b"PRIVATE KEY") || label.ends_with(b"PRIVATE KEY BLOCK");
    if !is_private || !b[label_start + n..].starts_with(b"-----") {
        return None;
    }
    let body = label_start + n + 5;
    let end = find_bytes(&b[body..], b"-----END ")
        .and_then(|e| {
            let marker = body + e + "-----END ".len();
            let close = find_bytes(&b[marker..], b"-----")?;
            Some(marker + close + 5)
        })
        .unwrap_or(b.len());
    Some(("private_key", end))
}

fn find_bytes(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Whether a variable name says it holds a secret: `*_KEY`, `*_TOKEN`, `*_SECRET`,
/// `*PASSWORD*` (and `*_API_KEY`, `*SECRET`, `*APIKEY`, `*PASSWD*`), case-insensitively.
pub fn secret_name(name: &str) -> bool {
    // Called for every identifier of every redacted line: compare bytes, allocate nothing.
    let n = name.as_bytes();
    let eq = |a: u8, b: u8| a.to_ascii_uppercase() == b || (a == b'-' && b == b'_');
    let ends = |suf: &[u8]| {
        n.len() >= suf.len()
            && n[n.len() - suf.len()..]
                .iter()
                .zip(suf)
                .all(|(&a, &b)| eq(a, b))
    };
    let contains = |needle: &[u8]| {
        n.windows(needle.len())
            .any(|w| w.iter().zip(needle).all(|(&a, &b)| eq(a, b)))
    };
    // Each suffix ends in its own letter: the last byte decides which can match at all.
    let suffix = match n.last().map(u8::to_ascii_uppercase) {
        Some(b'Y') => ends(b"_KEY") || ends(b"APIKEY") || ends(b"ACCOUNTKEY") || ends(b"ACCESSKEY"),
        Some(b'N') => ends(b"TOKEN") && n.len() > 5,
        Some(b'T') => ends(b"SECRET"),
        _ => false,
    };
    suffix || contains(b"PASSWORD") || contains(b"PASSWD")
}

/// Credentials inside URLs: the password of `scheme://user:password@host` (database URLs
/// for postgres, mysql, mongodb, redis, amqp and any other scheme) and the secret path of a
/// Slack or Discord webhook. The scan jumps between `://` (`memmem`, vectorised); the span is
/// the password or the secret path alone, so a redacted URL keeps its shape.
pub fn find_url_credentials(text: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    scan_operators(text, Some(&mut out));
    out
}

/// The URL credentials of the `scheme://` whose colon is at `at` (see
/// [`find_url_credentials`]); called from the operator scan, which visits every `:` anyway.
fn url_credentials_at(text: &str, at: usize, out: &mut Vec<Finding>) {
    let b = text.as_bytes();
    // The scheme: letters, digits, `+`, `-`, `.` right before, starting with a letter.
    let mut s = at;
    while s > 0 && (is_alnum(b[s - 1]) || matches!(b[s - 1], b'+' | b'-' | b'.')) {
        s -= 1;
    }
    if at - s < 2 || !b[s].is_ascii_alphabetic() {
        return;
    }
    let auth = at + 3;
    let rest = &b[auth..];
    for (host, kind, min) in [
        (&b"hooks.slack.com/services/"[..], "slack_webhook", 20),
        (&b"discord.com/api/webhooks/"[..], "discord_webhook", 40),
        (&b"discordapp.com/api/webhooks/"[..], "discord_webhook", 40),
    ] {
        if rest.starts_with(host) {
            let p = auth + host.len();
            let n = run_len(b, p, |c| is_b64url(c) || c == b'/');
            if n >= min {
                out.push(Finding {
                    kind,
                    start: p,
                    end: p + n,
                });
            }
        }
    }
    // userinfo: up to the first `/`, `?`, `#`, blank or quote; the last `@` ends it.
    let n = run_len(b, auth, |c| {
        !c.is_ascii_whitespace() && !matches!(c, b'/' | b'?' | b'#' | b'"' | b'\'' | b'`')
    });
    let Some(at_sign) = b[auth..auth + n].iter().rposition(|&c| c == b'@') else {
        return;
    };
    let info = &b[auth..auth + at_sign];
    let Some(colon) = info.iter().position(|&c| c == b':') else {
        return;
    };
    let (start, end) = (auth + colon + 1, auth + at_sign);
    let Some(pw) = text.get(start..end) else {
        return;
    };
    if pw.is_empty()
        || placeholder(pw)
        || pw.starts_with('$')
        || pw.contains("[REDACTED")
        || pw.chars().all(|c| c == '*')
    {
        return;
    }
    out.push(Finding {
        kind: "url_password",
        start,
        end,
    });
}

/// Shannon entropy of `s` in bits per character.
pub fn entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    let mut total = 0u32;
    for b in s.bytes() {
        counts[b as usize] += 1;
        total += 1;
    }
    if total == 0 {
        return 0.0;
    }
    let t = f64::from(total);
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / t;
            -p * p.log2()
        })
        .sum()
}

/// Minimum length of a value for the entropy rule.
pub const MIN_SECRET_LEN: usize = 16;
/// Bits per character above which a secret-named value is taken for a real secret.
pub const ENTROPY_THRESHOLD: f64 = 3.5;

/// Values that are obviously not secrets: interpolations, templates, stand-ins.
fn placeholder(v: &str) -> bool {
    let l = v.to_ascii_lowercase();
    v.starts_with("${")
        || v.starts_with("$(")
        || v.starts_with("{{")
        || v.starts_with('<')
        || v.starts_with('%')
        || [
            "changeme",
            "change_me",
            "xxx",
            "placeholder",
            "your_",
            "your-",
            "dummy",
            "redacted",
            "***",
            "example",
        ]
        .iter()
        .any(|p| l.contains(p))
}

/// `NAME = "value"` (also `:`, `:=`, `=>`, quoted names, `export NAME=value`) where NAME looks
/// secret and the value is long and random enough; the span is the value alone.
///
/// Every assignment has an operator byte (`=` or `:`), and those are rare next to the bytes of
/// names and prose, so the scan jumps from operator to operator (`anchors2`, vectorised) and
/// walks back to the name before it, instead of testing every byte for the start of a name
/// (that byte loop was a third of the ingestion profile). The name found is the one a
/// left-to-right reading takes: the run of `[A-Za-z0-9_-]` before the operator (after an
/// optional closing quote and blanks), from its first byte that can start an identifier.
pub fn find_assignments(text: &str) -> Vec<Finding> {
    scan_operators(text, None)
}

/// The value at `span` as a `secret_assignment` finding, when it is long and random enough and
/// is neither a placeholder nor a value already redacted.
fn secret_value(text: &str, span: (usize, usize)) -> Option<Finding> {
    let v = &text[span.0..span.1];
    (v.len() >= MIN_SECRET_LEN
        && !placeholder(v)
        && !v.contains("[REDACTED")
        && entropy(v) >= ENTROPY_THRESHOLD)
        .then_some(Finding {
            kind: "secret_assignment",
            start: span.0,
            end: span.1,
        })
}

/// [`find_assignments`], and with `urls` the [`find_url_credentials`] too, in the same pass
/// over the operator bytes.
fn scan_operators(text: &str, mut urls: Option<&mut Vec<Finding>>) -> Vec<Finding> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    // Bytes before this offset belong to a value already reported and start no name.
    let mut skip_until = 0;
    for op in anchors2(b'=', b':', b) {
        if let Some(u) = urls.as_deref_mut() {
            if b[op] == b':' && b[op + 1..].starts_with(b"//") {
                url_credentials_at(text, op, u);
            }
        }
        if op < skip_until || !long_value_follows(b, op) {
            continue;
        }
        let Some((start, end)) = name_before(b, op) else {
            continue;
        };
        if start < skip_until || !assignment_follows(b, end) {
            continue;
        }
        // `name_before` only returns ASCII spans, so these are char boundaries.
        let Some(name) = text.get(start..end) else {
            continue;
        };
        if !secret_name(name) {
            continue;
        }
        if let Some(f) = value_after(b, end).and_then(|f| secret_value(text, f)) {
            skip_until = f.end;
            out.push(f);
        }
    }
    out
}

fn is_name_char(c: u8) -> bool {
    is_key_char(c)
}

/// The name that an operator at `op` would follow: back over blanks and one optional quote to
/// the end of a run of name bytes, then to the run's start, then forward to the first byte of
/// the run that starts an identifier (a letter or `_` at the run's start or after a `-`).
fn name_before(b: &[u8], op: usize) -> Option<(usize, usize)> {
    let mut end = op;
    while end > 0 && matches!(b[end - 1], b' ' | b'\t') {
        end -= 1;
    }
    if end > 0 && matches!(b[end - 1], b'"' | b'\'') {
        end -= 1;
    }
    let mut run = end;
    while run > 0 && is_name_char(b[run - 1]) {
        run -= 1;
    }
    (run..end)
        .find(|&p| (b[p].is_ascii_alphabetic() || b[p] == b'_') && (p == run || b[p - 1] == b'-'))
        .map(|start| (start, end))
}

/// Whether an assignment operator (`=`, `:`, `:=`, `=>`, not `==`) follows a name ending at
/// `j`: the first half of [`value_after`], without scanning the value.
fn assignment_follows(b: &[u8], mut j: usize) -> bool {
    if matches!(b.get(j), Some(b'"' | b'\'')) {
        j += 1;
    }
    j += run_len(b, j, |c| c == b' ' || c == b'\t');
    match (b.get(j), b.get(j + 1)) {
        (Some(b'='), Some(b'=')) => false,
        (Some(b'=' | b':'), _) => true,
        _ => false,
    }
}

/// Whether the value an operator at `op` assigns can be long enough to be a secret: the
/// operator as [`value_after`] reads it, then its first [`MIN_SECRET_LEN`] bytes, which must
/// all be value bytes. Most operators (JSON keys, times, keyword arguments) assign a short
/// value, and this rejects them by looking ahead a few bytes, before the name is walked back.
/// (The name ends right before `op`, after at most a quote and blanks, so `value_after` of it
/// reads this same operator.)
fn long_value_follows(b: &[u8], op: usize) -> bool {
    let mut j = op;
    match (b.get(j), b.get(j + 1)) {
        (Some(b'='), Some(b'=')) => return false,
        (Some(b'='), Some(b'>')) | (Some(b':'), Some(b'=')) => j += 2,
        _ => j += 1,
    }
    j += run_len(b, j, |c| c == b' ' || c == b'\t');
    // Run after every operator, one every 22 bytes of stream-json: the 16 bytes are tested
    // at once ([`holds_none`]). A loop over them, stopping at a different byte each time, was
    // about 40% of the operator scan.
    match b.get(j) {
        Some(&q @ (b'"' | b'\'' | b'`')) => b
            .get(j + 1..j + 1 + MIN_SECRET_LEN)
            .is_some_and(|v| holds_none(v, &[q, b'\n'])),
        Some(_) => b
            .get(j..j + MIN_SECRET_LEN)
            .is_some_and(|v| holds_none(v, UNQUOTED_VALUE_ENDS)),
        None => false,
    }
}

/// The bytes that end an unquoted value in [`value_after`]: ASCII whitespace (as
/// `u8::is_ascii_whitespace` has it), `,`, `;`, `)`, `}` and quotes. `value_after` keeps its
/// own test of them, and a test puts every ASCII byte in a value to check that this list ends
/// no value that one takes.
const UNQUOTED_VALUE_ENDS: &[u8] = b" \t\n\x0c\r,;)}\"'";

/// The span of the value assigned right after a name ending at `j`.
fn value_after(b: &[u8], mut j: usize) -> Option<(usize, usize)> {
    if matches!(b.get(j), Some(b'"' | b'\'')) {
        j += 1; // closing quote of a quoted key: "API_TOKEN": "…"
    }
    j += run_len(b, j, |c| c == b' ' || c == b'\t');
    match (b.get(j), b.get(j + 1)) {
        (Some(b'='), Some(b'=')) => return None, // a comparison
        (Some(b'='), Some(b'>')) | (Some(b':'), Some(b'=')) => j += 2,
        (Some(b'=') | Some(b':'), _) => j += 1,
        _ => return None,
    }
    j += run_len(b, j, |c| c == b' ' || c == b'\t');
    match b.get(j) {
        Some(&q @ (b'"' | b'\'' | b'`')) => {
            let start = j + 1;
            let len = run_len(b, start, |c| c != q && c != b'\n');
            (b.get(start + len) == Some(&q)).then_some((start, start + len))
        }
        Some(_) => {
            let len = run_len(b, j, |c| {
                !c.is_ascii_whitespace() && !matches!(c, b',' | b';' | b')' | b'}' | b'"' | b'\'')
            });
            let v = &b[j..j + len];
            let code = v
                .iter()
                .any(|c| matches!(c, b'(' | b'[' | b'{' | b'$' | b'<'))
                || v.starts_with(b"os.")
                || v.starts_with(b"process.");
            (!code && len > 0).then_some((j, j + len))
        }
        None => None,
    }
}

/// `.env` and `.env.*` (at any depth), except the committed templates.
pub fn is_env_file(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    if name == ".env" {
        return true;
    }
    match name.strip_prefix(".env.") {
        Some(suffix) => !matches!(
            suffix,
            "example" | "sample" | "template" | "dist" | "defaults"
        ),
        None => false,
    }
}

/// A secret as it may appear in a report: its first 4 characters, an ellipsis and its length.
pub fn mask(secret: &str) -> String {
    let head: String = secret.chars().take(4).collect();
    format!("{head}…({} chars)", secret.chars().count())
}

/// One file section of a unified diff.
struct FileSection {
    path: String,
    deleted: bool,
}

/// Strip `b/` (or `a/`) and git's C-style quoting from a diff header path.
fn header_path(raw: &str) -> String {
    let raw = raw.trim_end_matches(['\t', '\r']);
    let unquoted = if raw.starts_with('"') && raw.ends_with('"') && raw.len() >= 2 {
        unquote(&raw[1..raw.len() - 1])
    } else {
        raw.to_string()
    };
    unquoted
        .strip_prefix("b/")
        .or_else(|| unquoted.strip_prefix("a/"))
        .unwrap_or(&unquoted)
        .to_string()
}

fn unquote(s: &str) -> String {
    let mut out: Vec<u8> = Vec::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            let c = b[i + 1];
            let oct = b
                .get(i + 1..i + 4)
                .filter(|o| o.iter().all(|d| (b'0'..=b'7').contains(d)));
            if let Some(o) = oct {
                let v = o.iter().fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                out.push(u8::try_from(v).unwrap_or(b'?'));
                i += 4;
                continue;
            }
            out.push(match c {
                b'n' => b'\n',
                b't' => b'\t',
                other => other,
            });
            i += 2;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The path of `diff --git a/P b/P` when both sides agree (renames are off).
fn git_header_path(rest: &str) -> String {
    // rest = "a/P b/P": both halves have the same length.
    let n = rest.len();
    if n >= 5 && (n - 1).is_multiple_of(2) && rest.is_char_boundary((n - 1) / 2) {
        let (a, b) = rest.split_at((n - 1) / 2);
        let b = &b[1..];
        if a.get(2..) == b.get(2..) {
            return header_path(b);
        }
    }
    header_path(rest.rsplit(' ').next().unwrap_or(rest))
}

/// Which findings to let through.
pub trait Allow {
    fn allowed(&self, file: &str, matched: &str) -> bool;
}

impl<F: Fn(&str, &str) -> bool> Allow for F {
    fn allowed(&self, file: &str, matched: &str) -> bool {
        self(file, matched)
    }
}

/// Scan the added lines of a unified diff for secrets, and its new files for `.env` files.
pub fn scan_diff(diff: &str, allow: &dyn Allow) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut file: Option<FileSection> = None;
    let mut in_hunk = false;
    let mut line_no: u32 = 0;
    // The added line just before, for a key split across adjacent lines.
    let mut prev_added: Option<String> = None;
    let flush = |f: Option<FileSection>, out: &mut Vec<Violation>| {
        if let Some(f) = f {
            if !f.deleted && is_env_file(&f.path) && !allow.allowed(&f.path, "") {
                out.push(Violation {
                    kind: ViolationKind::EnvFile,
                    file: Some(f.path),
                    line: None,
                    detail: "`.env` files hold local secrets and must not be committed".into(),
                });
            }
        }
    };
    for line in diff.split('\n') {
        if let Some(rest) = line.strip_prefix("diff --git ") {
            flush(file.take(), &mut out);
            file = Some(FileSection {
                path: git_header_path(rest),
                deleted: false,
            });
            in_hunk = false;
            continue;
        }
        let Some(f) = file.as_mut() else { continue };
        if !in_hunk {
            if line.starts_with("deleted file mode") || line == "+++ /dev/null" {
                f.deleted = true;
            } else if let Some(p) = line.strip_prefix("+++ ") {
                f.path = header_path(p);
            }
        }
        if let Some(h) = line.strip_prefix("@@ ") {
            in_hunk = true;
            prev_added = None;
            line_no = hunk_new_start(h).unwrap_or(1);
            continue;
        }
        if !in_hunk {
            continue;
        }
        match line.as_bytes().first() {
            Some(b'+') => {
                let added = &line[1..];
                for (kind, matched) in hidden(added, prev_added.as_deref()) {
                    if allow.allowed(&f.path, &matched) {
                        continue;
                    }
                    out.push(Violation {
                        kind: ViolationKind::Secret,
                        file: Some(f.path.clone()),
                        line: Some(line_no),
                        detail: format!("{kind} {}", mask(&matched)),
                    });
                }
                prev_added = Some(added.to_string());
                // A line with escapes is read as the text they stand for, as the redaction
                // reads it: a key after `\n` in a string literal is a key in the program too.
                let text = escapes::decoded(added);
                for finding in find(&text) {
                    let matched = &text[finding.start..finding.end];
                    if allow.allowed(&f.path, matched) {
                        continue;
                    }
                    out.push(Violation {
                        kind: ViolationKind::Secret,
                        file: Some(f.path.clone()),
                        line: Some(line_no),
                        detail: format!("{} {}", finding.kind, mask(matched)),
                    });
                }
                line_no += 1;
            }
            Some(b' ') => {
                prev_added = None;
                line_no += 1;
            }
            Some(b'-') | Some(b'\\') => {}
            _ => in_hunk = false,
        }
    }
    flush(file.take(), &mut out);
    out
}

/// The contents of the string literals of `line` (`"…"`, `'…'`, `` `…` ``), in order.
fn literals(line: &str) -> Vec<&str> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let q = b[i];
        if !matches!(q, b'"' | b'\'' | b'`') {
            i += 1;
            continue;
        }
        let start = i + 1;
        let mut j = start;
        while j < b.len() && b[j] != q {
            j += if b[j] == b'\\' { 2 } else { 1 };
        }
        if j >= b.len() {
            break;
        }
        out.push(&line[start..j]);
        i = j + 1;
    }
    out
}

/// The shortest base64 run worth decoding (an AWS key id encodes to 28 characters).
const MIN_BASE64: usize = 24;

/// `s` decoded as base64 (standard or URL-safe alphabet, padding optional), when it is.
fn decode_base64(s: &[u8]) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        } as u32)
    };
    let s = s
        .strip_suffix(b"==")
        .or_else(|| s.strip_suffix(b"="))
        .unwrap_or(s);
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in s {
        acc = (acc << 6) | val(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Secrets an added line hides from [`find`]: a key split across two string literals (on
/// this line, or the last literal of the added line just before and the first of this one),
/// and base64 runs that decode to text holding a secret. (kind, matched text).
fn hidden(line: &str, before: Option<&str>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut pieces: Vec<&str> = before
        .and_then(|p| literals(p).last().copied())
        .into_iter()
        .collect();
    pieces.extend(literals(line));
    for k in 1..pieces.len() {
        let (a, b) = (pieces[k - 1], pieces[k]);
        if a.is_empty() || b.is_empty() {
            continue;
        }
        let joined = format!("{a}{b}");
        for f in find(&joined) {
            if f.start < a.len() && f.end > a.len() {
                out.push((
                    format!("{} split across string literals", f.kind),
                    joined[f.start..f.end].to_string(),
                ));
            }
        }
    }
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let n = run_len(b, i, |c| {
            is_alnum(c) || matches!(c, b'+' | b'/' | b'-' | b'_' | b'=')
        });
        if n >= MIN_BASE64 {
            if let Some(text) = decode_base64(&b[i..i + n]).and_then(|d| String::from_utf8(d).ok())
            {
                for f in find(&text) {
                    out.push((
                        format!("base64-encoded {}", f.kind),
                        text[f.start..f.end].to_string(),
                    ));
                }
            }
        }
        i += n.max(1);
    }
    out
}

/// `diff` with the added lines of `.env` files replaced by `+[REDACTED:env_file]`, for text
/// that shows a diff (the fix prompt): their values are secrets whatever their shape.
pub fn mask_env_files(diff: &str) -> String {
    let mut out = String::with_capacity(diff.len());
    let mut env = false;
    let mut in_hunk = false;
    for (i, line) in diff.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if let Some(rest) = line.strip_prefix("diff --git ") {
            env = is_env_file(&git_header_path(rest));
            in_hunk = false;
        } else if line.starts_with("@@ ") {
            in_hunk = true;
        } else if env && in_hunk && line.starts_with('+') {
            out.push_str("+[REDACTED:env_file]");
            continue;
        }
        out.push_str(line);
    }
    out
}

/// The paths of the files a unified diff changes, in order (from its `diff --git` lines).
pub fn diff_paths(diff: &str) -> Vec<String> {
    diff.split('\n')
        .filter_map(|l| l.strip_prefix("diff --git "))
        .map(git_header_path)
        .collect()
}

/// What stands in for the hunks of a file that [`withhold_files`] leaves out.
pub const WITHHELD: &str =
    "(content withheld: this file breaks the guardrails; it is named in the evidence above)";

/// `diff` with the hunks of every file for which `blocked` holds replaced by one line
/// ([`WITHHELD`]): a file blocked by path or by secret is named, never quoted.
pub fn withhold_files(diff: &str, blocked: impl Fn(&str) -> bool) -> String {
    let mut out = String::with_capacity(diff.len());
    let mut hiding = false;
    let mut said = false;
    for (i, line) in diff.split('\n').enumerate() {
        if let Some(rest) = line.strip_prefix("diff --git ") {
            hiding = blocked(&git_header_path(rest));
            said = false;
        } else if hiding && (line.starts_with("@@ ") || line.starts_with("Binary files ") || said) {
            if !said {
                if i > 0 {
                    out.push('\n');
                }
                out.push_str(WITHHELD);
                said = true;
            }
            continue;
        }
        if i > 0 {
            out.push('\n');
        }
        out.push_str(line);
    }
    out
}

/// The new-file start line of a hunk header body: `-a,b +c,d @@ …` → c.
fn hunk_new_start(h: &str) -> Option<u32> {
    let plus = h.split(' ').find(|t| t.starts_with('+'))?;
    plus[1..].split(',').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte-by-byte scan `find_assignments` replaced, kept as its oracle: `NAME = "value"` (also `:`, `:=`, `=>`, quoted names, `export NAME=value`) where NAME looks
    /// secret and the value is long and random enough; the span is the value alone.
    fn find_assignments_reference(text: &str) -> Vec<Finding> {
        let b = text.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            let starts_ident = (c.is_ascii_alphabetic() || c == b'_')
                && (i == 0 || !(is_alnum(b[i - 1]) || b[i - 1] == b'_'));
            if !starts_ident {
                i += 1;
                continue;
            }
            let name_len = run_len(b, i, |c| is_alnum(c) || c == b'_' || c == b'-');
            let name = &text[i..i + name_len];
            i += name_len;
            // The cheap test first: most identifiers (prose, code, JSON values) are not followed
            // by `=` or `:`, and this looks at the next few bytes only, where `secret_name` scans
            // the whole name (the ingestion benchmark spent a third of its time here).
            if !assignment_follows(b, i) || !secret_name(name) {
                continue;
            }
            if let Some(f) = value_after(b, i).and_then(|f| secret_value(text, f)) {
                i = f.end;
                out.push(f);
            }
        }
        out
    }

    fn kinds(text: &str) -> Vec<&'static str> {
        find(text).into_iter().map(|f| f.kind).collect()
    }

    fn matched(text: &str) -> Vec<&str> {
        find(text).iter().map(|f| &text[f.start..f.end]).collect()
    }

    const AWS: &str = "AKIA2QZ7XW4RTY9PLM3K";

    #[test]
    fn aws_access_key_ids() {
        assert_eq!(matched(&format!("key = \"{AWS}\"")), [AWS]);
        assert_eq!(kinds(&format!("x={AWS}")), ["aws_access_key_id"]);
        assert_eq!(kinds("ASIAY34FZKBOKMUTVV7A"), ["aws_access_key_id"]);
        // Near misses: 15 characters, lowercase, glued to a word, too long.
        assert!(kinds("AKIA2QZ7XW4RTY9PLM3").is_empty());
        assert!(kinds("AKIA2qz7xw4rty9plm3k").is_empty());
        assert!(kinds(&format!("X{AWS}")).is_empty());
        assert!(kinds(&format!("{AWS}Q")).is_empty());
    }

    #[test]
    fn github_tokens() {
        let t = format!("ghp_{}", "a1B2c3D4e5".repeat(4));
        assert_eq!(matched(&format!("token: {t}")), [t.as_str()]);
        let pat = format!("github_pat_11ABCDEFG0{}", "x_Y9".repeat(10));
        assert_eq!(kinds(&pat), ["github_token"]);
        assert!(kinds("ghp_short123").is_empty());
        assert!(kinds("ghx_a1B2c3D4e5a1B2c3D4e5a1B2c3D4e5a1B2c3D4e5").is_empty());
    }

    #[test]
    fn every_kind_is_found_inside_a_stream_json_line() {
        // The shape of what the raw-log redaction sees: JSON keys and prose around each kind,
        // with near misses (non-secret keys, words at the same first letters) in between.
        let aws = "AKIAIOSFODNN7EXAMPLE";
        let gh = format!("ghp_{}", "a1B2c3D4e5".repeat(4));
        let slack = "xoxb-1234567890-abcdefghij";
        let stripe = "rk_live_abcdefghij0123456789";
        let token = "9fQ2xZ7LmK3pR8vT1wY6";
        let line = format!(
            r#"{{"type":"assistant","message":{{"content":[{{"type":"text","text":"Set {aws} and {gh}, source: {slack}; rk {stripe} stays."}}],"API_TOKEN": "{token}","session_id":"s","usage":{{"input_tokens":3}}}}}}"#
        );
        assert_eq!(
            matched(&line),
            [aws, gh.as_str(), slack, stripe, token],
            "{line}"
        );
        assert!(kinds(r#"{"type":"x","total_tokens": "abc","note": "Key: value"}"#).is_empty());
    }

    #[test]
    fn openai_and_anthropic_keys() {
        let oa = "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXyZ";
        assert_eq!(kinds(oa), ["openai_api_key"]);
        assert_eq!(
            kinds("sk-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXyZ0a1b2c3d4e5f6"),
            ["openai_api_key"]
        );
        let an = format!("sk-ant-api03-{}", "Zx9_Qw8-Er7Ty6".repeat(4));
        assert_eq!(kinds(&an), ["anthropic_api_key"]);
        // Near misses: prose, lowercase-only slugs, too short, inside a word.
        assert!(kinds("sk-learn is a library").is_empty());
        assert!(kinds("sk-this-is-a-very-long-css-class-name").is_empty());
        assert!(kinds("task-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXyZ").is_empty());
        assert!(kinds("sk-ant-short").is_empty());
    }

    #[test]
    fn google_slack_stripe_keys() {
        let g = format!("AIza{}", "Sy9_b-Zx8Q".repeat(3) + "abcde");
        assert_eq!(kinds(&g), ["google_api_key"]);
        assert!(kinds("AIzaShort").is_empty());
        assert_eq!(kinds("xoxb-1234567890-abcdefABCDEF"), ["slack_token"]);
        assert!(kinds("xoxz-1234567890-abcdef").is_empty());
        assert!(kinds("xoxb-12").is_empty());
        assert_eq!(kinds("sk_live_51Habcdefghijklmnopqrstu"), ["stripe_key"]);
        assert_eq!(kinds("rk_live_51Habcdefghijklmnopqrstu"), ["stripe_key"]);
        assert!(kinds("sk_live_short").is_empty());
    }

    #[test]
    fn more_credential_families_each_with_a_near_miss() {
        let hex32 = "0123456789abcdef".repeat(2);
        let b64 = |n: usize| {
            "aB3dE5gH7jK9mN1pQ2sT4vW6yZ8"
                .chars()
                .cycle()
                .take(n)
                .collect::<String>()
        };
        let jwt = format!(
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.{}",
            b64(43)
        );
        let caught: Vec<(String, &str)> = vec![
            (jwt.clone(), "jwt"),
            (format!("npm_{}", b64(36)), "npm_token"),
            (format!("hf_{}", b64(34)), "huggingface_token"),
            (format!("SK{hex32}"), "twilio_key"),
            (format!("SG.{}.{}", b64(22), b64(43)), "sendgrid_key"),
            (format!("glpat-{}", b64(20)), "gitlab_token"),
            (format!("GOCSPX-{}", b64(28)), "google_oauth_secret"),
            (format!("ya29.{}", b64(40)), "google_oauth_token"),
            (format!("dop_v1_{}", hex32.repeat(2)), "digitalocean_token"),
            (format!("pypi-AgEIcHlwaS5vcmc{}", b64(60)), "pypi_token"),
            (format!("shpat_{hex32}"), "shopify_token"),
            (format!("sq0atp-{}", b64(22)), "square_token"),
            (format!("sk_test_{}", b64(24)), "stripe_key"),
            (format!("xapp-1-{}", b64(30)), "slack_token"),
            (format!("lin_api_{}", b64(40)), "linear_api_key"),
            (format!("key-{hex32}"), "mailgun_key"),
            (
                format!("PMAK-{}-{}", &hex32[..24], &"a1b2c3d4e5".repeat(4)[..34]),
                "postman_key",
            ),
            (format!("NRAK-{}", "ABC123XYZ".repeat(3)), "newrelic_key"),
            (format!("LTAI{}", b64(20)), "alibaba_access_key"),
            (format!("hvs.{}", b64(30)), "vault_token"),
            (format!("pul-{}", "0123456789".repeat(4)), "pulumi_token"),
            (format!("sntrys_{}", b64(60)), "sentry_token"),
            (format!("glc_{}", b64(40)), "grafana_token"),
            (format!("fo1_{}", b64(43)), "flyio_token"),
            (format!("dp.pt.{}", b64(43)), "doppler_token"),
        ];
        for (secret, kind) in &caught {
            let line = format!("token: \"{secret}\", more");
            assert_eq!(kinds(&line), [*kind], "{line}");
            assert_eq!(matched(&line), [secret.as_str()], "{line}");
        }
        // Near misses: too short, wrong alphabet, glued to a word, an unsigned JWT.
        for miss in [
            format!("npm_{}", b64(20)),
            "hf_model_name".to_string(),
            format!("SK{}", "Z".repeat(32)),
            format!("xSK{hex32}"),
            "SG.short.x".to_string(),
            "glpat-short".to_string(),
            "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxMjM0NTY3ODkwIn0.".to_string(),
            "key-value pairs".to_string(),
            format!("monkey-{hex32}"),
            "ya29.short".to_string(),
            "file.SK.txt and SKU-1234".to_string(),
        ] {
            assert!(kinds(&miss).is_empty(), "{miss}: {:?}", kinds(&miss));
        }
    }

    #[test]
    fn passwords_in_urls_webhooks_and_azure_account_keys() {
        for scheme in [
            "postgres",
            "postgresql",
            "mysql",
            "mongodb+srv",
            "redis",
            "amqp",
        ] {
            let url = format!("url = {scheme}://app_user:s3cr3t-Pw@db.internal:5432/app");
            assert_eq!(matched(&url), ["s3cr3t-Pw"], "{url}");
            assert_eq!(kinds(&url), ["url_password"]);
        }
        assert_eq!(matched("postgres://user:pass@host/db"), ["pass"]);
        for miss in [
            "postgres://user@host/db",
            "postgres://user:${PGPASSWORD}@host/db",
            "redis://localhost:6379/0",
            "git@github.com:org/repo.git",
            "https://registry.npmjs.org/@scope%2fpkg",
            "postgres://user:***@host/db",
        ] {
            assert!(kinds(miss).is_empty(), "{miss}");
        }
        let hook = format!(
            "https://hooks.slack.com/services/T0123ABCD/B0123ABCD/{}",
            "aB3dE5gH7jK9mN1pQ2sT4vW6"
        );
        assert_eq!(kinds(&hook), ["slack_webhook"]);
        assert!(kinds("https://hooks.slack.com/services/").is_empty());
        let discord = format!(
            "https://discord.com/api/webhooks/123456789012345678/{}",
            "aB3dE5gH7jK9".repeat(5)
        );
        assert_eq!(kinds(&discord), ["discord_webhook"]);
        assert!(kinds("https://discord.com/api/webhooks/").is_empty());
        let key = "aB3dE5gH7jK9mN1pQ2sT4vW6yZ8+/".repeat(3) + "abc==";
        let azure = format!("DefaultEndpointsProtocol=https;AccountName=x;AccountKey={key};EndpointSuffix=core.windows.net");
        assert_eq!(matched(&azure), [key.as_str()], "{azure}");
        assert!(kinds("AccountKey=changeme;AccountName=x").is_empty());
    }

    #[test]
    fn split_literals_and_base64_are_seen_in_diffs() {
        let scan = |added: &[&str]| {
            let mut d =
                String::from("diff --git a/k.py b/k.py\n--- a/k.py\n+++ b/k.py\n@@ -1,0 +1,9 @@\n");
            for l in added {
                d.push('+');
                d.push_str(l);
                d.push('\n');
            }
            scan_diff(&d, &|_: &str, _: &str| false)
                .into_iter()
                .map(|v| v.detail)
                .collect::<Vec<_>>()
        };
        let (a, b) = AWS.split_at(9);
        let v = scan(&[&format!("KEY = (\"{a}\""), &format!("       \"{b}\")")]);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(
            v[0].starts_with("aws_access_key_id split across string literals"),
            "{v:?}"
        );
        let v = scan(&[&format!("KEY = \"{a}\" + \"{b}\"")]);
        assert_eq!(v.len(), 1, "{v:?}");
        // base64 of "aws_access_key_id = AKIA… / aws_secret_access_key = …"
        let plain = format!("aws_access_key_id = {AWS}\naws_secret_access_key = \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY9q\"\n");
        let enc = encode_base64(plain.as_bytes());
        let v = scan(&[&format!("CREDS = \"{enc}\"")]);
        assert!(
            v.iter()
                .any(|d| d.starts_with("base64-encoded aws_access_key_id")),
            "{v:?}"
        );
        // Near misses: unrelated literals side by side, ordinary base64.
        assert!(scan(&["a = \"AKIA\" + \"lower\"", "\"x\"", "\"y\""]).is_empty());
        let enc = encode_base64(b"just some harmless configuration text here");
        assert!(scan(&[&format!("DATA = \"{enc}\"")]).is_empty());
    }

    fn encode_base64(b: &[u8]) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for c in b.chunks(3) {
            let n = (u32::from(c[0]) << 16)
                | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
                | u32::from(*c.get(2).unwrap_or(&0));
            for k in 0..4 {
                if k <= c.len() {
                    out.push(A[((n >> (18 - 6 * k)) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    #[test]
    fn a_finding_of_one_anchor_kind_hides_only_what_lies_inside_it() {
        // A vault token swallows the first BEGIN marker; the second, past the token's end, is
        // still a private key, as a left-to-right reading finds it (found by the oracle
        // property below).
        let text =
            "hvs.B0B-_aaAaAa00------BEGIN RSA PRIVATE KEY----------BEGIN RSA PRIVATE KEY-----";
        let found: Vec<(&str, usize)> = find_shapes(text)
            .iter()
            .map(|f| (f.kind, f.start))
            .collect();
        assert_eq!(
            found,
            find_shapes_bytewise(text)
                .iter()
                .map(|f| (f.kind, f.start))
                .collect::<Vec<_>>()
        );
        assert_eq!(found, [("vault_token", 0), ("private_key", 49)]);
    }

    #[test]
    fn private_keys_span_to_their_end_marker() {
        let pem =
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----";
        let text = format!("before\n{pem}\nafter");
        assert_eq!(matched(&text), [pem]);
        assert_eq!(
            kinds("-----BEGIN OPENSSH PRIVATE KEY-----"),
            ["private_key"]
        );
        assert_eq!(kinds("-----BEGIN PRIVATE KEY-----"), ["private_key"]);
        assert!(kinds("-----BEGIN PUBLIC KEY-----").is_empty());
        assert!(kinds("-----BEGIN CERTIFICATE-----").is_empty());
    }

    #[test]
    fn entropy_rule_for_secret_named_assignments() {
        assert!((entropy("aaaa") - 0.0).abs() < 1e-9);
        assert!((entropy("abcd") - 2.0).abs() < 1e-9);
        let v = "q9Zr2LmX7vTk4WpB8sNe";
        for line in [
            format!("DB_PASSWORD = \"{v}\""),
            format!("export SERVICE_TOKEN={v}"),
            format!("\"stripe_secret\": \"{v}\","),
            format!("api_key: {v}"),
            format!("MY_API_KEY := '{v}'"),
        ] {
            assert_eq!(matched(&line), [v], "{line}");
        }
        // Not secret-named, too short, too regular, placeholders, code.
        for line in [
            format!("USER_NAME = \"{v}\""),
            "API_TOKEN = \"q9Zr2LmX7v\"".to_string(),
            "API_TOKEN = \"aaaaaaaaaaaaaaaaaaaaaaaa\"".to_string(),
            "API_TOKEN = \"${API_TOKEN_FROM_THE_ENVIRONMENT}\"".to_string(),
            "API_TOKEN = \"<your token goes here please>\"".to_string(),
            "DB_PASSWORD = \"changeme-changeme-2024\"".to_string(),
            "API_TOKEN = \"xxxxxxxxxxxxxxxxxxxxxxxx\"".to_string(),
            "API_TOKEN = os.environ[\"API_TOKEN\"]".to_string(),
            "if API_TOKEN == \"q9Zr2LmX7vTk4WpB8sNe\":".to_string(),
            "MONKEY = \"q9Zr2LmX7vTk4WpB8sNe\"".to_string(),
        ] {
            assert!(kinds(&line).is_empty(), "{line}");
        }
    }

    #[test]
    fn env_files_by_path() {
        for p in [".env", "app/.env", ".env.local", "x/.env.production"] {
            assert!(is_env_file(p), "{p}");
        }
        for p in [
            ".env.example",
            ".env.sample",
            "a/.env.template",
            "env.py",
            ".envrc",
            "prod.env",
        ] {
            assert!(!is_env_file(p), "{p}");
        }
    }

    #[test]
    fn masking_keeps_four_characters_and_the_length() {
        assert_eq!(mask(AWS), "AKIA…(20 chars)");
        assert_eq!(mask("ab"), "ab…(2 chars)");
    }

    fn no_allow(_: &str, _: &str) -> bool {
        false
    }

    #[test]
    fn diff_scan_reports_file_and_new_line_numbers() {
        let diff = format!(
            "diff --git a/config.py b/config.py\nindex 1..2 100644\n--- a/config.py\n+++ b/config.py\n@@ -1,3 +1,4 @@\n import os\n-OLD = 1\n+NEW = 2\n+AWS_ACCESS_KEY_ID = \"{AWS}\"\n keep\n@@ -10,2 +11,3 @@ def f():\n ctx\n+x = \"{AWS}\"\n-gone\n\\ No newline at end of file\n"
        );
        let v = scan_diff(&diff, &no_allow);
        let at: Vec<_> = v
            .iter()
            .map(|v| (v.file.clone().unwrap(), v.line))
            .collect();
        assert_eq!(
            at,
            [
                ("config.py".to_string(), Some(3)),
                ("config.py".to_string(), Some(12))
            ]
        );
        assert_eq!(v[0].kind, ViolationKind::Secret);
        assert_eq!(v[0].detail, "aws_access_key_id AKIA…(20 chars)");
        assert!(!format!("{v:?}").contains(AWS));
    }

    #[test]
    fn diff_scan_reads_a_line_as_the_text_its_escapes_stand_for() {
        // The key starts the second line of the string, but follows an `n` in the source.
        let diff = format!(
            "diff --git a/msg.py b/msg.py\n--- a/msg.py\n+++ b/msg.py\n@@ -0,0 +1,2 @@\n+MSG = \"creds:\\n{AWS}\"\n+API_TOKEN = \"9fQ2xZ7LmK3pR8vT1wY6\\\\n\"\n"
        );
        let v = scan_diff(&diff, &no_allow);
        let found: Vec<_> = v.iter().map(|v| (v.line, v.detail.as_str())).collect();
        assert_eq!(
            found,
            [
                (Some(1), "aws_access_key_id AKIA…(20 chars)"),
                // The value the program holds: an escaped backslash, then `n`.
                (Some(2), "secret_assignment 9fQ2…(22 chars)")
            ]
        );
    }

    #[test]
    fn diff_scan_flags_new_env_files_but_not_deleted_ones() {
        let diff = "diff --git a/.env b/.env\nnew file mode 100644\nindex 0..1\n--- /dev/null\n+++ b/.env\n@@ -0,0 +1 @@\n+DEBUG=1\ndiff --git a/old/.env.local b/old/.env.local\ndeleted file mode 100644\n--- a/old/.env.local\n+++ /dev/null\n@@ -1 +0,0 @@\n-X=1\ndiff --git a/empty dir/.env b/empty dir/.env\nnew file mode 100644\nindex 0..e69de29\n";
        let v = scan_diff(diff, &no_allow);
        let files: Vec<_> = v.iter().map(|v| v.file.clone().unwrap()).collect();
        assert_eq!(files, [".env", "empty dir/.env"]);
        assert!(v.iter().all(|v| v.kind == ViolationKind::EnvFile));
    }

    #[test]
    fn diff_scan_honours_the_allowlist_and_ignores_removed_lines() {
        let diff = format!(
            "diff --git a/tests/fixtures.py b/tests/fixtures.py\n--- a/tests/fixtures.py\n+++ b/tests/fixtures.py\n@@ -1 +1 @@\n-K = \"{AWS}\"\n+K = \"AKIAIOSFODNN7EXAMPLE\"\n"
        );
        assert!(scan_diff(&diff, &no_allow).len() == 1);
        let allow = |_: &str, m: &str| m == "AKIAIOSFODNN7EXAMPLE";
        assert!(scan_diff(&diff, &allow).is_empty());
        let by_path = |f: &str, _: &str| f.starts_with("tests/");
        assert!(scan_diff(&diff, &by_path).is_empty());
    }

    #[test]
    fn env_file_lines_are_masked_in_shown_diffs() {
        let diff = "diff --git a/.env b/.env\n--- /dev/null\n+++ b/.env\n@@ -0,0 +1,2 @@\n+A=hunter2hunter2\n+B=2\ndiff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n+y = 1\n";
        let m = mask_env_files(diff);
        assert!(
            !m.contains("hunter2") && m.contains("+[REDACTED:env_file]\n+[REDACTED:env_file]\n")
        );
        assert!(m.contains("+++ b/.env") && m.ends_with("+y = 1\n"), "{m}");
    }

    #[test]
    fn quoted_header_paths_are_unquoted() {
        assert_eq!(header_path("\"b/caf\\303\\251.py\""), "café.py");
        assert_eq!(git_header_path("a/x y b/x y"), "x y");
    }

    /// Every credential prefix the shape scan knows, for the property below.
    const EVERY_PREFIX: &[&str] = &[
        "ASIA",
        "ABIA",
        "ACCA",
        "AGPA",
        "AIDA",
        "AIPA",
        "ANPA",
        "ANVA",
        "AROA",
        "APKA",
        "gho_",
        "ghu_",
        "ghs_",
        "ghr_",
        "xoxa-",
        "xoxp-",
        "xoxr-",
        "xoxs-",
        "rk_test_",
        "sk_test_",
        "sk_prod_",
        "hvb.",
        "glptt-",
        "gldt-",
        "glrt-",
        "glc_",
        "GOCSPX-",
        "ya29.",
        "dop_v1_",
        "doo_v1_",
        "dor_v1_",
        "dp.pt.",
        "pypi-AgEIcHlwaS5vcmc",
        "pscale_tkn_",
        "pul-",
        "shpat_",
        "shpca_",
        "shppa_",
        "shpss_",
        "sntrys_",
        "sq0atp-",
        "sq0csp-",
        "xapp-",
        "lin_api_",
        "key-",
        "NRAK-",
        "LTAI",
        "ATATT3",
        "AGE-SECRET-KEY-1",
        "EAAC",
        "EAAM",
        "fo1_",
        "PMAK-0123456789abcdef01234567-",
    ];

    #[test]
    fn the_look_ahead_rejects_only_values_the_full_reading_rejects() {
        // Every ASCII byte at every place of a value's first 16 bytes, quoted and not: the
        // operator scan's quick look-ahead must let through every value that the reading of
        // the whole value (`value_after`, which the reference scan uses) would take.
        let value = "9fQ2xZ7LmK3pR8vT1wY6";
        for c in 0u8..128 {
            for at in 0..MIN_SECRET_LEN {
                let mut v = value.as_bytes().to_vec();
                v[at] = c;
                let v = String::from_utf8(v).unwrap();
                for text in [
                    format!("API_TOKEN={v}"),
                    format!("API_TOKEN: \"{v}\""),
                    format!("api_token = '{v}'"),
                    format!("API_TOKEN=`{v}`"),
                ] {
                    assert_eq!(
                        find_assignments(&text),
                        find_assignments_reference(&text),
                        "{text:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_shortest_finding_is_a_url_password_of_one_byte() {
        let f = find("ab://:p@");
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(
            ("ab://:p@".len(), f[0].kind),
            (SHORTEST_FINDING, "url_password")
        );
    }

    #[test]
    fn every_prefix_starts_with_a_stem_the_scan_looks_for() {
        let more = [
            "-----BEGIN ",
            "AKIA",
            "AIza",
            "ghp_",
            "github_pat_",
            "sk-",
            "sk-ant-",
            "sk_live_",
            "rk_live_",
            "xoxb-",
            "eyJ",
            "SG.",
            "npm_",
            "hf_",
            "glpat-",
            "hvs.",
        ];
        let twilio = b"0123456789abcdef".map(|h| format!("SK{}", h as char));
        let prefixes = EVERY_PREFIX
            .iter()
            .chain(&more)
            .map(|p| p.to_string())
            .chain(twilio);
        for p in prefixes {
            assert!(STEMS.iter().any(|s| p.starts_with(s)), "no stem for {p}");
            assert!(
                FIRST_BYTES.contains(&p.as_bytes()[0]),
                "{p} starts with an unknown byte"
            );
        }
    }

    /// Text made of the pieces the scanners care about: every prefix, operators, quotes,
    /// blanks, separators, random-looking key bodies and prose.
    fn scan_text() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let piece = prop_oneof![
            Just("AKIA".to_string()),
            Just("AIza".to_string()),
            Just("ghp_".to_string()),
            Just("github_pat_".to_string()),
            Just("sk-".to_string()),
            Just("sk-ant-".to_string()),
            Just("sk_live_".to_string()),
            Just("rk_live_".to_string()),
            Just("xoxb-".to_string()),
            Just("eyJ".to_string()),
            Just(".".to_string()),
            Just("SK".to_string()),
            Just("SG.".to_string()),
            Just("npm_".to_string()),
            Just("hf_".to_string()),
            Just("glpat-".to_string()),
            Just("PMAK-".to_string()),
            Just("hvs.".to_string()),
            proptest::sample::select(EVERY_PREFIX).prop_map(str::to_string),
            "A{1,4}",
            Just("0123456789abcdef".to_string()),
            Just("-----BEGIN RSA PRIVATE KEY-----".to_string()),
            Just("-----END RSA PRIVATE KEY-----".to_string()),
            Just("API_TOKEN".to_string()),
            Just("db-password".to_string()),
            Just("\"secret\"".to_string()),
            Just("9fQ2xZ7LmK3pR8vT1wY6".to_string()),
            Just("é".to_string()),
            "[=:\"'` \t\n\r\x0c,)};-_]{1,3}",
            "[A-Z0-9]{1,20}",
            "[a-zA-Z0-9_-]{1,40}",
            "[ -~]{0,12}",
        ];
        proptest::collection::vec(piece, 0..24).prop_map(|v| v.concat())
    }

    proptest::proptest! {
        #[test]
        fn no_text_shorter_than_the_shortest_finding_holds_one(text in scan_text()) {
            let mut end = text.len().min(SHORTEST_FINDING - 1);
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            for start in 0..end {
                if let Some(t) = text.get(start..end) {
                    proptest::prop_assert!(find(t).is_empty(), "{:?}", t);
                }
            }
        }

        #[test]
        fn the_jumping_scans_find_what_the_byte_scans_found(text in scan_text()) {
            let spans = |v: Vec<Finding>| v.into_iter().map(|f| (f.kind, f.start, f.end)).collect::<Vec<_>>();
            proptest::prop_assert_eq!(spans(find_shapes(&text)), spans(find_shapes_bytewise(&text)));
            if let Some(stems) = stem_searcher() {
                proptest::prop_assert_eq!(
                    spans(find_shapes_searched(&text, stems)),
                    spans(find_shapes_bytewise(&text))
                );
            }
            proptest::prop_assert_eq!(spans(find_assignments(&text)), spans(find_assignments_reference(&text)));
        }
    }
}
