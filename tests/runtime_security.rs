//! Regression tests for the runtime's CVE defences.

use berth_tests::{Bundle, Runtime, is_root};

/// CVE-2019-5736: the container must not be able to execute the host's runtime binary
/// through /proc/self/exe, directly or as a script interpreter.
#[test]
fn container_cannot_exec_the_runtime_binary() {
    assert!(is_root(), "run as root");
    let rt = Runtime::new();
    let before = std::fs::read(berth_tests::bin("berth-runtime")).unwrap();
    for args in [vec!["/proc/self/exe", "--version"], vec!["/evil"]] {
        let b = Bundle::new(&args);
        std::fs::write(b.path().join("rootfs/evil"), "#!/proc/self/exe\n").unwrap();
        std::fs::set_permissions(
            b.path().join("rootfs/evil"),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let id = rt.id("cve5736");
        let err = rt.run(&["run", "-b", b.path().to_str().unwrap(), &id]).fails();
        assert!(err.contains("CVE-2019-5736"), "{args:?}: {err}");
    }
    assert_eq!(std::fs::read(berth_tests::bin("berth-runtime")).unwrap(), before);
}

/// CVE-2024-21626: no descriptor of the runtime reaches the container's process, and
/// its working directory is inside the container.
#[test]
fn no_host_descriptor_or_cwd_reaches_the_container() {
    assert!(is_root(), "run as root");
    let rt = Runtime::new();
    let b = Bundle::new(&["sh", "-c", "ls /proc/self/fd | tr '\\n' ' '; echo; pwd; readlink /proc/self/cwd"]);
    b.edit(|c| c["process"]["cwd"] = "/tmp".into());
    let id = rt.id("fds");
    let out = rt.run(&["run", "-b", b.path().to_str().unwrap(), &id]).ok();
    let lines: Vec<&str> = out.lines().collect();
    // 0-2 are stdio, 3 is ls's own directory handle.
    assert_eq!(lines[0].trim(), "0 1 2 3", "{out}");
    assert_eq!(lines[1], "/tmp");
    assert_eq!(lines[2], "/tmp");
    // exec: the same holds for a process joining a running container.
    let b = Bundle::new(&["sleep", "60"]);
    let id = rt.id("fdsexec");
    rt.detached(&["run", "-d", "-b", b.path().to_str().unwrap(), &id], "run").0.ok();
    let out = rt
        .run(&["exec", "--cwd", "/etc", &id, "sh", "-c", "ls /proc/self/fd | tr '\\n' ' '; echo; pwd"])
        .ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0].trim(), "0 1 2 3", "{out}");
    assert_eq!(lines[1], "/etc");
    rt.run(&["delete", "-f", &id]).ok();
}

/// CVE-2025-31133 class: an image whose /dev/null is not the null device (here a
/// symlink to a sensitive procfs file) must not turn masking into exposure.
#[test]
fn a_fake_dev_null_is_refused_for_masking() {
    assert!(is_root(), "run as root");
    let rt = Runtime::new();
    let b = Bundle::new(&["cat", "/proc/timer_list"]);
    // No /dev tmpfs: the image's own /dev is used, and its null is a symlink.
    b.edit(|c| {
        c["mounts"].as_array_mut().unwrap().retain(|m| {
            let d = m["destination"].as_str().unwrap_or("");
            !d.starts_with("/dev")
        });
    });
    std::fs::create_dir_all(b.path().join("rootfs/dev")).unwrap();
    std::os::unix::fs::symlink("/proc/sys/kernel/core_pattern", b.path().join("rootfs/dev/null")).unwrap();
    let id = rt.id("fakenull");
    let err = rt.run(&["run", "-b", b.path().to_str().unwrap(), &id]).fails();
    assert!(err.contains("not the null device"), "{err}");
    assert!(!rt.root().join(&id).exists());
}

/// A mount destination that is a symlink out of the root stays inside the root.
#[test]
fn mount_targets_never_leave_the_root() {
    assert!(is_root(), "run as root");
    let rt = Runtime::new();
    let b = Bundle::new(&["true"]);
    let outside = berth_tests::TestDir::new("outside");
    // rootfs/escape -> <host dir>: a tmpfs mounted at /escape/x must land in the
    // rootfs, not in the host directory the link names.
    std::os::unix::fs::symlink(outside.path(), b.path().join("rootfs/escape")).unwrap();
    b.edit(|c| {
        c["mounts"].as_array_mut().unwrap().push(serde_json::json!(
            {"destination": "/escape/x", "type": "tmpfs", "source": "tmpfs"}));
    });
    let id = rt.id("escape");
    let _ = rt.run(&["run", "-b", b.path().to_str().unwrap(), &id]);
    assert!(!outside.path().join("x").exists(), "a mount target was created outside the root");
    assert!(berth_tests::mounts_below(outside.path()).is_empty());
}
