//! Docker's seccomp profiles, turned into the OCI form a runtime loads.
//!
//! Docker writes profiles in an extended form: an `archMap` listing each
//! architecture with its sub-architectures (x86_64 with x86 and x32, so 32-bit
//! binaries are filtered too), and rules guarded by `includes` / `excludes` on the
//! container's bounding capabilities, the CPU architecture (Go's names: amd64,
//! arm64, ...) and a minimum kernel version. Resolving a profile for one container
//! keeps the architectures of the native entry and the rules whose guards hold:
//!
//! - `excludes` drops a rule when the native architecture is listed, when any listed
//!   capability is in the bounding set, or when the kernel is at least `minKernel`;
//! - `includes` keeps a rule only when the native architecture is listed (if any are),
//!   every listed capability is in the bounding set, and the kernel is at least
//!   `minKernel`.
//!
//! This is what lets a container granted CAP_SYS_ADMIN call mount and unshare, while
//! the default one gets EPERM.
//!
//! The default profile is moby's `profiles/seccomp/default.json` (the copy vendored in
//! moby/moby at commit b985e2313a8676e18072b442911fc8f64f17d440, Apache-2.0), carried
//! unchanged as data in `moby_default.json`.

use oci_spec::runtime::{Arch, LinuxSeccomp, LinuxSeccompArgBuilder, LinuxSyscall};
use serde::Deserialize;

use super::{Error, names};

/// moby's default profile, as published.
pub const MOBY_DEFAULT_JSON: &str = include_str!("moby_default.json");

/// The capabilities Docker grants a container by default (its bounding set, and the
/// guard the default profile is resolved against).
pub const DOCKER_DEFAULT_CAPABILITIES: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// What a Docker profile is resolved against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileTarget {
    /// The architecture in Go's naming, as the profiles use it: "amd64", "arm64",
    /// "ppc64le", "s390x", "riscv64", ...
    pub arch: String,
    /// The container's bounding capabilities, "CAP_..." names.
    pub capabilities: Vec<String>,
    /// The kernel's (major, minor) version, for `minKernel` guards.
    pub kernel: (u32, u32),
}

impl ProfileTarget {
    /// The running host (its architecture and kernel) with the given bounding set.
    pub fn host<S: Into<String>>(capabilities: impl IntoIterator<Item = S>) -> Self {
        let release = rustix::system::uname()
            .release()
            .to_string_lossy()
            .into_owned();
        ProfileTarget {
            arch: native_arch().to_string(),
            capabilities: capabilities.into_iter().map(Into::into).collect(),
            kernel: parse_kernel(&release).unwrap_or((0, 0)),
        }
    }

    /// The running host with Docker's default capabilities.
    pub fn host_docker_defaults() -> Self {
        Self::host(DOCKER_DEFAULT_CAPABILITIES)
    }

    fn has_cap(&self, cap: &str) -> bool {
        self.capabilities.iter().any(|c| c == cap)
    }
}

/// Docker's default profile resolved for `target`.
pub fn docker_default_profile(target: &ProfileTarget) -> Result<LinuxSeccomp, Error> {
    resolve(MOBY_DEFAULT_JSON, target)
}

/// Resolves any profile in Docker's form (`docker run --security-opt seccomp=FILE`)
/// for `target`. A profile already in plain OCI form passes through unchanged.
pub fn resolve(profile_json: &str, target: &ProfileTarget) -> Result<LinuxSeccomp, Error> {
    let p: Profile = serde_json::from_str(profile_json)
        .map_err(|e| Error::Config(format!("cannot parse the docker profile: {e}")))?;
    if !p.architectures.is_empty() && !p.arch_map.is_empty() {
        return Err(Error::Config(
            "the profile has both architectures and archMap; use one".into(),
        ));
    }
    let default_action = names::parse_action(&p.default_action, "the default action")?;
    names::action(default_action, p.default_errno_ret, "the default action")?;

    let mut architectures: Vec<Arch> = p
        .architectures
        .iter()
        .map(|a| names::parse_arch(a))
        .collect::<Result<_, _>>()?;
    if let Some(native) = seccomp_arch(&target.arch) {
        for entry in &p.arch_map {
            let arch = names::parse_arch(&entry.architecture)?;
            if arch == native {
                architectures.push(arch);
                for sub in entry.sub_architectures.iter().flatten() {
                    architectures.push(names::parse_arch(sub)?);
                }
                break;
            }
        }
    }

    let mut syscalls = Vec::new();
    for rule in &p.syscalls {
        if rule.applies_to(target)? {
            syscalls.push(rule.to_oci()?);
        }
    }

    let mut out = LinuxSeccomp::default();
    out.set_default_action(default_action);
    out.set_default_errno_ret(p.default_errno_ret);
    out.set_architectures((!architectures.is_empty()).then_some(architectures));
    let flags = p
        .flags
        .iter()
        .map(|f| names::parse_flag(f))
        .collect::<Result<Vec<_>, _>>()?;
    out.set_flags((!flags.is_empty()).then_some(flags));
    out.set_listener_path(p.listener_path);
    out.set_listener_metadata(p.listener_metadata);
    out.set_syscalls(Some(syscalls));
    Ok(out)
}

/// A profile in Docker's form.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Profile {
    default_action: String,
    default_errno_ret: Option<u32>,
    #[serde(default, deserialize_with = "null_is_empty")]
    architectures: Vec<String>,
    #[serde(default, deserialize_with = "null_is_empty")]
    arch_map: Vec<ArchEntry>,
    #[serde(default, deserialize_with = "null_is_empty")]
    flags: Vec<String>,
    listener_path: Option<std::path::PathBuf>,
    listener_metadata: Option<String>,
    #[serde(default, deserialize_with = "null_is_empty")]
    syscalls: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ArchEntry {
    architecture: String,
    sub_architectures: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    name: Option<String>,
    #[serde(default, deserialize_with = "null_is_empty")]
    names: Vec<String>,
    action: String,
    errno_ret: Option<u32>,
    #[serde(default, deserialize_with = "null_is_empty")]
    args: Vec<Arg>,
    includes: Option<Guard>,
    excludes: Option<Guard>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Arg {
    index: usize,
    value: u64,
    #[serde(default)]
    value_two: u64,
    op: String,
}

/// The `includes` / `excludes` of a rule.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Guard {
    #[serde(default, deserialize_with = "null_is_empty")]
    caps: Vec<String>,
    #[serde(default, deserialize_with = "null_is_empty")]
    arches: Vec<String>,
    min_kernel: Option<String>,
}

impl Rule {
    /// The rule's syscall names: `name` or `names`, never both.
    fn syscall_names(&self) -> Result<Vec<String>, Error> {
        match (&self.name, self.names.is_empty()) {
            (Some(n), true) => Ok(vec![n.clone()]),
            (Some(n), false) => Err(Error::Config(format!(
                "a rule has both name ({n}) and names; use one"
            ))),
            (None, _) => Ok(self.names.clone()),
        }
    }

    /// Whether the rule's guards hold for `target`.
    fn applies_to(&self, target: &ProfileTarget) -> Result<bool, Error> {
        if let Some(ex) = &self.excludes
            && (ex.arches.contains(&target.arch)
                || ex.caps.iter().any(|c| target.has_cap(c))
                || ex.kernel_at_least(target.kernel)? == Some(true))
        {
            return Ok(false);
        }
        if let Some(inc) = &self.includes
            && ((!inc.arches.is_empty() && !inc.arches.contains(&target.arch))
                || !inc.caps.iter().all(|c| target.has_cap(c))
                || inc.kernel_at_least(target.kernel)? == Some(false))
        {
            return Ok(false);
        }
        Ok(true)
    }

    /// The rule in OCI form, its names checked.
    fn to_oci(&self) -> Result<LinuxSyscall, Error> {
        let names = self.syscall_names()?;
        let what = format!(
            "syscall {}",
            names.first().map(String::as_str).unwrap_or("")
        );
        let action = names::parse_action(&self.action, &what)?;
        names::action(action, self.errno_ret, &what)?;
        let args = self
            .args
            .iter()
            .map(|a| {
                let mut arg = LinuxSeccompArgBuilder::default()
                    .index(a.index)
                    .value(a.value)
                    .op(names::parse_op(&a.op, &what)?);
                if a.value_two != 0 {
                    arg = arg.value_two(a.value_two);
                }
                arg.build()
                    .map_err(|e| Error::Config(format!("argument {} of {what}: {e}", a.index)))
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let mut out = LinuxSyscall::default();
        out.set_names(names);
        out.set_action(action);
        out.set_errno_ret(self.errno_ret);
        out.set_args((!args.is_empty()).then_some(args));
        Ok(out)
    }
}

impl Guard {
    /// Whether `kernel` is at least the guard's minKernel; None without one.
    fn kernel_at_least(&self, kernel: (u32, u32)) -> Result<Option<bool>, Error> {
        let Some(min) = &self.min_kernel else {
            return Ok(None);
        };
        let min = parse_kernel(min)
            .ok_or_else(|| Error::Config(format!("minKernel \"{min}\" is not a kernel version")))?;
        Ok(Some(kernel >= min))
    }
}

/// Treats a JSON null like a missing list (Go writes nil slices as null).
fn null_is_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// (major, minor) from a kernel release such as "6.1.0-18-amd64" or "4.8".
fn parse_kernel(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(['.', '-', '+']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().map_or(Some(0), |m| {
        let digits: String = m.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    })?;
    Some((major, minor))
}

/// The architecture this binary runs on, in Go's naming (the profiles' `arches`).
pub fn native_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "x86",
        "aarch64" => "arm64",
        "arm" => "arm",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "powerpc64" => "ppc64",
        "powerpc" => "ppc",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        "loongarch64" => "loong64",
        "mips64" if cfg!(target_endian = "little") => "mipsel64",
        "mips64" => "mips64",
        "mips" if cfg!(target_endian = "little") => "mipsle",
        "mips" => "mips",
        other => other,
    }
}

/// The seccomp architecture of a Go-named one, for finding the archMap entry.
fn seccomp_arch(go_arch: &str) -> Option<Arch> {
    Some(match go_arch {
        "amd64" => Arch::ScmpArchX86_64,
        "x86" | "386" => Arch::ScmpArchX86,
        "x32" => Arch::ScmpArchX32,
        "arm64" => Arch::ScmpArchAarch64,
        "arm" => Arch::ScmpArchArm,
        "ppc64le" => Arch::ScmpArchPpc64le,
        "ppc64" => Arch::ScmpArchPpc64,
        "ppc" => Arch::ScmpArchPpc,
        "s390x" => Arch::ScmpArchS390x,
        "s390" => Arch::ScmpArchS390,
        "riscv64" => Arch::ScmpArchRiscv64,
        "loong64" | "loongarch64" => Arch::ScmpArchLoongarch64,
        "mips64" => Arch::ScmpArchMips64,
        "mips64n32" => Arch::ScmpArchMips64n32,
        "mipsel64" => Arch::ScmpArchMipsel64,
        "mipsel64n32" => Arch::ScmpArchMipsel64n32,
        "mips" => Arch::ScmpArchMips,
        "mipsle" | "mipsel" => Arch::ScmpArchMipsel,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxSeccompAction, LinuxSeccompOperator};

    /// Where the resolved default profile for amd64 is kept, for review and for
    /// tools that want Docker's profile in OCI form.
    const GOLDEN: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/seccomp/docker-default-amd64.json"
    );

    fn amd64(caps: &[&str], kernel: (u32, u32)) -> ProfileTarget {
        ProfileTarget {
            arch: "amd64".into(),
            capabilities: caps.iter().map(|c| c.to_string()).collect(),
            kernel,
        }
    }

    fn rules_for<'a>(p: &'a LinuxSeccomp, name: &str) -> Vec<&'a LinuxSyscall> {
        p.syscalls()
            .iter()
            .flatten()
            .filter(|r| r.names().iter().any(|n| n == name))
            .collect()
    }

    fn allowed(p: &LinuxSeccomp, name: &str) -> bool {
        rules_for(p, name)
            .iter()
            .any(|r| r.action() == LinuxSeccompAction::ScmpActAllow && r.args().is_none())
    }

    #[test]
    fn default_profile_matches_the_golden_oci_form() {
        let p = docker_default_profile(&amd64(&DOCKER_DEFAULT_CAPABILITIES, (6, 1))).unwrap();
        let text = serde_json::to_string_pretty(&p).unwrap() + "\n";
        if std::env::var_os("BERTH_REGENERATE_SECCOMP").is_some() {
            std::fs::write(GOLDEN, &text).unwrap();
        }
        let golden: LinuxSeccomp =
            serde_json::from_str(&std::fs::read_to_string(GOLDEN).unwrap()).unwrap();
        assert_eq!(
            p, golden,
            "rerun with BERTH_REGENERATE_SECCOMP=1 after a profile update"
        );
    }

    #[test]
    fn default_capabilities_keep_mount_unshare_and_namespaced_clone_out() {
        let p = docker_default_profile(&amd64(&DOCKER_DEFAULT_CAPABILITIES, (6, 1))).unwrap();
        assert_eq!(p.default_action(), LinuxSeccompAction::ScmpActErrno);
        assert_eq!(p.default_errno_ret(), Some(1));
        assert_eq!(
            p.architectures().as_deref(),
            Some(&[Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32][..])
        );
        for denied in [
            "mount", "umount2", "unshare", "setns", "keyctl", "bpf", "reboot",
        ] {
            assert!(
                rules_for(&p, denied).is_empty(),
                "{denied} must not be allowed"
            );
        }
        // CAP_SYS_CHROOT is a default capability; arch_prctl is amd64's.
        assert!(allowed(&p, "chroot"));
        assert!(allowed(&p, "arch_prctl"));
        assert!(allowed(&p, "read"));
        // clone only without namespace flags (flags in arg 0 on amd64), clone3 ENOSYS
        // so that glibc falls back to clone.
        let clone = rules_for(&p, "clone");
        assert_eq!(clone.len(), 1);
        let arg = clone[0].args().as_ref().unwrap()[0];
        assert_eq!(
            (arg.index(), arg.value(), arg.op()),
            (0, 0x7e020000, LinuxSeccompOperator::ScmpCmpMaskedEq)
        );
        let clone3 = rules_for(&p, "clone3");
        assert_eq!(clone3.len(), 1);
        assert_eq!(
            (clone3[0].action(), clone3[0].errno_ret()),
            (LinuxSeccompAction::ScmpActErrno, Some(libc::ENOSYS as u32))
        );
    }

    #[test]
    fn cap_sys_admin_opens_mount_and_drops_the_clone_guards() {
        let mut caps = DOCKER_DEFAULT_CAPABILITIES.to_vec();
        caps.push("CAP_SYS_ADMIN");
        let p = docker_default_profile(&amd64(&caps, (6, 1))).unwrap();
        assert!(allowed(&p, "mount"));
        assert!(allowed(&p, "unshare"));
        assert!(allowed(&p, "clone"));
        assert!(allowed(&p, "clone3"));
        assert!(
            rules_for(&p, "clone3")
                .iter()
                .all(|r| r.action() == LinuxSeccompAction::ScmpActAllow)
        );
    }

    #[test]
    fn min_kernel_and_arch_guards() {
        // ptrace is allowed from 4.8 on (seccomp could be bypassed with it before).
        let new = docker_default_profile(&amd64(&DOCKER_DEFAULT_CAPABILITIES, (4, 8))).unwrap();
        let old = docker_default_profile(&amd64(&DOCKER_DEFAULT_CAPABILITIES, (4, 4))).unwrap();
        assert!(allowed(&new, "ptrace"));
        assert!(!allowed(&old, "ptrace"));

        let arm = docker_default_profile(&ProfileTarget {
            arch: "arm64".into(),
            ..amd64(&DOCKER_DEFAULT_CAPABILITIES, (6, 1))
        })
        .unwrap();
        assert_eq!(
            arm.architectures().as_deref(),
            Some(&[Arch::ScmpArchAarch64, Arch::ScmpArchArm][..])
        );
        assert!(!allowed(&arm, "arch_prctl"));
        assert!(allowed(&arm, "arm_fadvise64_64"));

        let s390x = docker_default_profile(&ProfileTarget {
            arch: "s390x".into(),
            ..amd64(&DOCKER_DEFAULT_CAPABILITIES, (6, 1))
        })
        .unwrap();
        // clone's flags are its second argument on s390x.
        let clone = rules_for(&s390x, "clone");
        assert_eq!(clone.len(), 1);
        assert_eq!(clone[0].args().as_ref().unwrap()[0].index(), 1);
    }

    #[test]
    fn malformed_profiles_are_refused_with_the_reason() {
        let t = amd64(&[], (6, 1));
        let e = resolve(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_FOO"}]}"#,
            &t,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "seccomp: unknown action \"SCMP_ACT_FOO\" for syscall mkdir"
        );
        let e = resolve(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86"],
                "archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":null}]}"#,
            &t,
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("both architectures and archMap"),
            "{e}"
        );
        let e = resolve(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"name":"a","names":["b"],"action":"SCMP_ACT_LOG"}]}"#,
            &t,
        )
        .unwrap_err();
        assert!(e.to_string().contains("both name (a) and names"), "{e}");
        let e = resolve(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getpid"],"action":"SCMP_ACT_ERRNO",
                "args":[{"index":0,"value":1,"op":"SCMP_CMP_NEAR"}]}]}"#,
            &t,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "seccomp: unknown operator \"SCMP_CMP_NEAR\" for syscall getpid"
        );
    }

    #[test]
    fn a_plain_oci_profile_passes_through() {
        let p = resolve(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],
                "flags":["SECCOMP_FILTER_FLAG_LOG"],
                "syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}"#,
            &amd64(&[], (6, 1)),
        )
        .unwrap();
        assert_eq!(
            p.architectures().as_deref(),
            Some(&[Arch::ScmpArchX86_64][..])
        );
        assert_eq!(p.flags().as_ref().unwrap().len(), 1);
        let r = &p.syscalls().as_ref().unwrap()[0];
        assert_eq!(r.names(), &["mkdir".to_string(), "mkdirat".to_string()]);
        assert_eq!(r.errno_ret(), Some(13));
    }

    #[test]
    fn kernel_releases_parse() {
        assert_eq!(parse_kernel("6.1.0-18-amd64"), Some((6, 1)));
        assert_eq!(parse_kernel("4.8"), Some((4, 8)));
        assert_eq!(parse_kernel("5.10.0+"), Some((5, 10)));
        assert_eq!(parse_kernel("6"), Some((6, 0)));
        assert_eq!(parse_kernel("linux"), None);
        assert_eq!(native_arch(), "amd64");
    }
}
