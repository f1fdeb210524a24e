//! CVE-2019-5736: a container must never get to execute — and so to reopen for
//! writing — the host's runtime binary.
//!
//! The container's init is a fork of berth-runtime, so until its final execve its
//! /proc/self/exe is the host's berth-runtime file. In runc's CVE, a container whose
//! program was `/proc/self/exe` (directly, or as a `#!` interpreter) made the runtime
//! exec the runtime's own binary inside the container; a process there could then hold
//! that file open and overwrite it on the host once it was no longer running. berth
//! refuses such a target before exec: the executable, and every `#!` interpreter the
//! kernel would follow, must not be the file /proc/self/exe names. Helpers that join a
//! running container (`exec`) also make themselves non-dumpable first, so container
//! processes cannot open their /proc/<pid>/exe.

use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The kernel follows at most this many `#!` interpreters (BINPRM_MAX_RECURSION).
const MAX_INTERPRETERS: usize = 4;

fn identity(p: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()))
}

/// The interpreter of a `#!` script, if `p` is one.
fn interpreter(p: &Path) -> Option<PathBuf> {
    let mut f = std::fs::File::open(p).ok()?;
    let mut head = [0u8; 256];
    let n = f.read(&mut head).ok()?;
    let line = head[..n].strip_prefix(b"#!")?;
    let line = &line[..line.iter().position(|b| *b == b'\n').unwrap_or(line.len())];
    let text = String::from_utf8_lossy(line);
    let first = text.split_whitespace().next()?;
    Some(PathBuf::from(first))
}

/// Fails when executing `target` would run the host's runtime binary, identified by
/// `runtime` (dev, inode) taken before the root was switched.
pub fn check_target(target: &Path, runtime: (u64, u64)) -> Result<()> {
    let mut p = target.to_path_buf();
    for _ in 0..=MAX_INTERPRETERS {
        if identity(&p) == Some(runtime) {
            return Err(Error::Init(format!(
                "refusing to execute {}: it is the runtime's own binary (CVE-2019-5736)",
                target.display()
            )));
        }
        match interpreter(&p) {
            Some(i) => p = i,
            None => return Ok(()),
        }
    }
    Ok(())
}

/// (dev, inode) of the running binary.
pub fn runtime_identity() -> Option<(u64, u64)> {
    identity(Path::new("/proc/self/exe"))
}

/// Makes this process non-dumpable, so that processes of the container it is about to
/// join cannot open its /proc/<pid>/exe (or ptrace it). execve restores dumpability
/// for the container's own program.
pub fn undumpable() -> Result<()> {
    crate::sys::set_dumpable(false).map_err(crate::error::sys("prctl(PR_SET_DUMPABLE, 0)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_binary_and_scripts_pointing_at_it_are_refused() {
        let me = runtime_identity().unwrap();
        assert!(check_target(Path::new("/proc/self/exe"), me).is_err());
        let dir = std::env::temp_dir().join(format!("berth-exeguard-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("evil");
        std::fs::write(&script, "#!/proc/self/exe --flag\n").unwrap();
        let e = check_target(&script, me).unwrap_err().to_string();
        assert!(e.contains("CVE-2019-5736"), "{e}");
        let chained = dir.join("chained");
        std::fs::write(&chained, format!("#!{}\n", script.display())).unwrap();
        assert!(check_target(&chained, me).is_err());
        let fine = dir.join("fine");
        std::fs::write(&fine, "#!/bin/sh\necho hi\n").unwrap();
        assert!(check_target(&fine, me).is_ok());
        assert!(check_target(Path::new("/bin/sh"), me).is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
