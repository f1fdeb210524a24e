//! Turning an overlayfs upper directory back into a layer changeset (the inverse of
//! [`crate::apply`]): 0:0 character devices become `.wh.<name>` entries, opaque
//! directories get a `.wh..wh..opq` entry, hardlinked files are written once and then
//! linked.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::apply::OPAQUE_XATTR;
use crate::error::{Error, IoContext, Result};
use crate::fsutil;

/// Writes the changeset of `upper` as a tar file in `tmp` and returns its path.
pub fn diff_tar(upper: &Path, tmp: PathBuf) -> Result<PathBuf> {
    diff_tar_excluding(upper, tmp, &HashSet::new())
}

/// [`diff_tar`] without the paths of `exclude` (relative to `upper`, with whatever
/// is below them): what an engine put in a container's upper directory itself,
/// such as mount points, which Docker keeps in a layer of its own.
pub fn diff_tar_excluding(
    upper: &Path,
    tmp: PathBuf,
    exclude: &HashSet<PathBuf>,
) -> Result<PathBuf> {
    let out = fsutil::temp_path(&tmp, "diff.tar");
    let f = File::create(&out).ctx("create layer diff", &out)?;
    let mut b = tar::Builder::new(BufWriter::new(f));
    b.follow_symlinks(false);
    let mut links: HashMap<(u64, u64), PathBuf> = HashMap::new();
    let res = walk(upper, Path::new(""), &mut b, &mut links, exclude)
        .and_then(|()| {
            b.into_inner()
                .map_err(|e| Error::io("write layer diff", &out, e))
        })
        .and_then(|mut w| w.flush().ctx("write layer diff", &out));
    if res.is_err() {
        let _ = fs::remove_file(&out);
    }
    res.map(|()| out)
}

fn walk(
    root: &Path,
    rel: &Path,
    b: &mut tar::Builder<BufWriter<File>>,
    links: &mut HashMap<(u64, u64), PathBuf>,
    exclude: &HashSet<PathBuf>,
) -> Result<()> {
    let dir = root.join(rel);
    let mut entries: Vec<_> = fs::read_dir(&dir)
        .ctx("read upper directory", &dir)?
        .collect::<std::io::Result<_>>()
        .ctx("read upper directory", &dir)?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name();
        let r = rel.join(&name);
        if exclude.contains(&r) {
            continue;
        }
        let p = root.join(&r);
        let md = fs::symlink_metadata(&p).ctx("stat", &p)?;
        let ft = md.file_type();
        let mut h = tar::Header::new_gnu();
        h.set_metadata_in_mode(&md, tar::HeaderMode::Complete);
        if ft.is_char_device() && md.rdev() == 0 {
            let wh = r.with_file_name(format!(".wh.{}", name.to_string_lossy()));
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(0);
            h.set_mode(0o600);
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(md.mtime().max(0) as u64);
            b.append_data(&mut h, &wh, std::io::empty())
                .ctx("write whiteout", &p)?;
        } else if ft.is_dir() {
            h.set_size(0);
            b.append_data(&mut h, &r, std::io::empty())
                .ctx("write directory", &p)?;
            if rustix::fs::lgetxattr(&p, OPAQUE_XATTR, &mut [0u8; 4]).is_ok_and(|n| n == 1) {
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(0);
                h.set_mode(0o600);
                h.set_uid(0);
                h.set_gid(0);
                h.set_mtime(0);
                b.append_data(&mut h, r.join(".wh..wh..opq"), std::io::empty())
                    .ctx("write opaque marker", &p)?;
            }
            walk(root, &r, b, links, exclude)?;
        } else if ft.is_file() && md.nlink() > 1 && links.contains_key(&(md.dev(), md.ino())) {
            let target = links[&(md.dev(), md.ino())].clone();
            h.set_entry_type(tar::EntryType::Link);
            h.set_size(0);
            b.append_link(&mut h, &r, &target)
                .ctx("write hardlink", &p)?;
        } else if ft.is_file() {
            if md.nlink() > 1 {
                links.insert((md.dev(), md.ino()), r.clone());
            }
            let f = File::open(&p).ctx("open", &p)?;
            b.append_data(&mut h, &r, f).ctx("write file", &p)?;
        } else if ft.is_symlink() {
            let t = fs::read_link(&p).ctx("read symlink", &p)?;
            h.set_size(0);
            b.append_link(&mut h, &r, &t).ctx("write symlink", &p)?;
        } else {
            // devices and fifos: the header from the metadata says it all.
            h.set_size(0);
            b.append_data(&mut h, &r, std::io::empty())
                .ctx("write special file", &p)?;
        }
    }
    Ok(())
}
