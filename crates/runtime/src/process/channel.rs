//! The synchronisation channel between the runtime and the processes it forks: a
//! SOCK_SEQPACKET socket pair carrying one small JSON message per packet, so that
//! each side blocks exactly until the other has done its part.

use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::socket::{AddressFamily, MsgFlags, SockFlag, SockType, recv, send, socketpair};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, sys};

/// One step of the create/exec handshake.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub enum Msg {
    /// Runtime -> stage-1: the process is in its cgroup; go on.
    Go,
    /// Stage-1 -> runtime: a user namespace exists; write its uid/gid maps.
    NeedMaps,
    /// Runtime -> stage-1: the maps are written.
    MapsDone,
    /// Stage-1 -> runtime: the host pid of the container's init (or exec'd process).
    Pid(i32),
    /// Runtime -> init: you are in your cgroup now (the move ran while you set up).
    Joined,
    /// Init -> runtime: mounts are ready, run the prestart and createRuntime hooks;
    /// the runtime answers with `Pid` (init's host pid, for the hooks' state).
    Hooks,
    /// Init -> runtime: the seccomp notify listener follows (SCM_RIGHTS on the next
    /// packet) for the runtime to hand to the agent at listenerPath.
    SeccompListener,
    /// Init -> runtime: set up and waiting on the exec fifo (create) or about to
    /// exec (exec).
    Ready,
    /// Either side: what failed; the sender exits afterwards.
    Error(String),
}

/// One end of the channel.
#[derive(Debug)]
pub struct Channel(OwnedFd);

/// Creates a connected pair (close-on-exec on both ends).
pub fn pair() -> Result<(Channel, Channel)> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(sys("socketpair for the sync channel"))?;
    Ok((Channel(a), Channel(b)))
}

impl Channel {
    /// Sends one message.
    pub fn send(&self, msg: &Msg) -> Result<()> {
        let data = serde_json::to_vec(msg).expect("message serializes");
        send(self.0.as_raw_fd(), &data, MsgFlags::MSG_NOSIGNAL)
            .map_err(sys("send on the sync channel"))?;
        Ok(())
    }

    /// Receives one message; `None` when the other side closed its end (it exited
    /// or exec'd, as the close-on-exec end vanishes with the exec).
    pub fn recv(&self) -> Result<Option<Msg>> {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match recv(self.0.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                Ok(0) => return Ok(None),
                Ok(n) => {
                    return serde_json::from_slice(&buf[..n])
                        .map(Some)
                        .map_err(|e| Error::Init(format!("garbled sync message: {e}")));
                }
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(sys("receive on the sync channel")(e)),
            }
        }
    }

    /// Receives and insists on `want`; an `Error` message becomes the error.
    pub fn expect(&self, want: &Msg, who: &str) -> Result<()> {
        match self.recv()? {
            Some(m) if &m == want => Ok(()),
            Some(Msg::Error(e)) => Err(Error::Init(e)),
            Some(other) => Err(Error::Init(format!(
                "{who}: expected {want:?}, got {other:?}"
            ))),
            None => Err(Error::Init(format!("{who} exited before {want:?}"))),
        }
    }

    /// The raw descriptor (for keeping it across the fd-closing step).
    pub fn raw(&self) -> i32 {
        self.0.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_cross_and_eof_is_none() {
        let (a, b) = pair().unwrap();
        a.send(&Msg::Pid(42)).unwrap();
        a.send(&Msg::Error("boom".into())).unwrap();
        assert_eq!(b.recv().unwrap(), Some(Msg::Pid(42)));
        let e = b.expect(&Msg::Ready, "init").unwrap_err().to_string();
        assert_eq!(e, "boom");
        drop(a);
        assert_eq!(b.recv().unwrap(), None);
    }
}
