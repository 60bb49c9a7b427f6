//! Process events (clone, exec, exit, setuid), process flows, and file events.

use super::{Aggregator, Emit, held};
use crate::error::Result;
use crate::event::{FileOp, FileOpEvent};
use crate::model::*;
use crate::state::{AT_FDCWD, State, cl, path};

/// A process flow being accumulated (`enableProcessFlow`).
pub(crate) struct ProcFlowEntry {
    pub rec: ProcessFlow,
    pub export_time: i64,
    pub last_update: i64,
    pub seq: u64,
}

impl Aggregator {
    fn write_process_event(
        &mut self,
        oid: Oid,
        tid: i64,
        flag: OpFlags,
        ret: i64,
        args: Vec<String>,
        out: &mut dyn Emit,
    ) -> Result<()> {
        let rec = Record::ProcessEvent(ProcessEvent {
            proc_oid: oid,
            ts: self.clock.now_ns() as i64,
            tid,
            op_flags: flag,
            args,
            ret: ret as i32,
        });
        self.write_linked(rec, Some(oid), None, None, out)
    }

    fn write_clone_event(
        &mut self,
        st: &State,
        tid: i64,
        res: i64,
        out: &mut dyn Emit,
    ) -> Result<()> {
        let Some((oid, _)) = self.get_process(st, tid, ObjectState::Created, out)? else {
            return Ok(());
        };
        self.write_process_event(oid, tid, OpFlags::CLONE, res, Vec::new(), out)
    }

    /// Adds a thread clone or exit to the process's flow.
    fn process_flow(
        &mut self,
        st: &State,
        tid: i64,
        flag: OpFlags,
        res: i64,
        out: &mut dyn Emit,
    ) -> Result<()> {
        let Some((oid, _)) = self.get_process(st, tid, ObjectState::Reup, out)? else {
            return Ok(());
        };
        let now = self.now_s();
        let ts = self.clock.now_ns() as i64;
        let p = held(&mut self.procs, oid)?;
        let pf = p.pflow.get_or_insert_with(|| {
            self.seq += 1;
            self.pfset.insert((now, self.seq), oid);
            ProcFlowEntry {
                rec: ProcessFlow {
                    proc_oid: oid,
                    ts,
                    op_flags: flag,
                    ..Default::default()
                },
                export_time: now,
                last_update: now,
                seq: self.seq,
            }
        });
        pf.rec.op_flags |= flag;
        pf.last_update = now;
        if flag == OpFlags::CLONE {
            match res as i32 {
                0 => pf.rec.num_threads_cloned += 1,
                -1 => pf.rec.num_clone_errors += 1,
                _ => {}
            }
        } else if flag == OpFlags::EXIT {
            pf.rec.num_threads_exited += 1;
        }
        Ok(())
    }

    /// Writes and removes a process's flow.
    pub(crate) fn close_process_flow(
        &mut self,
        oid: Oid,
        end_ts: i64,
        out: &mut dyn Emit,
    ) -> Result<()> {
        let Some(pf) = self.procs.get_mut(&oid).and_then(|p| p.pflow.take()) else {
            return Ok(());
        };
        self.pfset.remove(&(pf.export_time, pf.seq));
        let mut rec = pf.rec;
        rec.end_ts = end_ts;
        self.write_proc_flow(&rec, out)
    }

    pub(crate) fn write_proc_flow(&mut self, pf: &ProcessFlow, out: &mut dyn Emit) -> Result<()> {
        if pf.op_flags.is_empty() || pf.op_flags == OpFlags::TRUNCATE {
            return Ok(());
        }
        self.write_linked(
            Record::ProcessFlow(pf.clone()),
            Some(pf.proc_oid),
            None,
            None,
            out,
        )
    }

    /// clone/fork/vfork/clone3, either side.
    pub(crate) fn on_clone(
        &mut self,
        st: &State,
        tid: i64,
        res: i64,
        flags: u32,
        out: &mut dyn Emit,
    ) -> Result<()> {
        if !self.cfg.enable_process_flow {
            return self.write_clone_event(st, tid, res, out);
        }
        let main = st.threads.get(tid).is_some_and(|t| t.is_main());
        if (main && res == 0) || (res > 0 && flags & cl::CLONE_THREAD == 0) {
            self.write_clone_event(st, tid, res, out)
        } else {
            self.process_flow(st, tid, OpFlags::CLONE, res, out)
        }
    }

    /// A thread exited.
    pub(crate) fn on_exit(
        &mut self,
        st: &State,
        tid: i64,
        status: i64,
        out: &mut dyn Emit,
    ) -> Result<()> {
        let Some(t) = st.threads.get(tid) else {
            return Ok(());
        };
        let main = t.is_main();
        if self.cfg.enable_process_flow && !main {
            return self.process_flow(st, tid, OpFlags::EXIT, status, out);
        }
        if self.cfg.enable_process_flow {
            if let Some((oid, _)) = self.get_process(st, tid, ObjectState::Reup, out)? {
                let ts = self.clock.now_ns() as i64;
                self.close_process_flow(oid, ts, out)?;
            }
        }
        let Some((oid, _)) = self.get_process(st, tid, ObjectState::Reup, out)? else {
            return Ok(());
        };
        self.flush_flows_of(oid, (!main).then_some(tid), out)?;
        self.write_process_event(oid, tid, OpFlags::EXIT, status, Vec::new(), out)?;
        if main {
            let now = self.now_s();
            self.del_queue.push_back((oid, now));
        }
        Ok(())
    }

    /// execve exit (successful or not).
    pub(crate) fn on_exec(
        &mut self,
        st: &State,
        tid: i64,
        res: i64,
        out: &mut dyn Emit,
    ) -> Result<()> {
        let Some((oid, created)) = self.get_process(st, tid, ObjectState::Created, out)? else {
            return Ok(());
        };
        if !created {
            self.update_process(st, tid, oid);
            self.relink_container(st, tid, oid, out)?;
            self.write_process(oid, out)?;
        }
        self.write_process_event(oid, tid, OpFlags::EXEC, res, Vec::new(), out)
    }

    /// setuid/setreuid/setresuid exit; `arg` is the user the call asked for.
    pub(crate) fn on_setuid(
        &mut self,
        st: &State,
        tid: i64,
        res: i64,
        arg: String,
        out: &mut dyn Emit,
    ) -> Result<()> {
        let Some((oid, created)) = self.get_process(st, tid, ObjectState::Reup, out)? else {
            return Ok(());
        };
        if !created {
            self.update_process(st, tid, oid);
            self.write_process(oid, out)?;
        }
        self.write_process_event(oid, tid, OpFlags::SETUID, res, vec![arg], out)
    }

    /// Makes a path from a file event absolute: against the directory fd of the `*at`
    /// calls, or the working directory. Normalization is lexical: the converting machine's
    /// file system is never consulted (the reference resolves symlinks on it).
    fn absolute_path(st: &State, tid: i64, dirfd: Option<i64>, name: &[u8]) -> Vec<u8> {
        let name = path::strip_nul(name);
        if name.first() == Some(&b'/') {
            return path::normalize(&name);
        }
        let base = match dirfd {
            Some(fd) if fd != AT_FDCWD => match st.fd(tid, fd) {
                Some(f) => f.name.clone(),
                None => return name,
            },
            _ => {
                let cwd = st.threads.cwd(tid);
                if cwd.is_empty() {
                    return name;
                }
                cwd
            }
        };
        path::join_normalized(&base, &name)
    }

    /// mkdir, rmdir, unlink, link, symlink, rename.
    pub(crate) fn on_file_op(
        &mut self,
        st: &State,
        tid: i64,
        f: &FileOpEvent<'_>,
        out: &mut dyn Emit,
    ) -> Result<()> {
        let Some((oid, _)) = self.get_process(st, tid, ObjectState::Reup, out)? else {
            return Ok(());
        };
        let p1 = f.path1.unwrap_or(b"<NA>");
        let flag = match f.op {
            FileOp::Mkdir => OpFlags::MKDIR,
            FileOp::Rmdir => OpFlags::RMDIR,
            FileOp::Unlink => OpFlags::UNLINK,
            FileOp::Link => OpFlags::LINK,
            FileOp::Symlink => OpFlags::SYMLINK,
            FileOp::Rename => OpFlags::RENAME,
        };
        let (k1, k2) = match f.op {
            FileOp::Mkdir | FileOp::Rmdir | FileOp::Unlink => {
                let dirfd = if f.at { f.dirfd1 } else { None };
                let path = Self::absolute_path(st, tid, dirfd, p1);
                let restype = if f.op == FileOp::Unlink { b'?' } else { b'd' };
                (
                    self.get_file(st, tid, &path, restype, ObjectState::Created, out)?,
                    None,
                )
            }
            FileOp::Link | FileOp::Rename | FileOp::Symlink => {
                let p2 = f.path2.unwrap_or(b"<NA>");
                let (a, b) = if f.op == FileOp::Symlink {
                    // A symlink's target is recorded as written: the kernel resolves a
                    // relative target against the link's directory when it is followed,
                    // not against the caller's working directory (the reference makes
                    // plain symlink targets absolute against the cwd).
                    let dirfd = if f.at { f.dirfd2 } else { None };
                    (path::strip_nul(p1), Self::absolute_path(st, tid, dirfd, p2))
                } else if f.at {
                    (
                        Self::absolute_path(st, tid, f.dirfd1, p1),
                        Self::absolute_path(st, tid, f.dirfd2, p2),
                    )
                } else {
                    (
                        Self::absolute_path(st, tid, None, p1),
                        Self::absolute_path(st, tid, None, p2),
                    )
                };
                let k1 = self.get_file(st, tid, &a, b'?', ObjectState::Reup, out)?;
                let k2 = self.get_file(st, tid, &b, b'?', ObjectState::Created, out)?;
                (k1, Some(k2))
            }
        };
        let rec = Record::FileEvent(FileEvent {
            proc_oid: oid,
            ts: self.clock.now_ns() as i64,
            tid,
            op_flags: flag,
            file_oid: k1.oid,
            ret: f.res as i32,
            new_file_oid: k2.as_ref().map(|k| k.oid),
        });
        self.write_linked(
            rec,
            Some(oid),
            Some(&k1.key),
            k2.as_ref().map(|k| &*k.key),
            out,
        )
    }

    /// Periodic export of process flows (same 30/60 s rules as data flows).
    pub(crate) fn expire_process_flows(&mut self, out: &mut dyn Emit) -> Result<()> {
        let now = self.now_s();
        if self.last_pf_check == i64::MIN {
            self.last_pf_check = now;
            return Ok(());
        }
        if now - self.last_pf_check < 1 {
            return Ok(());
        }
        self.last_pf_check = now;
        let sinsp_ts = self.clock.now_ns() as i64;
        while let Some((&(export_time, seq), &oid)) = self.pfset.first_key_value() {
            if now - export_time < self.export_interval {
                break;
            }
            self.pfset.remove(&(export_time, seq));
            // (a process deleted, or its flow ended, since this entry was queued: nothing
            // left to export)
            let Some(p) = self.procs.get_mut(&oid) else {
                continue;
            };
            let Some(pf) = p.pflow.as_mut() else {
                continue;
            };
            if now - pf.last_update >= self.expire_interval {
                p.pflow = None;
                continue;
            }
            // The flow restarts in place (exporting reads no flow), then the period that
            // ended is written.
            let mut rec = std::mem::replace(
                &mut pf.rec,
                ProcessFlow {
                    proc_oid: oid,
                    ts: sinsp_ts,
                    ..Default::default()
                },
            );
            self.seq += 1;
            pf.export_time = now;
            pf.seq = self.seq;
            self.pfset.insert((now, self.seq), oid);
            rec.end_ts = sinsp_ts;
            self.export_process(oid, out)?;
            self.write_proc_flow(&rec, out)?;
        }
        Ok(())
    }
}
