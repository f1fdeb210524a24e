//! OCI mount options (`"options": ["nosuid", "rbind", "mode=755", ...]`) turned into
//! what the kernel takes: `MS_*` flags, propagation changes, recursive attributes
//! for `mount_setattr`, and the filesystem's data string.

use nix::mount::MsFlags;

use super::sys::attr;

/// A mount's options, sorted by how they reach the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MountOptions {
    /// Flags for `mount(2)`, including `MS_BIND`/`MS_REC` for bind mounts.
    pub flags: MsFlags,
    /// Propagation changes, applied one by one after the mount, in order.
    pub propagation: Vec<MsFlags>,
    /// `MOUNT_ATTR_*` to set recursively (`rro`, `rnosuid`, ...).
    pub rec_set: u64,
    /// `MOUNT_ATTR_*` to clear recursively (`rrw`, `rsuid`, ...).
    pub rec_clr: u64,
    /// Everything else, comma-joined, handed to the filesystem.
    pub data: String,
    /// `idmap`/`ridmap` was asked for.
    pub idmap: bool,
    /// `tmpcopyup` (runc's extension, used by podman): a tmpfs starts with a copy of
    /// what the directory it covers held.
    pub tmpcopyup: bool,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            flags: MsFlags::empty(),
            propagation: Vec::new(),
            rec_set: 0,
            rec_clr: 0,
            data: String::new(),
            idmap: false,
            tmpcopyup: false,
        }
    }
}

impl MountOptions {
    /// Whether this is a bind mount (`bind` or `rbind`).
    pub fn is_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND)
    }

    /// The flags that need a remount after a bind: the kernel ignores everything
    /// but `MS_BIND|MS_REC` on the bind itself.
    pub fn bind_remount_flags(&self) -> MsFlags {
        self.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT)
    }

    /// The data string, or `None` when empty.
    pub fn data(&self) -> Option<&str> {
        (!self.data.is_empty()).then_some(self.data.as_str())
    }
}

/// `(name, clears, flag)`: options that set or clear one `MS_*` flag.
const FLAGS: &[(&str, bool, MsFlags)] = &[
    ("defaults", false, MsFlags::empty()),
    ("ro", false, MsFlags::MS_RDONLY),
    ("rw", true, MsFlags::MS_RDONLY),
    ("nosuid", false, MsFlags::MS_NOSUID),
    ("suid", true, MsFlags::MS_NOSUID),
    ("nodev", false, MsFlags::MS_NODEV),
    ("dev", true, MsFlags::MS_NODEV),
    ("noexec", false, MsFlags::MS_NOEXEC),
    ("exec", true, MsFlags::MS_NOEXEC),
    ("sync", false, MsFlags::MS_SYNCHRONOUS),
    ("async", true, MsFlags::MS_SYNCHRONOUS),
    ("dirsync", false, MsFlags::MS_DIRSYNC),
    ("remount", false, MsFlags::MS_REMOUNT),
    ("mand", false, MsFlags::MS_MANDLOCK),
    ("nomand", true, MsFlags::MS_MANDLOCK),
    ("noatime", false, MsFlags::MS_NOATIME),
    ("atime", true, MsFlags::MS_NOATIME),
    ("nodiratime", false, MsFlags::MS_NODIRATIME),
    ("diratime", true, MsFlags::MS_NODIRATIME),
    ("relatime", false, MsFlags::MS_RELATIME),
    ("norelatime", true, MsFlags::MS_RELATIME),
    ("strictatime", false, MsFlags::MS_STRICTATIME),
    ("nostrictatime", true, MsFlags::MS_STRICTATIME),
    ("lazytime", false, MsFlags::MS_LAZYTIME),
    ("nolazytime", true, MsFlags::MS_LAZYTIME),
    ("iversion", false, MsFlags::MS_I_VERSION),
    ("noiversion", true, MsFlags::MS_I_VERSION),
    ("silent", false, MsFlags::MS_SILENT),
    ("loud", true, MsFlags::MS_SILENT),
    ("bind", false, MsFlags::MS_BIND),
    ("rbind", false, MsFlags::MS_BIND.union(MsFlags::MS_REC)),
];

/// `(name, clears, attribute)`: recursive options applied with `mount_setattr`.
const REC_ATTRS: &[(&str, bool, u64)] = &[
    ("rro", false, attr::RDONLY),
    ("rrw", true, attr::RDONLY),
    ("rnosuid", false, attr::NOSUID),
    ("rsuid", true, attr::NOSUID),
    ("rnodev", false, attr::NODEV),
    ("rdev", true, attr::NODEV),
    ("rnoexec", false, attr::NOEXEC),
    ("rexec", true, attr::NOEXEC),
    ("rnodiratime", false, attr::NODIRATIME),
    ("rdiratime", true, attr::NODIRATIME),
    ("rnosymfollow", false, attr::NOSYMFOLLOW),
    ("rsymfollow", true, attr::NOSYMFOLLOW),
];

/// Parses a propagation name (`private`, `rslave`, ...) into its `MS_*` flags.
pub(crate) fn propagation(name: &str) -> Option<MsFlags> {
    let rec = MsFlags::MS_REC;
    Some(match name {
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | rec,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | rec,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | rec,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | rec,
        _ => return None,
    })
}

/// The `mount --make-*` name of propagation flags, for the trace and errors.
pub(crate) fn propagation_name(flags: MsFlags) -> &'static str {
    let rec = flags.contains(MsFlags::MS_REC);
    match (flags & !MsFlags::MS_REC, rec) {
        (f, false) if f == MsFlags::MS_PRIVATE => "private",
        (f, true) if f == MsFlags::MS_PRIVATE => "rprivate",
        (f, false) if f == MsFlags::MS_SHARED => "shared",
        (f, true) if f == MsFlags::MS_SHARED => "rshared",
        (f, false) if f == MsFlags::MS_SLAVE => "slave",
        (f, true) if f == MsFlags::MS_SLAVE => "rslave",
        (f, false) if f == MsFlags::MS_UNBINDABLE => "unbindable",
        (f, true) if f == MsFlags::MS_UNBINDABLE => "runbindable",
        _ => "propagation",
    }
}

/// Sorts OCI mount options. Unknown options are data for the filesystem, as with
/// mount(8).
pub(crate) fn parse<S: AsRef<str>>(options: &[S]) -> MountOptions {
    let mut out = MountOptions::default();
    for opt in options {
        let opt = opt.as_ref();
        if let Some(&(_, clears, flag)) = FLAGS.iter().find(|(n, _, _)| *n == opt) {
            if clears {
                out.flags.remove(flag);
            } else {
                out.flags.insert(flag);
                // The atime modes exclude each other; the last one written wins.
                let atime = MsFlags::MS_NOATIME | MsFlags::MS_RELATIME | MsFlags::MS_STRICTATIME;
                if atime.contains(flag) {
                    out.flags.remove(atime & !flag);
                }
            }
        } else if let Some(p) = propagation(opt) {
            out.propagation.push(p);
        } else if let Some(&(_, clears, a)) = REC_ATTRS.iter().find(|(n, _, _)| *n == opt) {
            if clears {
                out.rec_clr |= a;
                out.rec_set &= !a;
            } else {
                out.rec_set |= a;
                out.rec_clr &= !a;
            }
        } else if let Some(a) = rec_atime(opt) {
            out.rec_set = (out.rec_set & !attr::ATIME) | a;
            out.rec_clr |= attr::ATIME;
        } else if opt == "idmap" || opt == "ridmap" {
            out.idmap = true;
        } else if opt == "tmpcopyup" {
            out.tmpcopyup = true;
        } else if !opt.is_empty() {
            if !out.data.is_empty() {
                out.data.push(',');
            }
            out.data.push_str(opt);
        }
    }
    out
}

/// The recursive atime modes: setting one means clearing the whole atime field.
fn rec_atime(opt: &str) -> Option<u64> {
    match opt {
        "rnoatime" => Some(attr::NOATIME),
        "rrelatime" => Some(attr::RELATIME),
        "rstrictatime" => Some(attr::STRICTATIME),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_options_become_flags() {
        let o = parse(&["nosuid", "noexec", "nodev"]);
        assert_eq!(
            o.flags,
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV
        );
        assert!(o.data.is_empty());
        assert!(!o.is_bind());
    }

    #[test]
    fn unknown_options_are_data_in_order() {
        let o = parse(&["nosuid", "strictatime", "mode=755", "size=65536k"]);
        assert_eq!(o.flags, MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME);
        assert_eq!(o.data(), Some("mode=755,size=65536k"));
        let o = parse(&[
            "nosuid",
            "noexec",
            "newinstance",
            "ptmxmode=0666",
            "mode=0620",
            "gid=5",
        ]);
        assert_eq!(o.data, "newinstance,ptmxmode=0666,mode=0620,gid=5");
    }

    #[test]
    fn rbind_ro_needs_a_remount_with_ro() {
        let o = parse(&["rbind", "ro", "nosuid"]);
        assert!(o.is_bind());
        assert!(o.flags.contains(MsFlags::MS_REC));
        assert_eq!(
            o.bind_remount_flags(),
            MsFlags::MS_RDONLY | MsFlags::MS_NOSUID
        );
        let o = parse(&["bind"]);
        assert!(!o.flags.contains(MsFlags::MS_REC));
        assert!(o.bind_remount_flags().is_empty());
    }

    #[test]
    fn later_options_override_earlier_ones() {
        let o = parse(&["ro", "rw", "nosuid", "suid"]);
        assert!(o.flags.is_empty());
        let o = parse(&["relatime", "noatime", "strictatime"]);
        assert_eq!(o.flags, MsFlags::MS_STRICTATIME);
        let o = parse(&["strictatime", "norelatime"]);
        assert_eq!(o.flags, MsFlags::MS_STRICTATIME);
    }

    #[test]
    fn propagation_options_are_kept_apart_in_order() {
        let o = parse(&["tmpcopyup", "mode=755"]);
        assert!(o.tmpcopyup);
        assert_eq!(o.data, "mode=755");
        let o = parse(&["rbind", "rprivate", "slave"]);
        assert_eq!(o.flags, MsFlags::MS_BIND | MsFlags::MS_REC);
        assert_eq!(
            o.propagation,
            vec![MsFlags::MS_PRIVATE | MsFlags::MS_REC, MsFlags::MS_SLAVE]
        );
    }

    #[test]
    fn propagation_names_round_trip() {
        for name in [
            "private",
            "rprivate",
            "shared",
            "rshared",
            "slave",
            "rslave",
            "unbindable",
            "runbindable",
        ] {
            let f = propagation(name).unwrap();
            assert_eq!(propagation_name(f), name);
        }
        assert_eq!(propagation("rslaves"), None);
        assert_eq!(propagation(""), None);
    }

    #[test]
    fn recursive_attributes() {
        let o = parse(&["rbind", "rro", "rnosuid", "rnoatime"]);
        assert_eq!(o.rec_set, attr::RDONLY | attr::NOSUID | attr::NOATIME);
        assert_eq!(o.rec_clr, attr::ATIME);
        assert!(o.data.is_empty());
        let o = parse(&["rro", "rrw"]);
        assert_eq!(o.rec_set, 0);
        assert_eq!(o.rec_clr, attr::RDONLY);
        let o = parse(&["idmap"]);
        assert!(o.idmap);
    }
}
