//! The content store: blobs named by their sha256 digest under `blobs/sha256/`.
//!
//! Every blob is written to a temporary file beside the store, hashed while it is
//! written, fsynced, and renamed into place only when its digest is the one promised,
//! so a reader never sees a partial or wrong blob under a digest's name.

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::digest::{Digest, HashReader};
use crate::error::{Error, IoContext, Result};
use crate::fsutil;

/// Blobs by digest under one directory.
#[derive(Clone, Debug)]
pub struct ContentStore {
    dir: PathBuf,
    tmp: PathBuf,
}

/// A blob being written: bytes go to a temporary file, and [`BlobWriter::commit`] checks
/// its digest and moves it into the store.
pub struct BlobWriter {
    file: BufWriter<File>,
    path: PathBuf,
    hasher: sha2::Sha256,
    size: u64,
    store: ContentStore,
    done: bool,
}

impl ContentStore {
    /// The store at `dir` (`<root>/blobs/sha256`), with temporary files in `tmp`
    /// (same file system, so the final rename is atomic).
    pub fn open(dir: PathBuf, tmp: PathBuf) -> Result<ContentStore> {
        fs::create_dir_all(&dir).ctx("create blob directory", &dir)?;
        fs::create_dir_all(&tmp).ctx("create temporary directory", &tmp)?;
        Ok(ContentStore { dir, tmp })
    }

    /// Where the blob `d` lives (whether or not it exists).
    pub fn path(&self, d: &Digest) -> PathBuf {
        self.dir.join(d.hex())
    }

    /// True when the blob is in the store.
    pub fn contains(&self, d: &Digest) -> bool {
        self.path(d).is_file()
    }

    /// Opens the blob `d` for reading.
    pub fn open_blob(&self, d: &Digest) -> Result<File> {
        let p = self.path(d);
        File::open(&p).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                Error::InvalidInput(format!("blob {d} is missing from the content store"))
            } else {
                Error::io("open blob", p, e)
            }
        })
    }

    /// Reads a whole (small) blob, such as a manifest or a config.
    pub fn read(&self, d: &Digest) -> Result<Vec<u8>> {
        let mut v = Vec::new();
        self.open_blob(d)?
            .read_to_end(&mut v)
            .ctx("read blob", self.path(d))?;
        Ok(v)
    }

    /// The size of blob `d` in bytes.
    pub fn size(&self, d: &Digest) -> Result<u64> {
        let p = self.path(d);
        Ok(fs::metadata(&p).ctx("stat blob", &p)?.len())
    }

    /// Starts writing a new blob.
    pub fn writer(&self) -> Result<BlobWriter> {
        let path = fsutil::temp_path(&self.tmp, "blob");
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(&path)
            .ctx("create temporary blob", &path)?;
        Ok(BlobWriter {
            file: BufWriter::with_capacity(1 << 20, file),
            path,
            hasher: <sha2::Sha256 as sha2::Digest>::new(),
            size: 0,
            store: self.clone(),
            done: false,
        })
    }

    /// Stores everything `r` yields; when `expected` is given the bytes must hash to it.
    pub fn write_from(&self, r: impl Read, expected: Option<&Digest>) -> Result<(Digest, u64)> {
        let mut w = self.writer()?;
        let mut r = HashReader::new(r);
        io::copy(&mut r, &mut w).ctx("write blob", &w.path)?;
        w.commit(expected)
    }

    /// Stores `data`, returning its digest.
    pub fn write_bytes(&self, data: &[u8]) -> Result<Digest> {
        let d = Digest::of(data);
        if !self.contains(&d) {
            self.write_from(data, Some(&d))?;
        }
        Ok(d)
    }

    /// Removes blob `d`; a missing blob is not an error.
    pub fn remove(&self, d: &Digest) -> Result<()> {
        let p = self.path(d);
        match fs::remove_file(&p) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(Error::io("remove blob", p, e)),
            _ => Ok(()),
        }
    }

    /// Every blob in the store.
    pub fn list(&self) -> Result<Vec<Digest>> {
        let mut out = Vec::new();
        for e in fs::read_dir(&self.dir).ctx("list blobs", &self.dir)? {
            let e = e.ctx("list blobs", &self.dir)?;
            if let Some(d) = e
                .file_name()
                .to_str()
                .and_then(|n| Digest::from_hex(n).ok())
            {
                out.push(d);
            }
        }
        Ok(out)
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        sha2::Digest::update(&mut self.hasher, &buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl BlobWriter {
    /// Verifies the digest (when `expected` is given), fsyncs and renames the blob into
    /// the store. Returns its digest and size.
    pub fn commit(mut self, expected: Option<&Digest>) -> Result<(Digest, u64)> {
        let h = std::mem::take(&mut self.hasher);
        let actual = Digest::from_hex(&crate::digest::to_hex(&sha2::Digest::finalize(h)))?;
        if let Some(e) = expected
            && *e != actual
        {
            return Err(Error::DigestMismatch {
                what: "blob".into(),
                expected: e.to_string(),
                actual: actual.to_string(),
            });
        }
        self.file.flush().ctx("write blob", &self.path)?;
        self.file
            .get_ref()
            .sync_all()
            .ctx("fsync blob", &self.path)?;
        let dst = self.store.path(&actual);
        fs::rename(&self.path, &dst).ctx("store blob", &dst)?;
        fsutil::sync_dir(&self.store.dir)?;
        self.done = true;
        Ok((actual, self.size))
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// True when `p` names a path inside the store's blob directory layout
/// (`blobs/sha256/<hex>`), returning the digest.
pub fn digest_from_layout_path(p: &Path) -> Option<Digest> {
    let s = p.to_str()?.trim_start_matches("./");
    let hex = s.strip_prefix("blobs/sha256/")?;
    Digest::from_hex(hex).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (PathBuf, ContentStore) {
        let base = std::env::temp_dir().join(format!(
            "berth-content-{}-{}",
            std::process::id(),
            fsutil::temp_suffix()
        ));
        let s = ContentStore::open(base.join("blobs/sha256"), base.join("tmp")).unwrap();
        (base, s)
    }

    #[test]
    fn blobs_are_verified_and_nothing_partial_is_left() {
        let (base, s) = store();
        let d = s.write_bytes(b"hello").unwrap();
        assert_eq!(s.read(&d).unwrap(), b"hello");
        let wrong = Digest::of(b"other");
        let e = s.write_from(&b"hello!"[..], Some(&wrong)).unwrap_err();
        assert!(matches!(e, Error::DigestMismatch { .. }), "{e}");
        assert!(!s.contains(&wrong));
        assert_eq!(fs::read_dir(base.join("tmp")).unwrap().count(), 0);
        assert_eq!(s.list().unwrap(), vec![d]);
        fs::remove_dir_all(base).unwrap();
    }

    #[test]
    fn layout_paths_name_digests() {
        let hex = "a".repeat(64);
        assert!(digest_from_layout_path(Path::new(&format!("blobs/sha256/{hex}"))).is_some());
        assert!(digest_from_layout_path(Path::new(&format!("./blobs/sha256/{hex}"))).is_some());
        assert!(digest_from_layout_path(Path::new("blobs/sha256/xyz")).is_none());
        assert!(digest_from_layout_path(Path::new("manifest.json")).is_none());
    }
}
