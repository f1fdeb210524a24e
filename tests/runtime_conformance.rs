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
