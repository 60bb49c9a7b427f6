//! Read/write counters the probe keeps in its `sf_io` map, per (process, fd) with a
//! slot per thread.
//!
//! The probe ships a slot as an `IoCounters` record on close (every thread's slot of
//! the fd, before the close), on dup2/dup3 over an open fd, on exec, and on thread exit
//! (before the exit). Everything else stays in the map until [`drain`] reads and
//! deletes it (`BPF_MAP_LOOKUP_AND_DELETE_ELEM`, atomic per entry), remembering when
//! each entry was taken so the counters can be merged into the event stream at that
//! point: ring events older than the drain go first (an open of the fd, say), newer
//! ones after (its close).

use super::decode;
use super::skel::types::sf_stats;
use super::{LiveStats, clock};
use crate::event::IoCounters;
use libbpf_rs::{MapCore, MapFlags};

/// Counters of one thread on one fd, taken from the map at `at` (boot ns).
#[derive(Clone, Copy, Debug)]
pub(super) struct Drained {
    /// When the entry was read and deleted (`CLOCK_BOOTTIME` ns).
    pub(super) at: u64,
    /// The thread.
    pub(super) tid: u32,
    /// Its counters.
    pub(super) counters: IoCounters,
}

/// Reads and deletes every entry of the counters map, oldest read first. Returns the
/// counters and the number of undecodable entries.
pub(super) fn drain(map: &dyn MapCore) -> (Vec<Drained>, u64) {
    let keys: Vec<Vec<u8>> = map.keys().collect();
    let mut out = Vec::with_capacity(keys.len());
    let mut errors = 0;
    for key in keys {
        let before = clock::boot_now();
        let val = match map.lookup_and_delete(&key) {
            Ok(Some(v)) => v,
            // gone meanwhile: a close or an exit shipped it
            Ok(None) | Err(_) => continue,
        };
        let at = before + (clock::boot_now() - before) / 2;
        match decode::io_entry(&key, &val) {
            Ok(slots) => {
                out.extend(
                    slots
                        .into_iter()
                        .map(|(tid, counters)| Drained { at, tid, counters }),
                )
            }
            Err(_) => errors += 1,
        }
    }
    (out, errors)
}

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
        }
    }
}
