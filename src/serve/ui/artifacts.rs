//! The artifact explorer: a run folder's files grouped by kind (context, prompts, artifacts,
//! logs, metrics and the run's own files), and a viewer that shows one file a chunk at a time.
//!
//! The viewer reads through [`crate::control::Control::read_artifact`] with a byte range of at
//! most [`CHUNK`] bytes (the same path-safety checks as the API), so a 1 GiB log is paged, never
//! loaded; logs open at their tail, other files at their start. Diffs are shown highlighted,
//! everything else as escaped text. The raw file is one link away in the API.

use std::fmt::Write;

use super::escape::{escape, url_part};
use crate::control::ArtifactChunk;
use crate::control::ArtifactEntry;

/// Bytes shown per page of a file.
pub const CHUNK: u64 = 64 * 1024;

/// The order kinds are listed in.
const KINDS: [&str; 6] = ["context", "prompts", "artifacts", "logs", "metrics", "run"];

fn size(n: u64) -> String {
    if n < 1024 {
        format!("{n} B")
    } else if n < 1024 * 1024 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{:.1} MiB", n as f64 / (1024.0 * 1024.0))
    }
}

/// The link to view `path` of run `id`.
pub fn file_link(id: &str, path: &str) -> String {
    format!(
        "/runs/{}/files/{}",
        url_part(id, false),
        url_part(path, true)
    )
}

/// The explorer: files grouped by kind.
pub fn listing(id: &str, files: &[ArtifactEntry]) -> String {
    let mut out = String::from("<div class=\"explorer\">");
    let mut kinds: Vec<&str> = KINDS.to_vec();
    for f in files {
        if !kinds.contains(&f.kind.as_str()) {
            kinds.push(&f.kind);
        }
    }
    for kind in kinds {
        let of_kind: Vec<&ArtifactEntry> = files.iter().filter(|f| f.kind == kind).collect();
        if of_kind.is_empty() {
            continue;
        }
        let _ = write!(
            out,
            "<section class=\"kind\" data-kind=\"{k}\"><h3>{k}</h3><ul>",
            k = escape(kind)
        );
        for f in of_kind {
            let _ = write!(
                out,
                "<li><a href=\"{}\">{}</a> <span class=\"size\">{}</span></li>",
                escape(&file_link(id, &f.path)),
                escape(&f.path),
                size(f.size)
            );
        }
        out.push_str("</ul></section>");
    }
    if files.is_empty() {
        out.push_str("<p class=\"empty\">No files yet.</p>");
    }
    out.push_str("</div>");
    out
}

/// Which chunk to show when the URL names none: logs from their tail, the rest from the start.
pub fn default_offset(path: &str, total: u64) -> u64 {
    if path.ends_with(".log") && total > CHUNK {
        total - CHUNK
    } else {
        0
    }
}

/// One chunk of a file, with navigation to the neighbouring chunks.
pub fn viewer(id: &str, chunk: &ArtifactChunk) -> String {
    let link = file_link(id, &chunk.path);
    let raw = format!(
        "/api/runs/{}/artifacts/{}",
        url_part(id, false),
        url_part(&chunk.path, true)
    );
    let mut nav = String::new();
    if chunk.start > 0 {
        let prev = chunk.start.saturating_sub(CHUNK);
        let _ = write!(
            nav,
            "<a href=\"{l}?offset=0\">« start</a> <a href=\"{l}?offset={prev}\" rel=\"prev\">‹ previous</a> ",
            l = escape(&link)
        );
    }
    if chunk.end < chunk.total {
        let last = chunk.total.saturating_sub(CHUNK);
        let _ = write!(
            nav,
            "<a href=\"{l}?offset={}\" rel=\"next\">next ›</a> <a href=\"{l}?offset={last}\">end »</a> ",
            chunk.end,
            l = escape(&link)
        );
    }
    let text = String::from_utf8_lossy(&chunk.bytes);
    let body = if chunk.path.ends_with(".diff") || chunk.path.ends_with(".patch") {
        super::diff::render(&text, &raw)
    } else {
        format!("<pre class=\"file\">{}</pre>", escape(&text))
    };
    format!(
        "<div class=\"viewer\" data-path=\"{p}\"><div class=\"pager\"><span>bytes {s}–{e} of {t}</span> {nav}\
<a href=\"{raw}\">raw</a></div>{body}</div>",
        p = escape(&chunk.path),
        s = chunk.start,
        e = chunk.end,
        t = chunk.total,
        raw = escape(&raw),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_groups_and_escapes() {
        let files = vec![
            ArtifactEntry {
                path: "logs/<evil>.log".into(),
                size: 2048,
                kind: "logs".into(),
            },
            ArtifactEntry {
                path: "context/plan.md".into(),
                size: 10,
                kind: "context".into(),
            },
        ];
        let html = listing("r1", &files);
        let ctx = html.find("data-kind=\"context\"").unwrap();
        let logs = html.find("data-kind=\"logs\"").unwrap();
        assert!(ctx < logs, "context before logs");
        assert!(html.contains("/runs/r1/files/logs/%3Cevil%3E.log"));
        assert!(html.contains(">logs/&lt;evil&gt;.log</a> <span class=\"size\">2.0 KiB</span>"));
    }

    #[test]
    fn viewer_pages_and_escapes() {
        let chunk = ArtifactChunk {
            path: "logs/gate.log".into(),
            total: 3 * CHUNK,
            start: CHUNK,
            end: 2 * CHUNK,
            partial: true,
            unsatisfiable: false,
            bytes: b"<b>boom</b>".to_vec(),
        };
        let html = viewer("r1", &chunk);
        assert!(html.contains("&lt;b&gt;boom&lt;/b&gt;"));
        assert!(html.contains("?offset=0\">« start"));
        assert!(html.contains(&format!("?offset={}\" rel=\"next\"", 2 * CHUNK)));
        assert_eq!(default_offset("logs/a.log", 3 * CHUNK), 2 * CHUNK);
        assert_eq!(default_offset("context/a.md", 3 * CHUNK), 0);
    }
}
