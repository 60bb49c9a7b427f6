//! [`sysflow_set_log_callback`]: the library's log lines (the `log` facade) delivered to a
//! C function.

use super::boundary::Failure;
use super::status::sysflow_status;
use log::{LevelFilter, Log, Metadata, Record};
use parking_lot::RwLock;
use std::ffi::{CString, c_char, c_void};
use std::sync::atomic::{AtomicBool, Ordering};

/// No log lines (the level of `sysflow_set_log_callback` that turns logging off).
pub const SYSFLOW_LOG_OFF: i32 = 0;
/// Errors only.
pub const SYSFLOW_LOG_ERROR: i32 = 1;
/// Warnings and errors.
pub const SYSFLOW_LOG_WARN: i32 = 2;
/// Information lines (the `enable_stats` lines among them), warnings and errors.
pub const SYSFLOW_LOG_INFO: i32 = 3;
/// Debug lines too (those `debug_mode` turns on).
pub const SYSFLOW_LOG_DEBUG: i32 = 4;
/// Everything.
pub const SYSFLOW_LOG_TRACE: i32 = 5;

/// A log line's receiver: `level` is one of `SYSFLOW_LOG_ERROR` .. `SYSFLOW_LOG_TRACE`,
/// `target` names the source of the line (the driver's lines carry the configured
/// `app_name`), `message` is the line without a trailing newline. Both strings are UTF-8,
/// NUL-terminated and valid only during the call. `user` is the pointer given to
/// `sysflow_set_log_callback`.
///
/// It may be called from any thread the library runs (the thread running
/// `sysflow_driver_run`, and the container metadata thread), possibly concurrently, so it
/// must be thread-safe. It must not call back into the library.
pub type sysflow_log_fn = Option<
    unsafe extern "C" fn(
        level: i32,
        target: *const c_char,
        message: *const c_char,
        user: *mut c_void,
    ),
>;

struct Sink {
    func: unsafe extern "C" fn(i32, *const c_char, *const c_char, *mut c_void),
    /// The caller's pointer, as an integer: it is only handed back.
    user: usize,
}

/// The logger installed by the first `sysflow_set_log_callback`.
struct CLogger {
    sink: RwLock<Option<Sink>>,
}

static LOGGER: CLogger = CLogger {
    sink: RwLock::new(None),
};
/// Whether [`LOGGER`] is the process's logger.
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// Interior NULs would cut the C string short: they are shown as `\0`.
fn c_string(s: &str) -> CString {
    CString::new(s.replace('\0', "\\0")).unwrap_or_default()
}

impl Log for CLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level() && self.sink.read().is_some()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let target = c_string(record.target());
        let message = c_string(&record.args().to_string());
        let sink = self.sink.read();
        if let Some(s) = sink.as_ref() {
            // SAFETY: the caller of `sysflow_set_log_callback` promised a function that
            // takes these arguments and is safe to call from any thread; both strings
            // live until the call returns.
            unsafe {
                (s.func)(
                    record.level() as i32,
                    target.as_ptr(),
                    message.as_ptr(),
                    s.user as *mut c_void,
                )
            };
        }
    }

    fn flush(&self) {}
}

fn level_filter(level: i32) -> Option<LevelFilter> {
    Some(match level {
        SYSFLOW_LOG_OFF => LevelFilter::Off,
        SYSFLOW_LOG_ERROR => LevelFilter::Error,
        SYSFLOW_LOG_WARN => LevelFilter::Warn,
        SYSFLOW_LOG_INFO => LevelFilter::Info,
        SYSFLOW_LOG_DEBUG => LevelFilter::Debug,
        SYSFLOW_LOG_TRACE => LevelFilter::Trace,
        _ => return None,
    })
}

/// Sends the library's log lines up to `max_level` (`SYSFLOW_LOG_OFF` ..
/// `SYSFLOW_LOG_TRACE`) to `callback`, with `user` passed back on every call.
///
/// The library logs through Rust's `log` facade, which has one logger per process: the
/// first call installs a logger that forwards to the callback; later calls replace the
/// callback and level. Before any call, warnings and the lines the configuration asks
/// for (`debug_mode`, `enable_stats`) are written to standard error as
/// `<app_name>: <LEVEL> <message>`. A `NULL` callback (or `SYSFLOW_LOG_OFF`) stops the
/// delivery: warnings are then dropped, and the requested lines go to standard error.
/// Writing to standard error never waits: a line it cannot take at once (a full pipe
/// nobody reads, a reader gone) is dropped and counted in the next line that gets through.
///
/// Returns `SYSFLOW_STATUS_INVALID_CONFIG` for an unknown level and
/// `SYSFLOW_STATUS_OPERATION_NOT_SUPPORTED` when another logger (a Rust one, installed
/// by the application) already receives the lines.
///
/// # Safety
///
/// `callback`, if not `NULL`, must be safe to call with the documented arguments from any
/// thread at any time until it is replaced (by a later call); `user` is only handed back.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sysflow_set_log_callback(
    callback: sysflow_log_fn,
    user: *mut c_void,
    max_level: i32,
) -> sysflow_status {
    ffi_boundary!(status "sysflow_set_log_callback" => {
        let Some(filter) = level_filter(max_level) else {
            return Err(Failure::new(
                sysflow_status::INVALID_CONFIG,
                format!(
                    "sysflow_set_log_callback: max_level {max_level} is not one of \
                     SYSFLOW_LOG_OFF (0) .. SYSFLOW_LOG_TRACE (5)"
                ),
            ));
        };
        if !INSTALLED.load(Ordering::SeqCst) {
            // a concurrent first call may have installed ours meanwhile
            let ours = |l: &dyn Log| std::ptr::addr_eq(l as *const dyn Log, &LOGGER as *const CLogger);
            if log::set_logger(&LOGGER).is_err() && !ours(log::logger()) {
                return Err(Failure::new(
                    sysflow_status::OPERATION_NOT_SUPPORTED,
                    "sysflow_set_log_callback: the application already installed a logger \
                     for the `log` facade; the library's lines go there",
                ));
            }
            INSTALLED.store(true, Ordering::SeqCst);
        }
        let sink = callback.map(|func| Sink {
            func,
            user: user as usize,
        });
        let filter = if sink.is_some() { filter } else { LevelFilter::Off };
        *LOGGER.sink.write() = sink;
        log::set_max_level(filter);
        // delivery stopped on purpose: warnings are dropped, not sent to stderr
        crate::diag::silence_warnings(filter == LevelFilter::Off);
        Ok(())
    })
}
