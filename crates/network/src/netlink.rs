//! A blocking rtnetlink socket: requests acknowledged one by one or in a batch, and dumps.
//!
//! berth talks to the kernel with the message types of `netlink-packet-route` over a plain
//! blocking socket instead of rtnetlink's tokio connection: attaching a container is a
//! handful of round trips, and an async runtime would cost more than they do.

use std::io;

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, NetlinkBuffer, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};

/// A route netlink socket bound to the network namespace it was opened in.
pub(crate) struct Netlink {
    socket: Socket,
    seq: u32,
    buf: Vec<u8>,
}

impl Netlink {
    /// Opens a socket in the calling thread's network namespace.
    pub(crate) fn open() -> io::Result<Self> {
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        socket.bind_auto()?;
        socket.connect(&SocketAddr::new(0, 0))?;
        // Extended acks are a nicety for kernels that support them, not a requirement.
        socket.set_ext_ack(true).ok();
        Ok(Netlink {
            socket,
            seq: 0,
            buf: Vec::with_capacity(64 * 1024),
        })
    }

    /// Sends one request and waits for its acknowledgement.
    pub(crate) fn request(&mut self, msg: RouteNetlinkMessage, flags: u16) -> io::Result<()> {
        self.batch(vec![(msg, flags)])
            .into_iter()
            .next()
            .unwrap_or(Ok(()))
    }

    /// Sends several requests in one datagram and returns each one's outcome, in order.
    /// The kernel handles them in order; a failed request does not stop later ones.
    pub(crate) fn batch(&mut self, msgs: Vec<(RouteNetlinkMessage, u16)>) -> Vec<io::Result<()>> {
        let first = self.seq.wrapping_add(1);
        let count = msgs.len();
        let mut out = Vec::new();
        for (msg, flags) in msgs {
            let mut nl = NetlinkMessage::from(msg);
            self.seq = self.seq.wrapping_add(1);
            nl.header.flags = flags | NLM_F_REQUEST | NLM_F_ACK;
            nl.header.sequence_number = self.seq;
            nl.finalize();
            let start = out.len();
            out.resize(start + nl.buffer_len(), 0);
            nl.serialize(&mut out[start..]);
        }
        let mut results: Vec<Option<io::Result<()>>> = (0..count).map(|_| None).collect();
        if let Err(e) = self.socket.send(&out, 0) {
            return (0..count)
                .map(|_| Err(io::Error::new(e.kind(), e.to_string())))
                .collect();
        }
        let mut pending = count;
        while pending > 0 {
            let messages = match self.receive() {
                Ok(m) => m,
                Err(e) => {
                    return results
                        .into_iter()
                        .map(|r| r.unwrap_or_else(|| Err(io::Error::new(e.kind(), e.to_string()))))
                        .collect();
                }
            };
            for msg in messages {
                let index = msg.header.sequence_number.wrapping_sub(first) as usize;
                if index >= count || results[index].is_some() {
                    continue;
                }
                if let NetlinkPayload::Error(err) = msg.payload {
                    results[index] = Some(match err.code {
                        None => Ok(()),
                        Some(code) => Err(io::Error::from_raw_os_error(-code.get())),
                    });
                    pending -= 1;
                }
            }
        }
        results.into_iter().map(|r| r.unwrap_or(Ok(()))).collect()
    }

    /// Sends a dump request and collects every message of the answer.
    pub(crate) fn dump(
        &mut self,
        msg: RouteNetlinkMessage,
    ) -> io::Result<Vec<RouteNetlinkMessage>> {
        let mut nl = NetlinkMessage::from(msg);
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        nl.header.flags = NLM_F_REQUEST | NLM_F_DUMP;
        nl.header.sequence_number = seq;
        nl.finalize();
        let mut out = vec![0; nl.buffer_len()];
        nl.serialize(&mut out);
        self.socket.send(&out, 0)?;
        let mut answer = Vec::new();
        loop {
            for msg in self.receive()? {
                if msg.header.sequence_number != seq {
                    continue;
                }
                match msg.payload {
                    NetlinkPayload::InnerMessage(inner) => answer.push(inner),
                    NetlinkPayload::Done(_) => return Ok(answer),
                    NetlinkPayload::Error(err) => {
                        if let Some(code) = err.code {
                            return Err(io::Error::from_raw_os_error(-code.get()));
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// Reads one datagram and splits it into messages.
    fn receive(&mut self) -> io::Result<Vec<NetlinkMessage<RouteNetlinkMessage>>> {
        self.buf.clear();
        self.socket.recv(&mut self.buf, 0)?;
        let mut messages = Vec::new();
        let mut offset = 0;
        while offset < self.buf.len() {
            let rest = &self.buf[offset..];
            let len = NetlinkBuffer::new_checked(rest)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?
                .length() as usize;
            if len == 0 || len > rest.len() {
                break;
            }
            let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&rest[..len])
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
            messages.push(msg);
            offset += (len + 3) & !3;
        }
        Ok(messages)
    }
}

impl Netlink {
    /// Sends a non-dump get request (such as a link looked up by name) and returns the
    /// single answer.
    pub(crate) fn dump_one(&mut self, msg: RouteNetlinkMessage) -> io::Result<RouteNetlinkMessage> {
        let mut nl = NetlinkMessage::from(msg);
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        nl.header.flags = NLM_F_REQUEST;
        nl.header.sequence_number = seq;
        nl.finalize();
        let mut out = vec![0; nl.buffer_len()];
        nl.serialize(&mut out);
        self.socket.send(&out, 0)?;
        loop {
            for msg in self.receive()? {
                if msg.header.sequence_number != seq {
                    continue;
                }
                match msg.payload {
                    NetlinkPayload::InnerMessage(inner) => return Ok(inner),
                    NetlinkPayload::Error(err) => {
                        return Err(match err.code {
                            Some(code) => io::Error::from_raw_os_error(-code.get()),
                            None => io::Error::new(io::ErrorKind::InvalidData, "empty answer"),
                        });
                    }
                    _ => {}
                }
            }
        }
    }
}
