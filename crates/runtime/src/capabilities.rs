//! Linux capabilities: the five sets of the config, applied around the uid switch in
//! the order the kernel requires.
//!
//! The bounding set is trimmed while we still hold CAP_SETPCAP (before the switch);
//! the uid switch keeps the permitted set thanks to PR_SET_KEEPCAPS; then effective,
//! permitted and inheritable are set at once, and ambient capabilities raised last
//! (they must already be permitted and inheritable).

use std::collections::HashSet;
use std::str::FromStr;

use caps::{CapSet, Capability, CapsHashSet};
use oci_spec::runtime::LinuxCapabilities;

use crate::error::{Error, Result};

/// Parses capability names ("CAP_KILL" or "kill"); unknown names are skipped, as runc
/// does, because configs written for newer kernels name capabilities older ones
/// lack.
pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> CapsHashSet {
    names
        .into_iter()
        .filter_map(|n| {
            let up = n.to_ascii_uppercase();
            let full = if up.starts_with("CAP_") { up } else { format!("CAP_{up}") };
            Capability::from_str(&full).ok()
        })
        .filter(|c| caps::all().contains(c))
        .collect()
}

/// The config's sets, resolved to capability values.
#[derive(Debug, Default, Clone)]
pub struct Sets {
    /// Bounding set.
    pub bounding: CapsHashSet,
    /// Effective set.
    pub effective: CapsHashSet,
    /// Inheritable set.
    pub inheritable: CapsHashSet,
    /// Permitted set.
    pub permitted: CapsHashSet,
    /// Ambient set.
    pub ambient: CapsHashSet,
}

impl Sets {
    /// Resolves the config's capability object (absent sets are empty).
    pub fn from_spec(c: &LinuxCapabilities) -> Sets {
        fn conv(s: &Option<oci_spec::runtime::Capabilities>) -> CapsHashSet {
            s.as_ref()
                .map(|set| {
                    let names: Vec<String> = set.iter().map(|c| c.to_string()).collect();
                    parse(names.iter().map(String::as_str))
                })
                .unwrap_or_default()
        }
        Sets {
            bounding: conv(c.bounding()),
            effective: conv(c.effective()),
            inheritable: conv(c.inheritable()),
            permitted: conv(c.permitted()),
            ambient: conv(c.ambient()),
        }
    }
}

/// Drops from the bounding set every capability not in `keep`. Must run before the
/// uid switch (it needs CAP_SETPCAP).
pub fn drop_bounding(keep: &CapsHashSet) -> Result<()> {
    crate::explain::step(
        || format!("capabilities: bounding set = {}", names(keep)),
        || -> Result<()> {
            for c in caps::all() {
                if !keep.contains(&c) {
                    match caps::drop(None, CapSet::Bounding, c) {
                        Ok(()) => {}
                        // A capability this kernel does not know is already gone.
                        Err(_) if !caps::runtime::thread_all_supported().contains(&c) => {}
                        Err(e) => {
                            return Err(Error::Init(format!(
                                "cannot drop {c} from the bounding set: {e}"
                            )));
                        }
                    }
                }
            }
            Ok(())
        },
    )
}

/// Sets the effective, permitted and inheritable sets, then raises ambient ones.
/// Ambient capabilities not in both permitted and inheritable are skipped, as runc
/// skips them (the kernel refuses them).
pub fn apply(sets: &Sets) -> Result<()> {
    crate::explain::step(
        || {
            format!(
                "capset effective={} permitted={} inheritable={}",
                names(&sets.effective),
                names(&sets.permitted),
                names(&sets.inheritable)
            )
        },
        || -> Result<()> {
            // Each capset must leave effective within permitted: shrink effective
            // first, set inheritable while the old permitted set still covers it, and
            // shrink permitted last.
            caps::set(None, CapSet::Effective, &sets.effective)
                .and_then(|_| caps::set(None, CapSet::Inheritable, &sets.inheritable))
                .and_then(|_| caps::set(None, CapSet::Permitted, &sets.permitted))
                .map_err(|e| Error::Init(format!("cannot set capabilities: {e}")))
        },
    )?;
    if !sets.ambient.is_empty() {
        crate::explain::step(
            || format!("capabilities: raise ambient {}", names(&sets.ambient)),
            || -> Result<()> {
                for c in &sets.ambient {
                    if sets.permitted.contains(c) && sets.inheritable.contains(c) {
                        caps::raise(None, CapSet::Ambient, *c).map_err(|e| {
                            Error::Init(format!("cannot raise ambient capability {c}: {e}"))
                        })?;
                    }
                }
                Ok(())
            },
        )?;
    }
    Ok(())
}

/// Sorted, comma-separated names for messages and the trace.
pub fn names(set: &CapsHashSet) -> String {
    let mut v: Vec<String> = set.iter().map(|c| c.to_string()).collect();
    v.sort();
    if v.is_empty() { "none".into() } else { v.join(",") }
}

/// Every capability this kernel knows, for `--privileged`-style configs and
/// `features`.
pub fn all_names() -> Vec<String> {
    let set: HashSet<Capability> = caps::all();
    let mut v: Vec<String> = set.iter().map(|c| c.to_string()).collect();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_both_spellings_and_skips_unknown() {
        let s = parse(["CAP_KILL", "net_bind_service", "CAP_NOT_A_THING"]);
        assert_eq!(s.len(), 2);
        assert!(s.contains(&Capability::CAP_KILL));
        assert!(s.contains(&Capability::CAP_NET_BIND_SERVICE));
    }
}
