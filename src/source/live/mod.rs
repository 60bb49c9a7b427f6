//! Live capture: the sysflow CO-RE eBPF probe (`bpf/sysflow.bpf.c`) as a source of
//! [`SysEvent`]s.
//!
//! # What is captured
//!
//! The probe hooks `tp_btf/sys_exit` (one program for every syscall, filtered by a
//! syscall bitmap chosen from the collection mode before any other work),
//! `tp_btf/sched_process_fork|exec|exit` for the process lifecycle, and
//! `tp_btf/cgroup_attach_task` for moves between cgroups (container membership). Every SysFlow
//! operation is reported from every syscall that performs it:
//!
//! | events | syscalls |
//! |---|---|
//! | [`EventKind::Clone`] (both sides: caller with `res` = child tid, child with `res` = 0) | clone, clone3, fork, vfork |
//! | [`EventKind::Execve`] (new image: exe, args, env ≤ 4 KiB, cgroups, exepath, tty, loginuid) | execve, execveat |
//! | [`EventKind::Exit`] (a thread's last event) | every thread exit |
//! | [`EventKind::CgroupMove`] (the cgroups after the move) | a task moved to another cgroup (`cgroup_attach_task`) |
//! | [`EventKind::SetIds`] | setuid, setreuid, setresuid, setgid, setregid, setresgid |
//! | [`EventKind::Open`] (flags in `PPM_O_*`, with `F_CREATED`) | open, openat, openat2, creat |
//! | [`EventKind::IoCounters`] (see below) | read, pread64, readv, preadv, preadv2, write, pwrite64, writev, pwritev, pwritev2, sendto, recvfrom, sendmsg, recvmsg, sendmmsg, recvmmsg (every message), and the calls that move data between two fds: sendfile, copy_file_range, splice, tee (a read of the source, a write of the destination), vmsplice (a write to or read from its pipe) |
//! | [`EventKind::Io`] with a tuple | sendto/sendmsg/recvfrom/recvmsg of a datagram with a peer address |
//! | [`EventKind::Close`], [`EventKind::CloseRange`], [`EventKind::Shutdown`] | close, close_range, shutdown |
//! | [`EventKind::Mmap`] (file mappings, flow mode) | mmap |
//! | [`EventKind::FileOp`] | mkdir(at), rmdir, link(at), unlink(at), symlink(at), rename(at, at2) |
//! | [`EventKind::Connect`] (local, remote), [`EventKind::Accept`] (remote, local), [`EventKind::Bind`] | connect, accept, accept4, bind |
//! | [`EventKind::Socket`], [`EventKind::Socketpair`], [`EventKind::Pipe`], [`EventKind::Dup`] | socket, socketpair, pipe, pipe2, dup, dup2, dup3, fcntl(F_DUPFD*) |
//! | [`EventKind::NewFd`] (the kernel's name of the new file) | eventfd, eventfd2, epoll_create, epoll_create1, memfd_create, timerfd_create, signalfd, signalfd4, pidfd_open, pidfd_getfd, inotify_init, inotify_init1, fanotify_init, userfaultfd, io_uring_setup, perf_event_open, memfd_secret |
//! | [`EventKind::Chdir`] (the new absolute working directory) | chdir, fchdir |
//! | [`EventKind::Setns`] | setns |
//!
//! **Opened files are named by the kernel**: an open's [`OpenEvent::kernel_path`] is walked
//! from the new file's own dentry and mount, up to the process's root (complete to
//! `PATH_MAX`: 4,095 bytes, any depth), so symlinks are resolved (`/lib/…` is reported as
//! `/usr/lib/…` on a merged-/usr system) and a sibling thread rewriting the path buffer
//! cannot change what is reported. The path as passed is in `path` where the kernel's says
//! less (a failed open, a pseudo file system's file) or where
//! [`LiveConfig::open_paths_as_passed`] asks for it.
//!
//! **32-bit syscalls** (`int 0x80`, ia32 programs) are translated in the probe to the
//! x86-64 syscall and argument layout (32-bit `msghdr`/`mmsghdr`, the 16-bit uid calls,
//! and `socketcall`), so they produce the same events.
//!
//! **io_uring**: requests are followed from submission (`io_uring_submit_req`, which
//! notes the fd and what was asked) to completion (`io_uring_complete`): reads, writes,
//! sends and receives are counted on their fd; opens, closes, connects, accepts, sockets
//! and shutdowns produce the same events as the syscalls. Requests on registered (fixed)
//! files and other operations are counted in [`LiveStats::uring_unmodeled`].
//!
//! **Exec**: an exec from a secondary thread is one [`EventKind::Execve`] under the main
//! thread's id with [`ExecveEvent::old_tid`] set (no exit of the process); its
//! [`ExecveEvent::open_fds`] tells which close-on-exec fds the exec closed.
//!
//! # Reads and writes are counted, not shipped
//!
//! Per (process, fd) the kernel keeps a slot per thread (ops, bytes of successful
//! calls, first call time). A slot reaches the consumer as an [`EventKind::IoCounters`]
//! event of its thread: for every thread of the process before a close of the fd (and
//! before dup2/dup3 replace it, before an exec closes `O_CLOEXEC` fds), for the exiting
//! thread before its exit, and for everything else when the driver calls
//! [`LiveSource::flush_counters`] (flow export, shutdown; the probe's own drain program
//! ships them through the ring, in order with everything else). The closing thread's own
//! slot rides in the close's record, one ring record instead of two; the source delivers
//! it as its `IoCounters` event right before the close. Counters are additive: a
//! consumer adds every `IoCounters` of (thread, fd) to that flow. More threads on one fd
//! than slots, or a full map, make the probe ship single calls as one-op counters
//! (counted in [`LiveStats::counter_overflows`]): nothing is lost.
//!
//! The counting is race-free (the protocol is described in `bpf/sysflow.bpf.c`): threads
//! add with atomic adds, shippers take with atomic read-and-clear, and an entry being
//! retired (close, dup2 over it, exec, the process's end) is handed back to any thread
//! still adding to it, so no increment is lost or shipped twice whatever the
//! interleaving of threads, closes, dup2s and drains. A call that completes after
//! another thread closed its fd is shipped late ([`LiveStats::late_counters`]); the
//! consumer charges it to the file the fd named (the state remembers recently closed
//! fds). Ops and bytes are separate atomics, so one `IoCounters` may carry a call's op
//! and the next its bytes; sums are exact.
//!
//! # Time and order
//!
//! Time stamps are epoch nanoseconds (`CLOCK_BOOTTIME` plus an offset measured once per
//! process). Events arrive in ring-buffer order, which is time order up to the few
//! microseconds a record takes to build. A clone event carries the child's creation
//! time, so a process's `clone_ts` is the same whether it was seen being cloned or found
//! by [`LiveSource::snapshot`].
//!
//! # Threading
//!
//! A [`LiveSource`] is `Send`; its methods take `&mut self` or `&self` and the callback
//! runs on the calling thread. Several sources may exist at once (each loads its own
//! probe), and sources can be opened and dropped repeatedly in one process. The
//! collector's own process (all its threads) is never captured: the probe compares with
//! the id the kernel gives it in the initial pid namespace (learnt from the task iterator
//! before anything is attached), so this holds when the collector runs in a container
//! with a pid namespace of its own.
//!
//! # Host ids
//!
//! Every thread and process id is the host's (initial pid namespace). The snapshot reads
//! `<host_root>/proc` and fails if that is not the host's `/proc`, rather than mixing
//! another namespace's numbers in.

mod checks;
mod clock;
mod counters;
mod decode;
mod load;
mod moves;
mod procfs;
mod ring;
mod skel;
mod syscalls;

pub use procfs::proc_snapshot;

/// Decodes one ring-buffer record (fuzzing entry point): whether it decoded.
#[cfg(feature = "fuzzing")]
pub(crate) fn decode_for_fuzzing(rec: &[u8]) -> bool {
    // every reading the source makes of a record: the event, a close's carried counters,
    // a cgroup move's mark (one parse, as the source delivers them), and each on its own
    let (_, errors) = decode::deliver_record(rec, &mut |_, _| {});
    let one = errors == 0;
    let carried = decode::close_counters(rec).is_ok();
    let _ = decode::moved_during_exec(rec);
    decode::event(rec).is_ok() && carried && one
}

/// Decodes ring-buffer records, each preceded by its length (two bytes, little-endian),
/// and hands `f` their events as the source delivers them (a close's carried counters
/// first); records that do not decode are skipped (fuzzing entry point).
#[cfg(feature = "fuzzing")]
pub(crate) fn events_for_fuzzing(bytes: &[u8], f: &mut dyn FnMut(&SysEvent<'_>)) {
    let mut rest = bytes;
    while let [a, b, tail @ ..] = rest {
        let (rec, next) = tail.split_at(usize::from(u16::from_le_bytes([*a, *b])).min(tail.len()));
        rest = next;
        // as the source delivers them
        decode::deliver_record(rec, &mut |ev, _| f(ev));
    }
}
pub(crate) use load::take_load_log;
pub(crate) use procfs::{fd_now, fd_seen_info, process_now};

/// A `CLOCK_BOOTTIME` time as the epoch nanoseconds events carry (the conversion every
/// source of this process uses), for times read from `/proc`.
pub(crate) fn boot_ns_to_epoch(boot_ns: u64) -> u64 {
    clock::to_epoch(boot_ns)
}

use crate::config::{CollectionMode, SysFlowConfig};
use crate::error::{Result, SysFlowError};
use crate::event::SysEvent;
#[cfg(doc)]
use crate::event::{EventKind, ExecveEvent, OpenEvent};
use crate::state::ProcSnapshot;
use skel::Probe;
use std::io::Read;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How often [`LiveSource::poll`] looks at the ring buffer while records arrive (they
/// are submitted without waking the consumer, which costs ~1 µs per event). Each look
/// has a fixed cost (the wake-up, and tables and code gone cold since the last look: about
/// 90 µs measured at 100k syscalls/s), so fewer looks cost less CPU per event: 20 ms took
/// the export bench's steady figure from 0.49–0.52 to 0.46–0.49 CPU-s per million
/// syscalls against 10 ms. A flow's records wait for their export interval anyway, and
/// the probe wakes the consumer early when a quarter of the ring fills.
const TICK: Duration = Duration::from_millis(20);

/// The longest pause between two looks at an empty ring: after each look that finds
/// nothing the pause doubles from [`TICK`] up to this (as libscap backs off on empty
/// buffers, up to 30 ms), so an idle node wakes the collector about 33 times a second
/// instead of 50. The first records after a quiet spell are at most this late.
const IDLE_TICK_MAX: Duration = Duration::from_millis(30);

/// How long [`LiveSource::stop`] waits for records still being written when the capture
/// stops. A probe program can be preempted between reserving its record and committing
/// it (syscall tracepoints run preemptible), possibly by the collector itself on a busy
/// CPU; every record reserved after it waits behind it.
const STOP_WAIT: Duration = Duration::from_secs(1);

/// The pause after one of `tick`: back to [`TICK`] when the look found records, else
/// doubled up to [`IDLE_TICK_MAX`].
fn next_tick(tick: Duration, found: bool) -> Duration {
    if found {
        TICK
    } else {
        (tick * 2).min(IDLE_TICK_MAX)
    }
}

/// What the live probe captures: the fields of [`SysFlowConfig`] it uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveConfig {
    /// Which syscalls are captured (`collectionMode`).
    pub collection_mode: CollectionMode,
    /// Leave out what SysFlow does not need (`dropMode`): failed close and bind. The
    /// reference's drop mode removes only syscalls SysFlow never captures, so mmap stays
    /// (`reference-semantics.md` §8.4).
    pub drop_mode: bool,
    /// Keep one in this many sampleable syscall events (`samplingRatio`); process
    /// lifecycle, opens, closes and other state changes are never sampled out.
    pub sampling_ratio: u32,
    /// Ring buffer bytes per online CPU (`singleBufferDimension`); the ring holds this
    /// times the CPU count, rounded up to a power of two.
    pub single_buffer_dimension: u64,
    /// Check privileges, BTF and the kernel version before loading (`moduleChecks`).
    pub module_checks: bool,
    /// Where the host's file system is mounted (`HOST_ROOT`; empty: `/`): the snapshot
    /// reads `<host_root>/proc`.
    pub host_root: PathBuf,
    /// Keep libbpf's debug messages of the load (`debugMode`), for the driver's debug
    /// log.
    pub debug: bool,
    /// Ship every open's path as passed ([`OpenEvent::path`]) next to the kernel's
    /// ([`OpenEvent::kernel_path`]). Off, a successful open carries only the kernel's
    /// path, unless that walk failed or ended at `/` (a pseudo file system's file), where
    /// the path as passed is shipped too; failed opens always carry it. Leaving it out
    /// saves a user-memory string read per open.
    /// From [`SysFlowConfig`]: on when a `falco_filter` is set (its `evt.arg.name` is the
    /// path as passed).
    pub open_paths_as_passed: bool,
}

impl Default for LiveConfig {
    fn default() -> Self {
        Self::from(&SysFlowConfig::default())
    }
}

impl From<&SysFlowConfig> for LiveConfig {
    fn from(c: &SysFlowConfig) -> Self {
        Self {
            collection_mode: c.collection_mode,
            drop_mode: c.drop_mode,
            sampling_ratio: c.sampling_ratio,
            single_buffer_dimension: c.single_buffer_dimension,
            module_checks: c.module_checks,
            host_root: c.host_root.clone(),
            debug: c.debug_mode,
            open_paths_as_passed: c.falco_filter.is_some(),
        }
    }
}

/// Counters of a [`LiveSource`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LiveStats {
    /// Events decoded: delivered to callbacks, or left out as superseded
    /// ([`LiveStats::moves_superseded_by_exec`]). A close record that carries its
    /// thread's counters is two events (the counters, then the close).
    pub events: u64,
    /// Records the probe submitted to the ring buffer.
    pub kernel_events: u64,
    /// Records lost because the ring buffer was full, and records still being written
    /// (with those behind them) a second after the capture was told to stop.
    pub ring_drops: u64,
    /// Read/write calls shipped one by one because no counter slot was free.
    pub counter_overflows: u64,
    /// Syscall events skipped by the sampling ratio.
    pub sampled_out: u64,
    /// Records or map entries that could not be decoded (skipped).
    pub decode_errors: u64,
    /// Counters a thread shipped itself because another thread closed (or replaced) the
    /// fd while it was counting: delivered, attributed to the fd as it is at their
    /// delivery; counted here so such races are visible.
    pub late_counters: u64,
    /// io_uring completions of operations the probe does not turn into events.
    pub uring_unmodeled: u64,
    /// Fds received with `SCM_RIGHTS` beyond those the probe names from the kernel per
    /// call (they are still read from `/proc` at first use).
    pub scm_rights_unnamed: u64,
    /// Cgroup moves of a process inside its exec, left out because the exec's own
    /// event, which follows them, carries the cgroups they made (a runtime moving the
    /// process it starts while its exec completes; see [`LiveSource::poll`]). Not a loss:
    /// counted so the reordering is visible.
    pub moves_superseded_by_exec: u64,
}

/// The live capture source: a loaded, attached probe and its ring buffer.
///
/// ```no_run
/// use sysflow::source::live::{LiveConfig, LiveSource};
/// use std::time::Duration;
/// let mut src = LiveSource::open(&LiveConfig::default())?;
/// let procs = src.snapshot()?;
/// println!("{} threads running", procs.len());
/// src.poll(Duration::from_millis(100), &mut |ev| println!("{ev:?}"))?;
/// src.flush_counters(&mut |ev| println!("{ev:?}"))?;
/// # Ok::<(), sysflow::SysFlowError>(())
/// ```
pub struct LiveSource {
    probe: Probe,
    host_root: PathBuf,
    delivered: u64,
    decode_errors: u64,
    exec_moves: moves::ExecMoves,
    /// The next pause of [`LiveSource::poll`]: [`TICK`], longer after empty looks.
    tick: Duration,
    /// Records [`LiveSource::stop`] left in the ring (counted in `ring_drops`).
    unread_at_stop: u64,
}

impl std::fmt::Debug for LiveSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveSource")
            .field("delivered", &self.delivered)
            .finish_non_exhaustive()
    }
}

/// Runs the `moduleChecks` checks alone: kernel version, BTF, privileges.
pub fn check_environment() -> Result<()> {
    checks::run_all()
}

impl LiveSource {
    /// Checks the environment (if `cfg.module_checks`), then loads and attaches the
    /// probe. Capture starts here; take the [`LiveSource::snapshot`] after this so no
    /// process falls between the two.
    ///
    /// Errors: [`SysFlowError::ProbeAccessDenied`] (missing capabilities),
    /// [`SysFlowError::ProbeNotExist`] (no kernel BTF),
    /// [`SysFlowError::OperationNotSupported`] (kernel too old),
    /// [`SysFlowError::ProbeNotLoaded`] (load or verifier failure, with its log).
    pub fn open(cfg: &LiveConfig) -> Result<Self> {
        let probe = load::load(cfg)?;
        Ok(Self {
            probe,
            host_root: cfg.host_root.clone(),
            delivered: 0,
            decode_errors: 0,
            exec_moves: moves::ExecMoves::default(),
            tick: TICK,
            unread_at_stop: 0,
        })
    }

    /// Every process and thread running now, with open fds, from `<host_root>/proc` (see
    /// [`proc_snapshot`]); creation times and cgroups come from the kernel (the probe's
    /// task iterator), so they match what clone and exec events carry, whatever pid or
    /// cgroup namespace the collector runs in.
    ///
    /// Errors: [`SysFlowError::ReadingFileSystem`] when `<host_root>/proc` cannot be listed
    /// or is not the host's (the collector runs in a pid namespace of its own: mount the
    /// host's `/proc` and set `host_root`, as the reference's `HOST_ROOT`).
    pub fn snapshot(&self) -> Result<Vec<ProcSnapshot>> {
        let scan = self.task_scan();
        let proc_root = crate::config::host_path(&self.host_root, "/proc");
        let (_, self_tgid) = self.probe.reader();
        let link = proc_root.join("self");
        let seen = std::fs::read_link(&link)
            .map_err(|e| SysFlowError::ReadingFileSystem {
                path: link,
                source: e,
            })?
            .to_str()
            .and_then(|p| p.parse::<u32>().ok());
        if seen != Some(self_tgid) {
            return Err(SysFlowError::ReadingFileSystem {
                path: proc_root.clone(),
                source: std::io::Error::other(format!(
                    "not the host's /proc: it numbers this process {}, the kernel {self_tgid}; \
                     mount the host's /proc and set host_root (HOST_ROOT) to its parent",
                    seen.map_or_else(|| "?".to_string(), |p| p.to_string())
                )),
            });
        }
        procfs::scan(&proc_root, &|tid| {
            scan.tasks
                .get(&tid)
                .map(|t| (t.start_boot_ns, t.cgroups.clone()))
        })
    }

    /// The collector's own process id as the kernel (the initial pid namespace) numbers
    /// it: the process the probe never captures. Records carry these host ids.
    pub fn self_tgid(&self) -> u32 {
        self.probe.reader().1
    }

    /// Start times and cgroups of every task, from the probe's task iterator.
    fn task_scan(&self) -> decode::TaskScan {
        let Some(link) = self.probe.task_iter() else {
            return decode::TaskScan::default();
        };
        let Ok(mut it) = libbpf_rs::Iter::new(link) else {
            return decode::TaskScan::default();
        };
        let mut bytes = Vec::new();
        if it.read_to_end(&mut bytes).is_err() {
            return decode::TaskScan::default();
        }
        decode::task_scan(&bytes)
    }

    /// Waits up to `max_wait` for events, then delivers everything the ring holds to
    /// `f`, in order. Returns the number of events decoded (as [`LiveStats::events`]
    /// counts them; 0 when `max_wait` passed without any). Undecodable records are
    /// skipped and counted
    /// ([`LiveStats::decode_errors`]).
    ///
    /// Each pass first sleeps for a tick (20 ms) or until the probe forces a
    /// wake-up (the ring a quarter full), then takes everything the ring holds: records
    /// reach `f` in batches at most a tick late, instead of one by one as they arrive,
    /// which costs a wake-up and a pass through the loop each. After a pass that finds
    /// the ring empty the tick doubles, up to 30 ms, until records arrive again.
    ///
    /// One exception to ring order: a cgroup move of a process inside its exec (a
    /// runtime moving the process it starts into the container as soon as its vfork
    /// returns) is reported by the kernel before the exec, though it took effect on the
    /// new image. It is held until the thread's next event: a successful exec goes
    /// first, and the move is left out when the exec's cgroups already hold it (counted
    /// in [`LiveStats::moves_superseded_by_exec`]), or follows the exec when they do not;
    /// any other event goes through after the move. A move waits at most 500 ms;
    /// [`LiveSource::finish`] delivers what still waits.
    pub fn poll(&mut self, max_wait: Duration, f: &mut dyn FnMut(&SysEvent<'_>)) -> Result<usize> {
        let deadline = Instant::now() + max_wait;
        loop {
            let now = Instant::now();
            if let Err(e) = self
                .probe
                .wait(deadline.saturating_duration_since(now).min(self.tick))
                && e.kind() != std::io::ErrorKind::Interrupted
            {
                return Err(SysFlowError::Libs(format!("polling the ring buffer: {e}")));
            }
            let n = self.deliver(f);
            self.tick = next_tick(self.tick, n > 0);
            if n > 0 || Instant::now() >= deadline {
                return Ok(n);
            }
        }
    }

    /// Ships every read/write counter the kernel holds as [`EventKind::IoCounters`]
    /// events (the probe's drain program takes each counter atomically and ships it
    /// through the ring buffer), then delivers everything the ring holds to `f`, in order.
    /// Call it at each flow export and at shutdown.
    ///
    /// Errors: [`SysFlowError::Libs`] when the kernel refuses to run the drain program.
    pub fn flush_counters(&mut self, f: &mut dyn FnMut(&SysEvent<'_>)) -> Result<()> {
        self.probe
            .drain_counters()
            .map_err(|e| SysFlowError::Libs(format!("draining the read/write counters: {e}")))?;
        self.deliver(f);
        Ok(())
    }

    /// Counters of this source and of its probe.
    pub fn stats(&self) -> LiveStats {
        let mut s = LiveStats {
            events: self.delivered,
            decode_errors: self.decode_errors,
            moves_superseded_by_exec: self.exec_moves.superseded,
            ..Default::default()
        };
        counters::kernel_stats(self.probe.stats_map(), &mut s);
        s.ring_drops += self.unread_at_stop;
        s
    }

    /// Ends the capture's reading: delivers every record the kernel reserved until now,
    /// ships every read/write counter it holds (as [`LiveSource::flush_counters`]) and
    /// delivers those, then the cgroup moves still held back ([`LiveSource::finish`]).
    ///
    /// A record still being written holds back every record after it in the ring (its
    /// producer was preempted between reserving and committing it). Each delivery waits
    /// for those, yielding the CPU to their producers, up to 1 s in all; what is still
    /// unread then is counted in `ring_drops`, never lost silently. (The probe stays
    /// attached meanwhile, so a ring filled during that wait also counts, in the kernel's
    /// `ring_drops`, events that came after the stop.)
    ///
    /// Errors: [`SysFlowError::Libs`] when the kernel refuses to run the drain program.
    pub fn stop(&mut self, f: &mut dyn FnMut(&SysEvent<'_>)) -> Result<()> {
        let deadline = Instant::now() + STOP_WAIT;
        let (end, _) = self.probe.ring_positions();
        self.deliver_until(end, deadline, f);
        self.probe
            .drain_counters()
            .map_err(|e| SysFlowError::Libs(format!("draining the read/write counters: {e}")))?;
        // the counters just shipped are behind every record counted so far
        let (end, _) = self.probe.ring_positions();
        self.deliver_until(end, deadline, f);
        // counted once, over both deliveries: what is still before `end`
        let (_, consumed) = self.probe.ring_positions();
        if consumed < end {
            self.unread_at_stop += self.probe.pending_records(end);
        }
        self.finish(f);
        Ok(())
    }

    /// Delivers records until every record before ring position `end` was delivered,
    /// sleeping 1 ms between tries, or until `deadline` (after one try at least).
    fn deliver_until(&mut self, end: u64, deadline: Instant, f: &mut dyn FnMut(&SysEvent<'_>)) {
        loop {
            self.deliver(f);
            let (_, consumed) = self.probe.ring_positions();
            if consumed >= end || Instant::now() >= deadline {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Delivers the cgroup moves still held back (see [`LiveSource::poll`]), whatever
    /// follows: call it once the capture ends, after the last poll and counter flush.
    pub fn finish(&mut self, f: &mut dyn FnMut(&SysEvent<'_>)) {
        self.exec_moves.release_all(f);
    }

    /// Decodes and delivers every record the ring holds now, in ring order, straight
    /// from the ring's memory (except cgroup moves made during an exec: see
    /// [`LiveSource::poll`]). Undecodable records are skipped and counted.
    fn deliver(&mut self, f: &mut dyn FnMut(&SysEvent<'_>)) -> usize {
        let (mut errors, mut events) = (0, 0);
        let now = Instant::now();
        let moves = &mut self.exec_moves;
        self.probe.consume(&mut |rec| {
            // a close's own thread's counters, shipped with it, go first
            let (n, bad) =
                decode::deliver_record(rec, &mut |ev, in_exec| moves.offer(ev, in_exec, now, f));
            events += n;
            errors += bad;
        });
        moves.release_stale(now, f);
        self.delivered += events;
        self.decode_errors += errors;
        events as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_can_move_between_threads() {
        fn send<T: Send>() {}
        send::<LiveSource>();
    }

    /// An empty ring stretches the pause 20, 30 ms and no further (libscap's
    /// 30 ms); records bring it back to 20 ms at once.
    #[test]
    fn an_empty_ring_backs_off_to_30_ms_and_records_reset_it_to_20() {
        let ms = Duration::from_millis;
        let mut t = TICK;
        assert_eq!(t, ms(20));
        let mut seen = vec![];
        for _ in 0..4 {
            t = next_tick(t, false);
            seen.push(t);
        }
        assert_eq!(seen, [ms(30), ms(30), ms(30), ms(30)]);
        assert_eq!(next_tick(t, true), ms(20));
        assert_eq!(next_tick(ms(30), true), ms(20));
    }

    #[test]
    fn config_follows_the_driver_config() {
        let c = SysFlowConfig {
            sampling_ratio: 4,
            drop_mode: false,
            collection_mode: CollectionMode::NoFiles,
            ..Default::default()
        };
        let l = LiveConfig::from(&c);
        assert_eq!(l.sampling_ratio, 4);
        assert!(!l.drop_mode);
        assert_eq!(l.collection_mode, CollectionMode::NoFiles);
        assert_eq!(
            LiveConfig::default().single_buffer_dimension,
            crate::DEFAULT_BUFFER_BYTES
        );
    }
}
