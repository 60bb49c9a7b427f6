//! Converting a scap capture: the offline source driven to completion.

use super::scap::{ScapError, ScapErrorKind, ScapReader};
use super::scap_events::{Item, ScapEvents, initial_state};
use crate::driver::ExitHandle;
use crate::error::{Result, SysFlowError};
use crate::export::FanOut;
use crate::pipeline::Pipeline;
use std::path::Path;

/// Counters of one conversion.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConvertStats {
    /// Raw capture events read.
    pub events: u64,
}

fn scap_error(path: &Path, e: ScapError) -> SysFlowError {
    match e.kind {
        ScapErrorKind::Open { path, source } => SysFlowError::ReadingFileSystem { path, source },
        ScapErrorKind::Io { source } => SysFlowError::io(
            format!("reading {} at byte {}", path.display(), e.offset),
            source,
        ),
        kind => SysFlowError::parsing(path.display().to_string(), e.offset, kind.to_string()),
    }
}

/// Opens a capture and builds the pipeline's initial state from its metadata.
pub(crate) fn open_scap(path: &Path) -> Result<ScapEvents<impl std::io::Read + use<>>> {
    let reader = ScapReader::open(path).map_err(|e| scap_error(path, e))?;
    Ok(ScapEvents::new(reader))
}

/// Converts a whole capture through `pipe` into `out`.
///
/// On damage (a truncated or corrupt capture) every record derivable from the events before
/// the damage is still delivered — open flows end with TRUNCATE — and then the parsing
/// error is returned.
pub(crate) fn convert_scap<R: std::io::Read>(
    path: &Path,
    mut events: ScapEvents<R>,
    pipe: &mut Pipeline,
    out: &mut FanOut,
    exit: &ExitHandle,
) -> Result<ConvertStats> {
    pipe.state = initial_state(events.metadata());
    if out.header().exporter.is_empty() {
        out.set_exporter(pipe.state.hostname.clone());
    }
    let mut failure = None;
    loop {
        if events.raw_events % 4096 == 0 && exit.is_exiting() {
            break;
        }
        let item = match events.next_item() {
            Ok(Some(item)) => item,
            Ok(None) => break,
            Err(e) => {
                failure = Some(scap_error(path, e));
                break;
            }
        };
        match item {
            // A concatenated capture: its own process list replaces the state.
            Item::NewSection => pipe.state = initial_state(events.metadata()),
            Item::Event(ev) => pipe.on_event(&ev, out)?,
        }
    }
    pipe.finish(out)?;
    match failure {
        Some(e) => Err(e),
        None => Ok(ConvertStats {
            events: events.raw_events,
        }),
    }
}
