//! A compiled filter as plain data (the BPF program and its load flags), loaded with
//! one seccomp(2) call, and an on-disk cache of programs.
//!
//! libseccomp needs milliseconds to turn Docker's default profile into BPF for
//! x86_64, x86 and x32 (measured: about 2.6 ms to build its rule database and 5.8 ms
//! to generate the program). Every container of an engine uses the same few
//! profiles, so the runtime compiles a profile once and keeps the program in its
//! state directory (a tmpfs under /run, cleared at boot): the next start reads it
//! back in microseconds. A cache entry holds the full key it was made for (the
//! profile, libseccomp's version, the kernel release) and is used only when the key
//! matches byte for byte; the file name is only a hash of it.
//!
//! The program is libseccomp's filter behind [`enosys`]'s stub, which answers
//! syscalls newer than the profile with ENOSYS, as runc does.
//!
//! Loading goes through seccomp(2) directly, so that the flags are the config's
//! (WAIT_KILLABLE_RECV works with any libseccomp) and the container's init makes a
//! single system call after dropping privileges, with no allocation.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompFilterFlag};

use super::{Error, enosys, filter, sys};

/// Marks a cache file of this layout.
const MAGIC: &[u8] = b"berth-seccomp-program-v3\n";

/// A filter ready to load: the BPF program, whether it yields a notify listener, and
/// the seccomp(2) flags the config asks for.
#[derive(Clone)]
pub struct Program {
    insns: Vec<libc::sock_filter>,
    notify: bool,
    flags: libc::c_ulong,
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Program")
            .field("instructions", &self.insns.len())
            .field("notify", &self.notify)
            .field("flags", &self.flags)
            .finish()
    }
}

impl Program {
    /// Compiles `seccomp` with libseccomp (see [`filter::compile`] for the rules).
    pub fn compile(seccomp: &LinuxSeccomp) -> Result<Program, Error> {
        let (bpf, notify) = build(seccomp)?;
        Program::from_bpf(&bpf, notify, seccomp)
    }

    /// The program for `seccomp` from the cache in `dir`, or compiled and stored
    /// there. The directory is created (mode 0700) if missing; one that is not
    /// owned by this user or is writable by others is not trusted: the program is
    /// compiled and nothing is read or written there. A failure to store is not an
    /// error: the compiled program is returned all the same.
    pub fn cached(seccomp: &LinuxSeccomp, dir: &Path) -> Result<Program, Error> {
        let key = cache_key(seccomp)?;
        let trusted = trusted_dir(dir);
        let path = dir.join(format!("{:016x}.bpf", hash(&key)));
        if trusted && let Some((notify, bpf)) = read_entry(&path, &key) {
            return Program::from_bpf(&bpf, notify, seccomp);
        }
        let (bpf, notify) = build(seccomp)?;
        let program = Program::from_bpf(&bpf, notify, seccomp)?;
        if trusted {
            let _ = write_entry(&path, &key, notify, &bpf);
        }
        Ok(program)
    }

    fn from_bpf(bpf: &[u8], notify: bool, seccomp: &LinuxSeccomp) -> Result<Program, Error> {
        const INSN: usize = std::mem::size_of::<libc::sock_filter>();
        if bpf.is_empty() || !bpf.len().is_multiple_of(INSN) || bpf.len() / INSN > u16::MAX as usize
        {
            return Err(Error::Config(format!(
                "the compiled program has {} bytes, not a whole number of instructions",
                bpf.len()
            )));
        }
        let insns = bpf
            .chunks_exact(INSN)
            .map(|c| libc::sock_filter {
                code: u16::from_ne_bytes([c[0], c[1]]),
                jt: c[2],
                jf: c[3],
                k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
            })
            .collect();
        Ok(Program {
            insns,
            notify,
            flags: load_flags(seccomp, notify),
        })
    }

    /// Number of BPF instructions.
    pub fn instructions(&self) -> usize {
        self.insns.len()
    }

    /// Whether loading yields a notify listener fd (a rule uses SCMP_ACT_NOTIFY).
    pub fn uses_notify(&self) -> bool {
        self.notify
    }

    /// The seccomp(2) flags the program is loaded with.
    pub fn flags(&self) -> libc::c_ulong {
        self.flags
    }

    /// Loads the program into the calling thread (all threads with TSYNC): one
    /// seccomp(2) call. Returns the notify listener fd (close-on-exec) when a rule
    /// uses SCMP_ACT_NOTIFY. Without no_new_privs the kernel requires CAP_SYS_ADMIN.
    pub fn load(&self) -> Result<Option<OwnedFd>, Error> {
        match sys::seccomp_set_mode_filter(&self.insns, self.flags) {
            Ok(fd) => Ok(if self.notify { fd } else { None }),
            Err(nix::errno::Errno::EACCES) => Err(Error::Config(
                "loading a filter needs no_new_privs or CAP_SYS_ADMIN: without \
                 noNewPrivileges, load it before dropping capabilities"
                    .into(),
            )),
            Err(nix::errno::Errno::EINVAL) if self.flags & OPTIONAL_FLAGS != 0 => {
                Err(Error::Config(format!(
                    "the kernel refused the filter with flags {} (SPEC_ALLOW needs Linux \
                     4.17, WAIT_KILLABLE_RECV 5.19, notify with TSYNC 5.7)",
                    flag_names(self.flags)
                )))
            }
            Err(errno) => Err(Error::Sys {
                what: format!(
                    "load the filter ({} instructions, flags {})",
                    self.insns.len(),
                    flag_names(self.flags)
                ),
                errno,
            }),
        }
    }
}

/// The whole program for `seccomp` as bytes (the ENOSYS stub, then libseccomp's
/// filter) and whether it notifies.
fn build(seccomp: &LinuxSeccomp) -> Result<(Vec<u8>, bool), Error> {
    let f = filter::compile(seccomp)?;
    let mut bpf = Vec::new();
    for i in enosys::stub(seccomp) {
        bpf.extend_from_slice(&i.code.to_ne_bytes());
        bpf.extend_from_slice(&[i.jt, i.jf]);
        bpf.extend_from_slice(&i.k.to_ne_bytes());
    }
    bpf.extend_from_slice(&f.to_bpf()?);
    Ok((bpf, f.uses_notify()))
}

/// Flags a kernel may not know.
const OPTIONAL_FLAGS: libc::c_ulong = libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW
    | libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
    | libc::SECCOMP_FILTER_FLAG_TSYNC_ESRCH;

/// The seccomp(2) flags for a config, as libseccomp would pass them: the config's
/// flags; NEW_LISTENER when a rule notifies; with it, TSYNC_ESRCH instead of the
/// pid that TSYNC would return on failure (the return value is the fd), and
/// WAIT_KILLABLE_RECV only then (the kernel refuses it without a listener).
pub fn load_flags(seccomp: &LinuxSeccomp, notify: bool) -> libc::c_ulong {
    let mut flags = 0;
    let mut wait_killable = false;
    for flag in seccomp.flags().iter().flatten() {
        match flag {
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => {
                flags |= libc::SECCOMP_FILTER_FLAG_TSYNC
            }
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => flags |= libc::SECCOMP_FILTER_FLAG_LOG,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => {
                flags |= libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW
            }
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => wait_killable = true,
        }
    }
    if notify {
        flags |= libc::SECCOMP_FILTER_FLAG_NEW_LISTENER;
        if flags & libc::SECCOMP_FILTER_FLAG_TSYNC != 0 {
            flags |= libc::SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
        }
        if wait_killable {
            flags |= libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
        }
    }
    flags
}

/// Names of the bits in `flags`, for errors.
fn flag_names(flags: libc::c_ulong) -> String {
    let names = [
        (libc::SECCOMP_FILTER_FLAG_TSYNC, "TSYNC"),
        (libc::SECCOMP_FILTER_FLAG_LOG, "LOG"),
        (libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW, "SPEC_ALLOW"),
        (libc::SECCOMP_FILTER_FLAG_NEW_LISTENER, "NEW_LISTENER"),
        (libc::SECCOMP_FILTER_FLAG_TSYNC_ESRCH, "TSYNC_ESRCH"),
        (
            libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
            "WAIT_KILLABLE_RECV",
        ),
    ];
    let set: Vec<&str> = names
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|(_, n)| *n)
        .collect();
    if set.is_empty() {
        "none".into()
    } else {
        set.join("|")
    }
}

/// Everything the compiled program depends on.
fn cache_key(seccomp: &LinuxSeccomp) -> Result<Vec<u8>, Error> {
    let mut key = serde_json::to_vec(seccomp)
        .map_err(|e| Error::Config(format!("cannot encode the profile: {e}")))?;
    let v = libseccomp::ScmpVersion::current()
        .map(|v| format!("{}.{}.{}", v.major, v.minor, v.micro))
        .unwrap_or_default();
    let uname = rustix::system::uname();
    let release = uname.release().to_string_lossy();
    let _ = write!(
        key,
        "\nlibseccomp {v}\nkernel {release}\nberth {}\n",
        env!("CARGO_PKG_VERSION")
    );
    Ok(key)
}

fn hash(bytes: &[u8]) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

/// Whether `dir` can hold programs we will load: ours and writable by us alone.
/// Creates it if missing.
fn trusted_dir(dir: &Path) -> bool {
    if !dir.exists() {
        let _ = std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir);
    }
    match std::fs::symlink_metadata(dir) {
        Ok(m) => {
            m.is_dir() && m.uid() == rustix::process::geteuid().as_raw() && m.mode() & 0o022 == 0
        }
        Err(_) => false,
    }
}

/// The (notify, bpf) of a cache entry whose key is exactly `key`.
fn read_entry(path: &Path, key: &[u8]) -> Option<(bool, Vec<u8>)> {
    let data = std::fs::read(path).ok()?;
    let rest = data.strip_prefix(MAGIC)?;
    let (len, rest) = rest.split_first_chunk::<8>()?;
    let len = usize::try_from(u64::from_le_bytes(*len)).ok()?;
    if rest.len() < len + 1 || &rest[..len] != key {
        return None;
    }
    let notify = match rest[len] {
        0 => false,
        1 => true,
        _ => return None,
    };
    // A torn or damaged program is never loaded: its hash must match.
    let (sum, bpf) = rest[len + 1..].split_first_chunk::<8>()?;
    (u64::from_le_bytes(*sum) == hash(bpf)).then(|| (notify, bpf.to_vec()))
}

/// Stores an entry: written to a temporary file in the same directory, then renamed,
/// so a reader sees a whole entry or none.
fn write_entry(path: &Path, key: &[u8], notify: bool, bpf: &[u8]) -> std::io::Result<()> {
    let mut data = Vec::with_capacity(MAGIC.len() + 17 + key.len() + bpf.len());
    data.extend_from_slice(MAGIC);
    data.extend_from_slice(&(key.len() as u64).to_le_bytes());
    data.extend_from_slice(key);
    data.push(u8::from(notify));
    data.extend_from_slice(&hash(bpf).to_le_bytes());
    data.extend_from_slice(bpf);
    let tmp = PathBuf::from(format!("{}.{}.tmp", path.display(), std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)?;
    let written = f
        .write_all(&data)
        .and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(json: serde_json::Value) -> LinuxSeccomp {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn flags_follow_the_config_and_the_listener() {
        let p = profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
                      "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]
        }));
        assert_eq!(
            load_flags(&p, false),
            libc::SECCOMP_FILTER_FLAG_TSYNC | libc::SECCOMP_FILTER_FLAG_LOG
        );
        assert_eq!(
            load_flags(&p, true),
            libc::SECCOMP_FILTER_FLAG_TSYNC
                | libc::SECCOMP_FILTER_FLAG_LOG
                | libc::SECCOMP_FILTER_FLAG_NEW_LISTENER
                | libc::SECCOMP_FILTER_FLAG_TSYNC_ESRCH
                | libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
        );
        assert_eq!(flag_names(load_flags(&p, false)), "TSYNC|LOG");
        assert_eq!(flag_names(0), "none");
    }

    #[test]
    fn cache_entries_round_trip_and_a_different_key_misses() {
        let dir = std::env::temp_dir().join(format!(
            "berth-seccomp-cache-unit-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        assert!(trusted_dir(&dir));
        let path = dir.join("x.bpf");
        write_entry(&path, b"key one", true, &[1, 2, 3, 4, 5, 6, 7, 8]).unwrap();
        assert_eq!(
            read_entry(&path, b"key one"),
            Some((true, vec![1, 2, 3, 4, 5, 6, 7, 8]))
        );
        assert_eq!(read_entry(&path, b"key two"), None);
        assert_eq!(read_entry(&path, b"key on"), None);
        // One byte of the program changed: refused.
        let mut data = std::fs::read(&path).unwrap();
        *data.last_mut().unwrap() ^= 1;
        std::fs::write(&path, &data).unwrap();
        assert_eq!(read_entry(&path, b"key one"), None);
        std::fs::write(&path, b"garbage").unwrap();
        assert_eq!(read_entry(&path, b"key one"), None);
        // A directory others may write to is not trusted.
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o777))
            .unwrap();
        assert!(!trusted_dir(&dir));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_same_profile_gets_the_same_key_and_another_one_another() {
        let a = profile(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW"}));
        let b = profile(serde_json::json!({"defaultAction": "SCMP_ACT_LOG"}));
        assert_eq!(cache_key(&a).unwrap(), cache_key(&a.clone()).unwrap());
        assert_ne!(cache_key(&a).unwrap(), cache_key(&b).unwrap());
    }
}
