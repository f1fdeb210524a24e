//! OCI lifecycle hooks run at their points of the lifecycle, with the state on stdin.

use berth_tests::{Bundle, Runtime, busybox, cgroup_leftovers, is_root};

fn hook(script: &str) -> serde_json::Value {
    serde_json::json!({
        "path": busybox(),
        "args": ["sh", "-c", script],
        "env": ["PATH=/bin:/usr/bin"],
    })
}

#[test]
fn hooks_run_in_order_with_the_state_on_stdin() {
    assert!(is_root(), "run as root");
    let rt = Runtime::new();
    let out = rt.root().join("hooks");
    std::fs::create_dir_all(&out).unwrap();
    let o = out.to_str().unwrap();
    let b = Bundle::new(&["sleep", "60"]);
    b.edit(|c| {
        c["hooks"] = serde_json::json!({
            "prestart": [hook(&format!("cat > {o}/prestart; echo prestart >> {o}/order"))],
            "createRuntime": [hook(&format!("cat > {o}/createRuntime; echo createRuntime >> {o}/order"))],
            "createContainer": [hook(&format!(
                "readlink /proc/self/ns/mnt > {o}/cc-mnt; echo createContainer >> {o}/order"))],
            "poststart": [hook(&format!("cat > {o}/poststart; echo poststart >> {o}/order"))],
            "poststop": [hook(&format!("cat > {o}/poststop; echo poststop >> {o}/order"))],
        });
    });
    let id = rt.id("hooks");
    rt.detached(&["create", "-b", b.path().to_str().unwrap(), &id], "create").0.ok();
    let pid = rt.state(&id)["pid"].as_i64().unwrap();
    let read = |n: &str| std::fs::read_to_string(out.join(n)).unwrap_or_default();
    let st: serde_json::Value = serde_json::from_str(&read("createRuntime")).unwrap();
    assert_eq!(st["id"], id.as_str());
    assert_eq!(st["pid"], pid);
    assert_eq!(st["status"], "creating");
    // createContainer ran in the container's mount namespace.
    let host_mnt = std::fs::read_link("/proc/self/ns/mnt").unwrap();
    assert_ne!(read("cc-mnt").trim(), host_mnt.to_str().unwrap());
    rt.run(&["start", &id]).ok();
    let st: serde_json::Value = serde_json::from_str(&read("poststart")).unwrap();
    assert_eq!(st["status"], "running");
    rt.run(&["delete", "-f", &id]).ok();
    let st: serde_json::Value = serde_json::from_str(&read("poststop")).unwrap();
    assert_eq!(st["status"], "stopped");
    assert_eq!(
        read("order").lines().collect::<Vec<_>>(),
        ["prestart", "createRuntime", "createContainer", "poststart", "poststop"]
    );
}

#[test]
fn a_failing_create_hook_fails_create_and_leaves_nothing() {
    assert!(is_root(), "run as root");
    let rt = Runtime::new();
    let b = Bundle::new(&["true"]);
    b.edit(|c| c["hooks"] = serde_json::json!({"createRuntime": [hook("exit 3")]}));
    let id = rt.id("hookfail");
    let err = rt.run(&["run", "-b", b.path().to_str().unwrap(), &id]).fails();
    assert!(err.contains("createRuntime hook") && err.contains('3'), "{err}");
    assert!(!rt.root().join(&id).exists());
    assert!(cgroup_leftovers(&id).is_empty());
}

#[test]
fn a_hook_past_its_timeout_is_killed_and_fails() {
    assert!(is_root(), "run as root");
    let rt = Runtime::new();
    let b = Bundle::new(&["true"]);
    let mut h = hook("sleep 30");
    h["timeout"] = 1.into();
    b.edit(|c| c["hooks"] = serde_json::json!({"prestart": [h]}));
    let id = rt.id("hooktime");
    let t = std::time::Instant::now();
    let err = rt.run(&["run", "-b", b.path().to_str().unwrap(), &id]).fails();
    assert!(err.contains("timed out"), "{err}");
    assert!(t.elapsed().as_secs() < 10);
    assert!(cgroup_leftovers(&id).is_empty());
}
