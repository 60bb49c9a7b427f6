//! Ring-buffer records through the live decoder, the state and the aggregator.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    sysflow::fuzzing::probe_records_to_records(data);
});
