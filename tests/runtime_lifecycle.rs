//! berth-runtime end to end: real containers from a busybox bundle, checked from
//! inside (what the process sees) and from the host (state, cgroups, leftovers).

use std::path::Path;

use berth_tests::{Bundle, Runtime, cgroup_leftovers, is_root};

fn need_root() {
    assert!(is_root(), "the runtime tests create namespaces and cgroups: run them as root");
}

#[test]
fn run_is_pid_1_with_own_hostname_and_exit_code() {
    need_root();
    let rt = Runtime::new();
    let b = Bundle::new(&["sh", "-c", "echo pid=$$; hostname; exit 7"]);
    b.edit(|c| c["hostname"] = "inside".into());
    let id = rt.id("run");
    let r = rt.run(&["run", "--bundle", b.path().to_str().unwrap(), &id]);
    assert_eq!(r.code(), 7, "stderr: {}", r.stderr());
    assert_eq!(r.stdout(), "pid=1\ninside\n");
    assert!(!rt.root().join(&id).exists(), "run must delete the container on exit");
    assert!(cgroup_leftovers(&id).is_empty(), "{:?}", cgroup_leftovers(&id));
}

#[test]
fn killed_process_exits_128_plus_signal() {
    need_root();
    let rt = Runtime::new();
    // Without a pid namespace the shell is not an init, which would be immune to
    // its own SIGKILL.
    let b = Bundle::new(&["sh", "-c", "kill -9 $$"]);
    b.edit(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .retain(|n| n["type"] != "pid");
    });
    let id = rt.id("sig");
    let r = rt.run(&["run", "-b", b.path().to_str().unwrap(), &id]);
    assert_eq!(r.code(), 137, "stderr: {}", r.stderr());
}

#[test]
fn command_not_found_fails_create() {
    need_root();
    let rt = Runtime::new();
    let b = Bundle::new(&["no-such-command"]);
    let id = rt.id("nf");
    let err = rt.run(&["run", "-b", b.path().to_str().unwrap(), &id]).fails();
    assert!(err.contains("executable file not found in $PATH"), "{err}");
    assert!(!rt.root().join(&id).exists());
    assert!(cgroup_leftovers(&id).is_empty());
}

#[test]
fn create_start_state_kill_delete_follow_the_spec() {
    need_root();
    let rt = Runtime::new();
    let b = Bundle::new(&["sh", "-c", "echo started > /dev/shm/x; exec sleep 60"]);
    let id = rt.id("life");
    let bundle = b.path().to_str().unwrap();
    let pidfile = rt.root().join("pid");
    let (r, _log) = rt.detached(
        &["create", "-b", bundle, "--pid-file", pidfile.to_str().unwrap(), &id],
        "create",
    );
    r.ok();
    let st = rt.state(&id);
    assert_eq!(st["status"], "created");
    assert_eq!(st["id"], id.as_str());
    let pid = st["pid"].as_i64().unwrap();
    assert!(pid > 0);
    assert_eq!(std::fs::read_to_string(&pidfile).unwrap(), pid.to_string());
    assert_eq!(
        Path::new(st["bundle"].as_str().unwrap()),
        b.path().canonicalize().unwrap()
    );
    // Before start the user's program has not run: init is still berth-runtime.
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_ne!(comm.trim(), "sleep");

    let err = rt.run(&["delete", "--force", "nonexistent-berth-id"]);
    err.ok();
    rt.run(&["start", &id]).ok();
    rt.wait_status(&id, "running");
    let err = rt.run(&["start", &id]).fails();
    assert!(err.contains("already running"), "{err}");
    let err = rt.run(&["delete", &id]).fails();
    assert!(err.contains("not stopped"), "{err}");
    // The list shows it.
    let list = rt.run(&["list", "-f", "json"]).ok();
    assert!(list.contains(&id), "{list}");

    rt.run(&["kill", &id, "KILL"]).ok();
    rt.wait_status(&id, "stopped");
    assert_eq!(rt.state(&id)["pid"], 0);
    let err = rt.run(&["kill", &id]).fails();
    assert!(err.contains("not running"), "{err}");
    rt.run(&["delete", &id]).ok();
    let err = rt.run(&["state", &id]).fails();
    assert!(err.contains("does not exist"), "{err}");
    assert!(!rt.root().join(&id).exists());
    assert!(cgroup_leftovers(&id).is_empty(), "{:?}", cgroup_leftovers(&id));
}

#[test]
fn created_container_can_be_deleted_without_force() {
    need_root();
    let rt = Runtime::new();
    let b = Bundle::new(&["true"]);
    let id = rt.id("cdel");
    rt.detached(&["create", "-b", b.path().to_str().unwrap(), &id], "create").0.ok();
    let pid = rt.state(&id)["pid"].as_i64().unwrap();
    rt.run(&["delete", &id]).ok();
    assert!(!rt.root().join(&id).exists());
    assert!(cgroup_leftovers(&id).is_empty());
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(stat.is_empty() || stat.contains(") Z"), "init still alive: {stat}");
}

#[test]
fn exec_joins_the_running_container() {
    need_root();
    let rt = Runtime::new();
    let b = Bundle::new(&["sleep", "60"]);
    b.edit(|c| c["hostname"] = "shared".into());
    let id = rt.id("exec");
    rt.detached(&["run", "-d", "-b", b.path().to_str().unwrap(), &id], "run").0.ok();
    rt.wait_status(&id, "running");
    let r = rt.run(&[
        "exec", "-e", "GREETING=hi", &id, "sh", "-c",
        "echo $GREETING; hostname; cat /proc/1/comm; exit 3",
    ]);
    assert_eq!(r.code(), 3, "{}", r.stderr());
    assert_eq!(r.stdout(), "hi\nshared\nsleep\n");
    let pids = rt.run(&["ps", "-f", "json", &id]).ok();
    let pids: Vec<i64> = serde_json::from_str(&pids).unwrap();
    assert_eq!(pids, vec![rt.state(&id)["pid"].as_i64().unwrap()]);
    let err = rt.run(&["exec", &id, "no-such-thing"]).fails();
    assert!(err.contains("not found"), "{err}");
    rt.run(&["delete", "--force", &id]).ok();
    assert!(cgroup_leftovers(&id).is_empty());
}

#[test]
fn default_spec_isolates_like_runc() {
    need_root();
    let rt = Runtime::new();
    let b = Bundle::new(&[
        "sh",
        "-c",
        "touch /rootfs-write 2>/dev/null && echo root-writable; \
         echo 1 > /proc/sys/vm/overcommit_memory 2>/dev/null && echo sys-writable; \
         wc -c < /proc/timer_list; grep -c . /proc/net/dev; \
         grep CapEff /proc/self/status; grep NoNewPrivs /proc/self/status; ls /dev | tr '\\n' ' '",
    ]);
    let id = rt.id("iso");
    let out = rt.run(&["run", "-b", b.path().to_str().unwrap(), &id]).ok();
    let lines: Vec<&str> = out.lines().collect();
    assert!(!out.contains("root-writable"), "{out}");
    assert!(!out.contains("sys-writable"), "{out}");
    assert_eq!(lines[0].trim(), "0", "timer_list must be masked: {out}");
    // A new network namespace has only lo: two header lines plus lo.
    assert_eq!(lines[1].trim(), "3", "{out}");
    // CAP_AUDIT_WRITE, CAP_KILL, CAP_NET_BIND_SERVICE = bits 29, 5, 10.
    assert!(lines[2].ends_with("0000000020000420"), "{out}");
    assert!(lines[3].ends_with('1'), "{out}");
    for dev in ["null", "zero", "full", "random", "urandom", "tty", "pts", "ptmx", "shm", "fd", "stdin"] {
        assert!(lines[4].split(' ').any(|d| d == dev), "/dev lacks {dev}: {}", lines[4]);
    }
}

#[test]
fn user_namespace_maps_ids() {
    need_root();
    let rt = Runtime::new();
    let b = Bundle::new(&["sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u"]);
    b.edit(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"type": "user"}));
        c["linux"]["uidMappings"] =
            serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        c["linux"]["gidMappings"] =
            serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    });
    let id = rt.id("userns");
    let out = rt.run(&["run", "-b", b.path().to_str().unwrap(), &id]).ok();
    let words: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(words, ["0", "100000", "65536", "0", "100000", "65536", "0"], "{out}");
}

#[test]
fn time_namespace_offsets_shift_the_clock() {
    need_root();
    let rt = Runtime::new();
    let b = Bundle::new(&["cat", "/proc/uptime"]);
    b.edit(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"type": "time"}));
        c["linux"]["timeOffsets"] = serde_json::json!({"boottime": {"secs": 1000000}});
    });
    let id = rt.id("timens");
    let out = rt.run(&["run", "-b", b.path().to_str().unwrap(), &id]).ok();
    let up: f64 = out.split_whitespace().next().unwrap().parse().unwrap();
    assert!(up > 1_000_000.0, "uptime {up}");
}

#[test]
fn joins_a_namespace_by_path() {
    need_root();
    let rt = Runtime::new();
    let a = Bundle::new(&["sleep", "60"]);
    let ida = rt.id("nsa");
    rt.detached(&["run", "-d", "-b", a.path().to_str().unwrap(), &ida], "a").0.ok();
    let pid = rt.state(&ida)["pid"].as_i64().unwrap();
    let want = std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap();
    let b = Bundle::new(&["readlink", "/proc/self/ns/net"]);
    b.edit(|c| {
        for ns in c["linux"]["namespaces"].as_array_mut().unwrap() {
            if ns["type"] == "network" {
                ns["path"] = format!("/proc/{pid}/ns/net").into();
            }
        }
    });
    let idb = rt.id("nsb");
    let out = rt.run(&["run", "-b", b.path().to_str().unwrap(), &idb]).ok();
    assert_eq!(out.trim(), want.to_str().unwrap());
    rt.run(&["delete", "-f", &ida]).ok();
}

#[test]
fn pause_and_resume_freeze_the_container() {
    need_root();
    let rt = Runtime::new();
    let b = Bundle::new(&["sleep", "60"]);
    let id = rt.id("pause");
    rt.detached(&["run", "-d", "-b", b.path().to_str().unwrap(), &id], "run").0.ok();
    rt.run(&["pause", &id]).ok();
    assert_eq!(rt.state(&id)["status"], "paused");
    let pid = rt.state(&id)["pid"].as_i64().unwrap();
    let st = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // A frozen task sleeps in the freezer: state D (v1) or S (v2), never R.
    assert!(!st.contains(") R"), "{st}");
    let err = rt.run(&["exec", &id, "true"]).fails();
    assert!(err.contains("paused"), "{err}");
    rt.run(&["resume", &id]).ok();
    assert_eq!(rt.state(&id)["status"], "running");
    rt.run(&["delete", "-f", &id]).ok();
    assert!(cgroup_leftovers(&id).is_empty());
}

#[test]
fn explain_traces_the_kernel_steps() {
    need_root();
    let rt = Runtime::new();
    let b = Bundle::new(&["true"]);
    let id = rt.id("explain");
    let r = rt.run(&["--explain", "run", "-b", b.path().to_str().unwrap(), &id]);
    r.ok();
    let trace = r.stderr();
    for step in ["unshare CLONE_NEWNS", "mount proc on /proc", "pivot_root", "sethostname", "capset", "execve /bin/true"] {
        assert!(trace.contains(step), "trace lacks {step:?}:\n{trace}");
    }
    // Into the cgroup: born there on pure v2, moved there elsewhere.
    let into = if berth_tests::cgroup_v2() { "CLONE_INTO_CGROUP" } else { "cgroup.procs" };
    assert!(trace.contains(into), "trace lacks {into:?}:\n{trace}");
    // The order is the order of events: namespaces before pivot_root before exec.
    let pos = |s: &str| trace.find(s).unwrap();
    assert!(pos("unshare") < pos("pivot_root") && pos("pivot_root") < pos("execve"));
}

#[test]
fn bad_input_is_a_clear_error_and_leaves_nothing() {
    need_root();
    let rt = Runtime::new();
    let check = |b: &Bundle, want: &str| {
        let id = rt.id("bad");
        let err = rt.run(&["run", "-b", b.path().to_str().unwrap(), &id]).fails();
        assert!(err.contains(want), "want {want:?} in: {err}");
        assert!(!rt.root().join(&id).exists(), "state left for {id}");
        assert!(cgroup_leftovers(&id).is_empty(), "cgroups left: {:?}", cgroup_leftovers(&id));
    };
    let b = Bundle::new(&["true"]);
    std::fs::remove_file(b.path().join("config.json")).unwrap();
    check(&b, "config.json");

    let b = Bundle::new(&["true"]);
    std::fs::write(b.path().join("config.json"), "{ not json").unwrap();
    check(&b, "not a valid OCI config");

    let b = Bundle::new(&["true"]);
    b.edit(|c| c["root"]["path"] = "no-such-rootfs".into());
    check(&b, "no-such-rootfs");

    let b = Bundle::new(&["true"]);
    b.edit(|c| c["linux"]["namespaces"] = serde_json::json!([{"type": "bogus"}]));
    check(&b, "not a valid OCI config");

    // cfs_quota below the kernel's 1 ms minimum.
    let b = Bundle::new(&["true"]);
    b.edit(|c| c["linux"]["resources"]["cpu"] = serde_json::json!({"quota": 500, "period": 100000}));
    check(&b, "500");

    // An id in use: the second create fails, the first container is untouched.
    let b = Bundle::new(&["sleep", "60"]);
    let id = rt.id("dup");
    rt.detached(&["run", "-d", "-b", b.path().to_str().unwrap(), &id], "dup").0.ok();
    let err = rt.run(&["run", "-b", b.path().to_str().unwrap(), &id]).fails();
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(rt.state(&id)["status"], "running");
    rt.run(&["delete", "-f", &id]).ok();
}

#[test]
fn foreground_run_with_terminal_proxies_the_pty() {
    need_root();
    let rt = Runtime::new();
    // runc's default process: an interactive shell on a terminal.
    let b = Bundle::new(&["sh"]);
    b.edit(|c| c["process"]["terminal"] = true.into());
    let id = rt.id("pty");
    let mut child = rt
        .cmd()
        .args(["run", "-b", b.path().to_str().unwrap(), &id])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"tty; exit 3\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{text} {}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("/dev/pts/0"), "{text}");
}

#[test]
fn console_socket_receives_the_pty_master() {
    need_root();
    use std::os::fd::{AsRawFd, FromRawFd};
    let rt = Runtime::new();
    let b = Bundle::new(&["sh", "-c", "tty; echo from-container"]);
    b.edit(|c| c["process"]["terminal"] = true.into());
    let id = rt.id("csock");
    let sock = rt.root().join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let create = rt
        .cmd()
        .args(["create", "-b", b.path().to_str().unwrap(), "--console-socket"])
        .arg(&sock)
        .arg(&id)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (conn, _) = listener.accept().unwrap();
    // Receive one descriptor with SCM_RIGHTS.
    // SAFETY: the buffers outlive recvmsg; CMSG_* walk the control buffer it filled.
    let master = unsafe {
        let mut buf = [0u8; 256];
        let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
        let mut cbuf = [0u8; 64];
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = cbuf.len();
        assert!(libc::recvmsg(conn.as_raw_fd(), &mut msg, 0) >= 0);
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        assert!(!cmsg.is_null() && (*cmsg).cmsg_type == libc::SCM_RIGHTS);
        std::fs::File::from_raw_fd(*(libc::CMSG_DATA(cmsg) as *const i32))
    };
    let out = create.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // A pty master is a terminal.
    // SAFETY: isatty only inspects the descriptor.
    assert_eq!(unsafe { libc::isatty(master.as_raw_fd()) }, 1);
    rt.run(&["start", &id]).ok();
    let mut text = String::new();
    let mut buf = [0u8; 1024];
    let mut m = master;
    use std::io::Read;
    while !text.contains("from-container") {
        match m.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => text.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    assert!(text.contains("/dev/pts/0") && text.contains("from-container"), "{text}");
}

#[test]
fn process_settings_reach_the_process() {
    need_root();
    let rt = Runtime::new();
    let b = Bundle::new(&[
        "sh",
        "-c",
        "id -u; id -g; id -G; ulimit -n; cat /proc/self/oom_score_adj; umask; \
         ls /proc/self/fd | tr '\\n' ' '; echo",
    ]);
    b.edit(|c| {
        c["process"]["user"] = serde_json::json!({"uid": 1000, "gid": 1001, "additionalGids": [5, 7], "umask": 63});
        c["process"]["rlimits"] = serde_json::json!([{"type": "RLIMIT_NOFILE", "hard": 512, "soft": 256}]);
        c["process"]["oomScoreAdj"] = 123.into();
    });
    let id = rt.id("proc");
    // fd 3 is passed with --preserve-fds 1; fd 4 must not be.
    let f3 = std::fs::File::open("/dev/null").unwrap();
    let f4 = std::fs::File::open("/dev/null").unwrap();
    use std::os::fd::AsRawFd;
    let (a, b3) = (f3.as_raw_fd(), f4.as_raw_fd());
    let mut cmd = rt.cmd();
    cmd.args(["run", "--preserve-fds", "1", "-b", b.path().to_str().unwrap(), &id]);
    // SAFETY: dup2 between descriptors this test owns, in the child before exec.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
            if libc::dup2(a, 3) < 0 || libc::dup2(b3, 4) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            // dup2 onto itself keeps close-on-exec: clear it on both explicitly.
            for fd in [3, 4] {
                if libc::fcntl(fd, libc::F_SETFD, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let out = berth_tests::run(&mut cmd).ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "1000", "{out}");
    assert_eq!(lines[1], "1001", "{out}");
    let groups: Vec<&str> = lines[2].split_whitespace().collect();
    assert!(groups.contains(&"5") && groups.contains(&"7"), "{out}");
    assert_eq!(lines[3], "256", "{out}");
    assert_eq!(lines[4], "123", "{out}");
    assert_eq!(lines[5], "0077", "{out}");
    // 0-2 stdio, 3 preserved, 4 is ls's own directory handle (the caller's 4 is gone).
    assert_eq!(lines[6].trim(), "0 1 2 3 4", "{out}");
}

#[test]
fn kill_all_exec_process_file_and_update_from_json() {
    need_root();
    let rt = Runtime::new();
    let b = Bundle::new(&["sh", "-c", "sleep 60 & sleep 60 & wait"]);
    // No pid namespace: killing init does not take the others with it.
    b.edit(|c| {
        c["linux"]["namespaces"].as_array_mut().unwrap().retain(|n| n["type"] != "pid");
    });
    let id = rt.id("killall");
    rt.detached(&["run", "-d", "-b", b.path().to_str().unwrap(), &id], "run").0.ok();
    // exec --process with a process JSON file.
    let pfile = rt.root().join("process.json");
    std::fs::write(
        &pfile,
        serde_json::json!({"args": ["sh", "-c", "echo from-json $X"], "env": ["X=1", "PATH=/bin"],
            "cwd": "/", "user": {"uid": 0, "gid": 0}})
        .to_string(),
    )
    .unwrap();
    let out = rt.run(&["exec", "--process", pfile.to_str().unwrap(), &id]).ok();
    assert_eq!(out, "from-json 1\n");
    // update -r with a resources JSON file.
    let rfile = rt.root().join("res.json");
    std::fs::write(&rfile, r#"{"pids": {"limit": 42}}"#).unwrap();
    rt.run(&["update", "-r", rfile.to_str().unwrap(), &id]).ok();
    let pids_max = berth_tests::cgroup_dir("pids", &format!("/{id}")).join("pids.max");
    assert_eq!(std::fs::read_to_string(pids_max).unwrap().trim(), "42");
    // Three processes in the cgroup; kill --all takes every one.
    let pids: Vec<i64> = serde_json::from_str(&rt.run(&["ps", "-f", "json", &id]).ok()).unwrap();
    assert_eq!(pids.len(), 3, "{pids:?}");
    rt.run(&["kill", "--all", &id, "KILL"]).ok();
    rt.wait_status(&id, "stopped");
    for _ in 0..100 {
        if pids.iter().all(|p| !std::path::Path::new(&format!("/proc/{p}")).exists()
            || std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default().contains(") Z"))
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    for p in &pids {
        let st = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
        assert!(st.is_empty() || st.contains(") Z"), "pid {p} survived kill --all: {st}");
    }
    rt.run(&["delete", &id]).ok();
}

#[test]
fn scheduling_affinity_io_priority_and_personality() {
    need_root();
    let rt = Runtime::new();
    let b = Bundle::new(&[
        "sh",
        "-c",
        "grep Cpus_allowed_list /proc/self/status; grep '^policy' /proc/self/sched; \
         ionice -p $$; uname -m",
    ]);
    b.edit(|c| {
        c["process"]["execCPUAffinity"] = serde_json::json!({"final": "0"});
        c["process"]["scheduler"] = serde_json::json!({"policy": "SCHED_BATCH"});
        c["process"]["ioPriority"] = serde_json::json!({"class": "IOPRIO_CLASS_BE", "priority": 6});
        c["linux"]["personality"] = serde_json::json!({"domain": "LINUX32"});
    });
    let id = rt.id("sched");
    let out = rt.run(&["run", "-b", b.path().to_str().unwrap(), &id]).ok();
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].ends_with("\t0"), "{out}");
    assert!(lines[1].ends_with(" 3"), "SCHED_BATCH is policy 3: {out}");
    assert!(lines[2].contains("best-effort") && lines[2].contains('6'), "{out}");
    assert_eq!(lines[3], "i686", "{out}");
}

#[test]
fn debug_log_is_json_when_asked_and_errors_are_logged() {
    need_root();
    let rt = Runtime::new();
    let b = Bundle::new(&["true"]);
    let log = rt.root().join("runtime.log");
    let id = rt.id("dbg");
    let l = log.to_str().unwrap();
    rt.run(&["--debug", "--log", l, "--log-format", "json", "run", "-b", b.path().to_str().unwrap(), &id]).ok();
    // An error is logged too, as the engines that read this file expect.
    rt.run(&["--log", l, "--log-format", "json", "state", "no-such-container"]).fails();
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(lines.iter().any(|l| l["level"] == "debug" && l["msg"].as_str().unwrap().contains("pivot_root")));
    let last = lines.last().unwrap();
    assert_eq!(last["level"], "error");
    assert!(last["msg"].as_str().unwrap().contains("does not exist"), "{last}");
}

#[test]
fn runcs_own_default_spec_runs_the_same_under_both_runtimes() {
    need_root();
    let b = Bundle::new(&["true"]);
    std::fs::remove_file(b.path().join("config.json")).unwrap();
    berth_tests::run(std::process::Command::new("runc").arg("spec").current_dir(b.path())).ok();
    b.edit(|c| {
        c["process"]["terminal"] = false.into();
        c["process"]["args"] = serde_json::json!(["sh", "-c",
            "echo pid=$$; hostname; id; grep -E '^(Cap|NoNewPrivs|Seccomp)' /proc/self/status; \
             ulimit -n; ls /dev | tr '\\n' ' '; echo; cat /proc/self/mountinfo | cut -d' ' -f5,6,9 | sort; \
             wc -c < /proc/kcore; exit 3"]);
    });
    let rt = Runtime::new();
    let ours = rt.run(&["run", "-b", b.path().to_str().unwrap(), &rt.id("vsrunc")]);
    assert_eq!(ours.code(), 3, "{}", ours.stderr());
    let runc_root = berth_tests::TestDir::new("runc");
    let theirs = berth_tests::run(
        std::process::Command::new("runc")
            .arg("--root")
            .arg(runc_root.path())
            .args(["run", "-b", b.path().to_str().unwrap(), &berth_tests::unique("runc")]),
    );
    assert_eq!(theirs.code(), 3, "{}", theirs.stderr());
    // One known difference: berth keeps the tmpfs under /sys/fs/cgroup read-only as the
    // config's "ro" asks; runc 1.1 leaves that tmpfs writable.
    let norm = |s: String| {
        s.lines()
            .filter(|l| !l.starts_with("/sys/fs/cgroup ro,") && !l.starts_with("/sys/fs/cgroup rw,"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(norm(ours.stdout()), norm(theirs.stdout()));
}

#[test]
fn systemd_cgroup_paths_and_no_pivot() {
    need_root();
    let rt = Runtime::new();
    let b = Bundle::new(&["sh", "-c", "cat /proc/self/cgroup | grep -c berthtest-"]);
    let id = rt.id("sd");
    let scope = format!("berthtest-{id}.scope");
    b.edit(|c| c["linux"]["cgroupsPath"] = format!("berthtest.slice:berthtest:{id}").into());
    let r = rt.run(&["--explain", "--systemd-cgroup", "run", "--no-pivot", "-b", b.path().to_str().unwrap(), &id]);
    let lines: usize = r.ok().trim().parse().unwrap();
    // --no-pivot really switched the root without pivot_root.
    let trace = r.stderr();
    assert!(!trace.contains("pivot_root"), "{trace}");
    assert!(trace.contains("chroot"), "{trace}");
    assert!(lines >= 1, "the process was not in berthtest.slice/{scope}");
    // The container ran in /berthtest.slice/berthtest-<id>.scope, and it is gone now.
    let dir = berth_tests::cgroup_dir("pids", &format!("/berthtest.slice/{scope}"));
    assert!(!dir.exists(), "{} left behind", dir.display());
    // The slice the runtime created for it may stay (runc leaves it too); remove it.
    let _ = std::fs::remove_dir(dir.parent().unwrap());
    for leftover in berth_tests::cgroup_leftovers("berthtest.slice") {
        let _ = std::fs::remove_dir(&leftover);
    }
}

#[test]
fn tmpcopyup_fills_a_tmpfs_with_what_it_covers() {
    need_root();
    let rt = Runtime::new();
    let b = Bundle::new(&["sh", "-c", "cat /etc/greeting; ls -l /etc/link | cut -d'>' -f2; \
        stat -c '%a %u' /etc/sub; touch /etc/new && echo writable; grep ' /etc ' /proc/self/mountinfo | cut -d' ' -f9"]);
    std::fs::write(b.path().join("rootfs/etc/greeting"), "hello\n").unwrap();
    std::os::unix::fs::symlink("greeting", b.path().join("rootfs/etc/link")).unwrap();
    std::fs::create_dir(b.path().join("rootfs/etc/sub")).unwrap();
    std::fs::set_permissions(b.path().join("rootfs/etc/sub"), std::os::unix::fs::PermissionsExt::from_mode(0o710)).unwrap();
    std::os::unix::fs::chown(b.path().join("rootfs/etc/sub"), Some(42), Some(42)).unwrap();
    // podman's --tmpfs: a tmpfs on a read-only root, seeded from the image.
    b.edit(|c| {
        c["mounts"].as_array_mut().unwrap().push(serde_json::json!(
            {"destination": "/etc", "type": "tmpfs", "source": "tmpfs", "options": ["rw", "tmpcopyup", "mode=755"]}));
    });
    let id = rt.id("copyup");
    let out = rt.run(&["run", "-b", b.path().to_str().unwrap(), &id]).ok();
    assert_eq!(out, "hello\n greeting\n710 42\nwritable\ntmpfs\n");
    // The image itself is untouched.
    assert!(!b.path().join("rootfs/etc/new").exists());
}

#[test]
fn exec_keeps_the_configs_oom_score_adj() {
    need_root();
    let rt = Runtime::new();
    let b = Bundle::new(&["sleep", "60"]);
    b.edit(|c| c["process"]["oomScoreAdj"] = 321.into());
    let id = rt.id("oomexec");
    rt.detached(&["run", "-d", "-b", b.path().to_str().unwrap(), &id], "run").0.ok();
    let out = rt.run(&["exec", &id, "cat", "/proc/self/oom_score_adj"]).ok();
    assert_eq!(out, "321\n");
    rt.run(&["delete", "-f", &id]).ok();
}

#[test]
fn a_create_killed_midway_leaves_a_record_delete_force_cleans() {
    need_root();
    let rt = Runtime::new();
    let b = Bundle::new(&["true"]);
    // A prestart hook that takes its time gives us the moment to kill create.
    b.edit(|c| {
        c["hooks"] = serde_json::json!({"prestart": [{"path": berth_tests::busybox(), "args": ["sh", "-c", "sleep 1"]}]});
    });
    let id = rt.id("killed");
    let mut create = rt
        .cmd()
        .args(["create", "-b", b.path().to_str().unwrap(), &id])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the record exists, then kill the runtime in the middle of create.
    for _ in 0..500 {
        if rt.root().join(&id).join("state.json").exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    std::thread::sleep(std::time::Duration::from_millis(100));
    create.kill().unwrap();
    create.wait().unwrap();
    let st = rt.state(&id);
    assert_eq!(st["status"], "creating", "{st}");
    assert_eq!(st["pid"], 0);
    let err = rt.run(&["delete", &id]).fails();
    assert!(err.contains("not stopped: creating"), "{err}");
    assert!(rt.run(&["kill", &id, "KILL"]).fails().contains("being created"));
    rt.run(&["delete", "--force", &id]).ok();
    assert!(!rt.root().join(&id).exists());
    assert!(cgroup_leftovers(&id).is_empty(), "{:?}", cgroup_leftovers(&id));
}
