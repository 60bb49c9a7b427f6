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

/// A pod entity and its bookkeeping.
pub(crate) struct PodEntry {
    pub rec: Pod,
    /// What the record was built from (a change means writing it again).
    pub meta: crate::runtime::PodMeta,
    pub written: bool,
}

/// A file entity in the table, as [`Aggregator::get_file`] returns it: its table key and
/// its OID (so the caller needs no second look-up).
pub(crate) struct FileRef {
    /// Table key: container id + path (shared with the table).
    pub key: super::SharedName,
    /// The file's OID.
    pub oid: Foid,
}

/// A file entity and its bookkeeping. The flows on the file hold its table key (a
/// [`super::SharedName`] shared with the table), so the key's strong count tells whether a
/// flow still refers to the file: no count to keep in step, and no second look-up in the
/// table when a flow begins or ends.
pub(crate) struct FileEntry {
    pub rec: File,
    pub written: bool,
}

const INCOMPLETE: &str = "incomplete";
const INCOMPLETE_IMAGE: &str = "incomplete:incomplete";

/// A name from the kernel as a SysFlow string: byte-exact where valid UTF-8, escaped
/// reversibly where not ([`crate::model::escape_name`]).
fn name_str(b: &[u8]) -> String {
    crate::model::escape_name(b)
}

fn container_type(t: u32) -> ContainerType {
    // Runtimes outside the schema's enum (podman, static, unknown) are recorded as docker,
    // whose cgroup and API conventions they follow.
    ContainerType::from_index(i64::from(t)).unwrap_or(ContainerType::Docker)
}

/// An IP address as SysFlow's `ipaddr` longs: IPv4 as one long holding `s_addr` (the
/// network-order bytes read as a host integer, as the reference writes it); IPv6 as two
/// longs of the address's network-order halves, read the same way.
pub(crate) fn ip_longs(ip: &std::net::IpAddr) -> Vec<i64> {
    match ip {
        std::net::IpAddr::V4(v4) => vec![i64::from(u32::from_ne_bytes(v4.octets()))],
        std::net::IpAddr::V6(v6) => {
            let o = v6.octets();
            let half = |b: &[u8]| {
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                i64::from_ne_bytes(a)
            };
            vec![half(&o[..8]), half(&o[8..])]
        }
    }
}

/// A Pod record from what the CRI runtime said: uid, name, namespace, pod IPs, labels,
/// the total restart count; node name and host IP from the collector's own node (its
/// exporter id and configured node IP), which the runtime does not know.
///
/// When the Kubernetes API server describes the pod (`k8s_api_url`), it completes the
/// record: its labels (the API's, which CRI copies only at creation), `selectors` (the
/// pod's `spec.nodeSelector`), the node name and host IP it reports, and `services`: every
/// service of the pod's namespace whose selector matches its labels, by name.
fn pod_record(m: &crate::runtime::PodMeta, st: &State, ts: i64) -> Pod {
    let api = st.k8s.pod(&m.uid);
    let labels = api.map_or(&m.labels, |a| &a.labels);
    let services = st
        .k8s
        .services_for(&m.namespace, labels)
        .into_iter()
        .map(|s| Service {
            name: s.name.clone(),
            id: s.uid.clone(),
            namespace: s.namespace.clone(),
            port_list: s
                .ports
                .iter()
                .map(|p| Port {
                    port: p.port,
                    target_port: p.target_port,
                    node_port: p.node_port,
                    proto: p.proto.clone(),
                })
                .collect(),
            cluster_ip: s.cluster_ips.iter().flat_map(ip_longs).collect(),
        })
        .collect();
    let node_name = api
        .map(|a| a.node_name.clone())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| st.node.name.clone());
    let host_ip = match api.and_then(|a| a.host_ip) {
        Some(ip) => ip_longs(&ip),
        None => st.node.ip.iter().flat_map(ip_longs).collect(),
    };
    let internal_ip = if m.ips.is_empty() {
        api.map(|a| a.pod_ips.iter().flat_map(ip_longs).collect())
            .unwrap_or_default()
    } else {
        m.ips.iter().flat_map(ip_longs).collect()
    };
    Pod {
        ts,
        id: m.uid.clone(),
        name: m.name.clone(),
        node_name,
        host_ip,
        internal_ip,
        namespace: m.namespace.clone(),
        restart_count: m.restart_count,
        labels: labels.clone().into_iter().collect(),
        selectors: api
            .map(|a| a.node_selector.clone().into_iter().collect())
            .unwrap_or_default(),
        services,
    }
}

fn join_args(args: &[Vec<u8>]) -> String {
    let mut out = Vec::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(a);
    }
    name_str(&out)
}

/// The container id of thread `tid` as the state has it (empty: the host, or unknown):
/// the first part of a file entity's key.
pub(crate) fn container_of(st: &State, tid: i64) -> &[u8] {
    st.threads
        .get(tid)
        .map(|t| t.container_id.as_bytes())
        .unwrap_or_default()
}

/// The main thread of `tid`'s process, or the thread itself.
pub(crate) fn main_or_self(st: &State, tid: i64) -> Option<&Thread> {
    st.threads.main_of(tid).or_else(|| st.threads.get(tid))
}

impl Aggregator {
    // -------------------------------------------------------------------------- emission

    /// Writes a container record, its pod first when the pod is not written yet.
    pub(crate) fn write_container(&mut self, id: &str, out: &mut dyn Emit) -> Result<()> {
        let Some(uid) = self.containers.get(id).map(|c| c.rec.pod_id.clone()) else {
            return Ok(());
        };
        if let Some(uid) = uid {
            self.export_pod(&uid, out)?;
        }
        if let Some(c) = self.containers.get_mut(id) {
            c.written = true;
            let rec = Record::Container(c.rec.clone());
            let pod = c
                .rec
                .pod_id
                .as_ref()
                .and_then(|u| self.pods.get(u))
                .map(|p| &p.rec);
            out.emit(
                &rec,
                Links {
                    pod,
                    ..Links::default()
                },
            )?;
            self.count(&rec);
        }
        Ok(())
    }

    /// The pod record of a container, if it has one.
    fn pod_of(&self, container: Option<&Container>) -> Option<&Pod> {
        let uid = container?.pod_id.as_ref()?;
        self.pods.get(uid).map(|p| &p.rec)
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
        let pod = self.pod_of(container);
        out.emit(
            &rec,
            Links {
                container,
                pod,
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
        if !out.needs_links() {
            out.emit(&rec, Links::default())?;
            self.count(&rec);
            return Ok(());
        }
        let process = oid.and_then(|o| self.procs.get(&o)).map(|p| &p.rec);
        let container = process
            .and_then(|p| p.container_id.as_ref())
            .and_then(|id| self.containers.get(id))
            .map(|c| &c.rec);
        let pod = self.pod_of(container);
        let file = file.and_then(|k| self.files.get(k)).map(|f| &f.rec);
        let new_file = new_file.and_then(|k| self.files.get(k)).map(|f| &f.rec);
        out.emit(
            &rec,
            Links {
                container,
                pod,
                process,
                file,
                new_file,
            },
        )?;
        self.count(&rec);
        Ok(())
    }

    // ------------------------------------------------------------------------ containers

    /// The Container record the state describes, and whether it is the `incomplete`
    /// placeholder (live: the runtime's metadata has not arrived).
    fn container_from_state(st: &State, id: &str) -> Option<(Container, bool)> {
        let c = st.containers.get(id)?;
        if c.awaits_runtime {
            return Some((Self::placeholder(id, container_type(c.ctype)), true));
        }
        let rec = Container {
            id: c.id.clone(),
            name: c.name.clone(),
            image: match &c.image_full {
                Some(image) => image.clone(),
                None => format!("{}:{}", c.image, c.imagetag),
            },
            imageid: c.imageid.clone(),
            container_type: container_type(c.ctype),
            privileged: c.privileged,
            pod_id: c.pod_id.clone(),
        };
        let incomplete = rec.name == INCOMPLETE || rec.image == INCOMPLETE_IMAGE;
        Some((rec, incomplete))
    }

    fn placeholder(id: &str, container_type: ContainerType) -> Container {
        Container {
            id: id.to_string(),
            name: INCOMPLETE.into(),
            image: INCOMPLETE_IMAGE.into(),
            imageid: String::new(),
            container_type,
            privileged: false,
            pod_id: None,
        }
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
                    rec: Self::placeholder(&id, ContainerType::Docker),
                    written: false,
                    incomplete: true,
                    refs: 0,
                },
            };
            self.containers.insert(id.clone(), entry);
        }
        // Written now: its pod, if any, must be current (and is written first).
        if let Some(uid) = self.containers.get(&id).and_then(|c| c.rec.pod_id.clone()) {
            self.track_pod(st, &uid);
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

    /// The runtime's metadata for container `id` arrived or changed: a container already
    /// written (as the `incomplete` placeholder, or with older metadata) is written again
    /// at once with the same id, its pod first; one not written yet simply takes the new
    /// fields when it is.
    pub fn container_updated(&mut self, st: &State, id: &str, out: &mut dyn Emit) -> Result<()> {
        let Some((rec, incomplete)) = Self::container_from_state(st, id) else {
            return Ok(());
        };
        let pod_changed = match &rec.pod_id {
            Some(uid) => self.track_pod(st, uid),
            None => false,
        };
        let Some(c) = self.containers.get_mut(id) else {
            return Ok(());
        };
        if c.rec == rec {
            // Only the pod changed: written again itself, before anything else refers
            // to it.
            if pod_changed
                && c.written
                && let Some(uid) = c.rec.pod_id.clone()
            {
                self.export_pod(&uid, out)?;
            }
            return Ok(());
        }
        c.rec = rec;
        c.incomplete = incomplete;
        if c.written {
            self.write_container(id, out)?;
        }
        Ok(())
    }

    // ------------------------------------------------------------------------------ pods

    /// Brings the pod entry `uid` up to date with the state; true if its record changed
    /// (it is then written again before the next container that refers to it).
    fn track_pod(&mut self, st: &State, uid: &str) -> bool {
        let Some(meta) = st.containers.pod(uid) else {
            return false;
        };
        if self.pods.get(uid).is_some_and(|p| p.meta == *meta) {
            return false;
        }
        let rec = pod_record(meta, st, self.clock.now_ns() as i64);
        self.pods.insert(
            uid.to_string(),
            PodEntry {
                rec,
                meta: meta.clone(),
                written: false,
            },
        );
        true
    }

    /// The Kubernetes API changed what pods or services are: every pod of `touched` whose
    /// record changes is written again now if this file already holds it (so records
    /// after it see the new one), else when a record next refers to it.
    pub fn pods_refreshed(
        &mut self,
        st: &State,
        touched: &crate::k8s::Touched,
        out: &mut dyn Emit,
    ) -> Result<()> {
        let now = self.clock.now_ns() as i64;
        let mut rewrite = Vec::new();
        for (uid, p) in self.pods.iter_mut() {
            if !touched.covers(uid, &p.meta.namespace) {
                continue;
            }
            let rec = pod_record(&p.meta, st, p.rec.ts);
            if rec == p.rec {
                continue;
            }
            p.rec = Pod { ts: now, ..rec };
            if p.written {
                p.written = false;
                rewrite.push(uid.clone());
            }
        }
        rewrite.sort();
        for uid in rewrite {
            self.export_pod(&uid, out)?;
        }
        Ok(())
    }

    /// Writes a K8sEvent record (it refers to no entity).
    pub fn write_k8s_event(&mut self, ev: K8sEvent, out: &mut dyn Emit) -> Result<()> {
        let rec = Record::K8sEvent(ev);
        out.emit(&rec, Links::default())?;
        self.count(&rec);
        Ok(())
    }

    /// Writes a pod if it is not written.
    fn export_pod(&mut self, uid: &str, out: &mut dyn Emit) -> Result<()> {
        let Some(p) = self.pods.get_mut(uid) else {
            return Ok(());
        };
        if p.written {
            return Ok(());
        }
        p.written = true;
        let rec = Record::Pod(p.rec.clone());
        out.emit(&rec, Links::default())?;
        self.count(&rec);
        Ok(())
    }

    // ------------------------------------------------------------------------- processes

    /// A new process entry for main thread `mt` (what [`main_or_self`] gives for `tid`),
    /// in the container of thread `tid`.
    fn create_process(
        &mut self,
        st: &State,
        mt: &Thread,
        tid: i64,
        ts: i64,
        state: ObjectState,
        out: &mut dyn Emit,
    ) -> Result<ProcEntry> {
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
            Some(m) => m.env.iter().map(|e| name_str(e)).collect(),
            None => Vec::new(),
        };
        let mut rec = Process {
            state,
            oid,
            poid,
            ts,
            exe: name_str(exe),
            exe_args: join_args(&mt.args),
            uid: mt.uid as i32,
            user_name: name_str(mt.user_name()),
            gid: mt.gid as i32,
            group_name: name_str(mt.group_name()),
            tty: mt.tty != 0,
            container_id: None,
            entry: mt.vpid == 1,
            cwd: name_str(&st.threads.cwd(mt.tid)),
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

    /// After an exec or setuid of a written process: if its thread now runs in another
    /// container than the record says (it joined the container's cgroup, then executed,
    /// as `runc exec` and `podman exec` do), the record is re-linked, the container
    /// written first if needed. The reference refreshes only exe, args and ids here; a
    /// process executing inside a container must not stay linked to the host.
    ///
    /// Returns whether the link changed.
    pub(crate) fn relink_container(
        &mut self,
        st: &State,
        tid: i64,
        oid: Oid,
        out: &mut dyn Emit,
    ) -> Result<bool> {
        let now = st
            .threads
            .get(tid)
            .map(|t| t.container_id.as_str())
            .filter(|c| !c.is_empty());
        let Some(p) = self.procs.get(&oid) else {
            return Ok(false);
        };
        if p.rec.container_id.as_deref() == now {
            return Ok(false);
        }
        self.reup_container(st, tid, oid, &mut [], out)?;
        Ok(true)
    }

    /// A process moved to another cgroup without an exec: if that changes its container,
    /// a written Process record is written again (MODIFIED) with the new link, its
    /// container first; an unwritten one gets the link when it is written.
    pub(crate) fn on_cgroup_move(
        &mut self,
        st: &State,
        tid: i64,
        out: &mut dyn Emit,
    ) -> Result<()> {
        let Some(mt) = main_or_self(st, tid) else {
            return Ok(());
        };
        let oid = Oid::new(mt.clone_ts as i64, mt.pid);
        let written = self.procs.get(&oid).is_some_and(|p| p.written);
        if !self.relink_container(st, mt.tid, oid, out)? {
            return Ok(());
        }
        let ts = self.clock.now_ns() as i64;
        if let Some(p) = self.procs.get_mut(&oid) {
            p.rec.state = ObjectState::Modified;
            p.rec.ts = ts;
        }
        if written {
            self.write_process(oid, out)?;
        }
        Ok(())
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
            let p = self.create_process(st, mt, tid, ts, state, out)?;
            new.push(p);
        }
        batch.push(key);
        // the process whose parent is looked for next
        let mut child = key;

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
                // `p` is a main thread, or a thread whose main thread is unknown: it is
                // what main_or_self gives for its own tid
                let e = self.create_process(st, p, p.tid, ts, ObjectState::Reup, out)?;
                new.push(e);
            }
            if let Some(e) = self.proc_mut(k, &mut new) {
                e.children.insert(child);
            }
            batch.push(k);
            child = k;
            ct = p;
            cur = st.threads.get(p.ptid);
        }
        // The thread chain broke: continue through our own table by pid.
        if cur.is_none() && ct.ptid != -1 {
            let mut o = Oid::new(ct.clone_ts as i64, ct.pid);
            // the first process (in table order) with the parent's host pid, then each
            // one's parent while the table has it
            let mut prt = self.procs.values_mut().find(|p| p.rec.oid.hpid == ct.ptid);
            let mut guard = 0;
            while let Some(e) = prt {
                let k = e.rec.oid;
                guard += 1;
                if guard > 4096 || batch.contains(&k) {
                    break;
                }
                if !e.written {
                    batch.push(k);
                }
                e.children.insert(o);
                o = k;
                prt = match e.rec.poid {
                    Some(poid) => self.procs.get_mut(&poid),
                    None => None,
                };
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
        p.rec.exe = name_str(exe);
        p.rec.exe_args = join_args(&mt.args);
        p.rec.uid = mt.uid as i32;
        p.rec.gid = mt.gid as i32;
        p.rec.user_name = name_str(mt.user_name());
        p.rec.group_name = name_str(mt.group_name());
    }

    /// Writes a process (and its container) if not written, keeping its state; used by the
    /// periodic flow export.
    pub(crate) fn export_process(&mut self, oid: Oid, out: &mut dyn Emit) -> Result<bool> {
        let Some(p) = self.procs.get(&oid) else {
            return Ok(false);
        };
        // (writing a container marks no process written)
        let (container, written) = (p.rec.container_id.clone(), p.written);
        if let Some(id) = container {
            self.export_container(&id, out)?;
        }
        if !written {
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
        // (parent links from damaged input may loop, through written processes too)
        let mut seen = rustc_hash::FxHashSet::default();
        while let Some(k) = poid {
            let Some(p) = self.procs.get(&k) else { break };
            if k == oid || !seen.insert(k) {
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

    /// The file `path` as seen from thread `tid`, written if needed; returns its key and
    /// OID.
    pub(crate) fn get_file(
        &mut self,
        st: &State,
        tid: i64,
        path: &[u8],
        restype: u8,
        state: ObjectState,
        out: &mut dyn Emit,
    ) -> Result<FileRef> {
        let container = container_of(st, tid);
        let mut key = std::mem::take(&mut self.key_scratch);
        key.clear();
        // (a host file's key is its path: looked up as it is, copied only when new)
        let found = if container.is_empty() {
            self.files.get_key_value_mut(path)
        } else {
            key.extend_from_slice(container);
            key.extend_from_slice(path);
            self.files.get_key_value_mut(key.as_slice())
        };
        let (key, oid) = if let Some((k, f)) = found {
            let k = k.clone();
            self.key_scratch = key;
            if f.written {
                return Ok(FileRef {
                    key: k,
                    oid: f.rec.oid,
                });
            }
            f.rec.state = ObjectState::Reup;
            (k, f.rec.oid)
        } else {
            let main = main_or_self(st, tid).map(|t| t.tid).unwrap_or(tid);
            let container_id = self.get_container(st, main, out)?;
            let rec = File {
                state,
                oid: Foid::new(container, path),
                ts: self.clock.now_ns() as i64,
                restype: i32::from(restype),
                path: name_str(path),
                container_id,
            };
            let oid = rec.oid;
            if container.is_empty() {
                key.extend_from_slice(path);
            }
            let k: super::SharedName = key.as_slice().into();
            self.key_scratch = key;
            self.files.insert(
                k.clone(),
                FileEntry {
                    rec,
                    written: false,
                },
            );
            (k, oid)
        };
        self.write_file(&key, out)?;
        Ok(FileRef { key, oid })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::AggConfig;
    use crate::runtime::{ContainerMeta, PodMeta, RuntimeKind};
    use crate::state::ProcSnapshot;

    const FULL: &str = "4c89aca6a4e2f0c9d3b17e5a8c6d2b1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b";
    const UID: &str = "5f0c1d2e-1d2e-4f3a-9b8c-0123456789ab";

    /// A live state with one process (pid 10) in a Kubernetes container, metadata unknown.
    fn live_state() -> State {
        let mut st = State::new();
        st.containers.set_live(true);
        st.node.name = "node-a".into();
        st.load_snapshot(&ProcSnapshot {
            tid: 10,
            pid: 10,
            ptid: -1,
            vtid: 1,
            vpid: 1,
            exe: b"/bin/sh".to_vec(),
            cgroups: vec![format!("memory=/kubepods/besteffort/pod{UID}/{FULL}").into_bytes()],
            ..Default::default()
        });
        st.finish_snapshot();
        st
    }

    fn agg() -> Aggregator {
        Aggregator::new(AggConfig::from(&crate::SysFlowConfig::default()))
    }

    fn meta() -> ContainerMeta {
        ContainerMeta {
            id: FULL.into(),
            name: "app".into(),
            image: "localhost/bb:latest".into(),
            image_id: "ab".repeat(32),
            runtime: Some(RuntimeKind::Containerd),
            pod: Some(PodMeta {
                uid: UID.into(),
                name: "web".into(),
                namespace: "prod".into(),
                ips: vec!["10.0.0.5".parse().unwrap()],
                restart_count: 2,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn kinds(out: &[Record]) -> Vec<RecordKind> {
        out.iter().map(Record::kind).collect()
    }

    #[test]
    fn placeholder_first_then_the_same_id_complete_with_its_pod_first() {
        let mut st = live_state();
        let mut a = agg();
        let mut out: Vec<Record> = Vec::new();
        a.get_process(&st, 10, ObjectState::Reup, &mut out).unwrap();
        assert_eq!(kinds(&out), [RecordKind::Container, RecordKind::Process]);
        let Record::Container(c) = &out[0] else {
            panic!()
        };
        assert_eq!(
            (c.id.as_str(), c.name.as_str(), c.image.as_str()),
            ("4c89aca6a4e2", "incomplete", "incomplete:incomplete")
        );
        assert_eq!(c.container_type, ContainerType::Cri, "the cgroup's hint");

        out.clear();
        let (id, changed) = st.containers.apply_meta(&meta());
        assert!(changed);
        a.container_updated(&st, &id, &mut out).unwrap();
        assert_eq!(kinds(&out), [RecordKind::Pod, RecordKind::Container]);
        let (Record::Pod(p), Record::Container(c)) = (&out[0], &out[1]) else {
            panic!()
        };
        assert_eq!(c.id, "4c89aca6a4e2");
        assert_eq!(
            (c.name.as_str(), c.image.as_str()),
            ("app", "localhost/bb:latest")
        );
        assert_eq!(c.container_type, ContainerType::Containerd);
        assert_eq!(c.pod_id.as_deref(), Some(UID));
        assert_eq!(
            (p.id.as_str(), p.name.as_str(), p.namespace.as_str()),
            (UID, "web", "prod")
        );
        assert_eq!(p.node_name, "node-a");
        assert_eq!(
            p.internal_ip,
            vec![i64::from(u32::from_ne_bytes([10, 0, 0, 5]))]
        );
        assert_eq!(p.restart_count, 2);

        // The same metadata again changes nothing; a pod change writes the pod alone.
        out.clear();
        a.container_updated(&st, &id, &mut out).unwrap();
        assert!(out.is_empty());
        let mut m = meta();
        m.pod.as_mut().unwrap().restart_count = 3;
        st.containers.apply_meta(&m);
        a.container_updated(&st, &id, &mut out).unwrap();
        assert_eq!(kinds(&out), [RecordKind::Pod]);
    }

    #[test]
    fn every_period_rewrites_the_pod_and_container_before_their_first_use() {
        let mut st = live_state();
        st.containers.apply_meta(&meta());
        let mut a = agg();
        let mut out: Vec<Record> = Vec::new();
        a.get_process(&st, 10, ObjectState::Reup, &mut out).unwrap();
        assert_eq!(
            kinds(&out),
            [RecordKind::Pod, RecordKind::Container, RecordKind::Process]
        );
        let first = out.clone();
        a.on_rotation();
        out.clear();
        a.get_process(&st, 10, ObjectState::Reup, &mut out).unwrap();
        assert_eq!(kinds(&out), kinds(&first), "a self-contained file");
        assert_eq!(out[1], first[1], "the same Container record");
    }

    #[test]
    fn a_capture_without_container_events_keeps_the_references_empty_fields() {
        let mut st = State::new();
        st.load_snapshot(&ProcSnapshot {
            tid: 10,
            pid: 10,
            ptid: -1,
            cgroups: vec![format!("cpuset=/docker/{FULL}").into_bytes()],
            ..Default::default()
        });
        st.finish_snapshot();
        let mut out: Vec<Record> = Vec::new();
        agg()
            .get_process(&st, 10, ObjectState::Reup, &mut out)
            .unwrap();
        let Record::Container(c) = &out[0] else {
            panic!()
        };
        assert_eq!((c.name.as_str(), c.image.as_str()), ("", ":"));
    }
}
