//! Sinks against real peers: a SOCK_SEQPACKET listener, rotated files on disk, a callback.

mod common;

use common::reference;
use nix::sys::socket::{
    AddressFamily, Backlog, MsgFlags, SockFlag, SockType, UnixAddr, accept, bind, listen, recv,
    socket,
};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use sysflow::avro::{AvroCodec, SfReader, decode_datum};
use sysflow::export::{
    Backoff, CallbackSink, FanOut, FileSink, Links, RecordSink, RecordView, SocketSink,
};
use sysflow::model::{File, Foid, ObjectState, ProcessFlow, Record, SfHeader};

fn records(path: &Path) -> Vec<Record> {
    SfReader::open(path)
        .unwrap()
        .collect::<sysflow::Result<Vec<_>>>()
        .unwrap()
}

fn listener(path: &Path) -> OwnedFd {
    let fd = socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .unwrap();
    bind(fd.as_raw_fd(), &UnixAddr::new(path).unwrap()).unwrap();
    listen(&fd, Backlog::new(4).unwrap()).unwrap();
    fd
}

/// Accepts one connection and decodes every packet until the peer closes.
fn collect_packets(l: OwnedFd) -> std::thread::JoinHandle<Vec<Record>> {
    std::thread::spawn(move || {
        let raw = accept(l.as_raw_fd()).unwrap();
        // SAFETY: `accept` returned a fresh descriptor that nothing else owns.
        let conn = unsafe { OwnedFd::from_raw_fd(raw) };
        let mut buf = vec![0u8; 1 << 20];
        let mut out = Vec::new();
        loop {
            let n = recv(conn.as_raw_fd(), &mut buf, MsgFlags::empty()).unwrap();
            if n == 0 {
                break;
            }
            out.push(decode_datum(&buf[..n]).expect("every packet is one record"));
        }
        out
    })
}

#[test]
fn socket_sink_sends_one_record_per_packet() {
    let Some(sf) = reference("namespaces/setns.sf") else {
        return;
    };
    let recs = records(&sf);
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("sf.sock");
    let reader = collect_packets(listener(&sock));

    let header = SfHeader {
        exporter: "tests".into(),
        ..Default::default()
    };
    let mut out = FanOut::new(header.clone());
    out.add(Box::new(
        SocketSink::connect(&sock, Backoff::default()).unwrap(),
    ));
    out.start().unwrap();
    for r in &recs[1..] {
        out.emit(r, Links::default()).unwrap();
    }
    out.finish().unwrap();
    drop(out);

    let got = reader.join().unwrap();
    assert_eq!(got.len(), recs.len());
    assert_eq!(got[0], Record::Header(header));
    assert_eq!(got[1..], recs[1..]);
}

#[test]
fn socket_sink_reconnects_counts_drops_and_gives_up() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("sf.sock");
    let l = listener(&sock);
    let backoff = Backoff {
        initial: Duration::from_millis(50),
        max: Duration::from_millis(200),
    };
    let mut out = FanOut::new(SfHeader::default());
    out.add(Box::new(SocketSink::connect(&sock, backoff).unwrap()));
    out.start().unwrap();
    let rec = Record::Header(SfHeader::default());

    // The reader goes away: records are dropped and counted, never an error at once.
    drop(l);
    std::fs::remove_file(&sock).unwrap();
    for _ in 0..5 {
        out.emit(&rec, Links::default()).unwrap();
    }
    assert!(out.stats().dropped >= 4, "{:?}", out.stats());

    // A new reader appears: after the backoff the sink reconnects, but only where the
    // driver writes the entities again at once (when it takes the re-export request, before
    // an event's records), never while records are written: a record written then could
    // name an entity the new reader has not received.
    let reader = collect_packets(listener(&sock));
    // twice the first wait: an attempt that failed during the emits above doubled it
    std::thread::sleep(Duration::from_millis(110));
    let before = out.stats().dropped;
    let during = Record::Header(SfHeader {
        exporter: "before the re-export".into(),
        ..Default::default()
    });
    out.emit(&during, Links::default()).unwrap();
    assert_eq!(out.stats().dropped, before + 1, "{:?}", out.stats());
    assert_eq!(out.stats().reconnects, 0, "never while records are written");
    assert!(
        out.take_reset_request(),
        "a reconnect asks for entity re-export"
    );
    assert_eq!(out.stats().reconnects, 1);
    let after = Record::Header(SfHeader {
        exporter: "after the re-export".into(),
        ..Default::default()
    });
    out.emit(&after, Links::default()).unwrap();
    out.finish().unwrap();
    drop(out);
    let got = reader.join().unwrap();
    assert_eq!(
        got,
        [rec.clone(), after],
        "the header again, then only what came after the re-export request"
    );

    // Nobody ever comes back: after the backoff is exhausted, write fails clearly.
    let mut out = FanOut::new(SfHeader::default());
    let sock2 = dir.path().join("gone.sock");
    let l2 = listener(&sock2);
    out.add(Box::new(SocketSink::connect(&sock2, backoff).unwrap()));
    out.start().unwrap();
    drop(l2);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let err = loop {
        // (the driver takes the request at every event: the reconnection attempts)
        out.take_reset_request();
        if let Err(e) = out.emit(&rec, Links::default()) {
            break e;
        }
        assert!(std::time::Instant::now() < deadline, "never gave up");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(err.to_string().contains("gone.sock"), "{err}");
}

#[test]
fn a_stalled_reader_costs_counted_drops_and_bounded_memory_never_a_wait() {
    let dir = tempfile::tempdir().unwrap();
    // the reader accepts and then reads nothing
    let (mut sink, conn) = connected(dir.path());
    let header = SfHeader {
        exporter: "x".repeat(200),
        ..Default::default()
    };
    sink.start(&header).unwrap();
    // ~24 MB of records: far more than the socket buffers and the 8 MiB queue hold
    let rec = Record::Header(header.clone());
    let n = 100_000;
    for _ in 0..n {
        let view = sysflow::export::RecordView {
            header: &header,
            container: None,
            pod: None,
            process: None,
            file: None,
            new_file: None,
            record: &rec,
        };
        sink.write(&view).unwrap();
    }
    assert!(sink.pending_bytes() <= sysflow::export::MAX_PENDING_BYTES);
    let dropped = sink.dropped();
    assert!(dropped > 0 && dropped < n, "{dropped}");
    assert!(
        !sink.take_reset_request(),
        "nothing re-exported while the reader is stalled"
    );
    // the reader catches up: every packet still queued arrives, then the sink asks for
    // the entities again (what the reader lost may have named them)
    let reader = std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 16];
        let mut got = 0u64;
        while let Ok(k) = recv(conn.as_raw_fd(), &mut buf, MsgFlags::empty()) {
            if k == 0 {
                break;
            }
            decode_datum(&buf[..k]).expect("whole packets only");
            got += 1;
        }
        got
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while sink.pending_bytes() > 0 {
        assert!(std::time::Instant::now() < deadline, "queue never drained");
        sink.flush().unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(
        sink.take_reset_request(),
        "entities re-exported after the loss"
    );
    let dropped = sink.dropped();
    sink.finish().unwrap();
    drop(sink);
    let got = reader.join().unwrap();
    assert_eq!(
        got + dropped,
        n + 2,
        "every record delivered or counted as dropped (with the start's header and the \
         loss marker)"
    );
}

/// Record number `i` (its `ts`), to tell which records arrived.
fn numbered(i: i64) -> Record {
    Record::ProcessFlow(ProcessFlow {
        ts: i,
        ..Default::default()
    })
}

fn view<'a>(header: &'a SfHeader, record: &'a Record) -> RecordView<'a> {
    RecordView {
        header,
        container: None,
        pod: None,
        process: None,
        file: None,
        new_file: None,
        record,
    }
}

/// The numbers of the records in `got`, which must all be numbered ones.
fn numbers(got: &[Record]) -> Vec<i64> {
    got.iter()
        .map(|r| match r {
            Record::ProcessFlow(f) => f.ts,
            other => panic!("a record where none but numbered ones go: {other:?}"),
        })
        .collect()
}

#[test]
fn a_slow_reader_s_gap_is_marked_by_the_header_before_any_record_written_after_it() {
    let dir = tempfile::tempdir().unwrap();
    // the reader accepts, then reads nothing for a while
    let (mut sink, conn) = connected(dir.path());
    let header = SfHeader {
        exporter: "gap".into(),
        ..Default::default()
    };
    sink.start(&header).unwrap();
    // Until the first drop nothing is lost: the driver's clock asks at every record, and
    // no header is sent in the middle.
    let mut i = 0;
    let first_dropped = loop {
        sink.write(&view(&header, &numbered(i))).unwrap();
        if sink.dropped() > 0 {
            break i;
        }
        assert!(!sink.take_reset_request(), "a marker without a loss");
        i += 1;
        assert!(i < 10_000_000, "nothing was ever dropped");
    };
    // more records while the reader is still behind: dropped too, the gap is one stretch
    for _ in 0..1000 {
        i += 1;
        sink.write(&view(&header, &numbered(i))).unwrap();
        assert!(
            !sink.take_reset_request(),
            "a marker before the reader caught up"
        );
    }
    let after_gap = i + 1;
    assert_eq!(sink.dropped(), (after_gap - first_dropped) as u64);
    // the reader catches up; the driver's clock keeps asking and, once the marker is
    // sent, writes again
    let reader = std::thread::spawn(move || read_all(&conn));
    // records keep coming while the reader drains the queue: room frees up, yet they
    // are dropped too, until the marker
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut next = after_gap;
    while !sink.take_reset_request() {
        assert!(std::time::Instant::now() < deadline, "never marked");
        sink.write(&view(&header, &numbered(next))).unwrap();
        next += 1;
        std::thread::sleep(Duration::from_micros(200));
    }
    assert!(
        next > after_gap,
        "no record was written while the reader drained"
    );
    assert_eq!(
        sink.dropped(),
        (next - first_dropped) as u64,
        "every record from the first drop to the marker dropped, and counted"
    );
    let after_gap = next;
    for k in 0..100 {
        sink.write(&view(&header, &numbered(after_gap + k)))
            .unwrap();
        assert!(!sink.take_reset_request(), "one marker per gap");
    }
    let dropped = sink.dropped();
    sink.finish().unwrap();
    assert_eq!(sink.dropped(), dropped, "nothing lost after the marker");
    drop(sink);
    let got = reader.join().unwrap();
    assert_eq!(got[0], Record::Header(header.clone()));
    let marks: Vec<usize> = (1..got.len())
        .filter(|&k| matches!(got[k], Record::Header(_)))
        .collect();
    assert_eq!(marks.len(), 1, "one header in the middle: {marks:?}");
    let m = marks[0];
    assert_eq!(got[m], Record::Header(header), "the same values again");
    assert_eq!(
        numbers(&got[1..m]),
        (0..first_dropped).collect::<Vec<_>>(),
        "before the marker: every record written before the drop, and none after"
    );
    assert_eq!(
        numbers(&got[m + 1..]),
        (after_gap..after_gap + 100).collect::<Vec<_>>(),
        "after it: what the driver wrote after the marker"
    );
}

/// A connected socket sink and the reader's end of its connection.
fn connected(dir: &Path) -> (SocketSink, OwnedFd) {
    let sock = dir.join("sf.sock");
    let l = listener(&sock);
    let sink = SocketSink::connect(&sock, Backoff::default()).unwrap();
    let raw = accept(l.as_raw_fd()).unwrap();
    // SAFETY: `accept` returned a fresh descriptor that nothing else owns.
    (sink, unsafe { OwnedFd::from_raw_fd(raw) })
}

#[test]
fn a_gap_s_marker_still_owed_at_the_end_goes_last_once_the_reader_drains() {
    let dir = tempfile::tempdir().unwrap();
    let (mut sink, conn) = connected(dir.path());
    // large records, so that the full queue is a few dozen packets, and a header larger
    // than a record: when a record no longer fits in the queue, neither does the marker
    let big = |i: i64| {
        Record::File(File {
            state: ObjectState::Created,
            oid: Foid::default(),
            ts: i,
            restype: i32::from(b'f'),
            path: "p".repeat(100_000),
            container_id: None,
        })
    };
    let header = SfHeader {
        exporter: "x".repeat(150_000),
        ..Default::default()
    };
    sink.start(&header).unwrap();
    let mut i = 0;
    let first_dropped = loop {
        sink.write(&view(&header, &big(i))).unwrap();
        if sink.dropped() > 0 {
            break i;
        }
        i += 1;
        assert!(i < 10_000, "nothing was ever dropped");
    };
    // the capture ends while the reader is still behind; it starts reading a moment
    // later, so the marker does not fit at the first try
    let reader = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        read_all(&conn)
    });
    sink.finish().unwrap();
    assert_eq!(sink.dropped(), 1, "the queue drained within finish's wait");
    drop(sink);
    let got = reader.join().unwrap();
    let h = Record::Header(header);
    assert!(got[0] == h);
    assert!(got.last() == Some(&h), "the marker, last");
    let files: Vec<i64> = got[1..got.len() - 1]
        .iter()
        .map(|r| match r {
            Record::File(f) => f.ts,
            _ => panic!("a record where only files go"),
        })
        .collect();
    assert_eq!(files, (0..first_dropped).collect::<Vec<_>>());
}

/// Every packet of `conn` until its peer closed.
fn read_all(conn: &OwnedFd) -> Vec<Record> {
    let mut buf = vec![0u8; 1 << 20];
    let mut got = Vec::new();
    loop {
        let n = recv(conn.as_raw_fd(), &mut buf, MsgFlags::empty()).unwrap();
        if n == 0 {
            return got;
        }
        got.push(decode_datum(&buf[..n]).unwrap());
    }
}

#[test]
fn losses_before_the_socket_are_marked_by_the_header_again_at_most_every_10_s() {
    let dir = tempfile::tempdir().unwrap();
    let (mut sink, conn) = connected(dir.path());
    let header = SfHeader {
        exporter: "unit".into(),
        ..Default::default()
    };
    let h = Record::Header(header.clone());
    sink.start(&header).unwrap();
    sink.write(&view(&header, &numbered(1))).unwrap();
    assert!(!sink.take_reset_request(), "nothing lost");
    sink.note_losses(&[]);
    assert!(!sink.take_reset_request(), "nothing grew");
    sink.note_losses(&[("ring_drops", 3)]);
    // records written before the driver's clock asks come before the marker
    sink.write(&view(&header, &numbered(2))).unwrap();
    assert!(sink.take_reset_request(), "marked: the entities again");
    assert!(!sink.take_reset_request(), "once");
    sink.write(&view(&header, &numbered(3))).unwrap();
    sink.note_losses(&[("decode_errors", 1)]);
    assert!(!sink.take_reset_request(), "not again within 10 s");
    sink.write(&view(&header, &numbered(4))).unwrap();
    // still owed at the end: it goes last
    sink.finish().unwrap();
    assert_eq!(sink.dropped(), 0);
    drop(sink);
    assert_eq!(
        read_all(&conn),
        [
            h.clone(),
            numbered(1),
            numbered(2),
            h.clone(),
            numbered(3),
            numbered(4),
            h
        ]
    );
}

#[test]
fn a_packet_too_big_for_the_socket_is_dropped_alone_and_marked_at_most_every_10_s() {
    let dir = tempfile::tempdir().unwrap();
    let (mut sink, conn) = connected(dir.path());
    let header = SfHeader::default();
    let h = Record::Header(header.clone());
    sink.start(&header).unwrap();
    sink.write(&view(&header, &numbered(1))).unwrap();
    // larger than any unix socket's send buffer takes by default (wmem_default, 208 KiB)
    let huge = Record::Header(SfHeader {
        exporter: "x".repeat(8 << 20),
        ..Default::default()
    });
    sink.write(&view(&header, &huge)).unwrap();
    assert_eq!(sink.dropped(), 1);
    sink.write(&view(&header, &numbered(2))).unwrap();
    assert_eq!(
        sink.dropped(),
        1,
        "dropped alone: the records after it go on"
    );
    assert!(sink.take_reset_request(), "the first marker goes at once");
    sink.write(&view(&header, &numbered(3))).unwrap();
    sink.write(&view(&header, &huge)).unwrap();
    sink.write(&view(&header, &numbered(4))).unwrap();
    assert!(
        !sink.take_reset_request(),
        "the next one waits 10 s: such records cannot keep the entities being re-sent"
    );
    assert_eq!(sink.dropped(), 2);
    sink.finish().unwrap();
    drop(sink);
    assert_eq!(
        read_all(&conn),
        [
            h.clone(),
            numbered(1),
            numbered(2),
            h.clone(),
            numbered(3),
            numbered(4),
            h
        ],
        "each drop marked after it, the one still owed at the end last"
    );
}

#[test]
fn losses_before_the_socket_are_marked_in_a_conversion_and_filters_are_not() {
    let case = |name: &str| {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/cases")
            .join(name);
        p.exists().then_some(p)
    };
    let (Some(damaged), Some(clean)) = (
        case("clone_res_is_caller.scap"),
        case("syn_execveat_min.scap"),
    ) else {
        common::skip("../shared/cases not found");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let convert = |scap: &Path, filter: Option<&str>| {
        let sock = dir.path().join("conv.sock");
        let _ = std::fs::remove_file(&sock);
        let reader = collect_packets(listener(&sock));
        let summary = sysflow::SysFlowDriver::new(sysflow::SysFlowConfig {
            scap_input_path: Some(scap.to_owned()),
            socket_path: Some(sock),
            falco_filter: filter.map(str::to_owned),
            exporter_id: "tests".into(),
            env_overrides: false,
            ..Default::default()
        })
        .unwrap()
        .run();
        let got = reader.join().unwrap();
        assert!(matches!(got[0], Record::Header(_)), "{got:?}");
        let headers = got
            .iter()
            .filter(|r| matches!(r, Record::Header(_)))
            .count();
        (summary, headers)
    };
    // a capture cut short: the run fails, and the stream marks the loss at its end
    let bytes = std::fs::read(&clean).unwrap();
    let cut = dir.path().join("cut.scap");
    // cut inside its last event: past the header and process list, so the stream started
    std::fs::write(&cut, &bytes[..bytes.len() - 3]).unwrap();
    let (result, headers) = convert(&cut, None);
    assert!(result.is_err(), "{result:?}");
    assert_eq!(headers, 2, "the header again marks the damage");
    // a damaged event (an invalid clone): counted, and marked in the stream
    let (summary, headers) = convert(&damaged, None);
    let summary = summary.unwrap();
    assert_eq!(summary.invalid_events, 1);
    assert_eq!(headers, 2, "the header again marks the loss");
    // a filter leaves events out by design: no marker
    let (summary, headers) = convert(&clean, Some("proc.name=nothing-of-the-capture"));
    let summary = summary.unwrap();
    assert!(summary.filtered_events > 0, "{summary:?}");
    let gaps = summary
        .losses()
        .into_iter()
        .filter(|(name, n)| *n > 0 && !name.starts_with("filtered_"))
        .collect::<Vec<_>>();
    assert!(gaps.is_empty(), "{gaps:?}");
    assert_eq!(
        headers, 1,
        "no header in the middle of a stream without losses"
    );
}

#[test]
fn a_reader_of_another_uid_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("uid.sock");
    let _l = listener(&sock);
    let me = nix::unistd::geteuid().as_raw();
    let other = if me == 65534 { 0 } else { 65534 };
    let e = SocketSink::connect_as(&sock, Backoff::default(), Some(other))
        .err()
        .expect("refused");
    assert_eq!(e.code(), sysflow::ErrorCode::InvalidConfig);
    assert!(e.to_string().contains(&format!("uid {me}")), "{e}");
    let sock2 = dir.path().join("uid2.sock");
    let _l2 = listener(&sock2);
    assert!(SocketSink::connect_as(&sock2, Backoff::default(), Some(me)).is_ok());
}

#[test]
fn unreachable_socket_fails_at_connect() {
    let e = SocketSink::connect(Path::new("/nonexistent/sf.sock"), Backoff::default())
        .err()
        .unwrap();
    assert!(e.to_string().contains("/nonexistent/sf.sock"), "{e}");
}

#[test]
fn rotation_writes_one_self_describing_file_per_period() {
    let Some(sf) = reference("setuid/setuid.sf") else {
        return;
    };
    let recs = records(&sf);
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("out.sf");
    let mut out = FanOut::new(SfHeader {
        exporter: "rot".into(),
        ..Default::default()
    });
    out.set_file(FileSink::create(&prefix, AvroCodec::default(), Some(1000)).unwrap());
    out.start().unwrap();
    let body = &recs[1..];
    let third = body.len() / 3;
    for (i, r) in body.iter().enumerate() {
        if i == third {
            out.rotate(1300).unwrap();
        } else if i == 2 * third {
            out.rotate(1600).unwrap();
        }
        out.emit(r, Links::default()).unwrap();
    }
    out.finish().unwrap();

    let mut all = Vec::new();
    for epoch in [1000, 1300, 1600] {
        let path = dir.path().join(format!("out.sf.{epoch}"));
        let got = records(&path);
        let Record::Header(h) = &got[0] else {
            panic!("{} does not start with a header", path.display())
        };
        assert_eq!(h.filename, path.display().to_string());
        assert_eq!(h.exporter, "rot");
        assert!(got[1..].iter().all(|r| !matches!(r, Record::Header(_))));
        all.extend_from_slice(&got[1..]);
    }
    assert_eq!(all, body);

    // Directory mode: files named by epoch inside the directory (created if missing).
    let d = dir.path().join("sfdir/");
    let mut out = FanOut::new(SfHeader::default());
    out.set_file(FileSink::create(&d, AvroCodec::Null, Some(42)).unwrap());
    out.start().unwrap();
    out.rotate(43).unwrap();
    out.finish().unwrap();
    assert_eq!(records(&d.join("42")).len(), 1);
    assert_eq!(records(&d.join("43")).len(), 1);
}

#[test]
fn callback_sink_gets_events_and_flows_with_a_filled_header() {
    let Some(sf) = reference("setuid/setuid.sf") else {
        return;
    };
    let recs = records(&sf);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let mut out = FanOut::new(SfHeader {
        exporter: "cb".into(),
        ip: "10.0.0.9".into(),
        ..Default::default()
    });
    out.add(Box::new(CallbackSink::new(Box::new(move |v| {
        assert_eq!(v.header.exporter, "cb");
        assert_eq!(v.header.version, 5);
        s2.lock().unwrap().push(v.record.clone());
    }))));
    out.start().unwrap();
    for r in &recs[1..] {
        out.emit(r, Links::default()).unwrap();
    }
    let seen = seen.lock().unwrap();
    let expected: Vec<_> = recs
        .iter()
        .filter(|r| r.kind().is_event_or_flow())
        .cloned()
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(*seen, expected);
}

#[test]
fn each_file_records_its_period_losses_in_its_header_readable_by_every_reader() {
    use sysflow::export::{FileLosses, LOSSES_KEY, LOSSES_WIDTH};
    let Some(sf) = reference("setuid/setuid.sf") else {
        return;
    };
    let recs = records(&sf);
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("loss.sf");
    let mut out = FanOut::new(SfHeader::default());
    out.set_file(FileSink::create(&prefix, AvroCodec::default(), Some(1000)).unwrap());
    out.start().unwrap();
    for r in &recs[1..] {
        out.emit(r, Links::default()).unwrap();
    }
    out.set_period_losses(1300, &[("ring_drops", 7), ("sink_drops", 0), ("decode", 2)]);
    out.rotate(1300).unwrap();
    for r in &recs[1..] {
        out.emit(r, Links::default()).unwrap();
    }
    // a cause named like one of the sink's own counters is left out
    out.set_period_losses(1450, &[("ring_drops", 1), ("file_drops", 99)]);
    out.finish().unwrap();

    let expect = [
        (
            1000,
            1300,
            vec![("ring_drops", 7), ("sink_drops", 0), ("decode", 2)],
        ),
        (1300, 1450, vec![("ring_drops", 1)]),
    ];
    for (epoch, end, causes) in expect {
        let path = dir.path().join(format!("loss.sf.{epoch}"));
        let l = FileLosses::of_file(&path).unwrap().expect("losses entry");
        let mut counters: std::collections::BTreeMap<String, u64> =
            causes.iter().map(|&(k, v)| (k.to_string(), v)).collect();
        for own in [
            "file_drops",
            "file_failed_blocks",
            "file_failed_opens",
            "unfiled_drops",
        ] {
            counters.insert(own.into(), 0);
        }
        assert_eq!(
            l,
            FileLosses {
                complete: true,
                period_start: Some(epoch),
                period_end: Some(end),
                truncated: false,
                // the file's length: what it holds when closed
                file_bytes: Some(std::fs::metadata(&path).unwrap().len()),
                counters,
            }
        );
        // the raw value: fixed width, JSON padded with spaces
        let r = SfReader::open(&path).unwrap();
        let raw = r.user_metadata(LOSSES_KEY).unwrap();
        assert_eq!(raw.len(), LOSSES_WIDTH);
        assert!(raw.starts_with(br#"{"complete":true,"period_start":"#));
        assert!(r.user_metadata("avro.schema").is_none());
        // every record reads back, with ours and with the apache_avro crate
        let ours = records(&path);
        assert_eq!(ours.len(), recs.len());
        let theirs = apache_avro::Reader::new(std::fs::File::open(&path).unwrap()).unwrap();
        let meta = theirs
            .user_metadata()
            .get(LOSSES_KEY)
            .expect("seen by apache_avro");
        assert_eq!(meta.as_slice(), raw);
        assert_eq!(theirs.map(Result::unwrap).count(), recs.len());
    }
}

#[test]
fn a_file_never_closed_says_incomplete() {
    use sysflow::export::{FileLosses, RecordSink};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.sf");
    let mut sink = FileSink::create(&path, AvroCodec::default(), None).unwrap();
    let header = SfHeader::default();
    sink.start(&header).unwrap();
    sink.flush().unwrap();
    // the collector dies: nothing closes the file
    std::mem::forget(sink);
    let l = FileLosses::of_file(&path).unwrap().unwrap();
    assert_eq!(
        l,
        FileLosses {
            complete: false,
            ..FileLosses::default()
        }
    );
    assert_eq!(records(&path), vec![Record::Header(header)]);
    assert_eq!(
        apache_avro::Reader::new(std::fs::File::open(&path).unwrap())
            .unwrap()
            .count(),
        1
    );
}

#[test]
fn a_driver_dropped_without_running_leaves_no_empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.sf");
    let config = || sysflow::SysFlowConfig {
        file_path: Some(out.clone()),
        scap_input_path: Some(dir.path().join("never-read.scap")),
        env_overrides: false,
        ..Default::default()
    };
    let driver = sysflow::SysFlowDriver::new(config()).unwrap();
    // `new` opens the output, so that an unwritable path fails there
    assert!(out.is_file());
    drop(driver);
    assert!(
        !out.exists(),
        "a driver that never ran left its header-only file"
    );
    // a file that existed before is replaced only when asked, and never removed (the
    // capture a FIFO, which new() does not read ahead)
    std::fs::write(&out, b"existing").unwrap();
    let fifo = dir.path().join("never-read.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let driver = sysflow::SysFlowDriver::new(sysflow::SysFlowConfig {
        file_overwrite: true,
        scap_input_path: Some(fifo),
        ..config()
    })
    .unwrap();
    drop(driver);
    assert!(out.is_file(), "a replaced file was removed");
    // with a capture file that cannot be read, new() fails before replacing it
    std::fs::write(&out, b"existing").unwrap();
    let e = sysflow::SysFlowDriver::new(sysflow::SysFlowConfig {
        file_overwrite: true,
        ..config()
    })
    .unwrap_err();
    assert!(e.to_string().contains("never-read.scap"), "{e}");
    assert_eq!(std::fs::read(&out).unwrap(), b"existing");
    std::fs::remove_file(&out).unwrap();
    // a driver that never runs, while another replaces its file in place and writes into
    // it (the same inode): the other's output is kept
    let idle = sysflow::SysFlowDriver::new(config()).unwrap();
    std::fs::write(&out, b"another writer's output, in the same inode").unwrap();
    drop(idle);
    assert!(out.is_file(), "another writer's file was removed");
    std::fs::remove_file(&out).unwrap();
    // a configuration that fails in `new` after the file was created leaves none either
    let e = sysflow::SysFlowDriver::new(sysflow::SysFlowConfig {
        socket_path: Some(dir.path().join("no-reader.sock")),
        ..config()
    })
    .unwrap_err();
    assert!(e.to_string().contains("no-reader.sock"), "{e}");
    assert!(!out.exists(), "a failed new() left its header-only file");
}

/// A file whose path is not UTF-8 is named in its header with the path's bytes, stored as
/// every captured name is (`\xHH`), so the name reads back exactly (it was U+FFFD).
#[test]
fn a_non_utf8_output_path_is_named_exactly_in_its_header() {
    use std::os::unix::ffi::OsStrExt;
    let Some(scap) = reference("alpine/alpine.scap") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir
        .path()
        .join(std::ffi::OsStr::from_bytes(b"trace-\xff\\-.sf"));
    sysflow::SysFlowDriver::new(sysflow::SysFlowConfig {
        scap_input_path: Some(scap),
        file_path: Some(out.clone()),
        exporter_id: "tests".into(),
        env_overrides: false,
        ..Default::default()
    })
    .unwrap()
    .run()
    .unwrap();
    let Some(Record::Header(h)) = records(&out).into_iter().next() else {
        panic!("no header first");
    };
    let want = format!("{}/trace-\\xff\\\\-.sf", dir.path().display());
    assert_eq!(h.filename, want);
    assert_eq!(
        sysflow::model::unescape_name(&h.filename),
        out.as_os_str().as_bytes()
    );
}

/// The driver looks a record's entities up only when an output reads them: never for the
/// file and socket outputs (they carry entities as records of their own), always as soon
/// as a callback or a sink of the user's (the trait's default) is there.
#[test]
fn links_are_needed_by_callbacks_and_user_sinks_not_by_files_and_sockets() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("sf.sock");
    let _reader = collect_packets(listener(&sock));
    let mut out = FanOut::new(SfHeader::default());
    assert!(!out.needs_links(), "no output");
    out.add(Box::new(
        SocketSink::connect(&sock, Backoff::default()).unwrap(),
    ));
    assert!(!out.needs_links(), "a socket");
    out.add(Box::new(CallbackSink::new(Box::new(|_| {}))));
    assert!(out.needs_links(), "a socket and a callback");

    /// A sink of the user's, with the trait's defaults.
    struct Mine;
    impl RecordSink for Mine {
        fn start(&mut self, _: &SfHeader) -> sysflow::Result<()> {
            Ok(())
        }
        fn write(&mut self, _: &RecordView<'_>) -> sysflow::Result<()> {
            Ok(())
        }
    }
    let file = FileSink::create(&dir.path().join("out.sf"), AvroCodec::Null, None).unwrap();
    assert!(!file.needs_links(), "a file");
    let mut out = FanOut::new(SfHeader::default());
    out.add(Box::new(Mine));
    assert!(out.needs_links(), "a user's sink");
}
