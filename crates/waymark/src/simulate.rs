//! Test mode: the whole runtime in memory on a virtual clock.

use serde_json::Value;
use waymark_channels::Delivery;
use waymark_core::{Event, Profile, ProfileId, Timestamp, parse_timestamp};
use waymark_engine::{Engine, Record, Timer};
use waymark_identity::{Identity, IdentityConfig, MergeRecord};
use waymark_journey::Trigger;

use crate::source::read_all;
use crate::step::{Ingested, Journal, JourneyState};
use crate::trace::TraceLine;

/// Options of a simulation run.
#[derive(Debug, Clone, Default)]
pub struct SimulationOptions {
    /// Stop the virtual clock here: later events and timers are not applied.
    pub until: Option<Timestamp>,
    /// Identity resolution rules.
    pub identity: IdentityConfig,
}

/// An in-memory run of the engine over a stream of events: the runtime's
/// own step ([`JourneyState`]) on a virtual clock, its journal a trace.
#[derive(Debug)]
pub struct Simulation {
    engine: Engine,
    until: Option<Timestamp>,
    state: JourneyState,
    out: SimulationRun,
}

/// Everything a simulation decided.
#[derive(Debug, Default)]
pub struct SimulationRun {
    /// Refused lines first, then every decision in time order.
    pub trace: Vec<TraceLine>,
    /// The deliveries the sends asked for (test mode delivers nothing).
    pub deliveries: Vec<Delivery>,
    /// Every timer set, in the order it was set.
    pub timers: Vec<Timer>,
    /// Every journey record, in the order decided (what reports fold).
    pub records: Vec<Record>,
}

impl Journal for SimulationRun {
    fn merged(&mut self, merge: &MergeRecord, winner: Option<&Profile>) {
        self.trace.push(TraceLine::merged(merge, winner));
    }

    fn decided(&mut self, _: &ProfileId) {}

    fn timer_set(&mut self, timer: &Timer, _: u64) {
        self.timers.push(timer.clone());
    }

    fn timer_cleared(&mut self, _: &Timer) {}

    fn record(&mut self, record: Record, profile: &Profile) {
        self.trace.push(TraceLine::from_record(&record, profile));
        self.records.push(record);
    }

    fn send(&mut self, delivery: Delivery) {
        self.deliveries.push(delivery);
    }
}

impl Simulation {
    pub fn new(engine: Engine, options: SimulationOptions) -> Self {
        Simulation {
            engine,
            until: options.until,
            state: JourneyState::new(Identity::new(options.identity)),
            out: SimulationRun::default(),
        }
    }

    /// Runs the events of a JSONL text (one Segment event per line) and
    /// returns the trace: refused lines first (with their line number and
    /// reason), then every decision in time order.
    pub fn run(self, jsonl: &str) -> Vec<TraceLine> {
        self.run_all(jsonl).trace
    }

    /// [`Simulation::run`], with the deliveries and timers beside the trace.
    pub fn run_all(mut self, jsonl: &str) -> SimulationRun {
        let (events, refused) = read_all(jsonl);
        for (line, text, error) in refused {
            let at = serde_json::from_str::<Value>(text)
                .ok()
                .and_then(|v| {
                    v.get("timestamp")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .filter(|t| parse_timestamp(t).is_ok());
            self.out
                .trace
                .push(TraceLine::rejected(line, at, error.to_string()));
        }
        for (line, event) in &events {
            if self.until.is_some_and(|until| event.timestamp > until) {
                break;
            }
            self.fire_timers_due(event.timestamp);
            self.apply(*line, event);
        }
        self.finish()
    }

    /// Applies one more event at its own time, after the timers due
    /// before it: for streams made as they go (people reacting to what
    /// they were sent). Events must come in time order; see
    /// [`Simulation::output`] for what was decided.
    pub fn push(&mut self, event: &Event) {
        self.fire_timers_due(event.timestamp);
        self.apply(0, event);
    }

    /// What the simulation decided so far.
    pub fn output(&self) -> &SimulationRun {
        &self.out
    }

    /// Fires the timers still due (up to `until`, if set) and returns
    /// everything decided.
    pub fn finish(mut self) -> SimulationRun {
        self.fire_timers_due(self.until.unwrap_or(Timestamp::MAX_UTC));
        self.out
    }

    /// Applies one event, decided at its own time.
    fn apply(&mut self, line: usize, event: &Event) {
        let at = event.timestamp;
        match self.state.ingest(&self.engine, event, at, &mut self.out) {
            Ingested::Duplicate => {
                tracing::debug!(message_id = %event.message_id, "duplicate event ignored");
            }
            Ingested::Unresolvable => {
                let at = Some(waymark_core::format_timestamp(at));
                let reason =
                    "no usable identifier: every id is blocked or belongs to a forgotten person"
                        .to_owned();
                self.out.trace.push(TraceLine::rejected(line, at, reason));
            }
            Ingested::Processed { .. } => {}
        }
    }

    /// Fires every timer due at or before `limit`, one at a time in due
    /// order (a fired timer may set an earlier one). Past the last event
    /// without `--until`, a schedule's next occurrence fires only while
    /// something else is pending: schedules recur forever.
    fn fire_timers_due(&mut self, limit: Timestamp) {
        let open_ended = self.until.is_none() && limit == Timestamp::MAX_UTC;
        while let Some(timer) = self.state.due_timers(&self.engine, limit, 1).pop() {
            if open_ended && self.is_schedule(&timer) && self.only_schedules_pending() {
                break;
            }
            self.state.fire(&self.engine, &timer, &mut self.out);
        }
    }

    fn is_schedule(&self, timer: &Timer) -> bool {
        timer.entry
            && self
                .engine
                .active_journey(&timer.journey)
                .is_some_and(|j| matches!(j.entry.trigger, Trigger::Schedule(_)))
    }

    fn only_schedules_pending(&self) -> bool {
        self.state.timers.iter().all(|t| self.is_schedule(t))
    }
}
