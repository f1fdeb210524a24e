//! Container IDs (64 random hex digits, as Docker's) and generated names
//! (`adjective_noun`, like Docker's, from berth's own harbour-themed word lists).

use std::io::Read;

use crate::error::{Error, Result, io};

const ADJECTIVES: &[&str] = &[
    "agile", "amber", "ancient", "bold", "brave", "breezy", "bright", "busy", "calm", "clever",
    "cosy", "crisp", "daring", "deep", "eager", "early", "fair", "fast", "fearless", "gentle",
    "glad", "golden", "grand", "happy", "hardy", "honest", "jolly", "keen", "kind", "lively",
    "loyal", "lucky", "merry", "mighty", "misty", "modest", "nimble", "noble", "patient", "placid",
    "proud", "quick", "quiet", "rapid", "salty", "serene", "sharp", "silent", "sleepy", "smooth",
    "steady", "stoic", "sturdy", "sunny", "swift", "tidy", "trusty", "vivid", "warm", "wise",
];

const NOUNS: &[&str] = &[
    "anchor",
    "barge",
    "beacon",
    "bollard",
    "buoy",
    "cabin",
    "canal",
    "capstan",
    "cargo",
    "channel",
    "clipper",
    "compass",
    "coracle",
    "crane",
    "cutter",
    "dinghy",
    "dock",
    "dory",
    "ferry",
    "galley",
    "harbour",
    "hawser",
    "helm",
    "hull",
    "jetty",
    "keel",
    "ketch",
    "lantern",
    "lighthouse",
    "lock",
    "mast",
    "mooring",
    "oar",
    "pier",
    "pilot",
    "pontoon",
    "port",
    "quay",
    "raft",
    "rudder",
    "sail",
    "schooner",
    "skiff",
    "sloop",
    "spar",
    "tide",
    "tiller",
    "towpath",
    "trawler",
    "tug",
    "wake",
    "wharf",
    "winch",
    "yawl",
];

/// A new container ID: 32 random bytes from the kernel, as 64 lowercase hex digits.
pub fn new_id() -> Result<String> {
    let mut b = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .map_err(io("read /dev/urandom for a container id"))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// A generated name drawn from four random `seed` bytes; `attempt` > 0
/// appends a number, as Docker does after collisions.
pub fn generate(seed: &[u8], attempt: u32) -> String {
    let pick = |i: usize, len: usize| {
        let hi = seed.get(i).copied().unwrap_or(0) as usize;
        let lo = seed.get(i + 1).copied().unwrap_or(0) as usize;
        (hi * 256 + lo) % len
    };
    let a = ADJECTIVES[pick(0, ADJECTIVES.len())];
    let n = NOUNS[pick(2, NOUNS.len())];
    if attempt == 0 {
        format!("{a}_{n}")
    } else {
        format!("{a}_{n}{attempt}")
    }
}

/// Docker's refusal of name `name`, which container `by` has.
pub fn in_use(name: &str, by: &str) -> Error {
    Error::Conflict(format!(
        "Conflict. The container name \"/{name}\" is already in use by container \"{by}\". You have to remove (or rename) that container to be able to reuse that name."
    ))
}

/// Checks a user-given name against Docker's rule `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn validate(name: &str) -> Result<()> {
    let mut c = name.chars();
    let ok = name.len() >= 2
        && c.next().is_some_and(|f| f.is_ascii_alphanumeric())
        && c.all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '_' | '.' | '-'));
    if ok {
        Ok(())
    } else {
        Err(crate::Error::InvalidArgument(format!(
            "Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_64_hex_digits_and_differ() {
        let a = new_id().unwrap();
        let b = new_id().unwrap();
        assert_eq!(a.len(), 64);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(a, b);
    }

    #[test]
    fn names_are_adjective_noun_and_valid() {
        let n = generate(&[1, 2, 3, 4], 0);
        let (a, b) = n.split_once('_').unwrap();
        assert!(ADJECTIVES.contains(&a) && NOUNS.contains(&b), "{n}");
        validate(&n).unwrap();
        assert!(generate(&[1, 2, 3, 4], 3).ends_with('3'));
    }

    #[test]
    fn bad_names_are_refused() {
        assert!(validate("a").is_err());
        assert!(validate("-x").is_err());
        assert!(validate("a b").is_err());
        assert!(validate("web-1.ok_2").is_ok());
    }
}
