//! Building a [`Run`]: a fresh one for `orx run`, or one rebuilt from disk for `orx resume`.
//!
//! Start resolves every input once (repository, config, task text, engine, base branch and its
//! sha, scenario path) and records the result in `state.json`, so a resume never re-resolves a
//! moving target such as a branch that advanced. Bad input is rejected *before* anything is
//! created on disk. Resume refuses a live run (lock), a finished one and a corrupt state, then
//! re-enters the recorded phase; items that failed get a fresh fix budget, because resuming a
//! failed run means "try again now that I fixed the cause or raised the limits".

use std::path::{Path, PathBuf};

use super::fsm::pipeline_stages;
use super::{Run, RunOutcome};
use crate::config::{self, ConfigSource, LoadedConfig};
use crate::error::{OrxError, Result};
use crate::gates::{gate_program, program_exists};
use crate::git::Repo;
use crate::model::event::EventKind;
use crate::model::state::{StageRecord, WorktreeInfo, STATE_VERSION};
use crate::model::Stage;
use crate::model::{ItemPhase, ItemStatus, RunState, RunStatus, StageStatus};
use crate::report::Reporter;
use crate::store::layout::{is_valid_run_id, RUNS_DIR, WORKTREES_DIR};
use crate::store::lock::RunLock;
use crate::store::{new_run_id, now_rfc3339, RunPaths};

/// Everything `orx run` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    /// Where to look for the repository (`--dir`, default the current folder).
    pub dir: PathBuf,
    /// The task, or `@path` to read it from a file.
    pub task: String,
    pub engine: Option<String>,
    pub model: Option<String>,
    pub base_branch: Option<String>,
    pub config: Option<PathBuf>,
    pub scenario: Option<PathBuf>,
    pub pipeline: String,
    /// A run id chosen by the caller (`orx serve`); a fresh one when `None`.
    pub run_id: Option<String>,
    /// Stages to stop after for approval, besides `run.approve` (`--approve`).
    pub approve: Vec<Stage>,
    /// Backlog items worked at once (`--parallel`); `run.max_parallel` when `None`.
    pub parallel: Option<u32>,
    /// Candidates per item (`--candidates`); `stages.implement.candidates` when `None`.
    pub candidates: Option<u32>,
}

/// The largest task file read (`@file`); a task is a description, not a document dump.
pub const MAX_TASK_FILE: u64 = 1024 * 1024;

/// Read the task argument: literal text, or `@file` (a regular UTF-8 file of at most
/// [`MAX_TASK_FILE`] bytes). A task holding a NUL byte is refused: no commit message could
/// carry it.
pub fn read_task(arg: &str) -> Result<String> {
    let text = match arg.strip_prefix('@') {
        Some(path) => read_task_file(Path::new(path))?,
        None => arg.to_string(),
    };
    if text.contains('\0') {
        return Err(OrxError::usage("the task holds a NUL byte")
            .with_hint("give the task as plain text; remove the NUL byte from the task file"));
    }
    if text.trim().is_empty() {
        return Err(OrxError::usage("the task is empty")
            .with_hint("describe what to do: orx run \"add a --json flag to status\""));
    }
    Ok(text)
}

/// A task file: opened without blocking (a FIFO is refused, not waited on), a regular file
/// only, bounded in size, UTF-8.
fn read_task_file(p: &Path) -> Result<String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let shown = p.display();
    let hint = "give the path of a markdown file after @, or the task text itself";
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(p)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                OrxError::usage(format!("task file {shown} does not exist")).with_hint(hint)
            } else {
                OrxError::user_file("read task file", p, e)
            }
        })?;
    let md = f
        .metadata()
        .map_err(|e| OrxError::user_file("read task file", p, e))?;
    if !md.is_file() {
        return Err(
            OrxError::usage(format!("task file {shown} is not a regular file")).with_hint(hint),
        );
    }
    if md.len() > MAX_TASK_FILE {
        return Err(OrxError::usage(format!(
            "task file {shown} is larger than {} KiB",
            MAX_TASK_FILE / 1024
        ))
        .with_hint("shorten the task; put long material in the repository and point to it"));
    }
    let mut bytes = Vec::new();
    (&mut f)
        .take(MAX_TASK_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| OrxError::user_file("read task file", p, e))?;
    String::from_utf8(bytes).map_err(|_| {
        OrxError::usage(format!("task file {shown} is not UTF-8 text"))
            .with_hint("save the task file as UTF-8")
    })
}

/// Describe where the config came from, for the run header and the note on stderr.
pub fn config_note(loaded: &LoadedConfig) -> String {
    match &loaded.source {
        ConfigSource::File(p) => format!("config {}", p.display()),
        ConfigSource::Defaults { workspace } => format!(
            "no orx.yaml: built-in defaults for a {workspace} workspace (run `orx init` to write one)"
        ),
    }
}

/// The run's engine: `--engine`, else `engine.type`, else the agent CLI this machine has ready
/// (the first of `agents::detect::PREFERENCE` installed with credentials), with how it was
/// picked for the first progress line. Nothing to pick is a usage error naming what was looked
/// for and the ways out; the fake engine runs only when named.
fn choose_engine(opts: &StartOptions, cfg: &config::Config) -> Result<(String, Option<String>)> {
    use crate::agents::detect::{nothing_ready_line, pick, Detection};
    if let Some(e) = opts.engine.clone().or_else(|| cfg.engine.kind.clone()) {
        return Ok((e, None));
    }
    match pick(cfg) {
        Detection::Ready(r) => Ok((r.name.to_string(), Some(r.describe()))),
        nothing => Err(OrxError::usage(nothing_ready_line(
            &nothing,
            "pass `--engine fake`",
        ))),
    }
}

/// Check what can be checked before anything is written: executor known, gate programs present.
fn preflight(cfg: &config::Config, engine: &str) -> Result<()> {
    super::build_cli(engine, &RunState::blank(), cfg)?;
    for (i, gate) in cfg.gates.iter().enumerate() {
        if !gate.enabled {
            continue;
        }
        if let Some(program) = gate_program(gate) {
            if !program_exists(&program) {
                return Err(OrxError::config(format!(
                    "gate `{}` needs `{program}`, which is not on PATH",
                    gate.name
                ))
                .with_hint(format!(
                    "install {program}, or set gates[{i}].enabled: false in orx.yaml"
                )));
            }
        }
    }
    Ok(())
}

/// Refuse parallel lanes with a git too old to integrate them (`git::version`).
fn git_fits_lanes(dir: &Path) -> Result<()> {
    let found = crate::git::version::installed(dir)?;
    if crate::git::version::too_old_for_lanes(&found) == Some(true) {
        let need = crate::git::version::lanes_min();
        return Err(OrxError::usage(format!(
            "parallel lanes need git {need} or later (for `git merge-tree --merge-base`), but `git --version` says `{found}`: upgrade git, or run with --parallel 1"
        )));
    }
    Ok(())
}

/// `orx run`: validate everything, create the run, drive it.
pub fn start(opts: &StartOptions, reporter: &mut dyn Reporter) -> Result<RunOutcome> {
    let repo = Repo::discover(&opts.dir)?;
    let loaded = config::load(&repo.root, opts.config.as_deref())?;
    let task = read_task(&opts.task)?;
    let cfg = loaded.config.clone();
    let (engine, engine_choice) = choose_engine(opts, &cfg)?;
    let stages = pipeline_stages(&opts.pipeline, &cfg.pipelines)?;
    let scenario = match (&opts.scenario, &cfg.engine.scenario) {
        (Some(p), _) => Some(absolute(p)?),
        (None, Some(p)) => Some(loaded.base_dir.join(p)),
        (None, None) => None,
    };
    if let Some(s) = &scenario {
        // A malformed or missing scenario is a usage/config error now, not a failed run later.
        crate::agents::scenario::load_scenario(s)?;
    }
    preflight(&cfg, &engine)?;
    if opts.parallel.unwrap_or(cfg.run.max_parallel) > 1
        || candidate_count(opts.candidates, &cfg) > 1
    {
        git_fits_lanes(&repo.root)?;
    }
    for key in crate::config::STAGE_NAMES {
        if let Some(exe) = cfg.stages.get(key).and_then(|o| o.executor.as_deref()) {
            super::build_cli(exe, &RunState::blank(), &cfg)?;
        }
    }
    let base_branch = match opts.base_branch.clone().or(cfg.git.base_branch.clone()) {
        Some(b) => b,
        None => repo.current_branch()?.unwrap_or_else(|| "HEAD".to_string()),
    };
    let base_sha = repo.resolve_commit(&base_branch)?;

    let id = opts.run_id.clone().unwrap_or_else(new_run_id);
    let paths = RunPaths::new(&repo.root, &id);
    repo.ensure_excluded(&[&format!("/{RUNS_DIR}/"), &format!("/{WORKTREES_DIR}/")])?;
    let lock = paths.create()?;
    // From here this process drives the run: its git processes are the run's.
    let repo = repo.for_run(&id);
    let now = now_rfc3339();
    let mut state = RunState {
        version: STATE_VERSION,
        run_id: id.clone(),
        task: task.clone(),
        status: RunStatus::Running,
        pipeline: opts.pipeline.clone(),
        stages: stages
            .iter()
            .map(|s| StageRecord {
                stage: *s,
                status: StageStatus::Pending,
                started_at: None,
                finished_at: None,
                attempts: 0,
                duration_ms: 0,
                usage: Default::default(),
            })
            .collect(),
        current_stage: stages.first().copied(),
        current_item: None,
        items: Vec::new(),
        worktree: WorktreeInfo {
            path: paths.worktree.clone(),
            branch: paths.branch(),
            base_branch: base_branch.clone(),
            base_sha: base_sha.clone(),
        },
        engine: engine.clone(),
        model: opts.model.clone().or(cfg.engine.model.clone()),
        config_path: match &loaded.source {
            ConfigSource::File(p) => Some(absolute(p)?),
            ConfigSource::Defaults { .. } => None,
        },
        scenario,
        approve: approve_stages(&stages, &cfg.run.approve, &opts.approve),
        max_parallel: Some(opts.parallel.unwrap_or(cfg.run.max_parallel)),
        max_candidates: Some(candidate_count(opts.candidates, &cfg)),
        candidate_executors: candidate_executors(opts.candidates, &cfg),
        ..RunState::blank()
    };
    state.created_at = now.clone();
    state.updated_at = now;
    let redactor = crate::guard::Redactor::from_env();
    std::fs::write(paths.context("task.md"), redactor.redact(&task).as_bytes())
        .map_err(|e| OrxError::io("write", &paths.context("task.md"), e))?;
    // Written before the worktree exists, so a crash here is still visible and cleanable
    // (redacted like every later save: the task may quote a secret).
    let first = redactor
        .json_line(&state)
        .map_err(|e| OrxError::internal(format!("cannot encode state: {e}")))?;
    crate::store::journal::replace_state(&paths.state(), &first)?;
    repo.add_worktree(&paths.worktree, &paths.branch(), &base_sha)?;
    write_project_map(&paths.worktree, &paths.context("project_map.md"));

    let mut run = Run::assemble(repo, paths, cfg, state, lock, reporter)?;
    run.save()?;
    run.emit(EventKind::RunStarted {
        task,
        engine,
        pipeline: opts.pipeline.clone(),
        branch: run.state.worktree.branch.clone(),
        worktree: run.state.worktree.path.display().to_string(),
        base_branch,
        config: config_note(&loaded),
        engine_choice,
    })?;
    let retention = &run.config.retention;
    let removal = crate::runs::apply_retention(
        &run.repo,
        &run.paths.id,
        retention.max_runs,
        retention.max_age.as_deref(),
    )?;
    report_retention(&mut run, removal)?;
    run.drive()
}

/// The stages of the pipeline named in `run.approve` (already validated) or `--approve`, in
/// pipeline order; a stage the pipeline does not run is never waited for.
fn approve_stages(pipeline: &[Stage], config: &[String], flag: &[Stage]) -> Vec<Stage> {
    pipeline
        .iter()
        .copied()
        .filter(|s| flag.contains(s) || config.iter().any(|c| c == s.as_str()))
        .collect()
}

/// Emit what `retention:` removed, and each run it kept because it was busy.
fn report_retention(run: &mut Run<'_>, removal: crate::runs::Removal) -> Result<()> {
    if !removal.removed.is_empty() {
        run.emit(EventKind::RetentionApplied {
            removed: removal.removed,
            freed_bytes: removal.freed,
        })?;
    }
    for (id, why) in removal.skipped {
        run.warn(format!("retention kept run {id}: {why}"))?;
    }
    Ok(())
}

/// `orx resume`: rebuild the run from disk and continue where it stopped.
pub fn resume(dir: &Path, run_id: &str, reporter: &mut dyn Reporter) -> Result<RunOutcome> {
    resume_with(dir, run_id, None, None, reporter)
}

/// Candidates per item: `--candidates`, else `stages.implement.candidates`, else 1.
fn candidate_count(flag: Option<u32>, cfg: &config::Config) -> u32 {
    flag.unwrap_or_else(|| {
        cfg.stages
            .implement
            .as_ref()
            .and_then(|o| o.candidates.as_ref())
            .map_or(1, |c| c.count() as u32)
    })
}

/// The executor of each candidate when `stages.implement.candidates` lists them (and
/// `--candidates` does not override it); empty means the implement stage's executor for all.
fn candidate_executors(flag: Option<u32>, cfg: &config::Config) -> Vec<String> {
    match cfg
        .stages
        .implement
        .as_ref()
        .and_then(|o| o.candidates.as_ref())
    {
        Some(crate::config::Candidates::Executors(list)) if flag.is_none() => list.clone(),
        _ => Vec::new(),
    }
}

/// [`resume`] with `--parallel` and `--candidates`: the items worked at once and the
/// candidates per item from now on (`None` keeps the run's own; items whose candidates have
/// started keep theirs).
pub fn resume_with(
    dir: &Path,
    run_id: &str,
    parallel: Option<u32>,
    candidates: Option<u32>,
    reporter: &mut dyn Reporter,
) -> Result<RunOutcome> {
    let run = reopen(dir, run_id, reporter, |state, _| {
        // A recorded checkpoint, whatever the status (an approve that died before going past
        // the stage leaves `running`), means a person has yet to decide: running the stage
        // again would overwrite their edit of its output.
        if let Some(c) = state.checkpoint.as_ref() {
            return Err(OrxError::state(format!(
                "run {run_id} is awaiting approval of its {} output",
                c.stage
            ))
            .with_hint(format!(
                "go on with `orx approve {run_id}`, or run the stage again with `orx reject {run_id} --feedback TEXT`"
            )));
        }
        if let Some(n) = parallel {
            state.max_parallel = Some(n);
        }
        if let Some(n) = candidates {
            state.max_candidates = Some(n);
            state.candidate_executors.clear();
        }
        if crate::stages::in_lanes(state) {
            git_fits_lanes(dir)?;
        }
        Ok(())
    })?;
    run.drive()
}

/// Rebuild a stopped run from disk, locked, with `check` run on its state before anything is
/// changed (it may refuse, or prepare the state), and mark it resumed. `orx resume`, `orx
/// approve` and `orx reject` differ only in `check` and in what they do with the run.
pub(super) fn reopen<'r>(
    dir: &Path,
    run_id: &str,
    reporter: &'r mut dyn Reporter,
    check: impl FnOnce(&mut RunState, &RunPaths) -> Result<()>,
) -> Result<Run<'r>> {
    let repo = Repo::discover(dir)?;
    let paths = open_run(&repo, run_id)?;
    let lock = RunLock::acquire(&paths.lock(), run_id)?;
    // What a SIGKILLed driver left running would keep writing into the worktree (its git
    // processes too: a push still updating the remote branch would refuse ours).
    crate::runs::stop_leftovers(&repo.root, run_id);
    let repo = repo.for_run(run_id);
    let mut state = RunState::load(&paths.state())?;
    if state.status.is_finished() {
        return Err(OrxError::state(format!(
            "run {run_id} already finished ({}); there is nothing to resume",
            state.status
        ))
        .with_hint("start a new run with `orx run`"));
    }
    check(&mut state, &paths)?;
    let loaded = config::load(&repo.root, state.config_path.as_deref())?;
    check_own_worktree(&repo, &paths, &state)?;
    // A ref or index write the kill cut short left its `.lock`: this process is now the run's
    // only writer, so the run's own are stale.
    repo.clear_stale_locks(run_id, &state.worktree.path);
    if !state.worktree.path.exists() {
        // The worktree folder was deleted: re-attach it to the run branch, nothing is lost.
        repo.add_worktree(
            &state.worktree.path,
            &state.worktree.branch,
            &state.worktree.base_sha,
        )?;
        // A new worktree: its ignored files and installed dependencies are gone.
        state.worktree_setup_done = false;
    }
    state.status = RunStatus::Running;
    state.resumes += 1;
    state.finished_at = None;
    if state.current_stage.is_none() {
        state.current_stage = state.stages.first().map(|r| r.stage);
    }
    for item in &mut state.items {
        match item.status {
            ItemStatus::Failed | ItemStatus::Stuck => {
                item.status = ItemStatus::InProgress;
                item.phase = Some(ItemPhase::Agent {
                    attempt: item.attempts + 1,
                });
                item.fix_budget_start = item.attempts;
                item.signatures.clear();
            }
            ItemStatus::Blocked => item.status = ItemStatus::Pending,
            _ => {}
        }
    }
    let in_progress = state
        .items
        .iter()
        .any(|i| i.status == ItemStatus::InProgress);
    let stage = state.current_stage;
    let item = state.current_item.clone();
    let resumes = state.resumes;
    let mut run = Run::assemble(repo, paths, loaded.config, state, lock, reporter)?;
    if in_progress && matches!(stage, Some(Stage::Implement | Stage::Verify)) {
        run.needs_restore = true;
    } else {
        // Back to the last checkpoint: whatever an interrupted step left behind is dropped.
        run.wt.reset_hard("HEAD")?;
    }
    run.save()?;
    run.emit(EventKind::RunResumed {
        stage,
        item,
        resumes,
    })?;
    Ok(run)
}

/// Resume resets, restores and cleans its worktree, so it must be the one orx made for this
/// run: the folder and branch derived from the run id in this repository (not whatever
/// `state.json` says, which an edit or a symlink to another repository's state can point at a
/// person's checkout), and, when it exists, listed by git as a worktree of this repository on
/// the run's branch. Anything else is refused before anything is touched.
pub(super) fn check_own_worktree(repo: &Repo, paths: &RunPaths, state: &RunState) -> Result<()> {
    let refuse = |what: String| {
        Err(OrxError::state(format!(
            "run {}'s state names {what}; orx only resumes in the worktree it made for the run",
            paths.id
        ))
        .with_hint(format!(
            "restore runs/{}/state.json, or remove the run with `orx clean {}`",
            paths.id, paths.id
        )))
    };
    let same = |a: &Path, b: &Path| {
        a == b
            || matches!(
                (std::fs::canonicalize(a), std::fs::canonicalize(b)),
                (Ok(x), Ok(y)) if x == y
            )
    };
    if state.run_id != paths.id {
        return refuse(format!("another run ({})", state.run_id));
    }
    if !same(&state.worktree.path, &paths.worktree) {
        return refuse(format!(
            "worktree {} instead of {}",
            state.worktree.path.display(),
            paths.worktree.display()
        ));
    }
    if state.worktree.branch != paths.branch() {
        return refuse(format!(
            "branch {} instead of {}",
            state.worktree.branch,
            paths.branch()
        ));
    }
    if std::fs::symlink_metadata(&paths.worktree).is_ok() {
        let listed = repo.list_worktrees()?.into_iter().any(|(p, branch)| {
            same(&p, &paths.worktree) && branch.as_deref() == Some(paths.branch().as_str())
        });
        if !listed {
            return refuse(format!(
                "worktree {}, which git does not list as this repository's worktree on {}",
                paths.worktree.display(),
                paths.branch()
            ));
        }
    }
    Ok(())
}

/// The paths of an existing run, or a usage error for an unknown or malformed id.
pub fn open_run(repo: &Repo, run_id: &str) -> Result<RunPaths> {
    if !is_valid_run_id(run_id) {
        return Err(OrxError::usage(format!("`{run_id}` is not a run id"))
            .with_hint("run ids look like 20261121-120059-a1b2c3; list them with `orx status`"));
    }
    let paths = RunPaths::new(&repo.root, run_id);
    if !crate::runs::is_run(&repo.root, run_id) {
        return Err(OrxError::usage(format!("unknown run id `{run_id}`"))
            .with_hint("list runs with `orx status`"));
    }
    Ok(paths)
}

fn absolute(p: &Path) -> Result<PathBuf> {
    if p.is_absolute() {
        return Ok(p.to_path_buf());
    }
    let cwd = std::env::current_dir().map_err(|e| OrxError::internal(e.to_string()))?;
    Ok(cwd.join(p))
}

/// A bounded listing of the worktree's files for the planning prompts.
fn write_project_map(root: &Path, out: &Path) {
    const MAX: usize = 400;
    let mut files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut entries: Vec<_> = entries.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name().to_string_lossy().into_owned();
            if name == ".git" || name == "node_modules" || name == "target" {
                continue;
            }
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(rel) = path.strip_prefix(root) {
                files.push(rel.display().to_string());
            }
        }
        if files.len() > MAX {
            break;
        }
    }
    files.sort();
    let total = files.len();
    files.truncate(MAX);
    let mut text = format!(
        "# Project map\n\n{total} files{}\n\n",
        if total > MAX { " (first 400)" } else { "" }
    );
    for f in files {
        text.push_str(&format!("- {f}\n"));
    }
    let _ = std::fs::write(out, text);
}
