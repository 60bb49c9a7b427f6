//! Interface list blocks: the capturing host's network interfaces and addresses.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::cursor::Cursor;
use super::meta::{BodyError, OrBad, PAST_END};

/// One interface address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    /// Interface name (raw bytes), e.g. `eth0`.
    pub name: Vec<u8>,
    /// The address, netmask and broadcast address.
    pub addr: InterfaceAddr,
    /// Link speed, when the entry records it (types 1 and 2).
    pub linkspeed: Option<u64>,
}

/// Address part of an [`Interface`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InterfaceAddr {
    /// IPv4 interface (entry types 1 and 3).
    V4 {
        /// Address.
        addr: Ipv4Addr,
        /// Netmask.
        netmask: Ipv4Addr,
        /// Broadcast address.
        bcast: Ipv4Addr,
    },
    /// IPv6 interface (entry types 2 and 4).
    V6 {
        /// Address.
        addr: Ipv6Addr,
        /// Netmask.
        netmask: Ipv6Addr,
        /// Broadcast address.
        bcast: Ipv6Addr,
    },
}

/// Parses an interface list body; `v2` entries start with their size (excluding itself).
pub(crate) fn parse_iflist(body: &[u8], v2: bool) -> Result<Vec<Interface>, BodyError> {
    let mut c = Cursor::new(body);
    let mut out = Vec::new();
    while c.remaining() >= 4 {
        let start = c.pos();
        let bad = |what| BodyError::new(start, what);
        let end = if v2 {
            let size = c.u32().or_bad(start, PAST_END)?;
            Some(
                c.pos()
                    .checked_add(size as usize)
                    .ok_or(bad("entry length overflows"))?,
            )
        } else {
            None
        };
        let if_type = c.u16().or_bad(start, PAST_END)?;
        let name_len = c.u16().or_bad(start, PAST_END)?;
        let mut fields = || -> Option<(InterfaceAddr, Option<u64>)> {
            let (addr, has_speed) = match if_type {
                1 | 3 => (
                    InterfaceAddr::V4 {
                        addr: Ipv4Addr::from(c.array::<4>()?),
                        netmask: Ipv4Addr::from(c.array::<4>()?),
                        bcast: Ipv4Addr::from(c.array::<4>()?),
                    },
                    if_type == 1,
                ),
                _ => (
                    InterfaceAddr::V6 {
                        addr: Ipv6Addr::from(c.array::<16>()?),
                        netmask: Ipv6Addr::from(c.array::<16>()?),
                        bcast: Ipv6Addr::from(c.array::<16>()?),
                    },
                    if_type == 2,
                ),
            };
            let linkspeed = if has_speed { Some(c.u64()?) } else { None };
            Some((addr, linkspeed))
        };
        if !matches!(if_type, 1..=4) {
            return Err(bad("unknown interface type"));
        }
        let (addr, linkspeed) = fields().ok_or(bad(PAST_END))?;
        let name = c.take(usize::from(name_len)).ok_or(bad(PAST_END))?.to_vec();
        if let Some(end) = end {
            if c.pos() > end {
                return Err(bad("entry is longer than its recorded size"));
            }
            c.seek(end).ok_or(bad(PAST_END))?;
        }
        out.push(Interface {
            name,
            addr,
            linkspeed,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(v2: bool, if_type: u16, name: &[u8]) -> Vec<u8> {
        let mut b = if_type.to_le_bytes().to_vec();
        b.extend((name.len() as u16).to_le_bytes());
        match if_type {
            1 | 3 => b.extend([127, 0, 0, 1, 255, 0, 0, 0, 127, 255, 255, 255]),
            _ => {
                let mut a = [0u8; 48];
                a[15] = 1;
                b.extend(a);
            }
        }
        if if_type <= 2 {
            b.extend(1000u64.to_le_bytes());
        }
        b.extend(name);
        if v2 {
            let mut framed = (b.len() as u32).to_le_bytes().to_vec();
            framed.extend(b);
            framed
        } else {
            b
        }
    }

    #[test]
    fn all_types_both_versions() {
        for v2 in [false, true] {
            let mut body = Vec::new();
            for t in 1..=4 {
                body.extend(entry(v2, t, b"lo"));
            }
            body.extend([0, 0]);
            let list = parse_iflist(&body, v2).unwrap();
            assert_eq!(list.len(), 4);
            assert_eq!(
                list[0],
                Interface {
                    name: b"lo".to_vec(),
                    addr: InterfaceAddr::V4 {
                        addr: Ipv4Addr::LOCALHOST,
                        netmask: Ipv4Addr::new(255, 0, 0, 0),
                        bcast: Ipv4Addr::new(127, 255, 255, 255)
                    },
                    linkspeed: Some(1000),
                }
            );
            assert!(
                matches!(list[1].addr, InterfaceAddr::V6 { addr, .. } if addr == Ipv6Addr::LOCALHOST)
            );
            assert_eq!(list[2].linkspeed, None);
            assert_eq!(list[3].linkspeed, None);
        }
    }

    #[test]
    fn bad_type_and_short_size_fail() {
        assert!(parse_iflist(&entry(false, 9, b"x"), false).is_err());
        let mut e = entry(true, 1, b"eth0");
        e[..4].copy_from_slice(&3u32.to_le_bytes());
        assert!(parse_iflist(&e, true).is_err());
        let e = entry(true, 2, b"eth0");
        for cut in 4..e.len() {
            assert!(parse_iflist(&e[..cut], true).is_err(), "cut {cut}");
        }
    }
}
