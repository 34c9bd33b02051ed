//! `orx mcp [--repo PATH]`: the MCP server over stdio (see `crate::mcp`). stdout carries only
//! the protocol; diagnostics go to stderr.

use std::path::PathBuf;

use crate::error::OrxError;

#[derive(Debug, clap::Args)]
pub struct McpArgs {
    /// The repository whose runs to serve [default: the repository around the current folder].
    #[arg(long, value_name = "PATH")]
    pub repo: Option<PathBuf>,
}

pub fn run(a: McpArgs) -> Result<i32, OrxError> {
    crate::mcp::serve(a.repo)
}
