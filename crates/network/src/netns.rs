//! Network namespaces: a handle on one, and running code inside it.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::{Path, PathBuf};

use nix::sched::{CloneFlags, setns};

use crate::error::{Error, Result};

/// An open network namespace, held by a file descriptor (a bind mount such as
/// `/run/netns/NAME`, or `/proc/PID/ns/net` of a process inside it).
#[derive(Debug)]
pub struct Netns {
    file: File,
    path: PathBuf,
}

impl Netns {
    /// Opens the network namespace at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let file = File::open(&path)
            .map_err(|e| Error::io(format!("open network namespace {}", path.display()), e))?;
        Ok(Netns { file, path })
    }

    /// Opens the network namespace of process `pid`.
    pub fn of_pid(pid: u32) -> Result<Self> {
        Self::open(format!("/proc/{pid}/ns/net"))
    }

    /// The path this namespace was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Brings up `lo` inside: all `--network none` needs (attaching to a network does it
    /// too).
    pub fn loopback_up(&self) -> Result<()> {
        let mut nl = self
            .run(crate::netlink::Netlink::open)?
            .map_err(|e| Error::io(format!("open netlink in {}", self.path.display()), e))?;
        // The loopback device is always the namespace's first link.
        nl.request(crate::link::up_msg(1), 0)
            .map_err(|e| Error::io(format!("bring up lo in {}", self.path.display()), e))
    }

    pub(crate) fn raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    /// Runs `f` on a short-lived thread that has joined this namespace and returns its
    /// result. Sockets `f` creates stay in this namespace after the thread ends, which is
    /// how berth gets a netlink socket (and tests a listener or client) inside it.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> Result<T> {
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    setns(self.file.as_fd(), CloneFlags::CLONE_NEWNET).map_err(|e| {
                        Error::io(
                            format!("join network namespace {}", self.path.display()),
                            e.into(),
                        )
                    })?;
                    Ok(f())
                })
                .join()
                .map_err(|_| {
                    Error::Thread(format!("in network namespace {}", self.path.display()))
                })?
        })
    }
}
