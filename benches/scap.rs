//! Capture conversion throughput, side by side with `sysdig -r` (Debian package `sysdig`,
//! which only reads and parses), both pinned to one CPU; and SysFlow output size against the
//! reference collector's files for the same traces.
//!
//! A large capture (>= 1M events) is built from a reference trace by repeating its event
//! blocks with shifted timestamps. Run: `cargo bench --bench scap`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;
use sysflow::{FileReadMode, SysFlowConfig, SysFlowDriver};

const TARGET_EVENTS: u64 = 1_050_000;
const SOURCE: &str = "mpm-worker/full_capture.scap";

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/sf-collector-tests")
}

fn is_event_block(t: u32) -> bool {
    matches!(
        t,
        0x204 | 0x216 | 0x221 | 0x208 | 0x217 | 0x222 | 0x8010_ABCD
    )
}

/// Repeats the event blocks of `src` until `TARGET_EVENTS`, each copy shifted in time by
/// the trace's span plus one second. Returns the path and the number of events.
fn build_big_capture(src: &Path, out: &Path) -> u64 {
    let data = std::fs::read(src).expect("reference trace");
    let mut meta = Vec::new();
    let mut events: Vec<(usize, usize, usize)> = Vec::new(); // (start, len, ts offset)
    let mut off = 0;
    let (mut first_ts, mut last_ts) = (u64::MAX, 0u64);
    while off + 8 <= data.len() {
        let t = u32::from_le_bytes(data[off..off + 4].try_into().unwrap());
        let len = u32::from_le_bytes(data[off + 4..off + 8].try_into().unwrap()) as usize;
        if is_event_block(t) {
            let flags = if matches!(t, 0x208 | 0x217 | 0x222) {
                4
            } else {
                0
            };
            let ts_at = off + 8 + 2 + flags;
            let ts = u64::from_le_bytes(data[ts_at..ts_at + 8].try_into().unwrap());
            if ts > 0 {
                first_ts = first_ts.min(ts);
                last_ts = last_ts.max(ts);
            }
            events.push((off, len, ts_at - off));
        } else if events.is_empty() {
            meta.extend_from_slice(&data[off..off + len]);
        }
        off += len;
    }
    let span = last_ts - first_ts + 1_000_000_000;
    let copies = TARGET_EVENTS.div_ceil(events.len() as u64);
    let mut big = meta;
    big.reserve(events.iter().map(|e| e.1).sum::<usize>() * copies as usize);
    for c in 0..copies {
        for &(start, len, ts_off) in &events {
            let at = big.len();
            big.extend_from_slice(&data[start..start + len]);
            let ts = u64::from_le_bytes(big[at + ts_off..at + ts_off + 8].try_into().unwrap());
            if ts > 0 {
                let shifted = ts + c * span;
                big[at + ts_off..at + ts_off + 8].copy_from_slice(&shifted.to_le_bytes());
            }
        }
    }
    std::fs::write(out, &big).unwrap();
    events.len() as u64 * copies
}

fn pin_to_cpu0() {
    let mut set = nix::sched::CpuSet::new();
    set.set(0).unwrap();
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set).unwrap();
}

fn convert(scap: &Path, out: &Path) -> f64 {
    convert_filtered(scap, out, None)
}

/// The filter of the reference deployments (sf-deployments' helm chart).
const CONTAINER_FILTER: &str =
    "container.type!=host and container.name!=sfprocessor and container.name!=sfcollector";

fn convert_filtered(scap: &Path, out: &Path, filter: Option<&str>) -> f64 {
    let config = SysFlowConfig {
        falco_filter: filter.map(str::to_owned),
        file_overwrite: true,
        scap_input_path: Some(scap.to_owned()),
        file_path: Some(out.to_owned()),
        exporter_id: "bench".into(),
        enable_process_flow: false,
        file_only: false,
        file_read_mode: FileReadMode::All,
        env_overrides: false,
        ..Default::default()
    };
    // (a file to replace would have new() read the capture's first blocks ahead: the
    // timed conversion starts from no output, as the reference tool's does)
    let _ = std::fs::remove_file(out);
    let t = Instant::now();
    SysFlowDriver::new(config).unwrap().run().unwrap();
    t.elapsed().as_secs_f64()
}

fn sysdig(scap: &Path, filter: Option<&str>) -> Option<f64> {
    let mut cmd = Command::new("taskset");
    cmd.args(["-c", "0", "sysdig", "-r"]).arg(scap);
    if let Some(f) = filter {
        cmd.arg(f);
    }
    let t = Instant::now();
    let st = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()?;
    st.success().then(|| t.elapsed().as_secs_f64())
}

fn best(n: usize, mut f: impl FnMut() -> Option<f64>) -> Option<f64> {
    (0..n).filter_map(|_| f()).reduce(f64::min)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary without
    // it, and a benchmark has no place in the test suite.
    if !std::env::args().any(|a| a == "--bench") {
        println!("benchmark: run it with `cargo bench --bench scap`");
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    std::fs::create_dir_all(&dir).unwrap();
    let big = dir.join("big.scap");
    let events = build_big_capture(&corpus().join(SOURCE), &big);
    let size = std::fs::metadata(&big).unwrap().len();
    println!(
        "capture: {events} events, {:.1} MB ({SOURCE} repeated with shifted timestamps)",
        size as f64 / 1e6
    );
    pin_to_cpu0();
    let out = dir.join("big.sf");
    let ours = best(3, || Some(convert(&big, &out))).unwrap();
    println!(
        "{:<44} {:>8.3} s {:>10.0} events/s",
        "sysflow: full conversion to SysFlow (.sf)",
        ours,
        events as f64 / ours
    );
    match (
        best(3, || sysdig(&big, None)),
        best(3, || sysdig(&big, Some("evt.num<0"))),
    ) {
        (Some(print), Some(parse)) => {
            println!(
                "{:<44} {:>8.3} s {:>10.0} events/s",
                "sysdig -r (read, parse, print)",
                print,
                events as f64 / print
            );
            println!(
                "{:<44} {:>8.3} s {:>10.0} events/s",
                "sysdig -r \"evt.num<0\" (filter; skips most parsing)",
                parse,
                events as f64 / parse
            );
            println!(
                "ratio sysflow/sysdig: {:.2} (print), {:.2} (parse only); target <= 0.50",
                ours / print,
                ours / parse
            );
        }
        _ => println!("sysdig not found: install the Debian package sysdig (scripts/setup.sh)"),
    }

    // falcoFilter: our conversion with a filter next to `sysdig -r FILE FILTER` with the
    // same filter (sysdig prints the matching events, to /dev/null)
    println!("\nwith a filter (our conversion / sysdig -r FILE FILTER, both on CPU 0):");
    println!(
        "{:<90} {:>8} {:>8} {:>6}",
        "filter", "sysflow", "sysdig", "ratio"
    );
    for filter in [None, Some("proc.name=httpd"), Some(CONTAINER_FILTER)] {
        let ours = best(3, || Some(convert_filtered(&big, &out, filter))).unwrap();
        let theirs = best(3, || sysdig(&big, Some(filter.unwrap_or("evt.num>0"))));
        let label = filter.unwrap_or("(none; sysdig: evt.num>0, which every event matches)");
        match theirs {
            Some(t) => println!("{label:<90} {ours:>7.3}s {t:>7.3}s {:>6.2}", ours / t),
            None => println!("{label:<90} {ours:>7.3}s  (sysdig not found)"),
        }
    }

    println!(
        "\nSysFlow output size, reference settings, per trace (same header file name length):"
    );
    println!(
        "{:<36} {:>10} {:>10} {:>7}",
        "trace", "reference", "sysflow", "ratio"
    );
    let (mut tr, mut to) = (0u64, 0u64);
    let mut traces: Vec<PathBuf> = std::fs::read_dir(corpus())
        .unwrap()
        .flat_map(|d| std::fs::read_dir(d.unwrap().path()).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "scap"))
        .collect();
    traces.sort();
    for scap in traces {
        let reference = std::fs::metadata(scap.with_extension("sf")).unwrap().len();
        // Same header `filename` length as the reference file, so only the records differ.
        let ref_name = match sysflow::avro::SfReader::open(scap.with_extension("sf"))
            .unwrap()
            .next()
        {
            Some(Ok(sysflow::model::Record::Header(h))) => h.filename,
            _ => String::new(),
        };
        let base = dir.join("s");
        let pad = ref_name
            .len()
            .saturating_sub(base.as_os_str().len() + 3)
            .max(1);
        let out = dir.join(format!("s{}.sf", "x".repeat(pad)));
        convert(&scap, &out);
        let ours = std::fs::metadata(&out).unwrap().len();
        tr += reference;
        to += ours;
        let name = format!(
            "{}/{}",
            scap.parent()
                .unwrap()
                .file_name()
                .unwrap()
                .to_string_lossy(),
            scap.file_stem().unwrap().to_string_lossy()
        );
        println!(
            "{name:<36} {reference:>10} {ours:>10} {:>7.3}",
            ours as f64 / reference as f64
        );
    }
    println!(
        "{:<36} {tr:>10} {to:>10} {:>7.3}",
        "total",
        to as f64 / tr as f64
    );
}
