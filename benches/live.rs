//! Live capture overhead, side by side in one run (needs root and BTF):
//! - ns per syscall and slowdown, driver capturing vs not, for (a) `getppid` (not
//!   collected) and (b) a 1-byte `pread` from a tmpfs file (collected into a file flow);
//! - the same for data moved without read/write (sendfile, `cp`, an io_uring read) and
//!   for 8-byte send/recv on connected UDP sockets (sendto/recvfrom with no address), each
//!   counted on its fds in the kernel;
//! - the highest sustained rate of captured open/close pairs across all CPUs with zero
//!   kernel drops;
//! - with container runtimes set up (`eval "$(scripts/containers.sh env)"`): the capture's
//!   slowdowns while 20 podman containers run (each exec'ing a child every 0.5 s, listed
//!   and looked up by the metadata worker at every driver start) against no container
//!   running, in interleaved rounds, and the metadata worker's CPU time.
//!
//! Workloads run in child processes (the collector never captures its own process).
//! Run: `cargo bench --bench live`.

use std::process::Command;
use std::time::{Duration, Instant};
use sysflow::{SysFlowConfig, SysFlowDriver};

const TMPFILE: &str = "/dev/shm/sysflow-bench.dat";
/// 100 MB on tmpfs: the sendfile, cp and io_uring rows read it.
const BIGFILE: &str = "/dev/shm/sysflow-bench-big.dat";

/// CPU time of the calling thread (time in user space and in the kernel for it, including
/// BPF programs run in its syscalls; not time spent preempted by other load).
fn thread_cpu_ns() -> f64 {
    let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID).unwrap();
    t.tv_sec() as f64 * 1e9 + t.tv_nsec() as f64
}

/// Child side: runs one workload and prints its result.
fn workload(kind: &str, arg: u64) {
    match kind {
        "getppid" => {
            let t = thread_cpu_ns();
            for _ in 0..arg {
                // SAFETY: getppid has no arguments and cannot fail.
                unsafe { libc::syscall(libc::SYS_getppid) };
            }
            println!("{}", (thread_cpu_ns() - t) / arg as f64);
        }
        "pread" => {
            use std::os::fd::AsRawFd;
            let f = std::fs::File::open(TMPFILE).unwrap();
            let mut b = [0u8; 1];
            let t = thread_cpu_ns();
            for _ in 0..arg {
                // SAFETY: a valid fd and a one-byte buffer we own.
                unsafe { libc::pread(f.as_raw_fd(), b.as_mut_ptr().cast(), 1, 0) };
            }
            println!("{}", (thread_cpu_ns() - t) / arg as f64);
        }
        "openclose" => {
            // arg = target pairs per second per thread (0 = as fast as possible), 2 s.
            let threads = std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2);
            let dur = Duration::from_secs(2);
            let total: u64 = std::thread::scope(|s| {
                let hs: Vec<_> = (0..threads)
                    .map(|_| {
                        s.spawn(move || {
                            let path = std::ffi::CString::new(TMPFILE).unwrap();
                            let start = Instant::now();
                            let mut n = 0u64;
                            while start.elapsed() < dur {
                                if arg > 0 {
                                    let due = start.elapsed().as_secs_f64() * arg as f64;
                                    if (n as f64) >= due {
                                        std::hint::spin_loop();
                                        continue;
                                    }
                                }
                                // SAFETY: a valid NUL-terminated path; the fd is closed.
                                unsafe {
                                    let fd = libc::open(path.as_ptr(), libc::O_RDONLY);
                                    libc::close(fd);
                                }
                                n += 1;
                            }
                            n
                        })
                    })
                    .collect();
                hs.into_iter().map(|h| h.join().unwrap()).sum()
            });
            println!("{}", total as f64 / dur.as_secs_f64());
        }
        "sendfile" => {
            // arg sendfiles of 64 KiB from a tmpfs file to /dev/null (counted as a read
            // of the file and a write of /dev/null)
            use std::os::fd::AsRawFd;
            let src = std::fs::File::open(BIGFILE).unwrap();
            let null = std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/null")
                .unwrap();
            let t = thread_cpu_ns();
            for _ in 0..arg {
                let mut off: libc::off_t = 0;
                // SAFETY: valid fds and offset.
                let n =
                    unsafe { libc::sendfile(null.as_raw_fd(), src.as_raw_fd(), &mut off, 65536) };
                assert_eq!(n, 65536);
            }
            println!("{}", (thread_cpu_ns() - t) / arg as f64);
        }
        "sendrecv" => {
            // arg exchanges of 8 bytes over a pair of connected UDP sockets: send (sendto
            // with no address) on one, recv (recvfrom with no address) on the other
            let a = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            let b = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            a.connect(b.local_addr().unwrap()).unwrap();
            b.connect(a.local_addr().unwrap()).unwrap();
            let mut buf = [0u8; 8];
            let t = thread_cpu_ns();
            for _ in 0..arg {
                a.send(&buf).unwrap();
                b.recv(&mut buf).unwrap();
            }
            println!("{}", (thread_cpu_ns() - t) / arg as f64);
        }
        "cp" => {
            // wall time of `cp` of a 100 MB tmpfs file (copy_file_range), ms
            let t = Instant::now();
            for _ in 0..arg {
                let st = Command::new("cp")
                    .args([BIGFILE, "/dev/shm/sysflow-bench-copy.dat"])
                    .status()
                    .unwrap();
                assert!(st.success());
            }
            println!("{}", t.elapsed().as_secs_f64() * 1e3 / arg as f64);
        }
        "uring" => {
            // arg 4 KiB reads through io_uring (one submission and completion each)
            use io_uring::{IoUring, opcode, types};
            use std::os::fd::AsRawFd;
            let f = std::fs::File::open(BIGFILE).unwrap();
            let mut ring = IoUring::new(8).unwrap();
            let mut buf = vec![0u8; 4096];
            let t = thread_cpu_ns();
            for i in 0..arg {
                let e = opcode::Read::new(types::Fd(f.as_raw_fd()), buf.as_mut_ptr(), 4096)
                    .offset((i % 1024) * 4096)
                    .build();
                // SAFETY: the buffer outlives the request, which completes before the
                // next loop iteration.
                unsafe { ring.submission().push(&e).unwrap() };
                ring.submit_and_wait(1).unwrap();
                let c = ring.completion().next().unwrap();
                assert_eq!(c.result(), 4096);
            }
            println!("{}", (thread_cpu_ns() - t) / arg as f64);
        }
        _ => panic!("unknown workload {kind}"),
    }
}

fn child(kind: &str, arg: u64) -> f64 {
    let out = Command::new(std::env::current_exe().unwrap())
        .env("SYSFLOW_BENCH_WORKLOAD", format!("{kind}:{arg}"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

struct Running {
    exit: sysflow::ExitHandle,
    thread: std::thread::JoinHandle<sysflow::Result<sysflow::RunSummary>>,
}

fn start_driver() -> Running {
    start_driver_with(SysFlowConfig::default())
}

fn start_driver_with(config: SysFlowConfig) -> Running {
    let config = SysFlowConfig {
        file_path: Some("/dev/shm/sysflow-bench-out/".into()),
        env_overrides: false,
        ..config
    };
    let mut driver = SysFlowDriver::new(config).expect("driver");
    let exit = driver.exit_handle();
    let thread = std::thread::spawn(move || driver.run());
    // (loading the probe takes over a second here: a fixed wait could start a workload
    // before the capture)
    let t0 = std::time::Instant::now();
    while !exit.wait_capturing(Duration::from_millis(100)) {
        if thread.is_finished() {
            panic!("the driver ended before capturing: {:?}", thread.join());
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "the driver did not start capturing within 60 s"
        );
    }
    Running { exit, thread }
}

fn stop_driver(r: Running) -> sysflow::RunSummary {
    r.exit.exit();
    r.thread.join().unwrap().expect("run")
}

fn main() {
    if let Ok(w) = std::env::var("SYSFLOW_BENCH_WORKLOAD") {
        let (k, a) = w.split_once(':').unwrap();
        workload(k, a.parse().unwrap());
        return;
    }
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary without
    // it, and a benchmark has no place in the test suite.
    if !std::env::args().any(|a| a == "--bench") {
        println!("benchmark: run it with `cargo bench --bench live`");
        return;
    }
    if !nix::unistd::geteuid().is_root() {
        println!("SKIP: the live benchmark needs root");
        return;
    }
    if std::env::var("SYSFLOW_BENCH_ONLY").as_deref() == Ok("k8s") {
        std::fs::write(TMPFILE, vec![7u8; 4096]).unwrap();
        kubernetes();
        return;
    }
    std::fs::write(TMPFILE, vec![7u8; 4096]).unwrap();
    let _ = std::fs::remove_dir_all("/dev/shm/sysflow-bench-out");

    // Interleaved rounds: baseline, then capturing, five times; medians of each.
    let (mut bp, mut br, mut cp, mut cr) = (vec![], vec![], vec![], vec![]);
    let (mut events, mut drops) = (0, 0);
    for _ in 0..5 {
        bp.push(child("getppid", 2_000_000));
        br.push(child("pread", 1_000_000));
        let r = start_driver();
        cp.push(child("getppid", 2_000_000));
        cr.push(child("pread", 1_000_000));
        let s = stop_driver(r);
        events += s.events;
        drops += s.source_drops;
    }
    let (base_ppid, base_pread, cap_ppid, cap_pread) =
        (median(bp), median(br), median(cp), median(cr));
    println!("per-syscall cost, thread CPU time, median of 5 interleaved rounds (ns/op);");
    println!("capture = SysFlowDriver live, default config");
    println!(
        "{:<28} {:>10} {:>10} {:>8}",
        "", "no capture", "capture", "ratio"
    );
    println!(
        "{:<28} {:>10.1} {:>10.1} {:>7.2}x  (target <= 1.80)",
        "getppid (not collected)",
        base_ppid,
        cap_ppid,
        cap_ppid / base_ppid
    );
    println!(
        "{:<28} {:>10.1} {:>10.1} {:>7.2}x  (target <= 1.40)",
        "pread 1 B tmpfs (file flow)",
        base_pread,
        cap_pread,
        cap_pread / base_pread
    );
    println!("(driver: {events} events, {drops} kernel drops over the rounds)");

    // Data moved without read/write, io_uring, and sends and receives: every one of these
    // is captured (counted on its fds), so the rows measure the hooks that count them.
    std::fs::write(BIGFILE, vec![3u8; 100 << 20]).unwrap();
    let (mut b, mut c) = (
        [vec![], vec![], vec![], vec![]],
        [vec![], vec![], vec![], vec![]],
    );
    for _ in 0..5 {
        b[0].push(child("sendfile", 20_000));
        b[1].push(child("cp", 3));
        b[2].push(child("uring", 200_000));
        b[3].push(child("sendrecv", 500_000));
        let r = start_driver();
        c[0].push(child("sendfile", 20_000));
        c[1].push(child("cp", 3));
        c[2].push(child("uring", 200_000));
        c[3].push(child("sendrecv", 500_000));
        let s = stop_driver(r);
        drops += s.source_drops;
    }
    for (i, (label, unit)) in [
        ("sendfile 64 KiB -> /dev/null", "ns/op"),
        ("cp 100 MB tmpfs (wall)", "ms"),
        ("io_uring 4 KiB read", "ns/op"),
        ("UDP send+recv 8 B, connected", "ns/op"),
    ]
    .iter()
    .enumerate()
    {
        let (x, y) = (median(b[i].clone()), median(c[i].clone()));
        println!("{label:<28} {x:>10.1} {y:>10.1} {:>7.2}x  ({unit})", y / x);
    }
    println!("(kernel drops so far: {drops})");
    let _ = std::fs::remove_file(BIGFILE);
    let _ = std::fs::remove_file("/dev/shm/sysflow-bench-copy.dat");

    println!("\nopen/close pairs across all CPUs (2 s each), captured syscalls/s = 2 x pairs/s:");
    let mut best_zero = 0.0f64;
    for per_thread in [100_000u64, 150_000, 200_000, 250_000, 300_000, 400_000, 0] {
        let r = start_driver();
        let pairs = child("openclose", per_thread);
        let s = stop_driver(r);
        let rate = 2.0 * pairs;
        let label = if per_thread == 0 {
            "max".to_string()
        } else {
            format!("{per_thread}/thread")
        };
        println!(
            "  paced {label:<14} {rate:>12.0} captured syscalls/s, kernel drops {}",
            s.source_drops
        );
        if s.source_drops == 0 {
            best_zero = best_zero.max(rate);
        }
    }
    println!(
        "highest sustained rate with zero drops: {best_zero:.0} captured syscalls/s (target >= 500000)"
    );
    containers();
    kubernetes();
    let _ = std::fs::remove_file(TMPFILE);
    let _ = std::fs::remove_dir_all("/dev/shm/sysflow-bench-out");
}

const CONTAINERS: usize = 20;

fn podman(args: &[&str]) -> bool {
    Command::new("podman")
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// One measurement of the container comparison: no-capture baselines, then the same
/// workloads while a driver captures; and that driver's metadata counters.
struct Sample {
    base: [f64; 2],
    capture: [f64; 2],
    cpu_ns: u64,
    described: u64,
    drops: u64,
    /// Resident memory of this process (the collector) at the end of the capture, KiB:
    /// VmRSS, the probe's ring buffer mappings (`anon_inode:bpf-map`, its data area
    /// mapped once), anonymous memory, the executable's pages.
    rss_kib: [u64; 4],
    k8s_events: u64,
    k8s_errors: u64,
    capture_s: f64,
}

fn rss_kib() -> [u64; 4] {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    // Rss of the mappings by name, from smaps.
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
    let exe = std::env::current_exe().unwrap().display().to_string();
    let (mut ring, mut text, mut name) = (0u64, 0u64, String::new());
    for l in smaps.lines() {
        if let Some(kib) = l.strip_prefix("Rss:") {
            let kib: u64 = kib
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .unwrap_or(0);
            if name == "anon_inode:bpf-map" {
                ring += kib;
            } else if name == exe {
                text += kib;
            }
        } else if l
            .split_whitespace()
            .next()
            .is_some_and(|a| a.contains('-') && !a.ends_with(':'))
        {
            name = l.split_whitespace().nth(5).unwrap_or("").to_string();
        }
    }
    [field("VmRSS:"), ring, field("RssAnon:"), text]
}

fn sample(config: SysFlowConfig) -> Sample {
    let base = [child("getppid", 2_000_000), child("pread", 1_000_000)];
    let t = std::time::Instant::now();
    let r = start_driver_with(config);
    let capture = [child("getppid", 2_000_000), child("pread", 1_000_000)];
    let rss_kib = rss_kib();
    let s = stop_driver(r);
    Sample {
        base,
        capture,
        cpu_ns: s.metadata.cpu_time_ns,
        described: s.metadata.found + s.metadata.listed,
        drops: s.source_drops,
        rss_kib,
        k8s_events: s.metadata.k8s_events,
        k8s_errors: s.metadata.k8s_errors,
        capture_s: t.elapsed().as_secs_f64(),
    }
}

/// Starts the 20 containers in parallel (each exec'ing a child every 0.5 s).
fn start_containers(names: &[String], image: &str) {
    std::thread::scope(|s| {
        for n in names {
            s.spawn(move || {
                podman(&[
                    "run",
                    "-d",
                    "--network",
                    "host",
                    "--name",
                    n,
                    image,
                    "sh",
                    "-c",
                    "while true; do cat /etc/hostname > /dev/null; sleep 0.5; done",
                ])
            });
        }
    });
}

fn remove_containers(names: &[String]) {
    std::thread::scope(|s| {
        for n in names {
            s.spawn(move || podman(&["rm", "-f", "-t", "0", n]));
        }
    });
}

/// The capture's slowdowns (capturing ÷ not capturing, as in the first table) with 20
/// containers running against none, in interleaved rounds so that machine drift affects
/// both alike.
fn containers() {
    let (Ok(sock), Ok(image)) = (
        std::env::var("SYSFLOW_PODMAN_SOCK"),
        std::env::var("SYSFLOW_TEST_IMAGE"),
    ) else {
        println!(
            "\ncontainers: SKIP (no runtimes: eval \"$(scripts/containers.sh env)\" after \
             scripts/containers.sh up)"
        );
        return;
    };
    let cri = std::env::var("SYSFLOW_CONTAINERD_SOCK").ok();
    let config = || SysFlowConfig {
        docker_path: Some(sock.clone().into()),
        cri_path: cri.clone().map(Into::into),
        ..Default::default()
    };
    let names: Vec<String> = (0..CONTAINERS).map(|i| format!("sf-bench-{i}")).collect();
    remove_containers(&names);
    let (mut none, mut with) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        none.push(sample(config()));
        start_containers(&names, &image);
        with.push(sample(config()));
        remove_containers(&names);
    }
    let slow =
        |v: &[Sample], k: usize| median(v.iter().map(|s| s.capture[k] / s.base[k]).collect());
    let cost = |v: &[Sample], k: usize| median(v.iter().map(|s| s.capture[k]).collect());
    println!(
        "\ncapture slowdown (capturing / not capturing, medians of 5 interleaved rounds) with \
         {CONTAINERS} podman\ncontainers running (each exec'ing a child every 0.5 s) vs none; \
         metadata from podman's API and containerd's CRI:"
    );
    println!(
        "{:<20} {:>10} {:>10} {:>8}   capturing ns/op (none / 20)",
        "", "none", "20", "ratio"
    );
    for (k, name) in ["getppid", "pread 1 B tmpfs"].into_iter().enumerate() {
        let (a, b) = (slow(&none, k), slow(&with, k));
        println!(
            "{name:<20} {a:>9.3}x {b:>9.3}x {:>7.3}x   {:.1} / {:.1}  (target ratio <= 1.05)",
            b / a,
            cost(&none, k),
            cost(&with, k)
        );
    }
    let cpu: u64 = with.iter().map(|s| s.cpu_ns).sum();
    let described: u64 = with.iter().map(|s| s.described).sum();
    let drops: u64 = none.iter().chain(&with).map(|s| s.drops).sum();
    println!(
        "metadata worker with the containers: {:.1} ms CPU over 5 driver runs ({:.2} ms per \
         run), {described} containers described, {drops} kernel drops",
        cpu as f64 / 1e6,
        cpu as f64 / 5e6
    );
}

/// The capture's slowdowns and RSS while a (stand-in) API server delivers 1,000 pod
/// changes per second, with the collector watching it (`k8s_api_url`) against not
/// watching it, in interleaved rounds; the stand-in churns in both (tests/k8s/apiserver.py:
/// there is no real API server here), over plain HTTP on loopback.
fn kubernetes() {
    const NODE: &str = "bench-node";
    const RATE: f64 = 1000.0;
    let dir = tempfile::tempdir().unwrap();
    let pod = serde_json::json!({
        "metadata": {"name": "churn", "namespace": "bench", "uid": "uid-churn",
                     "labels": {"app": "web"}},
        "spec": {"nodeName": NODE},
        "status": {"phase": "Running", "podIP": "10.244.0.9"}
    });
    let objects = serde_json::json!([
        {"plural": "pods", "object": pod},
        {"plural": "services", "object": {"metadata": {"name": "web", "namespace": "bench",
            "uid": "uid-web"}, "spec": {"selector": {"app": "web"}, "clusterIP": "10.96.0.1",
            "ports": [{"port": 80, "protocol": "TCP"}]}}},
    ]);
    std::fs::write(dir.path().join("objects.json"), objects.to_string()).unwrap();
    std::fs::write(dir.path().join("token"), "bench").unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/k8s/apiserver.py");
    let Ok(mut server) = Command::new("python3")
        .arg(script)
        .args([
            "--token",
            "bench",
            "--objects",
            "objects.json",
            "--port-file",
            "port",
        ])
        .current_dir(dir.path())
        .spawn()
    else {
        println!("\nkubernetes: SKIP (python3 is not installed)");
        return;
    };
    let port_file = dir.path().join("port");
    while !port_file.exists() {
        std::thread::sleep(Duration::from_millis(50));
    }
    let url = format!(
        "http://127.0.0.1:{}",
        std::fs::read_to_string(&port_file).unwrap()
    );
    let churn = serde_json::json!({"plural": "pods", "object": pod, "rate": RATE, "seconds": 3600});
    let ok = Command::new("curl")
        .args(["-sS", "-X", "POST", "--data-binary", &churn.to_string()])
        .arg(format!("{url}/_control/churn"))
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        println!("\nkubernetes: SKIP (curl could not start the stand-in's churn)");
        let _ = server.kill();
        return;
    }
    let config = |k8s: bool| SysFlowConfig {
        exporter_id: NODE.into(),
        k8s_api_url: k8s.then(|| url.clone()),
        k8s_api_cert: k8s.then(|| dir.path().join("token")),
        ..Default::default()
    };
    let (mut without, mut with) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        without.push(sample(config(false)));
        with.push(sample(config(true)));
    }
    let _ = server.kill();
    let _ = server.wait();
    let slow =
        |v: &[Sample], k: usize| median(v.iter().map(|s| s.capture[k] / s.base[k]).collect());
    println!(
        "\ncapture slowdown (capturing / not capturing, medians of 5 interleaved rounds) while a \
         stand-in API server\ndelivers {RATE} pod changes/s, collector watching it vs not:"
    );
    println!("{:<20} {:>10} {:>10} {:>8}", "", "no k8s", "k8s", "ratio");
    for (k, name) in ["getppid", "pread 1 B tmpfs"].into_iter().enumerate() {
        let (a, b) = (slow(&without, k), slow(&with, k));
        println!(
            "{name:<20} {a:>9.3}x {b:>9.3}x {:>7.3}x  (target ratio <= 1.05)",
            b / a
        );
    }
    let rss =
        |v: &[Sample], i: usize| median(v.iter().map(|s| s.rss_kib[i] as f64 / 1024.0).collect());
    let events: u64 = with.iter().map(|s| s.k8s_events).sum();
    let errors: u64 = with.iter().map(|s| s.k8s_errors).sum();
    let secs: f64 = with.iter().map(|s| s.capture_s).sum();
    let cpu: u64 = with.iter().map(|s| s.cpu_ns).sum();
    for (i, what) in ["VmRSS", "  ring mappings", "  anonymous", "  executable"]
        .iter()
        .enumerate()
    {
        println!(
            "collector {what:<16} {:>7.1} MiB without, {:>7.1} MiB with the watch",
            rss(&without, i),
            rss(&with, i)
        );
    }
    println!(
        "(median at the end of a capture; the ring's data area is mapped once; target: \
         VmRSS < 40 MB with the watch)"
    );
    println!(
        "K8s events received: {events} in {secs:.1} s of capture ({:.0}/s), {errors} API \
         errors; metadata worker CPU {:.1} ms ({:.2} ms per 1,000 events)",
        events as f64 / secs,
        cpu as f64 / 1e6,
        cpu as f64 / 1e6 / (events.max(1) as f64 / 1000.0)
    );
}
