//! berth-runtime: an OCI runtime. A bundle (config.json + root filesystem) becomes an
//! isolated process: namespaces, a pivoted root, cgroups, then exec.
//!
//! The library is what berth's engine calls in-process; the `berth-runtime` binary is
//! the same library behind runc's command line.
//!
//! Where to find things: [`container`] has one file per lifecycle verb; [`process`]
//! forks and sets up the container's process; [`namespaces`], [`rootfs`],
//! [`cgroups`], [`capabilities`] and [`terminal`] each own one kernel concept;
//! [`sys`] holds the raw system calls; [`explain`] traces every kernel step.

pub mod capabilities;
pub mod cgroups;
pub mod container;
pub mod error;
pub mod exeguard;
pub mod explain;
pub mod hooks;
pub mod lsm;
pub mod namespaces;
pub mod process;
pub mod rootfs;
pub mod seccomp;
pub mod spec;
pub mod state;
pub mod sys;
pub mod terminal;

pub use container::{CreateOptions, ExecOptions, Runtime};
pub use cgroups::detect::unescape as unescape_mountinfo;
pub use error::{Error, Result};
