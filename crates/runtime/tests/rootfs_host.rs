//! Root filesystem setup for real: as root, in a throwaway child that has its own
//! mount, pid, uts and ipc namespaces, `prepare`, `pivot` and `finish` run on a
//! busybox rootfs with a runc-like configuration, and the child checks from inside
//! what the container would see. The child's mount namespace dies with it, so the
//! host keeps no mount; each test checks that too.
//!
//! The checks run in a forked child (glibc makes malloc safe after fork even with
//! the harness's other threads) which reports a failure as text over a pipe.

use std::fs;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use berth_runtime::rootfs::{self, Options};
use nix::mount::MsFlags;
use nix::sched::CloneFlags;
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::ForkResult;
use oci_spec::runtime::Spec;

type Check = Result<(), String>;

/// A directory removed when the test ends, whatever happens.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        // A counter, not the clock: a coarse guest clock gives two tests one name.
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let p =
            std::env::temp_dir().join(format!("berth-rootfs-{tag}-{}-{n}", std::process::id()));
        fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// bundle/rootfs with busybox and its sh link, nothing else: every mount target
/// has to be created.
fn busybox_bundle(base: &Path) -> (PathBuf, PathBuf) {
    let bundle = base.join("bundle");
    let rootfs = bundle.join("rootfs");
    fs::create_dir_all(rootfs.join("bin")).unwrap();
    fs::copy("/bin/busybox", rootfs.join("bin/busybox")).unwrap();
    std::os::unix::fs::symlink("busybox", rootfs.join("bin/sh")).unwrap();
    (bundle, rootfs)
}

fn options(bundle: &Path, rootfs: &Path) -> Options {
    Options {
        rootfs: rootfs.to_path_buf(),
        bundle: bundle.to_path_buf(),
        no_pivot: false,
        user_ns: false,
        cgroup_ns: false,
    }
}

/// Runs `f` as pid 1 of new pid/mount/uts/ipc namespaces (plus `extra`) and
/// returns its verdict.
fn in_container(extra: CloneFlags, f: impl FnOnce() -> Check) -> Check {
    in_container_with(extra, || Ok(()), f)
}

/// `in_container`, running `pre` first, as real root in the child before any of
/// its namespaces exist.
fn in_container_with(
    extra: CloneFlags,
    pre: impl FnOnce() -> Check,
    f: impl FnOnce() -> Check,
) -> Check {
    // BERTH_ROOTFS_EXPLAIN=1 prints the `--explain` trace of each container's
    // set-up (run with --nocapture --test-threads=1 to read it).
    let explain = std::env::var_os("BERTH_ROOTFS_EXPLAIN").is_some();
    let f = move || {
        if explain {
            berth_runtime::explain::enable(std::io::stderr().as_fd().try_clone_to_owned().unwrap());
            berth_runtime::explain::set_role(2);
        }
        f()
    };
    // On cgroup v2 the container gets a cgroup of its own, as a real one would:
    // the root cgroup would hide a mount showing the wrong cgroup. (On v1 hosts the
    // tests already run below the root in the memory hierarchy.)
    let cgroup = TestCgroup::new();
    let (r, w) = nix::unistd::pipe().unwrap();
    // SAFETY: the child only runs this test's code and leaves with _exit, never
    // returning into the test harness.
    match unsafe { nix::unistd::fork() }.unwrap() {
        ForkResult::Child => {
            drop(r);
            if let Some(cg) = &cgroup
                && let Err(e) = fs::write(cg.0.join("cgroup.procs"), "0")
            {
                let _ = fs::File::from(w).write_all(format!("join test cgroup: {e}").as_bytes());
                // SAFETY: see below.
                unsafe { libc::_exit(1) }
            }
            let code = stage1(extra, w, pre, f);
            // SAFETY: _exit ends the forked child without running the harness's
            // atexit handlers or destructors.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => {
            drop(w);
            let mut msg = String::new();
            let _ = fs::File::from(r).read_to_string(&mut msg);
            let status = waitpid(child, None).unwrap();
            match (status, msg.is_empty()) {
                (WaitStatus::Exited(_, 0), true) => Ok(()),
                (_, false) => Err(msg),
                (s, true) => Err(format!("container child ended with {s:?} and no message")),
            }
        }
    }
}

/// Whether /sys/fs/cgroup is a cgroup v2 mount (seen from wherever this runs).
fn cgroup_v2_host() -> bool {
    rustix::fs::statfs("/sys/fs/cgroup")
        .map(|s| s.f_type == 0x6367_7270)
        .unwrap_or(false)
}

/// A child cgroup of the v2 root for one container, removed when dropped.
struct TestCgroup(PathBuf);

impl TestCgroup {
    fn new() -> Option<TestCgroup> {
        if !cgroup_v2_host() {
            return None;
        }
        // A counter, not the clock: a coarse guest clock gave two tests one name.
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let p = PathBuf::from(format!(
            "/sys/fs/cgroup/berth-rootfs-test-{}-{n}",
            std::process::id()
        ));
        fs::create_dir(&p).unwrap();
        Some(TestCgroup(p))
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        // The exited child may still be accounted for a moment after waitpid.
        for _ in 0..200 {
            match fs::remove_dir(&self.0) {
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                    std::thread::sleep(std::time::Duration::from_millis(5))
                }
                _ => return,
            }
        }
    }
}

fn stage1(
    extra: CloneFlags,
    w: OwnedFd,
    pre: impl FnOnce() -> Check,
    f: impl FnOnce() -> Check,
) -> i32 {
    let flags = CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWIPC
        | extra;
    let report = |w: &OwnedFd, m: String| {
        let _ = fs::File::from(w.try_clone().unwrap()).write_all(m.as_bytes());
    };
    if let Err(e) = pre() {
        report(&w, e);
        return 1;
    }
    if extra.contains(CloneFlags::CLONE_NEWUSER)
        && let Err(e) = enter_user_ns()
    {
        report(&w, e);
        return 1;
    }
    if let Err(e) = nix::sched::unshare(flags & !CloneFlags::CLONE_NEWUSER) {
        report(&w, format!("unshare: {e}"));
        return 1;
    }
    // Whatever `prepare` does, nothing this test mounts may reach the host.
    if let Err(e) = nix::mount::mount(
        None::<&str>,
        "/",
        None::<&str>,
        nix::mount::MsFlags::MS_SLAVE | nix::mount::MsFlags::MS_REC,
        None::<&str>,
    ) {
        report(&w, format!("make / rslave: {e}"));
        return 1;
    }
    // SAFETY: as above; the grandchild is pid 1 of the new pid namespace.
    match unsafe { nix::unistd::fork() } {
        Ok(ForkResult::Child) => {
            let verdict =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|p| {
                    Err(p
                        .downcast_ref::<String>()
                        .cloned()
                        .unwrap_or_else(|| "panic".into()))
                });
            let code = match verdict {
                Ok(()) => 0,
                Err(m) => {
                    report(&w, m);
                    1
                }
            };
            // SAFETY: see `in_container`.
            unsafe { libc::_exit(code) }
        }
        Ok(ForkResult::Parent { child }) => {
            drop(w);
            match waitpid(child, None) {
                Ok(WaitStatus::Exited(_, c)) => c,
                _ => 2,
            }
        }
        Err(e) => {
            report(&w, format!("fork: {e}"));
            1
        }
    }
}

/// A user namespace mapping root to root (the one mapping a process may write for
/// itself): mknod is refused there, and host mounts' flags are locked.
fn enter_user_ns() -> Check {
    nix::sched::unshare(CloneFlags::CLONE_NEWUSER).map_err(|e| format!("unshare user: {e}"))?;
    for (file, text) in [
        ("setgroups", "deny"),
        ("uid_map", "0 0 1"),
        ("gid_map", "0 0 1"),
    ] {
        fs::write(format!("/proc/self/{file}"), text).map_err(|e| format!("{file}: {e}"))?;
    }
    Ok(())
}

/// The container's root as its init makes it: prepare, pivot, finish.
fn set_up_root(spec: &Spec, opts: &Options) -> Check {
    rootfs::prepare(spec, opts).map_err(|e| format!("prepare: {e}"))?;
    rootfs::pivot(opts).map_err(|e| format!("pivot: {e}"))?;
    rootfs::finish(spec, opts).map_err(|e| format!("finish: {e}"))
}

/// No mount on the host mentions `base`.
fn no_host_mounts(base: &Path) -> Check {
    let mi = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let base = base.to_string_lossy();
    match mi.lines().find(|l| l.contains(&*base)) {
        Some(l) => Err(format!("mount left on the host: {l}")),
        None => Ok(()),
    }
}

fn check(ok: bool, what: impl FnOnce() -> String) -> Check {
    if ok { Ok(()) } else { Err(what()) }
}

fn expect_erofs(path: &str) -> Check {
    match fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
    {
        Err(e) if e.raw_os_error() == Some(libc::EROFS) => Ok(()),
        Err(e) => Err(format!("{path}: expected EROFS, got {e}")),
        Ok(_) => Err(format!("{path}: writable, expected read-only")),
    }
}

fn runc_like_spec(extra_mounts: &str, sysctl: &str) -> Spec {
    serde_json::from_str(&runc_like_json(extra_mounts, sysctl)).unwrap()
}

fn runc_like_json(extra_mounts: &str, sysctl: &str) -> String {
    format!(
        r#"{{
  "ociVersion": "1.0.2",
  "root": {{"path": "rootfs", "readonly": true}},
  "mounts": [
    {{"destination": "/proc", "type": "proc", "source": "proc"}},
    {{"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
      "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}},
    {{"destination": "/dev/pts", "type": "devpts", "source": "devpts",
      "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}},
    {{"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
      "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]}},
    {{"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
      "options": ["nosuid", "noexec", "nodev"]}},
    {{"destination": "/sys", "type": "sysfs", "source": "sysfs",
      "options": ["nosuid", "noexec", "nodev", "ro"]}},
    {{"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
      "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}}
    {extra_mounts}
  ],
  "linux": {{
    "devices": [
      {{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 384, "uid": 0, "gid": 0}}
    ],
    "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
      "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
    "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
    "sysctl": {{ {sysctl} }}
  }}
}}"#
    )
}

/// What a container made from runc's default configuration must see.
fn check_default_container(user_ns: bool) -> Check {
    // pid 1 of its own pid namespace, with its own /proc.
    check(nix::unistd::getpid().as_raw() == 1, || "not pid 1".into())?;
    let me = fs::read_link("/proc/self").map_err(|e| format!("/proc/self: {e}"))?;
    check(me == Path::new("1"), || {
        format!("/proc/self -> {me:?}, expected 1")
    })?;
    // The root is the busybox rootfs.
    check(Path::new("/bin/busybox").is_file(), || {
        "/bin/busybox missing: no pivot?".into()
    })?;

    // Device nodes with exact modes (umask 0 while creating them).
    let null = fs::symlink_metadata("/dev/null").map_err(|e| format!("/dev/null: {e}"))?;
    check(null.file_type().is_char_device(), || {
        "/dev/null is not a char device".into()
    })?;
    check(null.rdev() == nix::sys::stat::makedev(1, 3), || {
        format!("/dev/null rdev {:#x}", null.rdev())
    })?;
    check(null.permissions().mode() & 0o7777 == 0o666, || {
        format!("/dev/null mode {:o}", null.permissions().mode())
    })?;
    // The configured device: made by mknod with its exact mode, or in a user
    // namespace the host's node bind-mounted (the test uses /dev/kmsg there, which
    // every host has; not every host has /dev/fuse).
    let (dev, major, minor) = if user_ns {
        ("/dev/kmsg", 1, 11)
    } else {
        ("/dev/fuse", 10, 229)
    };
    let node = fs::symlink_metadata(dev).map_err(|e| format!("{dev}: {e}"))?;
    check(node.rdev() == nix::sys::stat::makedev(major, minor), || {
        format!("{dev} rdev")
    })?;
    let mode = node.permissions().mode() & 0o7777;
    check(user_ns || mode == 0o600, || {
        format!("{dev} mode {mode:o}, expected 600")
    })?;
    for d in ["zero", "full", "random", "urandom", "tty"] {
        let m = fs::symlink_metadata(format!("/dev/{d}")).map_err(|e| format!("/dev/{d}: {e}"))?;
        check(m.file_type().is_char_device(), || {
            format!("/dev/{d} is not a char device")
        })?;
    }
    fs::write("/dev/null", b"x").map_err(|e| format!("write /dev/null: {e}"))?;

    // Links.
    let ptmx = fs::read_link("/dev/ptmx").map_err(|e| format!("/dev/ptmx: {e}"))?;
    check(ptmx == Path::new("pts/ptmx"), || {
        format!("/dev/ptmx -> {ptmx:?}")
    })?;
    check(Path::new("/dev/pts/ptmx").exists(), || {
        "/dev/pts/ptmx missing: devpts not mounted".into()
    })?;
    let fd = fs::read_link("/dev/fd").map_err(|e| format!("/dev/fd: {e}"))?;
    check(fd == Path::new("/proc/self/fd"), || {
        format!("/dev/fd -> {fd:?}")
    })?;
    let stderr = fs::read_link("/dev/stderr").map_err(|e| format!("/dev/stderr: {e}"))?;
    check(stderr == Path::new("/proc/self/fd/2"), || {
        format!("/dev/stderr -> {stderr:?}")
    })?;

    // Read-only root, writable tmpfs mounts on it.
    expect_erofs("/berth-probe")?;
    fs::write("/dev/shm/probe", b"x").map_err(|e| format!("/dev/shm not writable: {e}"))?;
    let mq = rustix::fs::statfs("/dev/mqueue").map_err(|e| format!("/dev/mqueue: {e}"))?;
    check(mq.f_type == 0x1980_0202, || {
        "/dev/mqueue is not mqueue".into()
    })?;

    // Masked paths: a file reads empty, a directory is an empty read-only tmpfs.
    let tl = fs::read("/proc/timer_list").map_err(|e| format!("/proc/timer_list: {e}"))?;
    check(tl.is_empty(), || {
        format!("/proc/timer_list not masked: {} bytes", tl.len())
    })?;
    if Path::new("/proc/acpi").exists() {
        let n = fs::read_dir("/proc/acpi")
            .map_err(|e| format!("/proc/acpi: {e}"))?
            .count();
        check(n == 0, || "/proc/acpi not masked".into())?;
        expect_erofs("/proc/acpi/probe")?;
    }
    // Read-only paths, and the sysctl written before /proc/sys turned read-only.
    let dn = fs::read_to_string("/proc/sys/kernel/domainname")
        .map_err(|e| format!("domainname: {e}"))?;
    check(dn == "berth-test\n", || {
        format!("sysctl kernel.domainname not applied: {dn:?}")
    })?;
    match fs::OpenOptions::new()
        .write(true)
        .open("/proc/sys/kernel/domainname")
    {
        Err(e) if e.raw_os_error() == Some(libc::EROFS) => {}
        r => return Err(format!("/proc/sys not read-only: {r:?}")),
    }

    // sysfs read-only, cgroup tmpfs read-only with the container's own cgroup.
    check(Path::new("/sys/kernel").is_dir(), || {
        "sysfs not mounted".into()
    })?;
    expect_erofs("/sys/probe")?;
    expect_erofs("/sys/fs/cgroup/probe")?;
    if cgroup_v2_host() {
        let procs = fs::read_to_string("/sys/fs/cgroup/cgroup.procs")
            .map_err(|e| format!("/sys/fs/cgroup/cgroup.procs: {e}"))?;
        check(procs.lines().any(|l| l == "1"), || {
            format!("/sys/fs/cgroup is not the container's cgroup: procs {procs:?}")
        })?;
        // Only a non-root cgroup has cgroup.events: the view is the container's own
        // cgroup, not the host's root.
        check(Path::new("/sys/fs/cgroup/cgroup.events").exists(), || {
            "/sys/fs/cgroup shows the root cgroup, not the container's".into()
        })?;
    }
    let cg = fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    if cg.lines().any(|l| l.split(':').nth(1) == Some("memory")) {
        let procs = fs::read_to_string("/sys/fs/cgroup/memory/cgroup.procs")
            .map_err(|e| format!("/sys/fs/cgroup/memory/cgroup.procs: {e}"))?;
        // The bind shows the container's own cgroup, of which it (pid 1) is a member.
        check(procs.lines().any(|l| l == "1"), || {
            format!("/sys/fs/cgroup/memory is not the container's cgroup: procs {procs:?}")
        })?;
    }
    Ok(())
}

#[test]
fn runc_default_config_in_real_namespaces() {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let base = TempDir::new("default");
    let (bundle, rootfs) = busybox_bundle(&base.0);
    fs::write(bundle.join("hostfile.txt"), "hello\n").unwrap();
    fs::create_dir(bundle.join("data")).unwrap();
    let spec = runc_like_spec(
        r#",
    {"destination": "/etc/hostfile", "type": "bind", "source": "hostfile.txt", "options": ["rbind", "ro"]},
    {"destination": "/data", "type": "none", "source": "data", "options": ["rbind", "rw", "rshared"]}"#,
        r#""kernel.domainname": "berth-test""#,
    );
    let opts = options(&bundle, &rootfs);
    let r = in_container(CloneFlags::empty(), || {
        set_up_root(&spec, &opts)?;
        check_default_container(false)?;
        // Binds: a bundle-relative file, read-only; a directory, read-write.
        let hf = fs::read_to_string("/etc/hostfile").map_err(|e| format!("/etc/hostfile: {e}"))?;
        check(hf == "hello\n", || format!("/etc/hostfile: {hf:?}"))?;
        expect_erofs("/etc/hostfile")?;
        fs::write("/data/from-container", b"hi").map_err(|e| format!("/data not writable: {e}"))?;
        // The propagation option was applied to the new mount after it was made.
        let mi = fs::read_to_string("/proc/self/mountinfo").map_err(|e| e.to_string())?;
        let data = mi
            .lines()
            .find(|l| l.split(' ').nth(4) == Some("/data"))
            .ok_or("no /data in mountinfo")?;
        check(data.contains(" shared:"), || {
            format!("/data is not shared: {data}")
        })
    });
    r.unwrap();
    no_host_mounts(&base.0).unwrap();
    // The rw bind reached the bundle's directory.
    assert_eq!(fs::read(bundle.join("data/from-container")).unwrap(), b"hi");
    // The ro file bind did not let the container change the host file.
    assert_eq!(
        fs::read_to_string(bundle.join("hostfile.txt")).unwrap(),
        "hello\n"
    );
}

#[test]
fn cgroup_namespace_gets_fresh_cgroup_mounts() {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let base = TempDir::new("cgroupns");
    let (bundle, rootfs) = busybox_bundle(&base.0);
    let spec = runc_like_spec("", r#""kernel.domainname": "berth-test""#);
    let mut opts = options(&bundle, &rootfs);
    opts.cgroup_ns = true;
    let r = in_container(CloneFlags::CLONE_NEWCGROUP, || {
        set_up_root(&spec, &opts)?;
        check_default_container(false)
    });
    r.unwrap();
    no_host_mounts(&base.0).unwrap();
}

#[test]
fn no_pivot_moves_the_root() {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let base = TempDir::new("nopivot");
    let (bundle, rootfs) = busybox_bundle(&base.0);
    let spec = runc_like_spec("", r#""kernel.domainname": "berth-test""#);
    let mut opts = options(&bundle, &rootfs);
    opts.no_pivot = true;
    let r = in_container(CloneFlags::empty(), || {
        set_up_root(&spec, &opts)?;
        check_default_container(false)
    });
    r.unwrap();
    no_host_mounts(&base.0).unwrap();
}

#[test]
fn symlinks_in_the_rootfs_never_lead_mounts_to_the_host() {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let base = TempDir::new("escape");
    let (bundle, rootfs) = busybox_bundle(&base.0);
    // A directory on the host that the image's symlinks aim at.
    let outside = base.0.join("outside");
    fs::create_dir(&outside).unwrap();
    std::os::unix::fs::symlink("/", rootfs.join("mnt")).unwrap();
    std::os::unix::fs::symlink(&outside, rootfs.join("evil")).unwrap();
    std::os::unix::fs::symlink("../../../../../../..", rootfs.join("up")).unwrap();
    fs::write(bundle.join("f"), "f").unwrap();
    // A name nobody else uses at the host's /.
    let unique = format!(
        "berth-escape-{}",
        base.0.file_name().unwrap().to_string_lossy()
    );
    let json = format!(
        r#"{{"ociVersion": "1.0.2",
  "mounts": [
    {{"destination": "/proc", "type": "proc", "source": "proc"}},
    {{"destination": "/mnt/{unique}/x", "type": "tmpfs", "source": "tmpfs"}},
    {{"destination": "/evil/y", "type": "bind", "source": "f", "options": ["bind"]}},
    {{"destination": "/up/{unique}/z", "type": "tmpfs", "source": "tmpfs"}}
  ],
  "linux": {{
    "devices": [{{"path": "/evil/dev0", "type": "c", "major": 1, "minor": 3}}],
    "maskedPaths": ["/evil/masked"]
  }}}}"#
    );
    let spec: Spec = serde_json::from_str(&json).unwrap();
    let opts = options(&bundle, &rootfs);
    let unique_in = unique.clone();
    let outside_in = outside.clone();
    let r = in_container(CloneFlags::empty(), || {
        rootfs::prepare(&spec, &opts).map_err(|e| format!("prepare: {e}"))?;
        // Before the pivot the host is still visible: nothing may have landed there.
        check(!Path::new("/").join(&unique_in).exists(), || {
            "mount target created on the host's /".into()
        })?;
        let n = fs::read_dir(&outside_in)
            .map_err(|e| e.to_string())?
            .count();
        check(n == 0, || {
            format!("{n} entries created in the host directory a symlink aims at")
        })?;
        rootfs::pivot(&opts).map_err(|e| format!("pivot: {e}"))?;
        rootfs::finish(&spec, &opts).map_err(|e| format!("finish: {e}"))?;
        let inside =
            fs::read_to_string(outside_in.join("y")).map_err(|e| format!("bind inside: {e}"))?;
        check(inside == "f", || {
            "bind through evil -> host dir did not land inside the root".into()
        })
    });
    r.unwrap();
    no_host_mounts(&base.0).unwrap();
    assert!(
        !Path::new("/").join(&unique).exists(),
        "escaped to the host's /"
    );
    assert_eq!(
        fs::read_dir(&outside).unwrap().count(),
        0,
        "escaped into {outside:?}"
    );
    // What the image's links named was created inside the rootfs instead.
    assert!(rootfs.join(&unique).join("x").is_dir());
    assert!(rootfs.join(&unique).join("z").is_dir());
    let in_root = rootfs.join(outside.strip_prefix("/").unwrap());
    assert!(in_root.join("y").is_file());
    assert!(
        fs::symlink_metadata(in_root.join("dev0"))
            .unwrap()
            .file_type()
            .is_char_device()
    );
}

#[test]
fn failing_sysctl_names_key_and_value() {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let base = TempDir::new("sysctl");
    let (bundle, rootfs) = busybox_bundle(&base.0);
    let spec = runc_like_spec("", r#""kernel.berth_no_such_key": "42""#);
    let opts = options(&bundle, &rootfs);
    let r = in_container(CloneFlags::empty(), || {
        rootfs::prepare(&spec, &opts).map_err(|e| format!("prepare: {e}"))?;
        rootfs::pivot(&opts).map_err(|e| format!("pivot: {e}"))?;
        match rootfs::finish(&spec, &opts) {
            Ok(()) => Err("finish accepted a sysctl that does not exist".into()),
            Err(e) => {
                let m = e.to_string();
                check(
                    m == "sysctl kernel.berth_no_such_key=42: no such file or directory",
                    || m,
                )
            }
        }
    });
    r.unwrap();
    no_host_mounts(&base.0).unwrap();
}

#[test]
fn mount_errors_name_what_and_where() {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let base = TempDir::new("mounterr");
    let (bundle, rootfs) = busybox_bundle(&base.0);
    let spec: Spec = serde_json::from_str(
        r#"{"ociVersion": "1.0.2", "mounts": [
            {"destination": "/x", "type": "berthnosuchfs", "source": "none", "options": ["nosuid", "ro"]}]}"#,
    )
    .unwrap();
    let opts = options(&bundle, &rootfs);
    let r = in_container(CloneFlags::empty(), || {
        match rootfs::prepare(&spec, &opts) {
            Ok(()) => Err("a mount of an unknown filesystem succeeded".into()),
            Err(e) => {
                let m = e.to_string();
                check(
                    m == "mount berthnosuchfs on /x (nosuid,ro): no such device",
                    || m,
                )
            }
        }
    });
    r.unwrap();
    no_host_mounts(&base.0).unwrap();
}

#[test]
fn user_namespace_binds_devices_and_keeps_locked_flags() {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let base = TempDir::new("userns");
    let (bundle, rootfs) = busybox_bundle(&base.0);
    // A mount with nosuid,nodev,noexec,noatime made outside the user namespace: its
    // flags are locked inside, and a read-only remount of a bind of it that does
    // not repeat them is refused with EPERM unless they are kept.
    let locked = base.0.join("locked");
    fs::create_dir(&locked).unwrap();
    let extra = format!(
        r#", {{"destination": "/locked", "type": "bind", "source": "{}", "options": ["rbind", "ro"]}}"#,
        locked.display()
    );
    // gid 5 is not mapped in a namespace that maps root alone.
    let json = runc_like_json(&extra, r#""kernel.domainname": "berth-test""#)
        .replace(r#", "gid=5""#, "")
        .replace(
            r#""path": "/dev/fuse", "type": "c", "major": 10, "minor": 229"#,
            r#""path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11"#,
        );
    let spec: Spec = serde_json::from_str(&json).unwrap();
    let mut opts = options(&bundle, &rootfs);
    opts.user_ns = true;
    let locked_in = locked.clone();
    let pre = move || {
        nix::sched::unshare(CloneFlags::CLONE_NEWNS).map_err(|e| format!("unshare: {e}"))?;
        let none = None::<&str>;
        nix::mount::mount(none, "/", none, MsFlags::MS_SLAVE | MsFlags::MS_REC, none)
            .map_err(|e| format!("make / rslave: {e}"))?;
        let flags =
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC | MsFlags::MS_NOATIME;
        nix::mount::mount(
            Some("tmpfs"),
            &locked_in,
            Some("tmpfs"),
            flags,
            Some("mode=755"),
        )
        .map_err(|e| format!("mount locked tmpfs: {e}"))?;
        fs::write(locked_in.join("probe"), "locked").map_err(|e| format!("probe: {e}"))
    };
    let r = in_container_with(CloneFlags::CLONE_NEWUSER, pre, || {
        // Without a network namespace of its own, sysfs cannot be mounted here:
        // the host's /sys is bound instead.
        set_up_root(&spec, &opts)?;
        check_default_container(true)?;
        let probe =
            fs::read_to_string("/locked/probe").map_err(|e| format!("/locked/probe: {e}"))?;
        check(probe == "locked", || format!("/locked/probe: {probe:?}"))?;
        expect_erofs("/locked/new")
    });
    r.unwrap();
    no_host_mounts(&base.0).unwrap();
}

#[test]
fn shared_root_propagation_is_applied_after_the_pivot() {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let base = TempDir::new("rshared");
    let (bundle, rootfs) = busybox_bundle(&base.0);
    let json = runc_like_json("", r#""kernel.domainname": "berth-test""#).replace(
        r#""linux": {"#,
        r#""linux": { "rootfsPropagation": "rshared","#,
    );
    let spec: Spec = serde_json::from_str(&json).unwrap();
    let opts = options(&bundle, &rootfs);
    let r = in_container(CloneFlags::empty(), || {
        set_up_root(&spec, &opts)?;
        check_default_container(false)?;
        let mi = fs::read_to_string("/proc/self/mountinfo").map_err(|e| e.to_string())?;
        let root = mi
            .lines()
            .find(|l| l.split(' ').nth(4) == Some("/"))
            .ok_or("no / in mountinfo")?;
        check(root.contains(" shared:"), || {
            format!("/ is not shared: {root}")
        })
    });
    r.unwrap();
    no_host_mounts(&base.0).unwrap();
}
