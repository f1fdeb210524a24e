//! The one place in the rootfs module that talks to the kernel.
//!
//! Thin wrappers that turn every syscall's failure into a `std::io::Error`, so the
//! callers above can name what failed and on what. Everything except
//! `mount_setattr` goes through nix or rustix; `mount_setattr` has no wrapper in
//! either crate and is the only raw syscall here.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags};
use rustix::fs::{AtFlags, Dev, FileType, Mode, OFlags, ResolveFlags, StatVfsMountFlags};

/// The path through which the kernel reaches an open descriptor: mounting onto it
/// acts on exactly the inode the descriptor holds, with no second path lookup that
/// a symlink could redirect.
pub(crate) fn fd_path(fd: BorrowedFd<'_>) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// `mount(2)`.
pub(crate) fn mount(
    source: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> io::Result<()> {
    nix::mount::mount(source, target, fstype, flags, data).map_err(io::Error::from)
}

/// `umount2(2)`.
pub(crate) fn umount2(target: &Path, flags: MntFlags) -> io::Result<()> {
    nix::mount::umount2(target, flags).map_err(io::Error::from)
}

/// `pivot_root(2)`.
pub(crate) fn pivot_root(new_root: &Path, put_old: &Path) -> io::Result<()> {
    nix::unistd::pivot_root(new_root, put_old).map_err(io::Error::from)
}

/// `chroot(2)`.
pub(crate) fn chroot(path: &Path) -> io::Result<()> {
    nix::unistd::chroot(path).map_err(io::Error::from)
}

/// `chdir(2)`.
pub(crate) fn chdir(path: &Path) -> io::Result<()> {
    nix::unistd::chdir(path).map_err(io::Error::from)
}

/// `fchdir(2)`.
pub(crate) fn fchdir(fd: BorrowedFd<'_>) -> io::Result<()> {
    nix::unistd::fchdir(fd).map_err(io::Error::from)
}

/// `umask(2)`; returns the previous mask.
pub(crate) fn umask(mask: u32) -> u32 {
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(mask as _)).bits() as u32
}

/// `open(2)` of a host path (not resolved in any root).
pub(crate) fn open(path: &Path, flags: OFlags) -> io::Result<OwnedFd> {
    rustix::fs::open(path, flags | OFlags::CLOEXEC, Mode::empty()).map_err(io::Error::from)
}

/// `openat2(2)` with `RESOLVE_IN_ROOT`: `path` is resolved as if `root` were `/`,
/// so neither `..` nor an absolute symlink can leave it. Magic links (`/proc/*/fd`)
/// are refused for the same reason.
pub(crate) fn open_in_root(
    root: BorrowedFd<'_>,
    path: &Path,
    flags: OFlags,
) -> io::Result<OwnedFd> {
    let path = if path.as_os_str().is_empty() {
        Path::new(".")
    } else {
        path
    };
    let resolve = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
    // The kernel answers EAGAIN when a concurrent rename could have let `..`
    // escape; it asks the caller to retry, and a few tries are enough in practice.
    let mut tries = 0;
    loop {
        match rustix::fs::openat2(root, path, flags | OFlags::CLOEXEC, Mode::empty(), resolve) {
            Err(rustix::io::Errno::AGAIN) if tries < 16 => tries += 1,
            r => return r.map_err(io::Error::from),
        }
    }
}

/// `openat2(2)` below `dir` that refuses any symlink, magic link or mount
/// crossing on the way: for writes that must land exactly where named (sysctls).
pub(crate) fn open_beneath(dir: BorrowedFd<'_>, path: &Path, flags: OFlags) -> io::Result<OwnedFd> {
    let resolve = ResolveFlags::BENEATH
        | ResolveFlags::NO_SYMLINKS
        | ResolveFlags::NO_MAGICLINKS
        | ResolveFlags::NO_XDEV;
    rustix::fs::openat2(dir, path, flags | OFlags::CLOEXEC, Mode::empty(), resolve)
        .map_err(io::Error::from)
}

/// `openat(2)` of a single name in a directory, never following a final symlink.
pub(crate) fn openat_nofollow(
    dir: BorrowedFd<'_>,
    name: &Path,
    flags: OFlags,
    mode: u32,
) -> io::Result<OwnedFd> {
    rustix::fs::openat(
        dir,
        name,
        flags | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(mode),
    )
    .map_err(io::Error::from)
}

/// `readlinkat(2)`.
pub(crate) fn readlinkat(dir: BorrowedFd<'_>, name: &Path) -> io::Result<PathBuf> {
    use std::os::unix::ffi::OsStringExt;
    let target = rustix::fs::readlinkat(dir, name, Vec::new()).map_err(io::Error::from)?;
    Ok(PathBuf::from(std::ffi::OsString::from_vec(
        target.into_bytes(),
    )))
}

/// `mkdirat(2)`.
pub(crate) fn mkdirat(dir: BorrowedFd<'_>, name: &Path, mode: u32) -> io::Result<()> {
    rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(mode)).map_err(io::Error::from)
}

/// `mknodat(2)`.
pub(crate) fn mknodat(
    dir: BorrowedFd<'_>,
    name: &Path,
    kind: FileType,
    mode: u32,
    major: u32,
    minor: u32,
) -> io::Result<()> {
    let dev: Dev = rustix::fs::makedev(major, minor);
    rustix::fs::mknodat(dir, name, kind, Mode::from_raw_mode(mode), dev).map_err(io::Error::from)
}

/// `fchownat(2)` without following a final symlink.
pub(crate) fn chownat(dir: BorrowedFd<'_>, name: &Path, uid: u32, gid: u32) -> io::Result<()> {
    rustix::fs::chownat(
        dir,
        name,
        Some(rustix::fs::Uid::from_raw(uid)),
        Some(rustix::fs::Gid::from_raw(gid)),
        AtFlags::SYMLINK_NOFOLLOW,
    )
    .map_err(io::Error::from)
}

/// `symlinkat(2)`.
pub(crate) fn symlinkat(target: &Path, dir: BorrowedFd<'_>, name: &Path) -> io::Result<()> {
    rustix::fs::symlinkat(target, dir, name).map_err(io::Error::from)
}

/// `unlinkat(2)` of a non-directory.
pub(crate) fn unlinkat(dir: BorrowedFd<'_>, name: &Path) -> io::Result<()> {
    rustix::fs::unlinkat(dir, name, AtFlags::empty()).map_err(io::Error::from)
}

/// `fstat(2)`: file type bits and device number of an open descriptor.
pub(crate) fn fstat(fd: BorrowedFd<'_>) -> io::Result<rustix::fs::Stat> {
    rustix::fs::fstat(fd).map_err(io::Error::from)
}

/// `statx(2)` asking only for the mount id, following symlinks.
pub(crate) fn mount_id(path: &Path) -> io::Result<u64> {
    let st = rustix::fs::statx(
        rustix::fs::CWD,
        path,
        AtFlags::empty(),
        rustix::fs::StatxFlags::MNT_ID,
    )
    .map_err(io::Error::from)?;
    Ok(st.stx_mnt_id)
}

/// The per-mount flags of the mount an open descriptor lives on, as `MS_*` flags
/// (`fstatfs(2)` reports them as `ST_*`, which share the values of `MS_*` for these
/// bits but not for the atime ones).
pub(crate) fn mount_flags(fd: BorrowedFd<'_>) -> io::Result<MsFlags> {
    let st = rustix::fs::fstatvfs(fd).map_err(io::Error::from)?;
    let f = st.f_flag;
    let mut out = MsFlags::empty();
    for (st_flag, ms) in [
        (StatVfsMountFlags::RDONLY, MsFlags::MS_RDONLY),
        (StatVfsMountFlags::NOSUID, MsFlags::MS_NOSUID),
        (StatVfsMountFlags::NODEV, MsFlags::MS_NODEV),
        (StatVfsMountFlags::NOEXEC, MsFlags::MS_NOEXEC),
        (StatVfsMountFlags::NOATIME, MsFlags::MS_NOATIME),
        (StatVfsMountFlags::NODIRATIME, MsFlags::MS_NODIRATIME),
        (StatVfsMountFlags::RELATIME, MsFlags::MS_RELATIME),
    ] {
        if f.contains(st_flag) {
            out |= ms;
        }
    }
    // Neither noatime nor relatime means strictatime; a remount must say so
    // explicitly or the kernel picks relatime, which it refuses when the atime
    // setting is locked (a mount inherited into a user namespace).
    if !out.intersects(MsFlags::MS_NOATIME | MsFlags::MS_RELATIME) {
        out |= MsFlags::MS_STRICTATIME;
    }
    Ok(out)
}

/// `statfs(2)` filesystem magic of a host path.
pub(crate) fn fs_magic(path: &Path) -> io::Result<i64> {
    let st = rustix::fs::statfs(path).map_err(io::Error::from)?;
    Ok(st.f_type as i64)
}

/// `fstatfs(2)` filesystem magic of an open descriptor.
pub(crate) fn fd_fs_magic(fd: BorrowedFd<'_>) -> io::Result<i64> {
    let st = rustix::fs::fstatfs(fd).map_err(io::Error::from)?;
    Ok(st.f_type as i64)
}

/// Whether a host path exists (`faccessat(F_OK)`, one syscall, no allocation of a
/// `Metadata`).
pub(crate) fn exists(path: &Path) -> bool {
    rustix::fs::access(path, rustix::fs::Access::EXISTS).is_ok()
}

/// Mount attributes for `mount_setattr(2)` (`MOUNT_ATTR_*`).
pub(crate) mod attr {
    pub const RDONLY: u64 = 0x0000_0001;
    pub const NOSUID: u64 = 0x0000_0002;
    pub const NODEV: u64 = 0x0000_0004;
    pub const NOEXEC: u64 = 0x0000_0008;
    /// The mask of the atime mode field (relatime is its zero value).
    pub const ATIME: u64 = 0x0000_0070;
    pub const RELATIME: u64 = 0x0000_0000;
    pub const NOATIME: u64 = 0x0000_0010;
    pub const STRICTATIME: u64 = 0x0000_0020;
    pub const NODIRATIME: u64 = 0x0000_0080;
    pub const NOSYMFOLLOW: u64 = 0x0020_0000;
}

/// The kernel's `struct mount_attr` (first version, 32 bytes).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// `mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, ...)`: changes attributes
/// of the mount `fd` is the root of and of every mount below it, which a
/// `MS_REMOUNT` cannot do.
pub(crate) fn mount_setattr_recursive(fd: BorrowedFd<'_>, set: u64, clr: u64) -> io::Result<()> {
    let attr = MountAttr {
        attr_set: set,
        attr_clr: clr,
        propagation: 0,
        userns_fd: 0,
    };
    const AT_RECURSIVE: libc::c_uint = 0x8000;
    let flags = libc::AT_EMPTY_PATH as libc::c_uint | AT_RECURSIVE;
    // SAFETY: the path is a NUL-terminated empty string, `attr` is a live,
    // correctly laid out `struct mount_attr` whose size is passed alongside, and
    // `fd` is an open descriptor borrowed for the duration of the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_fd().as_raw_fd(),
            c"".as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// The errno of an I/O error, or 0 when it has none.
pub(crate) fn errno(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(0)
}
