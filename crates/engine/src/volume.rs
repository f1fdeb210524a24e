//! Named volumes: directories under `<root>/volumes/<name>/_data` that outlive the
//! containers mounting them, as Docker's local driver keeps them.

use std::path::{Path, PathBuf};

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
    /// Made for a container's anonymous mount (what `volume prune` removes by
    /// default).
    #[serde(default)]
    pub anonymous: bool,
}

/// Copies `src` into `dst` (an existing directory): directories, regular files and
/// symbolic links with their modes and owners; symlinks are copied, never followed.
fn copy_tree(src: &Path, dst: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    for e in std::fs::read_dir(src)? {
        let e = e?;
        let from = e.path();
        let to = dst.join(e.file_name());
        let md = std::fs::symlink_metadata(&from)?;
        let ft = md.file_type();
        if ft.is_dir() {
            std::fs::create_dir(&to)?;
            copy_tree(&from, &to)?;
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&from)?, &to)?;
        } else if ft.is_file() {
            std::fs::copy(&from, &to)?;
        } else {
            continue; // devices, fifos and sockets are not seeded
        }
        std::os::unix::fs::lchown(&to, Some(md.uid()), Some(md.gid()))?;
        if !ft.is_symlink() {
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(md.mode() & 0o7777))?;
        }
    }
    Ok(())
}

impl Engine {
    /// Seeds an empty volume mounted at `dest` with what the image has there, as
    /// Docker does on a volume's first use (`nocopy` in the mode opts out). The
    /// container has not started, so its root cannot change under the copy; the
    /// destination is resolved inside the root.
    pub fn seed_volume(&self, rootfs: &Path, dest: &str, volume: &Path, mode: &str) -> Result<()> {
        if mode.split(',').any(|m| m == "nocopy") {
            return Ok(());
        }
        let empty = std::fs::read_dir(volume)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false);
        if !empty {
            return Ok(());
        }
        let Some(src) = crate::rootfs::resolve_dir_in_root(rootfs, dest)? else {
            return Ok(());
        };
        copy_tree(&src, volume).map_err(io(format!(
            "copy the image's {dest} into volume {}",
            volume.display()
        )))?;
        // The volume's root takes the mode and owner of the image's directory.
        if let Ok(md) = std::fs::metadata(&src) {
            use std::os::unix::fs::{MetadataExt, PermissionsExt};
            let _ = std::os::unix::fs::lchown(volume, Some(md.uid()), Some(md.gid()));
            let _ = std::fs::set_permissions(
                volume,
                std::fs::Permissions::from_mode(md.mode() & 0o7777),
            );
        }
        Ok(())
    }

    fn volumes_dir(&self) -> PathBuf {
        self.root().join("volumes")
    }

    /// Creates volume `name` if it does not exist; returns its data directory.
    pub fn volume_ensure(&self, name: &str) -> Result<PathBuf> {
        Ok(self.volume_create(name)?.mountpoint)
    }

    /// Creates an anonymous volume `name` (a container's, removed with it).
    pub fn volume_ensure_anonymous(&self, name: &str) -> Result<PathBuf> {
        Ok(self.volume_make(name, true)?.mountpoint)
    }

    /// Creates volume `name` (an existing one is returned as is, as Docker does).
    pub fn volume_create(&self, name: &str) -> Result<Volume> {
        self.volume_make(name, false)
    }

    fn volume_make(&self, name: &str, anonymous: bool) -> Result<Volume> {
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
            anonymous,
        };
        write_atomic(
            &meta,
            &serde_json::to_vec_pretty(&v).expect("volume serialises"),
        )?;
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
            .filter(|c| {
                c.mounts
                    .iter()
                    .any(|m| m.kind == "volume" && m.name == name)
            })
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

/// Bytes of file content under `dir` (links not followed).
pub fn disk_usage(dir: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut total = 0;
    for e in rd.flatten() {
        let Ok(md) = e.path().symlink_metadata() else {
            continue;
        };
        if md.is_dir() {
            total += disk_usage(&e.path());
        } else if md.is_file() {
            total += md.len();
        }
    }
    total
}

impl Engine {
    /// Removes the volumes no container uses — anonymous ones only unless `all` —
    /// and returns their names and the bytes they held.
    pub fn volume_prune(&self, all: bool) -> Result<(Vec<String>, u64)> {
        let used: Vec<String> = self
            .containers()
            .all()?
            .into_iter()
            .flat_map(|c| {
                c.mounts
                    .into_iter()
                    .filter(|m| m.kind == "volume")
                    .map(|m| m.name)
            })
            .collect();
        let mut removed = Vec::new();
        let mut bytes = 0;
        for v in self.volumes()? {
            if used.contains(&v.name) || !(all || v.anonymous) {
                continue;
            }
            let size = disk_usage(&v.mountpoint);
            if self.volume_remove(&v.name, false).is_ok() {
                bytes += size;
                removed.push(v.name);
            }
        }
        Ok((removed, bytes))
    }
}
