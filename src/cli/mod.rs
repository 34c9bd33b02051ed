//! The command line: clap types, dispatch, error printing and exit codes.
//!
//! One file per command (after jj's `cmd_x` layout), each with an `Args` struct and a `run`
//! function returning the exit code. Errors from any command are printed here, once, as
//! `error: <sentence>` plus an optional `hint:` line, and mapped to the documented codes:
//! 0 success, 1 the run failed, 2 usage/config/state error, 3 orx itself failed, 130
//! interrupted, 4 the run awaits approval. A panic (which would be a bug) is caught by a hook that prints one line instead
//! of a backtrace.

pub mod approve;
pub mod clean;
pub mod doctor;
pub mod init;
pub mod logs;
pub mod mcp;
pub mod reject;
pub mod resume;
pub mod run;
pub mod serve;
pub mod status;
pub mod summary;
pub mod takeover;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::error::OrxError;

#[derive(Debug, Parser)]
#[command(
    name = "orx",
    version,
    about = "Local orchestrator for AI coding agents: plan → spec → decompose → implement → verify → review → ship → knowledge, in a git worktree, resumable",
    propagate_version = true
)]
pub struct Cli {
    /// More diagnostics on stderr (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write orx.yaml for this repository, with gates fitting its workspace type.
    Init(init::InitArgs),
    /// Run a task (text, or @file.md) through the pipeline in a new worktree.
    Run(run::RunArgs),
    /// Continue an interrupted or failed run from its last checkpoint.
    Resume(resume::ResumeArgs),
    /// List runs, or show one run in detail.
    Status(status::StatusArgs),
    /// Remove a run's worktree, branch and run folder (or all runs).
    Clean(clean::CleanArgs),
    /// Check the agent CLIs, their versions and credentials, git and gh.
    Doctor(doctor::DoctorArgs),
    /// Serve the dashboard and the REST API for this repository's runs.
    Serve(serve::ServeArgs),
    /// Serve this repository's runs to an MCP client over stdio (run_submit, run_status, …).
    Mcp(mcp::McpArgs),
    /// Print shell completions.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Stop a run at its current item and work on it yourself in the agent's CLI; then the run
    /// goes on from verify.
    Takeover(takeover::TakeoverArgs),
    /// Tell a run's story: stages, items, agent messages, tool calls, gates (-f follows it).
    Logs(logs::LogsArgs),
    /// Go on from a run stopped at an approval checkpoint, with the stage's output as it is now.
    Approve(approve::ApproveArgs),
    /// Run the stage a run stopped after again, with feedback; it stops for approval again.
    Reject(reject::RejectArgs),
}

/// Where a command looks for the repository.
#[derive(Debug, Clone, clap::Args)]
pub struct DirArg {
    /// Run as if orx was started in this folder.
    #[arg(long, value_name = "PATH", default_value = ".")]
    pub dir: PathBuf,
}

/// Parse, dispatch, print errors; returns the process exit code.
pub fn main() -> i32 {
    install_panic_hook();
    if std::env::args_os().nth(1).as_deref()
        == Some(std::ffi::OsStr::new(
            crate::agents::fake::FAKE_AGENT_SUBCOMMAND,
        ))
    {
        // The first argument, the subcommand's name, stands where clap expects the program's.
        return fake_agent_main(std::env::args_os().skip(1));
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    init_tracing(cli.verbose);
    // A panic is a bug; the hook has printed one line, and the exit code stays documented.
    match std::panic::catch_unwind(|| dispatch(cli.command)) {
        Ok(Ok(code)) => code,
        Ok(Err(e)) => {
            print_error(&e);
            e.kind.exit_code()
        }
        Err(_) => crate::error::ErrorKind::Internal.exit_code(),
    }
}

/// The fake engine's agent process (`orx __fake-agent`, internal).
///
/// A fake run starts it for every agent call, so it is parsed on its own: building the whole
/// command tree and the log filter cost more than the step it plays. It logs nothing.
#[derive(Debug, Parser)]
#[command(name = "__fake-agent")]
struct FakeAgentCli {
    #[arg(long)]
    stage: String,
    #[arg(long)]
    item: Option<String>,
    #[arg(long, default_value_t = 1)]
    n: u32,
    #[arg(long)]
    scenario: Option<PathBuf>,
    #[arg(long)]
    resume: Option<String>,
    #[arg(long)]
    model: Option<String>,
}

/// The `orx-fake-agent` binary: the fake agent without the rest of orx, so a fake run's
/// agent calls do not each load and relocate the whole orx binary.
pub fn fake_agent_binary_main() -> i32 {
    install_panic_hook();
    fake_agent_main(std::env::args_os())
}

fn fake_agent_main(argv: impl Iterator<Item = std::ffi::OsString>) -> i32 {
    let a = match FakeAgentCli::try_parse_from(argv) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return 2;
        }
    };
    let args = crate::agents::fake_agent::FakeAgentArgs {
        stage: a.stage,
        item: a.item,
        n: a.n,
        scenario: a.scenario,
        resume: a.resume,
        model: a.model,
    };
    match std::panic::catch_unwind(|| crate::agents::fake_agent::play(&args)) {
        Ok(Ok(code)) => code,
        Ok(Err(e)) => {
            let e = OrxError::from(e);
            print_error(&e);
            e.kind.exit_code()
        }
        Err(_) => crate::error::ErrorKind::Internal.exit_code(),
    }
}

fn dispatch(command: Command) -> Result<i32, OrxError> {
    match command {
        Command::Init(a) => init::run(a),
        Command::Run(a) => run::run(a),
        Command::Resume(a) => resume::run(a),
        Command::Status(a) => status::run(a),
        Command::Clean(a) => clean::run(a),
        Command::Doctor(a) => doctor::run(a),
        Command::Serve(a) => serve::run(a),
        Command::Mcp(a) => mcp::run(a),
        Command::Logs(a) => logs::run(a),
        Command::Takeover(a) => takeover::run(a),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "orx", &mut std::io::stdout());
            Ok(0)
        }
        Command::Approve(a) => approve::run(a),
        Command::Reject(a) => reject::run(a),
    }
}

pub fn print_error(e: &OrxError) {
    eprintln!("error: {}", e.message);
    if let Some(h) = &e.hint {
        eprintln!("hint: {h}");
    }
    // The causes underneath, for `-vv`; a cause that only repeats the line above is skipped.
    let mut shown = e.message.clone();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let text = c.to_string();
        if text != shown {
            tracing::debug!("caused by: {text}");
            shown = text;
        }
        cause = c.source();
    }
}

fn init_tracing(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown".into());
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("error: orx hit an internal bug: {msg}{at}; the run state on disk is intact, resume it with `orx resume <run_id>` (please report this)");
    }));
}
