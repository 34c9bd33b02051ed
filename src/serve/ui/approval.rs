//! The approval panel of the run page: for a run awaiting approval, the stage's output in an
//! editable box with an Approve button, and a feedback box with a Reject button.
//!
//! Both are plain POST forms (`/runs/{id}/approve`, `/runs/{id}/reject`) handled like cancel and
//! resume, so the page works without script; the handlers call the same control actions as the
//! REST API and MCP. The output is sent back only when the person changed it, so approving an
//! untouched output never rewrites the file (a textarea turns line ends into CRLF).

use super::escape::{escape, url_part};
use crate::control::ApprovalView;

/// The panel, or nothing when the run does not await approval.
pub fn panel(run_id: &str, approval: Option<&ApprovalView>) -> String {
    let Some(a) = approval else {
        return String::new();
    };
    let id = url_part(run_id, false);
    let output = if a.editable {
        format!(
            "<textarea name=\"content\" id=\"approval-content\" rows=\"18\" spellcheck=\"false\" aria-label=\"the {stage} output\">{content}</textarea>\
<input type=\"hidden\" name=\"original\" value=\"{content}\">",
            stage = escape(a.stage.as_str()),
            content = escape(&a.content),
        )
    } else {
        format!(
            "<pre class=\"log\" id=\"approval-content\">{}</pre>",
            escape(&a.content)
        )
    };
    format!(
        "<section class=\"approval\" id=\"approval\" data-stage=\"{stage}\"><h2>Awaiting approval: {stage}</h2>\
<p>Read <code>runs/{rid}/{file}</code>{edit}. Approve to go on with it, or reject it with feedback to run {stage} again.</p>\
<form method=\"post\" action=\"/runs/{id}/approve\" class=\"approve-form\">{output}\
<div class=\"actions\"><button type=\"submit\" id=\"approve\">Approve</button></div></form>\
<form method=\"post\" action=\"/runs/{id}/reject\" class=\"reject-form\">\
<textarea name=\"feedback\" id=\"reject-feedback\" rows=\"3\" required placeholder=\"What should change\" aria-label=\"feedback\"></textarea>\
<div class=\"actions\"><button type=\"submit\" class=\"danger\" id=\"reject\">Reject with feedback</button></div></form></section>",
        stage = escape(a.stage.as_str()),
        rid = escape(run_id),
        file = escape(&a.file),
        edit = if a.editable { " and edit it here if you like" } else { "" },
    )
}

/// The edited output to send with an approval: `None` when the box holds what the file held.
pub fn edited(content: Option<String>, original: Option<String>) -> Option<String> {
    let unix = |s: String| s.replace("\r\n", "\n");
    let content = unix(content?);
    match original.map(unix) {
        Some(o) if o == content => None,
        _ => Some(content),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Stage;

    #[test]
    fn the_panel_escapes_the_output_and_only_edits_are_sent() {
        let a = ApprovalView {
            run_id: "r1".into(),
            stage: Stage::Plan,
            file: "context/plan.md".into(),
            editable: true,
            content: "<script>x</script>".into(),
        };
        let html = panel("r1", Some(&a));
        assert!(html.contains("&lt;script&gt;x&lt;/script&gt;</textarea>"));
        assert!(!html.contains("<script>"));
        assert!(html.contains("action=\"/runs/r1/approve\""));
        assert_eq!(panel("r1", None), "");
        assert_eq!(edited(Some("a\r\nb".into()), Some("a\nb".into())), None);
        assert_eq!(
            edited(Some("a\r\nc".into()), Some("a\nb".into())),
            Some("a\nc".into())
        );
        assert_eq!(edited(None, Some("a".into())), None);
    }
}
