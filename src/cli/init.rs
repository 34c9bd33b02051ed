//! `orx init [--engine E] [--force]`: write orx.yaml fitted to the workspace.
//!
//! The workspace type (Python, Node, Rust, Go, Obsidian, generic) is detected from the files at
//! the repository root and decides the default gates. An existing orx.yaml is never overwritten
//! without `--force`: it may hold hours of tuning.

use super::DirArg;
use crate::config;
use crate::error::OrxError;
use crate::git::Repo;

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Executor to write as engine.type.
    #[arg(long, default_value = "fake")]
    pub engine: String,
    /// Overwrite an existing orx.yaml.
    #[arg(long)]
    pub force: bool,
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
    let text = config::render_init(kind, &repo.root, &a.engine, branch.as_deref());
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
        a.engine,
        if gates.is_empty() {
            "none".to_string()
        } else {
            gates.join(", ")
        }
    );
    Ok(0)
}
