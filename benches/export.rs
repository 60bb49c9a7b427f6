//! The collector's cost through the export path (needs root and BTF), in one run:
//!
//! 1. **Zero-loss ceiling**: a workload pinned to CPU 0 opens (`O_CREAT|O_WRONLY`), writes
//!    one byte to and closes 1,000 files in turn on tmpfs (every open is a file flow that
//!    the read filters keep, written to a `.sf` file), paced at rising rates for 3 s
//!    each, while the driver (default configuration, file output) runs pinned to CPU 1.
//!    Reported: the highest captured syscalls/s with every loss counter of
//!    `RunSummary::losses()` at zero (the configured filters' counts aside), and the
//!    collector's CPU seconds per million events.
//! 2. **redis-benchmark** (Debian `redis-tools`): SET/GET throughput against a
//!    `redis-server` pinned to CPU 0 from a client pinned to CPU 1, without and with the
//!    collector at its default configuration, interleaved rounds, medians.
//! 3. **RSS and CPU at a steady 100k events/s** (the same workload, paced): the
//!    collector's resident memory (and how much of it is BPF map mappings: the ring
//!    buffer's data, mapped once by our consumer) and its CPU seconds per million events.
//!    Runs first, so its baseline is a fresh process.
//!
//! Run: `cargo bench --bench export` (`SYSFLOW_BENCH_ONLY=steady|ceiling|redis`: one
//! part). The workloads run in child processes (the collector never captures its own
//! process).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use sysflow::{RunSummary, SysFlowConfig, SysFlowDriver};

const OUT_DIR: &str = "/dev/shm/sysflow-bench-export/";
const WORK_DIR: &str = "/dev/shm/sysflow-bench-export-files";
const REDIS_PORT: &str = "16379";

fn pin_to(cpu: usize) {
    let mut set = nix::sched::CpuSet::new();
    set.set(cpu).unwrap();
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set).unwrap();
}

/// Child side: `rate` open+write+close triples' syscalls per second (0: as fast as
/// possible) for `secs` seconds on CPU 0; prints the syscalls made per second.
fn workload(rate: u64, secs: u64) {
    pin_to(0);
    std::fs::create_dir_all(WORK_DIR).unwrap();
    let names: Vec<std::ffi::CString> = (0..1000)
        .map(|i| std::ffi::CString::new(format!("{WORK_DIR}/f{i}")).unwrap())
        .collect();
    let start = Instant::now();
    let dur = Duration::from_secs(secs);
    let mut calls = 0u64;
    let mut i = 0usize;
    while start.elapsed() < dur {
        if rate > 0 {
            // pace in steps of 1 ms
            let due = (start.elapsed().as_secs_f64() * rate as f64) as u64;
            if calls >= due {
                std::thread::sleep(Duration::from_micros(200));
                continue;
            }
        }
        for _ in 0..64 {
            // SAFETY: a NUL-terminated path we own; the fd is ours and closed below.
            unsafe {
                let fd = libc::open(
                    names[i].as_ptr(),
                    libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC,
                    0o600,
                );
                libc::write(fd, b"x".as_ptr().cast(), 1);
                libc::close(fd);
            }
            i = (i + 1) % names.len();
            calls += 3;
        }
    }
    println!("{}", calls as f64 / start.elapsed().as_secs_f64());
}

fn child(rate: u64, secs: u64) -> f64 {
    let out = Command::new(std::env::current_exe().unwrap())
        .env("SYSFLOW_BENCH_WORKLOAD", format!("{rate}:{secs}"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// User + system CPU seconds of this process (the collector: its driver and metadata
/// threads; the workloads are children, not counted).
fn self_cpu_s() -> f64 {
    let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_PROCESS_CPUTIME_ID).unwrap();
    t.tv_sec() as f64 + t.tv_nsec() as f64 / 1e9
}

/// Resident set size of this process, bytes.
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb * 1024
}

/// Resident bytes of this process's BPF map mappings (`anon_inode:bpf-map`, from
/// `/proc/self/smaps`): the ring buffer (its data area mapped once, and two position
/// pages) and the probe's small global-data maps.
fn bpf_map_rss_bytes() -> u64 {
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
    let mut in_bpf = false;
    let mut kb = 0u64;
    for l in smaps.lines() {
        let first = l.split_whitespace().next().unwrap_or("");
        if first.contains('-') && first.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            in_bpf = l.ends_with("anon_inode:bpf-map");
        } else if in_bpf && let Some(v) = l.strip_prefix("Rss:") {
            kb += v
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    kb * 1024
}

struct Running {
    exit: sysflow::ExitHandle,
    thread: std::thread::JoinHandle<sysflow::Result<RunSummary>>,
}

/// The driver at its default configuration writing `.sf` files, on `cpu` if given.
fn start_driver(cpu: Option<usize>) -> Running {
    // SYSFLOW_BENCH_CODEC=null|<deflate level>: another codec than the default
    let file_codec = match std::env::var("SYSFLOW_BENCH_CODEC").as_deref() {
        Ok("null") => sysflow::avro::AvroCodec::Null,
        Ok(level) => sysflow::avro::AvroCodec::Deflate(level.parse().expect("a level")),
        Err(_) => sysflow::avro::AvroCodec::default(),
    };
    let config = SysFlowConfig {
        file_path: Some(OUT_DIR.into()),
        env_overrides: false,
        file_codec,
        ..Default::default()
    };
    let mut driver = SysFlowDriver::new(config).expect("driver");
    let exit = driver.exit_handle();
    let thread = std::thread::spawn(move || {
        if let Some(c) = cpu {
            pin_to(c);
        }
        driver.run()
    });
    std::thread::sleep(Duration::from_millis(1500));
    Running { exit, thread }
}

fn stop_driver(r: Running) -> RunSummary {
    r.exit.exit();
    r.thread.join().unwrap().expect("run")
}

/// Losses of any cause but the configured filters (`filtered_*`: records the
/// configuration asked to leave out, such as reads of `/proc` by the benchmark's tools).
fn lost(s: &RunSummary) -> Vec<(&'static str, u64)> {
    s.losses()
        .into_iter()
        .filter(|(name, n)| *n > 0 && !name.starts_with("filtered_"))
        .collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn ceiling() {
    println!("1. zero-loss ceiling through the export path (.sf output), workload on CPU 0,");
    println!("   collector on CPU 1, 3 s per rate; open+write+close of files on tmpfs");
    let alone = child(0, 3);
    println!("   the workload alone, not captured, as fast as it goes: {alone:.0} syscalls/s");
    let mut best = (0.0f64, 0.0f64);
    for rate in [
        150_000u64, 300_000, 450_000, 600_000, 750_000, 900_000, 1_200_000, 0,
    ] {
        let r = start_driver(Some(1));
        let cpu0 = self_cpu_s();
        let achieved = child(rate, 3);
        // the collector catches up with what the ring holds before it stops
        let s = stop_driver(r);
        let cpu = self_cpu_s() - cpu0;
        let per_m = cpu / (s.events as f64 / 1e6);
        let label = if rate == 0 {
            "max".to_string()
        } else {
            rate.to_string()
        };
        let l = lost(&s);
        println!(
            "   paced {label:>9}: {achieved:>10.0} syscalls/s, {:>9} events, {cpu:.2} CPU-s \
             ({per_m:.2} CPU-s per million events), losses {l:?}",
            s.events
        );
        if l.is_empty() && achieved > best.0 {
            best = (achieved, per_m);
        }
    }
    println!(
        "   highest rate with zero losses: {:.0} captured syscalls/s at {:.2} CPU-s per \
         million events (goal >= 1,500,000)",
        best.0, best.1
    );
}

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// requests/s of SET and GET, client on CPU 1.
fn redis_round() -> (f64, f64) {
    let out = Command::new("taskset")
        .args([
            "-c",
            "1",
            "redis-benchmark",
            "-p",
            REDIS_PORT,
            "-t",
            "set,get",
        ])
        .args(["-n", "200000", "-c", "50", "-q", "--csv"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let rps = |name: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(&format!("\"{name}\"")))
            .and_then(|l| l.split(',').nth(1))
            .and_then(|v| v.trim_matches('"').parse().ok())
            .unwrap_or_else(|| panic!("no {name} in redis-benchmark output: {text}"))
    };
    (rps("SET"), rps("GET"))
}

fn redis() {
    println!("\n2. redis-benchmark (SET/GET, 200k requests, 50 clients), server on CPU 0,");
    println!("   client on CPU 1, collector at its default configuration, 3 interleaved rounds");
    if !have("redis-server") || !have("redis-benchmark") {
        println!(
            "   SKIP: redis-server / redis-benchmark missing (scripts/setup.sh installs them)"
        );
        return;
    }
    let mut server = Command::new("taskset")
        .args([
            "-c",
            "0",
            "redis-server",
            "--port",
            REDIS_PORT,
            "--bind",
            "127.0.0.1",
        ])
        .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let _ = redis_round(); // warm-up
    let (mut bs, mut bg, mut cs, mut cg) = (vec![], vec![], vec![], vec![]);
    let mut summaries = Vec::new();
    for _ in 0..3 {
        let (s, g) = redis_round();
        bs.push(s);
        bg.push(g);
        let r = start_driver(None);
        let (s, g) = redis_round();
        cs.push(s);
        cg.push(g);
        summaries.push(stop_driver(r));
    }
    let _ = server.kill();
    let _ = server.wait();
    for (name, b, c) in [("SET", bs, cs), ("GET", bg, cg)] {
        let (b, c) = (median(b), median(c));
        println!(
            "   {name}: {b:>10.0} req/s without, {c:>10.0} with the collector: {:+.1}% (goal >= -5%)",
            (c / b - 1.0) * 100.0
        );
    }
    let events: u64 = summaries.iter().map(|s| s.events).sum();
    let l: Vec<_> = summaries.iter().flat_map(lost).collect();
    println!("   collector: {events} events over the rounds, losses {l:?}");
}

fn steady() {
    println!("\n3. RSS and CPU at a steady 100k events/s (10 s), collector unpinned");
    let before = rss_bytes();
    let r = start_driver(None);
    let started = rss_bytes();
    let cpu0 = self_cpu_s();
    let t = Instant::now();
    let sampler = std::thread::spawn(move || {
        let mut peak = 0;
        while t.elapsed() < Duration::from_secs(11) {
            peak = peak.max(rss_bytes());
            std::thread::sleep(Duration::from_millis(250));
        }
        peak
    });
    let achieved = child(100_000, 10);
    // the ring's pages stay resident once written: read once, at the end (smaps is slow)
    let bpf = bpf_map_rss_bytes();
    let peak = sampler.join().unwrap();
    let s = stop_driver(r);
    let cpu = self_cpu_s() - cpu0;
    // the default ring: 8 MiB per online CPU, at least 16 MiB, a power of two
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let ring = (8u64 << 20)
        .saturating_mul(cpus)
        .next_power_of_two()
        .max(16 << 20);
    println!(
        "   workload {achieved:.0} syscalls/s; collector {} events, {cpu:.2} CPU-s = {:.2} CPU-s \
         per million events (goal <= 0.5), losses {:?}",
        s.events,
        cpu / (s.events as f64 / 1e6),
        lost(&s)
    );
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    println!(
        "   RSS: {:.1} MiB before the driver (this process's own), {:.1} MiB once started, \
         peak {:.1} MiB, of which BPF map mappings {:.1} MiB (the {:.0} MiB ring and the \
         probe's global data); peak beyond the process's own and the BPF mappings: {:.1} \
         MiB (goal <= 10)",
        mib(before),
        mib(started),
        mib(peak),
        mib(bpf),
        mib(ring),
        mib(peak.saturating_sub(before).saturating_sub(bpf))
    );
}

fn main() {
    if let Ok(w) = std::env::var("SYSFLOW_BENCH_WORKLOAD") {
        let (rate, secs) = w.split_once(':').unwrap();
        workload(rate.parse().unwrap(), secs.parse().unwrap());
        return;
    }
    if !std::env::args().any(|a| a == "--bench") {
        println!("benchmark: run it with `cargo bench --bench export`");
        return;
    }
    if !nix::unistd::geteuid().is_root() {
        println!("SKIP: the export benchmark needs root");
        return;
    }
    if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        println!("SKIP: the export benchmark pins the workload and the collector to 2 CPUs");
        return;
    }
    // SYSFLOW_BENCH_ONLY=ceiling|redis|steady runs one part; the steady part runs first
    // so that its RSS baseline is a fresh process's
    let only = std::env::var("SYSFLOW_BENCH_ONLY").ok();
    let parts: [(&str, fn()); 3] = [("steady", steady), ("ceiling", ceiling), ("redis", redis)];
    for (name, part) in parts {
        if only.as_deref().is_none_or(|o| o == name) {
            let _ = std::fs::remove_dir_all(OUT_DIR);
            part();
        }
    }
    let _ = std::fs::remove_dir_all(OUT_DIR);
    let _ = std::fs::remove_dir_all(WORK_DIR);
}
