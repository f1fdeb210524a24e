//! `start`: mounts a container's root, writes its OCI bundle and hands it to a new
//! monitor, which runs it.

use crate::error::{Error, Result};
use crate::monitor::{self, Attach, Handle, Report};
use crate::record::{Container, Status, write_replace};
use crate::{Engine, etc_files, rootfs, spec, user};

impl Engine {
    /// Writes what the runtime needs to run `c`: the root mounted, the working
    /// directory present, hostname/hosts/resolv.conf, config.json.
    fn prepare_bundle(&self, c: &Container) -> Result<()> {
        let dir = self.dir(&c.id);
        let root = dir.join("rootfs");
        rootfs::mount(&self.snapshots(), &c.id, &root)?;
        let u = user::resolve_in_root(&c.config.user, &root)?;
        for m in c.mounts.iter().filter(|m| m.kind == "volume") {
            self.seed_volume(&root, &m.destination, &m.source, &m.mode)?;
        }
        if !c.config.working_dir.is_empty() {
            rootfs::mkdir_in_root(&root, &c.config.working_dir)?;
        }
        etc_files::write(c, &dir)?;
        let mut shared_pid = std::collections::BTreeMap::new();
        for mode in [&c.host.pid_mode, &c.host.ipc_mode, &c.host.network_mode] {
            if let Some(other) = mode.strip_prefix("container:") {
                let o = self.find(other)?;
                if o.state.status != Status::Running {
                    return Err(Error::Conflict(format!(
                        "cannot join container {other}: container {other} is not running"
                    )));
                }
                shared_pid.insert(o.id.clone(), o.state.pid);
            }
        }
        let config = spec::generate(
            c,
            &u,
            &spec::Paths {
                rootfs: &root,
                dir: &dir,
                shared_pid,
                init: match c.host.init {
                    Some(true) => Some(crate::init::ensure(self.root())?),
                    _ => None,
                },
            },
        )?;
        write_replace(
            &dir.join("config.json"),
            &serde_json::to_vec_pretty(&config).expect("config serialises"),
        )
    }

    /// Starts container `key` (by ID or name). With `attach` (the caller's stdout and
    /// stderr, and stdin for `-i`) the monitor copies the container's output there
    /// too, and the returned handle later reports its exit. A running container is
    /// left as it is.
    pub fn start(&self, key: &str, attach: Option<Attach>) -> Result<(Container, Option<Handle>)> {
        let c = self.find(key)?;
        if matches!(c.state.status, Status::Running | Status::Restarting) {
            return Ok((c, None));
        }
        // One start at a time per container; the record lock stays free for the
        // monitor, which records the running state itself.
        let _start = self.containers().lock_start(&c.id)?;
        let c = self.find(&c.id)?;
        if matches!(c.state.status, Status::Running | Status::Restarting) {
            return Ok((c, None));
        }
        if c.state.status == Status::Removing {
            return Err(Error::WrongState(format!(
                "cannot start container {}: it is being removed",
                c.id
            )));
        }
        // A crash may have left runtime state behind.
        if let Ok(rt) = self.runtime() {
            let _ = rt.delete(&c.id, true);
        }
        if let Err(e) = self.prepare_bundle(&c) {
            let _ = rootfs::unmount(&self.dir(&c.id).join("rootfs"));
            let code = e.run_exit_code();
            let message = e.to_string();
            let _ = self.containers().update(&c.id, |c| {
                c.state.error = message.clone();
                c.state.exit_code = code;
            });
            return Err(e);
        }
        if c.state.manual_stop || c.state.restart_count > 0 {
            self.containers().update(&c.id, |c| {
                c.state.manual_stop = false;
                c.state.restart_count = 0;
            })?;
        }
        let mut h = monitor::spawn(self, &c.id, attach)?;
        match h.next_report() {
            Some(Report::Started { .. }) => match self.containers().load(&c.id) {
                Ok(c) => Ok((c, Some(h))),
                // A --rm container whose process ended at once is gone already; the
                // handle still reports its exit.
                Err(Error::NoSuchContainer(_)) => Ok((c, Some(h))),
                Err(e) => Err(e),
            },
            Some(Report::Failed { message, code }) => Err(Error::Start { message, code }),
            Some(Report::Exited { code }) => Err(Error::Start {
                message: format!("container exited with {code} before it started"),
                code: 125,
            }),
            None => {
                let _ = rootfs::unmount(&self.dir(&c.id).join("rootfs"));
                Err(Error::Io {
                    what: format!("start container {}", c.id),
                    source: std::io::Error::other(format!(
                        "its monitor ({}) exited without reporting",
                        self.exe.display()
                    )),
                })
            }
        }
    }
}
