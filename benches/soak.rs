//! Soak: 30 minutes (`SOAK_SECONDS`, default 1800) of live capture while real processes
//! churn (fork/exec of `/bin/true`, temp files opened, written, closed and unlinked, TCP
//! connects to a local listener, short-lived threads), with the collector's RSS sampled
//! every 10 s; prints the RSS after the warm-up (`SOAK_WARMUP`, default 600 s: two
//! rotations) against the end, the events per second, and the state's table sizes at the
//! end against the host's threads. Needs root and BTF. Run: `cargo bench --bench soak`.
//! Output rotation: `SOAK_ROTATE` seconds (default 300, the collector's default).

#[path = "../tests/common/soak.rs"]
mod soak;

use std::time::Duration;

fn env(k: &str, default: u64) -> u64 {
    std::env::var(k)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn main() {
    if soak::worker_entry() {
        return;
    }
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary without
    // it, and a 30-minute benchmark has no place in the test suite.
    if !std::env::args().any(|a| a == "--bench") {
        println!("benchmark: run it with `cargo bench --bench soak`");
        return;
    }
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIP: the soak bench needs root and BTF");
        return;
    }
    let secs = env("SOAK_SECONDS", 1800);
    let warm = env("SOAK_WARMUP", 600).min(secs / 2) as f64;
    let rotate = env("SOAK_ROTATE", 300) as u32;
    let r = soak::run(Duration::from_secs(secs), Duration::from_secs(10), rotate);
    for s in &r.samples {
        println!(
            "t={:>7.1}s rss={:>7} KiB records={}",
            s.t, s.rss_kib, s.records
        );
    }
    let base = r.rss_at(warm);
    let end = r.samples.last().unwrap().rss_kib;
    println!(
        "soak: {} s, rotation {rotate} s, {} workers, {} churn iterations, {} events \
         ({:.0}/s), {} kernel drops",
        r.elapsed.as_secs(),
        r.workers,
        r.iterations,
        r.summary.events,
        r.events_per_s(),
        r.summary.source_drops
    );
    println!(
        "soak: RSS start {} KiB, after warm-up ({warm} s) {base} KiB, peak after warm-up {} \
         KiB, end {end} KiB, growth after warm-up {:+} KiB",
        r.samples[0].rss_kib,
        r.max_rss_from(warm),
        end as i64 - base as i64
    );
    println!(
        "soak: anonymous RSS after warm-up {} KiB, peak after warm-up {} KiB, end {} KiB",
        r.anon_at(warm),
        r.max_anon_from(warm),
        r.samples.last().unwrap().anon_kib
    );
    println!(
        "soak: state tables at end {:?}; host threads/processes {:?}",
        r.summary.state_tables, r.host_at_end
    );
}
