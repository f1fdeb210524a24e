//! `berth run --network` end to end with real containers: busybox httpd on the default
//! bridge serving a file through a port published on 127.0.0.1, `port` and `inspect`
//! showing the mapping and address, containers on a user network reaching each other
//! by name through the embedded DNS, the default bridge cut off from a user network,
//! and no link, address or nftables rule left after `rm` and `network rm`.
//!
//! Each test has its own root and state, so its own default network on a bridge of its
//! own (`berth0` is the default root's), and user networks with bridge names of its own.

#[path = "engine_support.rs"]
mod engine_support;
#[path = "network_support.rs"]
mod network_support;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpStream};
use std::process::Command;
use std::time::Duration;

use engine_support::{Berth, IMAGE};

/// Runs `ip`/`nft` and returns its stdout (empty when it fails: a table that is gone).
fn out(args: &[&str]) -> String {
    Command::new(args[0])
        .args(&args[1..])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// The links enslaved to `bridge` (the host ends of its containers' veths).
fn ports_of(bridge: &str) -> Vec<String> {
    out(&["ip", "-o", "link", "show", "master", bridge])
        .lines()
        .filter_map(|l| l.split(':').nth(1))
        .map(|n| n.trim().split('@').next().unwrap_or("").to_string())
        .collect()
}

fn link_exists(name: &str) -> bool {
    out(&["ip", "-o", "link"])
        .lines()
        .any(|l| l.split(':').nth(1).is_some_and(|n| n.trim().split('@').next() == Some(name)))
}

/// Lines of berth's nftables table that mention `needle`.
fn nft_with(needle: &str) -> Vec<String> {
    out(&["nft", "list", "table", "ip", "berth"])
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_string)
        .collect()
}

/// A short name unique to this process and call (bridge names have 15 characters).
fn short(prefix: &str) -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "{prefix}{}x{}",
        std::process::id() % 100_000,
        N.fetch_add(1, Ordering::SeqCst)
    );
    assert!(name.len() <= 15);
    name
}

/// A plain HTTP/1.0 GET from the test process.
fn http_get(addr: SocketAddrV4, path: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr.into(), Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: test\r\n\r\n")?;
    let mut body = String::new();
    s.read_to_string(&mut body)?;
    Ok(body)
}

#[test]
fn default_bridge_publishes_httpd_on_loopback_and_is_cut_off_from_user_networks() {
    let b = &Berth::new("engnet-bridge");
    // `bridge` is the default network: listed from the start, on the root's own bridge.
    let ls = b.run(&["network", "ls", "--format", "{{.Name}} {{.Driver}}"]).ok();
    assert!(ls.lines().any(|l| l == "bridge bridge"), "{ls}");
    let net: serde_json::Value =
        serde_json::from_str(&b.run(&["network", "inspect", "bridge"]).ok()).unwrap();
    let def = net[0]["Options"]["com.docker.network.bridge.name"].as_str().unwrap().to_string();
    assert!(def.starts_with("berth-") && link_exists(&def), "{def}");
    let r = b.run(&[
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        "127.0.0.1::80",
        IMAGE,
        "sh",
        "-c",
        "mkdir -p /www && echo served by berth > /www/index.html && exec httpd -f -p 80 -h /www",
    ]);
    assert_eq!(r.code(), 0, "stderr: {}", r.stderr());

    let port = b.run(&["port", "web"]).ok();
    let line = port.trim();
    let host = line
        .strip_prefix("80/tcp -> 127.0.0.1:")
        .unwrap_or_else(|| panic!("port printed {line:?}"));
    let host_port: u16 = host.parse().unwrap();
    assert_eq!(
        b.run(&["port", "web", "80/tcp"]).ok().trim(),
        format!("127.0.0.1:{host_port}")
    );

    let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, host_port);
    let mut body = String::new();
    b.eventually(5, "httpd to answer", || {
        body = http_get(addr, "/index.html").unwrap_or_default();
        body.contains("served by berth")
    });
    assert!(body.starts_with("HTTP/1.") && body.contains(" 200 OK"), "{body}");

    // -P: the image's EXPOSE and --expose, each on a free port of every host address.
    let tar = b.path("rootfs.tar");
    let r = b.run(&["import", "-c", "EXPOSE 80", "-c", "ENV PATH=/bin", tar.to_str().unwrap(), "exposed"]);
    assert_eq!(r.code(), 0, "stderr: {}", r.stderr());
    let r = b.run(&[
        "run", "-d", "--name", "all", "--network", "bridge", "-P", "--expose", "5353/udp",
        "exposed", "sh", "-c",
        "mkdir -p /www && echo all ports > /www/index.html && exec httpd -f -p 80 -h /www",
    ]);
    assert_eq!(r.code(), 0, "stderr: {}", r.stderr());
    let ports = b.run(&["port", "all"]).ok();
    let lines: Vec<&str> = ports.lines().collect();
    assert_eq!(lines.len(), 2, "{ports}");
    let tcp: u16 = lines
        .iter()
        .find_map(|l| l.strip_prefix("80/tcp -> 0.0.0.0:"))
        .unwrap_or_else(|| panic!("{ports}"))
        .parse()
        .unwrap();
    assert!(lines.iter().any(|l| l.starts_with("5353/udp -> 0.0.0.0:")), "{ports}");
    let all = SocketAddrV4::new(Ipv4Addr::LOCALHOST, tcp);
    b.eventually(5, "the -P httpd to answer", || {
        http_get(all, "/index.html").is_ok_and(|b| b.contains("all ports"))
    });
    b.run(&["rm", "-f", "all"]).ok();

    let doc = b.inspect("web");
    let ns = &doc["NetworkSettings"];
    let ip: Ipv4Addr = ns["Networks"]["bridge"]["IPAddress"]
        .as_str()
        .unwrap()
        .parse()
        .expect("inspect gives the address");
    assert_eq!(ns["IPAddress"], ns["Networks"]["bridge"]["IPAddress"]);
    assert_eq!(
        ns["Ports"]["80/tcp"][0],
        serde_json::json!({"HostIp": "127.0.0.1", "HostPort": host_port.to_string()})
    );
    let inside = b.run(&["exec", "web", "ip", "-o", "-4", "addr", "show", "eth0"]).ok();
    assert!(inside.contains(&format!("inet {ip}/")), "{inside}");
    let hostname = doc["Config"]["Hostname"].as_str().unwrap().to_string();
    let hosts = b.run(&["exec", "web", "cat", "/etc/hosts"]).ok();
    assert!(hosts.ends_with(&format!("\n{ip}\t{hostname}\n")), "{hosts}");
    let veths = ports_of(&def);
    assert_eq!(veths.len(), 1, "one container on {def}: {veths:?}");

    // A container on the default bridge cannot reach one on a user network, while one on
    // that network can.
    let bridge = short("bte");
    let opt = format!("com.docker.network.bridge.name={bridge}");
    let r = b.run(&["network", "create", "-o", &opt, "inner"]);
    assert_eq!(r.code(), 0, "stderr: {}", r.stderr());
    let r = b.run(&["run", "-d", "--name", "db", "--network", "inner", IMAGE, "sleep", "60"]);
    assert_eq!(r.code(), 0, "stderr: {}", r.stderr());
    let db = b.inspect("db")["NetworkSettings"]["Networks"]["inner"]["IPAddress"]
        .as_str()
        .unwrap()
        .to_string();
    let from_bridge = b.run(&[
        "run", "--rm", "--network", "bridge", IMAGE, "ping", "-c1", "-W1", &db,
    ]);
    assert_ne!(from_bridge.code(), 0, "the default bridge reached {db}");
    let from_inner = b.run(&["run", "--rm", "--network", "inner", IMAGE, "ping", "-c1", "-W2", &db]);
    assert_eq!(from_inner.code(), 0, "stdout: {}", from_inner.stdout());

    // Exact teardown: veths, published port rules, the user network's bridge and rules.
    b.run(&["rm", "-f", "web", "db"]).ok();
    b.eventually(5, "the --rm containers' veths to go", || ports_of(&def).is_empty());
    for v in &veths {
        assert!(!link_exists(v), "{v} left behind");
    }
    assert!(ports_of(&def).is_empty());
    assert!(
        nft_with(&format!("dport {host_port}")).is_empty(),
        "port rules left: {:?}",
        nft_with(&format!("dport {host_port}"))
    );
    assert!(http_get(addr, "/index.html").map_or(true, |b| !b.contains("served by berth")));
    assert_eq!(b.run(&["network", "rm", "inner"]).ok(), "inner\n");
    assert!(!link_exists(&bridge));
    assert!(nft_with(&bridge).is_empty(), "{:?}", nft_with(&bridge));
    let r = b.run(&["network", "rm", "bridge"]);
    assert_eq!(
        r.stderr(),
        "Error response from daemon: bridge is a pre-defined network and cannot be removed\n"
    );
}

#[test]
fn user_network_containers_reach_each_other_by_name() {
    let b = &Berth::new("engnet-user");
    let bridge = short("btu");
    let opt = format!("com.docker.network.bridge.name={bridge}");
    // A subnet of its own outside Docker's pools: while this test deletes its bridge,
    // another test's network must not take the subnet the host no longer routes.
    let wanted = network_support::subnet().to_string();
    let r = b.run(&["network", "create", "--subnet", &wanted, "-o", &opt, "front"]);
    assert_eq!(r.code(), 0, "stderr: {}", r.stderr());
    let id = r.stdout().trim().to_string();
    assert_eq!(id.len(), 64);
    let ls = b.run(&["network", "ls"]).ok();
    assert!(ls.starts_with("NETWORK ID"), "{ls}");
    assert!(
        ls.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == [&id[..12], "front", "bridge", "local"]),
        "{ls}"
    );

    // The bridge gone as after a reboot: the next container's start rebuilds it.
    assert!(link_exists(&bridge));
    assert!(Command::new("ip").args(["link", "del", &bridge]).status().unwrap().success());
    let fixed = wanted.parse::<ipnet::Ipv4Net>().unwrap().hosts().nth(9).unwrap().to_string();
    let r = b.run(&[
        "run", "-d", "--name", "alpha", "--network", "front", "--ip", &fixed,
        "--network-alias", "db", IMAGE, "sleep", "60",
    ]);
    assert_eq!(r.code(), 0, "stderr: {}", r.stderr());
    let alpha = b.inspect("alpha")["NetworkSettings"]["Networks"]["front"]["IPAddress"]
        .as_str()
        .unwrap()
        .to_string();
    let net: serde_json::Value =
        serde_json::from_str(&b.run(&["network", "inspect", "front"]).ok()).unwrap();
    let subnet: ipnet::Ipv4Net = net[0]["IPAM"]["Config"][0]["Subnet"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(subnet.to_string(), wanted);
    assert_eq!(alpha, fixed, "--ip");
    let settings = &b.inspect("alpha")["NetworkSettings"]["Networks"]["front"];
    assert_eq!(settings["Aliases"], serde_json::json!(["db"]));
    assert_eq!(settings["DNSNames"], serde_json::json!(["alpha", "db"]));
    assert!(subnet.contains(&alpha.parse::<Ipv4Addr>().unwrap()));
    assert_eq!(net[0]["Options"]["com.docker.network.bridge.name"], bridge.as_str());
    let members = net[0]["Containers"].as_object().unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members.values().next().unwrap()["Name"], "alpha");

    // By name, through the embedded DNS server at 127.0.0.11.
    let r = b.run(&[
        "run", "--rm", "--network", "front", IMAGE, "sh", "-c",
        "grep nameserver /etc/resolv.conf && ping -c1 -W2 alpha && ping -c1 -W2 db",
    ]);
    assert_eq!(r.code(), 0, "stdout: {} stderr: {}", r.stdout(), r.stderr());
    assert!(r.stdout().starts_with("nameserver 127.0.0.11\n"), "{}", r.stdout());
    assert!(r.stdout().contains(&format!("PING alpha ({alpha})")), "{}", r.stdout());
    assert!(r.stdout().contains(&format!("PING db ({alpha})")), "{}", r.stdout());
    // container:NAME shares alpha's namespace: its address, its resolver.
    let r = b.run(&[
        "run", "--rm", "--network", "container:alpha", IMAGE, "sh", "-c",
        "ip -o -4 addr show eth0 && ping -c1 -W2 db",
    ]);
    assert_eq!(r.code(), 0, "stdout: {} stderr: {}", r.stdout(), r.stderr());
    assert!(r.stdout().contains(&format!("inet {alpha}/")), "{}", r.stdout());
    b.fails_with(
        &["run", "--rm", "--network", "container:alpha", "-p", "80", IMAGE, "true"],
        125,
        "conflicting options: port publishing and the container type network mode",
    );

    // --dns*: the embedded server stays the container's resolver on a user network;
    // without one the container's resolv.conf takes them as they are.
    let r = b.run(&[
        "run", "--rm", "--network", "front", "--dns", "192.0.2.53", "--dns-search", "example.test",
        "--dns-option", "ndots:2", IMAGE, "cat", "/etc/resolv.conf",
    ]);
    assert_eq!(
        r.ok(),
        "nameserver 127.0.0.11\nsearch example.test\noptions ndots:2\n"
    );
    let r = b.run(&[
        "run", "--rm", "--dns", "192.0.2.53", "--dns-search", "example.test", IMAGE, "cat",
        "/etc/resolv.conf",
    ]);
    // (the host's options, if any, follow)
    assert!(r.ok().starts_with("nameserver 192.0.2.53\nsearch example.test\n"), "{}", r.stdout());
    b.fails_with(
        &["run", "--rm", "--dns", "nope", IMAGE, "true"],
        125,
        "nope is not an ip address",
    );
    // Docker's refusals, nothing created.
    let outside = b.run(&["run", "--rm", "--network", "front", "--ip", "192.0.2.7", IMAGE, "true"]);
    assert_eq!(outside.code(), 125);
    assert!(
        outside.stderr().contains("Invalid address 192.0.2.7: It does not belong to any of this network's subnets"),
        "{}",
        outside.stderr()
    );
    let alias = b.run(&["create", "--network-alias", "x", IMAGE, "true"]);
    assert_ne!(alias.code(), 0);
    assert!(alias.stderr().contains("network-scoped alias is supported only for containers in user defined networks"), "{}", alias.stderr());
    assert_eq!(b.ps().len(), 1, "{:?}", b.ps());
    // A name nobody has is not answered with an address.
    // ping's words for a name that did not resolve, not for an address that did not answer.
    b.fails_with(
        &["run", "--rm", "--network", "front", IMAGE, "ping", "-c1", "-W1", "nobody-here"],
        1,
        "ping: bad address 'nobody-here'",
    );

    // A `--rm` container's monitor leaves the network right after reporting the exit.
    b.eventually(5, "the --rm containers' veths to go", || ports_of(&bridge).len() == 1);
    let veths = ports_of(&bridge);
    b.fails_with(&["network", "rm", "front"], 1, "has active endpoints");

    assert_eq!(b.run(&["stop", "-t", "1", "alpha"]).code(), 0);
    assert!(!link_exists(&veths[0]), "stop left {} behind", veths[0]);
    b.run(&["rm", "alpha"]).ok();
    // network rm right after a `--rm` run waits for that container's teardown.
    let r = b.run(&["run", "--rm", "--network", "front", IMAGE, "true"]);
    assert_eq!(r.code(), 0, "stderr: {}", r.stderr());
    assert_eq!(b.run(&["network", "rm", "front"]).ok(), "front\n");
    assert!(!link_exists(&bridge));
    let left: Vec<Ipv4Addr> = out(&["ip", "-o", "-4", "addr"])
        .split_whitespace()
        .filter_map(|w| w.split_once('/').and_then(|(a, _)| a.parse().ok()))
        .filter(|a| subnet.contains(a))
        .collect();
    assert!(left.is_empty(), "addresses of {subnet} left: {left:?}");
    assert!(nft_with(&bridge).is_empty(), "{:?}", nft_with(&bridge));
    assert!(nft_with(&subnet.to_string()).is_empty());
    let r = b.run(&["network", "inspect", "front"]);
    assert_eq!(r.code(), 1);
    assert_eq!(r.stderr(), "Error response from daemon: network front not found\n");
    b.fails_with(
        &["run", "--rm", "--network", "front", IMAGE, "true"],
        125,
        "network front not found",
    );
}

#[test]
fn none_has_only_lo_and_host_shares_the_hosts_links() {
    let b = Berth::new("engnet-modes");
    let r = b.run(&["run", "--rm", "--network", "none", IMAGE, "sh", "-c", "ip -o link && ping -c1 -W1 127.0.0.1 >/dev/null"]);
    assert_eq!(r.code(), 0, "stdout: {} stderr: {}", r.stdout(), r.stderr());
    let stdout = r.stdout();
    let links: Vec<&str> = stdout.lines().collect();
    assert_eq!(links.len(), 1, "{links:?}");
    assert!(links[0].starts_with("1: lo: <LOOPBACK,UP"), "{links:?}");

    // A link only the host's namespace has (its first one besides lo) is seen inside.
    let host_link = std::fs::read_dir("/sys/class/net")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().into_string().unwrap())
        .filter(|n| n != "lo" && !n.starts_with("veth"))
        .min()
        .expect("the host has a link besides lo");
    let r = b.run(&["run", "--rm", "--network", "host", IMAGE, "ip", "-o", "link", "show", &host_link]);
    assert_eq!(r.code(), 0, "stderr: {}", r.stderr());
    assert!(r.stdout().contains(&format!(": {host_link}")), "{}", r.stdout());

    // host and none are pre-defined networks, as under Docker's daemon: listed,
    // inspected (with the containers in that mode), never removed or made again.
    let ls = b.run(&["network", "ls", "--format", "{{.Name}} {{.Driver}}"]).ok();
    assert_eq!(ls, "bridge bridge\nhost host\nnone null\n");
    let id = b.run(&["run", "-d", "--network", "host", IMAGE, "sleep", "60"]).ok();
    let net: serde_json::Value =
        serde_json::from_str(&b.run(&["network", "inspect", "host", "none"]).ok()).unwrap();
    assert_eq!(net[0]["Driver"], "host");
    assert_eq!(net[1]["Driver"], "null");
    assert!(net[0]["Containers"].get(id.trim()).is_some(), "{net}");
    assert_eq!(net[1]["Containers"], serde_json::json!({}));
    let r = b.run(&["network", "rm", "host"]);
    assert_eq!(r.code(), 1);
    assert_eq!(
        r.stderr(),
        "Error response from daemon: host is a pre-defined network and cannot be removed\n"
    );
    let r = b.run(&["network", "create", "none"]);
    assert_eq!(r.code(), 1);
    assert_eq!(r.stderr(), "Error response from daemon: network with name none already exists\n");
}

#[test]
fn a_second_host_reaches_a_published_port() {
    let b = &Berth::new("engnet-remote");
    let bridge = short("btr");
    let opt = format!("com.docker.network.bridge.name={bridge}");
    let wanted = network_support::subnet().to_string();
    let r = b.run(&["network", "create", "--subnet", &wanted, "-o", &opt, "pub"]);
    assert_eq!(r.code(), 0, "stderr: {}", r.stderr());
    let r = b.run(&[
        "run", "-d", "--name", "site", "--network", "pub", "-p", "80", IMAGE, "sh", "-c",
        "mkdir -p /www && echo from afar > /www/index.html && exec httpd -f -p 80 -h /www",
    ]);
    assert_eq!(r.code(), 0, "stderr: {}", r.stderr());
    let port: u16 = b
        .run(&["port", "site", "80"])
        .ok()
        .trim()
        .strip_prefix("0.0.0.0:")
        .expect("published on every address")
        .parse()
        .unwrap();
    let other = network_support::OtherHost::new();
    let addr = SocketAddrV4::new(other.host_side, port);
    let mut body = String::new();
    b.eventually(5, "the second host to get the page", || {
        body = other
            .ns
            .netns
            .run(|| http_get(addr, "/index.html"))
            .unwrap()
            .unwrap_or_default();
        body.contains("from afar")
    });
    b.run(&["rm", "-f", "site"]).ok();
    assert!(other
        .ns
        .netns
        .run(|| http_get(addr, "/index.html"))
        .unwrap()
        .map_or(true, |b| !b.contains("from afar")));
    assert_eq!(b.run(&["network", "rm", "pub"]).ok(), "pub\n");
    assert!(nft_with(&bridge).is_empty());
}

/// Creates user network `name` on a subnet of its own with bridge `bridge`; returns the
/// subnet.
fn user_network(b: &Berth, name: &str, bridge: &str) -> ipnet::Ipv4Net {
    let subnet = network_support::subnet();
    let opt = format!("com.docker.network.bridge.name={bridge}");
    let r = b.run(&["network", "create", "--subnet", &subnet.to_string(), "-o", &opt, name]);
    assert_eq!(r.code(), 0, "stderr: {}", r.stderr());
    subnet
}

/// The IPv4 address of `ifname` inside container `name`, if it has one.
fn address_in(b: &Berth, name: &str, ifname: &str) -> Option<Ipv4Addr> {
    let r = b.run(&["exec", name, "ip", "-o", "-4", "addr", "show", ifname]);
    r.stdout()
        .split_whitespace()
        .skip_while(|w| *w != "inet")
        .nth(1)
        .and_then(|a| a.split('/').next())
        .and_then(|a| a.parse().ok())
}

/// After every container and the networks are removed: no veth on the bridges, no
/// bridge, no address of the subnets, no rule mentioning either.
fn assert_all_gone(bridges: &[&str], subnets: &[ipnet::Ipv4Net]) {
    for bridge in bridges {
        assert!(!link_exists(bridge), "{bridge} left behind");
        assert!(nft_with(bridge).is_empty(), "{:?}", nft_with(bridge));
    }
    let addrs = out(&["ip", "-o", "-4", "addr"]);
    for subnet in subnets {
        let left: Vec<Ipv4Addr> = addrs
            .split_whitespace()
            .filter_map(|w| w.split_once('/').and_then(|(a, _)| a.parse().ok()))
            .filter(|a| subnet.contains(a))
            .collect();
        assert!(left.is_empty(), "addresses of {subnet} left: {left:?}");
        assert!(nft_with(&subnet.to_string()).is_empty());
    }
}

#[test]
fn network_connect_and_disconnect_a_running_container() {
    let b = &Berth::new("engnet-connect");
    let (bf, bk) = (short("bcf"), short("bck"));
    let front = user_network(b, "front", &bf);
    let back = user_network(b, "back", &bk);
    for (name, net) in [("web", "back"), ("app", "front")] {
        let r = b.run(&["run", "-d", "--name", name, "--network", net, IMAGE, "sleep", "300"]);
        assert_eq!(r.code(), 0, "stderr: {}", r.stderr());
    }
    let app_id = b.inspect("app")["Id"].as_str().unwrap().to_string();
    let web_ip = address_in(b, "web", "eth0").unwrap();
    assert!(back.contains(&web_ip));
    // Not on web's network yet: its name is unknown to app.
    assert_ne!(b.run(&["exec", "app", "ping", "-c1", "-W1", "web"]).code(), 0);

    let r = b.run(&["network", "connect", "--alias", "api", "back", "app"]);
    assert_eq!((r.code(), r.stdout(), r.stderr()), (0, "".into(), "".into()));
    let eth1 = address_in(b, "app", "eth1").expect("eth1 with an address on back");
    assert!(back.contains(&eth1), "{eth1} not in {back}");
    let eth0 = address_in(b, "app", "eth0").unwrap();
    assert!(front.contains(&eth0));
    // The default route stays on the first network.
    let route = b.run(&["exec", "app", "ip", "route", "show", "default"]).ok();
    assert!(route.contains(&format!("via {} dev eth0", front.hosts().next().unwrap())), "{route}");
    // By name both ways, through the embedded DNS of each (app's learnt the new network
    // while it ran), the alias too.
    let r = b.run(&["exec", "app", "ping", "-c1", "-W2", "web"]);
    assert_eq!(r.code(), 0, "stdout: {} stderr: {}", r.stdout(), r.stderr());
    assert!(r.stdout().contains(&format!("PING web ({web_ip})")), "{}", r.stdout());
    let r = b.run(&["exec", "web", "ping", "-c1", "-W2", "api"]);
    assert_eq!(r.code(), 0, "stdout: {} stderr: {}", r.stdout(), r.stderr());
    assert!(r.stdout().contains(&format!("PING api ({eth1})")), "{}", r.stdout());

    // inspect: every network with its address, MAC, gateway, IDs; the top level is the
    // default network's (app is not on it).
    let doc = b.inspect("app");
    let ns = &doc["NetworkSettings"];
    assert_eq!(ns["IPAddress"], "");
    let nets = ns["Networks"].as_object().unwrap();
    assert_eq!(nets.keys().collect::<Vec<_>>(), ["back", "front"]);
    let k = &ns["Networks"]["back"];
    assert_eq!(k["IPAddress"], eth1.to_string());
    assert_eq!(k["Gateway"], back.hosts().next().unwrap().to_string());
    assert_eq!(k["Aliases"], serde_json::json!(["api"]));
    assert_eq!(k["EndpointID"].as_str().unwrap().len(), 64);
    assert_ne!(k["EndpointID"], ns["Networks"]["front"]["EndpointID"]);
    let mac = b.run(&["exec", "app", "cat", "/sys/class/net/eth1/address"]).ok();
    assert_eq!(k["MacAddress"], mac.trim());
    let net: serde_json::Value =
        serde_json::from_str(&b.run(&["network", "inspect", "back"]).ok()).unwrap();
    assert_eq!(k["NetworkID"], net[0]["Id"]);
    let members = net[0]["Containers"].as_object().unwrap();
    let mut names: Vec<&str> = members.values().map(|m| m["Name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["app", "web"]);
    assert_eq!(members[&app_id]["EndpointID"], k["EndpointID"]);
    let ps = b.run(&["ps", "--filter", "name=app", "--format", "{{.Networks}}"]).ok();
    assert_eq!(ps, "front,back\n");
    // /etc/hosts names the container at its address on each network, as Docker's.
    let hostname = b.run(&["exec", "app", "hostname"]).ok();
    let own = |hosts: &str| -> Vec<String> {
        hosts
            .lines()
            .filter(|l| l.split_whitespace().nth(1) == Some(hostname.trim()))
            .map(|l| l.split_whitespace().next().unwrap().to_string())
            .collect()
    };
    let hosts = b.run(&["exec", "app", "cat", "/etc/hosts"]).ok();
    assert_eq!(own(&hosts), [eth0.to_string(), eth1.to_string()], "{hosts}");

    // Docker's refusals, exit 1.
    let refused = |args: &[&str], msg: &str| {
        let r = b.run(args);
        assert_eq!((r.code(), r.stderr()), (1, format!("Error response from daemon: {msg}\n")), "{args:?}");
    };
    refused(&["network", "connect", "back", "app"], "endpoint with name app already exists in network back");
    refused(&["network", "connect", "nope", "app"], "network nope not found");
    refused(&["network", "disconnect", "nope", "app"], "network nope not found");
    refused(&["network", "connect", "host", "app"], "container cannot be disconnected from host network or connected to host network");
    refused(&["network", "connect", "none", "app"], "container cannot be connected to multiple networks with one of the networks in private (none) mode");
    refused(&["network", "connect", "back", "nobody"], "No such container: nobody");
    b.fails_with(&["network", "rm", "back"], 1, "has active endpoints");
    for (name, mode) in [("hh", "host"), ("nn", "none"), ("shared", "container:web")] {
        let r = b.run(&["run", "-d", "--name", name, "--network", mode, IMAGE, "sleep", "300"]);
        assert_eq!(r.code(), 0, "stderr: {}", r.stderr());
    }
    let shared = "container sharing network namespace with another container or host cannot be connected to any other network";
    refused(&["network", "connect", "front", "hh"], shared);
    refused(&["network", "connect", "front", "shared"], shared);
    refused(&["network", "connect", "front", "nn"], "container cannot be connected to multiple networks with one of the networks in private (none) mode");
    refused(&["network", "disconnect", "host", "hh"], "container cannot be disconnected from host network or connected to host network");

    // Disconnected: eth1 gone, web's name no longer answered, web cannot reach it.
    let r = b.run(&["network", "disconnect", "back", "app"]);
    assert_eq!((r.code(), r.stdout(), r.stderr()), (0, "".into(), "".into()));
    let links = b.run(&["exec", "app", "ls", "/sys/class/net"]).ok();
    assert_eq!(links.split_whitespace().collect::<Vec<_>>(), ["eth0", "lo"]);
    assert_ne!(b.run(&["exec", "app", "ping", "-c1", "-W1", "web"]).code(), 0);
    assert_ne!(b.run(&["exec", "web", "ping", "-c1", "-W1", "api"]).code(), 0);
    assert_ne!(b.run(&["exec", "web", "ping", "-c1", "-W1", &eth1.to_string()]).code(), 0);
    let nets = b.inspect("app")["NetworkSettings"]["Networks"].as_object().unwrap().clone();
    assert_eq!(nets.keys().collect::<Vec<_>>(), ["front"]);
    let hosts = b.run(&["exec", "app", "cat", "/etc/hosts"]).ok();
    assert_eq!(own(&hosts), [eth0.to_string()], "{hosts}");
    assert_eq!(ports_of(&bk).len(), 1, "web alone on back: {:?}", ports_of(&bk));
    refused(&["network", "disconnect", "back", "app"], &format!("container {app_id} is not connected to network back"));
    // Back on it, a second time, at an address of its choosing: eth1 again.
    let fixed = back.hosts().nth(49).unwrap();
    b.fails_with(
        &["network", "connect", "--ip", "192.0.2.9", "back", "app"],
        1,
        "Invalid address 192.0.2.9: It does not belong to any of this network's subnets",
    );
    b.run(&["network", "connect", "--ip", &fixed.to_string(), "back", "app"]).ok();
    assert_eq!(address_in(b, "app", "eth1"), Some(fixed));
    let k = &b.inspect("app")["NetworkSettings"]["Networks"]["back"];
    assert_eq!(k["IPAMConfig"], serde_json::json!({"IPv4Address": fixed.to_string()}));

    // Exact teardown.
    b.run(&["rm", "-f", "app", "web", "hh", "nn", "shared"]).ok();
    b.eventually(5, "the veths to go", || ports_of(&bf).is_empty() && ports_of(&bk).is_empty());
    assert_eq!(b.run(&["network", "rm", "front", "back"]).ok(), "front\nback\n");
    assert_all_gone(&[&bf, &bk], &[front, back]);
}

#[test]
fn mac_address_and_a_stopped_container_connected_before_its_start() {
    let b = &Berth::new("engnet-mac");
    let r = b.run(&["run", "--rm", "--mac-address", "zz", IMAGE, "true"]);
    assert_eq!(
        (r.code(), r.stderr()),
        (125, "berth: zz is not a valid mac address.\nSee 'berth run --help'.\n".into())
    );
    let (bf, bk) = (short("bmf"), short("bmk"));
    let front = user_network(b, "front", &bf);
    let back = user_network(b, "back", &bk);
    let r = b.run(&["run", "-d", "--name", "web", "--network", "back", IMAGE, "sleep", "300"]);
    assert_eq!(r.code(), 0, "stderr: {}", r.stderr());

    let mac = "02:42:de:ad:be:ef";
    let r = b.run(&[
        "create", "--name", "mc", "--network", "front", "--mac-address", mac, IMAGE, "sleep", "300",
    ]);
    assert_eq!(r.code(), 0, "stderr: {}", r.stderr());
    assert_eq!(b.inspect("mc")["NetworkSettings"]["Networks"]["front"]["MacAddress"], mac);
    // Created: connected now, joined at start.
    b.run(&["network", "connect", "--alias", "emm", "back", "mc"]).ok();
    let ns = b.inspect("mc")["NetworkSettings"].clone();
    assert_eq!(ns["Networks"]["back"]["IPAddress"], "");
    assert_eq!(ns["Networks"]["back"]["Aliases"], serde_json::json!(["emm"]));
    let r = b.run(&["network", "connect", "back", "mc"]);
    assert_eq!(r.stderr(), "Error response from daemon: endpoint with name mc already exists in network back\n");
    assert!(ports_of(&bk).len() == 1, "nothing attached before the start");

    b.run(&["start", "mc"]).ok();
    assert_eq!(b.run(&["exec", "mc", "cat", "/sys/class/net/eth0/address"]).ok(), format!("{mac}\n"));
    let eth0 = address_in(b, "mc", "eth0").unwrap();
    let eth1 = address_in(b, "mc", "eth1").unwrap();
    assert!(front.contains(&eth0) && back.contains(&eth1), "{eth0} {eth1}");
    let ns = b.inspect("mc")["NetworkSettings"].clone();
    assert_eq!(ns["Networks"]["front"]["MacAddress"], mac);
    assert_eq!(ns["Networks"]["front"]["IPAddress"], eth0.to_string());
    assert_eq!(ns["Networks"]["back"]["IPAddress"], eth1.to_string());
    // Names on both its networks, its own on the second too.
    let r = b.run(&["exec", "mc", "ping", "-c1", "-W2", "web"]);
    assert_eq!(r.code(), 0, "stdout: {} stderr: {}", r.stdout(), r.stderr());
    let r = b.run(&["exec", "web", "ping", "-c1", "-W2", "emm"]);
    assert!(r.stdout().contains(&format!("PING emm ({eth1})")), "{} {}", r.stdout(), r.stderr());

    // Stopped: off both networks; disconnected from one while stopped, started again on
    // the other only.
    assert_eq!(b.run(&["stop", "-t", "1", "mc"]).code(), 0);
    assert!(ports_of(&bf).is_empty(), "{:?}", ports_of(&bf));
    assert_eq!(ports_of(&bk).len(), 1, "{:?}", ports_of(&bk));
    b.run(&["network", "disconnect", "front", "mc"]).ok();
    b.run(&["start", "mc"]).ok();
    let links = b.run(&["exec", "mc", "ls", "/sys/class/net"]).ok();
    assert_eq!(links.split_whitespace().collect::<Vec<_>>(), ["eth0", "lo"]);
    assert!(address_in(b, "mc", "eth0").is_some_and(|a| back.contains(&a)));
    assert!(ports_of(&bf).is_empty());

    b.run(&["rm", "-f", "mc", "web"]).ok();
    b.eventually(5, "the veths to go", || ports_of(&bf).is_empty() && ports_of(&bk).is_empty());
    assert_eq!(b.run(&["network", "rm", "front", "back"]).ok(), "front\nback\n");
    assert_all_gone(&[&bf, &bk], &[front, back]);
}

#[test]
fn bad_network_input_leaves_nothing_half_configured() {
    let b = &Berth::new("engnet-bad");
    let bridge = short("btb");
    let subnet = user_network(b, "one", &bridge);

    // An overlapping subnet: refused, no second network.
    let r = b.run(&["network", "create", "--subnet", &subnet.to_string(), "two"]);
    assert_eq!(
        (r.code(), r.stderr()),
        (1, "Error response from daemon: Pool overlaps with other one on this address space\n".to_string())
    );
    let ls = b.run(&["network", "ls", "--format", "{{.Name}}"]).ok();
    assert!(!ls.lines().any(|l| l == "two"), "{ls}");

    // A host port someone holds: the start fails with Docker's message; no veth, port
    // rule or running process is left, and the port stays the holder's.
    let holder = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let publish = format!("{port}:80");
    let r = b.run(&["run", "-d", "--name", "pub1", "--network", "one", "-p", &publish, IMAGE, "sleep", "60"]);
    assert_eq!(r.code(), 125, "stdout: {} stderr: {}", r.stdout(), r.stderr());
    // Docker 25's words for a port another program holds.
    assert!(
        r.stderr().contains(&format!("failed to bind host port for 0.0.0.0:{port}:"))
            && r.stderr().contains("address already in use"),
        "{}",
        r.stderr()
    );
    assert!(ports_of(&bridge).is_empty(), "{:?}", ports_of(&bridge));
    assert!(nft_with(&format!("dport {port}")).is_empty(), "{:?}", nft_with(&format!("dport {port}")));
    let state = b.run(&["inspect", "-f", "{{.State.Status}}", "pub1"]).ok();
    assert_eq!(state.trim(), "created");
    b.run(&["rm", "pub1"]).ok();
    // A port another container publishes: Docker's "already allocated".
    let first = b.run(&["run", "-d", "--name", "first", "--network", "one", "-p", "80", IMAGE, "sleep", "60"]);
    assert_eq!(first.code(), 0, "{}", first.stderr());
    let taken = b.run(&["port", "first", "80"]).ok();
    let taken_port = taken.trim().rsplit(':').next().unwrap().to_string();
    let publish = format!("{taken_port}:80");
    b.fails_with(
        &["run", "-d", "--name", "second", "--network", "one", "-p", &publish, IMAGE, "sleep", "60"],
        125,
        &format!("Bind for 0.0.0.0:{taken_port} failed: port is already allocated"),
    );
    assert_eq!(ports_of(&bridge).len(), 1, "only first's veth: {:?}", ports_of(&bridge));
    b.run(&["rm", "-f", "first", "second"]).ok();

    // An unknown network: refused before anything is made.
    b.fails_with(
        &["run", "--rm", "--network", "nope", IMAGE, "true"],
        125,
        "network nope not found",
    );
    assert!(b.ps().is_empty(), "{:?}", b.ps());

    assert_eq!(b.run(&["network", "rm", "one"]).ok(), "one\n");
    assert_all_gone(&[&bridge], &[subnet]);
    drop(holder);
}
