//! The container's root filesystem: mounts, /dev, pivot_root, masked and read-only
//! paths.
//!
//! Runs inside the container's init, in its new mount namespace, before the user is
//! switched. Every mount target is resolved inside the root and never follows a
//! symlink out of it.
//!
//! OWNERSHIP: this module is being written by the rootfs helper; the signatures below
//! are the contract the container init calls, in this order:
//! `prepare` -> `pivot` -> `finish`.

use std::path::PathBuf;

use oci_spec::runtime::Spec;

/// Errors from root filesystem setup.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Any failure, described for the user.
    #[error("{0}")]
    Other(String),
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
pub fn prepare(spec: &Spec, opts: &Options) -> Result<()> {
    let _ = (spec, opts);
    Err(Error::Other("rootfs: not implemented yet".into()))
}

/// Switches the root to `opts.rootfs` (pivot_root, or MS_MOVE + chroot with
/// `no_pivot`) and detaches the old root.
pub fn pivot(opts: &Options) -> Result<()> {
    let _ = opts;
    Err(Error::Other("rootfs: not implemented yet".into()))
}

/// After the pivot: masked paths, read-only paths, read-only root, final
/// rootfsPropagation, sysctls.
pub fn finish(spec: &Spec, opts: &Options) -> Result<()> {
    let _ = (spec, opts);
    Err(Error::Other("rootfs: not implemented yet".into()))
}
