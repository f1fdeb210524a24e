//! berth-engine: the container manager. It turns an image and `docker run`'s options
//! into a running container and keeps track of it afterwards; without a daemon,
//! [`boot`] does once per boot what Docker's does when it starts.
//!
//! Where to find things: [`create`] makes a container (record, snapshot); [`start`]
//! mounts its root, writes its OCI bundle ([`spec`] with [`capabilities`] and
//! [`devices`], [`etc_files`], [`user`]) and hands it to its [`monitor`], the small
//! per-container process that runs it through the runtime library, writes its
//! [`logs`], runs its [`health`] checks, serves attach, applies the restart policy
//! and records its end; [`stop`] has stop, kill and wait; [`remove`] deletes;
//! [`exec`] runs more processes in it; [`manage`] pauses, renames, restarts and
//! updates; [`stats`], [`changes`] (diff, export), [`copy`] (cp) and [`commit`] look
//! at it; [`record`] is the on-disk state; [`volume`] the named volumes; [`names`]
//! the IDs and generated names; [`options`] parses run options with Docker's rules;
//! [`network`] joins a container to a bridge network between create and start;
//! [`init`] is the small init `--init` runs as the container's pid 1.

#![warn(missing_docs)]

pub mod boot;
pub mod capabilities;
pub mod changes;
pub mod commit;
pub mod copy;
pub mod create;
pub mod devices;
pub mod error;
pub mod etc_files;
pub mod exec;
pub mod health;
pub mod init;
pub mod logs;
pub mod manage;
pub mod monitor;
pub mod names;
pub mod network;
pub mod options;
pub mod record;
pub mod remove;
pub mod reset;
pub mod rootfs;
pub mod spec;
pub mod start;
pub mod stats;
pub mod stop;
pub mod sys;
pub mod user;
pub mod volume;

use std::path::{Path, PathBuf};

pub use error::{Error, Result};
pub use record::{Container, Status};

use berth_image::Store;
use record::Containers;

/// The engine over a persistent root (images, containers) and a runtime state
/// directory that a reboot clears.
pub struct Engine {
    root: PathBuf,
    state: PathBuf,
    store: Store,
    containers: Containers,
    exe: PathBuf,
}

impl Engine {
    /// Opens the engine on `root` (`/var/lib/berth`) and `state` (`/run/berth`);
    /// `exe` is the `berth` binary that runs monitors (`berth __monitor`).
    pub fn open(root: &Path, state: &Path, exe: &Path) -> Result<Engine> {
        let store = Store::open(root)?;
        let containers = Containers::open(root)?;
        std::fs::create_dir_all(state).map_err(error::io(format!("create {}", state.display())))?;
        Ok(Engine {
            root: root.to_path_buf(),
            state: state.to_path_buf(),
            store,
            containers,
            exe: exe.to_path_buf(),
        })
    }

    /// The persistent root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The runtime state directory.
    pub fn state_dir(&self) -> &Path {
        &self.state
    }

    /// The image store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The container records.
    pub fn containers(&self) -> &Containers {
        &self.containers
    }

    /// The OCI runtime, its state under `<state>/runtime`.
    pub fn runtime(&self) -> Result<berth_runtime::Runtime> {
        Ok(berth_runtime::Runtime::new(
            &self.state.join("runtime"),
            false,
        )?)
    }

    /// The snapshotter holding container root filesystems.
    pub fn snapshots(&self) -> berth_image::snapshot::Overlay {
        berth_image::snapshot::Overlay::new(&self.store)
    }

    /// The directory of container `id`.
    pub fn dir(&self, id: &str) -> PathBuf {
        self.containers.dir(id)
    }

    /// Finds a container by ID, name or ID prefix, with its state reconciled
    /// against what really runs.
    pub fn find(&self, key: &str) -> Result<Container> {
        let c = self.containers.find(key)?;
        self.reconcile(c)
    }

    /// Every container, newest first, reconciled.
    pub fn list(&self) -> Result<Vec<Container>> {
        let mut v = Vec::new();
        for c in self.containers.all()? {
            match self.reconcile(c) {
                Ok(c) => v.push(c),
                Err(Error::NoSuchContainer(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(v)
    }

    /// A record that says running while neither its monitor nor its process exists
    /// (the machine rebooted, someone killed both) is corrected to exited.
    fn reconcile(&self, c: Container) -> Result<Container> {
        if c.state.status != Status::Running || monitor::alive(&c) || self.process_alive(&c) {
            return Ok(c);
        }
        let (c, ()) = self.containers.update(&c.id, |c| {
            if c.state.status == Status::Running && !monitor::alive(c) && !self.process_alive(c) {
                c.state.status = Status::Exited;
                c.state.exit_code = 255;
                c.state.pid = 0;
                c.state.monitor_pid = 0;
                c.state.finished_at = record::now();
            }
        })?;
        Ok(c)
    }

    /// Whether the container's init still runs, as the runtime sees it (its saved
    /// start time guards against a recycled pid).
    pub fn process_alive(&self, c: &Container) -> bool {
        self.runtime()
            .and_then(|rt| Ok(rt.state(&c.id)?))
            .is_ok_and(|s| s.status != berth_runtime::state::Status::Stopped)
    }
}
