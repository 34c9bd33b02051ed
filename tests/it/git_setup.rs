//! Git for test setup, in one copy for every test: the integration suite declares it as a
//! module (`mod git_setup`), and the unit tests under `src/git/` include this very file with
//! `#[path]` (as `git::testutil`). It runs git in a folder, makes a repository with a first
//! commit, and gives a repository a bare `origin`.
//!
//! It uses only std and tempfile, so it compiles in both places. Each call is shielded from the
//! caller's git setup the way orx's own git calls are: no inherited `GIT_DIR`-style variables,
//! no hooks, the C locale, and an identity given on the command line only (nothing is written to
//! a repository's config, so a test can still see a repository without one).

use std::path::Path;
use std::process::Command;

/// Variables that would point git at another repository than the folder it runs in.
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

/// Run git in `dir` and return its stdout without trailing whitespace; panics with git's
/// stderr when git fails.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let mut cmd = Command::new("git");
    cmd.args(["-c", "core.hooksPath=/dev/null"])
        .args([
            "-c",
            "user.name=orx test",
            "-c",
            "user.email=t@example.invalid",
        ])
        .args(args)
        .current_dir(dir)
        .env("LC_ALL", "C")
        .env("GIT_TERMINAL_PROMPT", "0");
    for var in REDIRECTING_VARS {
        cmd.env_remove(var);
    }
    let out = cmd.output().expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim_end().to_string()
}

/// A fresh repository on `main` whose first commit holds `files` (path, content).
pub fn repo_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    git(dir, &["init", "-q", "-b", "main"]);
    for (path, text) in files {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("make a first file's folder");
        }
        std::fs::write(path, text).expect("write a first file");
    }
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "init"]);
    tmp
}

/// A bare repository holding `main` of the repository at `repo`, added to it as `origin`.
pub fn bare_origin(repo: &Path) -> tempfile::TempDir {
    let bare = tempfile::tempdir().expect("tempdir");
    git(bare.path(), &["init", "-q", "--bare", "-b", "main"]);
    let url = bare.path().to_str().expect("temp paths are UTF-8");
    git(repo, &["remote", "add", "origin", url]);
    git(repo, &["push", "-q", "origin", "main"]);
    bare
}
