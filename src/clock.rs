//! The crate's two clocks, each read in one place.
//!
//! - The **wall clock** ([`wall_ns`], [`wall_s`]): `CLOCK_REALTIME`, nanoseconds or seconds
//!   since the Unix epoch. Used for what happens *now* on the collecting machine: names of
//!   live output files, idle ticks of a live capture, the boot-to-epoch offset of the probe.
//! - The **capture clock** ([`CaptureClock`]): the time of the event stream, advanced by
//!   every event (its time stamp) and by the driver's idle ticks. Offline it is the capture's
//!   own time, so a conversion gives the same records whenever it runs; live it is the
//!   probe's time stamps. Every SysFlow time stamp, flow export and rotation decision reads
//!   it; the aggregator receives it by injection ([`crate::aggregate::Aggregator::set_time`]).

use std::time::{SystemTime, UNIX_EPOCH};

/// Wall-clock time in nanoseconds since the Unix epoch (`CLOCK_REALTIME`; 0 if the clock is
/// before the epoch).
pub fn wall_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Wall-clock time in whole seconds since the Unix epoch.
pub fn wall_s() -> i64 {
    (wall_ns() / 1_000_000_000) as i64
}

/// The time of the event stream, in nanoseconds since the Unix epoch.
///
/// It follows the events as they come, as the reference does: an event stamped slightly
/// earlier than its predecessor (a capture's enter/exit skew) sets it back for that event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CaptureClock {
    now_ns: u64,
}

impl CaptureClock {
    /// Sets the clock to the time of the event (or idle tick) being processed.
    pub fn set(&mut self, ns: u64) {
        self.now_ns = ns;
    }

    /// The current time (ns since the epoch; 0 before the first event).
    pub fn now_ns(&self) -> u64 {
        self.now_ns
    }

    /// The current time in whole seconds since the epoch.
    pub fn now_s(&self) -> i64 {
        (self.now_ns / 1_000_000_000) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_clock_reads_what_was_set() {
        let mut c = CaptureClock::default();
        c.set(5_700_000_000);
        assert_eq!((c.now_ns(), c.now_s()), (5_700_000_000, 5));
    }

    #[test]
    fn wall_clock_is_after_2020() {
        assert!(wall_s() > 1_577_836_800);
    }
}
