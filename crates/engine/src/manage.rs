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
            return Err(Error::Conflict(format!(
                "Container {} is not running",
                c.id
            )));
        }
        Ok(c)
    }

    /// Freezes every process of container `key` (its cgroup's freezer).
    pub fn pause(&self, key: &str) -> Result<Container> {
        let c = self.running(key)?;
        if c.state.paused {
            return Err(Error::Conflict(format!(
                "Container {} is already paused",
                c.id
            )));
        }
        self.runtime()?.pause(&c.id)?;
        Ok(self
            .containers()
            .update(&c.id, |c| c.state.paused = true)?
            .0)
    }

    /// Thaws a paused container.
    pub fn unpause(&self, key: &str) -> Result<Container> {
        let c = self.running(key)?;
        if !c.state.paused {
            return Err(Error::Conflict(format!("Container {} is not paused", c.id)));
        }
        self.runtime()?.resume(&c.id)?;
        Ok(self
            .containers()
            .update(&c.id, |c| c.state.paused = false)?
            .0)
    }

    /// Gives container `key` the name `new`, which must be free.
    pub fn rename(&self, key: &str, new: &str) -> Result<Container> {
        let new = new.strip_prefix('/').unwrap_or(new);
        names::validate(new)?;
        let _names = self.containers().lock_names()?;
        let c = self.find(key)?;
        if c.name == new {
            return Err(Error::Conflict(
                "Renaming a container with the same name as its current name".into(),
            ));
        }
        if let Some(other) = self.containers().all()?.into_iter().find(|o| o.name == new) {
            return Err(names::in_use(new, &other.id));
        }
        Ok(self
            .containers()
            .update(&c.id, |c| c.name = new.to_string())?
            .0)
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

/// What `update` changes; `None` leaves a setting as it is.
#[derive(Clone, Debug, Default)]
pub struct UpdateOptions {
    /// `-m` in bytes.
    pub memory: Option<i64>,
    /// `--memory-swap` in bytes (-1 unlimited).
    pub memory_swap: Option<i64>,
    /// `--cpus` in billionths.
    pub nano_cpus: Option<i64>,
    /// `--cpu-shares`.
    pub cpu_shares: Option<u64>,
    /// `--cpuset-cpus`.
    pub cpuset_cpus: Option<String>,
    /// `--pids-limit` (0 or less: unlimited).
    pub pids_limit: Option<i64>,
    /// `--restart`.
    pub restart: Option<crate::record::RestartPolicy>,
}

impl Engine {
    /// Changes container `key`'s limits (in its record, and in its cgroup while it
    /// runs) and restart policy.
    pub fn update(&self, key: &str, o: &UpdateOptions) -> Result<Container> {
        let c = self.find(key)?;
        if c.host.auto_remove
            && o.restart
                .as_ref()
                .is_some_and(|r| !matches!(r.name.as_str(), "" | "no"))
        {
            return Err(Error::InvalidArgument(
                "Restart policy cannot be updated because AutoRemove is enabled for the container"
                    .into(),
            ));
        }
        let (c, ()) = self.containers().update(&c.id, |c| {
            if let Some(m) = o.memory {
                c.host.memory = m;
            }
            if let Some(s) = o.memory_swap {
                c.host.memory_swap = s;
            }
            if let Some(n) = o.nano_cpus {
                c.host.nano_cpus = n;
            }
            if let Some(s) = o.cpu_shares {
                c.host.cpu_shares = s;
            }
            if let Some(s) = &o.cpuset_cpus {
                c.host.cpuset_cpus = s.clone();
            }
            if let Some(p) = o.pids_limit {
                c.host.pids_limit = p.max(0);
            }
            if let Some(r) = &o.restart {
                c.host.restart_policy = r.clone();
            }
        })?;
        if c.state.status == Status::Running {
            let mut r = serde_json::json!({});
            if o.memory.is_some() || o.memory_swap.is_some() {
                let swap = match c.host.memory_swap {
                    0 if c.host.memory > 0 => c.host.memory * 2,
                    0 => -1,
                    s => s,
                };
                r["memory"] = serde_json::json!({"limit": if c.host.memory > 0 { c.host.memory } else { -1 }, "swap": swap});
            }
            if o.nano_cpus.is_some() {
                let quota = if c.host.nano_cpus > 0 {
                    c.host.nano_cpus * 100_000 / 1_000_000_000
                } else {
                    -1
                };
                r["cpu"]["quota"] = serde_json::json!(quota);
                r["cpu"]["period"] = serde_json::json!(100_000);
            }
            if let Some(s) = o.cpu_shares {
                r["cpu"]["shares"] = serde_json::json!(s);
            }
            if let Some(s) = &o.cpuset_cpus {
                r["cpu"]["cpus"] = serde_json::json!(s);
            }
            if o.pids_limit.is_some() {
                r["pids"] = serde_json::json!({"limit": if c.host.pids_limit > 0 { c.host.pids_limit } else { -1 }});
            }
            let resources: oci_spec::runtime::LinuxResources = serde_json::from_value(r)
                .map_err(|e| Error::InvalidArgument(format!("invalid resources: {e}")))?;
            self.runtime()?.update(&c.id, &resources)?;
        }
        Ok(c)
    }
}
