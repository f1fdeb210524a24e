//! berth-runtime's cgroup limits as the host and the container observe them, on
//! cgroup v1, hybrid and (in the qemu guest) pure v2 hosts.

use berth_tests::{Bundle, Runtime, cgroup_dir, cgroup_leftovers, cgroup_v2, is_root};

fn need_root() {
    assert!(is_root(), "the runtime tests create namespaces and cgroups: run them as root");
}

fn read(p: std::path::PathBuf) -> String {
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .trim()
        .to_string()
}

fn limits(b: &Bundle) {
    b.edit(|c| {
        c["linux"]["resources"]["memory"] = serde_json::json!({"limit": 67108864});
        c["linux"]["resources"]["pids"] = serde_json::json!({"limit": 20});
        c["linux"]["resources"]["cpu"] =
            serde_json::json!({"shares": 512, "quota": 50000, "period": 100000});
    });
}

#[test]
fn memory_pids_and_cpu_limits_reach_the_host_cgroup() {
    need_root();
    let rt = Runtime::new();
    let b = Bundle::new(&["sleep", "60"]);
    limits(&b);
    let id = rt.id("cglim");
    rt.detached(&["run", "-d", "-b", b.path().to_str().unwrap(), &id], "run").0.ok();
    let path = format!("/{id}");
    let pid = rt.state(&id)["pid"].as_i64().unwrap();
    if cgroup_v2() {
        assert_eq!(read(cgroup_dir("memory", &path).join("memory.max")), "67108864");
        assert_eq!(read(cgroup_dir("pids", &path).join("pids.max")), "20");
        assert_eq!(read(cgroup_dir("cpu", &path).join("cpu.max")), "50000 100000");
        let procs = read(cgroup_dir("", &path).join("cgroup.procs"));
        assert!(procs.lines().any(|l| l == pid.to_string()), "{procs}");
    } else {
        assert_eq!(read(cgroup_dir("memory", &path).join("memory.limit_in_bytes")), "67108864");
        assert_eq!(read(cgroup_dir("pids", &path).join("pids.max")), "20");
        assert_eq!(read(cgroup_dir("cpu", &path).join("cpu.cfs_quota_us")), "50000");
        assert_eq!(read(cgroup_dir("cpu", &path).join("cpu.shares")), "512");
        let procs = read(cgroup_dir("memory", &path).join("cgroup.procs"));
        assert!(procs.lines().any(|l| l == pid.to_string()), "{procs}");
    }
    // update changes a running container's limits.
    rt.run(&["update", "--memory", "128m", "--pids-limit", "30", &id]).ok();
    if cgroup_v2() {
        assert_eq!(read(cgroup_dir("memory", &path).join("memory.max")), "134217728");
    } else {
        assert_eq!(read(cgroup_dir("memory", &path).join("memory.limit_in_bytes")), "134217728");
    }
    assert_eq!(read(cgroup_dir("pids", &path).join("pids.max")), "30");
    // events --stats reports usage in runc's shape.
    let ev = rt.run(&["events", "--stats", &id]).ok();
    let ev: serde_json::Value = serde_json::from_str(&ev).unwrap();
    assert_eq!(ev["type"], "stats");
    assert!(ev["data"]["memory"]["usage"]["usage"].as_u64().unwrap() > 0, "{ev}");
    assert_eq!(ev["data"]["pids"]["current"], 1, "{ev}");

    rt.run(&["delete", "-f", &id]).ok();
    assert!(cgroup_leftovers(&id).is_empty(), "{:?}", cgroup_leftovers(&id));
}

#[test]
fn container_sees_its_own_limits() {
    need_root();
    let rt = Runtime::new();
    let script = if cgroup_v2() {
        "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max"
    } else {
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max"
    };
    let b = Bundle::new(&["sh", "-c", script]);
    limits(&b);
    if cgroup_v2() {
        b.edit(|c| {
            c["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(serde_json::json!({"type": "cgroup"}));
        });
    }
    let id = rt.id("cgin");
    let out = rt.run(&["run", "-b", b.path().to_str().unwrap(), &id]).ok();
    assert_eq!(out.split_whitespace().collect::<Vec<_>>(), ["67108864", "20"]);
}

#[test]
fn pids_limit_stops_a_fork_bomb() {
    need_root();
    let rt = Runtime::new();
    let b = Bundle::new(&["sh", "-c", "for i in $(seq 40); do sleep 30 & done; exec sleep 30"]);
    b.edit(|c| c["linux"]["resources"]["pids"] = serde_json::json!({"limit": 10}));
    let id = rt.id("bomb");
    let (r, log) = rt.detached(&["run", "-d", "-b", b.path().to_str().unwrap(), &id], "bomb");
    r.ok();
    let current = cgroup_dir("pids", &format!("/{id}")).join("pids.current");
    let mut seen = 0;
    for _ in 0..200 {
        seen = read(current.clone()).parse().unwrap();
        if std::fs::read_to_string(&log).unwrap_or_default().contains("fork") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let out = std::fs::read_to_string(&log).unwrap();
    assert!(out.contains("fork"), "no fork failure reported: {out}");
    assert!(seen <= 10, "pids.current {seen} beyond the limit");
    rt.run(&["delete", "-f", &id]).ok();
    assert!(cgroup_leftovers(&id).is_empty(), "{:?}", cgroup_leftovers(&id));
}

#[test]
fn memory_limit_kills_a_hog() {
    need_root();
    let rt = Runtime::new();
    // The shell (pid 1) reads 64 MiB into a variable against a 16 MiB limit.
    let b = Bundle::new(&["sh", "-c", "x=$(head -c 67108864 /dev/zero | tr '\\0' a); echo survived"]);
    b.edit(|c| {
        c["linux"]["resources"]["memory"] = serde_json::json!({"limit": 16777216, "swap": 16777216});
    });
    let id = rt.id("oom");
    let r = rt.run(&["run", "-b", b.path().to_str().unwrap(), &id]);
    assert!(!r.stdout().contains("survived"), "no OOM kill: {}", r.stdout());
    assert_eq!(r.code(), 137, "{}", r.stderr());
    assert!(cgroup_leftovers(&id).is_empty());
}

#[test]
fn devices_cgroup_denies_unlisted_devices() {
    need_root();
    let rt = Runtime::new();
    // /dev/null is allowed by default; a node for the host's first disk is not.
    let b = Bundle::new(&[
        "sh",
        "-c",
        "echo ok > /dev/null && echo null-ok; mknod /tmp/blk b 254 0 && \
         (head -c1 /tmp/blk >/dev/null 2>&1 && echo blk-read || echo blk-denied)",
    ]);
    b.edit(|c| {
        c["root"]["readonly"] = false.into();
        c["mounts"].as_array_mut().unwrap().push(serde_json::json!(
            {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]}));
        c["process"]["capabilities"]["bounding"].as_array_mut().unwrap().push("CAP_MKNOD".into());
        c["process"]["capabilities"]["effective"].as_array_mut().unwrap().push("CAP_MKNOD".into());
        c["process"]["capabilities"]["permitted"].as_array_mut().unwrap().push("CAP_MKNOD".into());
    });
    let id = rt.id("dev");
    let out = rt.run(&["run", "-b", b.path().to_str().unwrap(), &id]).ok();
    assert!(out.contains("null-ok"), "{out}");
    assert!(out.contains("blk-denied"), "{out}");
}

#[test]
fn a_config_devices_own_rule_narrows_its_access() {
    need_root();
    let rt = Runtime::new();
    let script = "(echo berth-device-test > /dev/kmsg) 2>&1 && echo wrote; true";
    let device = serde_json::json!([{"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11, "fileMode": 420}]);
    // Listed without a rule of its own: usable (read, write, mknod).
    let b = Bundle::new(&["sh", "-c", script]);
    b.edit(|c| c["linux"]["devices"] = device.clone());
    let out = rt.run(&["run", "-b", b.path().to_str().unwrap(), &rt.id("devrw")]).ok();
    assert!(out.contains("wrote"), "{out}");
    // With the config's own read-only rule (docker --device /dev/kmsg:r): no writing.
    let b = Bundle::new(&["sh", "-c", script]);
    b.edit(|c| {
        c["linux"]["devices"] = device;
        c["linux"]["resources"]["devices"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"allow": true, "type": "c", "major": 1, "minor": 11, "access": "r"}));
    });
    let out = rt.run(&["run", "-b", b.path().to_str().unwrap(), &rt.id("devr")]).ok();
    assert!(!out.contains("wrote") && out.contains("Operation not permitted"), "{out}");
}

#[test]
fn events_stream_until_the_container_stops() {
    need_root();
    let rt = Runtime::new();
    let b = Bundle::new(&["sleep", "1"]);
    let id = rt.id("events");
    rt.detached(&["run", "-d", "-b", b.path().to_str().unwrap(), &id], "run").0.ok();
    let out = rt.run(&["events", "--interval", "200ms", &id]).ok();
    let events: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(events.len() >= 2, "{out}");
    assert!(events.iter().all(|e| e["type"] == "stats" && e["id"] == id.as_str()));
    rt.run(&["delete", &id]).ok();
}
