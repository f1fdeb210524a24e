//! berth's container networking: the bridge networks Docker users know.
//!
//! A network is a Linux bridge with a gateway address on a subnet IPAM chose to avoid
//! everything the host routes ([`Manager::create_network`]). Attaching a container
//! ([`Manager::attach`]) gives it a veth pair from the bridge into its network namespace,
//! an address, a default route through the gateway, and DNAT rules for its published
//! ports; detaching is the exact mirror. Links, addresses and routes go through
//! rtnetlink; firewall rules through a [`Firewall`] driver, nftables by default, in
//! berth's own `ip berth` table. State (networks, addresses handed out, ports published)
//! lives in a directory the caller gives, written atomically under a file lock.
//!
//! On user-defined networks, a [`DnsServer`] in each container's namespace (127.0.0.11,
//! as Docker's) answers the names and aliases of the containers on its networks
//! ([`NetworkNames`]) and forwards other questions to the host's resolvers.
//!
//! What `berth run -d -p 8080:80 --network front --name web IMAGE` asks of this crate,
//! once the container's namespace exists and before its process starts:
//!
//! ```no_run
//! use std::sync::Arc;
//! use berth_network::*;
//!
//! # fn main() -> Result<()> {
//! let manager = Arc::new(Manager::new("/var/lib/berth".as_ref())?);
//! if manager.network("front").is_err() {
//!     manager.create_network(&NetworkOptions { name: "front".into(), ..Default::default() })?;
//! }
//! let netns = Netns::of_pid(4242)?; // the container's init
//! let ports = parse_publish("8080:80")?;
//! let names = ["web".to_string()];
//! let endpoint = manager.attach(
//!     "front",
//!     &AttachOptions {
//!         container: "4f2a...",
//!         netns: &netns,
//!         ifname: "eth0",
//!         ip: None,
//!         ports: &ports,
//!         mac: None,
//!         names: &names,
//!     },
//! )?;
//! // /etc/resolv.conf of the container, and its DNS server, held by a long-lived process.
//! let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
//! let conf = resolv_conf(&host, &DnsOptions::default(), true);
//! let dns = DnsServer::start(
//!     &netns,
//!     Arc::new(NetworkNames::of_container(manager.clone(), "4f2a...")),
//!     upstreams(&host, &DnsOptions::default()),
//! )?;
//! println!("{} {conf}{}", endpoint.ip, endpoint.ports[0]); // 80/tcp -> 0.0.0.0:8080
//! // When the container stops:
//! drop(dns);
//! manager.detach("front", "4f2a...")?;
//! # Ok(())
//! # }
//! ```

mod bridge;
mod dns;
mod error;
mod firewall;
mod ipam;
mod link;
mod manager;
mod netlink;
mod netns;
mod ports;
mod store;
mod veth;

pub use dns::{
    DNS_ADDRESS, DnsOptions, DnsServer, NetworkNames, Resolve, host_resolvers, resolv_conf,
    upstreams,
};
pub use error::{Error, Result};
pub use firewall::{Firewall, Nftables};
pub use ipam::default_pools;
pub use manager::{
    AttachOptions, DEFAULT_BRIDGE, DEFAULT_NETWORK, Manager, NetworkOptions, parse_mac,
};
pub use netns::Netns;
pub use ports::{PortMapping, Protocol, parse_publish};
pub use store::{Endpoint, NetworkConfig};
