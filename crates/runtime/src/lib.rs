//! berth-runtime: an OCI runtime. A bundle (config.json + root filesystem) becomes an
//! isolated process: namespaces, a pivoted root, cgroups, then exec.
//!
//! The library is what berth's engine calls in-process; the `berth-runtime` binary is
//! the same library behind runc's command line.

pub mod cgroups;
pub mod explain;
pub mod rootfs;
