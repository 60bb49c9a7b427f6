//! Sinks: where SysFlow records go (a callback, Avro files, a unix socket), behind one
//! push-style [`RecordSink`] trait, and the [`FanOut`] that feeds several of them.
//!
//! Losses never go unnoticed: a sink that drops records counts them
//! ([`RecordSink::dropped`], summed in [`SinkStats::dropped`]). The file sink keeps going
//! on a full disk, dropping (and counting) what it cannot write while keeping every file a
//! valid Avro file ([`FileSink`]), and records each period's losses by cause inside the
//! period's own file, in the Avro header's metadata under `sysflow.losses`, where the
//! official SysFlow tools (which read the files unchanged) do not look ([`FileLosses`]).

mod callback;
mod fanout;
mod file;
mod losses;
mod socket;

pub use callback::CallbackSink;
pub use fanout::{FanOut, SinkStats};
pub use file::{FileOptions, FileSink, OutputPath};
pub use losses::{FileLosses, LOSSES_KEY, LOSSES_WIDTH};
pub use socket::{Backoff, MAX_PENDING_BYTES, SocketSink};

pub use crate::aggregate::Links;

use crate::error::Result;
use crate::model::{Container, File, Pod, Process, Record, SfHeader};

/// One record as a sink receives it: the record, the current header, and the entities
/// the record refers to. Everything is borrowed and valid only during the call.
#[derive(Clone, Copy, Debug)]
pub struct RecordView<'a> {
    /// The current output period's header (with the file name being written, if any).
    pub header: &'a SfHeader,
    /// The container of the record's process.
    pub container: Option<&'a Container>,
    /// The pod of that container (Kubernetes), if any.
    pub pod: Option<&'a Pod>,
    /// The record's process (events and flows).
    pub process: Option<&'a Process>,
    /// The record's file (FileFlow) or first file (FileEvent).
    pub file: Option<&'a File>,
    /// The second file of a link, symlink or rename.
    pub new_file: Option<&'a File>,
    /// The record.
    pub record: &'a Record,
}

/// A Rust record callback: receives every event and flow record with its links, as the
/// reference library's callback does (entities arrive linked, not as separate calls), and
/// every K8sEvent record (`k8s_api_url`; it links to nothing).
pub type RecordCallback = Box<dyn FnMut(&RecordView<'_>) + Send>;

/// A destination for SysFlow records.
///
/// The driver calls [`RecordSink::start`] at the beginning of every output period (once at
/// start and after each rotation) with that period's header, then [`RecordSink::write`] for
/// every record in output order (every entity before the records that refer to it), and
/// [`RecordSink::finish`] once at the end.
pub trait RecordSink: Send {
    /// Begins an output period: write or send the header.
    fn start(&mut self, header: &SfHeader) -> Result<()>;

    /// Delivers one record.
    fn write(&mut self, view: &RecordView<'_>) -> Result<()>;

    /// Pushes buffered records out (called periodically during live capture).
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }

    /// Ends output: flush and close.
    fn finish(&mut self) -> Result<()> {
        self.flush()
    }

    /// True once when the sink lost its peer and came back (a socket reconnected): the
    /// driver then re-exports the entities so the new peer can resolve references.
    fn take_reset_request(&mut self) -> bool {
        false
    }

    /// Records this sink had to drop (a socket without a peer, a full disk), since the
    /// start.
    fn dropped(&self) -> u64 {
        0
    }

    /// Times this sink lost its peer and connected again, since the start.
    fn reconnects(&self) -> u64 {
        0
    }
}
