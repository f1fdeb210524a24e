//! The raw system calls the process code needs that nix and rustix do not wrap the
//! way we need. Every `unsafe` of the lifecycle code lives here.

use std::ffi::CString;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;

/// Outcome of [`fork`].
pub enum Forked {
    /// In the parent, with the child's pid.
    Parent(i32),
    /// In the child.
    Child,
}

/// fork(2) through glibc, so that glibc's own per-process state (cached thread id,
/// atfork handlers) stays right in the child. Only called while the process is
/// single-threaded.
pub fn fork() -> Result<Forked, Errno> {
    // SAFETY: berth-runtime forks only from single-threaded code paths (the CLI and
    // its children), so no lock can be held by another thread across the fork.
    match unsafe { nix::unistd::fork() }? {
        nix::unistd::ForkResult::Parent { child } => Ok(Forked::Parent(child.as_raw())),
        nix::unistd::ForkResult::Child => Ok(Forked::Child),
    }
}

/// Marks every descriptor from `first` upwards close-on-exec (close_range with
/// CLOSE_RANGE_CLOEXEC), so that nothing of the host reaches the container's process
/// (CVE-2024-21626), while the descriptors stay usable until the exec.
pub fn cloexec_from(first: u32) -> Result<(), Errno> {
    // SAFETY: close_range only changes descriptor flags; no memory is involved.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    Errno::result(r).map(drop)
}

/// pidfd_open(2): a descriptor that becomes readable when the process exits.
pub fn pidfd_open(pid: i32) -> Result<OwnedFd, Errno> {
    // SAFETY: plain syscall with integer arguments.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    let fd = Errno::result(fd)? as RawFd;
    // SAFETY: the kernel returned a new descriptor that we now own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// prctl(PR_SET_CHILD_SUBREAPER): orphans below us become our children, so a
/// foreground `run`/`exec` can wait for the container process its helper forked.
pub fn set_child_subreaper() -> Result<(), Errno> {
    // SAFETY: integer-only prctl.
    Errno::result(unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) }).map(drop)
}

/// prctl(PR_SET_PDEATHSIG): the kernel signals us when our parent dies, so helpers
/// never outlive a killed runtime.
pub fn set_parent_death_signal(sig: i32) -> Result<(), Errno> {
    // SAFETY: integer-only prctl.
    Errno::result(unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, sig, 0, 0, 0) }).map(drop)
}

/// prctl(PR_SET_KEEPCAPS).
pub fn set_keep_caps(on: bool) -> Result<(), Errno> {
    // SAFETY: integer-only prctl.
    Errno::result(unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, on as libc::c_ulong, 0, 0, 0) })
        .map(drop)
}

/// prctl(PR_SET_NO_NEW_PRIVS).
pub fn set_no_new_privs() -> Result<(), Errno> {
    // SAFETY: integer-only prctl.
    Errno::result(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) }).map(drop)
}

/// setdomainname(2).
pub fn set_domainname(name: &str) -> Result<(), Errno> {
    // SAFETY: the pointer and length describe `name`'s bytes.
    Errno::result(unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) }).map(drop)
}

/// setgroups(2) with raw gids.
pub fn setgroups(gids: &[u32]) -> Result<(), Errno> {
    // SAFETY: the pointer and length describe `gids`.
    Errno::result(unsafe { libc::setgroups(gids.len(), gids.as_ptr()) }).map(drop)
}

/// setrlimit(2) with a raw resource number.
pub fn setrlimit(resource: u32, soft: u64, hard: u64) -> Result<(), Errno> {
    let lim = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: `lim` is a valid rlimit for the duration of the call.
    Errno::result(unsafe { libc::setrlimit(resource as _, &lim) }).map(drop)
}

/// personality(2).
pub fn personality(persona: u64) -> Result<(), Errno> {
    // SAFETY: integer-only syscall.
    Errno::result(unsafe { libc::personality(persona as libc::c_ulong) }).map(drop)
}

/// execve(2); returns only on failure.
pub fn execve(path: &CString, args: &[CString], env: &[CString]) -> Errno {
    let argv: Vec<*const libc::c_char> = args
        .iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let envp: Vec<*const libc::c_char> = env
        .iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    // SAFETY: argv and envp are NULL-terminated arrays of pointers into CStrings that
    // outlive the call.
    unsafe { libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
    Errno::last()
}

/// Sets the signal mask to empty and every signal's disposition back to default, so
/// the container's process starts with a clean slate whatever the runtime blocked.
pub fn reset_signals() {
    // SAFETY: sigset operations on a local set; signal() with SIG_DFL is always valid
    // for catchable signals (errors for SIGKILL/SIGSTOP are ignored).
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        for sig in 1..libc::SIGRTMAX() {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::signal(sig, libc::SIG_DFL);
            }
        }
    }
}

/// Blocks `signals` in this thread and returns the previous mask's restorer.
pub fn block_signals(signals: &[i32]) -> Result<(), Errno> {
    // SAFETY: sigset operations on a local set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in signals {
            libc::sigaddset(&mut set, *s);
        }
        Errno::result(libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut())).map(drop)
    }
}

/// Waits up to `timeout_ms` for one of the blocked `signals`; `None` on timeout.
pub fn wait_signal(signals: &[i32], timeout_ms: u64) -> Option<i32> {
    // SAFETY: sigset and timespec are locals valid for the call.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in signals {
            libc::sigaddset(&mut set, *s);
        }
        let ts = libc::timespec {
            tv_sec: (timeout_ms / 1000) as _,
            tv_nsec: ((timeout_ms % 1000) * 1_000_000) as _,
        };
        let r = libc::sigtimedwait(&set, std::ptr::null_mut(), &ts);
        (r > 0).then_some(r)
    }
}

/// ioctl(TIOCSCTTY): makes `fd` the controlling terminal of this session.
pub fn set_controlling_terminal(fd: RawFd) -> Result<(), Errno> {
    // SAFETY: integer-only ioctl on a descriptor we own.
    Errno::result(unsafe { libc::ioctl(fd, libc::TIOCSCTTY, 0) }).map(drop)
}

/// ioctl(TIOCSWINSZ).
pub fn set_window_size(fd: RawFd, rows: u16, cols: u16) -> Result<(), Errno> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: `ws` is valid for the duration of the call.
    Errno::result(unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) }).map(drop)
}

/// ioctl(TIOCGWINSZ); `None` when `fd` is not a terminal.
pub fn window_size(fd: RawFd) -> Option<(u16, u16)> {
    // SAFETY: zeroed winsize is a valid value; the ioctl writes into it.
    unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        (libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) == 0).then_some((ws.ws_row, ws.ws_col))
    }
}

/// Duplicates `fd` onto `target` (dup2), keeping `target` open across exec.
pub fn dup_onto(fd: RawFd, target: RawFd) -> Result<(), Errno> {
    // SAFETY: dup2 on descriptors; the caller owns both numbers.
    Errno::result(unsafe { libc::dup2(fd, target) }).map(drop)
}

/// umask(2); returns the previous mask.
pub fn umask(mask: u32) -> u32 {
    // SAFETY: umask cannot fail.
    unsafe { libc::umask(mask as libc::mode_t) as u32 }
}

/// Exits immediately without running destructors or atexit handlers (for forked
/// children, which must not flush or free the parent's state).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit has no preconditions.
    unsafe { libc::_exit(code) }
}

/// kill(2) with a raw signal number (real-time signals included).
pub fn kill_raw(pid: i32, signal: i32) -> Result<(), Errno> {
    // SAFETY: integer-only syscall.
    Errno::result(unsafe { libc::kill(pid, signal) }).map(drop)
}

/// prctl(PR_SET_DUMPABLE).
pub fn set_dumpable(on: bool) -> Result<(), Errno> {
    // SAFETY: integer-only prctl.
    Errno::result(unsafe { libc::prctl(libc::PR_SET_DUMPABLE, on as libc::c_ulong, 0, 0, 0) })
        .map(drop)
}

/// The argument block of clone3(2) (linux/sched.h, version 2: with `cgroup`).
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

/// Forks with clone3(CLONE_INTO_CGROUP): the child is born in the cgroup whose
/// directory `cgroup_dir` is open, so no cgroup.procs migration (and its RCU grace
/// period) is needed. Like fork(2): no shared memory, SIGCHLD on exit. Only called
/// while single-threaded: glibc's fork bookkeeping does not run, which is harmless
/// without other threads (no lock can be held), and the child's cached thread id is
/// the parent's — the child never uses pthread functions that read it.
pub fn fork_into_cgroup(cgroup_dir: RawFd) -> Result<Forked, Errno> {
    let mut args = CloneArgs {
        // CLONE_INTO_CGROUP (linux/sched.h); libc types it too narrowly.
        flags: 0x2_0000_0000,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: cgroup_dir as u64,
        ..Default::default()
    };
    // SAFETY: without CLONE_VM the child gets a copy-on-write copy of our memory and
    // continues on its own copy of this stack, exactly like fork(2).
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match Errno::result(r)? {
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid as i32)),
    }
}

/// ioprio_set(IOPRIO_WHO_PROCESS, self, class << 13 | level).
pub fn ioprio_set_self(class: u32, level: u32) -> Result<(), Errno> {
    const IOPRIO_WHO_PROCESS: libc::c_int = 1;
    // SAFETY: integer-only syscall.
    let r = unsafe {
        libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, (class << 13) | level)
    };
    Errno::result(r).map(drop)
}

/// struct sched_attr (linux/sched/types.h), without the utilisation clamps.
#[repr(C)]
#[derive(Default)]
pub struct SchedAttr {
    /// Size of this structure.
    pub size: u32,
    /// SCHED_* policy.
    pub policy: u32,
    /// SCHED_FLAG_* flags.
    pub flags: u64,
    /// Nice value (SCHED_OTHER, SCHED_BATCH).
    pub nice: i32,
    /// Static priority (SCHED_FIFO, SCHED_RR).
    pub priority: u32,
    /// SCHED_DEADLINE runtime, ns.
    pub runtime: u64,
    /// SCHED_DEADLINE deadline, ns.
    pub deadline: u64,
    /// SCHED_DEADLINE period, ns.
    pub period: u64,
}

/// sched_setattr(2) on this process.
pub fn sched_setattr_self(attr: &mut SchedAttr) -> Result<(), Errno> {
    attr.size = std::mem::size_of::<SchedAttr>() as u32;
    // SAFETY: `attr` is a valid, correctly sized sched_attr for the call.
    let r = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, attr as *mut SchedAttr, 0) };
    Errno::result(r).map(drop)
}

/// sched_setaffinity(2) on this process to the given CPUs.
pub fn set_affinity_self(cpus: &[usize]) -> Result<(), Errno> {
    // SAFETY: a zeroed cpu_set_t is empty; CPU_SET writes within it for ids below
    // CPU_SETSIZE, which the caller checked.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for c in cpus {
            libc::CPU_SET(*c, &mut set);
        }
        Errno::result(libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set))
            .map(drop)
    }
}
