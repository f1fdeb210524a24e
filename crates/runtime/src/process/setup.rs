//! The last steps before a container process execs, shared by a container's init and
//! by `exec`: rlimits, personality, the uid/gid switch with capabilities around it,
//! no_new_privs, the working directory, and finding the executable.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{PosixRlimitType, Process};

use crate::capabilities;
use crate::error::{Error, Result, sys};
use crate::explain::step;
use crate::sys as raw;

/// What execve needs, resolved inside the container.
pub struct ExecTarget {
    /// Absolute path of the executable.
    pub path: CString,
    /// argv.
    pub args: Vec<CString>,
    /// envp.
    pub env: Vec<CString>,
}

fn rlimit_resource(t: PosixRlimitType) -> u32 {
    use PosixRlimitType::*;
    // libc types these u32 on glibc and i32 elsewhere.
    #[allow(clippy::unnecessary_cast)]
    let r = (match t {
        RlimitCpu => libc::RLIMIT_CPU,
        RlimitFsize => libc::RLIMIT_FSIZE,
        RlimitData => libc::RLIMIT_DATA,
        RlimitStack => libc::RLIMIT_STACK,
        RlimitCore => libc::RLIMIT_CORE,
        RlimitRss => libc::RLIMIT_RSS,
        RlimitNproc => libc::RLIMIT_NPROC,
        RlimitNofile => libc::RLIMIT_NOFILE,
        RlimitMemlock => libc::RLIMIT_MEMLOCK,
        RlimitAs => libc::RLIMIT_AS,
        RlimitLocks => libc::RLIMIT_LOCKS,
        RlimitSigpending => libc::RLIMIT_SIGPENDING,
        RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        RlimitNice => libc::RLIMIT_NICE,
        RlimitRtprio => libc::RLIMIT_RTPRIO,
        RlimitRttime => libc::RLIMIT_RTTIME,
    }) as u32;
    r
}

/// Applies the process's rlimits. Runs before the uid switch: raising a hard limit
/// needs CAP_SYS_RESOURCE.
pub fn rlimits(process: &Process) -> Result<()> {
    for r in process.rlimits().iter().flatten() {
        let name = r.typ().to_string();
        step(
            || format!("setrlimit {name} soft={} hard={}", r.soft(), r.hard()),
            || raw::setrlimit(rlimit_resource(r.typ()), r.soft(), r.hard()),
        )
        .map_err(sys(format!(
            "cannot set {name} to soft {} hard {}",
            r.soft(),
            r.hard()
        )))?;
    }
    Ok(())
}

/// Switches to the configured user and groups, applying capabilities around the
/// switch, then no_new_privs, the seccomp filter and the umask. Returns the seccomp
/// notify listener when the filter has SCMP_ACT_NOTIFY rules.
///
/// The filter goes last when no_new_privs is set; without it the kernel accepts a
/// filter only from a process holding CAP_SYS_ADMIN, so it goes first, while we still
/// have every capability (the profile must then allow the setup's remaining syscalls,
/// as Docker's does) — runc's order.
pub fn identity(
    process: &Process,
    setgroups_allowed: bool,
    seccomp: Option<&crate::seccomp::Program>,
) -> Result<Option<std::os::fd::OwnedFd>> {
    let nnp = process.no_new_privileges() == Some(true);
    let mut listener = None;
    if let Some(sc) = seccomp
        && !nnp
    {
        listener = step(|| "seccomp: load filter (before dropping privileges)".into(), || sc.load())?;
    }
    let user = process.user();
    let sets = process
        .capabilities()
        .as_ref()
        .map(capabilities::Sets::from_spec)
        .unwrap_or_default();
    capabilities::drop_bounding(&sets.bounding)?;
    raw::set_keep_caps(true).map_err(sys("prctl(PR_SET_KEEPCAPS)"))?;
    if setgroups_allowed {
        let gids = user.additional_gids().clone().unwrap_or_default();
        step(
            || format!("setgroups {gids:?}"),
            || raw::setgroups(&gids),
        )
        .map_err(sys(format!("cannot set additional groups {gids:?}")))?;
    }
    let (uid, gid) = (user.uid(), user.gid());
    step(
        || format!("setresgid {gid}"),
        || nix::unistd::setresgid(gid.into(), gid.into(), gid.into()),
    )
    .map_err(sys(format!("cannot switch to gid {gid}")))?;
    step(
        || format!("setresuid {uid}"),
        || nix::unistd::setresuid(uid.into(), uid.into(), uid.into()),
    )
    .map_err(sys(format!("cannot switch to uid {uid}")))?;
    raw::set_keep_caps(false).map_err(sys("prctl(PR_SET_KEEPCAPS, 0)"))?;
    capabilities::apply(&sets)?;
    if nnp {
        step(|| "prctl PR_SET_NO_NEW_PRIVS".into(), raw::set_no_new_privs)
            .map_err(sys("prctl(PR_SET_NO_NEW_PRIVS)"))?;
        if let Some(sc) = seccomp {
            listener = step(|| "seccomp: load filter".into(), || sc.load())?;
        }
    }
    if let Some(mask) = user.umask() {
        raw::umask(mask);
    } else {
        raw::umask(0o022);
    }
    Ok(listener)
}

/// Changes into the process's working directory (inside the container).
pub fn cwd(process: &Process) -> Result<()> {
    let cwd = process.cwd();
    step(|| format!("chdir {}", cwd.display()), || nix::unistd::chdir(cwd)).map_err(sys(
        format!("chdir to cwd (\"{}\") set in config.json failed", cwd.display()),
    ))
}

/// The value of PATH in `env`, or the usual default.
fn env_path(env: &[String]) -> &str {
    env.iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
}

fn executable(p: &Path) -> bool {
    nix::unistd::access(p, nix::unistd::AccessFlags::X_OK).is_ok()
        && std::fs::metadata(p).is_ok_and(|m| m.is_file())
}

/// Finds `name` the way a shell does: as given when it contains a slash, otherwise
/// in the directories of PATH. Errors say "not found" (exit 127 territory) or
/// "permission denied" (126).
pub fn find_executable(name: &str, env: &[String]) -> Result<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return match std::fs::metadata(&p) {
            Ok(m) if m.is_dir() => Err(Error::Init(format!(
                "exec: \"{name}\": is a directory"
            ))),
            Ok(_) if executable(&p) => Ok(p),
            Ok(_) => Err(Error::Init(format!("exec: \"{name}\": permission denied"))),
            Err(_) => Err(Error::Init(format!(
                "exec: \"{name}\": stat {name}: no such file or directory"
            ))),
        };
    }
    for dir in env_path(env).split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let p = Path::new(dir).join(name);
        if executable(&p) {
            return Ok(p);
        }
    }
    Err(Error::Init(format!(
        "exec: \"{name}\": executable file not found in $PATH"
    )))
}

/// Resolves the executable and builds argv/envp. Runs after the uid switch so that
/// permission checks are the process's own.
pub fn exec_target(process: &Process) -> Result<ExecTarget> {
    let args = process.args().clone().unwrap_or_default();
    let env = process.env().clone().unwrap_or_default();
    let first = args
        .first()
        .ok_or_else(|| Error::Spec("process.args must not be empty".into()))?;
    let path = find_executable(first, &env)?;
    let cstr = |s: &[u8]| {
        CString::new(s).map_err(|_| Error::Spec("a NUL byte in process args or env".into()))
    };
    Ok(ExecTarget {
        path: cstr(path.as_os_str().as_bytes())?,
        args: args.iter().map(|a| cstr(a.as_bytes())).collect::<Result<_>>()?,
        env: env.iter().map(|e| cstr(e.as_bytes())).collect::<Result<_>>()?,
    })
}

/// Execs the target; on failure prints why (the caller has no other way to learn
/// it once the handshake is over) and exits 127 or 126 as a shell would.
pub fn exec(t: &ExecTarget) -> ! {
    crate::explain::note(|| format!("execve {}", t.path.to_string_lossy()));
    raw::reset_signals();
    let e = raw::execve(&t.path, &t.args, &t.env);
    let code = if e == nix::errno::Errno::ENOENT { 127 } else { 126 };
    eprintln!(
        "berth-runtime: exec {}: {}",
        t.path.to_string_lossy(),
        crate::error::errno_text(e)
    );
    raw::exit_now(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_executable_searches_path_and_reports_like_a_shell() {
        let env = vec!["PATH=/nonexistent:/bin:/usr/bin".to_string()];
        assert!(find_executable("sh", &env).unwrap().ends_with("sh"));
        let e = find_executable("no-such-program-berth", &env).unwrap_err().to_string();
        assert!(e.contains("executable file not found in $PATH"), "{e}");
        let e = find_executable("/no/such", &env).unwrap_err().to_string();
        assert!(e.contains("no such file"), "{e}");
        let e = find_executable("/", &env).unwrap_err().to_string();
        assert!(e.contains("is a directory"), "{e}");
    }
}

/// Parses a CPU list such as "0-3,7" into CPU numbers.
pub fn parse_cpu_list(s: &str) -> Result<Vec<usize>> {
    let bad = || Error::Spec(format!("invalid CPU list {s:?}: use numbers and ranges like 0-3,7"));
    let mut v = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
                if a > b {
                    return Err(bad());
                }
                v.extend(a..=b);
            }
            None => v.push(part.parse().map_err(|_| bad())?),
        }
    }
    if v.is_empty() || v.iter().any(|c| *c >= libc::CPU_SETSIZE as usize) {
        return Err(bad());
    }
    Ok(v)
}

/// I/O priority, scheduling policy and the CPU affinity the process starts with.
pub fn scheduling(process: &Process) -> Result<()> {
    use oci_spec::runtime::{IOPriorityClass, LinuxSchedulerFlag, LinuxSchedulerPolicy};
    if let Some(io) = process.io_priority() {
        let class = match io.class() {
            IOPriorityClass::IoprioClassRt => 1,
            IOPriorityClass::IoprioClassBe => 2,
            IOPriorityClass::IoprioClassIdle => 3,
        };
        let level = io.priority();
        if !(0..=7).contains(&level) {
            return Err(Error::Spec(format!("ioPriority.priority {level} is outside 0-7")));
        }
        step(
            || format!("ioprio_set class={} level={level}", io.class()),
            || raw::ioprio_set_self(class, level as u32),
        )
        .map_err(sys(format!("cannot set I/O priority {} {level}", io.class())))?;
    }
    if let Some(s) = process.scheduler() {
        let policy = match s.policy() {
            LinuxSchedulerPolicy::SchedOther => 0,
            LinuxSchedulerPolicy::SchedFifo => 1,
            LinuxSchedulerPolicy::SchedRr => 2,
            LinuxSchedulerPolicy::SchedBatch => 3,
            LinuxSchedulerPolicy::SchedIso => 4,
            LinuxSchedulerPolicy::SchedIdle => 5,
            LinuxSchedulerPolicy::SchedDeadline => 6,
        };
        let flags = s.flags().iter().flatten().fold(0u64, |acc, f| {
            acc | match f {
                LinuxSchedulerFlag::SchedResetOnFork => 0x01,
                LinuxSchedulerFlag::SchedFlagReclaim => 0x02,
                LinuxSchedulerFlag::SchedFlagDLOverrun => 0x04,
                LinuxSchedulerFlag::SchedFlagKeepPolicy => 0x08,
                LinuxSchedulerFlag::SchedFlagKeepParams => 0x10,
                LinuxSchedulerFlag::SchedFlagUtilClampMin => 0x20,
                LinuxSchedulerFlag::SchedFlagUtilClampMax => 0x40,
            }
        });
        let mut attr = raw::SchedAttr {
            policy,
            flags,
            nice: s.nice().unwrap_or(0),
            priority: s.priority().unwrap_or(0).max(0) as u32,
            runtime: s.runtime().unwrap_or(0),
            deadline: s.deadline().unwrap_or(0),
            period: s.period().unwrap_or(0),
            ..Default::default()
        };
        step(
            || format!("sched_setattr {}", s.policy()),
            || raw::sched_setattr_self(&mut attr),
        )
        .map_err(sys(format!("cannot set scheduler {}", s.policy())))?;
    }
    Ok(())
}

/// The CPU affinity a process gets right before exec (`execCPUAffinity.final`, else
/// `initial`).
pub fn exec_affinity(process: &Process) -> Result<()> {
    let Some(a) = process.exec_cpu_affinity() else {
        return Ok(());
    };
    if let Some(list) = a.cpu_affinity_final().as_ref().or(a.initial().as_ref()) {
        let cpus = parse_cpu_list(list)?;
        step(|| format!("sched_setaffinity {list}"), || raw::set_affinity_self(&cpus))
            .map_err(sys(format!("cannot set CPU affinity {list}")))?;
    }
    Ok(())
}

#[cfg(test)]
mod cpu_tests {
    use super::parse_cpu_list;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-2,5").unwrap(), vec![0, 1, 2, 5]);
        assert_eq!(parse_cpu_list("1").unwrap(), vec![1]);
        assert!(parse_cpu_list("3-1").is_err());
        assert!(parse_cpu_list("x").is_err());
        assert!(parse_cpu_list("").is_err());
    }
}
