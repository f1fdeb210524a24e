//! `stats`: a running container's resource use from its cgroup (through the
//! runtime) and its network namespace, in the numbers Docker shows.

use std::time::{Duration, Instant};

use crate::Engine;
use crate::error::{Error, Result};
use crate::record::{Container, Status};

/// One sample of a container's resource use.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sample {
    /// CPU time used so far, nanoseconds.
    pub cpu_ns: u64,
    /// Memory in use without the page cache that can be dropped, bytes.
    pub mem_usage: u64,
    /// Memory limit (the host's memory when unlimited), bytes.
    pub mem_limit: u64,
    /// Bytes received and sent on its network interfaces (loopback aside).
    pub net: (u64, u64),
    /// Bytes read from and written to block devices.
    pub block: (u64, u64),
    /// Processes.
    pub pids: u64,
}

/// What `stats` shows for one container.
#[derive(Clone, Debug, PartialEq)]
pub struct Usage {
    /// CPU use over the sampling interval, percent of one CPU.
    pub cpu_percent: f64,
    /// The later sample.
    pub sample: Sample,
}

fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// Bytes received and sent by `pid`'s network namespace, loopback aside.
fn net_bytes(pid: i32) -> (u64, u64) {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/net/dev")) else {
        return (0, 0);
    };
    let mut rx = 0;
    let mut tx = 0;
    for l in text.lines().skip(2) {
        let Some((name, rest)) = l.split_once(':') else {
            continue;
        };
        if name.trim() == "lo" {
            continue;
        }
        let f: Vec<u64> = rest
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        rx += f.first().copied().unwrap_or(0);
        tx += f.get(8).copied().unwrap_or(0);
    }
    (rx, tx)
}

fn num(v: &serde_json::Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

impl Engine {
    /// Samples running container `c` once.
    pub fn sample(&self, c: &Container) -> Result<Sample> {
        let ev = self.runtime()?.stats_event(&c.id)?;
        let d = &ev["data"];
        let raw = &d["memory"]["raw"];
        let inactive = num(&raw["total_inactive_file"]).max(num(&raw["inactive_file"]));
        let usage = num(&d["memory"]["usage"]["usage"]).saturating_sub(inactive);
        let limit = num(&d["memory"]["usage"]["limit"]);
        let host = host_memory();
        let mut block = (0, 0);
        for e in d["blkio"]["ioServiceBytesRecursive"]
            .as_array()
            .into_iter()
            .flatten()
        {
            match e["op"].as_str().map(str::to_ascii_lowercase).as_deref() {
                Some("read") => block.0 += num(&e["value"]),
                Some("write") => block.1 += num(&e["value"]),
                _ => {}
            }
        }
        Ok(Sample {
            cpu_ns: num(&d["cpu"]["usage"]["total"]),
            mem_usage: usage,
            mem_limit: if limit == 0 || limit > host {
                host
            } else {
                limit
            },
            net: net_bytes(c.state.pid),
            block,
            pids: num(&d["pids"]["current"]),
        })
    }

    /// Samples container `key` twice, `interval` apart, for its CPU use.
    pub fn usage(&self, key: &str, interval: Duration) -> Result<(Container, Usage)> {
        let c = self.find(key)?;
        if c.state.status != Status::Running {
            return Err(Error::Conflict(format!(
                "container {} is not running",
                c.id
            )));
        }
        let t0 = Instant::now();
        let a = self.sample(&c)?;
        std::thread::sleep(interval);
        let b = self.sample(&c)?;
        let wall = t0.elapsed().as_nanos().max(1) as f64;
        let cpu_percent = (b.cpu_ns.saturating_sub(a.cpu_ns)) as f64 / wall * 100.0;
        Ok((
            c,
            Usage {
                cpu_percent,
                sample: b,
            },
        ))
    }
}
