//! The aggregator: turns syscall events (with the capture state) into SysFlow entities,
//! events and flows, following the SysFlow specification and the reference collector.
//!
//! It is pure: time is injected ([`Aggregator::set_time`]) and records go to an [`Emit`]
//! implementation, so the same code serves capture files, live capture and tests.
//!
//! Where the reference collector has quirks, this implementation chooses what a user
//! would want (each choice is also listed in the README):
//! - creat, openat2 and clone3 are handled like open, openat and clone; accept4 in its
//!   current event version is handled like accept;
//! - mkdirat/unlinkat with a directory fd record the created or removed path, not the
//!   directory (the reference records the directory fd's file);
//! - file event paths are normalized lexically, never against the converting machine's
//!   file system; user and group names come only from the capture;
//! - file flows are keyed by (fd name, thread, fd) — the reference's string key renders
//!   0 as an empty string, which can merge unrelated flows;
//! - output order among records of one batch (shutdown flush, related flows) is
//!   deterministic rather than hash-table order.

mod entities;
mod events;
mod filtered;
mod flows;

use crate::clock::CaptureClock;
use crate::config::{CollectionMode, FileReadMode, SysFlowConfig};
use crate::error::{Result, SysFlowError};
use crate::event::{EventKind, IdChange, IoDir, SysEvent};
use crate::model::{Container, File, ObjectState, Oid, OpFlags, Pod, Process, Record, RecordKind};
use crate::state::{FdInfo, FdKind, State};
use entities::{ContEntry, FileEntry, PodEntry};
use events::ProcFlowEntry;
use flows::{FileFlowEntry, FlowOp, NetFlowEntry};
use rustc_hash::FxHashMap as HashMap;
use rustc_hash::FxHashSet as HashSet;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// The entities a record refers to, as the aggregator resolved them.
#[derive(Clone, Copy, Debug, Default)]
pub struct Links<'a> {
    /// The container of the record's process, if any.
    pub container: Option<&'a Container>,
    /// The pod of that container, if it runs in a Kubernetes pod sandbox.
    pub pod: Option<&'a Pod>,
    /// The process of an event or flow.
    pub process: Option<&'a Process>,
    /// The file of a FileFlow, or the first file of a FileEvent.
    pub file: Option<&'a File>,
    /// The second file of a link, symlink or rename FileEvent.
    pub new_file: Option<&'a File>,
}

/// Where the aggregator's records go: every entity before the records that refer to it,
/// each record with the entities it links to (borrowed for the call).
///
/// The driver implements it for its outputs; tests collect into a `Vec<Record>`.
pub trait Emit {
    /// Delivers one record with the entities it refers to.
    fn emit(&mut self, rec: &Record, links: Links<'_>) -> Result<()>;

    /// Whether [`Emit::emit`] reads its [`Links`]. When it does not, the aggregator does
    /// not look the entities up and passes them all as `None` (an output that writes
    /// entities as records of their own, like a `.sf` file, never reads them).
    fn needs_links(&self) -> bool {
        true
    }
}

impl Emit for Vec<Record> {
    fn emit(&mut self, rec: &Record, _links: Links<'_>) -> Result<()> {
        self.push(rec.clone());
        Ok(())
    }
}

/// The aggregator's settings (the subset of [`SysFlowConfig`] it uses).
#[derive(Clone, Copy, Debug)]
pub struct AggConfig {
    /// Summarise thread clones/exits into ProcessFlows.
    pub enable_process_flow: bool,
    /// Only regular files get file flows.
    pub file_only: bool,
    /// Which reads are recorded.
    pub file_read_mode: FileReadMode,
    /// Collection mode.
    pub collection_mode: CollectionMode,
}

impl From<&SysFlowConfig> for AggConfig {
    fn from(c: &SysFlowConfig) -> Self {
        AggConfig {
            enable_process_flow: c.enable_process_flow,
            file_only: c.file_only,
            file_read_mode: c.file_read_mode,
            collection_mode: c.collection_mode,
        }
    }
}

/// A name shared by the tables that hold it (a file entity's key, its flows' keys and
/// names): one allocation per file instead of one per copy.
pub(crate) type SharedName = std::sync::Arc<[u8]>;

/// Key of a file flow within its process: fd name, thread, fd.
pub(crate) type FfKey = (SharedName, i64, i64);

/// A borrowed [`FfKey`], for lookups without allocating.
#[derive(Clone, Copy)]
pub(crate) struct FfKeyRef<'a>(pub &'a [u8], pub i64, pub i64);

impl std::hash::Hash for FfKeyRef<'_> {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        // Same as the owned tuple: an Arc<[u8]> hashes like its slice.
        self.0.hash(h);
        self.1.hash(h);
        self.2.hash(h);
    }
}

impl hashbrown::Equivalent<FfKey> for FfKeyRef<'_> {
    fn equivalent(&self, k: &FfKey) -> bool {
        self.1 == k.1 && self.2 == k.2 && self.0 == &*k.0
    }
}

/// Hash map with a fast, deterministic hasher and borrowed-key lookups.
pub(crate) type FlowMap<K, V> = hashbrown::HashMap<K, V, rustc_hash::FxBuildHasher>;
/// Key of a network flow within its process: thread, endpoints, fd.
pub(crate) type NfKey = (i64, i32, i32, i32, i32, i32);

/// A flow in the export-time ordered set.
#[derive(Clone, Debug)]
pub(crate) enum DataFlowRef {
    File(Oid, FfKey),
    Net(Oid, NfKey),
}

/// A process entity with its flows.
pub(crate) struct ProcEntry {
    pub rec: Process,
    pub written: bool,
    pub children: BTreeSet<Oid>,
    pub fileflows: FlowMap<FfKey, FileFlowEntry>,
    /// How many of `fileflows` are on each fd (all threads): a close looks for other
    /// threads' flows on its fd only where there are some, instead of scanning every
    /// flow of the process (a process holding many files would make each close cost
    /// as much as all its flows). Kept by [`ProcEntry::file_flow_added`] and
    /// [`ProcEntry::file_flow_gone`]; a count left too high costs a scan, never a flow.
    pub fd_flows: FlowMap<i32, u32>,
    pub netflows: FlowMap<NfKey, NetFlowEntry>,
    pub pflow: Option<ProcFlowEntry>,
}

/// The entry of a process the caller knows is in the table: [`Aggregator::get_process`]
/// put it there, and nothing the caller did since removes processes (only
/// [`Aggregator::delete_process`] does, from housekeeping and rotation). A miss is a bug in
/// the aggregator, reported as [`SysFlowError::Internal`] rather than a panic.
///
/// A function of the table alone, so the caller keeps the aggregator's other fields.
pub(crate) fn held(procs: &mut BTreeMap<Oid, ProcEntry>, oid: Oid) -> Result<&mut ProcEntry> {
    procs.get_mut(&oid).ok_or_else(|| {
        SysFlowError::Internal(format!(
            "aggregator: process {}:{} left its table while a record was being made for it",
            oid.create_ts, oid.hpid
        ))
    })
}

/// The flow view of a bound UDP socket read or written without a peer address (recv(2),
/// send(2) after a connect the capture did not see): its own address as the destination,
/// the peer unknown (0.0.0.0:0). `None` for any other fd.
fn udp_server_view(info: &FdInfo) -> Option<FdInfo> {
    if info.kind != FdKind::Ipv4ServSock || info.l4proto != crate::state::l4::UDP {
        return None;
    }
    let mut i = info.clone();
    i.kind = FdKind::Ipv4Sock;
    i.v4.sip = [0; 4];
    i.v4.sport = 0;
    i.v4.dip = i.serv_ip;
    i.v4.dport = i.serv_port;
    Some(i)
}

impl ProcEntry {
    fn new(rec: Process) -> Self {
        ProcEntry {
            rec,
            written: false,
            children: BTreeSet::new(),
            fileflows: FlowMap::default(),
            fd_flows: FlowMap::default(),
            netflows: FlowMap::default(),
            pflow: None,
        }
    }

    /// A file flow on `fd` went into `fileflows`.
    pub(crate) fn file_flow_added(&mut self, fd: i32) {
        *self.fd_flows.entry(fd).or_default() += 1;
    }

    /// A file flow on `fd` left `fileflows`.
    pub(crate) fn file_flow_gone(&mut self, fd: i32) {
        if let hashbrown::hash_map::Entry::Occupied(mut o) = self.fd_flows.entry(fd) {
            if *o.get() <= 1 {
                o.remove();
            } else {
                *o.get_mut() -= 1;
            }
        }
    }

    /// How many file flows are on `fd`.
    pub(crate) fn file_flows_on(&self, fd: i32) -> u32 {
        self.fd_flows.get(&fd).copied().unwrap_or(0)
    }

    fn is_idle(&self) -> bool {
        self.fileflows.is_empty()
            && self.netflows.is_empty()
            && self.children.is_empty()
            && self.pflow.is_none()
    }
}

/// Table sizes and record counts (the reference's stats line).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AggStats {
    /// Containers in the table.
    pub containers: usize,
    /// Pods in the table.
    pub pods: usize,
    /// Processes in the table.
    pub processes: usize,
    /// Open network flows.
    pub network_flows: usize,
    /// Open file flows.
    pub file_flows: usize,
    /// Open process flows.
    pub process_flows: usize,
    /// Records written, by kind (union branch index).
    pub records: [u64; 12],
}

/// SysFlow aggregation over the event stream.
pub struct Aggregator {
    cfg: AggConfig,
    procs: BTreeMap<Oid, ProcEntry>,
    containers: HashMap<String, ContEntry>,
    pods: HashMap<String, PodEntry>,
    /// File entities by key (container id + path), shared with the flows on them.
    files: FlowMap<SharedName, FileEntry>,
    /// Bumped whenever file entities may be written again or forgotten (a rotation, a
    /// rewrite): a flow whose `files_epoch` is this one knows its file written.
    files_epoch: u64,
    /// Reused to build a file key for a lookup.
    key_scratch: Vec<u8>,
    dfset: BTreeMap<(i64, u64), DataFlowRef>,
    pfset: BTreeMap<(i64, u64), Oid>,
    seq: u64,
    del_queue: VecDeque<(Oid, i64)>,
    last_del_check: i64,
    last_df_check: i64,
    last_pf_check: i64,
    clock: CaptureClock,
    uid_stash: String,
    export_interval: i64,
    expire_interval: i64,
    /// Records written, by kind: indexed by `RecordKind::index`, a discriminant in 0..12
    /// (never out of bounds).
    records: [u64; 12],
    /// Native IPv6 flows seen and not yet ended (process, thread, fd, endpoints).
    ipv6_open: HashSet<Ipv6FlowKey>,
    /// Native IPv6 flows omitted so far.
    ipv6_omitted: u64,
    /// File flows the read filter kept out.
    filtered_flows: u64,
    /// Reads and writes on fds the state does not know.
    unknown_fd_ops: u64,
    /// Tests: file flows looked at by closes searching other threads' flows on their fd.
    #[cfg(test)]
    related_scans: u64,
}

/// A native IPv6 flow: process id, thread id, fd, source address and port, destination
/// address and port.
pub(crate) type Ipv6FlowKey = (i64, i64, i64, [u8; 16], u16, [u8; 16], u16);

/// Seconds a flow waits between periodic exports.
pub const EXPORT_INTERVAL_S: i64 = 30;
/// Seconds without activity after which a flow is dropped at export time.
pub const EXPIRE_INTERVAL_S: i64 = 60;

impl Aggregator {
    /// A new aggregator.
    pub fn new(cfg: AggConfig) -> Self {
        Aggregator {
            cfg,
            procs: BTreeMap::new(),
            containers: HashMap::default(),
            pods: HashMap::default(),
            files: FlowMap::default(),
            files_epoch: 0,
            key_scratch: Vec::new(),
            dfset: BTreeMap::new(),
            pfset: BTreeMap::new(),
            seq: 0,
            del_queue: VecDeque::new(),
            last_del_check: 0,
            last_df_check: 0,
            last_pf_check: 0,
            clock: CaptureClock::default(),
            uid_stash: String::new(),
            export_interval: EXPORT_INTERVAL_S,
            expire_interval: EXPIRE_INTERVAL_S,
            records: [0; 12],
            ipv6_open: HashSet::default(),
            ipv6_omitted: 0,
            filtered_flows: 0,
            unknown_fd_ops: 0,
            #[cfg(test)]
            related_scans: 0,
        }
    }

    fn count(&mut self, rec: &Record) {
        self.records[rec.kind().index()] += 1;
    }

    /// Sets the capture clock (ns since the epoch): the time of the event being processed,
    /// or of the driver's idle tick.
    pub fn set_time(&mut self, ns: u64) {
        self.clock.set(ns);
    }

    /// The capture clock.
    pub fn clock(&self) -> CaptureClock {
        self.clock
    }

    /// The current time in whole seconds.
    pub fn now_s(&self) -> i64 {
        self.clock.now_s()
    }

    /// Statistics.
    pub fn stats(&self) -> AggStats {
        AggStats {
            containers: self.containers.len(),
            pods: self.pods.len(),
            processes: self.procs.len(),
            network_flows: self.procs.values().map(|p| p.netflows.len()).sum(),
            file_flows: self.procs.values().map(|p| p.fileflows.len()).sum(),
            process_flows: self.pfset.len(),
            records: self.records,
        }
    }

    /// Native IPv6 flows left out so far: the v5 schema has no IPv6 addresses, and an
    /// IPv6 flow is never written as a made-up IPv4 one (IPv4-mapped addresses are
    /// IPv4 and written). Counted once per (thread, fd, endpoints) between its first
    /// operation and its close or the thread's exit.
    pub fn omitted_ipv6_flows(&self) -> u64 {
        self.ipv6_omitted
    }

    /// File flow records the `file_read_mode` filter kept out so far (each export of a
    /// flow the filter drops counts once).
    pub fn filtered_flows(&self) -> u64 {
        self.filtered_flows
    }

    /// Read and write operations that moved bytes on an fd the state does not know, so
    /// in no flow, so far. Counted per operation (a counter batch counts its operations).
    pub fn unknown_fd_ops(&self) -> u64 {
        self.unknown_fd_ops
    }

    /// Records written of one kind.
    pub fn records_of(&self, kind: RecordKind) -> u64 {
        self.records[kind.index()]
    }

    /// Periodic work, run before each event (and on idle timeouts when live): flow export
    /// and expiry, and deletion of processes that exited.
    pub fn housekeeping(&mut self, out: &mut dyn Emit) -> Result<()> {
        if self.last_df_check == 0 {
            self.last_df_check = i64::MIN;
        }
        if self.last_pf_check == 0 {
            self.last_pf_check = i64::MIN;
        }
        self.expire_data_flows(out)?;
        self.expire_process_flows(out)?;
        // A first check at time 0 (metadata events) must not count as initialized.
        if self.last_df_check == 0 {
            self.last_df_check = i64::MIN;
        }
        if self.last_pf_check == 0 {
            self.last_pf_check = i64::MIN;
        }
        self.check_deletions();
        Ok(())
    }

    /// Deletes processes whose main thread exited at least a second ago (checked at most
    /// every two seconds of event time, as the reference does).
    fn check_deletions(&mut self) {
        let now = self.now_s();
        if now - self.last_del_check <= 1 {
            return;
        }
        let mut i = 0;
        while let Some(&(oid, t)) = self.del_queue.get(i) {
            if now - t < 1 {
                break;
            }
            self.delete_process(oid);
            self.del_queue.remove(i);
            // The reference also steps over the entry after each deletion; it is deleted
            // on a later pass instead.
            i += 1;
        }
        self.last_del_check = now;
    }

    fn delete_process(&mut self, oid: Oid) {
        let Some(p) = self.procs.remove(&oid) else {
            return;
        };
        if let Some(poid) = p.rec.poid
            && let Some(parent) = self.procs.get_mut(&poid)
        {
            parent.children.remove(&oid);
        }
        if let Some(id) = &p.rec.container_id
            && let Some(c) = self.containers.get_mut(id)
        {
            c.refs -= 1;
        }
        if let Some(pf) = &p.pflow {
            self.pfset.remove(&(pf.export_time, pf.seq));
        }
        for e in p.fileflows.values() {
            self.dfset.remove(&(e.export_time, e.seq));
        }
        for e in p.netflows.values() {
            self.dfset.remove(&(e.export_time, e.seq));
        }
    }

    /// After a rotation: forget idle entities and mark the rest unwritten, so each output
    /// file re-exports (REUP) what its records refer to.
    pub fn on_rotation(&mut self) {
        let idle: Vec<Oid> = self
            .procs
            .iter()
            .filter(|(_, p)| p.is_idle())
            .map(|(k, _)| *k)
            .collect();
        for oid in idle {
            // Walk up, unlinking from parents that then become idle too (at most once
            // round the table: parent links from damaged input may loop).
            let mut cur = oid;
            let mut poid = self.procs.get(&oid).and_then(|p| p.rec.poid);
            let mut steps = 0;
            while let Some(k) = poid {
                steps += 1;
                if k == oid || steps > self.procs.len() {
                    break;
                }
                let Some(parent) = self.procs.get_mut(&k) else {
                    break;
                };
                parent.children.remove(&cur);
                if !parent.is_idle() {
                    break;
                }
                cur = k;
                poid = parent.rec.poid;
            }
            self.delete_process(oid);
        }
        let idle: Vec<Oid> = self
            .procs
            .iter()
            .filter(|(_, p)| p.is_idle())
            .map(|(k, _)| *k)
            .collect();
        for oid in idle {
            self.delete_process(oid);
        }
        self.containers.retain(|_, c| c.refs > 0);
        let containers = &self.containers;
        self.pods.retain(|uid, _| {
            containers
                .values()
                .any(|c| c.rec.pod_id.as_deref() == Some(uid.as_str()))
        });
        // a file is kept while a flow holds its key (see FileEntry)
        self.files
            .retain(|k, _| std::sync::Arc::strong_count(k) > 1);
        self.rewrite_entities();
    }

    /// Writes every entity (process, container, pod, file) again before its next use,
    /// without starting a new period: for a sink whose reader lost records (a socket that
    /// reconnected, or whose slow reader overflowed its queue).
    pub fn rewrite_entities(&mut self) {
        for p in self.procs.values_mut() {
            p.written = false;
        }
        for c in self.containers.values_mut() {
            c.written = false;
        }
        for p in self.pods.values_mut() {
            p.written = false;
        }
        for f in self.files.values_mut() {
            f.written = false;
        }
        self.files_epoch += 1;
    }

    /// Handles one event, after [`State::apply`] processed it. `has_thread` is what
    /// `apply` returned.
    pub fn handle(
        &mut self,
        st: &State,
        ev: &SysEvent<'_>,
        has_thread: bool,
        out: &mut dyn Emit,
    ) -> Result<()> {
        if !has_thread {
            return Ok(());
        }
        let tid = ev.tid;
        let files = self.cfg.collection_mode != CollectionMode::NoFiles;
        match ev.kind {
            EventKind::Clone(c) => self.on_clone(st, tid, c.res, c.flags.unwrap_or(0), out),
            EventKind::Execve(e) | EventKind::ExecveAt { exec: e, .. } => {
                // close-on-exec fds the exec closed: their flows end here, before the
                // new program's events
                if e.res >= 0
                    && let Some((t, fds)) = st.closing_fds()
                {
                    for &fd in fds {
                        self.data_event(st, t, Some(fd), FlowOp::single(OpFlags::CLOSE, 0), out)?;
                    }
                }
                self.on_exec(st, tid, e.res, out)
            }
            EventKind::Exit { status, .. } => self.on_exit(st, tid, status, out),
            EventKind::CgroupMove { .. } => self.on_cgroup_move(st, tid, out),
            EventKind::SetIds { res, change } => {
                let container = st
                    .threads
                    .get(tid)
                    .map(|t| t.container_id.clone())
                    .unwrap_or_default();
                let name = |uid: u32| -> String {
                    if uid == u32::MAX {
                        return "<NONE>".into();
                    }
                    match st.users.user(container.as_bytes(), uid) {
                        Some(u) => crate::model::escape_name(&u.name),
                        None => "<NA>".into(),
                    }
                };
                match change {
                    Some(IdChange::SetUid(u)) => self.uid_stash = name(u),
                    Some(IdChange::SetReuid(_, e)) => self.uid_stash = name(e),
                    Some(IdChange::SetResuid(..)) => self.uid_stash = String::new(),
                    Some(_) => return Ok(()),
                    None => {}
                }
                let arg = self.uid_stash.clone();
                self.on_setuid(st, tid, res, arg, out)
            }
            EventKind::FileOp(f) if files => self.on_file_op(st, tid, &f, out),
            EventKind::Open(o) => {
                if o.fd < 0 {
                    return Ok(());
                }
                self.data_event(st, tid, Some(o.fd), FlowOp::single(OpFlags::OPEN, 0), out)
            }
            EventKind::Accept { fd, .. } => {
                if fd < 0 {
                    return Ok(());
                }
                self.data_event(st, tid, Some(fd), FlowOp::single(OpFlags::ACCEPT, 0), out)
            }
            EventKind::Connect { fd, exit_fd, .. } => {
                let fd = fd
                    .filter(|f| st.fd(tid, *f).is_some())
                    .or(exit_fd.filter(|f| *f >= 0));
                self.data_event(st, tid, fd, FlowOp::single(OpFlags::CONNECT, 0), out)
            }
            EventKind::Io(io) => {
                let flag = match io.dir {
                    IoDir::Read => OpFlags::READ_RECV,
                    IoDir::Write => OpFlags::WRITE_SEND,
                };
                self.data_event(st, tid, io.fd, FlowOp::single(flag, io.res), out)
            }
            EventKind::IoCounters(c) => {
                let tid = st.counter_tid().unwrap_or(tid);
                if let Some(i) = st.fd(tid, c.fd).and_then(udp_server_view) {
                    for (flag, ops, bytes) in [
                        (OpFlags::READ_RECV, c.read_ops, c.read_bytes),
                        (OpFlags::WRITE_SEND, c.write_ops, c.write_bytes),
                    ] {
                        if ops > 0 || bytes > 0 {
                            let op = FlowOp {
                                flag,
                                ops: ops as i64,
                                bytes: bytes as i64,
                            };
                            self.net_flow_event(st, tid, c.fd, &i, op, out)?;
                        }
                    }
                    if st.late_fd() == Some((tid, c.fd)) {
                        let close = FlowOp::single(OpFlags::CLOSE, 0);
                        self.net_flow_event(st, tid, c.fd, &i, close, out)?;
                    }
                    return Ok(());
                }
                if c.read_ops > 0 || c.read_bytes > 0 {
                    let op = FlowOp {
                        flag: OpFlags::READ_RECV,
                        ops: c.read_ops as i64,
                        bytes: c.read_bytes as i64,
                    };
                    self.data_event(st, tid, Some(c.fd), op, out)?;
                }
                if c.write_ops > 0 || c.write_bytes > 0 {
                    let op = FlowOp {
                        flag: OpFlags::WRITE_SEND,
                        ops: c.write_ops as i64,
                        bytes: c.write_bytes as i64,
                    };
                    self.data_event(st, tid, Some(c.fd), op, out)?;
                }
                if st.late_fd() == Some((tid, c.fd)) {
                    // counters of an fd closed before they arrived: their flow ends again
                    self.data_event(st, tid, Some(c.fd), FlowOp::single(OpFlags::CLOSE, 0), out)?;
                }
                Ok(())
            }
            EventKind::Close { fd, .. } => {
                self.data_event(st, tid, fd, FlowOp::single(OpFlags::CLOSE, 0), out)
            }
            EventKind::Shutdown { fd, .. } => {
                self.data_event(st, tid, fd, FlowOp::single(OpFlags::SHUTDOWN, 0), out)
            }
            EventKind::Setns { fd, .. } => {
                self.data_event(st, tid, fd, FlowOp::single(OpFlags::SETNS, 0), out)
            }
            EventKind::Mmap { fd, fd_arg, flags } => {
                if !files {
                    return Ok(());
                }
                let fd = fd.filter(|f| st.fd(tid, *f).is_some()).or_else(|| {
                    (flags & (1 << 3) == 0 && fd_arg != -1 && st.fd(tid, fd_arg).is_some())
                        .then_some(fd_arg)
                });
                self.data_event(st, tid, fd, FlowOp::single(OpFlags::MMAP, 0), out)
            }
            EventKind::CloseRange {
                first,
                last,
                flags,
                res,
            } => {
                for fd in st.closed_by_range(tid, first, last, flags, res) {
                    self.data_event(st, tid, Some(fd), FlowOp::single(OpFlags::CLOSE, 0), out)?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Routes an operation on an fd to network or file flows.
    fn data_event(
        &mut self,
        st: &State,
        tid: i64,
        fd: Option<i64>,
        op: FlowOp,
        out: &mut dyn Emit,
    ) -> Result<()> {
        let Some(fd) = fd else { return Ok(()) };
        let Some(info) = st.fd(tid, fd) else {
            if op.flag.intersects(OpFlags::READ_RECV | OpFlags::WRITE_SEND) && op.bytes > 0 {
                self.unknown_fd_ops += op.ops.max(1) as u64;
            }
            return Ok(());
        };
        // the close of a bound UDP socket ends the flows its peerless reads and writes
        // made (and makes none: the reference writes no flow for such a socket)
        if op.flag == OpFlags::CLOSE
            && let Some(view) = udp_server_view(info)
            && self.has_net_flow(st, tid, fd, &view)
        {
            return self.net_flow_event(st, tid, fd, &view, op, out);
        }
        if matches!(info.kind, FdKind::Ipv4Sock | FdKind::Ipv6Sock) {
            return self.net_flow_event(st, tid, fd, info, op, out);
        }
        if self.cfg.collection_mode == CollectionMode::NoFiles {
            return Ok(());
        }
        self.file_flow_event(st, tid, fd, info, op, out)
    }

    /// Whether a thread of `tid`'s process has a network flow on `fd` with `view`'s
    /// endpoints.
    fn has_net_flow(&self, st: &State, tid: i64, fd: i64, view: &FdInfo) -> bool {
        let Some(mt) = entities::main_or_self(st, tid) else {
            return false;
        };
        let t = &view.v4;
        let want = (
            i32::from_le_bytes(t.sip),
            i32::from(t.sport),
            i32::from_le_bytes(t.dip),
            i32::from(t.dport),
            fd as i32,
        );
        self.procs
            .get(&Oid::new(mt.clone_ts as i64, mt.pid))
            .is_some_and(|p| p.netflows.keys().any(|k| (k.1, k.2, k.3, k.4, k.5) == want))
    }

    /// End of capture: every open flow is written with TRUNCATE (file flows without the
    /// read filter), after its process and ancestors if they were not written.
    pub fn finish(&mut self, out: &mut dyn Emit) -> Result<()> {
        let end = self.clock.now_ns() as i64;
        let oids: Vec<Oid> = self.procs.keys().copied().collect();
        for oid in oids {
            // Its flows are taken out first, then the process (and ancestors) written if
            // they need it: writing entities reads no flow.
            let Some(p) = self.procs.get_mut(&oid) else {
                continue;
            };
            let mut nfs: Vec<_> = std::mem::take(&mut p.netflows).into_values().collect();
            let mut ffs: Vec<_> = std::mem::take(&mut p.fileflows).into_values().collect();
            p.fd_flows.clear();
            let pf = p.pflow.take();
            let busy = !nfs.is_empty() || !ffs.is_empty() || pf.is_some();
            if busy && !p.written {
                self.write_process_and_ancestors(oid, out)?;
            }
            nfs.sort_by_key(|e| (e.rec.ts, e.rec.tid, e.rec.fd));
            ffs.sort_by_key(|e| (e.rec.ts, e.rec.tid, e.rec.fd));
            for e in nfs {
                let mut rec = e.rec;
                rec.op_flags |= OpFlags::TRUNCATE;
                rec.end_ts = end;
                self.write_net_flow(&rec, out)?;
            }
            for e in ffs {
                let mut rec = e.rec;
                rec.op_flags |= OpFlags::TRUNCATE;
                rec.end_ts = end;
                self.export_file(&e.file_key, out)?;
                self.write_file_flow(&rec, &e.name, &e.file_key, false, out)?;
            }
            if let Some(pf) = pf {
                let mut rec = pf.rec;
                rec.op_flags |= OpFlags::TRUNCATE;
                rec.end_ts = end;
                self.write_proc_flow(&rec, out)?;
            }
        }
        self.dfset.clear();
        self.pfset.clear();
        Ok(())
    }

    /// The objects state a new process starts in, for a caller (used by tests).
    #[doc(hidden)]
    pub fn created() -> ObjectState {
        ObjectState::Created
    }
}
