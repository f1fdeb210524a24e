//! Terminals: the container's pty is made inside the container (so it belongs to the
//! container's devpts instance) and its master is handed to whoever asked for it over
//! the `--console-socket` unix socket with SCM_RIGHTS, as runc does.

use std::io::IoSlice;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use nix::fcntl::OFlag;
use nix::sys::socket::{ControlMessage, ControlMessageOwned, MsgFlags, recvmsg, sendmsg};

use crate::error::{Error, Result, sys};
use crate::explain::step;
use crate::sys as raw;

/// Creates a pty inside the container, sends its master over `socket`, and makes the
/// slave this process's controlling terminal and stdio. `size` is (rows, cols).
pub fn setup_console(socket: &OwnedFd, size: Option<(u16, u16)>, dev_console: bool) -> Result<()> {
    let master = step(
        || "open /dev/ptmx (container's devpts)".into(),
        || nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC),
    )
    .map_err(sys("cannot open /dev/ptmx in the container"))?;
    nix::pty::grantpt(&master).map_err(sys("grantpt"))?;
    nix::pty::unlockpt(&master).map_err(sys("unlockpt"))?;
    let name = nix::pty::ptsname_r(&master).map_err(sys("ptsname"))?;
    let slave: OwnedFd = nix::fcntl::open(
        Path::new(&name),
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(sys(format!("cannot open {name}")))?;
    if let Some((rows, cols)) = size {
        raw::set_window_size(slave.as_raw_fd(), rows, cols).map_err(sys("set console size"))?;
    }
    if dev_console {
        // Programs write to /dev/console; make it this pty, as runc does.
        let _ = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open("/dev/console");
        step(
            || format!("mount --bind {name} /dev/console"),
            || {
                nix::mount::mount(
                    Some(Path::new(&name)),
                    "/dev/console",
                    None::<&str>,
                    nix::mount::MsFlags::MS_BIND,
                    None::<&str>,
                )
            },
        )
        .map_err(sys(format!("cannot bind {name} onto /dev/console")))?;
    }
    send_fd(socket.as_raw_fd(), master.as_raw_fd(), name.as_bytes())?;
    drop(master);
    raw::set_controlling_terminal(slave.as_raw_fd()).map_err(sys("TIOCSCTTY"))?;
    for fd in 0..3 {
        raw::dup_onto(slave.as_raw_fd(), fd).map_err(sys("dup the pty onto stdio"))?;
    }
    Ok(())
}

/// Sends `fd` with `name` as payload over a unix socket.
pub fn send_fd(socket: RawFd, fd: RawFd, name: &[u8]) -> Result<()> {
    let fds = [fd];
    let iov = [IoSlice::new(name)];
    sendmsg::<()>(socket, &iov, &[ControlMessage::ScmRights(&fds)], MsgFlags::empty(), None)
        .map_err(sys("cannot send the pty master over the console socket"))?;
    Ok(())
}

/// Receives one descriptor sent with [`send_fd`].
pub fn recv_fd(socket: RawFd) -> Result<OwnedFd> {
    let mut buf = [0u8; 4096];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut cmsg = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(socket, &mut iov, Some(&mut cmsg), MsgFlags::MSG_CMSG_CLOEXEC)
        .map_err(sys("receive the pty master"))?;
    for c in msg.cmsgs().map_err(sys("read control message"))? {
        if let ControlMessageOwned::ScmRights(fds) = c
            && let Some(fd) = fds.first()
        {
            // SAFETY: the kernel installed this descriptor in our table for us.
            return Ok(unsafe { OwnedFd::from_raw_fd(*fd) });
        }
    }
    Err(Error::Init("the container sent no pty master".into()))
}
