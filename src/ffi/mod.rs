//! The C ABI: every `extern "C"` item of the crate, and nothing else.
//!
//! `include/sysflow.h` is generated from this module by cbindgen (`cbindgen.toml`) and
//! checked in; `tests/c_abi.rs` fails when it is stale. The Rust names of the items are
//! their C names, so what you read here is what a C caller sees.
//!
//! ## Policy
//!
//! - One opaque handle, [`sysflow_driver`], created by [`sysflow_driver_new`] from a
//!   caller-owned [`sysflow_config`] (filled with defaults by [`sysflow_config_init`], first
//!   field its own size) and released by [`sysflow_driver_free`] (`NULL` is a no-op).
//! - Every fallible call returns a [`sysflow_status`] (`0` is success; numbers are never
//!   reused) and, on failure, records a detail message for the calling thread that
//!   [`sysflow_last_error`] copies out. [`sysflow_status_str`] names a status.
//! - No Rust panic crosses the boundary: every exported body runs inside
//!   `ffi_boundary!`, which turns a panic into [`sysflow_status::PANIC`] (or a neutral
//!   value for functions that return no status), and the record callback adapter catches
//!   panics of its own.
//! - Record data handed to the callback is borrowed ([`sysflow_str`] views into the
//!   driver's memory) and valid only until the callback returns.
//! - [`sysflow_driver_exit`] only performs an atomic store and
//!   [`sysflow_driver_is_capturing`] an atomic load: safe from a signal handler or another
//!   thread.
//!
//! Unsafe code is allowed in this module only; every unsafe block states why it is sound.

#![allow(unsafe_code)]
#![allow(non_camel_case_types)]

#[macro_use]
mod boundary;
mod config;
mod driver;
mod log;
mod sizes;
mod stats;
mod status;
mod view;

pub use boundary::sysflow_last_error;
#[cfg(feature = "fuzzing")]
pub(crate) use config::fuzz_config;
pub use config::{
    SYSFLOW_CODEC_DEFLATE, SYSFLOW_CODEC_NULL, SYSFLOW_COLLECTION_MODE_CONSUMER,
    SYSFLOW_COLLECTION_MODE_FLOW, SYSFLOW_COLLECTION_MODE_NO_FILES, SYSFLOW_FILE_READ_MODE_ALL,
    SYSFLOW_FILE_READ_MODE_NO_NOISY_READS, SYSFLOW_FILE_READ_MODE_NO_READS, sysflow_config,
    sysflow_config_init, sysflow_config_init_sized,
};
pub use driver::{
    sysflow_driver, sysflow_driver_exit, sysflow_driver_free, sysflow_driver_is_capturing,
    sysflow_driver_new, sysflow_driver_run, sysflow_version,
};
pub use log::{
    SYSFLOW_LOG_DEBUG, SYSFLOW_LOG_ERROR, SYSFLOW_LOG_INFO, SYSFLOW_LOG_OFF, SYSFLOW_LOG_TRACE,
    SYSFLOW_LOG_WARN, sysflow_log_fn, sysflow_set_log_callback,
};
pub use sizes::*;
pub use stats::{sysflow_driver_stats, sysflow_stats};
pub use status::{sysflow_status, sysflow_status_str};
pub use view::*;
