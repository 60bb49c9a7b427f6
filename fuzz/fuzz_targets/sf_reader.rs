//! SysFlow Avro file bytes through the `.sf` reader.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    sysflow::fuzzing::read_sf(data);
});
