//! The capture state: threads and processes, their fd tables, users, groups and
//! containers, rebuilt from the event stream (and from the capture's or `/proc`'s initial
//! snapshot).
//!
//! SysFlow reads almost everything from this state rather than from raw event parameters
//! (process names, fd names, socket endpoints, working directories, users, containers), so
//! it reproduces the reference capture library's rules where they shape SysFlow output.
//! Updates happen in [`State::apply`], before the aggregator looks at an event; removals
//! of closed fds and exited threads are deferred to the next event, so the aggregator
//! still sees them while handling the close or the exit.
//!
//! # Bounds
//!
//! No table has a fixed capacity that drops entries in use: each follows what exists on
//! the machine (or in the capture file), and entries leave when what they describe ends.
//! For a live capture, what guarantees that an entry leaves:
//!
//! | Table | Holds | Leaves | Bound |
//! |---|---|---|---|
//! | threads | every thread seen (snapshot, clone, any event) | its exit (removed before the next event); a main thread stays while other threads of its process live; an exec removes the other threads; a lost exit: [`State::reconcile`] (30–60 s) | threads alive on the host, plus dead main threads of live processes and one pending removal |
//! | processes (thread groups) | one per process with a thread held | with its last thread | processes alive |
//! | a process's thread list | one entry per thread of it held | with the thread | its threads held |
//! | a thread's children list | one entry per child thread held | with the child (re-parented to a reaper at the parent's exit) | children held |
//! | fd tables | the fds of each process (threads sharing `CLONE_FILES` share one) | close, close_range, close-on-exec at exec, the process's end; a lost close stays until the fd number is reused or the process ends | the kernel's open fds (`RLIMIT_NOFILE` per process) |
//! | recently closed fds | (process, fd) closed lately, for late counters | oldest evicted | [`RECENTLY_CLOSED`] (1024) |
//! | containers | containers threads named (cgroups) or a runtime described | runtime removal once unused; unnamed unused ones at each output rotation ([`State::prune_tables`]) | containers in use or listed by the runtimes |
//! | pods | pods of the containers held | with their last container | pods of containers held |
//! | users and groups | the host's (`<host_root>/etc/passwd`, `group`, read once); a container's from a capture file's user events | a container's with the container (at each rotation) | host database + containers held |
//! | recently ended threads | (tid, creation time) of threads that ended, for clone exits arriving after their child ended | oldest evicted | [`RECENTLY_ENDED`] (1024) |
//! | `CLONE_PARENT` callers' fd tables (live capture only) | a copy of the caller's table at such a clone, by child tid, until the child's own record takes it | the child's record; oldest evicted | [`CLONE_PARENT_TABLES`] (64) tables |
//! | reconciliation suspects | live threads missing from `/proc` at the last pass | at the next pass | threads held |
//!
//! A capture file has no `/proc` to reconcile with: a thread whose exit is not in the
//! file stays to the end of the conversion (bounded by the file). The aggregator's tables
//! (in `crate::aggregate`) leave on their own clock: a process entity one to two seconds
//! after its main thread's exit, or at the next rotation when it has no flow and no
//! child; a flow at its close, its thread's exit, or 60 s without activity; a file or
//! container entity at the rotation after its last reference. The live source's two
//! ring-buffer copy-out buffers hold what one poll drained (at most the ring's size during
//! a burst) and are given back to 1 MiB after a burst. [`State::sizes`] reports the
//! state's sizes (`RunSummary::state_tables` at the end of the run).

mod containers;
mod fd;
pub mod path;
mod reconcile;
mod snapshot;
mod threads;
mod users;

pub use containers::{
    ContainerInfo, ContainerTable, container_from_cgroups, ctype, ctype_of_hint, ctype_of_runtime,
};
pub use fd::{FdInfo, FdKind, FdTable, Ipv4Tuple, Ipv6Tuple, Role, l4};
pub use reconcile::{ProcListing, ReconcileTargets, START_SLACK_NS, UNKNOWN_EXIT_STATUS};
pub use snapshot::ProcSnapshot;
pub use threads::{INHERITED_FDS, Thread, Threads, cl};
pub use users::{UserInfo, UserTable};

use crate::event::{EventKind, IdChange, IoDir, OpenKind, SockAddr, SockTuple, SysEvent};
use std::io::Write;

/// `AT_FDCWD`.
pub const AT_FDCWD: i64 = -100;
const EINPROGRESS: i64 = 115;
const CLONE_STALE_NS: u64 = 2_000_000_000;
const PPM_O_DIRECTORY: u32 = 1 << 10;
const S_IFMT: u32 = 0o170000;
const S_IFDIR: u32 = 0o040000;
/// `close_range` flag: mark close-on-exec instead of closing.
pub const CLOSE_RANGE_CLOEXEC: u32 = 1 << 2;

const AF_UNIX: u32 = 1;
const AF_INET: u32 = 2;
const AF_INET6: u32 = 10;
const AF_NETLINK: u32 = 16;
const SOCK_STREAM: u32 = 1;
const SOCK_DGRAM: u32 = 2;
const SOCK_RAW: u32 = 3;

/// An IPv4 interface of the capturing machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Iface {
    /// Address (network order).
    pub addr: [u8; 4],
    /// Netmask (network order).
    pub netmask: [u8; 4],
}

/// The node a live capture runs on (what a container runtime cannot say about its pods).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeInfo {
    /// Node name: the configured exporter id, else the host name.
    pub name: String,
    /// Node IP address: the configured node IP (`NODE_IP`), if it parses.
    pub ip: Option<std::net::IpAddr>,
}

/// The whole capture state.
#[derive(Clone, Debug, Default)]
pub struct State {
    /// Threads and processes.
    pub threads: Threads,
    /// Users and groups.
    pub users: UserTable,
    /// Containers.
    pub containers: ContainerTable,
    /// This node's pods and the cluster's services from the Kubernetes API server (live,
    /// with `k8s_api_url`).
    pub k8s: crate::k8s::K8sTable,
    /// IPv4 interfaces of the capturing machine: the capture's interface list, or the
    /// host's (`getifaddrs`) live. They complete UDP endpoints and say which addresses are
    /// local (`fd.is_server`, `fd.lip`).
    pub ipv4_ifaces: Vec<Ipv4Iface>,
    /// IPv6 addresses of the capturing machine's interfaces (same sources).
    pub ipv6_addrs: Vec<[u8; 16]>,
    /// Host name of the capturing machine.
    pub hostname: String,
    /// The Kubernetes node the capture runs on, for `Pod.nodeName` and `Pod.hostIP`.
    pub node: NodeInfo,
    /// Damaged input, counted, never applied: events that state a relation that cannot
    /// be (a clone whose child is its own caller, parent or group leader), and parent
    /// links that would make a thread or a process its own ancestor (from a clone, an
    /// exit's reaper or a process list; the thread's parent is left unknown instead, see
    /// [`Threads::link`]).
    pub invalid_events: u64,
    pending_exit: Option<i64>,
    pending_close: Option<(i64, Vec<i64>)>,
    /// Fds closed recently, by (process, fd), oldest first: read/write counters the
    /// kernel ships after the close (a call that finished while another thread closed
    /// its fd) still name their file. At most [`RECENTLY_CLOSED`] entries.
    recently_closed: rustc_hash::FxHashMap<(i64, i64), FdInfo>,
    /// Insertion order of `recently_closed` (may hold keys already gone), for eviction.
    recently_closed_order: std::collections::VecDeque<(i64, i64)>,
    /// The fd the current event's late counters were charged to (closed again after it).
    late_fd: Option<(i64, i64)>,
    /// The thread the current read/write counters are charged to (theirs, or a live
    /// thread of their process when theirs has exited).
    counter_tid: Option<i64>,
    /// Live threads missing from `/proc` at the last reconciliation pass, with the
    /// thread object's serial (see [`State::reconcile`]).
    suspects: rustc_hash::FxHashMap<i64, u64>,
    /// Threads whose lost exit a reconciliation with `/proc` made up
    /// ([`State::reconcile`]), so far.
    pub reconciled_exits: u64,
    /// Creation times of threads that ended lately, by tid, and their order (at most
    /// [`RECENTLY_ENDED`]): a live parent's clone exit can arrive after its child already
    /// ran and ended (a vfork parent resumes only once the child has exec'd, and
    /// `/bin/true` ends within microseconds); the clone event then carries that child's
    /// creation time, and must not bring a child back that will never exit.
    recently_ended: rustc_hash::FxHashMap<i64, u64>,
    recently_ended_order: std::collections::VecDeque<i64>,
    /// The fd table of a `CLONE_PARENT` clone's caller as its clone exit found it, by child
    /// tid, and the order they came in (at most [`CLONE_PARENT_TABLES`]): the child copied
    /// it, and the child's own record, which names the caller (live capture), can arrive
    /// after the caller ended (a child that first runs late).
    clone_parent_fds: rustc_hash::FxHashMap<i64, KeptFds>,
    clone_parent_order: std::collections::VecDeque<i64>,
    /// Whether the events come from a live capture ([`State::set_live`]).
    live: bool,
}

/// A `CLONE_PARENT` caller's fd table kept for its child (see `State::clone_parent_fds`).
#[derive(Clone, Debug)]
struct KeptFds {
    /// The caller's tid.
    caller: i64,
    /// The child's creation time (both sides of a live clone carry it).
    born: u64,
    fds: FdTable,
}

/// How many ended threads the state remembers for clone exits that arrive late.
pub const RECENTLY_ENDED: usize = 1024;

/// How many `CLONE_PARENT` callers' fd tables the state keeps for children whose own
/// record has not come yet (live capture only: a capture file's child record does not
/// name its caller).
pub const CLONE_PARENT_TABLES: usize = 64;

/// The sizes of the state's tables (see the module docs for their bounds).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StateSizes {
    /// Threads held (live, and dead ones awaiting removal).
    pub threads: usize,
    /// Thread groups (processes).
    pub processes: usize,
    /// Entries of the processes' thread lists (equals the threads held in groups).
    pub group_entries: usize,
    /// Entries of the threads' children lists.
    pub child_entries: usize,
    /// Fds over every fd table.
    pub fds: usize,
    /// Containers known.
    pub containers: usize,
    /// Users over every container (the host's included).
    pub users: usize,
    /// Groups over every container.
    pub groups: usize,
    /// Recently closed fds remembered (at most [`RECENTLY_CLOSED`]).
    pub recently_closed: usize,
    /// `CLONE_PARENT` callers' fd tables kept for their children (at most
    /// [`CLONE_PARENT_TABLES`]).
    pub clone_parent_tables: usize,
    /// Threads missing from `/proc` at the last reconciliation pass.
    pub suspects: usize,
    /// Threads whose lost exit was made up by a reconciliation, so far.
    pub reconciled_exits: u64,
}

/// How many closed fds the state remembers for counters that arrive after the close.
pub const RECENTLY_CLOSED: usize = 1024;

fn ipv4_mapped(a: &[u8; 16]) -> bool {
    a[..10].iter().all(|&b| b == 0)
        && ((a[10] == 0xff && a[11] == 0xff) || a[10..].iter().all(|&b| b == 0))
}

/// Whether the IPv6 endpoints of a connected socket (connect, accept) are IPv4: both
/// IPv4-mapped, as the capture library decides, except that a pair of unspecified
/// addresses (`::`) is not: a connection always has real endpoints, so `::` on both ends
/// means the source could not read them, and the flow must not become a made-up
/// `0.0.0.0` IPv4 one (it is counted as an omitted IPv6 flow instead).
fn connected_v4(sip: &[u8; 16], dip: &[u8; 16]) -> bool {
    ipv4_mapped(sip) && ipv4_mapped(dip) && !(sip == &[0; 16] && dip == &[0; 16])
}

fn v4_of_mapped(a: &[u8; 16]) -> [u8; 4] {
    [a[12], a[13], a[14], a[15]]
}

fn is_absolute(p: &[u8]) -> bool {
    p.first() == Some(&b'/')
}

/// The capture library's text form of a unix socket tuple: `src->dst path`.
pub fn unix_tuple_name(source: u64, dest: u64, path: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(40 + path.len());
    let _ = write!(v, "{source:x}->{dest:x} ");
    v.extend(path::strip_nul(path));
    v
}

impl State {
    /// An empty state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Tells the state its events come from a live capture: its clone records say more
    /// than a capture file's (see [`CLONE_PARENT_TABLES`]), and its containers are looked
    /// up in the runtimes ([`ContainerTable::set_live`]).
    pub fn set_live(&mut self, live: bool) {
        self.live = live;
        self.containers.set_live(live);
    }

    /// The sizes of the tables (one walk over the threads).
    pub fn sizes(&self) -> StateSizes {
        let (users, groups) = self.users.sizes();
        StateSizes {
            threads: self.threads.len(),
            processes: self.threads.groups_len(),
            group_entries: self.threads.group_entries(),
            child_entries: self.threads.child_entries(),
            fds: self.threads.iter().map(|t| t.fds.len()).sum(),
            containers: self.containers.len(),
            users,
            groups,
            recently_closed: self.recently_closed.len(),
            clone_parent_tables: self.clone_parent_fds.len(),
            suspects: self.suspects.len(),
            reconciled_exits: self.reconciled_exits,
        }
    }

    /// Forgets the containers no thread refers to (see [`ContainerTable::prune`]) and the
    /// users and groups of containers no longer known (the host's stay). Run at each
    /// output rotation.
    pub fn prune_tables(&mut self) {
        let threads = &self.threads;
        self.containers.prune(|id| threads.any_in_container(id));
        let containers = &self.containers;
        self.users.prune(|c| {
            std::str::from_utf8(c)
                .is_ok_and(|id| containers.get(id).is_some() || threads.any_in_container(id))
        });
    }

    /// A thread by tid.
    pub fn thread(&self, tid: i64) -> Option<&Thread> {
        self.threads.get(tid)
    }

    /// The fd `fd` as seen by thread `tid`.
    pub fn fd(&self, tid: i64, fd: i64) -> Option<&FdInfo> {
        self.threads.fds(tid)?.get(&fd)
    }

    fn fd_mut(&mut self, tid: i64, fd: i64) -> Option<&mut FdInfo> {
        self.threads.fds_mut(tid)?.get_mut(&fd)
    }

    fn add_fd(&mut self, tid: i64, fd: i64, info: FdInfo) {
        self.fd_number_reused(tid, fd);
        if let Some(t) = self.threads.fds_mut(tid) {
            t.insert(fd, info);
        }
    }

    /// Fd number `fd` of `tid` names another file than before: not the one closed lately
    /// under it, nor one copied at the clone.
    fn fd_number_reused(&mut self, tid: i64, fd: i64) {
        if !self.recently_closed.is_empty() {
            let pid = self.pid_of(tid);
            self.recently_closed.remove(&(pid, fd));
        }
        self.threads.fd_made(tid, fd);
    }

    /// Forgets fd `fd` of `tid`'s table: it names a file the state cannot know now.
    fn forget_fd(&mut self, tid: i64, fd: i64) {
        self.fd_number_reused(tid, fd);
        if let Some(t) = self.threads.fds_mut(tid) {
            t.remove(&fd);
        }
    }

    /// Forgets every fd of process `pid` (the collector's own, which is never captured).
    pub fn forget_fds(&mut self, pid: i64) {
        if let Some(t) = self.threads.fds_mut(pid) {
            t.clear();
        }
    }

    /// Runs what the previous event left for the next one to do (the removal of the fds
    /// it closed, of the thread it ended), as the next event's [`State::apply`] would
    /// first: before a look at the state between two events that must not see them.
    pub fn settle(&mut self) {
        self.flush_deferred();
    }

    /// Adds an fd the capture did not see being made (read from `/proc` when first used).
    pub fn learn_fd(&mut self, tid: i64, fd: i64, info: FdInfo) {
        self.add_fd(tid, fd, info);
    }

    /// Whether fd of `tid` is one its process got copied from its parent's table at the
    /// clone and has not made since ([`Threads::fd_inherited`]).
    pub fn fd_inherited(&self, tid: i64, fd: i64) -> bool {
        self.threads.fd_inherited(tid, fd)
    }

    /// The fds of `tid`'s table a `close_range(first, last, flags)` that returned `res`
    /// closed: none when it failed, only marked them close-on-exec
    /// (`CLOSE_RANGE_CLOEXEC`), or names an empty range (`first > last`, which the
    /// kernel refuses, can still come from a damaged capture).
    pub fn closed_by_range(
        &self,
        tid: i64,
        first: u32,
        last: u32,
        flags: u32,
        res: i64,
    ) -> Vec<i64> {
        if res < 0 || flags & CLOSE_RANGE_CLOEXEC != 0 || first > last {
            return Vec::new();
        }
        self.threads.fds(tid).map_or_else(Vec::new, |t| {
            t.range(i64::from(first)..=i64::from(last))
                .map(|(k, _)| *k)
                .collect()
        })
    }

    /// Whether (process, fd) was closed recently (late counters may still name it).
    pub fn recently_closed(&self, pid: i64, fd: i64) -> bool {
        self.recently_closed.contains_key(&(pid, fd))
    }

    fn pid_of(&self, tid: i64) -> i64 {
        self.threads.get(tid).map_or(tid, |t| t.pid)
    }

    /// The fd late read/write counters of the current event were charged to: it was
    /// closed before they arrived, and is closed again after this event.
    pub fn late_fd(&self) -> Option<(i64, i64)> {
        self.late_fd
    }

    /// The thread the current event's read/write counters are charged to: the event's
    /// own, or, when that thread has exited, a live thread of the same process.
    pub fn counter_tid(&self) -> Option<i64> {
        self.counter_tid
    }

    /// A live thread of process `pid`: its main thread if alive, else any member.
    fn live_thread_of(&self, pid: i64) -> Option<i64> {
        let live = |t: &Thread| !t.is_dead();
        if self.threads.get(pid).is_some_and(live) {
            return Some(pid);
        }
        self.threads
            .group_members(pid)
            .into_iter()
            .find(|&t| self.threads.get(t).is_some_and(live))
    }

    /// Sets a thread's uid and resolves its user name from the capture's users.
    pub fn set_user(&mut self, tid: i64, uid: u32) {
        let Some(t) = self.threads.get(tid) else {
            return;
        };
        let (uid, name) = match self.users.user(t.container_id.as_bytes(), uid) {
            Some(u) => (u.uid, u.name.clone()),
            None => (uid, Vec::new()),
        };
        if let Some(t) = self.threads.get_mut(tid) {
            t.uid = uid;
            t.user_name = name;
        }
    }

    /// Sets a thread's gid and resolves its group name.
    pub fn set_group(&mut self, tid: i64, gid: u32) {
        let Some(t) = self.threads.get(tid) else {
            return;
        };
        let name = self
            .users
            .group(t.container_id.as_bytes(), gid)
            .map(|n| n.to_vec())
            .unwrap_or_default();
        if let Some(t) = self.threads.get_mut(tid) {
            t.gid = gid;
            t.group_name = name;
        }
    }

    fn resolve_container(&mut self, tid: i64) {
        let Some(t) = self.threads.get(tid) else {
            return;
        };
        let found = container_from_cgroups(t.cgroups.iter().map(|c| c.as_slice()));
        let id = match found {
            Some(m) => {
                self.containers.ensure(&m);
                m.short_id
            }
            None => String::new(),
        };
        if let Some(t) = self.threads.get_mut(tid) {
            t.container_id = id;
        }
    }

    fn update_cwd(&mut self, tid: i64, dir: &[u8]) {
        let Some(own) = self.threads.get(tid).map(|t| t.cwd.clone()) else {
            return;
        };
        let Some(main) = self.threads.main_tid(tid) else {
            return;
        };
        let mut cwd = path::concatenate(&own, dir);
        if cwd.last() != Some(&b'/') {
            cwd.push(b'/');
        }
        if let Some(m) = self.threads.get_mut(main) {
            m.cwd = cwd;
        }
    }

    /// Loads one process-list entry (capture start or `/proc`); call
    /// [`State::finish_snapshot`] after the last one.
    pub fn load_snapshot(&mut self, p: &ProcSnapshot) {
        self.add_listed(p, false);
    }

    /// Adds the threads of a process the live capture never saw made (its clone record
    /// lost, or it started before the probe and is missing from the startup snapshot),
    /// as `/proc` lists them now, its main thread first: linked at once to their group
    /// and parent, as threads a clone made. A thread the state already holds is left as
    /// it is.
    pub fn learn_process(&mut self, listed: &[ProcSnapshot]) {
        for p in listed {
            if self.threads.get(p.tid).is_none() {
                self.add_listed(p, true);
            }
        }
        self.count_refused_links();
    }

    /// The placeholder of thread `tid`, never seen, of process `pid` if the source names
    /// it (else -1). A thread of a process the state holds joins it as a thread its clone
    /// would have made (its process's parent, image, user and shared fd table), so its
    /// records go to that process.
    fn unseen_thread(&self, tid: i64, pid: i64) -> Thread {
        let mut t = Thread::unknown(tid);
        if pid <= 0 {
            return t;
        }
        t.pid = pid;
        if let Some(m) = self
            .threads
            .get(pid)
            .filter(|m| tid != pid && m.is_main() && !m.is_invalid() && !m.is_dead())
        {
            t.ptid = m.ptid;
            t.vpid = m.vpid;
            t.flags = cl::CLONE_THREAD | cl::CLONE_FILES;
            t.comm = m.comm.clone();
            t.exe = m.exe.clone();
            t.exepath = m.exepath.clone();
            t.args = m.args.clone();
            t.uid = m.uid;
            t.gid = m.gid;
            t.user_name = m.user_name.clone();
            t.group_name = m.group_name.clone();
            t.loginuid = m.loginuid;
            t.tty = m.tty;
            t.cgroups = m.cgroups.clone();
            t.container_id = m.container_id.clone();
            t.lastexec_ts = m.lastexec_ts;
        }
        t
    }

    fn add_listed(&mut self, p: &ProcSnapshot, link: bool) {
        let mut t = Thread {
            tid: p.tid,
            pid: p.pid,
            ptid: p.ptid,
            vtid: p.vtid,
            vpid: p.vpid,
            comm: p.comm.clone(),
            exe: p.exe.clone(),
            exepath: p.exepath.clone(),
            args: p.args.clone(),
            flags: p.flags | cl::ACTIVE,
            clone_ts: p.clone_ts,
            tty: p.tty,
            loginuid: p.loginuid,
            cgroups: p.cgroups.clone(),
            reaper_tid: -1,
            uid: u32::MAX,
            gid: u32::MAX,
            ..Default::default()
        };
        if t.is_main() {
            t.env = p.env.clone();
            let mut cwd = path::concatenate(b"", &p.cwd);
            if cwd.last() != Some(&b'/') {
                cwd.push(b'/');
            }
            t.cwd = cwd;
        }
        t.fds = p.fds.iter().cloned().collect();
        let tid = self.threads.add(t, link);
        self.resolve_container(tid);
        self.set_group(tid, p.gid);
        self.set_user(tid, p.uid);
    }

    /// Links the loaded threads to their groups and parents.
    pub fn finish_snapshot(&mut self) {
        self.threads.link_all();
        self.count_refused_links();
    }

    /// Counts the parent links the thread table refused as invalid input.
    fn count_refused_links(&mut self) {
        self.invalid_events += self.threads.take_refused_links();
    }

    /// Runs the removals deferred from the previous event.
    fn flush_deferred(&mut self) {
        if let Some(tid) = self.pending_exit.take() {
            if let Some(born) = self.threads.get(tid).map(|t| t.clone_ts)
                && born != 0
            {
                while self.recently_ended_order.len() >= RECENTLY_ENDED {
                    if let Some(k) = self.recently_ended_order.pop_front() {
                        self.recently_ended.remove(&k);
                    }
                }
                self.recently_ended.insert(tid, born);
                self.recently_ended_order.push_back(tid);
            }
            self.threads.remove(tid);
        }
        self.late_fd = None;
        if let Some((tid, fds)) = self.pending_close.take() {
            let pid = self.pid_of(tid);
            if let Some(table) = self.threads.fds_mut(tid) {
                for fd in fds {
                    if let Some(info) = table.remove(&fd) {
                        while self.recently_closed_order.len() >= RECENTLY_CLOSED {
                            if let Some(k) = self.recently_closed_order.pop_front() {
                                self.recently_closed.remove(&k);
                            }
                        }
                        self.recently_closed.insert((pid, fd), info);
                        self.recently_closed_order.push_back((pid, fd));
                    }
                }
            }
        }
    }

    /// Applies one event to the state. Returns whether the event has a thread (events of
    /// threads the state cannot know, such as an exit of an unknown thread, have none).
    pub fn apply(&mut self, ev: &SysEvent<'_>) -> bool {
        let has_thread = self.apply_event(ev);
        self.count_refused_links();
        has_thread
    }

    fn apply_event(&mut self, ev: &SysEvent<'_>) -> bool {
        self.flush_deferred();
        let tid = ev.tid;
        match ev.kind {
            EventKind::ContainerJson(json) => {
                self.containers.add_json(json);
                return false;
            }
            EventKind::UserAdded {
                uid,
                gid,
                name,
                home,
                shell,
                container_id,
            } => {
                self.users.add_user(
                    container_id,
                    UserInfo {
                        uid,
                        gid,
                        name: name.to_vec(),
                        home: home.to_vec(),
                        shell: shell.to_vec(),
                    },
                );
                return false;
            }
            EventKind::GroupAdded {
                gid,
                name,
                container_id,
            } => {
                self.users.add_group(container_id, gid, name);
                return false;
            }
            EventKind::Clone(c) => {
                self.apply_clone(ev.ts, tid, &c);
                return self.threads.get(tid).is_some();
            }
            EventKind::CgroupMove {
                cgroups,
                threadgroup,
            } => {
                if self.threads.get(tid).is_none() {
                    return false;
                }
                let mut tids = if threadgroup {
                    self.threads.group_members(tid)
                } else {
                    Vec::new()
                };
                if !tids.contains(&tid) {
                    tids.push(tid);
                }
                let entries = split_nul(cgroups);
                for t in tids {
                    if let Some(th) = self.threads.get_mut(t) {
                        th.cgroups = entries.clone();
                    }
                    self.resolve_container(t);
                }
                return true;
            }
            EventKind::IoCounters(c) => {
                let own = self.threads.get(tid).is_some_and(|t| !t.is_dead());
                let Some(tid) = (if own {
                    Some(tid)
                } else {
                    c.pid.and_then(|p| self.live_thread_of(p))
                }) else {
                    self.counter_tid = None;
                    return false;
                };
                self.counter_tid = Some(tid);
                if self.fd(tid, c.fd).is_none() {
                    // counted by a call that finished after its fd was closed: charge its
                    // file (reopened for this event only)
                    let pid = self.pid_of(tid);
                    if let Some(info) = self.recently_closed.remove(&(pid, c.fd))
                        && let Some(t) = self.threads.fds_mut(tid)
                    {
                        t.insert(c.fd, info);
                        self.late_fd = Some((tid, c.fd));
                        self.pending_close = Some((tid, vec![c.fd]));
                    }
                }
                return true;
            }
            EventKind::Exit { reaper, .. } => {
                if self.threads.get(tid).is_none() {
                    return false;
                }
                self.threads.mark_dead(tid, reaper);
                self.pending_exit = Some(tid);
                return true;
            }
            _ => {}
        }
        // Any other event of an unknown thread creates a placeholder for it, of its
        // process if the source names it (live records do; a capture's events do not,
        // and the thread stays of an unknown process, pid -1, as libsinsp's).
        if self.threads.get(tid).is_none() {
            let t = self.unseen_thread(tid, ev.pid);
            self.threads.add(t, true);
        }
        match ev.kind {
            EventKind::Execve(e) => self.apply_execve(ev.ts, tid, &e),
            EventKind::ExecveAt { exec, at } => {
                // Resolved before the exec replaces the image (fds and cwd survive it).
                let dir = self.fd(tid, at.dirfd).map(|f| f.name.clone());
                let target = path::execveat_target(
                    &self.threads.cwd(tid),
                    dir.as_deref(),
                    at.dirfd,
                    at.path,
                    at.flags,
                );
                self.apply_execve(ev.ts, tid, &exec);
                if exec.res >= 0
                    && exec.exepath.is_none()
                    && let Some(t) = self.threads.get_mut(tid)
                {
                    t.exepath = target;
                }
            }
            EventKind::SetIds { res, change } => {
                if res == 0
                    && let Some(ch) = change
                {
                    match ch {
                        IdChange::SetUid(u) => self.set_user(tid, u),
                        IdChange::SetReuid(_, e) | IdChange::SetResuid(_, e, _) => {
                            if e != u32::MAX {
                                self.set_user(tid, e)
                            }
                        }
                        IdChange::SetGid(g) => self.set_group(tid, g),
                        IdChange::SetRegid(_, e) | IdChange::SetResgid(_, e, _) => {
                            if e != u32::MAX {
                                self.set_group(tid, e)
                            }
                        }
                    }
                }
            }
            EventKind::Open(o) => {
                if o.fd >= 0 && o.kind != OpenKind::Other {
                    let name = o.path.unwrap_or(b"<NA>");
                    let full = match o.kernel_path {
                        // What the kernel opened, from the file itself; a pseudo file
                        // system's file (a pipe reopened through /proc) walks to "/",
                        // which names nothing: the path as passed says more.
                        Some(k) if k != b"/" || o.flags & PPM_O_DIRECTORY != 0 => k.to_vec(),
                        _ => {
                            let dir = match o.kind {
                                OpenKind::Open | OpenKind::Creat => self.threads.cwd(tid),
                                _ => self.dirfd_base(tid, name, o.dirfd.unwrap_or(AT_FDCWD)),
                            };
                            path::concatenate(&dir, name)
                        }
                    };
                    let kind = if o.flags & PPM_O_DIRECTORY != 0 {
                        FdKind::Directory
                    } else {
                        FdKind::FileV2
                    };
                    let mut info = FdInfo::new(kind, full);
                    info.openflags = o.flags;
                    self.add_fd(tid, o.fd, info);
                } else if o.fd >= 0 {
                    self.add_fd(tid, o.fd, FdInfo::new(FdKind::Timerfd, Vec::new()));
                }
            }
            EventKind::NewFd {
                fd,
                name,
                mode,
                file_path,
            } if fd >= 0 => {
                let info = match file_path {
                    Some(p) if mode & S_IFMT == S_IFDIR => {
                        FdInfo::new(FdKind::Directory, p.to_vec())
                    }
                    Some(p) => FdInfo::new(FdKind::FileV2, p.to_vec()),
                    None => FdInfo::new(FdKind::from_anon_name(name), name.to_vec()),
                };
                self.add_fd(tid, fd, info);
            }
            EventKind::Io(io) => self.apply_io(tid, &io),
            EventKind::Close { fd: Some(fd), res } if res >= 0 && self.fd(tid, fd).is_some() => {
                self.pending_close = Some((tid, vec![fd]));
            }
            EventKind::CloseRange {
                first,
                last,
                res,
                flags,
            } => {
                let fds = self.closed_by_range(tid, first, last, flags, res);
                if !fds.is_empty() {
                    self.pending_close = Some((tid, fds));
                }
            }
            EventKind::Socket {
                fd,
                domain,
                sock_type,
                proto,
            } if fd >= 0 => self.add_socket(tid, fd, domain, sock_type, proto),
            EventKind::Socketpair {
                res,
                fd1,
                fd2,
                source,
                peer,
            } if res >= 0 && fd1 != fd2 => {
                let mut i = FdInfo::new(FdKind::UnixSock, Vec::new());
                i.unix_source = source;
                i.unix_dest = peer;
                self.add_fd(tid, fd1, i.clone());
                self.add_fd(tid, fd2, i);
            }
            EventKind::Bind {
                fd: Some(fd),
                res,
                addr,
                bound_v4,
            } => {
                if res >= 0
                    && let Some(addr) = addr
                    && let Some(f) = self.fd_mut(tid, fd)
                {
                    match addr {
                        SockAddr::V4(ip, port) => {
                            if port == 0
                                && f.l4proto == l4::UDP
                                && let Some((bip, bport)) = bound_v4
                            {
                                // a datagram socket bound to a port the kernel chose: not a
                                // server, but its own end is known (a flow read with
                                // recv(2), which names no peer, still has it)
                                f.v4.sip = bip;
                                f.v4.sport = bport;
                            }
                            if port > 0 {
                                f.kind = FdKind::Ipv4ServSock;
                                f.serv_ip = ip;
                                f.serv_port = port;
                                f.role = Role::Server;
                            }
                            f.name =
                                format!("{}:{port}", std::net::Ipv4Addr::from(ip)).into_bytes();
                        }
                        SockAddr::V6(ip, port) => {
                            if port > 0 {
                                if ipv4_mapped(&ip) {
                                    f.kind = FdKind::Ipv4ServSock;
                                    f.serv_ip = v4_of_mapped(&ip);
                                } else {
                                    f.kind = FdKind::Ipv6ServSock;
                                }
                                f.serv_port = port;
                                f.role = Role::Server;
                            }
                            f.name =
                                format!("{}:{port}", std::net::Ipv6Addr::from(ip)).into_bytes();
                        }
                        SockAddr::Unix(p) => f.name = path::strip_nul(p),
                    }
                }
            }
            EventKind::ConnectEnter { fd, addr } => self.apply_connect_enter(tid, fd, addr),
            EventKind::Connect {
                fd,
                exit_fd,
                res,
                tuple,
                tuple_from_socket,
            } => {
                let (fd, force) = match fd.filter(|f| self.fd(tid, *f).is_some()) {
                    Some(f) => (f, false),
                    None => match exit_fd.filter(|f| *f >= 0 && self.fd(tid, *f).is_some()) {
                        Some(f) => (f, true),
                        None => return true,
                    },
                };
                if res < 0 && res != -EINPROGRESS {
                    return true;
                }
                if let Some(t) = tuple {
                    // the socket's own endpoints after the call (live) are the peer it has
                    self.fill_client(tid, fd, &t, force || tuple_from_socket);
                }
            }
            EventKind::Accept { fd, tuple } => {
                if fd >= 0
                    && let Some(t) = tuple
                {
                    let mut i = FdInfo::default();
                    match t {
                        SockTuple::V4 {
                            sip,
                            sport,
                            dip,
                            dport,
                        } => {
                            i.kind = FdKind::Ipv4Sock;
                            i.v4 = Ipv4Tuple {
                                sip,
                                sport,
                                dip,
                                dport,
                            };
                            i.l4proto = l4::TCP;
                            i.name = i.v4.name();
                        }
                        SockTuple::V6 {
                            sip,
                            sport,
                            dip,
                            dport,
                        } => {
                            if connected_v4(&sip, &dip) {
                                i.kind = FdKind::Ipv4Sock;
                                i.v4 = Ipv4Tuple {
                                    sip: v4_of_mapped(&sip),
                                    sport,
                                    dip: v4_of_mapped(&dip),
                                    dport,
                                };
                                i.name = i.v4.name();
                            } else {
                                i.kind = FdKind::Ipv6Sock;
                                i.v6 = Ipv6Tuple {
                                    sip,
                                    sport,
                                    dip,
                                    dport,
                                };
                                i.name = b"ipv6".to_vec();
                            }
                            i.l4proto = l4::TCP;
                        }
                        SockTuple::Unix { source, dest, path } => {
                            i.kind = FdKind::UnixSock;
                            i.unix_source = source;
                            i.unix_dest = dest;
                            i.name = unix_tuple_name(source, dest, path);
                        }
                    }
                    i.role = Role::Server;
                    self.add_fd(tid, fd, i);
                }
            }
            EventKind::Pipe { res, fd1, fd2, ino } if res >= 0 => {
                let mut i = FdInfo::new(FdKind::Fifo, Vec::new());
                i.ino = ino;
                self.add_fd(tid, fd1, i.clone());
                self.add_fd(tid, fd2, i);
            }
            EventKind::Dup {
                res,
                oldfd: Some(old),
                kernel_path,
            } if res >= 0 => {
                if let Some(info) = self.fd(tid, old).cloned() {
                    self.add_fd(tid, res, info);
                } else if let Some(p) = kernel_path {
                    // a dup of an fd the capture never saw made: the kernel named the
                    // file (regular files and devices only)
                    self.add_fd(tid, res, FdInfo::new(FdKind::FileV2, p.to_vec()));
                } else if res != old {
                    // nothing says what the new fd is, but not what it was before the
                    // dup2/dup3 (libsinsp keeps that stale entry and charges its I/O to it)
                    self.forget_fd(tid, res);
                }
            }
            EventKind::Chdir { res, path: Some(p) } if res >= 0 => self.update_cwd(tid, p),
            EventKind::Fchdir { fd: Some(fd), res } => {
                if res >= 0
                    && let Some(name) = self.fd(tid, fd).map(|f| f.name.clone())
                {
                    self.update_cwd(tid, &name);
                }
            }
            _ => {}
        }
        true
    }

    /// The directory an `*at` call resolves `name` against (the capture's rules).
    pub fn dirfd_base(&self, tid: i64, name: &[u8], dirfd: i64) -> Vec<u8> {
        if is_absolute(name) {
            return b".".to_vec();
        }
        if dirfd == AT_FDCWD {
            return self.threads.cwd(tid);
        }
        match self.fd(tid, dirfd) {
            None => b"<UNKNOWN>".to_vec(),
            Some(f) => {
                let mut n = f.name.clone();
                if n.last() != Some(&b'/') {
                    n.push(b'/');
                }
                n
            }
        }
    }

    fn add_socket(&mut self, tid: i64, fd: i64, domain: u32, ty: u32, proto: u32) {
        let mut i = FdInfo::default();
        match domain {
            AF_UNIX => i.kind = FdKind::UnixSock,
            AF_INET | AF_INET6 => {
                i.kind = if domain == AF_INET {
                    FdKind::Ipv4Sock
                } else {
                    FdKind::Ipv6Sock
                };
                let raw = ty == SOCK_RAW;
                i.l4proto = match proto {
                    6 => {
                        if raw {
                            l4::RAW
                        } else {
                            l4::TCP
                        }
                    }
                    17 => {
                        if raw {
                            l4::RAW
                        } else {
                            l4::UDP
                        }
                    }
                    0 => match ty & 0xff {
                        SOCK_STREAM => l4::TCP,
                        SOCK_DGRAM => l4::UDP,
                        _ => l4::UNKNOWN,
                    },
                    1 => {
                        if raw {
                            l4::RAW
                        } else {
                            l4::ICMP
                        }
                    }
                    255 => l4::RAW,
                    _ => l4::UNKNOWN,
                };
            }
            AF_NETLINK => i.kind = FdKind::Netlink,
            _ => i.kind = FdKind::Unknown,
        }
        self.add_fd(tid, fd, i);
    }

    fn apply_connect_enter(&mut self, tid: i64, fd: i64, addr: Option<SockAddr<'_>>) {
        let Some(f) = self.fd_mut(tid, fd) else {
            return;
        };
        match addr {
            None => match f.kind {
                FdKind::Ipv4Sock => {
                    f.v4.dip = [0; 4];
                    f.v4.dport = 0;
                }
                FdKind::Ipv6Sock => {
                    f.v6.dip = [0; 16];
                    f.v6.dport = 0;
                }
                _ => {}
            },
            Some(SockAddr::V4(ip, port)) => {
                f.kind = FdKind::Ipv4Sock;
                f.v4.dip = ip;
                f.v4.dport = port;
            }
            Some(SockAddr::V6(ip, port)) => {
                if ipv4_mapped(&ip) {
                    f.kind = FdKind::Ipv4Sock;
                    f.v4.dip = v4_of_mapped(&ip);
                    f.v4.dport = port;
                } else {
                    f.kind = FdKind::Ipv6Sock;
                    f.v6.dip = ip;
                    f.v6.dport = port;
                }
            }
            Some(SockAddr::Unix(p)) => f.name = path::strip_nul(p),
        }
    }

    /// Updates an IPv4 socket's endpoints; returns whether anything changed.
    fn set_v4(f: &mut FdInfo, t: Ipv4Tuple, overwrite_dest: bool) -> bool {
        if f.kind == FdKind::Ipv4Sock {
            let same = t == f.v4;
            let reversed = t.dip == f.v4.sip
                && t.dport == f.v4.sport
                && t.sip == f.v4.dip
                && t.sport == f.v4.dport;
            if same || reversed {
                return false;
            }
        }
        let mut changed = false;
        if f.v4.sip != t.sip {
            f.v4.sip = t.sip;
            changed = true;
        }
        if f.v4.sport != t.sport {
            f.v4.sport = t.sport;
            changed = true;
        }
        if f.v4.dip == [0; 4] || (overwrite_dest && f.v4.dip != t.dip) {
            f.v4.dip = t.dip;
            changed = true;
        }
        if f.v4.dport == 0 || (overwrite_dest && f.v4.dport != t.dport) {
            f.v4.dport = t.dport;
            changed = true;
        }
        changed
    }

    fn set_v6(f: &mut FdInfo, t: Ipv6Tuple, overwrite_dest: bool) -> bool {
        if f.kind == FdKind::Ipv6Sock {
            let same = t == f.v6;
            let reversed = t.dip == f.v6.sip
                && t.dport == f.v6.sport
                && t.sip == f.v6.dip
                && t.sport == f.v6.dport;
            if same || reversed {
                return false;
            }
        }
        let mut changed = false;
        if f.v6.sip != t.sip {
            f.v6.sip = t.sip;
            changed = true;
        }
        if f.v6.sport != t.sport {
            f.v6.sport = t.sport;
            changed = true;
        }
        if f.v6.dip == [0; 16] || (overwrite_dest && f.v6.dip != t.dip) {
            f.v6.dip = t.dip;
            changed = true;
        }
        if f.v6.dport == 0 || (overwrite_dest && f.v6.dport != t.dport) {
            f.v6.dport = t.dport;
            changed = true;
        }
        changed
    }

    /// Sets endpoints from a tuple; returns whether they changed.
    /// `connected`: the endpoints of a connect (see [`connected_v4`]).
    fn set_tuple(f: &mut FdInfo, t: &SockTuple<'_>, overwrite_dest: bool, connected: bool) -> bool {
        match *t {
            SockTuple::V4 {
                sip,
                sport,
                dip,
                dport,
            } => {
                let c = Self::set_v4(
                    f,
                    Ipv4Tuple {
                        sip,
                        sport,
                        dip,
                        dport,
                    },
                    overwrite_dest,
                );
                f.kind = FdKind::Ipv4Sock;
                c
            }
            SockTuple::V6 {
                sip,
                sport,
                dip,
                dport,
            } => {
                let v4 = if connected {
                    connected_v4(&sip, &dip)
                } else {
                    ipv4_mapped(&sip) && ipv4_mapped(&dip)
                };
                if v4 {
                    let c = Self::set_v4(
                        f,
                        Ipv4Tuple {
                            sip: v4_of_mapped(&sip),
                            sport,
                            dip: v4_of_mapped(&dip),
                            dport,
                        },
                        overwrite_dest,
                    );
                    f.kind = FdKind::Ipv4Sock;
                    c
                } else {
                    let c = Self::set_v6(
                        f,
                        Ipv6Tuple {
                            sip,
                            sport,
                            dip,
                            dport,
                        },
                        overwrite_dest,
                    );
                    f.kind = FdKind::Ipv6Sock;
                    c
                }
            }
            SockTuple::Unix { .. } => false,
        }
    }

    fn swap(f: &mut FdInfo) {
        if f.kind == FdKind::Ipv4Sock {
            std::mem::swap(&mut f.v4.sip, &mut f.v4.dip);
            std::mem::swap(&mut f.v4.sport, &mut f.v4.dport);
        } else {
            std::mem::swap(&mut f.v6.sip, &mut f.v6.dip);
            std::mem::swap(&mut f.v6.sport, &mut f.v6.dport);
        }
    }

    fn fill_client(&mut self, tid: i64, fd: i64, t: &SockTuple<'_>, force: bool) {
        let Some(f) = self.fd_mut(tid, fd) else {
            return;
        };
        match t {
            SockTuple::Unix { source, dest, path } => {
                f.name = unix_tuple_name(*source, *dest, path);
                f.unix_source = *source;
                f.unix_dest = *dest;
            }
            _ => {
                // The previous kind decides the "unchanged" shortcut, as in set_tuple.
                let changed = Self::set_tuple(f, t, force, true);
                if changed && f.role == Role::Server && f.is_udp() {
                    Self::swap(f);
                }
                if f.kind == FdKind::Ipv4Sock {
                    f.name = f.v4.name();
                } else {
                    f.name = b"ipv6".to_vec();
                }
            }
        }
        if f.role == Role::None {
            f.role = Role::Client;
        }
    }

    /// Whether `ip` is an address of the machine as a process of `container` (its short
    /// id; empty on the host) sees it, as libsinsp decides it for the filter fields
    /// `fd.is_server`, `fd.lip` and their kin: the container's IPv4 address (any known
    /// container's when its own is unknown), else one of the interfaces' addresses.
    pub fn is_local_addr(&self, ip: std::net::IpAddr, container: &str) -> bool {
        if let std::net::IpAddr::V4(a) = ip
            && let Some(c) = (!container.is_empty())
                .then(|| self.containers.get(container))
                .flatten()
        {
            let found = match c.ip {
                Some(own) => own == a,
                None => self.containers.has_ip(a),
            };
            if found {
                return true;
            }
        }
        match ip {
            std::net::IpAddr::V4(a) => self.ipv4_ifaces.iter().any(|i| i.addr == a.octets()),
            std::net::IpAddr::V6(a) => self.ipv6_addrs.contains(&a.octets()),
        }
    }

    fn infer_ipv4(&self, dest: [u8; 4]) -> [u8; 4] {
        let u = |a: [u8; 4]| u32::from_le_bytes(a);
        for i in &self.ipv4_ifaces {
            if i.addr == dest {
                return i.addr;
            }
        }
        for i in &self.ipv4_ifaces {
            if u(i.addr) & u(i.netmask) == u(dest) & u(i.netmask) {
                return i.addr;
            }
        }
        for i in &self.ipv4_ifaces {
            if i.addr != [127, 0, 0, 1] {
                return i.addr;
            }
        }
        [0; 4]
    }

    fn complete_from_ifaces(&self, v4: &mut Ipv4Tuple) {
        if v4.sip != [0; 4] && v4.dip != [0; 4] {
            return;
        }
        if v4.sip == [0; 4] {
            let n = self.infer_ipv4(v4.dip);
            if n == v4.dip && v4.sport == v4.dport {
                return;
            }
            v4.sip = n;
        } else {
            let n = self.infer_ipv4(v4.sip);
            if n == v4.sip && v4.sport == v4.dport {
                return;
            }
            v4.dip = n;
        }
    }

    fn guess_role(&self, tid: i64, fd: i64, incoming: bool) -> Role {
        let Some(f) = self.fd(tid, fd) else {
            return Role::None;
        };
        let (sport, dport) = (f.v4.sport, f.v4.dport);
        let table = self.threads.fds(tid);
        let bound = table.is_some_and(|t| {
            t.values().any(|x| {
                (x.kind == FdKind::Ipv4Sock && x.v4.dport == dport)
                    || (x.kind == FdKind::Ipv4ServSock && x.serv_port == dport)
            })
        });
        if !bound {
            return Role::Client;
        }
        let client_port = table.is_some_and(|t| {
            t.values()
                .any(|x| x.kind == FdKind::Ipv4Sock && x.v4.sport == sport)
        });
        if !client_port {
            return Role::Server;
        }
        if incoming { Role::Server } else { Role::Client }
    }

    fn apply_io(&mut self, tid: i64, io: &crate::event::IoEvent<'_>) {
        let Some(fd) = io.fd else { return };
        // An fd the state never saw opened stays unknown, whatever the call's peer address
        // suggests: its type and protocol cannot be known (a TCP socket can sendto too), so
        // no flow is made up for it (the capture state ignores such calls).
        if io.res < 0 {
            return;
        }
        let Some(tuple) = io.tuple else { return };
        let Some(f) = self.fd(tid, fd) else { return };
        if !f.name.is_empty() && f.is_tcp() {
            return;
        }
        let incoming = io.dir == IoDir::Read;
        let changed = match tuple {
            SockTuple::Unix { source, dest, path } => {
                let f = self.fd_mut(tid, fd).expect("checked");
                f.kind = FdKind::UnixSock;
                f.unix_source = source;
                f.unix_dest = dest;
                f.name = path::strip_nul(path);
                false
            }
            _ => {
                // A server socket's protocol carries over (one l4proto field serves both).
                // The whole tuple is taken, destination included, as libsinsp's `update_fd`
                // takes it: an unbound datagram client's reply names the sender as source and
                // the client's own port as destination, and keeping the old destination made
                // the reply's flow `server:port-server:port`.
                let f = self.fd_mut(tid, fd).expect("checked");
                Self::set_tuple(f, &tuple, true, false)
            }
        };
        if !changed {
            return;
        }
        {
            let f = self.fd_mut(tid, fd).expect("checked");
            if f.l4proto == l4::UNKNOWN {
                f.l4proto = l4::UDP;
            }
        }
        if self.fd(tid, fd).is_some_and(|f| f.kind == FdKind::Ipv4Sock) {
            let mut v4 = self.fd(tid, fd).expect("checked").v4;
            self.complete_from_ifaces(&mut v4);
            self.fd_mut(tid, fd).expect("checked").v4 = v4;
        }
        if self.fd(tid, fd).is_some_and(|f| f.is_ip_socket()) {
            if self.fd(tid, fd).expect("checked").role == Role::None {
                let r = self.guess_role(tid, fd, incoming);
                self.fd_mut(tid, fd).expect("checked").role = r;
            }
            let f = self.fd_mut(tid, fd).expect("checked");
            let swap = if incoming {
                f.role == Role::Client
            } else {
                f.role == Role::Server
            };
            if swap {
                Self::swap(f);
            }
            f.name = if f.kind == FdKind::Ipv4Sock {
                f.v4.name()
            } else {
                b"ipv6".to_vec()
            };
        }
    }

    fn apply_clone(&mut self, ts: u64, tid: i64, c: &crate::event::CloneEvent<'_>) {
        if c.res < 0 {
            return;
        }
        let flags = c.flags.unwrap_or(0);
        let info = &c.info;
        if c.res == 0 {
            self.apply_clone_child(ts, tid, flags, info, c.own.as_ref());
            return;
        }
        let child_tid = c.res;
        if child_tid == tid {
            // a clone cannot return its caller's own id: damaged input, nothing to apply
            self.invalid_events += 1;
            return;
        }
        // Caller side.
        if self.threads.get(tid).is_none() {
            self.threads.add(Thread::unknown(tid), true);
        }
        let mut valid_caller = true;
        if self.threads.get(tid).is_some_and(|t| t.is_invalid()) {
            valid_caller = false;
            let t = self.threads.get_mut(tid).expect("present");
            t.pid = info.pid;
            t.ptid = info.ptid;
            t.vtid = info.vtid.unwrap_or(tid);
            t.vpid = info.vpid.unwrap_or(-1);
            self.threads.link(tid);
        }
        if flags & (cl::CLONE_PARENT | cl::CLONE_THREAD) == cl::CLONE_PARENT && valid_caller {
            self.keep_clone_parent_fds(ts, tid, child_tid);
        }
        let caller = self.threads.get(tid).expect("present");
        if flags & (cl::CHILD_IN_PIDNS | cl::CLONE_NEWPID | cl::CLONE_PARENT) != 0
            || tid != caller.vtid
        {
            return;
        }
        if let Some(existing) = self.threads.get(child_tid) {
            if existing.flags & cl::CLONE_INVERTED != 0 {
                return;
            }
            self.threads.remove(child_tid);
        } else if self.recently_ended.get(&child_tid) == Some(&ts) {
            // the child this clone made (same creation time) already ran and ended; a
            // capture file's clone exits carry their own time and never match
            self.recently_ended.remove(&child_tid);
            return;
        }
        let caller = self.threads.get(tid).expect("present");
        let mut child = Thread {
            tid: child_tid,
            flags,
            reaper_tid: -1,
            ..Default::default()
        };
        if flags & cl::CLONE_THREAD == 0 {
            if valid_caller {
                if let Some(fds) = self.threads.fds(tid) {
                    child.fds = fds.clone();
                    child.inherited_fds = threads::low_fds(&child.fds);
                }
                child.cwd = self.threads.cwd(tid);
                child.env = caller.env.clone();
            }
            child.pid = child_tid;
            child.ptid = caller.tid;
        } else {
            child.pid = caller.pid;
            child.ptid = caller.ptid;
            child.flags |= cl::CLONE_FILES;
            child.lastexec_ts = caller.lastexec_ts;
        }
        child.vtid = child.tid;
        child.vpid = child.pid;
        self.fill_clone_common(&mut child, ts, info);
        if valid_caller {
            child.exepath = caller.exepath.clone();
            child.tty = caller.tty;
            child.loginuid = caller.loginuid;
        } else {
            let (exe, comm, args) = (child.exe.clone(), child.comm.clone(), child.args.clone());
            let t = self.threads.get_mut(tid).expect("present");
            t.exe = exe;
            t.comm = comm;
            t.args = args;
        }
        self.add_cloned(child, info);
    }

    /// Keeps a copy of `caller`'s fd table for its `CLONE_PARENT` child `child` born at
    /// `ts` (live capture), unless the child's own record came first (same creation time).
    fn keep_clone_parent_fds(&mut self, ts: u64, caller: i64, child: i64) {
        let came = self
            .threads
            .get(child)
            .is_some_and(|t| t.flags & cl::CLONE_INVERTED != 0 && t.clone_ts == ts);
        if !self.live || came || self.recently_ended.get(&child) == Some(&ts) {
            return;
        }
        let Some(fds) = self.threads.fds(caller).cloned() else {
            return;
        };
        self.take_clone_parent_fds(child);
        while self.clone_parent_order.len() >= CLONE_PARENT_TABLES {
            if let Some(k) = self.clone_parent_order.pop_front() {
                self.clone_parent_fds.remove(&k);
            }
        }
        let kept = KeptFds {
            caller,
            born: ts,
            fds,
        };
        self.clone_parent_fds.insert(child, kept);
        self.clone_parent_order.push_back(child);
    }

    /// Takes the fd table kept for `CLONE_PARENT` child `child`, if any.
    fn take_clone_parent_fds(&mut self, child: i64) -> Option<KeptFds> {
        let kept = self.clone_parent_fds.remove(&child)?;
        self.clone_parent_order.retain(|&k| k != child);
        Some(kept)
    }

    fn apply_clone_child(
        &mut self,
        ts: u64,
        tid: i64,
        flags: u32,
        info: &crate::event::ProcInfo<'_>,
        own: Option<&crate::event::OwnImage<'_>>,
    ) {
        let lookup_tid = if flags & cl::CLONE_THREAD == 0 {
            info.ptid
        } else {
            info.pid
        };
        if lookup_tid == tid {
            // its own parent, or a new thread that leads its own group: damaged input
            self.invalid_events += 1;
            return;
        }
        if let Some(t) = self.threads.get(tid)
            && t.clone_ts != 0
        {
            if ts.wrapping_sub(t.clone_ts) < CLONE_STALE_NS {
                return;
            }
            self.threads.remove(tid);
        }
        let mut child = Thread {
            tid,
            pid: info.pid,
            ptid: info.ptid,
            vtid: info.vtid.unwrap_or(tid),
            vpid: info.vpid.unwrap_or(-1),
            flags: flags | cl::CLONE_INVERTED,
            reaper_tid: -1,
            ..Default::default()
        };
        let leader = flags & cl::CLONE_THREAD == 0;
        let lookup_tid = if leader { child.ptid } else { child.pid };
        if !leader {
            child.flags |= cl::CLONE_FILES;
        }
        if self.threads.get(lookup_tid).is_none() {
            self.threads.add(Thread::unknown(lookup_tid), true);
        }
        let mut valid = true;
        if self.threads.get(lookup_tid).is_some_and(|t| t.is_invalid()) {
            valid = false;
            if !leader {
                let t = self.threads.get_mut(lookup_tid).expect("present");
                t.pid = child.pid;
                t.ptid = child.ptid;
                t.vpid = child.vpid;
                t.vtid = t.vpid;
                self.threads.link(lookup_tid);
            } else if lookup_tid > 0 && lookup_tid != tid {
                // A new process whose parent the capture never saw (not in its process
                // list, no event before): the kernel names the parent, so it stands as a
                // process of its own (its own parent unknown: 0) instead of the child losing
                // its parent link. What the fork copied (exe, comm, args) is filled in below.
                let t = self.threads.get_mut(lookup_tid).expect("present");
                t.pid = lookup_tid;
                t.ptid = 0;
                self.threads.link(lookup_tid);
            }
        }
        self.fill_clone_common(&mut child, ts, info);
        let lookup = self.threads.get(lookup_tid).expect("present");
        if valid {
            child.exepath = lookup.exepath.clone();
            child.tty = lookup.tty;
            child.loginuid = lookup.loginuid;
            if leader {
                if let Some(fds) = self.threads.fds(lookup_tid) {
                    child.fds = fds.clone();
                    child.inherited_fds = threads::low_fds(&child.fds);
                }
                child.cwd = self.threads.cwd(lookup_tid);
                child.env = lookup.env.clone();
            } else {
                child.lastexec_ts = lookup.lastexec_ts;
            }
        } else if !leader || (lookup_tid > 0 && lookup_tid != tid && own.is_none()) {
            // (not from a CLONE_PARENT child's own image: that is its caller's, not its
            // parent's)
            let (exe, comm, args) = (child.exe.clone(), child.comm.clone(), child.args.clone());
            let t = self.threads.get_mut(lookup_tid).expect("present");
            t.exe = exe;
            t.comm = comm;
            t.args = args;
        }
        // A CLONE_PARENT child's kernel parent is its caller's parent, whose image it did not
        // copy: the kernel's word on the child itself (live capture) replaces the parent's
        // (libsinsp's copy, which let such a child pass for its grandparent, kept where a
        // capture file says nothing more). Its fds are a copy of its caller's table (the
        // probe names the caller), not of its parent's; with the caller unknown, none is
        // taken, and the probe names each fd read or written at its first use.
        let clone_parent = leader && flags & cl::CLONE_PARENT != 0;
        let kept = if clone_parent {
            self.take_clone_parent_fds(tid)
        } else {
            None
        };
        if clone_parent && let Some(own) = own.filter(|o| !o.exepath.is_empty()) {
            child.exepath = own.exepath.to_vec();
            child.cwd = own
                .cwd
                .filter(|c| c.first() == Some(&b'/'))
                .map(|c| {
                    let mut c = c.to_vec();
                    if c.last() != Some(&b'/') {
                        c.push(b'/');
                    }
                    c
                })
                .unwrap_or_default();
            child.env = own.env.map(split_nul).unwrap_or_default();
            child.tty = own.tty;
            child.loginuid = own.loginuid;
            // (the copy its caller's clone exit kept for this child, else the caller's
            // table now)
            let kept = kept
                .filter(|k| k.born == ts && own.caller.is_none_or(|c| c == k.caller))
                .map(|k| k.fds);
            let caller_fds = kept.or_else(|| {
                own.caller
                    .filter(|&c| c != tid && self.threads.get(c).is_some_and(|t| !t.is_invalid()))
                    .and_then(|c| self.threads.fds(c))
                    .cloned()
            });
            child.fds = caller_fds.unwrap_or_default();
            child.inherited_fds = threads::low_fds(&child.fds);
        }
        self.add_cloned(child, info);
    }

    fn fill_clone_common(&self, child: &mut Thread, ts: u64, info: &crate::event::ProcInfo<'_>) {
        child.exe = cstr(info.exe.unwrap_or_default()).to_vec();
        child.comm = match info.comm {
            Some(c) => cstr(c).to_vec(),
            None => child.exe.clone(),
        };
        child.args = split_nul(info.args.unwrap_or_default());
        if let Some(cg) = info.cgroups {
            child.cgroups = split_nul(cg);
        }
        child.clone_ts = ts;
    }

    fn add_cloned(&mut self, child: Thread, info: &crate::event::ProcInfo<'_>) {
        let tid = self.threads.add(child, true);
        let (uid, gid) = (info.uid.unwrap_or(0), info.gid.unwrap_or(0));
        // Users first resolve on the host; again in the container once it is known.
        self.set_user(tid, uid);
        self.set_group(tid, gid);
        if info.cgroups.is_some() {
            self.resolve_container(tid);
        }
        if self
            .threads
            .get(tid)
            .is_some_and(|t| !t.container_id.is_empty())
        {
            let (u, g) = {
                let t = self.threads.get(tid).expect("present");
                (t.uid, t.gid)
            };
            self.set_user(tid, u);
            self.set_group(tid, g);
        }
    }

    fn apply_execve(&mut self, _ts: u64, tid: i64, e: &crate::event::ExecveEvent<'_>) {
        if e.res < 0 {
            return;
        }
        self.threads.resurrect(tid);
        let old_container = self
            .threads
            .get(tid)
            .map(|t| t.container_id.clone())
            .unwrap_or_default();
        let info = &e.info;
        {
            let t = self.threads.get_mut(tid).expect("present");
            t.exe = cstr(info.exe.unwrap_or_default()).to_vec();
            t.lastexec_ts = _ts;
            t.comm = match info.comm {
                Some(c) => cstr(c).to_vec(),
                None => t.exe.clone(),
            };
            t.args = split_nul(info.args.unwrap_or_default());
        }
        self.threads.set_pid(tid, info.pid);
        if self.threads.get(tid).is_some_and(|t| t.is_invalid()) {
            let t = self.threads.get_mut(tid).expect("present");
            t.ptid = info.ptid;
            if t.flags & cl::CHILD_IN_PIDNS == 0 {
                t.vtid = t.tid;
                t.vpid = t.pid;
            }
            self.threads.link(tid);
        }
        if let Some(env) = e.env {
            self.threads.get_mut(tid).expect("present").env = split_nul(env);
        }
        if let Some(cg) = info.cgroups {
            self.threads.get_mut(tid).expect("present").cgroups = split_nul(cg);
            self.resolve_container(tid);
        }
        if let Some(tty) = e.tty {
            self.threads.get_mut(tid).expect("present").tty = tty;
        }
        if let Some(p) = e.exepath {
            self.threads.get_mut(tid).expect("present").exepath = cstr(p).to_vec();
        } else if let Some(f) = e.filename {
            let full = if f == b"<NA>" {
                b"<NA>".to_vec()
            } else {
                path::concatenate(&self.threads.cwd(tid), f)
            };
            self.threads.get_mut(tid).expect("present").exepath = full;
        }
        if let Some(l) = e.loginuid {
            self.threads.get_mut(tid).expect("present").loginuid = l;
        }
        if let Some(uid) = info.uid {
            // The exit event's uid sets the id only; the name stays as resolved before.
            self.threads.get_mut(tid).expect("present").uid = uid;
        }
        {
            let t = self.threads.get_mut(tid).expect("present");
            let keep = t.flags & (cl::IS_MAIN_THREAD | (1 << 21) | (1 << 22));
            let inverted = t.flags & cl::CLONE_INVERTED;
            t.flags = cl::ACTIVE | keep | inverted | (1 << 17);
        }
        let new_container = self.threads.get(tid).expect("present").container_id.clone();
        if new_container != old_container {
            let (u, g) = {
                let t = self.threads.get(tid).expect("present");
                (t.uid, t.gid)
            };
            self.set_user(tid, u);
            self.set_group(tid, g);
        }
        if self.threads.group_alive(tid) > 1 {
            for other in self.threads.group_members(tid) {
                if self.threads.get(other).is_some_and(|t| !t.is_main()) {
                    self.threads.remove(other);
                }
            }
        }
        // The exec closed the close-on-exec fds: every fd the kernel no longer lists.
        if let Some(bits) = e.open_fds
            && let Some(table) = self.threads.fds(tid)
        {
            let known = bits.len() as i64 * 8;
            let gone: Vec<i64> = table
                .keys()
                .copied()
                .filter(|&fd| {
                    fd >= 0 && fd < known && bits[(fd / 8) as usize] & (1 << (fd % 8)) == 0
                })
                .collect();
            if !gone.is_empty() {
                self.pending_close = Some((tid, gone));
            }
        }
    }

    /// The fds the current event closes (removed from the state before the next event):
    /// a close, a close_range, or the close-on-exec fds of an exec.
    pub fn closing_fds(&self) -> Option<(i64, &[i64])> {
        self.pending_close.as_ref().map(|(t, f)| (*t, f.as_slice()))
    }
}

/// Bytes up to the first NUL.
pub fn cstr(b: &[u8]) -> &[u8] {
    match b.iter().position(|&c| c == 0) {
        Some(i) => &b[..i],
        None => b,
    }
}

/// Splits a NUL-separated list as the capture state does: one trailing NUL is dropped,
/// then every NUL separates entries (`"a\0\0"` is `["a", ""]`, `"\0"` is empty).
pub fn split_nul(b: &[u8]) -> Vec<Vec<u8>> {
    let b = b.strip_suffix(&[0]).unwrap_or(b);
    if b.is_empty() {
        return Vec::new();
    }
    b.split(|&c| c == 0).map(|s| s.to_vec()).collect()
}

#[cfg(test)]
mod tests;
