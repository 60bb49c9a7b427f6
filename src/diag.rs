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

use log::{Level, LevelFilter};
use std::fmt;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Warnings are dropped, not written to stderr, while logging is off: a C program stopped
/// the delivery on purpose (`sysflow_set_log_callback` with `NULL` or `SYSFLOW_LOG_OFF`).
static WARNINGS_SILENCED: AtomicBool = AtomicBool::new(false);

/// Whether warnings are dropped (not written to stderr) while logging is off.
pub(crate) fn silence_warnings(silenced: bool) {
    WARNINGS_SILENCED.store(silenced, Ordering::Relaxed);
}
use std::time::{Duration, Instant};

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
            // never a panic for a stderr that cannot be written (a full disk, a closed pipe)
            let _ = writeln!(std::io::stderr().lock(), "{}: {level} {args}", self.target);
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
