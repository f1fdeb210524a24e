//! Helpers shared by the drop-in tests (podman and containerd driving berth-runtime):
//! a busybox image built on the spot (a rootfs tarball, or an OCI archive around it),
//! cgroup trees removed after the engines are done, and processes found and ended by
//! pid.

#![allow(dead_code)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use berth_tests::busybox_rootfs;
use sha2::Digest as _;

/// A tarball of a busybox root filesystem (what `podman import` takes), written to
/// `dir/rootfs.tar`; its uncompressed bytes are also an OCI layer.
pub fn busybox_tarball(dir: &Path) -> PathBuf {
    let rootfs = dir.join("rootfs-src");
    busybox_rootfs(&rootfs);
    let out = dir.join("rootfs.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&out).unwrap());
    b.follow_symlinks(false);
    b.append_dir_all(".", &rootfs).unwrap();
    b.into_inner().unwrap().flush().unwrap();
    std::fs::remove_dir_all(&rootfs).unwrap();
    out
}

fn sha256_hex(data: &[u8]) -> String {
    format!("{:x}", sha2::Sha256::digest(data))
}

/// An OCI image archive (oci-layout, index.json, blobs) of one uncompressed busybox
/// layer, named `name` for containerd (`io.containerd.image.name`) and with `ref` the
/// tag for other tools; written to `dir/busybox-oci.tar`.
pub fn busybox_oci_archive(dir: &Path, name: &str) -> PathBuf {
    let layer = std::fs::read(busybox_tarball(dir)).unwrap();
    let layer_hex = sha256_hex(&layer);
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": ["sh"],
            "WorkingDir": "/"
        },
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{layer_hex}")]},
        "history": [{"created_by": "berth drop-in test: busybox"}]
    }))
    .unwrap();
    let config_hex = sha256_hex(&config);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": format!("sha256:{config_hex}"),
            "size": config.len()
        },
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": format!("sha256:{layer_hex}"),
            "size": layer.len()
        }]
    }))
    .unwrap();
    let manifest_hex = sha256_hex(&manifest);
    let tag = name.rsplit_once(':').map(|(_, t)| t).unwrap_or("latest");
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": format!("sha256:{manifest_hex}"),
            "size": manifest.len(),
            "platform": {"architecture": "amd64", "os": "linux"},
            "annotations": {
                "io.containerd.image.name": name,
                "org.opencontainers.image.ref.name": tag
            }
        }]
    }))
    .unwrap();
    let out = dir.join("busybox-oci.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&out).unwrap());
    let mut add = |path: &str, data: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, path, data).unwrap();
    };
    add("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
    add("index.json", &index);
    add(&format!("blobs/sha256/{manifest_hex}"), &manifest);
    add(&format!("blobs/sha256/{config_hex}"), &config);
    add(&format!("blobs/sha256/{layer_hex}"), &layer);
    b.into_inner().unwrap().flush().unwrap();
    out
}

/// Mounted cgroup hierarchies (v1 controllers and the unified one) under
/// /sys/fs/cgroup, or /sys/fs/cgroup itself on a pure v2 host.
fn hierarchies() -> Vec<PathBuf> {
    let base = Path::new("/sys/fs/cgroup");
    if base.join("cgroup.controllers").exists() {
        return vec![base.to_path_buf()];
    }
    std::fs::read_dir(base)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir() && !p.is_symlink())
                .collect()
        })
        .unwrap_or_default()
}

/// Directories named by `rel` (e.g. "berth-dropin-1-0") in any hierarchy.
pub fn cgroup_trees(rel: &str) -> Vec<PathBuf> {
    hierarchies()
        .into_iter()
        .map(|h| h.join(rel))
        .filter(|p| p.is_dir())
        .collect()
}

/// Whether a cgroup (its directories `trees` in every hierarchy, from
/// [`cgroup_trees`]) is frozen: v1 freezer.state where there is a v1 freezer (a hybrid
/// host's unified tree is then not the one frozen), else v2 cgroup.events; None when
/// neither file is there.
pub fn is_frozen(trees: &[PathBuf]) -> Option<bool> {
    let v1 = trees
        .iter()
        .find_map(|d| std::fs::read_to_string(d.join("freezer.state")).ok());
    if let Some(s) = v1 {
        return Some(s.trim() == "FROZEN");
    }
    trees
        .iter()
        .find_map(|d| std::fs::read_to_string(d.join("cgroup.events")).ok())
        .map(|s| s.lines().any(|l| l == "frozen 1"))
}

/// Removes the cgroup `rel` and everything below it in every hierarchy, deepest
/// first, after SIGKILLing any process still in it (the tree is the test's own, so
/// are they: a test that failed half-way must not leave them running); returns what
/// could not be removed.
pub fn remove_cgroup_tree(rel: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten() {
                if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    walk(&e.path(), out);
                }
            }
        }
        out.push(dir.to_path_buf());
    }
    let mut left = Vec::new();
    for top in cgroup_trees(rel) {
        let mut dirs = Vec::new();
        walk(&top, &mut dirs);
        for d in &dirs {
            let procs = std::fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default();
            for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                end_process(pid, libc::SIGKILL, Duration::from_secs(2));
            }
        }
        for d in dirs {
            // A cgroup whose last process just exited can be busy for a moment.
            let deadline = Instant::now() + Duration::from_secs(2);
            while std::fs::remove_dir(&d).is_err() && d.exists() {
                if Instant::now() > deadline {
                    left.push(d.clone());
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
    left
}

/// Pids of the processes whose command line contains `needle` (a test-private path,
/// so only processes this test started match).
pub fn pids_with_arg(needle: &str) -> Vec<i32> {
    let mut pids = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline"))
            && String::from_utf8_lossy(&cmd).contains(needle)
        {
            pids.push(pid);
        }
    }
    pids
}

/// True while `pid` exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => s
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z"),
        Err(_) => false,
    }
}

/// Sends `sig` to `pid`, then waits up to `grace` for it to go; SIGKILL after that.
pub fn end_process(pid: i32, sig: i32, grace: Duration) {
    // SAFETY: kill(2) with a pid this test started and a valid signal number.
    unsafe { libc::kill(pid, sig) };
    let deadline = Instant::now() + grace;
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    if alive(pid) {
        // SAFETY: as above.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while alive(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Polls `f` every 50 ms until it returns Some, for up to `limit`.
pub fn wait_for<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Container ids that still have state under a berth-runtime root (a directory
/// with a state.json each; the root may hold other things, such as caches).
pub fn runtime_state_ids(root: &Path) -> Vec<String> {
    std::fs::read_dir(root)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.path().join("state.json").exists())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The end of an engine's teardown, once the engine and its processes are gone:
/// force-deletes every container berth-runtime still has state for under each of
/// `runtime_roots`, then removes the test's cgroup `parent` tree; panics (unless the
/// test already is) if any of that tree is left.
pub fn delete_runtime_state_and_cgroups(runtime_roots: &[PathBuf], parent: &str) {
    for root in runtime_roots {
        for id in runtime_state_ids(root) {
            let _ = std::process::Command::new(berth_tests::bin("berth-runtime"))
                .arg("--root")
                .arg(root)
                .args(["delete", "--force", &id])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
    let left = remove_cgroup_tree(parent);
    if !left.is_empty() && !std::thread::panicking() {
        panic!("cgroups left behind: {left:?}");
    }
}
