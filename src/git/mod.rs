//! Everything orx does with git: in-process through libgit2 where the work is inside the object
//! database, and the one place that runs the `git` binary where git itself is the better tool.
//!
//! orx never touches the user's checkout: each run works in a worktree of its own at
//! `<root>/.worktrees/<run_id>` on branch `orx/<run_id>` ([`Repo`], in `repo.rs` and
//! `worktree.rs`), and checkpoints that worktree as plain commit objects kept alive under
//! `refs/orx/<run_id>/...` ([`Worktree`], in `snapshot.rs`), and pushes the run branch to the
//! user's remote (`remote.rs`).
//!
//! Reads (heads, refs, config, trees, diffs between trees and their patch text, ancestry) and
//! object writes (blobs, trees, commits, ref updates) run in-process with `git2`
//! (`handle.rs`), so a happy run starts a handful of git processes instead of about a hundred.
//! The git binary stays where it is the better tool:
//!
//! - `worktree add/remove/prune`: git owns the worktree registry and its locking rules. Only
//!   reading the registry (which worktrees, on which branch) is done in-process
//!   (`registry.rs`), a new run branch is made in-process before `worktree add
//!   --no-checkout`, and a small plain tree is then checked out in-process where that is
//!   exact (`switch.rs`); anywhere else git's own `reset --hard` checks it out, through the
//!   user's smudge filters.
//! - `push` and `ls-remote` (`remote.rs`): the user's remotes, `insteadOf`, SSH keys and
//!   credential helpers work exactly as they do for them; libgit2 is built without transports.
//! - `merge-tree` (`integrate.rs`): one call that gives the merged tree and the conflicting
//!   paths, with git's own merge machinery; only parallel lanes use it.
//! - `reset --hard`, `clean`, `read-tree -u`, `check-ignore`: they write or judge working files,
//!   through the user's filters (`git-lfs`) and git's caches.
//! - the working-tree scan on large repositories or where a filter driver is configured
//!   (`scan.rs` says where the line is and what measured it).
//!
//! Every git process goes through [`Git`], which pins what must not vary between machines: the
//! C locale (so messages can be parsed), no terminal prompts, no user hooks (a checkpoint
//! commit must not run the user's pre-commit lint), no inherited `GIT_DIR`-style variables that
//! would point git somewhere else, and a fallback identity so commits work on a fresh machine.
//! The extra environment is data on the runner, so tests can point git at an empty `HOME`
//! without touching the process environment; the in-process side honours it too.

mod attributes;
mod compare;
mod error;
mod gitdir;
mod handle;
mod ignores_and_refs;
mod integrate;
mod quarantine;
mod registry;
mod remote;
mod repo;
mod scan;
mod snapshot;
pub mod spawns;
mod stale_locks;
mod switch;
pub mod version;
mod worktree;

pub use error::GitError;
pub use integrate::Merged;
pub use quarantine::WorkingState;
pub use remote::{classify_push_failure, PushError, PushFailure, Pushed};
pub use repo::Repo;
pub use worktree::Worktree;

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use error::Result;

/// Variables that would redirect git away from the directory it is run in.
const REDIRECTING_VARS: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_COMMON_DIR",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
];

/// Where hooks are looked up: a path that can hold no hook, so user hooks never run.
const NO_HOOKS: &str = if cfg!(windows) {
    "core.hooksPath=NUL"
} else {
    "core.hooksPath=/dev/null"
};

/// The identity used for commits when the repository and the user configure none.
const FALLBACK_NAME: &str = "orx";
const FALLBACK_EMAIL: &str = "orx@localhost";

/// Runs `git` in one directory with a fixed, predictable environment.
#[derive(Debug, Clone)]
pub struct Git {
    /// The directory git runs in (a checkout or worktree top level).
    pub dir: PathBuf,
    /// Variables added to every call, after orx's own (tests use it to isolate `HOME`).
    pub extra_env: Vec<(OsString, OsString)>,
    /// The run whose lock this process holds, when these calls are that run's: each git
    /// process is then started with the run's other processes ([`crate::exec::helper`]), so a
    /// resume after a `kill -9` of orx finds a push still running and stops it first.
    pub run_id: Option<Arc<str>>,
}

/// What a finished git process left behind.
#[derive(Debug, Clone)]
pub struct GitOutput {
    /// The exit code, `None` when git was killed by a signal.
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl GitOutput {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
    /// Standard output as text, with the trailing newline removed.
    pub fn text(&self) -> String {
        let s = String::from_utf8_lossy(&self.stdout);
        s.strip_suffix('\n').unwrap_or(&s).to_string()
    }
    /// The first non-empty line of standard error, the part worth putting in a message.
    pub fn first_error_line(&self) -> String {
        String::from_utf8_lossy(&self.stderr)
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("no error output")
            .to_string()
    }
}

/// One git invocation being assembled: arguments, extra variables and optional stdin.
pub struct GitCall<'a> {
    git: &'a Git,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    stdin: Option<Vec<u8>>,
}

impl Git {
    pub fn new(dir: impl Into<PathBuf>) -> Git {
        Git {
            dir: dir.into(),
            extra_env: Vec::new(),
            run_id: None,
        }
    }

    /// The same runner making the git processes of run `run_id` (see [`Git::run_id`]).
    pub fn in_run(mut self, run_id: Option<Arc<str>>) -> Git {
        self.run_id = run_id;
        self
    }

    /// The same runner with one more variable in every call's environment.
    pub fn with_env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Git {
        self.extra_env.push((key.into(), value.into()));
        self
    }

    /// The same runner pointed at another directory, keeping the extra environment.
    pub fn at(&self, dir: impl Into<PathBuf>) -> Git {
        Git {
            dir: dir.into(),
            extra_env: self.extra_env.clone(),
            run_id: self.run_id.clone(),
        }
    }

    /// Start a call with these arguments (everything after `git`).
    pub fn call<I, S>(&self, args: I) -> GitCall<'_>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        GitCall {
            git: self,
            args: args.into_iter().map(|a| a.as_ref().to_owned()).collect(),
            env: Vec::new(),
            stdin: None,
        }
    }

    /// Run a call that must succeed and return its standard output without the last newline.
    pub fn run<I, S>(&self, args: I) -> Result<String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.call(args).run()
    }

    /// The value of a config key as git resolves it here, empty when unset (read in-process).
    pub fn config_value(&self, key: &str) -> Result<String> {
        let op = format!("config --get {key}");
        handle::with_repo(self, &op, |repo| {
            handle::config_string(&handle::config(self, repo)?, key)
        })
    }

    /// Variables that give commits an author and committer when none is configured.
    ///
    /// A variable already set in the environment (the process's or [`Git::extra_env`]) wins,
    /// so a CI job that exports `GIT_AUTHOR_EMAIL` keeps its identity.
    ///
    /// Every checkpoint commit needs this, so the answer is read once per process for each
    /// directory and environment: a run is one process, and an identity configured while it
    /// runs applies from the next run on.
    pub fn identity_env(&self) -> Result<Vec<(OsString, OsString)>> {
        type Key = (PathBuf, Vec<(OsString, OsString)>);
        type Cache = Mutex<HashMap<Key, Vec<(OsString, OsString)>>>;
        static CACHE: OnceLock<Cache> = OnceLock::new();
        let cache = CACHE.get_or_init(Cache::default);
        let key = (self.dir.clone(), self.extra_env.clone());
        let lock = || cache.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(env) = lock().get(&key) {
            return Ok(env.clone());
        }
        let env = self.identity_env_uncached()?;
        lock().insert(key, env.clone());
        Ok(env)
    }

    fn identity_env_uncached(&self) -> Result<Vec<(OsString, OsString)>> {
        let email_missing = self.config_value("user.email")?.is_empty();
        let name_missing = email_missing || self.config_value("user.name")?.is_empty();
        let mut env = Vec::new();
        let mut add = |key: &str, value: &str| {
            let set_here = self.extra_env.iter().any(|(k, _)| k == key);
            let set_outside = std::env::var_os(key).is_some_and(|v| !v.is_empty());
            if !set_here && !set_outside {
                env.push((OsString::from(key), OsString::from(value)));
            }
        };
        if name_missing {
            add("GIT_AUTHOR_NAME", FALLBACK_NAME);
            add("GIT_COMMITTER_NAME", FALLBACK_NAME);
        }
        if email_missing {
            add("GIT_AUTHOR_EMAIL", FALLBACK_EMAIL);
            add("GIT_COMMITTER_EMAIL", FALLBACK_EMAIL);
        }
        Ok(env)
    }

    /// The error for a git call that exited non-zero: the command and git's first stderr line.
    pub fn failure<S: AsRef<OsStr>>(&self, args: &[S], out: &GitOutput) -> GitError {
        let cmd: Vec<String> = args
            .iter()
            .map(|a| a.as_ref().to_string_lossy().into_owned())
            .collect();
        GitError::Failed {
            command: cmd.join(" "),
            dir: self.dir.clone(),
            detail: out.first_error_line(),
        }
    }
}

impl GitCall<'_> {
    /// Add a variable for this call only.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Add several variables for this call only.
    pub fn envs(mut self, vars: Vec<(OsString, OsString)>) -> Self {
        self.env.extend(vars);
        self
    }

    /// Feed these bytes to git's standard input (then close it).
    pub fn stdin(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(input.into());
        self
    }

    /// Run git and return whatever it produced, whatever its exit code.
    pub fn output(self) -> Result<GitOutput> {
        tracing::debug!(dir = %self.git.dir.display(), args = ?self.args, "git");
        let mut cmd = Command::new("git");
        // Its own process group: the terminal's Ctrl-C goes to orx alone, which finishes the
        // current git step and then stops at a checkpoint, instead of git dying half-way
        // through an update-ref and leaving a lock file behind.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        cmd.arg("-c").arg(NO_HOOKS).args(&self.args);
        cmd.current_dir(&self.git.dir);
        for var in REDIRECTING_VARS {
            cmd.env_remove(var);
        }
        cmd.env("LC_ALL", "C")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_PAGER", "cat");
        cmd.envs(self.git.extra_env.iter().cloned());
        cmd.envs(self.env.iter().cloned());
        let placed = self.git.run_id.as_deref().and_then(|run| {
            // The marks the `/proc` scan after a crash looks for where there is no cgroup: the
            // run, and that this is its git (let finish, never signalled halfway).
            cmd.env("ORX_RUN_ID", run)
                .env(crate::exec::helper::HELPER_ENV, "git");
            crate::exec::helper::output_in_run(&mut cmd, run, self.stdin.clone())
        });
        let out = placed
            .unwrap_or_else(|| crate::exec::helper::output(&mut cmd, self.stdin.clone()))
            .map_err(|e| self.spawn_error(e))?;
        spawns::count_one();
        Ok(GitOutput {
            code: out.code,
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }

    /// Run git, require exit code 0, and return stdout without its last newline.
    pub fn run(self) -> Result<String> {
        let git = self.git;
        let args = self.args.clone();
        let out = self.output()?;
        if out.success() {
            Ok(out.text())
        } else {
            Err(git.failure(&args, &out))
        }
    }

    /// Run git and return its exit code; a code outside `allowed` is an error.
    pub fn code(self, allowed: &[i32]) -> Result<i32> {
        let git = self.git;
        let args = self.args.clone();
        let out = self.output()?;
        match out.code {
            Some(c) if allowed.contains(&c) => Ok(c),
            _ => Err(git.failure(&args, &out)),
        }
    }

    fn spawn_error(&self, err: std::io::Error) -> GitError {
        let subcommand = self
            .args
            .first()
            .map(|a| a.to_string_lossy().into_owned())
            .unwrap_or_default();
        let dir = self.git.dir.clone();
        if !dir.is_dir() {
            // The folder went away under orx (a worktree deleted mid-run), not git.
            return GitError::FolderGone {
                subcommand,
                dir,
                source: err,
            };
        }
        GitError::Spawn {
            subcommand,
            dir,
            source: err,
        }
    }
}

/// `path` made absolute and free of symlinks where it exists, so two spellings compare equal.
///
/// A path that does not exist yet keeps its last component under its canonical parent.
pub(crate) fn normalize(path: &Path) -> PathBuf {
    if let Ok(p) = path.canonicalize() {
        return p;
    }
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) if !parent.as_os_str().is_empty() => {
            normalize(parent).join(name)
        }
        _ => path.to_path_buf(),
    }
}

#[cfg(test)]
#[path = "../../tests/it/git_setup.rs"]
mod git_setup;

#[cfg(test)]
pub(crate) mod testutil {
    //! The unit tests' names for the git setup every test shares (`tests/it/git_setup.rs`).
    pub use super::git_setup::{bare_origin, git as sh};
    use std::path::Path;

    /// A fresh repository with one commit holding `a.txt` and `b.txt`, on branch `main`.
    pub fn repo() -> tempfile::TempDir {
        super::git_setup::repo_with(&[("a.txt", "a\n"), ("b.txt", "b\n")])
    }

    pub fn status(dir: &Path) -> String {
        sh(dir, &["status", "--porcelain", "--untracked-files=all"])
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::{repo, sh};
    use super::*;

    #[test]
    fn failures_name_the_command_and_the_first_stderr_line() {
        let tmp = repo();
        let err = Git::new(tmp.path())
            .run(["rev-parse", "--verify", "no-such-rev"])
            .unwrap_err();
        let GitError::Failed {
            command, detail, ..
        } = &err
        else {
            panic!("{err:?}")
        };
        assert_eq!(command, "rev-parse --verify no-such-rev");
        assert!(detail.contains("fatal"), "{detail}");
        let message = err.to_string();
        assert!(
            message.contains("git rev-parse --verify no-such-rev"),
            "{message}"
        );
    }

    #[test]
    fn stdin_reaches_git() {
        let tmp = repo();
        let sha = Git::new(tmp.path())
            .call(["hash-object", "-w", "--stdin"])
            .stdin("hello\n")
            .run()
            .unwrap();
        let back = Git::new(tmp.path()).run(["cat-file", "-p", &sha]).unwrap();
        assert_eq!(back, "hello");
    }

    #[test]
    fn identity_falls_back_to_orx_only_when_none_is_configured() {
        let tmp = repo();
        let home = tempfile::tempdir().unwrap();
        let bare = Git::new(tmp.path())
            .with_env("HOME", home.path())
            .with_env("XDG_CONFIG_HOME", home.path())
            .with_env("GIT_CONFIG_NOSYSTEM", "1");
        let env = bare.identity_env().unwrap();
        if std::env::var_os("GIT_AUTHOR_EMAIL").is_none() {
            assert!(env
                .iter()
                .any(|(k, v)| k == "GIT_AUTHOR_EMAIL" && v == FALLBACK_EMAIL));
        }
        sh(tmp.path(), &["config", "user.email", "me@example.com"]);
        sh(tmp.path(), &["config", "user.name", "Me"]);
        // Read once per process and directory: the same runner keeps its first answer, a
        // new directory (here a subfolder of the same repository) reads the new config.
        assert_eq!(bare.identity_env().unwrap(), env);
        std::fs::create_dir(tmp.path().join("sub")).unwrap();
        assert!(bare
            .at(tmp.path().join("sub"))
            .identity_env()
            .unwrap()
            .is_empty());
    }

    #[test]
    fn normalize_handles_missing_leaves() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().canonicalize().unwrap();
        assert_eq!(normalize(&tmp.path().join("x/y")), real.join("x/y"));
        assert_eq!(normalize(tmp.path()), real);
    }
}
