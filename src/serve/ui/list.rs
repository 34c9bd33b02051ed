//! The home page `/`: the start form, the filter form and one page of runs.
//!
//! The run table is a fragment (`/ui/runs?<filters>`) that re-fetches itself every 5 seconds
//! with htmx and replaces itself whole (`outerHTML`), carrying its own filters in its `hx-get`,
//! so polling, filtering and paging never disagree. It renders only the page of rows the control
//! layer's paginated listing returned, so 10,000 runs on disk cost one directory scan (cached
//! metas) and 50 rows of HTML. Without JavaScript the forms still work as plain GET/POST forms.

use std::fmt::Write;

use super::escape::{escape, url_part};
use super::layout::{badge, when};
use crate::control::launch::ENGINES;
use crate::control::{RunPage, RunQuery};

/// The statuses a run can have, for the filter.
pub const STATUSES: [&str; 8] = [
    "running",
    "waiting",
    "succeeded",
    "failed",
    "interrupted",
    "budget_exceeded",
    "awaiting_approval",
    "partial",
];

/// What the start form was filled with (kept when the start failed, so nothing is lost).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct StartForm {
    #[serde(default)]
    pub task: String,
    #[serde(default)]
    pub engine: String,
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub base_branch: String,
    #[serde(default)]
    pub repo: String,
    /// Backlog items worked at once; empty for orx.yaml's.
    #[serde(default)]
    pub parallel: String,
    /// Candidates racing on each item; empty for orx.yaml's.
    #[serde(default)]
    pub candidates: String,
    /// One checkbox per stage a run can stop after (a form sends each checked box by name).
    #[serde(default)]
    pub approve_plan: Option<String>,
    #[serde(default)]
    pub approve_spec: Option<String>,
    #[serde(default)]
    pub approve_decompose: Option<String>,
    #[serde(default)]
    pub approve_review: Option<String>,
    #[serde(default)]
    pub approve_ship: Option<String>,
}

impl StartForm {
    /// The stages whose box is checked, in pipeline order.
    pub fn approve(&self) -> Vec<String> {
        self.approve_boxes()
            .into_iter()
            .filter(|(_, on)| *on)
            .map(|(stage, _)| stage.to_string())
            .collect()
    }

    fn approve_boxes(&self) -> [(&'static str, bool); 5] {
        [
            ("plan", self.approve_plan.is_some()),
            ("spec", self.approve_spec.is_some()),
            ("decompose", self.approve_decompose.is_some()),
            ("review", self.approve_review.is_some()),
            ("ship", self.approve_ship.is_some()),
        ]
    }
}

/// `status=…&q=…` of a query (offset and limit too when given), URL-encoded.
pub fn query_string(q: &RunQuery, offset: Option<usize>) -> String {
    let mut parts = Vec::new();
    for (k, v) in [
        ("status", &q.status),
        ("engine", &q.engine),
        ("q", &q.q),
        ("repo", &q.repo),
    ] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            parts.push(format!("{k}={}", url_part(v, false)));
        }
    }
    if let Some(o) = offset.filter(|o| *o > 0) {
        parts.push(format!("offset={o}"));
    }
    if let Some(l) = q.limit {
        parts.push(format!("limit={l}"));
    }
    parts.join("&")
}

fn option(value: &str, label: &str, selected: bool) -> String {
    format!(
        "<option value=\"{}\"{}>{}</option>",
        escape(value),
        if selected { " selected" } else { "" },
        escape(label)
    )
}

/// The start form (POST /ui/runs).
pub fn start_form(form: &StartForm, repos: &[String]) -> String {
    let mut engines = option("", "from orx.yaml, else detected", form.engine.is_empty());
    for e in ENGINES {
        engines.push_str(&option(e, e, form.engine == e));
    }
    let boxes: String = form
        .approve_boxes()
        .iter()
        .map(|(stage, on)| {
            format!(
                "<label><input type=\"checkbox\" name=\"approve_{stage}\"{}> {stage}</label>",
                if *on { " checked" } else { "" }
            )
        })
        .collect();
    let repo_field = if repos.len() > 1 {
        let opts: String = repos
            .iter()
            .map(|r| option(r, r, &form.repo == r))
            .collect();
        format!("<label>Repository <select name=\"repo\">{opts}</select></label>")
    } else {
        String::new()
    };
    format!(
        "<section class=\"card\" id=\"start\"><h2>Start a run</h2>\
<form method=\"post\" action=\"/ui/runs\" class=\"start\">\
<label class=\"wide\">Task <textarea name=\"task\" rows=\"2\" required placeholder=\"Add a --json flag to status\">{task}</textarea></label>\
<label>Engine <select name=\"engine\">{engines}</select></label>\
<label>Model <input name=\"model\" value=\"{model}\" placeholder=\"default\"></label>\
<label>Base branch <input name=\"base_branch\" value=\"{base}\" placeholder=\"from orx.yaml\"></label>\
<label>Parallel <input name=\"parallel\" type=\"number\" min=\"1\" max=\"{max}\" value=\"{parallel}\" placeholder=\"from orx.yaml\"></label>\
<label>Candidates <input name=\"candidates\" type=\"number\" min=\"1\" max=\"{max_candidates}\" value=\"{candidates}\" placeholder=\"from orx.yaml\"></label>\
<fieldset class=\"wide approve\"><legend>Stop for my approval after</legend>{boxes}</fieldset>\
{repo_field}<button type=\"submit\">Start</button></form></section>",
        task = escape(&form.task),
        model = escape(&form.model),
        base = escape(&form.base_branch),
        max = crate::config::MAX_PARALLEL,
        parallel = escape(&form.parallel),
        max_candidates = crate::config::MAX_CANDIDATES,
        candidates = escape(&form.candidates),
    )
}

/// The filter form: plain GET `/` without JavaScript, live with htmx.
pub fn filter_form(q: &RunQuery) -> String {
    let status = q.status.as_deref().unwrap_or("");
    let mut opts = option("", "any status", status.is_empty());
    for s in STATUSES {
        opts.push_str(&option(s, s, status == s));
    }
    format!(
        "<form method=\"get\" action=\"/\" class=\"filters\" hx-get=\"/ui/runs\" hx-target=\"#runs\" \
hx-swap=\"outerHTML\" hx-trigger=\"input delay:300ms, change, submit\">\
<input type=\"search\" name=\"q\" value=\"{q}\" placeholder=\"Filter by id, task, branch, engine\" aria-label=\"filter\">\
<select name=\"status\" aria-label=\"status\">{opts}</select><button type=\"submit\">Filter</button></form>",
        q = escape(q.q.as_deref().unwrap_or("")),
    )
}

fn shorten(s: &str, max: usize) -> String {
    let line = s.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    if line.chars().count() > max || s.trim().lines().count() > 1 {
        let cut: String = line.chars().take(max).collect();
        format!("{cut}…")
    } else {
        line.to_string()
    }
}

/// The run table fragment, polling itself.
pub fn runs_fragment(page: &RunPage, q: &RunQuery) -> String {
    let qs = query_string(q, Some(page.offset));
    let mut rows = String::new();
    for r in &page.runs {
        let m = &r.meta;
        let stage = match (&m.stage, &m.item) {
            (Some(s), Some(i)) => format!("{s} · {i}"),
            (Some(s), None) => s.clone(),
            _ => String::new(),
        };
        let _ = write!(
            rows,
            "<tr id=\"run-{id}\"><td><a href=\"/runs/{uid}\">{id}</a></td><td>{status}</td>\
<td>{stage}</td><td class=\"task\" title=\"{task}\">{short}</td><td>{engine}</td><td>{repo}</td>\
<td>{created}</td></tr>",
            id = escape(&m.run_id),
            uid = url_part(&m.run_id, false),
            status = badge(&m.status),
            stage = escape(&stage),
            task = escape(&m.task),
            short = escape(&shorten(&m.task, 100)),
            engine = escape(&m.engine),
            repo = escape(&r.repo),
            created = when(&m.created_at),
        );
    }
    if page.runs.is_empty() {
        rows.push_str("<tr><td colspan=\"7\" class=\"empty\">No runs match.</td></tr>");
    }
    let first = if page.total == 0 { 0 } else { page.offset + 1 };
    let last = page.offset + page.runs.len();
    let mut nav = String::new();
    if page.offset > 0 {
        let prev = page.offset.saturating_sub(page.limit);
        let _ = write!(
            nav,
            "<a href=\"/?{}\" rel=\"prev\">‹ newer</a> ",
            escape(&query_string(q, Some(prev)))
        );
    }
    if last < page.total {
        let _ = write!(
            nav,
            "<a href=\"/?{}\" rel=\"next\">older ›</a>",
            escape(&query_string(q, Some(last)))
        );
    }
    format!(
        "<section id=\"runs\" class=\"card\" hx-get=\"/ui/runs?{qs}\" hx-trigger=\"every 5s\" hx-swap=\"outerHTML\">\
<div class=\"pager\"><span class=\"count\" data-total=\"{total}\">{first}–{last} of {total} runs</span> {nav}</div>\
<table class=\"runs\"><thead><tr><th>Run</th><th>Status</th><th>Stage</th><th>Task</th><th>Engine</th>\
<th>Repo</th><th>Created</th></tr></thead><tbody>{rows}</tbody></table></section>",
        qs = escape(&qs),
        total = page.total,
    )
}

/// The whole home page body.
pub fn body(page: &RunPage, q: &RunQuery, form: &StartForm, repos: &[String]) -> String {
    format!(
        "{}<section class=\"listing\"><h2>Runs</h2>{}{}</section>",
        start_form(form, repos),
        filter_form(q),
        runs_fragment(page, q)
    )
}
