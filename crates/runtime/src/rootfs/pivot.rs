//! Switching the process's root to the container's rootfs.

use std::os::fd::AsFd;
use std::path::Path;

use nix::mount::{MntFlags, MsFlags};
use rustix::fs::OFlags;

use super::{Error, Result, sys};

/// `pivot_root(".", ".")`: with the new root as working directory, the old root is
/// stacked on top of it and then detached, so no directory for the old root is
/// needed inside the container's filesystem (which may be read-only).
pub(crate) fn pivot_root(rootfs: &Path) -> Result<()> {
    let shown = rootfs.display().to_string();
    let dir = OFlags::PATH | OFlags::DIRECTORY;
    let old = sys::open(Path::new("/"), dir).map_err(Error::path("open", "/"))?;
    let new = sys::open(rootfs, dir).map_err(Error::path("open rootfs", shown.as_str()))?;
    sys::fchdir(new.as_fd()).map_err(Error::path("chdir", shown.as_str()))?;
    super::step(
        || format!("pivot_root {shown}"),
        || sys::pivot_root(Path::new("."), Path::new(".")),
    )
    .map_err(Error::path("pivot_root", shown.as_str()))?;
    // The old root is now mounted over the new one; step into it by descriptor
    // rather than rely on what "." resolves to.
    sys::fchdir(old.as_fd()).map_err(Error::path("chdir", "old root"))?;
    // Slave first, so that the detach below does not propagate unmounts to the
    // host's mounts.
    super::step(
        || "mount --make-rslave old root".to_string(),
        || {
            sys::mount(
                None,
                Path::new("."),
                None,
                MsFlags::MS_SLAVE | MsFlags::MS_REC,
                None,
            )
        },
    )
    .map_err(Error::path("make rslave", "old root"))?;
    super::step(
        || "umount2 old root (detach)".to_string(),
        || sys::umount2(Path::new("."), MntFlags::MNT_DETACH),
    )
    .map_err(Error::path("umount", "old root"))?;
    sys::chdir(Path::new("/")).map_err(Error::path("chdir", "/"))
}

/// `--no-pivot`: move the rootfs mount onto `/` and chroot into it. Weaker than
/// pivot_root (the old root stays reachable to a process that escapes the
/// chroot), for filesystems pivot_root refuses, like an initramfs.
pub(crate) fn move_root(rootfs: &Path) -> Result<()> {
    let shown = rootfs.display().to_string();
    sys::chdir(rootfs).map_err(Error::path("chdir", shown.as_str()))?;
    super::step(
        || format!("mount --move {shown} /"),
        || sys::mount(Some(rootfs), Path::new("/"), None, MsFlags::MS_MOVE, None),
    )
    .map_err(|source| Error::Mount {
        what: shown.clone(),
        target: "/".into(),
        options: "move".into(),
        source,
    })?;
    super::step(|| "chroot .".to_string(), || sys::chroot(Path::new(".")))
        .map_err(Error::path("chroot", shown.as_str()))?;
    sys::chdir(Path::new("/")).map_err(Error::path("chdir", "/"))
}
