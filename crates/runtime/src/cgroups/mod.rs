//! Control groups: limits and accounting for a container's processes.
//!
//! The host may run cgroup v1 (one hierarchy per controller), v2 (one unified
//! hierarchy) or a hybrid of both (v1 controllers plus an empty v2 hierarchy, usually
//! at /sys/fs/cgroup/unified). [`detect`] tells which at run time and [`new_manager`]
//! returns the matching [`Manager`]; everything above this module speaks only the
//! trait.
//!
//! OWNERSHIP: this module is being written by the cgroups helper; the signatures
//! below are the contract the rest of the runtime calls.

use std::path::PathBuf;

use oci_spec::runtime::LinuxResources;

/// Errors from cgroup operations. Messages name the file, the value and what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Any failure, described for the user.
    #[error("{0}")]
    Other(String),
}

/// Result alias for this module.
pub type Result<T> = std::result::Result<T, Error>;

/// The cgroup layout of the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// cgroup v1 only.
    V1,
    /// cgroup v2 only (unified).
    V2,
    /// v1 controllers with a v2 hierarchy beside them.
    Hybrid,
}

/// Freezer state of a cgroup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FreezerState {
    /// Processes run.
    Thawed,
    /// Processes are frozen.
    Frozen,
}

/// The resource statistics `events --stats` reports, in runc's JSON shape.
pub type Stats = serde_json::Value;

/// A container's cgroup on this host.
pub trait Manager {
    /// Creates the cgroup directories (idempotent: existing ones are reused).
    fn create(&self) -> Result<()>;
    /// Writes every limit `resources` sets. Used at create and by `update`.
    /// A value the kernel refuses is an error naming the limit and the value.
    fn apply(&self, resources: &LinuxResources) -> Result<()>;
    /// Moves `pid` into the cgroup (all hierarchies on v1/hybrid).
    fn add_task(&self, pid: i32) -> Result<()>;
    /// Pids of all processes in the cgroup (recursively).
    fn procs(&self) -> Result<Vec<i32>>;
    /// Freezes or thaws the cgroup and waits until the kernel reports the new state.
    fn set_freezer(&self, state: FreezerState) -> Result<()>;
    /// The current freezer state.
    fn freezer_state(&self) -> Result<FreezerState>;
    /// Statistics for `events --stats`.
    fn stats(&self) -> Result<Stats>;
    /// Removes the cgroup directories (after the processes have gone); retries
    /// briefly on EBUSY. Missing directories are not an error.
    fn destroy(&self) -> Result<()>;
    /// The directory of this cgroup in each mounted hierarchy, keyed by controller
    /// name ("" for the v2 unified hierarchy).
    fn paths(&self) -> Vec<(String, PathBuf)>;
}

/// Detects the host's cgroup layout from /proc/self/mountinfo.
pub fn detect() -> Result<Layout> {
    Err(Error::Other("cgroups: not implemented yet".into()))
}

/// Returns the manager for a container. `cgroups_path` is the config's
/// `linux.cgroupsPath`: absolute paths are relative to each hierarchy's root,
/// relative paths are relative to the runtime's own cgroup, and with
/// `systemd_driver` the form `slice:prefix:name` maps to `/slice/prefix-name.scope`.
/// When absent, the path is `/<id>` (runc's default for cgroupfs).
pub fn new_manager(
    cgroups_path: Option<&std::path::Path>,
    id: &str,
    systemd_driver: bool,
) -> Result<Box<dyn Manager>> {
    let _ = (cgroups_path, id, systemd_driver);
    Err(Error::Other("cgroups: not implemented yet".into()))
}
