//! Pull requests through the GitHub CLI (`gh`), found before they are created.
//!
//! orx does not speak the GitHub API: `gh` already holds the user's login (keyring, `GH_TOKEN`
//! in CI, enterprise hosts), knows the repository from the checkout's remotes, and is what the
//! user would type. Each call runs through the supervisor with a wall-clock timeout, prompts
//! disabled, and its output appended to `logs/gh.log`.
//!
//! [`ensure_pr`] is idempotent: `gh auth status` first (a clear `gh_auth` failure instead of a
//! confusing one later), then `gh pr list --head <branch> --state open` and only when that finds
//! nothing `gh pr create`. A resumed ship stage therefore reuses the pull request an earlier
//! attempt opened (even one whose `gh pr create` died after GitHub had created it) instead of
//! opening a second. Argument building and output parsing are pure functions, unit tested
//! here; the integration suite drives a stand-in `gh` that records its argv.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::{ErrorKind, OrxError, Result};
use crate::exec::{self, CommandSpec, Control, Termination};

/// The program looked up on PATH.
pub const GH: &str = "gh";

/// Wall-clock limit for one `gh` call.
const GH_TIMEOUT: Duration = Duration::from_secs(120);

/// What to open.
#[derive(Debug, Clone)]
pub struct PrRequest {
    /// Branch the pull request targets.
    pub base: String,
    /// The run branch (already pushed).
    pub head: String,
    pub title: String,
    pub body_file: PathBuf,
    pub draft: bool,
    /// Where `gh` runs (the run's worktree, so it finds the repository from its remotes).
    pub cwd: PathBuf,
    /// Appended with every call's command line and output.
    pub log: PathBuf,
    pub run_id: String,
    /// The run's redactor: the log is written through it.
    pub redactor: Option<std::sync::Arc<crate::guard::Redactor>>,
}

/// Why no pull request could be opened or found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrFailure {
    /// `gh` is not on PATH.
    Missing,
    /// `gh` is not logged in.
    Auth,
    /// `gh pr list` or `gh pr create` failed.
    Failed,
}

impl PrFailure {
    /// The stable reason recorded in `last_failure.reason`.
    pub fn reason(self) -> &'static str {
        match self {
            PrFailure::Missing => "gh_missing",
            PrFailure::Auth => "gh_auth",
            PrFailure::Failed => "pr_failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrError {
    pub failure: PrFailure,
    /// What gh said, or what is missing.
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrOutcome {
    pub url: String,
    /// Opened by this call; `false` when an open one was found.
    pub created: bool,
}

/// `gh pr list` arguments that print the URL of the open pull request from `branch`, if any.
pub fn list_argv(branch: &str) -> Vec<String> {
    [
        "pr", "list", "--head", branch, "--state", "open", "--json", "url", "--jq", ".[0].url",
    ]
    .into_iter()
    .map(String::from)
    .collect()
}

/// `gh pr create` arguments for `req`.
pub fn create_argv(req: &PrRequest) -> Vec<String> {
    let mut v: Vec<String> = vec![
        "pr".into(),
        "create".into(),
        "--base".into(),
        req.base.clone(),
        "--head".into(),
        req.head.clone(),
        "--title".into(),
        req.title.clone(),
        "--body-file".into(),
        req.body_file.to_string_lossy().into_owned(),
    ];
    if req.draft {
        v.push("--draft".into());
    }
    v
}

/// The pull request URL in gh's output: the last line that is an http(s) URL.
///
/// `gh pr create` prints the URL as its last stdout line; when the pull request already
/// exists it says so on stderr, followed by the URL. `gh pr list --jq` prints the URL or
/// nothing (`null` with some jq versions).
pub fn parse_url(text: &str) -> Option<String> {
    text.lines()
        .rev()
        .map(str::trim)
        .find_map(|l| {
            l.split_whitespace()
                .find(|w| w.starts_with("https://") || w.starts_with("http://"))
        })
        .map(String::from)
}

/// Find the open pull request for `req.head`, or open one.
///
/// Failures of gh are `Ok(Err(PrError))`; only an interrupt (or a log that cannot be written)
/// is an `Err`.
pub fn ensure_pr(req: &PrRequest) -> Result<std::result::Result<PrOutcome, PrError>> {
    if !crate::gates::program_exists(GH) {
        return Ok(Err(PrError {
            failure: PrFailure::Missing,
            detail: "the GitHub CLI `gh` is not on PATH".into(),
        }));
    }
    let auth = gh(req, &["auth".into(), "status".into()])?;
    if !auth.ok {
        return Ok(Err(PrError {
            failure: if auth.spawn_failed {
                PrFailure::Missing
            } else {
                PrFailure::Auth
            },
            detail: auth.detail(),
        }));
    }
    let list = gh(req, &list_argv(&req.head))?;
    if !list.ok {
        return Ok(Err(PrError {
            failure: PrFailure::Failed,
            detail: format!("`gh pr list` failed: {}", list.detail()),
        }));
    }
    if let Some(url) = parse_url(&list.stdout) {
        return Ok(Ok(PrOutcome {
            url,
            created: false,
        }));
    }
    let create = gh(req, &create_argv(req))?;
    if create.ok {
        return Ok(match parse_url(&create.stdout) {
            Some(url) => Ok(PrOutcome { url, created: true }),
            None => Err(PrError {
                failure: PrFailure::Failed,
                detail: format!(
                    "`gh pr create` succeeded but printed no pull request URL: {}",
                    create.detail()
                ),
            }),
        });
    }
    // Opened meanwhile (another job, or a race with the list): gh names it on stderr.
    if create.stderr.contains("already exists") {
        if let Some(url) = parse_url(&create.stderr) {
            return Ok(Ok(PrOutcome {
                url,
                created: false,
            }));
        }
    }
    Ok(Err(PrError {
        failure: PrFailure::Failed,
        detail: format!("`gh pr create` failed: {}", create.detail()),
    }))
}

/// One finished gh call.
struct GhCall {
    ok: bool,
    spawn_failed: bool,
    stdout: String,
    stderr: String,
}

impl GhCall {
    /// gh's error lines (stderr, else stdout), at most 6 of them.
    fn detail(&self) -> String {
        let src = if self.stderr.trim().is_empty() {
            &self.stdout
        } else {
            &self.stderr
        };
        let lines: Vec<&str> = src
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .take(6)
            .collect();
        if lines.is_empty() {
            "no output".into()
        } else {
            lines.join("\n")
        }
    }
}

fn gh(req: &PrRequest, args: &[String]) -> Result<GhCall> {
    let line = format!("$ gh {}\n", args.join(" "));
    match &req.redactor {
        Some(r) => crate::store::atomic::append_text(&req.log, &r.redact(&line))?,
        None => crate::store::atomic::append_text(&req.log, &line)?,
    }
    let mut spec = CommandSpec::new(GH, &req.cwd);
    spec.args = args.to_vec();
    spec.env = [
        ("GH_PROMPT_DISABLED", "1"),
        ("GH_NO_UPDATE_NOTIFIER", "1"),
        ("GH_NO_EXTENSION_UPDATE_NOTIFIER", "1"),
        ("GH_PAGER", "cat"),
        ("NO_COLOR", "1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    spec.stdout_log = Some(req.log.clone());
    spec.stderr_log = Some(req.log.clone());
    spec.log_filter = req.redactor.as_ref().map(|r| r.log_filter());
    spec.wall_timeout = Some(GH_TIMEOUT);
    spec.run_id = Some(req.run_id.clone());
    let mut stdout = String::new();
    let mut stderr = String::new();
    let info = match exec::run(&spec, &mut |kind, line| {
        let buf = match kind {
            exec::StreamKind::Stdout => &mut stdout,
            exec::StreamKind::Stderr => &mut stderr,
        };
        if buf.len() < 64 * 1024 {
            buf.push_str(line);
            buf.push('\n');
        }
        Control::Continue
    }) {
        Ok(info) => info,
        Err(e) => {
            return Ok(GhCall {
                ok: false,
                spawn_failed: e.kind() == std::io::ErrorKind::NotFound,
                stdout,
                stderr: format!("cannot run gh: {e}"),
            })
        }
    };
    match info.termination {
        Termination::Interrupted => Err(OrxError::new(ErrorKind::Interrupted, "interrupted")),
        Termination::Exited => Ok(GhCall {
            ok: info.success(),
            spawn_failed: false,
            stdout,
            stderr,
        }),
        other => Ok(GhCall {
            ok: false,
            spawn_failed: false,
            stdout,
            stderr: format!("gh was stopped ({other:?}) after {:?}", info.duration),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(draft: bool) -> PrRequest {
        PrRequest {
            base: "main".into(),
            head: "orx/r1".into(),
            title: "Add a thing".into(),
            body_file: "/runs/r1/artifacts/pr_body.md".into(),
            draft,
            cwd: "/w".into(),
            log: "/runs/r1/logs/gh.log".into(),
            run_id: "r1".into(),
            redactor: None,
        }
    }

    #[test]
    fn create_argv_names_base_head_title_body_and_draft() {
        let v = create_argv(&req(true));
        assert_eq!(
            v,
            [
                "pr",
                "create",
                "--base",
                "main",
                "--head",
                "orx/r1",
                "--title",
                "Add a thing",
                "--body-file",
                "/runs/r1/artifacts/pr_body.md",
                "--draft"
            ]
        );
        assert!(!create_argv(&req(false)).contains(&"--draft".to_string()));
        assert_eq!(list_argv("orx/r1")[2..4], ["--head", "orx/r1"]);
    }

    #[test]
    fn urls_are_found_in_what_gh_prints() {
        assert_eq!(
            parse_url("Creating pull request for orx/r1 into main in acme/demo\n\nhttps://github.com/acme/demo/pull/7\n"),
            Some("https://github.com/acme/demo/pull/7".into())
        );
        assert_eq!(
            parse_url("a pull request for branch \"orx/r1\" into branch \"main\" already exists:\nhttps://github.com/acme/demo/pull/3\n"),
            Some("https://github.com/acme/demo/pull/3".into())
        );
        assert_eq!(parse_url(""), None);
        assert_eq!(parse_url("null\n"), None);
    }
}
