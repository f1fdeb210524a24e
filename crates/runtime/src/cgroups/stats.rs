//! Statistics in the JSON shape of runc's `events --stats` data: cpu, memory, pids,
//! blkio and hugetlb, each filled with what the hierarchy offers. Missing files (a
//! controller not mounted, a kernel without some counter) leave their fields out
//! instead of failing: statistics are best effort, as in runc.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value, json};

use super::fs::{parse_u64, read_opt};
use super::{Result, Stats};

/// USER_HZ: cpuacct.stat counts in clock ticks, which the kernel always exports to
/// user space at 100 per second whatever its internal HZ.
const USER_HZ: u64 = 100;

/// `key value` lines (memory.stat, cpu.stat, memory.events) as a map.
pub(crate) fn flat_keyed(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_owned(), parse_u64(v.trim())?))
        })
        .collect()
}

/// v2 io.stat: `maj:min key=value ...` lines into runc's blkio entries.
pub(crate) fn io_stat(text: &str) -> (Vec<Value>, Vec<Value>) {
    let mut bytes = Vec::new();
    let mut ios = Vec::new();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let Some((major, minor)) = fields.next().and_then(dev) else {
            continue;
        };
        for f in fields {
            let Some((k, v)) = f.split_once('=') else {
                continue;
            };
            let Ok(v) = v.parse::<u64>() else { continue };
            let (list, op) = match k {
                "rbytes" => (&mut bytes, "Read"),
                "wbytes" => (&mut bytes, "Write"),
                "dbytes" => (&mut bytes, "Discard"),
                "rios" => (&mut ios, "Read"),
                "wios" => (&mut ios, "Write"),
                "dios" => (&mut ios, "Discard"),
                _ => continue,
            };
            list.push(json!({"major": major, "minor": minor, "op": op, "value": v}));
        }
    }
    (bytes, ios)
}

/// v1 blkio files: `maj:min Op value` lines (and a `Total value` line, skipped).
pub(crate) fn blkio_v1(text: &str) -> Vec<Value> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            let (major, minor) = dev(f.next()?)?;
            let (op, v) = match (f.next(), f.next()) {
                (Some(op), Some(v)) => (op, v),
                // blkio.sectors_recursive and friends have no op column.
                (Some(v), None) => ("", v),
                _ => return None,
            };
            let v: u64 = v.parse().ok()?;
            Some(json!({"major": major, "minor": minor, "op": op, "value": v}))
        })
        .collect()
}

fn dev(s: &str) -> Option<(u64, u64)> {
    let (a, b) = s.split_once(':')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// Space-separated numbers (cpuacct.usage_percpu).
pub(crate) fn numbers(text: &str) -> Vec<u64> {
    text.split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect()
}

/// Huge page sizes the kernel supports, named as cgroup files name them ("2MB").
pub(crate) fn hugepage_sizes() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/sys/kernel/mm/hugepages") else {
        return Vec::new();
    };
    let mut sizes: Vec<String> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let kb: u64 = name
                .strip_prefix("hugepages-")?
                .strip_suffix("kB")?
                .parse()
                .ok()?;
            Some(page_size_name(kb))
        })
        .collect();
    sizes.sort();
    sizes
}

/// 2048 (kB) -> "2MB", 1048576 -> "1GB", 64 -> "64KB".
pub(crate) fn page_size_name(kb: u64) -> String {
    if kb >= 1 << 20 && kb.is_multiple_of(1 << 20) {
        format!("{}GB", kb >> 20)
    } else if kb >= 1 << 10 && kb.is_multiple_of(1 << 10) {
        format!("{}MB", kb >> 10)
    } else {
        format!("{kb}KB")
    }
}

fn num(dir: &Path, file: &str) -> Result<Option<u64>> {
    Ok(read_opt(dir, file)?.and_then(|s| parse_u64(s.trim())))
}

fn keyed(dir: &Path, file: &str) -> Result<Option<BTreeMap<String, u64>>> {
    Ok(read_opt(dir, file)?.map(|s| flat_keyed(&s)))
}

/// Puts `v` under `k` when present.
fn put(m: &mut Map<String, Value>, k: &str, v: Option<u64>) {
    if let Some(v) = v {
        m.insert(k.to_owned(), v.into());
    }
}

/// A runc memory entry from the four files of one v1 counter family.
fn v1_memory_entry(dir: &Path, prefix: &str) -> Result<Option<Value>> {
    let Some(usage) = num(dir, &format!("{prefix}usage_in_bytes"))? else {
        return Ok(None);
    };
    let mut e = Map::new();
    put(&mut e, "usage", Some(usage));
    put(
        &mut e,
        "max",
        num(dir, &format!("{prefix}max_usage_in_bytes"))?,
    );
    put(
        &mut e,
        "failcnt",
        Some(num(dir, &format!("{prefix}failcnt"))?.unwrap_or(0)),
    );
    put(
        &mut e,
        "limit",
        Some(num(dir, &format!("{prefix}limit_in_bytes"))?.unwrap_or(0)),
    );
    Ok(Some(Value::Object(e)))
}

/// Where each v1 controller's directory is, for [`v1`].
pub(crate) struct V1Dirs<'a> {
    /// cpuacct hierarchy.
    pub cpuacct: Option<&'a Path>,
    /// cpu hierarchy.
    pub cpu: Option<&'a Path>,
    /// memory hierarchy.
    pub memory: Option<&'a Path>,
    /// pids hierarchy.
    pub pids: Option<&'a Path>,
    /// blkio hierarchy.
    pub blkio: Option<&'a Path>,
    /// hugetlb hierarchy.
    pub hugetlb: Option<&'a Path>,
}

/// Statistics from v1 hierarchies.
pub(crate) fn v1(d: &V1Dirs<'_>) -> Result<Stats> {
    let mut out = Map::new();
    let mut cpu = Map::new();
    if let Some(dir) = d.cpuacct {
        let mut usage = Map::new();
        put(&mut usage, "total", num(dir, "cpuacct.usage")?);
        if let Some(s) = read_opt(dir, "cpuacct.usage_percpu")? {
            usage.insert("percpu".into(), json!(numbers(&s)));
        }
        if let Some(s) = read_opt(dir, "cpuacct.usage_percpu_sys")? {
            usage.insert("percpu_kernel".into(), json!(numbers(&s)));
        }
        if let Some(s) = read_opt(dir, "cpuacct.usage_percpu_user")? {
            usage.insert("percpu_user".into(), json!(numbers(&s)));
        }
        if let Some(st) = keyed(dir, "cpuacct.stat")? {
            let ns = |ticks: u64| ticks * (1_000_000_000 / USER_HZ);
            put(&mut usage, "kernel", st.get("system").copied().map(ns));
            put(&mut usage, "user", st.get("user").copied().map(ns));
        }
        cpu.insert("usage".into(), Value::Object(usage));
    }
    if let Some(st) = d
        .cpu
        .map(|dir| keyed(dir, "cpu.stat"))
        .transpose()?
        .flatten()
    {
        cpu.insert(
            "throttling".into(),
            json!({
                "periods": st.get("nr_periods").copied().unwrap_or(0),
                "throttled_periods": st.get("nr_throttled").copied().unwrap_or(0),
                "throttled_time": st.get("throttled_time").copied().unwrap_or(0),
            }),
        );
    }
    if !cpu.is_empty() {
        out.insert("cpu".into(), Value::Object(cpu));
    }
    if let Some(dir) = d.memory {
        let mut mem = Map::new();
        for (key, prefix) in [
            ("usage", "memory."),
            ("swap", "memory.memsw."),
            ("kernel", "memory.kmem."),
            ("kernelTCP", "memory.kmem.tcp."),
        ] {
            if let Some(e) = v1_memory_entry(dir, prefix)? {
                mem.insert(key.into(), e);
            }
        }
        if let Some(raw) = keyed(dir, "memory.stat")? {
            put(&mut mem, "cache", raw.get("cache").copied());
            mem.insert("raw".into(), json!(raw));
        }
        out.insert("memory".into(), Value::Object(mem));
    }
    if let Some(dir) = d.pids {
        out.insert("pids".into(), pids(dir)?);
    }
    if let Some(dir) = d.blkio {
        let mut b = Map::new();
        for (key, file) in [
            ("ioServiceBytesRecursive", "io_service_bytes_recursive"),
            ("ioServicedRecursive", "io_serviced_recursive"),
            ("ioQueuedRecursive", "io_queued_recursive"),
            ("ioServiceTimeRecursive", "io_service_time_recursive"),
            ("ioWaitTimeRecursive", "io_wait_time_recursive"),
            ("ioMergedRecursive", "io_merged_recursive"),
            ("ioTimeRecursive", "time_recursive"),
            ("sectorsRecursive", "sectors_recursive"),
        ] {
            // The CFQ files, else BFQ's, else the throttling layer's (which counts
            // bytes and ios only), the order runc reads them in.
            let mut text = None;
            for prefix in ["blkio.", "blkio.bfq.", "blkio.throttle."] {
                if let Some(t) = read_opt(dir, &format!("{prefix}{file}"))? {
                    text = Some(t);
                    break;
                }
            }
            if let Some(t) = text {
                b.insert(key.into(), json!(blkio_v1(&t)));
            }
        }
        out.insert("blkio".into(), Value::Object(b));
    }
    if let Some(dir) = d.hugetlb {
        let mut h = Map::new();
        for size in hugepage_sizes() {
            let Some(usage) = num(dir, &format!("hugetlb.{size}.usage_in_bytes"))? else {
                continue;
            };
            h.insert(
                size.clone(),
                json!({
                    "usage": usage,
                    "max": num(dir, &format!("hugetlb.{size}.max_usage_in_bytes"))?.unwrap_or(0),
                    "failcnt": num(dir, &format!("hugetlb.{size}.failcnt"))?.unwrap_or(0),
                }),
            );
        }
        out.insert("hugetlb".into(), Value::Object(h));
    }
    Ok(Value::Object(out))
}

fn pids(dir: &Path) -> Result<Value> {
    // runc reports an unlimited pids.max as 0.
    let limit = num(dir, "pids.max")?
        .filter(|&l| l != u64::MAX)
        .unwrap_or(0);
    Ok(json!({"current": num(dir, "pids.current")?.unwrap_or(0), "limit": limit}))
}

/// Statistics from a v2 cgroup.
pub(crate) fn v2(dir: &Path) -> Result<Stats> {
    let mut out = Map::new();
    if let Some(st) = keyed(dir, "cpu.stat")? {
        let us = |k: &str| st.get(k).map(|v| v * 1000);
        let mut usage = Map::new();
        put(&mut usage, "total", us("usage_usec"));
        put(&mut usage, "kernel", us("system_usec"));
        put(&mut usage, "user", us("user_usec"));
        let mut cpu = Map::new();
        cpu.insert("usage".into(), Value::Object(usage));
        if st.contains_key("nr_periods") {
            cpu.insert(
                "throttling".into(),
                json!({
                    "periods": st.get("nr_periods").copied().unwrap_or(0),
                    "throttled_periods": st.get("nr_throttled").copied().unwrap_or(0),
                    "throttled_time": us("throttled_usec").unwrap_or(0),
                }),
            );
        }
        out.insert("cpu".into(), Value::Object(cpu));
    }
    if let Some(current) = num(dir, "memory.current")? {
        let mut mem = Map::new();
        let limit = num(dir, "memory.max")?.unwrap_or(u64::MAX);
        let events = keyed(dir, "memory.events")?.unwrap_or_default();
        let mut usage = Map::new();
        put(&mut usage, "usage", Some(current));
        put(&mut usage, "limit", Some(limit));
        put(&mut usage, "max", num(dir, "memory.peak")?);
        put(
            &mut usage,
            "failcnt",
            Some(events.get("max").copied().unwrap_or(0)),
        );
        mem.insert("usage".into(), Value::Object(usage));
        if let Some(swap) = num(dir, "memory.swap.current")? {
            // v1 counted memory+swap together; runc keeps that meaning on v2 so that
            // consumers of the stats see one definition.
            let swap_max = num(dir, "memory.swap.max")?.unwrap_or(u64::MAX);
            let mut s = Map::new();
            put(&mut s, "usage", Some(swap.saturating_add(current)));
            put(&mut s, "limit", Some(swap_max.saturating_add(limit)));
            put(
                &mut s,
                "max",
                num(dir, "memory.swap.peak")?.map(|p| p.saturating_add(current)),
            );
            put(&mut s, "failcnt", Some(0));
            mem.insert("swap".into(), Value::Object(s));
        }
        if let Some(raw) = keyed(dir, "memory.stat")? {
            put(&mut mem, "cache", raw.get("file").copied());
            mem.insert("raw".into(), json!(raw));
        }
        out.insert("memory".into(), Value::Object(mem));
    }
    if read_opt(dir, "pids.current")?.is_some() {
        out.insert("pids".into(), pids(dir)?);
    }
    if let Some(t) = read_opt(dir, "io.stat")? {
        let (bytes, ios) = io_stat(&t);
        out.insert(
            "blkio".into(),
            json!({"ioServiceBytesRecursive": bytes, "ioServicedRecursive": ios}),
        );
    }
    let mut h = Map::new();
    for size in hugepage_sizes() {
        let Some(usage) = num(dir, &format!("hugetlb.{size}.current"))? else {
            continue;
        };
        let events = keyed(dir, &format!("hugetlb.{size}.events"))?.unwrap_or_default();
        h.insert(
            size.clone(),
            json!({
                "usage": usage,
                "max": num(dir, &format!("hugetlb.{size}.max"))?.unwrap_or(u64::MAX),
                "failcnt": events.get("max").copied().unwrap_or(0),
            }),
        );
    }
    if !h.is_empty() {
        out.insert("hugetlb".into(), Value::Object(h));
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsers() {
        let m = flat_keyed("cache 4096\nrss 8192\nbogus\n");
        assert_eq!(m.get("cache"), Some(&4096));
        assert_eq!(m.len(), 2);
        let (bytes, ios) = io_stat("8:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n");
        assert_eq!(
            bytes[1],
            json!({"major": 8, "minor": 0, "op": "Write", "value": 20})
        );
        assert_eq!(ios.len(), 3);
        let v1 = blkio_v1("8:0 Read 100\n8:0 Write 5\n8:0 Total 105\nTotal 105\n");
        assert_eq!(v1.len(), 3);
        assert_eq!(
            v1[0],
            json!({"major": 8, "minor": 0, "op": "Read", "value": 100})
        );
        assert_eq!(numbers("1 2 3 \n"), vec![1, 2, 3]);
        assert_eq!(page_size_name(2048), "2MB");
        assert_eq!(page_size_name(1 << 20), "1GB");
        assert_eq!(page_size_name(64), "64KB");
    }

    #[test]
    fn v2_shape_from_files() {
        let dir = std::env::temp_dir().join(format!("berth-cg-stats-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (f, v) in [
            (
                "cpu.stat",
                "usage_usec 5\nuser_usec 3\nsystem_usec 2\nnr_periods 7\nnr_throttled 1\nthrottled_usec 9\n",
            ),
            ("memory.current", "1000\n"),
            ("memory.max", "max\n"),
            ("memory.events", "low 0\nhigh 0\nmax 4\noom 0\n"),
            ("memory.stat", "anon 10\nfile 20\n"),
            ("pids.current", "3\n"),
            ("pids.max", "20\n"),
            ("io.stat", "8:16 rbytes=1 wbytes=2 rios=3 wios=4\n"),
        ] {
            std::fs::write(dir.join(f), v).unwrap();
        }
        let s = v2(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(s["cpu"]["usage"]["total"], 5000);
        assert_eq!(s["cpu"]["throttling"]["throttled_time"], 9000);
        assert_eq!(s["memory"]["usage"]["usage"], 1000);
        assert_eq!(s["memory"]["usage"]["limit"], u64::MAX);
        assert_eq!(s["memory"]["usage"]["failcnt"], 4);
        assert_eq!(s["memory"]["cache"], 20);
        assert_eq!(s["memory"]["raw"]["anon"], 10);
        assert_eq!(s["pids"], json!({"current": 3, "limit": 20}));
        assert_eq!(s["blkio"]["ioServicedRecursive"][1]["value"], 4);
        assert!(
            s.get("hugetlb").is_none(),
            "no hugetlb files, no hugetlb section"
        );
    }
}
