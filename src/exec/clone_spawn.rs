//! Starting a supervised child directly inside its cgroup, with `clone3(CLONE_INTO_CGROUP)`.
//!
//! Moving a process between cgroups by writing its pid to `cgroup.procs` takes the kernel's
//! cgroup-wide thread-group lock for writing, which waits for an RCU grace period: several
//! milliseconds per child, tens on a busy machine, paid by every agent call and gate. A process
//! created with `CLONE_INTO_CGROUP` (Linux 5.7) is born in the target cgroup and takes no such
//! lock, and it is still inside before its program runs a single instruction.
//!
//! The standard library cannot pass that flag, so this file does what `Command::spawn` does
//! for the one shape of child the supervisor and the run's git processes need: piped stdout
//! and stderr, stdin piped or `/dev/null`, its own process group, a parent-death signal where
//! the caller asks for one (`PR_SET_PDEATHSIG`), a working directory, an explicit environment,
//! the program found on the child's `PATH` as `execvp` would. Everything is
//! allocated before the clone; between clone and exec the child only makes async-signal-safe
//! system calls on memory prepared for it, and reports an exec failure's errno through a
//! close-on-exec pipe, as the standard library does. When the kernel refuses the clone itself
//! ([`Unsupported`]), the caller falls back to `Command` and a write to `cgroup.procs`.
//!
//! On x86-64 the clone also shares orx's memory with the child until its exec
//! (`CLONE_VM | CLONE_VFORK`, what glibc's `posix_spawn` does): a fork-like clone copies the
//! page tables of the whole process (its threads' stacks, the heap, a large binary) and then
//! pays a copy-on-write fault for every page either side touches, about 0.3 ms per child here
//! where a run starts a dozen. The child then runs on a stack of its own mapped for it, the
//! calling thread waits in the kernel until the exec, and every signal is blocked across the
//! clone so no handler of orx's runs in the child before it has reset them to their defaults.
//! Other architectures take the fork-like clone, whose child needs none of this.

use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

/// `CLONE_INTO_CGROUP` from `linux/sched.h` (the libc crate's constant does not fit its type
/// on every target).
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// The kernel's `struct clone_args` (version 2, with `cgroup`).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// The kernel cannot clone into a cgroup here (too old, or a filter forbids it): use the
/// standard library instead.
#[derive(Debug)]
pub(crate) struct Unsupported(pub io::Error);

/// What to start: the parts of a [`super::CommandSpec`] after the supervisor has resolved them.
pub(crate) struct Plan<'a> {
    pub program: &'a str,
    pub args: Vec<&'a OsStr>,
    pub cwd: &'a Path,
    /// The child's whole environment.
    pub env: Vec<(OsString, OsString)>,
    pub stdin_piped: bool,
    /// The signal the kernel sends the child when orx dies (`PR_SET_PDEATHSIG`), if any.
    pub death_signal: Option<libc::c_int>,
}

/// A started child; the caller reaps `pid`.
pub(crate) struct Spawned {
    pub pid: i32,
    pub stdin: Option<File>,
    pub stdout: File,
    pub stderr: File,
}

fn cstring(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "a NUL byte in an argument, the environment or a path",
        )
    })
}

/// A pipe whose two ends are closed on exec: `(read, write)`.
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into `fds`, a valid local array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created by pipe2 and nothing else owns them.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// The paths `execvp` would try for `program` with this `PATH`, in order.
fn candidates(program: &str, path: Option<&OsStr>) -> io::Result<Vec<CString>> {
    if program.contains('/') {
        return Ok(vec![cstring(program.as_bytes())?]);
    }
    let path = path.map_or(&b"/bin:/usr/bin"[..], OsStrExt::as_bytes);
    path.split(|b| *b == b':')
        .map(|dir| {
            let mut full = if dir.is_empty() {
                b".".to_vec()
            } else {
                dir.to_vec()
            };
            full.push(b'/');
            full.extend_from_slice(program.as_bytes());
            cstring(&full)
        })
        .collect()
}

/// Make `fd` the child's descriptor `target`, open across exec. Async-signal-safe.
///
/// # Safety
/// Only for the child between clone and exec.
unsafe fn install(fd: RawFd, target: RawFd) -> bool {
    if fd == target {
        // dup2 onto itself would keep close-on-exec.
        return libc::fcntl(fd, libc::F_SETFD, 0) == 0;
    }
    libc::dup2(fd, target) == target
}

/// Start `plan` in the cgroup open as `cgroup_dir`. The inner result is the spawn's own
/// outcome (a missing program is [`io::ErrorKind::NotFound`]).
pub(crate) fn spawn(plan: &Plan, cgroup_dir: &File) -> Result<io::Result<Spawned>, Unsupported> {
    // Everything the child needs, built before the clone.
    let prepared = (|| -> io::Result<_> {
        let path = plan
            .env
            .iter()
            .rev()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.as_os_str());
        let programs = candidates(plan.program, path)?;
        let mut argv = vec![cstring(plan.program.as_bytes())?];
        for a in &plan.args {
            argv.push(cstring(a.as_bytes())?);
        }
        let mut envp = Vec::with_capacity(plan.env.len());
        for (k, v) in &plan.env {
            let mut kv = k.clone().into_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            envp.push(cstring(&kv)?);
        }
        let cwd = cstring(plan.cwd.as_os_str().as_bytes())?;
        let stdin = if plan.stdin_piped {
            let (r, w) = pipe()?;
            (r, Some(w))
        } else {
            (OwnedFd::from(File::open("/dev/null")?), None)
        };
        Ok((programs, argv, envp, cwd, stdin, pipe()?, pipe()?, pipe()?))
    })();
    let (
        programs,
        argv,
        envp,
        cwd,
        (stdin_r, stdin_w),
        (out_r, out_w),
        (err_r, err_w),
        (report_r, report_w),
    ) = match prepared {
        Ok(p) => p,
        Err(e) => return Ok(Err(e)),
    };
    let argv_ptrs: Vec<*const libc::c_char> = argv
        .iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let envp_ptrs: Vec<*const libc::c_char> = envp
        .iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let fds = [
        (stdin_r.as_raw_fd(), 0),
        (out_w.as_raw_fd(), 1),
        (err_w.as_raw_fd(), 2),
    ];
    let ctx = ChildCtx {
        fds,
        death_signal: plan.death_signal,
        programs: &programs,
        argv: &argv_ptrs,
        envp: &envp_ptrs,
        cwd: &cwd,
        report: report_w.as_raw_fd(),
    };
    let rc = match clone_child(&ctx, cgroup_dir) {
        Ok(rc) => rc,
        Err(e) => return Ok(Err(e)),
    };
    if rc < 0 {
        return Err(Unsupported(io::Error::from_raw_os_error(
            i32::try_from(-rc).unwrap_or(libc::EINVAL),
        )));
    }
    let pid = i32::try_from(rc).unwrap_or(i32::MAX);
    // The parent keeps only its ends; the report pipe's write end must be closed here so its
    // read end sees end-of-file at the child's exec.
    drop((stdin_r, out_w, err_w, report_w));
    let mut report_r = File::from(report_r);
    let mut errno = [0u8; 4];
    let mut got = 0;
    while got < errno.len() {
        match report_r.read(&mut errno[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    if got == errno.len() {
        // The exec failed and the child exited: reap it and report why.
        let mut status = 0;
        // SAFETY: waitpid writes only to `status`, a valid local; `pid` is our child.
        while unsafe { libc::waitpid(pid, &mut status, 0) } < 0
            && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted
        {}
        return Ok(Err(io::Error::from_raw_os_error(i32::from_ne_bytes(errno))));
    }
    Ok(Ok(Spawned {
        pid,
        stdin: stdin_w.map(File::from),
        stdout: File::from(out_r),
        stderr: File::from(err_r),
    }))
}

/// Everything the child needs between clone and exec, prepared by the parent.
struct ChildCtx<'a> {
    fds: [(RawFd, RawFd); 3],
    death_signal: Option<libc::c_int>,
    programs: &'a [CString],
    argv: &'a [*const libc::c_char],
    envp: &'a [*const libc::c_char],
    cwd: &'a CString,
    report: RawFd,
}

/// Clone the child into the cgroup open as `cgroup_dir` and run [`child`] in it. Returns the
/// child's pid, or the negated errno of a clone the kernel refused; the outer error is a
/// failure to prepare the clone (its stack).
fn clone_child(ctx: &ChildCtx<'_>, cgroup_dir: &File) -> io::Result<libc::c_long> {
    let args = CloneArgs {
        flags: CLONE_INTO_CGROUP,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: cgroup_dir.as_raw_fd() as u64,
        ..CloneArgs::default()
    };
    #[cfg(target_arch = "x86_64")]
    {
        let stack = ChildStack::new()?;
        let args = CloneArgs {
            flags: args.flags | (libc::CLONE_VM | libc::CLONE_VFORK) as u64,
            stack: stack.base as u64,
            stack_size: stack.len as u64,
            ..args
        };
        let blocked = SignalsBlocked::new();
        // SAFETY: a valid, fully initialised clone_args of the size passed, naming a stack
        // mapped for the child and unmapped only after this returns, which with CLONE_VFORK is
        // after the child's exec or exit. The child starts in `child_entry` on that stack with
        // `ctx`, which lives in this frame until then; every signal is blocked meanwhile.
        let rc = unsafe { vm::clone3_on_stack(&args, child_entry, ctx) };
        drop(blocked);
        drop(stack);
        Ok(rc)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        // SAFETY: clone3 with a valid, fully initialised clone_args of the size passed, no
        // CLONE_VM and no stack: it behaves as fork, returning twice. The child branch only
        // makes async-signal-safe calls on memory allocated before the clone, and never
        // returns.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_clone3,
                &args as *const CloneArgs,
                std::mem::size_of::<CloneArgs>(),
            )
        };
        if rc == 0 {
            // SAFETY: the child, between clone and exec: see above.
            unsafe { child(ctx) }
        }
        Ok(if rc < 0 {
            -libc::c_long::from(
                io::Error::last_os_error()
                    .raw_os_error()
                    .unwrap_or(libc::EINVAL),
            )
        } else {
            rc
        })
    }
}

/// The child's entry on its own stack (x86-64, memory shared with orx until the exec).
#[cfg(target_arch = "x86_64")]
extern "C" fn child_entry(ctx: *const ChildCtx<'_>) -> ! {
    // SAFETY: `ctx` is the parent's `ChildCtx`, alive while the parent waits for this child's
    // exec or exit (CLONE_VFORK); `child` keeps to async-signal-safe calls.
    unsafe { child(&*ctx) }
}

/// A stack for a child that shares orx's memory: mapped before the clone, with a guard page
/// below it, and unmapped when the parent has resumed.
#[cfg(target_arch = "x86_64")]
struct ChildStack {
    base: *mut libc::c_void,
    len: usize,
}

#[cfg(target_arch = "x86_64")]
impl ChildStack {
    /// Ample for `child`, which makes a few system calls and no deep calls.
    const LEN: usize = 256 * 1024;
    const GUARD: usize = 4096;

    fn new() -> io::Result<ChildStack> {
        // SAFETY: an anonymous private mapping with no address hint; the result is checked.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                Self::LEN,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let stack = ChildStack {
            base,
            len: Self::LEN,
        };
        // The stack grows down: its lowest page faults instead of running into other memory.
        // SAFETY: the first page of the mapping just made.
        if unsafe { libc::mprotect(base, Self::GUARD, libc::PROT_NONE) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(stack)
    }
}

#[cfg(target_arch = "x86_64")]
impl Drop for ChildStack {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, which nothing uses any more: the child has
        // exec'd or exited (CLONE_VFORK) before the parent gets here.
        unsafe { libc::munmap(self.base, self.len) };
    }
}

/// Every signal blocked on this thread until dropped, so no handler of orx's can run in a
/// child that shares its memory before the child has reset them.
#[cfg(target_arch = "x86_64")]
struct SignalsBlocked(libc::sigset_t);

#[cfg(target_arch = "x86_64")]
impl SignalsBlocked {
    fn new() -> SignalsBlocked {
        // SAFETY: sigfillset and pthread_sigmask write only into the local sets.
        unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
            SignalsBlocked(old)
        }
    }
}

#[cfg(target_arch = "x86_64")]
impl Drop for SignalsBlocked {
    fn drop(&mut self) {
        // SAFETY: restores the mask saved in `new`, a valid set.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.0, std::ptr::null_mut()) };
    }
}

#[cfg(target_arch = "x86_64")]
mod vm {
    use super::{ChildCtx, CloneArgs};

    /// `clone3` whose child starts in `entry(ctx)` on the stack `args` names: the libc
    /// `syscall` wrapper cannot be used, as its child would return through a stack it does not
    /// have. Returns the child's pid or the negated errno, in the parent only.
    ///
    /// # Safety
    /// `args` must name a mapped stack for the child and `entry` must never return; with
    /// CLONE_VM the child shares this process's memory, so `entry` must keep to
    /// async-signal-safe calls.
    pub(super) unsafe fn clone3_on_stack(
        args: &CloneArgs,
        entry: extern "C" fn(*const ChildCtx<'_>) -> !,
        ctx: *const ChildCtx<'_>,
    ) -> libc::c_long {
        let mut rc: libc::c_long = libc::SYS_clone3;
        std::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            // The child: the kernel put its stack pointer at the top of its stack (16-byte
            // aligned, as the mapping is); no frame to return to.
            "xor ebp, ebp",
            "mov rdi, r13",
            "call r12",
            "ud2",
            "2:",
            inout("rax") rc,
            in("rdi") args as *const CloneArgs,
            in("rsi") std::mem::size_of::<CloneArgs>(),
            in("r12") entry,
            in("r13") ctx,
            out("rcx") _,
            out("r11") _,
            options(nostack),
        );
        rc
    }
}

/// The child after the clone: descriptors, process group, parent-death signal, signal state,
/// working directory, exec. Reports the errno of a failure on `report` and exits 127.
///
/// # Safety
/// Only in the child of the clone, before its exec; every pointer must stay valid (they point
/// into the parent's memory, which the child shares or has a copy of). No allocation, lock or
/// unwinding: only async-signal-safe system calls.
unsafe fn child(ctx: &ChildCtx<'_>) -> ! {
    let ChildCtx {
        fds,
        death_signal,
        programs,
        argv,
        envp,
        cwd,
        report,
    } = *ctx;
    let fail = |errno: i32| -> ! {
        let bytes = errno.to_ne_bytes();
        libc::write(report, bytes.as_ptr().cast(), bytes.len());
        libc::_exit(127)
    };
    let errno = || {
        io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EINVAL)
    };
    for (fd, target) in fds {
        if !install(fd, target) {
            fail(errno());
        }
    }
    if libc::setpgid(0, 0) != 0 {
        fail(errno());
    }
    if let Some(signal) = death_signal {
        libc::prctl(libc::PR_SET_PDEATHSIG, signal, 0, 0, 0);
    }
    // orx's handlers back to the default before any signal can arrive (what `posix_spawn`
    // does; the exec would reset them too, but a signal before it would run orx's handler
    // here). Then what the standard library resets for its children: the default SIGPIPE
    // action (Rust programs ignore SIGPIPE; a child must not inherit that) and an empty mask.
    for signal in 1..libc::SIGRTMAX() {
        let mut action: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(signal, std::ptr::null(), &mut action) == 0
            && action.sa_sigaction != libc::SIG_DFL
            && action.sa_sigaction != libc::SIG_IGN
        {
            libc::signal(signal, libc::SIG_DFL);
        }
    }
    libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    let mut set: libc::sigset_t = std::mem::zeroed();
    libc::sigemptyset(&mut set);
    libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    if libc::chdir(cwd.as_ptr()) != 0 {
        fail(errno());
    }
    // As execvp: try each candidate; a missing one is skipped, a denied one remembered.
    let mut last = libc::ENOENT;
    let mut denied = false;
    for program in programs {
        libc::execve(program.as_ptr(), argv.as_ptr(), envp.as_ptr());
        match errno() {
            libc::ENOENT | libc::ENOTDIR => {}
            libc::EACCES => denied = true,
            e => {
                last = e;
                break;
            }
        }
    }
    fail(if denied && last == libc::ENOENT {
        libc::EACCES
    } else {
        last
    })
}

#[cfg(test)]
mod tests {
    use super::super::cgroup::Leaf;
    use super::super::tracking;
    use super::*;
    use std::io::Write;

    /// The name of a test's leaf: named, like orx's own, after the process that made it, so
    /// that what a failed test leaves behind is swept once the test process is gone.
    fn leaf_name() -> String {
        format!("{}-0-leaf", std::process::id())
    }

    /// A leaf cgroup to clone into, or `None` where this machine gives no cgroup mode (the
    /// supervisor then never calls this file).
    fn leaf(name: &str) -> Option<Leaf> {
        let base = tracking::tracking().cgroup.clone()?;
        let id = format!("clone-spawn-{name}-{}", std::process::id());
        Some(Leaf::create(&base, Some(&id), &leaf_name()).unwrap())
    }

    fn reap(pid: i32) -> i32 {
        let mut status = 0;
        // SAFETY: waitpid writes only to `status`, a valid local.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        libc::WEXITSTATUS(status)
    }

    #[test]
    fn the_child_is_born_in_the_cgroup_with_its_folder_environment_and_pipes() {
        let Some(mut leaf) = leaf("born") else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let script = "cat /proc/self/cgroup | grep '^0::'; pwd; echo \"$ONLY_HERE\" \"$1\"; \
                      test \"$(ps -o pgid= -p $$ | tr -d ' ')\" = $$ && echo own-group; \
                      read line; echo \"got $line\"; echo oops >&2; exit 7";
        let plan = Plan {
            program: "sh",
            args: ["-c", script, "sh", "an-arg"].map(OsStr::new).to_vec(),
            cwd: dir.path(),
            env: vec![
                ("PATH".into(), std::env::var_os("PATH").unwrap()),
                ("ONLY_HERE".into(), "yes".into()),
            ],
            stdin_piped: true,
            death_signal: Some(libc::SIGKILL),
        };
        let mut child = spawn(&plan, &leaf.open_dir().unwrap())
            .expect("clone3 into a cgroup works where cgroup mode does")
            .unwrap();
        assert!(leaf.spawned(child.pid), "not in its leaf cgroup");
        child.stdin.take().unwrap().write_all(b"hello\n").unwrap();
        let (mut out, mut err) = (String::new(), String::new());
        child.stdout.read_to_string(&mut out).unwrap();
        child.stderr.read_to_string(&mut err).unwrap();
        assert_eq!(reap(child.pid), 7);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].ends_with(&format!("/{}", leaf_name())), "{out}");
        let cwd = dir.path().canonicalize().unwrap();
        assert_eq!(
            lines[1..],
            [
                cwd.to_str().unwrap(),
                "yes an-arg",
                "own-group",
                "got hello"
            ]
        );
        assert_eq!(err, "oops\n");
        leaf.remove();
    }

    /// Children cloned from several threads at once, each sharing orx's memory until its exec,
    /// all start with their own arguments and pipes, and the threads go on unharmed.
    #[test]
    fn children_cloned_from_many_threads_at_once_each_run_their_own_program() {
        let Some(leaf) = leaf("threads") else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let cgroup = leaf.open_dir().unwrap();
        std::thread::scope(|s| {
            for t in 0..4 {
                let (cgroup, dir) = (&cgroup, dir.path());
                s.spawn(move || {
                    for n in 0..40 {
                        let word = format!("t{t}n{n}");
                        let plan = Plan {
                            program: "/bin/echo",
                            args: vec![OsStr::new(&word)],
                            cwd: dir,
                            env: Vec::new(),
                            stdin_piped: n % 2 == 0,
                            death_signal: None,
                        };
                        let mut child = spawn(&plan, cgroup).unwrap().unwrap();
                        drop(child.stdin.take());
                        let mut out = String::new();
                        child.stdout.read_to_string(&mut out).unwrap();
                        assert_eq!(reap(child.pid), 0);
                        assert_eq!(out, format!("{word}\n"));
                    }
                });
            }
        });
        leaf.remove();
    }

    /// orx blocks every signal on the cloning thread while a child shares its memory; the child
    /// still starts its program with nothing blocked, and the thread gets its mask back.
    #[test]
    fn the_child_starts_with_an_empty_signal_mask_and_the_thread_keeps_its_own() {
        let Some(leaf) = leaf("signals") else {
            return;
        };
        let mask_of_thread = || {
            // SAFETY: pthread_sigmask with no new set only writes the current one into `now`.
            unsafe {
                let mut now: libc::sigset_t = std::mem::zeroed();
                libc::pthread_sigmask(libc::SIG_SETMASK, std::ptr::null(), &mut now);
                libc::sigismember(&now, libc::SIGUSR2)
            }
        };
        let before = mask_of_thread();
        let dir = tempfile::tempdir().unwrap();
        let plan = Plan {
            // grep, not a shell: a shell sets its own mask as it starts.
            program: "grep",
            args: ["^SigBlk", "/proc/self/status"].map(OsStr::new).to_vec(),
            cwd: dir.path(),
            env: vec![("PATH".into(), std::env::var_os("PATH").unwrap())],
            stdin_piped: false,
            death_signal: None,
        };
        let mut child = spawn(&plan, &leaf.open_dir().unwrap()).unwrap().unwrap();
        let mut out = String::new();
        child.stdout.read_to_string(&mut out).unwrap();
        assert_eq!(reap(child.pid), 0);
        let blocked = out.split_whitespace().nth(1).unwrap();
        assert_eq!(u64::from_str_radix(blocked, 16).unwrap(), 0, "{out}");
        assert_eq!(mask_of_thread(), before);
        leaf.remove();
    }

    #[test]
    fn a_missing_or_unrunnable_program_is_the_exec_error() {
        let Some(leaf) = leaf("missing") else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let not_exec = dir.path().join("plain.txt");
        std::fs::write(&not_exec, "not a program").unwrap();
        for (program, kind) in [
            ("orx-no-such-program-anywhere", io::ErrorKind::NotFound),
            (not_exec.to_str().unwrap(), io::ErrorKind::PermissionDenied),
        ] {
            let plan = Plan {
                program,
                args: Vec::new(),
                cwd: dir.path(),
                env: vec![("PATH".into(), std::env::var_os("PATH").unwrap())],
                stdin_piped: false,
                death_signal: None,
            };
            let err = match spawn(&plan, &leaf.open_dir().unwrap()).unwrap() {
                Ok(c) => panic!("{program} started as pid {}", c.pid),
                Err(e) => e,
            };
            assert_eq!(err.kind(), kind, "{program}: {err}");
        }
        leaf.remove();
    }
}
