//! seccomp: the config's `linux.seccomp` compiled to a BPF filter with libseccomp
//! and loaded into the container's init right before execve.
//!
//! - [`filter`] compiles a LinuxSeccomp with libseccomp (runc's rules: unknown
//!   syscalls skipped, rules equal to the default action skipped, conditions on one
//!   argument ORed);
//! - [`enosys`] makes the stub that answers syscalls newer than the profile with
//!   ENOSYS instead of the default action, as runc does;
//! - [`program`] holds the compiled BPF and its flags, caches programs on disk (the
//!   compilation takes milliseconds, a cached load microseconds) and loads one with
//!   a single seccomp(2) call, returning the notify listener fd when a rule uses
//!   SCMP_ACT_NOTIFY;
//! - [`listener`] hands that fd to the seccomp agent at listenerPath;
//! - [`docker_default`] turns Docker's default profile (moby's `default.json`, carried
//!   as data) into a LinuxSeccomp for a container's capabilities and architecture;
//! - [`names`] parses and translates action, operator, architecture and flag names.
//!
//! Ordering for the caller, as runc does it: with noNewPrivileges, set no_new_privs,
//! drop capabilities and switch uid, then [`load`] last before execve. Without it the
//! kernel only lets a process holding CAP_SYS_ADMIN load a filter, so [`load`] must
//! come before capabilities are dropped (and the profile must then allow the
//! syscalls that follow: capset, setresuid, prctl, execve — Docker's does).
//! [`load`] never sets no_new_privs itself: that is the config's choice.
//!
//! With SCMP_ACT_NOTIFY rules, loading yields a listener fd. The init passes it to
//! the runtime (SCM_RIGHTS over its channel: hence notify is refused on write and
//! sendmsg), and the runtime gives it to the agent with [`send_listener`], runc's
//! wire format, before the container starts.

pub mod docker_default;
pub mod enosys;
pub mod filter;
pub mod listener;
pub mod names;
pub mod program;
mod sys;

use std::os::fd::OwnedFd;

use oci_spec::runtime::LinuxSeccomp;

pub use docker_default::{DOCKER_DEFAULT_CAPABILITIES, ProfileTarget, docker_default_profile};
pub use filter::{Filter, compile};
pub use listener::send_listener;
pub use program::Program;

/// Errors of compiling, loading and handing over seccomp filters. Every message
/// starts with "seccomp: " and names the syscall, rule or flag concerned.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The profile asks for something invalid or unsupported.
    #[error("seccomp: {0}")]
    Config(String),
    /// libseccomp refused an operation.
    #[error("seccomp: cannot {what}: {}", lower_first(&source.to_string()))]
    Libseccomp {
        /// What was attempted, on what.
        what: String,
        /// libseccomp's error.
        source: libseccomp::error::SeccompError,
    },
    /// A system call failed.
    #[error("seccomp: cannot {what}: {}", crate::error::errno_text(*.errno))]
    Sys {
        /// What was attempted, on what.
        what: String,
        /// The kernel's error.
        errno: nix::errno::Errno,
    },
    /// A file operation failed.
    #[error("seccomp: cannot {what}: {}", crate::error::io_text(.source))]
    Io {
        /// What was attempted, on what.
        what: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// libseccomp's messages start with a capital; berth's are lowercase.
fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Compiles and loads `seccomp` into the calling thread (see the module doc for
/// when to call it). Returns the notify listener fd (close-on-exec) when a rule uses
/// SCMP_ACT_NOTIFY; the caller passes it to [`send_listener`] and closes it.
///
/// This compiles on every call. A runtime that starts many containers calls
/// [`Program::cached`] before entering the container's root (the cache lives in the
/// host's state directory) and [`Program::load`] right before execve instead.
pub fn load(seccomp: &LinuxSeccomp) -> Result<Option<OwnedFd>, Error> {
    Program::compile(seccomp)?.load()
}
