//! Events a configured filter (`falcoFilter`) left out: they write no record of their own,
//! but what they end still ends, so a filtered close leaves no flow open and a filtered
//! exit leaves no process behind.
//!
//! This differs on purpose from the reference collector, whose own tables never see a
//! filtered event: there a filtered close leaves its flow open until it expires (60 s
//! idle) or its process exits, and a filtered exit keeps the process until the next
//! rotation.

use super::entities::main_or_self;
use super::{Aggregator, Emit, ProcEntry};
use crate::error::Result;
use crate::event::{EventKind, SysEvent};
use crate::model::{Oid, OpFlags};
use crate::state::State;

impl Aggregator {
    /// Handles an event the filter left out, after [`State::apply`] processed it:
    /// - a close (also `close_range`, the close-on-exec fds of an exec, counters that
    ///   arrive after their fd's close) ends the flows open on its fds, written with
    ///   TRUNCATE and without CLOSE (the close itself is not recorded);
    /// - a thread's exit ends its flows, and a main thread's exit its process's flows,
    ///   process flow, and the process entity (deleted as after a recorded exit), without
    ///   an EXIT event.
    ///
    /// Nothing is created: processes and files the aggregator has not seen stay unseen.
    pub fn handle_filtered(
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
        match ev.kind {
            EventKind::Close { fd: Some(fd), .. } => self.end_fd_flows(st, tid, &[fd], out),
            EventKind::CloseRange {
                first,
                last,
                flags,
                res,
            } => {
                let fds = st.closed_by_range(tid, first, last, flags, res);
                self.end_fd_flows(st, tid, &fds, out)
            }
            EventKind::Execve(e) | EventKind::ExecveAt { exec: e, .. } if e.res >= 0 => {
                match st.closing_fds() {
                    Some((t, fds)) => self.end_fd_flows(st, t, fds, out),
                    None => Ok(()),
                }
            }
            EventKind::IoCounters(c) => {
                let t = st.counter_tid().unwrap_or(tid);
                if st.late_fd() == Some((t, c.fd)) {
                    self.end_fd_flows(st, t, &[c.fd], out)
                } else {
                    Ok(())
                }
            }
            EventKind::Exit { .. } => self.end_thread_unrecorded(st, tid, out),
            _ => Ok(()),
        }
    }

    /// The table key and entry of `tid`'s process, if the aggregator has the process.
    fn known_process(&self, st: &State, tid: i64) -> Option<(Oid, &ProcEntry)> {
        let mt = main_or_self(st, tid)?;
        let oid = Oid::new(mt.clone_ts as i64, mt.pid);
        self.procs.get(&oid).map(|p| (oid, p))
    }

    /// Ends every flow of `tid`'s process on one of `fds` (any thread's), with TRUNCATE.
    fn end_fd_flows(
        &mut self,
        st: &State,
        tid: i64,
        fds: &[i64],
        out: &mut dyn Emit,
    ) -> Result<()> {
        let Some((oid, p)) = self.known_process(st, tid) else {
            return Ok(());
        };
        let end_ts = self.clock.now_ns() as i64;
        let on_fds = |fd: i32| fds.contains(&i64::from(fd));
        let mut fkeys: Vec<_> = p
            .fileflows
            .iter()
            .filter(|(_, e)| on_fds(e.rec.fd))
            .map(|(k, _)| k.clone())
            .collect();
        fkeys.sort_by(|a, b| (a.1, a.2, &a.0).cmp(&(b.1, b.2, &b.0)));
        let mut nkeys: Vec<_> = p.netflows.keys().filter(|k| on_fds(k.5)).copied().collect();
        nkeys.sort();
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
            let mut rec = e.rec;
            rec.end_ts = end_ts;
            rec.op_flags |= OpFlags::TRUNCATE;
            self.write_file_flow(&rec, &e.name, &e.file_key, true, out)?;
        }
        for k in nkeys {
            let Some(e) = self.procs.get_mut(&oid).and_then(|p| p.netflows.remove(&k)) else {
                continue;
            };
            self.dfset.remove(&(e.export_time, e.seq));
            let mut rec = e.rec;
            rec.end_ts = end_ts;
            rec.op_flags |= OpFlags::TRUNCATE;
            self.write_net_flow(&rec, out)?;
        }
        Ok(())
    }

    /// A thread exit that is not recorded: its flows end (the whole process's for the
    /// main thread, with its process flow), and a main thread's process is deleted on
    /// the usual schedule.
    fn end_thread_unrecorded(&mut self, st: &State, tid: i64, out: &mut dyn Emit) -> Result<()> {
        let Some(t) = st.threads.get(tid) else {
            return Ok(());
        };
        let main = t.is_main();
        let Some((oid, _)) = self.known_process(st, tid) else {
            return Ok(());
        };
        if self.cfg.enable_process_flow && main {
            let ts = self.clock.now_ns() as i64;
            self.close_process_flow(oid, ts, out)?;
        }
        self.flush_flows_of(oid, (!main).then_some(tid), out)?;
        if main {
            let now = self.now_s();
            self.del_queue.push_back((oid, now));
        }
        Ok(())
    }
}
