//! The live run loop: the probe's events through the pipeline until exit.

use super::pipeline::{Pipeline, Rotation};
use super::reconcile::Reconciler;
use super::{ExitHandle, RunSummary};
use crate::clock;
use crate::config::{SysFlowConfig, host_path};
use crate::error::{Result, SysFlowError};
use crate::event::SysEvent;
use crate::export::FanOut;
use crate::runtime::{MetaConfig, MetaWorker};
use crate::source::live::{LiveConfig, LiveSource};
use crate::state::{NodeInfo, State};
use std::path::Path;
use std::time::{Duration, Instant};

/// Host users and groups, for names of live processes: `<host_root>/etc/passwd` and
/// `group` (the reference's `HOST_ROOT`).
fn load_host_users(state: &mut State, host_root: &Path) {
    if let Ok(text) = std::fs::read(host_path(host_root, "/etc/passwd")) {
        state.users.load_passwd(b"", &text);
    }
    if let Ok(text) = std::fs::read(host_path(host_root, "/etc/group")) {
        state.users.load_group(b"", &text);
    }
}

/// The metadata worker's settings: the runtimes' default sockets under the host root,
/// unless `cri_path` / `docker_path` name one; `criTO` per call.
fn meta_config(cfg: &SysFlowConfig) -> MetaConfig {
    let mut mc = MetaConfig::with_host_root(&cfg.host_root);
    if let Some(p) = &cfg.cri_path {
        mc.cri_sockets = vec![p.clone()];
    }
    if let Some(p) = &cfg.docker_path {
        mc.docker_sockets = vec![p.clone()];
    }
    mc.timeout = cfg.cri_timeout;
    // only the list the user named warns about an absent socket: with `-p` alone, the
    // default Docker sockets stay quiet when absent
    mc.named_docker = cfg.docker_path.is_some();
    mc.named_cri = cfg.cri_path.is_some();
    if !cfg.container_metadata {
        // only the Kubernetes API is asked
        mc.docker_sockets.clear();
        mc.cri_sockets.clear();
    }
    mc.k8s = cfg
        .k8s_api_url
        .as_ref()
        .map(|url| crate::k8s::K8sConfig::new(url, cfg.k8s_api_cert.clone(), &k8s_node_name(cfg)));
    mc
}

/// The node whose pods the Kubernetes API is asked for: `NODE_NAME` (the Downward API's
/// `spec.nodeName`, as Falco's deployments set it), else the exporter id (the reference's
/// node name), else the host name.
fn k8s_node_name(cfg: &SysFlowConfig) -> String {
    std::env::var("NODE_NAME")
        .ok()
        .filter(|n| !n.is_empty())
        .or_else(|| Some(cfg.exporter_id.clone()).filter(|n| !n.is_empty()))
        .or_else(|| nix::unistd::gethostname().ok()?.into_string().ok())
        .unwrap_or_default()
}

/// The container metadata worker, as the live loop sees it.
struct Metadata {
    worker: Option<MetaWorker>,
}

impl Metadata {
    /// Asks for the containers the state found since the last call, then applies every
    /// answer that arrived. Never waits.
    fn exchange(&mut self, pipe: &mut Pipeline, out: &mut FanOut) -> Result<()> {
        let Some(w) = &self.worker else {
            pipe.state.containers.take_discovered();
            return Ok(());
        };
        for (full_id, hint) in pipe.state.containers.take_discovered() {
            // A full queue is counted by the worker (`queue_full`); the container stays
            // incomplete.
            w.lookup(&full_id, hint);
        }
        while let Some(update) = w.try_recv() {
            pipe.on_meta(update, out)?;
        }
        Ok(())
    }
}

/// How often in-kernel read/write counters are shipped, so the 30-second flow export
/// sees them.
const COUNTER_FLUSH: Duration = Duration::from_secs(1);
/// The longest a live capture waits at start for the runtimes to list their containers.
const LISTING_WAIT_MAX: Duration = Duration::from_secs(5);
/// How often buffered file output is pushed to disk.
const OUTPUT_FLUSH: Duration = Duration::from_secs(2);
/// How often the thread table is reconciled with `/proc` (a thread missing at two
/// passes in a row is given the exit the capture lost; see [`Reconciler`]).
const RECONCILE: Duration = Duration::from_secs(30);

/// The source's and the metadata worker's counters, as the pipeline reports them.
fn source_counters(src: &LiveSource, meta: &Metadata) -> RunSummary {
    let s = src.stats();
    RunSummary {
        events: s.events,
        source_drops: s.ring_drops,
        live: s,
        metadata: meta
            .worker
            .as_ref()
            .map(MetaWorker::stats)
            .unwrap_or_default(),
        ..RunSummary::default()
    }
}

/// Captures live until `exit` is requested, then flushes open flows; returns the events
/// delivered (the source's counters are left in `pipe.source`).
pub(crate) fn run(
    cfg: &SysFlowConfig,
    pipe: &mut Pipeline,
    out: &mut FanOut,
    exit: &ExitHandle,
) -> Result<u64> {
    let live_cfg = LiveConfig::from(cfg);
    let mut src = LiveSource::open(&live_cfg)?;
    let diag = pipe.diag.clone();
    if diag.debug_enabled() {
        diag.debug(format_args!(
            "probe loaded and attached: {live_cfg:?}; libbpf said: {}",
            crate::source::live::take_load_log().trim_end()
        ));
    }
    // The runtimes are asked from the start: containers running now are listed while the
    // snapshot is read.
    let mut meta = Metadata {
        worker: if cfg.container_metadata || cfg.k8s_api_url.is_some() {
            Some(
                MetaWorker::spawn_with(meta_config(cfg), diag.clone())
                    .map_err(|e| SysFlowError::io("starting the container metadata thread", e))?,
            )
        } else {
            None
        },
    };
    pipe.state.set_live(true);
    load_host_users(&mut pipe.state, &cfg.host_root);
    let snapshot = src.snapshot()?;
    diag.debug(format_args!(
        "startup snapshot: {} threads; the collector is host tgid {}",
        snapshot.len(),
        src.self_tgid()
    ));
    for p in snapshot {
        pipe.state.load_snapshot(&p);
    }
    pipe.state.finish_snapshot();
    // The collector is never captured, so its fd table would only age: forget it, and let
    // the children it starts learn what they inherit from /proc when they use it.
    let self_pid = i64::from(src.self_tgid());
    pipe.state.forget_fds(self_pid);
    let proc_root = crate::config::host_path(&cfg.host_root, "/proc");
    // Containers running now are described from their first record: wait (bounded) for
    // the runtimes' first listings, then take in what they said.
    if let Some(w) = &mut meta.worker
        && !w.wait_listed(
            cfg.cri_timeout.saturating_mul(3).min(LISTING_WAIT_MAX),
            &|| exit.is_exiting(),
        )
        && !exit.is_exiting()
    {
        // (a stop asked for during the wait is no late listing)
        diag.warn(format_args!(
            "container metadata: the runtimes' first listings are late; continuing"
        ));
    }
    meta.exchange(pipe, out)?;
    if out.header().exporter.is_empty() {
        let host = nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_default();
        out.set_exporter(host);
    }
    learn_interfaces(&mut pipe.state);
    pipe.k8s_enabled = cfg.k8s_api_url.is_some();
    pipe.state.node = NodeInfo {
        name: out.header().exporter.clone(),
        ip: cfg.node_ip.parse().ok(),
    };
    let start = clock::wall_s();
    pipe.rotation = Some(Rotation {
        interval_s: i64::from(cfg.rotate_interval),
        period_start: start,
    });
    out.start_at(start)?;
    // losses before the first header are before the stream: no output marks them
    pipe.set_source_at_start(source_counters(&src, &meta), out);
    pipe.write_early_k8s_events(out)?;

    // The source calls back for each event; the first pipeline error stops the capture.
    let mut failure: Option<SysFlowError> = None;
    fn deliver(
        pipe: &mut Pipeline,
        out: &mut FanOut,
        failure: &mut Option<SysFlowError>,
        ev: &SysEvent<'_>,
        proc_root: &std::path::Path,
        unseen: &mut UnseenReads,
    ) {
        learn_unseen_process(pipe, ev, proc_root, unseen);
        learn_unseen_fd(pipe, ev, proc_root);
        if failure.is_none()
            && let Err(e) = pipe.on_event(ev, out)
        {
            *failure = Some(e);
        }
    }
    let mut unseen = UnseenReads::default();
    let (mut last_counters, mut last_flush) = (Instant::now(), Instant::now());
    let mut reconciler = Reconciler::start(proc_root.clone(), self_pid, RECONCILE, &diag);
    exit.set_capturing(true);
    while !exit.is_exiting() {
        meta.exchange(pipe, out)?;
        let n = src.poll(Duration::from_millis(50), &mut |ev| {
            deliver(pipe, out, &mut failure, ev, &proc_root, &mut unseen)
        })?;
        if n == 0 {
            pipe.tick(clock::wall_ns(), out)?;
        }
        if last_counters.elapsed() >= COUNTER_FLUSH {
            src.flush_counters(&mut |ev| {
                deliver(pipe, out, &mut failure, ev, &proc_root, &mut unseen)
            })?;
            pipe.set_source(source_counters(&src, &meta), clock::wall_ns());
            last_counters = Instant::now();
        }
        if last_flush.elapsed() >= OUTPUT_FLUSH {
            out.flush()?;
            last_flush = Instant::now();
        }
        // never waits: the /proc reads are the reader thread's
        reconciler.poll(pipe, out)?;
        if let Some(e) = failure.take() {
            return Err(e);
        }
    }
    // Drain what the kernel still holds (waiting for records still being written), then
    // end every open flow.
    src.stop(&mut |ev| deliver(pipe, out, &mut failure, ev, &proc_root, &mut unseen))?;
    if unseen.skipped > 0 {
        diag.warn(format_args!(
            "{} threads the capture never saw made were left of unnamed processes: more \
             than {UNSEEN_READS_PER_S} a second asked for /proc reads",
            unseen.skipped
        ));
    }
    if let Some(e) = failure.take() {
        return Err(e);
    }
    meta.exchange(pipe, out)?;
    pipe.set_source(source_counters(&src, &meta), clock::wall_ns());
    pipe.tick(clock::wall_ns(), out)?;
    pipe.finish(out)?;
    if let Some(w) = meta.worker.take() {
        w.shutdown();
    }
    Ok(pipe.source.events)
}

/// A thread the state never saw (its clone record lost to a full ring, or its process
/// started before the probe attached and missing from the startup snapshot), of a process
/// the state does not hold either: that process as `/proc` shows it now (executable,
/// arguments, user, parent, start time to 10 ms: [`crate::source::live::process_now`]),
/// and its unknown ancestors up to [`UNSEEN_ANCESTORS`], read at the thread's first
/// record so that its records name it rather than a placeholder. (A thread of a process
/// the state holds joins it without a read: the state's placeholder does.) A process
/// already gone, a pid `/proc` now gives to a process started after the record (reused),
/// or a zombie leaves the placeholder the state makes, of the pid the record names. What
/// `/proc` shows is of the time it is read, which may be after an exec that followed the
/// record.
///
/// At most [`UNSEEN_READS_PER_S`] process reads a second: past them the thread keeps the
/// placeholder (counted in `skipped`).
pub(crate) fn learn_unseen_process(
    pipe: &mut Pipeline,
    ev: &SysEvent<'_>,
    proc_root: &std::path::Path,
    budget: &mut UnseenReads,
) {
    use crate::event::EventKind;
    let st = &pipe.state;
    if ev.pid <= 0 || st.thread(ev.tid).is_some() || st.thread(ev.pid).is_some() {
        return;
    }
    // a clone's child side brings its own thread; an exit of an unknown thread is
    // nothing to learn of
    if matches!(ev.kind, EventKind::Clone(c) if c.res == 0)
        || matches!(ev.kind, EventKind::Exit { .. })
    {
        return;
    }
    let now = Instant::now();
    if !budget.first_try(ev.tid, now) || !budget.take(now) {
        return;
    }
    let mut listed = crate::source::live::process_now(proc_root, ev.pid as u32, ev.tid as u32);
    // (10 ms: /proc's start times are in clock ticks)
    let started_after = |snaps: &[crate::state::ProcSnapshot], ts: u64| {
        snaps
            .first()
            .is_some_and(|m| m.clone_ts > ts.saturating_add(10_000_000))
    };
    if listed.is_empty() || started_after(&listed, ev.ts) {
        return;
    }
    // its parent, and the parent's, while the state holds none of them: learnt first,
    // so that each links to the one above
    let mut ancestors: Vec<crate::state::ProcSnapshot> = Vec::new();
    let mut above = listed[0].ptid;
    let mut child_start = listed[0].clone_ts;
    for _ in 0..UNSEEN_ANCESTORS {
        if above <= 0 || pipe.state.thread(above).is_some() || !budget.take(now) {
            break;
        }
        let parent = crate::source::live::process_now(proc_root, above as u32, above as u32);
        if parent.is_empty() || started_after(&parent, child_start) {
            break;
        }
        above = parent[0].ptid;
        child_start = parent[0].clone_ts;
        ancestors.splice(0..0, parent);
    }
    ancestors.append(&mut listed);
    pipe.state.learn_process(&ancestors);
}

/// How many unknown ancestors of a process read for an unseen thread are read with it.
pub(crate) const UNSEEN_ANCESTORS: usize = 4;

/// The most processes of unseen threads read from `/proc` per second. Each read opens a
/// few files of the process's (its main thread's and the record's thread's): a
/// flood of new processes whose clone records a full ring lost must not become a flood
/// of `/proc` reads on the capture thread, which would lose more.
pub(crate) const UNSEEN_READS_PER_S: u32 = 100;

/// The budget of [`learn_unseen_process`]'s `/proc` reads.
#[derive(Debug, Default)]
pub(crate) struct UnseenReads {
    window: Option<Instant>,
    reads: u32,
    /// Threads tried in the current second (an event of a thread that stays unknown, such
    /// as a late counter of one that exited, does not read `/proc` again and again).
    tried: rustc_hash::FxHashSet<i64>,
    /// Threads left as placeholders because the budget was spent.
    pub(crate) skipped: u64,
}

impl UnseenReads {
    fn roll(&mut self, now: Instant) {
        if self
            .window
            .is_none_or(|w| now.duration_since(w) >= Duration::from_secs(1))
        {
            self.window = Some(now);
            self.reads = 0;
            self.tried.clear();
        }
    }

    /// Whether thread `tid` was not tried yet in this second (and marks it tried).
    fn first_try(&mut self, tid: i64, now: Instant) -> bool {
        self.roll(now);
        self.tried.insert(tid)
    }

    /// Whether a read may be made at `now` (and counts it).
    fn take(&mut self, now: Instant) -> bool {
        self.roll(now);
        if self.reads >= UNSEEN_READS_PER_S {
            self.skipped += 1;
            return false;
        }
        self.reads += 1;
        true
    }
}

/// An fd the event uses that the state never saw made (inherited from a process that is
/// not captured, such as the collector, or made before a gap): what `/proc` says it is now,
/// so its I/O is charged to the right file or socket rather than lost.
pub(crate) fn learn_unseen_fd(pipe: &mut Pipeline, ev: &SysEvent<'_>, proc_root: &std::path::Path) {
    use crate::event::EventKind;
    if let Some((fd, info)) = crate::source::live::fd_seen_info(&ev.kind) {
        // The kernel says what it is: believed unless the state saw the process make it.
        // An fd copied from the parent at the fork is no such proof: another thread of
        // the parent can close it (and make another under its number) after the kernel's
        // copy and before the fork's record. (Sockets keep the state's word:
        // `FdInfo::same_object`.) A close just before is applied first: the probe says
        // what a number names when no record said so since its last close.
        pipe.state.settle();
        let st = &pipe.state;
        let stale = st.thread(ev.tid).is_some()
            && st
                .fd(ev.tid, fd)
                .is_none_or(|known| st.fd_inherited(ev.tid, fd) && !known.same_object(&info));
        if stale {
            pipe.state.learn_fd(ev.tid, fd, info);
        }
        return;
    }
    let fd = match ev.kind {
        EventKind::IoCounters(c) => Some(c.fd),
        EventKind::Dup { oldfd, .. } => oldfd,
        // (not a close: the fd is gone when its event arrives, so /proc can only show
        // a later file under its number)
        EventKind::Shutdown { fd, .. } => fd,
        EventKind::Io(io) => io.fd,
        EventKind::Connect { fd, .. } => fd,
        EventKind::Fchdir { fd, .. } | EventKind::Setns { fd, .. } => fd,
        _ => None,
    };
    let Some(fd) = fd.filter(|&f| f >= 0) else {
        return;
    };
    let st = &pipe.state;
    let Some(t) = st.thread(ev.tid).filter(|t| !t.is_dead()) else {
        return;
    };
    if st.fd(ev.tid, fd).is_some() || st.recently_closed(t.pid, fd) {
        return;
    }
    if let Some(info) = crate::source::live::fd_now(proc_root, t.pid, fd) {
        pipe.state.learn_fd(ev.tid, fd, info);
    }
}

/// The addresses of the interfaces this process sees (the host's when the collector runs
/// in the host's network namespace, as its deployments do): what a capture file's
/// interface list holds. A failure leaves the lists empty (no address counts as local).
fn learn_interfaces(st: &mut crate::state::State) {
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return;
    };
    for a in addrs {
        let Some(addr) = a.address else { continue };
        if let Some(v4) = addr.as_sockaddr_in() {
            let netmask = a
                .netmask
                .as_ref()
                .and_then(|m| m.as_sockaddr_in())
                .map_or([0; 4], |m| m.ip().octets());
            st.ipv4_ifaces.push(crate::state::Ipv4Iface {
                addr: v4.ip().octets(),
                netmask,
            });
        } else if let Some(v6) = addr.as_sockaddr_in6() {
            st.ipv6_addrs.push(v6.ip().octets());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn only_the_socket_list_the_user_named_counts_as_named() {
        let cfg = SysFlowConfig {
            cri_path: Some("/my/cri.sock".into()),
            ..Default::default()
        };
        let mc = meta_config(&cfg);
        assert_eq!(mc.cri_sockets, [PathBuf::from("/my/cri.sock")]);
        assert!(mc.named_cri && !mc.named_docker);
        assert!(!mc.docker_sockets.is_empty(), "the default Docker sockets");
        let cfg = SysFlowConfig {
            docker_path: Some("/my/docker.sock".into()),
            ..Default::default()
        };
        let mc = meta_config(&cfg);
        assert!(mc.named_docker && !mc.named_cri);
    }

    /// A process the live capture never saw made is learnt from `/proc` at its first
    /// record (a real child of this test, read from the real `/proc`), and its records
    /// then name it; a process already gone leaves the placeholder of the record's pid.
    #[test]
    fn an_unseen_process_is_learnt_from_proc_at_its_first_record() {
        use crate::event::{EventKind, IoDir, IoEvent};
        use crate::model::SfHeader;
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("run sleep");
        let pid = i64::from(child.id());
        // (spawn returns once the exec began: its arguments show in /proc only once the
        // new program's stack is set up, after its comm)
        let cmdline = format!("/proc/{pid}/cmdline");
        let t0 = std::time::Instant::now();
        while std::fs::read(&cmdline).unwrap_or_default() != b"sleep\x0030\x00" {
            if t0.elapsed().as_secs() >= 10 {
                let _ = child.kill();
                panic!("sleep never showed its arguments");
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let mut gone = std::process::Command::new("true").spawn().unwrap();
        let gone_pid = i64::from(gone.id());
        gone.wait().unwrap();
        // the state holds this test's process (its parent), as a startup snapshot would
        let proc_root = std::path::Path::new("/proc");
        let mut state = State::new();
        for p in crate::source::live::process_now(proc_root, std::process::id(), std::process::id())
        {
            state.load_snapshot(&p);
        }
        state.finish_snapshot();
        let agg = crate::aggregate::AggConfig::from(&SysFlowConfig::default());
        let mut pipe = Pipeline::new(state, agg, false);
        let mut out = FanOut::new(SfHeader::default());
        // a write to fd 1 by the main thread of process `pid` at `ts`
        let write_by = |pid: i64, ts: u64| SysEvent {
            ts,
            tid: pid,
            pid,
            kind: EventKind::Io(IoEvent {
                dir: IoDir::Write,
                fd: Some(1),
                res: 4,
                tuple: None,
            }),
        };
        for p in [pid, gone_pid] {
            let ev = write_by(p, clock::wall_ns());
            learn_unseen_process(&mut pipe, &ev, proc_root, &mut UnseenReads::default());
            pipe.on_event(&ev, &mut out).unwrap();
        }
        let t = pipe.state.thread(pid).expect("learnt").clone();
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(t.pid, pid);
        assert_eq!(
            t.ptid,
            i64::from(std::process::id()),
            "its parent: this test"
        );
        assert_eq!(t.comm, b"sleep");
        assert_eq!(t.args, [b"30".to_vec()]);
        assert!(t.exepath.ends_with(b"/sleep"), "{:?}", t.exepath);
        assert!(t.clone_ts > 1_700_000_000_000_000_000, "{}", t.clone_ts);
        let g = pipe.state.thread(gone_pid).expect("a placeholder");
        assert_eq!((g.pid, g.exe.as_slice()), (gone_pid, &b"<NA>"[..]));

        // a record from before the process /proc shows under its pid started (the pid
        // reused since) does not learn it
        let mut later = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("run sleep");
        let later_pid = i64::from(later.id());
        let mut fresh = Pipeline::new(State::new(), agg, false);
        let old = write_by(later_pid, clock::wall_ns() - 5_000_000_000);
        learn_unseen_process(&mut fresh, &old, proc_root, &mut UnseenReads::default());
        later.kill().unwrap();
        later.wait().unwrap();
        assert!(fresh.state.thread(later_pid).is_none(), "not learnt");
    }

    /// The `/proc` reads for unseen threads stop at the budget for the rest of the
    /// second, and start again the next one.
    #[test]
    fn unseen_process_reads_are_budgeted_per_second() {
        let mut b = UnseenReads::default();
        let t0 = Instant::now();
        let granted = (0..250).filter(|_| b.take(t0)).count();
        assert_eq!(granted as u32, UNSEEN_READS_PER_S);
        assert_eq!(b.skipped, 250 - u64::from(UNSEEN_READS_PER_S));
        assert!(!b.take(t0 + Duration::from_millis(999)));
        assert!(b.take(t0 + Duration::from_secs(1)));
    }
}
