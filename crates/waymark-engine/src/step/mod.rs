//! One decision, step by step: goals, exits, waits and entries for an
//! event; timers; API entries; and walking an instance through its nodes
//! until it waits or ends.

use std::borrow::Cow;
use std::sync::Arc;

use serde_json::{Map, Value};
use waymark_core::{Channel, Event, Profile, Timestamp, format_timestamp, stable_hash};
use waymark_journey::{Journey, NodeIndex, NodeKind, ReEntry};

use crate::condition::{JourneyView, Scope, to_json};
use crate::effect::{Effect, Record, RecordKind};
use crate::engine::{Decision, Engine, Population};
use crate::instance::{Instance, InstanceStatus};

/// Exit reasons.
pub(crate) const COMPLETED: &str = "completed";
pub(crate) const EXIT_EVENT: &str = "exit_on";
pub(crate) const GOAL: &str = "goal";

/// Suppression reasons.
const HOLDOUT: &str = "holdout";
const UNREACHABLE: &str = "unreachable";
const UNSUBSCRIBED: &str = "unsubscribed";
/// Reason of a `skipped` entry over the journey's entry limit.
const ENTRY_LIMIT: &str = "entry_limit";
/// Exit reason of the instance that gives way when two profiles merge.
pub(crate) const MERGED: &str = "merged";

pub(crate) struct Step<'a> {
    engine: &'a Engine,
    /// The profile, with updates made by `update_profile` nodes during this step.
    profile: Cow<'a, Profile>,
    instances: Vec<Instance>,
    effects: Vec<Effect>,
    now: Timestamp,
    /// Traits `update_profile` nodes wrote, for the segments reading them.
    updated_traits: Vec<String>,
    /// Everyone's recent entries (entry limits) and variant counts.
    population: &'a dyn Population,
    /// Journeys entered in this step (not in `population`'s entries yet).
    entered_here: Vec<Arc<str>>,
}

mod guard;
mod membership;
mod optimize;
mod timed;
mod walk;

impl<'a> Step<'a> {
    pub(crate) fn new(
        engine: &'a Engine,
        profile: &'a Profile,
        instances: Vec<Instance>,
        now: Timestamp,
        population: &'a dyn Population,
    ) -> Self {
        Step {
            engine,
            profile: Cow::Borrowed(profile),
            instances,
            effects: Vec::new(),
            now,
            updated_traits: Vec::new(),
            population,
            entered_here: Vec::new(),
        }
    }

    /// Re-evaluates what the journeys' own profile updates changed.
    pub(crate) fn settle(&mut self) {
        if !self.updated_traits.is_empty() {
            self.profile_changed(&waymark_identity::ProfileChanges::default(), None);
        }
    }

    pub(crate) fn finish(self) -> Decision {
        Decision {
            instances: self.instances,
            effects: self.effects,
        }
    }

    pub(crate) fn on_event(&mut self, event: &Event) {
        if let Some(name) = event.match_name().filter(|n| self.engine.is_relevant(n)) {
            self.goals(event, name);
            self.variant_goals(name);
            self.exits(name);
            self.waits(event, name);
            for journey in self.engine.entered_by(name) {
                self.try_enter(journey, Entrance::Event(event));
            }
        }
        self.profile_changed(&waymark_identity::changes(event), Some(event));
    }

    pub(crate) fn on_timer(&mut self, instance_id: &str, token: u64) {
        let Some(i) = self.instances.iter().position(|x| &*x.id == instance_id) else {
            return;
        };
        let instance = &mut self.instances[i];
        let current = instance.timer.is_some_and(|t| t.token == token);
        if !instance.is_running() || !current {
            return; // stale: superseded, cancelled, or the instance has ended
        }
        instance.timer = None;
        let node = NodeIndex(instance.node_index);
        let Some(journey) = self.journey_of(i) else {
            return;
        };
        let next = match &journey.node(node).kind {
            NodeKind::Wait { next, .. } => *next,
            NodeKind::WaitForEvent { on_timeout, .. }
            | NodeKind::WaitForSegment { on_timeout, .. } => *on_timeout,
            // A deferred send: quiet hours are over, check it again (the
            // instance was already there: not an arrival).
            NodeKind::Send { .. } => return self.walk(i, journey, node, None, false),
            _ => return,
        };
        self.go(i, journey, next, None);
    }

    pub(crate) fn on_api_enter(&mut self, journey_id: &str, properties: &Map<String, Value>) {
        let Some(journey) = self.engine.active_journey(journey_id) else {
            return;
        };
        let trigger = serde_json::json!({
            "type": "api",
            "event": "api",
            "properties": properties,
            "timestamp": format_timestamp(self.now),
        });
        self.try_enter(journey, Entrance::Synthetic(trigger));
    }

    /// Folds the instances of a profile merged into this one.
    pub(crate) fn on_merged(&mut self, theirs: &[Instance]) {
        for incoming in theirs {
            let Some(i) = self
                .instances
                .iter()
                .position(|x| x.journey == incoming.journey)
            else {
                self.instances.push(incoming.clone());
                continue;
            };
            let ours = &self.instances[i];
            let both_running = ours.is_running() && incoming.is_running();
            let keep_theirs = match (ours.is_running(), incoming.is_running()) {
                (true, true) => incoming.entered_at < ours.entered_at,
                (false, true) => true,
                (true, false) => false,
                (false, false) => incoming.entered_at > ours.entered_at,
            };
            if keep_theirs {
                if both_running {
                    self.end(i, MERGED);
                }
                self.instances[i] = incoming.clone();
            } else if both_running {
                // Theirs gives way: end it (cancelling its timer, recording
                // the exit), then let it go.
                self.instances.push(incoming.clone());
                let last = self.instances.len() - 1;
                self.end(last, MERGED);
                self.instances.pop();
            }
        }
        self.profile_changed(&waymark_identity::ProfileChanges::everything(), None);
    }

    /// Conversions: an instance (running, or ended within its goal window)
    /// whose goal event arrives records the goal once; a running one ends.
    fn goals(&mut self, event: &Event, name: &str) {
        for i in 0..self.instances.len() {
            let instance = &self.instances[i];
            if instance.goal_reached {
                continue;
            }
            let Some(journey) = self.journey_of(i) else {
                continue;
            };
            let Some(goal) = journey.goal.as_ref().filter(|g| g.event == name) else {
                continue;
            };
            let window_end = instance.entered_at + goal.within.to_delta();
            if self.now < instance.entered_at || self.now > window_end {
                continue;
            }
            let value = goal.value.as_ref().and_then(|expr| {
                let instance = &self.instances[i];
                self.scope(journey, Some(instance), Some(event), &instance.trigger)
                    .eval(self.engine.env(), expr)
                    .ok()
                    .and_then(|v| to_json(&v))
            });
            let instance = &mut self.instances[i];
            instance.goal_reached = true;
            let mut record = self.record(i, RecordKind::Goal, None);
            record.value = value;
            let instance = &self.instances[i];
            record.entered_at = Some(instance.entered_at);
            if let Some((split, variant)) = &instance.split
                && self.journey_goal_counts_for(journey, split)
            {
                record.split = Some(Arc::clone(split));
                record.variant = Some(Arc::clone(variant));
            }
            self.effects.push(Effect::Record(record));
            if self.instances[i].is_running() {
                self.end(i, GOAL);
            }
        }
    }

    fn exits(&mut self, name: &str) {
        for i in 0..self.instances.len() {
            let instance = &self.instances[i];
            if !instance.is_running() {
                continue;
            }
            let exits = self
                .engine
                .journey(&instance.journey, instance.version)
                .is_some_and(|j| j.exit_on.iter().any(|e| e == name));
            if exits {
                self.end(i, EXIT_EVENT);
            }
        }
    }

    fn waits(&mut self, event: &Event, name: &str) {
        for i in 0..self.instances.len() {
            let Some(journey) = self.movable_journey(i) else {
                continue;
            };
            let instance = &self.instances[i];
            let NodeKind::WaitForEvent {
                event: awaited,
                condition,
                on_event,
                ..
            } = &journey.node(NodeIndex(instance.node_index)).kind
            else {
                continue;
            };
            if awaited != name {
                continue;
            }
            if let Some(condition) = condition {
                let instance = &self.instances[i];
                if !self
                    .scope(journey, Some(instance), Some(event), &instance.trigger)
                    .test(self.engine.env(), condition)
                {
                    continue;
                }
            }
            self.cancel_timer(i);
            self.go(i, journey, *on_event, Some(event));
        }
    }

    /// Enters `journey` if entry rules allow: no running instance, re-entry
    /// policy, `where` and `audience`.
    fn try_enter(&mut self, journey: &Arc<Journey>, entrance: Entrance<'_>) {
        let (event, api_trigger) = match &entrance {
            Entrance::Event(e) => (Some(*e), &Value::Null),
            Entrance::Synthetic(trigger) => (None, trigger),
        };
        let previous = self.instances.iter().position(|x| x.journey == journey.id);
        if let Some(p) = previous {
            let last = &self.instances[p];
            let allowed = match (journey.entry.re_entry, last.ended_at()) {
                (_, None) => false, // still running: one instance per (profile, journey)
                (ReEntry::Never, Some(_)) => false,
                (ReEntry::AfterExit { cooldown }, Some(ended)) => {
                    self.now >= ended + cooldown.to_delta()
                }
            };
            if !allowed {
                return;
            }
        }
        for condition in [&journey.entry.condition, &journey.entry.audience]
            .into_iter()
            .flatten()
        {
            if !self
                .scope(journey, None, event, api_trigger)
                .test(self.engine.env(), condition)
            {
                return;
            }
        }
        if let Some(limit) = journey.entry.limit {
            let since = self.now - limit.per.to_delta();
            let here = self
                .entered_here
                .iter()
                .filter(|j| **j == journey.id)
                .count();
            let entered = self.population.entered_since(&journey.id, since) + here;
            if entered >= limit.max as usize {
                let key = format!(
                    "{}:{}/skipped/entry_limit/{}",
                    journey.id,
                    self.profile.id,
                    self.now.timestamp_millis()
                );
                let mut record = self.person_record(key, RecordKind::Skipped, &journey.id);
                record.reason = Some(ENTRY_LIMIT.to_owned());
                self.effects.push(Effect::Record(record));
                return;
            }
            self.entered_here.push(journey.id.clone());
        }
        // entered + at least one node's record and its timer or send.
        self.effects.reserve(4);
        let profile_id = self.profile.id.as_str();
        let entry_seq = previous.map_or(1, |p| self.instances[p].entry_seq + 1);
        let control = journey.holdout_bp > 0
            && stable_hash(
                self.engine.config().seed,
                &["holdout", &journey.id, profile_id],
            ) % 10_000
                < u64::from(journey.holdout_bp);
        let instance = Instance {
            id: format!("{}:{}:{}", journey.id, profile_id, entry_seq).into(),
            journey: journey.id.clone(),
            version: journey.version,
            entry_seq,
            node: journey.nodes[0].id.clone(),
            node_index: 0,
            entered_at: self.now,
            control,
            status: InstanceStatus::Running,
            timer: None,
            next_token: 1,
            steps: 0,
            goal_reached: false,
            split: None,
            split_at: None,
            split_converted: false,
            // Built only once the entry is certain: most entry checks fail.
            trigger: Arc::new(match entrance {
                Entrance::Event(e) => trigger_of(e),
                Entrance::Synthetic(trigger) => trigger,
            }),
        };
        let i = match previous {
            Some(p) => {
                self.instances[p] = instance;
                p
            }
            None => {
                // Most people are in one or two journeys: grow by one, not
                // to Vec's first four (an instance is ~170 bytes, kept in
                // memory for as long as the person is in the journey).
                self.instances.reserve_exact(1);
                self.instances.push(instance);
                self.instances.len() - 1
            }
        };
        let record = self.record(i, RecordKind::Entered, None);
        self.effects.push(Effect::Record(record));
        self.walk(i, journey, NodeIndex(0), event, true);
    }

    /// The journey of instance `i` if it can move now: running, and its
    /// journey not held (what waits for events and segments check).
    fn movable_journey(&self, i: usize) -> Option<&'a Journey> {
        let instance = &self.instances[i];
        if !instance.is_running() || self.engine.is_held(&instance.journey) {
            return None;
        }
        self.journey_of(i)
    }

    /// The journey version instance `i` runs on (borrowed from the engine,
    /// so it outlives changes to the instances).
    fn journey_of(&self, i: usize) -> Option<&'a Journey> {
        let engine: &'a Engine = self.engine;
        let instance = &self.instances[i];
        engine
            .journey(&instance.journey, instance.version)
            .map(AsRef::as_ref)
    }

    fn key(&self, i: usize, what: &str) -> String {
        let instance = &self.instances[i];
        format!("{}/{}/{what}", instance.id, instance.steps)
    }

    fn record(&self, i: usize, kind: RecordKind, channel: Option<Channel>) -> Record {
        let instance = &self.instances[i];
        Record {
            version: instance.version,
            node: Some(instance.node.clone()),
            channel,
            control: instance.control,
            ..Record::new(
                self.key(i, kind.as_str()),
                self.now,
                kind,
                self.profile.id.clone(),
                instance.journey.clone(),
                instance.id.clone(),
            )
        }
    }

    fn timezone(&self) -> chrono_tz::Tz {
        self.profile
            .timezone
            .as_deref()
            .and_then(|tz| tz.parse().ok())
            .unwrap_or(self.engine.config().default_timezone)
    }

    fn scope<'s>(
        &'s self,
        journey: &'s Journey,
        instance: Option<&'s Instance>,
        event: Option<&'s Event>,
        trigger: &'s Value,
    ) -> Scope<'s> {
        Scope {
            profile: &self.profile,
            event,
            trigger,
            journey: JourneyView {
                id: &journey.id,
                version: journey.version,
                node: instance.map_or("", |i| &*i.node),
                entered_at: instance.map(|i| i.entered_at),
                control: instance.is_some_and(|i| i.control),
            },
            predict: self.engine.purchase_model().map(|m| (m, self.now)),
        }
    }
}

/// What a person enters a journey with.
enum Entrance<'e> {
    Event(&'e Event),
    /// An entry no event caused (API, segment by merge, inactivity, date,
    /// schedule), with the trigger built for it.
    Synthetic(Value),
}

/// The part of an entering event an instance keeps for later steps.
fn trigger_of(event: &Event) -> Value {
    // Built by hand: `json!` would re-insert every property one by one.
    let mut trigger = Map::with_capacity(5);
    trigger.insert("type".into(), Value::from(event.kind.as_str()));
    trigger.insert(
        "event".into(),
        event.event.as_deref().map_or(Value::Null, Value::from),
    );
    trigger.insert("messageId".into(), Value::from(event.message_id.as_str()));
    trigger.insert("properties".into(), Value::Object(event.properties.clone()));
    trigger.insert(
        "timestamp".into(),
        Value::from(format_timestamp(event.timestamp)),
    );
    Value::Object(trigger)
}
