//! `events`: resource statistics of a container, once or at an interval.

use super::Runtime;
use crate::error::{Error, Result};
use crate::state::Status;

impl Runtime {
    /// One `stats` event for container `id`, in runc's JSON shape.
    pub fn stats_event(&self, id: &str) -> Result<serde_json::Value> {
        let s = self.root.load(id)?;
        if self.status(&s) == Status::Stopped {
            return Err(Error::WrongState(format!("container with id {id} is not running")));
        }
        let data = self.cgroup(&s)?.stats()?;
        Ok(serde_json::json!({"type": "stats", "id": id, "data": data}))
    }
}
