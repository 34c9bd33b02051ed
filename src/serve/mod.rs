//! `orx serve`: the dashboard and the REST API over the run folders of one or more
//! repositories.
//!
//! The server is a thin HTTP face on [`crate::control`]: every handler runs one blocking
//! control call on tokio's blocking pool ([`blocking`]) and turns its `OrxError` into a JSON
//! error with the matching status ([`ApiError`]). It keeps no state that the run folders do
//! not have, so a restarted server sees every run again, live ones included. The router is the
//! API ([`api::router`]) merged with the dashboard ([`ui::router`]), both wrapped in the
//! security layer ([`security`]: Host and Origin checks, the token for non-loopback binds).
//! On start it prints exactly one line `orx serve: listening on http://ADDR:PORT` on stdout
//! (plus the token line when one is required) and flushes it, so scripts and tests can parse
//! it; SIGINT or SIGTERM shut it down gracefully, ending open event streams first. Connections
//! are accepted by [`conn`], which caps them and times out idle and stalled clients.

pub mod api;
pub mod conn;
pub mod security;
pub mod ui;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::json;

use crate::control::{Control, Workspace};
use crate::error::{OrxError, Result};

/// Everything a handler may need.
#[derive(Debug)]
pub struct AppState {
    pub control: Control,
    /// Required on every request when set (non-loopback binds).
    pub token: Option<String>,
    /// The address actually bound (the port is the real one with `--port 0`).
    pub addr: SocketAddr,
    /// Extra host names accepted in the Host header (`--allow-host`).
    pub allow_hosts: Vec<String>,
    /// Flips to true when the server shuts down, so long-lived streams end.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}

pub type Shared = Arc<AppState>;

/// What `orx serve` was asked for.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub bind: IpAddr,
    pub port: u16,
    pub repos: Vec<PathBuf>,
    pub allow_hosts: Vec<String>,
    /// Connection cap and timeouts.
    pub limits: conn::Limits,
}

/// An error as the API returns it: `{"error": "<one sentence>", "hint": "..."}` with the
/// status of its kind.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub error: OrxError,
}

impl From<OrxError> for ApiError {
    fn from(error: OrxError) -> Self {
        let status = StatusCode::from_u16(error.kind.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        ApiError { status, error }
    }
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            error: OrxError::usage(message),
        }
    }
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.error.hint = Some(hint.into());
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": self.error.message });
        if let Some(h) = &self.error.hint {
            body["hint"] = json!(h);
        }
        (self.status, Json(body)).into_response()
    }
}

/// Run `f` against the control layer on the blocking pool.
pub async fn blocking<T, F>(state: &Shared, f: F) -> std::result::Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&Control) -> Result<T> + Send + 'static,
{
    let st = state.clone();
    match tokio::task::spawn_blocking(move || f(&st.control)).await {
        Ok(r) => r.map_err(ApiError::from),
        Err(e) => Err(ApiError::from(OrxError::internal(format!(
            "a request handler failed: {e}"
        )))),
    }
}

/// The whole application: API and dashboard behind the security layer.
pub fn app(state: Shared) -> Router {
    Router::new()
        .merge(api::router())
        .merge(ui::router())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            security::guard,
        ))
        .with_state(state)
}

/// The workspaces to serve: each `--repo`, else the repository around the current folder.
pub fn workspaces(repos: &[PathBuf]) -> Result<Vec<Workspace>> {
    if repos.is_empty() {
        return Ok(vec![Workspace::open(std::path::Path::new("."))?]);
    }
    repos.iter().map(|r| Workspace::open(r)).collect()
}

/// The async runtime `orx serve` and `orx mcp` run on: two workers, I/O and timers.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| {
            OrxError::internal(format!("cannot start the async runtime: {e}")).with_source(e)
        })
}

/// Start the server and block until SIGINT/SIGTERM; returns the exit code.
pub fn serve(opts: ServeOptions) -> Result<i32> {
    let control = Control::new(workspaces(&opts.repos)?)?;
    let token = security::token_for(opts.bind)?;
    let rt = runtime()?;
    let code = rt.block_on(run(opts, control, token));
    // Blocking reads still in flight (a slow health probe) must not hold the exit up.
    rt.shutdown_timeout(Duration::from_millis(500));
    code
}

async fn run(opts: ServeOptions, control: Control, token: Option<String>) -> Result<i32> {
    use std::io::Write;
    let want = SocketAddr::new(opts.bind, opts.port);
    let listener = tokio::net::TcpListener::bind(want).await.map_err(|e| {
        OrxError::usage(format!("cannot listen on {want}: {e}"))
            .with_hint("pick another port with --port (0 picks a free one)")
    })?;
    let addr = listener.local_addr().map_err(|e| {
        OrxError::internal(format!("cannot read the bound address: {e}")).with_source(e)
    })?;
    let (tx, rx) = tokio::sync::watch::channel(false);
    let state = Arc::new(AppState {
        control,
        token: token.clone(),
        addr,
        allow_hosts: opts.allow_hosts.clone(),
        shutdown: rx,
    });
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "orx serve: listening on http://{addr}");
        if let Some(t) = &token {
            let _ = writeln!(
                out,
                "orx serve: token {t} (send `Authorization: Bearer <token>`, or open http://{addr}/?token={t})"
            );
        }
        let _ = out.flush();
    }
    let names: Vec<String> = state
        .control
        .workspaces()
        .iter()
        .map(|w| format!("{} ({})", w.name, w.root.display()))
        .collect();
    eprintln!("orx serve: serving {}", names.join(", "));
    let app = app(state);
    let stop = tx.subscribe();
    tokio::spawn(async move {
        wait_for_signal().await;
        let _ = tx.send(true);
        // Open connections get a moment to finish; then the process exits regardless.
        tokio::time::sleep(Duration::from_secs(3)).await;
        std::process::exit(0);
    });
    conn::serve(listener, app, opts.limits, stop).await;
    Ok(0)
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    match (term, int) {
        (Ok(mut t), Ok(mut i)) => {
            tokio::select! {
                _ = t.recv() => {}
                _ = i.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
