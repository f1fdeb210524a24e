//! berth's image store.
//!
//! - [`content`]: blobs by sha256 digest, verified and written atomically;
//! - [`reference`](mod@reference): image names parsed and normalised as Docker does;
//! - [`spec`]: manifests, indexes and image configs;
//! - [`apply`]: layer tars unpacked safely into directories, whiteouts for overlayfs;
//! - [`layers`]: those directories keyed by chain ID and shared between images;
//! - [`store`]: the image index (names, manifests, configs) and the operations on it;
//! - [`archive`]: `docker save`/`load` archives and OCI image layouts;
//! - [`snapshot`]: container root filesystems as overlay mounts over the layers;
//! - [`diff`]: an overlay upper directory turned back into a layer changeset;
//! - [`digest`]: sha256 digests, chain IDs and hashing readers;
//! - [`time`]: RFC 3339 times as image configs carry them;
//! - [`change`]: Dockerfile instructions (`--change`) applied to an image config.
//!
//! The image types are berth's own serde structs rather than oci-spec's: Docker's
//! config carries fields OCI's lacks (Healthcheck, OnBuild, Shell), and `inspect`
//! must print Docker's field names and order.
//!
//! Writers (import, load, tag, rmi, prune, snapshot changes) hold [`store::WriteLock`];
//! readers take no lock and see either the old or the new `images.json`.

pub mod apply;
pub mod archive;
pub mod change;
pub mod content;
pub mod diff;
pub mod digest;
pub mod error;
mod fsutil;
pub mod layers;
pub mod reference;
pub mod snapshot;
pub mod spec;
pub mod store;
pub mod time;

pub use digest::Digest;
pub use error::{Error, Result};
pub use reference::Reference;
pub use store::Store;
