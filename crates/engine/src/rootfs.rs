//! The container's root filesystem on the host: the image snapshot mounted at
//! `<container dir>/rootfs` while the container runs, and the few files the engine
//! reads or creates in it before start, every path resolved inside the root
//! (`openat2` with `RESOLVE_IN_ROOT`) because image content is untrusted.

use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path};

use berth_image::snapshot::{Overlay, Snapshotter};
use rustix::fs::{Mode, OFlags, ResolveFlags};

use crate::Engine;
use crate::error::{Error, Result, io};
use crate::record::{Container, Status};

/// True when `path` is a mount point: it is on another mount than its parent. Two
/// statx calls instead of reading and scanning /proc/self/mountinfo, which grows with
/// every running container (and escapes the paths it lists).
pub fn is_mounted(path: &Path) -> bool {
    let mount_id = |p: &Path| {
        rustix::fs::statx(
            rustix::fs::CWD,
            p,
            rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
            rustix::fs::StatxFlags::MNT_ID,
        )
        .ok()
        .map(|st| st.stx_mnt_id)
    };
    let parent = match path.parent() {
        Some(p) if p.as_os_str().is_empty() => Path::new("."),
        Some(p) => p,
        None => return true, // `/`
    };
    match (mount_id(path), mount_id(parent)) {
        (Some(here), Some(up)) => here != up,
        _ => false,
    }
}

/// Mounts snapshot `key` at `target` (creating the directory) unless already there.
pub fn mount(overlay: &Overlay, key: &str, target: &Path) -> Result<()> {
    std::fs::create_dir_all(target).map_err(io(format!("create {}", target.display())))?;
    if is_mounted(target) {
        return Ok(());
    }
    let mounts = overlay.mounts(key)?;
    berth_image::snapshot::mount_all(&mounts, target)?;
    Ok(())
}

/// Unmounts `target` (and anything below it) if mounted.
pub fn unmount(target: &Path) -> Result<()> {
    while is_mounted(target) {
        match rustix::mount::unmount(target, rustix::mount::UnmountFlags::DETACH) {
            Ok(()) => {}
            Err(rustix::io::Errno::INVAL) | Err(rustix::io::Errno::NOENT) => break,
            Err(e) => {
                return Err(Error::Io {
                    what: format!("unmount {}", target.display()),
                    source: e.into(),
                });
            }
        }
    }
    Ok(())
}

/// Opens the root at `root` as an `O_PATH` directory to resolve paths in.
pub(crate) fn open_root(root: &Path) -> Result<OwnedFd> {
    rustix::fs::open(
        root,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::Io {
        what: format!("open {}", root.display()),
        source: e.into(),
    })
}

impl Engine {
    /// Runs `f` on container `key` and its root, mounted for the time of `f` when the
    /// container does not run and it was not mounted.
    pub(crate) fn with_root<T>(
        &self,
        key: &str,
        f: impl FnOnce(&Container, &Path) -> Result<T>,
    ) -> Result<T> {
        let c = self.find(key)?;
        let root = self.dir(&c.id).join("rootfs");
        let mounted_here = c.state.status != Status::Running && !is_mounted(&root);
        if mounted_here {
            mount(&self.snapshots(), &c.id, &root)?;
        }
        let r = f(&c, &root);
        if mounted_here {
            unmount(&root)?;
        }
        r
    }
}

/// Reads file `rel` inside `root` (symlinks resolved within the root); an absent
/// file reads as empty.
pub fn read_in_root(root: &Path, rel: &str) -> Result<String> {
    let dir = open_root(root)?;
    let fd = match rustix::fs::openat2(
        dir.as_fd(),
        rel.trim_start_matches('/'),
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    ) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT) | Err(rustix::io::Errno::NOTDIR) => return Ok(String::new()),
        Err(e) => {
            return Err(Error::Io {
                what: format!("open {rel} in the container"),
                source: e.into(),
            });
        }
    };
    let mut s = String::new();
    // Cap what an image can make us read.
    std::fs::File::from(fd)
        .take(4 << 20)
        .read_to_string(&mut s)
        .map_err(io(format!("read {rel} in the container")))?;
    Ok(s)
}

/// The host path of directory `rel` inside `root`, resolved within the root (a
/// `/proc/self/fd` path, good while this process runs), or `None` when it does not
/// exist or is not a directory.
pub fn resolve_dir_in_root(root: &Path, rel: &str) -> Result<Option<std::path::PathBuf>> {
    let dir = open_root(root)?;
    match rustix::fs::openat2(
        dir.as_fd(),
        rel.trim_start_matches('/'),
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    ) {
        Ok(fd) => {
            // Resolve the descriptor back to a real path, so that it can be walked.
            let p = std::fs::read_link(format!(
                "/proc/self/fd/{}",
                std::os::fd::AsRawFd::as_raw_fd(&fd)
            ))
            .map_err(io(format!("resolve {rel} in the container")))?;
            Ok(Some(p))
        }
        Err(rustix::io::Errno::NOENT) | Err(rustix::io::Errno::NOTDIR) => Ok(None),
        Err(e) => Err(Error::Io {
            what: format!("open {rel} in the container"),
            source: e.into(),
        }),
    }
}

/// Creates directory `rel` and its parents inside `root`, each component resolved
/// within the root, as Docker creates a missing working directory.
pub fn mkdir_in_root(root: &Path, rel: &str) -> Result<()> {
    let mut cur = open_root(root)?;
    for c in Path::new(rel).components() {
        let Component::Normal(name) = c else { continue };
        match rustix::fs::mkdirat(cur.as_fd(), name, Mode::from_raw_mode(0o755)) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => {
                return Err(Error::Io {
                    what: format!("create working directory {rel}"),
                    source: e.into(),
                });
            }
        }
        cur = rustix::fs::openat2(
            cur.as_fd(),
            name,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        )
        .map_err(|e| Error::Io {
            what: format!("create working directory {rel}"),
            source: e.into(),
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_creates_stay_inside_the_root() {
        let d = std::env::temp_dir().join(format!("berth-engine-rootfs-{}", std::process::id()));
        let root = d.join("root");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(d.join("secret"), "host").unwrap();
        std::os::unix::fs::symlink("../../secret", root.join("etc/passwd")).unwrap();
        std::fs::write(root.join("secret"), "inside").unwrap();
        // The link resolves against the container's root, not the host.
        assert_eq!(read_in_root(&root, "/etc/passwd").unwrap(), "inside");
        assert_eq!(read_in_root(&root, "/etc/group").unwrap(), "");
        std::os::unix::fs::symlink("/", root.join("up")).unwrap();
        mkdir_in_root(&root, "/up/srv/app").unwrap();
        assert!(root.join("srv/app").is_dir());
        assert!(!Path::new("/srv/app").exists() || Path::new("/srv/app").is_dir());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn mount_points_are_told_from_plain_directories() {
        assert!(is_mounted(Path::new("/proc")));
        assert!(!is_mounted(Path::new("/proc/self")));
        assert!(!is_mounted(Path::new("/no/such/berth/dir")));
        assert!(is_mounted(Path::new("/")));
    }
}
