//! IP allowlist entries: an IPv4 or IPv6 address or network, and whether a list lets an
//! address in. An empty list lets everyone in (docs/design.md §4).

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// A network in canonical form (`203.0.113.7/32`, `2001:db8::/32`). A single address
/// parses as its one-address network; host bits are cleared (`10.1.2.3/8` is `10.0.0.0/8`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Cidr(IpNet);

impl Cidr {
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if text.is_empty() || text.len() > 64 {
            return None;
        }
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Some(Self(IpNet::from(ip)));
        }
        text.parse::<IpNet>().ok().map(|net| Self(net.trunc()))
    }
    /// Whether the network covers every address of its family (`/0`): as an allowlist
    /// entry it would protect nothing while looking like it does.
    pub fn is_catch_all(&self) -> bool {
        self.0.prefix_len() == 0
    }
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&normalize(ip))
    }
}

/// An IPv4 address seen through an IPv6 socket (`::ffff:a.b.c.d`) is that IPv4 address.
pub fn normalize(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// Whether `ip` may connect under this allowlist.
pub fn allows<'a>(list: impl IntoIterator<Item = &'a Cidr>, ip: IpAddr) -> bool {
    let mut empty = true;
    for cidr in list {
        empty = false;
        if cidr.contains(ip) {
            return true;
        }
    }
    empty
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl TryFrom<String> for Cidr {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value).ok_or_else(|| "not an IP address or CIDR".to_owned())
    }
}

impl From<Cidr> for String {
    fn from(value: Cidr) -> Self {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn addresses_and_networks_of_both_families_parse() {
        assert_eq!(
            Cidr::parse("203.0.113.7").unwrap().to_string(),
            "203.0.113.7/32"
        );
        assert_eq!(Cidr::parse("10.1.2.3/8").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(
            Cidr::parse("2001:db8::1/32").unwrap().to_string(),
            "2001:db8::/32"
        );
        assert_eq!(Cidr::parse("::/0").unwrap().to_string(), "::/0");
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
    }

    #[test]
    fn garbage_does_not_parse() {
        for bad in [
            "",
            "10.0.0.0/33",
            "::/129",
            "300.1.1.1",
            "10.0.0.0/-1",
            "a.b.c.d",
            "10.0.0.1/8/8",
            "../etc",
        ] {
            assert!(Cidr::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn an_empty_list_is_open_and_a_list_admits_only_its_networks() {
        assert!(allows(&[], ip("192.0.2.1")));
        let list = [
            Cidr::parse("127.0.0.1").unwrap(),
            Cidr::parse("2001:db8::/32").unwrap(),
        ];
        assert!(allows(&list, ip("127.0.0.1")));
        assert!(!allows(&list, ip("127.0.0.2")));
        assert!(allows(&list, ip("2001:db8::5")));
        assert!(
            allows(&list, ip("::ffff:127.0.0.1")),
            "IPv4-mapped IPv6 is the IPv4 address"
        );
    }
}
