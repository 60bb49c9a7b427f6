//! Typed decoding of event parameter bytes (as returned by
//! [`RawEvent::param`](super::RawEvent::param)).
//!
//! Every decoder takes the raw parameter and returns `None` for a null (empty) or
//! malformed value; none of them panics on short input. Integers are little-endian.
//! IP addresses are stored in network byte order and ports as host (little-endian)
//! values, so `02 7f000001 6c9e 7f000001 901f` is `127.0.0.1:40556 -> 127.0.0.1:8080`.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};

/// `PPM_AF_UNIX`: unix socket family code in socket parameters.
pub const PPM_AF_UNIX: u8 = 1;
/// `PPM_AF_INET`: IPv4 family code in socket parameters.
pub const PPM_AF_INET: u8 = 2;
/// `PPM_AF_INET6`: IPv6 family code in socket parameters.
pub const PPM_AF_INET6: u8 = 10;

fn exact<const N: usize>(p: &[u8]) -> Option<[u8; N]> {
    p.try_into().ok()
}

/// A 1-byte unsigned parameter (`PT_UINT8`, `PT_FLAGS8`, `PT_SIGTYPE`, ...).
pub fn le_u8(p: &[u8]) -> Option<u8> {
    exact::<1>(p).map(|[b]| b)
}

/// A 2-byte unsigned parameter (`PT_UINT16`, `PT_PORT`, `PT_FLAGS16`, ...).
pub fn le_u16(p: &[u8]) -> Option<u16> {
    exact(p).map(u16::from_le_bytes)
}

/// A 4-byte unsigned parameter (`PT_UINT32`, `PT_UID`, `PT_FLAGS32`, `PT_MODE`, ...).
pub fn le_u32(p: &[u8]) -> Option<u32> {
    exact(p).map(u32::from_le_bytes)
}

/// An 8-byte unsigned parameter (`PT_UINT64`, `PT_ABSTIME`, `PT_RELTIME`, ...).
pub fn le_u64(p: &[u8]) -> Option<u64> {
    exact(p).map(u64::from_le_bytes)
}

/// A 1-byte signed parameter (`PT_INT8`).
pub fn le_i8(p: &[u8]) -> Option<i8> {
    exact(p).map(i8::from_le_bytes)
}

/// A 2-byte signed parameter (`PT_INT16`).
pub fn le_i16(p: &[u8]) -> Option<i16> {
    exact(p).map(i16::from_le_bytes)
}

/// A 4-byte signed parameter (`PT_INT32`).
pub fn le_i32(p: &[u8]) -> Option<i32> {
    exact(p).map(i32::from_le_bytes)
}

/// An 8-byte signed parameter (`PT_INT64`, `PT_ERRNO`, `PT_FD`, `PT_PID`).
pub fn le_i64(p: &[u8]) -> Option<i64> {
    exact(p).map(i64::from_le_bytes)
}

/// Any 1-, 2-, 4- or 8-byte integer parameter, zero-extended. Use it when the width
/// varies between event versions.
pub fn le_uint(p: &[u8]) -> Option<u64> {
    match p.len() {
        1 => le_u8(p).map(u64::from),
        2 => le_u16(p).map(u64::from),
        4 => le_u32(p).map(u64::from),
        8 => le_u64(p),
        _ => None,
    }
}

/// Any 1-, 2-, 4- or 8-byte integer parameter, sign-extended.
pub fn le_int(p: &[u8]) -> Option<i64> {
    match p.len() {
        1 => le_i8(p).map(i64::from),
        2 => le_i16(p).map(i64::from),
        4 => le_i32(p).map(i64::from),
        8 => le_i64(p),
        _ => None,
    }
}

/// A string parameter (`PT_CHARBUF`, `PT_FSPATH`, `PT_FSRELPATH`): the bytes up to the
/// first NUL. `None` for a null string (length 0).
pub fn charbuf(p: &[u8]) -> Option<&[u8]> {
    if p.is_empty() {
        return None;
    }
    let end = p.iter().position(|&b| b == 0).unwrap_or(p.len());
    p.get(..end)
}

/// A NUL-separated list (args, env, cgroups): one trailing NUL is ignored, so
/// `b"a\0b\0"` and `b"a\0b"` both give `a`, `b`; an empty value gives no items.
pub fn nul_list(p: &[u8]) -> NulList<'_> {
    NulList::new(p)
}

/// Iterator over the items of a NUL-separated list; see [`nul_list`].
#[derive(Debug, Clone)]
pub struct NulList<'a> {
    rest: Option<&'a [u8]>,
}

impl<'a> NulList<'a> {
    /// Starts iterating over `p`.
    pub fn new(p: &'a [u8]) -> Self {
        let trimmed = p.strip_suffix(&[0]).unwrap_or(p);
        Self {
            rest: (!trimmed.is_empty()).then_some(trimmed),
        }
    }
}

impl<'a> Iterator for NulList<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let rest = self.rest.take()?;
        match rest.iter().position(|&b| b == 0) {
            Some(i) => {
                self.rest = rest.get(i.saturating_add(1)..);
                rest.get(..i)
            }
            None => Some(rest),
        }
    }
}

/// A decoded `PT_SOCKADDR` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SockAddr<'a> {
    /// IPv4 address and port.
    Inet(SocketAddrV4),
    /// IPv6 address and port.
    Inet6(SocketAddrV6),
    /// Unix socket path (up to the first NUL).
    Unix(&'a [u8]),
    /// Another family; `data` is everything after the family byte.
    Other {
        /// The `PPM_AF_*` family code.
        family: u8,
        /// The undecoded remainder.
        data: &'a [u8],
    },
}

fn v4(b: &[u8], at: usize) -> Option<Ipv4Addr> {
    let end = at.checked_add(4)?;
    exact::<4>(b.get(at..end)?).map(Ipv4Addr::from)
}

fn v6(b: &[u8], at: usize) -> Option<Ipv6Addr> {
    let end = at.checked_add(16)?;
    exact::<16>(b.get(at..end)?).map(Ipv6Addr::from)
}

fn port(b: &[u8], at: usize) -> Option<u16> {
    let end = at.checked_add(2)?;
    le_u16(b.get(at..end)?)
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    let end = at.checked_add(8)?;
    le_u64(b.get(at..end)?)
}

fn c_str(b: &[u8]) -> &[u8] {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    b.get(..end).unwrap_or_default()
}

/// Decodes a `PT_SOCKADDR` parameter: `u8 family`, then for IPv4 `4B ip, u16 port`, for
/// IPv6 `16B ip, u16 port`, for unix a NUL-terminated path. `None` if null or too short.
pub fn sockaddr(p: &[u8]) -> Option<SockAddr<'_>> {
    let (&family, data) = p.split_first()?;
    Some(match family {
        PPM_AF_INET => SockAddr::Inet(SocketAddrV4::new(v4(p, 1)?, port(p, 5)?)),
        PPM_AF_INET6 => SockAddr::Inet6(SocketAddrV6::new(v6(p, 1)?, port(p, 17)?, 0, 0)),
        PPM_AF_UNIX => SockAddr::Unix(c_str(data)),
        _ => SockAddr::Other { family, data },
    })
}

/// A decoded `PT_SOCKTUPLE` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SockTuple<'a> {
    /// IPv4 source and destination.
    Inet {
        /// Source address and port.
        src: SocketAddrV4,
        /// Destination address and port.
        dst: SocketAddrV4,
    },
    /// IPv6 source and destination.
    Inet6 {
        /// Source address and port.
        src: SocketAddrV6,
        /// Destination address and port.
        dst: SocketAddrV6,
    },
    /// Unix socket: kernel pointers of both ends and the path.
    Unix {
        /// Kernel address of the source end.
        source: u64,
        /// Kernel address of the destination end.
        dest: u64,
        /// Socket path (up to the first NUL).
        path: &'a [u8],
    },
    /// Another family; `data` is everything after the family byte.
    Other {
        /// The `PPM_AF_*` family code.
        family: u8,
        /// The undecoded remainder.
        data: &'a [u8],
    },
}

/// Decodes a `PT_SOCKTUPLE` parameter: `u8 family`, then for IPv4 `4B sip, u16 sport,
/// 4B dip, u16 dport` (13 bytes), for IPv6 the same with 16-byte addresses (37 bytes),
/// for unix `u64 source, u64 dest, path`. `None` if null or too short.
pub fn socktuple(p: &[u8]) -> Option<SockTuple<'_>> {
    let (&family, data) = p.split_first()?;
    Some(match family {
        PPM_AF_INET => SockTuple::Inet {
            src: SocketAddrV4::new(v4(p, 1)?, port(p, 5)?),
            dst: SocketAddrV4::new(v4(p, 7)?, port(p, 11)?),
        },
        PPM_AF_INET6 => SockTuple::Inet6 {
            src: SocketAddrV6::new(v6(p, 1)?, port(p, 17)?, 0, 0),
            dst: SocketAddrV6::new(v6(p, 19)?, port(p, 35)?, 0, 0),
        },
        PPM_AF_UNIX => SockTuple::Unix {
            source: u64_at(p, 1)?,
            dest: u64_at(p, 9)?,
            path: c_str(p.get(17..)?),
        },
        _ => SockTuple::Other { family, data },
    })
}

/// Decodes a `PT_FDLIST` parameter: `u16 count`, then `count` pairs of `u64 fd,
/// u16 flags`. `None` if the value is shorter than the count says.
pub fn fdlist(p: &[u8]) -> Option<FdListParam<'_>> {
    let count = le_u16(p.get(..2)?)?;
    let need = usize::from(count).checked_mul(10)?;
    let items = p.get(2..)?.get(..need)?;
    Some(FdListParam { items })
}

/// Iterator over `(fd, flags)` pairs of a `PT_FDLIST` parameter; see [`fdlist`].
#[derive(Debug, Clone)]
pub struct FdListParam<'a> {
    items: &'a [u8],
}

impl Iterator for FdListParam<'_> {
    type Item = (i64, u16);

    fn next(&mut self) -> Option<(i64, u16)> {
        let (item, rest) = self.items.split_at_checked(10)?;
        self.items = rest;
        let fd = le_i64(item.get(..8)?)?;
        let flags = le_u16(item.get(8..)?)?;
        Some((fd, flags))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.items.len() / 10;
        (n, Some(n))
    }
}

impl ExactSizeIterator for FdListParam<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers() {
        assert_eq!(le_u8(&[7]), Some(7));
        assert_eq!(le_u16(&[1, 2]), Some(0x0201));
        assert_eq!(le_u32(&[1, 0, 0, 0]), Some(1));
        assert_eq!(le_u32(&[1, 0, 0]), None);
        assert_eq!(le_u32(&[1, 0, 0, 0, 0]), None);
        assert_eq!(le_i64(&(-100i64).to_le_bytes()), Some(-100));
        assert_eq!(le_i32(&(-2i32).to_le_bytes()), Some(-2));
        assert_eq!(le_i16(&[0xff, 0xff]), Some(-1));
        assert_eq!(le_i8(&[0x80]), Some(-128));
        assert_eq!(le_uint(&[0xff, 0xff]), Some(0xffff));
        assert_eq!(le_int(&[0xff, 0xff]), Some(-1));
        assert_eq!(le_int(&(-3i32).to_le_bytes()), Some(-3));
        assert_eq!(le_uint(&[1, 2, 3]), None);
        assert_eq!(le_int(&[]), None);
        assert_eq!(le_u64(&[]), None);
    }

    #[test]
    fn strings_and_lists() {
        assert_eq!(charbuf(b"/etc/passwd\0"), Some(&b"/etc/passwd"[..]));
        assert_eq!(charbuf(b"abc"), Some(&b"abc"[..]));
        assert_eq!(charbuf(b"\0"), Some(&b""[..]));
        assert_eq!(charbuf(b""), None);
        assert_eq!(charbuf(b"\xffa\0junk"), Some(&b"\xffa"[..]));
        let items: Vec<&[u8]> = nul_list(b"ls\0-l\0\0/tmp\0").collect();
        assert_eq!(items, [&b"ls"[..], b"-l", b"", b"/tmp"]);
        assert_eq!(nul_list(b"a\0b").collect::<Vec<_>>(), [&b"a"[..], b"b"]);
        assert_eq!(nul_list(b"").count(), 0);
        assert_eq!(nul_list(b"\0").count(), 0);
    }

    #[test]
    fn socktuple_golden_bytes() {
        // 127.0.0.1:40556 -> 127.0.0.1:8080, ports little-endian (see the brief's §11.9).
        let p = [0x02, 0x7f, 0, 0, 1, 0x6c, 0x9e, 0x7f, 0, 0, 1, 0x90, 0x1f];
        assert_eq!(
            socktuple(&p),
            Some(SockTuple::Inet {
                src: "127.0.0.1:40556".parse().unwrap(),
                dst: "127.0.0.1:8080".parse().unwrap(),
            })
        );
        for cut in 0..p.len() {
            assert_eq!(socktuple(&p[..cut]), None, "cut {cut}");
        }
        let mut p6 = vec![PPM_AF_INET6];
        p6.extend(Ipv6Addr::LOCALHOST.octets());
        p6.extend(80u16.to_le_bytes());
        p6.extend(Ipv6Addr::UNSPECIFIED.octets());
        p6.extend(81u16.to_le_bytes());
        assert_eq!(
            socktuple(&p6),
            Some(SockTuple::Inet6 {
                src: "[::1]:80".parse().unwrap(),
                dst: "[::]:81".parse().unwrap(),
            })
        );
        assert_eq!(socktuple(&p6[..36]), None);
        let mut pu = vec![PPM_AF_UNIX];
        pu.extend(0x1111u64.to_le_bytes());
        pu.extend(0x2222u64.to_le_bytes());
        pu.extend(b"/run/sock\0");
        assert_eq!(
            socktuple(&pu),
            Some(SockTuple::Unix {
                source: 0x1111,
                dest: 0x2222,
                path: b"/run/sock"
            })
        );
        assert_eq!(socktuple(&pu[..16]), None);
        assert_eq!(
            socktuple(&[0, 1, 2]),
            Some(SockTuple::Other {
                family: 0,
                data: &[1, 2]
            })
        );
    }

    #[test]
    fn sockaddr_families() {
        let p = [PPM_AF_INET, 10, 0, 0, 1, 0x50, 0x00];
        assert_eq!(
            sockaddr(&p),
            Some(SockAddr::Inet("10.0.0.1:80".parse().unwrap()))
        );
        assert_eq!(sockaddr(&p[..6]), None);
        let mut p6 = vec![PPM_AF_INET6];
        p6.extend(Ipv6Addr::LOCALHOST.octets());
        p6.extend(443u16.to_le_bytes());
        assert_eq!(
            sockaddr(&p6),
            Some(SockAddr::Inet6("[::1]:443".parse().unwrap()))
        );
        assert_eq!(sockaddr(b"\x01/tmp/s\0"), Some(SockAddr::Unix(b"/tmp/s")));
        assert_eq!(sockaddr(b""), None);
        assert_eq!(sockaddr(&[PPM_AF_UNIX]), Some(SockAddr::Unix(b"")));
    }

    #[test]
    fn fd_lists() {
        let mut p = 2u16.to_le_bytes().to_vec();
        p.extend(3i64.to_le_bytes());
        p.extend(1u16.to_le_bytes());
        p.extend((-1i64).to_le_bytes());
        p.extend(4u16.to_le_bytes());
        let items: Vec<_> = fdlist(&p).unwrap().collect();
        assert_eq!(items, [(3, 1), (-1, 4)]);
        assert_eq!(fdlist(&p).unwrap().len(), 2);
        assert!(fdlist(&p[..p.len() - 1]).is_none());
        assert!(fdlist(&[1]).is_none());
        assert_eq!(fdlist(&[0, 0]).unwrap().count(), 0);
    }
}
