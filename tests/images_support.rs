//! Helpers shared by the image tests: a private berth root per test, the `berth`
//! binary run against it, and layer tars and OCI archives written by hand, byte by
//! byte where a test needs names that well-behaved tar writers refuse.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use berth_tests::{Run, TestDir, bin, run};
use sha2::Digest as _;

/// A berth root of its own, removed (with anything mounted below) on drop.
pub struct Berth {
    /// The test directory; the root is `dir/root`.
    pub dir: TestDir,
}

impl Berth {
    /// A fresh root for test `name`.
    pub fn new(name: &str) -> Berth {
        Berth {
            dir: TestDir::new(name),
        }
    }

    /// The root directory.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// A path in the test directory (outside the root).
    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// `berth --root <root> <args>`.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin("berth"));
        c.arg("--root")
            .arg(self.root())
            .args(args)
            .stdin(Stdio::null());
        c
    }

    /// Runs `berth <args>`.
    pub fn run(&self, args: &[&str]) -> Run {
        run(&mut self.cmd(args))
    }

    /// Runs `berth <args>` with `input` on stdin.
    pub fn run_stdin(&self, args: &[&str], input: &[u8]) -> Run {
        let mut c = self.cmd(args);
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().expect("spawn berth");
        child.stdin.take().unwrap().write_all(input).unwrap();
        let out = child.wait_with_output().unwrap();
        Run {
            what: format!("berth {}", args.join(" ")),
            out,
        }
    }

    /// The store, opened in-process, for what the command line does not show.
    pub fn store(&self) -> berth_image::Store {
        berth_image::Store::open(self.root()).expect("open store")
    }

    /// Entries left in the root's tmp/ (work in progress must not outlive a command).
    pub fn tmp_leftovers(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.root().join("tmp"))
            .map(|rd| rd.flatten().map(|e| e.path()).collect())
            .unwrap_or_default()
    }

    /// How many entries the root's directory `rel` holds (`layers`, `blobs/sha256`).
    pub fn entries(&self, rel: &str) -> usize {
        std::fs::read_dir(self.root().join(rel)).unwrap().count()
    }
}

/// sha256 of `data` as `sha256:<hex>`.
pub fn digest(data: &[u8]) -> String {
    let h = sha2::Sha256::digest(data);
    format!(
        "sha256:{}",
        h.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

/// One entry of a hand-made tar.
pub enum Entry<'a> {
    /// A regular file.
    File(&'a str, &'a [u8]),
    /// A directory.
    Dir(&'a str),
    /// A symlink (name, target).
    Symlink(&'a str, &'a str),
    /// A hardlink (name, target).
    Hardlink(&'a str, &'a str),
    /// A character device (name, major, minor).
    Char(&'a str, u32, u32),
    /// A fifo.
    Fifo(&'a str),
    /// A regular file with mode, owner and PAX xattrs.
    FileMeta {
        name: &'a str,
        data: &'a [u8],
        mode: u32,
        uid: u64,
        gid: u64,
        mtime: u64,
        xattrs: &'a [(&'a str, &'a [u8])],
    },
}

/// Writes a tar with the names exactly as given (`../x`, `/abs`), which `tar::Builder`'s
/// path helpers would refuse: the name bytes go into the header directly.
pub fn raw_tar(entries: &[Entry<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_600_000_000);
        h.set_size(0);
        let (name, data): (&str, &[u8]) = match e {
            Entry::File(n, d) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(d.len() as u64);
                (n, d)
            }
            Entry::Dir(n) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                (n, &[])
            }
            Entry::Symlink(n, t) | Entry::Hardlink(n, t) => {
                h.set_entry_type(if matches!(e, Entry::Symlink(..)) {
                    tar::EntryType::Symlink
                } else {
                    tar::EntryType::Link
                });
                if t.len() >= 100 {
                    b.append_pax_extensions([("linkpath", t.as_bytes())])
                        .unwrap();
                }
                set_raw(&mut h.as_old_mut().linkname, t);
                (n, &[])
            }
            Entry::Char(n, maj, min) => {
                h.set_entry_type(tar::EntryType::Char);
                h.set_device_major(*maj).unwrap();
                h.set_device_minor(*min).unwrap();
                (n, &[])
            }
            Entry::Fifo(n) => {
                h.set_entry_type(tar::EntryType::Fifo);
                (n, &[])
            }
            Entry::FileMeta {
                name,
                data,
                mode,
                uid,
                gid,
                mtime,
                xattrs,
            } => {
                if !xattrs.is_empty() {
                    let pax: Vec<(String, &[u8])> = xattrs
                        .iter()
                        .map(|(k, v)| (format!("SCHILY.xattr.{k}"), *v))
                        .collect();
                    b.append_pax_extensions(pax.iter().map(|(k, v)| (k.as_str(), *v)))
                        .unwrap();
                }
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(data.len() as u64);
                h.set_mode(*mode);
                h.set_uid(*uid);
                h.set_gid(*gid);
                h.set_mtime(*mtime);
                (name, data)
            }
        };
        if name.len() >= 100 {
            // Long names go in a PAX record, as Go's archive/tar writes them.
            b.append_pax_extensions([("path", name.as_bytes())])
                .unwrap();
        }
        set_raw(&mut h.as_old_mut().name, name);
        h.set_cksum();
        b.append(&h, data).unwrap();
    }
    b.into_inner().unwrap()
}

/// Puts `s` in a 100-byte header field, truncated when a PAX record carries it whole.
fn set_raw(field: &mut [u8; 100], s: &str) {
    let n = s.len().min(99);
    field.fill(0);
    field[..n].copy_from_slice(&s.as_bytes()[..n]);
}

/// gzip of `data`.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// zstd of `data`.
pub fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 3).unwrap()
}

/// A layer for [`oci_archive`]: the uncompressed tar and how to ship it.
pub struct Layer {
    /// The changeset.
    pub tar: Vec<u8>,
    /// "gzip", "zstd" or "" (plain).
    pub compression: &'static str,
}

/// Writes an OCI image layout archive by hand (oci-layout, index.json, blobs) with one
/// image of `layers` named `ref_name` (an `org.opencontainers.image.ref.name`).
/// Returns the config digest, which must become the image ID.
pub fn oci_archive(path: &Path, layers: &[Layer], ref_name: Option<&str>) -> String {
    oci_archive_with(path, layers, ref_name, |_, _| {})
}

/// [`oci_archive`], letting `edit` change the config and manifest documents first
/// (to write a lying or malformed archive).
pub fn oci_archive_with(
    path: &Path,
    layers: &[Layer],
    ref_name: Option<&str>,
    edit: impl Fn(&mut serde_json::Value, &mut serde_json::Value),
) -> String {
    let mut blobs: Vec<(String, Vec<u8>)> = Vec::new();
    let mut descs = Vec::new();
    let mut diff_ids = Vec::new();
    for l in layers {
        diff_ids.push(digest(&l.tar));
        let (blob, mt) = match l.compression {
            "gzip" => (gzip(&l.tar), "application/vnd.oci.image.layer.v1.tar+gzip"),
            "zstd" => (zstd(&l.tar), "application/vnd.oci.image.layer.v1.tar+zstd"),
            _ => (l.tar.clone(), "application/vnd.oci.image.layer.v1.tar"),
        };
        descs.push(
            serde_json::json!({"mediaType": mt, "digest": digest(&blob), "size": blob.len()}),
        );
        blobs.push((digest(&blob), blob));
    }
    let mut config_doc = serde_json::json!({
        "created": "2026-01-02T03:04:05Z",
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["/bin/sh"], "Labels": {"made.by": "hand"}},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": layers.iter().map(|_| serde_json::json!({"created_by": "hand"})).collect::<Vec<_>>(),
    });
    let mut manifest_doc = serde_json::json!({"layers": descs});
    edit(&mut config_doc, &mut manifest_doc);
    let descs = manifest_doc["layers"].clone();
    let config = serde_json::to_vec(&config_doc).unwrap();
    let config_digest = digest(&config);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": descs,
    }))
    .unwrap();
    let mut desc = serde_json::json!({
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": digest(&manifest),
        "size": manifest.len(),
    });
    if let Some(r) = ref_name {
        desc["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": r});
    }
    blobs.push((config_digest.clone(), config));
    blobs.push((digest(&manifest), manifest));
    let index =
        serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": [desc]})).unwrap();

    let mut b = tar::Builder::new(std::fs::File::create(path).unwrap());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, data).unwrap();
    };
    add("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
    add("index.json", &index);
    for (d, data) in &blobs {
        add(
            &format!("blobs/sha256/{}", d.trim_start_matches("sha256:")),
            data,
        );
    }
    b.into_inner().unwrap();
    config_digest
}

/// A small root file system tar: busybox as /bin/sh and a few files.
pub fn rootfs_tar(dir: &Path) -> PathBuf {
    let rootfs = dir.join("rootfs");
    std::fs::create_dir_all(rootfs.join("bin")).unwrap();
    std::fs::create_dir_all(rootfs.join("etc")).unwrap();
    std::fs::copy(berth_tests::busybox(), rootfs.join("bin/busybox")).unwrap();
    std::os::unix::fs::symlink("busybox", rootfs.join("bin/sh")).unwrap();
    std::fs::write(rootfs.join("etc/hello"), "hello from the image\n").unwrap();
    let out = dir.join("rootfs.tar");
    let st = Command::new("tar")
        .arg("-C")
        .arg(&rootfs)
        .arg("-cf")
        .arg(&out)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    out
}

/// The value of xattr `name` on `path` (not following a final symlink), if set.
pub fn xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    let p = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    let n = std::ffi::CString::new(name).unwrap();
    let mut buf = vec![0u8; 4096];
    // SAFETY: both strings are NUL-terminated and buf is writable for its length.
    let len =
        unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if len < 0 {
        return None;
    }
    buf.truncate(len as usize);
    Some(buf)
}
