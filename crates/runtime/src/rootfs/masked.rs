//! After the pivot: `linux.readonlyPaths`, `linux.maskedPaths` and `root.readonly`.
//!
//! Paths that do not exist are skipped (a kernel without /proc/timer_list is not
//! an error). Targets are resolved inside the root like every other target, and
//! the /dev/null used to mask files is checked to be the real null device first:
//! an image or a racing container process could have made it a symlink to a file
//! whose masking bind would then expose it (CVE-2025-31133).

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use nix::mount::MsFlags;
use rustix::fs::{FileType, OFlags};

use super::mounts::{self, Call};
use super::{Error, Result, paths, sys};

/// Opens `path` in the root, or `None` when it does not exist.
fn open_existing(root: BorrowedFd<'_>, rel: &Path, shown: &str) -> Result<Option<OwnedFd>> {
    match paths::open(root, rel) {
        Ok(fd) => Ok(Some(fd)),
        Err(e) if sys::errno(&e) == libc::ENOENT => Ok(None),
        Err(e) => Err(Error::path("open", shown)(e)),
    }
}

/// Makes `path` read-only: a bind onto itself, then a read-only remount that
/// keeps its nosuid/nodev/noexec/atime flags (a user namespace may not drop them).
pub(crate) fn readonly_path(root: BorrowedFd<'_>, path: &str) -> Result<()> {
    let rel = paths::clean(Path::new(path));
    let shown = paths::display(&rel);
    let Some(fd) = open_existing(root, &rel, &shown)? else {
        return Ok(());
    };
    let fp = sys::fd_path(fd.as_fd());
    Call {
        what: &shown,
        source: Some(&fp),
        target: &shown,
        fstype: None,
        flags: MsFlags::MS_BIND | MsFlags::MS_REC,
        data: None,
        options: "rbind",
    }
    .on(fd.as_fd())?;
    let top = mounts::reopen(root, &rel, &shown)?;
    mounts::remount_bind(top.as_fd(), &shown, MsFlags::MS_RDONLY, true)
}

/// Masks each path: files get /dev/null bound over them, directories an empty
/// read-only tmpfs.
pub(crate) fn mask_paths(root: BorrowedFd<'_>, masked: &[String]) -> Result<()> {
    let mut null: Option<OwnedFd> = None;
    for path in masked {
        let rel = paths::clean(Path::new(path));
        let shown = paths::display(&rel);
        let Some(fd) = open_existing(root, &rel, &shown)? else {
            continue;
        };
        let st = sys::fstat(fd.as_fd()).map_err(Error::path("stat", shown.as_str()))?;
        if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
            Call {
                what: "tmpfs",
                source: Some(Path::new("tmpfs")),
                target: &shown,
                fstype: Some("tmpfs"),
                flags: MsFlags::MS_RDONLY,
                data: None,
                options: "ro",
            }
            .on(fd.as_fd())?;
            continue;
        }
        if null.is_none() {
            null = Some(dev_null(root)?);
        }
        let np = sys::fd_path(null.as_ref().map(|n| n.as_fd()).unwrap_or(fd.as_fd()));
        Call {
            what: "/dev/null",
            source: Some(&np),
            target: &shown,
            fstype: None,
            flags: MsFlags::MS_BIND,
            data: None,
            options: "bind",
        }
        .on(fd.as_fd())?;
    }
    Ok(())
}

/// The container's /dev/null, refused unless it is the character device 1:3.
fn dev_null(root: BorrowedFd<'_>) -> Result<OwnedFd> {
    let rel = Path::new("dev/null");
    // O_NOFOLLOW with O_PATH opens a symlink itself, which then fails the check.
    let fd = sys::open_in_root(root, rel, OFlags::PATH | OFlags::NOFOLLOW)
        .map_err(Error::path("open", "/dev/null"))?;
    let st = sys::fstat(fd.as_fd()).map_err(Error::path("stat", "/dev/null"))?;
    let is_null = FileType::from_raw_mode(st.st_mode) == FileType::CharacterDevice
        && st.st_rdev == rustix::fs::makedev(1, 3);
    if !is_null {
        return Err(Error::Invalid(
            "/dev/null is not the null device (1:3); refusing to mask paths with it".into(),
        ));
    }
    Ok(fd)
}

/// `root.readonly`: remounts the new root read-only, keeping its other flags.
pub(crate) fn readonly_root() -> Result<()> {
    let fd = sys::open(Path::new("/"), OFlags::PATH | OFlags::DIRECTORY)
        .map_err(Error::path("open", "/"))?;
    mounts::remount_bind(fd.as_fd(), "/", MsFlags::MS_RDONLY, true)
}
