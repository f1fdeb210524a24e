//! /dev: the default device nodes, the configuration's `linux.devices`, the
//! /dev/ptmx link to the container's own devpts, and the fd/stdin/stdout/stderr
//! (and core) links.
//!
//! Skipped entirely when the configuration bind-mounts something over /dev (the
//! user brought their own /dev), as runc does. The /dev/pts and /dev/shm mounts
//! are ordinary spec mounts, done before this.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxDeviceType, Spec};
use rustix::fs::{FileType, OFlags};

use super::mounts::Call;
use super::{Error, Options, Result, options, paths, sys};

/// A device node to create.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Node {
    /// Path in the container, cleaned (`dev/null`).
    rel: PathBuf,
    kind: FileType,
    major: u32,
    minor: u32,
    mode: u32,
    uid: u32,
    gid: u32,
}

/// The nodes every container gets (OCI runtime spec, "Default Devices").
const DEFAULTS: [(&str, u32, u32); 6] = [
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

/// Links made in /dev, `(name, target)`.
const LINKS: [(&str, &str); 4] = [
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
];

/// Populates the container's /dev.
pub(crate) fn setup(root: BorrowedFd<'_>, spec: &Spec, opts: &Options) -> Result<()> {
    let own_dev = spec.mounts().iter().flatten().any(|m| {
        paths::clean(m.destination()) == Path::new("dev")
            && (m.typ().as_deref() == Some("bind")
                || options::parse(m.options().as_deref().unwrap_or_default()).is_bind())
    });
    if own_dev {
        return Ok(());
    }
    let nodes = nodes(spec)?;
    let dev = paths::mkdir_all(root, Path::new("dev")).map_err(Error::path("create", "/dev"))?;
    // Exact modes: the configuration's fileMode is what the node gets.
    let old = sys::umask(0);
    let r = nodes
        .iter()
        .try_for_each(|n| make_node(root, dev.as_fd(), n, opts.user_ns));
    sys::umask(old);
    r?;
    links(dev.as_fd())
}

/// The configuration's devices followed by the defaults it does not redefine.
fn nodes(spec: &Spec) -> Result<Vec<Node>> {
    let mut out = Vec::new();
    let configured = spec.linux().as_ref().and_then(|l| l.devices().as_ref());
    for d in configured.into_iter().flatten() {
        let rel = paths::clean(d.path());
        let shown = paths::display(&rel);
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => FileType::CharacterDevice,
            LinuxDeviceType::B => FileType::BlockDevice,
            LinuxDeviceType::P => FileType::Fifo,
            LinuxDeviceType::A => {
                return Err(Error::Invalid(format!(
                    "device {shown}: type \"a\" is for cgroup rules, not a node type"
                )));
            }
        };
        if rel.as_os_str().is_empty() {
            return Err(Error::Invalid(format!(
                "device path {:?} names no file",
                d.path()
            )));
        }
        let num = |v: i64, what: &str| {
            u32::try_from(v)
                .map_err(|_| Error::Invalid(format!("device {shown}: {what} {v} out of range")))
        };
        out.push(Node {
            rel,
            kind,
            major: num(d.major(), "major")?,
            minor: num(d.minor(), "minor")?,
            mode: d.file_mode().unwrap_or(0o666) & 0o7777,
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        });
    }
    for (name, major, minor) in DEFAULTS {
        let rel = Path::new("dev").join(name);
        if !out.iter().any(|n| n.rel == rel) {
            out.push(Node {
                rel,
                kind: FileType::CharacterDevice,
                major,
                minor,
                mode: 0o666,
                uid: 0,
                gid: 0,
            });
        }
    }
    Ok(out)
}

fn type_char(k: FileType) -> char {
    match k {
        FileType::BlockDevice => 'b',
        FileType::Fifo => 'p',
        _ => 'c',
    }
}

/// Creates one node: mknod, or in a user namespace (where mknod is refused) an
/// empty file with the host's node bind-mounted onto it.
fn make_node(root: BorrowedFd<'_>, dev: BorrowedFd<'_>, n: &Node, user_ns: bool) -> Result<()> {
    let shown = paths::display(&n.rel);
    let (parent, name) = paths::split(&n.rel).map_err(Error::path("create", shown.as_str()))?;
    // Nodes directly in /dev (all defaults, most configured ones) reuse its
    // descriptor; others get their directory resolved in the root.
    let owned: Option<OwnedFd>;
    let dir = if parent == Path::new("dev") {
        dev
    } else {
        owned = Some(
            paths::mkdir_all(root, parent)
                .map_err(Error::path("create", paths::display(parent)))?,
        );
        owned.as_ref().map(|f| f.as_fd()).unwrap_or(dev)
    };
    if user_ns {
        let file = match sys::openat_nofollow(dir, name, OFlags::CREATE | OFlags::RDONLY, 0) {
            Err(e) if sys::errno(&e) == libc::EEXIST => paths::open(root, &n.rel),
            r => r,
        }
        .map_err(Error::path("create", shown.as_str()))?;
        let host = Path::new("/").join(&n.rel);
        let what = host.display().to_string();
        return Call {
            what: &what,
            source: Some(&host),
            target: &shown,
            fstype: None,
            flags: nix::mount::MsFlags::MS_BIND,
            data: None,
            options: "bind",
        }
        .on(file.as_fd());
    }
    let made = super::step(
        || {
            format!(
                "mknod {shown} {} {}:{} {:04o}",
                type_char(n.kind),
                n.major,
                n.minor,
                n.mode
            )
        },
        || sys::mknodat(dir, name, n.kind, n.mode, n.major, n.minor),
    );
    match made {
        Ok(()) => {}
        // Already there (the rootfs has its own /dev and no tmpfs over it): kept,
        // as runc does.
        Err(e) if sys::errno(&e) == libc::EEXIST => return Ok(()),
        Err(e) => return Err(Error::path("mknod", shown)(e)),
    }
    if n.uid != 0 || n.gid != 0 {
        super::step(
            || format!("chown {shown} {}:{}", n.uid, n.gid),
            || sys::chownat(dir, name, n.uid, n.gid),
        )
        .map_err(Error::path("chown", shown))?;
    }
    Ok(())
}

/// /dev/ptmx -> pts/ptmx (the container's own devpts instance), the standard
/// fd links, and /dev/core when the host has /proc/kcore.
fn links(dev: BorrowedFd<'_>) -> Result<()> {
    super::step(
        || "symlink /dev/ptmx -> pts/ptmx".to_string(),
        || {
            match sys::unlinkat(dev, Path::new("ptmx")) {
                Err(e) if sys::errno(&e) != libc::ENOENT => return Err(e),
                _ => {}
            }
            sys::symlinkat(Path::new("pts/ptmx"), dev, Path::new("ptmx"))
        },
    )
    .map_err(Error::path("symlink", "/dev/ptmx"))?;
    let core = sys::exists(Path::new("/proc/kcore")).then_some(("core", "/proc/kcore"));
    for (name, target) in LINKS.into_iter().chain(core) {
        super::step(
            || format!("symlink /dev/{name} -> {target}"),
            || match sys::symlinkat(Path::new(target), dev, Path::new(name)) {
                Err(e) if sys::errno(&e) == libc::EEXIST => Ok(()),
                r => r,
            },
        )
        .map_err(Error::path("symlink", format!("/dev/{name}")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_with_devices(json: &str) -> Spec {
        let s = format!(r#"{{"ociVersion":"1.0.2","linux":{{"devices":{json}}}}}"#);
        serde_json::from_str(&s).unwrap()
    }

    #[test]
    fn defaults_follow_configured_devices_without_duplicates() {
        let spec = spec_with_devices(
            r#"[{"path":"/dev/fuse","type":"c","major":10,"minor":229,"fileMode":8630,"uid":0,"gid":0},
                {"path":"/dev/null","type":"c","major":1,"minor":3,"fileMode":438,"uid":5,"gid":5}]"#,
        );
        let n = nodes(&spec).unwrap();
        let names: Vec<_> = n
            .iter()
            .map(|n| n.rel.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "dev/fuse",
                "dev/null",
                "dev/zero",
                "dev/full",
                "dev/random",
                "dev/urandom",
                "dev/tty"
            ]
        );
        // 8630 = 0o20666: the type bits are dropped, the permission bits kept.
        assert_eq!(n[0].mode, 0o666);
        assert_eq!((n[1].uid, n[1].gid), (5, 5));
        assert_eq!((n[6].major, n[6].minor), (5, 0));
    }

    #[test]
    fn rejects_type_a_and_bad_numbers() {
        let spec = spec_with_devices(r#"[{"path":"/dev/x","type":"a","major":1,"minor":1}]"#);
        assert!(nodes(&spec).unwrap_err().to_string().contains("/dev/x"));
        let spec = spec_with_devices(r#"[{"path":"/dev/x","type":"c","major":-1,"minor":1}]"#);
        assert!(nodes(&spec).unwrap_err().to_string().contains("major -1"));
    }

    #[test]
    fn device_paths_are_cleaned() {
        let spec = spec_with_devices(
            r#"[{"path":"/dev/../../dev/./kvm","type":"c","major":10,"minor":232}]"#,
        );
        assert_eq!(nodes(&spec).unwrap()[0].rel, PathBuf::from("dev/kvm"));
    }
}
