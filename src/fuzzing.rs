//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`; not a stable API).
//!
//! Each takes arbitrary bytes and drives one input-facing part of the crate the way real
//! input would; none may panic, hang or allocate without bound, whatever the bytes.

use crate::SysFlowConfig;
use crate::aggregate::AggConfig;
use crate::driver::ExitHandle;
use crate::export::{CallbackSink, FanOut};
use crate::model::SfHeader;
use crate::source::ScapEvents;
use crate::source::scap::ScapReader;
use std::path::Path;

/// The offline pipeline: capture bytes → scap reader → events → state → aggregator →
/// records (delivered to a callback that counts them). Returns the records delivered.
pub fn scap_to_records(bytes: &[u8]) -> u64 {
    let Ok(reader) = ScapReader::new(bytes) else {
        return 0;
    };
    let (mut pipe, mut out, count) = counting_pipeline();
    let exit = ExitHandle::default();
    let _ = crate::driver::offline::convert(
        Path::new("fuzz.scap"),
        ScapEvents::new(reader),
        &mut pipe,
        &mut out,
        &exit,
    );
    let _ = out.finish();
    count.load(std::sync::atomic::Ordering::Relaxed)
}

/// The live pipeline past the ring buffer: records as the probe writes them, each preceded
/// by its length (two bytes, little-endian), decoded and taken through the pipeline as a
/// live capture takes them (the kernel's fd descriptions believed as the live driver
/// believes them; no `/proc` is read), on a state that knows init (1) and a process (100)
/// with a thread (101). Returns the records delivered.
pub fn probe_records_to_records(bytes: &[u8]) -> u64 {
    let (mut pipe, mut out, count) = counting_pipeline();
    for (tid, pid, ptid) in [(1, 1, 0), (100, 100, 1), (101, 100, 1)] {
        pipe.state.load_snapshot(&crate::state::ProcSnapshot {
            tid,
            pid,
            ptid,
            vtid: tid,
            vpid: pid,
            exe: b"/bin/sh".to_vec(),
            ..Default::default()
        });
    }
    pipe.state.finish_snapshot();
    let no_proc = Path::new("/nonexistent/proc");
    let mut failed = false;
    crate::source::live::events_for_fuzzing(bytes, &mut |ev| {
        crate::driver::live::learn_unseen_fd(&mut pipe, ev, no_proc);
        if !failed {
            failed = pipe.on_event(ev, &mut out).is_err();
        }
    });
    let _ = pipe.finish(&mut out);
    let _ = out.finish();
    count.load(std::sync::atomic::Ordering::Relaxed)
}

/// A pipeline with every record kind on (all reads, not files only) on an empty state,
/// and outputs that only count the records delivered.
fn counting_pipeline() -> (
    crate::driver::pipeline::Pipeline,
    FanOut,
    std::sync::Arc<std::sync::atomic::AtomicU64>,
) {
    let config = SysFlowConfig {
        file_only: false,
        file_read_mode: crate::FileReadMode::All,
        env_overrides: false,
        ..SysFlowConfig::default()
    };
    let mut out = FanOut::new(SfHeader::default());
    let count = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let seen = count.clone();
    out.add(Box::new(CallbackSink::new(Box::new(move |_| {
        seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }))));
    let pipe = crate::driver::pipeline::Pipeline::new(
        crate::state::State::new(),
        AggConfig::from(&config),
        false,
    );
    (pipe, out, count)
}

/// The `.sf` reader: every record of a SysFlow Avro file until the end or an error.
/// Returns the records read.
pub fn read_sf(bytes: &[u8]) -> u64 {
    let Ok(r) = crate::avro::SfReader::new(bytes, "fuzz.sf") else {
        return 0;
    };
    let mut n = 0;
    for rec in r {
        if rec.is_err() {
            break;
        }
        n += 1;
    }
    n
}

/// The live source's decoder: one ring-buffer record as the probe would write it.
/// Returns whether it decoded.
pub fn decode_probe_record(bytes: &[u8]) -> bool {
    crate::source::live::decode_for_fuzzing(bytes)
}

/// The C configuration reader: a `sysflow_config` whose scalar fields come from `bytes`
/// and whose string fields are NUL-terminated pieces of them (never invalid pointers).
/// Returns whether `sysflow_driver_new` would accept it past its own checks.
pub fn c_config(bytes: &[u8]) -> bool {
    crate::ffi::fuzz_config(bytes)
}

/// A filter string: compiled, and when it compiles, evaluated on a synthetic event that
/// has a value for every field (strings of the bytes after the filter, numbers of their
/// length). Returns whether it matched.
pub fn filter(data: &[u8]) -> bool {
    use crate::filter::{EventFields, Field, Filter, Value};
    struct Synthetic<'a>(&'a [u8]);
    impl EventFields for Synthetic<'_> {
        fn value<'s>(&'s self, field: &Field, n: usize, _: &'s mut Vec<u8>) -> Option<Value<'s>> {
            if n > 1 {
                return None;
            }
            Some(match field {
                Field::EvtNum | Field::EvtRawtime | Field::UserUid | Field::FdSport => {
                    Value::Uint(self.0.len() as u64)
                }
                Field::ProcPid | Field::FdNum | Field::EvtRawres | Field::ProcApid(_) => {
                    Value::Int(self.0.len() as i64 - 1)
                }
                Field::EvtFailed | Field::ContainerPrivileged | Field::FdIsServer => {
                    Value::Bool(self.0.len() % 2 == 0)
                }
                Field::FdIp | Field::FdSip | Field::FdCip | Field::FdNet => {
                    Value::Ip(std::net::IpAddr::from([10, 0, 0, self.0.len() as u8]))
                }
                _ => Value::Str(self.0),
            })
        }
    }
    let (text, rest) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return false;
    };
    match Filter::compile(text) {
        Ok(mut f) => f.matches(&Synthetic(rest)),
        Err(_) => false,
    }
}
