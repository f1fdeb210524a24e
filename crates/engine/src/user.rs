//! `-u` / the image's USER resolved against the container's own /etc/passwd and
//! /etc/group, as Docker does: `name`, `uid`, `name:group`, `uid:gid`; supplementary
//! groups from the group file.

use crate::error::{Error, Result};

/// The ids the container's process runs with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecUser {
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
    /// Supplementary groups.
    pub additional_gids: Vec<u32>,
}

struct Entry<'a> {
    name: &'a str,
    id: u32,
    gid: u32,
    members: Vec<&'a str>,
}

fn passwd_entries(text: &str) -> Vec<Entry<'_>> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some(Entry {
                name: f.first()?,
                id: f.get(2)?.parse().ok()?,
                gid: f.get(3)?.parse().ok()?,
                members: Vec::new(),
            })
        })
        .collect()
}

fn group_entries(text: &str) -> Vec<Entry<'_>> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            let id = f.get(2)?.parse().ok()?;
            Some(Entry {
                name: f.first()?,
                id,
                gid: id,
                members: f
                    .get(3)
                    .map(|m| m.split(',').filter(|s| !s.is_empty()).collect())
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// Resolves `spec` with the passwd and group files of the container root mounted at
/// `root` (read inside it).
pub fn resolve_in_root(spec: &str, root: &std::path::Path) -> Result<ExecUser> {
    resolve(
        spec,
        &crate::rootfs::read_in_root(root, "/etc/passwd")?,
        &crate::rootfs::read_in_root(root, "/etc/group")?,
    )
}

/// Resolves `spec` (empty means root) with the contents of the container's passwd
/// and group files (empty when the image has none).
pub fn resolve(spec: &str, passwd: &str, group: &str) -> Result<ExecUser> {
    let (u, g) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let users = passwd_entries(passwd);
    let groups = group_entries(group);
    let (uid, name, mut gid) = if u.is_empty() {
        (0, Some("root"), 0)
    } else if let Ok(n) = u.parse::<u32>() {
        match users.iter().find(|e| e.id == n) {
            Some(e) => (n, Some(e.name), e.gid),
            None => (n, None, 0),
        }
    } else {
        let e = users
            .iter()
            .find(|e| e.name == u)
            .ok_or_else(|| Error::Start {
                message: format!("unable to find user {u}: no matching entries in passwd file"),
                code: 126,
            })?;
        (e.id, Some(e.name), e.gid)
    };
    if let Some(g) = g {
        gid = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => groups
                .iter()
                .find(|e| e.name == g)
                .map(|e| e.id)
                .ok_or_else(|| Error::Start {
                    message: format!("unable to find group {g}: no matching entries in group file"),
                    code: 126,
                })?,
        };
    }
    let mut additional_gids = Vec::new();
    if g.is_none()
        && let Some(name) = name
    {
        for e in &groups {
            if e.members.contains(&name) && e.id != gid && !additional_gids.contains(&e.id) {
                additional_gids.push(e.id);
            }
        }
    }
    Ok(ExecUser {
        uid,
        gid,
        additional_gids,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nwww:x:33:33::/var/www:/bin/false\n";
    const GROUP: &str = "root:x:0:\nwww:x:33:\nadm:x:4:www,other\nstaff:x:50:\n";

    #[test]
    fn names_ids_and_groups() {
        assert_eq!(resolve("", PASSWD, GROUP).unwrap(), ExecUser::default());
        assert_eq!(
            resolve("www", PASSWD, GROUP).unwrap(),
            ExecUser {
                uid: 33,
                gid: 33,
                additional_gids: vec![4]
            }
        );
        assert_eq!(
            resolve("1000", PASSWD, GROUP).unwrap(),
            ExecUser {
                uid: 1000,
                gid: 0,
                additional_gids: vec![]
            }
        );
        assert_eq!(
            resolve("33:50", PASSWD, GROUP).unwrap(),
            ExecUser {
                uid: 33,
                gid: 50,
                additional_gids: vec![]
            }
        );
        assert_eq!(resolve("www:staff", PASSWD, GROUP).unwrap().gid, 50);
        let e = resolve("nobody", PASSWD, GROUP).unwrap_err().to_string();
        assert_eq!(
            e,
            "unable to find user nobody: no matching entries in passwd file"
        );
        assert!(resolve("www:nogroup", PASSWD, GROUP).is_err());
    }
}
