//! The nftables driver: berth's rules live in their own table, `ip berth`, driven with
//! nftables' JSON (in and out) through libnftables in process, or `nft -j` where the
//! library is missing. No other table is read or written.
//!
//! Layout of the table:
//! - `prerouting` (nat, dstnat) and `output` (nat, -100): connections to one of the
//!   host's own addresses go to `published`, which holds one DNAT rule per published port.
//! - `postrouting` (nat, srcnat): per network, masquerade of traffic leaving the subnet,
//!   of hairpin connections (a container reaching a published port of its own bridge)
//!   and of connections from the host's 127.0.0.0/8 (see below).
//! - `internal` (filter, forward, -1): an internal network's traffic may not leave its
//!   bridge, nor other traffic enter it, whatever DNAT did.
//! - `forward` (filter): connections a published port let in are accepted; otherwise a
//!   bridge's traffic may not go to another berth bridge (the `bridges` set).
//! - `guard` (filter, raw priority): packets from a bridge to 127.0.0.0/8 are dropped.
//!
//! 127.0.0.1 on the host reaches published ports through `route_localnet` on each bridge
//! (set by the network layer) and the loopback masquerade, not through a userland proxy:
//! no process per port, no copy per connection, and the port answers as soon as the rule
//! is in. `route_localnet` would also let a container send to the host's loopback
//! services (CVE-2020-8558), which is what the `guard` chain's rule prevents.
//!
//! Every rule carries a comment naming its owner (`berth:base`, `berth:net:BRIDGE`,
//! `berth:ctr:BRIDGE:CONTAINER`); teardown lists the table and deletes exactly the rules
//! with the owner's comment, in one atomic batch. Owners are bridge names, unique on the
//! host, not network names: every berth root has a network `bridge`, and two roots may
//! both have a `front`, all sharing this one table.

use std::io::Write;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::firewall::Firewall;
use crate::ports::PortMapping;
use crate::store::{NetworkConfig, lock_file};

const FAMILY: &str = "ip";
const TABLE: &str = "berth";
const BASE: &str = "berth:base";

/// The nftables firewall driver.
#[derive(Debug)]
pub struct Nftables {
    /// `None`: libnftables in process, or `nft` from PATH where the host lacks it (the
    /// library is loaded at the first change, so a process that changes no rule, such
    /// as a container's monitor without published ports, never maps it); `Some(nft)`:
    /// that binary, run per change.
    binary: Option<PathBuf>,
    lock: PathBuf,
}

impl Default for Nftables {
    fn default() -> Self {
        Nftables {
            binary: None,
            lock: PathBuf::from(HOST_LOCK),
        }
    }
}

/// Serialises every change to the table host-wide: every berth on the host shares it.
const HOST_LOCK: &str = "/run/berth-nftables.lock";

impl Nftables {
    /// A driver calling libnftables in process when the host has it (Debian's
    /// libnftables1, a dependency of nftables), else running `nft` from PATH.
    pub fn new() -> Self {
        Self::default()
    }

    /// A driver that always runs the `nft` binary at `path` (`nft -j`).
    pub fn with_binary(path: impl Into<PathBuf>) -> Self {
        Nftables {
            binary: Some(path.into()),
            lock: PathBuf::from(HOST_LOCK),
        }
    }

    /// Runs `command` (native syntax, or a JSON document when `json_input`) with JSON
    /// output, through the library or the binary.
    fn run(&self, command: &str, json_input: bool) -> Result<String> {
        let nft = match &self.binary {
            Some(nft) => nft.as_path(),
            None => match super::libnftables::library() {
                Some(lib) => {
                    return lib
                        .run(command)
                        .map_err(|e| Error::Firewall(format!("{}: {}", short(command), e.trim())));
                }
                None => std::path::Path::new("nft"),
            },
        };
        let mut cmd = Command::new(nft);
        cmd.arg("-j");
        if json_input {
            cmd.args(["-f", "-"]).stdin(Stdio::piped());
        } else {
            cmd.args(command.split_whitespace()).stdin(Stdio::null());
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::io(format!("run {}", nft.display()), e))?;
        if json_input {
            let mut stdin = child.stdin.take().expect("piped stdin");
            stdin
                .write_all(command.as_bytes())
                .map_err(|e| Error::io(format!("write to {}", nft.display()), e))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| Error::io(format!("wait for {}", nft.display()), e))?;
        if !out.status.success() {
            return Err(Error::Firewall(format!(
                "{}: {}",
                short(command),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn apply(&self, commands: Vec<Value>) -> Result<()> {
        if commands.is_empty() {
            return Ok(());
        }
        self.run(&json!({ "nftables": commands }).to_string(), true)
            .map(drop)
    }

    /// The table's current objects, or `None` if berth's table does not exist.
    fn list(&self) -> Result<Option<Vec<Value>>> {
        match self.run(&format!("list table {FAMILY} {TABLE}"), false) {
            Ok(out) => {
                let doc: Value = serde_json::from_str(&out).map_err(|e| {
                    Error::Firewall(format!("unreadable listing of table ip berth: {e}"))
                })?;
                Ok(Some(
                    doc["nftables"].as_array().cloned().unwrap_or_default(),
                ))
            }
            Err(Error::Firewall(msg)) if msg.contains("No such file or directory") => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn lock(&self) -> Result<std::fs::File> {
        lock_file(&self.lock)
    }
}

impl Firewall for Nftables {
    fn add_network(&self, network: &NetworkConfig) -> Result<()> {
        let _lock = self.lock()?;
        // Re-adding a network (a restarted engine restoring its rules) replaces its rules.
        let owner = format!("berth:net:{}", network.bridge);
        let mut commands = structure_commands();
        match self.list()? {
            None => commands.extend(base_commands()),
            Some(objects) => commands.extend(delete_rules(&objects, |c| c == owner)),
        }
        commands.extend(network_commands(network));
        self.apply(commands)
    }

    fn remove_network(&self, network: &NetworkConfig) -> Result<()> {
        let _lock = self.lock()?;
        let Some(objects) = self.list()? else {
            return Ok(());
        };
        let commands = teardown_commands(&objects, network);
        self.apply(commands)
    }

    fn add_ports(
        &self,
        bridge: &str,
        container: &str,
        ip: Ipv4Addr,
        ports: &[PortMapping],
    ) -> Result<()> {
        if ports.is_empty() {
            return Ok(());
        }
        let _lock = self.lock()?;
        self.apply(port_commands(bridge, container, ip, ports))
    }

    fn remove_ports(&self, bridge: &str, container: &str) -> Result<()> {
        let _lock = self.lock()?;
        let Some(objects) = self.list()? else {
            return Ok(());
        };
        let owner = format!("berth:ctr:{bridge}:{container}");
        self.apply(delete_rules(&objects, |c| c == owner))
    }
}

/// The start of a command, for error messages (a JSON batch can be long).
fn short(command: &str) -> String {
    let mut s: String = command.chars().take(120).collect();
    if s.len() < command.len() {
        s.push_str("...");
    }
    s
}

fn rules(objects: &[Value]) -> impl Iterator<Item = (&Value, &str)> {
    objects.iter().filter_map(|o| {
        let rule = o.get("rule")?;
        Some((
            rule,
            rule.get("comment").and_then(Value::as_str).unwrap_or(""),
        ))
    })
}

fn delete_rules(objects: &[Value], owned: impl Fn(&str) -> bool) -> Vec<Value> {
    rules(objects)
        .filter(|(_, comment)| owned(comment))
        .map(|(rule, _)| {
            json!({ "delete": { "rule": {
                "family": FAMILY, "table": TABLE, "chain": rule["chain"], "handle": rule["handle"] } } })
        })
        .collect()
}

/// What removing `network` takes from the table listed as `objects`: its rules, its
/// containers' rules and its bridge's set element, or, when no other network has rules
/// left, the whole table.
fn teardown_commands(objects: &[Value], network: &NetworkConfig) -> Vec<Value> {
    let owner = format!("berth:net:{}", network.bridge);
    let containers = format!("berth:ctr:{}:", network.bridge);
    let mut commands = delete_rules(objects, |c| c == owner || c.starts_with(&containers));
    let remaining = rules(objects).filter(|(_, c)| *c != BASE).count();
    if remaining == commands.len() {
        return vec![json!({ "delete": { "table": { "family": FAMILY, "name": TABLE } } })];
    }
    if set_has(objects, "bridges", &network.bridge) {
        commands.push(json!({ "delete": { "element": {
            "family": FAMILY, "table": TABLE, "name": "bridges", "elem": [network.bridge] } } }));
    }
    commands
}

fn set_has(objects: &[Value], set: &str, elem: &str) -> bool {
    objects.iter().any(|o| {
        o["set"]["name"] == set
            && o["set"]["elem"]
                .as_array()
                .is_some_and(|e| e.iter().any(|v| v == elem))
    })
}

fn chain(name: &str, kind: &str, hook: &str, prio: i32) -> Value {
    json!({ "add": { "chain": { "family": FAMILY, "table": TABLE, "name": name,
        "type": kind, "hook": hook, "prio": prio, "policy": "accept" } } })
}

fn rule(chain: &str, comment: &str, expr: Vec<Value>) -> Value {
    json!({ "add": { "rule": { "family": FAMILY, "table": TABLE, "chain": chain,
        "comment": comment, "expr": expr } } })
}

fn matches(op: &str, left: Value, right: Value) -> Value {
    json!({ "match": { "op": op, "left": left, "right": right } })
}

fn meta(key: &str) -> Value {
    json!({ "meta": { "key": key } })
}

fn payload(protocol: &str, field: &str) -> Value {
    json!({ "payload": { "protocol": protocol, "field": field } })
}

fn prefix(net: ipnet::Ipv4Net) -> Value {
    json!({ "prefix": { "addr": net.network().to_string(), "len": net.prefix_len() } })
}

fn dnat_to_published() -> Vec<Value> {
    vec![
        matches(
            "==",
            json!({ "fib": { "result": "type", "flags": ["daddr"] } }),
            json!("local"),
        ),
        json!({ "jump": { "target": "published" } }),
    ]
}

/// The table, its set and chains, and the rules no network owns.
/// The table, its set and chains: adding them again changes nothing, so every network
/// creation does it (a table made by an older berth gains the chains it lacks).
fn structure_commands() -> Vec<Value> {
    vec![
        json!({ "add": { "table": { "family": FAMILY, "name": TABLE } } }),
        json!({ "add": { "set": { "family": FAMILY, "table": TABLE, "name": "bridges", "type": "ifname" } } }),
        json!({ "add": { "chain": { "family": FAMILY, "table": TABLE, "name": "published" } } }),
        chain("prerouting", "nat", "prerouting", -100),
        chain("output", "nat", "output", -100),
        chain("postrouting", "nat", "postrouting", 100),
        // Before `forward`: its DNAT accept must not open an internal network.
        chain("internal", "filter", "forward", -1),
        chain("forward", "filter", "forward", 0),
        chain("guard", "filter", "prerouting", -300),
    ]
}

/// The rules no network owns, added with the table.
fn base_commands() -> Vec<Value> {
    vec![
        rule("prerouting", BASE, dnat_to_published()),
        rule("output", BASE, dnat_to_published()),
        rule(
            "forward",
            BASE,
            vec![
                matches("in", json!({ "ct": { "key": "status" } }), json!("dnat")),
                json!({ "accept": null }),
            ],
        ),
    ]
}

/// A network's own rules (see the module documentation).
fn network_commands(net: &NetworkConfig) -> Vec<Value> {
    let owner = format!("berth:net:{}", net.bridge);
    let br = json!(net.bridge);
    let masq = json!({ "masquerade": null });
    let drop = json!({ "drop": null });
    let loopback = prefix("127.0.0.0/8".parse().expect("loopback prefix"));
    let mut c = vec![json!({ "add": { "element": {
        "family": FAMILY, "table": TABLE, "name": "bridges", "elem": [net.bridge] } } })];
    if !net.internal {
        c.push(rule(
            "postrouting",
            &owner,
            vec![
                matches("==", payload("ip", "saddr"), prefix(net.subnet)),
                matches("!=", meta("oifname"), br.clone()),
                masq.clone(),
            ],
        ));
    }
    c.push(rule(
        "postrouting",
        &owner,
        vec![
            matches("in", json!({ "ct": { "key": "status" } }), json!("dnat")),
            matches("==", meta("oifname"), br.clone()),
            matches("==", payload("ip", "saddr"), prefix(net.subnet)),
            masq.clone(),
        ],
    ));
    c.push(rule(
        "postrouting",
        &owner,
        vec![
            matches("==", meta("oifname"), br.clone()),
            matches("==", payload("ip", "saddr"), loopback.clone()),
            masq,
        ],
    ));
    c.push(rule(
        "forward",
        &owner,
        vec![
            matches("==", meta("iifname"), br.clone()),
            matches("==", meta("oifname"), json!("@bridges")),
            matches("!=", meta("oifname"), br.clone()),
            drop.clone(),
        ],
    ));
    if net.internal {
        c.push(rule(
            "internal",
            &owner,
            vec![
                matches("==", meta("iifname"), br.clone()),
                matches("!=", meta("oifname"), br.clone()),
                drop.clone(),
            ],
        ));
        c.push(rule(
            "internal",
            &owner,
            vec![
                matches("==", meta("oifname"), br.clone()),
                matches("!=", meta("iifname"), br.clone()),
                drop.clone(),
            ],
        ));
    }
    c.push(rule(
        "guard",
        &owner,
        vec![
            matches("==", meta("iifname"), br),
            matches("==", payload("ip", "daddr"), loopback),
            drop,
        ],
    ));
    c
}

/// One DNAT rule per published port.
fn port_commands(
    bridge: &str,
    container: &str,
    ip: Ipv4Addr,
    ports: &[PortMapping],
) -> Vec<Value> {
    let owner = format!("berth:ctr:{bridge}:{container}");
    ports
        .iter()
        .map(|p| {
            let mut expr = Vec::new();
            if let Some(host_ip) = p.host_ip {
                expr.push(matches(
                    "==",
                    payload("ip", "daddr"),
                    json!(host_ip.to_string()),
                ));
            }
            expr.push(matches(
                "==",
                payload(p.protocol.as_str(), "dport"),
                json!(p.host_port),
            ));
            expr.push(json!({ "dnat": { "addr": ip.to_string(), "port": p.container_port } }));
            rule("published", &owner, expr)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::Protocol;

    fn net(internal: bool) -> NetworkConfig {
        NetworkConfig {
            id: "0".repeat(64),
            name: "front".into(),
            created: std::time::SystemTime::UNIX_EPOCH,
            labels: Default::default(),
            bridge: "br-front".into(),
            subnet: "10.5.0.0/24".parse().unwrap(),
            gateway: "10.5.0.1".parse().unwrap(),
            ip_range: None,
            internal,
        }
    }

    fn comments(commands: &[Value]) -> Vec<&str> {
        commands
            .iter()
            .filter_map(|c| c["add"]["rule"]["comment"].as_str())
            .collect()
    }

    #[test]
    fn network_rules_are_owned_and_internal_networks_do_not_masquerade() {
        let open = network_commands(&net(false));
        assert!(comments(&open).iter().all(|c| *c == "berth:net:br-front"));
        let masq_out = |cmds: &[Value]| {
            cmds.iter().any(|c| {
                c["add"]["rule"]["chain"] == "postrouting"
                    && c["add"]["rule"]["expr"][1]["match"]["op"] == "!="
            })
        };
        assert!(masq_out(&open));
        let internal = network_commands(&net(true));
        assert!(!masq_out(&internal));
        assert_eq!(
            internal
                .iter()
                .filter(|c| c["add"]["rule"]["chain"] == "internal")
                .count(),
            2,
            "both directions of the internal guard, before the DNAT accept"
        );
    }

    #[test]
    fn port_rules_name_the_container() {
        let ports = [
            PortMapping {
                host_ip: Some(Ipv4Addr::LOCALHOST),
                host_port: 8080,
                host_port_end: 8080,
                container_port: 80,
                protocol: Protocol::Tcp,
            },
            PortMapping {
                host_ip: None,
                host_port: 5353,
                host_port_end: 5353,
                container_port: 53,
                protocol: Protocol::Udp,
            },
        ];
        let cmds = port_commands("br-front", "c1", "10.5.0.2".parse().unwrap(), &ports);
        assert_eq!(
            comments(&cmds),
            ["berth:ctr:br-front:c1", "berth:ctr:br-front:c1"]
        );
        let r0 = &cmds[0]["add"]["rule"]["expr"];
        assert_eq!(r0[0]["match"]["right"], "127.0.0.1");
        assert_eq!(r0[1]["match"]["left"]["payload"]["protocol"], "tcp");
        assert_eq!(r0[2]["dnat"], json!({ "addr": "10.5.0.2", "port": 80 }));
        let r1 = &cmds[1]["add"]["rule"]["expr"];
        assert_eq!(r1[0]["match"]["left"]["payload"]["protocol"], "udp");
        assert_eq!(r1[0]["match"]["right"], 5353);
    }

    #[test]
    fn the_last_network_takes_the_table_with_it() {
        let front = net(false);
        let mut listing: Vec<Value> = vec![
            json!({ "set": { "name": "bridges", "elem": ["br-front", "br-back"] } }),
            json!({ "rule": { "chain": "prerouting", "handle": 2, "comment": "berth:base" } }),
            json!({ "rule": { "chain": "postrouting", "handle": 9, "comment": "berth:net:br-front" } }),
            json!({ "rule": { "chain": "published", "handle": 10, "comment": "berth:ctr:br-front:c1" } }),
        ];
        let last = teardown_commands(&listing, &front);
        assert_eq!(
            last,
            vec![json!({ "delete": { "table": { "family": "ip", "name": "berth" } } })]
        );
        listing.push(json!({ "rule": { "chain": "postrouting", "handle": 11, "comment": "berth:net:br-back" } }));
        let one_of_two = teardown_commands(&listing, &front);
        let handles: Vec<&Value> = one_of_two
            .iter()
            .map(|c| &c["delete"]["rule"]["handle"])
            .collect();
        assert_eq!(handles[..2], [&json!(9), &json!(10)]);
        assert_eq!(
            one_of_two[2]["delete"]["element"]["elem"],
            json!(["br-front"])
        );
        assert_eq!(one_of_two.len(), 3, "the other network's rules stay");
    }

    #[test]
    fn networks_of_the_same_name_in_two_roots_are_torn_down_apart() {
        // Every root has a default network `bridge`; rules are owned by bridge names.
        let mut a = net(false);
        a.name = "bridge".into();
        a.bridge = "berth-aaaa".into();
        let mut b = a.clone();
        b.bridge = "berth-bbbb".into();
        assert_ne!(comments(&network_commands(&a)), comments(&network_commands(&b)));
        let listing: Vec<Value> = vec![
            json!({ "set": { "name": "bridges", "elem": ["berth-aaaa", "berth-bbbb"] } }),
            json!({ "rule": { "chain": "prerouting", "handle": 2, "comment": "berth:base" } }),
            json!({ "rule": { "chain": "postrouting", "handle": 3, "comment": "berth:net:berth-aaaa" } }),
            json!({ "rule": { "chain": "postrouting", "handle": 4, "comment": "berth:net:berth-bbbb" } }),
            json!({ "rule": { "chain": "published", "handle": 5, "comment": "berth:ctr:berth-bbbb:c1" } }),
        ];
        let teardown = teardown_commands(&listing, &a);
        assert_eq!(teardown.len(), 2, "a's rule and set element only: {teardown:?}");
        assert_eq!(teardown[0]["delete"]["rule"]["handle"], 3);
    }

    #[test]
    fn teardown_deletes_only_the_owners_rules() {
        let listing: Vec<Value> = vec![
            json!({ "rule": { "chain": "published", "handle": 7, "comment": "berth:ctr:br-front:c1" } }),
            json!({ "rule": { "chain": "published", "handle": 8, "comment": "berth:ctr:br-front:c10" } }),
            json!({ "rule": { "chain": "postrouting", "handle": 9, "comment": "berth:net:br-front" } }),
            json!({ "rule": { "chain": "prerouting", "handle": 2, "comment": "berth:base" } }),
        ];
        let del = delete_rules(&listing, |c| c == "berth:ctr:br-front:c1");
        assert_eq!(del.len(), 1);
        assert_eq!(del[0]["delete"]["rule"]["handle"], 7);
    }
}
