//! A container's /etc/resolv.conf, from the host's and the `--dns*` options, as Docker
//! writes it: on user-defined networks the embedded server (127.0.0.11) is the only
//! nameserver and the real ones become its upstreams; on the default bridge the host's
//! nameservers are copied, without the loopback ones a container cannot reach.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::dns::DNS_ADDRESS;

/// Docker's fallback when the host has no nameserver a container can reach.
const FALLBACK: [IpAddr; 2] = [
    IpAddr::V4(Ipv4Addr::new(8, 8, 8, 8)),
    IpAddr::V4(Ipv4Addr::new(8, 8, 4, 4)),
];

/// The `--dns`, `--dns-search` and `--dns-option` values of a container.
#[derive(Debug, Clone, Default)]
pub struct DnsOptions {
    /// `--dns`: nameservers instead of the host's.
    pub servers: Vec<IpAddr>,
    /// `--dns-search`: search domains instead of the host's (`.` alone: none).
    pub search: Vec<String>,
    /// `--dns-option`: options instead of the host's.
    pub options: Vec<String>,
}

struct Parsed {
    servers: Vec<IpAddr>,
    search: Vec<String>,
    options: Vec<String>,
}

fn parse(text: &str) -> Parsed {
    let mut p = Parsed {
        servers: Vec::new(),
        search: Vec::new(),
        options: Vec::new(),
    };
    for line in text.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => p
                .servers
                .extend(words.next().and_then(|w| w.parse::<IpAddr>().ok())),
            // The last search or domain line wins, as in the resolver.
            Some("search") | Some("domain") => p.search = words.map(str::to_string).collect(),
            Some("options") => p.options.extend(words.map(str::to_string)),
            _ => {}
        }
    }
    p
}

/// The container's resolv.conf. `host` is the host's resolv.conf; `embedded` says the
/// container is on a user-defined network and uses the embedded DNS server.
pub fn resolv_conf(host: &str, opts: &DnsOptions, embedded: bool) -> String {
    let parsed = parse(host);
    let servers: Vec<IpAddr> = if embedded {
        vec![IpAddr::V4(DNS_ADDRESS)]
    } else if !opts.servers.is_empty() {
        opts.servers.clone()
    } else {
        let reachable: Vec<IpAddr> = parsed
            .servers
            .iter()
            .copied()
            .filter(|ip| !ip.is_loopback())
            .collect();
        if reachable.is_empty() {
            FALLBACK.to_vec()
        } else {
            reachable
        }
    };
    let search = if opts.search.is_empty() {
        parsed.search
    } else {
        opts.search.clone()
    };
    let search: Vec<String> = search.into_iter().filter(|s| s != ".").collect();
    let mut options = if opts.options.is_empty() {
        parsed.options
    } else {
        opts.options.clone()
    };
    if embedded && !options.iter().any(|o| o.starts_with("ndots:")) {
        // Names are looked up as given first, so containers' names answer at once.
        options.push("ndots:0".to_string());
    }
    let mut out = String::new();
    for server in servers {
        out.push_str(&format!("nameserver {server}\n"));
    }
    if !search.is_empty() {
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    if !options.is_empty() {
        out.push_str(&format!("options {}\n", options.join(" ")));
    }
    out
}

/// Where the embedded server forwards names it does not know: the `--dns` servers, else
/// the host's nameservers (loopback ones included: the server forwards from the host's
/// namespace).
pub fn upstreams(host: &str, opts: &DnsOptions) -> Vec<SocketAddr> {
    let servers = if opts.servers.is_empty() {
        parse(host).servers
    } else {
        opts.servers.clone()
    };
    servers
        .into_iter()
        .filter(|ip| *ip != IpAddr::V4(DNS_ADDRESS))
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "# generated\nnameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch corp.example lab.example\noptions edns0 trust-ad\n";

    #[test]
    fn default_bridge_copies_the_hosts_reachable_nameservers() {
        assert_eq!(
            resolv_conf(HOST, &DnsOptions::default(), false),
            "nameserver 10.0.0.2\nsearch corp.example lab.example\noptions edns0 trust-ad\n"
        );
        let only_local = "nameserver 127.0.0.53\nnameserver ::1\n";
        assert_eq!(
            resolv_conf(only_local, &DnsOptions::default(), false),
            "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"
        );
        let opts = DnsOptions {
            servers: vec!["10.9.9.9".parse().unwrap()],
            search: vec![".".into()],
            options: vec!["ndots:2".into()],
        };
        assert_eq!(
            resolv_conf(HOST, &opts, false),
            "nameserver 10.9.9.9\noptions ndots:2\n"
        );
    }

    #[test]
    fn user_networks_use_the_embedded_server() {
        assert_eq!(
            resolv_conf(HOST, &DnsOptions::default(), true),
            "nameserver 127.0.0.11\nsearch corp.example lab.example\noptions edns0 trust-ad ndots:0\n"
        );
        assert_eq!(
            upstreams(HOST, &DnsOptions::default()),
            vec![
                "127.0.0.53:53".parse::<SocketAddr>().unwrap(),
                "10.0.0.2:53".parse().unwrap()
            ]
        );
        let opts = DnsOptions {
            servers: vec!["10.9.9.9".parse().unwrap()],
            ..Default::default()
        };
        assert_eq!(
            resolv_conf(HOST, &opts, true).lines().next(),
            Some("nameserver 127.0.0.11")
        );
        assert_eq!(
            upstreams(HOST, &opts),
            vec!["10.9.9.9:53".parse::<SocketAddr>().unwrap()]
        );
    }
}
