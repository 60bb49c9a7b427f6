//! The C development packages.
//!
//! - `pkg_config_files_match_the_crate`: the installed `sysflow.pc` files (deb and rpm) carry
//!   the crate version and the same link line as the in-tree one.
//! - `deb_installs_a_usable_static_library` (root): builds the `.deb` with cargo-deb,
//!   installs it with dpkg, compiles `examples/c/sysflow_count.c` from a temporary directory
//!   against the installed files only (`pkg-config --cflags --libs --static sysflow`, no
//!   in-tree path), runs it on a reference trace, then removes the package.
//! - `rpm_lists_the_expected_files`: builds the `.rpm` with cargo-generate-rpm and checks
//!   its file list and requirements with `rpm -qlp` / `rpm -qp --requires`.
//!
//! Missing tools (dpkg, cargo-deb, cargo-generate-rpm, rpm, gcc, pkg-config; installed by
//! `scripts/setup.sh`) skip loudly, or fail when `SYSFLOW_REQUIRE_ALL=1`.

mod common;

use common::{package_root as root, target_dir};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Instant;

const DEB_NAME: &str = "libsysflow-dev";
const DEB_LIBDIR: &str = "/usr/lib/x86_64-linux-gnu";
const RPM_LIBDIR: &str = "/usr/lib64";

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

fn succeeds(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether every (name, probe command) is available; skips loudly otherwise.
fn tools(probes: &mut [(&str, Command)]) -> bool {
    let mut missing = Vec::new();
    for (name, cmd) in probes.iter_mut() {
        if !succeeds(cmd) {
            missing.push(*name);
        }
    }
    if missing.is_empty() {
        return true;
    }
    common::skip(&format!(
        "packaging tools missing: {} (run scripts/setup.sh)",
        missing.join(", ")
    ));
    false
}

fn probe(tool: &str, args: &[&str]) -> Command {
    let mut c = Command::new(tool);
    c.args(args);
    c
}

fn cargo_probe(sub: &str) -> Command {
    let mut c = cargo();
    c.args([sub, "--version"]);
    c
}

fn run(what: &str, cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `cargo build --release --lib`, once per test binary (a no-op when fresh).
fn staticlib() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        run(
            "cargo build --release --lib",
            cargo().args(["build", "--release", "--lib"]),
        );
    });
}

/// `key: value` fields of a pkg-config file.
fn pc_fields(path: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(": ")?;
            Some((k.trim().to_owned(), v.trim().to_owned()))
        })
        .collect()
}

fn pc_field(fields: &[(String, String)], key: &str) -> String {
    fields
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("no {key} field"))
}

#[test]
fn pkg_config_files_match_the_crate() {
    let template = pc_fields(&root().join("packaging/sysflow-uninstalled.pc.in"));
    for (pc, libdir) in [
        ("packaging/deb/sysflow.pc", DEB_LIBDIR),
        ("packaging/rpm/sysflow.pc", RPM_LIBDIR),
    ] {
        let path = root().join(pc);
        let fields = pc_fields(&path);
        assert_eq!(
            pc_field(&fields, "Version"),
            env!("CARGO_PKG_VERSION"),
            "{pc}: Version must be the crate version (update it with Cargo.toml)"
        );
        for key in ["Name", "Cflags", "Libs", "Libs.private"] {
            assert_eq!(
                pc_field(&fields, key),
                pc_field(&template, key),
                "{pc}: {key} differs from packaging/sysflow-uninstalled.pc.in"
            );
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains(&format!(
                "libdir={}",
                libdir.replacen("/usr", "${prefix}", 1)
            )),
            "{pc}: libdir must be {libdir}"
        );
    }
}

/// Removes the package when dropped, so a failing test leaves the machine clean.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = Command::new("dpkg")
            .args(["-r", DEB_NAME])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn newest_file(dir: &Path, ext: &str) -> PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .max_by_key(|p| p.metadata().unwrap().modified().unwrap())
        .unwrap_or_else(|| panic!("no .{ext} in {}", dir.display()))
}

#[test]
fn deb_installs_a_usable_static_library() {
    if !nix::unistd::Uid::effective().is_root() {
        common::skip("installing a .deb needs root");
        return;
    }
    if !tools(&mut [
        ("dpkg", probe("dpkg", &["--version"])),
        ("cargo-deb", cargo_probe("deb")),
        ("gcc", probe("gcc", &["--version"])),
        ("pkg-config", probe("pkg-config", &["--version"])),
    ]) {
        return;
    }
    let Some(trace) = common::reference("client-server/tcp-client-server.scap") else {
        return;
    };
    let t = Instant::now();
    staticlib();
    let out_dir = target_dir().join("packaging/deb");
    std::fs::create_dir_all(&out_dir).unwrap();
    run(
        "cargo deb",
        cargo()
            .args(["deb", "--no-build", "--fast", "--output"])
            .arg(&out_dir),
    );
    let deb = newest_file(&out_dir, "deb");
    eprintln!("built {} in {:.1?}", deb.display(), t.elapsed());

    let _installed = Installed;
    run("dpkg -i", Command::new("dpkg").arg("-i").arg(&deb));
    let lib = format!("{DEB_LIBDIR}/libsysflow.a");
    let header = "/usr/include/sysflow/sysflow.h";
    let pc = format!("{DEB_LIBDIR}/pkgconfig/sysflow.pc");
    for f in [lib.as_str(), header, pc.as_str()] {
        assert!(Path::new(f).exists(), "the package did not install {f}");
    }

    // Build the example from a copy, against the installed files only.
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("sysflow_count.c");
    std::fs::copy(root().join("examples/c/sysflow_count.c"), &src).unwrap();
    let flags = run(
        "pkg-config (installed)",
        Command::new("pkg-config")
            .args(["--cflags", "--libs", "--static", "sysflow"])
            .env_remove("PKG_CONFIG_PATH"),
    );
    let flags = String::from_utf8(flags.stdout).unwrap();
    let here = root();
    assert!(
        !flags.contains(here.to_str().unwrap()) && !flags.contains("target"),
        "the installed pkg-config flags point into the tree: {flags}"
    );
    let exe = work.path().join("sysflow_count");
    run(
        "compiling against the installed package",
        Command::new("gcc")
            .args(["-std=c11", "-Wall", "-Wextra", "-Werror"])
            .arg(&src)
            .arg("-o")
            .arg(&exe)
            .args(flags.split_whitespace())
            .current_dir(work.path()),
    );
    let out = run("sysflow_count (installed)", Command::new(&exe).arg(&trace));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let total: u64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("total "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no total in:\n{stdout}"));
    assert!(total > 0, "no record from {}:\n{stdout}", trace.display());

    run("dpkg -r", Command::new("dpkg").args(["-r", DEB_NAME]));
    for f in [lib.as_str(), header, pc.as_str()] {
        assert!(!Path::new(f).exists(), "dpkg -r left {f} behind");
    }
    eprintln!(
        "deb built, installed, used ({total} records) and removed in {:.1?}",
        t.elapsed()
    );
}

#[test]
fn rpm_lists_the_expected_files() {
    if !tools(&mut [
        ("rpm", probe("rpm", &["--version"])),
        ("cargo-generate-rpm", cargo_probe("generate-rpm")),
    ]) {
        return;
    }
    let t = Instant::now();
    staticlib();
    let out_dir = target_dir().join("packaging/rpm");
    std::fs::create_dir_all(&out_dir).unwrap();
    run(
        "cargo generate-rpm",
        cargo()
            .args(["generate-rpm", "--payload-compress", "gzip", "--output"])
            .arg(&out_dir)
            .arg("--target-dir")
            .arg(target_dir()),
    );
    let rpm = newest_file(&out_dir, "rpm");
    let files = run("rpm -qlp", Command::new("rpm").arg("-qlp").arg(&rpm));
    let files: BTreeSet<String> = String::from_utf8_lossy(&files.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    for f in [
        format!("{RPM_LIBDIR}/libsysflow.a"),
        "/usr/include/sysflow/sysflow.h".to_owned(),
        format!("{RPM_LIBDIR}/pkgconfig/sysflow.pc"),
    ] {
        assert!(files.contains(&f), "{} lacks {f}: {files:?}", rpm.display());
    }
    let requires = run(
        "rpm -qp --requires",
        Command::new("rpm").args(["-qp", "--requires"]).arg(&rpm),
    );
    let requires = String::from_utf8_lossy(&requires.stdout);
    for r in ["elfutils-libelf-devel", "zlib-devel"] {
        assert!(
            requires.contains(r),
            "{} does not require {r}",
            rpm.display()
        );
    }
    eprintln!(
        "{}: {} files, checked in {:.1?}",
        rpm.display(),
        files.len(),
        t.elapsed()
    );
}
