//! Pushing the run branch to a remote, idempotently and without ever losing someone's commits.
//!
//! Push goes through the git CLI (libgit2 is built without transports), so the user's remotes,
//! `insteadOf` rewrites, SSH keys and credential helpers all work as they do for them; orx
//! only disables terminal prompts (and, unless the user configured their own SSH command,
//! runs ssh with `BatchMode=yes`), so a missing credential or an unknown host key fails at once
//! instead of hanging a CI job. Two rules make a push safe to repeat on resume:
//!
//! - **Already there is done.** `git ls-remote` first: when the remote branch already points
//!   at the local head, nothing is sent.
//! - **Force only over what we own.** The push uses `--force-with-lease=refs/heads/<b>:<sha>`
//!   where `<sha>` is the commit orx itself last pushed (so a rewritten run branch can replace
//!   it), the remote's commit when that is an ancestor of ours (a plain fast-forward), or empty
//!   ("the branch must not exist"). A branch of the same name with commits this run does not
//!   have is therefore rejected, never overwritten.
//!
//! A failed push is data ([`PushError`] with a [`PushFailure`] class), not an `Err`: the ship
//! stage records it as the run's failure and stays resumable. `Err` is kept for git itself
//! being broken.

use super::error::Result;
use super::handle::{resolve, with_repo};
use super::{Git, GitOutput, Repo};

/// Why a push (or the `ls-remote` before it) failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushFailure {
    /// The remote branch has commits the run does not have (non-fast-forward, stale lease).
    Rejected,
    /// Credentials are missing or were refused.
    Auth,
    /// The remote is not configured, or its URL leads nowhere.
    RemoteMissing,
    /// Anything else (network down, hook refused, disk full on the server).
    Other,
}

impl PushFailure {
    /// The stable reason recorded in `last_failure.reason`.
    pub fn reason(self) -> &'static str {
        match self {
            PushFailure::Rejected => "push_rejected",
            PushFailure::Auth => "push_auth",
            PushFailure::RemoteMissing => "push_remote_missing",
            PushFailure::Other => "push_failed",
        }
    }
}

/// A push that did not happen, with git's own words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushError {
    pub failure: PushFailure,
    /// The most telling lines of git's stderr.
    pub detail: String,
}

/// A push that happened (or was found done).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    pub sha: String,
    /// The remote already had exactly this commit; nothing was sent.
    pub already: bool,
}

/// Sort git's stderr from `ls-remote`/`push` into a failure class.
pub fn classify_push_failure(stderr: &str) -> PushFailure {
    let s = stderr.to_ascii_lowercase();
    let any = |needles: &[&str]| needles.iter().any(|n| s.contains(n));
    // Auth first: "Permission denied (publickey)" is followed by "Could not read from remote
    // repository", which alone would read as a missing remote.
    if any(&[
        "authentication failed",
        "could not read username",
        "could not read password",
        "permission denied (publickey",
        "host key verification failed",
        "terminal prompts disabled",
        "invalid username or password",
        "http basic: access denied",
        "the requested url returned error: 401",
        "the requested url returned error: 403",
        "permission to ",
    ]) {
        return PushFailure::Auth;
    }
    if any(&[
        "[rejected]",
        "non-fast-forward",
        "stale info",
        "fetch first",
        "updates were rejected",
    ]) {
        return PushFailure::Rejected;
    }
    if any(&[
        "does not appear to be a git repository",
        "no such remote",
        "repository not found",
        "could not read from remote repository",
        "not found",
        "no such file or directory",
    ]) {
        return PushFailure::RemoteMissing;
    }
    PushFailure::Other
}

/// The error and hint lines of git's stderr (progress chatter dropped), at most 6 lines.
fn detail(out: &GitOutput) -> String {
    let text = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .filter(|l| {
            let l = l.to_ascii_lowercase();
            l.starts_with("fatal")
                || l.starts_with("error")
                || l.starts_with("remote:")
                || l.starts_with("!")
                || l.starts_with("hint")
                || l.contains("denied")
        })
        .take(6)
        .collect();
    if lines.is_empty() {
        out.first_error_line()
    } else {
        lines.join("\n")
    }
}

// These run at the repository root, not in the run's worktree: a remote with a relative URL
// (`../origin.git`) means the same thing there as in the user's own `git push`.
impl Repo {
    /// The commit `refs/heads/<branch>` points at on `remote`, `None` when it does not exist.
    pub fn remote_branch(
        &self,
        remote: &str,
        branch: &str,
    ) -> Result<std::result::Result<Option<String>, PushError>> {
        remote_branch_in(&self.git(), remote, branch)
    }

    /// Push local `branch` to `refs/heads/<branch>` on `remote` (see the module docs for the
    /// lease).
    ///
    /// `last_pushed` is the commit orx recorded after its previous push of this branch.
    pub fn push_branch(
        &self,
        remote: &str,
        branch: &str,
        last_pushed: Option<&str>,
    ) -> Result<std::result::Result<Pushed, PushError>> {
        push_in(&self.git(), remote, branch, last_pushed)
    }
}

/// Variables for a call that talks to a remote: ssh must never wait for a passphrase or a
/// host-key answer, unless the user chose their own ssh command (then it is theirs to tune).
fn no_prompt_env(git: &Git) -> Result<Vec<(std::ffi::OsString, std::ffi::OsString)>> {
    let user_set = ["GIT_SSH_COMMAND", "GIT_SSH"]
        .iter()
        .any(|k| std::env::var_os(k).is_some_and(|v| !v.is_empty()))
        || git.extra_env.iter().any(|(k, _)| k == "GIT_SSH_COMMAND")
        || !git.config_value("core.sshCommand")?.is_empty();
    Ok(if user_set {
        Vec::new()
    } else {
        vec![("GIT_SSH_COMMAND".into(), "ssh -o BatchMode=yes".into())]
    })
}

fn remote_branch_in(
    git: &Git,
    remote: &str,
    branch: &str,
) -> Result<std::result::Result<Option<String>, PushError>> {
    let full = format!("refs/heads/{branch}");
    let out = git
        .call(["ls-remote", "--end-of-options", remote, &full])
        .envs(no_prompt_env(git)?)
        .output()?;
    if !out.success() {
        let text = String::from_utf8_lossy(&out.stderr);
        return Ok(Err(PushError {
            failure: classify_push_failure(&text),
            detail: detail(&out),
        }));
    }
    let text = out.text();
    let sha = text
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .find(|(_, name)| *name == full)
        .map(|(sha, _)| sha.to_string());
    Ok(Ok(sha))
}

fn push_in(
    git: &Git,
    remote: &str,
    branch: &str,
    last_pushed: Option<&str>,
) -> Result<std::result::Result<Pushed, PushError>> {
    let full = format!("refs/heads/{branch}");
    let op = format!("rev-parse --verify {full}");
    let head = with_repo(git, &op, |repo| resolve(repo, &full).map(|h| h.to_string()))?;
    let there = match remote_branch_in(git, remote, branch)? {
        Ok(there) => there,
        Err(e) => return Ok(Err(e)),
    };
    if there.as_deref() == Some(head.as_str()) {
        return Ok(Ok(Pushed {
            sha: head,
            already: true,
        }));
    }
    let expected = match (&there, last_pushed) {
        (None, _) => String::new(),
        (Some(_), Some(mine)) => mine.to_string(),
        (Some(theirs), None) if is_ancestor(git, theirs, &head)? => theirs.clone(),
        (Some(_), None) => String::new(),
    };
    let lease = format!("--force-with-lease={full}:{expected}");
    let refspec = format!("{head}:{full}");
    let args = [
        "push",
        "--porcelain",
        "--no-verify",
        &lease,
        "--end-of-options",
        remote,
        &refspec,
    ];
    let out = git.call(args).envs(no_prompt_env(git)?).output()?;
    if out.success() {
        return Ok(Ok(Pushed {
            sha: head,
            already: false,
        }));
    }
    // `--porcelain` puts the per-ref verdict ("!\trefs/...\t[rejected] (stale info)") on stdout.
    let all = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut detail = detail(&out);
    if let Some(verdict) = String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.starts_with('!'))
    {
        detail = format!("{}\n{detail}", verdict.replace('\t', " "));
    }
    Ok(Err(PushError {
        failure: classify_push_failure(&all),
        detail,
    }))
}

/// Whether commit `a` is known here and an ancestor of `b`.
/// Whether commit `a` is known here and an ancestor of `b` (or `b` itself), in-process.
fn is_ancestor(git: &Git, a: &str, b: &str) -> Result<bool> {
    let op = format!("merge-base --is-ancestor {a} {b}");
    with_repo(git, &op, |repo| {
        let Ok(a) = git2::Oid::from_str(a) else {
            return Ok(false);
        };
        if repo.find_commit(a).is_err() {
            // Not here (the remote has commits this repository never fetched).
            return Ok(false);
        }
        let b = resolve(repo, b)?;
        Ok(a == b || repo.graph_descendant_of(b, a)?)
    })
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{bare_origin, repo, sh};
    use super::*;

    #[test]
    fn real_git_messages_are_classified() {
        let cases = [
            ("To /tmp/r.git\n ! [rejected]        orx/x -> orx/x (stale info)\nerror: failed to push some refs to '/tmp/r.git'", PushFailure::Rejected),
            (" ! [rejected]        main -> main (non-fast-forward)\nerror: failed to push some refs", PushFailure::Rejected),
            ("fatal: could not read Username for 'https://github.com': terminal prompts disabled", PushFailure::Auth),
            ("remote: Invalid username or password.\nfatal: Authentication failed for 'https://github.com/a/b.git/'", PushFailure::Auth),
            ("git@github.com: Permission denied (publickey).\nfatal: Could not read from remote repository.\n\nPlease make sure you have the correct access rights", PushFailure::Auth),
            ("remote: Permission to acme/demo.git denied to bot.\nfatal: unable to access 'https://github.com/acme/demo.git/': The requested URL returned error: 403", PushFailure::Auth),
            ("fatal: '/tmp/nope.git' does not appear to be a git repository\nfatal: Could not read from remote repository.", PushFailure::RemoteMissing),
            ("remote: Repository not found.\nfatal: repository 'https://github.com/a/b.git/' not found", PushFailure::RemoteMissing),
            ("Host key verification failed.\nfatal: Could not read from remote repository.", PushFailure::Auth),
            ("fatal: unable to access 'https://example.com/': Could not resolve host: example.com", PushFailure::Other),
        ];
        for (text, want) in cases {
            assert_eq!(classify_push_failure(text), want, "{text}");
        }
    }

    fn setup() -> (tempfile::TempDir, tempfile::TempDir, Repo) {
        let local = repo();
        let bare = bare_origin(local.path());
        sh(local.path(), &["checkout", "-q", "-b", "orx/r1"]);
        let wt = Repo::discover(local.path()).unwrap();
        (local, bare, wt)
    }

    #[test]
    fn push_is_idempotent_and_fast_forwards() {
        let (local, bare, wt) = setup();
        assert_eq!(wt.remote_branch("origin", "orx/r1").unwrap(), Ok(None));
        let first = wt.push_branch("origin", "orx/r1", None).unwrap().unwrap();
        assert!(!first.already);
        assert_eq!(sh(bare.path(), &["rev-parse", "orx/r1"]), first.sha);
        let again = wt.push_branch("origin", "orx/r1", None).unwrap().unwrap();
        assert!(again.already);
        // A new commit on top: the lease is the commit pushed before.
        std::fs::write(local.path().join("c.txt"), "c\n").unwrap();
        sh(local.path(), &["add", "-A"]);
        sh(local.path(), &["commit", "-q", "-m", "more"]);
        let next = wt
            .push_branch("origin", "orx/r1", Some(&first.sha))
            .unwrap()
            .unwrap();
        assert!(!next.already);
        assert_eq!(sh(bare.path(), &["rev-parse", "orx/r1"]), next.sha);
        // Without the record, a remote commit that is our ancestor is a plain fast-forward.
        std::fs::write(local.path().join("d.txt"), "d\n").unwrap();
        sh(local.path(), &["add", "-A"]);
        sh(local.path(), &["commit", "-q", "-m", "more"]);
        let ff = wt.push_branch("origin", "orx/r1", None).unwrap().unwrap();
        assert_eq!(sh(bare.path(), &["rev-parse", "orx/r1"]), ff.sha);
    }

    #[test]
    fn a_diverged_remote_branch_is_rejected_not_overwritten() {
        let (local, bare, wt) = setup();
        // Someone else's branch of the same name, with a commit we do not have.
        let other = tempfile::tempdir().unwrap();
        sh(
            other.path(),
            &["clone", "-q", local.path().to_str().unwrap(), "."],
        );
        sh(
            other.path(),
            &["checkout", "-q", "-B", "orx/r1", "origin/main"],
        );
        std::fs::write(other.path().join("theirs.txt"), "theirs\n").unwrap();
        sh(other.path(), &["add", "-A"]);
        sh(other.path(), &["commit", "-q", "-m", "theirs"]);
        sh(
            other.path(),
            &["push", "-q", bare.path().to_str().unwrap(), "orx/r1:orx/r1"],
        );
        let theirs = sh(bare.path(), &["rev-parse", "orx/r1"]);
        let err = wt
            .push_branch("origin", "orx/r1", None)
            .unwrap()
            .unwrap_err();
        assert_eq!(err.failure, PushFailure::Rejected, "{}", err.detail);
        // A stale record of our own earlier push does not let us overwrite it either.
        let head = sh(local.path(), &["rev-parse", "HEAD"]);
        let err = wt
            .push_branch("origin", "orx/r1", Some(&head))
            .unwrap()
            .unwrap_err();
        assert_eq!(err.failure, PushFailure::Rejected, "{}", err.detail);
        assert_eq!(sh(bare.path(), &["rev-parse", "orx/r1"]), theirs);
    }

    #[test]
    fn relative_remote_urls_mean_what_they_mean_at_the_root() {
        let (local, bare, r) = setup();
        let rel = format!("../{}", bare.path().file_name().unwrap().to_str().unwrap());
        // The bare repository is a sibling of the checkout (both in the temp folder).
        assert_eq!(bare.path().parent(), local.path().parent());
        sh(local.path(), &["remote", "set-url", "origin", &rel]);
        let pushed = r.push_branch("origin", "orx/r1", None).unwrap().unwrap();
        assert_eq!(sh(bare.path(), &["rev-parse", "orx/r1"]), pushed.sha);
    }

    #[test]
    fn ssh_runs_in_batch_mode_unless_the_user_chose_an_ssh_command() {
        let tmp = repo();
        let git = Git::new(tmp.path());
        if std::env::var_os("GIT_SSH_COMMAND").is_none() && std::env::var_os("GIT_SSH").is_none() {
            let env = no_prompt_env(&git).unwrap();
            assert_eq!(env.len(), 1);
            assert_eq!(env[0].1, "ssh -o BatchMode=yes");
        }
        sh(tmp.path(), &["config", "core.sshCommand", "ssh -i /k"]);
        assert!(no_prompt_env(&git).unwrap().is_empty());
    }

    #[test]
    fn a_missing_remote_is_named() {
        let (local, _bare, wt) = setup();
        let err = wt
            .push_branch("nowhere", "orx/r1", None)
            .unwrap()
            .unwrap_err();
        assert_eq!(err.failure, PushFailure::RemoteMissing, "{}", err.detail);
        sh(
            local.path(),
            &["remote", "set-url", "origin", "/nonexistent/x.git"],
        );
        let err = wt
            .push_branch("origin", "orx/r1", None)
            .unwrap()
            .unwrap_err();
        assert_eq!(err.failure, PushFailure::RemoteMissing, "{}", err.detail);
        assert!(err.detail.contains("/nonexistent/x.git"), "{}", err.detail);
    }
}
