//! Image references as Docker parses and normalises them: `bb` is
//! `docker.io/library/bb:latest`, `host:5000/a/b:tag@sha256:...` keeps its registry.

use std::fmt;

use crate::digest::Digest;
use crate::error::{Error, Result};

/// Docker Hub's canonical registry name.
pub const DEFAULT_DOMAIN: &str = "docker.io";
/// The namespace of Docker Hub's official images.
const OFFICIAL_REPO_PREFIX: &str = "library/";
/// The tag a reference without tag or digest means.
pub const DEFAULT_TAG: &str = "latest";

/// A normalised reference: a repository name with a tag, a digest, both or neither.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// Parses and normalises `s` without adding a default tag.
    pub fn parse(s: &str) -> Result<Reference> {
        let bad = |why: &str| Error::InvalidReference(format!("{s:?}: {why}"));
        if s.is_empty() {
            return Err(bad("empty reference"));
        }
        if s.len() > 255 + 128 + 72 {
            return Err(bad("reference is too long"));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => (
                r,
                Some(Digest::parse(d).map_err(|_| bad("invalid digest"))?),
            ),
            None => (s, None),
        };
        // A tag is what follows the last ':' after the last '/': a ':' before it is a port.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(t) = tag
            && !valid_tag(t)
        {
            return Err(bad("invalid tag"));
        }
        if name.is_empty() {
            return Err(bad("empty repository name"));
        }
        let (domain, path) = split_domain(name);
        if path.len() > 255 {
            return Err(bad(
                "repository name must not be longer than 255 characters",
            ));
        }
        if path.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(Error::InvalidReference(format!(
                "{s:?}: repository name must be lowercase"
            )));
        }
        if !path.split('/').all(valid_path_component) {
            return Err(bad("invalid repository name"));
        }
        if !valid_domain(&domain) {
            return Err(bad("invalid registry host"));
        }
        Ok(Reference {
            domain,
            path,
            tag: tag.map(str::to_string),
            digest,
        })
    }

    /// Parses `s` and adds the `latest` tag when it names neither a tag nor a digest,
    /// as `docker pull bb` or `docker tag x bb` do.
    pub fn parse_with_default_tag(s: &str) -> Result<Reference> {
        let mut r = Reference::parse(s)?;
        if r.tag.is_none() && r.digest.is_none() {
            r.tag = Some(DEFAULT_TAG.to_string());
        }
        Ok(r)
    }

    /// The registry host (and port), e.g. `docker.io`.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The path inside the registry, e.g. `library/bb`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The tag, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if any.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// The full repository name, e.g. `docker.io/library/bb`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The repository as Docker shows it: `bb` for `docker.io/library/bb`,
    /// `me/app` for `docker.io/me/app`, anything else in full.
    pub fn familiar_name(&self) -> String {
        if self.domain == DEFAULT_DOMAIN {
            match self.path.strip_prefix(OFFICIAL_REPO_PREFIX) {
                Some(p) if !p.contains('/') => p.to_string(),
                _ => self.path.clone(),
            }
        } else {
            self.name()
        }
    }

    /// The reference in Docker's short form: `bb:latest`, `me/app@sha256:...`.
    pub fn familiar(&self) -> String {
        let mut s = self.familiar_name();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(&d.to_string());
        }
        s
    }

    /// The same repository with `tag` and no digest.
    pub fn with_tag(&self, tag: &str) -> Reference {
        Reference {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        }
    }

    /// The same repository with `digest` and no tag.
    pub fn with_digest(&self, digest: &Digest) -> Reference {
        Reference {
            tag: None,
            digest: Some(digest.clone()),
            ..self.clone()
        }
    }
}

impl fmt::Display for Reference {
    /// The canonical form: `docker.io/library/bb:latest`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.domain, self.path)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// Splits a name into registry and path the way Docker does: the first component is a
/// registry when it holds a '.' or a ':' or is `localhost`, else the name is on Docker
/// Hub, and a one-component Hub name is an official image under `library/`.
fn split_domain(name: &str) -> (String, String) {
    let (mut domain, mut path) = match name.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (first.to_string(), rest.to_string())
        }
        _ => (DEFAULT_DOMAIN.to_string(), name.to_string()),
    };
    if domain == "index.docker.io" {
        domain = DEFAULT_DOMAIN.to_string();
    }
    if domain == DEFAULT_DOMAIN && !path.contains('/') {
        path = format!("{OFFICIAL_REPO_PREFIX}{path}");
    }
    (domain, path)
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
fn valid_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() || !is_alnum(b[0]) || !is_alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !is_alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// `[\w][\w.-]{0,127}`
fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|&x| x.is_ascii_alphanumeric() || matches!(x, b'_' | b'.' | b'-'))
}

/// A host name (labels of letters, digits and '-', separated by '.') or a bracketed
/// IPv6 address, with an optional numeric port.
fn valid_domain(d: &str) -> bool {
    let (host, port) = if d.starts_with('[') {
        match d.find(']') {
            Some(i) => (&d[..=i], d[i + 1..].strip_prefix(':')),
            None => return false,
        }
    } else {
        match d.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (d, None),
        }
    };
    if let Some(p) = port
        && (p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return false;
    }
    if host.starts_with('[') {
        return host.len() > 2
            && host[1..host.len() - 1]
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':');
    }
    !host.is_empty()
        && host.split('.').all(|l| {
            !l.is_empty()
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        Reference::parse_with_default_tag(s).unwrap().to_string()
    }

    #[test]
    fn short_names_are_official_hub_images_with_latest() {
        assert_eq!(norm("bb"), "docker.io/library/bb:latest");
        assert_eq!(norm("bb:1.36"), "docker.io/library/bb:1.36");
        assert_eq!(norm("me/app"), "docker.io/me/app:latest");
        assert_eq!(norm("docker.io/bb"), "docker.io/library/bb:latest");
        assert_eq!(norm("index.docker.io/me/app:v1"), "docker.io/me/app:v1");
    }

    #[test]
    fn registries_with_ports_keep_their_paths() {
        let r = Reference::parse("registry.example.com:5000/team/app:v2").unwrap();
        assert_eq!(r.domain(), "registry.example.com:5000");
        assert_eq!(r.path(), "team/app");
        assert_eq!(r.tag(), Some("v2"));
        assert_eq!(norm("localhost/app"), "localhost/app:latest");
        assert_eq!(norm("localhost:5000/app"), "localhost:5000/app:latest");
        // A ':' in the first component without a '/' after it is a tag, not a port.
        assert_eq!(norm("app:5000"), "docker.io/library/app:5000");
    }

    #[test]
    fn digests_and_tags_together() {
        let d = format!("sha256:{}", "ab".repeat(32));
        let r = Reference::parse(&format!("host:5000/a/b:tag@{d}")).unwrap();
        assert_eq!(r.tag(), Some("tag"));
        assert_eq!(r.digest().unwrap().to_string(), d);
        assert_eq!(r.to_string(), format!("host:5000/a/b:tag@{d}"));
        // A digest alone gets no default tag.
        let r = Reference::parse_with_default_tag(&format!("bb@{d}")).unwrap();
        assert_eq!(r.tag(), None);
        assert_eq!(r.familiar(), format!("bb@{d}"));
    }

    #[test]
    fn familiar_forms_drop_hub_defaults() {
        let r = Reference::parse_with_default_tag("docker.io/library/bb").unwrap();
        assert_eq!(r.familiar(), "bb:latest");
        assert_eq!(r.familiar_name(), "bb");
        let r = Reference::parse_with_default_tag("docker.io/library/a/b").unwrap();
        assert_eq!(r.familiar_name(), "library/a/b");
        let r = Reference::parse_with_default_tag("quay.io/x/y").unwrap();
        assert_eq!(r.familiar_name(), "quay.io/x/y");
    }

    #[test]
    fn malformed_references_are_rejected() {
        for bad in [
            "",
            "Upper",
            "a//b",
            "a/",
            "-a",
            "a-",
            "a..b",
            "a:",
            "a:-tag",
            "a@sha256:12",
            "a@md5:abcd",
            "a b",
            ":tag",
            "host:port/x",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad:?} parsed");
        }
        assert!(Reference::parse(&format!("a:{}", "t".repeat(129))).is_err());
        assert!(Reference::parse("a__b.c-d---e").is_ok());
        let e = Reference::parse("Upper").unwrap_err().to_string();
        assert!(e.contains("must be lowercase"), "{e}");
    }
}
