//! The security layer in front of every route, API and dashboard alike.
//!
//! 1. **DNS rebinding.** A page on `evil.example` whose name later resolves to 127.0.0.1 can
//!    reach a loopback server, but its requests carry `Host: evil.example`. So the Host must
//!    be a loopback name (`localhost`, `127.0.0.1`, `[::1]`), an IP literal (a browser only
//!    sends one when the user typed the address: there is no name to rebind), or an
//!    `--allow-host` entry; with a port, it must be the bound port.
//! 2. **CSRF.** A browser always sends `Origin` on cross-site POSTs; when present it must name
//!    the same host and port as `Host`. State-changing routes are POST-only (the router answers
//!    405 to anything else), so a cross-site form or image cannot act.
//! 3. **Token.** Bound to a non-loopback address, every request needs the token (from
//!    `ORX_SERVE_TOKEN`, else 32 random bytes printed at start): `Authorization: Bearer <t>`, or
//!    the `orx_token` cookie, which `GET <page>?token=<t>` sets (HttpOnly, SameSite=Strict)
//!    before redirecting to the page without the token. Comparison is constant-time. Bound to
//!    loopback, no token is needed. The token is never written under `runs/` (launched runs do
//!    not even inherit the variable).

use std::net::IpAddr;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiError, Shared};
use crate::error::{OrxError, Result};

/// The environment variable that sets the token.
pub const TOKEN_ENV: &str = "ORX_SERVE_TOKEN";
/// The cookie the dashboard carries the token in.
pub const COOKIE: &str = "orx_token";

/// The token a bind needs: none for loopback, else `ORX_SERVE_TOKEN` or a fresh random one.
pub fn token_for(bind: IpAddr) -> Result<Option<String>> {
    if bind.is_loopback() {
        return Ok(None);
    }
    if let Ok(t) = std::env::var(TOKEN_ENV) {
        let t = t.trim().to_string();
        if t.len() < 16 || !t.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(OrxError::usage(format!(
                "{TOKEN_ENV} must be at least 16 printable characters without spaces"
            ))
            .with_hint("unset it to have orx generate one, or use e.g. `openssl rand -hex 32`"));
        }
        return Ok(Some(t));
    }
    random_token().map(Some)
}

fn random_token() -> Result<String> {
    use std::io::Read;
    let mut buf = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .map_err(|e| {
            OrxError::internal(format!("cannot read /dev/urandom for a token: {e}")).with_source(e)
        })?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// Equal without an early exit on the first differing byte.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Split `host[:port]` (IPv6 in brackets) into the host and the port.
pub fn split_host_port(value: &str) -> Option<(String, Option<u16>)> {
    let v = value.trim();
    if v.is_empty() {
        return None;
    }
    if let Some(rest) = v.strip_prefix('[') {
        let (h, tail) = rest.split_once(']')?;
        let port = match tail {
            "" => None,
            t => Some(t.strip_prefix(':')?.parse().ok()?),
        };
        return Some((format!("[{}]", h.to_ascii_lowercase()), port));
    }
    match v.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => Some((h.to_ascii_lowercase(), Some(p.parse().ok()?))),
        Some(_) => None,
        None => Some((v.to_ascii_lowercase(), None)),
    }
}

/// Whether `host` (from the Host header) may address this server.
pub fn host_allowed(host: &str, bound_port: u16, allow: &[String]) -> bool {
    let Some((name, port)) = split_host_port(host) else {
        return false;
    };
    if port.is_some_and(|p| p != bound_port) {
        return false;
    }
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    matches!(name.as_str(), "localhost" | "127.0.0.1" | "[::1]")
        || bare.parse::<IpAddr>().is_ok()
        || allow.iter().any(|a| a.eq_ignore_ascii_case(&name))
}

/// Whether `origin` (scheme://host[:port]) names the same host and port as `host`.
pub fn origin_matches(origin: &str, host: &str) -> bool {
    let Some(rest) = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
    else {
        return false;
    };
    let rest = rest.trim_end_matches('/');
    match (split_host_port(rest), split_host_port(host)) {
        (Some((oh, op)), Some((hh, hp))) => {
            let default = if origin.starts_with("https://") {
                443
            } else {
                80
            };
            oh == hh && op.unwrap_or(default) == hp.unwrap_or(default)
        }
        _ => false,
    }
}

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == COOKIE).then(|| v.to_string())
        })
}

fn bearer_token(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, t) = v.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| t.trim().to_string())
}

/// The query string without `token=…`, for the redirect after the cookie is set.
fn strip_token(query: &str) -> (Option<String>, String) {
    let mut token = None;
    let rest: Vec<&str> = query
        .split('&')
        .filter(|kv| match kv.strip_prefix("token=") {
            Some(t) => {
                token = Some(t.to_string());
                false
            }
            None => !kv.is_empty(),
        })
        .collect();
    (token, rest.join("&"))
}

fn forbidden(msg: &str, hint: &str) -> Response {
    ApiError::new(StatusCode::FORBIDDEN, msg)
        .with_hint(hint)
        .into_response()
}

/// The router answers a wrong method with an empty 405; give it the API's JSON error shape
/// (keeping its `Allow` header).
fn json_405(resp: Response) -> Response {
    if resp.status() != StatusCode::METHOD_NOT_ALLOWED {
        return resp;
    }
    let allow = resp.headers().get(header::ALLOW).cloned();
    let mut out = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "this method is not allowed here (actions that change state are POST only)",
    )
    .with_hint("see /api/openapi.json for each endpoint's method")
    .into_response();
    if let Some(a) = allow {
        out.headers_mut().insert(header::ALLOW, a);
    }
    out
}

/// The middleware: Host, Origin, token.
pub async fn guard(State(state): State<Shared>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string);
    let Some(host) = host else {
        return forbidden(
            "the request has no Host header",
            "send the Host header (every HTTP/1.1 client does)",
        );
    };
    if !host_allowed(&host, state.addr.port(), &state.allow_hosts) {
        return forbidden(
            &format!("Host `{host}` is not allowed (DNS rebinding protection)"),
            "use http://127.0.0.1:<port>/ or http://localhost:<port>/, or start orx serve with --allow-host NAME",
        );
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let ok = origin.to_str().is_ok_and(|o| origin_matches(o, &host));
        if !ok {
            return forbidden(
                "the Origin does not match the Host (cross-site request refused)",
                "call the API from the dashboard's own origin, or without an Origin header",
            );
        }
    }
    let Some(expected) = state.token.as_deref() else {
        return json_405(next.run(req).await);
    };
    let presented = bearer_token(headers).or_else(|| cookie_token(headers));
    if presented.is_some_and(|t| constant_time_eq(t.as_bytes(), expected.as_bytes())) {
        return json_405(next.run(req).await);
    }
    // `GET /page?token=…`: set the cookie and come back without the token in the URL.
    if req.method() == axum::http::Method::GET {
        if let Some(q) = req.uri().query() {
            let (token, rest) = strip_token(q);
            if token.is_some_and(|t| constant_time_eq(t.as_bytes(), expected.as_bytes())) {
                let path = req.uri().path();
                let to = if rest.is_empty() {
                    path.to_string()
                } else {
                    format!("{path}?{rest}")
                };
                let cookie = format!("{COOKIE}={expected}; HttpOnly; SameSite=Strict; Path=/");
                let mut resp = StatusCode::SEE_OTHER.into_response();
                if let (Ok(loc), Ok(c)) =
                    (HeaderValue::from_str(&to), HeaderValue::from_str(&cookie))
                {
                    resp.headers_mut().insert(header::LOCATION, loc);
                    resp.headers_mut().insert(header::SET_COOKIE, c);
                    return resp;
                }
            }
        }
    }
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "a token is required: this server is bound to a non-loopback address",
    )
    .with_hint("send `Authorization: Bearer <token>` (printed by orx serve at start, or ORX_SERVE_TOKEN), or open /?token=<token> once in the browser")
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_checked_against_rebinding() {
        let allow = vec!["orx.lan".to_string()];
        for ok in [
            "127.0.0.1:8421",
            "localhost:8421",
            "LOCALHOST",
            "[::1]:8421",
            "10.0.0.5:8421",
            "orx.lan:8421",
        ] {
            assert!(host_allowed(ok, 8421, &allow), "{ok}");
        }
        for bad in [
            "evil.example:8421",
            "evil.example",
            "127.0.0.1:9999",
            "localhost.evil.example",
            "",
            "[::1",
            "a:b:c",
        ] {
            assert!(!host_allowed(bad, 8421, &allow), "{bad}");
        }
    }

    #[test]
    fn origins_must_match_the_host() {
        assert!(origin_matches("http://127.0.0.1:8421", "127.0.0.1:8421"));
        assert!(origin_matches("http://localhost", "localhost:80"));
        assert!(!origin_matches("http://evil.example", "127.0.0.1:8421"));
        assert!(!origin_matches("http://127.0.0.1:9", "127.0.0.1:8421"));
        assert!(!origin_matches("null", "127.0.0.1:8421"));
    }

    #[test]
    fn tokens_compare_and_parse() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        let (t, rest) = strip_token("a=1&token=xyz&b=2");
        assert_eq!(t.as_deref(), Some("xyz"));
        assert_eq!(rest, "a=1&b=2");
        assert_eq!(random_token().unwrap().len(), 64);
        assert_eq!(token_for("127.0.0.1".parse().unwrap()).unwrap(), None);
    }
}
