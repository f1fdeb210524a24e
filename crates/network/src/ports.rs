//! Published ports: `-p [ip:][hostPort:]containerPort[/tcp|/udp]` and their ranges.

use std::fmt;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A transport protocol a port is published for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// TCP, the default.
    Tcp,
    /// UDP.
    Udp,
}

impl Protocol {
    /// The protocol's name as nftables and Docker spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One container port published on the host.
///
/// Before attaching, `host_port` may be 0 (any free port) and `host_port_end` above
/// `host_port` (the first free port of that range); the endpoint records the port chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PortMapping {
    /// The host address the port listens on; `None` for all of them.
    pub host_ip: Option<Ipv4Addr>,
    /// The host port, or 0 for one the kernel picks.
    pub host_port: u16,
    /// The last port of a host range to pick one free port from; equal to `host_port`
    /// for a fixed port.
    pub host_port_end: u16,
    /// The port inside the container.
    pub container_port: u16,
    /// TCP or UDP.
    pub protocol: Protocol,
}

impl fmt::Display for PortMapping {
    /// Docker's `port` format: `80/tcp -> 0.0.0.0:8080`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ip = self.host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED);
        write!(
            f,
            "{}/{} -> {}:{}",
            self.container_port, self.protocol, ip, self.host_port
        )
    }
}

fn parse_range(s: &str, what: &str) -> Result<(u16, u16)> {
    let bad = || Error::Invalid(format!("invalid {what}: {s}"));
    let (a, b) = match s.split_once('-') {
        Some((a, b)) => (a, b),
        None => (s, s),
    };
    let a: u16 = a.parse().map_err(|_| bad())?;
    let b: u16 = b.parse().map_err(|_| bad())?;
    if b < a {
        return Err(bad());
    }
    Ok((a, b))
}

/// Parses one `-p` value into the mappings it stands for: equal host and container ranges
/// map port by port; a host range with one container port means any free port of the
/// range; no host port means any free port.
pub fn parse_publish(spec: &str) -> Result<Vec<PortMapping>> {
    let (rest, protocol) = match spec.rsplit_once('/') {
        Some((rest, "tcp")) | Some((rest, "")) => (rest, Protocol::Tcp),
        Some((rest, "udp")) => (rest, Protocol::Udp),
        Some((_, other)) => return Err(Error::Invalid(format!("invalid proto: {other}"))),
        None => (spec, Protocol::Tcp),
    };
    // An IPv6 host address comes in brackets: `[::1]:8080:80`.
    if let Some(v6) = rest
        .strip_prefix('[')
        .and_then(|r| r.split_once(']'))
        .map(|(ip, _)| ip)
    {
        return Err(match v6.parse::<std::net::Ipv6Addr>() {
            Ok(_) => Error::Invalid(format!(
                "cannot publish on IPv6 address {v6}: berth's networks are IPv4 only"
            )),
            Err(_) => Error::Invalid(format!("invalid IP address: {v6}")),
        });
    }
    let parts: Vec<&str> = rest.split(':').collect();
    let (ip, host, container) = match parts.as_slice() {
        [c] => ("", "", *c),
        [h, c] => ("", *h, *c),
        [ip, h, c] => (*ip, *h, *c),
        _ => return Err(Error::Invalid(format!("invalid port format: {spec}"))),
    };
    let host_ip = match ip {
        "" => None,
        ip => Some(
            ip.parse::<Ipv4Addr>()
                .map_err(|_| Error::Invalid(format!("invalid IP address: {ip}")))?,
        ),
    };
    let host_ip = host_ip.filter(|ip| !ip.is_unspecified());
    if container.is_empty() {
        return Err(Error::Invalid(format!("no port specified: {spec}<empty>")));
    }
    let (c0, c1) = parse_range(container, "containerPort")?;
    if c0 == 0 {
        return Err(Error::Invalid(format!(
            "invalid containerPort: {container}"
        )));
    }
    let mapping = |host_port, host_port_end, container_port| PortMapping {
        host_ip,
        host_port,
        host_port_end,
        container_port,
        protocol,
    };
    if host.is_empty() {
        return Ok((c0..=c1).map(|c| mapping(0, 0, c)).collect());
    }
    let (h0, h1) = parse_range(host, "hostPort")?;
    if c0 == c1 && h1 > h0 {
        return Ok(vec![mapping(h0, h1, c0)]);
    }
    if h1 - h0 != c1 - c0 {
        return Err(Error::Invalid(format!(
            "invalid ranges specified for container and host Ports: {container} and {host}"
        )));
    }
    Ok((0..=(c1 - c0))
        .map(|i| mapping(h0 + i, h0 + i, c0 + i))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let m = parse_publish("8080:80").unwrap();
        assert_eq!(
            m,
            vec![PortMapping {
                host_ip: None,
                host_port: 8080,
                host_port_end: 8080,
                container_port: 80,
                protocol: Protocol::Tcp
            }]
        );
        let m = parse_publish("127.0.0.1:53:5353/udp").unwrap();
        assert_eq!(m[0].host_ip, Some(Ipv4Addr::LOCALHOST));
        assert_eq!(
            (m[0].host_port, m[0].container_port, m[0].protocol),
            (53, 5353, Protocol::Udp)
        );
        let m = parse_publish("80").unwrap();
        assert_eq!((m[0].host_port, m[0].container_port), (0, 80));
        let m = parse_publish("0.0.0.0:9000-9002:80-82").unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(
            (m[2].host_ip, m[2].host_port, m[2].container_port),
            (None, 9002, 82)
        );
        let m = parse_publish("9000-9010:80").unwrap();
        assert_eq!(
            (m[0].host_port, m[0].host_port_end, m[0].container_port),
            (9000, 9010, 80)
        );
        assert_eq!(m[0].to_string(), "80/tcp -> 0.0.0.0:9000");
    }

    #[test]
    fn docker_errors() {
        let err = |s| parse_publish(s).unwrap_err().to_string();
        assert_eq!(err("80/sctpx"), "invalid proto: sctpx");
        assert_eq!(err("x:80"), "invalid hostPort: x");
        assert_eq!(err("80:abc"), "invalid containerPort: abc");
        assert_eq!(err("1.2.3:80:80"), "invalid IP address: 1.2.3");
        assert_eq!(
            err("8080-8082:80-81"),
            "invalid ranges specified for container and host Ports: 80-81 and 8080-8082"
        );
        assert_eq!(err("1:2:3:4"), "invalid port format: 1:2:3:4");
        assert_eq!(
            err("[::1]:8080:80"),
            "cannot publish on IPv6 address ::1: berth's networks are IPv4 only"
        );
        assert_eq!(err("[zz]:8080:80"), "invalid IP address: zz");
    }
}
