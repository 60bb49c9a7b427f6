//! Live capture with the real probe (needs root and kernel BTF; our CI machines have
//! both). Each test starts a [`LiveSource`], runs a child workload with known ground
//! truth (this test binary re-executed with `SF_LIVE_WORKLOAD` set), collects the events
//! of the workload's processes only (the machine has background activity), and checks
//! kinds, fds, paths, counts, tuples and process fields exactly.

mod common;

use nix::fcntl::{OFlag, open, openat};
use nix::sys::stat::Mode;
use nix::unistd::{self, ForkResult};
use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, IntoRawFd, RawFd};
use std::process::Child;
use std::time::{Duration, Instant};
use sysflow::event::*;
use sysflow::source::live::{LiveConfig, LiveSource};
use sysflow::{CollectionMode, ErrorCode};

// ---------------------------------------------------------------------------------------
// Owned copies of events (the source lends them only for the callback)

#[derive(Clone, Debug, PartialEq, Eq)]
enum Tuple {
    V4([u8; 4], u16, [u8; 4], u16),
    V6([u8; 16], u16, [u8; 16], u16),
    Unix(u64, u64, Vec<u8>),
}

fn tuple(t: Option<SockTuple<'_>>) -> Option<Tuple> {
    t.map(|t| match t {
        SockTuple::V4 {
            sip,
            sport,
            dip,
            dport,
        } => Tuple::V4(sip, sport, dip, dport),
        SockTuple::V6 {
            sip,
            sport,
            dip,
            dport,
        } => Tuple::V6(sip, sport, dip, dport),
        SockTuple::Unix { source, dest, path } => Tuple::Unix(source, dest, path.to_vec()),
    })
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Proc {
    exe: Vec<u8>,
    args: Vec<u8>,
    tid: i64,
    pid: i64,
    ptid: i64,
    vtid: Option<i64>,
    vpid: Option<i64>,
    comm: Vec<u8>,
    cgroups: Vec<u8>,
    uid: Option<u32>,
    gid: Option<u32>,
}

fn proc_of(p: &ProcInfo<'_>) -> Proc {
    let o = |b: Option<&[u8]>| b.map(|b| b.to_vec()).unwrap_or_default();
    Proc {
        exe: o(p.exe),
        args: o(p.args),
        tid: p.tid,
        pid: p.pid,
        ptid: p.ptid,
        vtid: p.vtid,
        vpid: p.vpid,
        comm: o(p.comm),
        cgroups: o(p.cgroups),
        uid: p.uid,
        gid: p.gid,
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Ev {
    Clone {
        res: i64,
        flags: u32,
        p: Proc,
    },
    Exec {
        res: i64,
        p: Proc,
        env: Vec<u8>,
        exepath: Vec<u8>,
        filename: Vec<u8>,
        tty: Option<u32>,
        loginuid: Option<u32>,
    },
    Exit(i64),
    SetIds(i64, Option<IdChange>),
    Open {
        kind: OpenKind,
        fd: i64,
        dirfd: Option<i64>,
        path: Option<Vec<u8>>,
        kpath: Option<Vec<u8>>,
        flags: u32,
    },
    Io {
        dir: IoDir,
        fd: Option<i64>,
        res: i64,
        tuple: Option<Tuple>,
    },
    Counters(IoCounters),
    Close(Option<i64>, i64),
    CloseRange(u32, u32, u32, i64),
    Shutdown(Option<i64>, i64),
    Setns(Option<i64>, i64),
    Socket(i64, u32, u32, u32),
    Socketpair(i64, i64, i64, u64, u64),
    Bind(Option<i64>, i64, Option<String>),
    Connect(Option<i64>, i64, Option<Tuple>),
    Accept(i64, Option<Tuple>),
    Pipe(i64, i64, i64, u64),
    Dup(i64, Option<i64>),
    Chdir(i64, Vec<u8>),
    FileOp {
        op: FileOp,
        res: i64,
        dirfd1: Option<i64>,
        path1: Vec<u8>,
        dirfd2: Option<i64>,
        path2: Option<Vec<u8>>,
    },
    Mmap(Option<i64>, i64, u32),
    /// fd, i_mode, path, tuple
    FdSeen(i64, u32, Vec<u8>, Option<Tuple>),
    Other(String),
}

#[derive(Clone, Debug)]
struct Rec {
    ts: u64,
    tid: i64,
    ev: Ev,
}

fn own(e: &SysEvent<'_>) -> Rec {
    let v = |b: Option<&[u8]>| b.map(|b| b.to_vec()).unwrap_or_default();
    let ev = match e.kind {
        EventKind::Clone(c) => Ev::Clone {
            res: c.res,
            flags: c.flags.unwrap_or(0),
            p: proc_of(&c.info),
        },
        EventKind::Execve(x) => Ev::Exec {
            res: x.res,
            p: proc_of(&x.info),
            env: v(x.env),
            exepath: v(x.exepath),
            filename: v(x.filename),
            tty: x.tty,
            loginuid: x.loginuid,
        },
        EventKind::Exit { status, .. } => Ev::Exit(status),
        EventKind::SetIds { res, change } => Ev::SetIds(res, change),
        EventKind::Open(o) => Ev::Open {
            kind: o.kind,
            fd: o.fd,
            dirfd: o.dirfd,
            path: o.path.map(<[u8]>::to_vec),
            kpath: o.kernel_path.map(<[u8]>::to_vec),
            flags: o.flags,
        },
        EventKind::Io(i) => Ev::Io {
            dir: i.dir,
            fd: i.fd,
            res: i.res,
            tuple: tuple(i.tuple),
        },
        EventKind::IoCounters(c) => Ev::Counters(c),
        EventKind::Close { fd, res } => Ev::Close(fd, res),
        EventKind::CloseRange {
            first,
            last,
            flags,
            res,
        } => Ev::CloseRange(first, last, flags, res),
        EventKind::Shutdown { fd, res } => Ev::Shutdown(fd, res),
        EventKind::Setns { fd, res } => Ev::Setns(fd, res),
        EventKind::Socket {
            fd,
            domain,
            sock_type,
            proto,
        } => Ev::Socket(fd, domain, sock_type, proto),
        EventKind::Socketpair {
            res,
            fd1,
            fd2,
            source,
            peer,
        } => Ev::Socketpair(res, fd1, fd2, source, peer),
        EventKind::Bind { fd, res, addr, .. } => Ev::Bind(fd, res, addr.map(|a| format!("{a:?}"))),
        EventKind::Connect {
            fd, res, tuple: t, ..
        } => Ev::Connect(fd, res, tuple(t)),
        EventKind::Accept { fd, tuple: t } => Ev::Accept(fd, tuple(t)),
        EventKind::Pipe { res, fd1, fd2, ino } => Ev::Pipe(res, fd1, fd2, ino),
        EventKind::Dup { res, oldfd, .. } => Ev::Dup(res, oldfd),
        EventKind::Chdir { res, path } => Ev::Chdir(res, v(path)),
        EventKind::FileOp(f) => Ev::FileOp {
            op: f.op,
            res: f.res,
            dirfd1: f.dirfd1,
            path1: v(f.path1),
            dirfd2: f.dirfd2,
            path2: f.path2.map(|p| p.to_vec()),
        },
        EventKind::Mmap { fd, fd_arg, flags } => Ev::Mmap(fd, fd_arg, flags),
        EventKind::FdSeen {
            fd,
            mode,
            path,
            tuple: t,
            ..
        } => Ev::FdSeen(fd, mode, v(path), tuple(t)),
        other => Ev::Other(format!("{other:?}")),
    };
    Rec {
        ts: e.ts,
        tid: e.tid,
        ev,
    }
}

// ---------------------------------------------------------------------------------------
// Harness

fn root_or_skip() -> bool {
    if !nix::unistd::geteuid().is_root() {
        common::skip("live capture tests need root (CAP_BPF + CAP_PERFMON)");
        return false;
    }
    if !std::path::Path::new("/sys/kernel/btf/vmlinux").exists() {
        common::skip("live capture tests need /sys/kernel/btf/vmlinux");
        return false;
    }
    true
}

/// A live source that ships every open's path as passed (the tests below compare it);
/// `opens_carry_the_path_as_passed_only_where_the_kernel_path_says_less` tests the default.
fn source(mode: CollectionMode) -> LiveSource {
    let cfg = LiveConfig {
        collection_mode: mode,
        drop_mode: false,
        open_paths_as_passed: true,
        ..LiveConfig::default()
    };
    LiveSource::open(&cfg).unwrap_or_else(|e| panic!("opening the live source: {e}"))
}

/// Everything captured, and which process every thread belongs to.
struct Capture {
    recs: Vec<Rec>,
    /// tid -> tgid, learned from clone and exec events.
    tgid: HashMap<i64, i64>,
}

impl Capture {
    fn new() -> Self {
        Self {
            recs: Vec::new(),
            tgid: HashMap::new(),
        }
    }

    fn take(&mut self, e: &SysEvent<'_>) {
        let r = own(e);
        match &r.ev {
            Ev::Clone { res: 0, p, .. } | Ev::Exec { res: 0, p, .. } => {
                self.tgid.insert(p.tid, p.pid);
            }
            _ => {}
        }
        self.recs.push(r);
    }

    fn poll(&mut self, src: &mut LiveSource, d: Duration) {
        src.poll(d, &mut |e| self.take(e)).expect("poll");
    }

    /// Polls until `done` holds (or 10 s pass), then a little longer.
    fn until(&mut self, src: &mut LiveSource, mut done: impl FnMut(&Capture) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done(self) {
            assert!(Instant::now() < deadline, "timed out waiting for events");
            self.poll(src, Duration::from_millis(20));
        }
        self.poll(src, Duration::from_millis(30));
    }

    /// The tids of process `pid` and of every process it started (transitively).
    fn family(&self, pid: i64) -> HashSet<i64> {
        let mut procs: HashSet<i64> = [pid].into();
        loop {
            let before = procs.len();
            for r in &self.recs {
                if let Ev::Clone { res: 0, p, .. } = &r.ev
                    && (procs.contains(&p.pid) || procs.contains(&self.tgid_of(p.ptid)))
                {
                    procs.insert(p.pid);
                }
            }
            if procs.len() == before {
                break;
            }
        }
        let mut tids: HashSet<i64> = procs.clone();
        for (t, g) in &self.tgid {
            if procs.contains(g) {
                tids.insert(*t);
            }
        }
        tids
    }

    fn tgid_of(&self, tid: i64) -> i64 {
        self.tgid.get(&tid).copied().unwrap_or(tid)
    }

    /// Events of process `pid`'s family, in delivery order.
    fn of(&self, pid: i64) -> Vec<Rec> {
        let fam = self.family(pid);
        self.recs
            .iter()
            .filter(|r| fam.contains(&r.tid))
            .cloned()
            .collect()
    }

    fn exited(&self, tid: i64) -> bool {
        self.recs
            .iter()
            .any(|r| r.tid == tid && matches!(r.ev, Ev::Exit(_)))
    }
}

/// Starts this test binary as a workload process.
fn spawn(workload: &str, arg: &str) -> Child {
    common::spawn_workload(&[("SF_LIVE_WORKLOAD", workload), ("SF_LIVE_ARG", arg)])
}

/// Reads the workload's `KEY=value` report lines until `END`.
fn report(child: &mut Child) -> HashMap<String, String> {
    common::read_report(child)
}

fn num(m: &HashMap<String, String>, k: &str) -> i64 {
    m.get(k)
        .unwrap_or_else(|| panic!("workload did not report {k}: {m:?}"))
        .parse()
        .unwrap()
}

/// A scratch directory on tmpfs (`/dev/shm` on our machines), removed on drop.
struct TmpDir(String);

impl std::ops::Deref for TmpDir {
    type Target = String;
    fn deref(&self) -> &String {
        &self.0
    }
}

impl std::fmt::Display for TmpDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Drop for TmpDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tmpdir(name: &str) -> TmpDir {
    let d = format!("/dev/shm/sf-live-{}-{name}", std::process::id());
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    TmpDir(d)
}

/// The counter events of (tid, fd), summed.
fn counters(evs: &[Rec], tid: i64, fd: i64) -> IoCounters {
    let mut c = IoCounters {
        fd,
        ..Default::default()
    };
    for r in evs {
        if let Ev::Counters(k) = &r.ev
            && r.tid == tid
            && k.fd == fd
        {
            c.read_ops += k.read_ops;
            c.read_bytes += k.read_bytes;
            c.write_ops += k.write_ops;
            c.write_bytes += k.write_bytes;
        }
    }
    c
}

fn pos(evs: &[Rec], pred: impl Fn(&Rec) -> bool) -> usize {
    evs.iter()
        .position(pred)
        .unwrap_or_else(|| panic!("event not found in {evs:#?}"))
}

// ---------------------------------------------------------------------------------------
// Workloads (run in the re-executed child)

#[test]
fn workload_entry() {
    let Ok(w) = std::env::var("SF_LIVE_WORKLOAD") else {
        return; // a normal test run: nothing to do
    };
    let arg = std::env::var("SF_LIVE_ARG").unwrap_or_default();
    println!(); // libtest printed "test workload_entry ... " without a newline
    let code = match w.as_str() {
        "io" => wl_io(&arg),
        "fileops" => wl_fileops(&arg),
        "fork" => wl_fork(),
        "setuid" => wl_setuid(),
        "tcp" => wl_tcp(),
        "udp" => wl_udp(),
        "setns" => wl_setns(),
        "pre" => wl_pre(&arg),
        "threads" => wl_threads(&arg),
        "flush" => wl_flush(&arg),
        "fds" => wl_fds(),
        "noprivs" => wl_noprivs(),
        "scm" => wl_scm(&arg),
        "opens" => wl_opens(&arg),
        other => panic!("unknown workload {other}"),
    };
    std::io::stdout().flush().unwrap();
    std::process::exit(code);
}

fn say(k: &str, v: impl std::fmt::Display) {
    println!("{k}={v}");
}

fn end() {
    println!("END");
    std::io::stdout().flush().unwrap();
}

fn wait_stdin() {
    let mut b = [0u8; 1];
    let _ = std::io::stdin().read(&mut b);
}

fn wl_io(dir: &str) -> i32 {
    let path = format!("{dir}/data");
    let fd = open(
        path.as_str(),
        OFlag::O_RDWR | OFlag::O_CREAT | OFlag::O_TRUNC,
        Mode::from_bits_truncate(0o644),
    )
    .unwrap()
    .into_raw_fd();
    let (mut wops, mut wbytes, mut rops, mut rbytes) = (0, 0, 0, 0);
    let bfd = unsafe_borrow(fd);
    for _ in 0..10 {
        wbytes += unistd::write(bfd, &[b'a'; 100]).unwrap();
        wops += 1;
    }
    wbytes += nix::sys::uio::pwrite(bfd, b"xyz", 1000).unwrap();
    wops += 1;
    wbytes += nix::sys::uio::writev(
        bfd,
        &[std::io::IoSlice::new(b"12"), std::io::IoSlice::new(b"345")],
    )
    .unwrap();
    wops += 1;
    nix::unistd::lseek(bfd, 0, nix::unistd::Whence::SeekSet).unwrap();
    let mut buf = [0u8; 250];
    loop {
        let n = unistd::read(bfd, &mut buf).unwrap();
        rops += 1;
        rbytes += n;
        if n == 0 {
            break;
        }
    }
    rbytes += nix::sys::uio::pread(bfd, &mut buf[..1], 0).unwrap();
    rops += 1;
    unistd::close(fd).unwrap();
    say("fd", fd);
    say("wops", wops);
    say("wbytes", wbytes);
    say("rops", rops);
    say("rbytes", rbytes);
    // a write-only fd: the failed read is an op with no bytes
    let wo = open(
        format!("{dir}/wo").as_str(),
        OFlag::O_WRONLY | OFlag::O_CREAT,
        Mode::from_bits_truncate(0o600),
    )
    .unwrap()
    .into_raw_fd();
    unistd::write(unsafe_borrow(wo), b"abc").unwrap();
    assert!(unistd::read(unsafe_borrow(wo), &mut buf).is_err());
    unistd::close(wo).unwrap();
    say("wo", wo);
    end();
    0
}

/// A borrowed fd for nix calls (the workload owns its raw fds).
fn unsafe_borrow(fd: RawFd) -> std::os::fd::BorrowedFd<'static> {
    // SAFETY: the workloads close their fds explicitly, after the last use.
    unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }
}

fn wl_fileops(dir: &str) -> i32 {
    let p = |n: &str| format!("{dir}/{n}");
    unistd::mkdir(p("d").as_str(), Mode::from_bits_truncate(0o755)).unwrap();
    std::fs::rename(p("d"), p("d2")).unwrap();
    std::fs::write(p("f"), b"x").unwrap();
    std::fs::hard_link(p("f"), p("f2")).unwrap();
    std::os::unix::fs::symlink("f", p("s")).unwrap();
    std::fs::remove_file(p("f2")).unwrap();
    std::fs::remove_dir(p("d2")).unwrap();
    let dfd = open(dir, OFlag::O_RDONLY | OFlag::O_DIRECTORY, Mode::empty()).unwrap();
    nix::sys::stat::mkdirat(&dfd, "e", Mode::from_bits_truncate(0o700)).unwrap();
    unistd::unlinkat(&dfd, "e", unistd::UnlinkatFlags::RemoveDir).unwrap();
    unistd::unlinkat(&dfd, "s", unistd::UnlinkatFlags::NoRemoveDir).unwrap();
    nix::fcntl::renameat(&dfd, "f", &dfd, "g").unwrap();
    say("dirfd", dfd.as_raw_fd());
    std::env::set_current_dir(dir).unwrap();
    let root = open("/", OFlag::O_RDONLY | OFlag::O_DIRECTORY, Mode::empty()).unwrap();
    unistd::fchdir(&root).unwrap();
    let _ = openat(&dfd, "g", OFlag::O_RDONLY, Mode::empty()).unwrap();
    end();
    0
}

fn wl_fork() -> i32 {
    say("me", unistd::gettid());
    let sh = std::ffi::CString::new("/bin/sh").unwrap();
    let args = ["sh", "-c", "exit 3"].map(|a| std::ffi::CString::new(a).unwrap());
    match unsafe_fork() {
        ForkResult::Child => {
            let _ = unistd::execv(&sh, &args);
            std::process::exit(99);
        }
        ForkResult::Parent { child } => {
            say("child", child);
            let st = nix::sys::wait::waitpid(child, None).unwrap();
            say("status", format!("{st:?}").replace('=', ":"));
        }
    }
    // a thread that writes to a pipe and exits: its counters come before its exit
    let (r, w) = unistd::pipe().unwrap();
    let wfd = w.as_raw_fd();
    let t = std::thread::spawn(move || {
        let tid = unistd::gettid();
        say("thread", tid);
        for _ in 0..3 {
            unistd::write(&w, b"12345").unwrap();
        }
        (w, tid)
    });
    let (w, tid) = t.join().unwrap();
    // `join` returns once the kernel cleared the thread's id, before its exit event: the
    // close below waits until the thread is gone from /proc (after that event), so that
    // it cannot ship the thread's counters before the thread's exit does.
    while std::path::Path::new(&format!("/proc/self/task/{tid}")).exists() {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    say("wfd", wfd);
    drop((r, w));
    end();
    0
}

fn unsafe_fork() -> ForkResult {
    // SAFETY: the child only calls execv (async-signal-safe) or exits.
    unsafe { unistd::fork().unwrap() }
}

fn wl_setuid() -> i32 {
    say("me", unistd::gettid());
    unistd::setgid(unistd::Gid::from_raw(65534)).unwrap();
    unistd::setuid(unistd::Uid::from_raw(65534)).unwrap();
    end();
    0
}

fn wl_tcp() -> i32 {
    use std::net::{TcpListener, TcpStream};
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    say("me", unistd::gettid());
    say("lfd", l.as_raw_fd());
    say("port", port);
    let client = std::thread::spawn(move || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(&[1; 100]).unwrap();
        let mut buf = [0u8; 50];
        let (mut got, mut r) = (0, 0);
        while got < 50 {
            got += s.read(&mut buf[got..]).unwrap();
            r += 1;
        }
        let out = (
            unistd::gettid().as_raw(),
            s.as_raw_fd(),
            s.local_addr().unwrap().port(),
            r,
        );
        drop(s);
        out
    });
    let (mut s, _) = l.accept().unwrap();
    let mut buf = [0u8; 100];
    let (mut got, mut r) = (0, 0);
    while got < 100 {
        got += s.read(&mut buf[got..]).unwrap();
        r += 1;
    }
    s.write_all(&[2; 50]).unwrap();
    let (ctid, cfd, cport, crops) = client.join().unwrap();
    say("sfd", s.as_raw_fd());
    say("srops", r);
    say("child", ctid);
    say("cfd", cfd);
    say("cport", cport);
    say("cwops", 1);
    say("crops", crops);
    drop(s);
    end();
    0
}

fn wl_udp() -> i32 {
    use std::net::UdpSocket;
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let sport = server.local_addr().unwrap().port();
    let client = UdpSocket::bind("0.0.0.0:0").unwrap();
    let cport = client.local_addr().unwrap().port();
    say("me", unistd::gettid());
    say("sfd", server.as_raw_fd());
    say("cfd", client.as_raw_fd());
    say("sport", sport);
    say("cport", cport);
    for n in [10, 20, 30] {
        client.send_to(&vec![7; n], ("127.0.0.1", sport)).unwrap();
    }
    let mut buf = [0u8; 64];
    let mut from = None;
    for _ in 0..3 {
        let (_, a) = server.recv_from(&mut buf).unwrap();
        from = Some(a);
    }
    server.send_to(b"hello", from.unwrap()).unwrap();
    client.recv_from(&mut buf).unwrap();
    // a connected datagram socket is counted like a stream
    let conn = UdpSocket::bind("127.0.0.1:0").unwrap();
    conn.connect(("127.0.0.1", sport)).unwrap();
    conn.send(&[1; 7]).unwrap();
    say("kfd", conn.as_raw_fd());
    say("kport", conn.local_addr().unwrap().port());
    drop(conn);
    end();
    0
}

fn wl_setns() -> i32 {
    let f = std::fs::File::open("/proc/self/ns/uts").unwrap();
    say("me", unistd::gettid());
    say("fd", f.as_raw_fd());
    nix::sched::setns(&f, nix::sched::CloneFlags::CLONE_NEWUTS).unwrap();
    end();
    0
}

fn wl_pre(dir: &str) -> i32 {
    let fd = open(
        format!("{dir}/pre").as_str(),
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_APPEND,
        Mode::from_bits_truncate(0o600),
    )
    .unwrap()
    .into_raw_fd();
    say("me", unistd::gettid());
    say("fd", fd);
    end();
    wait_stdin();
    for _ in 0..5 {
        unistd::write(unsafe_borrow(fd), &[b'p'; 10]).unwrap();
    }
    // exit without closing: the counters come with the thread's exit
    0
}

fn wl_threads(dir: &str) -> i32 {
    let fd = open(
        format!("{dir}/shared").as_str(),
        OFlag::O_WRONLY | OFlag::O_CREAT,
        Mode::from_bits_truncate(0o600),
    )
    .unwrap()
    .into_raw_fd();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<i32>();
    let t = std::thread::spawn(move || {
        for _ in 0..4 {
            unistd::write(unsafe_borrow(fd), b"bb").unwrap();
        }
        done_tx.send(unistd::gettid().as_raw()).unwrap();
        go_rx.recv().unwrap(); // stay alive until the fd is closed
    });
    let other = done_rx.recv().unwrap();
    for _ in 0..3 {
        unistd::write(unsafe_borrow(fd), b"a").unwrap();
    }
    unistd::close(fd).unwrap();
    go_tx.send(()).unwrap();
    t.join().unwrap();
    say("me", unistd::gettid());
    say("other", other);
    say("fd", fd);
    end();
    0
}

fn wl_flush(dir: &str) -> i32 {
    let fd = open(
        format!("{dir}/flush").as_str(),
        OFlag::O_WRONLY | OFlag::O_CREAT,
        Mode::from_bits_truncate(0o600),
    )
    .unwrap()
    .into_raw_fd();
    for _ in 0..5 {
        unistd::write(unsafe_borrow(fd), b"12345678").unwrap();
    }
    say("me", unistd::gettid());
    say("fd", fd);
    end();
    wait_stdin();
    for _ in 0..2 {
        unistd::write(unsafe_borrow(fd), b"1234").unwrap();
    }
    unistd::close(fd).unwrap();
    0
}

fn wl_fds() -> i32 {
    let (r, w) = unistd::pipe().unwrap();
    let ino = nix::sys::stat::fstat(&r).unwrap().st_ino;
    say("me", unistd::gettid());
    say("r", r.as_raw_fd());
    say("w", w.as_raw_fd());
    say("ino", ino);
    // SAFETY: fd 40 is free in this fresh process; the duplicate is closed below by
    // close_range.
    unsafe { unistd::dup2_raw(&w, 40) }.unwrap();
    let d = nix::fcntl::fcntl(&r, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(50)).unwrap();
    say("dupfd", d);
    let (a, b) = nix::sys::socket::socketpair(
        nix::sys::socket::AddressFamily::Unix,
        nix::sys::socket::SockType::Stream,
        None,
        nix::sys::socket::SockFlag::empty(),
    )
    .unwrap();
    say("sp1", a.as_raw_fd());
    say("sp2", b.as_raw_fd());
    // close_range over the dups; libc has no safe wrapper, the raw syscall is enough
    // SAFETY: closes fds 40..=60 of this process, which only the dups above occupy.
    let rc = unsafe { libc::syscall(libc::SYS_close_range, 40u32, 60u32, 0u32) };
    say("crc", rc);
    drop((a, b));
    end();
    0
}

/// Opens in `dir`: a file by a relative path, a symlink to it, a path that does not
/// exist, and a pipe reopened through `/proc/self/fd`.
fn wl_opens(dir: &str) -> i32 {
    say("me", unistd::gettid());
    std::fs::write(format!("{dir}/target"), b"x").unwrap();
    std::os::unix::fs::symlink(format!("{dir}/target"), format!("{dir}/link")).unwrap();
    unistd::chdir(dir).unwrap();
    let rel = open("target", OFlag::O_RDONLY, Mode::empty()).unwrap();
    say("rel", rel.as_raw_fd());
    let link = open("link", OFlag::O_RDONLY, Mode::empty()).unwrap();
    say("link", link.as_raw_fd());
    let missing = open("missing", OFlag::O_RDONLY, Mode::empty()).unwrap_err();
    say("missing", -(missing as i64));
    let (_r, w) = unistd::pipe().unwrap();
    let reopened = format!("/proc/self/fd/{}", w.as_raw_fd());
    let p = open(reopened.as_str(), OFlag::O_WRONLY, Mode::empty()).unwrap();
    say("pipe", p.as_raw_fd());
    say("pipe_path", &reopened);
    end();
    0
}

/// Passes a file and a bound UDP socket to itself with SCM_RIGHTS, then exits without
/// using the received fds: only the recvmsg can name them.
fn wl_scm(dir: &str) -> i32 {
    use nix::sys::socket::{
        AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType, recvmsg,
        sendmsg, socketpair,
    };
    say("me", unistd::gettid());
    let path = format!("{dir}/passed");
    let f = std::fs::File::create(&path).unwrap();
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    say("path", &path);
    say("port", udp.local_addr().unwrap().port());
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::empty(),
    )
    .unwrap();
    let fds = [f.as_raw_fd(), udp.as_raw_fd()];
    let iov = [std::io::IoSlice::new(b"x")];
    sendmsg::<()>(
        a.as_raw_fd(),
        &iov,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .unwrap();
    let mut buf = [0u8; 1];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 2]);
    let msg = recvmsg::<()>(b.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::empty()).unwrap();
    let mut got = Vec::new();
    for c in msg.cmsgs().unwrap() {
        if let ControlMessageOwned::ScmRights(v) = c {
            got.extend(v);
        }
    }
    assert_eq!(got.len(), 2);
    say("file_fd", got[0]);
    say("udp_fd", got[1]);
    end();
    0
}

fn wl_noprivs() -> i32 {
    unistd::setgid(unistd::Gid::from_raw(65534)).unwrap();
    unistd::setuid(unistd::Uid::from_raw(65534)).unwrap();
    match LiveSource::open(&LiveConfig::default()) {
        Err(e) => {
            say("code", format!("{:?}", e.code()));
            say("msg", e.to_string().replace('=', ":"));
        }
        Ok(_) => say("code", "none"),
    }
    end();
    0
}

// ---------------------------------------------------------------------------------------
// Tests

/// At the default (`open_paths_as_passed` off) a successful open carries the kernel's
/// path alone: the path as passed (relative here, or a symlink) is read only where the
/// kernel's says less: a failed open, and a pipe reopened through `/proc` (the walk ends
/// at "/").
#[test]
fn opens_carry_the_path_as_passed_only_where_the_kernel_path_says_less() {
    if !root_or_skip() {
        return;
    }
    let mut src = LiveSource::open(&LiveConfig::default()).unwrap();
    let dir = tmpdir("opens");
    let mut child = spawn("opens", &dir);
    let pid = child.id() as i64;
    let m = report(&mut child);
    assert!(child.wait().unwrap().success());
    let mut cap = Capture::new();
    cap.until(&mut src, |c| c.exited(pid));
    let evs = cap.of(pid);
    // the workload's own opens are the last to return their fds (the loader's came first)
    let opened = |fd: i64| {
        evs.iter()
            .rev()
            .find_map(|r| match &r.ev {
                Ev::Open {
                    fd: f, path, kpath, ..
                } if *f == fd => Some((path.clone(), kpath.clone())),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no open returned {fd}: {evs:#?}"))
    };
    let target = Some(format!("{dir}/target").into_bytes());
    // a relative path and a symlink: the kernel's path (the file itself) alone
    assert_eq!(opened(num(&m, "rel")), (None, target.clone()));
    assert_eq!(opened(num(&m, "link")), (None, target));
    // a failed open: the path as passed, nothing opened
    assert_eq!(
        opened(num(&m, "missing")),
        (Some(b"missing".to_vec()), None)
    );
    // a pipe reopened through /proc: both, the kernel's being "/"
    assert_eq!(
        opened(num(&m, "pipe")),
        (
            Some(m["pipe_path"].clone().into_bytes()),
            Some(b"/".to_vec())
        )
    );
}

#[test]
fn file_io_is_counted_exactly_and_shipped_before_close() {
    if !root_or_skip() {
        return;
    }
    let mut src = source(CollectionMode::Flow);
    let dir = tmpdir("io");
    let mut child = spawn("io", &dir);
    let pid = child.id() as i64;
    let m = report(&mut child);
    assert!(child.wait().unwrap().success());
    let mut cap = Capture::new();
    cap.until(&mut src, |c| c.exited(pid));
    let evs = cap.of(pid);
    let fd = num(&m, "fd");
    let path = format!("{dir}/data").into_bytes();
    // the open, with PPM flags (RDWR|CREAT|TRUNC and the kernel's "created")
    let open_at = pos(
        &evs,
        |r| matches!(&r.ev, Ev::Open { path: p, fd: f, .. } if p.as_deref() == Some(&path[..]) && *f == fd),
    );
    let Ev::Open {
        kind, flags, dirfd, ..
    } = &evs[open_at].ev
    else {
        unreachable!()
    };
    assert_eq!(*kind, OpenKind::OpenAt);
    assert_eq!(*dirfd, Some(-100));
    let want = sysflow::model::OpenFlags::RDWR
        | sysflow::model::OpenFlags::CREAT
        | sysflow::model::OpenFlags::TRUNC
        | sysflow::model::OpenFlags::F_CREATED;
    assert_eq!(*flags, want.bits());
    let tid = evs[open_at].tid;
    // exactly one counter event for the fd, then the close
    let close_at = pos(&evs, |r| {
        r.tid == tid && matches!(r.ev, Ev::Close(Some(f), 0) if f == fd)
    });
    let between: Vec<&Rec> = evs[open_at + 1..close_at]
        .iter()
        .filter(|r| matches!(&r.ev, Ev::Counters(c) if c.fd == fd))
        .collect();
    assert_eq!(between.len(), 1, "{between:#?}");
    let Ev::Counters(c) = &between[0].ev else {
        unreachable!()
    };
    assert_eq!(between[0].tid, tid);
    assert_eq!(c.write_ops, num(&m, "wops") as u64);
    assert_eq!(c.write_bytes, num(&m, "wbytes") as u64);
    assert_eq!(c.read_ops, num(&m, "rops") as u64);
    assert_eq!(c.read_bytes, num(&m, "rbytes") as u64);
    assert_eq!(
        (c.write_ops, c.write_bytes, c.read_ops, c.read_bytes),
        (12, 1008, 7, 1006)
    );
    assert!(c.first_ts >= evs[open_at].ts && c.first_ts <= evs[close_at].ts);
    // the write-only fd: one write of 3 bytes and one failed read
    let wo = num(&m, "wo");
    let wo_close = pos(&evs, |r| {
        r.tid == tid && matches!(r.ev, Ev::Close(Some(f), 0) if f == wo) && r.ts > evs[close_at].ts
    });
    let c = counters(&evs[close_at + 1..wo_close], tid, wo);
    assert_eq!(
        (c.write_ops, c.write_bytes, c.read_ops, c.read_bytes),
        (1, 3, 1, 0)
    );
    let st = src.stats();
    assert!(st.kernel_events > 0 && st.events > 0, "{st:?}");
    assert_eq!(st.decode_errors, 0);
}

/// (op, res, dirfd1, path1, dirfd2, path2)
type FileOpRow = (
    FileOp,
    i64,
    Option<i64>,
    Vec<u8>,
    Option<i64>,
    Option<Vec<u8>>,
);

#[test]
fn file_operations_carry_paths_and_dirfds() {
    if !root_or_skip() {
        return;
    }
    let mut src = source(CollectionMode::Flow);
    let dir = tmpdir("fileops");
    let mut child = spawn("fileops", &dir);
    let pid = child.id() as i64;
    let m = report(&mut child);
    assert!(child.wait().unwrap().success());
    let mut cap = Capture::new();
    cap.until(&mut src, |c| c.exited(pid));
    let evs = cap.of(pid);
    let dfd = num(&m, "dirfd");
    let p = |n: &str| format!("{dir}/{n}").into_bytes();
    let ops: Vec<FileOpRow> = evs
        .iter()
        .filter_map(|r| match &r.ev {
            Ev::FileOp {
                op,
                res,
                dirfd1,
                path1,
                dirfd2,
                path2,
            } if path1.starts_with(dir.as_bytes())
                || path2
                    .as_ref()
                    .is_some_and(|p| p.starts_with(dir.as_bytes()))
                || dirfd1 == &Some(dfd) =>
            {
                Some((*op, *res, *dirfd1, path1.clone(), *dirfd2, path2.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        ops,
        vec![
            (FileOp::Mkdir, 0, None, p("d"), None, None),
            // std's rename, hard_link, symlink and remove_file are rename, linkat,
            // symlink and unlink
            (FileOp::Rename, 0, None, p("d"), None, Some(p("d2"))),
            (
                FileOp::Link,
                0,
                Some(-100),
                p("f"),
                Some(-100),
                Some(p("f2"))
            ),
            (FileOp::Symlink, 0, None, b"f".to_vec(), None, Some(p("s"))),
            (FileOp::Unlink, 0, None, p("f2"), None, None),
            (FileOp::Rmdir, 0, None, p("d2"), None, None),
            (FileOp::Mkdir, 0, Some(dfd), b"e".to_vec(), None, None),
            (FileOp::Unlink, 0, Some(dfd), b"e".to_vec(), None, None),
            (FileOp::Unlink, 0, Some(dfd), b"s".to_vec(), None, None),
            (
                FileOp::Rename,
                0,
                Some(dfd),
                b"f".to_vec(),
                Some(dfd),
                Some(b"g".to_vec())
            ),
        ]
    );
    // working directory changes carry the new absolute directory
    let chdirs: Vec<&Ev> = evs
        .iter()
        .map(|r| &r.ev)
        .filter(|e| matches!(e, Ev::Chdir(..)))
        .collect();
    assert_eq!(
        chdirs,
        vec![
            &Ev::Chdir(0, dir.clone().into_bytes()),
            &Ev::Chdir(0, b"/".to_vec())
        ]
    );
    // an *at open against the directory fd
    assert!(evs.iter().any(|r| matches!(&r.ev,
        Ev::Open { kind: OpenKind::OpenAt, dirfd: Some(d), path, fd, .. } if *d == dfd && path.as_deref() == Some(&b"g"[..]) && *fd >= 0)));
}

#[test]
fn fork_exec_exit_chain_and_thread_lifecycle() {
    if !root_or_skip() {
        return;
    }
    let mut src = source(CollectionMode::Flow);
    let mut child = spawn("fork", "");
    let pid = child.id() as i64;
    let m = report(&mut child);
    assert!(child.wait().unwrap().success());
    let mut cap = Capture::new();
    cap.until(&mut src, |c| c.exited(pid));
    let evs = cap.of(pid);
    let me = num(&m, "me");
    let kid = num(&m, "child");
    // parent side: res = child, info = the caller
    let parent_side = pos(&evs, |r| {
        r.tid == me && matches!(&r.ev, Ev::Clone { res, .. } if *res == kid)
    });
    let Ev::Clone { flags, p, .. } = &evs[parent_side].ev else {
        unreachable!()
    };
    assert_eq!(flags & (1 << 13), 0, "a process, not a thread");
    assert_eq!((p.tid, p.pid), (me, pid));
    // child side: res = 0, info = the child
    let child_side = pos(&evs, |r| {
        r.tid == kid && matches!(&r.ev, Ev::Clone { res: 0, .. })
    });
    let Ev::Clone { p, .. } = &evs[child_side].ev else {
        unreachable!()
    };
    assert_eq!(
        (p.tid, p.pid, p.ptid, p.vtid, p.vpid),
        (kid, kid, me, Some(kid), Some(kid))
    );
    assert!(
        !p.cgroups.is_empty() && p.cgroups.windows(2).any(|w| w == b"=/"),
        "{:?}",
        String::from_utf8_lossy(&p.cgroups)
    );
    // The child inherits our cgroups: every hierarchy /proc/self/cgroup lists (each v1
    // controller, and the v2 one as `unified`) is in the kernel's record, path for path.
    let entries: Vec<String> = p
        .cgroups
        .split(|&b| b == 0)
        .filter(|e| !e.is_empty())
        .map(|e| String::from_utf8_lossy(e).into_owned())
        .collect();
    for line in std::fs::read_to_string("/proc/self/cgroup")
        .unwrap()
        .lines()
    {
        let mut f = line.splitn(3, ':');
        let (_, ctrls, path) = (f.next(), f.next().unwrap(), f.next().unwrap());
        let names: Vec<&str> = if ctrls.is_empty() {
            vec!["unified"]
        } else {
            ctrls
                .split(',')
                .filter(|c| !c.starts_with("name="))
                .collect()
        };
        for name in names {
            let want = format!("{name}={path}");
            assert!(entries.contains(&want), "{want} not in {entries:?}");
        }
    }
    assert_eq!((p.uid, p.gid), (Some(0), Some(0)));
    // both sides carry the child's creation time
    assert_eq!(evs[parent_side].ts, evs[child_side].ts);
    // the exec of the child
    let exec = pos(&evs, |r| {
        r.tid == kid && matches!(&r.ev, Ev::Exec { res: 0, .. })
    });
    let Ev::Exec {
        p,
        exepath,
        filename,
        env,
        ..
    } = &evs[exec].ev
    else {
        unreachable!()
    };
    assert_eq!(p.exe, b"sh");
    assert_eq!(p.args, b"-c\0exit 3\0");
    assert_eq!(p.comm, b"sh");
    assert_eq!((p.tid, p.pid, p.ptid), (kid, kid, me));
    assert_eq!(filename, b"/bin/sh");
    let real = std::fs::canonicalize("/bin/sh").unwrap();
    assert_eq!(exepath, real.as_os_str().as_encoded_bytes());
    assert!(env.windows(22).any(|w| w == b"SF_LIVE_WORKLOAD=fork\0"));
    assert!(exec > child_side);
    // its exit, last
    let exit = pos(&evs, |r| r.tid == kid && matches!(r.ev, Ev::Exit(_)));
    assert_eq!(evs[exit].ev, Ev::Exit(3 << 8));
    assert!(!evs[exit + 1..].iter().any(|r| r.tid == kid));
    // the thread: clone with CLONE_THREAD, its pipe counters right before its exit
    let th = num(&m, "thread");
    let tclone = pos(&evs, |r| {
        r.tid == th && matches!(&r.ev, Ev::Clone { res: 0, .. })
    });
    let Ev::Clone { flags, p, .. } = &evs[tclone].ev else {
        unreachable!()
    };
    assert_ne!(flags & (1 << 13), 0);
    assert_eq!(p.pid, pid);
    let texit = pos(&evs, |r| r.tid == th && matches!(r.ev, Ev::Exit(_)));
    let wfd = num(&m, "wfd");
    assert_eq!(evs[texit - 1].tid, th);
    assert!(
        matches!(&evs[texit - 1].ev, Ev::Counters(c) if c.fd == wfd && c.write_ops == 3 && c.write_bytes == 15)
    );
}

#[test]
fn setuid_and_setgid_are_reported_with_their_ids() {
    if !root_or_skip() {
        return;
    }
    let mut src = source(CollectionMode::NoFiles);
    let mut child = spawn("setuid", "");
    let pid = child.id() as i64;
    let m = report(&mut child);
    assert!(child.wait().unwrap().success());
    let mut cap = Capture::new();
    cap.until(&mut src, |c| c.exited(pid));
    let me = num(&m, "me");
    let ids: Vec<Ev> = cap
        .of(pid)
        .into_iter()
        .filter(|r| r.tid == me && matches!(r.ev, Ev::SetIds(..)))
        .map(|r| r.ev)
        .collect();
    assert_eq!(
        ids,
        vec![
            Ev::SetIds(0, Some(IdChange::SetGid(65534))),
            Ev::SetIds(0, Some(IdChange::SetUid(65534)))
        ]
    );
}

#[test]
fn tcp_connect_and_accept_tuples_are_client_to_server() {
    if !root_or_skip() {
        return;
    }
    let mut src = source(CollectionMode::Flow);
    let mut child = spawn("tcp", "");
    let pid = child.id() as i64;
    let m = report(&mut child);
    assert!(child.wait().unwrap().success());
    let mut cap = Capture::new();
    cap.until(&mut src, |c| c.exited(pid));
    let evs = cap.of(pid);
    let (port, cport) = (num(&m, "port") as u16, num(&m, "cport") as u16);
    let lo = [127, 0, 0, 1];
    let want = Tuple::V4(lo, cport, lo, port);
    let kid = num(&m, "child");
    let (sfd, cfd) = (num(&m, "sfd"), num(&m, "cfd"));
    let me = num(&m, "me");
    assert!(
        evs.iter()
            .any(|r| r.tid == kid && r.ev == Ev::Connect(Some(cfd), 0, Some(want.clone()))),
        "{evs:#?}"
    );
    assert!(
        evs.iter()
            .any(|r| r.tid == me && r.ev == Ev::Accept(sfd, Some(want.clone())))
    );
    assert!(evs.iter().any(|r| r.tid == me
        && r.ev
            == Ev::Bind(
                Some(num(&m, "lfd")),
                0,
                Some(format!("{:?}", SockAddr::V4(lo, 0)))
            )));
    assert!(
        evs.iter()
            .any(|r| r.tid == me && r.ev == Ev::Socket(num(&m, "lfd"), 2, 1 | 0o2000000, 0))
    );
    let s = counters(&evs, me, sfd);
    assert_eq!((s.read_ops, s.read_bytes), (num(&m, "srops") as u64, 100));
    assert_eq!((s.write_ops, s.write_bytes), (1, 50));
    let c = counters(&evs, kid, cfd);
    assert_eq!((c.write_ops, c.write_bytes), (num(&m, "cwops") as u64, 100));
    assert_eq!((c.read_ops, c.read_bytes), (num(&m, "crops") as u64, 50));
}

#[test]
fn udp_datagrams_carry_their_peer_and_connected_udp_is_counted() {
    if !root_or_skip() {
        return;
    }
    let mut src = source(CollectionMode::Flow);
    let mut child = spawn("udp", "");
    let pid = child.id() as i64;
    let m = report(&mut child);
    assert!(child.wait().unwrap().success());
    let mut cap = Capture::new();
    cap.until(&mut src, |c| c.exited(pid));
    let evs = cap.of(pid);
    let me = num(&m, "me");
    let (sfd, cfd, kfd) = (num(&m, "sfd"), num(&m, "cfd"), num(&m, "kfd"));
    let (sport, cport, kport) = (
        num(&m, "sport") as u16,
        num(&m, "cport") as u16,
        num(&m, "kport") as u16,
    );
    let lo = [127, 0, 0, 1];
    let io: Vec<Ev> = evs
        .iter()
        .filter(|r| r.tid == me && matches!(r.ev, Ev::Io { .. }))
        .map(|r| r.ev.clone())
        .collect();
    let io_ev = |dir, fd, res, t| Ev::Io {
        dir,
        fd: Some(fd),
        res,
        tuple: Some(t),
    };
    assert_eq!(
        io,
        vec![
            io_ev(IoDir::Write, cfd, 10, Tuple::V4([0; 4], cport, lo, sport)),
            io_ev(IoDir::Write, cfd, 20, Tuple::V4([0; 4], cport, lo, sport)),
            io_ev(IoDir::Write, cfd, 30, Tuple::V4([0; 4], cport, lo, sport)),
            io_ev(IoDir::Read, sfd, 10, Tuple::V4(lo, cport, lo, sport)),
            io_ev(IoDir::Read, sfd, 20, Tuple::V4(lo, cport, lo, sport)),
            io_ev(IoDir::Read, sfd, 30, Tuple::V4(lo, cport, lo, sport)),
            io_ev(IoDir::Write, sfd, 5, Tuple::V4(lo, sport, lo, cport)),
            io_ev(IoDir::Read, cfd, 5, Tuple::V4(lo, sport, [0; 4], cport)),
        ]
    );
    assert!(
        evs.iter()
            .any(|r| r.ev == Ev::Connect(Some(kfd), 0, Some(Tuple::V4(lo, kport, lo, sport))))
    );
    let k = counters(&evs, me, kfd);
    assert_eq!((k.write_ops, k.write_bytes, k.read_ops), (1, 7, 0));
}

#[test]
fn setns_is_reported_with_its_fd() {
    if !root_or_skip() {
        return;
    }
    let mut src = source(CollectionMode::Flow);
    let mut child = spawn("setns", "");
    let pid = child.id() as i64;
    let m = report(&mut child);
    assert!(child.wait().unwrap().success());
    let mut cap = Capture::new();
    cap.until(&mut src, |c| c.exited(pid));
    let me = num(&m, "me");
    let fd = num(&m, "fd");
    assert!(
        cap.of(pid)
            .iter()
            .any(|r| r.tid == me && r.ev == Ev::Setns(Some(fd), 0))
    );
}

#[test]
fn a_process_started_before_capture_is_in_the_snapshot_and_its_io_counted() {
    if !root_or_skip() {
        return;
    }
    let dir = tmpdir("pre");
    let mut child = spawn("pre", &dir);
    let pid = child.id() as i64;
    let m = report(&mut child); // the fd is open before capture starts
    let mut src = source(CollectionMode::Flow);
    let snap = src.snapshot().unwrap();
    let main = snap
        .iter()
        .find(|s| s.tid == pid)
        .expect("pre-existing process in the snapshot");
    assert_eq!(main.pid, pid);
    let fd = num(&m, "fd");
    let (_, info) = main
        .fds
        .iter()
        .find(|(f, _)| *f == fd)
        .expect("its fd in the snapshot");
    assert_eq!(info.name, format!("{dir}/pre").into_bytes());
    assert_eq!(info.kind, sysflow::state::FdKind::FileV2);
    let want = sysflow::model::OpenFlags::WRONLY | sysflow::model::OpenFlags::APPEND;
    assert_eq!(info.openflags & want.bits(), want.bits());
    assert!(
        main.exepath.ends_with(b"live_source")
            || main.exepath.windows(11).any(|w| w == b"live_source")
    );
    let me = num(&m, "me");
    let worker = snap
        .iter()
        .find(|s| s.tid == me)
        .expect("the workload thread");
    // a thread's parent is its process's: this test process, which spawned it (as
    // `PPid:` in the kernel's /proc/<pid>/task/<tid>/status says)
    let me_test = i64::from(std::process::id());
    assert_eq!((worker.pid, worker.ptid), (pid, me_test));
    assert_eq!(worker.flags & (1 << 13), 1 << 13);
    child.stdin.as_mut().unwrap().write_all(b"go").unwrap();
    assert!(child.wait().unwrap().success());
    let mut cap = Capture::new();
    cap.until(&mut src, |c| c.exited(pid) && c.exited(me));
    let evs: Vec<Rec> = cap
        .recs
        .iter()
        .filter(|r| r.tid == me || r.tid == pid)
        .cloned()
        .collect();
    let exit = pos(&evs, |r| r.tid == me && matches!(r.ev, Ev::Exit(_)));
    let c = counters(&evs[..exit], me, fd);
    assert_eq!((c.write_ops, c.write_bytes), (5, 50));
}

#[test]
fn close_ships_every_threads_counters_for_the_fd_first() {
    if !root_or_skip() {
        return;
    }
    let mut src = source(CollectionMode::Flow);
    let dir = tmpdir("threads");
    let mut child = spawn("threads", &dir);
    let pid = child.id() as i64;
    let m = report(&mut child);
    assert!(child.wait().unwrap().success());
    let mut cap = Capture::new();
    cap.until(&mut src, |c| c.exited(pid));
    let evs = cap.of(pid);
    let (me, other, fd) = (num(&m, "me"), num(&m, "other"), num(&m, "fd"));
    let close = pos(&evs, |r| r.tid == me && r.ev == Ev::Close(Some(fd), 0));
    let a = counters(&evs[..close], me, fd);
    let b = counters(&evs[..close], other, fd);
    assert_eq!((a.write_ops, a.write_bytes), (3, 3));
    assert_eq!((b.write_ops, b.write_bytes), (4, 8));
    assert_eq!(counters(&evs[close..], other, fd).write_ops, 0);
}

#[test]
fn flush_counters_ships_what_the_kernel_holds() {
    if !root_or_skip() {
        return;
    }
    let mut src = source(CollectionMode::Flow);
    let dir = tmpdir("flush");
    let mut child = spawn("flush", &dir);
    let pid = child.id() as i64;
    let m = report(&mut child);
    let (me, fd) = (num(&m, "me"), num(&m, "fd"));
    let mut cap = Capture::new();
    cap.poll(&mut src, Duration::from_millis(50));
    src.flush_counters(&mut |e| cap.take(e)).unwrap();
    let flushed = counters(&cap.recs, me, fd);
    assert_eq!((flushed.write_ops, flushed.write_bytes), (5, 40));
    // a second flush has nothing left for the fd
    let before = cap.recs.len();
    src.flush_counters(&mut |e| cap.take(e)).unwrap();
    assert_eq!(counters(&cap.recs[before..], me, fd).write_ops, 0);
    child.stdin.as_mut().unwrap().write_all(b"go").unwrap();
    assert!(child.wait().unwrap().success());
    cap.until(&mut src, |c| c.exited(pid));
    let evs = cap.of(pid);
    let close = pos(&evs, |r| r.tid == me && r.ev == Ev::Close(Some(fd), 0));
    let total = counters(&evs[..close], me, fd);
    assert_eq!((total.write_ops, total.write_bytes), (7, 48));
}

#[test]
fn pipes_dups_socketpairs_and_close_range() {
    if !root_or_skip() {
        return;
    }
    let mut src = source(CollectionMode::Flow);
    let mut child = spawn("fds", "");
    let pid = child.id() as i64;
    let m = report(&mut child);
    assert!(child.wait().unwrap().success());
    let mut cap = Capture::new();
    cap.until(&mut src, |c| c.exited(pid));
    let me = num(&m, "me");
    let evs: Vec<Ev> = cap
        .of(pid)
        .into_iter()
        .filter(|r| r.tid == me)
        .map(|r| r.ev)
        .collect();
    let (r, w) = (num(&m, "r"), num(&m, "w"));
    assert!(
        evs.contains(&Ev::Pipe(0, r, w, num(&m, "ino") as u64)),
        "{evs:#?}"
    );
    assert!(evs.contains(&Ev::Dup(40, Some(w))));
    assert!(evs.contains(&Ev::Dup(num(&m, "dupfd"), Some(r))));
    let sp = evs
        .iter()
        .find_map(|e| match e {
            Ev::Socketpair(0, a, b, s, p) => Some((*a, *b, *s, *p)),
            _ => None,
        })
        .expect("socketpair");
    assert_eq!((sp.0, sp.1), (num(&m, "sp1"), num(&m, "sp2")));
    assert!(sp.2 != 0 && sp.3 != 0 && sp.2 != sp.3);
    assert!(evs.contains(&Ev::CloseRange(40, 60, 0, 0)));
}

#[test]
fn fds_received_with_scm_rights_are_named_by_the_kernel() {
    if !root_or_skip() {
        return;
    }
    let dir = tmpdir("scm");
    let mut src = source(CollectionMode::Flow);
    let mut child = spawn("scm", &dir);
    let pid = child.id() as i64;
    let m = report(&mut child);
    assert!(child.wait().unwrap().success());
    let mut cap = Capture::new();
    cap.until(&mut src, |c| c.exited(pid));
    let me = num(&m, "me");
    let seen: Vec<(i64, u32, Vec<u8>, Option<Tuple>)> = cap
        .of(pid)
        .into_iter()
        .filter(|r| r.tid == me)
        .filter_map(|r| match r.ev {
            Ev::FdSeen(fd, mode, path, t) => Some((fd, mode, path, t)),
            _ => None,
        })
        .collect();
    let file_fd = num(&m, "file_fd");
    let file: Vec<_> = seen.iter().filter(|s| s.0 == file_fd).collect();
    assert_eq!(file.len(), 1, "{seen:#?}");
    assert_eq!(file[0].1 & 0o170000, 0o100000, "a regular file");
    assert_eq!(file[0].2, m["path"].as_bytes());
    let udp_fd = num(&m, "udp_fd");
    let udp: Vec<_> = seen.iter().filter(|s| s.0 == udp_fd).collect();
    assert_eq!(udp.len(), 1, "{seen:#?}");
    assert_eq!(udp[0].1 & 0o170000, 0o140000, "a socket");
    let port = num(&m, "port") as u16;
    let lo = std::net::Ipv4Addr::LOCALHOST;
    assert_eq!(udp[0].3, Some(Tuple::V4(lo.octets(), port, [0; 4], 0)));
}

#[test]
fn no_files_mode_leaves_out_file_events_and_counters() {
    if !root_or_skip() {
        return;
    }
    let mut src = source(CollectionMode::NoFiles);
    let dir = tmpdir("nofiles");
    let mut child = spawn("io", &dir);
    let pid = child.id() as i64;
    let _ = report(&mut child);
    assert!(child.wait().unwrap().success());
    let mut cap = Capture::new();
    cap.until(&mut src, |c| c.exited(pid));
    let evs = cap.of(pid);
    let data = format!("{dir}/data").into_bytes();
    assert!(
        evs.iter()
            .any(|r| matches!(&r.ev, Ev::Open { path, .. } if path.as_deref() == Some(&data[..])))
    );
    assert!(
        !evs.iter()
            .any(|r| matches!(&r.ev, Ev::Counters(c) if c.write_bytes == 1008))
    );
    assert!(!evs.iter().any(|r| matches!(r.ev, Ev::FileOp { .. })));
}

#[test]
fn sources_open_and_close_repeatedly() {
    if !root_or_skip() {
        return;
    }
    for _ in 0..3 {
        let t = Instant::now();
        let mut src = source(CollectionMode::Flow);
        // (how long loading takes is the benchmark's business: other tests of this file
        // load probes at the same time)
        eprintln!("opened in {:?}", t.elapsed());
        src.poll(Duration::from_millis(10), &mut |_| {}).unwrap();
        drop(src);
    }
}

#[test]
fn missing_privileges_are_named() {
    let m = if nix::unistd::geteuid().is_root() {
        // drop root in a workload process
        let mut child = spawn("noprivs", "");
        let m = report(&mut child);
        assert!(child.wait().unwrap().success());
        m
    } else {
        let e = LiveSource::open(&LiveConfig::default()).unwrap_err();
        [
            ("code".to_string(), format!("{:?}", e.code())),
            ("msg".to_string(), e.to_string()),
        ]
        .into()
    };
    assert_eq!(
        m["code"],
        format!("{:?}", ErrorCode::ProbeAccessDenied),
        "{m:?}"
    );
    assert!(m["msg"].contains("CAP_BPF"), "{m:?}");
}

#[test]
fn sampling_skips_io_but_never_lifecycle_or_state_changes() {
    if !root_or_skip() {
        return;
    }
    let cfg = LiveConfig {
        sampling_ratio: 1_000_000,
        open_paths_as_passed: true,
        ..LiveConfig::default()
    };
    let mut src = LiveSource::open(&cfg).unwrap();
    let dir = tmpdir("sampling");
    let mut child = spawn("io", &dir);
    let pid = child.id() as i64;
    let m = report(&mut child);
    assert!(child.wait().unwrap().success());
    let mut cap = Capture::new();
    cap.until(&mut src, |c| c.exited(pid));
    let evs = cap.of(pid);
    let fd = num(&m, "fd");
    let data = format!("{dir}/data").into_bytes();
    let open_at = pos(
        &evs,
        |r| matches!(&r.ev, Ev::Open { path, fd: f, .. } if path.as_deref() == Some(&data[..]) && *f == fd),
    );
    let tid = evs[open_at].tid;
    let close = pos(&evs, |r| {
        r.tid == tid && r.ev == Ev::Close(Some(fd), 0) && r.ts > evs[open_at].ts
    });
    let c = counters(&evs[open_at..close], tid, fd);
    assert!(c.write_ops + c.read_ops < 19, "{c:?}");
    assert!(src.stats().sampled_out > 0);
}
