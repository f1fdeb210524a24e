//! `diff` and `export`: what a container changed in its root filesystem (its
//! snapshot's upper directory against the image's layers), and the whole root
//! filesystem as a tar stream.

use std::collections::HashSet;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use berth_image::snapshot::Snapshotter;

use crate::Engine;
use crate::error::{Error, Result, io};

/// One change: `A` added, `C` changed, `D` deleted, and the path in the container.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Change {
    /// The path.
    pub path: String,
    /// 'A', 'C' or 'D'.
    pub kind: char,
}

/// The upper directory and the lower directories of a snapshot's mounts.
fn layers_of(mounts: &[berth_image::snapshot::Mount]) -> (Option<PathBuf>, Vec<PathBuf>) {
    let mut upper = None;
    let mut lowers = Vec::new();
    for m in mounts {
        if m.fstype == "bind" {
            upper = Some(PathBuf::from(&m.source));
        }
        for o in &m.options {
            if let Some(u) = o.strip_prefix("upperdir=") {
                upper = Some(PathBuf::from(u));
            }
            if let Some(l) = o.strip_prefix("lowerdir=") {
                lowers.extend(l.split(':').map(PathBuf::from));
            }
        }
    }
    (upper, lowers)
}

fn is_whiteout(md: &std::fs::Metadata) -> bool {
    md.file_type().is_char_device() && md.rdev() == 0
}

fn walk(upper: &Path, rel: &Path, lowers: &[PathBuf], opaque_parent: bool, out: &mut Vec<Change>) {
    let Ok(rd) = std::fs::read_dir(upper.join(rel)) else {
        return;
    };
    for e in rd.flatten() {
        let r = rel.join(e.file_name());
        let Ok(md) = e.path().symlink_metadata() else {
            continue;
        };
        let shown = format!("/{}", r.display());
        if is_whiteout(&md) {
            out.push(Change {
                path: shown,
                kind: 'D',
            });
            continue;
        }
        let in_lower =
            !opaque_parent && lowers.iter().any(|l| l.join(&r).symlink_metadata().is_ok());
        out.push(Change {
            path: shown,
            kind: if in_lower { 'C' } else { 'A' },
        });
        if md.is_dir() {
            let opaque = !in_lower
                || rustix::fs::lgetxattr(e.path(), "trusted.overlay.opaque", &mut [0u8; 4])
                    .is_ok_and(|n| n > 0);
            walk(upper, &r, lowers, opaque, out);
        }
    }
}

/// Mount points berth makes whatever the container's config (those of the files it
/// manages, the pseudo-filesystems', the init's).
const OWN: [&str; 7] = [
    "/etc/hostname",
    "/etc/hosts",
    "/etc/resolv.conf",
    "/proc",
    "/sys",
    "/dev",
    crate::init::CONTAINER_PATH,
];

/// `rel` made of normal components only (a mount destination as a path in a layer).
fn layer_path(dest: &str) -> Option<PathBuf> {
    let mut p = PathBuf::new();
    for c in Path::new(dest).components() {
        match c {
            std::path::Component::Normal(n) => p.push(n),
            std::path::Component::RootDir | std::path::Component::CurDir => {}
            _ => return None,
        }
    }
    (!p.as_os_str().is_empty()).then_some(p)
}

/// The first lower layer that has `rel`, and its metadata there.
fn in_lower(lowers: &[PathBuf], rel: &Path) -> Option<std::fs::Metadata> {
    lowers.iter().find_map(|l| l.join(rel).symlink_metadata().ok())
}

/// Whether every entry of directory `dir` (relative to `upper`) is in `set`.
fn only_holds(upper: &Path, dir: &Path, set: &HashSet<PathBuf>) -> bool {
    std::fs::read_dir(upper.join(dir)).is_ok_and(|rd| {
        rd.flatten()
            .all(|e| set.contains(&dir.join(e.file_name())))
    })
}

/// The upper directory of container `id`'s snapshot.
pub(crate) fn upper_dir(engine: &Engine, id: &str) -> Result<PathBuf> {
    layers_of(&engine.snapshots().mounts(id)?)
        .0
        .ok_or_else(|| Error::WrongState(format!("container {id} has no writable layer")))
}

/// The lower directories of container `id`'s snapshot, topmost first.
pub(crate) fn lower_dirs(engine: &Engine, id: &str) -> Result<Vec<PathBuf>> {
    Ok(layers_of(&engine.snapshots().mounts(id)?).1)
}

impl Engine {
    /// The changes container `key` made to its image's files, sorted by path.
    pub fn changes(&self, key: &str) -> Result<Vec<Change>> {
        let c = self.find(key)?;
        let (upper, lowers) = layers_of(&self.snapshots().mounts(&c.id)?);
        let Some(upper) = upper else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        walk(&upper, Path::new(""), &lowers, false, &mut out);
        // What berth itself put in the root, as Docker keeps it in its init layer.
        let own = self.init_layer(&c, &upper, &lowers);
        out.retain(|c| !own.contains(Path::new(c.path.trim_start_matches('/'))));
        // A directory only counts as changed if something in it still does.
        let all = out.clone();
        out.retain(|c| {
            c.kind != 'C'
                || !upper.join(c.path.trim_start_matches('/')).is_dir()
                || lowers
                    .iter()
                    .all(|l| !l.join(c.path.trim_start_matches('/')).is_dir())
                || all
                    .iter()
                    .any(|o| o.path.starts_with(&format!("{}/", c.path)))
        });
        out.sort();
        Ok(out)
    }

    /// What berth itself put in container `c`'s upper directory, as paths relative
    /// to it: the mount points the runtime made for the container's mounts (its
    /// config's, and [`OWN`]) where the image had nothing, still empty, and the
    /// directories made or copied up only to hold them (unchanged from the image's).
    /// Docker keeps these in an init layer below the container's; `diff` and
    /// `commit` leave them out.
    pub(crate) fn init_layer(
        &self,
        c: &crate::record::Container,
        upper: &Path,
        lowers: &[PathBuf],
    ) -> HashSet<PathBuf> {
        let mut dests: Vec<String> = OWN.iter().map(|s| s.to_string()).collect();
        if let Ok(d) = std::fs::read(self.dir(&c.id).join("config.json"))
            && let Ok(v) = serde_json::from_slice::<serde_json::Value>(&d)
            && let Some(mounts) = v["mounts"].as_array()
        {
            dests.extend(
                mounts
                    .iter()
                    .filter_map(|m| m["destination"].as_str().map(str::to_string)),
            );
        }
        let mut set = HashSet::new();
        // Deepest first, so that a mount point inside another's directory is known
        // before that directory is looked at.
        let mut rels: Vec<PathBuf> = dests.iter().filter_map(|d| layer_path(d)).collect();
        rels.sort_by_key(|r| std::cmp::Reverse(r.components().count()));
        rels.dedup();
        for rel in rels {
            let Ok(md) = upper.join(&rel).symlink_metadata() else {
                continue;
            };
            if set.contains(&rel) || in_lower(lowers, &rel).is_some() {
                continue;
            }
            let empty = if md.is_dir() {
                only_holds(upper, &rel, &set)
            } else {
                md.is_file() && md.len() == 0
            };
            if !empty {
                continue;
            }
            set.insert(rel.clone());
            // The directories above it, if they hold nothing else and were made for
            // it (or copied up for it, unchanged).
            let mut dir = rel.parent().map(Path::to_path_buf);
            while let Some(d) = dir.filter(|d| !d.as_os_str().is_empty()) {
                if set.contains(&d) || !only_holds(upper, &d, &set) {
                    break;
                }
                let Ok(umd) = upper.join(&d).symlink_metadata() else {
                    break;
                };
                let opaque = rustix::fs::lgetxattr(upper.join(&d), "trusted.overlay.opaque", &mut [0u8; 4])
                    .is_ok_and(|n| n > 0);
                let made_for_it = match in_lower(lowers, &d) {
                    None => true,
                    Some(lmd) => {
                        !opaque
                            && lmd.is_dir()
                            && lmd.mode() == umd.mode()
                            && lmd.uid() == umd.uid()
                            && lmd.gid() == umd.gid()
                    }
                };
                if !made_for_it {
                    break;
                }
                set.insert(d.clone());
                dir = d.parent().map(Path::to_path_buf);
            }
        }
        set
    }

    /// Bytes of the files container `c` wrote (its snapshot's upper directory).
    pub fn container_size(&self, c: &crate::record::Container) -> u64 {
        match self.snapshots().mounts(&c.id).map(|m| layers_of(&m).0) {
            Ok(Some(upper)) => crate::volume::disk_usage(&upper),
            _ => 0,
        }
    }

    /// Writes container `key`'s root filesystem as a tar stream to `w`. A container
    /// that does not run has its root mounted for the time of the export.
    pub fn export(&self, key: &str, w: &mut dyn Write) -> Result<()> {
        let r = self.with_root(key, |c, root| {
            let mut t = tar::Builder::new(w);
            t.follow_symlinks(false);
            t.mode(tar::HeaderMode::Complete);
            t.append_dir_all(".", root)
                .map_err(io(format!("export the root of container {}", c.id)))?;
            t.finish().map_err(io("finish the export"))
        });
        r.map_err(|e| match e {
            Error::Io { what, source } if source.kind() == std::io::ErrorKind::BrokenPipe => {
                Error::Io {
                    what: format!("{what}: the reader went away"),
                    source,
                }
            }
            e => e,
        })
    }
}
