//! Named volumes: directories under `<root>/volumes/<name>/_data` that outlive the
//! containers mounting them, as Docker's local driver keeps them.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, io};
use crate::record::{now, write_atomic};
use crate::{Engine, names};

/// What `volume ls` and `volume inspect` show.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Volume {
    /// Name.
    pub name: String,
    /// Always "local".
    pub driver: String,
    /// The host directory containers mount.
    pub mountpoint: PathBuf,
    /// Creation time, RFC 3339.
    pub created_at: String,
}

impl Engine {
    fn volumes_dir(&self) -> PathBuf {
        self.root().join("volumes")
    }

    /// Creates volume `name` if it does not exist; returns its data directory.
    pub fn volume_ensure(&self, name: &str) -> Result<PathBuf> {
        Ok(self.volume_create(name)?.mountpoint)
    }

    /// Creates volume `name` (an existing one is returned as is, as Docker does).
    pub fn volume_create(&self, name: &str) -> Result<Volume> {
        names::validate(name).map_err(|_| {
            Error::InvalidArgument(format!(
                "create {name}: \"{name}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
            ))
        })?;
        let dir = self.volumes_dir().join(name);
        let data = dir.join("_data");
        std::fs::create_dir_all(&dir).map_err(io(format!("create {}", dir.display())))?;
        let meta = dir.join("volume.json");
        if let Ok(v) = self.volume_inspect(name) {
            return Ok(v);
        }
        std::fs::create_dir_all(&data).map_err(io(format!("create {}", data.display())))?;
        let v = Volume {
            name: name.to_string(),
            driver: "local".into(),
            mountpoint: data,
            created_at: now(),
        };
        write_atomic(&meta, &serde_json::to_vec_pretty(&v).expect("volume serialises"))?;
        Ok(v)
    }

    /// The volume named `name`.
    pub fn volume_inspect(&self, name: &str) -> Result<Volume> {
        let meta = self.volumes_dir().join(name).join("volume.json");
        let d = std::fs::read(&meta).map_err(|_| Error::NoSuchVolume(name.to_string()))?;
        serde_json::from_slice(&d).map_err(|e| Error::Io {
            what: format!("corrupt volume record {}", meta.display()),
            source: std::io::Error::other(e),
        })
    }

    /// Every volume, by name.
    pub fn volumes(&self) -> Result<Vec<Volume>> {
        let mut v = Vec::new();
        if let Ok(rd) = std::fs::read_dir(self.volumes_dir()) {
            for e in rd.flatten() {
                if let Some(n) = e.file_name().to_str()
                    && let Ok(vol) = self.volume_inspect(n)
                {
                    v.push(vol);
                }
            }
        }
        v.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(v)
    }

    /// Removes volume `name`, refused while a container (running or not) uses it
    /// unless `force`.
    pub fn volume_remove(&self, name: &str, force: bool) -> Result<()> {
        let _ = self.volume_inspect(name)?;
        let users: Vec<String> = self
            .containers()
            .all()?
            .into_iter()
            .filter(|c| c.mounts.iter().any(|m| m.kind == "volume" && m.name == name))
            .map(|c| c.id)
            .collect();
        if !users.is_empty() && !force {
            return Err(Error::Conflict(format!(
                "remove {name}: volume is in use - [{}]",
                users.join(", ")
            )));
        }
        let dir = self.volumes_dir().join(name);
        std::fs::remove_dir_all(&dir).map_err(io(format!("remove {}", dir.display())))
    }
}
