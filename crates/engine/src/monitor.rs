//! The monitor: one small process per container, as conmon is for Podman and the
//! shim for containerd. `berth` re-executes itself as `berth __monitor <id>`; the
//! monitor detaches (a second fork, a new session) so it outlives the command that
//! started it, creates and starts the container through the runtime library with
//! pipes as its stdout and stderr, writes what comes out to the json-file log (and to
//! an attached `run`'s own stdout and stderr), then records the exit code and time,
//! cleans up (runtime state, root mount) and applies `--rm`.
//!
//! The command that started it reads [`Report`]s, one JSON line each, from a pipe.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, io};
use crate::record::{Container, Status, now};
use crate::{Engine, logs, rootfs, sys};

/// What the monitor tells the command that started it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Report {
    /// The container runs; its init's host pid.
    Started {
        /// Host pid of the container's init.
        pid: i32,
    },
    /// The container could not be started.
    Failed {
        /// Docker's message.
        message: String,
        /// Docker's exit code (125, 126, 127).
        code: i32,
    },
    /// The container's process ended (and `--rm` was applied).
    Exited {
        /// Its exit code (128 + signal when killed).
        code: i32,
    },
}

/// The reading end of a monitor's reports.
pub struct Handle {
    reader: BufReader<File>,
}

impl Handle {
    /// The next report, or `None` when the monitor is gone (or the read failed).
    pub fn next_report(&mut self) -> Option<Report> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(n) if n > 0 => serde_json::from_str(&line).ok(),
            _ => None,
        }
    }
}

/// Whether the monitor recorded for `c` still runs (its start time guards against
/// a recycled pid).
pub fn alive(c: &Container) -> bool {
    c.state.monitor_pid > 0
        && berth_runtime::state::proc_stat(c.state.monitor_pid)
            .is_some_and(|(start, st)| start == c.state.monitor_start && st != 'Z' && st != 'X')
}

/// The caller's descriptors an attached `run` hands to the monitor.
#[derive(Clone, Copy, Debug)]
pub struct Attach<'a> {
    /// Given to the container as its stdin (`-i`).
    pub stdin: Option<BorrowedFd<'a>>,
    /// Where the container's stdout is copied.
    pub stdout: BorrowedFd<'a>,
    /// Where the container's stderr is copied.
    pub stderr: BorrowedFd<'a>,
}

/// Starts the monitor of container `id`: `berth --root R --state S __monitor <id>`,
/// with a report pipe and, for an attached `run`, the caller's descriptors.
pub fn spawn(engine: &Engine, id: &str, attach: Option<Attach>) -> Result<Handle> {
    let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| Error::Io {
        what: "create the monitor's report pipe".into(),
        source: e.into(),
    })?;
    // Descriptors the monitor inherits: duplicates without close-on-exec.
    let inherit = |fd: BorrowedFd| -> Result<OwnedFd> {
        rustix::io::dup(fd).map_err(|e| Error::Io {
            what: "duplicate a descriptor for the monitor".into(),
            source: e.into(),
        })
    };
    let w_child = inherit(w.as_fd())?;
    let mut cmd = Command::new(&engine.exe);
    cmd.arg("--root")
        .arg(engine.root())
        .arg("--state")
        .arg(engine.state_dir())
        .arg("__monitor")
        .arg(id)
        .arg("--sync-fd")
        .arg(w_child.as_raw_fd().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut attached = Vec::new();
    if let Some(a) = attach {
        for fd in [Some(a.stdout), Some(a.stderr), a.stdin]
            .into_iter()
            .flatten()
        {
            attached.push(inherit(fd)?);
        }
        let nums: Vec<String> = attached.iter().map(|f| f.as_raw_fd().to_string()).collect();
        cmd.arg("--attach").arg(nums.join(","));
    }
    // Not waited for: the monitor makes a session of its own at once and outlives this
    // process, to be reparented when it exits (a double fork would cost every start a
    // fork and a wait for nothing).
    drop(
        cmd.spawn()
            .map_err(io(format!("start the monitor {}", engine.exe.display())))?,
    );
    drop(w_child);
    drop(attached);
    drop(w);
    Ok(Handle {
        reader: BufReader::new(File::from(r)),
    })
}

/// Docker's exit code for a runtime error that kept the process from starting.
pub fn start_error_code(text: &str) -> i32 {
    if text.contains("executable file not found") || text.contains("no such file or directory") {
        127
    } else if text.contains("permission denied") || text.contains("not a directory") {
        126
    } else {
        125
    }
}

fn send(sync: &mut Option<File>, r: &Report) {
    if let Some(f) = sync {
        let mut line = serde_json::to_vec(r).expect("report serialises");
        line.push(b'\n');
        if f.write_all(&line).is_err() {
            *sync = None;
        }
    }
}

/// The monitor's entry point (`berth __monitor`), in a process `spawn` started and
/// does not wait for; it leaves the caller's session (a terminal's hangup or ^C must
/// not reach it) and returns when its container is done.
/// `attach` holds the inherited stdout, stderr and optional stdin descriptors.
pub fn run(engine: &Engine, id: &str, sync_fd: RawFd, attach: &[RawFd]) {
    let _ = nix::unistd::setsid();
    let _ = berth_runtime::sys::set_child_subreaper();
    let mut sync = sys::take_fd(sync_fd).map(File::from);
    let mut fds = attach.iter().map(|fd| sys::take_fd(*fd));
    let (out, err, input) = (
        fds.next().flatten(),
        fds.next().flatten(),
        fds.next().flatten(),
    );
    let attach = match (out, err) {
        (Some(o), Some(e)) => Some((File::from(o), File::from(e))),
        _ => None,
    };
    let code = match monitor(engine, id, &mut sync, attach, input) {
        Ok(code) => code,
        Err(e) => {
            let code = e.run_exit_code();
            send(
                &mut sync,
                &Report::Failed {
                    message: e.to_string(),
                    code,
                },
            );
            code
        }
    };
    drop(sync);
    berth_runtime::sys::exit_now(code);
}

fn monitor(
    engine: &Engine,
    id: &str,
    sync: &mut Option<File>,
    mut attach: Option<(File, File)>,
    input: Option<OwnedFd>,
) -> Result<i32> {
    let dir = engine.dir(id);
    let rt = engine.runtime()?;
    let record = engine.containers().load(id);
    let tty = record.as_ref().is_ok_and(|c| c.config.tty);
    // With a terminal the caller's input goes to the pty master, not to stdin.
    let (input, mut forward_in) = if tty { (None, input) } else { (input, None) };
    // `-i` without a caller's stdin (`run -di`): a pipe whose writing end the
    // monitor holds, so the container's stdin stays open, as Docker keeps it.
    let mut held_stdin = None;
    let input = match input {
        Some(fd) => Some(fd),
        None if !tty && record.as_ref().is_ok_and(|c| c.config.open_stdin) => {
            let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| Error::Io {
                what: "create the container's stdin pipe".into(),
                source: e.into(),
            })?;
            held_stdin = Some(w);
            Some(r)
        }
        None => None,
    };
    // The pty takes the size of the caller's terminal.
    let size = forward_in
        .as_ref()
        .and_then(|i| berth_runtime::sys::window_size(i.as_raw_fd()));
    let (record, started) = match record {
        Ok(c) => {
            let started = create_and_start(engine, &rt, &c, input, tty.then_some(size));
            (Some(c), started)
        }
        Err(e) => (None, Err(e)),
    };
    let (c, init) = match started {
        Ok(v) => v,
        Err(e) => {
            let (message, code) = match &e {
                Error::Runtime(re) => {
                    let t = re.to_string();
                    let code = start_error_code(&t);
                    (
                        format!(
                            "failed to create task for container: OCI runtime create failed: unable to start container process: {t}: unknown"
                        ),
                        code,
                    )
                }
                other => (other.to_string(), other.run_exit_code()),
            };
            let _ = rt.delete(id, true);
            let _ = rootfs::unmount(&dir.join("rootfs"));
            let rec = engine.containers().update(id, |c| {
                c.state.error = message.clone();
                c.state.exit_code = code;
                c.state.status = Status::Created;
                c.state.monitor_pid = 0;
                c.host.auto_remove
            });
            if let Ok((c, true)) = rec {
                let _ = engine.remove_stopped(id);
                engine.remove_anonymous_volumes(&c);
            }
            send(sync, &Report::Failed { message, code });
            return Ok(code);
        }
    };
    // Listening before the start is reported, so that an attach right after it
    // finds the socket.
    let mut att = Attachments::open(engine, id, !tty);
    send(sync, &Report::Started { pid: init.pid });
    sys::trim_heap();
    sys::release_unused_stack();

    let mut log = logs::Writer::open(
        &logs::path(&dir, id),
        c.host.log_max_size,
        c.host.log_max_file,
    )?;
    let policy = c.host.restart_policy.clone();
    let cgroups_path = c.host.cgroups_path(id);
    let mut buf = vec![0u8; 16 * 1024];
    let mut init = init;
    let mut delay = Duration::from_millis(100);
    let (code, oom) = loop {
        let began = std::time::Instant::now();
        let mut health = c
            .config
            .healthcheck
            .as_ref()
            .and_then(crate::health::Checker::new);
        if health.is_some() {
            let _ = engine.containers().update(id, |c| {
                c.state.health = Some(crate::health::Health {
                    status: "starting".into(),
                    failing_streak: 0,
                    log: Vec::new(),
                })
            });
        }
        att.input = match (&init.master, &held_stdin) {
            (Some(m), _) => m.try_clone().ok(),
            (None, Some(w)) => w.try_clone().ok(),
            _ => None,
        };
        let code = pump(
            &init,
            &mut log,
            &mut attach,
            sync,
            &mut buf,
            &mut forward_in,
            &mut health,
            (engine, id),
            &mut att,
        );
        let _ = log.flush();
        let oom = oom_killed(&cgroups_path);
        let _ = rt.delete(id, true);
        let Ok(c) = engine.containers().load(id) else {
            leave(&mut init);
            att.close(engine, id);
            return Ok(code);
        };
        if !policy.restarts(code, c.state.restart_count, c.state.manual_stop) {
            break (code, oom);
        }
        leave(&mut init);
        // An attached run ends with the first exit; the restarts go on detached.
        send(sync, &Report::Exited { code });
        *sync = None;
        attach = None;
        forward_in = None;
        engine.containers().update(id, |c| {
            c.state.status = Status::Restarting;
            c.state.exit_code = code;
            c.state.oom_killed = oom;
            c.state.pid = 0;
            c.state.finished_at = now();
            c.state.restart_count += 1;
            c.state.clear_endpoints();
        })?;
        // A `network connect` that raced the exit attached it after `leave`.
        if crate::network::is_bridge(&c.host.network_mode) {
            let _ = crate::network::leave_all_stale(engine, id);
        }
        // Docker's back-off: 100 ms doubling, reset after a run of 10 s or more.
        if began.elapsed() >= Duration::from_secs(10) {
            delay = Duration::from_millis(100);
        }
        let until = std::time::Instant::now() + delay;
        delay = (delay * 2).min(Duration::from_secs(60));
        let mut stopped = false;
        while std::time::Instant::now() < until {
            std::thread::sleep(POLL.min(until - std::time::Instant::now()));
            if engine
                .containers()
                .load(id)
                .map_or(true, |c| c.state.manual_stop)
            {
                stopped = true;
                break;
            }
        }
        if stopped {
            break (code, oom);
        }
        let input = if c.config.open_stdin && !tty {
            nix::unistd::pipe2(OFlag::O_CLOEXEC).ok().map(|(r, w)| {
                held_stdin = Some(w);
                r
            })
        } else {
            None
        };
        // Loaded again: a `network connect` may have changed it during the back-off.
        let next = engine
            .containers()
            .load(id)
            .and_then(|c| create_and_start(engine, &rt, &c, input, tty.then_some(None)));
        match next {
            Ok((_, next)) => init = next,
            Err(e) => {
                let _ = engine
                    .containers()
                    .update(id, |c| c.state.error = e.to_string());
                break (code, oom);
            }
        }
    };
    drop(attach);
    drop(held_stdin);
    att.close(engine, id);
    let _ = rootfs::unmount(&dir.join("rootfs"));
    let rec = engine.containers().load(id);
    if rec.as_ref().is_ok_and(|c| c.host.auto_remove) {
        // Out of sight first, then the reply; the deletion follows, the network's
        // teardown first (deleting a veth waits for the kernel's grace periods).
        let trash = engine.detach_stopped(id);
        send(sync, &Report::Exited { code });
        leave(&mut init);
        if let Ok(t) = trash {
            let _ = engine.purge(id, &t);
        }
        if let Ok(c) = rec {
            engine.remove_anonymous_volumes(&c);
        }
        return Ok(code);
    }
    leave(&mut init);
    engine.containers().update(id, |c| {
        c.state.status = Status::Exited;
        c.state.paused = false;
        c.state.exit_code = code;
        c.state.pid = 0;
        c.state.monitor_pid = 0;
        c.state.monitor_start = 0;
        c.state.oom_killed = oom;
        c.state.finished_at = now();
        c.state.clear_endpoints();
    })?;
    send(sync, &Report::Exited { code });
    // A `network connect` that raced the exit attached it after `leave`.
    if record
        .as_ref()
        .is_some_and(|c| crate::network::is_bridge(&c.host.network_mode))
    {
        let _ = crate::network::leave_all_stale(engine, id);
    }
    Ok(code)
}

/// Copies the container's output to the log (and an attached caller) until its
/// init has exited and the pipes are drained, running health checks meanwhile;
/// returns the exit code.
#[allow(clippy::too_many_arguments)] // the monitor's loop state, borrowed piecewise
fn pump(
    init: &Init,
    log: &mut logs::Writer,
    attach: &mut Option<(File, File)>,
    sync: &mut Option<File>,
    buf: &mut [u8],
    forward_in: &mut Option<OwnedFd>,
    health: &mut Option<crate::health::Checker>,
    (engine, id): (&Engine, &str),
    att: &mut Attachments,
) -> i32 {
    let mut open = [
        Some(init.stdout.as_fd()),
        init.stderr.as_ref().map(|f| f.as_fd()),
    ];
    let mut status: Option<i32> = None;
    loop {
        if status.is_some() && open.iter().all(Option::is_none) {
            break;
        }
        let mut which = Vec::new();
        let mut fds = Vec::new();
        for (i, f) in open.iter().enumerate() {
            if let Some(f) = f {
                fds.push(PollFd::new(*f, PollFlags::POLLIN));
                which.push(i);
            }
        }
        if status.is_none() {
            fds.push(PollFd::new(init.pidfd.as_fd(), PollFlags::POLLIN));
            which.push(2);
        }
        // An attached `run` that dies closes the report pipe: stop copying output to
        // the terminal it left behind (the log keeps everything).
        if attach.is_some()
            && let Some(f) = sync.as_ref()
        {
            fds.push(PollFd::new(f.as_fd(), PollFlags::empty()));
            which.push(3);
        }
        if status.is_none()
            && init.master.is_some()
            && let Some(f) = forward_in.as_ref()
        {
            fds.push(PollFd::new(f.as_fd(), PollFlags::POLLIN));
            which.push(4);
        }
        if status.is_none()
            && let Some(h) = health.as_mut()
        {
            h.tick(engine, id);
        }
        let health_fd = if status.is_none() {
            health.as_ref().and_then(|h| h.wait_fd())
        } else {
            None
        };
        if let Some(fd) = health_fd {
            fds.push(PollFd::new(fd, PollFlags::POLLIN));
            which.push(5);
        }
        if status.is_none()
            && let Some(l) = att.listener.as_ref()
        {
            fds.push(PollFd::new(l.as_fd(), PollFlags::POLLIN));
            which.push(6);
        }
        if status.is_none() {
            for (k, c) in att.clients.iter().enumerate() {
                fds.push(PollFd::new(c.as_fd(), PollFlags::POLLIN));
                which.push(100 + k);
            }
        }
        // Once init is gone the pipes close with the pid namespace; do not wait
        // forever on a writer that escaped it.
        let timeout = match (status, health.as_ref()) {
            (Some(_), _) => PollTimeout::from(2000u16),
            (None, Some(h)) => PollTimeout::from(h.wake_in().as_millis().clamp(1, 60_000) as u16),
            (None, None) => PollTimeout::NONE,
        };
        let n = match poll(&mut fds, timeout) {
            Ok(n) => n,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => 0,
        };
        if n == 0 && status.is_some() {
            break;
        }
        if n == 0 {
            continue;
        }
        let ready: Vec<usize> = fds
            .iter()
            .zip(&which)
            .filter(|(f, _)| f.revents().is_some_and(|r| !r.is_empty()))
            .map(|(_, w)| *w)
            .collect();
        drop(fds);
        for w in ready {
            if w == 2 {
                status = Some(reap(init.pid));
                continue;
            }
            if w == 3 {
                *attach = None;
                *sync = None;
                *forward_in = None;
                continue;
            }
            if w == 6 {
                if let Some(Ok((c, _))) = att.listener.as_ref().map(|l| l.accept()) {
                    let _ = c.set_nonblocking(true);
                    att.clients.push(c);
                }
                continue;
            }
            if w >= 100 {
                let k = w - 100;
                let mut gone = false;
                if let Some(c) = att.clients.get_mut(k) {
                    use std::io::Read;
                    match c.read(buf) {
                        Ok(0) => gone = true,
                        Ok(n) => {
                            if let Some(i) = &att.input {
                                let _ = nix::unistd::write(i, &buf[..n]);
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                        Err(_) => gone = true,
                    }
                }
                if gone && k < att.clients.len() {
                    // Indices above k shift; the next poll round rebuilds them.
                    att.clients.remove(k);
                    break;
                }
                continue;
            }
            if w == 5 {
                if let Some(h) = health.as_mut() {
                    h.finish(engine, id);
                }
                continue;
            }
            if w == 4 {
                let n = forward_in.as_ref().map(|f| nix::unistd::read(f, buf));
                match (n, &init.master) {
                    (Some(Ok(k)), Some(m)) if k > 0 => {
                        let _ = nix::unistd::write(m, &buf[..k]);
                    }
                    (Some(Err(nix::errno::Errno::EINTR | nix::errno::Errno::EAGAIN)), _) => {}
                    _ => *forward_in = None,
                }
                continue;
            }
            let f = open[w].expect("polled stream is open");
            match nix::unistd::read(f, buf) {
                Ok(0) => open[w] = None,
                Ok(k) => {
                    let _ = log.write(w, &buf[..k]);
                    att.send(w, &buf[..k]);
                    if let Some((o, e)) = attach {
                        let target = if w == 0 { o } else { e };
                        if target.write_all(&buf[..k]).is_err() {
                            *attach = None;
                        }
                    }
                }
                Err(nix::errno::Errno::EINTR) | Err(nix::errno::Errno::EAGAIN) => {}
                Err(_) => open[w] = None,
            }
        }
    }
    status.unwrap_or(255)
}

/// Where the monitor of container `id` serves `attach`, when the path fits a unix
/// socket address (108 bytes: the name is the ID's first 16 digits).
pub fn attach_socket(engine: &Engine, id: &str) -> Option<std::path::PathBuf> {
    let short = &id[..id.len().min(16)];
    let p = engine
        .state_dir()
        .join("attach")
        .join(format!("{short}.sock"));
    (p.as_os_str().len() < 104).then_some(p)
}

/// The clients `attach`ed to a container, and where their input goes.
struct Attachments {
    listener: Option<std::os::unix::net::UnixListener>,
    clients: Vec<std::os::unix::net::UnixStream>,
    /// The container's stdin (a held pipe) or its pty master.
    input: Option<OwnedFd>,
    /// Docker's stream framing (none on a terminal).
    framed: bool,
}

impl Attachments {
    fn open(engine: &Engine, id: &str, framed: bool) -> Attachments {
        let listener = attach_socket(engine, id).and_then(|p| {
            use std::os::unix::fs::DirBuilderExt;
            let dir = p.parent()?;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .ok()?;
            let _ = std::fs::remove_file(&p);
            let l = std::os::unix::net::UnixListener::bind(&p).ok()?;
            l.set_nonblocking(true).ok()?;
            Some(l)
        });
        Attachments {
            listener,
            clients: Vec::new(),
            input: None,
            framed,
        }
    }

    /// Copies output of `stream` (0 stdout, 1 stderr) to every client; a client that
    /// cannot take it now is dropped rather than stalling the container.
    fn send(&mut self, stream: usize, data: &[u8]) {
        if self.clients.is_empty() {
            return;
        }
        let mut msg = Vec::with_capacity(data.len() + 8);
        if self.framed {
            msg.push(stream as u8 + 1);
            msg.extend_from_slice(&[0, 0, 0]);
            msg.extend_from_slice(&(data.len() as u32).to_be_bytes());
        }
        msg.extend_from_slice(data);
        self.clients.retain_mut(|c| c.write_all(&msg).is_ok());
    }

    fn close(&mut self, engine: &Engine, id: &str) {
        self.clients.clear();
        if self.listener.take().is_some()
            && let Some(p) = attach_socket(engine, id)
        {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// The running container's init: its pid, a pidfd to wait on, its output pipes.
struct Init {
    pid: i32,
    pidfd: OwnedFd,
    /// stdout, or the pty master with a terminal.
    stdout: OwnedFd,
    /// stderr (none with a terminal: it is the pty too).
    stderr: Option<OwnedFd>,
    /// The pty master, written with the caller's input.
    master: Option<OwnedFd>,
    /// Its network endpoint, left when it exits.
    net: Option<crate::network::Joined>,
}

/// Creates and starts the container with pipes for its output, or with a terminal
/// when `tty` is given (`Some(size)`, the size the pty gets if known); `input` is
/// its stdin without a terminal.
fn create_and_start(
    engine: &Engine,
    rt: &berth_runtime::Runtime,
    c: &Container,
    input: Option<OwnedFd>,
    tty: Option<Option<(u16, u16)>>,
) -> Result<(Container, Init)> {
    let id = c.id.as_str();
    let dir = engine.dir(id);
    let size = tty.flatten();
    let tty = tty.is_some();
    let pipe = || {
        nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| Error::Io {
            what: "create the container's output pipes".into(),
            source: e.into(),
        })
    };
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let null = File::options()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(io("open /dev/null"))?;
    // The runtime gives the container the creating process's stdio.
    let redirect = |i: BorrowedFd, o: BorrowedFd, e: BorrowedFd| {
        let _ = nix::unistd::dup2_stdin(i);
        let _ = nix::unistd::dup2_stdout(o);
        let _ = nix::unistd::dup2_stderr(e);
    };
    let stdin = input.as_ref().map_or(null.as_fd(), |f| f.as_fd());
    let opts = berth_runtime::CreateOptions {
        id: id.to_string(),
        bundle: dir.clone(),
        ..Default::default()
    };
    let mut console = if tty {
        Some(berth_runtime::container::Console::new()?)
    } else {
        None
    };
    if tty {
        redirect(null.as_fd(), null.as_fd(), null.as_fd());
    } else {
        redirect(stdin, out_w.as_fd(), err_w.as_fd());
    }
    let created = match console.as_mut() {
        Some(con) => rt.create_with_console(&opts, Some(con)),
        None => rt.create(&opts),
    };
    redirect(null.as_fd(), null.as_fd(), null.as_fd());
    drop(input);
    drop(out_w);
    drop(err_w);
    let pid = created?;
    let (stdout, stderr, master) = match &console {
        Some(con) => {
            let m = match con.master() {
                Ok(m) => m,
                Err(e) => {
                    let _ = rt.delete(id, true);
                    return Err(e.into());
                }
            };
            // Sized before the process runs, so that it never sees 0x0.
            if let Some((rows, cols)) = size {
                let _ = berth_runtime::sys::set_window_size(m.as_raw_fd(), rows, cols);
            }
            let reader = m.try_clone().map_err(|e| Error::Io {
                what: "duplicate the pty master".into(),
                source: e,
            })?;
            (reader, None, Some(m))
        }
        None => (out_r, Some(err_r), None),
    };
    let pidfd = berth_runtime::sys::pidfd_open(pid).map_err(|e| Error::Io {
        what: format!("open a pidfd for pid {pid}"),
        source: e.into(),
    });
    let pidfd = match pidfd {
        Ok(p) => p,
        Err(e) => {
            let _ = rt.delete(id, true);
            return Err(e);
        }
    };
    // The namespace exists and the process waits for start: join its network now.
    let net = match crate::network::join(engine, c, pid) {
        Ok(n) => n,
        Err(e) => {
            let _ = rt.delete(id, true);
            return Err(e);
        }
    };
    if let Err(e) = rt.start(id) {
        let _ = rt.delete(id, true);
        if let Some(n) = net {
            let _ = n.leave();
        }
        return Err(e.into());
    }
    let me = std::process::id() as i32;
    let my_start = berth_runtime::state::proc_stat(me)
        .map(|(s, _)| s)
        .unwrap_or(0);
    let (c, ()) = engine.containers().update(id, |c| {
        c.state.status = Status::Running;
        c.state.paused = false;
        c.state.pid = pid;
        c.state.exit_code = 0;
        c.state.error = String::new();
        c.state.oom_killed = false;
        c.state.started_at = now();
        c.state.finished_at = crate::record::ZERO_TIME.into();
        c.state.monitor_pid = me;
        c.state.monitor_start = my_start;
        c.state.endpoint = net.as_ref().and_then(|n| n.endpoint.clone());
        c.state.endpoints = net
            .as_ref()
            .map(|n| n.endpoints.clone())
            .unwrap_or_default();
    })?;
    Ok((
        c,
        Init {
            pid,
            pidfd,
            stdout,
            stderr,
            master,
            net,
        },
    ))
}

/// Takes the exited container off its network, if it was on one.
fn leave(init: &mut Init) {
    if let Some(n) = init.net.take() {
        let _ = n.leave();
    }
}

/// Waits for `pid` (our child as subreaper) and returns a shell's exit code; reaps
/// any other orphan on the way.
fn reap(pid: i32) -> i32 {
    use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
    loop {
        match waitpid(nix::unistd::Pid::from_raw(pid), Some(WaitPidFlag::__WALL)) {
            Ok(WaitStatus::Exited(_, c)) => break c,
            Ok(WaitStatus::Signaled(_, s, _)) => break 128 + s as i32,
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => break 255,
        }
    }
}

/// Whether the kernel's OOM killer killed a process of the container's cgroup.
fn oom_killed(cgroups_path: &str) -> bool {
    let count = |path: String| -> u64 {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|s| {
                s.lines().find_map(|l| {
                    l.strip_prefix("oom_kill ")
                        .and_then(|v| v.trim().parse().ok())
                })
            })
            .unwrap_or(0)
    };
    count(format!("/sys/fs/cgroup/memory{cgroups_path}/memory.oom_control")) > 0
        || count(format!("/sys/fs/cgroup{cgroups_path}/memory.events")) > 0
}

/// How long [`Engine::wait_monitor`] polls between checks when no pidfd is possible.
pub const POLL: Duration = Duration::from_millis(20);
