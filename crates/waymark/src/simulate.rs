//! Test mode: the whole runtime in memory on a virtual clock.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use serde_json::Value;
use waymark_core::{Event, Profile, ProfileId, Timestamp, parse_timestamp};
use waymark_engine::{Effect, Engine, Input, Instance};

use crate::trace::TraceLine;

/// Options of a simulation run.
#[derive(Debug, Clone, Copy, Default)]
pub struct SimulationOptions {
    /// Stop the virtual clock here: later events and timers are not applied.
    pub until: Option<Timestamp>,
}

/// One profile's state: the profile and its journey instances.
#[derive(Debug, Default)]
struct ProfileState {
    profile: Profile,
    instances: Vec<Instance>,
}

/// A pending timer in the virtual clock's queue.
#[derive(Debug, Clone)]
struct PendingTimer {
    profile: ProfileId,
    instance: Arc<str>,
    token: u64,
}

/// An in-memory run of the engine over a stream of events.
#[derive(Debug)]
pub struct Simulation {
    engine: Engine,
    options: SimulationOptions,
    profiles: BTreeMap<ProfileId, ProfileState>,
    /// Timers by (due, order of scheduling).
    timers: BTreeMap<(Timestamp, u64), PendingTimer>,
    /// Where each (instance, token) sits in `timers`, for cancelling.
    timer_slots: HashMap<(Arc<str>, u64), (Timestamp, u64)>,
    scheduled: u64,
    seen_messages: HashSet<String>,
    trace: Vec<TraceLine>,
}

/// The profile an event belongs to until identity resolution lands:
/// keyed by `userId`, else `anonymousId`.
pub fn profile_key(event: &Event) -> ProfileId {
    let key = event
        .user_id
        .as_deref()
        .or(event.anonymous_id.as_deref())
        .unwrap_or_default();
    ProfileId::from(key)
}

impl Simulation {
    pub fn new(engine: Engine, options: SimulationOptions) -> Self {
        Simulation {
            engine,
            options,
            profiles: BTreeMap::new(),
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
        let mut events = Vec::new();
        for (i, line) in jsonl.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match Event::from_json_str(line) {
                Ok(event) => events.push(event),
                Err(e) => {
                    let at = serde_json::from_str::<Value>(line)
                        .ok()
                        .and_then(|v| {
                            v.get("timestamp")
                                .and_then(Value::as_str)
                                .map(str::to_owned)
                        })
                        .filter(|t| parse_timestamp(t).is_ok());
                    self.trace
                        .push(TraceLine::rejected(i + 1, at, e.to_string()));
                }
            }
        }
        // Stable: events at the same instant keep their file order.
        events.sort_by_key(|e| e.timestamp);
        for event in &events {
            if self
                .options
                .until
                .is_some_and(|until| event.timestamp > until)
            {
                break;
            }
            self.fire_timers_due(event.timestamp);
            self.apply(event);
        }
        self.fire_timers_due(self.options.until.unwrap_or(Timestamp::MAX_UTC));
        self.trace
    }

    /// Applies one event: dedupe, profile update, decision, effects.
    fn apply(&mut self, event: &Event) {
        if !self.seen_messages.insert(event.message_id.clone()) {
            tracing::debug!(message_id = %event.message_id, "duplicate event ignored");
            return;
        }
        let id = profile_key(event);
        let state = self
            .profiles
            .entry(id.clone())
            .or_insert_with(|| ProfileState {
                profile: Profile::new(id.clone()),
                instances: Vec::new(),
            });
        state.profile.observe(event);
        self.decide(&id, Input::Event(event), event.timestamp);
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
                .remove(&(timer.instance.clone(), timer.token));
            let input = Input::TimerFired {
                instance: &timer.instance,
                token: timer.token,
            };
            self.decide(&timer.profile, input, due);
        }
    }

    fn decide(&mut self, id: &ProfileId, input: Input<'_>, now: Timestamp) {
        let Some(state) = self.profiles.get_mut(id) else {
            return;
        };
        let instances = std::mem::take(&mut state.instances);
        let decision = self.engine.decide(&state.profile, instances, input, now);
        state.instances = decision.instances;
        for effect in decision.effects {
            match effect {
                Effect::Record(record) => self
                    .trace
                    .push(TraceLine::from_record(&record, &state.profile)),
                Effect::ScheduleTimer(timer) => {
                    self.scheduled += 1;
                    let slot = (timer.due, self.scheduled);
                    self.timer_slots
                        .insert((timer.instance.clone(), timer.token), slot);
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
                    for (key, value) in update.set {
                        state.profile.set_trait(&key, value, update.at);
                    }
                }
                // Test mode delivers nothing: the `send` record is the outcome.
                Effect::Send(_) => {}
            }
        }
    }
}
