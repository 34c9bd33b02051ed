//! GitHub through its CLI: the adapter that opens (or finds) the run's pull request.
//!
//! Pushing is git and lives in `crate::git` (`remote.rs`); the ship stage in
//! `crate::stages::ship` sequences commit → patch → push → pull request and records each step
//! in `state.json`. What lives here talks to `gh`, through the supervisor.

pub mod pr;
