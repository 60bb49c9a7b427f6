//! One event path for every source: state update, housekeeping (flow export, process
//! deletion, output rotation), then aggregation into the outputs.

use super::RunSummary;
use crate::aggregate::{AggConfig, Aggregator, Emit, Links};
use crate::diag::Diag;
use crate::error::Result;
use crate::event::{EventKind, IoCounters, SysEvent};
use crate::export::FanOut;
use crate::filter::Filter;
use crate::filter::state_fields::{StateEvent, event_code};
use crate::model::Record;
use crate::runtime::MetaUpdate;
use crate::source::ScapOrigin;
use crate::state::State;
use std::collections::VecDeque;

/// The outputs receive the aggregator's records.
impl Emit for FanOut {
    fn emit(&mut self, rec: &Record, links: Links<'_>) -> Result<()> {
        FanOut::emit(self, rec, links)
    }

    fn needs_links(&self) -> bool {
        FanOut::needs_links(self)
    }
}

/// Output rotation: a new output period every `interval_s` seconds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rotation {
    pub interval_s: i64,
    pub period_start: i64,
}

/// The state engine and aggregator wired to the outputs.
pub(crate) struct Pipeline {
    pub state: State,
    pub agg: Aggregator,
    pub filter_containers: bool,
    pub rotation: Option<Rotation>,
    pub diag: Diag,
    /// `drop_mode`: failed `close` and `bind` calls are left out, as the probe does in the
    /// kernel (so a conversion of a capture gives what a live capture would).
    pub drop_mode: bool,
    /// `falcoFilter`, compiled: events it does not match update the state but write no
    /// record ([`Aggregator::handle_filtered`]).
    pub falco_filter: Option<Filter>,
    /// Every event `falco_filter` matched, as (event number, thread, scap event number),
    /// when set (tests compare it with another implementation's choices).
    pub filter_trace: Option<Vec<(u64, i64, u16)>>,
    /// Events the source delivered ([`Pipeline::on_event`], [`Pipeline::on_event_coded`]):
    /// a capture's events, the live probe's records. Events made up by the driver — the
    /// exits a live capture's reconciliation with `/proc` gives threads whose real exit
    /// was lost ([`Pipeline::on_made_up_event`]) — are not counted here; they are in
    /// `reconciled_exits` ([`crate::state::StateSizes`]).
    pub events: u64,
    /// The filter's event number (`evt.num`): events counted from 1, except a capture's
    /// user and group metadata events (libsinsp does not count them either).
    event_num: u64,
    /// Events left out by a configured filter: `filter_containers` (a host process's
    /// events), `drop_mode` (failed close and bind calls) and `falcoFilter` (a batch of
    /// kernel read/write counters counts its calls).
    pub filtered_events: u64,
    /// Events of a capture whose number the scap event table does not name (past its
    /// end, or an unused slot): nothing of them but their thread and time can be used.
    /// Counted in [`RunSummary::invalid_events`].
    pub unknown_event_types: u64,
    /// Invalid events counted by the states of earlier sections of a concatenated
    /// capture (each section starts a new state).
    pub earlier_invalid_events: u64,
    /// Captures that ended in damage ([`RunSummary::input_errors`]).
    pub input_errors: u64,
    /// Conversions stopped before their capture's end ([`RunSummary::input_stopped`]).
    pub input_stopped: u64,
    /// The source's and the metadata worker's counters as of their last snapshot (live
    /// capture: refreshed by the run loop about every second).
    pub source: RunSummary,
    /// The counters at the start of the current output period.
    period_base: RunSummary,
    /// K8sEvent records that arrived before the outputs started (written first thing
    /// after), at most [`MAX_EARLY_K8S_EVENTS`].
    early_k8s_events: Vec<crate::model::K8sEvent>,
    /// `k8s_api_url` is set (the stats line says so).
    pub k8s_enabled: bool,
    /// `state.k8s.dropped` when last warned about.
    k8s_dropped_warned: u64,
    /// The loss counters as last told to the outputs ([`Pipeline::note_losses`]).
    losses_noted: [(&'static str, u64); 18],
    /// The capture second of the last [`Pipeline::note_losses`].
    losses_noted_at: i64,
    /// Source counters read at a wall-clock time (ns) the capture clock has not reached:
    /// the events before that time may still wait in the ring, and a loss is told to the
    /// outputs only once the stream has passed it ([`Pipeline::set_source`]).
    source_pending: VecDeque<(u64, RunSummary)>,
    /// The latest source counters read at a time the capture clock has reached.
    source_seen: RunSummary,
}

/// Source counter readings waiting for the capture clock, at most; past it the newest
/// waiting one is replaced (the counters are cumulative: a loss is then told later, never
/// missed).
const SOURCE_PENDING_MAX: usize = 16;

/// K8sEvent records kept while the outputs have not started (the initial listings arrive
/// while the live capture starts); more are dropped and counted with the Kubernetes
/// table's (`K8sTable::dropped`).
const MAX_EARLY_K8S_EVENTS: usize = 100_000;

impl Pipeline {
    pub fn new(state: State, cfg: AggConfig, filter_containers: bool) -> Self {
        Pipeline {
            state,
            agg: Aggregator::new(cfg),
            filter_containers,
            rotation: None,
            diag: Diag::default(),
            drop_mode: false,
            falco_filter: None,
            filter_trace: None,
            events: 0,
            event_num: 0,
            filtered_events: 0,
            unknown_event_types: 0,
            earlier_invalid_events: 0,
            input_errors: 0,
            input_stopped: 0,
            source: RunSummary::default(),
            period_base: RunSummary::default(),
            early_k8s_events: Vec::new(),
            k8s_enabled: false,
            k8s_dropped_warned: 0,
            losses_noted: RunSummary::default().losses(),
            losses_noted_at: i64::MIN,
            source_pending: VecDeque::new(),
            source_seen: RunSummary::default(),
        }
    }

    /// Everything counted so far: the source's last snapshot (`self.source`), the
    /// pipeline's, state's and aggregator's own counters, and the outputs'.
    pub fn summary(&self, out: &FanOut) -> RunSummary {
        self.summary_over(&self.source, out)
    }

    /// The run's summary over the source counters `source`.
    fn summary_over(&self, source: &RunSummary, out: &FanOut) -> RunSummary {
        RunSummary {
            omitted_ipv6_flows: self.agg.omitted_ipv6_flows(),
            invalid_events: self.state.invalid_events
                + self.earlier_invalid_events
                + self.unknown_event_types,
            filtered_events: self.filtered_events,
            filtered_flows: self.agg.filtered_flows(),
            unknown_fd_ops: self.agg.unknown_fd_ops(),
            input_errors: self.input_errors,
            input_stopped: self.input_stopped,
            state_tables: self.state.sizes(),
            sinks: out.stats(),
            events: self.events,
            ..*source
        }
    }

    /// The source's counters (a live capture's kernel and metadata counts), read at
    /// `read_at_ns` (wall clock, epoch ns). The outputs are told of the losses among them
    /// once the capture clock has passed that time.
    pub fn set_source(&mut self, source: RunSummary, read_at_ns: u64) {
        if self.source_pending.len() >= SOURCE_PENDING_MAX {
            self.source_pending.pop_back();
        }
        self.source_pending.push_back((read_at_ns, source));
        self.source = source;
    }

    /// The source's counters when the outputs start (`set_source` at that time): losses
    /// before then are before the stream, and no output is told of them.
    pub fn set_source_at_start(&mut self, source: RunSummary, out: &FanOut) {
        self.source = source;
        self.source_seen = source;
        self.source_pending.clear();
        self.losses_noted = self.summary(out).losses();
    }

    /// Advances the capture clock to `now_ns`: flow export and expiry, process deletion,
    /// losses told to the outputs once a second, rotation when due, and entities written
    /// again when a sink asks for it (a socket that reconnected, or that marked a loss).
    pub fn tick(&mut self, now_ns: u64, out: &mut FanOut) -> Result<()> {
        self.agg.set_time(now_ns);
        self.agg.housekeeping(out)?;
        let now = self.agg.now_s();
        if now > self.losses_noted_at {
            self.losses_noted_at = now;
            let now_ns = self.agg.clock().now_ns();
            while let Some(&(read_at, source)) = self.source_pending.front()
                && read_at <= now_ns
            {
                self.source_seen = source;
                self.source_pending.pop_front();
            }
            self.note_losses(out);
        }
        let due = match &mut self.rotation {
            Some(r) if r.period_start == 0 => {
                r.period_start = now;
                false
            }
            Some(r) => now - r.period_start >= r.interval_s,
            None => false,
        };
        // a sink whose reader lost records gets the entities again; the file output is
        // not rotated for it
        if out.take_reset_request() && !due {
            self.agg.rewrite_entities();
        }
        if due {
            // the stats of the period, its records written counted once its file is closed
            let stats = self.stats_lines(out);
            self.end_period(out);
            out.rotate(now)?;
            self.log_stats_lines(stats, out.records_written_in_ended_period());
            self.agg.on_rotation();
            self.state.prune_tables();
            if let Some(r) = &mut self.rotation {
                r.period_start = now;
            }
        }
        Ok(())
    }

    /// Processes one event of the live source (its event type derived from its kind).
    pub fn on_event(&mut self, ev: &SysEvent<'_>, out: &mut FanOut) -> Result<()> {
        self.on_event_coded(ev, None, out)
    }

    /// Processes one event; `origin` is what a capture says of it beyond its kind (for
    /// the filter; live events have none, and their event type is derived from the kind).
    pub fn on_event_coded(
        &mut self,
        ev: &SysEvent<'_>,
        origin: Option<&ScapOrigin<'_>>,
        out: &mut FanOut,
    ) -> Result<()> {
        self.events += 1;
        self.process(ev, origin, out)
    }

    /// Processes an event the source did not deliver: an exit the live reconciliation
    /// with `/proc` made up for a thread whose real exit was lost. It takes the path of
    /// any event, but is not counted in [`Pipeline::events`] (the reconciliation counts
    /// it in `reconciled_exits`).
    pub fn on_made_up_event(&mut self, ev: &SysEvent<'_>, out: &mut FanOut) -> Result<()> {
        self.process(ev, None, out)
    }

    /// The path of every event: filters, state, housekeeping, aggregation.
    fn process(
        &mut self,
        ev: &SysEvent<'_>,
        origin: Option<&ScapOrigin<'_>>,
        out: &mut FanOut,
    ) -> Result<()> {
        if !origin.is_some_and(|o| o.metadata) {
            self.event_num += 1;
        }
        if origin.is_some_and(|o| crate::filter::event_name(o.code).is_none()) {
            // the capture's Other: no parameter of it means anything to us
            self.unknown_event_types += 1;
        }
        if self.drop_mode
            && let EventKind::Close { res, .. } | EventKind::Bind { res, .. } = ev.kind
            && res < 0
        {
            self.filtered_events += 1;
            return Ok(());
        }
        // The first period starts with the first event (its time names a rotating
        // output's first file), but not with a capture's metadata dumped with no time
        // (its container, user and group tables: time 0), which makes no record.
        let timeless_table = ev.ts == 0
            && matches!(
                ev.kind,
                EventKind::ContainerJson(_)
                    | EventKind::UserAdded { .. }
                    | EventKind::GroupAdded { .. }
            );
        if !out.is_started() && !timeless_table {
            out.start_at((ev.ts / 1_000_000_000) as i64)?;
        }
        let has_thread = self.state.apply(ev);
        if !out.is_started() {
            // (a table before the first period: nothing to export, and no output may be
            // told of losses before its header)
            return Ok(());
        }
        self.tick(ev.ts, out)?;
        if self.filter_containers
            && self
                .state
                .threads
                .get(ev.tid)
                .is_none_or(|t| t.container_id.is_empty())
        {
            self.filtered_events += 1;
            return Ok(());
        }
        if self.falco_filter.is_some() {
            return self.on_filtered_event(ev, origin, has_thread, out);
        }
        self.agg.handle(&self.state, ev, has_thread, out)
    }

    /// The `falcoFilter` step, after the state applied the event: a match goes to the
    /// aggregator, anything else only ends what it ends. A batch of kernel read/write
    /// counters is two events for the filter (a `read` and a `write`): each part the
    /// filter does not match is left out.
    fn on_filtered_event(
        &mut self,
        ev: &SysEvent<'_>,
        origin: Option<&ScapOrigin<'_>>,
        has_thread: bool,
        out: &mut FanOut,
    ) -> Result<()> {
        let code = match origin {
            Some(o) if !o.metadata => Some(o.code),
            Some(_) => None,
            None => event_code(ev),
        };
        let Some(code) = code else {
            // not a syscall (a cgroup move, users of a capture): state only, not filtered
            return self.agg.handle(&self.state, ev, has_thread, out);
        };
        let Self {
            state,
            falco_filter,
            event_num: events,
            filter_trace,
            ..
        } = self;
        let Some(filter) = falco_filter else {
            return Ok(());
        };
        let mut matches = |ev: &SysEvent<'_>, code: u16| {
            let hit = filter.matches(&StateEvent::new(state, ev, code, *events, origin));
            if hit && let Some(t) = filter_trace {
                t.push((*events, ev.tid, code));
            }
            hit
        };
        if let EventKind::IoCounters(c) = ev.kind {
            let reads = IoCounters {
                write_ops: 0,
                write_bytes: 0,
                ..c
            };
            let writes = IoCounters {
                read_ops: 0,
                read_bytes: 0,
                ..c
            };
            let part = |c: IoCounters| SysEvent {
                kind: EventKind::IoCounters(c),
                ..*ev
            };
            let has_reads = c.read_ops > 0 || c.read_bytes > 0;
            let has_writes = c.write_ops > 0 || c.write_bytes > 0;
            let keep_reads = has_reads && matches(&part(reads), code_of_counters(true));
            let keep_writes = has_writes && matches(&part(writes), code_of_counters(false));
            if has_reads && !keep_reads {
                self.filtered_events += c.read_ops.max(1);
            }
            if has_writes && !keep_writes {
                self.filtered_events += c.write_ops.max(1);
            }
            return match (keep_reads, keep_writes) {
                (true, true) => self.agg.handle(&self.state, ev, has_thread, out),
                (true, false) => self.agg.handle(&self.state, &part(reads), has_thread, out),
                (false, true) => self.agg.handle(&self.state, &part(writes), has_thread, out),
                (false, false) => self.agg.handle_filtered(&self.state, ev, has_thread, out),
            };
        }
        if matches(ev, code) {
            self.agg.handle(&self.state, ev, has_thread, out)
        } else {
            self.filtered_events += 1;
            self.agg.handle_filtered(&self.state, ev, has_thread, out)
        }
    }

    /// Applies what a container runtime said (live capture): the state learns the
    /// container (and its pod), and the aggregator writes it again if it was already
    /// written with other fields (the `incomplete` placeholder, typically).
    pub fn on_meta(&mut self, update: MetaUpdate, out: &mut FanOut) -> Result<()> {
        match update {
            MetaUpdate::Container(meta) => {
                let (id, changed) = self.state.containers.apply_meta(&meta);
                if changed {
                    self.agg.container_updated(&self.state, &id, out)?;
                }
            }
            MetaUpdate::Unknown { id } => {
                self.diag.debug(format_args!(
                    "no container runtime knows container {id}: it stays incomplete"
                ));
            }
            MetaUpdate::Removed { id } => {
                let threads = &self.state.threads;
                self.state
                    .containers
                    .remove(&id, |short| threads.any_in_container(short));
            }
            MetaUpdate::K8s(u) => {
                if let Some(touched) = u.change.and_then(|c| self.state.k8s.apply_change(c)) {
                    self.agg.pods_refreshed(&self.state, &touched, out)?;
                }
                if out.is_started() {
                    self.write_early_k8s_events(out)?;
                    self.agg.write_k8s_event(u.event, out)?;
                } else if self.early_k8s_events.len() < MAX_EARLY_K8S_EVENTS {
                    self.early_k8s_events.push(u.event);
                } else {
                    self.state.k8s.dropped += 1;
                }
                let dropped = self.state.k8s.dropped;
                if dropped.is_power_of_two() && self.k8s_dropped_warned < dropped {
                    self.k8s_dropped_warned = dropped;
                    self.diag.warn(format_args!(
                        "Kubernetes API: {dropped} objects or events left out so far (a table \
                         of {} pods or services is full, or events arrived before the outputs \
                         started beyond {MAX_EARLY_K8S_EVENTS})",
                        crate::k8s::MAX_OBJECTS
                    ));
                }
            }
        }
        Ok(())
    }

    /// Writes the K8sEvent records that arrived before the outputs started.
    pub fn write_early_k8s_events(&mut self, out: &mut FanOut) -> Result<()> {
        for ev in std::mem::take(&mut self.early_k8s_events) {
            self.agg.write_k8s_event(ev, out)?;
        }
        Ok(())
    }

    /// End of input: every open flow is flushed with TRUNCATE. The run's last
    /// statistics lines are left to the caller, to log once the outputs are closed
    /// ([`Pipeline::log_stats`]): the records and drops of their last flush count.
    pub fn finish(&mut self, out: &mut FanOut) -> Result<()> {
        out.start()?;
        // losses of the last second are marked before the last records
        self.source_seen = self.source;
        self.source_pending.clear();
        self.note_losses(out);
        if out.take_reset_request() {
            self.agg.rewrite_entities();
        }
        self.agg.finish(out)?;
        let base = self.period_base;
        self.end_period(out);
        // the run's last stats line, logged after the close, counts the whole last period
        self.period_base = base;
        Ok(())
    }

    /// Tells the outputs (other than the file, which counts by period) which causes of
    /// loss grew since the last call ([`FanOut::note_losses`]), leaving out
    /// [`crate::export::NOT_GAPS`].
    fn note_losses(&mut self, out: &mut FanOut) {
        if !out.has_streams() {
            return;
        }
        let now = self.summary_over(&self.source_seen, out).losses();
        let grown: Vec<(&'static str, u64)> = now
            .iter()
            .zip(&self.losses_noted)
            .map(|(&(name, n), &(_, before))| (name, n.saturating_sub(before)))
            .filter(|&(name, grew)| grew > 0 && !crate::export::NOT_GAPS.contains(&name))
            .collect();
        self.losses_noted = now;
        if !grown.is_empty() {
            out.note_losses(&grown);
        }
    }

    /// A capture that could not be read up to its first event (its header or process
    /// list damaged): counted in `input_errors`, and told to the file output, whose file,
    /// if kept (one replaced), records it in its losses. The streams get nothing: no
    /// output period started.
    pub fn input_failed_before_start(&mut self, out: &mut FanOut) {
        self.input_errors += 1;
        self.end_period(out);
    }

    /// A conversion stopped before its capture's header came (a pipe's writer slow to
    /// start): counted in `input_stopped`, and told to the file output, which records it
    /// in its losses.
    pub fn stopped_before_start(&mut self, out: &mut FanOut) {
        self.input_stopped = 1;
        self.end_period(out);
    }

    /// Tells the outputs what the ending period lost, by cause (written into its file's
    /// header; `sink_drops` there counts the other outputs' drops, the file's own being
    /// its `file_drops`).
    fn end_period(&mut self, out: &mut FanOut) {
        let now = self.summary(out);
        let losses: Vec<(&'static str, u64)> = period_losses(&now, &self.period_base)
            .map(|(name, period, _)| match name {
                // the file counts its own drops (`file_drops`): here the other outputs'
                "sink_drops" => (name, out.period_sink_drops()),
                _ => (name, period),
            })
            .collect();
        out.set_period_losses(self.agg.now_s(), &losses);
        self.period_base = now;
    }

    /// The reference's stats line and a line of this period's losses by cause
    /// (`enableStats`, at info level; the losses also at debug level with `debugMode`).
    pub fn log_stats(&self, out: &FanOut) {
        let stats = self.stats_lines(out);
        self.log_stats_lines(stats, out.records_written_in_period());
    }

    /// [`Pipeline::log_stats`]'s lines as of now, but the count of records written
    /// (`None` when neither stats nor debug logging is on).
    fn stats_lines(&self, out: &FanOut) -> Option<(String, String)> {
        let diag = &self.diag;
        if !diag.stats_enabled() && !diag.debug_enabled() {
            return None;
        }
        let s = self.agg.stats();
        let tables = format!(
            "Container Table: {} K8s Enabled: {} Pods Table: {} Process Table: {} \
             NetworkFlow Table: {} FileFlow Table: {} ProcFlow Table: {} Num Records \
             Written: ",
            s.containers,
            u8::from(self.k8s_enabled),
            s.pods,
            s.processes,
            s.network_flows,
            s.file_flows,
            s.process_flows,
        );
        let now = self.summary(out);
        let line = loss_line(&now, &self.period_base);
        Some((tables, format!("Events: {} Losses: {line}", now.events)))
    }

    /// Logs [`Pipeline::stats_lines`] with `written` records.
    fn log_stats_lines(&self, lines: Option<(String, String)>, written: u64) {
        let Some((tables, losses)) = lines else {
            return;
        };
        let diag = &self.diag;
        diag.stats(format_args!("{tables}{written}"));
        if diag.stats_enabled() {
            diag.stats(format_args!("{losses}"));
        } else {
            diag.debug(format_args!("{losses}"));
        }
    }
}

/// The event numbers the filter sees for kernel read (`true`) or write counters: the
/// `read` and `write` exit events, whatever call the kernel counted (`pread`, `recv`,
/// `writev`, …).
fn code_of_counters(read: bool) -> u16 {
    crate::filter::state_fields::code_of_name(if read { "read" } else { "write" })
}

/// `cause=n` for every loss counter, this period's count (`now` minus `base`), then the
/// run's total in parentheses when it differs.
fn loss_line(now: &RunSummary, base: &RunSummary) -> String {
    use std::fmt::Write;
    let mut line = String::new();
    for (name, period, total) in period_losses(now, base) {
        let sep = if line.is_empty() { "" } else { " " };
        let _ = write!(line, "{sep}{name}={period}");
        if period != total {
            let _ = write!(line, " ({total})");
        }
    }
    line
}

/// Every loss cause as `(name, since base, total)`: the period's count is `now`'s minus
/// the count at the period's start.
fn period_losses(
    now: &RunSummary,
    base: &RunSummary,
) -> impl Iterator<Item = (&'static str, u64, u64)> {
    now.losses()
        .into_iter()
        .zip(base.losses())
        .map(|((name, total), (_, before))| (name, total.saturating_sub(before), total))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SysFlowConfig;
    use crate::export::{RecordSink, RecordView};
    use crate::model::SfHeader;
    use std::sync::{Arc, Mutex};

    type Told = Arc<Mutex<Vec<Vec<(&'static str, u64)>>>>;

    /// A stream that keeps what the driver tells it of losses.
    struct Listening(Told);

    impl RecordSink for Listening {
        fn start(&mut self, _: &SfHeader) -> Result<()> {
            Ok(())
        }
        fn write(&mut self, _: &RecordView<'_>) -> Result<()> {
            Ok(())
        }
        fn note_losses(&mut self, grown: &[(&'static str, u64)]) {
            self.0.lock().unwrap().push(grown.to_vec());
        }
    }

    const T0: u64 = 1_700_000_000_000_000_000;
    const S: u64 = 1_000_000_000;

    #[test]
    fn a_loss_read_from_the_kernel_is_told_once_the_stream_has_passed_the_reading() {
        let mut pipe = Pipeline::new(
            State::new(),
            AggConfig::from(&SysFlowConfig::default()),
            false,
        );
        let mut out = FanOut::new(SfHeader::default());
        let told = Told::default();
        out.add(Box::new(Listening(told.clone())));
        out.start_at((T0 / S) as i64).unwrap();
        // losses before the first header are before the stream
        let mut at_start = RunSummary::default();
        at_start.live.ring_drops = 3;
        pipe.set_source_at_start(at_start, &out);
        // ring drops (and records sampling left out) read at 10 s, while the stream is
        // still at 5 s: the ring still holds the records before them
        let mut read = at_start;
        read.live.ring_drops = 10;
        read.live.sampled_out = 5;
        pipe.set_source(read, T0 + 10 * S);
        for s in 5..10 {
            pipe.tick(T0 + s * S, &mut out).unwrap();
        }
        assert!(
            told.lock().unwrap().is_empty(),
            "{:?}",
            told.lock().unwrap()
        );
        pipe.tick(T0 + 10 * S, &mut out).unwrap();
        pipe.tick(T0 + 11 * S, &mut out).unwrap();
        assert_eq!(
            *told.lock().unwrap(),
            [vec![("ring_drops", 7)]],
            "once the stream is at the reading, what grew since the start: not sampling"
        );
        // a reading the stream never reaches is told at the end
        read.live.ring_drops = 12;
        pipe.set_source(read, T0 + 60 * S);
        pipe.finish(&mut out).unwrap();
        assert_eq!(told.lock().unwrap().last().unwrap(), &[("ring_drops", 2)]);
    }

    /// What a sink is told, in order.
    struct Calls(Arc<Mutex<Vec<String>>>);
    impl RecordSink for Calls {
        fn start(&mut self, _: &SfHeader) -> Result<()> {
            self.0.lock().unwrap().push("start".into());
            Ok(())
        }
        fn write(&mut self, _: &RecordView<'_>) -> Result<()> {
            self.0.lock().unwrap().push("write".into());
            Ok(())
        }
        fn note_losses(&mut self, grown: &[(&'static str, u64)]) {
            self.0.lock().unwrap().push(format!("losses {grown:?}"));
        }
    }

    /// A capture's container table at time 0 starts no period, and no output is told of
    /// anything (here a loss its process list counted) before its header.
    #[test]
    fn nothing_is_told_before_the_first_header() {
        let mut st = State::new();
        st.invalid_events = 1;
        let mut pipe = Pipeline::new(st, AggConfig::from(&SysFlowConfig::default()), false);
        let mut out = FanOut::new(SfHeader::default());
        let told = Arc::new(Mutex::new(Vec::new()));
        out.add(Box::new(Calls(told.clone())));
        let table = SysEvent {
            ts: 0,
            tid: -1,
            pid: -1,
            kind: EventKind::ContainerJson(b"{}"),
        };
        pipe.on_event(&table, &mut out).unwrap();
        assert!(told.lock().unwrap().is_empty(), "{told:?}");
        let close = SysEvent {
            ts: T0,
            tid: 5,
            pid: -1,
            kind: EventKind::Close {
                fd: Some(3),
                res: 0,
            },
        };
        pipe.on_event(&close, &mut out).unwrap();
        let told = told.lock().unwrap();
        assert_eq!(told.first().map(String::as_str), Some("start"), "{told:?}");
    }
}
