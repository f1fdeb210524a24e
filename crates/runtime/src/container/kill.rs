//! `kill`: signals a container's init, or every process in its cgroup.

use nix::sys::signal::Signal;
use nix::unistd::Pid;

use super::Runtime;
use crate::cgroups::FreezerState;
use crate::error::{Error, Result, sys};
use crate::state::Status;

/// Parses a signal as runc accepts it: a number, "KILL", or "SIGKILL".
pub fn parse_signal(s: &str) -> Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        if (1..=64).contains(&n) {
            return Ok(n);
        }
        return Err(Error::Usage(format!("invalid signal: {s}")));
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") { up } else { format!("SIG{up}") };
    if let Some(rest) = name.strip_prefix("SIGRTMIN")
        && let Some(off) = parse_rt_offset(rest)
    {
        return Ok(libc::SIGRTMIN() + off);
    }
    if let Some(rest) = name.strip_prefix("SIGRTMAX")
        && let Some(off) = parse_rt_offset(rest)
    {
        return Ok(libc::SIGRTMAX() - off);
    }
    name.parse::<Signal>()
        .map(|s| s as i32)
        .map_err(|_| Error::Usage(format!("unknown signal \"{s}\"")))
}

fn parse_rt_offset(rest: &str) -> Option<i32> {
    if rest.is_empty() {
        return Some(0);
    }
    let n: i32 = rest.trim_start_matches(['+', '-']).parse().ok()?;
    Some(n)
}

impl Runtime {
    /// Sends `signal` to the container's init, or with `all` to every process in its
    /// cgroup.
    pub fn kill(&self, id: &str, signal: i32, all: bool) -> Result<()> {
        let s = self.root.load(id)?;
        // With `all`, a stopped container is no error (as in runc): without a pid
        // namespace of its own, processes outlive init in its cgroup, and `kill --all`
        // is how an engine (podman stop of a --pid host container) ends them.
        let status = self.status(&s);
        if status == Status::Stopped && !all {
            return Err(Error::WrongState("container not running".into()));
        }
        if status == Status::Creating {
            return Err(Error::WrongState(
                "container is still being created (or its create was interrupted: delete --force it)".into(),
            ));
        }
        let send = |pid: i32| -> Result<()> {
            let r = send_signal(pid, signal);
            match r {
                Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(()),
                Err(e) => Err(sys(format!("cannot send signal {signal} to pid {pid}"))(e)),
            }
        };
        if all {
            for pid in self.cgroup(&s)?.procs()? {
                send(pid)?;
            }
        } else {
            send(s.pid)?;
        }
        // A v1 freezer holds even SIGKILL until the cgroup thaws, so a paused
        // container would never die: runc thaws it after a SIGKILL, and engines count
        // on that (podman kill or rm -f of a paused container waits for the exit;
        // containerd's kill then delete refuses a task still paused).
        if status == Status::Paused && signal == libc::SIGKILL {
            // The container may already be gone, its cgroup removed by whoever
            // reaped it: then there is nothing left to thaw.
            if let Err(e) = self.cgroup(&s).and_then(|cg| Ok(cg.set_freezer(FreezerState::Thawed)?))
                && s.alive()
            {
                return Err(e);
            }
        }
        Ok(())
    }
}

/// nix's `Signal` cannot hold real-time signals; those go through a raw kill.
fn send_signal(pid: i32, signal: i32) -> std::result::Result<(), nix::errno::Errno> {
    match Signal::try_from(signal) {
        Ok(sig) => nix::sys::signal::kill(Pid::from_raw(pid), sig),
        Err(_) => crate::sys::kill_raw(pid, signal),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_name_and_number() {
        assert_eq!(parse_signal("9").unwrap(), 9);
        assert_eq!(parse_signal("KILL").unwrap(), 9);
        assert_eq!(parse_signal("sigterm").unwrap(), 15);
        assert_eq!(parse_signal("SIGRTMIN+1").unwrap(), libc::SIGRTMIN() + 1);
        assert!(parse_signal("BOGUS").is_err());
        assert!(parse_signal("0").is_err());
    }
}
