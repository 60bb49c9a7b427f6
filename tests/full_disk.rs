//! The file sink on a full disk: a small tmpfs (needs root to mount it; skipped loudly
//! otherwise, a failure with `SYSFLOW_REQUIRE_ALL=1`). The capture goes on, every record
//! is either in the file or counted as dropped, and the file stays a valid Avro file.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use sysflow::avro::{AvroCodec, SfReader};
use sysflow::export::{FanOut, FileLosses, FileSink, Links};
use sysflow::model::{Oid, OpFlags, ProcessEvent, Record, SfHeader};

use common::logs::{LINES, install_logger};

/// A tmpfs of the given size mounted on a temporary directory, unmounted on drop (also
/// when the test fails).
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Self> {
        if !nix::unistd::geteuid().is_root() {
            common::skip("full-disk tests mount a tmpfs: run them as root");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o"])
            .arg(format!("size={size},mode=0700"))
            .arg("tmpfs")
            .arg(dir.path())
            .output()
            .expect("run mount");
        if !out.status.success() {
            common::skip(&format!(
                "cannot mount a tmpfs: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
            return None;
        }
        Some(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills the file system, leaving about `keep` bytes free; returns the filler.
    fn fill(&self, keep: u64) -> PathBuf {
        let st = nix::sys::statvfs::statvfs(self.path()).unwrap();
        let free = st.blocks_available() * st.fragment_size();
        let filler = self.path().join("filler");
        let data = vec![0u8; free.saturating_sub(keep) as usize];
        // a write past the end is refused at the page that does not fit: fine
        let _ = std::fs::write(&filler, data);
        filler
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let st = Command::new("umount").arg(self.dir.path()).status();
        if !st.is_ok_and(|s| s.success()) {
            eprintln!("warning: could not unmount {}", self.dir.path().display());
        }
    }
}

/// A record carrying its sequence number (in `tid`), about 230 bytes encoded.
fn event(i: i64) -> Record {
    Record::ProcessEvent(ProcessEvent {
        proc_oid: Oid {
            create_ts: 1,
            hpid: 42,
        },
        ts: 1_700_000_000_000_000_000 + i,
        tid: i,
        op_flags: OpFlags::empty(),
        args: vec!["x".repeat(200)],
        ret: 0,
    })
}

fn seq(r: &Record) -> i64 {
    match r {
        Record::ProcessEvent(e) => e.tid,
        other => panic!("unexpected record {other:?}"),
    }
}

/// Every record of a file, read with our reader, checked against the `apache_avro`
/// crate's reader (same count, no error).
fn read_back(path: &Path) -> Vec<Record> {
    let recs: Vec<Record> = SfReader::open(path)
        .unwrap()
        .collect::<sysflow::Result<_>>()
        .unwrap_or_else(|e| panic!("{} does not read back: {e}", path.display()));
    let f = std::fs::File::open(path).unwrap();
    let theirs = apache_avro::Reader::new(f).unwrap();
    let mut n = 0;
    for v in theirs {
        v.unwrap_or_else(|e| panic!("apache_avro on {}: {e}", path.display()));
        n += 1;
    }
    assert_eq!(n, recs.len(), "{}", path.display());
    if let Some(sysprint) = venv_sysprint() {
        let out = Command::new(sysprint)
            .args(["-o", "json"])
            .arg(path)
            .env("TZ", "UTC")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "official sysprint on {}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    recs
}

/// The official `sysprint` if the project's venv has it (no skip message otherwise: the
/// interop tests report it).
fn venv_sysprint() -> Option<PathBuf> {
    let p = common::package_root().join(".venv/bin/sysprint");
    p.exists().then_some(p)
}

/// Checks a file's records: the header first, then events in increasing order.
fn check_order(recs: &[Record]) -> Vec<i64> {
    assert!(
        matches!(recs.first(), Some(Record::Header(_))),
        "the header comes first"
    );
    let s: Vec<i64> = recs[1..].iter().map(seq).collect();
    assert!(s.windows(2).all(|w| w[0] < w[1]), "records in order");
    s
}

#[test]
fn a_full_disk_drops_whole_blocks_counted_and_writing_resumes_when_space_returns() {
    let Some(fs) = Tmpfs::mount("256k") else {
        return;
    };
    let path = fs.path().join("out.sf");
    let mut out = FanOut::new(SfHeader {
        exporter: "full".into(),
        ..Default::default()
    });
    out.set_file(FileSink::create(&path, AvroCodec::Null, None).unwrap());
    // the header and a few blocks fit, then the disk is full
    let filler = fs.fill(120 * 1024);
    out.start_at(1_700_000_000).unwrap();
    let mut i = 0;
    while out.stats().dropped == 0 {
        out.emit(&event(i), Links::default()).unwrap();
        i += 1;
        assert!(i < 100_000, "the disk never filled up");
    }
    // full: everything goes on without an error, counted
    for _ in 0..3000 {
        out.emit(&event(i), Links::default()).unwrap();
        i += 1;
    }
    let failed = out.file().unwrap().failed_blocks();
    assert!(failed >= 2, "{failed}");
    let dropped_while_full = out.stats().dropped;
    // space comes back: later blocks are written
    std::fs::remove_file(&filler).unwrap();
    let back_from = i;
    for _ in 0..500 {
        out.emit(&event(i), Links::default()).unwrap();
        i += 1;
    }
    assert!(
        out.take_reset_request(),
        "entities are written again after the loss"
    );
    out.set_period_losses(1_700_000_100, &[("ring_drops", 5)]);
    out.finish().unwrap();
    let stats = out.stats();
    let failed = out.file().unwrap().failed_blocks();
    drop(out);

    let recs = read_back(&path);
    let s = check_order(&recs);
    // exactly: what is in the file plus what was counted dropped is what was produced
    assert_eq!(stats.records, 1 + i as u64);
    assert_eq!(
        recs.len() as u64 + stats.dropped,
        stats.records,
        "{stats:?}"
    );
    assert_eq!(
        stats.dropped, dropped_while_full,
        "nothing lost once space returned"
    );
    assert!(stats.dropped > 0);
    assert!(
        s.iter().filter(|&&x| x >= back_from).count() as i64 == i - back_from,
        "every record after space came back is in the file"
    );
    let l = FileLosses::of_file(&path).unwrap().expect("losses entry");
    assert!(l.complete && !l.truncated, "{l:?}");
    assert_eq!(l.get("file_drops"), stats.dropped);
    assert_eq!(l.get("file_failed_blocks"), failed);
    assert_eq!(l.get("file_failed_opens"), 0);
    assert_eq!(l.get("ring_drops"), 5);
    assert_eq!(l.period_end, Some(1_700_000_100));
}

#[test]
fn rotation_on_a_full_disk_waits_for_space_and_the_header_is_never_lost() {
    let Some(fs) = Tmpfs::mount("256k") else {
        return;
    };
    let prefix = fs.path().join("out.sf");
    let mut out = FanOut::new(SfHeader {
        exporter: "rot".into(),
        ..Default::default()
    });
    out.set_file(FileSink::create(&prefix, AvroCodec::Null, Some(1000)).unwrap());
    out.start().unwrap();
    let mut i = 0;
    for _ in 0..100 {
        out.emit(&event(i), Links::default()).unwrap();
        i += 1;
    }
    out.flush().unwrap();
    // not even an Avro header fits any more
    let filler = fs.fill(0);
    out.rotate(1300).unwrap();
    assert!(out.file().unwrap().is_waiting_for_space());
    for _ in 0..500 {
        out.emit(&event(i), Links::default()).unwrap();
        i += 1;
    }
    out.flush().unwrap();
    assert!(out.file().unwrap().is_waiting_for_space());
    // a whole period without a file; the driver's counts of it go to the next file
    out.set_period_losses(1600, &[("ring_drops", 7), ("filtered_events", 2)]);
    out.rotate(1600).unwrap();
    for _ in 0..500 {
        out.emit(&event(i), Links::default()).unwrap();
        i += 1;
    }
    let dropped_full = out.stats().dropped;
    assert_eq!(
        dropped_full, 1001,
        "the records of the waiting periods, and the header of the one that ended"
    );
    // space returns: the next flush creates the file, header first
    std::fs::remove_file(&filler).unwrap();
    out.flush().unwrap();
    assert!(!out.file().unwrap().is_waiting_for_space());
    let resumed = i;
    for _ in 0..500 {
        out.emit(&event(i), Links::default()).unwrap();
        i += 1;
    }
    out.set_period_losses(1700, &[("ring_drops", 1)]);
    out.finish().unwrap();
    let stats = out.stats();
    drop(out);

    assert!(
        !fs.path().join("out.sf.1300").exists(),
        "no partial file left"
    );
    let first = read_back(&fs.path().join("out.sf.1000"));
    assert_eq!(check_order(&first), (0..100).collect::<Vec<_>>());
    let last_path = fs.path().join("out.sf.1600");
    let last = read_back(&last_path);
    let Record::Header(h) = &last[0] else {
        unreachable!()
    };
    assert_eq!(h.filename, last_path.display().to_string());
    assert_eq!(h.exporter, "rot");
    assert_eq!(check_order(&last), (resumed..i).collect::<Vec<_>>());
    // headers: 3 periods, the 1300 one dropped
    assert_eq!(stats.records, 3 + i as u64);
    assert_eq!(stats.dropped, 1001);
    assert_eq!(
        (first.len() + last.len()) as u64 + stats.dropped,
        stats.records
    );
    let l = FileLosses::of_file(&last_path).unwrap().unwrap();
    assert!(l.complete);
    assert_eq!(l.get("file_drops"), 500, "dropped in its own period: {l:?}");
    assert_eq!(
        l.get("unfiled_drops"),
        501,
        "the 1300 period, with its header"
    );
    assert!(l.get("file_failed_opens") >= 1, "{l:?}");
    // its own period's 1 ring drop and the fileless period's 7 (and 2 filtered)
    assert_eq!(
        (l.get("ring_drops"), l.get("filtered_events")),
        (8, 2),
        "{l:?}"
    );
    assert_eq!((l.period_start, l.period_end), (Some(1600), Some(1700)));
    let l = FileLosses::of_file(&fs.path().join("out.sf.1000"))
        .unwrap()
        .unwrap();
    assert_eq!((l.period_start, l.period_end), (Some(1000), Some(1300)));
    assert_eq!(l.get("file_drops"), 0);
}

/// Every reference capture converted, one after the other, into the same small file
/// system (rotating every 10 s of capture time): the first ones fit, then blocks and
/// whole files fail. Every run completes, and every record produced is in a file or
/// counted as dropped.
#[test]
fn conversions_onto_a_full_disk_run_to_the_end_and_count_their_losses() {
    let Some(traces) = common::corpus_files("scap") else {
        return;
    };
    let Some(fs) = Tmpfs::mount("256k") else {
        return;
    };
    install_logger();
    let (mut produced, mut delivered, mut dropped, mut files) = (0, 0, 0, 0);
    for scap in traces {
        let dir = scap
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy();
        let name = format!("{dir}-{}", scap.file_stem().unwrap().to_string_lossy());
        let prefix = fs.path().join(format!("{name}.sf"));
        let config = sysflow::SysFlowConfig {
            scap_input_path: Some(scap.clone()),
            file_path: Some(prefix),
            file_codec: AvroCodec::Null,
            rotate_offline: true,
            rotate_interval: 10,
            enable_stats: true,
            app_name: format!("full-disk-{name}"),
            env_overrides: false,
            ..Default::default()
        };
        let mut driver = sysflow::SysFlowDriver::new(config).unwrap();
        let summary = driver
            .run()
            .unwrap_or_else(|e| panic!("{}: a full disk stops the run: {e}", scap.display()));
        let mut in_files = 0;
        let mut reported = 0;
        for f in std::fs::read_dir(fs.path()).unwrap() {
            let p = f.unwrap().path();
            let file_name = p.file_name().unwrap().to_string_lossy().into_owned();
            if !file_name.starts_with(&format!("{name}.sf.")) {
                continue;
            }
            files += 1;
            let recs = read_back(&p);
            if let Some(r) = recs.first() {
                assert!(matches!(r, Record::Header(_)), "{}", p.display());
            }
            in_files += recs.len() as u64;
            let l = FileLosses::of_file(&p).unwrap().unwrap();
            assert!(l.complete, "{}: {l:?}", p.display());
            assert_eq!(l.get("sink_drops"), 0);
            // (a capture's container table, dumped with time 0, starts no period: each
            // starts at an event's time)
            let (start, end) = (l.period_start.unwrap(), l.period_end.unwrap());
            assert!(start > 1_000_000_000 && end >= start, "{l:?}");
            reported += l.get("file_drops") + l.get("unfiled_drops");
        }
        assert_eq!(
            in_files + summary.sinks.dropped,
            summary.sinks.records,
            "{}: {summary:?}",
            scap.display()
        );
        assert!(reported <= summary.sinks.dropped);
        // each period's stats line (at its rotation, and at the end) counts the records
        // its file holds: those read back
        let written: u64 = LINES
            .lock()
            .iter()
            .filter(|(_, t, _)| *t == format!("full-disk-{name}"))
            .filter_map(|(_, _, m)| m.split_once("Num Records Written: "))
            .map(|(_, n)| n.parse::<u64>().unwrap())
            .sum();
        assert_eq!(written, in_files, "{}: {summary:?}", scap.display());
        eprintln!(
            "{name}: {} records, {in_files} in files, {} dropped",
            summary.sinks.records, summary.sinks.dropped
        );
        produced += summary.sinks.records;
        delivered += in_files;
        dropped += summary.sinks.dropped;
    }
    eprintln!("{produced} records: {delivered} written in {files} files, {dropped} dropped");
    assert!(dropped > 0, "the captures must overflow the file system");
    assert!(delivered > 0);
}

/// The file sink's warnings about a full disk go out like every other diagnostic of the
/// driver: under its `app_name` (which C programs see as the target of
/// `sysflow_set_log_callback`'s lines), never under a module's name, and a few per run,
/// not one per failed block.
#[test]
fn full_disk_warnings_are_logged_under_the_app_name() {
    let Some(scap) = common::reference("client-server/tcp-client-server.scap") else {
        return;
    };
    let Some(fs) = Tmpfs::mount("256k") else {
        return;
    };
    install_logger();
    // not even the output's Avro header fits
    let _filler = fs.fill(0);
    let config = sysflow::SysFlowConfig {
        scap_input_path: Some(scap),
        file_path: Some(fs.path().join("out.sf")),
        file_codec: AvroCodec::Null,
        app_name: "full-disk-app".into(),
        enable_stats: true,
        env_overrides: false,
        ..Default::default()
    };
    let summary = sysflow::SysFlowDriver::new(config).unwrap().run().unwrap();
    assert!(summary.sinks.dropped > 0, "{summary:?}");
    let lines = LINES.lock().clone();
    // the run's last stats lines come after the output's close: its drops, those of the
    // last flush included, are the run's; the records written are those delivered less
    // those dropped (once, records the disk dropped were counted written)
    let last = |prefix: &str| {
        lines
            .iter()
            .rev()
            .find(|(_, t, m)| t == "full-disk-app" && m.starts_with(prefix))
            .map(|(_, _, m)| m.clone())
            .unwrap_or_else(|| panic!("no {prefix:?} line: {lines:#?}"))
    };
    let losses = last("Events: ");
    let want = format!("sink_drops={} ", summary.sinks.dropped);
    assert!(losses.contains(&want), "{want:?} in {losses:?}");
    let records = last("Container Table: ");
    let want = format!(
        "Num Records Written: {}",
        summary.sinks.records - summary.sinks.dropped
    );
    assert!(records.ends_with(&want), "{want:?} in {records:?}");
    let ours: Vec<&str> = lines
        .iter()
        .filter(|(l, t, _)| *l == log::Level::Warn && t == "full-disk-app")
        .map(|(_, _, m)| m.as_str())
        .collect();
    assert!(
        ours.iter()
            .any(|m| m.contains("records are dropped (and counted) until space comes back")),
        "{lines:#?}"
    );
    assert!(
        ours.iter()
            .any(|m| m.contains("output ends short of space")),
        "{lines:#?}"
    );
    assert!(ours.len() <= 4, "rate-limited: {ours:#?}");
    let stray: Vec<_> = lines
        .iter()
        .filter(|(_, t, _)| t.starts_with("sysflow::export"))
        .collect();
    assert!(stray.is_empty(), "logged under a module's name: {stray:#?}");
}

/// `sysporter` converting onto a full disk reads its whole capture but cannot write every
/// record: it says the output is incomplete and ends with status 2, not 0, and the file
/// it leaves is a valid SysFlow file whose losses count what it lacks.
#[test]
fn sysporter_says_a_conversion_onto_a_full_disk_is_incomplete() {
    let Some(scap) = common::reference("mpm-event/full_capture.scap") else {
        return;
    };
    let Some(fs) = Tmpfs::mount("256k") else {
        return;
    };
    // room for the header (its schema: about 7 KB, two pages) and not for the records
    // (about 8 KB more, compressed)
    fs.fill(8 * 1024);
    let convert = |out: &Path| {
        Command::new(common::example("sysporter"))
            .arg("-r")
            .arg(&scap)
            .arg("-w")
            .arg(out)
            .env_remove("SF_K8S_API_URL")
            .env_remove("HOST_ROOT")
            .output()
            .expect("run sysporter")
    };
    let out = fs.path().join("out.sf");
    let r = convert(&out);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("sysporter: the output is incomplete: "),
        "{stderr}"
    );
    assert!(stderr.contains("sink_drops="), "{stderr}");
    // a valid SysFlow file whose losses say what it lacks: no block of records fitted
    let recs = read_back(&out);
    let l = FileLosses::of_file(&out).unwrap().unwrap();
    assert!(l.complete, "{l:?}");
    let dropped: u64 = stderr
        .split(" records (sink_drops)")
        .next()
        .and_then(|s| s.rsplit("dropped ").next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{stderr}"));
    assert_eq!(l.get("file_drops"), dropped);
    let produced = recs.len() as u64 + dropped;
    // the same conversion with room is whole, with status 0
    let roomy = tempfile::tempdir().unwrap();
    let whole = roomy.path().join("out.sf");
    let r = convert(&whole);
    assert_eq!(
        r.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    assert_eq!(read_back(&whole).len() as u64, produced);
}

/// `--overwrite` onto a full disk: the new output is written beside the old file, so a
/// disk with room for no record (or not even for the new file's header) leaves the old
/// file whole (it was emptied at the start before), no new file behind, status 2, and
/// says so.
#[test]
fn overwrite_onto_a_full_disk_keeps_the_old_file() {
    let Some(scap) = common::reference("mpm-event/full_capture.scap") else {
        return;
    };
    let Some(fs) = Tmpfs::mount("256k") else {
        return;
    };
    let out = fs.path().join("out.sf");
    let old: Vec<u8> = (0..20_000u32).flat_map(|i| i.to_le_bytes()).collect();
    // room for the new file's header and not for its records; then no room at all
    for keep in [8 * 1024, 0] {
        std::fs::write(&out, &old).unwrap();
        let filler = fs.fill(keep);
        let r = Command::new(common::example("sysporter"))
            .arg("-r")
            .arg(&scap)
            .arg("-w")
            .arg(&out)
            .arg("--overwrite")
            .env_remove("SF_K8S_API_URL")
            .env_remove("HOST_ROOT")
            .output()
            .expect("run sysporter");
        let stderr = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(2), "{keep}: {stderr}");
        assert!(
            stderr.contains(&format!("{} was left as it was", out.display())),
            "{keep}: {stderr}"
        );
        assert!(
            std::fs::read(&out).unwrap() == old,
            "{keep}: the old file changed"
        );
        let mut names: Vec<_> = std::fs::read_dir(fs.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["filler", "out.sf"], "{keep}: {stderr}");
        std::fs::remove_file(filler).unwrap();
    }
}
