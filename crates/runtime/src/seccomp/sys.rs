//! The one place of the seccomp module that needs `unsafe`.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// Takes ownership of the notify listener fd that libseccomp returned after loading
/// a filter with SCMP_ACT_NOTIFY rules.
pub(super) fn own_notify_fd(fd: RawFd) -> OwnedFd {
    // SAFETY: libseccomp got this fd from seccomp(SECCOMP_SET_MODE_FILTER,
    // SECCOMP_FILTER_FLAG_NEW_LISTENER) and only keeps its number in its global state;
    // it closes it only in seccomp_reset(NULL, ...), which berth never calls. Nothing
    // else in this process owns it, so the OwnedFd becomes its single owner.
    unsafe { OwnedFd::from_raw_fd(fd) }
}
