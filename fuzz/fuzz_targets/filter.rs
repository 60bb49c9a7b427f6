//! Filter strings (`falco_filter`) through the parser, the compiler and an evaluation.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    sysflow::fuzzing::filter(data);
});
