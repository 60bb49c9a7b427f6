//! One ring-buffer record through the live source's decoder.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    sysflow::fuzzing::decode_probe_record(data);
});
