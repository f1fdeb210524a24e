//! Unpacked layers, one directory per chain ID (`layers/<chain hex>/diff`), shared by
//! every image whose stack contains them.
//!
//! A layer is unpacked into a temporary directory, its diff ID is verified in the same
//! pass that decompresses and unpacks it, the file system is synced, and only then is
//! the directory renamed into place: a layer directory that exists is complete.

use std::fs;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use serde::{Deserialize, Serialize};

use crate::apply::{ApplyStats, apply_tar};
use crate::digest::{Digest, HashReader, chain_id};
use crate::error::{Error, IoContext, Result};
use crate::fsutil;
use crate::spec::Compression;

/// What berth records about an unpacked layer (`layers/<chain>/layer.json`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LayerInfo {
    /// The chain ID naming this layer and everything below it.
    pub chain_id: Digest,
    /// The digest of the uncompressed changeset.
    pub diff_id: Digest,
    /// The chain ID of the layer below, if any.
    pub parent: Option<Digest>,
    /// Bytes of file content the changeset holds.
    pub size: u64,
}

/// The directory of unpacked layers.
#[derive(Clone, Debug)]
pub struct LayerStore {
    dir: PathBuf,
    tmp: PathBuf,
}

/// A temporary directory removed on drop unless kept.
struct TempDir {
    path: PathBuf,
    keep: bool,
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

impl LayerStore {
    /// The store at `dir`, unpacking through `tmp` (same file system).
    pub fn open(dir: PathBuf, tmp: PathBuf) -> Result<LayerStore> {
        fs::create_dir_all(&dir).ctx("create layer directory", &dir)?;
        Ok(LayerStore { dir, tmp })
    }

    /// The directory holding layer `chain`'s files (whether or not it exists).
    pub fn diff_dir(&self, chain: &Digest) -> PathBuf {
        self.dir.join(chain.hex()).join("diff")
    }

    /// True when layer `chain` is unpacked.
    pub fn contains(&self, chain: &Digest) -> bool {
        self.dir.join(chain.hex()).join("layer.json").is_file()
    }

    /// The record of layer `chain`.
    pub fn info(&self, chain: &Digest) -> Result<LayerInfo> {
        let p = self.dir.join(chain.hex()).join("layer.json");
        let data = fs::read(&p).ctx("read layer record", &p)?;
        serde_json::from_slice(&data)
            .map_err(|e| Error::InvalidInput(format!("corrupt layer record {}: {e}", p.display())))
    }

    /// The diff directories of `chain` and every layer below it, top first (the order
    /// overlayfs wants for lowerdir).
    pub fn stack(&self, chain: &Digest) -> Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        let mut cur = Some(chain.clone());
        while let Some(c) = cur {
            let info = self.info(&c)?;
            out.push(self.diff_dir(&c));
            cur = info.parent;
        }
        Ok(out)
    }

    /// Every unpacked layer.
    pub fn list(&self) -> Result<Vec<Digest>> {
        let mut out = Vec::new();
        for e in fs::read_dir(&self.dir).ctx("list layers", &self.dir)? {
            let e = e.ctx("list layers", &self.dir)?;
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

    /// Removes layer `chain`: renamed aside first, so a crash never leaves a half
    /// deleted directory under a chain ID.
    pub fn remove(&self, chain: &Digest) -> Result<()> {
        let p = self.dir.join(chain.hex());
        if !p.exists() {
            return Ok(());
        }
        let aside = fsutil::temp_path(&self.tmp, "removed-layer");
        fs::rename(&p, &aside).ctx("remove layer", &p)?;
        fs::remove_dir_all(&aside).ctx("remove layer", &aside)
    }

    /// Unpacks a layer blob read from `blob` on top of `parent`.
    ///
    /// `compression` is what the manifest says (None: sniff the first bytes). When
    /// `expected_diff` is given the uncompressed stream must hash to it, and a layer
    /// already unpacked under that chain ID is reused without reading `blob`.
    /// Otherwise `blob` is read to its end (so a caller hashing or storing it sees
    /// every byte), decompressing on this thread while a second one unpacks.
    pub fn unpack(
        &self,
        parent: Option<&Digest>,
        expected_diff: Option<&Digest>,
        compression: Option<Compression>,
        blob: &mut dyn Read,
    ) -> Result<(LayerInfo, ApplyStats)> {
        if let Some(d) = expected_diff {
            let chain = chain_id(parent, d);
            if self.contains(&chain) {
                return Ok((self.info(&chain)?, ApplyStats::default()));
            }
        }
        let lowers = match parent {
            Some(p) => self.stack(p)?,
            None => Vec::new(),
        };
        let tmp = TempDir {
            path: fsutil::temp_path(&self.tmp, "layer"),
            keep: false,
        };
        let diff = tmp.path.join("diff");
        fs::create_dir_all(&diff).ctx("create layer directory", &diff)?;

        let (diff_id, stats) = decompress_and_apply(blob, compression, &diff, &lowers)?;
        if let Some(want) = expected_diff
            && *want != diff_id
        {
            return Err(Error::DigestMismatch {
                what: "layer diff ID".into(),
                expected: want.to_string(),
                actual: diff_id.to_string(),
            });
        }
        let chain = chain_id(parent, &diff_id);
        let info = LayerInfo {
            chain_id: chain.clone(),
            diff_id,
            parent: parent.cloned(),
            size: stats.size,
        };
        let rec = tmp.path.join("layer.json");
        fs::write(
            &rec,
            serde_json::to_vec_pretty(&info).expect("layer record serialises"),
        )
        .ctx("write layer record", &rec)?;
        sync_fs(&tmp.path)?;
        let dst = self.dir.join(chain.hex());
        match fs::rename(&tmp.path, &dst) {
            Ok(()) => {}
            // Another writer (or an earlier image) made the same layer: use theirs.
            Err(e) if dst.join("layer.json").is_file() => {
                let _ = e;
                return Ok((self.info(&chain)?, stats));
            }
            Err(e) => return Err(Error::io("store layer", dst, e)),
        }
        fsutil::sync_dir(&self.dir)?;
        Ok((info, stats))
    }
}

/// Reads and decompresses the blob on this thread (where the caller's reader may
/// also hash or store it) while a second thread hashes the uncompressed stream and
/// creates the files, so that decompression and file creation overlap. Returns the
/// diff ID.
fn decompress_and_apply(
    blob: &mut dyn Read,
    compression: Option<Compression>,
    diff: &Path,
    lowers: &[PathBuf],
) -> Result<(Digest, ApplyStats)> {
    const CHUNK: usize = 1 << 20;
    std::thread::scope(|s| {
        let (tx, rx) = mpsc::sync_channel::<io::Result<Vec<u8>>>(8);
        let unpacker = s.spawn(move || -> Result<(Digest, ApplyStats)> {
            let mut chunks = ChunkReader {
                rx,
                cur: Vec::new(),
                pos: 0,
            };
            let mut hashed = HashReader::new(&mut chunks);
            let stats = apply_tar(diff, lowers, &mut hashed)?;
            let (diff_id, _, _) = hashed.finish().map_err(|e| {
                Error::InvalidInput(format!("malformed layer: reading it failed: {e}"))
            })?;
            Ok((diff_id, stats))
        });
        let produced = (|| -> io::Result<()> {
            let mut buffered = BufReader::with_capacity(CHUNK, blob);
            let comp = match compression {
                Some(c) => c,
                None => Compression::sniff(buffered.fill_buf()?),
            };
            let mut decoded: Box<dyn Read + '_> = match comp {
                Compression::None => Box::new(&mut buffered),
                Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(&mut buffered)),
                Compression::Zstd => {
                    Box::new(zstd::stream::read::Decoder::with_buffer(&mut buffered)?)
                }
            };
            loop {
                // read_to_end through take() fills without zeroing the buffer first.
                let mut buf = Vec::with_capacity(CHUNK);
                let n = (&mut decoded).take(CHUNK as u64).read_to_end(&mut buf)?;
                if n == 0 {
                    break;
                }
                if tx.send(Ok(buf)).is_err() {
                    // The unpacker stopped; it reports why.
                    return Ok(());
                }
            }
            drop(decoded);
            // The rest of the blob (trailing data after the compressed stream) still
            // goes through the caller's reader.
            io::copy(&mut buffered, &mut io::sink())?;
            Ok(())
        })();
        if let Err(e) = produced {
            let _ = tx.send(Err(e));
        }
        drop(tx);
        unpacker.join().expect("layer unpacking thread panicked")
    })
}

/// Reads the chunks the decompressing side sends; the end of the channel is the end
/// of the stream, an error sent is the stream's error.
struct ChunkReader {
    rx: mpsc::Receiver<io::Result<Vec<u8>>>,
    cur: Vec<u8>,
    pos: usize,
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.cur.len() {
            match self.rx.recv() {
                Ok(Ok(v)) => {
                    self.cur = v;
                    self.pos = 0;
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len() - self.pos);
        buf[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// syncfs on the file system holding `p`: one call that makes a whole unpacked layer
/// durable before it is renamed into place.
fn sync_fs(p: &Path) -> Result<()> {
    let f = fs::File::open(p).ctx("open for sync", p)?;
    rustix::fs::syncfs(&f).ctx("sync file system", p)
}
