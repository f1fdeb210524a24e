//! Snapshots: the root file systems containers run in.
//!
//! A [`Snapshotter`] knows five verbs on string keys, as containerd's does: prepare a
//! writable snapshot on top of a committed parent, make a read-only view, commit an
//! active snapshot into a new committed layer, remove, and tell the mounts that
//! assemble a snapshot. [`Overlay`] implements them with overlayfs: the parent's layer
//! directories are the lower dirs, the snapshot has its own upper and work dirs.
//! Committed snapshots are layers in the [`crate::layers::LayerStore`], keyed by chain ID.

use std::collections::BTreeMap;
use std::fs;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::{Error, IoContext, Result};
use crate::fsutil;
use crate::layers::LayerInfo;
use crate::store::Store;

/// A mount that assembles (part of) a snapshot, as `mount -t <fstype> -o <options>
/// <source>` would.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mount {
    /// File system type: `overlay` or `bind`.
    pub fstype: String,
    /// Mount source.
    pub source: String,
    /// Options, such as `lowerdir=...`, `upperdir=...`, `ro`.
    pub options: Vec<String>,
}

/// The kind of a snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Writable (from [`Snapshotter::prepare`]).
    Active,
    /// Read-only (from [`Snapshotter::view`]).
    View,
}

/// What berth records about a snapshot (`snapshots/<id>/snapshot.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SnapshotRecord {
    /// The caller's key.
    pub key: String,
    /// Active or view.
    pub kind: Kind,
    /// Chain ID of the committed layer it sits on.
    pub parent: Option<Digest>,
    /// Labels the caller attached (the engine puts the container ID here).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// The snapshotter interface the engine uses.
pub trait Snapshotter {
    /// Creates writable snapshot `key` on top of committed layer `parent` and returns
    /// the mounts that assemble it.
    fn prepare(
        &self,
        key: &str,
        parent: Option<&Digest>,
        labels: BTreeMap<String, String>,
    ) -> Result<Vec<Mount>>;
    /// Creates read-only snapshot `key` of `parent`.
    fn view(&self, key: &str, parent: Option<&Digest>) -> Result<Vec<Mount>>;
    /// The mounts of existing snapshot `key`.
    fn mounts(&self, key: &str) -> Result<Vec<Mount>>;
    /// Turns active snapshot `key` into a committed layer and removes the snapshot.
    /// Returns the new layer (its chain ID names it).
    fn commit(&self, key: &str) -> Result<LayerInfo>;
    /// Removes snapshot `key` and its writable directories.
    fn remove(&self, key: &str) -> Result<()>;
}

/// The overlayfs snapshotter over a [`Store`].
pub struct Overlay {
    store: Store,
    dir: PathBuf,
}

impl Overlay {
    /// The snapshotter of `store` (`<root>/snapshots`).
    pub fn new(store: &Store) -> Overlay {
        Overlay {
            store: store.clone(),
            dir: store.root().join("snapshots"),
        }
    }

    /// The directory of snapshot `key` (keys are hashed into names so any string works).
    fn snap_dir(&self, key: &str) -> PathBuf {
        self.dir.join(Digest::of(key.as_bytes()).hex())
    }

    fn record(&self, key: &str) -> Result<SnapshotRecord> {
        let p = self.snap_dir(key).join("snapshot.json");
        match fs::read(&p) {
            Ok(d) => crate::store::parse_json(&d, "snapshot record"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::InvalidInput(
                format!("snapshot {key:?} does not exist"),
            )),
            Err(e) => Err(Error::io("read snapshot record", p, e)),
        }
    }

    fn create(
        &self,
        key: &str,
        kind: Kind,
        parent: Option<&Digest>,
        labels: BTreeMap<String, String>,
    ) -> Result<Vec<Mount>> {
        let _lock = self.store.lock()?;
        let dst = self.snap_dir(key);
        if dst.exists() {
            return Err(Error::Conflict(format!("snapshot {key:?} already exists")));
        }
        if let Some(p) = parent
            && !self.store.layers().contains(p)
        {
            return Err(Error::InvalidInput(format!(
                "parent layer {p} of snapshot {key:?} does not exist"
            )));
        }
        let tmp = fsutil::temp_path(&self.store.root().join("tmp"), "snapshot");
        let res = (|| {
            fs::create_dir_all(&tmp).ctx("create snapshot", &tmp)?;
            if kind == Kind::Active {
                for d in ["upper", "work"] {
                    fs::create_dir(tmp.join(d)).ctx("create snapshot", tmp.join(d))?;
                }
            } else if parent.is_none() {
                // What an empty view shows: nothing (not this directory's record).
                fs::create_dir(tmp.join("empty")).ctx("create snapshot", tmp.join("empty"))?;
            }
            let rec = SnapshotRecord {
                key: key.to_string(),
                kind,
                parent: parent.cloned(),
                labels,
            };
            fs::write(
                tmp.join("snapshot.json"),
                serde_json::to_vec_pretty(&rec).expect("record serialises"),
            )
            .ctx("write snapshot record", &tmp)?;
            fs::rename(&tmp, &dst).ctx("create snapshot", &dst)?;
            fsutil::sync_dir(&self.dir)
        })();
        if res.is_err() {
            let _ = fs::remove_dir_all(&tmp);
        }
        res?;
        self.mounts(key)
    }
}

impl Snapshotter for Overlay {
    fn prepare(
        &self,
        key: &str,
        parent: Option<&Digest>,
        labels: BTreeMap<String, String>,
    ) -> Result<Vec<Mount>> {
        self.create(key, Kind::Active, parent, labels)
    }

    fn view(&self, key: &str, parent: Option<&Digest>) -> Result<Vec<Mount>> {
        self.create(key, Kind::View, parent, BTreeMap::new())
    }

    fn mounts(&self, key: &str) -> Result<Vec<Mount>> {
        let rec = self.record(key)?;
        let dir = self.snap_dir(key);
        let lowers = match &rec.parent {
            Some(p) => self.store.layers().stack(p)?,
            None => Vec::new(),
        };
        let s = |p: &Path| p.to_string_lossy().into_owned();
        Ok(match (rec.kind, lowers.len()) {
            (Kind::Active, 0) => vec![Mount {
                fstype: "bind".into(),
                source: s(&dir.join("upper")),
                options: vec!["rbind".into(), "rw".into()],
            }],
            (Kind::View, 0) => {
                vec![Mount {
                    fstype: "bind".into(),
                    source: s(&dir.join("empty")),
                    options: vec!["rbind".into(), "ro".into()],
                }]
            }
            (Kind::View, 1) => vec![Mount {
                fstype: "bind".into(),
                source: s(&lowers[0]),
                options: vec!["rbind".into(), "ro".into()],
            }],
            (Kind::View, _) => vec![Mount {
                fstype: "overlay".into(),
                source: "overlay".into(),
                options: vec![format!("lowerdir={}", join_lowers(&lowers))],
            }],
            (Kind::Active, _) => vec![Mount {
                fstype: "overlay".into(),
                source: "overlay".into(),
                options: vec![
                    format!("lowerdir={}", join_lowers(&lowers)),
                    format!("upperdir={}", s(&dir.join("upper"))),
                    format!("workdir={}", s(&dir.join("work"))),
                    "index=off".into(),
                ],
            }],
        })
    }

    fn commit(&self, key: &str) -> Result<LayerInfo> {
        let rec = self.record(key)?;
        if rec.kind != Kind::Active {
            return Err(Error::InvalidInput(format!(
                "snapshot {key:?} is a view and cannot be committed"
            )));
        }
        let lock = self.store.lock()?;
        let dir = self.snap_dir(key);
        let tar = crate::diff::diff_tar(&dir.join("upper"), self.store.root().join("tmp"))?;
        let info = {
            let mut f = fs::File::open(&tar).ctx("open layer diff", &tar)?;
            self.store
                .layers()
                .unpack(
                    rec.parent.as_ref(),
                    None,
                    Some(crate::spec::Compression::None),
                    &mut f,
                )?
                .0
        };
        let _ = fs::remove_file(&tar);
        drop(lock);
        self.remove(key)?;
        Ok(info)
    }

    fn remove(&self, key: &str) -> Result<()> {
        let _lock = self.store.lock()?;
        let dir = self.snap_dir(key);
        if !dir.exists() {
            return Err(Error::InvalidInput(format!(
                "snapshot {key:?} does not exist"
            )));
        }
        let aside = fsutil::temp_path(&self.store.root().join("tmp"), "removed-snapshot");
        fs::rename(&dir, &aside).ctx("remove snapshot", &dir)?;
        fs::remove_dir_all(&aside).ctx("remove snapshot", &aside)
    }
}

/// Every snapshot record under `dir`.
pub(crate) fn list_records(dir: &Path) -> Result<Vec<SnapshotRecord>> {
    let mut out = Vec::new();
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(Error::io("list snapshots", dir, e)),
    };
    for e in rd.flatten() {
        let p = e.path().join("snapshot.json");
        if let Ok(d) = fs::read(&p) {
            out.push(crate::store::parse_json(&d, "snapshot record")?);
        }
    }
    Ok(out)
}

fn join_lowers(l: &[PathBuf]) -> String {
    l.iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(":")
}

/// Mounts `mounts` (as returned by a [`Snapshotter`]) on `target`.
///
/// overlayfs options go through the new mount API (`fsopen`/`fsconfig`), one
/// `lowerdir+` per layer, so a stack of any depth mounts: the single option string of
/// mount(2) is limited to a page, which long layer paths exceed after a few dozen
/// layers. Kernels before 6.8, which lack `lowerdir+`, get mount(2) with the whole
/// option string, which is enough for stacks whose options fit in a page.
pub fn mount_all(mounts: &[Mount], target: &Path) -> Result<()> {
    for m in mounts {
        match m.fstype.as_str() {
            "bind" => {
                rustix::mount::mount_bind_recursive(m.source.as_str(), target)
                    .ctx("bind mount snapshot", target)?;
                if m.options.iter().any(|o| o == "ro") {
                    rustix::mount::mount_remount(
                        target,
                        rustix::mount::MountFlags::BIND | rustix::mount::MountFlags::RDONLY,
                        "",
                    )
                    .ctx("make snapshot read-only", target)?;
                }
            }
            "overlay" => mount_overlay(&m.options, target)?,
            other => {
                return Err(Error::InvalidInput(format!(
                    "unsupported snapshot mount type {other:?}"
                )));
            }
        }
    }
    Ok(())
}

fn mount_overlay(options: &[String], target: &Path) -> Result<()> {
    let lowers: Vec<&str> = options
        .iter()
        .filter_map(|o| o.strip_prefix("lowerdir="))
        .flat_map(|l| l.split(':'))
        .collect();
    // Before 6.5 the attempt would fail only at the final create, after overlayfs has
    // written "unrecognized mount option" to the kernel log: one line per container
    // start on such hosts (Debian 12's 6.1). Go to mount(2) at once there.
    if kernel_before(6, 5) {
        return mount_overlay_legacy(options, target);
    }
    match mount_overlay_fsconfig(options, &lowers, target)? {
        true => Ok(()),
        false => mount_overlay_legacy(options, target),
    }
}

/// Whether the running kernel's release is below `major.minor` (false when it cannot
/// be read).
fn kernel_before(major: u32, minor: u32) -> bool {
    let uname = rustix::system::uname();
    let release = uname.release().to_string_lossy();
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse::<u32>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(a), Some(b)) => (a, b) < (major, minor),
        _ => false,
    }
}

/// The new mount API with one `lowerdir+` per layer. Ok(false) when the kernel has
/// no `fsopen` or no `lowerdir+` (before 6.8: refused by the first `lowerdir+` from
/// 6.5 on, by the final create before).
fn mount_overlay_fsconfig(options: &[String], lowers: &[&str], target: &Path) -> Result<bool> {
    use rustix::io::Errno;
    use rustix::mount::{FsMountFlags, FsOpenFlags, MountAttrFlags, MoveMountFlags};
    let fs = match rustix::mount::fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC) {
        Ok(fs) => fs,
        Err(Errno::NOSYS) => return Ok(false),
        Err(e) => return Err(Error::io("open overlay file system", target, e.into())),
    };
    for (i, l) in lowers.iter().enumerate() {
        match rustix::mount::fsconfig_set_string(fs.as_fd(), "lowerdir+", *l) {
            Ok(()) => {}
            Err(Errno::INVAL) if i == 0 => return Ok(false),
            Err(e) => return Err(Error::io("add overlay lower dir", *l, e.into())),
        }
    }
    for o in options {
        let (k, v) = o.split_once('=').unwrap_or((o.as_str(), ""));
        if k == "lowerdir" {
            continue;
        }
        let r = if o.contains('=') {
            rustix::mount::fsconfig_set_string(fs.as_fd(), k, v)
        } else {
            rustix::mount::fsconfig_set_flag(fs.as_fd(), k)
        };
        r.ctx("set overlay option", o.as_str())?;
    }
    match rustix::mount::fsconfig_create(fs.as_fd()) {
        Ok(()) => {}
        // Before 6.5 overlayfs has no fs_context of its own: the kernel's legacy one
        // takes any key and only the final mount parses them, so a kernel without
        // `lowerdir+` refuses it here, not above. mount(2) then; a real EINVAL comes
        // back from there with the same cause.
        Err(Errno::INVAL) => return Ok(false),
        Err(e) => return Err(Error::io("create overlay file system", target, e.into())),
    }
    let mnt = rustix::mount::fsmount(
        fs.as_fd(),
        FsMountFlags::FSMOUNT_CLOEXEC,
        MountAttrFlags::empty(),
    )
    .ctx("mount overlay", target)?;
    rustix::mount::move_mount(
        mnt.as_fd(),
        "",
        rustix::fs::CWD,
        target,
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
    )
    .ctx("attach overlay", target)?;
    Ok(true)
}

/// mount(2) with all options in one string, for kernels before 6.8. The string is
/// limited to a page; a deeper stack needs a newer kernel, and the error says so.
fn mount_overlay_legacy(options: &[String], target: &Path) -> Result<()> {
    let data = options.join(",");
    let cdata = std::ffi::CString::new(data.clone())
        .map_err(|_| Error::InvalidInput("overlay options hold a NUL byte".into()))?;
    if data.len() >= 4096 {
        return Err(Error::InvalidInput(format!(
            "the layer stack's overlay options are {} bytes, more than mount(2) takes; \
             Linux 6.8 or later mounts stacks of any depth (lowerdir+)",
            data.len()
        )));
    }
    rustix::mount::mount(
        "overlay",
        target,
        "overlay",
        rustix::mount::MountFlags::empty(),
        Some(cdata.as_c_str()),
    )
    .ctx("mount overlay", target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_before_compares_the_running_release() {
        assert!(!kernel_before(0, 0));
        assert!(!kernel_before(2, 6));
        assert!(kernel_before(1000, 0));
    }

    /// The mount(2) path that kernels before 6.8 take: it must mount what fits and
    /// refuse, saying why, what does not.
    #[test]
    fn legacy_overlay_mount_works_and_refuses_oversized_options() {
        assert!(rustix::process::geteuid().is_root(), "mounting needs root");
        let base = std::env::temp_dir().join(format!("berth-legacy-{}", fsutil::temp_suffix()));
        for d in ["l1", "l2", "up", "work", "mnt"] {
            fs::create_dir_all(base.join(d)).unwrap();
        }
        fs::write(base.join("l1/a"), "1").unwrap();
        fs::write(base.join("l2/b"), "2").unwrap();
        let p = |d: &str| base.join(d).to_string_lossy().into_owned();
        let opts = vec![
            format!("lowerdir={}:{}", p("l2"), p("l1")),
            format!("upperdir={}", p("up")),
            format!("workdir={}", p("work")),
        ];
        mount_overlay_legacy(&opts, &base.join("mnt")).unwrap();
        let a = fs::read_to_string(base.join("mnt/a"));
        let b = fs::read_to_string(base.join("mnt/b"));
        rustix::mount::unmount(base.join("mnt"), rustix::mount::UnmountFlags::DETACH).unwrap();
        assert_eq!((a.unwrap().as_str(), b.unwrap().as_str()), ("1", "2"));

        let long = vec![format!("lowerdir={}", vec![p("l1"); 200].join(":"))];
        let e = mount_overlay_legacy(&long, &base.join("mnt"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("Linux 6.8"), "{e}");
        fs::remove_dir_all(&base).unwrap();
    }
}
