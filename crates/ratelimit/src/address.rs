//! Who a request or socket is counted as when it carries no token: its
//! client's address, as both transports (HTTP and the gateway) see it.

use std::net::{IpAddr, SocketAddr};

/// The client's address: the TCP peer's, or, when the peer is a trusted
/// proxy, the nearest address in `X-Forwarded-For` (its values in the
/// order the headers came) that is not one (the ones before it could be
/// made up by the client). Addresses compare in canonical form, so an IPv4
/// proxy seen through a dual-stack socket (`::ffff:10.0.0.5`) is still
/// `10.0.0.5`.
pub fn client_ip<'a>(peer: SocketAddr, forwarded_for: impl IntoIterator<Item = &'a str>, trusted: &[IpAddr]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|t| t.to_canonical() == *ip);
    let peer = peer.ip().to_canonical();
    if !is_trusted(&peer) {
        return peer;
    }
    let hops: Vec<&str> = forwarded_for.into_iter().flat_map(|v| v.split(',')).map(str::trim).collect();
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>().map(|ip| ip.to_canonical()) {
            Ok(ip) if is_trusted(&ip) => continue,
            Ok(ip) => return ip,
            Err(_) => break,
        }
    }
    peer
}

/// What an address is counted as: itself for IPv4, its /64 for IPv6 (one
/// subscriber typically holds a whole /64).
pub fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_counts_per_64() {
        assert_eq!(address_key("2001:db8:1:2:aaaa::1".parse().unwrap()), "2001:db8:1:2::/64");
        assert_eq!(address_key("2001:db8:1:2:bbbb::9".parse().unwrap()), "2001:db8:1:2::/64");
        assert_eq!(address_key("203.0.113.5".parse().unwrap()), "203.0.113.5");
    }

    #[test]
    fn only_trusted_proxies_name_the_client() {
        let proxy: IpAddr = "10.0.0.5".parse().unwrap();
        let via_proxy: SocketAddr = "[::ffff:10.0.0.5]:4000".parse().unwrap();
        let stranger: SocketAddr = "198.51.100.7:4000".parse().unwrap();
        let xff = ["203.0.113.9, 10.0.0.5"];
        assert_eq!(client_ip(via_proxy, xff, &[proxy]), "203.0.113.9".parse::<IpAddr>().unwrap());
        assert_eq!(client_ip(stranger, xff, &[proxy]), "198.51.100.7".parse::<IpAddr>().unwrap());
        assert_eq!(client_ip(via_proxy, ["not an address"], &[proxy]), proxy, "garbage stops the walk");
    }
}
