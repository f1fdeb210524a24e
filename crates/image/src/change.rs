//! `import --change` and `commit --change`: Dockerfile instructions that set image
//! defaults (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME, WORKDIR,
//! STOPSIGNAL) applied to a config.

use std::collections::BTreeMap;

use crate::spec::ContainerConfig;
use serde_json::Value;

/// Applies one change line to `c`.
pub fn apply(c: &mut ContainerConfig, line: &str) -> Result<(), String> {
    let line = line.trim();
    let (instr, args) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let args = args.trim();
    let upper = instr.to_ascii_uppercase();
    match upper.as_str() {
        "CMD" => c.cmd = Some(command(args)),
        "ENTRYPOINT" => c.entrypoint = Some(command(args)),
        "ENV" => {
            let env = c.env.get_or_insert_with(Vec::new);
            for (k, v) in pairs(args, "ENV")? {
                env.retain(|e| e.split_once('=').map_or(e.as_str(), |x| x.0) != k);
                env.push(format!("{k}={v}"));
            }
        }
        "LABEL" => {
            let labels = c.labels.get_or_insert_with(BTreeMap::new);
            for (k, v) in pairs(args, "LABEL")? {
                labels.insert(k, v);
            }
        }
        "EXPOSE" => {
            if args.is_empty() {
                return Err("EXPOSE requires at least one argument".into());
            }
            let ports = c.exposed_ports.get_or_insert_with(BTreeMap::new);
            for p in args.split_whitespace() {
                let (num, proto) = p.split_once('/').unwrap_or((p, "tcp"));
                let proto = proto.to_ascii_lowercase();
                let valid_num = num
                    .split_once('-')
                    .map_or(vec![num], |(a, b)| vec![a, b])
                    .iter()
                    .all(|n| n.parse::<u16>().is_ok());
                if !valid_num || !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
                    return Err(format!("invalid containerPort: {p}"));
                }
                ports.insert(format!("{num}/{proto}"), Value::Object(Default::default()));
            }
        }
        "USER" => c.user = Some(one(args, "USER")?),
        "WORKDIR" => {
            let w = one(args, "WORKDIR")?;
            let w = if w.starts_with('/') {
                w
            } else {
                let base = c.working_dir.clone().unwrap_or_else(|| "/".into());
                format!("{}/{w}", base.trim_end_matches('/'))
            };
            c.working_dir = Some(w);
        }
        "STOPSIGNAL" => c.stop_signal = Some(one(args, "STOPSIGNAL")?),
        "VOLUME" => {
            let vols = c.volumes.get_or_insert_with(BTreeMap::new);
            let list = match serde_json::from_str::<Vec<String>>(args) {
                Ok(v) => v,
                Err(_) => args.split_whitespace().map(str::to_string).collect(),
            };
            if list.is_empty() {
                return Err("VOLUME requires at least one argument".into());
            }
            for v in list {
                vols.insert(v, Value::Object(Default::default()));
            }
        }
        "ONBUILD" => {
            let (trigger, _) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
            match trigger.to_ascii_uppercase().as_str() {
                "" => return Err("ONBUILD requires at least one argument".into()),
                "ONBUILD" => {
                    return Err("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".into());
                }
                "FROM" | "MAINTAINER" => {
                    return Err(format!(
                        "{} isn't allowed as an ONBUILD trigger",
                        trigger.to_ascii_uppercase()
                    ));
                }
                _ => c.on_build.get_or_insert_with(Vec::new).push(args.to_string()),
            }
        }
        "ADD" | "ARG" | "COPY" | "FROM" | "HEALTHCHECK" | "MAINTAINER" | "RUN" | "SHELL" => {
            return Err(format!("{upper} is not a valid change command"));
        }
        "" => return Err("empty change command".into()),
        _ => {
            return Err(format!(
                "dockerfile parse error line 1: unknown instruction: {instr}"
            ));
        }
    }
    Ok(())
}

/// JSON (exec) form, or shell form run by `/bin/sh -c`.
fn command(args: &str) -> Vec<String> {
    if args.starts_with('[')
        && let Ok(v) = serde_json::from_str::<Vec<String>>(args)
    {
        return v;
    }
    vec!["/bin/sh".into(), "-c".into(), args.into()]
}

fn one(args: &str, what: &str) -> Result<String, String> {
    if args.is_empty() {
        return Err(format!("{what} requires exactly one argument"));
    }
    Ok(args.to_string())
}

/// `k=v k2="v 2"` pairs, or the legacy `key value with spaces` form.
fn pairs(args: &str, what: &str) -> Result<Vec<(String, String)>, String> {
    let words = split_words(args)?;
    if words.is_empty() {
        return Err(format!("{what} requires at least one argument"));
    }
    if !words[0].contains('=') {
        let (k, v) = args
            .split_once(char::is_whitespace)
            .ok_or_else(|| format!("{what} names {args:?} without a value"))?;
        return Ok(vec![(k.to_string(), v.trim().to_string())]);
    }
    words
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(format!(
                "{what} names {w:?} without a value: want key=value"
            )),
        })
        .collect()
}

/// Splits on blanks outside quotes; quotes are removed, `\` escapes the next char.
fn split_words(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(ch) = chars.next() {
        match (quote, ch) {
            (_, '\\') if quote != Some('\'') => {
                cur.push(chars.next().ok_or("trailing backslash in change")?);
                in_word = true;
            }
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(ch);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err(format!("unmatched quote in {s:?}"));
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_set_docker_fields() {
        let mut c = ContainerConfig::default();
        apply(&mut c, r#"CMD ["/bin/sh", "-c", "echo hi"]"#).unwrap();
        apply(&mut c, "ENTRYPOINT /init --x").unwrap();
        apply(&mut c, r#"ENV A=1 B="two words""#).unwrap();
        apply(&mut c, "ENV A 3").unwrap();
        apply(&mut c, "WORKDIR /srv").unwrap();
        apply(&mut c, "WORKDIR app").unwrap();
        apply(&mut c, "USER 1000:1000").unwrap();
        apply(&mut c, "EXPOSE 80 53/udp").unwrap();
        apply(&mut c, r#"LABEL org.x="a b" y=z"#).unwrap();
        apply(&mut c, "ONBUILD RUN echo built").unwrap();
        assert_eq!(c.on_build.unwrap(), ["RUN echo built"]);
        assert_eq!(c.cmd.unwrap(), ["/bin/sh", "-c", "echo hi"]);
        assert_eq!(c.entrypoint.unwrap(), ["/bin/sh", "-c", "/init --x"]);
        assert_eq!(c.env.unwrap(), ["B=two words", "A=3"]);
        assert_eq!(c.working_dir.unwrap(), "/srv/app");
        assert_eq!(c.user.unwrap(), "1000:1000");
        let ports: Vec<_> = c.exposed_ports.unwrap().into_keys().collect();
        assert_eq!(ports, ["53/udp", "80/tcp"]);
        let labels = c.labels.unwrap();
        assert_eq!(labels["org.x"], "a b");
        assert_eq!(labels["y"], "z");
    }

    #[test]
    fn bad_changes_are_refused() {
        let mut c = ContainerConfig::default();
        assert!(
            apply(&mut c, "RUN true")
                .unwrap_err()
                .contains("not a valid change command")
        );
        assert!(
            apply(&mut c, "BOGUS x")
                .unwrap_err()
                .contains("unknown instruction")
        );
        assert!(apply(&mut c, "EXPOSE http").is_err());
        assert!(apply(&mut c, "LABEL a=\"b").is_err());
        assert!(apply(&mut c, "USER").is_err());
        assert!(apply(&mut c, "ONBUILD ONBUILD RUN x").is_err());
        assert!(apply(&mut c, "ONBUILD FROM x").is_err());
    }
}
