//! The pure half of the knowledge stage: orx's marked blocks in AGENTS.md-style files, and the
//! merge that confines an agent's edit to them.
//!
//! The agent is asked to write only between `<!-- orx:begin -->` and `<!-- orx:end -->`, but
//! asking is not enforcing. [`merge`] takes the file as orx prepared it and the file as the
//! agent left it, keeps *only* the new text between the markers, and splices it into the
//! prepared file, so anything the agent changed outside the block is dropped (and reported).
//! The size limits are applied to a line diff of the old and new block (an LCS diff: blocks
//! are small, and the table is capped so a runaway agent cannot make it quadratic in memory):
//! a deletion beyond the limit refuses the whole edit (the block is the project's memory and
//! must not be wiped by one run), while additions beyond the limit are dropped from the end.
//! No file system, no git: the stage does the I/O.

/// The line that opens orx's block.
pub const BEGIN: &str = "<!-- orx:begin -->";
/// The line that closes orx's block.
pub const END: &str = "<!-- orx:end -->";

/// Most cells of the LCS table before the diff falls back to "delete all, insert all".
const MAX_LCS_CELLS: usize = 4_000_000;

/// Byte range of the block's content (between the begin line and the end marker), if the text
/// has a block.
pub fn find_block(text: &str) -> Option<(usize, usize)> {
    let b = text.find(BEGIN)?;
    let after = b + BEGIN.len();
    let rest = &text[after..];
    let start = if rest.starts_with("\r\n") {
        after + 2
    } else if rest.starts_with('\n') {
        after + 1
    } else {
        after
    };
    let end = start + text[start..].find(END)?;
    Some((start, end))
}

/// The block's content, if the text has a block.
pub fn block_content(text: &str) -> Option<&str> {
    find_block(text).map(|(s, e)| &text[s..e])
}

/// The text with an (empty) block appended when it has none; unchanged otherwise.
pub fn ensure_block(text: &str) -> String {
    if find_block(text).is_some() {
        return text.to_string();
    }
    let mut out = text.to_string();
    if !out.is_empty() {
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out.push('\n');
    }
    out.push_str(BEGIN);
    out.push('\n');
    out.push_str(END);
    out.push('\n');
    out
}

/// What [`merge`] decided for one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merge {
    /// The file's new full text: the prepared file with only its block replaced.
    pub text: String,
    /// Whether the block's content changed.
    pub changed: bool,
    /// Lines added to and deleted from the block (after limits).
    pub added: u32,
    pub deleted: u32,
    /// The agent changed text outside the block; that part was discarded.
    pub outside_discarded: bool,
    /// The agent removed the markers (or the file): nothing of its edit was kept.
    pub markers_lost: bool,
    /// Lines added beyond `max_added`, dropped.
    pub dropped_added: u32,
    /// The edit deleted more than `max_deleted` lines and was refused (`Some(deleted)`).
    pub refused_deleted: Option<u32>,
}

impl Merge {
    fn unchanged(prepared: &str) -> Merge {
        Merge {
            text: prepared.to_string(),
            changed: false,
            added: 0,
            deleted: 0,
            outside_discarded: false,
            markers_lost: false,
            dropped_added: 0,
            refused_deleted: None,
        }
    }
}

/// Keep only the agent's new block content, within the limits, spliced into `prepared`.
///
/// `prepared` is the file as orx wrote it before the agent ran (it has a block, see
/// [`ensure_block`]); `agent` is the file afterwards (`None`: the agent deleted it).
pub fn merge(prepared: &str, agent: Option<&str>, max_added: u32, max_deleted: u32) -> Merge {
    let mut m = Merge::unchanged(prepared);
    let Some((ps, pe)) = find_block(prepared) else {
        return m;
    };
    let Some(agent) = agent else {
        m.markers_lost = true;
        return m;
    };
    let Some((a_s, a_e)) = find_block(agent) else {
        m.markers_lost = true;
        return m;
    };
    m.outside_discarded = agent[..a_s] != prepared[..ps] || agent[a_e..] != prepared[pe..];
    let old: Vec<&str> = prepared[ps..pe].lines().collect();
    let new: Vec<&str> = agent[a_s..a_e]
        .lines()
        .filter(|l| l.trim() != BEGIN && l.trim() != END)
        .collect();
    let ops = diff_lines(&old, &new);
    let added = ops.iter().filter(|o| matches!(o, Op::Insert(_))).count() as u32;
    let deleted = ops.iter().filter(|o| matches!(o, Op::Delete)).count() as u32;
    if deleted > max_deleted {
        m.refused_deleted = Some(deleted);
        return m;
    }
    let mut kept_inserts = 0u32;
    let mut lines: Vec<&str> = Vec::new();
    let mut oi = 0usize;
    for op in &ops {
        match op {
            Op::Keep => {
                lines.push(old[oi]);
                oi += 1;
            }
            Op::Delete => oi += 1,
            Op::Insert(l) => {
                if kept_inserts < max_added {
                    lines.push(l);
                    kept_inserts += 1;
                }
            }
        }
    }
    m.dropped_added = added - kept_inserts;
    m.added = kept_inserts;
    m.deleted = deleted;
    let mut content = lines.join("\n");
    if !content.is_empty() {
        content.push('\n');
    }
    m.changed = content != prepared[ps..pe];
    m.text = format!("{}{}{}", &prepared[..ps], content, &prepared[pe..]);
    m
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Op<'a> {
    Keep,
    Delete,
    Insert(&'a str),
}

/// A shortest edit script from `old` to `new` by longest common subsequence.
fn diff_lines<'a>(old: &[&'a str], new: &[&'a str]) -> Vec<Op<'a>> {
    let (n, m) = (old.len(), new.len());
    if n.saturating_mul(m) > MAX_LCS_CELLS {
        let mut ops = vec![Op::Delete; n];
        ops.extend(new.iter().map(|l| Op::Insert(l)));
        return ops;
    }
    // lcs[i][j]: LCS length of old[i..] and new[j..].
    let w = m + 1;
    let mut lcs = vec![0u32; (n + 1) * w];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i * w + j] = if old[i] == new[j] {
                lcs[(i + 1) * w + j + 1] + 1
            } else {
                lcs[(i + 1) * w + j].max(lcs[i * w + j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut ops = Vec::with_capacity(n + m);
    while i < n || j < m {
        if i < n && j < m && old[i] == new[j] {
            ops.push(Op::Keep);
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i * w + j + 1] >= lcs[(i + 1) * w + j]) {
            ops.push(Op::Insert(new[j]));
            j += 1;
        } else {
            ops.push(Op::Delete);
            i += 1;
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "<!-- orx:begin -->\n<!-- orx:end -->\n";

    #[test]
    fn ensure_block_appends_once_and_creates_missing_files() {
        assert_eq!(ensure_block(""), EMPTY);
        let a = ensure_block("# Agents\nrun tests");
        assert_eq!(a, format!("# Agents\nrun tests\n\n{EMPTY}"));
        assert_eq!(ensure_block(&a), a);
        assert_eq!(block_content(&a), Some(""));
        let with = "x\n<!-- orx:begin -->\n- a\n<!-- orx:end -->\ny\n";
        assert_eq!(block_content(with), Some("- a\n"));
    }

    #[test]
    fn only_the_block_of_the_agent_version_is_kept() {
        let prepared = format!("# Title\nhand written\n\n{EMPTY}");
        let agent =
            "# Title CHANGED\n\n<!-- orx:begin -->\n- use make test\n<!-- orx:end -->\ntrailer\n";
        let m = merge(&prepared, Some(agent), 40, 40);
        assert!(m.changed && m.outside_discarded && !m.markers_lost);
        assert_eq!(
            m.text,
            "# Title\nhand written\n\n<!-- orx:begin -->\n- use make test\n<!-- orx:end -->\n"
        );
        assert_eq!((m.added, m.deleted), (1, 0));
    }

    #[test]
    fn an_edit_inside_the_block_only_is_not_flagged() {
        let prepared = "a\n<!-- orx:begin -->\n- one\n- two\n<!-- orx:end -->\nz\n";
        let agent = "a\n<!-- orx:begin -->\n- one\n- three\n<!-- orx:end -->\nz\n";
        let m = merge(prepared, Some(agent), 40, 40);
        assert!(!m.outside_discarded && m.changed);
        assert_eq!((m.added, m.deleted), (1, 1));
        assert_eq!(m.text, agent);
    }

    #[test]
    fn removed_markers_or_a_deleted_file_keep_the_prepared_text() {
        let prepared = format!("x\n\n{EMPTY}");
        for agent in [None, Some("x\nall new\n")] {
            let m = merge(&prepared, agent, 40, 40);
            assert!(m.markers_lost && !m.changed);
            assert_eq!(m.text, prepared);
        }
    }

    #[test]
    fn additions_beyond_the_limit_are_dropped_from_the_end() {
        let agent = "<!-- orx:begin -->\n1\n2\n3\n4\n5\n<!-- orx:end -->\n";
        let m = merge(EMPTY, Some(agent), 3, 40);
        assert_eq!(m.text, "<!-- orx:begin -->\n1\n2\n3\n<!-- orx:end -->\n");
        assert_eq!((m.added, m.dropped_added), (3, 2));
    }

    #[test]
    fn deletions_beyond_the_limit_refuse_the_edit() {
        let prepared = "<!-- orx:begin -->\na\nb\nc\n<!-- orx:end -->\n";
        let agent = "<!-- orx:begin -->\nnew\n<!-- orx:end -->\n";
        let m = merge(prepared, Some(agent), 40, 2);
        assert_eq!(m.refused_deleted, Some(3));
        assert!(!m.changed);
        assert_eq!(m.text, prepared);
        let m = merge(prepared, Some(agent), 40, 3);
        assert_eq!(m.text, agent);
    }

    #[test]
    fn stray_markers_inside_the_new_content_are_removed() {
        let agent = "<!-- orx:begin -->\n<!-- orx:begin -->\n- x\n<!-- orx:end -->\n";
        let m = merge(EMPTY, Some(agent), 40, 40);
        assert_eq!(m.text, "<!-- orx:begin -->\n- x\n<!-- orx:end -->\n");
    }

    #[test]
    fn the_diff_is_minimal() {
        let ops = diff_lines(&["a", "b", "c"], &["a", "x", "c", "d"]);
        let ins = ops.iter().filter(|o| matches!(o, Op::Insert(_))).count();
        let del = ops.iter().filter(|o| matches!(o, Op::Delete)).count();
        assert_eq!((ins, del), (2, 1));
    }
}
