//! File descriptor list blocks: the fds each thread had open when the capture started.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::cursor::Cursor;
use super::meta::{BodyError, OrBad, PAST_END};

/// The fd table of one thread (one fd list block).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FdList {
    /// Thread id the fds belong to.
    pub tid: u64,
    /// The fds, in file order.
    pub fds: Vec<FdEntry>,
}

/// One open file descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FdEntry {
    /// The fd number.
    pub fd: i64,
    /// Inode number (0 if unknown).
    pub ino: u64,
    /// Raw `SCAP_FD_*` type code: 1 file, 2 directory, 3 IPv4 socket, 4 IPv6 socket,
    /// 5 IPv4 server socket, 6 IPv6 server socket, 7 fifo, 8 unix socket, 9 event,
    /// 10 unsupported, 11 signalfd, 12 eventpoll, 13 inotify, 14 timerfd, 15 netlink,
    /// 16 file (v2), 17 bpf, 18 userfaultfd, 19 io_uring, 20 memfd, 21 pidfd.
    pub fd_type: u8,
    /// Type-specific information.
    pub info: FdInfo,
}

/// Type-specific part of an [`FdEntry`]. Addresses are as captured (network order bytes);
/// ports are host values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FdInfo {
    /// Connected IPv4 socket (type 3).
    Ipv4Socket {
        /// Source address.
        sip: Ipv4Addr,
        /// Destination address.
        dip: Ipv4Addr,
        /// Source port.
        sport: u16,
        /// Destination port.
        dport: u16,
        /// L4 protocol: 0 unknown, 1 n/a, 2 TCP, 3 UDP, 4 ICMP, 5 raw.
        l4proto: u8,
    },
    /// Listening IPv4 socket (type 5).
    Ipv4Server {
        /// Bound address.
        ip: Ipv4Addr,
        /// Bound port.
        port: u16,
        /// L4 protocol.
        l4proto: u8,
    },
    /// Connected IPv6 socket (type 4).
    Ipv6Socket {
        /// Source address.
        sip: Ipv6Addr,
        /// Destination address.
        dip: Ipv6Addr,
        /// Source port.
        sport: u16,
        /// Destination port.
        dport: u16,
        /// L4 protocol.
        l4proto: u8,
    },
    /// Listening IPv6 socket (type 6).
    Ipv6Server {
        /// Bound address.
        ip: Ipv6Addr,
        /// Bound port.
        port: u16,
        /// L4 protocol.
        l4proto: u8,
    },
    /// Unix socket (type 8).
    UnixSocket {
        /// Kernel address of this end.
        source: u64,
        /// Kernel address of the peer.
        dest: u64,
        /// Socket path (raw bytes).
        name: Vec<u8>,
    },
    /// Regular file with open flags (type 16, "file v2").
    File {
        /// `PPM_O_*` open flags.
        open_flags: u32,
        /// Path (raw bytes).
        name: Vec<u8>,
        /// Device number, when the entry records it.
        dev: Option<u32>,
    },
    /// Any other known type that carries only a name (file, directory, fifo, event,
    /// signalfd, ...); see [`FdEntry::fd_type`].
    Named {
        /// Name or path (raw bytes).
        name: Vec<u8>,
    },
    /// Type 0 or a type this reader does not know: no payload was read.
    Unknown,
}

/// Parses an fd list body; `v2` entries carry their own length.
pub(crate) fn parse_fdlist(body: &[u8], v2: bool) -> Result<FdList, BodyError> {
    let mut c = Cursor::new(body);
    let tid = c.u64().or_bad(0, PAST_END)?;
    let mut fds = Vec::new();
    while c.remaining() >= 4 {
        fds.push(parse_entry(&mut c, v2)?);
    }
    Ok(FdList { tid, fds })
}

fn parse_entry(c: &mut Cursor<'_>, v2: bool) -> Result<FdEntry, BodyError> {
    let start = c.pos();
    let bad = |what| BodyError::new(start, what);
    let sub_len = if v2 { c.u32().ok_or(bad(PAST_END))? } else { 0 };
    let end = start
        .checked_add(sub_len as usize)
        .ok_or(bad("entry length overflows"))?;
    let mut body = || -> Option<FdEntry> {
        let fd = c.i64()?;
        let ino = c.u64()?;
        let fd_type = c.u8()?;
        let info = match fd_type {
            3 => FdInfo::Ipv4Socket {
                sip: Ipv4Addr::from(c.array::<4>()?),
                dip: Ipv4Addr::from(c.array::<4>()?),
                sport: c.u16()?,
                dport: c.u16()?,
                l4proto: c.u8()?,
            },
            5 => FdInfo::Ipv4Server {
                ip: Ipv4Addr::from(c.array::<4>()?),
                port: c.u16()?,
                l4proto: c.u8()?,
            },
            4 => FdInfo::Ipv6Socket {
                sip: Ipv6Addr::from(c.array::<16>()?),
                dip: Ipv6Addr::from(c.array::<16>()?),
                sport: c.u16()?,
                dport: c.u16()?,
                l4proto: c.u8()?,
            },
            6 => FdInfo::Ipv6Server {
                ip: Ipv6Addr::from(c.array::<16>()?),
                port: c.u16()?,
                l4proto: c.u8()?,
            },
            8 => FdInfo::UnixSocket {
                source: c.u64()?,
                dest: c.u64()?,
                name: c.str16()?.to_vec(),
            },
            16 => {
                let open_flags = c.u32()?;
                let name = c.str16()?.to_vec();
                let has_dev = sub_len != 0 && c.pos().checked_add(4).is_some_and(|e| e <= end);
                let dev = if has_dev { Some(c.u32()?) } else { None };
                FdInfo::File {
                    open_flags,
                    name,
                    dev,
                }
            }
            1 | 2 | 7 | 9..=15 | 17..=21 => FdInfo::Named {
                name: c.str16()?.to_vec(),
            },
            _ => FdInfo::Unknown,
        };
        Some(FdEntry {
            fd,
            ino,
            fd_type,
            info,
        })
    };
    let entry = body().ok_or(bad(PAST_END))?;
    if sub_len != 0 {
        if c.pos() > end {
            return Err(bad("entry is longer than its recorded length"));
        }
        c.seek(end).ok_or(bad(PAST_END))?;
    }
    Ok(entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(v2: bool, fd: i64, fd_type: u8, payload: &[u8]) -> Vec<u8> {
        let mut b = fd.to_le_bytes().to_vec();
        b.extend(42u64.to_le_bytes());
        b.push(fd_type);
        b.extend(payload);
        if v2 {
            let mut framed = ((b.len() + 4) as u32).to_le_bytes().to_vec();
            framed.extend(b);
            framed
        } else {
            b
        }
    }

    fn name(n: &[u8]) -> Vec<u8> {
        let mut b = (n.len() as u16).to_le_bytes().to_vec();
        b.extend(n);
        b
    }

    #[test]
    fn all_kinds_both_versions() {
        for v2 in [false, true] {
            let mut body = 77u64.to_le_bytes().to_vec();
            let mut v4 = vec![127, 0, 0, 1, 10, 0, 0, 2];
            v4.extend(40556u16.to_le_bytes());
            v4.extend(8080u16.to_le_bytes());
            v4.push(2);
            body.extend(entry(v2, 3, 3, &v4));
            let mut srv = vec![0, 0, 0, 0];
            srv.extend(80u16.to_le_bytes());
            srv.push(2);
            body.extend(entry(v2, 4, 5, &srv));
            let mut v6 = [0u8; 32].to_vec();
            v6[15] = 1;
            v6[31] = 1;
            v6.extend(1u16.to_le_bytes());
            v6.extend(2u16.to_le_bytes());
            v6.push(3);
            body.extend(entry(v2, 5, 4, &v6));
            let mut v6s = [0u8; 16].to_vec();
            v6s.extend(443u16.to_le_bytes());
            v6s.push(2);
            body.extend(entry(v2, 6, 6, &v6s));
            let mut unix = 1u64.to_le_bytes().to_vec();
            unix.extend(2u64.to_le_bytes());
            unix.extend(name(b"/run/x.sock"));
            body.extend(entry(v2, 7, 8, &unix));
            let mut file = 4097u32.to_le_bytes().to_vec();
            file.extend(name(b"/etc/\xffpasswd"));
            if v2 {
                file.extend(2049u32.to_le_bytes());
            }
            body.extend(entry(v2, 8, 16, &file));
            body.extend(entry(v2, 9, 2, &name(b"/tmp")));
            body.extend(entry(v2, 10, 0, &[]));
            body.extend([0, 0]); // padding

            let list = parse_fdlist(&body, v2).unwrap();
            assert_eq!(list.tid, 77);
            let infos: Vec<_> = list
                .fds
                .iter()
                .map(|e| (e.fd, e.fd_type, e.info.clone()))
                .collect();
            assert_eq!(
                infos,
                vec![
                    (
                        3,
                        3,
                        FdInfo::Ipv4Socket {
                            sip: Ipv4Addr::LOCALHOST,
                            dip: Ipv4Addr::new(10, 0, 0, 2),
                            sport: 40556,
                            dport: 8080,
                            l4proto: 2
                        }
                    ),
                    (
                        4,
                        5,
                        FdInfo::Ipv4Server {
                            ip: Ipv4Addr::UNSPECIFIED,
                            port: 80,
                            l4proto: 2
                        }
                    ),
                    (
                        5,
                        4,
                        FdInfo::Ipv6Socket {
                            sip: Ipv6Addr::LOCALHOST,
                            dip: Ipv6Addr::LOCALHOST,
                            sport: 1,
                            dport: 2,
                            l4proto: 3
                        }
                    ),
                    (
                        6,
                        6,
                        FdInfo::Ipv6Server {
                            ip: Ipv6Addr::UNSPECIFIED,
                            port: 443,
                            l4proto: 2
                        }
                    ),
                    (
                        7,
                        8,
                        FdInfo::UnixSocket {
                            source: 1,
                            dest: 2,
                            name: b"/run/x.sock".to_vec()
                        }
                    ),
                    (
                        8,
                        16,
                        FdInfo::File {
                            open_flags: 4097,
                            name: b"/etc/\xffpasswd".to_vec(),
                            dev: v2.then_some(2049)
                        }
                    ),
                    (
                        9,
                        2,
                        FdInfo::Named {
                            name: b"/tmp".to_vec()
                        }
                    ),
                    (10, 0, FdInfo::Unknown),
                ],
                "v2={v2}"
            );
            for cut in 8..body.len() - 6 {
                // Truncations either fail or (at an entry boundary) parse fewer entries.
                if let Ok(l) = parse_fdlist(&body[..cut], v2) {
                    assert!(l.fds.len() < 8);
                }
            }
        }
    }

    #[test]
    fn v2_skips_unknown_trailing_bytes() {
        let mut e = entry(true, 1, 1, &{
            let mut p = name(b"/a");
            p.extend([9, 9, 9]);
            p
        });
        // entry() counted the extra bytes in the length; they must be skipped.
        let mut body = 1u64.to_le_bytes().to_vec();
        body.append(&mut e);
        body.extend(entry(true, 2, 1, &name(b"/b")));
        let list = parse_fdlist(&body, true).unwrap();
        assert_eq!(list.fds.len(), 2);
        assert_eq!(
            list.fds[1].info,
            FdInfo::Named {
                name: b"/b".to_vec()
            }
        );
    }
}
