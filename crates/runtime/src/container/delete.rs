//! `delete`: removes a container's cgroup and state, killing it first when forced.

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::Runtime;
use crate::cgroups::FreezerState;
use crate::error::{Error, Result, io};
use crate::explain::step;
use crate::hooks::{self, Kind};
use crate::state::{Saved, Status};

/// Waits up to `timeout` for `pid` to exit (a pidfd turns readable on exit).
pub(crate) fn wait_exit(pid: i32, timeout: Duration) -> bool {
    let Ok(fd) = crate::sys::pidfd_open(pid) else {
        return true; // already gone
    };
    let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
    let ms = timeout.as_millis().min(u16::MAX as u128) as u16;
    matches!(poll(&mut fds, PollTimeout::from(ms)), Ok(n) if n > 0)
}

/// SIGKILLs the processes left in a cgroup until none is (for up to 5 s), thawing it
/// if frozen, since a frozen cgroup holds SIGKILL.
fn kill_leftovers(cg: &dyn crate::cgroups::Manager) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while let Ok(left) = cg.procs() {
        if left.is_empty() || Instant::now() > deadline {
            break;
        }
        for p in left {
            let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
        }
        if cg.freezer_state().ok() == Some(FreezerState::Frozen) {
            let _ = cg.set_freezer(FreezerState::Thawed);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

impl Runtime {
    /// Deletes container `id`. A created container is killed and deleted; a running
    /// or paused one only with `force`. With `force`, a missing container is not an
    /// error.
    pub fn delete(&self, id: &str, force: bool) -> Result<()> {
        let s = match self.root.load(id) {
            Ok(s) => s,
            Err(Error::NotFound(_)) if force => {
                // Nothing saved, but a directory may remain from a crashed create.
                let _ = std::fs::remove_dir_all(self.root.container_dir(id)?);
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        match self.status(&s) {
            // Init is gone, but a container without a pid namespace of its own (the
            // host's, or another container's: podman --pid host, a pod) can leave
            // processes in its cgroup, which then cannot be removed. runc kills them
            // on delete; without that, an engine's `rm` fails and they keep running.
            Status::Stopped => kill_leftovers(&*self.cgroup(&s)?),
            Status::Created => self.kill_and_wait(&s)?,
            st @ (Status::Running | Status::Paused | Status::Creating) => {
                if !force {
                    return Err(Error::WrongState(format!(
                        "cannot delete container {id} that is not stopped: {st}"
                    )));
                }
                self.kill_and_wait(&s)?;
            }
        }
        self.destroy(&s)
    }

    fn kill_and_wait(&self, s: &Saved) -> Result<()> {
        let cg = self.cgroup(s)?;
        let procs = cg.procs().unwrap_or_default();
        // pid 0 (a create that never finished) must never reach kill(2): it would
        // mean our own process group.
        for p in procs.iter().chain(std::iter::once(&s.pid)).filter(|p| **p > 0) {
            let _ = kill(Pid::from_raw(*p), Signal::SIGKILL);
        }
        // A frozen cgroup holds SIGKILL until thawed.
        if cg.freezer_state().ok() == Some(FreezerState::Frozen) {
            let _ = cg.set_freezer(FreezerState::Thawed);
        }
        step(
            || format!("wait for pid {} to exit", s.pid),
            || -> Result<()> {
                if s.pid > 0 && s.alive() && !wait_exit(s.pid, Duration::from_secs(10)) {
                    return Err(Error::State(format!(
                        "container {} did not exit within 10s of SIGKILL",
                        s.id
                    )));
                }
                Ok(())
            },
        )?;
        // Without a pid namespace the other processes do not die with init.
        kill_leftovers(&*cg);
        Ok(())
    }

    /// Removes the cgroup and the state directory of a stopped container.
    pub(crate) fn destroy(&self, s: &Saved) -> Result<()> {
        let cg = self.cgroup(s)?;
        cg.destroy()?;
        let dir = self.root.container_dir(&s.id)?;
        step(
            || format!("rm -r {}", dir.display()),
            || std::fs::remove_dir_all(&dir),
        )
        .map_err(io(format!("cannot remove {}", dir.display())))?;
        if s.poststop
            && let Ok(spec) = crate::spec::load(&s.bundle)
        {
            let state = hooks::state_json(&s.id, oci_spec::runtime::ContainerState::Stopped, 0, &s.bundle, &spec);
            hooks::run_warn(&spec, Kind::Poststop, &state);
        }
        Ok(())
    }
}
