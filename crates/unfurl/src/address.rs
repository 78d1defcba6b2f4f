//! Which addresses the fetcher may connect to: public ones, and those the
//! allow-list names. Everything that is not globally reachable — loopback,
//! private, link-local, unique-local, CGNAT, unspecified, multicast,
//! documentation, benchmarking and reserved ranges, and IPv6 forms that
//! carry one of those IPv4 addresses (mapped, compatible, NAT64, 6to4) —
//! is refused.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// An IP block: an address and how many leading bits of it count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn new(net: IpAddr, prefix: u8) -> Option<Self> {
        let max = if net.is_ipv4() { 32 } else { 128 };
        (prefix <= max).then_some(Self { net, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => same_prefix(u32::from(n).into(), u32::from(a).into(), 32, self.prefix),
            (IpAddr::V6(n), IpAddr::V6(a)) => same_prefix(u128::from(n), u128::from(a), 128, self.prefix),
            _ => false,
        }
    }
}

fn same_prefix(a: u128, b: u128, bits: u8, prefix: u8) -> bool {
    if prefix == 0 {
        return true;
    }
    let shift = u32::from(bits - prefix);
    (a >> shift) == (b >> shift)
}

const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> (u32, u8) {
    (u32::from_be_bytes([a, b, c, d]), prefix)
}

/// IPv4 blocks that are not globally reachable (IANA's special-purpose
/// registry, and multicast and the reserved class E).
const V4_SPECIAL: &[(u32, u8)] = &[
    v4(0, 0, 0, 0, 8),       // "this network", unspecified
    v4(10, 0, 0, 0, 8),      // private
    v4(100, 64, 0, 0, 10),   // shared address space (CGNAT)
    v4(127, 0, 0, 0, 8),     // loopback
    v4(169, 254, 0, 0, 16),  // link-local (cloud metadata lives here)
    v4(172, 16, 0, 0, 12),   // private
    v4(192, 0, 0, 0, 24),    // IETF protocol assignments
    v4(192, 0, 2, 0, 24),    // documentation (TEST-NET-1)
    v4(192, 88, 99, 0, 24),  // 6to4 relay anycast
    v4(192, 168, 0, 0, 16),  // private
    v4(198, 18, 0, 0, 15),   // benchmarking
    v4(198, 51, 100, 0, 24), // documentation (TEST-NET-2)
    v4(203, 0, 113, 0, 24),  // documentation (TEST-NET-3)
    v4(224, 0, 0, 0, 4),     // multicast
    v4(240, 0, 0, 0, 4),     // reserved, and the broadcast address
];

/// IPv6 blocks that are not globally reachable, besides those that embed
/// an IPv4 address (handled by [`embedded_v4`]).
const V6_SPECIAL: &[(u128, u8)] = &[
    (0, 96),                                // ::/96: unspecified, loopback, IPv4-compatible
    (0x0064_ff9b_0001 << 80, 48),           // 64:ff9b:1::/48 local-use NAT64
    (0x0100 << 112, 64),                    // 100::/64 discard-only
    (0x2001 << 112, 23),                    // 2001::/23 IETF protocol assignments (Teredo, ORCHID, …)
    ((0x2001 << 112) | (0x0db8 << 96), 32), // 2001:db8::/32 documentation
    (0x3fff << 112, 20),                    // 3fff::/20 documentation
    (0xfc00 << 112, 7),                     // fc00::/7 unique local
    (0xfe80 << 112, 10),                    // fe80::/10 link-local
    (0xfec0 << 112, 10),                    // fec0::/10 site-local (deprecated)
    (0xff00 << 112, 8),                     // ff00::/8 multicast
];

/// The IPv4 address an IPv6 address carries and would reach: IPv4-mapped
/// (`::ffff:a.b.c.d`), NAT64 (`64:ff9b::a.b.c.d`) and 6to4
/// (`2002:aabb:ccdd::`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let n = u128::from(ip);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    if n >> 32 == 0x0064_ff9b << 64 {
        return Some(Ipv4Addr::from(n as u32));
    }
    if n >> 112 == 0x2002 {
        return Some(Ipv4Addr::from((n >> 80) as u32));
    }
    None
}

/// Whether `ip` is an address a link preview must not reach unless the
/// allow-list names it: anything but a public unicast address.
pub fn is_special(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            let n = u32::from(a);
            V4_SPECIAL.iter().any(|&(net, prefix)| same_prefix(net.into(), n.into(), 32, prefix))
        }
        IpAddr::V6(a) => {
            if let Some(v4) = embedded_v4(a) {
                return is_special(IpAddr::V4(v4));
            }
            let n = u128::from(a);
            V6_SPECIAL.iter().any(|&(net, prefix)| same_prefix(net, n, 128, prefix))
        }
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is; others as they are.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(a) => a.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// One entry of the allow-list: a block, and a port or every port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowEntry {
    pub block: Cidr,
    pub port: Option<u16>,
}

impl std::str::FromStr for AllowEntry {
    type Err = String;

    /// `ADDR`, `ADDR/PREFIX`, `ADDR:PORT`, `ADDR/PREFIX:PORT` for IPv4;
    /// `ADDR`, `ADDR/PREFIX`, `[ADDR]:PORT`, `[ADDR]/PREFIX:PORT` (or
    /// `[ADDR/PREFIX]:PORT`) for IPv6.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("unfurl.allow: {s:?} is not ADDR[/PREFIX][:PORT] (IPv6 with a port in brackets)");
        let s = s.trim();
        let (block, port) = if let Some(rest) = s.strip_prefix('[') {
            let (inside, after) = rest.split_once(']').ok_or_else(bad)?;
            let (prefix_after, port) = match after.rsplit_once(':') {
                Some((p, port)) => (p, Some(port)),
                None => (after, None),
            };
            let block = match prefix_after.strip_prefix('/') {
                Some(prefix) if !inside.contains('/') => format!("{inside}/{prefix}"),
                None if prefix_after.is_empty() => inside.to_owned(),
                _ => return Err(bad()),
            };
            (block, port)
        } else if s.matches(':').count() > 1 {
            (s.to_owned(), None)
        } else {
            match s.split_once(':') {
                Some((b, port)) => (b.to_owned(), Some(port)),
                None => (s.to_owned(), None),
            }
        };
        let (addr, prefix) = match block.split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().map_err(|_| bad())?)),
            None => (block.as_str(), None),
        };
        let net: IpAddr = addr.parse().map_err(|_| bad())?;
        let net = canonical(net);
        let prefix = prefix.unwrap_or(if net.is_ipv4() { 32 } else { 128 });
        let block = Cidr::new(net, prefix).ok_or_else(bad)?;
        let port = port.map(|p| p.parse::<u16>().map_err(|_| bad())).transpose()?;
        Ok(Self { block, port })
    }
}

/// The addresses the fetcher may reach: public ones and the allow-list's.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    allow: Vec<AllowEntry>,
}

impl Policy {
    /// The policy of `allow` (the `unfurl.allow` setting); an entry that
    /// does not parse is an error naming it.
    pub fn new(allow: &[String]) -> Result<Self, String> {
        Ok(Self { allow: allow.iter().map(|s| s.parse()).collect::<Result<_, _>>()? })
    }

    /// Whether the fetcher may connect to `addr`.
    pub fn permits(&self, addr: SocketAddr) -> bool {
        let ip = canonical(addr.ip());
        !is_special(ip) || self.allow.iter().any(|e| e.block.contains(ip) && e.port.is_none_or(|p| p == addr.port()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn special(s: &str) -> bool {
        is_special(s.parse().unwrap())
    }

    #[test]
    fn non_public_addresses_are_special() {
        for s in [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "10.255.255.255",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "127.255.255.254",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::127.0.0.1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "64:ff9b::7f00:1",
            "64:ff9b:1::1",
            "2002:7f00:1::",
            "2002:a9fe:a9fe::1",
            "100::1",
            "2001::1",
            "2001:db8::1",
            "3fff::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
        ] {
            assert!(special(s), "{s} should be refused");
        }
    }

    #[test]
    fn public_addresses_are_not() {
        for s in [
            "1.1.1.1",
            "8.8.8.8",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "169.253.255.255",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2a00:1450:4001::200e",
            "::ffff:1.1.1.1",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "2001:200::1",
        ] {
            assert!(!special(s), "{s} should be allowed");
        }
    }

    #[test]
    fn blocks_match_their_prefix_only() {
        let c = Cidr::new("10.1.0.0".parse().unwrap(), 16).unwrap();
        assert!(c.contains("10.1.255.1".parse().unwrap()));
        assert!(!c.contains("10.2.0.1".parse().unwrap()));
        assert!(!c.contains("::ffff:10.1.0.1".parse().unwrap()), "families do not mix");
        assert!(Cidr::new("0.0.0.0".parse().unwrap(), 0).unwrap().contains("8.8.8.8".parse().unwrap()));
        assert!(Cidr::new("10.0.0.0".parse().unwrap(), 33).is_none());
        assert!(Cidr::new("::".parse().unwrap(), 129).is_none());
    }

    #[test]
    fn allow_entries_parse_with_and_without_ports() {
        let e = |s: &str| s.parse::<AllowEntry>();
        let sock = |s: &str| s.parse::<SocketAddr>().unwrap();
        let p = Policy::new(&[
            "127.0.0.1:8080".into(),
            "10.0.0.0/8".into(),
            "192.168.0.0/16:443".into(),
            "[::1]:9000".into(),
            "fd00::/8".into(),
            "[fe80::]/10:80".into(),
            "[fec0::/10]:81".into(),
        ])
        .unwrap();
        assert!(p.permits(sock("127.0.0.1:8080")));
        assert!(!p.permits(sock("127.0.0.1:8081")), "another port of an allowed address");
        assert!(!p.permits(sock("127.0.0.2:8080")));
        assert!(p.permits(sock("[::ffff:127.0.0.1]:8080")), "the mapped form is the same address");
        assert!(p.permits(sock("10.9.8.7:1")));
        assert!(p.permits(sock("192.168.3.4:443")));
        assert!(!p.permits(sock("192.168.3.4:80")));
        assert!(p.permits(sock("[::1]:9000")));
        assert!(!p.permits(sock("[::1]:9001")));
        assert!(p.permits(sock("[fd12::1]:5")));
        assert!(p.permits(sock("[fe80::1]:80")));
        assert!(!p.permits(sock("[fe80::1]:81")));
        assert!(p.permits(sock("[fec0::1]:81")));
        assert!(!p.permits(sock("169.254.169.254:80")));
        assert!(p.permits(sock("93.184.215.14:80")), "public addresses need no entry");
        for bad in ["", "localhost", "127.0.0.1:", "127.0.0.1:99999", "10.0.0.0/33", "[::1", "::1:80x", "1.2.3.4/x"] {
            assert!(e(bad).is_err(), "{bad:?} should not parse");
        }
        assert!(Policy::new(&["nope".into()]).unwrap_err().contains("nope"));
        assert!(Policy::default().permits(sock("1.1.1.1:443")));
        assert!(!Policy::default().permits(sock("[::]:80")));
    }
}
