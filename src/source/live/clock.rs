//! Time: the probe stamps records with `CLOCK_BOOTTIME`; events carry nanoseconds since
//! the epoch (the wall clock of [`crate::clock`]). The offset between the two clocks is measured once per process, so every
//! [`super::LiveSource`] (and every snapshot) of a process converts the same way and a
//! task's creation time maps to the same epoch value in the snapshot and in its clone
//! event.

use nix::time::{ClockId, clock_gettime};
use std::sync::OnceLock;

fn ns(clock: ClockId) -> u64 {
    clock_gettime(clock)
        .map(|t| (t.tv_sec() as u64).saturating_mul(1_000_000_000) + t.tv_nsec() as u64)
        .unwrap_or(0)
}

/// `CLOCK_BOOTTIME` now, in nanoseconds (the probe's time base).
pub(super) fn boot_now() -> u64 {
    ns(ClockId::CLOCK_BOOTTIME)
}

/// Epoch nanoseconds minus boot nanoseconds, measured once (the best of a few samples
/// bracketing the realtime read).
pub(super) fn boot_offset() -> u64 {
    static OFFSET: OnceLock<u64> = OnceLock::new();
    *OFFSET.get_or_init(|| {
        let mut best = (u64::MAX, 0);
        for _ in 0..5 {
            let b0 = boot_now();
            let r = crate::clock::wall_ns();
            let b1 = boot_now();
            let width = b1.saturating_sub(b0);
            if width < best.0 {
                best = (width, r.saturating_sub(b0 + width / 2));
            }
        }
        best.1
    })
}

/// A boot-time stamp as nanoseconds since the epoch.
pub(super) fn to_epoch(boot_ns: u64) -> u64 {
    boot_ns.saturating_add(boot_offset())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_time_maps_to_now() {
        let now = crate::clock::wall_ns();
        let e = to_epoch(boot_now());
        assert!(e.abs_diff(now) < 50_000_000, "{e} vs {now}");
        assert_eq!(boot_offset(), boot_offset());
    }
}
