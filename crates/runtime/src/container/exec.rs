//! `exec`: runs another process inside a running container, in all its namespaces
//! and its cgroup.

use std::os::fd::OwnedFd;
use std::path::PathBuf;

use oci_spec::runtime::{ContainerState, LinuxNamespaceType, Process};

use super::Runtime;
use crate::error::{Error, Result, io};
use crate::namespaces::{JOIN_ORDER, Join, Plan, proc_name};
use crate::process::{self, channel::Msg};
use crate::state::Status;

/// Options of `exec`.
#[derive(Debug, Default)]
pub struct ExecOptions {
    /// Where to write the new process's pid.
    pub pid_file: Option<PathBuf>,
    /// Unix socket to send the pty master to.
    pub console_socket: Option<PathBuf>,
    /// Extra descriptors passed through.
    pub preserve_fds: u32,
    /// Return once the process runs instead of waiting for it.
    pub detach: bool,
}

impl Runtime {
    /// The process of the container's own config, as the base of an `exec` built
    /// from command-line arguments.
    pub fn config_process(&self, id: &str) -> Result<Process> {
        let s = self.root.load(id)?;
        let spec = crate::spec::load(&s.bundle)?;
        spec.process()
            .clone()
            .ok_or_else(|| Error::Spec("the container's config has no process".into()))
    }

    /// Runs `process` in container `id`. Returns its pid when detached, else waits
    /// and returns its exit code.
    pub fn exec(&self, id: &str, process: &Process, o: &ExecOptions) -> Result<i32> {
        let s = self.root.load(id)?;
        match self.status(&s) {
            Status::Running | Status::Created => {}
            Status::Paused => {
                return Err(Error::WrongState("cannot exec in a paused container".into()));
            }
            _ => {
                return Err(Error::WrongState("cannot exec in a stopped container".into()));
            }
        }
        let terminal = process.terminal() == Some(true);
        if terminal && o.console_socket.is_none() {
            return Err(Error::Usage(
                "cannot allocate tty without a console socket (--console-socket)".into(),
            ));
        }
        let mut join = Vec::new();
        for t in JOIN_ORDER {
            let name = proc_name(t);
            if !s.namespaces.iter().any(|n| n == name) {
                continue;
            }
            let path = PathBuf::from(format!("/proc/{}/ns/{name}", s.pid));
            let fd: OwnedFd = std::fs::File::open(&path)
                .map_err(io(format!("cannot open {}", path.display())))?
                .into();
            join.push(Join { typ: t, path, fd });
        }
        // Joining our own user namespace is EINVAL: skip it when shared with the host.
        join.retain(|j| {
            j.typ != LinuxNamespaceType::User
                || std::fs::read_link(&j.path).ok()
                    != std::fs::read_link("/proc/self/ns/user").ok()
        });
        let plan = Plan { join, new: Vec::new() };
        let spec = crate::spec::load(&s.bundle)?;
        let console = match &o.console_socket {
            Some(p) => Some(
                std::os::unix::net::UnixStream::connect(p)
                    .map_err(io(format!("cannot connect to console socket {}", p.display())))?
                    .into(),
            ),
            None => None,
        };
        let seccomp = process::compile_seccomp(&spec, self.root.path())?;
        let cfg = process::Config {
            id,
            spec: &spec,
            process,
            plan: &plan,
            rootfs: None,
            fifo_dir: None,
            console: console.as_ref(),
            preserve_fds: o.preserve_fds,
            no_new_keyring: true,
            setgroups_allowed: true,
            bundle: &s.bundle,
            // Not for the cgroup (stage-1 is placed before it forks), but so that the
            // process speaks only after stage-1 has reported its pid: both write to
            // the same channel.
            cgroup_pending: true,
            seccomp: seccomp.as_ref(),
        };
        if !o.detach {
            super::wait::prepare_foreground();
        }
        let cg = self.cgroup(&s)?;
        let (ours, theirs) = process::channel::pair()?;
        let into = super::clone_into(&*cg);
        let stage1 = process::spawn(&cfg, &ours, theirs, into.as_ref())?;
        drop(console);
        let reap = |p: i32| {
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(p), None);
        };
        if let Err(e) = if into.is_none() { cg.add_task(stage1) } else { Ok(()) } {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(stage1), nix::sys::signal::SIGKILL);
            reap(stage1);
            return Err(e.into());
        }
        ours.send(&Msg::Go)?;
        let pid = match ours.recv()? {
            Some(Msg::Pid(p)) => p,
            Some(Msg::Error(e)) => {
                reap(stage1);
                return Err(Error::Init(e));
            }
            other => {
                reap(stage1);
                return Err(Error::Init(format!("exec: unexpected {other:?}")));
            }
        };
        ours.send(&Msg::Joined)?;
        reap(stage1);
        let mut msg = ours.recv()?;
        if msg == Some(Msg::SeccompListener) {
            let state = crate::hooks::state(id, ContainerState::Running, pid, &s.bundle, &spec);
            process::forward_seccomp_listener(&ours, &spec, &state, pid)?;
            msg = ours.recv()?;
        }
        match msg {
            Some(Msg::Ready) => {}
            Some(Msg::Error(e)) => {
                reap(pid);
                return Err(Error::Init(e));
            }
            other => {
                reap(pid);
                return Err(Error::Init(format!("exec: process ended early ({other:?})")));
            }
        }
        if let Some(p) = &o.pid_file {
            super::create::write_pid_file(p, pid)?;
        }
        if o.detach {
            return Ok(pid);
        }
        Ok(super::wait_foreground(pid))
    }
}
