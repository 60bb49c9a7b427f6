//! The offline run loop: a scap capture driven to completion through the pipeline.

use super::ExitHandle;
use super::pipeline::Pipeline;
use crate::error::Result;
use crate::export::FanOut;
use crate::source::scap_events::initial_state;
use crate::source::{Item, ScapEvents, scap_error};
use std::path::Path;

/// Converts a whole capture through `pipe` into `out`; returns the raw events read.
///
/// A stop ([`ExitHandle::exit`]) before the capture's end ends the conversion as its end
/// would, counted in `input_stopped` (in the last file's `sysflow.losses` too).
///
/// On damage (a truncated or corrupt capture) every record derivable from the events before
/// the damage is still delivered — open flows end with TRUNCATE — the damage is counted
/// (`input_errors`: in the last file's `sysflow.losses`, and marked on the socket stream
/// before its last records), and then the parsing error is returned.
pub(crate) fn convert<R: std::io::Read>(
    path: &Path,
    mut events: ScapEvents<R>,
    pipe: &mut Pipeline,
    out: &mut FanOut,
    exit: &ExitHandle,
) -> Result<u64> {
    pipe.state = initial_state(events.metadata());
    if out.header().exporter.is_empty() {
        out.set_exporter(pipe.state.hostname.clone());
    }
    let mut failure = None;
    loop {
        if events.raw_events % 4096 == 0 && exit.is_exiting() {
            pipe.input_stopped = 1;
            break;
        }
        let item = match events.next_item() {
            Ok(Some(item)) => item,
            Ok(None) => break,
            // asked to stop while waiting on a pipe: not damage, the run ends as at any
            // stop
            Err(e) if e.is_stop_requested() => {
                pipe.input_stopped = 1;
                break;
            }
            Err(e) => {
                failure = Some(scap_error(path, e));
                pipe.input_errors += 1;
                break;
            }
        };
        match item {
            // A concatenated capture: its own process list replaces the state (its
            // count of invalid events is kept).
            Item::NewSection => {
                pipe.earlier_invalid_events += pipe.state.invalid_events;
                pipe.state = initial_state(events.metadata());
            }
            Item::Event(ev, origin) => pipe.on_event_coded(&ev, Some(&origin), out)?,
        }
    }
    pipe.finish(out)?;
    match failure {
        Some(e) => Err(e),
        None => Ok(events.raw_events),
    }
}
