//! Host devices given to a container: `--device` (one node, with the cgroup
//! permissions asked) and `--privileged` (every device node of the host's /dev).

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use serde_json::{Value, json};

use crate::error::{Error, Result};

/// A device node on the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostDevice {
    /// "c" or "b".
    pub kind: &'static str,
    /// Major number.
    pub major: u64,
    /// Minor number.
    pub minor: u64,
    /// Permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
}

/// The device node at `path` (symlinks followed, as Docker does), or Docker's error.
pub fn host_device(path: &Path) -> Result<HostDevice> {
    let md = std::fs::metadata(path).map_err(|e| {
        Error::InvalidArgument(format!(
            "error gathering device information while adding custom device \"{}\": {e}",
            path.display()
        ))
    })?;
    let ft = md.file_type();
    let kind = if ft.is_char_device() {
        "c"
    } else if ft.is_block_device() {
        "b"
    } else {
        return Err(Error::InvalidArgument(format!(
            "error gathering device information while adding custom device \"{}\": not a device node",
            path.display()
        )));
    };
    let rdev = md.rdev();
    Ok(HostDevice {
        kind,
        major: rustix::fs::major(rdev) as u64,
        minor: rustix::fs::minor(rdev) as u64,
        mode: md.mode() & 0o7777,
        uid: md.uid(),
        gid: md.gid(),
    })
}

/// The OCI `linux.devices` entry creating `d` at `path` in the container.
pub fn oci_device(path: &str, d: &HostDevice) -> Value {
    json!({
        "path": path, "type": d.kind, "major": d.major, "minor": d.minor,
        "fileMode": d.mode, "uid": d.uid, "gid": d.gid,
    })
}

/// The cgroup rule allowing `d` with `access` (a subset of "rwm").
pub fn allow_rule(d: &HostDevice, access: &str) -> Value {
    json!({"allow": true, "type": d.kind, "major": d.major, "minor": d.minor, "access": access})
}

/// Every device node under the host's /dev, as `--privileged` gives them, except
/// those the container gets its own of (pts, shm, mqueue, the console).
pub fn all_host_devices() -> Vec<(String, HostDevice)> {
    fn walk(dir: &Path, out: &mut Vec<(String, HostDevice)>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                if !matches!(p.to_str(), Some("/dev/pts" | "/dev/shm" | "/dev/mqueue")) {
                    walk(&p, out);
                }
            } else if (ft.is_char_device() || ft.is_block_device())
                && !matches!(p.to_str(), Some("/dev/console" | "/dev/ptmx" | "/dev/tty"))
                && let Ok(d) = host_device(&p)
            {
                out.push((p.to_string_lossy().into_owned(), d));
            }
        }
    }
    let mut out = Vec::new();
    walk(Path::new("/dev"), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_null_is_char_1_3() {
        let d = host_device(Path::new("/dev/null")).unwrap();
        assert_eq!((d.kind, d.major, d.minor), ("c", 1, 3));
        assert!(host_device(Path::new("/etc/passwd")).is_err());
        assert!(all_host_devices().iter().any(|(p, _)| p == "/dev/null"));
    }
}
