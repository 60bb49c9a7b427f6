//! Interop with the official SysFlow tools (PyPI `sysflow-tools`): files we re-write
//! must print exactly like the reference originals with the official `sysprint -o json`.

mod common;

use std::path::Path;
use std::process::Command;
use sysflow::avro::{AvroCodec, AvroFileWriter, SfReader};

fn sysprint_json(sysprint: &Path, file: &Path) -> String {
    let out = Command::new(sysprint)
        .args(["-o", "json"])
        .arg(file)
        .env("TZ", "UTC")
        .output()
        .expect("run official sysprint");
    assert!(
        out.status.success(),
        "official sysprint failed on {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn official_sysprint_prints_our_files_like_the_originals() {
    let Some(sysprint) = common::venv_bin("sysprint") else {
        return;
    };
    let Some(files) = common::corpus_files("sf") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for original in files {
        let reader = SfReader::open(&original).unwrap();
        let v5 = reader.is_v5();
        let recs: Vec<_> = reader.map(Result::unwrap).collect();
        let ours = dir.path().join(original.file_name().unwrap());
        let mut w =
            AvroFileWriter::new(std::fs::File::create(&ours).unwrap(), AvroCodec::default())
                .unwrap();
        for r in &recs {
            w.append(r).unwrap();
        }
        w.finish().unwrap();

        let theirs = sysprint_json(&sysprint, &original);
        let mine = sysprint_json(&sysprint, &ours);
        if v5 {
            assert_eq!(mine, theirs, "{}", original.display());
        } else {
            // Older schema (nginx.sf): we write v5, so the schema fields differ; the
            // official reader must still read every event and flow.
            assert_eq!(
                mine.lines().count(),
                theirs.lines().count(),
                "{}",
                original.display()
            );
        }
        assert!(!mine.is_empty());
    }
}
