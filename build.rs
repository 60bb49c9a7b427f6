//! Builds the CO-RE BPF probe (`bpf/sysflow.bpf.c`) and its Rust skeleton with
//! libbpf-cargo; the skeleton lands in `OUT_DIR` and is included by
//! `src/source/live/skel.rs`. Also builds `bpf/floor.bpf.c`, a do-nothing syscall-exit
//! program the export benchmark attaches to measure what the attach point alone costs
//! (the library never loads it).
//!
//! Needs clang (Debian 12: clang 14), libelf and zlib headers: `scripts/setup.sh`.

use std::env;
use std::path::PathBuf;

use libbpf_cargo::SkeletonBuilder;

#[path = "bpf/stack_budget.rs"]
mod bpf_stack;

const SRC: &str = "bpf/sysflow.bpf.c";
const FLOOR_SRC: &str = "bpf/floor.bpf.c";

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR for build scripts"))
        .join("sysflow.skel.rs");
    // -mcpu=v3 (ALU32 + JMP32): clang 14 defaults to v1, whose 32-bit bound checks the
    // verifier cannot follow (variable-size ring buffer copies, bitmap indexes).
    let mut args: Vec<String> = vec!["-Ibpf".into(), "-Wall".into(), "-mcpu=v3".into()];
    // Extra clang flags for experiments, e.g. SF_BPF_CFLAGS=-DSOMETHING.
    if let Ok(extra) = env::var("SF_BPF_CFLAGS") {
        args.extend(extra.split_whitespace().map(String::from));
    }
    let obj = out.with_file_name("sysflow.bpf.o");
    SkeletonBuilder::new()
        .source(SRC)
        .obj(&obj)
        .clang_args(&args)
        .build_and_generate(&out)
        .unwrap_or_else(|e| {
            panic!(
                "building the BPF skeleton from {SRC} failed: {e:#}\n\
                 (needs clang, libelf-dev, zlib1g-dev, pkg-config: run scripts/setup.sh)"
            )
        });
    // the verifier's stack budget over whole call chains (see bpf/stack_budget.rs)
    let bytes = std::fs::read(&obj)
        .unwrap_or_else(|e| panic!("reading the BPF object {}: {e}", obj.display()));
    match bpf_stack::check(&bytes, SRC) {
        // SF_BPF_STACK_REPORT=1: the deepest chain, as a build warning
        Ok(chain) if env::var_os("SF_BPF_STACK_REPORT").is_some() => {
            println!("cargo:warning={SRC}: deepest BPF call chain: {chain}");
        }
        Ok(_) => {}
        Err(e) => panic!("{e}"),
    }
    let floor = out.with_file_name("floor.skel.rs");
    SkeletonBuilder::new()
        .source(FLOOR_SRC)
        .clang_args(["-Ibpf", "-Wall", "-mcpu=v3"])
        .build_and_generate(&floor)
        .unwrap_or_else(|e| panic!("building the BPF skeleton from {FLOOR_SRC} failed: {e:#}"));
    println!("cargo:rerun-if-changed={SRC}");
    println!("cargo:rerun-if-changed={FLOOR_SRC}");
    println!("cargo:rerun-if-changed=bpf/wire.h");
    println!("cargo:rerun-if-changed=bpf/vmlinux.h");
    println!("cargo:rerun-if-changed=bpf/stack_budget.rs");
    println!("cargo:rerun-if-env-changed=SF_BPF_CFLAGS");
    println!("cargo:rerun-if-env-changed=SF_BPF_STACK_REPORT");
}
