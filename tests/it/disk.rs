//! Disk and permissions: the run folder turning read-only, the worktree folder
//! deleted, and the disk filling up, each in the middle of a real run. Each must end in one
//! clear error line, leave state that `orx resume` continues once the condition is fixed, and
//! lose no commit: the resumed run's patch equals an undisturbed run's, and the item committed
//! before the fault is still in the branch.
//!
//! The faults are real, not simulated: a read-only bind mount over `runs/` and a small tmpfs as
//! `runs/`. orx runs as root in CI, where `chmod` does not stop a write, so a mount is the
//! only honest read-only folder. The test thread enters a mount namespace of its own first
//! (`unshare(CLONE_NEWNS)` applies to the calling thread and the processes it starts), so the
//! mounts are invisible to other tests and vanish with the thread even if the test panics.
//! Without root the read-only folder is made with `chmod` instead (which then works); without
//! mount rights the full-disk test prints why and passes without checking.
//!
//! The fault is triggered by a gate command at the second item's gate, so it always lands at
//! the same step: after W001 is committed, before the run can save W002's verification.

use std::ffi::CString;
use std::path::Path;
use std::process::Command;

use crate::support::*;

/// Enter a private mount namespace for this thread, or say why not.
fn private_mounts() -> Result<(), String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err("mounting needs root".into());
    }
    // SAFETY: unshare only changes this thread's namespaces; no memory is involved.
    if unsafe { libc::unshare(libc::CLONE_NEWNS) } != 0 {
        return Err(format!(
            "unshare(CLONE_NEWNS) failed: {}",
            std::io::Error::last_os_error()
        ));
    }
    let root = CString::new("/").unwrap();
    // SAFETY: valid C strings; null source/fstype/data are allowed for a propagation change.
    let rc = unsafe {
        libc::mount(
            std::ptr::null(),
            root.as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(format!(
            "making / private failed: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

fn sh(script: &str) -> Result<(), String> {
    let out = Command::new("sh")
        .args(["-c", script])
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{script}` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Skip (pass, with the reason printed) when the environment cannot mount.
macro_rules! or_skip {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(why) => {
                eprintln!("SKIPPED: {why}");
                return;
            }
        }
    };
}

/// Two passing items, W002 after W001.
fn scenario() -> String {
    format!(
        "plan: {}\nspec: {}\ndecompose: {}\nimplement:\n  W001: {}\n  W002: {}\nreview: {}\n",
        text_step("# Plan"),
        text_step("# Spec"),
        text_step(&backlog_text(&[("W001", &[]), ("W002", &["W001"])])),
        files_step(&[("one.txt", "one\n")]),
        files_step(&[("two.txt", "two\n")]),
        text_step(&approve("done")),
    )
}

/// A gate that runs `fault` (once) the second time it runs, i.e. at W002's gate.
fn config_with_fault(marks: &Path, fault: &str) -> String {
    let m1 = marks.join("first");
    let m2 = marks.join("second");
    let cmd = format!(
        "if [ ! -e {m1} ]; then touch {m1}; elif [ ! -e {m2} ]; then touch {m2}; {fault}; fi; true",
        m1 = m1.display(),
        m2 = m2.display(),
    );
    config_with_gates(&[("fault", &cmd)], "")
}

/// The patch an undisturbed run of the same scenario produces (computed once).
fn reference_patch() -> String {
    static PATCH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PATCH
        .get_or_init(|| {
            let repo = Repo::new(&config_with_gates(&[("fault", "true")], ""), &scenario());
            let r = repo.run("two files", &[]);
            r.expect_code(0);
            repo.read(&r.id, "artifacts/patch.diff")
        })
        .clone()
}

/// The commit on the run's branch whose message names `item`.
fn item_commit(repo: &Repo, id: &str, item: &str) -> String {
    let log = git(
        repo.path(),
        &["log", &format!("orx/{id}"), "--format=%H %s"],
    );
    log.lines()
        .find(|l| l.contains(item))
        .and_then(|l| l.split(' ').next())
        .unwrap_or_else(|| panic!("no commit for {item} on orx/{id}:\n{log}"))
        .to_string()
}

/// The failed run: one error line naming the cause, state that parses, W001 committed.
/// Returns W001's commit.
fn check_failed(repo: &Repo, r: &RunResult, cause: &str) -> String {
    // Exit 3: orx itself failed underneath (not a failed run, 1; not the user's mistake, 2).
    r.expect_code(3);
    let errors: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("error"))
        .collect();
    assert_eq!(errors.len(), 1, "one error line:\n{}", r.stderr);
    assert!(errors[0].contains(cause), "{}", r.stderr);
    assert!(
        r.stderr.contains("hint: "),
        "a hint says how to fix it:\n{}",
        r.stderr
    );
    eprintln!("{}", r.stderr);
    // Saved before the fault (`running`), or the fault recorded (`failed`): both resume.
    let state = repo.state(&r.id);
    assert!(
        state["status"] == "running" || state["status"] == "failed",
        "{state}"
    );
    let leftovers: Vec<String> = std::fs::read_dir(repo.run_dir(&r.id))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "half-written files: {leftovers:?}");
    item_commit(repo, &r.id, "W001")
}

/// Resume succeeds, the patch is the undisturbed one, W001's commit survived.
fn check_resumed(repo: &Repo, id: &str, w001: &str, reference: &str) {
    let out = RunResult::from(repo.orx(&["resume", id, "--no-progress"]));
    out.expect_code(0);
    assert_eq!(repo.state(id)["status"], "succeeded");
    assert_eq!(repo.read(id, "artifacts/patch.diff"), reference);
    git(
        repo.path(),
        &["merge-base", "--is-ancestor", w001, &format!("orx/{id}")],
    );
    item_commit(repo, id, "W002");
}

/// The run id of the one run folder (the run failed before printing it, maybe).
fn only_run(repo: &Repo) -> String {
    let mut ids: Vec<String> = std::fs::read_dir(repo.path().join("runs"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.') && n != "filler")
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    ids.remove(0)
}

#[test]
fn a_run_folder_turned_read_only_fails_clearly_and_resumes_once_writable() {
    let marks = tempfile::tempdir().unwrap();
    let reference = reference_patch();
    let repo = Repo::new("", &scenario());
    let runs = repo.path().join("runs");
    // As root (CI) a read-only bind mount; otherwise `chmod`, which then does stop writes.
    let mounts = private_mounts().and_then(|()| {
        let probe = tempfile::tempdir().map_err(|e| e.to_string())?;
        sh(&format!(
            "mount --bind {0} {0} && mount -o remount,bind,ro {0} && umount {0}",
            probe.path().display()
        ))
    });
    let (fault, cause, fix) = match mounts {
        Ok(()) => (
            format!(
                "mount --bind {0} {0} && mount -o remount,bind,ro {0}",
                runs.display()
            ),
            "Read-only file system",
            format!("umount {}", runs.display()),
        ),
        Err(why) => {
            eprintln!("no read-only mount ({why}): using chmod instead");
            (
                format!("chmod a-w {}/*", runs.display()),
                "Permission denied",
                format!("chmod u+w {}/*", runs.display()),
            )
        }
    };
    std::fs::write(
        repo.path().join("orx.yaml"),
        config_with_fault(marks.path(), &fault),
    )
    .unwrap();
    let mut r = repo.run("two files", &[]);
    if r.id.is_empty() {
        r.id = only_run(&repo);
    }
    let w001 = check_failed(&repo, &r, cause);
    sh(&fix).unwrap();
    check_resumed(&repo, &r.id, &w001, &reference);
}

#[test]
fn a_full_disk_fails_clearly_and_resumes_once_space_is_freed() {
    or_skip!(private_mounts());
    let marks = tempfile::tempdir().unwrap();
    let reference = reference_patch();
    let repo = Repo::new("", &scenario());
    let runs = repo.path().join("runs");
    std::fs::create_dir(&runs).unwrap();
    or_skip!(sh(&format!(
        "mount -t tmpfs -o size=4m orx-full-disk {}",
        runs.display()
    )));
    let filler = runs.join("filler");
    let fault = format!("cat /dev/zero > {} 2>/dev/null", filler.display());
    std::fs::write(
        repo.path().join("orx.yaml"),
        config_with_fault(marks.path(), &fault),
    )
    .unwrap();
    let mut r = repo.run("two files", &[]);
    if r.id.is_empty() {
        r.id = only_run(&repo);
    }
    let w001 = check_failed(&repo, &r, "No space left on device");
    std::fs::remove_file(&filler).unwrap();
    check_resumed(&repo, &r.id, &w001, &reference);
    let _ = sh(&format!("umount {}", runs.display()));
}

#[test]
fn a_worktree_deleted_mid_run_fails_clearly_and_resume_rebuilds_it() {
    let marks = tempfile::tempdir().unwrap();
    let reference = reference_patch();
    let repo = Repo::new(
        &config_with_fault(marks.path(), "rm -rf \"$PWD\""),
        &scenario(),
    );
    let r = repo.run("two files", &[]);
    let w001 = check_failed(&repo, &r, "no longer exists");
    check_resumed(&repo, &r.id, &w001, &reference);
}
