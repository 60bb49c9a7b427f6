//! File flows and network flows: per thread and fd, counting reads and writes between an
//! open/accept/connect and the close, exit, periodic export or end of capture.

use super::entities::FileRef;
use super::{Aggregator, DataFlowRef, Emit, FfKey, FfKeyRef, NfKey, SharedName, held};
use crate::config::{CollectionMode, FileReadMode};
use crate::error::Result;
use crate::model::*;
use crate::state::{FdInfo, FdKind, State, l4};
use hashbrown::hash_map::{Entry, EntryRef};

/// A file flow being accumulated.
pub(crate) struct FileFlowEntry {
    pub rec: FileFlow,
    /// Key of the file entity (container id + path), shared with the file table.
    pub file_key: SharedName,
    /// The fd name at creation (the read filter's prefix test looks at it), shared with
    /// the flow's key (and with `file_key` when the process is in no container).
    pub name: SharedName,
    pub export_time: i64,
    pub last_update: i64,
    pub seq: u64,
    /// [`Aggregator::files_epoch`] when the flow's file entity (`file_key`) was last known
    /// written.
    pub files_epoch: u64,
}

impl FileFlowEntry {
    /// Applies an operation at `now` (s); an open also sets the open flags.
    fn update(&mut self, op: FlowOp, fdinfo: &FdInfo, now: i64) {
        self.rec.apply(op);
        self.last_update = now;
        if op.flag == OpFlags::OPEN {
            self.rec.open_flags = fdinfo.openflags as i32;
        }
    }
}

/// A network flow being accumulated.
pub(crate) struct NetFlowEntry {
    pub rec: NetworkFlow,
    pub export_time: i64,
    pub last_update: i64,
    pub seq: u64,
}

/// The change an operation makes to a flow.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FlowOp {
    pub flag: OpFlags,
    /// Number of operations (1 for a syscall; the kernel's count for aggregated I/O).
    pub ops: i64,
    /// Bytes transferred (negative results add nothing).
    pub bytes: i64,
}

impl FlowOp {
    pub fn single(flag: OpFlags, res: i64) -> Self {
        // The result is read as a 32-bit int, as the reference does.
        Self {
            flag,
            ops: 1,
            bytes: i64::from((res as i32).max(0)),
        }
    }
}

const NOISY_PREFIXES: [&[u8]; 8] = [
    b"/proc/",
    b"/dev/",
    b"/sys/",
    b"//sys/",
    b"/lib/",
    b"/lib64/",
    b"/usr/lib/",
    b"/usr/lib64/",
];

/// What file and network flows share: operations, four counters and a time span.
trait Counted {
    /// The operations and the counters (read ops, write ops, read bytes, write bytes).
    fn parts(&mut self) -> (&mut OpFlags, [&mut i64; 4], &mut i64, &mut i64);

    /// Adds one operation (or the kernel's aggregate of several).
    fn apply(&mut self, op: FlowOp) {
        let (flags, [r_ops, w_ops, r_bytes, w_bytes], _, _) = self.parts();
        *flags |= op.flag;
        if op.flag == OpFlags::WRITE_SEND {
            *w_ops += op.ops;
            *w_bytes += op.bytes.max(0);
        } else if op.flag == OpFlags::READ_RECV {
            *r_ops += op.ops;
            *r_bytes += op.bytes.max(0);
        }
    }

    /// Starts a new period after a periodic export: no operations, zero counters.
    fn restart(&mut self, ts: i64) {
        let (flags, counters, start, end) = self.parts();
        *flags = OpFlags::empty();
        for c in counters {
            *c = 0;
        }
        *start = ts;
        *end = 0;
    }
}

impl Counted for FileFlow {
    fn parts(&mut self) -> (&mut OpFlags, [&mut i64; 4], &mut i64, &mut i64) {
        (
            &mut self.op_flags,
            [
                &mut self.num_r_recv_ops,
                &mut self.num_w_send_ops,
                &mut self.num_r_recv_bytes,
                &mut self.num_w_send_bytes,
            ],
            &mut self.ts,
            &mut self.end_ts,
        )
    }
}

impl Counted for NetworkFlow {
    fn parts(&mut self) -> (&mut OpFlags, [&mut i64; 4], &mut i64, &mut i64) {
        (
            &mut self.op_flags,
            [
                &mut self.num_r_recv_ops,
                &mut self.num_w_send_ops,
                &mut self.num_r_recv_bytes,
                &mut self.num_w_send_bytes,
            ],
            &mut self.ts,
            &mut self.end_ts,
        )
    }
}

/// Protocol number SysFlow records for a scap layer-4 protocol.
fn proto(l4proto: u8) -> i32 {
    match l4proto {
        l4::TCP => 6,
        l4::UDP => 17,
        l4::ICMP => 1,
        l4::RAW => 254,
        _ => -1,
    }
}

impl Aggregator {
    /// Whether a file flow passes the `fileReadMode` filter.
    ///
    /// A flow is a read flow when it was opened read-only (access mode `O_RDONLY`), or when
    /// it read but neither wrote nor mapped. The reference tests the `PPM_O_RDONLY` bit
    /// alone, which `O_RDWR` also carries, so it drops writes made through a read-write
    /// fd under `/lib`, `/dev`…; here an `O_RDWR` flow that wrote is kept
    /// (`reference-semantics.md` §4.7, deliberate deviation).
    pub(crate) fn passes_read_filter(&self, ff: &FileFlow, name: &[u8]) -> bool {
        let mode = self.cfg.file_read_mode;
        if mode == FileReadMode::All {
            return true;
        }
        let access = OpenFlags::from_bits_truncate(ff.open_flags as u32) & OpenFlags::RDWR;
        let read_only = access == OpenFlags::RDONLY
            || (ff.op_flags.contains(OpFlags::READ_RECV)
                && !ff.op_flags.contains(OpFlags::WRITE_SEND)
                && !ff.op_flags.contains(OpFlags::MMAP));
        if !read_only {
            return true;
        }
        match mode {
            FileReadMode::NoReads => false,
            _ => !NOISY_PREFIXES.iter().any(|p| name.starts_with(p)),
        }
    }

    /// Writes a flow record unless it carries no operation (or only TRUNCATE).
    fn suppressed(flags: OpFlags) -> bool {
        flags.is_empty() || flags == OpFlags::TRUNCATE
    }

    pub(crate) fn write_file_flow(
        &mut self,
        ff: &FileFlow,
        name: &[u8],
        file_key: &[u8],
        filtered: bool,
        out: &mut dyn Emit,
    ) -> Result<()> {
        if Self::suppressed(ff.op_flags) {
            return Ok(());
        }
        if filtered && !self.passes_read_filter(ff, name) {
            self.filtered_flows += 1;
            return Ok(());
        }
        self.write_linked(
            Record::FileFlow(ff.clone()),
            Some(ff.proc_oid),
            Some(file_key),
            None,
            out,
        )
    }

    pub(crate) fn write_net_flow(&mut self, nf: &NetworkFlow, out: &mut dyn Emit) -> Result<()> {
        if Self::suppressed(nf.op_flags) {
            return Ok(());
        }
        self.write_linked(
            Record::NetworkFlow(nf.clone()),
            Some(nf.proc_oid),
            None,
            None,
            out,
        )
    }

    // ------------------------------------------------------------------------ file flows

    /// Routes an fd operation to the file-flow logic (the fd is not an IP socket).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn file_flow_event(
        &mut self,
        st: &State,
        tid: i64,
        fd: i64,
        fdinfo: &FdInfo,
        op: FlowOp,
        out: &mut dyn Emit,
    ) -> Result<()> {
        let restype = fdinfo.kind.typechar();
        if self.cfg.file_only && !fdinfo.kind.is_file() {
            return Ok(());
        }
        if !matches!(restype, b'f' | b'd' | b'u' | b'p') {
            return Ok(());
        }
        let Some((oid, _)) = self.get_process(st, tid, ObjectState::Reup, out)? else {
            return Ok(());
        };
        // A flow under way whose file was written in this period needs no lookup of its
        // file (an open too: its close was not seen, and the process may have moved to
        // another container since, whose file entity a lookup would write).
        if self.flow_under_way(st, oid, tid, fd, fdinfo, op, out)? {
            return Ok(());
        }
        let file = self.get_file(st, tid, &fdinfo.name, restype, ObjectState::Reup, out)?;
        self.file_flow_update(oid, tid, fd, fdinfo, &file, op, out)
    }

    /// Applies `op` to the flow of (`tid`, `fd`) on the file of `fdinfo` if that flow is
    /// under way and its file entity was written in this period: what
    /// [`Aggregator::get_file`] would look up is then known. A close also needs the
    /// thread's file key (container id + name) to be still the flow's, or the file it
    /// names now is looked up (and written) as at any first use. Returns whether it did.
    #[allow(clippy::too_many_arguments)]
    fn flow_under_way(
        &mut self,
        st: &State,
        oid: Oid,
        tid: i64,
        fd: i64,
        fdinfo: &FdInfo,
        op: FlowOp,
        out: &mut dyn Emit,
    ) -> Result<bool> {
        if self.cfg.collection_mode == CollectionMode::Consumer {
            return Ok(false);
        }
        let (files_epoch, now) = (self.files_epoch, self.now_s());
        let Some(p) = self.procs.get_mut(&oid) else {
            return Ok(false);
        };
        let EntryRef::Occupied(mut o) = p.fileflows.entry_ref(&FfKeyRef(&fdinfo.name, tid, fd))
        else {
            return Ok(false);
        };
        // (the flow's key names what `fdinfo` names; a host file's flow shares that name
        // with its file key)
        let shares_name = std::sync::Arc::ptr_eq(&o.get().file_key, &o.key().0);
        let e = o.get_mut();
        if e.files_epoch != files_epoch {
            return Ok(false);
        }
        if op.flag != OpFlags::CLOSE {
            e.update(op, fdinfo, now);
            return Ok(true);
        }
        let container = super::entities::container_of(st, tid);
        let same_file = if container.is_empty() && shares_name {
            true
        } else {
            e.file_key.len() == container.len() + fdinfo.name.len()
                && e.file_key.starts_with(container)
                && e.file_key.ends_with(&fdinfo.name)
        };
        if !same_file {
            return Ok(false);
        }
        e.update(op, fdinfo, now);
        let e = o.remove();
        let file_key = e.file_key.clone();
        let ts = self.clock.now_ns() as i64;
        self.end_file_flow(oid, tid, fd, e, &file_key, ts, out)?;
        Ok(true)
    }

    /// Writes a flow of (`tid`, `fd`) its close took out of its process's table, after
    /// ending the other threads' flows on the fd and the file of key `file_key` (the
    /// file the closing thread names now).
    #[allow(clippy::too_many_arguments)]
    fn end_file_flow(
        &mut self,
        oid: Oid,
        tid: i64,
        fd: i64,
        e: FileFlowEntry,
        file_key: &[u8],
        ts: i64,
        out: &mut dyn Emit,
    ) -> Result<()> {
        if let Some(p) = self.procs.get_mut(&oid) {
            p.file_flow_gone(e.rec.fd);
        }
        self.dfset.remove(&(e.export_time, e.seq));
        self.write_related_file_flows(oid, tid, fd as i32, file_key, ts, out)?;
        if e.files_epoch != self.files_epoch {
            // the flow's file is not known written in this period (the process changed
            // containers since the flow began, and a rotation came between)
            self.export_file(&e.file_key, out)?;
        }
        let mut rec = e.rec;
        rec.end_ts = ts;
        self.write_file_flow(&rec, &e.name, &e.file_key, true, out)?;
        Ok(())
    }

    /// Applies `op` to the flow of (`tid`, `fd`) on `file`, creating or ending it.
    #[allow(clippy::too_many_arguments)]
    fn file_flow_update(
        &mut self,
        oid: Oid,
        tid: i64,
        fd: i64,
        fdinfo: &FdInfo,
        file: &FileRef,
        op: FlowOp,
        out: &mut dyn Emit,
    ) -> Result<()> {
        let (file_key, file_oid) = (&*file.key, file.oid);
        let now = self.now_s();
        let ts = self.clock.now_ns() as i64;
        let open_flags = if op.flag == OpFlags::OPEN {
            fdinfo.openflags as i32
        } else {
            0
        };
        if self.cfg.collection_mode == CollectionMode::Consumer {
            if op.flag != OpFlags::OPEN {
                return Ok(());
            }
            let ff = FileFlow {
                proc_oid: oid,
                ts,
                tid,
                op_flags: OpFlags::OPEN,
                open_flags,
                end_ts: ts,
                file_oid,
                fd: fd as i32,
                ..Default::default()
            };
            return self.write_file_flow(&ff, b"", file_key, true, out);
        }
        let kref = FfKeyRef(&fdinfo.name, tid, fd);
        let p = held(&mut self.procs, oid)?;
        let mut o = match p.fileflows.entry_ref(&kref) {
            EntryRef::Occupied(o) => o,
            EntryRef::Vacant(v) => {
                // a new flow
                let mut rec = FileFlow {
                    proc_oid: oid,
                    ts,
                    tid,
                    op_flags: op.flag,
                    open_flags,
                    end_ts: 0,
                    file_oid,
                    fd: fd as i32,
                    ..Default::default()
                };
                rec.apply(op);
                if op.flag != OpFlags::CLOSE {
                    // one allocation of the name at most: a host file's key is its name
                    let name: SharedName = if file_key == fdinfo.name.as_slice() {
                        file.key.clone()
                    } else {
                        fdinfo.name.as_slice().into()
                    };
                    let key: FfKey = (name.clone(), tid, fd);
                    self.seq += 1;
                    self.dfset
                        .insert((now, self.seq), DataFlowRef::File(oid, key.clone()));
                    let e = FileFlowEntry {
                        rec,
                        file_key: file.key.clone(),
                        name,
                        export_time: now,
                        last_update: now,
                        seq: self.seq,
                        files_epoch: self.files_epoch,
                    };
                    v.insert_with_key(key, e);
                    p.file_flow_added(fd as i32);
                } else {
                    self.write_related_file_flows(oid, tid, fd as i32, file_key, ts, out)?;
                    rec.end_ts = ts;
                    self.write_file_flow(&rec, &fdinfo.name, file_key, true, out)?;
                }
                return Ok(());
            }
        };
        let e = o.get_mut();
        // (get_file wrote the file entity if this period had not: the flow's own, unless
        // the process changed containers since the flow began)
        if *e.file_key == *file_key {
            e.files_epoch = self.files_epoch;
        }
        e.update(op, fdinfo, now);
        if op.flag == OpFlags::CLOSE {
            // Taken out first: the other threads' flows ended with it are all of another
            // thread, never this one.
            let e = o.remove();
            return self.end_file_flow(oid, tid, fd, e, file_key, ts, out);
        }
        Ok(())
    }

    /// On a close by one thread, the flows of other threads on the same fd and file end
    /// too (TRUNCATE); those with OPEN first.
    fn write_related_file_flows(
        &mut self,
        oid: Oid,
        tid: i64,
        fd: i32,
        file_key: &[u8],
        end_ts: i64,
        out: &mut dyn Emit,
    ) -> Result<()> {
        let Some(p) = self.procs.get_mut(&oid) else {
            return Ok(());
        };
        if p.file_flows_on(fd) == 0 {
            // no other flow on the fd: nothing to look for
            return Ok(());
        }
        #[cfg(test)]
        {
            self.related_scans += p.fileflows.len() as u64;
        }
        // (taken out in table order, as they are listed: a stable sort then orders them
        // by thread and fd)
        let mut ended: Vec<(FfKey, FileFlowEntry)> = p
            .fileflows
            .extract_if(|_, e| e.rec.tid != tid && e.rec.fd == fd && *e.file_key == *file_key)
            .collect();
        for (_, e) in &ended {
            p.file_flow_gone(e.rec.fd);
        }
        ended.sort_by_key(|(k, _)| (k.1, k.2));
        let mut opened = Vec::new();
        let mut others = Vec::new();
        for (_, e) in ended {
            if e.rec.op_flags.contains(OpFlags::OPEN) {
                opened.insert(0, e);
            } else {
                others.push(e);
            }
        }
        for e in opened.into_iter().chain(others) {
            self.dfset.remove(&(e.export_time, e.seq));
            let mut rec = e.rec;
            rec.end_ts = end_ts;
            rec.op_flags |= OpFlags::TRUNCATE;
            self.export_file(&e.file_key, out)?;
            self.write_file_flow(&rec, &e.name, &e.file_key, true, out)?;
        }
        Ok(())
    }

    // --------------------------------------------------------------------- network flows

    /// An operation on an IPv4 socket.
    pub(crate) fn net_flow_event(
        &mut self,
        st: &State,
        tid: i64,
        fd: i64,
        fdinfo: &FdInfo,
        op: FlowOp,
        out: &mut dyn Emit,
    ) -> Result<()> {
        if fdinfo.kind == FdKind::Ipv6Sock {
            // IPv6 flows have no place in the v5 schema: counted, not written.
            let pid = st.threads.get(tid).map_or(tid, |t| t.pid);
            let t = &fdinfo.v6;
            let key = (pid, tid, fd, t.sip, t.sport, t.dip, t.dport);
            if op.flag.contains(OpFlags::CLOSE) {
                if !self.ipv6_open.remove(&key) {
                    self.ipv6_omitted += 1;
                }
            } else if self.ipv6_open.insert(key) {
                self.ipv6_omitted += 1;
            }
            return Ok(());
        }
        if fdinfo.kind != FdKind::Ipv4Sock {
            return Ok(());
        }
        let Some((oid, _)) = self.get_process(st, tid, ObjectState::Reup, out)? else {
            return Ok(());
        };
        let sip = i32::from_le_bytes(fdinfo.v4.sip);
        let dip = i32::from_le_bytes(fdinfo.v4.dip);
        let (sport, dport) = (i32::from(fdinfo.v4.sport), i32::from(fdinfo.v4.dport));
        let key: NfKey = (tid, sip, sport, dip, dport, fd as i32);
        let now = self.now_s();
        let ts = self.clock.now_ns() as i64;
        let p = held(&mut self.procs, oid)?;
        let Entry::Occupied(mut o) = p.netflows.entry(key) else {
            // a new flow
            let mut rec = NetworkFlow {
                proc_oid: oid,
                ts,
                tid,
                op_flags: op.flag,
                end_ts: 0,
                sip,
                sport,
                dip,
                dport,
                proto: proto(fdinfo.l4proto),
                fd: fd as i32,
                ..Default::default()
            };
            rec.apply(op);
            if op.flag != OpFlags::CLOSE {
                self.seq += 1;
                self.dfset
                    .insert((now, self.seq), DataFlowRef::Net(oid, key));
                p.netflows.insert(
                    key,
                    NetFlowEntry {
                        rec,
                        export_time: now,
                        last_update: now,
                        seq: self.seq,
                    },
                );
            } else {
                self.write_related_net_flows(oid, &key, ts, out)?;
                rec.end_ts = ts;
                self.write_net_flow(&rec, out)?;
            }
            return Ok(());
        };
        let e = o.get_mut();
        e.rec.apply(op);
        e.last_update = now;
        if op.flag == OpFlags::CLOSE {
            // Taken out first: the other threads' flows ended with it are all of another
            // thread, never this one.
            let e = o.remove();
            self.dfset.remove(&(e.export_time, e.seq));
            self.write_related_net_flows(oid, &key, ts, out)?;
            let mut rec = e.rec;
            rec.end_ts = ts;
            self.write_net_flow(&rec, out)?;
        }
        Ok(())
    }

    fn write_related_net_flows(
        &mut self,
        oid: Oid,
        key: &NfKey,
        end_ts: i64,
        out: &mut dyn Emit,
    ) -> Result<()> {
        let Some(p) = self.procs.get_mut(&oid) else {
            return Ok(());
        };
        let mut ended: Vec<(NfKey, NetFlowEntry)> = p
            .netflows
            .extract_if(|k, _| {
                k.0 != key.0 && (k.1, k.2, k.3, k.4, k.5) == (key.1, key.2, key.3, key.4, key.5)
            })
            .collect();
        ended.sort_by_key(|(k, _)| *k);
        let mut first = Vec::new();
        let mut others = Vec::new();
        for (_, e) in ended {
            if e.rec
                .op_flags
                .intersects(OpFlags::ACCEPT | OpFlags::CONNECT)
            {
                first.insert(0, e);
            } else {
                others.push(e);
            }
        }
        for e in first.into_iter().chain(others) {
            self.dfset.remove(&(e.export_time, e.seq));
            let mut rec = e.rec;
            rec.end_ts = end_ts;
            rec.op_flags |= OpFlags::TRUNCATE;
            self.write_net_flow(&rec, out)?;
        }
        Ok(())
    }

    // ------------------------------------------------------------------ exits and expiry

    /// A thread (`Some(tid)`) or a whole process (`None`) ended: its flows end with
    /// TRUNCATE (file flows first), and on a thread exit the other threads' flows on the
    /// same fds end too.
    pub(crate) fn flush_flows_of(
        &mut self,
        oid: Oid,
        tid: Option<i64>,
        out: &mut dyn Emit,
    ) -> Result<()> {
        let end_ts = self.clock.now_ns() as i64;
        self.ipv6_open
            .retain(|k| k.0 != oid.hpid || tid.is_some_and(|t| k.1 != t));
        let Some(p) = self.procs.get(&oid) else {
            return Ok(());
        };
        let mut fkeys: Vec<FfKey> = p
            .fileflows
            .iter()
            .filter(|(_, e)| tid.is_none_or(|t| e.rec.tid == t))
            .map(|(k, _)| k.clone())
            .collect();
        fkeys.sort_by(|a, b| (a.1, a.2, &a.0).cmp(&(b.1, b.2, &b.0)));
        for k in fkeys {
            let Some(e) = self.procs.get_mut(&oid).and_then(|p| {
                let e = p.fileflows.remove(&k)?;
                p.file_flow_gone(e.rec.fd);
                Some(e)
            }) else {
                continue;
            };
            self.dfset.remove(&(e.export_time, e.seq));
            self.export_file(&e.file_key, out)?;
            if tid.is_some() {
                self.write_related_file_flows(oid, e.rec.tid, e.rec.fd, &e.file_key, end_ts, out)?;
            }
            let mut rec = e.rec;
            rec.end_ts = end_ts;
            rec.op_flags |= OpFlags::TRUNCATE;
            self.write_file_flow(&rec, &e.name, &e.file_key, true, out)?;
        }
        let Some(p) = self.procs.get(&oid) else {
            return Ok(());
        };
        let mut nkeys: Vec<NfKey> = p
            .netflows
            .keys()
            .filter(|k| tid.is_none_or(|t| k.0 == t))
            .copied()
            .collect();
        nkeys.sort();
        for k in nkeys {
            let Some(e) = self.procs.get_mut(&oid).and_then(|p| p.netflows.remove(&k)) else {
                continue;
            };
            self.dfset.remove(&(e.export_time, e.seq));
            if tid.is_some() {
                self.write_related_net_flows(oid, &k, end_ts, out)?;
            }
            let mut rec = e.rec;
            rec.end_ts = end_ts;
            rec.op_flags |= OpFlags::TRUNCATE;
            self.write_net_flow(&rec, out)?;
        }
        Ok(())
    }

    /// Periodic export: flows not exported for 30 s are written and restarted; flows idle
    /// for 60 s are dropped. Runs at most once per second of capture time.
    pub(crate) fn expire_data_flows(&mut self, out: &mut dyn Emit) -> Result<()> {
        let now = self.now_s();
        if self.last_df_check == i64::MIN {
            self.last_df_check = now;
            return Ok(());
        }
        if now - self.last_df_check < 1 {
            return Ok(());
        }
        self.last_df_check = now;
        let sinsp_ts = self.clock.now_ns() as i64;
        while let Some((&(export_time, seq), r)) = self.dfset.first_key_value() {
            if now - export_time < self.export_interval {
                break;
            }
            let r = r.clone();
            self.dfset.remove(&(export_time, seq));
            // (a process deleted, or a flow ended, since this entry was queued: nothing
            // left to export)
            match r {
                DataFlowRef::File(oid, key) => {
                    let Some(p) = self.procs.get_mut(&oid) else {
                        continue;
                    };
                    let EntryRef::Occupied(mut o) = p.fileflows.entry_ref(&key) else {
                        continue;
                    };
                    if now - o.get().last_update >= self.expire_interval {
                        let e = o.remove();
                        p.file_flow_gone(e.rec.fd);
                        continue;
                    }
                    // The flow restarts in place (exporting reads no flow), then the
                    // period that ended is written.
                    let e = o.get_mut();
                    let mut rec = e.rec.clone();
                    let (name, file_key) = (e.name.clone(), e.file_key.clone());
                    rec.end_ts = sinsp_ts;
                    self.seq += 1;
                    e.rec.restart(sinsp_ts);
                    e.export_time = now;
                    e.seq = self.seq;
                    self.dfset
                        .insert((now, self.seq), DataFlowRef::File(oid, key));
                    self.export_process(oid, out)?;
                    self.export_file(&file_key, out)?;
                    self.write_file_flow(&rec, &name, &file_key, true, out)?;
                }
                DataFlowRef::Net(oid, key) => {
                    let Some(p) = self.procs.get_mut(&oid) else {
                        continue;
                    };
                    let Entry::Occupied(mut o) = p.netflows.entry(key) else {
                        continue;
                    };
                    if now - o.get().last_update >= self.expire_interval {
                        o.remove();
                        continue;
                    }
                    let e = o.get_mut();
                    let mut rec = e.rec.clone();
                    rec.end_ts = sinsp_ts;
                    self.seq += 1;
                    e.rec.restart(sinsp_ts);
                    e.export_time = now;
                    e.seq = self.seq;
                    self.dfset
                        .insert((now, self.seq), DataFlowRef::Net(oid, key));
                    self.export_process(oid, out)?;
                    self.write_net_flow(&rec, out)?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::{AggConfig, Links};
    use crate::event::{EventKind, IoDir, IoEvent, OpenEvent, OpenKind, SysEvent};
    use crate::state::ProcSnapshot;

    /// Kernel `O_*` access modes (`<asm-generic/fcntl.h>`).
    const O_RDONLY: u32 = 0;
    const O_RDWR: u32 = 2;

    /// Opens `path` with kernel flags `flags` as fd 3 of process 10, performs `io`
    /// (direction, bytes) on it, closes it, and returns the file flows written.
    fn flows(mode: FileReadMode, path: &[u8], flags: u32, io: &[(IoDir, i64)]) -> Vec<FileFlow> {
        let cfg = crate::SysFlowConfig {
            file_read_mode: mode,
            file_only: false,
            ..Default::default()
        };
        let mut evs = vec![EventKind::Open(OpenEvent {
            kind: OpenKind::OpenAt,
            fd: 3,
            dirfd: Some(-100),
            path: Some(path),
            kernel_path: None,
            flags: OpenFlags::from_kernel(flags).bits(),
        })];
        for &(dir, res) in io {
            evs.push(EventKind::Io(IoEvent {
                dir,
                fd: Some(3),
                res,
                tuple: None,
            }));
        }
        evs.push(EventKind::Close {
            fd: Some(3),
            res: 0,
        });
        replay_with(&cfg, evs)
            .1
            .into_iter()
            .filter_map(|r| match r {
                Record::FileFlow(f) => Some(f),
                _ => None,
            })
            .collect()
    }

    /// Replays `evs` for process 10 (file flows unfiltered) and returns the records.
    fn replay(evs: Vec<EventKind<'_>>) -> (Aggregator, Vec<Record>) {
        replay_with(&crate::SysFlowConfig::default(), evs)
    }

    /// Thread 10's event `kind` at `ts`, through the state and the aggregator.
    fn feed(
        st: &mut State,
        agg: &mut Aggregator,
        ts: u64,
        kind: EventKind<'_>,
        out: &mut dyn Emit,
    ) {
        let ev = SysEvent {
            pid: -1,
            ts,
            tid: 10,
            kind,
        };
        let has = st.apply(&ev);
        agg.handle(st, &ev, has, out).unwrap();
    }

    /// A state with process 10 (`/bin/sh` in `/srv/`) known from the snapshot.
    fn shell_state() -> State {
        let mut st = State::new();
        st.load_snapshot(&ProcSnapshot {
            tid: 10,
            pid: 10,
            ptid: 1,
            exe: b"/bin/sh".to_vec(),
            cwd: b"/srv/".to_vec(),
            ..Default::default()
        });
        st.finish_snapshot();
        st
    }

    /// Replays `evs` for process 10 (`/bin/sh` in `/srv/`) under `cfg`.
    fn replay_with(
        cfg: &crate::SysFlowConfig,
        evs: Vec<EventKind<'_>>,
    ) -> (Aggregator, Vec<Record>) {
        replay_threads(cfg, evs.into_iter().map(|k| (10, k)))
    }

    /// Replays `(tid, event)` pairs of process 10's threads under `cfg`, a nanosecond
    /// apart.
    fn replay_threads<'a>(
        cfg: &crate::SysFlowConfig,
        evs: impl IntoIterator<Item = (i64, EventKind<'a>)>,
    ) -> (Aggregator, Vec<Record>) {
        let mut st = shell_state();
        let mut agg = Aggregator::new(AggConfig::from(cfg));
        let mut out: Vec<Record> = Vec::new();
        for (i, (tid, kind)) in evs.into_iter().enumerate() {
            let ev = SysEvent {
                pid: -1,
                ts: 1_000_000_000 + i as u64,
                tid,
                kind,
            };
            let has = st.apply(&ev);
            agg.handle(&st, &ev, has, &mut out).unwrap();
        }
        (agg, out)
    }

    /// socket(AF_INET6, SOCK_STREAM) as fd 5, connect with endpoints (sip, dip), one
    /// 9-byte write, close.
    fn tcp6(sip: std::net::Ipv6Addr, dip: std::net::Ipv6Addr) -> (Aggregator, Vec<Record>) {
        const AF_INET6: u32 = 10;
        const SOCK_STREAM: u32 = 1;
        replay(vec![
            EventKind::Socket {
                fd: 5,
                domain: AF_INET6,
                sock_type: SOCK_STREAM,
                proto: 6,
            },
            EventKind::Connect {
                fd: Some(5),
                exit_fd: Some(5),
                res: 0,
                tuple: Some(crate::event::SockTuple::V6 {
                    sip: sip.octets(),
                    sport: 40000,
                    dip: dip.octets(),
                    dport: 8080,
                }),
                tuple_from_socket: false,
            },
            EventKind::Io(IoEvent {
                dir: IoDir::Write,
                fd: Some(5),
                res: 9,
                tuple: None,
            }),
            EventKind::Close {
                fd: Some(5),
                res: 0,
            },
        ])
    }

    fn net_flows(out: &[Record]) -> Vec<&NetworkFlow> {
        out.iter()
            .filter_map(|r| match r {
                Record::NetworkFlow(f) => Some(f),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn ipv4_mapped_endpoints_are_ipv4_and_native_ipv6_is_counted_not_written() {
        let mapped: std::net::Ipv6Addr = "::ffff:127.0.0.1".parse().unwrap();
        let (agg, out) = tcp6(mapped, mapped);
        let nfs = net_flows(&out);
        assert_eq!(nfs.len(), 1);
        // 127.0.0.1 as the schema's int: the network-order bytes read little-endian.
        let lo = i32::from_le_bytes(std::net::Ipv4Addr::LOCALHOST.octets());
        let f = nfs[0];
        assert_eq!(
            (f.sip, f.sport, f.dip, f.dport, f.proto),
            (lo, 40000, lo, 8080, 6)
        );
        assert_eq!((f.num_w_send_ops, f.num_w_send_bytes), (1, 9));
        assert_eq!(agg.omitted_ipv6_flows(), 0);

        let one = std::net::Ipv6Addr::LOCALHOST;
        let (agg, out) = tcp6(one, one);
        assert!(net_flows(&out).is_empty());
        assert_eq!(
            agg.omitted_ipv6_flows(),
            1,
            "connect, write and close: one flow"
        );

        // Endpoints the source could not read (`::` both ends) are not 0.0.0.0 IPv4.
        let any = std::net::Ipv6Addr::UNSPECIFIED;
        let (agg, out) = tcp6(any, any);
        assert!(net_flows(&out).is_empty());
        assert_eq!(agg.omitted_ipv6_flows(), 1);
    }

    fn open(fd: i64, path: &[u8]) -> EventKind<'_> {
        EventKind::Open(OpenEvent {
            kind: OpenKind::Open,
            fd,
            dirfd: None,
            path: Some(path),
            kernel_path: None,
            flags: OpenFlags::RDONLY.bits(),
        })
    }

    /// The live source's per-(process, fd) counter batch.
    fn counters(fd: i64, r: (u64, u64), w: (u64, u64)) -> EventKind<'static> {
        EventKind::IoCounters(crate::event::IoCounters {
            fd,
            read_ops: r.0,
            read_bytes: r.1,
            write_ops: w.0,
            write_bytes: w.1,
            first_ts: 1_000_000_000,
            pid: Some(10),
        })
    }

    /// A UDP socket bound to 0.0.0.0:5353 as fd 5, `io` counter batches on it (live
    /// source: reads and writes with no peer address), then its close.
    fn bound_udp(io: &[EventKind<'static>]) -> Vec<Record> {
        let mut evs = bound_udp_socket();
        evs.extend_from_slice(io);
        evs.push(EventKind::Close {
            fd: Some(5),
            res: 0,
        });
        replay(evs).1
    }

    /// socket(AF_INET, SOCK_DGRAM) as fd 5, bound to 0.0.0.0:5353.
    fn bound_udp_socket() -> Vec<EventKind<'static>> {
        const AF_INET: u32 = 2;
        const SOCK_DGRAM: u32 = 2;
        vec![
            EventKind::Socket {
                fd: 5,
                domain: AF_INET,
                sock_type: SOCK_DGRAM,
                proto: 0,
            },
            EventKind::Bind {
                fd: Some(5),
                res: 0,
                addr: Some(crate::event::SockAddr::V4([0; 4], 5353)),
                bound_v4: Some(([0; 4], 5353)),
            },
        ]
    }

    #[test]
    fn the_close_of_a_bound_udp_socket_ends_its_peerless_flow() {
        let out = bound_udp(&[counters(5, (2, 20), (0, 0)), counters(5, (1, 7), (3, 30))]);
        let nfs = net_flows(&out);
        assert_eq!(nfs.len(), 1, "one flow, ended by the close: {out:?}");
        let f = nfs[0];
        assert_eq!(
            (f.sip, f.sport, f.dip, f.dport, f.proto, f.fd),
            (0, 0, 0, 5353, 17, 5),
            "peer unknown, the socket's own address as the destination"
        );
        assert_eq!(
            f.op_flags,
            OpFlags::READ_RECV | OpFlags::WRITE_SEND | OpFlags::CLOSE
        );
        assert_eq!((f.num_r_recv_ops, f.num_r_recv_bytes), (3, 27));
        assert_eq!((f.num_w_send_ops, f.num_w_send_bytes), (3, 30));

        // with no read or write there is no flow to end, and the close makes none (the
        // reference writes no flow for a bound socket)
        assert!(net_flows(&bound_udp(&[])).is_empty());

        // counters that arrive after the close (a receive that raced it) end their flow too
        let mut evs = bound_udp_socket();
        evs.extend([
            EventKind::Close {
                fd: Some(5),
                res: 0,
            },
            counters(5, (1, 7), (0, 0)),
        ]);
        let (_, out) = replay(evs);
        let nfs = net_flows(&out);
        assert_eq!(nfs.len(), 1, "{out:?}");
        assert_eq!(nfs[0].op_flags, OpFlags::READ_RECV | OpFlags::CLOSE);
        assert_eq!((nfs[0].num_r_recv_ops, nfs[0].num_r_recv_bytes), (1, 7));
    }

    /// The child's side of a clone: thread 11 of process 10, sharing its fds.
    fn thread_11() -> EventKind<'static> {
        EventKind::Clone(crate::event::CloneEvent {
            res: 0,
            flags: Some(crate::state::cl::CLONE_THREAD | crate::state::cl::CLONE_FILES),
            own: None,
            info: crate::event::ProcInfo {
                exe: Some(b"/bin/sh\0"),
                tid: 11,
                pid: 10,
                ptid: 1,
                ..Default::default()
            },
        })
    }

    /// A container id (64 hex digits) for cgroup moves.
    const FULL: &str = "4c89aca6a4e2f0c9d3b17e5a8c6d2b1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b";

    /// A write of 4 bytes on `fd`.
    fn write_4(fd: i64) -> EventKind<'static> {
        EventKind::Io(IoEvent {
            dir: IoDir::Write,
            fd: Some(fd),
            res: 4,
            tuple: None,
        })
    }

    /// A read of 7 bytes on `fd`.
    fn read_7(fd: i64) -> EventKind<'static> {
        EventKind::Io(IoEvent {
            dir: IoDir::Read,
            fd: Some(fd),
            res: 7,
            tuple: None,
        })
    }

    /// Without process flows, a thread's exit ends its flows and, for each, the other
    /// threads' flows on the same fd and file (TRUNCATE, reference-semantics §4.5); the
    /// per-fd counts follow them out, so a later close by the other thread finds no flow
    /// and writes a fresh CLOSE one. (With process flows, the reference's default, a
    /// thread's exit ends none of its flows.)
    #[test]
    fn a_threads_exit_ends_the_other_threads_flows_on_its_fds() {
        let (clone, read) = (thread_11(), read_7);
        let evs = [
            (11, clone),
            (10, open(3, b"/srv/shared")),
            (10, open(4, b"/srv/own")),
            (10, read(3)),
            (10, read(4)),
            (11, read(3)),
            (
                11,
                EventKind::Exit {
                    status: 0,
                    reaper: None,
                },
            ),
            (
                10,
                EventKind::Close {
                    fd: Some(3),
                    res: 0,
                },
            ),
        ];
        let cfg = crate::SysFlowConfig {
            enable_process_flow: false,
            ..Default::default()
        };
        let (agg, out) = replay_threads(&cfg, evs);
        let got: Vec<_> = file_flows(&out)
            .iter()
            .map(|f| (f.tid, f.fd, f.op_flags, f.num_r_recv_bytes))
            .collect();
        let (o, r, c, t) = (
            OpFlags::OPEN,
            OpFlags::READ_RECV,
            OpFlags::CLOSE,
            OpFlags::TRUNCATE,
        );
        assert_eq!(
            got,
            [(10, 3, o | r | t, 7), (11, 3, r | t, 7), (10, 3, c, 0)],
            "fd 4's flow, of the thread that lives on, goes on"
        );
        let p = agg.procs.values().next().expect("process 10");
        assert_eq!(p.fileflows.len(), 1);
        assert_eq!((p.file_flows_on(3), p.file_flows_on(4)), (0, 1));
    }

    /// A flow under way when every entity is to be written again (a rotation, a socket
    /// reader that reconnected) writes its file again (REUP) at its next operation, before
    /// the flow itself; without such a rewrite, its operations write no file.
    #[test]
    fn a_flow_under_way_writes_its_file_again_after_a_rewrite() {
        let cfg = crate::SysFlowConfig::default();
        let mut st = shell_state();
        let mut agg = Aggregator::new(AggConfig::from(&cfg));
        let mut out: Vec<Record> = Vec::new();
        let mut ts = 1_000_000_000;
        let mut step = |st: &mut State, agg: &mut Aggregator, out: &mut Vec<Record>, kind| {
            ts += 1;
            let ev = SysEvent {
                pid: -1,
                ts,
                tid: 10,
                kind,
            };
            let has = st.apply(&ev);
            agg.handle(st, &ev, has, out).unwrap();
        };
        let file_records = |out: &[Record]| -> Vec<(Vec<u8>, ObjectState)> {
            out.iter()
                .filter_map(|r| match r {
                    Record::File(f) => Some((f.path.as_bytes().to_vec(), f.state)),
                    _ => None,
                })
                .collect()
        };
        step(&mut st, &mut agg, &mut out, open(3, b"/srv/a"));
        step(&mut st, &mut agg, &mut out, counters(3, (1, 5), (0, 0)));
        step(&mut st, &mut agg, &mut out, counters(3, (1, 5), (0, 0)));
        // (a file first met through a flow is written as REUP, as the reference does)
        assert_eq!(
            file_records(&out),
            [(b"/srv/a".to_vec(), ObjectState::Reup)]
        );
        out.clear();
        agg.rewrite_entities();
        step(&mut st, &mut agg, &mut out, counters(3, (1, 5), (0, 0)));
        assert_eq!(
            file_records(&out),
            [(b"/srv/a".to_vec(), ObjectState::Reup)]
        );
        step(&mut st, &mut agg, &mut out, counters(3, (1, 5), (0, 0)));
        step(
            &mut st,
            &mut agg,
            &mut out,
            EventKind::Close {
                fd: Some(3),
                res: 0,
            },
        );
        assert_eq!(file_records(&out).len(), 1, "one rewrite per period");
        let flows = file_flows(&out);
        assert_eq!(flows.len(), 1);
        assert_eq!(
            (flows[0].num_r_recv_ops, flows[0].num_r_recv_bytes),
            (4, 20)
        );
        assert!(matches!(out.last(), Some(Record::FileFlow(_))));
    }

    /// An output that reads the records' links gets each flow's process and file; one
    /// that says it does not ([`Emit::needs_links`]: a `.sf` file, the socket stream)
    /// gets none, and the records themselves are the same.
    #[test]
    fn links_are_looked_up_only_for_outputs_that_read_them() {
        /// Keeps each record with the process and file paths its links named.
        struct Linked {
            needs: bool,
            got: Vec<(Record, Option<String>, Option<String>)>,
        }
        impl Emit for Linked {
            fn emit(&mut self, rec: &Record, links: Links<'_>) -> Result<()> {
                let exe = links.process.map(|p| p.exe.clone());
                let file = links.file.map(|f| f.path.clone());
                self.got.push((rec.clone(), exe, file));
                Ok(())
            }
            fn needs_links(&self) -> bool {
                self.needs
            }
        }
        let run = |needs: bool| {
            let cfg = crate::SysFlowConfig::default();
            let mut st = shell_state();
            let mut agg = Aggregator::new(AggConfig::from(&cfg));
            let mut out = Linked { needs, got: vec![] };
            for (ts, kind) in [
                open(3, b"/srv/a"),
                counters(3, (1, 5), (0, 0)),
                EventKind::Close {
                    fd: Some(3),
                    res: 0,
                },
            ]
            .into_iter()
            .enumerate()
            {
                feed(&mut st, &mut agg, 1_000_000_000 + ts as u64, kind, &mut out);
            }
            out.got
        };
        let (with, without) = (run(true), run(false));
        let flow = |got: &[(Record, Option<String>, Option<String>)]| {
            got.iter()
                .find(|(r, ..)| matches!(r, Record::FileFlow(_)))
                .cloned()
                .expect("a file flow")
        };
        let (_, exe, file) = flow(&with);
        assert_eq!(
            (exe.as_deref(), file.as_deref()),
            (Some("/bin/sh"), Some("/srv/a"))
        );
        let (_, exe, file) = flow(&without);
        assert_eq!((exe, file), (None, None));
        let records = |got: Vec<(Record, Option<String>, Option<String>)>| {
            got.into_iter()
                .map(|(r, ..)| format!("{r:?}"))
                .collect::<Vec<_>>()
        };
        assert_eq!(records(with), records(without));
    }

    /// Closes look for other threads' flows on their fd only where there are some: a
    /// process holding many files does not make each close scan them all (1,000 opens
    /// then 1,000 closes looked at no flow; they looked at 499,500 before).
    #[test]
    fn closes_do_not_scan_the_flows_of_a_process_holding_many_files() {
        const N: i64 = 1_000;
        let names: Vec<Vec<u8>> = (0..N).map(|i| format!("/srv/f{i}").into_bytes()).collect();
        let mut evs: Vec<EventKind<'_>> = Vec::new();
        for (i, name) in names.iter().enumerate() {
            evs.push(open(3 + i as i64, name));
            evs.push(counters(3 + i as i64, (1, 10), (0, 0)));
        }
        for i in (0..N).rev() {
            evs.push(EventKind::Close {
                fd: Some(3 + i),
                res: 0,
            });
        }
        let (agg, out) = replay(evs);
        assert_eq!(file_flows(&out).len(), N as usize);
        assert_eq!(agg.related_scans, 0);
        assert!(agg.procs.values().all(|p| p.fd_flows.is_empty()));
    }

    /// A close ends its flow on the file the flow was opened on. A process that moved
    /// into a container while the flow was under way names the file anew at the close:
    /// that file (the container's) is written then, as at any other first use, and the
    /// flow still refers to the file it was opened on.
    #[test]
    fn a_close_names_the_file_again_only_after_a_move_to_another_container() {
        let cgroups = format!("memory=/docker/{FULL}\0");
        let write = write_4(3);
        let close = EventKind::Close {
            fd: Some(3),
            res: 0,
        };
        let files = |out: &[Record]| -> Vec<(Foid, Option<String>)> {
            out.iter()
                .filter_map(|r| match r {
                    Record::File(f) => Some((f.oid, f.container_id.clone())),
                    _ => None,
                })
                .collect()
        };
        let (_, stay) = replay(vec![open(3, b"/srv/a"), write, close]);
        let (_, moved) = replay(vec![
            open(3, b"/srv/a"),
            write,
            EventKind::CgroupMove {
                cgroups: cgroups.as_bytes(),
                threadgroup: true,
            },
            close,
        ]);
        let host = Foid::new(b"", b"/srv/a");
        assert_eq!(files(&stay), vec![(host, None)]);
        assert_eq!(
            files(&moved),
            vec![
                (host, None),
                (
                    Foid::new(&FULL.as_bytes()[..12], b"/srv/a"),
                    Some(FULL[..12].to_string())
                )
            ]
        );
        for out in [&stay, &moved] {
            let ff = file_flows(out);
            assert_eq!(ff.len(), 1);
            assert_eq!(ff[0].file_oid, host);
            assert_eq!(
                ff[0].op_flags,
                OpFlags::OPEN | OpFlags::WRITE_SEND | OpFlags::CLOSE
            );
            assert_eq!((ff[0].num_w_send_ops, ff[0].num_w_send_bytes), (1, 4));
        }
    }

    /// A flow whose process moved into a container, met a rotation there and moved back
    /// to the host before its close: the close writes the flow's own file (REUP) again in
    /// the new period before the flow, though the thread names that file again.
    #[test]
    fn a_close_after_a_rotation_writes_the_flows_own_file_in_the_new_period() {
        for back in [true, false] {
            close_after_a_rotation(back);
        }
    }

    /// The case above, the process moved back to the host before the close or not.
    fn close_after_a_rotation(back: bool) {
        let into = format!("memory=/docker/{FULL}\0");
        let write = write_4(3);
        let mut evs: Vec<(bool, EventKind<'_>)> = vec![
            (false, open(3, b"/srv/a")),
            (
                false,
                EventKind::CgroupMove {
                    cgroups: into.as_bytes(),
                    threadgroup: true,
                },
            ),
            (true, write),
            (
                false,
                EventKind::CgroupMove {
                    cgroups: b"memory=/user.slice\0",
                    threadgroup: true,
                },
            ),
            (
                false,
                EventKind::Close {
                    fd: Some(3),
                    res: 0,
                },
            ),
        ];
        if !back {
            evs.remove(3);
        }
        let mut st = shell_state();
        let mut agg = Aggregator::new(AggConfig::from(&crate::SysFlowConfig::default()));
        let mut out: Vec<Record> = Vec::new();
        let mut rotated_at = 0;
        for (i, (rotate, kind)) in evs.into_iter().enumerate() {
            if rotate {
                agg.on_rotation();
                rotated_at = out.len();
            }
            feed(&mut st, &mut agg, 1_000_000_000 + i as u64, kind, &mut out);
        }
        let host = Foid::new(b"", b"/srv/a");
        let after: Vec<(RecordKind, Option<Foid>)> = out[rotated_at..]
            .iter()
            .filter_map(|r| match r {
                Record::File(f) => Some((RecordKind::File, Some(f.oid))),
                Record::FileFlow(f) => Some((RecordKind::FileFlow, Some(f.file_oid))),
                _ => None,
            })
            .collect();
        let in_container = Foid::new(&FULL.as_bytes()[..12], b"/srv/a");
        assert_eq!(
            after,
            vec![
                (RecordKind::File, Some(in_container)),
                (RecordKind::File, Some(host)),
                (RecordKind::FileFlow, Some(host)),
            ],
            "moved back: {back}"
        );
    }

    /// A close by one thread still ends another thread's flow on the same fd (TRUNCATE),
    /// and the per-fd counts follow the flows out.
    #[test]
    fn a_close_ends_another_threads_flow_on_its_fd() {
        let (clone, read) = (thread_11(), read_7);
        let evs = [
            (11, clone),
            (10, open(3, b"/srv/shared")),
            (10, read(3)),
            (11, read(3)),
            (
                10,
                EventKind::Close {
                    fd: Some(3),
                    res: 0,
                },
            ),
        ];
        let (agg, out) = replay_threads(&crate::SysFlowConfig::default(), evs);
        let got: Vec<_> = file_flows(&out)
            .iter()
            .map(|f| (f.tid, f.op_flags, f.num_r_recv_bytes))
            .collect();
        let (o, r, c, t) = (
            OpFlags::OPEN,
            OpFlags::READ_RECV,
            OpFlags::CLOSE,
            OpFlags::TRUNCATE,
        );
        assert_eq!(got, [(11, r | t, 7), (10, o | r | c, 7)]);
        assert!(agg.related_scans > 0);
        assert!(agg.procs.values().all(|p| p.fd_flows.is_empty()));
    }

    fn file_flows(out: &[Record]) -> Vec<&FileFlow> {
        out.iter()
            .filter_map(|r| match r {
                Record::FileFlow(f) => Some(f),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn counter_batches_merge_into_one_flow_with_exact_totals() {
        let (agg, out) = replay(vec![
            open(3, b"/srv/data"),
            counters(3, (3, 300), (0, 0)),
            counters(3, (1, 10), (2, 50)),
            EventKind::Close {
                fd: Some(3),
                res: 0,
            },
        ]);
        let ffs = file_flows(&out);
        assert_eq!(ffs.len(), 1, "{out:?}");
        let f = ffs[0];
        assert_eq!(
            (
                f.num_r_recv_ops,
                f.num_r_recv_bytes,
                f.num_w_send_ops,
                f.num_w_send_bytes
            ),
            (4, 310, 2, 50)
        );
        assert_eq!(
            f.op_flags,
            OpFlags::OPEN | OpFlags::READ_RECV | OpFlags::WRITE_SEND | OpFlags::CLOSE
        );
        assert_eq!(agg.unknown_fd_ops(), 0);
    }

    #[test]
    fn counters_shipped_after_the_close_are_charged_to_the_file_and_end_its_flow_again() {
        let (_, out) = replay(vec![
            open(3, b"/srv/data"),
            EventKind::Close {
                fd: Some(3),
                res: 0,
            },
            counters(3, (1, 5), (0, 0)),
        ]);
        let ffs = file_flows(&out);
        assert_eq!(ffs.len(), 2, "{out:?}");
        assert_eq!(ffs[0].op_flags, OpFlags::OPEN | OpFlags::CLOSE);
        assert_eq!((ffs[0].num_r_recv_ops, ffs[0].num_r_recv_bytes), (0, 0));
        assert_eq!(ffs[1].op_flags, OpFlags::READ_RECV | OpFlags::CLOSE);
        assert_eq!((ffs[1].num_r_recv_ops, ffs[1].num_r_recv_bytes), (1, 5));
        assert_eq!(ffs[0].file_oid, ffs[1].file_oid);
        assert_eq!(paths(&out)[&ffs[1].file_oid], b"/srv/data");
    }

    #[test]
    fn counters_of_a_thread_the_state_no_longer_has_go_to_its_process() {
        // Another thread shipped a gone thread's counters at the close: the batch names
        // the process, and a live thread of it carries the flow.
        let (_, out) = replay_threads(
            &crate::SysFlowConfig::default(),
            [
                (10, open(3, b"/srv/data")),
                (11, counters(3, (2, 20), (1, 7))),
                (
                    10,
                    EventKind::Close {
                        fd: Some(3),
                        res: 0,
                    },
                ),
            ],
        );
        let ffs = file_flows(&out);
        assert_eq!(ffs.len(), 1, "{out:?}");
        assert_eq!(ffs[0].tid, 10);
        assert_eq!(
            (
                ffs[0].num_r_recv_ops,
                ffs[0].num_r_recv_bytes,
                ffs[0].num_w_send_ops
            ),
            (2, 20, 1)
        );
        assert_eq!(ffs[0].num_w_send_bytes, 7);
    }

    #[test]
    fn counters_on_an_fd_nothing_named_are_counted_not_invented() {
        let (agg, out) = replay(vec![
            counters(7, (3, 300), (2, 50)),
            counters(8, (4, 0), (0, 0)),
        ]);
        assert!(file_flows(&out).is_empty(), "{out:?}");
        // operations that moved bytes: 3 reads and 2 writes; the 4 empty reads moved none
        assert_eq!(agg.unknown_fd_ops(), 5);
    }

    fn paths(out: &[Record]) -> std::collections::HashMap<Foid, Vec<u8>> {
        out.iter()
            .filter_map(|r| match r {
                Record::File(f) => Some((f.oid, crate::model::unescape_name(&f.path))),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn names_are_recorded_byte_exact_and_symlink_targets_as_written() {
        // Relative to the cwd /srv/: valid UTF-8, a backslash, a control byte, and bytes
        // that are not UTF-8.
        let odd = b"caf\xc3\xa9 \\ \x01\xff\xfe".as_slice();
        // The longest path the kernel accepts (PATH_MAX - 1 bytes).
        let mut long = b"/".to_vec();
        while long.len() < 4095 {
            long.extend_from_slice(b"dir\xff\\/");
        }
        long.truncate(4095);
        if long.last() == Some(&b'/') {
            long.pop();
            long.push(b'f');
        }
        let close = |fd| EventKind::Close {
            fd: Some(fd),
            res: 0,
        };
        let symlink = crate::event::FileOpEvent {
            op: crate::event::FileOp::Symlink,
            res: 0,
            at: false,
            dirfd1: None,
            path1: Some(b"../lib/libx.so.1"),
            dirfd2: None,
            path2: Some(b"libx.so"),
        };
        let (_, out) = replay(vec![
            open(3, odd),
            close(3),
            open(4, &long),
            close(4),
            EventKind::FileOp(symlink),
        ]);
        let files = paths(&out);
        let flow_paths: Vec<&[u8]> = out
            .iter()
            .filter_map(|r| match r {
                Record::FileFlow(f) => Some(files[&f.file_oid].as_slice()),
                _ => None,
            })
            .collect();
        assert_eq!(
            flow_paths,
            [[b"/srv/".as_slice(), odd].concat().as_slice(), &long]
        );
        assert_eq!(long.len(), 4095);
        let ev = out
            .iter()
            .find_map(|r| match r {
                Record::FileEvent(e) => Some(e),
                _ => None,
            })
            .expect("symlink event");
        assert_eq!(
            files[&ev.file_oid], b"../lib/libx.so.1",
            "the target as written"
        );
        assert_eq!(files[&ev.new_file_oid.unwrap()], b"/srv/libx.so");
    }

    #[test]
    fn a_read_write_flow_that_wrote_is_kept_by_the_read_filters() {
        let lib = b"/usr/lib/x86_64-linux-gnu/libfoo.so".as_slice();
        for mode in [FileReadMode::NoReads, FileReadMode::NoNoisyReads] {
            let kept = flows(mode, lib, O_RDWR, &[(IoDir::Read, 4), (IoDir::Write, 7)]);
            assert_eq!(kept.len(), 1, "{mode:?}");
            let f = &kept[0];
            assert_eq!(f.open_flags as u32 & 3, OpenFlags::RDWR.bits());
            assert_eq!((f.num_r_recv_bytes, f.num_w_send_bytes), (4, 7));
            assert_eq!(
                f.op_flags,
                OpFlags::OPEN | OpFlags::READ_RECV | OpFlags::WRITE_SEND | OpFlags::CLOSE
            );
            let writes_only = flows(mode, lib, O_RDWR, &[(IoDir::Write, 7)]);
            assert_eq!(writes_only.len(), 1, "{mode:?}");
            // A read-write fd that only read is a read flow (it read, never wrote).
            assert!(flows(mode, lib, O_RDWR, &[(IoDir::Read, 4)]).is_empty());
            // Read-only opens stay read flows.
            assert!(flows(mode, lib, O_RDONLY, &[(IoDir::Read, 4)]).is_empty());
        }
        // Mode 2 keeps reads outside the noisy prefixes, mode 1 does not.
        let home = b"/home/u/notes".as_slice();
        let read = [(IoDir::Read, 4)];
        assert_eq!(
            flows(FileReadMode::NoNoisyReads, home, O_RDONLY, &read).len(),
            1
        );
        assert!(flows(FileReadMode::NoReads, home, O_RDONLY, &read).is_empty());
        assert_eq!(flows(FileReadMode::All, lib, O_RDONLY, &read).len(), 1);
    }

    /// close_range closes only when it succeeds, and a range whose first fd is past its
    /// last (the kernel refuses it with EINVAL; any process can make the call, and a
    /// damaged capture can even give it a success) closes nothing and stops nothing.
    #[test]
    fn close_range_closes_only_what_a_successful_call_closed() {
        let range = |first, last, res| EventKind::CloseRange {
            first,
            last,
            flags: 0,
            res,
        };
        let write = |res| {
            EventKind::Io(IoEvent {
                dir: IoDir::Write,
                fd: Some(3),
                res,
                tuple: None,
            })
        };
        let (_, out) = replay(vec![
            EventKind::Open(OpenEvent {
                kind: OpenKind::OpenAt,
                fd: 3,
                dirfd: Some(-100),
                path: Some(b"/srv/log"),
                kernel_path: None,
                flags: 0,
            }),
            write(10),
            range(10, 3, -22),
            range(10, 3, 0),
            range(3, 3, -22),
            write(5),
            range(0, 10, 0),
        ]);
        let flows: Vec<(OpFlags, i64, i64)> = out
            .iter()
            .filter_map(|r| match r {
                Record::FileFlow(f) => Some((f.op_flags, f.num_w_send_ops, f.num_w_send_bytes)),
                _ => None,
            })
            .collect();
        assert_eq!(
            flows,
            [(OpFlags::OPEN | OpFlags::WRITE_SEND | OpFlags::CLOSE, 2, 15)]
        );
    }

    /// Threads the state never saw (their clone lost, or gone before the startup
    /// snapshot): a live record names each one's process (the kernel's tgid), so their
    /// flows go to one process per pid; a capture's events name none, and every such
    /// thread is of the one unknown process (pid -1), as libsinsp has it.
    #[test]
    fn unseen_threads_are_of_the_process_their_record_names() {
        let run = |named: bool| {
            let mut st = State::new();
            st.finish_snapshot();
            let mut agg = Aggregator::new(AggConfig::from(&crate::SysFlowConfig::default()));
            let mut out: Vec<Record> = Vec::new();
            let mut ts = 1_000_000_000;
            for (tid, pid) in [(500, 500), (501, 500), (600, 600)] {
                let close = EventKind::Close {
                    fd: Some(3),
                    res: 0,
                };
                for kind in [open(3, b"/srv/a"), write_4(3), close] {
                    ts += 1;
                    let pid = if named { pid } else { -1 };
                    let ev = SysEvent { ts, tid, pid, kind };
                    let has = st.apply(&ev);
                    agg.handle(&st, &ev, has, &mut out).unwrap();
                }
            }
            let procs: Vec<(i64, String)> = out
                .iter()
                .filter_map(|r| match r {
                    Record::Process(p) => Some((p.oid.hpid, p.exe.clone())),
                    _ => None,
                })
                .collect();
            let flows: Vec<(i64, i64)> = file_flows(&out)
                .iter()
                .map(|f| (f.tid, f.proc_oid.hpid))
                .collect();
            (procs, flows)
        };
        let (procs, flows) = run(true);
        assert_eq!(
            procs,
            [(500, "<NA>".into()), (600, "<NA>".into())],
            "one process per pid"
        );
        assert_eq!(flows, [(500, 500), (501, 500), (600, 600)]);
        let (procs, flows) = run(false);
        assert_eq!(procs, [(-1, "<NA>".into())], "the one unknown process");
        assert_eq!(flows, [(500, -1), (501, -1), (600, -1)]);

        // An unseen thread of a process the state holds joins it: one process, its own.
        let mut st = State::new();
        st.load_snapshot(&ProcSnapshot {
            tid: 500,
            pid: 500,
            ptid: 1,
            exe: b"/usr/bin/srv".to_vec(),
            clone_ts: 900_000_000,
            ..Default::default()
        });
        st.finish_snapshot();
        let mut agg = Aggregator::new(AggConfig::from(&crate::SysFlowConfig::default()));
        let mut out: Vec<Record> = Vec::new();
        let close = EventKind::Close {
            fd: Some(3),
            res: 0,
        };
        for (i, kind) in [open(3, b"/srv/a"), write_4(3), close]
            .into_iter()
            .enumerate()
        {
            let ev = SysEvent {
                ts: 1_000_000_000 + i as u64,
                tid: 501,
                pid: 500,
                kind,
            };
            let has = st.apply(&ev);
            agg.handle(&st, &ev, has, &mut out).unwrap();
        }
        let procs: Vec<(i64, i64, String)> = out
            .iter()
            .filter_map(|r| match r {
                Record::Process(p) => Some((p.oid.hpid, p.oid.create_ts, p.exe.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(procs, [(500, 900_000_000, "/usr/bin/srv".into())]);
        let flows: Vec<_> = file_flows(&out)
            .iter()
            .map(|f| (f.tid, f.proc_oid))
            .collect();
        assert_eq!(flows, [(501, Oid::new(900_000_000, 500))]);
    }

    /// A file stays in the table while a flow holds it, and goes at the next rotation once
    /// none does: after its flow's close, and after its process went with the flow open.
    #[test]
    fn a_file_is_kept_exactly_while_a_flow_holds_it() {
        let mut st = shell_state();
        let mut agg = Aggregator::new(AggConfig::from(&crate::SysFlowConfig::default()));
        let mut out: Vec<Record> = Vec::new();
        let close = |fd| EventKind::Close {
            fd: Some(fd),
            res: 0,
        };
        for (i, kind) in [open(3, b"/srv/a"), open(4, b"/srv/b"), write_4(4), close(4)]
            .into_iter()
            .enumerate()
        {
            feed(&mut st, &mut agg, 1_000_000_000 + i as u64, kind, &mut out);
        }
        let names = |agg: &Aggregator| {
            let mut v: Vec<Vec<u8>> = agg.files.keys().map(|k| k.to_vec()).collect();
            v.sort();
            v
        };
        assert_eq!(names(&agg), [b"/srv/a".to_vec(), b"/srv/b".to_vec()]);
        agg.on_rotation();
        assert_eq!(
            names(&agg),
            [b"/srv/a".to_vec()],
            "b's flow ended, a's is open"
        );
        feed(&mut st, &mut agg, 1_000_000_010, close(3), &mut out);
        agg.on_rotation();
        assert!(names(&agg).is_empty(), "{:?}", names(&agg));

        // a process deleted with a flow still open lets its file go too
        feed(
            &mut st,
            &mut agg,
            1_000_000_020,
            open(5, b"/srv/c"),
            &mut out,
        );
        agg.on_rotation();
        assert_eq!(names(&agg), [b"/srv/c".to_vec()]);
        let oids: Vec<Oid> = agg.procs.keys().copied().collect();
        for oid in oids {
            agg.delete_process(oid);
        }
        agg.on_rotation();
        assert!(names(&agg).is_empty(), "{:?}", names(&agg));
    }

    /// An open on a flow still under way (its close was not seen) applies to that flow
    /// without a lookup of the file, also when the process moved to another container
    /// since: no File entity of the new container's name is written for it (a lookup
    /// first would write one).
    #[test]
    fn an_open_on_a_flow_under_way_writes_no_file_after_a_container_move() {
        let mut st = shell_state();
        let mut agg = Aggregator::new(AggConfig::from(&crate::SysFlowConfig::default()));
        let mut out: Vec<Record> = Vec::new();
        feed(
            &mut st,
            &mut agg,
            1_000_000_000,
            open(3, b"/srv/a"),
            &mut out,
        );
        feed(&mut st, &mut agg, 1_000_000_001, write_4(3), &mut out);
        st.threads.get_mut(10).unwrap().container_id = "c0ffee000001".into();
        let before = out.len();
        feed(
            &mut st,
            &mut agg,
            1_000_000_002,
            open(3, b"/srv/a"),
            &mut out,
        );
        let files: Vec<_> = out[before..]
            .iter()
            .filter_map(|r| match r {
                Record::File(f) => Some((f.path.clone(), f.container_id.clone())),
                _ => None,
            })
            .collect();
        assert!(files.is_empty(), "{files:?}");
    }
}
