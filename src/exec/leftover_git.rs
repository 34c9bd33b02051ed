//! What a resume or clean says and looks for about the git processes a killed orx left running.
//!
//! Kept apart from `helper.rs`, which starts those processes in the run's cgroup, so that the
//! cgroup side (`cgroup.rs`), which lets them finish, and the `/proc` scan of `runs::strays`
//! share the mark and the message without `cgroup.rs` depending on the code that uses it.

/// The environment variable that marks a process as one of a run's git processes (or started
/// by one), for the `/proc` scan that finds them where there is no cgroup.
pub const HELPER_ENV: &str = "ORX_HELPER";

/// Tell the person waiting on a resume or clean why it pauses: git processes (`pids`) that
/// the stopped driver of run `run_id` left running are being let finish.
pub(crate) fn note_waiting(run_id: &str, pids: &[i32]) {
    let what: Vec<String> = pids
        .iter()
        .map(|pid| format!("{pid} ({})", describe(*pid)))
        .collect();
    eprintln!(
        "orx: run {run_id}: waiting for the git processes its stopped orx left running to finish: {}",
        what.join(", ")
    );
}

/// A process's program and, for git, its subcommand (`git push`): never its other arguments,
/// which may hold a remote's URL with a token in it.
fn describe(pid: i32) -> String {
    let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let mut words = cmd
        .split(|b| *b == 0)
        .map(|w| String::from_utf8_lossy(w).into_owned());
    let program = words.next().unwrap_or_default();
    let name = program.rsplit('/').next().unwrap_or_default().to_string();
    if name != "git" {
        return name;
    }
    let mut skip = false;
    for word in words {
        if std::mem::take(&mut skip) {
            continue;
        }
        if word == "-c" || word == "-C" {
            skip = true;
        } else if !word.starts_with('-') {
            return format!("git {word}");
        }
    }
    name
}
