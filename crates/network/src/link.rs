//! Links, addresses and routes through rtnetlink: the kernel objects a bridge network is
//! made of. Every function here is one or a few netlink requests on a given socket, so
//! the same code works in the host's namespace and in a container's.

use std::io;
use std::net::{IpAddr, Ipv4Addr};

use ipnet::Ipv4Net;
use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::address::{AddressAttribute, AddressMessage, AddressScope};
use netlink_packet_route::link::{
    InfoBridgePort, InfoData, InfoKind, InfoPortData, InfoPortKind, InfoVeth, LinkAttribute,
    LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use crate::netlink::Netlink;

/// The index of link `name`, or `None` if there is no such link.
pub(crate) fn index(nl: &mut Netlink, name: &str) -> io::Result<Option<u32>> {
    let mut msg = LinkMessage::default();
    msg.attributes.push(LinkAttribute::IfName(name.to_string()));
    match nl.dump_one(RouteNetlinkMessage::GetLink(msg)) {
        Ok(RouteNetlinkMessage::NewLink(link)) => Ok(Some(link.header.index)),
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "unexpected answer to getlink",
        )),
        Err(e) if e.raw_os_error() == Some(libc_enodev()) => Ok(None),
        Err(e) => Err(e),
    }
}

fn libc_enodev() -> i32 {
    nix::errno::Errno::ENODEV as i32
}

/// Whether `err` says the link does not exist.
pub(crate) fn is_missing(err: &io::Error) -> bool {
    err.raw_os_error() == Some(libc_enodev())
}

/// Whether `err` says the object already exists.
pub(crate) fn is_exists(err: &io::Error) -> bool {
    err.raw_os_error() == Some(nix::errno::Errno::EEXIST as i32)
}

/// Creates bridge `name` with MAC `mac`, up.
pub(crate) fn create_bridge(nl: &mut Netlink, name: &str, mac: [u8; 6]) -> io::Result<()> {
    let mut msg = LinkMessage::default();
    msg.header.flags = LinkFlags::Up;
    msg.header.change_mask = LinkFlags::Up;
    msg.attributes.push(LinkAttribute::IfName(name.to_string()));
    msg.attributes.push(LinkAttribute::Address(mac.to_vec()));
    msg.attributes
        .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
            InfoKind::Bridge,
        )]));
    nl.request(RouteNetlinkMessage::NewLink(msg), NLM_F_CREATE | NLM_F_EXCL)
}

/// Deletes link `name`; `Ok(false)` if it did not exist. Deleting either end of a veth
/// pair deletes both.
pub(crate) fn delete(nl: &mut Netlink, name: &str) -> io::Result<bool> {
    let mut msg = LinkMessage::default();
    msg.attributes.push(LinkAttribute::IfName(name.to_string()));
    match nl.request(RouteNetlinkMessage::DelLink(msg), 0) {
        Ok(()) => Ok(true),
        Err(e) if is_missing(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Builds the request that adds `addr` (with the prefix length of `net`) to link `index`.
pub(crate) fn add_address_msg(index: u32, addr: Ipv4Addr, net: Ipv4Net) -> RouteNetlinkMessage {
    let mut msg = AddressMessage::default();
    msg.header.family = AddressFamily::Inet;
    msg.header.prefix_len = net.prefix_len();
    msg.header.scope = AddressScope::Universe;
    msg.header.index = index;
    msg.attributes
        .push(AddressAttribute::Local(IpAddr::V4(addr)));
    msg.attributes
        .push(AddressAttribute::Address(IpAddr::V4(addr)));
    msg.attributes
        .push(AddressAttribute::Broadcast(net.broadcast()));
    RouteNetlinkMessage::NewAddress(msg)
}

/// Builds the request that brings link `index` up.
pub(crate) fn up_msg(index: u32) -> RouteNetlinkMessage {
    let mut msg = LinkMessage::default();
    msg.header.index = index;
    msg.header.flags = LinkFlags::Up;
    msg.header.change_mask = LinkFlags::Up;
    RouteNetlinkMessage::SetLink(msg)
}

/// Builds the request that adds a default route through `gateway` on link `index`.
pub(crate) fn default_route_msg(index: u32, gateway: Ipv4Addr) -> RouteNetlinkMessage {
    let mut msg = RouteMessage::default();
    msg.header.address_family = AddressFamily::Inet;
    msg.header.table = RouteHeader::RT_TABLE_MAIN;
    msg.header.protocol = RouteProtocol::Boot;
    msg.header.scope = RouteScope::Universe;
    msg.header.kind = RouteType::Unicast;
    msg.attributes
        .push(RouteAttribute::Gateway(RouteAddress::Inet(gateway)));
    msg.attributes.push(RouteAttribute::Oif(index));
    RouteNetlinkMessage::NewRoute(msg)
}

/// Creates a veth pair: `host` attached to bridge `bridge_index` and up, its peer created
/// directly inside the namespace `peer_netns_fd` as `peer` with MAC `peer_mac`, so no
/// move or rename is needed afterwards. The host end's bridge port is put in hairpin mode,
/// in the same datagram: a container reaching its own published port has its packets
/// DNATed back to it, and with br_netfilter the bridge sends them back out of the port
/// they came in by, which only a hairpin port allows.
pub(crate) fn create_veth(
    nl: &mut Netlink,
    host: &str,
    bridge_index: u32,
    peer: &str,
    peer_netns_fd: i32,
    peer_mac: [u8; 6],
) -> io::Result<()> {
    let mut peer_msg = LinkMessage::default();
    peer_msg
        .attributes
        .push(LinkAttribute::IfName(peer.to_string()));
    peer_msg
        .attributes
        .push(LinkAttribute::Address(peer_mac.to_vec()));
    peer_msg
        .attributes
        .push(LinkAttribute::NetNsFd(peer_netns_fd));
    let mut msg = LinkMessage::default();
    msg.header.flags = LinkFlags::Up;
    msg.header.change_mask = LinkFlags::Up;
    msg.attributes.push(LinkAttribute::IfName(host.to_string()));
    msg.attributes.push(LinkAttribute::Controller(bridge_index));
    msg.attributes.push(LinkAttribute::LinkInfo(vec![
        LinkInfo::Kind(InfoKind::Veth),
        LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer_msg))),
    ]));
    let mut hairpin = LinkMessage::default();
    hairpin
        .attributes
        .push(LinkAttribute::IfName(host.to_string()));
    hairpin.attributes.push(LinkAttribute::LinkInfo(vec![
        LinkInfo::PortKind(InfoPortKind::Bridge),
        LinkInfo::PortData(InfoPortData::BridgePort(vec![InfoBridgePort::HairpinMode(
            true,
        )])),
    ]));
    let mut results = nl
        .batch(vec![
            (RouteNetlinkMessage::NewLink(msg), NLM_F_CREATE | NLM_F_EXCL),
            (RouteNetlinkMessage::NewLink(hairpin), 0),
        ])
        .into_iter();
    results.next().unwrap_or(Ok(()))?;
    results.next().unwrap_or(Ok(()))
}

/// Every IPv4 prefix the host uses: its addresses' subnets and its routes' destinations
/// (default routes excepted, as Docker does: they would overlap everything).
pub(crate) fn used_prefixes(nl: &mut Netlink) -> io::Result<Vec<Ipv4Net>> {
    let mut used = Vec::new();
    let mut addr = AddressMessage::default();
    addr.header.family = AddressFamily::Inet;
    for msg in nl.dump(RouteNetlinkMessage::GetAddress(addr))? {
        let RouteNetlinkMessage::NewAddress(a) = msg else {
            continue;
        };
        for attr in &a.attributes {
            if let AddressAttribute::Local(IpAddr::V4(ip)) = attr
                && let Ok(net) = Ipv4Net::new(*ip, a.header.prefix_len)
            {
                used.push(net.trunc());
            }
        }
    }
    let mut route = RouteMessage::default();
    route.header.address_family = AddressFamily::Inet;
    for msg in nl.dump(RouteNetlinkMessage::GetRoute(route))? {
        let RouteNetlinkMessage::NewRoute(r) = msg else {
            continue;
        };
        // Only the main table matters: the local table holds the addresses themselves.
        if r.header.table != RouteHeader::RT_TABLE_MAIN || r.header.destination_prefix_length == 0 {
            continue;
        }
        for attr in &r.attributes {
            if let RouteAttribute::Destination(RouteAddress::Inet(dst)) = attr
                && let Ok(net) = Ipv4Net::new(*dst, r.header.destination_prefix_length)
            {
                used.push(net.trunc());
            }
        }
    }
    Ok(used)
}

/// A locally administered MAC derived from an IPv4 address, as Docker derives its
/// containers' (02:42 followed by the address), so an address reused by another
/// container keeps its MAC and neighbours' ARP caches stay right.
pub(crate) fn mac_for(ip: Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x02, 0x42, o[0], o[1], o[2], o[3]]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_follows_the_address() {
        assert_eq!(
            mac_for(Ipv4Addr::new(172, 17, 0, 2)),
            [2, 0x42, 172, 17, 0, 2]
        );
    }
}
