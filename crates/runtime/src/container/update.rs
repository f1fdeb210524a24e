//! `update`: changes the resource limits of a running container.

use oci_spec::runtime::LinuxResources;

use super::Runtime;
use crate::error::{Error, Result};
use crate::state::Status;

impl Runtime {
    /// Applies `resources` to container `id`'s cgroup.
    pub fn update(&self, id: &str, resources: &LinuxResources) -> Result<()> {
        let s = self.root.load(id)?;
        if self.status(&s) == Status::Stopped {
            return Err(Error::WrongState("container not running".into()));
        }
        Ok(self.cgroup(&s)?.apply(resources)?)
    }
}
