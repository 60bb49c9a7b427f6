//! No blind spots (live, root + BTF; runs in CI here): workloads that act through the
//! less common doors — 32-bit syscalls (by hand through `int 0x80`, and a `gcc -m32`
//! program), data moved without read/write, every message of
//! sendmmsg/recvmmsg, an exec from a secondary thread, close-on-exec, fds made by eventfd
//! and memfd_create, threads racing a close and dup2 on the fd they write, deep and long
//! paths, a path rewritten by a sibling thread while it is opened — each with its ground
//! truth taken from the workload itself (what every syscall returned, what the kernel
//! says the fd is) and compared exactly with the SysFlow records read back from the file.

mod common;

use std::collections::HashMap;
use std::ffi::CString;
use std::io::Read;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, IntoRawFd, RawFd};
use std::process::Child;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;
use sysflow::avro::SfReader;
use sysflow::model::*;
use sysflow::{FileReadMode, SysFlowConfig, SysFlowDriver};

// ------------------------------------------------------------------------ helpers

fn say(k: &str, v: impl std::fmt::Display) {
    println!("{k}={v}");
}

fn cpath(p: &str) -> CString {
    CString::new(p).unwrap()
}

fn check(r: libc::c_long, what: &str) -> libc::c_long {
    assert!(r >= 0, "{what}: {}", std::io::Error::last_os_error());
    r
}

/// What the kernel says fd is (`/proc/self/fd`).
fn fd_target(fd: RawFd) -> String {
    std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// Per-fd tallies of every call a workload made: (read ops, read bytes, write ops, write
/// bytes), reported as `io.<fd>=r,rb,w,wb`.
#[derive(Default)]
struct Tally(HashMap<RawFd, [i64; 4]>);

impl Tally {
    fn r(&mut self, fd: RawFd, ops: i64, n: i64) {
        let e = self.0.entry(fd).or_default();
        e[0] += ops;
        e[1] += n.max(0);
    }
    fn w(&mut self, fd: RawFd, ops: i64, n: i64) {
        let e = self.0.entry(fd).or_default();
        e[2] += ops;
        e[3] += n.max(0);
    }
    fn report(&self) {
        for (fd, t) in &self.0 {
            let target = fd_target(*fd);
            let what = if target.starts_with("socket:") {
                "sock".to_string()
            } else if target.starts_with("pipe:") {
                "pipe".to_string()
            } else {
                target
            };
            say(
                &format!("io.{fd}"),
                format!("{},{},{},{},{what}", t[0], t[1], t[2], t[3]),
            );
        }
    }
}

/// A 32-bit system call through `int 0x80` (ia32 numbering, ebx/ecx/edx/esi). Pointers
/// must be below 4 GiB.
///
/// # Safety
/// As the system call itself.
unsafe fn sys32(nr: u32, a: u32, b: u32, c: u32, d: u32) -> i32 {
    let ret: i32;
    // SAFETY: int 0x80 clobbers only eax (the result); rbx is reserved by the compiler,
    // so the first argument travels in another register and is swapped in and back.
    unsafe {
        std::arch::asm!(
            "xchg rbx, {a}",
            "int 0x80",
            "xchg rbx, {a}",
            a = inout(reg) u64::from(a) => _,
            inlateout("eax") nr => ret,
            in("ecx") b,
            in("edx") c,
            in("esi") d,
        );
    }
    ret
}

/// Memory below 2 GiB for 32-bit syscall arguments.
struct Low(*mut u8);

impl Low {
    fn new() -> Self {
        // SAFETY: a fresh anonymous mapping; MAP_32BIT keeps it below 2 GiB.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                1 << 16,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_32BIT,
                -1,
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED);
        Low(p.cast())
    }
    /// Copies bytes to offset `off`; returns their 32-bit address.
    fn put(&self, off: usize, b: &[u8]) -> u32 {
        assert!(off + b.len() <= 1 << 16);
        // SAFETY: inside the 64 KiB mapping (checked above).
        unsafe { std::ptr::copy_nonoverlapping(b.as_ptr(), self.0.add(off), b.len()) };
        self.addr(off)
    }
    fn addr(&self, off: usize) -> u32 {
        (self.0 as usize + off) as u32
    }
}

fn sockaddr_in(port: u16) -> [u8; 16] {
    let mut sa = [0u8; 16];
    sa[0..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
    sa[2..4].copy_from_slice(&port.to_be_bytes());
    sa[4..8].copy_from_slice(&[127, 0, 0, 1]);
    sa
}

fn local_port(fd: RawFd) -> u16 {
    // SAFETY: getsockname into a sockaddr_in-sized buffer.
    unsafe {
        let mut sa: libc::sockaddr_in = std::mem::zeroed();
        let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        check(
            libc::getsockname(fd, (&raw mut sa).cast(), &mut len) as libc::c_long,
            "getsockname",
        );
        u16::from_be(sa.sin_port)
    }
}

// ------------------------------------------------------------------------ workloads

#[test]
fn workload_entry() {
    let Ok(w) = std::env::var("SF_COVER_WORKLOAD") else {
        return; // a normal test run: nothing to do
    };
    let dir = std::env::var("SF_COVER_DIR").unwrap();
    println!();
    say("pid", std::process::id());
    match w.as_str() {
        "ia32" => ia32(&dir),
        "moves" => moves(&dir),
        "mmsg" => mmsg(),
        "exec_thread" => exec_thread(&dir), // does not return
        "fdreuse" => fdreuse(&dir),
        "race" => race(&dir),
        "paths" => paths(&dir),
        "toctou" => toctou(&dir),
        "uring" => uring(&dir),
        "udp_inherit" => udp_inherit(),
        "heir" => {
            // write to the fd inherited from the collector, directly, and go
            let fd: RawFd = std::env::var("SF_HEIR_FD").unwrap().parse().unwrap();
            // SAFETY: writes 5 bytes from a static buffer; the fd is only written.
            let n = unsafe { libc::write(fd, b"12345".as_ptr().cast(), 5) };
            check(n as _, "write");
        }
        other => panic!("unknown workload {other}"),
    }
    println!("END");
    std::process::exit(0);
}

/// Opens, writes, connects (direct calls and socketcall), sends and execs through
/// `int 0x80`.
fn ia32(dir: &str) {
    let low = Low::new();
    let path = format!("{dir}/ia32.bin");
    let p = low.put(0, format!("{path}\0").as_bytes());
    let buf = low.put(4096, &[b'i'; 100]);
    // SAFETY: 32-bit syscalls on memory of `low`.
    unsafe {
        let fd = sys32(
            5,
            p,
            (libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC) as u32,
            0o644,
            0,
        );
        assert!(fd >= 0, "ia32 open: {fd}");
        for _ in 0..3 {
            assert_eq!(sys32(4, fd as u32, buf, 100, 0), 100);
        }
        assert_eq!(sys32(6, fd as u32, 0, 0, 0), 0);
        say("file_fd", fd);
        say("file", &path);

        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        say("port", port);
        let server = std::thread::spawn(move || {
            let mut got = Vec::new();
            for _ in 0..2 {
                let (mut s, _) = l.accept().unwrap();
                let mut b = Vec::new();
                s.read_to_end(&mut b).unwrap();
                got.push(b.len());
            }
            got
        });
        let sa = low.put(8192, &sockaddr_in(port));
        // direct socket calls (ia32 numbers 359 socket, 362 connect)
        let s = sys32(359, libc::AF_INET as u32, libc::SOCK_STREAM as u32, 0, 0);
        assert!(s >= 0, "ia32 socket: {s}");
        assert_eq!(sys32(362, s as u32, sa, 16, 0), 0, "ia32 connect");
        say("direct_fd", s);
        say("direct_port", local_port(s));
        assert_eq!(sys32(4, s as u32, buf, 50, 0), 50);
        assert_eq!(sys32(6, s as u32, 0, 0, 0), 0);
        // socketcall(2): SYS_SOCKET 1, SYS_CONNECT 3, SYS_SEND 9
        let args = low.addr(12288);
        low.put(12288, &[2u32, 1, 0].map(u32::to_ne_bytes).concat());
        let s2 = sys32(102, 1, args, 0, 0);
        assert!(s2 >= 0, "socketcall socket: {s2}");
        low.put(12288, &[s2 as u32, sa, 16].map(u32::to_ne_bytes).concat());
        assert_eq!(sys32(102, 3, args, 0, 0), 0, "socketcall connect");
        say("socketcall_fd", s2);
        say("socketcall_port", local_port(s2));
        low.put(
            12288,
            &[s2 as u32, buf, 25, 0].map(u32::to_ne_bytes).concat(),
        );
        assert_eq!(sys32(102, 9, args, 0, 0), 25, "socketcall send");
        assert_eq!(sys32(6, s2 as u32, 0, 0, 0), 0);
        assert_eq!(server.join().unwrap(), vec![50, 25]);

        // execve through int 0x80 in a child
        let prog = low.put(16384, b"/bin/true\0");
        low.put(16400, &[prog, 0].map(u32::to_ne_bytes).concat());
        let argv = low.addr(16400);
        let envp = low.addr(16408);
        low.put(16408, &0u32.to_ne_bytes());
        let child = libc::fork();
        if child == 0 {
            sys32(11, prog, argv, envp, 0);
            libc::_exit(127);
        }
        let mut st = 0;
        libc::waitpid(child, &mut st, 0);
        assert_eq!(libc::WEXITSTATUS(st), 0, "ia32 execve of /bin/true");
        say("exec_child", child);
    }
}

/// sendfile, copy_file_range, splice, tee and vmsplice, between files, pipes and a TCP
/// socket; every fd stays open until the process ends so its number is unique.
fn moves(dir: &str) {
    let mut t = Tally::default();
    // SAFETY: plain syscalls on fds this function owns and buffers it owns.
    unsafe {
        let open = |name: &str, flags: i32| {
            check(
                libc::open(cpath(&format!("{dir}/{name}")).as_ptr(), flags, 0o644) as libc::c_long,
                name,
            ) as RawFd
        };
        let wr = libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC;
        let src = open("src.bin", wr);
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let mut off = 0;
        while off < data.len() {
            let n = check(
                libc::write(src, data[off..].as_ptr().cast(), data.len() - off) as libc::c_long,
                "write src",
            );
            t.w(src, 1, n);
            off += n as usize;
        }
        // sendfile file -> file, 64 KiB
        let (i1, o1) = (open("src.bin", libc::O_RDONLY), open("dst1.bin", wr));
        let mut left = 65536;
        while left > 0 {
            let n = check(
                libc::sendfile(o1, i1, std::ptr::null_mut(), left) as libc::c_long,
                "sendfile",
            );
            t.r(i1, 1, n);
            t.w(o1, 1, n);
            left -= n as usize;
        }
        // copy_file_range, the whole file
        let (i2, o2) = (open("src.bin", libc::O_RDONLY), open("dst2.bin", wr));
        loop {
            let n = check(
                libc::copy_file_range(
                    i2,
                    std::ptr::null_mut(),
                    o2,
                    std::ptr::null_mut(),
                    100_000,
                    0,
                ) as libc::c_long,
                "copy_file_range",
            );
            t.r(i2, 1, n);
            t.w(o2, 1, n);
            if n == 0 {
                break;
            }
        }
        // splice file -> pipe -> file
        let mut p = [0; 2];
        check(libc::pipe(p.as_mut_ptr()) as libc::c_long, "pipe");
        let (i3, o3) = (open("src.bin", libc::O_RDONLY), open("dst3.bin", wr));
        let n = check(
            libc::splice(
                i3,
                std::ptr::null_mut(),
                p[1],
                std::ptr::null_mut(),
                4096,
                0,
            ) as libc::c_long,
            "splice in",
        );
        t.r(i3, 1, n);
        t.w(p[1], 1, n);
        let m = check(
            libc::splice(
                p[0],
                std::ptr::null_mut(),
                o3,
                std::ptr::null_mut(),
                n as usize,
                0,
            ) as libc::c_long,
            "splice out",
        );
        t.r(p[0], 1, m);
        t.w(o3, 1, m);
        // tee pipe -> pipe, then both drained with read
        let mut q = [0; 2];
        check(libc::pipe(q.as_mut_ptr()) as libc::c_long, "pipe");
        let n = check(
            libc::write(p[1], data.as_ptr().cast(), 100) as libc::c_long,
            "write p",
        );
        t.w(p[1], 1, n);
        let n = check(libc::tee(p[0], q[1], 100, 0) as libc::c_long, "tee");
        t.r(p[0], 1, n);
        t.w(q[1], 1, n);
        let mut b = [0u8; 100];
        for fd in [p[0], q[0]] {
            let n = check(
                libc::read(fd, b.as_mut_ptr().cast(), 100) as libc::c_long,
                "read",
            );
            t.r(fd, 1, n);
        }
        // vmsplice: user memory -> pipe, then read
        let mut v = [0; 2];
        check(libc::pipe(v.as_mut_ptr()) as libc::c_long, "pipe");
        let iov = libc::iovec {
            iov_base: data.as_ptr() as *mut _,
            iov_len: 300,
        };
        let n = check(libc::vmsplice(v[1], &iov, 1, 0) as libc::c_long, "vmsplice");
        t.w(v[1], 1, n);
        let mut b = [0u8; 300];
        let n = check(
            libc::read(v[0], b.as_mut_ptr().cast(), 300) as libc::c_long,
            "read v",
        );
        t.r(v[0], 1, n);
        // sendfile file -> TCP socket, 64 KiB; the receiver reads it all
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let c = TcpStream::connect(addr).unwrap();
        let (mut s, _) = l.accept().unwrap();
        let cfd = c.as_raw_fd();
        let sfd = s.as_raw_fd();
        let rx = std::thread::spawn(move || {
            let mut got = 0usize;
            let mut reads = 0;
            let mut b = vec![0u8; 16384];
            while got < 65536 {
                let n = s.read(&mut b).unwrap();
                assert!(n > 0);
                got += n;
                reads += 1;
            }
            std::mem::forget(s); // keep the fd (number) until the process ends
            (reads, got)
        });
        let i4 = open("src.bin", libc::O_RDONLY);
        let mut left = 65536;
        while left > 0 {
            let n = check(
                libc::sendfile(cfd, i4, std::ptr::null_mut(), left) as libc::c_long,
                "sendfile sock",
            );
            t.r(i4, 1, n);
            t.w(cfd, 1, n);
            left -= n as usize;
        }
        let (reads, got) = rx.join().unwrap();
        t.r(sfd, reads, got as i64);
        std::mem::forget(c);
        say("sock_fds", format!("{cfd},{sfd}"));
    }
    t.report();
}

/// sendmmsg of 40 messages, received by recvmmsg: 20 with sender addresses, 20 without.
fn mmsg() {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    tx.connect(rx.local_addr().unwrap()).unwrap();
    let mut t = Tally::default();
    let payload = [7u8; 10];
    // SAFETY: message vectors on the stack, valid for the calls.
    unsafe {
        let mut iov: Vec<libc::iovec> = (0..40)
            .map(|_| libc::iovec {
                iov_base: payload.as_ptr() as *mut _,
                iov_len: 10,
            })
            .collect();
        let mut msgs: Vec<libc::mmsghdr> = iov
            .iter_mut()
            .map(|v| {
                let mut m: libc::mmsghdr = std::mem::zeroed();
                m.msg_hdr.msg_iov = v;
                m.msg_hdr.msg_iovlen = 1;
                m
            })
            .collect();
        let mut sent = 0;
        while sent < 40 {
            let n = check(
                libc::sendmmsg(
                    tx.as_raw_fd(),
                    msgs[sent..].as_mut_ptr(),
                    (40 - sent) as u32,
                    0,
                ) as libc::c_long,
                "sendmmsg",
            ) as usize;
            t.w(tx.as_raw_fd(), n as i64, 10 * n as i64);
            sent += n;
        }
        let mut bufs = vec![[0u8; 16]; 40];
        let mut names: Vec<libc::sockaddr_in> = vec![std::mem::zeroed(); 40];
        let mut riov: Vec<libc::iovec> = bufs
            .iter_mut()
            .map(|b| libc::iovec {
                iov_base: b.as_mut_ptr().cast(),
                iov_len: 16,
            })
            .collect();
        let mut got = 0;
        while got < 40 {
            let want = if got < 20 { 20 - got } else { 40 - got };
            let mut rm: Vec<libc::mmsghdr> = (0..want)
                .map(|i| {
                    let mut m: libc::mmsghdr = std::mem::zeroed();
                    m.msg_hdr.msg_iov = &mut riov[got + i];
                    m.msg_hdr.msg_iovlen = 1;
                    if got < 20 {
                        m.msg_hdr.msg_name = (&raw mut names[got + i]).cast();
                        m.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as u32;
                    }
                    m
                })
                .collect();
            let n = check(
                libc::recvmmsg(
                    rx.as_raw_fd(),
                    rm.as_mut_ptr(),
                    want as u32,
                    0,
                    std::ptr::null_mut(),
                ) as libc::c_long,
                "recvmmsg",
            ) as usize;
            let bytes: u32 = rm[..n].iter().map(|m| m.msg_len).sum();
            t.r(rx.as_raw_fd(), n as i64, i64::from(bytes));
            got += n;
        }
    }
    say("tx_port", tx.local_addr().unwrap().port());
    say("rx_port", rx.local_addr().unwrap().port());
    t.report();
    std::mem::forget(tx);
    std::mem::forget(rx);
}

/// A secondary thread execs a shell that writes a file; a close-on-exec file read
/// before goes away with the exec.
fn exec_thread(dir: &str) {
    std::fs::write(format!("{dir}/cloexec.txt"), b"1234567").unwrap();
    let mut f = std::fs::File::open(format!("{dir}/cloexec.txt")).unwrap(); // O_CLOEXEC
    let mut b = [0u8; 7];
    f.read_exact(&mut b).unwrap();
    say("cloexec_fd", f.as_raw_fd());
    let _keep = f.into_raw_fd();
    let script = format!("printf abc > {dir}/after_exec.txt");
    let h = std::thread::spawn(move || {
        say("exec_tid", nix::unistd::gettid());
        println!("END");
        let sh = cpath("/bin/sh");
        let args = [cpath("sh"), cpath("-c"), cpath(&script)];
        let argv: Vec<*const libc::c_char> = args
            .iter()
            .map(|a| a.as_ptr())
            .chain(std::iter::once(std::ptr::null()))
            .collect();
        // SAFETY: a valid argv; on success this never returns.
        unsafe { libc::execv(sh.as_ptr(), argv.as_ptr()) };
        panic!("execv failed: {}", std::io::Error::last_os_error());
    });
    h.join().unwrap();
    unreachable!("the exec replaced this process");
}

/// An fd number reused by eventfd and memfd_create after a close.
fn fdreuse(dir: &str) {
    std::fs::write(format!("{dir}/old.txt"), b"0123456789").unwrap();
    // SAFETY: plain syscalls on fds this function owns.
    unsafe {
        let fd = check(
            libc::open(cpath(&format!("{dir}/old.txt")).as_ptr(), libc::O_RDONLY) as libc::c_long,
            "open",
        ) as RawFd;
        let mut b = [0u8; 10];
        assert_eq!(libc::read(fd, b.as_mut_ptr().cast(), 10), 10);
        libc::close(fd);
        let efd = check(libc::eventfd(0, 0) as libc::c_long, "eventfd") as RawFd;
        assert_eq!(efd, fd, "eventfd reuses the number");
        let one = 1u64.to_ne_bytes();
        assert_eq!(libc::write(efd, one.as_ptr().cast(), 8), 8);
        libc::close(efd);
        let mfd = check(
            libc::memfd_create(cpath("sfmem").as_ptr(), 0) as libc::c_long,
            "memfd",
        ) as RawFd;
        assert_eq!(mfd, fd, "memfd reuses the number");
        assert_eq!(libc::write(mfd, b.as_ptr().cast(), 10), 10);
        say("fd", fd);
        say("efd_target", fd_target(efd.max(mfd)));
    }
}

/// Four writers on one fd while one thread flips it between two files with dup2 and
/// another writes, closes and restores it (its own counters ride in its close).
fn race(dir: &str) {
    // SAFETY: plain syscalls; the fds live until the process ends.
    unsafe {
        let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_APPEND;
        let g = libc::open(cpath(&format!("{dir}/g.bin")).as_ptr(), flags, 0o644);
        let h = libc::open(cpath(&format!("{dir}/h.bin")).as_ptr(), flags, 0o644);
        let f = libc::dup(g);
        assert!(g >= 0 && h >= 0 && f >= 0);
        let total = Arc::new(AtomicI64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..4)
            .map(|_| {
                let total = total.clone();
                std::thread::spawn(move || {
                    let buf = [b'w'; 10];
                    for _ in 0..20_000 {
                        let n = libc::write(f, buf.as_ptr().cast(), 10);
                        if n > 0 {
                            total.fetch_add(n as i64, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        let s1 = stop.clone();
        let flipper = std::thread::spawn(move || {
            while !s1.load(Ordering::Relaxed) {
                libc::dup2(h, f);
                libc::dup2(g, f);
            }
        });
        let s2 = stop.clone();
        let closer_total = total.clone();
        let closer = std::thread::spawn(move || {
            let buf = [b'c'; 10];
            while !s2.load(Ordering::Relaxed) {
                let n = libc::write(f, buf.as_ptr().cast(), 10);
                if n > 0 {
                    closer_total.fetch_add(n as i64, Ordering::Relaxed);
                }
                libc::close(f);
                libc::dup2(g, f);
                std::thread::yield_now();
            }
        });
        for w in writers {
            w.join().unwrap();
        }
        stop.store(true, Ordering::Relaxed);
        flipper.join().unwrap();
        closer.join().unwrap();
        say("total", total.load(Ordering::Relaxed));
        say("f", f);
    }
}

/// A file 40 directories deep, and one whose path is 2,000 bytes long.
fn paths(dir: &str) {
    let mut deep = dir.to_string();
    for i in 0..40 {
        deep.push_str(&format!("/d{i}"));
    }
    std::fs::create_dir_all(&deep).unwrap();
    let deep_file = format!("{deep}/f");
    std::fs::write(&deep_file, b"deep!").unwrap();
    say("deep", &deep_file);
    let mut long = format!("{dir}/l");
    while long.len() + 50 < 2000 {
        long.push('/');
        long.push_str(&"x".repeat(48));
    }
    std::fs::create_dir_all(&long).unwrap();
    let pad = 2000 - long.len() - 1;
    let long_file = format!("{long}/{}", "y".repeat(pad));
    assert_eq!(long_file.len(), 2000);
    std::fs::write(&long_file, b"long!!").unwrap();
    say("long", &long_file);
}

/// A sibling thread flips the path buffer between two names while the main thread opens
/// it: every open's record must name the file the kernel opened.
fn toctou(dir: &str) {
    let good = format!("{dir}/good");
    let evil = format!("{dir}/evil");
    std::fs::write(&good, b"g").unwrap();
    std::fs::write(&evil, b"e").unwrap();
    let buf: &'static mut [u8] = Box::leak(format!("{good}\0").into_bytes().into_boxed_slice());
    let ptr = buf.as_mut_ptr() as usize;
    let len = good.len();
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let (gb, eb) = (good.clone().into_bytes(), evil.clone().into_bytes());
    let flipper = std::thread::spawn(move || {
        let mut i = 0u64;
        while !s.load(Ordering::Relaxed) {
            let src = if i % 2 == 0 { &eb } else { &gb };
            for (k, b) in src.iter().enumerate().take(len) {
                // SAFETY: inside the leaked buffer, which lives forever; racing the other
                // thread's open on these bytes is the point (volatile byte stores).
                unsafe { std::ptr::write_volatile((ptr as *mut u8).add(k), *b) };
            }
            i += 1;
        }
    });
    let mut seen = Vec::new();
    // half-rewritten names fail with ENOENT: keep going until 250 opens succeeded
    for _ in 0..50_000 {
        if seen.len() == 250 {
            break;
        }
        // SAFETY: the buffer is NUL-terminated and lives forever.
        let fd = unsafe { libc::open(ptr as *const libc::c_char, libc::O_RDONLY) };
        if fd >= 0 {
            seen.push(format!("{fd}:{}", fd_target(fd)));
        }
    }
    stop.store(true, Ordering::Relaxed);
    flipper.join().unwrap();
    say("opened", seen.join(";"));
}

/// A UDP socket bound by the parent and read by a forked child with recv(2), which
/// names no peer: the flow still has the socket's own address, which the kernel knows.
fn udp_inherit() {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = rx.local_addr().unwrap().port();
    say("rx_port", port);
    say("rx_fd", rx.as_raw_fd());
    // SAFETY: the child only receives, prints and exits.
    let child = unsafe { libc::fork() };
    if child == 0 {
        let mut b = [0u8; 64];
        let mut got = 0;
        for _ in 0..3 {
            // SAFETY: a plain recv into a buffer we own.
            got += unsafe { libc::recv(rx.as_raw_fd(), b.as_mut_ptr().cast(), 64, 0) };
        }
        // SAFETY: leaving the forked child without running the test harness's exit.
        unsafe { libc::_exit(if got == 60 { 0 } else { 1 }) };
    }
    for _ in 0..3 {
        tx.send_to(&[9u8; 20], ("127.0.0.1", port)).unwrap();
    }
    let mut st = 0;
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(child, &mut st, 0) };
    assert_eq!(libc::WEXITSTATUS(st), 0, "child received 60 bytes");
    say("child", child);
}

/// Opens, reads, writes, connects, sends, receives and closes through io_uring.
fn uring(dir: &str) {
    use io_uring::{IoUring, opcode, types};
    let mut t = Tally::default();
    std::fs::write(
        format!("{dir}/uring_src.bin"),
        (0..10_000u32).map(|i| i as u8).collect::<Vec<u8>>(),
    )
    .unwrap();
    let mut ring = IoUring::new(8).unwrap();
    let mut run = |e: io_uring::squeue::Entry| -> i32 {
        // SAFETY: every buffer an entry points to outlives this call, which waits for
        // the completion.
        unsafe { ring.submission().push(&e).unwrap() };
        ring.submit_and_wait(1).unwrap();
        let c = ring.completion().next().unwrap();
        c.result()
    };
    let src = cpath(&format!("{dir}/uring_src.bin"));
    let dst = cpath(&format!("{dir}/uring_dst.bin"));
    let rfd = run(opcode::OpenAt::new(types::Fd(libc::AT_FDCWD), src.as_ptr())
        .flags(libc::O_RDONLY)
        .build());
    assert!(rfd >= 0, "uring openat: {rfd}");
    let mut buf = vec![0u8; 4096];
    for off in [0u64, 4096, 8192] {
        let n = run(opcode::Read::new(types::Fd(rfd), buf.as_mut_ptr(), 4096)
            .offset(off)
            .build());
        assert!(n >= 0);
        t.r(rfd, 1, i64::from(n));
    }
    let wfd = run(opcode::OpenAt::new(types::Fd(libc::AT_FDCWD), dst.as_ptr())
        .flags(libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC)
        .mode(0o644)
        .build());
    assert!(wfd >= 0, "uring openat: {wfd}");
    let n = run(opcode::Write::new(types::Fd(wfd), buf.as_ptr(), 3000).build());
    t.w(wfd, 1, i64::from(n));
    // TCP: connect, send and receive through the ring; the socket and accept are plain
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    // SAFETY: a plain socket(2).
    let c = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
    assert!(c >= 0);
    let sa = sockaddr_in(port);
    let r = run(opcode::Connect::new(types::Fd(c), sa.as_ptr().cast(), 16).build());
    assert_eq!(r, 0, "uring connect");
    let (s, _) = l.accept().unwrap();
    let sfd = s.as_raw_fd();
    let n = run(opcode::Send::new(types::Fd(c), buf.as_ptr(), 200).build());
    t.w(c, 1, i64::from(n));
    let n = run(opcode::Recv::new(types::Fd(sfd), buf.as_mut_ptr(), 4096).build());
    t.r(sfd, 1, i64::from(n));
    say("client_fd", c);
    say("client_port", local_port(c));
    say("port", port);
    t.report();
    for fd in [rfd, wfd, c] {
        assert_eq!(
            run(opcode::Close::new(types::Fd(fd)).build()),
            0,
            "uring close"
        );
    }
    std::mem::forget(s);
}

// ------------------------------------------------------------------------ the test

fn spawn(workload: &str, dir: &str) -> Child {
    common::spawn_workload(&[("SF_COVER_WORKLOAD", workload), ("SF_COVER_DIR", dir)])
}

fn run(name: &str, dir: &str) -> HashMap<String, String> {
    let mut c = spawn(name, dir);
    let m = common::read_report(&mut c);
    let st = c.wait().unwrap();
    assert!(st.success(), "workload {name} failed: {st:?} {m:?}");
    m
}

fn num(m: &HashMap<String, String>, k: &str) -> i64 {
    m.get(k)
        .unwrap_or_else(|| panic!("no {k} in {m:?}"))
        .parse()
        .unwrap()
}

use common::Output;

impl Output {
    /// Sum of (read ops, read bytes, write ops, write bytes) of every flow of pid on fd
    /// naming `what` (a path, `sock` for network flows, `pipe` for unnamed file flows).
    fn fd_totals(&self, pid: i64, fd: i32, what: &str) -> [i64; 4] {
        let mut t = [0; 4];
        let mut add = |r: i64, rb: i64, w: i64, wb: i64| {
            t[0] += r;
            t[1] += rb;
            t[2] += w;
            t[3] += wb;
        };
        if what == "sock" {
            for f in self.net_flows(pid).into_iter().filter(|f| f.fd == fd) {
                add(
                    f.num_r_recv_ops,
                    f.num_r_recv_bytes,
                    f.num_w_send_ops,
                    f.num_w_send_bytes,
                );
            }
        } else {
            let path = if what == "pipe" { "" } else { what };
            for f in self.file_flows(pid).into_iter().filter(|f| f.fd == fd) {
                if self.file(&f.file_oid).path == path {
                    add(
                        f.num_r_recv_ops,
                        f.num_r_recv_bytes,
                        f.num_w_send_ops,
                        f.num_w_send_bytes,
                    );
                }
            }
        }
        t
    }
}

/// Every `io.<fd>` tally of a workload, compared with the flows of its process.
fn assert_tallies(o: &Output, m: &HashMap<String, String>, what: &str) {
    let pid = num(m, "pid");
    let mut n = 0;
    let mut wrong = Vec::new();
    for (k, v) in m {
        let Some(fd) = k.strip_prefix("io.") else {
            continue;
        };
        let mut parts = v.splitn(5, ',');
        let want: Vec<i64> = parts.by_ref().take(4).map(|x| x.parse().unwrap()).collect();
        let target = parts.next().unwrap();
        let got = o.fd_totals(pid, fd.parse().unwrap(), target);
        if got.to_vec() != want {
            wrong.push(format!("fd {fd} ({target}): got {got:?}, want {want:?}"));
        }
        n += 1;
    }
    assert!(n > 0, "{what}: no tallies");
    assert!(
        wrong.is_empty(),
        "{what} (read ops, bytes, write ops, bytes):\n{}",
        wrong.join("\n")
    );
}

/// The launcher's side of [`common::launcher`] (a no-op in a normal test run).
#[test]
fn launcher_entry() {
    common::launcher::serve();
}

/// The workloads started by the collector's process: its heirs, whose every fd the probe
/// names at first use.
#[test]
fn every_kind_of_action_reaches_sysflow_exactly() {
    coverage(false);
}

/// The same workloads started by a launcher that was running before the driver, as the
/// processes a deployed collector watches are: not its heirs, so what they inherited
/// (fds, sockets) is known from the state, the kernel's word on sockets and inherited
/// fds, and `/proc`.
#[test]
fn every_kind_of_action_of_processes_the_collector_did_not_start_reaches_sysflow_exactly() {
    coverage(true);
}

/// One capture of every workload, started by this process or (`launched`) by a launcher
/// started before the driver; every part's ground truth compared with the records.
fn coverage(launched: bool) {
    if !nix::unistd::geteuid().is_root()
        || !std::path::Path::new("/sys/kernel/btf/vmlinux").exists()
    {
        common::skip("live capture needs root and /sys/kernel/btf/vmlinux");
        return;
    }
    // one capture at a time: each sees every process, and a loaded machine can delay a
    // driver's start past a workload's first events
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut launcher = launched.then(common::launcher::Launcher::start);
    let launcher_pid = launcher.as_ref().map(|l| l.pid());
    let out_dir = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir_in("/tmp").unwrap();
    let dir = work.path().to_str().unwrap().to_string();
    let config = SysFlowConfig {
        file_path: Some(format!("{}/", out_dir.path().display()).into()),
        enable_process_flow: false,
        file_read_mode: FileReadMode::All,
        file_only: false, // pipes too
        env_overrides: false,
        ..Default::default()
    };
    // built before the capture starts (gcc's own work is not part of the test)
    let m32_bin = build_m32(&dir);
    let mut driver = SysFlowDriver::new(config).unwrap();
    let exit = driver.exit_handle();
    let runner = std::thread::spawn(move || driver.run());
    let runner = common::wait_capturing(&exit, runner);

    let mut run = |name: &str| match launcher.as_mut() {
        None => run(name, &dir),
        Some(l) => {
            let (m, ok) = l.workload(&[("SF_COVER_WORKLOAD", name), ("SF_COVER_DIR", &dir)]);
            assert!(ok, "workload {name} failed: {m:?}");
            m
        }
    };
    let ia32 = run("ia32");
    let moves = run("moves");
    let mmsg = run("mmsg");
    let exec_thread = run("exec_thread");
    let fdreuse = run("fdreuse");
    let race = run("race");
    let paths = run("paths");
    let toctou = run("toctou");
    let uring = run("uring");
    let udp_inherit = run("udp_inherit");
    let m32 = m32_bin
        .as_deref()
        .map(|b| run_m32(b, &dir, launcher.as_mut()));
    // (heirs only: these are the collector's own children by design)
    let (short_path, short_fd, short_pids) = if launched {
        (String::new(), -1, Vec::new())
    } else {
        short_lived_heirs(&dir)
    };
    std::thread::sleep(Duration::from_millis(500));
    exit.exit();
    let summary = runner.join().unwrap().expect("live run");
    assert_eq!(summary.source_drops, 0, "kernel drops");
    assert_eq!(summary.live.decode_errors, 0, "undecodable records");
    eprintln!("live source: {:?}", summary.live);

    let files: Vec<_> = std::fs::read_dir(out_dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    if let Some(keep) = std::env::var_os("SF_COVER_KEEP") {
        std::fs::copy(&files[0], keep).unwrap(); // for a look with sysprint
    }
    let o = Output {
        recs: SfReader::open(&files[0])
            .unwrap()
            .map(Result::unwrap)
            .collect(),
    };
    let lo = ipv4_to_avro(std::net::Ipv4Addr::LOCALHOST);
    let mut failures = Vec::new();
    let mut part = |name: &str, f: &dyn Fn()| {
        if let Err(e) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failures.push(format!("{name}: {msg}"));
        }
    };

    part("starter", &|| {
        // the workloads' parent: this process, or the launcher
        let pid = num(&ia32, "pid");
        let parent = o.procs_of(pid).first().and_then(|p| p.poid).map(|p| p.hpid);
        let want = launcher_pid.unwrap_or(i64::from(std::process::id()));
        assert_eq!(parent, Some(want));
    });

    part("ia32", &|| {
        let pid = num(&ia32, "pid");
        let path = &ia32["file"];
        let ff: Vec<_> = o
            .file_flows(pid)
            .into_iter()
            .filter(|f| &o.file(&f.file_oid).path == path)
            .collect();
        assert_eq!(ff.len(), 1, "{ff:#?}");
        assert_eq!(ff[0].fd, num(&ia32, "file_fd") as i32);
        assert_eq!(
            ff[0].op_flags,
            OpFlags::OPEN | OpFlags::WRITE_SEND | OpFlags::CLOSE
        );
        assert_eq!((ff[0].num_w_send_ops, ff[0].num_w_send_bytes), (3, 300));
        let port = num(&ia32, "port") as i32;
        for (fd, cport, bytes) in [
            ("direct_fd", "direct_port", 50),
            ("socketcall_fd", "socketcall_port", 25),
        ] {
            let nf: Vec<_> = o
                .net_flows(pid)
                .into_iter()
                .filter(|f| {
                    f.fd == num(&ia32, fd) as i32
                        && f.op_flags.contains(OpFlags::CONNECT)
                        && f.sport == num(&ia32, cport) as i32
                })
                .collect();
            assert_eq!(nf.len(), 1, "{fd}: {nf:#?}");
            let f = nf[0];
            assert_eq!(
                (f.sip, f.sport, f.dip, f.dport, f.proto),
                (lo, num(&ia32, cport) as i32, lo, port, 6),
                "{fd}"
            );
            assert_eq!(
                f.op_flags,
                OpFlags::CONNECT | OpFlags::WRITE_SEND | OpFlags::CLOSE,
                "{fd}"
            );
            assert_eq!((f.num_w_send_ops, f.num_w_send_bytes), (1, bytes), "{fd}");
        }
        let child = num(&ia32, "exec_child");
        let ev: Vec<OpFlags> = o.events(child).iter().map(|e| e.op_flags).collect();
        assert!(ev.contains(&OpFlags::EXEC), "exec of the child: {ev:?}");
        let last = o.procs_of(child).last().copied().expect("child process");
        assert!(last.exe.ends_with("/true"), "{}", last.exe);
    });

    if let Some(m32) = &m32 {
        part("m32", &|| {
            // a -m32 program: ia32 glibc's own syscalls (openat, write, socket, connect,
            // execve), decoded like the 64-bit ones
            assert_eq!(m32["bits"], "32");
            let pid = num(m32, "pid");
            let ff: Vec<_> = o
                .file_flows(pid)
                .into_iter()
                .filter(|f| o.file(&f.file_oid).path == m32["file"])
                .collect();
            assert_eq!(ff.len(), 1, "{ff:#?}");
            assert_eq!(ff[0].fd, num(m32, "file_fd") as i32);
            assert_eq!(
                ff[0].op_flags,
                OpFlags::OPEN | OpFlags::WRITE_SEND | OpFlags::CLOSE
            );
            assert_eq!((ff[0].num_w_send_ops, ff[0].num_w_send_bytes), (3, 300));
            let nf: Vec<_> = o
                .net_flows(pid)
                .into_iter()
                .filter(|f| f.fd == num(m32, "sock_fd") as i32)
                .collect();
            assert_eq!(nf.len(), 1, "{nf:#?}");
            let f = nf[0];
            assert_eq!(
                (f.sip, f.sport, f.dip, f.dport, f.proto),
                (lo, num(m32, "cport") as i32, lo, num(m32, "port") as i32, 6)
            );
            assert!(f.op_flags.contains(OpFlags::CONNECT | OpFlags::CLOSE));
            assert_eq!((f.num_w_send_ops, f.num_w_send_bytes), (1, 50));
            let ev: Vec<OpFlags> = o.events(pid).iter().map(|e| e.op_flags).collect();
            assert_eq!(
                ev.iter().filter(|e| **e == OpFlags::EXEC).count(),
                2,
                "its own start and its exec of /bin/true: {ev:?}"
            );
            let last = o.procs_of(pid).last().copied().expect("the process");
            assert!(last.exe.ends_with("/true"), "{}", last.exe);
        });
    }

    part("moves", &|| assert_tallies(&o, &moves, "moves"));
    part("mmsg", &|| {
        assert_tallies(&o, &mmsg, "mmsg");
        // the 20 messages received with their sender carry the real tuple
        let pid = num(&mmsg, "pid");
        let (tx, rx) = (num(&mmsg, "tx_port") as i32, num(&mmsg, "rx_port") as i32);
        let with_peer: i64 = o
            .net_flows(pid)
            .into_iter()
            .filter(|f| {
                f.num_r_recv_ops > 0 && (f.sip, f.sport, f.dip, f.dport) == (lo, tx, lo, rx)
            })
            .map(|f| f.num_r_recv_ops)
            .sum();
        assert!(
            with_peer >= 20,
            "messages received with their sender: {with_peer}"
        );
    });

    part("exec_thread", &|| {
        let pid = num(&exec_thread, "pid");
        let ev = o.events(pid);
        let kinds: Vec<(OpFlags, i64)> = ev.iter().map(|e| (e.op_flags, e.tid)).collect();
        // the workload's own start is an EXEC too; the thread's exec is the second
        let execs: Vec<usize> = (0..ev.len())
            .filter(|&i| ev[i].op_flags == OpFlags::EXEC)
            .collect();
        assert_eq!(execs.len(), 2, "{kinds:?}");
        let exec_at = execs[1];
        // threads the exec ended may exit; the process (its main thread) does not, and
        // neither does the thread that called execve
        let exec_tid = num(&exec_thread, "exec_tid");
        assert!(
            !ev[..exec_at]
                .iter()
                .any(|e| e.op_flags == OpFlags::EXIT && (e.tid == pid || e.tid == exec_tid)),
            "no EXIT of the process or the exec'ing thread before the exec: {kinds:?}"
        );
        assert_eq!(
            ev[exec_at].tid, pid,
            "the exec'ing thread became the main thread"
        );
        let after = format!("{dir}/after_exec.txt");
        // the shell opens the file and writes it through its stdout (dup2)
        let written: i64 = o
            .file_flows(pid)
            .into_iter()
            .filter(|f| o.file(&f.file_oid).path == after)
            .map(|f| f.num_w_send_bytes)
            .sum();
        assert_eq!(written, 3, "the new program's write");
        let cloexec = num(&exec_thread, "cloexec_fd") as i32;
        let cf: Vec<_> = o
            .file_flows(pid)
            .into_iter()
            .filter(|f| {
                o.file(&f.file_oid).path.ends_with("/cloexec.txt")
                    && f.fd == cloexec
                    && f.num_r_recv_ops > 0
            })
            .collect();
        assert_eq!(cf.len(), 1, "{cf:#?}");
        assert_eq!(cf[0].num_r_recv_bytes, 7);
        // the exec (by another thread than the reader) ends it: TRUNCATE, as any close
        // by another thread does
        assert!(
            cf[0].op_flags.contains(OpFlags::CLOSE) || cf[0].op_flags.contains(OpFlags::TRUNCATE),
            "ended by the exec: {:?}",
            cf[0].op_flags
        );
        assert!(
            cf[0].end_ts <= ev[exec_at].ts,
            "closed before the new program ran"
        );
    });

    part("fdreuse", &|| {
        let pid = num(&fdreuse, "pid");
        let fd = num(&fdreuse, "fd") as i32;
        let old: Vec<_> = o
            .file_flows(pid)
            .into_iter()
            .filter(|f| o.file(&f.file_oid).path.ends_with("/old.txt") && f.num_r_recv_ops > 0)
            .collect();
        assert_eq!(old.len(), 1, "{old:#?}");
        assert_eq!(
            (
                old[0].num_r_recv_ops,
                old[0].num_r_recv_bytes,
                old[0].num_w_send_ops
            ),
            (1, 10, 0)
        );
        // the eventfd and memfd writes on the same number (8 + 10 bytes) are not
        // old.txt's: its only write is the 10 bytes that created it
        let on_old: i64 = o
            .file_flows(pid)
            .into_iter()
            .filter(|f| o.file(&f.file_oid).path.ends_with("/old.txt"))
            .map(|f| f.num_w_send_bytes)
            .sum();
        assert_eq!(on_old, 10);
        let _ = fd;
    });

    part("race", &|| {
        let pid = num(&race, "pid");
        let total: i64 = o
            .file_flows(pid)
            .into_iter()
            .filter(|f| {
                let p = &o.file(&f.file_oid).path;
                p.ends_with("/g.bin") || p.ends_with("/h.bin")
            })
            .map(|f| f.num_w_send_bytes)
            .sum();
        let sizes = std::fs::metadata(format!("{dir}/g.bin")).unwrap().len()
            + std::fs::metadata(format!("{dir}/h.bin")).unwrap().len();
        assert_eq!(
            num(&race, "total") as u64,
            sizes,
            "the workload's own count"
        );
        assert_eq!(total as u64, sizes, "bytes written, over every flow");
    });

    part("paths", &|| {
        let pid = num(&paths, "pid");
        for k in ["deep", "long"] {
            let want = &paths[k];
            let ff: Vec<_> = o
                .file_flows(pid)
                .into_iter()
                .filter(|f| f.num_w_send_bytes > 0)
                .map(|f| o.file(&f.file_oid).path.clone())
                .collect();
            assert!(ff.contains(want), "{k}: {want} not in {ff:#?}");
        }
    });

    part("toctou", &|| {
        let pid = num(&toctou, "pid");
        let flows = o.file_flows(pid);
        let mut checked = 0;
        for item in toctou["opened"].split(';') {
            let (fd, target) = item.split_once(':').unwrap();
            let fd: i32 = fd.parse().unwrap();
            let f: Vec<_> = flows
                .iter()
                .filter(|f| {
                    let p = &o.file(&f.file_oid).path;
                    f.fd == fd
                        && f.num_w_send_ops == 0 // not the writes that made the files
                        && (p.ends_with("/good") || p.ends_with("/evil"))
                })
                .collect();
            assert_eq!(f.len(), 1, "fd {fd}: {f:#?}");
            assert_eq!(o.file(&f[0].file_oid).path, target, "fd {fd}");
            checked += 1;
        }
        assert!(checked >= 250, "{checked} opens checked");
    });

    part("uring", &|| {
        assert_tallies(&o, &uring, "uring");
        let pid = num(&uring, "pid");
        // opened and closed through the ring: OPEN and CLOSE on the flows
        for (name, read) in [("/uring_src.bin", true), ("/uring_dst.bin", false)] {
            let ff: Vec<_> = o
                .file_flows(pid)
                .into_iter()
                .filter(|f| {
                    o.file(&f.file_oid).path == format!("{dir}{name}")
                        && if read {
                            f.num_r_recv_ops > 0
                        } else {
                            f.num_w_send_ops > 0
                        }
                })
                .collect();
            assert_eq!(ff.len(), 1, "{name}: {ff:#?}");
            assert!(
                ff[0].op_flags.contains(OpFlags::OPEN | OpFlags::CLOSE),
                "{name}: {:?}",
                ff[0].op_flags
            );
        }
        let c = num(&uring, "client_fd") as i32;
        let nf: Vec<_> = o
            .net_flows(pid)
            .into_iter()
            .filter(|f| f.fd == c && f.op_flags.contains(OpFlags::CONNECT))
            .collect();
        assert_eq!(nf.len(), 1, "{nf:#?}");
        assert_eq!(
            (nf[0].sip, nf[0].sport, nf[0].dip, nf[0].dport),
            (
                lo,
                num(&uring, "client_port") as i32,
                lo,
                num(&uring, "port") as i32
            )
        );
        assert!(
            nf[0].op_flags.contains(OpFlags::CLOSE),
            "{:?}",
            nf[0].op_flags
        );
    });

    part("udp_inherit", &|| {
        let child = num(&udp_inherit, "child");
        let port = num(&udp_inherit, "rx_port") as i32;
        let nf = o.net_flows(child);
        assert_eq!(nf.len(), 1, "{nf:#?}");
        let f = nf[0];
        assert_eq!((f.num_r_recv_ops, f.num_r_recv_bytes), (3, 60));
        assert_eq!(f.fd, num(&udp_inherit, "rx_fd") as i32);
        assert_eq!(f.proto, 17);
        // the socket's own end, as the kernel has it; recv(2) names no peer
        assert!(
            (f.dip, f.dport) == (lo, port) || (f.sip, f.sport) == (lo, port),
            "the bound address is on the flow: {f:?}"
        );
    });

    part("short_lived_heirs", &|| {
        if launched {
            return;
        }
        // each shell wrote 5 bytes to the file it inherited from the collector, and was
        // gone before its clone reached the state: the flow is still named and counted
        let mut wrong = Vec::new();
        for &pid in &short_pids {
            let ff: Vec<_> = o
                .file_flows(pid)
                .into_iter()
                .filter(|f| f.fd == short_fd)
                .collect();
            let got: Vec<_> = ff
                .iter()
                .map(|f| {
                    (
                        o.file(&f.file_oid).path.as_str(),
                        f.fd,
                        f.num_w_send_ops,
                        f.num_w_send_bytes,
                    )
                })
                .collect();
            if got != [(short_path.as_str(), short_fd, 1, 5)] {
                wrong.push(format!("pid {pid}: {got:?}"));
            }
        }
        assert!(
            wrong.is_empty(),
            "{} of {} heirs:\n{}",
            wrong.len(),
            short_pids.len(),
            wrong.join("\n")
        );
    });

    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Builds `tests/m32/workload.c` with `gcc -m32` into `dir` (gcc-multilib, installed by
/// `scripts/setup.sh`); `None` (a loud skip) where it cannot.
fn build_m32(dir: &str) -> Option<String> {
    let src = common::package_root().join("tests/m32/workload.c");
    let out = format!("{dir}/m32_workload");
    let ok = std::process::Command::new("gcc")
        .args(["-m32", "-O1", "-Wall", "-o", &out])
        .arg(&src)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        common::skip("gcc -m32 could not build tests/m32/workload.c (gcc-multilib)");
        return None;
    }
    Some(out)
}

/// Runs the -m32 workload against a local TCP listener; its report, with the port.
fn run_m32(
    bin: &str,
    dir: &str,
    launcher: Option<&mut common::launcher::Launcher>,
) -> HashMap<String, String> {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut c, _) = l.accept().unwrap();
        let mut got = Vec::new();
        c.read_to_end(&mut got).unwrap();
        got.len()
    });
    let port_arg = port.to_string();
    let mut m = match launcher {
        None => {
            let mut c = std::process::Command::new(bin)
                .args([dir, &port_arg])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            let m = common::read_report(&mut c);
            assert!(c.wait().unwrap().success(), "m32 workload: {m:?}");
            m
        }
        Some(l) => {
            let (ok, out) = l.run(&[], &[bin, dir, &port_arg]);
            let m = common::launcher::report(&out);
            assert!(ok, "m32 workload: {m:?}");
            m
        }
    };
    assert_eq!(server.join().unwrap(), 50);
    m.insert("port".into(), port.to_string());
    m
}

/// Short-lived children of the collector that write to an fd they inherited from it (as a
/// collector's children inherit its stderr when that is a file): 20 workloads, each writes
/// 5 bytes to the fd directly and exits at once, usually before the capture has handled
/// its clone. Returns the file's path, the fd, and the workloads' pids.
fn short_lived_heirs(dir: &str) -> (String, i32, Vec<i64>) {
    let path = format!("{dir}/heirs.log");
    let f = std::fs::File::create(&path).unwrap();
    let fd = f.as_raw_fd();
    // inheritable, as a collector's own stdio is
    // SAFETY: clears FD_CLOEXEC on an fd this function owns.
    let r = unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
    check(r.into(), "fcntl");
    let mut pids = Vec::new();
    for _ in 0..20 {
        let mut c = common::spawn_workload(&[
            ("SF_COVER_WORKLOAD", "heir"),
            ("SF_COVER_DIR", dir),
            ("SF_HEIR_FD", &fd.to_string()),
        ]);
        pids.push(i64::from(c.id()));
        common::read_report(&mut c);
        assert!(c.wait().unwrap().success());
    }
    drop(f);
    assert_eq!(std::fs::read(&path).unwrap().len(), 100);
    (path, fd, pids)
}
