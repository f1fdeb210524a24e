//! Published ports and isolation through berth's nftables table, on real kernel objects:
//! a TCP server in a namespace reached through its published port from the host's
//! 127.0.0.1, from the host's bridge-facing address, from other containers and from a
//! second host; separate bridges that cannot reach each other; rules removed exactly.

#[path = "network_support.rs"]
mod network_support;

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::time::Duration;

use berth_network::{NetworkOptions, parse_publish};
use network_support::*;

#[test]
fn published_port_answers_on_loopback_host_address_containers_and_another_host() {
    let net = Net::new();
    let cfg = net.create_on_test_subnet();
    let server = Ns::new();
    let _srv = server.serve(80);
    // -p 80: the host port is chosen.
    let ports = parse_publish("80").unwrap();
    let ep = net
        .manager
        .attach(&cfg.name, &attach_opts("web", &server, &ports))
        .unwrap();
    let port = ep.ports[0].host_port;
    assert_ne!(port, 0);
    assert_eq!(
        nft_rules_with(&format!("berth:ctr:{}:web\"", cfg.bridge)).len(),
        1
    );

    // From the host itself, on 127.0.0.1: masqueraded to the gateway.
    let local = fetch(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)).unwrap();
    assert_eq!(local, format!("{} sees {}", server.name, cfg.gateway));
    // On the host's bridge-facing address.
    let answer = fetch(SocketAddrV4::new(cfg.gateway, port)).unwrap();
    assert!(
        answer.starts_with(&format!("{} sees", server.name)),
        "{answer}"
    );

    // From another container on the bridge, through the host (hairpin), and from the
    // server to itself.
    let client = Ns::new();
    let ec = net
        .manager
        .attach(&cfg.name, &attach_opts("client", &client, &[]))
        .unwrap();
    let hairpin = client.fetch(SocketAddrV4::new(cfg.gateway, port)).unwrap();
    assert!(
        hairpin.starts_with(&format!("{} sees", server.name)),
        "{hairpin}"
    );
    let own = server.fetch(SocketAddrV4::new(cfg.gateway, port)).unwrap();
    assert!(own.starts_with(&format!("{} sees", server.name)), "{own}");
    // Directly, container to container, the client's own address is seen.
    let direct = client.fetch(SocketAddrV4::new(ep.ip, 80)).unwrap();
    assert_eq!(direct, format!("{} sees {}", server.name, ec.ip));

    // From a second host, on the address the host has on its link: the client's own
    // address is preserved.
    let other = OtherHost::new();
    let remote = other
        .ns
        .fetch(SocketAddrV4::new(other.host_side, port))
        .unwrap();
    assert_eq!(remote, format!("{} sees {}", server.name, other.far_side));

    // A container cannot reach the host's loopback services through route_localnet.
    let host_listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let loopback_port = host_listener.local_addr().unwrap().port();
    let refused = client.netns.run(|| {
        sh(&[
            "ip",
            "route",
            "add",
            "127.0.0.0/8",
            "via",
            &cfg.gateway.to_string(),
        ]);
        fetch(SocketAddrV4::new(Ipv4Addr::LOCALHOST, loopback_port))
    });
    assert!(
        refused.unwrap().is_err(),
        "a container reached the host's 127.0.0.1"
    );

    // Teardown removes exactly this container's rules; the port stops answering.
    net.manager.detach(&cfg.name, "web").unwrap();
    assert!(nft_rules_with(&format!("berth:ctr:{}:web\"", cfg.bridge)).is_empty());
    assert!(fetch(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)).is_err());
    net.manager.detach(&cfg.name, "client").unwrap();
    net.manager.remove_network(&cfg.name).unwrap();
    assert!(nft_rules_with(&format!("berth:net:{}\"", cfg.bridge)).is_empty());
    // The bridge left berth's set (or the whole table went with the last network).
    let set = std::process::Command::new("nft")
        .args(["list", "set", "ip", "berth", "bridges"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&set.stdout).contains(&format!("\"{}\"", cfg.bridge)));
}

#[test]
fn fixed_ports_ranges_udp_and_conflicts() {
    let net = Net::new();
    let cfg = net.create_on_test_subnet();
    let server = Ns::new();
    let _a = server.serve(81);
    let _b = server.serve(82);
    // A free pair of host ports, found by the kernel, published as a range on 127.0.0.1.
    let base = loop {
        let l = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let p = l.local_addr().unwrap().port();
        if p < 65000 && std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, p + 1)).is_ok() {
            break p;
        }
    };
    let mut ports = parse_publish(&format!("127.0.0.1:{}-{}:81-82", base, base + 1)).unwrap();
    ports.extend(parse_publish(&format!("127.0.0.1:{base}:53/udp")).unwrap());
    let ep = net
        .manager
        .attach(&cfg.name, &attach_opts("ranged", &server, &ports))
        .unwrap();
    assert_eq!(ep.ports.len(), 3);
    assert_eq!(
        ep.ports[0].to_string(),
        format!("81/tcp -> 127.0.0.1:{base}")
    );
    assert!(
        fetch(SocketAddrV4::new(Ipv4Addr::LOCALHOST, base))
            .unwrap()
            .starts_with(&server.name)
    );
    assert!(
        fetch(SocketAddrV4::new(Ipv4Addr::LOCALHOST, base + 1))
            .unwrap()
            .starts_with(&server.name)
    );
    // UDP: an echo in the namespace answers through the published port.
    let echo = server
        .netns
        .run(|| UdpSocket::bind("0.0.0.0:53"))
        .unwrap()
        .unwrap();
    let echo_thread = std::thread::spawn(move || {
        echo.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        let mut buf = [0; 64];
        if let Ok((n, peer)) = echo.recv_from(&mut buf) {
            let _ = echo.send_to(&buf[..n], peer);
        }
    });
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    client
        .send_to(b"ping", (Ipv4Addr::LOCALHOST, base))
        .unwrap();
    let mut buf = [0; 64];
    let (n, _) = client
        .recv_from(&mut buf)
        .expect("no udp echo through the published port");
    assert_eq!(&buf[..n], b"ping");
    echo_thread.join().unwrap();

    // The same host port again: refused with Docker's message, nothing left behind.
    let other = Ns::new();
    let again = parse_publish(&format!("{base}:80")).unwrap();
    let err = net
        .manager
        .attach(&cfg.name, &attach_opts("again", &other, &again))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("Bind for 0.0.0.0:{base} failed: port is already allocated")
    );
    assert_eq!(other.ip(&["-o", "link"]).lines().count(), 1);
    assert!(nft_rules_with(&format!("berth:ctr:{}:again\"", cfg.bridge)).is_empty());
    // A port a host process holds is refused too.
    let held = std::net::TcpListener::bind(("0.0.0.0", 0)).unwrap();
    let held_port = held.local_addr().unwrap().port();
    let err = net
        .manager
        .attach(
            &cfg.name,
            &attach_opts(
                "again",
                &other,
                &parse_publish(&format!("{held_port}:80")).unwrap(),
            ),
        )
        .unwrap_err();
    assert!(
        err.to_string().starts_with(&format!(
            "failed to bind host port for 0.0.0.0:{held_port}:"
        )),
        "{err}"
    );
    assert_eq!(net.manager.endpoints(&cfg.name).unwrap().len(), 1);

    net.manager.detach(&cfg.name, "ranged").unwrap();
    assert!(nft_rules_with(&format!("berth:ctr:{}:ranged\"", cfg.bridge)).is_empty());
}

#[test]
fn separate_bridges_cannot_reach_each_other() {
    let net = Net::new();
    let one = net.create_on_test_subnet();
    let two = net.create_on_test_subnet();
    let (a, b, a2) = (Ns::new(), Ns::new(), Ns::new());
    let _srv = b.serve(80);
    let _srv_a2 = a2.serve(80);
    let ea = net
        .manager
        .attach(&one.name, &attach_opts("a", &a, &[]))
        .unwrap();
    let ea2 = net
        .manager
        .attach(&one.name, &attach_opts("a2", &a2, &[]))
        .unwrap();
    let eb = net
        .manager
        .attach(&two.name, &attach_opts("b", &b, &[]))
        .unwrap();
    // Within a network, everything flows.
    assert!(a.ping(ea2.ip));
    assert!(a.fetch(SocketAddrV4::new(ea2.ip, 80)).is_ok());
    // Across networks, nothing: not ping, not TCP, either way.
    assert!(!a.ping(eb.ip), "network one reached network two");
    assert!(!b.ping(ea.ip), "network two reached network one");
    assert!(a.fetch(SocketAddrV4::new(eb.ip, 80)).is_err());
    assert!(b.fetch(SocketAddrV4::new(ea2.ip, 80)).is_err());
    // The host still reaches both.
    assert!(fetch(SocketAddrV4::new(eb.ip, 80)).is_ok());
    assert!(fetch(SocketAddrV4::new(ea2.ip, 80)).is_ok());
}

#[test]
fn internal_network_has_no_way_out() {
    // This test drives nftables through the `nft` binary, the others through libnftables.
    let net = Net::with_nft_binary();
    let open = net.create_on_test_subnet();
    let internal = net.create(NetworkOptions {
        subnet: Some(subnet()),
        internal: true,
        ..Default::default()
    });
    let (a, b) = (Ns::new(), Ns::new());
    let ea = net
        .manager
        .attach(&internal.name, &attach_opts("a", &a, &[]))
        .unwrap();
    let eb = net
        .manager
        .attach(&internal.name, &attach_opts("b", &b, &[]))
        .unwrap();
    assert!(
        a.ping(eb.ip),
        "containers of an internal network reach each other"
    );
    // Ports of a container on an internal network are not published.
    let ports = parse_publish("127.0.0.1::80").unwrap();
    let c_int = Ns::new();
    let published = net
        .manager
        .attach(&internal.name, &attach_opts("unpublished", &c_int, &ports))
        .unwrap();
    assert!(published.ports.is_empty());
    assert_eq!(
        a.ip(&["route", "show", "default"]).trim(),
        "",
        "no default route"
    );
    // Nor can it reach out through the gateway to a port another network publishes.
    let web = Ns::new();
    let _web_srv = web.serve(80);
    let ep = net
        .manager
        .attach(
            &open.name,
            &attach_opts("web", &web, &parse_publish("80").unwrap()),
        )
        .unwrap();
    let through_gateway = SocketAddrV4::new(internal.gateway, ep.ports[0].host_port);
    assert!(
        fetch(through_gateway).is_ok(),
        "the published port answers the host"
    );
    assert!(
        a.fetch(through_gateway).is_err(),
        "an internal container reached another network"
    );
    net.manager.detach(&open.name, "web").unwrap();
    assert!(nft_rules_with(&format!("berth:ctr:{}:unpublished\"", internal.bridge)).is_empty());
    // Leaving the bridge is dropped: a second host beyond the host is unreachable.
    let other = OtherHost::new();
    let _srv = other.ns.serve(80);
    assert!(a.fetch(SocketAddrV4::new(other.far_side, 80)).is_err());
    // While a container of the open network gets there.
    let c = Ns::new();
    net.manager
        .attach(&open.name, &attach_opts("c", &c, &[]))
        .unwrap();
    let seen = c.fetch(SocketAddrV4::new(other.far_side, 80)).unwrap();
    // Masqueraded: the other host sees the host's address on its link.
    assert_eq!(seen, format!("{} sees {}", other.ns.name, other.host_side));
    let _ = ea;
    // And its published ports work through the binary too.
    let ports = parse_publish("127.0.0.1::80").unwrap();
    let srv = Ns::new();
    let _s = srv.serve(80);
    let ep = net
        .manager
        .attach(&open.name, &attach_opts("web", &srv, &ports))
        .unwrap();
    let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, ep.ports[0].host_port);
    assert!(fetch(addr).unwrap().starts_with(&srv.name));
    net.manager.detach(&open.name, "web").unwrap();
    assert!(nft_rules_with(&format!("berth:ctr:{}:web\"", open.bridge)).is_empty());
}

#[test]
fn restore_rebuilds_lost_rules_without_duplicates() {
    let net = Net::new();
    let cfg = net.create_on_test_subnet();
    let server = Ns::new();
    let _srv = server.serve(80);
    let ports = parse_publish("127.0.0.1::80").unwrap();
    let ep = net
        .manager
        .attach(&cfg.name, &attach_opts("web", &server, &ports))
        .unwrap();
    let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, ep.ports[0].host_port);
    assert!(fetch(addr).is_ok());
    let owned = |c: &str| nft_rules_with(&format!("{c}\""));
    let net_rules = owned(&format!("berth:net:{}", cfg.bridge)).len();
    let ctr_rules = owned(&format!("berth:ctr:{}:web", cfg.bridge)).len();
    // Lose this network's rules (only this test's own: the table is shared).
    let mut lost = nft_rules_with(&format!("berth:net:{}\"", cfg.bridge));
    lost.extend(nft_rules_with(&format!("berth:ctr:{}:", cfg.bridge)));
    for line in lost {
        let handle = line.rsplit("# handle ").next().unwrap().trim().to_string();
        for chain in [
            "prerouting",
            "output",
            "postrouting",
            "forward",
            "guard",
            "published",
        ] {
            let _ = std::process::Command::new("nft")
                .args(["delete", "rule", "ip", "berth", chain, "handle", &handle])
                .output();
        }
    }
    assert!(owned(&format!("berth:ctr:{}:web", cfg.bridge)).is_empty());
    assert!(fetch(addr).is_err(), "the port answered without its rule");
    net.manager.restore().unwrap();
    assert!(fetch(addr).is_ok(), "restore did not bring the port back");
    // Restoring again changes nothing.
    net.manager.restore().unwrap();
    assert_eq!(owned(&format!("berth:net:{}", cfg.bridge)).len(), net_rules);
    assert_eq!(
        owned(&format!("berth:ctr:{}:web", cfg.bridge)).len(),
        ctr_rules
    );
}
