//! Decode and encode throughput of SysFlow Avro files, side by side with fastavro (the
//! reader the official Python SysFlow tools use), on the reference corpus.
//!
//! Run: `cargo bench --bench avro`. fastavro is taken from `$SYSFLOW_PYTHON` or the
//! project's `.venv/bin/python` (made by `scripts/setup.sh`); without it only our figures
//! are printed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use sysflow::avro::{AvroCodec, AvroFileWriter, SfReader};
use sysflow::model::Record;

const MIN_TIME: Duration = Duration::from_secs(2);

fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/sf-collector-tests");
    let mut v = Vec::new();
    for sub in std::fs::read_dir(&dir).expect("reference corpus (../shared) is needed") {
        for f in std::fs::read_dir(sub.unwrap().path()).unwrap() {
            let p = f.unwrap().path();
            if p.extension().is_some_and(|e| e == "sf") {
                v.push(p);
            }
        }
    }
    v.sort();
    v
}

/// Runs `f` (which processes `per_round` records) until MIN_TIME passed; best round wins.
fn rate(per_round: u64, mut f: impl FnMut()) -> f64 {
    let mut best = f64::MAX;
    let start = Instant::now();
    let mut rounds = 0;
    while start.elapsed() < MIN_TIME || rounds < 3 {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
        rounds += 1;
    }
    per_round as f64 / best
}

const FASTAVRO: &str = r#"
import sys, io, json, time, fastavro
files = [open(p, 'rb').read() for p in sys.argv[1:]]
def best(fn, n):
    b = float('inf'); t0 = time.perf_counter(); r = 0
    while time.perf_counter() - t0 < 2.0 or r < 3:
        t = time.perf_counter(); fn(); b = min(b, time.perf_counter() - t); r += 1
    return n / b
recs = []
schemas = []
for data in files:
    rd = fastavro.reader(io.BytesIO(data))
    schemas.append(rd.writer_schema)
    recs.append(list(rd))
n = sum(len(r) for r in recs)
def dec():
    for data in files:
        for _ in fastavro.reader(io.BytesIO(data)):
            pass
def enc():
    for s, r in zip(schemas, recs):
        fastavro.writer(io.BytesIO(), s, r, codec='deflate')
print(json.dumps({"records": n, "decode": best(dec, n), "encode": best(enc, n),
                  "version": fastavro.__version__}))
"#;

fn python() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SYSFLOW_PYTHON") {
        return Some(p.into());
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    p.exists().then_some(p)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary without
    // it, and a benchmark has no place in the test suite.
    if !std::env::args().any(|a| a == "--bench") {
        println!("benchmark: run it with `cargo bench --bench avro`");
        return;
    }
    let files = corpus();
    let bytes: Vec<Vec<u8>> = files.iter().map(|p| std::fs::read(p).unwrap()).collect();
    let decoded: Vec<Vec<Record>> = bytes
        .iter()
        .map(|b| {
            SfReader::new(&b[..], "bench")
                .unwrap()
                .map(Result::unwrap)
                .collect()
        })
        .collect();
    let n: u64 = decoded.iter().map(|d| d.len() as u64).sum();

    let decode = rate(n, || {
        for b in &bytes {
            let c = SfReader::new(&b[..], "bench").unwrap().count();
            std::hint::black_box(c);
        }
    });
    let encode = rate(n, || {
        for d in &decoded {
            let mut w = AvroFileWriter::new(Vec::new(), AvroCodec::default()).unwrap();
            for r in d {
                w.append(r).unwrap();
            }
            std::hint::black_box(w.finish().unwrap());
        }
    });

    println!(
        "SysFlow Avro throughput over {} reference files, {n} records",
        files.len()
    );
    println!(
        "{:<10} {:>16} {:>16} {:>8}",
        "", "sysflow (rec/s)", "fastavro (rec/s)", "ratio"
    );
    let fast = python().and_then(|py| {
        let out = Command::new(&py)
            .arg("-c")
            .arg(FASTAVRO)
            .args(&files)
            .output()
            .ok()?;
        if !out.status.success() {
            eprintln!(
                "fastavro run failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            return None;
        }
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        assert_eq!(v["records"].as_u64(), Some(n), "both read the same records");
        Some((
            v["decode"].as_f64()?,
            v["encode"].as_f64()?,
            v["version"].to_string(),
        ))
    });
    match fast {
        Some((fd, fe, ver)) => {
            println!(
                "{:<10} {:>16.0} {:>16.0} {:>7.1}x",
                "decode",
                decode,
                fd,
                decode / fd
            );
            println!(
                "{:<10} {:>16.0} {:>16.0} {:>7.1}x",
                "encode",
                encode,
                fe,
                encode / fe
            );
            println!("(fastavro {ver}; encode = deflate codec on both sides)");
        }
        None => {
            println!("{:<10} {:>16.0}", "decode", decode);
            println!("{:<10} {:>16.0}", "encode", encode);
            println!("(fastavro not found: run scripts/setup.sh or set SYSFLOW_PYTHON)");
        }
    }
}
