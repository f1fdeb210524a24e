//! The network layer's entry point: networks created and removed, containers attached and
//! detached, each step undone when a later one fails.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, UdpSocket};
use std::path::Path;

use ipnet::Ipv4Net;

use crate::bridge;
use crate::error::{Error, Result};
use crate::firewall::{Firewall, Nftables};
use crate::ipam;
use crate::link;
use crate::netlink::Netlink;
use crate::netns::Netns;
use crate::ports::{PortMapping, Protocol};
use crate::store::{Endpoint, Locked, NetworkConfig, NetworkState, Store, lock_file};
use crate::veth;

/// The default network's name, as in Docker.
pub const DEFAULT_NETWORK: &str = "bridge";
/// The default network's bridge.
pub const DEFAULT_BRIDGE: &str = "berth0";

/// Held while a subnet is chosen and claimed, so two berths (or two test processes) on
/// one host never pick the same free subnet.
const HOST_LOCK: &str = "/run/berth-network.lock";

/// What `network create` asks for.
#[derive(Debug, Clone, Default)]
pub struct NetworkOptions {
    /// The network's name.
    pub name: String,
    /// The bridge's name (`-o com.docker.network.bridge.name`); by default `berth0` for
    /// the network `bridge` and, as Docker names them, `br-` and the first 12 hex digits
    /// of the network's ID for the others.
    pub bridge: Option<String>,
    /// `--subnet`; by default the first of Docker's pools the host does not use.
    pub subnet: Option<Ipv4Net>,
    /// `--gateway`; by default the subnet's first address.
    pub gateway: Option<Ipv4Addr>,
    /// `--ip-range`.
    pub ip_range: Option<Ipv4Net>,
    /// `--internal`.
    pub internal: bool,
    /// `--label`.
    pub labels: std::collections::BTreeMap<String, String>,
}

/// What attaching a container to a network asks for.
#[derive(Debug)]
pub struct AttachOptions<'a> {
    /// The container's ID.
    pub container: &'a str,
    /// The container's network namespace.
    pub netns: &'a Netns,
    /// The interface name inside the container (`eth0` for the first network).
    pub ifname: &'a str,
    /// `--ip`: a fixed address (user-defined networks only, as in Docker).
    pub ip: Option<Ipv4Addr>,
    /// `-p`: the ports to publish, as `ports::parse_publish` gives them.
    pub ports: &'a [PortMapping],
    /// `--mac-address`; by default 02:42 followed by the address, as Docker derives it.
    pub mac: Option<[u8; 6]>,
    /// The names other containers on the network resolve to this one: its name and its
    /// `--network-alias` values (unused on the default network, as in Docker).
    pub names: &'a [String],
}

/// Networks and their endpoints, kept in a state directory the caller owns.
pub struct Manager {
    store: Store,
    firewall: Box<dyn Firewall>,
}

impl Manager {
    /// A manager keeping its state under `state_dir/networks`, with the nftables firewall.
    pub fn new(state_dir: &Path) -> Result<Self> {
        Self::with_firewall(state_dir, Box::new(Nftables::new()))
    }

    /// A manager with another firewall driver.
    pub fn with_firewall(state_dir: &Path, firewall: Box<dyn Firewall>) -> Result<Self> {
        Ok(Manager {
            store: Store::open(state_dir)?,
            firewall,
        })
    }

    /// Every network, by name.
    pub fn networks(&self) -> Result<Vec<NetworkConfig>> {
        let lock = self.store.lock()?;
        Ok(self
            .store
            .load_all(&lock)?
            .into_iter()
            .map(|s| s.config)
            .collect())
    }

    /// One network by name, by ID, or by a prefix of its ID that only it has (as
    /// Docker's commands take them).
    pub fn network(&self, name_or_id: &str) -> Result<NetworkConfig> {
        let lock = self.store.lock()?;
        if let Some(state) = self.store.load(&lock, name_or_id)? {
            return Ok(state.config);
        }
        let mut matches: Vec<NetworkConfig> = self
            .store
            .load_all(&lock)?
            .into_iter()
            .map(|s| s.config)
            .filter(|c| !name_or_id.is_empty() && c.id.starts_with(name_or_id))
            .collect();
        match matches.len() {
            1 => Ok(matches.remove(0)),
            0 => Err(Error::NotFound(format!("network {name_or_id} not found"))),
            _ => Err(Error::Conflict(format!(
                "network {name_or_id} is ambiguous ({} matches found based on ID prefix)",
                matches.len()
            ))),
        }
    }

    /// The containers attached to a network.
    pub fn endpoints(&self, network: &str) -> Result<Vec<Endpoint>> {
        let lock = self.store.lock()?;
        Ok(self.load(&lock, network)?.endpoints.into_values().collect())
    }

    /// The endpoints of `container`, on every network it is attached to, by network
    /// name.
    pub fn endpoints_of(&self, container: &str) -> Result<Vec<(String, Endpoint)>> {
        Ok(self
            .all_endpoints()?
            .into_iter()
            .filter_map(|(net, eps)| {
                let ep = eps.into_iter().find(|e| e.container == container)?;
                Some((net, ep))
            })
            .collect())
    }

    /// Every network's endpoints, by network name, read under one lock.
    pub fn all_endpoints(&self) -> Result<Vec<(String, Vec<Endpoint>)>> {
        let lock = self.store.lock()?;
        Ok(self
            .store
            .load_all(&lock)?
            .into_iter()
            .map(|s| (s.config.name, s.endpoints.into_values().collect()))
            .collect())
    }

    fn load(&self, lock: &Locked, name: &str) -> Result<NetworkState> {
        self.store
            .load(lock, name)?
            .ok_or_else(|| Error::NotFound(format!("network {name} not found")))
    }

    /// Creates a network: checks the options, picks a subnet, creates the bridge with
    /// its gateway address and installs the network's firewall rules.
    pub fn create_network(&self, opts: &NetworkOptions) -> Result<NetworkConfig> {
        let lock = self.store.lock()?;
        let all = self.store.load_all(&lock)?;
        if all.iter().any(|s| s.config.name == opts.name) {
            return Err(Error::Conflict(format!(
                "network with name {} already exists",
                opts.name
            )));
        }
        let id = new_id()?;
        let bridge = opts
            .bridge
            .clone()
            .unwrap_or_else(|| default_bridge_name(&opts.name, &id));

        if bridge.is_empty() || bridge.len() > 15 || bridge.contains(['/', ' ', ':']) {
            return Err(Error::Invalid(format!(
                "invalid bridge name {bridge:?}: a link name has 1 to 15 characters, without '/', ':' or spaces"
            )));
        }
        if all.iter().any(|s| s.config.bridge == bridge) {
            return Err(Error::Conflict(format!(
                "bridge {bridge} is already used by another network"
            )));
        }
        let others: Vec<Ipv4Net> = all.iter().map(|s| s.config.subnet).collect();
        let _host = lock_file(Path::new(HOST_LOCK))?;
        let mut nl = Netlink::open().map_err(|e| Error::io("open netlink socket", e))?;
        let subnet = match opts.subnet {
            Some(subnet) => {
                ipam::check_subnet(subnet, &others)?;
                subnet
            }
            None => {
                let mut used = link::used_prefixes(&mut nl)
                    .map_err(|e| Error::io("list the host's addresses and routes", e))?;
                used.extend(others);
                ipam::choose_subnet(&used)?
            }
        };
        let gateway = ipam::gateway(subnet, opts.gateway)?;
        if let Some(range) = opts.ip_range {
            ipam::check_range(subnet, range)?;
        }
        let config = NetworkConfig {
            id,
            name: opts.name.clone(),
            created: std::time::SystemTime::now(),
            labels: opts.labels.clone(),
            bridge,
            subnet,
            gateway,
            ip_range: opts.ip_range,
            internal: opts.internal,
        };
        let created = bridge::ensure(&mut nl, &config)?;
        let rest = || -> Result<()> {
            self.firewall.add_network(&config)?;
            let state = NetworkState {
                config: config.clone(),
                endpoints: Default::default(),
            };
            self.store.save(&lock, &state, true).inspect_err(|_| {
                let _ = self.firewall.remove_network(&config);
            })
        };
        rest().inspect_err(|_| {
            if created {
                let _ = bridge::remove(&mut nl, &config);
            }
        })?;
        Ok(config)
    }

    /// Removes a network with no endpoints: its rules, its bridge, its state.
    pub fn remove_network(&self, name: &str) -> Result<()> {
        let lock = self.store.lock()?;
        let state = self.load(&lock, name)?;
        if !state.endpoints.is_empty() {
            return Err(Error::Conflict(format!(
                "error while removing network: network {name} has active endpoints"
            )));
        }
        self.firewall.remove_network(&state.config)?;
        let mut nl = Netlink::open().map_err(|e| Error::io("open netlink socket", e))?;
        bridge::remove(&mut nl, &state.config)?;
        self.store.remove(&lock, name)
    }

    /// Attaches a container: an address from IPAM, a veth pair from the bridge into its
    /// namespace (configured there as `ifname` with the address, the default route and
    /// `lo` up), and its published ports. Nothing is left behind when a step fails.
    pub fn attach(&self, network: &str, opts: &AttachOptions<'_>) -> Result<Endpoint> {
        let lock = self.store.lock()?;
        let mut state = self.load(&lock, network)?;
        if state.endpoints.contains_key(opts.container) {
            return Err(Error::Conflict(format!(
                "endpoint with name {} already exists in network {network}",
                opts.container
            )));
        }
        if opts.ip.is_some() && network == DEFAULT_NETWORK {
            return Err(Error::Invalid(
                "user specified IP address is supported on user defined networks only".into(),
            ));
        }
        let cfg = state.config.clone();
        let taken: BTreeSet<Ipv4Addr> = state.endpoints.values().map(|e| e.ip).collect();
        let ip = ipam::allocate(
            &cfg.name,
            cfg.subnet,
            cfg.ip_range,
            cfg.gateway,
            &taken,
            opts.ip,
        )?;
        // An internal network has no way in from outside: as in Docker, its containers'
        // ports are not published.
        let wanted = if cfg.internal { &[][..] } else { opts.ports };
        let ports = self.resolve_ports(&lock, wanted, ip)?;
        let host_veth = veth::host_name(network, opts.container);
        let mut nl = Netlink::open().map_err(|e| Error::io("open netlink socket", e))?;
        let mac = opts.mac.unwrap_or_else(|| link::mac_for(ip));
        veth::attach(&mut nl, &cfg, opts.netns, &host_veth, opts.ifname, ip, mac)?;
        let endpoint = Endpoint {
            id: new_id().unwrap_or_default(),
            container: opts.container.to_string(),
            ip,
            mac: mac
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":"),
            host_veth: host_veth.clone(),
            ifname: opts.ifname.to_string(),
            names: opts.names.to_vec(),
            ports,
        };
        let mut rest = || -> Result<()> {
            self.firewall
                .add_ports(&state.config.bridge, opts.container, ip, &endpoint.ports)?;
            state
                .endpoints
                .insert(opts.container.to_string(), endpoint.clone());
            self.store.save(&lock, &state, false).inspect_err(|_| {
                let _ = self.firewall.remove_ports(&state.config.bridge, opts.container);
            })
        };
        rest().inspect_err(|_| {
            let _ = veth::detach(&mut nl, &host_veth);
        })?;
        Ok(endpoint)
    }

    /// Detaches a container: its port rules, its veth pair, its address. The exact
    /// mirror of `attach`.
    pub fn detach(&self, network: &str, container: &str) -> Result<()> {
        let lock = self.store.lock()?;
        let mut state = self.load(&lock, network)?;
        let Some(endpoint) = state.endpoints.get(container).cloned() else {
            return Err(Error::NotFound(format!(
                "container {container} is not connected to network {network}"
            )));
        };
        if !endpoint.ports.is_empty() {
            self.firewall.remove_ports(&state.config.bridge, container)?;
        }
        let mut nl = Netlink::open().map_err(|e| Error::io("open netlink socket", e))?;
        veth::detach(&mut nl, &endpoint.host_veth)?;
        state.endpoints.remove(container);
        self.store.save(&lock, &state, false)
    }

    /// Rebuilds what the kernel lost while berth was away (a flushed ruleset, a deleted
    /// bridge): every network's bridge, address and rules, and the port rules of every
    /// endpoint still recorded. Endpoints whose container is gone are the caller's to
    /// `detach` (which tolerates a veth pair that vanished with its namespace).
    pub fn restore(&self) -> Result<()> {
        let lock = self.store.lock()?;
        let mut nl = Netlink::open().map_err(|e| Error::io("open netlink socket", e))?;
        for state in self.store.load_all(&lock)? {
            bridge::ensure(&mut nl, &state.config)?;
            self.firewall.add_network(&state.config)?;
            for ep in state.endpoints.values().filter(|ep| !ep.ports.is_empty()) {
                self.firewall
                    .remove_ports(&state.config.bridge, &ep.container)?;
                self.firewall
                    .add_ports(&state.config.bridge, &ep.container, ep.ip, &ep.ports)?;
            }
        }
        Ok(())
    }

    /// Chooses the host ports of `wanted`: fixed ports are checked, a range gives its
    /// first free port, 0 gives one the kernel picks. A port is taken if another berth
    /// endpoint publishes it or a host socket is bound to it. Without ports to publish
    /// (most containers) no other network's state is read.
    fn resolve_ports(
        &self,
        lock: &Locked,
        wanted: &[PortMapping],
        ip: Ipv4Addr,
    ) -> Result<Vec<PortMapping>> {
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let mut used: Vec<PortMapping> = self
            .store
            .load_all(lock)?
            .into_iter()
            .flat_map(|s| s.endpoints.into_values().flat_map(|e| e.ports))
            .collect();
        let mut out = Vec::new();
        for want in wanted {
            let clashes = |used: &[PortMapping], port: u16| {
                used.iter().any(|u| {
                    u.protocol == want.protocol
                        && u.host_port == port
                        && (u.host_ip.is_none()
                            || want.host_ip.is_none()
                            || u.host_ip == want.host_ip)
                })
            };
            let host_ip = want.host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED);
            let port = if want.host_port == 0 {
                free_port(host_ip, want.protocol, 0).map_err(|e| {
                    Error::io(
                        format!("find a free {} port on {host_ip}", want.protocol),
                        e,
                    )
                })?
            } else if want.host_port_end > want.host_port {
                (want.host_port..=want.host_port_end)
                    .find(|p| !clashes(&used, *p) && free_port(host_ip, want.protocol, *p).is_ok())
                    .ok_or_else(|| {
                        Error::Conflict(format!(
                            "Bind for {host_ip}:{}-{} failed: port is already allocated",
                            want.host_port, want.host_port_end
                        ))
                    })?
            } else {
                if clashes(&used, want.host_port) {
                    return Err(Error::Conflict(format!(
                        "Bind for {host_ip}:{} failed: port is already allocated",
                        want.host_port
                    )));
                }
                free_port(host_ip, want.protocol, want.host_port).map_err(|e| {
                    Error::Conflict(format!(
                        "failed to bind host port for {host_ip}:{}:{ip}:{}/{}: {}",
                        want.host_port,
                        want.container_port,
                        want.protocol,
                        e.to_string().to_lowercase()
                    ))
                })?
            };
            let chosen = PortMapping {
                host_port: port,
                host_port_end: port,
                ..*want
            };
            used.push(chosen);
            out.push(chosen);
        }
        Ok(out)
    }
}

/// Checks that `port` (0: any) can be bound on `ip` by a host process, and returns it.
fn free_port(ip: Ipv4Addr, protocol: Protocol, port: u16) -> std::io::Result<u16> {
    let addr = SocketAddrV4::new(ip, port);
    match protocol {
        Protocol::Tcp => TcpListener::bind(addr)?.local_addr().map(|a| a.port()),
        Protocol::Udp => UdpSocket::bind(addr)?.local_addr().map(|a| a.port()),
    }
}

/// Parses a `--mac-address` value (six hex pairs separated by colons or dashes).
pub fn parse_mac(s: &str) -> Result<[u8; 6]> {
    let bad = || Error::Invalid(format!("{s} is not a valid mac address"));
    let parts: Vec<&str> = s.split([':', '-']).collect();
    if parts.len() != 6 {
        return Err(bad());
    }
    let mut mac = [0u8; 6];
    for (byte, part) in mac.iter_mut().zip(parts) {
        if part.len() != 2 {
            return Err(bad());
        }
        *byte = u8::from_str_radix(part, 16).map_err(|_| bad())?;
    }
    if mac[0] & 1 == 1 {
        return Err(Error::Invalid(format!(
            "{s} is a multicast address, not a valid mac address for a container"
        )));
    }
    Ok(mac)
}

fn default_bridge_name(network: &str, id: &str) -> String {
    if network == DEFAULT_NETWORK {
        return DEFAULT_BRIDGE.to_string();
    }
    format!("br-{}", &id[..12])
}

/// 64 random hex digits from the kernel's random source.
fn new_id() -> Result<String> {
    let mut bytes = [0u8; 32];
    let mut urandom =
        std::fs::File::open("/dev/urandom").map_err(|e| Error::io("open /dev/urandom", e))?;
    std::io::Read::read_exact(&mut urandom, &mut bytes)
        .map_err(|e| Error::io("read /dev/urandom", e))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_addresses() {
        assert_eq!(
            parse_mac("02:42:ac:11:00:09").unwrap(),
            [2, 0x42, 0xac, 0x11, 0, 9]
        );
        assert_eq!(
            parse_mac("02-42-AC-11-00-09").unwrap(),
            [2, 0x42, 0xac, 0x11, 0, 9]
        );
        assert_eq!(
            parse_mac("zz").unwrap_err().to_string(),
            "zz is not a valid mac address"
        );
        assert!(parse_mac("02:42:ac:11:00:9").is_err());
        assert!(
            parse_mac("01:00:5e:00:00:01")
                .unwrap_err()
                .to_string()
                .contains("multicast")
        );
    }

    #[test]
    fn default_bridge_names_follow_the_id() {
        let id = new_id().unwrap();
        assert_eq!(id.len(), 64);
        assert_ne!(id, new_id().unwrap());
        assert_eq!(default_bridge_name(DEFAULT_NETWORK, &id), DEFAULT_BRIDGE);
        let b = default_bridge_name("a-network-with-a-long-name", &id);
        assert_eq!(b, format!("br-{}", &id[..12]));
        assert_eq!(b.len(), 15);
    }
}
