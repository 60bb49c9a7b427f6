//! The opaque [`sysflow_driver`] handle and its life cycle.

use super::boundary::Failure;
use super::config::{read_config, sysflow_config};
use super::status::sysflow_status;
use super::view::{CCallback, CallbackShared, in_callback};
use crate::driver::{ExitHandle, SysFlowDriver};
use std::ffi::c_char;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

/// Not run yet.
const IDLE: u8 = 0;
/// `sysflow_driver_run` is executing.
const RUNNING: u8 = 1;
/// `sysflow_driver_run` has returned.
const DONE: u8 = 2;
/// Flag: `sysflow_driver_free` was called while running; the run frees the handle.
const FREE_PENDING: u8 = 4;

/// A SysFlow driver: a capture source, the aggregator and the outputs (opaque).
///
/// Created by `sysflow_driver_new`, run once by `sysflow_driver_run`, stopped by
/// `sysflow_driver_exit`, released by `sysflow_driver_free`.
pub struct sysflow_driver {
    /// Reached by `sysflow_driver_exit` without any lock: only an atomic store.
    exit: ExitHandle,
    /// `IDLE`, `RUNNING` or `DONE`, plus `FREE_PENDING`.
    state: AtomicU8,
    /// Locked only by the (single) run.
    driver: parking_lot::Mutex<SysFlowDriver>,
    /// Shared with the record callback adapter.
    shared: Arc<CallbackShared>,
    /// What the run counted (a failed run's too, a panicked one's not), for
    /// `sysflow_driver_stats`.
    summary: parking_lot::Mutex<Option<crate::driver::RunSummary>>,
}

impl sysflow_driver {
    /// The run's counts (a failed run's too): zero before the run or after a panic; `None`
    /// while running.
    pub(crate) fn stats(&self) -> Option<super::stats::sysflow_stats> {
        if self.state.load(Ordering::SeqCst) & RUNNING != 0 {
            return None;
        }
        Some(self.summary.lock().as_ref().map_or_else(
            || super::stats::sysflow_stats {
                struct_size: std::mem::size_of::<super::stats::sysflow_stats>(),
                ..Default::default()
            },
            super::stats::sysflow_stats::from_summary,
        ))
    }
}

/// Creates a driver from `cfg` and stores it in `*out`.
///
/// The configuration is checked and copied (its strings too): `cfg` may be freed or
/// reused as soon as this returns. Outputs are opened here, so an unwritable `file_path`
/// or an unreachable `socket_path` fails now, not in `sysflow_driver_run`. Unless
/// `cfg->env_overrides` is false, the reference's environment variables are applied
/// first.
///
/// On success `*out` is a new driver to release with `sysflow_driver_free`. On failure
/// `*out` is set to `NULL` (when `out` is not `NULL`) and the status says why:
/// `SYSFLOW_STATUS_NULL_ARGUMENT`, `SYSFLOW_STATUS_UNKNOWN_STRUCT_SIZE`,
/// `SYSFLOW_STATUS_INVALID_UTF8`, `SYSFLOW_STATUS_INVALID_CONFIG`,
/// `SYSFLOW_STATUS_IO`, ... with details from `sysflow_last_error`.
///
/// # Safety
///
/// `cfg` must be `NULL` or point to a `sysflow_config` filled by `sysflow_config_init`
/// whose strings are `NULL` or NUL-terminated; `out` must be `NULL` or point to writable
/// storage for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sysflow_driver_new(
    cfg: *const sysflow_config,
    out: *mut *mut sysflow_driver,
) -> sysflow_status {
    ffi_boundary!(status "sysflow_driver_new" => {
        if out.is_null() {
            return Err(Failure::null("sysflow_driver_new", "out"));
        }
        // SAFETY: `out` is non-NULL and the caller guarantees it is writable.
        unsafe { out.write(std::ptr::null_mut()) };
        if cfg.is_null() {
            return Err(Failure::null("sysflow_driver_new", "cfg"));
        }
        // SAFETY: `cfg` is non-NULL; the caller guarantees it is an initialised config.
        let read = unsafe { read_config(cfg) }?;
        let shared = Arc::new(CallbackShared::default());
        let mut config = read.config;
        if let Some(mut cb) = CCallback::new(read.callback, read.userdata, shared.clone()) {
            config.callback = Some(Box::new(move |view| cb.call(view)));
        }
        let driver = SysFlowDriver::new(config)?;
        let exit = driver.exit_handle();
        let _ = shared.exit.set(exit.clone());
        let handle = Box::new(sysflow_driver {
            exit,
            state: AtomicU8::new(IDLE),
            driver: parking_lot::Mutex::new(driver),
            shared,
            summary: parking_lot::Mutex::new(None),
        });
        // SAFETY: as above, `out` is non-NULL and writable.
        unsafe { out.write(Box::into_raw(handle)) };
        Ok(())
    })
}

/// Runs the driver: blocks until the capture ends, calling the record callback (if any)
/// on this thread.
///
/// With `scap_input_path` set it converts the whole capture and returns; otherwise it
/// captures live until `sysflow_driver_exit`. Either way, `sysflow_driver_exit` makes it
/// flush open flows, close the outputs and return `SYSFLOW_STATUS_OK` soon after. If
/// `sysflow_driver_exit` was called before, the run returns at once having delivered
/// nothing.
///
/// A driver runs once: a second call returns `SYSFLOW_STATUS_ALREADY_RAN`, a call while
/// another thread runs it `SYSFLOW_STATUS_ALREADY_RUNNING`, and a call from inside any
/// record callback `SYSFLOW_STATUS_IN_CALLBACK`. Live capture not available in this
/// build or on this kernel gives `SYSFLOW_STATUS_OPERATION_NOT_SUPPORTED` or a probe
/// status; a damaged capture `SYSFLOW_STATUS_EVENT_PARSING_ERROR` after every record
/// before the damage was delivered.
///
/// # Safety
///
/// `driver` must be `NULL` or a live driver from `sysflow_driver_new`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sysflow_driver_run(driver: *mut sysflow_driver) -> sysflow_status {
    ffi_boundary!(status "sysflow_driver_run" => {
        if driver.is_null() {
            return Err(Failure::null("sysflow_driver_run", "driver"));
        }
        if in_callback() {
            return Err(Failure::new(
                sysflow_status::IN_CALLBACK,
                "sysflow_driver_run: called from inside a record callback; \
                 run drivers from outside callbacks",
            ));
        }
        // SAFETY: non-NULL, and the caller guarantees it is a live handle. A concurrent
        // `sysflow_driver_free` does not release it while the state is RUNNING.
        let h = unsafe { &*driver };
        if let Err(state) =
            h.state
                .compare_exchange(IDLE, RUNNING, Ordering::SeqCst, Ordering::SeqCst)
        {
            return Err(if state & RUNNING != 0 {
                Failure::new(
                    sysflow_status::ALREADY_RUNNING,
                    "sysflow_driver_run: the driver is already running on another thread",
                )
            } else {
                Failure::new(
                    sysflow_status::ALREADY_RAN,
                    "sysflow_driver_run: the driver has already run; a driver runs once, \
                     create a new one",
                )
            });
        }
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut driver = h.driver.lock();
            let result = driver.run();
            (result, driver.summary())
        }));
        let callback_panic = h.shared.panic.lock().take();
        if let (Ok((_, Some(summary))), None) = (&result, &callback_panic) {
            // also a failed run's: what it did before the failure
            *h.summary.lock() = Some(*summary);
        }
        let result = result.map(|(result, _)| result);
        let previous = h.state.swap(DONE, Ordering::SeqCst);
        // `h` is not used past this point: once the state is DONE a concurrent
        // `sysflow_driver_free` may release the handle.
        if previous & FREE_PENDING != 0 {
            // SAFETY: `sysflow_driver_free` was called during the run and left the release
            // to us (it saw RUNNING and set FREE_PENDING); the handle came from
            // `Box::into_raw` and no other reference to it is used any more.
            drop(unsafe { Box::from_raw(driver) });
        }
        if let Some(msg) = callback_panic {
            return Err(Failure::new(
                sysflow_status::PANIC,
                format!(
                    "sysflow_driver_run: internal panic while delivering a record to the \
                     callback (a bug in sysflow, please report it): {msg}"
                ),
            ));
        }
        match result {
            Ok(r) => r.map(|_summary| ()).map_err(Failure::from),
            Err(payload) => Err(Failure::new(
                sysflow_status::PANIC,
                format!(
                    "sysflow_driver_run: internal panic (a bug in sysflow, please report \
                     it): {}",
                    super::boundary::panic_message(&*payload)
                ),
            )),
        }
    })
}

/// Asks a running `sysflow_driver_run` to stop (or the next one not to start).
///
/// It only performs an atomic store, so it is safe from a signal handler, from another
/// thread and from inside the record callback; it never blocks, allocates or touches the
/// last error. `sysflow_driver_run` notices within milliseconds, flushes and returns.
///
/// Returns `SYSFLOW_STATUS_NULL_ARGUMENT` for `NULL`, else `SYSFLOW_STATUS_OK`.
///
/// # Safety
///
/// `driver` must be `NULL` or a live driver from `sysflow_driver_new` (not yet released by
/// `sysflow_driver_free`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sysflow_driver_exit(driver: *const sysflow_driver) -> sysflow_status {
    ffi_boundary!(value sysflow_status::PANIC => {
        if driver.is_null() {
            return sysflow_status::NULL_ARGUMENT;
        }
        // SAFETY: non-NULL, and the caller guarantees it is a live handle; `exit` is never
        // mutated after creation and `ExitHandle::exit` is a single atomic store.
        unsafe { (*driver).exit.exit() };
        sysflow_status::OK
    })
}

/// Whether `sysflow_driver_run` is capturing: true once a live capture takes events in
/// (its probe attached, the startup `/proc` snapshot read, the container runtimes' first
/// listings waited for) or once the capture file is open, until `sysflow_driver_run`
/// returns; false before, for a run that failed to start, and for `NULL`. A program that
/// starts `sysflow_driver_run` on another thread polls it before starting the work it
/// wants captured.
///
/// It only performs an atomic load: safe from any thread, a signal handler and the record
/// callback; it never blocks, allocates or touches the last error.
///
/// # Safety
///
/// `driver` must be `NULL` or a live driver from `sysflow_driver_new` (not yet released by
/// `sysflow_driver_free`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sysflow_driver_is_capturing(driver: *const sysflow_driver) -> bool {
    ffi_boundary!(value false => {
        if driver.is_null() {
            return false;
        }
        // SAFETY: non-NULL, and the caller guarantees it is a live handle; `exit` is never
        // mutated after creation and `ExitHandle::is_capturing` is a single atomic load.
        unsafe { (*driver).exit.is_capturing() }
    })
}

/// Releases a driver and everything it owns (outputs are closed). `NULL` is a no-op.
/// A driver that never ran removes the output file it created if that file still holds
/// only its header, so that checking a configuration leaves no empty `.sf` behind.
///
/// If the driver is running (called from its record callback or from another thread),
/// the run is asked to stop and the release happens when `sysflow_driver_run` returns;
/// the pointer must not be passed to any function after this call either way (the
/// ongoing `sysflow_driver_run` call itself completes normally).
///
/// # Safety
///
/// `driver` must be `NULL` or a driver from `sysflow_driver_new` not already freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sysflow_driver_free(driver: *mut sysflow_driver) {
    ffi_boundary!(value () => {
        if driver.is_null() {
            return;
        }
        // SAFETY: non-NULL, and the caller guarantees it is a live handle.
        let h = unsafe { &*driver };
        let deferred = h
            .state
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |s| {
                (s & RUNNING != 0).then_some(s | FREE_PENDING)
            })
            .is_ok();
        if deferred {
            h.exit.exit();
            return;
        }
        // SAFETY: the handle came from `Box::into_raw` in `sysflow_driver_new`, it is not
        // running (so no run holds a reference), and the caller passes it here once.
        drop(unsafe { Box::from_raw(driver) });
    })
}

/// The library version (`"MAJOR.MINOR.PATCH"`), a static NUL-terminated string. Never
/// free it.
#[unsafe(no_mangle)]
pub extern "C" fn sysflow_version() -> *const c_char {
    static VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    ffi_boundary!(value VERSION.as_ptr().cast() => {
        VERSION.as_ptr().cast()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn version_is_the_crate_version() {
        // SAFETY: a static NUL-terminated string.
        let v = unsafe { CStr::from_ptr(sysflow_version()) };
        assert_eq!(v.to_str().unwrap(), SysFlowDriver::version());
    }

    #[test]
    fn null_handles_give_statuses() {
        // SAFETY: NULL is allowed everywhere.
        unsafe {
            assert_eq!(
                sysflow_driver_run(std::ptr::null_mut()),
                sysflow_status::NULL_ARGUMENT
            );
            assert_eq!(
                sysflow_driver_exit(std::ptr::null()),
                sysflow_status::NULL_ARGUMENT
            );
            sysflow_driver_free(std::ptr::null_mut());
            assert_eq!(
                sysflow_driver_new(std::ptr::null(), std::ptr::null_mut()),
                sysflow_status::NULL_ARGUMENT
            );
        }
    }
}
