//! A minimal driver for engine tests: one profile's state, a timer queue on
//! a virtual clock, and every effect kept for inspection.
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test
#![allow(dead_code)] // shared by several test binaries, each using a part

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};
use waymark_core::{Event, Profile, ProfileId, Timestamp, parse_timestamp};
use waymark_engine::{Effect, Engine, EngineConfig, Input, Instance, Timer};
use waymark_journey::{Journey, parse_journey};

pub fn journey(yaml: &str) -> Journey {
    parse_journey(Path::new("test.yaml"), yaml).unwrap_or_else(|e| panic!("{e}"))
}

pub fn ts(text: &str) -> Timestamp {
    parse_timestamp(text).unwrap()
}

pub fn track(id: &str, name: &str, properties: Value, at: Timestamp) -> Event {
    let Value::Object(properties) = properties else {
        panic!("properties must be an object")
    };
    Event {
        kind: waymark_core::EventType::Track,
        message_id: format!("{name}@{at}"),
        user_id: Some(id.to_owned()),
        anonymous_id: None,
        previous_id: None,
        group_id: None,
        event: Some(name.to_owned()),
        properties,
        traits: Map::new(),
        context: Map::new(),
        timestamp: at,
        received_at: at,
    }
}

pub fn identify(id: &str, traits: Value, at: Timestamp) -> Event {
    let Value::Object(traits) = traits else {
        panic!("traits must be an object")
    };
    Event {
        kind: waymark_core::EventType::Identify,
        message_id: format!("identify@{at}"),
        user_id: Some(id.to_owned()),
        anonymous_id: None,
        previous_id: None,
        group_id: None,
        event: None,
        properties: Map::new(),
        traits,
        context: Map::new(),
        timestamp: at,
        received_at: at,
    }
}

/// One profile driven through an engine.
pub struct Harness {
    pub engine: Engine,
    pub profile: Profile,
    pub instances: Vec<Instance>,
    /// By (due, token, instance).
    pub timers: BTreeMap<(Timestamp, u64, std::sync::Arc<str>), Timer>,
    pub effects: Vec<Effect>,
}

impl Harness {
    pub fn new(journeys: Vec<Journey>, profile_id: &str) -> Self {
        Self::with_config(journeys, profile_id, EngineConfig::default())
    }

    pub fn with_config(journeys: Vec<Journey>, profile_id: &str, config: EngineConfig) -> Self {
        Harness {
            engine: Engine::new(journeys, config),
            profile: Profile::new(ProfileId::from(profile_id)),
            instances: Vec::new(),
            timers: BTreeMap::new(),
            effects: Vec::new(),
        }
    }

    /// Applies one input and returns its effects.
    pub fn input(&mut self, input: Input<'_>, now: Timestamp) -> Vec<Effect> {
        let decision = self.engine.decide(
            &self.profile,
            std::mem::take(&mut self.instances),
            input,
            now,
        );
        self.instances = decision.instances;
        for effect in &decision.effects {
            match effect {
                Effect::ScheduleTimer(t) => {
                    if t.entry {
                        self.timers.retain(|_, p| p.instance != t.instance);
                    }
                    self.timers
                        .insert((t.due, t.token, t.instance.clone()), t.clone());
                }
                Effect::CancelTimer(t) if t.entry => {
                    self.timers.retain(|_, p| p.instance != t.instance);
                }
                Effect::CancelTimer(t) => {
                    self.timers.remove(&(t.due, t.token, t.instance.clone()));
                }
                Effect::Send(send) => {
                    let horizon = self.engine.policies().history_horizon();
                    self.profile
                        .record_send(now, send.channel, send.topic.clone(), horizon);
                }
                Effect::Membership(m) => {
                    if m.joined {
                        self.profile.segments.insert(m.segment.to_string(), m.at);
                    } else {
                        self.profile.segments.remove(&*m.segment);
                    }
                }
                Effect::UpdateProfile(u) => {
                    for (k, v) in &u.set {
                        self.profile.set_trait(k, v.clone(), u.at);
                    }
                }
                _ => {}
            }
        }
        self.effects.extend(decision.effects.iter().cloned());
        decision.effects
    }

    /// Fires due timers up to `now`, then applies the event.
    pub fn event(&mut self, event: &Event) -> Vec<Effect> {
        let mut effects = self.advance(event.timestamp);
        waymark_identity::observe(&mut self.profile, event);
        effects.extend(self.input(Input::Event(event), event.timestamp));
        effects
    }

    /// Fires every timer due at or before `until`.
    pub fn advance(&mut self, until: Timestamp) -> Vec<Effect> {
        let mut effects = Vec::new();
        while let Some(entry) = self.timers.first_entry() {
            if entry.key().0 > until {
                break;
            }
            let timer = entry.remove();
            effects.extend(self.input(timer.input(), timer.due));
        }
        effects
    }

    /// Every record so far as `kind node [reason]`.
    pub fn records(&self) -> Vec<String> {
        records(&self.effects)
    }
}

pub fn records(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Record(r) => {
                let subject = r.node.as_deref().or(r.segment.as_deref()).unwrap_or("-");
                let mut line = format!("{} {subject}", r.kind.as_str());
                for extra in [
                    r.reason.clone(),
                    r.next.as_deref().map(str::to_owned),
                    r.channel.map(|c| c.to_string()),
                ]
                .into_iter()
                .flatten()
                {
                    line.push(' ');
                    line.push_str(&extra);
                }
                if let Some(v) = &r.value {
                    line.push_str(&format!(" value={v}"));
                }
                Some(line)
            }
            _ => None,
        })
        .collect()
}

pub fn sends(effects: &[Effect]) -> usize {
    effects
        .iter()
        .filter(|e| matches!(e, Effect::Send(_)))
        .count()
}
