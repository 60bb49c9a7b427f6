//! The soak workload and its measurement, shared by `tests/soak.rs` (2 minutes, CI) and
//! `benches/soak.rs` (30 minutes): a live `SysFlowDriver` in this process while real
//! processes churn (fork/exec of `/bin/true`, open/write/close/unlink of temp files, TCP
//! connects to a local listener, short-lived threads), with this process's RSS sampled.
//!
//! The collector never captures its own process, so the churn runs in child processes:
//! this executable re-run with `SOAK_WORKER=<seconds>` (the caller's `main` or test entry
//! calls [`worker_entry`] first). A new worker starts every few seconds, so processes with
//! threads, open fds and flows also end all the time.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use sysflow::{SysFlowConfig, SysFlowDriver};

/// How long each worker process lives.
pub const WORKER_LIFE: Duration = Duration::from_secs(4);

/// Runs the churn if this process is a worker (`SOAK_WORKER` set): returns true, and the
/// caller exits. A worker churns for its life, then prints its iteration count.
pub fn worker_entry() -> bool {
    let Ok(secs) = std::env::var("SOAK_WORKER") else {
        return false;
    };
    let life = Duration::from_secs_f64(secs.parse().unwrap_or(4.0));
    let dir = std::env::var("SOAK_DIR").unwrap_or_else(|_| "/tmp".into());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(mut s) = s else { continue };
            let mut b = [0u8; 64];
            let _ = s.read(&mut b);
        }
    });
    let start = Instant::now();
    let mut n = 0u64;
    let pid = std::process::id();
    while start.elapsed() < life {
        // a process: fork + exec + exit
        let _ = Command::new("/bin/true").status();
        // a file: create, write, close, unlink (a new name each time)
        let p = format!("{dir}/soak-{pid}-{n}");
        if let Ok(mut f) = std::fs::File::create(&p) {
            let _ = f.write_all(&[b'x'; 512]);
        }
        let _ = std::fs::remove_file(&p);
        // a TCP connection
        if let Ok(mut s) = TcpStream::connect(addr) {
            let _ = s.write_all(b"hello");
        }
        // a short-lived thread that opens and reads a file
        let _ = std::thread::spawn(|| {
            let mut b = [0u8; 64];
            if let Ok(mut f) = std::fs::File::open("/proc/self/stat") {
                let _ = f.read(&mut b);
            }
        })
        .join();
        n += 1;
        // keep the rate moderate (the machine is shared)
        std::thread::sleep(Duration::from_millis(3));
    }
    println!("\nITERATIONS={n}");
    true
}

/// This process's resident set, in KiB: (`VmRSS`, `RssAnon`). The rest of `VmRSS` is
/// file-backed: the executable's pages as code paths first run, and the probe's ring
/// buffer mapping (a fixed size, touched once as the ring first wraps).
pub fn rss_kib() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let field = |k: &str| {
        s.lines()
            .find_map(|l| l.strip_prefix(k))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("RssAnon:"))
}

/// Threads on the host (`/proc/*/task/*`) and processes.
pub fn host_threads() -> (usize, usize) {
    let (mut threads, mut procs) = (0, 0);
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if e.file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
            .is_none()
        {
            continue;
        }
        if let Ok(t) = std::fs::read_dir(e.path().join("task")) {
            procs += 1;
            threads += t.count();
        }
    }
    (threads, procs)
}

/// One RSS sample.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    /// Seconds since the driver started.
    pub t: f64,
    /// RSS in KiB.
    pub rss_kib: u64,
    /// Anonymous RSS (heap, stacks) in KiB.
    pub anon_kib: u64,
    /// Records the callback received so far.
    pub records: u64,
}

/// What a soak run measured.
#[derive(Debug)]
pub struct SoakResult {
    /// RSS samples, every `sample_every`.
    pub samples: Vec<Sample>,
    /// The driver's run summary.
    pub summary: sysflow::RunSummary,
    /// Worker processes started.
    pub workers: u64,
    /// Churn iterations done by all workers.
    pub iterations: u64,
    /// Host threads and processes at the end (before the driver stopped).
    pub host_at_end: (usize, usize),
    /// Run length.
    pub elapsed: Duration,
}

impl SoakResult {
    /// The largest RSS (KiB) among samples taken at or after `t` seconds.
    pub fn max_rss_from(&self, t: f64) -> u64 {
        self.samples
            .iter()
            .filter(|s| s.t >= t)
            .map(|s| s.rss_kib)
            .max()
            .unwrap_or(0)
    }

    /// The RSS (KiB) of the first sample at or after `t` seconds.
    pub fn rss_at(&self, t: f64) -> u64 {
        self.samples
            .iter()
            .find(|s| s.t >= t)
            .map_or(0, |s| s.rss_kib)
    }

    /// The anonymous RSS (KiB) of the first sample at or after `t` seconds.
    pub fn anon_at(&self, t: f64) -> u64 {
        self.samples
            .iter()
            .find(|s| s.t >= t)
            .map_or(0, |s| s.anon_kib)
    }

    /// The largest anonymous RSS (KiB) among samples taken at or after `t` seconds.
    pub fn max_anon_from(&self, t: f64) -> u64 {
        self.samples
            .iter()
            .filter(|s| s.t >= t)
            .map(|s| s.anon_kib)
            .max()
            .unwrap_or(0)
    }

    /// Events per second over the run.
    pub fn events_per_s(&self) -> f64 {
        self.summary.events as f64 / self.elapsed.as_secs_f64()
    }
}

/// Runs a live driver for `duration` while workers churn; samples RSS every
/// `sample_every`. `rotate_interval` is the driver's output rotation (table pruning).
pub fn run(duration: Duration, sample_every: Duration, rotate_interval: u32) -> SoakResult {
    let work = tempfile::tempdir_in("/tmp").unwrap();
    let records = Arc::new(AtomicU64::new(0));
    let counter = records.clone();
    let config = SysFlowConfig {
        callback: Some(Box::new(move |_v| {
            counter.fetch_add(1, Ordering::Relaxed);
        })),
        enable_process_flow: false,
        rotate_interval,
        env_overrides: false,
        ..Default::default()
    };
    let mut driver = SysFlowDriver::new(config).unwrap();
    let exit = driver.exit_handle();
    let start = Instant::now();
    let runner = std::thread::spawn(move || driver.run());
    let mut samples = Vec::new();
    let mut next_sample = Duration::ZERO;
    let mut worker: Option<Child> = None;
    let (mut workers, mut iterations) = (0u64, 0u64);
    let reap = |c: Child, iterations: &mut u64| {
        let out = c.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        if let Some(n) = text
            .lines()
            .find_map(|l| l.strip_prefix("ITERATIONS="))
            .and_then(|n| n.trim().parse::<u64>().ok())
        {
            *iterations += n;
        }
    };
    while start.elapsed() < duration {
        if worker
            .as_mut()
            .is_none_or(|c| c.try_wait().unwrap().is_some())
        {
            if let Some(c) = worker.take() {
                reap(c, &mut iterations);
            }
            let left = duration.saturating_sub(start.elapsed());
            let life = WORKER_LIFE.min(left).max(Duration::from_millis(200));
            worker = Some(
                Command::new(std::env::current_exe().unwrap())
                    // a test binary runs its test (which calls `worker_entry`) with the
                    // output shown; a bench's own `main` ignores the arguments
                    .args(["--nocapture", "--test-threads=1"])
                    .env("SOAK_WORKER", life.as_secs_f64().to_string())
                    .env("SOAK_DIR", work.path())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::inherit())
                    .spawn()
                    .unwrap(),
            );
            workers += 1;
        }
        if start.elapsed() >= next_sample {
            let (rss, anon) = rss_kib();
            samples.push(Sample {
                t: start.elapsed().as_secs_f64(),
                rss_kib: rss,
                anon_kib: anon,
                records: records.load(Ordering::Relaxed),
            });
            next_sample += sample_every;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if let Some(c) = worker.take() {
        reap(c, &mut iterations);
    }
    let (rss, anon) = rss_kib();
    samples.push(Sample {
        t: start.elapsed().as_secs_f64(),
        rss_kib: rss,
        anon_kib: anon,
        records: records.load(Ordering::Relaxed),
    });
    // settle: the last worker's exit reaches the state, its process is deleted
    std::thread::sleep(Duration::from_secs(3));
    let host_at_end = host_threads();
    exit.exit();
    let summary = runner.join().unwrap().expect("live run");
    SoakResult {
        samples,
        summary,
        workers,
        iterations,
        host_at_end,
        elapsed: start.elapsed(),
    }
}
