//! The names a container's DNS server answers: those of the endpoints on its networks.

use std::net::Ipv4Addr;
use std::sync::Arc;

use crate::dns::Resolve;
use crate::manager::{DEFAULT_NETWORK, Manager};

/// Resolves the names and aliases of the containers on `networks` (as Docker, not on the
/// default `bridge` network), plain or qualified with the network's name (`web.front`).
pub struct NetworkNames {
    manager: Arc<Manager>,
    networks: Vec<String>,
}

impl NetworkNames {
    /// Names on `networks`, read from `manager`'s state at each question, so containers
    /// attached or detached later are seen at once.
    pub fn new(manager: Arc<Manager>, networks: Vec<String>) -> Self {
        NetworkNames { manager, networks }
    }
}

impl Resolve for NetworkNames {
    fn resolve(&self, name: &str) -> Option<Vec<Ipv4Addr>> {
        let mut found = Vec::new();
        for network in self.networks.iter().filter(|n| *n != DEFAULT_NETWORK) {
            let short = name
                .strip_suffix(network.as_str())
                .and_then(|s| s.strip_suffix('.'))
                .unwrap_or(name);
            let Ok(endpoints) = self.manager.endpoints(network) else {
                continue;
            };
            for ep in endpoints {
                if ep.names.iter().any(|n| n.eq_ignore_ascii_case(short)) && !found.contains(&ep.ip)
                {
                    found.push(ep.ip);
                }
            }
        }
        (!found.is_empty()).then_some(found)
    }
}
