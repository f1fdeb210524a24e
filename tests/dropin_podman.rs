//! podman (Debian's 4.3, with conmon) drives berth-runtime in runc's place:
//! `podman --runtime target/debug/berth-runtime` runs, execs into, pauses, stops and
//! removes containers, and reports their exit statuses.
//!
//! Each test has its own podman: storage (vfs; overlay in one test), run root, libpod
//! tmpdir, network config directory and lock files in a test directory; a
//! containers.conf of its own; the runtime's state root of its own (a two-line wrapper
//! adds `--root`); and a cgroup parent of its own, removed afterwards. No network:
//! `--network none`, and the image is a busybox root filesystem brought in with
//! `podman import`.

#[path = "dropin_support.rs"]
mod dropin_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use berth_tests::{Run, TestDir, bin, is_root, mounts_below, run, run_logged, unique};
use dropin_support::*;

const IMAGE: &str = "localhost/berth-busybox:latest";

/// A private podman whose OCI runtime is berth-runtime.
struct Podman {
    dir: TestDir,
    /// The cgroup every container (and its conmon) of this podman lives under.
    cgroup_parent: String,
    /// containers/storage driver: vfs (plain copies) or overlay.
    driver: &'static str,
}

impl Podman {
    /// Sets up the directories and config, and imports the busybox image, on vfs
    /// storage (no mounts for layers).
    fn new() -> Podman {
        Podman::with("vfs", true)
    }

    /// The same on a given storage driver.
    fn with_driver(driver: &'static str) -> Podman {
        Podman::with(driver, true)
    }

    /// With `json_log`, podman treats berth-runtime as it does runc and crun
    /// (containers.conf `runtime_supports_json`): every runtime call gets
    /// `--log FILE --log-format json` and podman takes errors from that file;
    /// without, from the runtime's stderr.
    fn with(driver: &'static str, json_log: bool) -> Podman {
        assert!(
            is_root(),
            "podman drives real containers: run the drop-in tests as root"
        );
        assert!(
            Path::new("/usr/bin/podman").exists() && Path::new("/usr/bin/conmon").exists(),
            "podman and conmon are missing: install Debian's podman (it brings conmon)"
        );
        let dir = TestDir::new("podman");
        for d in ["root", "runroot", "tmp", "networks", "runtime"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        // podman's default limits (nofile and nproc 1048576 for root) can be above
        // what this process may raise them to (a sandbox without CAP_SYS_RESOURCE):
        // then runc fails just as berth-runtime does, so ask for modest ones. File
        // locks keep podman's lock table in the test directory instead of /dev/shm,
        // and image copies use its tmp instead of /var/tmp.
        std::fs::write(
            dir.path().join("containers.conf"),
            "[containers]\n\
             default_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n\
             [engine]\n\
             cgroup_manager = \"cgroupfs\"\n\
             events_logger = \"file\"\n\
             lock_type = \"file\"\n"
                .to_string()
                + &format!(
                    "image_copy_tmp_dir = \"{}\"\n",
                    dir.path().join("tmp").display()
                )
                + if json_log {
                    "runtime_supports_json = [\"berth-runtime\"]\n"
                } else {
                    ""
                },
        )
        .unwrap();
        // The runtime podman calls: berth-runtime with a state root of this test's.
        // Not `--runtime-flag root=...`: podman leaves runtime flags out of the exit
        // command conmon runs when a container ends, so that cleanup would look in
        // the default root (runc's state is left behind the same way); nor the
        // runtime's environment variable: podman gives conmon a fixed environment.
        let wrapper = dir.path().join("berth-runtime");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nexec '{}' --root '{}' \"$@\"\n",
                bin("berth-runtime").display(),
                dir.path().join("runtime").display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(
            &wrapper,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let p = Podman {
            dir,
            cgroup_parent: unique("berth-dropin-podman"),
            driver,
        };
        let tar = busybox_tarball(p.dir.path());
        p.ok(&["import", tar.to_str().unwrap(), IMAGE]);
        std::fs::remove_file(tar).unwrap();
        p
    }

    /// berth-runtime's state root for this podman's containers.
    fn runtime_root(&self) -> PathBuf {
        self.dir.path().join("runtime")
    }

    /// `podman` with this instance's global flags.
    fn cmd(&self) -> Command {
        let d = self.dir.path();
        let mut c = Command::new("podman");
        c.env("CONTAINERS_CONF", d.join("containers.conf"))
            .env("TMPDIR", d.join("tmp"))
            .arg("--root")
            .arg(d.join("root"))
            .arg("--runroot")
            .arg(d.join("runroot"))
            .arg("--tmpdir")
            .arg(d.join("tmp"))
            .arg("--network-config-dir")
            .arg(d.join("networks"))
            .args(["--storage-driver", self.driver])
            .args(["--cgroup-manager", "cgroupfs"])
            .args(["--events-backend", "file"])
            .arg("--runtime")
            .arg(d.join("berth-runtime"));
        c
    }

    /// Runs podman with `args`; stdin closed.
    fn podman(&self, args: &[&str]) -> Run {
        run(self.cmd().args(args))
    }

    /// Runs podman with `args` and asserts it succeeded; returns stdout, trimmed.
    #[track_caller]
    fn ok(&self, args: &[&str]) -> String {
        self.podman(args).ok().trim().to_string()
    }

    /// `podman run` (or `create`) with the test's cgroup parent and no network,
    /// followed by `args`.
    fn run_args(&self, verb: &str, args: &[&str]) -> Vec<String> {
        let mut v = vec![
            verb.to_string(),
            "--network".into(),
            "none".into(),
            "--cgroup-parent".into(),
            format!("/{}", self.cgroup_parent),
        ];
        v.extend(args.iter().map(|s| s.to_string()));
        v
    }

    /// `podman run ...` with stdin closed; for a detached run its conmon outlives the
    /// command, so its output goes to a file rather than a pipe.
    fn run(&self, args: &[&str]) -> Run {
        let a = self.run_args("run", args);
        if args.contains(&"-d") {
            let log = self.dir.path().join(format!("{}.out", unique("run")));
            return run_logged(self.cmd().args(&a), &log);
        }
        run(self.cmd().args(&a))
    }

    /// A field of `podman inspect` (Go template).
    fn inspect(&self, name: &str, format: &str) -> String {
        self.ok(&["inspect", "--format", format, name])
    }

    /// Waits until the container's state is `want` (up to 10 s).
    #[track_caller]
    fn wait_state(&self, name: &str, want: &str) {
        let got = wait_for(Duration::from_secs(10), || {
            (self.inspect(name, "{{.State.Status}}") == want).then_some(())
        });
        assert!(
            got.is_some(),
            "{name} never became {want}: {}",
            self.inspect(name, "{{.State.Status}} {{.State.Error}}")
        );
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        // Everything this podman made, stopped and removed through podman itself
        // first; then any conmon (or runtime) still running from this test's
        // directories, by pid.
        let _ = self
            .cmd()
            .args(["rm", "--all", "--force", "--time", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let mine = self.dir.path().to_str().unwrap().to_string();
        for pid in pids_with_arg(&mine) {
            end_process(pid, libc::SIGTERM, Duration::from_secs(2));
        }
        delete_runtime_state_and_cgroups(&[self.runtime_root()], &self.cgroup_parent);
    }
}

/// The minimum bar: `podman run --rm IMG sh -c 'exit 4'` exits 4, with the
/// container's output on podman's stdout, and nothing is left in podman or in the
/// runtime's state.
#[test]
fn run_rm_reports_the_exit_status() {
    let p = Podman::new();
    // podman really uses berth-runtime, and reads its runc-shaped --version.
    let v = p.ok(&["info", "--format", "{{.Host.OCIRuntime.Version}}"]);
    assert!(
        v.starts_with("berth-runtime version "),
        "podman's runtime: {v}"
    );
    let r = p.run(&["--rm", IMAGE, "sh", "-c", "echo out; echo err >&2; exit 4"]);
    assert_eq!(r.code(), 4, "podman run: {}\n{}", r.stdout(), r.stderr());
    assert_eq!(r.stdout(), "out\n");
    assert!(r.stderr().contains("err"), "stderr: {}", r.stderr());

    let r = p.run(&["--rm", IMAGE, "true"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let r = p.run(&["--rm", IMAGE, "false"]);
    assert_eq!(r.code(), 1, "{}", r.stderr());

    // The container's uid, working directory and environment are the config's.
    let out = p.run(&[
        "--rm",
        "-u",
        "1000:1000",
        "-w",
        "/tmp",
        "-e",
        "GREETING=hi",
        IMAGE,
        "sh",
        "-c",
        "echo $(id -u):$(id -g) $(pwd) $GREETING $(hostname | wc -c)",
    ]);
    assert_eq!(out.ok(), "1000:1000 /tmp hi 13\n");

    assert_eq!(
        p.ok(&["ps", "--all", "--quiet"]),
        "",
        "--rm left a container"
    );
    assert_eq!(runtime_state_ids(&p.runtime_root()), Vec::<String>::new());
}

/// What podman makes of the runtime's errors: a command that is not in the image is
/// 127, one that cannot be executed 126 (Docker's codes), and podman says why, from
/// the runtime's JSON log or from its stderr.
#[test]
fn run_failures_map_to_dockers_exit_codes() {
    // Both ways podman learns of the runtime's errors: its JSON log, and stderr.
    for json_log in [true, false] {
        let p = Podman::with("vfs", json_log);
        let r = p.run(&["--rm", IMAGE, "no-such-command"]);
        assert_eq!(r.code(), 127, "json log {json_log}: {}", r.stderr());
        assert!(
            r.stderr()
                .contains("\"no-such-command\": executable file not found"),
            "{}",
            r.stderr()
        );
        let r = p.run(&["--rm", IMAGE, "/etc/passwd"]);
        assert_eq!(r.code(), 126, "json log {json_log}: {}", r.stderr());
        assert!(r.stderr().contains("permission denied"), "{}", r.stderr());
        // A file as the working directory: podman refuses it itself, before the
        // runtime is asked.
        let r = p.run(&["--rm", "--workdir", "/etc/passwd", IMAGE, "true"]);
        assert_eq!(r.code(), 126, "json log {json_log}: {}", r.stderr());
        assert!(r.stderr().contains("but is not a directory"), "{}", r.stderr());
        assert_eq!(p.ok(&["ps", "--all", "--quiet"]), "");
        assert_eq!(runtime_state_ids(&p.runtime_root()), Vec::<String>::new());
    }
}

/// A detached container: exec into it (exit status, stdin, environment, user), list
/// its processes, then `podman stop` delivers SIGTERM, the container's handler runs
/// and its exit status is recorded; `podman rm` removes it and its runtime state.
#[test]
fn detached_exec_stop_rm() {
    let p = Podman::new();
    let id = p
        .run(&[
            "-d",
            "--name",
            "web",
            IMAGE,
            "sh",
            "-c",
            "trap 'echo got-term; exit 7' TERM; echo started; while :; do sleep 0.1; done",
        ])
        .ok()
        .trim()
        .to_string();
    p.wait_state("web", "running");
    assert!(
        runtime_state_ids(&p.runtime_root()).contains(&id),
        "berth-runtime has no state for {id}"
    );
    let pid: i32 = p.inspect("web", "{{.State.Pid}}").parse().unwrap();
    assert!(
        alive(pid),
        "podman's pid {pid} for the container is not running"
    );

    let r = p.podman(&["exec", "web", "sh", "-c", "echo in-exec; exit 3"]);
    assert_eq!(r.code(), 3, "{}", r.stderr());
    assert_eq!(r.stdout(), "in-exec\n");

    let out = p.ok(&[
        "exec",
        "-e",
        "X=1",
        "-u",
        "65534",
        "-w",
        "/etc",
        "web",
        "sh",
        "-c",
        "echo $X $(id -u) $(pwd)",
    ]);
    assert_eq!(out, "1 65534 /etc");

    // stdin reaches an exec'd process when podman is asked to keep it open.
    let mut child = p
        .cmd()
        .args(["exec", "-i", "web", "sh", "-c", "read line; echo got:$line"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"hello\n").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "got:hello\n");

    // A detached exec keeps running beside init; top sees both.
    p.ok(&["exec", "-d", "web", "sleep", "30"]);
    let top = wait_for(Duration::from_secs(5), || {
        let t = p.ok(&["top", "web", "pid", "args"]);
        t.contains("sleep 30").then_some(t)
    });
    assert!(top.is_some(), "podman top never showed the detached exec");

    let r = p.podman(&["stop", "--time", "10", "web"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert_eq!(p.inspect("web", "{{.State.Status}}"), "exited");
    assert_eq!(p.inspect("web", "{{.State.ExitCode}}"), "7");
    let logs = p.podman(&["logs", "web"]);
    assert_eq!(logs.stdout(), "started\ngot-term\n");
    assert!(!alive(pid), "init {pid} still runs after stop");

    p.ok(&["rm", "web"]);
    assert_eq!(p.ok(&["ps", "--all", "--quiet"]), "");
    assert_eq!(runtime_state_ids(&p.runtime_root()), Vec::<String>::new());
}

/// Terminals through conmon's console socket, pause/unpause through the freezer,
/// SIGKILL's status (137), a restart of a stopped container (the runtime deletes the
/// old one and creates it anew under the same id), and SIGKILL of a paused one.
#[test]
fn tty_pause_kill_restart() {
    let p = Podman::new();
    let r = p.run(&["--rm", "-t", IMAGE, "sh", "-c", "tty; exit 5"]);
    assert_eq!(r.code(), 5, "{}", r.stderr());
    assert!(
        r.stdout().starts_with("/dev/pts/"),
        "tty said {:?}",
        r.stdout()
    );

    p.run(&["-d", "-t", "--name", "box", IMAGE, "sleep", "1000"])
        .ok();
    p.wait_state("box", "running");
    let out = p.ok(&["exec", "-t", "box", "tty"]);
    assert!(out.starts_with("/dev/pts/"), "exec -t: {out:?}");

    p.ok(&["pause", "box"]);
    assert_eq!(p.inspect("box", "{{.State.Status}}"), "paused");
    let id = p.inspect("box", "{{.Id}}");
    let pid: i32 = p.inspect("box", "{{.State.Pid}}").parse().unwrap();
    assert_eq!(
        frozen(&p, &id),
        Some(true),
        "paused, but the cgroup is not frozen"
    );
    p.ok(&["unpause", "box"]);
    assert_eq!(p.inspect("box", "{{.State.Status}}"), "running");
    assert_eq!(
        frozen(&p, &id),
        Some(false),
        "unpaused, but the cgroup is still frozen"
    );
    p.ok(&["exec", "box", "true"]);

    p.ok(&["kill", "--signal", "KILL", "box"]);
    p.wait_state("box", "exited");
    assert_eq!(p.inspect("box", "{{.State.ExitCode}}"), "137");

    p.ok(&["start", "box"]);
    p.wait_state("box", "running");
    let pid2: i32 = p.inspect("box", "{{.State.Pid}}").parse().unwrap();
    assert_ne!(pid, pid2, "a restarted container has a new init");

    // SIGKILL ends a paused container too (the runtime thaws it, as runc does);
    // podman waits for the exit and records 137.
    p.ok(&["pause", "box"]);
    assert_eq!(frozen(&p, &id), Some(true));
    let r = p.podman(&["kill", "--signal", "KILL", "box"]);
    assert_eq!(
        r.code(),
        0,
        "podman kill of a paused container: {}",
        r.stderr()
    );
    p.wait_state("box", "exited");
    assert_eq!(p.inspect("box", "{{.State.ExitCode}}"), "137");
    assert!(!alive(pid2), "a SIGKILLed paused init {pid2} still exists");
    p.ok(&["rm", "--force", "--time", "0", "box"]);
    assert_eq!(runtime_state_ids(&p.runtime_root()), Vec::<String>::new());
}

/// Whether the container's cgroup is frozen ([`is_frozen`]).
fn frozen(p: &Podman, id: &str) -> Option<bool> {
    is_frozen(&cgroup_trees(&format!("{}/libpod-{id}", p.cgroup_parent)))
}

/// Limits podman writes into config.json land in the container's cgroup, below the
/// parent podman asked for, and `podman update` changes them through the runtime.
#[test]
fn limits_and_update() {
    let p = Podman::new();
    let id = p
        .run(&[
            "-d",
            "--memory",
            "64m",
            "--pids-limit",
            "50",
            IMAGE,
            "sleep",
            "1000",
        ])
        .ok()
        .trim()
        .to_string();
    p.wait_state(&id, "running");
    let inside = p.ok(&[
        "exec",
        &id,
        "sh",
        "-c",
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max 2>/dev/null \
         || cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max",
    ]);
    assert_eq!(
        inside.split_whitespace().collect::<Vec<_>>(),
        ["67108864", "50"]
    );

    // The container's cgroup is podman's libpod-<id> below the test's parent.
    let trees = cgroup_trees(&format!("{}/libpod-{id}", p.cgroup_parent));
    assert!(
        !trees.is_empty(),
        "no cgroup libpod-{id} under /{}",
        p.cgroup_parent
    );

    p.ok(&["update", "--memory", "128m", &id]);
    let after = p.ok(&[
        "exec",
        &id,
        "sh",
        "-c",
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max",
    ]);
    assert_eq!(after, "134217728");
    p.ok(&["rm", "--force", "--time", "0", &id]);
    assert!(
        cgroup_trees(&format!("{}/libpod-{id}", p.cgroup_parent)).is_empty(),
        "the container's cgroup outlived podman rm"
    );
}

/// A user namespace from podman's --uidmap/--gidmap: root in the container is uid
/// 100000 outside, and the runtime wrote the maps podman asked for.
#[test]
fn user_namespace_maps() {
    let p = Podman::new();
    let out = p
        .run(&[
            "--rm",
            "--uidmap",
            "0:100000:65536",
            "--gidmap",
            "0:100000:65536",
            IMAGE,
            "sh",
            "-c",
            "cat /proc/self/uid_map /proc/self/gid_map; id -u",
        ])
        .ok();
    let words: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(
        words,
        ["0", "100000", "65536", "0", "100000", "65536", "0"],
        "{out}"
    );
}

/// A container in the host's pid namespace: init's children are not killed with it,
/// so they stay in its cgroup. `podman stop` (runtime `kill --all`) and the removal
/// after init exits on its own (runtime `delete`) end them, as with runc, and the
/// cgroup goes.
#[test]
fn host_pid_namespace_leaves_nothing_behind() {
    let p = Podman::new();
    // A marker only this test's processes carry: sleep's argument.
    let secs = format!("{}", 500_000 + std::process::id() % 100_000);
    let id = p
        .run(&[
            "-d",
            "--pid",
            "host",
            IMAGE,
            "sh",
            "-c",
            &format!("sleep {secs} & exec sleep 1000"),
        ])
        .ok()
        .trim()
        .to_string();
    p.wait_state(&id, "running");
    let orphan = wait_for(Duration::from_secs(5), || {
        pids_with_arg(&format!("sleep\0{secs}")).first().copied()
    })
    .expect("the background sleep never started");
    p.ok(&["stop", "--time", "1", &id]);
    assert!(
        wait_for(Duration::from_secs(5), || (!alive(orphan)).then_some(())).is_some(),
        "pid {orphan} outlived podman stop"
    );
    assert_eq!(p.inspect(&id, "{{.State.ExitCode}}"), "143");
    p.ok(&["rm", &id]);

    // Init exits by itself, leaving its child: the cleanup podman runs then deletes
    // the container from the runtime, which must end the child to remove the cgroup.
    let id = p
        .run(&[
            "-d",
            "--pid",
            "host",
            IMAGE,
            "sh",
            "-c",
            &format!("sleep {secs} & sleep 0.5"),
        ])
        .ok()
        .trim()
        .to_string();
    p.wait_state(&id, "exited");
    let r = p.podman(&["rm", &id]);
    assert_eq!(r.code(), 0, "podman rm: {}", r.stderr());
    assert!(
        wait_for(Duration::from_secs(5), || pids_with_arg(&format!(
            "sleep\0{secs}"
        ))
        .is_empty()
        .then_some(()))
        .is_some(),
        "the child of an exited init outlived podman rm"
    );
    assert!(
        cgroup_trees(&format!("{}/libpod-{id}", p.cgroup_parent)).is_empty(),
        "the container's cgroup outlived podman rm"
    );
}

/// On overlay storage, podman's usual driver, the container's root is an overlay
/// mount podman makes and hands over as the bundle's root; writes land in the upper
/// layer, an exec sees them, and removal leaves no mount behind.
#[test]
fn overlay_storage() {
    let p = Podman::with_driver("overlay");
    let r = p.run(&[
        "--rm",
        IMAGE,
        "sh",
        "-c",
        "grep ' / / ' /proc/self/mountinfo; exit 4",
    ]);
    assert_eq!(r.code(), 4, "{}", r.stderr());
    assert!(
        r.stdout().contains(" - overlay "),
        "root is not an overlay: {}",
        r.stdout()
    );

    let id = p
        .run(&[
            "-d",
            IMAGE,
            "sh",
            "-c",
            "echo written > /etc/note; exec sleep 1000",
        ])
        .ok();
    let id = id.trim();
    p.wait_state(id, "running");
    let note = wait_for(Duration::from_secs(5), || {
        let r = p.podman(&["exec", id, "cat", "/etc/note"]);
        (r.code() == 0).then(|| r.stdout())
    });
    assert_eq!(note.as_deref(), Some("written\n"));
    p.ok(&["rm", "--force", "--time", "0", id]);
    let storage = p.dir.path().join("root").join("overlay");
    let left: Vec<String> = mounts_below(p.dir.path())
        .into_iter()
        .filter(|m| std::path::Path::new(m) != storage)
        .collect();
    assert_eq!(left, Vec::<String>::new(), "mounts left after podman rm");
}

/// OCI hooks podman adds from a hooks directory (containers' hooks.d JSON) run in the
/// runtime: the prestart hook gets the container's state on stdin, with its id, a
/// live pid and the bundle podman wrote.
#[test]
fn hooks_from_a_hooks_dir() {
    let p = Podman::new();
    let d = p.dir.path();
    let hooks = d.join("hooks.d");
    std::fs::create_dir_all(&hooks).unwrap();
    let out = d.join("hook-out");
    std::fs::create_dir_all(&out).unwrap();
    let script = d.join("hook.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\ncat > '{}/'\"$1\".json\n", out.display()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::write(
        hooks.join("berth-test.json"),
        serde_json::to_vec(&serde_json::json!({
            "version": "1.0.0",
            "hook": {"path": script, "args": ["hook.sh", "prestart"]},
            "when": {"always": true},
            "stages": ["prestart"]
        }))
        .unwrap(),
    )
    .unwrap();
    let mut c = p.cmd();
    c.arg("--hooks-dir")
        .arg(&hooks)
        .args(p.run_args("run", &["--rm", IMAGE, "true"]));
    let r = run(&mut c);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let state: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.join("prestart.json")).expect("the prestart hook did not run"),
    )
    .unwrap();
    assert_eq!(state["status"], "creating", "{state}");
    assert_eq!(state["id"].as_str().unwrap().len(), 64, "{state}");
    assert!(state["pid"].as_i64().unwrap() > 0, "{state}");
    let bundle = state["bundle"].as_str().unwrap();
    assert!(
        bundle.starts_with(d.join("root").to_str().unwrap()),
        "{state}"
    );
}

/// A container joining another's namespaces (podman's `container:` modes, what pods
/// are made of): the runtime enters them by the paths podman writes, so the second
/// container sees the first's hostname and processes; stopping it leaves the first
/// running.
#[test]
fn join_another_containers_namespaces() {
    let p = Podman::new();
    let first = p
        .run(&["-d", "--hostname", "first", IMAGE, "sleep", "1000"])
        .ok();
    let first = first.trim();
    p.wait_state(first, "running");
    let share = |kind: &str| format!("--{kind}=container:{first}");
    let (pid, ipc, uts) = (share("pid"), share("ipc"), share("uts"));
    let out = p
        .run(&[
            "--rm",
            &pid,
            &ipc,
            &uts,
            IMAGE,
            "sh",
            "-c",
            "hostname; cat /proc/1/cmdline | tr '\\0' ' '",
        ])
        .ok();
    assert_eq!(out, "first\nsleep 1000 ", "{out}");

    let second = p.run(&["-d", &pid, IMAGE, "sleep", "2000"]).ok();
    let second = second.trim();
    p.wait_state(second, "running");
    p.ok(&["stop", "--time", "1", second]);
    assert_eq!(p.inspect(second, "{{.State.ExitCode}}"), "143");
    assert_eq!(p.inspect(first, "{{.State.Status}}"), "running");
    p.ok(&["rm", second]);
    p.ok(&["rm", "--force", "--time", "0", first]);
}

/// podman's `--tmpfs` and `--read-only` mount tmpfs with runc's `tmpcopyup`: the
/// tmpfs starts with what the image had at that path.
#[test]
fn tmpfs_and_read_only_with_tmpcopyup() {
    let p = Podman::new();
    let out = p.run(&[
        "--rm", "--tmpfs", "/etc", IMAGE, "sh", "-c",
        "grep -c root /etc/passwd; touch /etc/x && echo writable",
    ]);
    assert_eq!(out.ok(), "1\nwritable\n");
    let out = p.run(&[
        "--rm", "--read-only", IMAGE, "sh", "-c",
        "touch /bin/x 2>/dev/null || echo root-ro; touch /tmp/x && echo tmp-rw",
    ]);
    assert_eq!(out.ok(), "root-ro\ntmp-rw\n");
}
