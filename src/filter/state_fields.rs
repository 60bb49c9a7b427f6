//! The filter's fields for one event, read from the event and the capture state (after
//! the state applied the event, so an execve's `proc.*` fields describe the new program
//! and a close's `fd.*` fields still name the closed fd).

use super::fields::{ArgSel, EventFields, Field, Value};
use super::names::EVENTS;
use super::param_types::{EF_CREATES_FD, EF_DESTROYS_FD, EF_USES_FD, EVENT_FLAGS, PARAM_TYPES};
use crate::event::{EventKind, FileOp, IdChange, IoDir, OpenKind, SockAddr, SysEvent};
use crate::source::ScapOrigin;
use crate::state::{ContainerInfo, FdInfo, FdKind, Role, State, Thread, ctype, l4};
use std::cell::OnceCell;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;

/// One event as the filter sees it.
pub(crate) struct StateEvent<'a, 'e> {
    /// The state, after it applied the event.
    pub st: &'a State,
    /// The event.
    pub ev: &'a SysEvent<'e>,
    /// Its scap event number (`PPME_*`): exact for a capture, derived from the event's kind
    /// for live capture ([`event_code`]).
    pub code: u16,
    /// Its number among the events the source delivered, from 1.
    pub num: u64,
    /// What the capture says of it (offline): its parameters, and the fd of events the
    /// model does not keep (enter events, exits of calls SysFlow ignores).
    pub raw: Option<&'a ScapOrigin<'e>>,
    /// The event's thread and its container, looked up once for all the filter's checks.
    looked_up: OnceCell<(Option<&'a Thread>, Option<&'a ContainerInfo>)>,
}

impl<'a, 'e> StateEvent<'a, 'e> {
    /// The filter's view of `ev` (after `st` applied it): `code` its scap event number,
    /// `num` its event number, `raw` what a capture says of it.
    pub fn new(
        st: &'a State,
        ev: &'a SysEvent<'e>,
        code: u16,
        num: u64,
        raw: Option<&'a ScapOrigin<'e>>,
    ) -> Self {
        StateEvent {
            st,
            ev,
            code,
            num,
            raw,
            looked_up: OnceCell::new(),
        }
    }

    fn lookups(&self) -> (Option<&'a Thread>, Option<&'a ContainerInfo>) {
        *self.looked_up.get_or_init(|| {
            let t = self.st.threads.get(self.tid());
            let c = t
                .filter(|t| !t.container_id.is_empty())
                .and_then(|t| self.st.containers.get(&t.container_id));
            (t, c)
        })
    }

    /// The container of the event's thread, if it is in one the state knows.
    fn container(&self) -> Option<&'a ContainerInfo> {
        self.lookups().1
    }
}

/// The scap event numbers of the events the live source reports, found by name in the
/// event table once: each name's last exit event (the current version), or for the
/// events the capture library reports at the call (procexit, mmap), the enter event.
struct Codes {
    by_name: rustc_hash::FxHashMap<&'static str, u16>,
}

/// The event table's name of event `code` (`None` for numbers it does not name).
fn event_name(code: u16) -> Option<&'static str> {
    EVENTS
        .get(usize::from(code))
        .map(|e| e.0)
        .filter(|n| *n != "NA")
}

/// The parameter names of event `code`, in order.
fn event_param_names(code: u16) -> &'static [&'static str] {
    EVENTS.get(usize::from(code)).map_or(&[], |e| e.1)
}

fn codes() -> &'static Codes {
    static CODES: OnceLock<Codes> = OnceLock::new();
    CODES.get_or_init(|| {
        let mut by_name = rustc_hash::FxHashMap::default();
        for code in 0..=u16::MAX {
            let Some(name) = event_name(code) else {
                if usize::from(code) >= EVENTS.len() {
                    break;
                }
                continue;
            };
            let enter_only = matches!(name, "procexit" | "mmap" | "mmap2");
            if (code % 2 == 1) != enter_only {
                by_name.insert(name, code);
            }
        }
        Codes { by_name }
    })
}

/// The index of the `fd` parameter of an event that acts on an fd (`EF_USES_FD`), for
/// the capture reader to remember an enter event's fd for its exit.
pub(crate) fn fd_param_index(code: u16) -> Option<usize> {
    static INDEX: OnceLock<Vec<Option<u8>>> = OnceLock::new();
    let table = INDEX.get_or_init(|| {
        (0..EVENTS.len())
            .map(|c| {
                if EVENT_FLAGS[c] & EF_USES_FD == 0 {
                    return None;
                }
                EVENTS[c].1.iter().position(|n| *n == "fd").map(|i| i as u8)
            })
            .collect()
    });
    table
        .get(usize::from(code))
        .copied()
        .flatten()
        .map(usize::from)
}

/// The scap event number of the current version of the event called `name` (its exit
/// event, or its enter event for procexit and mmap); 0 (`syscall`) if the table has no
/// such event.
pub(crate) fn code_of_name(name: &str) -> u16 {
    codes().by_name.get(name).copied().unwrap_or(0)
}

/// The scap event number of what a live event reports: the syscall's exit event (its
/// current version), by the event's kind. `None` for what is not a syscall (a cgroup
/// move, an fd the kernel described, capture metadata): such events only update the
/// state, and no filter applies to them.
pub(crate) fn event_code(ev: &SysEvent<'_>) -> Option<u16> {
    let name = match ev.kind {
        EventKind::Clone(_) => "clone",
        EventKind::Execve(_) => "execve",
        EventKind::ExecveAt { .. } => "execveat",
        EventKind::Exit { .. } => "procexit",
        EventKind::SetIds { change, .. } => match change {
            Some(IdChange::SetUid(_)) | None => "setuid",
            Some(IdChange::SetReuid(..)) => "setreuid",
            Some(IdChange::SetResuid(..)) => "setresuid",
            Some(IdChange::SetGid(_)) => "setgid",
            Some(IdChange::SetRegid(..)) => "setregid",
            Some(IdChange::SetResgid(..)) => "setresgid",
        },
        EventKind::Open(o) => match o.kind {
            OpenKind::Open => "open",
            OpenKind::OpenAt => "openat",
            OpenKind::OpenAt2 => "openat2",
            OpenKind::Creat => "creat",
            OpenKind::ByHandle => "open_by_handle_at",
            OpenKind::Other => "timerfd_create",
        },
        EventKind::Io(io) => match (io.dir, io.tuple.is_some()) {
            (IoDir::Read, false) => "read",
            (IoDir::Read, true) => "recvfrom",
            (IoDir::Write, false) => "write",
            (IoDir::Write, true) => "sendto",
        },
        EventKind::IoCounters(c) => {
            if c.read_ops > 0 || c.read_bytes > 0 {
                "read"
            } else {
                "write"
            }
        }
        EventKind::Close { .. } => "close",
        EventKind::Shutdown { .. } => "shutdown",
        EventKind::Mmap { .. } => "mmap",
        EventKind::Setns { .. } => "setns",
        EventKind::Socket { .. } => "socket",
        EventKind::Socketpair { .. } => "socketpair",
        EventKind::Bind { .. } => "bind",
        EventKind::ConnectEnter { .. } => return Some(code_of_name("connect") - 1),
        EventKind::Connect { .. } => "connect",
        EventKind::Accept { .. } => "accept",
        EventKind::Pipe { .. } => "pipe",
        EventKind::Dup { .. } => "dup",
        EventKind::Chdir { .. } => "chdir",
        EventKind::Fchdir { .. } => "fchdir",
        EventKind::CloseRange { .. } => "close_range",
        EventKind::FileOp(f) => match (f.op, f.at) {
            (FileOp::Mkdir, false) => "mkdir",
            (FileOp::Mkdir, true) => "mkdirat",
            (FileOp::Rmdir, _) => "rmdir",
            (FileOp::Unlink, false) => "unlink",
            (FileOp::Unlink, true) => "unlinkat",
            (FileOp::Link, false) => "link",
            (FileOp::Link, true) => "linkat",
            (FileOp::Symlink, false) => "symlink",
            (FileOp::Symlink, true) => "symlinkat",
            (FileOp::Rename, false) => "rename",
            (FileOp::Rename, true) => "renameat",
        },
        EventKind::NewFd { name, .. } => {
            let bare = name.strip_prefix(b"anon_inode:").unwrap_or(name);
            match bare {
                b"[eventfd]" => "eventfd",
                b"[eventpoll]" => "epoll_create",
                b"[timerfd]" => "timerfd_create",
                b"[signalfd]" => "signalfd",
                b"inotify" | b"[inotify]" => "inotify_init",
                b"[userfaultfd]" => "userfaultfd",
                b"[io_uring]" => "io_uring_setup",
                b"[pidfd]" | b"pidfd" => "pidfd_open",
                _ if bare.starts_with(b"memfd:") => "memfd_create",
                _ => "syscall",
            }
        }
        EventKind::CgroupMove { .. }
        | EventKind::FdSeen { .. }
        | EventKind::Other
        | EventKind::ContainerJson(_)
        | EventKind::UserAdded { .. }
        | EventKind::GroupAdded { .. } => return None,
    };
    Some(code_of_name(name))
}

/// The errno name of a negative result (`ENOENT`), into `out`.
fn errno_name(res: i64, out: &mut Vec<u8>) {
    let n = i32::try_from(-res).unwrap_or(0);
    let e = nix::errno::Errno::from_raw(n);
    if e == nix::errno::Errno::UnknownErrno {
        let _ = write!(out, "{res}");
    } else {
        let _ = write!(out, "{e:?}");
    }
}

/// libsinsp's `fd.type` names.
fn fd_type_name(k: FdKind) -> &'static [u8] {
    match k {
        FdKind::File | FdKind::FileV2 => b"file",
        FdKind::Directory => b"directory",
        FdKind::Ipv4Sock | FdKind::Ipv4ServSock => b"ipv4",
        FdKind::Ipv6Sock | FdKind::Ipv6ServSock => b"ipv6",
        FdKind::Fifo => b"pipe",
        FdKind::UnixSock => b"unix",
        FdKind::Event => b"event",
        FdKind::Signalfd => b"signalfd",
        FdKind::Eventpoll => b"eventpoll",
        FdKind::Inotify => b"inotify",
        FdKind::Timerfd => b"timerfd",
        FdKind::Netlink => b"netlink",
        FdKind::Bpf => b"bpf",
        FdKind::Userfaultfd => b"userfaultfd",
        FdKind::Iouring => b"io_uring",
        FdKind::Memfd => b"memfd",
        FdKind::Pidfd => b"pidfd",
        FdKind::Unknown | FdKind::Unsupported => b"unknown",
    }
}

/// libsinsp's `container.type` names, by SysFlow container type.
fn container_type_name(t: u32) -> &'static [u8] {
    match t {
        ctype::DOCKER => b"docker",
        ctype::LXC => b"lxc",
        ctype::LIBVIRT_LXC => b"libvirt-lxc",
        3 => b"mesos",
        4 => b"rkt",
        ctype::CRI => b"cri",
        ctype::CONTAINERD => b"containerd",
        ctype::CRIO => b"cri-o",
        9 => b"bpm",
        ctype::PODMAN => b"podman",
        _ => b"unknown",
    }
}

/// The `PPM_O_*` flag names, as the capture library renders open flags.
const OPEN_FLAG_NAMES: [(u32, &str); 13] = [
    (1 << 2, "O_CREAT"),
    (1 << 3, "O_APPEND"),
    (1 << 4, "O_DSYNC"),
    (1 << 5, "O_EXCL"),
    (1 << 6, "O_NONBLOCK"),
    (1 << 7, "O_SYNC"),
    (1 << 8, "O_TRUNC"),
    (1 << 9, "O_DIRECT"),
    (1 << 10, "O_DIRECTORY"),
    (1 << 11, "O_LARGEFILE"),
    (1 << 12, "O_CLOEXEC"),
    (1 << 13, "O_TMPFILE"),
    (0, ""),
];

fn open_flags_text(flags: u32, out: &mut Vec<u8>) {
    let mode: &[u8] = match flags & 3 {
        0 => b"O_NONE",
        1 => b"O_RDONLY",
        2 => b"O_WRONLY",
        _ => b"O_RDWR",
    };
    out.extend_from_slice(mode);
    for (bit, name) in OPEN_FLAG_NAMES {
        if bit != 0 && flags & bit != 0 {
            out.push(b'|');
            out.extend_from_slice(name.as_bytes());
        }
    }
}

/// A little-endian integer parameter of 1, 2, 4 or 8 bytes.
fn int_of(b: &[u8], signed: bool) -> Option<i64> {
    Some(match (b.len(), signed) {
        (1, true) => i64::from(b[0] as i8),
        (1, false) => i64::from(b[0]),
        (2, true) => i64::from(i16::from_le_bytes(b.try_into().ok()?)),
        (2, false) => i64::from(u16::from_le_bytes(b.try_into().ok()?)),
        (4, true) => i64::from(i32::from_le_bytes(b.try_into().ok()?)),
        (4, false) => i64::from(u32::from_le_bytes(b.try_into().ok()?)),
        (8, _) => i64::from_le_bytes(b.try_into().ok()?),
        _ => return None,
    })
}

fn ip4(a: [u8; 4]) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(a))
}

fn ip6(a: [u8; 16]) -> IpAddr {
    let v6 = Ipv6Addr::from(a);
    match v6.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(v6),
    }
}

/// A socket's two ends: (client address, client port, server address, server port), or
/// only the server end for a listening socket.
struct Ends {
    client: Option<(IpAddr, u16)>,
    server: (IpAddr, u16),
}

/// The ends of a socket that has a role (libsinsp leaves the address fields of a socket
/// it has not seen connect, accept or bind missing); a listening socket always has them.
fn role_ends(f: &FdInfo) -> Option<Ends> {
    if f.is_ip_socket() && f.role == Role::None {
        return None;
    }
    ends(f)
}

fn ends(f: &FdInfo) -> Option<Ends> {
    match f.kind {
        FdKind::Ipv4Sock => Some(Ends {
            client: Some((ip4(f.v4.sip), f.v4.sport)),
            server: (ip4(f.v4.dip), f.v4.dport),
        }),
        FdKind::Ipv6Sock => Some(Ends {
            client: Some((ip6(f.v6.sip), f.v6.sport)),
            server: (ip6(f.v6.dip), f.v6.dport),
        }),
        FdKind::Ipv4ServSock => Some(Ends {
            client: None,
            server: (ip4(f.serv_ip), f.serv_port),
        }),
        FdKind::Ipv6ServSock => Some(Ends {
            client: None,
            server: (ip6(f.v6.dip), f.v6.dport),
        }),
        _ => None,
    }
}

impl<'a> StateEvent<'a, '_> {
    /// The thread the event is charged to (counters shipped after their thread's exit go to
    /// a live thread of the same process).
    fn tid(&self) -> i64 {
        match self.ev.kind {
            EventKind::IoCounters(_) => self.st.counter_tid().unwrap_or(self.ev.tid),
            _ => self.ev.tid,
        }
    }

    fn thread(&self) -> Option<&'a Thread> {
        self.lookups().0
    }

    /// The `n`th ancestor (0 = the thread itself), following parent threads.
    fn ancestor(&self, n: u32) -> Option<&'a Thread> {
        let mut t = self.thread()?;
        for _ in 0..n {
            t = self.st.threads.parent_of(t.tid)?;
        }
        Some(t)
    }

    /// The result of an exit event, when it has one: a capture's first parameter when it
    /// is the result (`res`, or `fd` for the calls that make one), else the model's.
    fn res(&self) -> Option<i64> {
        if let Some(raw) = self.raw {
            if raw.code % 2 == 0 {
                return None;
            }
            let first = event_param_names(raw.code).first()?;
            if matches!(*first, "res" | "fd") {
                return int_of(raw.params.get(0)?, true);
            }
            return None;
        }
        Some(match self.ev.kind {
            EventKind::Clone(c) => c.res,
            EventKind::Execve(e) | EventKind::ExecveAt { exec: e, .. } => e.res,
            EventKind::SetIds { res, .. }
            | EventKind::Close { res, .. }
            | EventKind::Shutdown { res, .. }
            | EventKind::Setns { res, .. }
            | EventKind::Socketpair { res, .. }
            | EventKind::Bind { res, .. }
            | EventKind::Connect { res, .. }
            | EventKind::Pipe { res, .. }
            | EventKind::Dup { res, .. }
            | EventKind::Chdir { res, .. }
            | EventKind::Fchdir { res, .. }
            | EventKind::CloseRange { res, .. } => res,
            EventKind::Open(o) => o.fd,
            EventKind::Io(io) => io.res,
            EventKind::Socket { fd, .. }
            | EventKind::Accept { fd, .. }
            | EventKind::NewFd { fd, .. } => fd,
            EventKind::FileOp(f) => f.res,
            _ => return None,
        })
    }

    /// The fd the event is about, if any.
    /// The fd the model's event is about.
    fn fd_num(&self) -> Option<i64> {
        match self.ev.kind {
            EventKind::Open(o) => Some(o.fd),
            EventKind::Socket { fd, .. }
            | EventKind::Accept { fd, .. }
            | EventKind::NewFd { fd, .. }
            | EventKind::FdSeen { fd, .. }
            | EventKind::ConnectEnter { fd, .. } => Some(fd),
            EventKind::Io(io) => io.fd,
            EventKind::IoCounters(c) => Some(c.fd),
            EventKind::Close { fd, .. }
            | EventKind::Shutdown { fd, .. }
            | EventKind::Setns { fd, .. }
            | EventKind::Bind { fd, .. }
            | EventKind::Fchdir { fd, .. }
            | EventKind::Mmap { fd, .. } => fd,
            EventKind::Connect { fd, exit_fd, .. } => fd.or(exit_fd),
            EventKind::Dup { res, .. } => Some(res),
            EventKind::Pipe { fd1, res, .. } if res >= 0 => Some(fd1),
            EventKind::Socketpair { fd1, res, .. } if res >= 0 => Some(fd1),
            _ => None,
        }
    }

    /// The fd the event is about: the model's, else the capture's when the event table
    /// says the call uses an fd (`EF_USES_FD`: not mmap's, for one).
    fn event_fd(&self) -> Option<i64> {
        if let Some(raw) = self.raw {
            let uses_fd = EVENT_FLAGS
                .get(usize::from(raw.code))
                .is_some_and(|f| f & EF_USES_FD != 0);
            if !uses_fd {
                return match self.ev.kind {
                    EventKind::Open(_)
                    | EventKind::Socket { .. }
                    | EventKind::Accept { .. }
                    | EventKind::NewFd { .. }
                    | EventKind::Dup { .. }
                    | EventKind::Pipe { .. }
                    | EventKind::Socketpair { .. } => self.fd_num(),
                    _ => None,
                };
            }
        }
        // libsinsp's fd of an event that uses one is its enter event's `fd` parameter
        // (an fcntl's, not the fd F_DUPFD made); a dup of a known fd moves on to the new
        // fd, a dup of an unknown one stays on it
        if let EventKind::Dup { res, oldfd, .. } = self.ev.kind {
            let old = oldfd.or(self.raw.and_then(|r| r.fd));
            return match old {
                Some(o) if res >= 0 && self.st.fd(self.tid(), o).is_none() => Some(o),
                Some(o) if res < 0 => Some(o),
                _ => Some(res),
            };
        }
        self.raw.and_then(|r| r.fd).or_else(|| self.fd_num())
    }

    fn fd(&self) -> Option<&'a FdInfo> {
        let fd = self.event_fd()?;
        if fd < 0 {
            return None;
        }
        self.st.fd(self.tid(), fd)
    }

    /// The short id of the event's thread's container, empty on the host.
    fn container_id(&self) -> &str {
        self.thread().map_or("", |t| t.container_id.as_str())
    }

    /// Whether the event table says the event makes, uses or closes an fd: libsinsp's
    /// condition for any `fd.*` field to have a value.
    fn fd_related(&self) -> bool {
        EVENT_FLAGS
            .get(usize::from(self.code))
            .is_some_and(|f| f & (EF_CREATES_FD | EF_DESTROYS_FD | EF_USES_FD) != 0)
    }

    /// `fd.name` of an fd event whose fd has no entry, into `out`, as libsinsp gives it:
    /// none for enter events; the path of an open that left no fd (it failed), absolute
    /// against the working directory; else empty.
    fn null_fd_name(&self, out: &mut Vec<u8>) -> bool {
        if !self.fd_related() || self.code % 2 == 0 {
            return false;
        }
        if matches!(
            event_name(self.code),
            Some("connect" | "accept" | "accept4")
        ) {
            // the tuple parameter, as rendered (`evt.arg.tuple`)
            if let Some(origin) = self.raw {
                let _ = self.capture_arg(origin, "tuple", false, out);
            }
            return true;
        }
        let EventKind::Open(o) = self.ev.kind else {
            return true;
        };
        let Some(path) = o.kernel_path.or(o.path) else {
            return false;
        };
        if path.first() != Some(&b'/') {
            if let Some(m) = self.st.threads.main_of(self.tid()) {
                out.extend_from_slice(&m.cwd);
                if out.last() != Some(&b'/') {
                    out.push(b'/');
                }
            }
        }
        out.extend_from_slice(path);
        true
    }

    /// A parameter by its name in the scap event table, rendered as libsinsp renders it
    /// (for the parameters SysFlow's events carry).
    fn arg<'s>(&'s self, name: &str, raw: bool, out: &'s mut Vec<u8>) -> Option<Value<'s>> {
        if let Some(origin) = self.raw {
            return self.capture_arg(origin, name, raw, out);
        }
        let ev = self.ev;
        let num = |out: &'s mut Vec<u8>, v: i64| -> Option<Value<'s>> {
            let _ = write!(out, "{v}");
            Some(Value::Str(out))
        };
        let errno = |out: &'s mut Vec<u8>, v: i64| -> Option<Value<'s>> {
            if v < 0 && !raw {
                errno_name(v, out);
            } else {
                let _ = write!(out, "{v}");
            }
            Some(Value::Str(out))
        };
        let text = |out: &'s mut Vec<u8>, s: &[u8]| -> Option<Value<'s>> {
            out.extend_from_slice(s);
            Some(Value::Str(out))
        };
        match name {
            "res" => return errno(out, self.res()?),
            "fd" => {
                let fd = self.fd_num()?;
                if fd < 0 {
                    return errno(out, fd);
                }
                if !raw && let Some(f) = self.fd() {
                    let _ = write!(out, "{fd}(<{}>", f.kind.typechar() as char);
                    out.extend_from_slice(&f.name);
                    out.push(b')');
                    return Some(Value::Str(out));
                }
                return num(out, fd);
            }
            _ => {}
        }
        match ev.kind {
            EventKind::Open(o) => match name {
                "name" => text(out, o.path.or(o.kernel_path)?),
                "dirfd" => num(out, o.dirfd?),
                "flags" if raw => num(out, i64::from(o.flags)),
                "flags" => {
                    open_flags_text(o.flags, out);
                    Some(Value::Str(out))
                }
                _ => None,
            },
            EventKind::FileOp(f) => {
                let first = matches!(
                    (f.op, name),
                    (
                        FileOp::Mkdir | FileOp::Rmdir | FileOp::Unlink,
                        "path" | "name"
                    ) | (FileOp::Link | FileOp::Rename, "oldpath")
                        | (FileOp::Symlink, "target")
                );
                let second = matches!(
                    (f.op, name),
                    (FileOp::Link | FileOp::Rename, "newpath") | (FileOp::Symlink, "linkpath")
                );
                let dir1 = matches!(
                    (f.op, name),
                    (FileOp::Mkdir | FileOp::Unlink, "dirfd") | (_, "olddir" | "olddirfd")
                );
                let dir2 = matches!(name, "newdir" | "newdirfd" | "linkdirfd");
                if first {
                    text(out, f.path1?)
                } else if second {
                    text(out, f.path2?)
                } else if dir1 {
                    num(out, f.dirfd1?)
                } else if dir2 {
                    num(out, f.dirfd2?)
                } else {
                    None
                }
            }
            EventKind::Execve(e) | EventKind::ExecveAt { exec: e, .. } => match name {
                "exe" => text(out, e.info.exe?),
                "args" => {
                    for (i, a) in e.info.args?.split(|&b| b == 0).enumerate() {
                        if !a.is_empty() || i > 0 {
                            if i > 0 {
                                out.push(b' ');
                            }
                            out.extend_from_slice(a);
                        }
                    }
                    Some(Value::Str(out))
                }
                "tid" => num(out, e.info.tid),
                "pid" => num(out, e.info.pid),
                "ptid" => num(out, e.info.ptid),
                "cwd" => text(out, e.info.cwd?),
                "comm" => text(out, e.info.comm?),
                "filename" => text(out, e.filename?),
                "trusted_exepath" => text(out, e.exepath?),
                "uid" => num(out, i64::from(e.info.uid?)),
                "tty" => num(out, i64::from(e.tty?)),
                "loginuid" => num(out, i64::from(e.loginuid?)),
                _ => None,
            },
            EventKind::Clone(c) => match name {
                "exe" => text(out, c.info.exe?),
                "tid" => num(out, c.info.tid),
                "pid" => num(out, c.info.pid),
                "ptid" => num(out, c.info.ptid),
                "cwd" => text(out, c.info.cwd?),
                "comm" => text(out, c.info.comm?),
                "flags" => num(out, i64::from(c.flags?)),
                "uid" => num(out, i64::from(c.info.uid?)),
                "gid" => num(out, i64::from(c.info.gid?)),
                _ => None,
            },
            EventKind::Exit { status, reaper } => match name {
                "status" => num(out, status),
                "reaper_tid" => num(out, reaper?),
                _ => None,
            },
            EventKind::SetIds { change, .. } => match (name, change?) {
                ("uid", IdChange::SetUid(u)) | ("gid", IdChange::SetGid(u)) => {
                    num(out, i64::from(u))
                }
                ("ruid", IdChange::SetReuid(r, _) | IdChange::SetResuid(r, ..))
                | ("euid", IdChange::SetReuid(_, r) | IdChange::SetResuid(_, r, _))
                | ("suid", IdChange::SetResuid(_, _, r))
                | ("rgid", IdChange::SetRegid(r, _) | IdChange::SetResgid(r, ..))
                | ("egid", IdChange::SetRegid(_, r) | IdChange::SetResgid(_, r, _))
                | ("sgid", IdChange::SetResgid(_, _, r)) => num(out, i64::from(r)),
                _ => None,
            },
            EventKind::Chdir { path, .. } => match name {
                "path" => text(out, path?),
                _ => None,
            },
            EventKind::Socket {
                domain,
                sock_type,
                proto,
                ..
            } => match name {
                "domain" => num(out, i64::from(domain)),
                "type" => num(out, i64::from(sock_type)),
                "proto" => num(out, i64::from(proto)),
                _ => None,
            },
            EventKind::Bind { addr, .. } | EventKind::ConnectEnter { addr, .. } => match name {
                "addr" => {
                    match addr? {
                        SockAddr::V4(a, p) => {
                            let _ = write!(out, "{}:{p}", Ipv4Addr::from(a));
                        }
                        SockAddr::V6(a, p) => {
                            let _ = write!(out, "{}:{p}", Ipv6Addr::from(a));
                        }
                        SockAddr::Unix(path) => out.extend_from_slice(path),
                    }
                    Some(Value::Str(out))
                }
                _ => None,
            },
            EventKind::Connect { .. } | EventKind::Accept { .. } => match name {
                "tuple" => text(out, &self.fd()?.name),
                _ => None,
            },
            EventKind::Dup { oldfd, .. } => match name {
                "oldfd" => num(out, oldfd?),
                _ => None,
            },
            EventKind::Io(io) => match name {
                "size" => num(out, io.res.max(0)),
                _ => None,
            },
            _ => None,
        }
    }
}

impl StateEvent<'_, '_> {
    /// A capture's parameter by name, rendered by its type as libsinsp renders it (`raw`:
    /// `evt.rawarg`, numbers as numbers).
    fn capture_arg<'s>(
        &'s self,
        origin: &ScapOrigin<'_>,
        name: &str,
        raw: bool,
        out: &'s mut Vec<u8>,
    ) -> Option<Value<'s>> {
        let code = origin.code;
        let i = event_param_names(code).iter().position(|n| *n == name)?;
        let ty = *PARAM_TYPES.get(usize::from(code))?.as_bytes().get(i)?;
        let p = origin.params.get(i)?;
        match ty {
            b's' => out.extend_from_slice(crate::state::cstr(p)),
            b'p' | b'r' if raw => out.extend_from_slice(crate::state::cstr(p)),
            b'p' | b'r' => {
                // the resolved path: relative to the working directory, or to the
                // directory fd passed before it (`dirfd`, `olddirfd`, `newdir`, …)
                let path = crate::state::cstr(p);
                let dirfd = if ty == b'r' {
                    event_param_names(code)[..i]
                        .iter()
                        .rposition(|n| n.ends_with("dirfd") || n.ends_with("dir"))
                        .and_then(|j| int_of(origin.params.get(j)?, true))
                        .unwrap_or(crate::state::AT_FDCWD)
                } else {
                    crate::state::AT_FDCWD
                };
                if path.first() == Some(&b'/') || path.is_empty() {
                    out.extend_from_slice(path);
                } else {
                    let base = self.st.dirfd_base(self.tid(), path, dirfd);
                    out.extend_from_slice(&crate::state::path::concatenate(&base, path));
                }
            }
            b'b' => out.extend_from_slice(p),
            b'f' | b'e' | b'i' => {
                let v = int_of(p, true)?;
                if raw {
                    let _ = write!(out, "{v}");
                } else if v < 0 {
                    errno_name(v, out);
                } else if ty == b'f'
                    && let Some(f) = self.st.fd(self.tid(), v)
                {
                    let _ = write!(out, "{v}(<{}>", f.kind.typechar() as char);
                    out.extend_from_slice(&f.name);
                    out.push(b')');
                } else {
                    let _ = write!(out, "{v}");
                }
            }
            b't' => render_tuple(p, out)?,
            b'u' => {
                let v = int_of(p, false)? as u64;
                let open_like = matches!(
                    event_name(code),
                    Some("open" | "openat" | "openat2" | "creat")
                );
                if !raw && name == "flags" && open_like {
                    open_flags_text(v as u32, out);
                } else {
                    let _ = write!(out, "{v}");
                }
            }
            _ => return None,
        }
        Some(Value::Str(out))
    }
}

/// A socket tuple parameter as libsinsp renders it: `sip:sport->dip:dport` (IPv4),
/// `source->dest path` in hex (unix); `None` for other families.
fn render_tuple(p: &[u8], out: &mut Vec<u8>) -> Option<()> {
    let u16_at = |i: usize| Some(u16::from_le_bytes(p.get(i..i + 2)?.try_into().ok()?));
    let u64_at = |i: usize| Some(u64::from_le_bytes(p.get(i..i + 8)?.try_into().ok()?));
    match *p.first()? {
        2 => {
            let ip = |i: usize| -> Option<std::net::Ipv4Addr> {
                Some(<[u8; 4]>::try_from(p.get(i..i + 4)?).ok()?.into())
            };
            let _ = write!(out, "{}:{}->{}:{}", ip(1)?, u16_at(5)?, ip(7)?, u16_at(11)?);
        }
        1 => {
            let _ = write!(out, "{:x}->{:x} ", u64_at(1)?, u64_at(9)?);
            out.extend_from_slice(crate::state::cstr(p.get(17..)?));
        }
        _ => return None,
    }
    Some(())
}

/// `evt.time`: the local time of day, through the C library's `localtime_r` (the only
/// `unsafe` here: the time zone database is the C library's).
#[allow(unsafe_code)]
fn local_time(ts_ns: u64, out: &mut Vec<u8>) {
    let secs = (ts_ns / 1_000_000_000) as libc::time_t;
    // SAFETY: `tm` is plain data that localtime_r fills in; both pointers are valid for
    // the call.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&secs, &mut tm);
        tm
    };
    let _ = write!(
        out,
        "{:02}:{:02}:{:02}.{:09}",
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        ts_ns % 1_000_000_000
    );
}

fn join(parts: &[Vec<u8>], out: &mut Vec<u8>) {
    for (i, a) in parts.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(a);
    }
}

fn nonempty(s: &[u8]) -> Option<Value<'_>> {
    (!s.is_empty()).then_some(Value::Str(s))
}

impl EventFields for StateEvent<'_, '_> {
    fn value<'s>(&'s self, field: &Field, n: usize, out: &'s mut Vec<u8>) -> Option<Value<'s>> {
        out.clear();
        let st = self.st;
        if n > 0 {
            return self.nth_value(field, n);
        }
        match field {
            Field::EvtType => Some(Value::Str(event_name(self.code)?.as_bytes())),
            Field::EvtDir => Some(Value::Str(if self.code % 2 == 0 { b">" } else { b"<" })),
            Field::EvtNum => Some(Value::Uint(self.num)),
            Field::EvtTime => {
                local_time(self.ev.ts, out);
                Some(Value::Str(out))
            }
            Field::EvtRawtime => Some(Value::Uint(self.ev.ts)),
            Field::EvtArg(sel) => {
                let name = match sel {
                    ArgSel::Name(n) => n.as_str(),
                    ArgSel::Index(i) => event_param_names(self.code).get(*i as usize)?,
                };
                self.arg(name, false, out)
            }
            Field::EvtRawarg(name) => self.arg(name, true, out),
            Field::EvtRes => {
                let res = self.res()?;
                if res >= 0 {
                    Some(Value::Str(b"SUCCESS"))
                } else {
                    errno_name(res, out);
                    Some(Value::Str(out))
                }
            }
            Field::EvtRawres => Some(Value::Int(self.res()?)),
            Field::EvtFailed => Some(Value::Bool(self.res()? < 0)),
            Field::ProcName => Some(Value::Str(&self.thread()?.comm)),
            Field::ProcExe => Some(Value::Str(&self.thread()?.exe)),
            Field::ProcExepath => nonempty(&self.thread()?.exepath),
            Field::ProcCmdline => {
                let t = self.thread()?;
                out.extend_from_slice(&t.comm);
                if !t.args.is_empty() {
                    out.push(b' ');
                    join(&t.args, out);
                }
                Some(Value::Str(out))
            }
            Field::ProcArgs => {
                join(&self.thread()?.args, out);
                Some(Value::Str(out))
            }
            Field::ProcPid => Some(Value::Int(self.thread()?.pid)),
            Field::ProcPpid => Some(Value::Int(self.ancestor(1)?.pid)),
            Field::ProcPname => Some(Value::Str(&self.ancestor(1)?.comm)),
            Field::ProcAname(Some(i)) => Some(Value::Str(&self.ancestor(*i)?.comm)),
            Field::ProcApid(Some(i)) => Some(Value::Int(self.ancestor(*i)?.pid)),
            Field::ProcAname(None) | Field::ProcApid(None) => self.nth_value(field, 0),
            Field::ProcTty => Some(Value::Uint(u64::from(self.thread()?.tty))),
            Field::ProcCwd => {
                let m = st.threads.main_of(self.tid())?;
                nonempty(&m.cwd)
            }
            Field::ProcEnv(None) => {
                join(&self.thread()?.env, out);
                Some(Value::Str(out))
            }
            Field::ProcEnv(Some(var)) => {
                let t = self.thread()?;
                let var = var.as_bytes();
                t.env.iter().find_map(|kv| {
                    let v = kv.strip_prefix(var)?.strip_prefix(b"=")?;
                    Some(Value::Str(v))
                })
            }
            Field::ProcSid => None,
            Field::ProcVpid => Some(Value::Int(self.thread()?.vpid)),
            Field::ThreadTid => Some(Value::Int(self.tid())),
            Field::ThreadVtid => Some(Value::Int(self.thread()?.vtid)),
            Field::UserUid => Some(Value::Uint(u64::from(self.thread()?.uid))),
            Field::UserName => Some(Value::Str(self.thread()?.user_name())),
            Field::UserLoginuid => Some(Value::Int(i64::from(self.thread()?.loginuid as i32))),
            Field::GroupGid => Some(Value::Uint(u64::from(self.thread()?.gid))),
            Field::GroupName => Some(Value::Str(self.thread()?.group_name())),
            Field::ContainerId => {
                let id = &self.thread()?.container_id;
                Some(Value::Str(if id.is_empty() {
                    b"host"
                } else {
                    id.as_bytes()
                }))
            }
            Field::ContainerName | Field::ContainerType => {
                let id = &self.thread()?.container_id;
                if id.is_empty() {
                    return Some(Value::Str(b"host"));
                }
                let c = self.container().filter(|c| c.has_metadata)?;
                Some(Value::Str(if *field == Field::ContainerName {
                    c.name.as_bytes()
                } else {
                    container_type_name(c.ctype)
                }))
            }
            Field::ContainerImage
            | Field::ContainerImageRepository
            | Field::ContainerImageTag
            | Field::ContainerPrivileged => {
                let c = self.container().filter(|c| c.has_metadata)?;
                match field {
                    Field::ContainerImage => nonempty(c.image.as_bytes()),
                    Field::ContainerImageRepository => nonempty(c.imagerepo.as_bytes()),
                    Field::ContainerImageTag => nonempty(c.imagetag.as_bytes()),
                    _ => matches!(c.ctype, ctype::DOCKER | ctype::PODMAN)
                        .then_some(Value::Bool(c.privileged)),
                }
            }
            Field::K8sPodName | Field::K8sPodUid | Field::K8sPodId | Field::K8sNsName => {
                let c = self.container()?;
                let pod = st.containers.pod(c.pod_id.as_deref()?)?;
                Some(Value::Str(match field {
                    Field::K8sPodName => pod.name.as_bytes(),
                    Field::K8sPodUid => pod.uid.as_bytes(),
                    Field::K8sPodId => pod.sandbox_id.as_bytes(),
                    _ => pod.namespace.as_bytes(),
                }))
            }
            Field::FdNum => Some(Value::Int(self.event_fd()?)),
            Field::FdType => Some(Value::Str(fd_type_name(self.fd()?.kind))),
            Field::FdTypechar => match self.fd() {
                Some(f) => Some(Value::Str(typechar_str(f.kind))),
                // libsinsp: an fd event whose fd it does not know is about the kind of
                // object its call makes, else of an unknown kind
                None if self.fd_related() => Some(Value::Str(match event_name(self.code) {
                    Some("open" | "openat" | "openat2" | "creat") => b"f",
                    Some("socket" | "accept" | "accept4") => b"4",
                    Some("pipe" | "pipe2") => b"p",
                    Some("eventfd" | "eventfd2") => b"e",
                    Some("signalfd" | "signalfd4") => b"s",
                    Some("timerfd_create") => b"t",
                    Some("inotify_init" | "inotify_init1") => b"i",
                    _ => b"o",
                })),
                None => None,
            },
            Field::FdName => match self.fd() {
                // libsinsp: a failed connect is named by its tuple, like an fd it lacks
                Some(_)
                    if event_name(self.code) == Some("connect")
                        && self.code % 2 == 1
                        && self.res().is_some_and(|r| r < 0) =>
                {
                    self.null_fd_name(out).then_some(Value::Str(out))
                }
                Some(f) => Some(Value::Str(&f.name)),
                None => self.null_fd_name(out).then_some(Value::Str(out)),
            },
            Field::FdDirectory => match self.fd() {
                Some(f) if f.kind == FdKind::Directory => Some(Value::Str(&f.name)),
                Some(f) if f.kind.is_file() => Some(Value::Str(dirname(&f.name))),
                Some(_) => None,
                None => {
                    if !self.null_fd_name(out) {
                        return None;
                    }
                    let d = dirname(out);
                    if d.len() < out.len() {
                        out.truncate(d.len());
                    } else {
                        *out = d.to_vec();
                    }
                    Some(Value::Str(out))
                }
            },
            Field::FdFilename => {
                let f = self.fd().filter(|f| f.kind.is_file())?;
                Some(Value::Str(basename(&f.name)))
            }
            Field::FdL4proto => {
                // libsinsp names the protocol of sockets with a role (raw ones always),
                // `<NA>` for every other fd
                let f = self.fd()?;
                let known = match f.kind {
                    FdKind::Ipv4Sock | FdKind::Ipv6Sock => {
                        f.role != Role::None || f.l4proto == l4::RAW
                    }
                    FdKind::Ipv4ServSock | FdKind::Ipv6ServSock => true,
                    _ => false,
                };
                Some(Value::Str(match f.l4proto {
                    l4::TCP if known => b"tcp",
                    l4::UDP if known => b"udp",
                    l4::ICMP if known => b"icmp",
                    l4::RAW if known => b"raw",
                    _ => b"<NA>",
                }))
            }
            Field::FdSip | Field::FdSport | Field::FdSnet => {
                let e = role_ends(self.fd()?)?;
                Some(ip_or_port(field, e.server))
            }
            Field::FdCip | Field::FdCport | Field::FdCnet => {
                let e = role_ends(self.fd()?)?;
                Some(ip_or_port(field, e.client?))
            }
            Field::FdLip | Field::FdLport | Field::FdRip | Field::FdRport => {
                // libsinsp: "local" is the client's end when the client address is one
                // of this machine's, else the server's
                let e = role_ends(self.fd()?)?;
                let client = e.client?;
                let client_local = st.is_local_addr(client.0, self.container_id());
                let local = matches!(field, Field::FdLip | Field::FdLport);
                Some(ip_or_port(
                    field,
                    if local == client_local {
                        client
                    } else {
                        e.server
                    },
                ))
            }
            Field::FdIp | Field::FdPort | Field::FdNet => {
                let e = ends(self.fd()?)?;
                Some(ip_or_port(field, e.client.unwrap_or(e.server)))
            }
            Field::FdIsServer => {
                // libsinsp: listening sockets are servers; a connected socket is when its
                // server address is one of this machine's; other fds are not
                let f = self.fd()?;
                Some(Value::Bool(match f.kind {
                    FdKind::Ipv4ServSock | FdKind::Ipv6ServSock => true,
                    FdKind::Ipv4Sock | FdKind::Ipv6Sock => {
                        ends(f).is_some_and(|e| st.is_local_addr(e.server.0, self.container_id()))
                    }
                    _ => false,
                }))
            }
            Field::Unsupported(_) => None,
        }
    }
}

impl StateEvent<'_, '_> {
    /// Values after the first of multi-valued fields (no scratch needed).
    fn nth_value(&self, field: &Field, n: usize) -> Option<Value<'_>> {
        match field {
            Field::ProcAname(None) => Some(Value::Str(&self.ancestor(n as u32 + 1)?.comm)),
            Field::ProcApid(None) => Some(Value::Int(self.ancestor(n as u32 + 1)?.pid)),
            Field::FdIp | Field::FdPort | Field::FdNet if n == 1 => {
                let e = ends(self.fd()?)?;
                e.client?;
                Some(ip_or_port(field, e.server))
            }
            _ => None,
        }
    }
}

fn ip_or_port(field: &Field, (ip, port): (IpAddr, u16)) -> Value<'static> {
    match field {
        Field::FdSport | Field::FdCport | Field::FdLport | Field::FdRport | Field::FdPort => {
            Value::Uint(u64::from(port))
        }
        _ => Value::Ip(ip),
    }
}

fn typechar_str(k: FdKind) -> &'static [u8] {
    const CHARS: &[u8] = b"fd46upeslitnbrmPo";
    let c = k.typechar();
    let i = CHARS
        .iter()
        .position(|&x| x == c)
        .unwrap_or(CHARS.len() - 1);
    &CHARS[i..=i]
}

/// `fd.directory` of a file, as libsinsp cuts it: up to the last `/` unless that ends the
/// path (then the whole path), `/` when the only `/` leads or there is none.
fn dirname(p: &[u8]) -> &[u8] {
    match p.iter().rposition(|&b| b == b'/') {
        Some(i) if i != 0 && i + 1 < p.len() => &p[..i],
        Some(i) if i != 0 => p,
        _ => b"/",
    }
}

/// `fd.filename` of a file, as libsinsp cuts it: after the last `/` unless that ends the
/// path (then the whole path), `/` when there is no `/`.
fn basename(p: &[u8]) -> &[u8] {
    match p.iter().rposition(|&b| b == b'/') {
        Some(i) if i + 1 < p.len() => &p[i + 1..],
        Some(_) => p,
        None => b"/",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{IoCounters, IoEvent, OpenEvent};

    fn ev(kind: EventKind<'_>) -> SysEvent<'_> {
        SysEvent {
            pid: -1,
            ts: 1,
            tid: 1,
            kind,
        }
    }

    /// Live events get the scap event of their syscall: the current exit event, the enter
    /// event for procexit and mmap (reported at the call), by the event table's names.
    #[test]
    fn live_events_are_numbered_as_the_event_table_numbers_their_calls() {
        let name = |e: &SysEvent<'_>| event_code(e).map(|c| (event_name(c).unwrap(), c % 2));
        let open = |kind| {
            ev(EventKind::Open(OpenEvent {
                kind,
                fd: 3,
                dirfd: None,
                path: None,
                kernel_path: None,
                flags: 0,
            }))
        };
        assert_eq!(name(&open(OpenKind::OpenAt)), Some(("openat", 1)));
        assert_eq!(name(&open(OpenKind::OpenAt2)), Some(("openat2", 1)));
        assert_eq!(name(&open(OpenKind::Creat)), Some(("creat", 1)));
        // the latest openat exit: fd, dirfd, name, flags, mode, dev, ino
        let c = event_code(&open(OpenKind::OpenAt)).unwrap();
        assert_eq!(&event_param_names(c)[..3], ["fd", "dirfd", "name"]);
        let exit = ev(EventKind::Exit {
            status: 0,
            reaper: None,
        });
        assert_eq!(name(&exit), Some(("procexit", 0)));
        let mmap = ev(EventKind::Mmap {
            fd: Some(3),
            fd_arg: 3,
            flags: 0,
        });
        assert_eq!(name(&mmap), Some(("mmap", 0)));
        let connect = ev(EventKind::ConnectEnter { fd: 3, addr: None });
        assert_eq!(name(&connect), Some(("connect", 0)));
        let io = |dir, tuple| {
            ev(EventKind::Io(IoEvent {
                dir,
                fd: Some(3),
                res: 1,
                tuple,
            }))
        };
        let t = crate::event::SockTuple::V4 {
            sip: [1, 2, 3, 4],
            sport: 1,
            dip: [1, 2, 3, 5],
            dport: 2,
        };
        assert_eq!(name(&io(IoDir::Read, None)), Some(("read", 1)));
        assert_eq!(name(&io(IoDir::Write, Some(t))), Some(("sendto", 1)));
        let counters = ev(EventKind::IoCounters(IoCounters {
            fd: 3,
            write_ops: 1,
            write_bytes: 5,
            ..Default::default()
        }));
        assert_eq!(name(&counters), Some(("write", 1)));
        // not syscalls: never filtered
        assert_eq!(event_code(&ev(EventKind::Other)), None);
        assert_eq!(
            event_code(&ev(EventKind::CgroupMove {
                cgroups: b"",
                threadgroup: false
            })),
            None
        );
    }

    /// The capture reader keeps the fd of the calls that act on one (`EF_USES_FD`), at the
    /// index of their `fd` parameter; mmap's is its fifth parameter.
    #[test]
    fn fd_parameters_follow_the_event_table() {
        let enter = |name: &str| code_of_name(name) - 1;
        assert_eq!(fd_param_index(enter("read")), Some(0));
        assert_eq!(fd_param_index(enter("getdents")), Some(0));
        assert_eq!(fd_param_index(160), Some(4)); // mmap enter
        assert_eq!(fd_param_index(enter("execve")), None);
        assert_eq!(fd_param_index(enter("open")), None);
    }
}

#[cfg(test)]
mod path_and_tuple_tests {
    use super::*;

    /// libsinsp's cuts of `fd.directory` and `fd.filename` (sinsp_filtercheck_fd.cpp),
    /// including its edge cases: a trailing `/`, a leading-only `/`, no `/` at all.
    #[test]
    fn directory_and_filename_cut_as_libsinsp() {
        for (path, dir, file) in [
            ("/etc/passwd", "/etc", "passwd"),
            ("/passwd", "/", "passwd"),
            ("/a/b/", "/a/b/", "/a/b/"),
            ("relative", "/", "/"),
            ("", "/", "/"),
        ] {
            assert_eq!(dirname(path.as_bytes()), dir.as_bytes(), "{path}");
            assert_eq!(basename(path.as_bytes()), file.as_bytes(), "{path}");
        }
    }

    /// Socket tuples render as `evt.arg.tuple` does: IPv4 and unix, nothing for others.
    #[test]
    fn tuples_render_as_libsinsp() {
        let mut v4 = vec![2u8, 127, 0, 0, 1];
        v4.extend(40556u16.to_le_bytes());
        v4.extend([10, 0, 0, 7]);
        v4.extend(8080u16.to_le_bytes());
        let mut out = Vec::new();
        render_tuple(&v4, &mut out).unwrap();
        assert_eq!(out, b"127.0.0.1:40556->10.0.0.7:8080");

        let mut unix = vec![1u8];
        unix.extend(0u64.to_le_bytes());
        unix.extend(0xffff_9b94_6f6b_dc00u64.to_le_bytes());
        unix.extend(b"/var/run/nscd/socket\0");
        out.clear();
        render_tuple(&unix, &mut out).unwrap();
        assert_eq!(out, b"0->ffff9b946f6bdc00 /var/run/nscd/socket");

        assert!(render_tuple(&[10u8; 3], &mut Vec::new()).is_none());
        assert!(render_tuple(&[2u8, 1], &mut Vec::new()).is_none());
    }
}
