//! orx: a local orchestrator for AI coding agents.
//!
//! A task goes through a staged state machine (plan → spec → decompose → implement → verify →
//! review → ship → knowledge) in a git worktree of its own, with every step checkpointed under
//! `runs/<id>/` so that `orx resume` continues exactly. The crate's modules:
//! `cli` parses and dispatches, `config` validates orx.yaml, `runner` holds the
//! FSM, `stages` what each stage does, `agents` the executor seam, `exec` the one process
//! supervisor, `gates` the quality gates, `git` every git call, `ship` the GitHub CLI adapter,
//! `guard` the guardrails and secret redaction, `hooks` the lifecycle hooks, `store` the run
//! folder, and `report` the event stream's sinks.

pub mod agents;
pub mod backlog;
pub mod cli;
pub mod config;
pub mod control;
pub mod doctor;
pub mod error;
pub mod exec;
pub mod gates;
pub mod git;
pub mod guard;
pub mod hooks;
#[cfg(test)]
mod hostile_input;
pub mod mcp;
pub mod prompts;
pub mod report;
pub mod review;
pub mod runner;
pub mod runs;
pub mod serve;
pub mod ship;
pub mod stages;
pub mod store;
pub mod text;
