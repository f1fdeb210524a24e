//! The engine's few raw calls, each with its contract.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// Takes ownership of inherited descriptor `fd` (passed by number on the monitor's
/// command line), or `None` when no such descriptor is open.
pub fn take_fd(fd: RawFd) -> Option<OwnedFd> {
    if fd < 3 {
        return None;
    }
    // SAFETY: fcntl(F_GETFD) only queries the descriptor table.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return None;
    }
    // SAFETY: the descriptor is open (checked above) and nothing else in this
    // process owns it: the monitor's parent passed it only for this purpose.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Returns the heap's free memory to the kernel (the monitor does this once the
/// container runs, to stay small for its long life).
pub fn trim_heap() {
    // SAFETY: malloc_trim has no preconditions.
    unsafe { libc::malloc_trim(0) };
}
