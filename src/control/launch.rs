//! Driving runs from outside: start, resume, cancel and clean.
//!
//! A run started from the server must outlive the server, so it is not a thread of
//! the server but a separate `orx run` process, spawned *detached*: in a session of its own
//! (`setsid`, so a Ctrl-C or SIGTERM to the server's terminal or process group never reaches
//! it), stdin from /dev/null, stdout and stderr appended to `runs/.launch/<id>.log`. A reaper
//! thread waits on it so it never lingers as a zombie while the server lives; when the server
//! dies first, init adopts it. The server picks the run id (`orx run --run-id`) so it can
//! answer at once; it waits only until the child created the run (its meta.json) or died, so that a
//! task the runner rejects (unknown pipeline, broken orx.yaml) is reported as the runner's own
//! one-line error instead of a run that never appears. The task is handed over in a file
//! (`@runs/.launch/<id>.task.md`), never on the command line, so a task that starts with `@`
//! cannot make the runner read an arbitrary file. Cancel sends SIGINT to the process holding
//! the run's lock: the runner stops gracefully and records `interrupted`, which is resumable.
//! The server's token is removed from the child's environment.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{Control, Workspace};
use crate::agents::registry::NAMES;
use crate::config::{MAX_CANDIDATES, MAX_PARALLEL};
use crate::error::{ErrorKind, OrxError, Result};
use crate::exec::pidfd::{ProcessHandle, Signalled};
use crate::model::{RunState, RunStatus, Stage};
use crate::store::layout::{new_run_id, LAUNCH_DIR, RUNS_DIR};
use crate::store::lock::{holder_alive, process_start_time, read_holder};
use crate::store::RunPaths;

/// The executors `engine` may name: every one of the registry.
pub const ENGINES: [&str; NAMES.len()] = NAMES;
/// How long a launch waits for the child to create its run folder (or fail).
const START_WAIT: Duration = Duration::from_secs(10);

/// What to start.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LaunchRequest {
    pub task: String,
    #[serde(default)]
    pub engine: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub base_branch: Option<String>,
    #[serde(default)]
    pub pipeline: Option<String>,
    /// The served repository (its name); default the first.
    #[serde(default)]
    pub repo: Option<String>,
    /// Stages after which the run stops for a person's approval (`--approve`), besides
    /// `run.approve`.
    #[serde(default)]
    pub approve: Vec<String>,
    /// Backlog items worked at once (`--parallel`); default `run.max_parallel`.
    #[serde(default)]
    pub parallel: Option<u32>,
    /// Candidates racing on each item (`--candidates`); default `stages.implement.candidates`.
    #[serde(default)]
    pub candidates: Option<u32>,
}

/// Refuse approval stages, a lane count and a candidate count `orx run` would refuse, with the same words, so a
/// client learns it from its own request rather than from a run that never appears.
fn check_steering(req: &LaunchRequest) -> Result<()> {
    let approvable: Vec<&str> = Stage::APPROVABLE.iter().map(|s| s.as_str()).collect();
    for name in &req.approve {
        if !approvable.contains(&name.trim()) {
            return Err(OrxError::usage(format!(
                "`approve` names `{name}`, which is not a stage a run can stop after"
            ))
            .with_hint(format!("name stages from {}", approvable.join(", "))));
        }
    }
    for (what, v, max, hint) in [
        (
            "parallel",
            req.parallel,
            MAX_PARALLEL,
            "backlog items to work at once",
        ),
        (
            "candidates",
            req.candidates,
            MAX_CANDIDATES,
            "candidates to race on each item",
        ),
    ] {
        if let Some(n) = v.filter(|n| !(1..=max).contains(n)) {
            return Err(
                OrxError::usage(format!("`{what}` is {n}, outside 1 to {max}"))
                    .with_hint(format!("give the number of {hint}, 1 to {max}")),
            );
        }
    }
    Ok(())
}

/// A run that was started or resumed.
#[derive(Debug, Clone, Serialize)]
pub struct Launched {
    pub run_id: String,
    pub repo: String,
    /// The launched process (it may already have finished).
    pub pid: u32,
    /// Its stdout and stderr, relative to the repository.
    pub log: String,
}

impl Launched {
    /// Run `id` of workspace `w`, driven by `pid`, logging to the launch log of that id.
    fn new(w: &Workspace, id: &str, pid: u32) -> Launched {
        Launched {
            run_id: id.to_string(),
            repo: w.name.clone(),
            pid,
            log: format!("{RUNS_DIR}/{LAUNCH_DIR}/{id}.log"),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CancelResult {
    pub run_id: String,
    pub pid: u32,
    pub signal: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CleanResult {
    pub run_id: String,
    pub freed_bytes: u64,
}

fn launch_dir(w: &Workspace) -> PathBuf {
    w.root.join(RUNS_DIR).join(LAUNCH_DIR)
}

/// The `error:`/`hint:` lines a failed child printed, as an error of the kind its exit code
/// says.
fn child_error(code: Option<i32>, log: &Path, what: &str) -> OrxError {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let line = |p: &str| {
        text.lines()
            .rev()
            .find_map(|l| l.strip_prefix(p).map(|s| s.trim().to_string()))
    };
    let kind = match code {
        Some(2) => ErrorKind::Usage,
        _ => ErrorKind::Internal,
    };
    let msg = line("error: ").unwrap_or_else(|| {
        format!(
            "{what} exited with code {} before the run started",
            code.map(|c| c.to_string()).unwrap_or_else(|| "none".into())
        )
    });
    let mut e = OrxError::new(kind, msg);
    if let Some(h) = line("hint: ") {
        e = e.with_hint(h);
    }
    e
}

/// Spawn `orx <args>` detached, logging to `log`; a reaper thread reports its exit.
fn spawn_detached(
    root: &Path,
    args: &[String],
    log: &Path,
) -> Result<(u32, mpsc::Receiver<Option<i32>>)> {
    let exe = std::env::current_exe()
        .map_err(|e| OrxError::internal(format!("cannot find the orx executable: {e}")))?;
    if let Some(parent) = log.parent() {
        std::fs::create_dir_all(parent).map_err(|e| OrxError::io("create", parent, e))?;
    }
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| OrxError::io("open", log, e))?;
    let err = out.try_clone().map_err(|e| OrxError::io("open", log, e))?;
    let mut cmd = Command::new(exe);
    cmd.args(args)
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .env_remove("ORX_SERVE_TOKEN")
        .env_remove("ORX_RUN_ID");
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: setsid(2) is async-signal-safe and touches no memory of the parent; it is
        // the only call made between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| OrxError::internal(format!("cannot start orx: {e}")))?;
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name(format!("orx-reaper-{pid}"))
        .spawn(move || {
            let code = child.wait().ok().and_then(|s| s.code());
            let _ = tx.send(code);
        })
        .map_err(|e| OrxError::internal(format!("cannot start a reaper thread: {e}")))?;
    Ok((pid, rx))
}

impl Control {
    /// Validate and start a run in the background; returns its id once its folder exists.
    pub fn launch(&self, req: &LaunchRequest) -> Result<Launched> {
        let w = self.workspace(req.repo.as_deref())?;
        // Every field ends up in a file or on the child's command line, where a NUL byte
        // cannot go: refused here as bad input, not discovered by the spawn as a failure.
        for (what, v) in [
            ("task", Some(&req.task)),
            ("engine", req.engine.as_ref()),
            ("model", req.model.as_ref()),
            ("base branch", req.base_branch.as_ref()),
            ("pipeline", req.pipeline.as_ref()),
        ] {
            if v.is_some_and(|v| v.contains('\0')) {
                return Err(OrxError::usage(format!("the {what} contains a NUL byte"))
                    .with_hint("send text without NUL (\\u0000) characters"));
            }
        }
        if req.task.trim().is_empty() {
            return Err(OrxError::usage("the task is empty")
                .with_hint("describe what to do, e.g. \"add a --json flag to status\""));
        }
        if let Some(e) = req.engine.as_deref() {
            if !ENGINES.contains(&e) {
                return Err(OrxError::usage(format!("unknown engine `{e}`"))
                    .with_hint(format!("known engines: {}", ENGINES.join(", "))));
            }
        }
        check_steering(req)?;
        let repo = w.repo()?;
        if let Some(b) = req.base_branch.as_deref() {
            if b.trim().is_empty() || b.starts_with('-') || repo.resolve_commit(b).is_err() {
                return Err(OrxError::usage(format!(
                    "base branch `{b}` does not exist in {}",
                    w.name
                ))
                .with_hint("give an existing branch, tag or commit"));
            }
        }
        for (what, v) in [("model", &req.model), ("pipeline", &req.pipeline)] {
            if v.as_deref()
                .is_some_and(|v| v.trim().is_empty() || v.starts_with('-'))
            {
                return Err(OrxError::usage(format!(
                    "the {what} is empty or starts with `-`"
                )));
            }
        }
        let id = new_run_id();
        let dir = launch_dir(w);
        std::fs::create_dir_all(&dir).map_err(|e| OrxError::io("create", &dir, e))?;
        let task_file = dir.join(format!("{id}.task.md"));
        std::fs::write(&task_file, req.task.as_bytes())
            .map_err(|e| OrxError::io("write", &task_file, e))?;
        let log = dir.join(format!("{id}.log"));
        let mut args: Vec<String> = vec![
            "run".into(),
            format!("@{}", task_file.display()),
            "--run-id".into(),
            id.clone(),
            "--no-progress".into(),
            "--dir".into(),
            w.root.display().to_string(),
        ];
        for (flag, v) in [
            ("--engine", &req.engine),
            ("--model", &req.model),
            ("--base-branch", &req.base_branch),
            ("--pipeline", &req.pipeline),
        ] {
            if let Some(v) = v {
                args.push(flag.into());
                args.push(v.clone());
            }
        }
        if !req.approve.is_empty() {
            args.push("--approve".into());
            args.push(req.approve.join(","));
        }
        for (flag, v) in [
            ("--parallel", req.parallel),
            ("--candidates", req.candidates),
        ] {
            if let Some(n) = v {
                args.push(flag.into());
                args.push(n.to_string());
            }
        }
        let (pid, exited) = spawn_detached(&w.root, &args, &log)?;
        // meta.json is written once the worktree exists: from then on listings show the run.
        let run_dir = w.root.join(RUNS_DIR).join(&id);
        let (meta, state) = (run_dir.join("meta.json"), run_dir.join("state.json"));
        let started = Instant::now();
        loop {
            if meta.is_file() {
                // The runner has read the task by now (it does before creating the folder).
                let _ = std::fs::remove_file(&task_file);
                break;
            }
            match exited.recv_timeout(Duration::from_millis(25)) {
                Ok(code) => {
                    let _ = std::fs::remove_file(&task_file);
                    if state.is_file() {
                        // The run exists (and failed early): its folder tells why.
                        break;
                    }
                    return Err(child_error(code, &log, "orx run"));
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            if started.elapsed() > START_WAIT {
                break;
            }
        }
        self.invalidate();
        Ok(Launched::new(w, &id, pid))
    }

    /// Resume run `id` in the background (refused while it is live or once it succeeded).
    pub fn resume(&self, id: &str) -> Result<Launched> {
        let (w, paths) = self.find_run(id)?;
        if let Some(pid) = holder_alive(&paths.lock()) {
            return Err(busy(id, pid, "there is nothing to resume"));
        }
        let state = RunState::load(&paths.state())?;
        if state.status.is_finished() {
            return Err(OrxError::state(format!(
                "run {id} already finished ({}); there is nothing to resume",
                state.status
            ))
            .with_hint("start a new run"));
        }
        if state.status == RunStatus::AwaitingApproval {
            return Err(OrxError::state(format!("run {id} is awaiting approval"))
                .with_hint("approve it (POST /api/runs/{id}/approve) or reject it with feedback (POST /api/runs/{id}/reject)"));
        }
        self.drive_detached(w, &paths, id, vec!["resume".into(), id.to_string()])
    }

    /// Run `orx <command…> --no-progress --dir <root>` detached for the stopped run `id`, and
    /// answer once the child holds the run's lock (or failed before it could, with its own
    /// error). A child that ends at once with a run outcome (1 failed, 4 awaiting approval)
    /// did take the run.
    pub(super) fn drive_detached(
        &self,
        w: &Workspace,
        paths: &RunPaths,
        id: &str,
        mut args: Vec<String>,
    ) -> Result<Launched> {
        let what = format!(
            "orx {}",
            args.first().map(String::as_str).unwrap_or("resume")
        );
        let log = launch_dir(w).join(format!("{id}.log"));
        args.extend([
            "--no-progress".into(),
            "--dir".into(),
            w.root.display().to_string(),
        ]);
        let before = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
        let (pid, exited) = spawn_detached(&w.root, &args, &log)?;
        let started = Instant::now();
        // Wait until the child holds the lock (or failed before it could).
        while holder_alive(&paths.lock()) != Some(pid) && started.elapsed() < START_WAIT {
            match exited.recv_timeout(Duration::from_millis(25)) {
                Ok(code)
                    if code != Some(0)
                        && code != Some(1)
                        && code != Some(crate::runner::AWAITING_APPROVAL_EXIT) =>
                {
                    // Another process took the run between the check above and the child's
                    // own lock attempt (a resume or run racing this one): the run is busy.
                    if let Some(other) = holder_alive(&paths.lock()).filter(|p| *p != pid) {
                        return Err(busy(id, other, "there is nothing to resume"));
                    }
                    let text = std::fs::read(&log).unwrap_or_default();
                    let tail = text.get(before as usize..).unwrap_or(&[]);
                    let tmp = launch_dir(w).join(format!("{id}.resume-error.log"));
                    let _ = std::fs::write(&tmp, tail);
                    let e = child_error(code, &tmp, &what);
                    let _ = std::fs::remove_file(&tmp);
                    return Err(e);
                }
                Ok(_) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
        }
        self.invalidate();
        Ok(Launched::new(w, id, pid))
    }

    /// Ask the process driving run `id` to stop (SIGINT): it records `interrupted`.
    ///
    /// The process may exit at any moment, between any check and the signal. So the signal
    /// goes through a pidfd opened *before* the holder is confirmed (its start time matches the
    /// lock's), which cannot reach a process that reused the pid, and "the process is already
    /// gone" is read as what it means: the run is no longer running, answered from its state
    /// (a `State` error, 409), never as a failure of orx.
    pub fn cancel(&self, id: &str) -> Result<CancelResult> {
        let (_, paths) = self.find_run(id)?;
        let Some(holder) = open_holder(&paths.lock())? else {
            return Err(not_running(id, &paths));
        };
        #[cfg(test)]
        self.hooks.before_signal(holder.pid());
        match holder.signal(libc::SIGINT) {
            Ok(Signalled::Delivered) => {}
            Ok(Signalled::Gone) => return Err(not_running(id, &paths)),
            Err(e) => {
                return Err(OrxError::internal(format!(
                    "cannot signal pid {}: {e}",
                    holder.pid()
                )))
            }
        }
        self.invalidate();
        Ok(CancelResult {
            run_id: id.to_string(),
            pid: holder.pid(),
            signal: "SIGINT".into(),
        })
    }

    /// Remove run `id` (worktree, branch, refs, folder); refused while it is live.
    pub fn clean(&self, id: &str) -> Result<CleanResult> {
        let (w, paths) = self.find_run(id)?;
        if let Some(pid) = holder_alive(&paths.lock()) {
            return Err(OrxError::new(
                ErrorKind::Busy,
                format!("run {id} is running (pid {pid}); it cannot be cleaned"),
            )
            .with_hint("cancel it first"));
        }
        let repo = w.repo()?;
        // Another clean may remove the folder between `find_run` and the removal's own lock:
        // then the run is simply gone.
        let removal = crate::runs::remove_runs(&repo, &[id.to_string()], false).map_err(|e| {
            if paths.dir.exists() {
                e
            } else {
                OrxError::not_found(format!("unknown run id `{id}`"))
                    .with_hint("another orx process removed it")
            }
        })?;
        if let Some((_, why)) = removal.skipped.first() {
            return Err(OrxError::new(ErrorKind::Busy, why.clone()));
        }
        self.invalidate();
        Ok(CleanResult {
            run_id: id.to_string(),
            freed_bytes: removal.freed,
        })
    }
}

/// A handle on the live process holding `lock`, or `None` when no process holds it. The handle
/// is opened first and the holder's start time checked after, so the handle names the lock
/// holder itself and not a later process that reused its pid.
fn open_holder(lock: &Path) -> Result<Option<ProcessHandle>> {
    let Some((pid, start)) = read_holder(lock) else {
        return Ok(None);
    };
    let handle = ProcessHandle::open(pid)
        .map_err(|e| OrxError::internal(format!("cannot open process {pid}: {e}")))?;
    Ok(handle.filter(|_| process_start_time(pid) == Some(start)))
}

/// The answer for an action that needs a stopped run while process `pid` drives it.
fn busy(id: &str, pid: u32, what: &str) -> OrxError {
    OrxError::new(
        ErrorKind::Busy,
        format!("run {id} is running (pid {pid}); {what}"),
    )
    .with_hint("cancel it first, or wait for it to stop")
}

/// The answer for an action that needs a live run when no process drives run `id` any more:
/// what its state says it ended as.
fn not_running(id: &str, paths: &RunPaths) -> OrxError {
    let hint = "only a live run can be cancelled; resume it first if you want it to go on";
    match RunState::load(&paths.state()) {
        Ok(s) if !matches!(s.status, RunStatus::Running | RunStatus::Waiting) => {
            OrxError::state(format!("run {id} already ended ({})", s.status.as_str()))
                .with_hint(hint)
        }
        _ => OrxError::state(format!("run {id} is not running")).with_hint(hint),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nul_byte_in_any_field_is_bad_input_naming_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let ok = std::process::Command::new("git")
            .args(["init", "-q"])
            .current_dir(dir.path())
            .status()
            .unwrap();
        assert!(ok.success());
        let c = Control::new(vec![Workspace {
            name: "repo".into(),
            root: dir.path().to_path_buf(),
        }])
        .unwrap();
        let base = LaunchRequest {
            task: "add a flag".into(),
            ..LaunchRequest::default()
        };
        for (what, req) in [
            (
                "model",
                LaunchRequest {
                    model: Some("m\0x".into()),
                    ..base.clone()
                },
            ),
            (
                "task",
                LaunchRequest {
                    task: "a\0b".into(),
                    ..base.clone()
                },
            ),
            (
                "pipeline",
                LaunchRequest {
                    pipeline: Some("full\0".into()),
                    ..base.clone()
                },
            ),
        ] {
            let e = c.launch(&req).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Usage, "{what}: {}", e.message);
            assert_eq!(e.message, format!("the {what} contains a NUL byte"));
        }
        // Nothing was started: no launch log or task file was written.
        assert!(!dir.path().join(RUNS_DIR).exists());
    }
}
