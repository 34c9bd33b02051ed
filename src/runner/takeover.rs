//! Taking over an item by hand (`orx takeover`): a person works on the run's current item in
//! the agent's own CLI, and what they leave in the worktree becomes an attempt like an agent's.
//!
//! The run must be stopped (the caller stops a live one first, as Ctrl-C does, and waits for its
//! lock). Under the run lock, the item open in implement or verify (in progress, or failed or
//! stuck when the run ended) is checkpointed as attempt `n` of kind `takeover`, *before* the CLI
//! opens, exactly as an agent attempt is: a crash or a closed terminal leaves a state `orx
//! resume` re-enters. The CLI is the executor the attempt routes to, opened interactively
//! through the registry's argv (the agent's session resumed when orx recorded one for that
//! executor, else a fresh session with the item's last prompt) on the terminal, in the worktree,
//! which is left as the stopped agent left it, so the person sees where it was. After the
//! person exits, the worktree goes through what an agent's attempt goes through before verify
//! (guardrails, then a snapshot) and the item moves to `Verify{n}`; continuing the run is then an
//! ordinary resume, which restores that snapshot and runs the gates. Who took over is in the
//! `taken_over` event.

use std::path::Path;

use super::call::cli_settings;
use super::setup::{check_own_worktree, open_run};
use super::Run;
use crate::agents::registry::{self, Takeover};
use crate::config;
use crate::error::{OrxError, Result};
use crate::exec::CommandSpec;
use crate::git::Repo;
use crate::model::event::EventKind;
use crate::model::state::ItemState;
use crate::model::{AttemptKind, ItemPhase, ItemStatus, RunState, Stage};
use crate::report::Reporter;
use crate::store::lock::RunLock;

/// A prompt longer than this is not handed to the CLI as an argument (Linux refuses one argument
/// over 128 KiB); the CLI is told where to read it instead.
const MAX_PROMPT_ARG: usize = 64 * 1024;

/// What a takeover asks for.
#[derive(Debug, Clone)]
pub struct TakeoverOptions<'a> {
    pub dir: &'a Path,
    pub run_id: &'a str,
    /// Who takes over, for the event.
    pub by: &'a str,
    /// Wait for the run's lock (a live run was just told to stop) instead of refusing a busy run.
    pub wait_for_lock: bool,
}

/// How a takeover ended: the item is at `Verify{attempt}` with the person's work snapshotted.
#[derive(Debug, Clone)]
pub struct TakenOver {
    pub item: String,
    pub attempt: u32,
    pub executor: String,
    pub session: Option<String>,
    pub exit_code: Option<i32>,
    pub changed: bool,
}

/// Open the run's current item for a person, then checkpoint what they did (see the module doc).
pub fn take_over(opts: &TakeoverOptions<'_>, reporter: &mut dyn Reporter) -> Result<TakenOver> {
    let repo = Repo::discover(opts.dir)?;
    let paths = open_run(&repo, opts.run_id)?;
    let lock = if opts.wait_for_lock {
        RunLock::acquire_waiting(&paths.lock(), opts.run_id)?
    } else {
        RunLock::acquire(&paths.lock(), opts.run_id)?
    };
    // What a SIGKILLed driver left running would keep writing into the worktree.
    crate::runs::stop_leftovers(&repo.root, opts.run_id);
    let repo = repo.for_run(opts.run_id);
    let mut state = RunState::load(&paths.state())?;
    if state.status.is_finished() {
        return Err(OrxError::state(format!(
            "run {} already finished ({}); there is nothing to take over",
            opts.run_id, state.status
        ))
        .with_hint("start a new run with `orx run`"));
    }
    let loaded = config::load(&repo.root, state.config_path.as_deref())?;
    check_own_worktree(&repo, &paths, &state)?;
    if state.lanes_used {
        // Its items live in lane worktrees of their own, which the takeover does not open.
        return Err(OrxError::state(format!(
            "run {} works its items in parallel lanes, which takeover cannot open yet",
            opts.run_id
        ))
        .with_hint(format!(
            "work in the item's lane worktree under .worktrees/{}.lanes/ by hand, then `orx resume {}`",
            opts.run_id, opts.run_id
        )));
    }
    let id = item_to_take(&state).ok_or_else(|| {
        OrxError::state(format!(
            "run {} has no item being implemented (it is at {}); takeover works on an item in implement or verify",
            opts.run_id,
            state.current_stage.map_or("its end", |s| s.as_str())
        ))
        .with_hint(format!("continue the run with `orx resume {}`", opts.run_id))
    })?;
    if !state.worktree.path.exists() {
        // The worktree folder was deleted: re-attach it to the run branch, as resume does.
        repo.add_worktree(
            &state.worktree.path,
            &state.worktree.branch,
            &state.worktree.base_sha,
        )?;
        state.worktree_setup_done = false;
    }
    let mut run = Run::assemble(repo, paths, loaded.config, state, lock, reporter)?;
    let item = run
        .state
        .item(&id)
        .cloned()
        .ok_or_else(|| OrxError::internal(format!("no item {id}")))?;
    let attempt = attempt_of(&item);
    let stage_key = AttemptKind::of(attempt).as_str();
    let (executor, _) = run.route(stage_key);
    let (row, settings) = cli_settings(&executor, &run.config)?;
    // The fake engine's session is nothing a person can open (its row opens a shell).
    let session = recorded_session(&run.state, &id, &executor).filter(|_| row.is_external());
    let prompt = item_prompt(&run, &item, attempt);
    let argv = (row.interactive)(&Takeover {
        bin: &settings.bin,
        session: session.as_deref(),
        prompt: &prompt,
    });
    let Some((program, args)) = argv.split_first() else {
        return Err(OrxError::internal(format!(
            "executor {executor} has no interactive command"
        )));
    };
    let mut spec = CommandSpec::new(program.clone(), &run.state.worktree.path);
    spec.args = args.to_vec();
    spec.env = settings.env.clone();
    spec.run_id = Some(run.paths.id.clone());

    // Checkpoint first: from here on, the item's attempt `attempt` is the person's.
    if let Some(i) = run.state.item_mut(&id) {
        if matches!(i.status, ItemStatus::Failed | ItemStatus::Stuck) {
            // As a resume of a failed item: a fresh fix budget after this attempt.
            i.fix_budget_start = i.attempts;
            i.signatures.clear();
        }
        i.status = ItemStatus::InProgress;
        i.phase = Some(ItemPhase::Agent { attempt });
    }
    run.state.current_item = Some(id.clone());
    run.save()?;
    run.emit(EventKind::AttemptStarted {
        item: id.clone(),
        attempt,
        kind: AttemptKind::Takeover,
    })?;
    let status = crate::exec::interactive::run_interactive(&spec).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            OrxError::config(format!("cannot open {executor} for the takeover"))
                .with_hint(registry::not_installed_hint(&executor, program))
        } else {
            OrxError::internal(format!("cannot start `{program}`: {e}"))
        }
    })?;

    let now = run.wt.working_tree()?;
    let previous = item
        .snapshot
        .clone()
        .or(item.base_commit.clone())
        .unwrap_or_else(|| "HEAD".into());
    let changed = now.tree != run.wt.tree_of(&previous)?;
    let violations = run.guardrail_violations(Some(&now))?;
    if !violations.is_empty() {
        let list = violations
            .iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join("; ");
        return Err(OrxError::state(format!(
            "the worktree breaks the guardrails ({list}); the takeover was not snapshotted"
        ))
        .with_hint(format!(
            "fix it in {} and run `orx takeover {}` again (`orx resume` would discard it)",
            run.state.worktree.path.display(),
            run.paths.id
        )));
    }
    let snap = run.wt.snapshot_of(now, &run.paths.wip_ref())?;
    if let Some(i) = run.state.item_mut(&id) {
        i.snapshot = Some(snap);
        i.note = None;
        i.phase = Some(ItemPhase::Verify { attempt });
    }
    run.save()?;
    let exit_code = status.code();
    run.emit(EventKind::TakenOver {
        item: id.clone(),
        attempt,
        by: opts.by.to_string(),
        executor: executor.clone(),
        session: session.clone(),
        exit_code,
        changed,
    })?;
    Ok(TakenOver {
        item: id,
        attempt,
        executor,
        session,
        exit_code,
        changed,
    })
}

/// The item a takeover works on: the run's current item if it is open (in progress, or ended
/// failed or stuck), else the first open one; none unless the run is in implement or verify.
fn item_to_take(state: &RunState) -> Option<String> {
    if !matches!(state.current_stage, Some(Stage::Implement | Stage::Verify)) {
        return None;
    }
    let open = |i: &ItemState| {
        matches!(
            i.status,
            ItemStatus::InProgress | ItemStatus::Failed | ItemStatus::Stuck
        )
    };
    state
        .current_item
        .as_ref()
        .filter(|id| state.item(id).is_some_and(open))
        .cloned()
        .or_else(|| state.items.iter().find(|i| open(i)).map(|i| i.id.clone()))
}

/// The attempt the takeover is: the one the stop interrupted (an agent's, or one whose gates
/// had not judged it yet), else the one after the last judged attempt.
fn attempt_of(item: &ItemState) -> u32 {
    match item.phase {
        Some(ItemPhase::Agent { attempt } | ItemPhase::Verify { attempt }) => attempt,
        Some(ItemPhase::Commit { attempt } | ItemPhase::Integrate { attempt }) => attempt + 1,
        Some(ItemPhase::Merge { attempt }) => attempt,
        None => item.attempts + 1,
    }
    .max(item.attempts + 1)
}

/// The agent session of the item that `executor` can resume: the fix session, else the
/// implement one, as fix attempts pick it.
fn recorded_session(state: &RunState, item: &str, executor: &str) -> Option<String> {
    ["fix", "implement"]
        .iter()
        .filter_map(|stage| state.sessions.get(&format!("{stage}:{item}")))
        .find(|sid| {
            state
                .session_meta
                .get(*sid)
                .is_none_or(|m| m.executor == executor)
        })
        .cloned()
}

/// The prompt a fresh session starts from: the item's latest prompt as orx wrote it (redacted),
/// or where to read it when it is too long for an argument, or the item itself when no prompt
/// was written yet.
fn item_prompt(run: &Run<'_>, item: &ItemState, attempt: u32) -> String {
    let latest = (1..=attempt).rev().find_map(|a| {
        let name = match a {
            1 => format!("implement_{}_1", item.id),
            n => format!("fix_{}_{}", item.id, n - 1),
        };
        let path = run.paths.prompt(&name);
        std::fs::read_to_string(&path).ok().map(|text| (path, text))
    });
    match latest {
        Some((path, text)) if text.len() > MAX_PROMPT_ARG => format!(
            "Read the instructions in {} and carry them out in this folder.",
            path.display()
        ),
        Some((_, text)) => text,
        None => {
            let what = if item.objective.is_empty() {
                &item.title
            } else {
                &item.objective
            };
            run.redact(&format!(
                "Work on {} ({}) of this task: {}\n\n{what}\n",
                item.id, item.title, run.state.task
            ))
            .into_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(phase: Option<ItemPhase>, attempts: u32) -> ItemState {
        ItemState {
            phase,
            attempts,
            ..ItemState::new("W001", "t")
        }
    }

    #[test]
    fn the_takeover_is_the_interrupted_attempt_or_the_next_one() {
        assert_eq!(
            attempt_of(&item(Some(ItemPhase::Agent { attempt: 1 }), 0)),
            1
        );
        assert_eq!(
            attempt_of(&item(Some(ItemPhase::Verify { attempt: 2 }), 1)),
            2
        );
        assert_eq!(
            attempt_of(&item(Some(ItemPhase::Commit { attempt: 2 }), 1)),
            3
        );
        // A stuck item (no phase) after three judged attempts.
        assert_eq!(attempt_of(&item(None, 3)), 4);
    }

    #[test]
    fn only_an_open_item_in_implement_or_verify_is_taken() {
        let mut s = RunState::blank();
        s.current_stage = Some(Stage::Implement);
        let mut done = ItemState::new("W001", "a");
        done.status = ItemStatus::Done;
        let mut stuck = ItemState::new("W002", "b");
        stuck.status = ItemStatus::Stuck;
        s.items = vec![done, stuck];
        s.current_item = Some("W001".into());
        assert_eq!(item_to_take(&s).as_deref(), Some("W002"));
        s.current_stage = Some(Stage::Review);
        assert_eq!(item_to_take(&s), None);
    }

    #[test]
    fn a_session_of_another_executor_is_not_resumed() {
        let mut s = RunState::blank();
        s.sessions.insert("implement:W001".into(), "s-impl".into());
        s.sessions.insert("fix:W001".into(), "s-fix".into());
        s.session_meta.insert(
            "s-fix".into(),
            crate::model::state::SessionMeta {
                executor: "codex".into(),
                cumulative_usage: None,
            },
        );
        assert_eq!(
            recorded_session(&s, "W001", "codex").as_deref(),
            Some("s-fix")
        );
        assert_eq!(
            recorded_session(&s, "W001", "claude").as_deref(),
            Some("s-impl")
        );
        assert_eq!(recorded_session(&s, "W002", "claude"), None);
    }
}
