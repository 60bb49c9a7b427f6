//! The collector's cost through the export path (needs root and BTF), in one run:
//!
//! 1. **Zero-loss ceiling**: a workload pinned to CPU 0 opens (`O_CREAT|O_WRONLY`),
//!    writes one byte to and closes 1,000 files in turn on tmpfs (every open is a file
//!    flow that the read filters keep, written to a `.sf` file), paced at rising rates
//!    for 3 s each, while the driver (default configuration, file output) runs pinned to
//!    CPU 1. Two shapes: one write per file (the worst case: two of every three syscalls
//!    ship a record and name a file) and eight writes per file (the writes are counted in
//!    the kernel). Reported: the highest captured syscalls/s with every loss counter of
//!    `RunSummary::losses()` at zero (the configured filters' counts aside) and every
//!    write the workload made found in the `.sf` file's FileFlows (count and bytes), and
//!    the collector's CPU seconds per million events.
//! 2. **redis-benchmark** (Debian `redis-tools`): SET/GET throughput against a
//!    `redis-server` pinned to CPU 0 from a client pinned to CPU 1, in interleaved rounds
//!    of three arms: without a probe, with the floor (`bpf/floor.bpf.c`: a program on the
//!    collector's attach point, `tp_btf/sys_exit`, that returns at once, which is what
//!    attaching there costs before any work), and with the collector at its default
//!    configuration; medians, each arm against the one without, the collector against
//!    the floor.
//! 3. **RSS and CPU at a steady 100k events/s** (the one-write workload, paced; then
//!    the eight-write one, its CPU only): the collector's resident memory (and how much
//!    of it is BPF map mappings: the ring buffer's data, mapped once by our consumer) and
//!    its CPU seconds per million events (syscalls captured, as Falco counts events),
//!    over the whole run and over a steady window (2 s to 9 s into the workload: without
//!    the probe's load, the start of the output file, compressed harder, and the final
//!    drain). Runs first, so its baseline is a fresh process.
//!
//! Run: `cargo bench --bench export` (`SYSFLOW_BENCH_ONLY=steady|ceiling|redis`: one
//! part; `SYSFLOW_BENCH_CODEC=null|<level>`: another codec; `SYSFLOW_BENCH_RATE=<n>` (0: as
//! fast as it goes) and `SYSFLOW_BENCH_WPF=<n>`: the steady part's rate and writes per
//! file, for profiling; `SYSFLOW_BENCH_PIN=1`: the steady part's collector on CPU 1). The collector never
//! captures its own process, and the processes it starts are its heirs, whose every fd
//! the probe names at first use (they may be inherited from the collector); so the
//! workloads and the redis client are started by a launcher process started before any
//! driver, as a deployed collector does not start what it watches. Every process on the
//! machine is captured: other activity during the run shows up in the loss counters and
//! the collector's CPU.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use sysflow::{RunSummary, SysFlowConfig, SysFlowDriver};

const OUT_DIR: &str = "/dev/shm/sysflow-bench-export/";
const WORK_DIR: &str = "/dev/shm/sysflow-bench-export-files";
const REDIS_PORT: &str = "16379";
/// Rounds of the redis part (each arm once per round).
const REDIS_ROUNDS: usize = 7;

fn pin_to(cpu: usize) {
    let mut set = nix::sched::CpuSet::new();
    set.set(cpu).unwrap();
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set).unwrap();
}

/// Child side: `rate` syscalls per second (0: as fast as possible) for `secs` seconds on
/// CPU 0, in files of `writes_per_file` writes: each file is opened (`O_CREAT|O_WRONLY`),
/// written `writes_per_file` times one byte, and closed. Prints the syscalls made per
/// second, the writes that wrote their byte, and the opens and writes that failed (none
/// expected: a failure would make the ground truth differ from what was attempted).
fn workload(rate: u64, secs: u64, writes_per_file: u64) {
    pin_to(0);
    std::fs::create_dir_all(WORK_DIR).unwrap();
    let names: Vec<std::ffi::CString> = (0..1000)
        .map(|i| std::ffi::CString::new(format!("{WORK_DIR}/f{i}")).unwrap())
        .collect();
    let epoch_ns = || std::time::UNIX_EPOCH.elapsed().unwrap().as_nanos();
    let began = epoch_ns();
    let start = Instant::now();
    let dur = Duration::from_secs(secs);
    let (mut calls, mut writes, mut failed) = (0u64, 0u64, 0u64);
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
                if fd < 0 {
                    failed += 1;
                }
                for _ in 0..writes_per_file {
                    if libc::write(fd, b"x".as_ptr().cast(), 1) == 1 {
                        writes += 1;
                    } else {
                        failed += 1;
                    }
                }
                libc::close(fd);
            }
            i = (i + 1) % names.len();
            calls += 2 + writes_per_file;
        }
    }
    println!(
        "{} {writes} {failed} {began} {}",
        calls as f64 / start.elapsed().as_secs_f64(),
        epoch_ns()
    );
}

/// The processes the collector starts are its heirs: the probe names every fd such a
/// process first uses (it may have inherited it from the collector). A collector does not
/// start the workloads it watches, so the workloads are started by a launcher process
/// started before any driver: not the collector's descendants, as in a deployment.
struct Launcher {
    child: std::process::Child,
    input: std::process::ChildStdin,
    output: std::io::BufReader<std::process::ChildStdout>,
}

static LAUNCHER: std::sync::Mutex<Option<Launcher>> = std::sync::Mutex::new(None);

/// Starts the launcher (before any driver).
fn start_launcher() {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env("SYSFLOW_BENCH_LAUNCHER", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("launcher");
    let input = child.stdin.take().unwrap();
    let output = std::io::BufReader::new(child.stdout.take().unwrap());
    *LAUNCHER.lock().unwrap() = Some(Launcher {
        child,
        input,
        output,
    });
}

/// Ends the launcher: its input closes, it exits.
fn stop_launcher() {
    if let Some(l) = LAUNCHER.lock().unwrap().take() {
        drop(l.input);
        let mut child = l.child;
        let _ = child.wait();
    }
}

/// Launcher side: runs each command line it reads (tab-separated; leading `KEY=VALUE`
/// words are its environment) and answers with the length of its stdout, a newline and
/// the stdout.
fn launcher() {
    use std::io::{BufRead, Write};
    let stdin = std::io::stdin();
    let mut out = std::io::stdout();
    for line in stdin.lock().lines() {
        let line = line.unwrap();
        let mut words = line.split('\t').peekable();
        let mut cmd_env = Vec::new();
        while let Some(w) = words.next_if(|w| w.contains('=')) {
            cmd_env.push(w.split_once('=').unwrap());
        }
        let prog = words.next().expect("a program");
        let res = Command::new(prog)
            .args(words)
            .envs(cmd_env)
            .stderr(Stdio::inherit())
            .output()
            .expect("run");
        writeln!(out, "{}", res.stdout.len()).unwrap();
        out.write_all(&res.stdout).unwrap();
        out.flush().unwrap();
    }
}

/// Runs a command through the launcher; returns its stdout.
fn launch(words: &[&str]) -> String {
    use std::io::{BufRead, Read, Write};
    let mut guard = LAUNCHER.lock().unwrap();
    let l = guard.as_mut().expect("start_launcher() first");
    writeln!(l.input, "{}", words.join("\t")).unwrap();
    l.input.flush().unwrap();
    let mut len = String::new();
    l.output.read_line(&mut len).unwrap();
    let mut buf = vec![0; len.trim().parse().unwrap()];
    l.output.read_exact(&mut buf).unwrap();
    String::from_utf8_lossy(&buf).into_owned()
}

/// What one workload run did.
struct Work {
    /// Syscalls per second.
    rate: f64,
    /// Writes that wrote their byte.
    writes: u64,
    /// When it began and ended (ns since the epoch).
    span: (i64, i64),
}

/// Runs the workload through the launcher.
fn child(rate: u64, secs: u64, writes_per_file: u64) -> Work {
    let exe = std::env::current_exe().unwrap();
    let env = format!("SYSFLOW_BENCH_WORKLOAD={rate}:{secs}:{writes_per_file}");
    let out = launch(&[&env, exe.to_str().unwrap()]);
    let v: Vec<&str> = out.split_whitespace().collect();
    let [rate, writes, failed, began, ended] = v[..] else {
        panic!("workload output {out:?}");
    };
    if failed != "0" {
        println!("   (the workload's opens and writes: {failed} failed)");
    }
    Work {
        rate: rate.parse().unwrap(),
        writes: writes.parse().unwrap(),
        span: (began.parse().unwrap(), ended.parse().unwrap()),
    }
}

/// What the `.sf` files say of the workload's files.
struct Filed {
    /// FileFlows on the workload's files.
    flows: u64,
    /// Their write operations and bytes.
    writes: i64,
    bytes: i64,
    /// The first flow's start and the last flow's end (ns since the epoch).
    span: (i64, i64),
}

/// What the `.sf` files under [`OUT_DIR`] say of the workload's files.
fn filed_writes() -> Filed {
    let mut files = std::collections::HashMap::new();
    let mut flows = Vec::new();
    for path in sysflow::avro::sf_files_in(std::path::Path::new(OUT_DIR)).unwrap() {
        for rec in sysflow::avro::SfReader::open(&path).unwrap() {
            match rec.unwrap() {
                sysflow::model::Record::File(f) => {
                    files.insert(f.oid, f.path);
                }
                sysflow::model::Record::FileFlow(f) => flows.push(f),
                _ => {}
            }
        }
    }
    let mut n = Filed {
        flows: 0,
        writes: 0,
        bytes: 0,
        span: (i64::MAX, i64::MIN),
    };
    let mut dangling = (0, 0);
    for f in flows {
        match files.get(&f.file_oid) {
            None => {
                dangling.0 += 1;
                dangling.1 += f.num_w_send_ops;
            }
            Some(p) if p.starts_with(WORK_DIR) => {
                n.flows += 1;
                n.writes += f.num_w_send_ops;
                n.bytes += f.num_w_send_bytes;
                n.span = (n.span.0.min(f.ts), n.span.1.max(f.end_ts));
            }
            Some(_) => {}
        }
    }
    if dangling.0 > 0 {
        println!(
            "   ({} FileFlows, {} writes, name a file no File record of the output describes)",
            dangling.0, dangling.1
        );
    }
    n
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
    // named, so that a profiler can tell the collector's thread from the workloads
    let thread = std::thread::Builder::new()
        .name("sf-driver".into())
        .spawn(move || {
            if let Some(c) = cpu {
                pin_to(c);
            }
            driver.run()
        })
        .expect("spawn the driver thread");
    // The workload starts once the probe is attached and the snapshot read: loading the
    // probe takes over a second here (its verification), more on a busy machine, so a
    // fixed wait could start the workload before the capture and miss its first files
    // with no loss to count.
    let thread = wait_capturing(&exit, thread);
    Running { exit, thread }
}

/// Waits until the driver captures (at most 60 s) and gives the run's thread back; a run
/// that ended first panics with its error.
fn wait_capturing(
    exit: &sysflow::ExitHandle,
    thread: std::thread::JoinHandle<sysflow::Result<RunSummary>>,
) -> std::thread::JoinHandle<sysflow::Result<RunSummary>> {
    let t0 = Instant::now();
    while !exit.wait_capturing(Duration::from_millis(100)) {
        if thread.is_finished() {
            panic!("the driver ended before capturing: {:?}", thread.join());
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "the driver did not start capturing within 60 s"
        );
    }
    thread
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
    println!("   collector on CPU 1, 3 s per rate, files on tmpfs; zero losses means every loss");
    println!("   counter at zero and every write of the workload in the .sf file's FileFlows");
    // the worst case (every file written once: two of three syscalls ship a record and
    // name a file) and files written 8 times (counted in the kernel)
    for (writes_per_file, rates) in [
        (
            1u64,
            [300_000u64, 600_000, 900_000, 1_200_000, 1_500_000, 0],
        ),
        (8, [600_000, 1_200_000, 1_500_000, 1_800_000, 2_100_000, 0]),
    ] {
        println!("   open + {writes_per_file} x write(1 byte) + close:");
        let alone = child(0, 3, writes_per_file).rate;
        println!("   the workload alone, not captured, as fast as it goes: {alone:.0} syscalls/s");
        let mut best = (0.0f64, 0.0f64);
        for rate in rates {
            let _ = std::fs::remove_dir_all(OUT_DIR);
            let r = start_driver(Some(1));
            let cpu0 = self_cpu_s();
            let work = child(rate, 3, writes_per_file);
            let (achieved, writes) = (work.rate, work.writes);
            let cpu_run = self_cpu_s() - cpu0;
            // the collector catches up with what the ring holds before it stops
            let s = stop_driver(r);
            let cpu = self_cpu_s() - cpu0;
            eprintln!(
                "   (CPU while the workload ran {cpu_run:.2} s, at the stop {:.2} s)",
                cpu - cpu_run
            );
            let per_m = cpu / (s.events as f64 / 1e6);
            let Filed {
                flows,
                writes: filed,
                bytes,
                span,
            } = filed_writes();
            let label = if rate == 0 {
                "max".to_string()
            } else {
                rate.to_string()
            };
            let l = lost(&s);
            let exact = filed == writes as i64 && bytes == writes as i64;
            println!(
                "   paced {label:>9}: {achieved:>10.0} syscalls/s, {:>9} events, {cpu:.2} CPU-s \
                 ({per_m:.2} CPU-s per million events), losses {l:?}, {writes} writes made, \
                 {filed} filed in {flows} FileFlows{}",
                s.events,
                if exact { "" } else { " (MISMATCH)" }
            );
            if !exact && flows > 0 {
                // where the missing files are: before the first flow or after the last
                println!(
                    "   (the flows span {:.1} ms after the workload began to {:.1} ms before it \
                     ended)",
                    (span.0 - work.span.0) as f64 / 1e6,
                    (work.span.1 - span.1) as f64 / 1e6
                );
            }
            if l.is_empty() && exact && achieved > best.0 {
                best = (achieved, per_m);
            }
        }
        println!(
            "   highest rate with zero losses: {:.0} captured syscalls/s at {:.2} CPU-s per \
             million events (goal >= 1,500,000)",
            best.0, best.1
        );
    }
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
    // through the launcher: the collector does not start what it watches
    let text = launch(&[
        "taskset",
        "-c",
        "1",
        "redis-benchmark",
        "-p",
        REDIS_PORT,
        "-t",
        "set,get",
        "-n",
        "200000",
        "-c",
        "50",
        "-q",
        "--csv",
    ]);
    let rps = |name: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(&format!("\"{name}\"")))
            .and_then(|l| l.split(',').nth(1))
            .and_then(|v| v.trim_matches('"').parse().ok())
            .unwrap_or_else(|| panic!("no {name} in redis-benchmark output: {text}"))
    };
    (rps("SET"), rps("GET"))
}

/// The floor of a syscall probe here: `bpf/floor.bpf.c` (built by `build.rs`), a
/// `tp_btf/sys_exit` program that returns at once, the collector's own attach point.
// generated code: lints do not apply
#[allow(dead_code, clippy::all, clippy::undocumented_unsafe_blocks)]
mod floor {
    include!(concat!(env!("OUT_DIR"), "/floor.skel.rs"));
}

/// One redis round with the do-nothing `sys_exit` program attached.
fn redis_round_at_floor() -> (f64, f64) {
    use libbpf_rs::skel::{OpenSkel, Skel, SkelBuilder};
    let mut storage = std::mem::MaybeUninit::uninit();
    let open = floor::FloorSkelBuilder::default()
        .open(&mut storage)
        .expect("open the floor probe");
    let mut skel = open.load().expect("load the floor probe");
    skel.attach().expect("attach the floor probe");
    redis_round()
}

/// A child process killed (and reaped) when this is dropped.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The three arms of the redis part, in the order of the first round.
const REDIS_ARMS: [&str; 3] = ["without", "floor", "collector"];

fn redis() {
    println!("\n2. redis-benchmark (SET/GET, 200k requests, 50 clients), server on CPU 0,");
    println!(
        "   client on CPU 1, {REDIS_ROUNDS} interleaved rounds of three arms: without a probe,"
    );
    println!("   with the floor (a sys_exit program that returns at once: what the attach point");
    println!("   alone costs), with the collector at its default configuration");
    if !have("redis-server") || !have("redis-benchmark") {
        println!(
            "   SKIP: redis-server / redis-benchmark missing (scripts/setup.sh installs them)"
        );
        return;
    }
    let server = Command::new("taskset")
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
    // killed however the part ends (a round that panics too)
    let _server = KillOnDrop(server);
    std::thread::sleep(Duration::from_millis(500));
    let _ = redis_round(); // warm-up
    // req/s per arm: [arm][round] = (SET, GET)
    let mut rounds: [Vec<(f64, f64)>; 3] = Default::default();
    let mut summaries = Vec::new();
    for round in 0..REDIS_ROUNDS {
        // the arms' order turns each round: no arm always follows the same one
        for k in 0..REDIS_ARMS.len() {
            let arm = (round + k) % REDIS_ARMS.len();
            let rps = match arm {
                0 => redis_round(),
                1 => redis_round_at_floor(),
                _ => {
                    let r = start_driver(None);
                    let rps = redis_round();
                    summaries.push(stop_driver(r));
                    rps
                }
            };
            rounds[arm].push(rps);
        }
    }
    for (name, pick) in [("SET", 0), ("GET", 1)] {
        let rps = |arm: usize| -> Vec<f64> {
            rounds[arm]
                .iter()
                .map(|r| if pick == 0 { r.0 } else { r.1 })
                .collect()
        };
        let (without, floor, collector) = (rps(0), rps(1), rps(2));
        // each round's change against the same round without a probe: the spread shows
        // how much the machine itself moved
        let paired = |arm: &[f64]| -> (f64, f64) {
            let mut d: Vec<f64> = arm
                .iter()
                .zip(&without)
                .map(|(c, b)| (c / b - 1.0) * 100.0)
                .collect();
            d.sort_by(f64::total_cmp);
            (d[0], d[d.len() - 1])
        };
        let (fl, cl) = (paired(&floor), paired(&collector));
        let (b, f, c) = (median(without), median(floor), median(collector));
        println!(
            "   {name}: {b:>8.0} req/s without; floor {f:>8.0} ({:+.1}%, rounds {:+.1}% to \
             {:+.1}%); collector {c:>8.0} ({:+.1}% (goal >= -5%), rounds {:+.1}% to {:+.1}%); \
             collector against the floor {:+.1}%",
            (f / b - 1.0) * 100.0,
            fl.0,
            fl.1,
            (c / b - 1.0) * 100.0,
            cl.0,
            cl.1,
            (c / f - 1.0) * 100.0,
        );
    }
    let events: u64 = summaries.iter().map(|s| s.events).sum();
    let l: Vec<_> = summaries.iter().flat_map(lost).collect();
    println!("   collector: {events} events over the rounds, losses {l:?}");
}

fn steady() {
    // SYSFLOW_BENCH_WPF=<n>: one run of that shape; otherwise one write per file (the
    // worst case), then eight (the writes counted in the kernel), CPU only: its process
    // is no longer fresh
    match std::env::var("SYSFLOW_BENCH_WPF") {
        Ok(v) => steady_run(v.parse().unwrap(), true),
        Err(_) => {
            steady_run(1, true);
            steady_run(8, false);
        }
    }
}

fn steady_run(wpf: u64, with_rss: bool) {
    // SYSFLOW_BENCH_PIN=1: the collector on CPU 1 (the workload is on CPU 0)
    let pin = std::env::var("SYSFLOW_BENCH_PIN").is_ok_and(|v| v == "1");
    println!(
        "\n3. RSS and CPU at a steady 100k events/s (10 s), {wpf} write(s) per file, collector {}",
        if pin { "on CPU 1" } else { "unpinned" }
    );
    let before = rss_bytes();
    let pin = pin.then_some(1);
    let r = start_driver(pin);
    let started = rss_bytes();
    let cpu0 = self_cpu_s();
    let t = Instant::now();
    // the CPU of the steady window, 2 s to 9 s into the workload: without the start of
    // the output file (its first 256 KiB compressed at level 12), the probe's load and the
    // final drain
    let sampler = std::thread::spawn(move || {
        let (mut peak, mut window) = (0, (None, None));
        while t.elapsed() < Duration::from_secs(11) {
            peak = peak.max(rss_bytes());
            let e = t.elapsed();
            if e >= Duration::from_secs(2) && window.0.is_none() {
                window.0 = Some((e, self_cpu_s()));
            }
            if e >= Duration::from_secs(9) && window.1.is_none() {
                window.1 = Some((e, self_cpu_s()));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        (peak, window)
    });
    let rate = std::env::var("SYSFLOW_BENCH_RATE").map_or(100_000, |v| v.parse().unwrap());
    let achieved = child(rate, 10, wpf).rate;
    // the ring's pages stay resident once written: read once, at the end (smaps is slow)
    let bpf = bpf_map_rss_bytes();
    let (peak, window) = sampler.join().unwrap();
    let s = stop_driver(r);
    let cpu = self_cpu_s() - cpu0;
    // the default ring: 8 MiB per online CPU, at least 16 MiB, a power of two
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let ring = (8u64 << 20)
        .saturating_mul(cpus)
        .next_power_of_two()
        .max(16 << 20);
    // the syscalls captured over the 10 s (an event each, as Falco counts events; with
    // several writes per file the driver delivers fewer events: the kernel counts writes)
    let calls = achieved * 10.0;
    println!(
        "   workload {achieved:.0} syscalls/s; collector {cpu:.2} CPU-s = {:.2} CPU-s per \
         million syscalls captured (goal <= 0.5); {} events delivered ({:.2} CPU-s per \
         million), {} ring records, losses {:?}",
        cpu / (calls / 1e6),
        s.events,
        cpu / (s.events as f64 / 1e6),
        s.live.kernel_events,
        lost(&s)
    );
    if let (Some((t0, c0)), Some((t1, c1))) = window {
        let calls = achieved * (t1 - t0).as_secs_f64();
        println!(
            "   steady window ({:.1} s to {:.1} s): {:.2} CPU-s per million syscalls captured",
            t0.as_secs_f64(),
            t1.as_secs_f64(),
            (c1 - c0) / (calls / 1e6)
        );
    }
    if !with_rss {
        return;
    }
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
        let v: Vec<u64> = w.split(':').map(|v| v.parse().unwrap()).collect();
        workload(v[0], v[1], v[2]);
        return;
    }
    if std::env::var_os("SYSFLOW_BENCH_LAUNCHER").is_some() {
        launcher();
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
    start_launcher();
    let parts: [(&str, fn()); 3] = [("steady", steady), ("ceiling", ceiling), ("redis", redis)];
    for (name, part) in parts {
        if only.as_deref().is_none_or(|o| o == name) {
            let _ = std::fs::remove_dir_all(OUT_DIR);
            part();
        }
    }
    stop_launcher();
    let _ = std::fs::remove_dir_all(OUT_DIR);
    let _ = std::fs::remove_dir_all(WORK_DIR);
}
