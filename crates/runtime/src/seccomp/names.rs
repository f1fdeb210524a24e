//! The names a seccomp profile is written in (`SCMP_ACT_ERRNO`, `SCMP_CMP_MASKED_EQ`,
//! `SCMP_ARCH_X86_64`, `SECCOMP_FILTER_FLAG_LOG`) and their translation to what
//! libseccomp takes. Pure functions: the filter and the Docker profile reader both
//! build on them, and they are unit-tested without a kernel.

use libseccomp::{ScmpAction, ScmpArch, ScmpCompareOp};
use oci_spec::runtime::{Arch, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator};

use super::Error;

/// The errno a rule returns when the profile names none: EPERM, as the OCI spec and
/// runc say.
pub const DEFAULT_ERRNO: u32 = libc::EPERM as u32;

/// Parses an action name such as `SCMP_ACT_ERRNO`; `what` says where it was found
/// ("syscall mkdir", "the default action") for the error.
pub fn parse_action(name: &str, what: &str) -> Result<LinuxSeccompAction, Error> {
    name.parse()
        .map_err(|_| Error::Config(format!("unknown action \"{name}\" for {what}")))
}

/// Parses a comparison operator name such as `SCMP_CMP_MASKED_EQ`.
pub fn parse_op(name: &str, what: &str) -> Result<LinuxSeccompOperator, Error> {
    name.parse()
        .map_err(|_| Error::Config(format!("unknown operator \"{name}\" for {what}")))
}

/// Parses an architecture name such as `SCMP_ARCH_X86_64`.
pub fn parse_arch(name: &str) -> Result<Arch, Error> {
    name.parse()
        .map_err(|_| Error::Config(format!("unknown architecture \"{name}\"")))
}

/// Parses a filter flag name such as `SECCOMP_FILTER_FLAG_TSYNC`.
pub fn parse_flag(name: &str) -> Result<LinuxSeccompFilterFlag, Error> {
    name.parse()
        .map_err(|_| Error::Config(format!("unknown flag \"{name}\"")))
}

/// The libseccomp action for an OCI action and its errnoRet. Only ERRNO and TRACE
/// carry a number; errnoRet on any other action is refused, as the OCI spec asks.
/// `SCMP_ACT_KILL` is the historical name of `SCMP_ACT_KILL_THREAD`.
pub fn action(
    action: LinuxSeccompAction,
    errno_ret: Option<u32>,
    what: &str,
) -> Result<ScmpAction, Error> {
    use LinuxSeccompAction as A;
    let code = |errno: Option<u32>| -> Result<u16, Error> {
        let errno = errno.unwrap_or(DEFAULT_ERRNO);
        u16::try_from(errno).map_err(|_| {
            Error::Config(format!(
                "errnoRet {errno} of {what} does not fit in 16 bits"
            ))
        })
    };
    Ok(match action {
        A::ScmpActErrno => ScmpAction::Errno(i32::from(code(errno_ret)?)),
        A::ScmpActTrace => ScmpAction::Trace(code(errno_ret)?),
        other => {
            if let Some(errno) = errno_ret {
                return Err(Error::Config(format!(
                    "errnoRet {errno} of {what} is only allowed with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not {other}"
                )));
            }
            match other {
                A::ScmpActKill | A::ScmpActKillThread => ScmpAction::KillThread,
                A::ScmpActKillProcess => ScmpAction::KillProcess,
                A::ScmpActTrap => ScmpAction::Trap,
                A::ScmpActNotify => ScmpAction::Notify,
                A::ScmpActLog => ScmpAction::Log,
                A::ScmpActAllow => ScmpAction::Allow,
                A::ScmpActErrno | A::ScmpActTrace => unreachable!("handled above"),
            }
        }
    })
}

/// The libseccomp comparison for one argument condition. For `SCMP_CMP_MASKED_EQ`
/// `value` is the mask and `valueTwo` the value the masked argument must equal (as
/// libseccomp's datum_a and datum_b); the other operators compare with `value`.
pub fn compare(
    op: LinuxSeccompOperator,
    value: u64,
    value_two: Option<u64>,
) -> (ScmpCompareOp, u64) {
    use LinuxSeccompOperator as O;
    match op {
        O::ScmpCmpNe => (ScmpCompareOp::NotEqual, value),
        O::ScmpCmpLt => (ScmpCompareOp::Less, value),
        O::ScmpCmpLe => (ScmpCompareOp::LessOrEqual, value),
        O::ScmpCmpEq => (ScmpCompareOp::Equal, value),
        O::ScmpCmpGe => (ScmpCompareOp::GreaterEqual, value),
        O::ScmpCmpGt => (ScmpCompareOp::Greater, value),
        O::ScmpCmpMaskedEq => (ScmpCompareOp::MaskedEqual(value), value_two.unwrap_or(0)),
    }
}

/// The libseccomp architecture token for an OCI architecture. `SCMP_ARCH_NATIVE`
/// becomes the architecture this binary runs on.
pub fn arch(arch: Arch) -> ScmpArch {
    match arch {
        Arch::ScmpArchNative => ScmpArch::native(),
        Arch::ScmpArchX86 => ScmpArch::X86,
        Arch::ScmpArchX86_64 => ScmpArch::X8664,
        Arch::ScmpArchX32 => ScmpArch::X32,
        Arch::ScmpArchArm => ScmpArch::Arm,
        Arch::ScmpArchAarch64 => ScmpArch::Aarch64,
        Arch::ScmpArchMips => ScmpArch::Mips,
        Arch::ScmpArchMips64 => ScmpArch::Mips64,
        Arch::ScmpArchMips64n32 => ScmpArch::Mips64N32,
        Arch::ScmpArchMipsel => ScmpArch::Mipsel,
        Arch::ScmpArchMipsel64 => ScmpArch::Mipsel64,
        Arch::ScmpArchMipsel64n32 => ScmpArch::Mipsel64N32,
        Arch::ScmpArchPpc => ScmpArch::Ppc,
        Arch::ScmpArchPpc64 => ScmpArch::Ppc64,
        Arch::ScmpArchPpc64le => ScmpArch::Ppc64Le,
        Arch::ScmpArchS390 => ScmpArch::S390,
        Arch::ScmpArchS390x => ScmpArch::S390X,
        Arch::ScmpArchParisc => ScmpArch::Parisc,
        Arch::ScmpArchParisc64 => ScmpArch::Parisc64,
        Arch::ScmpArchRiscv64 => ScmpArch::Riscv64,
        Arch::ScmpArchLoongarch64 => ScmpArch::Loongarch64,
        Arch::ScmpArchM68k => ScmpArch::M68k,
        Arch::ScmpArchSh => ScmpArch::Sh,
        Arch::ScmpArchSheb => ScmpArch::Sheb,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names_parse_and_unknown_ones_name_the_syscall() {
        assert_eq!(
            parse_action("SCMP_ACT_KILL_PROCESS", "syscall mkdir").unwrap(),
            LinuxSeccompAction::ScmpActKillProcess
        );
        assert_eq!(
            parse_action("SCMP_ACT_NOTIFY", "syscall mkdir").unwrap(),
            LinuxSeccompAction::ScmpActNotify
        );
        let e = parse_action("SCMP_ACT_FOO", "syscall mkdir").unwrap_err();
        assert_eq!(
            e.to_string(),
            "seccomp: unknown action \"SCMP_ACT_FOO\" for syscall mkdir"
        );
    }

    #[test]
    fn operator_arch_and_flag_names_parse() {
        assert_eq!(
            parse_op("SCMP_CMP_MASKED_EQ", "syscall clone").unwrap(),
            LinuxSeccompOperator::ScmpCmpMaskedEq
        );
        assert_eq!(
            parse_op("SCMP_CMP_LE", "syscall clone").unwrap(),
            LinuxSeccompOperator::ScmpCmpLe
        );
        assert_eq!(
            parse_op("SCMP_CMP_ALMOST", "syscall clone")
                .unwrap_err()
                .to_string(),
            "seccomp: unknown operator \"SCMP_CMP_ALMOST\" for syscall clone"
        );
        assert_eq!(parse_arch("SCMP_ARCH_X32").unwrap(), Arch::ScmpArchX32);
        assert!(parse_arch("SCMP_ARCH_Z80").is_err());
        assert_eq!(
            parse_flag("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV").unwrap(),
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv
        );
        assert!(parse_flag("SECCOMP_FILTER_FLAG_FAST").is_err());
    }

    #[test]
    fn errno_defaults_to_eperm_and_is_refused_where_it_has_no_meaning() {
        use LinuxSeccompAction as A;
        assert_eq!(
            action(A::ScmpActErrno, None, "x").unwrap(),
            ScmpAction::Errno(libc::EPERM)
        );
        assert_eq!(
            action(A::ScmpActErrno, Some(38), "x").unwrap(),
            ScmpAction::Errno(38)
        );
        assert_eq!(
            action(A::ScmpActTrace, None, "x").unwrap(),
            ScmpAction::Trace(1)
        );
        assert_eq!(
            action(A::ScmpActKill, None, "x").unwrap(),
            ScmpAction::KillThread
        );
        assert_eq!(
            action(A::ScmpActKillThread, None, "x").unwrap(),
            ScmpAction::KillThread
        );
        assert_eq!(action(A::ScmpActLog, None, "x").unwrap(), ScmpAction::Log);
        let e = action(A::ScmpActAllow, Some(1), "syscall getpid").unwrap_err();
        assert_eq!(
            e.to_string(),
            "seccomp: errnoRet 1 of syscall getpid is only allowed with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not SCMP_ACT_ALLOW"
        );
        assert!(action(A::ScmpActErrno, Some(70000), "x").is_err());
    }

    #[test]
    fn masked_eq_takes_the_mask_from_value_and_the_datum_from_value_two() {
        assert_eq!(
            compare(LinuxSeccompOperator::ScmpCmpMaskedEq, 0x7e020000, None),
            (ScmpCompareOp::MaskedEqual(0x7e020000), 0)
        );
        assert_eq!(
            compare(LinuxSeccompOperator::ScmpCmpMaskedEq, 0xff, Some(8)),
            (ScmpCompareOp::MaskedEqual(0xff), 8)
        );
        assert_eq!(
            compare(LinuxSeccompOperator::ScmpCmpGt, 5, Some(9)),
            (ScmpCompareOp::Greater, 5)
        );
    }

    #[test]
    fn native_arch_is_the_running_one() {
        assert_eq!(arch(Arch::ScmpArchNative), ScmpArch::native());
        assert_eq!(arch(Arch::ScmpArchX86_64), ScmpArch::X8664);
    }
}
