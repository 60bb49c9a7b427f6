//! Converting a scap capture: the offline source driven to completion.

use super::scap::{ScapError, ScapErrorKind, ScapReader};
use super::scap_events::{Item, ScapEvents, initial_state};
use crate::aggregate::{AggConfig, Aggregator};
use crate::driver::ExitHandle;
use crate::error::{Result, SysFlowError};
use crate::export::FanOut;
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

/// Converts a whole capture into SysFlow records delivered to `out`.
///
/// On damage (a truncated or corrupt capture) every record derivable from the events before
/// the damage is still delivered — open flows end with TRUNCATE — and then the parsing
/// error is returned.
pub fn convert_scap(
    path: &Path,
    cfg: AggConfig,
    filter_containers: bool,
    out: &mut FanOut,
    exit: &ExitHandle,
) -> Result<ConvertStats> {
    let reader = ScapReader::open(path).map_err(|e| scap_error(path, e))?;
    let mut events = ScapEvents::new(reader);
    let mut state = initial_state(events.metadata());
    if out.header().exporter.is_empty() {
        out.set_exporter(state.hostname.clone());
    }
    out.start()?;
    let mut agg = Aggregator::new(cfg);
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
            Item::NewSection => {
                // A concatenated capture: its own process list replaces the state.
                let meta = events.metadata();
                state = initial_state(meta);
            }
            Item::Event(ev) => {
                let has_thread = state.apply(&ev);
                agg.set_time(ev.ts);
                agg.housekeeping(out)?;
                if filter_containers
                    && state
                        .threads
                        .get(ev.tid)
                        .is_none_or(|t| t.container_id.is_empty())
                {
                    continue;
                }
                agg.handle(&state, &ev, has_thread, out)?;
            }
        }
    }
    agg.finish(out)?;
    let stats = ConvertStats {
        events: events.raw_events,
    };
    match failure {
        Some(e) => Err(e),
        None => Ok(stats),
    }
}
