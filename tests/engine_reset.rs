//! `berth system reset -f`: a root with a running container on the default network, a
//! user network, a named volume and images goes back to nothing — its directories,
//! the default network's bridge (which `network rm` refuses to remove), the user
//! network's bridge, their firewall rules, the container's mounts and cgroups.

#[path = "engine_support.rs"]
mod engine_support;
#[path = "network_support.rs"]
mod network_support;

use std::process::Command;

use engine_support::{Berth, IMAGE};

fn links() -> String {
    let o = Command::new("ip").args(["-o", "link"]).output().unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn nft() -> String {
    Command::new("nft")
        .args(["list", "table", "ip", "berth"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

#[test]
fn system_reset_removes_everything_the_root_made() {
    let b = Berth::new("eng-reset");
    // Another root on the same host, with its own default network (also named
    // `bridge`) and a published port: the reset must leave all of it alone.
    let other = Berth::new("eng-reset-other");
    other
        .run(&["run", "-d", "--name", "stay", "-p", "127.0.0.1::80", IMAGE, "sleep", "60"])
        .ok();
    let other_net: serde_json::Value =
        serde_json::from_str(&other.run(&["network", "inspect", "bridge"]).ok()).unwrap();
    let other_bridge = other_net[0]["Options"]["com.docker.network.bridge.name"]
        .as_str()
        .unwrap()
        .to_string();
    let user_bridge = format!("brs{}", std::process::id() % 1_000_000);
    let opt = format!("com.docker.network.bridge.name={user_bridge}");
    let subnet = network_support::subnet().to_string();
    b.run(&["network", "create", "--subnet", &subnet, "-o", &opt, "resetnet"]).ok();
    b.run(&["volume", "create", "keep"]).ok();
    b.run(&["run", "-d", "--name", "up", "-v", "keep:/data", "-p", "127.0.0.1::80", IMAGE, "sleep", "60"])
        .ok();
    b.run(&["run", "-d", "--name", "user", "--network", "resetnet", IMAGE, "sleep", "60"])
        .ok();
    let net: serde_json::Value =
        serde_json::from_str(&b.run(&["network", "inspect", "bridge"]).ok()).unwrap();
    let def = net[0]["Options"]["com.docker.network.bridge.name"].as_str().unwrap().to_string();
    let pid = b.inspect("up")["State"]["Pid"].as_i64().unwrap();
    assert!(links().contains(&format!(" {def}:")), "{def} missing");
    assert!(nft().contains(&user_bridge));
    assert!(!b.mounts().is_empty());

    // Without -f it asks, and a "no" (here: no answer) leaves everything.
    let r = b.run(&["system", "reset"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert!(r.stderr().contains("Are you sure you want to continue? [y/N]"));
    assert_eq!(b.ps().len(), 2);

    b.run(&["system", "reset", "-f"]).ok();
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "the container still runs");
    assert!(!b.root().exists(), "the root is still there");
    assert!(!b.path("state").exists(), "the state directory is still there");
    let l = links();
    assert!(!l.contains(&format!(" {def}:")), "{def} left: {l}");
    assert!(!l.contains(&format!(" {user_bridge}:")), "{user_bridge} left: {l}");
    let rules = nft();
    assert!(!rules.contains(&def) && !rules.contains(&user_bridge), "{rules}");
    assert!(b.mounts().is_empty(), "{:?}", b.mounts());
    assert!(berth_tests::cgroup_leftovers(&b.cgroup_parent).iter().all(|d| {
        std::fs::read_dir(d).map(|rd| rd.flatten().all(|e| !e.path().is_dir())).unwrap_or(true)
    }));
    // The other root's bridge, its network's rules and its container's port rule stay,
    // and it can still publish.
    let l = links();
    assert!(l.contains(&format!(" {other_bridge}:")), "{other_bridge} gone: {l}");
    let rules = nft();
    assert!(rules.contains(&format!("berth:net:{other_bridge}\"")), "{rules}");
    assert!(rules.contains(&format!("berth:ctr:{other_bridge}:")), "{rules}");
    other
        .run(&["run", "--rm", "-p", "127.0.0.1::80", IMAGE, "true"])
        .ok();
    // berth works on the empty root again.
    assert_eq!(b.run(&["ps", "-aq"]).ok(), "");
    assert_eq!(b.run(&["images", "-q"]).ok(), "");
}
