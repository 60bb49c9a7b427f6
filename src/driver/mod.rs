//! [`SysFlowDriver`]: owns the run loop that takes a source's events through the state
//! engine and the aggregator into the sinks.
//!
//! Data flows one way: a source ([`crate::source`]) only yields events; the driver's
//! loop ([`offline`] or [`live`]) feeds them to the [`pipeline`] (state, then aggregator),
//! whose records reach the sinks ([`crate::export`]) through the aggregator's
//! [`crate::aggregate::Emit`] trait.

pub(crate) mod live;
pub(crate) mod offline;
pub(crate) mod pipeline;
mod reconcile;

use crate::aggregate::AggConfig;
use crate::clock;
use crate::config::SysFlowConfig;
use crate::diag::Diag;
use crate::error::{Result, SysFlowError};
use crate::export::{Backoff, CallbackSink, FanOut, FileOptions, FileSink, SinkStats, SocketSink};
use crate::model::SfHeader;
use crate::state::State;
use pipeline::{Pipeline, Rotation};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A cloneable handle that asks a running [`SysFlowDriver::run`] to stop.
///
/// [`ExitHandle::exit`] only stores to an atomic flag, so it is safe to call from another
/// thread or from a signal handler. `run()` notices it within its polling interval
/// (milliseconds), flushes open flows and closes the outputs before returning. That holds
/// for a conversion reading its capture from a pipe or a FIFO too: a read waiting for a
/// writer that neither writes nor closes gives up within 50 ms of the request, and the
/// records of the events read until then are written.
///
/// It also tells whether the run is capturing ([`ExitHandle::is_capturing`]), for a caller
/// that must not start its workload before the capture sees it.
#[derive(Clone, Debug, Default)]
pub struct ExitHandle {
    flag: Arc<AtomicBool>,
    capturing: Arc<AtomicBool>,
}

impl ExitHandle {
    /// Requests the driver to stop.
    pub fn exit(&self) {
        self.flag.store(true, Ordering::SeqCst);
    }

    /// Whether a stop was requested.
    pub fn is_exiting(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// The flag itself (for bindings that must reach it without locking).
    pub fn flag(&self) -> Arc<AtomicBool> {
        self.flag.clone()
    }

    /// Whether [`SysFlowDriver::run`] is capturing: true once a live capture takes events
    /// in (its probe attached, the startup `/proc` snapshot read, the container runtimes'
    /// first listings waited for: up to [`SysFlowConfig::cri_timeout`] × 3, at most 5 s),
    /// or once the capture file is open, until `run()` returns. False before, and after a
    /// run that failed to start. (What the system does from the probe's attachment on is
    /// in the capture already: the kernel buffers it while the snapshot is read.)
    pub fn is_capturing(&self) -> bool {
        self.capturing.load(Ordering::SeqCst)
    }

    /// Waits until [`ExitHandle::is_capturing`] or `timeout` (`Duration::MAX`: no limit),
    /// polling every 10 ms; returns whether the run is capturing. It returns early, false,
    /// once a stop was requested.
    pub fn wait_capturing(&self, timeout: std::time::Duration) -> bool {
        let deadline = std::time::Instant::now().checked_add(timeout);
        loop {
            if self.is_capturing() {
                return true;
            }
            if self.is_exiting() || deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    pub(crate) fn set_capturing(&self, on: bool) {
        self.capturing.store(on, Ordering::SeqCst);
    }
}

/// What a completed [`SysFlowDriver::run`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunSummary {
    /// Syscall events read from the source (the exits a live capture makes up for threads
    /// whose real exit was lost are not: they count in `state_tables.reconciled_exits`).
    pub events: u64,
    /// What the sinks received and dropped.
    pub sinks: SinkStats,
    /// Events lost before reaching the aggregator (kernel ring buffer full).
    pub source_drops: u64,
    /// The live source's own counters (ring drops, records it could not decode, counter
    /// races, sampling); all zero for a capture file.
    pub live: crate::source::live::LiveStats,
    /// What the container metadata worker did (live capture): lookups, answers,
    /// timeouts, errors, refused lookups, and its CPU time.
    pub metadata: crate::runtime::MetaStats,
    /// Native IPv6 network flows left out (live and offline): the v5 schema holds IPv4
    /// addresses only, and an IPv6 flow is never written as a made-up IPv4 one.
    /// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are IPv4 and written, as the
    /// reference does. Counted once per (thread, fd, endpoints) until its close.
    pub omitted_ipv6_flows: u64,
    /// Events skipped as damaged input: they state a relation that cannot be (a clone
    /// whose child is its own caller, parent or group leader), never applied, never a
    /// panic; parent links that would make a process its own ancestor (from a clone, an
    /// exit's reaper or a capture's process list: the parent is left unknown instead);
    /// and, in a capture, events of an unknown type (a number the scap event
    /// table of falcosecurity/libs 0.18.1 does not name: past its end, or an unused
    /// slot), of which only the thread and time are used.
    pub invalid_events: u64,
    /// Events left out by a configured filter: `falco_filter` (events it does not
    /// match), `filter_containers` (events of host processes) and, in a conversion,
    /// `drop_mode` (failed close and bind calls; a live probe drops those in the kernel,
    /// uncounted, as the reference's does).
    pub filtered_events: u64,
    /// File flows not written because the `file_read_mode` filter drops them (read-only
    /// flows, or read-only flows under the noisy prefixes).
    pub filtered_flows: u64,
    /// Reads and writes that moved bytes on an fd the state never saw made and that
    /// `/proc` or the kernel could not name: no flow can carry them (offline,
    /// typically fds opened before the capture began).
    pub unknown_fd_ops: u64,
    /// The sizes of the capture state's tables at the end of the run (threads,
    /// processes, fds, containers, users), and the exits a live capture lost and made up
    /// after `/proc` showed the threads gone (`reconciled_exits`).
    pub state_tables: crate::state::StateSizes,
    /// Captures that ended in damage (truncated, or corrupt past recovery, from their
    /// header on): 1 when a conversion stopped early, losing the events after the damage;
    /// the records of the events before it are delivered, and [`SysFlowDriver::run`]
    /// returns the parsing error ([`SysFlowDriver::summary`] keeps this summary). Always
    /// 0 live.
    pub input_errors: u64,
    /// Conversions stopped ([`ExitHandle::exit`]: in `sysporter`, a signal) before their
    /// capture's end: 1 when the events after the stop are not in the outputs (their
    /// records are whole, of the events read until then). A capture that has no end
    /// (datagrams on standard input) always ends so. Always 0 live, where a stop is the
    /// end.
    pub input_stopped: u64,
}

impl RunSummary {
    /// Every count of something that did not become a record, or not completely, by
    /// cause, in a fixed order: `(name, count)`. The names are those of the
    /// `sysflow.losses` file metadata and of the `enable_stats` log line.
    pub fn losses(&self) -> [(&'static str, u64); 18] {
        [
            ("ring_drops", self.live.ring_drops),
            ("sampled_out", self.live.sampled_out),
            ("decode_errors", self.live.decode_errors),
            ("filtered_events", self.filtered_events),
            ("filtered_flows", self.filtered_flows),
            ("unknown_fd_ops", self.unknown_fd_ops),
            ("sink_drops", self.sinks.dropped),
            ("socket_reconnects", self.sinks.reconnects),
            ("omitted_ipv6_flows", self.omitted_ipv6_flows),
            ("invalid_events", self.invalid_events),
            ("uring_unmodeled", self.live.uring_unmodeled),
            ("scm_rights_unnamed", self.live.scm_rights_unnamed),
            ("metadata_timeouts", self.metadata.timeouts),
            ("metadata_errors", self.metadata.errors),
            ("metadata_queue_full", self.metadata.queue_full),
            ("reconciled_exits", self.state_tables.reconciled_exits),
            ("input_errors", self.input_errors),
            ("input_stopped", self.input_stopped),
        ]
    }
}

/// The SysFlow driver: captures (from a scap file or live), aggregates, and delivers
/// records to the configured callback, file and socket.
///
/// ```no_run
/// use sysflow::{SysFlowConfig, SysFlowDriver};
/// let config = SysFlowConfig {
///     scap_input_path: Some("trace.scap".into()),
///     file_path: Some("trace.sf".into()),
///     ..Default::default()
/// };
/// let mut driver = SysFlowDriver::new(config)?;
/// let summary = driver.run()?;
/// println!("{} records", summary.sinks.records);
/// # Ok::<(), sysflow::SysFlowError>(())
/// ```
pub struct SysFlowDriver {
    config: SysFlowConfig,
    diag: Diag,
    outputs: FanOut,
    exit: ExitHandle,
    ran: bool,
    /// What the run did, once [`SysFlowDriver::run`] returned (also after a failure).
    summary: Option<RunSummary>,
    /// `falco_filter`, compiled in [`SysFlowDriver::new`] (taken by the run).
    filter: Option<crate::filter::Filter>,
    /// The capture of a conversion that replaces its output, opened in
    /// [`SysFlowDriver::new`] (its header and first blocks read) and taken by the run.
    opened: Option<crate::source::ScapEvents<crate::source::scap::StoppableFile>>,
}

impl std::fmt::Debug for SysFlowDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SysFlowDriver")
            .field("config", &self.config)
            .field("ran", &self.ran)
            .finish_non_exhaustive()
    }
}

/// The capture file of a conversion whose run would replace an existing output file
/// (`file_overwrite`, one output file, and a regular file at its path), when it can be
/// read once ahead without taking its data from the run: not a pipe, a FIFO, a socket or
/// a device. Errors: [`SysFlowError::InvalidConfig`] when the capture is that very file
/// (replacing it would destroy the input).
fn replaced_for(config: &SysFlowConfig) -> Result<Option<&std::path::Path>> {
    use crate::export::OutputPath;
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let (Some(input), Some(output)) = (
        config.scap_input_path.as_deref(),
        config.file_path.as_deref(),
    ) else {
        return Ok(None);
    };
    if !config.file_overwrite
        || config.rotate_offline
        || !matches!(OutputPath::parse(output), OutputPath::Prefix(_))
    {
        return Ok(None);
    }
    // (anything else at the path is refused when the output is created)
    let Some(out) = std::fs::symlink_metadata(output)
        .ok()
        .filter(|m| m.is_file())
    else {
        return Ok(None);
    };
    let input_meta = std::fs::metadata(input);
    if let Ok(m) = &input_meta
        && (m.dev(), m.ino()) == (out.dev(), out.ino())
    {
        return Err(SysFlowError::InvalidConfig(format!(
            "file_path {} is the capture being read (scap_input_path): replacing it would \
             destroy the input",
            output.display()
        )));
    }
    // (an input that does not exist is "read ahead" too: its error comes first)
    let streamed = input_meta.is_ok_and(|m| {
        let t = m.file_type();
        t.is_fifo() || t.is_socket() || t.is_char_device() || t.is_block_device()
    });
    Ok((!streamed).then_some(input))
}

impl SysFlowDriver {
    /// Validates the configuration (after the environment overrides, unless disabled) and
    /// opens the outputs: an unwritable file path or an unreachable socket is reported
    /// here, not later in [`SysFlowDriver::run`]. A conversion that would replace an
    /// existing file (`file_overwrite`) reads its capture's header and first blocks here
    /// first, so that a capture that cannot be read fails here
    /// ([`SysFlowError::ReadingFileSystem`], [`SysFlowError::EventParsing`],
    /// [`SysFlowError::Io`]) and leaves the file as it was; a capture that is the output
    /// file itself is [`SysFlowError::InvalidConfig`].
    pub fn new(mut config: SysFlowConfig) -> Result<Self> {
        let env_warnings = if config.env_overrides {
            config.apply_env();
            crate::config::env_warnings(|k| std::env::var(k).ok())
        } else {
            Vec::new()
        };
        config.validate()?;
        // A bad filter fails here, before any probe, capture or output is opened.
        let filter = match &config.falco_filter {
            Some(f) => Some(crate::filter::Filter::compile(f)?),
            None => None,
        };
        let live = config.scap_input_path.is_none();
        if live && !config.host_root.as_os_str().is_empty() {
            // A wrong HOST_ROOT is reported here, before anything is loaded.
            let proc = crate::config::host_path(&config.host_root, "/proc");
            if let Err(e) = std::fs::read_dir(&proc) {
                return Err(SysFlowError::ReadingFileSystem {
                    path: proc,
                    source: std::io::Error::new(
                        e.kind(),
                        format!(
                            "{e}: host_root (HOST_ROOT) must be where the host's root is \
                             mounted, with the host's /proc at <host_root>/proc"
                        ),
                    ),
                });
            }
        }
        let exit = ExitHandle::default();
        // A file that is to be replaced stays as it is when the capture cannot be read at
        // all: its header and first blocks are read here first (the stop flag is fresh,
        // and a regular file never waits for it), and the run goes on from there.
        let opened = match replaced_for(&config)? {
            Some(input) => crate::source::open_scap_until(input, exit.flag.clone())?,
            None => None,
        };
        let diag = Diag::new(&config.app_name, config.debug_mode, config.enable_stats);
        let mut outputs = FanOut::new(SfHeader {
            exporter: config.exporter_id.clone(),
            ip: config.node_ip.clone(),
            ..SfHeader::default()
        });
        if let Some(path) = &config.file_path {
            // Live output rotates and carries the epoch in its name; a conversion writes
            // exactly the path given (the reference behaves the same), unless asked to
            // rotate by capture time.
            let opts = FileOptions {
                codec: config.file_codec,
                mode: config.file_mode,
                overwrite: config.file_overwrite,
            };
            // (its warnings, a full disk's, go out like the driver's own)
            let sink = if live {
                FileSink::with_diag(path, opts, true, Some(clock::wall_s()), diag.clone())?
            } else {
                FileSink::with_diag(path, opts, config.rotate_offline, None, diag.clone())?
            };
            outputs.set_file(sink);
        }
        if let Some(path) = &config.socket_path {
            match SocketSink::connect_as(path, Backoff::default(), config.socket_reader_uid) {
                Ok(s) => outputs.add(Box::new(s)),
                Err(e) => {
                    // the file just created holds only its header: not left behind
                    outputs.abandon();
                    return Err(e);
                }
            }
        }
        if let Some(cb) = config.callback.take() {
            outputs.add(Box::new(CallbackSink::new(cb)));
        }
        for w in &env_warnings {
            diag.warn(format_args!("environment: {w}"));
        }
        diag.debug(format_args!("configuration in effect: {config:?}"));
        if let Some(f) = &filter {
            for w in f.warnings() {
                diag.warn(format_args!("falco_filter: {w}"));
            }
        }
        Ok(Self {
            config,
            diag,
            outputs,
            exit,
            ran: false,
            summary: None,
            filter,
            opened,
        })
    }

    /// A handle that stops [`SysFlowDriver::run`] from another thread or a signal handler.
    pub fn exit_handle(&self) -> ExitHandle {
        self.exit.clone()
    }

    /// Asks a running [`SysFlowDriver::run`] to stop (same as [`ExitHandle::exit`]).
    pub fn exit(&self) {
        self.exit.exit();
    }

    /// The configuration in effect (after environment overrides).
    pub fn config(&self) -> &SysFlowConfig {
        &self.config
    }

    /// The new file a conversion with `file_overwrite` writes beside the one it replaces
    /// at the end (`.NAME.sysflow-PID-N`), while it is written: what a process that must
    /// end at once (a second signal) removes first. `None` when no file is being replaced.
    pub fn unfinished_output(&self) -> Option<std::path::PathBuf> {
        self.outputs
            .file()
            .and_then(|f| f.unfinished_output())
            .map(Into::into)
    }

    /// The library version.
    pub fn version() -> &'static str {
        env!("CARGO_PKG_VERSION")
    }

    fn pipeline(&mut self) -> Pipeline {
        let mut p = Pipeline::new(
            State::new(),
            AggConfig::from(&self.config),
            self.config.filter_containers,
        );
        p.diag = self.diag.clone();
        p.drop_mode = self.config.drop_mode;
        p.falco_filter = self.filter.take();
        p
    }

    /// Runs the capture: converts the whole scap file when `scap_input_path` is set,
    /// otherwise captures live until [`SysFlowDriver::exit`]. Blocks until done.
    ///
    /// A run that fails removes the output file it created (in [`SysFlowDriver::new`] or
    /// at its last rotation) if no record but the header went into it: a capture that is
    /// no capture leaves no empty `.sf` behind. A file that existed before is never
    /// removed, and neither is one holding records. With `file_overwrite`, the output is
    /// written to a new file beside the existing one (`.NAME.sysflow-PID-N`), renamed over
    /// it when the output is closed at the end of the run, if it is whole: the old file
    /// stays as it was (and the new one is removed) when the run fails, is stopped before
    /// its capture's end, or its file output dropped records or ran out of space as it
    /// was closed (a full disk) ([`SinkStats::files_written`] is then 0). A process killed
    /// meanwhile leaves the new file (saying `"complete":false`) beside the old one, which
    /// is whole
    /// ([`SysFlowDriver::unfinished_output`] names it).
    ///
    /// Can be called once per driver.
    pub fn run(&mut self) -> Result<RunSummary> {
        if self.ran {
            return Err(SysFlowError::OperationNotSupported(
                "run() was already called on this driver; create a new driver".into(),
            ));
        }
        self.ran = true;
        let mut pipe = self.pipeline();
        let result = match self.config.scap_input_path.clone() {
            Some(path) => {
                if self.config.rotate_offline {
                    pipe.rotation = Some(Rotation {
                        interval_s: i64::from(self.config.rotate_interval),
                        period_start: 0,
                    });
                }
                let opened = match self.opened.take() {
                    Some(events) => Ok(Some(events)),
                    None => crate::source::open_scap_until(&path, self.exit.flag.clone()),
                };
                match opened {
                    Ok(Some(events)) => {
                        self.exit.set_capturing(true);
                        offline::convert(&path, events, &mut pipe, &mut self.outputs, &self.exit)
                    }
                    // stopped before the capture's header came (a pipe's writer slow to
                    // start): nothing to convert
                    Ok(None) => {
                        pipe.stopped_before_start(&mut self.outputs);
                        Ok(0)
                    }
                    Err(e) => {
                        if e.code() == crate::error::ErrorCode::EventParsingError {
                            // damaged before its first event (its header or process
                            // list): a file kept (one replaced) says so in its losses
                            pipe.input_failed_before_start(&mut self.outputs);
                        }
                        Err(e)
                    }
                }
            }
            None => live::run(&self.config, &mut pipe, &mut self.outputs, &self.exit),
        };
        self.exit.set_capturing(false);
        if result.is_err() || pipe.input_stopped > 0 {
            // an output written to replace an existing file then does not replace it
            self.outputs.run_incomplete();
        }
        let finished = self.outputs.finish();
        // after the close, so the last flush's records and drops are in the line
        pipe.log_stats(&self.outputs);
        if (result.is_err() || finished.is_err())
            && let Some(p) = self.outputs.remove_unused_file()
        {
            // a failed run leaves no empty file of its own behind
            self.diag.debug(format_args!(
                "{}: removed: the run failed before any record was written to it",
                p.display()
            ));
        }
        let mut summary = pipe.summary(&self.outputs);
        if let Ok(events) = &result {
            summary.events = *events;
        }
        self.summary = Some(summary);
        result?;
        finished?;
        self.diag.debug(format_args!("run finished: {summary:?}"));
        Ok(summary)
    }

    /// What the run did: `None` until [`SysFlowDriver::run`] returned, then its summary,
    /// also when it failed: what it delivered and lost before the failure (a conversion
    /// cut short by a damaged capture counts it in [`RunSummary::input_errors`]; its
    /// `events` are then those the pipeline took, the events before the damage).
    pub fn summary(&self) -> Option<RunSummary> {
        self.summary
    }
}

/// A driver dropped without [`SysFlowDriver::run`] closes its outputs, and removes the
/// output file [`SysFlowDriver::new`] created if it holds only the header (as a failed
/// run does): creating a driver, for instance to check a configuration, leaves no empty
/// `.sf` behind.
impl Drop for SysFlowDriver {
    fn drop(&mut self) {
        if self.ran {
            return;
        }
        if let Some(p) = self.outputs.abandon() {
            self.diag.debug(format_args!(
                "{}: removed: the driver was dropped without running",
                p.display()
            ));
        }
    }
}

/// Converts a capture with `filter` and no output, and returns every event the filter
/// matched as (event number from 1, thread id, scap event number): for tests that compare
/// the filter's choices with another implementation's (sysdig's).
#[doc(hidden)]
pub fn filter_trace(scap: &std::path::Path, filter: &str) -> Result<Vec<(u64, i64, u16)>> {
    let compiled = crate::filter::Filter::compile(filter)?;
    let config = SysFlowConfig::default();
    let mut pipe = Pipeline::new(State::new(), AggConfig::from(&config), false);
    pipe.drop_mode = false;
    pipe.falco_filter = Some(compiled);
    pipe.filter_trace = Some(Vec::new());
    let mut out = FanOut::new(SfHeader::default());
    let events = crate::source::open_scap(scap)?;
    offline::convert(scap, events, &mut pipe, &mut out, &ExitHandle::default())?;
    Ok(pipe.filter_trace.take().unwrap_or_default())
}
