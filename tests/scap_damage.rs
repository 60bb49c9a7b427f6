//! Damaged captures: every reference capture cut at many offsets and with flipped bytes.
//! The conversion must end with a parsing error naming the byte offset (or succeed, for a
//! cut exactly between blocks), deliver everything derivable from the events before the
//! damage, and never panic or hang.

mod common;

use std::path::Path;
use sysflow::avro::SfReader;
use sysflow::export::FileLosses;
use sysflow::model::Record;
use sysflow::{ErrorCode, FileReadMode, SysFlowConfig, SysFlowDriver};

fn config(scap: &Path, out: &Path) -> SysFlowConfig {
    SysFlowConfig {
        scap_input_path: Some(scap.to_owned()),
        file_path: Some(out.to_owned()),
        file_overwrite: true, // each case converts again into the same file
        exporter_id: "tests".into(),
        enable_process_flow: false,
        file_only: false,
        file_read_mode: FileReadMode::All,
        env_overrides: false,
        ..Default::default()
    }
}

fn read(path: &Path) -> Vec<Record> {
    SfReader::open(path).unwrap().map(Result::unwrap).collect()
}

/// The records of a run's output; none when a failed run removed the file it created
/// before writing any record (its previous content, if any, was removed by the run).
fn read_after(path: &Path, result: &sysflow::Result<sysflow::RunSummary>) -> Vec<Record> {
    if path.exists() {
        read(path)
    } else {
        assert!(result.is_err(), "a successful run keeps its file");
        Vec::new()
    }
}

/// Events (not flows: those end differently when the capture stops early) of a run.
fn events(recs: &[Record]) -> Vec<String> {
    recs.iter()
        .filter(|r| matches!(r, Record::ProcessEvent(_) | Record::FileEvent(_)))
        .map(|r| format!("{r:?}"))
        .collect()
}

#[test]
fn truncated_and_corrupted_captures_fail_cleanly() {
    let Some(scaps) = common::corpus_files("scap") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut cuts = 0;
    let mut errors = 0;
    for scap in scaps.iter().filter(|p| {
        // The three long full captures are covered by their cold-start siblings.
        !p.to_string_lossy().contains("full_capture")
    }) {
        let data = std::fs::read(scap).unwrap();
        let full_out = dir.path().join("full.sf");
        SysFlowDriver::new(config(scap, &full_out))
            .unwrap()
            .run()
            .unwrap();
        let full_events = events(&read(&full_out));

        let n = 24;
        for k in 1..n {
            let at = data.len() * k / n;
            let cut = dir.path().join("cut.scap");
            std::fs::write(&cut, &data[..at]).unwrap();
            let out = dir.path().join("cut.sf");
            // a fresh output each time (one to replace would have new() read the cut
            // capture ahead, and fail there)
            let _ = std::fs::remove_file(&out);
            let mut driver = SysFlowDriver::new(config(&cut, &out)).unwrap();
            let result = driver.run();
            cuts += 1;
            // The damage is a loss: counted in the summary (kept after the failure) and
            // in the output's own losses, which a consumer of the file alone reads.
            let summary = driver.summary().expect("a summary once run() returned");
            let damaged = u64::from(result.is_err());
            assert_eq!(
                summary.input_errors,
                damaged,
                "{} cut at {at}",
                scap.display()
            );
            if let Some(losses) = FileLosses::of_file(&out).ok().flatten() {
                assert!(losses.complete, "{losses:?}");
                assert_eq!(losses.get("input_errors"), damaged, "{losses:?}");
            } else {
                assert!(
                    result.is_err() && !out.exists(),
                    "a kept file has its losses"
                );
            }
            if let Err(e) = &result {
                errors += 1;
                assert_eq!(e.code(), ErrorCode::EventParsingError, "{e}");
                let msg = e.to_string();
                assert!(msg.contains("cut.scap") && msg.contains("offset"), "{msg}");
                let records = read_after(&out, &result);
                assert!(
                    summary.sinks.records >= records.len() as u64,
                    "the summary counts what was delivered before the failure"
                );
            }
            // Everything before the damage was delivered: the events are a prefix of the
            // full conversion's events.
            let got = events(&read_after(&out, &result));
            assert!(got.len() <= full_events.len());
            assert_eq!(
                got[..],
                full_events[..got.len()],
                "{} cut at {at}",
                scap.display()
            );
        }
        for k in 1..12 {
            let at = data.len() * k / 12;
            let mut bad = data.clone();
            for b in &mut bad[at..(at + 8).min(data.len())] {
                *b ^= 0xa5;
            }
            let flip = dir.path().join("flip.scap");
            std::fs::write(&flip, &bad).unwrap();
            let out = dir.path().join("flip.sf");
            let _ = std::fs::remove_file(&out);
            // Any outcome but a panic or a hang is acceptable for flipped bytes; the output
            // must still be a valid SysFlow file.
            let result = SysFlowDriver::new(config(&flip, &out)).unwrap().run();
            let _ = read_after(&out, &result);
        }
    }
    assert!(
        errors > cuts / 2,
        "most cuts must be reported ({errors} of {cuts})"
    );
}

#[test]
fn not_a_capture_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("bogus.scap");
    std::fs::write(&bogus, b"this is not a capture file at all").unwrap();
    let out = dir.path().join("o.sf");
    let e = SysFlowDriver::new(config(&bogus, &out))
        .unwrap()
        .run()
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::EventParsingError);
    assert!(e.to_string().contains("bogus.scap"), "{e}");
    let missing = dir.path().join("missing.scap");
    let e = SysFlowDriver::new(config(&missing, &out))
        .unwrap()
        .run()
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::ErrorReadingFileSystem, "{e}");
}

/// A failed conversion removes the output file it created when no record went into it
/// (no header-only `.sf` is left behind); a file it replaced, or one holding records, is
/// kept.
#[test]
fn a_failed_conversion_leaves_no_empty_file_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("bogus.scap");
    std::fs::write(&bogus, b"this is not a capture file at all").unwrap();
    let missing = dir.path().join("missing.scap");
    for input in [&bogus, &missing] {
        let out = dir.path().join("o.sf");
        let c = SysFlowConfig {
            file_overwrite: false,
            ..config(input, &out)
        };
        let mut driver = SysFlowDriver::new(c).unwrap();
        assert!(out.is_file(), "new() creates the output");
        driver.run().unwrap_err();
        assert!(
            !out.exists(),
            "{}: empty output left behind",
            input.display()
        );
    }
    // a file that was there before is not replaced by a capture that cannot be read:
    // new() reads it ahead and fails
    let kept = dir.path().join("kept.sf");
    std::fs::write(&kept, b"old").unwrap();
    let e = SysFlowDriver::new(config(&bogus, &kept)).unwrap_err();
    assert_eq!(e.code(), ErrorCode::EventParsingError, "{e}");
    assert_eq!(std::fs::read(&kept).unwrap(), b"old");
    // nor by the capture itself
    let e = SysFlowDriver::new(config(&kept, &kept)).unwrap_err();
    assert!(e.to_string().contains("destroy the input"), "{e}");
    assert_eq!(std::fs::read(&kept).unwrap(), b"old");
    // a failure after records keeps them
    let Some(scap) = common::reference("setuid/setuid.scap") else {
        return;
    };
    let data = std::fs::read(&scap).unwrap();
    let cut = dir.path().join("cut.scap");
    // inside the last event block (the metadata blocks come first)
    std::fs::write(&cut, &data[..data.len() - 20]).unwrap();
    let out = dir.path().join("cut.sf");
    let c = SysFlowConfig {
        file_overwrite: false,
        ..config(&cut, &out)
    };
    SysFlowDriver::new(c).unwrap().run().unwrap_err();
    assert!(
        read(&out).len() > 1,
        "the records before the damage are kept"
    );
}

#[test]
fn unwritable_output_fails_in_new() {
    let Some(scap) = common::reference("setuid/setuid.scap") else {
        return;
    };
    let e = SysFlowDriver::new(config(&scap, Path::new("/nonexistent/dir/out.sf"))).unwrap_err();
    assert_eq!(e.code(), ErrorCode::Io, "{e}");
    assert!(e.to_string().contains("/nonexistent/dir/out.sf"), "{e}");
}

/// CASE-07 of `../shared/cases`: a clone exit whose result (the child) is its caller.
/// Damaged input: skipped and counted, never a panic.
#[test]
fn a_clone_naming_its_caller_as_child_is_counted_and_skipped() {
    let case = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/cases/clone_res_is_caller.scap");
    if !case.exists() {
        common::skip(&format!("{} not found", case.display()));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("case07.sf");
    let summary = SysFlowDriver::new(config(&case, &out))
        .unwrap()
        .run()
        .expect("a clear result, not a panic");
    assert_eq!(summary.invalid_events, 1);
    let recs: Vec<Record> = SfReader::open(&out).unwrap().map(Result::unwrap).collect();
    assert!(
        !recs.iter().any(|r| matches!(r, Record::Process(_))),
        "no process made of it: {recs:?}"
    );
}

/// Rewrites the event type of chosen events of a capture: `(n, type)` gives the `n`th
/// event (from 0) the type `type`. The type field sits at a fixed place in an event
/// block: block type and length (8 bytes), cpu (2), flags (4, in flag-carrying blocks),
/// then the event header `ts` (8), `tid` (8), `len` (4), `type` (2).
fn with_event_types(scap: &Path, changes: &[(usize, u16)]) -> Vec<u8> {
    use sysflow::source::scap::ScapReader;
    let mut data = std::fs::read(scap).unwrap();
    let mut r = ScapReader::open(scap).unwrap();
    assert!(!r.is_gzip(), "{}: a plain capture", scap.display());
    let mut n = 0;
    while let Some(ev) = r.next_event().unwrap() {
        if let Some(&(_, ty)) = changes.iter().find(|(i, _)| *i == n) {
            let at = ev.file_offset as usize + 8 + 2 + if ev.flags.is_some() { 4 } else { 0 };
            // the header is where it is said to be
            assert_eq!(data[at..at + 8], ev.ts.to_le_bytes());
            assert_eq!(data[at + 8..at + 16], ev.tid.to_le_bytes());
            assert_eq!(data[at + 20..at + 22], ev.event_type.to_le_bytes());
            data[at + 20..at + 22].copy_from_slice(&ty.to_le_bytes());
        }
        n += 1;
    }
    data
}

/// The `n`s of `count` exit events whose type can be rewritten without changing how
/// their parameters are laid out (not a large-payload type), spread over the capture.
fn plain_exit_events(scap: &Path, count: usize) -> Vec<usize> {
    use sysflow::source::scap::{ScapReader, is_large_payload};
    let mut r = ScapReader::open(scap).unwrap();
    let mut all = Vec::new();
    let mut n = 0;
    while let Some(ev) = r.next_event().unwrap() {
        let t = ev.event_type;
        if t % 2 == 1 && !is_large_payload(t) && sysflow::filter::event_name(t).is_some() {
            all.push(n);
        }
        n += 1;
    }
    assert!(all.len() >= count);
    (0..count)
        .map(|k| all[all.len() * (2 * k + 1) / (2 * count)])
        .collect()
}

/// An event whose type the scap event table does not name (past its end, or an unused
/// slot) is no silent loss: it counts in `invalid_events` — `RunSummary`, the C stats and
/// the file's `sysflow.losses` header — once per event.
#[test]
fn events_of_unknown_types_are_counted() {
    use sysflow::export::FileLosses;
    let Some(scap) = common::reference("setuid/setuid.scap") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let convert = |input: &Path, name: &str| {
        let out = dir.path().join(name);
        let s = SysFlowDriver::new(config(input, &out))
            .unwrap()
            .run()
            .unwrap();
        let l = FileLosses::of_file(&out).unwrap().unwrap();
        (s, l)
    };
    let (s, l) = convert(&scap, "orig.sf");
    assert_eq!((s.invalid_events, l.get("invalid_events")), (0, 0));

    // one past the table's end, one far past it, one unused slot (17: PPME_PROCEXIT_X, NA)
    let at = plain_exit_events(&scap, 3);
    let types = [430u16, 0xfffe, 17];
    assert!(
        types
            .iter()
            .all(|&t| sysflow::filter::event_name(t).is_none())
    );
    let changes: Vec<(usize, u16)> = at.iter().copied().zip(types).collect();
    let bad = dir.path().join("unknown.scap");
    std::fs::write(&bad, with_event_types(&scap, &changes)).unwrap();
    let (s, l) = convert(&bad, "unknown.sf");
    assert_eq!(s.invalid_events, 3, "{s:?}");
    assert!(s.losses().contains(&("invalid_events", 3)));
    assert_eq!(l.get("invalid_events"), 3, "{l:?}");
    assert_eq!(
        s.events,
        convert(&scap, "again.sf").0.events,
        "no event lost"
    );

    // the C API's stats say the same
    let c_out = std::ffi::CString::new(dir.path().join("c.sf").to_str().unwrap()).unwrap();
    let c_in = std::ffi::CString::new(bad.to_str().unwrap()).unwrap();
    use sysflow::ffi::*;
    let mut cfg = std::mem::MaybeUninit::<sysflow_config>::uninit();
    // SAFETY: `cfg` has room for a whole `sysflow_config`, which init fills.
    let st = unsafe {
        sysflow_config_init_sized(cfg.as_mut_ptr(), std::mem::size_of::<sysflow_config>())
    };
    assert_eq!(st, sysflow_status::OK);
    // SAFETY: initialised just above.
    let mut cfg = unsafe { cfg.assume_init() };
    cfg.scap_input_path = c_in.as_ptr();
    cfg.file_path = c_out.as_ptr();
    cfg.env_overrides = false;
    let mut driver = std::ptr::null_mut();
    // SAFETY: an initialised config whose strings outlive the call; `driver` is writable.
    let st = unsafe { sysflow_driver_new(&cfg, &mut driver) };
    assert_eq!(st, sysflow_status::OK);
    // SAFETY: a live driver from sysflow_driver_new.
    assert_eq!(unsafe { sysflow_driver_run(driver) }, sysflow_status::OK);
    // SAFETY: all-zero is a valid `sysflow_stats` (plain integers).
    let mut stats: sysflow_stats = unsafe { std::mem::zeroed() };
    stats.struct_size = std::mem::size_of::<sysflow_stats>();
    // SAFETY: a live driver; `stats` is a whole, writable `sysflow_stats`.
    let st = unsafe { sysflow_driver_stats(driver, &mut stats) };
    assert_eq!(st, sysflow_status::OK);
    // SAFETY: a live driver, freed once.
    unsafe { sysflow_driver_free(driver) };
    assert_eq!(stats.invalid_events, 3);
}

/// A concatenated capture starts a new state at each section; the invalid events counted
/// in earlier sections still count.
#[test]
fn invalid_events_of_every_section_count() {
    let case = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/cases/clone_res_is_caller.scap");
    if !case.exists() {
        common::skip(&format!("{} not found", case.display()));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let twice = dir.path().join("twice.scap");
    let data = std::fs::read(&case).unwrap();
    std::fs::write(&twice, [data.as_slice(), data.as_slice()].concat()).unwrap();
    let summary = SysFlowDriver::new(config(&twice, &dir.path().join("o.sf")))
        .unwrap()
        .run()
        .unwrap();
    assert_eq!(summary.invalid_events, 2);
    // read to its end: nothing stopped it
    assert_eq!(summary.input_stopped, 0);
}

/// Asks `run`'s driver to stop and waits until it has ended, at most 5 s.
fn stop_within_5_s<T>(exit: &sysflow::ExitHandle, run: &std::thread::JoinHandle<T>) {
    let t0 = std::time::Instant::now();
    exit.exit();
    while !run.is_finished() {
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(5),
            "the run did not stop"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// A conversion reading a FIFO whose writer stops writing but keeps it open ends on
/// `ExitHandle::exit` (the read waiting for the writer gives up), with the records of
/// every event read until then and no damage counted; and one whose FIFO never had a
/// writer ends on it too, with an output of no record.
#[test]
fn a_conversion_waiting_on_a_silent_fifo_stops_on_request() {
    use std::io::Write;
    use std::time::Duration;
    let Some(scap) = common::reference("files/files.scap") else {
        return;
    };
    let data = std::fs::read(&scap).unwrap();
    // most of a capture's first part is its process list: the events are in the rest
    let at = data.len() * 19 / 20;
    let dir = tempfile::tempdir().unwrap();
    // what the same bytes give as a regular file: an error at the cut, after its events
    let cut = dir.path().join("cut.scap");
    std::fs::write(&cut, &data[..at]).unwrap();
    let cut_out = dir.path().join("cut.sf");
    assert!(
        SysFlowDriver::new(config(&cut, &cut_out))
            .unwrap()
            .run()
            .is_err()
    );
    let cut_events = events(&read(&cut_out));
    assert!(!cut_events.is_empty());

    let fifo = dir.path().join("capture.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let (wrote, written) = std::sync::mpsc::channel::<()>();
    let writer = {
        let (fifo, data) = (fifo.clone(), data[..at].to_vec());
        std::thread::spawn(move || {
            let mut w = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
            w.write_all(&data).unwrap();
            // until the run has taken every byte out of the pipe
            loop {
                let mut queued: libc::c_int = 0;
                // SAFETY: FIONREAD stores an int through the pointer, to a live local.
                let rc = unsafe {
                    libc::ioctl(
                        std::os::fd::AsRawFd::as_raw_fd(&w),
                        libc::FIONREAD,
                        &mut queued,
                    )
                };
                assert_eq!(rc, 0, "FIONREAD: {}", std::io::Error::last_os_error());
                if queued == 0 {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            wrote.send(()).unwrap();
            // silent, and open, until the test is done
            let _ = released.recv_timeout(Duration::from_secs(30));
        })
    };
    let out = dir.path().join("fifo.sf");
    let mut driver = SysFlowDriver::new(config(&fifo, &out)).unwrap();
    let exit = driver.exit_handle();
    let run = std::thread::spawn(move || {
        let r = driver.run();
        (r, driver.summary())
    });
    written.recv_timeout(Duration::from_secs(20)).unwrap();
    // the pipe is empty: what the run still buffers is converted meanwhile (fewer events
    // than the 4096 after which a conversion looks at the stop flag), then it waits on
    // the writer
    std::thread::sleep(Duration::from_millis(500));
    assert!(!run.is_finished(), "the run waits for the silent writer");
    stop_within_5_s(&exit, &run);
    let (result, summary) = run.join().unwrap();
    result.expect("a stop is a clean end");
    let summary = summary.expect("a summary");
    assert_eq!(summary.input_errors, 0);
    // stopped before the capture's end: counted, and said in the file
    assert_eq!(summary.input_stopped, 1);
    let losses = sysflow::export::FileLosses::of_file(&out).unwrap().unwrap();
    assert_eq!(losses.get("input_stopped"), 1, "{losses:?}");
    assert_eq!(events(&read(&out)), cut_events);
    release.send(()).unwrap();
    writer.join().unwrap();

    // no writer ever: the open does not wait for one, and the stop ends the read
    let lonely = dir.path().join("lonely.fifo");
    nix::unistd::mkfifo(&lonely, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let out = dir.path().join("lonely.sf");
    let mut driver = SysFlowDriver::new(config(&lonely, &out)).unwrap();
    let exit = driver.exit_handle();
    let run = std::thread::spawn(move || driver.run());
    std::thread::sleep(Duration::from_millis(300));
    assert!(!run.is_finished());
    stop_within_5_s(&exit, &run);
    let summary = run.join().unwrap().expect("a clean end");
    assert_eq!((summary.events, summary.input_stopped), (0, 1));
    assert!(read(&out).is_empty());
}
