//! The process side of the fake engine: what `orx-fake-agent` (and `orx __fake-agent`) does.
//!
//! It behaves like a well-mannered agent CLI: it reads the whole prompt from stdin, plays the
//! scenario step for its stage, item and call number (delay, file writes and deletes, usage,
//! error, exit code), and reports each action as an [`AgentEvent`] JSON line on stdout (a file
//! it writes or deletes as the tool call, file change and tool result a CLI would report). Steps
//! the scenario does not script get a neutral default: text stages answer with a placeholder,
//! decompose turns the task into one item, review approves, and apply stages change nothing
//! (which the runner then records as an empty diff).

use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use super::error::{AgentError, Result};
use super::events::{AgentEvent, ToolKind, Usage};
use super::scenario::{load_scenario, Scenario, Step};
use super::tools;
use crate::error::file::FileError;

/// Arguments of `orx-fake-agent` (and `orx __fake-agent`).
#[derive(Debug, Clone)]
pub struct FakeAgentArgs {
    pub stage: String,
    pub item: Option<String>,
    pub n: u32,
    pub scenario: Option<PathBuf>,
    pub resume: Option<String>,
    /// The model orx asked for (`--model`); scenario steps may fail only for one model.
    pub model: Option<String>,
}

/// Play one step. Returns the process exit code.
pub fn play(args: &FakeAgentArgs) -> Result<i32> {
    let mut prompt = String::new();
    let _ = std::io::stdin().read_to_string(&mut prompt);
    let scenario = match &args.scenario {
        Some(p) => load_scenario(p)?,
        None => Scenario::demo(),
    };
    let step = scenario
        .step(&args.stage, args.item.as_deref(), args.n)
        .unwrap_or_else(|| default_step(&args.stage, &prompt));
    let cwd = std::env::current_dir().map_err(AgentError::NoWorkingDir)?;

    let mut out = std::io::stdout().lock();
    let session = args.resume.clone().unwrap_or_else(|| {
        format!(
            "fake-{}-{}",
            args.stage,
            args.item.as_deref().unwrap_or("run")
        )
    });
    emit(
        &mut out,
        &AgentEvent::SessionStarted {
            session_id: session,
            model: Some(args.model.clone().unwrap_or_else(|| "fake".into())),
        },
    );
    // Usage first, then the delay: a budget watching the stream sees it while the agent is
    // still running, as it would with a real CLI reporting usage per turn.
    if let Some(u) = &step.usage {
        emit(
            &mut out,
            &AgentEvent::Usage {
                usage: Usage {
                    input_tokens: u.input_tokens,
                    output_tokens: u.output_tokens,
                    cost_usd: u.cost_usd.unwrap_or(0.0),
                    ..Usage::default()
                },
            },
        );
    }
    if let Some(ms) = step.delay_ms {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
    for (path, content) in &step.files {
        emit(&mut out, &tool_call("write", path));
        let target = confined(&cwd, path)?;
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| FileError::own("create", parent, e))?;
        }
        std::fs::write(&target, content).map_err(|e| FileError::own("write", &target, e))?;
        emit(
            &mut out,
            &AgentEvent::FileChange {
                path: path.clone(),
                kind: "write".into(),
            },
        );
        let lines = content.lines().count();
        emit(
            &mut out,
            &tools::result("write", true, &format!("wrote {lines} lines")),
        );
    }
    for path in &step.delete {
        emit(&mut out, &tool_call("delete", path));
        let target = confined(&cwd, path)?;
        if target.exists() {
            std::fs::remove_file(&target).map_err(|e| FileError::own("delete", &target, e))?;
        }
        emit(
            &mut out,
            &AgentEvent::FileChange {
                path: path.clone(),
                kind: "delete".into(),
            },
        );
        emit(&mut out, &tools::result("delete", true, "deleted"));
    }
    let error = step.error.as_ref().filter(|_| match &step.error_model {
        Some(m) => args.model.as_deref() == Some(m.as_str()),
        None => true,
    });
    if let Some(message) = error {
        emit(
            &mut out,
            &AgentEvent::Error {
                message: message.clone(),
            },
        );
        emit(
            &mut out,
            &AgentEvent::Finished {
                final_text: String::new(),
                is_error: true,
            },
        );
        return Ok(step.exit_code.unwrap_or(1));
    }
    let text = step.text.clone().unwrap_or_else(|| "done".to_string());
    emit(&mut out, &AgentEvent::Text { text: text.clone() });
    emit(
        &mut out,
        &AgentEvent::Finished {
            final_text: text,
            is_error: false,
        },
    );
    Ok(step.exit_code.unwrap_or(0))
}

/// The call of the fake's file tool `name` (`write`, `delete`) on `path`, as a CLI reports it.
fn tool_call(name: &str, path: &str) -> AgentEvent {
    tools::call_on(
        name,
        ToolKind::Edit,
        path,
        serde_json::json!({ "path": path }).to_string(),
    )
}

fn emit(out: &mut impl Write, ev: &AgentEvent) {
    if let Ok(line) = serde_json::to_string(ev) {
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}

/// A scenario path must stay inside the working directory.
fn confined(root: &Path, rel: &str) -> Result<PathBuf> {
    let p = Path::new(rel);
    if p.is_absolute()
        || p.components()
            .any(|c| matches!(c, Component::ParentDir | Component::Prefix(_)))
    {
        return Err(AgentError::PathLeavesWorktree {
            path: rel.to_string(),
        });
    }
    Ok(root.join(p))
}

fn default_step(stage: &str, prompt: &str) -> Step {
    let text = match stage {
        "decompose" => {
            let title: String = task_line(prompt).chars().take(80).collect();
            format!(
                "```yaml\nitems:\n  - id: W001\n    title: {}\n    objective: Carry out the task.\n    acceptance: []\n    files_hint: []\n    depends_on: []\n```\n",
                serde_json::to_string(&title).unwrap_or_else(|_| "\"task\"".into())
            )
        }
        "review" => "No review scripted.\n\n```json\n{\"verdict\": \"approved\", \"summary\": \"fake engine: approved by default\", \"changes\": []}\n```\n".to_string(),
        other => format!("# {other}\n\n(fake engine: nothing scripted for this stage)\n"),
    };
    Step {
        text: Some(text),
        ..Step::default()
    }
}

/// The first non-empty line of the task section of a prompt (best effort).
fn task_line(prompt: &str) -> &str {
    let after = prompt
        .split_once("## Task")
        .map(|(_, rest)| rest)
        .unwrap_or(prompt);
    after
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("task")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_outside_the_worktree_are_refused() {
        let root = Path::new("/w");
        assert_eq!(
            confined(root, "a/b.py").unwrap(),
            PathBuf::from("/w/a/b.py")
        );
        assert!(confined(root, "../x").is_err());
        assert!(confined(root, "/etc/passwd").is_err());
    }

    #[test]
    fn unscripted_decompose_yields_one_valid_item_from_the_task() {
        let step = default_step("decompose", "# Decompose\n\n## Task\n\nAdd a: b thing\n");
        let b = crate::backlog::parse_backlog(step.text.as_deref().unwrap()).unwrap();
        crate::backlog::validate(&b).unwrap();
        assert_eq!(b.items[0].title, "Add a: b thing");
    }
}
