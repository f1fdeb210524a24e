//! Support for the network tests: network namespaces standing in for containers, a
//! second "host" namespace, TCP servers and clients run inside namespaces, and guards
//! that remove every link, namespace, rule and state file on success, failure and panic.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use berth_network::{Manager, Netns, NetworkConfig, NetworkOptions};
use berth_tests::TestDir;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A short name unique to this process and call, for links and namespaces (at most 15
/// characters): `<prefix><pid mod 10^6>x<n>`.
pub fn short(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let name = format!("{prefix}{}x{n}", std::process::id() % 1_000_000);
    assert!(name.len() <= 15, "{name} is too long for a link name");
    name
}

/// A /24 unique to this process and call, in 10.0.0.0/8, skipping any the host already
/// routes (another test process may have one in use).
pub fn subnet() -> ipnet::Ipv4Net {
    let second = (std::process::id() % 200) as u8 + 20;
    let routes = sh(&["ip", "-4", "route", "show", "table", "main"]);
    for _ in 0..256 {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let net: ipnet::Ipv4Net = format!("10.{second}.{}.0/24", n % 256).parse().unwrap();
        let used = routes.lines().any(|l| {
            l.split_whitespace()
                .next()
                .and_then(|d| d.parse::<ipnet::Ipv4Net>().ok())
                .is_some_and(|d| d.contains(&net.network()) || net.contains(&d.network()))
        });
        if !used {
            return net;
        }
    }
    panic!("every 10.{second}.x.0/24 is routed already");
}

/// Runs a command, panicking with its output when it fails.
pub fn sh(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .expect(args[0]);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a command and says whether it succeeded.
pub fn sh_ok(args: &[&str]) -> bool {
    Command::new(args[0])
        .args(&args[1..])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Whether link `name` exists in the host's namespace.
pub fn link_exists(name: &str) -> bool {
    sh_ok(&["ip", "link", "show", "dev", name])
}

/// The rules of berth's nftables table whose comment contains `needle`.
pub fn nft_rules_with(needle: &str) -> Vec<String> {
    let out = Command::new("nft")
        .args(["-a", "list", "table", "ip", "berth"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_string)
        .collect()
}

/// A network namespace made with `ip netns add`, standing in for a container.
pub struct Ns {
    pub name: String,
    pub netns: Netns,
}

impl Ns {
    pub fn new() -> Ns {
        let name = short("bnt");
        sh(&["ip", "netns", "add", &name]);
        let netns = Netns::open(format!("/run/netns/{name}")).expect("open test netns");
        Ns { name, netns }
    }

    /// `ip -n NAME ARGS...`
    pub fn ip(&self, args: &[&str]) -> String {
        let mut all = vec!["ip", "-n", &self.name];
        all.extend_from_slice(args);
        sh(&all)
    }

    /// Pings `ip` once from inside with busybox (bounded by -W).
    pub fn ping(&self, ip: Ipv4Addr) -> bool {
        sh_ok(&[
            "ip",
            "netns",
            "exec",
            &self.name,
            "busybox",
            "ping",
            "-c",
            "1",
            "-W",
            "2",
            &ip.to_string(),
        ])
    }

    /// Connects to `addr` from inside and returns what the server said, or the error.
    pub fn fetch(&self, addr: SocketAddrV4) -> std::io::Result<String> {
        self.netns.run(|| fetch(addr)).expect("enter test netns")
    }

    /// Starts a TCP server inside, on `port` of every address.
    pub fn serve(&self, port: u16) -> Server {
        let listener = self
            .netns
            .run(|| TcpListener::bind(("0.0.0.0", port)))
            .expect("enter test netns")
            .expect("bind test server");
        Server::start(listener, self.name.clone())
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// Connects to `addr` (2 s at most) and reads the server's whole answer.
pub fn fetch(addr: SocketAddrV4) -> std::io::Result<String> {
    let mut s = TcpStream::connect_timeout(&SocketAddr::V4(addr), Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut answer = String::new();
    s.read_to_string(&mut answer)?;
    Ok(answer)
}

/// A TCP server answering every connection with `<name> sees <peer address>`.
pub struct Server {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(listener: TcpListener, name: String) -> Server {
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((mut conn, peer)) => {
                        let _ = conn.set_nonblocking(false);
                        let _ = write!(conn, "{name} sees {}", peer.ip());
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Server {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A manager on a private state directory; on drop it detaches every endpoint and
/// removes every network it still has, then deletes any bridge it made.
pub struct Net {
    pub manager: Arc<Manager>,
    pub dir: TestDir,
    bridges: std::sync::Mutex<Vec<String>>,
}

impl Net {
    pub fn new() -> Net {
        let dir = TestDir::new("network");
        let manager = Arc::new(Manager::new(dir.path()).expect("network manager"));
        Net {
            manager,
            dir,
            bridges: Default::default(),
        }
    }

    /// A manager whose firewall runs the `nft` binary instead of calling libnftables.
    pub fn with_nft_binary() -> Net {
        let dir = TestDir::new("network");
        let manager = Arc::new(
            Manager::with_firewall(
                dir.path(),
                Box::new(berth_network::Nftables::with_binary("nft")),
            )
            .expect("network manager"),
        );
        Net {
            manager,
            dir,
            bridges: Default::default(),
        }
    }

    /// Creates a network with a unique name (and, unless given, subnet).
    pub fn create(&self, mut opts: NetworkOptions) -> NetworkConfig {
        if opts.name.is_empty() {
            opts.name = short("n");
        }
        let cfg = self.manager.create_network(&opts).expect("create network");
        self.bridges.lock().unwrap().push(cfg.bridge.clone());
        cfg
    }

    /// Creates a network with a unique name and a test subnet of its own, every other
    /// option left at its default.
    pub fn create_on_test_subnet(&self) -> NetworkConfig {
        self.create(NetworkOptions {
            subnet: Some(subnet()),
            ..Default::default()
        })
    }
}

/// What attaching the "container" in `ns` as `eth0` asks for, publishing `ports`.
pub fn attach_opts<'a>(
    container: &'a str,
    ns: &'a Ns,
    ports: &'a [berth_network::PortMapping],
) -> berth_network::AttachOptions<'a> {
    berth_network::AttachOptions {
        container,
        netns: &ns.netns,
        ifname: "eth0",
        ip: None,
        ports,
        mac: None,
        names: &[],
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        if let Ok(nets) = self.manager.networks() {
            for net in nets {
                for ep in self.manager.endpoints(&net.name).unwrap_or_default() {
                    let _ = self.manager.detach(&net.name, &ep.container);
                }
                let _ = self.manager.remove_network(&net.name);
            }
        }
        for b in self.bridges.lock().unwrap().iter() {
            let _ = Command::new("ip").args(["link", "del", b]).output();
        }
    }
}

/// A second host: a namespace joined to the host's root namespace by its own veth pair
/// on its own /30 (host side .1, far side .2, default route through .1).
pub struct OtherHost {
    pub ns: Ns,
    pub host_side: Ipv4Addr,
    pub far_side: Ipv4Addr,
    link: String,
}

impl OtherHost {
    pub fn new() -> OtherHost {
        let ns = Ns::new();
        let link = short("bho");
        let net = subnet();
        let base = u32::from(net.network());
        let host_side = Ipv4Addr::from(base + 1);
        let far_side = Ipv4Addr::from(base + 2);
        sh(&[
            "ip", "link", "add", &link, "type", "veth", "peer", "name", "eth0", "netns", &ns.name,
        ]);
        let guard = OtherHost {
            ns,
            host_side,
            far_side,
            link,
        };
        sh(&[
            "ip",
            "addr",
            "add",
            &format!("{host_side}/30"),
            "dev",
            &guard.link,
        ]);
        sh(&["ip", "link", "set", &guard.link, "up"]);
        guard
            .ns
            .ip(&["addr", "add", &format!("{far_side}/30"), "dev", "eth0"]);
        guard.ns.ip(&["link", "set", "eth0", "up"]);
        guard.ns.ip(&["link", "set", "lo", "up"]);
        guard
            .ns
            .ip(&["route", "add", "default", "via", &host_side.to_string()]);
        guard
    }
}

impl Drop for OtherHost {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.link])
            .output();
    }
}

/// Retries `f` for up to 2 s until it succeeds (a freshly added address can take a
/// moment to finish duplicate-address-free setup on some kernels).
pub fn eventually<T, E: std::fmt::Debug>(mut f: impl FnMut() -> Result<T, E>) -> T {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match f() {
            Ok(v) => return v,
            Err(e) if Instant::now() > deadline => panic!("still failing after 2 s: {e:?}"),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}
