//! `pause` and `resume`: freeze and thaw every process of a container.

use super::Runtime;
use crate::cgroups::FreezerState;
use crate::error::{Error, Result};
use crate::state::Status;

impl Runtime {
    /// Freezes a running container.
    pub fn pause(&self, id: &str) -> Result<()> {
        let s = self.root.load(id)?;
        match self.status(&s) {
            Status::Running | Status::Created => {}
            Status::Paused => return Err(Error::WrongState("container already paused".into())),
            _ => return Err(Error::WrongState("container not running".into())),
        }
        Ok(self.cgroup(&s)?.set_freezer(FreezerState::Frozen)?)
    }

    /// Thaws a paused container.
    pub fn resume(&self, id: &str) -> Result<()> {
        let s = self.root.load(id)?;
        if self.status(&s) != Status::Paused {
            return Err(Error::WrongState("container not paused".into()));
        }
        Ok(self.cgroup(&s)?.set_freezer(FreezerState::Thawed)?)
    }
}
