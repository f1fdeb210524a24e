//! `run` / `create` options, and the parsers for their values with Docker's rules
//! and messages (`-m 64m`, `--cpus 1.5`, `-v /host:/ctr:ro`, `-e K=V`).

use crate::error::{Error, Result};

/// What `create` and `run` take besides the image.
#[derive(Clone, Debug, Default)]
pub struct CreateOptions {
    /// The image name or ID.
    pub image: String,
    /// Command (replaces the image's Cmd when not empty).
    pub cmd: Vec<String>,
    /// `--name`.
    pub name: Option<String>,
    /// `-e K=V` (or `-e K`, taken from the caller's environment by the CLI).
    pub env: Vec<String>,
    /// `-w`.
    pub workdir: Option<String>,
    /// `-u`.
    pub user: Option<String>,
    /// `--entrypoint` (an empty string clears the image's).
    pub entrypoint: Option<String>,
    /// `--hostname`.
    pub hostname: Option<String>,
    /// `-v` specs.
    pub volumes: Vec<String>,
    /// `-m` in bytes.
    pub memory: i64,
    /// `--pids-limit`.
    pub pids_limit: i64,
    /// `--cpus` in billionths.
    pub nano_cpus: i64,
    /// `--network`: "none" (default for berth until bridges exist) or "host".
    pub network: String,
    /// `--rm`.
    pub auto_remove: bool,
    /// `-l` labels `K=V`.
    pub labels: Vec<String>,
    /// `--stop-signal`.
    pub stop_signal: Option<String>,
    /// `--stop-timeout`.
    pub stop_timeout: Option<u32>,
    /// `-i`: keep stdin open.
    pub interactive: bool,
}

/// Parses a size as Docker's `RAMInBytes`: a decimal number with an optional
/// binary unit `b`, `k`, `m`, `g`, `t`, `p` (an optional trailing `b`, any case).
pub fn parse_ram(s: &str) -> Option<i64> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    let digits_end = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let (num, unit) = lower.split_at(digits_end);
    let n: f64 = num.parse().ok()?;
    let unit = match unit {
        "" | "b" => "",
        u => u.strip_suffix('b').unwrap_or(u),
    };
    let mult: f64 = match unit {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024f64.powi(4),
        "p" => 1024f64.powi(5),
        _ => return None,
    };
    if n < 0.0 {
        return None;
    }
    Some((n * mult) as i64)
}

/// Parses `-m`: Docker's message on a bad value, and its 6 MiB minimum.
pub fn parse_memory(s: &str) -> Result<i64> {
    let v = parse_ram(s).ok_or_else(|| {
        Error::InvalidArgument(format!(
            "invalid argument \"{s}\" for \"-m, --memory\" flag: invalid size: '{s}'"
        ))
    })?;
    if v != 0 && v < 6 * 1024 * 1024 {
        return Err(Error::InvalidArgument(
            "Minimum memory limit allowed is 6MB".into(),
        ));
    }
    Ok(v)
}

/// Parses `--cpus` into billionths of a CPU.
pub fn parse_cpus(s: &str) -> Result<i64> {
    let bad = || {
        Error::InvalidArgument(format!(
            "invalid argument \"{s}\" for \"--cpus\" flag: failed to parse {s} as a rational number"
        ))
    };
    let v: f64 = s.trim().parse().map_err(|_| bad())?;
    if !v.is_finite() || v < 0.0 {
        return Err(bad());
    }
    let n = (v * 1e9).round() as i64;
    let max = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) as i64;
    if n > max * 1_000_000_000 {
        return Err(Error::InvalidArgument(format!(
            "range of CPUs is from 0.01 to {max}.00, as there are only {max} CPUs available"
        )));
    }
    if n != 0 && n < 10_000_000 {
        return Err(Error::InvalidArgument(format!(
            "range of CPUs is from 0.01 to {max}.00, as there are only {max} CPUs available"
        )));
    }
    Ok(n)
}

/// A parsed `-v` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VolumeSpec {
    /// `/host:/ctr[:mode]`.
    Bind {
        /// Absolute host path.
        source: String,
        /// Absolute container path.
        target: String,
        /// Read-only.
        ro: bool,
        /// The mode as given.
        mode: String,
    },
    /// `name:/ctr[:mode]`.
    Named {
        /// Volume name.
        name: String,
        /// Absolute container path.
        target: String,
        /// Read-only.
        ro: bool,
        /// The mode as given.
        mode: String,
    },
}

/// Parses `-v SRC:DST[:MODE]` with Docker's message for a malformed value.
pub fn parse_volume(spec: &str) -> Result<VolumeSpec> {
    let bad = || Error::InvalidArgument(format!("invalid volume specification: '{spec}'"));
    let parts: Vec<&str> = spec.split(':').collect();
    let (src, dst, mode) = match parts.as_slice() {
        [s, d] => (*s, *d, ""),
        [s, d, m] => (*s, *d, *m),
        _ => return Err(bad()),
    };
    if src.is_empty() || !dst.starts_with('/') {
        return Err(bad());
    }
    if dst == "/" {
        return Err(Error::InvalidArgument(format!(
            "invalid volume specification: '{spec}': invalid mount config: destination can't be '/'"
        )));
    }
    let mut ro = false;
    for m in mode.split(',').filter(|m| !m.is_empty()) {
        match m {
            "ro" => ro = true,
            "rw" | "z" | "Z" | "rprivate" | "private" | "rslave" | "slave" | "rshared"
            | "shared" | "nocopy" => {}
            _ => return Err(Error::InvalidArgument(format!("invalid mode: {mode}"))),
        }
    }
    let mode = mode.to_string();
    if src.starts_with('/') {
        Ok(VolumeSpec::Bind { source: src.into(), target: dst.into(), ro, mode })
    } else if src.starts_with('.') || src.contains('/') {
        Err(Error::InvalidArgument(format!(
            "invalid volume specification: '{spec}': {src} includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
        )))
    } else {
        crate::names::validate(src).map_err(|_| {
            Error::InvalidArgument(format!(
                "create {src}: \"{src}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
            ))
        })?;
        Ok(VolumeSpec::Named { name: src.into(), target: dst.into(), ro, mode })
    }
}

/// Merges `K=V` settings into `env`: a later key replaces an earlier one in place.
pub fn merge_env(env: &mut Vec<String>, add: &[String]) {
    for kv in add {
        let key = kv.split_once('=').map_or(kv.as_str(), |(k, _)| k);
        match env
            .iter_mut()
            .find(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) == key)
        {
            Some(e) => *e = kv.clone(),
            None => env.push(kv.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_as_docker_reads_them() {
        assert_eq!(parse_ram("64m"), Some(64 << 20));
        assert_eq!(parse_ram("64MB"), Some(64 << 20));
        assert_eq!(parse_ram("1g"), Some(1 << 30));
        assert_eq!(parse_ram("1.5k"), Some(1536));
        assert_eq!(parse_ram("100"), Some(100));
        assert_eq!(parse_ram("100b"), Some(100));
        assert_eq!(parse_ram("4x"), None);
        assert_eq!(parse_ram(""), None);
        assert_eq!(parse_ram("m"), None);
    }

    #[test]
    fn memory_and_cpus_errors_are_dockers() {
        assert_eq!(
            parse_memory("4x").unwrap_err().to_string(),
            "invalid argument \"4x\" for \"-m, --memory\" flag: invalid size: '4x'"
        );
        assert_eq!(
            parse_memory("4k").unwrap_err().to_string(),
            "Minimum memory limit allowed is 6MB"
        );
        assert_eq!(parse_cpus("0.5").unwrap(), 500_000_000);
        assert!(parse_cpus("abc").unwrap_err().to_string().contains("rational number"));
        assert!(parse_cpus("100000").is_err());
    }

    #[test]
    fn volumes_binds_and_names() {
        assert_eq!(
            parse_volume("/h:/c:ro").unwrap(),
            VolumeSpec::Bind { source: "/h".into(), target: "/c".into(), ro: true, mode: "ro".into() }
        );
        assert!(matches!(parse_volume("data:/d").unwrap(), VolumeSpec::Named { ref name, .. } if name == "data"));
        assert!(parse_volume("/h").is_err());
        assert!(parse_volume("/h:rel").is_err());
        assert!(parse_volume("/h:/c:bogus").is_err());
        assert!(parse_volume("./x:/c").is_err());
    }

    #[test]
    fn env_merges_by_key() {
        let mut e = vec!["PATH=/bin".to_string(), "A=1".to_string()];
        merge_env(&mut e, &["A=2".into(), "B=3".into()]);
        assert_eq!(e, ["PATH=/bin", "A=2", "B=3"]);
    }
}
