//! `--init` end to end: berth-init is the container's pid 1 at /sbin/docker-init,
//! the command its child; exit codes pass through (127/126 when the command cannot
//! run), `stop` ends a process that would ignore SIGTERM as pid 1, other signals
//! are forwarded, orphans are reaped, and the init's file is read-only, also in an
//! image without /sbin and with a read-only root.

#[path = "engine_support.rs"]
mod engine_support;

use std::time::{Duration, Instant};

use berth_tests::busybox_rootfs;
use engine_support::{Berth, IMAGE};

/// `berth run --network none <args>`: these tests need no network.
fn run(b: &Berth, args: &[&str]) -> berth_tests::Run {
    let mut all = vec!["run", "--network", "none"];
    all.extend_from_slice(args);
    b.run(&all)
}

#[test]
fn the_init_is_pid_one_and_the_command_its_child() {
    let b = Berth::new("eng-init-pid");
    let out = run(
        &b,
        &[
            "--rm",
            "--init",
            IMAGE,
            "sh",
            "-c",
            "ps -o pid,comm; echo sh=$$ ppid=$PPID; tr '\\0' ' ' < /proc/1/cmdline",
        ],
    )
    .ok();
    let lines: Vec<&str> = out.lines().collect();
    let pid1: Vec<&str> = lines
        .iter()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|w| w.first() == Some(&"1"))
        .map(|w| w[1])
        .collect();
    assert_eq!(pid1, ["docker-init"], "{out}");
    // The shell is pid 1's child, not pid 1.
    let shell = lines.iter().find(|l| l.starts_with("sh=")).unwrap();
    assert!(
        shell.ends_with(" ppid=1") && !shell.starts_with("sh=1 "),
        "{out}"
    );
    assert_eq!(
        lines.last().unwrap().trim_end(),
        "/sbin/docker-init -- sh -c ps -o pid,comm; echo sh=$$ ppid=$PPID; tr '\\0' ' ' < /proc/1/cmdline",
    );

    // --init=false, and no flag: the command is pid 1.
    for flags in [&["--init=false"][..], &[][..]] {
        let mut args = vec!["--rm"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&[IMAGE, "sh", "-c", "echo $$"]);
        assert_eq!(run(&b, &args).ok(), "1\n", "{flags:?}");
    }

    // inspect: HostConfig.Init is true, false or null as given; Path and Args are
    // the command's.
    b.run(&[
        "create",
        "--network",
        "none",
        "--name",
        "on",
        "--init",
        IMAGE,
        "true",
    ])
    .ok();
    b.run(&[
        "create",
        "--network",
        "none",
        "--name",
        "off",
        "--init=false",
        IMAGE,
    ])
    .ok();
    b.run(&["create", "--network", "none", "--name", "unset", IMAGE])
        .ok();
    let on = b.inspect("on");
    assert_eq!(on["HostConfig"]["Init"], true);
    assert_eq!(on["Path"], "true");
    assert_eq!(b.inspect("off")["HostConfig"]["Init"], false);
    assert!(b.inspect("unset")["HostConfig"]["Init"].is_null());
    // A created container with --init starts with it; its mount point is berth's,
    // not a change of the container's.
    let out = b.run(&["start", "-a", "on"]).ok();
    assert_eq!(out, "");
    assert_eq!(b.inspect("on")["State"]["ExitCode"], 0);
    assert_eq!(b.run(&["diff", "on"]).ok(), "");

    // The init's file is content-addressed under the root, written once.
    let files: Vec<_> = std::fs::read_dir(b.root().join("init"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().into_string().unwrap())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].starts_with("berth-init-"), "{files:?}");
}

#[test]
fn exit_codes_pass_through_the_init() {
    let b = Berth::new("eng-init-exit");
    let r = run(
        &b,
        &["--rm", "--init", IMAGE, "sh", "-c", "echo out; exit 7"],
    );
    assert_eq!(r.code(), 7, "stderr: {}", r.stderr());
    assert_eq!(r.stdout(), "out\n");
    // Killed by a signal: 128 + N.
    let r = run(&b, &["--rm", "--init", IMAGE, "sh", "-c", "kill -9 $$"]);
    assert_eq!(r.code(), 137, "stderr: {}", r.stderr());

    let r = run(&b, &["--rm", "--init", IMAGE, "no-such-command"]);
    assert_eq!(r.code(), 127, "stderr: {}", r.stderr());
    assert_eq!(
        r.stderr(),
        "berth-init: exec no-such-command failed: No such file or directory\n"
    );
    let r = run(&b, &["--rm", "--init", IMAGE, "/etc/passwd"]);
    assert_eq!(r.code(), 126, "stderr: {}", r.stderr());
    assert_eq!(
        r.stderr(),
        "berth-init: exec /etc/passwd failed: Permission denied\n"
    );
    // PATH comes from the container's environment.
    let r = run(
        &b,
        &["--rm", "--init", "-e", "PATH=/nowhere", IMAGE, "true"],
    );
    assert_eq!(r.code(), 127, "stderr: {}", r.stderr());
    assert_eq!(
        r.stderr(),
        "berth-init: exec true failed: No such file or directory\n"
    );
    assert!(b.ps().is_empty(), "{:?}", b.ps());
}

#[test]
fn stop_ends_a_command_that_pid_one_would_not_and_signals_are_forwarded() {
    let b = Berth::new("eng-init-stop");
    run(
        &b,
        &["-d", "--init", "--name", "sleeper", IMAGE, "sleep", "60"],
    )
    .ok();
    let t = Instant::now();
    b.run(&["stop", "-t", "10", "sleeper"]).ok();
    let took = t.elapsed();
    assert!(took < Duration::from_secs(5), "stop took {took:?}");
    let s = b.inspect("sleeper");
    // sleep got the SIGTERM (as pid 1 it would have ignored it until SIGKILL).
    assert_eq!(s["State"]["ExitCode"], 143, "{}", s["State"]);
    assert_eq!(s["State"]["Status"], "exited");

    // Any signal reaches the command: USR1 through `kill`.
    run(
        &b,
        &[
            "-d",
            "--init",
            "--name",
            "trapper",
            IMAGE,
            "sh",
            "-c",
            "trap 'echo got USR1; exit 3' USR1; echo ready; while :; do sleep 0.05; done",
        ],
    )
    .ok();
    b.eventually(10, "the trap to be set", || {
        b.run(&["logs", "trapper"]).stdout().contains("ready")
    });
    b.run(&["kill", "-s", "USR1", "trapper"]).ok();
    assert_eq!(b.run(&["wait", "trapper"]).ok().trim(), "3");
    assert_eq!(b.run(&["logs", "trapper"]).ok(), "ready\ngot USR1\n");
}

/// The processes of container `name` other than the checking shell, as
/// (pid, comm, state), once the orphan has done its work (None before).
fn processes(b: &Berth, name: &str) -> Option<Vec<(u32, String, char)>> {
    let out = b
        .run(&[
            "exec", name, "sh", "-c",
            "test -e /tmp/orphan-done || exit 0; echo done; for p in /proc/[0-9]*; do [ ${p#/proc/} = $$ ] && continue; read l < $p/stat && echo \"$l\"; done",
        ])
        .ok();
    let mut lines = out.lines();
    if lines.next() != Some("done") {
        return None;
    }
    Some(
        lines
            .map(|l| {
                let (pid, rest) = l.split_once(" (").unwrap();
                let (comm, rest) = rest.rsplit_once(") ").unwrap();
                (
                    pid.parse().unwrap(),
                    comm.to_string(),
                    rest.chars().next().unwrap(),
                )
            })
            .collect(),
    )
}

#[test]
fn orphans_are_reaped() {
    let b = Berth::new("eng-init-reap");
    // The inner shell leaves a background job behind and exits: the job is
    // reparented to pid 1, and the outer shell becomes `sleep`, which waits for
    // no one.
    let script = "sh -c '(sleep 0.2; touch /tmp/orphan-done) &'; exec sleep 60";
    run(
        &b,
        &[
            "-d", "--init", "--name", "reaped", IMAGE, "sh", "-c", script,
        ],
    )
    .ok();
    b.eventually(10, "the orphan to be reaped", || {
        processes(&b, "reaped").is_some_and(|p| {
            let mut comms: Vec<&str> = p.iter().map(|x| x.1.as_str()).collect();
            comms.sort();
            comms == ["docker-init", "sleep"] && p.iter().all(|x| x.2 != 'Z')
        })
    });

    // Without the init, sleep is pid 1 and the orphan stays a zombie.
    run(&b, &["-d", "--name", "zombie", IMAGE, "sh", "-c", script]).ok();
    b.eventually(10, "the orphan to become a zombie", || {
        processes(&b, "zombie").is_some_and(|p| p.iter().any(|x| x.2 == 'Z'))
    });
    for c in ["reaped", "zombie"] {
        b.run(&["rm", "-f", c]).ok();
    }
}

#[test]
fn the_init_is_read_only_even_without_sbin_and_with_a_read_only_root() {
    let b = Berth::new("eng-init-ro");
    let r = run(
        &b,
        &[
            "--rm",
            "--init",
            IMAGE,
            "sh",
            "-c",
            "echo x > /sbin/docker-init",
        ],
    );
    assert_ne!(r.code(), 0);
    assert!(
        r.stderr().contains("Read-only file system"),
        "{}",
        r.stderr()
    );
    let out = run(
        &b,
        &[
            "--rm",
            "--init",
            IMAGE,
            "sh",
            "-c",
            "ls -l /sbin/docker-init; grep ' /sbin/docker-init ' /proc/self/mounts",
        ],
    )
    .ok();
    assert!(out.starts_with("-r-xr-xr-x"), "{out}");
    let opts = out.lines().nth(1).unwrap().split(' ').nth(3).unwrap();
    for o in ["ro", "nosuid", "nodev"] {
        assert!(opts.split(',').any(|x| x == o), "{o} in {opts}");
    }

    // An image without /sbin, with a read-only root too.
    let rootfs = b.path("nosbin-rootfs");
    busybox_rootfs(&rootfs);
    std::fs::remove_dir(rootfs.join("sbin")).unwrap();
    b.import_dir(&rootfs, "nosbin", &["ENV PATH=/bin"]);
    for ro in [&[][..], &["--read-only"][..]] {
        let mut args = vec!["--rm", "--init"];
        args.extend_from_slice(ro);
        args.extend_from_slice(&["nosbin", "sh", "-c", "cat /proc/1/comm; exit 5"]);
        let r = run(&b, &args);
        assert_eq!(r.code(), 5, "{ro:?}: {}", r.stderr());
        assert_eq!(r.stdout(), "docker-init\n");
    }
}
