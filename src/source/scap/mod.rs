//! Reader for libscap savefiles (`.scap` captures), plain or gzip-compressed.
//!
//! A capture is a sequence of blocks (`u32 type, u32 total_length, body, padding,
//! u32 total_length`): a section header, metadata blocks (machine info, process list,
//! fd lists, interface list, user list), then event blocks. A new section header after
//! events starts a new section (a concatenated capture), whose metadata replaces the
//! previous one.
//!
//! [`ScapReader`] loads the metadata when opened ([`ScapReader::metadata`]) and then
//! returns events one at a time ([`ScapReader::next_event`]) without allocating: each
//! [`RawEvent`] borrows the reader's block buffer, and its parameters are raw byte slices
//! decoded with the helpers in [`params`]. Names and paths are raw bytes, since captured
//! strings need not be UTF-8.
//!
//! ```no_run
//! use sysflow::source::scap::{params, ScapReader};
//!
//! let mut reader = ScapReader::open("capture.scap")?;
//! println!("{} processes", reader.metadata().processes.len());
//! while let Some(ev) = reader.next_event()? {
//!     if ev.event_type == 3 {
//!         // PPME_SYSCALL_OPEN_X: fd, name, ...
//!         let fd = ev.param(0).and_then(params::le_i64);
//!         let name = ev.param(1).and_then(params::charbuf);
//!         println!("{fd:?} {:?}", name.map(String::from_utf8_lossy));
//!     }
//! }
//! # Ok::<(), sysflow::source::scap::ScapError>(())
//! ```
//!
//! Errors ([`ScapError`]) carry the byte offset of the damage. A truncated or corrupt
//! capture yields every intact event before the damage, then one error; the reader never
//! panics on bad input and never allocates more than the 64 MiB block limit.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod block;
mod cursor;
mod error;
mod event;
mod fd;
mod iface;
mod input;
mod meta;
pub mod params;
mod proc;
mod reader;
mod stoppable;
mod user;

#[cfg(test)]
mod corpus_tests;

pub use error::{ScapError, ScapErrorKind};
pub use event::{LARGE_PAYLOAD_TYPES, is_large_payload};
pub use event::{Params, ParamsIter, RawEvent};
pub use fd::{FdEntry, FdInfo, FdList};
pub use iface::{Interface, InterfaceAddr};
pub use meta::{MachineInfo, ScapMetadata, SectionHeader};
pub use proc::ProcEntry;
pub use reader::{ScapItem, ScapReader};
pub use stoppable::StoppableFile;
pub use user::{Group, User};
