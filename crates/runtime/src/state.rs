//! A container's saved state: `<root>/<id>/state.json`, written atomically, and its
//! status, derived from what really runs rather than trusted from the file.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, io};

/// Name of the fifo the container's init blocks on until `start`.
pub const EXEC_FIFO: &str = "exec.fifo";

/// The lifecycle status of a container, as the OCI runtime spec names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Being created.
    Creating,
    /// Created, waiting for `start`.
    Created,
    /// The user process runs.
    Running,
    /// Frozen by `pause`.
    Paused,
    /// The process has exited.
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// What the runtime remembers of a container between commands.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Saved {
    /// The container id.
    pub id: String,
    /// Absolute bundle path.
    pub bundle: PathBuf,
    /// Absolute root filesystem path.
    pub rootfs: PathBuf,
    /// Host pid of the container's init.
    pub pid: i32,
    /// Start time of that pid (field 22 of /proc/<pid>/stat), so that a recycled pid
    /// is never mistaken for the container.
    pub pid_start: u64,
    /// Creation time, RFC 3339 in UTC.
    pub created: String,
    /// Owner (user name or uid) of the container.
    pub owner: String,
    /// The config's annotations.
    #[serde(default)]
    pub annotations: HashMap<String, String>,
    /// The config's linux.cgroupsPath.
    #[serde(default)]
    pub cgroups_path: Option<PathBuf>,
    /// Whether `--systemd-cgroup` was given at create.
    #[serde(default)]
    pub systemd_cgroup: bool,
    /// The container's namespaces as /proc/<pid>/ns paths were at create, keyed by
    /// type, for `exec` and for finding shared namespaces.
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// Whether the container was created with a terminal.
    #[serde(default)]
    pub terminal: bool,
    /// Whether the config has poststart hooks (so `start` need not reread it).
    #[serde(default)]
    pub poststart: bool,
    /// Whether the config has poststop hooks.
    #[serde(default)]
    pub poststop: bool,
    /// A rootless container without a cgroup of its own.
    #[serde(default)]
    pub no_cgroup: bool,
}

/// The directory holding all containers' state.
#[derive(Debug, Clone)]
pub struct Root {
    dir: PathBuf,
}

impl Root {
    /// Opens (creating if needed, mode 0700) the state root.
    pub fn open(dir: &Path) -> Result<Root> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io(format!("cannot create state root {}", dir.display())))?;
        let dir = dir
            .canonicalize()
            .map_err(io(format!("state root {}", dir.display())))?;
        Ok(Root { dir })
    }

    /// The state root directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The state directory of container `id` (which may not exist).
    pub fn container_dir(&self, id: &str) -> Result<PathBuf> {
        validate_id(id)?;
        Ok(self.dir.join(id))
    }

    /// Reserves `id`: creates its directory, failing if it exists.
    pub fn reserve(&self, id: &str) -> Result<PathBuf> {
        use std::os::unix::fs::DirBuilderExt;
        let dir = self.container_dir(id)?;
        match std::fs::DirBuilder::new().mode(0o711).create(&dir) {
            Ok(()) => Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(Error::Exists(id.to_string()))
            }
            Err(e) => Err(io(format!("cannot create {}", dir.display()))(e)),
        }
    }

    /// Loads the saved state of `id`.
    pub fn load(&self, id: &str) -> Result<Saved> {
        let dir = self.container_dir(id)?;
        let path = dir.join("state.json");
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NotFound(id.to_string()));
            }
            Err(e) => return Err(io(format!("cannot read {}", path.display()))(e)),
        };
        serde_json::from_slice(&text)
            .map_err(|e| Error::State(format!("{} is corrupt: {e}", path.display())))
    }

    /// Saves `state` atomically (temporary file, fsync, rename).
    pub fn save(&self, state: &Saved) -> Result<()> {
        let dir = self.container_dir(&state.id)?;
        let data = serde_json::to_vec(state).expect("state serializes");
        write_atomic(&dir.join("state.json"), &data)
    }

    /// Ids of all containers with saved state, sorted.
    pub fn ids(&self) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        for e in std::fs::read_dir(&self.dir)
            .map_err(io(format!("cannot list {}", self.dir.display())))?
        {
            let e = e.map_err(io("read state root"))?;
            if e.path().join("state.json").exists()
                && let Some(n) = e.file_name().to_str()
            {
                ids.push(n.to_string());
            }
        }
        ids.sort();
        Ok(ids)
    }
}

/// Writes `data` to `path` via a temporary file and rename, so readers see the old or
/// the new content, never a mix.
///
/// No fsync: runtime state describes processes, which a crash of the machine ends
/// anyway (the state root belongs on a filesystem a reboot clears, like runc's
/// /run/runc), while a concurrent reader must never see a torn file — which the
/// rename alone guarantees. On a disk-backed /run an fsync costs milliseconds per
/// container start.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut f = std::fs::File::create(&tmp).map_err(io(format!("cannot create {}", tmp.display())))?;
    f.write_all(data)
        .map_err(io(format!("cannot write {}", tmp.display())))?;
    std::fs::rename(&tmp, path).map_err(io(format!("cannot rename to {}", path.display())))
}

/// Container ids are file names: letters, digits, `_ . + -`, not starting with `.`.
pub fn validate_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 1024
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.+-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::Usage(format!("invalid container id format: {id:?}")))
    }
}

/// Start time (clock ticks since boot) and state letter of a process, from
/// /proc/<pid>/stat; `None` when it does not exist.
pub fn proc_stat(pid: i32) -> Option<(u64, char)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain spaces: parse after the
    // last ')'.
    let rest = &s[s.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    let state = fields.next()?.chars().next()?;
    // After the state letter, the start time is the 19th field (field 22 overall).
    let start = fields.nth(18)?.parse().ok()?;
    Some((start, state))
}

impl Saved {
    /// Whether the saved init process still exists (and is not a zombie).
    pub fn alive(&self) -> bool {
        self.pid > 0
            && matches!(proc_stat(self.pid), Some((start, st)) if start == self.pid_start && st != 'Z' && st != 'X')
    }
}

/// Current time as RFC 3339 with nanoseconds, UTC (as runc writes `created`).
pub fn now_rfc3339() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(d.as_secs() as i64, d.subsec_nanos())
}

/// Formats a Unix time as RFC 3339 in UTC.
pub fn rfc3339(secs: i64, nanos: u32) -> String {
    let days = secs.div_euclid(86_400);
    let tod = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        tod / 3600,
        tod % 3600 / 60,
        tod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_dates() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(rfc3339(951_782_400, 5), "2000-02-29T00:00:00.000000005Z");
        assert_eq!(rfc3339(1_795_323_600, 0), "2026-11-22T05:00:00.000000000Z");
    }

    #[test]
    fn ids_are_file_names() {
        assert!(validate_id("abc-1.2_x+y").is_ok());
        for bad in ["", "../x", "a/b", ".hidden", "a b"] {
            assert!(validate_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn proc_stat_of_self() {
        let (start, state) = proc_stat(std::process::id() as i32).unwrap();
        assert!(start > 0);
        assert!(state == 'R' || state == 'S', "{state}");
        assert!(proc_stat(i32::MAX).is_none());
    }
}
