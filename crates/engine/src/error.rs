//! The engine's error type. Each variant knows whether the user asked for something
//! impossible (Docker answers those with "Error response from daemon" and exit 1) or
//! berth itself failed, and which exit code a `run` that hit it ends with.

/// Errors of engine operations.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No container has this name or ID (prefix).
    #[error("No such container: {0}")]
    NoSuchContainer(String),
    /// No volume has this name.
    #[error("get {0}: no such volume")]
    NoSuchVolume(String),
    /// No image has this name or ID.
    #[error("No such image: {0}")]
    NoSuchImage(String),
    /// The request conflicts with existing state (a name in use, a running container).
    #[error("{0}")]
    Conflict(String),
    /// A flag or argument has a value berth cannot use.
    #[error("{0}")]
    InvalidArgument(String),
    /// The container is not in a state that allows the operation.
    #[error("{0}")]
    WrongState(String),
    /// The container's process could not be started; `code` is Docker's exit code
    /// for it (126 cannot invoke, 127 not found, 125 anything else).
    #[error("{message}")]
    Start {
        /// What failed, in Docker's words.
        message: String,
        /// The exit code a `run` reports.
        code: i32,
    },
    /// The OCI runtime failed.
    #[error(transparent)]
    Runtime(#[from] berth_runtime::Error),
    /// The image store failed.
    #[error(transparent)]
    Image(#[from] berth_image::Error),
    /// The network layer failed or refused (an unknown network, a port in use).
    #[error(transparent)]
    Network(#[from] berth_network::Error),
    /// A file operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was attempted, on what.
        what: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl Error {
    /// True when the user asked for something that cannot be done (exit 1 for most
    /// commands), false when berth itself failed.
    pub fn is_user_error(&self) -> bool {
        match self {
            Error::NoSuchContainer(_)
            | Error::NoSuchImage(_)
            | Error::NoSuchVolume(_)
            | Error::Conflict(_)
            | Error::InvalidArgument(_)
            | Error::WrongState(_)
            | Error::Start { .. } => true,
            Error::Image(e) => e.is_user_error(),
            Error::Network(e) => matches!(
                e,
                berth_network::Error::Invalid(_)
                    | berth_network::Error::NotFound(_)
                    | berth_network::Error::Conflict(_)
            ),
            Error::Runtime(_) | Error::Io { .. } => false,
        }
    }

    /// The exit code `run` and `start` report for this failure: 126 or 127 when the
    /// command could not be invoked or found, 125 for everything else.
    pub fn run_exit_code(&self) -> i32 {
        match self {
            Error::Start { code, .. } => *code,
            _ => 125,
        }
    }
}

/// Builds an [`Error::Io`] from a `what` description.
pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let what = what.into();
    move |source| Error::Io { what, source }
}

/// Result alias for the engine.
pub type Result<T> = std::result::Result<T, Error>;
