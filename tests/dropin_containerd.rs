//! containerd (Debian's 1.6) drives berth-runtime through its runc shim
//! (io.containerd.runc.v2 with `--runc-binary target/debug/berth-runtime`): `ctr run`
//! runs a container to completion and reports its exit status; detached tasks exec,
//! pause, resume, take signals and are deleted.
//!
//! Each test starts a containerd of its own (socket, root and state in a test
//! directory, the CRI plugin and everything networked disabled), imports a busybox
//! image it builds as an OCI archive, and stops that containerd by pid afterwards,
//! with every shim it started. Containers live under a cgroup parent of the test's,
//! removed at the end; the runtime keeps its state in a root of the test's.

#[path = "dropin_support.rs"]
mod dropin_support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use berth_tests::{Run, TestDir, bin, is_root, run, run_logged, unique};
use dropin_support::*;

const IMAGE: &str = "localhost/berth-busybox:latest";

/// A private containerd.
struct Containerd {
    dir: TestDir,
    daemon: Child,
    /// The ctr namespace the test's containers are in.
    ns: String,
    /// The cgroup every container of this test lives under.
    cgroup_parent: String,
}

impl Containerd {
    /// Starts containerd on a socket in a fresh test directory and imports the busybox
    /// image.
    fn start() -> Containerd {
        assert!(
            is_root(),
            "containerd runs real containers: run the drop-in tests as root"
        );
        assert!(
            Path::new("/usr/bin/containerd").exists()
                && Path::new("/usr/bin/containerd-shim-runc-v2").exists(),
            "containerd is missing: install Debian's containerd"
        );
        let dir = TestDir::new("containerd");
        let d = dir.path();
        for sub in ["root", "state", "runtime", "runtime-v1", "fifo"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        let sock = d.join("containerd.sock");
        std::fs::write(
            d.join("config.toml"),
            format!(
                r#"version = 2
root = "{root}"
state = "{state}"
# Nothing networked, nothing this test does not use.
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]

[grpc]
  address = "{sock}"

[ttrpc]
  address = "{sock}.ttrpc"

[debug]
  level = "debug"

[metrics]
  address = ""

# The deprecated v1 runtime (containerd-shim) calls berth-runtime too.
[plugins."io.containerd.runtime.v1.linux"]
  runtime = "{runtime}"
  runtime_root = "{runtime_root}"
"#,
                root = d.join("root").display(),
                state = d.join("state").display(),
                sock = sock.display(),
                runtime = bin("berth-runtime").display(),
                runtime_root = d.join("runtime-v1").display(),
            ),
        )
        .unwrap();
        let log = std::fs::File::create(d.join("containerd.log")).unwrap();
        let daemon = Command::new("containerd")
            .arg("--config")
            .arg(d.join("config.toml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn containerd");
        let c = Containerd {
            dir,
            daemon,
            ns: unique("berth"),
            cgroup_parent: unique("berth-dropin-containerd"),
        };
        let up = wait_for(Duration::from_secs(20), || {
            (sock.exists() && c.ctr(&["version"]).code() == 0).then_some(())
        });
        assert!(up.is_some(), "containerd did not come up:\n{}", c.log());
        let archive = busybox_oci_archive(c.dir.path(), IMAGE);
        c.ok(&["image", "import", archive.to_str().unwrap()]);
        std::fs::remove_file(archive).unwrap();
        c
    }

    /// containerd's own log, for failure messages.
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("containerd.log")).unwrap_or_default()
    }

    /// berth-runtime's state root (the shim passes it as `--root`, with the
    /// namespace appended).
    fn runtime_root(&self) -> PathBuf {
        self.dir.path().join("runtime")
    }

    /// `ctr` on this containerd's socket and the test's namespace.
    fn cmd(&self) -> Command {
        let mut c = Command::new("ctr");
        c.arg("--address")
            .arg(self.dir.path().join("containerd.sock"))
            .arg("--namespace")
            .arg(&self.ns);
        c
    }

    fn ctr(&self, args: &[&str]) -> Run {
        run(self.cmd().args(args))
    }

    #[track_caller]
    fn ok(&self, args: &[&str]) -> String {
        self.ctr(args).ok().trim().to_string()
    }

    /// `ctr run` flags that put berth-runtime under the runc shim, with the test's
    /// runtime root, fifo directory and a cgroup below the test's parent.
    fn run_flags(&self, id: &str) -> Vec<String> {
        vec![
            "--runtime".into(),
            "io.containerd.runc.v2".into(),
            "--runc-binary".into(),
            bin("berth-runtime").display().to_string(),
            "--runc-root".into(),
            self.runtime_root().display().to_string(),
            "--fifo-dir".into(),
            self.dir.path().join("fifo").display().to_string(),
            "--cgroup".into(),
            format!("/{}/{id}", self.cgroup_parent),
        ]
    }

    /// `ctr run [flags] IMAGE id args...` in the foreground.
    fn run(&self, flags: &[&str], id: &str, args: &[&str]) -> Run {
        let mut c = self.cmd();
        c.arg("run")
            .args(self.run_flags(id))
            .args(flags)
            .arg(IMAGE)
            .arg(id)
            .args(args);
        run(&mut c)
    }

    /// `ctr run -d`: the task keeps running after ctr returns. Its shim holds the
    /// container's stdio, so ctr's output goes to a file, not a pipe.
    #[track_caller]
    fn run_detached(&self, flags: &[&str], id: &str, args: &[&str]) {
        let mut c = self.cmd();
        c.arg("run")
            .arg("-d")
            .args(self.run_flags(id))
            .args(flags)
            .arg(IMAGE)
            .arg(id)
            .args(args);
        let r = run_logged(&mut c, &self.dir.path().join(format!("{id}.out")));
        assert_eq!(
            r.code(),
            0,
            "ctr run -d {id}: {}\ncontainerd: {}",
            r.stderr(),
            self.log()
        );
    }

    /// The task's (pid, status) from `ctr task ls`.
    fn task(&self, id: &str) -> Option<(i32, String)> {
        self.ok(&["task", "ls"]).lines().skip(1).find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 3 && f[0] == id).then(|| (f[1].parse().unwrap_or(0), f[2].to_string()))
        })
    }

    /// Waits until the task's status is `want` (up to 10 s).
    #[track_caller]
    fn wait_task(&self, id: &str, want: &str) {
        let got = wait_for(Duration::from_secs(10), || {
            self.task(id).filter(|(_, s)| s == want)
        });
        assert!(
            got.is_some(),
            "task {id} never became {want}: {:?}",
            self.task(id)
        );
    }

    /// Deletes a stopped task and returns the exit status containerd reports for it
    /// (`ctr task delete` names a non-zero one in a warning; none means 0).
    #[track_caller]
    fn delete_task(&self, id: &str) -> i32 {
        let r = self.ctr(&["task", "delete", id]);
        let err = r.stderr();
        assert_eq!(r.code(), 0, "ctr task delete {id}: {err}");
        match err.split("exit code ").nth(1) {
            Some(rest) => rest
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap()
                .parse()
                .unwrap(),
            None => 0,
        }
    }

    /// The container's cgroup directories on the host.
    fn cgroup_of(&self, id: &str) -> Vec<PathBuf> {
        cgroup_trees(&format!("{}/{id}", self.cgroup_parent))
    }

    /// Ids with state left in the runtime's root (under the namespace directory).
    fn runtime_ids(&self) -> Vec<String> {
        runtime_state_ids(&self.runtime_root().join(&self.ns))
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        // Tasks and containers through containerd first, so shims exit on their own.
        let quiet = |args: &[&str]| {
            let _ = self
                .cmd()
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        };
        let tasks = self.ctr(&["task", "ls", "--quiet"]).stdout();
        for id in tasks.split_whitespace() {
            quiet(&["task", "kill", "--all", "--signal", "SIGKILL", id]);
            quiet(&["task", "delete", "--force", id]);
        }
        let containers = self.ctr(&["container", "ls", "--quiet"]).stdout();
        for id in containers.split_whitespace() {
            quiet(&["container", "rm", id]);
        }
        // containerd itself, by pid: SIGTERM is its clean shutdown.
        let pid = self.daemon.id() as i32;
        end_process(pid, libc::SIGTERM, Duration::from_secs(10));
        let _ = self.daemon.wait();
        // Shims this containerd started name its socket on their command line.
        let sock = self.dir.path().join("containerd.sock");
        for pid in pids_with_arg(sock.to_str().unwrap()) {
            end_process(pid, libc::SIGTERM, Duration::from_secs(2));
        }
        delete_runtime_state_and_cgroups(
            &[
                self.runtime_root().join(&self.ns),
                self.dir.path().join("runtime-v1").join(&self.ns),
            ],
            &self.cgroup_parent,
        );
    }
}

/// The minimum bar: `ctr run --rm` of a container that exits 4 exits 4, with the
/// container's output on ctr's stdout; nothing is left in containerd or the runtime.
#[test]
fn run_rm_reports_the_exit_status() {
    let c = Containerd::start();
    let r = c.run(
        &["--rm"],
        "four",
        &["sh", "-c", "echo hello; echo oops >&2; exit 4"],
    );
    assert_eq!(
        r.code(),
        4,
        "ctr run: {}\n{}\ncontainerd: {}",
        r.stdout(),
        r.stderr(),
        c.log()
    );
    assert_eq!(r.stdout(), "hello\n");
    assert!(r.stderr().contains("oops"), "{}", r.stderr());

    let r = c.run(&["--rm"], "zero", &["true"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());

    // The process is pid 1 of its own pid namespace, in the cgroup containerd asked
    // for, with the image's environment.
    let r = c.run(
        &["--rm", "--env", "GREETING=hi"],
        "look",
        &["sh", "-c", "echo $$ $GREETING $PATH; cat /proc/self/cgroup"],
    );
    let out = r.ok();
    let first = out.lines().next().unwrap();
    assert_eq!(
        first,
        "1 hi /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    );
    let want = format!("/{}/look", c.cgroup_parent);
    assert!(
        out.lines().skip(1).any(|l| l.ends_with(&want)),
        "not in cgroup {want}: {out}"
    );

    assert_eq!(c.ok(&["task", "ls", "--quiet"]), "");
    assert_eq!(c.ok(&["container", "ls", "--quiet"]), "");
    assert_eq!(c.runtime_ids(), Vec::<String>::new());
    assert!(
        c.cgroup_of("four").is_empty(),
        "cgroup of a removed container left"
    );
}

/// A detached task: exec into it (exit status and output), pause and resume it
/// (the cgroup freezes and thaws), then SIGTERM runs its handler and containerd
/// reports the handler's exit status; SIGKILL's is 137, also for a paused task.
#[test]
fn detached_task_exec_pause_kill() {
    let c = Containerd::start();
    c.run_detached(
        &[],
        "svc",
        &[
            "sh",
            "-c",
            "trap 'exit 9' TERM; while :; do sleep 0.1; done",
        ],
    );
    c.wait_task("svc", "RUNNING");
    let (pid, _) = c.task("svc").unwrap();
    assert!(alive(pid), "the task's pid {pid} does not run");
    assert!(
        c.runtime_ids().contains(&"svc".to_string()),
        "no runtime state for svc"
    );

    let fifo = c.dir.path().join("fifo");
    let r = c.ctr(&[
        "task",
        "exec",
        "--fifo-dir",
        fifo.to_str().unwrap(),
        "--exec-id",
        "e1",
        "svc",
        "sh",
        "-c",
        "echo from-exec $$; exit 6",
    ]);
    assert_eq!(r.code(), 6, "{}\ncontainerd: {}", r.stderr(), c.log());
    let out = r.stdout();
    assert!(out.starts_with("from-exec "), "{out}");
    assert_ne!(out.trim(), "from-exec 1", "the exec'd process is not init");

    let ps = c.ok(&["task", "ps", "svc"]);
    assert!(
        ps.lines()
            .any(|l| l.split_whitespace().next() == Some(&pid.to_string())),
        "{ps}"
    );

    c.ok(&["task", "pause", "svc"]);
    c.wait_task("svc", "PAUSED");
    assert_eq!(
        is_frozen(&c.cgroup_of("svc")),
        Some(true),
        "paused, but not frozen"
    );
    c.ok(&["task", "resume", "svc"]);
    c.wait_task("svc", "RUNNING");
    assert_eq!(
        is_frozen(&c.cgroup_of("svc")),
        Some(false),
        "resumed, but still frozen"
    );

    c.ok(&["task", "kill", "svc"]);
    c.wait_task("svc", "STOPPED");
    assert_eq!(c.delete_task("svc"), 9);
    assert!(!alive(pid), "init {pid} outlived its task");
    c.ok(&["container", "rm", "svc"]);

    // SIGKILL of a paused task: the runtime thaws it (as runc does), so it dies
    // and containerd can delete it.
    c.run_detached(&[], "victim", &["sleep", "1000"]);
    c.wait_task("victim", "RUNNING");
    c.ok(&["task", "pause", "victim"]);
    c.wait_task("victim", "PAUSED");
    c.ok(&["task", "kill", "--signal", "SIGKILL", "victim"]);
    c.wait_task("victim", "STOPPED");
    assert_eq!(c.delete_task("victim"), 137);
    c.ok(&["container", "rm", "victim"]);
    assert_eq!(c.runtime_ids(), Vec::<String>::new());
}

/// A terminal: the shim receives the pty master on its console socket and ctr
/// relays it (ctr wants a terminal of its own, so it runs under script(1)).
#[test]
fn terminal_through_the_console_socket() {
    let c = Containerd::start();
    let mut line = Vec::new();
    for a in c.cmd().get_args() {
        line.push(shell_quote(a.to_str().unwrap()));
    }
    line.push("run".into());
    line.push("--rm".into());
    line.push("-t".into());
    for f in c.run_flags("tty") {
        line.push(shell_quote(&f));
    }
    line.extend([
        IMAGE.to_string(),
        "tty".into(),
        "sh".into(),
        "-c".into(),
        shell_quote("tty; exit 3"),
    ]);
    let r = run(Command::new("script")
        .args(["--quiet", "--return", "--command"])
        .arg(format!("ctr {}", line.join(" ")))
        .arg("/dev/null"));
    assert_eq!(r.code(), 3, "{}\n{}", r.stdout(), r.stderr());
    assert!(
        r.stdout().contains("/dev/pts/"),
        "tty said {:?}",
        r.stdout()
    );
    assert_eq!(c.runtime_ids(), Vec::<String>::new());
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The runc shim's systemd cgroup option makes cgroupsPath `slice:prefix:name` and
/// passes `--systemd-cgroup`: berth-runtime places the container where systemd would
/// (`<slice>/<prefix>-<name>.scope`) without systemd running, where runc refuses
/// ("systemd not running on this host").
#[test]
fn systemd_cgroup_paths() {
    let c = Containerd::start();
    let slice = format!("{}.slice", c.cgroup_parent.replace('-', ""));
    let id = "scoped";
    let mut cmd = c.cmd();
    cmd.arg("run")
        .arg("--rm")
        .args(["--runtime", "io.containerd.runc.v2"])
        .arg("--runc-binary")
        .arg(bin("berth-runtime"))
        .arg("--runc-root")
        .arg(c.runtime_root())
        .arg("--fifo-dir")
        .arg(c.dir.path().join("fifo"))
        .arg("--runc-systemd-cgroup")
        .arg("--cgroup")
        .arg(format!("{slice}:ctr:{id}"))
        .arg(IMAGE)
        .arg(id)
        .args(["sh", "-c", "cat /proc/self/cgroup; exit 2"]);
    let r = run(&mut cmd);
    let cleanup = || remove_cgroup_tree(&slice);
    if r.code() != 2 {
        cleanup();
        panic!(
            "ctr run: {}\n{}\ncontainerd: {}",
            r.stdout(),
            r.stderr(),
            c.log()
        );
    }
    let want = format!("/{slice}/ctr-{id}.scope");
    let ok = r.stdout().lines().any(|l| l.ends_with(&want));
    let left = cleanup();
    assert!(ok, "not in {want}: {}", r.stdout());
    assert_eq!(
        left,
        Vec::<PathBuf>::new(),
        "cgroups of a removed container left"
    );
}

/// Limits containerd writes into the spec are in the container's cgroup while it
/// runs.
#[test]
fn limits_reach_the_cgroup() {
    let c = Containerd::start();
    c.run_detached(&["--memory-limit", "67108864"], "lim", &["sleep", "1000"]);
    c.wait_task("lim", "RUNNING");
    let trees = c.cgroup_of("lim");
    let v1 = trees
        .iter()
        .find_map(|d| std::fs::read_to_string(d.join("memory.limit_in_bytes")).ok());
    let limit = v1.or_else(|| {
        trees
            .iter()
            .find_map(|d| std::fs::read_to_string(d.join("memory.max")).ok())
    });
    assert_eq!(
        limit.as_deref().map(str::trim),
        Some("67108864"),
        "{trees:?}"
    );
    c.ok(&["task", "kill", "--signal", "SIGKILL", "lim"]);
    c.wait_task("lim", "STOPPED");
    assert_eq!(c.delete_task("lim"), 137);
    c.ok(&["container", "rm", "lim"]);
    assert!(
        c.cgroup_of("lim").is_empty(),
        "the container's cgroup outlived it"
    );
}

/// The deprecated v1 runtime (io.containerd.runtime.v1.linux, one containerd-shim per
/// container), configured with berth-runtime as its runtime binary, reports exit
/// statuses too: a foreground run's, and a SIGKILLed detached task's.
#[test]
fn v1_linux_runtime() {
    let c = Containerd::start();
    let v1_root = c.dir.path().join("runtime-v1").join(&c.ns);
    let mut cmd = c.cmd();
    cmd.args(["run", "--rm", "--runtime", "io.containerd.runtime.v1.linux"])
        .arg("--fifo-dir")
        .arg(c.dir.path().join("fifo"))
        .arg("--cgroup")
        .arg(format!("/{}/old", c.cgroup_parent))
        .args([IMAGE, "old", "sh", "-c", "echo via-v1; exit 4"]);
    let r = run(&mut cmd);
    assert_eq!(
        r.code(),
        4,
        "{}\n{}\ncontainerd: {}",
        r.stdout(),
        r.stderr(),
        c.log()
    );
    assert_eq!(r.stdout(), "via-v1\n");

    let out = c.dir.path().join("old2.out");
    let f = std::fs::File::create(&out).unwrap();
    let status = c
        .cmd()
        .args(["run", "-d", "--runtime", "io.containerd.runtime.v1.linux"])
        .arg("--fifo-dir")
        .arg(c.dir.path().join("fifo"))
        .arg("--cgroup")
        .arg(format!("/{}/old2", c.cgroup_parent))
        .args([IMAGE, "old2", "sleep", "1000"])
        .stdin(Stdio::null())
        .stdout(f.try_clone().unwrap())
        .stderr(f)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "{}",
        std::fs::read_to_string(&out).unwrap_or_default()
    );
    c.wait_task("old2", "RUNNING");
    assert!(
        runtime_state_ids(&v1_root).contains(&"old2".to_string()),
        "the v1 shim did not use berth-runtime (no state in {})",
        v1_root.display()
    );
    c.ok(&["task", "kill", "--signal", "SIGKILL", "old2"]);
    c.wait_task("old2", "STOPPED");
    assert_eq!(c.delete_task("old2"), 137);
    c.ok(&["container", "rm", "old2"]);
    assert_eq!(runtime_state_ids(&v1_root), Vec::<String>::new());
}
