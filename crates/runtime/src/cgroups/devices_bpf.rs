//! cgroup v2 device control: the rules become a `BPF_PROG_TYPE_CGROUP_DEVICE` program,
//! assembled here instruction by instruction, attached to the container's cgroup.
//!
//! The kernel runs the program on every device open and mknod with a context of three
//! u32 words: `access << 16 | type`, major, minor; it returns 1 to allow, 0 to deny.
//!
//! Rules are tested last to first, so that a later rule overrides an earlier one. Each
//! requested access bit is decided by the last rule that matches the device and names
//! that bit: r3 holds the bits not yet decided; an allow rule clears the bits it
//! grants (all cleared: allow), a deny rule naming any undecided bit denies. Bits no
//! rule decides fall to the default: deny.

use std::os::fd::AsFd;
use std::path::Path;

use super::devices::{ACC_ALL, DevType, Rule};
use super::{Error, Result, bpf_sys};
use crate::explain;

/// One eBPF instruction, in the kernel's `struct bpf_insn` layout.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Insn {
    /// Opcode.
    pub code: u8,
    /// dst register in the low nibble, src in the high one.
    pub regs: u8,
    /// Jump offset or memory offset.
    pub off: i16,
    /// Immediate.
    pub imm: i32,
}

const LDX_MEM_W: u8 = 0x61;
const ALU64_AND_K: u8 = 0x57;
const ALU64_RSH_K: u8 = 0x77;
const ALU64_MOV_K: u8 = 0xb7;
const ALU64_MOV_X: u8 = 0xbf;
const JMP_JEQ_K: u8 = 0x15;
const JMP_JNE_K: u8 = 0x55;
const JMP_EXIT: u8 = 0x95;

const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;

const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | (dst & 0x0f),
        off,
        imm,
    }
}

/// Registers after the prologue: r2 device type, r3 undecided access bits, r4 major,
/// r5 minor. r1 (the context) is free for scratch afterwards.
const PROLOGUE: [Insn; 6] = [
    insn(LDX_MEM_W, 2, 1, 0, 0),
    insn(ALU64_AND_K, 2, 0, 0, 0xffff),
    insn(LDX_MEM_W, 3, 1, 0, 0),
    insn(ALU64_RSH_K, 3, 0, 0, 16),
    insn(LDX_MEM_W, 4, 1, 4, 0),
    insn(LDX_MEM_W, 5, 1, 8, 0),
];

const fn ret(v: i32) -> [Insn; 2] {
    [insn(ALU64_MOV_K, 0, 0, 0, v), insn(JMP_EXIT, 0, 0, 0, 0)]
}

/// Assembles the program for `rules` (already in config order).
pub(crate) fn program(rules: &[Rule]) -> Vec<Insn> {
    let mut prog = PROLOGUE.to_vec();
    // Deny rules before the first allow rule decide nothing the default deny would not.
    let first_allow = rules.iter().position(|r| r.allow).unwrap_or(rules.len());
    for rule in rules[first_allow..].iter().rev() {
        let mut block = Vec::with_capacity(8);
        let mut skips = Vec::new();
        let mut check = |reg: u8, v: i32, block: &mut Vec<Insn>| {
            skips.push(block.len());
            block.push(insn(JMP_JNE_K, reg, 0, 0, v));
        };
        match rule.typ {
            DevType::All => {}
            DevType::Block => check(2, DEV_BLOCK, &mut block),
            DevType::Char => check(2, DEV_CHAR, &mut block),
        }
        if let Some(m) = rule.major {
            check(4, m as i32, &mut block);
        }
        if let Some(m) = rule.minor {
            check(5, m as i32, &mut block);
        }
        let unconditional = skips.is_empty() && rule.access == ACC_ALL;
        match (rule.allow, rule.access == ACC_ALL) {
            (true, true) | (false, true) => {}
            (true, false) => {
                // Clear the granted bits; anything still undecided goes on to earlier
                // rules.
                block.push(insn(ALU64_AND_K, 3, 0, 0, (!rule.access & 0xffff) as i32));
                skips.push(block.len());
                block.push(insn(JMP_JNE_K, 3, 0, 0, 0));
            }
            (false, false) => {
                block.push(insn(ALU64_MOV_X, 1, 3, 0, 0));
                block.push(insn(ALU64_AND_K, 1, 0, 0, rule.access as i32));
                skips.push(block.len());
                block.push(insn(JMP_JEQ_K, 1, 0, 0, 0));
            }
        }
        block.extend(ret(i32::from(rule.allow)));
        let len = block.len();
        for i in skips {
            block[i].off = (len - i - 1) as i16;
        }
        prog.extend(block);
        if unconditional {
            // Nothing after an unconditional return is reachable, and the verifier
            // refuses unreachable instructions.
            return prog;
        }
    }
    prog.extend(ret(0));
    prog
}

/// Replaces the device program of the cgroup `dir` with one for `rules`: the new
/// program is attached first and the old ones detached after, so no moment passes
/// without a filter.
pub(crate) fn apply(dir: &Path, rules: &[Rule]) -> Result<()> {
    let prog = program(rules);
    let cg = std::fs::File::open(dir).map_err(|source| Error::Io {
        what: format!("open {}", dir.display()),
        source,
    })?;
    let old = bpf_sys::query_device_progs(cg.as_fd()).map_err(|source| Error::Bpf {
        what: format!("query device programs of {}", dir.display()),
        source,
        log: String::new(),
    })?;
    let fd = explain::step(
        || {
            format!(
                "bpf load cgroup device program ({} rules, {} insns)",
                rules.len(),
                prog.len()
            )
        },
        || {
            bpf_sys::load_device_prog(&prog).map_err(|(source, log)| Error::Bpf {
                what: "load the device cgroup program".into(),
                source,
                log,
            })
        },
    )?;
    explain::step(
        || format!("bpf attach device program to {}", dir.display()),
        || {
            bpf_sys::attach_device_prog(cg.as_fd(), fd.as_fd()).map_err(|source| Error::Bpf {
                what: format!("attach the device program to {}", dir.display()),
                source,
                log: String::new(),
            })
        },
    )?;
    for id in old {
        // A program detached by someone else meanwhile is already gone: fine.
        let Ok(old_fd) = bpf_sys::prog_fd_by_id(id) else {
            continue;
        };
        explain::step(
            || format!("bpf detach old device program {id} from {}", dir.display()),
            || match bpf_sys::detach_device_prog(cg.as_fd(), old_fd.as_fd()) {
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
                r => r.map_err(|source| Error::Bpf {
                    what: format!("detach device program {id} from {}", dir.display()),
                    source,
                    log: String::new(),
                }),
            },
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::devices::{self, ACC_MKNOD, ACC_READ, ACC_WRITE, tests::spec};
    use super::*;
    use oci_spec::runtime::LinuxDeviceType as T;

    /// Runs the program the way the kernel would, for the instructions `program` emits.
    fn run(prog: &[Insn], typ: i32, access: u32, major: u32, minor: u32) -> u64 {
        let ctx = [(access << 16) | typ as u32, major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let i = prog[pc];
            let (dst, src) = ((i.regs & 0x0f) as usize, (i.regs >> 4) as usize);
            pc += 1;
            match i.code {
                LDX_MEM_W => {
                    assert_eq!(src, 1, "loads only from the context");
                    r[dst] = u64::from(ctx[i.off as usize / 4]);
                }
                ALU64_AND_K => r[dst] &= i.imm as i64 as u64,
                ALU64_RSH_K => r[dst] >>= i.imm,
                ALU64_MOV_K => r[dst] = i.imm as i64 as u64,
                ALU64_MOV_X => r[dst] = r[src],
                JMP_JEQ_K if r[dst] == i.imm as i64 as u64 => pc += i.off as usize,
                JMP_JNE_K if r[dst] != i.imm as i64 as u64 => pc += i.off as usize,
                JMP_JEQ_K | JMP_JNE_K => {}
                JMP_EXIT => return r[0],
                c => panic!("unexpected opcode {c:#x}"),
            }
        }
    }

    fn allowed(prog: &[Insn], typ: i32, access: u32, major: u32, minor: u32) -> bool {
        run(prog, typ, access, major, minor) == 1
    }

    #[test]
    fn default_is_deny_and_the_deny_all_prefix_costs_nothing() {
        let none = program(&[]);
        let deny_all = program(&devices::rules(&[spec(false, T::A, None, None, "rwm")]).unwrap());
        assert_eq!(none, deny_all);
        assert_eq!(none.len(), PROLOGUE.len() + 2);
        assert!(!allowed(&none, DEV_CHAR, ACC_READ, 1, 3));
    }

    #[test]
    fn typical_container_rules() {
        let rules = devices::rules(&[
            spec(false, T::A, None, None, "rwm"),
            spec(true, T::C, Some(1), Some(3), "rwm"),
            spec(true, T::C, Some(136), None, "rwm"),
            spec(true, T::C, None, None, "m"),
            spec(true, T::C, Some(1), Some(5), "r"),
        ])
        .unwrap();
        let p = program(&rules);
        assert!(allowed(&p, DEV_CHAR, ACC_READ | ACC_WRITE, 1, 3));
        assert!(!allowed(&p, DEV_BLOCK, ACC_READ, 1, 3), "type matters");
        assert!(allowed(&p, DEV_CHAR, ACC_WRITE, 136, 7), "minor wildcard");
        assert!(
            allowed(&p, DEV_CHAR, ACC_MKNOD, 4, 4),
            "mknod of any char device"
        );
        assert!(!allowed(&p, DEV_CHAR, ACC_READ, 4, 4));
        assert!(allowed(&p, DEV_CHAR, ACC_READ, 1, 5));
        assert!(
            !allowed(&p, DEV_CHAR, ACC_READ | ACC_WRITE, 1, 5),
            "write not granted"
        );
        assert!(
            allowed(&p, DEV_CHAR, ACC_READ | ACC_MKNOD, 1, 5),
            "bits from two rules"
        );
        assert!(!allowed(&p, DEV_BLOCK, ACC_MKNOD, 8, 0));
    }

    #[test]
    fn later_deny_overrides_earlier_allow_for_the_bits_it_names() {
        let rules = devices::rules(&[
            spec(true, T::A, None, None, "rwm"),
            spec(false, T::C, Some(1), Some(3), "w"),
        ])
        .unwrap();
        let p = program(&rules);
        assert!(allowed(&p, DEV_CHAR, ACC_READ, 1, 3));
        assert!(!allowed(&p, DEV_CHAR, ACC_WRITE, 1, 3));
        assert!(!allowed(&p, DEV_CHAR, ACC_READ | ACC_WRITE, 1, 3));
        assert!(allowed(&p, DEV_BLOCK, ACC_WRITE, 8, 0));
        // The allow-everything rule ends the program: no unreachable tail.
        assert_eq!(p.last().unwrap().code, JMP_EXIT);
        assert_eq!(p[p.len() - 2], insn(ALU64_MOV_K, 0, 0, 0, 1));
    }

    #[test]
    fn later_allow_overrides_earlier_deny() {
        let rules = devices::rules(&[
            spec(true, T::C, Some(1), None, "rwm"),
            spec(false, T::C, Some(1), Some(3), "rwm"),
            spec(true, T::C, Some(1), Some(3), "r"),
        ])
        .unwrap();
        let p = program(&rules);
        assert!(allowed(&p, DEV_CHAR, ACC_READ, 1, 3));
        assert!(!allowed(&p, DEV_CHAR, ACC_WRITE, 1, 3));
        assert!(allowed(&p, DEV_CHAR, ACC_WRITE, 1, 8));
    }

    #[test]
    fn encoding_matches_the_kernel_layout() {
        assert_eq!(std::mem::size_of::<Insn>(), 8);
        assert_eq!(std::mem::offset_of!(Insn, off), 2);
        assert_eq!(std::mem::offset_of!(Insn, imm), 4);
        // r4 = *(u32 *)(r1 + 4): dst in the low nibble, src in the high one.
        assert_eq!(insn(LDX_MEM_W, 4, 1, 4, 0).regs, 0x14);
        // Every jump lands inside the program.
        let rules = devices::rules(&[
            spec(true, T::C, Some(1), Some(3), "rw"),
            spec(false, T::B, Some(8), None, "m"),
        ])
        .unwrap();
        let p = program(&rules);
        for (pc, i) in p.iter().enumerate() {
            if i.code == JMP_JEQ_K || i.code == JMP_JNE_K {
                assert!(
                    pc + 1 + (i.off as usize) < p.len(),
                    "jump at {pc} leaves the program"
                );
            }
        }
    }
}
