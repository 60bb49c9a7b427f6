//! The driver's own diagnostics: where `debugMode`, `enableStats` and `appName` take
//! effect.
//!
//! Lines go through the [`log`] facade with the configured `app_name` as their target, so
//! an application filters them like any other crate's (`RUST_LOG=sysflowlibs=debug` with
//! `env_logger`). C programs receive them through `sysflow_set_log_callback`.
//!
//! - `debug_mode` (`debugMode`, `DRIVER_LOG=1`): the driver emits debug lines (the
//!   configuration in effect, the probe's load and attach, the startup snapshot, the
//!   per-period loss counters, libbpf's own messages). Without it the driver emits no
//!   debug lines at all.
//! - `enable_stats` (`enableStats`, `ENABLE_STATS=1`): the reference's table-size line and
//!   a loss line, at info level, at each rotation and at the end.
//!
//! A warning, or a line the configuration asked for (a debug line with `debug_mode`, a
//! stats line with `enable_stats`), is never lost for want of a logger: while the
//! application has not enabled logging ([`log::max_level`] is `Off`, which is the case
//! until a logger is installed), it is written to standard error as
//! `<app_name>: <LEVEL> <message>` (a C program that stops the delivery with
//! `sysflow_set_log_callback(NULL, ..)` or `SYSFLOW_LOG_OFF` silences the warnings). A
//! warning about a condition that can come and go
//! quickly (a disk on the edge of full) passes a [`WarnGate`] first, so that it cannot
//! flood the log.
//!
//! Writing to standard error never waits: a line that standard error cannot take at once
//! (a pipe nobody reads is full, a terminal is stopped, the reader is gone) is dropped and
//! counted, and the next line that gets through says how many were dropped. A line is cut
//! at 4 KiB.

use log::{Level, LevelFilter};
use std::fmt;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Warnings are dropped, not written to stderr, while logging is off: a C program stopped
/// the delivery on purpose (`sysflow_set_log_callback` with `NULL` or `SYSFLOW_LOG_OFF`).
static WARNINGS_SILENCED: AtomicBool = AtomicBool::new(false);

/// Whether warnings are dropped (not written to stderr) while logging is off.
pub(crate) fn silence_warnings(silenced: bool) {
    WARNINGS_SILENCED.store(silenced, Ordering::Relaxed);
}

/// Lines standard error could not take without waiting, since the last one it took.
static STDERR_DROPPED: AtomicU64 = AtomicU64::new(0);

/// The longest write to standard error: a pipe that polls writable has a page free, and a
/// write of at most a page then completes without waiting.
const STDERR_LINE_MAX: usize = 4096;

/// Writes `target: LEVEL message` to standard error if it can take it now (see the
/// module's documentation); otherwise counts it as dropped.
fn to_stderr(target: &str, level: Level, args: fmt::Arguments<'_>) {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use std::fmt::Write as _;
    use std::os::fd::AsFd;
    let stderr = std::io::stderr();
    let mut lock = stderr.lock();
    let mut fds = [PollFd::new(lock.as_fd(), PollFlags::POLLOUT)];
    let writable = matches!(poll(&mut fds, PollTimeout::ZERO), Ok(1))
        && fds[0].revents().is_some_and(|r| {
            r.contains(PollFlags::POLLOUT)
                && !r.intersects(PollFlags::POLLERR | PollFlags::POLLHUP | PollFlags::POLLNVAL)
        });
    if !writable {
        STDERR_DROPPED.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let mut line = String::new();
    let dropped = STDERR_DROPPED.swap(0, Ordering::Relaxed);
    if dropped > 0 {
        let _ = writeln!(
            line,
            "{target}: WARN {dropped} earlier line(s) dropped: standard error could not take them"
        );
    }
    let _ = writeln!(line, "{target}: {level} {args}");
    if line.len() > STDERR_LINE_MAX {
        let mut cut = STDERR_LINE_MAX - 4;
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        line.truncate(cut);
        line.push_str("...\n");
    }
    // never a panic for a stderr that cannot be written (a full disk, a closed pipe)
    let _ = lock.write_all(line.as_bytes());
}

/// The driver's log target and which optional lines it emits.
#[derive(Clone, Debug)]
pub(crate) struct Diag {
    target: Arc<str>,
    debug: bool,
    stats: bool,
    /// Tests: the warnings, with their target, also kept here.
    #[cfg(test)]
    kept: Option<Kept>,
}

/// Tests: warnings a [`Diag`] kept, as (target, message).
#[cfg(test)]
pub(crate) type Kept = Arc<parking_lot::Mutex<Vec<(String, String)>>>;

impl Default for Diag {
    fn default() -> Self {
        Diag::new("sysflowlibs", false, false)
    }
}

impl Diag {
    /// `app_name` as target; debug lines only if `debug`; stats lines only if `stats`.
    pub fn new(app_name: &str, debug: bool, stats: bool) -> Self {
        Diag {
            target: Arc::from(app_name),
            debug,
            stats,
            #[cfg(test)]
            kept: None,
        }
    }

    /// Tests: a `Diag` for `app_name` that also keeps its warnings, as (target, message).
    #[cfg(test)]
    pub fn keeping(app_name: &str) -> (Self, Kept) {
        let kept = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let d = Diag {
            kept: Some(kept.clone()),
            ..Diag::new(app_name, false, false)
        };
        (d, kept)
    }

    /// The log target (`app_name`).
    #[cfg(test)]
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Whether debug lines are emitted (`debug_mode`).
    pub fn debug_enabled(&self) -> bool {
        self.debug
    }

    /// Whether stats lines are emitted (`enable_stats`).
    pub fn stats_enabled(&self) -> bool {
        self.stats
    }

    /// A debug line, emitted only with `debug_mode`.
    pub fn debug(&self, args: fmt::Arguments<'_>) {
        if self.debug {
            self.requested(Level::Debug, args);
        }
    }

    /// A stats line (info level), emitted only with `enable_stats`.
    pub fn stats(&self, args: fmt::Arguments<'_>) {
        if self.stats {
            self.requested(Level::Info, args);
        }
    }

    /// A warning: through the facade, or to stderr when the application enabled no
    /// logging (unless a C program silenced the library).
    pub fn warn(&self, args: fmt::Arguments<'_>) {
        if !(log::max_level() == LevelFilter::Off && WARNINGS_SILENCED.load(Ordering::Relaxed)) {
            self.requested(Level::Warn, args);
        }
        #[cfg(test)]
        if let Some(k) = &self.kept {
            k.lock().push((self.target.to_string(), args.to_string()));
        }
    }

    /// A line for the application: through the facade, or to stderr when the application
    /// enabled no logging.
    fn requested(&self, level: Level, args: fmt::Arguments<'_>) {
        if log::max_level() == LevelFilter::Off {
            to_stderr(&self.target, level, args);
        } else {
            log::log!(target: &self.target, level, "{args}");
        }
    }
}

/// Lets a kind of warning through at most once per interval: the caller asks before
/// logging, and says in the next line it logs what it held back meanwhile.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WarnGate {
    every: Duration,
    last: Option<Instant>,
}

impl WarnGate {
    /// A gate that opens at most once per `every` (at once the first time).
    pub const fn new(every: Duration) -> Self {
        WarnGate { every, last: None }
    }

    /// Whether a warning may be logged at `now`; if so, the gate closes for `every`.
    pub fn admit(&mut self, now: Instant) -> bool {
        if self
            .last
            .is_some_and(|last| now.saturating_duration_since(last) < self.every)
        {
            return false;
        }
        self.last = Some(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gate_opens_once_per_interval() {
        let mut g = WarnGate::new(Duration::from_secs(60));
        let t0 = Instant::now();
        assert!(g.admit(t0));
        assert!(!g.admit(t0));
        assert!(!g.admit(t0 + Duration::from_secs(59)));
        assert!(g.admit(t0 + Duration::from_secs(60)));
        assert!(!g.admit(t0 + Duration::from_secs(61)));
        // a clock read earlier than the last opening keeps it closed
        assert!(!g.admit(t0));
    }

    #[test]
    fn warnings_go_under_the_app_name() {
        let (d, kept) = Diag::keeping("some-app");
        d.warn(format_args!("careful: {}", 42));
        assert_eq!(
            *kept.lock(),
            [("some-app".to_string(), "careful: 42".to_string())]
        );
    }

    #[test]
    fn flags_select_the_optional_lines() {
        let d = Diag::new("app", true, false);
        assert_eq!(d.target(), "app");
        assert!(d.debug_enabled() && !d.stats_enabled());
        let d = Diag::default();
        assert_eq!(d.target(), "sysflowlibs");
        assert!(!d.debug_enabled() && !d.stats_enabled());
    }
}
