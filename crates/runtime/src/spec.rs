//! Loading and checking a bundle's config.json, and writing runc's default one.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, LinuxNamespaceType, Spec};

use crate::error::{Error, Result};

/// The OCI runtime spec version berth-runtime implements.
pub const OCI_VERSION: &str = "1.2.0";

/// Reads `<bundle>/config.json`. Errors say whether the file is missing or which
/// line of it does not parse.
pub fn load(bundle: &Path) -> Result<Spec> {
    let path = bundle.join("config.json");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Error::Spec(format!(
            "cannot read {}: {} (is --bundle the directory holding config.json?)",
            path.display(),
            crate::error::io_text(&e)
        ))
    })?;
    serde_json::from_str(&text)
        .map_err(|e| Error::Spec(format!("{} is not a valid OCI config: {e}", path.display())))
}

/// The root filesystem path of a spec, made absolute against the bundle.
pub fn rootfs(spec: &Spec, bundle: &Path) -> Result<PathBuf> {
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| Error::Spec("config.json has no root.path".into()))?;
    let p = root.path();
    Ok(if p.is_absolute() { p.clone() } else { bundle.join(p) })
}

/// Checks what must hold before anything is created: a process to run, an
/// existing root filesystem, namespaces named once each, mappings for a new user
/// namespace.
pub fn validate(spec: &Spec, bundle: &Path) -> Result<()> {
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| Error::Spec("config.json has no process to run".into()))?;
    match process.args() {
        Some(a) if !a.is_empty() => {}
        _ => return Err(Error::Spec("process.args must not be empty".into())),
    }
    if !process.cwd().is_absolute() {
        return Err(Error::Spec(format!(
            "process.cwd {:?} must be an absolute path",
            process.cwd()
        )));
    }
    let rootfs = rootfs(spec, bundle)?;
    match std::fs::metadata(&rootfs) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(Error::Spec(format!(
                "root filesystem {} is not a directory",
                rootfs.display()
            )));
        }
        Err(e) => {
            return Err(Error::Spec(format!(
                "root filesystem {}: {}",
                rootfs.display(),
                crate::error::io_text(&e)
            )));
        }
    }
    if let Some(linux) = spec.linux() {
        let mut seen = Vec::new();
        for ns in linux.namespaces().iter().flatten() {
            if seen.contains(&ns.typ()) {
                return Err(Error::Spec(format!(
                    "namespace {} is listed twice in linux.namespaces",
                    ns.typ()
                )));
            }
            seen.push(ns.typ());
            if let Some(p) = ns.path()
                && !p.exists()
            {
                return Err(Error::Spec(format!(
                    "namespace {} path {} does not exist",
                    ns.typ(),
                    p.display()
                )));
            }
        }
        let new_user = linux
            .namespaces()
            .iter()
            .flatten()
            .any(|n| n.typ() == LinuxNamespaceType::User && n.path().is_none());
        let has_maps = linux.uid_mappings().as_ref().is_some_and(|m| !m.is_empty())
            && linux.gid_mappings().as_ref().is_some_and(|m| !m.is_empty());
        if new_user && !has_maps {
            return Err(Error::Spec(
                "a new user namespace needs linux.uidMappings and linux.gidMappings".into(),
            ));
        }
        if !new_user
            && (linux.uid_mappings().as_ref().is_some_and(|m| !m.is_empty())
                || linux.gid_mappings().as_ref().is_some_and(|m| !m.is_empty()))
        {
            return Err(Error::Spec(
                "uid/gid mappings need a new user namespace in linux.namespaces".into(),
            ));
        }
        if linux.time_offsets().as_ref().is_some_and(|t| !t.is_empty())
            && !linux
                .namespaces()
                .iter()
                .flatten()
                .any(|n| n.typ() == LinuxNamespaceType::Time && n.path().is_none())
        {
            return Err(Error::Spec(
                "linux.timeOffsets needs a new time namespace in linux.namespaces".into(),
            ));
        }
    }
    Ok(())
}

/// The devices every container may use whatever its config says, as runc and
/// Docker allow them: the standard character devices, ptys, and mknod of anything
/// (creating a node is harmless when opening it is denied).
pub fn default_allowed_devices() -> Vec<LinuxDeviceCgroup> {
    let rule = |typ: LinuxDeviceType, major: Option<i64>, minor: Option<i64>, access: &str| {
        let mut d = LinuxDeviceCgroup::default();
        d.set_allow(true);
        d.set_typ(Some(typ));
        d.set_major(major);
        d.set_minor(minor);
        d.set_access(Some(access.to_string()));
        d
    };
    use LinuxDeviceType::{B, C};
    vec![
        rule(C, None, None, "m"),
        rule(B, None, None, "m"),
        rule(C, Some(1), Some(3), "rwm"),  // null
        rule(C, Some(1), Some(8), "rwm"),  // random
        rule(C, Some(1), Some(7), "rwm"),  // full
        rule(C, Some(5), Some(0), "rwm"),  // tty
        rule(C, Some(1), Some(5), "rwm"),  // zero
        rule(C, Some(1), Some(9), "rwm"),  // urandom
        rule(C, Some(5), Some(1), "rwm"),  // console
        rule(C, Some(136), None, "rwm"),   // pts/*
        rule(C, Some(5), Some(2), "rwm"),  // ptmx
        rule(C, Some(10), Some(200), "rwm"), // net/tun
    ]
}

/// runc's default config.json (`runc spec`), or its rootless variant: a shell on a
/// terminal in a read-only `rootfs`, with the usual pseudo-filesystems, masked and
/// read-only paths and its own namespaces.
pub fn default_config(rootless: bool) -> serde_json::Value {
    let caps = serde_json::json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    let sys = if rootless {
        serde_json::json!({"destination": "/sys", "type": "none", "source": "/sys",
            "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]})
    } else {
        serde_json::json!({"destination": "/sys", "type": "sysfs", "source": "sysfs",
            "options": ["nosuid", "noexec", "nodev", "ro"]})
    };
    let devpts_opts = if rootless {
        serde_json::json!(["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"])
    } else {
        serde_json::json!(["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"])
    };
    let mut namespaces = vec![serde_json::json!({"type": "pid"})];
    if !rootless {
        namespaces.push(serde_json::json!({"type": "network"}));
    }
    namespaces.extend([
        serde_json::json!({"type": "ipc"}),
        serde_json::json!({"type": "uts"}),
        serde_json::json!({"type": "mount"}),
    ]);
    if rootless {
        namespaces.push(serde_json::json!({"type": "user"}));
    }
    let mut linux = serde_json::json!({
        "namespaces": namespaces,
        "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
            "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
            "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
        "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
            "/proc/sysrq-trigger"],
    });
    if rootless {
        // SAFETY: getuid/getgid have no preconditions.
        let (uid, gid) = (nix::unistd::getuid().as_raw(), nix::unistd::getgid().as_raw());
        linux["uidMappings"] = serde_json::json!([{"containerID": 0, "hostID": uid, "size": 1}]);
        linux["gidMappings"] = serde_json::json!([{"containerID": 0, "hostID": gid, "size": 1}]);
    } else {
        linux["resources"] = serde_json::json!({"devices": [{"allow": false, "access": "rwm"}]});
    }
    serde_json::json!({
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": true,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps, "ambient": caps},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "berth",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
                "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": devpts_opts},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
                "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
                "options": ["nosuid", "noexec", "nodev"]},
            sys,
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
        ],
        "linux": linux,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_parses_as_a_spec_and_validates() {
        let dir = std::env::temp_dir().join(format!("berth-spec-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("rootfs")).unwrap();
        for rootless in [false, true] {
            let v = default_config(rootless);
            let spec: Spec = serde_json::from_value(v).unwrap();
            validate(&spec, &dir).unwrap();
            let ns = spec.linux().as_ref().unwrap().namespaces().clone().unwrap();
            assert_eq!(
                ns.iter().any(|n| n.typ() == LinuxNamespaceType::User),
                rootless
            );
            assert_eq!(
                ns.iter().any(|n| n.typ() == LinuxNamespaceType::Network),
                !rootless
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn validate_rejects_missing_rootfs_and_duplicate_namespaces() {
        let dir = std::env::temp_dir().join(format!("berth-spec-test2-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let spec: Spec = serde_json::from_value(default_config(false)).unwrap();
        let e = validate(&spec, &dir).unwrap_err().to_string();
        assert!(e.contains("rootfs") && e.contains("no such file"), "{e}");
        std::fs::create_dir_all(dir.join("rootfs")).unwrap();
        let mut v = default_config(false);
        v["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"type": "pid"}));
        let spec: Spec = serde_json::from_value(v).unwrap();
        let e = validate(&spec, &dir).unwrap_err().to_string();
        assert!(e.contains("listed twice"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unknown_namespace_type_is_a_parse_error() {
        let mut v = default_config(false);
        v["linux"]["namespaces"] = serde_json::json!([{"type": "bogus"}]);
        assert!(serde_json::from_value::<Spec>(v).is_err());
    }
}
