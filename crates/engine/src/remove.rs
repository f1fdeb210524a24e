//! `rm`: a stopped container's runtime state, root mount, snapshot and directory
//! go; a running one only with force (killed first).

use std::path::{Path, PathBuf};
use std::time::Duration;

use berth_image::snapshot::Snapshotter;

use crate::error::{Error, Result, io};
use crate::record::{Container, Status};

use crate::{Engine, rootfs};

impl Engine {
    /// Removes container `key`. A running container is refused unless `force`, which
    /// kills it and waits for its monitor first. With `volumes`, its anonymous volumes
    /// go too.
    pub fn remove(&self, key: &str, force: bool, volumes: bool) -> Result<Container> {
        let c = self.find(key)?;
        if matches!(c.state.status, Status::Running | Status::Restarting) {
            if !force {
                return Err(Error::Conflict(format!(
                    "cannot remove container \"/{}\": container is running: stop the container before removing or force remove",
                    c.name
                )));
            }
            self.containers()
                .update(&c.id, |c| c.state.manual_stop = true)?;
            if let Ok(rt) = self.runtime() {
                self.thaw_if_paused(&rt, &c);
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
        if volumes {
            self.remove_anonymous_volumes(&c);
        }
        Ok(c)
    }

    /// Removes the anonymous volumes of a removed container (those no other
    /// container uses).
    pub fn remove_anonymous_volumes(&self, c: &Container) {
        for m in c.mounts.iter().filter(|m| m.anonymous) {
            let _ = self.volume_remove(&m.name, false);
        }
    }

    /// Deletes everything of a container that does not run.
    pub fn remove_stopped(&self, id: &str) -> Result<()> {
        let trash = self.detach_stopped(id)?;
        self.purge(id, &trash)
    }

    /// The quick half of a removal: the runtime state and root mount go, and the
    /// container directory is renamed out of sight (`containers/.trash-<id>`), which
    /// frees the name and takes the container out of every listing at once. Holding
    /// the names lock keeps a concurrent create from seeing a half-removed record.
    pub fn detach_stopped(&self, id: &str) -> Result<PathBuf> {
        let _names = self.containers().lock_names()?;
        let dir = self.dir(id);
        if !dir.join("container.json").exists() {
            return Err(Error::NoSuchContainer(id.to_string()));
        }
        if let Ok(rt) = self.runtime() {
            // A monitor still creating the container (its `run -d` killed midway) races
            // this delete: its delete after the refused start may get there first, or
            // its create may fork into the cgroup just after this kill. Try again.
            let mut tries = 0;
            loop {
                tries += 1;
                match rt.delete(id, true) {
                    Ok(()) | Err(berth_runtime::Error::NotFound(_)) => break,
                    Err(_) if !self.state_dir().join("runtime").join(id).exists() => break,
                    Err(_) if tries < 3 => std::thread::sleep(Duration::from_millis(50)),
                    Err(e) => return Err(e.into()),
                }
            }
        }
        // An endpoint its monitor did not live to remove (a monitor removing its
        // container itself takes it off the network afterwards).
        if let Ok(c) = self.containers().load(id)
            && (c.state.endpoint.is_some() || !c.state.endpoints.is_empty())
            && c.state.monitor_pid != std::process::id() as i32
        {
            crate::network::leave_all_stale(self, id)?;
        }
        rootfs::unmount(&dir.join("rootfs"))?;
        let trash = trash_path(&dir, id);
        std::fs::rename(&dir, &trash).map_err(io(format!("remove {}", dir.display())))?;
        Ok(trash)
    }

    /// The slow half: the snapshot and the renamed directory are deleted.
    pub fn purge(&self, id: &str, trash: &Path) -> Result<()> {
        match self.snapshots().remove(id) {
            Ok(()) => {}
            Err(berth_image::Error::InvalidInput(m)) if m.contains("does not exist") => {}
            Err(e) => return Err(e.into()),
        }
        std::fs::remove_dir_all(trash).map_err(io(format!("remove {}", trash.display())))
    }

    /// Finishes removals a crash interrupted (`.trash-*` directories left behind)
    /// and drops creations a crash cut short (a directory without a record), both
    /// once older than a minute.
    pub fn sweep_trash(&self) {
        let Some(base) = self.dir("x").parent().map(Path::to_path_buf) else {
            return;
        };
        let Ok(rd) = std::fs::read_dir(&base) else {
            return;
        };
        for e in rd.flatten() {
            let name = e.file_name();
            let Some(name) = name.to_str() else { continue };
            let old = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > Duration::from_secs(60));
            // Younger ones may be a monitor's removal or a create in progress.
            if !old {
                continue;
            }
            let id = match name.strip_prefix(".trash-") {
                Some(id) => id,
                None if !name.starts_with('.') && !e.path().join("container.json").exists() => name,
                None => continue,
            };
            let _ = rootfs::unmount(&e.path().join("rootfs"));
            let _ = self.purge(id, &e.path());
        }
    }
}

fn trash_path(dir: &Path, id: &str) -> PathBuf {
    dir.with_file_name(format!(".trash-{id}"))
}
