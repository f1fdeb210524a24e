//! `exec`: another process in a running container, in all its namespaces and its
//! cgroup, through the runtime library; the calling process waits for it and passes
//! its stdio on.

use crate::error::{Error, Result};

use crate::monitor::start_error_code;
use crate::options::merge_env;
use crate::record::Status;
use crate::{Engine, rootfs, user};

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
    ) -> std::result::Result<i32, berth_runtime::Error> {
        let io = |what: &str| {
            let what = what.to_string();
            move |source: std::io::Error| berth_runtime::Error::Io { what, source }
        };
        let sock = self.state_dir().join(format!(
            "exec-{}.sock",
            crate::names::new_id().unwrap_or_default()
        ));
        let listener = std::os::unix::net::UnixListener::bind(&sock)
            .map_err(io("bind the exec console socket"))?;
        let waiter = std::thread::spawn(
            move || -> std::result::Result<std::os::fd::OwnedFd, berth_runtime::Error> {
                let (conn, _) = listener.accept().map_err(io("accept the exec console"))?;
                berth_runtime::terminal::recv_fd(std::os::fd::AsRawFd::as_raw_fd(&conn))
            },
        );
        berth_runtime::container::prepare_foreground();
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
        p.set_env(Some(env));
        if let Some(w) = &o.workdir {
            p.set_cwd(w.into());
        }
        if let Some(u) = &o.user {
            let root = self.dir(&c.id).join("rootfs");
            let eu = user::resolve(
                u,
                &rootfs::read_in_root(&root, "/etc/passwd")?,
                &rootfs::read_in_root(&root, "/etc/group")?,
            )?;
            let mut pu = p.user().clone();
            pu.set_uid(eu.uid);
            pu.set_gid(eu.gid);
            pu.set_additional_gids(Some(eu.additional_gids));
            p.set_user(pu);
        }
        p.set_terminal(Some(o.tty));
        if o.tty {
            let mut env = p.env().clone().unwrap_or_default();
            merge_env(&mut env, &["TERM=xterm".to_string()]);
            p.set_env(Some(env));
        }
        // The runtime writes it through /proc/self after joining the container's
        // mount namespace, where /proc belongs to a pid namespace the joining process
        // is not yet in; the process inherits init's score anyway.
        p.set_oom_score_adj(None);
        let r = if o.tty && !o.detach {
            self.exec_terminal(&rt, &c.id, &p)
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
