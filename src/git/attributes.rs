//! Whether any gitattributes rule could apply to a set of paths, answered with a few `stat`s,
//! so the in-process checkout can skip libgit2's attribute lookups where none could.
//!
//! libgit2 answers one attribute question for one path by resolving the real path of the
//! path's folder (a `readlink` per component) and checking every file that could hold a rule
//! for it: each enclosing folder's `.gitattributes` in the worktree and in the index, the
//! repository's `info/attributes`, the global file and the system file. It does all of that
//! again for every path and every attribute asked, and the checkout asks six attributes of
//! every file it writes: about a quarter of a short run's system calls. Nearly every repository
//! has no attribute file at all. [`none_apply`] checks the same places once for the whole set
//! (the outside files once, each enclosing folder once), and only where it finds one does the
//! caller ask libgit2 path by path. The places mirror libgit2's own list
//! (`attr.c`, `collect_attr_files`), and the answer errs only towards asking.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use git2::{Config, ConfigLevel, Repository};

/// The name of the per-folder attributes file.
const FILE: &str = ".gitattributes";

/// Whether no attribute rule can apply to any of `paths` (relative to the worktree of
/// `repo`, whose config is `cfg`, best a snapshot: each read of a live config checks its
/// files): no attributes file outside the tree, and no `.gitattributes` in any folder that
/// encloses one of the paths, neither in the worktree nor in `repo`'s index. A path that is
/// itself a `.gitattributes` answers `false`, as writing it changes the rules.
pub(super) fn none_apply<'p>(
    repo: &Repository,
    cfg: &Config,
    paths: impl IntoIterator<Item = &'p Path>,
) -> std::result::Result<bool, git2::Error> {
    let mut paths = paths.into_iter().peekable();
    if paths.peek().is_none() {
        return Ok(true);
    }
    if outside(repo, cfg)? {
        return Ok(false);
    }
    let Some(root) = repo.workdir() else {
        return Ok(false);
    };
    let index = repo.index()?;
    let mut seen: HashSet<PathBuf> = HashSet::new();
    for path in paths {
        if path.file_name().is_some_and(|n| n == FILE) {
            return Ok(false);
        }
        for folder in path.ancestors().skip(1) {
            if !seen.insert(folder.to_path_buf()) {
                // This folder and every one above it were checked for an earlier path.
                break;
            }
            let rel = folder.join(FILE);
            if index.get_path(&rel, 0).is_some() || root.join(&rel).symlink_metadata().is_ok() {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// Whether an attributes file outside the tree exists: the repository's `info/attributes`
/// (in its common folder and, for a linked worktree, its own), `core.attributesFile` (or the
/// global default, `attributes` in the XDG `git` folder) and `gitattributes` in the system
/// folder.
fn outside(repo: &Repository, cfg: &Config) -> std::result::Result<bool, git2::Error> {
    let exists = |p: &Path| p.symlink_metadata().is_ok();
    let (common, own) = (repo.commondir(), repo.path());
    if exists(&common.join("info/attributes"))
        || (own != common && exists(&own.join("info/attributes")))
    {
        return Ok(true);
    }
    if cfg
        .get_path("core.attributesFile")
        .is_ok_and(|p| !p.as_os_str().is_empty())
    {
        return Ok(true);
    }
    for (level, name) in [
        (ConfigLevel::XDG, "attributes"),
        (ConfigLevel::System, "gitattributes"),
    ] {
        // SAFETY: reading a search path races only with a call that sets one, and orx never
        // sets any.
        let dirs = unsafe { git2::opts::get_search_path(level) }?;
        let dirs = dirs.to_string_lossy();
        if dirs
            .split(':')
            .filter(|d| !d.is_empty())
            .any(|d| exists(&Path::new(d).join(name)))
        {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{repo, sh};
    use super::*;

    fn check(dir: &Path, paths: &[&str]) -> bool {
        let r = Repository::open(dir).unwrap();
        let cfg = r.config().unwrap().snapshot().unwrap();
        none_apply(&r, &cfg, paths.iter().map(Path::new)).unwrap()
    }

    #[test]
    fn a_repository_without_attribute_files_needs_no_lookup() {
        let tmp = repo();
        assert!(check(tmp.path(), &["a.txt", "src/deep/b.rs"]));
    }

    #[test]
    fn an_attribute_file_anywhere_that_could_apply_means_asking() {
        // In an enclosing folder of the worktree, not committed.
        let tmp = repo();
        std::fs::create_dir_all(tmp.path().join("src/deep")).unwrap();
        std::fs::write(tmp.path().join("src/.gitattributes"), "*.rs eol=crlf\n").unwrap();
        assert!(!check(tmp.path(), &["a.txt", "src/deep/b.rs"]));
        // Not in a folder that encloses the path.
        assert!(check(tmp.path(), &["a.txt", "docs/c.md"]));

        // In the index only (staged, then deleted from the worktree).
        let tmp = repo();
        std::fs::write(tmp.path().join(FILE), "* text=auto\n").unwrap();
        sh(tmp.path(), &["add", FILE]);
        std::fs::remove_file(tmp.path().join(FILE)).unwrap();
        assert!(!check(tmp.path(), &["a.txt"]));

        // The repository's info/attributes.
        let tmp = repo();
        std::fs::create_dir_all(tmp.path().join(".git/info")).unwrap();
        std::fs::write(tmp.path().join(".git/info/attributes"), "* ident\n").unwrap();
        assert!(!check(tmp.path(), &["a.txt"]));

        // core.attributesFile.
        let tmp = repo();
        sh(
            tmp.path(),
            &["config", "core.attributesFile", "/nonexistent/attrs"],
        );
        assert!(!check(tmp.path(), &["a.txt"]));

        // Writing a .gitattributes itself.
        let tmp = repo();
        assert!(!check(tmp.path(), &["sub/.gitattributes"]));
    }

    #[test]
    fn whenever_libgit2_finds_an_attribute_the_check_says_to_ask() {
        // The check may say "ask" where nothing applies, never "none" where something does.
        let tmp = repo();
        std::fs::create_dir_all(tmp.path().join("x/y")).unwrap();
        std::fs::write(tmp.path().join("x/.gitattributes"), "*.c text\n").unwrap();
        let r = Repository::open(tmp.path()).unwrap();
        let cfg = r.config().unwrap();
        for p in ["x/y/z.c", "x/a.c", "q.c", "x/y/z.h"] {
            let set = r
                .get_attr(Path::new(p), "text", git2::AttrCheckFlags::FILE_THEN_INDEX)
                .unwrap()
                .is_some();
            if set {
                assert!(!none_apply(&r, &cfg, [Path::new(p)]).unwrap(), "{p}");
            }
        }
        assert!(none_apply(&r, &cfg, [Path::new("q.c")]).unwrap());
    }
}
