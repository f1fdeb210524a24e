//! `run` / `create` options, and the parsers for their values with Docker's rules
//! and messages (`-m 64m`, `--cpus 1.5`, `-v /host:/ctr:ro`, `-e K=V`).

use crate::error::{Error, Result};

/// What `create` and `run` take besides the image.
#[derive(Clone, Debug, Default)]
pub struct CreateOptions {
    /// The image name or ID.
    pub image: String,
    /// Command (replaces the image's Cmd when not empty).
    pub cmd: Vec<String>,
    /// `--name`.
    pub name: Option<String>,
    /// `-e K=V` (or `-e K`, taken from the caller's environment by the CLI).
    pub env: Vec<String>,
    /// `-w`.
    pub workdir: Option<String>,
    /// `-u`.
    pub user: Option<String>,
    /// `--entrypoint` (an empty string clears the image's).
    pub entrypoint: Option<String>,
    /// `--hostname`.
    pub hostname: Option<String>,
    /// `-v` specs.
    pub volumes: Vec<String>,
    /// `-m` in bytes.
    pub memory: i64,
    /// `--pids-limit`.
    pub pids_limit: i64,
    /// `--cpus` in billionths.
    pub nano_cpus: i64,
    /// `--network`: "bridge" (the default network, as in Docker), "none", "host", or a
    /// user-defined network's name or ID.
    pub network: String,
    /// `-p` values, as given.
    pub publish: Vec<String>,
    /// `-P`: publish every exposed port on a free host port.
    pub publish_all: bool,
    /// `--expose PORT[/PROTO]` (ranges too): exposed in addition to the image's.
    pub expose: Vec<String>,
    /// `--ip`.
    pub ip: Option<String>,
    /// `--dns`.
    pub dns: Vec<String>,
    /// `--dns-search`.
    pub dns_search: Vec<String>,
    /// `--dns-option`.
    pub dns_options: Vec<String>,
    /// `--network-alias`.
    pub network_aliases: Vec<String>,
    /// `--mac-address`: the MAC of the container's interface on its network.
    pub mac_address: Option<String>,
    /// `--rm`.
    pub auto_remove: bool,
    /// `-l` labels `K=V`.
    pub labels: Vec<String>,
    /// `--stop-signal`.
    pub stop_signal: Option<String>,
    /// `--stop-timeout`.
    pub stop_timeout: Option<u32>,
    /// `-i`: keep stdin open.
    pub interactive: bool,
    /// `-t`: allocate a terminal.
    pub tty: bool,
    /// `--read-only`.
    pub read_only: bool,
    /// `--tmpfs`.
    pub tmpfs: Vec<String>,
    /// `--shm-size` in bytes.
    pub shm_size: i64,
    /// `--cap-add`.
    pub cap_add: Vec<String>,
    /// `--cap-drop`.
    pub cap_drop: Vec<String>,
    /// `--security-opt no-new-privileges`.
    pub no_new_privileges: bool,
    /// `--security-opt seccomp=`: "unconfined" or a profile's JSON.
    pub seccomp: String,
    /// `--ulimit`.
    pub ulimits: Vec<crate::record::Ulimit>,
    /// `--add-host`.
    pub extra_hosts: Vec<String>,
    /// `--restart`.
    pub restart: crate::record::RestartPolicy,
    /// `--log-opt max-size` in bytes.
    pub log_max_size: u64,
    /// `--log-opt max-file`.
    pub log_max_file: u32,
    /// `--memory-swap` in bytes (0: not given, -1: unlimited).
    pub memory_swap: i64,
    /// `--cpu-shares`.
    pub cpu_shares: u64,
    /// `--cpuset-cpus`.
    pub cpuset_cpus: String,
    /// `--sysctl K=V`.
    pub sysctls: Vec<String>,
    /// `--pid`.
    pub pid_mode: String,
    /// `--ipc`.
    pub ipc_mode: String,
    /// `--uts`.
    pub uts_mode: String,
    /// `--cgroupns`.
    pub cgroupns_mode: String,
    /// `--cgroup-parent`: the cgroup the container's cgroup is made under (None:
    /// [`crate::record::DEFAULT_CGROUP_PARENT`]).
    pub cgroup_parent: Option<String>,
    /// `--mount` specs.
    pub mounts: Vec<String>,
    /// `--device HOST[:CONTAINER[:PERMISSIONS]]`.
    pub devices: Vec<String>,
    /// `--privileged`.
    pub privileged: bool,
    /// `--init` (`--init=false` is Some(false)).
    pub init: Option<bool>,
    /// `--health-cmd` and friends, merged over the image's check (`test` empty
    /// keeps the image's command); `--no-healthcheck` gives `["NONE"]`.
    pub health: Option<crate::health::Healthcheck>,
}

/// A parsed `--mount`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MountSpec {
    /// `type=bind` or `type=volume` (its source must exist for a bind).
    Volume(VolumeSpec),
    /// `type=tmpfs`, as a `--tmpfs` value.
    Tmpfs(String),
}

/// Parses `--mount type=...,source=...,target=...` with Docker's keys.
pub fn parse_mount(spec: &str) -> Result<MountSpec> {
    let bad = |why: String| {
        Error::InvalidArgument(format!(
            "invalid argument \"{spec}\" for \"--mount\" flag: {why}"
        ))
    };
    let mut kind = "volume".to_string();
    let (mut source, mut target) = (String::new(), String::new());
    let mut ro = false;
    let mut nocopy = false;
    let mut tmpfs_opts = Vec::new();
    for field in spec.split(',') {
        let (k, v) = field.split_once('=').unwrap_or((field, ""));
        match k {
            "type" => kind = v.to_string(),
            "source" | "src" => source = v.to_string(),
            "target" | "destination" | "dst" => target = v.to_string(),
            "readonly" | "ro" => ro = matches!(v, "" | "true" | "1"),
            "volume-nocopy" => nocopy = matches!(v, "" | "true" | "1"),
            "tmpfs-size" => tmpfs_opts.push(format!(
                "size={}",
                parse_ram(v).ok_or_else(|| bad(format!("invalid tmpfs-size: {v}")))?
            )),
            "tmpfs-mode" => tmpfs_opts.push(format!("mode={v}")),
            "bind-propagation" | "consistency" => {}
            _ => return Err(bad(format!("unexpected key '{k}' in '{field}'"))),
        }
    }
    if target.is_empty() {
        return Err(bad("target is required".into()));
    }
    if !target.starts_with('/') {
        return Err(bad(format!(
            "invalid mount path: '{target}' mount path must be absolute"
        )));
    }
    let mode = if ro { "ro".to_string() } else { String::new() };
    match kind.as_str() {
        "bind" => {
            if !source.starts_with('/') {
                return Err(bad(format!(
                    "invalid mount config for type \"bind\": invalid mount path: '{source}' mount path must be absolute"
                )));
            }
            if !std::path::Path::new(&source).exists() {
                return Err(Error::InvalidArgument(format!(
                    "invalid mount config for type \"bind\": bind source path does not exist: {source}"
                )));
            }
            Ok(MountSpec::Volume(VolumeSpec::Bind {
                source,
                target,
                ro,
                mode,
            }))
        }
        "volume" => {
            let mode = match (ro, nocopy) {
                (true, true) => "ro,nocopy".to_string(),
                (false, true) => "nocopy".to_string(),
                _ => mode,
            };
            Ok(MountSpec::Volume(VolumeSpec::Named {
                name: source,
                target,
                ro,
                mode,
            }))
        }
        "tmpfs" => {
            let mut t = target;
            if !tmpfs_opts.is_empty() {
                t = format!("{t}:{}", tmpfs_opts.join(","));
            }
            Ok(MountSpec::Tmpfs(t))
        }
        other => Err(bad(format!("invalid mount type: {other:?}"))),
    }
}

/// A parsed `--device`: host path, path in the container, cgroup permissions.
pub fn parse_device(spec: &str) -> Result<(String, String, String)> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (host, ctr, perms) = match parts.as_slice() {
        [h] => (*h, *h, "rwm"),
        [h, c] if c.chars().all(|x| "rwm".contains(x)) && !c.starts_with('/') => (*h, *h, *c),
        [h, c] => (*h, *c, "rwm"),
        [h, c, p] => (*h, *c, *p),
        _ => {
            return Err(Error::InvalidArgument(format!(
                "invalid device specification: {spec}"
            )));
        }
    };
    if !host.starts_with('/')
        || !ctr.starts_with('/')
        || perms.is_empty()
        || !perms.chars().all(|x| "rwm".contains(x))
    {
        return Err(Error::InvalidArgument(format!(
            "invalid device specification: {spec}"
        )));
    }
    Ok((host.into(), ctr.into(), perms.into()))
}

/// Checks a `--sysctl` as Docker does: only sysctls the container's own namespaces
/// isolate (IPC ones unless `--ipc host`, network ones unless `--network host`).
pub fn check_sysctl(kv: &str, ipc_host: bool, net_host: bool) -> Result<(String, String)> {
    let (k, v) = kv.split_once('=').ok_or_else(|| {
        Error::InvalidArgument(format!(
            "invalid argument \"{kv}\" for \"--sysctl\" flag: sysctl '{kv}' is not allowed"
        ))
    })?;
    let ipc = matches!(
        k,
        "kernel.msgmax"
            | "kernel.msgmnb"
            | "kernel.msgmni"
            | "kernel.sem"
            | "kernel.shmall"
            | "kernel.shmmax"
            | "kernel.shmmni"
            | "kernel.shm_rmid_forced"
    ) || k.starts_with("fs.mqueue.");
    let net = k.starts_with("net.");
    if ipc && ipc_host {
        return Err(Error::InvalidArgument(format!(
            "sysctl {k:?} not allowed in host IPC namespace"
        )));
    }
    if net && net_host {
        return Err(Error::InvalidArgument(format!(
            "sysctl {k:?} not allowed in host network namespace"
        )));
    }
    if !ipc && !net {
        return Err(Error::InvalidArgument(format!(
            "sysctl {k:?} is not in a separate kernel namespace"
        )));
    }
    Ok((k.to_string(), v.to_string()))
}

/// Rotation when `--log-opt` does not say: 10 MiB per file, 3 files (berth keeps
/// logs bounded by default, unlike Docker's json-file).
pub const DEFAULT_LOG_MAX_SIZE: u64 = 10 << 20;
/// See [`DEFAULT_LOG_MAX_SIZE`].
pub const DEFAULT_LOG_MAX_FILE: u32 = 3;

/// Applies one `--log-opt KEY=VALUE` (max-size, max-file) to `(size, files)`.
pub fn parse_log_opt(s: &str, size: &mut u64, files: &mut u32) -> Result<()> {
    let bad = |why: String| Error::InvalidArgument(why);
    match s.split_once('=') {
        Some(("max-size", v)) => {
            *size = match v {
                "-1" => 0,
                _ => parse_ram(v)
                    .filter(|n| *n > 0)
                    .ok_or_else(|| bad(format!("failed to parse max-size: invalid size: '{v}'")))?
                    as u64,
            };
            Ok(())
        }
        Some(("max-file", v)) => {
            *files = v
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| bad(format!("max-file must be a positive integer: {v}")))?;
            Ok(())
        }
        _ => Err(bad(format!(
            "unknown log opt '{}' for json-file log driver",
            s.split('=').next().unwrap_or(s)
        ))),
    }
}

/// Docker's `--ulimit` names and the rlimits they set.
const ULIMITS: [(&str, &str); 16] = [
    ("core", "RLIMIT_CORE"),
    ("cpu", "RLIMIT_CPU"),
    ("data", "RLIMIT_DATA"),
    ("fsize", "RLIMIT_FSIZE"),
    ("locks", "RLIMIT_LOCKS"),
    ("memlock", "RLIMIT_MEMLOCK"),
    ("msgqueue", "RLIMIT_MSGQUEUE"),
    ("nice", "RLIMIT_NICE"),
    ("nofile", "RLIMIT_NOFILE"),
    ("nproc", "RLIMIT_NPROC"),
    ("rss", "RLIMIT_RSS"),
    ("rtprio", "RLIMIT_RTPRIO"),
    ("rttime", "RLIMIT_RTTIME"),
    ("sigpending", "RLIMIT_SIGPENDING"),
    ("stack", "RLIMIT_STACK"),
    ("as", "RLIMIT_AS"),
];

/// The OCI rlimit type of a Docker ulimit name.
pub fn rlimit_type(name: &str) -> Option<&'static str> {
    ULIMITS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// Parses `--ulimit NAME=SOFT[:HARD]` (-1 for unlimited) with Docker's messages.
pub fn parse_ulimit(s: &str) -> Result<crate::record::Ulimit> {
    let bad = |why: &str| {
        Error::InvalidArgument(format!(
            "invalid argument \"{s}\" for \"--ulimit\" flag: {why}"
        ))
    };
    let (name, vals) = s
        .split_once('=')
        .ok_or_else(|| bad(&format!("invalid ulimit argument: {s}")))?;
    if rlimit_type(name).is_none() {
        return Err(bad(&format!("invalid ulimit type: {name}")));
    }
    let num = |v: &str| -> Result<u64> {
        match v.parse::<i64>() {
            Ok(-1) => Ok(u64::MAX),
            Ok(n) if n >= 0 => Ok(n as u64),
            _ => Err(bad(&format!("invalid ulimit value: {v}"))),
        }
    };
    let (soft, hard) = match vals.split_once(':') {
        Some((a, b)) => (num(a)?, num(b)?),
        None => (num(vals)?, num(vals)?),
    };
    if soft > hard {
        return Err(bad(&format!(
            "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
        )));
    }
    Ok(crate::record::Ulimit {
        name: name.to_string(),
        soft,
        hard,
    })
}

/// Checks `--add-host NAME:IP` as Docker does.
pub fn parse_extra_host(s: &str) -> Result<(String, String)> {
    let bad = || {
        Error::InvalidArgument(format!(
            "invalid argument \"{s}\" for \"--add-host\" flag: invalid IP address in add-host: \"{}\"",
            s.split_once(':').map_or("", |x| x.1)
        ))
    };
    let (name, ip) = s.split_once(':').ok_or_else(bad)?;
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    if name.is_empty() || ip.parse::<std::net::IpAddr>().is_err() {
        return Err(bad());
    }
    Ok((name.to_string(), ip.to_string()))
}

/// Parses `--tmpfs PATH[:OPTIONS]` into the path and mount options.
pub fn parse_tmpfs(s: &str) -> Result<(String, Vec<String>)> {
    let (path, opts) = s.split_once(':').unwrap_or((s, ""));
    if !path.starts_with('/') {
        return Err(Error::InvalidArgument(format!(
            "invalid mount config for type \"tmpfs\": invalid mount path: '{path}' mount path must be absolute"
        )));
    }
    let mut o = vec![
        "noexec".to_string(),
        "nosuid".to_string(),
        "nodev".to_string(),
    ];
    for x in opts.split(',').filter(|x| !x.is_empty()) {
        let key = x.split('=').next().unwrap_or(x);
        let opposite = match key {
            "exec" => Some("noexec"),
            "suid" => Some("nosuid"),
            "dev" => Some("nodev"),
            _ => None,
        };
        if let Some(op) = opposite {
            o.retain(|y| y != op);
        }
        o.push(x.to_string());
    }
    Ok((path.to_string(), o))
}

/// Parses a size as Docker's `RAMInBytes`: a decimal number with an optional
/// binary unit `b`, `k`, `m`, `g`, `t`, `p` (an optional trailing `b`, any case).
pub fn parse_ram(s: &str) -> Option<i64> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    let digits_end = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let (num, unit) = lower.split_at(digits_end);
    let n: f64 = num.parse().ok()?;
    let unit = match unit {
        "" | "b" => "",
        u => u.strip_suffix('b').unwrap_or(u),
    };
    let mult: f64 = match unit {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024f64.powi(4),
        "p" => 1024f64.powi(5),
        _ => return None,
    };
    if n < 0.0 {
        return None;
    }
    Some((n * mult) as i64)
}

/// Parses `-m`: Docker's message on a bad value, and its 6 MiB minimum.
pub fn parse_memory(s: &str) -> Result<i64> {
    let v = parse_ram(s).ok_or_else(|| {
        Error::InvalidArgument(format!(
            "invalid argument \"{s}\" for \"-m, --memory\" flag: invalid size: '{s}'"
        ))
    })?;
    if v != 0 && v < 6 * 1024 * 1024 {
        return Err(Error::InvalidArgument(
            "Minimum memory limit allowed is 6MB".into(),
        ));
    }
    Ok(v)
}

/// Parses `--cpus` into billionths of a CPU.
pub fn parse_cpus(s: &str) -> Result<i64> {
    let bad = || {
        Error::InvalidArgument(format!(
            "invalid argument \"{s}\" for \"--cpus\" flag: failed to parse {s} as a rational number"
        ))
    };
    let v: f64 = s.trim().parse().map_err(|_| bad())?;
    if !v.is_finite() || v < 0.0 {
        return Err(bad());
    }
    let n = (v * 1e9).round() as i64;
    let max = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1) as i64;
    if n > max * 1_000_000_000 {
        return Err(Error::InvalidArgument(format!(
            "range of CPUs is from 0.01 to {max}.00, as there are only {max} CPUs available"
        )));
    }
    if n != 0 && n < 10_000_000 {
        return Err(Error::InvalidArgument(format!(
            "range of CPUs is from 0.01 to {max}.00, as there are only {max} CPUs available"
        )));
    }
    Ok(n)
}

/// A parsed `-v` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VolumeSpec {
    /// `/host:/ctr[:mode]`.
    Bind {
        /// Absolute host path.
        source: String,
        /// Absolute container path.
        target: String,
        /// Read-only.
        ro: bool,
        /// The mode as given.
        mode: String,
    },
    /// `name:/ctr[:mode]`.
    Named {
        /// Volume name.
        name: String,
        /// Absolute container path.
        target: String,
        /// Read-only.
        ro: bool,
        /// The mode as given.
        mode: String,
    },
}

/// Parses `-v SRC:DST[:MODE]` with Docker's message for a malformed value.
pub fn parse_volume(spec: &str) -> Result<VolumeSpec> {
    let bad = || Error::InvalidArgument(format!("invalid volume specification: '{spec}'"));
    let parts: Vec<&str> = spec.split(':').collect();
    let (src, dst, mode) = match parts.as_slice() {
        [s, d] => (*s, *d, ""),
        [s, d, m] => (*s, *d, *m),
        _ => return Err(bad()),
    };
    if src.is_empty() || !dst.starts_with('/') {
        return Err(bad());
    }
    if dst == "/" {
        return Err(Error::InvalidArgument(format!(
            "invalid volume specification: '{spec}': invalid mount config: destination can't be '/'"
        )));
    }
    let mut ro = false;
    for m in mode.split(',').filter(|m| !m.is_empty()) {
        match m {
            "ro" => ro = true,
            "rw" | "z" | "Z" | "rprivate" | "private" | "rslave" | "slave" | "rshared"
            | "shared" | "nocopy" => {}
            _ => return Err(Error::InvalidArgument(format!("invalid mode: {mode}"))),
        }
    }
    let mode = mode.to_string();
    if src.starts_with('/') {
        Ok(VolumeSpec::Bind {
            source: src.into(),
            target: dst.into(),
            ro,
            mode,
        })
    } else if src.starts_with('.') || src.contains('/') {
        Err(Error::InvalidArgument(format!(
            "invalid volume specification: '{spec}': {src} includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
        )))
    } else {
        crate::names::validate(src).map_err(|_| {
            Error::InvalidArgument(format!(
                "create {src}: \"{src}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
            ))
        })?;
        Ok(VolumeSpec::Named {
            name: src.into(),
            target: dst.into(),
            ro,
            mode,
        })
    }
}

/// Merges `K=V` settings into `env`: a later key replaces an earlier one in place.
pub fn merge_env(env: &mut Vec<String>, add: &[String]) {
    for kv in add {
        let key = kv.split_once('=').map_or(kv.as_str(), |(k, _)| k);
        match env
            .iter_mut()
            .find(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) == key)
        {
            Some(e) => *e = kv.clone(),
            None => env.push(kv.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_as_docker_reads_them() {
        assert_eq!(parse_ram("64m"), Some(64 << 20));
        assert_eq!(parse_ram("64MB"), Some(64 << 20));
        assert_eq!(parse_ram("1g"), Some(1 << 30));
        assert_eq!(parse_ram("1.5k"), Some(1536));
        assert_eq!(parse_ram("100"), Some(100));
        assert_eq!(parse_ram("100b"), Some(100));
        assert_eq!(parse_ram("4x"), None);
        assert_eq!(parse_ram(""), None);
        assert_eq!(parse_ram("m"), None);
    }

    #[test]
    fn memory_and_cpus_errors_are_dockers() {
        assert_eq!(
            parse_memory("4x").unwrap_err().to_string(),
            "invalid argument \"4x\" for \"-m, --memory\" flag: invalid size: '4x'"
        );
        assert_eq!(
            parse_memory("4k").unwrap_err().to_string(),
            "Minimum memory limit allowed is 6MB"
        );
        assert_eq!(parse_cpus("0.5").unwrap(), 500_000_000);
        assert!(
            parse_cpus("abc")
                .unwrap_err()
                .to_string()
                .contains("rational number")
        );
        assert!(parse_cpus("100000").is_err());
    }

    #[test]
    fn volumes_binds_and_names() {
        assert_eq!(
            parse_volume("/h:/c:ro").unwrap(),
            VolumeSpec::Bind {
                source: "/h".into(),
                target: "/c".into(),
                ro: true,
                mode: "ro".into()
            }
        );
        assert!(
            matches!(parse_volume("data:/d").unwrap(), VolumeSpec::Named { ref name, .. } if name == "data")
        );
        assert!(parse_volume("/h").is_err());
        assert!(parse_volume("/h:rel").is_err());
        assert!(parse_volume("/h:/c:bogus").is_err());
        assert!(parse_volume("./x:/c").is_err());
    }

    #[test]
    fn ulimits_hosts_and_tmpfs() {
        let u = parse_ulimit("nofile=1024:2048").unwrap();
        assert_eq!((u.soft, u.hard), (1024, 2048));
        assert_eq!(parse_ulimit("core=-1").unwrap().hard, u64::MAX);
        assert!(parse_ulimit("bogus=1").is_err());
        assert!(parse_ulimit("nofile=10:5").is_err());
        assert_eq!(
            parse_extra_host("db:10.0.0.2").unwrap(),
            ("db".into(), "10.0.0.2".into())
        );
        assert_eq!(parse_extra_host("v6:[::1]").unwrap().1, "::1");
        assert!(parse_extra_host("db:nope").is_err());
        let (p, o) = parse_tmpfs("/run:exec,size=1m").unwrap();
        assert_eq!(p, "/run");
        assert_eq!(o, ["nosuid", "nodev", "exec", "size=1m"]);
        assert!(parse_tmpfs("rel").is_err());
    }

    #[test]
    fn mounts_and_devices() {
        assert_eq!(
            parse_mount("type=bind,source=/tmp,target=/t,readonly").unwrap(),
            MountSpec::Volume(VolumeSpec::Bind {
                source: "/tmp".into(),
                target: "/t".into(),
                ro: true,
                mode: "ro".into()
            })
        );
        assert!(
            parse_mount("type=bind,source=/no/such/dir,target=/t")
                .unwrap_err()
                .to_string()
                .contains("bind source path does not exist")
        );
        assert!(
            matches!(parse_mount("source=data,target=/d,volume-nocopy").unwrap(), MountSpec::Volume(VolumeSpec::Named { ref mode, .. }) if mode == "nocopy")
        );
        assert_eq!(
            parse_mount("type=tmpfs,target=/t,tmpfs-size=1m").unwrap(),
            MountSpec::Tmpfs("/t:size=1048576".into())
        );
        assert!(parse_mount("type=bind,source=/tmp").is_err());
        assert_eq!(
            parse_device("/dev/null").unwrap(),
            ("/dev/null".into(), "/dev/null".into(), "rwm".into())
        );
        assert_eq!(
            parse_device("/dev/null:/dev/x:r").unwrap(),
            ("/dev/null".into(), "/dev/x".into(), "r".into())
        );
        assert_eq!(parse_device("/dev/null:rw").unwrap().2, "rw");
        assert!(parse_device("null").is_err());
    }

    #[test]
    fn env_merges_by_key() {
        let mut e = vec!["PATH=/bin".to_string(), "A=1".to_string()];
        merge_env(&mut e, &["A=2".into(), "B=3".into()]);
        assert_eq!(e, ["PATH=/bin", "A=2", "B=3"]);
    }
}
