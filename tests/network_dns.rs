//! The embedded DNS server of user-defined networks on real namespaces: containers find
//! each other by name and alias (busybox's resolver, through resolv.conf naming
//! 127.0.0.11, as in a Docker container), other names go to the host's resolvers (here
//! a fake one on the host's loopback), other networks' names stay unknown, and detached
//! containers vanish from DNS.

#[path = "network_support.rs"]
mod network_support;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use berth_network::{AttachOptions, DnsServer, NetworkNames};
use network_support::*;

/// `/etc/netns/NAME/resolv.conf`, which `ip netns exec` mounts over /etc/resolv.conf.
struct ResolvConf(std::path::PathBuf);

impl ResolvConf {
    fn new(ns: &Ns) -> ResolvConf {
        let dir = std::path::PathBuf::from(format!("/etc/netns/{}", ns.name));
        std::fs::create_dir_all(&dir).unwrap();
        // What the engine writes for a container on a user-defined network.
        let conf = berth_network::resolv_conf(
            "nameserver 10.0.0.2\n",
            &berth_network::DnsOptions::default(),
            true,
        );
        assert_eq!(conf, "nameserver 127.0.0.11\noptions ndots:0\n");
        std::fs::write(dir.join("resolv.conf"), conf).unwrap();
        ResolvConf(dir)
    }
}

impl Drop for ResolvConf {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        // /etc/netns itself, if this test made it and nothing else uses it.
        let _ = std::fs::remove_dir("/etc/netns");
    }
}

/// A fake upstream resolver on the host's loopback, on UDP and TCP at one port:
/// `elsewhere.test` is 10.99.99.99, every other name NXDOMAIN.
struct Upstream {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

/// The fake's answer to query `q`.
fn fake_answer(q: &[u8]) -> Vec<u8> {
    let n = q.len();
    // Question: from byte 12 to the end of the name, plus type and class.
    let mut end = 12;
    while end < n && q[end] != 0 {
        end += q[end] as usize + 1;
    }
    let question = &q[12..(end + 5).min(n)];
    let qtype = u16::from_be_bytes([q[end + 1], q[end + 2]]);
    // A known name answers NOERROR to every type, with a record for A.
    let known = question.windows(9).any(|w| w == b"elsewhere");
    let answer = known && qtype == 1;
    let rcode = if known { 0x80 } else { 0x83 };
    let mut r = q[..2].to_vec();
    r.extend_from_slice(&[0x81, rcode, 0, 1, 0, u8::from(answer), 0, 0, 0, 0]);
    r.extend_from_slice(question);
    if answer {
        r.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 99, 99, 99]);
    }
    r
}

impl Upstream {
    fn start() -> Upstream {
        let (tcp, udp) = (0..20)
            .find_map(|_| {
                let tcp = TcpListener::bind("127.0.0.1:0").ok()?;
                let udp = UdpSocket::bind(tcp.local_addr().ok()?).ok()?;
                Some((tcp, udp))
            })
            .expect("a loopback port free for both udp and tcp");
        let addr = udp.local_addr().unwrap();
        udp.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        tcp.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let udp_thread = std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while !flag.load(Ordering::SeqCst) {
                if let Ok((n, peer)) = udp.recv_from(&mut buf) {
                    let _ = udp.send_to(&fake_answer(&buf[..n]), peer);
                }
            }
        });
        let flag = stop.clone();
        let tcp_thread = std::thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                let Ok((mut conn, _)) = tcp.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                conn.set_nonblocking(false).unwrap();
                conn.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                if let Some(q) = read_framed(&mut conn) {
                    let _ = write_framed(&mut conn, &fake_answer(&q));
                }
            }
        });
        Upstream {
            addr,
            stop,
            threads: vec![udp_thread, tcp_thread],
        }
    }
}

fn read_framed(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 2];
    s.read_exact(&mut len).ok()?;
    let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut buf).ok()?;
    Some(buf)
}

fn write_framed(s: &mut TcpStream, msg: &[u8]) -> std::io::Result<()> {
    let mut framed = (msg.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(msg);
    s.write_all(&framed)
}

/// A query for the A record of `name`.
fn query(name: &str) -> Vec<u8> {
    let mut q = vec![0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

/// Asks 127.0.0.11 over TCP from inside `ns`; the address of the first answer, if any.
fn ask_tcp(ns: &Ns, name: &str) -> Option<Ipv4Addr> {
    let q = query(name);
    let reply = ns
        .netns
        .run(|| {
            let mut s = TcpStream::connect_timeout(
                &"127.0.0.11:53".parse().unwrap(),
                Duration::from_secs(2),
            )
            .ok()?;
            s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
            write_framed(&mut s, &q).ok()?;
            read_framed(&mut s)
        })
        .unwrap()?;
    let answers = u16::from_be_bytes([reply[6], reply[7]]);
    assert_eq!(&reply[..2], &q[..2], "the answer carries the query's id");
    (answers > 0).then(|| {
        let a = &reply[reply.len() - 4..];
        Ipv4Addr::new(a[0], a[1], a[2], a[3])
    })
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Runs busybox `args` inside `ns`, bounded by `timeout`; (succeeded, stdout + stderr).
fn busybox_in(ns: &Ns, args: &[&str]) -> (bool, String) {
    let out = Command::new("timeout")
        .args(["10", "ip", "netns", "exec", &ns.name, "busybox"])
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn containers_resolve_each_other_by_name_and_alias_and_nothing_else() {
    let net = Net::new();
    let front = net.create_on_test_subnet();
    let back = net.create_on_test_subnet();
    let (web, db, lonely) = (Ns::new(), Ns::new(), Ns::new());
    let attach = |network: &str, id: &str, ns: &Ns, n: &[String]| {
        net.manager
            .attach(
                network,
                &AttachOptions {
                    container: id,
                    netns: &ns.netns,
                    ifname: "eth0",
                    ip: None,
                    ports: &[],
                    mac: None,
                    names: n,
                },
            )
            .unwrap()
    };
    let _ew = attach(&front.name, "web", &web, &names(&["web"]));
    let edb = attach(&front.name, "db", &db, &names(&["db", "database"]));
    let elonely = attach(&back.name, "lonely", &lonely, &names(&["lonely"]));

    let upstream = Upstream::start();
    let resolver = Arc::new(NetworkNames::new(
        net.manager.clone(),
        vec![front.name.clone()],
    ));
    let server = DnsServer::start(&web.netns, resolver, vec![upstream.addr]).unwrap();
    let _conf = ResolvConf::new(&web);

    // By name, by alias, qualified with the network; then a ping by name.
    let (ok, out) = busybox_in(&web, &["nslookup", "db"]);
    assert!(ok && out.contains(&format!("Address: {}", edb.ip)), "{out}");
    let (ok, out) = busybox_in(&web, &["nslookup", "DataBase"]);
    assert!(ok && out.contains(&format!("Address: {}", edb.ip)), "{out}");
    let (ok, out) = busybox_in(&web, &["nslookup", &format!("db.{}", front.name)]);
    assert!(ok && out.contains(&format!("Address: {}", edb.ip)), "{out}");
    let (ok, out) = busybox_in(&web, &["ping", "-c", "1", "-W", "2", "database"]);
    assert!(ok, "ping database: {out}");

    // Other names go to the host's resolvers.
    let (ok, out) = busybox_in(&web, &["nslookup", "elsewhere.test"]);
    assert!(ok && out.contains("Address: 10.99.99.99"), "{out}");
    // Over TCP too (what resolvers fall back to for large answers), both ways.
    assert_eq!(ask_tcp(&web, "database"), Some(edb.ip));
    assert_eq!(
        ask_tcp(&web, "elsewhere.test"),
        Some(Ipv4Addr::new(10, 99, 99, 99))
    );
    assert_eq!(ask_tcp(&web, "lonely"), None);

    // Another network's container is unknown here.
    let (ok, out) = busybox_in(&web, &["nslookup", "lonely"]);
    assert!(!ok && !out.contains(&elonely.ip.to_string()), "{out}");

    // A detached container leaves DNS at once.
    net.manager.detach(&front.name, "db").unwrap();
    let (ok, out) = busybox_in(&web, &["nslookup", "db"]);
    assert!(
        !ok && !out.contains(&format!("Address: {}", edb.ip)),
        "{out}"
    );

    // Stopped, the server no longer answers.
    drop(server);
    let (ok, out) = busybox_in(&web, &["nslookup", "web"]);
    assert!(!ok, "answered after stop: {out}");
    let probe = web
        .netns
        .run(|| UdpSocket::bind((Ipv4Addr::new(127, 0, 0, 11), 53)))
        .unwrap();
    assert!(probe.is_ok(), "127.0.0.11:53 is still bound after stop");
}
