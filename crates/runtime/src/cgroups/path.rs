//! From `linux.cgroupsPath` to a directory in each hierarchy.
//!
//! The config's path is first turned into a [`CgroupPath`] (pure), then placed in each
//! hierarchy by [`in_hierarchy`]: absolute paths hang from the hierarchy's visible
//! root, relative ones from the cgroup the runtime itself runs in.

use std::path::{Path, PathBuf};

use super::{Error, Result};

/// A container's cgroup, before it is placed in a hierarchy. The string is normalised:
/// no empty, "." or ".." components, and it never starts or ends with '/'.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CgroupPath {
    /// Below each hierarchy's root.
    Absolute(String),
    /// Below the runtime's own cgroup in each hierarchy.
    Relative(String),
}

/// Interprets `linux.cgroupsPath` (None when the config has none).
pub(crate) fn from_config(
    cgroups_path: Option<&Path>,
    id: &str,
    systemd_driver: bool,
) -> Result<CgroupPath> {
    let raw = match cgroups_path {
        Some(p) => p.to_str().ok_or_else(|| {
            Error::Config(format!("cgroupsPath {} is not valid UTF-8", p.display()))
        })?,
        None => "",
    };
    if systemd_driver && (raw.is_empty() || raw.contains(':')) {
        return systemd(raw, id);
    }
    if raw.is_empty() {
        if id.is_empty() || id.contains('/') {
            return Err(Error::Config(format!(
                "container id {id:?} cannot name a cgroup: it must be non-empty without '/'"
            )));
        }
        return Ok(CgroupPath::Absolute(id.to_owned()));
    }
    let clean = normalise(raw);
    if raw.starts_with('/') && clean.is_empty() {
        // The root cgroup holds the whole host: its limits are not the container's to
        // set, and destroying it would remove every empty cgroup on the host.
        Err(Error::Config(format!(
            "cgroupsPath {raw:?} names the root cgroup; give the container a cgroup of its own"
        )))
    } else if raw.starts_with('/') {
        Ok(CgroupPath::Absolute(clean))
    } else if clean.is_empty() {
        Err(Error::Config(format!(
            "cgroupsPath {raw:?} names the runtime's own cgroup; give the container a cgroup of its own"
        )))
    } else {
        Ok(CgroupPath::Relative(clean))
    }
}

/// systemd's `slice:prefix:name` mapped onto the cgroupfs layout systemd itself uses,
/// without asking systemd over D-Bus: the slice expands into its parents
/// (`a-b.slice` lives in `a.slice`) and the unit is `prefix-name.scope`.
fn systemd(raw: &str, id: &str) -> Result<CgroupPath> {
    let (slice, prefix, name) = if raw.is_empty() {
        ("system.slice", "berth", id)
    } else {
        let parts: Vec<&str> = raw.split(':').collect();
        let [slice, prefix, name] = parts[..] else {
            return Err(Error::Config(format!(
                "cgroupsPath {raw:?} must have the form slice:prefix:name with the systemd cgroup driver"
            )));
        };
        (slice, prefix, name)
    };
    if name.is_empty() || name.contains('/') {
        return Err(Error::Config(format!(
            "cgroupsPath {raw:?}: the unit name must be non-empty without '/'"
        )));
    }
    let mut path = expand_slice(if slice.is_empty() {
        "system.slice"
    } else {
        slice
    })?;
    let unit = if name.ends_with(".slice") {
        name.to_owned()
    } else if prefix.is_empty() {
        format!("{name}.scope")
    } else {
        format!("{prefix}-{name}.scope")
    };
    if !path.is_empty() {
        path.push('/');
    }
    path.push_str(&unit);
    Ok(CgroupPath::Absolute(path))
}

/// `a-b-c.slice` -> `a.slice/a-b.slice/a-b-c.slice`; the root slice `-.slice` -> "".
fn expand_slice(slice: &str) -> Result<String> {
    let bad = || {
        Error::Config(format!(
            "systemd slice {slice:?} is invalid: it must end in .slice, without '/' or empty dash-separated parts"
        ))
    };
    let Some(stem) = slice.strip_suffix(".slice") else {
        return Err(bad());
    };
    if stem == "-" {
        return Ok(String::new());
    }
    if stem.is_empty() || stem.contains('/') || stem.split('-').any(str::is_empty) {
        return Err(bad());
    }
    let mut out = String::new();
    let mut upto = 0;
    for part in stem.split('-') {
        upto += part.len();
        if !out.is_empty() {
            out.push('/');
        }
        out.push_str(&stem[..upto]);
        out.push_str(".slice");
        upto += 1;
    }
    Ok(out)
}

/// Removes empty, "." and ".." components; ".." never climbs above the start, so a
/// path cannot leave the hierarchy (or the runtime's cgroup) it is placed in.
fn normalise(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    parts.join("/")
}

/// The directory for `path` in a hierarchy mounted at `mount_point` whose visible root
/// is the cgroup `mount_root`. `own` is the runtime's cgroup in that hierarchy (from
/// /proc/self/cgroup), needed for relative paths only.
pub(crate) fn in_hierarchy(
    mount_point: &Path,
    mount_root: &str,
    own: Option<&str>,
    path: &CgroupPath,
) -> PathBuf {
    let mut dir = mount_point.to_path_buf();
    match path {
        CgroupPath::Absolute(p) => {
            if !p.is_empty() {
                dir.push(p);
            }
        }
        CgroupPath::Relative(p) => {
            // The own cgroup is given from the kernel's root; the mount shows only the
            // part below `mount_root`, so strip it (a cgroup outside the mount's view
            // leaves the path at the mount's root).
            let own = normalise(own.unwrap_or("/"));
            let root = normalise(mount_root);
            let below = if root.is_empty() {
                own.as_str()
            } else if own == root {
                ""
            } else {
                own.strip_prefix(&root)
                    .and_then(|r| r.strip_prefix('/'))
                    .unwrap_or("")
            };
            if !below.is_empty() {
                dir.push(below);
            }
            dir.push(p);
        }
    }
    dir
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(p: Option<&str>, systemd: bool) -> Result<CgroupPath> {
        from_config(p.map(Path::new), "ctr1", systemd)
    }

    #[test]
    fn absent_path_is_slash_id() {
        assert_eq!(
            cfg(None, false).unwrap(),
            CgroupPath::Absolute("ctr1".into())
        );
        assert!(from_config(None, "a/b", false).is_err());
    }

    #[test]
    fn absolute_and_relative_are_normalised() {
        assert_eq!(
            cfg(Some("/a//b/./c/"), false).unwrap(),
            CgroupPath::Absolute("a/b/c".into())
        );
        assert_eq!(
            cfg(Some("/../../etc"), false).unwrap(),
            CgroupPath::Absolute("etc".into())
        );
        assert_eq!(
            cfg(Some("x/../y"), false).unwrap(),
            CgroupPath::Relative("y".into())
        );
        assert!(
            cfg(Some("x/.."), false).is_err(),
            "relative path naming our own cgroup"
        );
    }

    #[test]
    fn systemd_slice_prefix_name() {
        assert_eq!(
            cfg(Some("system.slice:docker:abc"), true).unwrap(),
            CgroupPath::Absolute("system.slice/docker-abc.scope".into())
        );
        assert_eq!(
            cfg(Some("machine-libpod.slice:libpod:abc"), true).unwrap(),
            CgroupPath::Absolute("machine.slice/machine-libpod.slice/libpod-abc.scope".into())
        );
        assert_eq!(
            cfg(Some(":berth:abc"), true).unwrap(),
            CgroupPath::Absolute("system.slice/berth-abc.scope".into())
        );
        assert_eq!(
            cfg(Some("-.slice::abc"), true).unwrap(),
            CgroupPath::Absolute("abc.scope".into())
        );
        assert_eq!(
            cfg(None, true).unwrap(),
            CgroupPath::Absolute("system.slice/berth-ctr1.scope".into())
        );
        assert!(cfg(Some("system.slice:abc"), true).is_err());
        assert!(cfg(Some("system:p:abc"), true).is_err());
        assert!(cfg(Some("a--b.slice:p:abc"), true).is_err());
        // Without ':' a systemd-driver path is taken as a plain cgroupfs path.
        assert_eq!(
            cfg(Some("/plain"), true).unwrap(),
            CgroupPath::Absolute("plain".into())
        );
    }

    #[test]
    fn placement_in_a_hierarchy() {
        let mp = Path::new("/sys/fs/cgroup/memory");
        let abs = CgroupPath::Absolute("a/b".into());
        let rel = CgroupPath::Relative("c".into());
        assert_eq!(
            in_hierarchy(mp, "/", None, &abs),
            PathBuf::from("/sys/fs/cgroup/memory/a/b")
        );
        assert_eq!(
            in_hierarchy(mp, "/", Some("/process_api/x"), &rel),
            PathBuf::from("/sys/fs/cgroup/memory/process_api/x/c")
        );
        // A namespaced mount whose root is our own cgroup's parent.
        assert_eq!(
            in_hierarchy(mp, "/process_api", Some("/process_api/x"), &rel),
            PathBuf::from("/sys/fs/cgroup/memory/x/c")
        );
        assert_eq!(
            in_hierarchy(mp, "/process_api", Some("/process_api"), &rel),
            PathBuf::from("/sys/fs/cgroup/memory/c")
        );
        assert_eq!(
            in_hierarchy(mp, "/", Some("/"), &rel),
            PathBuf::from("/sys/fs/cgroup/memory/c")
        );
    }
}
