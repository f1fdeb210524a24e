//! `diff` and `export`: what a container changed in its root filesystem (its
//! snapshot's upper directory against the image's layers), and the whole root
//! filesystem as a tar stream.

use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use berth_image::snapshot::Snapshotter;

use crate::error::{Error, Result, io};
use crate::record::Status;
use crate::{Engine, rootfs};

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

/// The upper directory of container `id`'s snapshot.
pub(crate) fn upper_dir(engine: &Engine, id: &str) -> Result<PathBuf> {
    layers_of(&engine.snapshots().mounts(id)?)
        .0
        .ok_or_else(|| Error::WrongState(format!("container {id} has no writable layer")))
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
        // What berth itself puts in the root (mount points of the files it manages
        // and of the pseudo-filesystems), as Docker keeps them in its init layer.
        const OWN: [&str; 7] = [
            "/etc/hostname",
            "/etc/hosts",
            "/etc/resolv.conf",
            "/proc",
            "/sys",
            "/dev",
            crate::init::CONTAINER_PATH,
        ];
        out.retain(|c| !(c.kind == 'A' && OWN.contains(&c.path.as_str())));
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
        let c = self.find(key)?;
        let root = self.dir(&c.id).join("rootfs");
        let mounted_here = c.state.status != Status::Running && !rootfs::is_mounted(&root);
        if mounted_here {
            rootfs::mount(&self.snapshots(), &c.id, &root)?;
        }
        let r = (|| {
            let mut t = tar::Builder::new(w);
            t.follow_symlinks(false);
            t.mode(tar::HeaderMode::Complete);
            t.append_dir_all(".", &root)
                .map_err(io(format!("export the root of container {}", c.id)))?;
            t.finish().map_err(io("finish the export"))
        })();
        if mounted_here {
            rootfs::unmount(&root)?;
        }
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
