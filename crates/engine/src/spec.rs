//! The OCI config a container runs with, generated from its record: the image's
//! execution defaults merged with the run options (already in the record), and
//! Docker's defaults around them: 14 capabilities, its seccomp profile, masked and
//! read-only paths, private namespaces, per-container /etc/hostname, /etc/hosts and
//! /etc/resolv.conf bind-mounted from the container directory.

use std::path::Path;

use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::record::Container;
use crate::user::ExecUser;

/// Docker's default `PATH` when neither the image nor the options set one.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Paths Docker masks in every unprivileged container.
pub const MASKED_PATHS: [&str; 12] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Paths Docker makes read-only in every unprivileged container.
pub const READONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Host files and directories a container's config refers to.
#[derive(Debug, Clone)]
pub struct Paths<'a> {
    /// The mounted root filesystem.
    pub rootfs: &'a Path,
    /// The container directory (holding hostname, hosts, resolv.conf).
    pub dir: &'a Path,
    /// Init pids of the containers whose namespaces this one joins, by ID.
    pub shared_pid: std::collections::BTreeMap<String, i32>,
    /// `--init`: the init's file on the host, mounted at
    /// [`crate::init::CONTAINER_PATH`] and run with the command as its argument.
    pub init: Option<std::path::PathBuf>,
}

/// The environment the container's process gets: Docker's PATH and HOSTNAME, then
/// the container's own (image + `-e`) replacing them by key.
pub fn process_env(c: &Container) -> Vec<String> {
    let mut env = vec![
        format!("PATH={DEFAULT_PATH}"),
        format!("HOSTNAME={}", c.config.hostname),
    ];
    if c.config.tty {
        env.push("TERM=xterm".into());
    }
    crate::options::merge_env(&mut env, &c.config.env);
    env
}

fn cgroup_v2_host() -> bool {
    rustix::fs::statfs("/sys/fs/cgroup").is_ok_and(|s| s.f_type == 0x6367_7270)
}

/// Generates the OCI config of container `c` running as `user`.
pub fn generate(c: &Container, user: &ExecUser, paths: &Paths) -> Result<Value> {
    let privileged = c.host.privileged;
    let caps = if privileged {
        crate::capabilities::all()
    } else {
        crate::capabilities::effective(&c.host.cap_add, &c.host.cap_drop)?
    };
    let target = berth_runtime::seccomp::ProfileTarget::host(caps.iter().cloned());
    let seccomp = match c.host.seccomp.as_str() {
        _ if privileged => None,
        "unconfined" => None,
        "" => Some(berth_runtime::seccomp::docker_default_profile(&target)),
        json => Some(berth_runtime::seccomp::docker_default::resolve(
            json, &target,
        )),
    };
    let seccomp = match seccomp {
        None => Value::Null,
        Some(r) => serde_json::to_value(
            r.map_err(|e| Error::InvalidArgument(format!("invalid seccomp profile: {e}")))?,
        )
        .expect("seccomp profile serialises"),
    };

    let mut args = vec![c.path.clone()];
    args.extend(c.args.iter().cloned());
    if paths.init.is_some() {
        args = crate::init::wrap(args);
    }
    let cwd = if c.config.working_dir.is_empty() {
        "/".to_string()
    } else {
        c.config.working_dir.clone()
    };

    let mut mounts = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs",
            "options": ["nosuid", "noexec", "nodev", if privileged { "rw" } else { "ro" }]}),
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
            "options": [if privileged { "rw" } else { "ro" }, "nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": [
            "nosuid", "noexec", "nodev", "mode=1777",
            format!("size={}", if c.host.shm_size > 0 { c.host.shm_size } else { 64 << 20 }),
        ]}),
    ];
    for t in &c.host.tmpfs {
        let (path, options) = crate::options::parse_tmpfs(t)?;
        mounts.push(
            json!({"destination": path, "type": "tmpfs", "source": "tmpfs", "options": options}),
        );
    }
    for f in ["resolv.conf", "hostname", "hosts"] {
        mounts.push(json!({
            "destination": format!("/etc/{f}"),
            "type": "bind",
            "source": paths.dir.join(f),
            "options": ["rbind", "rprivate"],
        }));
    }
    for m in &c.mounts {
        let mut opts = vec!["rbind", "rprivate"];
        if !m.rw {
            opts.push("ro");
        }
        mounts.push(json!({
            "destination": m.destination,
            "type": "bind",
            "source": m.source,
            "options": opts,
        }));
    }
    if let Some(init) = &paths.init {
        // Last, so that no volume at /sbin covers it.
        mounts.push(json!({
            "destination": crate::init::CONTAINER_PATH,
            "type": "bind",
            "source": init,
            "options": ["bind", "ro", "nosuid", "nodev"],
        }));
    }

    let mut namespaces = vec![json!({"type": "mount"})];
    // Each kind: its OCI type, its file under /proc/PID/ns, the mode asked for.
    for (typ, file, mode) in [
        ("pid", "pid", &c.host.pid_mode),
        ("ipc", "ipc", &c.host.ipc_mode),
        ("uts", "uts", &c.host.uts_mode),
        ("network", "net", &c.host.network_mode),
    ] {
        match mode.as_str() {
            "host" => {}
            m => match m.strip_prefix("container:") {
                Some(other) => {
                    let pid = paths.shared_pid.get(other).copied().ok_or_else(|| {
                        Error::Conflict(format!("cannot join the {typ} namespace of container {other}: it is not running"))
                    })?;
                    namespaces.push(json!({"type": typ, "path": format!("/proc/{pid}/ns/{file}")}));
                }
                None => namespaces.push(json!({"type": typ})),
            },
        }
    }
    // Docker's default cgroup namespace is private on cgroup v2 hosts, the host's on
    // v1 and hybrid ones.
    let cgroupns = match c.host.cgroupns_mode.as_str() {
        "private" => true,
        "host" => false,
        _ => cgroup_v2_host(),
    };
    if cgroupns {
        namespaces.push(json!({"type": "cgroup"}));
    }

    let mut device_rules = vec![json!({"allow": false, "access": "rwm"})];
    let mut devices = Vec::new();
    if privileged {
        device_rules = vec![json!({"allow": true, "access": "rwm"})];
        for (path, d) in crate::devices::all_host_devices() {
            devices.push(crate::devices::oci_device(&path, &d));
        }
    }
    for spec in &c.host.devices {
        let (host, ctr, perms) = crate::options::parse_device(spec)?;
        let d = crate::devices::host_device(std::path::Path::new(&host))?;
        devices.retain(|x| x["path"] != ctr.as_str());
        devices.push(crate::devices::oci_device(&ctr, &d));
        device_rules.push(crate::devices::allow_rule(&d, &perms));
    }
    let mut resources = json!({"devices": device_rules});
    if c.host.memory > 0 {
        // Docker's default: as much swap as memory (memory+swap twice the limit).
        let swap = match c.host.memory_swap {
            0 => c.host.memory * 2,
            s => s,
        };
        resources["memory"] = json!({"limit": c.host.memory, "swap": swap});
    }
    if c.host.cpu_shares > 0 {
        resources["cpu"]["shares"] = json!(c.host.cpu_shares);
    }
    if !c.host.cpuset_cpus.is_empty() {
        resources["cpu"]["cpus"] = json!(c.host.cpuset_cpus);
    }
    if c.host.pids_limit > 0 {
        resources["pids"] = json!({"limit": c.host.pids_limit});
    }
    if c.host.nano_cpus > 0 {
        let period: i64 = 100_000;
        resources["cpu"]["quota"] = json!(c.host.nano_cpus * period / 1_000_000_000);
        resources["cpu"]["period"] = json!(period);
    }

    let mut v = json!({
        "ociVersion": "1.2.0",
        "process": {
            "terminal": c.config.tty,
            "user": {"uid": user.uid, "gid": user.gid, "additionalGids": user.additional_gids},
            "args": args,
            "env": process_env(c),
            "cwd": cwd,
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "noNewPrivileges": c.host.no_new_privileges,
            "rlimits": c.host.ulimits.iter().filter_map(|u| Some(json!({
                "type": crate::options::rlimit_type(&u.name)?, "soft": u.soft, "hard": u.hard,
            }))).collect::<Vec<_>>(),
        },
        "root": {"path": paths.rootfs, "readonly": c.host.readonly_rootfs},
        "hostname": c.config.hostname,
        "mounts": mounts,
        "linux": {
            "namespaces": namespaces,
            "cgroupsPath": c.host.cgroups_path(&c.id),
            "resources": resources,
            "seccomp": seccomp,
            "maskedPaths": if privileged { &[][..] } else { &MASKED_PATHS[..] },
            "readonlyPaths": if privileged { &[][..] } else { &READONLY_PATHS[..] },
            "sysctl": c.host.sysctls,
            "devices": devices,
        },
    });
    if seccomp.is_null() {
        v["linux"]
            .as_object_mut()
            .expect("linux is an object")
            .remove("seccomp");
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::*;

    fn container() -> Container {
        Container {
            id: "f".repeat(64),
            name: "t".into(),
            created: now(),
            image: "bb".into(),
            image_id: "sha256:00".into(),
            path: "sh".into(),
            args: vec!["-c".into(), "exit 7".into()],
            config: Config {
                hostname: "ffffffffffff".into(),
                env: vec!["A=1".into(), "PATH=/bin".into()],
                working_dir: "/srv".into(),
                ..Config::default()
            },
            host: HostConfig {
                network_mode: "none".into(),
                memory: 64 << 20,
                nano_cpus: 1_500_000_000,
                pids_limit: 20,
                ..HostConfig::default()
            },
            mounts: vec![MountPoint {
                kind: "bind".into(),
                name: String::new(),
                source: "/h".into(),
                destination: "/c".into(),
                rw: false,
                mode: "ro".into(),
                anonymous: false,
            }],
            state: State::created(),
        }
    }

    fn paths(init: Option<std::path::PathBuf>) -> Paths<'static> {
        Paths {
            rootfs: Path::new("/r"),
            dir: Path::new("/d"),
            shared_pid: Default::default(),
            init,
        }
    }

    #[test]
    fn config_carries_dockers_defaults_and_the_options() {
        let c = container();
        let u = ExecUser {
            uid: 1000,
            gid: 1000,
            additional_gids: vec![5],
        };
        let v = generate(&c, &u, &paths(None)).unwrap();
        assert_eq!(v["process"]["args"], json!(["sh", "-c", "exit 7"]));
        assert_eq!(
            v["process"]["env"],
            json!(["PATH=/bin", "HOSTNAME=ffffffffffff", "A=1"])
        );
        assert_eq!(v["process"]["cwd"], "/srv");
        assert_eq!(v["process"]["user"]["uid"], 1000);
        assert_eq!(
            v["process"]["capabilities"]["bounding"]
                .as_array()
                .unwrap()
                .len(),
            14
        );
        assert_eq!(v["linux"]["resources"]["memory"]["limit"], 64 << 20);
        assert_eq!(v["linux"]["resources"]["cpu"]["quota"], 150_000);
        assert_eq!(v["linux"]["resources"]["pids"]["limit"], 20);
        assert!(v["linux"]["seccomp"]["syscalls"].as_array().unwrap().len() > 10);
        assert!(
            v["linux"]["namespaces"]
                .as_array()
                .unwrap()
                .contains(&json!({"type": "network"}))
        );
        let dests: Vec<&str> = v["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["destination"].as_str().unwrap())
            .collect();
        for d in [
            "/etc/hosts",
            "/etc/hostname",
            "/etc/resolv.conf",
            "/c",
            "/proc",
            "/dev/shm",
        ] {
            assert!(dests.contains(&d), "{d} in {dests:?}");
        }
        let bind = v["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["destination"] == "/c")
            .unwrap();
        assert!(bind["options"].as_array().unwrap().contains(&json!("ro")));
        // It parses as an OCI spec.
        let _: oci_spec::runtime::Spec = serde_json::from_value(v).unwrap();
    }

    #[test]
    fn init_runs_the_command_and_is_mounted_read_only_last() {
        let c = container();
        let v = generate(
            &c,
            &ExecUser::default(),
            &Paths {
                rootfs: Path::new("/r"),
                dir: Path::new("/d"),
                shared_pid: Default::default(),
                init: Some("/var/lib/berth/init/berth-init-0123".into()),
            },
        )
        .unwrap();
        assert_eq!(
            v["process"]["args"],
            json!(["/sbin/docker-init", "--", "sh", "-c", "exit 7"])
        );
        assert_eq!(
            v["mounts"].as_array().unwrap().last().unwrap(),
            &json!({
                "destination": "/sbin/docker-init",
                "type": "bind",
                "source": "/var/lib/berth/init/berth-init-0123",
                "options": ["bind", "ro", "nosuid", "nodev"],
            })
        );
    }

    #[test]
    fn host_network_shares_the_hosts_namespace() {
        let mut c = container();
        c.host.network_mode = "host".into();
        let u = ExecUser::default();
        let v = generate(&c, &u, &paths(None)).unwrap();
        assert!(
            !v["linux"]["namespaces"]
                .as_array()
                .unwrap()
                .contains(&json!({"type": "network"}))
        );
    }
}
