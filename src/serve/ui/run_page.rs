//! The run page `/runs/{id}`: the task and the run's facts, the actions (cancel, resume, and
//! approve or reject at an approval checkpoint), the
//! live part (status, stage timeline, the open parallel lanes, backlog items, gate results with
//! links to their logs, the last failure) and the agent log tail.
//!
//! The live part is a fragment (`/ui/runs/{id}/live`) that replaces itself (`outerHTML`). While
//! a process drives the run it carries `hx-trigger="every 1s, orx-event from:body"` — polled,
//! and refreshed at once when the log tail's EventSource sees a new event — and once the run
//! stopped it is rendered without a trigger, so a finished run page stops polling by itself.
//! The log tail is filled by `app.js` from the API's SSE stream
//! (`/api/runs/{id}/events/stream`), so the page and the API show the same event stream.

use std::fmt::Write;

use super::artifacts::file_link;
use super::escape::{escape, url_part};
use super::layout::{badge, cost, count, duration, when};
use crate::control::{ApprovalView, RunDetail};

fn str_of<'a>(v: &'a serde_json::Value, key: &str) -> &'a str {
    v.get(key).and_then(|x| x.as_str()).unwrap_or("")
}

/// The stage timeline table.
fn timeline(d: &RunDetail) -> String {
    let mut rows = String::new();
    for s in &d.stages {
        // state.json keeps `running` for the stage a dead or cancelled process was in.
        let status = if !d.live && s.status == "running" {
            "interrupted"
        } else {
            s.status.as_str()
        };
        let _ = write!(
            rows,
            "<tr class=\"stage{cur}\" data-stage=\"{name}\" data-status=\"{st}\"><td>{name}</td><td>{badge}</td>\
<td>{dur}</td><td>{att}</td><td>{tok}</td><td>{cost}</td><td>{start}</td></tr>",
            cur = if s.current { " current" } else { "" },
            name = escape(&s.stage),
            st = escape(status),
            badge = badge(status),
            dur = if s.duration_ms > 0 || s.finished_at.is_some() {
                duration(s.duration_ms)
            } else {
                String::new()
            },
            att = s.attempts,
            tok = count(s.tokens),
            cost = cost(s.cost_usd),
            start = s.started_at.as_deref().map(when).unwrap_or_default(),
        );
    }
    format!(
        "<table class=\"timeline\" id=\"timeline\"><thead><tr><th>Stage</th><th>Status</th><th>Duration</th>\
<th>Attempts</th><th>Tokens</th><th>Cost</th><th>Started</th></tr></thead><tbody>{rows}</tbody></table>"
    )
}

/// The open parallel lanes, one row each; nothing when the run has none open.
fn lanes(d: &RunDetail) -> String {
    if d.lanes.is_empty() {
        return String::new();
    }
    let mut rows = String::new();
    for l in &d.lanes {
        let _ = write!(
            rows,
            "<tr data-lane=\"{item}\"><td>{item}</td><td>{att}</td><td>{phase}</td></tr>",
            item = escape(&l.item),
            att = l.attempt,
            phase = escape(&l.phase),
        );
    }
    format!(
        "<h2>Lanes <small>({open} open, at most {max})</small></h2><table class=\"lanes\" id=\"lanes\"><thead>\
<tr><th>Item</th><th>Attempt</th><th>Phase</th></tr></thead><tbody>{rows}</tbody></table>",
        open = d.lanes.len(),
        max = d.max_parallel,
    )
}

/// Best-of-N: every candidate, one row each, then the choice made for each item and why;
/// nothing when the run has none.
fn candidates(d: &RunDetail) -> String {
    if d.candidates.is_empty() {
        return String::new();
    }
    let mut rows = String::new();
    for c in &d.candidates {
        let passed = match c.passed {
            Some(true) => "yes",
            Some(false) => "no",
            None => "…",
        };
        let _ = write!(
            rows,
            "<tr data-candidate=\"{item}+c{n}\"{chosen}><td>{item}</td><td>{n}</td><td>{ex}</td><td>{att}</td><td>{phase}</td><td>{passed}</td></tr>",
            item = escape(&c.item),
            n = c.n,
            chosen = if c.chosen { " class=\"chosen\"" } else { "" },
            ex = escape(&c.executor),
            att = c.attempt,
            phase = escape(&c.phase),
        );
    }
    let mut choices = String::new();
    for ch in &d.choices {
        let _ = write!(
            choices,
            "<li data-choice=\"{item}\">{item}: candidate {n} chosen ({how}): {reason}</li>",
            item = escape(&ch.item),
            n = ch.n,
            how = ch.how,
            reason = escape(&ch.reason),
        );
    }
    format!(
        "<h2>Candidates</h2><table class=\"candidates\" id=\"candidates\"><thead>\
<tr><th>Item</th><th>#</th><th>Executor</th><th>Attempt</th><th>Phase</th><th>Passed</th></tr></thead><tbody>{rows}</tbody></table><ul class=\"choices\">{choices}</ul>"
    )
}

/// The backlog items.
fn items(d: &RunDetail) -> String {
    if d.items.is_empty() {
        return "<p class=\"empty\">No backlog yet.</p>".to_string();
    }
    let mut rows = String::new();
    for i in &d.items {
        let deps: Vec<&str> = i
            .get("depends_on")
            .and_then(|x| x.as_array())
            .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
            .unwrap_or_default();
        let _ = write!(
            rows,
            "<tr data-item=\"{id}\"><td>{id}</td><td>{title}</td><td>{status}</td><td>{att}</td><td>{deps}</td></tr>",
            id = escape(str_of(i, "id")),
            title = escape(str_of(i, "title")),
            status = badge(str_of(i, "status")),
            att = i.get("attempts").and_then(|x| x.as_u64()).unwrap_or(0),
            deps = escape(&deps.join(", ")),
        );
    }
    format!(
        "<table class=\"items\"><thead><tr><th>Item</th><th>Title</th><th>Status</th><th>Attempts</th>\
<th>Depends on</th></tr></thead><tbody>{rows}</tbody></table>"
    )
}

/// The gate results, each with a link to its log.
fn gates(d: &RunDetail) -> String {
    if d.gates.is_empty() {
        return "<p class=\"empty\">No gate has run yet.</p>".to_string();
    }
    let mut rows = String::new();
    for g in &d.gates {
        let log = if g.log.is_empty() {
            String::new()
        } else {
            format!(
                "<a class=\"gate-log\" href=\"{}\">log</a>",
                escape(&file_link(&d.run_id, &g.log))
            )
        };
        let _ = write!(
            rows,
            "<tr data-gate=\"{name}\"><td>{item}</td><td>{name}{req}</td><td>{res}</td><td>{code}</td><td>{dur}</td>\
<td>{log}</td></tr>",
            item = escape(&g.item),
            name = escape(&g.name),
            req = if g.required { "" } else { " <small>(optional)</small>" },
            res = badge(if g.passed { "passed" } else { "failed" }),
            code = g.exit_code.map(|c| c.to_string()).unwrap_or_default(),
            dur = duration(g.duration_ms),
        );
    }
    format!(
        "<table class=\"gates\"><thead><tr><th>Item</th><th>Gate</th><th>Result</th><th>Exit</th>\
<th>Duration</th><th>Log</th></tr></thead><tbody>{rows}</tbody></table>"
    )
}

/// The part of the page that changes while the run goes on.
pub fn live_fragment(d: &RunDetail, approval: Option<&ApprovalView>) -> String {
    let id = url_part(&d.run_id, false);
    let polling = if d.live || matches!(d.status.as_str(), "running" | "waiting") {
        format!(
            " hx-get=\"/ui/runs/{id}/live\" hx-trigger=\"every 1s, orx-event from:body\" hx-swap=\"outerHTML\""
        )
    } else {
        String::new()
    };
    let now = match (&d.current_stage, &d.current_item) {
        (Some(s), Some(i)) => format!("{s} · {i}"),
        (Some(s), None) => s.clone(),
        _ => String::new(),
    };
    let total_ms: u64 = d.stages.iter().map(|s| s.duration_ms).sum();
    let failure = d
        .last_failure
        .as_ref()
        .map(|f| {
            let what = f
                .get("message")
                .or_else(|| f.get("detail"))
                .and_then(|m| m.as_str())
                .map(String::from)
                .unwrap_or_else(|| f.to_string());
            format!(
                "<div class=\"failure\"><strong>Last failure:</strong> {}</div>",
                escape(&what)
            )
        })
        .unwrap_or_default();
    let actions = actions(d);
    let approval = super::approval::panel(&d.run_id, approval);
    format!(
        "<div id=\"live\" data-status=\"{status}\" data-live=\"{live}\"{polling}>\
<div class=\"facts\"><span>{badge}</span> <span class=\"now\">{now}</span>\
<span>tokens {tokens}</span> <span>cost {cost}</span> <span>time {time}</span> <span>resumes {resumes}</span></div>\
{actions}{approval}{failure}<h2>Stages</h2>{timeline}{lanes}{candidates}<h2>Backlog</h2>{items}<h2>Gates</h2>{gates}</div>",
        status = escape(&d.status),
        live = d.live,
        badge = badge(&d.status),
        now = escape(&now),
        tokens = count(d.tokens),
        cost = cost(d.cost_usd),
        time = duration(total_ms),
        resumes = d.resumes,
        timeline = timeline(d),
        lanes = lanes(d),
        candidates = candidates(d),
        items = items(d),
        gates = gates(d),
    )
}

/// What a person can do to the run now, as plain POST forms.
///
/// Cancel only while the driver is working (`running`, `waiting`). A driver can hold the run
/// under another status for a moment: it writes its final status before it releases the
/// worktree and the lock, and an approve or reject holds the lock before it writes `running`.
/// Cancelling then would do nothing and resuming would be refused, so the page offers nothing
/// and says a process holds the run until the lock is free. Resume once no process drives the
/// run and it can go on.
fn actions(d: &RunDetail) -> String {
    actions_for(&d.run_id, &d.status, d.live)
}

fn actions_for(run_id: &str, status: &str, live: bool) -> String {
    let id = url_part(run_id, false);
    let working = matches!(status, "running" | "waiting");
    let resumable = !matches!(status, "succeeded" | "awaiting_approval" | "partial");
    let mut out = String::from("<div class=\"actions\">");
    if live && working {
        let _ = write!(
            out,
            "<form method=\"post\" action=\"/runs/{id}/cancel\"><button class=\"danger\" type=\"submit\" id=\"cancel\">Cancel run</button></form>"
        );
    } else if live {
        out.push_str("<span class=\"note\" id=\"held\">a process still holds this run…</span>");
    } else if resumable {
        let _ = write!(
            out,
            "<form method=\"post\" action=\"/runs/{id}/resume\"><button type=\"submit\" id=\"resume\">Resume run</button></form>"
        );
    }
    out.push_str("</div>");
    out
}

/// The whole run page body.
pub fn body(d: &RunDetail, approval: Option<&ApprovalView>) -> String {
    let id = url_part(&d.run_id, false);
    let pr = d
        .pr_url
        .as_deref()
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        .map(|u| format!("<dt>PR</dt><dd><a href=\"{u}\">{u}</a></dd>", u = escape(u)))
        .unwrap_or_default();
    format!(
        "<h1>Run <code>{rid}</code></h1><pre class=\"task\">{task}</pre>\
<nav class=\"tabs\"><a href=\"/runs/{id}\" class=\"on\">Overview</a> <a href=\"/runs/{id}/diff\" id=\"diff-link\">Diff</a> \
<a href=\"/runs/{id}/files\" id=\"files-link\">Files</a> <a href=\"/api/runs/{id}\">JSON</a></nav>\
<dl class=\"meta\"><dt>Repository</dt><dd>{repo}</dd><dt>Engine</dt><dd>{engine}</dd><dt>Model</dt><dd>{model}</dd>\
<dt>Pipeline</dt><dd>{pipeline}</dd><dt>Branch</dt><dd><code>{branch}</code> from <code>{base}</code></dd>\
<dt>Created</dt><dd>{created}</dd><dt>Finished</dt><dd>{finished}</dd>{pr}</dl>\
{live}\
<section class=\"tail\" id=\"tail\" data-run=\"{rid}\"><h2>Agent log</h2>\
<div class=\"tail-bar\"><input type=\"search\" id=\"tail-search\" placeholder=\"Search the log\" aria-label=\"search the log\">\
<span id=\"tail-count\"></span> <span id=\"tail-state\">connecting…</span></div>\
<pre id=\"tail-log\" class=\"log\"></pre></section>",
        rid = escape(&d.run_id),
        task = escape(&d.task),
        repo = escape(&d.repo),
        engine = escape(&d.engine),
        model = escape(d.model.as_deref().unwrap_or("default")),
        pipeline = escape(&d.pipeline),
        branch = escape(&d.branch),
        base = escape(&d.base_branch),
        created = when(&d.created_at),
        finished = d.finished_at.as_deref().map(when).unwrap_or_else(|| "—".into()),
        live = live_fragment(d, approval),
    )
}

/// A sub-page of a run (diff, files): the run header and tabs around `inner`.
pub fn sub_page(d: &RunDetail, tab: &str, inner: &str) -> String {
    let id = url_part(&d.run_id, false);
    let on = |t: &str| if t == tab { " class=\"on\"" } else { "" };
    format!(
        "<h1>Run <code><a href=\"/runs/{id}\">{rid}</a></code> {badge}</h1>\
<nav class=\"tabs\"><a href=\"/runs/{id}\"{o}>Overview</a> <a href=\"/runs/{id}/diff\"{df}>Diff</a> \
<a href=\"/runs/{id}/files\"{fi}>Files</a> <a href=\"/api/runs/{id}\">JSON</a></nav>{inner}",
        rid = escape(&d.run_id),
        badge = badge(&d.status),
        o = on("overview"),
        df = on("diff"),
        fi = on("files"),
    )
}

#[cfg(test)]
mod tests {
    use super::actions_for;

    #[test]
    fn a_working_run_offers_cancel_and_a_stopped_one_resume() {
        let running = actions_for("r1", "running", true);
        assert!(running.contains("id=\"cancel\"") && !running.contains("id=\"resume\""));
        let waiting = actions_for("r1", "waiting", true);
        assert!(waiting.contains("id=\"cancel\""));
        for status in ["interrupted", "failed", "budget_exceeded"] {
            let stopped = actions_for("r1", status, false);
            assert!(stopped.contains("id=\"resume\""), "{status}: {stopped}");
            assert!(!stopped.contains("id=\"cancel\""), "{status}: {stopped}");
        }
        for status in ["succeeded", "partial", "awaiting_approval"] {
            let done = actions_for("r1", status, false);
            assert!(!done.contains("<button"), "{status}: {done}");
        }
    }

    #[test]
    fn a_run_held_by_a_driver_outside_running_offers_neither_cancel_nor_resume() {
        for status in [
            "succeeded",
            "interrupted",
            "failed",
            "budget_exceeded",
            "partial",
            "awaiting_approval",
        ] {
            let held = actions_for("r1", status, true);
            assert!(!held.contains("<button"), "{status}: {held}");
            assert!(held.contains("id=\"held\""), "{status}: {held}");
        }
    }
}
