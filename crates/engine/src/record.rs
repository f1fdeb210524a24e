//! What berth keeps about a container: `<root>/containers/<id>/container.json`,
//! replaced atomically (temp file, rename) under the container's lock file, so
//! concurrent commands and the monitor never see a torn or lost update. The record a
//! create writes is synced to disk (a container must survive a crash) unless it is
//! removed on exit anyway (`--rm`); later changes of its run-time state are not, as
//! that state is reconciled against what really runs after a crash.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, io};

/// The lifecycle status of a container, as Docker names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Created, never started (or its start failed).
    Created,
    /// Its process runs.
    Running,
    /// Its process ended.
    Exited,
    /// Being removed.
    Removing,
    /// Its monitor vanished without recording an end (found on reconciliation).
    Dead,
    /// Ended, and about to be started again by its restart policy.
    Restarting,
}

impl Status {
    /// Docker's lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Exited => "exited",
            Status::Removing => "removing",
            Status::Dead => "dead",
            Status::Restarting => "restarting",
        }
    }
}

/// The container's run-time state (Docker's `State`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct State {
    /// Status.
    pub status: Status,
    /// Host pid of the container's init while it runs, else 0.
    pub pid: i32,
    /// Exit code of the last run.
    pub exit_code: i32,
    /// Why the last start failed, if it did.
    #[serde(default)]
    pub error: String,
    /// When the last run started, RFC 3339 (Go's zero time before any).
    pub started_at: String,
    /// When the last run ended, RFC 3339 (Go's zero time before any).
    pub finished_at: String,
    /// The monitor's pid while it runs, else 0.
    #[serde(default)]
    pub monitor_pid: i32,
    /// The monitor's start time in clock ticks, so a recycled pid is never taken for
    /// it.
    #[serde(default)]
    pub monitor_start: u64,
    /// Whether the kernel's OOM killer ended the last run.
    #[serde(default)]
    pub oom_killed: bool,
    /// How many times the restart policy started it again.
    #[serde(default)]
    pub restart_count: u32,
    /// Stopped or killed by a user: the restart policy does not apply.
    #[serde(default)]
    pub manual_stop: bool,
    /// Frozen by `pause`.
    #[serde(default)]
    pub paused: bool,
    /// Health check results, for a container with a check.
    #[serde(default)]
    pub health: Option<crate::health::Health>,
    /// Its place on its first bridge network while it runs: address, MAC, published
    /// ports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<berth_network::Endpoint>,
    /// Its endpoints on every network while it runs (the first one's included), by
    /// network name: Docker's NetworkSettings.Networks.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub endpoints: BTreeMap<String, berth_network::Endpoint>,
}

impl State {
    /// The state of a container just created, never started.
    pub fn created() -> State {
        State {
            status: Status::Created,
            pid: 0,
            exit_code: 0,
            error: String::new(),
            started_at: ZERO_TIME.into(),
            finished_at: ZERO_TIME.into(),
            monitor_pid: 0,
            monitor_start: 0,
            oom_killed: false,
            restart_count: 0,
            manual_stop: false,
            paused: false,
            health: None,
            endpoint: None,
            endpoints: BTreeMap::new(),
        }
    }

    /// Forgets the endpoints of a run that ended.
    pub fn clear_endpoints(&mut self) {
        self.endpoint = None;
        self.endpoints.clear();
    }
}

/// A network a container is on, with what was asked for it there (Docker's
/// EndpointSettings as configured): the first is the one `--network` named, the
/// others came from `network connect`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkAttachment {
    /// The network's name.
    pub name: String,
    /// `--network-alias` / `network connect --alias`: more names its DNS answers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// `--ip`: a fixed address on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<std::net::Ipv4Addr>,
    /// `--mac-address` (first network only), as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
}

/// Go's zero time as Docker prints it for a container never started or stopped.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// A mount the container gets from the host (Docker's `Mounts` entry).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MountPoint {
    /// "bind" or "volume".
    pub kind: String,
    /// Volume name (empty for a bind).
    #[serde(default)]
    pub name: String,
    /// Host path.
    pub source: PathBuf,
    /// Path in the container.
    pub destination: String,
    /// Writable.
    pub rw: bool,
    /// The mode as given (`ro`, `rw`, or empty).
    #[serde(default)]
    pub mode: String,
    /// An anonymous volume (from the image's VOLUME), removed with the container by
    /// `rm -v` and `--rm`.
    #[serde(default)]
    pub anonymous: bool,
}

/// Everything berth knows about one container.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Container {
    /// 64 hex digits.
    pub id: String,
    /// Unique name, without Docker's leading slash.
    pub name: String,
    /// Creation time, RFC 3339.
    pub created: String,
    /// The image as the user named it.
    pub image: String,
    /// The image ID (`sha256:...`).
    pub image_id: String,
    /// The executable (first word of entrypoint + cmd).
    pub path: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// The effective configuration (image defaults merged with options).
    pub config: Config,
    /// Host-side settings.
    pub host: HostConfig,
    /// Mounts from the host.
    #[serde(default)]
    pub mounts: Vec<MountPoint>,
    /// Run-time state.
    pub state: State,
}

/// Docker's `Config` of a container: what runs and how.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Config {
    /// Hostname.
    pub hostname: String,
    /// User (`uid[:gid]` or a name).
    pub user: String,
    /// Environment.
    pub env: Vec<String>,
    /// Command.
    pub cmd: Vec<String>,
    /// Entrypoint.
    pub entrypoint: Vec<String>,
    /// Working directory.
    pub working_dir: String,
    /// Labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Signal `stop` sends first.
    #[serde(default)]
    pub stop_signal: String,
    /// Seconds `stop` waits before SIGKILL, when set with `--stop-timeout`.
    #[serde(default)]
    pub stop_timeout: Option<u32>,
    /// Keep stdin open.
    #[serde(default)]
    pub open_stdin: bool,
    /// Allocate a terminal.
    #[serde(default)]
    pub tty: bool,
    /// Health check (the image's unless the options change it).
    #[serde(default)]
    pub healthcheck: Option<crate::health::Healthcheck>,
}

impl HostConfig {
    /// The `--dns*` options as the network layer takes them.
    pub fn dns_options(&self) -> berth_network::DnsOptions {
        berth_network::DnsOptions {
            servers: self.dns.clone(),
            search: self.dns_search.clone(),
            options: self.dns_options.clone(),
        }
    }
}

/// The cgroup containers are made under unless `--cgroup-parent` says otherwise (as
/// Docker's /docker).
pub const DEFAULT_CGROUP_PARENT: &str = "/berth";

fn default_cgroup_parent() -> String {
    DEFAULT_CGROUP_PARENT.to_string()
}

impl HostConfig {
    /// The bridge networks the container is on, first the one `--network` named (unless
    /// disconnected from it). Records written before containers had several networks
    /// have `networks` unset: their one network is `network_mode` with `--ip` and
    /// `--network-alias`.
    pub fn attachments(&self) -> Vec<NetworkAttachment> {
        match &self.networks {
            Some(list) => list.clone(),
            None if crate::network::is_bridge(&self.network_mode) => vec![NetworkAttachment {
                name: self.network_mode.clone(),
                aliases: self.network_aliases.clone(),
                ip: self.ip,
                mac: None,
            }],
            None => Vec::new(),
        }
    }

    /// Whether the container gets the embedded DNS server (127.0.0.11): it is on a
    /// user-defined network when it starts, as in Docker.
    pub fn embedded_dns(&self) -> bool {
        self.attachments()
            .iter()
            .any(|a| a.name != berth_network::DEFAULT_NETWORK)
    }

    /// The container's cgroupsPath: `<cgroup parent>/<id>`.
    pub fn cgroups_path(&self, id: &str) -> String {
        format!("/{}/{id}", self.cgroup_parent.trim_matches('/'))
    }
}

/// Docker's `HostConfig` subset berth honours.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct HostConfig {
    /// `-v` binds as given.
    #[serde(default)]
    pub binds: Vec<String>,
    /// "none", "host", or a bridge network's name ("bridge" for the default one).
    pub network_mode: String,
    /// `-p`: the ports to publish, as requested (host port 0: any free port).
    #[serde(default)]
    pub port_bindings: Vec<berth_network::PortMapping>,
    /// `--ip`: the container's fixed address on its (user-defined) network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<std::net::Ipv4Addr>,
    /// `--network-alias`: more names its network's DNS answers for it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network_aliases: Vec<String>,
    /// Every bridge network it is on, in the order it joins them (see
    /// [`HostConfig::attachments`]; unset in records older than `network connect`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub networks: Option<Vec<NetworkAttachment>>,
    /// `--dns`: name servers instead of the host's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<std::net::IpAddr>,
    /// `--dns-search`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_search: Vec<String>,
    /// `--dns-option`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_options: Vec<String>,
    /// `--rm`.
    pub auto_remove: bool,
    /// Memory limit in bytes (0: none).
    pub memory: i64,
    /// CPUs in billionths (0: no limit).
    pub nano_cpus: i64,
    /// Pids limit (0: none).
    pub pids_limit: i64,
    /// `--read-only`: the root filesystem is mounted read-only.
    #[serde(default)]
    pub readonly_rootfs: bool,
    /// `--tmpfs PATH[:OPTIONS]`.
    #[serde(default)]
    pub tmpfs: Vec<String>,
    /// `--shm-size` in bytes (0: Docker's 64 MiB).
    #[serde(default)]
    pub shm_size: i64,
    /// `--cap-add`, as `CAP_` names or `ALL`.
    #[serde(default)]
    pub cap_add: Vec<String>,
    /// `--cap-drop`, as `CAP_` names or `ALL`.
    #[serde(default)]
    pub cap_drop: Vec<String>,
    /// `--security-opt no-new-privileges`.
    #[serde(default)]
    pub no_new_privileges: bool,
    /// `--security-opt seccomp=...`: "unconfined", or a profile's JSON (Docker's
    /// or OCI's form); empty for Docker's default profile.
    #[serde(default)]
    pub seccomp: String,
    /// `--ulimit NAME=SOFT[:HARD]`.
    #[serde(default)]
    pub ulimits: Vec<Ulimit>,
    /// `--add-host NAME:IP`.
    #[serde(default)]
    pub extra_hosts: Vec<String>,
    /// `--restart`.
    #[serde(default)]
    pub restart_policy: RestartPolicy,
    /// `--log-opt max-size` in bytes (0: no rotation).
    #[serde(default)]
    pub log_max_size: u64,
    /// `--log-opt max-file`: how many files rotation keeps.
    #[serde(default)]
    pub log_max_file: u32,
    /// `--memory-swap` in bytes: memory plus swap (0: twice the memory limit, -1:
    /// unlimited), as Docker reads it.
    #[serde(default)]
    pub memory_swap: i64,
    /// `--cpu-shares` (0: the default weight).
    #[serde(default)]
    pub cpu_shares: u64,
    /// `--cpuset-cpus`.
    #[serde(default)]
    pub cpuset_cpus: String,
    /// `--sysctl K=V`.
    #[serde(default)]
    pub sysctls: BTreeMap<String, String>,
    /// `--pid`: "" (private), "host" or `container:<id>`.
    #[serde(default)]
    pub pid_mode: String,
    /// `--ipc`: "" (private), "host" or `container:<id>`.
    #[serde(default)]
    pub ipc_mode: String,
    /// `--uts`: "" (private) or "host".
    #[serde(default)]
    pub uts_mode: String,
    /// `--cgroupns`: "" (Docker's default for the host), "host" or "private".
    #[serde(default)]
    pub cgroupns_mode: String,
    /// `--cgroup-parent`: the container's cgroup is `<parent>/<id>`.
    #[serde(default = "default_cgroup_parent")]
    pub cgroup_parent: String,
    /// `--device` specs, checked at create.
    #[serde(default)]
    pub devices: Vec<String>,
    /// `--privileged`.
    #[serde(default)]
    pub privileged: bool,
    /// `--init` (None: not given, as Docker's null).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<bool>,
}

/// Docker's restart policy.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestartPolicy {
    /// "no", "always", "unless-stopped" or "on-failure" (empty means "no").
    pub name: String,
    /// For on-failure: how many restarts at most (0: unlimited).
    pub maximum_retry_count: u32,
}

impl RestartPolicy {
    /// Parses `--restart` with Docker's messages.
    pub fn parse(s: &str) -> Result<RestartPolicy> {
        let (name, count) = s.split_once(':').unwrap_or((s, ""));
        let bad = || Error::InvalidArgument(format!("invalid restart policy: {s}"));
        match (name, count) {
            ("no" | "always" | "unless-stopped", "") => Ok(RestartPolicy {
                name: name.into(),
                maximum_retry_count: 0,
            }),
            ("no" | "always" | "unless-stopped", _) => Err(Error::InvalidArgument(
                "invalid restart policy: maximum retry count can only be used with 'on-failure'"
                    .into(),
            )),
            ("on-failure", "") => Ok(RestartPolicy {
                name: name.into(),
                maximum_retry_count: 0,
            }),
            ("on-failure", n) => {
                let n: i64 = n.parse().map_err(|_| {
                    Error::InvalidArgument(format!(
                        "invalid restart policy: maximum retry count must be an integer: {n}"
                    ))
                })?;
                if n < 0 {
                    return Err(Error::InvalidArgument(
                        "invalid restart policy: maximum retry count cannot be negative".into(),
                    ));
                }
                Ok(RestartPolicy {
                    name: name.into(),
                    maximum_retry_count: n as u32,
                })
            }
            _ => Err(bad()),
        }
    }

    /// Whether a run that ended with `code` is started again, after `restarts`
    /// restarts so far, unless a user stopped it.
    pub fn restarts(&self, code: i32, restarts: u32, manual_stop: bool) -> bool {
        if manual_stop {
            return false;
        }
        match self.name.as_str() {
            "always" | "unless-stopped" => true,
            "on-failure" => {
                code != 0 && (self.maximum_retry_count == 0 || restarts < self.maximum_retry_count)
            }
            _ => false,
        }
    }
}

/// One `--ulimit`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ulimit {
    /// Docker's name: `nofile`, `nproc`, `core`...
    pub name: String,
    /// Soft limit.
    pub soft: u64,
    /// Hard limit.
    pub hard: u64,
}

/// Where containers live: `<root>/containers`.
#[derive(Clone, Debug)]
pub struct Containers {
    dir: PathBuf,
}

/// A held lock file; released on drop.
pub struct Lock {
    _file: File,
}

/// Opens (creating) and locks the lock file at `path`.
pub(crate) fn lock_file(path: &Path) -> Result<Lock> {
    let f = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(io(format!("open lock {}", path.display())))?;
    f.lock().map_err(io(format!("lock {}", path.display())))?;
    Ok(Lock { _file: f })
}

impl Containers {
    /// Opens (creating) `<root>/containers`.
    pub fn open(root: &Path) -> Result<Containers> {
        let dir = root.join("containers");
        std::fs::create_dir_all(&dir).map_err(io(format!("create {}", dir.display())))?;
        Ok(Containers { dir })
    }

    /// The directory of container `id`.
    pub fn dir(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    /// Takes the lock that serialises name allocation and removal across commands.
    pub fn lock_names(&self) -> Result<Lock> {
        lock_file(&self.dir.join(".names.lock"))
    }

    /// Takes container `id`'s lock (every change to its record holds it).
    pub fn lock(&self, id: &str) -> Result<Lock> {
        lock_file(&self.dir(id).join("lock"))
    }

    /// Takes the lock that lets one `start` of container `id` run at a time.
    pub fn lock_start(&self, id: &str) -> Result<Lock> {
        lock_file(&self.dir(id).join("start.lock"))
    }

    /// Loads container `id`'s record.
    pub fn load(&self, id: &str) -> Result<Container> {
        let p = self.dir(id).join("container.json");
        match std::fs::read(&p) {
            Ok(d) => serde_json::from_slice(&d).map_err(|e| Error::Io {
                what: format!("corrupt container record {}", p.display()),
                source: std::io::Error::other(e),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(Error::NoSuchContainer(id.to_string()))
            }
            Err(e) => Err(io(format!("read {}", p.display()))(e)),
        }
    }

    /// Saves a record atomically, and durably with `durable`. The caller holds the
    /// container's lock.
    pub fn save(&self, c: &Container, durable: bool, _lock: &Lock) -> Result<()> {
        let path = self.dir(&c.id).join("container.json");
        let data = serde_json::to_vec_pretty(c).expect("container record serialises");
        if durable {
            write_atomic(&path, &data)
        } else {
            write_replace(&path, &data)
        }
    }

    /// Loads, changes with `f` and saves container `id`'s record under its lock.
    pub fn update<T>(
        &self,
        id: &str,
        f: impl FnOnce(&mut Container) -> T,
    ) -> Result<(Container, T)> {
        let lock = self.lock(id)?;
        let mut c = self.load(id)?;
        let r = f(&mut c);
        self.save(&c, false, &lock)?;
        Ok((c, r))
    }

    /// Every container record, newest first. Containers removed while listing are
    /// skipped.
    pub fn all(&self) -> Result<Vec<Container>> {
        let mut v = Vec::new();
        let rd =
            std::fs::read_dir(&self.dir).map_err(io(format!("list {}", self.dir.display())))?;
        for e in rd.flatten() {
            let name = e.file_name();
            let Some(id) = name.to_str() else { continue };
            if id.starts_with('.') {
                continue;
            }
            match self.load(id) {
                Ok(c) => v.push(c),
                Err(Error::NoSuchContainer(_)) => {}
                Err(e) => return Err(e),
            }
        }
        v.sort_by(|a, b| b.created.cmp(&a.created));
        Ok(v)
    }

    /// Finds a container by full ID, name (with or without a leading `/`), or
    /// unique ID prefix, in Docker's order of precedence.
    pub fn find(&self, key: &str) -> Result<Container> {
        if key.is_empty() {
            return Err(Error::NoSuchContainer(key.to_string()));
        }
        if key.len() == 64
            && key.bytes().all(|b| b.is_ascii_hexdigit())
            && let Ok(c) = self.load(key)
        {
            return Ok(c);
        }
        let all = self.all()?;
        let name = key.strip_prefix('/').unwrap_or(key);
        if let Some(c) = all.iter().find(|c| c.name == name) {
            return Ok(c.clone());
        }
        let hits: Vec<&Container> = all.iter().filter(|c| c.id.starts_with(key)).collect();
        match hits.len() {
            1 => Ok(hits[0].clone()),
            0 => Err(Error::NoSuchContainer(key.to_string())),
            _ => Err(Error::Conflict(format!(
                "multiple IDs found with provided prefix: {key}"
            ))),
        }
    }
}

/// Writes `data` to `path` atomically: a temporary file beside it, fsync, rename.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let r = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r.map_err(io(format!("write {}", path.display())))
}

/// Replaces `path` with `data` through a rename, without fsync: for files the
/// engine regenerates at every start (config.json, hosts), where readers must never
/// see half a file but a crash loses nothing that matters.
pub fn write_replace(path: &Path, data: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let r = std::fs::write(&tmp, data).and_then(|()| std::fs::rename(&tmp, path));
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r.map_err(io(format!("write {}", path.display())))
}

/// Current time, RFC 3339 with nanoseconds, UTC.
pub fn now() -> String {
    berth_runtime::state::now_rfc3339()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(id: &str, name: &str, created: &str) -> Container {
        Container {
            id: id.into(),
            name: name.into(),
            created: created.into(),
            image: "bb".into(),
            image_id: "sha256:00".into(),
            path: "sh".into(),
            args: vec![],
            config: Config::default(),
            host: HostConfig::default(),
            mounts: vec![],
            state: State::created(),
        }
    }

    #[test]
    fn records_from_before_network_connect_keep_their_network() {
        let mut c = sample(&"b".repeat(64), "old", "2026-01-01");
        c.host.network_mode = "front".into();
        c.host.ip = Some([10, 1, 2, 3].into());
        c.host.network_aliases = vec!["db".into()];
        let mut v = serde_json::to_value(&c).unwrap();
        assert!(v["host"].get("networks").is_none(), "unset: not written");
        v["host"].as_object_mut().unwrap().remove("networks");
        let old: Container = serde_json::from_value(v).unwrap();
        assert_eq!(
            old.host.attachments(),
            [NetworkAttachment {
                name: "front".into(),
                aliases: vec!["db".into()],
                ip: Some([10, 1, 2, 3].into()),
                mac: None,
            }]
        );
        assert!(old.host.embedded_dns());
        c.host.network_mode = "none".into();
        assert!(c.host.attachments().is_empty() && !c.host.embedded_dns());
        // Disconnected from everything stays so.
        c.host.network_mode = "front".into();
        c.host.networks = Some(Vec::new());
        assert!(c.host.attachments().is_empty());
    }

    #[test]
    fn restart_policies() {
        let p = RestartPolicy::parse("on-failure:2").unwrap();
        assert!(p.restarts(1, 0, false) && p.restarts(1, 1, false) && !p.restarts(1, 2, false));
        assert!(!p.restarts(0, 0, false));
        assert!(
            RestartPolicy::parse("always")
                .unwrap()
                .restarts(0, 99, false)
        );
        assert!(!RestartPolicy::parse("always").unwrap().restarts(0, 0, true));
        assert!(!RestartPolicy::parse("no").unwrap().restarts(1, 0, false));
        assert_eq!(
            RestartPolicy::parse("sometimes").unwrap_err().to_string(),
            "invalid restart policy: sometimes"
        );
        assert!(RestartPolicy::parse("always:3").is_err());
        assert!(RestartPolicy::parse("on-failure:x").is_err());
    }

    #[test]
    fn find_by_id_name_and_prefix() {
        let d = std::env::temp_dir().join(format!("berth-engine-rec-{}", std::process::id()));
        let cs = Containers::open(&d).unwrap();
        let a = "a".repeat(63) + "1";
        let b = "a".repeat(63) + "2";
        for (id, name, t) in [(&a, "one", "2026-01-01"), (&b, "two", "2026-01-02")] {
            std::fs::create_dir_all(cs.dir(id)).unwrap();
            let l = cs.lock(id).unwrap();
            cs.save(&sample(id, name, t), true, &l).unwrap();
        }
        assert_eq!(cs.find("one").unwrap().id, a);
        assert_eq!(cs.find("/two").unwrap().id, b);
        assert_eq!(cs.find(&b).unwrap().name, "two");
        assert!(matches!(cs.find("aaa"), Err(Error::Conflict(_))));
        assert!(matches!(cs.find("zzz"), Err(Error::NoSuchContainer(_))));
        assert_eq!(cs.all().unwrap()[0].name, "two", "newest first");
        let (c, ()) = cs.update(&a, |c| c.state.status = Status::Running).unwrap();
        assert_eq!(c.state.status, Status::Running);
        assert_eq!(cs.load(&a).unwrap().state.status, Status::Running);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
