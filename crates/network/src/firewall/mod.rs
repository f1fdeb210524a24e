//! The firewall seam: what a network and a container's published ports need from the
//! packet filter, whatever drives it. nftables (berth's own `ip berth` table) is the
//! driver today; an iptables or firewalld driver would implement the same trait.

mod libnftables;
mod nftables;

use std::net::Ipv4Addr;

pub use self::nftables::Nftables;
use crate::error::Result;
use crate::ports::PortMapping;
use crate::store::NetworkConfig;

/// A packet filter driver. Every method is the exact mirror of another: what `add_*`
/// installs, the matching `remove_*` takes away, and nothing else.
pub trait Firewall: Send + Sync {
    /// Installs a network's rules: masquerade of its outbound traffic (unless internal),
    /// of hairpin and host-loopback connections to published ports, isolation from other
    /// berth bridges, and the guard that keeps containers off the host's 127.0.0.0/8.
    fn add_network(&self, network: &NetworkConfig) -> Result<()>;
    /// Removes everything `add_network` and `add_ports` installed for the network.
    fn remove_network(&self, network: &NetworkConfig) -> Result<()>;
    /// Publishes `ports` (host ports already chosen) to `container` at address `ip` on
    /// the network whose Linux bridge is `bridge`. Rules are owned by bridge names, which
    /// are unique on the host, not by network names, which each berth root (and every
    /// root's default network `bridge`) may repeat.
    fn add_ports(
        &self,
        bridge: &str,
        container: &str,
        ip: Ipv4Addr,
        ports: &[PortMapping],
    ) -> Result<()>;
    /// Removes the rules `add_ports` installed for `container` on `bridge`'s network.
    fn remove_ports(&self, bridge: &str, container: &str) -> Result<()>;
}
