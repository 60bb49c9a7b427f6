//! Read/write counters the probe keeps in its `sf_io` map, per (process, fd) with a
//! slot per thread.
//!
//! The probe ships a slot as an `IoCounters` record on close (every thread's slot of
//! the fd, before the close; the closing thread's inside the close record), on dup2/dup3
//! over an open fd, on exec, and on thread exit
//! (before the exit). Everything else stays in the map until the driver asks for it: then
//! the probe's own drain program (run with `BPF_PROG_TEST_RUN`) takes every counter with
//! the same atomic read-and-clear the kernel-side paths use and ships it through the ring
//! buffer, so drained counters arrive in order with every other record and no increment
//! is lost or shipped twice (the protocol is described in `bpf/sysflow.bpf.c`).

use super::LiveStats;
use super::decode;
use super::skel::types::sf_stats;
use libbpf_rs::{MapCore, MapFlags};

/// Sums the probe's per-CPU statistics into `stats`.
pub(super) fn kernel_stats(map: &dyn MapCore, stats: &mut LiveStats) {
    let Ok(Some(per_cpu)) = map.lookup_percpu(&0u32.to_ne_bytes(), MapFlags::ANY) else {
        return;
    };
    for v in per_cpu {
        if let Some(s) = decode::read_pod::<sf_stats>(&v, 0) {
            stats.kernel_events += s.events;
            stats.ring_drops += s.ring_drops;
            stats.counter_overflows += s.io_overflow;
            stats.sampled_out += s.sampled_out;
            stats.late_counters += s.late_counts;
            stats.uring_unmodeled += s.uring_other;
            stats.scm_rights_unnamed += s.scm_unnamed;
        }
    }
}
