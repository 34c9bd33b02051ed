//! orx's integration suite: one test binary, every test on a real temporary git repository,
//! driving the real `orx` binary with the fake engine (itself a real subprocess).

mod approval;
mod bad_input;
mod candidates;
mod commands;
mod conformance;
mod disk;
mod executors;
mod exit_codes;
mod first_run;
mod flows;
mod git_setup;
mod guard;
mod hostile_input;
mod journal;
mod lanes;
mod lifecycle;
mod logs;
mod mcp;
mod mock_server;
mod resume;
mod serve;
mod ship;
mod strays;
mod support;
mod takeover;
mod torture;
mod waiting;
