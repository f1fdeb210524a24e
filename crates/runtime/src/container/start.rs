//! `start`: releases a created container's init into exec.

use std::os::fd::{AsFd, BorrowedFd};

use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::stat::Mode;

use super::Runtime;
use crate::error::{Error, Result, sys};
use crate::explain::step;
use crate::hooks::{self, Kind};
use crate::state::{EXEC_FIFO, Saved, Status};

impl Runtime {
    /// Starts a created container: opens its exec fifo, which unblocks init, and
    /// waits for init's byte saying it is about to exec.
    pub fn start(&self, id: &str) -> Result<()> {
        let s = self.root.load(id)?;
        match self.status(&s) {
            Status::Created => {}
            Status::Stopped => {
                return Err(Error::WrongState("cannot start a container that has stopped".into()));
            }
            Status::Creating => {
                return Err(Error::WrongState("cannot start a container that is still being created".into()));
            }
            _ => {
                return Err(Error::WrongState("cannot start an already running container".into()));
            }
        }
        let fifo = self.root.path().join(id).join(EXEC_FIFO);
        // Non-blocking: if init died in between, a blocking open would wait forever.
        let fd = nix::fcntl::open(
            &fifo,
            OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(sys(format!("cannot open {}", fifo.display())))?;
        step(
            || "read exec.fifo (init's go-ahead)".into(),
            || -> Result<()> {
                if read_fifo(fd.as_fd(), &s, &mut [0u8; 1], |n| n == 1)? {
                    Ok(())
                } else {
                    Err(Error::WrongState("cannot start a container that has stopped".into()))
                }
            },
        )?;
        let _ = std::fs::remove_file(&fifo);
        if s.poststart {
            // Init holds the fifo open until its exec closes it: the end of file
            // says the container's process is executed, as poststart needs.
            step(
                || "wait for exec.fifo's end of file (init executed)".into(),
                || read_fifo(fd.as_fd(), &s, &mut [0u8; 16], |n| n == 0).map(drop),
            )?;
            let spec = crate::spec::load(&s.bundle)?;
            let state = hooks::state_json(id, oci_spec::runtime::ContainerState::Running, s.pid, &s.bundle, &spec);
            hooks::run_warn(&spec, Kind::Poststart, &state);
        }
        Ok(())
    }
}

/// Polls the non-blocking exec fifo `fd` and reads it into `buf` until a read's
/// length is one `done` accepts (true), or init has died (false).
fn read_fifo(fd: BorrowedFd<'_>, s: &Saved, buf: &mut [u8], done: impl Fn(usize) -> bool) -> Result<bool> {
    loop {
        let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
        let n = poll(&mut fds, PollTimeout::from(100u16)).map_err(sys("poll exec fifo"))?;
        if n > 0 {
            match nix::unistd::read(fd, buf) {
                Ok(n) if done(n) => return Ok(true),
                Ok(_) | Err(nix::errno::Errno::EAGAIN) => {}
                Err(e) => return Err(sys("read exec fifo")(e)),
            }
        }
        if !s.alive() {
            return Ok(false);
        }
    }
}
