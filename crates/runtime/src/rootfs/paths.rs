//! Paths inside the container's root, resolved so that they never leave it.
//!
//! A container image is untrusted: `/etc` in it may be a symlink to the host's
//! `/etc`, `/dev/null` a symlink to `/proc/sys/kernel/core_pattern`. Resolving a
//! mount target with plain path lookup would follow such a link out of the root and
//! mount over the host (the CVE-2025-31133 / -52565 / -52881 class). Every target is
//! therefore opened with `openat2(RESOLVE_IN_ROOT)` relative to a descriptor of the
//! root, missing directories are created one component at a time below descriptors
//! obtained that way, and the mount itself is done on `/proc/self/fd/<fd>`, so no
//! second lookup happens.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use rustix::fs::OFlags;

use super::sys;

/// Cleans a container path lexically into a path relative to the root: `.` and
/// empty components vanish, `..` removes the previous component and stops at the
/// root. `"/proc/../etc//x"` becomes `"etc/x"`, `"/"` becomes `""`.
pub(crate) fn clean(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// The absolute container path of a cleaned relative path, for messages.
pub(crate) fn display(rel: &Path) -> String {
    format!("/{}", rel.display())
}

/// Opens `rel` inside `root` as an `O_PATH` descriptor.
pub(crate) fn open(root: BorrowedFd<'_>, rel: &Path) -> io::Result<OwnedFd> {
    sys::open_in_root(root, rel, OFlags::PATH)
}

/// Opens the directory `rel` inside `root`, creating it and any missing parents
/// (mode 0755). A dangling symlink on the way is followed by hand, inside the root,
/// and its target created (an image's `/var/run -> /run` before /run exists).
pub(crate) fn mkdir_all(root: BorrowedFd<'_>, rel: &Path) -> io::Result<OwnedFd> {
    let dir = OFlags::PATH | OFlags::DIRECTORY;
    match sys::open_in_root(root, rel, dir) {
        Err(e) if sys::errno(&e) == libc::ENOENT => {}
        r => return r,
    }
    let mut want = rel.to_path_buf();
    // The kernel's own limit on symlinks in one lookup.
    let mut hops = 0;
    'walk: loop {
        let comps: Vec<Component<'_>> = want.components().collect();
        let mut prefix = PathBuf::new();
        let mut parent: Option<OwnedFd> = None;
        for (i, c) in comps.iter().enumerate() {
            prefix.push(c);
            match sys::open_in_root(root, &prefix, dir) {
                Ok(fd) => {
                    parent = Some(fd);
                    continue;
                }
                Err(e) if sys::errno(&e) == libc::ENOENT => {}
                Err(e) => return Err(e),
            }
            // The parent was itself resolved inside the root, and a single name
            // cannot point elsewhere: mkdirat never follows a final symlink.
            let at = parent.as_ref().map_or(root, |p| p.as_fd());
            let name = Path::new(c.as_os_str());
            match sys::mkdirat(at, name, 0o755) {
                Ok(()) => {}
                Err(e) if sys::errno(&e) == libc::EEXIST => {}
                Err(e) => return Err(e),
            }
            match sys::open_in_root(root, &prefix, dir) {
                Ok(fd) => parent = Some(fd),
                Err(e) if sys::errno(&e) == libc::ENOENT => {
                    // EEXIST then ENOENT: the name is a symlink to nowhere.
                    let target = sys::readlinkat(at, name).map_err(|_| e)?;
                    hops += 1;
                    if hops > 40 {
                        return Err(io::Error::from_raw_os_error(libc::ELOOP));
                    }
                    let base = if target.is_absolute() {
                        PathBuf::new()
                    } else {
                        prefix.parent().map(Path::to_path_buf).unwrap_or_default()
                    };
                    let mut next = base.join(target);
                    next.extend(&comps[i + 1..]);
                    want = clean(&next);
                    continue 'walk;
                }
                Err(e) => return Err(e),
            }
        }
        return match parent {
            Some(fd) => Ok(fd),
            None => sys::open_in_root(root, &want, dir),
        };
    }
}

/// Opens the file `rel` inside `root`, creating it empty (mode 0644), and its
/// parents, when missing. An existing directory or device is returned as is. A
/// dangling symlink in its place is followed inside the root and its target
/// created (images ship `/etc/resolv.conf -> /run/systemd/resolve/stub-resolv.conf`
/// and engines bind-mount onto it).
pub(crate) fn create_file(root: BorrowedFd<'_>, rel: &Path) -> io::Result<OwnedFd> {
    let mut want = rel.to_path_buf();
    for _ in 0..40 {
        match open(root, &want) {
            Err(e) if sys::errno(&e) == libc::ENOENT => {}
            r => return r,
        }
        let (parent, name) = split(&want)?;
        let dir = mkdir_all(root, parent)?;
        // O_NOFOLLOW: never create through a symlink; a symlink answers ELOOP and
        // is followed by hand below.
        match sys::openat_nofollow(dir.as_fd(), name, OFlags::CREATE | OFlags::RDONLY, 0o644) {
            Err(e) if sys::errno(&e) == libc::ELOOP => {
                let target = sys::readlinkat(dir.as_fd(), name)?;
                let base = if target.is_absolute() {
                    PathBuf::new()
                } else {
                    parent.to_path_buf()
                };
                want = clean(&base.join(target));
            }
            Err(e) if sys::errno(&e) == libc::EEXIST => return open(root, &want),
            r => return r,
        }
    }
    Err(io::Error::from_raw_os_error(libc::ELOOP))
}

/// Splits a cleaned relative path into its parent and final name.
pub(crate) fn split(rel: &Path) -> io::Result<(&Path, &Path)> {
    match (rel.parent(), rel.file_name()) {
        (Some(parent), Some(name)) => Ok((parent, Path::new(name))),
        _ => Err(io::Error::from_raw_os_error(libc::EINVAL)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_makes_relative_and_stops_at_root() {
        assert_eq!(clean(Path::new("/proc")), PathBuf::from("proc"));
        assert_eq!(
            clean(Path::new("/proc/../etc//x/./y")),
            PathBuf::from("etc/x/y")
        );
        assert_eq!(clean(Path::new("/../../etc")), PathBuf::from("etc"));
        assert_eq!(clean(Path::new("dev/pts")), PathBuf::from("dev/pts"));
        assert_eq!(clean(Path::new("/")), PathBuf::new());
        assert_eq!(clean(Path::new("/a/b/../..")), PathBuf::new());
    }

    #[test]
    fn display_is_absolute() {
        assert_eq!(display(&clean(Path::new("/dev/pts/"))), "/dev/pts");
        assert_eq!(display(Path::new("")), "/");
    }

    #[test]
    fn split_needs_a_name() {
        let (p, n) = split(Path::new("dev/null")).unwrap();
        assert_eq!((p, n), (Path::new("dev"), Path::new("null")));
        let (p, n) = split(Path::new("null")).unwrap();
        assert_eq!((p, n), (Path::new(""), Path::new("null")));
        assert!(split(Path::new("")).is_err());
    }

    /// A temporary directory, removed even when the test fails.
    struct TempDir(PathBuf);

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn tempdir(tag: &str) -> TempDir {
        let d = std::env::temp_dir().join(format!(
            "berth-paths-{tag}-{}-{:?}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
        ));
        std::fs::create_dir_all(&d).unwrap();
        TempDir(d)
    }

    #[test]
    fn symlinks_resolve_inside_the_root() {
        // Needs no privileges: only directory and file creation, in a temp dir.
        let base = tempdir("escape");
        let root = base.0.join("root");
        let outside = base.0.join("outside");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        // An absolute symlink and a `..` symlink, both aimed outside the root.
        std::os::unix::fs::symlink(&outside, root.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../outside", root.join("rel")).unwrap();
        let rfd = sys::open(&root, OFlags::PATH | OFlags::DIRECTORY).unwrap();

        mkdir_all(rfd.as_fd(), Path::new("abs/x/y")).unwrap();
        mkdir_all(rfd.as_fd(), Path::new("rel/z")).unwrap();
        create_file(rfd.as_fd(), Path::new("abs/file")).unwrap();
        let left_outside: Vec<_> = std::fs::read_dir(&outside).unwrap().collect();
        // What the links point at is looked up inside the root instead.
        let inside = root.join(outside.strip_prefix("/").unwrap());
        assert!(
            left_outside.is_empty(),
            "created outside the root: {left_outside:?}"
        );
        assert!(inside.join("x/y").is_dir());
        assert!(inside.join("file").is_file());
        assert!(root.join("outside/z").is_dir());
    }

    #[test]
    fn create_file_follows_a_dangling_symlink_inside_the_root() {
        let base = tempdir("dangling");
        std::os::unix::fs::symlink("/nonexistent-berth-target", base.0.join("link")).unwrap();
        std::fs::create_dir(base.0.join("etc")).unwrap();
        std::os::unix::fs::symlink("../run/stub.conf", base.0.join("etc/resolv.conf")).unwrap();
        let rfd = sys::open(&base.0, OFlags::PATH | OFlags::DIRECTORY).unwrap();
        create_file(rfd.as_fd(), Path::new("link")).unwrap();
        create_file(rfd.as_fd(), Path::new("etc/resolv.conf")).unwrap();
        assert!(!Path::new("/nonexistent-berth-target").exists());
        assert!(base.0.join("nonexistent-berth-target").is_file());
        assert!(base.0.join("run/stub.conf").is_file());
        // A symlink loop ends with ELOOP.
        std::os::unix::fs::symlink("loop", base.0.join("loop")).unwrap();
        let e = create_file(rfd.as_fd(), Path::new("loop")).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ELOOP));
    }
}
