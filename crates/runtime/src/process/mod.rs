//! Making the container's process: the runtime forks a *stage-1* helper, which
//! enters or creates the namespaces and forks the container's *init*; init sets up
//! the root filesystem and the process, then waits on the exec fifo until `start`.
//!
//! Why two forks: a new pid namespace (and time namespace) applies only to children
//! of the process that unshares it, and a new user namespace must get its uid/gid
//! maps from outside before the others are created inside it. Stage-1 does those
//! unshares, forks init as pid 1 of the new pid namespace, reports init's host pid
//! and exits; init is then reparented to the runtime (which is a child subreaper for
//! foreground runs) or to the engine's shim.
//!
//! ```text
//! runtime                  stage-1                      init
//!  fork ───────────────────►
//!  cgroup += stage-1
//!  Go ─────────────────────► setns joined namespaces
//!                            unshare(USER) ─ NeedMaps ─► (runtime writes maps)
//!                            unshare(NS|PID|NET|...)
//!                            fork ────────────────────► setsid, mounts, pivot_root,
//!  ◄──────────────────────── Pid(init), exit             hostname, console, masks,
//!                                                        rlimits, caps + uid, cwd
//!  ◄─────────────────────────────────────────────────── Ready
//!  state.json, pid file, Go ───────────────────────────► open exec.fifo (blocks)
//!  (start opens the fifo) ─────────────────────────────► execve
//! ```

pub mod channel;
pub mod setup;

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use nix::sched::CloneFlags;
use oci_spec::runtime::{ContainerState, LinuxNamespaceType, Process, Spec};

use self::channel::{Channel, Msg};
use crate::error::{Error, Result, io, sys};
use crate::explain::{self, step};
use crate::namespaces::{self, Plan};
use crate::sys::{self as raw, Forked};
use crate::hooks::{self, Kind};
use crate::{rootfs, terminal};

/// Everything the forked processes need; borrowed from the runtime's memory, which
/// the forks copy.
pub struct Config<'a> {
    /// Container id (names the session keyring).
    pub id: &'a str,
    /// The container's config.
    pub spec: &'a Spec,
    /// The process to run (the config's, or the one given to `exec`).
    pub process: &'a Process,
    /// Namespaces to join and create.
    pub plan: &'a Plan,
    /// Root filesystem setup; `None` for `exec` (the container's root is joined).
    pub rootfs: Option<rootfs::Options>,
    /// The container's state directory, holding the exec fifo (create only).
    pub fifo_dir: Option<&'a OwnedFd>,
    /// A connected console socket when the process has a terminal.
    pub console: Option<&'a OwnedFd>,
    /// How many descriptors beyond stdio to pass to the process (`--preserve-fds`).
    pub preserve_fds: u32,
    /// `--no-new-keyring`: keep the runtime's session keyring.
    pub no_new_keyring: bool,
    /// The runtime moves init into its cgroup while init sets up, and sends
    /// [`Msg::Joined`] when done; init waits for it before anything that depends on
    /// its cgroup (a cgroup mount, its cgroup namespace, exec). False when the process
    /// is already there (born into it with CLONE_INTO_CGROUP, or `exec`).
    pub cgroup_pending: bool,
    /// The config's seccomp filter, compiled by the runtime before forking (from its
    /// cache when the same filter was compiled before).
    pub seccomp: Option<&'a crate::seccomp::Program>,
    /// The bundle (for the hooks' state).
    pub bundle: &'a std::path::Path,
    /// Whether setgroups(2) is allowed (not in a user namespace made by an
    /// unprivileged runtime, where /proc/<pid>/setgroups is "deny").
    pub setgroups_allowed: bool,
}

/// Forks stage-1, into the cgroup open at `into_cgroup` when given (clone3 with
/// CLONE_INTO_CGROUP). Returns its pid in the runtime; the child never returns.
pub fn spawn(
    cfg: &Config<'_>,
    ours: &Channel,
    theirs: Channel,
    into_cgroup: Option<&OwnedFd>,
) -> Result<i32> {
    let t = explain::mark();
    let forked = match into_cgroup {
        Some(fd) => raw::fork_into_cgroup(fd.as_raw_fd()).map_err(sys("clone3(CLONE_INTO_CGROUP)"))?,
        None => raw::fork().map_err(sys("fork"))?,
    };
    match forked {
        Forked::Parent(pid) => {
            explain::since(t, || {
                let how = if into_cgroup.is_some() { "clone3 CLONE_INTO_CGROUP" } else { "fork" };
                format!("{how} stage-1 -> pid {pid}")
            });
            drop(theirs);
            Ok(pid)
        }
        Forked::Child => {
            explain::set_role(1);
            // Our copy of the runtime's end must go, so that EOF means "runtime gone".
            // The runtime's end is only borrowed here; close our copy of its fd (we
            // leave through _exit, so it is never closed twice).
            let _ = nix::unistd::close(ours.raw());
            let code = match stage1(cfg, &theirs) {
                Ok(()) => 0,
                Err(e) => {
                    let _ = theirs.send(&Msg::Error(e.to_string()));
                    1
                }
            };
            raw::exit_now(code)
        }
    }
}

fn stage1(cfg: &Config<'_>, ch: &Channel) -> Result<()> {
    ch.expect(&Msg::Go, "runtime")?;
    if cfg.rootfs.is_none() {
        // Joining a running container: its processes must not reach our exe.
        crate::exeguard::undumpable()?;
    }
    // Before joining anything: in a joined mount namespace /proc is the container's,
    // where this process (outside its pid namespace) has no /proc/self.
    if let Some(adj) = cfg.process.oom_score_adj() {
        step(
            || format!("write {adj} > /proc/self/oom_score_adj"),
            || std::fs::write("/proc/self/oom_score_adj", adj.to_string()),
        )
        .map_err(io(format!("cannot set oom_score_adj to {adj}")))?;
    }
    for j in &cfg.plan.join {
        namespaces::join(j)?;
    }
    if cfg.plan.creates(LinuxNamespaceType::User) {
        step(
            || "unshare CLONE_NEWUSER".into(),
            || nix::sched::unshare(CloneFlags::CLONE_NEWUSER),
        )
        .map_err(sys("cannot create a user namespace"))?;
        ch.send(&Msg::NeedMaps)?;
        ch.expect(&Msg::MapsDone, "runtime")?;
        // Become root of the new namespace when root is mapped, so that what follows
        // runs with its full privileges; an unmapped root is not an error here.
        let _ = nix::unistd::setresgid(0.into(), 0.into(), 0.into());
        let _ = nix::unistd::setresuid(0.into(), 0.into(), 0.into());
    }
    // The cgroup namespace is made by init itself once it is in its cgroup (a
    // namespace made earlier would be rooted in the runtime's cgroup).
    let flags = cfg.plan.unshare_flags() - CloneFlags::CLONE_NEWCGROUP;
    if !flags.is_empty() {
        step(
            || format!("unshare {}", namespaces::describe(flags)),
            || nix::sched::unshare(flags),
        )
        .map_err(sys(format!(
            "cannot create namespaces {}",
            namespaces::describe(flags)
        )))?;
    }
    if cfg.plan.creates(LinuxNamespaceType::Time) {
        write_time_offsets(cfg.spec)?;
    }
    let t = explain::mark();
    let forked = raw::fork().map_err(sys("fork init"))?;
    match forked {
        Forked::Parent(pid) => {
            explain::since(t, || format!("fork init -> host pid {pid}"));
            ch.send(&Msg::Pid(pid))
        }
        Forked::Child => {
            explain::set_role(2);
            let (target, host_pid) = match init(cfg, ch) {
                Ok(t) => t,
                Err(e) => {
                    let _ = ch.send(&Msg::Error(e.to_string()));
                    raw::exit_now(1)
                }
            };
            if ch.send(&Msg::Ready).is_err() {
                raw::exit_now(1);
            }
            if let Some(dir) = cfg.fifo_dir {
                // The runtime acknowledges once our state is saved; if it died
                // instead, nobody could ever start or delete us: leave.
                if ch.expect(&Msg::Go, "runtime").is_err() {
                    raw::exit_now(1);
                }
                if let Err(e) = wait_for_start(dir) {
                    // Create has returned; stderr is all that is left to tell.
                    eprintln!("berth-runtime: container init: {e}");
                    raw::exit_now(1);
                }
                let state = hooks::state_json(cfg.id, ContainerState::Created, host_pid, cfg.bundle, cfg.spec);
                if let Err(e) = hooks::run(cfg.spec, Kind::StartContainer, &state) {
                    eprintln!("berth-runtime: {e}");
                    raw::exit_now(1);
                }
            }
            setup::exec(&target)
        }
    }
}

fn write_time_offsets(spec: &Spec) -> Result<()> {
    let offsets = spec
        .linux()
        .as_ref()
        .and_then(|l| l.time_offsets().clone())
        .unwrap_or_default();
    if offsets.is_empty() {
        return Ok(());
    }
    let mut text = String::new();
    for (clock, off) in &offsets {
        text.push_str(&format!(
            "{clock} {} {}\n",
            off.secs().unwrap_or(0),
            off.nanosecs().unwrap_or(0)
        ));
    }
    step(
        || format!("write {:?} > /proc/self/timens_offsets", text.trim()),
        || std::fs::write("/proc/self/timens_offsets", &text),
    )
    .map_err(io(format!("cannot set time offsets {:?}", text.trim())))
}

/// The container's init up to the point where it waits for `start`.
fn init(cfg: &Config<'_>, ch: &Channel) -> Result<(setup::ExecTarget, i32)> {
    let process = cfg.process;
    let terminal = process.terminal() == Some(true);
    // Who we are on the host, before the root moves (CVE-2019-5736, see exeguard).
    let runtime_exe = crate::exeguard::runtime_identity();
    if cfg.rootfs.is_some() || terminal {
        step(|| "setsid".into(), nix::unistd::setsid).map_err(sys("setsid"))?;
    }
    // The exec attributes are written through /proc/self/attr, before /proc changes.
    crate::lsm::apply(process)?;
    // Waits (once) until the runtime has moved us into our cgroup, then makes our
    // cgroup namespace, rooted there.
    let mut in_cgroup = false;
    let mut join_cgroup = || -> Result<()> {
        if in_cgroup {
            return Ok(());
        }
        if cfg.cgroup_pending {
            step(|| "wait until moved into the cgroup".into(), || ch.expect(&Msg::Joined, "runtime"))?;
        }
        if cfg.plan.creates(LinuxNamespaceType::Cgroup) {
            step(
                || "unshare CLONE_NEWCGROUP".into(),
                || nix::sched::unshare(CloneFlags::CLONE_NEWCGROUP),
            )
            .map_err(sys("cannot create a cgroup namespace"))?;
        }
        in_cgroup = true;
        Ok(())
    };
    // Our host pid, for the hooks' state documents: only the runtime knows it.
    let mut host_pid = 0;
    if let Some(opts) = &cfg.rootfs {
        rootfs::prepare_with(cfg.spec, opts, &mut || {
            join_cgroup().map_err(|e| rootfs::Error::Other(e.to_string()))
        })?;
        join_cgroup()?;
        if hooks::any(
            cfg.spec,
            &[Kind::Prestart, Kind::CreateRuntime, Kind::CreateContainer, Kind::StartContainer],
        ) {
            ch.send(&Msg::Hooks)?;
            host_pid = match ch.recv()? {
                Some(Msg::Pid(p)) => p,
                Some(Msg::Error(e)) => return Err(Error::Init(e)),
                other => return Err(Error::Init(format!("hooks: unexpected {other:?}"))),
            };
            let state = hooks::state_json(cfg.id, ContainerState::Created, host_pid, cfg.bundle, cfg.spec);
            hooks::run(cfg.spec, Kind::CreateContainer, &state)?;
        }
        rootfs::pivot(opts)?;
    }
    if cfg.rootfs.is_some() && cfg.plan.has(LinuxNamespaceType::Uts) {
        if let Some(h) = cfg.spec.hostname() {
            step(|| format!("sethostname {h}"), || nix::unistd::sethostname(h))
                .map_err(sys(format!("cannot set hostname {h}")))?;
        }
        if let Some(d) = cfg.spec.domainname() {
            step(|| format!("setdomainname {d}"), || raw::set_domainname(d))
                .map_err(sys(format!("cannot set domainname {d}")))?;
        }
    }
    if let Some(sock) = cfg.console {
        let size = process
            .console_size()
            .map(|b| (b.height() as u16, b.width() as u16));
        terminal::setup_console(sock, size, cfg.rootfs.is_some())?;
    }
    if let Some(opts) = &cfg.rootfs {
        rootfs::finish(cfg.spec, opts)?;
    }
    if cfg.rootfs.is_none() && cfg.fifo_dir.is_some() {
        chroot_without_mount_namespace(cfg)?;
    }
    if !cfg.no_new_keyring && cfg.rootfs.is_some() {
        join_session_keyring(cfg.id)?;
    }
    if let Some(p) = cfg.spec.linux().as_ref().and_then(|l| l.personality().clone()) {
        let persona = match p.domain() {
            oci_spec::runtime::LinuxPersonalityDomain::PerLinux => 0x0000,
            oci_spec::runtime::LinuxPersonalityDomain::PerLinux32 => 0x0008,
        };
        step(|| format!("personality {}", p.domain()), || raw::personality(persona))
            .map_err(sys(format!("cannot set personality {}", p.domain())))?;
    }
    join_cgroup()?;
    setup::rlimits(process)?;
    setup::scheduling(process)?;
    setup::exec_affinity(process)?;
    // Nothing of the runtime beyond stdio and the preserved descriptors may reach the
    // container's process (CVE-2024-21626: a leaked host directory fd let a process
    // escape through /proc/self/fd). Our own descriptors stay usable until exec, and
    // everything opened from here on is O_CLOEXEC. Done before the seccomp filter is
    // loaded: a profile written before close_range existed (runtime-tools' default
    // one, older Docker ones) answers it with EPERM, and runc works with those.
    step(
        || format!("close_range {}.. CLOSE_RANGE_CLOEXEC", 3 + cfg.preserve_fds),
        || raw::cloexec_from(3 + cfg.preserve_fds),
    )
    .map_err(sys("close_range"))?;
    if let Some(listener) = setup::identity(process, cfg.setgroups_allowed, cfg.seccomp)? {
        ch.send(&Msg::SeccompListener)?;
        terminal::send_fd(ch.raw(), listener.as_raw_fd(), b"seccomp")?;
    }
    setup::cwd(process)?;
    let target = setup::exec_target(process)?;
    if let Some(me) = runtime_exe {
        let path = std::path::Path::new(std::ffi::OsStr::from_bytes(target.path.as_bytes()));
        crate::exeguard::check_target(path, me)?;
    }
    Ok((target, host_pid))
}

/// A container that inherits the runtime's mount namespace still runs in its
/// root.path (the spec: a missing namespace is inherited, root.path is still the
/// container's root), as runc does; but only a chroot: the config's mounts,
/// masked and read-only paths need a mount namespace of the container's own and
/// are not made in the host's (runc makes them there, and changes the host's `/`
/// propagation on the way). A chroot is no wall against a process keeping
/// CAP_SYS_CHROOT: such configs are for trusted workloads.
fn chroot_without_mount_namespace(cfg: &Config<'_>) -> Result<()> {
    let root = crate::spec::rootfs(cfg.spec, cfg.bundle)?;
    let root = std::fs::canonicalize(&root)
        .map_err(|e| Error::Init(format!("root {}: {}", root.display(), crate::error::io_text(&e))))?;
    if root == std::path::Path::new("/") {
        return Ok(());
    }
    step(|| format!("chroot {} (no mount namespace)", root.display()), || {
        nix::unistd::chroot(&root)?;
        nix::unistd::chdir("/")
    })
    .map_err(sys(format!("cannot chroot into {}", root.display())))?;
    Ok(())
}

/// Joins a fresh session keyring named after the container, so containers do not
/// share the runtime's keys. Kernels without keyrings are fine.
fn join_session_keyring(id: &str) -> Result<()> {
    let name = std::ffi::CString::new(id).map_err(|_| Error::Usage("NUL in container id".into()))?;
    let r = step(
        || format!("keyctl JOIN_SESSION_KEYRING {id}"),
        || -> std::result::Result<(), nix::errno::Errno> {
            // SAFETY: keyctl with a valid NUL-terminated name; no other pointers.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_keyctl,
                    libc::KEYCTL_JOIN_SESSION_KEYRING,
                    name.as_ptr(),
                )
            };
            nix::errno::Errno::result(r).map(drop)
        },
    );
    match r {
        Ok(()) | Err(nix::errno::Errno::ENOSYS) => Ok(()),
        // Quota exhausted or keyrings restricted (user namespaces): run without.
        Err(nix::errno::Errno::EDQUOT) | Err(nix::errno::Errno::EACCES) => Ok(()),
        Err(e) => Err(sys("cannot join a session keyring")(e)),
    }
}

/// Compiles the config's seccomp filter, through the cache under the state root:
/// compiling Docker's profile takes milliseconds, loading a cached program
/// microseconds.
pub fn compile_seccomp(spec: &Spec, state_root: &std::path::Path) -> Result<Option<crate::seccomp::Program>> {
    let Some(sc) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) else {
        return Ok(None);
    };
    let p = step(
        || "seccomp: compile filter (cached)".into(),
        || crate::seccomp::Program::cached(sc, &state_root.join(".seccomp-cache")),
    )?;
    Ok(Some(p))
}

/// The runtime's side of [`Msg::SeccompListener`]: receives the notify fd from init
/// and hands it to the agent at listenerPath with the container's state.
pub fn forward_seccomp_listener(
    ch: &Channel,
    spec: &Spec,
    state: &oci_spec::runtime::State,
    pid: i32,
) -> Result<()> {
    let fd = terminal::recv_fd(ch.raw())?;
    let sc = spec
        .linux()
        .as_ref()
        .and_then(|l| l.seccomp().as_ref())
        .ok_or_else(|| Error::Init("a seccomp listener without a seccomp config".into()))?;
    step(
        || "send seccomp listener to the agent".into(),
        || crate::seccomp::send_listener(sc, std::os::fd::AsFd::as_fd(&fd), pid, state),
    )?;
    Ok(())
}

/// Blocks on the exec fifo until `start` opens it, then tells `start` we are going.
fn wait_for_start(dir: &OwnedFd) -> Result<()> {
    let fd = step(
        || "open exec.fifo for writing (blocks until start)".into(),
        || {
            nix::fcntl::openat(
                dir,
                crate::state::EXEC_FIFO,
                nix::fcntl::OFlag::O_WRONLY | nix::fcntl::OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
        },
    )
    .map_err(sys("open exec fifo"))?;
    nix::unistd::write(&fd, &[0]).map_err(sys("write exec fifo"))?;
    // Kept open until the exec closes it (O_CLOEXEC): `start` waits for that end
    // of file before the poststart hooks, which the spec runs "after the
    // user-specified process is executed".
    let _ = std::os::fd::IntoRawFd::into_raw_fd(fd);
    Ok(())
}
