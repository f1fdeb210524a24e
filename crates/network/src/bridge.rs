//! The host side of a network: its Linux bridge, the bridge's address, and the sysctls
//! routing to and through it needs.

use std::fs;

use crate::error::{Error, Result};
use crate::link;
use crate::netlink::Netlink;
use crate::store::NetworkConfig;

/// Makes sure the network's bridge exists, is up and carries the gateway address.
/// Returns whether this call created the bridge (so a failed network create removes
/// only what it made).
pub(crate) fn ensure(nl: &mut Netlink, net: &NetworkConfig) -> Result<bool> {
    let what = |verb: &str| format!("{verb} bridge {}", net.bridge);
    let created = match link::create_bridge(nl, &net.bridge, link::mac_for(net.gateway)) {
        Ok(()) => true,
        Err(e) if link::is_exists(&e) => false,
        Err(e) => return Err(Error::io(what("create"), e)),
    };
    let mut setup = || -> Result<()> {
        let index = link::index(nl, &net.bridge)
            .map_err(|e| Error::io(what("look up"), e))?
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "bridge {} vanished while it was set up",
                    net.bridge
                ))
            })?;
        if !created {
            nl.request(link::up_msg(index), 0)
                .map_err(|e| Error::io(what("bring up"), e))?;
        }
        match nl.request(
            link::add_address_msg(index, net.gateway, net.subnet),
            netlink_packet_core::NLM_F_CREATE | netlink_packet_core::NLM_F_EXCL,
        ) {
            Ok(()) => {}
            Err(e) if link::is_exists(&e) => {}
            Err(e) => {
                return Err(Error::io(
                    format!(
                        "add address {}/{} to bridge {}",
                        net.gateway,
                        net.subnet.prefix_len(),
                        net.bridge
                    ),
                    e,
                ));
            }
        }
        // Containers reach the world through the host, which must forward for them; and
        // the host's 127.0.0.1 reaches published ports only if the bridge accepts
        // loopback-sourced packets (see firewall/nftables.rs for the guard that goes with it).
        write_sysctl("/proc/sys/net/ipv4/ip_forward", "1")?;
        write_sysctl(
            &format!("/proc/sys/net/ipv4/conf/{}/route_localnet", net.bridge),
            "1",
        )
    };
    match setup() {
        Ok(()) => Ok(created),
        Err(e) => {
            if created {
                let _ = link::delete(nl, &net.bridge);
            }
            Err(e)
        }
    }
}

/// Deletes the network's bridge; a bridge already gone is not an error.
pub(crate) fn remove(nl: &mut Netlink, net: &NetworkConfig) -> Result<()> {
    link::delete(nl, &net.bridge)
        .map(drop)
        .map_err(|e| Error::io(format!("delete bridge {}", net.bridge), e))
}

fn write_sysctl(path: &str, value: &str) -> Result<()> {
    if fs::read_to_string(path).is_ok_and(|v| v.trim() == value) {
        return Ok(());
    }
    fs::write(path, value).map_err(|e| Error::io(format!("set {path} to {value}"), e))
}
