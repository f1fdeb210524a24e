//! `stop`, `kill` and `wait`: signals through the runtime, and waiting on the
//! container's monitor (a pidfd turns readable when it exits) until it has
//! recorded the end.

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::Engine;
use crate::error::{Error, Result};
use crate::monitor;
use crate::record::{Container, Status};

/// Seconds `stop` waits after the stop signal when neither `-t` nor
/// `--stop-timeout` says otherwise (Docker's default).
pub const DEFAULT_STOP_TIMEOUT: u32 = 10;

/// Waits up to `timeout` (forever with `None`) for process `pid` to exit; true when
/// it has (or never existed).
fn wait_pid(pid: i32, timeout: Option<Duration>) -> bool {
    let Ok(fd) = berth_runtime::sys::pidfd_open(pid) else {
        return true;
    };
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        let left = match deadline {
            Some(d) => {
                let now = Instant::now();
                if now >= d {
                    return false;
                }
                PollTimeout::from((d - now).as_millis().min(60_000) as u16)
            }
            None => PollTimeout::from(60_000u16),
        };
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, left) {
            Ok(n) if n > 0 => return true,
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(_) => return true,
        }
    }
}

/// Parses a signal as Docker's `kill -s` and `--stop-signal` take it.
pub fn parse_signal(s: &str) -> Result<i32> {
    berth_runtime::container::parse_signal(s)
        .map_err(|_| Error::InvalidArgument(format!("Invalid signal: {s}")))
}

/// The signal `stop` sends container `c` first: its `--stop-signal`, else SIGTERM.
fn stop_signal(c: &Container) -> Result<i32> {
    if c.config.stop_signal.is_empty() {
        Ok(libc::SIGTERM)
    } else {
        parse_signal(&c.config.stop_signal)
    }
}

impl Engine {
    /// Waits until `c`'s monitor has exited (it records the end before), up to
    /// `timeout`; returns the reloaded record.
    pub fn wait_monitor(&self, c: &Container, timeout: Option<Duration>) -> Result<Container> {
        if monitor::alive(c) {
            wait_pid(c.state.monitor_pid, timeout);
        }
        self.reconcile(self.containers().load(&c.id)?)
    }

    /// Sends `signal` to container `key`'s init (to every process of it for
    /// SIGKILL). Docker's error when it is not running. SIGKILL and the stop signal
    /// count as a user's stop: the restart policy does not bring it back.
    pub fn kill(&self, key: &str, signal: i32) -> Result<Container> {
        let c = self.find(key)?;
        if c.state.status != Status::Running {
            return Err(Error::Conflict(format!(
                "cannot kill container: {key}: container {} is not running",
                c.id
            )));
        }
        let stop_sig = stop_signal(&c)?;
        if signal == libc::SIGKILL || signal == stop_sig {
            self.containers()
                .update(&c.id, |c| c.state.manual_stop = true)?;
        }
        let rt = self.runtime()?;
        self.thaw_if_paused(&rt, &c);
        rt.kill(&c.id, signal, signal == libc::SIGKILL)?;
        Ok(c)
    }

    /// Stops container `key`: its stop signal, then SIGKILL after `timeout` seconds;
    /// returns once the monitor has recorded the exit. A container that does not run
    /// is left alone.
    pub fn stop(&self, key: &str, timeout: Option<u32>) -> Result<Container> {
        let c = self.find(key)?;
        if c.state.status == Status::Restarting {
            self.containers()
                .update(&c.id, |c| c.state.manual_stop = true)?;
            return self.wait_monitor(&c, Some(Duration::from_secs(10)));
        }
        if c.state.status != Status::Running {
            return Ok(c);
        }
        self.containers()
            .update(&c.id, |c| c.state.manual_stop = true)?;
        let rt = self.runtime()?;
        let sig = stop_signal(&c)?;
        let t = timeout
            .or(c.config.stop_timeout)
            .unwrap_or(DEFAULT_STOP_TIMEOUT);
        self.thaw_if_paused(&rt, &c);
        let _ = rt.kill(&c.id, sig, false);
        if !wait_pid(c.state.pid, Some(Duration::from_secs(t as u64))) {
            let _ = rt.kill(&c.id, libc::SIGKILL, true);
            wait_pid(c.state.pid, Some(Duration::from_secs(10)));
        }
        self.wait_monitor(&c, Some(Duration::from_secs(10)))
    }

    /// A frozen process receives signals only once thawed: a paused container is
    /// thawed before it is stopped or killed (the runtime's own thaw after SIGKILL
    /// races with the cgroup's removal once the container dies).
    pub(crate) fn thaw_if_paused(&self, rt: &berth_runtime::Runtime, c: &Container) {
        if c.state.paused {
            let _ = rt.resume(&c.id);
            let _ = self.containers().update(&c.id, |c| c.state.paused = false);
        }
    }

    /// Blocks until container `key` is not running; returns its exit code.
    pub fn wait(&self, key: &str) -> Result<i32> {
        let c = self.find(key)?;
        if !matches!(c.state.status, Status::Running | Status::Restarting) {
            return Ok(c.state.exit_code);
        }
        let id = c.id.clone();
        loop {
            let c = match self.wait_monitor(&c, None) {
                Ok(c) => c,
                // Removed on exit (--rm): the code went with it.
                Err(Error::NoSuchContainer(_)) => return Err(Error::NoSuchContainer(id)),
                Err(e) => return Err(e),
            };
            if !matches!(c.state.status, Status::Running | Status::Restarting) {
                return Ok(c.state.exit_code);
            }
            // The monitor is gone but the process runs on: poll the process.
            if !monitor::alive(&c) {
                wait_pid(c.state.pid, Some(Duration::from_secs(1)));
                std::thread::sleep(monitor::POLL);
            }
        }
    }

    /// Passes the signals the calling process receives (INT, TERM, HUP, QUIT, USR1,
    /// USR2) on to container `id`'s init, as docker's `--sig-proxy` does for a
    /// foreground `run`: they are blocked in the caller and relayed by a thread.
    /// Call after any process was spawned (children inherit the blocked mask).
    pub fn proxy_signals(&self, id: &str) {
        let sigs = [
            libc::SIGINT,
            libc::SIGTERM,
            libc::SIGHUP,
            libc::SIGQUIT,
            libc::SIGUSR1,
            libc::SIGUSR2,
        ];
        let Ok(rt) = self.runtime() else { return };
        if berth_runtime::sys::block_signals(&sigs).is_err() {
            return;
        }
        let id = id.to_string();
        std::thread::spawn(move || {
            loop {
                if let Some(s) = berth_runtime::sys::wait_signal(&sigs, 1000) {
                    let _ = rt.kill(&id, s, false);
                }
            }
        });
    }
}
