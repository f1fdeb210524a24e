//! Health checks, run by the monitor: every interval a command runs in the
//! container (as `exec` does); its exit code makes the container healthy or, after
//! `retries` failures in a row, unhealthy. Failures during the start period do not
//! count. The last five results are kept, as Docker keeps them.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::Engine;
use crate::error::{Error, Result};
use crate::record::now;

/// Docker's defaults.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_RETRIES: u32 = 3;
/// Output kept per result.
const MAX_OUTPUT: usize = 4096;

/// A container's health check (Docker's `Healthcheck`, durations in nanoseconds).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Healthcheck {
    /// `["CMD", args...]`, `["CMD-SHELL", command]` or `["NONE"]`.
    pub test: Vec<String>,
    /// Between checks (0: 30 s).
    #[serde(default)]
    pub interval: u64,
    /// A check's time limit (0: 30 s).
    #[serde(default)]
    pub timeout: u64,
    /// Failures in a row that make the container unhealthy (0: 3).
    #[serde(default)]
    pub retries: u32,
    /// Time after start when failures do not count.
    #[serde(default)]
    pub start_period: u64,
}

impl Healthcheck {
    /// The command a check runs, or `None` when checks are off.
    pub fn argv(&self) -> Option<Vec<String>> {
        match self.test.first().map(String::as_str) {
            Some("CMD") if self.test.len() > 1 => Some(self.test[1..].to_vec()),
            Some("CMD-SHELL") if self.test.len() > 1 => Some(vec![
                "/bin/sh".into(),
                "-c".into(),
                self.test[1..].join(" "),
            ]),
            _ => None,
        }
    }

    fn interval(&self) -> Duration {
        if self.interval == 0 {
            DEFAULT_INTERVAL
        } else {
            Duration::from_nanos(self.interval)
        }
    }

    fn timeout(&self) -> Duration {
        if self.timeout == 0 {
            DEFAULT_TIMEOUT
        } else {
            Duration::from_nanos(self.timeout)
        }
    }

    fn retries(&self) -> u32 {
        if self.retries == 0 {
            DEFAULT_RETRIES
        } else {
            self.retries
        }
    }
}

/// Parses a Go duration (`30s`, `1m30s`, `500ms`) into nanoseconds.
pub fn parse_duration(s: &str) -> Option<u64> {
    let secs = crate::logs::parse_since(s, 0.0).map(|v| -v)?;
    if s.parse::<f64>().is_ok() || secs < 0.0 {
        return None;
    }
    Some((secs * 1e9).round() as u64)
}

/// One check's result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Probe {
    /// When it started.
    pub start: String,
    /// When it ended.
    pub end: String,
    /// Its exit code (-1 when it timed out or could not run).
    pub exit_code: i32,
    /// What it printed (the first 4 KiB).
    pub output: String,
}

/// Docker's `State.Health`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    /// "starting", "healthy" or "unhealthy".
    pub status: String,
    /// Failures in a row.
    pub failing_streak: u32,
    /// The last results, oldest first.
    pub log: Vec<Probe>,
}

/// A check in progress.
struct Running {
    pid: i32,
    pidfd: OwnedFd,
    output: OwnedFd,
    started: Instant,
    start: String,
}

/// Runs a container's checks from the monitor's loop.
pub struct Checker {
    check: Healthcheck,
    argv: Vec<String>,
    began: Instant,
    next: Instant,
    running: Option<Running>,
}

impl Checker {
    /// A checker for a container that just started, or `None` without a check.
    pub fn new(check: &Healthcheck) -> Option<Checker> {
        let argv = check.argv()?;
        let now = Instant::now();
        Some(Checker {
            check: check.clone(),
            argv,
            began: now,
            next: now + check.interval(),
            running: None,
        })
    }

    /// How long the monitor may sleep before [`Checker::tick`] has work.
    pub fn wake_in(&self) -> Duration {
        let at = match &self.running {
            Some(r) => r.started + self.check.timeout(),
            None => self.next,
        };
        at.saturating_duration_since(Instant::now())
    }

    /// The descriptor that turns readable when the running check ends.
    pub fn wait_fd(&self) -> Option<BorrowedFd<'_>> {
        self.running.as_ref().map(|r| r.pidfd.as_fd())
    }

    /// Starts a check when one is due; ends one that overran its timeout.
    pub fn tick(&mut self, engine: &Engine, id: &str) {
        let now = Instant::now();
        if let Some(r) = &self.running {
            if now >= r.started + self.check.timeout() {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(r.pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
                let r = self.running.take().expect("checked above");
                let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(r.pid), None);
                let msg = format!("Health check exceeded timeout ({:?})", self.check.timeout());
                self.record(engine, id, r.start, -1, msg);
            }
            return;
        }
        if now < self.next {
            return;
        }
        self.next = now + self.check.interval();
        let start = now_string();
        match self.spawn(engine, id) {
            Ok((pid, pidfd, output)) => {
                self.running = Some(Running {
                    pid,
                    pidfd,
                    output,
                    started: now,
                    start,
                })
            }
            Err(e) => self.record(engine, id, start, -1, e.to_string()),
        }
    }

    /// Collects the result of the check that ended.
    pub fn finish(&mut self, engine: &Engine, id: &str) {
        let Some(r) = self.running.take() else { return };
        let code = match nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(r.pid), None) {
            Ok(nix::sys::wait::WaitStatus::Exited(_, c)) => c,
            Ok(nix::sys::wait::WaitStatus::Signaled(_, s, _)) => 128 + s as i32,
            _ => -1,
        };
        let mut out = Vec::new();
        let mut buf = [0u8; 1024];
        while out.len() < MAX_OUTPUT {
            match nix::unistd::read(&r.output, &mut buf) {
                Ok(n) if n > 0 => out.extend_from_slice(&buf[..n]),
                _ => break,
            }
        }
        out.truncate(MAX_OUTPUT);
        self.record(
            engine,
            id,
            r.start,
            code,
            String::from_utf8_lossy(&out).into_owned(),
        );
    }

    fn spawn(&self, engine: &Engine, id: &str) -> Result<(i32, OwnedFd, OwnedFd)> {
        let rt = engine.runtime()?;
        let mut p = rt.config_process(id)?;
        p.set_args(Some(self.argv.clone()));
        p.set_terminal(Some(false));
        p.set_oom_score_adj(None);
        let (r, w) =
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK)
                .map_err(|e| Error::Io {
                    what: "create a health check's output pipe".into(),
                    source: e.into(),
                })?;
        let null = std::fs::File::options()
            .read(true)
            .write(true)
            .open("/dev/null")
            .map_err(crate::error::io("open /dev/null"))?;
        // The runtime gives the process the caller's stdio.
        let _ = nix::unistd::dup2_stdout(&w);
        let _ = nix::unistd::dup2_stderr(&w);
        let pid = rt.exec(
            id,
            &p,
            &berth_runtime::ExecOptions {
                detach: true,
                ..Default::default()
            },
        );
        let _ = nix::unistd::dup2_stdout(&null);
        let _ = nix::unistd::dup2_stderr(&null);
        drop(w);
        let pid = pid?;
        let pidfd = berth_runtime::sys::pidfd_open(pid).map_err(|e| Error::Io {
            what: format!("open a pidfd for health check {pid}"),
            source: e.into(),
        })?;
        let _ = r.as_raw_fd();
        Ok((pid, pidfd, r))
    }

    fn record(&mut self, engine: &Engine, id: &str, start: String, code: i32, output: String) {
        let in_start_period = self.began.elapsed() < Duration::from_nanos(self.check.start_period);
        let retries = self.check.retries();
        let _ = engine.containers().update(id, |c| {
            let h = c.state.health.get_or_insert_with(|| Health {
                status: "starting".into(),
                failing_streak: 0,
                log: Vec::new(),
            });
            if code == 0 {
                h.status = "healthy".into();
                h.failing_streak = 0;
            } else if !(in_start_period && h.status == "starting") {
                h.failing_streak += 1;
                if h.failing_streak >= retries {
                    h.status = "unhealthy".into();
                }
            }
            h.log.push(Probe {
                start,
                end: now_string(),
                exit_code: code,
                output,
            });
            let extra = h.log.len().saturating_sub(5);
            h.log.drain(..extra);
        });
    }
}

fn now_string() -> String {
    crate::logs::go_nano(&now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_and_durations() {
        let h = Healthcheck {
            test: vec!["CMD-SHELL".into(), "exit 1".into()],
            ..Default::default()
        };
        assert_eq!(h.argv().unwrap(), ["/bin/sh", "-c", "exit 1"]);
        let h = Healthcheck {
            test: vec!["CMD".into(), "true".into()],
            ..Default::default()
        };
        assert_eq!(h.argv().unwrap(), ["true"]);
        assert!(
            Healthcheck {
                test: vec!["NONE".into()],
                ..Default::default()
            }
            .argv()
            .is_none()
        );
        assert_eq!(parse_duration("1m30s"), Some(90_000_000_000));
        assert_eq!(parse_duration("500ms"), Some(500_000_000));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("soon"), None);
    }
}
