//! The dashboard's static files, embedded in the binary (no CDN, nothing read from disk):
//! htmx (vendored, minified, with its license header), `app.css`, `app.js` and the icon.
//!
//! Pages link them with `?v=<orx version>`, so they are served with a one-year immutable
//! cache; an unknown name is a plain 404.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// name → (content type, bytes).
pub fn asset(name: &str) -> Option<(&'static str, &'static [u8])> {
    match name {
        "htmx.min.js" => Some((
            "text/javascript; charset=utf-8",
            include_bytes!("assets/htmx.min.js"),
        )),
        "app.js" => Some((
            "text/javascript; charset=utf-8",
            include_bytes!("assets/app.js"),
        )),
        "app.css" => Some(("text/css; charset=utf-8", include_bytes!("assets/app.css"))),
        "favicon.svg" => Some(("image/svg+xml", include_bytes!("assets/favicon.svg"))),
        _ => None,
    }
}

pub async fn serve(Path(name): Path<String>) -> Response {
    let Some((ctype, bytes)) = asset(&name) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    let mut resp = (StatusCode::OK, bytes).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assets_are_embedded_with_types() {
        let (t, htmx) = asset("htmx.min.js").unwrap();
        assert!(t.starts_with("text/javascript"));
        assert!(htmx.starts_with(b"/*! htmx 2."), "license header kept");
        assert!(asset("app.css").unwrap().0.starts_with("text/css"));
        assert!(asset("app.js").is_some());
        assert!(asset("../mod.rs").is_none());
    }
}
