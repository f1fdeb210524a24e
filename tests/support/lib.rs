//! Support for berth's end-to-end tests: private temporary directories, busybox
//! bundles built on the spot, and guards that tear containers down on success,
//! failure and panic alike.
//!
//! Conventions every test follows:
//! - each test uses its own root/state directories and unique container ids
//!   ([`unique`]), so tests run in parallel and never see each other;
//! - every kernel object a test creates is owned by a guard whose `Drop` removes it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A name unique to this test process and call: `<prefix>-<pid>-<n>`.
pub fn unique(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    format!("{prefix}-{}-{n}", std::process::id())
}

/// The directory holding the workspace's built binaries (target/<profile>), found from
/// the running test executable (target/<profile>/deps/<test>), or `BERTH_BIN_DIR`.
pub fn bin_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("BERTH_BIN_DIR") {
        return PathBuf::from(d);
    }
    let exe = std::env::current_exe().expect("current_exe");
    let deps = exe.parent().expect("test executable has a directory");
    if deps.ends_with("deps") {
        deps.parent().unwrap().to_path_buf()
    } else {
        deps.to_path_buf()
    }
}

/// Path of one of the workspace's binaries; panics with a hint when it is not built.
pub fn bin(name: &str) -> PathBuf {
    let p = bin_dir().join(name);
    assert!(
        p.exists(),
        "{} is missing: run `cargo build --workspace --bins` before the tests",
        p.display()
    );
    p
}

/// The statically linked busybox the tests build root filesystems from
/// (`BERTH_TEST_BUSYBOX`, or Debian's busybox-static at /bin/busybox).
pub fn busybox() -> PathBuf {
    let p = std::env::var_os("BERTH_TEST_BUSYBOX")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/bin/busybox"));
    assert!(
        p.exists(),
        "{} is missing: install Debian's busybox-static",
        p.display()
    );
    p
}

/// True when the tests run as root (they touch mounts, cgroups and namespaces).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A temporary directory removed, with everything mounted below it, on drop.
pub struct TestDir {
    path: PathBuf,
}

impl TestDir {
    /// Creates `/tmp/berth-test/<unique(prefix)>` (or under `BERTH_TEST_TMP`).
    pub fn new(prefix: &str) -> TestDir {
        let base = std::env::var_os("BERTH_TEST_TMP")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/tmp/berth-test"));
        let path = base.join(unique(prefix));
        std::fs::create_dir_all(&path).expect("create test dir");
        TestDir { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        unmount_below(&self.path);
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Lazily unmounts every mount at or below `dir` (deepest first).
pub fn unmount_below(dir: &Path) {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let mut points: Vec<&str> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| Path::new(m).starts_with(dir))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        let c = std::ffi::CString::new(p).unwrap();
        // SAFETY: c is a valid NUL-terminated path.
        unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    }
}

/// Mount points currently listed in /proc/self/mountinfo at or below `dir`.
pub fn mounts_below(dir: &Path) -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| Path::new(m).starts_with(dir))
        .map(str::to_string)
        .collect()
}

/// Builds a root filesystem of busybox and its applets (as symlinks) at `rootfs`.
pub fn busybox_rootfs(rootfs: &Path) {
    let bin = rootfs.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for d in ["proc", "sys", "dev", "tmp", "etc", "root", "usr/bin", "sbin"] {
        std::fs::create_dir_all(rootfs.join(d)).unwrap();
    }
    let bb = bin.join("busybox");
    if std::fs::hard_link(busybox(), &bb).is_err() {
        std::fs::copy(busybox(), &bb).unwrap();
    }
    // Ask the original for its applets: executing a fresh copy races with other
    // test threads' forks, which may briefly hold it open for writing (ETXTBSY).
    let list = Command::new(busybox()).arg("--list").output().expect("busybox --list");
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "busybox" {
            let _ = std::os::unix::fs::symlink("busybox", bin.join(applet));
        }
    }
    std::fs::write(
        rootfs.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    )
    .unwrap();
    std::fs::write(rootfs.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").unwrap();
}

/// The outcome of a command, with helpers for assertions that print everything on
/// failure.
pub struct Run {
    /// What ran, for messages.
    pub what: String,
    /// Its output.
    pub out: Output,
}

impl Run {
    /// Stdout as text.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }
    /// Stderr as text.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }
    /// The exit code (128+n for a signal, like a shell).
    pub fn code(&self) -> i32 {
        use std::os::unix::process::ExitStatusExt;
        self.out
            .status
            .code()
            .unwrap_or_else(|| 128 + self.out.status.signal().unwrap_or(0))
    }
    /// Asserts exit 0 and returns stdout.
    #[track_caller]
    pub fn ok(&self) -> String {
        assert_eq!(
            self.code(),
            0,
            "{} failed\nstdout: {}\nstderr: {}",
            self.what,
            self.stdout(),
            self.stderr()
        );
        self.stdout()
    }
    /// Asserts a non-zero exit and returns stderr.
    #[track_caller]
    pub fn fails(&self) -> String {
        assert_ne!(
            self.code(),
            0,
            "{} unexpectedly succeeded\nstdout: {}",
            self.what,
            self.stdout()
        );
        self.stderr()
    }
}

/// Runs `cmd` with stdin closed and captures its output.
pub fn run(cmd: &mut Command) -> Run {
    let what = format!("{cmd:?}");
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("spawn {what}: {e}"));
    Run { what, out }
}

/// Runs `cmd` with stdin closed and its stdout and stderr both written to file `log`,
/// for commands that leave a process holding them (a detached container, its shim
/// or monitor), which would keep a pipe open. The file's text is the result's
/// stdout if the command succeeded, its stderr if it failed.
pub fn run_logged(cmd: &mut Command, log: &Path) -> Run {
    let what = format!("{cmd:?}");
    let f = std::fs::File::create(log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
    let status = cmd
        .stdin(Stdio::null())
        .stdout(f.try_clone().unwrap())
        .stderr(f)
        .status()
        .unwrap_or_else(|e| panic!("spawn {what}: {e}"));
    let text = std::fs::read(log).unwrap_or_default();
    let (stdout, stderr) = if status.success() {
        (text, Vec::new())
    } else {
        (Vec::new(), text)
    };
    Run {
        what,
        out: Output {
            status,
            stdout,
            stderr,
        },
    }
}

/// True when /sys/fs/cgroup is a pure cgroup v2 mount.
pub fn cgroup_v2() -> bool {
    // SAFETY: statfs into a zeroed struct with a valid path.
    unsafe {
        let mut s: libc::statfs = std::mem::zeroed();
        let p = std::ffi::CString::new("/sys/fs/cgroup").unwrap();
        libc::statfs(p.as_ptr(), &mut s) == 0 && s.f_type == 0x6367_7270
    }
}

/// The host directory of cgroup `path` (e.g. "/<id>") for a v1 `controller`, or the
/// unified directory on pure v2.
pub fn cgroup_dir(controller: &str, path: &str) -> PathBuf {
    let rel = path.trim_start_matches('/');
    if cgroup_v2() {
        PathBuf::from("/sys/fs/cgroup").join(rel)
    } else {
        PathBuf::from("/sys/fs/cgroup").join(controller).join(rel)
    }
}

/// Every cgroup directory named `name` directly under any mounted hierarchy root.
pub fn cgroup_leftovers(name: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let base = Path::new("/sys/fs/cgroup");
    if base.join(name).is_dir() {
        found.push(base.join(name));
    }
    if let Ok(rd) = std::fs::read_dir(base) {
        for e in rd.flatten() {
            let p = e.path().join(name);
            if p.is_dir() {
                found.push(p);
            }
        }
    }
    found
}

/// A bundle: a busybox root filesystem and runc's default config.json made by
/// `berth-runtime spec`, adjusted for tests (no terminal, the given args).
pub struct Bundle {
    dir: TestDir,
}

impl Bundle {
    /// Builds a bundle running `args`.
    pub fn new(args: &[&str]) -> Bundle {
        let dir = TestDir::new("bundle");
        busybox_rootfs(&dir.path().join("rootfs"));
        run(Command::new(bin("berth-runtime"))
            .arg("spec")
            .arg("--bundle")
            .arg(dir.path()))
        .ok();
        let b = Bundle { dir };
        b.edit(|c| {
            c["process"]["terminal"] = false.into();
            c["process"]["args"] = args.iter().map(|a| serde_json::Value::from(*a)).collect();
        });
        b
    }

    /// The bundle directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A view of a bundle made elsewhere (its directory is not removed by this value).
    pub fn at(path: &Path) -> BundleAt {
        BundleAt(path.to_path_buf())
    }

    /// The parsed config.json.
    pub fn config(&self) -> serde_json::Value {
        Bundle::at(self.path()).config()
    }

    /// Changes config.json with `f`.
    pub fn edit(&self, f: impl FnOnce(&mut serde_json::Value)) {
        Bundle::at(self.path()).edit(f)
    }
}

/// A bundle directory owned by someone else, edited like [`Bundle`].
pub struct BundleAt(PathBuf);

impl BundleAt {
    /// The parsed config.json.
    pub fn config(&self) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(self.0.join("config.json")).unwrap()).unwrap()
    }

    /// Changes config.json with `f`.
    pub fn edit(&self, f: impl FnOnce(&mut serde_json::Value)) {
        let mut c = self.config();
        f(&mut c);
        std::fs::write(self.0.join("config.json"), serde_json::to_vec_pretty(&c).unwrap()).unwrap();
    }
}

/// berth-runtime with a private state root; every container it made is deleted
/// (forcibly) when it drops, so a failing test leaves nothing running.
pub struct Runtime {
    root: TestDir,
    ids: std::sync::Mutex<Vec<String>>,
}

impl Default for Runtime {
    fn default() -> Self {
        Self::new()
    }
}

impl Runtime {
    /// A runtime on a fresh state root.
    pub fn new() -> Runtime {
        Runtime {
            root: TestDir::new("state"),
            ids: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// The state root.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// A fresh container id, remembered for cleanup.
    pub fn id(&self, prefix: &str) -> String {
        let id = unique(prefix);
        self.ids.lock().unwrap().push(id.clone());
        id
    }

    /// `berth-runtime --root <root>` ready for arguments.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(bin("berth-runtime"));
        c.arg("--root").arg(self.root.path());
        c
    }

    /// Runs berth-runtime with `args`, capturing its output. Do not use for
    /// commands whose container outlives them (create, run -d): the container would
    /// hold the pipes open; use [`Runtime::detached`].
    pub fn run(&self, args: &[&str]) -> Run {
        run(self.cmd().args(args))
    }

    /// Runs a command whose container outlives it, with the container's stdio sent
    /// to `<root>/<name>.out`; returns the command's result (its own output is in
    /// the same file, see [`run_logged`]) and that file.
    pub fn detached(&self, args: &[&str], name: &str) -> (Run, PathBuf) {
        let log = self.root.path().join(format!("{name}.out"));
        (run_logged(self.cmd().args(args), &log), log)
    }

    /// The `state` JSON of a container.
    pub fn state(&self, id: &str) -> serde_json::Value {
        let out = self.run(&["state", id]).ok();
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("state JSON: {e}: {out}"))
    }

    /// Polls `state` until its status is `want` (up to 5 s).
    #[track_caller]
    pub fn wait_status(&self, id: &str, want: &str) {
        for _ in 0..500 {
            if self.state(id)["status"] == want {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("container {id} never reached {want}: {}", self.state(id));
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        for id in self.ids.lock().unwrap().iter() {
            let _ = self
                .cmd()
                .args(["delete", "--force", id])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}
