//! The startup snapshot: every process and thread, with its open fds, read from `/proc`.
//!
//! Take it after the probe is attached ([`super::LiveSource::snapshot`]): a process
//! started in between then shows up in both, which the state tolerates, while one
//! started before the snapshot and after a detached probe would be missed.

use super::clock;
use crate::error::{Result, SysFlowError};
use crate::model::OpenFlags;
use crate::state::{FdInfo, FdKind, Ipv4Tuple, ProcSnapshot, Role, cl, l4};
use std::collections::{HashMap, HashSet};
use std::fs;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Clock ticks per second of `/proc/<pid>/stat` times (`USER_HZ`, 100 on Linux).
const USER_HZ: u64 = 100;

/// Every process and thread running now, from `/proc`: ids (`vtid`/`vpid` from
/// `NSpid`/`NStgid`), comm, exe (`argv[0]`) and exepath (`/proc/<pid>/exe`), args, env,
/// cwd, effective uid/gid, loginuid, tty, cgroups (`subsys=path`), creation time, and
/// the open fds of each process (on its main thread; other threads get `CLONE_THREAD |
/// CLONE_FILES` and share them), with sockets resolved through `/proc/<pid>/net`.
///
/// `clone_ts` comes from `/proc/<pid>/stat`'s start time, precise to a clock tick (10 ms);
/// [`super::LiveSource::snapshot`] uses the kernel's exact start times instead, which
/// match the creation time clone events carry.
///
/// Processes that exit while being read are skipped. Fails only when `/proc` itself
/// cannot be listed.
pub fn proc_snapshot() -> Result<Vec<ProcSnapshot>> {
    scan(Path::new("/proc"), &|_| None)
}

/// [`proc_snapshot`] of the `/proc` at `proc_root`, with each task's exact start time (boot
/// ns) and cgroups taken from the kernel where `kernel_of` knows the task.
pub(super) fn scan(
    proc_root: &Path,
    kernel_of: &dyn Fn(u32) -> Option<(u64, Vec<Vec<u8>>)>,
) -> Result<Vec<ProcSnapshot>> {
    let entries = fs::read_dir(proc_root).map_err(|e| SysFlowError::ReadingFileSystem {
        path: proc_root.to_path_buf(),
        source: e,
    })?;
    let mut pids: Vec<u32> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    let v2_controllers = v2_controllers();
    let mut nets: HashMap<Vec<u8>, NetTables> = HashMap::new();
    let mut out = Vec::new();
    for pid in pids {
        process(
            proc_root,
            pid,
            &v2_controllers,
            &mut nets,
            kernel_of,
            &mut out,
        );
    }
    Ok(out)
}

/// Process `pid` as `/proc` shows it now, for a thread `tid` of it the live capture never
/// saw made: its main thread, and `tid` if another, as the startup snapshot would have
/// listed them, with start times from `/proc` (10 ms steps). Its fds are not read (the
/// capture names each at its first use), nor its other threads (each is read at its own
/// first record). Empty if the process is gone, if `pid` no longer names a process (a
/// thread id, or reused), or for threads that are zombies (exited, not yet reaped).
pub(crate) fn process_now(proc_root: &Path, pid: u32, tid: u32) -> Vec<ProcSnapshot> {
    let base = format!("{}/{pid}", proc_root.display());
    let tgid_ok = fs::read_to_string(format!("{base}/status"))
        .ok()
        .is_some_and(|st| status_field(&st, "Tgid").first() == Some(&pid.to_string().as_str()));
    if !tgid_ok {
        return Vec::new();
    }
    let v2 = v2_controllers();
    let proc_info = ProcessFiles::read(&base);
    let mut out = Vec::new();
    for t in if tid == pid {
        vec![pid]
    } else {
        vec![pid, tid]
    } {
        let tbase = format!("{base}/task/{t}");
        let alive = fs::read(format!("{tbase}/stat")).ok().is_some_and(|stat| {
            parse_stat(&stat).is_some_and(|(_, f)| !matches!(f.first().copied(), Some(b"Z" | b"X")))
        });
        if alive && let Some(snap) = thread(&tbase, pid, t, &proc_info, &v2) {
            out.push(snap);
        }
    }
    out
}

/// Appends the threads of process `pid` to `out` (see [`scan`]); `nets` keeps the socket
/// tables read, by network namespace.
fn process(
    proc_root: &Path,
    pid: u32,
    v2_controllers: &[String],
    nets: &mut HashMap<Vec<u8>, NetTables>,
    kernel_of: &dyn Fn(u32) -> Option<(u64, Vec<Vec<u8>>)>,
    out: &mut Vec<ProcSnapshot>,
) {
    let base = format!("{}/{pid}", proc_root.display());
    let Ok(tasks) = fs::read_dir(format!("{base}/task")) else {
        return;
    };
    let mut tids: Vec<u32> = tasks
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    tids.sort_unstable();
    // the main thread first: it carries the process's fds, cwd and env
    tids.sort_by_key(|&t| t != pid);
    let proc_info = ProcessFiles::read(&base);
    for tid in tids {
        let tbase = format!("{base}/task/{tid}");
        let Some(mut snap) = thread(&tbase, pid, tid, &proc_info, v2_controllers) else {
            continue;
        };
        if let Some((boot_ns, cgroups)) = kernel_of(tid) {
            snap.clone_ts = clock::to_epoch(boot_ns);
            if !cgroups.is_empty() {
                snap.cgroups = cgroups;
            }
        }
        if tid == pid {
            let netns = fs::read_link(format!("{base}/ns/net"))
                .map(|p| p.as_os_str().as_bytes().to_vec())
                .unwrap_or_default();
            let net = nets
                .entry(netns)
                .or_insert_with(|| NetTables::read(&format!("{base}/net")));
            snap.fds = fds(&base, net);
        }
        out.push(snap);
    }
}

/// What the threads of one process share.
struct ProcessFiles {
    args: Vec<Vec<u8>>,
    env: Vec<Vec<u8>>,
    exepath: Vec<u8>,
    cwd: Vec<u8>,
    loginuid: u32,
}

impl ProcessFiles {
    fn read(base: &str) -> Self {
        let split = |b: Vec<u8>| crate::state::split_nul(&b);
        Self {
            args: split(fs::read(format!("{base}/cmdline")).unwrap_or_default()),
            env: split(fs::read(format!("{base}/environ")).unwrap_or_default()),
            exepath: link(&format!("{base}/exe")),
            cwd: link(&format!("{base}/cwd")),
            loginuid: fs::read_to_string(format!("{base}/loginuid"))
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(u32::MAX),
        }
    }
}

fn link(path: &str) -> Vec<u8> {
    fs::read_link(path)
        .map(|p| p.as_os_str().as_bytes().to_vec())
        .unwrap_or_default()
}

/// Fields of `/proc/<pid>/stat` after the command name: (comm, fields from `state` on).
pub(super) fn parse_stat(stat: &[u8]) -> Option<(&[u8], Vec<&[u8]>)> {
    let open = stat.iter().position(|&b| b == b'(')?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    let comm = stat.get(open + 1..close)?;
    let rest = stat.get(close + 1..)?;
    Some((
        comm,
        rest.split(|&b| b == b' ')
            .filter(|s| !s.is_empty())
            .collect(),
    ))
}

fn num<T: std::str::FromStr>(b: &[u8]) -> Option<T> {
    std::str::from_utf8(b).ok()?.trim().parse().ok()
}

/// The values of a `/proc/<pid>/status` line (`Uid:`, `NSpid:`, ...).
fn status_field<'a>(status: &'a str, key: &str) -> Vec<&'a str> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .map(|v| v.split_whitespace().collect())
        .unwrap_or_default()
}

fn thread(
    tbase: &str,
    pid: u32,
    tid: u32,
    p: &ProcessFiles,
    v2_controllers: &[String],
) -> Option<ProcSnapshot> {
    let stat = fs::read(format!("{tbase}/stat")).ok()?;
    let (comm, fields) = parse_stat(&stat)?;
    let status = fs::read_to_string(format!("{tbase}/status")).ok()?;
    let main = tid == pid;
    let ids = |k: &str, i: usize| -> Option<u32> { status_field(&status, k).get(i)?.parse().ok() };
    let last = |k: &str| -> Option<i64> { status_field(&status, k).last()?.parse().ok() };
    let ppid: i64 = fields.get(1).and_then(|f| num(f)).unwrap_or(0);
    let tty: u32 = fields.get(4).and_then(|f| num::<i64>(f)).unwrap_or(0) as u32;
    let start_ticks: u64 = fields.get(19).and_then(|f| num(f)).unwrap_or(0);
    let exe = match p.args.first() {
        Some(a0) if !a0.is_empty() => a0.clone(),
        _ => comm.to_vec(),
    };
    Some(ProcSnapshot {
        tid: i64::from(tid),
        pid: i64::from(pid),
        // every thread's parent is its process's (the kernel's `real_parent` of a
        // CLONE_THREAD child; `PPid:` in the task's status, which libscap reads)
        ptid: ppid,
        vtid: last("NSpid").unwrap_or(i64::from(tid)),
        vpid: last("NStgid").unwrap_or(i64::from(pid)),
        comm: comm.to_vec(),
        exe,
        exepath: p.exepath.clone(),
        args: p.args.iter().skip(1).cloned().collect(),
        cwd: if main { p.cwd.clone() } else { Vec::new() },
        env: if main { p.env.clone() } else { Vec::new() },
        uid: ids("Uid", 1).unwrap_or(u32::MAX),
        gid: ids("Gid", 1).unwrap_or(u32::MAX),
        loginuid: p.loginuid,
        tty,
        flags: if main {
            0
        } else {
            cl::CLONE_THREAD | cl::CLONE_FILES
        },
        clone_ts: clock::to_epoch(start_ticks * (1_000_000_000 / USER_HZ)),
        cgroups: cgroups(
            &fs::read_to_string(format!("{tbase}/cgroup")).unwrap_or_default(),
            v2_controllers,
        ),
        fds: Vec::new(),
    })
}

/// The controllers of the unified (v2) hierarchy, which its `0::path` line stands for.
fn v2_controllers() -> Vec<String> {
    for p in [
        "/sys/fs/cgroup/cgroup.controllers",
        "/sys/fs/cgroup/unified/cgroup.controllers",
    ] {
        if let Ok(s) = fs::read_to_string(p) {
            return s.split_whitespace().map(String::from).collect();
        }
    }
    Vec::new()
}

/// `/proc/<pid>/cgroup` as `subsys=path` entries, one per controller (named v1
/// hierarchies such as `name=systemd` are not controllers and are left out).
pub(super) fn cgroups(text: &str, v2_controllers: &[String]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for line in text.lines() {
        let mut it = line.splitn(3, ':');
        let (Some(_), Some(ctrls), Some(path)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        let names: Vec<&str> = if ctrls.is_empty() {
            v2_controllers.iter().map(String::as_str).collect()
        } else {
            ctrls
                .split(',')
                .filter(|c| !c.starts_with("name="))
                .collect()
        };
        for c in names {
            if seen.insert(c.to_string()) {
                out.push(format!("{c}={path}").into_bytes());
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Sockets

#[derive(Clone, Debug, PartialEq, Eq)]
enum Sock {
    Ip {
        local: [u8; 16],
        lport: u16,
        remote: [u8; 16],
        rport: u16,
        v6: bool,
        proto: u8,
        listening: bool,
    },
    Unix {
        addr: u64,
        path: Vec<u8>,
    },
    Netlink,
}

/// A network namespace's sockets by inode, its listening ports, and the range the kernel
/// picks ephemeral ports from.
#[derive(Default)]
struct NetTables {
    by_ino: HashMap<u64, Sock>,
    listening: HashSet<(u8, u16)>,
    ephemeral: (u16, u16),
}

/// Linux's default `ip_local_port_range`.
const EPHEMERAL_DEFAULT: (u16, u16) = (32768, 60999);

impl NetTables {
    /// The tables of `dir` (`<proc>/<pid>/net`), and the ephemeral port range of
    /// `<proc>/sys/net/ipv4/ip_local_port_range` (the default when it cannot be read).
    fn read(dir: &str) -> Self {
        let mut t = NetTables::default();
        let range = fs::read_to_string(format!("{dir}/../../sys/net/ipv4/ip_local_port_range"));
        t.ephemeral = range
            .ok()
            .and_then(|r| {
                let mut it = r.split_whitespace().map(|p| p.parse::<u16>());
                Some((it.next()?.ok()?, it.next()?.ok()?))
            })
            .unwrap_or(EPHEMERAL_DEFAULT);
        for (file, proto, v6) in [
            ("tcp", l4::TCP, false),
            ("tcp6", l4::TCP, true),
            ("udp", l4::UDP, false),
            ("udp6", l4::UDP, true),
        ] {
            if let Ok(text) = fs::read_to_string(format!("{dir}/{file}")) {
                for (ino, s) in parse_ip_table(&text, proto, v6) {
                    if let Sock::Ip {
                        listening: true,
                        lport,
                        ..
                    } = s
                    {
                        t.listening.insert((proto, lport));
                    }
                    t.by_ino.insert(ino, s);
                }
            }
        }
        if let Ok(text) = fs::read_to_string(format!("{dir}/unix")) {
            t.by_ino.extend(parse_unix_table(&text));
        }
        if let Ok(text) = fs::read_to_string(format!("{dir}/netlink")) {
            for line in text.lines().skip(1) {
                if let Some(ino) = line.split_whitespace().last().and_then(|s| s.parse().ok()) {
                    t.by_ino.insert(ino, Sock::Netlink);
                }
            }
        }
        t
    }
}

/// An address of `/proc/net/{tcp,udp}[6]`: 32-bit words in host order, then the port.
fn parse_ip_addr(s: &str, v6: bool) -> Option<([u8; 16], u16)> {
    let (addr, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let mut out = [0u8; 16];
    let words = if v6 { 4 } else { 1 };
    if addr.len() != words * 8 {
        return None;
    }
    for w in 0..words {
        let v = u32::from_str_radix(addr.get(w * 8..w * 8 + 8)?, 16).ok()?;
        out[w * 4..w * 4 + 4].copy_from_slice(&v.to_le_bytes());
    }
    Some((out, port))
}

fn parse_ip_table(text: &str, proto: u8, v6: bool) -> Vec<(u64, Sock)> {
    const TCP_LISTEN: &str = "0A";
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (Some(l), Some(r), Some(st), Some(ino)) = (f.get(1), f.get(2), f.get(3), f.get(9))
        else {
            continue;
        };
        let (Some((local, lport)), Some((remote, rport)), Ok(ino)) = (
            parse_ip_addr(l, v6),
            parse_ip_addr(r, v6),
            ino.parse::<u64>(),
        ) else {
            continue;
        };
        let listening = if proto == l4::TCP {
            *st == TCP_LISTEN
        } else {
            rport == 0
        };
        out.push((
            ino,
            Sock::Ip {
                local,
                lport,
                remote,
                rport,
                v6,
                proto,
                listening,
            },
        ));
    }
    out
}

fn parse_unix_table(text: &str) -> Vec<(u64, Sock)> {
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (Some(num), Some(ino)) = (f.first(), f.get(6)) else {
            continue;
        };
        let addr = u64::from_str_radix(num.trim_end_matches(':'), 16).unwrap_or(0);
        let Ok(ino) = ino.parse() else { continue };
        let path = f.get(7).map(|p| p.as_bytes().to_vec()).unwrap_or_default();
        out.push((ino, Sock::Unix { addr, path }));
    }
    out
}

fn v4(a: &[u8; 16]) -> [u8; 4] {
    [a[0], a[1], a[2], a[3]]
}

fn mapped_v4(a: &[u8; 16]) -> Option<[u8; 4]> {
    (a[..10].iter().all(|&b| b == 0) && a[10] == 0xff && a[11] == 0xff)
        .then(|| [a[12], a[13], a[14], a[15]])
}

/// The state's view of a socket. Connected IP sockets are oriented client → server, as
/// the capture orients them: a socket whose local port is listening is the server end.
/// A datagram socket without a peer is a server's when its port is outside `ephemeral`
/// (the range the kernel picks client ports from: DNS, NTP, syslog), else no role yet.
fn sock_info(s: &Sock, listening: &HashSet<(u8, u16)>, ephemeral: (u16, u16)) -> FdInfo {
    match s {
        Sock::Unix { addr, path } => {
            let mut i = FdInfo::new(FdKind::UnixSock, path.clone());
            i.unix_source = *addr;
            i.role = if path.is_empty() {
                Role::Client
            } else {
                Role::Server
            };
            i
        }
        Sock::Netlink => FdInfo::new(FdKind::Netlink, Vec::new()),
        Sock::Ip {
            local,
            lport,
            remote,
            rport,
            v6,
            proto,
            listening: is_listening,
        } => {
            let (lv4, rv4) = if *v6 {
                (
                    mapped_v4(local),
                    mapped_v4(remote).or_else(|| remote.iter().all(|&b| b == 0).then_some([0; 4])),
                )
            } else {
                (Some(v4(local)), Some(v4(remote)))
            };
            let mut i = FdInfo {
                l4proto: *proto,
                ..Default::default()
            };
            if *is_listening {
                // libsinsp lists such sockets with no role and guesses it at the first call
                // with a peer. A datagram socket without a peer is as often a client's
                // (bound, or used with sendto) as a server's, and a server whose first call
                // seen is its reply would be guessed a client: a port outside the ephemeral
                // range is taken for a server's, any other is left to the guess.
                let (lo, hi) = ephemeral;
                if *proto == l4::UDP && !(lo..=hi).contains(lport) {
                    i.role = Role::Server;
                }
                i.serv_port = *lport;
                match lv4 {
                    Some(ip) => {
                        i.kind = FdKind::Ipv4ServSock;
                        i.serv_ip = ip;
                        i.name = format!("{}:{lport}", Ipv4Addr::from(ip)).into_bytes();
                    }
                    None => {
                        i.kind = FdKind::Ipv6ServSock;
                        i.name = format!("{}:{lport}", Ipv6Addr::from(*local)).into_bytes();
                    }
                }
                return i;
            }
            let server_end = listening.contains(&(*proto, *lport));
            i.role = if server_end {
                Role::Server
            } else {
                Role::Client
            };
            match (lv4, rv4) {
                (Some(l), Some(r)) => {
                    i.kind = FdKind::Ipv4Sock;
                    let (sip, sport, dip, dport) = if server_end {
                        (r, *rport, l, *lport)
                    } else {
                        (l, *lport, r, *rport)
                    };
                    i.v4 = Ipv4Tuple {
                        sip,
                        sport,
                        dip,
                        dport,
                    };
                    i.name = i.v4.name();
                }
                _ => {
                    i.kind = FdKind::Ipv6Sock;
                    let (sip, sport, dip, dport) = if server_end {
                        (*remote, *rport, *local, *lport)
                    } else {
                        (*local, *lport, *remote, *rport)
                    };
                    i.v6.sip = sip;
                    i.v6.sport = sport;
                    i.v6.dip = dip;
                    i.v6.dport = dport;
                    i.name = format!(
                        "{}:{sport}->{}:{dport}",
                        Ipv6Addr::from(sip),
                        Ipv6Addr::from(dip)
                    )
                    .into_bytes();
                }
            }
            i
        }
    }
}

/// What an fd link (`readlink /proc/<pid>/fd/<n>`) names.
fn anon_kind(target: &[u8]) -> Option<FdKind> {
    let name = target.strip_prefix(b"anon_inode:")?;
    let name = name.strip_prefix(b"[").unwrap_or(name);
    let name = name.strip_suffix(b"]").unwrap_or(name);
    Some(match name {
        b"eventfd" => FdKind::Event,
        b"eventpoll" => FdKind::Eventpoll,
        b"inotify" => FdKind::Inotify,
        b"signalfd" => FdKind::Signalfd,
        b"timerfd" => FdKind::Timerfd,
        b"userfaultfd" => FdKind::Userfaultfd,
        b"io_uring" => FdKind::Iouring,
        b"pidfd" => FdKind::Pidfd,
        n if n.starts_with(b"bpf") => FdKind::Bpf,
        _ => FdKind::Unknown,
    })
}

/// `socket:[123]` / `pipe:[123]` -> 123.
fn bracket_ino(target: &[u8], prefix: &[u8]) -> Option<u64> {
    num(target
        .strip_prefix(prefix)?
        .strip_prefix(b"[")?
        .strip_suffix(b"]")?)
}

/// `flags:` (octal, kernel `O_*`) and `ino:` of `/proc/<pid>/fdinfo/<n>`.
pub(super) fn parse_fdinfo(text: &str) -> (u32, u64) {
    let field = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k))
            .map(|v| v.trim().to_string())
    };
    let flags = field("flags:")
        .and_then(|v| u32::from_str_radix(&v, 8).ok())
        .unwrap_or(0);
    let ino = field("ino:").and_then(|v| v.parse().ok()).unwrap_or(0);
    (flags, ino)
}

fn fds(base: &str, net: &NetTables) -> Vec<(i64, FdInfo)> {
    let Ok(dir) = fs::read_dir(format!("{base}/fd")) else {
        return Vec::new();
    };
    let mut out: Vec<(i64, FdInfo)> = dir
        .flatten()
        .filter_map(|e| {
            let fd = e.file_name().to_str()?.parse::<i64>().ok()?;
            Some((fd, fd_entry(base, fd, Some(net))?))
        })
        .collect();
    out.sort_by_key(|(fd, _)| *fd);
    out
}

/// One fd of the process at `base` (`<proc>/<pid>`) as `/proc` shows it now; `net` holds
/// the socket tables (sockets are `Unknown` without them).
fn fd_entry(base: &str, fd: i64, net: Option<&NetTables>) -> Option<FdInfo> {
    let path = format!("{base}/fd/{fd}");
    let target = fs::read_link(&path).ok()?.as_os_str().as_bytes().to_vec();
    let (kflags, ino) = fs::read_to_string(format!("{base}/fdinfo/{fd}"))
        .map(|t| parse_fdinfo(&t))
        .unwrap_or((0, 0));
    let mut info = if let Some(sino) = bracket_ino(&target, b"socket:") {
        match net.and_then(|n| n.by_ino.get(&sino).map(|s| (n, s))) {
            Some((n, s)) => sock_info(s, &n.listening, n.ephemeral),
            None => FdInfo::new(FdKind::Unknown, target.clone()),
        }
    } else if let Some(pino) = bracket_ino(&target, b"pipe:") {
        let mut i = FdInfo::new(FdKind::Fifo, Vec::new());
        i.ino = pino;
        i
    } else if let Some(kind) = anon_kind(&target) {
        FdInfo::new(kind, Vec::new())
    } else if target.starts_with(b"/memfd:") {
        FdInfo::new(FdKind::Memfd, target.clone())
    } else if target.first() == Some(&b'/') {
        let dir = fs::metadata(&path).is_ok_and(|m| m.is_dir());
        let kind = if dir {
            FdKind::Directory
        } else {
            FdKind::FileV2
        };
        FdInfo::new(kind, target.clone())
    } else {
        FdInfo::new(FdKind::Unknown, target.clone())
    };
    info.openflags = OpenFlags::from_kernel(kflags).bits();
    if info.ino == 0 {
        info.ino = ino;
    }
    Some(info)
}

/// What fd `fd` of process `pid` is now, from `<proc_root>/<pid>/fd` (sockets through
/// that process's `net/` tables): for an fd whose creation the capture did not see (one
/// inherited from a process that is not captured, such as the collector itself).
/// `None` when the process or the fd is gone.
pub(crate) fn fd_now(proc_root: &std::path::Path, pid: i64, fd: i64) -> Option<FdInfo> {
    let base = format!("{}/{pid}", proc_root.display());
    let socket = fs::read_link(format!("{base}/fd/{fd}"))
        .is_ok_and(|t| t.as_os_str().as_bytes().starts_with(b"socket:"));
    let tables = socket.then(|| NetTables::read(&format!("{base}/net")));
    fd_entry(&base, fd, tables.as_ref())
}

/// What an [`EventKind::FdSeen`](crate::event::EventKind::FdSeen) says the fd is, in the
/// state's terms: the fd and its description. `None` for other events.
pub(crate) fn fd_seen_info(kind: &crate::event::EventKind<'_>) -> Option<(i64, FdInfo)> {
    use crate::event::{EventKind, SockTuple};
    const S_IFMT: u32 = 0o170000;
    let EventKind::FdSeen {
        fd,
        mode,
        ino,
        flags,
        path,
        tuple,
        sock_type,
        accepted,
    } = *kind
    else {
        return None;
    };
    let mut info = match (mode & S_IFMT, tuple) {
        (0o140000, Some(SockTuple::Unix { source, dest, path })) => {
            let mut i = sock_info(
                &Sock::Unix {
                    addr: source,
                    path: path.to_vec(),
                },
                &HashSet::new(),
                EPHEMERAL_DEFAULT,
            );
            i.unix_dest = dest;
            i
        }
        (0o140000, Some(t)) => {
            let (local, lport, remote, rport, v6) = match t {
                SockTuple::V4 {
                    sip,
                    sport,
                    dip,
                    dport,
                } => {
                    let (mut l, mut r) = ([0; 16], [0; 16]);
                    l[..4].copy_from_slice(&sip);
                    r[..4].copy_from_slice(&dip);
                    (l, sport, r, dport, false)
                }
                SockTuple::V6 {
                    sip,
                    sport,
                    dip,
                    dport,
                } => (sip, sport, dip, dport, true),
                SockTuple::Unix { .. } => unreachable!("matched above"),
            };
            let proto = match sock_type {
                1 => l4::TCP,
                2 => l4::UDP,
                _ => 0,
            };
            // a stream socket with no peer is a listening one (an inherited server socket)
            let listening = proto == l4::TCP && rport == 0 && remote.iter().all(|&b| b == 0);
            // an accepted connection is the server's end: its local port is the
            // listener's
            let server_ports: HashSet<(u8, u16)> = if accepted {
                [(proto, lport)].into_iter().collect()
            } else {
                HashSet::new()
            };
            sock_info(
                &Sock::Ip {
                    local,
                    lport,
                    remote,
                    rport,
                    v6,
                    proto,
                    listening,
                },
                &server_ports,
                EPHEMERAL_DEFAULT,
            )
        }
        // no type (anonymous inodes: eventfd, epoll, timerfd, pidfd...) or a socket
        // without endpoints (netlink, packet): /proc names them better at first use
        (0, _) | (0o140000, None) => return None,
        (0o100000, _) if path.is_some_and(|p| p.starts_with(b"/memfd:")) => {
            FdInfo::new(FdKind::Memfd, path.unwrap_or_default().to_vec())
        }
        (0o010000, _) => {
            let mut i = FdInfo::new(FdKind::Fifo, Vec::new());
            i.ino = ino;
            i
        }
        (0o040000, _) => FdInfo::new(FdKind::Directory, path.unwrap_or_default().to_vec()),
        (_, _) => match path {
            Some(p) => FdInfo::new(FdKind::FileV2, p.to_vec()),
            None => FdInfo::new(FdKind::Unknown, Vec::new()),
        },
    };
    info.openflags = OpenFlags::from_kernel(flags).bits();
    if info.ino == 0 {
        info.ino = ino;
    }
    Some((fd, info))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_odd_comm() {
        let s = b"42 (a) b (c)) S 7 42 42 34816 42 4194560 1 2 3 4 5 6 7 8 20 0 1 0 12345 0";
        let (comm, f) = parse_stat(s).unwrap();
        assert_eq!(comm, b"a) b (c)");
        assert_eq!(f[0], b"S");
        assert_eq!(num::<i64>(f[1]), Some(7));
        assert_eq!(num::<i64>(f[4]), Some(34816));
        assert_eq!(num::<u64>(f[19]), Some(12345));
    }

    #[test]
    fn cgroup_lines_become_subsys_entries() {
        let text = "9:name=systemd:/\n4:memory:/x/y\n2:cpu,cpuacct:/z\n0::/v2\n";
        let v2 = vec!["io".to_string(), "memory".to_string()];
        let got: Vec<String> = cgroups(text, &v2)
            .into_iter()
            .map(|c| String::from_utf8(c).unwrap())
            .collect();
        assert_eq!(got, ["memory=/x/y", "cpu=/z", "cpuacct=/z", "io=/v2"]);
    }

    #[test]
    fn ip_tables_and_orientation() {
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 111 1\n\
   1: 0100007F:1F90 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 222 1\n\
   2: 0100007F:9C40 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 333 1\n";
        let rows = parse_ip_table(tcp, l4::TCP, false);
        let mut listening = HashSet::new();
        listening.insert((l4::TCP, 8080));
        let by: HashMap<u64, Sock> = rows.into_iter().collect();
        let lst = sock_info(&by[&111], &listening, EPHEMERAL_DEFAULT);
        assert_eq!(lst.kind, FdKind::Ipv4ServSock);
        assert_eq!(lst.role, Role::None);
        assert_eq!((lst.serv_ip, lst.serv_port), ([127, 0, 0, 1], 8080));
        let server = sock_info(&by[&222], &listening, EPHEMERAL_DEFAULT);
        let client = sock_info(&by[&333], &listening, EPHEMERAL_DEFAULT);
        // both ends: source = client (port 40000), destination = server (8080)
        for s in [&server, &client] {
            assert_eq!(s.kind, FdKind::Ipv4Sock);
            assert_eq!((s.v4.sport, s.v4.dport), (40000, 8080));
            assert_eq!(s.name, b"127.0.0.1:40000->127.0.0.1:8080");
        }
        assert_eq!((server.role, client.role), (Role::Server, Role::Client));
        // datagram sockets without a peer: a service port is a server's, an ephemeral
        // one (a client's sendto socket, or a server on a high port) is left to the guess
        let udp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 00000000:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 444 2\n\
   1: 0100007F:C15E 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 555 2\n";
        let by: HashMap<u64, Sock> = parse_ip_table(udp, l4::UDP, false).into_iter().collect();
        let dns = sock_info(&by[&444], &HashSet::new(), EPHEMERAL_DEFAULT);
        let high = sock_info(&by[&555], &HashSet::new(), EPHEMERAL_DEFAULT);
        assert_eq!(
            (dns.kind, dns.serv_port, dns.role),
            (FdKind::Ipv4ServSock, 53, Role::Server)
        );
        assert_eq!(
            (high.kind, high.serv_port, high.role),
            (FdKind::Ipv4ServSock, 49502, Role::None)
        );
        let (a, p) = parse_ip_addr("0000000000000000FFFF00000100007F:0050", true).unwrap();
        assert_eq!((mapped_v4(&a), p), (Some([127, 0, 0, 1]), 80));
    }

    #[test]
    fn unix_table_and_fdinfo() {
        let t = "Num       RefCount Protocol Flags    Type St Inode Path\n\
ffff8c0001: 00000002 00000000 00010000 0001 01 4321 /run/x.sock\n\
ffff8c0002: 00000003 00000000 00000000 0001 03 4322\n";
        let rows = parse_unix_table(t);
        assert_eq!(
            rows[0],
            (
                4321,
                Sock::Unix {
                    addr: 0xffff8c0001,
                    path: b"/run/x.sock".to_vec()
                }
            )
        );
        assert_eq!(rows[1].0, 4322);
        let (flags, ino) = parse_fdinfo("pos:\t0\nflags:\t02100002\nmnt_id:\t25\nino:\t77\n");
        assert_eq!(flags, 0o2100002);
        assert_eq!(ino, 77);
        assert_eq!(anon_kind(b"anon_inode:[eventfd]"), Some(FdKind::Event));
        assert_eq!(anon_kind(b"anon_inode:inotify"), Some(FdKind::Inotify));
        assert_eq!(bracket_ino(b"pipe:[99]", b"pipe:"), Some(99));
    }

    #[test]
    fn snapshot_of_this_process() {
        let snaps = proc_snapshot().unwrap();
        let me = std::process::id() as i64;
        let main = snaps
            .iter()
            .find(|s| s.tid == me)
            .expect("own process listed");
        assert_eq!(main.pid, me);
        assert!(!main.exepath.is_empty());
        assert!(!main.cwd.is_empty());
        assert!(
            main.fds
                .iter()
                .any(|(fd, _)| *fd == 0 || *fd == 1 || *fd == 2)
        );
        let now = clock::to_epoch(clock::boot_now());
        assert!(main.clone_ts > 0 && main.clone_ts <= now);
    }
}
