//! orx: a local orchestrator for AI coding agents.
//!
//! A task goes through a staged state machine (plan → spec → decompose → implement → verify →
//! review → ship → knowledge) in a git worktree of its own, with every step checkpointed under
//! `runs/<id>/` so that `orx resume` continues exactly. `model` is the vocabulary every layer
//! speaks (stages, statuses, failure reasons, events, run state); `cli` parses and dispatches,
//! `config` validates orx.yaml, `runner` holds the run context, the driver and the pure FSM and
//! scheduler, `stages` what each stage does, `agents` the executor seam, `exec` the one process
//! supervisor, `gates` the quality gates, `git` every git call, `github` the GitHub CLI
//! adapter, `guard` the guardrails and secret redaction, `hooks` the lifecycle hooks, `store`
//! the run folder, and `report` the event stream's sinks.

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
pub mod github;
pub mod guard;
pub mod hooks;
#[cfg(test)]
mod hostile_input;
pub mod mcp;
pub mod model;
pub mod prompts;
pub mod report;
pub mod runner;
pub mod runs;
pub mod serve;
pub mod stages;
pub mod store;
pub mod text;
pub mod verdict;
