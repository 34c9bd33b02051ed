//! The REST API under `/api`, described by the hand-written OpenAPI document
//! `src/serve/openapi.json` (served at `/api/openapi.json`).
//!
//! Every route is listed once in [`routes`], which both builds the router and is compared
//! with the OpenAPI document by a unit test, so the two cannot drift. Handlers are thin: parse
//! the request, make one [`crate::control`] call on the blocking pool, serialize the answer.
//! Errors are `{"error": "...", "hint": "..."}` with 400 (bad input), 404 (unknown run or
//! file), 409 (busy, or the wrong state for the action), 416 (range outside the file), 422
//! (bad configuration) or 500. State-changing routes are POST-only, so the router answers 405
//! to any other method on them. The event stream is Server-Sent Events: each run event is an
//! unnamed event with `id: <seq>` and the event's JSON as data; it resumes after
//! `Last-Event-ID` (or `?since=`), polls `events.jsonl` every 250 ms, and ends with an
//! `event: end` once no process drives the run any more.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::{blocking, ApiError, Shared};
use crate::control::artifacts::ByteRange;
use crate::control::{LaunchRequest, RunQuery};

/// The OpenAPI 3.1 document, embedded.
pub const OPENAPI: &str = include_str!("openapi.json");

/// Every API route: method, path (axum syntax), handler.
pub fn routes() -> Vec<(Method, &'static str, MethodRouter<Shared>)> {
    vec![
        (Method::GET, "/api/health", get(health)),
        (Method::GET, "/api/openapi.json", get(openapi)),
        (Method::GET, "/api/runs", get(list_runs)),
        (Method::POST, "/api/runs", post(start_run)),
        (Method::GET, "/api/runs/{id}", get(run_detail)),
        (Method::GET, "/api/runs/{id}/events", get(events)),
        (
            Method::GET,
            "/api/runs/{id}/events/stream",
            get(event_stream),
        ),
        (Method::GET, "/api/runs/{id}/artifacts", get(list_artifacts)),
        (
            Method::GET,
            "/api/runs/{id}/artifacts/{*path}",
            get(read_artifact),
        ),
        (Method::GET, "/api/runs/{id}/diff", get(diff)),
        (Method::GET, "/api/runs/{id}/sync", get(sync)),
        (Method::POST, "/api/runs/{id}/cancel", post(cancel)),
        (Method::POST, "/api/runs/{id}/resume", post(resume)),
        (Method::POST, "/api/runs/{id}/clean", post(clean)),
        (Method::GET, "/api/runs/{id}/approval", get(approval)),
        (Method::POST, "/api/runs/{id}/approve", post(approve)),
        (Method::POST, "/api/runs/{id}/reject", post(reject)),
    ]
}

/// The API router (merged with the dashboard's in [`super::app`]).
pub fn router() -> Router<Shared> {
    let mut r = Router::new();
    let mut merged: Vec<(&'static str, MethodRouter<Shared>)> = Vec::new();
    for (_, path, m) in routes() {
        match merged.iter_mut().find(|(p, _)| *p == path) {
            Some((_, existing)) => *existing = std::mem::take(existing).merge(m),
            None => merged.push((path, m)),
        }
    }
    for (path, m) in merged {
        r = r.route(path, m);
    }
    r.fallback(not_found)
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no such endpoint")
        .with_hint("the endpoints are listed in /api/openapi.json")
}

fn bad_query(e: QueryRejection) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        format!("bad query string: {}", e.body_text()),
    )
}

type ApiResult<T> = Result<T, ApiError>;

async fn health(State(st): State<Shared>) -> ApiResult<Response> {
    let h = blocking(&st, |c| Ok(c.health())).await?;
    Ok(Json(h).into_response())
}

async fn openapi() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        OPENAPI,
    )
        .into_response()
}

async fn list_runs(
    State(st): State<Shared>,
    q: Result<Query<RunQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let Query(q) = q.map_err(bad_query)?;
    if q.limit == Some(0) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "limit must be at least 1",
        ));
    }
    let page = blocking(&st, move |c| c.list_runs(&q)).await?;
    Ok(Json(page).into_response())
}

async fn start_run(
    State(st): State<Shared>,
    body: Result<Json<LaunchRequest>, JsonRejection>,
) -> ApiResult<Response> {
    let Json(req) = body.map_err(|e| {
        ApiError::new(
            e.status(),
            format!("bad request body: {}", e.body_text()),
        )
        .with_hint("send JSON like {\"task\": \"add a --json flag\", \"engine\": \"fake\"} with Content-Type: application/json")
    })?;
    let launched = blocking(&st, move |c| c.launch(&req)).await?;
    let url = format!("/api/runs/{}", launched.run_id);
    let mut v = serde_json::to_value(&launched).unwrap_or_else(|_| json!({}));
    v["url"] = json!(url);
    let mut resp = (StatusCode::ACCEPTED, Json(v)).into_response();
    if let Ok(loc) = HeaderValue::from_str(&url) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(resp)
}

async fn run_detail(State(st): State<Shared>, Path(id): Path<String>) -> ApiResult<Response> {
    let d = blocking(&st, move |c| c.detail(&id)).await?;
    Ok(Json(d).into_response())
}

#[derive(Debug, Deserialize)]
struct EventsQuery {
    since: Option<u64>,
    limit: Option<usize>,
}

async fn events(
    State(st): State<Shared>,
    Path(id): Path<String>,
    q: Result<Query<EventsQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let Query(q) = q.map_err(bad_query)?;
    let since = q.since.unwrap_or(0);
    let limit = q.limit.unwrap_or(200);
    if limit == 0 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "limit must be at least 1",
        ));
    }
    let page = blocking(&st, move |c| c.events(&id, since, limit)).await?;
    Ok(Json(page).into_response())
}

/// Where the stream is.
struct StreamState {
    st: Shared,
    id: String,
    cursor: u64,
    pending: VecDeque<Event>,
    done: bool,
    shutdown: tokio::sync::watch::Receiver<bool>,
}

async fn event_stream(
    State(st): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    q: Result<Query<EventsQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let Query(q) = q.map_err(bad_query)?;
    let last_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let cursor = last_id.or(q.since).unwrap_or(0);
    // 404 for an unknown run before the stream starts.
    let check = id.clone();
    blocking(&st, move |c| c.find_run(&check).map(|_| ())).await?;
    let state = StreamState {
        shutdown: st.shutdown.clone(),
        st,
        id,
        cursor,
        pending: VecDeque::new(),
        done: false,
    };
    let stream = futures_util::stream::unfold(state, |mut s| async move {
        loop {
            if let Some(ev) = s.pending.pop_front() {
                return Some((Ok::<Event, Infallible>(ev), s));
            }
            if s.done || *s.shutdown.borrow() {
                return None;
            }
            let (id, since) = (s.id.clone(), s.cursor);
            let page = blocking(&s.st, move |c| c.events(&id, since, 500)).await;
            let page = match page {
                Ok(p) => p,
                Err(e) => {
                    s.done = true;
                    s.pending.push_back(
                        Event::default()
                            .event("end")
                            .data(json!({"error": e.error.message}).to_string()),
                    );
                    continue;
                }
            };
            for ev in &page.events {
                let data = serde_json::to_string(ev).unwrap_or_default();
                s.pending
                    .push_back(Event::default().id(ev.seq.to_string()).data(data));
            }
            s.cursor = page.next;
            if !page.events.is_empty() {
                continue;
            }
            if page.finished {
                // Nobody drives the run: one more read catches a last line written just
                // before the lock was released, then the stream ends.
                let (id, since) = (s.id.clone(), s.cursor);
                if let Ok(last) = blocking(&s.st, move |c| c.events(&id, since, 500)).await {
                    for ev in &last.events {
                        let data = serde_json::to_string(ev).unwrap_or_default();
                        s.pending
                            .push_back(Event::default().id(ev.seq.to_string()).data(data));
                    }
                    s.cursor = last.next;
                }
                let id = s.id.clone();
                let status = blocking(&s.st, move |c| c.detail(&id).map(|d| d.status))
                    .await
                    .unwrap_or_else(|_| "unknown".into());
                s.pending.push_back(
                    Event::default()
                        .event("end")
                        .data(json!({"status": status, "last_seq": s.cursor}).to_string()),
                );
                s.done = true;
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                _ = s.shutdown.changed() => {}
            }
        }
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

async fn list_artifacts(State(st): State<Shared>, Path(id): Path<String>) -> ApiResult<Response> {
    let files = blocking(&st, move |c| c.list_artifacts(&id)).await?;
    Ok(Json(json!({ "artifacts": files })).into_response())
}

#[derive(Debug, Deserialize)]
struct ReadQuery {
    offset: Option<u64>,
    length: Option<u64>,
}

/// The content type of an artifact: text for the formats orx writes, never HTML.
fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    match ext {
        "json" => "application/json",
        "md" | "log" | "txt" | "diff" | "patch" | "jsonl" | "yaml" | "yml" | "xml" | "toml"
        | "py" | "rs" | "js" | "ts" | "sh" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

async fn read_artifact(
    State(st): State<Shared>,
    Path((id, path)): Path<(String, String)>,
    headers: HeaderMap,
    q: Result<Query<ReadQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let Query(q) = q.map_err(bad_query)?;
    let range = match (q.offset, q.length) {
        (None, None) => headers
            .get(header::RANGE)
            .and_then(|v| v.to_str().ok())
            .and_then(ByteRange::parse_header),
        (offset, length) => {
            let start = offset.unwrap_or(0);
            let end = match length {
                Some(0) => {
                    return Err(ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "length must be at least 1",
                    ))
                }
                Some(n) => Some(start.saturating_add(n - 1)),
                None => None,
            };
            Some(ByteRange::From { start, end })
        }
    };
    let p = path.clone();
    let chunk = blocking(&st, move |c| c.read_artifact(&id, &p, range)).await?;
    if chunk.unsatisfiable {
        let mut resp = ApiError::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            format!(
                "the requested range is outside `{}` ({} bytes)",
                chunk.path, chunk.total
            ),
        )
        .into_response();
        if let Ok(v) = HeaderValue::from_str(&format!("bytes */{}", chunk.total)) {
            resp.headers_mut().insert(header::CONTENT_RANGE, v);
        }
        return Ok(resp);
    }
    let status = if chunk.partial {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let mut resp = (status, chunk.bytes).into_response();
    let h = resp.headers_mut();
    let mut ctype = content_type(&path);
    if chunk.partial && ctype == "application/json" {
        // A slice of a JSON document is not JSON.
        ctype = "text/plain; charset=utf-8";
    }
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if chunk.partial {
        if let Ok(v) = HeaderValue::from_str(&format!(
            "bytes {}-{}/{}",
            chunk.start,
            chunk.end.saturating_sub(1),
            chunk.total
        )) {
            h.insert(header::CONTENT_RANGE, v);
        }
    }
    Ok(resp)
}

async fn diff(State(st): State<Shared>, Path(id): Path<String>) -> ApiResult<Response> {
    let d = blocking(&st, move |c| c.diff(&id)).await?;
    Ok(Json(d).into_response())
}

async fn sync(State(st): State<Shared>, Path(id): Path<String>) -> ApiResult<Response> {
    let s = blocking(&st, move |c| c.sync(&id)).await?;
    Ok(Json(s).into_response())
}

async fn cancel(State(st): State<Shared>, Path(id): Path<String>) -> ApiResult<Response> {
    let r = blocking(&st, move |c| c.cancel(&id)).await?;
    Ok((StatusCode::ACCEPTED, Json(r)).into_response())
}

async fn resume(State(st): State<Shared>, Path(id): Path<String>) -> ApiResult<Response> {
    let r = blocking(&st, move |c| c.resume(&id)).await?;
    Ok(launched(r))
}

async fn clean(State(st): State<Shared>, Path(id): Path<String>) -> ApiResult<Response> {
    let r = blocking(&st, move |c| c.clean(&id)).await?;
    Ok(Json(r).into_response())
}

async fn approval(State(st): State<Shared>, Path(id): Path<String>) -> ApiResult<Response> {
    let r = blocking(&st, move |c| c.approval(&id)).await?;
    Ok(Json(r).into_response())
}

/// A JSON body that did not parse, as a 400/415 naming the expected shape.
fn bad_body(e: JsonRejection, example: &str) -> ApiError {
    ApiError::new(e.status(), format!("bad request body: {}", e.body_text())).with_hint(format!(
        "send JSON like {example} with Content-Type: application/json"
    ))
}

/// 202 with the launched process and the run's URL.
fn launched(r: crate::control::Launched) -> Response {
    let url = format!("/api/runs/{}", r.run_id);
    let mut v = serde_json::to_value(&r).unwrap_or_else(|_| json!({}));
    v["url"] = json!(url);
    (StatusCode::ACCEPTED, Json(v)).into_response()
}

async fn approve(
    State(st): State<Shared>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    // The body is optional: no body approves the output as it is.
    let req: crate::control::ApproveRequest = if body.iter().all(u8::is_ascii_whitespace) {
        Default::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            let status = if e.is_data() {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::BAD_REQUEST
            };
            ApiError::new(status, format!("bad request body: {e}"))
                .with_hint("send JSON like {\"content\": \"# Plan ...\"}, or no body")
        })?
    };
    let r = blocking(&st, move |c| c.approve(&id, req.content.as_deref())).await?;
    Ok(launched(r))
}

async fn reject(
    State(st): State<Shared>,
    Path(id): Path<String>,
    body: Result<Json<crate::control::RejectRequest>, JsonRejection>,
) -> ApiResult<Response> {
    let Json(req) = body.map_err(|e| bad_body(e, "{\"feedback\": \"split the parser out\"}"))?;
    let r = blocking(&st, move |c| c.reject(&id, &req.feedback)).await?;
    Ok(launched(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `{id}` / `{*path}` (axum) → `{id}` / `{path}` (OpenAPI).
    fn openapi_path(p: &str) -> String {
        p.replace("{*", "{")
    }

    #[test]
    fn every_route_is_documented_and_every_documented_route_exists() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).expect("openapi.json parses");
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        let mut documented: Vec<(String, String)> = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                if ["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                    documented.push((method.to_uppercase(), path.clone()));
                }
            }
        }
        let mut routed: Vec<(String, String)> = routes()
            .iter()
            .map(|(m, p, _)| (m.to_string(), openapi_path(p)))
            .collect();
        documented.sort();
        routed.sort();
        assert_eq!(routed, documented);
    }

    #[test]
    fn the_launch_schema_offers_what_a_launch_accepts() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).expect("openapi.json parses");
        let props = &doc["components"]["schemas"]["LaunchRequest"]["properties"];
        let names = |v: &serde_json::Value| -> Vec<String> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(
            names(&props["engine"]["enum"]),
            crate::control::launch::ENGINES
        );
        let approvable: Vec<&str> = crate::model::Stage::APPROVABLE
            .iter()
            .map(|s| s.as_str())
            .collect();
        assert_eq!(names(&props["approve"]["items"]["enum"]), approvable);
        assert_eq!(props["parallel"]["minimum"], 1);
        assert_eq!(props["parallel"]["maximum"], crate::config::MAX_PARALLEL);
        assert_eq!(props["candidates"]["minimum"], 1);
        assert_eq!(
            props["candidates"]["maximum"],
            crate::config::MAX_CANDIDATES
        );
        // Every field of the request is documented, and nothing more.
        let documented: Vec<String> = props.as_object().unwrap().keys().cloned().collect();
        let sent = serde_json::to_value(crate::control::LaunchRequest::default()).unwrap();
        let mut fields: Vec<String> = sent.as_object().unwrap().keys().cloned().collect();
        let mut documented = documented;
        fields.sort();
        documented.sort();
        assert_eq!(fields, documented);
    }

    /// A served repository with one run `20261201-000000-abcdef` whose state says `status` and
    /// whose lock names `holder` (a real process) as its driver.
    fn served_run(
        status: &str,
        holder: &std::process::Child,
    ) -> (tempfile::TempDir, Shared, String) {
        use crate::control::{Control, Workspace};
        use crate::store::lock::process_start_time;
        use crate::store::RunPaths;
        let dir = tempfile::tempdir().unwrap();
        let id = "20261201-000000-abcdef".to_string();
        let paths = RunPaths::new(dir.path(), &id);
        std::fs::create_dir_all(&paths.dir).unwrap();
        let state = json!({
            "version": 1, "run_id": id, "task": "t", "status": status, "pipeline": "full",
            "stages": [], "engine": "fake", "created_at": "2026-12-01T00:00:00Z", "updated_at": "2026-12-01T00:00:00Z",
            "worktree": {"path": "/nonexistent", "branch": "b", "base_branch": "main", "base_sha": "0"},
        });
        std::fs::write(paths.state(), state.to_string()).unwrap();
        // Until the holder has exec'd `sleep`, it is a copy of this test process, whose SIGINT
        // handler (installed by any test that watched for Ctrl-C) would swallow the cancel's
        // signal before exec, and `sleep` would then run its whole ten minutes.
        let comm = format!("/proc/{}/comm", holder.id());
        crate::exec::wait_until("the holder to run sleep", || {
            std::fs::read_to_string(&comm).is_ok_and(|c| c.trim() == "sleep")
        });
        let start = process_start_time(holder.id()).unwrap();
        std::fs::write(paths.lock(), format!("{} {start}\n", holder.id())).unwrap();
        let control = Control::new(vec![Workspace {
            name: "repo".into(),
            root: dir.path().to_path_buf(),
        }])
        .unwrap();
        let st = std::sync::Arc::new(super::super::AppState {
            control,
            token: None,
            addr: "127.0.0.1:8421".parse().unwrap(),
            allow_hosts: Vec::new(),
            shutdown: tokio::sync::watch::channel(false).1,
        });
        (dir, st, id)
    }

    async fn cancel_answer(st: &Shared, id: &str) -> (StatusCode, serde_json::Value) {
        let resp = match cancel(State(st.clone()), Path(id.to_string())).await {
            Ok(r) => r,
            Err(e) => e.into_response(),
        };
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn cancelling_a_run_whose_process_exits_before_the_signal_answers_409_from_its_state() {
        // The run's process ends between the moment cancel sees it live and the moment it
        // signals: the hook makes that window happen every time.
        let holder = std::process::Command::new("sleep")
            .arg("600")
            .spawn()
            .unwrap();
        let (dir, st, id) = served_run("running", &holder);
        let state_file = crate::store::RunPaths::new(dir.path(), &id).state();
        let mut holder = Some(holder);
        st.control.hooks.set_before_signal(move |pid| {
            let mut child = holder.take().unwrap();
            assert_eq!(pid, child.id());
            // The run records how it ended, then its process exits and is reaped.
            let text = std::fs::read_to_string(&state_file).unwrap();
            std::fs::write(&state_file, text.replace("\"running\"", "\"failed\"")).unwrap();
            child.kill().unwrap();
            child.wait().unwrap();
        });
        let (status, body) = cancel_answer(&st, &id).await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert_eq!(
            body["error"],
            json!(format!("run {id} already ended (failed)")),
            "{body}"
        );
    }

    #[tokio::test]
    async fn cancelling_a_live_run_signals_its_process_and_answers_202() {
        use std::os::unix::process::CommandExt;
        let mut cmd = std::process::Command::new("sleep");
        cmd.arg("600");
        // SAFETY: runs between fork and exec and only calls `signal`, which is
        // async-signal-safe. A test started in the background of a non-interactive shell
        // inherits SIGINT ignored, and an ignored signal stays ignored across exec: the
        // holder gets the default action back, as a real `orx` driving a run has it.
        unsafe {
            cmd.pre_exec(|| {
                libc::signal(libc::SIGINT, libc::SIG_DFL);
                Ok(())
            });
        }
        let mut holder = cmd.spawn().unwrap();
        let (_dir, st, id) = served_run("running", &holder);
        let (status, body) = cancel_answer(&st, &id).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        assert_eq!(body["pid"], json!(holder.id()));
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(holder.wait().unwrap().signal(), Some(libc::SIGINT));
        // Gone now: a second cancel is answered from the state, which still says running
        // (a process that died without recording its end).
        let (status, body) = cancel_answer(&st, &id).await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert_eq!(body["error"], json!(format!("run {id} is not running")));
    }

    #[test]
    fn artifacts_are_never_served_as_html() {
        assert_eq!(content_type("logs/a.log"), "text/plain; charset=utf-8");
        assert_eq!(content_type("x.html"), "application/octet-stream");
        assert_eq!(content_type("state.json"), "application/json");
    }
}
