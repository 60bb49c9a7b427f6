//! The published SysFlow traces of `../shared/cases` (see its README), each read as the
//! official `sysprint` reads it: every SysFlow file there prints byte for byte what the
//! official tool prints (json, csv and the str table), and each case has its own test of
//! the values its README names (these need only the files, not the official tool).
//!
//! Without the directory the tests are skipped (a failure with `SYSFLOW_REQUIRE_ALL=1`).

use super::{FORMATS, common, first_difference, run, sysprint_example};
use std::path::{Path, PathBuf};

/// The directory of published failing inputs, if present.
fn cases_dir() -> Option<PathBuf> {
    let dir = common::package_root().join("../shared/cases");
    if dir.is_dir() {
        Some(dir)
    } else {
        common::skip(&format!("cases not found at {}", dir.display()));
        None
    }
}

/// One file of the cases directory.
fn case(name: &str) -> Option<PathBuf> {
    let p = cases_dir()?.join(name);
    if p.is_file() {
        Some(p)
    } else {
        common::skip(&format!("{} not found", p.display()));
        None
    }
}

/// Whether a file is an Avro object container file, as every SysFlow file is.
fn is_sysflow_file(p: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(p).is_ok_and(|mut f| f.read_exact(&mut magic).is_ok())
        && &magic == b"Obj\x01"
}

/// Our `-o json` records of a file, which must print without error.
fn our_records(file: &Path) -> Vec<serde_json::Value> {
    let out = run(&sysprint_example(), &["-o", "json"], Some(file));
    assert!(
        out.status.success(),
        "{}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8 json")
        .lines()
        .map(|l| serde_json::from_str(l).expect("one json object a line"))
        .collect()
}

/// A value by dotted path (`"pod.services"`) in a nested record.
fn at<'v>(rec: &'v serde_json::Value, path: &str) -> &'v serde_json::Value {
    path.split('.')
        .fold(rec, |v, k| v.get(k).unwrap_or(&serde_json::Value::Null))
}

/// Runs both tools on one file with `args`; describes how their outputs differ (None:
/// byte-identical stdout, and ours fails exactly when the official tool does).
fn difference_from_official(official: &Path, args: &[&str], file: &Path) -> Option<String> {
    let theirs = run(official, args, Some(file));
    let ours = run(&sysprint_example(), args, Some(file));
    let their_err = String::from_utf8_lossy(&theirs.stderr);
    let our_err = String::from_utf8_lossy(&ours.stderr);
    let official_failed = !theirs.status.success() || their_err.contains("Error while executing");
    let label = format!("{} {args:?}", file.display());
    if ours.stdout != theirs.stdout {
        return Some(format!(
            "{label}: {}",
            first_difference(&ours.stdout, &theirs.stdout)
        ));
    }
    match (official_failed, ours.status.success()) {
        (false, false) => Some(format!("{label}: ours failed: {our_err}")),
        (true, true) => Some(format!(
            "{label}: the official tool failed ({their_err}), ours did not"
        )),
        (true, false) if !our_err.contains("sysprint: error:") => {
            Some(format!("{label}: no clear error from ours: {our_err}"))
        }
        _ => None,
    }
}

/// Compares with the official tool when it is installed.
fn assert_same_as_official(args: &[&str], file: &Path) {
    if let Some(official) = common::venv_bin("sysprint") {
        if let Some(d) = difference_from_official(&official, args, file) {
            panic!("{d}");
        }
    }
}

#[test]
fn every_sysflow_file_of_the_cases_prints_as_the_official_sysprint_prints_it() {
    let Some(official) = common::venv_bin("sysprint") else {
        return;
    };
    let Some(dir) = cases_dir() else {
        return;
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("read cases directory")
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.is_file() && is_sysflow_file(p))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no SysFlow file in {}", dir.display());
    let failures: Vec<String> = std::thread::scope(|s| {
        let runs: Vec<_> = files
            .iter()
            .map(|f| {
                let official = &official;
                s.spawn(move || {
                    FORMATS
                        .iter()
                        .filter_map(|(_, args)| difference_from_official(official, args, f))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        runs.into_iter()
            .flat_map(|r| r.join().expect("comparison thread"))
            .collect()
    });
    assert!(
        failures.is_empty(),
        "outputs differ from the official sysprint:\n{}",
        failures.join("\n")
    );
}

/// CASE-03: timestamps annotated `timestamp-millis` are read as the stored longs.
#[test]
fn case03_logical_type_timestamps_print_as_stored() {
    let Some(file) = case("sfproc_tcp.sf") else {
        return;
    };
    let recs = our_records(&file);
    assert_eq!(recs.len(), 10);
    let (first, second) = (&recs[0], &recs[1]);
    assert_eq!(at(first, "type"), "PE");
    assert_eq!(at(first, "opflags"), "EXEC");
    assert_eq!(at(first, "proc.pid"), 13823);
    assert_eq!(at(first, "proc.exe"), "./server");
    assert_eq!(at(first, "ts_uts"), 1_553_543_280_704_111_050_i64);
    assert_eq!(at(first, "ts"), "2019-03-25T19:48:00.704111");
    assert_eq!(at(first, "pproc.user"), "user");
    assert_eq!(at(second, "type"), "FF");
    assert_eq!(at(second, "file.path"), "/etc/ld.so.cache");
    assert_eq!(at(second, "ts_uts"), 1_553_543_280_704_232_185_i64);
    assert_eq!(at(second, "endts_uts"), 1_553_543_280_704_242_055_i64);
    for (i, r) in recs.iter().enumerate() {
        assert_ne!(at(r, "ts_uts"), 0, "record {}", i + 1);
        assert_ne!(at(r, "endts_uts"), 0, "record {}", i + 1);
    }
    assert_same_as_official(&["-o", "json"], &file);
    assert_same_as_official(&[], &file);
}

/// CASE-04: a pod's services, with their ports and cluster IPs, reach the printer.
#[test]
fn case04_pod_services_are_printed() {
    let Some(file) = case("min_k8s_pod_services.sf") else {
        return;
    };
    let recs = our_records(&file);
    assert_eq!(recs.len(), 9);
    for (i, r) in recs.iter().take(8).enumerate() {
        assert_eq!(
            at(r, "pod.services"),
            &serde_json::json!([]),
            "record {}",
            i + 1
        );
    }
    let last = &recs[8];
    assert_eq!(at(last, "file.path"), "/proc/1/stat");
    assert_eq!(at(last, "proc.exe"), "/usr/local/bin/redis-server");
    assert_eq!(at(last, "pod.name"), "redis-0");
    assert_eq!(at(last, "pod.ns"), "robot-shop");
    let want: serde_json::Value = serde_json::from_str(
        r#"[{"name": "redis", "id": "81bc1a3e-f067-4b37-a077-54061050c1cb", "namespace": "robot-shop", "portList": [{"port": 6379, "targetPort": 6379, "nodePort": 0, "proto": "TCP"}], "clusterIP": ["10.111.214.104"]}]"#,
    )
    .unwrap();
    assert_eq!(at(last, "pod.services"), &want);
    assert_same_as_official(&["-o", "json"], &file);
    assert_same_as_official(&["-c", "pod.services"], &file);
}

/// CASE-05: a network flow from a schema without `fd` prints `fd` as absent.
#[test]
fn case05_a_field_the_schema_lacks_prints_as_absent() {
    let Some(file) = case("min_nodejs_nf_nofd.sf") else {
        return;
    };
    let recs = our_records(&file);
    assert_eq!(recs.len(), 11);
    let nf = &recs[10];
    assert_eq!(at(nf, "type"), "NF");
    assert_eq!(at(nf, "ts_uts"), 1_544_763_289_090_199_144_i64);
    assert_eq!(at(nf, "res"), "172.30.106.90:46156-172.21.0.10:53");
    assert_eq!(at(nf, "file.fd"), "");
    // File flows of the same file have an `fd` in their schema.
    assert!(
        recs.iter()
            .filter(|r| at(r, "type") == "FF")
            .all(|r| at(r, "file.fd").is_i64()),
        "a file flow lost its fd"
    );
    assert_same_as_official(&["-o", "json"], &file);
}

/// CASE-06: the 2019 pre-release layout is refused before anything is printed.
#[test]
fn case06_the_pre_release_layout_is_refused_clearly() {
    let Some(file) = case("sfcoll_tcpclientserver.sf") else {
        return;
    };
    let ours = sysprint_example();
    for args in [&["-o", "json"][..], &[]] {
        let out = run(&ours, args, Some(&file));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?} printed records");
        assert!(
            stderr.contains("unsupported SysFlow schema layout")
                && stderr.contains("sysflow.flow.ProcessFlow")
                && stderr.contains("2019 pre-release layout")
                && stderr.contains("sfcoll_tcpclientserver.sf"),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    assert_same_as_official(&["-o", "json"], &file);
}
