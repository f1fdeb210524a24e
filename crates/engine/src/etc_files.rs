//! The files Docker manages per container and bind-mounts over the image's:
//! /etc/hostname, /etc/hosts and /etc/resolv.conf, written into the container
//! directory.

use std::path::Path;

use crate::error::Result;
use crate::record::{Container, write_replace};

/// Docker's /etc/hosts for a container without a network address.
const HOSTS_BASE: &str = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";

/// The host's resolv.conf with loopback name servers removed (they cannot be
/// reached from another network namespace); Google's public servers when none is
/// left, as Docker does.
pub fn filter_resolv_conf(host: &str) -> String {
    let mut out = String::new();
    let mut servers = 0;
    for line in host.lines() {
        let mut f = line.split_whitespace();
        if f.next() == Some("nameserver") {
            let addr = f.next().unwrap_or("");
            if addr.starts_with("127.") || addr == "::1" {
                continue;
            }
            servers += 1;
        }
        out.push_str(line);
        out.push('\n');
    }
    if servers == 0 {
        out.push_str("nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    }
    out
}

/// The container's /etc/hosts: Docker's base (the host's with `--network host`), the
/// `--add-host` entries, and its own address on each of its networks with its hostname.
fn hosts(c: &Container, addresses: &[std::net::Ipv4Addr]) -> Result<String> {
    let mut hosts = if c.host.network_mode == "host" {
        std::fs::read_to_string("/etc/hosts").unwrap_or_else(|_| HOSTS_BASE.to_string())
    } else {
        HOSTS_BASE.to_string()
    };
    for h in &c.host.extra_hosts {
        let (name, ip) = crate::options::parse_extra_host(h)?;
        hosts.push_str(&format!("{ip}\t{name}\n"));
    }
    for ip in addresses {
        hosts.push_str(&format!("{ip}\t{}\n", c.config.hostname));
    }
    Ok(hosts)
}

/// Rewrites the hosts file of `c` in `dir` with its addresses on its networks (first
/// network first), in place: the container's /etc/hosts is a bind mount of that very
/// file. Called between the runtime's create and start, and when a running container
/// is connected to a network or disconnected from one, as Docker updates it.
pub fn write_addresses(c: &Container, dir: &Path, addresses: &[std::net::Ipv4Addr]) -> Result<()> {
    let text = hosts(c, addresses)?;
    let path = dir.join("hosts");
    std::fs::write(&path, text).map_err(crate::error::io(format!("write {}", path.display())))
}

/// Writes hostname, hosts and resolv.conf for `c` into `dir`.
pub fn write(c: &Container, dir: &Path) -> Result<()> {
    write_replace(
        &dir.join("hostname"),
        format!("{}\n", c.config.hostname).as_bytes(),
    )?;
    // Sharing another container's network: its hosts and resolv.conf too, as Docker.
    if let Some(other) = c.host.network_mode.strip_prefix("container:")
        && let Some(containers) = dir.parent()
    {
        for f in ["hosts", "resolv.conf"] {
            let from = containers.join(other).join(f);
            let text = std::fs::read(&from)
                .map_err(crate::error::io(format!("read {}", from.display())))?;
            write_replace(&dir.join(f), &text)?;
        }
        return Ok(());
    }
    let host_mode = c.host.network_mode == "host";
    write_replace(&dir.join("hosts"), hosts(c, &[])?.as_bytes())?;
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    // On a user-defined network when it starts (any of its networks), as in Docker.
    let user_network = crate::network::is_bridge(&c.host.network_mode) && c.host.embedded_dns();
    let dns = c.host.dns_options();
    let resolv = if host_mode {
        host_resolv
    } else if user_network {
        // The embedded DNS server answers at 127.0.0.11, as Docker's, and forwards to
        // the --dns servers or the host's.
        berth_network::resolv_conf(&host_resolv, &dns, true)
    } else if !(dns.servers.is_empty() && dns.search.is_empty() && dns.options.is_empty()) {
        berth_network::resolv_conf(&host_resolv, &dns, false)
    } else {
        filter_resolv_conf(&host_resolv)
    };
    write_replace(&dir.join("resolv.conf"), resolv.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_name_servers_are_dropped() {
        let r = filter_resolv_conf("search lan\nnameserver 127.0.0.53\nnameserver 10.0.0.1\n");
        assert_eq!(r, "search lan\nnameserver 10.0.0.1\n");
        let r = filter_resolv_conf("nameserver 127.0.0.53\noptions edns0\n");
        assert_eq!(r, "options edns0\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    }
}
