//! The state directory: one JSON file per network with its configuration and endpoints,
//! written atomically, and the lock that serialises every change.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ports::PortMapping;

/// A bridge network as berth records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkConfig {
    /// The network's ID: 64 random hex digits, as Docker's.
    pub id: String,
    /// The network's name (`bridge` for the default network).
    pub name: String,
    /// When it was created.
    pub created: std::time::SystemTime,
    /// `--label` values.
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
    /// The Linux bridge's name.
    pub bridge: String,
    /// The network's subnet.
    pub subnet: Ipv4Net,
    /// The bridge's address, the containers' default route.
    pub gateway: Ipv4Addr,
    /// The part of the subnet container addresses come from, if not all of it.
    pub ip_range: Option<Ipv4Net>,
    /// An internal network has no route to or from outside its bridge.
    pub internal: bool,
}

/// A container attached to a network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// The endpoint's ID: 64 random hex digits, as Docker's EndpointID (empty in state
    /// written before berth recorded one).
    #[serde(default)]
    pub id: String,
    /// The container's ID.
    pub container: String,
    /// Its address on the network.
    pub ip: Ipv4Addr,
    /// Its MAC address.
    pub mac: String,
    /// The host end of its veth pair, attached to the bridge.
    pub host_veth: String,
    /// The interface name inside the container.
    pub ifname: String,
    /// The names the network's DNS answers with this endpoint's address: the
    /// container's name and its aliases.
    #[serde(default)]
    pub names: Vec<String>,
    /// The ports published to it, with the host ports chosen.
    pub ports: Vec<PortMapping>,
}

/// A network's file: its configuration and its endpoints by container ID.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct NetworkState {
    pub(crate) config: NetworkConfig,
    pub(crate) endpoints: BTreeMap<String, Endpoint>,
}

/// The directory holding every network's state.
#[derive(Debug)]
pub(crate) struct Store {
    dir: PathBuf,
}

/// Held while the state is read and changed; dropping it releases the lock.
pub(crate) struct Locked {
    _file: File,
}

impl Store {
    pub(crate) fn open(dir: &Path) -> Result<Self> {
        let dir = dir.join("networks");
        fs::create_dir_all(&dir).map_err(|e| {
            Error::io(
                format!("create network state directory {}", dir.display()),
                e,
            )
        })?;
        Ok(Store { dir })
    }

    /// Takes the state lock, blocking until other berth processes release it.
    pub(crate) fn lock(&self) -> Result<Locked> {
        lock_file(&self.dir.join(".lock")).map(|file| Locked { _file: file })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    pub(crate) fn load(&self, _lock: &Locked, name: &str) -> Result<Option<NetworkState>> {
        let path = self.path(name);
        let data = match fs::read(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(format!("read {}", path.display()), e)),
        };
        serde_json::from_slice(&data)
            .map(Some)
            .map_err(|e| Error::State {
                path: path.display().to_string(),
                reason: e.to_string(),
            })
    }

    pub(crate) fn load_all(&self, lock: &Locked) -> Result<Vec<NetworkState>> {
        let entries = fs::read_dir(&self.dir)
            .map_err(|e| Error::io(format!("read {}", self.dir.display()), e))?;
        let mut all = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(format!("read {}", self.dir.display()), e))?;
            let file = entry.file_name();
            let Some(name) = file.to_str().and_then(|f| f.strip_suffix(".json")) else {
                continue;
            };
            if name.starts_with('.') {
                continue;
            }
            if let Some(state) = self.load(lock, name)? {
                all.push(state);
            }
        }
        all.sort_by(|a, b| a.config.name.cmp(&b.config.name));
        Ok(all)
    }

    /// Writes a network's state: temporary file, fsync when `durable`, rename. A new
    /// network's configuration is durable; endpoint changes are not synced, as the
    /// runtime's state is not: they describe containers a crash of the host ends anyway,
    /// and the sync would be a third of the cost of attaching a container.
    pub(crate) fn save(&self, _lock: &Locked, state: &NetworkState, durable: bool) -> Result<()> {
        let path = self.path(&state.config.name);
        let tmp = self.dir.join(format!(".{}.tmp", state.config.name));
        let data = serde_json::to_vec_pretty(state).expect("network state serialises");
        let write = || -> std::io::Result<()> {
            let mut f = File::create(&tmp)?;
            f.write_all(&data)?;
            if durable {
                f.sync_all()?;
            }
            fs::rename(&tmp, &path)
        };
        write().map_err(|e| Error::io(format!("write {}", path.display()), e))
    }

    pub(crate) fn remove(&self, _lock: &Locked, name: &str) -> Result<()> {
        let path = self.path(name);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(format!("remove {}", path.display()), e)),
        }
    }
}

/// Opens (creating) `path` and takes an exclusive lock on it.
pub(crate) fn lock_file(path: &Path) -> Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| Error::io(format!("open lock {}", path.display()), e))?;
    file.lock()
        .map_err(|e| Error::io(format!("lock {}", path.display()), e))?;
    Ok(file)
}
