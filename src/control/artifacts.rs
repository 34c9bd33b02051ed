//! A run's files: listing the run folder and reading one file, whole or a byte range.
//!
//! The API and the MCP server hand out paths that came from outside, and agents and
//! repositories can write into the run folder, so every read goes through [`open_in`]: the
//! path must be relative and free of `..` and NUL, and it is opened one component at a time
//! from the run folder's descriptor without following any symbolic link
//! ([`super::nofollow`]); the run folder itself is opened the same way from `runs/`. A
//! symlink an agent left in `artifacts/` pointing at `/etc/passwd`, or a committed
//! `runs/<id>` pointing at `/`, is refused like `../../x`, and a link swapped in while a read
//! is under way cannot be followed because nothing is opened twice by name. Reads are bounded
//! ([`MAX_READ`]) so a 1 GiB log is paged through ranges, never loaded whole. The lock file is
//! not listed or served, however its path is spelled.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use serde::Serialize;

use super::Control;
use crate::error::{OrxError, Result};

/// The most bytes one read returns; larger files are read in ranges.
pub const MAX_READ: u64 = 8 * 1024 * 1024;
/// The most files one listing returns.
pub const MAX_LIST: usize = 10_000;

/// A file in the run folder.
#[derive(Debug, Clone, Serialize)]
pub struct ArtifactEntry {
    /// Relative to the run folder, `/`-separated.
    pub path: String,
    pub size: u64,
    /// The top-level folder it is in (`context`, `prompts`, `artifacts`, `logs`, `metrics`),
    /// or `run` for the files at the top (state.json, events.jsonl, …).
    pub kind: String,
}

/// A requested byte range, as in `Range: bytes=…`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// `start-` or `start-end` (end inclusive).
    From { start: u64, end: Option<u64> },
    /// `-n`: the last n bytes.
    Suffix(u64),
}

impl ByteRange {
    /// Parse the value of a `Range` header (`bytes=a-b`, `bytes=a-`, `bytes=-n`); one range
    /// only. `None` for anything else (the header is then ignored, as HTTP allows).
    pub fn parse_header(value: &str) -> Option<ByteRange> {
        let spec = value.trim().strip_prefix("bytes=")?.trim();
        if spec.contains(',') {
            return None;
        }
        let (a, b) = spec.split_once('-')?;
        let (a, b) = (a.trim(), b.trim());
        if a.is_empty() {
            return b.parse().ok().map(ByteRange::Suffix);
        }
        let start = a.parse().ok()?;
        let end = if b.is_empty() {
            None
        } else {
            Some(b.parse().ok()?)
        };
        if end.is_some_and(|e| e < start) {
            return None;
        }
        Some(ByteRange::From { start, end })
    }

    /// The half-open span `[start, end)` inside a file of `total` bytes, or `None` when it
    /// cannot be satisfied.
    pub fn span(self, total: u64) -> Option<(u64, u64)> {
        match self {
            ByteRange::From { start, end } => {
                if start >= total {
                    return None;
                }
                let end = end.map(|e| e.saturating_add(1).min(total)).unwrap_or(total);
                Some((start, end))
            }
            ByteRange::Suffix(n) => {
                if n == 0 || total == 0 {
                    return None;
                }
                Some((total.saturating_sub(n), total))
            }
        }
    }
}

/// What one read returned.
#[derive(Debug, Clone, Serialize)]
pub struct ArtifactChunk {
    pub path: String,
    /// The file's size.
    pub total: u64,
    /// The span returned, `[start, end)`.
    pub start: u64,
    pub end: u64,
    /// Less than the whole file was returned (a range, or a file above [`MAX_READ`]).
    pub partial: bool,
    /// The requested range lies outside the file (HTTP 416); `bytes` is empty.
    pub unsatisfiable: bool,
    #[serde(skip)]
    pub bytes: Vec<u8>,
}

/// Open file `rel` below the run folder's descriptor `run_dir`, refusing anything that could
/// leave it: `..`, absolute paths, NUL, and any symbolic link on the way (the walk opens one
/// component at a time without following links, so what is read is what was checked). The
/// lock file is not an artifact, however its path is spelled (`./lock`, `lock/`).
pub fn open_in(run_dir: &std::fs::File, rel: &str) -> Result<std::fs::File> {
    use super::nofollow::{components, open_file_below, Refusal};
    let refuse = |why: &str| {
        OrxError::usage(format!("artifact path `{}` is refused: {why}", rel.escape_default()))
            .with_hint("give a path relative to the run folder, such as logs/orx.log; list them with GET /api/runs/<id>/artifacts")
    };
    let missing = || {
        OrxError::not_found(format!("no artifact `{rel}` in this run"))
            .with_hint("list them with GET /api/runs/<id>/artifacts")
    };
    if rel.is_empty() {
        return Err(refuse("it is empty"));
    }
    if rel.contains('\0') {
        return Err(refuse("it contains a NUL byte"));
    }
    if rel.starts_with('/') || rel.starts_with('\\') {
        return Err(refuse("it is absolute"));
    }
    let parts = match components(rel) {
        Ok(p) => p,
        Err(_) if rel.split('/').any(|c| c == "..") => return Err(refuse("it contains `..`")),
        Err(_) => return Err(refuse("it is absolute")),
    };
    if parts.is_empty() {
        return Err(OrxError::not_found(format!(
            "`{rel}` is not a file in this run"
        )));
    }
    if parts.len() == 1 && parts[0] == "lock" {
        return Err(missing());
    }
    match open_file_below(run_dir, rel) {
        Ok(f) => Ok(f),
        Err(Refusal::Missing) => Err(missing()),
        Err(Refusal::Symlink) => Err(refuse(
            "it passes through a symbolic link, which could lead outside the run folder",
        )),
        Err(Refusal::WrongType) => Err(OrxError::not_found(format!(
            "`{rel}` is not a file in this run"
        ))),
        Err(Refusal::BadPath) => Err(refuse("it is not a plain relative path")),
        Err(Refusal::Io(e)) => Err(OrxError::io("open", Path::new(rel), e)),
    }
}

/// Every regular file under `run_dir` (symlinks are not followed), sorted by path.
pub fn list_files(run_dir: &Path) -> Vec<ArtifactEntry> {
    let mut out = Vec::new();
    let mut stack = vec![(run_dir.to_path_buf(), String::new())];
    while let Some((dir, prefix)) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            if out.len() >= MAX_LIST {
                break;
            }
            let name = e.file_name().to_string_lossy().into_owned();
            let rel = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            let Ok(md) = std::fs::symlink_metadata(e.path()) else {
                continue;
            };
            if md.is_dir() {
                stack.push((e.path(), rel));
            } else if md.is_file() {
                if prefix.is_empty() && name == "lock" || name.contains(".tmp-") {
                    continue;
                }
                let kind = rel
                    .split_once('/')
                    .map(|(top, _)| top.to_string())
                    .unwrap_or_else(|| "run".to_string());
                out.push(ArtifactEntry {
                    path: rel,
                    size: md.len(),
                    kind,
                });
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// Read `[start, end)` of the open file `f` (at most [`MAX_READ`] bytes).
fn read_span(f: &mut std::fs::File, rel: &str, start: u64, end: u64) -> Result<Vec<u8>> {
    let path = Path::new(rel);
    f.seek(SeekFrom::Start(start))
        .map_err(|e| OrxError::io("seek in", path, e))?;
    let mut buf = Vec::with_capacity((end - start) as usize);
    f.take(end - start)
        .read_to_end(&mut buf)
        .map_err(|e| OrxError::io("read", path, e))?;
    Ok(buf)
}

impl Control {
    /// The files of run `id`.
    pub fn list_artifacts(&self, id: &str) -> Result<Vec<ArtifactEntry>> {
        let (_, paths) = self.find_run(id)?;
        Ok(list_files(&paths.dir))
    }

    /// Read file `rel` of run `id`, whole (up to [`MAX_READ`]) or the given range.
    pub fn read_artifact(
        &self,
        id: &str,
        rel: &str,
        range: Option<ByteRange>,
    ) -> Result<ArtifactChunk> {
        let (ws, _) = self.find_run(id)?;
        let dir = ws.open_run_dir(id).map_err(|_| {
            OrxError::not_found(format!("unknown run id `{id}`"))
                .with_hint("list runs with GET /api/runs or `orx status`")
        })?;
        let mut file = open_in(&dir, rel)?;
        let total = file
            .metadata()
            .map_err(|e| OrxError::io("read", Path::new(rel), e))?
            .len();
        let (start, end) = match range {
            None => (0, total),
            Some(r) => match r.span(total) {
                Some(s) => s,
                None => {
                    return Ok(ArtifactChunk {
                        path: rel.to_string(),
                        total,
                        start: 0,
                        end: 0,
                        partial: true,
                        unsatisfiable: true,
                        bytes: Vec::new(),
                    })
                }
            },
        };
        let end = end.min(start + MAX_READ);
        let bytes = read_span(&mut file, rel, start, end)?;
        let end = start + bytes.len() as u64;
        Ok(ArtifactChunk {
            path: rel.to_string(),
            total,
            start,
            end,
            partial: range.is_some() || end < total,
            unsatisfiable: false,
            bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use std::path::PathBuf;

    fn run_dir() -> (tempfile::TempDir, PathBuf) {
        let t = tempfile::tempdir().unwrap();
        let run = t.path().join("runs/r1");
        std::fs::create_dir_all(run.join("logs")).unwrap();
        std::fs::write(run.join("logs/orx.log"), "0123456789").unwrap();
        std::fs::write(run.join("lock"), "1 2\n").unwrap();
        std::fs::write(t.path().join("secret.txt"), "outside").unwrap();
        std::fs::create_dir_all(t.path().join("runs/r2")).unwrap();
        std::fs::write(t.path().join("runs/r2/state.json"), "{}").unwrap();
        (t, run)
    }

    #[test]
    fn traversal_is_refused() {
        let (t, run) = run_dir();
        std::os::unix::fs::symlink(t.path().join("secret.txt"), run.join("logs/escape")).unwrap();
        std::os::unix::fs::symlink(t.path().join("runs/r2"), run.join("other")).unwrap();
        std::os::unix::fs::symlink("orx.log", run.join("logs/inside")).unwrap();
        let dir = std::fs::File::open(&run).unwrap();
        for bad in [
            "../secret.txt",
            "logs/../../secret.txt",
            "..",
            "/etc/passwd",
            "logs/\0x",
            "",
            "logs/escape",
            "other/state.json",
            "./logs/inside",
        ] {
            let e = open_in(&dir, bad).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Usage, "{bad:?}: {}", e.message);
        }
        for missing in [
            "lock",
            "./lock",
            "lock/",
            "././lock",
            "logs/none.log",
            "logs",
            ".",
        ] {
            assert_eq!(
                open_in(&dir, missing).unwrap_err().kind,
                ErrorKind::NotFound,
                "{missing}"
            );
        }
        assert!(open_in(&dir, "logs/orx.log").is_ok());
        assert!(open_in(&dir, "./logs//orx.log").is_ok());
        let listed: Vec<String> = list_files(&run).into_iter().map(|e| e.path).collect();
        assert_eq!(listed, ["logs/orx.log"], "no lock, no symlinks");
    }

    #[test]
    fn ranges_parse_and_clamp() {
        assert_eq!(
            ByteRange::parse_header("bytes=2-5"),
            Some(ByteRange::From {
                start: 2,
                end: Some(5)
            })
        );
        assert_eq!(
            ByteRange::parse_header("bytes=-3"),
            Some(ByteRange::Suffix(3))
        );
        assert_eq!(ByteRange::parse_header("bytes=5-2"), None);
        assert_eq!(ByteRange::parse_header("bytes=1-2,4-5"), None);
        assert_eq!(ByteRange::parse_header("items=1-2"), None);
        let r = |s| ByteRange::parse_header(s).unwrap();
        assert_eq!(r("bytes=2-5").span(10), Some((2, 6)));
        assert_eq!(r("bytes=8-").span(10), Some((8, 10)));
        assert_eq!(r("bytes=8-100").span(10), Some((8, 10)));
        assert_eq!(r("bytes=-3").span(10), Some((7, 10)));
        assert_eq!(r("bytes=-30").span(10), Some((0, 10)));
        assert_eq!(r("bytes=10-").span(10), None);
        assert_eq!(r("bytes=0-").span(0), None);
    }
}
