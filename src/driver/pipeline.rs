//! One event path for every source: state update, housekeeping (flow export, process
//! deletion, output rotation), then aggregation into the outputs.

use crate::aggregate::{AggConfig, Aggregator, Emit, Links};
use crate::error::Result;
use crate::event::SysEvent;
use crate::export::FanOut;
use crate::model::Record;
use crate::runtime::MetaUpdate;
use crate::state::State;

/// The outputs receive the aggregator's records.
impl Emit for FanOut {
    fn emit(&mut self, rec: &Record, links: Links<'_>) -> Result<()> {
        FanOut::emit(self, rec, links)
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
    pub stats_enabled: bool,
    pub events: u64,
}

impl Pipeline {
    pub fn new(state: State, cfg: AggConfig, filter_containers: bool) -> Self {
        Pipeline {
            state,
            agg: Aggregator::new(cfg),
            filter_containers,
            rotation: None,
            stats_enabled: false,
            events: 0,
        }
    }

    /// Advances the capture clock to `now_ns`: flow export and expiry, process deletion,
    /// rotation when due, and entities written again when a sink asks for it (a socket
    /// that reconnected, or whose slow reader lost records).
    pub fn tick(&mut self, now_ns: u64, out: &mut FanOut) -> Result<()> {
        self.agg.set_time(now_ns);
        self.agg.housekeeping(out)?;
        let now = self.agg.now_s();
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
            self.log_stats(out);
            out.rotate(now)?;
            self.agg.on_rotation();
            self.state.prune_tables();
            if let Some(r) = &mut self.rotation {
                r.period_start = now;
            }
        }
        Ok(())
    }

    /// Processes one event.
    pub fn on_event(&mut self, ev: &SysEvent<'_>, out: &mut FanOut) -> Result<()> {
        self.events += 1;
        if !out.is_started() {
            // The first period starts with the first event (its time names a rotating
            // output's first file).
            out.start_at((ev.ts / 1_000_000_000) as i64)?;
        }
        let has_thread = self.state.apply(ev);
        self.tick(ev.ts, out)?;
        if self.filter_containers
            && self
                .state
                .threads
                .get(ev.tid)
                .is_none_or(|t| t.container_id.is_empty())
        {
            return Ok(());
        }
        self.agg.handle(&self.state, ev, has_thread, out)
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
                log::debug!("no container runtime knows container {id}: it stays incomplete");
            }
            MetaUpdate::Removed { id } => {
                let threads = &self.state.threads;
                self.state
                    .containers
                    .remove(&id, |short| threads.any_in_container(short));
            }
        }
        Ok(())
    }

    /// End of input: statistics, then every open flow is flushed with TRUNCATE.
    pub fn finish(&mut self, out: &mut FanOut) -> Result<()> {
        out.start()?;
        self.log_stats(out);
        self.agg.finish(out)
    }

    /// The reference's stats line (`enableStats`).
    pub fn log_stats(&self, out: &FanOut) {
        if !self.stats_enabled {
            return;
        }
        let s = self.agg.stats();
        log::info!(
            "Container Table: {} Process Table: {} NetworkFlow Table: {} FileFlow Table: {} \
             ProcFlow Table: {} Num Records Written: {} Events: {}",
            s.containers,
            s.processes,
            s.network_flows,
            s.file_flows,
            s.process_flows,
            out.stats().records_in_period,
            self.events
        );
    }
}
