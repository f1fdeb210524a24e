//! Device access rules (`linux.resources.devices`), checked and normalised once for
//! both back ends: v1 writes them to devices.allow / devices.deny, v2 compiles them to
//! an eBPF program ([`super::devices_bpf`]).
//!
//! Semantics on both: everything is denied, then the rules apply in order, a later
//! rule overriding an earlier one for the devices and access it names.

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use super::{Error, Result};

/// mknod access, as the kernel's `BPF_DEVCG_ACC_MKNOD`.
pub(crate) const ACC_MKNOD: u32 = 1;
/// read access (`BPF_DEVCG_ACC_READ`).
pub(crate) const ACC_READ: u32 = 2;
/// write access (`BPF_DEVCG_ACC_WRITE`).
pub(crate) const ACC_WRITE: u32 = 4;
/// All three.
pub(crate) const ACC_ALL: u32 = ACC_MKNOD | ACC_READ | ACC_WRITE;

/// Which devices a rule covers by type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DevType {
    /// Block and character devices.
    All,
    /// Block devices (`BPF_DEVCG_DEV_BLOCK` = 1).
    Block,
    /// Character devices (`BPF_DEVCG_DEV_CHAR` = 2).
    Char,
}

/// One checked rule. None for major or minor means any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rule {
    /// Allow (true) or deny.
    pub allow: bool,
    /// Device type.
    pub typ: DevType,
    /// Major number, or any.
    pub major: Option<u32>,
    /// Minor number, or any.
    pub minor: Option<u32>,
    /// ACC_* bits.
    pub access: u32,
}

impl Rule {
    /// Whether the rule names every device with every access.
    pub fn is_everything(&self) -> bool {
        self.typ == DevType::All
            && self.major.is_none()
            && self.minor.is_none()
            && self.access == ACC_ALL
    }

    /// The v1 lines for devices.allow / devices.deny. A type-"a" rule that is not for
    /// everything becomes a "b" and a "c" line: the kernel reads "a" as "all devices,
    /// all access" whatever follows it.
    pub fn v1_lines(&self) -> Vec<String> {
        if self.is_everything() {
            return vec!["a".to_owned()];
        }
        let num = |n: Option<u32>| n.map_or_else(|| "*".to_owned(), |n| n.to_string());
        let mut acc = String::with_capacity(3);
        if self.access & ACC_READ != 0 {
            acc.push('r');
        }
        if self.access & ACC_WRITE != 0 {
            acc.push('w');
        }
        if self.access & ACC_MKNOD != 0 {
            acc.push('m');
        }
        let types: &[char] = match self.typ {
            DevType::All => &['b', 'c'],
            DevType::Block => &['b'],
            DevType::Char => &['c'],
        };
        types
            .iter()
            .map(|t| format!("{t} {}:{} {acc}", num(self.major), num(self.minor)))
            .collect()
    }
}

/// What a v1 devices.list shows after "a" is written to devices.deny and then
/// `rules`, following the kernel's bookkeeping: a default (allow or deny) plus an
/// exception list in which an entry for the same type and numbers gains or loses
/// access bits. None when the list cannot tell (a default of allow prints as
/// "a *:* rwm" whatever its exceptions).
pub(crate) fn v1_list_after(rules: &[Rule]) -> Option<Vec<String>> {
    let mut allow_default = false;
    let mut exceptions: Vec<(char, Option<u32>, Option<u32>, u32)> = Vec::new();
    for r in rules {
        if r.is_everything() {
            allow_default = r.allow;
            exceptions.clear();
            continue;
        }
        let types: &[char] = match r.typ {
            DevType::All => &['b', 'c'],
            DevType::Block => &['b'],
            DevType::Char => &['c'],
        };
        // A rule that agrees with the default removes exceptions; one that differs
        // adds them.
        let add = r.allow != allow_default;
        for &t in types {
            match exceptions
                .iter_mut()
                .find(|e| e.0 == t && e.1 == r.major && e.2 == r.minor)
            {
                Some(e) if add => e.3 |= r.access,
                Some(e) => e.3 &= !r.access,
                None if add => exceptions.push((t, r.major, r.minor, r.access)),
                None => {}
            }
            exceptions.retain(|e| e.3 != 0);
        }
    }
    if allow_default {
        return exceptions.is_empty().then(|| vec!["a *:* rwm".to_owned()]);
    }
    Some(
        exceptions
            .iter()
            .flat_map(|&(t, major, minor, access)| {
                let typ = match t {
                    'b' => DevType::Block,
                    _ => DevType::Char,
                };
                Rule {
                    allow: true,
                    typ,
                    major,
                    minor,
                    access,
                }
                .v1_lines()
            })
            .collect(),
    )
}

/// Checks the config's rules. FIFO rules are dropped: the device controller only
/// governs block and character devices.
pub(crate) fn rules(spec: &[LinuxDeviceCgroup]) -> Result<Vec<Rule>> {
    let mut out = Vec::with_capacity(spec.len());
    for d in spec {
        let typ = match d.typ().unwrap_or(LinuxDeviceType::A) {
            LinuxDeviceType::A => DevType::All,
            LinuxDeviceType::B => DevType::Block,
            LinuxDeviceType::C | LinuxDeviceType::U => DevType::Char,
            LinuxDeviceType::P => continue,
        };
        let number = |n: Option<i64>, what: &str| -> Result<Option<u32>> {
            match n {
                None => Ok(None),
                Some(n) if n < 0 => Ok(None),
                Some(n) if n <= i32::MAX as i64 => Ok(Some(n as u32)),
                Some(n) => Err(Error::Config(format!(
                    "device rule {what} number {n} is out of range"
                ))),
            }
        };
        let major = number(d.major(), "major")?;
        let minor = number(d.minor(), "minor")?;
        let access = match d.access().as_deref() {
            None | Some("") => ACC_ALL,
            Some(a) => {
                let mut bits = 0;
                for c in a.chars() {
                    bits |= match c {
                        'r' => ACC_READ,
                        'w' => ACC_WRITE,
                        'm' => ACC_MKNOD,
                        _ => {
                            return Err(Error::Config(format!(
                                "device rule access {a:?} is invalid: use r, w and m"
                            )));
                        }
                    };
                }
                bits
            }
        };
        out.push(Rule {
            allow: d.allow(),
            typ,
            major,
            minor,
            access,
        });
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use oci_spec::runtime::LinuxDeviceCgroupBuilder;

    /// A spec rule, for tests here and in devices_bpf.
    pub(crate) fn spec(
        allow: bool,
        typ: LinuxDeviceType,
        major: Option<i64>,
        minor: Option<i64>,
        access: &str,
    ) -> LinuxDeviceCgroup {
        let mut b = LinuxDeviceCgroupBuilder::default()
            .allow(allow)
            .typ(typ)
            .access(access);
        if let Some(m) = major {
            b = b.major(m);
        }
        if let Some(m) = minor {
            b = b.minor(m);
        }
        b.build().unwrap()
    }

    #[test]
    fn v1_rendering() {
        let r = rules(&[
            spec(false, LinuxDeviceType::A, None, None, "rwm"),
            spec(true, LinuxDeviceType::C, Some(1), Some(3), "rwm"),
            spec(true, LinuxDeviceType::C, Some(136), None, "rw"),
            spec(true, LinuxDeviceType::A, Some(10), Some(200), "m"),
            spec(true, LinuxDeviceType::P, None, None, "rwm"),
            spec(false, LinuxDeviceType::U, Some(5), Some(-1), "w"),
        ])
        .unwrap();
        let lines: Vec<Vec<String>> = r.iter().map(Rule::v1_lines).collect();
        assert_eq!(
            lines,
            vec![
                vec!["a".to_owned()],
                vec!["c 1:3 rwm".to_owned()],
                vec!["c 136:* rw".to_owned()],
                vec!["b 10:200 m".to_owned(), "c 10:200 m".to_owned()],
                vec!["c 5:* w".to_owned()],
            ]
        );
        assert!(!r[4].allow);
    }

    #[test]
    fn v1_list_follows_the_kernels_bookkeeping() {
        let list = |r: &[LinuxDeviceCgroup]| v1_list_after(&rules(r).unwrap());
        assert_eq!(list(&[]), Some(vec![]));
        assert_eq!(
            list(&[
                spec(false, LinuxDeviceType::A, None, None, "rwm"),
                spec(true, LinuxDeviceType::C, Some(1), Some(3), "r"),
                spec(true, LinuxDeviceType::C, Some(1), Some(3), "w"),
                spec(true, LinuxDeviceType::C, Some(136), None, "rwm"),
                spec(false, LinuxDeviceType::C, Some(136), None, "m"),
                spec(true, LinuxDeviceType::C, Some(5), Some(2), "m"),
                spec(false, LinuxDeviceType::C, Some(5), Some(2), "m"),
            ]),
            Some(vec!["c 1:3 rw".to_owned(), "c 136:* rw".to_owned()])
        );
        assert_eq!(
            list(&[spec(true, LinuxDeviceType::A, None, None, "rwm")]),
            Some(vec!["a *:* rwm".to_owned()])
        );
        assert_eq!(
            list(&[
                spec(true, LinuxDeviceType::A, None, None, "rwm"),
                spec(false, LinuxDeviceType::C, Some(1), Some(3), "rwm"),
            ]),
            None
        );
    }

    #[test]
    fn bad_access_is_refused() {
        let e = rules(&[spec(true, LinuxDeviceType::C, Some(1), Some(3), "rx")]).unwrap_err();
        assert!(e.to_string().contains("\"rx\""), "{e}");
    }
}
