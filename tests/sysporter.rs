//! The `sysporter` example's conversions (`-r capture.scap -w out.sf`): what a failed run
//! leaves behind, and its messages naming its own flags. No live capture here.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn sysporter(args: &[&Path]) -> Output {
    let mut cmd = Command::new(common::example("sysporter"));
    cmd.args(args)
        // the reference's environment overrides must not change these runs
        .env_remove("SF_K8S_API_URL")
        .env_remove("HOST_ROOT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.output().expect("run sysporter")
}

/// A conversion that fails before writing a record (an input that is no capture)
/// removes the `-w` file it created.
#[test]
fn a_failed_conversion_leaves_no_output_file() {
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("bogus.scap");
    std::fs::write(&bogus, b"not a capture, not even close").unwrap();
    let out = dir.path().join("out.sf");
    let r = sysporter(&[Path::new("-r"), &bogus, Path::new("-w"), &out]);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success(), "{stderr}");
    assert!(stderr.contains("bogus.scap"), "{stderr}");
    assert!(
        !out.exists(),
        "a header-only {} was left behind",
        out.display()
    );
}

/// A `-w` directory without its trailing `/` is named a directory, with the way to write
/// into it, not sent to `--overwrite` (which cannot replace a directory).
#[test]
fn a_directory_output_without_its_slash_says_so() {
    let Some(scap) = common::reference("setuid/setuid.scap") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let r = sysporter(&[Path::new("-r"), &scap, Path::new("-w"), dir.path()]);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success(), "{stderr}");
    assert!(
        stderr.contains("it is a directory") && !stderr.contains("--overwrite"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// An existing `-w` file is an error that names sysporter's flag (`--overwrite`), not the
/// library's configuration field; the file is left as it was.
#[test]
fn an_existing_output_names_the_overwrite_flag() {
    let Some(scap) = common::reference("setuid/setuid.scap") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.sf");
    std::fs::write(&out, b"keep me").unwrap();
    let r = sysporter(&[Path::new("-r"), &scap, Path::new("-w"), &out]);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success(), "{stderr}");
    assert!(
        stderr.contains("it exists") && stderr.contains("--overwrite"),
        "{stderr}"
    );
    assert!(!stderr.contains("file_overwrite"), "{stderr}");
    assert_eq!(std::fs::read(&out).unwrap(), b"keep me");
    let r = sysporter(&[
        Path::new("-r"),
        &scap,
        Path::new("-w"),
        &out,
        Path::new("--overwrite"),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert_ne!(std::fs::read(&out).unwrap(), b"keep me");
}

/// A capture cut short: the records before the damage are written and counted, the file
/// says the period lost its input's end, and the exit status is a failure.
#[test]
fn a_truncated_capture_keeps_what_preceded_the_damage_and_says_so() {
    let Some(scap) = common::reference("alpine/alpine.scap") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(&scap).unwrap();
    let cut = dir.path().join("cut.scap");
    std::fs::write(&cut, &bytes[..bytes.len() * 3 / 4 + 3]).unwrap();
    let out = dir.path().join("out.sf");
    let r = sysporter(&[Path::new("-r"), &cut, Path::new("-w"), &out]);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success(), "{stderr}");
    // the records of the events: the file's header aside
    let records = sysflow::avro::SfReader::open(&out)
        .unwrap()
        .filter(|r| !matches!(r, Ok(sysflow::model::Record::Header(_))))
        .count();
    assert!(
        stderr.contains(&format!("the {records} records of the events before it")),
        "{records} records in the file; {stderr}"
    );
    let losses = sysflow::export::FileLosses::of_file(&out).unwrap().unwrap();
    assert_eq!(losses.get("input_errors"), 1, "{losses:?}");
}
