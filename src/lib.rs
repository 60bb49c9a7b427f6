//! # sysflow
//!
//! SysFlow telemetry for Rust, C and C++: turns what a Linux machine does — processes,
//! files, network — into [SysFlow](https://sysflow.readthedocs.io) records, the compact
//! object-relational format of the SysFlow project (schema v5).
//!
//! ## Overview
//!
//! - [`model`]: the record types (entities, events, flows, [`model::Oid`],
//!   [`model::Foid`], [`model::OpFlags`]).
//! - [`avro`]: SysFlow Avro files (read and write) and the socket wire format.
//! - [`SysFlowDriver`] / [`SysFlowConfig`]: a capture source, the aggregator and the sinks
//!   (a Rust callback, Avro files with rotation, a unix socket).
//! - [`runtime`]: container context — the container a process runs in, from its cgroup
//!   (read in the kernel), and what the container runtimes (Docker-compatible API, CRI)
//!   say about it and its Kubernetes pod, asked by a metadata worker thread.
//!
//! ## Threading
//!
//! [`SysFlowDriver::run`] blocks the calling thread and invokes the record callback on it.
//! A live capture also runs one metadata thread (`sysflow-meta`, with a current-thread
//! tokio runtime confined to it) that talks to the container runtimes, and one thread
//! (`sysflow-proc`) that reads `/proc` for the periodic reconciliation of the thread
//! table; the event path never waits for either (should the `/proc` thread fail to
//! start or die, the capture thread reads `/proc` itself, with a warning).
//! [`ExitHandle`] (from [`SysFlowDriver::exit_handle`]) is `Send + Sync + Clone`; its
//! `exit()` only sets an atomic flag and may be called from a signal handler.
//!
//! ## Errors
//!
//! Every fallible call returns [`SysFlowError`], whose [`SysFlowError::code`] maps onto the
//! reference library's error codes. Malformed input (captures, SysFlow files) is an
//! [`SysFlowError::EventParsing`] naming the input and byte offset, after every record
//! before the damage was delivered; it is never a panic. Should the library find its own
//! bookkeeping inconsistent (a bug), the run stops with [`SysFlowError::Internal`], not a
//! panic either.

#![deny(unsafe_code)]

pub mod aggregate;
pub mod avro;
pub mod clock;
mod config;
mod diag;
mod driver;
mod error;
pub mod event;
pub mod export;
pub mod ffi;
pub mod filter;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod k8s;
pub mod model;
pub mod runtime;
pub mod source;
pub mod state;

pub use config::{
    CollectionMode, DEFAULT_BUFFER_BYTES, FileReadMode, MAX_CRI_TIMEOUT, SysFlowConfig,
};
#[doc(hidden)]
pub use driver::filter_trace;
pub use driver::{ExitHandle, RunSummary, SysFlowDriver};
pub use error::{ErrorCode, Result, SysFlowError};
pub use export::{RecordCallback, RecordSink, RecordView};
