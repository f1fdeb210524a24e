//! The seccomp module's one system call that needs `unsafe`.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;

/// seccomp(SECCOMP_SET_MODE_FILTER, flags, prog): attaches `insns` to the calling
/// thread (to all threads with TSYNC). With SECCOMP_FILTER_FLAG_NEW_LISTENER the
/// kernel returns the notify listener fd, which the caller then owns.
pub(super) fn seccomp_set_mode_filter(
    insns: &[libc::sock_filter],
    flags: libc::c_ulong,
) -> Result<Option<OwnedFd>, Errno> {
    let len = u16::try_from(insns.len()).map_err(|_| Errno::E2BIG)?;
    let prog = libc::sock_fprog {
        len,
        filter: insns.as_ptr().cast_mut(),
    };
    // SAFETY: `prog` points at `len` valid instructions that outlive the call; the
    // kernel copies them and never writes through the pointer (the cast to *mut is
    // only what struct sock_fprog's C declaration asks for).
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            &prog as *const libc::sock_fprog,
        )
    };
    let r = Errno::result(r)?;
    if flags & libc::SECCOMP_FILTER_FLAG_NEW_LISTENER != 0 {
        // SAFETY: with NEW_LISTENER a successful call returns a new descriptor
        // (close-on-exec) that nothing else in this process knows of.
        return Ok(Some(unsafe { OwnedFd::from_raw_fd(r as RawFd) }));
    }
    if r > 0 {
        // TSYNC without TSYNC_ESRCH: the id of a thread that could not follow.
        return Err(Errno::ESRCH);
    }
    Ok(None)
}
