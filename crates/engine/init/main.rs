//! berth-init: the init `--init` runs as the container's pid 1, mounted at
//! /sbin/docker-init (tini's role in Docker). It runs the command as its only child
//! in a process group of its own, forwards every signal it gets to that child,
//! reaps every process that ends up its child, and exits with the command's exit
//! code (128 + N when signal N killed it).
//!
//! Images may have no libc, so this is a static program with no runtime at all:
//! no std, its own entry point, raw system calls. The engine's build script
//! compiles it with rustc and the engine embeds the result (`crate::init`).

#![no_std]
#![no_main]
#![no_builtins]

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("berth-init supports x86_64 and aarch64 Linux only");

#[allow(dead_code)]
mod path;

use core::arch::{asm, naked_asm};

/// System call numbers.
#[cfg(target_arch = "x86_64")]
mod nr {
    pub const WRITE: usize = 1;
    pub const RT_SIGACTION: usize = 13;
    pub const RT_SIGPROCMASK: usize = 14;
    pub const IOCTL: usize = 16;
    pub const GETPID: usize = 39;
    pub const CLONE: usize = 56;
    pub const EXECVE: usize = 59;
    pub const WAIT4: usize = 61;
    pub const KILL: usize = 62;
    pub const SETPGID: usize = 109;
    pub const RT_SIGTIMEDWAIT: usize = 128;
    pub const PRCTL: usize = 157;
    pub const EXIT_GROUP: usize = 231;
}
#[cfg(target_arch = "aarch64")]
mod nr {
    pub const WRITE: usize = 64;
    pub const RT_SIGACTION: usize = 134;
    pub const RT_SIGPROCMASK: usize = 135;
    pub const IOCTL: usize = 29;
    pub const GETPID: usize = 172;
    pub const CLONE: usize = 220;
    pub const EXECVE: usize = 221;
    pub const WAIT4: usize = 260;
    pub const KILL: usize = 129;
    pub const SETPGID: usize = 154;
    pub const RT_SIGTIMEDWAIT: usize = 137;
    pub const PRCTL: usize = 167;
    pub const EXIT_GROUP: usize = 94;
}

#[cfg(target_arch = "x86_64")]
unsafe fn syscall(n: usize, a: usize, b: usize, c: usize, d: usize, e: usize) -> isize {
    let ret: isize;
    unsafe {
        asm!("syscall", inlateout("rax") n as isize => ret, in("rdi") a, in("rsi") b,
            in("rdx") c, in("r10") d, in("r8") e, lateout("rcx") _, lateout("r11") _,
            options(nostack));
    }
    ret
}

#[cfg(target_arch = "aarch64")]
unsafe fn syscall(n: usize, a: usize, b: usize, c: usize, d: usize, e: usize) -> isize {
    let ret: isize;
    unsafe {
        asm!("svc 0", in("x8") n, inlateout("x0") a as isize => ret, in("x1") b,
            in("x2") c, in("x3") d, in("x4") e, options(nostack));
    }
    ret
}

/// The entry point: the kernel leaves argc, argv and envp on the stack.
#[cfg(target_arch = "x86_64")]
#[unsafe(naked)]
#[unsafe(no_mangle)]
unsafe extern "C" fn _start() -> ! {
    naked_asm!("mov rdi, rsp", "and rsp, -16", "call {main}", "ud2", main = sym main)
}

/// The entry point: the kernel leaves argc, argv and envp on the stack.
#[cfg(target_arch = "aarch64")]
#[unsafe(naked)]
#[unsafe(no_mangle)]
unsafe extern "C" fn _start() -> ! {
    naked_asm!("mov x0, sp", "bl {main}", "brk #0", main = sym main)
}

const SIGILL: usize = 4;
const SIGTRAP: usize = 5;
const SIGABRT: usize = 6;
const SIGBUS: usize = 7;
const SIGFPE: usize = 8;
const SIGSEGV: usize = 11;
const SIGCHLD: usize = 17;
const SIGTTIN: usize = 21;
const SIGTTOU: usize = 22;
const SIGSYS: usize = 31;
const SIG_SETMASK: usize = 2;
const SIG_IGN: usize = 1;
const WNOHANG: usize = 1;
const TIOCGPGRP: usize = 0x540f;
const TIOCSPGRP: usize = 0x5410;
const PR_SET_CHILD_SUBREAPER: usize = 36;

/// The kernel's `struct sigaction` (both architectures have sa_restorer).
#[repr(C)]
#[derive(Default)]
struct SigAction {
    handler: usize,
    flags: usize,
    restorer: usize,
    mask: u64,
}

fn bit(sig: usize) -> u64 {
    1 << (sig - 1)
}

// The system calls berth-init makes; each returns the raw result (-errno on
// failure).

fn sigprocmask(set: &u64, old: Option<&mut u64>) -> isize {
    let old = old.map_or(0, |o| o as *mut u64 as usize);
    unsafe {
        syscall(
            nr::RT_SIGPROCMASK,
            SIG_SETMASK,
            set as *const u64 as usize,
            old,
            8,
            0,
        )
    }
}

fn sigaction(sig: usize, act: &SigAction, old: Option<&mut SigAction>) -> isize {
    let old = old.map_or(0, |o| o as *mut SigAction as usize);
    let act = act as *const SigAction as usize;
    unsafe { syscall(nr::RT_SIGACTION, sig, act, old, 8, 0) }
}

/// Waits for a signal of `set`; returns its number.
fn sigwait(set: &u64) -> isize {
    let mut info = [0u64; 16];
    let info = info.as_mut_ptr() as usize;
    unsafe {
        syscall(
            nr::RT_SIGTIMEDWAIT,
            set as *const u64 as usize,
            info,
            0,
            8,
            0,
        )
    }
}

fn getpid() -> isize {
    unsafe { syscall(nr::GETPID, 0, 0, 0, 0, 0) }
}

fn kill(pid: isize, sig: usize) -> isize {
    unsafe { syscall(nr::KILL, pid as usize, sig, 0, 0, 0) }
}

/// wait4(-1, WNOHANG): (pid, status); pid 0 or less when no child is left to reap.
fn reap_one() -> (isize, i32) {
    let mut status: i32 = 0;
    let st = &mut status as *mut i32 as usize;
    let pid = unsafe { syscall(nr::WAIT4, -1isize as usize, st, WNOHANG, 0, 0) };
    (pid, status)
}

fn exit(code: i32) -> ! {
    loop {
        unsafe { syscall(nr::EXIT_GROUP, code as usize, 0, 0, 0, 0) };
    }
}

/// Writes `parts` to stderr in one write.
fn complain(parts: &[&[u8]]) {
    let mut buf = [0u8; 512];
    let mut n = 0;
    for p in parts {
        let take = p.len().min(buf.len() - n);
        buf[n..n + take].copy_from_slice(&p[..take]);
        n += take;
    }
    unsafe { syscall(nr::WRITE, 2, buf.as_ptr() as usize, n, 0, 0) };
}

/// The bytes of a NUL-terminated string.
unsafe fn cstr<'a>(p: *const u8) -> &'a [u8] {
    let mut n = 0;
    while unsafe { *p.add(n) } != 0 {
        n += 1;
    }
    unsafe { core::slice::from_raw_parts(p, n) }
}

unsafe extern "C" fn main(sp: *const usize) -> ! {
    let argc = unsafe { *sp };
    let argv = unsafe { sp.add(1) } as *const *const u8;
    let envp = unsafe { argv.add(argc + 1) };
    // The command: what follows a leading `--`.
    let mut cmd = unsafe { argv.add(1) };
    let mut left = argc.saturating_sub(1);
    if left > 0 && unsafe { cstr(*cmd) } == b"--" {
        cmd = unsafe { cmd.add(1) };
        left -= 1;
    }
    if left == 0 {
        complain(&[b"berth-init: usage: docker-init [--] COMMAND [ARG...]\n"]);
        exit(1);
    }

    // Every signal is blocked and waited for, except those a fault raises; the
    // terminal's stop signals are ignored, as tini does.
    let sync = bit(SIGFPE)
        | bit(SIGILL)
        | bit(SIGSEGV)
        | bit(SIGBUS)
        | bit(SIGABRT)
        | bit(SIGTRAP)
        | bit(SIGSYS)
        | bit(SIGTTIN)
        | bit(SIGTTOU);
    let blocked: u64 = !sync;
    let mut old_mask: u64 = 0;
    sigprocmask(&blocked, Some(&mut old_mask));
    let ignore = SigAction {
        handler: SIG_IGN,
        ..SigAction::default()
    };
    let (mut old_ttin, mut old_ttou) = (SigAction::default(), SigAction::default());
    sigaction(SIGTTIN, &ignore, Some(&mut old_ttin));
    sigaction(SIGTTOU, &ignore, Some(&mut old_ttou));
    // Not pid 1 (`--pid host`): orphans are still ours to reap.
    if getpid() != 1 {
        unsafe { syscall(nr::PRCTL, PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    }

    // fork(): the child continues on a copy of this stack.
    let child = unsafe { syscall(nr::CLONE, SIGCHLD, 0, 0, 0, 0) };
    if child < 0 {
        let why = path::strerror(-child as i32);
        complain(&[b"berth-init: fork failed: ", why, b"\n"]);
        exit(1);
    }
    if child == 0 {
        // A process group of its own, in the terminal's foreground if there is
        // one (a job-control shell expects it).
        let mut pgrp: i32 = 0;
        unsafe {
            syscall(nr::SETPGID, 0, 0, 0, 0, 0);
            let pgrp = &mut pgrp as *mut i32 as usize;
            if syscall(nr::IOCTL, 0, TIOCGPGRP, pgrp, 0, 0) == 0 {
                let me = getpid() as i32;
                syscall(nr::IOCTL, 0, TIOCSPGRP, &me as *const i32 as usize, 0, 0);
            }
        }
        sigaction(SIGTTIN, &old_ttin, None);
        sigaction(SIGTTOU, &old_ttou, None);
        sigprocmask(&old_mask, None);
        unsafe { exec(cmd, envp) }
    }

    // The parent: wait for signals, reap on SIGCHLD, forward the rest.
    loop {
        let sig = sigwait(&blocked);
        if sig <= 0 {
            continue;
        }
        if sig as usize != SIGCHLD {
            kill(child, sig as usize);
            continue;
        }
        let mut code = None;
        loop {
            let (pid, status) = reap_one();
            if pid <= 0 {
                break;
            }
            if pid == child {
                code = Some(path::exit_code(status));
            }
        }
        if let Some(code) = code {
            exit(code);
        }
    }
}

/// Executes the command `cmd` (a NULL-terminated argv), searching PATH for a
/// name without '/'; never returns.
unsafe fn exec(cmd: *const *const u8, envp: *const *const u8) -> ! {
    let name = unsafe { cstr(*cmd) };
    let execve = |file: *const u8| unsafe {
        syscall(nr::EXECVE, file as usize, cmd as usize, envp as usize, 0, 0) as i32
    };
    let errno = if name.contains(&b'/') {
        -execve(name.as_ptr())
    } else {
        let mut n = 0;
        while !unsafe { *envp.add(n) }.is_null() {
            n += 1;
        }
        let env = (0..n).map(|i| unsafe { cstr(*envp.add(i)) });
        let mut search = path::Candidates::new(name, path::path_value(env));
        let mut errors = path::SearchErrors::default();
        let mut buf = [0u8; 4096];
        while search.next_into(&mut buf).is_some() {
            if !errors.failed(-execve(buf.as_ptr())) {
                break;
            }
        }
        errors.errno()
    };
    let why = path::strerror(errno);
    complain(&[b"berth-init: exec ", name, b" failed: ", why, b"\n"]);
    exit(path::exec_failure_code(errno))
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    complain(&[b"berth-init: internal error\n"]);
    exit(1)
}

// What the compiler may call for copies and fills. `no_builtins` keeps these loops
// from being turned back into calls to themselves.

#[unsafe(no_mangle)]
unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    let mut i = 0;
    while i < n {
        unsafe { *dst.add(i) = *src.add(i) };
        i += 1;
    }
    dst
}

#[unsafe(no_mangle)]
unsafe extern "C" fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if (dst as usize) <= (src as usize) {
        return unsafe { memcpy(dst, src, n) };
    }
    let mut i = n;
    while i > 0 {
        i -= 1;
        unsafe { *dst.add(i) = *src.add(i) };
    }
    dst
}

#[unsafe(no_mangle)]
unsafe extern "C" fn memset(dst: *mut u8, c: i32, n: usize) -> *mut u8 {
    let mut i = 0;
    while i < n {
        unsafe { *dst.add(i) = c as u8 };
        i += 1;
    }
    dst
}

#[unsafe(no_mangle)]
unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    let mut i = 0;
    while i < n {
        let (x, y) = unsafe { (*a.add(i), *b.add(i)) };
        if x != y {
            return x as i32 - y as i32;
        }
        i += 1;
    }
    0
}

#[unsafe(no_mangle)]
unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    unsafe { memcmp(a, b, n) }
}
