//! Every `SysFlowConfig` field is honoured or refused (issue 10, item 4).
//!
//! `every_field_is_honoured_or_refused` destructures the whole config, so a new field does
//! not compile until it is added to the walk. Each field is checked here on a reference
//! capture (its effect, or `new()`'s refusal), or, for what only a live capture or a peer
//! can show, the walk names the test that checks it.
//!
//! The driver's log lines are caught by this binary's own logger, by target: each check
//! uses its own `app_name`, so checks running in parallel do not see each other's lines.

mod common;

use parking_lot::Mutex;
use std::collections::HashMap;
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use sysflow::avro::SfReader;
use sysflow::model::{Record, RecordKind};
use sysflow::{
    CollectionMode, DEFAULT_BUFFER_BYTES, FileReadMode, RunSummary, SysFlowConfig, SysFlowDriver,
    SysFlowError,
};

use common::logs::{install_logger, lines_of};

const TRACE: &str = "client-server/tcp-client-server.scap";

/// A conversion of `scap` into `<dir>/o.sf` with the reference's test settings, then
/// `tweak`.
fn base(scap: &Path, dir: &Path) -> SysFlowConfig {
    SysFlowConfig {
        scap_input_path: Some(scap.to_owned()),
        file_path: Some(dir.join("o.sf")),
        env_overrides: false,
        ..Default::default()
    }
}

struct Run {
    summary: RunSummary,
    records: Vec<Record>,
    dir: tempfile::TempDir,
}

fn convert(scap: &Path, tweak: impl FnOnce(&mut SysFlowConfig)) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let mut c = base(scap, dir.path());
    tweak(&mut c);
    let out = c.file_path.clone();
    let summary = SysFlowDriver::new(c).unwrap().run().unwrap();
    let records = match out {
        Some(p) if p.is_file() => SfReader::open(&p).unwrap().map(Result::unwrap).collect(),
        _ => Vec::new(),
    };
    Run {
        summary,
        records,
        dir,
    }
}

fn count(recs: &[Record], kind: RecordKind) -> usize {
    recs.iter().filter(|r| r.kind() == kind).count()
}

fn refused(c: SysFlowConfig) -> String {
    match SysFlowDriver::new(c) {
        Ok(_) => panic!("accepted"),
        Err(e @ (SysFlowError::InvalidConfig(_) | SysFlowError::OperationNotSupported(_))) => {
            e.to_string()
        }
        Err(e) => panic!("refused with an unexpected kind of error: {e:?}"),
    }
}

/// `new()` refuses `tweak` applied to a conversion, naming `field`.
fn refused_offline(scap: &Path, field: &str, tweak: impl FnOnce(&mut SysFlowConfig)) {
    let dir = tempfile::tempdir().unwrap();
    let mut c = base(scap, dir.path());
    tweak(&mut c);
    let e = refused(c);
    assert!(e.contains(field), "{field}: {e}");
}

#[test]
fn every_field_is_honoured_or_refused() {
    install_logger();
    let Some(scap) = common::reference(TRACE) else {
        return;
    };
    let scap = scap.as_path();
    let plain = convert(scap, |_| {});
    assert!(plain.records.len() > 20, "{}", plain.records.len());
    let ff = count(&plain.records, RecordKind::FileFlow);
    let mut walked = Vec::new();
    let mut walk = |name: &'static str| walked.push(name);

    // The compiler keeps this list complete: a new field is an error here.
    let SysFlowConfig {
        filter_containers: _,
        rotate_interval: _,
        exporter_id: _,
        node_ip: _,
        file_path: _,
        socket_path: _,
        scap_input_path: _,
        falco_filter: _,
        sampling_ratio: _,
        cri_path: _,
        cri_timeout: _,
        enable_stats: _,
        enable_process_flow: _,
        file_only: _,
        file_read_mode: _,
        drop_mode: _,
        callback: _,
        debug_mode: _,
        k8s_api_url: _,
        k8s_api_cert: _,
        module_checks: _,
        collection_mode: _,
        app_name: _,
        single_buffer_dimension: _,
        file_codec: _,
        rotate_offline: _,
        env_overrides: _,
        host_root: _,
        docker_path: _,
        container_metadata: _,
        file_mode: _,
        file_overwrite: _,
        socket_reader_uid: _,
    } = SysFlowConfig::default();

    // filter_containers: this trace has no container process, so nothing but the header
    // is left, and every event is counted as filtered.
    let r = convert(scap, |c| c.filter_containers = true);
    assert_eq!(count(&r.records, RecordKind::NetworkFlow), 0);
    assert_eq!(count(&r.records, RecordKind::Process), 0);
    assert!(r.summary.filtered_events > 1000, "{:?}", r.summary);
    // ... and the file says so in its header
    let l = sysflow::export::FileLosses::of_file(&r.dir.path().join("o.sf"))
        .unwrap()
        .unwrap();
    assert!(l.complete && !l.truncated, "{l:?}");
    assert_eq!(l.get("filtered_events"), r.summary.filtered_events);
    assert_eq!(l.counters.len(), 4 + r.summary.losses().len(), "{l:?}");
    assert_eq!(plain.summary.filtered_events, failed_close_or_bind(scap));
    walk("filter_containers");

    // rotate_interval + rotate_offline: a conversion rotates by capture time, one file per
    // period, each a complete SysFlow file.
    let r = convert(scap, |c| {
        c.rotate_offline = true;
        c.rotate_interval = 1;
        c.enable_stats = true;
        c.filter_containers = true; // every event is a counted loss, in every period
        c.app_name = "walk-rotate".into();
        c.file_path = Some(c.file_path.take().unwrap().with_file_name("rot/"));
    });
    let files = sysflow::avro::sf_files_in(&r.dir.path().join("rot")).unwrap();
    assert!(files.len() > 1, "{files:?}");
    // enable_stats: a stats line and a loss line at each rotation and at the end
    let lines = lines_of("walk-rotate");
    for prefix in ["Container Table: ", "Events: "] {
        let n = lines.iter().filter(|(_, m)| m.starts_with(prefix)).count();
        assert_eq!(n, files.len(), "{prefix}: {lines:?}");
    }
    assert_eq!(r.summary.sinks.periods as usize, files.len());
    // each file's losses are its period's: they add up to the run's
    let mut filtered = 0;
    for f in &files {
        filtered += sysflow::export::FileLosses::of_file(f)
            .unwrap()
            .unwrap()
            .get("filtered_events");
    }
    assert_eq!(filtered, r.summary.filtered_events);
    assert!(filtered > 1000);
    walk("rotate_interval");
    walk("rotate_offline");
    let dir = tempfile::tempdir().unwrap();
    let mut c = base(scap, dir.path());
    c.scap_input_path = None;
    c.rotate_offline = true;
    assert!(refused(c).contains("rotate_offline"));

    // exporter_id, node_ip: the header.
    let r = convert(scap, |c| {
        c.exporter_id = "node-7".into();
        c.node_ip = "10.0.0.7".into();
    });
    let Record::Header(h) = &r.records[0] else {
        panic!("{:?}", r.records[0]);
    };
    assert_eq!((h.exporter.as_str(), h.ip.as_str()), ("node-7", "10.0.0.7"));
    walk("exporter_id");
    walk("node_ip");

    // file_path, scap_input_path: the conversion above wrote the file from the capture.
    walk("file_path");
    walk("scap_input_path");
    // socket_path: tests/sinks.rs (a real SOCK_SEQPACKET reader gets every record).
    walk("socket_path");

    // falco_filter: a filter no event matches leaves no event or flow and counts what it
    // dropped; one that does not parse is refused. What filters keep: tests/filter.rs.
    let none = convert(scap, |c| {
        c.falco_filter = Some("proc.name=no-such-process".into())
    });
    for kind in [
        RecordKind::ProcessEvent,
        RecordKind::FileFlow,
        RecordKind::NetworkFlow,
        RecordKind::FileEvent,
    ] {
        assert_eq!(count(&none.records, kind), 0, "{kind:?}");
    }
    assert!(none.summary.filtered_events > 100, "{:?}", none.summary);
    let dir = tempfile::tempdir().unwrap();
    let mut c = base(scap, dir.path());
    c.falco_filter = Some("proc.name=".into());
    match SysFlowDriver::new(c) {
        Err(e @ SysFlowError::Filter(_)) => assert!(e.to_string().contains("index 10"), "{e}"),
        other => panic!("{other:?}"),
    }
    // k8s_api_url, k8s_api_cert: live capture only, so a conversion refuses them (their
    // live effect, against a stand-in API server: tests/k8s.rs); the cert alone is refused.
    refused_offline(scap, "k8s_api_url", |c| {
        c.k8s_api_url = Some("https://k".into())
    });
    refused_offline(scap, "k8s_api_cert", |c| {
        c.k8s_api_cert = Some("/c.pem".into())
    });
    walk("falco_filter");
    walk("k8s_api_url");
    walk("k8s_api_cert");

    // Live capture only: a conversion refuses them (their live effect: sampling and the
    // ring in tests/live_source.rs, the runtimes in tests/containers.rs, host_root there
    // too, module checks at every live start).
    refused_offline(scap, "sampling_ratio", |c| c.sampling_ratio = 2);
    refused_offline(scap, "single_buffer_dimension", |c| {
        c.single_buffer_dimension = DEFAULT_BUFFER_BYTES * 2
    });
    refused_offline(scap, "cri_path", |c| {
        c.cri_path = Some("/run/x.sock".into())
    });
    refused_offline(scap, "docker_path", |c| {
        c.docker_path = Some("/run/d.sock".into())
    });
    refused_offline(scap, "cri_timeout", |c| {
        c.cri_timeout = Duration::from_secs(3)
    });
    refused_offline(scap, "container_metadata", |c| c.container_metadata = false);
    refused_offline(scap, "host_root", |c| c.host_root = "/host".into());
    refused_offline(scap, "module_checks", |c| c.module_checks = false);
    for f in [
        "sampling_ratio",
        "single_buffer_dimension",
        "cri_path",
        "docker_path",
        "cri_timeout",
        "container_metadata",
        "host_root",
        "module_checks",
    ] {
        walk(f);
    }

    // enable_stats, debug_mode, app_name: lines through the facade under app_name.
    let r = convert(scap, |c| {
        c.enable_stats = true;
        c.app_name = "walk-stats".into();
    });
    let lines = lines_of("walk-stats");
    assert!(
        lines
            .iter()
            .any(|(l, m)| *l == log::Level::Info && m.starts_with("Container Table: 0 K8s")),
        "{lines:?}"
    );
    let written = r.summary.sinks.records;
    assert!(
        lines
            .iter()
            .any(|(_, m)| m.ends_with(&format!("Num Records Written: {written}"))),
        "{written} {lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|(_, m)| m.contains("Losses: ring_drops=0"))
    );
    assert!(
        lines.iter().all(|(l, _)| *l != log::Level::Debug),
        "{lines:?}"
    );
    let _ = convert(scap, |c| {
        c.debug_mode = true;
        c.app_name = "walk-debug".into();
    });
    let lines = lines_of("walk-debug");
    assert!(
        lines
            .iter()
            .any(|(l, m)| *l == log::Level::Debug && m.starts_with("configuration in effect")),
        "{lines:?}"
    );
    assert!(lines.iter().any(|(_, m)| m.starts_with("run finished")));
    assert!(lines.iter().all(|(_, m)| !m.starts_with("Container Table")));
    let _ = convert(scap, |c| c.app_name = "walk-quiet".into());
    assert_eq!(lines_of("walk-quiet"), vec![]);
    walk("enable_stats");
    walk("debug_mode");
    walk("app_name");

    // enable_process_flow: tests/config_modes.rs (threads summarised into ProcessFlows).
    walk("enable_process_flow");
    // file_only: fewer file flows (no unix sockets or pipes; this trace has pipes).
    if let Some(setns) = common::reference("namespaces/setns.scap") {
        let only = convert(&setns, |_| {});
        let r = convert(&setns, |c| c.file_only = false);
        let n = count(&only.records, RecordKind::FileFlow);
        assert!(count(&r.records, RecordKind::FileFlow) > n, "{n}");
    }
    walk("file_only");
    // file_read_mode: reads dropped, and counted.
    let r = convert(scap, |c| c.file_read_mode = FileReadMode::NoReads);
    let kept = count(&r.records, RecordKind::FileFlow);
    assert!(kept < ff, "{kept} {ff}");
    assert!(
        r.summary.filtered_flows >= (ff - kept) as u64,
        "{:?}",
        r.summary
    );
    let r = convert(scap, |c| c.file_read_mode = FileReadMode::All);
    assert!(count(&r.records, RecordKind::FileFlow) >= ff);
    assert_eq!(r.summary.filtered_flows, 0);
    walk("file_read_mode");
    // drop_mode: failed close and bind calls are left out of a conversion as a live probe
    // leaves them out, and counted.
    if let Some(setns) = common::reference("namespaces/setns.scap") {
        let failed = failed_close_or_bind(&setns);
        assert_eq!(failed, 6, "the trace's failed close and bind calls");
        assert_eq!(convert(&setns, |_| {}).summary.filtered_events, failed);
        let r = convert(&setns, |c| c.drop_mode = false);
        assert_eq!(r.summary.filtered_events, 0);
    }
    walk("drop_mode");
    // callback: every record but the header, in file order.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let r = convert(scap, |c| {
        c.callback = Some(Box::new(move |v| s2.lock().push(v.record.kind())))
    });
    let in_file: Vec<RecordKind> = r
        .records
        .iter()
        .map(Record::kind)
        .filter(|k| {
            matches!(
                k,
                RecordKind::NetworkFlow
                    | RecordKind::FileFlow
                    | RecordKind::ProcessEvent
                    | RecordKind::FileEvent
                    | RecordKind::ProcessFlow
            )
        })
        .collect();
    let by_callback = seen.lock().clone();
    assert!(!by_callback.is_empty());
    assert_eq!(by_callback, in_file);
    walk("callback");
    // collection_mode: no files at all in NoFiles.
    let r = convert(scap, |c| c.collection_mode = CollectionMode::NoFiles);
    assert_eq!(count(&r.records, RecordKind::FileFlow), 0);
    assert_eq!(count(&r.records, RecordKind::File), 0);
    assert!(count(&r.records, RecordKind::NetworkFlow) > 0);
    walk("collection_mode");
    // file_codec: the container's codec.
    let r = convert(scap, |c| c.file_codec = sysflow::avro::AvroCodec::Null);
    let codec_is = |dir: &Path, codec: &str| {
        let bytes = std::fs::read(dir.join("o.sf")).unwrap();
        let mut want = b"avro.codec".to_vec();
        want.push((codec.len() * 2) as u8); // the value's length, zigzag
        want.extend_from_slice(codec.as_bytes());
        bytes[..4096.min(bytes.len())]
            .windows(want.len())
            .any(|w| w == want)
    };
    assert!(codec_is(r.dir.path(), "null"));
    assert!(codec_is(plain.dir.path(), "deflate"));
    assert!(!codec_is(r.dir.path(), "deflate"));
    walk("file_codec");
    // env_overrides: `overrides_apply_only_when_asked` (a child process with a set
    // environment).
    walk("env_overrides");
    // file_mode, file_overwrite: the file's bits; an existing file replaced only when
    // asked.
    let r = convert(scap, |c| c.file_mode = 0o640);
    let out = r.dir.path().join("o.sf");
    assert_eq!(
        std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o640
    );
    let mut c = base(scap, r.dir.path());
    assert!(
        SysFlowDriver::new(base(scap, r.dir.path())).is_err(),
        "an existing file is kept"
    );
    c.file_overwrite = true;
    SysFlowDriver::new(c).unwrap().run().unwrap();
    assert_eq!(
        std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o600
    );
    walk("file_mode");
    walk("file_overwrite");
    // socket_reader_uid: tests/sinks.rs (a reader of another uid is refused).
    walk("socket_reader_uid");

    walked.sort_unstable();
    walked.dedup();
    assert_eq!(walked.len(), 33, "{walked:?}");
}

/// Failed close and bind exits in `scap`, read with the capture reader.
fn failed_close_or_bind(scap: &Path) -> u64 {
    use sysflow::event::EventKind;
    use sysflow::source::Item;
    let mut evs = sysflow::source::open_scap(scap).unwrap();
    let mut n = 0;
    while let Some(item) = evs.next_item().unwrap() {
        if let Item::Event(ev, _) = item
            && let EventKind::Close { res, .. } | EventKind::Bind { res, .. } = ev.kind
            && res < 0
        {
            n += 1;
        }
    }
    n
}

/// The child of `overrides_apply_only_when_asked`: run with a set environment.
#[test]
fn child_with_environment() {
    if std::env::var("SYSFLOW_OPTIONS_CHILD").as_deref() != Ok("1") {
        return;
    }
    let on = |overrides: bool| {
        let mut c = SysFlowConfig {
            env_overrides: overrides,
            callback: Some(Box::new(|_| {})),
            ..Default::default()
        };
        if overrides {
            c.apply_env();
        }
        c
    };
    let c = on(true);
    assert!(c.enable_stats && c.debug_mode);
    assert_eq!(c.host_root, PathBuf::from("/nonexistent-host-root"));
    assert_eq!(c.node_ip, "10.9.8.7");
    // new() applies them too: the live HOST_ROOT is checked.
    assert!(SysFlowDriver::new(on(false)).is_ok());
    let mut c = on(false);
    c.env_overrides = true;
    let e = SysFlowDriver::new(c).unwrap_err().to_string();
    assert!(e.contains("host_root"), "{e}");
    // env off: nothing read, HOST_ROOT included
    let d = SysFlowDriver::new(on(false)).unwrap();
    assert!(!d.config().enable_stats && !d.config().debug_mode);
    assert!(d.config().host_root.as_os_str().is_empty());
    assert!(d.config().node_ip.is_empty());
    // a conversion does not take HOST_ROOT (it has no effect there)
    let mut c = SysFlowConfig {
        scap_input_path: Some("/nonexistent.scap".into()),
        callback: Some(Box::new(|_| {})),
        ..Default::default()
    };
    c.apply_env();
    assert!(c.host_root.as_os_str().is_empty());
    // values the reference misreads are applied by its rules and logged as warnings by
    // new(), under the app name (a conversion: HOST_ROOT does not apply)
    if let Some(scap) = common::reference("client-server/tcp-client-server.scap") {
        install_logger();
        let c = SysFlowConfig {
            scap_input_path: Some(scap),
            callback: Some(Box::new(|_| {})),
            app_name: "env-warnings".into(),
            ..Default::default()
        };
        let d = SysFlowDriver::new(c).unwrap();
        assert!(!d.config().drop_mode, "ENABLE_DROP_MODE=true is off");
        let warned: Vec<String> = lines_of("env-warnings")
            .into_iter()
            .filter(|(l, _)| *l == log::Level::Warn)
            .map(|(_, m)| m)
            .collect();
        assert_eq!(
            warned,
            [
                "environment: ENABLE_DROP_MODE=\"true\" is taken as off: only \"1\" turns it on",
                "environment: FILE_READ_MODE=\"9\" is ignored: it takes 0, 1 or 2",
            ]
        );
    }
    println!("child ok");
}

#[test]
fn overrides_apply_only_when_asked() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_with_environment", "--nocapture"])
        .env("SYSFLOW_OPTIONS_CHILD", "1")
        .env("HOST_ROOT", "/nonexistent-host-root")
        .env("ENABLE_STATS", "1")
        .env("DRIVER_LOG", "1")
        .env("NODE_IP", "10.9.8.7")
        .env("ENABLE_DROP_MODE", "true")
        .env("FILE_READ_MODE", "9")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("child ok"),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Lines the configuration asks for, and warnings, reach stderr when the program installed
/// no logger.
#[test]
fn requested_lines_reach_stderr_without_a_logger() {
    if std::env::var("SYSFLOW_OPTIONS_CHILD").as_deref() == Ok("2") {
        let Some(scap) = common::reference(TRACE) else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let mut c = base(&scap, dir.path());
        c.enable_stats = true;
        c.debug_mode = true;
        c.app_name = "quiet-app".into();
        // compiles with a warning (a field name used as a string)
        c.falco_filter = Some("proc.name = proc.pname".into());
        SysFlowDriver::new(c).unwrap().run().unwrap();
        return;
    }
    if common::reference(TRACE).is_none() {
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "requested_lines_reach_stderr_without_a_logger",
            "--nocapture",
        ])
        .env("SYSFLOW_OPTIONS_CHILD", "2")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let lines: HashMap<&str, usize> = [
        "quiet-app: INFO Container Table: ",
        "quiet-app: DEBUG configuration in effect",
        "quiet-app: INFO Events: ",
        "quiet-app: WARN falco_filter: 'proc.pname' may be a valid field",
    ]
    .into_iter()
    .map(|p| (p, err.lines().filter(|l| l.starts_with(p)).count()))
    .collect();
    // one stats line and one loss line at the end of a conversion (no rotation)
    assert_eq!(lines["quiet-app: INFO Container Table: "], 1, "{err}");
    assert_eq!(lines["quiet-app: INFO Events: "], 1, "{err}");
    assert_eq!(
        lines["quiet-app: DEBUG configuration in effect"], 1,
        "{err}"
    );
    // warnings too
    assert_eq!(
        lines["quiet-app: WARN falco_filter: 'proc.pname' may be a valid field"], 1,
        "{err}"
    );
}

/// Standard error that nobody reads never stalls the library: once the pipe is full its
/// lines are dropped and counted (the next line that gets through says how many), and the
/// calls that log return. (Before, the first line that did not fit blocked the caller for
/// as long as nobody read the pipe.)
#[test]
fn a_full_stderr_pipe_drops_and_counts_lines_instead_of_blocking() {
    use std::io::{BufRead, Write};
    use std::process::Stdio;
    let config = |scap: &Path| SysFlowConfig {
        scap_input_path: Some(scap.to_owned()),
        callback: Some(Box::new(|_| {})),
        env_overrides: false,
        debug_mode: true,
        app_name: "blocked-app".into(),
        // compiles with a warning (a field name used as a string)
        falco_filter: Some("proc.name = proc.pname".into()),
        ..Default::default()
    };
    if std::env::var("SYSFLOW_OPTIONS_CHILD").as_deref() == Ok("3") {
        let Some(scap) = common::reference(TRACE) else {
            return;
        };
        // a debug line (the configuration, ~1 KiB) and a warning per driver: far more
        // than a pipe holds
        for _ in 0..2_000 {
            drop(SysFlowDriver::new(config(&scap)).unwrap());
        }
        println!("filled");
        let mut go = String::new();
        std::io::stdin().read_line(&mut go).unwrap();
        drop(SysFlowDriver::new(config(&scap)).unwrap());
        return;
    }
    if common::reference(TRACE).is_none() {
        return;
    }
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_full_stderr_pipe_drops_and_counts_lines_instead_of_blocking",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("SYSFLOW_OPTIONS_CHILD", "3")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let _ = tx.send(line.unwrap());
        }
    });
    let filled = loop {
        match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(l) if l.contains("filled") => break true,
            Ok(_) => continue,
            Err(_) => break false,
        }
    };
    if !filled {
        let _ = child.kill();
        panic!("the child blocked on its full standard error");
    }
    // now empty standard error (the child waits on its standard input, writing nothing),
    // then let the child log once more and read the rest
    let mut stderr = child.stderr.take().unwrap();
    let mut early = Vec::new();
    loop {
        let mut avail: libc::c_int = 0;
        // SAFETY: FIONREAD on an open pipe fd writes one int.
        let r = unsafe { libc::ioctl(stderr.as_raw_fd(), libc::FIONREAD, &mut avail) };
        assert_eq!(r, 0, "FIONREAD: {}", std::io::Error::last_os_error());
        if avail == 0 {
            break;
        }
        let mut buf = vec![0; avail as usize];
        // `avail` bytes are there: the read does not block
        let n = std::io::Read::read(&mut stderr, &mut buf).unwrap();
        early.extend_from_slice(&buf[..n]);
    }
    let reader = std::thread::spawn(move || {
        let mut rest = Vec::new();
        std::io::Read::read_to_end(&mut stderr, &mut rest).unwrap();
        rest
    });
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let status = child.wait().unwrap();
    early.extend(reader.join().unwrap());
    let err = String::from_utf8(early).unwrap();
    assert!(
        status.success(),
        "{}",
        &err[err.len().saturating_sub(2000)..]
    );
    let warn = "blocked-app: WARN falco_filter: 'proc.pname' may be a valid field";
    let got = err.lines().filter(|l| l.starts_with(warn)).count();
    assert!(
        (1..2_001).contains(&got),
        "{got} of 2,001 warnings got through a pipe read only at the end"
    );
    let notice: Vec<&str> = err.lines().filter(|l| l.contains("dropped")).collect();
    assert_eq!(
        notice.len(),
        1,
        "{notice:?} {} lines, ends {}",
        err.lines().count(),
        &err[err.len().saturating_sub(300)..]
    );
    let n: u64 = notice[0]
        .strip_prefix("blocked-app: WARN ")
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{}", notice[0]));
    // every line is either in the output or counted as dropped (two per driver)
    let written = err
        .lines()
        .filter(|l| l.starts_with("blocked-app: ") && !l.contains("dropped"))
        .count() as u64;
    assert_eq!(written + n, 2 * 2_001, "{written} written, {n} dropped");
    assert!(
        err.trim_end().ends_with("as a const string value"),
        "the last warning"
    );
}

/// The reference's `InitializeSysFlowConfig` defaults table (`reference-semantics.md`
/// §8.1), parsed: (field, first word of its default, emphasis removed), in table order.
fn reference_defaults() -> Option<Vec<(String, String)>> {
    let brief = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/docs/reference-semantics.md");
    let Ok(text) = std::fs::read_to_string(&brief) else {
        common::skip(&format!("{} not found", brief.display()));
        return None;
    };
    let start = text
        .find("### 8.1 `InitializeSysFlowConfig()` defaults")
        .expect("the defaults table");
    let mut rows = Vec::new();
    for line in text[start..].lines().skip(3) {
        if !line.starts_with('|') {
            break;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let value = cells[2]
            .trim_matches('*')
            .split(' ')
            .next()
            .unwrap()
            .trim_matches('*');
        for name in cells[1].split(", ") {
            rows.push((name.to_owned(), value.to_owned()));
        }
    }
    Some(rows)
}

/// The defaults, Rust and C, are the reference's documented ones
/// (`reference-semantics.md` §8.1, parsed here), except the named deviations.
#[test]
fn defaults_are_the_references() {
    let Some(rows) = reference_defaults() else {
        return;
    };
    let table: HashMap<String, String> = rows.into_iter().collect();
    assert!(table.len() > 20, "{table:?}");
    let r = SysFlowConfig::default();
    let mut c = std::mem::MaybeUninit::<sysflow::ffi::sysflow_config>::uninit();
    // SAFETY: `c` is writable memory of the size passed.
    let st = unsafe {
        sysflow::ffi::sysflow_config_init_sized(
            c.as_mut_ptr(),
            std::mem::size_of::<sysflow::ffi::sysflow_config>(),
        )
    };
    assert_eq!(st, sysflow::ffi::sysflow_status::OK);
    // SAFETY: initialised by the call above.
    let c = unsafe { c.assume_init() };
    let b = |v: bool| v.to_string();
    let checked: Vec<(&str, String, String)> = vec![
        (
            "filterContainers",
            b(r.filter_containers),
            b(c.filter_containers),
        ),
        (
            "rotateInterval",
            r.rotate_interval.to_string(),
            c.rotate_interval.to_string(),
        ),
        (
            "samplingRatio",
            r.sampling_ratio.to_string(),
            c.sampling_ratio.to_string(),
        ),
        ("enableStats", b(r.enable_stats), b(c.enable_stats)),
        (
            "enableProcessFlow",
            b(r.enable_process_flow),
            b(c.enable_process_flow),
        ),
        ("fileOnly", b(r.file_only), b(c.file_only)),
        (
            "fileReadMode",
            r.file_read_mode.as_int().to_string(),
            c.file_read_mode.to_string(),
        ),
        ("dropMode", b(r.drop_mode), b(c.drop_mode)),
        ("debugMode", b(r.debug_mode), b(c.debug_mode)),
        ("moduleChecks", b(r.module_checks), b(c.module_checks)),
        (
            "callback",
            if r.callback.is_none() { "null" } else { "set" }.into(),
            if c.callback.is_none() { "null" } else { "set" }.into(),
        ),
    ];
    for (name, rust, cv) in &checked {
        assert_eq!(&table[*name], rust, "{name}: Rust default");
        assert_eq!(rust, cv, "{name}: C default");
    }
    // 8 MiB, written `8` in the table's first word
    assert_eq!(table["singleBufferDimension"], "8");
    assert_eq!(r.single_buffer_dimension, 8 << 20);
    assert_eq!(c.single_buffer_dimension, 8 << 20);
    assert_eq!(table["appName"], "\"sysflowlibs\"");
    assert_eq!(r.app_name, "sysflowlibs");
    assert_eq!(table["collectionMode"], "SFFlowMode");
    assert_eq!(r.collection_mode, CollectionMode::Flow);
    assert_eq!(
        c.collection_mode,
        sysflow::ffi::SYSFLOW_COLLECTION_MODE_FLOW
    );
    for empty in [
        "exporterID",
        "nodeIP",
        "filePath",
        "socketPath",
        "scapInputPath",
    ] {
        assert_eq!(table[empty], "empty", "{empty}");
    }
    assert!(r.exporter_id.is_empty() && r.node_ip.is_empty());
    assert!(r.file_path.is_none() && r.socket_path.is_none() && r.scap_input_path.is_none());
    assert!(r.falco_filter.is_none() && r.cri_path.is_none() && r.k8s_api_url.is_none());
    assert!(c.exporter_id.is_null() && c.file_path.is_null() && c.scap_input_path.is_null());
    // Named deviation: criTO is 30 in the reference, which its libsinsp reads as 30 ms; the
    // default here is libsinsp's own 1 s (see SysFlowConfig::cri_timeout).
    assert_eq!(table["criTO"], "30");
    assert_eq!(r.cri_timeout, Duration::from_secs(1));
    assert_eq!(c.cri_timeout_ms, 1000);
}

/// Every field of the reference's `SysFlowConfig` (the §8.1 table) has a counterpart in
/// the Rust config and in the C header, except the named ones this library has no use
/// for.
#[test]
fn every_reference_field_has_a_counterpart() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let Some(rows) = reference_defaults() else {
        return;
    };
    let names: Vec<String> = rows.into_iter().map(|(name, _)| name).collect();
    let header = std::fs::read_to_string(root.join("include/sysflow.h")).unwrap();
    let c_struct = &header[header.find("typedef struct sysflow_config {").unwrap()..];
    let c_struct = &c_struct[..c_struct.find("} sysflow_config;").unwrap()];
    let rust = format!("{:?}", SysFlowConfig::default());
    let snake = |camel: &str| -> String {
        let mut s = String::new();
        for (i, ch) in camel.chars().enumerate() {
            let prev_upper = i > 0 && camel.as_bytes()[i - 1].is_ascii_uppercase();
            if ch.is_ascii_uppercase() && i > 0 && !prev_upper {
                s.push('_');
            }
            s.push(ch.to_ascii_lowercase());
        }
        s
    };
    let mut seen = 0;
    for name in &names {
        let (rust_name, c_name) = match name.as_str() {
            // one probe (CO-RE eBPF) and every online CPU: nothing to choose
            "cpuBuffers" | "driverType" => continue,
            "criTO" => ("cri_timeout".to_owned(), "cri_timeout_ms".to_owned()),
            "exporterID" => ("exporter_id".to_owned(), "exporter_id".to_owned()),
            "nodeIP" => ("node_ip".to_owned(), "node_ip".to_owned()),
            "k8sAPIURL" => ("k8s_api_url".to_owned(), "k8s_api_url".to_owned()),
            "k8sAPICert" => ("k8s_api_cert".to_owned(), "k8s_api_cert".to_owned()),
            n => (snake(n), snake(n)),
        };
        assert!(
            rust.contains(&format!("{rust_name}:")),
            "{name}: no SysFlowConfig::{rust_name}"
        );
        assert!(
            c_struct.contains(&format!(" {c_name};")) || c_struct.contains(&format!("*{c_name};")),
            "{name}: no sysflow_config.{c_name} in include/sysflow.h"
        );
        seen += 1;
    }
    assert!(seen >= 24, "{seen} fields checked: {names:?}");
}

/// `ExitHandle::is_capturing` is false before `run()`, true while it delivers records,
/// false once it returned, and never true for a run that failed to start.
#[test]
fn is_capturing_follows_the_run() {
    let Some(scap) = common::reference(TRACE) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let seen: Arc<Mutex<Vec<bool>>> = Arc::default();
    let handle: Arc<Mutex<Option<sysflow::ExitHandle>>> = Arc::default();
    let (s, h) = (seen.clone(), handle.clone());
    let mut c = base(&scap, dir.path());
    c.callback = Some(Box::new(move |_| {
        if let Some(h) = h.lock().as_ref() {
            s.lock().push(h.is_capturing());
        }
    }));
    let mut driver = SysFlowDriver::new(c).unwrap();
    let exit = driver.exit_handle();
    *handle.lock() = Some(exit.clone());
    assert!(!exit.is_capturing());
    driver.run().unwrap();
    assert!(!exit.is_capturing());
    let seen = seen.lock();
    assert!(!seen.is_empty() && seen.iter().all(|&c| c), "{seen:?}");

    let mut c = base(&dir.path().join("absent.scap"), dir.path());
    c.file_path = None;
    c.callback = Some(Box::new(|_| {}));
    let mut driver = SysFlowDriver::new(c).unwrap();
    let exit = driver.exit_handle();
    assert!(driver.run().is_err());
    assert!(!exit.is_capturing());
    assert!(!exit.wait_capturing(Duration::from_millis(50)));
}
