//! Reading and writing cgroup files.
//!
//! Every write and every mkdir is an `--explain` step, so the trace lists each cgroup
//! file written with its value; every refusal names the file, the value and a likely
//! cause.

use std::fs::OpenOptions;
use std::io::{self, Write as _};
use std::path::Path;
use std::time::{Duration, Instant};

use super::{Error, Result};
use crate::explain;

/// Writes `value` into `dir/file` in one write(2), as cgroupfs expects.
pub(crate) fn write(dir: &Path, file: &str, value: &str) -> Result<()> {
    let path = dir.join(file);
    explain::step(
        || format!("write {value} > {}", path.display()),
        || {
            write_raw(&path, value).map_err(|source| Error::Write {
                file: file.to_owned(),
                value: value.to_owned(),
                dir: dir.to_path_buf(),
                source,
            })
        },
    )
}

/// Writes `value` to `dir/file`; when the kernel refuses it with EINVAL and `first`
/// (another file of `dir` and its value) is given, writes that first and then
/// `value` again: a limit bounded by another (the CPU quota by its burst, the
/// realtime period by its runtime) is refused until the other is lowered. Returns
/// whether `first` was written.
pub(crate) fn write_making_room(
    dir: &Path,
    file: &str,
    value: &str,
    first: Option<(&str, &str)>,
) -> Result<bool> {
    match (write(dir, file, value), first) {
        (Err(Error::Write { source, .. }), Some((other, v)))
            if source.raw_os_error() == Some(libc::EINVAL) =>
        {
            write(dir, other, v)?;
            write(dir, file, value)?;
            Ok(true)
        }
        (r, _) => r.map(|()| false),
    }
}

fn write_raw(path: &Path, value: &str) -> io::Result<()> {
    // No O_CREAT: a missing file means a missing controller, never a file to create.
    // O_TRUNC is what a shell's `>` does; cgroupfs ignores it.
    let mut f = OpenOptions::new().write(true).truncate(true).open(path)?;
    let n = f.write(value.as_bytes())?;
    if n != value.len() {
        return Err(io::Error::new(io::ErrorKind::WriteZero, "short write"));
    }
    Ok(())
}

/// Reads `dir/file` as a string.
pub(crate) fn read(dir: &Path, file: &str) -> Result<String> {
    let path = dir.join(file);
    std::fs::read_to_string(&path).map_err(|source| Error::Io {
        what: format!("read {}", path.display()),
        source,
    })
}

/// Reads `dir/file` if it exists.
pub(crate) fn read_opt(dir: &Path, file: &str) -> Result<Option<String>> {
    match read(dir, file) {
        Ok(s) => Ok(Some(s)),
        Err(Error::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Reads a single number; "max" reads as `u64::MAX` (runc reports unlimited that way).
pub(crate) fn read_u64(dir: &Path, file: &str) -> Result<u64> {
    let s = read(dir, file)?;
    parse_u64(s.trim()).ok_or_else(|| {
        Error::Config(format!(
            "{}: expected a number, found {:?}",
            dir.join(file).display(),
            s.trim()
        ))
    })
}

/// Parses a cgroup number; "max" is unlimited.
pub(crate) fn parse_u64(s: &str) -> Option<u64> {
    if s == "max" {
        Some(u64::MAX)
    } else {
        s.parse().ok()
    }
}

/// Creates `dir` and any missing parents below `mount_point`. Existing directories
/// are fine (cgroups are shared parents, and create is idempotent).
pub(crate) fn mkdir_all(mount_point: &Path, dir: &Path) -> Result<()> {
    // mkdir first and climb only on ENOENT: usually just the leaf is missing, so
    // this is one system call.
    match mkdir(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => match dir.parent() {
            Some(parent) if dir != mount_point && parent != mount_point => {
                mkdir_all(mount_point, parent)?;
                mkdir(dir).map_err(|source| Error::Io {
                    what: format!("mkdir {}", dir.display()),
                    source,
                })
            }
            // The hierarchy itself is gone: never create a mount point.
            _ => Err(Error::Io {
                what: format!("mkdir {}", dir.display()),
                source: e,
            }),
        },
        r => r.map_err(|source| Error::Io {
            what: format!("mkdir {}", dir.display()),
            source,
        }),
    }
}

fn mkdir(dir: &Path) -> io::Result<()> {
    explain::step(
        || format!("mkdir {}", dir.display()),
        || match std::fs::create_dir(dir) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
            r => r,
        },
    )
}

/// Removes the container's cgroup `dir` in the hierarchy mounted at `mount_point`
/// with [`remove_tree`], refusing the hierarchy's root whatever path led there.
pub(crate) fn remove_cgroup(mount_point: &Path, dir: &Path, deadline: Instant) -> Result<()> {
    if dir == mount_point || !dir.starts_with(mount_point) {
        return Err(Error::Config(format!(
            "refusing to remove {}: it is not a cgroup below {}",
            dir.display(),
            mount_point.display()
        )));
    }
    remove_tree(dir, deadline)
}

/// Removes `dir` and every cgroup below it, deepest first. Missing directories are
/// fine. EBUSY (tasks still exiting) is retried until `deadline`.
pub(crate) fn remove_tree(dir: &Path, deadline: Instant) -> Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(Error::Io {
                what: format!("read {}", dir.display()),
                source,
            });
        }
    };
    for entry in entries.flatten() {
        if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            remove_tree(&entry.path(), deadline)?;
        }
    }
    let mut pause = Duration::from_millis(1);
    loop {
        let r = explain::step(
            || format!("rmdir {}", dir.display()),
            || std::fs::remove_dir(dir),
        );
        match r {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(source) => {
                return Err(Error::Remove {
                    dir: dir.to_path_buf(),
                    source,
                });
            }
        }
    }
}

/// Pids listed in `cgroup.procs` of `dir` and of every cgroup below it.
pub(crate) fn procs_recursive(dir: &Path, out: &mut Vec<i32>) -> Result<()> {
    let text = match read_opt(dir, "cgroup.procs")? {
        Some(t) => t,
        None => return Ok(()),
    };
    out.extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(Error::Io {
                what: format!("read {}", dir.display()),
                source,
            });
        }
    };
    for entry in entries.flatten() {
        if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            procs_recursive(&entry.path(), out)?;
        }
    }
    Ok(())
}

/// The errno of `e` as lowercase text without "(os error N)".
pub(crate) fn errno_text(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => {
            let d = nix::errno::Errno::from_raw(n).desc();
            let mut c = d.chars();
            match c.next() {
                Some(f) => f.to_lowercase().chain(c).collect(),
                None => format!("errno {n}"),
            }
        }
        None => e.to_string(),
    }
}

/// A likely cause for a refused write, by file and errno.
pub(crate) fn write_hint(file: &str, e: &io::Error) -> &'static str {
    match e.raw_os_error() {
        Some(libc::EBUSY) if file.starts_with("memory.") => " (the limit is below current usage?)",
        Some(libc::EBUSY) if file == "cgroup.subtree_control" => {
            " (the cgroup has processes of its own; controllers can only be enabled in an empty cgroup)"
        }
        Some(libc::EBUSY) => " (the cgroup is in use)",
        Some(libc::ENOENT) if file.starts_with("cgroup.") => " (the cgroup directory is gone?)",
        Some(libc::ESRCH) if file == "cgroup.procs" => " (the process has exited)",
        Some(libc::ENOENT) => {
            " (this kernel or cgroup lacks the file: is the controller enabled and supported?)"
        }
        Some(libc::EINVAL) | Some(libc::ERANGE) => " (value out of range for this kernel?)",
        Some(libc::EACCES) | Some(libc::EPERM) => {
            " (not allowed: rootless, or a read-only cgroup mount?)"
        }
        Some(libc::ENOSPC) if file.starts_with("cpuset.") => {
            " (the cpus or mems are not all in the parent cgroup's cpuset?)"
        }
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn write_error_names_file_value_and_cause() {
        let e = Error::Write {
            file: "memory.limit_in_bytes".into(),
            value: "4096".into(),
            dir: PathBuf::from("/sys/fs/cgroup/memory/x"),
            source: io::Error::from_raw_os_error(libc::EBUSY),
        };
        assert_eq!(
            e.to_string(),
            "cgroup memory.limit_in_bytes: cannot set 4096 in /sys/fs/cgroup/memory/x: \
             device or resource busy (the limit is below current usage?)"
        );
    }

    #[test]
    fn numbers_and_max() {
        assert_eq!(parse_u64("max"), Some(u64::MAX));
        assert_eq!(parse_u64("67108864"), Some(67108864));
        assert_eq!(parse_u64("-1"), None);
    }

    #[test]
    fn write_never_creates_files() {
        let dir = std::env::temp_dir().join(format!("berth-cg-fs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let e = write(&dir, "pids.max", "20").unwrap_err();
        assert!(e.to_string().contains("no such file or directory"), "{e}");
        assert!(!dir.join("pids.max").exists());
        std::fs::write(dir.join("pids.max"), "").unwrap();
        write(&dir, "pids.max", "20").unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("pids.max")).unwrap(), "20");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn mkdir_all_climbs_and_is_idempotent() {
        let top = std::env::temp_dir().join(format!("berth-cg-mkdir-{}", std::process::id()));
        std::fs::create_dir_all(&top).unwrap();
        let leaf = top.join("a/b/c");
        mkdir_all(&top, &leaf).unwrap();
        assert!(leaf.is_dir());
        mkdir_all(&top, &leaf).unwrap();
        let e = remove_cgroup(&top, &top, Instant::now()).unwrap_err();
        assert!(e.to_string().starts_with("refusing to remove"), "{e}");
        assert!(remove_cgroup(&top, Path::new("/tmp"), Instant::now()).is_err());
        assert!(leaf.is_dir(), "nothing removed by a refusal");
        remove_cgroup(&top, &top.join("a"), Instant::now()).unwrap();
        assert!(!top.join("a").exists());
        remove_tree(&top.join("a"), Instant::now()).expect("missing is fine");
        std::fs::remove_dir(&top).unwrap();
        // Never climbs above the mount point.
        assert!(mkdir_all(&top, &top.join("x")).is_err());
    }
}
