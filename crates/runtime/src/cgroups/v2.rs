//! cgroup v2: one unified hierarchy. Controllers must be enabled in every ancestor's
//! cgroup.subtree_control before their files appear in the container's cgroup, and
//! device access is an eBPF program instead of a controller.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxResources};

use super::detect::{OwnCgroups, V2Mount};
use super::path::{CgroupPath, in_hierarchy};
use super::v1::wait_state;
use super::{Error, FreezerState, Manager, Result, Stats, devices, devices_bpf, fs, stats};

/// A container's cgroup on a v2 host.
#[derive(Debug)]
pub(crate) struct V2Manager {
    mount_point: PathBuf,
    path: PathBuf,
}

/// crun's conversion of v1 cpu.shares (2..262144, default 1024) to v2 cpu.weight
/// (1..10000, default 100): a straight line through both ranges' ends.
pub(crate) fn shares_to_weight(shares: u64) -> u64 {
    let s = shares.clamp(2, 262_144);
    1 + ((s - 2) * 9999) / 262_142
}

/// runc's conversion of a v1 blkio weight (10..1000) to v2 io.weight (1..10000).
pub(crate) fn blkio_to_io_weight(w: u16) -> u64 {
    let w = u64::from(w.clamp(10, 1000));
    1 + (w - 10) * 9999 / 990
}

/// The value for memory.swap.max from the spec's memory and swap, which v1 counted
/// together (swap = memory + swap) and v2 counts apart. None leaves the file alone.
pub(crate) fn swap_max(limit: Option<i64>, swap: Option<i64>) -> Result<Option<String>> {
    match (limit, swap) {
        // Unlimited memory without a word on swap lifts swap too, as v1 would have.
        (Some(-1), None) => Ok(Some("max".into())),
        (_, None) => Ok(None),
        (_, Some(-1)) => Ok(Some("max".into())),
        (None, Some(s)) | (Some(-1), Some(s)) => Err(Error::Config(format!(
            "memory+swap limit {s} needs a memory limit: memory.swap counts memory and swap together"
        ))),
        (Some(l), Some(s)) if s < l => Err(Error::Config(format!(
            "memory+swap limit {s} is below the memory limit {l}: memory.swap counts memory and swap together"
        ))),
        (Some(l), Some(s)) => Ok(Some((s - l).to_string())),
    }
}

/// The value for cpu.max; `current` is the file's present content, read only when the
/// period changes alone (the quota then stays as it is).
pub(crate) fn cpu_max(quota: Option<i64>, period: Option<u64>, current: Option<&str>) -> String {
    let quota = match quota {
        Some(q) if q > 0 => q.to_string(),
        Some(_) => "max".to_owned(),
        None => current
            .and_then(|c| c.split_whitespace().next())
            .unwrap_or("max")
            .to_owned(),
    };
    match period {
        Some(p) => format!("{quota} {p}"),
        None => quota,
    }
}

/// memory.max and friends: -1 (unlimited) is "max".
fn mem_value(v: i64) -> String {
    if v < 0 { "max".into() } else { v.to_string() }
}

impl V2Manager {
    /// Places `path` in the unified hierarchy `mount`.
    pub fn new(mount: &V2Mount, own: Option<&OwnCgroups>, path: &CgroupPath) -> V2Manager {
        let own = own.and_then(|o| o.v2.as_deref());
        V2Manager {
            mount_point: mount.mount_point.clone(),
            path: in_hierarchy(&mount.mount_point, &mount.root, own, path),
        }
    }

    /// Enables every controller the hierarchy offers in each ancestor of the
    /// container's cgroup, from the top down.
    fn enable_controllers(&self) -> Result<()> {
        let available = fs::read(&self.mount_point, "cgroup.controllers")?;
        let available: Vec<&str> = available.split_whitespace().collect();
        if available.is_empty() {
            return Ok(());
        }
        let below = self
            .path
            .strip_prefix(&self.mount_point)
            .unwrap_or(Path::new(""));
        // Each component's parent hands controllers down to it; the leaf itself
        // enables nothing, as it holds the processes and a cgroup with processes
        // cannot hand controllers down.
        let mut level = self.mount_point.clone();
        for part in below.components() {
            let enabled = fs::read(&level, "cgroup.subtree_control")?;
            let enabled: Vec<&str> = enabled.split_whitespace().collect();
            let missing: Vec<String> = available
                .iter()
                .filter(|c| !enabled.contains(c))
                .map(|c| format!("+{c}"))
                .collect();
            if !missing.is_empty()
                && fs::write(&level, "cgroup.subtree_control", &missing.join(" ")).is_err()
            {
                // One refusal (a threaded subtree refusing a domain controller, say)
                // must not cost the others. A controller left off shows up later as
                // a missing file, with an error naming the limit that needed it.
                for c in &missing {
                    let _ = fs::write(&level, "cgroup.subtree_control", c);
                }
            }
            level.push(part);
        }
        Ok(())
    }

    fn apply_all(&self, r: &LinuxResources) -> Result<()> {
        if let Some(m) = r.memory() {
            self.memory(m)?;
        }
        if let Some(c) = r.cpu() {
            self.cpu(c)?;
        }
        if let Some(p) = r.pids()
            && p.limit() != 0
        {
            let v = if p.limit() > 0 {
                p.limit().to_string()
            } else {
                "max".into()
            };
            fs::write(&self.path, "pids.max", &v)?;
        }
        if let Some(b) = r.block_io() {
            self.io(b)?;
        }
        for h in r.hugepage_limits().iter().flatten() {
            let size = super::check_page_size(h.page_size())?;
            let v = mem_value(h.limit());
            fs::write(&self.path, &format!("hugetlb.{size}.max"), &v)?;
            let rsvd = format!("hugetlb.{size}.rsvd.max");
            if self.path.join(&rsvd).exists() {
                fs::write(&self.path, &rsvd, &v)?;
            }
        }
        if let Some(rdma) = r.rdma() {
            for (dev, l) in rdma {
                fs::write(&self.path, "rdma.max", &super::rdma_line(dev, l))?;
            }
        }
        // net_cls and net_prio have no v2 counterpart (eBPF does that job): ignored.
        if let Some(list) = r.devices() {
            devices_bpf::apply(&self.path, &devices::rules(list)?)?;
        }
        // Last, so that a unified key overrides what the typed fields wrote.
        if let Some(u) = r.unified() {
            let mut keys: Vec<_> = u.iter().collect();
            keys.sort();
            for (k, v) in keys {
                check_unified_key(k)?;
                fs::write(&self.path, k, v)?;
            }
        }
        Ok(())
    }

    /// A limit file missing on v2 nearly always means its controller is not enabled
    /// for the cgroup; say which and where, instead of "no such file".
    fn explain_missing(&self, e: Error) -> Error {
        let Error::Write {
            file,
            value,
            dir,
            source,
        } = &e
        else {
            return e;
        };
        let controller = file.split('.').next().unwrap_or_default();
        if source.raw_os_error() != Some(libc::ENOENT) || controller == "cgroup" {
            return e;
        }
        let parent = dir.parent().unwrap_or(&self.mount_point);
        let (Ok(offered), Ok(enabled)) = (
            fs::read(&self.mount_point, "cgroup.controllers"),
            fs::read(parent, "cgroup.subtree_control"),
        ) else {
            // Not a cgroup2 hierarchy that can tell more: the kernel's word stands.
            return e;
        };
        let why = if !offered.split_whitespace().any(|c| c == controller) {
            format!(
                "this host offers no {controller} controller in {} (cgroup.controllers: {})",
                self.mount_point.display(),
                offered.trim()
            )
        } else if !enabled.split_whitespace().any(|c| c == controller) {
            format!(
                "the {controller} controller is not enabled in {}/cgroup.subtree_control \
                 (a cgroup with processes of its own cannot enable controllers for its children)",
                parent.display()
            )
        } else {
            return e;
        };
        Error::Config(format!(
            "cgroup {file}: cannot set {value} in {}: {why}",
            dir.display()
        ))
    }

    fn memory(&self, m: &LinuxMemory) -> Result<()> {
        let dir = &self.path;
        let limit = m.limit().filter(|&v| v != 0);
        let swap = swap_max(limit, m.swap().filter(|&v| v != 0))?;
        if let (Some(l), Some(true)) = (limit, m.check_before_update())
            && l > 0
        {
            let usage = fs::read_u64(dir, "memory.current")?;
            if (l as u64) < usage {
                return Err(Error::Config(format!(
                    "memory limit {l} is below the current usage {usage}"
                )));
            }
        }
        if let Some(s) = swap {
            match fs::write(dir, "memory.swap.max", &s) {
                // Without swap accounting, "no swap" and "unlimited swap" are what the
                // container gets anyway.
                Err(Error::Write { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound
                        && (s == "max" || s == "0") => {}
                r => r?,
            }
        }
        if let Some(l) = limit {
            fs::write(dir, "memory.max", &mem_value(l))?;
        }
        if let Some(r) = m.reservation().filter(|&v| v != 0) {
            fs::write(dir, "memory.low", &mem_value(r))?;
        }
        // swappiness, kernel memory and the OOM-killer switch have no v2 files: the
        // kernel decides them per system. Ignored, like runc.
        Ok(())
    }

    fn cpu(&self, c: &LinuxCpu) -> Result<()> {
        let dir = &self.path;
        if c.realtime_runtime().is_some_and(|v| v != 0)
            || c.realtime_period().is_some_and(|v| v != 0)
        {
            return Err(Error::Config(
                "realtime cpu limits (realtimeRuntime, realtimePeriod) do not exist on cgroup v2"
                    .into(),
            ));
        }
        if let Some(s) = c.shares().filter(|&v| v != 0) {
            super::v1::check_shares(s)?;
            fs::write(dir, "cpu.weight", &shares_to_weight(s).to_string())?;
        }
        let quota = c.quota().filter(|&v| v != 0);
        let period = c.period().filter(|&v| v != 0);
        let mut burst_written = false;
        if quota.is_some() || period.is_some() {
            let current = if quota.is_none() {
                fs::read_opt(dir, "cpu.max")?
            } else {
                None
            };
            // The burst may not exceed the quota: a quota lowered below the current
            // burst needs the new burst first.
            let burst = c.burst().map(|b| b.to_string());
            burst_written = fs::write_making_room(
                dir,
                "cpu.max",
                &cpu_max(quota, period, current.as_deref()),
                burst.as_deref().map(|b| ("cpu.max.burst", b)),
            )?;
        }
        if let (Some(b), false) = (c.burst(), burst_written) {
            fs::write(dir, "cpu.max.burst", &b.to_string())?;
        }
        if let Some(i) = c.idle() {
            fs::write(dir, "cpu.idle", &i.to_string())?;
        }
        if let Some(v) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
            fs::write(dir, "cpuset.cpus", v)?;
        }
        if let Some(v) = c.mems().as_deref().filter(|s| !s.is_empty()) {
            fs::write(dir, "cpuset.mems", v)?;
        }
        Ok(())
    }

    fn io(&self, b: &LinuxBlockIo) -> Result<()> {
        let dir = &self.path;
        let weight = b.weight().filter(|&w| w != 0);
        let devs = b.weight_device().as_ref().is_some_and(|v| !v.is_empty());
        if weight.is_some() || devs {
            // BFQ takes v1's weights as they are; io.weight has its own range.
            let bfq = dir.join("io.bfq.weight").exists();
            if let Some(w) = weight {
                if bfq {
                    fs::write(dir, "io.bfq.weight", &w.to_string())?;
                } else {
                    fs::write(dir, "io.weight", &blkio_to_io_weight(w).to_string())?;
                }
            }
            for d in b.weight_device().iter().flatten() {
                let Some(w) = d.weight() else { continue };
                let (file, w) = if bfq {
                    ("io.bfq.weight", u64::from(w))
                } else {
                    ("io.weight", blkio_to_io_weight(w))
                };
                fs::write(dir, file, &format!("{}:{} {w}", d.major(), d.minor()))?;
            }
        }
        for (list, key) in [
            (b.throttle_read_bps_device(), "rbps"),
            (b.throttle_write_bps_device(), "wbps"),
            (b.throttle_read_iops_device(), "riops"),
            (b.throttle_write_iops_device(), "wiops"),
        ] {
            for t in list.iter().flatten() {
                // 0 means "no limit" in v1's throttle files; v2 spells it max.
                let rate = if t.rate() == 0 {
                    "max".to_owned()
                } else {
                    t.rate().to_string()
                };
                fs::write(
                    dir,
                    "io.max",
                    &format!("{}:{} {key}={rate}", t.major(), t.minor()),
                )?;
            }
        }
        Ok(())
    }
}

impl Manager for V2Manager {
    fn create(&self) -> Result<()> {
        fs::mkdir_all(&self.mount_point, &self.path)?;
        self.enable_controllers()
    }

    fn apply(&self, r: &LinuxResources) -> Result<()> {
        self.apply_all(r).map_err(|e| self.explain_missing(e))
    }

    fn add_task(&self, pid: i32) -> Result<()> {
        fs::write(&self.path, "cgroup.procs", &pid.to_string())
    }

    fn procs(&self) -> Result<Vec<i32>> {
        let mut out = Vec::new();
        fs::procs_recursive(&self.path, &mut out)?;
        Ok(out)
    }

    fn set_freezer(&self, state: FreezerState) -> Result<()> {
        if !self.path.join("cgroup.freeze").exists() {
            return Err(Error::Config(
                "cannot freeze: cgroup.freeze is missing (the v2 freezer needs Linux 5.2)".into(),
            ));
        }
        let (value, want) = match state {
            FreezerState::Frozen => ("1", "frozen 1"),
            FreezerState::Thawed => ("0", "frozen 0"),
        };
        let mut written = false;
        let r = wait_state(
            "cgroup.freeze",
            want,
            // One write suffices on v2: the kernel finishes the job by itself.
            || {
                if !written {
                    written = true;
                    fs::write(&self.path, "cgroup.freeze", value)?;
                }
                Ok(())
            },
            || {
                let events = fs::read(&self.path, "cgroup.events")?;
                Ok(events
                    .lines()
                    .find(|l| l.starts_with("frozen "))
                    .unwrap_or("frozen ?")
                    .to_owned())
            },
        );
        if r.is_err() && state == FreezerState::Frozen {
            let _ = fs::write(&self.path, "cgroup.freeze", "0");
        }
        r
    }

    fn freezer_state(&self) -> Result<FreezerState> {
        match fs::read_opt(&self.path, "cgroup.freeze")?
            .as_deref()
            .map(str::trim)
        {
            Some("1") => {
                // Asked to freeze; frozen only once the kernel says every task is.
                let events = fs::read(&self.path, "cgroup.events")?;
                if events.lines().any(|l| l == "frozen 1") {
                    Ok(FreezerState::Frozen)
                } else {
                    Ok(FreezerState::Thawed)
                }
            }
            _ => Ok(FreezerState::Thawed),
        }
    }

    fn stats(&self) -> Result<Stats> {
        stats::v2(&self.path)
    }

    fn destroy(&self) -> Result<()> {
        fs::remove_cgroup(
            &self.mount_point,
            &self.path,
            Instant::now() + Duration::from_secs(1),
        )
    }

    fn paths(&self) -> Vec<(String, PathBuf)> {
        vec![(String::new(), self.path.clone())]
    }

    fn clone_into_dir(&self) -> Option<PathBuf> {
        Some(self.path.clone())
    }
}

/// A unified key must name a file of the container's own cgroup: a plain name with a
/// controller prefix, no path.
fn check_unified_key(k: &str) -> Result<()> {
    let ok = !k.is_empty()
        && !k.contains('/')
        && k.split_once('.')
            .is_some_and(|(c, f)| !c.is_empty() && !f.is_empty());
    if !ok {
        return Err(Error::Config(format!(
            "unified key {k:?} is not a cgroup file name such as memory.high"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{
        LinuxBlockIoBuilder, LinuxCpuBuilder, LinuxHugepageLimitBuilder, LinuxMemoryBuilder,
        LinuxPidsBuilder, LinuxResourcesBuilder, LinuxThrottleDeviceBuilder,
    };

    #[test]
    fn shares_to_weight_like_crun() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(shares_to_weight(512), 20);
        assert_eq!(blkio_to_io_weight(10), 1);
        assert_eq!(blkio_to_io_weight(500), 4950);
        assert_eq!(blkio_to_io_weight(1000), 10_000);
    }

    #[test]
    fn swap_is_converted_from_memory_plus_swap() {
        assert_eq!(
            swap_max(Some(100), Some(300)).unwrap().as_deref(),
            Some("200")
        );
        assert_eq!(
            swap_max(Some(100), Some(100)).unwrap().as_deref(),
            Some("0")
        );
        assert_eq!(
            swap_max(Some(100), Some(-1)).unwrap().as_deref(),
            Some("max")
        );
        assert_eq!(swap_max(Some(-1), None).unwrap().as_deref(), Some("max"));
        assert_eq!(swap_max(Some(100), None).unwrap(), None);
        assert!(swap_max(Some(300), Some(100)).is_err());
        assert!(swap_max(None, Some(100)).is_err());
    }

    #[test]
    fn cpu_max_rendering() {
        assert_eq!(cpu_max(Some(50_000), Some(100_000), None), "50000 100000");
        assert_eq!(cpu_max(Some(-1), None, None), "max");
        assert_eq!(cpu_max(Some(20_000), None, None), "20000");
        // A new period alone keeps the quota that is there.
        assert_eq!(
            cpu_max(None, Some(200_000), Some("30000 100000\n")),
            "30000 200000"
        );
        assert_eq!(
            cpu_max(None, Some(200_000), Some("max 100000\n")),
            "max 200000"
        );
    }

    #[test]
    fn unified_keys_are_file_names() {
        assert!(check_unified_key("memory.high").is_ok());
        assert!(check_unified_key("../memory.high").is_err());
        assert!(check_unified_key("cgroup").is_err());
        assert!(check_unified_key("memory.").is_err());
    }

    /// A fake v2 cgroup in a temporary directory with the given (empty) files.
    fn fake(name: &str, files: &[&str]) -> (PathBuf, V2Manager) {
        let root = std::env::temp_dir().join(format!("berth-cg-v2-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let leaf = root.join("ctr");
        std::fs::create_dir_all(&leaf).unwrap();
        for f in files {
            std::fs::write(leaf.join(f), "").unwrap();
        }
        let m = V2Manager::new(
            &V2Mount {
                mount_point: root.clone(),
                root: "/".into(),
            },
            None,
            &CgroupPath::Absolute("ctr".into()),
        );
        (root, m)
    }

    #[test]
    fn limits_land_in_v2_files() {
        let files = [
            "memory.max",
            "memory.swap.max",
            "memory.low",
            "memory.high",
            "cpu.weight",
            "cpu.max",
            "cpu.max.burst",
            "pids.max",
            "io.weight",
            "io.max",
            "hugetlb.2MB.max",
            "cpuset.cpus",
            "memory.oom.group",
        ];
        let (root, m) = fake("limits", &files);
        let r = LinuxResourcesBuilder::default()
            .memory(
                LinuxMemoryBuilder::default()
                    .limit(64i64 << 20)
                    .swap(96i64 << 20)
                    .build()
                    .unwrap(),
            )
            .cpu(
                LinuxCpuBuilder::default()
                    .shares(1024u64)
                    .quota(50_000i64)
                    .period(100_000u64)
                    .burst(1000u64)
                    .cpus("0")
                    .build()
                    .unwrap(),
            )
            .pids(LinuxPidsBuilder::default().limit(20i64).build().unwrap())
            .block_io(
                LinuxBlockIoBuilder::default()
                    .weight(500u16)
                    .throttle_read_bps_device(vec![
                        LinuxThrottleDeviceBuilder::default()
                            .major(8i64)
                            .minor(0i64)
                            .rate(1_048_576u64)
                            .build()
                            .unwrap(),
                    ])
                    .build()
                    .unwrap(),
            )
            .hugepage_limits(vec![
                LinuxHugepageLimitBuilder::default()
                    .page_size("2MB")
                    .limit(2i64 << 20)
                    .build()
                    .unwrap(),
            ])
            .unified(
                [("memory.oom.group".to_owned(), "1".to_owned())]
                    .into_iter()
                    .collect::<std::collections::HashMap<_, _>>(),
            )
            .build()
            .unwrap();
        m.apply(&r).unwrap();
        let get = |f: &str| std::fs::read_to_string(root.join("ctr").join(f)).unwrap();
        assert_eq!(get("memory.max"), "67108864");
        assert_eq!(get("memory.swap.max"), (32u64 << 20).to_string());
        assert_eq!(get("memory.low"), "", "unset reservation not written");
        assert_eq!(get("memory.high"), "", "memory.high left alone");
        assert_eq!(get("cpu.weight"), "39");
        assert_eq!(get("cpu.max"), "50000 100000");
        assert_eq!(get("cpu.max.burst"), "1000");
        assert_eq!(get("pids.max"), "20");
        assert_eq!(get("io.weight"), "4950");
        assert_eq!(get("io.max"), "8:0 rbps=1048576");
        assert_eq!(get("hugetlb.2MB.max"), "2097152");
        assert_eq!(get("cpuset.cpus"), "0");
        assert_eq!(get("memory.oom.group"), "1");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn missing_controller_file_names_the_limit() {
        let (root, m) = fake("missing", &[]);
        let r = LinuxResourcesBuilder::default()
            .pids(LinuxPidsBuilder::default().limit(20i64).build().unwrap())
            .build()
            .unwrap();
        // No controller files at all: the plain refusal with its errno.
        let e = m.apply(&r).unwrap_err().to_string();
        assert!(e.starts_with("cgroup pids.max: cannot set 20"), "{e}");
        assert!(e.contains("no such file or directory"), "{e}");
        // The host has no pids controller.
        std::fs::write(root.join("cgroup.controllers"), "cpu memory\n").unwrap();
        std::fs::write(root.join("cgroup.subtree_control"), "cpu memory\n").unwrap();
        let e = m.apply(&r).unwrap_err().to_string();
        assert!(e.contains("offers no pids controller"), "{e}");
        // It has one, but the parent does not hand it down.
        std::fs::write(root.join("cgroup.controllers"), "cpu memory pids\n").unwrap();
        let e = m.apply(&r).unwrap_err().to_string();
        assert!(e.starts_with("cgroup pids.max: cannot set 20"), "{e}");
        assert!(e.contains("pids controller is not enabled in"), "{e}");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
