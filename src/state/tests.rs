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
    SysEvent {
        pid: -1,
        ts,
        tid: TID,
        kind,
    }
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

/// The network flows among `out`.
fn net_flows(out: &[Record]) -> Vec<&crate::model::NetworkFlow> {
    out.iter()
        .filter_map(|r| match r {
            Record::NetworkFlow(nf) => Some(nf),
            _ => None,
        })
        .collect()
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
fn a_dup_of_an_fd_never_seen_made_unnames_the_fd_it_replaced() {
    // fd 5 is /a; dup2(9, 5) with 9 never seen made and not named by the kernel (a
    // socket): fd 5 is no longer /a, and a write on it is charged to no file (libsinsp
    // keeps /a and charges it there). With the kernel's name (a file), fd 6 takes it;
    // dup2 of an fd onto itself changes nothing. fd 8 (/c) is closed, then made by such a
    // dup: counters of the new file are not charged to /c (as a call finishing after the
    // close would be).
    let mut st = state();
    st.learn_fd(TID, 5, FdInfo::new(FdKind::File, b"/a".to_vec()));
    st.learn_fd(TID, 7, FdInfo::new(FdKind::File, b"/b".to_vec()));
    st.learn_fd(TID, 8, FdInfo::new(FdKind::File, b"/c".to_vec()));
    let counters = EventKind::IoCounters(crate::event::IoCounters {
        fd: 8,
        read_ops: 0,
        read_bytes: 0,
        write_ops: 1,
        write_bytes: 3,
        first_ts: 5_500,
        pid: Some(TID),
    });
    let dup = |res, oldfd, kernel_path| EventKind::Dup {
        res,
        oldfd: Some(oldfd),
        kernel_path,
    };
    let out = records(
        &mut st,
        &[
            ev(1_000, dup(5, 9, None)),
            ev(2_000, io(IoDir::Write, 5)),
            ev(3_000, dup(6, 9, Some(&b"/k"[..]))),
            ev(4_000, dup(7, 7, None)),
            ev(
                5_000,
                EventKind::Close {
                    fd: Some(8),
                    res: 0,
                },
            ),
            ev(6_000, dup(8, 9, None)),
            ev(7_000, counters),
        ],
    );
    let name = |fd| {
        st.fd(TID, fd)
            .map(|f| String::from_utf8_lossy(&f.name).into_owned())
    };
    assert_eq!(
        (name(5), name(6), name(7), name(8)),
        (None, Some("/k".into()), Some("/b".into()), None)
    );
    // (the close of /c is a flow of its own, with no I/O)
    let writes: Vec<_> = out
        .iter()
        .filter(|r| match r {
            Record::NetworkFlow(f) => f.num_w_send_ops > 0,
            Record::FileFlow(f) => f.num_w_send_ops > 0,
            _ => false,
        })
        .collect();
    assert!(
        writes.is_empty(),
        "a write charged to a file it did not reach: {writes:?}"
    );
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
    let nfs = net_flows(&out);
    assert_eq!(nfs.len(), 1, "{out:?}");
    assert_eq!((nfs[0].proto, nfs[0].fd, nfs[0].dport), (17, 9, 53));
    assert_eq!(nfs[0].num_w_send_bytes, 12);
}

#[test]
fn an_unbound_udp_clients_request_and_reply_are_one_flow() {
    // A client socket never bound: its local address stays 0.0.0.0 and the kernel picks
    // port 40086 at the first sendto. The send's tuple is (0.0.0.0:40086, server), the
    // reply's (server, 0.0.0.0:40086). libsinsp's update_fd takes the reply's whole tuple
    // (destination included) and fills the zero address from the interfaces, so both
    // calls name one flow, client to server; keeping the send's destination named the
    // reply's flow 127.0.0.1:9922-127.0.0.1:9922.
    let mut st = state();
    st.ipv4_ifaces = vec![Ipv4Iface {
        addr: [127, 0, 0, 1],
        netmask: [255, 0, 0, 0],
    }];
    let server = ([127, 0, 0, 1], 9922);
    let call = |dir, tuple| {
        EventKind::Io(IoEvent {
            dir,
            fd: Some(9),
            res: 12,
            tuple: Some(tuple),
        })
    };
    let send = SockTuple::V4 {
        sip: [0; 4],
        sport: 40086,
        dip: server.0,
        dport: server.1,
    };
    let reply = SockTuple::V4 {
        sip: server.0,
        sport: server.1,
        dip: [0; 4],
        dport: 40086,
    };
    let socket = EventKind::Socket {
        fd: 9,
        domain: AF_INET,
        sock_type: SOCK_DGRAM,
        proto: 0,
    };
    let out = records(
        &mut st,
        &[
            ev(500, socket),
            ev(1_000, call(IoDir::Write, send)),
            ev(2_000, call(IoDir::Read, reply)),
            ev(3_000, call(IoDir::Write, send)),
            ev(4_000, call(IoDir::Read, reply)),
        ],
    );
    let nfs = net_flows(&out);
    assert_eq!(nfs.len(), 1, "{nfs:#?}");
    let lo = i32::from_le_bytes([127, 0, 0, 1]);
    let nf = nfs[0];
    assert_eq!(
        (nf.sip, nf.sport, nf.dip, nf.dport, nf.proto),
        (lo, 40086, lo, 9922, 17)
    );
    assert_eq!(
        (
            nf.num_w_send_ops,
            nf.num_r_recv_ops,
            nf.num_w_send_bytes,
            nf.num_r_recv_bytes
        ),
        (2, 2, 24, 24)
    );
    assert_eq!(
        st.fd(TID, 9).unwrap().name,
        b"127.0.0.1:40086->127.0.0.1:9922"
    );
}

#[test]
fn a_listed_datagram_socket_without_a_peer_takes_its_role_from_its_first_call() {
    // A UDP client socket that existed before the capture, bound to port 49502 with no
    // peer: /proc lists it like a server's (no remote end). Listed without a role, as
    // libsinsp lists it, its first sendto guesses "client" and the flow runs client to
    // server; listed as a server it was swapped to 43669->49502.
    let mut st = State::new();
    let sock = FdInfo {
        kind: FdKind::Ipv4ServSock,
        l4proto: l4::UDP,
        serv_ip: [127, 0, 0, 1],
        serv_port: 49502,
        name: b"127.0.0.1:49502".to_vec(),
        role: Role::None,
        ..Default::default()
    };
    st.load_snapshot(&ProcSnapshot {
        tid: TID,
        pid: TID,
        ptid: 1,
        vtid: TID,
        vpid: TID,
        exe: b"/opt/client".to_vec(),
        fds: vec![(7, sock)],
        ..Default::default()
    });
    st.finish_snapshot();
    let lo = [127, 0, 0, 1];
    let call = |dir, tuple| {
        EventKind::Io(IoEvent {
            dir,
            fd: Some(7),
            res: 10,
            tuple: Some(tuple),
        })
    };
    let send = SockTuple::V4 {
        sip: lo,
        sport: 49502,
        dip: lo,
        dport: 43669,
    };
    let reply = SockTuple::V4 {
        sip: lo,
        sport: 43669,
        dip: lo,
        dport: 49502,
    };
    let out = records(
        &mut st,
        &[
            ev(1_000, call(IoDir::Write, send)),
            ev(2_000, call(IoDir::Read, reply)),
        ],
    );
    let nfs: Vec<_> = net_flows(&out)
        .iter()
        .map(|nf| (nf.sport, nf.dport, nf.num_w_send_ops, nf.num_r_recv_ops))
        .collect();
    assert_eq!(nfs, [(49502, 43669, 1, 1)]);
}

/// Adds process 450 (/tmp/cloner in /tmp/, a child of [`TID`], fd 5 = /c): the caller of
/// the `CLONE_PARENT` tests.
fn add_cloner(st: &mut State) {
    st.load_snapshot(&ProcSnapshot {
        tid: 450,
        pid: 450,
        ptid: TID,
        vtid: 450,
        vpid: 450,
        exe: b"/tmp/cloner".to_vec(),
        exepath: b"/tmp/cloner".to_vec(),
        cwd: b"/tmp/".to_vec(),
        ..Default::default()
    });
    st.finish_snapshot();
    st.learn_fd(450, 5, FdInfo::new(FdKind::File, b"/c".to_vec()));
}

#[test]
fn a_clone_parent_child_runs_the_executable_the_kernel_names_not_its_parents() {
    // Pid 300 (/opt/runner, cwd /work/, env A=1, no tty) is the kernel parent of 600, made
    // by a CLONE_PARENT clone of a process running /tmp/cloner: a live capture's child
    // record describes the child itself, which it keeps; a capture file's does not, and
    // the child takes its parent's exe, cwd and env (libsinsp's behaviour, kept for the
    // reference's captures).
    let own = crate::event::OwnImage {
        exepath: b"/tmp/cloner",
        cwd: Some(b"/tmp"),
        env: Some(b"B=2\0C=3\0"),
        tty: 34816,
        loginuid: 1000,
        caller: None,
    };
    // The caller, 450 (a child of 300), has /c open as fd 5 where 300 has /a: the child's
    // fd 5 is the caller's when the probe names the caller, none when it does not (the
    // probe names it at its first use), and the parent's from a capture file.
    let with_caller = crate::event::OwnImage {
        caller: Some(450),
        ..own
    };
    let cloner = |fd5| (("/tmp/cloner", "/tmp/", vec!["B=2", "C=3"], true), fd5);
    for (own, want) in [
        (Some(with_caller), cloner(Some("/c"))),
        (Some(own), cloner(None)),
        (
            None,
            (("/opt/runner", "/work/", vec!["A=1"], false), Some("/a")),
        ),
    ] {
        let mut st = state();
        st.threads.get_mut(TID).unwrap().env = vec![b"A=1".to_vec()];
        st.learn_fd(TID, 5, FdInfo::new(FdKind::File, b"/a".to_vec()));
        add_cloner(&mut st);
        let clone = EventKind::Clone(crate::event::CloneEvent {
            res: 0,
            flags: Some(cl::CLONE_PARENT),
            own,
            info: crate::event::ProcInfo {
                exe: Some(b"cloner\0"),
                tid: 600,
                pid: 600,
                ptid: TID,
                vtid: Some(600),
                vpid: Some(600),
                cwd: Some(b"/ignored"),
                ..Default::default()
            },
        });
        let out = records(
            &mut st,
            &[SysEvent {
                pid: -1,
                ts: 7_000,
                tid: 600,
                kind: clone,
            }],
        );
        let child = out
            .iter()
            .find_map(|r| match r {
                Record::Process(p) if p.oid.hpid == 600 => Some(p),
                _ => None,
            })
            .expect("the child's process record");
        let env: Vec<&str> = child.env.iter().map(String::as_str).collect();
        assert_eq!(
            (child.exe.as_str(), child.cwd.as_str(), env, child.tty),
            want.0
        );
        assert_eq!(child.poid.map(|o| o.hpid), Some(TID));
        let t = st.thread(600).unwrap();
        assert_eq!(t.loginuid, if own.is_some() { 1000 } else { 0 });
        let fd5 = st
            .fd(600, 5)
            .map(|f| String::from_utf8_lossy(&f.name).into_owned());
        assert_eq!(fd5.as_deref(), want.1);
        // a copy: what the probe says of it at first use may correct it
        assert_eq!(st.fd_inherited(600, 5), want.1.is_some());
    }
}

#[test]
fn a_clone_parent_child_whose_record_comes_after_its_caller_ended_gets_the_callers_fds() {
    // Caller 450 (a process of its own, child of 300) clones 600 with CLONE_PARENT while
    // its fd 5 is /c, then opens /d as fd 6 and ends; the child first runs (and its record
    // comes) only then: its fds are the caller's at the clone.
    let mut st = state();
    st.set_live(true);
    add_cloner(&mut st);
    let info = |tid, pid, ptid| crate::event::ProcInfo {
        exe: Some(b"cloner\0"),
        tid,
        pid,
        ptid,
        vtid: Some(tid),
        vpid: Some(pid),
        ..Default::default()
    };
    let caller_side = EventKind::Clone(crate::event::CloneEvent {
        res: 600,
        flags: Some(cl::CLONE_PARENT),
        own: None,
        info: info(450, 450, TID),
    });
    let child_side = EventKind::Clone(crate::event::CloneEvent {
        res: 0,
        flags: Some(cl::CLONE_PARENT),
        own: Some(crate::event::OwnImage {
            exepath: b"/tmp/cloner",
            caller: Some(450),
            ..Default::default()
        }),
        info: info(600, 600, TID),
    });
    let at = |ts, tid, kind| SysEvent {
        pid: -1,
        ts,
        tid,
        kind,
    };
    records(
        &mut st,
        &[
            at(7_000, 450, caller_side),
            at(
                7_500,
                450,
                EventKind::Dup {
                    res: 6,
                    oldfd: Some(5),
                    kernel_path: None,
                },
            ),
            at(
                8_000,
                450,
                EventKind::Exit {
                    status: 0,
                    reaper: None,
                },
            ),
            at(7_000, 600, child_side),
        ],
    );
    assert!(st.thread(450).is_none(), "the caller is gone");
    let name = |fd| {
        st.fd(600, fd)
            .map(|f| String::from_utf8_lossy(&f.name).into_owned())
    };
    assert_eq!((name(5), name(6)), (Some("/c".into()), None));
    assert_eq!(st.sizes().clone_parent_tables, 0, "the child took it");

    // The child's record first (its caller still there): nothing is kept for it; nor from
    // a capture file, whose child records cannot take it.
    for live in [true, false] {
        let mut st = state();
        st.set_live(live);
        add_cloner(&mut st);
        let first = if live {
            vec![at(7_000, 600, child_side), at(7_000, 450, caller_side)]
        } else {
            vec![at(7_000, 450, caller_side)]
        };
        records(&mut st, &first);
        assert_eq!(st.sizes().clone_parent_tables, 0, "live: {live}");
    }
}

#[test]
fn kept_clone_parent_tables_are_bounded_and_a_taken_one_frees_its_place() {
    let mut st = state();
    st.set_live(true);
    add_cloner(&mut st);
    let n = CLONE_PARENT_TABLES as i64;
    for child in 1000..1000 + n {
        st.keep_clone_parent_fds(7_000, 450, child);
    }
    assert!(st.take_clone_parent_fds(1030).is_some());
    // the place 1030 left takes one more without evicting the oldest
    st.keep_clone_parent_fds(7_000, 450, 1000 + n);
    assert_eq!(st.sizes().clone_parent_tables, CLONE_PARENT_TABLES);
    assert!(st.clone_parent_fds.contains_key(&1000));
    // the next one evicts the oldest
    st.keep_clone_parent_fds(7_000, 450, 1001 + n);
    assert_eq!(st.sizes().clone_parent_tables, CLONE_PARENT_TABLES);
    assert!(!st.clone_parent_fds.contains_key(&1000));
    assert!(st.clone_parent_fds.contains_key(&1001));
    let kept = st.take_clone_parent_fds(1001).expect("kept");
    assert_eq!((kept.caller, kept.born, kept.fds.len()), (450, 7_000, 1));
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
        own: None,
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
            pid: -1,
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
    let ev = |res: i64, flags: u32, pid: i64, ptid: i64| {
        clone_ev(5_000, 42, res, flags, b"/bin/x\0", (pid, ptid))
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

// ------------------------------------------------------------ reconciliation with /proc

/// Creation time of the threads of [`churned_state`] (epoch ns).
const BORN: u64 = 1_000_000_000;

/// Threads 100..=110: process 100 with threads 101..=104, process 105 with 106 and 107,
/// single-threaded processes 108, 109 and 110; all created at [`BORN`].
fn churned_state() -> State {
    let mut st = State::new();
    let groups: [(i64, &[i64]); 5] = [
        (100, &[100, 101, 102, 103, 104]),
        (105, &[105, 106, 107]),
        (108, &[108]),
        (109, &[109]),
        (110, &[110]),
    ];
    for (pid, tids) in groups {
        for &tid in tids {
            st.load_snapshot(&ProcSnapshot {
                tid,
                pid,
                ptid: if tid == pid { 1 } else { pid },
                vtid: tid,
                vpid: pid,
                exe: b"/bin/worker".to_vec(),
                clone_ts: BORN,
                flags: if tid == pid {
                    0
                } else {
                    cl::CLONE_THREAD | cl::CLONE_FILES
                },
                ..Default::default()
            });
        }
    }
    st.finish_snapshot();
    st
}

/// A fake `/proc`: `<pid>/task/<tid>` directories and a `<pid>/stat` with the start time
/// (clock ticks) and state given.
fn fake_proc(procs: &[(i64, u64, char, &[i64])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (pid, ticks, state, tids) in procs {
        for tid in *tids {
            std::fs::create_dir_all(dir.path().join(format!("{pid}/task/{tid}"))).unwrap();
        }
        let stat = format!(
            "{pid} (worker) {state} 1 {pid} {pid} 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 {} 0 {ticks} 0 0",
            tids.len()
        );
        std::fs::write(dir.path().join(format!("{pid}/stat")), stat).unwrap();
    }
    dir
}

fn listing(st: &State, proc: &std::path::Path) -> ProcListing {
    ProcListing::read(proc, st.reconcile_targets(), &|boot_ns| boot_ns).unwrap()
}

fn tids(st: &State) -> Vec<i64> {
    let mut v: Vec<i64> = st.threads.iter().map(|t| t.tid).collect();
    v.sort_unstable();
    v
}

/// Feeds the reconciliation's exits through the state and an aggregator (then one more
/// event, which runs the deferred removal of the last one); returns the records.
fn apply_exits(st: &mut State, lost: &[i64]) -> Vec<Record> {
    let cfg = crate::SysFlowConfig {
        enable_process_flow: false,
        ..Default::default()
    };
    let mut agg = Aggregator::new(AggConfig::from(&cfg));
    let mut out: Vec<Record> = Vec::new();
    for &tid in lost {
        let e = State::exit_event(tid, 5_000_000_000);
        agg.set_time(e.ts);
        let has_thread = st.apply(&e);
        agg.handle(st, &e, has_thread, &mut out).unwrap();
    }
    st.apply(&SysEvent {
        pid: -1,
        ts: 5_000_000_001,
        tid: 100,
        kind: EventKind::Close {
            fd: Some(99),
            res: -9,
        },
    });
    out
}

#[test]
fn reconciliation_exits_exactly_the_threads_gone_from_proc_at_two_passes() {
    let mut st = churned_state();
    // 103 (a thread) and 109 (a process) are gone; pid 110 is another process now (it
    // started 4 s after ours); the rest is there, with the start time we hold
    let proc = fake_proc(&[
        (100, 100, 'S', &[100, 101, 102, 104]),
        (105, 100, 'S', &[105, 106, 107]),
        (108, 100, 'R', &[108]),
        (110, 500, 'S', &[110]),
    ]);
    let before = tids(&st);
    assert_eq!(before, (100..=110).collect::<Vec<_>>());
    // first pass: suspects only
    assert!(st.reconcile(&listing(&st, proc.path()), 0).is_empty());
    assert_eq!(st.sizes().suspects, 3);
    assert_eq!(tids(&st), before);
    // second pass: lost, by process, each exits through the normal path
    let lost = st.reconcile(&listing(&st, proc.path()), 0);
    assert_eq!(lost, vec![103, 109, 110]);
    assert_eq!(st.reconciled_exits, 3);
    let out = apply_exits(&mut st, &lost);
    let exits: Vec<(i64, i64, i32)> = out
        .iter()
        .filter_map(|r| match r {
            Record::ProcessEvent(e) if e.op_flags.contains(crate::model::OpFlags::EXIT) => {
                Some((e.proc_oid.hpid, e.tid, e.ret))
            }
            _ => None,
        })
        .collect();
    assert_eq!(exits, vec![(100, 103, -1), (109, 109, -1), (110, 110, -1)]);
    let after: Vec<i64> = before
        .iter()
        .copied()
        .filter(|t| ![103, 109, 110].contains(t))
        .collect();
    assert_eq!(tids(&st), after);
    // the process keeps its other threads, its thread list shrank
    assert_eq!(st.threads.group_alive(100), 4);
    assert_eq!(st.threads.group_members(100), vec![100, 101, 102, 104]);
    let s = st.sizes();
    assert_eq!((s.processes, s.group_entries, s.suspects), (3, 8, 0));
    // nothing more at later passes
    assert!(st.reconcile(&listing(&st, proc.path()), 0).is_empty());
    assert!(st.reconcile(&listing(&st, proc.path()), 0).is_empty());
    assert_eq!(st.reconciled_exits, 3);
}

#[test]
fn reconciliation_spares_threads_that_exited_or_came_back_between_passes() {
    let mut st = churned_state();
    let proc = fake_proc(&[(100, 100, 'S', &[100, 101, 102, 104])]);
    assert!(st.reconcile(&listing(&st, proc.path()), 0).is_empty());
    // the capture sees 105..=107 exit (their exits were only late), and 108 is a new
    // process under the same pid (its clone seen): neither is lost
    for tid in [106, 107, 105] {
        let e = SysEvent {
            pid: -1,
            ts: 2 * BORN,
            tid,
            kind: EventKind::Exit {
                status: 0,
                reaper: None,
            },
        };
        st.apply(&e);
    }
    let fork = clone_ev(3 * BORN, 100, 108, 0, b"/bin/worker\0", (100, 1));
    st.apply(&fork);
    let lost = st.reconcile(&listing(&st, proc.path()), 0);
    assert_eq!(lost, vec![103, 109, 110]);
    // 108 (the new one) is a suspect of its own now
    assert_eq!(st.sizes().suspects, 1);
}

#[test]
fn a_listing_judges_only_the_threads_held_when_its_targets_were_taken() {
    // The live loop takes the targets, a reader thread lists /proc, and the listing is
    // applied later, after more events: a process (120) and a thread (108's 121) born in
    // between are in no listing read before they were, and must not be suspects on
    // its word (120 would be lost at the next pass, while its exit may still be in flight)
    let mut st = churned_state();
    let everyone = fake_proc(&[
        (100, 100, 'S', &[100, 101, 102, 103, 104]),
        (105, 100, 'S', &[105, 106, 107]),
        (108, 100, 'S', &[108]),
        (109, 100, 'S', &[109]),
        (110, 100, 'S', &[110]),
    ]);
    let targets = st.reconcile_targets();
    let stale = ProcListing::read(everyone.path(), targets, &|b| b).unwrap();
    st.apply(&clone_ev(2 * BORN, 100, 120, 0, b"/bin/worker\0", (100, 1)));
    st.apply(&clone_ev(
        2 * BORN + 1,
        108,
        121,
        cl::CLONE_THREAD | cl::CLONE_FILES,
        b"/bin/worker\0",
        (108, 1),
    ));
    assert!(st.reconcile(&stale, 0).is_empty());
    assert_eq!(st.sizes().suspects, 0);
    // the next listing is read after their birth: gone then, they are suspects, and lost
    // only at the pass after
    assert!(st.reconcile(&listing(&st, everyone.path()), 0).is_empty());
    assert_eq!(st.sizes().suspects, 2);
    assert_eq!(
        st.reconcile(&listing(&st, everyone.path()), 0),
        vec![121, 120]
    );
}

#[test]
fn reconciliation_removes_the_collectors_own_threads_silently() {
    let mut st = churned_state();
    // the collector is process 105: its thread 107 ended (never captured)
    let proc = fake_proc(&[
        (100, 100, 'S', &[100, 101, 102, 103, 104]),
        (105, 100, 'S', &[105, 106]),
        (108, 100, 'S', &[108]),
        (109, 100, 'S', &[109]),
        (110, 100, 'S', &[110]),
    ]);
    assert!(st.reconcile(&listing(&st, proc.path()), 105).is_empty());
    assert!(st.reconcile(&listing(&st, proc.path()), 105).is_empty());
    assert!(st.thread(107).is_none());
    assert_eq!(st.threads.group_members(105), vec![105, 106]);
    assert_eq!(st.reconciled_exits, 0);
}

#[test]
fn a_zombie_group_leader_has_exited() {
    let mut st = churned_state();
    // 108 exited (its exit lost) and its parent has not reaped it yet
    let proc = fake_proc(&[
        (100, 100, 'S', &[100, 101, 102, 103, 104]),
        (105, 100, 'S', &[105, 106, 107]),
        (108, 100, 'Z', &[108]),
        (109, 100, 'S', &[109]),
        (110, 100, 'S', &[110]),
    ]);
    assert!(st.reconcile(&listing(&st, proc.path()), 0).is_empty());
    assert_eq!(st.reconcile(&listing(&st, proc.path()), 0), vec![108]);
}

#[test]
fn placeholder_threads_are_looked_up_by_tid() {
    let mut st = churned_state();
    // events of threads the capture never saw made: 700 still runs, 701 is gone
    for tid in [700, 701] {
        st.apply(&SysEvent {
            pid: -1,
            ts: 2 * BORN,
            tid,
            kind: EventKind::Close {
                fd: Some(3),
                res: -9,
            },
        });
    }
    let proc = fake_proc(&[
        (100, 100, 'S', &[100, 101, 102, 103, 104]),
        (105, 100, 'S', &[105, 106, 107]),
        (108, 100, 'S', &[108]),
        (109, 100, 'S', &[109]),
        (110, 100, 'S', &[110]),
        (700, 200, 'S', &[700]),
    ]);
    assert!(st.reconcile(&listing(&st, proc.path()), 0).is_empty());
    let lost = st.reconcile(&listing(&st, proc.path()), 0);
    assert_eq!(lost, vec![701]);
    apply_exits(&mut st, &lost);
    assert!(st.thread(701).is_none() && st.thread(700).is_some());
}

#[test]
fn a_process_thread_list_shrinks_with_its_threads() {
    let mut st = state();
    for i in 0..500 {
        let tid = 1_000 + i;
        let clone = clone_ev(
            1_000 + i as u64,
            TID,
            tid,
            cl::CLONE_THREAD | cl::CLONE_FILES,
            b"/opt/runner\0",
            (TID, 1),
        );
        st.apply(&clone);
        st.apply(&SysEvent {
            pid: -1,
            ts: 2_000 + i as u64,
            tid,
            kind: EventKind::Exit {
                status: 0,
                reaper: None,
            },
        });
    }
    st.apply(&ev(
        9_000,
        EventKind::Close {
            fd: Some(3),
            res: -9,
        },
    ));
    let s = st.sizes();
    assert_eq!((s.threads, s.processes, s.group_entries), (1, 1, 1));
    assert_eq!(st.threads.group_members(TID), vec![TID]);
}

#[test]
fn users_of_a_forgotten_container_are_pruned_the_hosts_stay() {
    let mut st = State::new();
    st.users
        .load_passwd(b"", b"root:x:0:0:root:/root:/bin/sh\n");
    for c in [b"aaaaaaaaaaaa", b"bbbbbbbbbbbb"] {
        st.users.add_user(
            c,
            UserInfo {
                uid: 1000,
                name: b"app".to_vec(),
                ..Default::default()
            },
        );
        st.users.add_group(c, 1000, b"app");
    }
    // container bbbbbbbbbbbb is still described
    st.containers.insert(ContainerInfo {
        id: "bbbbbbbbbbbb".into(),
        has_metadata: true,
        ..Default::default()
    });
    st.prune_tables();
    assert!(st.users.user(b"", 0).is_some());
    assert!(st.users.user(b"aaaaaaaaaaaa", 1000).is_none());
    assert!(st.users.group(b"aaaaaaaaaaaa", 1000).is_none());
    assert!(st.users.user(b"bbbbbbbbbbbb", 1000).is_some());
    assert_eq!(st.users.sizes(), (2, 1));
}

#[test]
fn a_clone_exit_arriving_after_its_child_ended_does_not_bring_the_child_back() {
    // a vfork parent resumes once its child exec'd: /bin/true can end before the
    // parent's clone exit (which carries the child's creation time) is read
    let mut st = state();
    let clone = |res: i64, tid: i64| {
        clone_ev(
            7_000,
            tid,
            res,
            0,
            b"/opt/runner\0",
            (tid, if res == 0 { TID } else { 1 }),
        )
    };
    st.apply(&clone(0, 301));
    st.apply(&SysEvent {
        pid: -1,
        ts: 7_500,
        tid: 301,
        kind: EventKind::Exit {
            status: 0,
            reaper: None,
        },
    });
    st.apply(&clone(301, TID));
    assert!(st.thread(301).is_none());
    assert_eq!(st.threads.len(), 1);
    // a clone with another creation time is another child
    let mut later = clone(301, TID);
    later.ts = 9_000;
    st.apply(&later);
    assert!(st.thread(301).is_some());
}

/// Local addresses as libsinsp decides them: the interfaces', and for a container's
/// processes its own IPv4 (any container's when its own is unknown).
#[test]
fn local_addresses_are_interfaces_and_container_ips() {
    let mut st = State::new();
    st.ipv4_ifaces.push(Ipv4Iface {
        addr: [10, 0, 0, 1],
        netmask: [255, 0, 0, 0],
    });
    st.ipv6_addrs.push(std::net::Ipv6Addr::LOCALHOST.octets());
    st.containers.insert(ContainerInfo {
        id: "aaaaaaaaaaaa".into(),
        ip: Some([172, 17, 0, 4].into()),
        ..Default::default()
    });
    st.containers.insert(ContainerInfo {
        id: "bbbbbbbbbbbb".into(),
        ..Default::default()
    });
    let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
    assert!(st.is_local_addr(ip("10.0.0.1"), ""));
    assert!(!st.is_local_addr(ip("10.0.0.2"), ""));
    assert!(st.is_local_addr(ip("::1"), ""));
    assert!(!st.is_local_addr(ip("172.17.0.4"), ""));
    assert!(st.is_local_addr(ip("172.17.0.4"), "aaaaaaaaaaaa"));
    assert!(st.is_local_addr(ip("10.0.0.1"), "aaaaaaaaaaaa"));
    // a container without a known IP: any container's IP counts
    assert!(st.is_local_addr(ip("172.17.0.4"), "bbbbbbbbbbbb"));
    assert!(!st.is_local_addr(ip("172.17.0.5"), "bbbbbbbbbbbb"));
}

// ------------------------------------------------------- thread removal from large lists

/// Init (1) and a process 300 under it, from the snapshot.
fn init_and_runner() -> State {
    listed(&[(1, 1, 0), (TID, TID, 1)])
}

/// A clone event of thread `tid` (of process `pid`, whose parent is `ptid`) running
/// `exe`: the caller's side with the child's tid as `res`, or the child's side with 0.
fn clone_ev(
    ts: u64,
    tid: i64,
    res: i64,
    flags: u32,
    exe: &'static [u8],
    (pid, ptid): (i64, i64),
) -> SysEvent<'static> {
    SysEvent {
        pid: -1,
        ts,
        tid,
        kind: EventKind::Clone(crate::event::CloneEvent {
            res,
            flags: Some(flags),
            own: None,
            info: crate::event::ProcInfo {
                exe: Some(exe),
                tid,
                pid,
                ptid,
                ..Default::default()
            },
        }),
    }
}

fn thread_clone(ts: u64, child: i64) -> SysEvent<'static> {
    clone_ev(
        ts,
        TID,
        child,
        cl::CLONE_THREAD | cl::CLONE_FILES,
        b"/opt/runner\0",
        (TID, 1),
    )
}

fn exit_of(ts: u64, tid: i64) -> SysEvent<'static> {
    SysEvent {
        pid: -1,
        ts,
        tid,
        kind: EventKind::Exit {
            status: 0,
            reaper: None,
        },
    }
}

#[test]
fn threads_of_a_large_process_leave_its_lists_in_order_without_scans() {
    const N: i64 = 3_000;
    let mut st = init_and_runner();
    let tids: Vec<i64> = (0..N).map(|i| 1_000 + i).collect();
    for (i, &tid) in tids.iter().enumerate() {
        st.apply(&thread_clone(1_000 + i as u64, tid));
    }
    // every thread is in its process's list (main first, then by creation) and, as a
    // thread's parent is its process's parent, in init's children list
    let mut expect = vec![TID];
    expect.extend(&tids);
    assert_eq!(st.threads.group_members(TID), expect);
    let s = st.sizes();
    assert_eq!(
        (s.group_entries, s.child_entries),
        (N as usize + 2, N as usize + 1)
    );
    let removals_before = st.threads.list_removals;
    // the odd ones exit first, the newest first; then the even ones, oldest first
    let odd = tids.iter().copied().filter(|t| t % 2 == 1).rev();
    let even: Vec<i64> = tids.iter().copied().filter(|t| t % 2 == 0).collect();
    let mut ts = 10_000;
    for tid in odd {
        ts += 1;
        st.apply(&exit_of(ts, tid));
    }
    st.apply(&ev(
        ts + 1,
        EventKind::Close {
            fd: Some(3),
            res: -9,
        },
    ));
    let mut expect = vec![TID];
    expect.extend(&even);
    assert_eq!(st.threads.group_members(TID), expect);
    assert_eq!(st.threads.group_alive(TID), 1 + N as u64 / 2);
    let s = st.sizes();
    assert_eq!(
        (s.threads, s.group_entries),
        (2 + N as usize / 2, 1 + N as usize / 2 + 1)
    );
    assert_eq!(s.child_entries, N as usize / 2 + 1);
    for tid in even {
        ts += 1;
        st.apply(&exit_of(ts, tid));
    }
    st.apply(&ev(
        ts + 1,
        EventKind::Close {
            fd: Some(3),
            res: -9,
        },
    ));
    assert_eq!(st.threads.group_members(TID), vec![TID]);
    let s = st.sizes();
    assert_eq!(
        (s.threads, s.processes, s.group_entries, s.child_entries),
        (2, 2, 2, 1)
    );
    // each exit took its thread out of a bounded number of lists (each removal is O(1):
    // RefList links its entries through a map; this guards against exits that walk or
    // rebuild the lists entry by entry)
    let removals = st.threads.list_removals - removals_before;
    assert!(
        removals <= 4 * N as u64,
        "{removals} list removals for {N} exits"
    );
}

#[test]
fn a_dead_main_threads_children_go_to_its_oldest_live_thread() {
    // threads 1001, 1002 and 1003 in creation order; 1001 exits, the main thread forks
    // 900, then exits: 900's reaper is the oldest thread still alive (1002), and the
    // next (1003) after that one exits
    let mut st = init_and_runner();
    for (i, tid) in [1001, 1002, 1003].into_iter().enumerate() {
        st.apply(&thread_clone(1_000 + i as u64, tid));
    }
    st.apply(&exit_of(2_000, 1001));
    st.apply(&clone_ev(3_000, TID, 900, 0, b"/opt/runner\0", (TID, 1)));
    assert_eq!(st.thread(900).map(|t| t.ptid), Some(TID));
    st.apply(&exit_of(4_000, TID));
    st.apply(&exit_of(5_000, 1002));
    assert_eq!(st.thread(900).map(|t| t.ptid), Some(1002));
    st.apply(&ev(
        6_000,
        EventKind::Close {
            fd: Some(3),
            res: -9,
        },
    ));
    assert_eq!(st.thread(900).map(|t| t.ptid), Some(1003));
    assert_eq!(st.threads.group_members(TID), vec![TID, 1003]);
}

/// A live process list names a thread's main thread as its parent. When the main
/// thread exits first, its oldest live thread is its children's reaper, which is one of
/// those children itself: not damaged input (nothing counted), and that thread takes
/// the dead thread's parent instead of losing its own.
#[test]
fn a_thread_chosen_as_its_own_reaper_takes_the_dead_threads_parent() {
    let mut st = listed(&[(1, 1, 0), (TID, TID, 1), (301, TID, TID), (302, TID, TID)]);
    assert_eq!(st.invalid_events, 0);
    let next = |st: &mut State, ts: u64| {
        st.apply(&ev(
            ts,
            EventKind::Close {
                fd: Some(3),
                res: -9,
            },
        ));
    };
    st.apply(&exit_of(1_000, TID));
    next(&mut st, 1_500);
    assert_eq!(st.thread(301).map(|t| t.ptid), Some(1));
    assert_eq!(st.thread(302).map(|t| t.ptid), Some(301));
    st.apply(&exit_of(2_000, 301));
    next(&mut st, 2_500);
    assert_eq!(st.thread(302).map(|t| t.ptid), Some(1));
    assert_eq!(ancestry(&st, 302), Some(vec![302, 1]));
    assert_eq!(st.invalid_events, 0);
}

// ------------------------------------------------------------------- parent loops

/// The parent chain of `tid` (threads held), up to a thread not held; `None` if it
/// loops (it never may).
fn ancestry(st: &State, tid: i64) -> Option<Vec<i64>> {
    let mut chain = vec![tid];
    let mut cur = st.thread(tid)?.ptid;
    while let Some(t) = st.thread(cur) {
        if chain.contains(&t.tid) {
            return None;
        }
        chain.push(t.tid);
        cur = t.ptid;
    }
    Some(chain)
}

/// The chain of processes above `tid`'s process as the aggregator walks it (a main
/// thread's parent thread, that thread's main thread, ...), by pid; `None` if it loops.
fn process_ancestry(st: &State, tid: i64) -> Option<Vec<i64>> {
    let main = |t: i64| st.threads.main_of(t).or_else(|| st.thread(t));
    let mut chain = vec![main(tid)?.pid];
    let mut cur = main(tid)?.ptid;
    while let Some(m) = st.thread(cur).and_then(|t| main(t.tid)) {
        if chain.contains(&m.pid) {
            return None;
        }
        chain.push(m.pid);
        cur = m.ptid;
    }
    Some(chain)
}

/// A child-side clone event: `tid` is a new process of parent `ptid`.
fn child_fork(ts: u64, tid: i64, ptid: i64) -> SysEvent<'static> {
    clone_ev(ts, tid, 0, 0, b"/bin/x\0", (tid, ptid))
}

/// A caller-side clone event: `tid` makes a new process `child`.
fn parent_fork(ts: u64, tid: i64, pid: i64, child: i64) -> SysEvent<'static> {
    clone_ev(ts, tid, child, 0, b"/bin/x\0", (pid, 1))
}

#[test]
fn a_clone_that_would_close_a_parent_loop_is_refused_and_counted() {
    // 400 is a child of 300 (known from the process list), then a (damaged or hostile)
    // clone says 300 is a child of 400
    let mut st = init_and_runner();
    st.apply(&child_fork(5_000, 400, TID));
    assert_eq!(ancestry(&st, 400), Some(vec![400, TID, 1]));
    st.apply(&child_fork(6_000, TID, 400));
    assert_eq!(ancestry(&st, 400), Some(vec![400, TID]));
    assert_eq!(ancestry(&st, TID), Some(vec![TID]));
    assert_eq!(st.invalid_events, 1);
    // the same with three processes: 300 under 500, under 400, under 300
    let mut st = init_and_runner();
    st.apply(&child_fork(5_000, 400, TID));
    st.apply(&child_fork(6_000, 500, 400));
    st.apply(&child_fork(7_000, TID, 500));
    assert_eq!(ancestry(&st, 500), Some(vec![500, 400, TID]));
    for tid in [1, TID, 400, 500] {
        assert!(process_ancestry(&st, tid).is_some(), "{tid}");
    }
    assert_eq!(st.invalid_events, 1);
    // a link that closes no loop is applied
    st.apply(&child_fork(9_000, 600, 500));
    assert_eq!(ancestry(&st, 600), Some(vec![600, 500, 400, TID]));
    assert_eq!(st.invalid_events, 1);
}

#[test]
fn a_clone_that_would_close_a_loop_of_processes_through_a_thread_is_refused() {
    // thread 301 of process 300 forks 400; then a clone says 300 is a child of 400: no
    // loop of threads (301's parent is 300's parent), but a loop of processes
    let mut st = init_and_runner();
    st.apply(&thread_clone(1_000, 301));
    st.apply(&parent_fork(2_000, 301, TID, 400));
    assert_eq!(process_ancestry(&st, 400), Some(vec![400, TID, 1]));
    st.apply(&child_fork(3_000, TID, 400));
    for tid in [TID, 301, 400] {
        assert!(process_ancestry(&st, tid).is_some(), "{tid}");
        assert!(ancestry(&st, tid).is_some(), "{tid}");
    }
    assert_eq!(st.invalid_events, 1);
}

#[test]
fn a_thread_taking_the_tid_of_its_process_parent_unlinks_the_process() {
    // 500 is a new process whose parent 501 the capture never saw (made a process of its
    // own); then a clone says 501 is a thread of 500: 500's parent process would be 500
    let mut st = State::new();
    st.apply(&child_fork(5_000, 500, 501));
    assert_eq!(process_ancestry(&st, 500), Some(vec![500, 501]));
    st.apply(&clone_ev(
        6_000,
        501,
        0,
        cl::CLONE_THREAD | cl::CLONE_FILES,
        b"/bin/x\0",
        (500, 1),
    ));
    assert_eq!(st.threads.group_members(500), vec![500, 501]);
    assert_eq!(process_ancestry(&st, 500), Some(vec![500]));
    assert_eq!(st.invalid_events, 1);
}

#[test]
fn a_reaper_below_the_dead_thread_is_refused() {
    // 300 forks 400, 400 forks 500; 300's exit names 500 as its children's reaper: 400
    // would become the child of its own child
    let mut st = init_and_runner();
    st.apply(&parent_fork(1_000, TID, TID, 400));
    st.apply(&parent_fork(2_000, 400, 400, 500));
    assert_eq!(ancestry(&st, 500), Some(vec![500, 400, TID, 1]));
    st.apply(&SysEvent {
        pid: -1,
        ts: 3_000,
        tid: TID,
        kind: EventKind::Exit {
            status: 0,
            reaper: Some(500),
        },
    });
    st.apply(&SysEvent {
        pid: -1,
        ts: 4_000,
        tid: 1,
        kind: EventKind::Close {
            fd: Some(3),
            res: -9,
        },
    });
    assert!(st.thread(TID).is_none());
    // the reaper the state finds itself instead: init
    assert_eq!(ancestry(&st, 500), Some(vec![500, 400, 1]));
    assert_eq!(st.invalid_events, 1);
}

#[test]
fn a_process_list_with_a_parent_loop_is_loaded_without_it() {
    let mut st = State::new();
    for (tid, ptid) in [(10, 30), (20, 10), (30, 20), (40, 30)] {
        st.load_snapshot(&ProcSnapshot {
            tid,
            pid: tid,
            ptid,
            vtid: tid,
            vpid: tid,
            ..Default::default()
        });
    }
    st.finish_snapshot();
    for tid in [10, 20, 30, 40] {
        assert!(ancestry(&st, tid).is_some(), "{tid}");
        assert!(process_ancestry(&st, tid).is_some(), "{tid}");
    }
    assert_eq!(ancestry(&st, 40), Some(vec![40, 30, 20, 10]));
    assert_eq!(st.invalid_events, 1);
}

#[test]
fn a_parent_loop_in_the_state_cannot_hang_the_aggregator() {
    // The state refuses links that would close a loop; should one form anyway (a field
    // written directly here), the aggregator's walks up the process tree still end.
    let cfg = crate::SysFlowConfig {
        enable_process_flow: false,
        ..Default::default()
    };
    let mut agg = Aggregator::new(AggConfig::from(&cfg));
    let mut out: Vec<Record> = Vec::new();
    let mut st = init_and_runner();
    let mut feed = |st: &mut State, agg: &mut Aggregator, e: &SysEvent<'_>| {
        agg.set_time(e.ts);
        let has_thread = st.apply(e);
        agg.handle(st, e, has_thread, &mut out).unwrap();
    };
    st.apply(&parent_fork(1_000, TID, TID, 400));
    st.threads.get_mut(TID).unwrap().ptid = 400;
    // 400 forks 500: processes 500, 400 and 300 are written, 300's parent being 400
    feed(&mut st, &mut agg, &parent_fork(2_000, 400, 400, 500));
    let socket = SysEvent {
        pid: -1,
        ts: 3_000,
        tid: 500,
        kind: EventKind::Socket {
            fd: 9,
            domain: AF_INET,
            sock_type: SOCK_DGRAM,
            proto: 0,
        },
    };
    feed(&mut st, &mut agg, &socket);
    agg.on_rotation();
    feed(
        &mut st,
        &mut agg,
        &SysEvent {
            pid: -1,
            ts: 4_000,
            tid: 500,
            kind: io(IoDir::Write, 9),
        },
    );
    agg.on_rotation();
    let mut out: Vec<Record> = Vec::new();
    agg.finish(&mut out).unwrap();
    assert!(
        out.iter().any(|r| matches!(r, Record::NetworkFlow(_))),
        "{out:?}"
    );
}

// ------------------------------------------------------- threads replaced or moved

/// A state whose process list held these threads, as (tid, pid, ptid), all running
/// `/opt/runner`.
fn listed(threads: &[(i64, i64, i64)]) -> State {
    let mut st = State::new();
    for &(tid, pid, ptid) in threads {
        st.load_snapshot(&ProcSnapshot {
            tid,
            pid,
            ptid,
            vtid: tid,
            vpid: pid,
            exe: b"/opt/runner".to_vec(),
            ..Default::default()
        });
    }
    st.finish_snapshot();
    st
}

/// Listed: process 300 with a thread 301, process 500.
fn listed_300_301_500() -> State {
    listed(&[(1, 1, 0), (TID, TID, 1), (301, TID, 1), (500, 500, 1)])
}

/// The child's side of a clone: `tid` as a thread of `pid`, or a process of its own
/// (`pid == tid`), under init.
fn clone_child(ts: u64, tid: i64, pid: i64) -> SysEvent<'static> {
    let flags = if pid == tid {
        0
    } else {
        cl::CLONE_THREAD | cl::CLONE_FILES
    };
    clone_ev(ts, tid, 0, flags, b"/opt/runner\0", (pid, 1))
}

/// A successful exec by `tid` that names `pid` as its process (-1: unknown).
fn exec_naming(ts: u64, tid: i64, pid: i64) -> SysEvent<'static> {
    SysEvent {
        pid: -1,
        ts,
        tid,
        kind: EventKind::Execve(crate::event::ExecveEvent {
            res: 0,
            info: crate::event::ProcInfo {
                exe: Some(b"/bin/other\0"),
                tid,
                pid,
                ptid: 1,
                ..Default::default()
            },
            env: None,
            tty: None,
            loginuid: None,
            exepath: None,
            filename: None,
            open_fds: None,
            old_tid: None,
        }),
    }
}

/// An event of `tid` that changes nothing (a failed close): its housekeeping removes the
/// threads that exited before it.
fn housekeeping(ts: u64, tid: i64) -> SysEvent<'static> {
    SysEvent {
        pid: -1,
        ts,
        tid,
        kind: EventKind::Close {
            fd: Some(3),
            res: -9,
        },
    }
}

/// A child-side clone event for a process the process list already gave (the listing
/// raced with the fork): the thread is replaced, and the one it replaces leaves its group
/// and its parent's children. Its exit then ends the process: the old holder no longer
/// counts in the group as alive, which kept the process (and its parent's list entry)
/// forever.
#[test]
fn a_clone_over_a_listed_thread_replaces_it_without_leaving_it_counted() {
    let mut st = listed(&[(1, 1, 0), (TID, TID, 1), (500, 500, TID)]);
    let (groups, children) = (st.threads.groups_len(), st.threads.child_entries());
    assert_eq!((groups, children), (3, 2));
    st.apply(&child_fork(1_000, 500, TID));
    assert_eq!(
        st.thread(500).map(|t| (t.ptid, t.clone_ts)),
        Some((TID, 1_000))
    );
    assert_eq!(st.threads.group_members(500), vec![500]);
    assert_eq!(
        (st.threads.groups_len(), st.threads.child_entries()),
        (groups, children)
    );
    st.apply(&exit_of(2_000, 500));
    // removed at the next event's housekeeping, like any exited thread
    st.apply(&housekeeping(3_000, TID));
    assert!(st.thread(500).is_none());
    assert_eq!(
        (st.threads.groups_len(), st.threads.child_entries()),
        (2, 1)
    );
}

/// An exec that names another process id than the state held for the thread moves the
/// thread to that process's group: the old group no longer counts it, so the old
/// process ends with its own threads (it stayed, counting the moved thread alive).
#[test]
fn an_exec_naming_another_pid_moves_the_thread_to_that_process() {
    // 301 listed as a thread of 300 (a listing that raced with its exec, say)
    let mut st = listed(&[(1, 1, 0), (TID, TID, 1), (301, TID, 1)]);
    assert_eq!(st.threads.group_members(TID), vec![TID, 301]);
    st.apply(&exec_naming(1_000, 301, 301));
    assert_eq!(st.threads.group_members(TID), vec![TID]);
    assert_eq!(st.threads.group_members(301), vec![301]);
    assert_eq!(st.thread(301).map(|t| (t.pid, t.ptid)), Some((301, 1)));
    st.apply(&exit_of(2_000, TID));
    // removed at the next event's housekeeping (an event of 301's)
    st.apply(&housekeeping(3_000, 301));
    assert!(st.thread(TID).is_none());
    assert!(st.thread(301).is_some());
}

/// A main thread replaced by a thread of another process while its own process still has
/// a thread: when that thread ends, the process goes, and the new holder of the main
/// thread's tid (another process's thread) stays.
#[test]
fn a_replaced_main_thread_s_tid_is_not_removed_with_its_old_process() {
    let mut st = listed_300_301_500();
    st.apply(&clone_child(1_000, TID, 500));
    assert_eq!(st.threads.group_members(500), vec![500, TID]);
    assert_eq!(st.threads.group_alive(500), 2);
    assert_eq!(st.threads.group_alive(301), 1);
    st.apply(&exit_of(2_000, 301));
    st.apply(&housekeeping(3_000, 500));
    assert!(st.thread(301).is_none());
    assert_eq!(st.thread(TID).map(|t| t.pid), Some(500));
    assert_eq!(st.threads.group_members(500), vec![500, TID]);
    assert_eq!(st.threads.group_alive(500), 2);
    // process 300's group is gone; 1, 500 remain
    assert_eq!(st.threads.groups_len(), 2);
}

/// A process whose main thread exited (held, dead, for its live thread) loses that
/// thread to another process: nothing of it is alive, and it goes, dead main thread and
/// all.
#[test]
fn a_process_left_with_its_dead_main_thread_alone_goes() {
    let mut st = listed_300_301_500();
    st.apply(&exit_of(1_000, TID));
    st.apply(&housekeeping(1_500, 301));
    assert!(st.thread(TID).is_some_and(|t| t.is_dead()));
    // 301's tid now names a process of its own
    st.apply(&clone_child(2_000, 301, 301));
    assert_eq!(st.thread(301).map(|t| t.pid), Some(301));
    assert!(st.thread(TID).is_none());
    assert_eq!(st.threads.groups_len(), 3);
    // an exec naming an unknown pid keeps the known one
    st.apply(&exec_naming(3_000, 301, -1));
    assert_eq!(st.thread(301).map(|t| t.pid), Some(301));
    assert_eq!(st.threads.group_members(301), vec![301]);
}

#[test]
fn a_forked_child_knows_which_fds_it_got_copied_until_it_makes_them() {
    let mut st = state();
    let file = |name: &[u8]| FdInfo::new(crate::state::FdKind::File, name.to_vec());
    st.learn_fd(TID, 5, file(b"/a"));
    st.learn_fd(TID, 127, file(b"/b"));
    st.learn_fd(TID, 128, file(b"/c"));
    // the parent's own fds were not copied at any clone (it came from the snapshot)
    assert!(!st.fd_inherited(TID, 5));
    st.apply(&clone_ev(1_000, TID, 400, 0, b"/opt/runner\0", (TID, 1)));
    assert_eq!(st.fd(400, 5), Some(&file(b"/a")));
    assert!(st.fd_inherited(400, 5) && st.fd_inherited(400, 127));
    // past the first INHERITED_FDS, and fds it does not hold, are not told apart
    assert!(!st.fd_inherited(400, 128) && !st.fd_inherited(400, 6));
    assert!(!st.fd_inherited(400, -1));
    // a thread of the child shares its table, and what it knows of it
    st.apply(&clone_ev(
        2_000,
        400,
        401,
        cl::CLONE_THREAD | cl::CLONE_FILES,
        b"/opt/runner\0",
        (400, TID),
    ));
    assert!(st.fd_inherited(401, 5));
    // once the child makes fd 5 itself, it is its own
    st.learn_fd(401, 5, file(b"/d"));
    assert!(!st.fd_inherited(400, 5) && st.fd_inherited(400, 127));
    assert!(!st.fd_inherited(TID, 5));
}
