//! A container on a bridge network: berth-network's endpoint joined by the monitor
//! between the runtime's create (the namespace exists) and start (the process runs),
//! and left when the monitor records the exit. Modes `none`, `host` and
//! `container:NAME` need nothing here.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_network::{
    DEFAULT_NETWORK, DnsServer, Endpoint, Manager, NetworkNames, NetworkOptions,
    Netns,
};

use crate::Engine;
use crate::error::Result;

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

/// A container's place on its network while its process runs.
pub struct Joined {
    manager: Arc<Manager>,
    network: String,
    container: String,
    /// The address, MAC and ports the network gave.
    pub endpoint: Endpoint,
    /// The embedded DNS server (user-defined networks): it must stop before the
    /// container's namespace can go.
    dns: Option<DnsServer>,
}

/// Joins container `id` (init `pid`, not started yet) to its network if it is on one.
pub fn join(engine: &Engine, id: &str, pid: i32) -> Result<Option<Joined>> {
    let c = engine.containers().load(id)?;
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
    // Names resolve on user-defined networks only, as in Docker.
    let user = network != DEFAULT_NETWORK;
    let mut names = Vec::new();
    if user {
        names.push(c.name.clone());
        names.extend(c.host.network_aliases.iter().cloned());
    }
    let opts = berth_network::AttachOptions {
        container: id,
        netns: &netns,
        ifname: "eth0",
        ip: c.host.ip,
        ports: &c.host.port_bindings,
        mac: None,
        names: &names,
    };
    // An endpoint this container still has is stale: the container is not running (it
    // is being started under its lock), so its monitor died or the host rebooted
    // without the exit being recorded.
    leave_stale(engine, network, id)?;
    let endpoint = match manager.attach(network, &opts) {
        // The bridge is gone (a reboot, someone's `ip link del`): rebuild what the
        // network records say, once.
        Err(berth_network::Error::NotFound(_)) => {
            manager.restore()?;
            manager.attach(network, &opts)?
        }
        r => r?,
    };
    let hosts = crate::etc_files::write_address(&c, &engine.dir(id), endpoint.ip);
    if let Err(e) = hosts {
        let _ = manager.detach(network, id);
        return Err(e);
    }
    let dns = if user {
        let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        let started = DnsServer::start(
            &netns,
            Arc::new(NetworkNames::new(manager.clone(), vec![network.to_string()])),
            berth_network::upstreams(&host, &c.host.dns_options()),
        );
        match started {
            Ok(d) => Some(d),
            Err(e) => {
                let _ = manager.detach(network, id);
                return Err(e.into());
            }
        }
    } else {
        None
    };
    Ok(Some(Joined {
        network: network.to_string(),
        container: id.to_string(),
        manager,
        endpoint,
        dns,
    }))
}

impl Joined {
    /// Leaves the network: the DNS server stops, the endpoint's rules, veth pair and
    /// address go.
    pub fn leave(mut self) -> Result<()> {
        drop(self.dns.take());
        Ok(self.manager.detach(&self.network, &self.container)?)
    }
}

/// Removes an endpoint a monitor that died could not remove (the container's exit went
/// unrecorded); an endpoint already gone is fine.
pub fn leave_stale(engine: &Engine, network: &str, id: &str) -> Result<()> {
    match engine.networks()?.detach(network, id) {
        Ok(()) | Err(berth_network::Error::NotFound(_)) => Ok(()),
        Err(e) => Err(e.into()),
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
