//! `berth run` end to end with real containers from an imported busybox image:
//! exit codes (the container's own, 125/126/127), pid 1, hostname and environment,
//! Docker's capabilities, bind mounts, named volumes, cgroup limits seen inside, and
//! nothing left behind by `--rm` or by a refused run.

#[path = "engine_support.rs"]
mod engine_support;

use engine_support::{Berth, IMAGE};

#[test]
fn exit_codes_are_the_containers_and_dockers() {
    let b = Berth::new("eng-exit");
    let r = b.run(&[
        "run",
        "--rm",
        IMAGE,
        "sh",
        "-c",
        "echo out; echo err >&2; exit 7",
    ]);
    assert_eq!(r.code(), 7, "stderr: {}", r.stderr());
    assert_eq!(r.stdout(), "out\n");
    assert_eq!(r.stderr(), "err\n");

    let r = b.run(&["run", "--rm", IMAGE, "no-such-command"]);
    assert_eq!(r.code(), 127, "stderr: {}", r.stderr());
    assert!(
        r.stderr().starts_with("berth: Error response from daemon: ")
            && r.stderr().ends_with(
                "unable to start container process: exec: \"no-such-command\": executable file not found in $PATH: unknown.\n"
            ),
        "{}",
        r.stderr()
    );
    let r = b.run(&["run", "--rm", IMAGE, "/etc/passwd"]);
    assert_eq!(r.code(), 126, "stderr: {}", r.stderr());

    // --rm left nothing: no container, no mount, no runtime state.
    b.assert_nothing_left();
}

#[test]
fn pid_one_hostname_env_user_workdir_and_caps() {
    let b = Berth::new("eng-proc");
    let out = b
        .run(&[
            "run", "--rm", "--hostname", "harbour", "-e", "GREETING=ahoy", "-w", "/srv/app", "-u", "65534:65534",
            IMAGE, "sh", "-c",
            "echo $$ $(hostname) $GREETING $(pwd) $(id -u):$(id -g) $HOSTNAME; grep CapBnd /proc/self/status; cat /etc/hostname",
        ])
        .ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "1 harbour ahoy /srv/app 65534:65534 harbour");
    // Docker's 14 default capabilities.
    assert_eq!(lines[1], "CapBnd:\t00000000a80425fb");
    assert_eq!(lines[2], "harbour");
    // Without --hostname, the short ID.
    let out = b.run(&["run", "--name", "named", IMAGE, "hostname"]).ok();
    let id = b.inspect("named")["Id"].as_str().unwrap().to_string();
    assert_eq!(out.trim(), &id[..12]);
    assert_eq!(b.inspect("named")["State"]["Status"], "exited");
    b.run(&["rm", "named"]).ok();
}

#[test]
fn bind_mounts_write_to_the_host_and_ro_refuses() {
    let b = Berth::new("eng-bind");
    let host = b.path("shared");
    std::fs::create_dir_all(&host).unwrap();
    let spec = format!("{}:/data", host.display());
    b.run(&[
        "run",
        "--rm",
        "-v",
        &spec,
        IMAGE,
        "sh",
        "-c",
        "echo from-container > /data/f",
    ])
    .ok();
    assert_eq!(
        std::fs::read_to_string(host.join("f")).unwrap(),
        "from-container\n"
    );
    let ro = format!("{}:/data:ro", host.display());
    let r = b.run(&[
        "run",
        "--rm",
        "-v",
        &ro,
        IMAGE,
        "sh",
        "-c",
        "echo x > /data/g",
    ]);
    assert_ne!(r.code(), 0);
    assert!(
        r.stderr().contains("Read-only file system"),
        "{}",
        r.stderr()
    );
    assert!(!host.join("g").exists());
    // A missing host directory is created, as Docker does.
    let fresh = b.path("fresh/dir");
    let spec = format!("{}:/x", fresh.display());
    b.run(&["run", "--rm", "-v", &spec, IMAGE, "true"]).ok();
    assert!(fresh.is_dir());
}

#[test]
fn named_volume_persists_across_containers() {
    let b = Berth::new("eng-vol");
    b.run(&[
        "run",
        "--rm",
        "-v",
        "data:/d",
        IMAGE,
        "sh",
        "-c",
        "echo kept > /d/f",
    ])
    .ok();
    let out = b
        .run(&["run", "--rm", "-v", "data:/d:ro", IMAGE, "cat", "/d/f"])
        .ok();
    assert_eq!(out, "kept\n");
    let ls = b.run(&["volume", "ls", "-q"]).ok();
    assert_eq!(ls, "data\n");
    // In use by a container (even stopped): refused.
    b.run(&["create", "--name", "user", "-v", "data:/d", IMAGE, "true"])
        .ok();
    b.fails_with(&["volume", "rm", "data"], 1, "volume is in use");
    b.run(&["rm", "user"]).ok();
    b.run(&["volume", "rm", "data"]).ok();
    assert_eq!(b.run(&["volume", "ls", "-q"]).ok(), "");
}

#[test]
fn memory_pids_and_cpu_limits_are_seen_inside() {
    let b = Berth::new("eng-limits");
    let v2 = berth_tests::cgroup_v2();
    let (mem, pids, cpu) = if v2 {
        (
            "/sys/fs/cgroup/memory.max",
            "/sys/fs/cgroup/pids.max",
            "/sys/fs/cgroup/cpu.max",
        )
    } else {
        (
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/pids/pids.max",
            "/sys/fs/cgroup/cpu/cpu.cfs_quota_us",
        )
    };
    let script = format!("cat {mem} {pids} {cpu}");
    let out = b
        .run(&[
            "run",
            "--rm",
            "-m",
            "64m",
            "--pids-limit",
            "20",
            "--cpus",
            "0.5",
            IMAGE,
            "sh",
            "-c",
            &script,
        ])
        .ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "67108864");
    assert_eq!(lines[1], "20");
    if v2 {
        assert_eq!(lines[2], "50000 100000");
    } else {
        assert_eq!(lines[2], "50000");
    }
}

#[test]
fn refused_runs_leave_nothing_behind() {
    let b = Berth::new("eng-refuse");
    b.fails_with(
        &["run", "--rm", "-m", "4x", IMAGE, "true"],
        125,
        "invalid argument \"4x\" for \"-m, --memory\" flag",
    );
    b.fails_with(
        &["run", "--rm", "--cpus", "abc", IMAGE, "true"],
        125,
        "invalid argument \"abc\" for \"--cpus\" flag",
    );
    b.fails_with(
        &["run", "--rm", "no-such-image", "true"],
        125,
        "No such image: no-such-image:latest",
    );
    b.run(&["create", "--name", "taken", IMAGE, "true"]).ok();
    b.fails_with(
        &["run", "--name", "taken", IMAGE, "true"],
        125,
        "Conflict. The container name \"/taken\" is already in use",
    );
    assert_eq!(b.ps().len(), 1, "{:?}", b.ps());
    b.run(&["rm", "taken"]).ok();
    assert!(b.ps().is_empty());
    let snaps = std::fs::read_dir(b.root().join("snapshots"))
        .unwrap()
        .count();
    assert_eq!(snaps, 0, "snapshots left behind");
}

#[test]
fn stdin_env_file_hosts_read_only_tmpfs_caps_seccomp_ulimits() {
    let b = Berth::new("eng-opts");
    // -i hands the caller's stdin to the container.
    let mut child = b
        .cmd(&[
            "run",
            "--rm",
            "-i",
            IMAGE,
            "sh",
            "-c",
            "tr a-z A-Z; echo end",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"shout\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "SHOUT\nend\n");

    let env_file = b.path("env.list");
    std::fs::write(&env_file, "A=1\n# comment\n\nB=two\n").unwrap();
    let script = "echo $A $B; grep -w db /etc/hosts; touch /x; touch /scratch/y && echo tmpfs-ok; \
                  grep -E ' /(scratch|dev/shm) ' /proc/mounts | cut -d' ' -f2,4 | sed s/,inode64//; \
                  grep -E 'CapBnd|NoNewPrivs|Seccomp:' /proc/self/status; ulimit -n; ulimit -Hn";
    let r = b.run(&[
        "run",
        "--rm",
        "--env-file",
        env_file.to_str().unwrap(),
        "-e",
        "B=three",
        "--add-host",
        "db:10.1.2.3",
        "--read-only",
        "--tmpfs",
        "/scratch:size=1m",
        "--shm-size",
        "8m",
        "--cap-drop",
        "ALL",
        "--cap-add",
        "CHOWN",
        "--security-opt",
        "no-new-privileges",
        "--ulimit",
        "nofile=100:200",
        IMAGE,
        "sh",
        "-c",
        script,
    ]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert!(
        r.stderr().contains("Read-only file system"),
        "{}",
        r.stderr()
    );
    let out = r.stdout();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "1 three",
            "10.1.2.3\tdb",
            "tmpfs-ok",
            "/dev/shm rw,nosuid,nodev,noexec,relatime,size=8192k",
            "/scratch rw,nosuid,nodev,noexec,relatime,size=1024k",
            "CapBnd:\t0000000000000001",
            "NoNewPrivs:\t1",
            "Seccomp:\t2",
            "100",
            "200",
        ]
    );
    let out = b
        .run(&[
            "run",
            "--rm",
            "--security-opt",
            "seccomp=unconfined",
            IMAGE,
            "grep",
            "Seccomp:",
            "/proc/self/status",
        ])
        .ok();
    assert_eq!(out, "Seccomp:\t0\n");
    b.fails_with(
        &["run", "--rm", "--ulimit", "bogus=1", IMAGE, "true"],
        125,
        "invalid ulimit type: bogus",
    );
    b.fails_with(
        &["run", "--rm", "--cap-add", "NOT_A_CAP", IMAGE, "true"],
        125,
        "invalid capability: NOT_A_CAP",
    );
    assert!(b.ps().is_empty());
}

#[test]
fn image_whiteouts_apply_in_the_container() {
    let b = Berth::new("eng-whiteout");
    b.load_whiteout_image("wh:latest");
    let out = b
        .run(&[
            "run",
            "--rm",
            "wh",
            "sh",
            "-c",
            "ls /etc/gone 2>&1; ls /data/old; cat /data/old/c",
        ])
        .ok();
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].contains("No such file or directory"), "{out}");
    assert_eq!(&lines[1..], ["c", "c"], "{out}");
    // The container's own deletions stay in its upper layer.
    b.run(&["run", "--name", "deleter", "wh", "rm", "/bin/busybox"])
        .ok();
    let again = b.run(&["run", "--rm", "wh", "ls", "/bin/busybox"]).ok();
    assert_eq!(again, "/bin/busybox\n");
}

#[test]
fn volumes_are_seeded_from_the_image_and_anonymous_ones_go_with_rm_v() {
    let b = Berth::new("eng-seed");
    b.import_volume_image("vol:latest");
    // A new named volume gets the image's content at its mount point.
    let out = b
        .run(&[
            "run",
            "--rm",
            "-v",
            "seeded:/seed",
            "vol",
            "sh",
            "-c",
            "cat /seed/link; stat -c %u /seed/file",
        ])
        .ok();
    assert_eq!(out, "from the image\n1000\n");
    let mp = b
        .run(&["volume", "inspect", "-f", "{{.Mountpoint}}", "seeded"])
        .ok();
    assert_eq!(
        std::fs::read_to_string(format!("{}/file", mp.trim())).unwrap(),
        "from the image\n"
    );
    // Not seeded again once it has content.
    b.run(&[
        "run",
        "--rm",
        "-v",
        "seeded:/seed",
        "vol",
        "sh",
        "-c",
        "rm /seed/file; echo mine > /seed/own",
    ])
    .ok();
    let out = b
        .run(&["run", "--rm", "-v", "seeded:/seed", "vol", "ls", "/seed"])
        .ok();
    assert_eq!(out, "link\nown\n");

    // VOLUME makes an anonymous volume, seeded too, removed by rm -v.
    b.run(&["run", "--name", "anon", "vol", "cat", "/seed/file"])
        .ok();
    let mounts = b.inspect("anon")["Mounts"].clone();
    assert_eq!(mounts[0]["Type"], "volume");
    assert_eq!(mounts[0]["Destination"], "/seed");
    let anon = mounts[0]["Name"].as_str().unwrap().to_string();
    assert_eq!(anon.len(), 64);
    assert!(b.run(&["volume", "ls", "-q"]).ok().contains(&anon));
    b.run(&["rm", "-v", "anon"]).ok();
    let left = b.run(&["volume", "ls", "-q"]).ok();
    assert!(!left.contains(&anon), "{left}");
    assert!(left.contains("seeded"));
    // --rm removes the anonymous volume as well.
    b.run(&["run", "--rm", "vol", "true"]).ok();
    b.eventually(10, "the anonymous volume of a --rm run to go", || {
        b.run(&["volume", "ls", "-q"]).ok() == "seeded\n"
    });
}

#[test]
fn oom_kill_fork_bomb_and_more_resources() {
    let b = Berth::new("eng-oom");
    // The OOM killer: 137, and inspect says so.
    let r = b.run(&[
        "run",
        "--name",
        "hog",
        "-m",
        "8m",
        IMAGE,
        "sh",
        "-c",
        "x=$(head -c 64m /dev/zero | tr '\\0' a); echo survived",
    ]);
    assert_eq!(r.code(), 137, "{}", r.stderr());
    assert!(!r.stdout().contains("survived"));
    assert_eq!(b.inspect("hog")["State"]["OOMKilled"], true);
    assert_eq!(b.inspect("hog")["State"]["ExitCode"], 137);

    // A fork bomb stops at --pids-limit.
    let v2 = berth_tests::cgroup_v2();
    let pids_dir = if v2 {
        "/sys/fs/cgroup"
    } else {
        "/sys/fs/cgroup/pids"
    };
    let script = format!(
        "sh -c 'while true; do sleep 5 & done' 2>/dev/null; read n < {pids_dir}/pids.current; echo $n; read e < {pids_dir}/pids.events; echo $e"
    );
    let out = b
        .run(&[
            "run",
            "--rm",
            "--pids-limit",
            "10",
            IMAGE,
            "sh",
            "-c",
            &script,
        ])
        .ok();
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].parse::<u32>().unwrap() <= 10, "{out}");
    assert!(lines[1].starts_with("max ") && lines[1] != "max 0", "{out}");

    // v1 counts memory and swap together, v2 swap alone; v2 has cpu.weight for shares
    // (crun's and runc's line: 512 -> 20).
    let files = if v2 {
        "/sys/fs/cgroup/memory.swap.max /sys/fs/cgroup/cpu.weight /sys/fs/cgroup/cpuset.cpus"
    } else {
        "/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes /sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/cpuset/cpuset.cpus"
    };
    let out = b
        .run(&[
            "run", "--rm", "-m", "64m", "--memory-swap", "128m", "--cpu-shares", "512", "--cpuset-cpus", "0",
            "--sysctl", "kernel.shmmax=1000000", IMAGE, "sh", "-c",
            &format!("cat {files} /proc/sys/kernel/shmmax"),
        ])
        .ok();
    if v2 {
        assert_eq!(out, "67108864\n20\n0\n1000000\n");
    } else {
        assert_eq!(out, "134217728\n512\n0\n1000000\n");
    }
    b.fails_with(
        &["run", "--rm", "--sysctl", "kernel.hostname=x", IMAGE, "true"],
        125,
        "is not in a separate kernel namespace",
    );
    b.fails_with(
        &["run", "--rm", "-m", "64m", "--memory-swap", "32m", IMAGE, "true"],
        125,
        "Minimum memoryswap limit should be larger than memory limit",
    );
}

#[test]
fn host_and_container_namespaces() {
    let b = Berth::new("eng-ns");
    let host_name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let out = b
        .run(&[
            "run",
            "--rm",
            "--pid",
            "host",
            "--uts",
            "host",
            IMAGE,
            "sh",
            "-c",
            "echo $$; hostname",
        ])
        .ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_ne!(lines[0], "1", "a host pid");
    assert_eq!(lines[1], host_name.trim());
    b.run(&["run", "-d", "--name", "owner", IMAGE, "sleep", "100"])
        .ok();
    let out = b
        .run(&[
            "run",
            "--rm",
            "--pid",
            "container:owner",
            "--ipc",
            "container:owner",
            IMAGE,
            "sh",
            "-c",
            "cat /proc/1/cmdline; echo",
        ])
        .ok();
    assert_eq!(out, "sleep\u{0}100\u{0}\n");
    let owner_ipc = std::fs::read_link(format!(
        "/proc/{}/ns/ipc",
        b.inspect("owner")["State"]["Pid"]
    ))
    .unwrap();
    let joined = b
        .run(&[
            "run",
            "--rm",
            "--ipc",
            "container:owner",
            IMAGE,
            "readlink",
            "/proc/self/ns/ipc",
        ])
        .ok();
    assert_eq!(joined.trim(), owner_ipc.to_str().unwrap());
    b.fails_with(
        &["run", "--rm", "--pid", "container:nobody-here", IMAGE, "true"],
        125,
        "No such container: nobody-here",
    );
}

#[test]
fn mount_flag_devices_and_privileged() {
    let b = Berth::new("eng-mountdev");
    let host = b.path("m");
    std::fs::create_dir_all(&host).unwrap();
    let bind = format!("type=bind,source={},target=/m", host.display());
    let out = b
        .run(&[
            "run",
            "--rm",
            "--mount",
            &bind,
            "--mount",
            "type=tmpfs,target=/t,tmpfs-size=2m",
            "--mount",
            "type=volume,source=mv,target=/v",
            IMAGE,
            "sh",
            "-c",
            // sed: some kernels (Debian's 6.1, the v2 guest's) also list tmpfs' inode64.
            "echo x > /m/f; grep ' /t ' /proc/mounts | cut -d' ' -f4 | sed s/,inode64//; echo y > /v/g",
        ])
        .ok();
    assert_eq!(out, "rw,nosuid,nodev,noexec,relatime,size=2048k\n");
    assert_eq!(std::fs::read_to_string(host.join("f")).unwrap(), "x\n");
    assert!(b.run(&["volume", "ls", "-q"]).ok().contains("mv"));
    let r = b.run(&[
        "run",
        "--rm",
        "--mount",
        "type=bind,source=/no/such/dir,target=/m",
        IMAGE,
        "true",
    ]);
    assert_eq!(r.code(), 125);
    assert!(
        r.stderr()
            .contains("bind source path does not exist: /no/such/dir"),
        "{}",
        r.stderr()
    );

    // --device: the node appears and opens; without it the device stays refused.
    // (The runtime allows rwm on every device the config creates, so a narrower
    // permission such as `:r` is not enforced yet.)
    if std::path::Path::new("/dev/fuse").exists() {
        let script = "ls -l /dev/f | cut -c1; exec 3</dev/f && echo read-ok";
        let out = b
            .run(&[
                "run",
                "--rm",
                "--device",
                "/dev/fuse:/dev/f",
                IMAGE,
                "sh",
                "-c",
                script,
            ])
            .ok();
        assert_eq!(out, "c\nread-ok\n");
        let out = b
            .run(&[
                "run",
                "--rm",
                IMAGE,
                "sh",
                "-c",
                "mknod /dev/f c 10 229; (exec 3</dev/f) 2>/dev/null || echo refused",
            ])
            .ok();
        assert_eq!(out, "refused\n");
    }
    b.fails_with(
        &["run", "--rm", "--device", "/etc/passwd", IMAGE, "true"],
        125,
        "error gathering device information while adding custom device \"/etc/passwd\"",
    );

    // --privileged: every capability berth has, no seccomp, the host's devices.
    let own = std::fs::read_to_string("/proc/self/status").unwrap();
    let own_bnd = own
        .lines()
        .find(|l| l.starts_with("CapBnd:"))
        .unwrap()
        .to_string();
    let out = b
        .run(&["run", "--rm", "--privileged", IMAGE, "sh", "-c", "grep -E 'CapBnd|Seccomp:' /proc/self/status; mount -t tmpfs x /tmp && echo mounted; ls /dev/null /dev/fuse 2>/dev/null | wc -l"])
        .ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], own_bnd);
    assert_eq!(lines[1], "Seccomp:\t0");
    assert_eq!(lines[2], "mounted");
    let devs: usize = lines[3].parse().unwrap();
    assert_eq!(
        devs,
        if std::path::Path::new("/dev/fuse").exists() {
            2
        } else {
            1
        }
    );
}

#[test]
fn inspect_finds_any_kind_of_object() {
    let b = Berth::new("eng-inspect-any");
    b.run(&["run", "-d", "--name", "web", IMAGE, "sleep", "100"])
        .ok();
    b.run(&["volume", "create", "data"]).ok();
    b.run(&["volume", "create", "web"]).ok();
    // One array, in the order of the arguments: a container, an image, a network, a
    // volume.
    let out = b.run(&["inspect", "web", IMAGE, "bridge", "data"]).ok();
    let docs: serde_json::Value = serde_json::from_str(&out).unwrap();
    let docs = docs.as_array().unwrap();
    assert_eq!(docs.len(), 4, "{out}");
    assert_eq!(docs[0]["Name"], "/web");
    assert_eq!(docs[0]["State"]["Status"], "running");
    assert!(docs[1]["Id"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(docs[1]["RepoTags"][0], IMAGE);
    assert_eq!(docs[2]["Name"], "bridge");
    assert_eq!(docs[2]["Driver"], "bridge");
    assert_eq!(docs[3]["Name"], "data");
    assert_eq!(docs[3]["Driver"], "local");
    // -f works across kinds.
    assert_eq!(
        b.run(&["inspect", "-f", "{{.Name}}", "web", "bridge", "data"])
            .ok(),
        "/web\nbridge\ndata\n"
    );
    // A container comes before a volume of the same name; --type picks the kind.
    assert_eq!(
        b.run(&["inspect", "-f", "{{.Name}}", "--type", "volume", "web"])
            .ok(),
        "web\n"
    );
    assert_eq!(
        b.run(&["inspect", "-f", "{{.Name}}", "--type", "container", "web"])
            .ok(),
        "/web\n"
    );
    // What is found is printed, what is not is reported after, exit 1.
    let r = b.run(&["inspect", "web", "nope", "data"]);
    assert_eq!(r.code(), 1);
    let docs: serde_json::Value = serde_json::from_str(&r.stdout()).unwrap();
    assert_eq!(docs.as_array().unwrap().len(), 2);
    assert_eq!(r.stderr(), "Error: No such object: nope\n");
    let r = b.run(&["inspect", "--type", "image", "web"]);
    assert_eq!(r.code(), 1);
    assert_eq!(r.stdout().trim(), "[]");
    assert_eq!(r.stderr(), "Error: No such image: web\n");
    let r = b.run(&["inspect", "--type", "bogus", "web"]);
    assert_eq!(r.code(), 1);
    assert!(r.stderr().starts_with("unknown type: \"bogus\""), "{}", r.stderr());
    // The per-kind commands are as they were.
    b.fails_with(&["container", "inspect", "data"], 1, "No such container: data");
    let r = b.run(&["image", "inspect", "-f", "{{.Id}}", IMAGE]);
    assert!(r.ok().starts_with("sha256:"));
}

#[test]
fn run_rm_of_a_process_that_ends_at_once() {
    let b = Berth::new("eng-rm-fast");
    // The monitor may remove the container before `run` has read its record back:
    // the exit code still comes through.
    for _ in 0..15 {
        let r = b.run(&["run", "--rm", "--network", "none", IMAGE, "sh", "-c", "exit 3"]);
        assert_eq!(r.code(), 3, "stderr: {}", r.stderr());
        assert_eq!(r.stderr(), "");
        let r = b.run(&["run", "--rm", "--network", "none", IMAGE, "no-such-command"]);
        assert_eq!(r.code(), 127, "stderr: {}", r.stderr());
    }
    assert!(b.ps().is_empty(), "{:?}", b.ps());
}
