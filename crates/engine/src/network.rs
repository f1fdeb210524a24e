//! A container on a bridge network: berth-network's endpoint joined by the monitor
//! between the runtime's create (the namespace exists) and start (the process runs),
//! and left when the monitor records the exit. Modes `none`, `host` and
//! `container:NAME` need nothing here.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_network::{
    DEFAULT_NETWORK, DnsServer, Endpoint, Manager, NetworkNames, NetworkOptions,
    Netns,
};

use crate::Engine;
use crate::error::{Error, Result};
use crate::record::{Container, NetworkAttachment, Status};

/// Whether `mode` (HostConfig's NetworkMode) names a bridge network.
pub fn is_bridge(mode: &str) -> bool {
    !matches!(mode, "" | "none" | "host") && !mode.starts_with("container:")
}

impl Engine {
    /// The network manager, its state under `<root>/networks`.
    pub fn networks(&self) -> Result<Manager> {
        Ok(Manager::new(self.root())?)
    }

    /// The name of the bridge network `mode` refers to (by name, ID or ID prefix),
    /// creating the default network `bridge` on first use, as Docker's daemon has it
    /// from the start.
    pub fn resolve_network(&self, mode: &str) -> Result<String> {
        let m = self.networks()?;
        match m.network(mode) {
            Ok(n) => Ok(n.name),
            Err(berth_network::Error::NotFound(_)) if mode == DEFAULT_NETWORK => {
                match m.create_network(&NetworkOptions {
                    name: DEFAULT_NETWORK.into(),
                    bridge: Some(default_bridge(self.root())),
                    ..Default::default()
                }) {
                    Ok(n) => Ok(n.name),
                    // Another berth created it meanwhile.
                    Err(berth_network::Error::Conflict(_)) => Ok(m.network(mode)?.name),
                    Err(e) => Err(e.into()),
                }
            }
            Err(e) => Err(e.into()),
        }
    }
}

impl Engine {
    /// Checks `--network-alias` and `--ip` for bridge network `network` (`user`: a
    /// user-defined one, where alone they are allowed) with Docker's messages; returns
    /// the address, which must be in the network's subnet.
    pub(crate) fn check_attachment(
        &self,
        network: &str,
        user: bool,
        aliases: &[String],
        ip: Option<&str>,
    ) -> Result<Option<std::net::Ipv4Addr>> {
        if !aliases.is_empty() && !user {
            return Err(Error::InvalidArgument(
                "network-scoped alias is supported only for containers in user defined networks"
                    .into(),
            ));
        }
        let Some(s) = ip else { return Ok(None) };
        if !user {
            return Err(Error::InvalidArgument(
                "user specified IP address is supported on user defined networks only".into(),
            ));
        }
        let ip: std::net::Ipv4Addr = s
            .parse()
            .map_err(|_| Error::InvalidArgument(format!("invalid IPv4 address: {s}")))?;
        let net = self.networks()?.network(network)?;
        if !net.subnet.contains(&ip) {
            return Err(Error::InvalidArgument(format!(
                "Invalid address {ip}: It does not belong to any of this network's subnets"
            )));
        }
        Ok(Some(ip))
    }

    /// Removes network `name` (no container may be attached). An endpoint whose
    /// container is already removed belongs to a monitor finishing a `--rm` (it leaves
    /// the network after reporting the exit) or to one that died: it is waited for,
    /// then removed.
    pub fn remove_network(&self, name: &str) -> Result<()> {
        let m = self.networks()?;
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut swept = false;
        loop {
            let err = match m.remove_network(name) {
                Err(e @ berth_network::Error::Conflict(_)) => e,
                r => return Ok(r?),
            };
            let endpoints = m.endpoints(name)?;
            let orphans = endpoints
                .iter()
                .all(|ep| self.containers().load(&ep.container).is_err());
            if !orphans || swept {
                return Err(err.into());
            }
            if Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            for ep in &endpoints {
                leave_stale(self, name, &ep.container)?;
            }
            swept = true;
        }
    }
}

/// The Linux bridge of the default network `bridge` of a berth root: `berth0` for the
/// default root `/var/lib/berth`, as Docker has `docker0`; for any other root a name of
/// its own, `berth-` and 8 hex digits of a hash of the root's path, so two roots on one
/// host (a second berth, parallel tests) never share a bridge whose addresses each of
/// them would hand out alone.
pub fn default_bridge(root: &Path) -> String {
    if root == Path::new(DEFAULT_ROOT) {
        return berth_network::DEFAULT_BRIDGE.to_string();
    }
    let abs = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
    // FNV-1a: stable across builds, unlike std's hasher.
    let mut h: u32 = 0x811c_9dc5;
    for b in abs.as_os_str().as_encoded_bytes() {
        h = (h ^ u32::from(*b)).wrapping_mul(0x0100_0193);
    }
    format!("berth-{h:08x}")
}

/// The persistent root berth uses unless told otherwise.
pub const DEFAULT_ROOT: &str = "/var/lib/berth";

/// A container's places on its networks while its process runs.
pub struct Joined {
    manager: Arc<Manager>,
    container: String,
    /// The address, MAC and ports its first network gave, if it is on one.
    pub endpoint: Option<Endpoint>,
    /// Its endpoints by network name, the first one's included.
    pub endpoints: BTreeMap<String, Endpoint>,
    /// The embedded DNS server (user-defined networks): it must stop before the
    /// container's namespace can go.
    dns: Option<DnsServer>,
}

/// Joins container `c` (init `pid`, not started yet) to each of its networks, in
/// order: `eth0` on the first (which gets the published ports and keeps the default
/// route, as in Docker), `eth1` on the second...
pub fn join(engine: &Engine, c: &Container, pid: i32) -> Result<Option<Joined>> {
    let id = c.id.as_str();
    let network = c.host.network_mode.as_str();
    if network == "none" {
        // Only lo, but up, as in Docker: 127.0.0.1 works inside.
        Netns::of_pid(pid as u32)?.loopback_up()?;
        return Ok(None);
    }
    if !is_bridge(network) {
        return Ok(None);
    }
    let manager = Arc::new(engine.networks()?);
    let netns = Netns::of_pid(pid as u32)?;
    let mut joined = Joined {
        manager: manager.clone(),
        container: id.to_string(),
        endpoint: None,
        endpoints: BTreeMap::new(),
        dns: None,
    };
    // An endpoint this container still has is stale: the container is not running (it
    // is being started under its lock), so its monitor died or the host rebooted
    // without the exit being recorded.
    leave_all(&manager, id)?;
    let attachments = c.host.attachments();
    if attachments.is_empty() {
        // Disconnected from every network: lo only, as `none`.
        netns.loopback_up()?;
        return Ok(Some(joined));
    }
    for (i, a) in attachments.iter().enumerate() {
        let ep = match attach_one(&manager, c, &netns, a, &format!("eth{i}"), i == 0) {
            Ok(ep) => ep,
            Err(e) => {
                let _ = joined.leave();
                return Err(e);
            }
        };
        if i == 0 {
            joined.endpoint = Some(ep.clone());
        }
        joined.endpoints.insert(a.name.clone(), ep);
    }
    let addresses = addresses(&attachments, &joined.endpoints);
    if let Err(e) = crate::etc_files::write_addresses(c, &engine.dir(id), &addresses) {
        let _ = joined.leave();
        return Err(e);
    }
    if c.host.embedded_dns() {
        // Its names are those of every network it is on at each question: networks
        // connected or disconnected while it runs count at once.
        let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        let started = DnsServer::start(
            &netns,
            Arc::new(NetworkNames::of_container(manager.clone(), id)),
            berth_network::upstreams(&host, &c.host.dns_options()),
        );
        match started {
            Ok(d) => joined.dns = Some(d),
            Err(e) => {
                let _ = joined.leave();
                return Err(e.into());
            }
        }
    }
    Ok(Some(joined))
}

/// The container's address on each of its networks that has its endpoint, first
/// network first.
fn addresses(
    attachments: &[NetworkAttachment],
    endpoints: &BTreeMap<String, Endpoint>,
) -> Vec<std::net::Ipv4Addr> {
    attachments
        .iter()
        .filter_map(|a| endpoints.get(&a.name).map(|ep| ep.ip))
        .collect()
}

/// Attaches container `c` to network `a` in `netns` as `ifname`, with the published
/// ports if `ports`. The names others resolve it by are its name and aliases, on
/// user-defined networks only (as in Docker).
fn attach_one(
    manager: &Manager,
    c: &Container,
    netns: &Netns,
    a: &NetworkAttachment,
    ifname: &str,
    ports: bool,
) -> Result<Endpoint> {
    let mut names = Vec::new();
    if a.name != DEFAULT_NETWORK {
        names.push(c.name.clone());
        names.extend(a.aliases.iter().cloned());
    }
    let mac = a.mac.as_deref().map(berth_network::parse_mac).transpose()?;
    let opts = berth_network::AttachOptions {
        container: &c.id,
        netns,
        ifname,
        ip: a.ip,
        ports: if ports { &c.host.port_bindings } else { &[] },
        mac,
        names: &names,
    };
    match manager.attach(&a.name, &opts) {
        // The bridge is gone (a reboot, someone's `ip link del`): rebuild what the
        // network records say, once.
        Err(berth_network::Error::NotFound(_)) => {
            manager.restore()?;
            Ok(manager.attach(&a.name, &opts)?)
        }
        r => Ok(r?),
    }
}

impl Joined {
    /// Leaves every network: the DNS server stops, the endpoints' rules, veth pairs
    /// and addresses go — those connected while it ran included.
    pub fn leave(mut self) -> Result<()> {
        drop(self.dns.take());
        leave_all(&self.manager, &self.container)
    }
}

/// Detaches container `id` from every network the manager has an endpoint of it on;
/// an endpoint already gone is fine. The first failure is reported, after trying all.
fn leave_all(manager: &Manager, id: &str) -> Result<()> {
    let mut result = Ok(());
    for (network, _) in manager.endpoints_of(id)? {
        match manager.detach(&network, id) {
            Ok(()) | Err(berth_network::Error::NotFound(_)) => {}
            Err(e) => {
                if result.is_ok() {
                    result = Err(e.into());
                }
            }
        }
    }
    result
}

/// Removes an endpoint a monitor that died could not remove (the container's exit went
/// unrecorded); an endpoint already gone is fine.
pub fn leave_stale(engine: &Engine, network: &str, id: &str) -> Result<()> {
    match engine.networks()?.detach(network, id) {
        Ok(()) | Err(berth_network::Error::NotFound(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Removes every endpoint of container `id` left behind: by a monitor that died, or by
/// a `network connect` that raced the container's exit.
pub fn leave_all_stale(engine: &Engine, id: &str) -> Result<()> {
    leave_all(&engine.networks()?, id)
}

/// Docker's refusal to connect a container that shares another's (or the host's)
/// network namespace.
const SHARED_NETWORK: &str = "container sharing network namespace with another container or host cannot be connected to any other network";
/// Docker's refusal to connect to or disconnect from the host network.
const HOST_NETWORK: &str =
    "container cannot be disconnected from host network or connected to host network";
/// Docker's refusal to put a container on `none` and another network at once.
const NO_NETWORK: &str = "container cannot be connected to multiple networks with one of the networks in private (none) mode";

/// What `network connect` asks for besides the network and the container.
#[derive(Clone, Debug, Default)]
pub struct ConnectOptions {
    /// `--ip`: a fixed address (user-defined networks only).
    pub ip: Option<String>,
    /// `--alias`: more names the network's DNS answers for the container.
    pub aliases: Vec<String>,
}

impl Engine {
    /// `network connect`: puts container `container` on network `network` too. A
    /// running container gets the next `ethN` at once (its default route stays on its
    /// first network); a created or stopped one joins it at its next start. Docker's
    /// refusals and messages.
    pub fn connect(&self, container: &str, network: &str, o: &ConnectOptions) -> Result<()> {
        let c = self.find(container)?;
        let mode = c.host.network_mode.as_str();
        if mode.starts_with("container:") {
            return Err(Error::Conflict(SHARED_NETWORK.into()));
        }
        let target = match network {
            "host" | "none" => network.to_string(),
            n => self.resolve_network(n)?,
        };
        if target == "host" {
            return Err(Error::Conflict(HOST_NETWORK.into()));
        }
        if mode == "host" {
            return Err(Error::Conflict(SHARED_NETWORK.into()));
        }
        if target == "none" || mode == "none" {
            return Err(Error::Conflict(NO_NETWORK.into()));
        }
        let user = target != DEFAULT_NETWORK;
        let ip = self.check_attachment(&target, user, &o.aliases, o.ip.as_deref())?;
        // Under the container's lock: its monitor records a start or an exit under it
        // too, and leaves every network again after recording an exit.
        let lock = self.containers().lock(&c.id)?;
        let mut c = self.containers().load(&c.id)?;
        let mut list = c.host.attachments();
        if list.iter().any(|a| a.name == target) {
            return Err(Error::Conflict(format!(
                "endpoint with name {} already exists in network {target}",
                c.name
            )));
        }
        let a = NetworkAttachment {
            name: target.clone(),
            aliases: o.aliases.clone(),
            ip,
            mac: None,
        };
        let mut attached = None;
        if c.state.status == Status::Running && c.state.pid > 0 {
            let manager = self.networks()?;
            let netns = Netns::of_pid(c.state.pid as u32)?;
            let used: Vec<String> = manager
                .endpoints_of(&c.id)?
                .into_iter()
                .map(|(_, e)| e.ifname)
                .collect();
            let ifname = (0..)
                .map(|i| format!("eth{i}"))
                .find(|n| !used.contains(n))
                .expect("a free interface name");
            let ep = attach_one(&manager, &c, &netns, &a, &ifname, false)?;
            c.state.endpoints.insert(target.clone(), ep);
            attached = Some(manager);
        }
        list.push(a);
        c.host.networks = Some(list);
        let saved = self.containers().save(&c, false, &lock).and_then(|()| {
            if attached.is_some() {
                self.write_hosts(&c)?;
            }
            Ok(())
        });
        saved.inspect_err(|_| {
            if let Some(m) = &attached {
                let _ = m.detach(&target, &c.id);
            }
        })
    }

    /// Rewrites a running container's /etc/hosts with its address on each network it
    /// is on now, first network first.
    fn write_hosts(&self, c: &crate::Container) -> Result<()> {
        let addresses = addresses(&c.host.attachments(), &c.state.endpoints);
        crate::etc_files::write_addresses(c, &self.dir(&c.id), &addresses)
    }

    /// `network disconnect`: takes container `container` off network `network`, at
    /// once if it runs. With `force`, a network that no longer exists is forgotten too.
    pub fn disconnect(&self, container: &str, network: &str, force: bool) -> Result<()> {
        let c = self.find(container)?;
        let target = match network {
            "host" | "none" => network.to_string(),
            n => match self.networks()?.network(n) {
                Ok(net) => net.name,
                Err(berth_network::Error::NotFound(_)) if force => n.to_string(),
                Err(e) => return Err(e.into()),
            },
        };
        if target == "host" && c.host.network_mode == "host" {
            return Err(Error::Conflict(HOST_NETWORK.into()));
        }
        let lock = self.containers().lock(&c.id)?;
        let mut c = self.containers().load(&c.id)?;
        let mut list = c.host.attachments();
        let Some(pos) = list.iter().position(|a| a.name == target) else {
            return Err(Error::Conflict(format!(
                "container {} is not connected to network {target}",
                c.id
            )));
        };
        list.remove(pos);
        if c.state.status == Status::Running && c.state.pid > 0 {
            match self.networks()?.detach(&target, &c.id) {
                Ok(()) | Err(berth_network::Error::NotFound(_)) => {}
                Err(_) if force => {}
                Err(e) => return Err(e.into()),
            }
        }
        if let Some(ep) = c.state.endpoints.remove(&target)
            && c.state.endpoint.as_ref().map(|e| &e.host_veth) == Some(&ep.host_veth)
        {
            c.state.endpoint = None;
        }
        c.host.networks = Some(list);
        self.containers().save(&c, false, &lock)?;
        if c.state.status == Status::Running && c.state.pid > 0 {
            self.write_hosts(&c)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_bridge_is_berth0_only_for_the_default_root() {
        assert_eq!(default_bridge(Path::new("/var/lib/berth")), "berth0");
        let a = default_bridge(Path::new("/tmp/a/root"));
        let b = default_bridge(Path::new("/tmp/b/root"));
        assert_ne!(a, b);
        assert_eq!(a, default_bridge(Path::new("/tmp/a/root")));
        assert!(a.starts_with("berth-") && a.len() == 14, "{a}");
    }
}
