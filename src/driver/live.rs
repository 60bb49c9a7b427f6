//! The live run loop: the probe's events through the pipeline until exit.

use super::pipeline::{Pipeline, Rotation};
use super::{ExitHandle, RunSummary};
use crate::clock;
use crate::config::SysFlowConfig;
use crate::error::{Result, SysFlowError};
use crate::event::SysEvent;
use crate::export::FanOut;
use crate::source::live::{LiveConfig, LiveSource};
use crate::state::State;
use std::time::{Duration, Instant};

/// Host users and groups, for names of live processes (`$HOST_ROOT/etc/passwd` and
/// `group` when `HOST_ROOT` is set, as the reference honours it).
fn load_host_users(state: &mut State) {
    let root = std::env::var("HOST_ROOT").unwrap_or_default();
    if let Ok(text) = std::fs::read(format!("{root}/etc/passwd")) {
        state.users.load_passwd(b"", &text);
    }
    if let Ok(text) = std::fs::read(format!("{root}/etc/group")) {
        state.users.load_group(b"", &text);
    }
}

/// How often in-kernel read/write counters are shipped, so the 30-second flow export
/// sees them.
const COUNTER_FLUSH: Duration = Duration::from_secs(1);
/// How often buffered file output is pushed to disk.
const OUTPUT_FLUSH: Duration = Duration::from_secs(2);

/// Captures live until `exit` is requested, then flushes open flows and returns.
pub(crate) fn run(
    cfg: &SysFlowConfig,
    pipe: &mut Pipeline,
    out: &mut FanOut,
    exit: &ExitHandle,
) -> Result<RunSummary> {
    let mut src = LiveSource::open(&LiveConfig::from(cfg))?;
    load_host_users(&mut pipe.state);
    for p in src.snapshot()? {
        pipe.state.load_snapshot(&p);
    }
    pipe.state.finish_snapshot();
    if out.header().exporter.is_empty() {
        let host = nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_default();
        out.set_exporter(host);
    }
    let start = clock::wall_s();
    pipe.rotation = Some(Rotation {
        interval_s: i64::from(cfg.rotate_interval),
        period_start: start,
    });
    out.start_at(start)?;

    // The source calls back for each event; the first pipeline error stops the capture.
    let mut failure: Option<SysFlowError> = None;
    fn deliver(
        pipe: &mut Pipeline,
        out: &mut FanOut,
        failure: &mut Option<SysFlowError>,
        ev: &SysEvent<'_>,
    ) {
        if failure.is_none()
            && let Err(e) = pipe.on_event(ev, out)
        {
            *failure = Some(e);
        }
    }
    let (mut last_counters, mut last_flush) = (Instant::now(), Instant::now());
    while !exit.is_exiting() {
        let n = src.poll(Duration::from_millis(50), &mut |ev| {
            deliver(pipe, out, &mut failure, ev)
        })?;
        if n == 0 {
            pipe.tick(clock::wall_ns(), out)?;
        }
        if last_counters.elapsed() >= COUNTER_FLUSH {
            src.flush_counters(&mut |ev| deliver(pipe, out, &mut failure, ev))?;
            last_counters = Instant::now();
        }
        if last_flush.elapsed() >= OUTPUT_FLUSH {
            out.flush()?;
            last_flush = Instant::now();
        }
        if let Some(e) = failure.take() {
            return Err(e);
        }
    }
    // Drain what the kernel still holds, then end every open flow.
    src.poll(Duration::ZERO, &mut |ev| {
        deliver(pipe, out, &mut failure, ev)
    })?;
    src.flush_counters(&mut |ev| deliver(pipe, out, &mut failure, ev))?;
    if let Some(e) = failure.take() {
        return Err(e);
    }
    pipe.tick(clock::wall_ns(), out)?;
    pipe.finish(out)?;
    let s = src.stats();
    Ok(RunSummary {
        events: s.events,
        source_drops: s.ring_drops,
        ..RunSummary::default()
    })
}
