//! Where port forwards may not go. A session spec comes from the server, so without a
//! deny-list anyone who can start a session could use the host to reach its cloud metadata
//! service (instance credentials) or link-local services. The check runs on every address a
//! name resolved to, after resolution, so that a name pointing at a refused address is
//! refused too.
//!
//! An IPv6 address can also carry an IPv4 address that the host's network stack, a NAT64
//! gateway or a 6to4 relay turns back into IPv4 on the way: each such form of a refused IPv4
//! address is refused as that address (see [`embedded_ipv4`]).

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    str::FromStr,
};

use ipnet::IpNet;

/// Always refused: Alibaba Cloud's and the common metadata address, IPv4 and IPv6
/// link-local, and the IPv6 instance-metadata address.
pub const DEFAULT_DENY: &[&str] = &[
    "100.100.100.200/32",
    "169.254.169.254/32",
    "169.254.0.0/16",
    "fe80::/10",
    // The IPv6 instance-metadata address some clouds use (AWS's IMDS on IPv6): the same
    // credentials as 169.254.169.254, outside every link-local block.
    "fd00:ec2::254/128",
];

/// The NAT64 well-known prefix (RFC 6052), `64:ff9b::/96`: a NAT64 gateway on the path
/// connects to the IPv4 address in the last 32 bits.
const NAT64_PREFIX: [u16; 6] = [0x64, 0xff9b, 0, 0, 0, 0];
/// The 6to4 prefix (RFC 3056), `2002::/16`: a 6to4 relay tunnels to the IPv4 address in
/// bits 16–48.
const SIX_TO_FOUR: u16 = 0x2002;

/// One refused address or block (`--deny`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DenyEntry(IpNet);

impl FromStr for DenyEntry {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        text.parse::<IpNet>()
            .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
            .map(|net| Self(net.trunc()))
            .map_err(|_| format!("{text:?} is neither an IP address nor a CIDR block"))
    }
}

impl fmt::Display for DenyEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The refused blocks.
#[derive(Debug, Clone)]
pub struct DenyList {
    blocks: Vec<IpNet>,
}

impl DenyList {
    /// The defaults plus `extra`.
    pub fn new(extra: &[DenyEntry]) -> Self {
        let blocks = DEFAULT_DENY
            .iter()
            .filter_map(|text| text.parse().ok())
            .chain(extra.iter().map(|entry| entry.0))
            .collect();
        Self { blocks }
    }

    /// The block that refuses `ip`, if any. An IPv6 address that embeds an IPv4 address is
    /// refused by the blocks of either: `--deny 2002::/16` still refuses every 6to4 address.
    pub fn refuses(&self, ip: IpAddr) -> Option<IpNet> {
        let embedded = match ip {
            IpAddr::V6(v6) => embedded_ipv4(v6).map(IpAddr::V4),
            IpAddr::V4(_) => None,
        };
        let find = |ip: IpAddr| {
            self.blocks
                .iter()
                .copied()
                .find(|block| block.contains(&ip))
        };
        find(ip).or_else(|| embedded.and_then(find))
    }
}

/// The IPv4 address an IPv6 address leads to, for the forms that reach one:
///
/// - IPv4-mapped `::ffff:a.b.c.d`: the host's own stack connects over IPv4.
/// - IPv4-compatible `::a.b.c.d` (deprecated, still routed by some stacks), except `::` and
///   `::1`, which are the IPv6 unspecified and loopback addresses, not IPv4 ones.
/// - NAT64 `64:ff9b::a.b.c.d`.
/// - 6to4 `2002:AABB:CCDD::/48`, the address being `AA.BB.CC.DD`.
pub fn embedded_ipv4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    match ip.segments() {
        [0, 0, 0, 0, 0, 0xffff, high, low] => Some(v4(high, low)),
        [0, 0, 0, 0, 0, 0, 0, 0 | 1] => None,
        [0, 0, 0, 0, 0, 0, high, low] => Some(v4(high, low)),
        [a, b, c, d, e, f, high, low] if [a, b, c, d, e, f] == NAT64_PREFIX => Some(v4(high, low)),
        [SIX_TO_FOUR, high, low, ..] => Some(v4(high, low)),
        _ => None,
    }
}

/// The IPv4 address whose upper and lower halves are `high` and `low`.
fn v4(high: u16, low: u16) -> Ipv4Addr {
    Ipv4Addr::from((u32::from(high) << 16) | u32::from(low))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_defaults_refuse_metadata_and_link_local_in_every_form() {
        let list = DenyList::new(&[]);
        // (address, the block expected to refuse it)
        for (refused, block) in [
            ("100.100.100.200", "100.100.100.200/32"),
            ("169.254.169.254", "169.254.169.254/32"),
            ("169.254.1.2", "169.254.0.0/16"),
            ("fe80::1", "fe80::/10"),
            ("febf:ffff::1", "fe80::/10"),
            ("fd00:ec2::254", "fd00:ec2::254/128"),
            // IPv4-mapped.
            ("::ffff:169.254.169.254", "169.254.169.254/32"),
            ("::ffff:100.100.100.200", "100.100.100.200/32"),
            // IPv4-compatible.
            ("::169.254.169.254", "169.254.169.254/32"),
            ("::a9fe:102", "169.254.0.0/16"),
            ("::100.100.100.200", "100.100.100.200/32"),
            // NAT64.
            ("64:ff9b::a9fe:a9fe", "169.254.169.254/32"),
            ("64:ff9b::169.254.169.254", "169.254.169.254/32"),
            ("64:ff9b::6464:64c8", "100.100.100.200/32"),
            ("64:ff9b::a9fe:1", "169.254.0.0/16"),
            // 6to4: any interface id and subnet behind the /48.
            ("2002:a9fe:a9fe::", "169.254.169.254/32"),
            ("2002:a9fe:a9fe:1:2:3:4:5", "169.254.169.254/32"),
            ("2002:6464:64c8::1", "100.100.100.200/32"),
            ("2002:a9fe:ff::1", "169.254.0.0/16"),
        ] {
            assert_eq!(
                list.refuses(ip(refused)),
                Some(block.parse().unwrap()),
                "{refused}"
            );
        }
        for allowed in [
            "127.0.0.1",
            "::1",
            "::",
            "10.0.0.1",
            "100.100.100.201",
            "fec0::1",
            "2001:db8::1",
            "2606:4700::1111",
            "fd00:ec2::253",
            "fd00:ec3::254",
            "::ffff:10.0.0.1",
            "::10.0.0.1",
            "64:ff9b::a01:1",
            // Outside the /96: not the well-known NAT64 prefix.
            "64:ff9b:1::a9fe:a9fe",
            "2002:a01:1::1",
            // The IPv4 bits of 6to4 are 16–48, not the last 32.
            "2002:a01:1::a9fe:a9fe",
            "2003:a9fe:a9fe::1",
        ] {
            assert_eq!(list.refuses(ip(allowed)), None, "{allowed}");
        }
    }

    #[test]
    fn embedded_addresses_are_read_from_the_right_bits() {
        let v4 = |text: &str| Some(text.parse::<Ipv4Addr>().unwrap());
        let v6 = |text: &str| text.parse::<Ipv6Addr>().unwrap();
        assert_eq!(embedded_ipv4(v6("::ffff:1.2.3.4")), v4("1.2.3.4"));
        assert_eq!(embedded_ipv4(v6("::1.2.3.4")), v4("1.2.3.4"));
        assert_eq!(embedded_ipv4(v6("64:ff9b::102:304")), v4("1.2.3.4"));
        assert_eq!(embedded_ipv4(v6("2002:102:304:5::6")), v4("1.2.3.4"));
        for none in ["::", "::1", "2001:db8::1.2.3.4", "fe80::1"] {
            assert_eq!(embedded_ipv4(v6(none)), None, "{none}");
        }
    }

    #[test]
    fn extra_entries_take_addresses_and_blocks() {
        let extra: Vec<DenyEntry> = [
            "10.0.0.0/8",
            "192.168.1.7",
            "2001:db8::/32",
            " 10.1.2.3/8 ",
            "2002::/16",
        ]
        .iter()
        .map(|t| t.parse().unwrap())
        .collect();
        assert_eq!(extra[3].to_string(), "10.0.0.0/8", "host bits are dropped");
        let list = DenyList::new(&extra);
        assert!(list.refuses(ip("10.200.0.1")).is_some());
        assert!(list.refuses(ip("192.168.1.7")).is_some());
        assert!(list.refuses(ip("192.168.1.8")).is_none());
        assert!(list.refuses(ip("2001:db8:1::5")).is_some());
        assert!(list.refuses(ip("2001:db9::5")).is_none());
        // Extra IPv4 blocks cover the embedding forms too; an IPv6 block still matches the
        // IPv6 form itself.
        assert!(list.refuses(ip("64:ff9b::10.9.8.7")).is_some());
        assert!(list.refuses(ip("::ffff:192.168.1.7")).is_some());
        assert_eq!(
            list.refuses(ip("2002:c0a8:108::1")),
            Some("2002::/16".parse().unwrap())
        );
        assert!("example.com".parse::<DenyEntry>().is_err());
        assert!("10.0.0.0/33".parse::<DenyEntry>().is_err());
    }
}
