//! `commit`: a container's changes become a new image — its upper directory as a
//! layer on top of its image's, its configuration as the image's defaults.

use std::collections::BTreeMap;

use berth_image::spec::{self, Descriptor, History, ImageConfig, Manifest, RootFs};
use berth_image::{Digest, Reference};

use crate::error::{Error, Result};
use crate::record::Status;
use crate::{Engine, changes};

/// What `commit` takes besides the container.
#[derive(Clone, Debug, Default)]
pub struct CommitOptions {
    /// `REPOSITORY[:TAG]` to name the image.
    pub reference: Option<String>,
    /// `-m`.
    pub message: Option<String>,
    /// `-a`.
    pub author: Option<String>,
    /// Freeze a running container during the commit (Docker's default).
    pub pause: bool,
    /// `-c`: Dockerfile instructions applied to the new image's config, in order.
    pub changes: Vec<String>,
}

impl Engine {
    /// Commits container `key`; returns the new image's ID.
    pub fn commit(&self, key: &str, o: &CommitOptions) -> Result<Digest> {
        let c = self.find(key)?;
        // Refuse a bad change before anything is frozen or written.
        let mut probe = spec::ContainerConfig::default();
        for ch in &o.changes {
            berth_image::change::apply(&mut probe, ch).map_err(Error::InvalidArgument)?;
        }
        let names = match &o.reference {
            Some(r) => vec![Reference::parse_with_default_tag(r)?],
            None => Vec::new(),
        };
        let paused_here = o.pause && c.state.status == Status::Running && !c.state.paused;
        if paused_here {
            self.pause(&c.id)?;
        }
        let r = self.commit_locked(&c, &names, o);
        if paused_here {
            let _ = self.unpause(&c.id);
        }
        r
    }

    fn commit_locked(
        &self,
        c: &crate::record::Container,
        names: &[Reference],
        o: &CommitOptions,
    ) -> Result<Digest> {
        let store = self.store();
        let base = self.resolve_image(&c.image_id)?;
        let upper = changes::upper_dir(self, &c.id)?;
        let lowers = changes::lower_dirs(self, &c.id)?;
        // Mount points berth made are no part of the image, as with Docker.
        let own = self.init_layer(c, &upper, &lowers);
        let lock = store.lock()?;
        let tar = berth_image::diff::diff_tar_excluding(&upper, store.root().join("tmp"), &own)?;
        let result = (|| {
            let file = std::fs::File::open(&tar)
                .map_err(crate::error::io(format!("open {}", tar.display())))?;
            let blob = store.content().writer()?;
            let mut tee = berth_image::digest::TeeReader::new(file, blob);
            let (info, _) = store.layers().unpack(
                base.record.top_layer.as_ref(),
                None,
                Some(spec::Compression::None),
                &mut tee,
            )?;
            let (_, blob) = tee.into_parts();
            let (blob_digest, blob_size) = blob.commit(Some(&info.diff_id))?;
            let now = berth_image::time::now_rfc3339();
            let mut diff_ids = base.config.rootfs.diff_ids.clone();
            diff_ids.push(info.diff_id.clone());
            let mut history = base.config.history.clone();
            history.push(History {
                created: Some(now.clone()),
                author: o.author.clone(),
                created_by: Some(format!("{} {}", c.path, c.args.join(" "))),
                comment: o.message.clone(),
                ..History::default()
            });
            let mut defaults = base.config.config.clone().unwrap_or_default();
            defaults.env = Some(c.config.env.clone());
            defaults.cmd = Some(c.config.cmd.clone());
            defaults.entrypoint =
                (!c.config.entrypoint.is_empty()).then(|| c.config.entrypoint.clone());
            defaults.working_dir =
                (!c.config.working_dir.is_empty()).then(|| c.config.working_dir.clone());
            defaults.user = (!c.config.user.is_empty()).then(|| c.config.user.clone());
            defaults.labels = (!c.config.labels.is_empty()).then(|| c.config.labels.clone());
            if !c.config.stop_signal.is_empty() {
                defaults.stop_signal = Some(c.config.stop_signal.clone());
            }
            if let Some(h) = &c.config.healthcheck {
                defaults.healthcheck = serde_json::to_value(h).ok();
            }
            // The container's config is the image's, then `-c` changes it.
            for ch in &o.changes {
                berth_image::change::apply(&mut defaults, ch).map_err(Error::InvalidArgument)?;
            }
            let config = ImageConfig {
                created: Some(now),
                author: o.author.clone(),
                config: Some(defaults),
                rootfs: RootFs {
                    kind: "layers".into(),
                    diff_ids,
                },
                history,
                comment: o.message.clone(),
                ..base.config.clone()
            };
            let config_bytes = serde_json::to_vec(&config).expect("config serialises");
            let config_digest = store.content().write_bytes(&config_bytes)?;
            let mut layers = base.manifest.layers.clone();
            layers.push(Descriptor {
                media_type: spec::MEDIA_OCI_LAYER.into(),
                digest: blob_digest,
                size: blob_size,
                annotations: BTreeMap::new(),
                platform: None,
            });
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
                layers,
                annotations: BTreeMap::new(),
            };
            let mdigest = store
                .content()
                .write_bytes(&serde_json::to_vec(&manifest).expect("manifest serialises"))?;
            let (id, _) = store.register(&mdigest, names, &lock)?;
            Ok::<_, Error>(id)
        })();
        let _ = std::fs::remove_file(&tar);
        result
    }
}
