//! Sinks: where SysFlow records go (a callback, Avro files, a unix socket), behind one
//! push-style [`RecordSink`] trait, and the [`FanOut`] that feeds several of them.
//!
//! Losses never go unnoticed: a sink that drops records counts them
//! ([`RecordSink::dropped`], summed in [`SinkStats::dropped`]). The file sink keeps going
//! on a full disk, dropping (and counting) what it cannot write while keeping every file a
//! valid Avro file ([`FileSink`]), and records each period's losses by cause inside the
//! period's own file, in the Avro header's metadata under `sysflow.losses`, where the
//! official SysFlow tools (which read the files unchanged) do not look ([`FileLosses`]).
//! The socket stream marks where records were lost with the header sent again in the
//! middle of the connection, a record every reader already takes there ([`SocketSink`]).

mod callback;
mod fanout;
mod file;
mod losses;
mod socket;

pub use callback::CallbackSink;
pub use fanout::{FanOut, SinkStats};
pub use file::{FileOptions, FileSink, OutputPath, file_type_name, is_unfinished_output};
pub(crate) use losses::NOT_GAPS;
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

    /// Whether [`RecordSink::write`] reads the view's entities (`container`, `pod`,
    /// `process`, `file`, `new_file`). The default is true; a sink that says false gets
    /// them as `None` whenever no other sink reads them, and saves the driver looking
    /// them up for each record.
    fn needs_links(&self) -> bool {
        true
    }

    /// Pushes buffered records out (called periodically during live capture).
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }

    /// Ends output: flush and close.
    fn finish(&mut self) -> Result<()> {
        self.flush()
    }

    /// True once when the sink lost its peer and came back (a socket reconnected), or
    /// told its peer that records were lost (a socket's loss marker): the driver then
    /// re-exports the entities so the peer can resolve references. The driver asks at
    /// every step of its clock (each event, and at least every 50 ms in a live capture),
    /// and writes the entities again before any further record.
    fn take_reset_request(&mut self) -> bool {
        false
    }

    /// Losses before the sinks: `grown` holds, for each cause of `RunSummary::losses()`
    /// that grew since the last call, its name and how many more. The driver calls it
    /// about once a second of capture time, and at the end, when any grew, leaving out
    /// what is not a gap in the output: the configured filters and sampling
    /// (`filtered_events`, `filtered_flows`, `sampled_out`), what the format or model
    /// leave out wherever it occurs (`omitted_ipv6_flows`, `uring_unmodeled`), what loses
    /// no record (`scm_rights_unnamed`, `metadata_timeouts`, `metadata_errors`,
    /// `metadata_queue_full`) and the outputs' own counts (`sink_drops`,
    /// `socket_reconnects`: each sink marks its own). So the causes told are `ring_drops`,
    /// `decode_errors`, `unknown_fd_ops`, `invalid_events`, `reconciled_exits` and
    /// `input_errors` (a conversion cut short by a damaged capture). Does
    /// nothing by
    /// default (the file sink records each period's losses in its header from
    /// [`FanOut::set_period_losses`]); the socket sink owes its reader a loss marker.
    fn note_losses(&mut self, grown: &[(&'static str, u64)]) {
        let _ = grown;
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
