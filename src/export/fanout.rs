//! Feeding several sinks, and the header each output period starts with.

use super::{FileSink, Links, RecordSink, RecordView};
use crate::error::Result;
use crate::model::{Record, SfHeader};

/// Counters of what the sinks received.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SinkStats {
    /// Records delivered (headers included), since the start.
    pub records: u64,
    /// Records written in the current output period (headers included).
    pub records_in_period: u64,
    /// Output periods started (1 + rotations).
    pub periods: u64,
    /// Records some sink had to drop (a socket without a reader, a full disk), since the
    /// start.
    pub dropped: u64,
    /// Times a socket output lost its reader and connected again (records sent meanwhile
    /// are in `dropped`).
    pub reconnects: u64,
    /// Output files written and kept ([`FileSink::files_written`]): 0 when the file
    /// output could never create its file (a full disk), when a run replacing an
    /// existing file left it as it was (the run was not whole), or without a file output.
    pub files_written: u64,
}

/// Sends every record to an optional file sink and any number of other sinks.
///
/// It owns the header of the current output period: `version`, `exporter` and `ip` as
/// configured, `filename` the file being written (or `""` without a file sink), as the
/// reference's multi-writer does.
pub struct FanOut {
    header: SfHeader,
    file: Option<FileSink>,
    others: Vec<Box<dyn RecordSink>>,
    stats: SinkStats,
    started: bool,
    /// What the other sinks had dropped when the current period started.
    others_dropped_at_period_start: u64,
    /// Whether one of `others` reads the records' entities ([`RecordSink::needs_links`]).
    links_needed: bool,
    /// What the file sink had dropped when the current period started.
    file_dropped_at_period_start: u64,
    /// [`FanOut::records_written_in_period`] of the period the last rotation ended, once
    /// its file was closed.
    ended_period_written: u64,
}

impl FanOut {
    /// A fan-out with no sinks yet; `header` gives exporter and ip.
    pub fn new(header: SfHeader) -> Self {
        Self {
            header,
            file: None,
            others: Vec::new(),
            stats: SinkStats::default(),
            started: false,
            others_dropped_at_period_start: 0,
            links_needed: false,
            file_dropped_at_period_start: 0,
            ended_period_written: 0,
        }
    }

    /// Whether a sink reads the entities a record links to ([`RecordSink::needs_links`];
    /// the file sink never does): if none does, [`FanOut::emit`] may be given empty
    /// [`Links`].
    pub fn needs_links(&self) -> bool {
        self.links_needed
    }

    /// Sets the file sink.
    pub fn set_file(&mut self, file: FileSink) {
        self.file = Some(file);
    }

    /// Adds another sink (socket, callback, or your own).
    pub fn add(&mut self, sink: Box<dyn RecordSink>) {
        self.links_needed |= sink.needs_links();
        self.others.push(sink);
    }

    /// The current header.
    pub fn header(&self) -> &SfHeader {
        &self.header
    }

    /// Sets the header's exporter id (before [`FanOut::start`]).
    pub fn set_exporter(&mut self, exporter: String) {
        self.header.exporter = exporter;
    }

    /// The file sink, if any.
    pub fn file(&self) -> Option<&FileSink> {
        self.file.as_ref()
    }

    /// Counters so far.
    pub fn stats(&self) -> SinkStats {
        let mut s = self.stats;
        s.dropped = self.others_dropped() + self.file.as_ref().map_or(0, |f| f.dropped());
        s.reconnects = self.others.iter().map(|o| o.reconnects()).sum();
        s.files_written = self.file.as_ref().map_or(0, |f| f.files_written());
        s
    }

    fn others_dropped(&self) -> u64 {
        self.others.iter().map(|o| o.dropped()).sum()
    }

    /// Records the sinks other than the file dropped in the current output period (the
    /// file sink counts its own in its file).
    pub fn period_sink_drops(&self) -> u64 {
        self.others_dropped()
            .saturating_sub(self.others_dropped_at_period_start)
    }

    /// Records written in the current output period (headers included). With a file
    /// output: the records delivered less those the file dropped so far (a full disk;
    /// records still buffered count as written until their block fails, which the
    /// period's close settles). Without one: the records delivered to the streams.
    pub fn records_written_in_period(&self) -> u64 {
        let dropped = self.file.as_ref().map_or(0, |f| {
            f.dropped()
                .saturating_sub(self.file_dropped_at_period_start)
        });
        self.stats.records_in_period.saturating_sub(dropped)
    }

    /// [`FanOut::records_written_in_period`] of the period the last [`FanOut::rotate`]
    /// ended, counted once its file was closed (its last block written or dropped).
    pub fn records_written_in_ended_period(&self) -> u64 {
        self.ended_period_written
    }

    /// Gives the file sink (if any) the current period's losses by cause and its end,
    /// written into the file when it is closed ([`FileSink::set_period_losses`]).
    pub fn set_period_losses(&mut self, period_end: i64, losses: &[(&'static str, u64)]) {
        if let Some(f) = self.file.as_mut() {
            f.set_period_losses(period_end, losses);
        }
    }

    /// Whether there are sinks other than the file (streams: the callback, the socket).
    pub fn has_streams(&self) -> bool {
        !self.others.is_empty()
    }

    /// Tells the sinks other than the file that records were lost before them
    /// ([`RecordSink::note_losses`]; the file learns them from
    /// [`FanOut::set_period_losses`]).
    pub fn note_losses(&mut self, grown: &[(&'static str, u64)]) {
        for s in &mut self.others {
            s.note_losses(grown);
        }
    }

    fn begin_period(&mut self) -> Result<()> {
        self.header.filename = self
            .file
            .as_ref()
            .map(|f| header_filename(f.current_file()))
            .unwrap_or_default();
        self.stats.periods += 1;
        self.stats.records_in_period = 0;
        self.others_dropped_at_period_start = self.others_dropped();
        self.file_dropped_at_period_start = self.file.as_ref().map_or(0, |f| f.dropped());
        if let Some(f) = self.file.as_mut() {
            f.start(&self.header)?;
        }
        for s in &mut self.others {
            s.start(&self.header)?;
        }
        self.stats.records += 1;
        self.stats.records_in_period += 1;
        Ok(())
    }

    /// Starts the first output period (writes the header everywhere).
    pub fn start(&mut self) -> Result<()> {
        self.start_at(crate::clock::wall_s())
    }

    /// Starts the first output period at `epoch` (names the first file of a rotating
    /// output that was not opened yet).
    pub fn start_at(&mut self, epoch: i64) -> Result<()> {
        if !self.started {
            self.started = true;
            if let Some(f) = self.file.as_mut() {
                f.ensure_open(epoch)?;
            }
            self.begin_period()?;
        }
        Ok(())
    }

    /// Whether the first period started.
    pub fn is_started(&self) -> bool {
        self.started
    }

    /// Rotates: a new file (if any) for the period starting at `epoch`, and the header
    /// again on every sink.
    pub fn rotate(&mut self, epoch: i64) -> Result<()> {
        if let Some(f) = self.file.as_mut() {
            f.rotate(epoch)?;
        }
        self.ended_period_written = self.records_written_in_period();
        self.begin_period()
    }

    /// Delivers one record with its links to every sink.
    pub fn emit(&mut self, record: &Record, links: Links<'_>) -> Result<()> {
        let view = RecordView {
            header: &self.header,
            container: links.container,
            pod: links.pod,
            process: links.process,
            file: links.file,
            new_file: links.new_file,
            record,
        };
        if let Some(f) = self.file.as_mut() {
            f.write(&view)?;
        }
        for s in &mut self.others {
            s.write(&view)?;
        }
        self.stats.records += 1;
        self.stats.records_in_period += 1;
        Ok(())
    }

    /// Flushes every sink.
    pub fn flush(&mut self) -> Result<()> {
        if let Some(f) = self.file.as_mut() {
            f.flush()?;
        }
        for s in &mut self.others {
            s.flush()?;
        }
        Ok(())
    }

    /// Whether a sink asked for entities to be re-exported (clears the requests).
    pub fn take_reset_request(&mut self) -> bool {
        let mut any = self.file.as_mut().is_some_and(|f| f.take_reset_request());
        for s in &mut self.others {
            any |= s.take_reset_request();
        }
        any
    }

    /// Says the run failed or was stopped before its input's end, before
    /// [`FanOut::finish`] ([`FileSink::run_incomplete`]).
    pub fn run_incomplete(&mut self) {
        if let Some(f) = self.file.as_mut() {
            f.run_incomplete();
        }
    }

    /// After a failed run, removes the file sink's last file if the sink created it and
    /// no record but its header went into it ([`FileSink::remove_unused_file`]).
    pub fn remove_unused_file(&mut self) -> Option<std::path::PathBuf> {
        self.file.as_mut()?.remove_unused_file()
    }

    /// Gives up outputs that will never get a record (a driver that never runs): finishes
    /// every sink, ignoring errors, and removes the file sink's file if it holds only its
    /// header ([`FanOut::remove_unused_file`]); returns the path removed.
    pub fn abandon(&mut self) -> Option<std::path::PathBuf> {
        self.run_incomplete();
        let _ = self.finish();
        self.remove_unused_file()
    }

    /// Finishes every sink; the first error is returned after all were finished.
    pub fn finish(&mut self) -> Result<()> {
        let mut first = None;
        if let Some(f) = self.file.as_mut()
            && let Err(e) = f.finish()
        {
            first.get_or_insert(e);
        }
        for s in &mut self.others {
            if let Err(e) = s.finish() {
                first.get_or_insert(e);
            }
        }
        match first {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// A file's path as the header's `filename`: its bytes stored as every captured name is
/// ([`crate::model::escape_name`]: a path that is not UTF-8 keeps its bytes as `\xHH`).
pub(crate) fn header_filename(path: &std::path::Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    crate::model::escape_name(path.as_os_str().as_bytes())
}
