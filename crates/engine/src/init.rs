//! `--init`: berth-init, a static init of a few KB built from `init/main.rs` by the
//! build script and embedded here, runs as the container's pid 1 and runs the
//! command as its child: it forwards signals to it, reaps zombies and exits with
//! its status (tini's role, which Docker ships as docker-init).
//!
//! The binary is written once per content under `<root>/init/` and bind-mounted
//! read-only at [`CONTAINER_PATH`]; the container's command becomes
//! `/sbin/docker-init -- CMD ARGS...`.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Result, io};

/// The init, as the build script made it.
pub const BINARY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/berth-init"));

/// Where the init is mounted in the container (Docker's path).
pub const CONTAINER_PATH: &str = "/sbin/docker-init";

/// The init's file under `root`: `<root>/init/berth-init-<sha256 prefix>`.
pub fn host_path(root: &Path) -> PathBuf {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let name = NAME.get_or_init(|| {
        format!(
            "berth-init-{}",
            &berth_image::Digest::of(BINARY).hex()[..16]
        )
    });
    root.join("init").join(name)
}

/// Writes the init under `root` unless it is there already (a temporary file,
/// synced, renamed into place, mode 0555); returns its path.
pub fn ensure(root: &Path) -> Result<PathBuf> {
    let path = host_path(root);
    if std::fs::metadata(&path).is_ok_and(|m| m.is_file() && m.len() == BINARY.len() as u64) {
        return Ok(path);
    }
    let dir = path.parent().expect("the init's path has a parent");
    std::fs::create_dir_all(dir).map_err(io(format!("create {}", dir.display())))?;
    let tmp = dir.join(format!(".tmp-{}", std::process::id()));
    let r = (|| {
        let _ = std::fs::remove_file(&tmp);
        let mut f = std::fs::File::options()
            .write(true)
            .create_new(true)
            .mode(0o555)
            .open(&tmp)?;
        f.write_all(BINARY)?;
        f.set_permissions(std::fs::Permissions::from_mode(0o555))?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)
    })();
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r.map_err(io(format!("write {}", path.display())))?;
    Ok(path)
}

/// The argv of a container run under the init.
pub fn wrap(args: Vec<String>) -> Vec<String> {
    let mut v = vec![CONTAINER_PATH.to_string(), "--".to_string()];
    v.extend(args);
    v
}

/// The init's kernel-free logic, compiled for the host to be tested here.
#[cfg(test)]
#[allow(dead_code)]
#[path = "../init/path.rs"]
mod path;

#[cfg(test)]
mod tests {
    use super::path::*;

    fn all(name: &str, p: &str) -> Vec<String> {
        let mut c = Candidates::new(name.as_bytes(), p.as_bytes());
        let mut buf = [0u8; 64];
        let mut v = Vec::new();
        while let Some(n) = c.next_into(&mut buf) {
            assert_eq!(buf[n], 0, "NUL-terminated");
            v.push(String::from_utf8(buf[..n].to_vec()).unwrap());
        }
        v
    }

    #[test]
    fn path_search_tries_each_directory_in_order() {
        assert_eq!(all("sh", "/bin:/usr/bin/"), ["/bin/sh", "/usr/bin/sh"]);
        // An empty entry is the current directory.
        assert_eq!(all("sh", ":/bin:"), ["./sh", "/bin/sh", "./sh"]);
        assert_eq!(all("sh", ""), ["./sh"]);
        // One that does not fit is skipped.
        let long = format!("/{}:/bin", "x".repeat(70));
        assert_eq!(all("sh", &long), ["/bin/sh"]);
    }

    #[test]
    fn path_comes_from_the_environment_or_dockers_default() {
        let env: [&[u8]; 3] = [b"A=1", b"PATHX=no", b"PATH=/opt/bin"];
        assert_eq!(path_value(env.iter().copied()), b"/opt/bin");
        let env: [&[u8]; 1] = [b"HOME=/"];
        assert_eq!(path_value(env.iter().copied()), DEFAULT_PATH);
        assert_eq!(
            DEFAULT_PATH,
            crate::spec::DEFAULT_PATH.as_bytes(),
            "the init's default PATH is the engine's"
        );
    }

    #[test]
    fn exec_errors_add_up_as_execvp_and_tini_report_them() {
        let mut e = SearchErrors::default();
        assert!(e.failed(ENOENT) && e.failed(ENOTDIR));
        assert_eq!(e.errno(), ENOENT);
        assert_eq!(exec_failure_code(e.errno()), 127);
        assert!(e.failed(EACCES) && e.failed(ENOENT));
        assert_eq!(e.errno(), EACCES);
        assert_eq!(exec_failure_code(e.errno()), 126);
        // Exec format error ends the search.
        assert!(!e.failed(8));
        assert_eq!(e.errno(), 8);
        assert_eq!(strerror(8), b"Exec format error");
    }

    #[test]
    fn wait_statuses_become_exit_codes() {
        assert_eq!(exit_code(7 << 8), 7);
        assert_eq!(exit_code(0), 0);
        assert_eq!(exit_code(15), 143);
        assert_eq!(exit_code(9 | 0x80), 137); // killed, core dumped
    }

    #[test]
    fn the_binary_is_a_small_static_executable() {
        let b = super::BINARY;
        assert_eq!(&b[..4], b"\x7fELF");
        assert!(b.len() < 64 << 10, "{} bytes", b.len());
        // A 64-bit executable with no program interpreter (PT_INTERP): it needs
        // nothing from the image.
        assert_eq!(b[4], 2, "ELFCLASS64");
        assert_eq!(u16::from_le_bytes([b[16], b[17]]), 2, "ET_EXEC");
        let u16_at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as usize;
        let phoff = u64::from_le_bytes(b[0x20..0x28].try_into().unwrap()) as usize;
        let (size, count) = (u16_at(0x36), u16_at(0x38));
        for i in 0..count {
            let kind = u32::from_le_bytes(b[phoff + i * size..][..4].try_into().unwrap());
            assert_ne!(kind, 3, "dynamically linked (PT_INTERP)");
        }
        assert_eq!(
            super::wrap(vec!["sh".into()]),
            ["/sbin/docker-init", "--", "sh"]
        );
    }

    #[test]
    fn ensure_writes_the_binary_once() {
        let root = std::env::temp_dir().join(format!("berth-init-test-{}", std::process::id()));
        let p = super::ensure(&root).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), super::BINARY);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o7777,
            0o555
        );
        assert_eq!(super::ensure(&root).unwrap(), p);
        let _ = std::fs::remove_dir_all(&root);
    }
}
