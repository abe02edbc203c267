//! Network addresses the service judges: which proxies are trusted to name the client
//! (`server.trusted_proxies`), and which addresses a webhook may not reach (internal ones).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An address block, `10.0.0.0/8` or `2001:db8::/32`; a bare address is a block of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Option<Cidr> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().ok()?)),
            None => (s, None),
        };
        let net: IpAddr = addr.parse().ok()?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Cidr { net, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, canonical(ip)) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// An IPv4 address written inside IPv6 (`::ffff:127.0.0.1`) as the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// One hop of `X-Forwarded-For` / `Forwarded: for=`: an address, with or without port,
/// brackets or quotes.
pub fn parse_hop(s: &str) -> Option<IpAddr> {
    let s = s.trim().trim_matches('"');
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    // `a.b.c.d:port`
    s.rsplit_once(':')
        .filter(|(a, p)| a.contains('.') && p.chars().all(|c| c.is_ascii_digit()))
        .and_then(|(a, _)| a.parse().ok())
}

/// The client of a request that came through proxies. `peer` is the address that connected;
/// `hops` the addresses the proxies appended, first (the client's claim) to last (the nearest
/// proxy's peer). Walking from the nearest hop outward, the first address that is not a trusted
/// proxy is the client: anything to its left was written by the client itself. An untrusted
/// peer is the client whatever the headers say.
pub fn client_of(peer: IpAddr, hops: &[String], peer_trusted: bool, trusted: &[Cidr]) -> String {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !(peer_trusted || is_trusted(peer)) || hops.is_empty() {
        return canonical(peer).to_string();
    }
    for hop in hops.iter().rev() {
        match parse_hop(hop) {
            Some(ip) if is_trusted(ip) => continue,
            Some(ip) => return canonical(ip).to_string(),
            // A trusted proxy wrote something that is not an address (`unknown`, an obfuscated
            // name): that is what it knows of the client.
            None => return hop.trim().chars().take(64).collect(),
        }
    }
    // Every hop is a trusted proxy: the first one is as far as we can see.
    hops.first().and_then(|h| parse_hop(h)).map_or_else(
        || canonical(peer).to_string(),
        |ip| canonical(ip).to_string(),
    )
}

/// Whether a webhook may not reach this address: loopback, private, link-local (the cloud
/// metadata address 169.254.169.254 among them), shared (CGNAT), unspecified, multicast,
/// broadcast, documentation and benchmarking ranges, IPv6 unique-local and link-local, and IPv4
/// addresses embedded in IPv6 (mapped, NAT64, 6to4) judged as IPv4.
pub fn is_internal(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => internal_v6(v6),
    }
}

fn internal_v4(ip: Ipv4Addr) -> bool {
    const BLOCKS: &[(u32, u8)] = &[
        (0x0000_0000, 8),  // 0.0.0.0/8 "this network"
        (0x0A00_0000, 8),  // 10/8
        (0x6440_0000, 10), // 100.64/10 shared address space
        (0x7F00_0000, 8),  // 127/8 loopback
        (0xA9FE_0000, 16), // 169.254/16 link-local, cloud metadata
        (0xAC10_0000, 12), // 172.16/12
        (0xC000_0000, 24), // 192.0.0/24 IETF protocol assignments
        (0xC000_0200, 24), // 192.0.2/24 documentation
        (0xC0A8_0000, 16), // 192.168/16
        (0xC612_0000, 15), // 198.18/15 benchmarking
        (0xC633_6400, 24), // 198.51.100/24 documentation
        (0xCB00_7100, 24), // 203.0.113/24 documentation
        (0xE000_0000, 4),  // 224/4 multicast
        (0xF000_0000, 4),  // 240/4 reserved, broadcast
    ];
    let a = u32::from(ip);
    BLOCKS.iter().any(|&(net, prefix)| {
        let mask = u32::MAX << (32 - u32::from(prefix));
        a & mask == net
    })
}

fn internal_v6(ip: Ipv6Addr) -> bool {
    let a = u128::from(ip);
    let seg = ip.segments();
    if ip.is_unspecified() || ip.is_loopback() || ip.is_multicast() {
        return true;
    }
    // fc00::/7 unique local, fe80::/10 link-local, fec0::/10 site-local (deprecated),
    // 2001:db8::/32 documentation, 100::/64 discard.
    if seg[0] & 0xfe00 == 0xfc00
        || seg[0] & 0xffc0 == 0xfe80
        || seg[0] & 0xffc0 == 0xfec0
        || (seg[0] == 0x2001 && seg[1] == 0x0db8)
        || (seg[0] == 0x0100 && seg[1] == 0 && seg[2] == 0 && seg[3] == 0)
    {
        return true;
    }
    // IPv4 inside: compatible (::a.b.c.d), NAT64 (64:ff9b::/96), 6to4 (2002::/16).
    let low32 = Ipv4Addr::from(u32::try_from(a & 0xffff_ffff).unwrap_or(0));
    if a >> 32 == 0
        || (seg[0] == 0x0064 && seg[1] == 0xff9b && a >> 32 & 0xffff_ffff_ffff_ffff == 0)
    {
        return internal_v4(low32);
    }
    if seg[0] == 0x2002 {
        let embedded = (u32::from(seg[1]) << 16) | u32::from(seg[2]);
        return internal_v4(Ipv4Addr::from(embedded));
    }
    false
}

/// A host name that is an IPv4 address in a form other than dotted decimal — `2130706433`,
/// `0x7f000001`, `0177.0.0.1`, `127.1` — read as the address a resolver or client library may
/// take it for. `None` for a real name (or for an ordinary dotted address: parse that directly).
pub fn loose_ipv4(host: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = host.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut nums = Vec::with_capacity(parts.len());
    for p in &parts {
        let p = p.to_ascii_lowercase();
        let n = if let Some(hex) = p.strip_prefix("0x") {
            u64::from_str_radix(hex, 16).ok()?
        } else if p.len() > 1 && p.starts_with('0') {
            u64::from_str_radix(&p[1..], 8).ok()?
        } else {
            p.parse::<u64>().ok()?
        };
        nums.push(n);
    }
    let (last, head) = nums.split_last()?;
    let rest_bits = 8 * (4 - head.len() as u32);
    if head.iter().any(|&n| n > 255) || *last >= 1u64 << rest_bits {
        return None;
    }
    let mut v: u64 = 0;
    for (i, n) in head.iter().enumerate() {
        v |= n << (24 - 8 * i as u32);
    }
    v |= last;
    u32::try_from(v).ok().map(Ipv4Addr::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn blocks_contain_their_addresses_only() {
        let c = Cidr::parse("10.1.0.0/16").unwrap_or_else(|| panic!("parse"));
        assert!(c.contains(ip("10.1.255.3")));
        assert!(!c.contains(ip("10.2.0.1")));
        assert!(c.contains(ip("::ffff:10.1.0.9")), "IPv4-mapped is IPv4");
        let one = Cidr::parse("192.0.2.10").unwrap_or_else(|| panic!("parse"));
        assert!(one.contains(ip("192.0.2.10")) && !one.contains(ip("192.0.2.11")));
        assert!(Cidr::parse("fd00::/8").is_some_and(|c| c.contains(ip("fd12::1"))));
        assert!(Cidr::parse("10.0.0.0/33").is_none());
        assert!(Cidr::parse("0.0.0.0/0").is_some_and(|c| c.contains(ip("8.8.8.8"))));
    }

    #[test]
    fn the_client_is_the_right_most_untrusted_hop() {
        let proxies = [Cidr::parse("10.0.0.0/8").unwrap_or_else(|| panic!("parse"))];
        let hops = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        // The client wrote "1.1.1.1" itself; the proxy appended the real peer.
        let h = hops(&["1.1.1.1", "203.0.113.9", "10.0.0.2"]);
        assert_eq!(
            client_of(ip("10.0.0.1"), &h, false, &proxies),
            "203.0.113.9"
        );
        // An untrusted peer: the headers are the client's own words.
        assert_eq!(
            client_of(ip("198.51.100.7"), &h, false, &proxies),
            "198.51.100.7"
        );
        // `trust_forwarded_for`: the peer is the one proxy; the last hop is the client.
        let h = hops(&["6.6.6.6", "198.51.100.8"]);
        assert_eq!(client_of(ip("127.0.0.1"), &h, true, &[]), "198.51.100.8");
        // Ports and brackets.
        let h = hops(&["[2001:db8::1]:443", "\"192.0.2.4:8080\""]);
        assert_eq!(client_of(ip("10.0.0.1"), &h, false, &proxies), "192.0.2.4");
        // All hops trusted: the first.
        let h = hops(&["10.1.1.1", "10.2.2.2"]);
        assert_eq!(client_of(ip("10.0.0.1"), &h, false, &proxies), "10.1.1.1");
        // No headers: the peer.
        assert_eq!(client_of(ip("10.0.0.1"), &[], true, &proxies), "10.0.0.1");
    }

    #[test]
    fn internal_addresses_in_every_spelling() {
        for s in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
        ] {
            assert!(is_internal(ip(s)), "{s} is internal");
        }
        for s in ["8.8.8.8", "114.114.114.114", "2400:3200::1", "1.1.1.1"] {
            assert!(!is_internal(ip(s)), "{s} is public");
        }
    }

    #[test]
    fn loose_ipv4_forms_are_read_as_addresses() {
        let lo = Ipv4Addr::new(127, 0, 0, 1);
        assert_eq!(loose_ipv4("2130706433"), Some(lo));
        assert_eq!(loose_ipv4("0x7f000001"), Some(lo));
        assert_eq!(loose_ipv4("0177.0.0.1"), Some(lo));
        assert_eq!(loose_ipv4("127.1"), Some(lo));
        assert_eq!(loose_ipv4("0"), Some(Ipv4Addr::UNSPECIFIED));
        assert_eq!(
            loose_ipv4("0xa9.254.169.254"),
            Some(Ipv4Addr::new(169, 254, 169, 254))
        );
        assert_eq!(loose_ipv4("example.gov.cn"), None);
        assert_eq!(loose_ipv4("4294967296"), None);
    }
}
