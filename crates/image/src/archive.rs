//! Image archives: `docker save` / `docker load` tarballs and OCI image layouts.
//!
//! [`save`] writes what Docker 25+ writes: an OCI image layout (`oci-layout`,
//! `index.json`, `blobs/sha256/...`) that is at the same time a Docker archive
//! (`manifest.json`, `repositories`), so both `docker load` and OCI tools read it.
//! [`load`] reads that, older Docker archives (`<id>/layer.tar`, `<id>.json`) and plain
//! OCI archives as skopeo and umoci write them.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::apply::clean_path;
use crate::content::digest_from_layout_path;
use crate::digest::Digest;
use crate::error::{Error, IoContext, Result};
use crate::reference::Reference;
use crate::spec::{self, Compression, Descriptor, ImageConfig, Index, Manifest};
use crate::store::{Store, WriteLock, host_arch, parse_json};

/// One entry of a Docker archive's `manifest.json`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ArchiveManifest {
    /// Path of the config in the archive.
    pub config: String,
    /// Names, in Docker's short form.
    #[serde(default)]
    pub repo_tags: Option<Vec<String>>,
    /// Paths of the layer blobs, base first.
    pub layers: Vec<String>,
}

/// What [`load`] reports as it goes.
#[derive(Debug, Clone)]
pub enum Progress {
    /// A blob was read from the archive.
    Blob {
        /// Its digest.
        digest: Digest,
        /// Its size.
        size: u64,
    },
    /// A layer was unpacked (or was already there).
    Layer {
        /// Its diff ID.
        diff_id: Digest,
        /// Bytes of content.
        size: u64,
    },
}

/// An image [`load`] registered.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The image ID.
    pub id: Digest,
    /// The names it was given.
    pub names: Vec<Reference>,
    /// Names that moved to it from another image (name, old image ID).
    pub moved: Vec<(Reference, Digest)>,
}

/// Small files of the archive kept in memory, and where every other file went.
#[derive(Default)]
struct Unpacked {
    files: HashMap<String, Vec<u8>>,
    blobs: HashMap<String, Digest>,
    symlinks: HashMap<String, String>,
    /// Layer blobs whose image is already known from the entries read so far.
    plan: HashMap<Digest, PlannedLayer>,
}

/// What is needed to unpack a layer blob as it streams out of the archive.
#[derive(Clone)]
struct PlannedLayer {
    compression: Compression,
    diff_id: Digest,
    parent: Option<Digest>,
}

/// The layers of every image an OCI index (read so far) describes completely, by
/// blob digest. Archives that put `index.json`, manifests and configs before the
/// layers (as `berth save` does) can so be unpacked in the same pass that reads them.
fn plan_layers(store: &Store, u: &Unpacked) -> HashMap<Digest, PlannedLayer> {
    let mut plan = HashMap::new();
    let Some(Ok(idx)) = u
        .files
        .get("index.json")
        .map(|d| parse_json::<Index>(d, "index.json"))
    else {
        return plan;
    };
    for desc in &idx.manifests {
        for m in pick_manifests(store, desc).unwrap_or_default() {
            let Ok(Ok(manifest)) = store
                .content()
                .read(&m)
                .map(|d| parse_json::<Manifest>(&d, "manifest"))
            else {
                continue;
            };
            let Ok(Ok(config)) = store
                .content()
                .read(&manifest.config.digest)
                .map(|d| parse_json::<ImageConfig>(&d, "image config"))
            else {
                continue;
            };
            if config.rootfs.diff_ids.len() != manifest.layers.len() {
                continue;
            }
            let mut parent: Option<Digest> = None;
            for (l, diff_id) in manifest.layers.iter().zip(&config.rootfs.diff_ids) {
                let Some(compression) = Compression::from_media_type(&l.media_type) else {
                    break;
                };
                plan.insert(
                    l.digest.clone(),
                    PlannedLayer {
                        compression,
                        diff_id: diff_id.clone(),
                        parent: parent.clone(),
                    },
                );
                parent = Some(crate::digest::chain_id(parent.as_ref(), diff_id));
            }
        }
    }
    plan
}

/// Files of an archive that are metadata, not blobs: read into memory.
fn is_metadata(path: &str, size: u64) -> bool {
    size <= 64 << 20 && (path.ends_with(".json") || path == "repositories" || path == "oci-layout")
}

impl Unpacked {
    /// The blob at archive path `p`, following the symlinks old Docker archives use
    /// for repeated layers.
    fn blob(&self, p: &str) -> Result<Digest> {
        let mut p = clean(p);
        for _ in 0..16 {
            if let Some(d) = digest_from_layout_path(Path::new(&p))
                && (self.blobs.contains_key(&p) || self.files.contains_key(&p))
            {
                return Ok(d);
            }
            if let Some(d) = self.blobs.get(&p) {
                return Ok(d.clone());
            }
            match self.symlinks.get(&p) {
                Some(t) => p = t.clone(),
                None => break,
            }
        }
        Err(Error::InvalidInput(format!(
            "invalid archive: {p} is missing"
        )))
    }
}

fn clean(p: &str) -> String {
    clean_path(p.as_bytes()).to_string_lossy().into_owned()
}

/// Loads every image in the archive read from `input` (plain, gzip or zstd) into
/// `store`. Nothing is registered unless all its blobs verify and its layers unpack.
pub fn load(
    store: &Store,
    input: impl Read,
    progress: &mut dyn FnMut(Progress),
) -> Result<Vec<Loaded>> {
    let lock = store.lock()?;
    let res = load_locked(store, input, progress, &lock);
    // Either way, drop what no image references: the blobs of a failed load, or
    // those of a manifest the load replaced (same image, other compression), and
    // blobs of the archive that belong to no image (an index, an unused platform).
    let gc = store.gc_locked(&lock);
    let loaded = res?;
    gc?;
    Ok(loaded)
}

fn load_locked(
    store: &Store,
    input: impl Read,
    progress: &mut dyn FnMut(Progress),
    lock: &WriteLock,
) -> Result<Vec<Loaded>> {
    let mut input = BufReader::with_capacity(1 << 20, input);
    let head = input.fill_buf().ctx("read archive", "input")?;
    if head.is_empty() {
        return Err(Error::InvalidInput(
            "invalid archive: the input is empty".into(),
        ));
    }
    let decoded: Box<dyn Read> = match Compression::sniff(head) {
        Compression::None => Box::new(input),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(input)),
        Compression::Zstd => Box::new(
            zstd::stream::read::Decoder::with_buffer(input).ctx("start zstd decoder", "archive")?,
        ),
    };
    let u = read_archive(store, decoded, progress)?;
    // An OCI index, when there is one, lists every image (a layout that other tools
    // added to after Docker wrote it has images manifest.json does not know); the
    // names manifest.json gives are added to the images it describes.
    let images = if u.files.contains_key("index.json") {
        let mut images = oci_images(store, &u)?;
        if u.files.contains_key("manifest.json") {
            for (m, names) in docker_images(store, &u)? {
                let config = parse_json::<Manifest>(&store.content().read(&m)?, "manifest")?
                    .config
                    .digest;
                for (om, onames) in images.iter_mut() {
                    let oconfig = parse_json::<Manifest>(&store.content().read(om)?, "manifest")?
                        .config
                        .digest;
                    if oconfig == config {
                        for n in &names {
                            if !onames.contains(n) {
                                onames.push(n.clone());
                            }
                        }
                    }
                }
            }
        }
        images
    } else if u.files.contains_key("manifest.json") {
        docker_images(store, &u)?
    } else {
        return Err(Error::InvalidInput(
            "invalid archive: it has neither manifest.json (docker) nor index.json (OCI)".into(),
        ));
    };
    let mut out = Vec::new();
    for (manifest, names) in images {
        unpack_image(store, &manifest, progress)?;
        let (id, moved) = store.register(&manifest, &names, lock)?;
        out.push(Loaded { id, names, moved });
    }
    Ok(out)
}

fn read_archive(
    store: &Store,
    r: impl Read,
    progress: &mut dyn FnMut(Progress),
) -> Result<Unpacked> {
    let mut u = Unpacked::default();
    let mut ar = tar::Archive::new(r);
    let bad = |e: io::Error| Error::InvalidInput(format!("invalid archive: {e}"));
    for e in ar.entries().map_err(bad)? {
        let mut e = e.map_err(bad)?;
        let path = clean(&String::from_utf8_lossy(&e.path_bytes()));
        match e.header().entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => {}
            tar::EntryType::Symlink => {
                if let Some(t) = e.link_name_bytes() {
                    let base = Path::new(&path).parent().unwrap_or(Path::new(""));
                    let t = base.join(String::from_utf8_lossy(&t).as_ref());
                    u.symlinks.insert(path, clean(&t.to_string_lossy()));
                }
                continue;
            }
            tar::EntryType::Link => {
                if let Some(t) = e.link_name_bytes() {
                    u.symlinks.insert(path, clean(&String::from_utf8_lossy(&t)));
                }
                continue;
            }
            _ => continue,
        }
        let size = e.size();
        if let Some(d) = digest_from_layout_path(Path::new(&path)) {
            if is_metadata(&path, size) || size <= 1 << 20 {
                // Small blobs (manifests, configs, indexes) are needed in memory too.
                let mut v = Vec::with_capacity(size as usize);
                e.read_to_end(&mut v).map_err(bad)?;
                if Digest::of(&v) != d {
                    return Err(Error::DigestMismatch {
                        what: format!("archive blob {path}"),
                        expected: d.to_string(),
                        actual: Digest::of(&v).to_string(),
                    });
                }
                store.content().write_bytes(&v)?;
                u.files.insert(path.clone(), v);
                if u.files.contains_key("index.json") {
                    u.plan = plan_layers(store, &u);
                }
            } else if let Some(pl) = streamable(store, &u, &d) {
                // One pass: the blob is stored, hashed, decompressed, diff-hashed and
                // unpacked as it streams out of the archive.
                let w = store.content().writer()?;
                let mut tee = crate::digest::TeeReader::new(&mut e, w);
                let (_, stats) = store
                    .layers()
                    .unpack(
                        pl.parent.as_ref(),
                        Some(&pl.diff_id),
                        Some(pl.compression),
                        &mut tee,
                    )
                    .map_err(|err| in_layer(err, &d))?;
                let (_, w) = tee.into_parts();
                w.commit(Some(&d)).map_err(|err| blob_error(err, &path))?;
                progress(Progress::Layer {
                    diff_id: pl.diff_id.clone(),
                    size: stats.size,
                });
            } else if !store.content().contains(&d) {
                store
                    .content()
                    .write_from(&mut e, Some(&d))
                    .map_err(|err| blob_error(err, &path))?;
            }
            progress(Progress::Blob {
                digest: d.clone(),
                size,
            });
            u.blobs.insert(path, d);
        } else if is_metadata(&path, size) {
            let mut v = Vec::new();
            e.read_to_end(&mut v).map_err(bad)?;
            let index = path == "index.json";
            u.files.insert(path, v);
            if index {
                u.plan = plan_layers(store, &u);
            }
        } else {
            // An old-style `<id>/layer.tar`: named by its path, not its digest.
            let (d, n) = store.content().write_from(&mut e, None)?;
            progress(Progress::Blob {
                digest: d.clone(),
                size: n,
            });
            u.blobs.insert(path, d);
        }
    }
    Ok(u)
}

/// The plan for blob `d` when it can be unpacked right now: planned, not stored yet,
/// not unpacked yet, and its parent layer unpacked.
fn streamable(store: &Store, u: &Unpacked, d: &Digest) -> Option<PlannedLayer> {
    let pl = u.plan.get(d)?;
    let chain = crate::digest::chain_id(pl.parent.as_ref(), &pl.diff_id);
    let ready = !store.content().contains(d)
        && !store.layers().contains(&chain)
        && pl
            .parent
            .as_ref()
            .is_none_or(|p| store.layers().contains(p));
    ready.then(|| pl.clone())
}

/// Names the layer in an error about its content.
fn in_layer(err: Error, layer: &Digest) -> Error {
    match err {
        Error::InvalidInput(m) => Error::InvalidInput(format!("layer {layer}: {m}")),
        Error::DigestMismatch {
            what,
            expected,
            actual,
        } => Error::DigestMismatch {
            what: format!("{what} of layer {layer}"),
            expected,
            actual,
        },
        other => other,
    }
}

/// Names the archive path in a blob digest mismatch.
fn blob_error(err: Error, path: &str) -> Error {
    match err {
        Error::DigestMismatch {
            expected, actual, ..
        } => Error::DigestMismatch {
            what: format!("archive blob {path}"),
            expected,
            actual,
        },
        other => other,
    }
}

/// Images of a Docker archive: `manifest.json` lists config, names and layers. When
/// the archive is also an OCI layout (Docker 25+), the OCI manifest for the same config
/// is kept, so the image keeps its manifest digest.
fn docker_images(store: &Store, u: &Unpacked) -> Result<Vec<(Digest, Vec<Reference>)>> {
    let entries: Vec<ArchiveManifest> =
        parse_json(&u.files["manifest.json"], "archive manifest.json")?;
    let oci: Vec<Digest> = match u.files.get("index.json") {
        Some(d) => {
            let idx: Index = parse_json(d, "archive index.json")?;
            let mut v = Vec::new();
            for m in idx.manifests {
                v.extend(pick_manifests(store, &m)?);
            }
            v
        }
        None => Vec::new(),
    };
    let mut out = Vec::new();
    for e in entries {
        let config = match u.blob(&e.config) {
            Ok(d) => d,
            Err(_) => {
                let data = u.files.get(&clean(&e.config)).ok_or_else(|| {
                    Error::InvalidInput(format!("invalid archive: config {} is missing", e.config))
                })?;
                store.content().write_bytes(data)?
            }
        };
        let config_bytes = store.content().read(&config)?;
        let mut manifest = None;
        for m in &oci {
            let mm: Manifest = parse_json(&store.content().read(m)?, "manifest")?;
            if mm.config.digest == config {
                manifest = Some(m.clone());
                break;
            }
        }
        let manifest = match manifest {
            Some(m) => m,
            None => {
                let mut layers = Vec::new();
                for l in &e.layers {
                    let d = u.blob(l)?;
                    let mut head = [0u8; 4];
                    let n = store
                        .content()
                        .open_blob(&d)?
                        .read(&mut head)
                        .ctx("read blob", store.content().path(&d))?;
                    layers.push(Descriptor {
                        media_type: Compression::sniff(&head[..n]).oci_media_type().into(),
                        size: store.content().size(&d)?,
                        digest: d,
                        annotations: BTreeMap::new(),
                        platform: None,
                    });
                }
                let m = Manifest {
                    schema_version: 2,
                    media_type: Some(spec::MEDIA_OCI_MANIFEST.into()),
                    config: Descriptor {
                        media_type: spec::MEDIA_OCI_CONFIG.into(),
                        digest: config,
                        size: config_bytes.len() as u64,
                        annotations: BTreeMap::new(),
                        platform: None,
                    },
                    layers,
                    annotations: BTreeMap::new(),
                };
                store
                    .content()
                    .write_bytes(&serde_json::to_vec(&m).expect("manifest serialises"))?
            }
        };
        let mut names = Vec::new();
        for t in e.repo_tags.unwrap_or_default() {
            names.push(Reference::parse_with_default_tag(&t)?);
        }
        out.push((manifest, names));
    }
    Ok(out)
}

/// Images of an OCI layout: each manifest its `index.json` lists (through nested
/// indexes, choosing this machine's platform), named by the annotations.
fn oci_images(store: &Store, u: &Unpacked) -> Result<Vec<(Digest, Vec<Reference>)>> {
    let idx: Index = parse_json(&u.files["index.json"], "archive index.json")?;
    let mut out: Vec<(Digest, Vec<Reference>)> = Vec::new();
    for d in &idx.manifests {
        let name = d
            .annotations
            .get(spec::ANNOTATION_IMAGE_NAME)
            // A ref.name may be a bare tag ("latest"), which names no repository; with
            // a ':', '/' or '@' it is a whole name (skopeo writes "bb:1").
            .or_else(|| {
                d.annotations
                    .get(spec::ANNOTATION_REF_NAME)
                    .filter(|n| n.contains([':', '/', '@']))
            })
            .map(|n| Reference::parse_with_default_tag(n))
            .transpose()?;
        for m in pick_manifests(store, d)? {
            match out.iter_mut().find(|(x, _)| *x == m) {
                Some((_, names)) => names.extend(name.clone()),
                None => out.push((m, name.iter().cloned().collect())),
            }
        }
    }
    if out.is_empty() {
        return Err(Error::InvalidInput(
            "invalid archive: index.json lists no image".into(),
        ));
    }
    Ok(out)
}

/// The image manifests a descriptor leads to: itself, or the one of a (nested) index
/// that matches this machine's platform.
fn pick_manifests(store: &Store, d: &Descriptor) -> Result<Vec<Digest>> {
    match d.media_type.as_str() {
        spec::MEDIA_OCI_MANIFEST | spec::MEDIA_DOCKER_MANIFEST => Ok(vec![d.digest.clone()]),
        spec::MEDIA_OCI_INDEX | spec::MEDIA_DOCKER_LIST => {
            let idx: Index = parse_json(&store.content().read(&d.digest)?, "image index")?;
            let arch = host_arch();
            let chosen = idx
                .manifests
                .iter()
                .find(|m| {
                    m.platform
                        .as_ref()
                        .is_some_and(|p| p.os == "linux" && p.architecture == arch)
                })
                .or_else(|| (idx.manifests.len() == 1).then(|| &idx.manifests[0]))
                .ok_or_else(|| {
                    Error::InvalidInput(format!(
                        "image index {} has no manifest for linux/{arch}",
                        d.digest
                    ))
                })?;
            pick_manifests(store, chosen)
        }
        other => Err(Error::InvalidInput(format!(
            "unsupported manifest media type {other:?} in archive index"
        ))),
    }
}

/// Unpacks the layers of manifest `m` that are not unpacked yet, verifying each blob's
/// digest and diff ID in the same pass that decompresses and unpacks it.
fn unpack_image(store: &Store, m: &Digest, progress: &mut dyn FnMut(Progress)) -> Result<()> {
    let manifest: Manifest = parse_json(&store.content().read(m)?, "manifest")?;
    let config: ImageConfig = parse_json(
        &store.content().read(&manifest.config.digest)?,
        "image config",
    )?;
    if config.rootfs.diff_ids.len() != manifest.layers.len() {
        return Err(Error::InvalidInput(format!(
            "image config {} lists {} layers but its manifest has {}",
            manifest.config.digest,
            config.rootfs.diff_ids.len(),
            manifest.layers.len()
        )));
    }
    let mut parent: Option<Digest> = None;
    for (l, diff_id) in manifest.layers.iter().zip(&config.rootfs.diff_ids) {
        let comp = Compression::from_media_type(&l.media_type).ok_or_else(|| {
            Error::InvalidInput(format!(
                "unsupported layer media type {:?} (layer {})",
                l.media_type, l.digest
            ))
        })?;
        // The blob's digest was verified as it entered the content store; the diff
        // ID is verified here, in the pass that decompresses and unpacks it.
        let chain = crate::digest::chain_id(parent.as_ref(), diff_id);
        if !store.layers().contains(&chain) {
            let mut f = store.content().open_blob(&l.digest)?;
            let (_, stats) = store
                .layers()
                .unpack(parent.as_ref(), Some(diff_id), Some(comp), &mut f)
                .map_err(|err| in_layer(err, &l.digest))?;
            progress(Progress::Layer {
                diff_id: diff_id.clone(),
                size: stats.size,
            });
        }
        parent = Some(chain);
    }
    Ok(())
}

/// Writes images `names` (names or IDs) to `out` as Docker 25+ does. A name without a
/// tag saves every tag of that repository; an ID saves the image without names.
pub fn save(store: &Store, names: &[String], out: impl Write) -> Result<()> {
    // Image ID -> names to write, in the order asked. Everything is resolved before
    // a byte is written, so a missing image fails the save without output.
    let mut images: Vec<(Digest, Vec<Reference>)> = Vec::new();
    let all = store.images()?;
    let mut add = |id: Digest, r: Option<Reference>| match images.iter_mut().find(|(i, _)| *i == id)
    {
        Some((_, v)) => v.extend(r.filter(|r| !v.contains(r))),
        None => images.push((id, r.into_iter().collect())),
    };
    for n in names {
        let name_only = Reference::parse(n)
            .ok()
            .filter(|r| r.tag().is_none() && r.digest().is_none());
        // A repository without a tag saves every tag it has, as docker save does.
        let tagged: Vec<(Digest, Reference)> = match &name_only {
            Some(r) => all
                .iter()
                .flat_map(|img| {
                    img.tags()
                        .into_iter()
                        .map(move |t| (img.id().clone(), t.clone()))
                })
                .filter(|(_, t)| t.name() == r.name())
                .collect(),
            None => Vec::new(),
        };
        if !tagged.is_empty() {
            for (id, t) in tagged {
                add(id, Some(t));
            }
            continue;
        }
        let id = store.resolve(n)?;
        let by_id = n.starts_with("sha256:")
            || (n.bytes().all(|b| b.is_ascii_hexdigit()) && id.hex().starts_with(n.as_str()));
        let r = if by_id {
            None
        } else {
            Reference::parse_with_default_tag(n)
                .ok()
                .filter(|r| r.tag().is_some())
        };
        add(id, r);
    }

    let mut b = tar::Builder::new(out);
    let mut written: std::collections::HashSet<Digest> = std::collections::HashSet::new();
    let mut index = Index {
        schema_version: 2,
        media_type: Some(spec::MEDIA_OCI_INDEX.into()),
        manifests: Vec::new(),
        annotations: BTreeMap::new(),
    };
    let mut docker: Vec<ArchiveManifest> = Vec::new();
    let mut repos: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let dir = |b: &mut tar::Builder<_>, p: &str| -> Result<()> {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_size(0);
        h.set_mtime(0);
        b.append_data(&mut h, p, io::empty())
            .ctx("write archive", p)
    };
    // Metadata first, then each image's manifest and config, then its layers, base
    // first: a reader can then unpack every layer as it streams past (berth load does).
    let mut blob_order: Vec<Digest> = Vec::new();
    for (id, refs) in &images {
        let img = store.image(id)?;
        let mut blobs = vec![img.record.manifest.clone(), id.clone()];
        blobs.extend(img.manifest.layers.iter().map(|l| l.digest.clone()));
        for d in blobs {
            if written.insert(d.clone()) {
                blob_order.push(d);
            }
        }
        let mdesc = |annotations: BTreeMap<String, String>| -> Result<Descriptor> {
            Ok(Descriptor {
                media_type: img
                    .manifest
                    .media_type
                    .clone()
                    .unwrap_or_else(|| spec::MEDIA_OCI_MANIFEST.into()),
                digest: img.record.manifest.clone(),
                size: store.content().size(&img.record.manifest)?,
                annotations,
                platform: None,
            })
        };
        if refs.is_empty() {
            index.manifests.push(mdesc(BTreeMap::new())?);
        }
        for r in refs {
            let mut a = BTreeMap::new();
            a.insert(spec::ANNOTATION_IMAGE_NAME.to_string(), r.to_string());
            a.insert(
                spec::ANNOTATION_REF_NAME.to_string(),
                r.tag().unwrap_or("latest").to_string(),
            );
            index.manifests.push(mdesc(a)?);
            if let (Some(t), Some(top)) = (r.tag(), img.manifest.layers.last()) {
                repos
                    .entry(r.familiar_name())
                    .or_default()
                    .insert(t.to_string(), top.digest.hex().to_string());
            }
        }
        docker.push(ArchiveManifest {
            config: format!("blobs/sha256/{}", id.hex()),
            repo_tags: (!refs.is_empty()).then(|| refs.iter().map(Reference::familiar).collect()),
            layers: img
                .manifest
                .layers
                .iter()
                .map(|l| format!("blobs/sha256/{}", l.digest.hex()))
                .collect(),
        });
    }
    let file = |b: &mut tar::Builder<_>, p: &str, data: &[u8]| -> Result<()> {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        h.set_mtime(0);
        b.append_data(&mut h, p, data).ctx("write archive", p)
    };
    file(
        &mut b,
        "index.json",
        &serde_json::to_vec(&index).expect("index serialises"),
    )?;
    file(
        &mut b,
        "manifest.json",
        &serde_json::to_vec(&docker).expect("manifest serialises"),
    )?;
    file(&mut b, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    if !repos.is_empty() {
        file(
            &mut b,
            "repositories",
            &serde_json::to_vec(&repos).expect("repositories serialise"),
        )?;
    }
    dir(&mut b, "blobs")?;
    dir(&mut b, "blobs/sha256")?;
    for d in blob_order {
        let f = store.content().open_blob(&d)?;
        let size = store.content().size(&d)?;
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o444);
        h.set_size(size);
        h.set_mtime(0);
        let p = format!("blobs/sha256/{}", d.hex());
        b.append_data(&mut h, &p, f).ctx("write archive", &p)?;
    }
    b.into_inner()
        .ctx("write archive", "output")?
        .flush()
        .ctx("write archive", "output")?;
    Ok(())
}
