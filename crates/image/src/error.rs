//! The error type of the image store.

use std::path::PathBuf;

/// What can go wrong in the image store.
///
/// [`Error::is_user_error`] tells a caller whether the user asked for something
/// impossible (a name that does not exist, a malformed archive) or the store itself
/// failed (a disk error), so that a command line can pick its exit code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A reference that does not parse.
    #[error("invalid reference format: {0}")]
    InvalidReference(String),
    /// No image answers to the name or ID given.
    #[error("No such image: {0}")]
    NoSuchImage(String),
    /// The operation would break something that uses the object.
    #[error("conflict: {0}")]
    Conflict(String),
    /// Content did not hash to the digest that named it.
    #[error("digest mismatch for {what}: expected {expected}, got {actual}")]
    DigestMismatch {
        /// What was verified (a blob, a layer's diff ID).
        what: String,
        /// The digest that was promised.
        expected: String,
        /// The digest the bytes have.
        actual: String,
    },
    /// Input (an archive, a layer, a manifest, a change) that berth cannot use.
    #[error("{0}")]
    InvalidInput(String),
    /// A system call on a path failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// The operation, e.g. "create layer file".
        what: &'static str,
        /// The path it was done on.
        path: PathBuf,
        /// The failure.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// True when the failure comes from what the user asked for rather than from
    /// the store or the machine.
    ///
    /// A system call error counts as the user's when only odd input causes it (a
    /// layer whose names clash, nest too deep or are too long, a hardlink to a
    /// directory); disk-full, I/O and permission failures are the engine's.
    pub fn is_user_error(&self) -> bool {
        match self {
            Error::Io { source, .. } => matches!(
                source.raw_os_error(),
                Some(
                    libc::EEXIST
                        | libc::ENOTDIR
                        | libc::EISDIR
                        | libc::ENAMETOOLONG
                        | libc::ELOOP
                        | libc::EMLINK
                        | libc::EXDEV
                        | libc::EINVAL
                )
            ),
            _ => true,
        }
    }

    /// An [`Error::Io`] for `what` on `path`.
    pub fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            what,
            path: path.into(),
            source,
        }
    }
}

/// The store's result type.
pub type Result<T> = std::result::Result<T, Error>;

/// Adds the operation and path to an I/O result.
pub(crate) trait IoContext<T> {
    /// Maps an I/O error to [`Error::Io`] naming `what` and `path`.
    fn ctx(self, what: &'static str, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, what: &'static str, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|e| Error::io(what, path, e))
    }
}

impl<T> IoContext<T> for rustix::io::Result<T> {
    fn ctx(self, what: &'static str, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|e| Error::io(what, path, e.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_errnos_are_the_users_and_disk_errors_the_engines() {
        let e = |n| {
            Error::io(
                "create layer file",
                "/x",
                std::io::Error::from_raw_os_error(n),
            )
        };
        assert!(e(libc::ENAMETOOLONG).is_user_error());
        assert!(e(libc::EISDIR).is_user_error());
        assert!(!e(libc::ENOSPC).is_user_error());
        assert!(!e(libc::EIO).is_user_error());
        assert!(Error::NoSuchImage("x".into()).is_user_error());
    }
}
