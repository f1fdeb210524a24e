//! `tmpcopyup`: a tmpfs mounted over a directory starts with a copy of what that
//! directory held (podman asks for it on --tmpfs and --read-only mounts, as runc
//! supports it). The covered directory stays reachable through a descriptor opened
//! before the mount.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use nix::dir::Dir;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{FileStat, Mode, SFlag, fstatat, mkdirat};
use nix::unistd::{Gid, Uid, fchownat};

/// Opens a readable directory descriptor for the directory `fd` names (an O_PATH
/// descriptor cannot be listed).
pub(crate) fn open_dir(fd: BorrowedFd<'_>) -> std::io::Result<OwnedFd> {
    Ok(nix::fcntl::open(
        format!("/proc/self/fd/{}", fd.as_raw_fd()).as_str(),
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?)
}

fn chown_at(dir: BorrowedFd<'_>, name: &std::ffi::OsStr, st: &FileStat) -> nix::Result<()> {
    fchownat(
        dir,
        name,
        Some(Uid::from_raw(st.st_uid)),
        Some(Gid::from_raw(st.st_gid)),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    )
}

/// Copies every entry of `from` into `to`: directories (recursively), regular files,
/// symlinks, device nodes and fifos, with their modes and owners. Nothing is
/// followed: a symlink is copied as a symlink.
pub(crate) fn copy_tree(from: &OwnedFd, to: &OwnedFd) -> std::io::Result<()> {
    let mut dir = Dir::from_fd(from.try_clone()?)?;
    let names: Vec<std::ffi::CString> = dir
        .iter()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_owned())
        .filter(|n| n.as_bytes() != b"." && n.as_bytes() != b"..")
        .collect();
    for cname in names {
        let name = std::ffi::OsStr::from_bytes(cname.as_bytes());
        let st = fstatat(from.as_fd(), name, AtFlags::AT_SYMLINK_NOFOLLOW)?;
        let mode = Mode::from_bits_truncate(st.st_mode & 0o7777);
        let kind = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits());
        match kind {
            SFlag::S_IFDIR => {
                mkdirat(to.as_fd(), name, mode)?;
                let subdir = |parent: &OwnedFd| -> nix::Result<OwnedFd> {
                    nix::fcntl::openat(
                        parent.as_fd(),
                        name,
                        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                        Mode::empty(),
                    )
                };
                copy_tree(&subdir(from)?, &subdir(to)?)?;
            }
            SFlag::S_IFREG => {
                let src: OwnedFd = nix::fcntl::openat(
                    from.as_fd(),
                    name,
                    OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )?;
                let dst: OwnedFd = nix::fcntl::openat(
                    to.as_fd(),
                    name,
                    OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    mode,
                )?;
                let mut r = std::fs::File::from(src);
                let mut w = std::fs::File::from(dst);
                std::io::copy(&mut r, &mut w)?;
                // The umask trimmed the creation mode.
                nix::sys::stat::fchmod(&w, mode)?;
            }
            SFlag::S_IFLNK => {
                let target = nix::fcntl::readlinkat(from.as_fd(), name)?;
                nix::unistd::symlinkat(target.as_os_str(), to.as_fd(), name)?;
            }
            SFlag::S_IFCHR | SFlag::S_IFBLK | SFlag::S_IFIFO => {
                nix::sys::stat::mknodat(to.as_fd(), name, kind, mode, st.st_rdev)?;
            }
            // Sockets are bound by a running process; a copy would be meaningless.
            _ => continue,
        }
        chown_at(to.as_fd(), name, &st)?;
        if kind == SFlag::S_IFDIR {
            nix::sys::stat::fchmodat(to.as_fd(), name, mode, nix::sys::stat::FchmodatFlags::FollowSymlink)?;
        }
    }
    Ok(())
}
