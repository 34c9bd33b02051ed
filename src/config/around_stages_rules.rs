//! Validation of the sections around the stages (`knowledge`, `hooks`, `worktree`, `retention`).
//!
//! Kept beside `validate.rs` rather than inside it so the rules of those sections read as one
//! unit and the shared validator only gains one call. Each rule names its key path, like every
//! other [`Problem`]: a hook without a command, a zero timeout, a knowledge file outside the
//! repository, a copy glob that does not compile, a retention age humantime cannot read.

use std::path::{Component, Path};

use super::locate::KeyPath;
use super::problem::Problem;
use super::types::Config;

/// Append every lifecycle rule `config` breaks to `problems`.
pub(super) fn check(problems: &mut Vec<Problem>, config: &Config) {
    let root = KeyPath::default();

    let knowledge = root.key("knowledge");
    for (i, file) in config.knowledge.files.iter().enumerate() {
        if !is_inside_relative(file) {
            problems.push(Problem::new(
                knowledge.key("files").index(i),
                format!(
                    "`knowledge.files[{i}]` is `{file}`, which is not a path inside the repository"
                ),
                Some("give a relative path such as AGENTS.md or docs/ARCHITECTURE.md".to_string()),
            ));
        }
    }

    let hooks = root.key("hooks");
    for (event, list) in config.hooks.iter() {
        for (i, hook) in list.iter().enumerate() {
            let path = hooks.key(event).index(i);
            if hook.command.trim().is_empty() {
                problems.push(Problem::new(
                    path.key("command"),
                    format!("`hooks.{event}[{i}].command` is empty"),
                    Some(
                        "give a shell command line, e.g. `command: ./scripts/notify.sh`"
                            .to_string(),
                    ),
                ));
            }
            if hook.timeout == 0 {
                problems.push(Problem::new(
                    path.key("timeout"),
                    format!("`hooks.{event}[{i}].timeout` must be greater than 0 seconds"),
                    Some("remove the key to use the default of 60 seconds".to_string()),
                ));
            }
        }
    }

    let worktree = root.key("worktree");
    for (i, glob) in config.worktree.copy.iter().enumerate() {
        let path = worktree.key("copy").index(i);
        if let Err(e) = globset::Glob::new(glob) {
            problems.push(Problem::new(
                path,
                format!("`worktree.copy[{i}]` is not a valid glob: {}", e.kind()),
                Some("use globs such as `.env.local` or `config/*.local.json`".to_string()),
            ));
        } else if glob.starts_with('/') || glob.split('/').any(|part| part == "..") {
            problems.push(Problem::new(
                path,
                format!("`worktree.copy[{i}]` (`{glob}`) reaches outside the repository"),
                Some("globs are matched against paths relative to the repository root".to_string()),
            ));
        }
    }
    for (i, cmd) in config.worktree.setup.iter().enumerate() {
        if cmd.trim().is_empty() {
            problems.push(Problem::new(
                worktree.key("setup").index(i),
                format!("`worktree.setup[{i}]` is empty"),
                Some("give a shell command line such as `npm ci`, or remove the entry".to_string()),
            ));
        }
    }
    if config.worktree.setup_timeout == 0 {
        problems.push(Problem::new(
            worktree.key("setup_timeout"),
            "`worktree.setup_timeout` must be greater than 0 seconds".to_string(),
            Some("remove the key to use the default of 1800 seconds".to_string()),
        ));
    }

    let retention = root.key("retention");
    if config.retention.max_runs == Some(0) {
        problems.push(Problem::new(
            retention.key("max_runs"),
            "`retention.max_runs` must be at least 1 (the new run counts)".to_string(),
            Some("remove the key to keep every run".to_string()),
        ));
    }
    if let Some(age) = &config.retention.max_age {
        if let Err(e) = humantime::parse_duration(age.trim()) {
            problems.push(Problem::new(
                retention.key("max_age"),
                format!("`retention.max_age` is `{age}`, which is not a duration: {e}"),
                Some("write a duration such as 7d, 12h or 30m".to_string()),
            ));
        }
    }
}

/// A non-empty relative path with no `..`, so it names a file inside the repository.
pub(crate) fn is_inside_relative(p: &str) -> bool {
    let path = Path::new(p);
    !p.trim().is_empty()
        && path
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

#[cfg(test)]
mod tests {
    use super::super::around_stages::HookConfig;
    use super::super::validate::validate;
    use super::*;

    fn problems(change: impl FnOnce(&mut Config)) -> Vec<String> {
        let mut c = Config::default();
        change(&mut c);
        validate(&c)
            .into_iter()
            .map(|p| format!("{}: {}", p.path, p.message))
            .collect()
    }

    #[test]
    fn lifecycle_defaults_are_valid_and_bad_values_name_their_key() {
        assert!(problems(|_| {}).is_empty());
        let p = problems(|c| {
            c.knowledge.files = vec!["../x.md".into()];
            c.hooks.stage_start = vec![HookConfig {
                command: " ".into(),
                blocking: true,
                timeout: 0,
            }];
            c.worktree.copy = vec!["[".into(), "../secret".into()];
            c.worktree.setup = vec![String::new()];
            c.retention.max_runs = Some(0);
            c.retention.max_age = Some("seven days".into());
        });
        let text = p.join("\n");
        for want in [
            "knowledge.files[0]",
            "hooks.stage_start[0].command",
            "hooks.stage_start[0].timeout",
            "worktree.copy[0]",
            "worktree.copy[1]",
            "worktree.setup[0]",
            "retention.max_runs",
            "retention.max_age",
        ] {
            assert!(text.contains(want), "missing {want} in\n{text}");
        }
    }

    #[test]
    fn inside_relative_paths() {
        assert!(is_inside_relative("AGENTS.md"));
        assert!(is_inside_relative("docs/A.md"));
        assert!(!is_inside_relative("/etc/passwd"));
        assert!(!is_inside_relative("a/../../b"));
        assert!(!is_inside_relative(""));
    }
}
