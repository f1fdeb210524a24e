//! `cp` between a container's root filesystem and the host, safe against symlink
//! swaps: every path in the container is resolved inside its root
//! (`openat2(RESOLVE_IN_ROOT)`), and below that each step is an `openat` relative to
//! a directory already opened, with `O_NOFOLLOW`, so a process of the container
//! that swaps a directory for a symlink mid-copy cannot send the copy out of the
//! root. Files keep their modes; files copied in belong to root, as Docker does.

use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};

use crate::error::{Error, Result};
use crate::{Engine, rootfs};

fn err(what: String) -> impl FnOnce(rustix::io::Errno) -> Error {
    move |e| Error::Io {
        what,
        source: e.into(),
    }
}

fn ioerr(what: String) -> impl FnOnce(std::io::Error) -> Error {
    move |source| Error::Io { what, source }
}

/// A container path relative to its root ("." for the root itself).
fn relative(path: &str) -> &str {
    match path.trim_start_matches('/') {
        "" => ".",
        r => r,
    }
}

/// Opens `rel` inside the root open as `root` (the last component not followed).
fn open_in_root(root: BorrowedFd, rel: &str) -> rustix::io::Result<OwnedFd> {
    rustix::fs::openat2(
        root,
        relative(rel),
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )
}

/// Opens directory `name` below `dir`, not following a symlink there.
fn open_dir_at(dir: BorrowedFd, name: &Path) -> Result<OwnedFd> {
    rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(err(format!("open {} in the container", name.display())))
}

/// Opens directory `rel` inside the root open as `root`, for reading.
fn open_dir_in_root(root: BorrowedFd, rel: &str) -> rustix::io::Result<OwnedFd> {
    rustix::fs::openat2(
        root,
        relative(rel),
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )
}

fn copy_out_at(dir: BorrowedFd, name: &Path, dst: &Path) -> Result<()> {
    let st = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
        .map_err(err(format!("stat {} in the container", name.display())))?;
    let mode = st.st_mode & 0o7777;
    match FileType::from_raw_mode(st.st_mode) {
        FileType::Directory => {
            let sub = open_dir_at(dir, name)?;
            std::fs::create_dir_all(dst).map_err(ioerr(format!("create {}", dst.display())))?;
            let entries = rustix::fs::Dir::read_from(&sub)
                .map_err(err(format!("list {}", name.display())))?;
            for e in entries {
                let e = e.map_err(err(format!("list {}", name.display())))?;
                let n = e.file_name().to_bytes();
                if n == b"." || n == b".." {
                    continue;
                }
                let n = <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(n);
                copy_out_at(sub.as_fd(), Path::new(n), &dst.join(n))?;
            }
            std::fs::set_permissions(dst, std::os::unix::fs::PermissionsExt::from_mode(mode))
                .map_err(ioerr(format!("chmod {}", dst.display())))
        }
        FileType::RegularFile => {
            let fd = rustix::fs::openat(
                dir,
                name,
                OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(err(format!("open {} in the container", name.display())))?;
            let mut src = std::fs::File::from(fd);
            let mut out =
                std::fs::File::create(dst).map_err(ioerr(format!("create {}", dst.display())))?;
            std::io::copy(&mut src, &mut out)
                .map_err(ioerr(format!("copy to {}", dst.display())))?;
            std::fs::set_permissions(dst, std::os::unix::fs::PermissionsExt::from_mode(mode))
                .map_err(ioerr(format!("chmod {}", dst.display())))
        }
        FileType::Symlink => {
            let target = rustix::fs::readlinkat(dir, name, Vec::new())
                .map_err(err(format!("read link {}", name.display())))?;
            let _ = std::fs::remove_file(dst);
            std::os::unix::fs::symlink(
                <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(target.to_bytes()),
                dst,
            )
            .map_err(ioerr(format!("create link {}", dst.display())))
        }
        _ => Ok(()), // devices, fifos and sockets are not copied
    }
}

fn copy_in_at(src: &Path, dir: BorrowedFd, name: &Path) -> Result<()> {
    let md = std::fs::symlink_metadata(src).map_err(ioerr(format!("stat {}", src.display())))?;
    let mode =
        Mode::from_raw_mode(std::os::unix::fs::PermissionsExt::mode(&md.permissions()) & 0o7777);
    let ft = md.file_type();
    if ft.is_dir() {
        match rustix::fs::mkdirat(dir, name, mode) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => {
                return Err(err(format!("create {} in the container", name.display()))(
                    e,
                ));
            }
        }
        let sub = open_dir_at(dir, name)?;
        for e in std::fs::read_dir(src).map_err(ioerr(format!("list {}", src.display())))? {
            let e = e.map_err(ioerr(format!("list {}", src.display())))?;
            copy_in_at(&e.path(), sub.as_fd(), Path::new(&e.file_name()))?;
        }
        rustix::fs::fchmod(&sub, mode).map_err(err(format!("chmod {}", name.display())))?;
        Ok(())
    } else if ft.is_file() {
        let fd = rustix::fs::openat(
            dir,
            name,
            OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            mode,
        )
        .map_err(err(format!("create {} in the container", name.display())))?;
        rustix::fs::fchown(
            &fd,
            Some(rustix::fs::Uid::ROOT),
            Some(rustix::fs::Gid::ROOT),
        )
        .map_err(err(format!("chown {}", name.display())))?;
        rustix::fs::fchmod(&fd, mode).map_err(err(format!("chmod {}", name.display())))?;
        let mut out = std::fs::File::from(fd);
        let mut input =
            std::fs::File::open(src).map_err(ioerr(format!("open {}", src.display())))?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = input
                .read(&mut buf)
                .map_err(ioerr(format!("read {}", src.display())))?;
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n])
                .map_err(ioerr(format!("write {} in the container", name.display())))?;
        }
        Ok(())
    } else if ft.is_symlink() {
        let target =
            std::fs::read_link(src).map_err(ioerr(format!("read link {}", src.display())))?;
        let _ = rustix::fs::unlinkat(dir, name, AtFlags::empty());
        rustix::fs::symlinkat(&target, dir, name).map_err(err(format!(
            "create link {} in the container",
            name.display()
        )))
    } else {
        Ok(())
    }
}

/// Splits a container path into its parent directory and last component.
fn split(path: &str) -> Result<(String, PathBuf)> {
    let p = Path::new(path);
    let name = p.file_name().ok_or_else(|| {
        Error::InvalidArgument(format!("invalid path in the container: {path:?}"))
    })?;
    let parent = p
        .parent()
        .map(|x| x.to_string_lossy().into_owned())
        .unwrap_or_else(|| "/".into());
    Ok((parent, PathBuf::from(name)))
}

impl Engine {
    /// Copies `src` from container `key` to host path `dst` (into it when it is an
    /// existing directory).
    pub fn copy_out(&self, key: &str, src: &str, dst: &Path) -> Result<()> {
        self.with_root(key, |_, root| {
            let rootfd = rootfs::open_root(root)?;
            let (parent, name) = split(if src.trim_matches('/').is_empty() {
                "/."
            } else {
                src
            })?;
            let dir = open_in_root(rootfd.as_fd(), &parent).map_err(|e| match e {
                rustix::io::Errno::NOENT => Error::InvalidArgument(format!(
                    "Could not find the file {src} in container {key}"
                )),
                e => err(format!("open {parent} in the container"))(e),
            })?;
            if rustix::fs::statat(&dir, &name, AtFlags::SYMLINK_NOFOLLOW).is_err() {
                return Err(Error::InvalidArgument(format!(
                    "Could not find the file {src} in container {key}"
                )));
            }
            let target = if dst.is_dir() {
                dst.join(&name)
            } else {
                dst.to_path_buf()
            };
            copy_out_at(dir.as_fd(), &name, &target)
        })
    }

    /// Copies host path `src` into container `key` at `dst` (into it when it is an
    /// existing directory there).
    pub fn copy_in(&self, key: &str, src: &Path, dst: &str) -> Result<()> {
        if std::fs::symlink_metadata(src).is_err() {
            return Err(Error::InvalidArgument(format!(
                "could not find the file {} on the host",
                src.display()
            )));
        }
        self.with_root(key, |_, root| {
            let rootfd = rootfs::open_root(root)?;
            let src_name = PathBuf::from(src.file_name().unwrap_or(std::ffi::OsStr::new(".")));
            // An existing directory receives the source under its own name.
            let into = open_dir_in_root(rootfd.as_fd(), dst);
            let (dir, name) = match into {
                Ok(d) => (d, src_name),
                Err(_) => {
                    let (parent, name) = split(dst)?;
                    let d = open_dir_in_root(rootfd.as_fd(), &parent).map_err(|_| {
                        Error::InvalidArgument(format!(
                            "Could not find the file {parent} in container {key}"
                        ))
                    })?;
                    (d, name)
                }
            };
            copy_in_at(src, dir.as_fd(), &name)
        })
    }
}
