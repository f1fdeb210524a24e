//! Linux security modules: the AppArmor profile and SELinux label a config asks for,
//! applied to the process's next exec where the host runs that LSM, and skipped
//! (with a note in the trace) where it does not, as runc does.

use crate::error::{Result, io};
use crate::explain::{note, step};

fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim() == "Y")
}

fn selinux_enabled() -> bool {
    std::path::Path::new("/sys/fs/selinux/enforce").exists()
}

/// Sets the AppArmor profile and SELinux label the process will exec into. Runs
/// before the root is switched, while the host's /proc is still at /proc.
pub fn apply(process: &oci_spec::runtime::Process) -> Result<()> {
    if let Some(profile) = process.apparmor_profile().as_deref().filter(|p| !p.is_empty()) {
        if apparmor_enabled() {
            let attr = if std::path::Path::new("/proc/self/attr/apparmor/exec").exists() {
                "/proc/self/attr/apparmor/exec"
            } else {
                "/proc/self/attr/exec"
            };
            step(
                || format!("apparmor: exec {profile}"),
                || std::fs::write(attr, format!("exec {profile}")),
            )
            .map_err(io(format!("cannot apply AppArmor profile {profile}")))?;
        } else {
            note(|| format!("apparmor: host has no AppArmor, profile {profile} skipped"));
        }
    }
    if let Some(label) = process.selinux_label().as_deref().filter(|l| !l.is_empty()) {
        if selinux_enabled() {
            step(
                || format!("selinux: exec label {label}"),
                || std::fs::write("/proc/self/attr/exec", label),
            )
            .map_err(io(format!("cannot apply SELinux label {label}")))?;
        } else {
            note(|| format!("selinux: host has no SELinux, label {label} skipped"));
        }
    }
    Ok(())
}
