//! `berth network create/ls/inspect/rm/prune`: bridge networks, with docker's output.

use berth_engine::Engine;
use berth_network::{DEFAULT_NETWORK, NetworkConfig, NetworkOptions};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::template::{inspect_template, print_docs, print_rows};
use crate::{CmdResult, Fail};

/// The driver option naming a network's Linux bridge, as Docker spells it.
const BRIDGE_NAME_OPTION: &str = "com.docker.network.bridge.name";

/// `berth network ...`.
#[derive(Subcommand)]
pub enum NetworkCmd {
    /// Create a network
    Create(CreateArgs),
    /// List networks
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more networks
    Inspect(InspectArgs),
    /// Remove one or more networks
    #[command(alias = "remove")]
    Rm(RmArgs),
    /// Remove all unused networks
    Prune(PruneArgs),
    /// Connect a container to a network
    Connect(ConnectArgs),
    /// Disconnect a container from a network
    Disconnect(DisconnectArgs),
}

/// `network connect`'s flags and arguments.
#[derive(Args)]
pub struct ConnectArgs {
    /// IPv4 address (e.g., "172.30.100.104")
    #[arg(long)]
    ip: Option<String>,
    /// Add network-scoped alias for the container
    #[arg(long)]
    alias: Vec<String>,
    /// The network
    network: String,
    /// The container
    container: String,
}

/// `network disconnect`'s flags and arguments.
#[derive(Args)]
pub struct DisconnectArgs {
    /// Force the container to disconnect from a network
    #[arg(short, long)]
    force: bool,
    /// The network
    network: String,
    /// The container
    container: String,
}

/// `network create`'s flags.
#[derive(Args)]
pub struct CreateArgs {
    /// Driver to manage the Network (only bridge)
    #[arg(short, long, default_value = "bridge")]
    driver: String,
    /// Subnet in CIDR format that represents a network segment
    #[arg(long)]
    subnet: Option<String>,
    /// IPv4 Gateway for the master subnet
    #[arg(long)]
    gateway: Option<String>,
    /// Allocate container ip from a sub-range
    #[arg(long)]
    ip_range: Option<String>,
    /// Restrict external access to the network
    #[arg(long)]
    internal: bool,
    /// Set driver specific options
    #[arg(short = 'o', long = "opt")]
    opt: Vec<String>,
    /// Set metadata on a network
    #[arg(long)]
    label: Vec<String>,
    /// The network's name
    name: String,
}

/// `network ls`'s flags.
#[derive(Args)]
pub struct LsArgs {
    /// Only display network IDs
    #[arg(short, long)]
    quiet: bool,
    /// Do not truncate the output
    #[arg(long)]
    no_trunc: bool,
    /// Format output using a custom template
    #[arg(long)]
    format: Option<String>,
}

/// `network inspect`'s arguments.
#[derive(Args)]
pub struct InspectArgs {
    /// Format output using a custom template
    #[arg(short, long)]
    format: Option<String>,
    /// The networks
    #[arg(required = true)]
    networks: Vec<String>,
}

/// `network rm`'s arguments.
#[derive(Args)]
pub struct RmArgs {
    /// The networks
    #[arg(required = true)]
    networks: Vec<String>,
}

/// `network prune`'s flags.
#[derive(Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    force: bool,
}

fn created(n: &NetworkConfig) -> String {
    let d = n
        .created
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    berth_image::time::format_rfc3339(d.as_secs() as i64, d.subsec_nanos())
}

/// Docker's `network inspect` document (its main fields).
pub fn doc(eng: &Engine, n: &NetworkConfig) -> Value {
    let mut config = json!({"Subnet": n.subnet.to_string(), "Gateway": n.gateway.to_string()});
    if let Some(r) = n.ip_range {
        config["IPRange"] = json!(r.to_string());
    }
    let mut containers = serde_json::Map::new();
    let endpoints = eng
        .networks()
        .and_then(|m| Ok(m.endpoints(&n.name)?))
        .unwrap_or_default();
    for ep in endpoints {
        let name = eng.find(&ep.container).map(|c| c.name).unwrap_or_default();
        containers.insert(
            ep.container.clone(),
            json!({
                "Name": name,
                "EndpointID": ep.id,
                "MacAddress": ep.mac,
                "IPv4Address": format!("{}/{}", ep.ip, n.subnet.prefix_len()),
                "IPv6Address": "",
            }),
        );
    }
    json!({
        "Name": n.name,
        "Id": n.id,
        "Created": created(n),
        "Scope": "local",
        "Driver": "bridge",
        "EnableIPv6": false,
        "IPAM": {"Driver": "default", "Options": {}, "Config": [config]},
        "Internal": n.internal,
        "Attachable": false,
        "Ingress": false,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": false,
        "Containers": containers,
        "Options": {BRIDGE_NAME_OPTION: n.bridge},
        "Labels": n.labels,
    })
}

/// The networks Docker's daemon always has besides `bridge`, with their drivers: `host`
/// (the host's own stack) and `none` (only lo). berth keeps no state for them; their
/// IDs derive from the root, so they stay the same, and they were "created" with the
/// default network.
const PREDEFINED: [(&str, &str); 2] = [("host", "host"), ("none", "null")];

/// `(name, driver)` of the pre-defined network `key` names (by name, ID or ID prefix).
fn predefined(eng: &Engine, key: &str) -> Option<(&'static str, &'static str)> {
    PREDEFINED.into_iter().find(|(name, _)| {
        *name == key || (key.len() >= 3 && predefined_id(eng, name).starts_with(key))
    })
}

fn predefined_id(eng: &Engine, name: &str) -> String {
    let seed = format!("{}\0{name}", eng.root().display());
    berth_image::Digest::of(seed.as_bytes()).hex().to_string()
}

/// Docker's `network inspect` document of a pre-defined network: the containers in
/// that network mode are its "endpoints", without addresses.
fn predefined_doc(eng: &Engine, name: &str, driver: &str, created: &str) -> Value {
    let mut containers = serde_json::Map::new();
    for c in eng.list().unwrap_or_default() {
        if c.host.network_mode == name {
            containers.insert(
                c.id.clone(),
                json!({"Name": c.name, "EndpointID": "", "MacAddress": "",
                       "IPv4Address": "", "IPv6Address": ""}),
            );
        }
    }
    json!({
        "Name": name,
        "Id": predefined_id(eng, name),
        "Created": created,
        "Scope": "local",
        "Driver": driver,
        "EnableIPv6": false,
        "IPAM": {"Driver": "default", "Options": null, "Config": []},
        "Internal": false,
        "Attachable": false,
        "Ingress": false,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": false,
        "Containers": containers,
        "Options": {},
        "Labels": {},
    })
}

/// Runs a network command.
pub fn dispatch(eng: &Engine, cmd: NetworkCmd) -> CmdResult {
    let m = eng.networks()?;
    match cmd {
        NetworkCmd::Create(a) => {
            if a.driver != "bridge" {
                return Err(Fail::user(format!(
                    "plugin \"{}\" not found: berth supports the bridge driver only",
                    a.driver
                )));
            }
            if PREDEFINED.iter().any(|(name, _)| *name == a.name) {
                return Err(Fail::user(format!(
                    "network with name {} already exists",
                    a.name
                )));
            }
            let net = |s: &str| {
                s.parse::<ipnet::Ipv4Net>()
                    .map_err(|_| Fail::user(format!("invalid CIDR address: {s}")))
            };
            let mut opts = NetworkOptions {
                name: a.name.clone(),
                subnet: a.subnet.as_deref().map(net).transpose()?,
                ip_range: a.ip_range.as_deref().map(net).transpose()?,
                gateway: a
                    .gateway
                    .as_deref()
                    .map(|g| {
                        g.parse()
                            .map_err(|_| Fail::user(format!("invalid gateway address: {g}")))
                    })
                    .transpose()?,
                internal: a.internal,
                ..Default::default()
            };
            if opts.gateway.is_some() && opts.subnet.is_none() {
                return Err(Fail::user(
                    "no matching subnet for gateway ".to_string()
                        + a.gateway.as_deref().unwrap_or(""),
                ));
            }
            for o in &a.opt {
                match o.split_once('=') {
                    Some((BRIDGE_NAME_OPTION, v)) => opts.bridge = Some(v.to_string()),
                    _ => {
                        return Err(Fail::user(format!(
                            "unsupported network option {o:?}: berth knows {BRIDGE_NAME_OPTION}"
                        )));
                    }
                }
            }
            for l in &a.label {
                let (k, v) = l.split_once('=').unwrap_or((l.as_str(), ""));
                opts.labels.insert(k.to_string(), v.to_string());
            }
            let n = m.create_network(&opts).map_err(berth_engine::Error::from)?;
            println!("{}", n.id);
            Ok(())
        }
        NetworkCmd::Ls(a) => {
            // The default network is there from the start, as under Docker's daemon.
            eng.resolve_network(DEFAULT_NETWORK)?;
            let nets = m.networks().map_err(berth_engine::Error::from)?;
            let since = nets
                .iter()
                .find(|n| n.name == DEFAULT_NETWORK)
                .map(created)
                .unwrap_or_default();
            // (ID, name, driver, internal, created) of every network, host and none too.
            let mut rows: Vec<(String, String, &str, bool, String)> = nets
                .iter()
                .map(|n| {
                    (
                        n.id.clone(),
                        n.name.clone(),
                        "bridge",
                        n.internal,
                        created(n),
                    )
                })
                .chain(PREDEFINED.iter().map(|(name, driver)| {
                    (
                        predefined_id(eng, name),
                        name.to_string(),
                        *driver,
                        false,
                        since.clone(),
                    )
                }))
                .collect();
            rows.sort_by(|x, y| x.1.cmp(&y.1));
            let id = |full: &str| {
                if a.no_trunc {
                    full.to_string()
                } else {
                    full[..12].to_string()
                }
            };
            if a.quiet {
                for r in &rows {
                    println!("{}", id(&r.0));
                }
                return Ok(());
            }
            let rows: Vec<Value> = rows
                .iter()
                .map(|(full, name, driver, internal, since)| {
                    json!({
                        "ID": id(full),
                        "Name": name,
                        "Driver": driver,
                        "Scope": "local",
                        "IPv6": "false",
                        "Internal": internal.to_string(),
                        "CreatedAt": since,
                    })
                })
                .collect();
            print_rows(
                a.format.as_deref(),
                "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}",
                &[
                    ("ID", "NETWORK ID"),
                    ("Name", "NAME"),
                    ("Driver", "DRIVER"),
                    ("Scope", "SCOPE"),
                ],
                &rows,
            )
        }
        NetworkCmd::Inspect(a) => {
            let tmpl = inspect_template(a.format.as_deref())?;
            let mut docs = Vec::new();
            let mut failed = false;
            for n in &a.networks {
                if let Some((name, driver)) = predefined(eng, n) {
                    let default = eng.resolve_network(DEFAULT_NETWORK)?;
                    let since = m.network(&default).map(|d| created(&d)).unwrap_or_default();
                    docs.push(predefined_doc(eng, name, driver, &since));
                    continue;
                }
                let found = match eng.resolve_network(n) {
                    Ok(name) => m.network(&name),
                    Err(berth_engine::Error::Network(e)) => Err(e),
                    Err(e) => return Err(e.into()),
                };
                match found {
                    Ok(net) => docs.push(doc(eng, &net)),
                    Err(e) => {
                        eprintln!("{}", Fail::from(berth_engine::Error::from(e)).message);
                        failed = true;
                    }
                }
            }
            print_docs(tmpl.as_ref(), &docs)?;
            crate::fail_if(failed)
        }
        NetworkCmd::Rm(a) => {
            let mut failed = false;
            for n in &a.networks {
                let removed = match m.network(n) {
                    _ if let Some((name, _)) = predefined(eng, n) => Err(Fail::user(format!(
                        "{name} is a pre-defined network and cannot be removed"
                    ))),
                    Ok(net) if net.name == DEFAULT_NETWORK => Err(Fail::user(format!(
                        "{DEFAULT_NETWORK} is a pre-defined network and cannot be removed"
                    ))),
                    Ok(net) => eng.remove_network(&net.name).map_err(Fail::from),
                    Err(e) => Err(Fail::from(berth_engine::Error::from(e))),
                };
                match removed {
                    Ok(()) => println!("{n}"),
                    Err(f) => {
                        eprintln!("{}", f.message);
                        failed = true;
                    }
                }
            }
            crate::fail_if(failed)
        }
        NetworkCmd::Connect(a) => {
            let opts = berth_engine::network::ConnectOptions {
                ip: a.ip,
                aliases: a.alias,
            };
            Ok(eng.connect(&a.container, &a.network, &opts)?)
        }
        NetworkCmd::Disconnect(a) => Ok(eng.disconnect(&a.container, &a.network, a.force)?),
        NetworkCmd::Prune(a) => {
            if !a.force
                && !crate::confirmed(
                    "WARNING! This will remove all custom networks not used by at least one container.",
                )
            {
                return Ok(());
            }
            // "Used" as Docker counts it: any container, running or not, on the network.
            let used: std::collections::BTreeSet<String> = eng
                .list()?
                .into_iter()
                .flat_map(|c| c.host.attachments().into_iter().map(|a| a.name))
                .collect();
            let mut removed = Vec::new();
            for n in m.networks().map_err(berth_engine::Error::from)? {
                if n.name == DEFAULT_NETWORK || used.contains(&n.name) {
                    continue;
                }
                if eng.remove_network(&n.name).is_ok() {
                    removed.push(n.name);
                }
            }
            if !removed.is_empty() {
                println!("Deleted Networks:");
                for n in &removed {
                    println!("{n}");
                }
            }
            Ok(())
        }
    }
}
