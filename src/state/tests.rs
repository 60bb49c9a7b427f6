//! State-engine tests that need a small hand-made process, not a capture.

use super::*;
use crate::aggregate::{AggConfig, Aggregator};
use crate::event::IoEvent;
use crate::model::Record;

const TID: i64 = 300;

/// A state with one process (pid 300, cwd `/work/`) known from the snapshot, no fds.
fn state() -> State {
    let mut st = State::new();
    st.load_snapshot(&ProcSnapshot {
        tid: TID,
        pid: TID,
        ptid: 1,
        vtid: TID,
        vpid: TID,
        exe: b"/opt/runner".to_vec(),
        exepath: b"/opt/runner".to_vec(),
        cwd: b"/work/".to_vec(),
        ..Default::default()
    });
    st.finish_snapshot();
    st
}

fn ev(ts: u64, kind: EventKind<'_>) -> SysEvent<'_> {
    SysEvent { ts, tid: TID, kind }
}

/// Runs the events through the state and the aggregator (the harness's settings) and
/// returns every record, shutdown flush included.
fn records(st: &mut State, events: &[SysEvent<'_>]) -> Vec<Record> {
    let cfg = crate::SysFlowConfig {
        enable_process_flow: false,
        file_only: false,
        file_read_mode: crate::FileReadMode::All,
        ..Default::default()
    };
    let mut agg = Aggregator::new(AggConfig::from(&cfg));
    let mut out: Vec<Record> = Vec::new();
    for e in events {
        agg.set_time(e.ts);
        let has_thread = st.apply(e);
        agg.handle(st, e, has_thread, &mut out).unwrap();
    }
    agg.finish(&mut out).unwrap();
    out
}

const PEER: SockTuple<'static> = SockTuple::V4 {
    sip: [10, 0, 0, 1],
    sport: 40000,
    dip: [10, 0, 0, 2],
    dport: 53,
};

fn io(dir: IoDir, fd: i64) -> EventKind<'static> {
    EventKind::Io(IoEvent {
        dir,
        fd: Some(fd),
        res: 12,
        tuple: Some(PEER),
    })
}

#[test]
fn sends_and_receives_on_an_fd_never_seen_opened_make_no_fd_and_no_flow() {
    let mut st = state();
    let out = records(
        &mut st,
        &[
            ev(1_000, io(IoDir::Write, 9)),
            ev(2_000, io(IoDir::Read, 10)),
        ],
    );
    assert!(st.fd(TID, 9).is_none() && st.fd(TID, 10).is_none());
    let flows: Vec<_> = out
        .iter()
        .filter(|r| matches!(r, Record::NetworkFlow(_) | Record::FileFlow(_)))
        .collect();
    assert!(flows.is_empty(), "invented flows: {flows:?}");
}

#[test]
fn a_send_on_a_socket_the_capture_saw_created_is_a_flow_with_its_protocol() {
    // Control for the test above: the same send on a known UDP socket is a flow.
    let mut st = state();
    let socket = EventKind::Socket {
        fd: 9,
        domain: AF_INET,
        sock_type: SOCK_DGRAM,
        proto: 0,
    };
    let out = records(&mut st, &[ev(500, socket), ev(1_000, io(IoDir::Write, 9))]);
    let nfs: Vec<_> = out
        .iter()
        .filter_map(|r| match r {
            Record::NetworkFlow(nf) => Some(nf),
            _ => None,
        })
        .collect();
    assert_eq!(nfs.len(), 1, "{out:?}");
    assert_eq!((nfs[0].proto, nfs[0].fd, nfs[0].dport), (17, 9, 53));
    assert_eq!(nfs[0].num_w_send_bytes, 12);
}

#[test]
fn a_new_process_whose_parent_the_capture_never_saw_keeps_its_parent_link() {
    // Child side of a fork (CLONE_PARENT, as runc's) of pid 500, whose parent 450 is in no
    // process list and has no event: the parent stands as a process of its own, described
    // by what the fork copied, and the child is linked to it.
    let mut st = State::new();
    let clone = EventKind::Clone(crate::event::CloneEvent {
        res: 0,
        flags: Some(cl::CLONE_PARENT),
        info: crate::event::ProcInfo {
            exe: Some(b"docker-runc\0"),
            args: Some(b"init\0"),
            tid: 500,
            pid: 500,
            ptid: 450,
            uid: Some(0),
            gid: Some(0),
            vtid: Some(500),
            vpid: Some(500),
            ..Default::default()
        },
    });
    let out = records(
        &mut st,
        &[SysEvent {
            ts: 7_000,
            tid: 500,
            kind: clone,
        }],
    );
    let procs: Vec<_> = out
        .iter()
        .filter_map(|r| match r {
            Record::Process(p) => Some(p),
            _ => None,
        })
        .collect();
    assert_eq!(procs.len(), 2, "{out:?}");
    let (parent, child) = (procs[0], procs[1]);
    assert_eq!((parent.oid.create_ts, parent.oid.hpid), (0, 450));
    assert_eq!(parent.state, crate::model::ObjectState::Reup);
    assert_eq!(parent.poid, None);
    assert_eq!(
        (parent.exe.as_str(), parent.exe_args.as_str()),
        ("docker-runc", "init")
    );
    assert_eq!((parent.uid, parent.user_name.as_str()), (-1, "<NA>"));
    assert_eq!((child.oid.create_ts, child.oid.hpid), (7_000, 500));
    assert_eq!(child.poid, Some(parent.oid));
    // The child's own view of its parent (ptid) is kept.
    assert_eq!(st.thread(500).map(|t| t.ptid), Some(450));
}

#[test]
fn clone_exits_naming_the_caller_itself_are_ignored() {
    // damaged input: a parent-side clone exit returning the caller's own tid, and child-side
    // exits naming the child as its own parent (a process) or group leader (a thread)
    let mut st = State::new();
    let ev = |res: i64, flags: u32, pid: i64, ptid: i64| SysEvent {
        ts: 5_000,
        tid: 42,
        kind: EventKind::Clone(crate::event::CloneEvent {
            res,
            flags: Some(flags),
            info: crate::event::ProcInfo {
                exe: Some(b"/bin/x\0"),
                tid: 42,
                pid,
                ptid,
                ..Default::default()
            },
        }),
    };
    let out = records(
        &mut st,
        &[
            ev(42, 0, 42, 1),
            ev(42, cl::CLONE_THREAD, 42, 1),
            ev(0, 0, 42, 42),
            ev(0, cl::CLONE_THREAD, 42, 7),
        ],
    );
    // nothing made of it, no panic, and each counted
    assert_eq!(st.invalid_events, 4);
    assert!(
        !out.iter().any(
            |r| matches!(r, Record::Process(p) if p.oid.hpid == 42 && p.oid.create_ts == 5_000)
        ),
        "{out:?}"
    );
}
