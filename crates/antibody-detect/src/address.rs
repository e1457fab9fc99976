//! Network addresses an outbound request must not reach when request input chose its host:
//! loopback, private, link-local (cloud metadata lives there), and every other range that
//! is not the public internet. Hosts are read the way URL parsers read them, so
//! `2130706433`, `0x7f.1` and `0177.0.0.1` are all `127.0.0.1`, and `[::ffff:127.0.0.1]` is
//! too.
//!
//! ```
//! use antibody_detect::address::{Reserved, literal_address, reserved};
//!
//! let ip = literal_address("0x7f.1").expect("an IPv4 address in hex");
//! assert_eq!(reserved(ip), Some(Reserved::Loopback));
//! assert_eq!(reserved("93.184.215.14".parse().unwrap()), None);
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is off limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reserved {
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// `10/8`, `172.16/12`, `192.168/16`, `fc00::/7`.
    Private,
    /// `169.254/16` (cloud metadata at `169.254.169.254`), `fe80::/10`.
    LinkLocal,
    /// `0.0.0.0/8`, `::`: "this host".
    Unspecified,
    /// Carrier-grade NAT, benchmarking, documentation, multicast, broadcast and the other
    /// ranges that are not the public internet.
    Other,
}

impl Reserved {
    /// A short name for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Reserved::Loopback => "loopback address",
            Reserved::Private => "private address",
            Reserved::LinkLocal => "link-local or metadata address",
            Reserved::Unspecified => "unspecified address",
            Reserved::Other => "reserved address",
        }
    }
}

/// Why `ip` is off limits, or `None` for a public address. IPv4 addresses inside IPv6
/// (mapped `::ffff:a.b.c.d`, compatible `::a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`, 6to4
/// `2002:AABB:CCDD::`) are judged as the IPv4 address they carry.
pub fn reserved(ip: IpAddr) -> Option<Reserved> {
    match ip {
        IpAddr::V4(ip) => reserved_v4(ip),
        IpAddr::V6(ip) => reserved_v6(ip),
    }
}

fn reserved_v4(ip: Ipv4Addr) -> Option<Reserved> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (127, ..) => Reserved::Loopback,
        (10, ..) | (192, 168, _) => Reserved::Private,
        (172, b, _) if (16..32).contains(&b) => Reserved::Private,
        (169, 254, _) => Reserved::LinkLocal,
        (0, ..) => Reserved::Unspecified,
        // Carrier-grade NAT, IETF protocol assignments, documentation, benchmarking,
        // 6to4 relays, multicast and the reserved class E with broadcast.
        (100, b, _) if (64..128).contains(&b) => Reserved::Other,
        (192, 0, 0 | 2) | (198, 51, 100) | (203, 0, 113) | (192, 88, 99) => Reserved::Other,
        (198, b, _) if b == 18 || b == 19 => Reserved::Other,
        (a, ..) if a >= 224 => Reserved::Other,
        _ => return None,
    })
}

fn reserved_v6(ip: Ipv6Addr) -> Option<Reserved> {
    let segments = ip.segments();
    if ip.is_loopback() {
        return Some(Reserved::Loopback);
    }
    if ip.is_unspecified() {
        return Some(Reserved::Unspecified);
    }
    let embedded = |high: u16, low: u16| {
        let [h1, h2] = high.to_be_bytes();
        let [l1, l2] = low.to_be_bytes();
        Ipv4Addr::new(h1, h2, l1, l2)
    };
    // IPv4 carried inside IPv6: mapped (`::ffff:a.b.c.d`), compatible (`::a.b.c.d`), NAT64
    // (`64:ff9b::a.b.c.d`), and 6to4 (`2002:AABB:CCDD::`, in its second and third segments).
    match segments {
        [0, 0, 0, 0, 0, 0xffff | 0, high, low]
        | [0x64, 0xff9b, 0, 0, 0, 0, high, low]
        | [0x2002, high, low, ..] => return reserved_v4(embedded(high, low)),
        _ => {}
    }
    match segments[0] {
        s if s & 0xfe00 == 0xfc00 => Some(Reserved::Private),
        s if s & 0xffc0 == 0xfe80 => Some(Reserved::LinkLocal),
        // Site-local (deprecated), multicast, documentation, discard.
        s if s & 0xffc0 == 0xfec0 || s & 0xff00 == 0xff00 => Some(Reserved::Other),
        0x2001 if segments[1] == 0x0db8 => Some(Reserved::Other),
        0x0100 if segments[1..4] == [0, 0, 0] => Some(Reserved::Other),
        _ => None,
    }
}

/// The address a URL's host names when it is an IP literal, read as URL parsers read one:
/// IPv6 in brackets, and IPv4 in the dotted, decimal, octal and hex forms (`127.1`,
/// `2130706433`, `0177.0.0.1`, `0x7f000001`). `None` for a name.
pub fn literal_address(host: &str) -> Option<IpAddr> {
    let host = host.trim_end_matches('.');
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        // A zone (`%25eth0`) does not change where the address leads.
        let address = inner.split('%').next().unwrap_or(inner);
        return address.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Some(ip);
    }
    ipv4_numbers(host).map(IpAddr::V4)
}

/// The WHATWG URL standard's IPv4 parser: up to four numbers, each decimal, octal (a
/// leading `0`) or hex (`0x`), the last one filling the remaining bytes.
fn ipv4_numbers(host: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = host.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let numbers: Vec<u64> = parts
        .iter()
        .map(|part| {
            let (digits, radix) =
                if let Some(hex) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
                    (hex, 16)
                } else if part.len() > 1 && part.starts_with('0') {
                    (&part[1..], 8)
                } else {
                    (*part, 10)
                };
            if digits.is_empty() {
                return (radix == 16).then_some(0);
            }
            u64::from_str_radix(digits, radix).ok()
        })
        .collect::<Option<_>>()?;
    let (last, leading) = numbers.split_last()?;
    if leading.iter().any(|&n| n > 255)
        || *last >= 256_u64.pow(5 - u32::try_from(numbers.len()).ok()?)
    {
        return None;
    }
    let mut value = *last;
    for (index, number) in leading.iter().enumerate() {
        value += number << (8 * (3 - index));
    }
    u32::try_from(value).ok().map(Ipv4Addr::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_an_internal_address_is_recognised() {
        for (host, expected) in [
            ("127.0.0.1", Reserved::Loopback),
            ("127.1", Reserved::Loopback),
            ("2130706433", Reserved::Loopback),
            ("0x7f000001", Reserved::Loopback),
            ("0x7f.1", Reserved::Loopback),
            ("0177.0.0.1", Reserved::Loopback),
            ("[::1]", Reserved::Loopback),
            ("[::ffff:127.0.0.1]", Reserved::Loopback),
            ("[::ffff:7f00:1]", Reserved::Loopback),
            ("[0:0:0:0:0:ffff:a9fe:a9fe]", Reserved::LinkLocal),
            ("169.254.169.254", Reserved::LinkLocal),
            ("[fe80::1%25eth0]", Reserved::LinkLocal),
            ("10.0.0.1", Reserved::Private),
            ("172.31.255.255", Reserved::Private),
            ("192.168.1.1", Reserved::Private),
            ("[fd00::1]", Reserved::Private),
            ("0.0.0.0", Reserved::Unspecified),
            ("0", Reserved::Unspecified),
            ("[::]", Reserved::Unspecified),
            ("100.64.0.1", Reserved::Other),
            ("224.0.0.1", Reserved::Other),
            ("255.255.255.255", Reserved::Other),
            ("[64:ff9b::7f00:1]", Reserved::Loopback),
            ("[2002:7f00:1::]", Reserved::Loopback),
        ] {
            let ip = literal_address(host).unwrap_or_else(|| panic!("{host} is an address"));
            assert_eq!(reserved(ip), Some(expected), "{host}");
        }
    }

    #[test]
    fn public_addresses_and_names_pass() {
        for host in [
            "93.184.215.14",
            "8.8.8.8",
            "172.32.0.1",
            "[2606:4700::1111]",
        ] {
            let ip = literal_address(host).expect("an address");
            assert_eq!(reserved(ip), None, "{host}");
        }
        for host in [
            "shop.example",
            "localhost",
            "1.2.3.4.5",
            "256.1.1.1.1",
            "1.2.3.256x",
        ] {
            assert_eq!(literal_address(host), None, "{host}");
        }
    }
}
