//! Rootless containers: an unprivileged user runs a container in a user namespace.
//! Its cgroup is used where the host delegated one to the user; where it did not,
//! a container that asks for no limits runs without a cgroup of its own, as runc
//! does, and one that asks for limits is refused with the reason.

use std::path::PathBuf;

use oci_spec::runtime::{LinuxResources, Spec};

use crate::cgroups::{self, FreezerState, Manager, Stats};

/// Whether the runtime runs unprivileged.
pub fn is_rootless() -> bool {
    !nix::unistd::geteuid().is_root()
}

/// Whether the config asks for any resource limit (device rules do not count: an
/// unprivileged user cannot program them and the user namespace already confines
/// device access).
pub fn wants_limits(spec: &Spec) -> bool {
    let Some(r) = spec.linux().as_ref().and_then(|l| l.resources().as_ref()) else {
        return false;
    };
    r.memory().is_some()
        || r.cpu().is_some()
        || r.pids().is_some()
        || r.block_io().is_some()
        || r.hugepage_limits().as_ref().is_some_and(|h| !h.is_empty())
        || r.network().is_some()
        || r.unified().as_ref().is_some_and(|u| !u.is_empty())
}

/// The stand-in for a container without a cgroup of its own.
pub struct NoCgroup;

fn none() -> cgroups::Error {
    cgroups::Error::Other(
        "this rootless container has no cgroup of its own (the host delegated none to the user)"
            .into(),
    )
}

impl Manager for NoCgroup {
    fn create(&self) -> cgroups::Result<()> {
        Ok(())
    }
    fn apply(&self, _: &LinuxResources) -> cgroups::Result<()> {
        Err(none())
    }
    fn add_task(&self, _: i32) -> cgroups::Result<()> {
        Ok(())
    }
    fn procs(&self) -> cgroups::Result<Vec<i32>> {
        Ok(Vec::new())
    }
    fn set_freezer(&self, _: FreezerState) -> cgroups::Result<()> {
        Err(none())
    }
    fn freezer_state(&self) -> cgroups::Result<FreezerState> {
        Ok(FreezerState::Thawed)
    }
    fn stats(&self) -> cgroups::Result<Stats> {
        Err(none())
    }
    fn destroy(&self) -> cgroups::Result<()> {
        Ok(())
    }
    fn paths(&self) -> Vec<(String, PathBuf)> {
        Vec::new()
    }
}
