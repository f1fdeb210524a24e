//! ENOSYS for system calls newer than the profile, as runc does.
//!
//! A profile written before a syscall existed does not name it, so the default action
//! answers it, usually EPERM. Programs probe new syscalls and fall back only on
//! ENOSYS ("this kernel does not have it"); EPERM makes them fail instead. So before
//! libseccomp's program goes a short stub: for each architecture of the filter, a
//! syscall number above the highest one the profile names for that architecture
//! returns ENOSYS. Numbers at or below it are left to the profile (a syscall the
//! profile leaves out on purpose keeps its default answer). Nothing is added when the
//! default action lets calls through anyway (ALLOW, LOG, TRACE).
//!
//! Supported where the kernel's architecture token is known here: x86_64 (with x32
//! calls told apart by their number's x32 bit), x86, aarch64, arm, riscv64 and
//! ppc64le. Other architectures go straight to libseccomp's program.

use libseccomp::{ScmpArch, ScmpSyscall};
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction};

use super::names;

/// AUDIT_ARCH_* values: what the kernel puts in seccomp_data.arch.
const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;
const AUDIT_ARCH_ARM: u32 = 0x4000_0028;
const AUDIT_ARCH_RISCV64: u32 = 0xc000_00f3;
const AUDIT_ARCH_PPC64LE: u32 = 0xc000_0015;

/// x32 calls enter through the x86_64 entry with this bit set in their number.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// Offsets in struct seccomp_data.
const DATA_NR: u32 = 0;
const DATA_ARCH: u32 = 4;

const RET_ENOSYS: u32 = libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32;

/// The stub to put before libseccomp's program for `seccomp`; empty when none is
/// needed. The stub falls through to the instruction right after it.
pub fn stub(seccomp: &LinuxSeccomp) -> Vec<libc::sock_filter> {
    use LinuxSeccompAction as A;
    if matches!(
        seccomp.default_action(),
        A::ScmpActAllow | A::ScmpActLog | A::ScmpActTrace
    ) {
        return Vec::new();
    }
    let mut archs: Vec<ScmpArch> = seccomp
        .architectures()
        .iter()
        .flatten()
        .map(|&a| names::arch(a))
        .collect();
    archs.push(ScmpArch::native());
    let has = |a: ScmpArch| archs.contains(&a);
    let names: Vec<&str> = seccomp
        .syscalls()
        .iter()
        .flatten()
        .flat_map(|r| r.names().iter().map(String::as_str))
        .collect();
    let highest = |arch: ScmpArch| -> Option<u32> {
        names
            .iter()
            .filter_map(|n| ScmpSyscall::from_name_by_arch(n, arch).ok())
            .map(|s| s.as_raw_syscall())
            .filter(|&nr| nr >= 0)
            .map(|nr| nr as u32)
            .max()
    };

    let mut blocks: Vec<Block> = Vec::new();
    if has(ScmpArch::X8664) || has(ScmpArch::X32) {
        let native = if has(ScmpArch::X8664) {
            highest(ScmpArch::X8664)
        } else {
            None
        };
        let x32 = if has(ScmpArch::X32) {
            highest(ScmpArch::X32)
        } else {
            None
        };
        if native.is_some() || x32.is_some() {
            blocks.push(Block::X86_64 { native, x32 });
        }
    }
    for (arch, audit) in [
        (ScmpArch::X86, AUDIT_ARCH_I386),
        (ScmpArch::Aarch64, AUDIT_ARCH_AARCH64),
        (ScmpArch::Arm, AUDIT_ARCH_ARM),
        (ScmpArch::Riscv64, AUDIT_ARCH_RISCV64),
        (ScmpArch::Ppc64Le, AUDIT_ARCH_PPC64LE),
    ] {
        if has(arch)
            && let Some(max) = highest(arch)
        {
            blocks.push(Block::Plain { audit, max });
        }
    }

    // Each block ends by jumping over the blocks after it; assemble back to front
    // so that distance is known.
    let mut out: Vec<libc::sock_filter> = Vec::new();
    for block in blocks.iter().rev() {
        let mut code = block.assemble(out.len() as u32);
        code.append(&mut out);
        out = code;
    }
    out
}

/// The checks for one architecture token.
enum Block {
    /// AUDIT_ARCH_X86_64 carries both x86_64 and x32 calls. A kind the filter does
    /// not list (None) goes on to libseccomp, which treats it as a bad architecture.
    X86_64 {
        native: Option<u32>,
        x32: Option<u32>,
    },
    /// One architecture, one range.
    Plain { audit: u32, max: u32 },
}

impl Block {
    /// The block's code, given how many instructions follow it in the stub.
    fn assemble(&self, after: u32) -> Vec<libc::sock_filter> {
        // One check: number above `max` → ENOSYS, else leave the stub.
        // Layout: [jgt max → ret] [ja out] — the ret is the block's last instruction.
        match *self {
            Block::Plain { audit, max } => {
                // 0 ld arch; 1 jeq audit ? 2 : next block; 2 ld nr; 3 jgt max ? 5 : 4;
                // 4 ja out; 5 ret ENOSYS
                vec![
                    ld(DATA_ARCH),
                    jump(libc::BPF_JEQ, audit, 0, 4),
                    ld(DATA_NR),
                    jump(libc::BPF_JGT, max, 1, 0),
                    ja(after + 1),
                    ret(RET_ENOSYS),
                ]
            }
            Block::X86_64 { native, x32 } => {
                // 0 ld arch; 1 jeq x86_64 ? 2 : next block (skip 8); 2 ld nr;
                // 3 jset x32 bit ? 4 : 6;
                // 4 (x32) jgt x32max ? 8 : 5;  5 ja out;
                // 6 (x86_64) jgt max ? 8 : 7;  7 ja out;  8 ret ENOSYS
                // A kind without a limit jumps out at once: u32::MAX is never exceeded.
                let x32_max = x32.unwrap_or(u32::MAX);
                let native_max = native.unwrap_or(u32::MAX);
                vec![
                    ld(DATA_ARCH),
                    jump(libc::BPF_JEQ, AUDIT_ARCH_X86_64, 0, 7),
                    ld(DATA_NR),
                    jump(libc::BPF_JSET, X32_SYSCALL_BIT, 0, 2),
                    jump(libc::BPF_JGT, x32_max, 3, 0),
                    ja(after + 3),
                    jump(libc::BPF_JGT, native_max, 1, 0),
                    ja(after + 1),
                    ret(RET_ENOSYS),
                ]
            }
        }
    }
}

fn ld(offset: u32) -> libc::sock_filter {
    insn(
        (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16,
        0,
        0,
        offset,
    )
}

fn jump(op: u32, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    insn((libc::BPF_JMP | op | libc::BPF_K) as u16, jt, jf, k)
}

fn ja(k: u32) -> libc::sock_filter {
    insn((libc::BPF_JMP | libc::BPF_JA) as u16, 0, 0, k)
}

fn ret(k: u32) -> libc::sock_filter {
    insn((libc::BPF_RET | libc::BPF_K) as u16, 0, 0, k)
}

fn insn(code: u16, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(json: serde_json::Value) -> LinuxSeccomp {
        serde_json::from_value(json).unwrap()
    }

    /// Runs `prog` on one seccomp_data the way the kernel's classic BPF does, for the
    /// few instructions the stub uses; None when it falls off the end (into
    /// libseccomp's program).
    fn run(prog: &[libc::sock_filter], arch: u32, nr: u32) -> Option<u32> {
        let mut pc = 0usize;
        let mut a = 0u32;
        while pc < prog.len() {
            let i = prog[pc];
            let code = u32::from(i.code);
            pc += 1;
            if code == libc::BPF_LD | libc::BPF_W | libc::BPF_ABS {
                a = if i.k == DATA_ARCH { arch } else { nr };
            } else if code == libc::BPF_RET | libc::BPF_K {
                return Some(i.k);
            } else if code == libc::BPF_JMP | libc::BPF_JA {
                pc += i.k as usize;
            } else {
                let taken = match code & 0xf0 {
                    x if x == libc::BPF_JEQ => a == i.k,
                    x if x == libc::BPF_JGT => a > i.k,
                    x if x == libc::BPF_JSET => a & i.k != 0,
                    other => panic!("unexpected jump {other:#x}"),
                };
                pc += usize::from(if taken { i.jt } else { i.jf });
            }
        }
        assert_eq!(pc, prog.len(), "jumped past the end of the stub");
        None
    }

    #[test]
    fn allow_by_default_needs_no_stub() {
        let p = profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]
        }));
        assert!(stub(&p).is_empty());
    }

    #[test]
    fn numbers_above_the_profile_get_enosys_per_architecture() {
        let p = profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            // x86_64: read 0, mkdir 83; x86: read 3, mkdir 39.
            "syscalls": [{"names": ["read", "mkdir"], "action": "SCMP_ACT_ALLOW"}]
        }));
        let s = stub(&p);
        let enosys = Some(RET_ENOSYS);
        assert_eq!(run(&s, AUDIT_ARCH_X86_64, 83), None);
        assert_eq!(run(&s, AUDIT_ARCH_X86_64, 50), None);
        assert_eq!(run(&s, AUDIT_ARCH_X86_64, 84), enosys);
        assert_eq!(run(&s, AUDIT_ARCH_X86_64, 1000), enosys);
        assert_eq!(run(&s, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 83), None);
        assert_eq!(run(&s, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 600), enosys);
        assert_eq!(run(&s, AUDIT_ARCH_I386, 39), None);
        assert_eq!(run(&s, AUDIT_ARCH_I386, 40), enosys);
        assert_eq!(run(&s, AUDIT_ARCH_AARCH64, 5000), None, "not in the filter");
    }

    #[test]
    fn x32_calls_go_on_to_libseccomp_when_x32_is_not_listed() {
        let p = profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_KILL_PROCESS",
            "syscalls": [{"names": ["read", "mkdir"], "action": "SCMP_ACT_ALLOW"}]
        }));
        let s = stub(&p);
        assert_eq!(run(&s, AUDIT_ARCH_X86_64, 84), Some(RET_ENOSYS));
        assert_eq!(run(&s, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 600), None);
        assert_eq!(run(&s, AUDIT_ARCH_I386, 600), None, "x86 is not listed");
    }
}
