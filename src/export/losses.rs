//! What an output period lost, recorded inside its own `.sf` file: see [`FileLosses`].

use crate::error::{Result, SysFlowError};
use std::collections::BTreeMap;
use std::path::Path;

/// The header metadata key holding a file's losses.
pub const LOSSES_KEY: &str = "sysflow.losses";

/// Length in bytes of the [`LOSSES_KEY`] value (JSON padded with spaces).
pub const LOSSES_WIDTH: usize = 1024;

/// Keys the file sink writes itself; a cause of the same name is left out.
const RESERVED: [&str; 9] = [
    "complete",
    "period_start",
    "period_end",
    "file_bytes",
    "truncated",
    "file_drops",
    "file_failed_blocks",
    "file_failed_opens",
    "unfiled_drops",
];

/// Counters of `RunSummary::losses()` that are no gap in the outputs, left out of
/// `FanOut::note_losses`: what the configured filters and sampling leave out; what the
/// format or the model leave out on every host that has it (IPv6 flows, which v5 cannot
/// carry; io_uring operations not modelled): marked, they would mark the stream every
/// 10 s; what loses no record (fds received with `SCM_RIGHTS` are named from `/proc`
/// instead; metadata failures leave container fields empty, the records are there); and
/// the outputs' own drops and reconnections (each sink marks its own). All still count
/// in the files' `sysflow.losses` and in `RunSummary::losses()`.
pub(crate) const NOT_GAPS: [&str; 11] = [
    "filtered_events",
    "filtered_flows",
    "sampled_out",
    "omitted_ipv6_flows",
    "uring_unmodeled",
    "scm_rights_unnamed",
    "metadata_timeouts",
    "metadata_errors",
    "metadata_queue_full",
    "sink_drops",
    "socket_reconnects",
];

fn pad(mut s: String) -> Vec<u8> {
    debug_assert!(s.len() <= LOSSES_WIDTH);
    while s.len() < LOSSES_WIDTH {
        s.push(' ');
    }
    s.into_bytes()
}

/// The value written when a file is created.
pub(crate) fn placeholder() -> Vec<u8> {
    pad(r#"{"complete":false}"#.to_string())
}

/// The value written when a file of `bytes` bytes is closed: exactly [`LOSSES_WIDTH`]
/// bytes.
pub(crate) fn encode(
    start: Option<i64>,
    end: i64,
    bytes: u64,
    own: &[(&str, u64)],
    causes: &[(&str, u64)],
) -> Vec<u8> {
    const TRUNCATED: &str = r#","truncated":true"#;
    let start = start.map_or_else(|| "null".to_string(), |s| s.to_string());
    let mut s = format!(
        r#"{{"complete":true,"period_start":{start},"period_end":{end},"file_bytes":{bytes}"#
    );
    let causes = causes.iter().filter(|(k, _)| !RESERVED.contains(k));
    for (k, v) in own.iter().chain(causes) {
        let key = serde_json::to_string(k).unwrap_or_else(|_| "\"?\"".into());
        let item = format!(",{key}:{v}");
        if s.len() + item.len() + TRUNCATED.len() + 1 > LOSSES_WIDTH {
            s.push_str(TRUNCATED);
            break;
        }
        s.push_str(&item);
    }
    s.push('}');
    pad(s)
}

/// What an output period lost, recorded inside its own `.sf` file.
///
/// The v5 schema has no record for losses, and the official SysFlow tools must read our
/// files unchanged, so the counters live in the Avro container header's metadata map,
/// which every Avro reader carries along and ignores when it does not know a key: the
/// entry [`LOSSES_KEY`] (`sysflow.losses`).
///
/// The header comes before the records, and the counters are known only when the file is
/// closed. So the value is written at creation as a fixed-width placeholder
/// ([`LOSSES_WIDTH`] bytes: `{"complete":false}` padded with spaces) and overwritten in
/// place, same length, when the file is closed (at rotation or at the end):
///
/// ```json
/// {"complete":true,"period_start":1700000000,"period_end":1700000300,"file_bytes":81920,
///  "file_drops":0,"file_failed_blocks":0,"file_failed_opens":0,"unfiled_drops":0,
///  "sink_drops":12, ...}
/// ```
///
/// padded with spaces (JSON allows trailing white space). `period_start` and `period_end`
/// are epoch seconds (capture time for a conversion; `period_start` is `null` when no
/// event gave a time). `file_bytes` is the file's length when it was closed: a file cut
/// later at a block boundary still reads as a valid Avro file, and only its length
/// shorter than this tells that its last records are missing (a longer one: that something
/// was added since). The counters after them are the sink's own (`file_drops`: records
/// of this period the file sink could not write; `file_failed_blocks`,
/// `file_failed_opens`: block writes and file creations that failed for lack of space;
/// `unfiled_drops`: records of earlier periods that never got a file), then the causes
/// the driver reported for the period. If they would not fit, the ones that fit are written, followed by
/// `"truncated":true`. A file whose value still says `"complete":false` was not closed
/// (the collector was killed, or the machine stopped): its last records may be missing.
///
/// This type is that entry read back ([`FileLosses::of_file`], [`FileLosses::parse`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileLosses {
    /// Whether the file was closed by the collector; `false`: it stopped while the file
    /// was being written, and only the placeholder is there.
    pub complete: bool,
    /// Start of the file's output period, epoch seconds.
    pub period_start: Option<i64>,
    /// End of the file's output period, epoch seconds.
    pub period_end: Option<i64>,
    /// Some counters did not fit in the fixed width and are missing.
    pub truncated: bool,
    /// The file's length in bytes when its collector closed it (`None` in files written
    /// before 0.4): a shorter file was cut since, and its last records are missing; a
    /// longer one had something added since.
    pub file_bytes: Option<u64>,
    /// Every counter by name: the file sink's `file_*` and `unfiled_drops`, and the
    /// causes the driver reported.
    pub counters: BTreeMap<String, u64>,
}

impl FileLosses {
    /// Parses the value of the [`LOSSES_KEY`] entry; `name` is used in error messages.
    pub fn parse(value: &[u8], name: &str) -> Result<Self> {
        let bad =
            |why: String| SysFlowError::parsing(name, 0, format!("{LOSSES_KEY} metadata: {why}"));
        let v: serde_json::Value = serde_json::from_slice(value).map_err(|e| bad(e.to_string()))?;
        let serde_json::Value::Object(map) = v else {
            return Err(bad("not a JSON object".into()));
        };
        let mut out = FileLosses::default();
        for (k, v) in map {
            match (k.as_str(), v) {
                ("complete", serde_json::Value::Bool(b)) => out.complete = b,
                ("truncated", serde_json::Value::Bool(b)) => out.truncated = b,
                ("period_start", v) => out.period_start = v.as_i64(),
                ("period_end", v) => out.period_end = v.as_i64(),
                ("file_bytes", v) => out.file_bytes = v.as_u64(),
                (_, v) => match v.as_u64() {
                    Some(n) => {
                        out.counters.insert(k, n);
                    }
                    None => return Err(bad(format!("{k:?} is not a count"))),
                },
            }
        }
        Ok(out)
    }

    /// The losses of a `.sf` file, read from its header; `Ok(None)` if it has none (a
    /// file from another writer).
    pub fn of_file(path: &Path) -> Result<Option<Self>> {
        let r = crate::avro::SfReader::open(path)?;
        r.user_metadata(LOSSES_KEY)
            .map(|v| Self::parse(v, &path.display().to_string()))
            .transpose()
    }

    /// A counter by name (0 when absent).
    pub fn get(&self, cause: &str) -> u64 {
        self.counters.get(cause).copied().unwrap_or(0)
    }

    /// The nonzero counters that mean records missing from this file (or the events they
    /// would describe), by name: the file sink's own drops and failures, and the
    /// driver's causes except what is no gap in the file (what the configuration's
    /// filters and sampling leave out, what the v5 format or the model cannot carry, what
    /// loses no record, and the other outputs' drops).
    pub fn gaps(&self) -> impl Iterator<Item = (&str, u64)> {
        self.counters
            .iter()
            .filter(|(k, n)| **n > 0 && !NOT_GAPS.contains(&k.as_str()))
            .map(|(k, n)| (k.as_str(), *n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_are_the_counters_of_missing_records() {
        let l = FileLosses::parse(
            br#"{"complete":true,"period_start":1,"period_end":2,"file_drops":3,"sink_drops":5,"filtered_flows":2,"ring_drops":1,"unknown_fd_ops":0,"omitted_ipv6_flows":4}"#,
            "t",
        )
        .unwrap();
        assert_eq!(
            l.gaps().collect::<Vec<_>>(),
            [("file_drops", 3), ("ring_drops", 1)]
        );
    }

    #[test]
    fn fixed_width_round_trip_and_truncation() {
        let p = placeholder();
        assert_eq!(p.len(), LOSSES_WIDTH);
        let l = FileLosses::parse(&p, "x").unwrap();
        assert!(!l.complete && l.counters.is_empty());

        let v = encode(
            Some(10),
            20,
            4096,
            &[("file_drops", 3)],
            &[("ring", 5), ("complete", 9)],
        );
        assert_eq!(v.len(), LOSSES_WIDTH);
        let l = FileLosses::parse(&v, "x").unwrap();
        assert!(l.complete && !l.truncated);
        assert_eq!((l.period_start, l.period_end), (Some(10), Some(20)));
        assert_eq!(l.file_bytes, Some(4096));
        assert_eq!(l.counters.len(), 2);
        assert_eq!((l.get("file_drops"), l.get("ring")), (3, 5));

        let names: Vec<String> = (0..200).map(|i| format!("cause_number_{i}")).collect();
        let causes: Vec<(&str, u64)> = names.iter().map(|n| (n.as_str(), u64::MAX)).collect();
        let v = encode(None, i64::MAX, u64::MAX, &[("file_drops", 1)], &causes);
        assert_eq!(v.len(), LOSSES_WIDTH);
        let l = FileLosses::parse(&v, "x").unwrap();
        assert!(l.truncated && l.complete);
        assert_eq!(l.file_bytes, Some(u64::MAX));
        assert_eq!(l.get("file_drops"), 1);
        assert!(l.counters.len() > 10 && l.counters.len() < 200);
        assert_eq!(l.get("cause_number_0"), u64::MAX);
    }
}
