//! `create`: from a bundle to an init process blocked before exec.

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use oci_spec::runtime::{ContainerState, LinuxNamespaceType, LinuxResources, Spec};

use super::{Runtime, rootless};
use crate::cgroups::{self, Manager};
use crate::error::{Error, Result, io, sys};
use crate::explain::step;
use crate::namespaces::Plan;
use crate::process::{self, channel::Msg};
use crate::state::{self, EXEC_FIFO, Saved};
use crate::hooks::{self, Kind};
use crate::{rootfs, spec};

/// Options of `create` (and of `run`, which is create + start).
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// Container id.
    pub id: String,
    /// Bundle directory.
    pub bundle: PathBuf,
    /// Where to write init's pid.
    pub pid_file: Option<PathBuf>,
    /// Unix socket to send the pty master to.
    pub console_socket: Option<PathBuf>,
    /// Use MS_MOVE + chroot instead of pivot_root.
    pub no_pivot: bool,
    /// Do not create a session keyring.
    pub no_new_keyring: bool,
    /// Extra descriptors (from 3 on) passed to the process.
    pub preserve_fds: u32,
}

/// Everything created so far, undone on drop unless disarmed: a create that fails
/// half way leaves no process, cgroup or state behind.
struct Undo {
    dir: Option<PathBuf>,
    cgroup: Option<Box<dyn Manager>>,
    pids: Vec<i32>,
}

impl Undo {
    fn disarm(&mut self) {
        self.dir = None;
        self.cgroup = None;
        self.pids.clear();
    }
}

impl Drop for Undo {
    fn drop(&mut self) {
        for pid in &self.pids {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(*pid), nix::sys::signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(*pid), None);
        }
        if let Some(cg) = &self.cgroup {
            if let Ok(procs) = cg.procs() {
                for p in procs {
                    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), nix::sys::signal::SIGKILL);
                }
            }
            let _ = cg.destroy();
        }
        if let Some(d) = &self.dir {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// The resources to apply: the config's, with the devices every container may use
/// appended after its own rules (a trailing "deny all" in the config must not undo
/// them, and runc appends them the same way).
pub(crate) fn effective_resources(spec: &Spec) -> LinuxResources {
    let mut r = spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().clone())
        .unwrap_or_default();
    let mut devices = r.devices().clone().unwrap_or_default();
    let own_rules = devices.len();
    devices.extend(spec::default_allowed_devices());
    // Devices the config creates in the container must also be usable, unless the
    // config's own rules already say how (docker --device /dev/x:r narrows access).
    for d in spec.linux().iter().flat_map(|l| l.devices().iter().flatten()) {
        if devices[..own_rules].iter().any(|rule| {
            rule.typ() == Some(d.typ()) && rule.major() == Some(d.major()) && rule.minor() == Some(d.minor())
        }) {
            continue;
        }
        let mut rule = oci_spec::runtime::LinuxDeviceCgroup::default();
        rule.set_allow(true);
        rule.set_typ(Some(d.typ()));
        rule.set_major(Some(d.major()));
        rule.set_minor(Some(d.minor()));
        rule.set_access(Some("rwm".into()));
        devices.push(rule);
    }
    r.set_devices(Some(devices));
    r
}

/// The host uid and gid that a new user namespace maps to its root, if any.
fn mapped_root(spec: &Spec) -> Option<(u32, u32)> {
    let linux = spec.linux().as_ref()?;
    let find = |m: &Option<Vec<oci_spec::runtime::LinuxIdMapping>>| {
        m.iter()
            .flatten()
            .find(|m| m.container_id() == 0)
            .map(|m| m.host_id())
    };
    Some((find(linux.uid_mappings())?, find(linux.gid_mappings())?))
}

fn write_maps(pid: i32, spec: &Spec) -> Result<()> {
    let linux = spec.linux().as_ref().expect("user namespace implies linux");
    let render = |maps: &Option<Vec<oci_spec::runtime::LinuxIdMapping>>| {
        maps.iter()
            .flatten()
            .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
            .collect::<String>()
    };
    let root = nix::unistd::geteuid().is_root();
    if !root {
        // An unprivileged writer may map only after giving up setgroups.
        let _ = std::fs::write(format!("/proc/{pid}/setgroups"), "deny");
    }
    for (file, text) in [
        ("uid_map", render(linux.uid_mappings())),
        ("gid_map", render(linux.gid_mappings())),
    ] {
        let path = format!("/proc/{pid}/{file}");
        step(
            || format!("write {:?} > {path}", text.trim()),
            || std::fs::write(&path, &text),
        )
        .map_err(io(format!("cannot write {} {:?}", file, text.trim())))?;
    }
    Ok(())
}

impl Runtime {
    /// Creates a container: its state, cgroup and namespaces, with its init set up
    /// and blocked until [`Runtime::start`]. Returns init's host pid.
    pub fn create(&self, o: &CreateOptions) -> Result<i32> {
        self.create_with_console(o, None)
    }

    /// [`Runtime::create`] with a console pair whose runtime end takes the pty master
    /// when the config asks for a terminal (a foreground `run` then proxies the pty
    /// itself); without a terminal the pair stays unused, so the caller need not read
    /// the config to decide.
    pub fn create_with_console(&self, o: &CreateOptions, console: Option<&mut super::Console>) -> Result<i32> {
        if !rootless::is_rootless() && !unified_only() {
            prime_migration_lock();
        }
        state::validate_id(&o.id)?;
        let bundle = o
            .bundle
            .canonicalize()
            .map_err(io(format!("bundle {}", o.bundle.display())))?;
        let spec = step(|| "load config.json".into(), || spec::load(&bundle))?;
        spec::validate(&spec, &bundle)?;
        let process = spec.process().clone().expect("validated");
        let rootfs_path = spec::rootfs(&spec, &bundle)?
            .canonicalize()
            .map_err(io("root filesystem"))?;
        let linux = spec.linux().as_ref();
        let plan = Plan::from_linux(linux)?;
        let terminal = process.terminal() == Some(true);
        let given_console = match console {
            Some(c) if terminal && o.console_socket.is_none() => c.container_end(),
            _ => None,
        };
        if terminal && o.console_socket.is_none() && given_console.is_none() {
            return Err(Error::Usage(
                "cannot allocate tty if runc will detach without setting console socket"
                    .replace("runc", "berth-runtime"),
            ));
        }
        if !terminal && o.console_socket.is_some() {
            return Err(Error::Usage(
                "cannot use console socket if berth-runtime will not detach or allocate tty"
                    .into(),
            ));
        }

        let dir = self.root.reserve(&o.id)?;
        let mut undo = Undo {
            dir: Some(dir.clone()),
            cgroup: None,
            pids: Vec::new(),
        };
        let fifo = dir.join(EXEC_FIFO);
        step(
            || format!("mkfifo {}", fifo.display()),
            || nix::unistd::mkfifo(&fifo, Mode::from_bits_truncate(0o622)),
        )
        .map_err(sys(format!("cannot create {}", fifo.display())))?;
        // The umask trimmed the mode; and in a user namespace init is an unprivileged
        // host uid, so the fifo belongs to the container's root.
        std::fs::set_permissions(&fifo, std::os::unix::fs::PermissionsExt::from_mode(0o622))
            .map_err(io(format!("chmod {}", fifo.display())))?;
        if let Some((uid, gid)) = mapped_root(&spec) {
            std::os::unix::fs::chown(&fifo, Some(uid), Some(gid))
                .map_err(io(format!("chown {}", fifo.display())))?;
        }
        let fifo_dir: OwnedFd = nix::fcntl::open(
            &dir,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(sys(format!("open {}", dir.display())))?;

        let cgroups_path = linux.and_then(|l| l.cgroups_path().clone());
        // Saved at once with no pid ("creating"), so that a runtime killed in the
        // middle of create leaves a record that `delete --force` can clean up
        // (cgroup and state) instead of an unknown directory.
        let mut saved = Saved {
            id: o.id.clone(),
            bundle: bundle.clone(),
            rootfs: rootfs_path.clone(),
            pid: 0,
            pid_start: 0,
            created: state::now_rfc3339(),
            owner: String::new(),
            annotations: spec.annotations().clone().unwrap_or_default(),
            cgroups_path: cgroups_path.clone(),
            systemd_cgroup: self.systemd_cgroup,
            namespaces: plan
                .new
                .iter()
                .chain(plan.join.iter().map(|j| &j.typ))
                .map(|t| crate::namespaces::proc_name(*t).to_string())
                .collect(),
            terminal,
            poststart: hooks::any(&spec, &[Kind::Poststart]),
            poststop: hooks::any(&spec, &[Kind::Poststop]),
            no_cgroup: false,
        };
        self.root.save(&saved)?;
        let cg: Box<dyn Manager> =
            match cgroups::new_manager(cgroups_path.as_deref(), &o.id, self.systemd_cgroup)
                .and_then(|cg| cg.create().map(|_| cg))
            {
                Ok(cg) => cg,
                // An unprivileged user without a delegated cgroup: fine unless the
                // config asks for limits, which nothing could then enforce.
                Err(e) if rootless::is_rootless() => {
                    if rootless::wants_limits(&spec) {
                        return Err(Error::Usage(format!(
                            "rootless container asks for resource limits but has no cgroup to \
                             enforce them: {e} (delegate a cgroup to this user, or drop the limits)"
                        )));
                    }
                    saved.no_cgroup = true;
                    Box::new(rootless::NoCgroup)
                }
                Err(e) => return Err(e.into()),
            };
        undo.cgroup = Some(cg);
        let cg = undo.cgroup.as_ref().unwrap();
        if !saved.no_cgroup {
            cg.apply(&effective_resources(&spec))?;
        }

        let console: Option<OwnedFd> = match (&o.console_socket, given_console) {
            (_, Some(fd)) => Some(fd),
            (Some(p), None) => Some(connect_console(p)?),
            (None, None) => None,
        };
        let new_user = plan.creates(LinuxNamespaceType::User);
        let seccomp = process::compile_seccomp(&spec, self.root.path())?;
        let cfg = process::Config {
            id: &o.id,
            spec: &spec,
            process: &process,
            plan: &plan,
            rootfs: if plan.has(LinuxNamespaceType::Mount) {
                Some(rootfs::Options {
                    rootfs: rootfs_path.clone(),
                    bundle: bundle.clone(),
                    no_pivot: o.no_pivot,
                    user_ns: plan.has(LinuxNamespaceType::User),
                    cgroup_ns: plan.has(LinuxNamespaceType::Cgroup),
                })
            } else {
                None
            },
            fifo_dir: Some(&fifo_dir),
            console: console.as_ref(),
            preserve_fds: o.preserve_fds,
            no_new_keyring: o.no_new_keyring,
            setgroups_allowed: !new_user || nix::unistd::geteuid().is_root(),
            bundle: &bundle,
            cgroup_pending: true,
            seccomp: seccomp.as_ref(),
        };
        let (ours, theirs) = process::channel::pair()?;
        // Born in its cgroup where the host allows it (pure v2), else moved there.
        let into = super::clone_into(&**cg);
        let stage1 = process::spawn(&cfg, &ours, theirs, into.as_ref())?;
        undo.pids.push(stage1);
        drop(console);
        ours.send(&Msg::Go)?;
        let init = loop {
            match ours.recv()? {
                Some(Msg::NeedMaps) => {
                    write_maps(stage1, &spec)?;
                    ours.send(&Msg::MapsDone)?;
                }
                Some(Msg::Pid(p)) => break p,
                Some(Msg::Error(e)) => return Err(Error::Init(e)),
                Some(m) => return Err(Error::Init(format!("unexpected {m:?} from stage-1"))),
                None => return Err(Error::Init("stage-1 exited without reporting init".into())),
            }
        };
        undo.pids.push(init);
        // Init sets itself up while we move it into its cgroup: the move waits for
        // an RCU grace period (milliseconds) that its mounts need not wait for.
        if into.is_none() {
            cg.add_task(init)?;
        }
        ours.send(&Msg::Joined)?;
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(stage1), None);
        undo.pids.retain(|p| *p != stage1);
        loop {
            match ours.recv()? {
                Some(Msg::Ready) => break,
                Some(Msg::SeccompListener) => {
                    let state = hooks::state(&o.id, ContainerState::Creating, init, &bundle, &spec);
                    process::forward_seccomp_listener(&ours, &spec, &state, init)?;
                }
                Some(Msg::Hooks) => {
                    let state = hooks::state_json(&o.id, ContainerState::Creating, init, &bundle, &spec);
                    let r = hooks::run(&spec, Kind::Prestart, &state)
                        .and_then(|_| hooks::run(&spec, Kind::CreateRuntime, &state));
                    if let Err(e) = r {
                        let _ = ours.send(&Msg::Error(e.to_string()));
                        hooks::run_warn(&spec, Kind::Poststop, &state);
                        return Err(e);
                    }
                    ours.send(&Msg::Pid(init))?;
                }
                Some(Msg::Error(e)) => return Err(Error::Init(e)),
                Some(m) => return Err(Error::Init(format!("unexpected {m:?} from init"))),
                None => return Err(Error::Init("container init exited during setup".into())),
            }
        }

        let (pid_start, _) = state::proc_stat(init)
            .ok_or_else(|| Error::Init("container init exited during create".into()))?;
        saved.pid = init;
        saved.pid_start = pid_start;
        step(|| format!("write {}/state.json", dir.display()), || self.root.save(&saved))?;
        if let Some(p) = &o.pid_file {
            write_pid_file(p, init)?;
        }
        ours.send(&Msg::Go)?;
        undo.disarm();
        Ok(init)
    }
}

/// Whether /sys/fs/cgroup is a pure cgroup v2 mount (no migration happens there).
fn unified_only() -> bool {
    nix::sys::statfs::statfs("/sys/fs/cgroup")
        .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
}

/// Starts, in a background thread, the RCU grace period that the first cgroup
/// migration after a quiet moment must wait for (the kernel's cgroup_threadgroup_rwsem
/// switches to its slow mode through rcu_sync, 5-15 ms on these hosts), so that it
/// elapses while we create the cgroup and fork, instead of after. The thread moves
/// this process into the cgroup it is already in: a migration that changes nothing
/// but takes the same lock. Only for v1 and hybrid hosts; on v2 the container is
/// born in its cgroup and no migration happens.
fn prime_migration_lock() {
    let Ok(own) = cgroups::detect::OwnCgroups::read() else {
        return;
    };
    // v1 hierarchies first, as /proc/self/cgroup lists them (named ones control
    // nothing), then the hybrid host's unified one.
    let dirs = own
        .v1
        .iter()
        .filter(|(cs, _)| !cs.first().is_some_and(|c| c.starts_with("name=")))
        .map(|(cs, path)| (cs.join(","), path))
        .chain(own.v2.iter().map(|path| ("unified".to_string(), path)));
    let target = dirs.map(|(dir, path)| {
        Path::new("/sys/fs/cgroup").join(dir).join(path.trim_start_matches('/')).join("cgroup.procs")
    })
    .find(|p| p.exists());
    if let Some(p) = target {
        crate::explain::note(|| format!("prime the cgroup migration lock: write own pid > {} (background)", p.display()));
        let pid = std::process::id().to_string();
        std::thread::spawn(move || {
            let _ = std::fs::write(p, pid);
        });
    }
}

/// Writes a pid file atomically (runc writes the bare number, no newline).
pub(crate) fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let path = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().map_err(io("cwd"))?.join(path)
    };
    state::write_atomic(&path, pid.to_string().as_bytes())
}

fn connect_console(path: &Path) -> Result<OwnedFd> {
    let s = UnixStream::connect(path)
        .map_err(io(format!("cannot connect to console socket {}", path.display())))?;
    Ok(OwnedFd::from(s))
}
