//! Helpers for the engine tests: a private berth root and state directory per test
//! with a busybox image imported into it, `berth` run against them, and teardown
//! (every container force-removed, mounts below the directory undone) on success,
//! failure and panic alike.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use berth_tests::{Run, TestDir, bin, busybox_rootfs, run};

/// The image name the tests import.
pub const IMAGE: &str = "bb:latest";

/// A berth root and state directory of their own with a busybox image.
pub struct Berth {
    /// Holds root/, state/ and whatever the test puts beside them.
    pub dir: TestDir,
    /// The cgroup this root's containers are made under (`--cgroup-parent`),
    /// unique to it, removed on drop.
    pub cgroup_parent: String,
}

impl Berth {
    /// A fresh root for test `name`, with busybox imported as [`IMAGE`].
    pub fn new(name: &str) -> Berth {
        let b = Berth {
            dir: TestDir::new(name),
            cgroup_parent: berth_tests::unique("berth-test-cg"),
        };
        let rootfs = b.path("rootfs");
        busybox_rootfs(&rootfs);
        b.import_dir(&rootfs, IMAGE, &[r#"CMD ["/bin/sh"]"#, "ENV PATH=/bin:/usr/bin"]);
        b
    }

    /// Imports directory `rootfs` as image `name` (`berth import -c CHANGE... TAR NAME`),
    /// through a tar written beside it.
    pub fn import_dir(&self, rootfs: &std::path::Path, name: &str, changes: &[&str]) {
        let tar_path = rootfs.with_extension("tar");
        let mut t = tar::Builder::new(std::fs::File::create(&tar_path).unwrap());
        t.follow_symlinks(false);
        t.append_dir_all(".", rootfs).unwrap();
        t.finish().unwrap();
        drop(t);
        let mut args = vec!["import"];
        for c in changes {
            args.extend(["-c", c]);
        }
        args.extend([tar_path.to_str().unwrap(), name]);
        self.run(&args).ok();
    }

    /// Imports busybox with `/seed/{file,link}` (owned by 1000:1000) as image `name`,
    /// its config with `VOLUME /seed`.
    pub fn import_volume_image(&self, name: &str) {
        let base = self.path("vol-rootfs");
        busybox_rootfs(&base);
        std::fs::create_dir_all(base.join("seed")).unwrap();
        std::fs::write(base.join("seed/file"), "from the image\n").unwrap();
        std::os::unix::fs::symlink("file", base.join("seed/link")).unwrap();
        std::os::unix::fs::chown(base.join("seed/file"), Some(1000), Some(1000)).unwrap();
        self.import_dir(&base, name, &["VOLUME /seed", "ENV PATH=/bin"]);
    }

    /// Loads a two-layer image `name` through `berth load`: busybox with `/etc/gone`
    /// and `/data/old/{a,b}`, then a layer whiting out `/etc/gone` and making
    /// `/data/old` opaque with only `c` in it.
    pub fn load_whiteout_image(&self, name: &str) {
        use sha2::Digest;
        let base = self.path("wh-rootfs");
        busybox_rootfs(&base);
        std::fs::write(base.join("etc/gone"), "here\n").unwrap();
        std::fs::create_dir_all(base.join("data/old")).unwrap();
        std::fs::write(base.join("data/old/a"), "a").unwrap();
        std::fs::write(base.join("data/old/b"), "b").unwrap();
        let mut l1 = tar::Builder::new(Vec::new());
        l1.follow_symlinks(false);
        l1.append_dir_all(".", &base).unwrap();
        let l1 = l1.into_inner().unwrap();
        let mut l2 = tar::Builder::new(Vec::new());
        let mut add = |path: &str, data: &[u8], dir: bool| {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(if dir { 0o755 } else { 0o644 });
            h.set_entry_type(if dir {
                tar::EntryType::Directory
            } else {
                tar::EntryType::Regular
            });
            h.set_cksum();
            l2.append_data(&mut h, path, data).unwrap();
        };
        add("etc/", b"", true);
        add("etc/.wh.gone", b"", false);
        add("data/old/", b"", true);
        add("data/old/.wh..wh..opq", b"", false);
        add("data/old/c", b"c", false);
        let l2 = l2.into_inner().unwrap();
        let hex = |d: &[u8]| format!("{:x}", sha2::Sha256::digest(d));
        let config = serde_json::json!({
            "architecture": "amd64", "os": "linux",
            "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/bin"]},
            "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", hex(&l1)), format!("sha256:{}", hex(&l2))]},
        });
        let config = serde_json::to_vec(&config).unwrap();
        let manifest = serde_json::json!([{
            "Config": "config.json", "RepoTags": [name], "Layers": ["l1/layer.tar", "l2/layer.tar"],
        }]);
        let mut ar = tar::Builder::new(Vec::new());
        for (p, d) in [
            ("config.json", config.as_slice()),
            ("l1/layer.tar", l1.as_slice()),
            ("l2/layer.tar", l2.as_slice()),
            ("manifest.json", &serde_json::to_vec(&manifest).unwrap()),
        ] {
            let mut h = tar::Header::new_gnu();
            h.set_size(d.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            ar.append_data(&mut h, p, d).unwrap();
        }
        let archive = self.path("wh.tar");
        std::fs::write(&archive, ar.into_inner().unwrap()).unwrap();
        self.run(&["load", "-i", archive.to_str().unwrap()]).ok();
    }

    /// A path in the test directory.
    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// The berth root.
    pub fn root(&self) -> PathBuf {
        self.path("root")
    }

    /// `berth --root <root> --state <state> <args>` with stdin closed.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin("berth"));
        c.arg("--root")
            .arg(self.root())
            .arg("--state")
            .arg(self.path("state"))
            .args(args)
            .env("BERTH_CGROUP_PARENT", format!("/{}", self.cgroup_parent))
            .stdin(Stdio::null());
        c
    }

    /// Runs `berth <args>` and captures its output.
    pub fn run(&self, args: &[&str]) -> Run {
        run(&mut self.cmd(args))
    }

    /// Runs `berth <args>`, asserts it exits `code` (not 0) with `needle` in its
    /// stderr, and returns that stderr.
    #[track_caller]
    pub fn fails_with(&self, args: &[&str], code: i32, needle: &str) -> String {
        let r = self.run(args);
        let err = r.fails();
        assert!(
            r.code() == code && err.contains(needle),
            "{}: exit {} (want {code}), stderr {err:?} (want it to contain {needle:?})",
            r.what,
            r.code()
        );
        err
    }

    /// `ps -a --no-trunc --format '{{.ID}} {{.Names}} {{.State}}|{{.Status}}'` rows.
    pub fn ps(&self) -> Vec<String> {
        self.run(&[
            "ps",
            "-a",
            "--no-trunc",
            "--format",
            "{{.ID}} {{.Names}} {{.State}}|{{.Status}}",
        ])
        .ok()
        .lines()
        .map(str::to_string)
        .collect()
    }

    /// The `inspect` document of a container.
    pub fn inspect(&self, name: &str) -> serde_json::Value {
        let out = self.run(&["inspect", name]).ok();
        let v: serde_json::Value = serde_json::from_str(&out).expect("inspect prints JSON");
        v[0].clone()
    }

    /// Polls `f` every 50 ms for up to `secs` seconds until it holds.
    #[track_caller]
    pub fn eventually(&self, secs: u64, what: &str, mut f: impl FnMut() -> bool) {
        let end = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < end {
            if f() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("timed out waiting for {what}; containers: {:?}", self.ps());
    }

    /// Containers left in the runtime's state directory (its own dot-files aside).
    pub fn runtime_leftovers(&self) -> Vec<String> {
        std::fs::read_dir(self.path("state/runtime"))
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| e.file_name().into_string().ok())
                    .filter(|n| !n.starts_with('.'))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Asserts the root has nothing left running or half-removed: no container
    /// listed, no mount below the test directory, no container in the runtime's state.
    #[track_caller]
    pub fn assert_nothing_left(&self) {
        assert!(self.ps().is_empty(), "containers: {:?}", self.ps());
        assert!(self.mounts().is_empty(), "mounts: {:?}", self.mounts());
        assert!(
            self.runtime_leftovers().is_empty(),
            "runtime state: {:?}",
            self.runtime_leftovers()
        );
    }

    /// Mount points below the test directory.
    pub fn mounts(&self) -> Vec<String> {
        berth_tests::mounts_below(self.dir.path())
    }
}

impl Drop for Berth {
    fn drop(&mut self) {
        let ids = self
            .run(&["ps", "-aq", "--no-trunc"])
            .stdout()
            .lines()
            .map(str::to_string)
            .collect::<Vec<_>>();
        for id in ids {
            let _ = self
                .cmd(&["rm", "-f", &id])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        // The root's networks, its default network's bridge included (a name of its own,
        // see berth_engine::network::default_bridge). A `--rm` container's monitor may
        // still be leaving its network: retry for a while.
        if let Ok(m) = berth_network::Manager::new(&self.root()) {
            let end = Instant::now() + Duration::from_secs(5);
            loop {
                let left: Vec<_> = m
                    .networks()
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|n| m.remove_network(&n.name).is_err())
                    .collect();
                if left.is_empty() || Instant::now() > end {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        // The parent cgroup the runtime made for this root's containers, in every
        // hierarchy (empty now that they are gone), with any container cgroup a test
        // left in it (a simulated reboot kills containers behind the runtime's back).
        fn remove_tree(dir: &std::path::Path) {
            if let Ok(rd) = std::fs::read_dir(dir) {
                for e in rd.flatten() {
                    if e.file_type().is_ok_and(|t| t.is_dir()) {
                        remove_tree(&e.path());
                    }
                }
            }
            let _ = std::fs::remove_dir(dir);
        }
        for dir in berth_tests::cgroup_leftovers(&self.cgroup_parent) {
            remove_tree(&dir);
        }
    }
}
