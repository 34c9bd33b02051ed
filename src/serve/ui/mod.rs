//! The dashboard (server-rendered HTML with htmx). This is the seam the dashboard plugs into:
//! `router()` returns routes on the shared [`Shared`](super::Shared) state and reads runs only
//! through `state.control` (the same [`crate::control`] layer the API uses), so every page is a
//! view of the run folders. For now it serves a minimal placeholder at `/`.

use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use axum::Router;

use super::Shared;

/// The dashboard's routes.
pub fn router() -> Router<Shared> {
    Router::new().route("/", get(index))
}

async fn index(State(state): State<Shared>) -> Html<String> {
    let names: Vec<String> = state
        .control
        .workspaces()
        .iter()
        .map(|w| html_escape(&w.name))
        .collect();
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>orx</title></head><body>\
         <h1>orx</h1><p>Serving {}.</p><p>The API is described at \
         <a href=\"/api/openapi.json\">/api/openapi.json</a>; runs are listed at \
         <a href=\"/api/runs\">/api/runs</a>.</p></body></html>",
        names.join(", ")
    ))
}

/// Escape text for HTML element content and attribute values.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}
