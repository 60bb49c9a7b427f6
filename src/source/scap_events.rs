//! Turns a scap capture into [`SysEvent`]s: pairs each exit with its enter event the way
//! the capture library does, picks parameters by event version, and converts the
//! capture's process list into the state's initial snapshot.

use super::scap::{ProcEntry, RawEvent, ScapError, ScapItem, ScapMetadata, ScapReader};
use crate::event::*;
use crate::state::{AT_FDCWD, FdInfo, FdKind, Ipv4Iface, ProcSnapshot, State, unix_tuple_name};
use rustc_hash::FxHashMap as HashMap;
use std::io::Read;

/// Event types (scap `PPME_*` numbers) this converter knows.
#[allow(missing_docs)]
pub mod ty {
    pub const OPEN_E: u16 = 2;
    pub const OPEN_X: u16 = 3;
    pub const CLOSE_X: u16 = 5;
    pub const READ_X: u16 = 7;
    pub const WRITE_X: u16 = 9;
    pub const EXECVE_8_X: u16 = 13;
    pub const CLONE_11_X: u16 = 15;
    pub const PROCEXIT_E: u16 = 16;
    pub const SOCKET_E: u16 = 18;
    pub const SOCKET_X: u16 = 19;
    pub const BIND_X: u16 = 21;
    pub const CONNECT_E: u16 = 22;
    pub const CONNECT_X: u16 = 23;
    pub const ACCEPT_X: u16 = 27;
    pub const SEND_X: u16 = 29;
    pub const SENDTO_E: u16 = 30;
    pub const SENDTO_X: u16 = 31;
    pub const RECV_X: u16 = 33;
    pub const RECVFROM_X: u16 = 35;
    pub const SHUTDOWN_X: u16 = 37;
    pub const SOCKETPAIR_X: u16 = 43;
    pub const SENDMSG_E: u16 = 48;
    pub const SENDMSG_X: u16 = 49;
    pub const SENDMMSG_X: u16 = 51;
    pub const RECVMSG_X: u16 = 53;
    pub const RECVMMSG_X: u16 = 55;
    pub const ACCEPT4_X: u16 = 57;
    pub const CREAT_E: u16 = 58;
    pub const CREAT_X: u16 = 59;
    pub const PIPE_X: u16 = 61;
    pub const GETCWD_X: u16 = 93;
    pub const CHDIR_X: u16 = 95;
    pub const FCHDIR_X: u16 = 97;
    pub const MKDIR_E: u16 = 98;
    pub const MKDIR_X: u16 = 99;
    pub const RMDIR_E: u16 = 100;
    pub const RMDIR_X: u16 = 101;
    pub const OPENAT_E: u16 = 102;
    pub const OPENAT_X: u16 = 103;
    pub const LINK_E: u16 = 104;
    pub const LINK_X: u16 = 105;
    pub const LINKAT_E: u16 = 106;
    pub const LINKAT_X: u16 = 107;
    pub const UNLINK_E: u16 = 108;
    pub const UNLINK_X: u16 = 109;
    pub const UNLINKAT_E: u16 = 110;
    pub const UNLINKAT_X: u16 = 111;
    pub const PREAD_X: u16 = 113;
    pub const PWRITE_X: u16 = 115;
    pub const READV_X: u16 = 117;
    pub const WRITEV_X: u16 = 119;
    pub const PREADV_X: u16 = 121;
    pub const PWRITEV_X: u16 = 123;
    pub const DUP_X: u16 = 125;
    pub const TIMERFD_CREATE_X: u16 = 137;
    pub const FCNTL_E: u16 = 150;
    pub const FCNTL_X: u16 = 151;
    pub const SCHEDSWITCH_6_E: u16 = 152;
    pub const EXECVE_13_X: u16 = 155;
    pub const CLONE_16_X: u16 = 157;
    pub const MMAP_E: u16 = 160;
    pub const MMAP2_E: u16 = 162;
    pub const EXECVE_14_X: u16 = 173;
    pub const RENAME_X: u16 = 175;
    pub const RENAMEAT_X: u16 = 177;
    pub const SYMLINK_X: u16 = 179;
    pub const SYMLINKAT_X: u16 = 181;
    pub const FORK_X: u16 = 183;
    pub const VFORK_X: u16 = 185;
    pub const PROCEXIT_1_E: u16 = 186;
    pub const SETRESUID_E: u16 = 192;
    pub const SETRESUID_X: u16 = 193;
    pub const SETRESGID_E: u16 = 194;
    pub const SETRESGID_X: u16 = 195;
    pub const SETUID_E: u16 = 198;
    pub const SETUID_X: u16 = 199;
    pub const SETGID_E: u16 = 200;
    pub const SETGID_X: u16 = 201;
    pub const EXECVE_15_X: u16 = 215;
    pub const CLONE_17_X: u16 = 217;
    pub const FORK_17_X: u16 = 219;
    pub const VFORK_17_X: u16 = 221;
    pub const CLONE_20_X: u16 = 223;
    pub const FORK_20_X: u16 = 225;
    pub const VFORK_20_X: u16 = 227;
    pub const EXECVE_16_X: u16 = 231;
    pub const PROCINFO_E: u16 = 234;
    pub const SETNS_X: u16 = 241;
    pub const ACCEPT_5_X: u16 = 247;
    pub const ACCEPT4_5_X: u16 = 249;
    pub const CONTAINER_JSON_E: u16 = 272;
    pub const MKDIR_2_X: u16 = 277;
    pub const RMDIR_2_X: u16 = 279;
    pub const EXECVE_17_X: u16 = 283;
    pub const EXECVE_18_E: u16 = 288;
    pub const EXECVE_18_X: u16 = 289;
    pub const EXECVE_19_E: u16 = 292;
    pub const EXECVE_19_X: u16 = 293;
    pub const UNLINK_2_X: u16 = 301;
    pub const UNLINKAT_2_X: u16 = 303;
    pub const MKDIRAT_X: u16 = 305;
    pub const OPENAT_2_E: u16 = 306;
    pub const OPENAT_2_X: u16 = 307;
    pub const LINK_2_X: u16 = 309;
    pub const LINKAT_2_X: u16 = 311;
    pub const RENAMEAT2_X: u16 = 319;
    pub const CONTAINER_JSON_2_E: u16 = 324;
    pub const OPENAT2_E: u16 = 326;
    pub const OPENAT2_X: u16 = 327;
    pub const EXECVEAT_E: u16 = 330;
    pub const EXECVEAT_X: u16 = 331;
    pub const CLONE3_X: u16 = 335;
    pub const USER_ADDED_E: u16 = 354;
    pub const GROUP_ADDED_E: u16 = 358;
    pub const DUP2_X: u16 = 363;
    pub const DUP3_X: u16 = 365;
    pub const DUP_1_X: u16 = 367;
    pub const ACCEPT4_6_X: u16 = 389;
    pub const PIPE2_X: u16 = 393;
    pub const SETREUID_X: u16 = 427;
    pub const SETREGID_X: u16 = 429;
}

/// Enter events whose `fd` parameter the exit refers to (`EF_USES_FD`), with its index.
fn enter_fd_index(t: u16) -> Option<usize> {
    match t {
        // close, read, write, bind, connect, listen, send, sendto, recv, recvfrom,
        // shutdown, sendmsg, recvmsg, pread, pwrite, readv, writev, preadv, pwritev, dup,
        // fchdir, fcntl, setns, dup2, dup3, dup_1, fstat, lseek, ioctl.
        4 | 6 | 8 | 20 | 22 | 24 | 28 | 30 | 32 | 34 | 36 | 48 | 52 | 112 | 114 | 116 | 118
        | 120 | 122 | 124 | 96 | 150 | 240 | 362 | 364 | 366 | 70 | 86 | 170 => Some(0),
        ty::MMAP_E | ty::MMAP2_E => Some(4),
        _ => None,
    }
}

/// Enter events whose parameters the exit needs.
fn stores_params(t: u16) -> bool {
    matches!(
        t,
        ty::OPEN_E
            | ty::CREAT_E
            | ty::OPENAT_E
            | ty::OPENAT_2_E
            | ty::OPENAT2_E
            | ty::SOCKET_E
            | ty::SENDTO_E
            | ty::SENDMSG_E
            | ty::SETRESUID_E
            | ty::SETRESGID_E
            | ty::SETUID_E
            | ty::SETGID_E
            | ty::EXECVE_18_E
            | ty::EXECVE_19_E
            | ty::EXECVEAT_E
            | ty::FCNTL_E
            | ty::MKDIR_E
            | ty::RMDIR_E
            | ty::LINK_E
            | ty::LINKAT_E
            | ty::UNLINK_E
            | ty::UNLINKAT_E
    )
}

/// Events that never touch the per-thread enter bookkeeping (`EF_SKIPPARSERESET`).
fn skips_reset(t: u16) -> bool {
    matches!(
        t,
        146..=149
            | ty::SCHEDSWITCH_6_E
            | 196
            | 228
            | ty::PROCINFO_E
            | 244
            | 260
            | 270
            | 280
            | 286
            | 290
    )
}

/// The last enter event of a thread.
#[derive(Default)]
struct Enter {
    etype: u16,
    fd: i64,
    stored: bool,
    data: Vec<u8>,
    offs: Vec<(u32, u32)>,
}

impl Enter {
    fn param(&self, i: usize) -> Option<&[u8]> {
        if !self.stored {
            return None;
        }
        let (a, b) = *self.offs.get(i)?;
        self.data.get(a as usize..b as usize)
    }
}

// ---------------------------------------------------------------------------------------
// Parameter decoding

fn u16p(p: Option<&[u8]>) -> Option<u16> {
    Some(u16::from_le_bytes(p?.get(..2)?.try_into().ok()?))
}
fn u32p(p: Option<&[u8]>) -> Option<u32> {
    Some(u32::from_le_bytes(p?.get(..4)?.try_into().ok()?))
}
fn u64p(p: Option<&[u8]>) -> Option<u64> {
    Some(u64::from_le_bytes(p?.get(..8)?.try_into().ok()?))
}
fn i64p(p: Option<&[u8]>) -> Option<i64> {
    u64p(p).map(|v| v as i64)
}
/// A signed value of whatever width the parameter has.
fn intp(p: Option<&[u8]>) -> Option<i64> {
    let p = p?;
    Some(match p.len() {
        1 => i64::from(p[0] as i8),
        2 => i64::from(i16::from_le_bytes([p[0], p[1]])),
        4 => i64::from(i32::from_le_bytes(p[..4].try_into().ok()?)),
        8 => i64::from_le_bytes(p[..8].try_into().ok()?),
        _ => return None,
    })
}

/// A string parameter as the capture library presents it: bytes up to the NUL, with an
/// empty or `(NULL)` value shown as `<NA>`.
fn strp(p: Option<&[u8]>) -> &[u8] {
    let Some(p) = p else { return b"<NA>" };
    let s = crate::state::cstr(p);
    if p.is_empty() || s == b"(NULL)" {
        b"<NA>"
    } else {
        s
    }
}

/// A string parameter that may be absent (`None`).
fn opt_str(p: Option<&[u8]>) -> Option<&[u8]> {
    p.map(|_| strp(p))
}

fn sockaddr(p: Option<&[u8]>) -> Option<SockAddr<'_>> {
    let p = p?;
    match *p.first()? {
        2 => {
            let ip: [u8; 4] = p.get(1..5)?.try_into().ok()?;
            let port = u16::from_le_bytes(p.get(5..7)?.try_into().ok()?);
            Some(SockAddr::V4(ip, port))
        }
        10 => {
            let ip: [u8; 16] = p.get(1..17)?.try_into().ok()?;
            let port = u16::from_le_bytes(p.get(17..19)?.try_into().ok()?);
            Some(SockAddr::V6(ip, port))
        }
        1 => Some(SockAddr::Unix(crate::state::cstr(p.get(1..)?))),
        _ => None,
    }
}

fn socktuple(p: Option<&[u8]>) -> Option<SockTuple<'_>> {
    let p = p?;
    match *p.first()? {
        2 => Some(SockTuple::V4 {
            sip: p.get(1..5)?.try_into().ok()?,
            sport: u16::from_le_bytes(p.get(5..7)?.try_into().ok()?),
            dip: p.get(7..11)?.try_into().ok()?,
            dport: u16::from_le_bytes(p.get(11..13)?.try_into().ok()?),
        }),
        10 => Some(SockTuple::V6 {
            sip: p.get(1..17)?.try_into().ok()?,
            sport: u16::from_le_bytes(p.get(17..19)?.try_into().ok()?),
            dip: p.get(19..35)?.try_into().ok()?,
            dport: u16::from_le_bytes(p.get(35..37)?.try_into().ok()?),
        }),
        1 => Some(SockTuple::Unix {
            source: u64::from_le_bytes(p.get(1..9)?.try_into().ok()?),
            dest: u64::from_le_bytes(p.get(9..17)?.try_into().ok()?),
            path: crate::state::cstr(p.get(17..)?),
        }),
        _ => None,
    }
}

/// Where the clone exit's version-dependent parameters are.
struct CloneLayout {
    flags: usize,
    uid: usize,
    comm: Option<usize>,
    cgroups: Option<usize>,
    vids: Option<(usize, usize)>,
}

fn clone_layout(t: u16) -> Option<CloneLayout> {
    let l = |flags, comm, cgroups, vids| CloneLayout {
        flags,
        uid: flags + 1,
        comm,
        cgroups,
        vids,
    };
    Some(match t {
        ty::CLONE_11_X => l(8, None, None, None),
        ty::CLONE_16_X | ty::FORK_X | ty::VFORK_X => l(13, None, None, None),
        ty::CLONE_17_X | ty::FORK_17_X | ty::VFORK_17_X => l(14, Some(13), None, None),
        ty::CLONE_20_X | ty::FORK_20_X | ty::VFORK_20_X | ty::CLONE3_X => {
            l(15, Some(13), Some(14), Some((18, 19)))
        }
        _ => return None,
    })
}

fn is_execve_exit(t: u16) -> bool {
    matches!(
        t,
        ty::EXECVE_8_X
            | ty::EXECVE_13_X
            | ty::EXECVE_14_X
            | ty::EXECVE_15_X
            | ty::EXECVE_16_X
            | ty::EXECVE_17_X
            | ty::EXECVE_18_X
            | ty::EXECVE_19_X
            | ty::EXECVEAT_X
    )
}

/// Converts a capture's process entry and its fds into a state snapshot.
pub fn snapshot_of(p: &ProcEntry, meta: &ScapMetadata) -> ProcSnapshot {
    use super::scap::FdInfo as F;
    let mut fds = Vec::new();
    for e in meta.fds_of(p.tid) {
        let kind = FdKind::from_scap(e.fd_type);
        let mut i = FdInfo::new(kind, Vec::new());
        i.ino = e.ino;
        match &e.info {
            F::Ipv4Socket {
                sip,
                dip,
                sport,
                dport,
                l4proto,
            } => {
                i.v4.sip = sip.octets();
                i.v4.dip = dip.octets();
                i.v4.sport = *sport;
                i.v4.dport = *dport;
                i.l4proto = *l4proto;
                i.name = format!("{sip}:{sport}->{dip}:{dport}").into_bytes();
            }
            F::Ipv4Server { ip, port, l4proto } => {
                i.serv_ip = ip.octets();
                i.serv_port = *port;
                i.l4proto = *l4proto;
                i.name = format!("{ip}:{port}").into_bytes();
            }
            F::Ipv6Socket {
                sip,
                dip,
                sport,
                dport,
                l4proto,
            } => {
                if let (Some(s), Some(d)) = (sip.to_ipv4_mapped(), dip.to_ipv4_mapped()) {
                    i.kind = FdKind::Ipv4Sock;
                    i.v4.sip = s.octets();
                    i.v4.dip = d.octets();
                    i.v4.sport = *sport;
                    i.v4.dport = *dport;
                } else {
                    i.v6.sip = sip.octets();
                    i.v6.dip = dip.octets();
                    i.v6.sport = *sport;
                    i.v6.dport = *dport;
                }
                i.l4proto = *l4proto;
                i.name = format!("{sip}:{sport}->{dip}:{dport}").into_bytes();
            }
            F::Ipv6Server { ip, port, l4proto } => {
                i.serv_port = *port;
                i.l4proto = *l4proto;
                i.name = format!("{ip}:{port}").into_bytes();
            }
            F::UnixSocket { source, dest, name } => {
                i.unix_source = *source;
                i.unix_dest = *dest;
                i.name = name.clone();
                i.role = if name.is_empty() {
                    crate::state::Role::Client
                } else {
                    crate::state::Role::Server
                };
            }
            F::File {
                open_flags, name, ..
            } => {
                i.openflags = *open_flags;
                i.name = name.clone();
            }
            F::Named { name } => i.name = name.clone(),
            F::Unknown => {}
        }
        fds.push((e.fd, i));
    }
    let pi = |v: u64| v as i64;
    ProcSnapshot {
        tid: pi(p.tid),
        pid: pi(p.pid),
        ptid: pi(p.ptid),
        vtid: p.vtid.unwrap_or(pi(p.tid)),
        vpid: p.vpid.unwrap_or(pi(p.pid)),
        comm: p.comm.clone(),
        exe: p.exe.clone(),
        exepath: p.exepath.clone().unwrap_or_default(),
        args: p.args.clone(),
        cwd: p.cwd.clone(),
        env: p.env.clone(),
        uid: p.uid,
        gid: p.gid,
        loginuid: p.loginuid.unwrap_or(u32::MAX),
        tty: p.tty.unwrap_or(0),
        flags: p.flags,
        clone_ts: 0,
        cgroups: p.cgroups.clone(),
        fds,
    }
}

/// Builds the initial state from a capture's metadata.
pub fn initial_state(meta: &ScapMetadata) -> State {
    let mut st = State::new();
    if let Some(m) = &meta.machine {
        st.hostname = String::from_utf8_lossy(&m.hostname).into_owned();
    }
    for u in &meta.users {
        st.users.add_user(
            b"",
            crate::state::UserInfo {
                uid: u.uid,
                gid: u.gid,
                name: u.name.clone(),
                home: u.homedir.clone(),
                shell: u.shell.clone(),
            },
        );
    }
    for g in &meta.groups {
        st.users.add_group(b"", g.gid, &g.name);
    }
    for i in &meta.interfaces {
        match &i.addr {
            super::scap::InterfaceAddr::V4 { addr, netmask, .. } => {
                st.ipv4_ifaces.push(Ipv4Iface {
                    addr: addr.octets(),
                    netmask: netmask.octets(),
                })
            }
            super::scap::InterfaceAddr::V6 { addr, .. } => st.ipv6_addrs.push(addr.octets()),
        }
    }
    for p in &meta.processes {
        st.load_snapshot(&snapshot_of(p, meta));
    }
    st.finish_snapshot();
    st
}

/// One item from the capture: an event, or the start of a new section.
#[allow(clippy::large_enum_variant)]
pub enum Item<'a> {
    /// A converted event, with what the capture says of it beyond its kind.
    Event(SysEvent<'a>, ScapOrigin<'a>),
    /// A concatenated capture started a new section: rebuild the state from
    /// [`ScapEvents::metadata`].
    NewSection,
}

/// What a capture says about an event beyond its [`SysEvent`]: for the filter's `evt.*`
/// fields (type, direction, parameters) and the fd of events the model does not keep.
#[derive(Clone, Copy, Debug)]
pub struct ScapOrigin<'a> {
    /// The event's number in the scap event table (`PPME_*`): type and direction.
    pub code: u16,
    /// Its raw parameters, in the event table's order.
    pub params: super::scap::Params<'a>,
    /// The fd it is about: an enter event's fd parameter, or for an exit event the fd of
    /// its enter event.
    pub fd: Option<i64>,
    /// A capture-library metadata event (users and groups of the capture) rather than a
    /// syscall or a process's event: it does not count in the event numbers (`evt.num`).
    pub metadata: bool,
}

/// Reads a capture and yields [`SysEvent`]s.
pub struct ScapEvents<R: Read> {
    reader: ScapReader<R>,
    enters: HashMap<u64, Enter>,
    /// Number of raw events read.
    pub raw_events: u64,
}

impl<R: Read> ScapEvents<R> {
    /// Wraps an opened reader.
    pub fn new(reader: ScapReader<R>) -> Self {
        Self {
            reader,
            enters: HashMap::default(),
            raw_events: 0,
        }
    }

    /// The capture's metadata (of the current section).
    pub fn metadata(&self) -> &ScapMetadata {
        self.reader.metadata()
    }

    /// Byte position in the (decompressed) capture.
    pub fn position(&self) -> u64 {
        self.reader.position()
    }

    /// The next event, or `None` at the end of the capture.
    pub fn next_item(&mut self) -> Result<Option<Item<'_>>, ScapError> {
        let Self {
            reader,
            enters,
            raw_events,
        } = self;
        let ev = match reader.next_item()? {
            None => return Ok(None),
            Some(ScapItem::NewSection) => {
                enters.clear();
                return Ok(Some(Item::NewSection));
            }
            Some(ScapItem::Event(ev)) => ev,
        };
        *raw_events += 1;
        let code = ev.event_type;
        let fd = if code % 2 == 0 {
            enter_fd_index(code)
                .or_else(|| crate::filter::state_fields::fd_param_index(code))
                .and_then(|i| i64p(ev.param(i)))
        } else {
            enters
                .get(&ev.tid)
                .filter(|e| e.etype + 1 == code && e.fd >= 0)
                .map(|e| e.fd)
        };
        let origin = ScapOrigin {
            code,
            params: ev.params,
            fd,
            // useradded, userdeleted, groupadded, groupdeleted
            metadata: matches!(code, 354..=361),
        };
        Ok(Some(Item::Event(convert(&ev, enters), origin)))
    }
}

/// Records an enter event for its thread.
fn note_enter(ev: &RawEvent<'_>, enters: &mut HashMap<u64, Enter>) {
    let t = ev.event_type;
    let e = enters.entry(ev.tid).or_default();
    e.etype = t;
    // the filter's fd.* fields also need the fd of calls SysFlow does not model
    e.fd = match enter_fd_index(t).or_else(|| crate::filter::state_fields::fd_param_index(t)) {
        Some(i) => i64p(ev.param(i)).unwrap_or(-1),
        None => -1,
    };
    if stores_params(t) {
        e.stored = true;
        e.data.clear();
        e.offs.clear();
        for i in 0..ev.nparams() {
            let p = ev.param(i).unwrap_or_default();
            let a = e.data.len() as u32;
            e.data.extend_from_slice(p);
            e.offs.push((a, e.data.len() as u32));
        }
    }
}

fn convert<'a>(ev: &RawEvent<'a>, enters: &'a mut HashMap<u64, Enter>) -> SysEvent<'a> {
    let t = ev.event_type;
    let tid = ev.tid as i64;
    let p = |i: usize| ev.param(i);
    let mk = |kind| SysEvent {
        ts: ev.ts,
        tid,
        pid: -1,
        kind,
    };
    // Metadata events.
    match t {
        ty::CONTAINER_JSON_E | ty::CONTAINER_JSON_2_E => {
            return SysEvent {
                ts: ev.ts,
                tid: -1,
                pid: -1,
                kind: EventKind::ContainerJson(crate::state::cstr(p(0).unwrap_or_default())),
            };
        }
        ty::USER_ADDED_E => {
            return SysEvent {
                ts: ev.ts,
                tid: -1,
                pid: -1,
                kind: EventKind::UserAdded {
                    uid: u32p(p(0)).unwrap_or(u32::MAX),
                    gid: u32p(p(1)).unwrap_or(u32::MAX),
                    name: crate::state::cstr(p(2).unwrap_or_default()),
                    home: crate::state::cstr(p(3).unwrap_or_default()),
                    shell: crate::state::cstr(p(4).unwrap_or_default()),
                    container_id: crate::state::cstr(p(5).unwrap_or_default()),
                },
            };
        }
        ty::GROUP_ADDED_E => {
            return SysEvent {
                ts: ev.ts,
                tid: -1,
                pid: -1,
                kind: EventKind::GroupAdded {
                    gid: u32p(p(0)).unwrap_or(u32::MAX),
                    name: crate::state::cstr(p(1).unwrap_or_default()),
                    container_id: crate::state::cstr(p(2).unwrap_or_default()),
                },
            };
        }
        _ => {}
    }
    if skips_reset(t) {
        return mk(EventKind::Other);
    }
    // Enter events: bookkeeping, plus the few with effects of their own.
    if t % 2 == 0 {
        note_enter(ev, enters);
        return mk(match t {
            ty::PROCEXIT_1_E | ty::PROCEXIT_E => EventKind::Exit {
                status: intp(p(0)).unwrap_or(-1),
                reaper: if ev.nparams() > 4 { i64p(p(4)) } else { None },
            },
            ty::MMAP_E | ty::MMAP2_E => EventKind::Mmap {
                fd: i64p(p(4)),
                fd_arg: i64p(p(4)).unwrap_or(-1),
                flags: u32p(p(3)).unwrap_or(0),
            },
            ty::CONNECT_E => match i64p(p(0)) {
                Some(fd) => EventKind::ConnectEnter {
                    fd,
                    addr: if ev.nparams() >= 2 {
                        sockaddr(p(1))
                    } else {
                        None
                    },
                },
                None => EventKind::Other,
            },
            _ => EventKind::Other,
        });
    }
    // Exit events: paired with the thread's last enter?
    let enter = enters.get(&ev.tid);
    let paired = enter.is_some_and(|e| {
        e.etype + 1 == t
            || (matches!(t, ty::EXECVE_18_X | ty::EXECVE_19_X) && e.etype == ty::EXECVEAT_E)
    });
    let enter = if paired { enter } else { None };
    let efd = enter.map(|e| e.fd);
    let ep = |i: usize| enter.and_then(|e| (e.etype + 1 == t).then(|| e.param(i)).flatten());
    let res = intp(p(0)).unwrap_or(-1);
    let kind = match t {
        ty::OPEN_X => {
            let mut name = strp(p(1));
            let mut flags = u32p(p(2)).unwrap_or(0);
            if enter.is_some_and(|e| e.offs.len() >= 2) {
                let en = strp(ep(0));
                if en != b"<NA>" {
                    name = en;
                    flags = u32p(ep(1)).unwrap_or(0) | (flags & !((1 << 14) - 1));
                }
            }
            EventKind::Open(OpenEvent {
                kind: OpenKind::Open,
                fd: res,
                dirfd: None,
                path: Some(name),
                kernel_path: None,
                flags,
            })
        }
        ty::CREAT_X => {
            let mut name = strp(p(1));
            if enter.is_some_and(|e| !e.offs.is_empty()) {
                let en = strp(ep(0));
                if en != b"<NA>" {
                    name = en;
                }
            }
            let mut flags = 0;
            if ev.nparams() > 5 {
                let cf = u16p(p(5)).unwrap_or(0);
                if cf & 1 != 0 {
                    flags |= 1 << 15;
                } else if cf & 2 != 0 {
                    flags |= 1 << 16;
                }
            }
            EventKind::Open(OpenEvent {
                kind: OpenKind::Creat,
                fd: res,
                dirfd: None,
                path: Some(name),
                kernel_path: None,
                flags,
            })
        }
        ty::OPENAT_X => EventKind::Open(OpenEvent {
            kind: OpenKind::OpenAt,
            fd: res,
            dirfd: i64p(ep(0)),
            path: Some(strp(ep(1))),
            kernel_path: None,
            flags: u32p(ep(2)).unwrap_or(0),
        }),
        ty::OPENAT_2_X | ty::OPENAT2_X => {
            let mut name = strp(p(2));
            let mut flags = u32p(p(3)).unwrap_or(0);
            let mut dirfd = i64p(p(1));
            if enter.is_some_and(|e| e.offs.len() >= 3) {
                let en = strp(ep(1));
                if en != b"<NA>" {
                    name = en;
                    flags = u32p(ep(2)).unwrap_or(0) | (flags & !((1 << 14) - 1));
                    dirfd = i64p(ep(0));
                }
            }
            EventKind::Open(OpenEvent {
                kind: if t == ty::OPENAT2_X {
                    OpenKind::OpenAt2
                } else {
                    OpenKind::OpenAt
                },
                fd: res,
                dirfd,
                path: Some(name),
                kernel_path: None,
                flags,
            })
        }
        ty::TIMERFD_CREATE_X => EventKind::Open(OpenEvent {
            kind: OpenKind::Other,
            fd: res,
            dirfd: None,
            path: None,
            kernel_path: None,
            flags: 0,
        }),
        ty::CLOSE_X => EventKind::Close { fd: efd, res },
        ty::READ_X | ty::PREAD_X | ty::READV_X | ty::PREADV_X | ty::RECV_X => {
            EventKind::Io(IoEvent {
                dir: IoDir::Read,
                fd: efd,
                res,
                tuple: None,
            })
        }
        ty::RECVFROM_X | ty::RECVMSG_X => EventKind::Io(IoEvent {
            dir: IoDir::Read,
            fd: efd,
            res,
            tuple: socktuple(p(if t == ty::RECVFROM_X { 2 } else { 3 })),
        }),
        ty::RECVMMSG_X | ty::SENDMMSG_X => EventKind::Other,
        ty::WRITE_X | ty::PWRITE_X | ty::WRITEV_X | ty::PWRITEV_X | ty::SEND_X => {
            EventKind::Io(IoEvent {
                dir: IoDir::Write,
                fd: efd,
                res,
                tuple: None,
            })
        }
        ty::SENDTO_X | ty::SENDMSG_X => EventKind::Io(IoEvent {
            dir: IoDir::Write,
            fd: efd,
            res,
            tuple: socktuple(ep(2)),
        }),
        ty::SHUTDOWN_X => EventKind::Shutdown { fd: efd, res },
        ty::SETNS_X => EventKind::Setns { fd: efd, res },
        ty::CONNECT_X => EventKind::Connect {
            fd: efd,
            exit_fd: if ev.nparams() > 2 { i64p(p(2)) } else { None },
            res,
            tuple: p(1)
                .filter(|b| !b.is_empty())
                .and_then(|b| socktuple(Some(b))),
            tuple_from_socket: false,
        },
        ty::ACCEPT_X | ty::ACCEPT4_X | ty::ACCEPT_5_X | ty::ACCEPT4_5_X | ty::ACCEPT4_6_X => {
            EventKind::Accept {
                fd: res,
                tuple: socktuple(p(1)),
            }
        }
        ty::SOCKET_X => match enter.filter(|e| e.offs.len() >= 3) {
            Some(_) => EventKind::Socket {
                fd: res,
                domain: u32p(ep(0)).unwrap_or(0),
                sock_type: u32p(ep(1)).unwrap_or(0),
                proto: u32p(ep(2)).unwrap_or(0),
            },
            None => EventKind::Other,
        },
        ty::SOCKETPAIR_X => EventKind::Socketpair {
            res,
            fd1: i64p(p(1)).unwrap_or(-1),
            fd2: i64p(p(2)).unwrap_or(-1),
            source: u64p(p(3)).unwrap_or(0),
            peer: u64p(p(4)).unwrap_or(0),
        },
        ty::BIND_X => EventKind::Bind {
            fd: efd,
            res,
            addr: sockaddr(p(1)),
            bound_v4: None,
        },
        ty::PIPE_X | ty::PIPE2_X => EventKind::Pipe {
            res,
            fd1: i64p(p(1)).unwrap_or(-1),
            fd2: i64p(p(2)).unwrap_or(-1),
            ino: u64p(p(3)).unwrap_or(0),
        },
        ty::DUP_X | ty::DUP_1_X | ty::DUP2_X | ty::DUP3_X => EventKind::Dup {
            res,
            oldfd: efd,
            kernel_path: None,
        },
        ty::FCNTL_X => {
            let cmd = ep(1).and_then(|b| b.first().copied());
            if matches!(cmd, Some(1) | Some(26)) {
                EventKind::Dup {
                    res,
                    oldfd: efd,
                    kernel_path: None,
                }
            } else {
                EventKind::Other
            }
        }
        // getcwd tells the current directory: the state treats it like a chdir.
        ty::CHDIR_X | ty::GETCWD_X => EventKind::Chdir {
            res,
            path: Some(strp(p(1))),
        },
        ty::FCHDIR_X => EventKind::Fchdir { fd: efd, res },
        ty::SETUID_X => EventKind::SetIds {
            res,
            change: u32p(ep(0)).map(IdChange::SetUid),
        },
        ty::SETGID_X => EventKind::SetIds {
            res,
            change: u32p(ep(0)).map(IdChange::SetGid),
        },
        ty::SETRESUID_X => EventKind::SetIds {
            res,
            change: match (u32p(ep(0)), u32p(ep(1)), u32p(ep(2))) {
                (Some(r), Some(e), Some(s)) => Some(IdChange::SetResuid(r, e, s)),
                _ => None,
            },
        },
        ty::SETRESGID_X => EventKind::SetIds {
            res,
            change: match (u32p(ep(0)), u32p(ep(1)), u32p(ep(2))) {
                (Some(r), Some(e), Some(s)) => Some(IdChange::SetResgid(r, e, s)),
                _ => None,
            },
        },
        ty::SETREUID_X => EventKind::SetIds {
            res,
            change: match (u32p(p(1)), u32p(p(2))) {
                (Some(r), Some(e)) => Some(IdChange::SetReuid(r, e)),
                _ => None,
            },
        },
        ty::SETREGID_X => EventKind::SetIds {
            res,
            change: match (u32p(p(1)), u32p(p(2))) {
                (Some(r), Some(e)) => Some(IdChange::SetRegid(r, e)),
                _ => None,
            },
        },
        ty::MKDIR_2_X => fileop(FileOp::Mkdir, res, false, None, p(1), None, None),
        ty::MKDIRAT_X => fileop(FileOp::Mkdir, res, true, i64p(p(1)), p(2), None, None),
        ty::RMDIR_2_X => fileop(FileOp::Rmdir, res, false, None, p(1), None, None),
        ty::UNLINK_2_X => fileop(FileOp::Unlink, res, false, None, p(1), None, None),
        ty::UNLINKAT_2_X => fileop(FileOp::Unlink, res, true, i64p(p(1)), p(2), None, None),
        ty::LINK_2_X => fileop(FileOp::Link, res, false, None, p(1), None, p(2)),
        ty::LINKAT_2_X => fileop(FileOp::Link, res, true, i64p(p(1)), p(2), i64p(p(3)), p(4)),
        ty::SYMLINK_X => fileop(FileOp::Symlink, res, false, None, p(1), None, p(2)),
        ty::SYMLINKAT_X => fileop(FileOp::Symlink, res, true, None, p(1), i64p(p(2)), p(3)),
        ty::RENAME_X => fileop(FileOp::Rename, res, false, None, p(1), None, p(2)),
        ty::RENAMEAT_X | ty::RENAMEAT2_X => fileop(
            FileOp::Rename,
            res,
            true,
            i64p(p(1)),
            p(2),
            i64p(p(3)),
            p(4),
        ),
        // Old formats carry the paths in the enter event only.
        ty::MKDIR_X => fileop(FileOp::Mkdir, res, false, None, ep(0), None, None),
        ty::RMDIR_X => fileop(FileOp::Rmdir, res, false, None, ep(0), None, None),
        ty::UNLINK_X => fileop(FileOp::Unlink, res, false, None, ep(0), None, None),
        ty::UNLINKAT_X => fileop(FileOp::Unlink, res, true, i64p(ep(0)), ep(1), None, None),
        ty::LINK_X => fileop(FileOp::Link, res, false, None, ep(0), None, ep(1)),
        ty::LINKAT_X => fileop(
            FileOp::Link,
            res,
            true,
            i64p(ep(0)),
            ep(1),
            i64p(ep(2)),
            ep(3),
        ),
        t if is_execve_exit(t) => {
            let n = ev.nparams();
            let v15 = !matches!(t, ty::EXECVE_8_X | ty::EXECVE_13_X | ty::EXECVE_14_X);
            let v16 = v15 && t != ty::EXECVE_15_X;
            let v17 = v16 && t != ty::EXECVE_16_X;
            let env_idx = match t {
                ty::EXECVE_8_X | ty::EXECVE_13_X => None,
                ty::EXECVE_14_X => Some(13),
                ty::EXECVE_15_X => Some(14),
                _ => Some(15),
            };
            // Without trusted_exepath (older captures), the executable is rebuilt from the
            // paired enter event: execve's filename against the cwd, execveat's
            // (dirfd, pathname, flags) as the kernel resolved them (by the state, which
            // knows the fds).
            let from_enter =
                n <= 27 && matches!(t, ty::EXECVE_18_X | ty::EXECVE_19_X | ty::EXECVEAT_X);
            let filename = match enter.map(|e| e.etype) {
                Some(ty::EXECVE_18_E) | Some(ty::EXECVE_19_E) if from_enter => {
                    enter.and_then(|e| e.param(0)).map(|b| strp(Some(b)))
                }
                _ => None,
            };
            let at = match enter {
                Some(e) if from_enter && e.etype == ty::EXECVEAT_E => Some(ExecAt {
                    dirfd: i64p(e.param(0)).unwrap_or(AT_FDCWD),
                    path: match e.param(1) {
                        None => b"<NA>",
                        Some(b) if crate::state::cstr(b) == b"(NULL)" => b"<NA>",
                        Some(b) => crate::state::cstr(b),
                    },
                    flags: u32p(e.param(2)).unwrap_or(0),
                }),
                _ => None,
            };
            let exec = ExecveEvent {
                res,
                info: ProcInfo {
                    exe: Some(p(1).unwrap_or_default()),
                    args: p(2),
                    tid: i64p(p(3)).unwrap_or(tid),
                    pid: i64p(p(4)).unwrap_or(-1),
                    ptid: i64p(p(5)).unwrap_or(-1),
                    cwd: p(6),
                    comm: if v15 { p(13) } else { None },
                    cgroups: if v16 { p(14) } else { None },
                    uid: if n > 26 { u32p(p(26)) } else { None },
                    gid: None,
                    vtid: None,
                    vpid: None,
                },
                env: env_idx.and_then(p),
                tty: if v17 { u32p(p(16)) } else { None },
                loginuid: if n > 18 { u32p(p(18)) } else { None },
                exepath: if n > 27 { p(27) } else { None },
                filename,
                open_fds: None,
                old_tid: None,
            };
            match at {
                Some(at) => EventKind::ExecveAt { exec, at },
                None => EventKind::Execve(exec),
            }
        }
        t => match clone_layout(t) {
            Some(l) => EventKind::Clone(CloneEvent {
                res,
                flags: u32p(p(l.flags)),
                own: None,
                info: ProcInfo {
                    exe: Some(p(1).unwrap_or_default()),
                    args: p(2),
                    tid: i64p(p(3)).unwrap_or(-1),
                    pid: i64p(p(4)).unwrap_or(-1),
                    ptid: i64p(p(5)).unwrap_or(-1),
                    cwd: p(6),
                    comm: l.comm.and_then(p),
                    cgroups: l.cgroups.and_then(p),
                    uid: u32p(p(l.uid)),
                    gid: u32p(p(l.uid + 1)),
                    vtid: l.vids.and_then(|(a, _)| i64p(p(a))),
                    vpid: l.vids.and_then(|(_, b)| i64p(p(b))),
                },
            }),
            None => EventKind::Other,
        },
    };
    let _ = opt_str;
    let _ = unix_tuple_name;
    mk(kind)
}

fn fileop<'a>(
    op: FileOp,
    res: i64,
    at: bool,
    dirfd1: Option<i64>,
    path1: Option<&'a [u8]>,
    dirfd2: Option<i64>,
    path2: Option<&'a [u8]>,
) -> EventKind<'a> {
    EventKind::FileOp(FileOpEvent {
        op,
        res,
        at,
        dirfd1,
        path1: Some(strp(path1)),
        dirfd2,
        path2: path2.map(|b| strp(Some(b))),
    })
}
