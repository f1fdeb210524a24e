//! The `cgroup` and `cgroup2` mount types: the container sees its own cgroup at
//! the mount's destination (usually /sys/fs/cgroup), never its parents.
//!
//! - cgroup v2 host: with a cgroup namespace, a fresh `cgroup2` mount (the kernel
//!   roots it at the namespace's cgroup); without one, a bind of the container's own
//!   cgroup directory, found in /proc/self/cgroup.
//! - cgroup v1 host: a tmpfs at the destination, then one directory per hierarchy:
//!   a fresh `cgroup` mount of that hierarchy with a cgroup namespace, else a bind of
//!   the container's cgroup in it; symlinks for co-mounted controllers
//!   (`cpu -> cpu,cpuacct`); the tmpfs is made read-only last when asked.
//!
//! This reads /proc/self/cgroup and, on v1, /proc/self/mountinfo, once per cgroup
//! mount (there is normally one).

use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use nix::mount::MsFlags;

use super::mounts::{self, Call};
use super::options::MountOptions;
use super::{Error, Options, Result, sys};
use crate::cgroups::detect::unescape;

const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
const HOST_CGROUP: &str = "/sys/fs/cgroup";

/// Performs a `cgroup` or `cgroup2` spec mount at `rel`.
pub(crate) fn mount(
    root: BorrowedFd<'_>,
    rel: &Path,
    target: &str,
    typ: &str,
    o: &MountOptions,
    shown: &str,
    opts: &Options,
) -> Result<()> {
    let v2_host = sys::fs_magic(Path::new(HOST_CGROUP))
        .map(|m| m == CGROUP2_SUPER_MAGIC)
        .unwrap_or(false);
    if typ == "cgroup2" || v2_host {
        mount_v2(root, rel, target, o, shown, opts, v2_host)
    } else {
        mount_v1(root, rel, target, o, shown, opts)
    }
}

fn mount_v2(
    root: BorrowedFd<'_>,
    rel: &Path,
    target: &str,
    o: &MountOptions,
    shown: &str,
    opts: &Options,
    v2_host: bool,
) -> Result<()> {
    if opts.cgroup_ns {
        let fd = mounts::mkdir(root, rel, target)?;
        return Call {
            what: "cgroup2",
            source: Some(Path::new("cgroup2")),
            target,
            fstype: Some("cgroup2"),
            flags: o.flags,
            data: o.data(),
            options: shown,
        }
        .on(fd.as_fd());
    }
    let own = read_proc_self_cgroup()?;
    let path = own
        .iter()
        .find(|l| l.controllers.is_empty() && l.id == "0")
        .map(|l| l.path.as_str())
        .ok_or_else(|| Error::Other("no cgroup v2 entry in /proc/self/cgroup".into()))?;
    // On a hybrid host the v2 hierarchy lives beside the v1 ones.
    let base = if v2_host {
        PathBuf::from(HOST_CGROUP)
    } else {
        Path::new(HOST_CGROUP).join("unified")
    };
    let source = base.join(path.trim_start_matches('/'));
    let mut b = o.clone();
    b.flags |= MsFlags::MS_BIND | MsFlags::MS_REC;
    mounts::bind(root, rel, target, &source, &b, shown)
}

fn mount_v1(
    root: BorrowedFd<'_>,
    rel: &Path,
    target: &str,
    o: &MountOptions,
    shown: &str,
    opts: &Options,
) -> Result<()> {
    let ro = o.flags.contains(MsFlags::MS_RDONLY);
    let fd = mounts::mkdir(root, rel, target)?;
    // Written while read-write: the hierarchy directories and links go in it.
    let tmpfs_flags = o.flags & !MsFlags::MS_RDONLY;
    Call {
        what: "tmpfs",
        source: Some(Path::new("tmpfs")),
        target,
        fstype: Some("tmpfs"),
        flags: tmpfs_flags,
        data: Some("mode=755"),
        options: shown,
    }
    .on(fd.as_fd())?;
    let own = read_proc_self_cgroup()?;
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(Error::path("read", "/proc/self/mountinfo"))?;
    for h in v1_hierarchies(&mountinfo, &own) {
        let name = match Path::new(&h.mountpoint).file_name() {
            Some(n) => n.to_string_lossy().into_owned(),
            None => continue,
        };
        let sub_rel = rel.join(&name);
        let sub_target = format!("{}/{name}", target.trim_end_matches('/'));
        if opts.cgroup_ns {
            let sfd = mounts::mkdir(root, &sub_rel, &sub_target)?;
            Call {
                what: "cgroup",
                source: Some(Path::new("cgroup")),
                target: &sub_target,
                fstype: Some("cgroup"),
                flags: o.flags,
                data: Some(&h.controllers),
                options: shown,
            }
            .on(sfd.as_fd())?;
        } else {
            let mut b = o.clone();
            b.flags |= MsFlags::MS_BIND | MsFlags::MS_REC;
            b.data.clear();
            mounts::bind(root, &sub_rel, &sub_target, &h.source(), &b, shown)?;
        }
        if name.contains(',') {
            let dir = mounts::reopen(root, rel, target)?;
            for part in name.split(',') {
                super::step(
                    || format!("symlink {target}/{part} -> {name}"),
                    || match sys::symlinkat(Path::new(&name), dir.as_fd(), Path::new(part)) {
                        Err(e) if sys::errno(&e) == libc::EEXIST => Ok(()),
                        r => r,
                    },
                )
                .map_err(Error::path("symlink", format!("{target}/{part}")))?;
            }
        }
    }
    if ro {
        let top = mounts::reopen(root, rel, target)?;
        mounts::remount_bind(top.as_fd(), target, o.flags & !MsFlags::MS_REC, false)?;
    }
    Ok(())
}

/// One line of /proc/self/cgroup: `id:controllers:path`.
#[derive(Debug, PartialEq, Eq)]
struct OwnCgroup {
    id: String,
    controllers: Vec<String>,
    path: String,
}

fn read_proc_self_cgroup() -> Result<Vec<OwnCgroup>> {
    let s = std::fs::read_to_string("/proc/self/cgroup")
        .map_err(Error::path("read", "/proc/self/cgroup"))?;
    Ok(parse_proc_cgroup(&s))
}

fn parse_proc_cgroup(s: &str) -> Vec<OwnCgroup> {
    s.lines()
        .filter_map(|l| {
            let mut it = l.splitn(3, ':');
            let id = it.next()?.to_string();
            let controllers = it.next()?;
            let path = it.next()?.to_string();
            let controllers = controllers
                .split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect();
            Some(OwnCgroup {
                id,
                controllers,
                path,
            })
        })
        .collect()
}

/// A v1 hierarchy mounted on the host, with the container's place in it.
#[derive(Debug, PartialEq, Eq)]
struct Hierarchy {
    /// Where it is mounted (`/sys/fs/cgroup/cpu,cpuacct`).
    mountpoint: String,
    /// The cgroup path of the mount's root (mountinfo's 4th field).
    mount_root: String,
    /// The container's cgroup in this hierarchy.
    own: String,
    /// Comma-joined controllers (`cpu,cpuacct`, `name=systemd`), the data for a
    /// fresh mount.
    controllers: String,
}

impl Hierarchy {
    /// The host directory of the container's cgroup in this hierarchy.
    fn source(&self) -> PathBuf {
        let root = self.mount_root.trim_end_matches('/');
        let below = self
            .own
            .strip_prefix(root)
            .unwrap_or("/")
            .trim_start_matches('/');
        if below.is_empty() {
            // Joining "" would add a trailing slash to what the trace shows.
            PathBuf::from(&self.mountpoint)
        } else {
            Path::new(&self.mountpoint).join(below)
        }
    }
}

/// The v1 hierarchies of mountinfo matched with the lines of /proc/self/cgroup.
fn v1_hierarchies(mountinfo: &str, own: &[OwnCgroup]) -> Vec<Hierarchy> {
    let mut out = Vec::new();
    for line in mountinfo.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(sep) = fields.iter().position(|f| *f == "-") else {
            continue;
        };
        if fields.len() < sep + 4 || fields.len() < 5 || fields[sep + 1] != "cgroup" {
            continue;
        }
        let super_opts: Vec<&str> = fields[sep + 3].split(',').collect();
        let Some(mine) = own.iter().find(|c| {
            !c.controllers.is_empty()
                && c.controllers
                    .iter()
                    .all(|k| super_opts.contains(&k.as_str()))
        }) else {
            continue;
        };
        let mountpoint = unescape(fields[4]);
        // A hierarchy mounted twice (bind mounts of it) is shown once.
        if out
            .iter()
            .any(|h: &Hierarchy| h.controllers == mine.controllers.join(","))
        {
            continue;
        }
        out.push(Hierarchy {
            mountpoint,
            mount_root: unescape(fields[3]),
            own: mine.path.clone(),
            controllers: mine.controllers.join(","),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 /docker /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
42 27 0:29 / /mnt/other\\040cpu rw,relatime - cgroup cgroup rw,cpu,cpuacct
";

    const CGROUP: &str = "\
9:name=systemd:/user/c1
4:memory:/docker/c1
2:cpu,cpuacct:/c1
0::/c1
";

    #[test]
    fn parses_proc_self_cgroup() {
        let own = parse_proc_cgroup(CGROUP);
        assert_eq!(own.len(), 4);
        assert_eq!(own[1].controllers, vec!["memory"]);
        assert_eq!(
            own[3],
            OwnCgroup {
                id: "0".into(),
                controllers: vec![],
                path: "/c1".into()
            }
        );
    }

    #[test]
    fn matches_v1_hierarchies_to_own_cgroups() {
        let own = parse_proc_cgroup(CGROUP);
        let hs = v1_hierarchies(MOUNTINFO, &own);
        let got: Vec<(String, PathBuf, String)> = hs
            .iter()
            .map(|h| (h.mountpoint.clone(), h.source(), h.controllers.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "/sys/fs/cgroup/cpu,cpuacct".into(),
                    "/sys/fs/cgroup/cpu,cpuacct/c1".into(),
                    "cpu,cpuacct".into()
                ),
                // The mount's root is /docker: the container's /docker/c1 is c1 below it.
                (
                    "/sys/fs/cgroup/memory".into(),
                    "/sys/fs/cgroup/memory/c1".into(),
                    "memory".into()
                ),
                (
                    "/sys/fs/cgroup/systemd".into(),
                    "/sys/fs/cgroup/systemd/user/c1".into(),
                    "name=systemd".into()
                ),
            ]
        );
    }

    #[test]
    fn unescapes_mountinfo_paths() {
        assert_eq!(unescape("/mnt/other\\040cpu"), "/mnt/other cpu");
        assert_eq!(unescape("/plain"), "/plain");
        assert_eq!(unescape("/trail\\04"), "/trail\\04");
    }
}
