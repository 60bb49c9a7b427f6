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
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

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

/// Opens a capture file as a stream of events for a run that `stop` can end even while
/// it waits on a pipe or a FIFO whose writer neither writes nor closes (see
/// [`scap::StoppableFile`]). `Ok(None)`: the stop came before the capture's first
/// blocks (its header and process list) were read.
pub(crate) fn open_scap_until(
    path: &Path,
    stop: Arc<AtomicBool>,
) -> Result<Option<ScapEvents<scap::StoppableFile>>> {
    match ScapReader::open_until(path, stop) {
        Ok(reader) => Ok(Some(ScapEvents::new(reader))),
        Err(e) if e.is_stop_requested() => Ok(None),
        Err(e) => Err(scap_error(path, e)),
    }
}
