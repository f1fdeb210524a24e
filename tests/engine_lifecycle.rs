//! Detached containers end to end: `run -d`, `ps`, `logs`, `exec`, `stop`, `kill`,
//! `wait`, `start` again, `rm`; the monitor keeping a container running and its log
//! flowing after the CLI that started it is killed; parallel runs keeping names
//! unique.

#[path = "engine_support.rs"]
mod engine_support;

use std::io::Read;
use std::process::Stdio;
use std::time::Duration;

use engine_support::{Berth, IMAGE};

const TICKER: &str =
    "trap 'echo bye; exit 0' TERM; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done";

fn log_lines(b: &Berth, name: &str) -> usize {
    b.run(&["logs", name])
        .ok()
        .lines()
        .filter(|l| l.starts_with("tick"))
        .count()
}

#[test]
fn detached_container_ps_logs_exec_stop_rm() {
    let b = Berth::new("eng-life");
    let id = b
        .run(&["run", "-d", "--name", "ticker", IMAGE, "sh", "-c", TICKER])
        .ok();
    let id = id.trim().to_string();
    assert_eq!(id.len(), 64, "run -d prints the ID: {id:?}");

    // ps shows it running, in Docker's table.
    let table = b.run(&["ps"]).ok();
    let mut lines = table.lines();
    let header = lines.next().unwrap();
    for col in [
        "CONTAINER ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "PORTS",
        "NAMES",
    ] {
        assert!(header.contains(col), "{header}");
    }
    let row = lines.next().expect("one running container");
    assert!(
        row.starts_with(&id[..12]) && row.contains("Up ") && row.trim_end().ends_with("ticker"),
        "{row}"
    );
    assert!(row.contains(IMAGE.trim_end_matches(":latest")), "{row}");
    assert_eq!(b.run(&["ps", "-q"]).ok().trim(), &id[..12]);

    // logs shows its output, also with --tail and -t.
    b.eventually(10, "three ticks in the log", || {
        log_lines(&b, "ticker") >= 3
    });
    let tail = b.run(&["logs", "--tail", "1", "ticker"]).ok();
    assert_eq!(tail.lines().count(), 1, "{tail}");
    let stamped = b.run(&["logs", "-t", "--tail", "1", "ticker"]).ok();
    let (ts, text) = stamped.trim_end().split_once(' ').unwrap();
    assert!(ts.ends_with('Z') && ts.len() == 30, "{ts}");
    assert!(text.starts_with("tick"), "{text}");
    let json_log = b.root().join(format!("containers/{id}/{id}-json.log"));
    let first: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(&json_log)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(first["log"], "tick 0\n");
    assert_eq!(first["stream"], "stdout");

    // exec runs in its namespaces and returns its code.
    let r = b.run(&[
        "exec",
        "ticker",
        "sh",
        "-c",
        "cat /proc/1/cmdline | tr '\\0' ' '; echo; hostname; exit 3",
    ]);
    assert_eq!(r.code(), 3, "{}", r.stderr());
    assert!(r.stdout().starts_with("sh -c trap"), "{}", r.stdout());
    assert_eq!(r.stdout().lines().nth(1), Some(&id[..12]));
    let r = b.run(&["exec", "ticker", "nope"]);
    assert_eq!(r.code(), 127, "{}", r.stderr());

    // stop: SIGTERM, the trap exits 0.
    b.run(&["stop", "ticker"]).ok();
    let rows = b.ps();
    assert_eq!(rows.len(), 1);
    assert!(rows[0].contains("exited|Exited (0) "), "{rows:?}");
    assert_eq!(b.run(&["ps", "-q"]).ok(), "", "ps without -a hides it");
    assert!(b.run(&["logs", "ticker"]).ok().ends_with("bye\n"));
    let doc = b.inspect("ticker");
    assert_eq!(doc["State"]["Status"], "exited");
    assert_eq!(doc["State"]["ExitCode"], 0);
    assert_eq!(doc["Name"], "/ticker");
    assert!(
        b.mounts().is_empty(),
        "a stopped container's root is unmounted: {:?}",
        b.mounts()
    );
    b.fails_with(&["exec", "ticker", "true"], 1, "is not running");

    // start again, kill, wait.
    b.run(&["start", "ticker"]).ok();
    assert!(b.ps()[0].contains("running|Up"), "{:?}", b.ps());
    let mut waiter = b
        .cmd(&["wait", "ticker"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    b.run(&["kill", "ticker"]).ok();
    let mut out = String::new();
    waiter
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(waiter.wait().unwrap().success());
    assert_eq!(out, "137\n");
    assert!(b.ps()[0].contains("Exited (137)"), "{:?}", b.ps());

    // rm refuses a running container without -f.
    b.run(&["start", "ticker"]).ok();
    b.fails_with(
        &["rm", "ticker"],
        1,
        "container is running: stop the container before removing or force remove",
    );
    b.run(&["rm", "-f", "ticker"]).ok();
    assert!(b.ps().is_empty());
    assert!(!b.root().join("containers").join(&id).exists());
    assert!(b.mounts().is_empty(), "{:?}", b.mounts());
    b.fails_with(&["rm", "ticker"], 1, "No such container: ticker");
}

#[test]
fn container_outlives_a_killed_cli() {
    let b = Berth::new("eng-survive");
    // A foreground run whose CLI is then killed: the monitor keeps the container
    // and its log going.
    let mut cli = b
        .cmd(&["run", "--name", "survivor", IMAGE, "sh", "-c", TICKER])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = [0u8; 6];
    cli.stdout.as_mut().unwrap().read_exact(&mut first).unwrap();
    assert_eq!(&first, b"tick 0");
    cli.kill().unwrap();
    cli.wait().unwrap();
    drop(cli);
    let before = log_lines(&b, "survivor");
    std::thread::sleep(Duration::from_millis(600));
    assert!(b.ps()[0].contains("running|Up"), "{:?}", b.ps());
    b.eventually(10, "the log to keep growing", || {
        log_lines(&b, "survivor") > before + 2
    });

    // The same for run -d: the CLI is long gone, the monitor is not its child.
    b.run(&[
        "run",
        "-d",
        "--name",
        "daemonised",
        IMAGE,
        "sh",
        "-c",
        TICKER,
    ])
    .ok();
    let doc = b.inspect("daemonised");
    let monitor_ppid = std::fs::read_to_string(format!("/proc/{}/stat", doc["State"]["Pid"]))
        .map(|s| {
            s.rsplit(')')
                .next()
                .unwrap()
                .split(' ')
                .nth(2)
                .unwrap()
                .to_string()
        })
        .unwrap();
    // The init's parent is the monitor, in a session of its own.
    let sid = std::fs::read_to_string(format!("/proc/{monitor_ppid}/stat")).unwrap();
    let fields: Vec<&str> = sid.rsplit(')').next().unwrap().split(' ').collect();
    assert_eq!(
        fields[4], monitor_ppid,
        "the monitor leads its own session: {sid}"
    );
    b.run(&["rm", "-f", "survivor", "daemonised"]).ok();
    assert!(b.ps().is_empty());
}

#[test]
fn parallel_runs_keep_names_unique_and_state_whole() {
    let b = Berth::new("eng-parallel");
    let handles: Vec<_> = (0..6)
        .map(|i| {
            let name = if i % 2 == 0 {
                "same".to_string()
            } else {
                format!("p{i}")
            };
            b.cmd(&["run", "-d", "--name", &name, IMAGE, "sleep", "30"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let codes: Vec<i32> = handles
        .into_iter()
        .map(|h| h.wait_with_output().unwrap().status.code().unwrap())
        .collect();
    assert_eq!(
        codes.iter().filter(|c| **c == 0).count(),
        4,
        "one 'same' and three p*: {codes:?}"
    );
    assert_eq!(codes.iter().filter(|c| **c == 125).count(), 2, "{codes:?}");
    let rows = b.ps();
    assert_eq!(rows.len(), 4, "{rows:?}");
    // rm in parallel.
    let ids: Vec<String> = rows
        .iter()
        .map(|r| r.split(' ').next().unwrap().to_string())
        .collect();
    let rms: Vec<_> = ids
        .iter()
        .map(|id| {
            b.cmd(&["rm", "-f", id])
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut h in rms {
        assert!(h.wait().unwrap().success());
    }
    b.assert_nothing_left();
}

#[test]
fn restart_policies_and_log_rotation() {
    let b = Berth::new("eng-restart");
    // on-failure:2 — the first run and two restarts, then it stays exited.
    b.run(&[
        "run",
        "-d",
        "--name",
        "flaky",
        "--restart",
        "on-failure:2",
        IMAGE,
        "sh",
        "-c",
        "echo run; exit 3",
    ])
    .ok();
    b.eventually(15, "two restarts and an exit", || {
        let d = b.inspect("flaky");
        d["RestartCount"] == 2 && d["State"]["Status"] == "exited"
    });
    assert_eq!(b.inspect("flaky")["State"]["ExitCode"], 3);
    assert_eq!(b.run(&["logs", "flaky"]).ok(), "run\nrun\nrun\n");
    assert_eq!(
        b.inspect("flaky")["HostConfig"]["RestartPolicy"]["Name"],
        "on-failure"
    );

    // always — restarted until a user stops it, and then no more.
    b.run(&[
        "run",
        "-d",
        "--name",
        "forever",
        "--restart",
        "always",
        IMAGE,
        "sh",
        "-c",
        "sleep 0.1",
    ])
    .ok();
    b.eventually(15, "a restart", || {
        b.inspect("forever")["RestartCount"].as_u64() >= Some(1)
    });
    b.run(&["stop", "forever"]).ok();
    let count = b.inspect("forever")["RestartCount"].clone();
    assert_eq!(b.inspect("forever")["State"]["Status"], "exited");
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(b.inspect("forever")["RestartCount"], count);
    assert_eq!(b.inspect("forever")["State"]["Status"], "exited");

    b.fails_with(
        &["run", "--restart", "sometimes", IMAGE, "true"],
        125,
        "invalid restart policy: sometimes",
    );
    b.fails_with(
        &["run", "--rm", "--restart", "always", IMAGE, "true"],
        125,
        "Conflicting options: --restart and --rm",
    );

    // Rotation: at most max-file files of about max-size each; logs reads them all.
    b.run(&[
        "run",
        "--name",
        "chatty",
        "--log-opt",
        "max-size=1k",
        "--log-opt",
        "max-file=3",
        IMAGE,
        "sh",
        "-c",
        "i=0; while [ $i -lt 200 ]; do echo line $i; i=$((i+1)); done",
    ])
    .ok();
    let id = b.inspect("chatty")["Id"].as_str().unwrap().to_string();
    let dir = b.root().join("containers").join(&id);
    let logs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("-json.log"))
        .map(|e| e.metadata().unwrap().len())
        .collect();
    assert_eq!(logs.len(), 3, "{logs:?}");
    assert!(logs.iter().all(|l| *l < 1200), "{logs:?}");
    let out = b.run(&["logs", "chatty"]).ok();
    assert!(out.ends_with("line 199\n"), "{out}");
    let nums: Vec<u32> = out.lines().map(|l| l[5..].parse().unwrap()).collect();
    assert!(
        nums.windows(2).all(|w| w[1] == w[0] + 1),
        "lines in order across files: {nums:?}"
    );
    assert!(nums.len() < 200, "old lines were rotated away");
}

#[test]
fn pause_rename_top_restart_and_ps_filters() {
    let b = Berth::new("eng-manage");
    let counter = "while true; do echo x; sleep 0.05; done";
    b.run(&[
        "run", "-d", "--name", "frozen", "-l", "tier=web", IMAGE, "sh", "-c", counter,
    ])
    .ok();
    b.run(&["run", "--name", "done3", IMAGE, "sh", "-c", "exit 3"])
        .fails();
    b.eventually(10, "output", || !b.run(&["logs", "frozen"]).ok().is_empty());

    // pause freezes it: no output while paused; ps and inspect say so.
    b.run(&["pause", "frozen"]).ok();
    assert!(
        b.ps()
            .iter()
            .any(|r| r.contains("frozen paused|Up") && r.ends_with("(Paused)")),
        "{:?}",
        b.ps()
    );
    assert_eq!(b.inspect("frozen")["State"]["Paused"], true);
    let n = b.run(&["logs", "frozen"]).ok().lines().count();
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(
        b.run(&["logs", "frozen"]).ok().lines().count(),
        n,
        "no output while frozen"
    );
    assert_eq!(b.run(&["pause", "frozen"]).code(), 1);
    b.run(&["unpause", "frozen"]).ok();
    b.eventually(10, "output again", || {
        b.run(&["logs", "frozen"]).ok().lines().count() > n
    });

    // filters
    let names = |f: &[&str]| {
        let mut args = vec!["ps", "-a", "--format", "{{.Names}}"];
        for x in f {
            args.push("-f");
            args.push(x);
        }
        b.run(&args).ok()
    };
    assert_eq!(names(&["status=running"]), "frozen\n");
    assert_eq!(names(&["exited=3"]), "done3\n");
    assert_eq!(names(&["label=tier=web"]), "frozen\n");
    assert_eq!(names(&["name=done"]), "done3\n");
    assert_eq!(
        names(&["status=exited", "status=running"]).lines().count(),
        2
    );
    assert_eq!(names(&["ancestor=bb"]).lines().count(), 2);
    assert_eq!(b.run(&["ps", "-f", "bogus=1"]).code(), 1);

    // rename, top, restart
    b.run(&["rename", "frozen", "thawed"]).ok();
    assert_eq!(b.inspect("thawed")["Name"], "/thawed");
    b.fails_with(&["rename", "thawed", "done3"], 1, "is already in use");
    let top = b.run(&["top", "thawed"]).ok();
    assert!(top.lines().next().unwrap().contains("PID"), "{top}");
    assert!(top.contains("sh -c while true"), "{top}");
    let pid_before = b.inspect("thawed")["State"]["Pid"].clone();
    b.run(&["restart", "-t", "1", "thawed"]).ok();
    let doc = b.inspect("thawed");
    assert_eq!(doc["State"]["Status"], "running");
    assert_ne!(doc["State"]["Pid"], pid_before);
    // stop and kill of a paused container work (it is thawed for the signal).
    b.run(&["pause", "thawed"]).ok();
    b.run(&["kill", "thawed"]).ok();
    b.eventually(10, "the kill to land", || {
        b.inspect("thawed")["State"]["Status"] == "exited"
    });
    assert_eq!(b.inspect("thawed")["State"]["ExitCode"], 137);
}

fn kill9(pid: i64) {
    // SAFETY: kill has no memory preconditions; the pid is a process this test started.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
}

#[test]
fn state_is_reconciled_after_a_simulated_reboot_and_a_killed_cli() {
    let b = Berth::new("eng-reboot");
    b.run(&["run", "-d", "--name", "before", IMAGE, "sleep", "1000"])
        .ok();
    let (init, monitor) = init_and_monitor(&b, "before");
    // A reboot: every process gone, runtime state and mounts cleared.
    kill9(monitor);
    kill9(init);
    b.eventually(10, "the processes to die", || {
        !std::path::Path::new(&format!("/proc/{init}")).exists()
    });
    std::fs::remove_dir_all(b.path("state")).unwrap();
    berth_tests::unmount_below(&b.root().join("containers"));
    // berth trusts what runs, not its files: the container is exited (255).
    let rows = b.ps();
    assert_eq!(rows.len(), 1);
    assert!(rows[0].contains("exited|Exited (255)"), "{rows:?}");
    // It starts again and removes cleanly.
    b.run(&["start", "before"]).ok();
    assert!(b.ps()[0].contains("running|Up"), "{:?}", b.ps());
    assert_eq!(b.run(&["exec", "before", "echo", "alive"]).ok(), "alive\n");
    b.run(&["rm", "-f", "before"]).ok();
    assert!(b.ps().is_empty());

    // The CLI killed in the middle of `run -d`: whatever it left, the next
    // commands understand it and rm cleans it.
    for delay_ms in [0u64, 5, 20, 60] {
        kill_cli_after(&b, &["run", "-d", "--name", "interrupted", IMAGE, "sleep", "1000"], delay_ms);
        finish_with_rm(&b, "interrupted");
    }
    std::thread::sleep(Duration::from_millis(300));
    b.assert_nothing_left();
}

#[test]
fn terminals() {
    let b = Berth::new("eng-tty");
    // -t: the process's stdio is a pty inside the container; TERM is set.
    let r = b.run(&[
        "run",
        "--rm",
        "-t",
        IMAGE,
        "sh",
        "-c",
        "tty; echo $TERM; exit 4",
    ]);
    assert_eq!(r.code(), 4, "{}", r.stderr());
    assert_eq!(r.stdout(), "/dev/pts/0\r\nxterm\r\n");
    // -it from a terminal (script(1) gives us one): input reaches the container, the
    // pty has the terminal's size.
    let cmd = format!(
        "stty cols 100 rows 30; {} --root {} --state {} run --rm -it {IMAGE} sh -c 'stty size; read x; echo got $x'",
        berth_tests::bin("berth").display(),
        b.root().display(),
        b.path("state").display()
    );
    let mut script = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env("BERTH_CGROUP_PARENT", format!("/{}", b.cgroup_parent))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("script(1) from util-linux");
    use std::io::Write;
    let mut input = script.stdin.take().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    input.write_all(b"hello\n").unwrap();
    let out = script.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("30 100\r\n"), "{text:?}");
    assert!(text.contains("got hello\r\n"), "{text:?}");
    drop(input);
    // -it without a terminal on stdin: Docker's refusal.
    b.fails_with(&["run", "--rm", "-it", IMAGE, "true"], 1, "the input device is not a TTY");
    // -dit keeps a shell running on its pty.
    b.run(&["run", "-dit", "--name", "shell", IMAGE, "sh"]).ok();
    std::thread::sleep(Duration::from_millis(300));
    assert!(b.ps()[0].contains("running|Up"), "{:?}", b.ps());
    assert_eq!(
        b.run(&["exec", "shell", "readlink", "/proc/1/fd/0"]).ok(),
        "/dev/pts/0\n"
    );
}

#[test]
fn stats_and_prune() {
    let b = Berth::new("eng-stats");
    b.run(&[
        "run",
        "-d",
        "--name",
        "spinner",
        "-m",
        "64m",
        IMAGE,
        "sh",
        "-c",
        "while true; do :; done",
    ])
    .ok();
    b.run(&["create", "--name", "never-started", IMAGE, "true"])
        .ok();
    b.run(&["run", "--name", "finished", IMAGE, "true"]).ok();
    let out = b.run(&["stats", "--no-stream"]).ok();
    let mut lines = out.lines();
    let header = lines.next().unwrap();
    for col in [
        "CONTAINER ID",
        "NAME",
        "CPU %",
        "MEM USAGE / LIMIT",
        "MEM %",
        "NET I/O",
        "BLOCK I/O",
        "PIDS",
    ] {
        assert!(header.contains(col), "{header}");
    }
    let row = lines.next().unwrap();
    assert!(lines.next().is_none(), "only the running one: {out}");
    assert!(row.contains("spinner") && row.contains(" / 64MiB"), "{row}");
    let cpu: f64 = row
        .split_whitespace()
        .nth(2)
        .unwrap()
        .trim_end_matches('%')
        .parse()
        .unwrap();
    assert!(cpu > 5.0, "a busy loop uses CPU: {row}");
    assert_eq!(
        b.run(&["stats", "--no-stream", "-a"]).ok().lines().count(),
        4
    );

    let out = b.run(&["container", "prune", "-f"]).ok();
    assert!(out.starts_with("Deleted Containers:\n"), "{out}");
    assert_eq!(out.lines().count(), 3, "{out}");
    let rows = b.ps();
    assert_eq!(rows.len(), 1);
    assert!(rows[0].contains("spinner"), "{rows:?}");
}

#[test]
fn start_attached_logs_since_until_and_volume_prune() {
    let b = Berth::new("eng-attach");
    b.run(&[
        "create",
        "--name",
        "later",
        IMAGE,
        "sh",
        "-c",
        "echo out; echo err >&2; exit 5",
    ])
    .ok();
    let r = b.run(&["start", "-a", "later"]);
    assert_eq!(r.code(), 5);
    assert_eq!(r.stdout(), "out\n");
    assert_eq!(r.stderr(), "err\n");
    // -i hands stdin over.
    b.run(&[
        "create",
        "-i",
        "--name",
        "reader",
        IMAGE,
        "sh",
        "-c",
        "read x; echo got $x",
    ])
    .ok();
    let mut child = b
        .cmd(&["start", "-ai", "reader"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"line\n").unwrap();
    assert_eq!(
        String::from_utf8_lossy(&child.wait_with_output().unwrap().stdout),
        "got line\n"
    );

    // --since / --until select by the entries' times.
    b.run(&[
        "run",
        "--name",
        "slow",
        IMAGE,
        "sh",
        "-c",
        "echo first; sleep 1.2; echo second",
    ])
    .ok();
    let log = b.run(&["logs", "-t", "slow"]).ok();
    let second_time = log
        .lines()
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(
        b.run(&["logs", "--since", &second_time, "slow"]).ok(),
        "second\n"
    );
    assert_eq!(
        b.run(&["logs", "--until", &second_time, "slow"]).ok(),
        "first\nsecond\n"
    );
    assert_eq!(
        b.run(&["logs", "--since", "1h", "slow"]).ok(),
        "first\nsecond\n"
    );
    assert_eq!(
        b.run(&[
            "logs",
            "--since",
            "2000-01-01T00:00:00Z",
            "--until",
            "2000-01-02T00:00:00Z",
            "slow"
        ])
        .ok(),
        ""
    );
    assert_eq!(b.run(&["logs", "--since", "whenever", "slow"]).code(), 1);

    // volume prune: unused anonymous volumes by default, every unused one with -a.
    b.run(&["volume", "create", "named"]).ok();
    b.run(&["volume", "create", "kept"]).ok();
    b.run(&[
        "create",
        "--name",
        "holder",
        "-v",
        "kept:/k",
        "--mount",
        "type=volume,target=/anon",
        IMAGE,
        "true",
    ])
    .ok();
    b.run(&[
        "run",
        "--name",
        "gone",
        "--mount",
        "type=volume,target=/anon2",
        IMAGE,
        "true",
    ])
    .ok();
    b.run(&["rm", "gone"]).ok();
    let out = b.run(&["volume", "prune", "-f"]).ok();
    assert!(out.starts_with("Deleted Volumes:\n"), "{out}");
    assert_eq!(
        out.lines().filter(|l| l.len() == 64).count(),
        1,
        "only the unused anonymous one: {out}"
    );
    let left = b.run(&["volume", "ls", "-q"]).ok();
    assert!(left.contains("named") && left.contains("kept"), "{left}");
    let out = b.run(&["volume", "prune", "-f", "-a"]).ok();
    assert!(out.contains("named\n") && !out.contains("kept"), "{out}");
}

#[test]
fn diff_and_export() {
    let b = Berth::new("eng-diff");
    b.run(&[
        "run",
        "--name",
        "changer",
        IMAGE,
        "sh",
        "-c",
        "echo x > /etc/new; rm /bin/cat; mkdir -p /srv/a; echo y > /srv/a/f; echo z >> /etc/passwd",
    ])
    .ok();
    assert_eq!(
        b.run(&["diff", "changer"]).ok(),
        "C /bin\nD /bin/cat\nC /etc\nA /etc/new\nC /etc/passwd\nA /srv\nA /srv/a\nA /srv/a/f\n"
    );
    // export of a stopped container mounts its root just for the stream.
    let out = b.path("changer.tar");
    b.run(&["export", "-o", out.to_str().unwrap(), "changer"])
        .ok();
    assert!(b.mounts().is_empty(), "{:?}", b.mounts());
    let mut ar = tar::Archive::new(std::fs::File::open(&out).unwrap());
    let mut names = Vec::new();
    let mut passwd = String::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let p = e
            .path()
            .unwrap()
            .to_string_lossy()
            .trim_start_matches("./")
            .to_string();
        if p == "etc/passwd" {
            use std::io::Read;
            e.read_to_string(&mut passwd).unwrap();
        }
        names.push(p);
    }
    assert!(
        names.iter().any(|n| n == "srv/a/f") && names.iter().any(|n| n == "bin/busybox"),
        "{names:?}"
    );
    assert!(
        !names.iter().any(|n| n == "bin/cat"),
        "deleted files are not exported"
    );
    assert!(passwd.ends_with("z\n"), "{passwd}");
    // of a running one too, through its mounted root.
    b.run(&["run", "-d", "--name", "live", IMAGE, "sleep", "100"])
        .ok();
    let r = b.run(&["export", "live"]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert!(r.out.stdout.len() > 1_000_000, "busybox is in the stream");
}

#[test]
fn cp_both_ways_stays_inside_the_root() {
    let b = Berth::new("eng-cp");
    b.run(&[
        "run",
        "-d",
        "--name",
        "box",
        IMAGE,
        "sh",
        "-c",
        "mkdir -p /data/sub && echo inside > /data/sub/f && ln -s f /data/sub/l && sleep 100",
    ])
    .ok();
    b.eventually(10, "the files", || {
        b.run(&["exec", "box", "ls", "/data/sub/l"]).code() == 0
    });
    // out: a directory with a file and a symlink (kept a symlink).
    let out = b.path("out");
    std::fs::create_dir_all(&out).unwrap();
    b.run(&["cp", "box:/data", out.to_str().unwrap()]).ok();
    assert_eq!(
        std::fs::read_to_string(out.join("data/sub/f")).unwrap(),
        "inside\n"
    );
    assert_eq!(
        std::fs::read_link(out.join("data/sub/l")).unwrap().to_str(),
        Some("f")
    );
    // in: a file, into an existing directory and to a new name.
    let host_file = b.path("host.txt");
    std::fs::write(&host_file, "from host\n").unwrap();
    b.run(&["cp", host_file.to_str().unwrap(), "box:/data"])
        .ok();
    b.run(&["cp", host_file.to_str().unwrap(), "box:/data/renamed"])
        .ok();
    assert_eq!(
        b.run(&["exec", "box", "cat", "/data/host.txt", "/data/renamed"])
            .ok(),
        "from host\nfrom host\n"
    );

    // A symlink planted in the container never takes a copy out of its root.
    let victim = b.path("victim");
    std::fs::create_dir_all(&victim).unwrap();
    b.run(&[
        "exec",
        "box",
        "ln",
        "-s",
        victim.to_str().unwrap(),
        "/escape",
    ])
    .ok();
    b.run(&[
        "exec",
        "box",
        "ln",
        "-s",
        victim.join("planted").to_str().unwrap(),
        "/data/planted",
    ])
    .ok();
    b.run(&["cp", host_file.to_str().unwrap(), "box:/escape/x"])
        .fails();
    let r = b.run(&["cp", host_file.to_str().unwrap(), "box:/data/planted"]);
    assert!(
        std::fs::read_dir(&victim).unwrap().next().is_none(),
        "nothing written on the host: {}",
        r.stderr()
    );
    // Copied out, the planted link stays a link: the host directory it names is
    // never read through it.
    std::fs::write(victim.join("secret"), "host only").unwrap();
    b.run(&["cp", "box:/escape", out.join("e").to_str().unwrap()])
        .ok();
    assert!(
        std::fs::symlink_metadata(out.join("e"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    // And a path through it resolves inside the container, where it does not exist.
    assert_eq!(
        b.run(&["cp", "box:/escape/secret", out.join("s").to_str().unwrap()])
            .code(),
        1
    );
    assert!(!out.join("s").exists());
    b.fails_with(
        &["cp", "box:/no/such", out.to_str().unwrap()],
        1,
        "Could not find the file /no/such in container box",
    );

    // A stopped container: its root is mounted for the copy, then unmounted.
    b.run(&["stop", "-t", "0", "box"]).ok();
    b.run(&[
        "cp",
        "box:/data/renamed",
        out.join("after").to_str().unwrap(),
    ])
    .ok();
    assert_eq!(
        std::fs::read_to_string(out.join("after")).unwrap(),
        "from host\n"
    );
    assert!(b.mounts().is_empty(), "{:?}", b.mounts());
}

#[test]
fn update_changes_live_limits_and_the_record() {
    let b = Berth::new("eng-update");
    b.run(&["run", "-d", "--name", "tuned", IMAGE, "sleep", "100"])
        .ok();
    b.run(&[
        "update",
        "-m",
        "32m",
        "--pids-limit",
        "7",
        "--restart",
        "on-failure:3",
        "tuned",
    ])
    .ok();
    let (mem, pids) = if berth_tests::cgroup_v2() {
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/pids.max")
    } else {
        (
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/pids/pids.max",
        )
    };
    assert_eq!(
        b.run(&["exec", "tuned", "cat", mem, pids]).ok(),
        "33554432\n7\n"
    );
    let doc = b.inspect("tuned");
    assert_eq!(doc["HostConfig"]["Memory"], 33554432);
    assert_eq!(doc["HostConfig"]["PidsLimit"], 7);
    assert_eq!(doc["HostConfig"]["RestartPolicy"]["Name"], "on-failure");
    assert_eq!(doc["HostConfig"]["RestartPolicy"]["MaximumRetryCount"], 3);
    // A stopped container takes the new limits when it starts again.
    b.run(&["stop", "-t", "0", "tuned"]).ok();
    b.run(&["update", "--pids-limit", "9", "tuned"]).ok();
    b.run(&["start", "tuned"]).ok();
    assert_eq!(b.run(&["exec", "tuned", "cat", pids]).ok(), "9\n");
}

#[test]
fn health_checks() {
    let b = Berth::new("eng-health");
    b.run(&[
        "run",
        "-d",
        "--name",
        "checked",
        "--health-cmd",
        "test -f /tmp/ok && echo fine",
        "--health-interval",
        "100ms",
        "--health-retries",
        "2",
        IMAGE,
        "sh",
        "-c",
        "sleep 0.5; touch /tmp/ok; sleep 100",
    ])
    .ok();
    assert_eq!(
        b.inspect("checked")["Config"]["Healthcheck"]["Test"],
        serde_json::json!(["CMD-SHELL", "test -f /tmp/ok && echo fine"])
    );
    b.eventually(15, "healthy", || {
        b.inspect("checked")["State"]["Health"]["Status"] == "healthy"
    });
    let doc = b.inspect("checked");
    let last = doc["State"]["Health"]["Log"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["ExitCode"], 0);
    assert_eq!(last["Output"], "fine\n");
    assert!(
        b.run(&["ps", "--format", "{{.Status}}"])
            .ok()
            .contains("(healthy)")
    );
    b.run(&["exec", "checked", "rm", "/tmp/ok"]).ok();
    b.eventually(15, "unhealthy", || {
        b.inspect("checked")["State"]["Health"]["Status"] == "unhealthy"
    });
    assert!(
        b.inspect("checked")["State"]["Health"]["FailingStreak"]
            .as_u64()
            .unwrap()
            >= 2
    );
    assert!(
        b.run(&["ps", "--format", "{{.Status}}"])
            .ok()
            .contains("(unhealthy)")
    );

    // A check that overruns its timeout fails.
    b.run(&[
        "run",
        "-d",
        "--name",
        "slowcheck",
        "--health-cmd",
        "sleep 5",
        "--health-interval",
        "100ms",
        "--health-timeout",
        "200ms",
        "--health-retries",
        "1",
        IMAGE,
        "sleep",
        "100",
    ])
    .ok();
    b.eventually(15, "a timed-out check", || {
        b.inspect("slowcheck")["State"]["Health"]["Status"] == "unhealthy"
    });
    let log = b.inspect("slowcheck")["State"]["Health"]["Log"][0].clone();
    assert_eq!(log["ExitCode"], -1);
    assert!(
        log["Output"].as_str().unwrap().contains("exceeded timeout"),
        "{log}"
    );
    b.fails_with(
        &["run", "--rm", "--health-interval", "soon", IMAGE, "true"],
        125,
        "invalid argument \"soon\" for \"--health-interval\" flag",
    );
}

#[test]
fn ps_size_counts_the_containers_own_files() {
    let b = Berth::new("eng-size");
    b.run(&[
        "run",
        "--name",
        "writer",
        IMAGE,
        "sh",
        "-c",
        "head -c 2000000 /dev/zero > /big",
    ])
    .ok();
    let out = b
        .run(&["ps", "-a", "-s", "--format", "{{.Names}} {{.Size}}"])
        .ok();
    assert!(out.starts_with("writer 2MB (virtual "), "{out}");
    let table = b.run(&["ps", "-a", "-s"]).ok();
    assert!(
        table.lines().next().unwrap().trim_end().ends_with("SIZE"),
        "{table}"
    );
}

#[test]
fn commit_makes_an_image_of_the_changes() {
    let b = Berth::new("eng-commit");
    b.run(&[
        "run",
        "--name",
        "maker",
        "-e",
        "STAGE=built",
        "-w",
        "/srv",
        IMAGE,
        "sh",
        "-c",
        "echo committed > /srv/f; rm /bin/rm",
    ])
    .ok();
    let id = b
        .run(&["commit", "-m", "my change", "-a", "me", "maker", "made:v1"])
        .ok();
    assert!(id.starts_with("sha256:") && id.trim().len() == 71, "{id}");
    let out = b
        .run(&[
            "run",
            "--rm",
            "made:v1",
            "sh",
            "-c",
            "cat f; pwd; echo $STAGE; test -e /bin/rm || echo no-rm",
        ])
        .ok();
    assert_eq!(out, "committed\n/srv\nbuilt\nno-rm\n");
    let doc: serde_json::Value =
        serde_json::from_str(&b.run(&["image", "inspect", "made:v1"]).ok()).unwrap();
    assert_eq!(doc[0]["Author"], "me");
    assert_eq!(doc[0]["Comment"], "my change");
    assert_eq!(doc[0]["RootFS"]["Layers"].as_array().unwrap().len(), 2);
    // A running container is paused for the commit and resumes after it.
    b.run(&[
        "run",
        "-d",
        "--name",
        "live",
        IMAGE,
        "sh",
        "-c",
        "echo live > /state; sleep 100",
    ])
    .ok();
    b.eventually(10, "the file", || {
        b.run(&["exec", "live", "cat", "/state"]).code() == 0
    });
    b.run(&["commit", "live", "made:live"]).ok();
    assert_eq!(b.inspect("live")["State"]["Status"], "running");
    assert_eq!(
        b.run(&["run", "--rm", "made:live", "cat", "/state"]).ok(),
        "live\n"
    );
}

#[test]
fn attach_streams_input_output_and_detaches() {
    let b = Berth::new("eng-attach2");
    let echo =
        "while read l; do echo \"out:$l\"; echo \"err:$l\" >&2; [ \"$l\" = quit ] && exit 3; done";
    b.run(&[
        "run", "-d", "-i", "--name", "echoer", IMAGE, "sh", "-c", echo,
    ])
    .ok();
    let mut child = b
        .cmd(&["attach", "echoer"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    let mut input = child.stdin.take().unwrap();
    input.write_all(b"one\n").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let _ = input.write_all(b"quit\n");
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "the container's exit code: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out:one\nout:quit\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err:one\nerr:quit\n");
    drop(input);
    assert!(b.ps()[0].contains("Exited (3)"), "{:?}", b.ps());
    let r = b.run(&["attach", "echoer"]);
    assert_eq!(r.code(), 1);
    assert!(
        r.stderr()
            .contains("You cannot attach to a stopped container"),
        "{}",
        r.stderr()
    );

    // On a terminal: the detach keys leave it running.
    b.run(&["run", "-dit", "--name", "term", IMAGE, "sh"]).ok();
    let cmd = format!(
        "{} --root {} --state {} attach term",
        berth_tests::bin("berth").display(),
        b.root().display(),
        b.path("state").display()
    );
    let mut script = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut tin = script.stdin.take().unwrap();
    std::thread::sleep(Duration::from_millis(400));
    tin.write_all(b"echo hi-$((6*7))\n").unwrap();
    std::thread::sleep(Duration::from_millis(400));
    tin.write_all(b"\x10\x11").unwrap();
    let out = script.wait_with_output().unwrap();
    drop(tin);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("hi-42"),
        "{:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        b.ps().iter().any(|r| r.contains("term running|Up")),
        "{:?}",
        b.ps()
    );
}

#[test]
fn logs_follow_and_kill_with_a_signal() {
    let b = Berth::new("eng-follow");
    b.run(&[
        "run",
        "-d",
        "--name",
        "talker",
        IMAGE,
        "sh",
        "-c",
        "for i in 1 2 3; do echo line $i; sleep 0.3; done",
    ])
    .ok();
    // -f returns once the container has exited, with everything it printed.
    let r = b.run(&["logs", "-f", "talker"]);
    assert_eq!(r.ok(), "line 1\nline 2\nline 3\n");
    assert!(b.ps()[0].contains("Exited (0)"), "{:?}", b.ps());

    // kill -s delivers the signal named; the trap decides the exit code.
    b.run(&[
        "run",
        "-d",
        "--name",
        "trapper",
        IMAGE,
        "sh",
        "-c",
        "trap 'echo got-usr1; exit 42' USR1; while true; do sleep 0.1; done",
    ])
    .ok();
    std::thread::sleep(Duration::from_millis(300));
    b.run(&["kill", "-s", "USR1", "trapper"]).ok();
    assert_eq!(b.run(&["wait", "trapper"]).ok(), "42\n");
    assert_eq!(b.run(&["logs", "trapper"]).ok(), "got-usr1\n");
    b.fails_with(&["kill", "trapper"], 1, "is not running");
    b.fails_with(&["kill", "-s", "NOPE", "talker"], 1, "Invalid signal: NOPE");
}

#[test]
fn exec_detached_with_a_terminal() {
    let b = Berth::new("eng-exec-dt");
    b.run(&["run", "-d", "--name", "host", IMAGE, "sleep", "1000"])
        .ok();
    // exec -d -t returns at once with 0; the process has a pty and is not hung up
    // when the CLI is gone.
    let started = std::time::Instant::now();
    let r = b.run(&[
        "exec",
        "-d",
        "-t",
        "host",
        "sh",
        "-c",
        "tty > /tty.txt; echo $TERM > /term.txt; sleep 2; echo done > /done.txt",
    ]);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert_eq!(r.stdout(), "");
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "exec -d returned only after {:?}",
        started.elapsed()
    );
    b.eventually(10, "the detached process to write its tty", || {
        b.run(&["exec", "host", "cat", "/tty.txt"])
            .stdout()
            .starts_with("/dev/pts/")
    });
    assert_eq!(b.run(&["exec", "host", "cat", "/term.txt"]).ok(), "xterm\n");
    b.eventually(10, "the detached process to finish", || {
        b.run(&["exec", "host", "cat", "/done.txt"]).stdout() == "done\n"
    });
    // The container still runs and stops as usual.
    assert_eq!(b.inspect("host")["State"]["Status"], "running");
    b.run(&["stop", "-t", "1", "host"]).ok();
}

#[test]
fn commit_with_changes_author_and_message() {
    let b = Berth::new("eng-commit-c");
    b.run(&[
        "run",
        "--name",
        "src",
        "-e",
        "FROM_RUN=1",
        IMAGE,
        "sh",
        "-c",
        "echo x > /x",
    ])
    .ok();
    let id = b
        .run(&[
            "commit",
            "-c",
            r#"CMD ["echo","hi"]"#,
            "-c",
            "ENV A=b",
            "--change",
            "EXPOSE 8080",
            "-c",
            "LABEL team=core",
            "-c",
            "WORKDIR /w",
            "-a",
            "Ann <ann@example.com>",
            "-m",
            "with changes",
            "src",
            "changed:v1",
        ])
        .ok();
    assert!(id.starts_with("sha256:"), "{id}");
    // The new defaults: the command prints hi; the container's env and the change's.
    assert_eq!(b.run(&["run", "--rm", "changed:v1"]).ok(), "hi\n");
    assert_eq!(
        b.run(&[
            "run",
            "--rm",
            "changed:v1",
            "sh",
            "-c",
            "echo $A $FROM_RUN; pwd; cat /x"
        ])
        .ok(),
        "b 1\n/w\nx\n"
    );
    let doc: serde_json::Value =
        serde_json::from_str(&b.run(&["image", "inspect", "changed:v1"]).ok()).unwrap();
    let cfg = &doc[0]["Config"];
    assert_eq!(cfg["Cmd"], serde_json::json!(["echo", "hi"]));
    let env: Vec<&str> = cfg["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        env.contains(&"A=b") && env.contains(&"FROM_RUN=1") && env.contains(&"PATH=/bin:/usr/bin"),
        "{env:?}"
    );
    assert!(cfg["ExposedPorts"].get("8080/tcp").is_some(), "{cfg}");
    assert_eq!(cfg["Labels"]["team"], "core");
    assert_eq!(cfg["WorkingDir"], "/w");
    assert_eq!(doc[0]["Author"], "Ann <ann@example.com>");
    assert_eq!(doc[0]["Comment"], "with changes");
    // history shows the message on the new layer.
    let hist = b
        .run(&["history", "--format", "{{.Comment}}", "changed:v1"])
        .ok();
    assert_eq!(hist.lines().next(), Some("with changes"), "{hist}");
    // An instruction commit does not take: refused, nothing made.
    let images = b.run(&["images", "-q"]).ok();
    b.fails_with(&["commit", "-c", "RUN true", "src", "bad:v1"], 1, "not a valid change command");
    assert_eq!(b.run(&["images", "-q"]).ok(), images);
    // The container itself is unchanged and runs as before.
    b.run(&["start", "src"]).ok();
}

/// The host pids of a running container's init and its monitor (the init's parent).
fn init_and_monitor(b: &Berth, name: &str) -> (i64, i64) {
    let init = b.inspect(name)["State"]["Pid"].as_i64().unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{init}/stat")).unwrap();
    let monitor: i64 = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split(' ')
        .nth(2)
        .unwrap()
        .parse()
        .unwrap();
    (init, monitor)
}

/// A simulated reboot of `names` (running containers of this test): their monitors
/// and processes killed, the state directory wiped, the root mounts gone.
fn simulated_reboot(b: &Berth, names: &[&str]) {
    let pids: Vec<(i64, i64)> = names.iter().map(|n| init_and_monitor(b, n)).collect();
    for (init, monitor) in &pids {
        kill9(*monitor);
        kill9(*init);
    }
    b.eventually(10, "the processes to die", || {
        pids.iter()
            .all(|(init, _)| !std::path::Path::new(&format!("/proc/{init}")).exists())
    });
    std::fs::remove_dir_all(b.path("state")).unwrap();
    berth_tests::unmount_below(&b.root().join("containers"));
}

fn state_of(b: &Berth, name: &str) -> String {
    let doc = b.inspect(name);
    format!("{} {}", doc["State"]["Status"].as_str().unwrap(), doc["State"]["ExitCode"])
}

#[test]
fn restart_policies_bring_containers_back_after_a_reboot() {
    let b = Berth::new("eng-boot");
    let run = |args: &[&str]| {
        let mut v = vec!["run", "-d"];
        v.extend_from_slice(args);
        v.extend_from_slice(&[IMAGE, "sleep", "1000"]);
        b.run(&v).ok();
    };
    run(&["--name", "always", "--restart", "always"]);
    run(&["--name", "always-stopped", "--restart", "always", "--network", "none"]);
    run(&["--name", "unless", "--restart", "unless-stopped", "--network", "none"]);
    run(&["--name", "unless-stopped", "--restart", "unless-stopped", "--network", "none"]);
    run(&["--name", "onfail", "--restart", "on-failure:3", "--network", "none"]);
    run(&["--name", "never", "--network", "none"]);
    run(&["--name", "gone", "--rm", "--network", "none"]);
    b.run(&["stop", "-t", "1", "always-stopped", "unless-stopped"])
        .ok();
    simulated_reboot(
        &b,
        &["always", "unless", "onfail", "never", "gone"],
    );
    // The first command after the boot brings back what Docker's daemon would at its
    // start: always (even stopped by the user), unless-stopped not stopped by the
    // user, on-failure (the reboot ended it: 255); not restart=no nor a stopped
    // unless-stopped. A --rm container is removed.
    let rows = b.ps();
    let row = |n: &str| {
        rows.iter()
            .find(|r| r.split(' ').nth(1) == Some(n))
            .cloned()
            .unwrap_or_default()
    };
    for n in ["always", "always-stopped", "unless", "onfail"] {
        assert!(row(n).contains("running|Up"), "{n}: {rows:?}");
        assert_eq!(
            b.run(&["exec", n, "echo", "back"]).ok(),
            "back\n",
            "{n} runs"
        );
    }
    assert!(row("never").contains("exited|Exited (255)"), "{rows:?}");
    assert!(row("unless-stopped").contains("exited|Exited"), "{rows:?}");
    assert!(!rows.iter().any(|r| r.contains(" gone ")), "{rows:?}");
    assert_eq!(rows.len(), 6, "{rows:?}");
    // Only once per boot: a second command starts nothing more.
    b.run(&["stop", "-t", "1", "always"]).ok();
    assert_eq!(b.run(&["system", "boot"]).ok(), "");
    assert_eq!(state_of(&b, "always").split(' ').next(), Some("exited"));

    // With the boot unit: `system boot` is the first command, and says what it did.
    b.run(&["start", "always"]).ok();
    simulated_reboot(&b, &["always", "always-stopped", "unless", "onfail"]);
    let out = b.run(&["system", "boot"]).ok();
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "started always",
            "started always-stopped",
            "started onfail",
            "started unless"
        ],
        "{out}"
    );
    assert_eq!(b.run(&["exec", "always", "echo", "again"]).ok(), "again\n");
    assert_eq!(state_of(&b, "never"), "exited 255");
}

/// The entries of the last layer of image `image`, through `save`.
fn last_layer_entries(b: &Berth, image: &str) -> Vec<String> {
    let out = b.path("saved.tar");
    b.run(&["save", "-o", out.to_str().unwrap(), image]).ok();
    let mut files = std::collections::HashMap::new();
    let mut ar = tar::Archive::new(std::fs::File::open(&out).unwrap());
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let p = e.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        files.insert(p, data);
    }
    let manifest: serde_json::Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    let layer = manifest[0]["Layers"].as_array().unwrap().last().unwrap();
    let mut names: Vec<String> = tar::Archive::new(&files[layer.as_str().unwrap()][..])
        .entries()
        .unwrap()
        .map(|e| {
            e.unwrap()
                .path()
                .unwrap()
                .to_string_lossy()
                .trim_start_matches("./")
                .trim_end_matches('/')
                .to_string()
        })
        .collect();
    names.sort();
    names
}

#[test]
fn mount_points_stay_out_of_diff_and_commit() {
    let b = Berth::new("eng-initlayer");
    let src = b.path("bindsrc");
    std::fs::create_dir_all(&src).unwrap();
    let conf = b.path("app.conf");
    std::fs::write(&conf, "conf\n").unwrap();
    let bind = format!("{}:/mnt/deep/bind", src.display());
    let file = format!("{}:/opt/conf/app.conf", conf.display());
    // /etc/hostname, hosts, resolv.conf, /proc, /sys, /dev, /sbin/docker-init, a
    // volume's, a directory's and a file's bind targets: all made by berth where the
    // image has nothing.
    let cmd = "echo hi > /f; echo new > /etc/new; cat /opt/conf/app.conf";
    let out = b
        .run(&[
            "run", "--name", "maker", "--init", "-v", "vol:/data", "-v", &bind, "-v", &file, IMAGE,
            "sh", "-c", cmd,
        ])
        .ok();
    assert_eq!(out, "conf\n");
    let want = "C /etc\nA /etc/new\nA /f\n";
    assert_eq!(b.run(&["diff", "maker"]).ok(), want);
    b.run(&["commit", "maker", "made:mp"]).ok();
    assert_eq!(last_layer_entries(&b, "made:mp"), ["etc", "etc/new", "f"]);
    // The image runs, and gets its own mount points again.
    assert_eq!(
        b.run(&["run", "--rm", "-v", &file, "made:mp", "sh", "-c", "cat /f /etc/new /opt/conf/app.conf"])
            .ok(),
        "hi\nnew\nconf\n"
    );
    // A running container's too, and a file written beside a mount point counts.
    b.run(&["run", "-d", "--name", "live", "-v", &bind, IMAGE, "sh", "-c", "echo x > /mnt/deep/other; sleep 100"])
        .ok();
    b.eventually(10, "the file", || {
        b.run(&["diff", "live"]).stdout().contains("/mnt/deep/other")
    });
    assert_eq!(
        b.run(&["diff", "live"]).ok(),
        "A /mnt\nA /mnt/deep\nA /mnt/deep/other\n"
    );
    b.run(&["commit", "live", "made:live"]).ok();
    assert_eq!(
        last_layer_entries(&b, "made:live"),
        ["mnt", "mnt/deep", "mnt/deep/other"]
    );
}

#[test]
fn rm_interrupted_by_a_killed_cli_is_finished_by_the_next() {
    let b = Berth::new("eng-rm-kill");
    // Processes left in the cgroups of this root's containers.
    let procs = || -> Vec<String> {
        let mut left = Vec::new();
        for parent in berth_tests::cgroup_leftovers(&b.cgroup_parent) {
            for e in std::fs::read_dir(&parent).into_iter().flatten().flatten() {
                let f = e.path().join("cgroup.procs");
                let pids = std::fs::read_to_string(&f).unwrap_or_default();
                left.extend(pids.lines().map(|p| format!("{}: {p}", f.display())));
            }
        }
        left
    };
    for delay_ms in [0u64, 2, 5, 10, 20, 40] {
        b.run(&["run", "-d", "--name", "victim", IMAGE, "sleep", "1000"]).ok();
        kill_cli_after(&b, &["rm", "-f", "victim"], delay_ms);
        // Whatever that rm left, the next commands understand it: the container is
        // listed or gone, a second rm -f finishes it, and its name is free again.
        finish_with_rm(&b, "victim");
        b.eventually(5, "the container's processes to go", || procs().is_empty());
    }
    std::thread::sleep(Duration::from_millis(300));
    b.assert_nothing_left();
}

/// Runs `berth ARGS` and kills it (SIGKILL) after `delay_ms`, wherever it is.
fn kill_cli_after(b: &Berth, args: &[&str], delay_ms: u64) {
    let mut cli = b
        .cmd(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(delay_ms));
    let _ = cli.kill();
    let _ = cli.wait();
}

/// After an interrupted command: container `name` is listed or gone, never half there,
/// and `rm -f` removes whatever is left.
#[track_caller]
fn finish_with_rm(b: &Berth, name: &str) {
    let rows = b.ps();
    assert!(rows.len() <= 1, "{rows:?}");
    if !rows.is_empty() {
        b.run(&["rm", "-f", name]).ok();
    }
    assert!(b.ps().is_empty(), "{:?}", b.ps());
}
