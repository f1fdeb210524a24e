//! The capability set of a container: Docker's 14 defaults, changed by `--cap-add`
//! and `--cap-drop` (names with or without `CAP_`, any case, or `ALL`).

use crate::error::{Error, Result};

/// Every capability the kernel may know, in number order.
const ALL: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// The capabilities the running kernel knows (up to /proc/sys/kernel/cap_last_cap).
fn known() -> &'static [&'static str] {
    let last = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .unwrap_or(ALL.len() - 1);
    &ALL[..(last + 1).min(ALL.len())]
}

fn normalize(name: &str) -> Result<String> {
    let up = name.to_ascii_uppercase();
    if up == "ALL" {
        return Ok(up);
    }
    let full = if up.starts_with("CAP_") {
        up
    } else {
        format!("CAP_{up}")
    };
    if ALL.contains(&full.as_str()) {
        Ok(full)
    } else {
        Err(Error::InvalidArgument(format!(
            "invalid capability: {name}: unknown capability: {full:?}"
        )))
    }
}

/// Every capability berth itself may hand on (`--privileged`): those the kernel knows
/// that are in berth's own bounding set, as Docker gives its daemon's.
pub fn all() -> Vec<String> {
    let bounding = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapBnd:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .unwrap_or(u64::MAX);
    known()
        .iter()
        .enumerate()
        .filter(|(i, _)| bounding & (1u64 << i) != 0)
        .map(|(_, c)| c.to_string())
        .collect()
}

/// Docker's defaults with `drop` removed, then `add` added, as Docker orders them.
pub fn effective(add: &[String], drop: &[String]) -> Result<Vec<String>> {
    let add: Vec<String> = add.iter().map(|c| normalize(c)).collect::<Result<_>>()?;
    let drop: Vec<String> = drop.iter().map(|c| normalize(c)).collect::<Result<_>>()?;
    let mut caps: Vec<String> = if drop.iter().any(|c| c == "ALL") {
        Vec::new()
    } else {
        berth_runtime::seccomp::DOCKER_DEFAULT_CAPABILITIES
            .iter()
            .map(|c| c.to_string())
            .filter(|c| !drop.contains(c))
            .collect()
    };
    let added: Vec<String> = if add.iter().any(|c| c == "ALL") {
        known().iter().map(|c| c.to_string()).collect()
    } else {
        add
    };
    let drop_all = drop.iter().any(|d| d == "ALL");
    for c in added {
        // A capability both dropped by name and added stays dropped.
        let dropped = drop.contains(&c) && !drop_all;
        if !caps.contains(&c) && !dropped {
            caps.push(c);
        }
    }
    Ok(caps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_and_drop_as_docker() {
        assert_eq!(effective(&[], &[]).unwrap().len(), 14);
        let c = effective(&["sys_admin".into()], &["NET_RAW".into()]).unwrap();
        assert!(c.contains(&"CAP_SYS_ADMIN".into()) && !c.contains(&"CAP_NET_RAW".into()));
        assert_eq!(
            effective(&["CHOWN".into()], &["all".into()]).unwrap(),
            ["CAP_CHOWN"]
        );
        assert!(effective(&["ALL".into()], &[]).unwrap().len() >= 38);
        assert!(effective(&["BOGUS".into()], &[]).is_err());
    }
}
