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

/// Returns to the kernel the main stack's pages more than 16 KiB below the current
/// frame: the container's setup ran deep calls once, and the monitor, which lives as
/// long as the container, should not keep those pages.
pub fn release_unused_stack() {
    let marker = 0u8;
    let sp = std::hint::black_box(&marker) as *const u8 as usize;
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return;
    };
    let Some(start) = maps
        .lines()
        .find(|l| l.ends_with("[stack]"))
        .and_then(|l| l.split('-').next())
        .and_then(|s| usize::from_str_radix(s, 16).ok())
    else {
        return;
    };
    if sp < start {
        return; // not on the main stack
    }
    let end = sp.saturating_sub(16 * 1024) & !4095;
    if end > start {
        // SAFETY: [start, end) lies in this thread's stack mapping, wholly below the
        // stack pointer less a margin far beyond the red zone, so it holds no live
        // data; MADV_DONTNEED makes those pages read back as zeros if touched again.
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
    }
}
