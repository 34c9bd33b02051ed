//! `orx logs <id> [-f] [--stage S] [--item I] [--json]`: a run's story, read from its folder.
//!
//! It reads `runs/<id>/events.jsonl` and nothing else, so it tells the same story for a run
//! this terminal started, one another terminal, the dashboard or an MCP client started, and a
//! run that finished long ago. `-f` keeps reading as the history grows, by looking at the file
//! again after a short pause (a poll: the file is local and one `read` is cheap), until the run
//! has ended: its last event is `run_finished` and no process holds its lock. A run whose
//! process died without that event (`kill -9`, a reboot) has not ended, it is waiting for
//! `orx resume`, so `-f` says so once and keeps following; the resumed process appends to the
//! same history, and `-f` ends when that one ends. Lines go to stdout; a closed pipe (`| head`)
//! ends the command quietly.

use std::io::Write;
use std::time::Duration;

use super::DirArg;
use crate::error::OrxError;
use crate::git::Repo;
use crate::model::{EventKind, RunEvent, Stage};
use crate::report::story::{Filter, Story};
use crate::runner::setup::open_run;
use crate::store::lock::holder_alive;
use crate::store::tail::EventTail;
use crate::store::RunPaths;

/// How long `-f` waits before looking at the history again.
const POLL: Duration = Duration::from_millis(150);

#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    /// The run to tell (see `orx status`).
    pub run_id: String,
    /// Keep following a live run until it ends, across a resume.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Only this stage (plan, spec, decompose, implement, verify, review, ship, knowledge).
    #[arg(long, value_name = "STAGE")]
    pub stage: Option<String>,
    /// Only this backlog item (W001, …).
    #[arg(long, value_name = "ITEM")]
    pub item: Option<String>,
    /// The events as JSON lines, as `events.jsonl` holds them, instead of the story.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub dir: DirArg,
}

pub fn run(a: LogsArgs) -> Result<i32, OrxError> {
    let stage = match a.stage.as_deref() {
        None => None,
        Some(s) => Some(Stage::parse(s).ok_or_else(|| {
            OrxError::usage(format!("unknown stage `{s}`")).with_hint(
                "a stage is one of plan, spec, decompose, implement, verify, review, ship, knowledge",
            )
        })?),
    };
    let repo = Repo::discover(&a.dir.dir)?;
    let paths = open_run(&repo, &a.run_id)?;
    let filter = Filter {
        stage,
        item: a.item.clone(),
    };
    let mut teller = Teller {
        story: Story::default(),
        filter,
        json: a.json,
        out: std::io::stdout().lock(),
    };
    follow(&paths, &mut teller, a.follow)?;
    Ok(0)
}

/// Where the story goes, and what it keeps.
struct Teller<W: Write> {
    story: Story,
    filter: Filter,
    json: bool,
    out: W,
}

impl<W: Write> Teller<W> {
    /// Tells `events`; false once the reader has gone (a closed pipe).
    fn tell(&mut self, events: &[RunEvent]) -> bool {
        for ev in events {
            if !self.story.keeps(ev, &self.filter) {
                continue;
            }
            let lines = if self.json {
                serde_json::to_string(ev)
                    .map(|l| vec![l])
                    .unwrap_or_default()
            } else {
                self.story.lines(ev)
            };
            if !self.write(&lines) {
                return false;
            }
        }
        true
    }

    /// Tells what is gathered (an agent message in pieces) before waiting for more.
    fn pause(&mut self) -> bool {
        let lines = self.story.flush();
        self.write(&lines) && self.out.flush().is_ok()
    }

    fn write(&mut self, lines: &[String]) -> bool {
        lines.iter().all(|l| writeln!(self.out, "{l}").is_ok())
    }
}

/// Reads the run's history and tells it; with `follow`, keeps reading until the run has ended.
fn follow<W: Write>(
    paths: &RunPaths,
    teller: &mut Teller<W>,
    follow: bool,
) -> Result<(), OrxError> {
    let mut tail = EventTail::new(&paths.events());
    let mut ended = false;
    let mut told_orphan = false;
    loop {
        let events = tail.read_new()?;
        if let Some(last) = events.last() {
            ended = matches!(last.kind, EventKind::RunFinished { .. });
            told_orphan = false;
        }
        if !teller.tell(&events) {
            return Ok(());
        }
        if !follow {
            teller.pause();
            return Ok(());
        }
        if !events.is_empty() {
            continue;
        }
        if holder_alive(&paths.lock()).is_none() {
            if ended {
                // Nobody drives the run and its last word was the end: one more read catches
                // a resume that started between the two looks.
                let late = tail.read_new()?;
                if late.is_empty() {
                    teller.pause();
                    return Ok(());
                }
                ended = late
                    .last()
                    .is_some_and(|e| matches!(e.kind, EventKind::RunFinished { .. }));
                if !teller.tell(&late) {
                    return Ok(());
                }
                continue;
            }
            if !told_orphan {
                eprintln!(
                    "orx logs: no process drives run {id} now (it was killed or crashed); waiting for `orx resume {id}` (Ctrl-C to stop)",
                    id = paths.id
                );
                told_orphan = true;
            }
        }
        if !teller.pause() {
            return Ok(());
        }
        std::thread::sleep(POLL);
    }
}
