//! Container lifecycle operations, one file per verb, as the OCI runtime spec
//! defines them: create, start, state, kill, delete, plus runc's exec, ps, pause,
//! resume, update and events.

mod create;
mod delete;
mod events;
mod exec;
mod kill;
mod pause;
mod rootless;
mod start;
mod status;
mod tty;
mod update;
mod wait;

pub use create::CreateOptions;
pub use kill::parse_signal;
pub use exec::ExecOptions;
pub use status::OciState;
pub use tty::{Console, RawMode, proxy};
pub use wait::{exit_code, prepare_foreground, wait_foreground};

use std::path::PathBuf;

use crate::cgroups;
use crate::error::Result;
use crate::state::{Root, Saved};

/// A runtime instance: a state root and global options.
#[derive(Debug, Clone)]
pub struct Runtime {
    /// Where container state lives.
    pub root: Root,
    /// `--systemd-cgroup`: cgroupsPath is `slice:prefix:name`.
    pub systemd_cgroup: bool,
}

impl Runtime {
    /// Opens a runtime on a state root directory.
    pub fn new(root: &std::path::Path, systemd_cgroup: bool) -> Result<Runtime> {
        Ok(Runtime {
            root: Root::open(root)?,
            systemd_cgroup,
        })
    }

    /// The cgroup manager of a saved container.
    pub(crate) fn cgroup(&self, s: &Saved) -> Result<Box<dyn cgroups::Manager>> {
        if s.no_cgroup {
            return Ok(Box::new(rootless::NoCgroup));
        }
        Ok(cgroups::new_manager(
            s.cgroups_path.as_deref(),
            &s.id,
            s.systemd_cgroup,
        )?)
    }

    /// The state directory of a container.
    pub fn dir(&self, id: &str) -> Result<PathBuf> {
        self.root.container_dir(id)
    }
}

/// The cgroup directory a new process can be born into (clone3 with
/// CLONE_INTO_CGROUP), opened O_PATH, where the host allows it (pure v2); None
/// means the process is moved there with [`cgroups::Manager::add_task`].
fn clone_into(cg: &dyn cgroups::Manager) -> Option<std::os::fd::OwnedFd> {
    use nix::fcntl::OFlag;
    let dir = cg.clone_into_dir()?;
    nix::fcntl::open(
        &dir,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ok()
}
