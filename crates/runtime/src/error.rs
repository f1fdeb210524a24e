//! The runtime's error type. Messages say what failed, on what, and what to do.

/// Errors of container operations.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bundle's config.json is missing, malformed or inconsistent.
    #[error("{0}")]
    Spec(String),
    /// A container's saved state is missing or unreadable.
    #[error("{0}")]
    State(String),
    /// The operation is not allowed in the container's current state.
    #[error("{0}")]
    WrongState(String),
    /// No container has this id.
    #[error("container \"{0}\" does not exist")]
    NotFound(String),
    /// The id is taken.
    #[error("container with id \"{0}\" already exists")]
    Exists(String),
    /// A system call failed.
    #[error("{what}: {}", errno_text(*.errno))]
    Sys {
        /// What was attempted, on what.
        what: String,
        /// The error the kernel returned.
        errno: nix::errno::Errno,
    },
    /// A file operation failed.
    #[error("{what}: {}", io_text(.source))]
    Io {
        /// What was attempted, on what.
        what: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The container's init reported a failure while setting itself up.
    #[error("{0}")]
    Init(String),
    /// A cgroup operation failed.
    #[error(transparent)]
    Cgroup(#[from] crate::cgroups::Error),
    /// seccomp filter compilation, loading or hand-off failed.
    #[error(transparent)]
    Seccomp(#[from] crate::seccomp::Error),
    /// Root filesystem setup failed.
    #[error(transparent)]
    Rootfs(#[from] crate::rootfs::Error),
    /// Invalid user input (a flag value, a signal name).
    #[error("{0}")]
    Usage(String),
}

/// Result alias for the runtime.
pub type Result<T> = std::result::Result<T, Error>;

/// Lowercase text for an errno, like Go's ("no such file or directory").
pub fn errno_text(e: nix::errno::Errno) -> String {
    let s = e.desc();
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// Text for an io::Error without Rust's "(os error N)" suffix.
pub fn io_text(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => errno_text(nix::errno::Errno::from_raw(n)),
        None => e.to_string(),
    }
}

/// Builds an [`Error::Sys`] from a `what` description.
pub fn sys(what: impl Into<String>) -> impl FnOnce(nix::errno::Errno) -> Error {
    let what = what.into();
    move |errno| Error::Sys { what, errno }
}

/// Builds an [`Error::Io`] from a `what` description.
pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let what = what.into();
    move |source| Error::Io { what, source }
}
