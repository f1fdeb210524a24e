//! Linux namespaces: which ones a container gets new, which it joins by path, and
//! the order in which a process enters them.

use std::os::fd::OwnedFd;
use std::path::PathBuf;

use nix::sched::CloneFlags;
use oci_spec::runtime::{Linux, LinuxNamespaceType};

use crate::error::{Result, io, sys};

/// The clone flag of a namespace type.
pub fn flag(t: LinuxNamespaceType) -> CloneFlags {
    match t {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        LinuxNamespaceType::Time => CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
    }
}

/// The /proc/<pid>/ns file name of a namespace type.
pub fn proc_name(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Time => "time",
    }
}

/// Every namespace type, in the order a process joins existing ones: user first (it
/// grants the privileges to join the rest), mount last (it changes what paths mean).
pub const JOIN_ORDER: [LinuxNamespaceType; 8] = [
    LinuxNamespaceType::User,
    LinuxNamespaceType::Ipc,
    LinuxNamespaceType::Uts,
    LinuxNamespaceType::Network,
    LinuxNamespaceType::Pid,
    LinuxNamespaceType::Cgroup,
    LinuxNamespaceType::Time,
    LinuxNamespaceType::Mount,
];

/// Namespaces to join, opened up front (paths can stop resolving once the mount
/// namespace changes).
pub struct Join {
    /// Namespace type.
    pub typ: LinuxNamespaceType,
    /// Where it came from, for messages.
    pub path: PathBuf,
    /// The open namespace file.
    pub fd: OwnedFd,
}

/// What a container's namespaces need.
pub struct Plan {
    /// Namespaces to join, in [`JOIN_ORDER`].
    pub join: Vec<Join>,
    /// Namespace types to create.
    pub new: Vec<LinuxNamespaceType>,
}

impl Plan {
    /// Builds the plan from the config, opening every path.
    pub fn from_linux(linux: Option<&Linux>) -> Result<Plan> {
        let mut join = Vec::new();
        let mut new = Vec::new();
        let list = linux.and_then(|l| l.namespaces().clone()).unwrap_or_default();
        for t in JOIN_ORDER {
            let Some(ns) = list.iter().find(|n| n.typ() == t) else {
                continue;
            };
            match ns.path() {
                Some(p) => {
                    let fd = std::fs::File::open(p)
                        .map_err(io(format!("cannot open {} namespace {}", proc_name(t), p.display())))?;
                    join.push(Join {
                        typ: t,
                        path: p.clone(),
                        fd: fd.into(),
                    });
                }
                None => new.push(t),
            }
        }
        Ok(Plan { join, new })
    }

    /// Whether a new namespace of type `t` is created.
    pub fn creates(&self, t: LinuxNamespaceType) -> bool {
        self.new.contains(&t)
    }

    /// Whether the container has its own namespace of type `t` (new or joined).
    pub fn has(&self, t: LinuxNamespaceType) -> bool {
        self.creates(t) || self.join.iter().any(|j| j.typ == t)
    }

    /// Clone flags of the namespaces to create, except `user` (created first, on its
    /// own, so that the others belong to it).
    pub fn unshare_flags(&self) -> CloneFlags {
        self.new
            .iter()
            .filter(|t| **t != LinuxNamespaceType::User)
            .fold(CloneFlags::empty(), |acc, t| acc | flag(*t))
    }
}

/// Joins one namespace with setns(2).
pub fn join(j: &Join) -> Result<()> {
    crate::explain::step(
        || format!("setns {} ({})", j.path.display(), proc_name(j.typ)),
        || nix::sched::setns(&j.fd, flag(j.typ)),
    )
    .map_err(sys(format!(
        "cannot join {} namespace {}",
        proc_name(j.typ),
        j.path.display()
    )))
}

/// Names the flags of an unshare for the trace: "CLONE_NEWNS|CLONE_NEWPID".
pub fn describe(flags: CloneFlags) -> String {
    let mut v = Vec::new();
    for (f, n) in [
        (CloneFlags::CLONE_NEWUSER, "CLONE_NEWUSER"),
        (CloneFlags::CLONE_NEWNS, "CLONE_NEWNS"),
        (CloneFlags::CLONE_NEWPID, "CLONE_NEWPID"),
        (CloneFlags::CLONE_NEWNET, "CLONE_NEWNET"),
        (CloneFlags::CLONE_NEWIPC, "CLONE_NEWIPC"),
        (CloneFlags::CLONE_NEWUTS, "CLONE_NEWUTS"),
        (CloneFlags::CLONE_NEWCGROUP, "CLONE_NEWCGROUP"),
        (CloneFlags::from_bits_retain(libc::CLONE_NEWTIME), "CLONE_NEWTIME"),
    ] {
        if flags.contains(f) {
            v.push(n);
        }
    }
    v.join("|")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unshare_flags_leave_out_user_and_describe_names_them() {
        let plan = Plan {
            join: vec![],
            new: vec![
                LinuxNamespaceType::User,
                LinuxNamespaceType::Pid,
                LinuxNamespaceType::Mount,
                LinuxNamespaceType::Time,
            ],
        };
        let f = plan.unshare_flags();
        assert!(!f.contains(CloneFlags::CLONE_NEWUSER));
        assert_eq!(describe(f), "CLONE_NEWNS|CLONE_NEWPID|CLONE_NEWTIME");
        assert!(plan.has(LinuxNamespaceType::User));
        assert!(!plan.has(LinuxNamespaceType::Network));
    }
}
