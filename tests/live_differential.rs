//! Differential test against `strace` (live, root + BTF; runs in CI here): real programs —
//! `cp` of a 3 MB file (Debian's cp moves it with copy_file_range), `tar -cf` and `tar -xf`
//! of a small tree, a shell pipeline `cat | gzip | wc -c`, and `curl` against a local
//! `python3 -m http.server` — each run under `strace -f -y -yy`, whose output is the ground
//! truth: per process, the bytes read and written on every file path and TCP/UDP tuple,
//! and the set of paths opened. That truth is compared exactly with the SysFlow records
//! the live probe wrote for the same processes (FileFlow bytes summed per path over flows,
//! NetworkFlow bytes per tuple, the paths with a FileFlow).
//!
//! strace stops the tracee at each syscall (ptrace) but does not change what the syscalls
//! do or return, so both observers see the same calls. What neither observer counts is
//! left out on both sides alike (file contents reached through mmap, e.g. the shared
//! libraries the dynamic loader maps after reading their 832-byte header: both count
//! the header's read only). What one side cannot name is excluded explicitly, each
//! where it happens, with why: named unix sockets and anonymous inodes (no path or
//! tuple; pipes and unnamed unix sockets, which SysFlow leaves unnamed, are compared as
//! one total per process), the strace process itself (not a tracee), what the program
//! strace starts does before its execve (strace's code), and the HTTP server's start-up
//! (before the capture).

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{Ipv4Addr, SocketAddrV4, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use sysflow::avro::SfReader;
use sysflow::model::*;
use sysflow::{FileReadMode, SysFlowConfig, SysFlowDriver};

// ------------------------------------------------------------------------ strace side

/// The syscalls strace records: every call that moves data (the byte counts), opens a
/// file (the opened set), makes or connects a socket (which end is the client), and
/// makes a thread or process (thread ids map to their process).
const TRACED: &str = "trace=read,pread64,readv,preadv,preadv2,write,pwrite64,writev,\
pwritev,pwritev2,recvfrom,recvmsg,sendto,sendmsg,sendfile,copy_file_range,splice,\
open,openat,openat2,creat,socket,connect,accept,accept4,close,\
clone,clone3,fork,vfork,execve,execveat";

/// `strace` with the options every workload runs under: follow children, no attach or
/// exit notices, wall-clock timestamps, full syscall names, every fd decorated with its
/// path or socket tuple (`3</tmp/x>`, `3<TCP:[127.0.0.1:40000->127.0.0.1:8000]>`), no
/// buffer contents (`-s 0`: the byte counts are the return values).
fn strace(out: &Path) -> Command {
    let mut c = Command::new("strace");
    c.args(["-f", "-qq", "-ttt", "-e", TRACED, "-e", "abbrev=none"])
        .args(["-y", "-yy", "-s", "0", "-o"])
        .arg(out);
    c
}

/// What an fd decoration names.
#[derive(Debug, Clone, PartialEq)]
enum Res {
    /// A path, as the kernel resolved it (strace reads `/proc/<pid>/fd/<n>`).
    File(String),
    /// An IPv4 TCP or UDP socket with both ends: (protocol, local, remote).
    Net(i32, SocketAddrV4, SocketAddrV4),
    /// An unnamed pipe or unix socket (SysFlow gives both an empty path).
    Unnamed,
    /// Anything else: named unix sockets, anonymous inodes, unconnected IP sockets.
    Other,
}

fn classify(d: &str) -> Res {
    if d.starts_with('/') {
        // `-yy` appends device numbers to device files: `/dev/null<char 1:3>`
        let p = match (d.ends_with('>'), d.rfind('<')) {
            (true, Some(i)) => &d[..i],
            _ => d,
        };
        let p = p.strip_suffix(" (deleted)").unwrap_or(p);
        return Res::File(p.to_string());
    }
    let unix = [
        "UNIX:[",
        "UNIX-STREAM:[",
        "UNIX-DGRAM:[",
        "UNIX-SEQPACKET:[",
    ];
    if d.starts_with("pipe:[") || (unix.iter().any(|u| d.starts_with(u)) && !d.contains('"')) {
        return Res::Unnamed;
    }
    for (prefix, proto) in [("TCP:[", 6), ("UDP:[", 17)] {
        if let Some(t) = d.strip_prefix(prefix).and_then(|t| t.strip_suffix(']'))
            && let Some((l, r)) = t.split_once("->")
            && let (Ok(l), Ok(r)) = (l.parse(), r.parse())
        {
            return Res::Net(proto, l, r);
        }
    }
    Res::Other
}

/// An fd argument or return value with its decoration: `3</tmp/x>`.
fn decorated_fd(a: &str) -> Option<(i64, Res)> {
    let lt = a.find('<')?;
    let fd = a[..lt].trim().parse().ok()?;
    let inner = a[lt + 1..].trim_end().strip_suffix('>')?;
    Some((fd, classify(inner)))
}

/// Splits an argument list at its top-level commas.
fn split_args(s: &str) -> Vec<String> {
    let (mut out, mut cur) = (Vec::new(), String::new());
    let (mut depth, mut quoted, mut escaped) = (0i32, false, false);
    for c in s.chars() {
        if quoted {
            cur.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                quoted = false;
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(cur.trim().to_string());
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

/// One completed syscall of the strace output.
#[derive(Debug)]
struct Call {
    tid: i64,
    ts: f64,
    name: String,
    args: Vec<String>,
    /// The return value (None when strace could not get it, e.g. `= ?`).
    ret: Option<i64>,
    /// The returned fd's decoration (open, accept).
    ret_res: Option<Res>,
}

/// Parses strace output; a call split by other threads' lines (`<unfinished ...>` and
/// `<... name resumed>`) is joined and timed by its completion.
fn parse_strace(text: &str) -> Vec<Call> {
    let mut pending: HashMap<i64, String> = HashMap::new();
    let mut calls = Vec::new();
    for line in text.lines() {
        // `pid ts call`: strace pads the pid to five columns, so fields are separated by
        // runs of spaces
        let line = line.trim_start();
        let Some((tid, rest)) = line.split_once(' ') else {
            continue;
        };
        let Some((ts, rest)) = rest.trim_start().split_once(' ') else {
            continue;
        };
        let (Ok(tid), Ok(ts)) = (tid.parse::<i64>(), ts.parse::<f64>()) else {
            continue;
        };
        if rest.starts_with("---") || rest.starts_with("+++") {
            continue; // signals, exits
        }
        if let Some(head) = rest.strip_suffix(" <unfinished ...>") {
            pending.insert(tid, head.to_string());
            continue;
        }
        let full = if let Some(r) = rest.strip_prefix("<... ") {
            let Some(i) = r.find(" resumed>") else {
                continue;
            };
            let Some(head) = pending.remove(&tid) else {
                continue;
            };
            format!("{head}{}", &r[i + " resumed>".len()..])
        } else {
            rest.to_string()
        };
        let (Some(open), Some(eq)) = (full.find('('), full.rfind(") = ")) else {
            continue;
        };
        if eq < open {
            continue;
        }
        let name = full[..open].to_string();
        let args = split_args(&full[open + 1..eq]);
        let r = full[eq + 4..].trim();
        let digits = r
            .char_indices()
            .take_while(|&(i, c)| c.is_ascii_digit() || (i == 0 && c == '-'))
            .count();
        let ret = r[..digits].parse::<i64>().ok();
        let ret_res = decorated_fd(r).map(|(_, res)| res);
        calls.push(Call {
            tid,
            ts,
            name,
            args,
            ret,
            ret_res,
        });
    }
    calls
}

/// (client, server) of a TCP or UDP flow, the way SysFlow orients a NetworkFlow.
type Tuple = (i32, SocketAddrV4, SocketAddrV4);

/// What strace says one process did.
#[derive(Debug, Default)]
struct Truth {
    /// The program (the last execve's path).
    exe: String,
    /// (read bytes, written bytes) per path.
    files: BTreeMap<String, [i64; 2]>,
    /// Paths opened successfully.
    opened: BTreeSet<String>,
    /// Paths of any fd the process used in a traced call (inherited fds, dups).
    used: BTreeSet<String>,
    /// (read bytes, written bytes) per tuple.
    net: BTreeMap<Tuple, [i64; 2]>,
    /// (read bytes, written bytes) over all unnamed pipes and unix sockets.
    unnamed: [i64; 2],
}

/// Reads a strace output file into per-process truth (`out`, by process id). Calls that
/// completed before `since` (seconds since the epoch) are left out. Returns the pid of
/// the program strace started (the first to call execve).
fn add_truth(out: &mut BTreeMap<i64, Truth>, trace: &Path, since: f64) -> i64 {
    let text = std::fs::read_to_string(trace).unwrap();
    let calls = parse_strace(&text);
    assert!(!calls.is_empty(), "{}: no syscalls traced", trace.display());
    add_calls(out, &calls, since)
}

fn add_calls(out: &mut BTreeMap<i64, Truth>, calls: &[Call], since: f64) -> i64 {
    let root = calls[0].tid;
    // strace prints thread ids: a clone with CLONE_THREAD makes a thread of the caller's
    // process. The whole file is read first, as a child's first calls may be printed
    // before its parent's clone returns.
    let mut thread_of: HashMap<i64, i64> = HashMap::new();
    for c in calls {
        if c.name.starts_with("clone")
            && c.ret.is_some_and(|r| r > 0)
            && c.args.iter().any(|a| a.contains("CLONE_THREAD"))
        {
            thread_of.insert(c.ret.unwrap(), c.tid);
        }
    }
    let tgid = |mut t: i64| {
        while let Some(&p) = thread_of.get(&t) {
            t = p;
        }
        t
    };
    // Which end of a socket this process is: fds from accept are the server's end.
    let mut accepted: BTreeSet<(i64, i64)> = BTreeSet::new();
    for c in calls {
        let pid = tgid(c.tid);
        let fd_of = |i: usize| c.args.get(i).and_then(|a| decorated_fd(a));
        match c.name.as_str() {
            "accept" | "accept4" | "socket" => {
                if let Some(fd) = c.ret.filter(|&r| r >= 0) {
                    if c.name == "socket" {
                        accepted.remove(&(pid, fd));
                    } else {
                        accepted.insert((pid, fd));
                    }
                }
            }
            "execve" | "execveat" if c.ret == Some(0) => {
                let i = usize::from(c.name == "execveat");
                let exe = c.args.get(i).cloned().unwrap_or_default();
                out.entry(pid).or_default().exe = exe.trim_matches('"').to_string();
            }
            _ => {}
        }
        if c.ts < since {
            continue;
        }
        let t = out.entry(pid).or_default();
        for a in &c.args {
            if let Some((_, Res::File(p))) = decorated_fd(a) {
                t.used.insert(p);
            }
        }
        let Some(n) = c.ret.filter(|&n| n >= 0) else {
            continue; // failed: nothing moved, nothing opened
        };
        // (read fd argument, written fd argument) of the data movers
        let (rd, wr) = match c.name.as_str() {
            "open" | "openat" | "openat2" | "creat" => {
                if let Some(Res::File(p)) = &c.ret_res {
                    t.opened.insert(p.clone());
                }
                continue;
            }
            "read" | "pread64" | "readv" | "preadv" | "preadv2" | "recvfrom" | "recvmsg" => {
                (Some(0), None)
            }
            "write" | "pwrite64" | "writev" | "pwritev" | "pwritev2" | "sendto" | "sendmsg" => {
                (None, Some(0))
            }
            "sendfile" => (Some(1), Some(0)), // sendfile(out_fd, in_fd, ...)
            "copy_file_range" | "splice" => (Some(0), Some(2)), // (fd_in, off_in, fd_out, ...)
            _ => continue,
        };
        for (arg, dir) in [(rd, 0), (wr, 1)] {
            let Some((fd, res)) = arg.and_then(fd_of) else {
                continue;
            };
            match res {
                Res::File(p) => t.files.entry(p).or_default()[dir] += n,
                Res::Net(proto, local, remote) => {
                    let key = if accepted.contains(&(pid, fd)) {
                        (proto, remote, local)
                    } else {
                        (proto, local, remote)
                    };
                    t.net.entry(key).or_default()[dir] += n;
                }
                // Pipes and unnamed unix sockets have empty names in SysFlow: compared
                // as one total per process.
                Res::Unnamed => t.unnamed[dir] += n,
                // Excluded by design: named unix sockets (SysFlow names them by their
                // kernel addresses), anonymous inodes (no FileFlow in SysFlow) and
                // unconnected IP sockets have no path or tuple to compare by. None
                // of these workloads moves data through them.
                Res::Other => {}
            }
        }
    }
    root
}

/// The parser on strace 6 output (no root needed).
#[test]
fn strace_output_parses() {
    // pids padded to five columns, as strace writes them
    let text = r#"100   1.0 execve("/usr/bin/x", [""...], [""...]) = 0
100 1.1 openat(AT_FDCWD</tmp>, "/lib/a", O_RDONLY|O_CLOEXEC) = 3</usr/lib/a>
100 1.2 read(3</usr/lib/a>, ""..., 832) = 832
100 1.3 clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM, exit_signal=0, stack=0x7f, stack_size=0x7fff00} <unfinished ...>
101 1.4 recvfrom(4<TCP:[127.0.0.1:8000->127.0.0.1:40000]>, ""..., 8192, 0, NULL, NULL) = 78
100 1.5 <... clone3 resumed> => {parent_tid=[101]}, 88) = 101
100 1.6 write(2</dev/null<char 1:3>>, ""..., 10) = 10
100 1.7 copy_file_range(5</a b>, NULL, 6</c>, NULL, 9223372035781033984, 0) = 300
101 1.8 sendfile(4<TCP:[127.0.0.1:8000->127.0.0.1:40000]>, 5</a b>, [0] => [100], 100) = 100
100 1.9 read(7</a b>, 0x1, 5) = -1 EAGAIN (Resource temporarily unavailable)
100 2.0 write(8<pipe:[123]>, ""..., 7) = 7
100 2.1 splice(8<pipe:[123]>, NULL, 9<TCP:[127.0.0.1:5000->127.0.0.1:6000]>, NULL, 7, 0) = 7
100 2.2 sendto(9<UNIX-STREAM:[1->2]>, ""..., 3, 0, NULL, 0) = 3
--- SIGCHLD {si_signo=SIGCHLD} ---
"#;
    // the accept was before the cut
    let mut calls = parse_strace(text);
    assert_eq!(calls.len(), 12, "{calls:#?}");
    calls.insert(
        0,
        Call {
            tid: 100,
            ts: 0.5,
            name: "accept4".into(),
            args: vec![],
            ret: Some(4),
            ret_res: None,
        },
    );
    let mut out = BTreeMap::new();
    assert_eq!(add_calls(&mut out, &calls, 1.05), 100);
    assert_eq!(out.len(), 1, "the thread belongs to its process: {out:?}");
    let t = &out[&100];
    assert_eq!(t.exe, "/usr/bin/x");
    assert_eq!(t.opened, BTreeSet::from(["/usr/lib/a".to_string()]));
    let f = |p: &str| t.files.get(p).copied().unwrap_or_default();
    assert_eq!(f("/usr/lib/a"), [832, 0]);
    assert_eq!(f("/dev/null"), [0, 10]);
    assert_eq!(f("/a b"), [400, 0]);
    assert_eq!(f("/c"), [0, 300]);
    let a = |s: &str| s.parse::<SocketAddrV4>().unwrap();
    // the accepted socket: the remote end is the client
    let k = (6, a("127.0.0.1:40000"), a("127.0.0.1:8000"));
    assert_eq!(t.net[&k], [78, 100]);
    let k = (6, a("127.0.0.1:5000"), a("127.0.0.1:6000"));
    assert_eq!(t.net[&k], [0, 7]);
    assert_eq!(t.unnamed, [7, 10]);
    assert_eq!(t.net.len(), 2);
}

// ------------------------------------------------------------------------ SysFlow side

use common::Output;

impl Output {
    /// When pid's (last) exec happened.
    fn exec_ts(&self, pid: i64) -> Option<i64> {
        self.recs.iter().rev().find_map(|r| match r {
            Record::ProcessEvent(e) if e.proc_oid.hpid == pid && e.op_flags == OpFlags::EXEC => {
                Some(e.ts)
            }
            _ => None,
        })
    }
    /// (read, written) bytes per path over every FileFlow of pid that ended at or after
    /// `from` (ns), and the paths.
    fn files(&self, pid: i64, from: i64) -> BTreeMap<String, [i64; 2]> {
        let mut m: BTreeMap<String, [i64; 2]> = BTreeMap::new();
        for f in self
            .file_flows(pid)
            .into_iter()
            .filter(|f| f.end_ts >= from)
        {
            let path = &self.file(&f.file_oid).path;
            // Excluded by design: flows with no path (pipes, anonymous inodes).
            if !path.starts_with('/') {
                continue;
            }
            let e = m.entry(canon(path)).or_default();
            e[0] += f.num_r_recv_bytes;
            e[1] += f.num_w_send_bytes;
        }
        m
    }
    /// (read, written) bytes over every FileFlow of pid with an empty path: pipes and
    /// unnamed unix sockets. Not told apart by `restype`: a File entity is keyed by its
    /// path, so every unnamed resource shares one, typed by whichever was seen first.
    fn unnamed(&self, pid: i64, from: i64) -> [i64; 2] {
        let mut t = [0; 2];
        for f in self
            .file_flows(pid)
            .into_iter()
            .filter(|f| f.end_ts >= from)
        {
            if self.file(&f.file_oid).path.is_empty() {
                t[0] += f.num_r_recv_bytes;
                t[1] += f.num_w_send_bytes;
            }
        }
        t
    }
    /// (read, written) bytes per (client, server) tuple over every NetworkFlow of pid.
    fn net(&self, pid: i64) -> BTreeMap<Tuple, [i64; 2]> {
        let mut m: BTreeMap<Tuple, [i64; 2]> = BTreeMap::new();
        for f in self.net_flows(pid) {
            let end = |ip: i32, port: i32| SocketAddrV4::new(avro_to_ipv4(ip), port as u16);
            let e = m
                .entry((f.proto, end(f.sip, f.sport), end(f.dip, f.dport)))
                .or_default();
            e[0] += f.num_r_recv_bytes;
            e[1] += f.num_w_send_bytes;
        }
        m
    }
}

/// Both sides name files as the kernel resolved them (strace through `/proc/<pid>/fd`,
/// our probe from the opened file: symlinks resolved, `/lib` is `/usr/lib`); paths are
/// still canonicalized on both sides, where the file still exists, so that a remaining
/// symlink in either does not count as a difference.
fn canon(p: &str) -> String {
    std::fs::canonicalize(p)
        .map(|c| c.to_string_lossy().into_owned())
        .unwrap_or_else(|_| p.to_string())
}

// ------------------------------------------------------------------------ the test

/// Deterministic bytes that gzip cannot shrink much.
fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Runs `cmd` under strace in `cwd`, stdout to `stdout` (or nowhere); returns strace's pid.
/// The program's stdin and stdout are opened by this process — the capturing one, whose
/// own syscalls the probe does not trace — and handed down through strace, so they
/// check how the probe names fds a child receives from the capturing process.
fn traced(
    dir: &Path,
    name: &str,
    cwd: &Path,
    cmd: &[&str],
    stdout: Option<&Path>,
) -> (PathBuf, u32) {
    let out = dir.join(format!("{name}.strace"));
    let mut c = strace(&out);
    c.args(cmd).current_dir(cwd).stdin(Stdio::null());
    match stdout {
        Some(p) => c.stdout(std::fs::File::create(p).unwrap()),
        None => c.stdout(Stdio::null()),
    };
    let mut child = c.spawn().unwrap();
    let pid = child.id();
    let st = child.wait().unwrap();
    assert!(st.success(), "{name}: {cmd:?} under strace: {st:?}");
    (out, pid)
}

/// The one child process of `pid` (strace's tracee).
fn child_of(pid: u32) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let c =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        if let Some(c) = c.split_whitespace().next() {
            return c.parse().unwrap();
        }
        assert!(Instant::now() < deadline, "strace {pid} started no child");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn real_programs_match_strace() {
    if !nix::unistd::geteuid().is_root() || !Path::new("/sys/kernel/btf/vmlinux").exists() {
        common::skip("live capture needs root and /sys/kernel/btf/vmlinux");
        return;
    }
    // The system python: a python3 earlier on PATH may be a shim script (pyenv).
    let python3 = "/usr/bin/python3";
    for tool in ["strace", "curl", "cp", "tar", "gzip", python3] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            common::skip(&format!(
                "{tool} not installed (scripts/setup.sh installs it)"
            ));
            return;
        }
    }
    let started = Instant::now();
    let out_dir = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir_in("/tmp").unwrap();
    let w = work.path();
    let traces = tempfile::tempdir().unwrap();
    let tr = traces.path();

    // Inputs, made by this process (not traced).
    std::fs::write(w.join("src.bin"), noise(3 << 20, 1)).unwrap();
    for (p, n) in [
        ("tree/a.txt", 1000),
        ("tree/sub/b.bin", 70_000),
        ("tree/sub/deeper/c.bin", 12_345),
        ("tree/empty", 0),
    ] {
        let p = w.join(p);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, noise(n, n as u64)).unwrap();
    }
    std::fs::create_dir(w.join("www")).unwrap();
    std::fs::write(w.join("www/page.bin"), noise(200_000, 7)).unwrap();
    std::fs::create_dir(w.join("x")).unwrap();

    // The HTTP server, traced too, started before the capture; what it did before the
    // capture started (interpreter start-up) is cut by timestamp.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server_trace = tr.join("server.strace");
    let mut server: Child = strace(&server_trace)
        .args([python3, "-m", "http.server", "--bind", "127.0.0.1"])
        .arg(port.to_string())
        .current_dir(w.join("www"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server_strace_pid = server.id();
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "http.server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let python = child_of(server_strace_pid);

    let config = SysFlowConfig {
        file_path: Some(format!("{}/", out_dir.path().display()).into()),
        enable_process_flow: false,
        file_read_mode: FileReadMode::All,
        file_only: false,
        env_overrides: false,
        ..Default::default()
    };
    let mut driver = SysFlowDriver::new(config).unwrap();
    let exit = driver.exit_handle();
    let runner = std::thread::spawn(move || driver.run());
    let runner = common::wait_capturing(&exit, runner);
    let since = now();

    let mut runs = vec![
        traced(tr, "cp", w, &["cp", "src.bin", "cp_dst.bin"], None),
        traced(tr, "tar_c", w, &["tar", "-cf", "tree.tar", "tree"], None),
        traced(
            tr,
            "tar_x",
            &w.join("x"),
            &["tar", "-xf", "../tree.tar"],
            None,
        ),
        traced(
            tr,
            "pipeline",
            w,
            &["sh", "-c", "cat src.bin | gzip -1 | wc -c"],
            Some(&w.join("pipeline.out")),
        ),
    ];
    let url = format!("http://127.0.0.1:{port}/page.bin");
    runs.push(traced(
        tr,
        "curl",
        w,
        &["curl", "-q", "-sS", "-o", "curl.out", &url],
        None,
    ));
    // End the server (strace then exits with it).
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(python),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    server.wait().unwrap();
    runs.push((server_trace, server_strace_pid));
    std::thread::sleep(Duration::from_millis(500));
    exit.exit();
    let summary = runner.join().unwrap().expect("live run");
    assert_eq!(summary.source_drops, 0, "kernel drops");
    assert_eq!(summary.live.decode_errors, 0, "undecodable records");

    assert_eq!(
        std::fs::read(w.join("curl.out")).unwrap(),
        std::fs::read(w.join("www/page.bin")).unwrap(),
        "curl fetched the page"
    );
    assert_eq!(
        std::fs::read(w.join("x/tree/sub/b.bin")).unwrap().len(),
        70_000
    );

    let files: Vec<_> = std::fs::read_dir(out_dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    if let Some(keep) = std::env::var_os("SF_DIFF_KEEP") {
        // for a look with sysprint, and the strace outputs beside it
        std::fs::copy(&files[0], &keep).unwrap();
        for (t, _) in &runs {
            let mut to = PathBuf::from(&keep).into_os_string();
            to.push(format!(".{}", t.file_name().unwrap().to_string_lossy()));
            std::fs::copy(t, to).unwrap();
        }
    }
    let o = Output {
        recs: SfReader::open(&files[0])
            .unwrap()
            .map(Result::unwrap)
            .collect(),
    };

    let mut truth: BTreeMap<i64, Truth> = BTreeMap::new();
    let mut roots = BTreeSet::new();
    for (t, _) in &runs {
        // only the server started before the capture; the others' calls are all in it
        let cut = if t.ends_with("server.strace") {
            since
        } else {
            0.0
        };
        roots.insert(add_truth(&mut truth, t, cut));
    }
    // The traced processes are strace's children; strace itself is not one of them.
    for (_, spid) in &runs {
        assert!(!truth.contains_key(&i64::from(*spid)), "strace {spid}");
    }
    // Canonical paths (see `canon`), while the files still exist.
    for t in truth.values_mut() {
        t.files =
            std::mem::take(&mut t.files)
                .into_iter()
                .fold(BTreeMap::new(), |mut m, (p, v)| {
                    let e: &mut [i64; 2] = m.entry(canon(&p)).or_default();
                    e[0] += v[0];
                    e[1] += v[1];
                    m
                });
        t.opened = t.opened.iter().map(|p| canon(p)).collect();
        t.used = t.used.iter().map(|p| canon(p)).collect();
    }

    let mut wrong = Vec::new();
    let (mut n_files, mut n_bytes, mut n_pipe_bytes, mut n_tuples) = (0, 0i64, 0i64, 0);
    for (&pid, t) in &truth {
        let who = format!("pid {pid} ({})", t.exe);
        // Excluded by design: strace traces the program it starts from its execve on;
        // before that, the forked process runs strace's own code (which closes strace's
        // output file), seen by the probe but not traced. Programs those programs start
        // are traced from their fork.
        // (The server's exec was before the capture: its calls are cut by time above.)
        let from = if roots.contains(&pid) && pid != i64::from(python) {
            o.exec_ts(pid)
                .unwrap_or_else(|| panic!("{who}: no exec event"))
        } else {
            0
        };
        // bytes per path: every path either side has, exactly
        let ours = o.files(pid, from);
        let paths: BTreeSet<&String> = ours.keys().chain(t.files.keys()).collect();
        for p in paths {
            let (a, b) = (
                ours.get(p).copied().unwrap_or_default(),
                t.files.get(p).copied().unwrap_or_default(),
            );
            if a != b {
                wrong.push(format!(
                    "{who} {p}: (read, written) bytes ours {a:?} vs strace {b:?}"
                ));
            }
            n_bytes += b[0] + b[1];
        }
        // every path opened or used (read, written, closed) has a FileFlow; every
        // FileFlow's path was opened or used
        for p in &t.opened {
            if !ours.contains_key(p) {
                wrong.push(format!("{who} {p}: opened, but no FileFlow"));
            }
            n_files += 1;
        }
        for p in t.used.difference(&t.opened) {
            if !ours.contains_key(p) {
                wrong.push(format!("{who} {p}: used, but no FileFlow"));
            }
        }
        for p in ours.keys() {
            if !t.opened.contains(p) && !t.used.contains(p) {
                wrong.push(format!(
                    "{who} {p}: a FileFlow, but strace saw no open or use"
                ));
            }
        }
        // bytes through pipes and unnamed unix sockets, one total per process
        let ours = o.unnamed(pid, from);
        if ours != t.unnamed {
            wrong.push(format!(
                "{who} pipes, unnamed sockets: (read, written) bytes ours {ours:?} vs \
                 strace {:?}",
                t.unnamed
            ));
        }
        n_pipe_bytes += t.unnamed[0] + t.unnamed[1];
        // bytes per (client, server) tuple, exactly, and no other tuple
        let ours = o.net(pid);
        let tuples: BTreeSet<&Tuple> = ours.keys().chain(t.net.keys()).collect();
        for k in tuples {
            let (a, b) = (
                ours.get(k).copied().unwrap_or_default(),
                t.net.get(k).copied().unwrap_or_default(),
            );
            if a != b {
                wrong.push(format!(
                    "{who} {}/{} -> {}: (read, written) bytes ours {a:?} vs strace {b:?}",
                    if k.0 == 6 { "tcp" } else { "udp" },
                    k.1,
                    k.2
                ));
            }
            n_tuples += 1;
        }
    }
    eprintln!(
        "{} processes, {n_files} opened paths, {n_bytes} bytes on files, {n_pipe_bytes} on \
         pipes and unnamed sockets, {n_tuples} tuples compared in {:.1} s",
        truth.len(),
        started.elapsed().as_secs_f64()
    );
    // Every workload is in the comparison: the programs ran and were captured.
    let exes: Vec<&str> = truth.values().map(|t| t.exe.as_str()).collect();
    for prog in ["cp", "tar", "cat", "gzip", "wc", "curl"] {
        assert!(
            exes.iter().any(|e| e.ends_with(&format!("/{prog}"))),
            "{prog} not traced: {exes:?}"
        );
    }
    assert!(
        truth
            .get(&i64::from(python))
            .is_some_and(|t| !t.net.is_empty()),
        "the server's connection"
    );
    let lo = Ipv4Addr::LOCALHOST;
    assert!(
        truth
            .values()
            .any(|t| t.net.keys().any(|k| k.2 == SocketAddrV4::new(lo, port))),
        "the client's connection"
    );
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
