//! `state` and `list`: a container's status, derived from what runs.

use std::collections::HashMap;
use std::path::PathBuf;

use serde::Serialize;

use super::Runtime;
use crate::cgroups::FreezerState;
use crate::error::Result;
use crate::state::{EXEC_FIFO, Saved, Status};

/// The state document of the OCI runtime spec (`state` prints it).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OciState {
    /// Spec version.
    pub oci_version: String,
    /// Container id.
    pub id: String,
    /// Status.
    pub status: Status,
    /// Init's host pid (0 once stopped, as runc reports).
    pub pid: i32,
    /// Bundle path.
    pub bundle: PathBuf,
    /// Root filesystem path.
    pub rootfs: PathBuf,
    /// Creation time.
    pub created: String,
    /// Owner.
    pub owner: String,
    /// Annotations.
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    pub annotations: HashMap<String, String>,
}

impl Runtime {
    /// The status of a saved container, checked against the running system: a dead
    /// or recycled pid means stopped, the exec fifo means created, a frozen cgroup
    /// means paused.
    pub fn status(&self, s: &Saved) -> Status {
        if s.pid == 0 {
            return Status::Creating;
        }
        if !s.alive() {
            return Status::Stopped;
        }
        if self.root.path().join(&s.id).join(EXEC_FIFO).exists() {
            return Status::Created;
        }
        match self.cgroup(s).and_then(|m| Ok(m.freezer_state()?)) {
            Ok(FreezerState::Frozen) => Status::Paused,
            _ => Status::Running,
        }
    }

    /// The OCI state of container `id`.
    pub fn state(&self, id: &str) -> Result<OciState> {
        let s = self.root.load(id)?;
        Ok(self.oci_state(&s))
    }

    /// The OCI state of a saved container.
    pub fn oci_state(&self, s: &Saved) -> OciState {
        let status = self.status(s);
        OciState {
            oci_version: crate::spec::OCI_VERSION.into(),
            id: s.id.clone(),
            status,
            pid: if status == Status::Stopped || status == Status::Creating { 0 } else { s.pid },
            bundle: s.bundle.clone(),
            rootfs: s.rootfs.clone(),
            created: s.created.clone(),
            owner: s.owner.clone(),
            annotations: s.annotations.clone(),
        }
    }

    /// States of all containers under the root, sorted by id.
    pub fn list(&self) -> Result<Vec<OciState>> {
        let mut v = Vec::new();
        for id in self.root.ids()? {
            // A container deleted while we list is simply not listed.
            if let Ok(s) = self.root.load(&id) {
                v.push(self.oci_state(&s));
            }
        }
        Ok(v)
    }

    /// Pids of the container's processes (from its cgroup).
    pub fn pids(&self, id: &str) -> Result<Vec<i32>> {
        let s = self.root.load(id)?;
        let mut p = self.cgroup(&s)?.procs()?;
        p.sort_unstable();
        Ok(p)
    }
}
