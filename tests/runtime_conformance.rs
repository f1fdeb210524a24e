//! Behaviours the OCI runtime-tools validation suite checks (bench/conformance runs the
//! suite itself), pinned here as end-to-end tests with real containers.

use berth_tests::{Bundle, Runtime, is_root};

/// A seccomp profile written before close_range(2) existed (runtime-tools' default
/// one, Docker's before 20.10) answers it with EPERM. The runtime marks its own
/// descriptors close-on-exec before loading the filter, so such a profile still runs.
#[test]
fn seccomp_profile_without_close_range_runs() {
    assert!(is_root(), "run as root");
    let b = Bundle::new(&["sh", "-c", "echo started"]);
    b.edit(|c| {
        c["linux"]["seccomp"] = serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [{"names": ["close_range"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
        });
    });
    let rt = Runtime::new();
    let id = rt.id("conf-closerange");
    let out = rt.run(&["run", "-b", b.path().to_str().unwrap(), &id]).ok();
    assert_eq!(out.trim(), "started");
}

fn hook(script: &str) -> serde_json::Value {
    serde_json::json!({
        "path": berth_tests::busybox(),
        "args": ["sh", "-c", script],
        "env": ["PATH=/bin:/usr/bin"],
    })
}

/// A failing poststart or poststop hook is a warning: the hooks after it still run
/// and the lifecycle goes on ("the remaining hooks and lifecycle continue as if the
/// hook had succeeded").
#[test]
fn hooks_after_a_failing_poststart_or_poststop_hook_still_run() {
    assert!(is_root(), "run as root");
    let rt = Runtime::new();
    let out = rt.root().join("hook-out");
    std::fs::create_dir_all(&out).unwrap();
    let o = out.to_str().unwrap();
    let b = Bundle::new(&["sleep", "60"]);
    b.edit(|c| {
        c["hooks"] = serde_json::json!({
            "poststart": [hook("exit 1"), hook(&format!("echo poststart > {o}/poststart"))],
            "poststop": [hook("exit 2"), hook(&format!("echo poststop > {o}/poststop"))],
        });
    });
    let id = rt.id("conf-hookwarn");
    rt.detached(&["create", "-b", b.path().to_str().unwrap(), &id], "create").0.ok();
    let start = rt.run(&["start", &id]);
    start.ok();
    assert!(start.stderr().contains("warning"), "the failure must be logged: {}", start.stderr());
    assert_eq!(std::fs::read_to_string(out.join("poststart")).unwrap_or_default(), "poststart\n");
    assert_eq!(rt.state(&id)["status"], "running");
    rt.run(&["delete", "-f", &id]).ok();
    assert_eq!(std::fs::read_to_string(out.join("poststop")).unwrap_or_default(), "poststop\n");
}

/// rootfsPropagation is the propagation of the container's `/`: an unbindable one
/// must survive the pivot (the bind that makes the rootfs a mount point is private).
#[test]
fn unbindable_root_propagation_holds_on_the_container_root() {
    assert!(is_root(), "run as root");
    let rt = Runtime::new();
    for (prop, want) in [("unbindable", "unbindable"), ("shared", "shared:"), ("private", "")] {
        let b = Bundle::new(&["sh", "-c", "awk '$5 == \"/\"' /proc/self/mountinfo"]);
        b.edit(|c| c["linux"]["rootfsPropagation"] = prop.into());
        let id = rt.id("conf-prop");
        let out = rt.run(&["run", "-b", b.path().to_str().unwrap(), &id]).ok();
        let line = out.lines().last().unwrap_or_default().to_string();
        let fields: Vec<&str> = line.split(" - ").next().unwrap_or_default().split(' ').skip(6).collect();
        if want.is_empty() {
            assert!(fields.is_empty(), "{prop}: / must have no propagation tag: {line}");
        } else {
            assert!(fields.iter().any(|f| f.starts_with(want)), "{prop}: {line}");
        }
    }
}

/// A container without a mount namespace of its own inherits the runtime's, but its
/// root is still root.path (chrooted, as runc does), never the host's `/`.
#[test]
fn without_a_mount_namespace_the_process_still_runs_in_its_root() {
    assert!(is_root(), "run as root");
    let rt = Runtime::new();
    let b = Bundle::new(&["sh", "-c", "cat /marker; pwd"]);
    std::fs::write(b.path().join("rootfs/marker"), "inside the bundle\n").unwrap();
    b.edit(|c| {
        let ns = c["linux"]["namespaces"].as_array().unwrap().clone();
        c["linux"]["namespaces"] = ns.into_iter().filter(|n| n["type"] != "mount").collect();
    });
    let id = rt.id("conf-nomntns");
    let out = rt.run(&["run", "-b", b.path().to_str().unwrap(), &id]).ok();
    assert_eq!(out, "inside the bundle\n/\n");
    // The config's mounts are not made in the host's namespace.
    assert!(berth_tests::mounts_below(b.path()).is_empty(), "{:?}", berth_tests::mounts_below(b.path()));
}

/// memory.kernelTCP lands in memory.kmem.tcp.limit_in_bytes on cgroup v1 (v2 has no
/// such limit; there the value is accepted and ignored, as runc does).
#[test]
fn kernel_tcp_memory_limit_is_set_on_v1() {
    assert!(is_root(), "run as root");
    let rt = Runtime::new();
    let b = Bundle::new(&["sleep", "60"]);
    let path = format!("/{}", berth_tests::unique("berth-conf-ktcp"));
    b.edit(|c| {
        c["linux"]["cgroupsPath"] = path.clone().into();
        c["linux"]["resources"]["memory"] =
            serde_json::json!({"limit": 64i64 << 20, "kernelTCP": 16i64 << 20});
    });
    let id = rt.id("conf-ktcp");
    rt.detached(&["create", "-b", b.path().to_str().unwrap(), &id], "create").0.ok();
    if !berth_tests::cgroup_v2() {
        let dir = berth_tests::cgroup_dir("memory", &path);
        let got = std::fs::read_to_string(dir.join("memory.kmem.tcp.limit_in_bytes")).unwrap();
        assert_eq!(got.trim(), (16i64 << 20).to_string());
        assert_eq!(
            std::fs::read_to_string(dir.join("memory.limit_in_bytes")).unwrap().trim(),
            (64i64 << 20).to_string()
        );
    }
    rt.run(&["delete", "-f", &id]).ok();
    assert!(berth_tests::cgroup_leftovers(path.trim_start_matches('/')).is_empty());
}

/// poststart hooks run "after the user-specified process is executed": when they
/// run, the container's pid is its program, not the runtime's init still finishing
/// its startContainer hooks.
#[test]
fn poststart_hooks_run_after_the_process_is_executed() {
    assert!(is_root(), "run as root");
    let rt = Runtime::new();
    let out = rt.root().join("exe");
    let b = Bundle::new(&["sleep", "60"]);
    b.edit(|c| {
        c["hooks"] = serde_json::json!({
            // Runs in init after start has its go-ahead byte, before the exec.
            "startContainer": [{"path": "/bin/busybox", "args": ["sh", "-c", "sleep 0.3"]}],
            "poststart": [hook(&format!(
                "pid=$(sed 's/.*\"pid\":\\([0-9]*\\).*/\\1/'); readlink /proc/$pid/exe > {}",
                out.display()
            ))],
        });
    });
    let id = rt.id("conf-poststart");
    rt.detached(&["create", "-b", b.path().to_str().unwrap(), &id], "create").0.ok();
    rt.run(&["start", &id]).ok();
    let exe = std::fs::read_to_string(&out).unwrap_or_default();
    assert!(exe.trim_end().ends_with("busybox"), "poststart saw {exe:?}");
    rt.run(&["delete", "-f", &id]).ok();
}
