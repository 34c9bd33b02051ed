//! Which git is installed, and the oldest release parallel lanes work with.
//!
//! Integrating a lane replays its commit with `git merge-tree --write-tree --merge-base`
//! (`integrate.rs`); git 2.40 brought `--merge-base`, and an older git refuses the option in the
//! middle of a run. So a run that would open lanes reads `git --version` first, before it
//! creates anything, and refuses with the version it found and the one it needs; `orx doctor`
//! names the minimum too. The version is only read, never guessed: output orx cannot read
//! counts as new enough, and the integration's own error speaks if it was not.

use std::path::Path;

use super::error::Result;
use super::Git;

/// The oldest git parallel lanes work with, as (major, minor).
pub const LANES_MIN: (u32, u32) = (2, 40);

/// [`LANES_MIN`] as people write it: `2.40`.
pub fn lanes_min() -> String {
    format!("{}.{}", LANES_MIN.0, LANES_MIN.1)
}

/// The first dotted number in what `git --version` prints (`git version 2.39.5 (Apple
/// Git-154)`), as (major, minor, patch); a missing patch is 0.
pub fn parse(text: &str) -> Option<(u32, u32, u32)> {
    text.split_whitespace().find_map(|word| {
        let mut parts = word.split('.').map(|p| p.parse::<u32>().ok());
        let major = parts.next()??;
        let minor = parts.next()??;
        let patch = parts.next().flatten().unwrap_or(0);
        Some((major, minor, patch))
    })
}

/// Whether git `version` (as `git --version` prints it) is too old for lanes; `None` when no
/// version can be read in it.
pub fn too_old_for_lanes(version: &str) -> Option<bool> {
    let (major, minor, _) = parse(version)?;
    Some((major, minor) < LANES_MIN)
}

/// What `git --version` prints (its first line), run in `dir`.
pub fn installed(dir: &Path) -> Result<String> {
    let out = Git::new(dir).run(["--version"])?;
    Ok(out.lines().next().unwrap_or("").trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_from_what_git_prints_and_compared_with_the_minimum() {
        assert_eq!(parse("git version 2.47.3"), Some((2, 47, 3)));
        assert_eq!(
            parse("git version 2.39.5 (Apple Git-154)"),
            Some((2, 39, 5))
        );
        assert_eq!(parse("git version 2.40.windows.1"), Some((2, 40, 0)));
        assert_eq!(parse("git version 3.0"), Some((3, 0, 0)));
        assert_eq!(parse("no version"), None);
        assert_eq!(too_old_for_lanes("git version 2.37.1"), Some(true));
        assert_eq!(too_old_for_lanes("git version 2.39.9"), Some(true));
        assert_eq!(too_old_for_lanes("git version 2.40.0"), Some(false));
        assert_eq!(too_old_for_lanes("git version 3.1.0"), Some(false));
        assert_eq!(too_old_for_lanes("git version 1.99.0"), Some(true));
        assert_eq!(too_old_for_lanes("garbage"), None);
        assert_eq!(lanes_min(), "2.40");
    }
}
