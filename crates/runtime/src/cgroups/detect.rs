//! Finding the cgroup hierarchies: which are mounted where (/proc/self/mountinfo) and
//! which cgroup this process sits in (/proc/self/cgroup).
//!
//! Both files are read once per manager; the parsers are pure so that every host shape
//! (v1, v2, hybrid, bind-mounted or namespaced roots) is unit-tested here.

use std::path::PathBuf;

use super::{Error, Layout, Result};

/// v1 controllers berth knows. Other comma-separated super options of a v1 mount
/// ("rw", "clone_children", "release_agent=...") are not controllers.
const V1_CONTROLLERS: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "net_prio",
    "blkio",
    "perf_event",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
];

/// One mounted v1 hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct V1Mount {
    /// Controllers bound to it, including named hierarchies such as "name=systemd".
    pub controllers: Vec<String>,
    /// Where it is mounted.
    pub mount_point: PathBuf,
    /// The cgroup the mount shows as its root (not "/" when a subtree is bind-mounted
    /// or the mount was made inside a cgroup namespace).
    pub root: String,
}

/// The unified (v2) hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct V2Mount {
    /// Where it is mounted.
    pub mount_point: PathBuf,
    /// The cgroup the mount shows as its root.
    pub root: String,
}

/// Every cgroup hierarchy mounted on the host, as /proc/self/mountinfo lists them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Mounts {
    /// v1 hierarchies, one entry per hierarchy (repeated mounts of one are dropped).
    pub v1: Vec<V1Mount>,
    /// The unified hierarchy, if mounted.
    pub v2: Option<V2Mount>,
}

impl Mounts {
    /// Reads and parses /proc/self/mountinfo.
    pub fn read() -> Result<Mounts> {
        let text = std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| Error::Io {
            what: "read /proc/self/mountinfo".into(),
            source: e,
        })?;
        Ok(parse_mountinfo(&text))
    }

    /// The layout these mounts make. A v1 mount that carries only a named hierarchy
    /// (name=systemd for old tools) does not make a host v1: its controllers are all
    /// in the unified hierarchy.
    pub fn layout(&self) -> Result<Layout> {
        let real_v1 = self
            .v1
            .iter()
            .any(|m| m.controllers.iter().any(|c| !c.starts_with("name=")));
        match (real_v1, &self.v2) {
            (true, Some(_)) => Ok(Layout::Hybrid),
            (true, None) => Ok(Layout::V1),
            (false, Some(_)) => Ok(Layout::V2),
            (false, None) => Err(Error::Config(
                "no cgroup hierarchy is mounted (nothing of type cgroup or cgroup2 in \
                 /proc/self/mountinfo): mount cgroup2 on /sys/fs/cgroup"
                    .into(),
            )),
        }
    }
}

/// Parses mountinfo text into the cgroup mounts it lists.
pub(crate) fn parse_mountinfo(text: &str) -> Mounts {
    let mut mounts = Mounts::default();
    for line in text.lines() {
        // Fields: id parent major:minor root mount-point options [optional...] - fstype
        // source super-options. The optional fields vary in number, hence the split on
        // the separator.
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let mut post_fields = post.split(' ');
        let fstype = post_fields.next().unwrap_or("");
        if fstype != "cgroup" && fstype != "cgroup2" {
            continue;
        }
        let mut pre_fields = pre.split(' ');
        let (Some(root), Some(mount_point)) = (pre_fields.nth(3), pre_fields.next()) else {
            continue;
        };
        let root = unescape(root);
        let mount_point = PathBuf::from(unescape(mount_point));
        if fstype == "cgroup2" {
            // The first mount wins, except that the conventional place beats an extra
            // mount elsewhere (a bind mount into a chroot, say).
            let better = match &mounts.v2 {
                None => true,
                Some(_) => mount_point == std::path::Path::new("/sys/fs/cgroup"),
            };
            if better {
                mounts.v2 = Some(V2Mount { mount_point, root });
            }
            continue;
        }
        let super_options = post_fields.nth(1).unwrap_or("");
        let controllers: Vec<String> = super_options
            .split(',')
            .filter(|o| o.starts_with("name=") || V1_CONTROLLERS.contains(o))
            .map(str::to_owned)
            .collect();
        if controllers.is_empty() || mounts.v1.iter().any(|m| m.controllers == controllers) {
            continue;
        }
        mounts.v1.push(V1Mount {
            controllers,
            mount_point,
            root,
        });
    }
    mounts
}

/// Undoes mountinfo's octal escapes (`\040` for a space, `\011`, `\012`, `\134`).
pub fn unescape(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_owned();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = u16::from(b[i + 1] - b'0') * 64
                + u16::from(b[i + 2] - b'0') * 8
                + u16::from(b[i + 3] - b'0');
            out.push(v as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// This process's cgroup in each hierarchy, from /proc/self/cgroup.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct OwnCgroups {
    /// (controllers of the hierarchy, path) for v1 hierarchies.
    pub v1: Vec<(Vec<String>, String)>,
    /// The path in the unified hierarchy ("0::/path").
    pub v2: Option<String>,
}

impl OwnCgroups {
    /// Reads and parses /proc/self/cgroup.
    pub fn read() -> Result<OwnCgroups> {
        let text = std::fs::read_to_string("/proc/self/cgroup").map_err(|e| Error::Io {
            what: "read /proc/self/cgroup".into(),
            source: e,
        })?;
        Ok(parse_proc_cgroup(&text))
    }

    /// The path in the v1 hierarchy carrying `controllers` (matched by any one).
    pub fn v1_path(&self, controllers: &[String]) -> Option<&str> {
        self.v1
            .iter()
            .find(|(cs, _)| cs.iter().any(|c| controllers.contains(c)))
            .map(|(_, p)| p.as_str())
    }
}

/// Parses /proc/<pid>/cgroup: lines of `hierarchy-id:controllers:path`.
pub(crate) fn parse_proc_cgroup(text: &str) -> OwnCgroups {
    let mut own = OwnCgroups::default();
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(ctrls), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        if id == "0" && ctrls.is_empty() {
            own.v2 = Some(path.to_owned());
        } else {
            let cs = ctrls
                .split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect();
            own.v1.push((cs, path.to_owned()));
        }
    }
    own
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime shared:9 - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset,clone_children
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn hybrid_host_is_hybrid() {
        let m = parse_mountinfo(HYBRID);
        assert_eq!(m.layout().unwrap(), Layout::Hybrid);
        assert_eq!(m.v1.len(), 4);
        assert_eq!(m.v1[2].controllers, vec!["cpuset"]);
        assert_eq!(m.v1[3].controllers, vec!["name=systemd"]);
        assert_eq!(
            m.v2.as_ref().unwrap().mount_point,
            PathBuf::from("/sys/fs/cgroup/unified")
        );
    }

    #[test]
    fn comounted_controllers_stay_together() {
        let m = parse_mountinfo(
            "25 20 0:22 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n\
             26 20 0:22 / /mnt/again rw - cgroup cgroup rw,cpu,cpuacct\n",
        );
        assert_eq!(m.layout().unwrap(), Layout::V1);
        assert_eq!(m.v1.len(), 1, "a second mount of one hierarchy is dropped");
        assert_eq!(m.v1[0].controllers, vec!["cpu", "cpuacct"]);
        assert_eq!(
            m.v1[0].mount_point,
            PathBuf::from("/sys/fs/cgroup/cpu,cpuacct")
        );
    }

    #[test]
    fn pure_v2_even_with_named_v1() {
        let m = parse_mountinfo(
            "30 22 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n\
             31 22 0:27 / /run/systemd/legacy rw - cgroup cgroup rw,name=systemd\n",
        );
        assert_eq!(m.layout().unwrap(), Layout::V2);
        assert_eq!(m.v2.unwrap().mount_point, PathBuf::from("/sys/fs/cgroup"));
    }

    #[test]
    fn no_cgroups_is_an_error_that_says_what_to_do() {
        let m = parse_mountinfo("22 1 8:1 / / rw - ext4 /dev/sda1 rw\n");
        let e = m.layout().unwrap_err().to_string();
        assert!(e.contains("mount cgroup2"), "{e}");
    }

    #[test]
    fn escaped_mount_point_and_namespaced_root() {
        let m = parse_mountinfo("30 22 0:26 /ctr /my\\040cg rw - cgroup2 cgroup2 rw\n");
        let v2 = m.v2.unwrap();
        assert_eq!(v2.mount_point, PathBuf::from("/my cg"));
        assert_eq!(v2.root, "/ctr");
    }

    #[test]
    fn proc_self_cgroup() {
        let own = parse_proc_cgroup(
            "9:name=systemd:/\n4:memory:/process_api/a0\n1:cpu,cpuacct:/x\n0::/user.slice\n",
        );
        assert_eq!(own.v2.as_deref(), Some("/user.slice"));
        assert_eq!(own.v1_path(&["memory".into()]), Some("/process_api/a0"));
        assert_eq!(own.v1_path(&["cpuacct".into()]), Some("/x"));
        assert_eq!(own.v1_path(&["name=systemd".into()]), Some("/"));
        assert_eq!(own.v1_path(&["pids".into()]), None);
    }
}
