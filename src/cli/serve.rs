//! `orx serve [--bind ADDR] [--port N] [--repo PATH]... [--allow-host NAME]...`: the dashboard
//! and REST API (see `crate::serve`).

use std::net::IpAddr;
use std::path::PathBuf;

use crate::error::OrxError;
use crate::serve::{serve, ServeOptions};

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on; anything but loopback requires a token (ORX_SERVE_TOKEN, or one
    /// generated and printed at start).
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// Port to listen on; 0 picks a free one (the line printed at start names it).
    #[arg(long, default_value_t = 8421)]
    pub port: u16,
    /// A repository to serve (repeatable) [default: the repository around the current folder].
    #[arg(long, value_name = "PATH")]
    pub repo: Vec<PathBuf>,
    /// An extra host name accepted in the Host header (repeatable), e.g. a LAN name.
    #[arg(long, value_name = "NAME")]
    pub allow_host: Vec<String>,
    /// The most connections served at once (lowered to fit the open-file limit).
    #[arg(long, default_value_t = 512, hide = true)]
    pub max_connections: usize,
    /// How long a connection may take to send a request head, from when it is idle (ms).
    #[arg(long, default_value_t = 10_000, hide = true)]
    pub header_timeout_ms: u64,
}

pub fn run(a: ServeArgs) -> Result<i32, OrxError> {
    serve(ServeOptions {
        bind: a.bind,
        port: a.port,
        repos: a.repo,
        allow_hosts: a
            .allow_host
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect(),
        limits: crate::serve::conn::Limits {
            max_connections: a.max_connections,
            header_timeout: std::time::Duration::from_millis(a.header_timeout_ms.max(1)),
            ..Default::default()
        },
    })
}
