//! Where syscall events come from: a scap capture file or the live CO-RE probe.
//!
//! A source only yields [`crate::event::SysEvent`]s (and the initial state they start
//! from); the driver owns the loop that feeds them to the state engine and the
//! aggregator.

pub mod scap;
pub mod scap_events;
pub use scap_events::{Item, ScapEvents, ScapOrigin};
pub mod live;

use crate::error::{Result, SysFlowError};
use scap::{ScapError, ScapErrorKind, ScapReader};
use std::path::Path;

/// A scap reading error as the driver reports it: open failures as
/// [`SysFlowError::ReadingFileSystem`], I/O errors as [`SysFlowError::Io`], anything else
/// as [`SysFlowError::EventParsing`] naming `path` and the byte offset.
pub fn scap_error(path: &Path, e: ScapError) -> SysFlowError {
    match e.kind {
        ScapErrorKind::Open { path, source } => SysFlowError::ReadingFileSystem { path, source },
        ScapErrorKind::Io { source } => SysFlowError::io(
            format!("reading {} at byte {}", path.display(), e.offset),
            source,
        ),
        kind => SysFlowError::parsing(path.display().to_string(), e.offset, kind.to_string()),
    }
}

/// Opens a capture file as a stream of events.
pub fn open_scap(path: &Path) -> Result<ScapEvents<impl std::io::Read + use<>>> {
    let reader = ScapReader::open(path).map_err(|e| scap_error(path, e))?;
    Ok(ScapEvents::new(reader))
}
