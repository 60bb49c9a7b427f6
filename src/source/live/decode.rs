//! Decoding the probe's ring-buffer records (and map values) into [`SysEvent`]s.
//!
//! Every record is `sf_hdr` + a body chosen by `sf_hdr.kind` + up to `SF_NSTR` strings
//! whose lengths the header lists (`bpf/wire.h`). The structs are the skeleton's
//! generated `types::*`, never hand-mirrored; [`read_pod`] is the one place that turns
//! bytes into them, after a bounds check. Short or inconsistent input is a
//! [`DecodeError`], never a panic.
#![allow(unsafe_code)]

use super::clock;
use super::skel::types::{
    sf_cgmove, sf_exit, sf_hdr, sf_hdr_flags, sf_io_key, sf_io_val, sf_iocount, sf_kind, sf_limits,
    sf_net, sf_nr, sf_proc, sf_proc_str, sf_stats, sf_sys, sf_tuple,
};
use crate::event::*;
use crate::model::OpenFlags;
use std::mem::size_of;

// Layout guards: the same numbers as wire.h's _Static_asserts.
const _: () = assert!(size_of::<sf_hdr>() == 40);
const _: () = assert!(size_of::<sf_sys>() == 88);
const _: () = assert!(size_of::<sf_tuple>() == 56);
const _: () = assert!(size_of::<sf_net>() == 80);
const _: () = assert!(size_of::<sf_proc>() == 88);
const _: () = assert!(size_of::<sf_exit>() == 16);
const _: () = assert!(size_of::<sf_cgmove>() == 8);
const _: () = assert!(size_of::<sf_iocount>() == 48);
const _: () = assert!(size_of::<sf_io_key>() == 8);
const _: () = assert!(size_of::<sf_io_val>() == 48 * sf_limits::SF_IO_SLOTS.0 as usize + 8);
const _: () = assert!(size_of::<sf_stats>() == 80);

const NSTR: usize = sf_limits::SF_NSTR.0 as usize;

/// Plain wire structs generated from BTF: integers and arrays of integers only, so any
/// bit pattern is a valid value.
pub(super) trait Pod: Copy {}
impl Pod for sf_hdr {}
impl Pod for sf_sys {}
impl Pod for sf_net {}
impl Pod for sf_proc {}
impl Pod for sf_exit {}
impl Pod for sf_cgmove {}
impl Pod for sf_iocount {}
impl Pod for sf_stats {}

/// Bounds-checked copy of a wire struct out of bytes.
pub(super) fn read_pod<T: Pod>(data: &[u8], off: usize) -> Option<T> {
    let end = off.checked_add(size_of::<T>())?;
    let bytes = data.get(off..end)?;
    // SAFETY: `bytes` holds exactly size_of::<T>() bytes (checked above); T is a
    // repr(C) struct of integers (the `Pod` contract), valid for any bit pattern;
    // `read_unaligned` makes no alignment demand.
    Some(unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<T>()) })
}

/// Why a record could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct DecodeError(pub(super) String);

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn bad(msg: impl Into<String>) -> DecodeError {
    DecodeError(msg.into())
}

/// A record split into header, body bytes and strings.
pub(super) struct Record<'a> {
    /// The header.
    pub(super) hdr: sf_hdr,
    body: &'a [u8],
    strs: [Option<&'a [u8]>; NSTR],
}

impl<'a> Record<'a> {
    fn body<T: Pod>(&self) -> Result<T, DecodeError> {
        read_pod(self.body, 0).ok_or_else(|| bad("record body shorter than its kind"))
    }

    /// String `i` as written (with its NUL terminator, for C strings).
    fn raw(&self, i: usize) -> Option<&'a [u8]> {
        self.strs.get(i).copied().flatten()
    }

    /// String `i` up to its first NUL.
    fn cstr(&self, i: usize) -> Option<&'a [u8]> {
        self.raw(i).map(crate::state::cstr)
    }
}

fn body_size(kind: sf_kind) -> Option<usize> {
    Some(match kind {
        sf_kind::SF_K_SYS => size_of::<sf_sys>(),
        sf_kind::SF_K_NET => size_of::<sf_net>(),
        sf_kind::SF_K_CLONE | sf_kind::SF_K_EXEC => size_of::<sf_proc>(),
        sf_kind::SF_K_EXIT => size_of::<sf_exit>(),
        sf_kind::SF_K_IOCOUNT => size_of::<sf_iocount>(),
        sf_kind::SF_K_TASK | sf_kind::SF_K_SELF => 0,
        sf_kind::SF_K_CGROUP => size_of::<sf_cgmove>(),
        _ => return None,
    })
}

/// Splits one ring-buffer record.
pub(super) fn parse(rec: &[u8]) -> Result<Record<'_>, DecodeError> {
    let hdr: sf_hdr = read_pod(rec, 0).ok_or_else(|| bad("record shorter than its header"))?;
    let size = hdr.size as usize;
    if size < size_of::<sf_hdr>() || size > rec.len() {
        return Err(bad(format!(
            "record size {size} outside 40..={}",
            rec.len()
        )));
    }
    let rec = &rec[..size];
    let kind = sf_kind(u32::from(hdr.kind));
    let body_len =
        body_size(kind).ok_or_else(|| bad(format!("unknown record kind {}", hdr.kind)))?;
    let body_end = size_of::<sf_hdr>() + body_len;
    let body = rec
        .get(size_of::<sf_hdr>()..body_end)
        .ok_or_else(|| bad("record shorter than its body"))?;
    let mut strs = [None; NSTR];
    let mut off = body_end;
    for (i, &len) in hdr.slen.iter().enumerate() {
        if len == 0 {
            continue;
        }
        let end = off + usize::from(len);
        strs[i] = Some(
            rec.get(off..end)
                .ok_or_else(|| bad(format!("string {i} ({len} bytes) runs past the record")))?,
        );
        off = end;
    }
    Ok(Record { hdr, body, strs })
}

/// An fd argument (a C `int` passed in a 64-bit register).
fn fd_arg(v: u64) -> i64 {
    i64::from(v as i32)
}

/// Kernel `CLONE_*` flags to the scap `PPM_CL_*` encoding.
pub(super) fn ppm_clone_flags(k: u64) -> u32 {
    const MAP: [(u64, u32); 22] = [
        (0x0000_0100, 1 << 15), // CLONE_VM
        (0x0000_0200, 1 << 1),  // CLONE_FS
        (0x0000_0400, 1 << 0),  // CLONE_FILES
        (0x0000_0800, 1 << 11), // CLONE_SIGHAND
        (0x0000_2000, 1 << 10), // CLONE_PTRACE
        (0x0000_4000, 1 << 27), // CLONE_VFORK
        (0x0000_8000, 1 << 8),  // CLONE_PARENT
        (0x0001_0000, 1 << 13), // CLONE_THREAD
        (0x0002_0000, 1 << 5),  // CLONE_NEWNS
        (0x0004_0000, 1 << 12), // CLONE_SYSVSEM
        (0x0008_0000, 1 << 25), // CLONE_SETTLS
        (0x0010_0000, 1 << 9),  // CLONE_PARENT_SETTID
        (0x0020_0000, 1 << 23), // CLONE_CHILD_CLEARTID
        (0x0080_0000, 1 << 14), // CLONE_UNTRACED
        (0x0100_0000, 1 << 24), // CLONE_CHILD_SETTID
        (0x0200_0000, 1 << 28), // CLONE_NEWCGROUP
        (0x0400_0000, 1 << 7),  // CLONE_NEWUTS
        (0x0800_0000, 1 << 3),  // CLONE_NEWIPC
        (0x1000_0000, 1 << 20), // CLONE_NEWUSER
        (0x2000_0000, 1 << 6),  // CLONE_NEWPID
        (0x4000_0000, 1 << 4),  // CLONE_NEWNET
        (0x8000_0000, 1 << 2),  // CLONE_IO
    ];
    MAP.iter()
        .filter(|(kf, _)| k & kf != 0)
        .fold(0, |acc, (_, p)| acc | p)
}

/// `PPM_CL_CHILD_IN_PIDNS`.
const PPM_CL_CHILD_IN_PIDNS: u32 = 1 << 29;

/// Kernel `MAP_*` flags (x86-64) to the scap `PPM_MAP_*` encoding.
pub(super) fn ppm_map_flags(k: u64) -> u32 {
    const MAP: [(u64, u32); 13] = [
        (0x01, 1 << 0),     // MAP_SHARED
        (0x02, 1 << 1),     // MAP_PRIVATE
        (0x10, 1 << 2),     // MAP_FIXED
        (0x20, 1 << 3),     // MAP_ANONYMOUS
        (0x40, 1 << 4),     // MAP_32BIT
        (0x4000, 1 << 6),   // MAP_NORESERVE
        (0x8000, 1 << 7),   // MAP_POPULATE
        (0x10000, 1 << 8),  // MAP_NONBLOCK
        (0x100, 1 << 9),    // MAP_GROWSDOWN
        (0x800, 1 << 10),   // MAP_DENYWRITE
        (0x1000, 1 << 11),  // MAP_EXECUTABLE
        (0x2000, 1 << 14),  // MAP_LOCKED
        (0x40000, 1 << 15), // MAP_HUGETLB
    ];
    MAP.iter()
        .filter(|(kf, _)| k & kf != 0)
        .fold(0, |acc, (_, p)| acc | p)
}

const AF_UNIX: u16 = 1;
const AF_INET: u16 = 2;
const S_IFSOCK: u32 = 0o140000;
const AF_INET6: u16 = 10;

fn tuple<'a>(t: &sf_tuple, path: Option<&'a [u8]>) -> Option<SockTuple<'a>> {
    match t.family {
        AF_INET => Some(SockTuple::V4 {
            sip: [t.saddr[0], t.saddr[1], t.saddr[2], t.saddr[3]],
            sport: t.sport,
            dip: [t.daddr[0], t.daddr[1], t.daddr[2], t.daddr[3]],
            dport: t.dport,
        }),
        AF_INET6 => Some(SockTuple::V6 {
            sip: t.saddr,
            sport: t.sport,
            dip: t.daddr,
            dport: t.dport,
        }),
        AF_UNIX => Some(SockTuple::Unix {
            source: t.sk,
            dest: t.peer,
            path: path.unwrap_or_default(),
        }),
        _ => None,
    }
}

fn sockaddr<'a>(t: &sf_tuple, path: Option<&'a [u8]>) -> Option<SockAddr<'a>> {
    match t.family {
        AF_INET => Some(SockAddr::V4(
            [t.saddr[0], t.saddr[1], t.saddr[2], t.saddr[3]],
            t.sport,
        )),
        AF_INET6 => Some(SockAddr::V6(t.saddr, t.sport)),
        AF_UNIX => Some(SockAddr::Unix(path.unwrap_or_default())),
        _ => None,
    }
}

fn proc_info<'a>(r: &Record<'a>, p: &sf_proc) -> ProcInfo<'a> {
    ProcInfo {
        exe: Some(r.cstr(sf_proc_str::SF_S_EXE.0 as usize).unwrap_or_default()),
        args: r.raw(sf_proc_str::SF_S_ARGS.0 as usize),
        tid: i64::from(p.tid),
        pid: i64::from(p.pid),
        ptid: i64::from(p.ptid),
        cwd: None,
        comm: None, // filled by the caller: it borrows from the body copy
        cgroups: r.raw(sf_proc_str::SF_S_CGROUPS.0 as usize),
        uid: Some(p.uid),
        gid: Some(p.gid),
        vtid: Some(i64::from(p.vtid)),
        vpid: Some(i64::from(p.vpid)),
    }
}

/// Where `comm` of a clone/exec record sits in the record (a fixed field of `sf_proc`).
const COMM_OFF: usize = size_of::<sf_hdr>() + std::mem::offset_of!(sf_proc, comm);

/// Decodes one record into an event; `rec` is the whole record (the event borrows its
/// One task as the probe's task iterator saw it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct IterTask {
    /// Process (thread group) id, initial pid namespace.
    pub(super) tgid: u32,
    /// Start time (`CLOCK_BOOTTIME` ns).
    pub(super) start_boot_ns: u64,
    /// Cgroups as `subsys=path` entries (and `unified=path`), read in the kernel.
    pub(super) cgroups: Vec<Vec<u8>>,
}

/// What the task iterator reported: its reader's identity and every task.
#[derive(Clone, Debug, Default)]
pub(super) struct TaskScan {
    /// The reader (the collector): (tid, tgid) in the initial pid namespace.
    pub(super) reader: Option<(u32, u32)>,
    /// Tasks by tid.
    pub(super) tasks: std::collections::HashMap<u32, IterTask>,
}

/// Decodes the task iterator's output: `SF_K_SELF` first, then one `SF_K_TASK` record per
/// task, each framed by its header's `size`. Stops at the first record it cannot frame and
/// skips records it cannot decode (their tasks then come from `/proc` alone).
pub(super) fn task_scan(mut bytes: &[u8]) -> TaskScan {
    let mut scan = TaskScan::default();
    while !bytes.is_empty() {
        let Some(hdr) = read_pod::<sf_hdr>(bytes, 0) else {
            break;
        };
        let size = hdr.size as usize;
        let Some((rec, rest)) = bytes
            .split_at_checked(size)
            .filter(|_| size >= size_of::<sf_hdr>())
        else {
            break;
        };
        bytes = rest;
        match parse(rec) {
            Ok(r) if sf_kind(u32::from(r.hdr.kind)) == sf_kind::SF_K_SELF => {
                scan.reader = Some((r.hdr.tid, r.hdr.tgid));
            }
            Ok(r) if sf_kind(u32::from(r.hdr.kind)) == sf_kind::SF_K_TASK => {
                let cgroups = r
                    .raw(sf_proc_str::SF_S_CGROUPS.0 as usize)
                    .map(crate::state::split_nul)
                    .unwrap_or_default();
                scan.tasks.insert(
                    r.hdr.tid,
                    IterTask {
                        tgid: r.hdr.tgid,
                        start_boot_ns: r.hdr.ts,
                        cgroups,
                    },
                );
            }
            _ => {}
        }
    }
    scan
}

/// One record's event (borrowing the record's strings). Time stamps become epoch
/// nanoseconds.
#[cfg(any(test, feature = "fuzzing"))]
pub(super) fn event(rec: &[u8]) -> Result<SysEvent<'_>, DecodeError> {
    event_of(rec, &parse(rec)?)
}

/// [`event`] of a record already split (`r` is `parse(rec)`).
fn event_of<'a>(rec: &'a [u8], r: &Record<'a>) -> Result<SysEvent<'a>, DecodeError> {
    let h = r.hdr;
    let ts = clock::to_epoch(h.ts);
    let tid = i64::from(h.tid);
    let kind = match sf_kind(u32::from(h.kind)) {
        sf_kind::SF_K_SYS => sys_event(r)?,
        sf_kind::SF_K_NET => net_event(r)?,
        sf_kind::SF_K_CLONE | sf_kind::SF_K_EXEC => {
            let p: sf_proc = r.body()?;
            let mut info = proc_info(r, &p);
            let comm = rec
                .get(COMM_OFF..COMM_OFF + p.comm.len())
                .map(crate::state::cstr)
                .ok_or_else(|| bad("comm outside the record"))?;
            info.comm = Some(comm);
            if sf_kind(u32::from(h.kind)) == sf_kind::SF_K_CLONE {
                let mut flags = ppm_clone_flags(p.clone_flags);
                // as libs' drivers set it: the task is in a pid namespace, or (the
                // caller's side) its children get another one than its own
                if p.pidns_level > 0 || p.children_ns_other != 0 {
                    flags |= PPM_CL_CHILD_IN_PIDNS;
                }
                // a CLONE_PARENT child's own image (the probe names its executable)
                let own = r
                    .cstr(sf_proc_str::SF_S_EXEPATH.0 as usize)
                    .map(|exepath| OwnImage {
                        exepath,
                        cwd: r.cstr(sf_proc_str::SF_S_CWD.0 as usize),
                        env: r.raw(sf_proc_str::SF_S_ENV.0 as usize),
                        tty: p.tty,
                        loginuid: p.loginuid,
                        caller: (p.old_tid != 0 && p.old_tid != p.tid)
                            .then_some(i64::from(p.old_tid)),
                    });
                EventKind::Clone(CloneEvent {
                    res: p.res,
                    flags: Some(flags),
                    info,
                    own,
                })
            } else {
                EventKind::Execve(ExecveEvent {
                    res: 0,
                    info,
                    env: r.raw(sf_proc_str::SF_S_ENV.0 as usize),
                    tty: Some(p.tty),
                    loginuid: Some(p.loginuid),
                    exepath: r.cstr(sf_proc_str::SF_S_EXEPATH.0 as usize),
                    filename: r.cstr(sf_proc_str::SF_S_FILENAME.0 as usize),
                    open_fds: r.raw(sf_proc_str::SF_S_FDS.0 as usize),
                    old_tid: (p.old_tid != 0 && p.old_tid != p.tid).then_some(i64::from(p.old_tid)),
                })
            }
        }
        sf_kind::SF_K_EXIT => {
            let e: sf_exit = r.body()?;
            EventKind::Exit {
                status: e.status,
                reaper: None,
            }
        }
        sf_kind::SF_K_IOCOUNT => EventKind::IoCounters(io_counters(&r.body()?, h.tgid)),
        sf_kind::SF_K_CGROUP => {
            let m: sf_cgmove = r.body()?;
            EventKind::CgroupMove {
                cgroups: r
                    .raw(sf_proc_str::SF_S_CGROUPS.0 as usize)
                    .unwrap_or_default(),
                threadgroup: m.threadgroup != 0,
            }
        }
        _ => return Err(bad(format!("unknown record kind {}", h.kind))),
    };
    Ok(SysEvent {
        ts,
        tid,
        pid: i64::from(h.tgid),
        kind,
    })
}

/// Kernel read/write counters of process `tgid`, as the consumer's event carries them.
fn io_counters(c: &sf_iocount, tgid: u32) -> IoCounters {
    IoCounters {
        fd: c.fd,
        read_ops: c.read_ops,
        read_bytes: c.read_bytes,
        write_ops: c.write_ops,
        write_bytes: c.write_bytes,
        first_ts: clock::to_epoch(c.first_ts),
        pid: Some(i64::from(tgid)),
    }
}

/// One record as the live source reads it, from a single parse: its event, and what the
/// record says beyond it ([`deliver_record`] gives the same without the copies).
#[cfg(test)]
pub(super) struct Decoded<'a> {
    /// The record's event.
    pub(super) ev: SysEvent<'a>,
    /// The event to deliver before the record's own: a close's carried counters (see
    /// [`close_counters`]), or a connect's enter (the address asked for).
    pub(super) carried: Result<Option<SysEvent<'a>>, DecodeError>,
    /// A cgroup move of a task inside its exec (see [`moved_during_exec`]).
    pub(super) moved_in_exec: bool,
}

/// [`event`], with the carried counters and the exec mark of the same parse.
#[cfg(test)]
pub(super) fn decoded(rec: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    let r = parse(rec)?;
    Ok(Decoded {
        ev: event_of(rec, &r)?,
        carried: carried_event(&r),
        moved_in_exec: in_exec(&r),
    })
}

/// Decodes one record for delivery, from a single parse: `f` gets the event the record
/// carries (a close's counters, a connect's enter) first, then the record's own with its
/// exec mark ([`moved_during_exec`]); each by reference, where it was decoded (an event
/// is some 300 bytes: the copies [`Decoded`] makes cost more than the rest of the
/// decoding). Returns the events given to `f` and the decode errors: a record whose own
/// event does not decode gives nothing (one error); a carried event that does not decode
/// is left out (one error) and the record's own still goes.
pub(super) fn deliver_record<'a>(
    rec: &'a [u8],
    f: &mut dyn FnMut(&SysEvent<'a>, bool),
) -> (u64, u64) {
    let Ok(r) = parse(rec) else {
        return (0, 1);
    };
    let ev = event_of(rec, &r);
    let Ok(ev) = &ev else {
        return (0, 1);
    };
    let (mut events, mut errors) = (1, 0);
    match &carried_event(&r) {
        Ok(Some(carried)) => {
            f(carried, false);
            events += 1;
        }
        Ok(None) => {}
        Err(_) => errors += 1,
    }
    f(ev, in_exec(&r));
    (events, errors)
}

/// The closing thread's read/write counters a close record carries (`SF_HF_COUNTS`), as
/// the [`EventKind::IoCounters`] event to deliver before the close's own; `None` for any
/// other record. Errors: the flag is set and string 0 is not exactly one `sf_iocount`.
#[cfg(any(test, feature = "fuzzing"))]
pub(super) fn close_counters(rec: &[u8]) -> Result<Option<SysEvent<'_>>, DecodeError> {
    carried_counters(&parse(rec)?)
}

/// The event a record carries for delivery before its own: a connect's enter, or a
/// close's counters.
fn carried_event<'a>(r: &Record<'a>) -> Result<Option<SysEvent<'a>>, DecodeError> {
    let h = r.hdr;
    if sf_kind(u32::from(h.kind)) == sf_kind::SF_K_NET
        && sf_nr(u32::from(h.nr)) == sf_nr::SF_NR_CONNECT
    {
        return connect_enter(r);
    }
    carried_counters(r)
}

fn carried_counters<'a>(r: &Record<'a>) -> Result<Option<SysEvent<'a>>, DecodeError> {
    let h = r.hdr;
    if u32::from(h.flags) & sf_hdr_flags::SF_HF_COUNTS.0 == 0
        || sf_kind(u32::from(h.kind)) != sf_kind::SF_K_SYS
        || sf_nr(u32::from(h.nr)) != sf_nr::SF_NR_CLOSE
    {
        return Ok(None);
    }
    let c: sf_iocount = r
        .raw(0)
        .filter(|b| b.len() == size_of::<sf_iocount>())
        .and_then(|b| read_pod(b, 0))
        .ok_or_else(|| bad("a close's counters are not one sf_iocount"))?;
    Ok(Some(SysEvent {
        ts: clock::to_epoch(h.ts),
        tid: i64::from(h.tid),
        pid: i64::from(h.tgid),
        kind: EventKind::IoCounters(io_counters(&c, h.tgid)),
    }))
}

/// A failed connect's [`EventKind::ConnectEnter`] (the address asked for: string 1, a
/// `sockaddr_in` or `sockaddr_in6` as passed), delivered before its exit as the reference's
/// enter event is, so the flow names the peer it tried. Only for an IP socket the failure
/// left without a peer or with exactly the peer it tried (a refused connect, through
/// connect(2) or io_uring): a connect that succeeds (or is in progress) is described by
/// the socket's own endpoints after it, and one that fails on a socket already connected
/// or connecting (EISCONN, EALREADY, whatever the address) changed nothing. `None`
/// otherwise, and without
/// the string (unix sockets, AF_UNSPEC). An io_uring connect's string is the address as
/// the probe read it at submission. Errors: a string that is no sockaddr_in or
/// sockaddr_in6.
fn connect_enter<'a>(r: &Record<'a>) -> Result<Option<SysEvent<'a>>, DecodeError> {
    let Some(sa) = r.raw(1) else {
        return Ok(None);
    };
    let n: sf_net = r.body()?;
    if n.res >= 0
        || n.res == -i64::from(libc::EINPROGRESS)
        || !matches!(n.t.family, AF_INET | AF_INET6)
    {
        return Ok(None);
    }
    let addr = match sa {
        // sockaddr_in: family (host order), port (network order), address
        [f0, f1, p0, p1, a @ ..] if a.len() == 12 && u16::from_le_bytes([*f0, *f1]) == AF_INET => {
            SockAddr::V4([a[0], a[1], a[2], a[3]], u16::from_be_bytes([*p0, *p1]))
        }
        // sockaddr_in6: family, port, flow info, address (the scope id is not shipped)
        [f0, f1, p0, p1, rest @ ..]
            if rest.len() == 20 && u16::from_le_bytes([*f0, *f1]) == AF_INET6 =>
        {
            let mut ip = [0u8; 16];
            ip.copy_from_slice(&rest[4..20]);
            SockAddr::V6(ip, u16::from_be_bytes([*p0, *p1]))
        }
        _ => return Err(bad("a connect's address is no sockaddr_in or sockaddr_in6")),
    };
    // A refused connect leaves the socket without a peer (through connect(2), a TCP
    // socket keeps the address it tried with a zero port) or, through io_uring, with the
    // peer it tried. A socket already connected or connecting (EISCONN, EALREADY) keeps
    // the peer it has, whatever was asked, and so does the state.
    let tried = match addr {
        SockAddr::V4(ip, port) => {
            n.t.family == AF_INET && n.t.dport == port && n.t.daddr[..4] == ip
        }
        SockAddr::V6(ip, port) => n.t.family == AF_INET6 && n.t.dport == port && n.t.daddr == ip,
        SockAddr::Unix(_) => false,
    };
    let connected = [libc::EISCONN, libc::EALREADY].map(|e| -i64::from(e));
    if connected.contains(&n.res) || (n.t.dport != 0 && !tried) {
        return Ok(None);
    }
    Ok(Some(SysEvent {
        ts: clock::to_epoch(r.hdr.ts),
        tid: i64::from(r.hdr.tid),
        pid: i64::from(r.hdr.tgid),
        kind: EventKind::ConnectEnter {
            fd: n.fd,
            addr: Some(addr),
        },
    }))
}

/// Whether `rec` is a cgroup move of a task that was inside an exec (see
/// `moves::ExecMoves`); false for any other record, or one that does not parse.
#[cfg(any(test, feature = "fuzzing"))]
pub(super) fn moved_during_exec(rec: &[u8]) -> bool {
    parse(rec).is_ok_and(|r| in_exec(&r))
}

fn in_exec(r: &Record<'_>) -> bool {
    sf_kind(u32::from(r.hdr.kind)) == sf_kind::SF_K_CGROUP
        && r.body::<sf_cgmove>().is_ok_and(|m| m.in_exec != 0)
}

fn fileop<'a>(
    r: &Record<'a>,
    op: FileOp,
    res: i64,
    dirfd1: Option<i64>,
    dirfd2: Option<i64>,
    two: bool,
) -> EventKind<'a> {
    EventKind::FileOp(FileOpEvent {
        op,
        res,
        at: dirfd1.is_some() || dirfd2.is_some(),
        dirfd1,
        path1: r.cstr(0).or(Some(b"")),
        dirfd2,
        path2: if two { r.cstr(1).or(Some(b"")) } else { None },
    })
}

const O_CREAT: u32 = 0o100;
const O_WRONLY: u32 = 0o1;
const O_TRUNC: u32 = 0o1000;

fn sys_event<'a>(r: &Record<'a>) -> Result<EventKind<'a>, DecodeError> {
    let b: sf_sys = r.body()?;
    let a = b.arg;
    let res = b.res;
    let nr = sf_nr(u32::from(r.hdr.nr));
    let open = |kind: OpenKind, dirfd: Option<i64>, kflags: u64| {
        let mut flags = OpenFlags::from_kernel(kflags as u32);
        if b.aux[0] != 0 {
            flags |= OpenFlags::F_CREATED;
        }
        EventKind::Open(OpenEvent {
            kind,
            fd: res,
            dirfd,
            path: r.cstr(0),
            kernel_path: r.cstr(1).filter(|p| !p.is_empty()),
            flags: flags.bits(),
        })
    };
    Ok(match nr {
        sf_nr::SF_NR_OPEN => open(OpenKind::Open, None, a[1]),
        sf_nr::SF_NR_CREAT => open(
            OpenKind::Creat,
            None,
            u64::from(O_CREAT | O_WRONLY | O_TRUNC),
        ),
        sf_nr::SF_NR_OPENAT => open(OpenKind::OpenAt, Some(fd_arg(a[0])), a[2]),
        sf_nr::SF_NR_OPENAT2 => open(OpenKind::OpenAt2, Some(fd_arg(a[0])), b.aux[1]),
        // open_by_handle_at(mount_fd, handle, flags): no path, only what was opened
        sf_nr::SF_NR_OPEN_BY_HANDLE_AT => open(OpenKind::ByHandle, Some(fd_arg(a[0])), a[2]),
        sf_nr::SF_NR_EVENTFD
        | sf_nr::SF_NR_EVENTFD2
        | sf_nr::SF_NR_EPOLL_CREATE
        | sf_nr::SF_NR_EPOLL_CREATE1
        | sf_nr::SF_NR_MEMFD_CREATE
        | sf_nr::SF_NR_TIMERFD_CREATE
        | sf_nr::SF_NR_SIGNALFD
        | sf_nr::SF_NR_SIGNALFD4
        | sf_nr::SF_NR_PIDFD_OPEN
        | sf_nr::SF_NR_PIDFD_GETFD
        | sf_nr::SF_NR_INOTIFY_INIT
        | sf_nr::SF_NR_INOTIFY_INIT1
        | sf_nr::SF_NR_FANOTIFY_INIT
        | sf_nr::SF_NR_USERFAULTFD
        | sf_nr::SF_NR_IO_URING_SETUP
        | sf_nr::SF_NR_PERF_EVENT_OPEN
        | sf_nr::SF_NR_MEMFD_SECRET => EventKind::NewFd {
            fd: res,
            name: r.cstr(0).unwrap_or_default(),
            mode: b.aux[2] as u32,
            file_path: r.cstr(1).filter(|p| !p.is_empty()),
        },
        sf_nr::SF_NR_CLOSE => EventKind::Close {
            fd: Some(fd_arg(a[0])),
            res,
        },
        sf_nr::SF_NR_CLOSE_RANGE => EventKind::CloseRange {
            first: a[0] as u32,
            last: a[1] as u32,
            flags: a[2] as u32,
            res,
        },
        sf_nr::SF_NR_SHUTDOWN => EventKind::Shutdown {
            fd: Some(fd_arg(a[0])),
            res,
        },
        sf_nr::SF_NR_SETNS => EventKind::Setns {
            fd: Some(fd_arg(a[0])),
            res,
        },
        sf_nr::SF_NR_MMAP => {
            let fd = fd_arg(a[4]);
            EventKind::Mmap {
                fd: (fd >= 0 && a[3] & 0x20 == 0).then_some(fd),
                fd_arg: fd,
                flags: ppm_map_flags(a[3]),
            }
        }
        sf_nr::SF_NR_SOCKET => EventKind::Socket {
            fd: res,
            domain: a[0] as u32,
            sock_type: a[1] as u32,
            proto: a[2] as u32,
        },
        sf_nr::SF_NR_SOCKETPAIR => EventKind::Socketpair {
            res,
            fd1: b.aux[0] as i64,
            fd2: b.aux[1] as i64,
            source: b.aux[2],
            peer: b.aux[3],
        },
        sf_nr::SF_NR_PIPE | sf_nr::SF_NR_PIPE2 => EventKind::Pipe {
            res,
            fd1: b.aux[0] as i64,
            fd2: b.aux[1] as i64,
            ino: b.aux[2],
        },
        sf_nr::SF_NR_FD_SEEN => EventKind::FdSeen {
            fd: res,
            ino: b.aux[0],
            flags: b.aux[1] as u32,
            mode: b.aux[2] as u32,
            path: r.cstr(1).filter(|p| !p.is_empty()),
            tuple: None,
            sock_type: 0,
            accepted: false,
        },
        sf_nr::SF_NR_DUP | sf_nr::SF_NR_DUP2 | sf_nr::SF_NR_DUP3 | sf_nr::SF_NR_FCNTL => {
            EventKind::Dup {
                res,
                oldfd: Some(fd_arg(a[0])),
                kernel_path: r.cstr(1).filter(|p| !p.is_empty()),
            }
        }
        sf_nr::SF_NR_CHDIR | sf_nr::SF_NR_FCHDIR => EventKind::Chdir {
            res,
            path: r.cstr(0),
        },
        sf_nr::SF_NR_SETUID => ids(res, IdChange::SetUid(a[0] as u32)),
        sf_nr::SF_NR_SETGID => ids(res, IdChange::SetGid(a[0] as u32)),
        sf_nr::SF_NR_SETREUID => ids(res, IdChange::SetReuid(a[0] as u32, a[1] as u32)),
        sf_nr::SF_NR_SETREGID => ids(res, IdChange::SetRegid(a[0] as u32, a[1] as u32)),
        sf_nr::SF_NR_SETRESUID => ids(
            res,
            IdChange::SetResuid(a[0] as u32, a[1] as u32, a[2] as u32),
        ),
        sf_nr::SF_NR_SETRESGID => ids(
            res,
            IdChange::SetResgid(a[0] as u32, a[1] as u32, a[2] as u32),
        ),
        sf_nr::SF_NR_MKDIR => fileop(r, FileOp::Mkdir, res, None, None, false),
        sf_nr::SF_NR_MKDIRAT => fileop(r, FileOp::Mkdir, res, Some(fd_arg(a[0])), None, false),
        sf_nr::SF_NR_RMDIR => fileop(r, FileOp::Rmdir, res, None, None, false),
        sf_nr::SF_NR_UNLINK => fileop(r, FileOp::Unlink, res, None, None, false),
        sf_nr::SF_NR_UNLINKAT => fileop(r, FileOp::Unlink, res, Some(fd_arg(a[0])), None, false),
        sf_nr::SF_NR_LINK => fileop(r, FileOp::Link, res, None, None, true),
        sf_nr::SF_NR_LINKAT => fileop(
            r,
            FileOp::Link,
            res,
            Some(fd_arg(a[0])),
            Some(fd_arg(a[2])),
            true,
        ),
        sf_nr::SF_NR_SYMLINK => fileop(r, FileOp::Symlink, res, None, None, true),
        sf_nr::SF_NR_SYMLINKAT => fileop(r, FileOp::Symlink, res, None, Some(fd_arg(a[1])), true),
        sf_nr::SF_NR_RENAME => fileop(r, FileOp::Rename, res, None, None, true),
        sf_nr::SF_NR_RENAMEAT | sf_nr::SF_NR_RENAMEAT2 => fileop(
            r,
            FileOp::Rename,
            res,
            Some(fd_arg(a[0])),
            Some(fd_arg(a[2])),
            true,
        ),
        sf_nr::SF_NR_EXECVE | sf_nr::SF_NR_EXECVEAT => EventKind::Execve(ExecveEvent {
            res,
            info: ProcInfo {
                tid: i64::from(r.hdr.tid),
                pid: i64::from(r.hdr.tgid),
                ptid: -1,
                ..ProcInfo::default()
            },
            env: None,
            tty: None,
            loginuid: None,
            exepath: None,
            filename: r.cstr(0),
            open_fds: None,
            old_tid: None,
        }),
        other => {
            return Err(bad(format!(
                "syscall record with unexpected nr {}",
                other.0
            )));
        }
    })
}

fn ids<'a>(res: i64, change: IdChange) -> EventKind<'a> {
    EventKind::SetIds {
        res,
        change: Some(change),
    }
}

fn net_event<'a>(r: &Record<'a>) -> Result<EventKind<'a>, DecodeError> {
    let n: sf_net = r.body()?;
    let path = r.cstr(0);
    let fd = n.fd;
    Ok(match sf_nr(u32::from(r.hdr.nr)) {
        sf_nr::SF_NR_CONNECT => EventKind::Connect {
            fd: Some(fd),
            exit_fd: Some(fd),
            res: n.res,
            tuple: tuple(&n.t, path),
            tuple_from_socket: true,
        },
        sf_nr::SF_NR_ACCEPT | sf_nr::SF_NR_ACCEPT4 => EventKind::Accept {
            fd: n.res,
            tuple: tuple(&n.t, path),
        },
        sf_nr::SF_NR_BIND => EventKind::Bind {
            fd: Some(fd),
            res: n.res,
            addr: sockaddr(&n.t, path),
            // the probe puts what the kernel bound in the other half of the tuple
            bound_v4: (n.res == 0 && n.t.family == AF_INET && n.t.dport != 0).then(|| {
                (
                    [n.t.daddr[0], n.t.daddr[1], n.t.daddr[2], n.t.daddr[3]],
                    n.t.dport,
                )
            }),
        },
        nr @ (sf_nr::SF_NR_SENDTO
        | sf_nr::SF_NR_SENDMSG
        | sf_nr::SF_NR_RECVFROM
        | sf_nr::SF_NR_RECVMSG) => EventKind::Io(IoEvent {
            dir: if matches!(nr, sf_nr::SF_NR_SENDTO | sf_nr::SF_NR_SENDMSG) {
                IoDir::Write
            } else {
                IoDir::Read
            },
            fd: Some(fd),
            res: n.res,
            tuple: tuple(&n.t, path),
        }),
        sf_nr::SF_NR_FD_SEEN => EventKind::FdSeen {
            fd,
            mode: S_IFSOCK,
            ino: 0,
            flags: 0,
            path: None,
            tuple: tuple(&n.t, path),
            sock_type: n.sock_type,
            accepted: n.res == 1,
        },
        other => return Err(bad(format!("socket record with unexpected nr {}", other.0))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a record as the probe would: header, body bytes, strings.
    fn record(kind: sf_kind, nr: u32, tid: u32, body: &[u8], strs: &[&[u8]]) -> Vec<u8> {
        let mut hdr = sf_hdr {
            ts: 1_000,
            tid,
            tgid: tid,
            kind: kind.0 as u16,
            nr: nr as u16,
            ..Default::default()
        };
        for (i, s) in strs.iter().enumerate() {
            hdr.slen[i] = s.len() as u16;
        }
        let size = 40 + body.len() + strs.iter().map(|s| s.len()).sum::<usize>();
        hdr.size = size as u32;
        let mut v = pod_bytes(&hdr);
        v.extend_from_slice(body);
        for s in strs {
            v.extend_from_slice(s);
        }
        v
    }

    fn pod_bytes<T: Pod>(t: &T) -> Vec<u8> {
        let mut v = vec![0u8; size_of::<T>()];
        // Golden bytes are written field by field below where it matters; this copies
        // the generated struct's own representation.
        // SAFETY: T is a plain repr(C) struct of integers of exactly v.len() bytes.
        unsafe { std::ptr::write_unaligned(v.as_mut_ptr().cast::<T>(), *t) };
        v
    }

    #[test]
    fn a_connect_carries_the_address_asked_for_as_its_enter() {
        let mut net = sf_net {
            res: -111, // ECONNREFUSED: the socket holds no peer
            fd: 5,
            ..Default::default()
        };
        net.t.family = AF_INET;
        // sockaddr_in for 127.0.0.1:41199, as connect(2) was given it
        let mut sa = vec![2u8, 0];
        sa.extend_from_slice(&41199u16.to_be_bytes());
        sa.extend_from_slice(&[127, 0, 0, 1]);
        sa.extend_from_slice(&[0; 8]);
        let nr = sf_nr::SF_NR_CONNECT.0;
        let r = record(sf_kind::SF_K_NET, nr, 7, &pod_bytes(&net), &[b"", &sa]);
        let d = decoded(&r).unwrap();
        match d.carried {
            Ok(Some(SysEvent {
                tid: 7,
                kind:
                    EventKind::ConnectEnter {
                        fd: 5,
                        addr: Some(SockAddr::V4([127, 0, 0, 1], 41199)),
                    },
                ..
            })) => {}
            other => panic!("{other:?}"),
        }
        assert!(matches!(d.ev.kind, EventKind::Connect { res: -111, .. }));
        // no address (unix, AF_UNSPEC): no enter; a damaged one: an error, the exit kept
        let r = record(sf_kind::SF_K_NET, nr, 7, &pod_bytes(&net), &[]);
        assert!(matches!(decoded(&r).unwrap().carried, Ok(None)));
        let r = record(sf_kind::SF_K_NET, nr, 7, &pod_bytes(&net), &[b"", &sa[..9]]);
        let d = decoded(&r).unwrap();
        assert!(d.carried.is_err());
        assert!(matches!(d.ev.kind, EventKind::Connect { .. }));
        // a connect that succeeded, is in progress, or failed on a socket that kept
        // another peer (EISCONN), or on no IP socket (ENOTSOCK): its socket says it all,
        // no enter
        let mut kept = net;
        kept.t.daddr[..4].copy_from_slice(&[127, 0, 0, 1]);
        kept.t.dport = 8080;
        let mut refused = net;
        refused.t.daddr[..4].copy_from_slice(&[127, 0, 0, 1]);
        let r = record(sf_kind::SF_K_NET, nr, 7, &pod_bytes(&refused), &[b"", &sa]);
        assert!(matches!(decoded(&r).unwrap().carried, Ok(Some(_))));
        // refused through io_uring: the socket keeps the peer it tried, which is the
        // address asked for (before the fix of this case: no enter, the flow all zeros)
        let mut tried = refused;
        tried.t.dport = 41199;
        let r = record(sf_kind::SF_K_NET, nr, 7, &pod_bytes(&tried), &[b"", &sa]);
        match decoded(&r).unwrap().carried {
            Ok(Some(SysEvent {
                kind:
                    EventKind::ConnectEnter {
                        addr: Some(SockAddr::V4([127, 0, 0, 1], 41199)),
                        ..
                    },
                ..
            })) => {}
            other => panic!("{other:?}"),
        }
        // the same peer asked again on a socket connected to it (EISCONN), or still
        // connecting (EALREADY): no enter, the state keeps what it has (an accepted
        // socket's tuple is the other way round)
        for res in [-106, -114] {
            let n = sf_net { res, ..tried };
            let r = record(sf_kind::SF_K_NET, nr, 7, &pod_bytes(&n), &[b"", &sa]);
            assert!(matches!(decoded(&r).unwrap().carried, Ok(None)), "{res}");
        }
        // an IPv4 address asked of an IPv6 socket whose peer's first bytes match: no enter
        let mut v6 = tried;
        v6.t.family = AF_INET6;
        let r = record(sf_kind::SF_K_NET, nr, 7, &pod_bytes(&v6), &[b"", &sa]);
        assert!(matches!(decoded(&r).unwrap().carried, Ok(None)));
        let mut not_ip = net;
        not_ip.t.family = 0;
        for (res, n) in [(0, net), (-115, net), (-106, kept), (-88, not_ip)] {
            let n = sf_net { res, ..n };
            let r = record(sf_kind::SF_K_NET, nr, 7, &pod_bytes(&n), &[b"", &sa]);
            assert!(matches!(decoded(&r).unwrap().carried, Ok(None)), "{res}");
        }
    }

    /// Writes seeds for the `probe_pipeline` and `probe_record` fuzz targets when
    /// `SYSFLOW_FUZZ_SEED_DIR` names a directory (`scripts/fuzz.sh` does): records of
    /// process 100 as the probe writes them — an open, counters, a close, a close_range,
    /// a kernel fd description, an exit —, all in one file, each preceded by its length,
    /// and one per file. Without the variable it only checks that they decode.
    #[test]
    fn probe_pipeline_fuzz_seed() {
        let sys = |nr: sf_nr, res: i64, arg: [u64; 6], strs: &[&[u8]]| {
            let b = sf_sys {
                res,
                arg,
                aux: [0; 4],
            };
            let mut r = record(sf_kind::SF_K_SYS, nr.0, 100, &pod_bytes(&b), strs);
            r[12..16].copy_from_slice(&100u32.to_le_bytes()); // tgid
            r
        };
        let counts = sf_iocount {
            fd: 3,
            first_ts: 500,
            read_ops: 1,
            read_bytes: 10,
            write_ops: 2,
            write_bytes: 20,
        };
        let recs = [
            sys(
                sf_nr::SF_NR_OPENAT,
                3,
                [(-100i64) as u64, 0, 0, 0, 0, 0],
                &[b"/tmp/f\0"],
            ),
            record(sf_kind::SF_K_IOCOUNT, 0, 100, &pod_bytes(&counts), &[]),
            sys(sf_nr::SF_NR_CLOSE, 0, [3, 0, 0, 0, 0, 0], &[]),
            sys(sf_nr::SF_NR_CLOSE_RANGE, 0, [3, 10, 0, 0, 0, 0], &[]),
            sys(sf_nr::SF_NR_FD_SEEN, 4, [0; 6], &[b"/tmp/g\0"]),
            record(
                sf_kind::SF_K_EXIT,
                0,
                101,
                &pod_bytes(&sf_exit {
                    status: 0,
                    group_dead: 0,
                    pad: 0,
                }),
                &[],
            ),
        ];
        let mut seed = Vec::new();
        for r in &recs {
            assert!(event(r).is_ok(), "{:?}", event(r).err());
            seed.extend_from_slice(&(r.len() as u16).to_le_bytes());
            seed.extend_from_slice(r);
        }
        if let Some(dir) = std::env::var_os("SYSFLOW_FUZZ_SEED_DIR") {
            // the sequence for probe_pipeline, each record alone for probe_record
            let dir = std::path::Path::new(&dir);
            std::fs::write(dir.join("records"), seed).unwrap();
            for (i, r) in recs.iter().enumerate() {
                std::fs::write(dir.join(format!("record{i}")), r).unwrap();
            }
        }
    }

    #[test]
    fn golden_open_record() {
        // hdr (40) + sf_sys (88) + "/tmp/f\0", byte for byte as the probe writes it.
        let mut rec = Vec::new();
        rec.extend_from_slice(&5_000_000_000u64.to_le_bytes()); // ts
        rec.extend_from_slice(&77u32.to_le_bytes()); // tid
        rec.extend_from_slice(&70u32.to_le_bytes()); // tgid
        rec.extend_from_slice(&(40u32 + 88 + 7).to_le_bytes()); // size
        rec.extend_from_slice(&1u16.to_le_bytes()); // kind SF_K_SYS
        rec.extend_from_slice(&257u16.to_le_bytes()); // nr openat
        for l in [7u16, 0, 0, 0, 0, 0] {
            rec.extend_from_slice(&l.to_le_bytes());
        }
        rec.extend_from_slice(&[0; 4]); // flags, pad
        rec.extend_from_slice(&3i64.to_le_bytes()); // res: fd 3
        for a in [
            (-100i64) as u64 & 0xffff_ffff,
            0x7fff_0000,
            0o101 | 0o2000000,
            0o644,
            0,
            0,
        ] {
            rec.extend_from_slice(&a.to_le_bytes());
        }
        for x in [1u64, 0, 0, 0] {
            rec.extend_from_slice(&x.to_le_bytes()); // aux: created
        }
        rec.extend_from_slice(b"/tmp/f\0");
        let ev = event(&rec).unwrap();
        assert_eq!(ev.tid, 77);
        assert_eq!(ev.ts, clock::to_epoch(5_000_000_000));
        let EventKind::Open(o) = ev.kind else {
            panic!("{:?}", ev.kind)
        };
        assert_eq!(o.kind, OpenKind::OpenAt);
        assert_eq!(o.fd, 3);
        assert_eq!(o.dirfd, Some(-100));
        assert_eq!(o.path, Some(&b"/tmp/f"[..]));
        let want = OpenFlags::WRONLY | OpenFlags::CREAT | OpenFlags::CLOEXEC | OpenFlags::F_CREATED;
        assert_eq!(o.flags, want.bits());
    }

    /// An openat record as the probe writes it with `sf_open_user_path` off: `strs` are
    /// the strings' lengths, in slot order, then their bytes.
    fn open_record(slen: [u16; 2], strs: &[u8]) -> Vec<u8> {
        let mut rec = Vec::new();
        rec.extend_from_slice(&5_000_000_000u64.to_le_bytes()); // ts
        rec.extend_from_slice(&77u32.to_le_bytes()); // tid
        rec.extend_from_slice(&70u32.to_le_bytes()); // tgid
        rec.extend_from_slice(&(40u32 + 88 + strs.len() as u32).to_le_bytes()); // size
        rec.extend_from_slice(&1u16.to_le_bytes()); // kind SF_K_SYS
        rec.extend_from_slice(&257u16.to_le_bytes()); // nr openat
        for l in [slen[0], slen[1], 0, 0, 0, 0] {
            rec.extend_from_slice(&l.to_le_bytes());
        }
        rec.extend_from_slice(&[0; 4]); // flags, pad
        rec.extend_from_slice(&4i64.to_le_bytes()); // res: fd 4
        for a in [(-100i64) as u64 & 0xffff_ffff, 0x7fff_0000, 0, 0, 0, 0] {
            rec.extend_from_slice(&a.to_le_bytes());
        }
        rec.extend_from_slice(&[0; 32]); // aux
        rec.extend_from_slice(strs);
        rec
    }

    #[test]
    fn an_open_with_the_kernel_path_alone_or_with_the_path_as_passed() {
        // the kernel's path alone: slot 0 empty, slot 1 the path
        let rec = open_record([0, 13], b"/work/data.b\0");
        let ev = event(&rec).unwrap();
        let EventKind::Open(o) = ev.kind else {
            panic!("{:?}", ev.kind)
        };
        assert_eq!((o.fd, o.path), (4, None));
        assert_eq!(o.kernel_path, Some(&b"/work/data.b"[..]));
        // a pseudo file: the path as passed, then "/"
        let rec = open_record([16, 2], b"/proc/self/fd/5\0/\0");
        let ev = event(&rec).unwrap();
        let EventKind::Open(o) = ev.kind else {
            panic!("{:?}", ev.kind)
        };
        assert_eq!(o.path, Some(&b"/proc/self/fd/5"[..]));
        assert_eq!(o.kernel_path, Some(&b"/"[..]));
    }

    #[test]
    fn golden_iocount_and_exit_records() {
        let c = sf_iocount {
            fd: 5,
            first_ts: 10,
            read_ops: 2,
            read_bytes: 300,
            write_ops: 3,
            write_bytes: 7,
        };
        let rec = record(sf_kind::SF_K_IOCOUNT, 0, 9, &pod_bytes(&c), &[]);
        let ev = event(&rec).unwrap();
        let EventKind::IoCounters(k) = ev.kind else {
            panic!()
        };
        assert_eq!(
            (k.fd, k.read_ops, k.read_bytes, k.write_ops, k.write_bytes),
            (5, 2, 300, 3, 7)
        );
        assert_eq!(k.first_ts, clock::to_epoch(10));
        let e = sf_exit {
            status: 3 << 8,
            group_dead: 1,
            pad: 0,
        };
        let rec = record(sf_kind::SF_K_EXIT, 0, 9, &pod_bytes(&e), &[]);
        let ev = event(&rec).unwrap();
        assert!(matches!(
            ev.kind,
            EventKind::Exit {
                status: 768,
                reaper: None
            }
        ));
    }

    #[test]
    fn a_close_carries_the_closing_threads_counters() {
        let b = sf_sys {
            res: 0,
            arg: [5, 0, 0, 0, 0, 0],
            aux: [0; 4],
        };
        let c = sf_iocount {
            fd: 5,
            first_ts: 500,
            read_ops: 1,
            read_bytes: 10,
            write_ops: 2,
            write_bytes: 20,
        };
        let close = sf_nr::SF_NR_CLOSE.0;
        let mut rec = record(
            sf_kind::SF_K_SYS,
            close,
            9,
            &pod_bytes(&b),
            &[&pod_bytes(&c)],
        );
        // without the flag, str 0 means nothing
        assert!(close_counters(&rec).unwrap().is_none());
        rec[38..40].copy_from_slice(&(sf_hdr_flags::SF_HF_COUNTS.0 as u16).to_ne_bytes());
        let ev = close_counters(&rec).unwrap().unwrap();
        assert_eq!(ev.tid, 9);
        let EventKind::IoCounters(k) = ev.kind else {
            panic!("{:?}", ev.kind)
        };
        assert_eq!(
            (
                k.fd,
                k.read_ops,
                k.read_bytes,
                k.write_ops,
                k.write_bytes,
                k.pid
            ),
            (5, 1, 10, 2, 20, Some(9))
        );
        assert_eq!(k.first_ts, clock::to_epoch(500));
        // the close itself decodes as before
        assert!(matches!(
            event(&rec).unwrap().kind,
            EventKind::Close {
                fd: Some(5),
                res: 0
            }
        ));
        // delivered as the source delivers them: the counters, then the close
        let kinds = |rec: &[u8]| {
            let mut seen = Vec::new();
            let counts = deliver_record(rec, &mut |ev, _| {
                seen.push(match ev.kind {
                    EventKind::IoCounters(_) => "counters",
                    EventKind::Close { .. } => "close",
                    _ => "other",
                })
            });
            (seen, counts)
        };
        assert_eq!(kinds(&rec), (vec!["counters", "close"], (2, 0)));
        // counters missing, cut short or too long: an error, never a panic (the close
        // still delivered, the counters counted as a decode error)
        let mut long = pod_bytes(&c);
        long.push(0);
        for str0 in [&[][..], &[1, 2, 3][..], &long[..]] {
            let mut bad = record(sf_kind::SF_K_SYS, close, 9, &pod_bytes(&b), &[str0]);
            bad[38..40].copy_from_slice(&(sf_hdr_flags::SF_HF_COUNTS.0 as u16).to_ne_bytes());
            assert!(close_counters(&bad).is_err(), "{} bytes", str0.len());
            assert_eq!(kinds(&bad), (vec!["close"], (1, 1)), "{} bytes", str0.len());
        }
        // the flag on another syscall's record means nothing
        let mut open = record(sf_kind::SF_K_SYS, 2, 9, &pod_bytes(&b), &[&pod_bytes(&c)]);
        open[38..40].copy_from_slice(&(sf_hdr_flags::SF_HF_COUNTS.0 as u16).to_ne_bytes());
        assert!(close_counters(&open).unwrap().is_none());
    }

    #[test]
    fn cgroup_moves_carry_the_new_cgroups() {
        let m = sf_cgmove {
            threadgroup: 1,
            in_exec: 0,
        };
        let cg: &[u8] = b"memory=/docker/x\0unified=/\0";
        let rec = record(sf_kind::SF_K_CGROUP, 0, 9, &pod_bytes(&m), &[b"", b"", cg]);
        assert!(!moved_during_exec(&rec));
        let in_exec = sf_cgmove { in_exec: 1, ..m };
        let rec2 = record(
            sf_kind::SF_K_CGROUP,
            0,
            9,
            &pod_bytes(&in_exec),
            &[b"", b"", cg],
        );
        assert!(moved_during_exec(&rec2));
        let ev = event(&rec).unwrap();
        assert_eq!(ev.tid, 9);
        let EventKind::CgroupMove {
            cgroups,
            threadgroup,
        } = ev.kind
        else {
            panic!("{:?}", ev.kind)
        };
        assert!(threadgroup);
        assert_eq!(cgroups, cg);
        // A body shorter than the kind's is an error, not a panic.
        let short = record(sf_kind::SF_K_CGROUP, 0, 9, &[1, 0], &[]);
        assert!(event(&short).is_err());
    }

    #[test]
    fn fd_seen_records_name_files_and_sockets() {
        let b = sf_sys {
            res: 39,
            arg: [0; 6],
            aux: [1234, 0o2 | 0o2000, 0o100644, 0],
        };
        let rec = record(
            sf_kind::SF_K_SYS,
            sf_nr::SF_NR_FD_SEEN.0,
            7,
            &pod_bytes(&b),
            &[b"\0", b"/var/log/ci.log\0"],
        );
        let ev = event(&rec).unwrap();
        let EventKind::FdSeen {
            fd,
            mode,
            ino,
            flags,
            path,
            tuple,
            sock_type,
            ..
        } = ev.kind
        else {
            panic!("{:?}", ev.kind)
        };
        assert_eq!(
            (fd, mode, ino, flags, path, tuple, sock_type),
            (
                39,
                0o100644,
                1234,
                0o2002,
                Some(&b"/var/log/ci.log"[..]),
                None,
                0
            )
        );
        let (fd, info) = super::super::fd_seen_info(&ev.kind).unwrap();
        assert_eq!(
            (fd, info.kind, info.name.as_slice()),
            (39, crate::state::FdKind::FileV2, &b"/var/log/ci.log"[..])
        );
        assert_eq!(info.openflags, (OpenFlags::RDWR | OpenFlags::APPEND).bits());

        let mut t = sf_tuple {
            family: 2,
            sport: 40000,
            dport: 8080,
            ..Default::default()
        };
        t.saddr[..4].copy_from_slice(&[127, 0, 0, 1]);
        t.daddr[..4].copy_from_slice(&[127, 0, 0, 2]);
        let n = sf_net {
            res: 0,
            fd: 5,
            t,
            sock_type: 1,
            pad: 0,
        };
        let rec = record(
            sf_kind::SF_K_NET,
            sf_nr::SF_NR_FD_SEEN.0,
            7,
            &pod_bytes(&n),
            &[],
        );
        let ev = event(&rec).unwrap();
        let (fd, info) = super::super::fd_seen_info(&ev.kind).unwrap();
        assert_eq!((fd, info.kind), (5, crate::state::FdKind::Ipv4Sock));
        assert_eq!(info.l4proto, crate::state::l4::TCP);
        assert_eq!(
            (info.v4.sip, info.v4.sport, info.v4.dip, info.v4.dport),
            ([127, 0, 0, 1], 40000, [127, 0, 0, 2], 8080)
        );
        assert_eq!(info.role, crate::state::Role::Client);
        // the same connection made by accept (res 1): the server's end, its peer first
        let rec = record(
            sf_kind::SF_K_NET,
            sf_nr::SF_NR_FD_SEEN.0,
            7,
            &pod_bytes(&sf_net { res: 1, ..n }),
            &[],
        );
        let ev = event(&rec).unwrap();
        let (_, info) = super::super::fd_seen_info(&ev.kind).unwrap();
        assert_eq!(info.role, crate::state::Role::Server);
        assert_eq!(
            (info.v4.sip, info.v4.sport, info.v4.dip, info.v4.dport),
            ([127, 0, 0, 2], 8080, [127, 0, 0, 1], 40000)
        );
    }

    #[test]
    fn golden_connect_accept_tuples() {
        let mut t = sf_tuple {
            family: 2,
            sport: 40000,
            dport: 8080,
            ..Default::default()
        };
        t.saddr[..4].copy_from_slice(&[127, 0, 0, 1]);
        t.daddr[..4].copy_from_slice(&[127, 0, 0, 2]);
        let n = sf_net {
            res: 0,
            fd: 4,
            t,
            sock_type: 1,
            pad: 0,
        };
        let rec = record(sf_kind::SF_K_NET, 42, 1, &pod_bytes(&n), &[]);
        let ev = event(&rec).unwrap();
        let EventKind::Connect { fd, tuple, res, .. } = ev.kind else {
            panic!()
        };
        assert_eq!((fd, res), (Some(4), 0));
        assert_eq!(
            tuple,
            Some(SockTuple::V4 {
                sip: [127, 0, 0, 1],
                sport: 40000,
                dip: [127, 0, 0, 2],
                dport: 8080
            })
        );
        let unix = sf_net {
            res: 6,
            fd: 6,
            t: sf_tuple {
                family: 1,
                sk: 0xaa,
                peer: 0xbb,
                ..Default::default()
            },
            sock_type: 1,
            pad: 0,
        };
        let rec = record(sf_kind::SF_K_NET, 288, 1, &pod_bytes(&unix), &[b"/run/s\0"]);
        let ev = event(&rec).unwrap();
        assert!(matches!(
            ev.kind,
            EventKind::Accept {
                fd: 6,
                tuple: Some(SockTuple::Unix {
                    source: 0xaa,
                    dest: 0xbb,
                    path: b"/run/s"
                })
            }
        ));
    }

    #[test]
    fn golden_clone_record() {
        let mut p = sf_proc {
            res: 0,
            clone_flags: 0x0001_0000 | 0x0000_0400 | 0x0000_0100, // THREAD|FILES|VM
            start_ts: 5,
            tid: 11,
            pid: 10,
            ptid: 1,
            vtid: 11,
            vpid: 10,
            uid: 1000,
            gid: 100,
            ..Default::default()
        };
        p.comm[..4].copy_from_slice(b"bash");
        let rec = record(
            sf_kind::SF_K_CLONE,
            56,
            11,
            &pod_bytes(&p),
            &[b"/bin/bash\0", b"-c\0true\0", b"cpu=/a\0memory=/b\0"],
        );
        let ev = event(&rec).unwrap();
        let EventKind::Clone(c) = ev.kind else {
            panic!()
        };
        assert_eq!(c.res, 0);
        assert_eq!(c.flags, Some((1 << 13) | (1 << 0) | (1 << 15)));
        assert_eq!(c.info.exe, Some(&b"/bin/bash"[..]));
        assert_eq!(c.info.args, Some(&b"-c\0true\0"[..]));
        assert_eq!(c.info.comm, Some(&b"bash"[..]));
        assert_eq!(c.info.cgroups, Some(&b"cpu=/a\0memory=/b\0"[..]));
        assert_eq!((c.info.tid, c.info.pid, c.info.ptid), (11, 10, 1));
        assert_eq!((c.info.uid, c.info.gid), (Some(1000), Some(100)));
    }

    #[test]
    fn malformed_records_are_errors_not_panics() {
        let good = record(sf_kind::SF_K_EXIT, 0, 1, &[0; 16], &[]);
        for cut in 0..good.len() {
            assert!(event(&good[..cut]).is_err(), "cut at {cut}");
        }
        // a string longer than the record
        let mut bad_len = record(sf_kind::SF_K_SYS, 2, 1, &[0; 88], &[b"x\0"]);
        bad_len[24] = 200;
        assert!(event(&bad_len).is_err());
        // unknown kind, unexpected syscall
        assert!(event(&record(sf_kind(99), 0, 1, &[0; 16], &[])).is_err());
        assert!(event(&record(sf_kind::SF_K_SYS, 0, 1, &[0; 88], &[])).is_err());
        // random garbage never panics
        let mut x: u64 = 0x1234_5678;
        for _ in 0..2000 {
            let mut buf = good.clone();
            for b in buf.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if x % 5 == 0 {
                    *b = x as u8;
                }
            }
            let _ = event(&buf);
        }
    }

    #[test]
    fn flag_conversions() {
        assert_eq!(ppm_clone_flags(17), 0); // fork: SIGCHLD only
        assert_eq!(ppm_clone_flags(0x4000 | 0x100 | 17), (1 << 27) | (1 << 15));
        assert_eq!(ppm_clone_flags(0x2000_0000), 1 << 6);
        assert_eq!(ppm_map_flags(0x01), 1);
        assert_eq!(ppm_map_flags(0x02 | 0x20), (1 << 1) | (1 << 3));
    }

    /// What the source delivers of a record ([`deliver_record`]) is what [`decoded`] makes
    /// of it, in the source's order (the carried event first), with the decode errors
    /// counted as the source counts them.
    #[test]
    fn delivery_gives_the_decoded_events_carried_first() {
        let mut net = sf_net {
            res: -111,
            fd: 5,
            ..Default::default()
        };
        net.t.family = AF_INET;
        let mut sa = vec![2u8, 0];
        sa.extend_from_slice(&41199u16.to_be_bytes());
        sa.extend_from_slice(&[127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
        let nr = sf_nr::SF_NR_CONNECT.0;
        let body = pod_bytes(&net);
        let delivered = |r: &[u8]| {
            let mut seen = Vec::new();
            let counts =
                deliver_record(r, &mut |ev, in_exec| seen.push(format!("{ev:?} {in_exec}")));
            (seen, counts)
        };
        // an enter and an exit
        let r = record(sf_kind::SF_K_NET, nr, 7, &body, &[b"", &sa]);
        let d = decoded(&r).unwrap();
        let want = vec![
            format!("{:?} false", d.carried.unwrap().unwrap()),
            format!("{:?} {}", d.ev, d.moved_in_exec),
        ];
        assert!(want[0].contains("ConnectEnter"), "{want:?}");
        assert_eq!(delivered(&r), (want, (2, 0)));
        // a damaged address: the exit alone, one error
        let r = record(sf_kind::SF_K_NET, nr, 7, &body, &[b"", &sa[..9]]);
        let d = decoded(&r).unwrap();
        assert_eq!(delivered(&r), (vec![format!("{:?} false", d.ev)], (1, 1)));
        // a record cut short: nothing, one error
        let r = record(sf_kind::SF_K_NET, nr, 7, &body, &[b"", &sa]);
        assert!(decoded(&r[..30]).is_err());
        assert_eq!(delivered(&r[..30]), (vec![], (0, 1)));
        // a body shorter than its kind's: nothing, one error
        let r = record(sf_kind::SF_K_NET, nr, 7, &body[..8], &[]);
        assert!(decoded(&r).is_err());
        assert_eq!(delivered(&r), (vec![], (0, 1)));
    }
}
