//! The image store: content, layers and the image index under one root.
//!
//! On disk (`<root>` is `--root`, default `/var/lib/berth`):
//!
//! ```text
//! blobs/sha256/<hex>        manifests, configs and layer blobs
//! layers/<chain hex>/       unpacked layers (diff/ + layer.json)
//! snapshots/<key>/          container root filesystems (upper/ work/ snapshot.json)
//! images.json               image ID -> manifest, and names -> image ID
//! lock                      held exclusively by every writer
//! tmp/                      work in progress, cleared by the next writer
//! ```
//!
//! An image is registered in `images.json` only after its blobs and layers are all in
//! place, and `images.json` is replaced atomically, so a crash mid-import leaves
//! nothing that `images` shows; what it does leave in `tmp/` or as unreferenced blobs
//! is removed by the next writer ([`Store::gc`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::content::ContentStore;
use crate::digest::Digest;
use crate::error::{Error, IoContext, Result};
use crate::fsutil;
use crate::layers::LayerStore;
use crate::reference::Reference;
use crate::spec::{
    self, Compression, ContainerConfig, Descriptor, History, ImageConfig, Manifest, RootFs,
};

/// One image in the index.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ImageRecord {
    /// The image ID: the digest of its config.
    pub id: Digest,
    /// The digest of its manifest in the content store.
    pub manifest: Digest,
    /// The chain ID of its top layer (None for an image without layers).
    pub top_layer: Option<Digest>,
    /// When berth registered it, RFC 3339.
    pub added: String,
    /// When a name was last given to it, RFC 3339.
    #[serde(default)]
    pub last_tag_time: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct IndexFile {
    images: BTreeMap<Digest, ImageRecord>,
    /// Canonical reference (`docker.io/library/bb:latest`) -> image ID.
    names: BTreeMap<String, Digest>,
}

/// An image with what `images` and `inspect` show about it.
#[derive(Clone, Debug)]
pub struct Image {
    /// The index record.
    pub record: ImageRecord,
    /// Its names (tags and digest references), sorted.
    pub names: Vec<Reference>,
    /// Its manifest.
    pub manifest: Manifest,
    /// Its config.
    pub config: ImageConfig,
    /// Bytes of file content in all its layers.
    pub size: u64,
}

impl Image {
    /// The image ID.
    pub fn id(&self) -> &Digest {
        &self.record.id
    }

    /// The tagged names.
    pub fn tags(&self) -> Vec<&Reference> {
        self.names.iter().filter(|r| r.tag().is_some()).collect()
    }

    /// `repo@manifest-digest` for each repository the image is named in, as Docker's
    /// RepoDigests.
    pub fn repo_digests(&self) -> Vec<Reference> {
        let mut out: BTreeSet<Reference> = BTreeSet::new();
        for n in &self.names {
            match n.digest() {
                Some(_) => out.insert(n.clone()),
                None => out.insert(n.with_digest(&self.record.manifest)),
            };
        }
        out.into_iter().collect()
    }
}

/// What removing a name or an image did, in Docker's order.
#[derive(Clone, Debug, PartialEq)]
pub enum Removed {
    /// A name was removed.
    Untagged(Reference),
    /// The image was deleted.
    Deleted(Digest),
}

/// Changes to apply to an imported image (`import --change`, `-m`).
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// The container defaults after the changes.
    pub config: ContainerConfig,
    /// The commit message (`-m`).
    pub message: Option<String>,
    /// Where the tarball came from, for the history ("-" for stdin).
    pub source: String,
    /// The name to give the new image.
    pub name: Option<Reference>,
}

/// `system df`'s numbers for images.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DiskUsage {
    /// Images in the store.
    pub images: usize,
    /// Images whose layers a snapshot (a container) uses.
    pub active: usize,
    /// Bytes of all distinct layers.
    pub size: u64,
    /// Bytes of layers no snapshot uses.
    pub reclaimable: u64,
}

/// The store under one root directory.
#[derive(Clone, Debug)]
pub struct Store {
    root: PathBuf,
    content: ContentStore,
    layers: LayerStore,
}

/// The writer lock; released when dropped.
pub struct WriteLock {
    _file: File,
}

impl Store {
    /// Opens (creating if needed) the store at `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Store> {
        let root = root.into();
        fs::create_dir_all(&root).ctx("create store root", &root)?;
        let tmp = root.join("tmp");
        let content = ContentStore::open(root.join("blobs/sha256"), tmp.clone())?;
        let layers = LayerStore::open(root.join("layers"), tmp)?;
        fs::create_dir_all(root.join("snapshots"))
            .ctx("create snapshot directory", root.join("snapshots"))?;
        Ok(Store {
            root,
            content,
            layers,
        })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The content store.
    pub fn content(&self) -> &ContentStore {
        &self.content
    }

    /// The layer store.
    pub fn layers(&self) -> &LayerStore {
        &self.layers
    }

    /// Takes the writer lock (waiting for other writers) and clears work that a
    /// crashed writer left in `tmp/`.
    pub fn lock(&self) -> Result<WriteLock> {
        let p = self.root.join("lock");
        let f = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&p)
            .ctx("open lock", &p)?;
        f.lock().ctx("lock", &p)?;
        let tmp = self.root.join("tmp");
        if let Ok(rd) = fs::read_dir(&tmp) {
            for e in rd.flatten() {
                let p = e.path();
                let _ = if p.is_dir() && !p.is_symlink() {
                    fs::remove_dir_all(&p)
                } else {
                    fs::remove_file(&p)
                };
            }
        }
        Ok(WriteLock { _file: f })
    }

    fn index_path(&self) -> PathBuf {
        self.root.join("images.json")
    }

    fn read_index(&self) -> Result<IndexFile> {
        let p = self.index_path();
        match fs::read(&p) {
            Ok(d) => serde_json::from_slice(&d).map_err(|e| {
                Error::InvalidInput(format!("corrupt image index {}: {e}", p.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(IndexFile::default()),
            Err(e) => Err(Error::io("read image index", p, e)),
        }
    }

    fn write_index(&self, idx: &IndexFile, _lock: &WriteLock) -> Result<()> {
        let data = serde_json::to_vec_pretty(idx).expect("image index serialises");
        fsutil::write_atomic(&self.index_path(), &data)
    }

    /// Finds an image by full or short ID (`sha256:` optional), or by name.
    pub fn resolve(&self, name: &str) -> Result<Digest> {
        let idx = self.read_index()?;
        resolve_in(&idx, name)
    }

    /// The image `name` refers to (as [`Store::resolve`] finds it), from one reading of
    /// the index: what `resolve` then `image` would give, without reading it twice.
    pub fn resolve_image(&self, name: &str) -> Result<Image> {
        let idx = self.read_index()?;
        let id = resolve_in(&idx, name)?;
        self.image_in(&idx, &id)
    }

    /// The image with ID `id`.
    ///
    /// Readers take no lock; [`Store::images`] tolerates images deleted under it.
    pub fn image(&self, id: &Digest) -> Result<Image> {
        let idx = self.read_index()?;
        self.image_in(&idx, id)
    }

    fn image_in(&self, idx: &IndexFile, id: &Digest) -> Result<Image> {
        let record = idx
            .images
            .get(id)
            .ok_or_else(|| Error::NoSuchImage(id.to_string()))?
            .clone();
        let manifest: Manifest = parse_json(&self.content.read(&record.manifest)?, "manifest")?;
        let config: ImageConfig = parse_json(&self.content.read(&record.id)?, "image config")?;
        let mut names: Vec<Reference> = idx
            .names
            .iter()
            .filter(|(_, v)| *v == id)
            .filter_map(|(k, _)| Reference::parse(k).ok())
            .collect();
        names.sort();
        let mut size = 0;
        let mut cur = record.top_layer.clone();
        while let Some(c) = cur {
            let info = self.layers.info(&c)?;
            size += info.size;
            cur = info.parent;
        }
        Ok(Image {
            record,
            names,
            manifest,
            config,
            size,
        })
    }

    /// Every image, newest first.
    pub fn images(&self) -> Result<Vec<Image>> {
        let idx = self.read_index()?;
        let mut out = Vec::new();
        for id in idx.images.keys() {
            match self.image_in(&idx, id) {
                Ok(img) => out.push(img),
                // Readers take no lock: a writer may have deleted the image (and its
                // blobs) since the index was read. Only a failure on an image that
                // is still registered is an error.
                Err(e) => {
                    if self.read_index()?.images.contains_key(id) {
                        return Err(e);
                    }
                }
            }
        }
        out.sort_by_key(|i| {
            std::cmp::Reverse(
                i.config
                    .created
                    .as_deref()
                    .and_then(crate::time::parse_rfc3339)
                    .unwrap_or(0),
            )
        });
        Ok(out)
    }

    /// Gives image `source` the name `target` (which moves if another image had it).
    pub fn tag(&self, source: &str, target: &Reference) -> Result<Digest> {
        let lock = self.lock()?;
        let mut idx = self.read_index()?;
        let id = resolve_in(&idx, source)?;
        if target.digest().is_some() {
            return Err(Error::InvalidReference(format!(
                "{}: refusing to create a tag with a digest reference",
                target.familiar()
            )));
        }
        set_name(&mut idx, target, &id);
        self.write_index(&idx, &lock)?;
        Ok(id)
    }

    /// Removes `name` as `docker rmi` does: a name that is one of several only loses
    /// the name; the last name, or an ID, deletes the image. `force` deletes an image
    /// named in several repositories or used by a snapshot.
    pub fn remove(&self, name: &str, force: bool) -> Result<Vec<Removed>> {
        let lock = self.lock()?;
        let mut idx = self.read_index()?;
        let id = resolve_in(&idx, name)?;
        let by_name = name_key(&idx, name);
        let names: Vec<String> = idx
            .names
            .iter()
            .filter(|(_, v)| **v == id)
            .map(|(k, _)| k.clone())
            .collect();
        let users = self.snapshots_using(idx.images.get(&id).and_then(|r| r.top_layer.as_ref()))?;
        let mut out = Vec::new();
        if let Some(key) = by_name {
            if names.len() > 1 || (!users.is_empty() && !force) {
                if names.len() == 1 {
                    return Err(Error::Conflict(format!(
                        "unable to remove repository reference {name:?} (must force) - container {} is using its referenced image {}",
                        short_key(&users[0]),
                        id.short()
                    )));
                }
                idx.names.remove(&key);
                self.write_index(&idx, &lock)?;
                out.push(Removed::Untagged(Reference::parse(&key)?));
                return Ok(out);
            }
        } else if !force {
            let repos: BTreeSet<String> = names
                .iter()
                .filter_map(|n| Reference::parse(n).ok())
                .map(|r| r.name())
                .collect();
            if repos.len() > 1 {
                return Err(Error::Conflict(format!(
                    "unable to delete {} (must be forced) - image is referenced in multiple repositories",
                    id.short()
                )));
            }
            if let Some(u) = users.first() {
                return Err(Error::Conflict(format!(
                    "unable to delete {} (must be forced) - image is being used by container {}",
                    id.short(),
                    short_key(u)
                )));
            }
        }
        for n in &names {
            idx.names.remove(n);
            out.push(Removed::Untagged(Reference::parse(n)?));
        }
        idx.images.remove(&id);
        self.write_index(&idx, &lock)?;
        out.push(Removed::Deleted(id));
        self.gc_locked(&lock)?;
        Ok(out)
    }

    /// Deletes images without names (`all`: every image no snapshot uses) and frees
    /// their layers. Returns the deleted IDs and the bytes freed.
    pub fn prune(&self, all: bool) -> Result<(Vec<Removed>, u64)> {
        let lock = self.lock()?;
        let mut idx = self.read_index()?;
        let before = self.layer_bytes()?;
        let mut out = Vec::new();
        let ids: Vec<Digest> = idx.images.keys().cloned().collect();
        for id in ids {
            let named = idx.names.values().any(|v| *v == id);
            if named && !all {
                continue;
            }
            let top = idx.images[&id].top_layer.clone();
            if !self.snapshots_using(top.as_ref())?.is_empty() {
                continue;
            }
            let names: Vec<String> = idx
                .names
                .iter()
                .filter(|(_, v)| **v == id)
                .map(|(k, _)| k.clone())
                .collect();
            for n in names {
                idx.names.remove(&n);
                out.push(Removed::Untagged(Reference::parse(&n)?));
            }
            idx.images.remove(&id);
            out.push(Removed::Deleted(id));
        }
        self.write_index(&idx, &lock)?;
        self.gc_locked(&lock)?;
        let after = self.layer_bytes()?;
        Ok((out, before.saturating_sub(after)))
    }

    fn layer_bytes(&self) -> Result<u64> {
        let mut n = 0;
        for c in self.layers.list()? {
            if let Ok(i) = self.layers.info(&c) {
                n += i.size;
            }
        }
        Ok(n)
    }

    /// Keys of snapshots whose parent stack contains `chain`'s top layer.
    fn snapshots_using(&self, chain: Option<&Digest>) -> Result<Vec<String>> {
        let Some(chain) = chain else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for s in crate::snapshot::list_records(&self.root.join("snapshots"))? {
            if s.parent.as_ref() == Some(chain) {
                out.push(s.key);
            }
        }
        Ok(out)
    }

    /// Removes blobs and layers that no image and no snapshot references.
    pub fn gc(&self) -> Result<()> {
        let lock = self.lock()?;
        self.gc_locked(&lock)
    }

    pub(crate) fn gc_locked(&self, _lock: &WriteLock) -> Result<()> {
        let idx = self.read_index()?;
        let mut blobs: BTreeSet<Digest> = BTreeSet::new();
        let mut tops: Vec<Digest> = Vec::new();
        for r in idx.images.values() {
            blobs.insert(r.manifest.clone());
            blobs.insert(r.id.clone());
            if let Ok(data) = self.content.read(&r.manifest)
                && let Ok(m) = serde_json::from_slice::<Manifest>(&data)
            {
                blobs.extend(m.layers.into_iter().map(|l| l.digest));
            }
            tops.extend(r.top_layer.clone());
        }
        for s in crate::snapshot::list_records(&self.root.join("snapshots"))? {
            tops.extend(s.parent);
        }
        let mut keep: BTreeSet<Digest> = BTreeSet::new();
        for t in tops {
            let mut cur = Some(t);
            while let Some(c) = cur {
                if !keep.insert(c.clone()) {
                    break;
                }
                cur = self.layers.info(&c).ok().and_then(|i| i.parent);
            }
        }
        for c in self.layers.list()? {
            if !keep.contains(&c) {
                self.layers.remove(&c)?;
            }
        }
        for b in self.content.list()? {
            if !blobs.contains(&b) {
                self.content.remove(&b)?;
            }
        }
        Ok(())
    }

    /// Registers the image whose manifest `manifest` (with its config and layer blobs)
    /// is in the content store and whose layers are unpacked, naming it `names`.
    /// Returns the image ID and the images that lost a name to it.
    pub fn register(
        &self,
        manifest: &Digest,
        names: &[Reference],
        lock: &WriteLock,
    ) -> Result<(Digest, Vec<(Reference, Digest)>)> {
        let m: Manifest = parse_json(&self.content.read(manifest)?, "manifest")?;
        let config: ImageConfig =
            parse_json(&self.content.read(&m.config.digest)?, "image config")?;
        if config.rootfs.diff_ids.len() != m.layers.len() {
            return Err(Error::InvalidInput(format!(
                "image config {} lists {} layers but its manifest has {}",
                m.config.digest,
                config.rootfs.diff_ids.len(),
                m.layers.len()
            )));
        }
        let mut top = None;
        for d in &config.rootfs.diff_ids {
            let c = crate::digest::chain_id(top.as_ref(), d);
            if !self.layers.contains(&c) {
                return Err(Error::InvalidInput(format!(
                    "layer {d} of image {} is not unpacked",
                    m.config.digest
                )));
            }
            top = Some(c);
        }
        for l in &m.layers {
            if !self.content.contains(&l.digest) {
                return Err(Error::InvalidInput(format!(
                    "layer blob {} is missing",
                    l.digest
                )));
            }
        }
        let mut idx = self.read_index()?;
        let id = m.config.digest.clone();
        let now = crate::time::now_rfc3339();
        let rec = idx.images.entry(id.clone()).or_insert_with(|| ImageRecord {
            id: id.clone(),
            manifest: manifest.clone(),
            top_layer: top,
            added: now.clone(),
            last_tag_time: None,
        });
        rec.manifest = manifest.clone();
        let mut moved = Vec::new();
        for n in names {
            if let Some(old) = idx.names.get(&n.to_string())
                && *old != id
            {
                moved.push((n.clone(), old.clone()));
            }
            set_name(&mut idx, n, &id);
        }
        self.write_index(&idx, lock)?;
        Ok((id, moved))
    }

    /// Imports a root file system tarball (plain, gzip or zstd) as a one-layer image,
    /// as `docker import` does. The layer is stored uncompressed, hashed and unpacked
    /// in one pass over the input. Returns the image ID.
    pub fn import(&self, input: impl Read, opts: &ImportOptions) -> Result<Digest> {
        let lock = self.lock()?;
        let res = self.import_locked(input, opts, &lock);
        if res.is_err() {
            let _ = self.gc_locked(&lock);
        }
        res
    }

    fn import_locked(
        &self,
        input: impl Read,
        opts: &ImportOptions,
        lock: &WriteLock,
    ) -> Result<Digest> {
        let mut input = BufReader::with_capacity(1 << 20, input);
        let head = input.fill_buf().ctx("read import input", &opts.source)?;
        if head.is_empty() {
            return Err(Error::InvalidInput(format!(
                "import source {} is empty",
                opts.source
            )));
        }
        let decoded: Box<dyn Read> = match Compression::sniff(head) {
            Compression::None => Box::new(input),
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(input)),
            Compression::Zstd => Box::new(
                zstd::stream::read::Decoder::with_buffer(input)
                    .ctx("start zstd decoder", &opts.source)?,
            ),
        };
        let blob = self.content.writer()?;
        let mut tee = crate::digest::TeeReader::new(decoded, blob);
        let (info, _) = self
            .layers
            .unpack(None, None, Some(Compression::None), &mut tee)?;
        let (_, blob) = tee.into_parts();
        let (blob_digest, blob_size) = blob.commit(Some(&info.diff_id))?;

        let now = crate::time::now_rfc3339();
        let config = ImageConfig {
            created: Some(now.clone()),
            architecture: host_arch().to_string(),
            os: "linux".into(),
            config: Some(opts.config.clone()),
            rootfs: RootFs {
                kind: "layers".into(),
                diff_ids: vec![info.diff_id.clone()],
            },
            history: vec![History {
                created: Some(now),
                comment: Some(
                    opts.message
                        .clone()
                        .unwrap_or_else(|| format!("Imported from {}", opts.source)),
                ),
                ..History::default()
            }],
            comment: opts.message.clone(),
            ..ImageConfig::default()
        };
        let config_bytes = serde_json::to_vec(&config).expect("config serialises");
        let config_digest = self.content.write_bytes(&config_bytes)?;
        let manifest = Manifest {
            schema_version: 2,
            media_type: Some(spec::MEDIA_OCI_MANIFEST.into()),
            config: Descriptor {
                media_type: spec::MEDIA_OCI_CONFIG.into(),
                digest: config_digest,
                size: config_bytes.len() as u64,
                annotations: BTreeMap::new(),
                platform: None,
            },
            layers: vec![Descriptor {
                media_type: spec::MEDIA_OCI_LAYER.into(),
                digest: blob_digest,
                size: blob_size,
                annotations: BTreeMap::new(),
                platform: None,
            }],
            annotations: BTreeMap::new(),
        };
        let mdigest = self
            .content
            .write_bytes(&serde_json::to_vec(&manifest).expect("manifest serialises"))?;
        let names: Vec<Reference> = opts.name.iter().cloned().collect();
        let (id, _) = self.register(&mdigest, &names, lock)?;
        Ok(id)
    }

    /// `system df`'s image numbers.
    pub fn disk_usage(&self) -> Result<DiskUsage> {
        let images = self.images()?;
        let snaps = crate::snapshot::list_records(&self.root.join("snapshots"))?;
        let mut used: BTreeSet<Digest> = BTreeSet::new();
        for s in &snaps {
            let mut cur = s.parent.clone();
            while let Some(c) = cur {
                if !used.insert(c.clone()) {
                    break;
                }
                cur = self.layers.info(&c).ok().and_then(|i| i.parent);
            }
        }
        let mut du = DiskUsage {
            images: images.len(),
            ..DiskUsage::default()
        };
        for i in &images {
            if i.record
                .top_layer
                .as_ref()
                .is_some_and(|t| used.contains(t))
            {
                du.active += 1;
            }
        }
        for c in self.layers.list()? {
            if let Ok(info) = self.layers.info(&c) {
                du.size += info.size;
                if !used.contains(&c) {
                    du.reclaimable += info.size;
                }
            }
        }
        Ok(du)
    }
}

/// A snapshot key as Docker shows container IDs: 12 characters of a 64-hex key.
fn short_key(k: &str) -> &str {
    if k.len() == 64 && k.bytes().all(|b| b.is_ascii_hexdigit()) {
        &k[..12]
    } else {
        k
    }
}

fn set_name(idx: &mut IndexFile, name: &Reference, id: &Digest) {
    idx.names.insert(name.to_string(), id.clone());
    if let Some(r) = idx.images.get_mut(id) {
        r.last_tag_time = Some(crate::time::now_rfc3339());
    }
}

/// The index key when `name` names an image by a name it has (not by ID).
fn name_key(idx: &IndexFile, name: &str) -> Option<String> {
    let r = Reference::parse_with_default_tag(name).ok()?;
    let k = r.to_string();
    idx.names.contains_key(&k).then_some(k)
}

fn resolve_in(idx: &IndexFile, name: &str) -> Result<Digest> {
    if let Some(hex) = name.strip_prefix("sha256:") {
        return by_prefix(idx, hex).ok_or_else(|| Error::NoSuchImage(name.to_string()));
    }
    let parsed = Reference::parse_with_default_tag(name);
    if let Ok(r) = &parsed {
        if let Some(id) = idx.names.get(&r.to_string()) {
            return Ok(id.clone());
        }
        if let Some(d) = r.digest() {
            let repo = r.name();
            for (k, id) in &idx.names {
                let same_repo = Reference::parse(k).is_ok_and(|x| x.name() == repo);
                if same_repo && idx.images.get(id).is_some_and(|rec| &rec.manifest == d) {
                    return Ok(id.clone());
                }
            }
        }
    }
    if !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_hexdigit())
        && let Some(id) = by_prefix(idx, name)
    {
        return Ok(id);
    }
    Err(Error::NoSuchImage(match parsed {
        Ok(r) => r.familiar(),
        Err(_) => name.to_string(),
    }))
}

fn by_prefix(idx: &IndexFile, hex: &str) -> Option<Digest> {
    if hex.is_empty() {
        return None;
    }
    let mut it = idx.images.keys().filter(|d| d.hex().starts_with(hex));
    let first = it.next()?;
    it.next().is_none().then(|| first.clone())
}

/// Parses a JSON document, naming it in the error.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(data: &[u8], what: &str) -> Result<T> {
    serde_json::from_slice(data).map_err(|e| Error::InvalidInput(format!("invalid {what}: {e}")))
}

/// The machine's architecture in OCI (Go) spelling.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        "loongarch64" => "loong64",
        a => a,
    }
}
