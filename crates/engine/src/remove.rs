//! `rm`: a stopped container's runtime state, root mount, snapshot and directory
//! go; a running one only with force (killed first).

use std::time::Duration;

use berth_image::snapshot::Snapshotter;

use crate::error::{Error, Result, io};
use crate::record::{Container, Status};
use crate::{Engine, rootfs};

impl Engine {
    /// Removes container `key`. A running container is refused unless `force`, which
    /// kills it and waits for its monitor first.
    pub fn remove(&self, key: &str, force: bool) -> Result<Container> {
        let c = self.find(key)?;
        if c.state.status == Status::Running {
            if !force {
                return Err(Error::Conflict(format!(
                    "cannot remove container \"/{}\": container is running: stop the container before removing or force remove",
                    c.name
                )));
            }
            if let Ok(rt) = self.runtime() {
                let _ = rt.kill(&c.id, libc::SIGKILL, true);
            }
            match self.wait_monitor(&c, Some(Duration::from_secs(15))) {
                Ok(_) => {}
                // --rm got there first.
                Err(Error::NoSuchContainer(_)) => return Ok(c),
                Err(e) => return Err(e),
            }
        }
        self.remove_stopped(&c.id)?;
        Ok(c)
    }

    /// Deletes everything of a container that does not run. Holding the names lock
    /// keeps a concurrent create from seeing a half-removed record.
    pub fn remove_stopped(&self, id: &str) -> Result<()> {
        let _names = self.containers().lock_names()?;
        let dir = self.dir(id);
        if !dir.exists() {
            return Err(Error::NoSuchContainer(id.to_string()));
        }
        let _ = self.containers().update(id, |c| c.state.status = Status::Removing);
        if let Ok(rt) = self.runtime() {
            match rt.delete(id, true) {
                Ok(()) | Err(berth_runtime::Error::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        rootfs::unmount(&dir.join("rootfs"))?;
        match self.snapshots().remove(id) {
            Ok(()) => {}
            Err(berth_image::Error::InvalidInput(m)) if m.contains("does not exist") => {}
            Err(e) => return Err(e.into()),
        }
        std::fs::remove_dir_all(&dir).map_err(io(format!("remove {}", dir.display())))
    }
}
