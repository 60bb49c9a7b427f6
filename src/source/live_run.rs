//! Live capture driven by the driver: the probe's events through the pipeline until exit.

use super::live::{LiveConfig, LiveSource};
use crate::config::SysFlowConfig;
use crate::driver::{ExitHandle, RunSummary};
use crate::error::{Result, SysFlowError};
use crate::event::SysEvent;
use crate::export::FanOut;
use crate::pipeline::{Pipeline, Rotation};
use crate::state::{State, UserInfo};
use std::time::{Duration, Instant};

fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Host users and groups, for names of live processes (`$HOST_ROOT/etc/passwd` and
/// `group` when `HOST_ROOT` is set, as the reference honours it).
fn load_host_users(state: &mut State) {
    let root = std::env::var("HOST_ROOT").unwrap_or_default();
    if let Ok(text) = std::fs::read(format!("{root}/etc/passwd")) {
        for line in text.split(|&b| b == b'\n') {
            let f: Vec<&[u8]> = line.split(|&b| b == b':').collect();
            if f.len() < 7 {
                continue;
            }
            let num = |b: &[u8]| std::str::from_utf8(b).ok()?.parse::<u32>().ok();
            if let (Some(uid), Some(gid)) = (num(f[2]), num(f[3])) {
                state.users.add_user(
                    b"",
                    UserInfo {
                        uid,
                        gid,
                        name: f[0].to_vec(),
                        home: f[5].to_vec(),
                        shell: f[6].to_vec(),
                    },
                );
            }
        }
    }
    if let Ok(text) = std::fs::read(format!("{root}/etc/group")) {
        for line in text.split(|&b| b == b'\n') {
            let f: Vec<&[u8]> = line.split(|&b| b == b':').collect();
            if f.len() < 3 {
                continue;
            }
            if let Some(gid) = std::str::from_utf8(f[2]).ok().and_then(|s| s.parse().ok()) {
                state.users.add_group(b"", gid, f[0]);
            }
        }
    }
}

/// How often in-kernel read/write counters are shipped, so the 30-second flow export
/// sees them.
const COUNTER_FLUSH: Duration = Duration::from_secs(1);
/// How often buffered file output is pushed to disk.
const OUTPUT_FLUSH: Duration = Duration::from_secs(2);

/// Captures live until `exit` is requested, then flushes open flows and returns.
pub(crate) fn run_live(
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
    let start = crate::driver::now_epoch();
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
            pipe.tick(now_ns(), out)?;
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
    pipe.tick(now_ns(), out)?;
    pipe.finish(out)?;
    let s = src.stats();
    Ok(RunSummary {
        events: s.events,
        source_drops: s.ring_drops,
        ..RunSummary::default()
    })
}
