//! seccomp filters loaded for real (as root) and the kernel's answers observed.
//!
//! A seccomp filter attaches to the thread that loads it (without
//! SECCOMP_FILTER_FLAG_TSYNC) and is inherited by the threads and processes that
//! thread creates, across execve. So each test loads its filter in a thread of its
//! own, makes the calls there or spawns busybox from there, and the filter ends with
//! the thread: no fork of the multi-threaded harness is needed, and no other test
//! sees the filter. That thread is exactly the container's init in miniature.

use std::fs;
use std::io::IoSliceMut;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use berth_runtime::seccomp::{self, ProfileTarget, docker_default_profile};
use nix::errno::Errno;
use nix::unistd::Whence;
use oci_spec::runtime::{LinuxSeccomp, State};

const BUSYBOX: &str = "/bin/busybox";

/// A directory removed when the test ends, whatever happens.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        // A counter, not the clock: a coarse guest clock gives two tests one name.
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let p = std::env::temp_dir().join(format!(
            "berth-seccomp-{tag}-{}-{n}",
            std::process::id()
        ));
        fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "seccomp host tests load filters without no_new_privs and need root"
    );
}

fn profile(json: serde_json::Value) -> LinuxSeccomp {
    serde_json::from_value(json).unwrap()
}

/// Runs `f` in a new thread that first loads `filter`, and returns what `f` returns.
fn with_filter<T: Send + 'static>(
    filter: LinuxSeccomp,
    f: impl FnOnce(Option<OwnedFd>) -> T + Send + 'static,
) -> T {
    std::thread::spawn(move || {
        let fd = seccomp::load(&filter).expect("load the filter");
        f(fd)
    })
    .join()
    .expect("the filtered thread panicked")
}

fn busybox(args: &[&str]) -> Output {
    Command::new(BUSYBOX).args(args).output().unwrap()
}

fn describe(o: &Output) -> String {
    format!(
        "status {:?}, stdout {:?}, stderr {:?}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn seccomp_line(status: &str, key: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
}

#[test]
fn mkdir_denied_with_eperm_everything_else_allowed() {
    require_root();
    let dir = TempDir::new("mkdir");
    let base = dir.0.clone();
    let filter = profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]
    }));
    let (direct, other_calls, status, bb_mkdir, bb_ls) = with_filter(filter, move |fd| {
        assert!(fd.is_none(), "no notify rule, no listener fd");
        let direct = fs::create_dir(base.join("direct")).map_err(|e| e.raw_os_error());
        let other_calls = fs::write(base.join("file"), b"still allowed")
            .and_then(|_| fs::read(base.join("file")));
        let status = fs::read_to_string("/proc/thread-self/status").unwrap();
        let bb_mkdir = busybox(&["mkdir", base.join("spawned").to_str().unwrap()]);
        let bb_ls = busybox(&["ls", "/"]);
        (direct, other_calls, status, bb_mkdir, bb_ls)
    });
    assert_eq!(direct, Err(Some(libc::EPERM)));
    assert_eq!(other_calls.unwrap(), b"still allowed");
    assert_eq!(seccomp_line(&status, "Seccomp:"), "2", "filter mode");
    assert!(!dir.0.join("direct").exists());
    assert!(!bb_mkdir.status.success(), "{}", describe(&bb_mkdir));
    assert!(
        String::from_utf8_lossy(&bb_mkdir.stderr).contains("Operation not permitted"),
        "{}",
        describe(&bb_mkdir)
    );
    assert!(!dir.0.join("spawned").exists());
    assert!(bb_ls.status.success(), "{}", describe(&bb_ls));
    // The filter stayed with its thread.
    fs::create_dir(dir.0.join("after")).unwrap();
}

/// Every action, observed on `busybox mkdir` run under it.
#[test]
fn each_action_does_what_it_says() {
    use std::os::unix::process::ExitStatusExt;
    require_root();
    let dir = TempDir::new("actions");
    for (action, expect) in [
        ("SCMP_ACT_KILL_PROCESS", "SIGSYS"),
        ("SCMP_ACT_KILL_THREAD", "SIGSYS"),
        ("SCMP_ACT_KILL", "SIGSYS"),
        ("SCMP_ACT_TRAP", "SIGSYS"),
        // No tracer attached: the kernel answers ENOSYS.
        ("SCMP_ACT_TRACE", "Function not implemented"),
        ("SCMP_ACT_ERRNO", "Operation not permitted"),
        ("SCMP_ACT_LOG", "made"),
    ] {
        let target = dir.0.join(action);
        let filter = profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": action}]
        }));
        let (t, cwd) = (target.clone(), dir.0.clone());
        // In the temporary directory: a core dump of the killed busybox lands there.
        let out = with_filter(filter, move |_| {
            Command::new(BUSYBOX)
                .arg("mkdir")
                .arg(&t)
                .current_dir(cwd)
                .output()
                .unwrap()
        });
        let seen = match out.status.signal() {
            Some(libc::SIGSYS) => "SIGSYS".to_string(),
            Some(other) => format!("signal {other}"),
            None if out.status.success() && target.is_dir() => "made".to_string(),
            None => String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        assert!(
            seen.contains(expect),
            "{action}: {seen:?}, {}",
            describe(&out)
        );
    }
}

#[test]
fn argument_conditions_are_anded_and_same_argument_conditions_ored() {
    require_root();
    let dir = TempDir::new("args");
    let path = dir.0.join("f");
    fs::write(&path, vec![0u8; 4096]).unwrap();
    let filter = profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            // personality: only the query (0xffffffff) is allowed.
            {"names": ["personality"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 0, "value": 0xffffffffu64, "op": "SCMP_CMP_NE"}]},
            // lseek to offset 7 from the start: both conditions must hold.
            {"names": ["lseek"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EDOM,
             "args": [{"index": 1, "value": 7, "op": "SCMP_CMP_EQ"},
                      {"index": 2, "value": libc::SEEK_SET, "op": "SCMP_CMP_EQ"}]},
            // lseek to 100 or 200: one argument twice, each its own rule (runc).
            {"names": ["lseek"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::ERANGE,
             "args": [{"index": 1, "value": 100, "op": "SCMP_CMP_EQ"},
                      {"index": 1, "value": 200, "op": "SCMP_CMP_EQ"}]},
            // lseek beyond 1000 with the low byte 0x10: masked equality.
            {"names": ["lseek"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EXDEV,
             "args": [{"index": 1, "value": 0xff, "valueTwo": 0x10, "op": "SCMP_CMP_MASKED_EQ"}]}
        ]
    }));
    let results = with_filter(filter, move |_| {
        let file = fs::File::open(&path).unwrap();
        let seek = |off: i64, whence: Whence| nix::unistd::lseek(&file, off, whence);
        vec![
            (
                "personality query",
                nix::sys::personality::get().map(|p| p.bits() as i64),
            ),
            (
                "personality set",
                nix::sys::personality::set(nix::sys::personality::Persona::empty())
                    .map(|p| p.bits() as i64),
            ),
            ("lseek 7 SET", seek(7, Whence::SeekSet)),
            ("lseek 7 CUR", seek(7, Whence::SeekCur).map(|_| 0)),
            ("lseek 3 SET", seek(3, Whence::SeekSet)),
            ("lseek 100", seek(100, Whence::SeekSet)),
            ("lseek 200", seek(200, Whence::SeekSet)),
            ("lseek 150", seek(150, Whence::SeekSet)),
            ("lseek 0x110", seek(0x110, Whence::SeekSet)),
            ("lseek 0x111", seek(0x111, Whence::SeekSet)),
        ]
    });
    let expect: &[(&str, Result<i64, Errno>)] = &[
        ("personality query", Ok(0)),
        ("personality set", Err(Errno::EPERM)),
        ("lseek 7 SET", Err(Errno::EDOM)),
        ("lseek 7 CUR", Ok(0)),
        ("lseek 3 SET", Ok(3)),
        ("lseek 100", Err(Errno::ERANGE)),
        ("lseek 200", Err(Errno::ERANGE)),
        ("lseek 150", Ok(150)),
        ("lseek 0x110", Err(Errno::EXDEV)),
        ("lseek 0x111", Ok(0x111)),
    ];
    assert_eq!(results, expect);
}

#[test]
fn docker_default_profile_denies_namespaces_mount_and_keyctl() {
    require_root();
    let dir = TempDir::new("docker");
    let target = dir.0.join("mnt");
    fs::create_dir(&target).unwrap();
    let filter = docker_default_profile(&ProfileTarget::host_docker_defaults()).unwrap();
    let t = target.clone();
    let (unshare, mount, ls, sh, chroot, keyctl, unshare_direct, status) =
        with_filter(filter, move |_| {
            let unshare = busybox(&["unshare", "-U", "true"]);
            let mount = busybox(&["mount", "-t", "tmpfs", "none", t.to_str().unwrap()]);
            let ls = busybox(&["ls", "/"]);
            let sh = busybox(&["sh", "-c", "echo $((6 * 7)) | cat; sleep 0"]);
            let chroot = busybox(&["chroot", "/", BUSYBOX, "true"]);
            // SAFETY: keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0) takes
            // integers only and touches no memory of ours.
            let r = unsafe { libc::syscall(libc::SYS_keyctl, 0, -3, 0) };
            let keyctl = Errno::result(r).map(drop);
            let unshare_direct = nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS);
            let status = fs::read_to_string("/proc/thread-self/status").unwrap();
            (
                unshare,
                mount,
                ls,
                sh,
                chroot,
                keyctl,
                unshare_direct,
                status,
            )
        });
    let mounted = fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .contains(target.to_str().unwrap());
    if mounted {
        let _ = nix::mount::umount(&target);
    }
    assert!(!mounted, "the tmpfs mount went through");
    // busybox words EPERM as "Operation not permitted", or for mount as
    // "permission denied (are you root?)" (we are: it is the filter).
    for (what, o) in [("unshare -U", &unshare), ("mount", &mount)] {
        let err = String::from_utf8_lossy(&o.stderr).to_lowercase();
        assert!(!o.status.success(), "{what}: {}", describe(o));
        assert!(
            err.contains("operation not permitted") || err.contains("permission denied"),
            "{what}: {}",
            describe(o)
        );
    }
    assert!(ls.status.success(), "ls: {}", describe(&ls));
    assert!(String::from_utf8_lossy(&ls.stdout).contains("proc"));
    assert!(sh.status.success(), "sh: {}", describe(&sh));
    assert_eq!(String::from_utf8_lossy(&sh.stdout), "42\n");
    assert!(
        chroot.status.success(),
        "chroot (CAP_SYS_CHROOT is a default): {}",
        describe(&chroot)
    );
    assert_eq!(keyctl, Err(Errno::EPERM));
    assert_eq!(unshare_direct, Err(Errno::EPERM));
    assert_eq!(seccomp_line(&status, "Seccomp:"), "2");
}

/// An i386 system call made with `int 0x80` from this 64-bit process: the kernel
/// shows it to seccomp as AUDIT_ARCH_I386, the x86 sub-architecture. Returns the
/// raw result (a negative errno on failure).
#[cfg(target_arch = "x86_64")]
fn int80(nr: u32, arg0: u32, arg1: u32) -> i32 {
    let ret: i32;
    // SAFETY: the i386 calls used here (getpid, mkdir with a NULL path, unshare with
    // flags) take integers only or fail on the NULL pointer before touching memory;
    // rbx, which LLVM reserves, is swapped in and restored around the trap.
    unsafe {
        std::arch::asm!(
            "xchg {a0:r}, rbx",
            "int 0x80",
            "xchg {a0:r}, rbx",
            a0 = inout(reg) u64::from(arg0) => _,
            inlateout("eax") nr as i32 => ret,
            in("ecx") arg1,
            options(nostack),
        );
    }
    ret
}

/// Whether this kernel runs i386 system calls (IA32 emulation is a build and boot
/// option); without it the x86 sub-architecture cannot be observed.
#[cfg(target_arch = "x86_64")]
fn ia32_works() -> bool {
    int80(20, 0, 0) == std::process::id() as i32
}

#[cfg(target_arch = "x86_64")]
#[test]
fn x86_sub_architecture_is_filtered_too() {
    require_root();
    if !ia32_works() {
        eprintln!("skipped: this kernel has no IA32 emulation");
        return;
    }
    const MKDIR_I386: u32 = 39;
    const UNSHARE_I386: u32 = 310;
    // Without a filter a NULL path fails with EFAULT: EPERM can only be the filter's.
    assert_eq!(int80(MKDIR_I386, 0, 0o755), -libc::EFAULT);
    let filter = profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]
    }));
    let (mkdir, getpid) = with_filter(filter, |_| (int80(MKDIR_I386, 0, 0o755), int80(20, 0, 0)));
    assert_eq!(mkdir, -libc::EPERM);
    assert_eq!(getpid, std::process::id() as i32);

    let docker = docker_default_profile(&ProfileTarget::host_docker_defaults()).unwrap();
    let (unshare, getpid) = with_filter(docker, |_| {
        (
            int80(UNSHARE_I386, libc::CLONE_NEWUTS as u32, 0),
            int80(20, 0, 0),
        )
    });
    assert_eq!(unshare, -libc::EPERM);
    assert_eq!(getpid, std::process::id() as i32);
}

#[test]
fn syscalls_newer_than_the_profile_get_enosys_older_ones_the_default() {
    require_root();
    let docker = docker_default_profile(&ProfileTarget::host_docker_defaults()).unwrap();
    let (newer, keyctl) = with_filter(docker, |_| {
        // SAFETY: no syscall has number 1000 on any architecture yet; the kernel
        // only looks at the number.
        let newer = Errno::result(unsafe { libc::syscall(1000) });
        // SAFETY: keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0): integers.
        let keyctl = Errno::result(unsafe { libc::syscall(libc::SYS_keyctl, 0, -3, 0) });
        (newer, keyctl)
    });
    // Without the stub the default action would answer EPERM.
    assert_eq!(newer, Err(Errno::ENOSYS));
    assert_eq!(
        keyctl,
        Err(Errno::EPERM),
        "left out on purpose: the default answer"
    );
}

#[test]
fn notify_returns_a_listener_fd_that_send_listener_hands_to_the_agent() {
    require_root();
    let dir = TempDir::new("notify");
    let socket = dir.0.join("agent.sock");
    let file = dir.0.join("f");
    fs::write(&file, b"x").unwrap();
    let agent = UnixListener::bind(&socket).unwrap();
    let filter = profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": socket,
        "listenerMetadata": "berth-test",
        "syscalls": [{"names": ["lseek"], "action": "SCMP_ACT_NOTIFY"}]
    }));
    let state: State = serde_json::from_value(serde_json::json!({
        "ociVersion": "1.2.0", "id": "seccomp-notify", "status": "creating",
        "pid": std::process::id(), "bundle": dir.0
    }))
    .unwrap();
    let pid = std::process::id() as i32;
    let filtered = std::thread::spawn(move || {
        let fd = seccomp::load(&filter)
            .expect("load")
            .expect("a notify rule yields a listener fd");
        seccomp::send_listener(&filter, fd.as_fd(), pid, &state).expect("send_listener");
        drop(fd);
        // A thread of the filtered one: its lseek waits for the agent's answer.
        std::thread::spawn(move || {
            let f = fs::File::open(&file).unwrap();
            nix::unistd::lseek(&f, 1, Whence::SeekSet)
        })
        .join()
        .unwrap()
    });

    let (conn, _) = agent.accept().unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let mut iov = [IoSliceMut::new(&mut buf)];
    let msg = nix::sys::socket::recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        nix::sys::socket::MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .unwrap();
    let mut fds = Vec::new();
    for c in msg.cmsgs().unwrap() {
        if let nix::sys::socket::ControlMessageOwned::ScmRights(r) = c {
            fds.extend(r);
        }
    }
    let len = msg.bytes;
    assert_eq!(fds.len(), 1, "one fd over SCM_RIGHTS");
    // SAFETY: the kernel just installed this descriptor for us (SCM_RIGHTS).
    let listener = unsafe { OwnedFd::from_raw_fd(fds[0]) };
    let sent: serde_json::Value = serde_json::from_slice(&buf[..len]).unwrap();
    assert_eq!(sent["fds"], serde_json::json!(["seccompFd"]));
    assert_eq!(sent["pid"], serde_json::json!(pid));
    assert_eq!(sent["metadata"], "berth-test");
    assert_eq!(sent["state"]["id"], "seccomp-notify");
    assert_eq!(sent["state"]["status"], "creating");

    let req = libseccomp::ScmpNotifReq::receive(listener.as_raw_fd()).unwrap();
    assert_eq!(
        req.data.syscall,
        libseccomp::ScmpSyscall::from_name("lseek").unwrap()
    );
    assert_eq!(
        req.data.args[1], 1,
        "the offset the filtered thread asked for"
    );
    libseccomp::ScmpNotifResp::new_val(req.id, 4242, libseccomp::ScmpNotifRespFlags::empty())
        .respond(listener.as_raw_fd())
        .unwrap();
    assert_eq!(filtered.join().unwrap(), Ok(4242), "the agent's answer");
}

#[test]
fn without_no_new_privs_or_cap_sys_admin_load_says_what_to_do() {
    require_root();
    let filter = profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]
    }));
    let (denied, with_nnp) = std::thread::spawn(move || {
        // Capabilities and no_new_privs are per thread: this changes only this one.
        caps::drop(
            None,
            caps::CapSet::Effective,
            caps::Capability::CAP_SYS_ADMIN,
        )
        .unwrap();
        let denied = seccomp::load(&filter).map(drop).map_err(|e| e.to_string());
        nix::sys::prctl::set_no_new_privs().unwrap();
        let with_nnp = seccomp::load(&filter).map(drop).map_err(|e| e.to_string());
        (denied, with_nnp)
    })
    .join()
    .unwrap();
    assert_eq!(
        denied,
        Err(
            "seccomp: loading a filter needs no_new_privs or CAP_SYS_ADMIN: without \
             noNewPrivileges, load it before dropping capabilities"
                .to_string()
        )
    );
    assert_eq!(with_nnp, Ok(()));
}

#[test]
fn flags_load_and_unknown_syscalls_and_default_action_rules_are_skipped() {
    require_root();
    let dir = TempDir::new("flags");
    let base = dir.0.clone();
    let filter = profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": libc::EACCES,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
        "syscalls": [
            {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EACCES},
            {"names": ["no_such_syscall_in_any_kernel", "mkdir"], "action": "SCMP_ACT_LOG"},
            {"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::ENOTSUP},
            {"names": [
                "read", "write", "openat", "close", "mmap", "munmap", "mprotect",
                "futex", "exit", "exit_group", "sigaltstack", "rt_sigprocmask",
                "madvise", "sched_yield", "rseq", "set_robust_list", "statx",
                "newfstatat", "fstat", "getrandom", "brk", "mremap"
            ], "action": "SCMP_ACT_ALLOW"}
        ]
    }));
    let (mkdir, getpid, other) = with_filter(filter, move |_| {
        let mkdir = fs::create_dir(base.join("logged")).map_err(|e| e.raw_os_error());
        // SAFETY: getpid takes no arguments; the raw call avoids any caching wrapper.
        let getpid = Errno::result(unsafe { libc::syscall(libc::SYS_getpid) });
        // SAFETY: getppid takes no arguments.
        let other = Errno::result(unsafe { libc::syscall(libc::SYS_getppid) });
        (mkdir, getpid, other)
    });
    // The LOG rule on mkdir won (the ERRNO rule equal to the default was skipped);
    // its unknown first name did not stop it.
    assert_eq!(mkdir, Ok(()));
    assert!(dir.0.join("logged").is_dir());
    assert_eq!(getpid, Err(Errno::ENOTSUP));
    assert_eq!(other, Err(Errno::EACCES), "defaultErrnoRet");
}

#[test]
fn refused_configs_name_the_rule() {
    let cases = [
        (
            serde_json::json!({"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/x"}),
            "seccomp: SCMP_ACT_NOTIFY cannot be the default action",
        ),
        (
            serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_NOTIFY"}]}),
            "seccomp: a rule uses SCMP_ACT_NOTIFY but listenerPath is not set",
        ),
        (
            serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/x",
                "syscalls": [{"names": ["write"], "action": "SCMP_ACT_NOTIFY"}]}),
            "seccomp: SCMP_ACT_NOTIFY cannot be used for syscall write: the container's \
             init needs it to hand over the listener fd",
        ),
        (
            serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/x",
                "syscalls": [{"names": ["getpid", "sendmsg"], "action": "SCMP_ACT_NOTIFY"}]}),
            "seccomp: SCMP_ACT_NOTIFY cannot be used for syscall sendmsg: the container's \
             init needs it to hand over the listener fd",
        ),
        (
            serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["kill"], "action": "SCMP_ACT_ERRNO",
                    "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}),
            "seccomp: argument index 6 of syscall kill is out of range (0 to 5)",
        ),
        (
            serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["kill"], "action": "SCMP_ACT_KILL", "errnoRet": 1}]}),
            "seccomp: errnoRet 1 of syscall kill is only allowed with SCMP_ACT_ERRNO or \
             SCMP_ACT_TRACE, not SCMP_ACT_KILL",
        ),
    ];
    let cases = cases.into_iter().chain([(
        serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": [], "action": "SCMP_ACT_ERRNO"}]}),
        "seccomp: a rule with action SCMP_ACT_ERRNO names no syscall",
    )]);
    for (json, want) in cases {
        let err = seccomp::compile(&profile(json)).unwrap_err();
        assert_eq!(err.to_string(), want);
    }
}

#[test]
fn wait_killable_recv_is_passed_to_the_kernel_with_a_listener() {
    require_root();
    let dir = TempDir::new("waitkill");
    let filter = profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": dir.0.join("agent.sock"),
        "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", "SECCOMP_FILTER_FLAG_TSYNC"],
        "syscalls": [{"names": ["mknodat"], "action": "SCMP_ACT_NOTIFY"}]
    }));
    let program = seccomp::Program::compile(&filter).unwrap();
    assert_eq!(
        program.flags(),
        libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
            | libc::SECCOMP_FILTER_FLAG_TSYNC
            | libc::SECCOMP_FILTER_FLAG_TSYNC_ESRCH
            | libc::SECCOMP_FILTER_FLAG_NEW_LISTENER
    );
    // TSYNC would reach the harness's other threads: load the same program without
    // it, in a thread of its own.
    let mut single = filter.clone();
    single.set_flags(Some(vec![
        oci_spec::runtime::LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv,
    ]));
    let release = rustix::system::uname()
        .release()
        .to_string_lossy()
        .into_owned();
    let mut v = release
        .split(['.', '-'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let kernel = (v.next().unwrap_or(0), v.next().unwrap_or(0));
    let loaded = std::thread::spawn(move || {
        seccomp::Program::compile(&single)
            .unwrap()
            .load()
            .map(|fd| fd.is_some())
            .map_err(|e| e.to_string())
    })
    .join()
    .unwrap();
    if kernel >= (5, 19) {
        assert_eq!(loaded, Ok(true), "kernel {release}");
    } else {
        let e = loaded.unwrap_err();
        assert!(e.contains("WAIT_KILLABLE_RECV"), "{e}");
    }
}

/// The cache gives back the program libseccomp made, refuses an entry made for
/// another key, and a program from it filters like a fresh one.
#[test]
fn cached_programs_are_reused_only_for_their_own_profile() {
    require_root();
    let dir = TempDir::new("cache");
    let cache = dir.0.join("cache");
    let work = dir.0.join("work");
    fs::create_dir(&work).unwrap();
    let deny_mkdir = profile(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EROFS}]
    }));
    let fresh = seccomp::Program::compile(&deny_mkdir).unwrap();
    let first = seccomp::Program::cached(&deny_mkdir, &cache).unwrap();
    let entries: Vec<_> = fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(entries.len(), 1, "one entry stored");
    let second = seccomp::Program::cached(&deny_mkdir, &cache).unwrap();
    assert_eq!(format!("{first:?}"), format!("{fresh:?}"));
    assert_eq!(format!("{second:?}"), format!("{fresh:?}"));

    // An entry under this profile's name but made for another profile is not used.
    let allow_all = profile(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW"}));
    let other_dir = dir.0.join("other");
    seccomp::Program::cached(&allow_all, &other_dir).unwrap();
    let other_entry = fs::read_dir(&other_dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    fs::copy(&other_entry, &entries[0]).unwrap();
    let third = seccomp::Program::cached(&deny_mkdir, &cache).unwrap();
    assert_eq!(third.instructions(), fresh.instructions());

    let w = work.clone();
    let made = std::thread::spawn(move || {
        third.load().unwrap();
        fs::create_dir(w.join("d")).map_err(|e| e.raw_os_error())
    })
    .join()
    .unwrap();
    assert_eq!(made, Err(Some(libc::EROFS)));
}

/// Compiling Docker's default profile is on every container start: report its cost
/// (run with --nocapture to see it) and keep it far from a start's budget.
#[test]
fn docker_default_profile_compiles_quickly() {
    let profile = docker_default_profile(&ProfileTarget::host_docker_defaults()).unwrap();
    let instructions = seccomp::Program::compile(&profile).unwrap().instructions();
    let mut times = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        let f = seccomp::compile(&profile).unwrap();
        times.push(t.elapsed());
        drop(f);
    }
    times.sort();
    let median = times[times.len() / 2];
    let cache = TempDir::new("timing");
    seccomp::Program::cached(&profile, &cache.0).unwrap();
    let mut hits = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        let p = seccomp::Program::cached(&profile, &cache.0).unwrap();
        hits.push(t.elapsed());
        drop(p);
    }
    hits.sort();
    let hit = hits[hits.len() / 2];
    let (compile_load, cached_load) = std::thread::spawn(move || {
        let t = Instant::now();
        seccomp::load(&profile).unwrap();
        let compile_load = t.elapsed();
        let p = seccomp::Program::cached(&profile, &cache.0).unwrap();
        let t = Instant::now();
        p.load().unwrap();
        (compile_load, t.elapsed())
    })
    .join()
    .unwrap();
    eprintln!(
        "seccomp: docker default profile, {} bpf instructions: libseccomp rules min {:?} \
         median {:?}; compile+load {:?}; from cache: read median {:?}, load {:?}",
        instructions, times[0], median, compile_load, hit, cached_load
    );
    // Generous for debug builds on a loaded CI machine; release is far below.
    assert!(
        median < Duration::from_millis(20),
        "median compile {median:?}"
    );
}
