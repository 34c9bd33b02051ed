//! `orx mcp`: an MCP server over stdio, so an LLM client can submit runs, poll them, read
//! their patch and get their branch.
//!
//! It is built on the official Rust SDK (`rmcp`) and is only a thin adapter: every tool calls
//! the control layer (`crate::control`), the same functions behind `orx serve`'s REST API, so
//! there is no second source of truth and runs it starts are detached `orx run` processes that
//! outlive it. The control layer is blocking, so each call runs on tokio's blocking pool.
//! stdout belongs to the protocol: nothing here prints, tracing writes to stderr, and launched
//! runs log to `runs/.launch/<id>.log`, never to our stdout. A failure of a tool (unknown run,
//! refused path, not running) is an MCP tool error (`isError: true`) with one sentence and a
//! hint, never a protocol error, so the model can read it and correct itself. A request line
//! over 16 MiB is answered with a JSON-RPC error ([`lines`]) rather than dropped.

mod artifact;
mod lines;
mod tools;

use std::path::PathBuf;

use crate::control::{Control, Workspace};
use crate::error::{OrxError, Result};

pub use tools::OrxMcp;

/// What the server tells the client about itself (`instructions` in `initialize`).
pub const INSTRUCTIONS: &str = "orx runs AI coding agents through a staged pipeline \
(plan, spec, decompose, implement, verify, review, ship, knowledge) in a git worktree of one \
repository, on a branch orx/<run_id>; runs go on in the background and survive this server. \
Workflow: 1) run_submit with a task returns a run_id at once. 2) Poll run_status (every few \
seconds) until status is succeeded, failed or interrupted; run_events with the returned \
`next` cursor shows progress in detail. 3) Read the result with run_artifact (path `patch` \
for the diff, `plan`, `spec`, `review`, or any file path run_artifact lists). 4) workspace_sync \
gives the branch, the changed files, the PR URL and the git commands to merge it. A failed or \
interrupted run can be continued with run_resume; a live one stopped with run_cancel. \
run_list shows earlier runs. A run with status awaiting_approval stopped for a person: read \
its output (run_status names the file), then run_approve (optionally with edited content) or \
run_reject with feedback.";

/// Serve the repository containing `repo` (default: the current folder) over stdio until
/// the client closes stdin. Returns the exit code.
pub fn serve(repo: Option<PathBuf>) -> Result<i32> {
    let dir = repo.unwrap_or_else(|| PathBuf::from("."));
    let workspace = Workspace::open(&dir)?;
    let control = Control::new(vec![workspace])?;
    let runtime = crate::serve::runtime()?;
    runtime.block_on(async move {
        use rmcp::ServiceExt;
        let server = OrxMcp::new(control);
        // Request lines reach the SDK through `lines::filter`, which answers oversized ones.
        let (to_sdk, from_filter) = tokio::io::duplex(256 * 1024);
        tokio::spawn(async move {
            let _ = lines::filter(tokio::io::stdin(), to_sdk).await;
        });
        let running = server
            .serve((from_filter, tokio::io::stdout()))
            .await
            .map_err(|e| {
                OrxError::internal(format!("MCP initialization failed: {e}")).with_source(e)
            })?;
        running.waiting().await.map_err(|e| {
            OrxError::internal(format!("the MCP server stopped: {e}")).with_source(e)
        })?;
        Ok::<(), OrxError>(())
    })?;
    // Detached runs and their reaper threads must not keep us alive once the client left.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    Ok(0)
}
