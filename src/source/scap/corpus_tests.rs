//! Tests over the reference captures of the SysFlow collector's test suite
//! (`shared/reference/sf-collector-tests`), skipped with a message when absent.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::params::{self, SockTuple};
use super::{FdInfo, InterfaceAddr, ScapError, ScapItem, ScapReader};

fn shared_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared")
}

/// The corpus captures, sorted, or `None` (with a message) when the corpus is absent.
fn corpus() -> Option<Vec<PathBuf>> {
    let dir = shared_dir().join("reference/sf-collector-tests");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!(
            "SKIPPED: scap corpus not found at {} (it lives in the shared/ checkout)",
            dir.display()
        );
        return None;
    };
    let mut files = Vec::new();
    for entry in entries.flatten() {
        if let Ok(inner) = std::fs::read_dir(entry.path()) {
            files.extend(
                inner
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "scap")),
            );
        }
    }
    files.sort();
    Some(files)
}

fn file(rel: &str) -> Option<Vec<u8>> {
    let path = shared_dir().join("reference/sf-collector-tests").join(rel);
    match std::fs::read(&path) {
        Ok(bytes) => Some(bytes),
        Err(_) => {
            eprintln!("SKIPPED: {} not found", path.display());
            None
        }
    }
}

/// Per event type: count and the parameter counts seen.
type TypeStats = BTreeMap<u16, (u64, BTreeSet<usize>)>;

fn read_all(bytes: &[u8]) -> Result<(TypeStats, Vec<u64>), ScapError> {
    let mut reader = ScapReader::new(bytes)?;
    let mut stats = TypeStats::new();
    let mut offsets = Vec::new();
    while let Some(ev) = reader.next_event()? {
        let entry = stats.entry(ev.event_type).or_default();
        entry.0 += 1;
        entry.1.insert(ev.nparams());
        offsets.push(ev.file_offset);
        // Every parameter is reachable and the accessor agrees with the iterator.
        assert_eq!(ev.params.iter().count(), ev.nparams());
        assert!(ev.param(ev.nparams()).is_none());
    }
    Ok((stats, offsets))
}

#[test]
fn event_types_and_nparams_match_the_inventory() {
    let Some(files) = corpus() else { return };
    assert_eq!(files.len(), 18, "expected the 18 corpus captures");
    let inventory_path = shared_dir().join("docs/scap-test-corpus-inventory.txt");
    let Ok(inventory) = std::fs::read_to_string(&inventory_path) else {
        eprintln!("SKIPPED: {} not found", inventory_path.display());
        return;
    };

    let mut total = TypeStats::new();
    let mut dirs: BTreeMap<u16, BTreeSet<PathBuf>> = BTreeMap::new();
    for path in &files {
        let bytes = std::fs::read(path).unwrap();
        let (stats, _) = read_all(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for (ty, (count, seen)) in stats {
            let entry = total.entry(ty).or_default();
            entry.0 += count;
            entry.1.extend(seen);
            dirs.entry(ty)
                .or_default()
                .insert(path.parent().unwrap().to_path_buf());
        }
    }

    // Lines look like: `3 PPME_SYSCALL_OPEN_X count=13497 nparams_seen=[4, 5] table_nparams=6 tests=10`.
    let mut expected = TypeStats::new();
    for line in inventory.lines().filter(|l| !l.trim().is_empty()) {
        let field = |key: &str| {
            let start = line.find(key).unwrap() + key.len();
            let rest = &line[start..];
            rest[..rest.find([' ', ']']).unwrap_or(rest.len())].to_string()
        };
        let ty: u16 = line.split_whitespace().next().unwrap().parse().unwrap();
        let count: u64 = field("count=").parse().unwrap();
        let seen_start = line.find("nparams_seen=[").unwrap() + "nparams_seen=[".len();
        let seen_end = seen_start + line[seen_start..].find(']').unwrap();
        let seen = line[seen_start..seen_end]
            .split(',')
            .map(|s| s.trim().parse().unwrap())
            .collect();
        let tests: usize = field("tests=").parse().unwrap();
        let table: u8 = field("table_nparams=").parse().unwrap();
        assert_eq!(table_nparams(ty), Some(table), "table nparams of {ty}");
        assert_eq!(
            dirs.get(&ty).map(BTreeSet::len),
            Some(tests),
            "test dirs with type {ty}"
        );
        expected.insert(ty, (count, seen));
    }
    assert_eq!(total, expected);
    // A few headline numbers, stated independently of the file.
    assert_eq!(total[&234].0, 63906, "PROCINFO_E events");
    assert_eq!(
        total[&293].1,
        BTreeSet::from([18, 19, 23]),
        "EXECVE_19_X nparams"
    );
    assert_eq!(total[&324], (1, BTreeSet::from([1])), "CONTAINER_JSON_2_E");
}

#[test]
fn files_scap_metadata() {
    let Some(bytes) = file("files/files.scap") else {
        return;
    };
    let reader = ScapReader::new(&bytes[..]).unwrap();
    let meta = reader.metadata();
    assert_eq!((meta.section.major, meta.section.minor), (1, 2));
    assert_eq!(meta.section.section_length, u64::MAX);
    let machine = meta.machine.as_ref().unwrap();
    assert_eq!(machine.hostname, b"canaris");
    assert!(machine.num_cpus > 0);
    assert_eq!(meta.processes.len(), 201);
    assert!(meta.processes.iter().all(|p| p.version == 9));
    assert!(
        meta.processes
            .iter()
            .all(|p| p.loginuid.is_some() && p.tty.is_none())
    );
    assert_eq!(meta.fds.len(), 201);
    assert_eq!(meta.users.len(), 34);
    assert_eq!(meta.groups.len(), 60);
    let v4 = meta
        .interfaces
        .iter()
        .filter(|i| matches!(i.addr, InterfaceAddr::V4 { .. }))
        .count();
    assert_eq!((v4, meta.interfaces.len() - v4), (5, 7));
    let lo = &meta.interfaces[0];
    assert_eq!(lo.name, b"lo");
    assert!(matches!(lo.addr, InterfaceAddr::V4 { addr, .. } if addr.is_loopback()));
    assert!(meta.users.iter().any(|u| u.uid == 0 && u.name == b"root"));
    // pid 1 is in the table, and every thread's ids are sane.
    assert!(meta.processes.iter().any(|p| p.pid == 1 && p.tid == 1));
    // Regular files opened by the captured threads are recorded with names.
    let files = meta
        .fds
        .iter()
        .flat_map(|l| &l.fds)
        .filter(|f| matches!(&f.info, FdInfo::File { name, .. } if name.starts_with(b"/")))
        .count();
    assert!(files > 0);
    let (stats, _) = read_all(&bytes).unwrap();
    assert_eq!(stats.values().map(|s| s.0).sum::<u64>(), 2186);
}

#[test]
fn other_metadata_facts() {
    if let Some(bytes) = file("mpm-worker/cold_start_capture.scap") {
        let reader = ScapReader::new(&bytes[..]).unwrap();
        assert_eq!(reader.metadata().processes.len(), 302);
        assert_eq!(reader.metadata().fds.len(), 302);
        let (stats, _) = read_all(&bytes).unwrap();
        assert_eq!(stats.values().map(|s| s.0).sum::<u64>(), 2381);
    }
    for rel in ["rename/rename.scap", "rename/rename2at.scap"] {
        let Some(bytes) = file(rel) else { continue };
        let reader = ScapReader::new(&bytes[..]).unwrap();
        let meta = reader.metadata();
        // 29-byte tails: loginuid, exe_writable and capabilities, but no tty.
        assert!(
            meta.processes
                .iter()
                .all(|p| p.cap_effective.is_some() && p.tty.is_none()),
            "{rel}"
        );
        if rel == "rename/rename.scap" {
            assert!(meta.users.is_empty() && meta.groups.is_empty());
        }
    }
}

#[test]
fn large_payload_event_in_rename_scap() {
    let Some(bytes) = file("rename/rename.scap") else {
        return;
    };
    let mut reader = ScapReader::new(&bytes[..]).unwrap();
    let mut found = false;
    while let Some(ev) = reader.next_event().unwrap() {
        if ev.event_type == 324 {
            let json = ev.param(0).and_then(params::charbuf).unwrap();
            assert!(
                json.starts_with(b"{"),
                "{:?}",
                String::from_utf8_lossy(json)
            );
            found = true;
        }
    }
    assert!(found);
}

#[test]
fn connect_tuple_in_client_server() {
    let Some(bytes) = file("client-server/tcp-client-server.scap") else {
        return;
    };
    let mut reader = ScapReader::new(&bytes[..]).unwrap();
    let mut tuples = 0;
    while let Some(ev) = reader.next_event().unwrap() {
        if ev.event_type == 23 {
            // CONNECT_X: res, tuple.
            if let Some(SockTuple::Inet { dst, .. }) = ev.param(1).and_then(params::socktuple) {
                assert_ne!(dst.port(), 0);
                tuples += 1;
            }
        }
    }
    assert!(tuples > 0);
}

#[test]
fn gzip_and_concatenated_sections() {
    let Some(bytes) = file("files/files.scap") else {
        return;
    };
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&bytes).unwrap();
    let gz = gz.finish().unwrap();
    let mut reader = ScapReader::new(&gz[..]).unwrap();
    assert!(reader.is_gzip());
    assert_eq!(reader.metadata().processes.len(), 201);
    let mut n = 0;
    while reader.next_event().unwrap().is_some() {
        n += 1;
    }
    assert_eq!(n, 2186);

    // Two captures back to back: the second section's metadata replaces the first's.
    let mut twice = bytes.clone();
    twice.extend(&bytes);
    let mut reader = ScapReader::new(&twice[..]).unwrap();
    let (mut events, mut sections) = (0, 0);
    while let Some(item) = reader.next_item().unwrap() {
        match item {
            ScapItem::Event(ev) => {
                events += 1;
                if sections == 1 {
                    assert!(ev.file_offset >= bytes.len() as u64);
                }
            }
            ScapItem::NewSection => {
                sections += 1;
                assert_eq!(events, 2186);
            }
        }
    }
    assert_eq!((events, sections, reader.section_index()), (4372, 1, 1));
    assert_eq!(reader.metadata().processes.len(), 201);
}

/// Reads `input` to the end: the events, then the error if any. Panics if anything
/// follows an error.
fn drain(input: &[u8]) -> (usize, Option<ScapError>) {
    let mut reader = match ScapReader::new(input) {
        Ok(r) => r,
        Err(e) => return (0, Some(e)),
    };
    let mut events = 0usize;
    loop {
        match reader.next_event() {
            Ok(Some(ev)) => {
                events += 1;
                for p in ev.params {
                    let _ = params::le_uint(p);
                    let _ = params::socktuple(p);
                }
            }
            Ok(None) => return (events, None),
            Err(e) => {
                assert!(
                    reader.next_event().unwrap().is_none(),
                    "reader continued after {e}"
                );
                return (events, Some(e));
            }
        }
    }
}

/// Block boundaries of the event region: (start, end) of each event block.
fn event_blocks(bytes: &[u8], offsets: &[u64]) -> Vec<(usize, usize)> {
    offsets
        .iter()
        .map(|&o| {
            let o = o as usize;
            let len = u32::from_le_bytes(bytes[o + 4..o + 8].try_into().unwrap()) as usize;
            (o, o + len)
        })
        .collect()
}

/// A tiny deterministic generator for sample positions.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Truncations and flipped bytes over one capture. Cuts and flips in the event region are
/// applied to a spliced capture (section header + a few blocks around the damage), which
/// exercises the same code as the whole file at a fraction of the cost.
fn damage_one(path: &Path) {
    let bytes = std::fs::read(path).unwrap();
    let name = path.display();
    let (_, offsets) = read_all(&bytes).unwrap();
    let blocks = event_blocks(&bytes, &offsets);
    let meta_end = blocks.first().map_or(bytes.len(), |b| b.0);
    let shb_len = u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
    let shb = &bytes[..shb_len];
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15 ^ bytes.len() as u64);

    // Builds SHB + the event blocks starting two blocks before `at`, up to `end`.
    let splice = |at: usize, end: usize| -> (Vec<u8>, usize) {
        let k = blocks.partition_point(|b| b.0 <= at).saturating_sub(3);
        let start = blocks[k].0;
        let mut input = shb.to_vec();
        input.extend(&bytes[start..end]);
        (input, start)
    };

    let mut cuts: Vec<usize> = (0..2048.min(bytes.len())).collect();
    cuts.extend((0..200).map(|i| i * bytes.len() / 200));
    for cut in cuts {
        if cut <= meta_end {
            let (events, err) = drain(&bytes[..cut]);
            assert_eq!(events, 0, "{name} cut {cut}");
            if let Some(e) = err {
                assert!(e.offset <= cut as u64, "{name} cut {cut}: {e}");
            }
        } else {
            let (input, start) = splice(cut, cut);
            let complete = blocks.iter().filter(|b| b.0 >= start && b.1 <= cut).count();
            let at_boundary = blocks.iter().any(|b| b.1 == cut);
            let (events, err) = drain(&input);
            assert_eq!(events, complete, "{name} cut {cut}");
            assert_eq!(err.is_some(), !at_boundary, "{name} cut {cut}: {err:?}");
        }
    }

    let mut flips = Vec::new();
    for _ in 0..24 {
        flips.push(rng.below(meta_end));
    }
    for _ in 0..150 {
        if !blocks.is_empty() {
            flips.push(meta_end + rng.below(bytes.len() - meta_end));
        }
    }
    for pos in flips {
        let mask = (rng.next() % 255 + 1) as u8;
        let (mut input, shift) = if pos < meta_end {
            let end = blocks.get(3).map_or(bytes.len(), |b| b.1);
            (bytes[..end].to_vec(), 0)
        } else {
            let idx = blocks.partition_point(|b| b.0 <= pos).saturating_sub(1);
            let end = blocks[(idx + 2).min(blocks.len() - 1)].1;
            let (input, start) = splice(pos, end);
            (input, start - shb_len)
        };
        input[pos - shift] ^= mask;
        let (events, _) = drain(&input);
        assert!(events <= input.len() / 36, "{name} flip at {pos}");
    }
}

#[test]
fn truncated_and_corrupted_captures_never_panic() {
    let Some(files) = corpus() else { return };
    // Two workers (the test machines have few cores; other tests run alongside).
    let (left, right) = files.split_at(files.len() / 2);
    std::thread::scope(|s| {
        s.spawn(|| left.iter().for_each(|p| damage_one(p)));
        s.spawn(|| right.iter().for_each(|p| damage_one(p)));
    });
}

/// Parameter count of an event type per the reference event table (read from `../shared`).
fn table_nparams(ty: u16) -> Option<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/reference/falco-libs-0.18.1-event-table.tsv"
    );
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().find_map(|l| {
        let mut f = l.split('\t');
        let id: u16 = f.next()?.parse().ok()?;
        if id != ty {
            return None;
        }
        let n = l.split("nparams=").nth(1)?;
        n.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
    })
}
