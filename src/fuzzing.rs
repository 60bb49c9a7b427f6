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
    let mut pipe = crate::driver::pipeline::Pipeline::new(
        crate::state::State::new(),
        AggConfig::from(&config),
        false,
    );
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
