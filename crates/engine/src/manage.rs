//! `pause`, `unpause`, `rename`, `restart` and `top`: what changes a container
//! without creating or removing it.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::record::{Container, Status};
use crate::{Engine, names};

impl Engine {
    fn running(&self, key: &str) -> Result<Container> {
        let c = self.find(key)?;
        if c.state.status != Status::Running {
            return Err(Error::Conflict(format!("Container {} is not running", c.id)));
        }
        Ok(c)
    }

    /// Freezes every process of container `key` (its cgroup's freezer).
    pub fn pause(&self, key: &str) -> Result<Container> {
        let c = self.running(key)?;
        if c.state.paused {
            return Err(Error::Conflict(format!("Container {} is already paused", c.id)));
        }
        self.runtime()?.pause(&c.id)?;
        Ok(self.containers().update(&c.id, |c| c.state.paused = true)?.0)
    }

    /// Thaws a paused container.
    pub fn unpause(&self, key: &str) -> Result<Container> {
        let c = self.running(key)?;
        if !c.state.paused {
            return Err(Error::Conflict(format!("Container {} is not paused", c.id)));
        }
        self.runtime()?.resume(&c.id)?;
        Ok(self.containers().update(&c.id, |c| c.state.paused = false)?.0)
    }

    /// Gives container `key` the name `new`, which must be free.
    pub fn rename(&self, key: &str, new: &str) -> Result<Container> {
        let new = new.strip_prefix('/').unwrap_or(new);
        names::validate(new)?;
        let _names = self.containers().lock_names()?;
        let c = self.find(key)?;
        if c.name == new {
            return Err(Error::Conflict(format!(
                "Renaming a container with the same name as its current name"
            )));
        }
        if let Some(other) = self.containers().all()?.into_iter().find(|o| o.name == new) {
            return Err(Error::Conflict(format!(
                "Conflict. The container name \"/{new}\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.",
                other.id
            )));
        }
        Ok(self.containers().update(&c.id, |c| c.name = new.to_string())?.0)
    }

    /// Stops (waiting `timeout` seconds before SIGKILL) and starts container `key`.
    pub fn restart(&self, key: &str, timeout: Option<u32>) -> Result<Container> {
        let c = self.stop(key, timeout)?;
        // The monitor of the run that ended must be gone before a new one starts.
        let c = self.wait_monitor(&c, Some(Duration::from_secs(10)))?;
        Ok(self.start(&c.id, None)?.0)
    }

    /// The host pids of container `key`'s processes.
    pub fn pids(&self, key: &str) -> Result<Vec<i32>> {
        let c = self.running(key)?;
        Ok(self.runtime()?.pids(&c.id)?)
    }
}
