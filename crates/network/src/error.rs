//! Errors of the network layer.

use std::io;

/// What went wrong while setting up or tearing down container networking.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A system call or netlink request failed.
    #[error("{what}: {source}")]
    Io {
        /// What berth was doing, with the object it was doing it to.
        what: String,
        /// The kernel's answer.
        #[source]
        source: io::Error,
    },
    /// The caller asked for something invalid; the message is Docker's where Docker has one.
    #[error("{0}")]
    Invalid(String),
    /// A network, endpoint or link that should exist does not.
    #[error("{0}")]
    NotFound(String),
    /// A name, subnet, address or port is already taken.
    #[error("{0}")]
    Conflict(String),
    /// `nft` failed or answered something berth could not read.
    #[error("nftables: {0}")]
    Firewall(String),
    /// The state directory holds something berth cannot read.
    #[error("network state {path}: {reason}")]
    State {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A helper thread panicked.
    #[error("helper thread panicked {0}")]
    Thread(String),
}

impl Error {
    pub(crate) fn io(what: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            what: what.into(),
            source,
        }
    }
}

/// The network layer's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
