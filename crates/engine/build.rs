//! Builds berth-init (`init/main.rs`), the static init `--init` mounts into
//! containers, with the rustc that builds the engine, for the same target, into
//! OUT_DIR; `crate::init` embeds it. It has no std and no libc, so it runs in any
//! image.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=init/main.rs");
    println!("cargo:rerun-if-changed=init/path.rs");
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let target = env::var("TARGET").expect("cargo sets TARGET");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let mut cmd = Command::new(rustc);
    cmd.args(["--edition", "2024", "--crate-type", "bin", "--crate-name"])
        .arg("berth_init")
        .args(["--target", &target])
        .args([
            "-C",
            "panic=abort",
            "-C",
            "opt-level=s",
            "-C",
            "lto",
            "-C",
            "codegen-units=1",
            "-C",
            "debuginfo=0",
            "-C",
            "strip=symbols",
            "-C",
            "relocation-model=static",
            "-C",
            "force-unwind-tables=no",
            "-C",
            "link-arg=-nostartfiles",
            "-C",
            "link-arg=-nostdlib",
            "-C",
            "link-arg=-static",
            "-C",
            "link-arg=-Wl,--build-id=none",
        ]);
    if let Some(linker) = env::var_os("RUSTC_LINKER") {
        let mut a = std::ffi::OsString::from("linker=");
        a.push(linker);
        cmd.arg("-C").arg(a);
    }
    cmd.arg("init/main.rs")
        .arg("-o")
        .arg(out.join("berth-init"));
    let status = cmd.status().expect("run rustc for berth-init");
    assert!(status.success(), "building berth-init failed: {status}");
}
