//! Rotation during a conversion (by capture time): each output file starts with a header
//! and re-exports every entity its records refer to, and the official reader accepts it.

mod common;

use std::collections::HashSet;
use sysflow::avro::SfReader;
use sysflow::model::{Foid, Oid, Record};
use sysflow::{FileReadMode, SysFlowConfig, SysFlowDriver};

fn self_contained(recs: &[Record]) -> Result<(), String> {
    let (mut procs, mut files, mut conts) = (
        HashSet::<Oid>::new(),
        HashSet::<Foid>::new(),
        HashSet::new(),
    );
    for (i, r) in recs.iter().enumerate() {
        match r {
            Record::Header(_) if i == 0 => {}
            Record::Header(_) => return Err(format!("record {i}: second header")),
            Record::Container(c) => {
                conts.insert(c.id.clone());
            }
            Record::Process(p) => {
                if let Some(c) = &p.container_id
                    && !conts.contains(c)
                {
                    return Err(format!("record {i}: container {c} missing"));
                }
                if let Some(pp) = p.poid
                    && !procs.contains(&pp)
                {
                    return Err(format!("record {i}: parent {pp} missing"));
                }
                procs.insert(p.oid);
            }
            Record::File(f) => {
                files.insert(f.oid);
            }
            other => {
                if let Some(o) = other.proc_oid()
                    && !procs.contains(&o)
                {
                    return Err(format!("record {i}: process {o} missing"));
                }
                let (a, b) = other.file_oids();
                for f in [a, b].into_iter().flatten() {
                    if !files.contains(&f) {
                        return Err(format!("record {i}: file {f} missing"));
                    }
                }
            }
        }
    }
    Ok(())
}

#[test]
fn rotated_conversion_files_are_self_contained() {
    let Some(scap) = common::reference("mpm-event/full_capture.scap") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("rot.sf");
    let config = SysFlowConfig {
        scap_input_path: Some(scap.clone()),
        file_path: Some(prefix.clone()),
        rotate_interval: 2,
        rotate_offline: true,
        enable_process_flow: false,
        file_only: false,
        file_read_mode: FileReadMode::All,
        env_overrides: false,
        ..Default::default()
    };
    SysFlowDriver::new(config).unwrap().run().unwrap();
    let mut files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("rot.sf.")
        })
        .collect();
    files.sort();
    assert!(files.len() >= 3, "expected several periods, got {files:?}");
    // Every file is named by a period of the capture's time (2019): the capture's
    // container table, dumped with time 0 before its first event, names none (it gave a
    // `rot.sf.0` holding only a header), and the periods are the interval apart.
    let epochs: Vec<i64> = files
        .iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name["rot.sf.".len()..].parse().unwrap()
        })
        .collect();
    assert!(
        epochs
            .iter()
            .all(|e| (1_554_000_000..1_556_000_000).contains(e)),
        "{epochs:?}"
    );
    assert!(epochs.windows(2).all(|w| w[1] - w[0] == 2), "{epochs:?}");
    let mut flows_and_events = 0;
    for f in &files {
        let recs: Vec<Record> = SfReader::open(f).unwrap().map(Result::unwrap).collect();
        let Record::Header(h) = &recs[0] else {
            panic!("no header")
        };
        assert_eq!(h.filename, f.display().to_string());
        self_contained(&recs).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        flows_and_events += recs.iter().filter(|r| r.kind().is_event_or_flow()).count();
    }
    assert!(flows_and_events > 1000);
    // The official reader accepts every rotated file.
    if let Some(sysprint) = common::venv_bin("sysprint") {
        for f in &files {
            let out = std::process::Command::new(&sysprint)
                .args(["-o", "json"])
                .arg(f)
                .output()
                .unwrap();
            assert!(
                out.status.success() && out.stderr.is_empty(),
                "{}",
                f.display()
            );
        }
    }
}
