//! Control groups: limits and accounting for a container's processes.
//!
//! The host may run cgroup v1 (one hierarchy per controller), v2 (one unified
//! hierarchy) or a hybrid of both (v1 controllers plus an empty v2 hierarchy, usually
//! at /sys/fs/cgroup/unified). [`detect`] tells which at run time and [`new_manager`]
//! returns the matching [`Manager`]; everything above this module speaks only the
//! trait.
//!
//! The order the runtime calls a manager in: [`new_manager`], [`Manager::create`],
//! [`Manager::apply`] (limits in place before anything runs), then
//! [`Manager::add_task`] with the container's first process, before that process
//! unshares its cgroup namespace (so the namespace's root is the container's cgroup).
//!
//! Files: `detect` (mountinfo, /proc/self/cgroup), `path` (cgroupsPath semantics),
//! `fs` (traced reads and writes), `v1` and `v2` (the two managers), `devices` (rule
//! checking), `devices_bpf` and `bpf_sys` (the v2 device program), `stats`.

mod bpf_sys;
pub(crate) mod detect;
mod devices;
mod devices_bpf;
mod fs;
mod path;
mod stats;
mod v1;
mod v2;

use std::io;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxRdma, LinuxResources};

/// Errors from cgroup operations. Messages name the file, the value and what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The kernel refused a value.
    #[error(
        "cgroup {file}: cannot set {value} in {}: {}{}",
        .dir.display(),
        fs::errno_text(.source),
        fs::write_hint(.file, .source)
    )]
    Write {
        /// The cgroup file, such as memory.max.
        file: String,
        /// The value written.
        value: String,
        /// The cgroup directory.
        dir: PathBuf,
        /// What the kernel said.
        source: io::Error,
    },
    /// A read, mkdir or open failed.
    #[error("{what}: {}", fs::errno_text(.source))]
    Io {
        /// What was being done, with the path.
        what: String,
        /// The cause.
        source: io::Error,
    },
    /// A cgroup directory could not be removed.
    #[error(
        "cannot remove cgroup {}: {}{}",
        .dir.display(),
        fs::errno_text(.source),
        if .source.raw_os_error() == Some(libc::EBUSY) { " (processes are still in it)" } else { "" }
    )]
    Remove {
        /// The directory.
        dir: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// A bpf(2) step of v2 device control failed.
    #[error(
        "cannot {what}: {}{}",
        fs::errno_text(.source),
        if .log.is_empty() { String::new() } else { format!("; verifier says: {}", .log) }
    )]
    Bpf {
        /// The step.
        what: String,
        /// The cause.
        source: io::Error,
        /// The verifier's log, when loading failed.
        log: String,
    },
    /// The configuration asks for something this host or cgroup version cannot do.
    #[error("{0}")]
    Config(String),
    /// Any other failure, described for the user.
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
    /// The directory to open for clone3(2) with `CLONE_INTO_CGROUP`, when a process
    /// born there is fully placed (pure v2 only; v1 hierarchies need their
    /// cgroup.procs writes). Such a process needs no [`Manager::add_task`], and its
    /// start skips the cgroup migration, whose first write after a quiet moment waits
    /// for an RCU grace period (10-16 ms measured on the build hosts).
    fn clone_into_dir(&self) -> Option<PathBuf> {
        None
    }
}

/// Detects the host's cgroup layout from /proc/self/mountinfo.
pub fn detect() -> Result<Layout> {
    detect::Mounts::read()?.layout()
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
    let path = path::from_config(cgroups_path, id, systemd_driver)?;
    // Read once here; the manager keeps the directories it derives from them.
    let mounts = detect::Mounts::read()?;
    let layout = mounts.layout()?;
    let own = match path {
        path::CgroupPath::Relative(_) => Some(detect::OwnCgroups::read()?),
        path::CgroupPath::Absolute(_) => None,
    };
    Ok(match (layout, &mounts.v2) {
        (Layout::V2, Some(v2)) => Box::new(v2::V2Manager::new(v2, own.as_ref(), &path)),
        _ => Box::new(v1::V1Manager::new(
            &mounts,
            own.as_ref(),
            &path,
            layout == Layout::Hybrid,
        )),
    })
}

/// A v2 manager for the cgroup `cgroup` (absolute, "/a/b") in the unified hierarchy
/// mounted at `mount_point`, whatever the host's layout. On a hybrid host this drives
/// the unified hierarchy alone: freezing with cgroup.freeze, device filtering with
/// eBPF and whatever controllers are bound there.
pub fn new_unified_manager(mount_point: &Path, cgroup: &str) -> Result<Box<dyn Manager>> {
    let path = path::from_config(Some(Path::new(cgroup)), "", false)?;
    if !matches!(path, path::CgroupPath::Absolute(_)) {
        return Err(Error::Config(format!(
            "cgroup {cgroup:?} must be an absolute path"
        )));
    }
    let mount = detect::V2Mount {
        mount_point: mount_point.to_path_buf(),
        root: "/".into(),
    };
    Ok(Box::new(v2::V2Manager::new(&mount, None, &path)))
}

/// Checks a hugepage size as the runtime spec writes it ("2MB", "1GB") before it
/// becomes part of a file name.
fn check_page_size(size: &str) -> Result<&str> {
    let digits = size.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &size[digits.len()..];
    if digits.is_empty()
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || !matches!(unit, "KB" | "MB" | "GB")
    {
        return Err(Error::Config(format!(
            "hugepage size {size:?} is invalid: use a number with KB, MB or GB, such as 2MB"
        )));
    }
    Ok(size)
}

/// One line of rdma.max: `device hca_handle=N hca_object=M`, "max" where unset.
fn rdma_line(device: &str, l: &LinuxRdma) -> String {
    let n = |v: Option<u32>| v.map_or_else(|| "max".to_owned(), |v| v.to_string());
    format!(
        "{device} hca_handle={} hca_object={}",
        n(l.hca_handles()),
        n(l.hca_objects())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes() {
        assert!(check_page_size("2MB").is_ok());
        assert!(check_page_size("1GB").is_ok());
        assert!(check_page_size("../x").is_err());
        assert!(check_page_size("MB").is_err());
        assert!(check_page_size("2mb").is_err());
    }

    #[test]
    fn rdma_rendering() {
        let l = oci_spec::runtime::LinuxRdmaBuilder::default()
            .hca_handles(2u32)
            .build()
            .unwrap();
        assert_eq!(
            rdma_line("mlx4_0", &l),
            "mlx4_0 hca_handle=2 hca_object=max"
        );
    }
}
