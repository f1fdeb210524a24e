//! Foreground `run` and `exec`: wait for the container's process, forwarding the
//! signals the runtime receives, and turn its end into an exit code.

use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

/// Signals a foreground runtime passes on to the container's process.
pub const FORWARDED: [i32; 10] = [
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGTERM,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
    libc::SIGCONT,
    libc::SIGALRM,
    libc::SIGPIPE,
];

/// Blocks the forwarded signals and SIGCHLD; call before forking the container so no
/// signal is lost between the fork and the wait (the container's process unblocks
/// everything before exec).
pub fn prepare_foreground() {
    let mut all = FORWARDED.to_vec();
    all.push(libc::SIGCHLD);
    let _ = crate::sys::block_signals(&all);
    let _ = crate::sys::set_child_subreaper();
}

/// A shell's exit code for a wait status: the code, or 128 + signal.
pub fn exit_code(ws: WaitStatus) -> Option<i32> {
    match ws {
        WaitStatus::Exited(_, c) => Some(c),
        WaitStatus::Signaled(_, s, _) => Some(128 + s as i32),
        _ => None,
    }
}

/// Waits for `pid` (our child, or reparented to us as subreaper) to exit while
/// forwarding signals to it; reaps any other orphan on the way. Returns its exit code.
pub fn wait_foreground(pid: i32) -> i32 {
    let mut watched = FORWARDED.to_vec();
    watched.push(libc::SIGCHLD);
    loop {
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => break,
                Ok(ws) => {
                    if ws.pid() == Some(Pid::from_raw(pid))
                        && let Some(c) = exit_code(ws)
                    {
                        return c;
                    }
                }
                Err(nix::errno::Errno::EINTR) => continue,
                // No children at all: the process is gone and was reaped elsewhere.
                Err(_) => return 255,
            }
        }
        if let Some(sig) = crate::sys::wait_signal(&watched, 1000)
            && sig != libc::SIGCHLD
        {
            let _ = crate::sys::kill_raw(pid, sig);
        }
    }
}
