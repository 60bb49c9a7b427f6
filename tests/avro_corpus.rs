//! Round trip over every `.sf` of the reference corpus: read, write, read again.

mod common;

use sysflow::avro::{AvroCodec, AvroFileWriter, SfReader};
use sysflow::model::Record;

fn read_all(r: impl Iterator<Item = sysflow::Result<Record>>) -> Vec<Record> {
    r.collect::<sysflow::Result<Vec<_>>>().unwrap()
}

#[test]
fn every_reference_file_round_trips() {
    let Some(files) = common::corpus_files("sf") else {
        return;
    };
    assert_eq!(files.len(), 18, "expected the 18 reference .sf files");
    for path in files {
        let reader = SfReader::open(&path).unwrap();
        let v5 = reader.is_v5();
        let first = read_all(reader);
        assert!(!first.is_empty(), "{}", path.display());
        assert!(matches!(first[0], Record::Header(_)), "{}", path.display());
        if path.ends_with("nginx/nginx.sf") {
            assert!(!v5, "nginx.sf has an older schema");
        } else {
            assert!(v5, "{} should be v5", path.display());
        }
        for codec in [AvroCodec::Deflate(6), AvroCodec::Null] {
            let mut w = AvroFileWriter::new(Vec::new(), codec).unwrap();
            for r in &first {
                w.append(r).unwrap();
            }
            let bytes = w.finish().unwrap();
            let second = read_all(SfReader::new(&bytes[..], "rewritten").unwrap());
            assert_eq!(first, second, "{}", path.display());
        }
        eprintln!("{}: {} records", path.display(), first.len());
    }
}
