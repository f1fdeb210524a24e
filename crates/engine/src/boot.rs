//! What Docker's daemon does when it starts, done by the first berth command of each
//! boot of the machine (or by `berth system boot` from a unit): containers whose
//! processes a reboot ended are recorded as exited, those their restart policy
//! brings back are started again, and `--rm` containers that did not come back are
//! removed.
//!
//! Docker's rules (moby's restore and restart manager): a container that has run
//! before is started again when its policy is `always` (even if a user had stopped
//! it), `unless-stopped` and no user stopped it, or `on-failure` and its last exit
//! code is not 0 with retries left. berth has no daemon: the state directory
//! (`/run/berth`, a tmpfs) holds `boot-id`, the kernel's boot ID of the last boot
//! reconciled; a command that finds it missing or different reconciles, once, under
//! `boot.lock`.

use std::path::Path;

use crate::Engine;
use crate::error::Result;
use crate::record::{Container, Status};

/// The kernel's ID of this boot.
fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Whether the boot reconciliation has run for this boot of the machine.
pub fn done(state: &Path) -> bool {
    std::fs::read_to_string(state.join("boot-id")).is_ok_and(|s| s.trim() == boot_id())
}

/// What the boot reconciliation did to one container.
#[derive(Debug)]
pub enum Action {
    /// Started again by its restart policy.
    Started,
    /// Removed (`--rm`, not brought back).
    Removed,
    /// Its policy brings it back but it could not be: why.
    Failed(String),
}

/// Whether container `c`, not running after a boot, is started again (moby's
/// `ShouldRestart` with `HasBeenStartedBefore`).
pub fn restarts_at_boot(c: &Container) -> bool {
    let started_before =
        !c.state.started_at.is_empty() && c.state.started_at != crate::record::ZERO_TIME;
    let p = &c.host.restart_policy;
    started_before
        && match p.name.as_str() {
            "always" => true,
            "unless-stopped" => !c.state.manual_stop,
            "on-failure" => {
                c.state.exit_code != 0
                    && (p.maximum_retry_count == 0 || c.state.restart_count < p.maximum_retry_count)
            }
            _ => false,
        }
}

/// True when `c` shares a namespace of another container (it starts after it).
fn joins_another(c: &Container) -> bool {
    [&c.host.pid_mode, &c.host.ipc_mode, &c.host.network_mode]
        .iter()
        .any(|m| m.starts_with("container:"))
}

impl Engine {
    /// Runs the boot reconciliation unless it already ran for this boot; returns what
    /// it did, by container name (`None` when it had run already).
    pub fn boot_once(&self) -> Result<Option<Vec<(String, Action)>>> {
        let state = self.state_dir();
        if done(state) {
            return Ok(None);
        }
        let _lock = crate::record::lock_file(&state.join("boot.lock"))?;
        // Another command did it while this one waited.
        if done(state) {
            return Ok(None);
        }
        let report = self.boot()?;
        crate::record::write_replace(
            &state.join("boot-id"),
            format!("{}\n", boot_id()).as_bytes(),
        )?;
        Ok(Some(report))
    }

    /// The boot reconciliation itself: every container's state checked against what
    /// runs, then the ones to bring back started (those joining another container's
    /// namespaces last), and the `--rm` ones left over removed.
    pub fn boot(&self) -> Result<Vec<(String, Action)>> {
        let mut report = Vec::new();
        let mut starts = Vec::new();
        for c in self.list()? {
            let c = self.settle_restarting(c)?;
            if matches!(c.state.status, Status::Running | Status::Removing) {
                continue;
            }
            if restarts_at_boot(&c) {
                starts.push(c);
            } else if c.host.auto_remove && self.remove(&c.id, true, true).is_ok() {
                report.push((c.name.clone(), Action::Removed));
            }
        }
        // Oldest first, and containers that join another's namespaces after the rest.
        starts.reverse();
        starts.sort_by_key(joins_another);
        for c in starts {
            let action = match self.start(&c.id, None) {
                Ok(_) => Action::Started,
                Err(e) => Action::Failed(e.to_string()),
            };
            report.push((c.name, action));
        }
        Ok(report)
    }

    /// A record left `restarting` by a monitor that is gone (the restart it waited
    /// for never came) is exited.
    fn settle_restarting(&self, c: Container) -> Result<Container> {
        if c.state.status != Status::Restarting || crate::monitor::alive(&c) {
            return Ok(c);
        }
        let (c, ()) = self.containers().update(&c.id, |c| {
            if c.state.status == Status::Restarting && !crate::monitor::alive(c) {
                c.state.status = Status::Exited;
                c.state.pid = 0;
                c.state.monitor_pid = 0;
            }
        })?;
        Ok(c)
    }
}
