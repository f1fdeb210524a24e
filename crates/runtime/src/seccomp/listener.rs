//! Handing the notify listener fd to the seccomp agent at listenerPath.
//!
//! The OCI spec (config-linux.md, "The Container Process State") and runc agree on
//! the wire format: one connection to the agent's unix stream socket, one message
//! whose payload is the container process state as JSON and whose SCM_RIGHTS control
//! data carries the listener fd, named "seccompFd" in the state's `fds`.

use std::os::fd::{AsRawFd, BorrowedFd};
use std::path::Path;

use nix::sys::socket::{
    AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType, UnixAddr, connect, sendmsg, socket,
};
use oci_spec::runtime::{ContainerProcessState, LinuxSeccomp, State};

use super::Error;

/// The name of the listener fd in the state's `fds`, as the spec defines it.
pub const SECCOMP_FD_NAME: &str = "seccompFd";

/// The JSON payload sent with the fd: the OCI "container process state" for the
/// container process `pid` (as the runtime sees it, in the host pid namespace), with
/// the config's listenerMetadata and the container's `state` (status "creating"
/// when sent from create).
pub fn process_state(pid: i32, state: &State, metadata: Option<&str>) -> Result<Vec<u8>, Error> {
    let mut s = ContainerProcessState::default();
    s.set_version(state.version().clone());
    s.set_fds(vec![SECCOMP_FD_NAME.to_string()]);
    s.set_pid(pid);
    s.set_metadata(metadata.map(str::to_string));
    s.set_state(state.clone());
    serde_json::to_vec(&s)
        .map_err(|e| Error::Config(format!("cannot encode the process state: {e}")))
}

/// Sends `notify_fd` with the container process state to the agent listening at
/// `seccomp`'s listenerPath, as runc does: connect, one sendmsg carrying the state
/// JSON and the fd (SCM_RIGHTS), close. `pid` is the container process's pid in the
/// runtime's pid namespace; `state` is the container's OCI state. Called by the
/// runtime (not the container's init, whose filter may already block connect).
/// The caller closes its copy of `notify_fd` afterwards: the agent has its own.
pub fn send_listener(
    seccomp: &LinuxSeccomp,
    notify_fd: BorrowedFd<'_>,
    pid: i32,
    state: &State,
) -> Result<(), Error> {
    let path = seccomp.listener_path().as_deref().ok_or_else(|| {
        Error::Config("a notify listener fd was made but listenerPath is not set".into())
    })?;
    let payload = process_state(pid, state, seccomp.listener_metadata().as_deref())?;
    send_to(path, notify_fd, &payload)
}

/// Connects to the unix stream socket at `path` and sends `payload` with `fd`.
fn send_to(path: &Path, fd: BorrowedFd<'_>, payload: &[u8]) -> Result<(), Error> {
    let what = |verb: &str| format!("{verb} the seccomp agent at {}", path.display());
    let sock = socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|errno| Error::Sys {
        what: what("create a socket for"),
        errno,
    })?;
    let addr = UnixAddr::new(path).map_err(|errno| Error::Sys {
        what: what("address"),
        errno,
    })?;
    connect(sock.as_raw_fd(), &addr).map_err(|errno| Error::Sys {
        what: what("connect to"),
        errno,
    })?;
    let fds = [fd.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let mut sent = 0;
    // The fd rides on the first bytes; a short send (a full socket buffer) continues
    // with plain data.
    while sent < payload.len() {
        let iov = [std::io::IoSlice::new(&payload[sent..])];
        let control: &[ControlMessage] = if sent == 0 { &cmsg } else { &[] };
        let n = sendmsg::<UnixAddr>(
            sock.as_raw_fd(),
            &iov,
            control,
            MsgFlags::MSG_NOSIGNAL,
            None,
        )
        .map_err(|errno| Error::Sys {
            what: what("send the listener fd to"),
            errno,
        })?;
        sent += n;
    }
    Ok(())
}
