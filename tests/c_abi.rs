//! The C ABI, exercised from C.
//!
//! - `header_is_current`: `include/sysflow.h` is what cbindgen generates from `src/ffi/`
//!   with `cbindgen.toml`. Regenerate it with
//!   `SYSFLOW_REGENERATE_HEADER=1 cargo test --test c_abi header`.
//! - `header_compiles_as_c11_and_cpp17_with_the_rust_layout`: a C file using every type
//!   compiles as C11 (gcc) and C++17 (g++) with `-Wall -Wextra -Werror`, links against
//!   `libsysflow.a`, and reports the same sizes, alignments and offsets as Rust.
//! - `c_example_counts_what_the_rust_api_delivers`: `examples/c/sysflow_count`, built by its
//!   Makefile against the in-tree `sysflow.pc` with ASan/UBSan, gives per-type counts equal
//!   to those a Rust callback receives, on every reference trace.
//! - `c_example_captures_live`: as root, the same program captures live while the test
//!   does file I/O for 2 s from its `sysflow_count: capturing` line, and stops on SIGINT. Prints a SKIP while live capture reports
//!   `SYSFLOW_STATUS_OPERATION_NOT_SUPPORTED`.
//! - `misuse_gives_defined_statuses`: `tests/c/abi_edge_cases.c` (ASan, UBSan, LeakSanitizer)
//!   misuses the API in every documented way and checks each status.
//!
//! The static library is built with `cargo build --release --lib` (a no-op when fresh) in
//! `$CARGO_TARGET_DIR` or `target/`. Missing tools (gcc, g++, make, pkg-config) or reference
//! traces skip loudly, or fail when `SYSFLOW_REQUIRE_ALL=1`.

mod common;

use common::{package_root as root, target_dir};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use sysflow::ffi;
use sysflow::model::RecordKind;
use sysflow::{SysFlowConfig, SysFlowDriver};

/// Where this test builds its C programs.
fn build_dir() -> PathBuf {
    target_dir().join("c_abi")
}

fn has_tool(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether every tool is present; skips loudly (or fails under SYSFLOW_REQUIRE_ALL=1)
/// otherwise.
fn tools(names: &[&str]) -> bool {
    let missing: Vec<&str> = names.iter().copied().filter(|t| !has_tool(t)).collect();
    if missing.is_empty() {
        true
    } else {
        common::skip(&format!(
            "C toolchain missing: {} (run scripts/setup.sh)",
            missing.join(", ")
        ));
        false
    }
}

fn check(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn run(what: &str, cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start {cmd:?}: {e}"));
    check(what, &out);
    out
}

/// Builds `libsysflow.a` once per test binary; returns the dev `sysflow.pc` directory.
fn staticlib_and_pc() -> PathBuf {
    static DONE: OnceLock<PathBuf> = OnceLock::new();
    DONE.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let t = Instant::now();
        run(
            "cargo build --release --lib",
            Command::new(cargo)
                .args(["build", "--release", "--lib"])
                .current_dir(root()),
        );
        eprintln!("staticlib ready in {:.1?}", t.elapsed());
        let lib = target_dir().join("release/libsysflow.a");
        assert!(lib.exists(), "{} was not built", lib.display());
        // The Makefile writes the uninstalled sysflow.pc (pointing at include/ and the
        // staticlib) under BUILD/pkgconfig.
        run(
            "make pc",
            make().args(["pc", &format!("BUILD={}", build_dir().display())]),
        );
        build_dir().join("pkgconfig")
    })
    .clone()
}

fn make() -> Command {
    let mut c = Command::new("make");
    c.arg("-C")
        .arg(root().join("examples/c"))
        .arg("IN_TREE=1")
        .arg(format!("CARGO_TARGET_DIR={}", target_dir().display()));
    c
}

/// `pkg-config --cflags --libs --static sysflow` with the dev `sysflow.pc`.
fn pkg_config(pc_dir: &Path) -> Vec<String> {
    let out = run(
        "pkg-config",
        Command::new("pkg-config")
            .args(["--cflags", "--libs", "--static", "sysflow"])
            .env("PKG_CONFIG_PATH", pc_dir),
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

const SANITIZE: [&str; 4] = [
    "-fsanitize=address,undefined",
    "-fno-sanitize-recover=all",
    "-fno-omit-frame-pointer",
    "-g",
];

/// Compiles one C source into `build_dir()/name` with the given compiler and flags.
fn compile(compiler: &str, lang: &[&str], src: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let pc = staticlib_and_pc();
    let exe = build_dir().join(name);
    let mut cmd = Command::new(compiler);
    cmd.args(lang)
        .args(["-Wall", "-Wextra", "-Werror", "-pthread"])
        .args(extra)
        .arg(src)
        .arg("-o")
        .arg(&exe)
        .args(pkg_config(&pc));
    run(
        &format!("compiling {} with {compiler}", src.display()),
        &mut cmd,
    );
    exe
}

/// Environment variables that change a driver's configuration (the reference's
/// overrides): removed from the C programs' environment so they match the Rust side.
const OVERRIDES: [&str; 9] = [
    "ENABLE_STATS",
    "NODE_IP",
    "ENABLE_DROP_MODE",
    "FILE_ONLY",
    "ENABLE_PROC_FLOW",
    "FILE_READ_MODE",
    "SF_K8S_API_URL",
    "SF_K8S_API_CERT",
    "DRIVER_LOG",
];

fn c_command(exe: &Path) -> Command {
    let mut c = Command::new(exe);
    for v in OVERRIDES {
        c.env_remove(v);
    }
    c.env(
        "ASAN_OPTIONS",
        "detect_leaks=1:abort_on_error=0:exitcode=86",
    )
    .env(
        "UBSAN_OPTIONS",
        "print_stacktrace=1:halt_on_error=1:exitcode=87",
    );
    c
}

fn generate_header() -> String {
    let config = cbindgen::Config::from_file(root().join("cbindgen.toml"))
        .expect("cbindgen.toml is readable and valid");
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(root().join("src/ffi/mod.rs"))
        .generate()
        .expect("cbindgen generates the header");
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("the header is UTF-8")
}

#[test]
fn header_is_current() {
    let path = root().join("include/sysflow.h");
    let generated = generate_header();
    if std::env::var("SYSFLOW_REGENERATE_HEADER").as_deref() == Ok("1") {
        std::fs::write(&path, &generated).unwrap();
        eprintln!("regenerated {}", path.display());
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    if checked_in != generated {
        let first = checked_in
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| checked_in.lines().count().min(generated.lines().count()));
        panic!(
            "include/sysflow.h is stale (first difference at line {}):\n  checked in: {:?}\n  \
             generated:  {:?}\nregenerate it with \
             `SYSFLOW_REGENERATE_HEADER=1 cargo test --test c_abi header` and commit it",
            first + 1,
            checked_in.lines().nth(first).unwrap_or("<end of file>"),
            generated.lines().nth(first).unwrap_or("<end of file>"),
        );
    }
}

/// The layout Rust gives the C types, as the C check program prints it.
fn rust_layout() -> BTreeMap<String, usize> {
    use std::mem::{align_of, offset_of, size_of};
    let mut m = BTreeMap::new();
    macro_rules! types {
        ($($t:ident),* $(,)?) => {$(
            m.insert(format!("sizeof {}", stringify!($t)), size_of::<ffi::$t>());
            m.insert(format!("alignof {}", stringify!($t)), align_of::<ffi::$t>());
        )*};
    }
    macro_rules! fields {
        ($t:ident: $($f:ident),* $(,)?) => {$(
            m.insert(
                format!("offsetof {}.{}", stringify!($t), stringify!($f)),
                offset_of!(ffi::$t, $f),
            );
        )*};
    }
    types!(
        sysflow_status,
        sysflow_config,
        sysflow_str,
        sysflow_str_array,
        sysflow_oid,
        sysflow_foid,
        sysflow_header,
        sysflow_container,
        sysflow_process,
        sysflow_file,
        sysflow_process_event,
        sysflow_file_event,
        sysflow_network_event,
        sysflow_file_flow,
        sysflow_network_flow,
        sysflow_process_flow,
        sysflow_record_data,
        sysflow_record,
        sysflow_record_cb,
    );
    fields!(sysflow_config: struct_size, filter_containers, rotate_interval, exporter_id,
        node_ip, file_path, socket_path, scap_input_path, falco_filter, sampling_ratio,
        cri_path, cri_timeout_ms, enable_stats, enable_process_flow, file_only,
        file_read_mode, drop_mode, callback, userdata, debug_mode, k8s_api_url, k8s_api_cert,
        module_checks, collection_mode, app_name, single_buffer_dimension, file_codec,
        file_codec_level, rotate_offline, env_overrides, host_root, docker_path,
        container_metadata, file_mode, file_overwrite, socket_reader_uid);
    fields!(sysflow_process: env, container_id);
    fields!(sysflow_file_event: new_file_oid);
    fields!(sysflow_network_flow: num_w_send_bytes);
    fields!(sysflow_record: data);
    m
}

fn parse_layout(stdout: &[u8]) -> BTreeMap<String, usize> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            (k.starts_with("sizeof ") || k.starts_with("alignof ") || k.starts_with("offsetof "))
                .then(|| (k.to_owned(), v.parse().unwrap()))
        })
        .collect()
}

#[test]
fn header_compiles_as_c11_and_cpp17_with_the_rust_layout() {
    if !tools(&["gcc", "g++", "make", "pkg-config"]) {
        return;
    }
    let src = root().join("tests/c/header_check.c");
    let expected = rust_layout();
    for (compiler, lang, name) in [
        ("gcc", &["-std=c11", "-Wpedantic"][..], "header_check_c11"),
        (
            "g++",
            &["-x", "c++", "-std=c++17", "-Wpedantic"][..],
            "header_check_cpp17",
        ),
    ] {
        let exe = compile(compiler, lang, &src, name, &[]);
        let out = run(name, &mut c_command(&exe));
        let layout = parse_layout(&out.stdout);
        assert_eq!(
            layout, expected,
            "{name}: the C layout differs from the Rust layout"
        );
        eprintln!("{name}: {} layout facts match Rust", layout.len());
    }
}

/// The per-type counts a Rust callback receives for one capture.
fn rust_counts(scap: &Path) -> BTreeMap<String, u64> {
    let counts = Arc::new(Mutex::new([0u64; RecordKind::ALL.len()]));
    let sink = counts.clone();
    let config = SysFlowConfig {
        scap_input_path: Some(scap.to_owned()),
        callback: Some(Box::new(move |v| {
            sink.lock().unwrap()[v.record.kind().index()] += 1;
        })),
        env_overrides: false,
        ..Default::default()
    };
    SysFlowDriver::new(config).unwrap().run().unwrap();
    let counts = *counts.lock().unwrap();
    let mut m: BTreeMap<String, u64> = RecordKind::ALL
        .iter()
        .filter(|k| k.is_event_or_flow())
        .map(|k| (k.schema_name().to_owned(), counts[k.index()]))
        .collect();
    m.insert("total".into(), m.values().sum());
    m
}

fn parse_counts(stdout: &[u8]) -> BTreeMap<String, u64> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_owned(), v.trim().parse().ok()?))
        })
        .collect()
}

/// `examples/c/sysflow_count`, built once with its Makefile (ASan + UBSan).
fn sysflow_count() -> PathBuf {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| {
        staticlib_and_pc();
        let build = build_dir().join("example");
        run(
            "make sysflow_count",
            make()
                .arg("SANITIZE=1")
                .arg(format!("BUILD={}", build.display()))
                .arg(format!(
                    "PC_DIR={}",
                    build_dir().join("pkgconfig").display()
                ))
                .arg("-B"),
        );
        build.join("sysflow_count")
    })
    .clone()
}

#[test]
fn c_example_counts_what_the_rust_api_delivers() {
    if !tools(&["gcc", "make", "pkg-config"]) {
        return;
    }
    let Some(traces) = common::corpus_files("scap") else {
        return;
    };
    if traces.is_empty() {
        common::skip("no .scap file in the reference corpus");
        return;
    }
    let exe = sysflow_count();
    let t = Instant::now();
    for scap in &traces {
        let child = c_command(&exe)
            .arg(scap)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let expected = rust_counts(scap);
        let out = child.wait_with_output().unwrap();
        check(&format!("sysflow_count {}", scap.display()), &out);
        let got = parse_counts(&out.stdout);
        assert_eq!(
            got,
            expected,
            "{}: the C example's counts differ from the Rust API's",
            scap.display()
        );
        assert!(
            expected["total"] > 0,
            "{}: no record at all",
            scap.display()
        );
    }
    eprintln!(
        "{} traces: C counts equal Rust counts ({:.1?})",
        traces.len(),
        t.elapsed()
    );
}

#[test]
fn a_program_built_against_the_0_2_header_runs_with_this_library() {
    if !tools(&["gcc", "pkg-config"]) {
        return;
    }
    let Some(traces) = common::corpus_files("scap") else {
        return;
    };
    // the 0.2 header, as sysflow.h, ahead of the current one on the include path
    let inc = build_dir().join("include-0.2");
    std::fs::create_dir_all(&inc).unwrap();
    std::fs::copy(root().join("tests/c/sysflow-0.2.h"), inc.join("sysflow.h")).unwrap();
    let text = std::fs::read_to_string(inc.join("sysflow.h")).unwrap();
    assert!(
        !text.contains("file_overwrite"),
        "the 0.2 header predates the 0.3 config fields"
    );
    // with ASan: the library must never write past the 0.2 struct the program declares
    let include = format!("-I{}", inc.display());
    let mut flags: Vec<&str> = SANITIZE.to_vec();
    flags.push(&include);
    let exe = compile(
        "gcc",
        &["-std=c11"],
        &root().join("examples/c/sysflow_count.c"),
        "sysflow_count_0_2",
        &flags,
    );
    for scap in traces.iter().take(3) {
        let out = c_command(&exe)
            .arg(scap)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        check(
            &format!("sysflow_count (0.2 header) {}", scap.display()),
            &out,
        );
        assert_eq!(
            parse_counts(&out.stdout),
            rust_counts(scap),
            "{}: a 0.2 program's counts differ from the Rust API's",
            scap.display()
        );
    }
}

#[test]
fn c_example_captures_live() {
    if !nix::unistd::Uid::effective().is_root() {
        common::skip("live capture needs root (CAP_BPF)");
        return;
    }
    if !tools(&["gcc", "make", "pkg-config"]) {
        return;
    }
    let exe = sysflow_count();
    let dir = tempfile::tempdir().unwrap();
    let mut child = c_command(&exe)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // standard error, line by line: the program says when it captures
    let stderr = child.stderr.take().unwrap();
    let (tx, lines) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)) {
            let line = line.unwrap_or_default();
            let _ = tx.send(line.clone());
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    // File I/O for the capture to see: from the "capturing" line (the program, built with
    // ASan, loads its probe while other tests of this file compile: up to 120 s) for 2 s.
    let start = Instant::now();
    let mut capturing_at = None;
    let mut i = 0;
    loop {
        while let Ok(line) = lines.try_recv() {
            if line == "sysflow_count: capturing" {
                capturing_at.get_or_insert_with(Instant::now);
            }
        }
        if capturing_at.is_some_and(|t| t.elapsed() > Duration::from_secs(2))
            || start.elapsed() > Duration::from_secs(120)
            || child.try_wait().unwrap().is_some()
        {
            break;
        }
        let p = dir.path().join(format!("f{}", i % 8));
        std::fs::write(&p, vec![b'x'; 4096]).unwrap();
        let _ = std::fs::read(&p).unwrap();
        i += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
    if child.try_wait().unwrap().is_none() {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGINT,
        )
        .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("sysflow_count did not stop within 30 s of SIGINT");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut out = child.wait_with_output().unwrap();
    out.stderr = reader.join().unwrap().into_bytes();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let unsupported = format!("status {}", ffi::sysflow_status::OPERATION_NOT_SUPPORTED.0);
    if out.status.code() == Some(2) && stderr.contains(&unsupported) {
        // Written to the stderr handle, not with eprintln!, so that the test harness does
        // not capture it: the skip shows in every `cargo test` run until live capture lands.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIP c_example_captures_live: live capture is not available yet \
             (sysflow_driver_run returned SYSFLOW_STATUS_OPERATION_NOT_SUPPORTED): {}",
            stderr.trim()
        );
        return;
    }
    check("sysflow_count (live)", &out);
    assert!(
        capturing_at.is_some(),
        "no 'capturing' line within 120 s: {stderr}"
    );
    let counts = parse_counts(&out.stdout);
    eprintln!("live counts after {i} file writes: {counts:?}");
    assert!(counts.get("total").is_some_and(|&n| n > 0), "{counts:?}");
    assert!(counts.get("FileFlow").is_some_and(|&n| n > 0), "{counts:?}");
}

#[test]
fn misuse_gives_defined_statuses() {
    if !tools(&["gcc", "make", "pkg-config"]) {
        return;
    }
    // Long enough (> 4096 events) for an exit to cut the conversion short.
    let Some(trace) = common::reference("mpm-event/full_capture.scap") else {
        return;
    };
    let exe = compile(
        "gcc",
        &["-std=c11"],
        &root().join("tests/c/abi_edge_cases.c"),
        "abi_edge_cases",
        &SANITIZE,
    );
    let out = c_command(&exe).arg(&trace).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let failed: Vec<&str> = stdout.lines().filter(|l| l.starts_with("not ok")).collect();
    assert!(
        out.status.success() && failed.is_empty(),
        "abi_edge_cases failed ({}):\n{}\n--- all output\n{stdout}\n--- stderr\n{}",
        out.status,
        failed.join("\n"),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{}", stdout.lines().last().unwrap_or_default());
}

/// `typedef struct|union NAME { ... } NAME;` blocks of a header: (name, field names).
fn header_structs(header: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let mut rest = header;
    while let Some(i) = rest.find("\ntypedef ") {
        rest = &rest[i + 9..];
        let Some(kw) = ["struct ", "union "].iter().find(|k| rest.starts_with(**k)) else {
            continue;
        };
        let head = &rest[kw.len()..];
        let Some(brace) = head.find(" {\n") else {
            continue;
        };
        if head[..brace].contains(';') {
            continue; // an opaque forward declaration
        }
        let name = head[..brace].to_owned();
        let body_end = head.find(&format!("}} {name};")).expect("the block's end");
        let body = &head[brace + 3..body_end];
        let mut fields = Vec::new();
        let mut depth = 0;
        for line in body.lines().map(str::trim) {
            if line.starts_with("/*") || line.starts_with('*') || line.is_empty() {
                continue;
            }
            // nested anonymous blocks are not used by this API
            depth += line.matches('{').count();
            depth -= line.matches('}').count();
            if depth == 0 && line.ends_with(';') {
                let mut decl = line.trim_end_matches(';');
                if let Some(i) = decl.find("(*") {
                    // a function pointer: `ret (*name)(args)`
                    decl = &decl[i + 2..decl[i..].find(')').map_or(decl.len(), |j| i + j)];
                } else if let Some(i) = decl.find('[') {
                    decl = &decl[..i]; // an array
                }
                let ident: String = decl
                    .rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .find(|s| !s.is_empty())
                    .unwrap()
                    .to_owned();
                fields.push(ident);
            }
        }
        out.push((name, fields));
        rest = &head[body_end..];
    }
    out
}

/// The ABI rule for every struct of the released 0.2 header: the fields it had keep their
/// offsets and the struct does not shrink, so a program built against it reads the
/// library's views (and passes its config) unchanged. Checked by compiling the same
/// offset dump against both headers.
#[test]
fn structs_only_grow_at_their_end_since_0_2() {
    if !tools(&["gcc"]) {
        return;
    }
    let old = std::fs::read_to_string(root().join("tests/c/sysflow-0.2.h")).unwrap();
    let structs = header_structs(&old);
    assert!(
        structs.len() >= 18,
        "{:?}",
        structs.iter().map(|s| &s.0).collect::<Vec<_>>()
    );
    let mut src = String::from(
        "#include <stddef.h>\n#include <stdio.h>\n#include HEADER\nint main(void) {\n",
    );
    for (name, fields) in &structs {
        src += &format!("    printf(\"sizeof {name} %zu\\n\", sizeof({name}));\n");
        for f in fields {
            src += &format!("    printf(\"offsetof {name}.{f} %zu\\n\", offsetof({name}, {f}));\n");
        }
    }
    src += "    return 0;\n}\n";
    let dir = build_dir().join("abi_growth");
    std::fs::create_dir_all(&dir).unwrap();
    let c = dir.join("dump.c");
    std::fs::write(&c, src).unwrap();
    let mut layouts = Vec::new();
    for (tag, header) in [
        ("old", root().join("tests/c/sysflow-0.2.h")),
        ("new", root().join("include/sysflow.h")),
    ] {
        let exe = dir.join(tag);
        run(
            &format!("compiling the offset dump against {}", header.display()),
            Command::new("gcc")
                .args(["-std=c11", "-Wall", "-Werror"])
                .arg(format!("-DHEADER=\"{}\"", header.display()))
                .arg(&c)
                .arg("-o")
                .arg(&exe),
        );
        layouts.push(parse_layout(&run(tag, &mut Command::new(&exe)).stdout));
    }
    let (old, new) = (&layouts[0], &layouts[1]);
    assert!(old.len() > 150, "{} layout facts", old.len());
    for (k, v) in old {
        if k.starts_with("sizeof ") {
            assert!(new[k] >= *v, "{k}: {v} in 0.2, {} now", new[k]);
        } else {
            assert_eq!(new[k], *v, "{k} moved since 0.2");
        }
    }
    eprintln!("{} layout facts of the 0.2 header hold", old.len());
}
