//! A C `sysflow_config` built from the bytes, read and validated as `sysflow_driver_new` does.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    sysflow::fuzzing::c_config(data);
});
