//! The embedded DNS server of user-defined networks, as Docker's 127.0.0.11: inside a
//! container's namespace it answers the names of the containers on its networks (names
//! and aliases) and forwards every other question to the host's resolvers.
//!
//! The listening socket is created inside the container's namespace, on 127.0.0.11:53;
//! the thread serving it, and the sockets that forward, stay in the host's namespace, so
//! a host resolver on its own loopback (systemd-resolved's 127.0.0.53) works too.

mod message;
mod names;
mod resolv_conf;

pub use names::NetworkNames;
pub use resolv_conf::{DnsOptions, resolv_conf, upstreams};

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::netns::Netns;

/// The address containers use as their nameserver (their resolv.conf's).
pub const DNS_ADDRESS: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 11);

/// How often the serving thread looks at its stop flag, and so how long stopping takes
/// at most.
const POLL: Duration = Duration::from_millis(100);
/// How long a forwarded question waits for an upstream's answer.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);

/// Answers names for one container.
pub trait Resolve: Send + Sync {
    /// The addresses of `name` (lowercase, no final dot) if it is a name this container's
    /// networks know; `None` to forward the question to the host's resolvers.
    fn resolve(&self, name: &str) -> Option<Vec<Ipv4Addr>>;
}

/// A running DNS server for one container; dropping it stops the server.
pub struct DnsServer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl DnsServer {
    /// Starts serving on 127.0.0.11:53 inside `netns` (whose `lo` must be up: attaching
    /// the container did it). Questions `resolver` does not answer go to `upstreams`, in
    /// order, each tried for 2 s at most.
    pub fn start(
        netns: &Netns,
        resolver: Arc<dyn Resolve>,
        upstreams: Vec<SocketAddr>,
    ) -> Result<DnsServer> {
        let addr = SocketAddrV4::new(DNS_ADDRESS, 53);
        let socket = netns
            .run(|| UdpSocket::bind(addr))?
            .map_err(|e| Error::io(format!("listen on {addr} in {}", netns.path().display()), e))?;
        socket
            .set_read_timeout(Some(POLL))
            .map_err(|e| Error::io("set the dns socket's timeout", e))?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let upstreams = Arc::new(upstreams);
        let thread = std::thread::Builder::new()
            .name("berth-dns".into())
            .spawn(move || serve(socket, resolver, upstreams, flag))
            .map_err(|e| Error::io("start the dns thread", e))?;
        Ok(DnsServer {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(
    socket: UdpSocket,
    resolver: Arc<dyn Resolve>,
    upstreams: Arc<Vec<SocketAddr>>,
    stop: Arc<AtomicBool>,
) {
    let mut buf = [0u8; 1500];
    while !stop.load(Ordering::SeqCst) {
        let Ok((len, client)) = socket.recv_from(&mut buf) else {
            continue;
        };
        let packet = &buf[..len];
        let Some(query) = message::parse_query(packet) else {
            // Not a query we can read: answer FORMERR when there is a header to echo.
            if len >= 12 {
                let mut reply = packet[..12].to_vec();
                reply[2] |= 0x80;
                reply[3] = (reply[3] & 0xf0) | message::FORMERR;
                reply[4..12].fill(0);
                let _ = socket.send_to(&reply, client);
            }
            continue;
        };
        match resolver.resolve(&query.name) {
            Some(addrs) => {
                let addrs = if query.wants_a() { addrs } else { Vec::new() };
                let _ = socket.send_to(&query.answer(packet, &addrs), client);
            }
            None => {
                // Forwarding waits on the network: never on the serving thread.
                let (Ok(reply_socket), packet) = (socket.try_clone(), packet.to_vec()) else {
                    continue;
                };
                let upstreams = upstreams.clone();
                std::thread::spawn(move || {
                    let reply = forward(&packet, &upstreams)
                        .unwrap_or_else(|| query.error(&packet, message::SERVFAIL));
                    let _ = reply_socket.send_to(&reply, client);
                });
            }
        }
    }
}

/// Sends the question to each upstream in turn and returns the first answer.
fn forward(packet: &[u8], upstreams: &[SocketAddr]) -> Option<Vec<u8>> {
    for upstream in upstreams {
        let bind: SocketAddr = if upstream.is_ipv4() {
            "0.0.0.0:0".parse().ok()?
        } else {
            "[::]:0".parse().ok()?
        };
        let Ok(sock) = UdpSocket::bind(bind) else {
            continue;
        };
        if sock.set_read_timeout(Some(UPSTREAM_TIMEOUT)).is_err()
            || sock.connect(upstream).is_err()
            || sock.send(packet).is_err()
        {
            continue;
        }
        let mut buf = vec![0u8; 4096];
        if let Ok(n) = sock.recv(&mut buf)
            && n >= 2
            && buf[..2] == packet[..2]
        {
            buf.truncate(n);
            return Some(buf);
        }
    }
    None
}

/// The nameservers of the host's resolv.conf at `path` (port 53), skipping 127.0.0.11:
/// the embedded server's upstreams when the container has no `--dns`.
pub fn host_resolvers(path: &Path) -> Result<Vec<SocketAddr>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("read {}", path.display()), e))?;
    Ok(upstreams(&text, &DnsOptions::default()))
}
