//! Opening paths below a directory without ever following a symbolic link.
//!
//! The API and the MCP server read files of a run folder that agents and repositories can
//! write into, so "check the path, then open it by name" is a race (a symlink swapped in
//! between is followed) and "canonicalize the run folder" accepts whatever a committed
//! `runs/<id>` symlink points at. Here every component is opened with `openat(2)` relative to
//! the descriptor of the one before it, with `O_NOFOLLOW` (a symlink fails with `ELOOP`),
//! and the final descriptor is checked with `fstat(2)`: what is read is exactly what was
//! checked. A FIFO is opened non-blocking so it can be refused instead of hanging the read.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path};

/// Why a walk stopped.
#[derive(Debug)]
pub enum Refusal {
    /// A component does not exist, or a folder in the path is a file.
    Missing,
    /// A component is a symbolic link.
    Symlink,
    /// The final component exists but is not what was asked for (a folder, a FIFO, a device).
    WrongType,
    /// The path holds `..`, an absolute part or a NUL byte.
    BadPath,
    /// Any other error of the file system.
    Io(io::Error),
}

/// `openat(dir, name, flags | O_NOFOLLOW | O_CLOEXEC)`.
fn open_at(dir: &File, name: &std::ffi::OsStr, flags: libc::c_int) -> Result<File, Refusal> {
    let c = CString::new(name.as_bytes()).map_err(|_| Refusal::BadPath)?;
    // SAFETY: `dir` is an open descriptor for the duration of the call and `c` is a valid
    // NUL-terminated string; the returned descriptor is owned by the File below.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            c.as_ptr(),
            flags | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        let e = io::Error::last_os_error();
        return Err(match e.raw_os_error() {
            Some(libc::ELOOP) => Refusal::Symlink,
            // `O_DIRECTORY | O_NOFOLLOW` on a symlink fails with ENOTDIR: tell the two apart
            // (for the message only; nothing was opened either way).
            Some(libc::ENOTDIR) if is_symlink_at(dir, &c) => Refusal::Symlink,
            Some(libc::ENOENT) | Some(libc::ENOTDIR) => Refusal::Missing,
            _ => Refusal::Io(e),
        });
    }
    // SAFETY: `fd` is a fresh descriptor that nothing else owns.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// Whether `name` inside `dir` is a symbolic link (`fstatat` without following it).
fn is_symlink_at(dir: &File, name: &std::ffi::CStr) -> bool {
    // SAFETY: a zeroed `stat` is a valid out-parameter; `dir` and `name` are valid for the call.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    let rc = unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            name.as_ptr(),
            &mut st,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    rc == 0 && st.st_mode & libc::S_IFMT == libc::S_IFLNK
}

/// Open the folder `path` itself (following nothing in its last component).
pub fn open_dir(path: &Path) -> Result<File, Refusal> {
    let parent = path.parent().ok_or(Refusal::BadPath)?;
    let name = path.file_name().ok_or(Refusal::BadPath)?;
    let dir = File::open(parent).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => Refusal::Missing,
        _ => Refusal::Io(e),
    })?;
    open_at(&dir, name, libc::O_RDONLY | libc::O_DIRECTORY)
}

/// Open folder `name` (one component) inside `dir`.
pub fn open_subdir(dir: &File, name: &str) -> Result<File, Refusal> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') {
        return Err(Refusal::BadPath);
    }
    open_at(
        dir,
        std::ffi::OsStr::new(name),
        libc::O_RDONLY | libc::O_DIRECTORY,
    )
}

/// The components of relative `rel`, without `.`; refuses `..`, absolute parts and NUL.
pub fn components(rel: &str) -> Result<Vec<&std::ffi::OsStr>, Refusal> {
    if rel.contains('\0') {
        return Err(Refusal::BadPath);
    }
    let mut out = Vec::new();
    for c in Path::new(rel).components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(Refusal::BadPath)
            }
        }
    }
    Ok(out)
}

/// Open the regular file `rel` below `dir`, one no-follow step per component.
pub fn open_file_below(dir: &File, rel: &str) -> Result<File, Refusal> {
    let parts = components(rel)?;
    let Some((last, folders)) = parts.split_last() else {
        return Err(Refusal::BadPath);
    };
    let mut owned: Option<File> = None;
    for name in folders {
        let cur = owned.as_ref().unwrap_or(dir);
        owned = Some(open_at(cur, name, libc::O_RDONLY | libc::O_DIRECTORY)?);
    }
    let cur = owned.as_ref().unwrap_or(dir);
    let file = open_at(cur, last, libc::O_RDONLY | libc::O_NONBLOCK)?;
    let md = file.metadata().map_err(Refusal::Io)?;
    if !md.is_file() {
        return Err(Refusal::WrongType);
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_component_is_ever_followed() {
        let t = tempfile::tempdir().unwrap();
        let run = t.path().join("run");
        std::fs::create_dir_all(run.join("logs")).unwrap();
        std::fs::write(run.join("logs/a.log"), "inside").unwrap();
        std::fs::write(t.path().join("secret"), "outside").unwrap();
        std::os::unix::fs::symlink(t.path(), run.join("up")).unwrap();
        std::os::unix::fs::symlink(t.path().join("secret"), run.join("logs/s")).unwrap();
        std::os::unix::fs::symlink("a.log", run.join("logs/inner")).unwrap();
        std::os::unix::fs::symlink(&run, t.path().join("link")).unwrap();
        let c = CString::new(run.join("fifo").as_os_str().as_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);

        let dir = open_dir(&run).unwrap();
        let mut s = String::new();
        std::io::Read::read_to_string(&mut open_file_below(&dir, "./logs/a.log").unwrap(), &mut s)
            .unwrap();
        assert_eq!(s, "inside");
        for (rel, want) in [
            ("up/secret", "symlink"),
            ("logs/s", "symlink"),
            ("logs/inner", "symlink"),
            ("fifo", "type"),
            ("logs", "type"),
            ("logs/none", "missing"),
            ("logs/a.log/x", "missing"),
            ("../secret", "path"),
            ("/etc/passwd", "path"),
            ("", "path"),
        ] {
            let got = match open_file_below(&dir, rel) {
                Err(Refusal::Symlink) => "symlink",
                Err(Refusal::WrongType) => "type",
                Err(Refusal::Missing) => "missing",
                Err(Refusal::BadPath) => "path",
                other => panic!("{rel}: {other:?}"),
            };
            assert_eq!(got, want, "{rel}");
        }
        assert!(matches!(
            open_dir(&t.path().join("link")),
            Err(Refusal::Symlink)
        ));
        let parent = File::open(t.path()).unwrap();
        assert!(matches!(
            open_subdir(&parent, "link"),
            Err(Refusal::Symlink)
        ));
        assert!(matches!(open_subdir(&parent, ".."), Err(Refusal::BadPath)));
        assert!(open_subdir(&parent, "run").is_ok());
    }
}
