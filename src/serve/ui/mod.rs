//! The dashboard: server-rendered HTML with htmx, every asset embedded in the binary.
//!
//! `router()` adds the pages to the shared [`Shared`](super::Shared) state; every page reads
//! runs only through `state.control` (the same [`crate::control`] layer the API uses), so the
//! dashboard is a view of the run folders with no state of its own, and it sits behind the same
//! security layer (Host/Origin checks, token). Handlers are thin: one control call on the
//! blocking pool, then one of the render functions of the view modules ([`list`],
//! [`run_page`], [`diff`], [`artifacts`], all plain `format!` over [`escape::escape`]d text).
//!
//! Routes: `GET /` (start form, filters, runs), `GET /ui/runs` (the run table fragment),
//! `POST /ui/runs` (start), `GET /runs/{id}` (run page), `GET /ui/runs/{id}/live` (its live
//! fragment), `GET /runs/{id}/diff`, `GET /runs/{id}/files[/{path}]`, `POST
//! /runs/{id}/cancel|resume`, `GET /assets/{name}`. A POST that succeeds answers 303 to the run
//! page; one that fails renders the page again with the error as a visible banner and the
//! status of its kind. An unknown run is a 404 page. HTML answers carry a strict
//! Content-Security-Policy: scripts and styles only from `/assets`.

pub mod approval;
pub mod artifacts;
pub mod assets;
pub mod diff;
pub mod escape;
pub mod layout;
pub mod list;
pub mod run_page;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Form, Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use super::{blocking, ApiError, Shared};
use crate::control::artifacts::ByteRange;
use crate::control::{LaunchRequest, RunQuery};
pub use escape::escape as html_escape;
use escape::url_part;

/// The dashboard's routes.
pub fn router() -> Router<Shared> {
    Router::new()
        .route("/", get(home))
        .route("/ui/runs", get(runs_fragment).post(start))
        .route("/ui/runs/{id}/live", get(live_fragment))
        .route("/runs/{id}", get(run))
        .route("/runs/{id}/diff", get(run_diff))
        .route("/runs/{id}/files", get(files))
        .route("/runs/{id}/files/{*path}", get(file))
        .route("/runs/{id}/cancel", post(cancel))
        .route("/runs/{id}/resume", post(resume))
        .route("/runs/{id}/approve", post(approve))
        .route("/runs/{id}/reject", post(reject))
        .route("/assets/{name}", get(assets::serve))
}

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// An HTML answer with the dashboard's security headers.
pub fn html(status: StatusCode, body: String) -> Response {
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// An error as a page: its message (and hint) in a banner, with its status.
fn error_page(e: &ApiError, title: &str) -> Response {
    let mut msg = e.error.message.clone();
    if let Some(h) = &e.error.hint {
        msg.push_str(" — ");
        msg.push_str(h);
    }
    let body = "<p><a href=\"/\">Back to the runs</a></p>";
    html(e.status, layout::page(title, Some(&msg), body))
}

fn repo_names(st: &Shared) -> Vec<String> {
    st.control
        .workspaces()
        .iter()
        .map(|w| w.name.clone())
        .collect()
}

async fn render_home(
    st: &Shared,
    q: RunQuery,
    form: list::StartForm,
    error: Option<&ApiError>,
) -> Response {
    let qq = q.clone();
    let page = match blocking(st, move |c| c.list_runs(&qq)).await {
        Ok(p) => p,
        Err(e) => return error_page(&e, "Runs"),
    };
    let body = list::body(&page, &q, &form, &repo_names(st));
    let (status, msg) = match error {
        Some(e) => {
            let mut m = e.error.message.clone();
            if let Some(h) = &e.error.hint {
                m.push_str(" — ");
                m.push_str(h);
            }
            (e.status, Some(m))
        }
        None => (StatusCode::OK, None),
    };
    html(status, layout::page("Runs", msg.as_deref(), &body))
}

async fn home(State(st): State<Shared>, q: Result<Query<RunQuery>, QueryRejection>) -> Response {
    match q {
        Ok(Query(q)) => render_home(&st, q, list::StartForm::default(), None).await,
        Err(e) => {
            let err = ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("bad filter: {}", e.body_text()),
            );
            render_home(
                &st,
                RunQuery::default(),
                list::StartForm::default(),
                Some(&err),
            )
            .await
        }
    }
}

async fn runs_fragment(
    State(st): State<Shared>,
    q: Result<Query<RunQuery>, QueryRejection>,
) -> Response {
    let q = q.map(|Query(q)| q).unwrap_or_default();
    let qq = q.clone();
    match blocking(&st, move |c| c.list_runs(&qq)).await {
        Ok(page) => html(StatusCode::OK, list::runs_fragment(&page, &q)),
        Err(e) => html(e.status, layout::error_banner(&e.error.message)),
    }
}

fn opt(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

async fn start(
    State(st): State<Shared>,
    form: Result<Form<list::StartForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Form(form) = match form {
        Ok(f) => f,
        Err(e) => {
            let err = ApiError::new(e.status(), format!("bad form: {}", e.body_text()));
            return render_home(
                &st,
                RunQuery::default(),
                list::StartForm::default(),
                Some(&err),
            )
            .await;
        }
    };
    let req = LaunchRequest {
        task: form.task.clone(),
        engine: opt(&form.engine),
        model: opt(&form.model),
        base_branch: opt(&form.base_branch),
        pipeline: None,
        repo: opt(&form.repo),
        approve: form.approve(),
        parallel: None,
        candidates: None,
    };
    let counts = number_field("Parallel", &form.parallel, crate::config::MAX_PARALLEL).and_then(
        |parallel| {
            number_field(
                "Candidates",
                &form.candidates,
                crate::config::MAX_CANDIDATES,
            )
            .map(|candidates| (parallel, candidates))
        },
    );
    let req = match counts {
        Ok((parallel, candidates)) => LaunchRequest {
            parallel,
            candidates,
            ..req
        },
        Err(e) => return render_home(&st, RunQuery::default(), form, Some(&e)).await,
    };
    match blocking(&st, move |c| c.launch(&req)).await {
        Ok(l) => Redirect::to(&format!("/runs/{}", url_part(&l.run_id, false))).into_response(),
        Err(e) => render_home(&st, RunQuery::default(), form, Some(&e)).await,
    }
}

/// A number field of the form (`what`, at most `max`): empty for orx.yaml's; anything but a
/// whole number is refused here (the range is checked where every client's is).
fn number_field(what: &str, text: &str, max: u32) -> std::result::Result<Option<u32>, ApiError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("{what} must be a whole number from 1 to {max}, not `{text}`"),
        )
    })
}

/// A run's detail, and what it asks a person to read when it awaits approval.
fn run_view(c: &crate::control::Control, id: &str) -> crate::error::Result<RunView> {
    let d = c.detail(id)?;
    let approval = if d.status == "awaiting_approval" {
        c.approval(id).ok()
    } else {
        None
    };
    Ok((d, approval))
}

type RunView = (
    crate::control::RunDetail,
    Option<crate::control::ApprovalView>,
);

async fn run(State(st): State<Shared>, Path(id): Path<String>) -> Response {
    match blocking(&st, move |c| run_view(c, &id)).await {
        Ok((d, a)) => html(
            StatusCode::OK,
            layout::page(
                &format!("Run {}", d.run_id),
                None,
                &run_page::body(&d, a.as_ref()),
            ),
        ),
        Err(e) => error_page(&e, "Run not found"),
    }
}

async fn live_fragment(State(st): State<Shared>, Path(id): Path<String>) -> Response {
    match blocking(&st, move |c| run_view(c, &id)).await {
        Ok((d, a)) => html(StatusCode::OK, run_page::live_fragment(&d, a.as_ref())),
        Err(e) => html(e.status, layout::error_banner(&e.error.message)),
    }
}

async fn run_diff(State(st): State<Shared>, Path(id): Path<String>) -> Response {
    let r = blocking(&st, move |c| Ok((c.detail(&id)?, c.diff(&id)?))).await;
    match r {
        Ok((d, diff)) => {
            let source = match diff.source.as_str() {
                "patch" => "the shipped patch (artifacts/patch.diff)",
                "worktree" => "the worktree against the base commit (live)",
                _ => "nothing: the worktree is gone and nothing was shipped",
            };
            let inner = format!(
                "<p class=\"note\">Diff from {source}. <a href=\"{raw}\">raw</a></p><div id=\"diff\">{}</div>",
                diff::render(&diff.diff, &diff::raw_link(&d.run_id)),
                raw = escape::escape(&diff::raw_link(&d.run_id)),
            );
            let title = format!("Diff of {}", d.run_id);
            html(
                StatusCode::OK,
                layout::page(&title, None, &run_page::sub_page(&d, "diff", &inner)),
            )
        }
        Err(e) => error_page(&e, "Diff"),
    }
}

async fn files(State(st): State<Shared>, Path(id): Path<String>) -> Response {
    let r = blocking(&st, move |c| Ok((c.detail(&id)?, c.list_artifacts(&id)?))).await;
    match r {
        Ok((d, list)) => {
            let inner = artifacts::listing(&d.run_id, &list);
            let title = format!("Files of {}", d.run_id);
            html(
                StatusCode::OK,
                layout::page(&title, None, &run_page::sub_page(&d, "files", &inner)),
            )
        }
        Err(e) => error_page(&e, "Files"),
    }
}

#[derive(Debug, Deserialize)]
struct FileQuery {
    offset: Option<u64>,
}

async fn file(
    State(st): State<Shared>,
    Path((id, path)): Path<(String, String)>,
    q: Result<Query<FileQuery>, QueryRejection>,
) -> Response {
    let offset = q.ok().and_then(|Query(q)| q.offset);
    let r = blocking(&st, move |c| {
        let d = c.detail(&id)?;
        let start = match offset {
            Some(o) => o,
            None => {
                // One tiny read learns the size, then the default chunk is read.
                let probe = c.read_artifact(
                    &id,
                    &path,
                    Some(ByteRange::From {
                        start: 0,
                        end: Some(0),
                    }),
                )?;
                artifacts::default_offset(&path, probe.total)
            }
        };
        let range = ByteRange::From {
            start,
            end: Some(start + artifacts::CHUNK - 1),
        };
        let mut chunk = c.read_artifact(&id, &path, Some(range))?;
        if chunk.unsatisfiable {
            // Past the end (or an empty file): show the start instead.
            chunk = c.read_artifact(&id, &path, None)?;
            chunk.bytes.truncate(artifacts::CHUNK as usize);
            chunk.end = chunk.start + chunk.bytes.len() as u64;
        }
        Ok((d, chunk))
    })
    .await;
    match r {
        Ok((d, chunk)) => {
            let inner = format!(
                "<h2 class=\"path\">{}</h2>{}",
                escape::escape(&chunk.path),
                artifacts::viewer(&d.run_id, &chunk)
            );
            let title = format!("{} · {}", chunk.path, d.run_id);
            html(
                StatusCode::OK,
                layout::page(&title, None, &run_page::sub_page(&d, "files", &inner)),
            )
        }
        Err(e) => error_page(&e, "File"),
    }
}

/// A POST action of the run page.
enum Action {
    Cancel,
    Resume,
    Approve(Option<String>),
    Reject(String),
}

impl Action {
    fn verb(&self) -> &'static str {
        match self {
            Action::Cancel => "cancel",
            Action::Resume => "resume",
            Action::Approve(_) => "approve",
            Action::Reject(_) => "reject",
        }
    }
}

/// Run a POST action on run `id`; 303 to the run page, or the run page with the error.
async fn action(st: Shared, id: String, what: Action) -> Response {
    let rid = id.clone();
    let verb = what.verb();
    let r = blocking(&st, move |c| match what {
        Action::Cancel => c.cancel(&rid).map(|_| ()),
        Action::Resume => c.resume(&rid).map(|_| ()),
        Action::Approve(content) => c.approve(&rid, content.as_deref()).map(|_| ()),
        Action::Reject(feedback) => c.reject(&rid, &feedback).map(|_| ()),
    })
    .await;
    let err = match r {
        Ok(()) => return Redirect::to(&format!("/runs/{}", url_part(&id, false))).into_response(),
        Err(e) => e,
    };
    let msg = format!("Could not {verb} the run: {}", {
        let mut m = err.error.message.clone();
        if let Some(h) = &err.error.hint {
            m.push_str(" — ");
            m.push_str(h);
        }
        m
    });
    match blocking(&st, move |c| run_view(c, &id)).await {
        Ok((d, a)) => html(
            err.status,
            layout::page(
                &format!("Run {}", d.run_id),
                Some(&msg),
                &run_page::body(&d, a.as_ref()),
            ),
        ),
        Err(e) => error_page(&e, "Run not found"),
    }
}

async fn cancel(State(st): State<Shared>, Path(id): Path<String>) -> Response {
    action(st, id, Action::Cancel).await
}

async fn resume(State(st): State<Shared>, Path(id): Path<String>) -> Response {
    action(st, id, Action::Resume).await
}

/// A form that did not parse, as the error banner with the rejection's status.
fn bad_form(e: axum::extract::rejection::FormRejection) -> Response {
    html(
        e.status(),
        layout::error_banner(&format!("bad form: {}", e.body_text())),
    )
}

/// The approve form: the output box and what it held when the page was rendered.
#[derive(Debug, Default, serde::Deserialize)]
struct ApproveForm {
    content: Option<String>,
    original: Option<String>,
}

/// The reject form.
#[derive(Debug, Default, serde::Deserialize)]
struct RejectForm {
    #[serde(default)]
    feedback: String,
}

async fn approve(
    State(st): State<Shared>,
    Path(id): Path<String>,
    form: Result<Form<ApproveForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let f = match form {
        Ok(Form(f)) => f,
        Err(e) => return bad_form(e),
    };
    let content = approval::edited(f.content, f.original);
    action(st, id, Action::Approve(content)).await
}

async fn reject(
    State(st): State<Shared>,
    Path(id): Path<String>,
    form: Result<Form<RejectForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let f = match form {
        Ok(Form(f)) => f,
        Err(e) => return bad_form(e),
    };
    action(st, id, Action::Reject(f.feedback)).await
}
