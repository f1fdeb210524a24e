//! The cgroups module on the real host: limits land in the kernel's files, a process
//! joins, freezes and thaws, statistics come back, and destroy leaves nothing.
//!
//! Runs as root on whatever layout the host has (v1, hybrid or pure v2; the v2 guest
//! of scripts/v2-guest runs it too); skips with a message otherwise. Every cgroup is
//! named /berth-test-<pid>-<n> and a guard kills the test's processes and removes the
//! cgroup even when an assertion fails.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use berth_runtime::cgroups::{self, FreezerState, Layout, Manager};
use oci_spec::runtime::{
    LinuxCpuBuilder, LinuxDeviceCgroup, LinuxDeviceCgroupBuilder, LinuxDeviceType,
    LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResources, LinuxResourcesBuilder,
};

static N: AtomicU32 = AtomicU32::new(0);

fn unique_path() -> String {
    format!(
        "/berth-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

fn root() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    eprintln!("skipped: the cgroup host tests need root");
    false
}

/// Kills the children and removes the cgroup when dropped, so a failed assertion
/// leaves nothing behind.
struct Guard {
    m: Box<dyn Manager>,
    children: Vec<Child>,
}

impl Guard {
    fn new(m: Box<dyn Manager>) -> Guard {
        Guard {
            m,
            children: Vec::new(),
        }
    }

    /// A new cgroup at cgroupsPath `path`, created.
    fn create(path: &str) -> Guard {
        let g = Guard::new(cgroups::new_manager(Some(Path::new(path)), "unused", false).unwrap());
        g.m.create().unwrap();
        g
    }

    /// Destroys the cgroup and checks that none of its directories is left.
    fn destroy_leaving_nothing(&self) {
        let paths = self.m.paths();
        self.m.destroy().unwrap();
        all_gone(&paths);
    }

    fn path(&self, key: &str) -> PathBuf {
        self.m
            .paths()
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, p)| p)
            .unwrap_or_else(|| panic!("no {key:?} hierarchy in {:?}", self.m.paths()))
    }

    /// Spawns `sh -c script` with piped stdio and puts it into the cgroup.
    fn spawn(&mut self, script: &str) -> i32 {
        let child = Command::new("sh")
            .args(["-c", script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn sh");
        let pid = child.id() as i32;
        self.children.push(child);
        self.m.add_task(pid).expect("add_task");
        pid
    }

    /// Lets a child spawned with `read go; ...` go on.
    fn go(&mut self, pid: i32) -> &mut Child {
        let child = self
            .children
            .iter_mut()
            .find(|c| c.id() as i32 == pid)
            .unwrap();
        child.stdin.take().unwrap().write_all(b"go\n").unwrap();
        child
    }

    /// A busy loop in a program exec'd after joining the cgroup: its memory is charged
    /// to the cgroup (v1 leaves the charges of a moved process behind), and freezing is
    /// visible as CPU time that stops growing.
    fn spawn_busy(&mut self) -> i32 {
        let pid = self.spawn("read go; exec sh -c 'while :; do :; done'");
        self.go(pid);
        pid
    }

    fn kill_all(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.children.clear();
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.kill_all();
        let _ = self.m.set_freezer(FreezerState::Thawed);
        let _ = self.m.destroy();
    }
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
        .trim()
        .to_owned()
}

/// User plus system CPU ticks of `pid` from /proc/<pid>/stat.
fn cpu_ticks(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split(' ').collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

fn limits() -> LinuxResources {
    LinuxResourcesBuilder::default()
        .memory(
            LinuxMemoryBuilder::default()
                .limit(64i64 << 20)
                .build()
                .unwrap(),
        )
        .pids(LinuxPidsBuilder::default().limit(20i64).build().unwrap())
        .cpu(
            LinuxCpuBuilder::default()
                .shares(512u64)
                .quota(50_000i64)
                .period(100_000u64)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

fn all_gone(paths: &[(String, PathBuf)]) {
    for (k, p) in paths {
        assert!(!p.exists(), "{k:?} cgroup {} is still there", p.display());
    }
}

#[test]
fn limits_freezer_stats_and_destroy() {
    if !root() {
        return;
    }
    let layout = cgroups::detect().unwrap();
    let path = unique_path();
    let mut g = Guard::create(&path);
    g.m.create().expect("create is idempotent");
    g.m.apply(&limits()).unwrap();

    if layout == Layout::V2 {
        let dir = g.path("");
        assert_eq!(read(&dir.join("memory.max")), "67108864");
        assert_eq!(read(&dir.join("pids.max")), "20");
        assert_eq!(read(&dir.join("cpu.max")), "50000 100000");
        assert_eq!(read(&dir.join("cpu.weight")), "20");
    } else {
        assert_eq!(
            read(&g.path("memory").join("memory.limit_in_bytes")),
            "67108864"
        );
        assert_eq!(read(&g.path("pids").join("pids.max")), "20");
        assert_eq!(read(&g.path("cpu").join("cpu.cfs_quota_us")), "50000");
        assert_eq!(read(&g.path("cpu").join("cpu.shares")), "512");
        // A new cpuset cgroup got its parent's cpus, or adding a task would fail.
        assert!(!read(&g.path("cpuset").join("cpuset.cpus")).is_empty());
    }

    let pid = g.spawn_busy();
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(
        own.lines().all(|l| l.ends_with(&path)),
        "not in {path} everywhere:\n{own}"
    );
    assert!(g.m.procs().unwrap().contains(&pid));

    g.m.set_freezer(FreezerState::Frozen).unwrap();
    assert_eq!(g.m.freezer_state().unwrap(), FreezerState::Frozen);
    let t0 = cpu_ticks(pid);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(cpu_ticks(pid), t0, "a frozen process used CPU");
    g.m.set_freezer(FreezerState::Thawed).unwrap();
    assert_eq!(g.m.freezer_state().unwrap(), FreezerState::Thawed);
    let deadline = Instant::now() + Duration::from_secs(3);
    while cpu_ticks(pid) == t0 {
        assert!(Instant::now() < deadline, "the thawed process does not run");
        std::thread::sleep(Duration::from_millis(20));
    }

    let s = g.m.stats().unwrap();
    assert!(s["memory"]["usage"]["usage"].as_u64().unwrap() > 0, "{s}");
    assert_eq!(
        s["memory"]["usage"]["limit"].as_u64(),
        Some(64 << 20),
        "{s}"
    );
    assert!(s["cpu"]["usage"]["total"].as_u64().unwrap() > 0, "{s}");
    assert_eq!(s["pids"]["current"].as_u64(), Some(1), "{s}");
    assert_eq!(s["pids"]["limit"].as_u64(), Some(20), "{s}");

    // update: a second apply changes a limit in place.
    let more = LinuxResourcesBuilder::default()
        .pids(LinuxPidsBuilder::default().limit(-1i64).build().unwrap())
        .build()
        .unwrap();
    g.m.apply(&more).unwrap();
    assert_eq!(
        g.m.stats().unwrap()["pids"]["limit"].as_u64(),
        Some(0),
        "unlimited reads as 0"
    );

    g.kill_all();
    g.destroy_leaving_nothing();
    g.m.destroy().expect("destroying twice is fine");
}

/// Opens `dev` from a process in the cgroup; true when the kernel let it.
fn can_open(g: &mut Guard, dev: &str) -> bool {
    let pid = g.spawn(&format!(
        "read go; if head -c 1 {dev} >/dev/null 2>&1; then echo yes; else echo no; fi"
    ));
    let child = g
        .children
        .iter_mut()
        .find(|c| c.id() as i32 == pid)
        .unwrap();
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let _ = child.wait();
    out.trim() == "yes"
}

/// A device rule; `None` leaves a field out (all types, any number).
fn device(
    allow: bool,
    typ: Option<LinuxDeviceType>,
    major: Option<i64>,
    minor: Option<i64>,
    access: &str,
) -> LinuxDeviceCgroup {
    let mut b = LinuxDeviceCgroupBuilder::default().allow(allow).access(access);
    if let Some(t) = typ {
        b = b.typ(t);
    }
    if let Some(m) = major {
        b = b.major(m);
    }
    if let Some(m) = minor {
        b = b.minor(m);
    }
    b.build().unwrap()
}

fn rule(allow: bool, typ: LinuxDeviceType, major: i64, minor: i64) -> LinuxDeviceCgroup {
    device(allow, Some(typ), Some(major), Some(minor), "rwm")
}

fn deny_all() -> LinuxDeviceCgroup {
    device(false, None, None, None, "rwm")
}

/// Device rules on the host's own device back end: devices.allow/deny on v1 and
/// hybrid, the eBPF program on v2.
#[test]
fn device_rules() {
    if !root() {
        return;
    }
    let path = unique_path();
    let mut g = Guard::create(&path);
    // The shell itself needs /dev/null (1:3); /dev/zero (1:5) is what is tested.
    let null = rule(true, LinuxDeviceType::C, 1, 3);
    let r = LinuxResourcesBuilder::default()
        .devices(vec![deny_all(), null.clone()])
        .build()
        .unwrap();
    g.m.apply(&r).unwrap();
    assert!(can_open(&mut g, "/dev/null"));
    assert!(!can_open(&mut g, "/dev/zero"), "/dev/zero was not denied");
    // update: the new rules replace the old ones.
    let zero = rule(true, LinuxDeviceType::C, 1, 5);
    let r = LinuxResourcesBuilder::default()
        .devices(vec![deny_all(), null, zero])
        .build()
        .unwrap();
    g.m.apply(&r).unwrap();
    assert!(
        can_open(&mut g, "/dev/zero"),
        "/dev/zero still denied after update"
    );
    if cgroups::detect().unwrap() != Layout::V2 {
        // The v1 kernel's own list, which an update compares against to skip
        // rewriting unchanged rules: same-numbered rules merge their access.
        let list = |g: &Guard| {
            let mut l: Vec<String> = read(&g.path("devices").join("devices.list"))
                .lines()
                .map(str::to_owned)
                .collect();
            l.sort();
            l
        };
        assert_eq!(list(&g), ["c 1:3 rwm", "c 1:5 rwm"]);
        let partial = |allow, typ, major, minor, access: &str| {
            device(allow, Some(typ), major, minor, access)
        };
        let r = LinuxResourcesBuilder::default()
            .devices(vec![
                deny_all(),
                partial(true, LinuxDeviceType::C, None, None, "m"),
                partial(true, LinuxDeviceType::B, None, None, "m"),
                partial(true, LinuxDeviceType::C, Some(1), Some(3), "r"),
                partial(true, LinuxDeviceType::C, Some(1), Some(3), "wm"),
                partial(true, LinuxDeviceType::C, Some(1), Some(5), "rwm"),
                partial(false, LinuxDeviceType::C, Some(1), Some(5), "m"),
            ])
            .build()
            .unwrap();
        g.m.apply(&r).unwrap();
        assert_eq!(list(&g), ["b *:* m", "c *:* m", "c 1:3 rwm", "c 1:5 rw"]);
        // Applying the same rules again (the skip path) leaves the list as it is.
        g.m.apply(&r).unwrap();
        assert_eq!(list(&g), ["b *:* m", "c *:* m", "c 1:3 rwm", "c 1:5 rw"]);
        assert!(can_open(&mut g, "/dev/zero"));
    }
    g.kill_all();
    g.destroy_leaving_nothing();
}

/// Disables, when dropped, the controllers enabled in a hierarchy root's
/// cgroup.subtree_control since it was made.
struct RestoreSubtreeControl {
    file: PathBuf,
    before: String,
}

impl RestoreSubtreeControl {
    fn new(mount: &Path) -> RestoreSubtreeControl {
        let file = mount.join("cgroup.subtree_control");
        let before = read(&file);
        RestoreSubtreeControl { file, before }
    }
}

impl Drop for RestoreSubtreeControl {
    fn drop(&mut self) {
        let after = std::fs::read_to_string(&self.file).unwrap_or_default();
        for c in after.split_whitespace() {
            if !self.before.split_whitespace().any(|b| b == c) {
                let _ = std::fs::write(&self.file, format!("-{c}"));
            }
        }
    }
}

/// On a hybrid host the unified hierarchy has no limits but can still freeze and
/// filter devices with eBPF: the v2 code paths run against a real kernel here.
#[test]
fn unified_hierarchy_of_a_hybrid_host() {
    if !root() {
        return;
    }
    if cgroups::detect().unwrap() != Layout::Hybrid {
        eprintln!("skipped: not a hybrid host (pure v2 is covered by the other tests)");
        return;
    }
    let mount = Path::new("/sys/fs/cgroup/unified");
    // create enables the hierarchy's controllers in the root, as on a v2 host; this
    // puts the host back as it was, after the guard below has removed the cgroup.
    let _restore = RestoreSubtreeControl::new(mount);
    let path = unique_path();
    let mut g = Guard::new(cgroups::new_unified_manager(mount, &path).unwrap());
    g.m.create().unwrap();
    let dir = g.path("");
    assert!(dir.starts_with(mount) && dir.is_dir());

    // hugetlb is the one controller a hybrid host leaves to the unified hierarchy.
    let sizes = Path::new("/sys/kernel/mm/hugepages/hugepages-2048kB");
    if dir.join("hugetlb.2MB.max").exists() && sizes.exists() {
        let r = LinuxResourcesBuilder::default()
            .hugepage_limits(vec![
                oci_spec::runtime::LinuxHugepageLimitBuilder::default()
                    .page_size("2MB")
                    .limit(4i64 << 20)
                    .build()
                    .unwrap(),
            ])
            .build()
            .unwrap();
        g.m.apply(&r).unwrap();
        assert_eq!(read(&dir.join("hugetlb.2MB.max")), "4194304");
        if dir.join("hugetlb.2MB.rsvd.max").exists() {
            assert_eq!(read(&dir.join("hugetlb.2MB.rsvd.max")), "4194304");
        }
        let s = g.m.stats().unwrap();
        assert_eq!(s["hugetlb"]["2MB"]["max"].as_u64(), Some(4 << 20), "{s}");
    }

    let r = LinuxResourcesBuilder::default()
        .devices(vec![deny_all(), rule(true, LinuxDeviceType::C, 1, 3)])
        .build()
        .unwrap();
    g.m.apply(&r).unwrap();
    assert!(can_open(&mut g, "/dev/null"));
    assert!(
        !can_open(&mut g, "/dev/zero"),
        "the eBPF program did not deny /dev/zero"
    );
    // Replacing the program, twice, must not stack filters: the last rules win.
    let open_all = LinuxResourcesBuilder::default()
        .devices(vec![
            LinuxDeviceCgroupBuilder::default()
                .allow(true)
                .access("rwm")
                .build()
                .unwrap(),
        ])
        .build()
        .unwrap();
    g.m.apply(&open_all).unwrap();
    g.m.apply(&open_all).unwrap();
    assert!(
        can_open(&mut g, "/dev/zero"),
        "an old program is still attached"
    );

    let pid = g.spawn_busy();
    g.m.set_freezer(FreezerState::Frozen).unwrap();
    assert_eq!(g.m.freezer_state().unwrap(), FreezerState::Frozen);
    assert!(read(&dir.join("cgroup.events")).contains("frozen 1"));
    let t0 = cpu_ticks(pid);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(cpu_ticks(pid), t0, "a frozen process used CPU");
    g.m.set_freezer(FreezerState::Thawed).unwrap();
    assert_eq!(g.m.freezer_state().unwrap(), FreezerState::Thawed);
    assert_eq!(g.m.procs().unwrap(), vec![pid]);

    g.kill_all();
    g.destroy_leaving_nothing();
}

/// A relative cgroupsPath hangs below the runtime's own cgroup in each hierarchy.
#[test]
fn relative_path_is_below_our_own_cgroup() {
    if !root() {
        return;
    }
    let name = format!(
        "berth-rel-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    );
    let g = Guard::new(cgroups::new_manager(Some(Path::new(&name)), "unused", false).unwrap());
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    for (key, p) in g.m.paths() {
        let line = own
            .lines()
            .find(|l| {
                let mut f = l.splitn(3, ':');
                let (_, ctrls) = (f.next(), f.next().unwrap());
                if key.is_empty() {
                    ctrls.is_empty()
                } else {
                    ctrls.split(',').any(|c| c == key)
                }
            })
            .unwrap_or_else(|| panic!("no /proc/self/cgroup line for {key:?}"));
        let mine = line.splitn(3, ':').nth(2).unwrap().trim_end_matches('/');
        assert!(
            p.to_str().unwrap().ends_with(&format!("{mine}/{name}")),
            "{key:?}: {} is not below {mine}",
            p.display()
        );
    }
    g.m.create().unwrap();
    let paths = g.m.paths();
    assert!(paths.iter().all(|(_, p)| p.is_dir()));
    g.m.destroy().unwrap();
    all_gone(&paths);
}

/// A limit the kernel refuses is an error naming the file and the value.
#[test]
fn refused_limit_names_file_and_value() {
    if !root() {
        return;
    }
    let path = unique_path();
    let g = Guard::create(&path);
    let bad = LinuxResourcesBuilder::default()
        .cpu(
            LinuxCpuBuilder::default()
                .quota(50_000i64)
                .period(10u64)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let e = g.m.apply(&bad).unwrap_err().to_string();
    let file = if cgroups::detect().unwrap() == Layout::V2 {
        "cpu.max"
    } else {
        "cpu.cfs_period_us"
    };
    assert!(e.starts_with(&format!("cgroup {file}: cannot set ")), "{e}");
    assert!(e.contains("10"), "{e}");
    assert!(e.contains("invalid argument"), "{e}");
    g.destroy_leaving_nothing();
}

fn memory(limit: i64, swap: i64) -> LinuxResources {
    LinuxResourcesBuilder::default()
        .memory(
            LinuxMemoryBuilder::default()
                .limit(limit)
                .swap(swap)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

/// Memory and memory+swap limits raised and lowered in place: the kernel wants
/// memory <= memory+swap at every moment, so the order of the writes matters.
#[test]
fn memory_and_swap_up_and_down() {
    if !root() {
        return;
    }
    let layout = cgroups::detect().unwrap();
    let path = unique_path();
    let g = Guard::create(&path);
    let (dir, mem_file, swap_file) = if layout == Layout::V2 {
        (g.path(""), "memory.max", "memory.swap.max")
    } else {
        (
            g.path("memory"),
            "memory.limit_in_bytes",
            "memory.memsw.limit_in_bytes",
        )
    };
    if !dir.join(swap_file).exists() {
        eprintln!("skipped: no swap accounting ({swap_file} is missing)");
        return;
    }
    const M: i64 = 1 << 20;
    for (limit, swap) in [
        (64 * M, 128 * M),
        (256 * M, 512 * M),
        (32 * M, 48 * M),
        (-1, -1),
    ] {
        g.m.apply(&memory(limit, swap))
            .unwrap_or_else(|e| panic!("{limit}/{swap}: {e}"));
        let (want_mem, want_swap) = match (layout, limit) {
            (Layout::V2, -1) => ("max".to_owned(), "max".to_owned()),
            (Layout::V2, _) => (limit.to_string(), (swap - limit).to_string()),
            // v1 shows unlimited as the largest page-aligned value.
            (_, -1) => (read(&dir.join(mem_file)), read(&dir.join(swap_file))),
            _ => (limit.to_string(), swap.to_string()),
        };
        assert_eq!(read(&dir.join(mem_file)), want_mem);
        assert_eq!(read(&dir.join(swap_file)), want_swap);
        if limit == -1 && layout != Layout::V2 {
            assert!(read(&dir.join(mem_file)).parse::<u64>().unwrap() > 1 << 60);
            assert!(read(&dir.join(swap_file)).parse::<u64>().unwrap() > 1 << 60);
        }
    }
    let e = g.m.apply(&memory(64 * M, 32 * M)).unwrap_err().to_string();
    assert!(e.contains("below the memory limit"), "{e}");
    g.destroy_leaving_nothing();
}

/// The rest of the cpu, cpuset and memory knobs, and on v2 the unified map, which is
/// written last and so overrides the typed fields.
#[test]
fn more_limits() {
    if !root() {
        return;
    }
    let layout = cgroups::detect().unwrap();
    let path = unique_path();
    let g = Guard::create(&path);
    let mut cpu = LinuxCpuBuilder::default()
        .shares(2048u64)
        .quota(50_000i64)
        .period(100_000u64)
        .cpus("0")
        .mems("0")
        .build()
        .unwrap();
    let mut mem = LinuxMemoryBuilder::default()
        .limit(128i64 << 20)
        .reservation(16i64 << 20)
        .build()
        .unwrap();
    let mut r = LinuxResourcesBuilder::default()
        .pids(LinuxPidsBuilder::default().limit(50i64).build().unwrap())
        .build()
        .unwrap();
    let cpu_dir = if layout == Layout::V2 {
        g.path("")
    } else {
        g.path("cpu")
    };
    let burst = cpu_dir.join(if layout == Layout::V2 {
        "cpu.max.burst"
    } else {
        "cpu.cfs_burst_us"
    });
    if burst.exists() {
        cpu.set_burst(Some(10_000));
    }
    if layout == Layout::V2 {
        r.set_unified(Some(
            [("memory.high", "100663296"), ("pids.max", "40")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        ));
    } else {
        mem.set_swappiness(Some(10));
        mem.set_disable_oom_killer(Some(true));
    }
    r.set_cpu(Some(cpu));
    r.set_memory(Some(mem));
    g.m.apply(&r).unwrap();

    let check = |dir: &Path, file: &str, want: &str| {
        assert_eq!(read(&dir.join(file)), want, "{file}");
    };
    if burst.exists() {
        check(
            &cpu_dir,
            burst.file_name().unwrap().to_str().unwrap(),
            "10000",
        );
    }
    if layout == Layout::V2 {
        let d = g.path("");
        check(&d, "cpu.weight", "79");
        check(&d, "cpu.max", "50000 100000");
        check(&d, "cpuset.cpus", "0");
        check(&d, "cpuset.mems", "0");
        check(&d, "memory.max", &(128u64 << 20).to_string());
        check(&d, "memory.low", &(16u64 << 20).to_string());
        check(&d, "memory.high", "100663296");
        check(&d, "pids.max", "40");
    } else {
        check(&g.path("cpu"), "cpu.shares", "2048");
        check(&g.path("cpu"), "cpu.cfs_period_us", "100000");
        check(&g.path("cpuset"), "cpuset.cpus", "0");
        check(&g.path("cpuset"), "cpuset.mems", "0");
        let m = g.path("memory");
        check(&m, "memory.soft_limit_in_bytes", &(16u64 << 20).to_string());
        check(&m, "memory.swappiness", "10");
        assert!(read(&m.join("memory.oom_control")).contains("oom_kill_disable 1"));
        check(&g.path("pids"), "pids.max", "50");
    }
    // A quota lowered below the current burst: the new burst has to go first.
    if burst.exists() {
        let cpu = |quota: i64, b: u64| {
            LinuxResourcesBuilder::default()
                .cpu(
                    LinuxCpuBuilder::default()
                        .quota(quota)
                        .period(100_000u64)
                        .burst(b)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap()
        };
        g.m.apply(&cpu(50_000, 40_000)).unwrap();
        g.m.apply(&cpu(20_000, 10_000)).unwrap();
        check(
            &cpu_dir,
            burst.file_name().unwrap().to_str().unwrap(),
            "10000",
        );
    }
    // An idle group reads back a token weight, so idle gets an apply of its own.
    if cpu_dir.join("cpu.idle").exists() {
        let idle = LinuxResourcesBuilder::default()
            .cpu(LinuxCpuBuilder::default().idle(1i64).build().unwrap())
            .build()
            .unwrap();
        g.m.apply(&idle).unwrap();
        check(&cpu_dir, "cpu.idle", "1");
    }
    g.destroy_leaving_nothing();
}

/// The first block device that is not a loop device, as (name, major, minor).
fn a_block_device() -> Option<(String, i64, i64)> {
    let mut devs: Vec<(String, i64, i64)> = std::fs::read_dir("/sys/block")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let dev = std::fs::read_to_string(e.path().join("dev")).ok()?;
            let (a, b) = dev.trim().split_once(':')?;
            Some((name, a.parse().ok()?, b.parse().ok()?))
        })
        .filter(|(name, _, _)| !name.starts_with("loop"))
        .collect();
    devs.sort();
    devs.into_iter().next()
}

/// Per-device throttles: blkio.throttle.* on v1, io.max on v2.
#[test]
fn block_io_throttle() {
    if !root() {
        return;
    }
    let Some((name, major, minor)) = a_block_device() else {
        eprintln!(
            "skipped: no block device (the v2 guest has one with BERTH_GUEST_MODULES=\"overlay brd\")"
        );
        return;
    };
    let layout = cgroups::detect().unwrap();
    let path = unique_path();
    let g = Guard::create(&path);
    let throttle = |rate: u64| {
        vec![
            oci_spec::runtime::LinuxThrottleDeviceBuilder::default()
                .major(major)
                .minor(minor)
                .rate(rate)
                .build()
                .unwrap(),
        ]
    };
    let r = LinuxResourcesBuilder::default()
        .block_io(
            oci_spec::runtime::LinuxBlockIoBuilder::default()
                .throttle_read_bps_device(throttle(1 << 20))
                .throttle_write_iops_device(throttle(100))
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    g.m.apply(&r).unwrap();
    let dev = format!("{major}:{minor}");
    if layout == Layout::V2 {
        let io_max = read(&g.path("").join("io.max"));
        let line = io_max
            .lines()
            .find(|l| l.starts_with(&dev))
            .unwrap_or_else(|| panic!("no {dev} ({name}) line in io.max: {io_max:?}"));
        assert!(
            line.contains("rbps=1048576") && line.contains("wiops=100"),
            "{line}"
        );
        let d = g.path("");
        if d.join("io.weight").exists() && !d.join("io.bfq.weight").exists() {
            let w = LinuxResourcesBuilder::default()
                .block_io(
                    oci_spec::runtime::LinuxBlockIoBuilder::default()
                        .weight(500u16)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap();
            g.m.apply(&w).unwrap();
            // blkio's 10..1000 mapped onto io.weight's 1..10000.
            let weight = read(&d.join("io.weight"));
            assert!(weight.starts_with("default 4950"), "{weight}");
        }
    } else {
        let d = g.path("blkio");
        assert_eq!(
            read(&d.join("blkio.throttle.read_bps_device")),
            format!("{dev} 1048576")
        );
        assert_eq!(
            read(&d.join("blkio.throttle.write_iops_device")),
            format!("{dev} 100")
        );
    }
    g.destroy_leaving_nothing();
}
