//! One mount of the spec's `mounts` list, inside the root: bind and rbind with their
//! flags, and filesystem mounts (proc, sysfs, tmpfs, devpts, mqueue, ...). The
//! cgroup types are in `cgroup`.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use nix::mount::MsFlags;
use oci_spec::runtime::Mount;
use rustix::fs::{FileType, OFlags};

use super::options::{self, MountOptions};
use super::{Error, Options, Result, cgroup, copyup, paths, sys};

/// One `mount(2)` call, described for the trace and for errors.
pub(crate) struct Call<'a> {
    /// Source (a path for binds) or filesystem type, as shown to the user.
    pub what: &'a str,
    /// The source handed to the kernel.
    pub source: Option<&'a Path>,
    /// The target, as shown to the user.
    pub target: &'a str,
    /// Filesystem type.
    pub fstype: Option<&'a str>,
    /// `MS_*` flags.
    pub flags: MsFlags,
    /// Filesystem data.
    pub data: Option<&'a str>,
    /// The options as written in the configuration.
    pub options: &'a str,
}

impl Call<'_> {
    /// Mounts onto the inode `target` holds.
    pub fn on(&self, target: BorrowedFd<'_>) -> Result<()> {
        let tp = sys::fd_path(target);
        super::step(
            || {
                format!(
                    "mount {} on {}{}",
                    self.what,
                    self.target,
                    super::paren(self.options)
                )
            },
            || sys::mount(self.source, &tp, self.fstype, self.flags, self.data),
        )
        .map_err(|source| self.error(source))
    }

    fn error(&self, source: std::io::Error) -> Error {
        Error::Mount {
            what: self.what.to_string(),
            target: self.target.to_string(),
            options: self.options.to_string(),
            source,
        }
    }
}

/// Performs one spec mount inside the root whose descriptor is `root`.
pub(crate) fn mount(root: BorrowedFd<'_>, m: &Mount, opts: &Options) -> Result<()> {
    let rel = paths::clean(m.destination());
    let target = paths::display(&rel);
    let written: &[String] = m.options().as_deref().unwrap_or_default();
    let mut o = options::parse(written);
    let shown = written.join(",");
    if o.idmap || m.uid_mappings().is_some() {
        return Err(Error::Invalid(format!(
            "mount on {target}: id-mapped mounts are not supported yet"
        )));
    }
    let typ = m.typ().as_deref().unwrap_or("none");
    if typ == "bind" && !o.is_bind() {
        // OCI allows `"type": "bind"` with no bind option.
        o.flags |= MsFlags::MS_BIND;
    }
    if o.is_bind() {
        let source = m
            .source()
            .as_ref()
            .ok_or_else(|| Error::Invalid(format!("bind mount on {target} has no source")))?;
        let source = if source.is_relative() {
            opts.bundle.join(source)
        } else {
            source.clone()
        };
        return bind(root, &rel, &target, &source, &o, &shown);
    }
    match typ {
        "cgroup" | "cgroup2" => cgroup::mount(root, &rel, &target, typ, &o, &shown, opts),
        "sysfs" => host_fallback(root, &rel, &target, m, typ, &o, &shown, opts, "/sys"),
        "mqueue" => host_fallback(root, &rel, &target, m, typ, &o, &shown, opts, "/dev/mqueue"),
        _ => {
            let fd = mkdir(root, &rel, &target)?;
            // What the tmpfs will cover, opened before it does.
            let covered = if o.tmpcopyup && typ == "tmpfs" {
                Some(copyup::open_dir(fd.as_fd()).map_err(Error::path("open for tmpcopyup", target.clone()))?)
            } else {
                None
            };
            fs_mount(&fd, m, typ, &o, &target, &shown)?;
            if let Some(old) = covered {
                let new = copyup::open_dir(reopen(root, &rel, &target)?.as_fd())
                    .map_err(Error::path("open tmpfs for tmpcopyup", target.clone()))?;
                crate::explain::step(
                    || format!("tmpcopyup into {target}"),
                    || copyup::copy_tree(&old, &new),
                )
                .map_err(Error::path("tmpcopyup", target.clone()))?;
            }
            after_mount(root, &rel, &target, &o)
        }
    }
}

/// A filesystem mount (not a bind) onto `fd`.
fn fs_mount(
    fd: &OwnedFd,
    m: &Mount,
    typ: &str,
    o: &MountOptions,
    target: &str,
    shown: &str,
) -> Result<()> {
    let source = m.source().as_deref().unwrap_or(Path::new(typ));
    Call {
        what: typ,
        source: Some(source),
        target,
        fstype: Some(typ),
        flags: o.flags,
        data: o.data(),
        options: shown,
    }
    .on(fd.as_fd())
}

/// sysfs and mqueue cannot be mounted in a user namespace that does not own the
/// network (resp. IPC) namespace; like runc, bind the host's instead.
#[allow(clippy::too_many_arguments)]
fn host_fallback(
    root: BorrowedFd<'_>,
    rel: &Path,
    target: &str,
    m: &Mount,
    typ: &str,
    o: &MountOptions,
    shown: &str,
    opts: &Options,
    host: &str,
) -> Result<()> {
    let fd = mkdir(root, rel, target)?;
    match fs_mount(&fd, m, typ, o, target, shown) {
        Ok(()) => after_mount(root, rel, target, o),
        Err(Error::Mount { source, .. }) if opts.user_ns && sys::errno(&source) == libc::EPERM => {
            let mut b = o.clone();
            b.flags |= MsFlags::MS_BIND | MsFlags::MS_REC;
            bind(root, rel, target, Path::new(host), &b, shown)
        }
        Err(e) => Err(e),
    }
}

/// Bind-mounts the host path `source` onto `rel`, then applies the flags the kernel
/// ignored on the bind itself, propagation and recursive attributes.
pub(crate) fn bind(
    root: BorrowedFd<'_>,
    rel: &Path,
    target: &str,
    source: &Path,
    o: &MountOptions,
    shown: &str,
) -> Result<()> {
    let shown_source = source.display().to_string();
    // The source is the configuration's (trusted) host path; holding it open makes
    // the bind use exactly what was inspected.
    let sfd = sys::open(source, OFlags::PATH)
        .map_err(Error::path("open bind source", shown_source.clone()))?;
    let is_dir = sys::fstat(sfd.as_fd())
        .map(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory)
        .map_err(Error::path("stat bind source", shown_source.clone()))?;
    let tfd = if is_dir {
        mkdir(root, rel, target)?
    } else {
        paths::create_file(root, rel).map_err(Error::path("create mount target", target))?
    };
    let sp = sys::fd_path(sfd.as_fd());
    Call {
        what: &shown_source,
        source: Some(&sp),
        target,
        fstype: None,
        flags: o.flags & (MsFlags::MS_BIND | MsFlags::MS_REC),
        data: None,
        options: shown,
    }
    .on(tfd.as_fd())?;
    after_mount(root, rel, target, o)
}

/// What comes after the mount itself: the remount of a bind with its flags,
/// propagation changes, recursive attributes. Each acts on the new mount, which
/// the target descriptor taken before the mount does not reach (it still holds
/// the covered directory), so the target is opened again once.
fn after_mount(root: BorrowedFd<'_>, rel: &Path, target: &str, o: &MountOptions) -> Result<()> {
    let remount = o.is_bind() && !o.bind_remount_flags().is_empty();
    let rec = o.rec_set != 0 || o.rec_clr != 0;
    if !remount && o.propagation.is_empty() && !rec {
        return Ok(());
    }
    let fd = reopen(root, rel, target)?;
    if remount {
        remount_bind(fd.as_fd(), target, o.bind_remount_flags(), false)?;
    }
    for &p in &o.propagation {
        set_propagation(fd.as_fd(), target, p)?;
    }
    if rec {
        super::step(
            || {
                format!(
                    "mount_setattr {target} recursive set {:#x} clear {:#x}",
                    o.rec_set, o.rec_clr
                )
            },
            || sys::mount_setattr_recursive(fd.as_fd(), o.rec_set, o.rec_clr),
        )
        .map_err(Error::path("set recursive mount attributes on", target))?;
    }
    Ok(())
}

/// Opens a mount target again, reaching the mount now on it.
pub(crate) fn reopen(root: BorrowedFd<'_>, rel: &Path, target: &str) -> Result<OwnedFd> {
    paths::open(root, rel).map_err(Error::path("open mount target", target))
}

/// Opens (creating) the directory `rel` as a mount target.
pub(crate) fn mkdir(root: BorrowedFd<'_>, rel: &Path, target: &str) -> Result<OwnedFd> {
    paths::mkdir_all(root, rel).map_err(Error::path("create mount target", target))
}

/// The flags a remount must keep when the mount came from a more privileged
/// namespace: the kernel locks them and answers EPERM to a remount that drops them.
const LOCKED: MsFlags = MsFlags::MS_NOSUID
    .union(MsFlags::MS_NODEV)
    .union(MsFlags::MS_NOEXEC)
    .union(ATIME);

/// The atime flags, which the kernel treats as one locked setting.
const ATIME: MsFlags = MsFlags::MS_NOATIME
    .union(MsFlags::MS_RELATIME)
    .union(MsFlags::MS_STRICTATIME)
    .union(MsFlags::MS_NODIRATIME);

/// Changes the per-mount flags of the bind mount `fd` is the root of to `flags`.
/// With `preserve`, the mount's current nosuid/nodev/noexec/atime flags are kept
/// from the start (read-only paths, read-only root); otherwise they are added only
/// when the kernel refuses the remount because they are locked.
pub(crate) fn remount_bind(
    fd: BorrowedFd<'_>,
    target: &str,
    flags: MsFlags,
    preserve: bool,
) -> Result<()> {
    let tp = sys::fd_path(fd);
    let base = MsFlags::MS_REMOUNT | MsFlags::MS_BIND;
    let with_locked = |flags: MsFlags| -> Result<MsFlags> {
        let cur = sys::mount_flags(fd).map_err(Error::path("statfs", target))?;
        let keep = if flags.intersects(ATIME) {
            cur & LOCKED & !ATIME
        } else {
            cur & LOCKED
        };
        Ok(flags | keep)
    };
    let call = |flags: MsFlags| {
        super::step(
            || format!("mount -o remount,bind,{} {target}", flag_names(flags)),
            || sys::mount(None, &tp, None, base | flags, None),
        )
        .map_err(|source| Error::Mount {
            what: "remount".into(),
            target: target.to_string(),
            options: flag_names(flags),
            source,
        })
    };
    let flags = if preserve { with_locked(flags)? } else { flags };
    match call(flags) {
        Err(Error::Mount { source, .. }) if sys::errno(&source) == libc::EPERM => {
            // Locked flags: keep the mount's own atime setting and its
            // nosuid/nodev/noexec, which is what a remount in a user namespace may do.
            let cur = sys::mount_flags(fd).map_err(Error::path("statfs", target))?;
            call((flags & !ATIME) | (cur & LOCKED))
        }
        r => r,
    }
}

/// `mount --make-<propagation>` on the mount `fd` is the root of.
pub(crate) fn set_propagation(fd: BorrowedFd<'_>, target: &str, p: MsFlags) -> Result<()> {
    let tp = sys::fd_path(fd);
    super::step(
        || format!("mount --make-{} {target}", options::propagation_name(p)),
        || sys::mount(None, &tp, None, p, None),
    )
    .map_err(Error::path(
        format!("make {}", options::propagation_name(p)),
        target,
    ))
}

/// Mount flags as option names, for the trace and errors.
pub(crate) fn flag_names(flags: MsFlags) -> String {
    const NAMES: &[(MsFlags, &str)] = &[
        (MsFlags::MS_RDONLY, "ro"),
        (MsFlags::MS_NOSUID, "nosuid"),
        (MsFlags::MS_NODEV, "nodev"),
        (MsFlags::MS_NOEXEC, "noexec"),
        (MsFlags::MS_NOATIME, "noatime"),
        (MsFlags::MS_NODIRATIME, "nodiratime"),
        (MsFlags::MS_RELATIME, "relatime"),
        (MsFlags::MS_STRICTATIME, "strictatime"),
        (MsFlags::MS_SYNCHRONOUS, "sync"),
        (MsFlags::MS_DIRSYNC, "dirsync"),
    ];
    let names: Vec<&str> = NAMES
        .iter()
        .filter(|(f, _)| flags.contains(*f))
        .map(|(_, n)| *n)
        .collect();
    if names.is_empty() {
        "rw".into()
    } else {
        names.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_names_read_like_mount_options() {
        assert_eq!(flag_names(MsFlags::empty()), "rw");
        assert_eq!(
            flag_names(MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_RELATIME),
            "ro,nosuid,relatime"
        );
    }
}
