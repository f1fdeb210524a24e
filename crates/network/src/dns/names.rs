//! The names a container's DNS server answers: those of the endpoints on its networks.

use std::net::Ipv4Addr;
use std::sync::Arc;

use crate::dns::Resolve;
use crate::manager::{DEFAULT_NETWORK, Manager};
use crate::store::Endpoint;

/// Resolves the names and aliases of the containers on a container's networks (as
/// Docker, not on the default `bridge` network), plain or qualified with the network's
/// name (`web.front`).
pub struct NetworkNames {
    manager: Arc<Manager>,
    networks: Networks,
}

/// Which networks' names are answered.
enum Networks {
    /// A fixed list.
    Fixed(Vec<String>),
    /// Whichever networks this container has an endpoint on at the time of the question.
    Of(String),
}

impl NetworkNames {
    /// Names on `networks`, read from `manager`'s state at each question, so containers
    /// attached or detached later are seen at once.
    pub fn new(manager: Arc<Manager>, networks: Vec<String>) -> Self {
        NetworkNames {
            manager,
            networks: Networks::Fixed(networks),
        }
    }

    /// Names on every network `container` is attached to when the question comes, so
    /// the networks it is connected to or disconnected from while it runs count at once.
    pub fn of_container(manager: Arc<Manager>, container: &str) -> Self {
        NetworkNames {
            manager,
            networks: Networks::Of(container.to_string()),
        }
    }
}

impl Resolve for NetworkNames {
    fn resolve(&self, name: &str) -> Option<Vec<Ipv4Addr>> {
        let all = self.manager.all_endpoints().ok()?;
        let mine = |network: &str, endpoints: &[Endpoint]| match &self.networks {
            Networks::Fixed(list) => list.iter().any(|n| n == network),
            Networks::Of(id) => endpoints.iter().any(|e| &e.container == id),
        };
        let mut found = Vec::new();
        for (network, endpoints) in &all {
            if network == DEFAULT_NETWORK || !mine(network, endpoints) {
                continue;
            }
            let short = name
                .strip_suffix(network.as_str())
                .and_then(|s| s.strip_suffix('.'))
                .unwrap_or(name);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{NetworkConfig, NetworkState, Store};

    fn endpoint(container: &str, ip: [u8; 4], names: &[&str]) -> Endpoint {
        Endpoint {
            id: String::new(),
            container: container.into(),
            ip: ip.into(),
            mac: String::new(),
            host_veth: String::new(),
            ifname: "eth0".into(),
            names: names.iter().map(|n| n.to_string()).collect(),
            ports: Vec::new(),
        }
    }

    fn save(dir: &std::path::Path, name: &str, endpoints: &[Endpoint]) {
        let store = Store::open(dir).unwrap();
        let lock = store.lock().unwrap();
        let state = NetworkState {
            config: NetworkConfig {
                id: "0".repeat(64),
                name: name.into(),
                created: std::time::SystemTime::UNIX_EPOCH,
                labels: Default::default(),
                bridge: format!("br-{name}"),
                subnet: "10.9.0.0/24".parse().unwrap(),
                gateway: [10, 9, 0, 1].into(),
                ip_range: None,
                internal: false,
            },
            endpoints: endpoints
                .iter()
                .map(|e| (e.container.clone(), e.clone()))
                .collect(),
        };
        store.save(&lock, &state, false).unwrap();
    }

    #[test]
    fn a_containers_names_follow_its_endpoints() {
        let dir = std::env::temp_dir().join(format!("berth-names-{}", std::process::id()));
        let manager = Arc::new(Manager::new(&dir).unwrap());
        save(&dir, "front", &[endpoint("me", [10, 9, 0, 2], &["me"])]);
        save(
            &dir,
            "back",
            &[endpoint("db", [10, 9, 1, 2], &["db", "sql"])],
        );
        save(
            &dir,
            DEFAULT_NETWORK,
            &[
                endpoint("me", [10, 9, 2, 2], &[]),
                endpoint("x", [10, 9, 2, 3], &["x"]),
            ],
        );
        let names = NetworkNames::of_container(manager, "me");
        assert_eq!(names.resolve("me"), Some(vec![[10, 9, 0, 2].into()]));
        assert_eq!(names.resolve("db"), None, "not on back yet");
        assert_eq!(names.resolve("x"), None, "never on the default network");
        // Connected to back: its names answered at once; disconnected: gone.
        save(
            &dir,
            "back",
            &[
                endpoint("db", [10, 9, 1, 2], &["db", "sql"]),
                endpoint("me", [10, 9, 1, 3], &["me"]),
            ],
        );
        assert_eq!(names.resolve("sql.back"), Some(vec![[10, 9, 1, 2].into()]));
        assert_eq!(names.resolve("me").map(|v| v.len()), Some(2));
        save(
            &dir,
            "back",
            &[endpoint("db", [10, 9, 1, 2], &["db", "sql"])],
        );
        assert_eq!(names.resolve("db"), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
