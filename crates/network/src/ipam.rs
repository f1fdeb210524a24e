//! IP address management: choosing a network's subnet, checking the caller's subnet,
//! gateway and range, and handing out container addresses.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use crate::error::{Error, Result};

/// Docker's default address pools, in the order Docker tries them: 172.17.0.0/16 to
/// 172.31.0.0/16, then the sixteen /20s of 192.168.0.0/16.
pub fn default_pools() -> impl Iterator<Item = Ipv4Net> {
    let b = (17..=31u8).map(|n| Ipv4Net::new(Ipv4Addr::new(172, n, 0, 0), 16).expect("prefix 16"));
    let c =
        (0..16u8).map(|n| Ipv4Net::new(Ipv4Addr::new(192, 168, n * 16, 0), 20).expect("prefix 20"));
    b.chain(c)
}

fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// The first default pool that overlaps none of `used` (the host's routes and addresses
/// and the other networks' subnets).
pub fn choose_subnet(used: &[Ipv4Net]) -> Result<Ipv4Net> {
    default_pools().find(|pool| !used.iter().any(|u| overlaps(pool, u))).ok_or_else(|| {
        Error::Conflict(
            "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network"
                .into(),
        )
    })
}

/// Checks a caller's `--subnet`: it must be a network address, and must not overlap the
/// subnet of any other network (`others`).
pub fn check_subnet(subnet: Ipv4Net, others: &[Ipv4Net]) -> Result<()> {
    if subnet.trunc() != subnet {
        return Err(Error::Invalid(format!(
            "invalid subnet {subnet}: it should be {}",
            subnet.trunc()
        )));
    }
    if subnet.prefix_len() > 30 {
        return Err(Error::Invalid(format!(
            "invalid subnet {subnet}: a bridge network needs a prefix of /30 or shorter"
        )));
    }
    if others.iter().any(|o| overlaps(o, &subnet)) {
        return Err(Error::Conflict(
            "Pool overlaps with other one on this address space".into(),
        ));
    }
    Ok(())
}

/// Checks a `--gateway` against its subnet, or picks the subnet's first address.
pub fn gateway(subnet: Ipv4Net, requested: Option<Ipv4Addr>) -> Result<Ipv4Addr> {
    match requested {
        None => Ok(first_host(subnet)),
        Some(gw) if usable(subnet, gw) => Ok(gw),
        Some(gw) => Err(Error::Invalid(format!(
            "no matching subnet for gateway {gw}"
        ))),
    }
}

/// Checks an `--ip-range`: a network address inside the subnet.
pub fn check_range(subnet: Ipv4Net, range: Ipv4Net) -> Result<()> {
    if range.trunc() != range {
        return Err(Error::Invalid(format!(
            "invalid ip-range {range}: it should be {}",
            range.trunc()
        )));
    }
    if !subnet.contains(&range) {
        return Err(Error::Invalid(format!(
            "no matching subnet for range {range}"
        )));
    }
    Ok(())
}

fn first_host(net: Ipv4Net) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(net.network()) + 1)
}

/// Whether `ip` is a host address of `net` (neither its network nor its broadcast address).
fn usable(net: Ipv4Net, ip: Ipv4Addr) -> bool {
    net.contains(&ip) && ip != net.network() && ip != net.broadcast()
}

/// Hands out a container address: `requested` (the `--ip`) if it is in the subnet and free,
/// otherwise the lowest free address of the range (or subnet), skipping the gateway and
/// everything in `taken`.
pub fn allocate(
    network: &str,
    subnet: Ipv4Net,
    range: Option<Ipv4Net>,
    gateway: Ipv4Addr,
    taken: &BTreeSet<Ipv4Addr>,
    requested: Option<Ipv4Addr>,
) -> Result<Ipv4Addr> {
    if let Some(ip) = requested {
        if !usable(subnet, ip) {
            return Err(Error::Invalid(format!(
                "invalid endpoint settings:\nno configured subnet or ip-range contain the IP address {ip}"
            )));
        }
        if ip == gateway || taken.contains(&ip) {
            return Err(Error::Conflict(format!("Address already in use: {ip}")));
        }
        return Ok(ip);
    }
    let pool = range.unwrap_or(subnet);
    let (lo, hi) = (u32::from(pool.network()), u32::from(pool.broadcast()));
    (lo..=hi)
        .map(Ipv4Addr::from)
        .find(|ip| usable(subnet, *ip) && *ip != gateway && !taken.contains(ip))
        .ok_or_else(|| {
            Error::Conflict(format!(
                "no available IPv4 addresses on this network's address pools: {network}"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn chooses_docker_pools_around_the_host() {
        assert_eq!(choose_subnet(&[]).unwrap(), net("172.17.0.0/16"));
        assert_eq!(
            choose_subnet(&[net("10.0.0.0/8"), net("172.17.5.0/24")]).unwrap(),
            net("172.18.0.0/16")
        );
        assert_eq!(
            choose_subnet(&[net("172.16.0.0/12")]).unwrap(),
            net("192.168.0.0/20")
        );
        assert_eq!(
            choose_subnet(&[net("172.16.0.0/12"), net("192.168.1.0/24")]).unwrap(),
            net("192.168.16.0/20")
        );
        let err = choose_subnet(&[net("172.16.0.0/12"), net("192.168.0.0/16")]).unwrap_err();
        assert!(
            err.to_string().starts_with("could not find an available"),
            "{err}"
        );
    }

    #[test]
    fn checks_subnet_gateway_and_range() {
        assert_eq!(
            check_subnet(net("10.1.0.5/24"), &[])
                .unwrap_err()
                .to_string(),
            "invalid subnet 10.1.0.5/24: it should be 10.1.0.0/24"
        );
        assert_eq!(
            check_subnet(net("10.1.0.0/16"), &[net("10.1.2.0/24")])
                .unwrap_err()
                .to_string(),
            "Pool overlaps with other one on this address space"
        );
        check_subnet(net("10.2.0.0/16"), &[net("10.1.2.0/24")]).unwrap();
        assert_eq!(
            gateway(net("10.1.0.0/24"), None).unwrap(),
            Ipv4Addr::new(10, 1, 0, 1)
        );
        assert_eq!(
            gateway(net("10.1.0.0/24"), Some(Ipv4Addr::new(10, 1, 0, 254))).unwrap(),
            Ipv4Addr::new(10, 1, 0, 254)
        );
        assert_eq!(
            gateway(net("10.1.0.0/24"), Some(Ipv4Addr::new(10, 2, 0, 1)))
                .unwrap_err()
                .to_string(),
            "no matching subnet for gateway 10.2.0.1"
        );
        assert_eq!(
            check_range(net("10.1.0.0/24"), net("10.3.0.0/28"))
                .unwrap_err()
                .to_string(),
            "no matching subnet for range 10.3.0.0/28"
        );
        check_range(net("10.1.0.0/24"), net("10.1.0.128/25")).unwrap();
    }

    #[test]
    fn allocates_lowest_free_address() {
        let s = net("10.1.0.0/29");
        let gw = Ipv4Addr::new(10, 1, 0, 1);
        let mut taken = BTreeSet::new();
        let a = allocate("n", s, None, gw, &taken, None).unwrap();
        assert_eq!(a, Ipv4Addr::new(10, 1, 0, 2));
        taken.insert(a);
        assert_eq!(
            allocate("n", s, None, gw, &taken, None).unwrap(),
            Ipv4Addr::new(10, 1, 0, 3)
        );
        assert_eq!(
            allocate("n", s, Some(net("10.1.0.4/30")), gw, &taken, None).unwrap(),
            Ipv4Addr::new(10, 1, 0, 4)
        );
        for i in 3..=6 {
            taken.insert(Ipv4Addr::new(10, 1, 0, i));
        }
        let err = allocate("n", s, None, gw, &taken, None)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "no available IPv4 addresses on this network's address pools: n"
        );
        let err = allocate("n", s, None, gw, &taken, Some(Ipv4Addr::new(10, 9, 0, 2)))
            .unwrap_err()
            .to_string();
        assert!(
            err.ends_with("no configured subnet or ip-range contain the IP address 10.9.0.2"),
            "{err}"
        );
        let err = allocate("n", s, None, gw, &taken, Some(Ipv4Addr::new(10, 1, 0, 2)))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "Address already in use: 10.1.0.2");
        assert!(
            allocate(
                "n",
                s,
                None,
                gw,
                &BTreeSet::new(),
                Some(Ipv4Addr::new(10, 1, 0, 7))
            )
            .is_err(),
            "broadcast is not a host address"
        );
    }
}
