//! `exec`: another process in a running container, in all its namespaces and its
//! cgroup, through the runtime library; the calling process waits for it and passes
//! its stdio on.

use crate::error::{Error, Result};

use crate::monitor::start_error_code;
use crate::options::merge_env;
use crate::record::Status;
use crate::{Engine, user};

/// What `exec` runs and how.
#[derive(Clone, Debug, Default)]
pub struct ExecOptions {
    /// The command.
    pub cmd: Vec<String>,
    /// `-e K=V`.
    pub env: Vec<String>,
    /// `-u`.
    pub user: Option<String>,
    /// `-w`.
    pub workdir: Option<String>,
    /// `-d`: return once it runs.
    pub detach: bool,
    /// `-t`: a terminal, proxied to the caller's stdin and stdout.
    pub tty: bool,
}

impl Engine {
    /// Runs `p` on a terminal: the runtime sends the pty master over a console
    /// socket, the caller's terminal is proxied to it (raw mode for the duration),
    /// and the process is waited for.
    fn exec_terminal(
        &self,
        rt: &berth_runtime::Runtime,
        id: &str,
        p: &oci_spec::runtime::Process,
        detach: bool,
    ) -> std::result::Result<i32, berth_runtime::Error> {
        let io = |what: &str| {
            let what = what.to_string();
            move |source: std::io::Error| berth_runtime::Error::Io { what, source }
        };
        // A unix socket's path must fit 108 bytes: a deep state directory falls
        // back to the temporary directory.
        let name = format!(
            "exec-{}.sock",
            crate::names::new_id()
                .map(|id| id[..16].to_string())
                .unwrap_or_else(|_| std::process::id().to_string())
        );
        let mut sock = self.state_dir().join(&name);
        if sock.as_os_str().len() >= 104 {
            sock = std::env::temp_dir().join(&name);
        }
        let listener = std::os::unix::net::UnixListener::bind(&sock)
            .map_err(io("bind the exec console socket"))?;
        let waiter = std::thread::spawn(
            move || -> std::result::Result<std::os::fd::OwnedFd, berth_runtime::Error> {
                let (conn, _) = listener.accept().map_err(io("accept the exec console"))?;
                berth_runtime::terminal::recv_fd(std::os::fd::AsRawFd::as_raw_fd(&conn))
            },
        );
        if !detach {
            berth_runtime::container::prepare_foreground();
        }
        let started = rt.exec(
            id,
            p,
            &berth_runtime::ExecOptions {
                detach: true,
                console_socket: Some(sock.clone()),
                ..Default::default()
            },
        );
        let _ = std::fs::remove_file(&sock);
        let pid = match started {
            Ok(pid) => pid,
            Err(e) => {
                // Unblock the waiting accept.
                drop(std::os::unix::net::UnixStream::connect(&sock));
                return Err(e);
            }
        };
        let master = waiter
            .join()
            .map_err(|_| berth_runtime::Error::Init("the exec console thread failed".into()))??;
        if detach {
            hold_terminal(master);
            return Ok(pid);
        }
        let (raw, out) = berth_runtime::container::proxy(master)?;
        let code = berth_runtime::container::wait_foreground(pid);
        let _ = out.join();
        drop(raw);
        Ok(code)
    }

    /// Runs a process in container `key`: its exit code, or its pid when detached.
    pub fn exec(&self, key: &str, o: &ExecOptions) -> Result<i32> {
        let c = self.find(key)?;
        if c.state.status != Status::Running {
            return Err(Error::Conflict(format!(
                "container {} is not running",
                c.id
            )));
        }
        let rt = self.runtime()?;
        let mut p = rt.config_process(&c.id)?;
        p.set_args(Some(o.cmd.clone()));
        let mut env = p.env().clone().unwrap_or_default();
        merge_env(&mut env, &o.env);
        if o.tty {
            merge_env(&mut env, &["TERM=xterm".to_string()]);
        }
        p.set_env(Some(env));
        if let Some(w) = &o.workdir {
            p.set_cwd(w.into());
        }
        if let Some(u) = &o.user {
            let eu = user::resolve_in_root(u, &self.dir(&c.id).join("rootfs"))?;
            let mut pu = p.user().clone();
            pu.set_uid(eu.uid);
            pu.set_gid(eu.gid);
            pu.set_additional_gids(Some(eu.additional_gids));
            p.set_user(pu);
        }
        p.set_terminal(Some(o.tty));
        // The runtime writes it through /proc/self after joining the container's
        // mount namespace, where /proc belongs to a pid namespace the joining process
        // is not yet in; the process inherits init's score anyway.
        p.set_oom_score_adj(None);
        let r = if o.tty {
            self.exec_terminal(&rt, &c.id, &p, o.detach)
        } else {
            rt.exec(
                &c.id,
                &p,
                &berth_runtime::ExecOptions {
                    detach: o.detach,
                    ..Default::default()
                },
            )
        };
        match r {
            Ok(v) => Ok(v),
            Err(berth_runtime::Error::Init(t)) => Err(Error::Start {
                code: start_error_code(&t),
                message: format!(
                    "OCI runtime exec failed: exec failed: unable to start container process: {t}: unknown"
                ),
            }),
            Err(e) => Err(e.into()),
        }
    }
}

/// `exec -d -t`: the pty master must stay open while the process runs (Docker's
/// shim holds it), or the process gets a hangup. A detached grandchild of this
/// process, in a session of its own, keeps it and drains the output until the last
/// holder of the terminal's other end is gone (a read fails with EIO).
fn hold_terminal(master: std::os::fd::OwnedFd) {
    use std::os::fd::AsRawFd;
    let fd = master.as_raw_fd();
    // SAFETY: fork in a process whose other threads have been joined; both children
    // only make async-signal-safe calls (setsid, fork, open, dup2, close_range,
    // read, _exit).
    unsafe {
        match libc::fork() {
            0 => {
                libc::setsid();
                if libc::fork() != 0 {
                    libc::_exit(0);
                }
                let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
                if null >= 0 {
                    for t in 0..3 {
                        libc::dup2(null, t);
                    }
                }
                // Nothing else of this process's (a lock, the caller's pipes) stays
                // held by the helper.
                let fd = if libc::dup2(fd, 3) == 3 { 3 } else { fd };
                libc::syscall(libc::SYS_close_range, fd + 1, u32::MAX, 0);
                let mut buf = [0u8; 4096];
                loop {
                    let n = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
                    if n == 0 || (n < 0 && *libc::__errno_location() != libc::EINTR) {
                        break;
                    }
                }
                libc::_exit(0);
            }
            child if child > 0 => {
                let mut st = 0;
                libc::waitpid(child, &mut st, 0);
            }
            _ => {}
        }
    }
    drop(master);
}
