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

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsFd;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use nix::poll::{PollFd, PollFlags, poll};

use crate::error::{Error, Result};
use crate::netns::Netns;

/// The address containers use as their nameserver (their resolv.conf's).
pub const DNS_ADDRESS: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 11);

/// How often, in milliseconds, the serving thread looks at its stop flag, and so how
/// long stopping takes at most.
const POLL_MS: u16 = 100;
/// How long a TCP client may stay silent before the server closes its connection.
const TCP_IDLE: Duration = Duration::from_secs(5);
/// How long a forwarded question waits for an upstream's answer.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);

/// Answers names for one container.
pub trait Resolve: Send + Sync {
    /// The addresses of `name` (lowercase, no final dot) if it is a name this container's
    /// networks know; `None` to forward the question to the host's resolvers.
    fn resolve(&self, name: &str) -> Option<Vec<Ipv4Addr>>;
}

/// A running DNS server for one container; dropping it stops the server. Its sockets
/// keep the container's network namespace alive: stop it when the container stops.
pub struct DnsServer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl DnsServer {
    /// Starts serving UDP and TCP on 127.0.0.11:53 inside `netns` (whose `lo` must be up:
    /// attaching the container did it). Questions `resolver` does not answer go to
    /// `upstreams`, in order, each tried for 2 s at most, over the transport the question
    /// came by.
    pub fn start(
        netns: &Netns,
        resolver: Arc<dyn Resolve>,
        upstreams: Vec<SocketAddr>,
    ) -> Result<DnsServer> {
        let addr = SocketAddrV4::new(DNS_ADDRESS, 53);
        let (udp, tcp) = netns
            .run(|| Ok::<_, std::io::Error>((UdpSocket::bind(addr)?, TcpListener::bind(addr)?)))?
            .map_err(|e| Error::io(format!("listen on {addr} in {}", netns.path().display()), e))?;
        udp.set_nonblocking(true)
            .and_then(|()| tcp.set_nonblocking(true))
            .map_err(|e| Error::io("set up the dns sockets", e))?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let upstreams = Arc::new(upstreams);
        let thread = std::thread::Builder::new()
            .name("berth-dns".into())
            .spawn(move || serve(udp, tcp, resolver, upstreams, flag))
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

/// What the server does with a packet it received.
enum Reply {
    /// Answer at once: a known name, or a packet that is no query.
    Now(Vec<u8>),
    /// Ask the upstreams.
    Forward(message::Query),
    /// Not even a header: drop it.
    Drop,
}

fn local(packet: &[u8], resolver: &dyn Resolve) -> Reply {
    let Some(query) = message::parse_query(packet) else {
        if packet.len() < 12 {
            return Reply::Drop;
        }
        let mut reply = packet[..12].to_vec();
        reply[2] |= 0x80;
        reply[3] = (reply[3] & 0xf0) | message::FORMERR;
        reply[4..12].fill(0);
        return Reply::Now(reply);
    };
    match resolver.resolve(&query.name) {
        Some(addrs) => {
            let addrs = if query.wants_a() { addrs } else { Vec::new() };
            Reply::Now(query.answer(packet, &addrs))
        }
        None => Reply::Forward(query),
    }
}

fn serve(
    udp: UdpSocket,
    tcp: TcpListener,
    resolver: Arc<dyn Resolve>,
    upstreams: Arc<Vec<SocketAddr>>,
    stop: Arc<AtomicBool>,
) {
    let mut buf = [0u8; 1500];
    while !stop.load(Ordering::SeqCst) {
        // Wait for either socket, waking every POLL to look at the stop flag.
        let mut fds = [
            PollFd::new(udp.as_fd(), PollFlags::POLLIN),
            PollFd::new(tcp.as_fd(), PollFlags::POLLIN),
        ];
        if !matches!(poll(&mut fds, POLL_MS), Ok(n) if n > 0) {
            continue;
        }
        let udp_ready = fds[0]
            .revents()
            .is_some_and(|r| r.contains(PollFlags::POLLIN));
        while let Ok((conn, _)) = tcp.accept() {
            let (resolver, upstreams, stop) = (resolver.clone(), upstreams.clone(), stop.clone());
            std::thread::spawn(move || serve_tcp(conn, &*resolver, &upstreams, &stop));
        }
        if !udp_ready {
            continue;
        }
        let Ok((len, client)) = udp.recv_from(&mut buf) else {
            continue;
        };
        let packet = &buf[..len];
        match local(packet, &*resolver) {
            Reply::Now(reply) => {
                let _ = udp.send_to(&reply, client);
            }
            Reply::Forward(query) => {
                // Forwarding waits on the network: never on the serving thread.
                let (Ok(socket), packet) = (udp.try_clone(), packet.to_vec()) else {
                    continue;
                };
                let upstreams = upstreams.clone();
                std::thread::spawn(move || {
                    let reply = forward_udp(&packet, &upstreams)
                        .unwrap_or_else(|| query.error(&packet, message::SERVFAIL));
                    let _ = socket.send_to(&reply, client);
                });
            }
            Reply::Drop => {}
        }
    }
}

/// One TCP connection: length-prefixed questions (RFC 1035 4.2.2) until the client
/// closes, stays silent for 5 s, or the server stops.
fn serve_tcp(
    mut conn: TcpStream,
    resolver: &dyn Resolve,
    upstreams: &[SocketAddr],
    stop: &AtomicBool,
) {
    if conn.set_nonblocking(false).is_err() || conn.set_read_timeout(Some(TCP_IDLE)).is_err() {
        return;
    }
    while !stop.load(Ordering::SeqCst) {
        let Some(packet) = read_framed(&mut conn) else {
            return;
        };
        let reply = match local(&packet, resolver) {
            Reply::Now(reply) => reply,
            Reply::Forward(query) => forward_tcp(&packet, upstreams)
                .unwrap_or_else(|| query.error(&packet, message::SERVFAIL)),
            Reply::Drop => return,
        };
        if write_framed(&mut conn, &reply).is_err() {
            return;
        }
    }
}

fn read_framed(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).ok()?;
    let mut packet = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut packet).ok()?;
    Some(packet)
}

fn write_framed(stream: &mut TcpStream, packet: &[u8]) -> std::io::Result<()> {
    let len = u16::try_from(packet.len()).map_err(|_| std::io::ErrorKind::InvalidData)?;
    let mut framed = len.to_be_bytes().to_vec();
    framed.extend_from_slice(packet);
    stream.write_all(&framed)
}

/// Sends the question to each upstream in turn over UDP and returns the first answer.
fn forward_udp(packet: &[u8], upstreams: &[SocketAddr]) -> Option<Vec<u8>> {
    for upstream in upstreams {
        let bind: SocketAddr = if upstream.is_ipv4() {
            (Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
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

/// The same over TCP, for answers too large for a datagram.
fn forward_tcp(packet: &[u8], upstreams: &[SocketAddr]) -> Option<Vec<u8>> {
    for upstream in upstreams {
        let Ok(mut stream) = TcpStream::connect_timeout(upstream, UPSTREAM_TIMEOUT) else {
            continue;
        };
        if stream.set_read_timeout(Some(UPSTREAM_TIMEOUT)).is_err()
            || write_framed(&mut stream, packet).is_err()
        {
            continue;
        }
        if let Some(reply) = read_framed(&mut stream)
            && reply.len() >= 2
            && reply[..2] == packet[..2]
        {
            return Some(reply);
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
