//! `system reset`: the root and state directories back to nothing, as podman's
//! `system reset` leaves its storage — every container (forced), every network (the
//! default one and its bridge too, which nothing else removes) and every volume and
//! image.

use std::path::Path;

use crate::Engine;
use crate::error::{Error, Result, io};

impl Engine {
    /// Removes everything this root holds, kernel objects first (containers' processes,
    /// mounts and cgroups; networks' bridges and firewall rules), then the root and
    /// state directories themselves. Refuses, removing no file, when something is still
    /// mounted below either directory: deleting the files of a mounted filesystem would
    /// reach outside berth's own.
    pub fn reset(&self) -> Result<()> {
        for c in self.containers().all()? {
            self.remove(&c.id, true, true)?;
        }
        let networks = self.networks()?;
        for n in networks.networks()? {
            self.remove_network(&n.name)?;
        }
        let mounted = mounts_below(self.root())
            .into_iter()
            .chain(mounts_below(self.state_dir()))
            .collect::<Vec<_>>();
        if !mounted.is_empty() {
            return Err(Error::Conflict(format!(
                "cannot reset: still mounted: {}",
                mounted.join(", ")
            )));
        }
        for dir in [self.state_dir(), self.root()] {
            match std::fs::remove_dir_all(dir) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(io(format!("remove {}", dir.display()))(e));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Mount points at or below `dir` (mountinfo's octal escapes undone).
fn mounts_below(dir: &Path) -> Vec<String> {
    let Ok(dir) = std::fs::canonicalize(dir) else {
        return Vec::new();
    };
    let dir = dir.to_string_lossy().into_owned();
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(berth_runtime::unescape_mountinfo)
        .filter(|m| m == &dir || m.starts_with(&format!("{dir}/")))
        .collect()
}
