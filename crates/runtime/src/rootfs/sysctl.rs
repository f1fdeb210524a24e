//! `linux.sysctl`: each key written under the container's /proc/sys.

use std::collections::HashMap;
use std::io::Write as _;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use rustix::fs::OFlags;

use super::{Error, Result, sys};

const PROC_SUPER_MAGIC: i64 = 0x9fa0;

/// Writes every sysctl; the first failure is an error naming key and value.
pub(crate) fn apply(sysctls: &HashMap<String, String>) -> Result<()> {
    if sysctls.is_empty() {
        return Ok(());
    }
    let dir = sys::open(Path::new("/proc/sys"), OFlags::PATH | OFlags::DIRECTORY)
        .map_err(Error::path("open", "/proc/sys"))?;
    // Writes must reach procfs and nothing mounted or linked in its place
    // (CVE-2025-52881: a write redirected by a mount over /proc).
    match sys::fd_fs_magic(dir.as_fd()) {
        Ok(PROC_SUPER_MAGIC) => {}
        Ok(_) => {
            return Err(Error::Invalid(
                "/proc/sys is not procfs: is /proc mounted?".into(),
            ));
        }
        Err(e) => return Err(Error::path("statfs", "/proc/sys")(e)),
    }
    // Sorted, so a configuration fails the same way every time.
    let mut keys: Vec<&String> = sysctls.keys().collect();
    keys.sort();
    for key in keys {
        let value = &sysctls[key];
        let err = |source| Error::Sysctl {
            key: key.clone(),
            value: value.clone(),
            source,
        };
        let rel = key_path(key).ok_or_else(|| {
            err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a sysctl name",
            ))
        })?;
        super::step(
            || format!("sysctl {key}={value}"),
            || {
                let fd = sys::open_beneath(dir.as_fd(), &rel, OFlags::WRONLY | OFlags::TRUNC)?;
                std::fs::File::from(fd).write_all(value.as_bytes())
            },
        )
        .map_err(err)?;
    }
    Ok(())
}

/// `net.ipv4.ip_forward` -> `net/ipv4/ip_forward`; `None` for names that could
/// climb out of /proc/sys or are empty.
fn key_path(key: &str) -> Option<PathBuf> {
    let parts: Vec<&str> = key.split('.').collect();
    if parts.iter().any(|p| p.is_empty() || p.contains('/')) {
        return None;
    }
    Some(parts.iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_become_paths() {
        assert_eq!(
            key_path("net.ipv4.ip_forward"),
            Some(PathBuf::from("net/ipv4/ip_forward"))
        );
        assert_eq!(
            key_path("kernel.shmmax"),
            Some(PathBuf::from("kernel/shmmax"))
        );
    }

    #[test]
    fn bad_keys_are_refused() {
        for k in ["", "net..ipv4", ".net", "net.", "net/../../x", "kernel.a/b"] {
            assert_eq!(key_path(k), None, "{k}");
        }
    }
}
