//! The container's root filesystem: mounts, /dev, pivot_root, masked and read-only
//! paths.
//!
//! Runs inside the container's init, in its new mount namespace, before the user is
//! switched. The init calls, in this order: [`prepare`] (still seeing the host's
//! tree), [`pivot`], then [`finish`] (inside the new root, whose `/proc` must be
//! mounted by then for masked paths and sysctls).
//!
//! Every mount target, device node and masked path is resolved inside the root and
//! never follows a symlink out of it (the `paths` module says how); mounts are done
//! on `/proc/self/fd/<fd>` of the resolved target.
//!
//! One file per concern: `options` (OCI option strings to flags), `paths` (in-root
//! resolution), `mounts` (one spec mount), `cgroup` (the cgroup mount types),
//! `devices` (/dev), `propagation` (rootfsPropagation), `pivot`, `masked` (masked
//! and read-only paths, read-only root), `sysctl`, and `sys`, the only place that
//! calls the kernel.

mod cgroup;
mod copyup;
mod devices;
mod masked;
mod mounts;
mod options;
mod paths;
mod pivot;
mod propagation;
mod sys;
mod sysctl;

use std::io;
use std::os::fd::AsFd;
use std::path::PathBuf;

use oci_spec::runtime::Spec;
use rustix::fs::OFlags;

/// Errors from root filesystem setup.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A mount failed: `mount proc on /proc (nosuid,noexec,nodev): operation not
    /// permitted`.
    #[error("mount {what} on {target}{}: {}", paren(.options), errstr(.source))]
    Mount {
        /// The source (a path for binds) or the filesystem type.
        what: String,
        /// The target, as a path in the container (or on the host before pivot).
        target: String,
        /// The options as written in the configuration, comma-joined.
        options: String,
        /// What the kernel said.
        source: io::Error,
    },
    /// Another kernel step on a path failed: `mknod /dev/fuse: ...`.
    #[error("{op} {path}: {}", errstr(.source))]
    Path {
        /// What was being done.
        op: String,
        /// On what.
        path: String,
        /// What the kernel said.
        source: io::Error,
    },
    /// A sysctl could not be set.
    #[error("sysctl {key}={value}: {}", errstr(.source))]
    Sysctl {
        /// The key as written in the configuration (`net.ipv4.ip_forward`).
        key: String,
        /// The value that was to be written.
        value: String,
        /// What the kernel said.
        source: io::Error,
    },
    /// The configuration asks for something that cannot be done.
    #[error("{0}")]
    Invalid(String),
    /// Any other failure, described for the user.
    #[error("{0}")]
    Other(String),
}

impl Error {
    fn path(op: impl Into<String>, path: impl Into<String>) -> impl FnOnce(io::Error) -> Error {
        let (op, path) = (op.into(), path.into());
        move |source| Error::Path { op, path, source }
    }
}

/// One traced kernel step (`--explain`), its failure shown the way berth's errors
/// read rather than as Rust's `Os { .. }` text.
fn step<T>(what: impl FnOnce() -> String, f: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
    crate::explain::step(what, || f().map_err(Kernel)).map_err(|k| k.0)
}

/// An errno on its way through the trace.
struct Kernel(io::Error);

impl std::fmt::Display for Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&errstr(&self.0))
    }
}

/// `" (a,b)"`, or nothing for no options.
fn paren(options: &str) -> String {
    if options.is_empty() {
        String::new()
    } else {
        format!(" ({options})")
    }
}

/// The kernel's message for an error, lowercase and without Rust's
/// `(os error N)` suffix, so errors read like the rest of berth's.
fn errstr(e: &io::Error) -> String {
    let s = e.to_string();
    let s = s.rfind(" (os error ").map_or(s.as_str(), |i| &s[..i]);
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Result alias for this module.
pub type Result<T> = std::result::Result<T, Error>;

/// What the root filesystem setup needs to know beyond the spec.
#[derive(Debug, Clone)]
pub struct Options {
    /// Absolute path of the root filesystem on the host.
    pub rootfs: PathBuf,
    /// Absolute path of the bundle (relative mount sources are resolved against it).
    pub bundle: PathBuf,
    /// `--no-pivot`: use MS_MOVE + chroot instead of pivot_root.
    pub no_pivot: bool,
    /// The container has its own user namespace (device nodes must be bind mounts).
    pub user_ns: bool,
    /// The container has its own cgroup namespace (cgroup mounts show its subtree).
    pub cgroup_ns: bool,
}

/// Sets mount propagation, makes the rootfs a mount point, performs every mount in
/// the spec (bind/rbind with flags, proc, sysfs, tmpfs, devpts, mqueue, cgroup,
/// cgroup2), populates /dev (default devices, the config's devices, /dev/pts,
/// /dev/ptmx, /dev/shm, fd/stdin/stdout/stderr links).
///
/// Needs: the calling process alone in a new mount namespace, root in its user
/// namespace, placed in its cgroup (cgroup mounts show the cgroup it is in). The
/// umask is set to 0 while device nodes are made and restored afterwards.
pub fn prepare(spec: &Spec, opts: &Options) -> Result<()> {
    prepare_with(spec, opts, &mut || Ok(()))
}

/// [`prepare`], calling `before_cgroup` once before the first `cgroup`/`cgroup2`
/// mount. The container's init is moved into its cgroup concurrently with the other
/// mounts (the move waits for an RCU grace period); a cgroup mount shows the cgroup
/// the process is in, so it must wait for the move to finish.
pub fn prepare_with(
    spec: &Spec,
    opts: &Options,
    before_cgroup: &mut dyn FnMut() -> Result<()>,
) -> Result<()> {
    if !opts.rootfs.is_absolute() {
        return Err(Error::Invalid(format!(
            "rootfs {} is not an absolute path",
            opts.rootfs.display()
        )));
    }
    let flags = propagation::root_flags(spec)?;
    propagation::prepare_root(&opts.rootfs, flags)?;
    // Opened only now: a descriptor taken before the self-bind would refer to the
    // directory under the new mount, and mounts made through it would be hidden.
    let root = sys::open(&opts.rootfs, OFlags::PATH | OFlags::DIRECTORY).map_err(Error::path(
        "open rootfs",
        opts.rootfs.display().to_string(),
    ))?;
    let empty = Vec::new();
    let spec_mounts = spec.mounts().as_ref().unwrap_or(&empty);
    let mut waited = false;
    for m in spec_mounts {
        if !waited && matches!(m.typ().as_deref(), Some("cgroup") | Some("cgroup2")) {
            before_cgroup()?;
            waited = true;
        }
        mounts::mount(root.as_fd(), m, opts)?;
    }
    devices::setup(root.as_fd(), spec, opts)
}

/// Switches the root to `opts.rootfs` (pivot_root, or MS_MOVE + chroot with
/// `no_pivot`) and detaches the old root. Leaves the working directory at `/`.
pub fn pivot(opts: &Options) -> Result<()> {
    if opts.no_pivot {
        pivot::move_root(&opts.rootfs)
    } else {
        pivot::pivot_root(&opts.rootfs)
    }
}

/// After the pivot: sysctls (first, since /proc/sys is about to become read-only),
/// read-only paths, masked paths, read-only root, final rootfsPropagation.
pub fn finish(spec: &Spec, opts: &Options) -> Result<()> {
    let _ = opts;
    if let Some(linux) = spec.linux() {
        if let Some(sysctls) = linux.sysctl() {
            sysctl::apply(sysctls)?;
        }
        let ro = linux.readonly_paths().as_deref().unwrap_or_default();
        let masked_paths = linux.masked_paths().as_deref().unwrap_or_default();
        if !ro.is_empty() || !masked_paths.is_empty() {
            let root = sys::open(std::path::Path::new("/"), OFlags::PATH | OFlags::DIRECTORY)
                .map_err(Error::path("open", "/"))?;
            for p in ro {
                masked::readonly_path(root.as_fd(), p)?;
            }
            masked::mask_paths(root.as_fd(), masked_paths)?;
        }
    }
    if spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false)
    {
        masked::readonly_root()?;
    }
    propagation::finish_root(propagation::root_flags(spec)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_read_lowercase_with_what_and_where() {
        let e = Error::Mount {
            what: "proc".into(),
            target: "/proc".into(),
            options: "nosuid,noexec,nodev".into(),
            source: io::Error::from_raw_os_error(libc::EPERM),
        };
        assert_eq!(
            e.to_string(),
            "mount proc on /proc (nosuid,noexec,nodev): operation not permitted"
        );
        let e = Error::Sysctl {
            key: "net.ipv4.ip_forward".into(),
            value: "1".into(),
            source: io::Error::from_raw_os_error(libc::EROFS),
        };
        assert_eq!(
            e.to_string(),
            "sysctl net.ipv4.ip_forward=1: read-only file system"
        );
        let e = Error::path("mknod", "/dev/fuse")(io::Error::from_raw_os_error(libc::ENOENT));
        assert_eq!(e.to_string(), "mknod /dev/fuse: no such file or directory");
    }
}
