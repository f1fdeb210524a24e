//! Unpacking a layer changeset (a tar stream) into a directory, safely.
//!
//! Every name in the tar is resolved inside the layer directory with `openat2` and
//! `RESOLVE_IN_ROOT`: `..` stops at the layer root, absolute names and symlinks
//! (absolute or relative) are followed as if the layer root were `/`, and hardlink
//! targets are looked up the same way. A hostile layer therefore cannot create, change
//! or link anything outside the directory it is unpacked into (the classic escapes:
//! `../` traversal, absolute paths, a symlinked directory written through, a hardlink
//! to a host file, a symlink later replaced by a directory).
//!
//! Whiteouts become what overlayfs reads: `.wh.<name>` a 0:0 character device named
//! `<name>`, `.wh..wh..opq` the `trusted.overlay.opaque=y` xattr on its directory.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use rustix::fs::{
    AtFlags, Dev, FileType, Mode, OFlags, ResolveFlags, Stat, Timespec, Timestamps, XattrFlags,
};
use rustix::io::Errno;

use crate::error::{Error, IoContext, Result};

/// The xattr overlayfs reads to hide a lower directory's content.
pub const OPAQUE_XATTR: &str = "trusted.overlay.opaque";
const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE_WHITEOUT: &str = ".wh..wh..opq";

/// What unpacking a layer found.
#[derive(Debug, Default, Clone, Copy)]
pub struct ApplyStats {
    /// Bytes of regular file content written.
    pub size: u64,
    /// Entries in the tar.
    pub entries: u64,
}

/// Unpacks the tar stream `r` into `root` (an existing, normally empty, directory).
/// `lowers` are the directories of the layers below, top first: hardlinks to files
/// that only exist there copy the file up, and directories a tar implies but does not
/// list take their owner and mode from there.
pub fn apply_tar(root: &Path, lowers: &[PathBuf], r: impl Read) -> Result<ApplyStats> {
    let root_fd = rustix::fs::open(
        root,
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ctx("open layer directory", root)?;
    let mut a = Applier {
        root: root_fd,
        root_path: root.to_path_buf(),
        lowers,
        dir_times: Vec::new(),
        cache: None,
        stats: ApplyStats::default(),
        buf: vec![0u8; 256 * 1024],
    };
    let mut ar = tar::Archive::new(r);
    let entries = ar
        .entries()
        .map_err(|e| Error::InvalidInput(format!("malformed layer tar: {e}")))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::InvalidInput(format!("malformed layer tar: {e}")))?;
        a.entry(entry)?;
    }
    a.finish()?;
    Ok(a.stats)
}

struct Applier<'a> {
    root: OwnedFd,
    root_path: PathBuf,
    lowers: &'a [PathBuf],
    dir_times: Vec<(PathBuf, Timespec)>,
    /// The last parent directory opened, by its cleaned path.
    cache: Option<(PathBuf, OwnedFd)>,
    stats: ApplyStats,
    buf: Vec<u8>,
}

/// Metadata of one tar entry, with PAX overrides applied.
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: Timespec,
    xattrs: Vec<(OsString, Vec<u8>)>,
}

/// Cleans a tar name lexically with `/` as a floor: `../../etc/x` is `etc/x`,
/// `/abs/./p` is `abs/p`. The result has no `.`, `..` or empty components.
pub fn clean_path(raw: &[u8]) -> PathBuf {
    let mut parts: Vec<&[u8]> = Vec::new();
    for c in raw.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    let mut p = PathBuf::new();
    for c in parts {
        p.push(OsStr::from_bytes(c));
    }
    p
}

fn resolve_flags() -> ResolveFlags {
    ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS | ResolveFlags::NO_XDEV
}

/// Opens directory `rel` of the tree rooted at `root`, resolving inside the root.
fn open_dir_in(root: BorrowedFd<'_>, rel: &Path) -> rustix::io::Result<OwnedFd> {
    let p: &Path = if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    };
    rustix::fs::openat2(
        root,
        p,
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
        resolve_flags(),
    )
}

fn to_uid(u: u32) -> Option<rustix::fs::Uid> {
    (u != u32::MAX).then(|| rustix::fs::Uid::from_raw(u))
}

fn to_gid(g: u32) -> Option<rustix::fs::Gid> {
    (g != u32::MAX).then(|| rustix::fs::Gid::from_raw(g))
}

/// `/proc/self/fd/<dir>/<name>`: a path for the calls that have no `*at` form
/// (lsetxattr); the directory is the one we resolved, the name is not followed.
fn proc_path(dir: BorrowedFd<'_>, name: &OsStr) -> PathBuf {
    let mut p = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()));
    p.push(name);
    p
}

impl Applier<'_> {
    fn invalid(&self, what: String) -> Error {
        Error::InvalidInput(what)
    }

    fn entry<R: Read>(&mut self, mut e: tar::Entry<'_, R>) -> Result<()> {
        self.stats.entries += 1;
        let raw = e.path_bytes().into_owned();
        let kind = e.header().entry_type();
        if matches!(kind, tar::EntryType::XGlobalHeader) {
            return Ok(());
        }
        let path = clean_path(&raw);
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let Some(name) = path.file_name().map(OsStr::to_os_string) else {
            // The root itself ("./"): its metadata belongs to the image's base, not to
            // a layer directory, which overlayfs shows as "/".
            if kind.is_dir() {
                return Ok(());
            }
            return Err(self.invalid(format!(
                "layer entry {shown:?} names the root as a non-directory"
            )));
        };
        let parent_rel = path.parent().unwrap_or(Path::new("")).to_path_buf();
        let meta = self.meta(&mut e)?;
        let name_bytes = name.as_bytes();

        if name_bytes == OPAQUE_WHITEOUT.as_bytes() {
            let dir = self.ensure_dir(&parent_rel)?;
            rustix::fs::fsetxattr(&dir, OPAQUE_XATTR, b"y", XattrFlags::empty())
                .ctx("mark directory opaque", self.root_path.join(&parent_rel))?;
            return Ok(());
        }
        if let Some(hidden) = name_bytes.strip_prefix(WHITEOUT_PREFIX.as_bytes()) {
            if hidden.starts_with(WHITEOUT_PREFIX.as_bytes()) {
                // aufs bookkeeping (.wh..wh.plnk and friends): not content.
                return Ok(());
            }
            if hidden.is_empty() || hidden == b"." || hidden == b".." {
                return Err(self.invalid(format!("layer entry {shown:?} is a malformed whiteout")));
            }
            let hidden = OsStr::from_bytes(hidden);
            let dir = self.ensure_dir(&parent_rel)?;
            self.remove_existing(dir.as_fd(), hidden, &parent_rel)?;
            rustix::fs::mknodat(&dir, hidden, FileType::CharacterDevice, Mode::empty(), 0).ctx(
                "create whiteout",
                self.root_path.join(&parent_rel).join(hidden),
            )?;
            return Ok(());
        }

        let dir = self.ensure_dir(&parent_rel)?;
        let dir = dir.as_fd();
        let full_path = self.root_path.join(&path);
        let full = || full_path.clone();
        let existing = rustix::fs::statat(dir, &name, AtFlags::SYMLINK_NOFOLLOW).ok();
        let existing_is_dir = existing
            .as_ref()
            .is_some_and(|s| FileType::from_raw_mode(s.st_mode) == FileType::Directory);
        if existing.is_some() && !(kind.is_dir() && existing_is_dir) {
            self.remove_existing(dir, &name, &parent_rel)?;
        }

        match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let fd = rustix::fs::openat(
                    dir,
                    &name,
                    OFlags::WRONLY
                        | OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )
                .ctx("create layer file", full())?;
                let mut f = File::from(fd);
                let n = copy_with(&mut e, &mut f, &mut self.buf).map_err(|err| {
                    if err.kind() == io::ErrorKind::UnexpectedEof
                        || err.kind() == io::ErrorKind::InvalidData
                    {
                        Error::InvalidInput(format!(
                            "malformed layer tar: truncated content of {shown:?}: {err}"
                        ))
                    } else {
                        Error::io("write layer file", full(), err)
                    }
                })?;
                self.stats.size += n;
                self.set_meta_fd(f.as_fd(), &meta, true, &full())?;
            }
            tar::EntryType::Directory => {
                if !existing_is_dir {
                    rustix::fs::mkdirat(dir, &name, Mode::from_raw_mode(0o700))
                        .ctx("create layer directory", full())?;
                }
                let fd =
                    open_dir_in(self.root.as_fd(), &path).ctx("open layer directory", full())?;
                self.set_meta_fd(fd.as_fd(), &meta, false, &full())?;
                self.dir_times.push((path.clone(), meta.mtime));
            }
            tar::EntryType::Symlink => {
                let target = e
                    .link_name_bytes()
                    .ok_or_else(|| self.invalid(format!("symlink {shown:?} has no target")))?
                    .into_owned();
                rustix::fs::symlinkat(OsStr::from_bytes(&target), dir, &name)
                    .ctx("create layer symlink", full())?;
                self.set_meta_at(dir, &name, &meta, true, &full())?;
            }
            tar::EntryType::Link => {
                let target = e
                    .link_name_bytes()
                    .ok_or_else(|| self.invalid(format!("hardlink {shown:?} has no target")))?
                    .into_owned();
                self.hardlink(&clean_path(&target), dir, &name, &full())?;
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                let (ft, dev) = match kind {
                    tar::EntryType::Char => (FileType::CharacterDevice, device(&e)?),
                    tar::EntryType::Block => (FileType::BlockDevice, device(&e)?),
                    _ => (FileType::Fifo, 0),
                };
                rustix::fs::mknodat(dir, &name, ft, Mode::from_raw_mode(0o600), dev)
                    .ctx("create layer device node", full())?;
                self.set_meta_at(dir, &name, &meta, false, &full())?;
            }
            other => {
                return Err(self.invalid(format!(
                    "layer entry {shown:?} has tar type {:?}, which berth does not unpack",
                    other.as_byte() as char
                )));
            }
        }
        Ok(())
    }

    fn meta<R: Read>(&self, e: &mut tar::Entry<'_, R>) -> Result<Meta> {
        let h = e.header();
        let bad =
            |what: &str| Error::InvalidInput(format!("malformed layer tar: bad {what} field"));
        let mut m = Meta {
            mode: h.mode().map_err(|e| bad(&format!("mode ({e})")))? & 0o7777,
            uid: numeric(h.uid(), &h.as_old().uid).map_err(|e| bad(&format!("uid ({e})")))? as u32,
            gid: numeric(h.gid(), &h.as_old().gid).map_err(|e| bad(&format!("gid ({e})")))? as u32,
            mtime: Timespec {
                tv_sec: h.mtime().map_err(|e| bad(&format!("mtime ({e})")))? as i64,
                tv_nsec: 0,
            },
            xattrs: Vec::new(),
        };
        if let Ok(Some(pax)) = e.pax_extensions() {
            for ext in pax.flatten() {
                let Ok(key) = ext.key() else { continue };
                let val = ext.value_bytes();
                if let Some(name) = key.strip_prefix("SCHILY.xattr.") {
                    // overlayfs's own attributes in a tar could forge opaque dirs or
                    // redirects; berth writes those itself from whiteouts.
                    if !name.starts_with("trusted.overlay.") {
                        m.xattrs.push((OsString::from(name), val.to_vec()));
                    }
                } else if key == "uid" {
                    m.uid = parse_u32(val).ok_or_else(|| bad("pax uid"))?;
                } else if key == "gid" {
                    m.gid = parse_u32(val).ok_or_else(|| bad("pax gid"))?;
                } else if key == "mtime" {
                    m.mtime = parse_pax_time(val).ok_or_else(|| bad("pax mtime"))?;
                }
            }
        }
        Ok(m)
    }

    /// Owner, mode, xattrs and (for non-directories) times on an open file.
    fn set_meta_fd(&self, fd: BorrowedFd<'_>, m: &Meta, times: bool, p: &Path) -> Result<()> {
        rustix::fs::fchown(fd, to_uid(m.uid), to_gid(m.gid)).ctx("chown", p)?;
        // After chown, which clears setuid/setgid bits.
        rustix::fs::fchmod(fd, Mode::from_raw_mode(m.mode)).ctx("chmod", p)?;
        for (k, v) in &m.xattrs {
            match rustix::fs::fsetxattr(fd, k.as_os_str(), v, XattrFlags::empty()) {
                Ok(()) | Err(Errno::NOTSUP) => {}
                Err(e) => return Err(Error::io("set xattr", p, e.into())),
            }
        }
        if times {
            let t = Timestamps {
                last_access: m.mtime,
                last_modification: m.mtime,
            };
            rustix::fs::futimens(fd, &t).ctx("set times", p)?;
        }
        Ok(())
    }

    /// The same for a symlink or device node, by name in `dir`, never following it.
    fn set_meta_at(
        &self,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        m: &Meta,
        symlink: bool,
        p: &Path,
    ) -> Result<()> {
        rustix::fs::chownat(
            dir,
            name,
            to_uid(m.uid),
            to_gid(m.gid),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .ctx("chown", p)?;
        if !symlink {
            // A node we just created in a directory we resolved: not a symlink.
            rustix::fs::chmodat(dir, name, Mode::from_raw_mode(m.mode), AtFlags::empty())
                .ctx("chmod", p)?;
        }
        let pp = proc_path(dir, name);
        for (k, v) in &m.xattrs {
            match rustix::fs::lsetxattr(&pp, k.as_os_str(), v, XattrFlags::empty()) {
                Ok(()) | Err(Errno::NOTSUP) | Err(Errno::PERM) if symlink => {}
                Ok(()) | Err(Errno::NOTSUP) => {}
                Err(e) => return Err(Error::io("set xattr", p, e.into())),
            }
        }
        let t = Timestamps {
            last_access: m.mtime,
            last_modification: m.mtime,
        };
        rustix::fs::utimensat(dir, name, &t, AtFlags::SYMLINK_NOFOLLOW).ctx("set times", p)?;
        Ok(())
    }

    /// Removes whatever is at `name` in `dir` (a directory recursively).
    fn remove_existing(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        parent_rel: &Path,
    ) -> Result<()> {
        let Ok(st) = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) else {
            return Ok(());
        };
        let p = self.root_path.join(parent_rel).join(name);
        // Anything cached below the removed entry would be stale.
        self.cache = None;
        if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
            std::fs::remove_dir_all(proc_path(dir, name)).ctx("remove replaced directory", p)
        } else {
            rustix::fs::unlinkat(dir, name, AtFlags::empty()).ctx("remove replaced entry", p)
        }
    }

    /// Opens directory `rel`, creating it and any missing parents inside the root.
    /// Directories made up here take owner and mode from the same directory in a lower
    /// layer, so a layer that omits `tmp/` does not hide `/tmp`'s 1777 mode.
    fn ensure_dir(&mut self, rel: &Path) -> Result<OwnedFd> {
        if let Some((p, fd)) = &self.cache
            && p == rel
        {
            return fd
                .try_clone()
                .ctx("dup directory", self.root_path.join(rel));
        }
        let fd = match open_dir_in(self.root.as_fd(), rel) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => self.make_dirs(rel)?,
            Err(Errno::NOTDIR) => {
                return Err(Error::InvalidInput(format!(
                    "layer puts an entry below {:?}, which is not a directory",
                    rel
                )));
            }
            Err(e) => {
                return Err(Error::io(
                    "open layer directory",
                    self.root_path.join(rel),
                    e.into(),
                ));
            }
        };
        self.cache = Some((
            rel.to_path_buf(),
            fd.try_clone()
                .ctx("dup directory", self.root_path.join(rel))?,
        ));
        Ok(fd)
    }

    fn make_dirs(&mut self, rel: &Path) -> Result<OwnedFd> {
        let mut cur = open_dir_in(self.root.as_fd(), Path::new(""))
            .ctx("open layer directory", &self.root_path)?;
        let mut prefix = PathBuf::new();
        for comp in rel.iter() {
            prefix.push(comp);
            match open_dir_in(self.root.as_fd(), &prefix) {
                Ok(fd) => cur = fd,
                Err(Errno::NOENT) => {
                    let lower = self.lower_stat(&prefix);
                    let (mode, uid, gid) = match &lower {
                        Some(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory => {
                            (st.st_mode & 0o7777, st.st_uid, st.st_gid)
                        }
                        _ => (0o755, 0, 0),
                    };
                    let p = self.root_path.join(&prefix);
                    match rustix::fs::mkdirat(&cur, comp, Mode::from_raw_mode(0o700)) {
                        Ok(()) => {}
                        Err(Errno::EXIST) => {
                            return Err(Error::InvalidInput(format!(
                                "layer puts an entry below {prefix:?}, a symlink to a missing directory"
                            )));
                        }
                        Err(e) => return Err(Error::io("create layer directory", p, e.into())),
                    }
                    let fd =
                        open_dir_in(self.root.as_fd(), &prefix).ctx("open layer directory", &p)?;
                    rustix::fs::fchown(&fd, to_uid(uid), to_gid(gid)).ctx("chown", &p)?;
                    rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode)).ctx("chmod", &p)?;
                    cur = fd;
                }
                Err(e) => {
                    return Err(Error::InvalidInput(format!(
                        "layer puts an entry below {prefix:?}, which cannot be a directory: {e}"
                    )));
                }
            }
        }
        Ok(cur)
    }

    /// Stat of `rel` in the first lower layer that has it (resolved inside that layer).
    fn lower_stat(&self, rel: &Path) -> Option<Stat> {
        for l in self.lowers {
            let Ok(root) = rustix::fs::open(
                l,
                OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
                Mode::empty(),
            ) else {
                continue;
            };
            let parent = rel.parent().unwrap_or(Path::new(""));
            let Some(name) = rel.file_name() else {
                continue;
            };
            if let Ok(d) = open_dir_in(root.as_fd(), parent)
                && let Ok(st) = rustix::fs::statat(&d, name, AtFlags::SYMLINK_NOFOLLOW)
            {
                return Some(st);
            }
        }
        None
    }

    /// Hardlinks `dir/name` to `target` (a cleaned path inside the layer). A target only
    /// found in a lower layer is copied up into this one first.
    fn hardlink(
        &mut self,
        target: &Path,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        p: &Path,
    ) -> Result<()> {
        let Some(tname) = target.file_name() else {
            return Err(Error::InvalidInput(format!(
                "hardlink {p:?} points at the layer root"
            )));
        };
        let tparent_rel = target.parent().unwrap_or(Path::new(""));
        let tdir = match open_dir_in(self.root.as_fd(), tparent_rel) {
            Ok(fd) => Some(fd),
            Err(Errno::NOENT) => None,
            Err(e) => {
                return Err(Error::io(
                    "open hardlink target directory",
                    self.root_path.join(tparent_rel),
                    e.into(),
                ));
            }
        };
        let present = tdir
            .as_ref()
            .is_some_and(|d| rustix::fs::statat(d, tname, AtFlags::SYMLINK_NOFOLLOW).is_ok());
        if !present {
            self.copy_up(target)?;
        }
        let tdir = open_dir_in(self.root.as_fd(), tparent_rel).ctx(
            "open hardlink target directory",
            self.root_path.join(tparent_rel),
        )?;
        // Flags 0: a symlink target is linked itself, never followed.
        rustix::fs::linkat(&tdir, tname, dir, name, AtFlags::empty()).ctx("create hardlink", p)
    }

    /// Copies regular file `rel` from the topmost lower layer holding it into this layer.
    fn copy_up(&mut self, rel: &Path) -> Result<()> {
        let missing = || {
            Error::InvalidInput(format!(
                "hardlink target {rel:?} does not exist in the layer or below"
            ))
        };
        let name = rel.file_name().ok_or_else(missing)?;
        let parent = rel.parent().unwrap_or(Path::new(""));
        for l in self.lowers {
            let Ok(lroot) = rustix::fs::open(
                l,
                OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
                Mode::empty(),
            ) else {
                continue;
            };
            let Ok(ldir) = open_dir_in(lroot.as_fd(), parent) else {
                continue;
            };
            let Ok(src) = rustix::fs::openat(
                &ldir,
                name,
                OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            ) else {
                continue;
            };
            let st = rustix::fs::fstat(&src).ctx("stat lower file", l.join(rel))?;
            if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
                return Err(Error::InvalidInput(format!(
                    "hardlink target {rel:?} in a lower layer is not a regular file"
                )));
            }
            let dst_dir = self.ensure_dir(parent)?;
            let dst = rustix::fs::openat(
                &dst_dir,
                name,
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o600),
            )
            .ctx("copy up hardlink target", self.root_path.join(rel))?;
            let mut out = File::from(dst);
            copy_with(&mut File::from(src), &mut out, &mut self.buf)
                .ctx("copy up hardlink target", self.root_path.join(rel))?;
            let m = Meta {
                mode: st.st_mode & 0o7777,
                uid: st.st_uid,
                gid: st.st_gid,
                mtime: Timespec {
                    tv_sec: st.st_mtime as i64,
                    tv_nsec: st.st_mtime_nsec as _,
                },
                xattrs: Vec::new(),
            };
            self.set_meta_fd(out.as_fd(), &m, true, &self.root_path.join(rel))?;
            return Ok(());
        }
        Err(missing())
    }

    /// Directory times last, since creating entries inside changes them.
    fn finish(&mut self) -> Result<()> {
        self.cache = None;
        for (rel, t) in std::mem::take(&mut self.dir_times).into_iter().rev() {
            let Ok(fd) = open_dir_in(self.root.as_fd(), &rel) else {
                continue;
            };
            let ts = Timestamps {
                last_access: t,
                last_modification: t,
            };
            rustix::fs::futimens(&fd, &ts).ctx("set times", self.root_path.join(&rel))?;
        }
        Ok(())
    }
}

fn device<R: Read>(e: &tar::Entry<'_, R>) -> Result<Dev> {
    let h = e.header();
    let bad = || Error::InvalidInput("malformed layer tar: bad device numbers".into());
    let maj = h.device_major().map_err(|_| bad())?.unwrap_or(0);
    let min = h.device_minor().map_err(|_| bad())?.unwrap_or(0);
    Ok(rustix::fs::makedev(maj, min))
}

/// A numeric header field; blank (all NUL or space) reads as 0, as Go's archive/tar
/// (which writes most layers) reads it.
fn numeric(parsed: io::Result<u64>, raw: &[u8]) -> io::Result<u64> {
    match parsed {
        Err(_) if raw.iter().all(|&b| b == 0 || b == b' ') => Ok(0),
        other => other,
    }
}

fn parse_u32(v: &[u8]) -> Option<u32> {
    std::str::from_utf8(v).ok()?.trim().parse().ok()
}

/// PAX times: `seconds[.fraction]`.
fn parse_pax_time(v: &[u8]) -> Option<Timespec> {
    let s = std::str::from_utf8(v).ok()?.trim();
    let (sec, frac) = s.split_once('.').unwrap_or((s, ""));
    let tv_sec: i64 = sec.parse().ok()?;
    let mut digits: String = frac.chars().take(9).collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    while digits.len() < 9 {
        digits.push('0');
    }
    Some(Timespec {
        tv_sec,
        tv_nsec: digits.parse().ok()?,
    })
}

/// `io::copy` with a caller-owned large buffer.
fn copy_with(r: &mut impl Read, w: &mut impl Write, buf: &mut [u8]) -> io::Result<u64> {
    let mut n = 0u64;
    loop {
        let k = match r.read(buf) {
            Ok(0) => return Ok(n),
            Ok(k) => k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        w.write_all(&buf[..k])?;
        n += k as u64;
    }
}

/// Turns a cleaned path back into bytes (for messages and tests).
pub fn path_bytes(p: &Path) -> Vec<u8> {
    p.as_os_str().to_os_string().into_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_path_floors_at_the_root() {
        assert_eq!(clean_path(b"../../etc/passwd"), PathBuf::from("etc/passwd"));
        assert_eq!(clean_path(b"/abs/./p/"), PathBuf::from("abs/p"));
        assert_eq!(clean_path(b"a/../../b"), PathBuf::from("b"));
        assert_eq!(clean_path(b"./"), PathBuf::new());
        assert_eq!(path_bytes(&clean_path(b"x//y")), b"x/y");
    }

    #[test]
    fn pax_times_keep_nanoseconds() {
        let t = parse_pax_time(b"1700000000.5").unwrap();
        assert_eq!((t.tv_sec, t.tv_nsec), (1_700_000_000, 500_000_000));
        assert!(parse_pax_time(b"x").is_none());
    }

    /// A tar built with raw names (as a test of replacement semantics needs).
    fn tar_of(entries: &[(&str, tar::EntryType, &[u8], &str)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, kind, data, link) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(*kind);
            h.set_size(data.len() as u64);
            h.set_mode(if kind.is_dir() { 0o755 } else { 0o644 });
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(1_000_000);
            if !link.is_empty() {
                h.set_link_name(link).unwrap();
            }
            h.set_path(name).unwrap();
            h.set_cksum();
            b.append(&h, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn later_entries_replace_earlier_ones_of_another_type() {
        assert!(
            rustix::process::geteuid().is_root(),
            "unpacking sets owners: run as root"
        );
        use tar::EntryType as T;
        let root =
            std::env::temp_dir().join(format!("berth-apply-{}", crate::fsutil::temp_suffix()));
        std::fs::create_dir_all(&root).unwrap();
        let tar = tar_of(&[
            ("d/", T::Directory, b"", ""),
            ("d/inner", T::Regular, b"x", ""),
            ("d", T::Regular, b"now a file", ""),
            ("f", T::Regular, b"file", ""),
            ("f/", T::Directory, b"", ""),
            ("f/child", T::Regular, b"c", ""),
            ("s", T::Symlink, b"", "f"),
            ("s", T::Regular, b"plain", ""),
            ("g/", T::Directory, b"", ""),
            ("g/x", T::Regular, b"x", ""),
            (".wh.g", T::Regular, b"", ""),
        ]);
        let stats = apply_tar(&root, &[], &tar[..]).unwrap();
        assert_eq!(stats.entries, 11);
        assert_eq!(std::fs::read(root.join("d")).unwrap(), b"now a file");
        assert_eq!(std::fs::read(root.join("f/child")).unwrap(), b"c");
        let s_meta = std::fs::symlink_metadata(root.join("s")).unwrap();
        assert!(s_meta.is_file());
        let g = std::fs::symlink_metadata(root.join("g")).unwrap();
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        assert!(
            g.file_type().is_char_device() && g.rdev() == 0,
            "the whiteout replaced g/"
        );
        assert_eq!(
            std::fs::metadata(root.join("f")).unwrap().mtime(),
            1_000_000,
            "directory times are set last"
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}
