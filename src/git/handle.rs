//! The in-process side of orx's git work: libgit2 (the `git2` crate) handles on a repository,
//! the config they read, and the identity commits are made with.
//!
//! Everything that happens inside the object database (heads, refs, config, trees, diffs
//! between trees, ancestry, and writing blobs, trees, commits and refs) runs in-process through
//! a `git2::Repository`: a git process costs 2-5 ms to start, and a run used to start about a
//! hundred of them for reads that take microseconds here. What touches the working files,
//! the worktree registry or a remote stays with the git binary (`mod.rs` says which and why).
//!
//! A `git2::Repository` is `Send` but not `Sync`, and lanes run on threads, each in its own
//! worktree. So each thread keeps its own handles, one per folder, in a thread-local map
//! ([`with_repo`]): no lock is ever held across a libgit2 call, a lane never waits for
//! another lane's diff, and a single-threaded run opens each folder once for the whole
//! process. A handle is taken out of the map while in use and put back after, so a call
//! that needs the handle again (a diff inside a snapshot) opens a second one instead of
//! panicking on a double borrow. Handles read refs and loose objects from disk on every call
//! and re-scan packs when an object is missing, so objects and refs written by the git binary
//! or by an agent are seen at once.
//!
//! Config is read as git reads it for the folder, except that [`Git::extra_env`]'s `HOME`,
//! `XDG_CONFIG_HOME` and `GIT_CONFIG_NOSYSTEM` are honoured by building the config from its
//! files (libgit2 reads the process environment once), so the tests that point git at an empty
//! home keep working. A libgit2 failure is a [`GitError::InProcess`] naming the operation and
//! libgit2's message, or [`GitError::FolderGone`] when the folder went away under orx.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use git2::{Config, ConfigLevel, Oid, Repository, Signature};

use super::error::{GitError, Result};
use super::{Git, FALLBACK_EMAIL, FALLBACK_NAME};

thread_local! {
    /// This thread's open handles, by the folder they were opened from.
    static HANDLES: RefCell<HashMap<PathBuf, Repository>> = RefCell::new(HashMap::new());
    /// Handles a dropped quarantine left (`quarantine.rs`), by folder: apart from [`HANDLES`],
    /// as their object database is the quarantine's, never the repository's.
    static QUARANTINE_HANDLES: RefCell<HashMap<PathBuf, Repository>> =
        RefCell::new(HashMap::new());
}

/// Open the repository containing `dir` (a checkout, a linked worktree or a folder inside one).
pub(super) fn open(dir: &Path) -> std::result::Result<Repository, git2::Error> {
    Repository::open_ext(
        dir,
        git2::RepositoryOpenFlags::empty(),
        std::iter::empty::<&OsStr>(),
    )
}

/// Run `f` with this thread's handle on the repository at `git.dir`; `op` names the work in
/// an error.
pub(super) fn with_repo<T>(
    git: &Git,
    op: &str,
    f: impl FnOnce(&Repository) -> std::result::Result<T, git2::Error>,
) -> Result<T> {
    let cached = HANDLES.with(|h| h.borrow_mut().remove(&git.dir));
    let repo = match cached {
        Some(repo) => repo,
        None => open(&git.dir).map_err(|e| failure(&git.dir, op, e))?,
    };
    let out = f(&repo).map_err(|e| failure(&git.dir, op, e));
    HANDLES.with(|h| h.borrow_mut().insert(git.dir.clone(), repo));
    out
}

/// This thread's handle on `dir` that a dropped quarantine left, if any.
pub(super) fn take_quarantine_handle(dir: &Path) -> Option<Repository> {
    QUARANTINE_HANDLES.with(|h| h.borrow_mut().remove(dir))
}

/// Keep a dropped quarantine's handle on `dir` for the next quarantine on it.
pub(super) fn keep_quarantine_handle(dir: &Path, repo: Repository) {
    QUARANTINE_HANDLES.with(|h| h.borrow_mut().insert(dir.to_path_buf(), repo));
}

/// Forget this thread's handles on `dir` (its worktree is being removed).
pub(super) fn forget(dir: &Path) {
    HANDLES.with(|h| h.borrow_mut().remove(dir));
    QUARANTINE_HANDLES.with(|h| h.borrow_mut().remove(dir));
}

/// The error for a libgit2 call that failed in `dir`.
pub(super) fn failure(dir: &Path, op: &str, err: git2::Error) -> GitError {
    if !dir.is_dir() {
        // The folder went away under orx (a worktree deleted mid-run), not libgit2.
        return GitError::FolderGone {
            subcommand: op.to_string(),
            dir: dir.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, err.message().to_string()),
        };
    }
    GitError::InProcess {
        op: op.to_string(),
        dir: dir.to_path_buf(),
        detail: err.message().to_string(),
    }
}

/// The object `spec` names (`HEAD`, a branch, a sha, `X^{tree}`), as git's `rev-parse` reads it.
pub(super) fn resolve(repo: &Repository, spec: &str) -> std::result::Result<Oid, git2::Error> {
    repo.revparse_single(spec).map(|o| o.id())
}

/// The tree of `rev` (a commit or a tree).
pub(super) fn tree_id(repo: &Repository, rev: &str) -> std::result::Result<Oid, git2::Error> {
    repo.revparse_single(rev)?.peel_to_tree().map(|t| t.id())
}

/// An object id from orx's own text (a sha another call returned).
pub(super) fn oid(text: &str) -> std::result::Result<Oid, git2::Error> {
    Oid::from_str(text)
}

/// The config git would read in `git.dir`, with [`Git::extra_env`]'s home and system switches.
pub(super) fn config(git: &Git, repo: &Repository) -> std::result::Result<Config, git2::Error> {
    let var = |key: &str| -> Option<OsString> {
        git.extra_env
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    let (home, xdg, nosystem) = (
        var("HOME"),
        var("XDG_CONFIG_HOME"),
        var("GIT_CONFIG_NOSYSTEM"),
    );
    if home.is_none() && xdg.is_none() && nosystem.is_none() {
        return repo.config();
    }
    let home = home.or_else(|| std::env::var_os("HOME"));
    let xdg = xdg
        .or_else(|| std::env::var_os("XDG_CONFIG_HOME"))
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| Path::new(h).join(".config")));
    let mut cfg = Config::new()?;
    let mut add = |path: PathBuf, level: ConfigLevel| -> std::result::Result<(), git2::Error> {
        if path.is_file() {
            cfg.add_file(&path, level, false)?;
        }
        Ok(())
    };
    if nosystem.is_none_or(|v| v.is_empty() || v == "0" || v == "false") {
        if let Ok(system) = Config::find_system() {
            add(system, ConfigLevel::System)?;
        }
    }
    if let Some(xdg) = xdg {
        add(xdg.join("git/config"), ConfigLevel::XDG)?;
    }
    if let Some(home) = home {
        add(Path::new(&home).join(".gitconfig"), ConfigLevel::Global)?;
    }
    add(repo.commondir().join("config"), ConfigLevel::Local)?;
    Ok(cfg)
}

/// A config value as git resolves it, empty when unset.
pub(super) fn config_string(cfg: &Config, key: &str) -> std::result::Result<String, git2::Error> {
    match cfg.get_string(key) {
        Ok(v) => Ok(v.trim().to_string()),
        Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(String::new()),
        Err(e) => Err(e),
    }
}

/// Whether a config value is one of git's spellings of off (`false`, `no`, `off`, `0`, or
/// empty), for keys that also take values other than booleans.
pub(super) fn config_off(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "" | "false" | "0" | "no" | "off"
    )
}

/// A date in git's internal form, `<seconds> <+hhmm>` or `@<seconds> <+hhmm>` (the form
/// scripts set `GIT_AUTHOR_DATE` to for reproducible commits); `None` for any other form.
fn raw_date(text: &str) -> Option<git2::Time> {
    let (secs, zone) = text.trim().trim_start_matches('@').split_once(' ')?;
    let secs: i64 = secs.parse().ok()?;
    let zone = zone.trim();
    let (sign, digits) = match zone.split_at_checked(1)? {
        ("+", d) => (1, d),
        ("-", d) => (-1, d),
        _ => return None,
    };
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hours: i32 = digits[..2].parse().ok()?;
    let minutes: i32 = digits[2..].parse().ok()?;
    Some(git2::Time::new(secs, sign * (hours * 60 + minutes)))
}

/// The author and committer of a commit made now in `repo`: the `GIT_AUTHOR_*` and
/// `GIT_COMMITTER_*` variables ([`Git::extra_env`], then the process's) where set, else the
/// configured identity, else orx's fallback, exactly as [`Git::identity_env`] makes git choose;
/// dated now unless `GIT_AUTHOR_DATE`/`GIT_COMMITTER_DATE` give git's raw form.
pub(super) fn signatures(
    git: &Git,
    repo: &Repository,
) -> Result<(Signature<'static>, Signature<'static>)> {
    let fallback = git.identity_env()?;
    let sign = |who: &str| -> std::result::Result<Signature<'static>, git2::Error> {
        let var = |key: String| -> Option<String> {
            fallback
                .iter()
                .chain(git.extra_env.iter().rev())
                .find(|(k, _)| *k == *key)
                .map(|(_, v)| v.to_string_lossy().into_owned())
                .or_else(|| std::env::var(&key).ok())
                .filter(|v| !v.is_empty())
        };
        let cfg = config(git, repo)?;
        let configured = |keys: [String; 2]| -> std::result::Result<Option<String>, git2::Error> {
            for key in keys {
                let v = config_string(&cfg, &key)?;
                if !v.is_empty() {
                    return Ok(Some(v));
                }
            }
            Ok(None)
        };
        let lower = who.to_ascii_lowercase();
        let name = match var(format!("GIT_{who}_NAME")) {
            Some(v) => v,
            None => configured([format!("{lower}.name"), "user.name".into()])?
                .unwrap_or_else(|| FALLBACK_NAME.to_string()),
        };
        let email = match var(format!("GIT_{who}_EMAIL")) {
            Some(v) => v,
            None => configured([format!("{lower}.email"), "user.email".into()])?
                .unwrap_or_else(|| FALLBACK_EMAIL.to_string()),
        };
        match var(format!("GIT_{who}_DATE")).and_then(|d| raw_date(&d)) {
            Some(when) => Signature::new(&name, &email, &when),
            None => Signature::now(&name, &email),
        }
    };
    let author = sign("AUTHOR").map_err(|e| failure(&git.dir, "read the commit identity", e))?;
    let committer =
        sign("COMMITTER").map_err(|e| failure(&git.dir, "read the commit identity", e))?;
    Ok((author, committer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_dates_parse_and_other_forms_do_not() {
        let t = raw_date("1700000000 +0130").unwrap();
        assert_eq!((t.seconds(), t.offset_minutes()), (1_700_000_000, 90));
        let t = raw_date("@1700000000 -0500").unwrap();
        assert_eq!((t.seconds(), t.offset_minutes()), (1_700_000_000, -300));
        for other in ["2024-01-01T00:00:00Z", "1700000000", "x +0000", "1 +01", ""] {
            assert!(raw_date(other).is_none(), "{other}");
        }
    }

    #[test]
    fn a_commit_takes_the_raw_dates_from_the_environment() {
        let tmp = crate::git::testutil::repo();
        let git = Git::new(tmp.path())
            .with_env("GIT_AUTHOR_DATE", "1700000000 +0100")
            .with_env("GIT_COMMITTER_DATE", "@1700000100 +0000");
        let repo = open(tmp.path()).unwrap();
        let (author, committer) = signatures(&git, &repo).unwrap();
        assert_eq!(author.when().seconds(), 1_700_000_000);
        assert_eq!(author.when().offset_minutes(), 60);
        assert_eq!(committer.when().seconds(), 1_700_000_100);
    }
}
