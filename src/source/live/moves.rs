//! Cgroup moves that race an exec, put back in the order they took effect.
//!
//! A runtime starts a container's first process with vfork and exec (runc's `create`
//! runs `runc init`), and moves it into the container's cgroups as soon as the vfork
//! returns. The vfork returns at the exec's point of no return, while the exec is still
//! completing. The kernel reports the move (`cgroup_attach_task`, in the mover's context)
//! at once, and the exec at the syscall's exit, later: in ring order the process would
//! enter the container as its old image (a copy of the runtime) and become the new one
//! only afterwards, so its old image would be written as a process of the container.
//!
//! The probe marks a move whose task was inside an exec (`task->in_execve`). Such a move
//! is held until the next record of its thread:
//! - a successful exec: the exec goes through first. Its record reads the cgroups once
//!   the new image is in place (`sched_process_exec`) and reaches the ring a little
//!   later, so a move can fall between the two: the held moves up to the last one whose
//!   cgroups are the exec's own are dropped (the exec already says what they did),
//!   counted in [`super::LiveStats::moves_superseded_by_exec`]; later ones go through
//!   after the exec, in order;
//! - read/write counters (shipped at the exec, before its record): they go through and
//!   the moves keep waiting;
//! - anything else (a failed exec, the thread's exit, ...): the held moves go through
//!   first, in order, then the record.
//!
//! Bounds: a move waits at most [`HOLD_MAX`] (its exec record was lost, or the exec is
//! stuck), and at most [`HELD_MAX`] moves wait at once; past either, a move goes through
//! in ring order. A move of a thread group whose leader is not the thread that execs (an
//! exec from another thread) is not marked, and goes through in ring order.

use crate::event::{EventKind, SysEvent};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Longest a move waits for the next record of its thread.
pub(super) const HOLD_MAX: Duration = Duration::from_millis(500);
/// Most moves waiting at once.
pub(super) const HELD_MAX: usize = 256;

/// One move, owned (the ring's memory is reused once the record is consumed).
struct Held {
    ts: u64,
    tid: i64,
    pid: i64,
    threadgroup: bool,
    cgroups: Vec<u8>,
    since: Instant,
}

impl Held {
    fn event(&self) -> SysEvent<'_> {
        SysEvent {
            ts: self.ts,
            tid: self.tid,
            pid: self.pid,
            kind: EventKind::CgroupMove {
                cgroups: &self.cgroups,
                threadgroup: self.threadgroup,
            },
        }
    }
}

/// The moves held across an exec, oldest first.
#[derive(Default)]
pub(super) struct ExecMoves {
    held: VecDeque<Held>,
    /// Moves dropped because the exec that followed them carried their cgroups.
    pub(super) superseded: u64,
}

impl ExecMoves {
    /// Takes one decoded event. `moved_in_exec`: it is a cgroup move the probe marked as
    /// made during its task's exec. Delivers to `f` what can go now.
    pub(super) fn offer(
        &mut self,
        ev: &SysEvent<'_>,
        moved_in_exec: bool,
        now: Instant,
        f: &mut dyn FnMut(&SysEvent<'_>),
    ) {
        if let EventKind::CgroupMove {
            cgroups,
            threadgroup,
        } = ev.kind
            && moved_in_exec
            && self.held.len() < HELD_MAX
        {
            self.held.push_back(Held {
                ts: ev.ts,
                tid: ev.tid,
                pid: ev.pid,
                threadgroup,
                cgroups: cgroups.to_vec(),
                since: now,
            });
            return;
        }
        // an exec by a thread other than its group's leader takes the leader's id: its
        // event names the thread's id before the exec too
        let old_tid = match ev.kind {
            EventKind::Execve(e) => e.old_tid,
            _ => None,
        };
        let of_thread = |h: &Held| h.tid == ev.tid || Some(h.tid) == old_tid;
        if self.held.is_empty()
            || matches!(ev.kind, EventKind::IoCounters(_))
            || !self.held.iter().any(of_thread)
        {
            f(ev);
            return;
        }
        let exec_cgroups = match ev.kind {
            EventKind::Execve(e) if e.res >= 0 => Some(e.info.cgroups.unwrap_or_default()),
            _ => None,
        };
        let mut mine = Vec::new();
        let mut kept = VecDeque::with_capacity(self.held.len());
        for h in std::mem::take(&mut self.held) {
            if of_thread(&h) {
                mine.push(h);
            } else {
                kept.push_back(h);
            }
        }
        self.held = kept;
        let Some(cgroups) = exec_cgroups else {
            // the old image goes on (a failed exec) or ends: it moved before this event
            for h in &mine {
                f(&h.event());
            }
            f(ev);
            return;
        };
        // the moves the exec's cgroups already include: up to the last one they equal
        let seen = mine
            .iter()
            .rposition(|h| h.cgroups == cgroups)
            .map_or(0, |i| i + 1);
        self.superseded += seen as u64;
        f(ev);
        for h in &mine[seen..] {
            f(&h.event());
        }
    }

    /// Delivers the moves held since before `now - HOLD_MAX`, in order.
    pub(super) fn release_stale(&mut self, now: Instant, f: &mut dyn FnMut(&SysEvent<'_>)) {
        while let Some(h) = self.held.front() {
            if now.saturating_duration_since(h.since) < HOLD_MAX {
                break;
            }
            if let Some(h) = self.held.pop_front() {
                f(&h.event());
            }
        }
    }

    /// Delivers every held move, in order (the capture ends).
    pub(super) fn release_all(&mut self, f: &mut dyn FnMut(&SysEvent<'_>)) {
        for h in self.held.drain(..) {
            f(&h.event());
        }
    }

    /// Moves waiting now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.held.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{ExecveEvent, ProcInfo};

    const CG_IN: &[u8] = b"memory=/docker/x\0";
    const CG_HALF: &[u8] = b"memory=/other\0";

    fn mv(tid: i64, ts: u64) -> SysEvent<'static> {
        mv_to(tid, ts, CG_IN)
    }

    fn mv_to(tid: i64, ts: u64, cgroups: &'static [u8]) -> SysEvent<'static> {
        SysEvent {
            pid: -1,
            ts,
            tid,
            kind: EventKind::CgroupMove {
                cgroups,
                threadgroup: true,
            },
        }
    }

    fn exec(tid: i64, res: i64, cgroups: Option<&'static [u8]>) -> SysEvent<'static> {
        SysEvent {
            pid: -1,
            ts: 50,
            tid,
            kind: EventKind::Execve(ExecveEvent {
                res,
                info: ProcInfo {
                    cgroups,
                    ..Default::default()
                },
                env: None,
                tty: None,
                loginuid: None,
                exepath: None,
                filename: None,
                open_fds: None,
                old_tid: None,
            }),
        }
    }

    /// What reaches the consumer: (tid, "move" | "exec" | "other", ts).
    fn run(m: &mut ExecMoves, evs: &[(SysEvent<'static>, bool)]) -> Vec<(i64, &'static str, u64)> {
        let mut seen = Vec::new();
        let now = Instant::now();
        for (ev, in_exec) in evs {
            m.offer(ev, *in_exec, now, &mut |e| seen.push(describe(e)));
        }
        seen
    }

    fn describe(e: &SysEvent<'_>) -> (i64, &'static str, u64) {
        let what = match e.kind {
            EventKind::CgroupMove { .. } => "move",
            EventKind::Execve(_) => "exec",
            _ => "other",
        };
        (e.tid, what, e.ts)
    }

    #[test]
    fn a_move_during_a_successful_exec_gives_way_to_the_exec() {
        let mut m = ExecMoves::default();
        let seen = run(
            &mut m,
            &[
                (mv(7, 10), true),
                (mv(7, 11), true),
                (exec(7, 0, Some(CG_IN)), false),
            ],
        );
        assert_eq!(seen, [(7, "exec", 50)]);
        assert_eq!((m.superseded, m.len()), (2, 0));
        // a thread other than the leader execs: its event has the leader's id and names
        // the thread's own
        let mut by_thread = exec(5, 0, Some(CG_IN));
        if let EventKind::Execve(e) = &mut by_thread.kind {
            e.old_tid = Some(7);
        }
        let seen = run(&mut m, &[(mv(7, 12), true), (by_thread, false)]);
        assert_eq!(seen, [(5, "exec", 50)]);
        assert_eq!((m.superseded, m.len()), (3, 0));
    }

    #[test]
    fn a_move_during_a_failed_exec_goes_first_in_order() {
        let mut m = ExecMoves::default();
        let seen = run(
            &mut m,
            &[
                (mv(7, 10), true),
                (mv(7, 11), true),
                (exec(7, -2, None), false),
            ],
        );
        assert_eq!(seen, [(7, "move", 10), (7, "move", 11), (7, "exec", 50)]);
        assert_eq!(m.superseded, 0);
    }

    #[test]
    fn moves_the_exec_did_not_see_go_after_it() {
        // the exec read its cgroups between two moves: the first is superseded, the
        // second goes after the exec
        let mut m = ExecMoves::default();
        let seen = run(
            &mut m,
            &[
                (mv_to(7, 10, CG_HALF), true),
                (mv(7, 11), true),
                (exec(7, 0, Some(CG_HALF)), false),
            ],
        );
        assert_eq!(seen, [(7, "exec", 50), (7, "move", 11)]);
        assert_eq!(m.superseded, 1);
        // read before every move, or not at all: they all go after it
        let seen = run(
            &mut m,
            &[(mv(7, 12), true), (exec(7, 0, Some(CG_HALF)), false)],
        );
        assert_eq!(seen, [(7, "exec", 50), (7, "move", 12)]);
        let seen = run(&mut m, &[(mv(7, 13), true), (exec(7, 0, None), false)]);
        assert_eq!(seen, [(7, "exec", 50), (7, "move", 13)]);
        assert_eq!((m.superseded, m.len()), (1, 0));
    }

    #[test]
    fn other_threads_and_the_threads_counters_pass_a_held_move() {
        let mut m = ExecMoves::default();
        let counters = SysEvent {
            pid: -1,
            ts: 20,
            tid: 7,
            kind: EventKind::IoCounters(crate::event::IoCounters {
                fd: 3,
                read_ops: 1,
                read_bytes: 1,
                write_ops: 0,
                write_bytes: 0,
                first_ts: 0,
                pid: None,
            }),
        };
        let seen = run(
            &mut m,
            &[
                (mv(7, 10), true),
                (exec(8, 0, Some(CG_IN)), false),
                (counters, false),
                (mv(9, 30), false),
                (exec(7, 0, Some(CG_IN)), false),
            ],
        );
        assert_eq!(
            seen,
            [
                (8, "exec", 50),
                (7, "other", 20),
                (9, "move", 30),
                (7, "exec", 50)
            ]
        );
        assert_eq!(m.superseded, 1);
    }

    #[test]
    fn a_move_outside_an_exec_is_never_held() {
        let mut m = ExecMoves::default();
        let seen = run(&mut m, &[(mv(7, 10), false)]);
        assert_eq!(seen, [(7, "move", 10)]);
        assert_eq!(m.len(), 0);
    }

    #[test]
    fn held_moves_are_bounded_in_number_and_time() {
        let mut m = ExecMoves::default();
        let t0 = Instant::now();
        let mut seen = Vec::new();
        for i in 0..HELD_MAX as u64 + 3 {
            m.offer(&mv(1000 + i as i64, i), true, t0, &mut |e| {
                seen.push(describe(e))
            });
        }
        // the three past the bound went through at once
        assert_eq!(seen.len(), 3);
        assert_eq!(m.len(), HELD_MAX);
        seen.clear();
        m.release_stale(t0 + HOLD_MAX / 2, &mut |e| seen.push(describe(e)));
        assert!(seen.is_empty());
        m.release_stale(t0 + HOLD_MAX, &mut |e| seen.push(describe(e)));
        assert_eq!(seen.len(), HELD_MAX);
        assert_eq!(seen[0], (1000, "move", 0), "oldest first");
        assert_eq!(m.len(), 0);
    }

    #[test]
    fn the_end_of_the_capture_releases_every_held_move() {
        let mut m = ExecMoves::default();
        run(&mut m, &[(mv(7, 10), true), (mv(8, 11), true)]);
        let mut seen = Vec::new();
        m.release_all(&mut |e| seen.push(describe(e)));
        assert_eq!(seen, [(7, "move", 10), (8, "move", 11)]);
    }
}
