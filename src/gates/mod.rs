//! Quality gates: run each configured command in the worktree and turn its output into evidence.
//!
//! A gate is any command (`ruff check .`, `pytest -q`, `npm test`); it passes on exit code 0.
//! It runs through the supervisor like an agent (own process group, timeout, logs under
//! `runs/<id>/logs/`). Its result is data, never an `Err`: exit code, duration, the log's tail,
//! failures parsed by the ruff/pytest/unittest parsers in [`evidence`], and a failure signature
//! that lets the fix loop notice when it is going round in circles.

pub mod evidence;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::GateConfig;
use crate::exec::{self, CommandSpec, Control};
pub use crate::model::gate::GateResult;
use evidence::{guess_parser, parse_failures, signature, tail, ParserKind};

/// How much combined output is kept in memory for the parsers (the log keeps everything).
const KEEP_BYTES: usize = 2 * 1024 * 1024;

/// The argv of a gate: exec form when `args` is given, else `sh -c command`.
pub fn gate_argv(gate: &GateConfig) -> (String, Vec<String>) {
    match &gate.args {
        Some(args) => (gate.command.clone(), args.clone()),
        None => ("sh".into(), vec!["-c".into(), gate.command.clone()]),
    }
}

/// The program a gate needs on PATH, when it can be told (the first word of a shell command).
pub fn gate_program(gate: &GateConfig) -> Option<String> {
    let first = match &gate.args {
        Some(_) => gate.command.trim().to_string(),
        None => gate.command.split_whitespace().next()?.to_string(),
    };
    let shell_syntax = first.contains('=')
        || first.contains('$')
        || first.starts_with(['(', '{', '!', '[', '.'])
        || matches!(
            first.as_str(),
            "cd" | "test" | "true" | "false" | "exit" | "if" | "for" | "while" | "export"
        );
    (!first.is_empty() && !shell_syntax).then_some(first)
}

/// Whether `program` can be found (a path that exists, or a name on PATH).
pub fn program_exists(program: &str) -> bool {
    if program.contains('/') {
        return Path::new(program).exists();
    }
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false)
}

/// Where a gate's log goes and what the run is called (for `ORX_RUN_ID`).
pub struct GateContext<'a> {
    pub cwd: &'a Path,
    pub run_dir: &'a Path,
    /// File name of the log under `logs/`.
    pub log_name: String,
    pub run_id: &'a str,
    /// How long the gate gets to exit after SIGTERM before its group is killed.
    pub grace: Duration,
}

/// Run one gate to completion.
pub fn run_gate(gate: &GateConfig, ctx: &GateContext<'_>) -> GateResult {
    run_gate_redacted(gate, ctx, None)
}

/// [`run_gate`] with secrets redacted from its log and from the output its evidence (tail,
/// parsed failures) is made of.
pub fn run_gate_redacted(
    gate: &GateConfig,
    ctx: &GateContext<'_>,
    redactor: Option<&std::sync::Arc<crate::guard::Redactor>>,
) -> GateResult {
    let (program, args) = gate_argv(gate);
    let log_rel = PathBuf::from("logs").join(&ctx.log_name);
    let log_path = ctx.run_dir.join(&log_rel);
    let mut spec = CommandSpec::new(program.clone(), ctx.cwd);
    spec.args = args.clone();
    spec.stdout_log = Some(log_path.clone());
    spec.stderr_log = Some(log_path.clone());
    spec.wall_timeout = Some(Duration::from_secs(gate.timeout.max(1)));
    spec.grace = ctx.grace;
    spec.run_id = Some(ctx.run_id.to_string());
    spec.env.push(("ORX_GATE".into(), gate.name.clone()));
    spec.log_filter = redactor.map(|r| r.log_filter());

    tracing::info!(gate = %gate.name, program = %program, ?args, "running gate");
    let mut output = String::new();
    // The same stateful filter as the log, one per stream: a private key's body lines are
    // hidden too, not only the line that opens the block.
    let mut filters = redactor.map(|r| (r.line_redactor(), r.line_redactor()));
    let result = exec::run(&spec, &mut |kind, line| {
        match filters.as_mut() {
            Some((out, err)) => {
                let f = if kind == exec::StreamKind::Stderr {
                    err
                } else {
                    out
                };
                output.push_str(&f.redact_line(line));
            }
            None => output.push_str(line),
        }
        output.push('\n');
        if output.len() > KEEP_BYTES * 2 {
            let cut = output.len() - KEEP_BYTES;
            let cut = (cut..output.len())
                .find(|i| output.is_char_boundary(*i))
                .unwrap_or(output.len());
            output.drain(..cut);
        }
        Control::Continue
    });
    let kind = match gate.parser.as_deref() {
        Some("ruff") => ParserKind::Ruff,
        Some("pytest") => ParserKind::Pytest,
        Some("unittest") => ParserKind::Unittest,
        Some("generic") => ParserKind::Generic,
        _ => guess_parser(&gate.name, &gate.command, &args),
    };
    let (exit_code, duration_ms, error) = match &result {
        Err(e) => (None, 0, Some(format!("cannot run `{program}`: {e}"))),
        Ok(exit) => {
            let error = exit.termination.problem(gate.timeout);
            (exit.code, exit.duration.as_millis() as u64, error)
        }
    };
    let passed = error.is_none() && exit_code == Some(0);
    let failures = if passed {
        Vec::new()
    } else {
        parse_failures(kind, &output)
    };
    let sig = (!passed).then(|| {
        let basis = match &error {
            Some(e) => format!("{e}\n{output}"),
            None => output.clone(),
        };
        signature(&gate.name, exit_code, &failures, &basis)
    });
    GateResult {
        name: gate.name.clone(),
        required: gate.required,
        passed,
        exit_code,
        duration_ms,
        log: log_rel.to_string_lossy().into_owned(),
        tail: tail(&output, 40, 4000),
        failures,
        signature: sig,
        error,
    }
}

/// Whether the last run was interrupted (Ctrl-C) rather than judged.
pub fn interrupted(results: &[GateResult]) -> bool {
    results
        .iter()
        .any(|r| r.error.as_deref() == Some("interrupted"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(name: &str, command: &str, args: Option<Vec<&str>>) -> GateConfig {
        let mut g = GateConfig::exec(name, command, &[]);
        g.args = args.map(|a| a.into_iter().map(String::from).collect());
        g
    }

    #[test]
    fn shell_and_exec_forms() {
        let g = gate("t", "echo hi && exit 3", None);
        assert_eq!(gate_argv(&g).0, "sh");
        assert_eq!(gate_program(&g).as_deref(), Some("echo"));
        let g = gate("ruff", "ruff", Some(vec!["check", "."]));
        assert_eq!(
            gate_argv(&g),
            ("ruff".into(), vec!["check".into(), ".".into()])
        );
        assert_eq!(gate_program(&gate("x", "test -f a", None)), None);
        assert!(program_exists("sh"));
        assert!(!program_exists("definitely-not-a-program-orx"));
    }

    #[test]
    fn a_real_failing_gate_yields_evidence_and_a_log() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("logs")).unwrap();
        let g = gate(
            "lint",
            "echo 'src/a.py:3:8: F401 [*] `os` imported but unused'; echo oops >&2; exit 1",
            None,
        );
        let ctx = GateContext {
            cwd: dir.path(),
            run_dir: dir.path(),
            log_name: "lint.log".into(),
            run_id: "r",
            grace: Duration::from_secs(5),
        };
        let r = run_gate(&g, &ctx);
        assert!(!r.passed);
        assert!(r.blocks());
        assert_eq!(r.exit_code, Some(1));
        assert!(r.tail.contains("F401"), "{}", r.tail);
        assert!(r.signature.is_some());
        let log = std::fs::read_to_string(dir.path().join("logs/lint.log")).unwrap();
        assert!(log.contains("F401") && log.contains("oops"), "{log}");

        let ok = run_gate(&gate("ok", "true", None), &ctx);
        assert!(ok.passed && ok.signature.is_none());
    }

    #[test]
    fn a_missing_program_fails_the_gate_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("logs")).unwrap();
        let ctx = GateContext {
            cwd: dir.path(),
            run_dir: dir.path(),
            log_name: "x.log".into(),
            run_id: "r",
            grace: Duration::from_secs(5),
        };
        let r = run_gate(&gate("x", "no-such-gate-bin", Some(vec![])), &ctx);
        assert!(!r.passed);
        assert!(r.error.unwrap().contains("no-such-gate-bin"));
    }
}
