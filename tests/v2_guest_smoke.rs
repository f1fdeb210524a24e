//! Smoke test for the cgroup layout the tests run on, and for the pure cgroup v2 qemu
//! guest (scripts/v2-guest) in particular.
//!
//! On any host it classifies the cgroup layout from the filesystem type mounted at
//! /sys/fs/cgroup, checks that the kernel's own view of this process
//! (/proc/self/cgroup) and the mount table agree with it, and creates a child cgroup
//! with memory and pids limits holding a process (one v2 directory, or one directory
//! per v1 controller). In the guest (`BERTH_EXPECT_CGROUP2=1`) it also requires pure
//! cgroup v2 with the controllers the runtime uses enabled.

use std::ffi::CString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use berth_tests::{is_root, unique};

const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
const CGROUP_SUPER_MAGIC: i64 = 0x0027_e0eb;
const TMPFS_MAGIC: i64 = 0x0102_1994;

#[derive(Debug, PartialEq)]
enum Layout {
    /// cgroup2 mounted at /sys/fs/cgroup, no v1 hierarchy.
    Unified,
    /// v1 controllers under a tmpfs at /sys/fs/cgroup, maybe cgroup2 at ./unified.
    Hybrid,
}

fn fs_magic(path: &Path) -> i64 {
    let c = CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: an all-zero statfs is a valid value for the kernel to overwrite.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: c is a valid NUL-terminated path and st a valid out-pointer.
    let rc = unsafe { libc::statfs(c.as_ptr(), &mut st) };
    assert_eq!(
        rc,
        0,
        "statfs {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
    st.f_type as i64
}

fn layout() -> Layout {
    match fs_magic(Path::new("/sys/fs/cgroup")) {
        CGROUP2_SUPER_MAGIC => Layout::Unified,
        TMPFS_MAGIC => Layout::Hybrid,
        other => panic!("/sys/fs/cgroup has unexpected filesystem magic {other:#x}"),
    }
}

/// Filesystem types of all mounts, from /proc/self/mountinfo (the field after " - ").
fn mount_fstypes() -> Vec<(String, String)> {
    fs::read_to_string("/proc/self/mountinfo")
        .expect("read mountinfo")
        .lines()
        .filter_map(|l| {
            let point = l.split(' ').nth(4)?.to_string();
            let fstype = l.split(" - ").nth(1)?.split(' ').next()?.to_string();
            Some((point, fstype))
        })
        .collect()
}

#[test]
fn cgroup_layout_is_consistent() {
    let own = fs::read_to_string("/proc/self/cgroup").expect("read /proc/self/cgroup");
    let mounts = mount_fstypes();
    let v1_mounts: Vec<_> = mounts.iter().filter(|(_, t)| t == "cgroup").collect();
    match layout() {
        Layout::Unified => {
            let lines: Vec<&str> = own.lines().collect();
            assert_eq!(lines.len(), 1, "pure v2 has one hierarchy, got {own:?}");
            assert!(lines[0].starts_with("0::/"), "v2 line expected, got {own:?}");
            assert!(
                v1_mounts.is_empty(),
                "cgroup2 at /sys/fs/cgroup, yet v1 hierarchies are mounted: {v1_mounts:?}"
            );
            let controllers = fs::read_to_string("/sys/fs/cgroup/cgroup.controllers").unwrap();
            for c in ["memory", "pids"] {
                assert!(
                    controllers.split_whitespace().any(|x| x == c),
                    "{c} missing from cgroup.controllers: {controllers:?}"
                );
            }
        }
        Layout::Hybrid => {
            assert!(
                !v1_mounts.is_empty(),
                "tmpfs at /sys/fs/cgroup but no v1 hierarchy mounted"
            );
            // Every v1 hierarchy this process sits in has a numbered line naming it.
            let memory = Path::new("/sys/fs/cgroup/memory");
            if memory.exists() {
                assert_eq!(fs_magic(memory), CGROUP_SUPER_MAGIC);
                assert!(
                    own.lines().any(|l| {
                        let mut f = l.splitn(3, ':');
                        let id = f.next().unwrap_or("0");
                        let ctl = f.next().unwrap_or("");
                        id != "0" && ctl.split(',').any(|c| c == "memory")
                    }),
                    "memory v1 hierarchy mounted but absent from /proc/self/cgroup: {own:?}"
                );
            }
            let unified = Path::new("/sys/fs/cgroup/unified");
            if unified.exists() {
                assert_eq!(fs_magic(unified), CGROUP2_SUPER_MAGIC);
                assert!(
                    own.lines().any(|l| l.starts_with("0::")),
                    "cgroup2 mounted at {} but no 0:: line: {own:?}",
                    unified.display()
                );
            }
        }
    }
}

#[test]
fn guest_is_pure_cgroup_v2_with_overlayfs() {
    if std::env::var_os("BERTH_EXPECT_CGROUP2").is_none() {
        eprintln!("not in the v2 guest (BERTH_EXPECT_CGROUP2 unset): checked by the layout test");
        return;
    }
    assert_eq!(layout(), Layout::Unified, "the guest must run pure cgroup v2");
    // Loaded by the guest's init from the kernel package (BERTH_GUEST_MODULES).
    let filesystems = fs::read_to_string("/proc/filesystems").unwrap();
    assert!(
        filesystems.lines().any(|l| l.ends_with("\toverlay")),
        "overlayfs missing from the guest: {filesystems}"
    );
    let enabled = fs::read_to_string("/sys/fs/cgroup/cgroup.subtree_control").unwrap();
    for c in ["cpuset", "cpu", "io", "memory", "pids"] {
        assert!(
            enabled.split_whitespace().any(|x| x == c),
            "{c} not enabled in the root's subtree_control: {enabled:?}"
        );
    }
}

/// Removes a cgroup directory on drop, after killing what is left in it.
struct Cgroup(PathBuf);

impl Drop for Cgroup {
    fn drop(&mut self) {
        let _ = fs::write(self.0.join("cgroup.kill"), "1");
        for _ in 0..100 {
            if fs::remove_dir(&self.0).is_ok() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

/// Kills and reaps the process on drop, so that a failed assertion leaks nothing.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn read_trimmed(path: &Path) -> String {
    fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .trim()
        .to_string()
}

/// A child cgroup with memory and pids limits holds a process and reports it, on
/// whichever layout the host has: one v2 directory, or one per v1 controller.
#[test]
fn child_cgroup_limits_apply() {
    assert!(is_root(), "cgroup tests need root");
    let name = unique("berth-smoke");
    let max = (64 * 1024 * 1024).to_string();
    // (cgroup, memory limit file, expected line in /proc/<pid>/cgroup)
    let (memory, memory_file, pids, expected) = match layout() {
        Layout::Unified => {
            let dir = Path::new("/sys/fs/cgroup").join(&name);
            (dir.clone(), "memory.max", dir, vec![format!("0::/{name}")])
        }
        Layout::Hybrid => (
            Path::new("/sys/fs/cgroup/memory").join(&name),
            "memory.limit_in_bytes",
            Path::new("/sys/fs/cgroup/pids").join(&name),
            vec![format!(":memory:/{name}"), format!(":pids:/{name}")],
        ),
    };
    let mut guards = vec![Cgroup(memory.clone())];
    fs::create_dir(&memory).expect("create memory cgroup");
    if pids != memory {
        guards.push(Cgroup(pids.clone()));
        fs::create_dir(&pids).expect("create pids cgroup");
    }
    fs::write(memory.join(memory_file), &max).expect("write the memory limit");
    fs::write(pids.join("pids.max"), "16").expect("write pids.max");
    assert_eq!(read_trimmed(&memory.join(memory_file)), max);
    assert_eq!(read_trimmed(&pids.join("pids.max")), "16");

    let child = Reaped(
        Command::new("sleep")
            .arg("30")
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn sleep"),
    );
    let pid = child.0.id().to_string();
    for dir in guards.iter().map(|g| &g.0) {
        fs::write(dir.join("cgroup.procs"), &pid).expect("move into cgroup");
    }
    let seen = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    for want in &expected {
        assert!(
            seen.lines().any(|l| l.ends_with(want.as_str())),
            "{want} missing from /proc/{pid}/cgroup: {seen:?}"
        );
    }
    assert_eq!(
        read_trimmed(&pids.join("pids.current")),
        "1",
        "the cgroup holds exactly the sleep process"
    );
    drop(child);
}
