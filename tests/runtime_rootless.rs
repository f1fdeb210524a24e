//! An unprivileged user runs a container with `spec --rootless`: a user namespace
//! maps the user to root inside; without a delegated cgroup the container runs
//! without one, and asking for limits is refused.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use berth_tests::{Bundle, TestDir, bin, busybox_rootfs, is_root, run, unique};

const NOBODY: u32 = 65534;

fn as_nobody(args: &[&str]) -> Command {
    let mut c = Command::new("setpriv");
    c.args(["--reuid", &NOBODY.to_string(), "--regid", &NOBODY.to_string(), "--clear-groups", "--"]);
    c.arg(bin("berth-runtime"));
    c.args(args);
    c
}

#[test]
fn unprivileged_user_runs_a_rootless_container() {
    assert!(is_root(), "run as root (the test drops to nobody itself)");
    let dir = TestDir::new("rootless");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let bundle = dir.path().join("bundle");
    busybox_rootfs(&bundle.join("rootfs"));
    std::os::unix::fs::chown(&bundle, Some(NOBODY), Some(NOBODY)).unwrap();
    run(as_nobody(&["spec", "--rootless", "--bundle", bundle.to_str().unwrap()]).current_dir("/")).ok();
    // The rootless spec maps the calling user to root and drops the network namespace.
    let b = Bundle::at(&bundle);
    let c = b.config();
    assert_eq!(c["linux"]["uidMappings"][0]["hostID"], NOBODY);
    b.edit(|c| {
        c["process"]["terminal"] = false.into();
        c["process"]["args"] = serde_json::json!(["sh", "-c", "id -u; cat /proc/self/uid_map"]);
    });
    let state = dir.path().join("state");
    let id = unique("rl");
    let out = run(&mut as_nobody(&["--root", state.to_str().unwrap(), "run", "-b", bundle.to_str().unwrap(), &id])).ok();
    let words: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(words, ["0", "0", "65534", "1"], "{out}");

    // Limits with no cgroup to enforce them: a clear refusal, nothing left.
    b.edit(|c| c["linux"]["resources"] = serde_json::json!({"pids": {"limit": 10}}));
    let id = unique("rl");
    let err = run(&mut as_nobody(&["--root", state.to_str().unwrap(), "run", "-b", bundle.to_str().unwrap(), &id])).fails();
    assert!(err.contains("rootless container asks for resource limits"), "{err}");
    assert!(!state.join(&id).exists());
}
