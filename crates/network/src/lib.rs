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
