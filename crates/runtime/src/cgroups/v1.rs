//! cgroup v1: one hierarchy per controller (or per group of co-mounted controllers).
//! The container gets the same path in each; on a hybrid host also in the unified
//! hierarchy, which carries no limits but tracks the processes (as runc does), so that
//! tools reading the v2 tree see the container.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxResources};

use super::detect::{Mounts, OwnCgroups};
use super::path::{CgroupPath, in_hierarchy};
use super::{Error, FreezerState, Manager, Result, Stats, devices, fs, stats};

/// The container's directory in one v1 hierarchy.
#[derive(Debug, Clone)]
struct Dir {
    controllers: Vec<String>,
    mount_point: PathBuf,
    path: PathBuf,
}

/// A container's cgroup on a v1 or hybrid host.
#[derive(Debug)]
pub(crate) struct V1Manager {
    dirs: Vec<Dir>,
    /// Hybrid hosts: (mount point, directory) in the unified hierarchy.
    unified: Option<(PathBuf, PathBuf)>,
}

impl V1Manager {
    /// Places `path` in every mounted v1 hierarchy (and the unified one when
    /// `with_unified`). `own` is needed for relative paths.
    pub fn new(
        mounts: &Mounts,
        own: Option<&OwnCgroups>,
        path: &CgroupPath,
        with_unified: bool,
    ) -> V1Manager {
        let dirs = mounts
            .v1
            .iter()
            .map(|m| Dir {
                controllers: m.controllers.clone(),
                mount_point: m.mount_point.clone(),
                path: in_hierarchy(
                    &m.mount_point,
                    &m.root,
                    own.and_then(|o| o.v1_path(&m.controllers)),
                    path,
                ),
            })
            .collect();
        let unified = mounts.v2.as_ref().filter(|_| with_unified).map(|m| {
            let own = own.and_then(|o| o.v2.as_deref());
            (
                m.mount_point.clone(),
                in_hierarchy(&m.mount_point, &m.root, own, path),
            )
        });
        V1Manager { dirs, unified }
    }

    fn dir(&self, controller: &str) -> Option<&Path> {
        self.dirs
            .iter()
            .find(|d| d.controllers.iter().any(|c| c == controller))
            .map(|d| d.path.as_path())
    }

    /// The directory of `controller`, or an error saying the limit needs it.
    fn need(&self, controller: &str, what: &str) -> Result<&Path> {
        self.dir(controller).ok_or_else(|| {
            Error::Config(format!(
                "cannot set {what}: the cgroup v1 {controller} controller is not mounted on this host"
            ))
        })
    }

    fn memory(&self, m: &LinuxMemory) -> Result<()> {
        // runc's convention, kept for the configs written for it: 0 means unset.
        let limit = m.limit().filter(|&v| v != 0);
        let mut swap = m.swap().filter(|&v| v != 0);
        let reservation = m.reservation().filter(|&v| v != 0);
        let kernel_tcp = m.kernel_tcp().filter(|&v| v != 0);
        if limit.is_none()
            && swap.is_none()
            && reservation.is_none()
            && kernel_tcp.is_none()
            && m.swappiness().is_none()
            && m.disable_oom_killer() != Some(true)
        {
            return Ok(());
        }
        let dir = self.need("memory", "memory limits")?;
        let memsw = "memory.memsw.limit_in_bytes";
        if swap.is_some() || limit == Some(-1) {
            let has_memsw = dir.join(memsw).exists();
            if limit == Some(-1) && swap.is_none() && has_memsw {
                // Unlimited memory with a finite memory+swap would still cap memory:
                // lift both, as runc does.
                swap = Some(-1);
            }
            if !has_memsw {
                match swap {
                    Some(-1) | None => swap = None,
                    Some(s) => {
                        return Err(Error::Config(format!(
                            "cannot set memory+swap limit {s}: this kernel does not account swap \
                             ({memsw} is missing; boot with swapaccount=1 or leave memory.swap unset)"
                        )));
                    }
                }
            }
        }
        if let (Some(l), Some(s)) = (limit, swap) {
            if s != -1 && s < l {
                return Err(Error::Config(format!(
                    "memory+swap limit {s} is below the memory limit {l}: memory.swap counts memory and swap together"
                )));
            }
            // The kernel keeps memory <= memory+swap at every moment: when raising,
            // memsw goes first; when lowering, memory does.
            let current = fs::read_u64(dir, "memory.limit_in_bytes")?;
            if s == -1 || (current as i128) < i128::from(s) {
                fs::write(dir, memsw, &s.to_string())?;
                fs::write(dir, "memory.limit_in_bytes", &l.to_string())?;
            } else {
                fs::write(dir, "memory.limit_in_bytes", &l.to_string())?;
                fs::write(dir, memsw, &s.to_string())?;
            }
        } else {
            if let Some(l) = limit {
                fs::write(dir, "memory.limit_in_bytes", &l.to_string())?;
            }
            if let Some(s) = swap {
                fs::write(dir, memsw, &s.to_string())?;
            }
        }
        if let Some(r) = reservation {
            fs::write(dir, "memory.soft_limit_in_bytes", &r.to_string())?;
        }
        if let Some(s) = m.swappiness() {
            if s > 100 {
                return Err(Error::Config(format!(
                    "memory swappiness {s} is out of range: use 0 to 100"
                )));
            }
            fs::write(dir, "memory.swappiness", &s.to_string())?;
        }
        // Kernel memory limits are deprecated by the runtime spec and ignored by
        // kernels since 5.16 (the write succeeds, the limit stays unlimited):
        // ignored, like runc. The TCP buffer limit still works on v1 (there is no
        // v2 file for it): set, as the spec's kernelTCP asks.
        if let Some(t) = kernel_tcp {
            fs::write(dir, "memory.kmem.tcp.limit_in_bytes", &t.to_string())?;
        }
        if m.disable_oom_killer() == Some(true) {
            fs::write(dir, "memory.oom_control", "1")?;
        }
        Ok(())
    }

    fn cpu(&self, c: &LinuxCpu) -> Result<()> {
        let shares = c.shares().filter(|&v| v != 0);
        let quota = c.quota().filter(|&v| v != 0);
        let period = c.period().filter(|&v| v != 0);
        let burst = c.burst();
        let rt_period = c.realtime_period().filter(|&v| v != 0);
        let rt_runtime = c.realtime_runtime().filter(|&v| v != 0);
        if shares.is_some()
            || quota.is_some()
            || period.is_some()
            || burst.is_some()
            || rt_period.is_some()
            || rt_runtime.is_some()
            || c.idle().is_some()
        {
            let dir = self.need("cpu", "cpu limits")?;
            if let Some(s) = shares {
                check_shares(s)?;
                fs::write(dir, "cpu.shares", &s.to_string())?;
            }
            if let Some(p) = period {
                match fs::write(dir, "cpu.cfs_period_us", &p.to_string()) {
                    // The kernel checks the new period against the current quota (and
                    // the parent's bandwidth); with the new quota in place it may pass.
                    Err(Error::Write { source, .. })
                        if source.raw_os_error() == Some(libc::EINVAL) && quota.is_some() =>
                    {
                        fs::write(dir, "cpu.cfs_quota_us", &quota.unwrap_or(-1).to_string())?;
                        fs::write(dir, "cpu.cfs_period_us", &p.to_string())?;
                    }
                    r => r?,
                }
            }
            // Older kernels lack the burst file: the burst is then ignored.
            let burst = burst.filter(|_| dir.join("cpu.cfs_burst_us").exists());
            let mut burst_written = false;
            if let Some(q) = quota {
                // The burst may not exceed the quota: a quota lowered below the
                // current burst needs the new burst first.
                let b = burst.map(|b| b.to_string());
                burst_written = fs::write_making_room(
                    dir,
                    "cpu.cfs_quota_us",
                    &q.to_string(),
                    b.as_deref().map(|b| ("cpu.cfs_burst_us", b)),
                )?;
            }
            if let (Some(b), false) = (burst, burst_written) {
                fs::write(dir, "cpu.cfs_burst_us", &b.to_string())?;
            }
            // Realtime files exist only with CONFIG_RT_GROUP_SCHED; period before runtime
            // so that the runtime fits the period.
            if let Some(p) = rt_period
                && dir.join("cpu.rt_period_us").exists()
            {
                // A period shorter than the current runtime is refused; lowering the
                // runtime first makes room.
                let r = rt_runtime.map(|r| r.to_string());
                fs::write_making_room(
                    dir,
                    "cpu.rt_period_us",
                    &p.to_string(),
                    r.as_deref().map(|r| ("cpu.rt_runtime_us", r)),
                )?;
            }
            if let Some(r) = rt_runtime
                && dir.join("cpu.rt_runtime_us").exists()
            {
                fs::write(dir, "cpu.rt_runtime_us", &r.to_string())?;
            }
            if let Some(i) = c.idle()
                && dir.join("cpu.idle").exists()
            {
                fs::write(dir, "cpu.idle", &i.to_string())?;
            }
        }
        let cpus = c.cpus().as_deref().filter(|s| !s.is_empty());
        let mems = c.mems().as_deref().filter(|s| !s.is_empty());
        if cpus.is_some() || mems.is_some() {
            let dir = self.need("cpuset", "cpuset.cpus / cpuset.mems")?;
            if let Some(v) = cpus {
                fs::write(dir, "cpuset.cpus", v)?;
            }
            if let Some(v) = mems {
                fs::write(dir, "cpuset.mems", v)?;
            }
        }
        Ok(())
    }

    fn blkio(&self, b: &LinuxBlockIo) -> Result<()> {
        let weight = b.weight().filter(|&w| w != 0);
        let leaf = b.leaf_weight().filter(|&w| w != 0);
        let empty = |v: &Option<Vec<_>>| v.as_ref().is_none_or(Vec::is_empty);
        if weight.is_none()
            && leaf.is_none()
            && b.weight_device().as_ref().is_none_or(Vec::is_empty)
            && empty(b.throttle_read_bps_device())
            && empty(b.throttle_write_bps_device())
            && empty(b.throttle_read_iops_device())
            && empty(b.throttle_write_iops_device())
        {
            return Ok(());
        }
        let dir = self.need("blkio", "block io limits")?;
        // CFQ's files, or BFQ's when the kernel has only BFQ (CFQ left in 5.0).
        let (weight_file, weight_dev_file) = if dir.join("blkio.weight").exists() {
            ("blkio.weight", "blkio.weight_device")
        } else {
            ("blkio.bfq.weight", "blkio.bfq.weight_device")
        };
        if let Some(w) = weight {
            if !dir.join(weight_file).exists() {
                return Err(Error::Config(format!(
                    "cannot set block io weight {w}: neither blkio.weight nor blkio.bfq.weight exists \
                     (no CFQ or BFQ I/O scheduler on this host)"
                )));
            }
            fs::write(dir, weight_file, &w.to_string())?;
        }
        // Leaf weights went with CFQ and have no BFQ counterpart: ignored where absent.
        let has_leaf = leaf.is_some() && dir.join("blkio.leaf_weight").exists();
        if let (Some(w), true) = (leaf, has_leaf) {
            fs::write(dir, "blkio.leaf_weight", &w.to_string())?;
        }
        for d in b.weight_device().iter().flatten() {
            if let Some(w) = d.weight() {
                fs::write(
                    dir,
                    weight_dev_file,
                    &format!("{}:{} {w}", d.major(), d.minor()),
                )?;
            }
            if let Some(w) = d.leaf_weight()
                && dir.join("blkio.leaf_weight_device").exists()
            {
                fs::write(
                    dir,
                    "blkio.leaf_weight_device",
                    &format!("{}:{} {w}", d.major(), d.minor()),
                )?;
            }
        }
        for (list, file) in [
            (
                b.throttle_read_bps_device(),
                "blkio.throttle.read_bps_device",
            ),
            (
                b.throttle_write_bps_device(),
                "blkio.throttle.write_bps_device",
            ),
            (
                b.throttle_read_iops_device(),
                "blkio.throttle.read_iops_device",
            ),
            (
                b.throttle_write_iops_device(),
                "blkio.throttle.write_iops_device",
            ),
        ] {
            for t in list.iter().flatten() {
                fs::write(
                    dir,
                    file,
                    &format!("{}:{} {}", t.major(), t.minor(), t.rate()),
                )?;
            }
        }
        Ok(())
    }

    fn devices(&self, list: &[oci_spec::runtime::LinuxDeviceCgroup]) -> Result<()> {
        let rules = devices::rules(list)?;
        let dir = self.need("devices", "device rules")?;
        // An update that leaves the rules as they are (containerd sends the devices
        // with every update) must not pass through "deny all": the container's open
        // of /dev/null would fail in between. The kernel's list tells.
        if let Some(mut want) = devices::v1_list_after(&rules) {
            let now = fs::read(dir, "devices.list")?;
            let mut now: Vec<&str> = now.lines().collect();
            want.sort();
            now.sort();
            if want == now {
                return Ok(());
            }
        }
        // Start from "nothing allowed", then the rules in order; a leading deny-all in
        // the config is that same first write.
        fs::write(dir, "devices.deny", "a")?;
        let skip = rules
            .iter()
            .take_while(|r| !r.allow && r.is_everything())
            .count();
        for r in &rules[skip..] {
            let file = if r.allow {
                "devices.allow"
            } else {
                "devices.deny"
            };
            for line in r.v1_lines() {
                fs::write(dir, file, &line)?;
            }
        }
        Ok(())
    }

    fn freezer(&self) -> Result<&Path> {
        self.dir("freezer").ok_or_else(|| {
            Error::Config("cannot freeze: the cgroup v1 freezer controller is not mounted".into())
        })
    }
}

/// cpu.shares outside the kernel's range would be clamped silently; say so instead.
pub(crate) fn check_shares(s: u64) -> Result<()> {
    if !(2..=262_144).contains(&s) {
        return Err(Error::Config(format!(
            "cpu shares {s} is out of range: the kernel accepts 2 to 262144"
        )));
    }
    Ok(())
}

/// Gives a new cpuset cgroup its parent's cpus and mems: a v1 cpuset starts empty, and
/// an empty cpuset accepts no tasks. Climbs as far as needed for empty parents and
/// returns the directory's (cpus, mems).
fn init_cpuset(mount_point: &Path, dir: &Path) -> Result<(String, String)> {
    let mut cpus = fs::read(dir, "cpuset.cpus")?.trim().to_owned();
    let mut mems = fs::read(dir, "cpuset.mems")?.trim().to_owned();
    if (!cpus.is_empty() && !mems.is_empty()) || dir == mount_point {
        return Ok((cpus, mems));
    }
    let Some(parent) = dir.parent() else {
        return Ok((cpus, mems));
    };
    let (parent_cpus, parent_mems) = init_cpuset(mount_point, parent)?;
    if cpus.is_empty() {
        fs::write(dir, "cpuset.cpus", &parent_cpus)?;
        cpus = parent_cpus;
    }
    if mems.is_empty() {
        fs::write(dir, "cpuset.mems", &parent_mems)?;
        mems = parent_mems;
    }
    Ok((cpus, mems))
}

/// Polls `read` until it returns `want`, re-requesting with `request` meanwhile (a v1
/// freeze can stall on a task in an uninterruptible sleep; asking again retries it).
pub(crate) fn wait_state(
    what: &str,
    want: &str,
    mut request: impl FnMut() -> Result<()>,
    mut read: impl FnMut() -> Result<String>,
) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut pause = Duration::from_micros(100);
    request()?;
    loop {
        let now = read()?;
        if now == want {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Error::Other(format!(
                "{what}: still {now} after 2 s waiting for {want} (a task stuck in the kernel?)"
            )));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(10));
        request()?;
    }
}

impl Manager for V1Manager {
    fn create(&self) -> Result<()> {
        for d in &self.dirs {
            fs::mkdir_all(&d.mount_point, &d.path)?;
            if d.controllers.iter().any(|c| c == "cpuset") {
                // Checked even when the directory existed: an empty cpuset left by
                // someone else needs filling just the same.
                init_cpuset(&d.mount_point, &d.path)?;
            }
        }
        if let Some((mp, dir)) = &self.unified {
            fs::mkdir_all(mp, dir)?;
        }
        Ok(())
    }

    fn apply(&self, r: &LinuxResources) -> Result<()> {
        if r.unified().as_ref().is_some_and(|u| !u.is_empty()) {
            return Err(Error::Config(
                "linux.resources.unified needs cgroup v2, but this host's controllers are on cgroup v1"
                    .into(),
            ));
        }
        if let Some(m) = r.memory() {
            self.memory(m)?;
        }
        if let Some(c) = r.cpu() {
            self.cpu(c)?;
        }
        if let Some(p) = r.pids() {
            // runc's convention: 0 leaves the limit alone, negative is unlimited.
            if p.limit() != 0 {
                let v = if p.limit() > 0 {
                    p.limit().to_string()
                } else {
                    "max".into()
                };
                fs::write(self.need("pids", "pids.max")?, "pids.max", &v)?;
            }
        }
        if let Some(b) = r.block_io() {
            self.blkio(b)?;
        }
        for h in r.hugepage_limits().iter().flatten() {
            let size = super::check_page_size(h.page_size())?;
            let dir = self.need("hugetlb", "hugepage limits")?;
            fs::write(
                dir,
                &format!("hugetlb.{size}.limit_in_bytes"),
                &h.limit().to_string(),
            )?;
            // Reservation limits (5.11+) also stop a mapping that reserves pages it
            // never touches; the runtime spec asks for them where supported.
            let rsvd = format!("hugetlb.{size}.rsvd.limit_in_bytes");
            if dir.join(&rsvd).exists() {
                fs::write(dir, &rsvd, &h.limit().to_string())?;
            }
        }
        if let Some(n) = r.network() {
            if let Some(id) = n.class_id() {
                fs::write(
                    self.need("net_cls", "net_cls.classid")?,
                    "net_cls.classid",
                    &id.to_string(),
                )?;
            }
            for p in n.priorities().iter().flatten() {
                fs::write(
                    self.need("net_prio", "net_prio.ifpriomap")?,
                    "net_prio.ifpriomap",
                    &format!("{} {}", p.name(), p.priority()),
                )?;
            }
        }
        if let Some(rdma) = r.rdma() {
            for (dev, l) in rdma {
                fs::write(
                    self.need("rdma", "rdma.max")?,
                    "rdma.max",
                    &super::rdma_line(dev, l),
                )?;
            }
        }
        if let Some(list) = r.devices() {
            self.devices(list)?;
        }
        Ok(())
    }

    fn add_task(&self, pid: i32) -> Result<()> {
        let pid = pid.to_string();
        for d in &self.dirs {
            fs::write(&d.path, "cgroup.procs", &pid)?;
        }
        if let Some((_, dir)) = &self.unified {
            fs::write(dir, "cgroup.procs", &pid)?;
        }
        Ok(())
    }

    fn procs(&self) -> Result<Vec<i32>> {
        // Every process is in every hierarchy; pids (or else any) lists them.
        let dir = self
            .dir("pids")
            .or_else(|| self.dirs.first().map(|d| d.path.as_path()));
        let mut out = Vec::new();
        if let Some(dir) = dir {
            fs::procs_recursive(dir, &mut out)?;
        }
        Ok(out)
    }

    fn set_freezer(&self, state: FreezerState) -> Result<()> {
        let dir = self.freezer()?;
        let want = match state {
            FreezerState::Frozen => "FROZEN",
            FreezerState::Thawed => "THAWED",
        };
        let r = wait_state(
            "cgroup freezer",
            want,
            || fs::write(dir, "freezer.state", want),
            || Ok(fs::read(dir, "freezer.state")?.trim().to_owned()),
        );
        if r.is_err() && state == FreezerState::Frozen {
            // Never leave a half-frozen container behind a failed pause.
            let _ = fs::write(dir, "freezer.state", "THAWED");
        }
        r
    }

    fn freezer_state(&self) -> Result<FreezerState> {
        // FREEZING counts as thawed: some tasks may still run.
        match fs::read(self.freezer()?, "freezer.state")?.trim() {
            "FROZEN" => Ok(FreezerState::Frozen),
            _ => Ok(FreezerState::Thawed),
        }
    }

    fn stats(&self) -> Result<Stats> {
        stats::v1(&stats::V1Dirs {
            cpuacct: self.dir("cpuacct"),
            cpu: self.dir("cpu"),
            memory: self.dir("memory"),
            pids: self.dir("pids"),
            blkio: self.dir("blkio"),
            hugetlb: self.dir("hugetlb"),
        })
    }

    fn destroy(&self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(1);
        let mut first_err = None;
        let unified = self
            .unified
            .as_ref()
            .map(|(m, d)| (m.as_path(), d.as_path()));
        let dirs = self
            .dirs
            .iter()
            .map(|d| (d.mount_point.as_path(), d.path.as_path()));
        for (mount_point, dir) in dirs.chain(unified) {
            if let Err(e) = fs::remove_cgroup(mount_point, dir, deadline) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    fn paths(&self) -> Vec<(String, PathBuf)> {
        let mut out: Vec<(String, PathBuf)> = self
            .dirs
            .iter()
            .flat_map(|d| d.controllers.iter().map(|c| (c.clone(), d.path.clone())))
            .collect();
        if let Some((_, dir)) = &self.unified {
            out.push((String::new(), dir.clone()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::detect::parse_mountinfo;
    use oci_spec::runtime::{
        LinuxCpuBuilder, LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResourcesBuilder,
    };

    /// A fake v1 host in a temporary directory: regular files stand in for the
    /// cgroup files, so the values written can be read back.
    struct FakeHost {
        root: PathBuf,
    }

    impl FakeHost {
        fn new(name: &str, files: &[(&str, &str)]) -> (FakeHost, V1Manager) {
            let root =
                std::env::temp_dir().join(format!("berth-cg-v1-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&root);
            let mut mountinfo = String::new();
            for (i, c) in ["memory", "cpu", "cpuset", "pids", "devices"]
                .iter()
                .enumerate()
            {
                let leaf = root.join(c).join("ctr");
                std::fs::create_dir_all(&leaf).unwrap();
                mountinfo.push_str(&format!(
                    "{i} 1 0:{i} / {} rw - cgroup cgroup rw,{c}\n",
                    root.join(c).display()
                ));
                for (f, v) in files.iter().filter(|(f, _)| f.starts_with(c)) {
                    std::fs::write(leaf.join(f), v).unwrap();
                }
            }
            let mounts = parse_mountinfo(&mountinfo);
            let m = V1Manager::new(&mounts, None, &CgroupPath::Absolute("ctr".into()), false);
            (FakeHost { root }, m)
        }

        fn get(&self, c: &str, f: &str) -> String {
            std::fs::read_to_string(self.root.join(c).join("ctr").join(f)).unwrap()
        }
    }

    impl Drop for FakeHost {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }

    #[test]
    fn limits_land_in_their_files_and_unset_ones_are_not_written() {
        let (host, m) = FakeHost::new(
            "limits",
            &[
                ("memory.limit_in_bytes", "9223372036854771712"),
                ("memory.memsw.limit_in_bytes", ""),
                ("memory.soft_limit_in_bytes", "untouched"),
                ("cpu.shares", ""),
                ("cpu.cfs_quota_us", ""),
                ("cpu.cfs_period_us", ""),
                ("pids.max", ""),
            ],
        );
        let r = LinuxResourcesBuilder::default()
            .memory(
                LinuxMemoryBuilder::default()
                    .limit(64i64 << 20)
                    .swap(128i64 << 20)
                    .build()
                    .unwrap(),
            )
            .cpu(
                LinuxCpuBuilder::default()
                    .shares(512u64)
                    .quota(50_000i64)
                    .period(100_000u64)
                    .build()
                    .unwrap(),
            )
            .pids(LinuxPidsBuilder::default().limit(-1i64).build().unwrap())
            .build()
            .unwrap();
        m.apply(&r).unwrap();
        assert_eq!(host.get("memory", "memory.limit_in_bytes"), "67108864");
        assert_eq!(
            host.get("memory", "memory.memsw.limit_in_bytes"),
            "134217728"
        );
        assert_eq!(
            host.get("memory", "memory.soft_limit_in_bytes"),
            "untouched"
        );
        assert_eq!(host.get("cpu", "cpu.shares"), "512");
        assert_eq!(host.get("cpu", "cpu.cfs_quota_us"), "50000");
        assert_eq!(host.get("cpu", "cpu.cfs_period_us"), "100000");
        assert_eq!(host.get("pids", "pids.max"), "max");
    }

    #[test]
    fn swap_without_swap_accounting_is_explained() {
        let (_host, m) = FakeHost::new("noswap", &[("memory.limit_in_bytes", "0")]);
        let r = LinuxResourcesBuilder::default()
            .memory(
                LinuxMemoryBuilder::default()
                    .limit(1i64 << 20)
                    .swap(2i64 << 20)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        let e = m.apply(&r).unwrap_err().to_string();
        assert!(e.contains("swapaccount=1"), "{e}");
        // Unlimited swap needs no accounting.
        let r = LinuxResourcesBuilder::default()
            .memory(
                LinuxMemoryBuilder::default()
                    .limit(-1i64)
                    .swap(-1i64)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        m.apply(&r).unwrap();
    }

    #[test]
    fn device_rules_in_order_after_deny_all() {
        let (host, m) = FakeHost::new(
            "devices",
            &[
                ("devices.deny", ""),
                ("devices.allow", ""),
                ("devices.list", "a *:* rwm\n"),
            ],
        );
        // A fake file keeps only the last write; use one rule per apply.
        let rule = crate::cgroups::devices::tests::spec(
            true,
            oci_spec::runtime::LinuxDeviceType::C,
            Some(1),
            Some(3),
            "rwm",
        );
        let r = LinuxResourcesBuilder::default()
            .devices(vec![rule])
            .build()
            .unwrap();
        m.apply(&r).unwrap();
        assert_eq!(host.get("devices", "devices.deny"), "a");
        assert_eq!(host.get("devices", "devices.allow"), "c 1:3 rwm");
        // The kernel's list already matches: an update writes nothing.
        let leaf = host.root.join("devices/ctr");
        std::fs::write(leaf.join("devices.list"), "c 1:3 rwm\n").unwrap();
        std::fs::write(leaf.join("devices.deny"), "").unwrap();
        m.apply(&r).unwrap();
        assert_eq!(
            host.get("devices", "devices.deny"),
            "",
            "deny-all written again"
        );
    }

    #[test]
    fn unified_is_refused_on_v1() {
        let (_host, m) = FakeHost::new("unified", &[]);
        let r = LinuxResourcesBuilder::default()
            .unified(
                [("memory.high".to_owned(), "1G".to_owned())]
                    .into_iter()
                    .collect::<std::collections::HashMap<_, _>>(),
            )
            .build()
            .unwrap();
        assert!(m.apply(&r).unwrap_err().to_string().contains("cgroup v2"));
    }

    #[test]
    fn shares_range() {
        assert!(check_shares(1).is_err());
        assert!(check_shares(2).is_ok());
        assert!(check_shares(262_145).is_err());
    }
}
