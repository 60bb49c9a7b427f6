//! Reconciliation of the thread table with `/proc` (live capture): threads whose exit the
//! capture lost (a full ring buffer, or a process that ended while the probe was being
//! attached) would otherwise stay in the state for ever, with their fd tables, their
//! process's aggregator entry and its open flows.
//!
//! A pass compares the threads the state holds with a [`ProcListing`] (one readdir of
//! `<host_root>/proc`, then `task/` and `stat` of each process the state holds). A live
//! thread missing from it is a *suspect*; a suspect still held, as the same thread object,
//! and still missing at the next pass is *lost*: [`State::reconcile`] returns it, and the
//! caller feeds [`State::exit_event`] for it through the normal event path, so the state
//! and the aggregator make exactly the transitions of a real exit (flows written with
//! their exit, the process deleted a second after its main thread). Two passes apart
//! (the live loop runs one every 30 s), an exit still in flight in the ring buffer has
//! long arrived; an exit seen in between removes the thread normally.
//!
//! Pid reuse: a process's start time in `/proc/<pid>/stat` (field 22, clock ticks since
//! boot) later than the creation time the state holds for its main thread (`clone_ts`,
//! the kernel's exact start time) means the pid now names another process: every thread
//! the state holds for the old one is gone. Threads created before the capture with no
//! known creation time (`clone_ts` 0) are checked by presence only. A non-main tid is
//! looked for in its own process's `task/` directory, so a tid reused by another process
//! counts as gone; a tid reused by a new thread of the same process (whose clone the
//! capture also lost) cannot be told apart and stays (it is that process's thread anyway).
//! A zombie group leader (`Z`/`X` in `stat`) has exited: its exit is the one lost.
//!
//! Staleness: the live loop never reads `/proc` itself. It takes the targets
//! ([`State::reconcile_targets`]), a reader thread lists them ([`ProcListing::read`]), and
//! the loop applies the listing when it comes back ([`State::reconcile`]), having applied
//! events meanwhile. A listing therefore judges only the threads its targets covered: those
//! held when the targets were taken (by serial) and looked for (their pid, or their tid
//! for a thread of unknown process). See [`State::reconcile`] for why this keeps the rule
//! above.

use super::State;
use crate::event::{EventKind, SysEvent};
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// The exit status of a synthesized exit ([`State::exit_event`]): the real one is unknown
/// (real statuses are non-negative wait statuses).
pub const UNKNOWN_EXIT_STATUS: i64 = -1;

/// How much later than the held creation time a process in `/proc` may have started and
/// still be the same process: `/proc` rounds start times down to a clock tick (10 ms);
/// anything beyond this slack is a new process under a reused pid.
pub const START_SLACK_NS: u64 = 100_000_000;

/// Clock ticks per second of `/proc/<pid>/stat` times (`USER_HZ`).
const USER_HZ: u64 = 100;

#[derive(Clone, Debug, Default)]
struct Listed {
    /// Start time (epoch ns), if `stat` was read.
    start_ns: Option<u64>,
    /// The group leader is a zombie: it has exited.
    zombie_leader: bool,
    tids: HashSet<i64>,
}

/// What a [`ProcListing`] must cover for [`State::reconcile`], taken from the state at
/// one instant ([`State::reconcile_targets`]): the processes of the threads held, the
/// threads of unknown processes (by tid), and which thread objects existed then.
#[derive(Clone, Debug)]
pub struct ReconcileTargets {
    /// Processes of the threads held.
    pub pids: HashSet<i64>,
    /// Threads of unknown processes (placeholders), by tid.
    pub loose: Vec<i64>,
    /// The serial of the latest thread object held: later ones were created after the
    /// targets were taken.
    held_up_to: u64,
}

/// What `/proc` lists of the processes a [`State`] holds: for each process present, its
/// threads, its start time and whether its leader has exited; plus which of some loose
/// tids (threads of an unknown process) exist.
#[derive(Clone, Debug, Default)]
pub struct ProcListing {
    procs: HashMap<i64, Listed>,
    loose: HashSet<i64>,
    /// What the listing looked for, when read from targets: only the threads these
    /// cover are judged ([`State::reconcile`]). A listing made by hand judges every
    /// thread.
    asked: Option<Asked>,
}

#[derive(Clone, Debug, Default)]
struct Asked {
    pids: HashSet<i64>,
    loose: HashSet<i64>,
    held_up_to: u64,
}

/// Numeric entries of a directory (pids, tids).
fn numeric_entries(dir: &Path) -> std::io::Result<HashSet<i64>> {
    Ok(std::fs::read_dir(dir)?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect())
}

/// (state, start time in clock ticks) from a `/proc/<pid>/stat` line.
fn stat_fields(stat: &[u8]) -> Option<(u8, u64)> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    let mut f = stat[close + 1..]
        .split(|&b| b == b' ')
        .filter(|s| !s.is_empty());
    let state = *f.next()?.first()?;
    // after the state: ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
    // cmajflt utime stime cutime cstime priority nice num_threads itrealvalue starttime
    let start = std::str::from_utf8(f.nth(18)?).ok()?.parse().ok()?;
    Some((state, start))
}

impl ProcListing {
    /// Reads `proc_root` (the host's `/proc`) for `targets`: which of their processes
    /// exist, their threads (`task/`), their start time (`stat`, converted by
    /// `boot_to_epoch` from boot-time ns to the epoch ns the state's times use), and which
    /// of their loose tids exist. Only the listing of `proc_root` itself can fail; a
    /// process that ends while being read is absent. Needs no state: it can run on
    /// another thread while the state goes on.
    pub fn read(
        proc_root: &Path,
        targets: ReconcileTargets,
        boot_to_epoch: &dyn Fn(u64) -> u64,
    ) -> std::io::Result<Self> {
        let present = numeric_entries(proc_root)?;
        let ReconcileTargets {
            pids,
            loose,
            held_up_to,
        } = targets;
        let mut out = ProcListing::default();
        for &pid in pids.iter().filter(|p| present.contains(p)) {
            let base = proc_root.join(pid.to_string());
            let Ok(tids) = numeric_entries(&base.join("task")) else {
                continue;
            };
            let stat = std::fs::read(base.join("stat"))
                .ok()
                .and_then(|s| stat_fields(&s));
            out.procs.insert(
                pid,
                Listed {
                    start_ns: stat
                        .map(|(_, ticks)| boot_to_epoch(ticks * (1_000_000_000 / USER_HZ))),
                    zombie_leader: stat.is_some_and(|(s, _)| s == b'Z' || s == b'X'),
                    tids,
                },
            );
        }
        for &tid in &loose {
            // a lookup finds any thread, not only group leaders
            if present.contains(&tid) || proc_root.join(tid.to_string()).exists() {
                out.loose.insert(tid);
            }
        }
        out.asked = Some(Asked {
            pids,
            loose: loose.into_iter().collect(),
            held_up_to,
        });
        Ok(out)
    }

    /// Whether the listing can judge thread `t`: it was held when the targets were
    /// taken, and looked for.
    fn covers(&self, t: &super::Thread) -> bool {
        let Some(a) = &self.asked else {
            return true;
        };
        t.serial <= a.held_up_to
            && if t.pid > 0 {
                a.pids.contains(&t.pid)
            } else {
                a.loose.contains(&t.tid)
            }
    }

    /// Records a process as present with its threads and start time (tests, tools).
    pub fn add_process(
        &mut self,
        pid: i64,
        start_ns: Option<u64>,
        tids: impl IntoIterator<Item = i64>,
    ) {
        self.procs.insert(
            pid,
            Listed {
                start_ns,
                zombie_leader: false,
                tids: tids.into_iter().collect(),
            },
        );
    }

    /// Marks a listed process's leader as a zombie (tests, tools).
    pub fn set_zombie_leader(&mut self, pid: i64) {
        if let Some(p) = self.procs.get_mut(&pid) {
            p.zombie_leader = true;
        }
    }

    /// Records a loose tid as present (tests, tools).
    pub fn add_loose(&mut self, tid: i64) {
        self.loose.insert(tid);
    }

    /// Number of processes listed.
    pub fn processes(&self) -> usize {
        self.procs.len()
    }
}

impl State {
    /// What a [`ProcListing`] must cover for [`State::reconcile`]: the processes of the
    /// live threads held, and the live threads of unknown processes (by tid), as they
    /// are now.
    pub fn reconcile_targets(&self) -> ReconcileTargets {
        let mut pids = HashSet::new();
        let mut loose = Vec::new();
        for t in self.threads.iter().filter(|t| !t.is_dead()) {
            if t.pid > 0 {
                pids.insert(t.pid);
            } else if t.tid > 0 {
                loose.push(t.tid);
            }
        }
        ReconcileTargets {
            pids,
            loose,
            held_up_to: self.threads.last_serial(),
        }
    }

    /// Whether the live thread `tid` is missing from `listing`.
    fn missing(&self, tid: i64, listing: &ProcListing) -> bool {
        let Some(t) = self.threads.get(tid) else {
            return false;
        };
        if t.pid <= 0 {
            return !listing.loose.contains(&tid);
        }
        let Some(p) = listing.procs.get(&t.pid) else {
            return true;
        };
        // the pid names another process now (its start is later than our process's)
        let held_start = self.threads.main_of(tid).map_or(0, |m| m.clone_ts);
        if held_start != 0
            && p.start_ns
                .is_some_and(|s| s > held_start.saturating_add(START_SLACK_NS))
        {
            return true;
        }
        if tid == t.pid && p.zombie_leader {
            return true;
        }
        !p.tids.contains(&tid)
    }

    /// One reconciliation pass against `listing`: returns the live threads missing from
    /// `/proc` now and at the previous pass (as the same thread object: a tid re-created
    /// in between is not lost), for the caller to feed [`State::exit_event`] for each, in
    /// the order returned (by process, its other threads before its main thread). Counted
    /// in [`State::reconciled_exits`].
    ///
    /// A thread is missing when its process is not listed, when its tid is not in its
    /// process's `task/`, when it is a zombie group leader, or when its process's start
    /// time in `/proc` is more than [`START_SLACK_NS`] after the creation time the state
    /// holds for the main thread (the pid was reused). Threads with no known process
    /// (placeholders) are looked up by tid.
    ///
    /// The threads of process `silent_pid` (the collector's own, which the capture never
    /// sees and never writes records about) are removed here without an exit event.
    ///
    /// The listing may be stale: read after its targets were taken, applied later still,
    /// the state having taken events in between. Only the threads its targets covered
    /// are judged (held when they were taken, and looked for); a thread born since, or a
    /// tid reused by a new thread since (a new object), is neither suspect nor lost at
    /// this pass, and a suspect that is not judged stops being one. Why the rule still
    /// holds:
    /// - a thread judged missing was held when the targets were taken, so it existed in
    ///   the kernel before the listing was read: its absence means it ended (or its pid
    ///   went to a process started later) before that read, not that the read came too
    ///   early;
    /// - a lost thread is the same object, judged missing at this pass and at the
    ///   previous one (the caller takes new targets only after applying the previous
    ///   listing, so a suspect still held is covered again): it ended before the previous
    ///   listing was read, a whole period (30 s live) before its exit is made up, and an
    ///   exit still in the ring buffer would have arrived and removed it by then;
    /// - a thread that ends between the read and the application, its exit applied in
    ///   between, is simply no longer held.
    pub fn reconcile(&mut self, listing: &ProcListing, silent_pid: i64) -> Vec<i64> {
        let missing: Vec<(i64, u64)> = self
            .threads
            .iter()
            .filter(|t| !t.is_dead() && listing.covers(t))
            .map(|t| (t.tid, t.serial))
            .filter(|&(tid, _)| self.missing(tid, listing))
            .collect();
        let before = std::mem::take(&mut self.suspects);
        let mut lost: Vec<(i64, bool, i64)> = Vec::new();
        for (tid, serial) in missing {
            if before.get(&tid) != Some(&serial) {
                self.suspects.insert(tid, serial);
                continue;
            }
            let t = self.threads.get(tid).expect("held");
            if t.pid == silent_pid {
                self.threads.remove(tid);
                continue;
            }
            lost.push((t.pid, t.is_main(), tid));
        }
        self.count_refused_links();
        // by process; the main thread last, as the kernel ends a group
        lost.sort_unstable();
        self.reconciled_exits += lost.len() as u64;
        lost.into_iter().map(|(_, _, tid)| tid).collect()
    }

    /// The exit event a reconciliation synthesizes for a lost thread: status
    /// [`UNKNOWN_EXIT_STATUS`], no reaper (the state picks one as for any exit).
    pub fn exit_event(tid: i64, ts: u64) -> SysEvent<'static> {
        SysEvent {
            ts,
            tid,
            pid: -1,
            kind: EventKind::Exit {
                status: UNKNOWN_EXIT_STATUS,
                reaper: None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_read_state_and_start_time() {
        let stat = b"4242 (a (weird) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 100";
        assert_eq!(stat_fields(stat), Some((b'S', 987654)));
        assert_eq!(stat_fields(b"1 (x) Z 0"), None);
    }
}
