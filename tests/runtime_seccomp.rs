//! seccomp, capabilities and no_new_privs as a container process observes them, side
//! by side with runc on the same bundle.

use std::process::Command;

use berth_tests::{Bundle, Runtime, TestDir, is_root, run, unique};

const PROBE: &str = "grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status; \
     mkdir /dev/shm/d 2>&1 || true; ls /proc/timer_list >/dev/null && wc -c < /proc/timer_list; \
     (echo x > /proc/sys/kernel/domainname) 2>&1 || true";

fn with_rule(b: &Bundle) {
    b.edit(|c| {
        c["process"]["noNewPrivileges"] = true.into();
        c["linux"]["seccomp"] = serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
        });
    });
}

#[test]
fn seccomp_caps_and_no_new_privs_match_runc() {
    assert!(is_root(), "run as root");
    let b = Bundle::new(&["sh", "-c", PROBE]);
    with_rule(&b);
    let rt = Runtime::new();
    let id = rt.id("sc");
    let ours = rt.run(&["run", "-b", b.path().to_str().unwrap(), &id]).ok();
    assert!(ours.contains("Seccomp:\t2"), "{ours}");
    assert!(ours.contains("NoNewPrivs:\t1"), "{ours}");
    assert!(ours.contains("Operation not permitted"), "mkdir must fail: {ours}");
    assert!(ours.contains("Read-only file system"), "/proc/sys must be read-only: {ours}");
    let runc_root = TestDir::new("runc");
    let theirs = run(Command::new("runc")
        .arg("--root")
        .arg(runc_root.path())
        .args(["run", "-b", b.path().to_str().unwrap(), &unique("runc")]))
    .ok();
    assert_eq!(ours, theirs, "berth-runtime and runc disagree");
}

#[test]
fn dockers_default_profile_blocks_namespace_and_mount_syscalls() {
    assert!(is_root(), "run as root");
    let profile: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/seccomp/docker-default-amd64.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let b = Bundle::new(&[
        "sh",
        "-c",
        "ls / >/dev/null && echo ls-ok; unshare -U true 2>&1 || true; \
         mount -t tmpfs none /mnt 2>&1 || true; grep Seccomp: /proc/self/status",
    ]);
    b.edit(|c| c["linux"]["seccomp"] = profile);
    let rt = Runtime::new();
    let id = rt.id("dsc");
    let out = rt.run(&["run", "-b", b.path().to_str().unwrap(), &id]).ok();
    assert!(out.contains("ls-ok"), "{out}");
    assert!(out.contains("unshare(0x10000000): Operation not permitted"), "{out}");
    // busybox mount words EPERM its own way.
    assert!(out.contains("mount: permission denied"), "{out}");
    assert!(out.contains("Seccomp:\t2"), "{out}");
}
