//! The live capture's periodic reconciliation of the thread table with `/proc`
//! ([`State::reconcile`]), kept off the capture thread.
//!
//! The `/proc` reads of a pass (one readdir of `<host_root>/proc`, then `task/` and `stat`
//! of each process held: milliseconds, tens of them on a busy host) would stall ring
//! consumption if the capture thread made them. So the capture thread only takes the
//! targets ([`State::reconcile_targets`], a walk of the thread table) and hands them to a
//! reader thread of its own ("sysflow-proc"), then goes on with events; it applies the
//! listing when it is back, between two event batches, and never waits for it. A listing
//! is thus read after its targets were taken and applied later still: the state judges
//! only the threads its targets covered, which keeps the reconciliation's two-pass rule
//! exact (see [`State::reconcile`]). Passes never overlap: new targets are taken only once
//! the previous listing was applied.
//!
//! Why not the container metadata worker's thread: it runs a tokio runtime for the
//! runtimes' sockets, where blocking reads would hold up lookups, and it does not exist
//! without container metadata or the Kubernetes API. When the reader thread cannot be
//! started (or dies), the reads are made on the capture thread, as a fallback.

use super::pipeline::Pipeline;
use crate::clock;
use crate::diag::Diag;
use crate::error::Result;
use crate::export::FanOut;
use crate::state::{ProcListing, ReconcileTargets, State};
use crossbeam_channel::{RecvTimeoutError, TryRecvError, TrySendError};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A listing as read, with the time the read took.
type Read = (std::io::Result<ProcListing>, Duration);

/// How long stopping the reader waits for a read in progress before leaving the thread
/// to end on its own.
const STOP_GRACE: Duration = Duration::from_secs(1);

/// Lists `/proc` for `targets` (start times converted as the live source converts times).
fn read(proc_root: &Path, targets: ReconcileTargets) -> Read {
    let started = Instant::now();
    let listing = ProcListing::read(proc_root, targets, &crate::source::live::boot_ns_to_epoch);
    (listing, started.elapsed())
}

/// The reader thread: takes targets, sends back their listing, one at a time.
struct ProcReader {
    requests: Option<crossbeam_channel::Sender<ReconcileTargets>>,
    listings: crossbeam_channel::Receiver<Read>,
    thread: Option<JoinHandle<()>>,
}

impl ProcReader {
    fn spawn(proc_root: PathBuf) -> std::io::Result<Self> {
        // One pass at a time: one request and one listing at most in either channel.
        let (req_tx, req_rx) = crossbeam_channel::bounded::<ReconcileTargets>(1);
        let (out_tx, out_rx) = crossbeam_channel::bounded(1);
        let thread = std::thread::Builder::new()
            .name("sysflow-proc".into())
            .spawn(move || {
                // ends when the requests' sender is dropped
                for targets in req_rx {
                    if out_tx.send(read(&proc_root, targets)).is_err() {
                        break;
                    }
                }
            })?;
        Ok(ProcReader {
            requests: Some(req_tx),
            listings: out_rx,
            thread: Some(thread),
        })
    }
}

impl Drop for ProcReader {
    fn drop(&mut self) {
        // the thread ends after the read in progress, if any
        self.requests = None;
        let Some(thread) = self.thread.take() else {
            return;
        };
        let deadline = Instant::now() + STOP_GRACE;
        loop {
            match self.listings.recv_deadline(deadline) {
                // a listing no pass will apply
                Ok(_) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    let _ = thread.join();
                    return;
                }
                // still reading: it ends on its own (its sends fail)
                Err(RecvTimeoutError::Timeout) => return,
            }
        }
    }
}

/// The periodic reconciliation as the live loop drives it ([`Reconciler::poll`]).
pub(crate) struct Reconciler {
    proc_root: PathBuf,
    /// The collector's own process, whose threads go without an exit.
    self_pid: i64,
    interval: Duration,
    diag: Diag,
    /// `None`: the reads are made on the capture thread.
    reader: Option<ProcReader>,
    /// Targets were handed over; their listing is not applied yet.
    pending: bool,
    /// When the last targets were taken.
    last: Instant,
    /// Listings applied so far.
    applied: u64,
}

impl Reconciler {
    /// Starts the reader thread for `proc_root`; a pass every `interval`, the first one
    /// `interval` from now. Without the thread (it could not start), the reads are made
    /// by [`Reconciler::poll`] itself.
    pub(crate) fn start(
        proc_root: PathBuf,
        self_pid: i64,
        interval: Duration,
        diag: &Diag,
    ) -> Self {
        let reader = match ProcReader::spawn(proc_root.clone()) {
            Ok(r) => Some(r),
            Err(e) => {
                diag.warn(format_args!(
                    "thread reconciliation: cannot start its /proc reader thread ({e}); \
                     /proc is read on the capture thread"
                ));
                None
            }
        };
        Reconciler {
            proc_root,
            self_pid,
            interval,
            diag: diag.clone(),
            reader,
            pending: false,
            last: Instant::now(),
            applied: 0,
        }
    }

    /// Called between event batches. Applies a listing that came back, and hands the
    /// targets of a new pass over when one is due and none is out. Never waits for the
    /// reader. Errors are the pipeline's (writing the made-up exits' records).
    pub(crate) fn poll(&mut self, pipe: &mut Pipeline, out: &mut FanOut) -> Result<()> {
        if self.pending
            && let Some(r) = &self.reader
        {
            match r.listings.try_recv() {
                Ok(read) => {
                    self.pending = false;
                    self.apply(pipe, out, read)?;
                }
                Err(TryRecvError::Empty) => return Ok(()),
                Err(TryRecvError::Disconnected) => {
                    self.lose_reader("it stopped");
                    self.pending = false;
                }
            }
        }
        if self.pending || self.last.elapsed() < self.interval {
            return Ok(());
        }
        self.last = Instant::now();
        let targets = pipe.state.reconcile_targets();
        let targets = match self.reader.as_ref().and_then(|r| r.requests.as_ref()) {
            Some(tx) => match tx.try_send(targets) {
                Ok(()) => {
                    self.pending = true;
                    return Ok(());
                }
                // (cannot be: a request is sent only once the previous one was answered)
                Err(TrySendError::Full(_)) => return Ok(()),
                Err(TrySendError::Disconnected(targets)) => {
                    self.lose_reader("it stopped");
                    targets
                }
            },
            None => targets,
        };
        let read = read(&self.proc_root, targets);
        self.apply(pipe, out, read)
    }

    fn lose_reader(&mut self, why: &str) {
        self.diag.warn(format_args!(
            "thread reconciliation: its /proc reader thread is gone ({why}); /proc is read \
             on the capture thread"
        ));
        self.reader = None;
    }

    /// Applies one listing (a `/proc` that could not be listed skips the pass) and logs
    /// the pass; `in` is the time of the read plus that of the application.
    fn apply(
        &mut self,
        pipe: &mut Pipeline,
        out: &mut FanOut,
        (listing, took): Read,
    ) -> Result<()> {
        let listing = match listing {
            Ok(l) => l,
            Err(e) => {
                pipe.diag.warn(format_args!(
                    "thread reconciliation skipped: cannot list {}: {e}",
                    self.proc_root.display()
                ));
                return Ok(());
            }
        };
        let started = Instant::now();
        let lost = apply_listing(pipe, out, &listing, self.self_pid)?;
        self.applied += 1;
        let sizes = pipe.state.sizes();
        pipe.diag.debug(format_args!(
            "thread reconciliation: {} processes listed, {} exits made up ({} so far), {} \
             suspects, {} threads and {} processes held, in {:?}",
            listing.processes(),
            lost,
            sizes.reconciled_exits,
            sizes.suspects,
            sizes.threads,
            sizes.processes,
            took + started.elapsed()
        ));
        Ok(())
    }
}

/// Applies a `/proc` listing to the state ([`State::reconcile`]) and gives each thread
/// whose exit was lost an exit through the event path, so its flows are written and its
/// process deleted as after a real exit (made-up events: not counted as events the
/// source delivered). Returns how many exits were made up.
fn apply_listing(
    pipe: &mut Pipeline,
    out: &mut FanOut,
    listing: &ProcListing,
    self_pid: i64,
) -> Result<usize> {
    let lost = pipe.state.reconcile(listing, self_pid);
    let ts = clock::wall_ns();
    for &tid in &lost {
        pipe.on_made_up_event(&State::exit_event(tid, ts), out)?;
    }
    Ok(lost.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SysFlowConfig;
    use crate::aggregate::AggConfig;
    use crate::event::{CloneEvent, EventKind, ProcInfo, SysEvent};
    use crate::model::SfHeader;
    use crate::state::ProcSnapshot;

    /// A pipeline holding process 100 with threads 101 and 102 (from a snapshot).
    fn pipeline() -> Pipeline {
        let mut state = State::new();
        for tid in [100, 101, 102] {
            state.load_snapshot(&ProcSnapshot {
                tid,
                pid: 100,
                ptid: if tid == 100 { 1 } else { 100 },
                vtid: tid,
                vpid: 100,
                exe: b"/bin/worker".to_vec(),
                ..Default::default()
            });
        }
        state.finish_snapshot();
        Pipeline::new(state, AggConfig::from(&SysFlowConfig::default()), false)
    }

    /// A fake `/proc` where process 100 has threads 100 and 102 (101 is gone).
    fn fake_proc() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for tid in [100, 102] {
            std::fs::create_dir_all(dir.path().join(format!("100/task/{tid}"))).unwrap();
        }
        std::fs::write(
            dir.path().join("100/stat"),
            "100 (worker) S 1 100 100 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 2 0 100 0 0",
        )
        .unwrap();
        dir
    }

    #[test]
    fn made_up_exits_are_not_counted_as_events_delivered() {
        let mut pipe = pipeline();
        let mut out = FanOut::new(SfHeader::default());
        // 101 is gone from /proc at two passes: its exit is made up
        let mut listing = ProcListing::default();
        listing.add_process(100, None, [100, 102]);
        assert_eq!(apply_listing(&mut pipe, &mut out, &listing, 0).unwrap(), 0);
        assert_eq!(apply_listing(&mut pipe, &mut out, &listing, 0).unwrap(), 1);
        assert!(pipe.state.thread(101).is_none_or(|t| t.is_dead()));
        let s = pipe.summary(&out);
        assert_eq!((s.events, s.state_tables.reconciled_exits), (0, 1));
    }

    /// Polls until `r` applied `n` listings in all (the reader is another thread).
    fn poll_until_applied(r: &mut Reconciler, pipe: &mut Pipeline, out: &mut FanOut, n: u64) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while r.applied < n {
            assert!(Instant::now() < deadline, "no listing came back");
            r.poll(pipe, out).unwrap();
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    #[test]
    fn listings_are_read_on_the_reader_thread_and_applied_by_poll() {
        let proc = fake_proc();
        let mut pipe = pipeline();
        let mut out = FanOut::new(SfHeader::default());
        let mut r = Reconciler::start(proc.path().into(), 0, Duration::ZERO, &Diag::default());
        assert!(r.reader.is_some());
        // the first poll hands the targets over and returns: nothing is applied yet
        r.poll(&mut pipe, &mut out).unwrap();
        assert!(r.pending);
        assert_eq!(r.applied, 0);
        // a process born meanwhile (its clone applied while the listing is read or waits)
        // is in no listing taken before: not judged by it
        pipe.on_event(
            &SysEvent {
                pid: -1,
                ts: 1_000,
                tid: 100,
                kind: EventKind::Clone(CloneEvent {
                    res: 120,
                    flags: Some(0),
                    own: None,
                    info: ProcInfo {
                        exe: Some(b"/bin/worker\0"),
                        tid: 100,
                        pid: 100,
                        ptid: 1,
                        ..Default::default()
                    },
                }),
            },
            &mut out,
        )
        .unwrap();
        poll_until_applied(&mut r, &mut pipe, &mut out, 1);
        assert_eq!(pipe.state.sizes().suspects, 1, "101 only");
        // second pass: 101 lost (its exit made up); 120, gone from this listing read after
        // its birth, a suspect now
        poll_until_applied(&mut r, &mut pipe, &mut out, 2);
        let s = pipe.summary(&out);
        assert_eq!(s.state_tables.reconciled_exits, 1);
        assert_eq!(s.state_tables.suspects, 1);
        assert!(pipe.state.thread(101).is_none_or(|t| t.is_dead()));
        assert!(pipe.state.thread(120).is_some_and(|t| !t.is_dead()));
        assert_eq!(s.events, 1, "the clone only");
        // third pass: 120 lost
        poll_until_applied(&mut r, &mut pipe, &mut out, 3);
        assert_eq!(pipe.state.reconciled_exits, 2);
    }

    #[test]
    fn without_the_reader_thread_poll_reads_proc_itself() {
        let proc = fake_proc();
        let mut pipe = pipeline();
        let mut out = FanOut::new(SfHeader::default());
        let mut r = Reconciler::start(proc.path().into(), 0, Duration::ZERO, &Diag::default());
        r.reader = None;
        r.poll(&mut pipe, &mut out).unwrap();
        r.poll(&mut pipe, &mut out).unwrap();
        assert_eq!((r.applied, r.pending), (2, false));
        assert_eq!(pipe.state.reconciled_exits, 1);
        // a /proc that cannot be listed skips the pass
        let mut r = Reconciler::start(
            proc.path().join("absent"),
            0,
            Duration::ZERO,
            &Diag::default(),
        );
        poll_until_applied_or_skipped(&mut r, &mut pipe, &mut out);
        assert_eq!(r.applied, 0);
    }

    /// Polls until a pass was handed over and came back (applied or skipped).
    fn poll_until_applied_or_skipped(r: &mut Reconciler, pipe: &mut Pipeline, out: &mut FanOut) {
        r.poll(pipe, out).unwrap();
        assert!(r.pending);
        let deadline = Instant::now() + Duration::from_secs(30);
        while r.pending {
            assert!(Instant::now() < deadline, "no listing came back");
            std::thread::sleep(Duration::from_millis(2));
            r.interval = Duration::from_secs(3600);
            r.poll(pipe, out).unwrap();
        }
    }
}
