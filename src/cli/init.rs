//! `orx init [--engine E] [--force] [--yes]`: write orx.yaml fitted to the workspace.
//!
//! The workspace type (Python, Node, Rust, Go, Obsidian, generic) is detected from the files at
//! the repository root and decides the default gates. The engine is `--engine`, else the agent
//! CLI a run would pick (`agents::detect`: the first installed with credentials), written with
//! a comment saying how it was found. With nothing to pick, the file is still valid: its `type`
//! line is commented out, with what to install, so runs pick whatever is installed later. init
//! asks nothing, on a terminal or not (`--yes` is accepted for scripts that say so). An
//! existing orx.yaml is never overwritten without `--force`: it may hold hours of tuning.

use super::DirArg;
use crate::agents::detect::{self, Detection};
use crate::config;
use crate::error::OrxError;
use crate::git::Repo;

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Executor to write as engine.type [default: the first agent CLI installed with credentials].
    #[arg(long)]
    pub engine: Option<String>,
    /// Overwrite an existing orx.yaml.
    #[arg(long)]
    pub force: bool,
    /// Ask nothing (init never asks; accepted so scripts can say so).
    #[arg(long, short = 'y')]
    pub yes: bool,
    #[command(flatten)]
    pub dir: DirArg,
}

pub fn run(a: InitArgs) -> Result<i32, OrxError> {
    let repo = Repo::discover(&a.dir.dir)?;
    let path = repo.root.join("orx.yaml");
    let exists = || {
        OrxError::usage(format!("{} already exists", path.display()))
            .with_hint("pass --force to overwrite it")
    };
    // Checked here for a quick answer, and again by the write itself, which never replaces a
    // file created meanwhile unless --force says so.
    if path.exists() && !a.force {
        return Err(exists());
    }
    let kind = config::detect(&repo.root);
    let branch = repo.current_branch()?;
    let (engine, note) = match &a.engine {
        Some(e) => (Some(e.clone()), String::new()),
        None => match detect::pick(&config::defaults_for(kind, &repo.root)) {
            Detection::Ready(r) => (Some(r.name.to_string()), format!("{}.", r.describe())),
            nothing => (
                None,
                format!(
                    "{}. Without `type`, each run picks the first agent CLI installed with credentials, in the order {}.",
                    detect::nothing_ready_line(&nothing, "write `type: fake`"),
                    detect::PREFERENCE.join(", ")
                ),
            ),
        },
    };
    let text = config::render_init(
        kind,
        &repo.root,
        engine.as_deref(),
        &note,
        branch.as_deref(),
    );
    // Refuse to write a file orx itself could not load (an unknown --engine, say).
    config::parse_str(&text, &path, &|k| std::env::var(k).ok())?;
    if a.force {
        crate::store::atomic::write_atomic(&path, text.as_bytes())?;
    } else if !crate::store::atomic::create_atomic(&path, text.as_bytes())? {
        return Err(exists());
    }
    let gates: Vec<String> = config::default_gates(kind, &repo.root)
        .into_iter()
        .map(|g| g.name)
        .collect();
    println!(
        "wrote {} for a {kind} workspace (engine {}, gates: {})",
        path.display(),
        match (&engine, &a.engine) {
            (Some(e), Some(_)) => e.clone(),
            (Some(e), None) => format!("{e}, detected"),
            (None, _) => "none found: install an agent CLI, or set engine.type: fake".to_string(),
        },
        if gates.is_empty() {
            "none".to_string()
        } else {
            gates.join(", ")
        }
    );
    Ok(0)
}
