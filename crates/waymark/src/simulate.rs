//! Test mode: the whole runtime in memory on a virtual clock.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use serde_json::Value;
use waymark_core::{Event, ProfileId, Timestamp, parse_timestamp};
use waymark_engine::{Effect, Engine, Input, Instance};
use waymark_identity::{Identity, IdentityConfig};

use crate::source::read_all;
use crate::trace::TraceLine;

/// Options of a simulation run.
#[derive(Debug, Clone, Default)]
pub struct SimulationOptions {
    /// Stop the virtual clock here: later events and timers are not applied.
    pub until: Option<Timestamp>,
    /// Identity resolution rules.
    pub identity: IdentityConfig,
}

/// A pending timer in the virtual clock's queue.
#[derive(Debug, Clone)]
struct PendingTimer {
    /// The profile that scheduled it; may have been merged away since.
    profile: ProfileId,
    instance: Arc<str>,
    token: u64,
}

/// An in-memory run of the engine over a stream of events.
#[derive(Debug)]
pub struct Simulation {
    engine: Engine,
    until: Option<Timestamp>,
    identity: Identity,
    /// Journey instances by canonical profile id.
    instances: HashMap<ProfileId, Vec<Instance>>,
    /// Timers by (due, order of scheduling).
    timers: BTreeMap<(Timestamp, u64), PendingTimer>,
    /// Where each (instance, token) sits in `timers`, for cancelling.
    timer_slots: HashMap<(Arc<str>, u64), (Timestamp, u64)>,
    scheduled: u64,
    seen_messages: HashSet<String>,
    trace: Vec<TraceLine>,
}

impl Simulation {
    pub fn new(engine: Engine, options: SimulationOptions) -> Self {
        Simulation {
            engine,
            until: options.until,
            identity: Identity::new(options.identity),
            instances: HashMap::new(),
            timers: BTreeMap::new(),
            timer_slots: HashMap::new(),
            scheduled: 0,
            seen_messages: HashSet::new(),
            trace: Vec::new(),
        }
    }

    /// Runs the events of a JSONL text (one Segment event per line) and
    /// returns the trace: refused lines first (with their line number and
    /// reason), then every decision in time order.
    pub fn run(mut self, jsonl: &str) -> Vec<TraceLine> {
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
            self.trace
                .push(TraceLine::rejected(line, at, error.to_string()));
        }
        for (line, event) in &events {
            if self.until.is_some_and(|until| event.timestamp > until) {
                break;
            }
            self.fire_timers_due(event.timestamp);
            self.apply(*line, event);
        }
        self.fire_timers_due(self.until.unwrap_or(Timestamp::MAX_UTC));
        self.trace
    }

    /// Applies one event: dedupe, identity (with merges), decision, effects.
    fn apply(&mut self, line: usize, event: &Event) {
        if !self.seen_messages.insert(event.message_id.clone()) {
            tracing::debug!(message_id = %event.message_id, "duplicate event ignored");
            return;
        }
        let Some(resolved) = self.identity.ingest(event) else {
            let at = Some(waymark_core::format_timestamp(event.timestamp));
            let reason =
                "no usable identifier: every id is blocked or belongs to a forgotten person"
                    .to_owned();
            self.trace.push(TraceLine::rejected(line, at, reason));
            return;
        };
        for merge in &resolved.merges {
            let profile = self.identity.profile(&resolved.profile);
            self.trace.push(TraceLine::merged(merge, profile));
            let theirs = self.instances.remove(&merge.loser).unwrap_or_default();
            if !theirs.is_empty() {
                let input = Input::ProfileMerged {
                    from: &merge.loser,
                    instances: &theirs,
                };
                self.decide(&resolved.profile, input, event.timestamp);
            }
        }
        self.decide(&resolved.profile, Input::Event(event), event.timestamp);
    }

    /// Fires every timer due at or before `limit`, in due order.
    fn fire_timers_due(&mut self, limit: Timestamp) {
        while let Some(entry) = self.timers.first_entry() {
            let (due, _) = *entry.key();
            if due > limit {
                break;
            }
            let timer = entry.remove();
            self.timer_slots
                .remove(&(Arc::clone(&timer.instance), timer.token));
            // The profile may have been merged into another since.
            let Some(profile) = self.identity.canonical(&timer.profile) else {
                continue;
            };
            let input = Input::TimerFired {
                instance: &timer.instance,
                token: timer.token,
            };
            self.decide(&profile, input, due);
        }
    }

    fn decide(&mut self, id: &ProfileId, input: Input<'_>, now: Timestamp) {
        let Some(profile) = self.identity.profile(id) else {
            return;
        };
        let instances = self.instances.remove(id).unwrap_or_default();
        let decision = self.engine.decide(profile, instances, input, now);
        let profile = profile.clone();
        self.instances.insert(id.clone(), decision.instances);
        for effect in decision.effects {
            match effect {
                Effect::Record(record) => {
                    self.trace.push(TraceLine::from_record(&record, &profile))
                }
                Effect::ScheduleTimer(timer) => {
                    self.scheduled += 1;
                    let slot = (timer.due, self.scheduled);
                    self.timer_slots
                        .insert((Arc::clone(&timer.instance), timer.token), slot);
                    self.timers.insert(
                        slot,
                        PendingTimer {
                            profile: timer.profile,
                            instance: timer.instance,
                            token: timer.token,
                        },
                    );
                }
                Effect::CancelTimer(timer) => {
                    if let Some(slot) = self.timer_slots.remove(&(timer.instance, timer.token)) {
                        self.timers.remove(&slot);
                    }
                }
                Effect::UpdateProfile(update) => {
                    if let Some(p) = self.identity.profile_mut(&update.profile) {
                        for (key, value) in update.set {
                            p.set_trait(&key, value, update.at);
                        }
                    }
                }
                // Test mode delivers nothing: the `send` record is the outcome.
                Effect::Send(_) => {}
            }
        }
    }
}
