//! Entity tables: processes, containers and files, written lazily before the first record
//! that refers to them (and again, as REUP, after a rotation cleared the "written" marks).

use super::{Aggregator, Emit, Links, ProcEntry};
use crate::error::Result;
use crate::model::*;
use crate::state::{State, Thread};

/// A container entity and its bookkeeping.
pub(crate) struct ContEntry {
    pub rec: Container,
    pub written: bool,
    pub incomplete: bool,
    pub refs: i64,
}

/// A file entity and its bookkeeping.
pub(crate) struct FileEntry {
    pub rec: File,
    pub written: bool,
    pub refs: i64,
}

const INCOMPLETE: &str = "incomplete";
const INCOMPLETE_IMAGE: &str = "incomplete:incomplete";

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn container_type(t: u32) -> ContainerType {
    // Runtimes outside the schema's enum (podman, static, unknown) are recorded as docker,
    // whose cgroup and API conventions they follow.
    ContainerType::from_index(i64::from(t)).unwrap_or(ContainerType::Docker)
}

fn join_args(args: &[Vec<u8>]) -> String {
    let mut out = Vec::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(a);
    }
    lossy(&out)
}

/// The main thread of `tid`'s process, or the thread itself.
pub(crate) fn main_or_self(st: &State, tid: i64) -> Option<&Thread> {
    st.threads.main_of(tid).or_else(|| st.threads.get(tid))
}

impl Aggregator {
    // -------------------------------------------------------------------------- emission

    pub(crate) fn write_container(&mut self, id: &str, out: &mut dyn Emit) -> Result<()> {
        if let Some(c) = self.containers.get_mut(id) {
            c.written = true;
            let rec = Record::Container(c.rec.clone());
            out.emit(&rec, Links::default())?;
            self.count(&rec);
        }
        Ok(())
    }

    pub(crate) fn write_process(&mut self, oid: Oid, out: &mut dyn Emit) -> Result<()> {
        let Some(p) = self.procs.get_mut(&oid) else {
            return Ok(());
        };
        p.written = true;
        let rec = Record::Process(p.rec.clone());
        let container = p
            .rec
            .container_id
            .as_ref()
            .and_then(|id| self.containers.get(id))
            .map(|c| &c.rec);
        out.emit(
            &rec,
            Links {
                container,
                ..Links::default()
            },
        )?;
        self.count(&rec);
        Ok(())
    }

    pub(crate) fn write_file(&mut self, key: &[u8], out: &mut dyn Emit) -> Result<()> {
        let Some(f) = self.files.get_mut(key) else {
            return Ok(());
        };
        f.written = true;
        let rec = Record::File(f.rec.clone());
        out.emit(&rec, Links::default())?;
        self.count(&rec);
        Ok(())
    }

    /// Emits an event or flow with its links.
    pub(crate) fn write_linked(
        &mut self,
        rec: Record,
        oid: Option<Oid>,
        file: Option<&[u8]>,
        new_file: Option<&[u8]>,
        out: &mut dyn Emit,
    ) -> Result<()> {
        let process = oid.and_then(|o| self.procs.get(&o)).map(|p| &p.rec);
        let container = process
            .and_then(|p| p.container_id.as_ref())
            .and_then(|id| self.containers.get(id))
            .map(|c| &c.rec);
        let file = file.and_then(|k| self.files.get(k)).map(|f| &f.rec);
        let new_file = new_file.and_then(|k| self.files.get(k)).map(|f| &f.rec);
        out.emit(
            &rec,
            Links {
                container,
                process,
                file,
                new_file,
            },
        )?;
        self.count(&rec);
        Ok(())
    }

    // ------------------------------------------------------------------------ containers

    fn container_from_state(st: &State, id: &str) -> Option<(Container, bool)> {
        let c = st.containers.get(id)?;
        let rec = Container {
            id: c.id.clone(),
            name: c.name.clone(),
            image: format!("{}:{}", c.image, c.imagetag),
            imageid: c.imageid.clone(),
            container_type: container_type(c.ctype),
            privileged: c.privileged,
            pod_id: None,
        };
        let incomplete = rec.name == INCOMPLETE || rec.image == INCOMPLETE_IMAGE;
        Some((rec, incomplete))
    }

    /// The container of a thread, written if needed. Returns its id.
    pub(crate) fn get_container(
        &mut self,
        st: &State,
        tid: i64,
        out: &mut dyn Emit,
    ) -> Result<Option<String>> {
        let Some(t) = st.threads.get(tid) else {
            return Ok(None);
        };
        if t.container_id.is_empty() {
            return Ok(None);
        }
        let id = t.container_id.clone();
        if let Some(c) = self.containers.get_mut(&id) {
            if c.written && !c.incomplete {
                return Ok(Some(id));
            }
            let Some((rec, _)) = Self::container_from_state(st, &id) else {
                return Ok(Some(id));
            };
            if c.written && c.incomplete {
                if rec.name == INCOMPLETE || rec.image.starts_with(INCOMPLETE) {
                    return Ok(Some(id));
                }
                c.incomplete = false;
            }
            c.rec = rec;
        } else {
            let entry = match Self::container_from_state(st, &id) {
                Some((rec, incomplete)) => ContEntry {
                    rec,
                    written: false,
                    incomplete,
                    refs: 0,
                },
                None => ContEntry {
                    rec: Container {
                        id: id.clone(),
                        name: INCOMPLETE.into(),
                        image: INCOMPLETE_IMAGE.into(),
                        imageid: String::new(),
                        container_type: ContainerType::Docker,
                        privileged: false,
                        pod_id: None,
                    },
                    written: false,
                    incomplete: true,
                    refs: 0,
                },
            };
            self.containers.insert(id.clone(), entry);
        }
        self.write_container(&id, out)?;
        Ok(Some(id))
    }

    /// Writes a container if it is not written yet (periodic export, shutdown).
    pub(crate) fn export_container(&mut self, id: &str, out: &mut dyn Emit) -> Result<()> {
        if self.containers.get(id).is_some_and(|c| !c.written) {
            self.write_container(id, out)?;
        }
        Ok(())
    }

    // ------------------------------------------------------------------------- processes

    fn create_process(
        &mut self,
        st: &State,
        tid: i64,
        ts: i64,
        state: ObjectState,
        out: &mut dyn Emit,
    ) -> Result<ProcEntry> {
        let mt = main_or_self(st, tid).expect("caller checked the thread");
        let oid = Oid::new(mt.clone_ts as i64, mt.pid);
        let mut poid = None;
        if let Some(parent) = st.threads.get(mt.ptid) {
            let parent = if parent.is_main() {
                parent
            } else {
                st.threads.main_of(parent.tid).unwrap_or(parent)
            };
            poid = Some(Oid::new(parent.clone_ts as i64, parent.pid));
        } else if mt.ptid != -1 {
            poid = self.find_by_pid(mt.ptid);
        }
        let exe = if mt.exepath.is_empty() || mt.exepath == b"<NA>" {
            &mt.exe
        } else {
            &mt.exepath
        };
        let env = match st.threads.main_of(mt.tid) {
            Some(m) => m.env.iter().map(|e| lossy(e)).collect(),
            None => Vec::new(),
        };
        let mut rec = Process {
            state,
            oid,
            poid,
            ts,
            exe: lossy(exe),
            exe_args: join_args(&mt.args),
            uid: mt.uid as i32,
            user_name: lossy(mt.user_name()),
            gid: mt.gid as i32,
            group_name: lossy(mt.group_name()),
            tty: mt.tty != 0,
            container_id: None,
            entry: mt.vpid == 1,
            cwd: lossy(&st.threads.cwd(mt.tid)),
            env,
        };
        if let Some(id) = self.get_container(st, tid, out)? {
            if let Some(c) = self.containers.get_mut(&id) {
                c.refs += 1;
            }
            rec.container_id = Some(id);
        }
        Ok(ProcEntry::new(rec))
    }

    /// First process (in table order) with this host pid.
    fn find_by_pid(&self, pid: i64) -> Option<Oid> {
        self.procs
            .values()
            .find(|p| p.rec.oid.hpid == pid)
            .map(|p| p.rec.oid)
    }

    fn reup_container(
        &mut self,
        st: &State,
        tid: i64,
        oid: Oid,
        new: &mut [ProcEntry],
        out: &mut dyn Emit,
    ) -> Result<()> {
        let old = self
            .proc_ref(oid, new)
            .and_then(|p| p.rec.container_id.clone());
        if let Some(old) = old
            && let Some(c) = self.containers.get_mut(&old)
        {
            c.refs -= 1;
        }
        let id = self.get_container(st, tid, out)?;
        if let Some(id) = &id
            && let Some(c) = self.containers.get_mut(id)
        {
            c.refs += 1;
        }
        if let Some(p) = self.proc_mut(oid, new) {
            p.rec.container_id = id;
        }
        Ok(())
    }

    fn proc_ref<'a>(&'a self, oid: Oid, new: &'a [ProcEntry]) -> Option<&'a ProcEntry> {
        new.iter()
            .find(|p| p.rec.oid == oid)
            .or_else(|| self.procs.get(&oid))
    }

    fn proc_mut<'a>(&'a mut self, oid: Oid, new: &'a mut [ProcEntry]) -> Option<&'a mut ProcEntry> {
        if let Some(p) = new.iter_mut().find(|p| p.rec.oid == oid) {
            return Some(p);
        }
        self.procs.get_mut(&oid)
    }

    /// The process of thread `tid`, with every ancestor and container written before it
    /// if needed. `state` is used when the process is new. Returns the OID and whether the
    /// process was created (not already in the table).
    pub(crate) fn get_process(
        &mut self,
        st: &State,
        tid: i64,
        state: ObjectState,
        out: &mut dyn Emit,
    ) -> Result<Option<(Oid, bool)>> {
        let Some(mt) = main_or_self(st, tid) else {
            return Ok(None);
        };
        let ts = self.clock.now_ns() as i64;
        let key = Oid::new(mt.clone_ts as i64, mt.pid);
        let mut created = true;
        let mut new: Vec<ProcEntry> = Vec::new();
        let mut batch: Vec<Oid> = Vec::new();
        if let Some(p) = self.procs.get_mut(&key) {
            created = false;
            if p.written {
                return Ok(Some((key, false)));
            }
            p.rec.state = ObjectState::Reup;
            self.reup_container(st, tid, key, &mut new, out)?;
        } else {
            let p = self.create_process(st, tid, ts, state, out)?;
            new.push(p);
        }
        batch.push(key);

        // Walk up the parent threads until an ancestor already written.
        let mut ct = mt;
        let mut cur = st.threads.get(mt.ptid);
        let mut guard = 0;
        while let Some(p0) = cur {
            guard += 1;
            if p0.tid == -1 || guard > 4096 {
                break;
            }
            let p = if p0.is_main() {
                p0
            } else {
                st.threads.main_of(p0.tid).unwrap_or(p0)
            };
            if p.clone_ts == 0 && p.pid == 0 {
                ct = p;
                cur = st.threads.get(p.ptid);
                continue;
            }
            let k = Oid::new(p.clone_ts as i64, p.pid);
            if batch.contains(&k) {
                break;
            }
            if let Some(e) = self.procs.get_mut(&k) {
                if e.written {
                    break;
                }
                e.rec.state = ObjectState::Reup;
                self.reup_container(st, p.tid, k, &mut new, out)?;
            } else {
                let e = self.create_process(st, p.tid, ts, ObjectState::Reup, out)?;
                new.push(e);
            }
            let child = *batch.last().expect("non-empty");
            if let Some(e) = self.proc_mut(k, &mut new) {
                e.children.insert(child);
            }
            batch.push(k);
            ct = p;
            cur = st.threads.get(p.ptid);
        }
        // The thread chain broke: continue through our own table by pid.
        if cur.is_none() && ct.ptid != -1 {
            let mut o = Oid::new(ct.clone_ts as i64, ct.pid);
            let mut prt = self.find_by_pid(ct.ptid);
            let mut guard = 0;
            while let Some(k) = prt {
                guard += 1;
                if guard > 4096 || batch.contains(&k) {
                    break;
                }
                let e = self.procs.get_mut(&k).expect("found in table");
                if !e.written {
                    batch.push(k);
                }
                e.children.insert(o);
                o = k;
                prt = e.rec.poid.filter(|p| self.procs.contains_key(p));
            }
        }
        // Write root first.
        for e in new {
            self.procs.insert(e.rec.oid, e);
        }
        for k in batch.into_iter().rev() {
            self.write_process(k, out)?;
        }
        Ok(Some((key, created)))
    }

    /// Refreshes a process from its main thread (exec, setuid) as MODIFIED.
    pub(crate) fn update_process(&mut self, st: &State, tid: i64, oid: Oid) {
        let Some(mt) = main_or_self(st, tid) else {
            return;
        };
        let ts = self.clock.now_ns() as i64;
        let Some(p) = self.procs.get_mut(&oid) else {
            return;
        };
        let exe = if mt.exepath.is_empty() || mt.exepath == b"<NA>" {
            &mt.exe
        } else {
            &mt.exepath
        };
        p.rec.state = ObjectState::Modified;
        p.rec.ts = ts;
        p.rec.exe = lossy(exe);
        p.rec.exe_args = join_args(&mt.args);
        p.rec.uid = mt.uid as i32;
        p.rec.gid = mt.gid as i32;
        p.rec.user_name = lossy(mt.user_name());
        p.rec.group_name = lossy(mt.group_name());
    }

    /// Writes a process (and its container) if not written, keeping its state; used by the
    /// periodic flow export.
    pub(crate) fn export_process(&mut self, oid: Oid, out: &mut dyn Emit) -> Result<bool> {
        let Some(p) = self.procs.get(&oid) else {
            return Ok(false);
        };
        if let Some(id) = p.rec.container_id.clone() {
            self.export_container(&id, out)?;
        }
        if !self.procs[&oid].written {
            self.write_process(oid, out)?;
        }
        Ok(true)
    }

    /// Writes a process and its unwritten ancestors, root first (shutdown).
    pub(crate) fn write_process_and_ancestors(
        &mut self,
        oid: Oid,
        out: &mut dyn Emit,
    ) -> Result<()> {
        let mut chain = vec![oid];
        let mut poid = self.procs.get(&oid).and_then(|p| p.rec.poid);
        while let Some(k) = poid {
            let Some(p) = self.procs.get(&k) else { break };
            if chain.contains(&k) {
                break;
            }
            if !p.written {
                chain.push(k);
            }
            poid = p.rec.poid;
        }
        for k in chain.into_iter().rev() {
            if let Some(id) = self.procs.get(&k).and_then(|p| p.rec.container_id.clone()) {
                self.export_container(&id, out)?;
            }
            self.write_process(k, out)?;
        }
        Ok(())
    }

    // ----------------------------------------------------------------------------- files

    /// The file `path` as seen from thread `tid`, written if needed; returns its key.
    pub(crate) fn get_file(
        &mut self,
        st: &State,
        tid: i64,
        path: &[u8],
        restype: u8,
        state: ObjectState,
        out: &mut dyn Emit,
    ) -> Result<Vec<u8>> {
        let container = st
            .threads
            .get(tid)
            .map(|t| t.container_id.as_bytes())
            .unwrap_or_default();
        let mut key = std::mem::take(&mut self.key_scratch);
        key.clear();
        key.extend_from_slice(container);
        key.extend_from_slice(path);
        if let Some(f) = self.files.get_mut(key.as_slice()) {
            if f.written {
                return Ok(key);
            }
            f.rec.state = ObjectState::Reup;
        } else {
            let main = main_or_self(st, tid).map(|t| t.tid).unwrap_or(tid);
            let container_id = self.get_container(st, main, out)?;
            let rec = File {
                state,
                oid: Foid::new(container, path),
                ts: self.clock.now_ns() as i64,
                restype: i32::from(restype),
                path: lossy(path),
                container_id,
            };
            self.files.insert(
                key.clone(),
                FileEntry {
                    rec,
                    written: false,
                    refs: 0,
                },
            );
        }
        self.write_file(&key, out)?;
        Ok(key)
    }

    /// Writes a known file as REUP if it is not written (export, exit, shutdown).
    pub(crate) fn export_file(&mut self, key: &[u8], out: &mut dyn Emit) -> Result<()> {
        if let Some(f) = self.files.get_mut(key)
            && !f.written
        {
            f.rec.state = ObjectState::Reup;
            self.write_file(key, out)?;
        }
        Ok(())
    }
}
