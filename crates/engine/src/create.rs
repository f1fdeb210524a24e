//! `create`: a container from an image and options — its record (with a unique
//! name), its writable snapshot over the image's layers. Nothing runs yet.

use std::collections::BTreeMap;
use std::io::Read;

use berth_image::snapshot::Snapshotter;

use crate::error::{Error, Result, io};
use crate::options::{CreateOptions, VolumeSpec, merge_env, parse_volume};
use crate::record::{Config, Container, HostConfig, MountPoint, State, now};
use crate::{Engine, names};

/// The label the engine puts on a container's snapshot.
pub const SNAPSHOT_LABEL: &str = "berth.container";

impl Engine {
    /// The image named `name`, with Docker's "No such image" for a missing one.
    pub fn resolve_image(&self, name: &str) -> Result<berth_image::store::Image> {
        // One read of the image index (resolve, then image, would read it twice).
        self.store().resolve_image(name).map_err(|e| match e {
            berth_image::Error::NoSuchImage(_) => {
                let shown = berth_image::Reference::parse_with_default_tag(name)
                    .map(|r| r.familiar())
                    .unwrap_or_else(|_| name.to_string());
                Error::NoSuchImage(shown)
            }
            e => e.into(),
        })
    }

    /// Creates a container; returns its record.
    pub fn create(&self, o: &CreateOptions) -> Result<Container> {
        let image = self.resolve_image(&o.image)?;
        let icfg = image.config.config.clone().unwrap_or_default();
        if let Some(n) = &o.name {
            names::validate(n)?;
        }
        let network = match o.network.as_str() {
            "" => "none".to_string(),
            m if m.starts_with("container:") => {
                let other = &m["container:".len()..];
                if !o.publish.is_empty() || o.publish_all {
                    return Err(Error::InvalidArgument(
                        "conflicting options: port publishing and the container type network mode"
                            .into(),
                    ));
                }
                format!("container:{}", self.find(other)?.id)
            }
            m if crate::network::is_bridge(m) => self.resolve_network(m)?,
            m => m.to_string(),
        };
        let network = network.as_str();
        let mut port_bindings = Vec::new();
        for p in &o.publish {
            port_bindings.extend(berth_network::parse_publish(p)?);
        }
        let dns = o
            .dns
            .iter()
            .map(|d| {
                d.parse::<std::net::IpAddr>().map_err(|_| {
                    Error::InvalidArgument(format!(
                        "invalid argument \"{d}\" for \"--dns\" flag: {d} is not an ip address"
                    ))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        if o.publish_all {
            // -P: every port the image exposes or --expose adds, on a free host port.
            let mut exposed: Vec<String> = icfg
                .exposed_ports
                .as_ref()
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
            exposed.extend(o.expose.iter().map(|e| {
                if e.contains('/') {
                    e.clone()
                } else {
                    format!("{e}/tcp")
                }
            }));
            for spec in exposed {
                for m in berth_network::parse_publish(&spec)? {
                    let published = port_bindings.iter().any(|p: &berth_network::PortMapping| {
                        p.container_port == m.container_port && p.protocol == m.protocol
                    });
                    if !published {
                        port_bindings.push(m);
                    }
                }
            }
        }
        // Docker drops published ports outside a bridge network (with a warning for host).
        if !crate::network::is_bridge(network) {
            port_bindings.clear();
        }
        let user_network =
            crate::network::is_bridge(network) && network != berth_network::DEFAULT_NETWORK;
        let ip =
            self.check_attachment(network, user_network, &o.network_aliases, o.ip.as_deref())?;

        let mac = match &o.mac_address {
            None => None,
            Some(_) if network.starts_with("container:") => {
                return Err(Error::InvalidArgument(
                    "conflicting options: mac-address and the network mode".into(),
                ));
            }
            Some(m) => {
                berth_network::parse_mac(m)?;
                Some(m.clone())
            }
        };
        let networks = crate::network::is_bridge(network).then(|| {
            vec![crate::record::NetworkAttachment {
                name: network.to_string(),
                aliases: o.network_aliases.clone(),
                ip,
                mac,
            }]
        });

        let (entrypoint, cmd) = match &o.entrypoint {
            // An entrypoint on the command line drops the image's Cmd too.
            Some(e) if e.is_empty() => (Vec::new(), o.cmd.clone()),
            Some(e) => (vec![e.clone()], o.cmd.clone()),
            None => (
                icfg.entrypoint.clone().unwrap_or_default(),
                if o.cmd.is_empty() {
                    icfg.cmd.clone().unwrap_or_default()
                } else {
                    o.cmd.clone()
                },
            ),
        };
        let mut argv = entrypoint.clone();
        argv.extend(cmd.iter().cloned());
        if argv.is_empty() {
            return Err(Error::InvalidArgument("No command specified".into()));
        }
        let mut env = icfg.env.clone().unwrap_or_default();
        merge_env(&mut env, &o.env);
        let mut labels: BTreeMap<String, String> = icfg.labels.clone().unwrap_or_default();
        for l in &o.labels {
            let (k, v) = l.split_once('=').unwrap_or((l.as_str(), ""));
            labels.insert(k.to_string(), v.to_string());
        }

        if o.auto_remove && !matches!(o.restart.name.as_str(), "" | "no") {
            return Err(Error::InvalidArgument(
                "Conflicting options: --restart and --rm".into(),
            ));
        }
        for t in &o.tmpfs {
            crate::options::parse_tmpfs(t)?;
        }
        for h in &o.extra_hosts {
            crate::options::parse_extra_host(h)?;
        }
        crate::capabilities::effective(&o.cap_add, &o.cap_drop)?;
        if o.memory_swap > 0 && o.memory > 0 && o.memory_swap < o.memory {
            return Err(Error::InvalidArgument(
                "Minimum memoryswap limit should be larger than memory limit, see usage".into(),
            ));
        }
        if o.memory_swap > 0 && o.memory == 0 {
            return Err(Error::InvalidArgument(
                "You should always set the Memory limit when using Memoryswap limit, see usage"
                    .into(),
            ));
        }
        let shared_mode = |mode: &str, what: &str| -> Result<String> {
            match mode {
                "" | "private" => Ok(String::new()),
                "host" => Ok("host".into()),
                m => match m.strip_prefix("container:") {
                    Some(other) => Ok(format!("container:{}", self.find(other)?.id)),
                    None => Err(Error::InvalidArgument(format!("invalid {what} mode: {m}"))),
                },
            }
        };
        let pid_mode = shared_mode(&o.pid_mode, "PID")?;
        let ipc_mode = match o.ipc_mode.as_str() {
            "shareable" | "none" => String::new(),
            m => shared_mode(m, "IPC")?,
        };
        if !matches!(o.uts_mode.as_str(), "" | "host") {
            return Err(Error::InvalidArgument(format!(
                "invalid UTS mode: {}",
                o.uts_mode
            )));
        }
        if !matches!(o.cgroupns_mode.as_str(), "" | "host" | "private") {
            return Err(Error::InvalidArgument(format!(
                "invalid cgroup namespace mode: {} (use host or private)",
                o.cgroupns_mode
            )));
        }
        let mut sysctls = BTreeMap::new();
        for kv in &o.sysctls {
            let (k, v) = crate::options::check_sysctl(kv, ipc_mode == "host", network == "host")?;
            sysctls.insert(k, v);
        }
        for d in &o.devices {
            let (host, _, _) = crate::options::parse_device(d)?;
            crate::devices::host_device(std::path::Path::new(&host))?;
        }
        let mut specs = Vec::new();
        for v in &o.volumes {
            specs.push(parse_volume(v)?);
        }
        let mut tmpfs = o.tmpfs.clone();
        for m in &o.mounts {
            match crate::options::parse_mount(m)? {
                crate::options::MountSpec::Volume(v) => specs.push(v),
                crate::options::MountSpec::Tmpfs(t) => tmpfs.push(t),
            }
        }
        let mut mounts = Vec::new();
        for v in specs {
            mounts.push(match v {
                VolumeSpec::Bind {
                    source,
                    target,
                    ro,
                    mode,
                } => {
                    // Docker creates a missing host directory of a -v bind (an
                    // existing file is bound as it is).
                    if !std::path::Path::new(&source).exists() {
                        std::fs::create_dir_all(&source)
                            .map_err(io(format!("create bind source {source}")))?;
                    }
                    MountPoint {
                        kind: "bind".into(),
                        name: String::new(),
                        source: source.into(),
                        destination: target,
                        rw: !ro,
                        mode,
                        anonymous: false,
                    }
                }
                VolumeSpec::Named {
                    name,
                    target,
                    ro,
                    mode,
                } => {
                    // `--mount type=volume` without a source: an anonymous volume.
                    let anonymous = name.is_empty();
                    let name = if anonymous { names::new_id()? } else { name };
                    let vol = if anonymous {
                        self.volume_ensure_anonymous(&name)?
                    } else {
                        self.volume_ensure(&name)?
                    };
                    MountPoint {
                        kind: "volume".into(),
                        name,
                        source: vol,
                        destination: target,
                        rw: !ro,
                        mode,
                        anonymous,
                    }
                }
            });
        }
        // The image's VOLUMEs not mounted otherwise get anonymous volumes.
        for path in icfg.volumes.iter().flat_map(|v| v.keys()) {
            let clean = path.trim_end_matches('/');
            if mounts
                .iter()
                .any(|m: &MountPoint| m.destination.trim_end_matches('/') == clean)
            {
                continue;
            }
            let name = names::new_id()?;
            let vol = self.volume_ensure_anonymous(&name)?;
            mounts.push(MountPoint {
                kind: "volume".into(),
                name,
                source: vol,
                destination: clean.to_string(),
                rw: true,
                mode: String::new(),
                anonymous: true,
            });
        }

        if o.init == Some(true) {
            crate::init::ensure(self.root())?;
        }

        let id = names::new_id()?;
        let dir = self.dir(&id);
        self.sweep_trash();
        let names_lock = self.containers().lock_names()?;
        let taken: Vec<(String, String)> = self
            .containers()
            .all()?
            .into_iter()
            .map(|c| (c.name, c.id))
            .collect();
        let name = match &o.name {
            Some(n) => {
                if let Some((_, other)) = taken.iter().find(|(t, _)| t == n) {
                    return Err(names::in_use(n, other));
                }
                n.clone()
            }
            None => {
                let mut seed = [0u8; 4];
                std::fs::File::open("/dev/urandom")
                    .and_then(|mut f| f.read_exact(&mut seed))
                    .map_err(io("read /dev/urandom for a name"))?;
                let mut attempt = 0;
                loop {
                    let n = names::generate(&seed, attempt);
                    if !taken.iter().any(|(t, _)| *t == n) {
                        break n;
                    }
                    attempt += 1;
                }
            }
        };
        let c = Container {
            id: id.clone(),
            name,
            created: now(),
            image: o.image.clone(),
            image_id: image.id().to_string(),
            path: argv[0].clone(),
            args: argv[1..].to_vec(),
            config: Config {
                hostname: o.hostname.clone().unwrap_or_else(|| id[..12].to_string()),
                user: o.user.clone().or(icfg.user.clone()).unwrap_or_default(),
                env,
                cmd,
                entrypoint,
                working_dir: o
                    .workdir
                    .clone()
                    .or(icfg.working_dir.clone())
                    .unwrap_or_default(),
                labels,
                stop_signal: o
                    .stop_signal
                    .clone()
                    .or(icfg.stop_signal.clone())
                    .unwrap_or_default(),
                stop_timeout: o.stop_timeout,
                open_stdin: o.interactive,
                tty: o.tty,
                healthcheck: healthcheck(icfg.healthcheck.as_ref(), o.health.as_ref()),
            },
            host: HostConfig {
                binds: o.volumes.clone(),
                network_mode: network.to_string(),
                port_bindings,
                ip,
                network_aliases: o.network_aliases.clone(),
                networks,
                dns,
                dns_search: o.dns_search.clone(),
                dns_options: o.dns_options.clone(),
                auto_remove: o.auto_remove,
                memory: o.memory,
                nano_cpus: o.nano_cpus,
                pids_limit: o.pids_limit,
                readonly_rootfs: o.read_only,
                tmpfs,
                shm_size: o.shm_size,
                cap_add: o.cap_add.clone(),
                cap_drop: o.cap_drop.clone(),
                no_new_privileges: o.no_new_privileges,
                seccomp: o.seccomp.clone(),
                ulimits: o.ulimits.clone(),
                extra_hosts: o.extra_hosts.clone(),
                restart_policy: o.restart.clone(),
                log_max_size: o.log_max_size,
                log_max_file: o.log_max_file,
                memory_swap: o.memory_swap,
                cpu_shares: o.cpu_shares,
                cpuset_cpus: o.cpuset_cpus.clone(),
                sysctls,
                pid_mode,
                ipc_mode,
                uts_mode: o.uts_mode.clone(),
                cgroupns_mode: o.cgroupns_mode.clone(),
                cgroup_parent: o
                    .cgroup_parent
                    .clone()
                    .filter(|p| !p.trim_matches('/').is_empty())
                    .unwrap_or_else(|| crate::record::DEFAULT_CGROUP_PARENT.to_string()),
                devices: o.devices.clone(),
                privileged: o.privileged,
                init: o.init,
            },
            mounts,
            state: State::created(),
        };
        std::fs::create_dir(&dir).map_err(io(format!("create {}", dir.display())))?;
        let undo = |e: Error| {
            let _ = std::fs::remove_dir_all(&dir);
            e
        };
        let lock = self.containers().lock(&id).map_err(undo)?;
        let snap = self.snapshots().prepare(
            &id,
            image.record.top_layer.as_ref(),
            BTreeMap::from([(SNAPSHOT_LABEL.to_string(), id.clone())]),
        );
        if let Err(e) = snap {
            return Err(undo(e.into()));
        }
        if let Err(e) = self.containers().save(&c, !c.host.auto_remove, &lock) {
            let _ = self.snapshots().remove(&id);
            return Err(undo(e));
        }
        drop(names_lock);
        Ok(c)
    }
}

/// The image's health check with the options' fields laid over it.
fn healthcheck(
    image: Option<&serde_json::Value>,
    given: Option<&crate::health::Healthcheck>,
) -> Option<crate::health::Healthcheck> {
    let mut h: Option<crate::health::Healthcheck> =
        image.and_then(|v| serde_json::from_value(v.clone()).ok());
    if let Some(g) = given {
        let base = h.get_or_insert_with(Default::default);
        if !g.test.is_empty() {
            base.test = g.test.clone();
        }
        if g.interval > 0 {
            base.interval = g.interval;
        }
        if g.timeout > 0 {
            base.timeout = g.timeout;
        }
        if g.retries > 0 {
            base.retries = g.retries;
        }
        if g.start_period > 0 {
            base.start_period = g.start_period;
        }
    }
    h.filter(|h| h.argv().is_some())
}
