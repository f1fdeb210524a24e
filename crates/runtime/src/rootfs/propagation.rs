//! `linux.rootfsPropagation`: the propagation of `/` in the container's mount
//! namespace, set before anything is mounted (so nothing leaks to the host) and,
//! when it is a shared one, set again on the new root after the pivot.

use std::path::Path;

use nix::mount::MsFlags;
use oci_spec::runtime::Spec;

use super::{Error, Result, options, sys};

/// What runc uses when the configuration says nothing: receive the host's mount
/// events, never send ours back.
const DEFAULT: MsFlags = MsFlags::MS_SLAVE.union(MsFlags::MS_REC);

/// The configured propagation of `/` as mount flags.
pub(crate) fn root_flags(spec: &Spec) -> Result<MsFlags> {
    let name = spec
        .linux()
        .as_ref()
        .and_then(|l| l.rootfs_propagation().as_deref());
    match name {
        None | Some("") => Ok(DEFAULT),
        Some(n) => options::propagation(n).ok_or_else(|| {
            Error::Invalid(format!(
                "rootfsPropagation {n:?} is not one of private, rprivate, slave, rslave, \
                 shared, rshared, unbindable, runbindable"
            ))
        }),
    }
}

/// Sets the propagation of `/`, makes the mount holding the rootfs private when
/// needed, and bind-mounts the rootfs onto itself so that it is a mount point
/// (pivot_root needs one, and mounts below it then move with it).
pub(crate) fn prepare_root(rootfs: &Path, flags: MsFlags) -> Result<()> {
    change(Path::new("/"), flags)?;
    // pivot_root refuses a new root whose parent mount is shared. After a
    // recursive slave/private/unbindable change nothing is shared; otherwise the
    // parent may be, and it must be made private before the bind below copies its
    // propagation.
    let all_unshared = flags.contains(MsFlags::MS_REC) && !flags.contains(MsFlags::MS_SHARED);
    if !all_unshared {
        let parent = mount_root_of(rootfs)?;
        change(&parent, MsFlags::MS_PRIVATE)?;
    }
    let shown = rootfs.display().to_string();
    super::step(
        || format!("mount --rbind {shown} on {shown}"),
        || {
            sys::mount(
                Some(rootfs),
                rootfs,
                None,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None,
            )
        },
    )
    .map_err(|source| Error::Mount {
        what: shown.clone(),
        target: shown.clone(),
        options: "rbind".into(),
        source,
    })
}

/// After the pivot: a shared or unbindable root propagation is applied to the new
/// root, which the bind in `prepare_root` created private (a bind copies slave and
/// private propagation from its source, but never shared from a now-private parent
/// nor unbindable: binding an unbindable mount is refused). The spec's
/// rootfsPropagation is the container's `/`, so it must hold there.
pub(crate) fn finish_root(flags: MsFlags) -> Result<()> {
    if flags.intersects(MsFlags::MS_SHARED | MsFlags::MS_UNBINDABLE) {
        change(Path::new("/"), flags)?;
    }
    Ok(())
}

fn change(target: &Path, flags: MsFlags) -> Result<()> {
    let name = options::propagation_name(flags);
    let shown = target.display().to_string();
    super::step(
        || format!("mount --make-{name} {shown}"),
        || sys::mount(None, target, None, flags, None),
    )
    .map_err(Error::path(format!("make {name}"), shown.as_str()))
}

/// The mount point of the mount that holds `path`: the highest ancestor still on
/// the same mount. Found with one statx per level instead of parsing mountinfo.
fn mount_root_of(path: &Path) -> Result<std::path::PathBuf> {
    let shown = path.display().to_string();
    let path = std::fs::canonicalize(path).map_err(Error::path("resolve", shown.as_str()))?;
    let id = sys::mount_id(&path).map_err(Error::path("statx", shown.as_str()))?;
    let mut top = path.as_path();
    while let Some(up) = top.parent() {
        let up_id = sys::mount_id(up).map_err(Error::path("statx", up.display().to_string()))?;
        if up_id != id {
            break;
        }
        top = up;
    }
    Ok(top.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(prop: Option<&str>) -> Spec {
        let linux = match prop {
            Some(p) => format!(r#","linux":{{"rootfsPropagation":"{p}"}}"#),
            None => String::new(),
        };
        serde_json::from_str(&format!(r#"{{"ociVersion":"1.0.2"{linux}}}"#)).unwrap()
    }

    #[test]
    fn default_is_recursive_slave() {
        assert_eq!(
            root_flags(&spec(None)).unwrap(),
            MsFlags::MS_SLAVE | MsFlags::MS_REC
        );
        assert_eq!(
            root_flags(&spec(Some(""))).unwrap(),
            MsFlags::MS_SLAVE | MsFlags::MS_REC
        );
    }

    #[test]
    fn names_map_to_flags() {
        assert_eq!(
            root_flags(&spec(Some("shared"))).unwrap(),
            MsFlags::MS_SHARED
        );
        assert_eq!(
            root_flags(&spec(Some("rprivate"))).unwrap(),
            MsFlags::MS_PRIVATE | MsFlags::MS_REC
        );
        assert_eq!(
            root_flags(&spec(Some("unbindable"))).unwrap(),
            MsFlags::MS_UNBINDABLE
        );
        let e = root_flags(&spec(Some("sharde"))).unwrap_err().to_string();
        assert!(e.contains("\"sharde\""), "{e}");
    }

    #[test]
    fn mount_root_of_proc_subdir_is_proc() {
        // /proc is a mount on every Linux system this runs on; /proc/self/fd is on it.
        assert_eq!(
            mount_root_of(Path::new("/proc/sys")).unwrap(),
            Path::new("/proc")
        );
    }
}
