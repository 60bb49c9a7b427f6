//! Capture bytes through the whole offline pipeline (reader, events, state, aggregator).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    sysflow::fuzzing::scap_to_records(data);
});
