//! The container side: a veth pair from the bridge into the container's namespace, with
//! its address, the default route through the gateway, and loopback up.

use std::net::Ipv4Addr;

use crate::error::{Error, Result};
use crate::link;
use crate::netlink::Netlink;
use crate::netns::Netns;
use crate::store::NetworkConfig;

/// The host end's name for `container` on `network`: `veth` and 11 hex digits of a hash
/// of both, so it fits the kernel's 15 characters and is the same on every call.
pub(crate) fn host_name(network: &str, container: &str) -> String {
    // FNV-1a: stable across releases, unlike std's hasher.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in network.bytes().chain([0]).chain(container.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("veth{:011x}", h >> 20)
}

/// Creates the pair and configures the container's end. On failure nothing is left: the
/// host end is deleted, which takes the peer with it.
pub(crate) fn attach(
    host: &mut Netlink,
    net: &NetworkConfig,
    netns: &Netns,
    host_veth: &str,
    ifname: &str,
    ip: Ipv4Addr,
    mac: [u8; 6],
) -> Result<()> {
    let bridge_index = link::index(host, &net.bridge)
        .map_err(|e| Error::io(format!("look up bridge {}", net.bridge), e))?
        .ok_or_else(|| {
            Error::NotFound(format!(
                "bridge {} of network {} does not exist",
                net.bridge, net.name
            ))
        })?;
    link::create_veth(host, host_veth, bridge_index, ifname, netns.raw_fd(), mac).map_err(|e| {
        // The pair may exist with its port settings half done; a stale pair of the same
        // name can only be a leftover of this very endpoint.
        let _ = link::delete(host, host_veth);
        Error::io(
            format!(
                "create veth pair {host_veth}/{ifname} into {}",
                netns.path().display()
            ),
            e,
        )
    })?;
    let inside = || -> Result<()> {
        let mut nl = netns
            .run(Netlink::open)?
            .map_err(|e| Error::io(format!("open netlink in {}", netns.path().display()), e))?;
        let index = link::index(&mut nl, ifname)
            .map_err(|e| Error::io(format!("look up {ifname} in {}", netns.path().display()), e))?
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "{ifname} missing from {} after its creation",
                    netns.path().display()
                ))
            })?;
        const LOOPBACK_INDEX: u32 = 1;
        let create = netlink_packet_core::NLM_F_CREATE | netlink_packet_core::NLM_F_EXCL;
        let mut steps = vec![
            ("bring up lo".to_string(), link::up_msg(LOOPBACK_INDEX), 0),
            (format!("bring up {ifname}"), link::up_msg(index), 0),
            (
                format!("add address {ip}/{} to {ifname}", net.subnet.prefix_len()),
                link::add_address_msg(index, ip, net.subnet),
                create,
            ),
        ];
        // An internal network leads nowhere: as in Docker, no default route through it.
        if !net.internal {
            steps.push((
                format!("add default route via {} on {ifname}", net.gateway),
                link::default_route_msg(index, net.gateway),
                create,
            ));
        }
        let (steps, msgs): (Vec<String>, Vec<_>) = steps
            .into_iter()
            .map(|(step, msg, flags)| (step, (msg, flags)))
            .unzip();
        let results = nl.batch(msgs);
        for (step, result) in steps.iter().zip(results) {
            match result {
                // A container on several networks keeps the default route of the first
                // one it joined, as in Docker.
                Err(e) if step.starts_with("add default route") && link::is_exists(&e) => {}
                r => {
                    r.map_err(|e| Error::io(format!("{step} in {}", netns.path().display()), e))?
                }
            }
        }
        Ok(())
    };
    inside().inspect_err(|_| {
        let _ = link::delete(host, host_veth);
    })
}

/// Deletes the pair by its host end; a pair already gone (its namespace died) is fine.
pub(crate) fn detach(host: &mut Netlink, host_veth: &str) -> Result<()> {
    link::delete(host, host_veth)
        .map(drop)
        .map_err(|e| Error::io(format!("delete veth {host_veth}"), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_fit_and_differ() {
        let a = host_name("bridge", "c1");
        assert_eq!(a.len(), 15);
        assert_eq!(a, host_name("bridge", "c1"));
        assert_ne!(a, host_name("bridge", "c2"));
        assert_ne!(host_name("ab", "c"), host_name("a", "bc"));
    }
}
