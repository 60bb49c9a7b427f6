//! The thread table: threads, their thread groups (processes) and parent links.
//!
//! It follows the capture state's rules closely, because SysFlow's process identities
//! (OIDs), parents and attributes come from it: a process's attributes are those of its
//! main thread; threads of a process share its fd table unless created without
//! `CLONE_FILES`; when a process dies its children are re-parented to a reaper.

use super::fd::FdTable;
use rustc_hash::FxHashMap as HashMap;

/// How many of a process's first fds are told apart as copied at its clone
/// ([`Threads::fd_inherited`]): as many as the probe names at an inherited fd's first use.
pub const INHERITED_FDS: i64 = 128;

/// The bits of `fds`'s numbers below [`INHERITED_FDS`].
pub(crate) fn low_fds(fds: &FdTable) -> u128 {
    fds.range(0..INHERITED_FDS)
        .fold(0, |bits, (&fd, _)| bits | 1 << fd)
}

/// Clone flags and thread flags (scap `PPM_CL_*`).
pub mod cl {
    /// Shares the fd table.
    pub const CLONE_FILES: u32 = 1 << 0;
    /// Shares the file-system context.
    pub const CLONE_FS: u32 = 1 << 1;
    /// New pid namespace.
    pub const CLONE_NEWPID: u32 = 1 << 6;
    /// Same parent as the caller.
    pub const CLONE_PARENT: u32 = 1 << 8;
    /// A thread, not a process.
    pub const CLONE_THREAD: u32 = 1 << 13;
    /// Created from the child-side clone event.
    pub const CLONE_INVERTED: u32 = 1 << 16;
    /// The thread has exited.
    pub const CLOSED: u32 = 1 << 18;
    /// The thread was seen doing something.
    pub const ACTIVE: u32 = 1 << 19;
    /// The child is in a pid namespace.
    pub const CHILD_IN_PIDNS: u32 = 1 << 29;
    /// Explicitly the main thread.
    pub const IS_MAIN_THREAD: u32 = 1 << 30;
}

/// A reference to one thread object (a tid can be reused by a later thread).
pub type ThreadRef = (i64, u64);

/// An ordered set of thread references with O(1) insertion at either end, O(1) removal
/// of any entry and O(1) access to the first: a doubly linked list threaded through a
/// hash map. A process's thread list and a thread's children list are these, so a
/// process of many threads (or a parent of many children) loses each one without a
/// scan, and the lists keep their order (which thread reaps a dead thread's children
/// depends on it).
#[derive(Clone, Debug, Default)]
pub(crate) struct RefList {
    head: Option<ThreadRef>,
    tail: Option<ThreadRef>,
    links: HashMap<ThreadRef, Neighbours>,
}

#[derive(Clone, Copy, Debug)]
struct Neighbours {
    prev: Option<ThreadRef>,
    next: Option<ThreadRef>,
}

impl RefList {
    pub(crate) fn len(&self) -> usize {
        self.links.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.links.is_empty()
    }

    pub(crate) fn first(&self) -> Option<ThreadRef> {
        self.head
    }

    /// Puts `r` first (moving it there if it is in the list already).
    pub(crate) fn push_front(&mut self, r: ThreadRef) {
        self.remove(r);
        let next = self.head;
        self.links.insert(r, Neighbours { prev: None, next });
        match next.and_then(|n| self.links.get_mut(&n)) {
            Some(n) => n.prev = Some(r),
            None => self.tail = Some(r),
        }
        self.head = Some(r);
    }

    /// Puts `r` last (moving it there if it is in the list already).
    pub(crate) fn push_back(&mut self, r: ThreadRef) {
        self.remove(r);
        let prev = self.tail;
        self.links.insert(r, Neighbours { prev, next: None });
        match prev.and_then(|p| self.links.get_mut(&p)) {
            Some(p) => p.next = Some(r),
            None => self.head = Some(r),
        }
        self.tail = Some(r);
    }

    /// Takes `r` out; returns whether it was in.
    pub(crate) fn remove(&mut self, r: ThreadRef) -> bool {
        let Some(n) = self.links.remove(&r) else {
            return false;
        };
        match n.prev.and_then(|p| self.links.get_mut(&p)) {
            Some(p) => p.next = n.next,
            None => self.head = n.next,
        }
        match n.next.and_then(|x| self.links.get_mut(&x)) {
            Some(x) => x.prev = n.prev,
            None => self.tail = n.prev,
        }
        true
    }

    /// The entries, first to last.
    pub(crate) fn iter(&self) -> impl Iterator<Item = ThreadRef> + '_ {
        std::iter::successors(self.head, |r| self.links.get(r).and_then(|n| n.next))
    }
}

/// One thread.
#[derive(Clone, Debug, Default)]
pub struct Thread {
    /// Thread id.
    pub tid: i64,
    /// Process id (thread-group id), `-1` when unknown.
    pub pid: i64,
    /// Parent thread id, `-1` when unknown.
    pub ptid: i64,
    /// Thread id in its pid namespace.
    pub vtid: i64,
    /// Process id in its pid namespace.
    pub vpid: i64,
    /// Command name.
    pub comm: Vec<u8>,
    /// Executable as invoked (`argv[0]`).
    pub exe: Vec<u8>,
    /// Full executable path, if known.
    pub exepath: Vec<u8>,
    /// Arguments (after `argv[0]`).
    pub args: Vec<Vec<u8>>,
    /// Environment (main threads).
    pub env: Vec<Vec<u8>>,
    /// Working directory (main threads), ending with `/`.
    pub cwd: Vec<u8>,
    /// User id.
    pub uid: u32,
    /// User name, as resolved when the uid was set (empty: unknown).
    pub user_name: Vec<u8>,
    /// Group id.
    pub gid: u32,
    /// Group name, as resolved when the gid was set.
    pub group_name: Vec<u8>,
    /// Login uid.
    pub loginuid: u32,
    /// Controlling terminal (0: none).
    pub tty: u32,
    /// Time of the clone that created the thread (0: existed before the capture).
    pub clone_ts: u64,
    /// Time of the last successful execve.
    pub lastexec_ts: u64,
    /// `cl::*` flags.
    pub flags: u32,
    /// Container id (`""`: host).
    pub container_id: String,
    /// cgroups, `subsys=path`.
    pub cgroups: Vec<Vec<u8>>,
    /// Reaper chosen at exit, if any.
    pub reaper_tid: i64,
    /// Own fd table (used when the thread does not share its process's table).
    pub fds: FdTable,
    /// The fds below [`INHERITED_FDS`] of `fds` that were copied from the parent's table
    /// at the clone and not made since by this process (bit n: fd n).
    pub(crate) inherited_fds: u128,
    pub(crate) serial: u64,
    pub(crate) group: Option<u64>,
    pub(crate) children: RefList,
}

impl Thread {
    /// A thread the capture knows nothing about yet (pid and ptid unknown).
    pub fn unknown(tid: i64) -> Self {
        Thread {
            tid,
            pid: -1,
            ptid: -1,
            vtid: -1,
            vpid: -1,
            comm: b"<NA>".to_vec(),
            exe: b"<NA>".to_vec(),
            uid: u32::MAX,
            gid: u32::MAX,
            loginuid: u32::MAX,
            reaper_tid: -1,
            ..Default::default()
        }
    }

    /// Whether this is its process's main thread.
    pub fn is_main(&self) -> bool {
        self.tid == self.pid || self.flags & cl::IS_MAIN_THREAD != 0
    }

    /// Whether tid, pid or ptid is unknown.
    pub fn is_invalid(&self) -> bool {
        self.tid < 0 || self.pid < 0 || self.ptid < 0
    }

    /// Whether the thread exited.
    pub fn is_dead(&self) -> bool {
        self.flags & cl::CLOSED != 0
    }

    /// Whether the thread lives in a pid namespace.
    pub fn in_pid_namespace(&self) -> bool {
        self.flags & cl::CHILD_IN_PIDNS != 0 || (self.tid != self.vtid && self.vtid >= 0)
    }

    /// The user name SysFlow reports: the resolved name, else `root` for uid 0, else `<NA>`.
    pub fn user_name(&self) -> &[u8] {
        name_or_fallback(&self.user_name, self.uid)
    }

    /// The group name SysFlow reports.
    pub fn group_name(&self) -> &[u8] {
        name_or_fallback(&self.group_name, self.gid)
    }
}

fn name_or_fallback(name: &[u8], id: u32) -> &[u8] {
    if !name.is_empty() {
        name
    } else if id == 0 {
        b"root"
    } else {
        b"<NA>"
    }
}

#[derive(Clone, Debug)]
struct Group {
    alive: u64,
    /// Threads of the group; the main thread, when known, first, then by the time they
    /// joined.
    threads: RefList,
    reaper: bool,
}

/// Threads by tid, with their groups.
#[derive(Clone, Debug, Default)]
pub struct Threads {
    map: HashMap<i64, Thread>,
    groups: HashMap<u64, Group>,
    group_of_pid: HashMap<i64, u64>,
    next_serial: u64,
    /// Parent links refused (or broken) because they would have closed a loop, since
    /// the owner last took the count ([`Threads::take_refused_links`]).
    refused_links: u64,
    /// Removals from the thread and children lists (tests; each is O(1): a [`RefList`]
    /// links its entries through a map).
    #[cfg(test)]
    pub(crate) list_removals: u64,
}

impl Threads {
    /// Number of threads.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Whether some known thread runs in container `id` (its short id).
    pub fn any_in_container(&self, id: &str) -> bool {
        self.map.values().any(|t| t.container_id == id)
    }

    /// The serial of the latest thread object: every thread added later has a greater
    /// one (a tid reused by a new thread is a new object).
    pub(crate) fn last_serial(&self) -> u64 {
        self.next_serial
    }

    /// A thread by tid.
    pub fn get(&self, tid: i64) -> Option<&Thread> {
        self.map.get(&tid)
    }

    /// A thread by tid, mutably.
    pub fn get_mut(&mut self, tid: i64) -> Option<&mut Thread> {
        self.map.get_mut(&tid)
    }

    /// Every thread (unordered).
    pub fn iter(&self) -> impl Iterator<Item = &Thread> {
        self.map.values()
    }

    fn alive(&self, r: ThreadRef) -> Option<&Thread> {
        self.map.get(&r.0).filter(|t| t.serial == r.1)
    }

    /// The main thread of `tid`'s process, if known.
    pub fn main_of(&self, tid: i64) -> Option<&Thread> {
        let t = self.map.get(&tid)?;
        if t.is_main() {
            return Some(t);
        }
        let g = self.groups.get(&t.group?)?;
        let first = self.alive(g.threads.first()?)?;
        first.is_main().then_some(first)
    }

    /// The tid of the main thread of `tid`'s process, if known.
    pub fn main_tid(&self, tid: i64) -> Option<i64> {
        self.main_of(tid).map(|t| t.tid)
    }

    /// The parent thread (no creation).
    pub fn parent_of(&self, tid: i64) -> Option<&Thread> {
        let t = self.map.get(&tid)?;
        self.map.get(&t.ptid)
    }

    /// The tid whose fd table `tid` uses.
    pub fn fd_owner(&self, tid: i64) -> Option<i64> {
        let t = self.map.get(&tid)?;
        if t.flags & cl::CLONE_FILES == 0 {
            Some(tid)
        } else {
            self.main_tid(tid)
        }
    }

    /// The fd table `tid` uses.
    pub fn fds(&self, tid: i64) -> Option<&FdTable> {
        let owner = self.fd_owner(tid)?;
        self.map.get(&owner).map(|t| &t.fds)
    }

    /// Whether fd of `tid`'s table is one copied from its parent's at the clone and not
    /// made since (fds below [`INHERITED_FDS`]).
    pub fn fd_inherited(&self, tid: i64, fd: i64) -> bool {
        let Some(t) = self.fd_owner(tid).and_then(|o| self.map.get(&o)) else {
            return false;
        };
        (0..INHERITED_FDS).contains(&fd) && t.inherited_fds & (1 << fd) != 0
    }

    /// Forgets that fd of `tid`'s table was copied at the clone (the process made it).
    pub(crate) fn fd_made(&mut self, tid: i64, fd: i64) {
        if let Some(t) = self.fd_owner(tid).and_then(|o| self.map.get_mut(&o))
            && (0..INHERITED_FDS).contains(&fd)
        {
            t.inherited_fds &= !(1 << fd);
        }
    }

    /// The fd table `tid` uses, mutably.
    pub fn fds_mut(&mut self, tid: i64) -> Option<&mut FdTable> {
        let owner = self.fd_owner(tid)?;
        self.map.get_mut(&owner).map(|t| &mut t.fds)
    }

    /// The working directory of `tid`: its main thread's, or `./` without one.
    pub fn cwd(&self, tid: i64) -> Vec<u8> {
        match self.main_of(tid) {
            Some(m) => m.cwd.clone(),
            None => b"./".to_vec(),
        }
    }

    /// Adds a thread (replacing any thread with the same tid). Threads from the capture's
    /// process list are linked later by [`Threads::link_all`].
    pub fn add(&mut self, mut t: Thread, link: bool) -> i64 {
        self.next_serial += 1;
        t.serial = self.next_serial;
        t.group = None;
        // A thread already held under this tid (a clone's child side for a thread the
        // process list gave) leaves its group and its parent's children, so that
        // neither keeps counting it; its children stay its tid's.
        let (children, left) = self.detach(t.tid).unwrap_or_default();
        t.children = children;
        let tid = t.tid;
        self.map.insert(tid, t);
        if link {
            self.link(tid);
        }
        self.end_group_if_gone(left);
        tid
    }

    /// Sets the process id of thread `tid` (an exec names it); a linked thread whose pid
    /// changes moves to its new process's group (and stays its parent's child), so that
    /// the old group does not keep counting it.
    pub fn set_pid(&mut self, tid: i64, pid: i64) {
        let Some(t) = self.map.get_mut(&tid) else {
            return;
        };
        if t.pid == pid || pid < 0 {
            // (an unknown pid keeps the one held)
            return;
        }
        if t.group.is_none() {
            t.pid = pid;
            return;
        }
        let (children, left) = self.detach(tid).unwrap_or_default();
        if let Some(t) = self.map.get_mut(&tid) {
            t.pid = pid;
            t.children = children;
        }
        self.link(tid);
        self.end_group_if_gone(left);
    }

    /// Takes the thread held under `tid`, if any, out of its group (no longer counted
    /// alive there) and out of its parent's children; returns its children and the
    /// group it left (with its process id), which the caller ends with
    /// [`Threads::end_group_if_gone`] once the thread is linked again (it may rejoin
    /// it). The thread stays in the map, to be replaced or relinked.
    fn detach(&mut self, tid: i64) -> Option<(RefList, Option<(u64, i64)>)> {
        self.remove_from_parent(tid);
        let t = self.map.get_mut(&tid)?;
        let (r, pid, dead) = ((t.tid, t.serial), t.pid, t.is_dead());
        let children = std::mem::take(&mut t.children);
        let mut left = None;
        if let Some(gid) = t.group.take()
            && let Some(g) = self.groups.get_mut(&gid)
        {
            if !dead {
                g.alive = g.alive.saturating_sub(1);
            }
            g.threads.remove(r);
            left = Some((gid, pid));
        }
        Some((children, left))
    }

    /// Ends group `gid` of process `pid` if no thread of it is alive any more: the
    /// whole process is gone, with its main thread (and fd table) if that thread is
    /// still the group's (a tid of another process may hold that number now).
    fn end_group_if_gone(&mut self, left: Option<(u64, i64)>) {
        let Some((gid, pid)) = left else { return };
        if self.groups.get(&gid).is_none_or(|g| g.alive > 0) {
            return;
        }
        if self.map.get(&pid).is_some_and(|m| m.group == Some(gid)) {
            self.remove_from_parent(pid);
            self.map.remove(&pid);
        }
        if self.group_of_pid.get(&pid) == Some(&gid) {
            self.group_of_pid.remove(&pid);
        }
        self.groups.remove(&gid);
    }

    /// Links every thread to its group and parent (after loading a process list).
    pub fn link_all(&mut self) {
        let mut tids: Vec<i64> = self.map.keys().copied().collect();
        tids.sort_unstable();
        for tid in tids {
            self.link(tid);
        }
    }

    /// Parent links refused or broken since the last call because they would have made
    /// a thread or a process its own ancestor (see [`Threads::link`]); the count restarts.
    pub fn take_refused_links(&mut self) -> u64 {
        std::mem::take(&mut self.refused_links)
    }

    /// Whether `parent` becoming the parent of thread `tid` would close a loop, in
    /// either walk up the tree the state's users make:
    /// - threads: `tid` is `parent` or one of its ancestors (parent thread after parent
    ///   thread: reapers, the filter's `proc.aname`);
    /// - processes, when `tid`'s parent is its process's parent (a main thread, or a
    ///   thread whose process has no main thread held): `tid`'s process is `parent`'s or
    ///   one above it (main thread, its parent thread, that thread's main thread, ...: the
    ///   aggregator's parent processes).
    ///
    /// Each walk stops after as many steps as there are threads: a longer walk would be
    /// going round a loop already there, and is refused as well.
    fn closes_loop(&self, tid: i64, parent: i64) -> bool {
        let Some(t) = self.map.get(&tid) else {
            return false;
        };
        let limit = self.map.len();
        let mut cur = self.map.get(&parent);
        let mut steps = 0;
        while let Some(p) = cur {
            if p.tid == tid || steps > limit {
                return true;
            }
            steps += 1;
            cur = self.map.get(&p.ptid);
        }
        let pid = t.pid;
        let process_link = t.is_main() || self.map.get(&pid).is_none_or(|m| m.pid != pid);
        if !process_link || pid <= 0 {
            return false;
        }
        let main_or_self = |t: i64| self.main_of(t).or_else(|| self.map.get(&t));
        let mut cur = main_or_self(parent);
        steps = 0;
        while let Some(m) = cur {
            if m.tid == tid || m.pid == pid || steps > limit {
                return true;
            }
            steps += 1;
            cur = main_or_self(m.ptid);
        }
        false
    }

    /// Makes the thread's parent unknown (0), out of its parent's children list: a link
    /// that would close a loop (counted).
    fn refuse_parent(&mut self, tid: i64) {
        self.remove_from_parent(tid);
        if let Some(t) = self.map.get_mut(&tid) {
            t.ptid = 0;
        }
        self.refused_links += 1;
    }

    /// Puts a thread in its group and under its parent; an unknown parent makes ptid 0.
    ///
    /// Damaged or hostile input (a capture's process list, clone events, pid reuse) can
    /// name a parent that would close a loop: a process its own ancestor. Such a link is
    /// refused, the thread's parent becoming unknown (0), and counted
    /// ([`Threads::take_refused_links`]); so is the parent link of a process that a new
    /// thread joining it would make its own ancestor (its main thread's parent thread
    /// being that thread's previous holder of the tid). Every walk up the tree therefore
    /// ends.
    pub fn link(&mut self, tid: i64) {
        let Some(t) = self.map.get(&tid) else { return };
        let refused = self.map.contains_key(&t.ptid) && self.closes_loop(tid, t.ptid);
        if refused {
            // (also when the thread stays unlinked: its ptid is still walked)
            self.refuse_parent(tid);
        }
        let Some(t) = self.map.get(&tid) else { return };
        if t.is_invalid() || t.group.is_some() {
            return;
        }
        let (pid, vpid, ptid, main, r) = (t.pid, t.vpid, t.ptid, t.is_main(), (t.tid, t.serial));
        // (a thread whose exit was seen joins its group dead: nothing counts it alive)
        let alive = u64::from(!t.is_dead());
        let gid = match self.group_of_pid.get(&pid).copied() {
            Some(g) if self.groups.contains_key(&g) => {
                let g2 = self.groups.get_mut(&g).expect("checked");
                if main {
                    g2.threads.push_front(r);
                } else {
                    g2.threads.push_back(r);
                }
                g2.alive += alive;
                g
            }
            _ => {
                self.next_serial += 1;
                let g = self.next_serial;
                let mut threads = RefList::default();
                threads.push_back(r);
                self.groups.insert(
                    g,
                    Group {
                        alive,
                        threads,
                        reaper: pid == 1 || vpid == 1,
                    },
                );
                self.group_of_pid.insert(pid, g);
                g
            }
        };
        self.map.get_mut(&tid).expect("present").group = Some(gid);
        if !main
            && let Some((m, mptid)) = self
                .main_of(tid)
                .filter(|m| m.tid != tid)
                .map(|m| (m.tid, m.ptid))
            && self.map.contains_key(&mptid)
            && self.closes_loop(m, mptid)
        {
            // the process's own parent link went through this thread's tid (its previous
            // holder's)
            self.refuse_parent(m);
        }
        if pid == 1 || refused {
            return;
        }
        let parent_ok = self.map.get(&ptid).is_some_and(|p| !p.is_invalid());
        if !parent_ok {
            self.map.get_mut(&tid).expect("present").ptid = 0;
            return;
        }
        self.attach_child(ptid, r);
    }

    /// Puts `child` under `parent` unless that would close a loop (then its parent
    /// becomes unknown, counted).
    fn add_child(&mut self, parent: i64, child: ThreadRef) {
        if self.alive(child).is_some() && self.closes_loop(child.0, parent) {
            self.refuse_parent(child.0);
            return;
        }
        self.attach_child(parent, child);
    }

    fn attach_child(&mut self, parent: i64, child: ThreadRef) {
        if let Some(p) = self.map.get_mut(&parent) {
            p.children.push_front(child);
        }
        if let Some(c) = self.map.get_mut(&child.0).filter(|c| c.serial == child.1) {
            c.ptid = parent;
        }
    }

    /// Marks a thread dead (its exit was seen); it is removed later.
    pub fn mark_dead(&mut self, tid: i64, reaper_tid: Option<i64>) {
        let Some(t) = self.map.get_mut(&tid) else {
            return;
        };
        let was_dead = t.is_dead();
        t.flags |= cl::CLOSED;
        let group = t.group;
        let has_children = !t.children.is_empty();
        if has_children {
            t.reaper_tid = reaper_tid.unwrap_or(-1);
        }
        if !was_dead && let Some(g) = group.and_then(|g| self.groups.get_mut(&g)) {
            g.alive = g.alive.saturating_sub(1);
        }
    }

    /// Brings a dead thread back (an execve by a thread whose exit was seen).
    pub fn resurrect(&mut self, tid: i64) {
        let Some(t) = self.map.get_mut(&tid) else {
            return;
        };
        if !t.is_dead() {
            return;
        }
        t.flags &= !cl::CLOSED;
        if let Some(g) = t.group.and_then(|g| self.groups.get_mut(&g)) {
            g.alive += 1;
        }
    }

    fn remove_from_parent(&mut self, tid: i64) {
        let Some(t) = self.map.get(&tid) else { return };
        let (ptid, r) = (t.ptid, (t.tid, t.serial));
        if let Some(p) = self.map.get_mut(&ptid) {
            #[cfg(test)]
            {
                self.list_removals += 1;
            }
            p.children.remove(r);
        }
    }

    /// Whether `tid` is `ancestor` or below it (parent thread after parent thread;
    /// a walk going round a loop already there ends).
    fn is_below(&self, tid: i64, ancestor: i64) -> bool {
        let mut cur = self.map.get(&tid);
        let mut steps = 0;
        while let Some(t) = cur {
            if t.tid == ancestor {
                return true;
            }
            steps += 1;
            if steps > self.map.len() {
                return false;
            }
            cur = self.map.get(&t.ptid);
        }
        false
    }

    fn find_new_reaper(&self, tid: i64) -> Option<i64> {
        let t = self.map.get(&tid)?;
        if let Some(g) = t.group.and_then(|g| self.groups.get(&g)) {
            for r in g.threads.iter() {
                if let Some(o) = self.alive(r)
                    && !o.is_dead()
                    && o.tid != tid
                {
                    return Some(o.tid);
                }
            }
        }
        let mut seen = vec![tid];
        let ns = t.in_pid_namespace();
        let mut cur = self.map.get(&t.ptid);
        while let Some(p) = cur {
            if seen.contains(&p.tid) {
                break;
            }
            seen.push(p.tid);
            if p.in_pid_namespace() != ns {
                break;
            }
            if let Some(g) = p.group.and_then(|g| self.groups.get(&g))
                && g.reaper
                && g.alive > 0
            {
                for r in g.threads.iter() {
                    if let Some(o) = self.alive(r)
                        && !o.is_dead()
                    {
                        return Some(o.tid);
                    }
                }
            }
            cur = self.map.get(&p.ptid);
        }
        None
    }

    /// Removes a thread: re-parents its children, and removes its process's main thread
    /// too when it was the last one alive. Returns the tids whose fd tables were dropped.
    pub fn remove(&mut self, tid: i64) {
        let Some(t) = self.map.get(&tid) else { return };
        if t.is_invalid() || t.group.is_none() {
            self.remove_from_parent(tid);
            self.map.remove(&tid);
            return;
        }
        let gid = t.group.expect("checked");
        if !t.is_dead() {
            if let Some(g) = self.groups.get_mut(&gid) {
                g.alive = g.alive.saturating_sub(1);
            }
            if let Some(t) = self.map.get_mut(&tid) {
                t.flags |= cl::CLOSED;
            }
        }
        let t = self.map.get(&tid).expect("present");
        if !t.children.is_empty() {
            let pid = t.pid;
            let mut reaper = None;
            if t.reaper_tid > 0 {
                reaper = self
                    .map
                    .get(&t.reaper_tid)
                    .filter(|r| !r.is_invalid())
                    .map(|r| r.tid);
            }
            if let Some(rt) = reaper
                && self.is_below(rt, tid)
            {
                // a reaper the exit named below the dead thread: its children would be
                // their own ancestors (damaged input; the kernel reaps upwards)
                self.refused_links += 1;
                reaper = None;
            }
            if reaper.is_none() {
                reaper = self.find_new_reaper(tid);
            }
            let dying_ptid = self.map.get(&tid).expect("present").ptid;
            let children = std::mem::take(&mut self.map.get_mut(&tid).expect("present").children);
            if let Some(rt) = reaper {
                self.map.get_mut(&tid).expect("present").reaper_tid = rt;
                if let Some(r) = self.map.get(&rt)
                    && r.pid != pid
                    && let Some(g) = r.group.and_then(|g| self.groups.get_mut(&g))
                {
                    g.reaper = true;
                }
            }
            for c in children.iter() {
                if self.alive(c).is_none() {
                    continue;
                }
                // A thread of the dying thread's own process, held as its child (a
                // process list names a thread's main thread as its parent), can be the
                // one its siblings go to: it is not its own parent. It takes the dying
                // thread's parent, as the kernel has every thread's parent be its
                // process's; not damaged input, so not counted.
                let parent = match reaper {
                    Some(rt) if rt == c.0 => Some(dying_ptid)
                        .filter(|&p| p > 0 && self.map.get(&p).is_some_and(|p| !p.is_invalid())),
                    r => r,
                };
                match parent {
                    Some(p) => self.add_child(p, c),
                    None => {
                        if let Some(ct) = self.map.get_mut(&c.0) {
                            ct.ptid = 0;
                        }
                    }
                }
            }
        }
        let t = self.map.get(&tid).expect("present");
        let (pid, main) = (t.pid, t.is_main());
        let alive = self.groups.get(&gid).map(|g| g.alive).unwrap_or(0);
        if alive == 0 {
            // The whole process is gone: drop its main thread (and fd table).
            self.end_group_if_gone(Some((gid, pid)));
        }
        if !main {
            self.remove_from_parent(tid);
            if let Some(serial) = self.map.remove(&tid).map(|t| t.serial)
                && let Some(g) = self.groups.get_mut(&gid)
            {
                // the process's thread list shrinks with its threads (a long-lived
                // process starting short-lived threads would otherwise keep one entry
                // per thread it ever had)
                #[cfg(test)]
                {
                    self.list_removals += 1;
                }
                g.threads.remove((tid, serial));
            }
        }
    }

    /// Number of thread groups (processes) with at least one thread held.
    pub fn groups_len(&self) -> usize {
        self.groups.len()
    }

    /// Entries of every process's thread list (live and dead threads still held): what
    /// [`Threads::remove`] keeps equal to the number of threads held in groups.
    pub fn group_entries(&self) -> usize {
        self.groups.values().map(|g| g.threads.len()).sum()
    }

    /// The parent lists' entries (every held thread's `children`).
    pub fn child_entries(&self) -> usize {
        self.map.values().map(|t| t.children.len()).sum()
    }

    /// Threads of the group of `tid` (live, excluding `tid`'s process main thread if asked).
    pub fn group_members(&self, tid: i64) -> Vec<i64> {
        let Some(g) = self
            .map
            .get(&tid)
            .and_then(|t| t.group)
            .and_then(|g| self.groups.get(&g))
        else {
            return Vec::new();
        };
        g.threads
            .iter()
            .filter_map(|r| self.alive(r).map(|t| t.tid))
            .collect()
    }

    /// Number of live threads in `tid`'s group.
    pub fn group_alive(&self, tid: i64) -> u64 {
        self.map
            .get(&tid)
            .and_then(|t| t.group)
            .and_then(|g| self.groups.get(&g))
            .map(|g| g.alive)
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ref_list_keeps_its_order_through_removals_anywhere() {
        let mut l = RefList::default();
        for i in 1..=5 {
            l.push_back((i, 0));
        }
        l.push_front((0, 0));
        let tids = |l: &RefList| l.iter().map(|r| r.0).collect::<Vec<_>>();
        assert_eq!(tids(&l), [0, 1, 2, 3, 4, 5]);
        assert!(l.remove((3, 0)) && l.remove((0, 0)) && l.remove((5, 0)));
        assert!(!l.remove((3, 0)) && !l.remove((1, 1)));
        assert_eq!(tids(&l), [1, 2, 4]);
        assert_eq!((l.first(), l.len()), (Some((1, 0)), 3));
        // an entry pushed again moves
        l.push_back((1, 0));
        l.push_front((4, 0));
        assert_eq!(tids(&l), [4, 2, 1]);
        for r in [(2, 0), (4, 0), (1, 0)] {
            l.remove(r);
        }
        assert!(l.is_empty() && l.first().is_none() && l.iter().next().is_none());
        l.push_front((7, 0));
        l.push_back((8, 0));
        assert_eq!(tids(&l), [7, 8]);
    }

    /// A thread whose exit was seen before it was linked (a placeholder parent the
    /// capture learned of late) joins its group without counting as alive, so its
    /// process can end; a live one counts.
    #[test]
    fn a_thread_linked_after_its_exit_is_not_counted_alive() {
        let mut ts = Threads::default();
        let thread = |tid, pid| Thread {
            tid,
            pid,
            ptid: 1,
            ..Default::default()
        };
        ts.add(thread(20, 20), false);
        ts.mark_dead(20, None);
        ts.link(20);
        assert_eq!(ts.group_alive(20), 0);
        ts.add(thread(21, 20), false);
        ts.link(21);
        assert_eq!(ts.group_alive(20), 1);
        ts.add(thread(22, 20), false);
        ts.mark_dead(22, None);
        ts.link(22);
        assert_eq!(ts.group_alive(22), 1, "only thread 21 is alive");
    }
}
