//! The MCP tools: their inputs (JSON schemas derived with schemars), their descriptions, and
//! the mapping of each call onto the control layer.
//!
//! Every answer is a JSON object (as `structuredContent` and as its text), shaped for a model
//! to act on: `run_status` is a summary with a `next` sentence saying what to do now, not the
//! whole state file. Every failure, from the control layer or from arguments that do not fit
//! the schema, becomes a tool result with `isError: true` and one sentence plus a hint; the
//! REST-flavoured hints of the control layer are rewritten to name the MCP tools instead.

use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{tool, tool_handler, tool_router, ErrorData, RoleServer, ServerHandler};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::artifact::{self, Target, ALIASES, DEFAULT_LENGTH, MAX_LENGTH};
use crate::control::artifacts::ByteRange;
use crate::control::{Control, LaunchRequest, RunQuery};
use crate::error::{OrxError, Result};

/// `run_submit`'s input.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitInput {
    /// What to do, in plain words: a feature, a fix or a refactor of this repository.
    pub task: String,
    /// The agent CLI to drive, an executor name (claude, codex, …, or fake). Default: orx.yaml's,
    /// else the first agent CLI installed with credentials.
    #[serde(default)]
    pub engine: Option<String>,
    /// The model to ask for (passed to the agent CLI). Default: orx.yaml's.
    #[serde(default)]
    pub model: Option<String>,
    /// The branch, tag or commit to start from. Default: orx.yaml's git.base_branch.
    #[serde(default)]
    pub base_branch: Option<String>,
    /// A pipeline named in orx.yaml (e.g. full, fast-fix, plan-only). Default: full.
    #[serde(default)]
    pub pipeline: Option<String>,
    /// Stages after which the run stops for approval (any of plan, spec, decompose, review,
    /// ship): run_status then says awaiting_approval, and run_approve or run_reject goes on.
    /// Default: orx.yaml's run.approve.
    #[serde(default)]
    pub approve: Vec<String>,
    /// Backlog items worked at once, each in a git worktree of its own (1 to 16). Default:
    /// orx.yaml's run.max_parallel, else 1.
    #[serde(default)]
    pub parallel: Option<u32>,
    /// Best of N: this many agents attempt each item at once and the best passing one ships
    /// (1 to 8). Default: orx.yaml's stages.implement.candidates, else 1.
    #[serde(default)]
    pub candidates: Option<u32>,
}

/// The input of the tools that take only a run.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunInput {
    /// The run id, as run_submit or run_list returned it (e.g. 20261121-120059-a1b2c3).
    pub run_id: String,
}

/// `run_approve`'s input.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveInput {
    /// The run awaiting approval.
    pub run_id: String,
    /// The stage's output as you edited it (the whole file: plan, spec, backlog YAML or review
    /// with its verdict block); omit it to approve the output as it is.
    #[serde(default)]
    pub content: Option<String>,
}

/// `run_reject`'s input.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectInput {
    /// The run awaiting approval.
    pub run_id: String,
    /// What to change; the stage runs again with it in its prompt.
    pub feedback: String,
}

/// `run_list`'s input.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListInput {
    /// Only runs with this status: running, waiting, succeeded, failed, interrupted,
    /// budget_exceeded, awaiting_approval or partial.
    #[serde(default)]
    pub status: Option<String>,
    /// How many runs to return, newest first (1 to 500; default 20).
    #[serde(default)]
    pub limit: Option<usize>,
    /// How many of the newest runs to skip (for paging).
    #[serde(default)]
    pub offset: Option<usize>,
}

/// `run_events`' input.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventsInput {
    /// The run id.
    pub run_id: String,
    /// Return events after this cursor: 0 (default) for the first, then the `next` of the
    /// previous answer.
    #[serde(default)]
    pub since: Option<u64>,
    /// The most events to return (1 to 1000; default 100).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// `run_artifact`'s input.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArtifactInput {
    /// The run id.
    pub run_id: String,
    /// What to read: an alias (patch, plan, spec, task, backlog, review, pr_body, log) or a
    /// path relative to the run folder such as artifacts/patch.diff or context/plan.md. Omit
    /// it to list the run's files.
    #[serde(default)]
    pub path: Option<String>,
    /// The byte offset to start at (default 0); use the `next_offset` of the previous page.
    #[serde(default)]
    pub offset: Option<u64>,
    /// The most bytes to return (default 65536, at most 1048576).
    #[serde(default)]
    pub length: Option<u64>,
}

/// The MCP server: the control layer and the generated tool router.
#[derive(Debug, Clone)]
pub struct OrxMcp {
    control: Arc<Control>,
    tool_router: ToolRouter<OrxMcp>,
}

/// One sentence plus its hint, with the REST API's names replaced by this server's tools.
fn error_text(e: &OrxError) -> String {
    let mcpify = |s: &str| {
        s.replace(
            "list them with GET /api/runs/<id>/artifacts",
            "list them with run_artifact without a path",
        )
        .replace(
            "GET /api/runs/<id>/artifacts",
            "run_artifact without a path",
        )
        .replace(
            "list runs with GET /api/runs or `orx status`",
            "list runs with run_list",
        )
    };
    match &e.hint {
        Some(h) => format!("{} (hint: {})", mcpify(&e.message), mcpify(h)),
        None => mcpify(&e.message),
    }
}

fn tool_error(e: &OrxError) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(error_text(e))])
}

fn reply(r: Result<Value>) -> CallToolResult {
    match r {
        Ok(v) => CallToolResult::structured(v),
        Err(e) => tool_error(&e),
    }
}

fn to_value<T: Serialize>(v: &T) -> Result<Value> {
    serde_json::to_value(v).map_err(|e| {
        OrxError::internal(format!("cannot encode the answer as JSON: {e}")).with_source(e)
    })
}

/// The answer for a run that goes on in the background (resumed, approved, rejected).
fn going_on(l: crate::control::Launched, next: &str) -> Value {
    json!({
        "run_id": l.run_id, "status": "running", "pid": l.pid, "log": l.log, "next": next,
    })
}

/// What a model should do next, given a run's status.
fn next_step(id: &str, status: &str, last_seq: u64) -> String {
    match status {
        "running" | "waiting" => format!(
            "the run is in progress: call run_status again in a few seconds, or run_events with since={last_seq} for what happens next"
        ),
        "succeeded" => format!(
            "done: read the diff with run_artifact (run_id {id}, path \"patch\"), then workspace_sync for the branch and the commands to merge it"
        ),
        "failed" | "budget_exceeded" => format!(
            "the run stopped ({status}): read `failure`, look at its evidence with run_artifact, then run_resume to retry from the last checkpoint"
        ),
        "awaiting_approval" => format!(
            "the run waits for a person's approval of the output of `stage`: read it with run_artifact (run_id {id}, path plan, spec, backlog for decompose, review, or patch for ship), then run_approve (optionally with edited content) to go on, or run_reject with feedback to run the stage again"
        ),
        "partial" => format!(
            "done with items left out: `items` names those that failed or were blocked; the diff (run_artifact, run_id {id}, path \"patch\") holds only the items that passed; workspace_sync gives the branch; start a new run for the rest"
        ),
        "interrupted" => {
            "the run was stopped before it finished: run_resume continues it from its last checkpoint".to_string()
        }
        _ => "call run_status again in a few seconds".to_string(),
    }
}

/// A run's state, shortened for a model.
fn status_summary(d: &crate::control::RunDetail) -> Value {
    let stages: Vec<Value> = d
        .stages
        .iter()
        .map(|s| {
            json!({
                "stage": s.stage, "status": s.status, "attempts": s.attempts,
                "duration_ms": s.duration_ms, "tokens": s.tokens, "cost_usd": s.cost_usd,
            })
        })
        .collect();
    let items: Vec<Value> = d
        .items
        .iter()
        .map(|i| {
            json!({
                "id": i.get("id"), "title": i.get("title"),
                "status": i.get("status"), "attempts": i.get("attempts"),
            })
        })
        .collect();
    let failed_gates: Vec<Value> = d
        .gates
        .iter()
        .filter(|g| !g.passed)
        .map(|g| json!({"item": g.item, "gate": g.name, "exit_code": g.exit_code, "log": g.log}))
        .collect();
    let lanes: Vec<Value> = d
        .lanes
        .iter()
        .map(|l| json!({"item": l.item, "attempt": l.attempt, "phase": l.phase, "worktree": l.worktree}))
        .collect();
    json!({
        "run_id": d.run_id,
        "status": d.status,
        "live": d.live,
        "stage": d.current_stage,
        "item": d.current_item,
        "task": d.task,
        "engine": d.engine,
        "model": d.model,
        "pipeline": d.pipeline,
        "branch": d.branch,
        "base_branch": d.base_branch,
        "created_at": d.created_at,
        "updated_at": d.updated_at,
        "finished_at": d.finished_at,
        "resumes": d.resumes,
        "stages": stages,
        "items": items,
        "failed_gates": failed_gates,
        "tokens": d.tokens,
        "cost_usd": d.cost_usd,
        "failure": d.last_failure,
        "pr_url": d.pr_url,
        "last_event": d.last_seq,
        "next": next_step(&d.run_id, &d.status, d.last_seq),
        "lanes": lanes,
        "max_parallel": d.max_parallel,
        "candidates": d.candidates,
        "choices": d.choices,
    })
}

/// Read a page of `path` of run `id` (aliases resolved), or list the run's files.
fn read_artifact(c: &Control, a: &ArtifactInput) -> Result<CallToolResult> {
    let entries = c.list_artifacts(&a.run_id)?;
    let Some(path) = a.path.as_deref().filter(|p| !p.trim().is_empty()) else {
        let aliases: serde_json::Map<String, Value> = ALIASES
            .iter()
            .map(|(k, v)| (k.to_string(), Value::from(*v)))
            .collect();
        return Ok(CallToolResult::structured(
            json!({"run_id": a.run_id, "files": to_value(&entries)?, "aliases": aliases}),
        ));
    };
    let files: Vec<String> = entries.into_iter().map(|e| e.path).collect();
    let offset = a.offset.unwrap_or(0);
    let length = a.length.unwrap_or(DEFAULT_LENGTH).clamp(1, MAX_LENGTH);
    let (rel, source, total, bytes) = match artifact::target(path, &files) {
        Target::Patch => {
            let d = c.diff(&a.run_id)?;
            let all = d.diff.into_bytes();
            let total = all.len() as u64;
            let start = offset.min(total) as usize;
            let end = offset.saturating_add(length).min(total) as usize;
            let page = all.get(start..end).unwrap_or(&[]).to_vec();
            let rel = if d.source == "patch" {
                "artifacts/patch.diff".to_string()
            } else {
                "patch".to_string()
            };
            (rel, d.source, total, page)
        }
        Target::File(rel) => {
            let range = ByteRange::From {
                start: offset,
                end: Some(offset.saturating_add(length).saturating_sub(1)),
            };
            let chunk = c.read_artifact(&a.run_id, &rel, Some(range))?;
            (rel, "file".to_string(), chunk.total, chunk.bytes)
        }
    };
    if offset > total || (offset == total && total > 0) {
        return Err(OrxError::usage(format!(
            "offset {offset} is past the end of `{rel}` ({total} bytes)"
        ))
        .with_hint("start at 0, or at the next_offset of the previous page"));
    }
    let truncated = offset + (bytes.len() as u64) < total;
    let (text, kept) = artifact::text_page(&bytes, truncated);
    let end = offset + kept as u64;
    let more = end < total;
    let meta = json!({
        "run_id": a.run_id, "path": rel, "source": source, "total_bytes": total,
        "offset": offset, "end": end, "partial": more || offset > 0,
        "next_offset": if more { Some(end) } else { None },
    });
    let mut r = CallToolResult::success(vec![
        ContentBlock::text(text),
        ContentBlock::text(meta.to_string()),
    ]);
    r.structured_content = Some(meta);
    Ok(r)
}

#[tool_router(router = tool_router)]
impl OrxMcp {
    pub fn new(control: Control) -> OrxMcp {
        OrxMcp {
            control: Arc::new(control),
            tool_router: Self::tool_router(),
        }
    }

    /// Run `f` on the blocking pool with the control layer.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Control) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let c = Arc::clone(&self.control);
        tokio::task::spawn_blocking(move || f(&c))
            .await
            .map_err(|e| {
                OrxError::internal(format!("a tool call panicked or was cancelled: {e}"))
            })?
    }

    #[tool(
        description = "Start a new orx run on this repository and return its run_id at once; the run goes on in the background (plan, spec, decompose, implement, verify, review, ship, knowledge) in its own git worktree and branch orx/<run_id>. Then poll run_status until it finishes."
    )]
    async fn run_submit(&self, Parameters(input): Parameters<SubmitInput>) -> CallToolResult {
        let req = LaunchRequest {
            task: input.task,
            engine: input.engine,
            model: input.model,
            base_branch: input.base_branch,
            pipeline: input.pipeline,
            repo: None,
            approve: input.approve,
            parallel: input.parallel,
            candidates: input.candidates,
        };
        reply(
            self.blocking(move |c| {
                let l = c.launch(&req)?;
                Ok(json!({
                    "run_id": l.run_id,
                    "status": "running",
                    "pid": l.pid,
                    "log": l.log,
                    "next": format!("poll run_status with run_id {} every few seconds until its status is succeeded, failed or interrupted", l.run_id),
                }))
            })
            .await,
        )
    }

    #[tool(
        description = "A run's state: status (running, waiting, succeeded, failed, interrupted, budget_exceeded, awaiting_approval, partial: shipped without the items that failed), current stage and item, every stage with status, attempts, duration, tokens and cost, the backlog items, failed gates, the failure if any, the open parallel lanes (item, attempt, phase, worktree) and max_parallel, the best-of-N candidates (item, n, executor, attempt, phase, passed, chosen) and the choices made (item, n, how, reason), and `next`: what to do now."
    )]
    async fn run_status(&self, Parameters(input): Parameters<RunInput>) -> CallToolResult {
        reply(
            self.blocking(move |c| Ok(status_summary(&c.detail(&input.run_id)?)))
                .await,
        )
    }

    #[tool(
        description = "List runs of this repository, newest first, with their status, stage, task, engine and branch; filter by status and page with limit and offset. `total` counts every match."
    )]
    async fn run_list(&self, Parameters(input): Parameters<ListInput>) -> CallToolResult {
        reply(
            self.blocking(move |c| {
                let page = c.list_runs(&RunQuery {
                    status: input.status,
                    offset: input.offset,
                    limit: Some(input.limit.unwrap_or(20)),
                    ..RunQuery::default()
                })?;
                let runs: Vec<Value> = page
                    .runs
                    .iter()
                    .map(|r| {
                        json!({
                            "run_id": r.meta.run_id, "status": r.meta.status,
                            "stage": r.meta.stage, "item": r.meta.item, "task": r.meta.task,
                            "engine": r.meta.engine, "pipeline": r.meta.pipeline,
                            "branch": r.meta.branch, "created_at": r.meta.created_at,
                            "finished_at": r.meta.finished_at,
                        })
                    })
                    .collect();
                Ok(json!({
                    "runs": runs, "total": page.total, "offset": page.offset, "limit": page.limit,
                }))
            })
            .await,
        )
    }

    #[tool(
        description = "A run's events (stage started/finished, agent calls, gate results, review verdicts, failures) after a cursor, oldest first. Pass since=0 first, then the returned `next`; `finished` is true when no process drives the run any more."
    )]
    async fn run_events(&self, Parameters(input): Parameters<EventsInput>) -> CallToolResult {
        reply(
            self.blocking(move |c| {
                let page = c.events(
                    &input.run_id,
                    input.since.unwrap_or(0),
                    input.limit.unwrap_or(100),
                )?;
                to_value(&page)
            })
            .await,
        )
    }

    #[tool(
        description = "Read a file of a run as text, or list its files when `path` is omitted. Aliases: patch (the diff), plan, spec, task, backlog, review (the latest), pr_body, log; or a path relative to the run folder such as artifacts/patch.diff, context/plan.md, logs/gates/... Large files come in pages: pass `offset` = the returned next_offset."
    )]
    async fn run_artifact(&self, Parameters(input): Parameters<ArtifactInput>) -> CallToolResult {
        match self.blocking(move |c| read_artifact(c, &input)).await {
            Ok(r) => r,
            Err(e) => tool_error(&e),
        }
    }

    #[tool(
        description = "Stop a live run: its process gets SIGINT, records status interrupted at a checkpoint, and can be continued later with run_resume."
    )]
    async fn run_cancel(&self, Parameters(input): Parameters<RunInput>) -> CallToolResult {
        reply(
            self.blocking(move |c| {
                let r = c.cancel(&input.run_id)?;
                Ok(json!({
                    "run_id": r.run_id, "pid": r.pid, "signal": r.signal,
                    "next": "poll run_status: it shows interrupted once the run has stopped",
                }))
            })
            .await,
        )
    }

    #[tool(
        description = "Continue a failed, interrupted or budget_exceeded run from its last checkpoint, in the background; refused while the run is live or once it finished (succeeded or partial). Then poll run_status."
    )]
    async fn run_resume(&self, Parameters(input): Parameters<RunInput>) -> CallToolResult {
        reply(
            self.blocking(move |c| {
                let l = c.resume(&input.run_id)?;
                Ok(going_on(l, "poll run_status until it finishes"))
            })
            .await,
        )
    }

    #[tool(
        description = "Approve the stage a run stopped after (status awaiting_approval) and let it go on in the background. Pass `content` to replace the stage's output first (the whole plan.md, spec.md, backlog YAML or review reply); it is validated as the agent's answer is, and refused with the reason when invalid. Then poll run_status."
    )]
    async fn run_approve(&self, Parameters(input): Parameters<ApproveInput>) -> CallToolResult {
        reply(
            self.blocking(move |c| {
                let l = c.approve(&input.run_id, input.content.as_deref())?;
                Ok(going_on(
                    l,
                    "poll run_status until it finishes or awaits approval again",
                ))
            })
            .await,
        )
    }

    #[tool(
        description = "Reject the stage a run stopped after (status awaiting_approval): it runs again in the background with your feedback in its prompt, then stops for approval again. Then poll run_status."
    )]
    async fn run_reject(&self, Parameters(input): Parameters<RejectInput>) -> CallToolResult {
        reply(
            self.blocking(move |c| {
                let l = c.reject(&input.run_id, &input.feedback)?;
                Ok(going_on(
                    l,
                    "poll run_status until it awaits approval again",
                ))
            })
            .await,
        )
    }

    #[tool(
        description = "What a run changed and how to get it: its branch and head commit, commits ahead of the base, the files changed, the pull request URL when one was opened, the worktree folder, and the git commands to review, merge or check out the branch."
    )]
    async fn workspace_sync(&self, Parameters(input): Parameters<RunInput>) -> CallToolResult {
        reply(
            self.blocking(move |c| to_value(&c.sync(&input.run_id)?))
                .await,
        )
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for OrxMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(
                Implementation::new("orx", env!("CARGO_PKG_VERSION")).with_title("orx"),
            )
            .with_instructions(super::INSTRUCTIONS)
    }

    /// Only the stand-in for an oversized request line ([`super::lines`]) is a custom
    /// request: it is answered with an error naming the limit.
    async fn on_custom_request(
        &self,
        request: rmcp::model::CustomRequest,
        _context: RequestContext<RoleServer>,
    ) -> std::result::Result<rmcp::model::CustomResult, ErrorData> {
        if request.method == super::lines::OVERSIZED_METHOD {
            let bytes = request
                .params
                .as_ref()
                .and_then(|p| p.get("bytes"))
                .and_then(Value::as_u64)
                .unwrap_or(0);
            return Err(ErrorData::invalid_request(
                format!(
                    "the request line is {bytes} bytes, over orx mcp's limit of 16 MiB (hint: send smaller arguments; read large files in pages with run_artifact's offset)"
                ),
                None,
            ));
        }
        Err(ErrorData::new(
            rmcp::model::ErrorCode::METHOD_NOT_FOUND,
            request.method,
            None,
        ))
    }

    /// The router, with arguments that do not fit a tool's schema (missing, wrong type,
    /// unknown field) and unknown tools answered as tool errors the model can correct.
    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> std::result::Result<CallToolResponse, ErrorData> {
        let name = request.name.to_string();
        let tcc = ToolCallContext::new(self, request, context);
        match self.tool_router.call(tcc).await {
            Err(e) if e.code == rmcp::model::ErrorCode::INVALID_PARAMS => {
                let known = self.tool_router.get(&name).is_some();
                let text = if known {
                    format!("the arguments of {name} do not fit its input schema: {} (hint: see the tool's inputSchema)", e.message)
                } else {
                    format!("there is no tool named `{name}` (hint: the tools are run_submit, run_status, run_list, run_events, run_artifact, run_cancel, run_resume, workspace_sync, run_approve and run_reject)")
                };
                Ok(CallToolResult::error(vec![ContentBlock::text(text)]).into())
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_has_a_description_and_an_object_schema() {
        let dir = tempfile::tempdir().unwrap();
        let c = Control::new(vec![crate::control::Workspace {
            name: "w".into(),
            root: dir.path().to_path_buf(),
        }])
        .unwrap();
        let server = OrxMcp::new(c);
        let tools = server.tool_router.list_all();
        let mut names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
        names.sort();
        assert_eq!(
            names,
            [
                "run_approve",
                "run_artifact",
                "run_cancel",
                "run_events",
                "run_list",
                "run_reject",
                "run_resume",
                "run_status",
                "run_submit",
                "workspace_sync"
            ]
        );
        for t in &tools {
            assert!(
                t.description.as_ref().is_some_and(|d| d.len() > 40),
                "{}",
                t.name
            );
            assert_eq!(
                t.input_schema.get("type"),
                Some(&json!("object")),
                "{}",
                t.name
            );
        }
        let submit = tools.iter().find(|t| t.name == "run_submit").unwrap();
        let schema = serde_json::to_string(&submit.input_schema).unwrap();
        assert!(
            schema.contains("\"task\"") && schema.contains("base_branch"),
            "{schema}"
        );
    }

    #[test]
    fn errors_name_the_mcp_tools() {
        let e = OrxError::not_found("unknown run id `x`")
            .with_hint("list runs with GET /api/runs or `orx status`");
        assert_eq!(
            error_text(&e),
            "unknown run id `x` (hint: list runs with run_list)"
        );
        assert!(next_step("r", "succeeded", 3).contains("\"patch\""));
        assert!(next_step("r", "running", 3).contains("since=3"));
    }
}
